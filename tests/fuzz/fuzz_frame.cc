// libFuzzer target for the firmware's frame parsing (preprocess/'s
// mnist_frame.h, firmware-sample/camera_formats.h): PGM/PNG/raw files as
// dropped into a watched directory, camera frames of any layout a driver
// could report, and MNIST preprocessing of arbitrary gray images. Pure
// functions, no runtime needed. tools/scripts/fuzz.sh builds and runs it.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "camera_formats.h"
#include "edgemlp/mnist_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgemlp;
  using namespace edgemlp::firmware;
  static std::unique_ptr<uint8_t[]> memory(new uint8_t[DecodeArena::kRecommendedBytes]);
  static DecodeArena arena(memory.get(), DecodeArena::kRecommendedBytes);
  if (size < 2) return 0;
  static const char* const kNames[] = {"frame.pgm", "frame.png", "frame.raw"};
  uint8_t frame[kFrameBytes];
  FrameFromFileBytes(kNames[data[0] % 3], data + 1, size - 1, &arena, frame);
  // The same bytes as a camera frame: a layout of the fuzzer's choosing (any
  // fourcc, stride and size, including ones a sane driver would never
  // report), then the luma goes through the same preprocessing.
  if (size >= 8) {
    constexpr int kMaxSide = 256;  // gray buffer bound; the reader checks the rest
    static uint8_t gray[kMaxSide * kMaxSide];
    FrameLayout layout;
    constexpr size_t kFormats = sizeof(kLumaFormats) / sizeof(kLumaFormats[0]);
    layout.fourcc = data[2] & 0x80 ? kLumaFormats[data[3] % kFormats]
                                   : FourCc(static_cast<char>(data[3]), 'U', 'Y', 'V');
    layout.width = 1 + data[4];  // 1..256 = kMaxSide
    layout.height = 1 + data[5];
    layout.bytes_per_line = static_cast<int>(data[6] | data[7] << 8) - (data[2] & 4 ? 32768 : 0);
    if (ExtractLuma(layout, data + 8, size - 8, gray) == nullptr) {
      PreprocessLikeMnist(GrayImage{gray, layout.width, layout.height}, frame);
    }
  }
  // The same bytes as a gray image of a fuzzer-chosen width.
  const int width = 1 + data[1] % 64;
  const size_t pixels = size - 2;
  if (pixels >= static_cast<size_t>(width)) {
    const int height = static_cast<int>(pixels / width);
    PreprocessLikeMnist(GrayImage{data + 2, width, height}, frame);
  }
  return 0;
}
