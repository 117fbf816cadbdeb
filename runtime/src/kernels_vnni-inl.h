// Kernels for AVX3_DL (AVX-512 with VNNI): batch 1 in 16-row blocks,
// batched in image panels. The scalar reference is forward_ref.cc.
// Included by forward-inl.h inside edgemlp::HWY_NAMESPACE, once per target
// (foreach_target.h), so no include guard.

inline constexpr bool kSignedInput = false;  // vpdpbusd takes u8 as they are

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

// Batch 1 for layers wider than kMaxActChunks chunks: 16 rows per
// activation load, whose sums leave through one SumsOf16.
template <size_t kRows>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  static_assert(kRows == 16, "DenseRows' kRowBlock");
  __m512i acc[16];
  for (size_t r = 0; r < 16; ++r) acc[r] = _mm512_setzero_si512();
  for (size_t k = 0; k < stride; k += 64) {
    const __m512i a = _mm512_loadu_si512(act + k);
    for (size_t r = 0; r < 16; ++r) {
      acc[r] = Dpbusd(acc[r], a, _mm512_loadu_si512(w + r * stride + k));
    }
  }
  _mm512_storeu_si512(dots, SumsOf16(acc));
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
// in kChunks registers and each activation chunk feeds the block's 16 rows,
// 16 independent accumulator chains. (Measured on Zen 4 against 4 rows at a
// time: S's 784-32 layer 12% and M's 256-128 layer 16% faster, M's 784-256
// layer, read from L2, 1.5% slower.) The block's 16 sums leave in one
// vector, and the epilogue requantizes all 16 rows at once.
inline constexpr size_t kMaxActChunks = 16;

