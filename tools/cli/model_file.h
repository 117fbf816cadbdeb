// A model file of either kind, read and validated once for the subcommands
// that accept both (eval, inspect).
#ifndef EDGEMLP_TOOLS_MODEL_FILE_H_
#define EDGEMLP_TOOLS_MODEL_FILE_H_

#include <string>
#include <vector>

#include "edgemlp/blob.h"

namespace edgemlp::cli {

struct ModelFile {
  std::string path;
  std::vector<uint64_t> storage;  // 8-byte aligned bytes
  size_t size = 0;
  BlobView view;
  bool checksum_ok = false;

  const uint8_t* bytes() const {
    return reinterpret_cast<const uint8_t*>(storage.data());
  }
  bool is_int8() const {
    return view.header.kind == static_cast<uint32_t>(BlobKind::kInt8);
  }
};

// Throws InputError naming the file. verify_crc = false lets inspect show a
// damaged file (checksum_ok says whether it matched).
ModelFile ReadModelFile(const std::string& path, bool verify_crc = true);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_MODEL_FILE_H_
