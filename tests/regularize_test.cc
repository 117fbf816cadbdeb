// Augmentation, dropout, max-norm, label smoothing, EMA, one-cycle and early
// stopping: each on its own, then inside short training runs on synthetic
// data (no MNIST needed, so these stay in the fast `unit` suite).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "augment.h"
#include "edgemlp/input_transform.h"
#include "model.h"
#include "regularize.h"
#include "test_util.h"
#include "train.h"

namespace edgemlp {
namespace {

// A 28x28 image with a bright off-centre bar, so warps visibly move it.
std::vector<uint8_t> BarImage() {
  std::vector<uint8_t> image(28 * 28, 0);
  for (int y = 6; y < 22; ++y) {
    for (int x = 9; x < 13; ++x) image[y * 28 + x] = static_cast<uint8_t>(100 + 5 * y);
  }
  return image;
}

// Classes are separable: image i has a bright block whose row is its label.
Dataset SyntheticDataset(size_t count, uint64_t seed) {
  Dataset d;
  d.images.count = static_cast<uint32_t>(count);
  d.images.rows = d.images.cols = 28;
  d.images.pixels.assign(count * 784, 0);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(rng() % 10);
    d.labels.push_back(static_cast<uint8_t>(label));
    uint8_t* image = d.images.pixels.data() + i * 784;
    for (int x = 4; x < 24; ++x) image[(2 + 2 * label) * 28 + x] = 200 + rng() % 56;
    for (int k = 0; k < 20; ++k) image[rng() % 784] = rng() % 80;  // noise
  }
  return d;
}

// A 784-24-10 net, 3 epochs: enough to see each regularizer act.
TrainConfig SmallConfig() {
  TrainConfig c = test::SmallTrainConfig();
  c.arch = {784, 24, 10};
  c.epochs = 3;
  return c;
}

AugmentConfig AllAugmentations() {
  AugmentConfig a;
  a.shift = 2;
  a.rotate = 15;
  a.scale = 0.15f;
  a.shear = 0.2f;
  a.elastic_alpha = 34;
  a.elastic_sigma = 4;
  return a;
}

TEST_CASE("identity augmentation parameters give the input back") {
  const std::vector<uint8_t> image = BarImage();
  Augmenter identity(AugmentConfig{}, 28, 28);
  std::vector<float> out(784, -1.0f);
  identity.Warp(image.data(), 12345, out.data());
  for (size_t i = 0; i < image.size(); ++i) REQUIRE(out[i] == image[i]);
}

TEST_CASE("augmentation is deterministic per seed, in range and in shape") {
  const std::vector<uint8_t> image = BarImage();
  Augmenter a(AllAugmentations(), 28, 28), b(AllAugmentations(), 28, 28);
  // One extra slot after the image must stay untouched.
  std::vector<float> x(785, -7.0f), y(785, -7.0f), z(785, -7.0f);
  a.Warp(image.data(), 99, x.data());
  b.Warp(image.data(), 99, y.data());
  a.Warp(image.data(), 100, z.data());
  CHECK(x == y);
  CHECK(x != z);
  CHECK(x[784] == -7.0f);
  for (int i = 0; i < 784; ++i) {
    REQUIRE(x[i] >= 0.0f);
    REQUIRE(x[i] <= 255.0f);
  }
  double diff = 0;
  for (int i = 0; i < 784; ++i) diff += std::abs(x[i] - image[i]);
  CHECK(diff > 1000);  // the bar moved
}

TEST_CASE("elastic field alone moves pixels a few pixels at most") {
  AugmentConfig elastic;
  elastic.elastic_alpha = 34;
  elastic.elastic_sigma = 4;
  const std::vector<uint8_t> image = BarImage();
  Augmenter a(elastic, 28, 28);
  std::vector<float> out(784);
  a.Warp(image.data(), 7, out.data());
  // The bar stays where it was, give or take a few columns.
  double mass = 0, far = 0;
  for (int y = 0; y < 28; ++y) {
    for (int x = 0; x < 28; ++x) {
      mass += out[y * 28 + x];
      if (x < 3 || x > 19) far += out[y * 28 + x];
    }
  }
  CHECK(mass > 0);
  CHECK(far == 0);
}

TEST_CASE("the batch loader gives the same batches for any thread count, each image as Warp makes it") {
  const Dataset d = SyntheticDataset(40, 3);
  std::vector<uint32_t> order(40);
  std::iota(order.begin(), order.end(), 0u);
  std::reverse(order.begin(), order.end());
  BatchLoader one(d.images, AllAugmentations(), 16, 1), two(d.images, AllAugmentations(), 16, 2);
  one.Prefetch(order.data() + 16, 16, 42, 16);
  two.Prefetch(order.data() + 16, 16, 42, 16);
  const Eigen::MatrixXf a = one.Take(), b = two.Take();
  CHECK(bool(a == b));
  Augmenter ref(AllAugmentations(), 28, 28);
  std::vector<float> col(784);
  ref.Warp(d.images.image(order[16 + 5]), SampleSeed(42, 16 + 5), col.data());
  CHECK(bool(Eigen::Map<Eigen::VectorXf>(col.data(), 784) == a.col(5)));

  BatchLoader plain(d.images, AugmentConfig{}, 16, 2);
  plain.Prefetch(order.data(), 3, 1, 0);
  const Eigen::MatrixXf& p = plain.Take();
  for (int i = 0; i < 784; ++i) REQUIRE(p(i, 2) == d.images.image(order[2])[i]);
}

TEST_CASE("with an area transform the batch loader gives AreaDownsample of the warp rounded to u8") {
  const Dataset d = SyntheticDataset(20, 4);
  FloatInputTransform area;
  area.kind = InputTransformKind::kArea;
  area.in_rows = area.in_cols = 28;
  area.out_rows = area.out_cols = 16;
  std::vector<uint32_t> order(20);
  std::iota(order.begin(), order.end(), 0u);
  BatchLoader warped(d.images, AllAugmentations(), 8, 2, area.View());
  BatchLoader plain(d.images, AugmentConfig{}, 8, 1, area.View());
  warped.Prefetch(order.data() + 8, 8, 9, 8);
  const Eigen::MatrixXf w = warped.Take();
  plain.Prefetch(order.data() + 8, 8, 9, 8);
  const Eigen::MatrixXf p = plain.Take();
  REQUIRE(w.rows() == 256);
  Augmenter ref(AllAugmentations(), 28, 28);
  std::vector<float> full(784);
  std::vector<uint8_t> rounded(784), small(256), direct(256);
  for (int c = 0; c < 8; ++c) {
    ref.Warp(d.images.image(order[8 + c]), SampleSeed(9, 8 + c), full.data());
    for (int i = 0; i < 784; ++i) {
      rounded[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(full[i]), 0.0f, 255.0f));
    }
    AreaDownsample(area.View(), rounded.data(), small.data());
    AreaDownsample(area.View(), d.images.image(order[8 + c]), direct.data());
    for (int i = 0; i < 256; ++i) {
      REQUIRE(w(i, c) == small[i]);
      REQUIRE(p(i, c) == direct[i]);
    }
  }
  CHECK_FALSE(bool(w == p));  // the warp did something
}

