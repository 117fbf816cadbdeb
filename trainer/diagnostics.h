// Diagnostics: checks that explain why a run did or did not learn (see
// docs/diagnostics.md for the catalogue D0-D18 and the thresholds). Each
// check is a small function of numbers a run already has, so each can be
// tested on its own; the Diagnose* functions gather those numbers.
#ifndef EDGEMLP_TRAINER_DIAGNOSTICS_H_
#define EDGEMLP_TRAINER_DIAGNOSTICS_H_

#include <Eigen/Core>
#include <string>
#include <vector>

#include "idx.h"
#include "train.h"

namespace edgemlp {

enum class Severity { kOk = 0, kNote = 1, kWarn = 2, kFail = 3 };
const char* SeverityName(Severity severity);  // "OK", "NOTE", "WARN", "FAIL"

struct Finding {
  std::string id;  // "D3"
  Severity severity = Severity::kOk;
  double value = 0;     // the number behind the finding
  std::string message;  // one plain sentence
  std::string advice;   // what to change (empty when OK)
};

// Class frequencies of labels [begin, end).
struct ClassShares {
  std::vector<double> share;  // one entry per class, sum 1
  int majority = 0;           // most frequent class
};
ClassShares CountClasses(const std::vector<uint8_t>& labels, size_t begin, size_t end,
                         uint32_t classes);
// The loss of a model that outputs the class frequencies for every image:
// sum_k H_b(p_k) for sigmoid outputs, H(p) for softmax.
double PriorLoss(OutputLoss loss, const std::vector<double>& share);

// --- The checks. Each returns one finding. ---
// D0: class balance of the training subset and the centring of its inputs.
Finding CheckData(const ClassShares& train, double input_mean, double input_std);
// D1: loss before training vs the loss of an uninformed output.
Finding CheckInitialLoss(double loss, double expected);
// D2: per layer sign balance and scale of the initial weights, and how alike
// the first hidden layer's units respond to `probe` inputs (columns).
Finding CheckInit(const FloatModel& model, const Eigen::MatrixXf& probe);
// D3: planned weight updates.
Finding CheckUpdateBudget(long updates, size_t batch, size_t n_train);
// What D3 and doctor suggest: batch 128 and 10 epochs; under kSmallData
// training images, batch 16 and the epochs that make about 5000 updates
// with it (10..1000).
inline constexpr size_t kSmallData = 1000;
size_t BudgetBatch(size_t n_train);
size_t BudgetEpochs(size_t n_train);
// D4: the final data loss vs the prior loss (and vs `classes` equal classes).
Finding CheckPriorLoss(double data_loss, double prior_loss, OutputLoss loss, uint32_t classes);
// D5: predicted classes and output spread on held-out images (one logit row
// per class).
Finding CheckOutputCollapse(const std::vector<uint8_t>& predictions, const Eigen::MatrixXf& logits);
// D6: accuracy vs always answering the training majority class (share of
// that class in the evaluated set) and vs a nearest-class-mean classifier
// on the same images.
Finding CheckBaselines(double accuracy, int majority, double majority_share,
                       double nearest_mean_accuracy);
// D7: mean |dW|/|W| per step, per layer (median over the epochs).
Finding CheckUpdateRatios(const std::vector<double>& ratios);
// D8: mean |dLoss/dW| per layer: NaN/Inf, and first vs last layer.
Finding CheckGradientFlow(const std::vector<double>& grad_norms);
// D9: sigmoid/tanh hidden units whose slope is below a quarter of its peak.
Finding CheckSaturation(const FloatModel& model, const Eigen::MatrixXf& probe);
// D10: ReLU units that output 0 on >= 99% of `probe`.
Finding CheckDeadRelu(const FloatModel& model, const Eigen::MatrixXf& probe);
// D11: the share of each weight removed per step by L2 / weight decay, and
// the penalty vs the data loss.
Finding CheckRegularization(double per_step_decay, double reg_loss, double data_loss);
// D15: accuracy of a nearest-class-mean classifier (label sanity), against
// the share of the majority class.
Finding CheckLabels(double nearest_mean_accuracy, double majority_share);
// D16: train vs validation accuracy (high bias / high variance).
Finding CheckFit(double train_accuracy, double val_accuracy);
// D18: the narrowest hidden layer vs the number of classes (arch.back()).
Finding CheckCapacity(const std::vector<uint32_t>& arch);
// D12: largest relative error of backprop vs centred differences.
Finding CheckGradients(double max_relative_error);
// D13: accuracy after memorising `images` images (2 per class).
Finding CheckOverfitTiny(double accuracy, double loss, size_t images);
// D14: real accuracy vs the same training on blank images.
Finding CheckInputIndependent(double real_accuracy, double blank_accuracy);
// D17: learning-rate range test: the best lr found and the user's lr.
Finding CheckLrRange(double best_lr, double user_lr, bool user_lr_diverges);

// --- Gathering the numbers. `data` is the training subset followed by the
// validation split (as Train gets it). ---
// Class means of the first n_train examples of `data`; accuracy on the
// rest of `data`, or on [begin, end) of `eval`.
double NearestMeanAccuracy(const Dataset& data, size_t n_train);
double NearestMeanAccuracy(const Dataset& data, size_t n_train, const Dataset& eval,
                           size_t begin, size_t end);
// Before training: D0, D1, D2, D3, D11, D15, D18.
std::vector<Finding> DiagnoseBeforeTraining(const Dataset& data, const TrainConfig& config,
                                            const TrainState& initial);
// After training: D4-D10, D16 (D6 on `test` if given, else validation).
std::vector<Finding> DiagnoseAfterTraining(const Dataset& data, const TrainConfig& config,
                                           const TrainResult& result, const Dataset* test);
// The likely causes, most severe first, with what to change (at most `max`).
std::vector<std::string> Verdict(const std::vector<Finding>& findings, size_t max = 8);

// Largest tensor-wise relative error |g - n| / (|g| + |n|) between backprop
// and centred finite differences, in double, on a small random net with
// these hidden activations and loss (the trainer's own backprop pieces).
double GradientCheckError(const std::vector<uint32_t>& arch, Activation hidden, OutputLoss loss,
                          uint64_t seed);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_DIAGNOSTICS_H_
