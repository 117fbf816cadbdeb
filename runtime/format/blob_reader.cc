// Blob validation: every field is checked before anything is read through
// it, structure first, then contents, then the CRC (so a damaged field gets
// its own message rather than only "checksum mismatch").
#include "edgemlp/blob.h"

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

namespace edgemlp {

const char* StatusName(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kTruncated: return "truncated";
    case Status::kBadMagic: return "bad_magic";
    case Status::kUnsupportedVersion: return "unsupported_version";
    case Status::kBadHeader: return "bad_header";
    case Status::kBadShape: return "bad_shape";
    case Status::kBadLayer: return "bad_layer";
    case Status::kOutOfBounds: return "out_of_bounds";
    case Status::kMisaligned: return "misaligned";
    case Status::kBadScale: return "bad_scale";
    case Status::kBadRequant: return "bad_requant";
    case Status::kBadValue: return "bad_value";
    case Status::kBadChecksum: return "bad_checksum";
    case Status::kWrongKind: return "wrong_kind";
    case Status::kIoError: return "io_error";
    case Status::kNoTestVector: return "no_test_vector";
    case Status::kSelfTestFailed: return "self_test_failed";
    case Status::kReservedNotZero: return "reserved_not_zero";
    case Status::kBadTransform: return "bad_transform";
  }
  return "unknown";
}

namespace {

struct CrcTable {
  uint32_t entries[256];
  CrcTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      entries[i] = c;
    }
  }
};

LoadResult Fail(Status status, std::string message) {
  return LoadResult{status, std::move(message)};
}

std::string LayerPrefix(size_t index) {
  return "layer " + std::to_string(index) + ": ";
}

bool IsPositiveFinite(float v) { return std::isfinite(v) && v > 0.0f; }

template <typename T>
T ReadAt(const uint8_t* bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes + offset, sizeof(T));
  return value;
}

// Checks that [offset, offset + bytes) lies after the records and inside
// the file, with 64-bit arithmetic so no sum can wrap.
LoadResult CheckSection(const std::string& name, uint32_t offset,
                        uint64_t bytes, uint64_t data_begin, uint64_t size) {
  if (offset % kBlobAlign != 0) {
    return Fail(Status::kMisaligned,
                name + " offset " + std::to_string(offset) +
                    " is not a multiple of " + std::to_string(kBlobAlign));
  }
  if (offset < data_begin || uint64_t{offset} + bytes > size) {
    return Fail(Status::kOutOfBounds,
                name + " [" + std::to_string(offset) +
                    ", " + std::to_string(uint64_t{offset} + bytes) +
                    ") is outside the tensor area [" +
                    std::to_string(data_begin) + ", " + std::to_string(size) +
                    ")");
  }
  return {};
}

// int16 weights must keep the int32 accumulator exact; int4 nibbles are
// symmetric like int8 (-8 is never written). int8 needs no scan.
LoadResult CheckIntegerWeights(const LayerRecord& l, const std::string& at,
                               const uint8_t* bytes) {
  const uint64_t count = uint64_t{l.out_size} * l.stride;
  if (l.weight_type == static_cast<uint8_t>(WeightType::kI8)) {
    // Kernels negate weights (x86 psignb, Arm a - 128 against w): -128 has
    // no int8 negation. Row padding too, since kernels read whole rows.
    for (uint64_t k = 0; k < count; ++k) {
      if (bytes[l.weights_offset + k] == 0x80) {
        return Fail(Status::kBadLayer,
                    at + "int8 weight " + std::to_string(k) + " (row " +
                        std::to_string(k / l.stride) + ", column " +
                        std::to_string(k % l.stride) +
                        ") is -128 (int8 weights are in [-127, 127])");
      }
    }
  } else if (l.weight_type == static_cast<uint8_t>(WeightType::kI16)) {
    const int32_t limit = I16WeightLimit(l.in_size);
    for (uint64_t k = 0; k < count; ++k) {
      const int32_t w = ReadAt<int16_t>(bytes, l.weights_offset + 2 * k);
      if (w > limit || w < -limit) {
        return Fail(Status::kBadLayer,
                    at + "int16 weight " + std::to_string(k) + " is " +
                        std::to_string(w) + ": |w| must be <= " +
                        std::to_string(limit) + " so " +
                        std::to_string(l.in_size) +
                        " products cannot overflow int32");
      }
    }
  } else if (l.weight_type == static_cast<uint8_t>(WeightType::kI4)) {
    for (uint64_t k = 0; k < count / 2; ++k) {
      const uint8_t b = bytes[l.weights_offset + k];
      if ((b & 0x0F) == 0x08 || (b & 0xF0) == 0x80) {
        return Fail(Status::kBadLayer,
                    at + "int4 weight byte " + std::to_string(k) +
                        " holds -8 (int4 weights are in [-7, 7])");
      }
    }
  }
  return {};
}

