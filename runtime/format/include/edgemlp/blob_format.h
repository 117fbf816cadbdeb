// The edgemlp blob: one little-endian container for float models (written by
// the trainer) and int8 models (written by the quantizer, run by the runtime).
// docs/blob-format.md is the specification; this header is its code form.
//
// Layout (all offsets are from the first byte of the file):
//   FileHeader            at 0, header_size bytes (64 in 1.0, 128 since 1.1:
//                         a HeaderExtension follows the 64-byte FileHeader)
//   LayerRecord[n]        at header_size, layer_record_size bytes each (64)
//   tensor sections       each 64-byte aligned, zero padding between them
// The CRC32 (IEEE 802.3, as zlib's crc32) covers the whole file with the
// crc32 field itself read as zero.
#ifndef EDGEMLP_BLOB_FORMAT_H_
#define EDGEMLP_BLOB_FORMAT_H_

#include <cstddef>
#include <cstdint>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "edgemlp blobs are little-endian and read in place: big-endian hosts are not supported"
#endif

namespace edgemlp {

inline constexpr char kBlobMagic[4] = {'E', 'M', 'L', 'P'};
inline constexpr uint16_t kBlobVersionMajor = 1;  // readers reject other majors
inline constexpr uint16_t kBlobVersionMinor = 2;  // readers accept newer minors
inline constexpr uint32_t kBlobAlign = 64;        // tensor offsets and row bytes
inline constexpr uint32_t kMaxLayers = 64;
inline constexpr uint32_t kMaxLayerWidth = 32768;
// int32 accumulation is exact while in_size * 255 * 127 + |bias| < 2^31:
// in_size <= 33155 with |bias| <= 2^30. kMaxLayerWidth keeps a margin.
inline constexpr int32_t kMaxAbsBiasI32 = 1 << 30;

enum class BlobKind : uint32_t {
  kFloat32 = 1,  // float model: f32 weights and biases (trainer output)
  // Integer model: u8 activations, int32 accumulators and integer
  // requantization; weights int8 (1.0), int16 or packed int4 per layer (1.1).
  kInt8 = 2,
};

// kSigmoid and kTanh are allowed in float (kind 1) blobs only.
enum class Activation : uint8_t { kNone = 0, kRelu = 1, kSigmoid = 2, kTanh = 3 };

// Weight element types. kF32 only in float blobs; the integer types only in
// kInt8 blobs, mixed freely per layer (1.1 added kI16 and kI4).
enum class WeightType : uint8_t {
  kF32 = 1,
  kI8 = 2,   // int8 in [-127, 127]
  kI16 = 3,  // int16, |w| <= I16WeightLimit(in_size) so int32 cannot overflow
  // int4 in [-7, 7], two per byte: byte k of a row holds element k in its low
  // nibble and element k + stride/2 in its high nibble (stride % 128 == 0).
  kI4 = 4,
};

// The names the CLI, the JSON reports and the trainer's options use, one
// spelling each, indexed by the enum's value; "unknown" outside the enum.
inline constexpr const char* kWeightTypeNames[] = {"unknown", "float32", "int8", "int16", "int4"};
inline constexpr const char* kActivationNames[] = {"none", "relu", "sigmoid", "tanh"};
inline constexpr const char* WeightTypeName(WeightType type) {
  const auto i = static_cast<uint8_t>(type);
  return i < 5 ? kWeightTypeNames[i] : "unknown";
}
inline constexpr const char* ActivationName(Activation activation) {
  const auto i = static_cast<uint8_t>(activation);
  return i < 4 ? kActivationNames[i] : "unknown";
}
// A blob's kind as `inspect` reports it: "float32" or "int8".
inline constexpr const char* BlobKindName(BlobKind kind) {
  return kind == BlobKind::kFloat32 ? "float32" : kind == BlobKind::kInt8 ? "int8" : "unknown";
}

// The input transform (format 1.2): what turns the caller's input into the
// u8 vector layer 0 reads (docs/blob-format.md, Input transform).
enum class InputTransformKind : uint32_t {
  kNone = 0,
  kAffine = 1,  // f32 features -> u8: clamp(nearbyint(x * scale + offset), 0, 255)
  kArea = 2,    // u8 image -> smaller u8 image by exact integer area averaging
};
inline constexpr const char* kInputTransformKindNames[] = {"none", "affine", "area"};
inline constexpr const char* InputTransformKindName(InputTransformKind kind) {
  const auto i = static_cast<uint32_t>(kind);
  return i < 3 ? kInputTransformKindNames[i] : "unknown";
}
// Largest side of an area transform's input: sums of 4096 x 4096 u8 pixels
// weighted by at most out_rows * out_cols stay below 2^32.
inline constexpr uint32_t kMaxTransformSide = 4096;

// Bits per stored weight element, 0 for an unknown type.
inline constexpr uint32_t WeightBits(uint8_t type) {
  return type == 1 ? 32 : type == 2 ? 8 : type == 3 ? 16 : type == 4 ? 4 : 0;
}

// Largest |w| of an int16 layer: in_size * 255 * |w| + 2^30 (bias) < 2^31
// keeps the int32 accumulator exact in any summation order.
inline constexpr int32_t I16WeightLimit(uint32_t in_size) {
  const int64_t limit = ((int64_t{1} << 30) - 1) / (int64_t{255} * in_size);
  return static_cast<int32_t>(limit < 32767 ? limit : 32767);
}

// 64 bytes at offset 0.
struct FileHeader {
  char magic[4];           // "EMLP"
  uint16_t version_major;  // kBlobVersionMajor
  uint16_t version_minor;  // kBlobVersionMinor
  uint32_t file_size;      // bytes in the whole file
  uint32_t crc32;          // of the whole file with this field read as 0
  uint32_t header_size;    // >= sizeof(FileHeader); a newer minor may grow it
  uint32_t layer_record_size;  // >= sizeof(LayerRecord)
  uint32_t layer_count;    // 1..kMaxLayers
  uint32_t kind;           // BlobKind
  uint32_t input_size;     // 784 for MNIST: uint8 pixels, row-major
  uint32_t input_rows;     // 28 (0 if the input is not an image)
  uint32_t input_cols;     // 28
  // The network's real input is pixel * input_scale + input_offset. int8
  // blobs always have 1/255 and 0: any other scaling is folded into layer 0.
  float input_scale;
  float input_offset;
  uint32_t output_size;    // 10 for MNIST
  uint32_t flags;          // reserved, 0
  uint32_t reserved;       // 0
};
static_assert(sizeof(FileHeader) == 64, "FileHeader is 64 bytes on disk");

// Version 1.1: 64 more header bytes after FileHeader (header_size >= 128).
// A 1.0 file (header_size 64) has none of these; zero means "absent".
struct HeaderExtension {
  // Provenance: UTF-8 JSON object (architecture, seed, dataset digests,
  // accuracies, tool version, git revision, optional creation time).
  uint32_t metadata_offset;
  uint32_t metadata_size;  // bytes, <= kMaxMetadataBytes
  // Known-answer test (int8 blobs): input_size u8 pixels and the output_size
  // int32 logits every correct build must compute from them.
  // For an affine transform the input is the u8 vector after it.
  uint32_t kat_input_offset;
  uint32_t kat_output_offset;
  // Version 1.2: the input transform section (InputTransformHeader and its
  // arrays), both 0 when the blob has none.
  uint32_t input_transform_offset;
  uint32_t input_transform_size;  // bytes, exactly what the transform needs
  uint32_t reserved[10];
};
static_assert(sizeof(HeaderExtension) == 64, "HeaderExtension is 64 bytes");
inline constexpr uint32_t kHeaderSizeV11 = 128;
inline constexpr uint32_t kMaxMetadataBytes = 1u << 20;

// Version 1.2: the input transform section, 64-byte aligned, 64 bytes of
// header; an affine transform follows it with f32 scale[in_size] at +64 and
// f32 offset[in_size] at the next 64-byte boundary. Area needs no arrays.
// Layer 0's in_size is out_size; FileHeader::input_size is in_size.
struct InputTransformHeader {
  uint32_t kind;      // InputTransformKind (kAffine or kArea)
  uint32_t in_size;   // what the caller passes == FileHeader::input_size
  uint32_t out_size;  // what layer 0 reads == layer 0 in_size
  uint32_t in_rows;   // area: in_rows x in_cols -> out_rows x out_cols,
  uint32_t in_cols;   // 1 <= out <= in <= kMaxTransformSide per axis;
  uint32_t out_rows;  // 0 in an affine transform
  uint32_t out_cols;
  uint32_t reserved[9];
};
static_assert(sizeof(InputTransformHeader) == 64, "InputTransformHeader is 64 bytes");

// Bytes of the section of a transform of `kind` with `in_size` inputs.
inline constexpr uint64_t InputTransformBytes(uint32_t kind, uint32_t in_size) {
  return kind == static_cast<uint32_t>(InputTransformKind::kAffine)
             ? 64 + (uint64_t{in_size} * 4 + kBlobAlign - 1) / kBlobAlign * kBlobAlign +
                   uint64_t{in_size} * 4
             : 64;
}
// Offsets of the affine arrays inside the section.
inline constexpr uint64_t AffineScaleOffset() { return 64; }
inline constexpr uint64_t AffineOffsetOffset(uint32_t in_size) {
  return 64 + (uint64_t{in_size} * 4 + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
}

// One dense layer: out = act(W * in + b). 64 bytes each.
struct LayerRecord {
  uint32_t in_size;   // elements of the input vector
  uint32_t out_size;  // rows of W
  // Elements per stored weight row, >= in_size; rows are zero-padded so that
  // stride * element_bytes is a multiple of kBlobAlign: kernels need no tail.
  uint32_t stride;
  uint8_t activation;   // Activation
  uint8_t weight_type;  // WeightType: kF32 in float blobs, kI8/kI16/kI4 in int8 blobs
  uint16_t reserved0;
  uint32_t weights_offset;  // W: out_size rows of stride elements, weight_type
  uint32_t bias_offset;     // b: out_size x f32 (float) or int32 (int8)
  // int8 only (0 in float blobs):
  uint32_t weight_scale_offset;  // out_size x f32: W_real = W_q * scale[row]
  uint32_t requant_offset;  // out_size x {int32 multiplier, int32 shift}
  float in_scale;   // int8: input activations are real = q * in_scale
  // int8: hidden layers output u8 with real = q * out_scale; the last layer
  // outputs int32 logits with real = q * out_scale (one scale for all rows,
  // so argmax over the int32 logits is the float argmax).
  float out_scale;
  // Largest output activation seen on calibration data (held-out training
  // images), recorded by the trainer so export needs no data. 0 if unknown.
  float calib_max;
  uint32_t reserved[5];
};
static_assert(sizeof(LayerRecord) == 64, "LayerRecord is 64 bytes on disk");

// Requantization, integer only, identical in the reference and every SIMD
// target: out = (acc * multiplier + 2^(shift-1)) >> shift, i.e. acc * M rounded
// half up, where M = multiplier * 2^-shift, multiplier in [2^30, 2^31) and
// shift in [1, 62]. The product fits int64: |acc| < 2^31, multiplier < 2^31.
inline constexpr int32_t kMinMultiplier = int32_t{1} << 30;
inline constexpr int32_t kMinShift = 1;
inline constexpr int32_t kMaxShift = 62;

inline int64_t Requantize(int32_t acc, int32_t multiplier, int32_t shift) {
  const int64_t product = static_cast<int64_t>(acc) * multiplier;
  return (product + (int64_t{1} << (shift - 1))) >> shift;
}

// Hidden layer epilogue: requantize, ReLU, saturate to u8.
inline uint8_t RequantizeToU8(int32_t acc, int32_t multiplier, int32_t shift) {
  const int64_t q = Requantize(acc, multiplier, shift);
  return static_cast<uint8_t>(q < 0 ? 0 : (q > 255 ? 255 : q));
}

// Last layer epilogue: requantize to the shared logit scale, optional ReLU.
inline int32_t RequantizeToI32(int32_t acc, int32_t multiplier, int32_t shift,
                               bool relu) {
  // The exporter keeps M <= 1 so this never saturates; a hostile blob can
  // only saturate, never overflow.
  int64_t q = Requantize(acc, multiplier, shift);
  if (relu && q < 0) q = 0;
  if (q > INT32_MAX) q = INT32_MAX;
  if (q < INT32_MIN) q = INT32_MIN;
  return static_cast<int32_t>(q);
}

}  // namespace edgemlp

#endif  // EDGEMLP_BLOB_FORMAT_H_
