#include "qat.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "error.h"
#include "quantize.h"

namespace edgemlp {

namespace {

using Matrix = Eigen::MatrixXf;

WeightType LayerType(const QatConfig& c, size_t i) {
  const auto found = c.layer_types.find(i);
  return found != c.layer_types.end() ? found->second : c.weight_type;
}

// ReLU output clamped to [0, range] and rounded to its u8 grid.
void FakeQuantizeActivations(Eigen::Ref<Matrix> a, float range) {
  const float step = range / 255.0f;
  a = (a.array().max(0.0f).min(range) / step).round() * step;
}

// Forward through the fake-quantized model; act[0] is the input.
void QuantForward(const std::vector<Matrix>& w_q, const FloatModel& model, std::vector<Matrix>* act,
                  Eigen::Index n) {
  const size_t layers = model.layers.size();
  for (size_t i = 0; i < layers; ++i) {
    auto z = (*act)[i + 1].leftCols(n);
    z.noalias() = w_q[i] * (*act)[i].leftCols(n);
    z.colwise() += model.layers[i].bias;
    if (i + 1 < layers) FakeQuantizeActivations(z, model.layers[i].calib_max);
  }
}

double Accuracy(const FloatModel& model, const std::vector<Matrix>& w_q, const Matrix& input,
                const std::vector<uint8_t>& labels) {
  std::vector<Matrix> act(model.layers.size() + 1);
  act[0] = input;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    act[i + 1].resize(model.layers[i].weights.rows(), input.cols());
  }
  QuantForward(w_q, model, &act, input.cols());
  size_t correct = 0;
  for (Eigen::Index c = 0; c < input.cols(); ++c) {
    Eigen::Index best;
    act.back().col(c).maxCoeff(&best);
    correct += best == labels[c];
  }
  return static_cast<double>(correct) / static_cast<double>(input.cols());
}

}  // namespace

Matrix FakeQuantizeWeights(const Matrix& w, WeightType type, double fold) {
  const double qmax = WeightQmax(type, static_cast<uint32_t>(w.cols()));
  const Eigen::MatrixXd folded = w.cast<double>() * fold;
  std::vector<int32_t> q(static_cast<size_t>(w.cols()));
  Matrix out(w.rows(), w.cols());
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const double scale = QuantizeRow(folded.row(r), qmax, q.data());
    for (Eigen::Index c = 0; c < w.cols(); ++c) {
      out(r, c) = static_cast<float>(q[c] * scale / fold);
    }
  }
  return out;
}

Matrix FakeQuantizeLayer(const FloatModel& model, size_t i, WeightType type) {
  return FakeQuantizeWeights(model.layers[i].weights, type, i == 0 ? InputFold(model) : 1.0);
}

FloatModel FakeQuantizeModel(const FloatModel& model,
                             const std::function<WeightType(size_t)>& scheme) {
  FloatModel quantized = model;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    quantized.layers[i].weights = FakeQuantizeLayer(model, i, scheme(i));
  }
  return quantized;
}

