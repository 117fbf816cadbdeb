// Diagnostics (trainer/diagnostics.h): each check trips on a run or numbers
// that show its problem and stays OK on healthy ones; the gradient check
// passes for every activation/loss pair; the stuck-3.25 setup gets its
// verdict. Small synthetic data only (the trainer's options: train_test.cc).
#include "diagnostics.h"

#include <doctest/doctest.h>

#include <random>

#include "model.h"
#include "test_util.h"
#include "train.h"

namespace edgemlp {
namespace {

Eigen::MatrixXf Probe(const FloatModel& model, const Dataset& data) {
  return ImagesToInput(model, data.images.image(0), 200);
}

TEST_CASE("D12 backprop matches centred differences to 1e-6 for every activation/loss pair") {
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

// --- Each check: one case that trips it, one that does not. ---

TEST_CASE("D0 warns on imbalanced classes and on uncentred inputs") {
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

TEST_CASE("D1 warns when the loss at init is far from the uninformed loss") {
  CHECK(CheckInitialLoss(2.31, std::log(10.0)).severity == Severity::kOk);
  CHECK(CheckInitialLoss(14.2, std::log(10.0)).severity == Severity::kWarn);
}

TEST_CASE("D2 passes He init and warns on an all-positive tiny uniform init") {
  const Dataset data = test::OnePixelPerClass(400, 7);
  TrainConfig c = test::SmallTrainConfig();
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

TEST_CASE("D3 fails on a handful of updates, warns on too few, passes a full run") {
  CHECK(CheckUpdateBudget(5, 30000, 30000).severity == Severity::kFail);
  CHECK(CheckUpdateBudget(500, 128, 55000).severity == Severity::kWarn);
  CHECK(CheckUpdateBudget(6450, 128, 55000).severity == Severity::kOk);
  // What it suggests: MNIST-sized data batch 128, 10 epochs; 108 rows batch 16, 715 epochs.
  CHECK(BudgetBatch(55000) == 128);
  CHECK(BudgetEpochs(55000) == 10);
  CHECK(BudgetBatch(108) == 16);
  CHECK(BudgetEpochs(108) == 715);
}

TEST_CASE("D4 computes the prior loss and warns when training ends at it") {
  const std::vector<double> share(10, 0.1);
  const double prior = PriorLoss(OutputLoss::kSigmoidBce, share);
  CHECK(prior == doctest::Approx(3.2508).epsilon(1e-4));
  CHECK(PriorLoss(OutputLoss::kSoftmaxCe, share) == doctest::Approx(std::log(10.0)));
  CHECK(CheckPriorLoss(3.2496, prior, OutputLoss::kSigmoidBce, 10).severity == Severity::kWarn);
  CHECK(CheckPriorLoss(0.15, prior, OutputLoss::kSigmoidBce, 10).severity == Severity::kOk);
}

TEST_CASE("D5 fails when every prediction is the same class") {
  std::vector<uint8_t> varied, same(100, 1);
  for (int i = 0; i < 100; ++i) varied.push_back(static_cast<uint8_t>(i % 10));
  Eigen::MatrixXf spread = Eigen::MatrixXf::Random(10, 100);
  Eigen::MatrixXf flat = Eigen::MatrixXf::Constant(10, 100, 0.5f);
  CHECK(CheckOutputCollapse(varied, spread).severity == Severity::kOk);
  CHECK(CheckOutputCollapse(same, flat).severity == Severity::kFail);
}

TEST_CASE("D6 fails at the majority-class baseline and warns below the nearest-mean one") {
  CHECK(CheckBaselines(0.1135, 1, 0.1135, 0.82).severity == Severity::kFail);
  CHECK(CheckBaselines(0.80, 1, 0.1135, 0.82).severity == Severity::kWarn);
  CHECK(CheckBaselines(0.98, 1, 0.1135, 0.82).severity == Severity::kOk);
  // Two unbalanced classes: 70% is the majority baseline, not a success.
  CHECK(CheckBaselines(0.71, 0, 0.70, 0.85).severity == Severity::kFail);
  CHECK(CheckBaselines(0.90, 0, 0.70, 0.85).severity == Severity::kOk);
}

TEST_CASE("D7 warns when an update/weight ratio is far above or below 1e-3") {
  CHECK(CheckUpdateRatios({1e-3, 2e-3, 5e-3}).severity == Severity::kOk);
  CHECK(CheckUpdateRatios({1e-3, 0.4}).severity == Severity::kWarn);
  CHECK(CheckUpdateRatios({1e-7, 1e-3}).severity == Severity::kWarn);
}

TEST_CASE("D8 warns on a vanishing first-layer gradient and fails on NaN") {
  CHECK(CheckGradientFlow({0.5, 0.3, 0.2}).severity == Severity::kOk);
  CHECK(CheckGradientFlow({1e-6, 0.3, 0.2}).severity == Severity::kWarn);
  CHECK(CheckGradientFlow({NAN, 0.3}).severity == Severity::kFail);
}

TEST_CASE("D9 passes Xavier sigmoids on standardized inputs and warns when they saturate") {
  const Dataset data = test::OnePixelPerClass(400, 8);
  TrainConfig c = test::SmallTrainConfig();
  c.activations = {Activation::kSigmoid};
  c.init = Init::kXavier;
  c.input = InputScaling::kStandardize;
  const TrainState good = InitialState(data, c);
  CHECK(CheckSaturation(good.model, Probe(good.model, data)).severity == Severity::kOk);
  TrainState bad = good;
  bad.model.layers[0].bias.setConstant(-6);  // every unit pinned near 0
  CHECK(CheckSaturation(bad.model, Probe(bad.model, data)).severity == Severity::kWarn);
}

TEST_CASE("D10 fails when half the ReLU units never fire") {
  const Dataset data = test::OnePixelPerClass(400, 9);
  TrainConfig c = test::SmallTrainConfig();
  const TrainState good = InitialState(data, c);
  CHECK(CheckDeadRelu(good.model, Probe(good.model, data)).severity == Severity::kOk);
  TrainState bad = good;
  bad.model.layers[0].bias.head(12).setConstant(-100);  // half the units never fire
  CHECK(CheckDeadRelu(bad.model, Probe(bad.model, data)).severity == Severity::kFail);
}

TEST_CASE("D11 fails when L2 removes most of each weight per step and warns when it dominates the loss") {
  CHECK(CheckRegularization(2 * 1.0 / 30000, 1e-4, 3.2).severity == Severity::kOk);
  CHECK(CheckRegularization(2.0, 0.5, 3.2).severity == Severity::kFail);  // lr 2, lambda 1 not / m
  CHECK(CheckRegularization(0.001, 5, 0.3).severity == Severity::kWarn);
}

TEST_CASE("D13 warns when the net cannot memorise 20 images") {
  CHECK(CheckOverfitTiny(1.0, 0.01, 20).severity == Severity::kOk);
  CHECK(CheckOverfitTiny(0.45, 2.0, 20).severity == Severity::kWarn);
}

TEST_CASE("D14 warns when training on blank images scores as well as on real ones") {
  CHECK(CheckInputIndependent(0.97, 0.11).severity == Severity::kOk);
  CHECK(CheckInputIndependent(0.114, 0.1135).severity == Severity::kWarn);
}

TEST_CASE("D15 warns when a nearest-class-mean classifier is near chance") {
  CHECK(CheckLabels(0.82, 0.1135).severity == Severity::kOk);
  CHECK(CheckLabels(0.11, 0.1135).severity == Severity::kWarn);
  // Two classes 90/10: 92% is barely above always answering the majority.
  CHECK(CheckLabels(0.92, 0.90).severity == Severity::kWarn);
  CHECK(CheckLabels(0.97, 0.90).severity == Severity::kOk);
}

TEST_CASE("D16 warns on high bias (both accuracies low) and high variance (a large gap)") {
  CHECK(CheckFit(0.995, 0.98).severity == Severity::kOk);
  CHECK(CheckFit(0.91, 0.905).severity == Severity::kWarn);  // high bias
  CHECK(CheckFit(0.999, 0.95).severity == Severity::kWarn);  // high variance
}

TEST_CASE("D17 warns when the chosen lr diverges or is 30x away from the range test's best") {
  CHECK(CheckLrRange(0.01, 0.003, false).severity == Severity::kOk);
  CHECK(CheckLrRange(0.01, 2, true).severity == Severity::kWarn);
}

TEST_CASE("D18 notes a hidden layer under 20 units and warns on one under 10") {
  CHECK(CheckCapacity({784, 256, 128, 10}).severity == Severity::kOk);
  CHECK(CheckCapacity({784, 16, 10}).severity == Severity::kNote);
  CHECK(CheckCapacity({784, 5, 5, 10}).severity == Severity::kWarn);
}

TEST_CASE("the nearest-class-mean check passes real labels and warns on shuffled ones") {
  Dataset data = test::OnePixelPerClass(1200, 10);
  CHECK(CheckLabels(NearestMeanAccuracy(data, 1000), 0.1).severity == Severity::kOk);
  std::mt19937_64 rng(1);
  std::shuffle(data.labels.begin(), data.labels.end(), rng);
  CHECK(CheckLabels(NearestMeanAccuracy(data, 1000), 0.1).severity == Severity::kWarn);
}

TEST_CASE("a healthy run gets no WARN/FAIL; the stuck-3.25 setup is blamed on the prior loss first") {
  const Dataset data = test::OnePixelPerClass(2200, 11);
  TrainConfig good = test::SmallTrainConfig();
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
