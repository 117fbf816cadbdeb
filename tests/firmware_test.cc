// edgemlp-firmware's library: SHA-256 against FIPS 180-4 vectors, image
// decoding and MNIST preprocessing, the raw-frame loop (malformed frames,
// digests) and "no heap allocation after start-up" over 10,000 frames.
// Runtime only, so it also runs for the boards under qemu.
#include "firmware.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "edgemlp/blob_writer.h"
#include "camera_formats.h"
#include "camera_frames.h"
#if EDGEMLP_HAVE_CAMERA
#include "camera_v4l2.h"
#include "fake_v4l2.h"
#endif
#include "edgemlp/runtime.h"
#include "edgemlp/mnist_frame.h"
#include "sha256.h"

// Counts every heap allocation: operator new is replaced here; malloc,
// calloc and realloc are wrapped at link time (-Wl,--wrap, tests/meson.build).
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

extern "C" {
void* __real_malloc(size_t size);
void* __real_calloc(size_t count, size_t size);
void* __real_realloc(void* block, size_t size);
void* __wrap_malloc(size_t size) {
  ++g_allocations;
  return __real_malloc(size);
}
void* __wrap_calloc(size_t count, size_t size) {
  ++g_allocations;
  return __real_calloc(count, size);
}
void* __wrap_realloc(void* block, size_t size) {
  ++g_allocations;
  return __real_realloc(block, size);
}
}

