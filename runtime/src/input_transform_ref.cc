// The input transform's scalar definitions (edgemlp/input_transform.h):
// the specification the runtime's SIMD path and the trainer follow.
#include <cmath>
#include <cstdint>

#include "edgemlp/input_transform.h"
#include "kernels.h"  // AreaFirst, AreaLast, AreaOverlap

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


void AreaDownsample(const InputTransform& t, const uint8_t* in, uint8_t* out) {
  if (t.kind != InputTransformKind::kArea) return;
  const uint64_t area = uint64_t{t.in_rows} * t.in_cols;
  for (uint64_t j = 0; j < t.out_rows; ++j) {
    const uint64_t r0 = internal::AreaFirst(j, t.in_rows, t.out_rows);
    const uint64_t r1 = internal::AreaLast(j, t.in_rows, t.out_rows);
    for (uint64_t k = 0; k < t.out_cols; ++k) {
      const uint64_t c0 = internal::AreaFirst(k, t.in_cols, t.out_cols);
      const uint64_t c1 = internal::AreaLast(k, t.in_cols, t.out_cols);
      uint64_t sum = 0;
      for (uint64_t r = r0; r <= r1; ++r) {
        const uint64_t wr = internal::AreaOverlap(r, j, t.in_rows, t.out_rows);
        for (uint64_t c = c0; c <= c1; ++c) {
          sum += wr * internal::AreaOverlap(c, k, t.in_cols, t.out_cols) * in[r * t.in_cols + c];
        }
      }
      out[j * t.out_cols + k] = static_cast<uint8_t>((sum + area / 2) / area);
    }
  }
}

}  // namespace edgemlp
