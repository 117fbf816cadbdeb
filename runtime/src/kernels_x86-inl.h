// Kernels for the x86 targets without VNNI: SSSE3, SSE4, AVX2 and AVX3
// (AVX-512BW). The scalar reference is forward_ref.cc.
// Included by forward-inl.h inside edgemlp::HWY_NAMESPACE, once per target
// (foreach_target.h), so no include guard.
//
// pmaddubsw multiplies u8 x s8 bytes and adds pairs into int16, then
// pmaddwd(pairs, 1) widens them to int32. All three modes are exact, with
// no change of the integer math:
// - direct, for layers whose weights are within +-64 (DenseI8::
//   max_abs_weight; `edgemlp export --int8-limit 64`): each pair
//   |sum| <= 2 * 255 * 64 = 32640 fits int16, so activations go in as
//   they are. Two instructions per vector of weights.
// - paired, for layers whose weights are within +-32 (kPairedWeightLimit;
//   what `edgemlp export` writes by default): as direct, but the pmaddubsw
//   results of two weight vectors are added in int16 (each pair |sum| <=
//   2 * 255 * 32 = 16320, two of them <= 32640) before one pmaddwd widens
//   them: three multiplier instructions per two vectors instead of four.
// - signed, for any other int8 layer: feed each activation as a' = a - 128
//   (s8), multiply |a'| (u8, <= 128) by w with the sign of a' (psignb;
//   AVX-512 has none, so a masked negation), each pair |sum| <= 2 * 128 *
//   127 = 32512. DotRows returns sum a' * w; the driver adds the row's
//   128 * sum(w) back (signed_input_compensation), which includes the row
//   padding, where a = 0 gives a' = -128. Needs w != -128 (the loader
//   refuses it): psignb cannot negate it. One more instruction per vector
//   of weights, on the same ports as the multiplies.

#define EDGEMLP_INPUT_MODES 1
inline constexpr int32_t kDirectWeightLimit = 64;  // 2 * 255 * 64 < 2^15
static_assert(4 * 255 * kPairedWeightLimit < 32768, "paired sums fit int16");

// AVX-VNNI (Intel cores since Alder Lake, also without AVX-512): on the
// AVX2 target, vpdpbusd ymm multiplies u8 x s8 and adds each four into
// int32 without saturating, so any int8 layer runs as it is, one
// instruction per weight vector. Highway 1.0.3 has no target for it: the
// instruction is asm (below) and runs where the CPU reports it
// (internal::UseX86AvxVnni, asked once per layer).
template <class Body>
HWY_INLINE void WithInputMode(const DenseI8& layer, Body body) {
#if HWY_TARGET == HWY_AVX2
  if (internal::UseX86AvxVnni()) return body(Mode<InputMode::kAvxVnni>());
#endif
  if (layer.max_abs_weight > kDirectWeightLimit) return body(Mode<InputMode::kSigned>());
  if (layer.max_abs_weight > kPairedWeightLimit) return body(Mode<InputMode::kAsIs>());
  body(Mode<InputMode::kPaired>());
}

using DU8 = hn::ScalableTag<uint8_t>;
using DI8 = hn::RebindToSigned<DU8>;
using DI16 = hn::Repartition<int16_t, DU8>;
using DI32 = hn::Repartition<int32_t, DU8>;
using VU8 = hn::Vec<DU8>;
using VI8 = hn::Vec<DI8>;
using VI32 = hn::Vec<DI32>;

// What Highway 1.0.3 does not wrap: pmaddubsw, and giving weights the sign
// of the activations (psignb, or a masked negation on AVX-512).
#if HWY_TARGET == HWY_AVX3
using SignOfAct = __mmask64;
HWY_INLINE SignOfAct NegativeLanes(VI8 a) { return _mm512_movepi8_mask(a.raw); }
HWY_INLINE VI8 WithSign(VI8 w, SignOfAct negative) {
  return VI8{_mm512_mask_sub_epi8(w.raw, negative, _mm512_setzero_si512(), w.raw)};
}
HWY_INLINE hn::Vec<DI16> Maddubs(VU8 a, VI8 w) { return {_mm512_maddubs_epi16(a.raw, w.raw)}; }
#elif HWY_TARGET == HWY_AVX2
using SignOfAct = VI8;
HWY_INLINE SignOfAct NegativeLanes(VI8 a) { return a; }
HWY_INLINE VI8 WithSign(VI8 w, SignOfAct a) { return VI8{_mm256_sign_epi8(w.raw, a.raw)}; }
HWY_INLINE hn::Vec<DI16> Maddubs(VU8 a, VI8 w) { return {_mm256_maddubs_epi16(a.raw, w.raw)}; }
#else  // SSSE3, SSE4
using SignOfAct = VI8;
HWY_INLINE SignOfAct NegativeLanes(VI8 a) { return a; }
HWY_INLINE VI8 WithSign(VI8 w, SignOfAct a) { return VI8{_mm_sign_epi8(w.raw, a.raw)}; }
HWY_INLINE hn::Vec<DI16> Maddubs(VU8 a, VI8 w) { return {_mm_maddubs_epi16(a.raw, w.raw)}; }
#endif

