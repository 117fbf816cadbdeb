// Camera pixel formats the firmware reads without a decoder, and the luma
// (grayscale) extraction from one frame. Pure functions over caller buffers,
// separate from the V4L2 ioctls (camera_v4l2.h) so they build and are tested
// everywhere, with or without <linux/videodev2.h>.
#ifndef EDGEMLP_FIRMWARE_CAMERA_FORMATS_H_
#define EDGEMLP_FIRMWARE_CAMERA_FORMATS_H_

#include <cstddef>
#include <cstdint>

namespace edgemlp::firmware {

// A V4L2 four-character code, as v4l2_fourcc() builds it.
constexpr uint32_t FourCc(char a, char b, char c, char d) {
  return static_cast<uint32_t>(static_cast<uint8_t>(a)) |
         static_cast<uint32_t>(static_cast<uint8_t>(b)) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(c)) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(d)) << 24;
}

// The formats whose luma is a plain byte pattern, in the order the camera
// negotiates them: gray first (nothing to convert), then packed 4:2:2 (what
// USB cameras offer), then the planar formats whose first plane is Y.
constexpr uint32_t kLumaFormats[] = {
    FourCc('G', 'R', 'E', 'Y'),                              // 8-bit gray
    FourCc('Y', 'U', 'Y', 'V'),                              // packed 4:2:2, Y at even bytes
    FourCc('Y', 'V', 'Y', 'U'), FourCc('U', 'Y', 'V', 'Y'),  // packed 4:2:2, Y at odd bytes
    FourCc('V', 'Y', 'U', 'Y'), FourCc('N', 'V', '1', '2'),  // Y plane, then interleaved chroma
    FourCc('N', 'V', '2', '1'), FourCc('Y', 'U', '1', '2'),  // Y plane, then U and V planes (I420)
    FourCc('Y', 'V', '1', '2'), FourCc('N', 'V', '1', '6'), FourCc('N', 'V', '6', '1'),
};
constexpr int kMaxCameraSide = 4096;

// Whether `fourcc` is in kLumaFormats.
bool IsLumaFormat(uint32_t fourcc);
// Bytes per pixel in a line of the luma: 2 for packed 4:2:2, else 1.
int LumaLineBytesPerPixel(uint32_t fourcc);
// "YUYV" etc. into name[5] (non-printable bytes as '?'); returns name.
const char* FourCcName(uint32_t fourcc, char name[5]);

// One frame's geometry as the driver reports it (v4l2_pix_format):
// bytes_per_line is the stride of the luma lines (the Y plane's, or the
// packed lines'), at least width * LumaLineBytesPerPixel.
struct FrameLayout {
  uint32_t fourcc = 0;
  int width = 0;
  int height = 0;
  int bytes_per_line = 0;
};

// Bytes a frame must hold so that all its luma is present.
size_t LumaBytesNeeded(const FrameLayout& layout);

// Copies the luma of one frame (`size` bytes from the driver) into
// gray[width * height]. Returns nullptr, or what is wrong (unsupported
// format, bad geometry, a frame too short for its layout).
const char* ExtractLuma(const FrameLayout& layout, const uint8_t* data, size_t size, uint8_t* gray);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_CAMERA_FORMATS_H_