TEST_CASE("a dropout mask drops the given share, scales kept units by 1/(1 - rate), repeats per seed") {
  Eigen::MatrixXf mask(100, 200);
  FillDropoutMask(0.3f, 5, mask);
  const double dropped = (mask.array() == 0.0f).cast<double>().mean();
  CHECK(dropped == doctest::Approx(0.3).epsilon(0.05));
  CHECK(mask.maxCoeff() == doctest::Approx(1.0f / 0.7f));
  CHECK(mask.mean() == doctest::Approx(1.0).epsilon(0.05));
  Eigen::MatrixXf again(100, 200);
  FillDropoutMask(0.3f, 5, again);
  CHECK(bool(mask == again));
}

TEST_CASE("max-norm clips only the rows above the cap") {
  Eigen::MatrixXf w(2, 2);
  w << 3, 4,     // norm 5
      0.3f, 0.4f;  // norm 0.5
  ClipMaxNorm(2.0f, &w);
  CHECK(w.row(0).norm() == doctest::Approx(2.0));
  CHECK(w(0, 0) / w(0, 1) == doctest::Approx(0.75));
  CHECK(w(1, 0) == 0.3f);
  CHECK(w(1, 1) == 0.4f);
}

TEST_CASE("label-smoothed cross-entropy and its gradient match the closed form; 0 is plain CE") {
  const float logits[3] = {2.0f, 0.0f, -1.0f};
  float delta[3];
  const double z = std::exp(2.0) + 1.0 + std::exp(-1.0);
  const double p[3] = {std::exp(2.0) / z, 1.0 / z, std::exp(-1.0) / z};
  // smoothing 0.3 over 3 classes: targets 0.8, 0.1, 0.1
  const double expected = -(0.8 * std::log(p[0]) + 0.1 * std::log(p[1]) + 0.1 * std::log(p[2]));
  CHECK(SmoothedCrossEntropy(logits, 3, 0, 0.3f, delta) == doctest::Approx(expected));
  CHECK(delta[0] == doctest::Approx(p[0] - 0.8));
  CHECK(delta[1] == doctest::Approx(p[1] - 0.1));
  CHECK(delta[2] == doctest::Approx(p[2] - 0.1));
  // Without smoothing it is plain cross-entropy.
  CHECK(SmoothedCrossEntropy(logits, 3, 1, 0.0f, delta) == doctest::Approx(-std::log(p[1])));
}

