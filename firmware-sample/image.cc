#include "image.h"

#include <strings.h>

#include <cctype>
#include <cmath>
#include <cstring>

#if EDGEMLP_HAVE_STB
namespace {
edgemlp::firmware::DecodeArena* g_arena = nullptr;  // the decode in progress
}  // namespace
#define STBI_MALLOC(size) g_arena->Allocate(size)
#define STBI_REALLOC_SIZED(block, old_size, size) g_arena->Reallocate(block, old_size, size)
#define STBI_FREE(block) static_cast<void>(block)
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_PNG
#define STBI_ONLY_PNM
#define STBI_NO_THREAD_LOCALS
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop
#endif

namespace edgemlp::firmware {

namespace {
constexpr size_t kAlign = 16;
size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void* DecodeArena::Allocate(size_t size) {
  const size_t need = AlignUp(size);
  if (need < size || need > size_ - used_) return nullptr;
  last_ = memory_ + used_;
  used_ += need;
  return last_;
}

void* DecodeArena::Reallocate(void* block, size_t old_size, size_t size) {
  if (block == nullptr) return Allocate(size);
  uint8_t* old = static_cast<uint8_t*>(block);
  if (old == last_) {  // the newest block grows or shrinks in place
    const size_t start = static_cast<size_t>(old - memory_);
    const size_t need = AlignUp(size);
    if (need < size || need > size_ - start) return nullptr;
    used_ = start + need;
    return old;
  }
  void* fresh = Allocate(size);
  if (fresh != nullptr) std::memcpy(fresh, old, old_size < size ? old_size : size);
  return fresh;
}

#if EDGEMLP_HAVE_STB
bool ImageDecodingAvailable() { return true; }

// Bytes of pixel data a binary PNM needs after its header, for a size check
// stb_image does not make (it decodes a truncated PGM without complaint).
// 0 if `data` is not a PNM.
size_t PnmMissingBytes(const uint8_t* data, size_t size, int w, int h, int channels) {
  if (size < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6')) return 0;
  size_t at = 2;
  long maxval = 0;
  for (int token = 0; token < 3; ++token) {  // width, height, maxval
    while (at < size && (std::isspace(data[at]) || data[at] == '#')) {
      if (data[at] == '#') {
        while (at < size && data[at] != '\n') ++at;
      } else {
        ++at;
      }
    }
    long value = 0;
    while (at < size && std::isdigit(data[at]) && value < 100000)
      value = value * 10 + (data[at++] - '0');
    if (token == 2) maxval = value;
  }
  ++at;  // the single whitespace before the pixels
  const size_t need = static_cast<size_t>(w) * h * channels * (maxval > 255 ? 2 : 1);
  const size_t have = at < size ? size - at : 0;
  return have < need ? need - have : 0;
}

// stb 2.27 parses PNM header numbers into an int without an overflow check
// (undefined behaviour, found by tests/fuzz/fuzz_frame), so a binary PNM's
// width, height and maxval are bounded here before stb reads them.
bool PnmHeaderInRange(const uint8_t* data, size_t size) {
  if (size < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6')) return true;
  size_t at = 2;
  for (int token = 0; token < 3; ++token) {  // width, height, maxval
    while (at < size && (std::isspace(data[at]) || data[at] == '#')) {
      if (data[at] == '#') {
        while (at < size && data[at] != '\n' && data[at] != '\r') ++at;
      } else {
        ++at;
      }
    }
    long value = 0;
    for (; at < size && std::isdigit(data[at]); ++at) {
      value = value * 10 + (data[at] - '0');
      if (value > 65535) return false;  // > any side we accept, > 16-bit maxval
    }
  }
  return true;
}

const char* DecodeImage(const uint8_t* data, size_t size, DecodeArena* arena, GrayImage* out) {
  if (size == 0) return "empty file";
  if (size > kMaxImageFileBytes || size > 0x7FFFFFFF) return "file larger than 8 MiB";
  if (!PnmHeaderInRange(data, size)) return "PGM/PPM header numbers out of range";
  const int len = static_cast<int>(size);
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &channels)) {
    return "not a PGM (P5) or PNG image, or a corrupt one";
  }
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide) {
    return "image larger than 1024 x 1024 pixels";
  }
  if (PnmMissingBytes(data, size, w, h, channels) > 0) return "truncated PGM/PPM pixel data";
  arena->Reset();
  g_arena = arena;
  const uint8_t* pixels = stbi_load_from_memory(data, len, &w, &h, &channels, 1);
  g_arena = nullptr;
  if (pixels == nullptr) return "undecodable image data";
  *out = GrayImage{pixels, w, h};
  return nullptr;
}
#else
bool ImageDecodingAvailable() { return false; }

const char* DecodeImage(const uint8_t*, size_t, DecodeArena*, GrayImage*) {
  return "built without image support (stb headers were missing)";
}
#endif

void PreprocessLikeMnist(const GrayImage& image, uint8_t frame[kFrameBytes]) {
  std::memset(frame, 0, kFrameBytes);
  const int w = image.width, h = image.height;
  if (w <= 0 || h <= 0 || image.pixels == nullptr) return;
  auto at = [&](int x, int y) { return image.pixels[static_cast<size_t>(y) * w + x]; };

  // Polarity from the border: MNIST is white ink on black.
  uint64_t border_sum = 0, border_count = 0;
  for (int x = 0; x < w; ++x) border_sum += at(x, 0) + at(x, h - 1), border_count += 2;
  for (int y = 0; y < h; ++y) border_sum += at(0, y) + at(w - 1, y), border_count += 2;
  const bool invert = border_sum > 127 * border_count;
  auto raw_ink = [&](int x, int y) { return invert ? 255 - at(x, y) : at(x, y); };

  if (w == kSide && h == kSide && !invert) {
    std::memcpy(frame, image.pixels, kFrameBytes);
    return;
  }
  // Levels, as MNIST has them: the paper (the border's mean) becomes 0 and
  // the darkest ink 255, so a photo's grey page is not read as faint ink.
  const int paper =
      static_cast<int>(invert ? 255 - border_sum / border_count : border_sum / border_count);
  int peak = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) peak = std::max(peak, raw_ink(x, y));
  }
  const int range = std::max(1, peak - paper);
  auto ink = [&](int x, int y) {
    return std::max(0, std::min(255, (raw_ink(x, y) - paper) * 255 / range));
  };
  // Bounding box of the ink (pixels clearly above the background).
  constexpr int kInkThreshold = 64;
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (ink(x, y) > kInkThreshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return;  // blank: an all-black frame
  const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  // Fit the box into 20 x 20, keeping its aspect ratio.
  const double scale = 20.0 / (bw > bh ? bw : bh);
  const int tw = std::max(1, static_cast<int>(std::lround(bw * scale)));
  const int th = std::max(1, static_cast<int>(std::lround(bh * scale)));
  // Area resampling: each target pixel averages the source area it covers.
  uint8_t patch[20 * 20];
  double mass = 0, mass_x = 0, mass_y = 0;
  for (int ty = 0; ty < th; ++ty) {
    const double sy0 = y0 + ty * static_cast<double>(bh) / th;
    const double sy1 = y0 + (ty + 1) * static_cast<double>(bh) / th;
    for (int tx = 0; tx < tw; ++tx) {
      const double sx0 = x0 + tx * static_cast<double>(bw) / tw;
      const double sx1 = x0 + (tx + 1) * static_cast<double>(bw) / tw;
      double sum = 0, area = 0;
      for (int y = static_cast<int>(sy0); y < sy1 && y < h; ++y) {
        const double cy = std::min(sy1, y + 1.0) - std::max(sy0, static_cast<double>(y));
        for (int x = static_cast<int>(sx0); x < sx1 && x < w; ++x) {
          const double cx = std::min(sx1, x + 1.0) - std::max(sx0, static_cast<double>(x));
          sum += cx * cy * ink(x, y);
          area += cx * cy;
        }
      }
      const int v = area > 0 ? static_cast<int>(std::lround(sum / area)) : 0;
      patch[ty * 20 + tx] = static_cast<uint8_t>(v > 255 ? 255 : v);
      mass += v;
      mass_x += v * (tx + 0.5);
      mass_y += v * (ty + 0.5);
    }
  }
  // Shift so the centre of mass lands on the frame's centre (14, 14).
  auto offset = [&](double weighted, int size) {
    int o = mass > 0 ? static_cast<int>(std::lround(kSide / 2.0 - weighted / mass))
                     : (kSide - size) / 2;
    return std::max(0, std::min(kSide - size, o));
  };
  const int ox = offset(mass_x, tw), oy = offset(mass_y, th);
  for (int ty = 0; ty < th; ++ty) {
    std::memcpy(frame + (oy + ty) * kSide + ox, patch + ty * 20, tw);
  }
}

namespace {
bool EndsWith(const char* s, const char* suffix) {
  const size_t n = std::strlen(s), m = std::strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}
}  // namespace

bool IsFrameFileName(const char* name) {
  return EndsWith(name, ".pgm") || EndsWith(name, ".png") || EndsWith(name, ".raw");
}

const char* FrameFromFileBytes(const char* name, const uint8_t* data, size_t size,
                               DecodeArena* arena, uint8_t frame[kFrameBytes]) {
  if (EndsWith(name, ".raw")) {
    if (size != kFrameBytes) return "a .raw frame must be exactly 784 bytes";
    std::memcpy(frame, data, kFrameBytes);
    return nullptr;
  }
  GrayImage image;
  if (const char* error = DecodeImage(data, size, arena, &image)) return error;
  PreprocessLikeMnist(image, frame);
  return nullptr;
}

}  // namespace edgemlp::firmware
