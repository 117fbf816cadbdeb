#include "train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "error.h"
#include "regularize.h"

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
  switch (schedule) {
    case Schedule::kConstant: return "constant";
    case Schedule::kCosine: return "cosine";
    case Schedule::kOneCycle: return "one-cycle";
  }
  return "?";
}

namespace {

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void HeInit(FloatModel* model, const std::vector<uint32_t>& arch, std::mt19937_64* rng) {
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

void CheckConfig(const Dataset& train, const TrainConfig& config) {
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
  if (!(config.input_dropout >= 0 && config.input_dropout < 1 && config.hidden_dropout >= 0 &&
        config.hidden_dropout < 1)) {
    throw InputError("--input-dropout and --dropout must be in [0, 1)");
  }
  if (!(config.label_smoothing >= 0 && config.label_smoothing < 1) ||
      !(config.ema_decay >= 0 && config.ema_decay < 1)) {
    throw InputError("--label-smoothing and --ema must be in [0, 1)");
  }
  if (config.epochs < 1 || config.batch < 1) {
    throw InputError("--epochs and --batch must be >= 1");
  }
  if (train.size() <= config.val_count + 1) {
    throw InputError("the training set has " + std::to_string(train.size()) +
                     " images, too few to hold out " + std::to_string(config.val_count) +
                     " for validation");
  }
}

// One training run: the state it advances plus buffers sized once for a full
// batch (a partial last batch uses leftCols(n)), so nothing is allocated per
// sample or per batch.
class Trainer {
 public:
  Trainer(const Dataset& data, const TrainConfig& config, TrainState* state)
      : data_(data), config_(config), state_(*state),
        n_train_(data.size() - config.val_count),
        base_lr_(config.learning_rate > 0 ? config.learning_rate : DefaultLr(config.optimizer)),
        total_steps_(static_cast<long>((n_train_ + config.batch - 1) / config.batch) *
                     config.epochs),
        loader_(data.images, config.augment, config.batch, Eigen::nbThreads()) {
    const std::vector<uint32_t>& arch = config.arch;
    act_.emplace_back(arch[0], config.batch);
    // mask_[k] multiplies act_[k]: the input, then each hidden layer.
    for (size_t k = 0; k + 1 < arch.size(); ++k) {
      const float rate = k == 0 ? config.input_dropout : config.hidden_dropout;
      mask_.push_back(rate > 0 ? Matrix(arch[k], config.batch) : Matrix());
    }
    for (size_t i = 0; i + 1 < arch.size(); ++i) {
      act_.emplace_back(arch[i + 1], config.batch);
      delta_.emplace_back(arch[i + 1], config.batch);
      grad_w_.emplace_back(arch[i + 1], arch[i]);
      grad_b_.emplace_back(arch[i + 1]);
    }
    order_.resize(n_train_);
  }

  EpochRecord RunEpoch(const TrainHooks& hooks) {
    const auto start = Clock::now();
    EpochRecord rec;
    rec.epoch = state_.epochs_done + 1;
    rec.learning_rate = LearningRate(state_.step);
    // The order is rebuilt before each shuffle so an epoch depends only on
    // the RNG state, which is what a checkpoint saves.
    for (size_t i = 0; i < n_train_; ++i) order_[i] = static_cast<uint32_t>(i);
    std::shuffle(order_.begin(), order_.end(), state_.rng);
    // Augmentation and dropout draw from per-sample / per-batch generators
    // seeded from this, so threads never change the result.
    const uint64_t epoch_seed = state_.rng();
    double loss_sum = 0;
    loader_.Prefetch(order_.data(), BatchSize(0), epoch_seed, 0);
    for (size_t first = 0; first < n_train_; first += config_.batch) {
      const Eigen::Index n = BatchSize(first);
      FillBatch(n);
      const size_t next = first + config_.batch;
      if (next < n_train_) loader_.Prefetch(order_.data() + next, BatchSize(next), epoch_seed, next);
      DrawDropoutMasks(epoch_seed, first, n);
      Forward(n);
      loss_sum += LossAndOutputDelta(first, n);
      Backward(n);
      Update(LearningRate(state_.step));
      Constrain();
      ++state_.step;
      if (hooks.on_progress) hooks.on_progress(static_cast<double>(first + n) / n_train_);
    }
    rec.train_loss = loss_sum / static_cast<double>(n_train_);
    if (!std::isfinite(rec.train_loss)) {
      throw InputError("training diverged at epoch " + std::to_string(rec.epoch) +
                       " (loss is not finite): lower --lr");
    }
    rec.val_accuracy = ValidationAccuracy();
    rec.seconds = Seconds(start);
    ++state_.epochs_done;
    if (rec.val_accuracy > state_.best_accuracy) {
      state_.best_accuracy = rec.val_accuracy;
      state_.best = Evaluated();
      state_.best_epoch = rec.epoch;
    }
    state_.history.push_back(rec);
    return rec;
  }

  size_t n_train() const { return n_train_; }

 private:
  float LearningRate(long step) const {
    if (config_.schedule == Schedule::kConstant || total_steps_ <= 1) return base_lr_;
    const double progress = static_cast<double>(step) / static_cast<double>(total_steps_);
    if (config_.schedule == Schedule::kOneCycle) return OneCycleLr(base_lr_, progress);
    return static_cast<float>(base_lr_ * 0.5 * (1.0 + std::cos(M_PI * progress)));
  }

  Eigen::Index BatchSize(size_t first) const {
    return static_cast<Eigen::Index>(std::min<size_t>(config_.batch, n_train_ - first));
  }

  // The model that is validated and kept as the best: the EMA when enabled.
  const FloatModel& Evaluated() const {
    return config_.ema_decay > 0 ? state_.ema : state_.model;
  }

  // The prefetched (augmented) pixels, mapped to the model's input.
  void FillBatch(Eigen::Index n) {
    const Matrix& pixels = loader_.Take();
    const FloatModel& m = state_.model;
    act_[0].leftCols(n) = (pixels.leftCols(n).array() * m.input_scale + m.input_offset).matrix();
  }

  void DrawDropoutMasks(uint64_t epoch_seed, size_t first, Eigen::Index n) {
    for (size_t k = 0; k < mask_.size(); ++k) {
      if (mask_[k].size() == 0) continue;
      const float rate = k == 0 ? config_.input_dropout : config_.hidden_dropout;
      FillDropoutMask(rate, SampleSeed(epoch_seed + 1 + k, first), mask_[k].leftCols(n));
    }
  }

  // Max-norm on every layer, then the weight EMA, after each update.
  void Constrain() {
    for (DenseLayer& l : state_.model.layers) {
      if (config_.max_norm > 0) ClipMaxNorm(config_.max_norm, &l.weights);
    }
    if (config_.ema_decay > 0) {
      UpdateEma(state_.model, EmaDecay(config_.ema_decay, state_.step), &state_.ema);
    }
  }

  void Forward(Eigen::Index n) {
    for (size_t i = 0; i < state_.model.layers.size(); ++i) {
      const DenseLayer& l = state_.model.layers[i];
      if (mask_[i].size() > 0) act_[i].leftCols(n).array() *= mask_[i].leftCols(n).array();
      auto z = act_[i + 1].leftCols(n);
      z.noalias() = l.weights * act_[i].leftCols(n);
      z.colwise() += l.bias;
      if (l.activation == Activation::kRelu) z = z.cwiseMax(0.0f);
    }
  }

  // Softmax cross-entropy (label-smoothed when configured) over the batch;
  // leaves dLoss/dlogits (mean over the batch) in the last delta and
  // returns the summed loss.
  double LossAndOutputDelta(size_t first, Eigen::Index n) {
    const size_t last = state_.model.layers.size() - 1;
    auto logits = act_[last + 1].leftCols(n);
    auto d_out = delta_[last].leftCols(n);
    const int classes = static_cast<int>(logits.rows());
    double loss = 0;
    for (Eigen::Index c = 0; c < n; ++c) {
      loss += SmoothedCrossEntropy(&logits(0, c), classes, data_.labels[order_[first + c]],
                                   config_.label_smoothing, &d_out(0, c));
    }
    d_out /= static_cast<float>(n);
    return loss;
  }

  void Backward(Eigen::Index n) {
    for (size_t i = state_.model.layers.size(); i-- > 0;) {
      const DenseLayer& l = state_.model.layers[i];
      auto d = delta_[i].leftCols(n);
      grad_w_[i].noalias() = d * act_[i].leftCols(n).transpose();
      grad_b_[i] = d.rowwise().sum();
      if (config_.l2 > 0) grad_w_[i] += config_.l2 * l.weights;
      if (i > 0) {
        auto prev = delta_[i - 1].leftCols(n);
        prev.noalias() = l.weights.transpose() * d;
        // ReLU derivative: where the previous layer's output is positive
        // (dropped units are 0 there); kept units carry the dropout scale.
        prev = (act_[i].leftCols(n).array() > 0.0f).select(prev, 0.0f);
        if (mask_[i].size() > 0) prev.array() *= mask_[i].leftCols(n).array();
      }
    }
  }

  void Update(float lr) {
    const long t = state_.step + 1;
    for (size_t i = 0; i < state_.model.layers.size(); ++i) {
      DenseLayer& l = state_.model.layers[i];
      OptimizerSlot& s = state_.slots[i];
      switch (config_.optimizer) {
        case Optimizer::kSgd:
          l.weights -= lr * grad_w_[i];
          l.bias -= lr * grad_b_[i];
          break;
        case Optimizer::kMomentum:
          s.w1 = config_.momentum * s.w1 + grad_w_[i];
          s.b1 = config_.momentum * s.b1 + grad_b_[i];
          l.weights -= lr * s.w1;
          l.bias -= lr * s.b1;
          break;
        case Optimizer::kAdam: {
          constexpr float kB1 = 0.9f, kB2 = 0.999f, kEps = 1e-8f;
          const float c1 = 1.0f - std::pow(kB1, static_cast<float>(t));
          const float c2 = 1.0f - std::pow(kB2, static_cast<float>(t));
          const float a = lr * std::sqrt(c2) / c1;
          s.w1 = kB1 * s.w1 + (1 - kB1) * grad_w_[i];
          s.w2 = kB2 * s.w2 + (1 - kB2) * grad_w_[i].cwiseAbs2();
          s.b1 = kB1 * s.b1 + (1 - kB1) * grad_b_[i];
          s.b2 = kB2 * s.b2 + (1 - kB2) * grad_b_[i].cwiseAbs2();
          l.weights.array() -= a * s.w1.array() / (s.w2.array().sqrt() + kEps);
          l.bias.array() -= a * s.b1.array() / (s.b2.array().sqrt() + kEps);
          break;
        }
      }
    }
  }

  double ValidationAccuracy() const {
    const std::vector<uint8_t> val = PredictFloat(Evaluated(), data_, n_train_, data_.size());
    size_t correct = 0;
    for (size_t i = 0; i < val.size(); ++i) correct += val[i] == data_.labels[n_train_ + i];
    return static_cast<double>(correct) / static_cast<double>(val.size());
  }

  const Dataset& data_;
  const TrainConfig& config_;
  TrainState& state_;
  const size_t n_train_;
  const float base_lr_;
  const long total_steps_;
  BatchLoader loader_;
  std::vector<Matrix> act_;    // act_[0]: input batch; act_[i+1]: layer i out
  std::vector<Matrix> mask_;   // dropout multipliers of act_[k]; empty if off
  std::vector<Matrix> delta_;  // dLoss/dZ of layer i
  std::vector<Matrix> grad_w_;
  std::vector<Vector> grad_b_;
  std::vector<uint32_t> order_;
};

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
    const Matrix logits = Forward(model, ImagesToInput(model, data.images.image(i), n));
    for (Eigen::Index c = 0; c < logits.cols(); ++c) {
      Eigen::Index best;
      logits.col(c).maxCoeff(&best);
      predictions.push_back(static_cast<uint8_t>(best));
    }
    if (logits_out) logits_out->middleCols(i - begin, n) = logits;
  }
  return predictions;
}

