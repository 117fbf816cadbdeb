// Kernels for the x86 targets without VNNI: SSSE3, SSE4, AVX2 and AVX3
// (AVX-512BW). The scalar reference is forward_ref.cc.
// Included by forward-inl.h inside edgemlp::HWY_NAMESPACE, once per target
// (foreach_target.h), so no include guard.
//
// pmaddubsw multiplies u8 x s8 bytes and adds pairs into int16, which
// saturates for u8 activations (2 * 255 * 127 > 32767). Exact instead, with
// no change of the integer math: feed each activation as a' = a - 128 (s8),
// multiply |a'| (u8, <= 128) by w with the sign of a' (psignb; AVX-512 has
// none, so a masked negation), each pair |sum| <= 2 * 128 * 127 = 32512,
// then pmaddwd(pairs, 1) widens to int32. DotRows returns sum a' * w; the
// driver adds the row's 128 * sum(w) back (signed_input_compensation), which
// includes the row padding, where a = 0 gives a' = -128. Needs w != -128
// (the loader refuses it): psignb cannot negate it.

// DenseRows adds signed_input_compensation to every DotRows sum.
inline constexpr bool kSignedInput = true;

#if HWY_TARGET == HWY_AVX3
using Bytes = __m512i;
HWY_INLINE Bytes LoadBytes(const void* p) { return _mm512_loadu_si512(p); }
// An activation vector as |a'| and the sign of a'.
struct SignedAct {
  Bytes magnitude;
  __mmask64 negative;
};
HWY_INLINE SignedAct PrepareAct(Bytes a) {
  const Bytes s = _mm512_xor_si512(a, _mm512_set1_epi8(static_cast<char>(0x80)));
  return {_mm512_abs_epi8(s), _mm512_movepi8_mask(s)};
}
// int32 lanes holding sums of four a' * w.
HWY_INLINE Bytes MulQuads(const SignedAct& a, Bytes w) {
  const Bytes signed_w = _mm512_mask_sub_epi8(w, a.negative, _mm512_setzero_si512(), w);
  return _mm512_madd_epi16(_mm512_maddubs_epi16(a.magnitude, signed_w), _mm512_set1_epi16(1));
}
HWY_INLINE Bytes AddI32(Bytes x, Bytes y) { return _mm512_add_epi32(x, y); }
HWY_INLINE Bytes ZeroBytes() { return _mm512_setzero_si512(); }
HWY_INLINE int32_t SumI32(Bytes v) { return _mm512_reduce_add_epi32(v); }
HWY_INLINE __m256i Fold256(Bytes v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

#elif HWY_TARGET == HWY_AVX2
using Bytes = __m256i;
HWY_INLINE __m256i Fold256(Bytes v) { return v; }
HWY_INLINE Bytes LoadBytes(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
struct SignedAct {
  Bytes magnitude, sign;
};
HWY_INLINE SignedAct PrepareAct(Bytes a) {
  const Bytes s = _mm256_xor_si256(a, _mm256_set1_epi8(static_cast<char>(0x80)));
  return {_mm256_abs_epi8(s), s};
}
HWY_INLINE Bytes MulQuads(const SignedAct& a, Bytes w) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a.magnitude, _mm256_sign_epi8(w, a.sign)),
                           _mm256_set1_epi16(1));
}
HWY_INLINE Bytes AddI32(Bytes x, Bytes y) { return _mm256_add_epi32(x, y); }
HWY_INLINE Bytes ZeroBytes() { return _mm256_setzero_si256(); }
HWY_INLINE int32_t SumI32(Bytes v) {
  const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i t = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1))));
}

#else  // SSSE3, SSE4
using Bytes = __m128i;
HWY_INLINE Bytes LoadBytes(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
struct SignedAct {
  Bytes magnitude, sign;
};
HWY_INLINE SignedAct PrepareAct(Bytes a) {
  const Bytes s = _mm_xor_si128(a, _mm_set1_epi8(static_cast<char>(0x80)));
  return {_mm_abs_epi8(s), s};
}
HWY_INLINE Bytes MulQuads(const SignedAct& a, Bytes w) {
  return _mm_madd_epi16(_mm_maddubs_epi16(a.magnitude, _mm_sign_epi8(w, a.sign)),
                        _mm_set1_epi16(1));
}
HWY_INLINE Bytes AddI32(Bytes x, Bytes y) { return _mm_add_epi32(x, y); }
HWY_INLINE Bytes ZeroBytes() { return _mm_setzero_si128(); }
HWY_INLINE int32_t SumI32(Bytes v) {
  const __m128i t = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1))));
}
#endif

// The sums of acc[0..3], one per lane: a tree of horizontal adds instead
// of four separate reductions.
HWY_INLINE __m128i Sum4(const Bytes* acc) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2
  const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(Fold256(acc[0]), Fold256(acc[1])),
                                      _mm256_hadd_epi32(Fold256(acc[2]), Fold256(acc[3])));
  return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
#else
  return _mm_hadd_epi32(_mm_hadd_epi32(acc[0], acc[1]), _mm_hadd_epi32(acc[2], acc[3]));
#endif
}

// Blob strides are multiples of 64 bytes, a whole number of vectors.
static_assert(kBlobAlign % sizeof(Bytes) == 0, "rows are whole vectors");

// dots[r] = sum_k (act[k] - 128) * w[r * stride + k] for kRows rows: one
// activation load and sign split per vector feeds every row.
template <size_t kRows>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act, const int8_t* HWY_RESTRICT w,
                        size_t stride, int32_t* HWY_RESTRICT dots) {
  Bytes acc[kRows];
  for (size_t r = 0; r < kRows; ++r) acc[r] = ZeroBytes();
  for (size_t k = 0; k < stride; k += sizeof(Bytes)) {
    const SignedAct a = PrepareAct(LoadBytes(act + k));
    for (size_t r = 0; r < kRows; ++r) {
      acc[r] = AddI32(acc[r], MulQuads(a, LoadBytes(w + r * stride + k)));
    }
  }
  if constexpr (kRows == 4) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dots), Sum4(acc));
  } else {
    for (size_t r = 0; r < kRows; ++r) dots[r] = SumI32(acc[r]);
  }
}

// Batched register block: 4 rows x 2 images, dots[4 * n + r] = row r .
// image n (minus the compensation, as DotRows). Each weight load feeds both
// images, each activation split all 4 rows.
HWY_INLINE void DotRows4x2(const uint8_t* HWY_RESTRICT act0, const uint8_t* HWY_RESTRICT act1,
                           const int8_t* HWY_RESTRICT w, size_t stride,
                           int32_t* HWY_RESTRICT dots) {
  Bytes acc0[4], acc1[4];
  for (size_t r = 0; r < 4; ++r) acc0[r] = acc1[r] = ZeroBytes();
  for (size_t k = 0; k < stride; k += sizeof(Bytes)) {
    const SignedAct a0 = PrepareAct(LoadBytes(act0 + k));
    const SignedAct a1 = PrepareAct(LoadBytes(act1 + k));
    for (size_t r = 0; r < 4; ++r) {
      const Bytes wr = LoadBytes(w + r * stride + k);
      acc0[r] = AddI32(acc0[r], MulQuads(a0, wr));
      acc1[r] = AddI32(acc1[r], MulQuads(a1, wr));
    }
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dots), Sum4(acc0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dots + 4), Sum4(acc1));
}
inline constexpr uint32_t kRowBlock = 4;
