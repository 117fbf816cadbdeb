// Parsing and validation of edgemlp blobs (both kinds). No exceptions: every
// failure is a Status plus a message that says what was expected.
#ifndef EDGEMLP_BLOB_H_
#define EDGEMLP_BLOB_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgemlp/blob_format.h"
#include "edgemlp/export.h"
#include "edgemlp/input_transform.h"

namespace edgemlp {

enum class Status : int {
  kOk = 0,
  kTruncated,           // shorter than its header says, or than a header
  kBadMagic,            // not an edgemlp blob
  kUnsupportedVersion,  // unknown major version
  kBadHeader,           // a header field is out of range
  kBadShape,            // layer sizes do not chain, or stride is wrong
  kBadLayer,            // unknown activation or weight type, bias range
  kOutOfBounds,         // a section lies outside the file
  kMisaligned,          // a section offset or the buffer is not aligned
  kBadScale,            // a scale is zero, negative, NaN or infinite
  kBadRequant,          // multiplier or shift outside the documented range
  kBadValue,            // a float weight or bias is NaN or infinite
  kBadChecksum,         // CRC32 mismatch: the bytes were damaged
  kWrongKind,           // e.g. a float model given to the int8 runtime
  kIoError,             // the file could not be read
  kNoTestVector,        // SelfTest: the blob has no known-answer vector (1.0)
  kSelfTestFailed,      // SelfTest: wrong logits for the known-answer input
  kReservedNotZero,     // a reserved field is set in a file of a known minor
  kBadTransform,        // the input transform's kind or sizes are wrong (1.2)
};

EDGEMLP_API const char* StatusName(Status status);

// The outcome of a load: kOk, or a status and a message naming the field.
struct LoadResult {
  Status status = Status::kOk;
  std::string message;
  bool ok() const { return status == Status::kOk; }
};

// CRC32 (IEEE, reflected 0xEDB88320), equal to zlib's crc32(). Incremental:
// pass the previous result as `crc` (0 to start).
EDGEMLP_API uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);

// CRC of a blob as stored in FileHeader::crc32: the crc field read as zero.
EDGEMLP_API uint32_t BlobCrc32(const uint8_t* bytes, size_t size);

// A validated view over blob bytes. Holds pointers into the caller's buffer,
// which must stay alive and unchanged while the view is used.
struct BlobView {
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  FileHeader header{};
  HeaderExtension ext{};  // all zero in a 1.0 blob
  std::vector<LayerRecord> layers;

  // The provenance JSON text, empty if absent.
  std::string metadata() const {
    return ext.metadata_size == 0
               ? std::string()
               : std::string(reinterpret_cast<const char*>(bytes) +
                                 ext.metadata_offset,
                             ext.metadata_size);
  }
  bool has_test_vector() const { return ext.kat_input_offset != 0; }
  // The input transform (1.2), pointing into the bytes; kind kNone if absent.
  InputTransform input_transform() const;
};

// Validates every header field, layer record and section bound, then the
// CRC. `bytes` must be 8-byte aligned (section contents are read in place).
// check_crc = false is for inspecting a damaged file; never for running it.
EDGEMLP_API LoadResult ParseBlob(const uint8_t* bytes, size_t size, BlobView* view,
                                 bool check_crc = true);

}  // namespace edgemlp

#endif  // EDGEMLP_BLOB_H_
