#include "random_blob.h"

#include <random>

#include "edgemlp/blob_writer.h"

namespace edgemlp::firmware {

std::vector<uint8_t> RandomBlob(uint64_t seed, InputTransformKind transform) {
  std::mt19937_64 rng(seed);
  const bool area = transform == InputTransformKind::kArea;
  const uint32_t sizes[3] = {area ? 196u : 784u, 64, 10};
  FileHeader h{};
  h.kind = static_cast<uint32_t>(BlobKind::kInt8);
  h.input_size = 784;
  h.input_rows = h.input_cols = 28;
  h.input_scale = 1.0f / 255.0f;
  h.output_size = 10;
  BlobWriter writer(h, 2);
  InputTransform t;
  t.kind = transform;
  t.in_size = 784;
  t.out_size = sizes[0];
  const std::vector<float> ones(784, 1.0f), zeros(784, 0.0f);
  if (area) {
    t.in_rows = t.in_cols = 28;
    t.out_rows = t.out_cols = 14;
  } else {
    t.scale = ones.data();
    t.offset = zeros.data();
  }
  writer.SetInputTransform(t);
  for (uint32_t i = 0; i < 2; ++i) {
    const uint32_t in = sizes[i], out = sizes[i + 1];
    const uint32_t stride = (in + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
    std::vector<int8_t> w(size_t{out} * stride, 0);
    std::uniform_int_distribution<int> wd(-127, 127);
    for (uint32_t r = 0; r < out; ++r) {
      for (uint32_t c = 0; c < in; ++c) w[size_t{r} * stride + c] = static_cast<int8_t>(wd(rng));
    }
    std::vector<int32_t> bias(out), requant;
    std::vector<float> scale(out, 0.01f);
    std::uniform_int_distribution<int32_t> bd(-5000, 5000), md(kMinMultiplier, INT32_MAX);
    for (uint32_t r = 0; r < out; ++r) {
      bias[r] = bd(rng);
      requant.push_back(md(rng));
      requant.push_back(i == 0 ? 44 : 31);  // hidden: ~0..255, logits: ~acc
    }
    LayerRecord rec{};
    rec.in_size = in;
    rec.out_size = out;
    rec.stride = stride;
    rec.activation = static_cast<uint8_t>(i == 0 ? Activation::kRelu : Activation::kNone);
    rec.weight_type = static_cast<uint8_t>(WeightType::kI8);
    rec.weights_offset = writer.AddSection(w.data(), w.size());
    rec.bias_offset = writer.AddSection(bias.data(), bias.size() * 4);
    rec.weight_scale_offset = writer.AddSection(scale.data(), scale.size() * 4);
    rec.requant_offset = writer.AddSection(requant.data(), requant.size() * 4);
    rec.in_scale = 0.01f;
    rec.out_scale = 0.01f;
    writer.SetLayer(i, rec);
  }
  return writer.Finish();
}

}  // namespace edgemlp::firmware
