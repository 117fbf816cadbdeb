#include "train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "error.h"

namespace edgemlp {

float DefaultLr(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::kSgd: return 0.1f;
    case Optimizer::kMomentum: return 0.05f;
    case Optimizer::kAdam: return 1e-3f;
  }
  return 1e-3f;
}

const char* OptimizerName(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::kSgd: return "sgd";
    case Optimizer::kMomentum: return "momentum";
    case Optimizer::kAdam: return "adam";
  }
  return "?";
}

const char* ScheduleName(Schedule schedule) {
  return schedule == Schedule::kCosine ? "cosine" : "constant";
}

namespace {

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Per-parameter optimizer state, shaped like the layer.
struct Slot {
  Matrix w1, w2;  // momentum / Adam first and second moments
  Vector b1, b2;
};

// Buffers sized once for a full batch; partial batches use leftCols(n).
struct Workspace {
  std::vector<Matrix> act;    // act[0] = input batch, act[i+1] = layer i out
  std::vector<Matrix> delta;  // dLoss/dZ for layer i
  std::vector<Matrix> grad_w;
  std::vector<Vector> grad_b;
};

void HeInit(FloatModel* model, const std::vector<uint32_t>& arch,
            std::mt19937_64* rng) {
  model->layers.clear();
  for (size_t i = 0; i + 1 < arch.size(); ++i) {
    DenseLayer l;
    const float std_dev = std::sqrt(2.0f / static_cast<float>(arch[i]));
    std::normal_distribution<float> normal(0.0f, std_dev);
    l.weights.resize(arch[i + 1], arch[i]);
    for (Eigen::Index c = 0; c < l.weights.cols(); ++c) {
      for (Eigen::Index r = 0; r < l.weights.rows(); ++r) l.weights(r, c) = normal(*rng);
    }
    l.bias = Vector::Zero(arch[i + 1]);
    l.activation = i + 2 == arch.size() ? Activation::kNone : Activation::kRelu;
    model->layers.push_back(std::move(l));
  }
}

float LearningRate(const TrainConfig& c, float base, long step, long total) {
  if (c.schedule == Schedule::kConstant || total <= 1) return base;
  const double progress = static_cast<double>(step) / static_cast<double>(total);
  return static_cast<float>(base * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace

std::vector<uint8_t> PredictFloat(const FloatModel& model, const Dataset& data,
                                  size_t begin, size_t end,
                                  Eigen::MatrixXf* logits_out) {
  std::vector<uint8_t> predictions;
  predictions.reserve(end - begin);
  if (logits_out) logits_out->resize(model.output_size(), end - begin);
  constexpr size_t kChunk = 1000;
  for (size_t i = begin; i < end; i += kChunk) {
    const size_t n = std::min(kChunk, end - i);
    const Matrix logits =
        Forward(model, ImagesToInput(model, data.images.image(i), n));
    for (Eigen::Index c = 0; c < logits.cols(); ++c) {
      Eigen::Index best;
      logits.col(c).maxCoeff(&best);
      predictions.push_back(static_cast<uint8_t>(best));
    }
    if (logits_out) logits_out->middleCols(i - begin, n) = logits;
  }
  return predictions;
}

void Calibrate(FloatModel* model, const Dataset& data, size_t begin,
               size_t count) {
  std::vector<Matrix> hidden;
  const Matrix logits =
      Forward(*model, ImagesToInput(*model, data.images.image(begin), count),
              &hidden);
  for (size_t i = 0; i < hidden.size(); ++i) {
    model->layers[i].calib_max = hidden[i].maxCoeff();
  }
  model->layers.back().calib_max = logits.cwiseAbs().maxCoeff();
}

TrainResult Train(const Dataset& train, const TrainConfig& config,
                  const std::function<void(const EpochRecord&)>& on_epoch,
                  const std::function<void(double)>& on_progress) {
  const auto start = Clock::now();
  const std::vector<uint32_t>& arch = config.arch;
  if (arch.front() != train.images.image_size()) {
    throw InputError("--arch starts with " + std::to_string(arch.front()) +
                     " inputs but the images have " +
                     std::to_string(train.images.image_size()) + " pixels");
  }
  if (arch.back() < 10) {
    throw InputError("--arch ends with " + std::to_string(arch.back()) +
                     " outputs but the labels have 10 classes");
  }
  if (config.epochs < 1 || config.batch < 1) {
    throw InputError("--epochs and --batch must be >= 1");
  }
  if (train.size() <= config.val_count + 1) {
    throw InputError("the training set has " + std::to_string(train.size()) +
                     " images, too few to hold out " +
                     std::to_string(config.val_count) + " for validation");
  }
  TrainResult result;
  result.threads = config.threads > 0
                       ? config.threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Eigen::setNbThreads(result.threads);

  std::mt19937_64 rng(config.seed);
  FloatModel model;
  model.input_rows = train.images.rows;
  model.input_cols = train.images.cols;
  HeInit(&model, arch, &rng);

  const size_t n_train = train.size() - config.val_count;
  const size_t n_in = arch.front();
  const Matrix inputs = ImagesToInput(model, train.images.image(0), n_train);
  const Eigen::Index batch = config.batch;
  const size_t layers = model.layers.size();

  Workspace ws;
  ws.act.emplace_back(n_in, batch);
  for (size_t i = 0; i < layers; ++i) {
    ws.act.emplace_back(arch[i + 1], batch);
    ws.delta.emplace_back(arch[i + 1], batch);
    ws.grad_w.emplace_back(arch[i + 1], arch[i]);
    ws.grad_b.emplace_back(arch[i + 1]);
  }
  std::vector<Slot> slots(layers);
  for (size_t i = 0; i < layers; ++i) {
    const DenseLayer& l = model.layers[i];
    slots[i].w1 = Matrix::Zero(l.weights.rows(), l.weights.cols());
    slots[i].w2 = slots[i].w1;
    slots[i].b1 = Vector::Zero(l.bias.size());
    slots[i].b2 = slots[i].b1;
  }

  const float base_lr =
      config.learning_rate > 0 ? config.learning_rate : DefaultLr(config.optimizer);
  const long steps_per_epoch = static_cast<long>((n_train + batch - 1) / batch);
  const long total_steps = steps_per_epoch * config.epochs;
  long step = 0;
  std::vector<uint32_t> order(n_train);
  for (size_t i = 0; i < n_train; ++i) order[i] = static_cast<uint32_t>(i);

  FloatModel best = model;
  double best_accuracy = -1;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    EpochRecord rec;
    rec.epoch = epoch;
    rec.learning_rate = LearningRate(config, base_lr, step, total_steps);
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    for (size_t first = 0; first < n_train; first += batch) {
      const Eigen::Index n = static_cast<Eigen::Index>(std::min<size_t>(batch, n_train - first));
      for (Eigen::Index c = 0; c < n; ++c) ws.act[0].col(c) = inputs.col(order[first + c]);
      // Forward.
      for (size_t i = 0; i < layers; ++i) {
        const DenseLayer& l = model.layers[i];
        auto z = ws.act[i + 1].leftCols(n);
        z.noalias() = l.weights * ws.act[i].leftCols(n);
        z.colwise() += l.bias;
        if (l.activation == Activation::kRelu) z = z.cwiseMax(0.0f);
      }
      // Softmax cross-entropy; delta = (softmax - onehot) / n.
      auto logits = ws.act[layers].leftCols(n);
      auto d_out = ws.delta[layers - 1].leftCols(n);
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
      // Backward.
      for (size_t i = layers; i-- > 0;) {
        auto d = ws.delta[i].leftCols(n);
        ws.grad_w[i].noalias() = d * ws.act[i].leftCols(n).transpose();
        ws.grad_b[i] = d.rowwise().sum();
        if (config.l2 > 0) ws.grad_w[i] += config.l2 * model.layers[i].weights;
        if (i > 0) {
          auto prev = ws.delta[i - 1].leftCols(n);
          prev.noalias() = model.layers[i].weights.transpose() * d;
          // ReLU derivative: the previous layer's output is positive.
          prev = (ws.act[i].leftCols(n).array() > 0.0f).select(prev, 0.0f);
        }
      }
      // Update.
      const float lr = LearningRate(config, base_lr, step, total_steps);
      ++step;
      for (size_t i = 0; i < layers; ++i) {
        DenseLayer& l = model.layers[i];
        Slot& s = slots[i];
        switch (config.optimizer) {
          case Optimizer::kSgd:
            l.weights -= lr * ws.grad_w[i];
            l.bias -= lr * ws.grad_b[i];
            break;
          case Optimizer::kMomentum:
            s.w1 = config.momentum * s.w1 + ws.grad_w[i];
            s.b1 = config.momentum * s.b1 + ws.grad_b[i];
            l.weights -= lr * s.w1;
            l.bias -= lr * s.b1;
            break;
          case Optimizer::kAdam: {
            constexpr float kB1 = 0.9f, kB2 = 0.999f, kEps = 1e-8f;
            const float c1 = 1.0f - std::pow(kB1, static_cast<float>(step));
            const float c2 = 1.0f - std::pow(kB2, static_cast<float>(step));
            const float a = lr * std::sqrt(c2) / c1;
            s.w1 = kB1 * s.w1 + (1 - kB1) * ws.grad_w[i];
            s.w2 = kB2 * s.w2 + (1 - kB2) * ws.grad_w[i].cwiseAbs2();
            s.b1 = kB1 * s.b1 + (1 - kB1) * ws.grad_b[i];
            s.b2 = kB2 * s.b2 + (1 - kB2) * ws.grad_b[i].cwiseAbs2();
            l.weights.array() -= a * s.w1.array() / (s.w2.array().sqrt() + kEps);
            l.bias.array() -= a * s.b1.array() / (s.b2.array().sqrt() + kEps);
            break;
          }
        }
      }
      if (on_progress) on_progress(static_cast<double>(first + n) / n_train);
    }
    rec.train_loss = loss_sum / static_cast<double>(n_train);
    if (!std::isfinite(rec.train_loss)) {
      throw InputError("training diverged at epoch " + std::to_string(epoch) +
                       " (loss is not finite): lower --lr");
    }
    const std::vector<uint8_t> val = PredictFloat(model, train, n_train, train.size());
    size_t correct = 0;
    for (size_t i = 0; i < val.size(); ++i) correct += val[i] == train.labels[n_train + i];
    rec.val_accuracy = static_cast<double>(correct) / static_cast<double>(val.size());
    rec.seconds = Seconds(epoch_start);
    if (rec.val_accuracy > best_accuracy) {
      best_accuracy = rec.val_accuracy;
      best = model;
      result.best_epoch = epoch;
    }
    result.history.push_back(rec);
    if (on_epoch) on_epoch(rec);
  }
  // Calibrate activation ranges on held-out training images (never test).
  Calibrate(&best, train, n_train, std::min<size_t>(config.val_count, 2000));
  result.model = std::move(best);
  result.seconds = Seconds(start);
  return result;
}

}  // namespace edgemlp
