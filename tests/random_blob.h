// Random valid int8 blobs for the firmware's tests and firmware_frames (no
// doctest, no trainer: the format's writer only).
#ifndef EDGEMLP_TESTS_RANDOM_BLOB_H_
#define EDGEMLP_TESTS_RANDOM_BLOB_H_

#include <cstdint>
#include <vector>

#include "edgemlp/blob_format.h"

namespace edgemlp::firmware {

// A random int8 784-64-10 blob, valid for ParseBlob. With an area input
// transform it takes 28x28 and downsamples to 14x14 (196-64-10); with an
// affine one it takes 784 float features (scale 1, offset 0).
std::vector<uint8_t> RandomBlob(uint64_t seed,
                                InputTransformKind transform = InputTransformKind::kNone);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_TESTS_RANDOM_BLOB_H_
