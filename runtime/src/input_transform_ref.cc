// The input transform's scalar definitions (edgemlp/input_transform.h):
// the specification the runtime's SIMD path and the trainer follow.
#include <cmath>
#include <cstdint>

#include "edgemlp/input_transform.h"

namespace edgemlp {

bool QuantizeFeatures(const InputTransform& t, const float* x, uint8_t* q) {
  if (t.kind != InputTransformKind::kAffine) return false;
  for (uint32_t i = 0; i < t.in_size; ++i) {
    if (!std::isfinite(x[i])) return false;
    // float * float is exact in double; one rounding after the add.
    const double v = std::nearbyint(static_cast<double>(x[i]) * t.scale[i] +
                                    static_cast<double>(t.offset[i]));
    q[i] = static_cast<uint8_t>(v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v));
  }
  return true;
}

namespace {
// Length of the overlap of input pixel i, [i * out, (i + 1) * out), and
// output pixel j, [j * in, (j + 1) * in): both scaled by in * out, so integers.
uint64_t Overlap(uint64_t i, uint64_t j, uint64_t in, uint64_t out) {
  const uint64_t lo = i * out > j * in ? i * out : j * in;
  const uint64_t hi = (i + 1) * out < (j + 1) * in ? (i + 1) * out : (j + 1) * in;
  return hi > lo ? hi - lo : 0;
}
}  // namespace

void AreaDownsample(const InputTransform& t, const uint8_t* in, uint8_t* out) {
  if (t.kind != InputTransformKind::kArea) return;
  const uint64_t area = uint64_t{t.in_rows} * t.in_cols;
  for (uint64_t j = 0; j < t.out_rows; ++j) {
    const uint64_t r0 = j * t.in_rows / t.out_rows;
    const uint64_t r1 = ((j + 1) * t.in_rows - 1) / t.out_rows;  // inclusive
    for (uint64_t k = 0; k < t.out_cols; ++k) {
      const uint64_t c0 = k * t.in_cols / t.out_cols;
      const uint64_t c1 = ((k + 1) * t.in_cols - 1) / t.out_cols;
      uint64_t sum = 0;
      for (uint64_t r = r0; r <= r1; ++r) {
        const uint64_t wr = Overlap(r, j, t.in_rows, t.out_rows);
        for (uint64_t c = c0; c <= c1; ++c) {
          sum += wr * Overlap(c, k, t.in_cols, t.out_cols) * in[r * t.in_cols + c];
        }
      }
      out[j * t.out_cols + k] = static_cast<uint8_t>((sum + area / 2) / area);
    }
  }
}

}  // namespace edgemlp
