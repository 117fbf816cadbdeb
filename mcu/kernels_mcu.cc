// The int8 layer kernels of the MCU core. The core is known at compile
// time, so each build has one family: Helium (MVE) on Armv8.1-M, SMLAD on
// cores with the DSP extension (Armv7E-M, Armv8-M Mainline), else the
// scalar reference itself (Armv6-M, Armv7-M). Same math as the reference,
// acc = bias + sum in[k] * w[k] in int32 (exact: the blob validator bounds
// it, so the summation order does not matter), then the shared epilogues of
// blob_format.h: every family matches the reference bit for bit.
// int16 and int4 layers run the reference on every core.
#include <cstring>

#include "kernels.h"
#include "mcu.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define EDGEMLP_MCU_HELIUM 1
#elif defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define EDGEMLP_MCU_DSP 1
#endif

namespace edgemlp::mcu {

namespace {

using edgemlp::internal::DenseI8ToI32Ref;
using edgemlp::internal::DenseI8ToU8Ref;

// Both kernels compute kRows rows per pass, so each activation load and
// widening serves kRows weight rows (CMSIS-NN's fully connected kernel does
// the same), and walk the rows with post-incremented pointers.

#if defined(EDGEMLP_MCU_HELIUM)
constexpr uint32_t kRows = 4;  // 6 of the 8 vector registers

// 16 MACs per VMLADAVA (s8 x s8 summed across the vector into an s32). The
// u8 activation a goes in as a - 128 (a ^ 0x80), and 128 * sum(w) of the
// row comes back through Correction. Rows are a multiple of 64 bytes.
template <uint32_t kCount>
void DotRows(const uint8_t* in, const int8_t* w, uint32_t stride, int32_t* sums) {
  const uint8x16_t flip = vdupq_n_u8(0x80);
  const int8_t* row[kCount];
  int32_t acc[kCount];
  for (uint32_t r = 0; r < kCount; ++r) {
    row[r] = w + r * stride;
    acc[r] = 0;
  }
  for (const uint8_t* end = in + stride; in != end; in += 16) {
    const int8x16_t a = vreinterpretq_s8_u8(veorq_u8(vldrbq_u8(in), flip));
#pragma GCC unroll 8  // the row loop, into kCount accumulators in registers
    for (uint32_t r = 0; r < kCount; ++r) {
      acc[r] = vmladavaq_s8(acc[r], a, vldrbq_s8(row[r]));
      row[r] += 16;
    }
  }
  for (uint32_t r = 0; r < kCount; ++r) sums[r] = acc[r];
}

// 128 * sum of the row's weights (padding included: a zero activation past
// in_size enters as -128 and this cancels it).
int32_t Correction(const DenseI8& layer, uint32_t row) {
  return layer.signed_input_compensation[row];
}
#elif defined(EDGEMLP_MCU_DSP)
// 3 rows: 12 registers (accumulators, row pointers, the activation pair);
// 4 rows spill row pointers to the stack on Armv7E-M's 14 registers.
constexpr uint32_t kRows = 3;

// Two MACs per SMLAD (two s16 x s16 products added to an s32): UXTB16 and
// SXTB16 widen bytes 0 and 2 of a word, and with a rotate by 8 bytes 1 and
// 3, to u16/s16 pairs (255 * 127 fits s16 x s16). The ACLE intrinsics have
// no rotate operand and GCC 12 adds a ROR for it: one instruction each.
uint32_t Load32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // rows and activations are word aligned: one LDR
  return v;
}
int16x2_t Even(uint32_t a) { return static_cast<int16x2_t>(__uxtb16(a)); }
int16x2_t Odd(uint32_t a) {
  int16x2_t r;
  asm("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(a));
  return r;
}
int16x2_t EvenW(uint32_t w) { return __sxtb16(static_cast<int8x4_t>(w)); }
int16x2_t OddW(uint32_t w) {
  int16x2_t r;
  asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
  return r;
}

template <uint32_t kCount>
void DotRows(const uint8_t* in, const int8_t* w, uint32_t stride, int32_t* sums) {
  const int8_t* row[kCount];
  int32_t acc[kCount];
  for (uint32_t r = 0; r < kCount; ++r) {
    row[r] = w + r * stride;
    acc[r] = 0;
  }
  for (const uint8_t* end = in + stride; in != end; in += 4) {
    const uint32_t a = Load32(in);
    const int16x2_t a_even = Even(a), a_odd = Odd(a);
#pragma GCC unroll 8  // the row loop, into kCount accumulators in registers
    for (uint32_t r = 0; r < kCount; ++r) {
      const uint32_t x = Load32(row[r]);
      row[r] += 4;
      acc[r] = __smlad(a_even, EvenW(x), acc[r]);
      acc[r] = __smlad(a_odd, OddW(x), acc[r]);
    }
  }
  for (uint32_t r = 0; r < kCount; ++r) sums[r] = acc[r];
}

int32_t Correction(const DenseI8&, uint32_t) { return 0; }
#endif

#if defined(EDGEMLP_MCU_HELIUM) || defined(EDGEMLP_MCU_DSP)
// Calls emit(row, acc) for every row of an int8 layer, kRows rows per pass
// and the last out_size % kRows one at a time. The kernels read whole rows:
// `in`'s padding is zero (RunForward).
template <class Emit>
void Rows(const DenseI8& layer, const uint8_t* in, Emit emit) {
  const uint32_t stride = layer.stride;
  int32_t sums[kRows];
  uint32_t j = 0;
  for (; j + kRows <= layer.out_size; j += kRows) {
    DotRows<kRows>(in, layer.weights + size_t{j} * stride, stride, sums);
    for (uint32_t r = 0; r < kRows; ++r) {
      emit(j + r, layer.bias[j + r] + Correction(layer, j + r) + sums[r]);
    }
  }
  for (; j < layer.out_size; ++j) {
    DotRows<1>(in, layer.weights + size_t{j} * stride, stride, sums);
    emit(j, layer.bias[j] + Correction(layer, j) + sums[0]);
  }
}

void DenseToU8(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  if (layer.weight_type != WeightType::kI8) return DenseI8ToU8Ref(layer, in, out);
  Rows(layer, in, [&](uint32_t j, int32_t acc) {
    out[j] = RequantizeToU8(acc, layer.requant[2 * j], layer.requant[2 * j + 1]);
  });
}

void DenseToI32(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  if (layer.weight_type != WeightType::kI8) return DenseI8ToI32Ref(layer, in, out);
  Rows(layer, in, [&](uint32_t j, int32_t acc) {
    out[j] = RequantizeToI32(acc, layer.requant[2 * j], layer.requant[2 * j + 1], layer.relu);
  });
}
#else
// No DSP extension: the reference is the kernel.
void DenseToU8(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  DenseI8ToU8Ref(layer, in, out);
}
void DenseToI32(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  DenseI8ToI32Ref(layer, in, out);
}
#endif

}  // namespace

const char* KernelName() {
#if defined(EDGEMLP_MCU_HELIUM)
  return "helium";
#elif defined(EDGEMLP_MCU_DSP)
  return "dsp";
#else
  return "reference";
#endif
}

void ForwardMcu(const DenseI8* layers, size_t count, const uint8_t* pixels, uint8_t* act_a,
                uint8_t* act_b, int32_t* logits) {
  edgemlp::internal::RunForward(layers, count, pixels, act_a, act_b, logits, DenseToU8,
                                DenseToI32);
}

}  // namespace edgemlp::mcu
