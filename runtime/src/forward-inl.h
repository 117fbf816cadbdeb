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

#include <type_traits>

#include "hwy/highway.h"
#include "forward_schemes-inl.h"  // int16 and int4 weight layers
#include "kernels.h"

HWY_BEFORE_NAMESPACE();
namespace edgemlp {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The entry points, defined at the end; kernel files may call them.
void ForwardI8Impl(const DenseI8* layers, size_t count, const uint8_t* pixels, uint8_t* act_a,
                   uint8_t* act_b, int32_t* logits);

// One kernel family per target (each defines kRowBlock and DotRows; see
// kernels_generic-inl.h), plus the Arm dot product where the CPU has it.
// DotRows and DotRows4x2 take the layer's input mode as a template
// argument: how the family multiplies the u8 activations.
enum class InputMode {
  kAsIs,     // as they are
  kPaired,   // as they are, x86 without VNNI, |w| <= 32: two pmaddubsw
             // products summed in int16 before each widening to int32
  kSigned,   // as s8 a - 128: the kernels return sum (a - 128) * w and the
             // driver adds the row's 128 * sum(w) back
             // (DenseI8::signed_input_compensation, set at load)
  kAvxVnni,  // x86 AVX2 target on a CPU with AVX-VNNI: vpdpbusd ymm
};
template <InputMode kMode>
using Mode = std::integral_constant<InputMode, kMode>;
// A family with more than kAsIs defines EDGEMLP_INPUT_MODES and
// WithInputMode(layer, body), which calls body(Mode<m>()) with the mode m
// its kernels use for that layer: decided once per layer, compiled once
// per mode.
// A family that re-lays weights out at load defines EDGEMLP_PACKS_WEIGHTS,
// PackedBytes(layer) and PackLayer(layer, dst) (int8 layers only), and
// reads PackedWeights(layer).
// The layer's weights as packed by this target's PackLayer at load, or null
// (not packed, or packed for another target).
HWY_INLINE const int8_t* PackedWeights(const DenseI8& layer) {
  return layer.packed_target == HWY_TARGET ? layer.packed_weights : nullptr;
}

#undef EDGEMLP_PACKS_WEIGHTS
#undef EDGEMLP_INPUT_MODES
#undef EDGEMLP_X86_U8_ROWS4
#undef EDGEMLP_X86_GROUPS
#if HWY_TARGET == HWY_AVX3_DL
#include "kernels_vnni-inl.h"
#elif HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || \
    HWY_TARGET == HWY_SSSE3
#include "kernels_x86-inl.h"
#elif HWY_TARGET == HWY_NEON
#include "kernels_neon-inl.h"  // Pi 3/4, armhf: NeonDense
#include "kernels_sdot-inl.h"  // Pi 5: SdotDense, EDGEMLP_SDOT, packs weights
#else
#include "kernels_generic-inl.h"
#endif

#ifndef EDGEMLP_PACKS_WEIGHTS
// This target's kernels read the blob's rows.
HWY_INLINE size_t PackedBytes(const DenseI8&) { return 0; }
HWY_INLINE void PackLayer(const DenseI8&, int8_t*) {}
#endif

#ifndef EDGEMLP_INPUT_MODES
template <class Body>
HWY_INLINE void WithInputMode(const DenseI8&, Body body) {
  body(Mode<InputMode::kAsIs>());
}
#endif

// A row's dot product with the compensation a signed-input kernel needs.
template <InputMode kMode>
HWY_INLINE int32_t Compensated(const DenseI8& layer, uint32_t row, int32_t dot) {
  return kMode == InputMode::kSigned ? dot + layer.signed_input_compensation[row] : dot;
}

#if HWY_TARGET == HWY_NEON
// The Arm kernels: sdot where the CPU has it and the weights were packed
// for it at load, else smull/smlal2/sadalp on the blob's rows; both need
// the compensation terms.
// store(image, first_row, rows, epilogue terms, dots) per 4 rows.
template <class Store>
HWY_INLINE bool ArmDense(const DenseI8& layer, const uint8_t* HWY_RESTRICT in, size_t pitch,
                         size_t images, Store store) {
  if (layer.weight_type != WeightType::kI8 || layer.signed_input_compensation == nullptr) {
    return false;
  }
#if EDGEMLP_SDOT
  const int8_t* packed = PackedWeights(layer);
  if (packed != nullptr && internal::UseArmDotProd()) {
    SdotDense(layer, packed, in, pitch, images, store);
    return true;
  }
#endif
  NeonDense(layer, in, pitch, images, store);
  return true;
}
#endif

// Calls epilogue(row, dot) for every output row, kRowBlock rows at a time so
// one activation load feeds several weight rows.
template <InputMode kMode, class Epilogue>
HWY_INLINE void DenseRowsAs(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                            Epilogue epilogue) {
  int32_t dots[kRowBlock];
  const size_t stride = layer.stride;
  uint32_t j = 0;
  for (; j + kRowBlock <= layer.out_size; j += kRowBlock) {
    DotRows<kRowBlock, kMode>(in, layer.weights + j * stride, stride, dots);
    for (uint32_t r = 0; r < kRowBlock; ++r) {
      epilogue(j + r, Compensated<kMode>(layer, j + r, dots[r]));
    }
  }
#if HWY_TARGET == HWY_AVX3_DL
  if (j < layer.out_size) {
    DotRowsTail(in, layer.weights + j * stride, stride, layer.out_size - j, dots);
    for (uint32_t r = 0; j + r < layer.out_size; ++r) epilogue(j + r, dots[r]);
  }
#else
  for (; j < layer.out_size; ++j) {
    DotRows<1, kMode>(in, layer.weights + j * stride, stride, dots);
    epilogue(j, Compensated<kMode>(layer, j, dots[0]));
  }
#endif
}

template <class Epilogue>
HWY_INLINE void DenseRows(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                          Epilogue epilogue) {
  WithInputMode(layer, [&](auto mode) { DenseRowsAs<decltype(mode)::value>(layer, in, epilogue); });
}

// The epilogues are the reference's own functions (blob_format.h).
HWY_INLINE void DenseToU8(const DenseI8& layer, const uint8_t* in,
                          uint8_t* out) {
  if (SchemeDenseToU8(layer, in, out)) return;
#if HWY_TARGET == HWY_NEON
  if (ArmDense(layer, in, 0, 1, [&](size_t, uint32_t j, uint32_t rows, const Rows4& p, int32x4_t dots) {
        StoreU8Rows4(p, dots, rows, out + j);
      })) {
    return;
  }
#endif
#if HWY_TARGET == HWY_AVX3_DL
  if (DenseRows16(layer, in, [&](uint32_t j, __m512i sums, uint32_t rows) {
        StoreU8x16(layer, j, sums, rows, out);
      })) {
    return;
  }
#endif
#if EDGEMLP_X86_GROUPS
  U8Block block;
  if (DenseGroups(
          layer, in, 0, 1, [&](uint32_t j) { BeginU8Block(layer, j, &block); },
          [&](size_t, uint32_t j, const VI32* acc) {
            StoreU8Block(layer, j, block, acc, out + j);
          })) {
    return;
  }
#endif
#if EDGEMLP_X86_U8_ROWS4
  WithInputMode(layer, [&](auto mode) {
    DenseToU8Rows4<decltype(mode)::value>(layer, in, 0, 1, out);
  });
  return;
#endif
  DenseRows(layer, in, [&](uint32_t j, int32_t dot) {
    out[j] = RequantizeToU8(dot + layer.bias[j], layer.requant[2 * j],
                            layer.requant[2 * j + 1]);
  });
}

HWY_INLINE void DenseToI32(const DenseI8& layer, const uint8_t* in,
                           int32_t* out) {
  if (SchemeDenseToI32(layer, in, out)) return;
#if HWY_TARGET == HWY_NEON
  if (ArmDense(layer, in, 0, 1, [&](size_t, uint32_t j, uint32_t rows, const Rows4& p, int32x4_t dots) {
        StoreI32Rows4(p, dots, rows, layer.relu, out + j);
      })) {
    return;
  }
#endif
#if HWY_TARGET == HWY_AVX3_DL
  if (DenseRows16(layer, in, [&](uint32_t j, __m512i sums, uint32_t rows) {
        StoreI32x16(layer, j, sums, rows, out);
      })) {
    return;
  }
#endif
#if EDGEMLP_X86_GROUPS
  if (DenseGroups(
          layer, in, 0, 1, [](uint32_t) {},
          [&](size_t, uint32_t j, const VI32* acc) { StoreI32Block(layer, j, acc, out + j); })) {
    return;
  }
#endif
  DenseRows(layer, in, [&](uint32_t j, int32_t dot) {
    out[j] = RequantizeToI32(dot + layer.bias[j], layer.requant[2 * j],
                             layer.requant[2 * j + 1], layer.relu);
  });
}

void ForwardI8Impl(const DenseI8* layers, size_t count, const uint8_t* pixels, uint8_t* act_a,
                   uint8_t* act_b, int32_t* logits) {
  internal::RunForward(layers, count, pixels, act_a, act_b, logits, DenseToU8, DenseToI32);
}

#if HWY_TARGET != HWY_AVX3_DL  // (kernels_vnni-inl.h has its own)
// Batched: calls epilogue(image, row, dot) for `images` activation vectors
// at in + image * pitch. Register blocks of 4 rows x 2 images; each 4-row
// weight block is reused from L1 for every pair of images.
template <InputMode kMode, class Epilogue>
HWY_INLINE void DenseRowsBatchAs(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                                 size_t pitch, size_t images, Epilogue epilogue) {
  const size_t stride = layer.stride;
  const uint32_t out_size = layer.out_size;
  int32_t dots[8];
  uint32_t j = 0;
  for (; j + 4 <= out_size; j += 4) {
    const int8_t* w = layer.weights + j * stride;
    size_t n = 0;
    for (; n + 2 <= images; n += 2) {
      DotRows4x2<kMode>(in + n * pitch, in + (n + 1) * pitch, w, stride, dots);
      for (uint32_t r = 0; r < 4; ++r) {
        epilogue(n, j + r, Compensated<kMode>(layer, j + r, dots[r]));
        epilogue(n + 1, j + r, Compensated<kMode>(layer, j + r, dots[4 + r]));
      }
    }
    if (n < images) {
      DotRows<4, kMode>(in + n * pitch, w, stride, dots);
      for (uint32_t r = 0; r < 4; ++r) {
        epilogue(n, j + r, Compensated<kMode>(layer, j + r, dots[r]));
      }
    }
  }
  for (; j < out_size; ++j) {
    for (size_t n = 0; n < images; ++n) {
      DotRows<1, kMode>(in + n * pitch, layer.weights + j * stride, stride, dots);
      epilogue(n, j, Compensated<kMode>(layer, j, dots[0]));
    }
  }
}

template <class Epilogue>
HWY_INLINE void DenseRowsBatch(const DenseI8& layer, const uint8_t* HWY_RESTRICT in,
                               size_t pitch, size_t images, Epilogue epilogue) {
  WithInputMode(layer, [&](auto mode) {
    DenseRowsBatchAs<decltype(mode)::value>(layer, in, pitch, images, epilogue);
  });
}

// int16/int4 layers have batch-1 kernels only: run them image by image.
// (Network widens int4 layers to int8 rows at load; see network.cc.)
HWY_INLINE void DenseToU8Batch(const DenseI8& layer, const uint8_t* in, size_t pitch, size_t images,
                               uint8_t* out) {
  if (layer.weight_type != WeightType::kI8) {
    for (size_t n = 0; n < images; ++n) DenseToU8(layer, in + n * pitch, out + n * pitch);
    return;
  }
#if HWY_TARGET == HWY_NEON
  if (ArmDense(layer, in, pitch, images,
               [&](size_t n, uint32_t j, uint32_t rows, const Rows4& p, int32x4_t dots) {
                 StoreU8Rows4(p, dots, rows, out + n * pitch + j);
               })) {
    return;
  }
#endif
#if EDGEMLP_X86_GROUPS
  U8Block block;
  if (DenseGroups(
          layer, in, pitch, images, [&](uint32_t j) { BeginU8Block(layer, j, &block); },
          [&](size_t n, uint32_t j, const VI32* acc) {
            StoreU8Block(layer, j, block, acc, out + n * pitch + j);
          })) {
    return;
  }
#endif
#if EDGEMLP_X86_U8_ROWS4
  WithInputMode(layer, [&](auto mode) {
    DenseToU8Rows4<decltype(mode)::value>(layer, in, pitch, images, out);
  });
  return;
#endif
  DenseRowsBatch(layer, in, pitch, images, [&](size_t n, uint32_t j, int32_t dot) {
    out[n * pitch + j] = RequantizeToU8(dot + layer.bias[j], layer.requant[2 * j],
                                        layer.requant[2 * j + 1]);
  });
}

HWY_INLINE void DenseToI32Batch(const DenseI8& layer, const uint8_t* in, size_t pitch,
                                size_t images, int32_t* out) {
  if (layer.weight_type != WeightType::kI8) {
    for (size_t n = 0; n < images; ++n) {
      DenseToI32(layer, in + n * pitch, out + n * layer.out_size);
    }
    return;
  }
#if HWY_TARGET == HWY_NEON
  if (ArmDense(layer, in, pitch, images,
               [&](size_t n, uint32_t j, uint32_t rows, const Rows4& p, int32x4_t dots) {
                 StoreI32Rows4(p, dots, rows, layer.relu, out + n * layer.out_size + j);
               })) {
    return;
  }
#endif
#if EDGEMLP_X86_GROUPS
  if (DenseGroups(layer, in, pitch, images, [](uint32_t) {},
                  [&](size_t n, uint32_t j, const VI32* acc) {
                    StoreI32Block(layer, j, acc, out + n * layer.out_size + j);
                  })) {
    return;
  }
#endif
  DenseRowsBatch(layer, in, pitch, images, [&](size_t n, uint32_t j, int32_t dot) {
    out[n * layer.out_size + j] = RequantizeToI32(dot + layer.bias[j], layer.requant[2 * j],
                                                  layer.requant[2 * j + 1], layer.relu);
  });
}

HWY_INLINE void ForwardBatch(const DenseI8* layers, size_t count, const uint8_t* pixels,
                             size_t images, uint8_t* act_a, uint8_t* act_b, size_t pitch,
                             int32_t* logits) {
  internal::RunForwardBatch(layers, count, pixels, images, act_a, act_b, pitch, logits,
                            DenseToU8Batch, DenseToI32Batch);
}
#endif

void DenseI8ToU8Impl(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  DenseToU8(layer, in, out);
}

void DenseI8ToI32Impl(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  DenseToI32(layer, in, out);
}

void ForwardI8BatchImpl(const DenseI8* layers, size_t count,
                        const uint8_t* pixels, size_t images, uint8_t* act_a,
                        uint8_t* act_b, size_t pitch, int32_t* logits) {
  ForwardBatch(layers, count, pixels, images, act_a, act_b, pitch, logits);
}

int64_t CurrentTargetImpl() { return HWY_TARGET; }

size_t PackedWeightBytesImpl(const DenseI8& layer) {
  return layer.weight_type == WeightType::kI8 ? PackedBytes(layer) : 0;
}

void PackWeightsImpl(const DenseI8& layer, int8_t* dst) {
  if (PackedWeightBytesImpl(layer) != 0) PackLayer(layer, dst);
}

}  // namespace HWY_NAMESPACE
}  // namespace edgemlp
HWY_AFTER_NAMESPACE();

#endif  // EDGEMLP_FORWARD_INL_H_
