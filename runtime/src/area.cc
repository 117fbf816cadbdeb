// The area transform's SIMD path (Highway), bit-exact with AreaDownsample
// (input_transform_ref.cc): every sum is an exact integer, so only the
// order of additions differs. Per output row, the vertical pass (each input
// pixel of the rows it covers, times the row overlap) runs in int32 lanes
// across the columns, then the few column taps and the rounding division
// run per output pixel.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "area.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels.h"

HWY_BEFORE_NAMESPACE();
namespace edgemlp {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// acc[c] += w * row[c] for c < n.
HWY_INLINE void AccumulateRow(const uint8_t* row, int32_t w, size_t n, int32_t* acc) {
  size_t c = 0;
#if HWY_TARGET != HWY_SCALAR  // GCC 12's SCALAR lacks the u8 -> i32 promotion
  const hn::ScalableTag<int32_t> d32;
  const hn::Rebind<uint8_t, decltype(d32)> d8;
  const size_t lanes = hn::Lanes(d32);
  const auto vw = hn::Set(d32, w);
  for (; c + lanes <= n; c += lanes) {
    const auto p = hn::PromoteTo(d32, hn::LoadU(d8, row + c));
    hn::StoreU(hn::Add(hn::LoadU(d32, acc + c), hn::Mul(p, vw)), d32, acc + c);
  }
#endif
  for (; c < n; ++c) acc[c] += w * row[c];
}

void AreaDownsampleImpl(const InputTransform& t, const uint8_t* in, uint8_t* out,
                        int32_t* acc) {
  const uint64_t area = uint64_t{t.in_rows} * t.in_cols;
  for (uint32_t j = 0; j < t.out_rows; ++j) {
    const uint32_t r0 = internal::AreaFirst(j, t.in_rows, t.out_rows);
    const uint32_t r1 = internal::AreaLast(j, t.in_rows, t.out_rows);
    for (uint32_t c = 0; c < t.in_cols; ++c) acc[c] = 0;
    // Column sums <= in_rows * 255 (the row weights of an output sum to in_rows).
    for (uint32_t r = r0; r <= r1; ++r) {
      AccumulateRow(in + size_t{r} * t.in_cols,
                    static_cast<int32_t>(internal::AreaOverlap(r, j, t.in_rows, t.out_rows)),
                    t.in_cols, acc);
    }
    for (uint32_t k = 0; k < t.out_cols; ++k) {
      const uint32_t c0 = internal::AreaFirst(k, t.in_cols, t.out_cols);
      const uint32_t c1 = internal::AreaLast(k, t.in_cols, t.out_cols);
      uint64_t sum = 0;
      for (uint32_t c = c0; c <= c1; ++c) {
        sum += internal::AreaOverlap(c, k, t.in_cols, t.out_cols) * uint64_t(acc[c]);
      }
      out[size_t{j} * t.out_cols + k] = static_cast<uint8_t>((sum + area / 2) / area);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgemlp
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgemlp {
HWY_EXPORT(AreaDownsampleImpl);
namespace internal {
void AreaDownsampleSimd(const InputTransform& t, const uint8_t* in, uint8_t* out,
                        int32_t* scratch) {
  HWY_DYNAMIC_DISPATCH(AreaDownsampleImpl)(t, in, out, scratch);
}
}  // namespace internal
}  // namespace edgemlp
#endif  // HWY_ONCE
