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

// The preprocessing as first written, straight from its definition (a
// division per pixel, a pass for the peak, one for the box): the reference
// the one-pass, table-driven PreprocessLikeMnist must match byte for byte.
// The resampling into 20 x 20 (FitInkBox) did not change: both call it.
void PreprocessReference(const GrayImage& image, uint8_t frame[kFrameBytes]) {
  std::memset(frame, 0, kFrameBytes);
  const int w = image.width, h = image.height;
  auto at = [&](int x, int y) { return image.pixels[static_cast<size_t>(y) * w + x]; };
  uint64_t border_sum = 0, border_count = 0;
  for (int x = 0; x < w; ++x) border_sum += at(x, 0) + at(x, h - 1), border_count += 2;
  for (int y = 0; y < h; ++y) border_sum += at(0, y) + at(w - 1, y), border_count += 2;
  const bool invert = border_sum > 127 * border_count;
  auto raw_ink = [&](int x, int y) { return invert ? 255 - at(x, y) : at(x, y); };
  if (w == kFrameSide && h == kFrameSide && !invert) {
    std::memcpy(frame, image.pixels, kFrameBytes);
    return;
  }
  const int paper =
      static_cast<int>(invert ? 255 - border_sum / border_count : border_sum / border_count);
  int peak = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) peak = std::max(peak, raw_ink(x, y));
  }
  const int range = std::max(1, peak - paper);
  auto ink = [&](int x, int y) {
    return std::max(0, std::min(255, (raw_ink(x, y) - paper) * 255 / range));
  };
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (ink(x, y) > 64) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
    }
  }
  if (x1 < 0) return;
  FitInkBox(ink, w, h, x0, y0, x1, y1, frame);  // the step both share
}

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

TEST_CASE("preprocessing gives the reference's frame, byte for byte") {
  FastNoise noise{12345};
  // A digit-like 28x28 glyph: a ring and a stroke, drawn white on black.
  uint8_t glyph[kFrameBytes] = {};
  for (int y = 0; y < kFrameSide; ++y) {
    for (int x = 0; x < kFrameSide; ++x) {
      const double r = std::hypot(x - 14.0, y - 10.0);
      if ((r > 4 && r < 7) || (x >= 18 && x <= 20 && y >= 10 && y <= 24))
        glyph[y * kFrameSide + x] = static_cast<uint8_t>(180 + noise.Next() % 76);
    }
  }
  uint8_t got[kFrameBytes], want[kFrameBytes];
  int compared = 0, non_blank = 0;
  const auto same = [&](const std::vector<uint8_t>& px, int w, int h) {
    PreprocessLikeMnist(GrayImage{px.data(), w, h}, got);
    PreprocessReference(GrayImage{px.data(), w, h}, want);
    ++compared;
    non_blank += std::any_of(want, want + kFrameBytes, [](uint8_t v) { return v != 0; });
    return std::memcmp(got, want, kFrameBytes) == 0;
  };
  // Photos of the glyph (dark ink on a lit page) at many sizes and places,
  // and the same inverted (white ink on black).
  const int sizes[][2] = {{640, 480}, {320, 240}, {97, 61}, {29, 28}, {28, 28}, {1, 1}, {3, 200}};
  for (const auto& size : sizes) {
    for (int i = 0; i < 6; ++i) {
      const int w = size[0], h = size[1];
      const double scale = 0.2 + (noise.Next() % 1000) / 1000.0 * std::min(w, h) / 28.0;
      const int left = static_cast<int>(noise.Next() % static_cast<uint32_t>(w));
      const int top = static_cast<int>(noise.Next() % static_cast<uint32_t>(h));
      std::vector<uint8_t> px = Photograph(glyph, scale, left - w / 4, top - h / 4, w, h, noise);
      CHECK_MESSAGE(same(px, w, h), w, "x", h, " photo ", i);
      for (uint8_t& v : px) v = static_cast<uint8_t>(255 - v);
      CHECK_MESSAGE(same(px, w, h), w, "x", h, " inverted photo ", i);
    }
  }
  // Wider than one column strip (4096), ink only in the second strip; noise
  // (the box is everything); flat pages (blank); faint ink that never
  // reaches the threshold (peak <= paper).
  std::vector<uint8_t> wide(5000 * 12, 0);
  for (int y = 3; y < 9; ++y) wide[static_cast<size_t>(y) * 5000 + 4500 + y] = 200;
  CHECK(same(wide, 5000, 12));
  CHECK(same(std::vector<uint8_t>(5000 * 3, 40), 5000, 3));
  std::vector<uint8_t> random(200 * 150);
  for (uint8_t& v : random) v = static_cast<uint8_t>(noise.Next());
  CHECK(same(random, 200, 150));
  CHECK(same(std::vector<uint8_t>(64 * 64, 255), 64, 64));
  CHECK(same(std::vector<uint8_t>(64 * 64, 0), 64, 64));
  std::vector<uint8_t> faint(64 * 64, 100);
  faint[64 * 30 + 30] = 90;
  CHECK(same(faint, 64, 64));
  std::vector<uint8_t> mnist_inverted(kFrameBytes, 255);
  for (int i = 100; i < 600; i += 7) mnist_inverted[i] = 0;
  CHECK(same(mnist_inverted, 28, 28));
  CHECK(non_blank > compared / 2);  // most comparisons had ink to place
}

}  // namespace
}  // namespace edgemlp