LoadResult CheckLayer(const FileHeader& h, const LayerRecord& l, size_t index,
                      const uint8_t* bytes, uint64_t data_begin,
                      uint64_t size) {
  const bool is_int8 = h.kind == static_cast<uint32_t>(BlobKind::kInt8);
  const bool is_last = index + 1 == h.layer_count;
  const std::string at = LayerPrefix(index);
  if (l.in_size == 0 || l.in_size > kMaxLayerWidth || l.out_size == 0 ||
      l.out_size > kMaxLayerWidth) {
    return Fail(Status::kBadShape,
                at + "sizes " + std::to_string(l.in_size) + "x" +
                    std::to_string(l.out_size) + " are outside 1.." +
                    std::to_string(kMaxLayerWidth));
  }
  const bool type_ok =
      is_int8 ? (l.weight_type == static_cast<uint8_t>(WeightType::kI8) ||
                 l.weight_type == static_cast<uint8_t>(WeightType::kI16) ||
                 l.weight_type == static_cast<uint8_t>(WeightType::kI4))
              : l.weight_type == static_cast<uint8_t>(WeightType::kF32);
  if (!type_ok) {
    return Fail(Status::kBadLayer,
                at + "weight type " + std::to_string(l.weight_type) +
                    (is_int8 ? " is not an integer type (expected 2 = int8, "
                               "3 = int16, 4 = int4)"
                             : " does not match the float kind (expected 1 = f32)"));
  }
  const uint32_t bits = WeightBits(l.weight_type);
  // Stride bound keeps rows * stride * bits far below 2^64; the row-bytes
  // rule implies stride % 128 == 0 for int4.
  if (l.stride < l.in_size || l.stride > kMaxLayerWidth + 2 * kBlobAlign ||
      (uint64_t{l.stride} * bits) % (8 * kBlobAlign) != 0) {
    return Fail(Status::kBadShape,
                at + "stride " + std::to_string(l.stride) +
                    " must be >= in_size " + std::to_string(l.in_size) +
                    " with rows a multiple of " + std::to_string(kBlobAlign) +
                    " bytes (" + std::to_string(bits) + "-bit weights)");
  }
  if (l.activation > static_cast<uint8_t>(Activation::kTanh)) {
    return Fail(Status::kBadLayer,
                at + "unknown activation " + std::to_string(l.activation) +
                    " (expected 0 = none, 1 = relu, 2 = sigmoid, 3 = tanh)");
  }
  if (is_int8 && l.activation > static_cast<uint8_t>(Activation::kRelu)) {
    return Fail(Status::kBadLayer,
                at + "activation " + std::to_string(l.activation) +
                    " (sigmoid/tanh) is allowed in float blobs only");
  }
  if (is_int8 && !is_last &&
      l.activation != static_cast<uint8_t>(Activation::kRelu)) {
    return Fail(Status::kBadLayer,
                at + "int8 hidden layers must use relu (u8 activations)");
  }
  if (!std::isfinite(l.calib_max)) {
    return Fail(Status::kBadValue, at + "calib_max " + std::to_string(l.calib_max) +
                                       " is not finite (the largest activation seen)");
  }
  const uint64_t rows = l.out_size;
  LoadResult r = CheckSection(at + "weights", l.weights_offset,
                              rows * l.stride * bits / 8, data_begin, size);
  if (!r.ok()) return r;
  r = CheckSection(at + "bias", l.bias_offset, rows * 4, data_begin, size);
  if (!r.ok()) return r;
  if (!is_int8) {
    for (uint64_t k = 0; k < rows * l.stride; ++k) {
      if (!std::isfinite(ReadAt<float>(bytes, l.weights_offset + 4 * k))) {
        return Fail(Status::kBadValue,
                    at + "weight " + std::to_string(k) + " is not finite");
      }
    }
    for (uint64_t k = 0; k < rows; ++k) {
      if (!std::isfinite(ReadAt<float>(bytes, l.bias_offset + 4 * k))) {
        return Fail(Status::kBadValue,
                    at + "bias " + std::to_string(k) + " is not finite");
      }
    }
    return {};
  }
  r = CheckSection(at + "weight scales", l.weight_scale_offset, rows * 4,
                   data_begin, size);
  if (!r.ok()) return r;
  r = CheckSection(at + "requant", l.requant_offset, rows * 8, data_begin,
                   size);
  if (!r.ok()) return r;
  if (!IsPositiveFinite(l.in_scale) || !IsPositiveFinite(l.out_scale)) {
    return Fail(Status::kBadScale,
                at + "in_scale " + std::to_string(l.in_scale) +
                    " and out_scale " + std::to_string(l.out_scale) +
                    " must be finite and > 0");
  }
  r = CheckIntegerWeights(l, at, bytes);
  if (!r.ok()) return r;
  for (uint64_t k = 0; k < rows; ++k) {
    const float s = ReadAt<float>(bytes, l.weight_scale_offset + 4 * k);
    if (!IsPositiveFinite(s)) {
      return Fail(Status::kBadScale, at + "weight scale of row " +
                                         std::to_string(k) + " is " +
                                         std::to_string(s) +
                                         " (expected finite and > 0)");
    }
    const int32_t bias = ReadAt<int32_t>(bytes, l.bias_offset + 4 * k);
    if (bias > kMaxAbsBiasI32 || bias < -kMaxAbsBiasI32) {
      return Fail(Status::kBadLayer,
                  at + "bias of row " + std::to_string(k) + " is " +
                      std::to_string(bias) + " (|bias| must be <= 2^30)");
    }
    const int32_t mult = ReadAt<int32_t>(bytes, l.requant_offset + 8 * k);
    const int32_t shift = ReadAt<int32_t>(bytes, l.requant_offset + 8 * k + 4);
    if (mult < kMinMultiplier || shift < kMinShift || shift > kMaxShift) {
      return Fail(Status::kBadRequant,
                  at + "row " + std::to_string(k) + " multiplier " +
                      std::to_string(mult) + " shift " + std::to_string(shift) +
                      " (expected multiplier in [2^30, 2^31), shift in [1, 62])");
    }
  }
  return {};
}

