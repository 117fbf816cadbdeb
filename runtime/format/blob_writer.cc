#include "edgemlp/blob_writer.h"

#include <cstring>
#include <stdexcept>

#include "edgemlp/blob.h"

namespace edgemlp {

namespace {
size_t AlignUp(size_t n) { return (n + kBlobAlign - 1) / kBlobAlign * kBlobAlign; }
}  // namespace

BlobWriter::BlobWriter(const FileHeader& header, uint32_t layer_count)
    : header_(header), layers_(layer_count) {
  header_.header_size = kHeaderSizeV11;
  header_.layer_record_size = sizeof(LayerRecord);
  header_.layer_count = layer_count;
  bytes_.resize(AlignUp(kHeaderSizeV11 + layer_count * sizeof(LayerRecord)));
}

uint32_t BlobWriter::AddSection(const void* data, size_t bytes) {
  const size_t offset = AlignUp(bytes_.size());
  if (offset + bytes > 0xFFFFFFFFu) throw std::length_error("blob over 4 GiB");
  bytes_.resize(offset + bytes);
  if (bytes > 0) std::memcpy(bytes_.data() + offset, data, bytes);
  return static_cast<uint32_t>(offset);
}

void BlobWriter::SetMetadata(const std::string& json) {
  if (json.empty()) return;
  if (json.size() > kMaxMetadataBytes) throw std::length_error("metadata over 1 MiB");
  ext_.metadata_offset = AddSection(json.data(), json.size());
  ext_.metadata_size = static_cast<uint32_t>(json.size());
}

void BlobWriter::SetTestVector(const uint8_t* input, size_t input_size,
                               const int32_t* output, size_t output_size) {
  ext_.kat_input_offset = AddSection(input, input_size);
  ext_.kat_output_offset = AddSection(output, output_size * 4);
}

void BlobWriter::SetInputTransform(const InputTransform& t) {
  if (t.kind == InputTransformKind::kNone) return;
  InputTransformHeader h{};
  h.kind = static_cast<uint32_t>(t.kind);
  h.in_size = t.in_size;
  h.out_size = t.out_size;
  h.in_rows = t.in_rows;
  h.in_cols = t.in_cols;
  h.out_rows = t.out_rows;
  h.out_cols = t.out_cols;
  std::vector<uint8_t> section(InputTransformBytes(h.kind, h.in_size), 0);
  std::memcpy(section.data(), &h, sizeof(h));
  if (t.kind == InputTransformKind::kAffine) {
    std::memcpy(section.data() + AffineScaleOffset(), t.scale, size_t{t.in_size} * 4);
    std::memcpy(section.data() + AffineOffsetOffset(t.in_size), t.offset, size_t{t.in_size} * 4);
  }
  ext_.input_transform_offset = AddSection(section.data(), section.size());
  ext_.input_transform_size = static_cast<uint32_t>(section.size());
}

void BlobWriter::SetLayer(uint32_t index, const LayerRecord& record) {
  layers_.at(index) = record;
}

std::vector<uint8_t> BlobWriter::Finish() {
  bytes_.resize(AlignUp(bytes_.size()));
  std::memcpy(header_.magic, kBlobMagic, 4);
  header_.version_major = kBlobVersionMajor;
  header_.version_minor = kBlobVersionMinor;
  header_.file_size = static_cast<uint32_t>(bytes_.size());
  header_.crc32 = 0;
  std::memcpy(bytes_.data(), &header_, sizeof(header_));
  std::memcpy(bytes_.data() + sizeof(header_), &ext_, sizeof(ext_));
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::memcpy(bytes_.data() + kHeaderSizeV11 + i * sizeof(LayerRecord),
                &layers_[i], sizeof(LayerRecord));
  }
  const uint32_t crc = BlobCrc32(bytes_.data(), bytes_.size());
  std::memcpy(bytes_.data() + offsetof(FileHeader, crc32), &crc, 4);
  return std::move(bytes_);
}

std::vector<uint8_t> SyntheticTestInput(size_t size) {
  std::vector<uint8_t> pixels(size);
  uint32_t state = 2463534242u;  // xorshift32
  for (size_t i = 0; i < size; ++i) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    pixels[i] = static_cast<uint8_t>((state >> 24) & 0x7F) + static_cast<uint8_t>(i % 128);
  }
  return pixels;
}

}  // namespace edgemlp
