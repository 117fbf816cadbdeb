// The trainer: mini-batch (or full-batch) training of MLPs with relu, sigmoid
// or tanh hidden layers and a softmax or per-output sigmoid loss, as
// matrix-matrix products (Eigen). Same seed and thread count give the
// same model bit for bit.
#ifndef EDGEMLP_TRAINER_TRAIN_H_
#define EDGEMLP_TRAINER_TRAIN_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "augment.h"
#include "backprop.h"
#include "idx.h"
#include "model.h"

namespace edgemlp {

enum class Optimizer {
  kSgd, kMomentum, kAdam,
  kGd,        // full-batch gradient descent: SGD with one batch per epoch
  kNesterov,  // Nesterov momentum
  kAdamW,     // Adam with decoupled weight decay (--weight-decay, default 0.01)
};
enum class Schedule { kConstant, kCosine, kOneCycle, kStep };
enum class Init {
  kHe,       // normal, std sqrt(2/fan_in)
  kXavier,   // uniform +-sqrt(6/(fan_in+fan_out)) (Glorot)
  kUniform,  // uniform [init_low, init_high) for every weight
};
// What a pixel p (0..255) becomes before layer 0 (FloatModel::input_scale
// and input_offset carry it; export folds it into layer 0).
enum class InputScaling {
  kUnit,         // p/255 in [0, 1]
  kSymmetric,    // 2p/255 - 1 in [-1, 1]
  kStandardize,  // (p/255 - mean) / std, mean and std of the training images
};

struct TrainConfig {
  std::vector<uint32_t> arch = {784, 256, 128, 10};
  int epochs = 15;
  uint64_t seed = 1;
  Optimizer optimizer = Optimizer::kAdam;
  float learning_rate = 0.0f;  // 0: the optimizer's default (DefaultLr)
  int batch = 128;             // 0: the whole training split (full batch)
  int threads = 0;             // 0: all cores
  float l2 = 0.0f;             // L2 penalty (l2/2)*|W|^2 on weights, not biases
  // L2 as in Ng's ex4: (l2_lambda / (2m)) * |W|^2, m = training images,
  // weights only (biases excluded).
  float l2_lambda = 0.0f;
  // Decoupled weight decay: W <- W - lr * weight_decay * W after each step
  // (weights only). AdamW uses 0.01 when this is 0.
  float weight_decay = 0.0f;
  float momentum = 0.9f;
  Schedule schedule = Schedule::kCosine;
  int step_epochs = 0;          // kStep: multiply the lr by step_gamma every N epochs
  float step_gamma = 0.1f;
  int warmup_epochs = 0;        // linear warm-up from lr/10 over these epochs
  uint32_t val_count = 5000;   // held out of the end of the training set
  // Regularisation (issue 4); all off by default.
  AugmentConfig augment;
  float input_dropout = 0.0f;    // drop rate of input pixels
  float hidden_dropout = 0.0f;   // drop rate of hidden units
  float max_norm = 0.0f;         // 0: off; else row-norm cap on every layer
  float label_smoothing = 0.0f;  // 0..1
  float ema_decay = 0.0f;        // 0: off; else validate/export the weight EMA
  int early_stop = 0;            // 0: off; else stop after this many epochs
                                 // without a better validation accuracy
  // Hidden activations: empty = relu everywhere, one = all hidden layers,
  // else one per hidden layer.
  std::vector<Activation> activations;
  OutputLoss loss = OutputLoss::kSoftmaxCe;
  Init init = Init::kHe;
  float init_low = 0.0f, init_high = 0.01f;  // Init::kUniform
  bool bias_prior = false;  // output biases start at the class prior
  InputScaling input = InputScaling::kUnit;
  // Area-downsample each image to downsample x downsample pixels before
  // layer 0 (0: off). Augmentation warps the full image first; the model
  // keeps the transform, so export, the runtime and the firmware repeat it.
  uint32_t downsample = 0;
  // Quantization-aware training: from epoch qat_from (1-based) on, every
  // forward pass uses the weights as `export` will store them in qat[i]'s
  // scheme (per-row fake quantization; gradients pass straight through to
  // the float weights), and the best epoch is chosen on those weights.
  // Empty: off; one scheme: every layer; else one per layer.
  std::vector<WeightType> qat;
  int qat_from = 1;
};

// The scheme QAT uses for layer `layer` (kF32 when QAT is off).
WeightType QatScheme(const TrainConfig& config, size_t layer);
// `model` with its weights fake-quantized in config's QAT schemes, as
// export will write them (float activations): what a --qat run validates.
FloatModel QatQuantizedModel(const FloatModel& model, const TrainConfig& config);
// Largest --downsample side.
inline constexpr uint32_t kMaxDownsample = 4096;
// The area transform config.downsample asks of rows x cols images (kind
// kNone when off); throws InputError when it would not shrink them.
FloatInputTransform DownsampleTransform(const TrainConfig& config, uint32_t rows, uint32_t cols);

// Each option value's name as the CLI spells it. The *Name functions below
// and the CLI's parsers read these tables, so a name is written once.
template <typename E>
struct Named {
  E value;
  const char* name;
};
inline constexpr Named<Optimizer> kOptimizerNames[] = {
    {Optimizer::kGd, "gd"},     {Optimizer::kSgd, "sgd"},
    {Optimizer::kMomentum, "momentum"}, {Optimizer::kNesterov, "nesterov"},
    {Optimizer::kAdam, "adam"}, {Optimizer::kAdamW, "adamw"}};
inline constexpr Named<Schedule> kScheduleNames[] = {{Schedule::kConstant, "constant"},
                                                     {Schedule::kCosine, "cosine"},
                                                     {Schedule::kOneCycle, "one-cycle"},
                                                     {Schedule::kStep, "step"}};
inline constexpr Named<Init> kInitNames[] = {
    {Init::kHe, "he"}, {Init::kXavier, "xavier"}, {Init::kUniform, "uniform"}};
inline constexpr Named<InputScaling> kInputScalingNames[] = {
    {InputScaling::kUnit, "unit"},
    {InputScaling::kSymmetric, "symmetric"},
    {InputScaling::kStandardize, "standardize"}};
inline constexpr Named<OutputLoss> kLossNames[] = {{OutputLoss::kSoftmaxCe, "softmax"},
                                                   {OutputLoss::kSigmoidBce, "sigmoid-bce"}};
// Hidden-layer activations (kNone is the output layer's).
inline constexpr Named<Activation> kHiddenActivationNames[] = {
    {Activation::kRelu, "relu"}, {Activation::kSigmoid, "sigmoid"}, {Activation::kTanh, "tanh"}};

// The table's name for `value`; nullptr if it has none (e.g. read from a
// damaged file).
template <typename E, size_t N>
constexpr const char* NameIn(const Named<E> (&table)[N], E value) {
  for (const Named<E>& n : table) {
    if (n.value == value) return n.name;
  }
  return nullptr;
}

const char* InitName(Init init);
const char* InputScalingName(InputScaling input);
const char* LossName(OutputLoss loss);
// Longest run a configuration may ask for (also bounds a checkpoint's).
inline constexpr int kMaxEpochs = 1000000;
// Every range of the configuration that needs no data, checked once here
// (Train and InitialState also check it against the data; a checkpoint's
// configuration is checked here when read). Throws InputError naming the
// option.
void ValidateConfig(const TrainConfig& config);
// Batch size actually used: the whole training split for kGd or batch 0.
size_t EffectiveBatch(const TrainConfig& config, size_t n_train);
// L2 coefficient c of the penalty (c/2)*|W|^2 on the mean loss.
double L2Coefficient(const TrainConfig& config, size_t n_train);

float DefaultLr(Optimizer optimizer);
const char* OptimizerName(Optimizer optimizer);
const char* ScheduleName(Schedule schedule);

struct EpochRecord {
  int epoch = 0;            // 1-based
  double seconds = 0;       // wall time of this epoch
  double train_loss = 0;    // mean data loss over the epoch's batches
  double reg_loss = 0;      // L2 penalty at the epoch's start (0 without L2)
  double train_accuracy = 0;  // on the epoch's batches, before each update
  double val_accuracy = 0;  // fraction 0..1 on the held-out split
  // Mean data loss on the held-out split (no label smoothing, no L2); NaN
  // for epochs read from a version-2 checkpoint, which did not record it.
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double learning_rate = 0; // at the epoch's start
  // Per layer, mean over the epoch's steps: |dW|/|W| of the applied update
  // and |dLoss/dW| of the data loss.
  std::vector<double> update_ratio;
  std::vector<double> grad_norm;
  double cost() const { return train_loss + reg_loss; }
};

// Per-layer optimizer state (momentum / Adam moments), shaped like the layer.
struct OptimizerSlot {
  Eigen::MatrixXf w1, w2;
  Eigen::VectorXf b1, b2;
};

// Everything a run needs to continue exactly where it stopped.
struct TrainState {
  FloatModel model;
  std::vector<OptimizerSlot> slots;
  std::mt19937_64 rng;
  int epochs_done = 0;
  long step = 0;  // updates done
  FloatModel ema;  // exponential moving average of `model` (ema_decay > 0)
  FloatModel best;
  double best_accuracy = -1;
  int best_epoch = 0;
  std::vector<EpochRecord> history;
};

struct TrainHooks {
  std::function<void(const EpochRecord&)> on_epoch;
  std::function<void(double)> on_progress;  // fraction of the epoch done
  // After each epoch, with the whole state; return false to stop training.
  std::function<bool(const TrainState&)> after_epoch;
};

// Validation splits smaller than this break accuracy ties between epochs by
// the lower validation loss (MNIST's 5000 images: accuracy alone).
inline constexpr uint32_t kCoarseValidation = 1000;

struct TrainResult {
  FloatModel model;  // the best epoch by validation accuracy (of the EMA
                     // when ema_decay > 0), calibrated
  FloatModel final_model;  // after the last epoch, as trained
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double seconds = 0;
  int threads = 0;
};

// A fresh state: the initialised model (input scaling from `train`'s first
// train-split images) and zeroed optimizer slots.
TrainState InitialState(const Dataset& train, const TrainConfig& config);

// The run's own cost on images [begin, end): mean data loss plus the L2
// penalty as configured. `data_loss` gets the data part if given.
double Cost(const FloatModel& model, const Dataset& data, size_t begin, size_t end,
            const TrainConfig& config, size_t n_train, double* data_loss = nullptr);

// The first `count` images of `data` (all if 0) followed by its last
// `val_count` (the validation split); with `balanced`, the first
// balanced/10 images of each class instead. Throws InputError when the
// counts do not fit.
Dataset SelectTraining(const Dataset& data, uint32_t count, uint32_t balanced,
                       uint32_t val_count);

// Throws InputError when the data does not fit the architecture. With
// `resume`, continues from that state (e.g. a checkpoint) instead of a fresh
// initialisation.
TrainResult Train(const Dataset& train, const TrainConfig& config,
                  const TrainHooks& hooks = {}, TrainState* resume = nullptr);

// Early stopping: true once `patience` (> 0) epochs passed without a better
// validation accuracy.
bool StopEarly(const TrainState& state, int patience);

// Predicted class of images [begin, end) of `data`, batched through Eigen.
std::vector<uint8_t> PredictFloat(const FloatModel& model, const Dataset& data,
                                  size_t begin, size_t end,
                                  Eigen::MatrixXf* logits_out = nullptr);

// Records each layer's largest output on `count` images starting at `begin`,
// the activation ranges the int8 quantizer needs.
void Calibrate(FloatModel* model, const Dataset& data, size_t begin,
               size_t count);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_TRAIN_H_
