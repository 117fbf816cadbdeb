// libFuzzer target: the image decoder of preprocess/ (PGM/PPM/PNG bytes, as
// `edgemlp predict` and edgemlp-firmware --watch read them) and the MNIST
// preprocessing of whatever it decodes.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "edgemlp/mnist_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgemlp;
  static std::unique_ptr<uint8_t[]> memory(new uint8_t[DecodeArena::kRecommendedBytes]);
  static DecodeArena arena(memory.get(), DecodeArena::kRecommendedBytes);
  GrayImage image;
  if (DecodeImage(data, size, &arena, &image) == nullptr) {
    uint8_t frame[kFrameBytes];
    PreprocessLikeMnist(image, frame);
  }
  return 0;
}