// An activation vector as the kernels multiply it: as it is, or (signed)
// as |a - 128| and the sign of a - 128.
struct Act {
  VU8 magnitude;
  SignOfAct sign;
};
template <InputMode kMode>
HWY_INLINE Act PrepareAct(const uint8_t* HWY_RESTRICT p) {
  const VU8 a = hn::LoadU(DU8(), p);
  if constexpr (kMode != InputMode::kSigned) return {a, SignOfAct()};
  const VI8 centred = hn::BitCast(DI8(), hn::Xor(a, hn::Set(DU8(), 0x80)));
  return {hn::BitCast(DU8(), hn::Abs(centred)), NegativeLanes(centred)};
}

// acc += x as one instruction on acc's own register. Written as an add,
// GCC 12 sums 8 rows' accumulators into fresh registers and copies each
// back (8 vmovdqa per step) and spills one to the stack.
HWY_INLINE void AddInPlace(VI32& acc, VI32 x) {
#if HWY_TARGET == HWY_AVX3
  asm("vpaddd %1, %0, %0" : "+v"(acc.raw) : "v"(x.raw));
#elif HWY_TARGET == HWY_AVX2
  asm("vpaddd %1, %0, %0" : "+x"(acc.raw) : "x"(x.raw));
#else
  asm("paddd %1, %0" : "+x"(acc.raw) : "x"(x.raw));
#endif
}

// acc + the int32 sums of four products a * w per lane.
template <InputMode kMode>
HWY_INLINE VI32 MulAddQuads(const Act& a, VI8 w, VI32 acc) {
#if HWY_TARGET == HWY_AVX2
  if constexpr (kMode == InputMode::kAvxVnni) {
    // {vex}: the AVX-VNNI encoding, not AVX512_VNNI's EVEX one. asm rather
    // than the intrinsic, which needs a second target attribute (as on
    // AVX3_DL, kernels_vnni-inl.h).
    asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc.raw) : "x"(a.magnitude.raw), "xm"(w.raw));
    return acc;
  }
#endif
  if constexpr (kMode == InputMode::kSigned) w = WithSign(w, a.sign);
  VI32 unused;
  const VI32 quads = hn::ReorderWidenMulAccumulate(DI32(), Maddubs(a.magnitude, w),
                                                   hn::Set(DI16(), 1), hn::Zero(DI32()), unused);
  AddInPlace(acc, quads);
  return acc;
}

// acc + the int32 sums of eight products a * w per lane, four from each
// of two vectors (kPaired: |w| <= 32, so the int16 sum cannot wrap).
HWY_INLINE VI32 MulAddOctets(VU8 a0, VU8 a1, VI8 w0, VI8 w1, VI32 acc) {
  const hn::Vec<DI16> pairs = hn::Add(Maddubs(a0, w0), Maddubs(a1, w1));
  VI32 unused;
  AddInPlace(acc, hn::ReorderWidenMulAccumulate(DI32(), pairs, hn::Set(DI16(), 1),
                                                hn::Zero(DI32()), unused));
  return acc;
}

// The sums of acc[0..3], one per lane: a tree of horizontal adds instead
// of four separate reductions.
HWY_INLINE __m128i Sum4(const VI32* acc) {
#if HWY_TARGET == HWY_AVX3
  __m256i half[4];
  for (int r = 0; r < 4; ++r) {
    half[r] = _mm256_add_epi32(_mm512_castsi512_si256(acc[r].raw),
                               _mm512_extracti64x4_epi64(acc[r].raw, 1));
  }
#elif HWY_TARGET == HWY_AVX2
  const __m256i half[4] = {acc[0].raw, acc[1].raw, acc[2].raw, acc[3].raw};
#endif
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
  const __m256i t =
      _mm256_hadd_epi32(_mm256_hadd_epi32(half[0], half[1]), _mm256_hadd_epi32(half[2], half[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
#else
  return _mm_hadd_epi32(_mm_hadd_epi32(acc[0].raw, acc[1].raw),
                        _mm_hadd_epi32(acc[2].raw, acc[3].raw));
#endif
}

HWY_INLINE void StoreDots(const VI32* acc, size_t rows, int32_t* HWY_RESTRICT dots) {
  if (rows % 4 == 0) {
    for (size_t r = 0; r < rows; r += 4) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dots + r), Sum4(acc + r));
    }
  } else {
    for (size_t r = 0; r < rows; ++r) dots[r] = hn::GetLane(hn::SumOfLanes(DI32(), acc[r]));
  }
}

