// What tools may see of a loaded Network beyond runtime.h: each layer as
// the blob stores it, the scalar reference of one layer, and one forward
// pass timed layer by layer. For benchmarks, baselines and peer libraries;
// the kernels' own view of a layer stays inside the runtime, so it can
// change (re-laid-out weights, per-target data) without touching a tool.
// Forcing a SIMD target is ForceTarget() in runtime.h; the whole scalar
// reference forward pass is Network::PredictRef().
#ifndef EDGEMLP_INTROSPECT_H_
#define EDGEMLP_INTROSPECT_H_

#include <cstddef>
#include <cstdint>

#include "edgemlp/export.h"
#include "edgemlp/runtime.h"

namespace edgemlp {

// Layer `index` (< Network::layer_count()) as stored in the blob; pointers
// into the blob bytes, valid while the Network lives.
struct LayerInfo {
  uint32_t in_size;
  uint32_t out_size;
  uint32_t stride;  // elements per stored weight row (zero-padded past in_size)
  bool relu;        // hidden layers always; the last layer if the blob says so
  WeightType weight_type;
  const int8_t* weights;      // out_size rows of stride elements of weight_type
  const int32_t* bias;        // out_size, at scale in_scale * weight_scale[row]
  const float* weight_scale;  // out_size: real weight = stored * weight_scale[row]
  const int32_t* requant;     // out_size x {multiplier, shift}
  float in_scale;             // real input = u8 * in_scale
  float out_scale;            // real output = u8 (hidden) or int32 (last) * out_scale
  // int8 layers (and int4 ones, which run widened to int8): the largest |w|
  // found at load, row padding included, which picks x86's kernel mode
  // (kPairedWeightLimit, runtime.h); 0 for int16 layers.
  int32_t max_abs_weight;
  // Multiply-accumulates per image (in_size x out_size) and weight bytes
  // one image reads (padded rows, as the kernels read them).
  double macs() const { return static_cast<double>(in_size) * out_size; }
  EDGEMLP_API double weight_bytes() const;
};
EDGEMLP_API LayerInfo GetLayer(const Network& net, size_t index);

// The scalar reference of layer `index` alone on `count` input vectors of
// in_size bytes each, back to back:
// - hidden layers: count x out_size u8 activations (ReferenceLayerU8);
// - any layer: count x out_size accumulators, bias + dot product before
//   requantization (what a library's int32 output must equal).
EDGEMLP_API void ReferenceLayerU8(const Network& net, size_t index, const uint8_t* in,
                                  size_t count, uint8_t* out);
EDGEMLP_API void ReferenceAccumulators(const Network& net, size_t index, const uint8_t* in,
                                       size_t count, int32_t* out);

// The optional dot-product kernels of a target family, used by default
// where the CPU has them: NEON's sdot (Armv8.2 dot product; KernelName
// "NEON+sdot") and AVX2's AVX-VNNI ("AVX2+vnni"). Off runs the target's base
// kernels, to compare the two (tests, `edgemlp bench`). Not thread-safe.
EDGEMLP_API bool HasDotProductKernels(int64_t target);
EDGEMLP_API void UseDotProductKernels(bool enabled);

// Predict() on the current target (see ForceTarget), one dispatched call
// per layer, writing each layer's wall time in ns (steady clock) to
// layer_ns[0 .. layer_count()) (an area transform runs first, untimed).
// Returns the class; the logits equal Predict()'s. Costs one dispatch per layer more than Predict(); never
// allocates.
EDGEMLP_API int PredictTimingLayers(Network& net, const uint8_t* pixels, int32_t* logits, double* layer_ns);

}  // namespace edgemlp

#endif  // EDGEMLP_INTROSPECT_H_
