// Quantization-aware fine-tuning (QAT): a few epochs of training through
// the integer model's rounding, so the weights settle where quantization
// costs least. Forward: weights fake-quantized per row exactly as the
// exporter does (scale = max|w| / qmax, round, clamp), hidden activations
// clamped to their calibrated range and rounded to its 255 u8 steps.
// Backward: straight-through estimator (rounding passes gradients
// unchanged; clamping passes none outside the range). Adam on the float
// weights, which stay the master copy.
#ifndef EDGEMLP_TRAINER_QAT_H_
#define EDGEMLP_TRAINER_QAT_H_

#include <functional>
#include <map>

#include "idx.h"
#include "model.h"

namespace edgemlp {

struct QatConfig {
  WeightType weight_type = WeightType::kI8;  // as `export --quant`
  std::map<size_t, WeightType> layer_types;  // as `export --layer-quant`
  int epochs = 3;
  float learning_rate = 1e-4f;  // Adam; small: the model is already trained
  int batch = 128;
  uint64_t seed = 1;
  int threads = 0;            // 0: all cores
  uint32_t val_count = 5000;  // held out of the end of the training set
};

struct QatEpoch {
  int epoch = 0;            // 1-based
  double train_loss = 0;    // through the fake-quantized model
  double val_accuracy = 0;  // fake-quantized model, held-out images
  double seconds = 0;
};

// Fake quantization of one weight matrix: the exporter's integer weights
// (QuantizeRow, row by row), dequantized. `fold` is what export folds into
// the weights first (InputFold for layer 0, else 1), divided out again.
Eigen::MatrixXf FakeQuantizeWeights(const Eigen::MatrixXf& w, WeightType type,
                                    double fold = 1.0);
// Layer `i` of `model` so (layer 0 with the input fold export applies).
Eigen::MatrixXf FakeQuantizeLayer(const FloatModel& model, size_t i, WeightType type);
// `model` with every layer's weights fake-quantized, layer i in scheme(i):
// the integer model's weights, with float activations.
FloatModel FakeQuantizeModel(const FloatModel& model,
                             const std::function<WeightType(size_t)>& scheme);

// Returns the fine-tuned model (the best epoch on held-out images, epoch 0
// being the input model). Needs the model's calibrated ranges (calib_max).
// Throws InputError on a model or data it cannot use.
FloatModel FinetuneQat(const FloatModel& model, const Dataset& train, const QatConfig& config,
                       std::vector<QatEpoch>* history = nullptr,
                       const std::function<void(const QatEpoch&)>& on_epoch = {});

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_QAT_H_
