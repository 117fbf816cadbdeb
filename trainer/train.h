// Trainer v1: mini-batch training of ReLU MLPs with softmax cross-entropy,
// as matrix-matrix products (Eigen). Same seed and thread count give the
// same model bit for bit.
#ifndef EDGEMLP_TRAINER_TRAIN_H_
#define EDGEMLP_TRAINER_TRAIN_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "augment.h"
#include "idx.h"
#include "model.h"

namespace edgemlp {

enum class Optimizer { kSgd, kMomentum, kAdam };
enum class Schedule { kConstant, kCosine, kOneCycle };

struct TrainConfig {
  std::vector<uint32_t> arch = {784, 256, 128, 10};
  int epochs = 15;
  uint64_t seed = 1;
  Optimizer optimizer = Optimizer::kAdam;
  float learning_rate = 0.0f;  // 0: the optimizer's default (DefaultLr)
  int batch = 128;
  int threads = 0;             // 0: all cores
  float l2 = 0.0f;             // L2 penalty (l2/2)*|W|^2 on weights, not biases
  float momentum = 0.9f;
  Schedule schedule = Schedule::kCosine;
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
};

float DefaultLr(Optimizer optimizer);
const char* OptimizerName(Optimizer optimizer);
const char* ScheduleName(Schedule schedule);

struct EpochRecord {
  int epoch = 0;            // 1-based
  double seconds = 0;       // wall time of this epoch
  double train_loss = 0;    // mean cross-entropy over the epoch's batches
  double val_accuracy = 0;  // fraction 0..1 on the held-out split
  double learning_rate = 0; // at the epoch's start
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

struct TrainResult {
  FloatModel model;  // the best epoch by validation accuracy (of the EMA
                     // when ema_decay > 0), calibrated
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double seconds = 0;
  int threads = 0;
};

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
