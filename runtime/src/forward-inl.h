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

// Batch 1, layers with stride <= 16 x 64 bytes: the activation vector stays
// in kChunks registers and each 16-row block is read 4 rows at a time, so
// only 4 weight streams are open (16, as in DotRows, halve the L2 read rate
// the prefetchers sustain). The block's 16 sums leave in one vector, and the
// epilogue requantizes all 16 rows at once.
inline constexpr size_t kMaxActChunks = 16;

template <size_t kChunks, bool kFullBlock>
HWY_INLINE __m512i DotBlock16(const __m512i* HWY_RESTRICT a,
                              const int8_t* HWY_RESTRICT w, size_t stride,
                              size_t rows) {
  __m512i acc[16];
  for (size_t r = 0; r < 16; ++r) acc[r] = _mm512_setzero_si512();
  for (size_t g = 0; g < 16; g += 4) {
    for (size_t c = 0; c < kChunks; ++c) {
      for (size_t r = g; r < g + 4; ++r) {
        if (kFullBlock || r < rows) {
          acc[r] = Dpbusd(acc[r], a[c], _mm512_loadu_si512(w + r * stride + 64 * c));
        }
      }
    }
  }
  return SumsOf16(acc);
}

// epilogue(first_row, sums, rows): rows (<= 16) dot products in sums' lanes.
template <size_t kChunks, class Epilogue16>
HWY_INLINE void DenseRowsActInRegs(const DenseI8& layer,
                                   const uint8_t* HWY_RESTRICT in,
                                   Epilogue16 epilogue) {
  __m512i a[kChunks];
  for (size_t c = 0; c < kChunks; ++c) a[c] = _mm512_loadu_si512(in + 64 * c);
  const size_t stride = layer.stride;
  uint32_t j = 0;
  for (; j + 16 <= layer.out_size; j += 16) {
    epilogue(j, DotBlock16<kChunks, true>(a, layer.weights + j * stride, stride, 16), 16u);
  }
  if (j < layer.out_size) {
    const uint32_t rows = layer.out_size - j;
    epilogue(j, DotBlock16<kChunks, false>(a, layer.weights + j * stride, stride, rows),
             rows);
  }
}

// Instantiates DenseRowsActInRegs for the layer's chunk count; false if the
// layer is too wide for it.
template <class Epilogue16>
HWY_INLINE bool DenseRows16(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                            Epilogue16 epilogue) {
  switch (layer.stride / 64) {
#define EDGEMLP_CHUNKS(N) \
  case N:                 \
    DenseRowsActInRegs<N>(layer, in, epilogue); \
    return true;
    EDGEMLP_CHUNKS(1) EDGEMLP_CHUNKS(2) EDGEMLP_CHUNKS(3) EDGEMLP_CHUNKS(4)
    EDGEMLP_CHUNKS(5) EDGEMLP_CHUNKS(6) EDGEMLP_CHUNKS(7) EDGEMLP_CHUNKS(8)
    EDGEMLP_CHUNKS(9) EDGEMLP_CHUNKS(10) EDGEMLP_CHUNKS(11) EDGEMLP_CHUNKS(12)
    EDGEMLP_CHUNKS(13) EDGEMLP_CHUNKS(14) EDGEMLP_CHUNKS(15) EDGEMLP_CHUNKS(16)
#undef EDGEMLP_CHUNKS
    default:
      return false;
  }
}

// Requantize (blob_format.h) for 8 rows in int64 lanes: acc64 holds the
// sign-extended sums, pairs the rows' {multiplier, shift} (one per 64 bits).
// vpmuldq multiplies the low 32 bits of each lane: acc x multiplier, exact.
HWY_INLINE __m512i Requantize8(__m512i acc64, __m512i pairs) {
  const __m512i shift = _mm512_srli_epi64(pairs, 32);
  const __m512i half = _mm512_sllv_epi64(_mm512_set1_epi64(1),
                                         _mm512_sub_epi64(shift, _mm512_set1_epi64(1)));
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(acc64, pairs), half), shift);
}

// The rows' bias and {multiplier, shift} pairs, for the first `rows` of 16.
struct Epilogue16Params {
  __m512i acc;                // dot + bias, 16 x int32
  __m512i pairs_lo, pairs_hi;  // rows 0-7 and 8-15
};
HWY_INLINE Epilogue16Params LoadEpilogue16(const DenseI8& layer, uint32_t j,
                                           __m512i sums, uint32_t rows) {
  const __mmask16 m16 = static_cast<__mmask16>((1u << rows) - 1);
  const __mmask8 m_lo = static_cast<__mmask8>(m16 & 0xFF);
  const __mmask8 m_hi = static_cast<__mmask8>(m16 >> 8);
  Epilogue16Params p;
  p.acc = _mm512_add_epi32(sums, _mm512_maskz_loadu_epi32(m16, layer.bias + j));
  p.pairs_lo = _mm512_maskz_loadu_epi64(m_lo, layer.requant + 2 * j);
  p.pairs_hi = _mm512_maskz_loadu_epi64(m_hi, layer.requant + 2 * j + 16);
  return p;
}

