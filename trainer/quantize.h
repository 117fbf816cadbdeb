// Float model -> integer blob (docs/blob-format.md, "Quantization").
// Weights: symmetric per output row, scale = max|w| / qmax with qmax
// kInt8WeightLimit (int8, unless QuantOptions say otherwise), 7 (int4) or
// I16WeightLimit(in_size) (int16); the scheme can differ per layer.
// Activations: u8, scale = calibrated max / 255 (zero point 0, after ReLU).
// Biases: int32 at scale in_scale * weight_scale[row]. Requantization:
// integer multiplier and shift per row (blob_format.h).
#ifndef EDGEMLP_TRAINER_QUANTIZE_H_
#define EDGEMLP_TRAINER_QUANTIZE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgemlp/blob_writer.h"  // SyntheticTestInput for the known-answer vector
#include "idx.h"
#include "model.h"

namespace edgemlp {

struct QuantLayerReport {
  WeightType weight_type = WeightType::kI8;
  float max_weight_error = 0;  // max |w - w_q * scale|
  float mean_weight_error = 0;
  int clamped_biases = 0;    // biases that hit the +-2^30 limit
  float activation_max = 0;  // the u8 range used (hidden layers)
};

// The default largest |w| of int8 weights: 32, not 127. x86 without VNNI
// (pmaddubsw) then multiplies u8 activations by them exactly and adds two
// products in int16 before widening (4 * 255 * 32 < 2^15; the runtime's
// paired mode, kPairedWeightLimit). On the default model the int8 accuracy
// changes by -0.02 points (98.27% -> 98.25%; 98.26% at 64). 64 (one
// pmaddubsw per product pair) and 127 (the full range) stay available:
// QuantOptions::int8_limit.
inline constexpr int32_t kInt8WeightLimit = 32;

// "int8" / "int16" / "int4" -> the weight type; throws InputError.
WeightType ParseWeightType(const std::string& name);
// Largest quantized |w| of a layer with in_size inputs (int8: the default
// kInt8WeightLimit).
int32_t WeightQmax(WeightType type, uint32_t in_size);
// Elements per stored row: in_size rounded up so rows are 64-byte multiples.
uint32_t WeightStride(WeightType type, uint32_t in_size);

// One row of weights -> integer weights q[0..n) in [-qmax, qmax] and the
// row's scale, max|w| / qmax as a float (1 for an all-zero row), with
// q = round-half-even(w / scale) in double. The exporter and QAT's fake
// quantization (qat.h) both round here, so they agree weight for weight.
float QuantizeRow(const Eigen::Ref<const Eigen::RowVectorXd>& w, double qmax, int32_t* q);
// The factor export folds into layer 0's weights with the input scaling
// (255 * input_scale: its integer inputs are raw pixels / 255).
double InputFold(const FloatModel& model);

// M > 0 -> (multiplier in [2^30, 2^31), shift in [1, 62]) with
// M ~= multiplier * 2^-shift. Tiny M saturates to the smallest encodable.
void QuantizeMultiplier(double m, int32_t* multiplier, int32_t* shift);

struct QuantOptions {
  WeightType weight_type = WeightType::kI8;  // every layer, unless
  std::map<size_t, WeightType> layer_types;  // overridden here (0-based)
  int32_t int8_limit = kInt8WeightLimit;     // largest |w| of int8 layers, <= 127
  // Hidden layers' activation ranges; empty: the model's calib_max.
  std::vector<float> activation_max;
  std::string metadata;             // provenance JSON, stored as is
  std::vector<uint8_t> test_input;  // known-answer input; empty: none
};

// The blob (format 1.1). With a test input, the expected logits are those of
// the scalar reference on the blob itself. Throws InputError if the model
// cannot be quantized (non-ReLU hidden layers, no activation ranges, bad
// layer index).
std::vector<uint8_t> Quantize(const FloatModel& model, const QuantOptions& options,
                              std::vector<QuantLayerReport>* report = nullptr);

// int8 everywhere, the model's recorded ranges.
std::vector<uint8_t> QuantizeInt8(const FloatModel& model,
                                  std::vector<QuantLayerReport>* report = nullptr);

// Activation calibration on held-out images [begin, begin + count).
// percentile <= 0 or >= 100: min/max (the largest activation); else the
// given percentile of each hidden layer's activations.
std::vector<float> CalibrateActivationMax(const FloatModel& model, const Dataset& data,
                                          size_t begin, size_t count, double percentile);
// Per hidden layer, the fraction of activations on those images above the
// range (they saturate at 255).
std::vector<double> ClippingRates(const FloatModel& model, const Dataset& data, size_t begin,
                                  size_t count, const std::vector<float>& activation_max);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_QUANTIZE_H_
