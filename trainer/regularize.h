// Regularisers and schedule pieces of the trainer, as small free functions
// so each can be tested on its own: dropout masks, max-norm, label-smoothed
// cross-entropy, the weight EMA and the one-cycle learning rate.
#ifndef EDGEMLP_TRAINER_REGULARIZE_H_
#define EDGEMLP_TRAINER_REGULARIZE_H_

#include <Eigen/Core>
#include <cstdint>

#include "model.h"

namespace edgemlp {

// Inverted dropout: each entry is 0 with probability `rate`, else
// 1 / (1 - rate), so the expected activation is unchanged and evaluation
// needs no rescaling (dropout is simply off there).
void FillDropoutMask(float rate, uint64_t seed, Eigen::Ref<Eigen::MatrixXf> mask);

// Max-norm (Srivastava et al. 2014): scales every row of `weights` (one
// unit's incoming weights) whose L2 norm exceeds max_norm back onto it.
void ClipMaxNorm(float max_norm, Eigen::MatrixXf* weights);

// Softmax cross-entropy of one column of logits against the target
// (1 - smoothing) * onehot(label) + smoothing / classes. Writes
// dLoss/dlogits = softmax - target to `delta` and returns the loss.
double SmoothedCrossEntropy(const float* logits, int classes, int label, float smoothing,
                            float* delta);

// Decay used at update `step`: the configured decay, lowered early on
// ((1 + step) / (10 + step)) so the average is not stuck at the init.
float EmaDecay(float decay, long step);
// ema = decay * ema + (1 - decay) * model, weights and biases.
void UpdateEma(const FloatModel& model, float decay, FloatModel* ema);

// One-cycle (Smith 2018): cosine warm-up from max_lr / 25 to max_lr over
// the first 30% of training, then cosine annealing to max_lr / 25e4.
// progress in [0, 1].
float OneCycleLr(float max_lr, double progress);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_REGULARIZE_H_