TEST_CASE("the EMA moves (1 - decay) of the way to the weights; its decay warms up from 0.1") {
  FloatModel model, ema;
  model.layers.resize(1);
  model.layers[0].weights = Eigen::MatrixXf::Constant(2, 3, 1.0f);
  model.layers[0].bias = Eigen::VectorXf::Constant(2, 2.0f);
  ema = model;
  ema.layers[0].weights.setZero();
  ema.layers[0].bias.setZero();
  UpdateEma(model, 0.75f, &ema);
  CHECK(ema.layers[0].weights(1, 2) == doctest::Approx(0.25));
  CHECK(ema.layers[0].bias(0) == doctest::Approx(0.5));
  CHECK(EmaDecay(0.999f, 0) == doctest::Approx(0.1));
  CHECK(EmaDecay(0.999f, 10'000'000) == doctest::Approx(0.999));
}

TEST_CASE("one-cycle warms up to the peak at 30%, then anneals") {
  CHECK(OneCycleLr(1.0f, 0.0) == doctest::Approx(1.0 / 25));
  CHECK(OneCycleLr(1.0f, 0.3) == doctest::Approx(1.0));
  CHECK(OneCycleLr(1.0f, 1.0) == doctest::Approx(1.0 / 25e4));
  CHECK(OneCycleLr(1.0f, 0.15) < OneCycleLr(1.0f, 0.29));
  CHECK(OneCycleLr(1.0f, 0.5) > OneCycleLr(1.0f, 0.9));
}

// The state after every epoch, as the after_epoch hook sees it.
std::vector<TrainState> TrainAndRecord(const Dataset& d, const TrainConfig& c,
                                       TrainResult* result) {
  std::vector<TrainState> states;
  TrainHooks hooks;
  hooks.after_epoch = [&](const TrainState& s) {
    states.push_back(s);
    return true;
  };
  *result = Train(d, c, hooks);
  return states;
}

TEST_CASE("training with every regulariser: deterministic, EMA exported, max-norm held") {
  const Dataset d = SyntheticDataset(800, 11);
  TrainConfig c = SmallConfig();
  c.augment = AllAugmentations();
  c.augment.rotate = 5;  // keep the rows readable
  c.input_dropout = 0.1f;
  c.hidden_dropout = 0.3f;
  c.max_norm = 1.5f;
  c.label_smoothing = 0.1f;
  c.ema_decay = 0.9f;
  c.schedule = Schedule::kOneCycle;
  TrainResult r1, r2;
  const std::vector<TrainState> states = TrainAndRecord(d, c, &r1);
  TrainAndRecord(d, c, &r2);  // same seed and threads: the same model
  REQUIRE(states.size() == 3);
  CHECK(bool(r1.model.layers[0].weights == r2.model.layers[0].weights));
  CHECK(r1.history.back().val_accuracy > 0.5);

  // The exported model is the EMA of the best epoch, not the raw weights.
  const TrainState& best = states[r1.best_epoch - 1];
  CHECK(bool(r1.model.layers[0].weights == best.ema.layers[0].weights));
  CHECK(bool(best.ema.layers[0].weights != best.model.layers[0].weights));
  for (const DenseLayer& l : states.back().model.layers) {
    CHECK(l.weights.rowwise().norm().maxCoeff() <= doctest::Approx(1.5));
  }
}

TEST_CASE("dropout is off at evaluation: predictions are repeatable and mask-free") {
  const Dataset d = SyntheticDataset(600, 4);
  TrainConfig c = SmallConfig();
  c.hidden_dropout = 0.5f;
  c.input_dropout = 0.2f;
  TrainResult r;
  TrainAndRecord(d, c, &r);
  Eigen::MatrixXf logits1, logits2;
  PredictFloat(r.model, d, 0, 100, &logits1);
  PredictFloat(r.model, d, 0, 100, &logits2);
  CHECK(bool(logits1 == logits2));
  // Plain forward pass of the weights, no dropout scaling anywhere.
  const Eigen::MatrixXf x = ImagesToInput(r.model, d.images.image(0), 100);
  const DenseLayer& l0 = r.model.layers[0];
  const DenseLayer& l1 = r.model.layers[1];
  const Eigen::MatrixXf h = ((l0.weights * x).colwise() + l0.bias).cwiseMax(0.0f);
  const Eigen::MatrixXf expected = (l1.weights * h).colwise() + l1.bias;
  CHECK((expected - logits1).cwiseAbs().maxCoeff() < 1e-4f);
}

TEST_CASE("early stopping ends the run once validation stops improving") {
  const Dataset d = SyntheticDataset(400, 5);
  TrainConfig c = SmallConfig();
  c.epochs = 20;
  c.learning_rate = 1e-12f;  // nothing learns, so epoch 1 stays the best
  c.schedule = Schedule::kConstant;
  c.early_stop = 2;
  TrainResult r;
  TrainAndRecord(d, c, &r);
  CHECK(r.best_epoch == 1);
  CHECK(r.history.size() == 3);

  TrainState s;
  s.epochs_done = 5;
  s.best_epoch = 4;
  CHECK_FALSE(StopEarly(s, 2));
  CHECK(StopEarly(s, 1));
  CHECK_FALSE(StopEarly(s, 0));
}

}  // namespace
}  // namespace edgemlp
