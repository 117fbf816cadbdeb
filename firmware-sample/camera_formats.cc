#include "camera_formats.h"

#include <cstring>

namespace edgemlp::firmware {

namespace {
// The packed 4:2:2 formats that start a pixel pair with chroma (Y at odd bytes).
bool LumaAtOddBytes(uint32_t fourcc) {
  return fourcc == FourCc('U', 'Y', 'V', 'Y') || fourcc == FourCc('V', 'Y', 'U', 'Y');
}
}  // namespace

bool IsLumaFormat(uint32_t fourcc) {
  for (const uint32_t f : kLumaFormats) {
    if (f == fourcc) return true;
  }
  return false;
}

int LumaLineBytesPerPixel(uint32_t fourcc) {
  return fourcc == FourCc('Y', 'U', 'Y', 'V') || fourcc == FourCc('Y', 'V', 'Y', 'U') ||
                 LumaAtOddBytes(fourcc)
             ? 2
             : 1;
}

const char* FourCcName(uint32_t fourcc, char name[5]) {
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>(fourcc >> (8 * i) & 0xFF);
    name[i] = c >= 0x20 && c < 0x7F ? c : '?';
  }
  name[4] = '\0';
  return name;
}

size_t LumaBytesNeeded(const FrameLayout& l) {
  if (l.width <= 0 || l.height <= 0) return 0;
  return static_cast<size_t>(l.height - 1) * static_cast<size_t>(l.bytes_per_line) +
         static_cast<size_t>(l.width) * static_cast<size_t>(LumaLineBytesPerPixel(l.fourcc));
}

const char* ExtractLuma(const FrameLayout& l, const uint8_t* data, size_t size, uint8_t* gray) {
  if (!IsLumaFormat(l.fourcc)) return "pixel format without a plain luma plane";
  if (l.width <= 0 || l.height <= 0 || l.width > kMaxCameraSide || l.height > kMaxCameraSide) {
    return "frame size outside 1..4096 pixels";
  }
  const int step = LumaLineBytesPerPixel(l.fourcc);
  if (l.bytes_per_line < l.width * step) return "bytes per line shorter than a line of pixels";
  if (data == nullptr || size < LumaBytesNeeded(l)) return "short frame: fewer bytes than its size";
  for (int y = 0; y < l.height; ++y) {
    const uint8_t* line = data + static_cast<size_t>(y) * l.bytes_per_line;
    uint8_t* out = gray + static_cast<size_t>(y) * l.width;
    if (step == 1) {
      std::memcpy(out, line, static_cast<size_t>(l.width));
    } else {
      const uint8_t* luma = line + (LumaAtOddBytes(l.fourcc) ? 1 : 0);
      for (int x = 0; x < l.width; ++x) out[x] = luma[2 * x];
    }
  }
  return nullptr;
}

}  // namespace edgemlp::firmware
