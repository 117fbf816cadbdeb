// Shared by the firmware suite's files (firmware_test): a heap allocation
// counter, SHA-256 as hex, random valid int8 blobs and temporary files.
#ifndef EDGEMLP_TESTS_FIRMWARE_TEST_UTIL_H_
#define EDGEMLP_TESTS_FIRMWARE_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgemlp/runtime.h"
#include "random_blob.h"

namespace edgemlp::firmware {

// Heap allocations so far (operator new, malloc, calloc, realloc): the
// "nothing allocated per frame" checks compare two readings.
long HeapAllocations();

std::string HashHex(const void* data, size_t size);


// RandomBlob(seed), loaded (the test fails if it does not load).
struct LoadedNet {
  Network net;
  explicit LoadedNet(uint64_t seed);
};

// A temporary file holding `bytes`, open for reading at offset 0.
int TempFileWith(const std::vector<uint8_t>& bytes);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_TESTS_FIRMWARE_TEST_UTIL_H_
