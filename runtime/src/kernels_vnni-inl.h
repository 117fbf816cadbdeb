// Kernels for AVX3_DL (AVX-512 with VNNI): batch 1 in 16-row blocks,
// batched in tiles over weights re-laid out at load. The scalar reference is forward_ref.cc.
// Included by forward-inl.h inside edgemlp::HWY_NAMESPACE, once per target
// (foreach_target.h), so no include guard.

// The batched tiles read the weights re-laid out at load (kernels.h,
// PackVnniBlocks); batch 1 reads the blob's rows.
#define EDGEMLP_PACKS_WEIGHTS 1
HWY_INLINE size_t PackedBytes(const DenseI8& layer) { return internal::VnniBlocksBytes(layer); }
HWY_INLINE void PackLayer(const DenseI8& layer, int8_t* dst) {
  internal::PackVnniBlocks(layer, dst);
}

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
template <size_t kRows, InputMode kMode>
HWY_INLINE void DotRows(const uint8_t* HWY_RESTRICT act,
                        const int8_t* HWY_RESTRICT w, size_t stride,
                        int32_t* HWY_RESTRICT dots) {
  static_assert(kRows == 16, "DenseRows' kRowBlock");
  static_assert(kMode == InputMode::kAsIs, "u8 activations as they are");
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

// Requantize (blob_format.h) for a block of 16 rows in int64 lanes: the
// even rows in [0], the odd rows in [1]. vpmuldq multiplies the low 32 bits
// of each 64-bit lane (exact), so the even rows need no widening and the
// odd ones one shift. The bias is folded into the rounding constant:
// (dot + bias) x M + half = dot x M + (bias x M + half), all in int64 (the
// validator keeps |bias| <= 2^30 and |dot| < 2^30, so the reference's
// int32 sum cannot wrap either). Loaded once per block; the batched tiles
// use it for every image, and every vector op here takes a port from
// vpdpbusd.
struct Requant16 {
  __m512i multiplier[2], constant[2], shift[2];  // 8 x int64 each
  __mmask16 rows;                                // the block's valid rows
};
HWY_INLINE Requant16 LoadRequant16(const DenseI8& layer, uint32_t j, uint32_t rows) {
  Requant16 p;
  p.rows = static_cast<__mmask16>((1u << rows) - 1);
  const __m512i bias = _mm512_maskz_loadu_epi32(p.rows, layer.bias + j);
  // {multiplier, shift} of rows 0-7 and 8-15, one row per 64 bits.
  const __m512i pairs_lo =
      _mm512_maskz_loadu_epi64(static_cast<__mmask8>(p.rows), layer.requant + 2 * j);
  const __m512i pairs_hi =
      _mm512_maskz_loadu_epi64(static_cast<__mmask8>(p.rows >> 8), layer.requant + 2 * j + 16);
  for (int odd = 0; odd < 2; ++odd) {
    const __m512i index = _mm512_setr_epi64(odd, odd + 2, odd + 4, odd + 6, odd + 8, odd + 10,
                                            odd + 12, odd + 14);
    const __m512i pairs = _mm512_permutex2var_epi64(pairs_lo, index, pairs_hi);
    p.multiplier[odd] = pairs;  // vpmuldq reads the low half
    p.shift[odd] = _mm512_srli_epi64(pairs, 32);
    const __m512i half = _mm512_sllv_epi64(_mm512_set1_epi64(1),
                                           _mm512_sub_epi64(p.shift[odd], _mm512_set1_epi64(1)));
    const __m512i row_bias = odd ? _mm512_srli_epi64(bias, 32) : bias;
    p.constant[odd] = _mm512_add_epi64(_mm512_mul_epi32(row_bias, pairs), half);
  }
  return p;
}
HWY_INLINE void Requantize16(const Requant16& p, __m512i sums, __m512i* q) {
  const __m512i rows[2] = {sums, _mm512_srli_epi64(sums, 32)};
  for (size_t odd = 0; odd < 2; ++odd) {
    q[odd] = _mm512_srav_epi64(
        _mm512_add_epi64(_mm512_mul_epi32(rows[odd], p.multiplier[odd]), p.constant[odd]),
        p.shift[odd]);
  }
}

// RequantizeToU8 of the block's rows into out[0, rows): one byte permute
// gathers byte 0 of every 64-bit lane, even and odd rows alternating.
HWY_INLINE void StoreU8x16(const Requant16& p, __m512i sums, uint8_t* HWY_RESTRICT out) {
  const __m512i zero = _mm512_setzero_si512(), max_u8 = _mm512_set1_epi64(255);
  const __m512i gather = _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0x7838703068286020,
                                          0x5818501048084000);  // 64 + 8i (odd), 8i
  __m512i q[2];
  Requantize16(p, sums, q);
  const __m512i even = _mm512_min_epi64(_mm512_max_epi64(q[0], zero), max_u8);
  const __m512i odd = _mm512_min_epi64(_mm512_max_epi64(q[1], zero), max_u8);
  _mm_mask_storeu_epi8(out, p.rows,
                       _mm512_castsi512_si128(_mm512_permutex2var_epi8(even, gather, odd)));
}

