// Per-target kernels for the non-int8 weight schemes (int16, packed int4),
// included once per target from forward-inl.h. The scalar reference is
// forward_schemes_ref.cc. Same math as int8: acc = bias + sum in[k] * w[k]
// with u8 activations and exact int32 sums (the blob validator bounds the
// weights), so every target matches the reference bit for bit.

#if defined(EDGEMLP_FORWARD_SCHEMES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEMLP_FORWARD_SCHEMES_INL_H_
#undef EDGEMLP_FORWARD_SCHEMES_INL_H_
#else
#define EDGEMLP_FORWARD_SCHEMES_INL_H_
#endif

#include "hwy/highway.h"
#include "kernels.h"

HWY_BEFORE_NAMESPACE();
namespace edgemlp {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_SCALAR
// GCC 12's fallback target lacks the widening ops: the reference's loops.
HWY_INLINE int32_t SchemeDot(const DenseI8& layer, const uint8_t* in, uint32_t row) {
  return internal::SchemeDotRef(layer, in, row);
}
#else
// int16 weights: u8 activations widen to i16; i16 x i16 -> i32 pairs are
// exact (pmaddwd, vmlal). Rows are a multiple of 32 elements (64 bytes).
HWY_INLINE int32_t DotI16(const uint8_t* HWY_RESTRICT act, const int16_t* HWY_RESTRICT w,
                          size_t stride) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const size_t n = hn::Lanes(d16);
  auto sum = hn::Zero(d32), sum_odd = hn::Zero(d32);
  size_t i = 0;
  for (; i + n <= stride; i += n) {
    const auto a = hn::PromoteTo(d16, hn::LoadU(du8, act + i));
    sum = hn::ReorderWidenMulAccumulate(d32, a, hn::LoadU(d16, w + i), sum, sum_odd);
  }
  int32_t tail = 0;  // only when vectors are wider than a row (big SVE)
  for (; i < stride; ++i) tail += int32_t{act[i]} * int32_t{w[i]};
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(sum, sum_odd))) + tail;
}

// Packed int4: byte k holds element k (low nibble) and k + half (high
// nibble), so one byte load feeds two contiguous activation loads. Bytes
// sign-extend to i16; (b << 12) >> 12 is the low nibble, b >> 4 the high.
HWY_INLINE int32_t DotI4(const uint8_t* HWY_RESTRICT act, const int8_t* HWY_RESTRICT w,
                         size_t stride) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const hn::Rebind<int8_t, decltype(d16)> di8;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const size_t n = hn::Lanes(d16);
  const size_t half = stride / 2;
  auto sum = hn::Zero(d32), sum_odd = hn::Zero(d32);
  size_t i = 0;
  for (; i + n <= half; i += n) {
    const auto packed = hn::PromoteTo(d16, hn::LoadU(di8, w + i));
    const auto lo = hn::ShiftRight<12>(hn::ShiftLeft<12>(packed));
    const auto hi = hn::ShiftRight<4>(packed);
    sum = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, hn::LoadU(du8, act + i)), lo, sum,
                                        sum_odd);
    sum = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, hn::LoadU(du8, act + half + i)), hi,
                                        sum, sum_odd);
  }
  int32_t tail = 0;
  for (; i < half; ++i) {
    tail += int32_t{act[i]} * internal::LowNibble(w[i]) +
            int32_t{act[half + i]} * internal::HighNibble(w[i]);
  }
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(sum, sum_odd))) + tail;
}

HWY_INLINE int32_t SchemeDot(const DenseI8& layer, const uint8_t* in, uint32_t row) {
  const size_t stride = layer.stride;
  if (layer.weight_type == WeightType::kI16) {
    const int16_t* w = reinterpret_cast<const int16_t*>(layer.weights);
    return layer.bias[row] + DotI16(in, w + row * stride, stride);
  }
  return layer.bias[row] + DotI4(in, layer.weights + row * stride / 2, stride);
}
#endif

// The hooks forward-inl.h calls first: false for int8 layers (its own
// kernels), else the layer is computed here with the reference epilogues.
HWY_INLINE bool SchemeDenseToU8(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  if (layer.weight_type == WeightType::kI8) return false;
  for (uint32_t j = 0; j < layer.out_size; ++j) {
    out[j] =
        RequantizeToU8(SchemeDot(layer, in, j), layer.requant[2 * j], layer.requant[2 * j + 1]);
  }
  return true;
}

HWY_INLINE bool SchemeDenseToI32(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  if (layer.weight_type == WeightType::kI8) return false;
  for (uint32_t j = 0; j < layer.out_size; ++j) {
    out[j] = RequantizeToI32(SchemeDot(layer, in, j), layer.requant[2 * j],
                             layer.requant[2 * j + 1], layer.relu);
  }
  return true;
}

}  // namespace HWY_NAMESPACE
}  // namespace edgemlp
HWY_AFTER_NAMESPACE();

#endif  // EDGEMLP_FORWARD_SCHEMES_INL_H_
