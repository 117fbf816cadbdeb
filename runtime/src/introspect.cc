// edgemlp/introspect.h: the layer table, single-layer reference and
// per-layer timing that tools use, over the kernels' internal view.
#include "edgemlp/introspect.h"

#include <chrono>
#include <vector>

#include "hwy/targets.h"
#include "kernels.h"

namespace edgemlp {

namespace internal {
// The one friend of Network: hands this file its kernel views and arena.
struct NetworkAccess {
  static const std::vector<DenseI8>& Layers(const Network& net) { return net.layers_; }
  static const std::vector<DenseI8>& RunLayers(const Network& net) { return net.run_layers_; }
  static uint8_t* ActA(Network& net) { return net.act_a_; }
  static uint8_t* ActB(Network& net) { return net.act_b_; }
  // The input transform's output (area), or pixels as they are.
  static const uint8_t* Transform(Network& net, const uint8_t* pixels) {
    return net.Transform(pixels, 1);
  }
};
}  // namespace internal

namespace {

using Access = internal::NetworkAccess;

// Runs `kernel` (a reference layer kernel) on `count` vectors, each copied
// into a zero-padded row of `stride` bytes as the kernels expect.
template <class T, class Kernel>
void EachVector(const DenseI8& layer, const uint8_t* in, size_t count, T* out, Kernel kernel) {
  std::vector<uint8_t> row(layer.stride, 0);
  for (size_t n = 0; n < count; ++n) {
    std::copy(in + n * layer.in_size, in + (n + 1) * layer.in_size, row.begin());
    kernel(layer, row.data(), out + n * layer.out_size);
  }
}

}  // namespace

double LayerInfo::weight_bytes() const {
  return static_cast<double>(stride) * out_size * WeightBits(static_cast<uint8_t>(weight_type)) / 8;
}

LayerInfo GetLayer(const Network& net, size_t index) {
  const BlobView& view = net.blob();
  const LayerRecord& rec = view.layers[index];
  auto at = [&](uint32_t offset) { return view.bytes + offset; };
  const DenseI8& run = Access::RunLayers(net)[index];
  return LayerInfo{rec.in_size,
                   rec.out_size,
                   rec.stride,
                   rec.activation == static_cast<uint8_t>(Activation::kRelu),
                   static_cast<WeightType>(rec.weight_type),
                   reinterpret_cast<const int8_t*>(at(rec.weights_offset)),
                   reinterpret_cast<const int32_t*>(at(rec.bias_offset)),
                   reinterpret_cast<const float*>(at(rec.weight_scale_offset)),
                   reinterpret_cast<const int32_t*>(at(rec.requant_offset)),
                   rec.in_scale,
                   rec.out_scale,
                   run.weight_type == WeightType::kI8 ? run.max_abs_weight : 0};
}

void ReferenceLayerU8(const Network& net, size_t index, const uint8_t* in, size_t count,
                      uint8_t* out) {
  EachVector(Access::Layers(net)[index], in, count, out, internal::DenseI8ToU8Ref);
}

void ReferenceAccumulators(const Network& net, size_t index, const uint8_t* in, size_t count,
                           int32_t* out) {
  // The reference's last-layer path with M = 2^30 * 2^-30 = 1 and no ReLU
  // returns the accumulator itself: (acc * 2^30 + 2^29) >> 30 == acc.
  DenseI8 raw = Access::Layers(net)[index];
  std::vector<int32_t> identity(2 * size_t{raw.out_size});
  for (size_t r = 0; r < raw.out_size; ++r) {
    identity[2 * r] = kMinMultiplier;
    identity[2 * r + 1] = 30;
  }
  raw.requant = identity.data();
  raw.relu = false;
  EachVector(raw, in, count, out, internal::DenseI8ToI32Ref);
}

bool HasDotProductKernels(int64_t target) {
  return (target == HWY_NEON && internal::ArmDotProdSupported()) ||
         (target == HWY_AVX2 && internal::X86AvxVnniSupported());
}

void UseDotProductKernels(bool enabled) {
  internal::SetArmDotProd(enabled);
  internal::SetX86AvxVnni(enabled);
}

int PredictTimingLayers(Network& net, const uint8_t* pixels, int32_t* logits, double* layer_ns) {
  using Clock = std::chrono::steady_clock;
  const std::vector<DenseI8>& layers = Access::RunLayers(net);
  auto timed = [&](const DenseI8& layer, auto kernel) {
    const auto t0 = Clock::now();
    kernel();
    layer_ns[&layer - layers.data()] =
        std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  };
  internal::RunForward(
      layers.data(), layers.size(), Access::Transform(net, pixels), Access::ActA(net),
      Access::ActB(net), logits,
      [&](const DenseI8& l, const uint8_t* in, uint8_t* out) {
        timed(l, [&] { internal::DenseI8ToU8(l, in, out); });
      },
      [&](const DenseI8& l, const uint8_t* in, int32_t* out) {
        timed(l, [&] { internal::DenseI8ToI32(l, in, out); });
      });
  return ArgMax(logits, net.output_size());
}

}  // namespace edgemlp