// RequantizeToI32 of the block's rows into out[0, rows): optional ReLU,
// saturation to int32; odd rows move to the high half of each 64-bit lane.
HWY_INLINE void StoreI32x16(const Requant16& p, bool relu, __m512i sums,
                            int32_t* HWY_RESTRICT out) {
  const __m512i low = _mm512_set1_epi64(relu ? 0 : INT32_MIN);
  const __m512i high = _mm512_set1_epi64(INT32_MAX);
  __m512i q[2];
  Requantize16(p, sums, q);
  const __m512i even = _mm512_min_epi64(_mm512_max_epi64(q[0], low), high);
  const __m512i odd = _mm512_min_epi64(_mm512_max_epi64(q[1], low), high);
  _mm512_mask_storeu_epi32(
      out, p.rows, _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32)));
}

// Batch 1: rows j..j+rows-1 of `layer`, with fewer vector constants than
// Requant16 (the activation chunks fill the registers): sign-extended
// halves, {multiplier, shift} pairs as stored. (Requant16 here made M's
// batch 1 3.5% slower.)
HWY_INLINE __m512i Requantize8(__m512i acc64, __m512i pairs) {
  const __m512i shift = _mm512_srli_epi64(pairs, 32);
  const __m512i half = _mm512_sllv_epi64(_mm512_set1_epi64(1),
                                         _mm512_sub_epi64(shift, _mm512_set1_epi64(1)));
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(acc64, pairs), half), shift);
}
HWY_INLINE void RequantizeRows16(const DenseI8& layer, uint32_t j, __m512i sums, uint32_t rows,
                                 __m512i* q) {
  const __mmask16 m16 = static_cast<__mmask16>((1u << rows) - 1);
  const __m512i acc = _mm512_add_epi32(sums, _mm512_maskz_loadu_epi32(m16, layer.bias + j));
  const __m512i pairs_lo =
      _mm512_maskz_loadu_epi64(static_cast<__mmask8>(m16), layer.requant + 2 * j);
  const __m512i pairs_hi =
      _mm512_maskz_loadu_epi64(static_cast<__mmask8>(m16 >> 8), layer.requant + 2 * j + 16);
  q[0] = Requantize8(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc)), pairs_lo);
  q[1] = Requantize8(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1)), pairs_hi);
}
HWY_INLINE void StoreU8x16(const DenseI8& layer, uint32_t j, __m512i sums,
                           uint32_t rows, uint8_t* HWY_RESTRICT out) {
  const __m512i zero = _mm512_setzero_si512(), max_u8 = _mm512_set1_epi64(255);
  __m512i q[2];
  RequantizeRows16(layer, j, sums, rows, q);
  const __m128i lo = _mm512_cvtepi64_epi8(_mm512_min_epi64(_mm512_max_epi64(q[0], zero), max_u8));
  const __m128i hi = _mm512_cvtepi64_epi8(_mm512_min_epi64(_mm512_max_epi64(q[1], zero), max_u8));
  _mm_mask_storeu_epi8(out + j, static_cast<__mmask16>((1u << rows) - 1),
                       _mm_unpacklo_epi64(lo, hi));
}
HWY_INLINE void StoreI32x16(const DenseI8& layer, uint32_t j, __m512i sums,
                            uint32_t rows, int32_t* HWY_RESTRICT out) {
  __m512i q[2];
  RequantizeRows16(layer, j, sums, rows, q);
  if (layer.relu) {
    q[0] = _mm512_max_epi64(q[0], _mm512_setzero_si512());
    q[1] = _mm512_max_epi64(q[1], _mm512_setzero_si512());
  }
  const __m512i q32 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(q[0])),
                                         _mm512_cvtsepi64_epi32(q[1]), 1);
  _mm512_mask_storeu_epi32(out + j, static_cast<__mmask16>((1u << rows) - 1), q32);
}

