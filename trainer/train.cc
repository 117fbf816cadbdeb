#include "train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "error.h"
#include "qat.h"
#include "quantize.h"
#include "regularize.h"

namespace edgemlp {

float DefaultLr(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::kSgd: return 0.1f;
    case Optimizer::kGd: return 0.5f;
    case Optimizer::kMomentum: return 0.05f;
    case Optimizer::kNesterov: return 0.05f;
    case Optimizer::kAdam: return 1e-3f;
    case Optimizer::kAdamW: return 1e-3f;
  }
  return 1e-3f;
}

namespace {

const char* OrUnknown(const char* name) { return name ? name : "?"; }

}  // namespace

const char* OptimizerName(Optimizer o) { return OrUnknown(NameIn(kOptimizerNames, o)); }
const char* ScheduleName(Schedule s) { return OrUnknown(NameIn(kScheduleNames, s)); }
const char* InitName(Init init) { return OrUnknown(NameIn(kInitNames, init)); }
const char* InputScalingName(InputScaling i) { return OrUnknown(NameIn(kInputScalingNames, i)); }
const char* LossName(OutputLoss loss) { return OrUnknown(NameIn(kLossNames, loss)); }

WeightType QatScheme(const TrainConfig& config, size_t layer) {
  if (config.qat.empty()) return WeightType::kF32;
  return config.qat[std::min(layer, config.qat.size() - 1)];
}

FloatModel QatQuantizedModel(const FloatModel& model, const TrainConfig& config) {
  return FakeQuantizeModel(model, [&](size_t i) { return QatScheme(config, i); });
}

void ValidateConfig(const TrainConfig& config) {
  const std::vector<uint32_t>& arch = config.arch;
  if (arch.size() < 2 || arch.size() > kMaxLayers + 1) {
    throw InputError("--arch has " + std::to_string(arch.size()) + " sizes (expected 2.." +
                     std::to_string(kMaxLayers + 1) + ": input, hidden layers, output)");
  }
  for (uint32_t n : arch) {
    if (n == 0 || n > kMaxLayerWidth) {
      throw InputError("--arch layer size " + std::to_string(n) + " (expected 1.." +
                       std::to_string(kMaxLayerWidth) + ")");
    }
  }
  if (config.epochs < 1 || config.epochs > kMaxEpochs || config.batch < 0) {
    throw InputError("--epochs must be 1.." + std::to_string(kMaxEpochs) +
                     " and --batch >= 1 (or full)");
  }
  if (config.threads < 0 || config.early_stop < 0 || config.step_epochs < 0 ||
      config.warmup_epochs < 0) {
    throw InputError("--threads, --early-stop, --step-epochs and --warmup-epochs must be >= 0");
  }
  if (!NameIn(kOptimizerNames, config.optimizer) || !NameIn(kScheduleNames, config.schedule) ||
      !NameIn(kLossNames, config.loss) || !NameIn(kInitNames, config.init) ||
      !NameIn(kInputScalingNames, config.input)) {
    throw InputError("unknown optimizer, schedule, loss, init or input scaling");
  }
  for (float f : {config.learning_rate, config.l2, config.l2_lambda, config.weight_decay,
                  config.augment.shift, config.augment.rotate, config.augment.scale,
                  config.augment.shear, config.augment.elastic_alpha,
                  config.augment.elastic_sigma, config.input_dropout, config.hidden_dropout,
                  config.max_norm, config.label_smoothing, config.ema_decay}) {
    if (!(f >= 0 && std::isfinite(f))) {
      throw InputError("--lr, L2, weight decay, augmentation, dropout, --max-norm, "
                       "--label-smoothing and --ema must be finite and >= 0");
    }
  }
  for (float f : {config.momentum, config.step_gamma, config.init_low, config.init_high}) {
    if (!std::isfinite(f)) {
      throw InputError("--momentum, --step-gamma and --init bounds must be finite");
    }
  }
  if (!(config.input_dropout < 1 && config.hidden_dropout < 1)) {
    throw InputError("--input-dropout and --dropout must be in [0, 1)");
  }
  if (!(config.label_smoothing < 1 && config.ema_decay < 1)) {
    throw InputError("--label-smoothing and --ema must be in [0, 1)");
  }
  if (config.label_smoothing > 0 && config.loss != OutputLoss::kSoftmaxCe) {
    throw InputError("--label-smoothing applies to the softmax cross-entropy loss");
  }
  if (!config.activations.empty() && config.activations.size() != 1 &&
      config.activations.size() + 2 != arch.size()) {
    throw InputError("--activation lists " + std::to_string(config.activations.size()) +
                     " activations but --arch has " + std::to_string(arch.size() - 2) +
                     " hidden layers (give one for all, or one per hidden layer)");
  }
  for (Activation a : config.activations) {
    if (a != Activation::kNone && !NameIn(kHiddenActivationNames, a)) {
      throw InputError("unknown hidden activation " + std::to_string(static_cast<int>(a)));
    }
  }
  if (config.schedule == Schedule::kStep && config.step_epochs < 1) {
    throw InputError("--schedule step needs --step-epochs N (N >= 1)");
  }
  if (config.init == Init::kUniform && !(config.init_low < config.init_high)) {
    throw InputError("--init uniform:A,B needs A < B");
  }
  if (config.downsample > kMaxDownsample) {
    throw InputError("--downsample " + std::to_string(config.downsample) + " (expected 1.." +
                     std::to_string(kMaxDownsample) + ", or 0 for none)");
  }
  if (!config.qat.empty() && config.qat.size() != 1 && config.qat.size() + 1 != arch.size()) {
    throw InputError("--qat lists " + std::to_string(config.qat.size()) +
                     " schemes but --arch has " + std::to_string(arch.size() - 1) +
                     " layers (give one for all, or one per layer)");
  }
  for (WeightType t : config.qat) {
    if (t != WeightType::kI8 && t != WeightType::kI16 && t != WeightType::kI4) {
      throw InputError("--qat: unknown scheme " + std::to_string(static_cast<int>(t)) +
                       " (expected int8, int16 or int4)");
    }
  }
  if (config.qat_from < 1 || config.qat_from > kMaxEpochs) {
    throw InputError("--qat-from must be an epoch 1.." + std::to_string(kMaxEpochs));
  }
}

