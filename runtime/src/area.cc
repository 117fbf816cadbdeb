// The area transform's SIMD path (Highway), bit-exact with AreaDownsample
// (input_transform_ref.cc): every sum is an exact integer, so only the
// order of additions differs. The per-axis taps (first input pixel, count,
// overlap weights) are tabled once at load (PrepareArea) so no division is
// left per pixel. Per output row, the vertical pass (each input pixel of the
// rows it covers, times the row weight) runs in int32 lanes across the
// columns; then each output pixel takes its few column taps and one
// rounding division, done in double and corrected to the exact quotient.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "area.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels.h"

#if HWY_ONCE
namespace edgemlp::internal {
namespace {
// Scratch layout (uint32 words): header {row_taps, col_taps}, then acc
// (in_cols), per row: first[out_rows], count[out_rows], w[out_rows x
// row_taps]; the same for columns; then for the SIMD column pass, per tap
// a gather index and weight for every output column (AreaGatherPad of
// them, weight 0 past count), and a row of int32 quotients.
struct AreaTables {
  uint32_t row_taps, col_taps;
  int32_t* acc;
  uint32_t *row_first, *row_count, *row_w;
  uint32_t *col_first, *col_count, *col_w;
};

uint32_t MaxTaps(uint32_t in, uint32_t out) {
  uint32_t taps = 0;
  for (uint32_t j = 0; j < out; ++j) {
    const uint32_t n = AreaLast(j, in, out) - AreaFirst(j, in, out) + 1;
    if (n > taps) taps = n;
  }
  return taps;
}

AreaTables Layout(const InputTransform& t, uint32_t* words, uint32_t row_taps,
                  uint32_t col_taps) {
  AreaTables a;
  a.row_taps = row_taps;
  a.col_taps = col_taps;
  uint32_t* p = words + 2;
  a.acc = reinterpret_cast<int32_t*>(p);
  p += t.in_cols;
  a.row_first = p;
  a.row_count = p + t.out_rows;
  a.row_w = p + 2 * size_t{t.out_rows};
  p += (2 + size_t{row_taps}) * t.out_rows;
  a.col_first = p;
  a.col_count = p + t.out_cols;
  a.col_w = p + 2 * size_t{t.out_cols};
  return a;
}

void Tabulate(uint32_t in, uint32_t out, uint32_t taps, uint32_t* first, uint32_t* count,
              uint32_t* w) {
  for (uint32_t j = 0; j < out; ++j) {
    first[j] = AreaFirst(j, in, out);
    count[j] = AreaLast(j, in, out) - first[j] + 1;
    for (uint32_t k = 0; k < taps; ++k) {
      w[size_t{j} * taps + k] =
          k < count[j] ? static_cast<uint32_t>(AreaOverlap(first[j] + k, j, in, out)) : 0;
    }
  }
}
}  // namespace

size_t AreaScratchBytes(const InputTransform& t) {
  const size_t col_taps = MaxTaps(t.in_cols, t.out_cols);
  const size_t words = 2 + t.in_cols + (2 + size_t{MaxTaps(t.in_rows, t.out_rows)}) * t.out_rows +
                       (2 + col_taps) * t.out_cols + (2 * col_taps + 1) * AreaGatherPad(t.out_cols);
  return words * 4;
}

void PrepareArea(const InputTransform& t, void* scratch) {
  auto* words = static_cast<uint32_t*>(scratch);
  words[0] = MaxTaps(t.in_rows, t.out_rows);
  words[1] = MaxTaps(t.in_cols, t.out_cols);
  const AreaTables a = Layout(t, words, words[0], words[1]);
  Tabulate(t.in_rows, t.out_rows, a.row_taps, a.row_first, a.row_count, a.row_w);
  Tabulate(t.in_cols, t.out_cols, a.col_taps, a.col_first, a.col_count, a.col_w);
  const size_t pad = AreaGatherPad(t.out_cols);
  uint32_t* idx = a.col_w + size_t{a.col_taps} * t.out_cols;
  uint32_t* gw = idx + a.col_taps * pad;
  for (size_t i = 0; i < a.col_taps; ++i) {
    for (size_t k = 0; k < pad; ++k) {
      const bool tap = k < t.out_cols && i < a.col_count[k];
      // Padding taps read a valid column with weight 0.
      idx[i * pad + k] = k < t.out_cols ? a.col_first[k] + (tap ? uint32_t(i) : 0u) : 0u;
      gw[i * pad + k] = tap ? a.col_w[k * a.col_taps + i] : 0u;
    }
  }
}
}  // namespace edgemlp::internal
#endif  // HWY_ONCE

