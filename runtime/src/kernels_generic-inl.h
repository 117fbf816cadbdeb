// Kernels for HWY_SCALAR and the Highway-generic targets (SVE, SVE2, NEON,
// EMU128): u8 activations and i8 weights widened to i16, then exact
// i16 x i16 -> i32 multiply-adds. The scalar reference is forward_ref.cc.
// Included by forward-inl.h inside edgemlp::HWY_NAMESPACE, once per target
// (foreach_target.h), so no include guard.
//
// Each kernel family defines what forward-inl.h's DenseRows calls:
// kRowBlock, DotRows<kRowBlock, mode> and DotRows<1, mode>
// (AVX3_DL: DotRowsTail);
// and, except AVX3_DL (own ForwardBatch), DotRows4x2<mode> (4 rows x 2
// images) for DenseRowsBatch. The families here take InputMode::kAsIs only.

// Plain-loop dot product, for HWY_SCALAR and for a tail shorter than a
// vector (only when vectors are wider than a 64-byte row, e.g. big SVE).
HWY_INLINE int32_t DotTail(const uint8_t* HWY_RESTRICT act,
                           const int8_t* HWY_RESTRICT w, size_t begin,
                           size_t end) {
  int32_t sum = 0;
  for (size_t k = begin; k < end; ++k) {
    sum += static_cast<int32_t>(act[k]) * static_cast<int32_t>(w[k]);
  }
  return sum;
}

#if HWY_TARGET == HWY_SCALAR
// GCC 12 compiles the fallback as HWY_SCALAR, whose widening ops are missing.
template <size_t kRows, InputMode kMode>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  static_assert(kMode == InputMode::kAsIs, "u8 activations as they are");
  for (size_t r = 0; r < kRows; ++r) {
    dots[r] = DotTail(act, w + r * stride, 0, stride);
  }
}
template <InputMode kMode>
HWY_INLINE void DotRows4x2(const uint8_t* HWY_RESTRICT act0, const uint8_t* HWY_RESTRICT act1,
                           const int8_t* HWY_RESTRICT w, size_t stride,
                           int32_t* HWY_RESTRICT dots) {
  static_assert(kMode == InputMode::kAsIs, "u8 activations as they are");
  DotRows<4, kMode>(act0, w, stride, dots);
  DotRows<4, kMode>(act1, w, stride, dots + 4);
}
inline constexpr uint32_t kRowBlock = 4;

#else
// u8 and i8 widen to i16; i16 x i16 -> i32 pairs (pmaddwd, vmlal, SVE2
// mlalb/t) are exact, unlike pmaddubsw, which saturates at 2*255*127.
using D16 = hn::ScalableTag<int16_t>;
using D32 = hn::Repartition<int32_t, D16>;

// The u8 or i8 values at p, widened to one vector of i16 lanes.
template <typename T>
HWY_INLINE hn::Vec<D16> LoadWide(const T* HWY_RESTRICT p) {
  return hn::PromoteTo(D16(), hn::LoadU(hn::Rebind<T, D16>(), p));
}

// One row's widened weights v times two images' x0 and x1, each into its
// own (s, t) accumulator pair.
template <class V16, class V32>
HWY_INLINE void MulAccBoth(V16 x0, V16 x1, V16 v, V32& s0, V32& t0, V32& s1, V32& t1) {
  s0 = hn::ReorderWidenMulAccumulate(D32(), x0, v, s0, t0);
  s1 = hn::ReorderWidenMulAccumulate(D32(), x1, v, s1, t1);
}

