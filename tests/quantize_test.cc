// The quantizer (trainer/quantize.h): requantization multipliers, int8
// predictions that follow the float model, blob size per scheme.
#include "quantize.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "atomic_file.h"
#include "edgemlp/blob.h"
#include "edgemlp/runtime.h"
#include "model.h"
#include "test_util.h"

namespace edgemlp {
namespace {

TEST_CASE("QuantizeMultiplier encodes M to a relative 1e-9 with multiplier and shift in range") {
  for (double m : {1e-12, 1e-6, 0.0173, 0.4999999, 0.5, 0.75, 0.9999999999, 1.0}) {
    int32_t mult = 0, shift = 0;
    QuantizeMultiplier(m, &mult, &shift);
    CHECK(mult >= kMinMultiplier);
    CHECK(shift >= kMinShift);
    CHECK(shift <= kMaxShift);
    if (m > 1e-9) CHECK(std::fabs(std::ldexp(static_cast<double>(mult), -shift) - m) <= m * 1e-9);
  }
}

TEST_CASE("int8 predictions agree with the float model's argmax and logits") {
  // A random model, quantized: argmax agrees on most random inputs and the
  // dequantized logits are close to the float ones.
  const FloatModel m = test::RandomModel({64, 48, 10}, 11);
  FloatModel calibrated = m;
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int> px(0, 255);
  std::vector<uint8_t> pixels(64 * 200);
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(px(rng));
  const Eigen::MatrixXf input = ImagesToInput(m, pixels.data(), 200);
  std::vector<Eigen::MatrixXf> hidden;
  const Eigen::MatrixXf logits = Forward(m, input, &hidden);
  calibrated.layers[0].calib_max = hidden[0].maxCoeff();
  test::TempDir dir;
  const std::vector<uint8_t> blob = QuantizeInt8(calibrated);
  WriteFileAtomic(dir.File("m.q8"), blob.data(), blob.size());
  Network net;
  const LoadResult r = Network::LoadFile(dir.File("m.q8"), &net);
  REQUIRE_MESSAGE(r.ok(), r.message);
  int agree = 0;
  double max_err = 0, max_logit = 0;
  for (int i = 0; i < 200; ++i) {
    int32_t q[10];
    const int digit = net.Predict(pixels.data() + 64 * i, q);
    Eigen::Index best;
    logits.col(i).maxCoeff(&best);
    agree += digit == best;
    for (int k = 0; k < 10; ++k) {
      max_err = std::max(max_err, std::fabs(q[k] * double{net.logit_scale()} - logits(k, i)));
      max_logit = std::max(max_logit, std::fabs(double{logits(k, i)}));
    }
  }
  CHECK(agree >= 190);
  CHECK(max_err < 0.05 * max_logit);
}

TEST_CASE("narrower schemes give smaller blobs: int4 < int8 < int16") {
  const FloatModel m = test::RandomModel({784, 70, 33, 10}, 5);
  auto size = [&](WeightType type) {
    QuantOptions q;
    q.weight_type = type;
    return Quantize(m, q).size();
  };
  CHECK(size(WeightType::kI4) < size(WeightType::kI8));
  CHECK(size(WeightType::kI8) < size(WeightType::kI16));
}

}  // namespace
}  // namespace edgemlp