// Blob strides are multiples of 64 bytes, a whole number of vectors.
inline constexpr size_t kVectorBytes = hn::MaxLanes(DU8());
static_assert(kBlobAlign % kVectorBytes == 0, "rows are whole vectors");

// acc[r]'s lanes sum to sum_k a[k] * w[r * stride + k] for kRows rows
// (kSigned: a - 128): one activation load (and sign split) per vector feeds
// every row.
template <size_t kRows, InputMode kMode>
HWY_INLINE void DotRowsAcc(const uint8_t* HWY_RESTRICT act, const int8_t* HWY_RESTRICT w,
                           size_t stride, VI32* HWY_RESTRICT acc) {
  for (size_t r = 0; r < kRows; ++r) acc[r] = hn::Zero(DI32());
  size_t k = 0;
  if constexpr (kMode == InputMode::kPaired) {
    for (; k + 2 * kVectorBytes <= stride; k += 2 * kVectorBytes) {
      const VU8 a0 = hn::LoadU(DU8(), act + k), a1 = hn::LoadU(DU8(), act + k + kVectorBytes);
      for (size_t r = 0; r < kRows; ++r) {
        const int8_t* wr = w + r * stride + k;
        // Batch 1 (8-row blocks, kRowBlock) streams the weights from L2:
        // fetch the same bytes of the next 8 rows into L1 while this block
        // runs (AVX2, M's 784 x 256 layer: 2.0-2.1 -> 1.9 us; one block ahead
        // beat two and three; in the one-vector loop below, a prefetch per
        // 32 bytes made AVX2 and AVX2+vnni slower).
        if constexpr (kRows == 8) {
          _mm_prefetch(reinterpret_cast<const char*>(wr + kRows * stride), _MM_HINT_T0);
        }
        acc[r] = MulAddOctets(a0, a1, hn::LoadU(DI8(), wr), hn::LoadU(DI8(), wr + kVectorBytes),
                              acc[r]);
      }
    }
  }
  for (; k < stride; k += kVectorBytes) {  // (kPaired: AVX3's odd last vector)
    const Act a = PrepareAct<kMode>(act + k);
    for (size_t r = 0; r < kRows; ++r) {
      acc[r] = MulAddQuads<kMode>(a, hn::LoadU(DI8(), w + r * stride + k), acc[r]);
    }
  }
}

// dots[r] = the dot product of row r (as DotRowsAcc).
template <size_t kRows, InputMode kMode>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act, const int8_t* HWY_RESTRICT w,
                        size_t stride, int32_t* HWY_RESTRICT dots) {
  VI32 acc[kRows];
  DotRowsAcc<kRows, kMode>(act, w, stride, acc);
  StoreDots(acc, kRows, dots);
}

// Batched register block: 4 rows x 2 images, accumulators acc0 (image 0)
// and acc1 (as DotRowsAcc). Each weight load feeds both images, each
// activation all 4 rows.
template <InputMode kMode>
HWY_INLINE void DotRows4x2Acc(const uint8_t* HWY_RESTRICT act0, const uint8_t* HWY_RESTRICT act1,
                              const int8_t* HWY_RESTRICT w, size_t stride, VI32* HWY_RESTRICT acc0,
                              VI32* HWY_RESTRICT acc1) {
  for (size_t r = 0; r < 4; ++r) acc0[r] = acc1[r] = hn::Zero(DI32());
  size_t k = 0;
  if constexpr (kMode == InputMode::kPaired) {
    constexpr size_t V = kVectorBytes;
    for (; k + 2 * V <= stride; k += 2 * V) {
      const VU8 a00 = hn::LoadU(DU8(), act0 + k), a01 = hn::LoadU(DU8(), act0 + k + V);
      const VU8 a10 = hn::LoadU(DU8(), act1 + k), a11 = hn::LoadU(DU8(), act1 + k + V);
      for (size_t r = 0; r < 4; ++r) {
        const VI8 w0 = hn::LoadU(DI8(), w + r * stride + k);
        const VI8 w1 = hn::LoadU(DI8(), w + r * stride + k + V);
        acc0[r] = MulAddOctets(a00, a01, w0, w1, acc0[r]);
        acc1[r] = MulAddOctets(a10, a11, w0, w1, acc1[r]);
      }
    }
  }
  for (; k < stride; k += kVectorBytes) {
    const Act a0 = PrepareAct<kMode>(act0 + k);
    const Act a1 = PrepareAct<kMode>(act1 + k);
    for (size_t r = 0; r < 4; ++r) {
      const VI8 wr = hn::LoadU(DI8(), w + r * stride + k);
      acc0[r] = MulAddQuads<kMode>(a0, wr, acc0[r]);
      acc1[r] = MulAddQuads<kMode>(a1, wr, acc1[r]);
    }
  }
}

