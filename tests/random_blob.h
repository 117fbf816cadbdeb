// Random valid int8 blobs for the firmware's tests and firmware_frames (no
// doctest, no trainer: the format's writer only).
#ifndef EDGEMLP_TESTS_RANDOM_BLOB_H_
#define EDGEMLP_TESTS_RANDOM_BLOB_H_

#include <cstdint>
#include <vector>

namespace edgemlp::firmware {

// A random int8 784-64-10 blob, valid for ParseBlob.
std::vector<uint8_t> RandomBlob(uint64_t seed);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_TESTS_RANDOM_BLOB_H_
