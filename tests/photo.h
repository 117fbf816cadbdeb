// Synthetic photos for the image-path tests: a dark bar on a light page, and
// an MNIST digit photographed on paper (dark ink, uneven light, noise).
#ifndef EDGEMLP_TESTS_PHOTO_H_
#define EDGEMLP_TESTS_PHOTO_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgemlp {

// An off-centre dark digit-like bar on a light background, w x h.
inline std::vector<uint8_t> Photo(int w, int h) {
  std::vector<uint8_t> px(size_t(w) * h, 230);
  for (int y = h / 5; y < h / 5 + h / 2; ++y) {
    for (int x = w / 8; x < w / 8 + w / 10; ++x) px[size_t(y) * w + x] = 20;
  }
  return px;
}

// xorshift32: noise for synthetic frames, cheap enough for debug builds.
struct FastNoise {
  uint32_t state;
  uint32_t Next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

// The 28x28 digit as a width x height photo of a page: scaled by `scale`
// (bilinear) with its top-left corner at (left, top), ink ~30, paper
// 215..240 lit from one side, +-5 noise.
inline std::vector<uint8_t> Photograph(const uint8_t* digit, double scale, int left, int top,
                                       int width, int height, FastNoise& noise) {
  std::vector<uint8_t> px(static_cast<size_t>(width) * static_cast<size_t>(height));
  const int side = static_cast<int>(28 * scale);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double paper = 215 + 25.0 * x / width;
      double ink = 0;  // 0..1
      if (x >= left && x < left + side && y >= top && y < top + side) {
        const double sx = std::min(27.0, std::max(0.0, (x - left + 0.5) / scale - 0.5));
        const double sy = std::min(27.0, std::max(0.0, (y - top + 0.5) / scale - 0.5));
        const int x0 = static_cast<int>(sx), y0 = static_cast<int>(sy);
        const int x1 = std::min(27, x0 + 1), y1 = std::min(27, y0 + 1);
        const double fx = sx - x0, fy = sy - y0;
        ink = ((1 - fx) * (1 - fy) * digit[y0 * 28 + x0] + fx * (1 - fy) * digit[y0 * 28 + x1] +
               (1 - fx) * fy * digit[y1 * 28 + x0] + fx * fy * digit[y1 * 28 + x1]) /
              255.0;
      }
      const double v = paper - (paper - 30) * ink + static_cast<int>(noise.Next() % 11) - 5;
      px[size_t(y) * width + x] =
          static_cast<uint8_t>(std::lround(std::min(255.0, std::max(0.0, v))));
    }
  }
  return px;
}

}  // namespace edgemlp

#endif  // EDGEMLP_TESTS_PHOTO_H_
