// The trainer (trainer/train.h): every optimizer, activation and loss
// learns; schedules, warm-up, L2, init and input scaling do what their
// options say; SelectTraining's splits. Small synthetic data only.
#include "train.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "diagnostics.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "model.h"
#include "quantize.h"
#include "test_util.h"

namespace edgemlp {
namespace {

double Accuracy(const FloatModel& model, const Dataset& data, size_t begin) {
  const std::vector<uint8_t> p = PredictFloat(model, data, begin, data.size());
  size_t c = 0;
  for (size_t i = 0; i < p.size(); ++i) c += p[i] == data.labels[begin + i];
  return static_cast<double>(c) / p.size();
}

TEST_CASE("every activation, loss, init and optimizer learns the synthetic task to 90%") {
  const Dataset data = test::OnePixelPerClass(1400, 1);
  for (Activation a : {Activation::kRelu, Activation::kSigmoid, Activation::kTanh}) {
    for (Optimizer o : {Optimizer::kSgd, Optimizer::kMomentum, Optimizer::kNesterov,
                        Optimizer::kAdam, Optimizer::kAdamW}) {
      TrainConfig c = test::SmallTrainConfig();
      c.activations = {a};
      c.optimizer = o;
      c.loss = o == Optimizer::kAdam ? OutputLoss::kSigmoidBce : OutputLoss::kSoftmaxCe;
      c.init = a == Activation::kRelu ? Init::kHe : Init::kXavier;
      c.input = InputScaling::kStandardize;
      if (o == Optimizer::kSgd) c.learning_rate = 0.5f;
      const TrainResult r = Train(data, c);
      CAPTURE(ActivationName(a));
      CAPTURE(OptimizerName(o));
      CHECK(r.final_model.layers[0].activation == a);
      CHECK(Accuracy(r.model, data, 1200) > 0.9);
    }
  }
}

TEST_CASE("full-batch GD makes one update per epoch; step schedule and warm-up set the lr") {
  const Dataset data = test::OnePixelPerClass(600, 2);
  TrainConfig c = test::SmallTrainConfig();
  c.optimizer = Optimizer::kGd;
  c.epochs = 4;
  c.schedule = Schedule::kStep;
  c.step_epochs = 2;
  c.step_gamma = 0.5f;
  c.learning_rate = 1.0f;
  c.warmup_epochs = 1;
  TrainState state = InitialState(data, c);
  Train(data, c, {}, &state);
  CHECK(state.step == 4);
  REQUIRE(state.history.size() == 4);
  CHECK(state.history[0].learning_rate == doctest::Approx(0.1));  // warm-up starts at lr/10
  CHECK(state.history[1].learning_rate == doctest::Approx(1.0));
  CHECK(state.history[2].learning_rate == doctest::Approx(0.5));
}

TEST_CASE("each epoch records the validation loss: the data loss on the held-out split") {
  const Dataset data = test::OnePixelPerClass(600, 12);
  TrainConfig c = test::SmallTrainConfig();
  c.epochs = 3;
  c.l2 = 0.01f;  // not part of it
  const TrainResult r = Train(data, c);
  REQUIRE(r.history.size() == 3);
  double data_loss = 0;
  Cost(r.final_model, data, data.size() - c.val_count, data.size(), c, 400, &data_loss);
  CHECK(r.history.back().val_loss == doctest::Approx(data_loss).epsilon(1e-6));
  CHECK(r.history.back().val_loss < r.history.front().val_loss);
}

TEST_CASE("--l2-lambda is divided by the training images and the L2 cost excludes biases") {
  TrainConfig c;
  c.l2_lambda = 1;
  CHECK(L2Coefficient(c, 30000) == doctest::Approx(1.0 / 30000));
  c.l2 = 0.5f;
  CHECK(L2Coefficient(c, 30000) == doctest::Approx(0.5 + 1.0 / 30000));
  // The cost adds (c/2)*|W|^2 of the weights only.
  const Dataset data = test::OnePixelPerClass(400, 3);
  c = test::SmallTrainConfig();
  c.l2_lambda = 200;
  TrainState s = InitialState(data, c);
  s.model.layers[0].bias.setConstant(5);  // biases must not count
  double data_loss = 0;
  const double cost = Cost(s.model, data, 0, 200, c, 200, &data_loss);
  double sq = 0;
  for (const DenseLayer& l : s.model.layers) sq += l.weights.squaredNorm();
  CHECK(cost - data_loss == doctest::Approx(0.5 * 200.0 / 200 * sq).epsilon(1e-4));
}

TEST_CASE("uniform init stays in its range, bias-to-prior starts at the class prior, input scalings map pixels as documented") {
  const Dataset data = test::OnePixelPerClass(400, 4);
  TrainConfig c = test::SmallTrainConfig();
  c.init = Init::kUniform;
  c.init_low = 0;
  c.init_high = 0.01f;
  c.input = InputScaling::kSymmetric;
  c.bias_prior = true;
  c.loss = OutputLoss::kSigmoidBce;
  const TrainState s = InitialState(data, c);
  CHECK(s.model.layers[0].weights.minCoeff() >= 0);
  CHECK(s.model.layers[0].weights.maxCoeff() < 0.01f);
  CHECK(s.model.input_scale == doctest::Approx(2.0 / 255));
  CHECK(s.model.input_offset == doctest::Approx(-1));
  // Sigmoid outputs start at the class frequencies (about 0.1): logit ~ -2.2.
  CHECK(s.model.layers.back().bias.mean() == doctest::Approx(std::log(0.1 / 0.9)).epsilon(0.1));
  c.input = InputScaling::kStandardize;
  const TrainState z = InitialState(data, c);
  const Eigen::MatrixXf x = ImagesToInput(z.model, data.images.image(0), 200);
  CHECK(std::abs(x.mean()) < 0.05);
}

TEST_CASE("SelectTraining takes the first N or a balanced N and keeps the validation tail") {
  const Dataset data = test::OnePixelPerClass(1000, 5);
  const Dataset first = SelectTraining(data, 300, 0, 100);
  REQUIRE(first.size() == 400);
  CHECK(first.labels[0] == data.labels[0]);
  CHECK(first.labels[300] == data.labels[900]);
  const Dataset balanced = SelectTraining(data, 0, 200, 100);
  REQUIRE(balanced.size() == 300);
  const ClassShares s = CountClasses(balanced.labels, 0, 200, 10);
  for (double p : s.share) CHECK(p == doctest::Approx(0.1));
  CHECK_THROWS(SelectTraining(data, 950, 0, 100));
  CHECK_THROWS(SelectTraining(data, 0, 5000, 100));
}

TEST_CASE("sigmoid/tanh models round-trip through the float blob and the int8 quantizer refuses them") {
  const Dataset data = test::OnePixelPerClass(400, 6);
  TrainConfig c = test::SmallTrainConfig();
  c.arch = {16, 8, 6, 10};
  c.activations = {Activation::kSigmoid, Activation::kTanh};
  const TrainState s = InitialState(data, c);
  const std::vector<uint8_t> bytes = SerializeFloatModel(s.model);
  const FloatModel back = DeserializeFloatModel(bytes.data(), bytes.size(), "test");
  CHECK(back.layers[0].activation == Activation::kSigmoid);
  CHECK(back.layers[1].activation == Activation::kTanh);
  CHECK_THROWS_WITH(QuantizeInt8(back), doctest::Contains("ReLU"));
}

}  // namespace
}  // namespace edgemlp

