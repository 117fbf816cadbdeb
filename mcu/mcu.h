// The microcontroller inference core: an int8 blob compiled into flash, run
// with a static arena sized at compile time, no heap after load. It shares
// the runtime's code rather than forking it: the blob reader (ParseBlob:
// every field and the CRC), the layer views (internal::LayerView), the one
// forward loop (internal::RunForward), the requantization epilogues and the
// scalar reference (forward_ref.cc, the specification) are the runtime's
// own; only the int8 layer kernels are the core's (kernels_mcu.cc): Arm DSP
// SMLAD or Helium where the core has them, else the reference itself.
#ifndef EDGEMLP_MCU_MCU_H_
#define EDGEMLP_MCU_MCU_H_

#include <cstddef>
#include <cstdint>

#include "edgemlp/blob.h"
#include "edgemlp/input_transform.h"
#include "edgemlp/runtime.h"  // DenseI8

namespace edgemlp::mcu {

// What a model needs from the device, read at compile time from the bytes
// of an `edgemlp export --format c-header` array so that the arena can be a
// static buffer of exactly that size. Nothing is trusted here: Load()
// validates the same bytes at run time and refuses a blob that does not
// fit the arena it is given.
struct ModelShape {
  uint32_t layers = 0;      // 0 if the bytes are not a plausible blob
  uint32_t max_stride = 0;  // widest activation vector, padding included
  uint32_t rows = 0;        // output rows of all layers together
  uint32_t input_size = 0;  // what the caller passes (the image, for an area transform)
  uint32_t output_size = 0;
  uint32_t transform_kind = 0;    // InputTransformKind (blob format 1.2); 0: none
  uint32_t transformed_size = 0;  // the transform's output, layer 0's input; 0: none
};

constexpr uint32_t ReadU32(const uint8_t* bytes, size_t offset) {
  return uint32_t{bytes[offset]} | uint32_t{bytes[offset + 1]} << 8 |
         uint32_t{bytes[offset + 2]} << 16 | uint32_t{bytes[offset + 3]} << 24;
}

constexpr ModelShape ShapeOf(const uint8_t* bytes, size_t size) {
  ModelShape s;
  if (size < sizeof(FileHeader)) return s;
  const uint32_t header = ReadU32(bytes, offsetof(FileHeader, header_size));
  const uint32_t record = ReadU32(bytes, offsetof(FileHeader, layer_record_size));
  const uint32_t count = ReadU32(bytes, offsetof(FileHeader, layer_count));
  if (count == 0 || count > kMaxLayers || record < sizeof(LayerRecord) ||
      uint64_t{header} + uint64_t{count} * record > size) {
    return s;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const size_t at = header + size_t{i} * record;
    const uint32_t stride = ReadU32(bytes, at + offsetof(LayerRecord, stride));
    if (stride > s.max_stride) s.max_stride = stride;
    s.rows += ReadU32(bytes, at + offsetof(LayerRecord, out_size));
  }
  s.layers = count;
  s.input_size = ReadU32(bytes, offsetof(FileHeader, input_size));
  s.output_size = ReadU32(bytes, offsetof(FileHeader, output_size));
  if (header >= kHeaderSizeV11) {
    const size_t ext = sizeof(FileHeader);
    const uint32_t at = ReadU32(bytes, ext + offsetof(HeaderExtension, input_transform_offset));
    if (at != 0 && uint64_t{at} + sizeof(InputTransformHeader) <= size) {
      s.transform_kind = ReadU32(bytes, at + offsetof(InputTransformHeader, kind));
      s.transformed_size = ReadU32(bytes, at + offsetof(InputTransformHeader, out_size));
    }
  }
  return s;
}

// The scratch a Model runs in, owned by the caller (StaticArena below).
struct Workspace {
  DenseI8* layers;
  size_t max_layers;
  uint8_t* act_a;  // two activation vectors of act_bytes each
  uint8_t* act_b;
  size_t act_bytes;
  int32_t* compensation;  // DenseI8::signed_input_compensation, all rows
  size_t max_rows;
  int32_t* logits;  // the known-answer check's output
  size_t max_outputs;
  uint8_t* transformed;  // an area transform's output (layer 0's input); may be null
  size_t transformed_bytes;
};

// The buffer of an area transform's output; nothing (an empty base of
// StaticArena, so no byte) for a model without a transform.
template <uint32_t kBytes>
struct TransformBuffer {
  alignas(8) uint8_t transformed[kBytes];
  uint8_t* data() { return transformed; }
};
template <>
struct TransformBuffer<0> {
  uint8_t* data() { return nullptr; }
};

// The arena for one model shape, as a static object: its size is known at
// link time (arm-none-eabi-size, the map file).
template <uint32_t kLayers, uint32_t kMaxStride, uint32_t kRows, uint32_t kOutputs,
          uint32_t kTransformed = 0>
struct StaticArena : TransformBuffer<kTransformed> {
  static_assert(kLayers > 0 && kMaxStride > 0, "not an edgemlp blob (ShapeOf found no layers)");
  DenseI8 layers[kLayers];
  alignas(8) uint8_t act_a[kMaxStride];
  alignas(8) uint8_t act_b[kMaxStride];
  int32_t compensation[kRows];
  int32_t logits[kOutputs];
  Workspace workspace() {
    return Workspace{layers, kLayers, act_a, act_b, kMaxStride, compensation, kRows,
                     logits, kOutputs, this->data(), kTransformed};
  }
};

// The int8 kernels this build runs: "helium" (MVE), "dsp" (SMLAD) or
// "reference".
const char* KernelName();

// One forward pass with this core's kernels (kernels_mcu.cc): the
// runtime's RunForward loop; int16/int4 layers run the reference.
void ForwardMcu(const DenseI8* layers, size_t count, const uint8_t* pixels, uint8_t* act_a,
                uint8_t* act_b, int32_t* logits);

class Model {
 public:
  // Validates the blob (every field and the CRC32: ParseBlob), checks that
  // it fits `ws` (an area input transform needs ws.transformed; an affine
  // one, for float features, is refused: the core takes u8 images), builds
  // the layer views, then runs the blob's known-answer input with this
  // core's kernels and with the reference: both must give the stored
  // logits. Uses the heap only inside ParseBlob, before it
  // returns; nothing after.
  LoadResult Load(const uint8_t* bytes, size_t size, const Workspace& ws);

  // The class of `pixels` (input_size bytes), logits: output_size int32.
  // Predict runs this core's kernels, PredictRef the scalar reference; the
  // two are bit-exact (the firmware checks it on every image). An area
  // transform runs first in both, as the runtime's scalar reference
  // AreaDownsample (no SIMD path on the core), into ws.transformed.
  int Predict(const uint8_t* pixels, int32_t* logits);
  int PredictRef(const uint8_t* pixels, int32_t* logits);

  size_t input_size() const { return input_size_; }
  size_t output_size() const { return output_size_; }
  size_t layer_count() const { return layer_count_; }

 private:
  // `pixels`, or their area transform in ws_.transformed.
  const uint8_t* Transform(const uint8_t* pixels);
  LoadResult CheckKnownAnswer(const uint8_t* bytes, const HeaderExtension& ext, bool reference);
  Workspace ws_{};
  size_t layer_count_ = 0;
  size_t input_size_ = 0;
  size_t output_size_ = 0;
  InputTransform transform_{};  // points into the blob; kind kNone if absent
};

}  // namespace edgemlp::mcu

#endif  // EDGEMLP_MCU_MCU_H_