FloatInputTransform DownsampleTransform(const TrainConfig& config, uint32_t rows,
                                        uint32_t cols) {
  FloatInputTransform t;
  if (config.downsample == 0) return t;
  if (config.downsample > rows || config.downsample > cols) {
    throw InputError("--downsample " + std::to_string(config.downsample) + ": the images are " +
                     std::to_string(rows) + "x" + std::to_string(cols) +
                     " (area downsampling only shrinks)");
  }
  t.kind = InputTransformKind::kArea;
  t.in_rows = rows;
  t.in_cols = cols;
  t.out_rows = t.out_cols = config.downsample;
  return t;
}

size_t EffectiveBatch(const TrainConfig& config, size_t n_train) {
  if (config.optimizer == Optimizer::kGd || config.batch <= 0) return n_train;
  return std::min<size_t>(static_cast<size_t>(config.batch), n_train);
}

double L2Coefficient(const TrainConfig& config, size_t n_train) {
  return config.l2 + config.l2_lambda / static_cast<double>(n_train);
}

namespace {

using Matrix = Eigen::MatrixXf;
using Vector = Eigen::VectorXf;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

Activation HiddenActivation(const TrainConfig& config, size_t layer) {
  if (config.activations.empty()) return Activation::kRelu;
  return config.activations[std::min(layer, config.activations.size() - 1)];
}

void InitWeights(FloatModel* model, const TrainConfig& config, std::mt19937_64* rng) {
  const std::vector<uint32_t>& arch = config.arch;
  model->layers.clear();
  for (size_t i = 0; i + 1 < arch.size(); ++i) {
    DenseLayer l;
    const float fan_in = static_cast<float>(arch[i]), fan_out = static_cast<float>(arch[i + 1]);
    std::normal_distribution<float> he(0.0f, std::sqrt(2.0f / fan_in));
    const float glorot = std::sqrt(6.0f / (fan_in + fan_out));
    std::uniform_real_distribution<float> xavier(-glorot, glorot);
    std::uniform_real_distribution<float> uniform(config.init_low, config.init_high);
    l.weights.resize(arch[i + 1], arch[i]);
    for (Eigen::Index c = 0; c < l.weights.cols(); ++c) {
      for (Eigen::Index r = 0; r < l.weights.rows(); ++r) {
        switch (config.init) {
          case Init::kHe: l.weights(r, c) = he(*rng); break;
          case Init::kXavier: l.weights(r, c) = xavier(*rng); break;
          case Init::kUniform: l.weights(r, c) = uniform(*rng); break;
        }
      }
    }
    l.bias = Vector::Zero(arch[i + 1]);
    l.activation = i + 2 == arch.size() ? Activation::kNone : HiddenActivation(config, i);
    model->layers.push_back(std::move(l));
  }
}

// Output biases that make the untrained net predict the class frequencies.
void SetBiasToPrior(FloatModel* model, const Dataset& data, size_t n_train, OutputLoss loss) {
  Vector& bias = model->layers.back().bias;
  std::vector<double> count(bias.size(), 0.5);  // +0.5: no log(0)
  for (size_t i = 0; i < n_train; ++i) count[data.labels[i]] += 1;
  for (Eigen::Index k = 0; k < bias.size(); ++k) {
    const double p = count[k] / (static_cast<double>(n_train) + 0.5 * bias.size());
    bias[k] = static_cast<float>(loss == OutputLoss::kSoftmaxCe ? std::log(p)
                                                                : std::log(p / (1 - p)));
  }
}

void SetInputScaling(FloatModel* model, const Dataset& data, size_t n_train, InputScaling input) {
  switch (input) {
    case InputScaling::kUnit:
      model->input_scale = 1.0f / 255.0f;
      model->input_offset = 0.0f;
      break;
    case InputScaling::kSymmetric:
      model->input_scale = 2.0f / 255.0f;
      model->input_offset = -1.0f;
      break;
    case InputScaling::kStandardize: {
      double sum = 0, sum_sq = 0;
      const size_t n = n_train * data.images.image_size();
      for (size_t i = 0; i < n; ++i) {
        const double p = data.images.pixels[i] / 255.0;
        sum += p;
        sum_sq += p * p;
      }
      const double mean = sum / n, std_dev = std::sqrt(std::max(sum_sq / n - mean * mean, 1e-12));
      model->input_scale = static_cast<float>(1.0 / (255.0 * std_dev));
      model->input_offset = static_cast<float>(-mean / std_dev);
      break;
    }
  }
}

std::string ArchString(const std::vector<uint32_t>& arch) {
  std::string s;
  for (uint32_t n : arch) s += (s.empty() ? "" : "-") + std::to_string(n);
  return s;
}

void CheckConfig(const Dataset& train, const TrainConfig& config) {
  ValidateConfig(config);
  const std::vector<uint32_t>& arch = config.arch;
  const FloatInputTransform area = DownsampleTransform(config, train.images.rows, train.images.cols);
  const size_t inputs =
      config.downsample > 0 ? area.View().out_size : train.images.image_size();
  if (arch.front() != inputs || arch.back() != train.classes) {
    throw InputError("--arch " + ArchString(arch) + " takes " + std::to_string(arch.front()) +
                     " inputs and gives " + std::to_string(arch.back()) +
                     " outputs but the data has " + std::to_string(inputs) +
                     (config.downsample > 0 ? " inputs after --downsample" : " inputs") +
                     " and " + std::to_string(train.classes) + " classes (e.g. --arch " +
                     std::to_string(inputs) + "-...-" + std::to_string(train.classes) + ")");
  }
  if (train.size() <= config.val_count + 1) {
    throw InputError("the training set has " + std::to_string(train.size()) +
                     " images, too few to hold out " + std::to_string(config.val_count) +
                     " for validation");
  }
}

double RegLoss(const FloatModel& model, float l2) {
  double sum = 0;
  for (const DenseLayer& l : model.layers) sum += l.weights.squaredNorm();
  return 0.5 * l2 * sum;
}

// One training run: the state it advances plus buffers sized once for a full
// batch (a partial last batch uses leftCols(n)), so nothing is allocated per
// sample or per batch.
class Trainer {
 public:
  Trainer(const Dataset& data, const TrainConfig& config, TrainState* state)
      : data_(data), config_(config), state_(*state),
        n_train_(data.size() - config.val_count),
        batch_(static_cast<Eigen::Index>(EffectiveBatch(config, n_train_))),
        base_lr_(config.learning_rate > 0 ? config.learning_rate : DefaultLr(config.optimizer)),
        l2_(static_cast<float>(L2Coefficient(config, n_train_))),
        steps_per_epoch_(static_cast<long>((n_train_ + batch_ - 1) / batch_)),
        total_steps_(steps_per_epoch_ * config.epochs),
        loader_(data.images, config.augment, static_cast<int>(batch_), Eigen::nbThreads(),
                state->model.input_transform.View()) {
    const std::vector<uint32_t>& arch = config.arch;
    act_.emplace_back(arch[0], batch_);
    // mask_[k] multiplies act_[k]: the input, then each hidden layer.
    for (size_t k = 0; k + 1 < arch.size(); ++k) {
      const float rate = k == 0 ? config.input_dropout : config.hidden_dropout;
      mask_.push_back(rate > 0 ? Matrix(arch[k], batch_) : Matrix());
    }
    for (size_t i = 0; i + 1 < arch.size(); ++i) {
      act_.emplace_back(arch[i + 1], batch_);
      delta_.emplace_back(arch[i + 1], batch_);
      grad_w_.emplace_back(arch[i + 1], arch[i]);
      grad_b_.emplace_back(arch[i + 1]);
      before_w_.emplace_back(arch[i + 1], arch[i]);
    }
    order_.resize(n_train_);
  }

