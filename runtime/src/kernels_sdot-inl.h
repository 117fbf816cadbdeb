// Arm dot product kernel (sdot, FEAT_DotProd: the Pi 5's Cortex-A76), which
// Highway 1.0.3 has no op for. Included by forward-inl.h for the NEON target
// after kernels_neon-inl.h (whose epilogue it uses), inside
// edgemlp::HWY_NAMESPACE, no include guard; defines EDGEMLP_SDOT (0 or 1:
// aarch64 only).
//
// The kernel is compiled for +dotprod whatever the build's baseline, and
// runs only where the CPU reports it (internal::UseArmDotProd: getauxval),
// so one aarch64 binary serves the Pi 3, 4 and 5.
//
// sdot multiplies s8 x s8 in groups of four and adds into s32, exactly; u8
// activations are fed as a - 128 and the row's 128 * sum(w) is added back, as
// in kernels_neon-inl.h. Weights come re-laid out at load (PackLayer
// below, through forward-inl.h's hook; layout in kernels.h): the by-element form
// sdot(acc, w, a[group g]) multiplies 4 rows' 4-byte groups by the same 4
// activations, so each int32 lane of an accumulator is one row's sum: no
// horizontal sums, and the epilogue requantizes 4 rows per vector.

#undef EDGEMLP_SDOT
#if HWY_ARCH_ARM_A64
#define EDGEMLP_SDOT 1
// arm_neon.h declares sdot for armv8.2-a+dotprod: the callers must have at
// least that; dynamic-dispatch builds add Highway's NEON features (+crypto).
// A baseline that has it already (-mcpu=cortex-a76) needs no attribute (a
// lower arch= would keep the baseline's inline helpers out).
#if defined(__ARM_FEATURE_DOTPROD)
#define EDGEMLP_SDOT_ATTR
#elif defined(HWY_TARGET_STR)
#define EDGEMLP_SDOT_ATTR __attribute__((target("arch=armv8.2-a+dotprod" HWY_TARGET_STR)))
#else
#define EDGEMLP_SDOT_ATTR __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

// acc[n][q] += rows 4q..4q+3 of the block . group G of image n's a.
template <int G, size_t kImages>
EDGEMLP_SDOT_ATTR HWY_INLINE void SdotGroup(int32x4_t (*acc)[4], const int8_t* HWY_RESTRICT w,
                                            const int8x16_t* a) {
  const int8x16x4_t v = vld1q_s8_x4(w + 64 * G);
  for (size_t n = 0; n < kImages; ++n) {
    acc[n][0] = vdotq_laneq_s32(acc[n][0], v.val[0], a[n], G);
    acc[n][1] = vdotq_laneq_s32(acc[n][1], v.val[1], a[n], G);
    acc[n][2] = vdotq_laneq_s32(acc[n][2], v.val[2], a[n], G);
    acc[n][3] = vdotq_laneq_s32(acc[n][3], v.val[3], a[n], G);
  }
}

// dots[4 * n + q] lane r = row 4q + r of a 16-row block . image n (a - 128).
// Batch 1 alternates two accumulator sets by 16-byte chunk: 8 independent
// chains cover sdot's latency on both pipes.
template <size_t kImages>
EDGEMLP_SDOT_ATTR HWY_INLINE void SdotBlock16(const uint8_t* HWY_RESTRICT in, size_t pitch,
                                              const int8_t* HWY_RESTRICT packed, size_t stride,
                                              int32x4_t* HWY_RESTRICT dots) {
  constexpr size_t kSets = kImages == 1 ? 2 : 1;
  int32x4_t acc[kSets][kImages][4];
  for (size_t s = 0; s < kSets; ++s) {
    for (size_t n = 0; n < kImages; ++n) {
      for (size_t q = 0; q < 4; ++q) acc[s][n][q] = vdupq_n_s32(0);
    }
  }
  // stride is a multiple of 64 bytes (the blob format): no tail.
  for (size_t k = 0; k < stride; k += 16 * kSets) {
    for (size_t s = 0; s < kSets; ++s, packed += 256) {
      int8x16_t a[kImages];
      for (size_t n = 0; n < kImages; ++n) {
        a[n] = LoadSignedActivations(in + n * pitch + k + 16 * s);
      }
      SdotGroup<0, kImages>(acc[s], packed, a);
      SdotGroup<1, kImages>(acc[s], packed, a);
      SdotGroup<2, kImages>(acc[s], packed, a);
      SdotGroup<3, kImages>(acc[s], packed, a);
    }
  }
  for (size_t n = 0; n < kImages; ++n) {
    for (size_t q = 0; q < 4; ++q) {
      dots[4 * n + q] = kSets == 1 ? acc[0][n][q] : vaddq_s32(acc[0][n][q], acc[kSets - 1][n][q]);
    }
  }
}

// The load-time hook (forward-inl.h): int8 layers in the sdot layout, only
// on CPUs that run it.
#define EDGEMLP_PACKS_WEIGHTS 1
HWY_INLINE size_t PackedBytes(const DenseI8& layer) {
  return internal::ArmDotProdSupported() ? internal::SdotPackedBytes(layer) : 0;
}
HWY_INLINE void PackLayer(const DenseI8& layer, int8_t* dst) {
  internal::PackSdotWeights(layer, dst);
}

// NeonDense's contract on the packed weights (PackedWeights(layer)): store(n, first_row, rows,
// epilogue terms, dots) per 4 rows and image. Blocks of 16 rows x 4 images,
// the last images one at a time.
template <class Store>
EDGEMLP_SDOT_ATTR HWY_NOINLINE void SdotDense(const DenseI8& layer,
                                             const int8_t* HWY_RESTRICT weights,
                                             const uint8_t* HWY_RESTRICT in, size_t pitch,
                                             size_t images, Store store) {
  const size_t stride = layer.stride;
  for (uint32_t j = 0; j < layer.out_size; j += internal::kSdotRows) {
    const int8_t* packed = weights + size_t{j} * stride;
    uint32_t rows[4];
    Rows4 p[4];
    for (uint32_t q = 0; q < 4; ++q) {
      const uint32_t first = j + 4 * q;
      rows[q] = first >= layer.out_size ? 0 : (layer.out_size - first < 4 ? layer.out_size - first : 4);
      if (rows[q] != 0) p[q] = LoadRows4(layer, first, rows[q]);
    }
    int32x4_t dots[16];
    size_t n = 0;
    for (; n + 4 <= images; n += 4) {
      SdotBlock16<4>(in + n * pitch, pitch, packed, stride, dots);
      for (size_t m = 0; m < 4; ++m) {
        for (uint32_t q = 0; q < 4 && rows[q] != 0; ++q) {
          store(n + m, j + 4 * q, rows[q], p[q], dots[4 * m + q]);
        }
      }
    }
    for (; n < images; ++n) {
      SdotBlock16<1>(in + n * pitch, pitch, packed, stride, dots);
      for (uint32_t q = 0; q < 4 && rows[q] != 0; ++q) store(n, j + 4 * q, rows[q], p[q], dots[q]);
    }
  }
}

#else
#define EDGEMLP_SDOT 0
#endif
