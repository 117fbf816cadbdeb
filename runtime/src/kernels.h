// Internal: the int8 layer kernels, the scalar reference and the forward
// driver they share. Not installed; tests include it to check every target.
#ifndef EDGEMLP_RUNTIME_SRC_KERNELS_H_
#define EDGEMLP_RUNTIME_SRC_KERNELS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "edgemlp/runtime.h"

namespace edgemlp {
namespace internal {

// Layer kernels. `in` holds layer.stride bytes whose tail [in_size, stride)
// is zero (the SIMD kernels read whole rows; the reference reads in_size).
// DenseI8ToU8 writes out_size u8 activations; DenseI8ToI32 out_size logits.
void DenseI8ToU8Ref(const DenseI8& layer, const uint8_t* in, uint8_t* out);
void DenseI8ToI32Ref(const DenseI8& layer, const uint8_t* in, int32_t* out);
// Highway versions, dispatched on every call (for tests and per-layer
// timing; Network::Predict dispatches once per forward pass instead).
void DenseI8ToU8(const DenseI8& layer, const uint8_t* in, uint8_t* out);
void DenseI8ToI32(const DenseI8& layer, const uint8_t* in, int32_t* out);

// Packed int4 (WeightType::kI4): the signed low and high nibble of a byte.
inline int32_t LowNibble(int8_t b) {
  return static_cast<int32_t>(static_cast<int8_t>(static_cast<uint8_t>(b) << 4)) >> 4;
}
inline int32_t HighNibble(int8_t b) { return static_cast<int32_t>(b) >> 4; }

// Reference accumulator (bias + dot) of one row of an int16 or int4 layer
// (forward_schemes_ref.cc); the int8 reference is in forward_ref.cc.
int32_t SchemeDotRef(const DenseI8& layer, const uint8_t* in, uint32_t row);

// Whole forward passes: pixels -> logits. act_a/act_b: max-stride scratch.
void ForwardI8Ref(const DenseI8* layers, size_t count, const uint8_t* pixels,
                  uint8_t* act_a, uint8_t* act_b, int32_t* logits);
void ForwardI8(const DenseI8* layers, size_t count, const uint8_t* pixels,
               uint8_t* act_a, uint8_t* act_b, int32_t* logits);
// Batched: pixels holds `images` inputs back to back, logits gets
// images x out_size; act_a/act_b hold BatchScratchVectors(images) vectors of
// `pitch` bytes (pitch >= max stride, a multiple of 64).
void ForwardI8Batch(const DenseI8* layers, size_t count, const uint8_t* pixels,
                    size_t images, uint8_t* act_a, uint8_t* act_b, size_t pitch,
                    int32_t* logits);

// Load-time weight packing for the current SIMD target (dispatched):
// PackedWeightBytes is the size of `layer`'s packed copy (0: the target's
// kernels read the blob's rows); PackWeights writes it to dst (64-byte
// aligned). Network::Load packs into the arena and sets
// DenseI8::packed_weights/packed_target; forced targets are repacked lazily.
size_t PackedWeightBytes(const DenseI8& layer);
void PackWeights(const DenseI8& layer, int8_t* dst);

// Bumped by ForceTarget. A Network compares it with the generation it packed
// for: one relaxed load per Predict, where asking Highway for the current
// target would cost a dispatched call.
inline std::atomic<uint32_t> g_target_generation{0};

// DenseI8::signed_input_compensation for `layer`: out[j] = 128 * sum_k w[j][k].
inline void ComputeSignedInputCompensation(const DenseI8& layer, int32_t* out) {
  for (uint32_t j = 0; j < layer.out_size; ++j) {
    const int8_t* row = layer.weights + static_cast<size_t>(j) * layer.stride;
    int32_t sum = 0;
    for (uint32_t k = 0; k < layer.stride; ++k) sum += row[k];
    out[j] = 128 * sum;
  }
}

// DenseI8::max_abs_weight for `layer`, padding included.
inline int32_t MaxAbsWeight(const DenseI8& layer) {
  int32_t max_abs = 0;
  const size_t count = size_t{layer.out_size} * layer.stride;
  for (size_t i = 0; i < count; ++i) {
    const int32_t w = layer.weights[i];
    const int32_t magnitude = w < 0 ? -w : w;
    if (magnitude > max_abs) max_abs = magnitude;
  }
  return max_abs;
}

// Arm sdot weight layout (kernels_sdot-inl.h): rows in blocks of kSdotRows
// (the last block padded with zero rows); per block and 16 bytes of k, 4
// groups g of 4 bytes, each 4 vectors q of 16 bytes: rows 4q..4q+3, their
// bytes 4g..4g+3. One weight stream in the order the kernel reads it.
inline constexpr uint32_t kSdotRows = 16;
inline size_t SdotPackedBytes(const DenseI8& layer) {
  return size_t{(layer.out_size + kSdotRows - 1) / kSdotRows * kSdotRows} * layer.stride;
}
inline void PackSdotWeights(const DenseI8& layer, int8_t* out) {
  const uint32_t rows = (layer.out_size + kSdotRows - 1) / kSdotRows * kSdotRows;
  for (uint32_t block = 0; block < rows; block += kSdotRows) {
    for (uint32_t k = 0; k < layer.stride; k += 16) {
      for (uint32_t g = 0; g < 4; ++g) {
        for (uint32_t row = block; row < block + kSdotRows; ++row) {
          for (uint32_t e = 0; e < 4; ++e) {
            *out++ = row < layer.out_size
                         ? layer.weights[size_t{row} * layer.stride + k + 4 * g + e]
                         : int8_t{0};
          }
        }
      }
    }
  }
}
// AVX3_DL weight layout (kernels_vnni-inl.h, batched tiles): blocks of 16
// rows, each ceil(in_size / 4) groups of 64 bytes; byte 4r + i of group g of
// block b = weight (16b + r, 4g + i), zero past the layer's rows and inputs.
// Each group is one vpdpbusd operand: lane r holds row r's four weights, so
// one broadcast of four activation bytes feeds 16 rows.
inline size_t VnniBlocksBytes(const DenseI8& layer) {
  return size_t{(layer.out_size + 15) / 16} * ((layer.in_size + 3) / 4) * 64;
}
inline void PackVnniBlocks(const DenseI8& layer, int8_t* out) {
  const uint32_t groups = (layer.in_size + 3) / 4;
  std::memset(out, 0, VnniBlocksBytes(layer));
  for (uint32_t j = 0; j < layer.out_size; ++j) {
    const int8_t* row = layer.weights + static_cast<size_t>(j) * layer.stride;
    int8_t* block = out + size_t{j / 16} * groups * 64 + 4 * (j % 16);
    for (uint32_t k = 0; k < layer.in_size; ++k) block[64 * (k / 4) + k % 4] = row[k];
  }
}

// Whether the NEON target runs the sdot kernel: the CPU has the dot product
// (getauxval) and it is compiled in (aarch64), unless turned off with
// SetArmDotProd(false) (tests and `edgemlp bench` compare both kernels).
bool ArmDotProdSupported();
// Whether the runtime was built with HWY_COMPILE_ONLY_STATIC (one target).
bool StaticDispatchBuild();
bool UseArmDotProd();
void SetArmDotProd(bool enabled);
// The same for the AVX2 target's AVX-VNNI kernels (kernels_x86-inl.h): the
// CPU reports AVX-VNNI (cpuid) and AVX2 is compiled in.
bool X86AvxVnniSupported();
bool UseX86AvxVnni();
void SetX86AvxVnni(bool enabled);

// Vectors in each batched scratch buffer: `images` rounded up to a multiple
// of 8, because AVX3_DL computes tiles of 8 images and reads the last one's
// 8 vectors whole (kernels_vnni-inl.h).
inline constexpr size_t kBatchScratchMultiple = 8;
inline constexpr size_t BatchScratchVectors(size_t images) {
  return (images + kBatchScratchMultiple - 1) / kBatchScratchMultiple * kBatchScratchMultiple;
}

// The one forward loop, shared by the reference and every SIMD target so
// they differ only in their layer kernels. Zeroes each activation vector's
// padding, so stale bytes from a wider earlier layer never reach a kernel.
// Always inlined: the kernels it calls carry their target's attributes.
template <class ToU8, class ToI32>
[[gnu::always_inline]] inline void RunForward(const DenseI8* layers, size_t count,
                                              const uint8_t* pixels, uint8_t* act_a, uint8_t* act_b,
                                              int32_t* logits, ToU8 to_u8, ToI32 to_i32) {
  std::memcpy(act_a, pixels, layers[0].in_size);
  std::memset(act_a + layers[0].in_size, 0,
              layers[0].stride - layers[0].in_size);
  uint8_t* cur = act_a;
  uint8_t* next = act_b;
  for (size_t i = 0; i + 1 < count; ++i) {
    to_u8(layers[i], cur, next);
    const DenseI8& following = layers[i + 1];
    std::memset(next + layers[i].out_size, 0,
                following.stride - layers[i].out_size);
    uint8_t* t = cur;
    cur = next;
    next = t;
  }
  to_i32(layers[count - 1], cur, logits);
}

// The batched forward loop: RunForward for `images` vectors per layer.
template <class ToU8, class ToI32>
[[gnu::always_inline]] inline void RunForwardBatch(const DenseI8* layers, size_t count,
                                                   const uint8_t* pixels, size_t images,
                                                   uint8_t* act_a, uint8_t* act_b, size_t pitch,
                                                   int32_t* logits, ToU8 to_u8, ToI32 to_i32) {
  const size_t in_size = layers[0].in_size;
  for (size_t n = 0; n < images; ++n) {
    std::memcpy(act_a + n * pitch, pixels + n * in_size, in_size);
    std::memset(act_a + n * pitch + in_size, 0, layers[0].stride - in_size);
  }
  uint8_t* cur = act_a;
  uint8_t* next = act_b;
  for (size_t i = 0; i + 1 < count; ++i) {
    to_u8(layers[i], cur, pitch, images, next);
    const size_t width = layers[i].out_size;
    for (size_t n = 0; n < images; ++n) {
      std::memset(next + n * pitch + width, 0, layers[i + 1].stride - width);
    }
    uint8_t* t = cur;
    cur = next;
    next = t;
  }
  to_i32(layers[count - 1], cur, pitch, images, logits);
}

// The area transform (edgemlp/input_transform.h) along one axis: output
// pixel j of `out` covers input pixels AreaFirst..AreaLast (inclusive);
// input pixel i, [i * out, (i + 1) * out), and output pixel j,
// [j * in, (j + 1) * in), overlap by AreaOverlap (coordinates scaled by
// in * out, so integers). The reference and the SIMD path share them.
inline uint32_t AreaFirst(uint64_t j, uint64_t in, uint64_t out) {
  return static_cast<uint32_t>(j * in / out);
}
inline uint32_t AreaLast(uint64_t j, uint64_t in, uint64_t out) {
  return static_cast<uint32_t>(((j + 1) * in - 1) / out);
}
inline uint64_t AreaOverlap(uint64_t i, uint64_t j, uint64_t in, uint64_t out) {
  const uint64_t lo = i * out > j * in ? i * out : j * in;
  const uint64_t hi = (i + 1) * out < (j + 1) * in ? (i + 1) * out : (j + 1) * in;
  return hi > lo ? hi - lo : 0;
}
// The SIMD path of AreaDownsample on the current target. `scratch`
// (AreaScratchBytes(t), 4-byte aligned; in the arena) holds the per-axis
// taps, tabled once by PrepareArea, and a row of column sums.
// Output columns of the SIMD column pass, padded: a vector of any target
// (at most 64 int32 lanes, 2048-bit SVE) that starts below out_cols ends
// inside.
inline size_t AreaGatherPad(uint32_t out_cols) { return (size_t{out_cols} + 63) / 64 * 64 + 64; }
size_t AreaScratchBytes(const InputTransform& t);
void PrepareArea(const InputTransform& t, void* scratch);
void AreaDownsampleSimd(const InputTransform& t, const uint8_t* in, uint8_t* out,
                        void* scratch);

}  // namespace internal
}  // namespace edgemlp

#endif  // EDGEMLP_RUNTIME_SRC_KERNELS_H_