// dots[4 * n + r] = row r . image n.
template <InputMode kMode>
HWY_INLINE void DotRows4x2(const uint8_t* HWY_RESTRICT act0, const uint8_t* HWY_RESTRICT act1,
                           const int8_t* HWY_RESTRICT w, size_t stride,
                           int32_t* HWY_RESTRICT dots) {
  VI32 acc0[4], acc1[4];
  DotRows4x2Acc<kMode>(act0, act1, w, stride, acc0, acc1);
  StoreDots(acc0, 4, dots);
  StoreDots(acc1, 4, dots + 4);
}
// Rows per activation load at batch 1. 8 on AVX2/SSE4: more weight rows in
// flight from L2 (the Xeon VM, M's 784 x 256 layer: AVX2 3.3 -> 3.0 us,
// SSE4 4.8 -> 4.7 us); AVX3's 64-byte rows did not gain, it keeps 4.
inline constexpr uint32_t kRowBlock = HWY_TARGET == HWY_AVX3 ? 4 : 8;

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3
// Hidden layers requantize four rows at a time in vectors. One by one,
// RequantizeToU8's int64 arithmetic took a fifth of AVX2's batched time
// (the Xeon VM, M: 365-372 k -> 420-426 k images/s this way). SSE4 has
// no per-lane 64-bit shift and keeps the scalar epilogue.
#define EDGEMLP_X86_U8_ROWS4 1

// RequantizeToU8 (blob_format.h) of rows j..j+3 into out[0..3], the rows'
// dot products in dots' lanes (kSigned: before compensation), one row per
// 64-bit lane: vpmuldq multiplies acc by the multiplier in the low half of
// the row's {multiplier, shift} pair, exactly. AVX2 has no arithmetic
// 64-bit shift: a negative acc x M + half gives a negative result, which
// saturates to 0, so only the others are shifted (logically).
template <InputMode kMode>
HWY_INLINE void StoreU8Rows4(const DenseI8& layer, uint32_t j, __m128i dots,
                             uint8_t* HWY_RESTRICT out) {
  const auto at = [](const int32_t* p) { return reinterpret_cast<const __m128i*>(p); };
  __m128i acc = _mm_add_epi32(dots, _mm_loadu_si128(at(layer.bias + j)));
  if constexpr (kMode == InputMode::kSigned) {
    acc = _mm_add_epi32(acc, _mm_loadu_si128(at(layer.signed_input_compensation + j)));
  }
  const __m256i pairs =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(layer.requant + 2 * j));
  const __m256i shift = _mm256_srli_epi64(pairs, 32);
  const __m256i one = _mm256_set1_epi64x(1), max_u8 = _mm256_set1_epi64x(255);
  const __m256i half = _mm256_sllv_epi64(one, _mm256_sub_epi64(shift, one));
  const __m256i t = _mm256_add_epi64(_mm256_mul_epi32(_mm256_cvtepi32_epi64(acc), pairs), half);
  const __m256i negative = _mm256_cmpgt_epi64(_mm256_setzero_si256(), t);
  __m256i q = _mm256_srlv_epi64(t, shift);
  q = _mm256_blendv_epi8(q, max_u8, _mm256_cmpgt_epi64(q, max_u8));
  q = _mm256_andnot_si256(negative, q);  // 4 x u8 in bytes 0, 8, 16, 24
  const __m128i rows = _mm256_castsi256_si128(
      _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
  const __m128i words = _mm_packus_epi32(rows, rows);
  const int32_t bytes = _mm_cvtsi128_si32(_mm_packus_epi16(words, words));
  std::memcpy(out, &bytes, 4);
}