// Vectors are sizeless on SVE, so rows are unrolled by hand, not in arrays.
template <size_t kRows, InputMode kMode>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  static_assert(kMode == InputMode::kAsIs, "u8 activations as they are");
  static_assert(kRows == 1 || kRows == 4, "1 or 4 rows");
  const D32 d32;
  const size_t n = hn::Lanes(D16());
  const int8_t* HWY_RESTRICT w0 = w;
  const int8_t* HWY_RESTRICT w1 = w + (kRows > 1 ? stride : 0);
  const int8_t* HWY_RESTRICT w2 = w + (kRows > 1 ? 2 * stride : 0);
  const int8_t* HWY_RESTRICT w3 = w + (kRows > 1 ? 3 * stride : 0);
  auto s0 = hn::Zero(d32), t0 = hn::Zero(d32);
  auto s1 = hn::Zero(d32), t1 = hn::Zero(d32);
  auto s2 = hn::Zero(d32), t2 = hn::Zero(d32);
  auto s3 = hn::Zero(d32), t3 = hn::Zero(d32);
  size_t i = 0;
  for (; i + n <= stride; i += n) {
    const auto a = LoadWide(act + i);
    s0 = hn::ReorderWidenMulAccumulate(d32, a, LoadWide(w0 + i), s0, t0);
    if (kRows > 1) {
      s1 = hn::ReorderWidenMulAccumulate(d32, a, LoadWide(w1 + i), s1, t1);
      s2 = hn::ReorderWidenMulAccumulate(d32, a, LoadWide(w2 + i), s2, t2);
      s3 = hn::ReorderWidenMulAccumulate(d32, a, LoadWide(w3 + i), s3, t3);
    }
  }
  dots[0] = hn::GetLane(hn::SumOfLanes(d32, hn::Add(s0, t0))) +
            DotTail(act, w0, i, stride);
  if (kRows > 1) {
    dots[1] = hn::GetLane(hn::SumOfLanes(d32, hn::Add(s1, t1))) +
              DotTail(act, w1, i, stride);
    dots[2] = hn::GetLane(hn::SumOfLanes(d32, hn::Add(s2, t2))) +
              DotTail(act, w2, i, stride);
    dots[3] = hn::GetLane(hn::SumOfLanes(d32, hn::Add(s3, t3))) +
              DotTail(act, w3, i, stride);
  }
}

// Batched register block: 4 rows x 2 images, dots[4 * n + r] = row r .
// image n. Each widened weight vector feeds both images and each widened
// activation vector all 4 rows: 6 widenings per 8 multiply-adds, where two
// DotRows<4> calls take 10.
template <InputMode kMode>
HWY_INLINE void DotRows4x2(const uint8_t* HWY_RESTRICT act0, const uint8_t* HWY_RESTRICT act1,
                           const int8_t* HWY_RESTRICT w, size_t stride,
                           int32_t* HWY_RESTRICT dots) {
  static_assert(kMode == InputMode::kAsIs, "u8 activations as they are");
  const D32 d32;
  const size_t n = hn::Lanes(D16());
  const int8_t* HWY_RESTRICT w0 = w;
  const int8_t* HWY_RESTRICT w1 = w + stride;
  const int8_t* HWY_RESTRICT w2 = w + 2 * stride;
  const int8_t* HWY_RESTRICT w3 = w + 3 * stride;
  // s<row><image> and its odd-pair partner t<row><image>.
  auto s00 = hn::Zero(d32), t00 = hn::Zero(d32), s01 = hn::Zero(d32), t01 = hn::Zero(d32);
  auto s10 = hn::Zero(d32), t10 = hn::Zero(d32), s11 = hn::Zero(d32), t11 = hn::Zero(d32);
  auto s20 = hn::Zero(d32), t20 = hn::Zero(d32), s21 = hn::Zero(d32), t21 = hn::Zero(d32);
  auto s30 = hn::Zero(d32), t30 = hn::Zero(d32), s31 = hn::Zero(d32), t31 = hn::Zero(d32);
  size_t i = 0;
  for (; i + n <= stride; i += n) {
    const auto x0 = LoadWide(act0 + i);
    const auto x1 = LoadWide(act1 + i);
    MulAccBoth(x0, x1, LoadWide(w0 + i), s00, t00, s01, t01);
    MulAccBoth(x0, x1, LoadWide(w1 + i), s10, t10, s11, t11);
    MulAccBoth(x0, x1, LoadWide(w2 + i), s20, t20, s21, t21);
    MulAccBoth(x0, x1, LoadWide(w3 + i), s30, t30, s31, t31);
  }
  const auto sum = [&](decltype(s00) a, decltype(s00) b) {
    return hn::GetLane(hn::SumOfLanes(d32, hn::Add(a, b)));
  };
  dots[0] = sum(s00, t00) + DotTail(act0, w0, i, stride);
  dots[1] = sum(s10, t10) + DotTail(act0, w1, i, stride);
  dots[2] = sum(s20, t20) + DotTail(act0, w2, i, stride);
  dots[3] = sum(s30, t30) + DotTail(act0, w3, i, stride);
  dots[4] = sum(s01, t01) + DotTail(act1, w0, i, stride);
  dots[5] = sum(s11, t11) + DotTail(act1, w1, i, stride);
  dots[6] = sum(s21, t21) + DotTail(act1, w2, i, stride);
  dots[7] = sum(s31, t31) + DotTail(act1, w3, i, stride);
}
inline constexpr uint32_t kRowBlock = 4;
#endif