// DenseRows for layers wider than kMaxActChunks chunks: DotRows<16>.
inline constexpr uint32_t kRowBlock = 16;

// Batched: GEMM tiles over the weights re-laid out at load
// (PackedWeights(layer), kernels.h PackVnniBlocks) as oneDNN does. A tile is kBlocks blocks of 16 rows x
// kTileImages images: per group of four inputs, each block's weights are
// one vector load, and each image's four activation bytes, broadcast to
// every lane, feed one vpdpbusd per block. Lane r of an accumulator is
// row r . image n: no horizontal sums, no transposes, activations stay
// row-major and the epilogue requantizes 16 rows of an image. (Replaced
// image panels, which broadcast weights from the row-major blob and
// transposed the pixels: on a Xeon with VNNI, M batched 1.29 -> 1.60 M
// images/s, S 7.9 -> 13.1; docs/benchmark.md.)
inline constexpr size_t kTileImages = 8;
// A batch's last images that leave fewer than this in a tile run batch 1:
// a tile costs the same for 1 or 8 images.
inline constexpr size_t kTileMinImages = 4;

// sums[kBlocks * i + b] = block b . image i over `groups` groups, image i
// at x + i * pitch: 2 x 8 accumulators, enough independent chains to cover
// vpdpbusd's latency. Images are addressed as x + {1, 2, 4} x {pitch, 3,
// 5, 7 x pitch} and the blocks as w + {0, block_bytes}, so one increment
// each per group: GCC otherwise advances eight image pointers, and the
// scalar adds took ports from vpdpbusd. Not inlined: inside the whole
// batched forward pass GCC 12 ran out of its 32 registers for the 16
// accumulators and spilled a weight vector to the stack every group (M
// batched 1.25 -> 0.77 M images/s after an unrelated change to the driver).
template <size_t kBlocks>
HWY_NOINLINE void DotTile(const int8_t* HWY_RESTRICT w, size_t block_bytes,
                          const uint8_t* HWY_RESTRICT x, size_t pitch, size_t groups,
                          __m512i* HWY_RESTRICT sums) {
  // Each accumulator zeroed in its own register (asm): from one shared
  // zero, GCC 12 kept the last accumulator in it and copied it in and out
  // of the asm every group, two moves on vpdpbusd's ports (the loop alone
  // +7%; M batched +2%, within the bench's noise).
  __m512i acc[kTileImages][kBlocks];
  for (size_t i = 0; i < kTileImages; ++i) {
    for (size_t b = 0; b < kBlocks; ++b) asm("vpxord %0, %0, %0" : "=v"(acc[i][b]));
  }
  const size_t s1 = pitch, s3 = 3 * pitch, s5 = 5 * pitch, s7 = 7 * pitch;
  for (const int8_t* end = w + 64 * groups; w < end; w += 64, x += 4) {
    __m512i wv[kBlocks];
    for (size_t b = 0; b < kBlocks; ++b) wv[b] = _mm512_loadu_si512(w + b * block_bytes);
    const size_t offsets[kTileImages] = {0, s1, 2 * s1, s3, 4 * s1, s5, 2 * s3, s7};
    for (size_t i = 0; i < kTileImages; ++i) {
      int32_t four;
      std::memcpy(&four, x + offsets[i], 4);
      const __m512i a = _mm512_set1_epi32(four);
      for (size_t b = 0; b < kBlocks; ++b) acc[i][b] = Dpbusd(acc[i][b], a, wv[b]);
    }
  }
  for (size_t i = 0; i < kTileImages; ++i) {
    for (size_t b = 0; b < kBlocks; ++b) sums[kBlocks * i + b] = acc[i][b];
  }
}