// Version 1.2: the input transform section. Checked before the layers
// chain, since layer 0 reads its output; sets *layer0_in to what layer 0
// must take (input_size without a transform).
LoadResult CheckTransform(const FileHeader& h, const HeaderExtension& ext,
                          const uint8_t* bytes, uint64_t data_begin,
                          uint64_t size, uint32_t* layer0_in) {
  *layer0_in = h.input_size;
  const uint32_t offset = ext.input_transform_offset;
  if (h.version_minor < 2 && (offset != 0 || ext.input_transform_size != 0)) {
    return Fail(Status::kReservedNotZero,
                "header extension words 4-5 are not 0 (reserved in format 1." +
                    std::to_string(h.version_minor) + "; the input transform is 1.2)");
  }
  if ((offset == 0) != (ext.input_transform_size == 0)) {
    return Fail(Status::kBadHeader,
                "input transform offset " + std::to_string(offset) + " size " +
                    std::to_string(ext.input_transform_size) +
                    " (expected both 0, or both set)");
  }
  if (offset == 0) return {};
  LoadResult r = CheckSection("input transform", offset, ext.input_transform_size,
                              data_begin, size);
  if (!r.ok()) return r;
  if (ext.input_transform_size < sizeof(InputTransformHeader)) {
    return Fail(Status::kBadHeader,
                "input transform size " + std::to_string(ext.input_transform_size) +
                    " is shorter than its 64-byte header");
  }
  const auto t = ReadAt<InputTransformHeader>(bytes, offset);
  const std::string at = "input transform: ";
  const auto bad = [&](const std::string& what) {
    return Fail(Status::kBadTransform, at + what);
  };
  const bool affine = t.kind == static_cast<uint32_t>(InputTransformKind::kAffine);
  const bool area = t.kind == static_cast<uint32_t>(InputTransformKind::kArea);
  if (!affine && !area) {
    return bad("kind " + std::to_string(t.kind) + " (expected 1 = affine, 2 = area)");
  }
  if (t.in_size != h.input_size) {
    return bad("in_size " + std::to_string(t.in_size) +
               " does not match the header's input_size " + std::to_string(h.input_size));
  }
  if (affine && (t.out_size != t.in_size || t.in_rows != 0 || t.in_cols != 0 ||
                 t.out_rows != 0 || t.out_cols != 0)) {
    return bad("affine out_size " + std::to_string(t.out_size) + " (expected in_size " +
               std::to_string(t.in_size) + ") and rows/cols (expected 0)");
  }
  if (area) {
    const auto axis_ok = [](uint32_t in, uint32_t out) {
      return out >= 1 && out <= in && in <= kMaxTransformSide;
    };
    if (!axis_ok(t.in_rows, t.out_rows) || !axis_ok(t.in_cols, t.out_cols)) {
      return bad("area " + std::to_string(t.in_rows) + "x" + std::to_string(t.in_cols) +
                 " -> " + std::to_string(t.out_rows) + "x" + std::to_string(t.out_cols) +
                 " (expected 1 <= out <= in <= " + std::to_string(kMaxTransformSide) +
                 " per axis)");
    }
    if (t.in_rows * t.in_cols != t.in_size || t.out_rows * t.out_cols != t.out_size ||
        t.in_rows != h.input_rows || t.in_cols != h.input_cols) {
      return bad("area in " + std::to_string(t.in_rows) + "x" + std::to_string(t.in_cols) +
                 " (in_size " + std::to_string(t.in_size) + ", header image " +
                 std::to_string(h.input_rows) + "x" + std::to_string(h.input_cols) +
                 "), out " + std::to_string(t.out_rows) + "x" + std::to_string(t.out_cols) +
                 " (out_size " + std::to_string(t.out_size) + ") do not agree");
    }
  }
  const uint64_t needed = InputTransformBytes(t.kind, t.in_size);
  if (ext.input_transform_size != needed) {
    return Fail(Status::kBadHeader,
                "input transform size " + std::to_string(ext.input_transform_size) +
                    " (a " + InputTransformKindName(static_cast<InputTransformKind>(t.kind)) +
                    " transform of " + std::to_string(t.in_size) + " inputs needs " +
                    std::to_string(needed) + ")");
  }
  if (h.version_minor <= kBlobVersionMinor) {
    for (const uint32_t word : t.reserved) {
      if (word != 0) {
        return Fail(Status::kReservedNotZero,
                    at + "reserved words are not 0 (reserved in format " +
                        std::to_string(h.version_major) + "." +
                        std::to_string(h.version_minor) + ")");
      }
    }
  }
  if (affine) {
    for (uint32_t i = 0; i < t.in_size; ++i) {
      const float sc = ReadAt<float>(bytes, offset + AffineScaleOffset() + 4 * uint64_t{i});
      const float of = ReadAt<float>(bytes, offset + AffineOffsetOffset(t.in_size) + 4 * uint64_t{i});
      if (!std::isfinite(sc) || sc == 0.0f || !std::isfinite(of)) {
        return Fail(Status::kBadValue,
                    at + "feature " + std::to_string(i) + " scale " + std::to_string(sc) +
                        " offset " + std::to_string(of) +
                        " (expected finite, scale != 0)");
      }
    }
  }
  *layer0_in = t.out_size;
  return {};
}

