// Image decoding for untrusted files: PGM/PPM (binary) or PNG bytes ->
// 8-bit grayscale, without touching the heap (stb_image allocates from a
// DecodeArena reserved once). Every header field is bounded before stb reads
// or allocates for it. Used by `edgemlp predict`, edgemlp-firmware and the
// tests through mnist_frame.h; fuzzed by tests/fuzz/fuzz_image.cc.
#ifndef EDGEMLP_IMAGE_DECODE_H_
#define EDGEMLP_IMAGE_DECODE_H_

#include <cstddef>
#include <cstdint>

namespace edgemlp {

constexpr int kMaxImageSide = 1024;                // larger images are rejected
constexpr size_t kMaxImageFileBytes = 8u << 20;    // so are larger files

// 8-bit grayscale pixels, row-major; points into a DecodeArena or the input.
struct GrayImage {
  const uint8_t* pixels = nullptr;
  int width = 0;
  int height = 0;
};

// Fixed memory for the image decoder (stb_image), reserved once at start-up
// and reset per image: decoding never touches the heap. It also holds the
// last error message, so messages can name sizes without allocating.
class DecodeArena {
 public:
  DecodeArena(uint8_t* memory, size_t size) : memory_(memory), size_(size) {}
  void Reset() {
    used_ = 0;
    last_ = nullptr;
  }
  void* Allocate(size_t size);
  void* Reallocate(void* block, size_t old_size, size_t size);
  // Formats a message into the arena's buffer and returns it; valid until
  // the next decode with this arena.
  const char* Fail(const char* format, ...) __attribute__((format(printf, 2, 3)));
  // Bytes a decode needs in the worst case for kMaxImageSide images.
  static constexpr size_t kRecommendedBytes = 40u << 20;

 private:
  uint8_t* memory_;
  size_t size_;
  size_t used_ = 0;
  uint8_t* last_ = nullptr;  // the latest block grows in place
  char message_[256] = {};
};

// Decodes a binary PGM/PPM (P5/P6, maxval 1..255 or 65535) or PNG (any bit
// depth; colour is converted with stb's luma weights) held in memory to
// 8-bit grayscale. Returns nullptr on success, else what is wrong (a static
// string or one in the arena). Whether stb was compiled in:
// ImageDecodingAvailable().
const char* DecodeImage(const uint8_t* data, size_t size, DecodeArena* arena, GrayImage* out);
bool ImageDecodingAvailable();

}  // namespace edgemlp

#endif  // EDGEMLP_IMAGE_DECODE_H_
