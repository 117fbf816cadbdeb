// The firmware's camera source: luma from every V4L2 pixel format, no heap
// allocation per frame, and (with the camera compiled in) the capture loop
// on a fake V4L2 device (fake_v4l2.h) and its failures.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "camera_formats.h"
#include "camera_frames.h"
#if EDGEMLP_HAVE_CAMERA
#include "camera_v4l2.h"
#include "fake_v4l2.h"
#endif
#include "edgemlp/mnist_frame.h"
#include "firmware.h"
#include "firmware_test_util.h"
#include "photo.h"

namespace edgemlp::firmware {
namespace {

TEST_CASE("camera luma comes out exact from every format and padded lines; bad layouts are errors") {
  constexpr int kW = 37 * 2, kH = 23;  // packed 4:2:2 needs an even width
  std::vector<uint8_t> luma(size_t{kW} * kH);
  std::mt19937_64 rng(3);
  for (uint8_t& v : luma) v = static_cast<uint8_t>(rng());
  std::vector<uint8_t> gray(luma.size());
  for (const uint32_t fourcc : kLumaFormats) {
    char name[5];
    INFO(FourCcName(fourcc, name));
    CHECK(IsLumaFormat(fourcc));
    for (const int padding : {0, 12}) {
      const EncodedFrame f = EncodeCameraFrame(fourcc, luma, kW, kH, padding, 99);
      std::fill(gray.begin(), gray.end(), 0);
      REQUIRE(ExtractLuma(f.layout, f.bytes.data(), f.bytes.size(), gray.data()) == nullptr);
      CHECK(gray == luma);
      // Exactly the luma's bytes are enough; one fewer is a short frame.
      const size_t need = LumaBytesNeeded(f.layout);
      CHECK(ExtractLuma(f.layout, f.bytes.data(), need, gray.data()) == nullptr);
      CHECK(std::string(ExtractLuma(f.layout, f.bytes.data(), need - 1, gray.data()))
                .find("short frame") != std::string::npos);
    }
  }
  const EncodedFrame yuyv = EncodeCameraFrame(FourCc('Y', 'U', 'Y', 'V'), luma, kW, kH, 0, 1);
  FrameLayout layout = yuyv.layout;
  layout.bytes_per_line = kW;  // a YUYV line holds 2 bytes per pixel
  CHECK(ExtractLuma(layout, yuyv.bytes.data(), yuyv.bytes.size(), gray.data()) != nullptr);
  layout = yuyv.layout;
  layout.fourcc = FourCc('M', 'J', 'P', 'G');
  CHECK(!IsLumaFormat(layout.fourcc));
  CHECK(ExtractLuma(layout, yuyv.bytes.data(), yuyv.bytes.size(), gray.data()) != nullptr);
  layout = yuyv.layout;
  layout.height = 0;
  CHECK(ExtractLuma(layout, yuyv.bytes.data(), yuyv.bytes.size(), gray.data()) != nullptr);
  char name[5];
  CHECK(std::string(FourCcName(FourCc('N', 'V', '1', '2'), name)) == "NV12");
}

TEST_CASE("camera frames: luma, preprocessing and prediction allocate nothing per frame") {
  LoadedNet loaded(14);
  constexpr int kW = 640, kH = 480;
  const std::vector<uint8_t> photo = Photo(kW, kH);
  const EncodedFrame f = EncodeCameraFrame(FourCc('Y', 'U', 'Y', 'V'), photo, kW, kH, 0, 2);
  std::vector<uint8_t> gray(photo.size());
  FrameClassifier classifier(&loaded.net);
  std::FILE* out = std::fopen("/dev/null", "w");
  REQUIRE(out != nullptr);
  std::fputs("warm up the stream's buffer\n", out);
  uint8_t frame[kFrameBytes];
  const long before = HeapAllocations();
  for (int i = 0; i < 200; ++i) {
    REQUIRE(ExtractLuma(f.layout, f.bytes.data(), f.bytes.size(), gray.data()) == nullptr);
    PreprocessLikeMnist(GrayImage{gray.data(), kW, kH}, frame);
    EmitPrediction(classifier.Classify(frame), 0, nullptr, LoopOptions{}, &classifier, out);
  }
  CHECK(HeapAllocations() - before == 0);
  std::fclose(out);
  CHECK(gray == photo);
}

#if EDGEMLP_HAVE_CAMERA
// The fake device (fake_v4l2.h) answers for /dev/null, a real character
// device: Open() gets past its fstat() check to the ioctls.
constexpr uint32_t kYuyv = FourCc('Y', 'U', 'Y', 'V');

struct FakeCameraSetup {
  FakeV4l2 fake;
  std::vector<uint8_t> photo = Photo(640, 480);
  explicit FakeCameraSetup(std::vector<uint32_t> formats) {
    fake.formats = std::move(formats);
    const EncodedFrame f = EncodeCameraFrame(kYuyv, photo, 640, 480, 16, 5);
    fake.frame_bytes = f.bytes;
    fake.frame_bytes_per_line = f.layout.bytes_per_line;
  }
};

TEST_CASE("the camera loop on a fake V4L2 device takes the newest frame, skips bad ones, stops cleanly") {
  LoadedNet loaded(15);
  FakeCameraSetup setup({FourCc('M', 'J', 'P', 'G'), FourCc('N', 'V', '1', '2'), kYuyv});
  FakeV4l2& fake = setup.fake;
  using Event = FakeV4l2::Event;
  fake.burst = 3;  // three frames ready per wake-up: the newest is classified
  for (int i = 0; i < 300; ++i) fake.events.push_back(Event::kFrame);
  for (const Event e : {Event::kFrame, Event::kFrame, Event::kErrorFlag,  // newest flagged
                        Event::kFrame, Event::kFrame, Event::kShort,      // newest short
                        Event::kEio, Event::kFrame, Event::kFrame}) {     // EIO, then 2 frames
    fake.events.push_back(e);
  }
  volatile std::sig_atomic_t stop = 0;
  fake.stop_flag = &stop;  // the script's end is a SIGINT

  V4l2Camera camera;
  REQUIRE_MESSAGE(camera.Open("/dev/null", 640, 480), camera.error());
  CHECK(std::string(camera.description()).find("/dev/null (Fake camera, fake): YUYV 640x480") == 0);
  CHECK(fake.fourcc == kYuyv);  // the first luma format offered, not MJPG or NV12
  CHECK(fake.streamon == 1);
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  std::fputs("warm up the stream's buffer\n", out);
  FrameClassifier classifier(&loaded.net);
  LoopOptions options;
  options.stop = &stop;
  const long before = HeapAllocations();
  CHECK(RunCameraLoop(&camera, options, &classifier, out));
  CHECK(HeapAllocations() - before == 0);
  CHECK(stop == 1);
  CHECK(classifier.frames() == 101);
  CHECK(classifier.malformed() == 3);
  // Not the newest of its wake-up: 2 of each 3, and of the last three bursts 2, 2, 1.
  CHECK(classifier.dropped() == 205);
  CHECK(fake.dequeued == 308);  // every frame but the EIO's was dequeued...
  int owned = 0;
  for (const bool o : fake.owned_by_driver) owned += o;
  CHECK(owned == FakeV4l2::kBuffers);  // ...and given back
  camera.Close();
  CHECK(fake.streamoff == 1);
  CHECK(fake.unmapped == FakeV4l2::kBuffers);
  CHECK(fake.released == 1);

  // Every line is the prediction for the photo's preprocessed luma.
  uint8_t frame[kFrameBytes];
  PreprocessLikeMnist(GrayImage{setup.photo.data(), 640, 480}, frame);
  int32_t logits[10];
  const std::string want = std::to_string(loaded.net.PredictRef(frame, logits)) + " ";
  std::rewind(out);
  char line[256];
  REQUIRE(std::fgets(line, sizeof(line), out) != nullptr);  // the warm-up line
  int lines = 0;
  while (std::fgets(line, sizeof(line), out) != nullptr) {
    CHECK(std::string(line).find(want) == 0);
    ++lines;
  }
  CHECK(lines == 101);
  std::fclose(out);
}

TEST_CASE("with --hz the camera loop never answers a frame captured more than one period ago") {
  LoadedNet loaded(17);
  FakeCameraSetup setup({kYuyv});
  FakeV4l2& fake = setup.fake;
  using Event = FakeV4l2::Event;
  fake.burst = 3;
  // Wake-ups: the newest is stale; all stale; then fresh ones.
  fake.events = {Event::kFrame, Event::kFrame, Event::kStale, Event::kStale, Event::kStale,
                 Event::kStale, Event::kFrame, Event::kFrame, Event::kFrame};
  volatile std::sig_atomic_t stop = 0;
  fake.stop_flag = &stop;
  V4l2Camera camera;
  REQUIRE_MESSAGE(camera.Open("/dev/null", 640, 480), camera.error());
  std::FILE* out = std::tmpfile();
  std::fputs("warm up the stream's buffer\n", out);
  FrameClassifier classifier(&loaded.net);
  LoopOptions options;
  options.stop = &stop;
  options.hz = 100;  // one period: 10 ms; the stale frames are 10 s old
  const long before = HeapAllocations();
  CHECK(RunCameraLoop(&camera, options, &classifier, out));
  CHECK(HeapAllocations() - before == 0);
  CHECK(fake.dequeued == 9);
  CHECK(classifier.frames() == 1);  // only the last wake-up's newest frame
  CHECK(classifier.dropped() == 8);
  int owned = 0;
  for (const bool o : fake.owned_by_driver) owned += o;
  CHECK(owned == FakeV4l2::kBuffers);
  std::fclose(out);
  camera.Close();

  // Without --hz there is no period: the same script answers a stale frame.
  FakeCameraSetup again({kYuyv});
  again.fake.burst = 3;
  again.fake.events = {Event::kFrame, Event::kFrame, Event::kStale};
  stop = 0;
  again.fake.stop_flag = &stop;
  V4l2Camera camera2;
  REQUIRE_MESSAGE(camera2.Open("/dev/null", 640, 480), camera2.error());
  out = std::tmpfile();
  FrameClassifier classifier2(&loaded.net);
  options.hz = 0;
  CHECK(RunCameraLoop(&camera2, options, &classifier2, out));
  CHECK(classifier2.frames() == 1);
  CHECK(classifier2.dropped() == 2);
  std::fclose(out);
  camera2.Close();
}

TEST_CASE("a fake V4L2 device that stops delivering or vanishes: the loop fails, naming it") {
  LoadedNet loaded(16);
  FrameClassifier classifier(&loaded.net);
  std::FILE* out = std::tmpfile();
  {
    FakeCameraSetup setup({kYuyv});
    setup.fake.events = {FakeV4l2::Event::kFrame};  // then nothing: poll times out
    V4l2Camera camera;
    REQUIRE_MESSAGE(camera.Open("/dev/null", 640, 480, 50), camera.error());
    CHECK(!RunCameraLoop(&camera, LoopOptions{}, &classifier, out));
    CHECK(std::string(camera.error()) ==
          "/dev/null: no frame within 50 ms (select timeout); expected a streaming camera");
    CHECK(classifier.frames() == 1);
  }
  {
    FakeCameraSetup setup({kYuyv});
    setup.fake.events = {FakeV4l2::Event::kFrame, FakeV4l2::Event::kNoDevice};
    V4l2Camera camera;
    REQUIRE_MESSAGE(camera.Open("/dev/null", 640, 480), camera.error());
    CHECK(!RunCameraLoop(&camera, LoopOptions{}, &classifier, out));
    CHECK(std::string(camera.error()).find("/dev/null: VIDIOC_DQBUF: No such device") == 0);
    CHECK(classifier.frames() == 2);
    camera.Close();
    CHECK(setup.fake.streamoff == 1);
  }
  std::fclose(out);
}

TEST_CASE("Open refuses what it cannot stream, naming the device and what it expected") {
  auto open_error = [](FakeCameraSetup& setup) {
    V4l2Camera camera;
    CHECK(!camera.Open("/dev/null", 640, 480));
    CHECK(setup.fake.streamon == 0);
    return std::string(camera.error());
  };
  {
    FakeCameraSetup setup({FourCc('M', 'J', 'P', 'G'), FourCc('H', '2', '6', '4')});
    const std::string e = open_error(setup);
    INFO(e);
    CHECK(e.find("/dev/null: (Fake camera, fake) offers no format") == 0);
    CHECK(e.find("it offers MJPG (format 0), H264 (format 1)") != std::string::npos);
    CHECK(e.find("expected one of GREY YUYV") != std::string::npos);
  }
  {
    FakeCameraSetup setup({});
    CHECK(open_error(setup).find("offers no capture formats") != std::string::npos);
  }
  {
    FakeCameraSetup setup({kYuyv});
    setup.fake.caps = V4L2_CAP_VIDEO_CAPTURE_MPLANE | V4L2_CAP_STREAMING;
    CHECK(open_error(setup).find("multi-planar capture is not supported") != std::string::npos);
  }
  {
    FakeCameraSetup setup({kYuyv});
    setup.fake.caps = V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_STREAMING;
    CHECK(open_error(setup).find("is not a video capture device") != std::string::npos);
  }
  {
    FakeCameraSetup setup({kYuyv});
    setup.fake.caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_READWRITE;
    CHECK(open_error(setup).find("has no streaming I/O") != std::string::npos);
  }
}
#endif  // EDGEMLP_HAVE_CAMERA

}  // namespace
}  // namespace edgemlp::firmware