  EpochRecord RunEpoch(const TrainHooks& hooks) {
    const auto start = Clock::now();
    const size_t n_layers = state_.model.layers.size();
    EpochRecord rec;
    rec.epoch = state_.epochs_done + 1;
    rec.learning_rate = LearningRate(state_.step);
    rec.reg_loss = RegLoss(state_.model, l2_);
    rec.update_ratio.assign(n_layers, 0.0);
    rec.grad_norm.assign(n_layers, 0.0);
    // The order is rebuilt before each shuffle so an epoch depends only on
    // the RNG state, which is what a checkpoint saves.
    for (size_t i = 0; i < n_train_; ++i) order_[i] = static_cast<uint32_t>(i);
    std::shuffle(order_.begin(), order_.end(), state_.rng);
    // Augmentation and dropout draw from per-sample / per-batch generators
    // seeded from this, so threads never change the result.
    const uint64_t epoch_seed = state_.rng();
    double loss_sum = 0;
    correct_ = 0;
    qat_ = !config_.qat.empty() && rec.epoch >= config_.qat_from;
    if (qat_) FakeQuantize(state_.model, &weights_q_);
    loader_.Prefetch(order_.data(), BatchSize(0), epoch_seed, 0);
    for (size_t first = 0; first < n_train_; first += batch_) {
      const Eigen::Index n = BatchSize(first);
      FillBatch(n);
      const size_t next = first + batch_;
      if (next < n_train_) loader_.Prefetch(order_.data() + next, BatchSize(next), epoch_seed, next);
      DrawDropoutMasks(epoch_seed, first, n);
      Forward(n);
      loss_sum += LossAndOutputDelta(first, n);
      Backward(n);
      for (size_t i = 0; i < n_layers; ++i) rec.grad_norm[i] += grad_w_[i].norm();
      AddL2Gradient();
      Update(LearningRate(state_.step), &rec.update_ratio);
      Constrain();
      if (qat_) FakeQuantize(state_.model, &weights_q_);
      ++state_.step;
      if (hooks.on_progress) hooks.on_progress(static_cast<double>(first + n) / n_train_);
    }
    for (size_t i = 0; i < n_layers; ++i) {
      rec.update_ratio[i] /= static_cast<double>(steps_per_epoch_);
      rec.grad_norm[i] /= static_cast<double>(steps_per_epoch_);
    }
    rec.train_loss = loss_sum / static_cast<double>(n_train_);
    rec.train_accuracy = static_cast<double>(correct_) / static_cast<double>(n_train_);
    if (!std::isfinite(rec.train_loss)) {
      throw InputError("training diverged at epoch " + std::to_string(rec.epoch) +
                       " (loss is not finite): lower --lr");
    }
    Validate(&rec);
    rec.seconds = Seconds(start);
    ++state_.epochs_done;
    // On a small validation split accuracy is coarse and ties are common
    // (several epochs at 100%): the lower validation loss breaks them.
    const bool tie_better = config_.val_count < kCoarseValidation &&
                            rec.val_accuracy == state_.best_accuracy && state_.best_epoch > 0 &&
                            rec.val_loss < state_.history[state_.best_epoch - 1].val_loss;
    if (rec.val_accuracy > state_.best_accuracy || tie_better) {
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
    const double epoch = static_cast<double>(step) / static_cast<double>(steps_per_epoch_);
    double lr = base_lr_;
    if (config_.schedule == Schedule::kOneCycle && total_steps_ > 1) {
      lr = OneCycleLr(base_lr_, static_cast<double>(step) / total_steps_);
    } else if (config_.schedule == Schedule::kCosine && total_steps_ > 1) {
      lr *= 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / total_steps_));
    } else if (config_.schedule == Schedule::kStep && config_.step_epochs > 0) {
      lr *= std::pow(config_.step_gamma, std::floor(epoch / config_.step_epochs));
    }
    if (epoch < config_.warmup_epochs) lr *= 0.1 + 0.9 * epoch / config_.warmup_epochs;
    return static_cast<float>(lr);
  }