// RequantizeToU8 of 8 rows for the packed kernels, whose dot products
// arrive 8 rows to a vector: the rows' parameters are set up once per block
// (Requant8) and serve every image. vpmuldq takes the even rows from the
// even lanes and the odd rows shifted down, so the results interleave back
// into row order with one shift and one or. A dot + bias <= 0 gives 0 for
// every multiplier (>= 2^30) and shift (the rounded product stays below
// 2^shift), so the sum is clamped at 0 first: the 64-bit values are never
// negative and logical shifts are exact.
struct Requant8 {
  __m256i bias;
  __m256i pairs[2], shift[2], half[2];  // rows 0, 2, 4, 6 and 1, 3, 5, 7
};
HWY_INLINE Requant8 LoadRequant8(const DenseI8& layer, uint32_t j) {
  const auto at = [](const int32_t* p) { return reinterpret_cast<const __m256i*>(p); };
  const __m256i order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7), one = _mm256_set1_epi64x(1);
  // {multiplier, shift} of rows 0, 2, 1, 3 and of rows 4, 6, 5, 7.
  const __m256i p0 =
      _mm256_permutevar8x32_epi32(_mm256_loadu_si256(at(layer.requant + 2 * j)), order);
  const __m256i p1 =
      _mm256_permutevar8x32_epi32(_mm256_loadu_si256(at(layer.requant + 2 * j + 8)), order);
  Requant8 r;
  r.bias = _mm256_loadu_si256(at(layer.bias + j));
  r.pairs[0] = _mm256_permute2x128_si256(p0, p1, 0x20);
  r.pairs[1] = _mm256_permute2x128_si256(p0, p1, 0x31);
  for (int k = 0; k < 2; ++k) {
    r.shift[k] = _mm256_srli_epi64(r.pairs[k], 32);
    r.half[k] = _mm256_sllv_epi64(one, _mm256_sub_epi64(r.shift[k], one));
  }
  return r;
}
HWY_INLINE void StoreU8Rows8(const Requant8& p, __m256i dots, uint8_t* HWY_RESTRICT out) {
  const __m256i acc = _mm256_max_epi32(_mm256_add_epi32(dots, p.bias), _mm256_setzero_si256());
  const __m256i max_u8 = _mm256_set1_epi64x(255);
  __m256i q[2];
  for (int k = 0; k < 2; ++k) {
    const __m256i x = k == 0 ? acc : _mm256_srli_epi64(acc, 32);
    q[k] = _mm256_srlv_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, p.pairs[k]), p.half[k]),
                             p.shift[k]);
    q[k] = _mm256_blendv_epi8(q[k], max_u8, _mm256_cmpgt_epi64(q[k], max_u8));
  }
  const __m256i rows = _mm256_or_si256(q[0], _mm256_slli_epi64(q[1], 32));  // lane r: row r
  const __m256i words = _mm256_packus_epi32(rows, rows);
  const __m256i bytes = _mm256_packus_epi16(words, words);  // rows 0-3, 4-7: each half's low 4
  const int32_t lo = _mm256_cvtsi256_si32(bytes);
  const int32_t hi = _mm_cvtsi128_si32(_mm256_extracti128_si256(bytes, 1));
  std::memcpy(out, &lo, 4);
  std::memcpy(out + 4, &hi, 4);
}