// RequantizeToU8 for 16 rows.
HWY_INLINE void StoreU8x16(const DenseI8& layer, uint32_t j, __m512i sums,
                           uint32_t rows, uint8_t* HWY_RESTRICT out) {
  const Epilogue16Params p = LoadEpilogue16(layer, j, sums, rows);
  const __m512i zero = _mm512_setzero_si512(), max_u8 = _mm512_set1_epi64(255);
  const __m512i q_lo = Requantize8(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(p.acc)), p.pairs_lo);
  const __m512i q_hi = Requantize8(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p.acc, 1)), p.pairs_hi);
  const __m128i lo = _mm512_cvtepi64_epi8(_mm512_min_epi64(_mm512_max_epi64(q_lo, zero), max_u8));
  const __m128i hi = _mm512_cvtepi64_epi8(_mm512_min_epi64(_mm512_max_epi64(q_hi, zero), max_u8));
  _mm_mask_storeu_epi8(out + j, static_cast<__mmask16>((1u << rows) - 1),
                       _mm_unpacklo_epi64(lo, hi));
}

// RequantizeToI32 for 16 rows: optional ReLU, saturation to int32.
HWY_INLINE void StoreI32x16(const DenseI8& layer, uint32_t j, __m512i sums,
                            uint32_t rows, int32_t* HWY_RESTRICT out) {
  const Epilogue16Params p = LoadEpilogue16(layer, j, sums, rows);
  __m512i q_lo = Requantize8(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(p.acc)), p.pairs_lo);
  __m512i q_hi = Requantize8(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(p.acc, 1)), p.pairs_hi);
  if (layer.relu) {
    q_lo = _mm512_max_epi64(q_lo, _mm512_setzero_si512());
    q_hi = _mm512_max_epi64(q_hi, _mm512_setzero_si512());
  }
  const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(q_lo)),
                                       _mm512_cvtsepi64_epi32(q_hi), 1);
  _mm512_mask_storeu_epi32(out + j, static_cast<__mmask16>((1u << rows) - 1), q);
}

// Batch 1 for layers wider than kMaxActChunks chunks: 16 rows per activation
// load, so the 16 sums leave in one vector.
inline constexpr uint32_t kRowBlock = 16;
// Batched: register blocks of 4 rows x 4 images (16 accumulators, 8 loads
// per 16 vpdpbusd); four of them make 16 rows x 4 images, transposed so that
// each image's 16 sums leave in one vector for the 16-row epilogue.
inline constexpr size_t kBatchImages = 4;
inline constexpr size_t kChunkImages = 16;  // 16 x 832 activation bytes: L1

// Lane 4 * n + r = row r . image n (image-major, unlike DotBlock), for the
// first `rows` (<= 4) rows; the others stay 0 and are never read.
template <bool kFullBlock>
HWY_INLINE __m512i DotBlock4x4(const uint8_t* HWY_RESTRICT act, size_t pitch,
                               const int8_t* HWY_RESTRICT w, size_t stride,
                               size_t rows) {
  __m512i acc[16];
  for (size_t i = 0; i < 16; ++i) acc[i] = _mm512_setzero_si512();
  for (size_t k = 0; k < stride; k += 64) {
    __m512i a[4];
    for (size_t n = 0; n < 4; ++n) a[n] = _mm512_loadu_si512(act + n * pitch + k);
    for (size_t r = 0; r < 4; ++r) {
      if (!kFullBlock && r >= rows) break;
      const __m512i wr = _mm512_loadu_si512(w + r * stride + k);
      for (size_t n = 0; n < 4; ++n) acc[4 * n + r] = Dpbusd(acc[4 * n + r], a[n], wr);
    }
  }
  return SumsOf16(acc);
}

