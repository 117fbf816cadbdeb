#include "regularize.h"

#include <algorithm>
#include <cmath>

#include "augment.h"  // SplitMix64

namespace edgemlp {

void FillDropoutMask(float rate, uint64_t seed, Eigen::Ref<Eigen::MatrixXf> mask) {
  SplitMix64 rng(seed);
  const float keep = 1.0f / (1.0f - rate);
  // 24-bit threshold: an entry is dropped when its draw falls below rate.
  const uint64_t threshold = static_cast<uint64_t>(static_cast<double>(rate) * 0x1.0p24);
  for (Eigen::Index c = 0; c < mask.cols(); ++c) {
    for (Eigen::Index r = 0; r < mask.rows(); ++r) {
      mask(r, c) = (rng.Next() >> 40) < threshold ? 0.0f : keep;
    }
  }
}

void ClipMaxNorm(float max_norm, Eigen::MatrixXf* weights) {
  const Eigen::VectorXf norms = weights->rowwise().norm();
  for (Eigen::Index r = 0; r < weights->rows(); ++r) {
    if (norms[r] > max_norm) weights->row(r) *= max_norm / norms[r];
  }
}

double SmoothedCrossEntropy(const float* logits, int classes, int label, float smoothing,
                            float* delta) {
  const float top = *std::max_element(logits, logits + classes);
  double sum = 0;
  for (int k = 0; k < classes; ++k) sum += delta[k] = std::exp(logits[k] - top);
  const double log_sum = std::log(sum);
  const float off = smoothing / static_cast<float>(classes);
  double loss = 0;
  for (int k = 0; k < classes; ++k) {
    const float target = off + (k == label ? 1.0f - smoothing : 0.0f);
    loss -= target * (logits[k] - top - log_sum);
    delta[k] = static_cast<float>(delta[k] / sum) - target;
  }
  return loss;
}

float EmaDecay(float decay, long step) {
  return std::min(decay, static_cast<float>(1 + step) / static_cast<float>(10 + step));
}

void UpdateEma(const FloatModel& model, float decay, FloatModel* ema) {
  for (size_t i = 0; i < model.layers.size(); ++i) {
    DenseLayer& e = ema->layers[i];
    const DenseLayer& m = model.layers[i];
    e.weights = decay * e.weights + (1.0f - decay) * m.weights;
    e.bias = decay * e.bias + (1.0f - decay) * m.bias;
  }
}

float OneCycleLr(float max_lr, double progress) {
  constexpr double kWarmup = 0.3, kDiv = 25.0, kFinalDiv = 25e4;
  const double start = max_lr / kDiv, end = max_lr / kFinalDiv;
  const auto cosine = [](double from, double to, double t) {
    return to + (from - to) * 0.5 * (1.0 + std::cos(M_PI * std::clamp(t, 0.0, 1.0)));
  };
  if (progress < kWarmup) return static_cast<float>(cosine(start, max_lr, progress / kWarmup));
  return static_cast<float>(cosine(max_lr, end, (progress - kWarmup) / (1.0 - kWarmup)));
}

}  // namespace edgemlp
