// Scalar reference for the int16 and packed int4 weight schemes: the
// specification forward_schemes-inl.h matches bit for bit.
#include "kernels.h"

namespace edgemlp {
namespace internal {

int32_t SchemeDotRef(const DenseI8& layer, const uint8_t* in, uint32_t row) {
  const size_t stride = layer.stride;
  int32_t acc = layer.bias[row];
  if (layer.weight_type == WeightType::kI16) {
    const int16_t* w = reinterpret_cast<const int16_t*>(layer.weights) + row * stride;
    for (uint32_t k = 0; k < layer.in_size; ++k) {
      acc += static_cast<int32_t>(in[k]) * static_cast<int32_t>(w[k]);
    }
    return acc;
  }
  const int8_t* w = layer.weights + row * stride / 2;
  for (uint32_t k = 0; k < layer.in_size; ++k) {
    const int32_t weight = k < stride / 2 ? LowNibble(w[k]) : HighNibble(w[k - stride / 2]);
    acc += static_cast<int32_t>(in[k]) * weight;
  }
  return acc;
}

}  // namespace internal
}  // namespace edgemlp
