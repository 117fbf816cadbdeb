// Arm NEON int8 kernels without the dot product (Pi 3/4 Cortex-A53/A72 and
// 32-bit Pi OS) and the Arm epilogue they share with kernels_sdot-inl.h.
// Included by forward-inl.h for the NEON target inside
// edgemlp::HWY_NAMESPACE (once per foreach_target pass, so no include
// guard). The reference is forward_ref.cc.
//
// u8 activations are fed as s8 (a - 128, a flip of the top bit) against s8
// weights in [-127, 127] (blob.cc rejects -128): smull + smlal2 put two
// products in each int16 lane, |sum| <= 2 * 128 * 127 = 32512, exact; sadalp
// adds lane pairs into int32. The row's 128 * sum(w)
// (DenseI8::signed_input_compensation, computed at load) restores
// sum a * w = sum (a - 128) * w + 128 * sum w. Row padding cancels: zero
// activations there contribute -128 * w, and the compensation sums the
// whole stride.

// Layers without compensation terms (none that Network::Load makes) take
// the widening kernels.
#include "kernels_generic-inl.h"

// Epilogue terms of 4 rows from j (the last block may hold fewer: its
// missing lanes repeat the last row and are never stored).
struct Rows4 {
  int32x4_t offset;      // bias + compensation
  int32x4_t multiplier;
  int32x4_t neg_shift;   // -shift: vrshl shifts right by it
};
HWY_INLINE Rows4 LoadRows4(const DenseI8& layer, uint32_t j, uint32_t rows) {
  int32_t bias[4], comp[4], requant[8];
  for (uint32_t r = 0; r < 4; ++r) {
    const uint32_t row = j + (r < rows ? r : rows - 1);
    bias[r] = layer.bias[row];
    comp[r] = layer.signed_input_compensation[row];
    requant[2 * r] = layer.requant[2 * row];
    requant[2 * r + 1] = layer.requant[2 * row + 1];
  }
  const int32x4x2_t pairs = vld2q_s32(requant);  // {multipliers, shifts}
  return Rows4{vaddq_s32(vld1q_s32(bias), vld1q_s32(comp)), pairs.val[0],
               vnegq_s32(pairs.val[1])};
}

// Requantize (blob_format.h) of 4 rows, saturated to int32: the products in
// int64 lanes; vrshl by -shift adds 2^(shift-1) before the arithmetic shift,
// exactly the reference's round half up (and it cannot overflow).
HWY_INLINE int32x4_t Requantize4(int32x4_t dots, const Rows4& p) {
  const int32x4_t acc = vaddq_s32(dots, p.offset);
  const int64x2_t lo = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(p.multiplier)),
                                  vmovl_s32(vget_low_s32(p.neg_shift)));
  const int64x2_t hi = vrshlq_s64(vmull_s32(vget_high_s32(acc), vget_high_s32(p.multiplier)),
                                  vmovl_s32(vget_high_s32(p.neg_shift)));
  return vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
}

// RequantizeToU8 of 4 rows: saturating narrowings clamp to [0, 255].
HWY_INLINE void StoreU8Rows4(const Rows4& p, int32x4_t dots, uint32_t rows,
                             uint8_t* HWY_RESTRICT out) {
  const int32x4_t q = Requantize4(dots, p);
  const uint8x8_t u8 = vqmovn_u16(vcombine_u16(vqmovun_s32(q), vdup_n_u16(0)));
  uint8_t tmp[8];
  vst1_u8(tmp, u8);
  std::memcpy(out, tmp, rows);  // out may be unaligned
}

// RequantizeToI32 of 4 rows (ReLU after the saturation gives the same).
HWY_INLINE void StoreI32Rows4(const Rows4& p, int32x4_t dots, uint32_t rows, bool relu,
                              int32_t* HWY_RESTRICT out) {
  int32x4_t q = Requantize4(dots, p);
  if (relu) q = vmaxq_s32(q, vdupq_n_s32(0));
  if (rows == 4) {
    vst1q_s32(out, q);
  } else {
    int32_t tmp[4];
    vst1q_s32(tmp, q);
    std::memcpy(out, tmp, rows * sizeof(int32_t));
  }
}

// Lane r = sum of acc[r]'s lanes (armv7 has no vpaddq).
HWY_INLINE int32x4_t SumRows4(const int32x4_t* acc) {
#if HWY_ARCH_ARM_A64
  return vpaddq_s32(vpaddq_s32(acc[0], acc[1]), vpaddq_s32(acc[2], acc[3]));
#else
  int32x2_t half[4];
  for (int r = 0; r < 4; ++r) half[r] = vadd_s32(vget_low_s32(acc[r]), vget_high_s32(acc[r]));
  return vcombine_s32(vpadd_s32(half[0], half[1]), vpadd_s32(half[2], half[3]));
#endif
}

