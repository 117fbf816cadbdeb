// The scalar reference: the specification every SIMD kernel must match bit
// for bit. Plain loops, never optimized by hand.
#include "kernels.h"

namespace edgemlp {
namespace internal {

static int32_t DotRef(const DenseI8& layer, const uint8_t* in, uint32_t row) {
  if (layer.weight_type != WeightType::kI8) return SchemeDotRef(layer, in, row);
  const int8_t* w = layer.weights + static_cast<size_t>(row) * layer.stride;
  int32_t acc = layer.bias[row];
  for (uint32_t k = 0; k < layer.in_size; ++k) {
    acc += static_cast<int32_t>(in[k]) * static_cast<int32_t>(w[k]);
  }
  return acc;
}

void DenseI8ToU8Ref(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  for (uint32_t j = 0; j < layer.out_size; ++j) {
    out[j] = RequantizeToU8(DotRef(layer, in, j), layer.requant[2 * j],
                            layer.requant[2 * j + 1]);
  }
}

void DenseI8ToI32Ref(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  for (uint32_t j = 0; j < layer.out_size; ++j) {
    out[j] = RequantizeToI32(DotRef(layer, in, j), layer.requant[2 * j],
                             layer.requant[2 * j + 1], layer.relu);
  }
}

void ForwardI8Ref(const DenseI8* layers, size_t count, const uint8_t* pixels,
                  uint8_t* act_a, uint8_t* act_b, int32_t* logits) {
  RunForward(layers, count, pixels, act_a, act_b, logits, DenseI8ToU8Ref,
             DenseI8ToI32Ref);
}

}  // namespace internal
}  // namespace edgemlp