HWY_BEFORE_NAMESPACE();
namespace edgemlp {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// acc[c] = w * row[c] (kFirst) or acc[c] += w * row[c], for c < n. The
// first tap stores instead of adding to zeros: zeroing acc with scalar
// stores, then loading it as vectors, stalled on store forwarding.
template <bool kFirst>
HWY_INLINE void AccumulateRow(const uint8_t* row, int32_t w, size_t n, int32_t* acc) {
  size_t c = 0;
#if HWY_TARGET != HWY_SCALAR  // GCC 12's SCALAR lacks the u8 -> i32 promotion
  const hn::ScalableTag<int32_t> d32;
  const hn::Rebind<uint8_t, decltype(d32)> d8;
  const size_t lanes = hn::Lanes(d32);
  const auto vw = hn::Set(d32, w);
  for (; c + lanes <= n; c += lanes) {
    const auto p = hn::Mul(hn::PromoteTo(d32, hn::LoadU(d8, row + c)), vw);
    hn::StoreU(kFirst ? p : hn::Add(hn::LoadU(d32, acc + c), p), d32, acc + c);
  }
  // Tail in 4 lanes (28 columns on 16 lanes leave 12).
  const hn::CappedTag<int32_t, 4> d4;
  const hn::Rebind<uint8_t, decltype(d4)> d8x4;
  const auto vw4 = hn::Set(d4, w);
  for (; c + hn::Lanes(d4) <= n; c += hn::Lanes(d4)) {
    const auto p = hn::Mul(hn::PromoteTo(d4, hn::LoadU(d8x4, row + c)), vw4);
    hn::StoreU(kFirst ? p : hn::Add(hn::LoadU(d4, acc + c), p), d4, acc + c);
  }
#endif
  for (; c < n; ++c) acc[c] = (kFirst ? 0 : acc[c]) + w * row[c];
}

#if HWY_TARGET != HWY_SCALAR
// q[k] = (sum_i w[i][k] * acc[idx[i][k]] + area/2) / area for k < out_cols,
// in int32 lanes (sums < 2^31): gathered taps, then the quotient from f32
// (within 1 of the exact one: |error| < 256 * 3 * 2^-24) corrected to it.
HWY_INLINE void ColumnPass(const int32_t* acc, const int32_t* idx, const int32_t* w, size_t taps,
                           size_t pad, size_t out_cols, int32_t area, int32_t* q) {
  const hn::ScalableTag<int32_t> d;
  const hn::Rebind<float, decltype(d)> df;
  const auto va = hn::Set(d, area);
  const auto va_minus_1 = hn::Set(d, area - 1);
  const auto half = hn::Set(d, area / 2);
  const auto inv = hn::Set(df, 1.0f / static_cast<float>(area));
  const size_t lanes = hn::Lanes(d);
  for (size_t k = 0; k < out_cols; k += lanes) {  // ends inside the padding
    auto sum = half;
    for (size_t i = 0; i < taps; ++i) {
      const auto taps_i = hn::GatherIndex(d, acc, hn::LoadU(d, idx + i * pad + k));
      sum = hn::Add(sum, hn::Mul(taps_i, hn::LoadU(d, w + i * pad + k)));
    }
    auto quot = hn::ConvertTo(d, hn::Mul(hn::ConvertTo(df, sum), inv));
    const auto rem = hn::Sub(sum, hn::Mul(quot, va));
    quot = hn::Sub(quot, hn::VecFromMask(d, hn::Gt(rem, va_minus_1)));  // rem >= area: + 1
    quot = hn::Add(quot, hn::VecFromMask(d, hn::Gt(hn::Zero(d), rem)));  // rem < 0: - 1
    hn::StoreU(quot, d, q + k);
  }
}
#endif

void AreaDownsampleImpl(const InputTransform& t, const uint8_t* in, uint8_t* out,
                        void* scratch) {
  auto* words = static_cast<uint32_t*>(scratch);
  const uint32_t row_taps = words[0], col_taps = words[1];
  // The same layout PrepareArea wrote (see AreaTables).
  int32_t* acc = reinterpret_cast<int32_t*>(words + 2);
  const uint32_t* row_first = words + 2 + t.in_cols;
  const uint32_t* row_count = row_first + t.out_rows;
  const uint32_t* row_w = row_first + 2 * size_t{t.out_rows};
  const uint32_t* col_first = row_w + size_t{row_taps} * t.out_rows;
  const uint32_t* col_count = col_first + t.out_cols;
  const uint32_t* col_w = col_first + 2 * size_t{t.out_cols};
  const uint64_t area = uint64_t{t.in_rows} * t.in_cols;
  const double inv_area = 1.0 / static_cast<double>(area);
#if HWY_TARGET != HWY_SCALAR
  // The column pass in int32 lanes while sums stay below 2^31.
  const bool simd_cols = area <= (uint64_t{1} << 23);
  const size_t pad = internal::AreaGatherPad(t.out_cols);
  int32_t* gather_idx = reinterpret_cast<int32_t*>(words) + (col_w - words) +
                        size_t{col_taps} * t.out_cols;
  const int32_t* gather_w = gather_idx + size_t{col_taps} * pad;
  int32_t* quotients = gather_idx + 2 * size_t{col_taps} * pad;
#endif
  for (uint32_t j = 0; j < t.out_rows; ++j) {
    // Column sums <= in_rows * 255: the row weights of an output sum to
    // in_rows. Every output row has at least one input row.
    const uint8_t* rows = in + size_t{row_first[j]} * t.in_cols;
    const uint32_t* w = row_w + size_t{j} * row_taps;
    AccumulateRow<true>(rows, static_cast<int32_t>(w[0]), t.in_cols, acc);
    for (uint32_t k = 1; k < row_count[j]; ++k) {
      AccumulateRow<false>(rows + size_t{k} * t.in_cols, static_cast<int32_t>(w[k]), t.in_cols,
                           acc);
    }
#if HWY_TARGET != HWY_SCALAR
    if (simd_cols) {
      ColumnPass(acc, gather_idx, gather_w, col_taps, pad, t.out_cols, static_cast<int32_t>(area),
                 quotients);
      for (uint32_t k = 0; k < t.out_cols; ++k) {
        out[size_t{j} * t.out_cols + k] = static_cast<uint8_t>(quotients[k]);
      }
      continue;
    }
#endif
    for (uint32_t k = 0; k < t.out_cols; ++k) {
      const int32_t* a = acc + col_first[k];
      const uint32_t* w = col_w + size_t{k} * col_taps;
      uint64_t sum = area / 2;
      for (uint32_t i = 0; i < col_count[k]; ++i) sum += uint64_t{w[i]} * static_cast<uint32_t>(a[i]);
      // floor(sum / area): the double quotient is within 1 of it (sum < 2^33).
      uint64_t q = static_cast<uint64_t>(static_cast<double>(sum) * inv_area);
      if (q * area > sum) --q;
      if ((q + 1) * area <= sum) ++q;
      out[size_t{j} * t.out_cols + k] = static_cast<uint8_t>(q);
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
                        void* scratch) {
  HWY_DYNAMIC_DISPATCH(AreaDownsampleImpl)(t, in, out, scratch);
}
}  // namespace internal
}  // namespace edgemlp
#endif  // HWY_ONCE
