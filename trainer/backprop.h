// The pieces of backpropagation that depend on the activation and the loss,
// written once as templates: the trainer runs them in float, the gradient
// check (diagnostics.h) in double.
#ifndef EDGEMLP_TRAINER_BACKPROP_H_
#define EDGEMLP_TRAINER_BACKPROP_H_

#include <Eigen/Core>
#include <cmath>

#include "edgemlp/blob_format.h"

namespace edgemlp {

// What the output layer's logits mean and how they are scored.
enum class OutputLoss {
  kSoftmaxCe,   // softmax + cross-entropy (one class per image)
  kSigmoidBce,  // one sigmoid per output, sum of 10 binary cross-entropies
};

// z <- act(z), in place. `z` is a matrix or a block of one.
template <typename M>
void ApplyActivation(Activation activation, M* z) {
  using T = typename M::Scalar;
  switch (activation) {
    case Activation::kRelu:
      z->array() = z->array().cwiseMax(T(0));
      break;
    case Activation::kSigmoid:
      z->array() = T(1) / (T(1) + (-z->array()).exp());
      break;
    case Activation::kTanh:
      z->array() = z->array().tanh();
      break;
    case Activation::kNone:
      break;
  }
}

// delta <- delta * act'(z), written with the layer's output a = act(z).
template <typename A, typename D>
void MultiplyByDerivative(Activation activation, const A& a, D* delta) {
  using T = typename D::Scalar;
  switch (activation) {
    case Activation::kRelu:
      delta->array() = (a.array() > T(0)).select(delta->array(), T(0));
      break;
    case Activation::kSigmoid:
      delta->array() *= a.array() * (T(1) - a.array());
      break;
    case Activation::kTanh:
      delta->array() *= T(1) - a.array().square();
      break;
    case Activation::kNone:
      break;
  }
}

// Loss summed over the columns of `logits` (one image each; label(c) gives
// column c's class) and dLoss/dlogits per column in `delta` (not divided by
// the batch size). Both losses are written in their numerically stable form.
template <typename L, typename D, typename LabelOf>
double LossAndDelta(OutputLoss loss, const L& logits, LabelOf label, D* delta) {
  using T = typename D::Scalar;
  double total = 0;
  for (Eigen::Index c = 0; c < logits.cols(); ++c) {
    const int y = label(c);
    if (loss == OutputLoss::kSoftmaxCe) {
      const T top = logits.col(c).maxCoeff();
      delta->col(c) = (logits.col(c).array() - top).exp().matrix();
      const T sum = delta->col(c).sum();
      total += std::log(sum) - (logits(y, c) - top);
      delta->col(c) /= sum;
      (*delta)(y, c) -= T(1);
    } else {
      for (Eigen::Index k = 0; k < logits.rows(); ++k) {
        const T z = logits(k, c);
        const T target = k == y ? T(1) : T(0);
        // BCE(sigmoid(z), t) = softplus(z) - t*z
        total += std::max(z, T(0)) - target * z + std::log1p(std::exp(-std::abs(z)));
        (*delta)(k, c) = T(1) / (T(1) + std::exp(-z)) - target;
      }
    }
  }
  return total;
}

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_BACKPROP_H_
