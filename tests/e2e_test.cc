// End to end on real MNIST: train 784-64-10 for 2 epochs, export int8, run
// it on the runtime. Needs the data ($EDGEMLP_DATA or <source>/data/mnist).
#include <doctest/doctest.h>

#include "edgemlp/runtime.h"
#include "idx.h"
#include "quantize.h"
#include "test_util.h"
#include "train.h"

namespace edgemlp {
namespace {

TEST_CASE("784-64-10 after 2 epochs: 96%+ float, int8 within 0.3 points and equal to the reference") {
  const Mnist mnist = LoadMnist(test::MnistDir());
  REQUIRE(mnist.test.size() == 10000);
  TrainConfig config;
  config.arch = {784, 64, 10};
  config.epochs = 2;
  config.seed = 1;
  // Two epochs favour many small steps: SGD with momentum, batch 32.
  config.optimizer = Optimizer::kMomentum;
  config.batch = 32;
  const TrainResult result = Train(mnist.train, config);
  REQUIRE(result.history.size() == 2);

  const std::vector<uint8_t> float_pred = PredictFloat(result.model, mnist.test, 0, 10000);
  const std::vector<uint8_t> blob = QuantizeInt8(result.model);
  Network net;
  const LoadResult r = Network::LoadCopy(blob.data(), blob.size(), &net);
  REQUIRE_MESSAGE(r.ok(), r.message);
  int float_correct = 0, int8_correct = 0, ref_mismatch = 0;
  int32_t logits[10], ref_logits[10];
  for (size_t i = 0; i < 10000; ++i) {
    const int label = mnist.test.labels[i];
    float_correct += float_pred[i] == label;
    const int digit = net.Predict(mnist.test.images.image(i), logits);
    int8_correct += digit == label;
    net.PredictRef(mnist.test.images.image(i), ref_logits);
    ref_mismatch += std::memcmp(logits, ref_logits, sizeof(logits)) != 0;
  }
  const double float_acc = float_correct / 100.0, int8_acc = int8_correct / 100.0;
  MESSAGE("float ", float_acc, "%, int8 ", int8_acc, "%");
  CHECK(float_acc >= 96.0);
  CHECK(int8_acc >= float_acc - 0.3);
  CHECK(ref_mismatch == 0);
}

TEST_CASE("same seed and thread count -> the same model, bit for bit") {
  const Mnist mnist = LoadMnist(test::MnistDir());
  Dataset small;
  small.images = mnist.train.images;
  small.images.count = 6000;
  small.images.pixels.resize(6000 * 784);
  small.labels.assign(mnist.train.labels.begin(), mnist.train.labels.begin() + 6000);
  TrainConfig config;
  config.arch = {784, 32, 10};
  config.epochs = 1;
  config.val_count = 1000;
  config.threads = 2;
  const std::vector<uint8_t> a = SerializeFloatModel(Train(small, config).model);
  const std::vector<uint8_t> b = SerializeFloatModel(Train(small, config).model);
  CHECK(a == b);
  config.seed = 2;
  const std::vector<uint8_t> c = SerializeFloatModel(Train(small, config).model);
  CHECK(a != c);
}

}  // namespace
}  // namespace edgemlp
