// A digit picture of any size -> the 28 x 28 frame an MNIST model reads,
// the way MNIST itself was made: white ink on black, the ink's bounding box
// fitted to 20 x 20 and its centre of mass at the centre. The one image path
// of `edgemlp predict`, edgemlp-firmware (--watch, --camera) and the tests:
// the same file gives the same frame, byte for byte, everywhere.
// Allocation-free: images decode into a caller's DecodeArena.
#ifndef EDGEMLP_MNIST_FRAME_H_
#define EDGEMLP_MNIST_FRAME_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "edgemlp/image_decode.h"

namespace edgemlp {

constexpr int kFrameSide = 28;  // MNIST frames are 28 x 28
constexpr size_t kFrameBytes = kFrameSide * kFrameSide;

// MNIST preprocessing: white-on-black (inverted if the border is bright),
// levels stretched from the paper to the darkest ink, crop to the ink's
// bounding box, scale it to fit 20 x 20 (keeping the aspect ratio), place it
// in 28 x 28 with its centre of mass at the centre. A 28 x 28 white-on-black
// image is taken as it is (already an MNIST frame).
void PreprocessLikeMnist(const GrayImage& image, uint8_t frame[kFrameBytes]);

// The last step of PreprocessLikeMnist, shared with its test's reference:
// the ink inside the box [x0, x1] x [y0, y1] of a w x h image (ink(x, y)
// in 0..255) area-resampled to fit 20 x 20 with its aspect ratio, then
// placed in the zeroed `frame` with its centre of mass at the centre.
template <class Ink>
void FitInkBox(Ink ink, int w, int h, int x0, int y0, int x1, int y1,
               uint8_t frame[kFrameBytes]) {
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
    int o = mass > 0 ? static_cast<int>(std::lround(kFrameSide / 2.0 - weighted / mass))
                     : (kFrameSide - size) / 2;
    return std::max(0, std::min(kFrameSide - size, o));
  };
  const int ox = offset(mass_x, tw), oy = offset(mass_y, th);
  for (int ty = 0; ty < th; ++ty) {
    std::memcpy(frame + (oy + ty) * kFrameSide + ox, patch + ty * 20, tw);
  }
}

// Whether a file name is a frame's: .pgm, .png or .raw (any case).
bool IsFrameFileName(const char* name);

// A frame from a file's bytes: a .raw file must hold exactly kFrameBytes
// (taken as they are); anything else is decoded as PGM/PNG and preprocessed
// like MNIST. nullptr, or what is wrong (see DecodeImage).
const char* FrameFromFileBytes(const char* name, const uint8_t* data, size_t size,
                               DecodeArena* arena, uint8_t frame[kFrameBytes]);

// Reads the file at `path` (a regular file of at most kMaxImageFileBytes)
// into `file`, which holds kMaxImageFileBytes + 1 bytes, then
// FrameFromFileBytes. nullptr, or what is wrong (without the path).
const char* ReadFrameFile(const char* path, uint8_t* file, DecodeArena* arena,
                          uint8_t frame[kFrameBytes]);

}  // namespace edgemlp

#endif  // EDGEMLP_MNIST_FRAME_H_