namespace edgemlp {
namespace {

// 28x28 images: class k lights a 4x4 block at its own place over noise.
Dataset BlocksPerClass(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset d;
  d.images.rows = d.images.cols = 28;
  d.images.count = static_cast<uint32_t>(count);
  d.images.pixels.resize(count * 784);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t label = static_cast<uint8_t>(rng() % 10);
    uint8_t* img = &d.images.pixels[i * 784];
    for (int p = 0; p < 784; ++p) img[p] = static_cast<uint8_t>(rng() % 40);
    const int r0 = 2 + (label / 5) * 12, c0 = 1 + (label % 5) * 5;
    for (int r = r0; r < r0 + 4; ++r) {
      for (int c = c0; c < c0 + 4; ++c) img[r * 28 + c] = 255;
    }
    d.labels.push_back(label);
  }
  return d;
}

TEST_CASE("an area model 28x28 -> 14x14: trained on the transform, exported, run bit-exact") {
  FloatInputTransform area;
  area.kind = InputTransformKind::kArea;
  area.in_rows = area.in_cols = 28;
  area.out_rows = area.out_cols = 14;
  const Dataset raw = BlocksPerClass(1200, 3);
  const Dataset small = TransformDataset(area, raw);
  REQUIRE(small.images.rows == 14);
  TrainConfig config = test::SmallTrainConfig();
  config.arch = {196, 24, 10};
  config.epochs = 4;
  FloatModel model = Train(small, config).model;
  const std::vector<uint8_t> on_small = PredictFloat(model, small, 0, small.size());
  AttachInputTransform(&model, area);
  CHECK(model.input_size() == 784);
  CHECK(model.ArchString() == "196-24-10");
  // The float path downsamples raw images itself, with the runtime's function.
  CHECK(PredictFloat(model, raw, 0, raw.size()) == on_small);
  size_t correct = 0;
  for (size_t i = 0; i < raw.size(); ++i) correct += on_small[i] == raw.labels[i];
  CHECK(correct > raw.size() * 9 / 10);
  CHECK_THROWS_AS(TransformDataset(area, small), InputError);

  // The model file keeps the transform; export carries it into the int8 blob.
  const std::vector<uint8_t> file = SerializeFloatModel(model);
  const FloatModel loaded = DeserializeFloatModel(file.data(), file.size(), "m.bin");
  CHECK(loaded.input_transform.kind == InputTransformKind::kArea);
  CHECK(PredictFloat(loaded, raw, 0, 50) == std::vector<uint8_t>(on_small.begin(), on_small.begin() + 50));
  QuantOptions q;
  q.test_input.assign(raw.images.image(7), raw.images.image(8));  // a raw image
  const std::vector<uint8_t> blob = Quantize(loaded, q);
  Network net;
  REQUIRE(Network::LoadCopy(blob.data(), blob.size(), &net).ok());
  CHECK(net.input_size() == 784);
  CHECK(net.input_transform().out_rows == 14);
  const size_t n = 150;
  std::vector<int32_t> want(n * 10), got(n * 10);
  std::vector<int> classes(n);
  size_t agree = 0;
  for (size_t i = 0; i < n; ++i) {
    agree += net.PredictRef(raw.images.image(i), &want[i * 10]) == on_small[i];
  }
  CHECK(agree >= n * 95 / 100);  // int8 follows the float model
  int ran = 0;
  for (int64_t target : AvailableTargets()) {
    INFO("target ", TargetName(target));
    ForceTarget(target);
    ++ran;
    CHECK(net.SelfTest().ok());
    net.PredictBatch(raw.images.image(0), n, got.data(), classes.data());
    CHECK(got == want);
  }
  ForceTarget(0);
  CHECK(ran > 0);
}

}  // namespace
}  // namespace edgemlp

