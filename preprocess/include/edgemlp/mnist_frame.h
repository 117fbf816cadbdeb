// A digit picture of any size -> the 28 x 28 frame an MNIST model reads,
// the way MNIST itself was made: white ink on black, the ink's bounding box
// fitted to 20 x 20 and its centre of mass at the centre. The one image path
// of `edgemlp predict`, edgemlp-firmware (--watch, --camera) and the tests:
// the same file gives the same frame, byte for byte, everywhere.
// Allocation-free: images decode into a caller's DecodeArena.
#ifndef EDGEMLP_MNIST_FRAME_H_
#define EDGEMLP_MNIST_FRAME_H_

#include <cstddef>
#include <cstdint>

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