template <size_t kChunks, bool kFullBlock>
HWY_INLINE __m512i DotBlock16(const __m512i* HWY_RESTRICT a,
                              const int8_t* HWY_RESTRICT w, size_t stride,
                              size_t rows) {
  __m512i acc[16];
  for (size_t r = 0; r < 16; ++r) acc[r] = _mm512_setzero_si512();
  for (size_t c = 0; c < kChunks; ++c) {
    for (size_t r = 0; r < 16; ++r) {
      if (kFullBlock || r < rows) {
        acc[r] = Dpbusd(acc[r], a[c], _mm512_loadu_si512(w + r * stride + 64 * c));
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

// DenseRows for layers wider than kMaxActChunks chunks: DotRows<16>.
inline constexpr uint32_t kRowBlock = 16;

// Batched: image panels. kLanes images travel together, interleaved four
// bytes at a time: group g of a panel (4 * kLanes bytes at 4 * kLanes * g)
// holds bytes 4g..4g+3 of every image, image n's at 4 * n. One panel load
// feeds vpdpbusd against each row's four weights broadcast from memory, so
// lane n of a row's accumulator is image n's dot product: no horizontal
// sums, and the epilogue writes the next layer's panel directly. Weights
// stay in the blob's row order. (On Zen 4 this ran M batched 1.25x faster
// than row-major 4 x 4 register blocks, which sum across lanes.)
// 16 lanes (zmm) by default; the last 4 to 15 images of a batch go in 8-lane
// (ymm) panels, which on Zen 4 run at 0.89x the 16-lane rate per image.
// Panel vectors: one int32 lane per image.
template <size_t kLanes>
using PanelTag = hn::FixedTag<int32_t, kLanes>;
template <size_t kLanes>
using PanelVec = hn::Vec<PanelTag<kLanes>>;

// Fewer images than this run batch 1: an 8-image panel costs about as much
// as 4 images at batch 1.
inline constexpr size_t kPanelMinImages = 4;

// A row's four weights, the memory operand of a broadcast vpdpbusd.
struct Weights4 {
  int8_t w[4];
};

// acc += a x (the four s8 weights at w, broadcast to every lane).
template <size_t kLanes>
HWY_INLINE PanelVec<kLanes> DpbusdBroadcast(PanelVec<kLanes> acc, PanelVec<kLanes> a,
                                            const int8_t* w) {
  const Weights4& w4 = *reinterpret_cast<const Weights4*>(w);
  if constexpr (kLanes == 16) {
    asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc.raw) : "v"(a.raw), "m"(w4));
  } else {
    static_assert(kLanes == 8, "zmm or ymm panels");
    asm("vpdpbusd %2%{1to8%}, %1, %0" : "+v"(acc.raw) : "v"(a.raw), "m"(w4));
  }
  return acc;
}

// Highway 1.0.3 has neither a block transpose nor an int64 -> int32
// saturating demote: both widths, in intrinsics.
// rows[n] = image n's 4-byte groups -> groups[g] = group g of every image:
// interleave pairs, then quads (per 128-bit lane), then move 128-bit lanes.
HWY_INLINE void TransposeGroups(const __m512i* rows, __m512i* groups) {  // 16 x 16
  __m512i t[16], u[16];
  for (size_t i = 0; i < 8; ++i) {  // 128-bit lane L: groups 4L..4L+3
    t[2 * i] = _mm512_unpacklo_epi32(rows[2 * i], rows[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(rows[2 * i], rows[2 * i + 1]);
  }
  for (size_t i = 0; i < 4; ++i) {  // u[4i + c] lane L: group 4L + c, images 4i..4i+3
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (size_t c = 0; c < 4; ++c) {  // group 4L + c = lane L of u[c], u[4+c], u[8+c], u[12+c]
    const __m512i t0 = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i t1 = _mm512_shuffle_i32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512i t2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i t3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
    groups[c] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(2, 0, 2, 0));
    groups[4 + c] = _mm512_shuffle_i32x4(t0, t2, _MM_SHUFFLE(3, 1, 3, 1));
    groups[8 + c] = _mm512_shuffle_i32x4(t1, t3, _MM_SHUFFLE(2, 0, 2, 0));
    groups[12 + c] = _mm512_shuffle_i32x4(t1, t3, _MM_SHUFFLE(3, 1, 3, 1));
  }
}
HWY_INLINE void TransposeGroups(const __m256i* rows, __m256i* groups) {  // 8 x 8, as above
  __m256i t[8], u[8];
  for (size_t i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(rows[2 * i], rows[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(rows[2 * i], rows[2 * i + 1]);
  }
  for (size_t i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (size_t c = 0; c < 4; ++c) {  // group 4L + c = lane L of u[c], u[4+c]
    groups[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
    groups[4 + c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
  }
}
HWY_INLINE __m256i SaturateTo32(__m512i v) { return _mm512_cvtsepi64_epi32(v); }
HWY_INLINE __m128i SaturateTo32(__m256i v) { return _mm256_cvtsepi64_epi32(v); }

// The panel of `count` (<= kLanes) vectors of `size` bytes at src + n * size,
// zero-padded to `stride` bytes and to kLanes images: a kLanes x kLanes
// transpose of 4-byte groups per 4 * kLanes bytes (masked loads pad).
template <size_t kLanes>
HWY_INLINE void PackPanel(const uint8_t* HWY_RESTRICT src, size_t size, size_t count,
                          size_t stride, uint8_t* HWY_RESTRICT panel) {
  const PanelTag<kLanes> d;
  const hn::Repartition<uint8_t, decltype(d)> du8;
  using Raw = decltype(hn::Zero(d).raw);
  constexpr size_t kBlock = 4 * kLanes;  // bytes of an image per transpose
  for (size_t k = 0; k < stride; k += kBlock) {
    const auto valid = hn::FirstN(du8, size > k ? size - k : 0);
    Raw rows[kLanes], groups[kLanes];
    for (size_t n = 0; n < kLanes; ++n) {
      rows[n] = hn::BitCast(d, n < count ? hn::MaskedLoad(valid, du8, src + n * size + k)
                                         : hn::Zero(du8))
                    .raw;
    }
    TransposeGroups(rows, groups);
    for (size_t g = 0; g < kLanes; ++g) {
      hn::StoreU(PanelVec<kLanes>{groups[g]}, d,
                 reinterpret_cast<int32_t*>(panel + kLanes * k + kBlock * g));
    }
  }
}

// acc[r] lane n = row r . image n for 16 rows of `stride` weights at w,
// over the first `length` (a multiple of 4) weights: past the layer's
// in_size both weights and activations are zero. Full blocks address row r
// as p + r * stride with p or p + 8 * stride as base and stride, 3, 5 or 7 x
// stride as scaled index, so few registers reach all 16 rows. The last block
// repeats its last row past `rows` (those sums are never used).
template <size_t kLanes, bool kFullBlock>
HWY_INLINE void PanelDot16(const uint8_t* HWY_RESTRICT panel, const int8_t* HWY_RESTRICT w,
                           size_t stride, size_t length, size_t rows,
                           PanelVec<kLanes>* HWY_RESTRICT sums) {
  const PanelTag<kLanes> d;
  const auto load = [&](const uint8_t* p) {
    return hn::LoadU(d, reinterpret_cast<const int32_t*>(p));
  };
  PanelVec<kLanes> acc[16];  // local, so the accumulators stay in registers
  for (size_t r = 0; r < 16; ++r) acc[r] = hn::Zero(d);
  if (kFullBlock) {
    const size_t s1 = stride, s3 = 3 * stride, s5 = 5 * stride, s7 = 7 * stride;
    const int8_t* p = w;
    const int8_t* q = w + 8 * stride;
    for (const int8_t* end = w + length; p < end; p += 4, q += 4, panel += 4 * kLanes) {
      const auto a = load(panel);
      // Rows 0..7 from p, 8..15 from q: base + {0, 1, 2, 3, 4, 5, 6, 7} x stride.
      const auto eight_rows = [&](PanelVec<kLanes>* acc8, const int8_t* base) {
        acc8[0] = DpbusdBroadcast<kLanes>(acc8[0], a, base);
        acc8[1] = DpbusdBroadcast<kLanes>(acc8[1], a, base + s1);
        acc8[2] = DpbusdBroadcast<kLanes>(acc8[2], a, base + 2 * s1);
        acc8[3] = DpbusdBroadcast<kLanes>(acc8[3], a, base + s3);
        acc8[4] = DpbusdBroadcast<kLanes>(acc8[4], a, base + 4 * s1);
        acc8[5] = DpbusdBroadcast<kLanes>(acc8[5], a, base + s5);
        acc8[6] = DpbusdBroadcast<kLanes>(acc8[6], a, base + 2 * s3);
        acc8[7] = DpbusdBroadcast<kLanes>(acc8[7], a, base + s7);
      };
      eight_rows(acc, p);
      eight_rows(acc + 8, q);
    }
  } else {
    size_t row[16];
    for (size_t r = 0; r < 16; ++r) row[r] = (r < rows ? r : rows - 1) * stride;
    for (size_t k = 0; k < length; k += 4) {
      const auto a = load(panel + kLanes * k);
      for (size_t r = 0; r < 16; ++r) acc[r] = DpbusdBroadcast<kLanes>(acc[r], a, w + row[r] + k);
    }
  }
  for (size_t r = 0; r < 16; ++r) sums[r] = acc[r];
}

// The Requantize of one row for kLanes images in int64 lanes: even holds
// images 0, 2, 4, .. and odd images 1, 3, 5, ... MulEven (vpmuldq)
// multiplies the low 32 bits of each lane: (dot + bias) x multiplier, exact.
template <size_t kLanes>
using PanelTag64 = hn::Repartition<int64_t, PanelTag<kLanes>>;
template <size_t kLanes>
struct ImagePairs {
  hn::Vec<PanelTag64<kLanes>> even, odd;
};
template <size_t kLanes>
HWY_INLINE ImagePairs<kLanes> RequantizeImages(PanelVec<kLanes> dots, const DenseI8& layer,
                                               uint32_t row) {
  const PanelTag<kLanes> d;
  const PanelTag64<kLanes> d64;
  const auto acc = hn::Add(dots, hn::Set(d, layer.bias[row]));
  const auto multiplier = hn::Set(d, layer.requant[2 * row]);
  const int shift = layer.requant[2 * row + 1];
  const auto half = hn::Set(d64, int64_t{1} << (shift - 1));
  const auto odd_lanes = hn::BitCast(d, hn::ShiftRight<32>(hn::BitCast(d64, acc)));
  ImagePairs<kLanes> q;
  q.even = hn::ShiftRightSame(hn::Add(hn::MulEven(acc, multiplier), half), shift);
  q.odd = hn::ShiftRightSame(hn::Add(hn::MulEven(odd_lanes, multiplier), half), shift);
  return q;
}

// RequantizeToU8 of rows j..j+rows-1 into the next layer's panel: rows
// 4q..4q+3 of the block make its group j/4 + q, one 4-byte lane per image.
// Rows past `rows` are written as zeros (the next layer's padding).
template <size_t kLanes>
HWY_INLINE void StorePanelU8(const DenseI8& layer, uint32_t j, uint32_t rows,
                             const PanelVec<kLanes>* acc, uint8_t* HWY_RESTRICT out_panel) {
  const PanelTag<kLanes> d;
  const PanelTag64<kLanes> d64;
  const auto zero = hn::Zero(d64), max_u8 = hn::Set(d64, 255);
  for (uint32_t q = 0; q < 4; ++q) {
    auto even = zero, odd = zero;  // four rows' bytes in the low half of each lane
    for (uint32_t b = 0; b < 4 && 4 * q + b < rows; ++b) {
      const ImagePairs<kLanes> v = RequantizeImages<kLanes>(acc[4 * q + b], layer, j + 4 * q + b);
      const int bits = static_cast<int>(8 * b);
      even = hn::Or(even, hn::ShiftLeftSame(hn::Min(hn::Max(v.even, zero), max_u8), bits));
      odd = hn::Or(odd, hn::ShiftLeftSame(hn::Min(hn::Max(v.odd, zero), max_u8), bits));
    }
    hn::StoreU(hn::BitCast(d, hn::Or(even, hn::ShiftLeft<32>(odd))), d,
               reinterpret_cast<int32_t*>(out_panel + kLanes * j + 4 * kLanes * q));
  }
}

// RequantizeToI32 of rows j..j+rows-1 for the first `count` images, into
// row-major logits (images x out_size).
template <size_t kLanes>
HWY_INLINE void StoreLogits(const DenseI8& layer, uint32_t j, uint32_t rows,
                            const PanelVec<kLanes>* acc, size_t count,
                            int32_t* HWY_RESTRICT logits) {
  const PanelTag64<kLanes> d64;
  int32_t even[16][kLanes / 2], odd[16][kLanes / 2];
  for (uint32_t r = 0; r < rows; ++r) {
    ImagePairs<kLanes> v = RequantizeImages<kLanes>(acc[r], layer, j + r);
    if (layer.relu) {
      v.even = hn::Max(v.even, hn::Zero(d64));
      v.odd = hn::Max(v.odd, hn::Zero(d64));
    }
    const auto even32 = SaturateTo32(v.even.raw), odd32 = SaturateTo32(v.odd.raw);
    std::memcpy(even[r], &even32, sizeof(even[r]));
    std::memcpy(odd[r], &odd32, sizeof(odd[r]));
  }
  for (size_t n = 0; n < count; ++n) {
    for (uint32_t r = 0; r < rows; ++r) {
      logits[n * layer.out_size + j + r] = n % 2 ? odd[r][n / 2] : even[r][n / 2];
    }
  }
}

// One layer over a panel: epilogue(first_row, rows, sums) per 16 rows.
template <size_t kLanes, class Epilogue>
HWY_INLINE void PanelDense(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                           Epilogue epilogue) {
  PanelVec<kLanes> acc[16];
  const size_t length = (layer.in_size + 3) / 4 * 4;
  for (uint32_t j = 0; j < layer.out_size; j += 16) {
    const uint32_t rows = layer.out_size - j < 16 ? layer.out_size - j : 16;
    const int8_t* w = layer.weights + size_t{j} * layer.stride;
    if (rows == 16) {
      PanelDot16<kLanes, true>(in, w, layer.stride, length, rows, acc);
    } else {
      PanelDot16<kLanes, false>(in, w, layer.stride, length, rows, acc);
    }
    epilogue(j, rows, acc);
  }
}

// The forward pass of `count` (<= kLanes) images as one panel. act_a and
// act_b hold kLanes x stride bytes each.
template <size_t kLanes>
HWY_INLINE void ForwardPanel(const DenseI8* layers, size_t layer_count, const uint8_t* pixels,
                             size_t count, uint8_t* act_a, uint8_t* act_b, int32_t* logits) {
  using V = PanelVec<kLanes>;
  uint8_t* cur = act_a;
  uint8_t* next = act_b;
  PackPanel<kLanes>(pixels, layers[0].in_size, count, layers[0].stride, cur);
  for (size_t i = 0; i + 1 < layer_count; ++i) {
    const DenseI8& layer = layers[i];
    PanelDense<kLanes>(layer, cur, [&](uint32_t j, uint32_t rows, const V* acc) {
      StorePanelU8<kLanes>(layer, j, rows, acc, next);
    });
    uint8_t* t = cur;
    cur = next;
    next = t;
  }
  const DenseI8& last = layers[layer_count - 1];
  PanelDense<kLanes>(last, cur, [&](uint32_t j, uint32_t rows, const V* acc) {
    StoreLogits<kLanes>(last, j, rows, acc, count, logits);
  });
}

// Batched forward pass in panels of 16 images, the last 4 to 15 images in
// panels of 8 (padded); int16/int4 layers and the last 1 to 3 images run
// batch 1.
HWY_INLINE void ForwardBatch(const DenseI8* layers, size_t count, const uint8_t* pixels,
                             size_t images, uint8_t* act_a, uint8_t* act_b, size_t pitch,
                             int32_t* logits) {
  const size_t in_size = layers[0].in_size, out_size = layers[count - 1].out_size;
  bool all_int8 = true;
  for (size_t i = 0; i < count; ++i) all_int8 &= layers[i].weight_type == WeightType::kI8;
  size_t n = 0;
  // A panel of `lanes` images at image n uses lanes x stride bytes of each
  // scratch buffer from n * pitch: within BatchScratchVectors(images).
  for (; all_int8 && n + 16 <= images; n += 16) {
    // The next panel's pixels, into L2 while this one computes: 16 images
    // are 16 short streams the hardware prefetchers do not follow. (With
    // inputs from memory: M 2% and S 5% more images/s on Zen 4.)
    const size_t ahead = images - n - 16 < 16 ? images - n - 16 : 16;
    const uint8_t* next_pixels = pixels + (n + 16) * in_size;
    for (size_t b = 0; b < ahead * in_size; b += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(next_pixels + b), _MM_HINT_T1);
    }
    ForwardPanel<16>(layers, count, pixels + n * in_size, 16, act_a + n * pitch, act_b + n * pitch,
                     logits + n * out_size);
  }
  for (; all_int8 && n + kPanelMinImages <= images; n += 8) {
    const size_t lanes = images - n < 8 ? images - n : 8;
    ForwardPanel<8>(layers, count, pixels + n * in_size, lanes, act_a + n * pitch,
                    act_b + n * pitch, logits + n * out_size);
  }
  for (; n < images; ++n) {
    ForwardI8Impl(layers, count, pixels + n * in_size, act_a + n * pitch, act_b + n * pitch,
                  logits + n * out_size);
  }
}
