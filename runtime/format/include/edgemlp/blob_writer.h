// Builds a blob (either kind) in memory: sections are appended 64-byte
// aligned after the header and layer records, then Finish() fills in the
// header, the records and the CRC. The writer side of blob_format.h.
#ifndef EDGEMLP_BLOB_WRITER_H_
#define EDGEMLP_BLOB_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgemlp/blob_format.h"
#include "edgemlp/input_transform.h"

namespace edgemlp {

class BlobWriter {
 public:
  // header: everything but magic, version, sizes and CRC, which Finish sets.
  BlobWriter(const FileHeader& header, uint32_t layer_count);

  // Appends `bytes` bytes at the next 64-byte boundary; returns the offset.
  uint32_t AddSection(const void* data, size_t bytes);
  void SetLayer(uint32_t index, const LayerRecord& record);
  // Format 1.1 sections (HeaderExtension); absent unless set.
  void SetMetadata(const std::string& json);
  // The known-answer input is input_size bytes: the raw image, or for an
  // affine transform the u8 features after it.
  void SetTestVector(const uint8_t* input, size_t input_size,
                     const int32_t* output, size_t output_size);
  // Format 1.2: the input transform section (nothing for kind kNone). The
  // header's input_size must be t.in_size and layer 0's in_size t.out_size.
  void SetInputTransform(const InputTransform& t);
  // The complete file.
  std::vector<uint8_t> Finish();

 private:
  FileHeader header_;
  HeaderExtension ext_{};
  std::vector<LayerRecord> layers_;
  std::vector<uint8_t> bytes_;
};

// A fixed input for the known-answer vector when no image is at hand: a
// smooth ramp plus a pseudo-random texture that touches every pixel.
std::vector<uint8_t> SyntheticTestInput(size_t size);

}  // namespace edgemlp

#endif  // EDGEMLP_BLOB_WRITER_H_