// Version 1.1 header fields: the metadata and known-answer sections.
LoadResult CheckExtension(const FileHeader& h, const HeaderExtension& ext,
                          uint64_t data_begin, uint64_t size) {
  if (ext.metadata_size > kMaxMetadataBytes ||
      (ext.metadata_size == 0) != (ext.metadata_offset == 0)) {
    return Fail(Status::kBadHeader,
                "metadata offset " + std::to_string(ext.metadata_offset) +
                    " size " + std::to_string(ext.metadata_size) +
                    " (expected both 0, or a size <= " +
                    std::to_string(kMaxMetadataBytes) + ")");
  }
  if (ext.metadata_size != 0) {
    LoadResult r = CheckSection("metadata", ext.metadata_offset,
                                ext.metadata_size, data_begin, size);
    if (!r.ok()) return r;
  }
  if ((ext.kat_input_offset == 0) != (ext.kat_output_offset == 0) ||
      (ext.kat_input_offset != 0 &&
       h.kind != static_cast<uint32_t>(BlobKind::kInt8))) {
    return Fail(Status::kBadHeader,
                "known-answer offsets " + std::to_string(ext.kat_input_offset) +
                    " / " + std::to_string(ext.kat_output_offset) +
                    " (expected both 0, or both set in an int8 blob)");
  }
  if (ext.kat_input_offset != 0) {
    LoadResult r = CheckSection("known-answer input", ext.kat_input_offset,
                                h.input_size, data_begin, size);
    if (!r.ok()) return r;
    r = CheckSection("known-answer output", ext.kat_output_offset,
                     uint64_t{h.output_size} * 4, data_begin, size);
    if (!r.ok()) return r;
  }
  return {};
}

