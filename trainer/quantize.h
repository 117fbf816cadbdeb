// Float model -> int8 blob (docs/blob-format.md, "Quantization").
// Weights: symmetric per output row, scale = max|w| / 127, values in
// [-127, 127]. Activations: u8, scale = calibrated max / 255 (zero point 0,
// after ReLU). Biases: int32 at scale in_scale * weight_scale[row].
// Requantization: integer multiplier and shift per row (blob_format.h).
#ifndef EDGEMLP_TRAINER_QUANTIZE_H_
#define EDGEMLP_TRAINER_QUANTIZE_H_

#include <cstdint>
#include <vector>

#include "model.h"

namespace edgemlp {

struct QuantLayerReport {
  float max_weight_error = 0;   // max |w - w_q * scale|
  float mean_weight_error = 0;
  int clamped_biases = 0;       // biases that hit the +-2^30 limit
};

// M > 0 -> (multiplier in [2^30, 2^31), shift in [1, 62]) with
// M ~= multiplier * 2^-shift. Tiny M saturates to the smallest encodable.
void QuantizeMultiplier(double m, int32_t* multiplier, int32_t* shift);

// Throws InputError if the model cannot be quantized (non-ReLU hidden
// layers, no calibration ranges).
std::vector<uint8_t> QuantizeInt8(const FloatModel& model,
                                  std::vector<QuantLayerReport>* report = nullptr);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_QUANTIZE_H_
