// The edgemlp runtime: validate an int8 blob once, then run a fixed-size
// forward pass with Highway SIMD, bit-exact with the scalar reference.
//
// Contract: Load() is the only place that allocates or can fail. After a
// successful load, Predict() cannot fail and never allocates. A Network owns
// its scratch arena, so one Network serves one thread at a time.
#ifndef EDGEMLP_RUNTIME_H_
#define EDGEMLP_RUNTIME_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgemlp/blob.h"
#include "edgemlp/export.h"
#include "edgemlp/input_transform.h"

namespace edgemlp {

namespace internal {
struct NetworkAccess;  // introspect.cc (edgemlp/introspect.h)
}  // namespace internal

// Internal: one integer dense layer as the kernels see it, pointers into the
// blob. Not for tools: they read layers through edgemlp/introspect.h.
// x86 without VNNI: layers whose int8 weights are within +-32 add two
// pmaddubsw results in int16 before widening them (4 * 255 * 32 < 32768):
// the paired mode of kernels_x86-inl.h, and what `edgemlp bench` states
// those layers' peak with.
inline constexpr int32_t kPairedWeightLimit = 32;

struct DenseI8 {
  // out_size rows of stride elements of weight_type, zero-padded: int8 as
  // is, int16 reinterpreted (64-byte aligned), int4 packed two per byte.
  const int8_t* weights;
  const int32_t* bias;     // out_size, at scale in_scale * weight_scale[row]
  const int32_t* requant;  // out_size x {multiplier, shift}
  uint32_t in_size;
  uint32_t out_size;
  uint32_t stride;  // elements; rows are a multiple of kBlobAlign bytes
  bool relu;
  WeightType weight_type = WeightType::kI8;
  // out_size x (128 * sum of the row's weights, padding included),
  // computed at load for int8 layers: lets a signed dot product (x86
  // pmaddubsw, Arm sdot) take u8 activations as s8 (a - 128) and add this
  // back. Required by the x86 kernels without VNNI; Arm sdot falls back to
  // the widening path when it is null.
  const int32_t* signed_input_compensation = nullptr;
  // The largest |w| of an int8 layer, found at load (127 if unknown).
  // x86 pmaddubsw multiplies u8 activations by weights within +-64 without
  // saturating (2 * 255 * 64 < 32768), so those layers skip the a - 128
  // sign trick; within +-kPairedWeightLimit two such products add in int16.
  int32_t max_abs_weight = 127;
  // The weights re-laid out at load, in the arena, for the SIMD target
  // packed_target (a Highway target bit) if its kernels want another layout
  // (internal::PackWeights); null when they read the blob's rows. Kernels of
  // any other target ignore it.
  const int8_t* packed_weights = nullptr;
  int64_t packed_target = 0;
};

class Network {
 public:
  Network() = default;
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  Network(Network&&) = default;
  Network& operator=(Network&&) = default;

  // Validates an int8 blob and sizes the scratch arena. The caller keeps
  // `bytes` alive and unchanged for the Network's lifetime (zero-copy).
  EDGEMLP_API static LoadResult Load(const uint8_t* bytes, size_t size, Network* out);
  // Maps the file read-only (mmap; a read into an owned buffer where mmap
  // is unavailable), then Load()s it. The Network owns the mapping.
  EDGEMLP_API static LoadResult LoadFile(const std::string& path, Network* out);
  // Copies blob bytes of any alignment (e.g. a std::vector from the
  // quantizer) into an aligned buffer the Network owns, then Load()s it.
  EDGEMLP_API static LoadResult LoadCopy(const uint8_t* bytes, size_t size, Network* out);

  // Runs the blob's known-answer input on the current SIMD target and
  // compares all logits with the expected ones stored in the blob: catches
  // a miscompiled build or a damaged file. kNoTestVector for 1.0 blobs.
  EDGEMLP_API LoadResult SelfTest();

  // What the caller passes per image: bytes (pixels), or for an affine
  // transform floats to PredictFloat (the header's input_size).
  size_t input_size() const { return input_size_; }
  // The blob's input transform (format 1.2); kind kNone if it has none.
  const InputTransform& input_transform() const { return transform_; }
  size_t output_size() const { return output_size_; }
  // real logit = int32 logit * logit_scale()
  float logit_scale() const { return logit_scale_; }
  // Images per batched kernel pass; the arena is sized for it at load.
  // PredictBatch() takes any count and runs it in chunks of this size.
  static constexpr size_t kMaxBatch = 64;
  // Bytes of scratch used by a prediction (allocated once, at load):
  // two activation buffers of kMaxBatch vectors of the widest stride, plus
  // the weights re-laid out for the SIMD target chosen at load, if it wants,
  // plus the transformed inputs (kMaxBatch for area, one for affine).
  size_t arena_bytes() const { return arena_bytes_; }
  const BlobView& blob() const { return view_; }
  size_t layer_count() const { return layers_.size(); }

