// Frame and image parsing for the firmware, as pure functions over caller
// buffers (fuzzed by tests/fuzz/fuzz_frame.cc): decode PGM/PNG, then turn a
// digit photo of any size into an MNIST frame.
#ifndef EDGEMLP_FIRMWARE_IMAGE_H_
#define EDGEMLP_FIRMWARE_IMAGE_H_

#include <cstddef>
#include <cstdint>

namespace edgemlp::firmware {

constexpr int kSide = 28;  // MNIST frames are 28 x 28
constexpr size_t kFrameBytes = kSide * kSide;
constexpr int kMaxImageSide = 1024;  // larger images are rejected
constexpr size_t kMaxImageFileBytes = 8u << 20;

// 8-bit grayscale pixels, row-major; points into a DecodeArena or the input.
struct GrayImage {
  const uint8_t* pixels = nullptr;
  int width = 0;
  int height = 0;
};

// Fixed memory for the image decoder (stb_image), reserved once at start-up
// and reset per image: decoding never touches the heap.
class DecodeArena {
 public:
  DecodeArena(uint8_t* memory, size_t size) : memory_(memory), size_(size) {}
  void Reset() {
    used_ = 0;
    last_ = nullptr;
  }
  void* Allocate(size_t size);
  void* Reallocate(void* block, size_t old_size, size_t size);
  // Bytes a decode needs in the worst case for kMaxImageSide images.
  static constexpr size_t kRecommendedBytes = 40u << 20;

 private:
  uint8_t* memory_;
  size_t size_;
  size_t used_ = 0;
  uint8_t* last_ = nullptr;  // the latest block grows in place
};

// Decodes a binary PGM (P5) or PNG file held in memory to grayscale.
// Returns nullptr on success, else a static message saying what is wrong.
// Whether image support is compiled in: ImageDecodingAvailable().
const char* DecodeImage(const uint8_t* data, size_t size, DecodeArena* arena, GrayImage* out);
bool ImageDecodingAvailable();

// MNIST preprocessing: white-on-black (inverted if the border is bright),
// crop to the ink's bounding box, scale it to fit 20 x 20 (keeping the
// aspect ratio), place it in 28 x 28 with its centre of mass at the centre.
// A 28 x 28 white-on-black image is taken as it is (already an MNIST frame).
void PreprocessLikeMnist(const GrayImage& image, uint8_t frame[kFrameBytes]);

// Whether a watched directory's file is a frame: .pgm, .png or .raw.
bool IsFrameFileName(const char* name);

// A frame from a file's bytes: a .raw file must hold exactly kFrameBytes;
// images are decoded and preprocessed like MNIST. nullptr, or what is wrong.
const char* FrameFromFileBytes(const char* name, const uint8_t* data, size_t size,
                               DecodeArena* arena, uint8_t frame[kFrameBytes]);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_IMAGE_H_
