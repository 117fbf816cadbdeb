// edgemlp-firmware's loops: raw frames from a stream (digests, malformed
// frames, no heap allocation after start-up over 10,000 frames), latency
// statistics, --labels, and the watch loop over dropped image files.
#include "firmware.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgemlp/mnist_frame.h"
#include "firmware_test_util.h"
#include "photo.h"
#include "random_blob.h"

namespace edgemlp::firmware {
namespace {

TEST_CASE("input transforms: an area model takes frames, an affine one quantized features") {
  Network area;
  const std::vector<uint8_t> area_blob = RandomBlob(3, InputTransformKind::kArea);
  REQUIRE(Network::LoadCopy(area_blob.data(), area_blob.size(), &area).ok());
  CHECK(area.input_size() == kFrameBytes);
  CHECK(VerifyPredictMatchesReference(&area) == nullptr);
  Network affine;
  const std::vector<uint8_t> affine_blob = RandomBlob(3, InputTransformKind::kAffine);
  REQUIRE(Network::LoadCopy(affine_blob.data(), affine_blob.size(), &affine).ok());
  // SIMD == reference on u8 features (what PredictFloat feeds the network);
  // edgemlp-firmware runs such a blob with --features only (data_cli_test).
  CHECK(VerifyPredictMatchesReference(&affine) == nullptr);
  std::vector<float> features(affine.input_size(), 0.5f);
  FrameClassifier classifier(&affine);
  const Prediction p = classifier.ClassifyFeatures(features.data());
  REQUIRE(p.digit >= 0);
  features[3] = NAN;
  CHECK(classifier.ClassifyFeatures(features.data()).digit == -1);
  CHECK(classifier.frames() == 1);  // the NaN record is not counted as a frame
}

TEST_CASE("the raw loop classifies 10,000 frames without heap allocation, with eval's digests") {
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
  const long before = HeapAllocations();
  RunRawLoop(fd, nullptr, options, &classifier, out);
  const long during = HeapAllocations() - before;
  close(fd);
  std::fclose(out);
  CHECK(classifier.frames() == kFrames);
  CHECK(classifier.malformed() == 0);
  CHECK(during == 1);  // the stream's two frame buffers, at its start; none per frame

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

TEST_CASE("latency statistics: log buckets within 9%, exact max and jitter, under 1 KiB") {
  LatencyStats stats;
  for (int i = 1; i <= 100; ++i) stats.Add(i);  // 1..100 us
  // The upper edge of the bucket holding the rank: at most one bucket
  // (2^(1/8), 9.05%) above the exact percentile, never above the max.
  CHECK(stats.Percentile(0.5) >= 50.0);
  CHECK(stats.Percentile(0.5) <= 50.0 * 1.0906);
  CHECK(stats.Percentile(0.99) >= 99.0);
  CHECK(stats.Percentile(0.99) <= 100.0);
  CHECK(stats.Percentile(0.01) >= 1.0);
  CHECK(stats.Percentile(0.01) <= 1.0906);
  CHECK(stats.max_us() == 100.0);
  CHECK(stats.jitter_us() == doctest::Approx(29.01).epsilon(0.01));
  stats.Add(1e9);  // beyond the histogram (1000 s): still the exact max
  CHECK(stats.Percentile(1.0) == 1e9);
  CHECK(sizeof(LatencyStats) < 1024);
  // Every value lands within 9% of the percentile that covers only it.
  for (const double us : {0.05, 0.1, 0.37, 12.5, 4096.0, 3e6}) {
    LatencyStats one;
    one.Add(us);
    CHECK(one.Percentile(0.5) == us);  // clamped to the exact min and max
  }
}

TEST_CASE("--labels reads an IDX1 file and refuses, unallocated, a count the file cannot hold") {
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

}  // namespace
}  // namespace edgemlp::firmware