FloatModel FinetuneQat(const FloatModel& input_model, const Dataset& train, const QatConfig& config,
                       std::vector<QatEpoch>* history,
                       const std::function<void(const QatEpoch&)>& on_epoch) {
  FloatModel model = input_model;
  const size_t layers = model.layers.size();
  for (size_t i = 0; i + 1 < layers; ++i) {
    if (!(model.layers[i].calib_max > 0) || model.layers[i].activation != Activation::kRelu) {
      throw InputError(
          "QAT needs ReLU hidden layers with calibrated ranges (a model from "
          "`edgemlp train`); layer " +
          std::to_string(i) + " has none");
    }
  }
  if (model.input_offset != 0.0f) {
    throw InputError("QAT needs an input offset of 0 (the exporter folds other scalings)");
  }
  if (train.images.image_size() != model.input_size() || train.size() <= config.val_count + 1) {
    throw InputError("QAT: the data does not fit the model (" +
                     std::to_string(train.images.image_size()) + " pixels, " +
                     std::to_string(train.size()) + " images)");
  }
  if (config.epochs < 1 || config.batch < 1 || !(config.learning_rate > 0)) {
    throw InputError("QAT: --epochs, --batch and --lr must be positive");
  }
  for (const auto& [index, type] : config.layer_types) {
    if (index >= layers) {
      throw InputError("--layer-quant " + std::to_string(index) + ": the model has layers 0.." +
                       std::to_string(layers - 1));
    }
  }
  Eigen::setNbThreads(config.threads > 0
                          ? config.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const size_t n_train = train.size() - config.val_count;
  const Matrix inputs = ImagesToInput(model, train.images.image(0), n_train);
  const Matrix val_inputs = ImagesToInput(model, train.images.image(n_train), config.val_count);
  const std::vector<uint8_t> val_labels(train.labels.begin() + n_train, train.labels.end());
  const Eigen::Index batch = config.batch;

  std::vector<Matrix> w_q(layers), act(layers + 1), delta(layers), m_w(layers), v_w(layers);
  std::vector<Eigen::VectorXf> m_b(layers), v_b(layers);
  act[0].resize(inputs.rows(), batch);
  for (size_t i = 0; i < layers; ++i) {
    const DenseLayer& l = model.layers[i];
    act[i + 1].resize(l.weights.rows(), batch);
    delta[i].resize(l.weights.rows(), batch);
    m_w[i] = v_w[i] = Matrix::Zero(l.weights.rows(), l.weights.cols());
    m_b[i] = v_b[i] = Eigen::VectorXf::Zero(l.bias.size());
  }
  auto quantize_weights = [&] {
    for (size_t i = 0; i < layers; ++i) {
      w_q[i] = FakeQuantizeLayer(model, i, LayerType(config, i));
    }
  };
  quantize_weights();
  FloatModel best = model;
  double best_accuracy = Accuracy(model, w_q, val_inputs, val_labels);

  std::mt19937_64 rng(config.seed);
  std::vector<uint32_t> order(n_train);
  std::iota(order.begin(), order.end(), 0u);
  long step = 0;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    for (size_t first = 0; first < n_train; first += batch) {
      const Eigen::Index n = static_cast<Eigen::Index>(std::min<size_t>(batch, n_train - first));
      for (Eigen::Index c = 0; c < n; ++c) act[0].col(c) = inputs.col(order[first + c]);
      QuantForward(w_q, model, &act, n);
      auto logits = act[layers].leftCols(n);
      auto d_out = delta[layers - 1].leftCols(n);
      for (Eigen::Index c = 0; c < n; ++c) {
        const float top = logits.col(c).maxCoeff();
        d_out.col(c) = (logits.col(c).array() - top).exp().matrix();
        const float sum = d_out.col(c).sum();
        const int label = train.labels[order[first + c]];
        loss_sum += std::log(sum) - (logits(label, c) - top);
        d_out.col(c) /= sum;
        d_out(label, c) -= 1.0f;
      }
      d_out /= static_cast<float>(n);
      ++step;
      constexpr float kB1 = 0.9f, kB2 = 0.999f, kEps = 1e-8f;
      const float a = config.learning_rate *
                      std::sqrt(1.0f - std::pow(kB2, static_cast<float>(step))) /
                      (1.0f - std::pow(kB1, static_cast<float>(step)));
      for (size_t i = layers; i-- > 0;) {
        auto d = delta[i].leftCols(n);
        const Matrix grad_w = d * act[i].leftCols(n).transpose();
        const Eigen::VectorXf grad_b = d.rowwise().sum();
        if (i > 0) {
          auto prev = delta[i - 1].leftCols(n);
          prev.noalias() = w_q[i].transpose() * d;  // through the quantized weights
          // STE: the rounding passes the gradient; the clamp to [0, range] does
          // not. A clamped output is the grid's top, 255 steps, which can be
          // an ulp below range itself.
          const float range = model.layers[i - 1].calib_max;
          const float top = 255.0f * (range / 255.0f);
          const auto out = act[i].leftCols(n).array();
          prev = (out > 0.0f && out < top).select(prev, 0.0f);
        }
        DenseLayer& l = model.layers[i];
        m_w[i] = kB1 * m_w[i] + (1 - kB1) * grad_w;
        v_w[i] = kB2 * v_w[i] + (1 - kB2) * grad_w.cwiseAbs2();
        m_b[i] = kB1 * m_b[i] + (1 - kB1) * grad_b;
        v_b[i] = kB2 * v_b[i] + (1 - kB2) * grad_b.cwiseAbs2();
        l.weights.array() -= a * m_w[i].array() / (v_w[i].array().sqrt() + kEps);
        l.bias.array() -= a * m_b[i].array() / (v_b[i].array().sqrt() + kEps);
      }
      quantize_weights();
    }
    QatEpoch rec;
    rec.epoch = epoch;
    rec.train_loss = loss_sum / static_cast<double>(n_train);
    if (!std::isfinite(rec.train_loss)) {
      throw InputError("QAT diverged at epoch " + std::to_string(epoch) + ": lower --lr");
    }
    rec.val_accuracy = Accuracy(model, w_q, val_inputs, val_labels);
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rec.val_accuracy > best_accuracy) {
      best_accuracy = rec.val_accuracy;
      best = model;
    }
    if (history) history->push_back(rec);
    if (on_epoch) on_epoch(rec);
  }
  return best;
}

}  // namespace edgemlp
