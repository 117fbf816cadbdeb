// The trainer (trainer/train.h): every optimizer, activation and loss
// learns; schedules, warm-up, L2, init and input scaling do what their
// options say; SelectTraining's splits. Small synthetic data only.
#include "train.h"

#include <doctest/doctest.h>

#include <cmath>

#include "diagnostics.h"
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
