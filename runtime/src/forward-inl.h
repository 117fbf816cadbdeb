// Per-target int8 kernels (Highway). Included once per target by forward.cc
// through foreach_target.h; the scalar reference is forward_ref.cc.
//
// Math: acc = bias + sum_k in[k] * w[k] over u8 activations and i8 weights
// in [-127, 127]. Integer sums are exact in any order, so every target that
// accumulates in int32 matches the reference bit for bit.

#if defined(EDGEMLP_FORWARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEMLP_FORWARD_INL_H_
#undef EDGEMLP_FORWARD_INL_H_
#else
#define EDGEMLP_FORWARD_INL_H_
#endif

#include "hwy/highway.h"
#include "forward_schemes-inl.h"  // int16 and int4 weight layers
#include "kernels.h"

HWY_BEFORE_NAMESPACE();
// Highway 1.0.3's AVX3_DL target string lacks avx512vnni, which the CPU
// check for AVX3_DL requires; enable it for this target's functions.
#if HWY_TARGET == HWY_AVX3_DL
#if HWY_COMPILER_CLANG
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC target("avx512vnni")
#endif
#endif
namespace edgemlp {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

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
template <size_t kRows>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  for (size_t r = 0; r < kRows; ++r) {
    dots[r] = DotTail(act, w + r * stride, 0, stride);
  }
}

#elif HWY_TARGET == HWY_AVX3_DL
// VNNI: vpdpbusd multiplies u8 x s8 in groups of four and adds into s32
// without intermediate saturation; Highway 1.0.3 has no op for it.
// stride is a multiple of 64 (the blob format), so no tail.
template <size_t kRows>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  __m512i acc[kRows];
  for (size_t r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_si512();
  for (size_t i = 0; i < stride; i += 64) {
    const __m512i a = _mm512_loadu_si512(act + i);
    for (size_t r = 0; r < kRows; ++r) {
      acc[r] = _mm512_dpbusd_epi32(acc[r], a,
                                   _mm512_loadu_si512(w + r * stride + i));
    }
  }
  for (size_t r = 0; r < kRows; ++r) dots[r] = _mm512_reduce_add_epi32(acc[r]);
}

#else
// u8 and i8 widen to i16; i16 x i16 -> i32 pairs (pmaddwd, vmlal, SVE2
// mlalb/t) are exact, unlike pmaddubsw, which saturates at 2*255*127.
// Vectors are sizeless on SVE, so rows are unrolled by hand, not in arrays.
template <size_t kRows>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  static_assert(kRows == 1 || kRows == 4, "1 or 4 rows");
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const hn::Rebind<int8_t, decltype(d16)> di8;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const size_t n = hn::Lanes(d16);
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
    const auto a = hn::PromoteTo(d16, hn::LoadU(du8, act + i));
    s0 = hn::ReorderWidenMulAccumulate(
        d32, a, hn::PromoteTo(d16, hn::LoadU(di8, w0 + i)), s0, t0);
    if (kRows > 1) {
      s1 = hn::ReorderWidenMulAccumulate(
          d32, a, hn::PromoteTo(d16, hn::LoadU(di8, w1 + i)), s1, t1);
      s2 = hn::ReorderWidenMulAccumulate(
          d32, a, hn::PromoteTo(d16, hn::LoadU(di8, w2 + i)), s2, t2);
      s3 = hn::ReorderWidenMulAccumulate(
          d32, a, hn::PromoteTo(d16, hn::LoadU(di8, w3 + i)), s3, t3);
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
#endif

// Calls epilogue(row, acc) for every output row, four rows at a time so one
// activation load feeds four weight rows.
template <class Epilogue>
HWY_INLINE void DenseRows(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                          Epilogue epilogue) {
  int32_t dots[4];
  uint32_t j = 0;
  for (; j + 4 <= layer.out_size; j += 4) {
    DotRows<4>(in, layer.weights + static_cast<size_t>(j) * layer.stride,
               layer.stride, dots);
    for (uint32_t r = 0; r < 4; ++r) epilogue(j + r, dots[r]);
  }
  for (; j < layer.out_size; ++j) {
    DotRows<1>(in, layer.weights + static_cast<size_t>(j) * layer.stride,
               layer.stride, dots);
    epilogue(j, dots[0]);
  }
}

// The epilogues are the reference's own functions (blob_format.h).
HWY_INLINE void DenseToU8(const DenseI8& layer, const uint8_t* in,
                          uint8_t* out) {
  if (SchemeDenseToU8(layer, in, out)) return;
  DenseRows(layer, in, [&](uint32_t j, int32_t dot) {
    out[j] = RequantizeToU8(dot + layer.bias[j], layer.requant[2 * j],
                            layer.requant[2 * j + 1]);
  });
}

HWY_INLINE void DenseToI32(const DenseI8& layer, const uint8_t* in,
                           int32_t* out) {
  if (SchemeDenseToI32(layer, in, out)) return;
  DenseRows(layer, in, [&](uint32_t j, int32_t dot) {
    out[j] = RequantizeToI32(dot + layer.bias[j], layer.requant[2 * j],
                             layer.requant[2 * j + 1], layer.relu);
  });
}

void DenseI8ToU8Impl(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  DenseToU8(layer, in, out);
}

void DenseI8ToI32Impl(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  DenseToI32(layer, in, out);
}

void ForwardI8Impl(const DenseI8* layers, size_t count, const uint8_t* pixels,
                   uint8_t* act_a, uint8_t* act_b, int32_t* logits) {
  internal::RunForward(layers, count, pixels, act_a, act_b, logits, DenseToU8,
                       DenseToI32);
}

int64_t CurrentTargetImpl() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace edgemlp
#if HWY_TARGET == HWY_AVX3_DL && HWY_COMPILER_CLANG
#pragma clang attribute pop
#endif
HWY_AFTER_NAMESPACE();

#endif  // EDGEMLP_FORWARD_INL_H_