// DenseToU8 for int8 layers at any batch: the register blocks of the
// driver (kRowBlock rows at batch 1, 4 rows x 2 images batched) with
// StoreU8Rows4 per 4 rows; the last out_size % 4 rows one by one.
template <InputMode kMode>
HWY_INLINE void DenseToU8Rows4(const DenseI8& layer, const uint8_t* HWY_RESTRICT in, size_t pitch,
                               size_t images, uint8_t* HWY_RESTRICT out) {
  const size_t stride = layer.stride;
  const uint32_t rows4 = layer.out_size / 4 * 4;
  uint32_t j = 0;
  if (images == 1) {
    for (; j + kRowBlock <= rows4; j += kRowBlock) {
      VI32 acc[kRowBlock];
      DotRowsAcc<kRowBlock, kMode>(in, layer.weights + j * stride, stride, acc);
      for (uint32_t r = 0; r < kRowBlock; r += 4) {
        StoreU8Rows4<kMode>(layer, j + r, Sum4(acc + r), out + j + r);
      }
    }
  }
  for (; j < rows4; j += 4) {
    const int8_t* w = layer.weights + j * stride;
    size_t n = 0;
    for (; n + 2 <= images; n += 2) {
      VI32 acc0[4], acc1[4];
      DotRows4x2Acc<kMode>(in + n * pitch, in + (n + 1) * pitch, w, stride, acc0, acc1);
      StoreU8Rows4<kMode>(layer, j, Sum4(acc0), out + n * pitch + j);
      StoreU8Rows4<kMode>(layer, j, Sum4(acc1), out + (n + 1) * pitch + j);
    }
    if (n < images) {
      VI32 acc[4];
      DotRowsAcc<4, kMode>(in + n * pitch, w, stride, acc);
      StoreU8Rows4<kMode>(layer, j, Sum4(acc), out + n * pitch + j);
    }
  }
  for (; j < layer.out_size; ++j) {
    for (size_t n = 0; n < images; ++n) {
      int32_t dot;
      DotRows<1, kMode>(in + n * pitch, layer.weights + j * stride, stride, &dot);
      if constexpr (kMode == InputMode::kSigned) dot += layer.signed_input_compensation[j];
      out[n * pitch + j] =
          RequantizeToU8(dot + layer.bias[j], layer.requant[2 * j], layer.requant[2 * j + 1]);
    }
  }
}
#endif

// Rows in lanes. Every target here re-lays int8 layers out at load as
// AVX3_DL does (kernels.h PackVnniBlocks): blocks of 16 rows, one 64-byte
// group per four inputs, row r's four weights at bytes 4r..4r+3. A weight
// vector then holds kGroupLanes rows x 4 inputs and one activation
// broadcast of four bytes feeds all of them: lane r of an accumulator is
// row r's dot product, so no horizontal sums, and each block's weights are
// one stream in read order. (The Xeon VM, AVX2, M's 784 x 256 layer over
// 64 images, paired, loop only: 31.4-31.9 MAC/cycle against 29.4 for the
// 4-row x 2-image tiles over the blob's rows; the whole pass, batched
// 419-430 -> 479-496 k images/s, batch 1 2.42 -> 2.36-2.41 us, with
// StoreU8Rows8.) Used for the paired and direct modes, and batched for
// AVX-VNNI (tiles of 5 images: its vpdpbusd accumulates in place, so it
// needs more chains than a 16-row tile of one image has; batch 1 keeps the
// row kernels). Signed layers would need a compensation without the blob's
// row padding: they keep the row kernels above, as do views without packed
// weights.
#define EDGEMLP_PACKS_WEIGHTS 1
#define EDGEMLP_X86_GROUPS 1
HWY_INLINE size_t PackedBytes(const DenseI8& layer) { return internal::VnniBlocksBytes(layer); }
HWY_INLINE void PackLayer(const DenseI8& layer, int8_t* dst) {
  internal::PackVnniBlocks(layer, dst);
}

inline constexpr uint32_t kBlockRows = 16;
inline constexpr size_t kGroupVectors = 64 / kVectorBytes;  // per group
inline constexpr size_t kGroupLanes = kVectorBytes / 4;     // rows per vector
// Batch 1 streams each layer's packed weights from L2: prefetch this far
// ahead (the Xeon VM, AVX2, M: 2.90 us without, 2.75 at 256 bytes, 2.55 at
// 512, 2.33-2.40 at 1024 to 8192).
inline constexpr size_t kGroupPrefetchBytes = 1024;
// Images per register tile (kGroupVectors accumulators each): within 16
// vector registers on AVX2 and SSE4, 32 on AVX3. AVX-VNNI's vpdpbusd adds
// into its accumulator (5 cycles' latency, 2 per cycle): 5 images give the
// 10 independent chains that takes (with 6, GCC 12 spilled one of the 12
// accumulators every group: 689 k against 784 k images/s for M).
template <InputMode kMode>
constexpr size_t GroupTileImages() {
  if (kMode == InputMode::kAvxVnni) return 5;
  return HWY_TARGET == HWY_AVX3 ? 4 : (HWY_TARGET == HWY_AVX2 ? 2 : 1);
}

// Four activation bytes in every 32-bit lane.
HWY_INLINE VU8 Broadcast4(const uint8_t* HWY_RESTRICT p) {
  int32_t four;
  std::memcpy(&four, p, 4);
  return hn::BitCast(DU8(), hn::Set(DI32(), four));
}