// a, the activations a - 128, at p.
HWY_INLINE int8x16_t LoadSignedActivations(const uint8_t* HWY_RESTRICT p) {
  const hn::Full128<uint8_t> du8;
  const hn::Full128<int8_t> di8;
  return hn::BitCast(di8, hn::Xor(hn::LoadU(du8, p), hn::Set(du8, 0x80))).raw;
}

// acc += pairwise sums of a x w (see the top of this file).
HWY_INLINE int32x4_t MulAddPairs(int32x4_t acc, int8x16_t a, int8x16_t w) {
  int16x8_t pairs = vmull_s8(vget_low_s8(a), vget_low_s8(w));
#if HWY_ARCH_ARM_A64
  pairs = vmlal_high_s8(pairs, a, w);
#else
  pairs = vmlal_s8(pairs, vget_high_s8(a), vget_high_s8(w));
#endif
  return vpadalq_s16(acc, pairs);
}

// dots[n * kRows / 4 + q] lane r = sum_k (in_n[k] - 128) * w_{4q+r}[k] for
// kImages activation vectors (in + n * pitch) and kRows rows of w (rows <
// kRows: the last row repeats). Each weight load feeds every image, each
// activation load all rows.
template <size_t kImages, size_t kRows>
HWY_INLINE void NeonDot(const uint8_t* HWY_RESTRICT in, size_t pitch,
                        const int8_t* HWY_RESTRICT w, size_t stride, uint32_t rows,
                        int32x4_t* HWY_RESTRICT dots) {
  const int8_t* row[kRows];
  for (uint32_t r = 0; r < kRows; ++r) row[r] = w + (r < rows ? r : rows - 1) * stride;
  int32x4_t acc[kImages][kRows];
  for (size_t n = 0; n < kImages; ++n) {
    for (size_t r = 0; r < kRows; ++r) acc[n][r] = vdupq_n_s32(0);
  }
  // stride is a multiple of 64 bytes (the blob format): no tail.
  for (size_t k = 0; k < stride; k += 16) {
    int8x16_t a[kImages];
    for (size_t n = 0; n < kImages; ++n) a[n] = LoadSignedActivations(in + n * pitch + k);
    for (size_t r = 0; r < kRows; ++r) {
      const int8x16_t wr = vld1q_s8(row[r] + k);
      for (size_t n = 0; n < kImages; ++n) acc[n][r] = MulAddPairs(acc[n][r], a[n], wr);
    }
  }
  for (size_t n = 0; n < kImages; ++n) {
    for (size_t q = 0; q < kRows / 4; ++q) dots[n * (kRows / 4) + q] = SumRows4(&acc[n][4 * q]);
  }
}

// One int8 layer over `images` activation vectors (in + n * pitch):
// store(n, first_row, rows, epilogue terms, dots) per 4 rows and image.
// Blocks of 4 rows x 2 images; one image alone takes 8 rows per activation
// load, which keeps the A72's second NEON pipe (sadalp, eor) below the
// multiply pipe's 8 cycles per 64 MACs.
template <class Store>
HWY_INLINE void NeonDense(const DenseI8& layer, const uint8_t* HWY_RESTRICT in, size_t pitch,
                          size_t images, Store store) {
  const size_t stride = layer.stride;
  for (uint32_t j = 0; j < layer.out_size; j += 8) {
    const uint32_t rows8 = layer.out_size - j < 8 ? layer.out_size - j : 8;
    const uint32_t rows[2] = {rows8 < 4 ? rows8 : 4, rows8 > 4 ? rows8 - 4 : 0};
    const int8_t* w = layer.weights + size_t{j} * stride;
    Rows4 p[2];
    for (uint32_t q = 0; q < 2; ++q) {
      if (rows[q] != 0) p[q] = LoadRows4(layer, j + 4 * q, rows[q]);
    }
    int32x4_t dots[2];
    size_t n = 0;
    for (; n + 2 <= images; n += 2) {
      for (uint32_t q = 0; q < 2 && rows[q] != 0; ++q) {
        NeonDot<2, 4>(in + n * pitch, pitch, w + 4 * q * stride, stride, rows[q], dots);
        store(n, j + 4 * q, rows[q], p[q], dots[0]);
        store(n + 1, j + 4 * q, rows[q], p[q], dots[1]);
      }
    }
    if (n < images) {
      NeonDot<1, 8>(in + n * pitch, pitch, w, stride, rows8, dots);
      for (uint32_t q = 0; q < 2 && rows[q] != 0; ++q) store(n, j + 4 * q, rows[q], p[q], dots[q]);
    }
  }
}
