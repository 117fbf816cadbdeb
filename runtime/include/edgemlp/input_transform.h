// The input transform: what turns the caller's input (raw float features, or
// a u8 image larger than the network's input) into the u8 vector layer 0
// reads, with in_scale 1/255 as always. One scalar definition, used by the
// runtime, the trainer and every tool, so they agree bit for bit
// (docs/blob-format.md, Input transform).
#ifndef EDGEMLP_INPUT_TRANSFORM_H_
#define EDGEMLP_INPUT_TRANSFORM_H_

#include <cstdint>

#include "edgemlp/blob_format.h"
#include "edgemlp/export.h"

namespace edgemlp {

// A view: pointers into a blob or the caller's arrays, never owned.
struct InputTransform {
  InputTransformKind kind = InputTransformKind::kNone;
  uint32_t in_size = 0, out_size = 0;
  const float* scale = nullptr;  // affine: in_size each
  const float* offset = nullptr;
  uint32_t in_rows = 0, in_cols = 0, out_rows = 0, out_cols = 0;  // area
};

// Affine: q[i] = clamp(nearbyint(double(x[i]) * scale[i] + offset[i]), 0, 255),
// in double (the product of two floats is exact there, so FMA contraction
// cannot change it) and rounded half to even. Returns false if some x[i] is
// not finite: q is written up to that index and untouched from it on.
// Also false, writing nothing, if t is not an affine transform.
EDGEMLP_API bool QuantizeFeatures(const InputTransform& t, const float* x, uint8_t* q);

// Area: in_rows x in_cols u8 pixels -> out_rows x out_cols by exact integer
// area averaging. Along an axis, input pixel i covers [i * out, (i + 1) * out)
// and output pixel j covers [j * in, (j + 1) * in); each output is the sum of
// its pixels weighted by the overlapping area, divided by in_rows * in_cols
// rounded half up. The scalar reference; Network runs a bit-exact SIMD path.
// Does nothing if t is not an area transform.
EDGEMLP_API void AreaDownsample(const InputTransform& t, const uint8_t* in, uint8_t* out);

}  // namespace edgemlp

#endif  // EDGEMLP_INPUT_TRANSFORM_H_
