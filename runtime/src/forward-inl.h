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
inline constexpr uint32_t kRowBlock = 4;

#elif HWY_TARGET == HWY_AVX3_DL
// VNNI: vpdpbusd multiplies u8 x s8 in groups of four and adds into s32
// without intermediate saturation; Highway 1.0.3 has no op for it.
// stride is a multiple of 64 (the blob format), so no tail.

// acc += u8 a x s8 w in groups of four, as asm: Highway 1.0.3's AVX3_DL
// target string lacks avx512vnni, so the intrinsic would need a second target
// attribute (which clang 14 rejects), and GCC 12 copies every accumulator
// around the intrinsic. The tied operand keeps each accumulator in its
// register. Highway selects AVX3_DL only on CPUs with VNNI.
HWY_INLINE __m512i Dpbusd(__m512i acc, __m512i a, __m512i w) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(w));
  return acc;
}

// Lane i of the result = sum of the lanes of acc[i]: a transpose-and-add
// tree (45 shuffles/adds for 16 sums instead of 16 separate reductions).
HWY_INLINE __m512i SumsOf16(const __m512i* acc) {
  __m512i pairs[8], quads[4], halves[2];
  for (int i = 0; i < 8; ++i) {  // 128-bit lane: a02 b02 a13 b13
    pairs[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2 * i], acc[2 * i + 1]),
                                _mm512_unpackhi_epi32(acc[2 * i], acc[2 * i + 1]));
  }
  for (int i = 0; i < 4; ++i) {  // 128-bit lane: a b c d (partial)
    quads[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(pairs[2 * i], pairs[2 * i + 1]),
                                _mm512_unpackhi_epi64(pairs[2 * i], pairs[2 * i + 1]));
  }
  for (int i = 0; i < 2; ++i) {  // fold 128-bit lanes pairwise
    halves[i] = _mm512_add_epi32(
        _mm512_shuffle_i32x4(quads[2 * i], quads[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
        _mm512_shuffle_i32x4(quads[2 * i], quads[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  return _mm512_add_epi32(
      _mm512_shuffle_i32x4(halves[0], halves[1], _MM_SHUFFLE(2, 0, 2, 0)),
      _mm512_shuffle_i32x4(halves[0], halves[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// Register block: kRows weight rows x kImages activation vectors (image n at
// act + n * act_pitch). Each weight load feeds kImages images and each
// activation load kRows rows. dots[r * kImages + n] = row r . image n.
template <size_t kRows, size_t kImages>
HWY_INLINE void DotBlock(const uint8_t* HWY_RESTRICT act, size_t act_pitch,
                         const int8_t* HWY_RESTRICT w, size_t stride,
                         int32_t* HWY_RESTRICT dots) {
  constexpr size_t kAcc = kRows * kImages;
  __m512i acc[kAcc];
  for (size_t i = 0; i < kAcc; ++i) acc[i] = _mm512_setzero_si512();
  for (size_t k = 0; k < stride; k += 64) {
    __m512i a[kImages];
    for (size_t n = 0; n < kImages; ++n) {
      a[n] = _mm512_loadu_si512(act + n * act_pitch + k);
    }
    for (size_t r = 0; r < kRows; ++r) {
      const __m512i wr = _mm512_loadu_si512(w + r * stride + k);
      for (size_t n = 0; n < kImages; ++n) {
        acc[r * kImages + n] = Dpbusd(acc[r * kImages + n], a[n], wr);
      }
    }
  }
  if constexpr (kAcc == 16) {
    _mm512_storeu_si512(dots, SumsOf16(acc));
  } else {
    for (size_t i = 0; i < kAcc; ++i) dots[i] = _mm512_reduce_add_epi32(acc[i]);
  }
}

template <size_t kRows>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  DotBlock<kRows, 1>(act, 0, w, stride, dots);
}

// The last rows < kRowBlock of a layer: one block whose missing rows stay
// zero, so they too leave through one SumsOf16 (it dominates small layers).
HWY_INLINE void DotRowsTail(const uint8_t* HWY_RESTRICT act,
                            const int8_t* HWY_RESTRICT w, size_t stride,
                            size_t rows, int32_t* HWY_RESTRICT dots) {
  __m512i acc[16];
  for (size_t r = 0; r < 16; ++r) acc[r] = _mm512_setzero_si512();
  for (size_t k = 0; k < stride; k += 64) {
    const __m512i a = _mm512_loadu_si512(act + k);
    for (size_t r = 0; r < 16; ++r) {
      if (r < rows) acc[r] = Dpbusd(acc[r], a, _mm512_loadu_si512(w + r * stride + k));
    }
  }
  _mm512_storeu_si512(dots, SumsOf16(acc));
}

// Batch 1: 16 rows per activation load, so the 16 sums leave in one vector.
inline constexpr uint32_t kRowBlock = 16;
// Batched: 4 rows x 4 images (16 accumulators, 8 loads per 16 vpdpbusd).
inline constexpr size_t kBatchRows = 4;
inline constexpr size_t kBatchImages = 4;
inline constexpr size_t kChunkImages = 16;  // 16 x 832 activation bytes: L1

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
inline constexpr uint32_t kRowBlock = 4;
#endif

#include "dot_arm-inl.h"  // Pi 5: DenseRowsSdot, EDGEMLP_SDOT

// Calls epilogue(row, dot) for every output row, kRowBlock rows at a time so
// one activation load feeds several weight rows.
template <class Epilogue>
HWY_INLINE void DenseRows(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                          Epilogue epilogue) {
#if EDGEMLP_SDOT
  if (layer.signed_input_compensation != nullptr) {
    DenseRowsSdot(layer, in, epilogue);
    return;
  }
#endif
  int32_t dots[kRowBlock];
  const size_t stride = layer.stride;
  uint32_t j = 0;
  for (; j + kRowBlock <= layer.out_size; j += kRowBlock) {
    DotRows<kRowBlock>(in, layer.weights + j * stride, stride, dots);
    for (uint32_t r = 0; r < kRowBlock; ++r) epilogue(j + r, dots[r]);
  }
#if HWY_TARGET == HWY_AVX3_DL
  if (j < layer.out_size) {
    DotRowsTail(in, layer.weights + j * stride, stride, layer.out_size - j, dots);
    for (uint32_t r = 0; j + r < layer.out_size; ++r) epilogue(j + r, dots[r]);
  }
#else
  for (; j < layer.out_size; ++j) {
    DotRows<1>(in, layer.weights + j * stride, stride, dots);
    epilogue(j, dots[0]);
  }
#endif
}

// Batched: calls epilogue(image, row, dot) for `images` activation vectors
// at in + image * pitch. With a register-blocked kernel (AVX3_DL) each weight
// load serves kBatchImages images (the last images take the batch-1
// kernel); otherwise each 4-row weight block is reused from L1 for every
// image.
template <class Epilogue>
HWY_INLINE void DenseRowsBatch(const DenseI8& layer,
                               const uint8_t* HWY_RESTRICT in, size_t pitch,
                               size_t images, Epilogue epilogue) {
  const size_t stride = layer.stride;
  const uint32_t out_size = layer.out_size;
  size_t n = 0;
#if HWY_TARGET == HWY_AVX3_DL
  // Chunks of kChunkImages images (their activations stay in L1); within a
  // chunk each kBatchRows weight block is loaded from L2 once and reused
  // from L1 by every group of kBatchImages images.
  int32_t dots[kBatchRows * kBatchImages];
  const size_t full = images - images % kBatchImages;
  for (size_t chunk = 0; chunk < full; chunk += kChunkImages) {
    const size_t chunk_end = chunk + kChunkImages < full ? chunk + kChunkImages : full;
    uint32_t j = 0;
    for (; j + kBatchRows <= out_size; j += kBatchRows) {
      for (size_t g = chunk; g < chunk_end; g += kBatchImages) {
        DotBlock<kBatchRows, kBatchImages>(in + g * pitch, pitch,
                                           layer.weights + j * stride, stride, dots);
        for (size_t r = 0; r < kBatchRows; ++r) {
          for (size_t i = 0; i < kBatchImages; ++i) {
            epilogue(g + i, j + r, dots[r * kBatchImages + i]);
          }
        }
      }
    }
    for (; j < out_size; ++j) {
      for (size_t g = chunk; g < chunk_end; g += kBatchImages) {
        DotBlock<1, kBatchImages>(in + g * pitch, pitch, layer.weights + j * stride,
                                  stride, dots);
        for (size_t i = 0; i < kBatchImages; ++i) epilogue(g + i, j, dots[i]);
      }
    }
  }
  n = full;
  for (; n < images; ++n) {  // the last few images: the batch-1 kernel
    DenseRows(layer, in + n * pitch,
              [&](uint32_t j, int32_t dot) { epilogue(n, j, dot); });
  }
#endif
  if (n == images) return;
  int32_t dots4[4];
  uint32_t j = 0;
  for (; j + 4 <= out_size; j += 4) {
    for (size_t m = n; m < images; ++m) {
      DotRows<4>(in + m * pitch, layer.weights + j * stride, stride, dots4);
      for (uint32_t r = 0; r < 4; ++r) epilogue(m, j + r, dots4[r]);
    }
  }
  for (; j < out_size; ++j) {
    for (size_t m = n; m < images; ++m) {
      DotRows<1>(in + m * pitch, layer.weights + j * stride, stride, dots4);
      epilogue(m, j, dots4[0]);
    }
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

// int16/int4 layers have batch-1 kernels only: run them image by image.
HWY_INLINE void DenseToU8Batch(const DenseI8& layer, const uint8_t* in,
                               size_t pitch, size_t images, uint8_t* out) {
  if (layer.weight_type != WeightType::kI8) {
    for (size_t n = 0; n < images; ++n) DenseToU8(layer, in + n * pitch, out + n * pitch);
    return;
  }
  DenseRowsBatch(layer, in, pitch, images, [&](size_t n, uint32_t j, int32_t dot) {
    out[n * pitch + j] = RequantizeToU8(dot + layer.bias[j], layer.requant[2 * j],
                                        layer.requant[2 * j + 1]);
  });
}

HWY_INLINE void DenseToI32Batch(const DenseI8& layer, const uint8_t* in,
                                size_t pitch, size_t images, int32_t* out) {
  if (layer.weight_type != WeightType::kI8) {
    for (size_t n = 0; n < images; ++n) {
      DenseToI32(layer, in + n * pitch, out + n * layer.out_size);
    }
    return;
  }
  DenseRowsBatch(layer, in, pitch, images, [&](size_t n, uint32_t j, int32_t dot) {
    out[n * layer.out_size + j] =
        RequantizeToI32(dot + layer.bias[j], layer.requant[2 * j],
                        layer.requant[2 * j + 1], layer.relu);
  });
}

void DenseI8ToU8Impl(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  DenseToU8(layer, in, out);
}

void DenseI8ToI32Impl(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  DenseToI32(layer, in, out);
}

void DenseI8ToU8BatchImpl(const DenseI8& layer, const uint8_t* in, size_t pitch,
                          size_t images, uint8_t* out) {
  DenseToU8Batch(layer, in, pitch, images, out);
}

void DenseI8ToI32BatchImpl(const DenseI8& layer, const uint8_t* in,
                           size_t pitch, size_t images, int32_t* out) {
  DenseToI32Batch(layer, in, pitch, images, out);
}

void ForwardI8Impl(const DenseI8* layers, size_t count, const uint8_t* pixels,
                   uint8_t* act_a, uint8_t* act_b, int32_t* logits) {
  internal::RunForward(layers, count, pixels, act_a, act_b, logits, DenseToU8,
                       DenseToI32);
}

void ForwardI8BatchImpl(const DenseI8* layers, size_t count,
                        const uint8_t* pixels, size_t images, uint8_t* act_a,
                        uint8_t* act_b, size_t pitch, int32_t* logits) {
  internal::RunForwardBatch(layers, count, pixels, images, act_a, act_b, pitch,
                            logits, DenseToU8Batch, DenseToI32Batch);
}

int64_t CurrentTargetImpl() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace edgemlp
HWY_AFTER_NAMESPACE();

#endif  // EDGEMLP_FORWARD_INL_H_
