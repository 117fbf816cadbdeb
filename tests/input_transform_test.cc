// The input transform's scalar definitions against hand-computed answers
// and an independent exact-integer area integral.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "edgemlp/input_transform.h"
#include "for_each_target.h"
#include "kernels.h"

namespace edgemlp {
namespace {

InputTransform Affine(const std::vector<float>& scale, const std::vector<float>& offset) {
  InputTransform t;
  t.kind = InputTransformKind::kAffine;
  t.in_size = t.out_size = static_cast<uint32_t>(scale.size());
  t.scale = scale.data();
  t.offset = offset.data();
  return t;
}

InputTransform Area(uint32_t in_rows, uint32_t in_cols, uint32_t out_rows, uint32_t out_cols) {
  InputTransform t;
  t.kind = InputTransformKind::kArea;
  t.in_rows = in_rows;
  t.in_cols = in_cols;
  t.out_rows = out_rows;
  t.out_cols = out_cols;
  t.in_size = in_rows * in_cols;
  t.out_size = out_rows * out_cols;
  return t;
}

std::vector<uint8_t> RandomImage(size_t n, uint32_t seed) {
  std::vector<uint8_t> p(n);
  for (uint8_t& v : p) {
    seed = seed * 1664525u + 1013904223u;
    v = static_cast<uint8_t>(seed >> 24);
  }
  return p;
}

TEST_CASE("QuantizeFeatures rounds half to even, clamps, and computes in double") {
  // x * scale + offset: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4 (ties to even),
  // 2.4 -> 2, -0.4 -> 0, -3 -> 0 (clamped), 300 -> 255, 255.5 -> 255 (256 clamped).
  const std::vector<float> x = {0.5f, 1.5f, 5.0f, 3.0f, 2.4f, -0.4f, -3.0f, 150.0f, 255.5f};
  const std::vector<float> scale = {1, 1, 0.5f, 1, 1, 1, 1, 2, 1};
  const std::vector<float> offset = {0, 0, 0, 0.5f, 0, 0, 0, 0, 0};
  std::vector<uint8_t> q(x.size(), 77);
  REQUIRE(QuantizeFeatures(Affine(scale, offset), x.data(), q.data()));
  CHECK(q == std::vector<uint8_t>{0, 2, 2, 4, 2, 0, 0, 255, 255});

  // 0.1f * 5 is 0.500000007... in double (-> 1) but exactly 0.5f in float
  // (-> 0): the product must not be rounded to float first.
  const std::vector<float> x2 = {0.1f}, s2 = {5.0f}, o2 = {0.0f};
  uint8_t q2 = 9;
  REQUIRE(QuantizeFeatures(Affine(s2, o2), x2.data(), &q2));
  CHECK(q2 == 1);
}

TEST_CASE("QuantizeFeatures refuses a non-finite feature and stops there") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> scale(4, 1.0f), offset(4, 10.0f);
  for (const float bad : {nan, inf, -inf}) {
    const std::vector<float> x = {1.0f, 2.0f, bad, 3.0f};
    std::vector<uint8_t> q(4, 200);
    CHECK_FALSE(QuantizeFeatures(Affine(scale, offset), x.data(), q.data()));
    CHECK(q == std::vector<uint8_t>{11, 12, 200, 200});
  }
  // Not an affine transform: false, nothing written.
  const std::vector<float> x = {1.0f};
  uint8_t q = 3;
  CHECK_FALSE(QuantizeFeatures(Area(2, 2, 1, 1), x.data(), &q));
  CHECK(q == 3);
}

TEST_CASE("AreaDownsample 28x28 -> 14x14 is the 2x2 mean rounded half up") {
  const InputTransform t = Area(28, 28, 14, 14);
  std::vector<uint8_t> img = RandomImage(784, 7);
  // Hand-made blocks: sums 2 (mean 0.5 -> 1), 1 (0.25 -> 0), 6 (1.5 -> 2),
  // 1020 (255), 0.
  const uint8_t blocks[5][4] = {{0, 0, 1, 1}, {0, 0, 0, 1}, {1, 2, 1, 2}, {255, 255, 255, 255}, {0, 0, 0, 0}};
  const uint8_t want[5] = {1, 0, 2, 255, 0};
  for (int b = 0; b < 5; ++b) {
    img[0 * 28 + 2 * b] = blocks[b][0];
    img[0 * 28 + 2 * b + 1] = blocks[b][1];
    img[1 * 28 + 2 * b] = blocks[b][2];
    img[1 * 28 + 2 * b + 1] = blocks[b][3];
  }
  std::vector<uint8_t> out(196, 0);
  AreaDownsample(t, img.data(), out.data());
  for (int b = 0; b < 5; ++b) CHECK(out[b] == want[b]);
  for (int j = 0; j < 14; ++j) {
    for (int k = 0; k < 14; ++k) {
      const int sum = img[(2 * j) * 28 + 2 * k] + img[(2 * j) * 28 + 2 * k + 1] +
                      img[(2 * j + 1) * 28 + 2 * k] + img[(2 * j + 1) * 28 + 2 * k + 1];
      CHECK(out[j * 14 + k] == (sum + 2) / 4);
    }
  }
}

// The area integral, in coordinates scaled by the output size so every
// overlap is an integer: input row r spans [r * orow, (r + 1) * orow),
// output row j spans [j * ir, (j + 1) * ir), and an output pixel's area is
// ir * ic. floor(s / area + 1/2) = floor((2s + area) / (2 area)): round
// half up, exact. (A double version was exact only where in / out is a
// binary fraction: it failed 28 -> 18.)
std::vector<uint8_t> AreaIntegral(const std::vector<uint8_t>& in, uint32_t ir, uint32_t ic,
                                  uint32_t orow, uint32_t ocol) {
  const auto overlap = [](int64_t r, int64_t j, int64_t in_n, int64_t out_n) {
    return std::max<int64_t>(0, std::min((r + 1) * out_n, (j + 1) * in_n) -
                                    std::max(r * out_n, j * in_n));
  };
  std::vector<uint8_t> out(size_t{orow} * ocol);
  const int64_t area = int64_t{ir} * ic;
  for (uint32_t j = 0; j < orow; ++j) {
    for (uint32_t k = 0; k < ocol; ++k) {
      int64_t s = 0;
      for (uint32_t r = 0; r < ir; ++r) {
        const int64_t wy = overlap(r, j, ir, orow);
        for (uint32_t c = 0; c < ic && wy > 0; ++c) {
          s += wy * overlap(c, k, ic, ocol) * in[size_t{r} * ic + c];
        }
      }
      out[size_t{j} * ocol + k] = static_cast<uint8_t>((2 * s + area) / (2 * area));
    }
  }
  return out;
}

TEST_CASE("AreaDownsample equals the area integral: 28 -> 16 and 18, odd, 1-pixel shapes") {
  struct Shape { uint32_t ir, ic, orow, ocol; };
  for (const Shape s : {Shape{28, 28, 16, 16}, Shape{28, 28, 18, 18}, Shape{28, 28, 28, 28},
                        Shape{7, 5, 3, 2}, Shape{28, 28, 1, 1}, Shape{8, 16, 8, 4}}) {
    CAPTURE(s.ir);
    CAPTURE(s.ic);
    CAPTURE(s.orow);
    CAPTURE(s.ocol);
    for (uint32_t seed : {1u, 2u, 3u}) {
      const std::vector<uint8_t> in = RandomImage(size_t{s.ir} * s.ic, seed);
      std::vector<uint8_t> out(size_t{s.orow} * s.ocol, 0);
      AreaDownsample(Area(s.ir, s.ic, s.orow, s.ocol), in.data(), out.data());
      CHECK(out == AreaIntegral(in, s.ir, s.ic, s.orow, s.ocol));
    }
  }
  // The same size is the identity; all-255 stays 255 (no overflow, no loss).
  const std::vector<uint8_t> in = RandomImage(784, 9);
  std::vector<uint8_t> out(784);
  AreaDownsample(Area(28, 28, 28, 28), in.data(), out.data());
  CHECK(out == in);
  const std::vector<uint8_t> white(size_t{4096} * 3, 255);
  std::vector<uint8_t> small(5);
  AreaDownsample(Area(4096, 3, 5, 1), white.data(), small.data());
  CHECK(small == std::vector<uint8_t>(5, 255));
}

TEST_CASE("the SIMD area path equals the reference on every target") {
  struct Shape { uint32_t ir, ic, orow, ocol; };
  // Widths below, at and past every lane count (4..64 int32 lanes), odd
  // ratios (28 -> 18: the tiny preset), 1 pixel, the identity and a wide
  // row that stresses the sums.
  const Shape shapes[] = {{28, 28, 14, 14}, {28, 28, 16, 16}, {28, 28, 18, 18},
                          {28, 28, 7, 9},   {3, 3, 1, 1},
                          {5, 67, 2, 13},   {64, 64, 64, 64}, {33, 130, 11, 17},
                          {2, 4096, 1, 3},  {1, 1, 1, 1}};
  const int ran = test::ForEachTarget([&](const std::string& target) {
    for (const Shape& s : shapes) {
      CAPTURE(target);
      CAPTURE(s.ir);
      CAPTURE(s.ic);
      CAPTURE(s.orow);
      CAPTURE(s.ocol);
      const InputTransform t = Area(s.ir, s.ic, s.orow, s.ocol);
      for (uint32_t seed : {4u, 5u, 6u, 7u}) {
        std::vector<uint8_t> in = RandomImage(t.in_size, seed);
        if (seed == 5) in.assign(t.in_size, 255);  // the largest sums
        // Means at exact halves (sum + area/2 a multiple of area), where a
        // float quotient lands just below the integer: low bits, and 254/255.
        if (seed == 6) for (uint8_t& v : in) v &= 1;
        if (seed == 7) for (uint8_t& v : in) v = static_cast<uint8_t>(254 + (v & 1));
        std::vector<uint8_t> want(t.out_size), got(t.out_size, 1);
        std::vector<uint32_t> scratch(internal::AreaScratchBytes(t) / 4);
        internal::PrepareArea(t, scratch.data());
        AreaDownsample(t, in.data(), want.data());
        internal::AreaDownsampleSimd(t, in.data(), got.data(), scratch.data());
        CHECK(got == want);
      }
    }
  });
  CHECK(ran > 0);
}

TEST_CASE("the SIMD quotient is exact next to integers of a large area") {
  // rows x cols -> 1x1: out = (sum + A/2) / A with A = rows * cols. With m
  // pixels at base + 1 and the rest at base, m = A/2 - 1, A/2, A/2 + 1 put
  // sum + A/2 one below, at and one above (base + 1) * A, where a float
  // quotient is one too high (1000x999, base 100) or one too low
  // (1021x1000, base 2): the correction must make it exact.
  struct Case { uint32_t rows, cols; uint8_t base; };
  for (const Case c : {Case{1000, 999, 100}, Case{1021, 1000, 2}}) {
    const InputTransform t = Area(c.rows, c.cols, 1, 1);
    std::vector<uint32_t> scratch(internal::AreaScratchBytes(t) / 4);
    internal::PrepareArea(t, scratch.data());
    const size_t half = t.in_size / 2;
    for (const size_t m : {half - 1, half, half + 1}) {
      std::vector<uint8_t> in(t.in_size, c.base);
      for (size_t i = 0; i < m; ++i) in[i] = static_cast<uint8_t>(c.base + 1);
      uint8_t want = 0;
      AreaDownsample(t, in.data(), &want);
      CHECK(want == (m < half ? c.base : c.base + 1));
      const int ran = test::ForEachTarget([&](const std::string& target) {
        CAPTURE(target);
        CAPTURE(c.rows);
        CAPTURE(m);
        uint8_t got = 7;
        internal::AreaDownsampleSimd(t, in.data(), &got, scratch.data());
        CHECK(got == want);
      });
      CHECK(ran > 0);
    }
  }
}

}  // namespace
}  // namespace edgemlp
