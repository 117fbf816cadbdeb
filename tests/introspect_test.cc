// edgemlp/introspect.h: what tools see of a loaded network, checked against
// the blob's own records and arithmetic done here from the layer arrays.
#include "edgemlp/introspect.h"

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <vector>

#include "edgemlp/blob_format.h"
#include "edgemlp/runtime.h"
#include "quantize.h"
#include "test_util.h"

namespace edgemlp {
namespace {

// A random 784-70-33-10 network, int8 but for `types`, loaded from a file
// (LoadFile maps it; the mapping outlives the file's removal).
void LoadSchemeNet(const std::map<size_t, WeightType>& types, Network* net) {
  QuantOptions q;
  q.weight_type = WeightType::kI8;
  q.layer_types = types;
  q.test_input = SyntheticTestInput(784);
  const std::vector<uint8_t> blob = Quantize(test::RandomModel({784, 70, 33, 10}, 7), q);
  test::TempDir dir;
  test::WriteBytes(dir.File("m.q8"), blob);
  const LoadResult r = Network::LoadFile(dir.File("m.q8"), net);
  REQUIRE_MESSAGE(r.ok(), r.message);
}

std::vector<uint8_t> RandomPixels(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> px(count);
  for (uint8_t& p : px) p = static_cast<uint8_t>(rng());
  return px;
}

TEST_CASE("GetLayer: shape, scheme and sizes as the blob records them") {
  using WT = WeightType;
  Network net;
  LoadSchemeNet({{0, WT::kI16}, {2, WT::kI4}}, &net);
  REQUIRE(net.layer_count() == 3);
  const uint32_t sizes[] = {784, 70, 33, 10};
  const WT types[] = {WT::kI16, WT::kI8, WT::kI4};
  const double bytes_per_weight[] = {2, 1, 0.5};
  for (size_t i = 0; i < 3; ++i) {
    INFO("layer ", i);
    const LayerInfo l = GetLayer(net, i);
    const LayerRecord& rec = net.blob().layers[i];
    CHECK(l.in_size == sizes[i]);
    CHECK(l.out_size == sizes[i + 1]);
    CHECK(l.stride == rec.stride);
    CHECK(l.stride >= l.in_size);
    CHECK(l.weight_type == types[i]);
    CHECK(l.relu == (i < 2));
    CHECK(l.weights == reinterpret_cast<const int8_t*>(net.blob().bytes + rec.weights_offset));
    CHECK(l.weight_scale[0] > 0);
    CHECK(l.in_scale == rec.in_scale);
    CHECK(l.macs() == static_cast<double>(sizes[i]) * sizes[i + 1]);
    CHECK(l.weight_bytes() == l.stride * l.out_size * bytes_per_weight[i]);
  }
}

TEST_CASE("ReferenceAccumulators is bias + dot; ReferenceLayerU8 requantizes it") {
  Network net;
  LoadSchemeNet({}, &net);
  const LayerInfo l = GetLayer(net, 0);
  constexpr size_t kCount = 3;
  const std::vector<uint8_t> in = RandomPixels(kCount * l.in_size, 1);
  std::vector<int32_t> acc(kCount * l.out_size);
  std::vector<uint8_t> u8(kCount * l.out_size);
  ReferenceAccumulators(net, 0, in.data(), kCount, acc.data());
  ReferenceLayerU8(net, 0, in.data(), kCount, u8.data());
  for (size_t n = 0; n < kCount; ++n) {
    for (uint32_t r = 0; r < l.out_size; ++r) {
      int64_t want = l.bias[r];
      for (uint32_t k = 0; k < l.in_size; ++k) {
        want += int64_t{in[n * l.in_size + k]} * l.weights[size_t{r} * l.stride + k];
      }
      REQUIRE(acc[n * l.out_size + r] == want);
      REQUIRE(u8[n * l.out_size + r] ==
              RequantizeToU8(static_cast<int32_t>(want), l.requant[2 * r], l.requant[2 * r + 1]));
    }
  }
}

TEST_CASE("PredictTimingLayers: Predict's logits on every target, a time per layer") {
  Network net;
  LoadSchemeNet({{1, WeightType::kI16}}, &net);
  const std::vector<uint8_t> px = RandomPixels(784, 2);
  std::vector<int32_t> want(10), got(10);
  for (int64_t target : AvailableTargets()) {
    INFO("target ", TargetName(target));
    ForceTarget(target);
    const int want_class = net.Predict(px.data(), want.data());
    std::vector<double> layer_ns(net.layer_count(), -1);
    CHECK(PredictTimingLayers(net, px.data(), got.data(), layer_ns.data()) == want_class);
    CHECK(got == want);
    for (double ns : layer_ns) CHECK(ns > 0);
  }
  ForceTarget(0);
}

TEST_CASE("PredictTimingLayers runs an area transform first, as Predict does") {
  FloatModel m = test::RandomModel({196, 20, 10}, 4);
  m.input_rows = m.input_cols = 28;
  m.input_transform.kind = InputTransformKind::kArea;
  m.input_transform.in_rows = m.input_transform.in_cols = 28;
  m.input_transform.out_rows = m.input_transform.out_cols = 14;
  const std::vector<uint8_t> blob = QuantizeInt8(m);
  Network net;
  REQUIRE(Network::LoadCopy(blob.data(), blob.size(), &net).ok());
  const std::vector<uint8_t> px = RandomPixels(784, 3);
  std::vector<int32_t> want(10), got(10);
  std::vector<double> layer_ns(net.layer_count(), -1);
  const int want_class = net.PredictRef(px.data(), want.data());
  CHECK(PredictTimingLayers(net, px.data(), got.data(), layer_ns.data()) == want_class);
  CHECK(got == want);
}

}  // namespace
}  // namespace edgemlp
