// libFuzzer target: the IDX reader (plain or gzipped images and labels).
// The reader takes a path, so the input is handed over as an in-memory file.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "error.h"
#include "idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("idx", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) {
    __builtin_trap();
  }
  try {
    edgemlp::ReadIdxImages(path);
  } catch (const edgemlp::InputError&) {
  }
  try {
    edgemlp::ReadIdxLabels(path);
  } catch (const edgemlp::InputError&) {
  }
  return 0;
}