  // pixels: input_size() bytes (any alignment). logits: output_size() int32.
  // Returns the predicted class (argmax, lowest index on ties). An area
  // transform runs first (SIMD, into the arena). On an affine blob the bytes
  // are taken as the u8 features after the transform (QuantizeFeatures's
  // output; what the known-answer vector holds): callers with raw features
  // use PredictFloat, and the CLI, C API and Python refuse u8 input there.
  EDGEMLP_API int Predict(const uint8_t* pixels, int32_t* logits);
  // Affine blobs: input_size() raw float features -> QuantizeFeatures ->
  // Predict. Returns the class, or -1 if a feature is not finite (logits
  // untouched); also -1 on a blob without an affine transform.
  EDGEMLP_API int PredictFloat(const float* features, int32_t* logits);
  // `count` images back to back (count * input_size() bytes) -> logits
  // (count * output_size() int32) and, if `classes` is not null, count
  // predicted classes. Same results as Predict() per image, bit for bit.
  EDGEMLP_API void PredictBatch(const uint8_t* pixels, size_t count, int32_t* logits,
                                int* classes);
  // The scalar reference (transform and forward pass): the specification
  // of Predict().
  EDGEMLP_API int PredictRef(const uint8_t* pixels, int32_t* logits);

 private:
  friend struct internal::NetworkAccess;
  BlobView view_;
  std::vector<DenseI8> layers_;      // the blob's layers: PredictRef, introspection
  std::vector<DenseI8> run_layers_;  // what the SIMD kernels run (int4 widened)
  std::vector<int32_t> compensation_;  // DenseI8::signed_input_compensation
  std::unique_ptr<uint8_t[]> owned_blob_;    // LoadCopy, LoadFile without mmap
  std::shared_ptr<const void> mapping_;      // LoadFile with mmap
  std::unique_ptr<uint8_t[]> arena_storage_;
  std::unique_ptr<int32_t[]> self_test_logits_;
  uint8_t* act_a_ = nullptr;  // ping-pong activation buffers, each
  uint8_t* act_b_ = nullptr;  // kMaxBatch x pitch_ bytes, 64-byte aligned
  InputTransform transform_;  // points into the blob
  uint8_t* transformed_ = nullptr;  // transformed inputs, back to back
  void* transform_scratch_ = nullptr;  // area: taps and column sums
  // pixels, or the area transform of count (<= kMaxBatch) of them.
  const uint8_t* Transform(const uint8_t* pixels, size_t count);
  size_t pitch_ = 0;          // max stride rounded up to 64 bytes
  size_t input_size_ = 0;
  size_t output_size_ = 0;
  size_t arena_bytes_ = 0;
  int8_t* packed_ = nullptr;    // packed_bytes_ of the arena for packed weights
  size_t packed_bytes_ = 0;
  uint32_t packed_generation_ = 0;  // internal::g_target_generation packed for
  void RepackWeights();  // for ChosenTarget(), if they fit packed_bytes_
  void RepackIfTargetForced();  // ForceTarget() ran since the last packing
  float logit_scale_ = 0.0f;
};

// Index of the largest value, lowest index on ties.
EDGEMLP_API int ArgMax(const int32_t* values, size_t n);

// Probabilities from int32 logits: softmax(logit * scale), computed stably.
EDGEMLP_API void Softmax(const int32_t* logits, size_t n, float scale, float* probs);

// SIMD targets (Highway). The names are Highway's (SSE4, AVX2, AVX3, ...).
// Targets that are compiled into this binary and supported by this CPU.
EDGEMLP_API std::vector<int64_t> AvailableTargets();
EDGEMLP_API const char* TargetName(int64_t target);
// The target Predict() uses now.
EDGEMLP_API int64_t ChosenTarget();
// The kernel family that runs on `target`: its name, plus "+sdot" where
// the NEON target uses the Arm dot product on this CPU ("NEON+sdot").
EDGEMLP_API std::string KernelName(int64_t target);
// Makes Predict() use `target` (one of AvailableTargets()); 0 restores the
// best target. For tests and benchmarks; not thread-safe.
EDGEMLP_API void ForceTarget(int64_t target);

}  // namespace edgemlp

#endif  // EDGEMLP_RUNTIME_H_