void Calibrate(FloatModel* model, const Dataset& data, size_t begin, size_t count) {
  std::vector<Matrix> hidden;
  const Matrix logits =
      Forward(*model, ImagesToInput(*model, data.images.image(begin), count), &hidden);
  for (size_t i = 0; i < hidden.size(); ++i) model->layers[i].calib_max = hidden[i].maxCoeff();
  model->layers.back().calib_max = logits.cwiseAbs().maxCoeff();
}

bool StopEarly(const TrainState& state, int patience) {
  return patience > 0 && state.epochs_done - state.best_epoch >= patience;
}

TrainResult Train(const Dataset& train, const TrainConfig& config, const TrainHooks& hooks,
                  TrainState* resume) {
  const auto start = Clock::now();
  CheckConfig(train, config);
  TrainResult result;
  result.threads = config.threads > 0
                       ? config.threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Eigen::setNbThreads(result.threads);

  TrainState fresh;
  TrainState& state = resume ? *resume : fresh;
  if (!resume) {
    state.rng.seed(config.seed);
    state.model.input_rows = train.images.rows;
    state.model.input_cols = train.images.cols;
    HeInit(&state.model, config.arch, &state.rng);
    for (const DenseLayer& l : state.model.layers) {
      OptimizerSlot s;
      s.w1 = Matrix::Zero(l.weights.rows(), l.weights.cols());
      s.w2 = s.w1;
      s.b1 = Vector::Zero(l.bias.size());
      s.b2 = s.b1;
      state.slots.push_back(std::move(s));
    }
  }
  if (config.ema_decay > 0 && state.ema.layers.empty()) state.ema = state.model;
  Trainer trainer(train, config, &state);
  while (state.epochs_done < config.epochs) {
    const EpochRecord rec = trainer.RunEpoch(hooks);
    if (hooks.on_epoch) hooks.on_epoch(rec);
    if (hooks.after_epoch && !hooks.after_epoch(state)) break;
    if (StopEarly(state, config.early_stop)) break;
  }
  // Calibrate activation ranges on held-out training images (never test).
  result.model = state.best;
  Calibrate(&result.model, train, trainer.n_train(), std::min<size_t>(config.val_count, 2000));
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.seconds = Seconds(start);
  return result;
}

}  // namespace edgemlp