  Eigen::Index BatchSize(size_t first) const {
    return static_cast<Eigen::Index>(std::min<size_t>(batch_, n_train_ - first));
  }

  // The model that is validated and kept as the best: the EMA when enabled.
  const FloatModel& Evaluated() const {
    return config_.ema_decay > 0 ? state_.ema : state_.model;
  }

  // The weights `export` will store, dequantized, per layer (QAT).
  void FakeQuantize(const FloatModel& model, std::vector<Matrix>* out) const {
    out->resize(model.layers.size());
    for (size_t i = 0; i < model.layers.size(); ++i) {
      (*out)[i] = FakeQuantizeLayer(model, i, QatScheme(config_, i));
    }
  }

  // The weights the forward and backward passes use: fake-quantized under QAT.
  const Matrix& ForwardWeights(size_t i) const {
    return qat_ ? weights_q_[i] : state_.model.layers[i].weights;
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
      z.noalias() = ForwardWeights(i) * act_[i].leftCols(n);
      z.colwise() += l.bias;
      ApplyActivation(l.activation, &z);
    }
  }

  // The configured loss over the batch; leaves dLoss/dlogits (mean over the
  // batch) in the last delta, counts correct predictions, returns the sum.
  double LossAndOutputDelta(size_t first, Eigen::Index n) {
    const size_t last = state_.model.layers.size() - 1;
    const auto logits = act_[last + 1].leftCols(n);
    auto d_out = delta_[last].leftCols(n);
    const auto label = [&](Eigen::Index c) { return data_.labels[order_[first + c]]; };
    for (Eigen::Index c = 0; c < n; ++c) {
      Eigen::Index best;
      logits.col(c).maxCoeff(&best);
      correct_ += best == label(c);
    }
    double loss = 0;
    if (config_.label_smoothing > 0) {  // softmax cross-entropy only (CheckConfig)
      const int classes = static_cast<int>(logits.rows());
      for (Eigen::Index c = 0; c < n; ++c) {
        loss += SmoothedCrossEntropy(&logits(0, c), classes, label(c), config_.label_smoothing,
                                     &d_out(0, c));
      }
    } else {
      loss = LossAndDelta(config_.loss, logits, label, &d_out);
    }
    d_out /= static_cast<float>(n);
    return loss;
  }

  void Backward(Eigen::Index n) {
    for (size_t i = state_.model.layers.size(); i-- > 0;) {
      auto d = delta_[i].leftCols(n);
      grad_w_[i].noalias() = d * act_[i].leftCols(n).transpose();
      grad_b_[i] = d.rowwise().sum();
      if (i > 0) {
        auto prev = delta_[i - 1].leftCols(n);
        // Under QAT through the quantized weights; the gradient reaches
        // the float weights unchanged (straight-through estimator).
        prev.noalias() = ForwardWeights(i).transpose() * d;
        MultiplyByDerivative(state_.model.layers[i - 1].activation, act_[i].leftCols(n), &prev);
        // Dropped units get no gradient; kept ones carry the dropout scale.
        if (mask_[i].size() > 0) prev.array() *= mask_[i].leftCols(n).array();
      }
    }
  }

  // The gradient of (l2_/2)*|W|^2 (weights only).
  void AddL2Gradient() {
    if (l2_ <= 0) return;
    for (size_t i = 0; i < grad_w_.size(); ++i) grad_w_[i] += l2_ * state_.model.layers[i].weights;
  }

  // Applies one optimizer step; adds each layer's |dW|/|W| to `ratios`.
  void Update(float lr, std::vector<double>* ratios) {
    const long t = state_.step + 1;
    const float decay = config_.weight_decay > 0 ? config_.weight_decay
                        : config_.optimizer == Optimizer::kAdamW ? 0.01f : 0.0f;
    for (size_t i = 0; i < state_.model.layers.size(); ++i) {
      DenseLayer& l = state_.model.layers[i];
      OptimizerSlot& s = state_.slots[i];
      before_w_[i] = l.weights;
      switch (config_.optimizer) {
        case Optimizer::kSgd:
        case Optimizer::kGd:
          l.weights -= lr * grad_w_[i];
          l.bias -= lr * grad_b_[i];
          break;
        case Optimizer::kMomentum:
        case Optimizer::kNesterov: {
          s.w1 = config_.momentum * s.w1 + grad_w_[i];
          s.b1 = config_.momentum * s.b1 + grad_b_[i];
          if (config_.optimizer == Optimizer::kNesterov) {  // look ahead: g + mu*v
            l.weights -= lr * (grad_w_[i] + config_.momentum * s.w1);
            l.bias -= lr * (grad_b_[i] + config_.momentum * s.b1);
          } else {
            l.weights -= lr * s.w1;
            l.bias -= lr * s.b1;
          }
          break;
        }
        case Optimizer::kAdam:
        case Optimizer::kAdamW: {
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
      if (decay > 0) l.weights -= (lr * decay) * before_w_[i];
      const double norm = before_w_[i].norm();
      (*ratios)[i] += norm > 0 ? (l.weights - before_w_[i]).norm() / norm : 0.0;
    }
  }

  // Accuracy and mean data loss of the evaluated model on the held-out split.
  // With --qat always through the weights quantized as export will, also in
  // the float epochs before --qat-from: the best epoch is the best model
  // that export can write.
  void Validate(EpochRecord* rec) const {
    const bool quantize = !config_.qat.empty();
    const FloatModel quantized = quantize ? QatQuantizedModel(Evaluated(), config_) : FloatModel();
    Matrix logits;
    const std::vector<uint8_t> val = PredictFloat(quantize ? quantized : Evaluated(), data_,
                                                  n_train_, data_.size(), &logits);
    size_t correct = 0;
    for (size_t i = 0; i < val.size(); ++i) correct += val[i] == data_.labels[n_train_ + i];
    rec->val_accuracy = static_cast<double>(correct) / static_cast<double>(val.size());
    Matrix delta(logits.rows(), logits.cols());
    const auto label = [&](Eigen::Index c) { return data_.labels[n_train_ + c]; };
    rec->val_loss =
        LossAndDelta(config_.loss, logits, label, &delta) / static_cast<double>(val.size());
  }

  const Dataset& data_;
  const TrainConfig& config_;
  TrainState& state_;
  const size_t n_train_;
  const Eigen::Index batch_;
  const float base_lr_;
  const float l2_;
  const long steps_per_epoch_;
  const long total_steps_;
  BatchLoader loader_;
  std::vector<Matrix> act_;    // act_[0]: input batch; act_[i+1]: layer i out
  std::vector<Matrix> mask_;   // dropout multipliers of act_[k]; empty if off
  std::vector<Matrix> delta_;  // dLoss/dZ of layer i
  std::vector<Matrix> grad_w_;
  std::vector<Vector> grad_b_;
  std::vector<Matrix> before_w_;  // weights before the step (update ratios)
  std::vector<uint32_t> order_;
  size_t correct_ = 0;
  bool qat_ = false;                     // this epoch trains through quantized weights
  std::vector<Matrix> weights_q_;        // the model's weights, fake-quantized
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

TrainState InitialState(const Dataset& train, const TrainConfig& config) {
  CheckConfig(train, config);
  const size_t n_train = train.size() - config.val_count;
  TrainState state;
  state.rng.seed(config.seed);
  state.model.input_rows = train.images.rows;
  state.model.input_cols = train.images.cols;
  state.model.input_transform = DownsampleTransform(config, train.images.rows, train.images.cols);
  SetInputScaling(&state.model, train, n_train, config.input);
  InitWeights(&state.model, config, &state.rng);
  if (config.bias_prior) SetBiasToPrior(&state.model, train, n_train, config.loss);
  for (const DenseLayer& l : state.model.layers) {
    OptimizerSlot s;
    s.w1 = Matrix::Zero(l.weights.rows(), l.weights.cols());
    s.w2 = s.w1;
    s.b1 = Vector::Zero(l.bias.size());
    s.b2 = s.b1;
    state.slots.push_back(std::move(s));
  }
  return state;
}

double Cost(const FloatModel& model, const Dataset& data, size_t begin, size_t end,
            const TrainConfig& config, size_t n_train, double* data_loss) {
  constexpr size_t kChunk = 2000;
  double loss = 0;
  for (size_t i = begin; i < end; i += kChunk) {
    const size_t n = std::min(kChunk, end - i);
    const Matrix logits = Forward(model, ImagesToInput(model, data.images.image(i), n));
    Matrix delta(logits.rows(), logits.cols());
    loss += LossAndDelta(config.loss, logits,
                         [&](Eigen::Index c) { return data.labels[i + c]; }, &delta);
  }
  loss /= static_cast<double>(end - begin);
  if (data_loss) *data_loss = loss;
  return loss + RegLoss(model, static_cast<float>(L2Coefficient(config, n_train)));
}

Dataset SelectTraining(const Dataset& data, uint32_t count, uint32_t balanced,
                       uint32_t val_count) {
  if (data.size() <= val_count) {
    throw InputError("the training set has " + std::to_string(data.size()) +
                     " images, too few to hold out " + std::to_string(val_count));
  }
  const size_t pool = data.size() - val_count;
  std::vector<size_t> chosen;
  if (balanced > 0) {
    const size_t per_class = balanced / data.classes;
    std::vector<size_t> taken(data.classes, 0);
    for (size_t i = 0; i < pool && chosen.size() < per_class * data.classes; ++i) {
      if (data.labels[i] < data.classes && taken[data.labels[i]] < per_class) {
        ++taken[data.labels[i]];
        chosen.push_back(i);
      }
    }
    if (chosen.size() < per_class * data.classes || per_class == 0) {
      throw InputError("--balanced " + std::to_string(balanced) + ": the " +
                       std::to_string(pool) + " training images hold too few of some class");
    }
  } else {
    if (count > pool) {
      throw InputError("--train-count " + std::to_string(count) + " with --val-count " +
                       std::to_string(val_count) + " needs " + std::to_string(count + val_count) +
                       " training images; there are " + std::to_string(data.size()));
    }
    for (size_t i = 0; i < (count > 0 ? count : pool); ++i) chosen.push_back(i);
  }
  for (size_t i = pool; i < data.size(); ++i) chosen.push_back(i);
  Dataset out;
  out.classes = data.classes;
  out.images.rows = data.images.rows;
  out.images.cols = data.images.cols;
  out.images.count = static_cast<uint32_t>(chosen.size());
  const size_t size = data.images.image_size();
  out.images.pixels.resize(chosen.size() * size);
  for (size_t j = 0; j < chosen.size(); ++j) {
    std::copy_n(data.images.image(chosen[j]), size, out.images.pixels.data() + j * size);
    out.labels.push_back(data.labels[chosen[j]]);
  }
  return out;
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
  if (!resume) fresh = InitialState(train, config);
  TrainState& state = resume ? *resume : fresh;
  if (config.ema_decay > 0 && state.ema.layers.empty()) state.ema = state.model;
  Trainer trainer(train, config, &state);
  while (state.epochs_done < config.epochs) {
    const EpochRecord rec = trainer.RunEpoch(hooks);
    if (hooks.on_epoch) hooks.on_epoch(rec);
    if (hooks.after_epoch && !hooks.after_epoch(state)) break;
    if (StopEarly(state, config.early_stop)) break;
  }
  // Calibrate activation ranges on held-out training images (never test).
  result.final_model = state.model;
  result.model = state.best;
  Calibrate(&result.model, train, trainer.n_train(), std::min<size_t>(config.val_count, 2000));
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.seconds = Seconds(start);
  return result;
}

}  // namespace edgemlp