// Reserved fields are 0 in every minor up to ours; a newer minor may give
// them a meaning (docs/blob-format.md, Compatibility), so they are only
// checked in files of a minor this reader knows.
LoadResult CheckReserved(const FileHeader& h, const HeaderExtension& ext,
                         const std::vector<LayerRecord>& layers) {
  const auto nonzero = [](const auto& field) {
    uint8_t zero[sizeof(field)] = {};
    return std::memcmp(&field, zero, sizeof(field)) != 0;
  };
  const auto fail = [&](const std::string& field) {
    return Fail(Status::kReservedNotZero,
                field + " is not 0 (reserved in format " + std::to_string(h.version_major) +
                    "." + std::to_string(h.version_minor) + ")");
  };
  if (h.version_minor > kBlobVersionMinor) return {};
  if (nonzero(h.flags)) return fail("header flags");
  if (nonzero(h.reserved)) return fail("header reserved word");
  if (nonzero(ext.reserved)) return fail("header extension reserved words");
  for (size_t i = 0; i < layers.size(); ++i) {
    if (nonzero(layers[i].reserved0) || nonzero(layers[i].reserved)) {
      return fail(LayerPrefix(i) + "reserved words");
    }
  }
  return {};
}

}  // namespace

InputTransform BlobView::input_transform() const {
  InputTransform t;
  if (ext.input_transform_offset == 0) return t;
  const auto h = ReadAt<InputTransformHeader>(bytes, ext.input_transform_offset);
  t.kind = static_cast<InputTransformKind>(h.kind);
  t.in_size = h.in_size;
  t.out_size = h.out_size;
  t.in_rows = h.in_rows;
  t.in_cols = h.in_cols;
  t.out_rows = h.out_rows;
  t.out_cols = h.out_cols;
  if (t.kind == InputTransformKind::kAffine) {
    const uint8_t* section = bytes + ext.input_transform_offset;
    t.scale = reinterpret_cast<const float*>(section + AffineScaleOffset());
    t.offset = reinterpret_cast<const float*>(section + AffineOffsetOffset(h.in_size));
  }
  return t;
}