// Rows j..j+rows-1 (rows <= 16) of 4 images: sums[n] lane r = row j + r .
// image n. v[b] holds rows 4b..4b+3 with image n in 128-bit lane n; a 4x4
// transpose of 128-bit lanes gathers each image's rows.
template <bool kFullBlock>
HWY_INLINE void DotBlock16x4(const uint8_t* HWY_RESTRICT act, size_t pitch,
                             const int8_t* HWY_RESTRICT w, size_t stride,
                             size_t rows, __m512i* HWY_RESTRICT sums) {
  __m512i v[4];
  for (size_t b = 0; b < 4; ++b) {
    if (kFullBlock) {
      v[b] = DotBlock4x4<true>(act, pitch, w + 4 * b * stride, stride, 4);
    } else {
      v[b] = 4 * b < rows ? DotBlock4x4<false>(act, pitch, w + 4 * b * stride, stride,
                                               rows - 4 * b)
                          : _mm512_setzero_si512();
    }
  }
  const __m512i t0 = _mm512_shuffle_i32x4(v[0], v[1], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i t1 = _mm512_shuffle_i32x4(v[0], v[1], _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i t2 = _mm512_shuffle_i32x4(v[2], v[3], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i t3 = _mm512_shuffle_i32x4(v[2], v[3], _MM_SHUFFLE(3, 2, 3, 2));
  sums[0] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(2, 0, 2, 0));
  sums[1] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(3, 1, 3, 1));
  sums[2] = _mm512_shuffle_i32x4(t1, t3, _MM_SHUFFLE(2, 0, 2, 0));
  sums[3] = _mm512_shuffle_i32x4(t1, t3, _MM_SHUFFLE(3, 1, 3, 1));
}

// epilogue(image, first_row, sums, rows) for `images` (a multiple of
// kBatchImages) activation vectors at in + image * pitch. Chunks of
// kChunkImages images keep their activations in L1; within a chunk each
// 16-row weight block is read from L2 once and reused from L1.
template <class Epilogue16>
HWY_INLINE void DenseRowsBatch16(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                                 size_t pitch, size_t images, Epilogue16 epilogue) {
  const size_t stride = layer.stride;
  __m512i sums[kBatchImages];
  for (size_t chunk = 0; chunk < images; chunk += kChunkImages) {
    const size_t chunk_end = chunk + kChunkImages < images ? chunk + kChunkImages : images;
    for (uint32_t j = 0; j < layer.out_size; j += 16) {
      const uint32_t rows = layer.out_size - j < 16 ? layer.out_size - j : 16;
      const int8_t* w = layer.weights + j * stride;
      for (size_t g = chunk; g < chunk_end; g += kBatchImages) {
        if (rows == 16) {
          DotBlock16x4<true>(in + g * pitch, pitch, w, stride, 16, sums);
        } else {
          DotBlock16x4<false>(in + g * pitch, pitch, w, stride, rows, sums);
        }
        for (size_t n = 0; n < kBatchImages; ++n) epilogue(g + n, j, sums[n], rows);
      }
    }
  }
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

// Batched, without a register-blocked kernel: calls epilogue(image, row,
// dot) for `images` activation vectors at in + image * pitch; each 4-row
// weight block is reused from L1 for every image.
template <class Epilogue>
HWY_INLINE void DenseRowsBatch(const DenseI8& layer,
                               const uint8_t* HWY_RESTRICT in, size_t pitch,
                               size_t images, Epilogue epilogue) {
  const size_t stride = layer.stride;
  const uint32_t out_size = layer.out_size;
  const size_t n = 0;
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
#if HWY_TARGET == HWY_AVX3_DL
  if (DenseRows16(layer, in, [&](uint32_t j, __m512i sums, uint32_t rows) {
        StoreU8x16(layer, j, sums, rows, out);
      })) {
    return;
  }
#endif
  DenseRows(layer, in, [&](uint32_t j, int32_t dot) {
    out[j] = RequantizeToU8(dot + layer.bias[j], layer.requant[2 * j],
                            layer.requant[2 * j + 1]);
  });
}

HWY_INLINE void DenseToI32(const DenseI8& layer, const uint8_t* in,
                           int32_t* out) {
  if (SchemeDenseToI32(layer, in, out)) return;
#if HWY_TARGET == HWY_AVX3_DL
  if (DenseRows16(layer, in, [&](uint32_t j, __m512i sums, uint32_t rows) {
        StoreI32x16(layer, j, sums, rows, out);
      })) {
    return;
  }
#endif
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
#if HWY_TARGET == HWY_AVX3_DL
  const size_t blocked = images - images % kBatchImages;
  for (size_t n = blocked; n < images; ++n) DenseToU8(layer, in + n * pitch, out + n * pitch);
  DenseRowsBatch16(layer, in, pitch, blocked,
                   [&](size_t n, uint32_t j, __m512i sums, uint32_t rows) {
                     StoreU8x16(layer, j, sums, rows, out + n * pitch);
                   });
  return;
#endif
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
#if HWY_TARGET == HWY_AVX3_DL
  const size_t blocked = images - images % kBatchImages;
  for (size_t n = blocked; n < images; ++n) {
    DenseToI32(layer, in + n * pitch, out + n * layer.out_size);
  }
  DenseRowsBatch16(layer, in, pitch, blocked,
                   [&](size_t n, uint32_t j, __m512i sums, uint32_t rows) {
                     StoreI32x16(layer, j, sums, rows, out + n * layer.out_size);
                   });
  return;
#endif
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