// acc[i][v] lane l = row kGroupLanes * v + l of the block at w . image i
// (at x + i * pitch), over `groups` groups (rows past the layer's are zero
// weights).
template <size_t kImages, InputMode kMode>
HWY_INLINE void DotGroups(const int8_t* HWY_RESTRICT w, const uint8_t* HWY_RESTRICT x,
                          size_t pitch, size_t groups, VI32 (&acc)[kImages][kGroupVectors]) {
  static_assert(kMode != InputMode::kSigned, "activations as they are");
  constexpr size_t V = kVectorBytes;
  for (size_t i = 0; i < kImages; ++i) {
    for (size_t v = 0; v < kGroupVectors; ++v) acc[i][v] = hn::Zero(DI32());
  }
  size_t g = 0;
  if constexpr (kMode == InputMode::kPaired) {
    for (; g + 2 <= groups; g += 2, w += 128) {
      if constexpr (kImages == 1) {
        _mm_prefetch(reinterpret_cast<const char*>(w + kGroupPrefetchBytes), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(w + kGroupPrefetchBytes + 64), _MM_HINT_T0);
      }
      VU8 a0[kImages], a1[kImages];
      for (size_t i = 0; i < kImages; ++i) {
        a0[i] = Broadcast4(x + i * pitch + 4 * g);
        a1[i] = Broadcast4(x + i * pitch + 4 * g + 4);
      }
      for (size_t v = 0; v < kGroupVectors; ++v) {
        const VI8 w0 = hn::LoadU(DI8(), w + v * V), w1 = hn::LoadU(DI8(), w + 64 + v * V);
        for (size_t i = 0; i < kImages; ++i) {
          acc[i][v] = MulAddOctets(a0[i], a1[i], w0, w1, acc[i][v]);
        }
      }
    }
  }
  // AVX-VNNI with fewer images than its tile: consecutive groups go to
  // separate accumulators (as many chains as a tile has), added at the end.
  constexpr size_t kSets =
      kMode == InputMode::kAvxVnni ? (GroupTileImages<kMode>() + kImages - 1) / kImages : 1;
  if constexpr (kSets > 1) {
    VI32 part[kSets - 1][kImages][kGroupVectors];  // sets 1.. (set 0 is acc)
    for (size_t s = 0; s + 1 < kSets; ++s) {
      for (size_t i = 0; i < kImages; ++i) {
        for (size_t v = 0; v < kGroupVectors; ++v) part[s][i][v] = hn::Zero(DI32());
      }
    }
    for (; g + kSets <= groups; g += kSets, w += 64 * kSets) {
      if constexpr (kImages == 1) {
        for (size_t s = 0; s < kSets; ++s) {
          _mm_prefetch(reinterpret_cast<const char*>(w + 64 * s + kGroupPrefetchBytes),
                       _MM_HINT_T0);
        }
      }
      for (size_t s = 0; s < kSets; ++s) {
        VI8 wv[kGroupVectors];
        for (size_t v = 0; v < kGroupVectors; ++v) wv[v] = hn::LoadU(DI8(), w + 64 * s + v * V);
        for (size_t i = 0; i < kImages; ++i) {
          const Act a = {Broadcast4(x + i * pitch + 4 * (g + s)), SignOfAct()};
          for (size_t v = 0; v < kGroupVectors; ++v) {
            VI32& sum = s == 0 ? acc[i][v] : part[s - 1][i][v];
            sum = MulAddQuads<kMode>(a, wv[v], sum);
          }
        }
      }
    }
    for (size_t s = 0; s + 1 < kSets; ++s) {
      for (size_t i = 0; i < kImages; ++i) {
        for (size_t v = 0; v < kGroupVectors; ++v) {
          acc[i][v] = hn::Add(acc[i][v], part[s][i][v]);
        }
      }
    }
  }
  for (; g < groups; ++g, w += 64) {
    if constexpr (kImages == 1) {
      _mm_prefetch(reinterpret_cast<const char*>(w + kGroupPrefetchBytes), _MM_HINT_T0);
    }
    VI8 wv[kGroupVectors];
    for (size_t v = 0; v < kGroupVectors; ++v) wv[v] = hn::LoadU(DI8(), w + v * V);
    for (size_t i = 0; i < kImages; ++i) {
      const Act a = {Broadcast4(x + i * pitch + 4 * g), SignOfAct()};
      for (size_t v = 0; v < kGroupVectors; ++v) {
        acc[i][v] = MulAddQuads<kMode>(a, wv[v], acc[i][v]);
      }
    }
  }
}