void* operator new(size_t size) {
  ++g_allocations;
  if (void* p = __real_malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
// operator new above is malloc, so free is its match; GCC 12 cannot tell
// once these are inlined into std::vector (-Wmismatched-new-delete).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace edgemlp::firmware {
namespace {

std::string HashHex(const void* data, size_t size) {
  Sha256 sha;
  sha.Update(data, size);
  char hex[65];
  sha.FinishHex(hex);
  return hex;
}

TEST_CASE("SHA-256 matches the FIPS 180-4 examples, in any chunking") {
  CHECK(HashHex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HashHex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(HashHex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  Sha256 chunked;
  for (size_t at = 0; at < million.size(); at += 997) {
    chunked.Update(million.data() + at, std::min<size_t>(997, million.size() - at));
  }
  char hex[65];
  chunked.FinishHex(hex);
  CHECK(std::string(hex) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// A random int8 784-64-10 blob, valid for ParseBlob.
std::vector<uint8_t> RandomBlob(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const uint32_t sizes[3] = {784, 64, 10};
  FileHeader h{};
  h.kind = static_cast<uint32_t>(BlobKind::kInt8);
  h.input_size = 784;
  h.input_rows = h.input_cols = 28;
  h.input_scale = 1.0f / 255.0f;
  h.output_size = 10;
  BlobWriter writer(h, 2);
  for (uint32_t i = 0; i < 2; ++i) {
    const uint32_t in = sizes[i], out = sizes[i + 1];
    const uint32_t stride = (in + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
    std::vector<int8_t> w(size_t{out} * stride, 0);
    std::uniform_int_distribution<int> wd(-127, 127);
    for (uint32_t r = 0; r < out; ++r) {
      for (uint32_t c = 0; c < in; ++c) w[size_t{r} * stride + c] = static_cast<int8_t>(wd(rng));
    }
    std::vector<int32_t> bias(out), requant;
    std::vector<float> scale(out, 0.01f);
    std::uniform_int_distribution<int32_t> bd(-5000, 5000), md(kMinMultiplier, INT32_MAX);
    for (uint32_t r = 0; r < out; ++r) {
      bias[r] = bd(rng);
      requant.push_back(md(rng));
      requant.push_back(i == 0 ? 44 : 31);  // hidden: ~0..255, logits: ~acc
    }
    LayerRecord rec{};
    rec.in_size = in;
    rec.out_size = out;
    rec.stride = stride;
    rec.activation = static_cast<uint8_t>(i == 0 ? Activation::kRelu : Activation::kNone);
    rec.weight_type = static_cast<uint8_t>(WeightType::kI8);
    rec.weights_offset = writer.AddSection(w.data(), w.size());
    rec.bias_offset = writer.AddSection(bias.data(), bias.size() * 4);
    rec.weight_scale_offset = writer.AddSection(scale.data(), scale.size() * 4);
    rec.requant_offset = writer.AddSection(requant.data(), requant.size() * 4);
    rec.in_scale = 0.01f;
    rec.out_scale = 0.01f;
    writer.SetLayer(i, rec);
  }
  return writer.Finish();
}

struct LoadedNet {
  Network net;
  explicit LoadedNet(uint64_t seed) {
    const std::vector<uint8_t> blob = RandomBlob(seed);
    const LoadResult r = Network::LoadCopy(blob.data(), blob.size(), &net);
    REQUIRE_MESSAGE(r.ok(), r.message);
  }
};

// A temporary file holding `bytes`, open for reading at offset 0.
int TempFileWith(const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  std::fflush(f);
  const int fd = dup(fileno(f));
  std::fclose(f);
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  return fd;
}

TEST_CASE("the raw loop: 10,000 frames, no heap allocation, eval digests") {
  LoadedNet loaded(11);
  REQUIRE(VerifyPredictMatchesReference(&loaded.net) == nullptr);
  constexpr size_t kFrames = 10000;
  std::vector<uint8_t> frames(kFrames * kFrameBytes);
  std::mt19937_64 rng(5);
  for (uint8_t& p : frames) p = static_cast<uint8_t>(rng() % 7 == 0 ? rng() : 0);
  // The digests `edgemlp eval` defines, from the scalar reference.
  std::vector<uint8_t> predictions(kFrames);
  std::vector<int32_t> outputs(kFrames * 10);
  for (size_t i = 0; i < kFrames; ++i) {
    predictions[i] = static_cast<uint8_t>(
        loaded.net.PredictRef(frames.data() + i * kFrameBytes, outputs.data() + i * 10));
  }
  std::vector<uint8_t> labels(predictions);
  for (size_t i = 0; i < kFrames; i += 4) labels[i] = (labels[i] + 1) % 10;  // 75% right

  const int fd = TempFileWith(frames);
  std::FILE* out = std::fopen("/dev/null", "w");
  REQUIRE(out != nullptr);
  std::fputs("warm up the stream's buffer\n", out);
  FrameClassifier classifier(&loaded.net);
  classifier.SetLabels(labels);
  LoopOptions options;
  options.json = true;
  const long before = g_allocations.load();
  RunRawLoop(fd, nullptr, options, &classifier, out);
  const long during = g_allocations.load() - before;
  close(fd);
  std::fclose(out);
  CHECK(classifier.frames() == kFrames);
  CHECK(classifier.malformed() == 0);
  CHECK(during == 0);

  char line[1024];
  classifier.FormatStats(false, line, sizeof(line));
  const std::string stats = line;
  INFO(stats);
  CHECK(stats.find("frames=10000 ") != std::string::npos);
  CHECK(stats.find("accuracy=0.7500") != std::string::npos);
  CHECK(stats.find("predictions_sha256=" + HashHex(predictions.data(), kFrames)) !=
        std::string::npos);
  CHECK(stats.find("outputs_sha256=" + HashHex(outputs.data(), outputs.size() * 4)) !=
        std::string::npos);
}

TEST_CASE("a short last frame is reported and skipped") {
  LoadedNet loaded(12);
  std::vector<uint8_t> bytes(2 * kFrameBytes + 100, 9);
  const int fd = TempFileWith(bytes);
  std::FILE* out = std::tmpfile();
  FrameClassifier classifier(&loaded.net);
  RunRawLoop(fd, nullptr, LoopOptions{}, &classifier, out);
  close(fd);
  CHECK(classifier.frames() == 2);
  CHECK(classifier.malformed() == 1);
  std::rewind(out);
  char line[256];
  int lines = 0;
  while (std::fgets(line, sizeof(line), out) != nullptr) {
    int digit = -1;
    double probability = -1, latency = -1;
    CHECK(std::sscanf(line, "%d %lf %lf", &digit, &probability, &latency) == 3);
    CHECK((digit >= 0 && digit <= 9));
    CHECK((probability > 0 && probability <= 1));
    ++lines;
  }
  CHECK(lines == 2);
  std::fclose(out);
}

TEST_CASE("latency statistics: percentiles, max and jitter") {
  LatencyStats stats;
  for (int i = 1; i <= 100; ++i) stats.Add(i);  // 1..100 us
  CHECK(stats.Percentile(0.5) == doctest::Approx(50.0).epsilon(0.01));
  CHECK(stats.Percentile(0.99) == doctest::Approx(99.0).epsilon(0.01));
  CHECK(stats.max_us() == 100.0);
  CHECK(stats.jitter_us() == doctest::Approx(29.01).epsilon(0.01));
  stats.Add(1e6);  // beyond the histogram: still the exact max
  CHECK(stats.Percentile(1.0) == 1e6);
}

// An off-centre dark digit-like bar on a light background, w x h.
std::vector<uint8_t> Photo(int w, int h) {
  std::vector<uint8_t> px(size_t(w) * h, 230);
  for (int y = h / 5; y < h / 5 + h / 2; ++y) {
    for (int x = w / 8; x < w / 8 + w / 10; ++x) px[size_t(y) * w + x] = 20;
  }
  return px;
}

TEST_CASE("preprocessing: crop, fit 20x20, centre of mass at the centre, invert") {
  const std::vector<uint8_t> px = Photo(200, 120);
  uint8_t frame[kFrameBytes];
  PreprocessLikeMnist(GrayImage{px.data(), 200, 120}, frame);
  double mass = 0, mx = 0, my = 0;
  int x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  for (int y = 0; y < kFrameSide; ++y) {
    for (int x = 0; x < kFrameSide; ++x) {
      const int v = frame[y * kFrameSide + x];
      mass += v, mx += v * (x + 0.5), my += v * (y + 0.5);
      if (v > 0)
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  REQUIRE(mass > 0);
  CHECK(std::abs(mx / mass - 14) <= 1.0);
  CHECK(std::abs(my / mass - 14) <= 1.0);
  CHECK(y1 - y0 + 1 == 20);  // the bar's long side fills 20 pixels
  CHECK(x1 - x0 + 1 <= 20);
  CHECK(frame[0] == 0);  // light background became black

  // A grey page (200) with a dark (40) "L": the page inside the ink's box
  // becomes 0, as MNIST's background is, and the ink 255 (levelling).
  std::vector<uint8_t> page(100 * 100, 200);
  for (int y = 10; y < 90; ++y) {
    for (int x = 20; x < 80; ++x) {
      if (x < 30 || y >= 80) page[y * 100 + x] = 40;
    }
  }
  PreprocessLikeMnist(GrayImage{page.data(), 100, 100}, frame);
  CHECK(*std::max_element(frame, frame + kFrameBytes) == 255);
  const auto unlevelled_page =
      std::count_if(frame, frame + kFrameBytes, [](uint8_t v) { return v >= 45 && v <= 65; });
  CHECK(unlevelled_page < 10);  // 255 - 200 = 55 without levelling: ~200 pixels

  // A 28x28 white-on-black frame is already MNIST: unchanged.
  std::vector<uint8_t> mnist(kFrameBytes, 0);
  for (size_t i = 200; i < 500; i += 3) mnist[i] = static_cast<uint8_t>(i);
  PreprocessLikeMnist(GrayImage{mnist.data(), 28, 28}, frame);
  CHECK(std::memcmp(frame, mnist.data(), kFrameBytes) == 0);
  // Blank input: a black frame, no crash.
  const std::vector<uint8_t> blank(50 * 50, 0);
  PreprocessLikeMnist(GrayImage{blank.data(), 50, 50}, frame);
  CHECK(std::all_of(frame, frame + kFrameBytes, [](uint8_t v) { return v == 0; }));
}

TEST_CASE("image files: PGM decodes, damaged files are errors, raw needs 784 bytes") {
  if (!ImageDecodingAvailable()) return;
  std::vector<uint8_t> arena_memory(DecodeArena::kRecommendedBytes);
  DecodeArena arena(arena_memory.data(), arena_memory.size());
  const std::vector<uint8_t> px = Photo(64, 48);
  const std::string header = "P5\n# a comment\n64 48\n255\n";
  std::vector<uint8_t> pgm(header.begin(), header.end());
  pgm.insert(pgm.end(), px.begin(), px.end());
  GrayImage image;
  REQUIRE(DecodeImage(pgm.data(), pgm.size(), &arena, &image) == nullptr);
  CHECK(image.width == 64);
  CHECK(image.height == 48);
  CHECK(std::memcmp(image.pixels, px.data(), px.size()) == 0);

  uint8_t frame[kFrameBytes], direct[kFrameBytes];
  REQUIRE(FrameFromFileBytes("digit.PGM", pgm.data(), pgm.size(), &arena, frame) == nullptr);
  PreprocessLikeMnist(GrayImage{px.data(), 64, 48}, direct);
  CHECK(std::memcmp(frame, direct, kFrameBytes) == 0);

  const std::vector<uint8_t> truncated(pgm.begin(), pgm.begin() + pgm.size() / 2);
  CHECK(FrameFromFileBytes("t.pgm", truncated.data(), truncated.size(), &arena, frame) != nullptr);
  const std::string garbage = "definitely not an image";
  CHECK(FrameFromFileBytes("g.png", reinterpret_cast<const uint8_t*>(garbage.data()),
                           garbage.size(), &arena, frame) != nullptr);
  const std::string huge = "P5\n5000 10\n255\n";
  CHECK(std::string(FrameFromFileBytes("h.pgm", reinterpret_cast<const uint8_t*>(huge.data()),
                                       huge.size(), &arena, frame))
            .find("1024") != std::string::npos);
  CHECK(FrameFromFileBytes("f.raw", px.data(), 783, &arena, frame) != nullptr);
  CHECK(FrameFromFileBytes("f.raw", px.data(), 784, &arena, frame) == nullptr);
}

TEST_CASE("--labels: an IDX1 label file; a count the file cannot hold is refused unallocated") {
  char path[] = "/tmp/edgemlp-labels-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const auto write_file = [&](std::vector<uint8_t> bytes) {
    REQUIRE(ftruncate(fd, 0) == 0);
    REQUIRE(pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  };
  std::vector<uint8_t> labels;
  std::string error;
  write_file({0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1});
  REQUIRE(ReadLabelFile(path, &labels, &error));
  CHECK(labels == std::vector<uint8_t>{7, 2, 1});
  // 4,294,967,295 labels declared in a 12-byte file: refused before allocating.
  labels.clear();
  labels.shrink_to_fit();
  write_file({0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4});
  CHECK_FALSE(ReadLabelFile(path, &labels, &error));
  CHECK(labels.capacity() < 1024);
  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("all its labels") != std::string::npos);
  write_file({0, 0, 8, 1, 0, 0, 0, 4, 7, 2, 1});  // one label short
  CHECK_FALSE(ReadLabelFile(path, &labels, &error));
  write_file({0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3});  // gzip, not IDX
  CHECK_FALSE(ReadLabelFile(path, &labels, &error));
  CHECK(error.find("magic 2049") != std::string::npos);
  close(fd);
  unlink(path);
  CHECK_FALSE(ReadLabelFile(path, &labels, &error));
  CHECK(error.find("cannot open") != std::string::npos);
}

volatile std::sig_atomic_t g_stop = 0;
void OnAlarm(int) { g_stop = 1; }

TEST_CASE("the watch loop classifies dropped files, skips bad ones, stops on a signal") {
  if (!ImageDecodingAvailable()) return;
  LoadedNet loaded(13);
  char dir[] = "/tmp/edgemlp-watch-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const int watch = WatchDirectory(dir);
  REQUIRE(watch >= 0);
  auto write = [&](const char* name, const std::vector<uint8_t>& bytes) {
    std::FILE* f = std::fopen((std::string(dir) + "/" + name).c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  };
  const std::string header = "P5\n64 48\n255\n";
  std::vector<uint8_t> pgm(header.begin(), header.end());
  const std::vector<uint8_t> px = Photo(64, 48);
  pgm.insert(pgm.end(), px.begin(), px.end());
  std::vector<uint8_t> raw(kFrameBytes, 0);
  for (size_t i = 300; i < 480; i += 2) raw[i] = 255;
  write("a.pgm", pgm);
  write("b.raw", raw);
  write("c.png", {1, 2, 3});                                             // undecodable
  write("d.pgm", std::vector<uint8_t>(pgm.begin(), pgm.begin() + 200));  // truncated
  write("notes.txt", {'h', 'i'});                                        // not a frame: ignored

  struct sigaction action {};
  action.sa_handler = OnAlarm;  // no SA_RESTART, as in main.cc
  sigaction(SIGALRM, &action, nullptr);
  g_stop = 0;
  alarm(2);  // the files' events are queued already; this ends the loop
  LoopOptions options;
  options.stop = &g_stop;
  std::FILE* out = std::tmpfile();
  FrameClassifier classifier(&loaded.net);
  RunWatchLoop(watch, dir, options, &classifier, out);
  CHECK(g_stop == 1);
  CHECK(classifier.frames() == 2);
  CHECK(classifier.malformed() == 2);

  // Each line names its file, with the prediction of that frame.
  uint8_t frame[kFrameBytes];
  PreprocessLikeMnist(GrayImage{px.data(), 64, 48}, frame);
  int32_t logits[10];
  const int want_a = loaded.net.PredictRef(frame, logits);
  const int want_b = loaded.net.PredictRef(raw.data(), logits);
  std::rewind(out);
  char line[256];
  std::string lines;
  while (std::fgets(line, sizeof(line), out) != nullptr) lines += line;
  std::fclose(out);
  INFO(lines);
  CHECK(lines.find(std::to_string(want_a) + " ") == 0);
  CHECK(lines.find(" a.pgm\n") != std::string::npos);
  CHECK(lines.find("\n" + std::to_string(want_b) + " ") != std::string::npos);
  CHECK(lines.find(" b.raw\n") != std::string::npos);
  for (const char* name : {"a.pgm", "b.raw", "c.png", "d.pgm", "notes.txt"}) {
    std::remove((std::string(dir) + "/" + name).c_str());
  }
  rmdir(dir);
}

TEST_CASE("camera luma: every format, padded lines, exact; bad layouts are errors") {
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
  const long before = g_allocations.load();
  for (int i = 0; i < 200; ++i) {
    REQUIRE(ExtractLuma(f.layout, f.bytes.data(), f.bytes.size(), gray.data()) == nullptr);
    PreprocessLikeMnist(GrayImage{gray.data(), kW, kH}, frame);
    EmitPrediction(classifier.Classify(frame), nullptr, LoopOptions{}, classifier, out);
  }
  CHECK(g_allocations.load() - before == 0);
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

TEST_CASE("the camera loop on a fake V4L2 device: newest frame, bad frames skipped, clean stop") {
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
  const long before = g_allocations.load();
  CHECK(RunCameraLoop(&camera, options, &classifier, out));
  CHECK(g_allocations.load() - before == 0);
  CHECK(stop == 1);
  CHECK(classifier.frames() == 101);
  CHECK(classifier.malformed() == 3);
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
