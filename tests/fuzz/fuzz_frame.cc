// libFuzzer target for the firmware's frame parsing (firmware-sample/image.h):
// PGM/PNG/raw files as dropped into a watched directory, and MNIST
// preprocessing of arbitrary gray images. Pure functions, no runtime needed.
// Build and run (clang 14, Debian 12):
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -DEDGEMLP_HAVE_STB=1 \
//     -Ifirmware-sample tests/fuzz/fuzz_frame.cc firmware-sample/image.cc -o fuzz_frame
//   ./fuzz_frame -max_total_time=60 -max_len=4096
#include <cstddef>
#include <cstdint>
#include <memory>

#include "image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgemlp::firmware;
  static std::unique_ptr<uint8_t[]> memory(new uint8_t[DecodeArena::kRecommendedBytes]);
  static DecodeArena arena(memory.get(), DecodeArena::kRecommendedBytes);
  if (size < 2) return 0;
  static const char* const kNames[] = {"frame.pgm", "frame.png", "frame.raw"};
  uint8_t frame[kFrameBytes];
  FrameFromFileBytes(kNames[data[0] % 3], data + 1, size - 1, &arena, frame);
  // The same bytes as a gray image of a fuzzer-chosen width.
  const int width = 1 + data[1] % 64;
  const size_t pixels = size - 2;
  if (pixels >= static_cast<size_t>(width)) {
    const int height = static_cast<int>(pixels / width);
    PreprocessLikeMnist(GrayImage{data + 2, width, height}, frame);
  }
  return 0;
}
