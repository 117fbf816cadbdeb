// preprocess/: the image decoder (PGM/PNG into a DecodeArena) and the MNIST
// preprocessing every image path shares. No runtime, no data: it also runs
// for the boards under qemu.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "edgemlp/image_decode.h"
#include "edgemlp/mnist_frame.h"
#include "photo.h"

namespace edgemlp {
namespace {

TEST_CASE("preprocessing crops, fits to 20x20, centres the mass and inverts a light page") {
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

TEST_CASE("a PGM decodes to its pixels, damaged files are errors, a .raw frame must be 784 bytes") {
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
TEST_CASE("ReadFrameFile reads what FrameFromFileBytes takes and names what is wrong") {
  if (!ImageDecodingAvailable()) return;
  std::vector<uint8_t> arena_memory(DecodeArena::kRecommendedBytes);
  DecodeArena arena(arena_memory.data(), arena_memory.size());
  std::vector<uint8_t> file(kMaxImageFileBytes + 1);
  const std::vector<uint8_t> px = Photo(64, 48);
  const std::string header = "P5\n64 48\n255\n";
  std::vector<uint8_t> pgm(header.begin(), header.end());
  pgm.insert(pgm.end(), px.begin(), px.end());
  char dir[] = "/tmp/edgemlp-frames-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/digit.pgm";
  const auto write = [&](const std::vector<uint8_t>& bytes) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
    std::fclose(f);
  };
  write(pgm);
  uint8_t from_file[kFrameBytes], from_bytes[kFrameBytes];
  REQUIRE(ReadFrameFile(path.c_str(), file.data(), &arena, from_file) == nullptr);
  REQUIRE(FrameFromFileBytes("digit.pgm", pgm.data(), pgm.size(), &arena, from_bytes) == nullptr);
  CHECK(std::memcmp(from_file, from_bytes, kFrameBytes) == 0);
  // One byte over the limit is refused, unread past it.
  write(std::vector<uint8_t>(kMaxImageFileBytes + 1, 'P'));
  CHECK(std::string(ReadFrameFile(path.c_str(), file.data(), &arena, from_file)).find("8 MiB") !=
        std::string::npos);
  std::remove(path.c_str());
  CHECK(std::string(ReadFrameFile(path.c_str(), file.data(), &arena, from_file))
            .find("cannot open") == 0);
  CHECK(std::string(ReadFrameFile(dir, file.data(), &arena, from_file)) == "not a regular file");
  // A FIFO without a writer is refused at once, not waited on.
  const std::string fifo = std::string(dir) + "/fifo.png";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(std::string(ReadFrameFile(fifo.c_str(), file.data(), &arena, from_file)) ==
        "not a regular file");
  std::remove(fifo.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace edgemlp
