// Diagnostics (trainer/diagnostics.h): each check trips on a run or numbers
// that show its problem and stays OK on healthy ones; the gradient check
// passes for every activation/loss pair; the trainer options that reproduce
// the stuck-3.25 run behave as documented. Small synthetic data only.
#include "diagnostics.h"

#include <doctest/doctest.h>

#include <random>

#include "model.h"
#include "quantize.h"
#include "train.h"

namespace edgemlp {
namespace {

// 4x4 images, 10 classes: class k lights pixel k (plus noise), so a small
// net can learn it in a few hundred steps.
Dataset Synthetic(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset d;
  d.images.rows = d.images.cols = 4;
  d.images.count = static_cast<uint32_t>(count);
  d.images.pixels.resize(count * 16);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t label = static_cast<uint8_t>(rng() % 10);
    for (int p = 0; p < 16; ++p) d.images.pixels[i * 16 + p] = static_cast<uint8_t>(rng() % 40);
    d.images.pixels[i * 16 + label] = 255;
    d.labels.push_back(label);
  }
  return d;
}

TrainConfig SmallConfig() {
  TrainConfig c;
  c.arch = {16, 24, 10};
  c.epochs = 20;
  c.batch = 32;
  c.val_count = 200;
  c.threads = 1;
  return c;
}

Eigen::MatrixXf Probe(const FloatModel& model, const Dataset& data) {
  return ImagesToInput(model, data.images.image(0), 200);
}

double Accuracy(const FloatModel& model, const Dataset& data, size_t begin) {
  const std::vector<uint8_t> p = PredictFloat(model, data, begin, data.size());
  size_t c = 0;
  for (size_t i = 0; i < p.size(); ++i) c += p[i] == data.labels[begin + i];
  return static_cast<double>(c) / p.size();
}

TEST_CASE("D12 gradient check: relative error < 1e-6 for every activation/loss pair") {
  for (Activation a : {Activation::kRelu, Activation::kSigmoid, Activation::kTanh}) {
    for (OutputLoss l : {OutputLoss::kSoftmaxCe, OutputLoss::kSigmoidBce}) {
      const double err = GradientCheckError({20, 8, 6, 10}, a, l, 7);
      CAPTURE(ActivationName(a));
      CAPTURE(LossName(l));
      CHECK(err < 1e-6);
      CHECK(CheckGradients(err).severity == Severity::kOk);
    }
  }
  CHECK(CheckGradients(3e-1).severity == Severity::kFail);
  CHECK(CheckGradients(1e-4).severity == Severity::kWarn);
}

TEST_CASE("every activation, loss, init and optimizer learns the synthetic task") {
  const Dataset data = Synthetic(1400, 1);
  for (Activation a : {Activation::kRelu, Activation::kSigmoid, Activation::kTanh}) {
    for (Optimizer o : {Optimizer::kSgd, Optimizer::kMomentum, Optimizer::kNesterov,
                        Optimizer::kAdam, Optimizer::kAdamW}) {
      TrainConfig c = SmallConfig();
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
  const Dataset data = Synthetic(600, 2);
  TrainConfig c = SmallConfig();
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

TEST_CASE("L2 conventions: --l2-lambda is divided by the training images, biases excluded") {
  TrainConfig c;
  c.l2_lambda = 1;
  CHECK(L2Coefficient(c, 30000) == doctest::Approx(1.0 / 30000));
  c.l2 = 0.5f;
  CHECK(L2Coefficient(c, 30000) == doctest::Approx(0.5 + 1.0 / 30000));
  // The cost adds (c/2)*|W|^2 of the weights only.
  const Dataset data = Synthetic(400, 3);
  c = SmallConfig();
  c.l2_lambda = 200;
  TrainState s = InitialState(data, c);
  s.model.layers[0].bias.setConstant(5);  // biases must not count
  double data_loss = 0;
  const double cost = Cost(s.model, data, 0, 200, c, 200, &data_loss);
  double sq = 0;
  for (const DenseLayer& l : s.model.layers) sq += l.weights.squaredNorm();
  CHECK(cost - data_loss == doctest::Approx(0.5 * 200.0 / 200 * sq).epsilon(1e-4));
}

TEST_CASE("uniform init, bias-to-prior and input scaling") {
  const Dataset data = Synthetic(400, 4);
  TrainConfig c = SmallConfig();
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

TEST_CASE("SelectTraining: first N, balanced N, validation stays the tail") {
  const Dataset data = Synthetic(1000, 5);
  const Dataset first = SelectTraining(data, 300, 0, 100);
  REQUIRE(first.size() == 400);
  CHECK(first.labels[0] == data.labels[0]);
  CHECK(first.labels[300] == data.labels[900]);
  const Dataset balanced = SelectTraining(data, 0, 200, 100);
  REQUIRE(balanced.size() == 300);
  const ClassShares s = CountClasses(balanced.labels, 0, 200);
  for (double p : s.share) CHECK(p == doctest::Approx(0.1));
  CHECK_THROWS(SelectTraining(data, 950, 0, 100));
  CHECK_THROWS(SelectTraining(data, 0, 5000, 100));
}

TEST_CASE("sigmoid/tanh models round-trip through the float blob; int8 export refuses them") {
  const Dataset data = Synthetic(400, 6);
  TrainConfig c = SmallConfig();
  c.arch = {16, 8, 6, 10};
  c.activations = {Activation::kSigmoid, Activation::kTanh};
  const TrainState s = InitialState(data, c);
  const std::vector<uint8_t> bytes = SerializeFloatModel(s.model);
  const FloatModel back = DeserializeFloatModel(bytes.data(), bytes.size(), "test");
  CHECK(back.layers[0].activation == Activation::kSigmoid);
  CHECK(back.layers[1].activation == Activation::kTanh);
  CHECK_THROWS_WITH(QuantizeInt8(back), doctest::Contains("ReLU"));
}

// --- Each check: one case that trips it, one that does not. ---

TEST_CASE("D0 data: imbalance and uncentred inputs") {
  ClassShares even;
  even.share.assign(10, 0.1);
  CHECK(CheckData(even, 0.13, 0.31).severity == Severity::kOk);
  CHECK(CheckData(even, -0.74, 0.62).severity == Severity::kWarn);
  ClassShares skewed = even;
  skewed.share[1] = 0.3;
  skewed.share[2] = 0.02;
  skewed.majority = 1;
  CHECK(CheckData(skewed, 0, 1).severity == Severity::kWarn);
}

TEST_CASE("D1 loss at init") {
  CHECK(CheckInitialLoss(2.31, std::log(10.0)).severity == Severity::kOk);
  CHECK(CheckInitialLoss(14.2, std::log(10.0)).severity == Severity::kWarn);
}

TEST_CASE("D2 init health: all-positive tiny init vs He") {
  const Dataset data = Synthetic(400, 7);
  TrainConfig c = SmallConfig();
  const TrainState good = InitialState(data, c);
  CHECK(CheckInit(good.model, Probe(good.model, data)).severity == Severity::kOk);
  c.init = Init::kUniform;
  c.init_low = 0;
  c.init_high = 0.01f;
  c.input = InputScaling::kSymmetric;
  const TrainState bad = InitialState(data, c);
  const Finding f = CheckInit(bad.model, Probe(bad.model, data));
  CHECK(f.severity == Severity::kWarn);
}

TEST_CASE("D3 update budget") {
  CHECK(CheckUpdateBudget(5, 30000, 30000).severity == Severity::kFail);
  CHECK(CheckUpdateBudget(500, 128, 55000).severity == Severity::kWarn);
  CHECK(CheckUpdateBudget(6450, 128, 55000).severity == Severity::kOk);
}

TEST_CASE("D4 loss at the class prior") {
  const std::vector<double> share(10, 0.1);
  const double prior = PriorLoss(OutputLoss::kSigmoidBce, share);
  CHECK(prior == doctest::Approx(3.2508).epsilon(1e-4));
  CHECK(PriorLoss(OutputLoss::kSoftmaxCe, share) == doctest::Approx(std::log(10.0)));
  CHECK(CheckPriorLoss(3.2496, prior, OutputLoss::kSigmoidBce).severity == Severity::kWarn);
  CHECK(CheckPriorLoss(0.15, prior, OutputLoss::kSigmoidBce).severity == Severity::kOk);
}

TEST_CASE("D5 output collapse") {
  std::vector<uint8_t> varied, same(100, 1);
  for (int i = 0; i < 100; ++i) varied.push_back(static_cast<uint8_t>(i % 10));
  Eigen::MatrixXf spread = Eigen::MatrixXf::Random(10, 100);
  Eigen::MatrixXf flat = Eigen::MatrixXf::Constant(10, 100, 0.5f);
  CHECK(CheckOutputCollapse(varied, spread).severity == Severity::kOk);
  CHECK(CheckOutputCollapse(same, flat).severity == Severity::kFail);
}

TEST_CASE("D6 baselines") {
  CHECK(CheckBaselines(0.1135, 1, 0.1135).severity == Severity::kFail);
  CHECK(CheckBaselines(0.84, 1, 0.1135).severity == Severity::kWarn);
  CHECK(CheckBaselines(0.98, 1, 0.1135).severity == Severity::kOk);
}

TEST_CASE("D7 update/weight ratio") {
  CHECK(CheckUpdateRatios({1e-3, 2e-3, 5e-3}).severity == Severity::kOk);
  CHECK(CheckUpdateRatios({1e-3, 0.4}).severity == Severity::kWarn);
  CHECK(CheckUpdateRatios({1e-7, 1e-3}).severity == Severity::kWarn);
}

TEST_CASE("D8 gradient flow and NaN") {
  CHECK(CheckGradientFlow({0.5, 0.3, 0.2}).severity == Severity::kOk);
  CHECK(CheckGradientFlow({1e-6, 0.3, 0.2}).severity == Severity::kWarn);
  CHECK(CheckGradientFlow({NAN, 0.3}).severity == Severity::kFail);
}

TEST_CASE("D9 saturated sigmoids: large uncentred inputs vs Xavier on standardized inputs") {
  const Dataset data = Synthetic(400, 8);
  TrainConfig c = SmallConfig();
  c.activations = {Activation::kSigmoid};
  c.init = Init::kXavier;
  c.input = InputScaling::kStandardize;
  const TrainState good = InitialState(data, c);
  CHECK(CheckSaturation(good.model, Probe(good.model, data)).severity == Severity::kOk);
  TrainState bad = good;
  bad.model.layers[0].bias.setConstant(-6);  // every unit pinned near 0
  CHECK(CheckSaturation(bad.model, Probe(bad.model, data)).severity == Severity::kWarn);
}

TEST_CASE("D10 dead relu units") {
  const Dataset data = Synthetic(400, 9);
  TrainConfig c = SmallConfig();
  const TrainState good = InitialState(data, c);
  CHECK(CheckDeadRelu(good.model, Probe(good.model, data)).severity == Severity::kOk);
  TrainState bad = good;
  bad.model.layers[0].bias.head(12).setConstant(-100);  // half the units never fire
  CHECK(CheckDeadRelu(bad.model, Probe(bad.model, data)).severity == Severity::kFail);
}

TEST_CASE("D11 regularization dominance") {
  CHECK(CheckRegularization(2 * 1.0 / 30000, 1e-4, 3.2).severity == Severity::kOk);
  CHECK(CheckRegularization(2.0, 0.5, 3.2).severity == Severity::kFail);  // lr 2, lambda 1 not / m
  CHECK(CheckRegularization(0.001, 5, 0.3).severity == Severity::kWarn);
}

TEST_CASE("D13 D14 D15 D16 D17 D18") {
  CHECK(CheckOverfitTiny(1.0, 0.01).severity == Severity::kOk);
  CHECK(CheckOverfitTiny(0.45, 2.0).severity == Severity::kWarn);
  CHECK(CheckInputIndependent(0.97, 0.11).severity == Severity::kOk);
  CHECK(CheckInputIndependent(0.114, 0.1135).severity == Severity::kWarn);
  CHECK(CheckLabels(0.82).severity == Severity::kOk);
  CHECK(CheckLabels(0.11).severity == Severity::kWarn);
  CHECK(CheckFit(0.995, 0.98).severity == Severity::kOk);
  CHECK(CheckFit(0.91, 0.905).severity == Severity::kWarn);  // high bias
  CHECK(CheckFit(0.999, 0.95).severity == Severity::kWarn);  // high variance
  CHECK(CheckLrRange(0.01, 0.003, false).severity == Severity::kOk);
  CHECK(CheckLrRange(0.01, 2, true).severity == Severity::kWarn);
  CHECK(CheckCapacity({784, 256, 128, 10}).severity == Severity::kOk);
  CHECK(CheckCapacity({784, 16, 10}).severity == Severity::kNote);
  CHECK(CheckCapacity({784, 5, 5, 10}).severity == Severity::kWarn);
}

TEST_CASE("label sanity: nearest class mean works on real labels, fails on shuffled ones") {
  Dataset data = Synthetic(1200, 10);
  CHECK(CheckLabels(NearestMeanAccuracy(data, 1000)).severity == Severity::kOk);
  std::mt19937_64 rng(1);
  std::shuffle(data.labels.begin(), data.labels.end(), rng);
  CHECK(CheckLabels(NearestMeanAccuracy(data, 1000)).severity == Severity::kWarn);
}

TEST_CASE("a healthy run has no WARN/FAIL after training; a stuck one names the prior first") {
  const Dataset data = Synthetic(2200, 11);
  TrainConfig good = SmallConfig();
  good.input = InputScaling::kStandardize;
  good.epochs = 8;
  TrainState s = InitialState(data, good);
  const TrainResult r = Train(data, good, {}, &s);
  for (const Finding& f : DiagnoseAfterTraining(data, good, r, nullptr)) {
    CAPTURE(f.message);
    CHECK(f.severity < Severity::kWarn);
  }
  TrainConfig stuck = good;
  stuck.arch = {16, 5, 5, 10};
  stuck.activations = {Activation::kSigmoid};
  stuck.loss = OutputLoss::kSigmoidBce;
  stuck.init = Init::kUniform;
  stuck.init_low = 0;
  stuck.init_high = 0.01f;
  stuck.optimizer = Optimizer::kGd;
  stuck.learning_rate = 2;
  stuck.epochs = 5;
  stuck.schedule = Schedule::kConstant;
  stuck.input = InputScaling::kSymmetric;
  TrainState t = InitialState(data, stuck);
  std::vector<Finding> all = DiagnoseBeforeTraining(data, stuck, t);
  const TrainResult bad = Train(data, stuck, {}, &t);
  const std::vector<Finding> after = DiagnoseAfterTraining(data, stuck, bad, nullptr);
  all.insert(all.end(), after.begin(), after.end());
  const std::vector<std::string> verdict = Verdict(all);
  REQUIRE(verdict.size() >= 3);
  CHECK(verdict[0].find("[D4") != std::string::npos);
  bool budget = false;
  for (const std::string& v : verdict) budget |= v.find("[D3 FAIL]") != std::string::npos;
  CHECK(budget);
}

}  // namespace
}  // namespace edgemlp
