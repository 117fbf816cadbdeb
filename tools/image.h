// Image input for `edgemlp predict`: PGM or PNG bytes -> pixels in MNIST's
// convention. Untrusted input: only the PNG and PNM decoders are compiled
// in (tools/stb_impl.cc), and sizes are bounded before decoding.
#ifndef EDGEMLP_TOOLS_IMAGE_H_
#define EDGEMLP_TOOLS_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgemlp {

// Largest accepted side, in pixels (an 8-bit 8192x8192 image is 64 MiB).
constexpr int kMaxImageSide = 8192;

// Decodes an 8-bit grayscale (or colour, converted) PGM/PNG image into
// rows x cols pixels: light ink on a dark background. Other sizes are
// scaled; a light background (mean border > 127) is inverted. Throws
// InputError naming `name`.
std::vector<uint8_t> DecodeImage(const uint8_t* bytes, size_t size,
                                 const std::string& name, int rows, int cols);

// Reads the file (bounded by the largest accepted image) and decodes it.
std::vector<uint8_t> ReadImage(const std::string& path, int rows, int cols);

}  // namespace edgemlp

#endif  // EDGEMLP_TOOLS_IMAGE_H_