// One layer over `images` activation vectors at in + n * pitch, read up to
// in_size rounded up to 4 bytes: begin(j) per block of 16 rows from j, then
// store(n, j, acc) per image (DotGroups' acc[i]). False (nothing done) for
// views without packed weights and where the row kernels run instead.
template <class Begin, class Store>
HWY_INLINE bool DenseGroups(const DenseI8& layer, const uint8_t* HWY_RESTRICT in, size_t pitch,
                            size_t images, Begin begin, Store store) {
  const int8_t* packed = PackedWeights(layer);
  if (layer.weight_type != WeightType::kI8 || packed == nullptr) return false;
  bool done = false;
  WithInputMode(layer, [&](auto mode) {
    constexpr InputMode kMode = decltype(mode)::value;
    constexpr size_t kTile = GroupTileImages<kMode>();
    constexpr bool kVnniTiles = kMode == InputMode::kAvxVnni;
    // AVX-VNNI below a tile (batch 1, batches of 2 to 4): the row kernels
    // (M at batch 1: 2.06-2.10 us) beat one image over 5 accumulator sets
    // (2.18-2.22 us).
    if (kVnniTiles && images < kTile) return;
    if constexpr (kMode == InputMode::kPaired || kMode == InputMode::kAsIs || kVnniTiles) {
      const size_t groups = (layer.in_size + 3) / 4, block_bytes = 64 * groups;
      const int8_t* w = packed;
      for (uint32_t j = 0; j < layer.out_size; j += kBlockRows, w += block_bytes) {
        begin(j);
        size_t n = 0;
        for (; n + kTile <= images; n += kTile) {
          VI32 acc[kTile][kGroupVectors];
          DotGroups<kTile, kMode>(w, in + n * pitch, pitch, groups, acc);
          for (size_t i = 0; i < kTile; ++i) store(n + i, j, acc[i]);
        }
        for (; n < images; ++n) {
          VI32 acc[1][kGroupVectors];
          DotGroups<1, kMode>(w, in + n * pitch, pitch, groups, acc);
          store(n, j, acc[0]);
        }
      }
      done = true;
    }
  });
  return done;
}

// The epilogues of a 16-row block from row j (rows past out_size skipped),
// its dot products in the lanes of acc[0..kGroupVectors).
struct U8Block {
#if EDGEMLP_X86_U8_ROWS4
  Requant8 halves[2];  // rows j..j+7, j+8..j+15 where whole
#endif
  uint32_t rows;
};
HWY_INLINE void BeginU8Block(const DenseI8& layer, uint32_t j, U8Block* block) {
  block->rows = layer.out_size - j < kBlockRows ? layer.out_size - j : kBlockRows;
#if EDGEMLP_X86_U8_ROWS4
  for (uint32_t h = 0; 8 * h + 8 <= block->rows; ++h) {
    block->halves[h] = LoadRequant8(layer, j + 8 * h);
  }
#endif
}
HWY_INLINE void StoreU8Block(const DenseI8& layer, uint32_t j, const U8Block& block,
                             const VI32* acc, uint8_t* HWY_RESTRICT out) {
  HWY_ALIGN int32_t dots[kBlockRows];
  for (size_t v = 0; v < kGroupVectors; ++v) hn::Store(acc[v], DI32(), dots + kGroupLanes * v);
  uint32_t r = 0;
#if EDGEMLP_X86_U8_ROWS4
  for (; r + 8 <= block.rows; r += 8) {
    StoreU8Rows8(block.halves[r / 8], _mm256_load_si256(reinterpret_cast<const __m256i*>(dots + r)),
                 out + r);
  }
#endif
  for (; r < block.rows; ++r) {
    out[r] = RequantizeToU8(dots[r] + layer.bias[j + r], layer.requant[2 * (j + r)],
                            layer.requant[2 * (j + r) + 1]);
  }
}
HWY_INLINE void StoreI32Block(const DenseI8& layer, uint32_t j, const VI32* acc,
                              int32_t* HWY_RESTRICT out) {
  const uint32_t rows = layer.out_size - j < kBlockRows ? layer.out_size - j : kBlockRows;
  HWY_ALIGN int32_t dots[kBlockRows];
  for (size_t v = 0; v < kGroupVectors; ++v) hn::Store(acc[v], DI32(), dots + kGroupLanes * v);
  for (uint32_t r = 0; r < rows; ++r) {
    out[r] = RequantizeToI32(dots[r] + layer.bias[j + r], layer.requant[2 * (j + r)],
                             layer.requant[2 * (j + r) + 1], layer.relu);
  }
}
