// Inputs for the firmware's process-level tests (firmware_service_test.py):
//   firmware_frames blob SEED > model.q8
//     a random valid int8 784-64-10 blob (a second model to reload)
//   firmware_frames i420 W H SEED [MIN_SCALE MAX_SCALE] < digits.raw > frames.i420
//     each 28x28 digit on stdin photographed (tests/photo.h: dark ink on an
//     unevenly lit page, noise) at 8x..14x (or as given, up to what fits),
//     anywhere in a W x H frame, written
//     as I420 (the luma, then random U and V planes of ceil(W/2) x ceil(H/2))
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "photo.h"
#include "random_blob.h"

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "blob") == 0) {
    const std::vector<uint8_t> blob = edgemlp::firmware::RandomBlob(std::strtoull(argv[2], nullptr, 10));
    return std::fwrite(blob.data(), 1, blob.size(), stdout) == blob.size() ? 0 : 1;
  }
  if ((argc != 5 && argc != 7) || std::strcmp(argv[1], "i420") != 0) {
    std::fprintf(stderr,
                 "usage: firmware_frames blob SEED | i420 W H SEED [MIN MAX] < digits.raw\n");
    return 2;
  }
  const int width = std::atoi(argv[2]), height = std::atoi(argv[3]);
  const uint64_t seed = std::strtoull(argv[4], nullptr, 10);
  std::mt19937_64 rng(seed);
  edgemlp::FastNoise noise{static_cast<uint32_t>(seed) | 1};
  const size_t chroma = 2 * static_cast<size_t>((width + 1) / 2) * static_cast<size_t>((height + 1) / 2);
  std::vector<uint8_t> chroma_bytes(chroma);
  const double lo = argc == 7 ? std::atof(argv[5]) : 8.0, hi = argc == 7 ? std::atof(argv[6]) : 14.0;
  const double max_scale = std::min(hi, std::min(width, height) / 28.0);
  uint8_t digit[784];
  while (std::fread(digit, 1, sizeof(digit), stdin) == sizeof(digit)) {
    const double scale = std::uniform_real_distribution<double>(std::min(lo, max_scale), max_scale)(rng);
    const int side = static_cast<int>(28 * scale);
    const int left = std::uniform_int_distribution<int>(0, width - side)(rng);
    const int top = std::uniform_int_distribution<int>(0, height - side)(rng);
    const std::vector<uint8_t> luma =
        edgemlp::Photograph(digit, scale, left, top, width, height, noise);
    for (uint8_t& c : chroma_bytes) c = static_cast<uint8_t>(noise.Next() >> 24);
    std::fwrite(luma.data(), 1, luma.size(), stdout);
    std::fwrite(chroma_bytes.data(), 1, chroma_bytes.size(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