// One layer for `images` activation vectors at in + n * pitch, read in
// whole tiles (up to `images` rounded up to kTileImages; the extra images'
// sums are dropped) and up to in_size rounded up to 4 bytes (the weights
// past in_size are zero): epilogue(n, first_row, requant, sums) per image
// and 16-row block. Two blocks at a time (their weights stay in L1 and
// their Requant16 in registers) over every image tile.
template <class Epilogue>
HWY_INLINE void DenseTiles(const DenseI8& layer, const uint8_t* in, size_t pitch, size_t images,
                           Epilogue epilogue) {
  const size_t groups = (layer.in_size + 3) / 4, block_bytes = 64 * groups;
  const uint32_t blocks = (layer.out_size + 15) / 16;
  __m512i sums[2 * kTileImages];
  for (uint32_t b = 0; b < blocks; b += 2) {
    const uint32_t tile_blocks = blocks - b < 2 ? 1 : 2;
    const int8_t* w = PackedWeights(layer) + b * block_bytes;
    Requant16 requant[2];
    for (uint32_t t = 0; t < tile_blocks; ++t) {
      const uint32_t j = 16 * (b + t);
      requant[t] = LoadRequant16(layer, j, layer.out_size - j < 16 ? layer.out_size - j : 16);
    }
    for (size_t n = 0; n < images; n += kTileImages) {
      if (tile_blocks == 2) {
        DotTile<2>(w, block_bytes, in + n * pitch, pitch, groups, sums);
      } else {
        DotTile<1>(w, block_bytes, in + n * pitch, pitch, groups, sums);
      }
      const size_t count = images - n < kTileImages ? images - n : kTileImages;
      for (size_t i = 0; i < count; ++i) {
        for (uint32_t t = 0; t < tile_blocks; ++t) {
          epilogue(n + i, 16 * (b + t), requant[t], sums[tile_blocks * i + t]);
        }
      }
    }
  }
}

// The forward pass of `images` images in tiles; act_a and act_b hold
// `images` rounded up to kTileImages vectors. Pixels are read in place
// when they fill whole tiles and groups, else (the last tile would read
// past them) from a copy in act_b.
HWY_INLINE void ForwardTiles(const DenseI8* layers, size_t count, const uint8_t* pixels,
                             size_t images, uint8_t* act_a, uint8_t* act_b, size_t pitch,
                             int32_t* logits) {
  const size_t in_size = layers[0].in_size;
  const uint8_t* in = pixels;
  size_t in_pitch = in_size;
  if (in_size % 4 != 0 || images % kTileImages != 0) {
    for (size_t n = 0; n < images; ++n) std::memcpy(act_b + n * pitch, pixels + n * in_size, in_size);
    in = act_b;
    in_pitch = pitch;
  }
  uint8_t* out = act_a;
  for (size_t i = 0; i + 1 < count; ++i) {
    const DenseI8& layer = layers[i];
    DenseTiles(layer, in, in_pitch, images,
               [&](size_t n, uint32_t j, const Requant16& requant, __m512i sums) {
                 StoreU8x16(requant, sums, out + n * pitch + j);
               });
    in = out;
    in_pitch = pitch;
    out = out == act_a ? act_b : act_a;
  }
  const DenseI8& last = layers[count - 1];
  DenseTiles(last, in, in_pitch, images,
             [&](size_t n, uint32_t j, const Requant16& requant, __m512i sums) {
               StoreI32x16(requant, last.relu, sums, logits + n * last.out_size + j);
             });
}

// Batched forward pass in tiles of 8 images; layers without packed weights
// (int16/int4, or a target forced after load) and the last 1 to 3 images
// run batch 1.
HWY_INLINE void ForwardBatch(const DenseI8* layers, size_t count, const uint8_t* pixels,
                             size_t images, uint8_t* act_a, uint8_t* act_b, size_t pitch,
                             int32_t* logits) {
  const size_t in_size = layers[0].in_size, out_size = layers[count - 1].out_size;
  bool tiles = true;
  for (size_t i = 0; i < count; ++i) tiles &= PackedWeights(layers[i]) != nullptr;
  size_t tiled = 0;
  if (tiles) {
    tiled = images % kTileImages < kTileMinImages ? images - images % kTileImages : images;
  }
  // Tiles use vectors 0..tiled-1 of each scratch buffer, rounded up to a
  // tile, batch 1 image n its own vector n (only when `tiled` fills whole
  // tiles): within BatchScratchVectors(images).
  if (tiled > 0) ForwardTiles(layers, count, pixels, tiled, act_a, act_b, pitch, logits);
  for (size_t n = tiled; n < images; ++n) {
    ForwardI8Impl(layers, count, pixels + n * in_size, act_a + n * pitch, act_b + n * pitch,
                  logits + n * out_size);
  }
}
