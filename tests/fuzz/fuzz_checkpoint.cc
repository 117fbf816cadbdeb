// libFuzzer target: the training checkpoint reader (`edgemlp train --resume`).
// The CRC is patched in so the fuzzer explores the fields behind it; a parsed
// checkpoint must survive serialize -> parse -> serialize unchanged.
#include <cstring>
#include <vector>

#include "checkpoint.h"
#include "edgemlp/blob.h"
#include "error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size >= 24) {
    const uint32_t crc = edgemlp::Crc32(bytes.data() + 24, size - 24);
    std::memcpy(bytes.data() + 12, &crc, 4);
  }
  try {
    const edgemlp::Checkpoint ck = edgemlp::ParseCheckpoint(bytes.data(), size, "fuzz");
    const std::vector<uint8_t> once = edgemlp::SerializeCheckpoint(ck);
    const edgemlp::Checkpoint again = edgemlp::ParseCheckpoint(once.data(), once.size(), "again");
    if (edgemlp::SerializeCheckpoint(again) != once) __builtin_trap();
  } catch (const edgemlp::InputError&) {
  }
  return 0;
}
