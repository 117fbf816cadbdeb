// Arm dot product (sdot, FEAT_DotProd: the Pi 5's Cortex-A76), which Highway
// 1.0.3 has no op for. Included by forward-inl.h inside
// edgemlp::HWY_NAMESPACE, once per target, so no include guard; it defines
// EDGEMLP_SDOT (0 or 1) for the current target.
//
// sdot multiplies s8 x s8 in groups of four and adds into s32, exactly.
// Activations are u8, so each is fed as s8 (a - 128, a flip of the top bit)
// and the row's 128 * sum(w) (DenseI8::signed_input_compensation, computed
// at load) is added back: sum a*w = sum (a-128)*w + 128 * sum w.
// |sum (a-128)*w| <= 784 * 128 * 127, far from int32 limits.

#undef EDGEMLP_SDOT
#if HWY_TARGET == HWY_NEON && defined(__ARM_FEATURE_DOTPROD)
#define EDGEMLP_SDOT 1

// dots[r] = sum_k (act[k] - 128) * w[r * stride + k] for kRows rows.
template <size_t kRows>
HWY_INLINE void SdotRows(const uint8_t* HWY_RESTRICT act, const int8_t* HWY_RESTRICT w,
                         size_t stride, int32_t* HWY_RESTRICT dots) {
  const hn::Full128<uint8_t> du8;
  const hn::Full128<int8_t> di8;
  const hn::Full128<int32_t> d32;
  const auto top_bit = hn::Set(du8, 0x80);
  int32x4_t acc[kRows];
  for (size_t r = 0; r < kRows; ++r) acc[r] = hn::Zero(d32).raw;
  size_t i = 0;
  for (; i + 16 <= stride; i += 16) {
    const auto a = hn::BitCast(di8, hn::Xor(hn::LoadU(du8, act + i), top_bit));
    for (size_t r = 0; r < kRows; ++r) {
      acc[r] = vdotq_s32(acc[r], a.raw, hn::LoadU(di8, w + r * stride + i).raw);
    }
  }
  for (size_t r = 0; r < kRows; ++r) {
    int32_t sum = hn::GetLane(hn::SumOfLanes(d32, hn::Vec128<int32_t>(acc[r])));
    // Blob strides are multiples of 64, so this tail is empty in practice.
    for (size_t k = i; k < stride; ++k) {
      sum += (static_cast<int32_t>(act[k]) - 128) * w[r * stride + k];
    }
    dots[r] = sum;
  }
}

// DenseRows (forward-inl.h) for this target: four rows per activation load.
template <class Epilogue>
HWY_INLINE void DenseRowsSdot(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                              Epilogue epilogue) {
  const int32_t* compensation = layer.signed_input_compensation;
  int32_t dots[4];
  uint32_t j = 0;
  for (; j + 4 <= layer.out_size; j += 4) {
    SdotRows<4>(in, layer.weights + static_cast<size_t>(j) * layer.stride, layer.stride, dots);
    for (uint32_t r = 0; r < 4; ++r) epilogue(j + r, dots[r] + compensation[j + r]);
  }
  for (; j < layer.out_size; ++j) {
    SdotRows<1>(in, layer.weights + static_cast<size_t>(j) * layer.stride, layer.stride, dots);
    epilogue(j, dots[0] + compensation[j]);
  }
}

#else
#define EDGEMLP_SDOT 0
#endif
