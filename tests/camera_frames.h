// Synthetic camera frames for the camera tests: a grayscale picture encoded
// the way a V4L2 driver lays out each of kLumaFormats, with padded lines and
// random chroma (so reading chroma as luma cannot go unnoticed). Written
// from the formats' definitions, independently of camera_formats.cc.
#ifndef EDGEMLP_TESTS_CAMERA_FRAMES_H_
#define EDGEMLP_TESTS_CAMERA_FRAMES_H_

#include <cstdint>
#include <vector>

#include "camera_formats.h"
#include "photo.h"

namespace edgemlp::firmware {

struct EncodedFrame {
  FrameLayout layout;
  std::vector<uint8_t> bytes;
};

inline EncodedFrame EncodeCameraFrame(uint32_t fourcc, const std::vector<uint8_t>& luma, int width,
                                      int height, int line_padding, uint64_t chroma_seed) {
  FastNoise chroma{static_cast<uint32_t>(chroma_seed * 2654435761u) | 1};
  const bool packed = fourcc == FourCc('Y', 'U', 'Y', 'V') ||
                      fourcc == FourCc('Y', 'V', 'Y', 'U') ||
                      fourcc == FourCc('U', 'Y', 'V', 'Y') || fourcc == FourCc('V', 'Y', 'U', 'Y');
  EncodedFrame f;
  f.layout = FrameLayout{fourcc, width, height, (packed ? 2 * width : width) + line_padding};
  const size_t bpl = static_cast<size_t>(f.layout.bytes_per_line);
  const size_t plane = bpl * static_cast<size_t>(height);
  size_t total = plane;  // GREY
  if (fourcc == FourCc('N', 'V', '1', '2') || fourcc == FourCc('N', 'V', '2', '1') ||
      fourcc == FourCc('Y', 'U', '1', '2') || fourcc == FourCc('Y', 'V', '1', '2')) {
    total = plane + plane / 2;  // 4:2:0 chroma
  } else if (fourcc == FourCc('N', 'V', '1', '6') || fourcc == FourCc('N', 'V', '6', '1')) {
    total = 2 * plane;  // 4:2:2 chroma plane
  }
  f.bytes.resize(total);
  for (uint8_t& b : f.bytes) b = static_cast<uint8_t>(chroma.Next() >> 24);  // chroma, padding
  const bool y_first = fourcc == FourCc('Y', 'U', 'Y', 'V') || fourcc == FourCc('Y', 'V', 'Y', 'U');
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const uint8_t v = luma[static_cast<size_t>(y) * width + x];
      // Packed 4:2:2: each pixel pair is 4 bytes, Y0 ? Y1 ? or ? Y0 ? Y1.
      const size_t at = packed ? 2 * static_cast<size_t>(x) + (y_first ? 0 : 1) : x;
      f.bytes[y * bpl + at] = v;
    }
  }
  return f;
}

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_TESTS_CAMERA_FRAMES_H_
