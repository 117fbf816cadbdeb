// Quantization-aware fine-tuning (trainer/qat.h): its fake quantization is
// the exporter's rounding, weight for weight; the straight-through
// estimator passes gradients inside the activation range and none where the
// clamp saturates; a short run keeps the integer model's accuracy.
#include "qat.h"

#include <doctest/doctest.h>

#include <cstring>

#include "atomic_file.h"
#include "edgemlp/blob.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "quantize.h"
#include "test_util.h"

namespace edgemlp {
namespace {

// Weight (r, c) of layer `l` of a parsed blob, as the integer it stores
// (docs/blob-format.md: int4 element c < stride/2 in the low nibble of byte
// c, the others in the high nibble of byte c - stride/2).
int32_t StoredWeight(const BlobView& view, size_t l, uint32_t r, uint32_t c) {
  const LayerRecord& rec = view.layers[l];
  const uint8_t* w = view.bytes + rec.weights_offset;
  switch (static_cast<WeightType>(rec.weight_type)) {
    case WeightType::kI16: {
      int16_t v;
      std::memcpy(&v, w + 2 * (size_t{r} * rec.stride + c), 2);
      return v;
    }
    case WeightType::kI4: {
      const uint32_t half = rec.stride / 2;
      const uint8_t b = w[size_t{r} * half + (c < half ? c : c - half)];
      const int32_t nibble = c < half ? (b & 0xF) : (b >> 4);
      return nibble >= 8 ? nibble - 16 : nibble;
    }
    default:
      return static_cast<int8_t>(w[size_t{r} * rec.stride + c]);
  }
}

float StoredScale(const BlobView& view, size_t l, uint32_t r) {
  float scale;
  std::memcpy(&scale, view.bytes + view.layers[l].weight_scale_offset + 4 * size_t{r}, 4);
  return scale;
}

TEST_CASE("fake quantization is the exporter's integer weights, dequantized, for every scheme") {
  FloatModel m = test::RandomModel({40, 24, 10}, 3);
  m.input_scale = 1.0f / 255.0f;  // export folds 255 * input_scale into layer 0
  for (WeightType type : {WeightType::kI8, WeightType::kI16, WeightType::kI4}) {
    const std::string scheme = WeightTypeName(type);
    CAPTURE(scheme);
    // Row 0 of layer 1 holds exact ties (k + 0.5 steps): the exporter rounds
    // them half to even, so fake quantization must too.
    const float step = 0.0625f;
    FloatModel tied = m;
    Eigen::MatrixXf& w1 = tied.layers[1].weights;
    w1.row(0).setZero();
    w1(0, 0) = static_cast<float>(WeightQmax(type, 24)) * step;  // the row's max: scale = step
    w1(0, 1) = 2.5f * step;
    w1(0, 2) = -0.5f * step;
    w1(0, 3) = 1.5f * step;
    QuantOptions q;
    q.weight_type = type;
    const std::vector<uint8_t> blob = Quantize(tied, q);
    test::TempDir dir;
    WriteFileAtomic(dir.File("m.bin"), blob.data(), blob.size());
    size_t size = 0;
    const std::vector<uint64_t> words = ReadFileAligned(dir.File("m.bin"), &size);
    BlobView view;
    REQUIRE(ParseBlob(reinterpret_cast<const uint8_t*>(words.data()), size, &view).ok());
    for (size_t l = 0; l < tied.layers.size(); ++l) {
      CAPTURE(l);
      const double fold = l == 0 ? InputFold(tied) : 1.0;
      const Eigen::MatrixXf fake = FakeQuantizeWeights(tied.layers[l].weights, type, fold);
      size_t differ = 0;
      for (uint32_t r = 0; r < fake.rows(); ++r) {
        for (uint32_t c = 0; c < fake.cols(); ++c) {
          const double stored = StoredWeight(view, l, r, c) * double{StoredScale(view, l, r)};
          differ += fake(r, c) != static_cast<float>(stored / fold);
        }
      }
      CHECK(differ == 0);
    }
    CHECK(StoredWeight(view, 1, 0, 1) == 2);  // 2.5 -> 2
    CHECK(StoredWeight(view, 1, 0, 2) == 0);  // -0.5 -> -0
    CHECK(StoredWeight(view, 1, 0, 3) == 2);  // 1.5 -> 2
  }
}

// 600 4x4 images all labelled 3, and a 16-8-10 model whose hidden layer
// outputs `bias` + small terms, clamped to `range`, and whose output bias
// slightly favours 7: every epoch that learns anything beats epoch 0 (0% correct), so
// FinetuneQat returns a trained model.
struct SteCase {
  Dataset data;
  FloatModel model;
  QatConfig config;
  SteCase(float bias, float range) : data(test::OnePixelPerClass(600, 2)) {
    std::fill(data.labels.begin(), data.labels.end(), 3);
    model = test::RandomModel({16, 8, 10}, 4);
    model.input_scale = 1.0f / 255.0f;
    model.layers[0].weights *= 0.01f;
    model.layers[0].bias.setConstant(bias);
    model.layers[0].calib_max = range;
    model.layers[1].weights *= 0.01f;
    model.layers[1].bias.setZero();
    model.layers[1].bias[7] = 0.1f;
    config.epochs = 2;
    config.batch = 50;
    config.learning_rate = 0.02f;
    config.threads = 1;
    config.val_count = 100;
  }
};

TEST_CASE("the straight-through estimator passes gradients inside the range, none outside") {
  // Inside: outputs near 1 in a range of 8: layer 0 learns.
  {
    SteCase inside(1.0f, 8.0f);
    const FloatModel out = FinetuneQat(inside.model, inside.data, inside.config);
    CHECK(out.layers[1].bias != inside.model.layers[1].bias);  // a trained epoch came back
    CHECK(out.layers[0].weights != inside.model.layers[0].weights);
    CHECK(out.layers[0].bias != inside.model.layers[0].bias);
  }
  // Above the range every hidden output is clamped: layer 0 gets no
  // gradient at all, bit for bit. 1.992203 is a range whose top grid step
  // (255 * (range / 255)) lands an ulp below the range itself.
  // Below 0 (ReLU) likewise.
  for (const auto& [b, r] : {std::pair{100.0f, 8.0f}, std::pair{100.0f, 1.992203f},
                            std::pair{-100.0f, 8.0f}}) {
    const float bias = b, range = r;  // (clang 14 cannot capture structured bindings)
    CAPTURE(bias);
    CAPTURE(range);
    SteCase outside(bias, range);
    const FloatModel out = FinetuneQat(outside.model, outside.data, outside.config);
    CHECK(out.layers[1].bias != outside.model.layers[1].bias);
    CHECK(out.layers[0].weights == outside.model.layers[0].weights);
    CHECK(out.layers[0].bias == outside.model.layers[0].bias);
  }
}

// Correct predictions of an integer blob on images [begin, end) of `data`.
int Correct(const std::vector<uint8_t>& blob, const Dataset& data, size_t begin, size_t end) {
  test::TempDir dir;
  WriteFileAtomic(dir.File("m.bin"), blob.data(), blob.size());
  Network net;
  const LoadResult r = Network::LoadFile(dir.File("m.bin"), &net);
  REQUIRE_MESSAGE(r.ok(), r.message);
  int correct = 0;
  int32_t logits[10];
  for (size_t i = begin; i < end; ++i) {
    correct += net.Predict(data.images.image(i), logits) == data.labels[i];
  }
  return correct;
}

TEST_CASE("a few int4 QAT epochs lower the training loss and keep the int4 model's accuracy") {
  const Dataset data = test::OnePixelPerClass(1400, 5);
  TrainConfig c = test::SmallTrainConfig();
  c.epochs = 10;
  const FloatModel trained = Train(data, c).model;  // calibrated ranges
  QatConfig q;
  q.weight_type = WeightType::kI4;
  q.epochs = 3;
  q.learning_rate = 1e-3f;
  q.batch = 32;
  q.threads = 1;
  q.val_count = c.val_count;
  std::vector<QatEpoch> history;
  const FloatModel tuned = FinetuneQat(trained, data, q, &history);
  REQUIRE(history.size() == 3);
  CHECK(history.back().train_loss <= history.front().train_loss);
  QuantOptions int4;
  int4.weight_type = WeightType::kI4;
  const size_t val = data.size() - c.val_count;
  const int before = Correct(Quantize(trained, int4), data, val, data.size());
  const int after = Correct(Quantize(tuned, int4), data, val, data.size());
  CAPTURE(before);
  CAPTURE(after);
  CHECK(after >= before - 2);  // 1% of 200: fake and real rounding differ slightly
}

TEST_CASE("QAT refuses models and settings it cannot fine-tune, naming why") {
  const Dataset data = test::OnePixelPerClass(400, 6);
  FloatModel m = test::RandomModel({16, 8, 10}, 7);
  m.input_scale = 1.0f / 255.0f;
  QatConfig q;
  q.val_count = 100;
  FloatModel no_range = m;
  no_range.layers[0].calib_max = 0;
  CHECK_THROWS_WITH_AS(FinetuneQat(no_range, data, q), doctest::Contains("calibrated ranges"),
                       InputError);
  FloatModel offset = m;
  offset.input_offset = -1;
  CHECK_THROWS_WITH_AS(FinetuneQat(offset, data, q), doctest::Contains("input offset"), InputError);
  QatConfig bad_layer = q;
  bad_layer.layer_types[2] = WeightType::kI16;
  CHECK_THROWS_WITH_AS(FinetuneQat(m, data, bad_layer), doctest::Contains("--layer-quant 2"),
                       InputError);
  QatConfig too_few = q;
  too_few.val_count = 400;
  CHECK_THROWS_WITH_AS(FinetuneQat(m, data, too_few), doctest::Contains("does not fit"), InputError);
}

}  // namespace
}  // namespace edgemlp