uint32_t Crc32(const void* data, size_t size, uint32_t crc) {
  static const CrcTable table;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) {
    crc = table.entries[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  }
  return ~crc;
}

uint32_t BlobCrc32(const uint8_t* bytes, size_t size) {
  constexpr size_t kCrcField = offsetof(FileHeader, crc32);
  static const uint8_t kZeros[4] = {0, 0, 0, 0};
  uint32_t crc = Crc32(bytes, kCrcField);
  crc = Crc32(kZeros, 4, crc);
  return Crc32(bytes + kCrcField + 4, size - kCrcField - 4, crc);
}

LoadResult ParseBlob(const uint8_t* bytes, size_t size, BlobView* view,
                     bool check_crc) {
  if (bytes == nullptr || size < sizeof(FileHeader)) {
    return Fail(Status::kTruncated, std::to_string(size) +
                                        " bytes is shorter than the " +
                                        std::to_string(sizeof(FileHeader)) +
                                        "-byte header");
  }
  if (reinterpret_cast<uintptr_t>(bytes) % 8 != 0) {
    return Fail(Status::kMisaligned, "blob buffer must be 8-byte aligned");
  }
  FileHeader h;
  std::memcpy(&h, bytes, sizeof(h));
  if (std::memcmp(h.magic, kBlobMagic, 4) != 0) {
    return Fail(Status::kBadMagic,
                "not an edgemlp blob (expected magic \"EMLP\" at offset 0)");
  }
  if (h.version_major != kBlobVersionMajor) {
    return Fail(Status::kUnsupportedVersion,
                "format version " + std::to_string(h.version_major) + "." +
                    std::to_string(h.version_minor) + " (this reader knows " +
                    std::to_string(kBlobVersionMajor) + ".x)");
  }
  if (h.file_size > size) {
    return Fail(Status::kTruncated,
                "header says " + std::to_string(h.file_size) +
                    " bytes but only " + std::to_string(size) + " are present");
  }
  if (h.file_size != size) {
    return Fail(Status::kBadHeader,
                "header says " + std::to_string(h.file_size) + " bytes but " +
                    std::to_string(size) + " are present (trailing bytes)");
  }
  if (h.header_size < sizeof(FileHeader) || h.header_size % 4 != 0 ||
      h.layer_record_size < sizeof(LayerRecord) ||
      h.layer_record_size % 4 != 0) {
    return Fail(Status::kBadHeader,
                "header_size " + std::to_string(h.header_size) +
                    " / layer_record_size " +
                    std::to_string(h.layer_record_size) +
                    " (expected multiples of 4, >= 64)");
  }
  if (h.layer_count == 0 || h.layer_count > kMaxLayers) {
    return Fail(Status::kBadHeader, "layer_count " +
                                        std::to_string(h.layer_count) +
                                        " (expected 1.." +
                                        std::to_string(kMaxLayers) + ")");
  }
  const uint64_t records_end =
      uint64_t{h.header_size} + uint64_t{h.layer_count} * h.layer_record_size;
  if (records_end > size) {
    return Fail(Status::kTruncated,
                "layer records end at " + std::to_string(records_end) +
                    " but the file has " + std::to_string(size) + " bytes");
  }
  if (h.kind != static_cast<uint32_t>(BlobKind::kFloat32) &&
      h.kind != static_cast<uint32_t>(BlobKind::kInt8)) {
    return Fail(Status::kBadHeader, "unknown kind " + std::to_string(h.kind) +
                                        " (expected 1 = float32, 2 = int8)");
  }
  if (!std::isfinite(h.input_scale) || h.input_scale == 0.0f ||
      !std::isfinite(h.input_offset)) {
    return Fail(Status::kBadScale, "input scale/offset must be finite, scale != 0");
  }
  if (h.kind == static_cast<uint32_t>(BlobKind::kInt8) &&
      (h.input_scale != 1.0f / 255.0f || h.input_offset != 0.0f)) {
    return Fail(Status::kBadScale,
                "int8 blobs take raw pixels: input scale must be 1/255, "
                "offset 0");
  }
  std::vector<LayerRecord> layers(h.layer_count);
  for (uint32_t i = 0; i < h.layer_count; ++i) {
    std::memcpy(&layers[i], bytes + h.header_size + uint64_t{i} * h.layer_record_size,
                sizeof(LayerRecord));
  }
  HeaderExtension ext{};
  if (h.header_size >= kHeaderSizeV11) {
    std::memcpy(&ext, bytes + sizeof(FileHeader), sizeof(ext));
  }
  uint32_t layer0_in = h.input_size;
  LoadResult tr = CheckTransform(h, ext, bytes, records_end, size, &layer0_in);
  if (!tr.ok()) return tr;
  if (layers[0].in_size != layer0_in ||
      (h.input_rows * h.input_cols != 0 &&
       uint64_t{h.input_rows} * h.input_cols != h.input_size)) {
    return Fail(Status::kBadShape,
                "input_size " + std::to_string(h.input_size) + " (" +
                    std::to_string(h.input_rows) + "x" +
                    std::to_string(h.input_cols) + ")" +
                    (layer0_in != h.input_size
                         ? ", transformed to " + std::to_string(layer0_in) + ","
                         : "") +
                    " does not match layer 0 in_size " +
                    std::to_string(layers[0].in_size));
  }
  for (uint32_t i = 1; i < h.layer_count; ++i) {
    if (layers[i].in_size != layers[i - 1].out_size) {
      return Fail(Status::kBadShape,
                  LayerPrefix(i) + "in_size " + std::to_string(layers[i].in_size) +
                      " does not match layer " + std::to_string(i - 1) +
                      " out_size " + std::to_string(layers[i - 1].out_size));
    }
  }
  if (layers.back().out_size != h.output_size) {
    return Fail(Status::kBadShape,
                "output_size " + std::to_string(h.output_size) +
                    " does not match the last layer's out_size " +
                    std::to_string(layers.back().out_size));
  }
  for (uint32_t i = 0; i < h.layer_count; ++i) {
    LoadResult r = CheckLayer(h, layers[i], i, bytes, records_end, size);
    if (!r.ok()) return r;
  }
  if (h.header_size >= kHeaderSizeV11) {
    LoadResult r = CheckExtension(h, ext, records_end, size);
    if (!r.ok()) return r;
  }
  LoadResult r = CheckReserved(h, ext, layers);
  if (!r.ok()) return r;
  const uint32_t crc = check_crc ? BlobCrc32(bytes, size) : h.crc32;
  if (crc != h.crc32) {
    char buf[96];
    std::snprintf(buf, sizeof(buf),
                  "CRC32 is 0x%08x but the header says 0x%08x: the file is damaged",
                  crc, h.crc32);
    return Fail(Status::kBadChecksum, buf);
  }
  view->bytes = bytes;
  view->size = size;
  view->header = h;
  view->ext = ext;
  view->layers = std::move(layers);
  return {};
}

}  // namespace edgemlp
