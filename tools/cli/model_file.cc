#include "cli/model_file.h"

#include "error.h"
#include "model.h"

namespace edgemlp::cli {

ModelFile ReadModelFile(const std::string& path, bool verify_crc) {
  ModelFile f;
  f.path = path;
  f.storage = ReadFileAligned(path, &f.size);
  const LoadResult r = ParseBlob(f.bytes(), f.size, &f.view, verify_crc);
  if (!r.ok()) {
    throw InputError(path + ": " + r.message + " [" + StatusName(r.status) + "]");
  }
  f.checksum_ok = BlobCrc32(f.bytes(), f.size) == f.view.header.crc32;
  return f;
}

}  // namespace edgemlp::cli