namespace edgemlp {
namespace {

TEST_CASE("--downsample trains on the runtime's area transform: the same run as on pre-shrunk images") {
  const Dataset raw = BlocksPerClass(900, 5);
  TrainConfig config = test::SmallTrainConfig();
  config.arch = {196, 24, 10};
  config.epochs = 3;
  config.downsample = 14;
  const TrainResult direct = Train(raw, config);
  CHECK(direct.model.input_transform.kind == InputTransformKind::kArea);
  CHECK(direct.model.input_size() == 784);
  CHECK(direct.model.ArchString() == "196-24-10");
  // Without augmentation the loader feeds exactly TransformDataset's pixels:
  // the same weights, bit for bit, as training a plain model on them.
  FloatInputTransform area = direct.model.input_transform;
  TrainConfig plain = config;
  plain.downsample = 0;
  const TrainResult shrunk = Train(TransformDataset(area, raw), plain);
  for (size_t i = 0; i < direct.model.layers.size(); ++i) {
    CHECK(direct.model.layers[i].weights == shrunk.model.layers[i].weights);
  }
  CHECK(direct.history.back().val_accuracy == shrunk.history.back().val_accuracy);
  // The arch must name the downsampled size; a larger side is refused.
  config.arch = {784, 24, 10};
  CHECK_THROWS_WITH_AS(Train(raw, config), doctest::Contains("196 inputs after --downsample"),
                       InputError);
  config.arch = {900, 24, 10};
  config.downsample = 30;
  CHECK_THROWS_WITH_AS(Train(raw, config), doctest::Contains("only shrinks"), InputError);
}

// Accuracy on the validation split of `model` with its weights quantized as
// `export` would in the schemes of `config` (activations in float).
double QuantizedValAccuracy(const FloatModel& model, const Dataset& data, const TrainConfig& config) {
  const FloatModel q = QatQuantizedModel(model, config);
  const size_t begin = data.size() - config.val_count;
  const std::vector<uint8_t> p = PredictFloat(q, data, begin, data.size());
  size_t correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == data.labels[begin + i];
  return static_cast<double>(correct) / static_cast<double>(p.size());
}

TEST_CASE("train --qat trains and validates through the weights export will store") {
  const Dataset data = test::OnePixelPerClass(1400, 5);
  TrainConfig config = test::SmallTrainConfig();
  config.epochs = 4;
  config.arch = {16, 12, 10};
  const TrainResult off = Train(data, config);

  config.qat = {WeightType::kI4};
  CHECK(QatScheme(config, 0) == WeightType::kI4);
  CHECK(QatScheme(config, 1) == WeightType::kI4);
  const TrainResult on = Train(data, config);
  // The best epoch was chosen on int4 weights: its recorded accuracy is theirs.
  const double recorded = on.history[on.best_epoch - 1].val_accuracy;
  CHECK(QuantizedValAccuracy(on.model, data, config) == recorded);
  // Training went through them: the weights differ from a float run's.
  CHECK_FALSE(on.model.layers[0].weights == off.model.layers[0].weights);

  // QAT from a later epoch: until then the run trains as the float run, but
  // every epoch is validated (and the best chosen) on int4 weights.
  config.qat_from = 3;
  TrainConfig two = config;
  two.epochs = 2;
  TrainConfig float_two = two;
  float_two.qat.clear();
  const TrainResult late = Train(data, two), plain = Train(data, float_two);
  CHECK(late.final_model.layers[0].weights == plain.final_model.layers[0].weights);
  CHECK(QuantizedValAccuracy(late.model, data, config) ==
        late.history[late.best_epoch - 1].val_accuracy);

  // One scheme per layer, or one for all; anything else is refused.
  config.qat = {WeightType::kI4, WeightType::kI8};
  CHECK(QatScheme(config, 1) == WeightType::kI8);
  CHECK_NOTHROW(ValidateConfig(config));
  config.qat = {WeightType::kI4, WeightType::kI8, WeightType::kI8};
  CHECK_THROWS_WITH_AS(ValidateConfig(config), doctest::Contains("--qat lists 3 schemes"),
                       InputError);
  config.qat = {WeightType::kF32};
  CHECK_THROWS_AS(ValidateConfig(config), InputError);
  config.qat = {WeightType::kI4};
  config.qat_from = 0;
  CHECK_THROWS_AS(ValidateConfig(config), InputError);
}

}  // namespace
}  // namespace edgemlp
