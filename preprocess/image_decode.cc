// The decoder of image_decode.h: stb_image restricted to PNG and PNM, its
// allocations served by the DecodeArena, and every check stb 2.27 does not
// make (found by tests/fuzz/fuzz_image and fuzz_frame) made before it runs.
#include "edgemlp/image_decode.h"

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#if EDGEMLP_HAVE_STB
namespace {
edgemlp::DecodeArena* g_arena = nullptr;  // the decode in progress
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
#define STBI_MAX_DIMENSIONS edgemlp::kMaxImageSide
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

namespace edgemlp {

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

const char* DecodeArena::Fail(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(message_, sizeof(message_), format, args);
  va_end(args);
  return message_;
}

#if EDGEMLP_HAVE_STB
bool ImageDecodingAvailable() { return true; }

namespace {

// Deflate cannot compress better than about 1032:1, so a PNG of n bytes
// holds at most ~1032 n pixel bytes: a header claiming more is a lie, refused
// before the decoder works on it.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kSmallImagePixels = 1 << 16;

// A binary PGM/PPM header ("P5"/"P6", then width, height and maxval
// separated by whitespace or # comments, then one whitespace byte), read the
// way stb reads it. stb 2.27 parses its numbers into an int without an
// overflow check (undefined behaviour), so the fields are bounded here
// before stb sees them.
struct PnmHeader {
  size_t bytes = 0;  // 0: not a PNM file
  uint64_t fields[3] = {0, 0, 0};
};

PnmHeader ReadPnmHeader(const uint8_t* data, size_t size) {
  PnmHeader h;
  if (size < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6')) return h;
  size_t at = 2;
  for (uint64_t& field : h.fields) {
    while (at < size) {
      if (std::isspace(data[at])) {
        ++at;
      } else if (data[at] == '#') {
        while (at < size && data[at] != '\n' && data[at] != '\r') ++at;
      } else {
        break;
      }
    }
    for (; at < size && std::isdigit(data[at]); ++at) {
      field = std::min<uint64_t>(field * 10 + (data[at] - '0'), uint64_t{1} << 32);
    }
  }
  h.bytes = at + 1;
  return h;
}

uint32_t BigEndian32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// stb 2.27 allocates what a PNG chunk's length field declares before it
// reads the chunk, and copies an empty first IDAT to a null pointer, so every
// chunk is checked against the real file length first.
const char* CheckPngChunks(const uint8_t* data, size_t size, DecodeArena* arena) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return nullptr;
  for (size_t at = 8; size - at >= 8;) {
    const uint32_t length = BigEndian32(data + at);
    const uint8_t* type = data + at + 4;
    if (length > size - at - 8 || size - at - 8 - length < 4) {
      return arena->Fail("truncated PNG: chunk at offset %zu declares %u bytes, %zu are left", at,
                         length, size - at - 8);
    }
    if (std::memcmp(type, "IEND", 4) == 0) return nullptr;
    if (std::memcmp(type, "IDAT", 4) == 0 && length == 0) {
      return arena->Fail("unsupported PNG: empty IDAT chunk at offset %zu", at);
    }
    at += 12 + size_t{length};
  }
  return nullptr;
}

}  // namespace

const char* DecodeImage(const uint8_t* data, size_t size, DecodeArena* arena, GrayImage* out) {
  if (size > kMaxImageFileBytes) {
    return arena->Fail("%zu bytes is larger than any accepted image (8 MiB)", size);
  }
  if (const char* error = CheckPngChunks(data, size, arena)) return error;
  const PnmHeader pnm = ReadPnmHeader(data, size);
  const uint64_t maxval = pnm.fields[2];
  if (pnm.bytes > 0 && (pnm.fields[0] > kMaxImageSide || pnm.fields[1] > kMaxImageSide ||
                        maxval == 0 || (maxval > 255 && maxval != 65535))) {
    // stb would read 16-bit samples of another range as if it were 65535.
    return arena->Fail(
        "not a readable image (PGM/PPM header %llux%llu, maxval %llu; expected sides 1..%d, "
        "maxval 1..255 or 65535)",
        static_cast<unsigned long long>(pnm.fields[0]),
        static_cast<unsigned long long>(pnm.fields[1]), static_cast<unsigned long long>(maxval),
        kMaxImageSide);
  }
  const int length = static_cast<int>(size);
  int w = 0, h = 0, channels = 0;
  // The header first: the size is checked before stb allocates for it.
  if (size == 0 || !stbi_info_from_memory(data, length, &w, &h, &channels)) {
    return arena->Fail("not a readable image (%s; expected PGM or PNG)",
                       size == 0 ? "empty file" : stbi_failure_reason());
  }
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide) {
    return arena->Fail("%dx%d pixels (expected 1..%d per side)", w, h, kMaxImageSide);
  }
  const uint64_t pixels = uint64_t{static_cast<uint32_t>(w)} * static_cast<uint32_t>(h);
  if (pixels > kMaxDeflateRatio * size + kSmallImagePixels) {
    return arena->Fail("declares %dx%d pixels, more than its %zu bytes can hold", w, h, size);
  }
  // stb does not notice a PGM/PPM that ends early and would hand back
  // uninitialized pixels.
  if (const size_t header = pnm.bytes; header > 0) {
    const uint64_t need = pixels * static_cast<uint32_t>(channels) * (maxval > 255 ? 2 : 1);
    if (header > size || size - header < need) {
      return arena->Fail("truncated: %dx%d pixels need %llu bytes of pixel data, %zu are present",
                         w, h, static_cast<unsigned long long>(need),
                         header > size ? size_t{0} : size - header);
    }
  }
  // Decoded in the file's own channels and converted to gray here: stb 2.27
  // converts 16-bit PNM channels with its 8-bit routine and overflows its
  // buffer (e.g. "P6 2 2 525").
  arena->Reset();
  g_arena = arena;
  uint8_t* decoded = stbi_load_from_memory(data, length, &w, &h, &channels, 0);
  g_arena = nullptr;
  if (decoded == nullptr) return arena->Fail("cannot decode (%s)", stbi_failure_reason());
  if (channels < 1 || channels > 4) {
    return arena->Fail("%d channels (expected 1..4)", channels);
  }
  // In place: pixel i is written after every byte it reads (i <= i * channels).
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = decoded + i * static_cast<size_t>(channels);
    // Gray (+ alpha): the value; colour (+ alpha): stb's own luma weights.
    decoded[i] = channels < 3 ? p[0] : static_cast<uint8_t>((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
  }
  if (pnm.bytes > 0 && maxval < 255) {  // stb leaves 0..maxval as it is
    for (size_t i = 0; i < pixels; ++i) {
      decoded[i] = static_cast<uint8_t>(std::min<uint64_t>(255, (decoded[i] * 255 + maxval / 2) / maxval));
    }
  }
  *out = GrayImage{decoded, w, h};
  return nullptr;
}
#else
bool ImageDecodingAvailable() { return false; }

const char* DecodeImage(const uint8_t*, size_t, DecodeArena*, GrayImage*) {
  return "built without image support (stb headers were missing)";
}
#endif

}  // namespace edgemlp
