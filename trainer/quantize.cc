#include "quantize.h"

#include <algorithm>
#include <cmath>

#include "blob_writer.h"
#include "error.h"

namespace edgemlp {

void QuantizeMultiplier(double m, int32_t* multiplier, int32_t* shift) {
  int exponent = 0;
  const double fraction = std::frexp(m, &exponent);  // m = f * 2^e, f in [0.5, 1)
  int64_t q = std::llround(fraction * 2147483648.0);   // f * 2^31
  if (q == (int64_t{1} << 31)) {  // rounding carried f up to 1.0
    q = int64_t{1} << 30;
    ++exponent;
  }
  int s = 31 - exponent;
  if (s > kMaxShift) {  // below 2^-32: any int32 accumulator rounds to ~0
    q = kMinMultiplier;
    s = kMaxShift;
  }
  if (s < kMinShift) throw InputError("requantization multiplier too large");
  *multiplier = static_cast<int32_t>(q);
  *shift = s;
}

std::vector<uint8_t> QuantizeInt8(const FloatModel& model,
                                  std::vector<QuantLayerReport>* report) {
  const size_t n_layers = model.layers.size();
  for (size_t i = 0; i + 1 < n_layers; ++i) {
    if (model.layers[i].activation != Activation::kRelu) {
      throw InputError("int8 export needs ReLU hidden layers (u8 activations); layer " +
                       std::to_string(i) + " is not ReLU");
    }
    if (!(model.layers[i].calib_max > 0)) {
      throw InputError("layer " + std::to_string(i) +
                       " has no calibrated activation range; retrain with "
                       "`edgemlp train` (it records them)");
    }
  }
  FileHeader h{};
  h.kind = static_cast<uint32_t>(BlobKind::kInt8);
  h.input_size = model.input_size();
  h.input_rows = model.input_rows;
  h.input_cols = model.input_cols;
  h.input_scale = 1.0f / 255.0f;
  h.input_offset = 0.0f;
  h.output_size = model.output_size();
  BlobWriter writer(h, static_cast<uint32_t>(n_layers));
  if (report) report->assign(n_layers, {});

  double in_scale = 1.0 / 255.0;  // pixels are u8 with real = p / 255
  for (size_t i = 0; i < n_layers; ++i) {
    const DenseLayer& layer = model.layers[i];
    Eigen::MatrixXd w = layer.weights.cast<double>();
    Eigen::VectorXd b = layer.bias.cast<double>();
    if (i == 0) {
      // Fold the model's input scaling into layer 0:
      // W x + b with x = p*s + o  ==  (255 s W)(p/255) + (b + o * rowsum W).
      b += model.input_offset * w.rowwise().sum();
      w *= 255.0 * model.input_scale;
    }
    const uint32_t in = static_cast<uint32_t>(w.cols());
    const uint32_t out = static_cast<uint32_t>(w.rows());
    const uint32_t stride = (in + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
    const bool last = i + 1 == n_layers;

    std::vector<float> w_scale(out);
    std::vector<int8_t> wq(size_t{out} * stride, 0);
    for (uint32_t r = 0; r < out; ++r) {
      const double max_abs = w.row(r).cwiseAbs().maxCoeff();
      w_scale[r] = max_abs > 0 ? static_cast<float>(max_abs / 127.0) : 1.0f;
      for (uint32_t c = 0; c < in; ++c) {
        const double q = std::nearbyint(w(r, c) / w_scale[r]);
        wq[size_t{r} * stride + c] = static_cast<int8_t>(std::clamp(q, -127.0, 127.0));
      }
    }
    // One output scale: u8 range of the calibrated maximum for hidden
    // layers; for the logits the coarsest accumulator unit, so every row's
    // multiplier is <= 1 and argmax over int32 logits is meaningful.
    double out_scale = 0;
    if (!last) {
      out_scale = layer.calib_max / 255.0;
    } else {
      for (uint32_t r = 0; r < out; ++r) out_scale = std::max(out_scale, in_scale * w_scale[r]);
    }
    std::vector<int32_t> bias(out), requant(2 * size_t{out});
    QuantLayerReport rep;
    for (uint32_t r = 0; r < out; ++r) {
      const double acc_scale = in_scale * w_scale[r];
      double bq = std::nearbyint(b(r) / acc_scale);
      if (std::fabs(bq) > kMaxAbsBiasI32) {
        bq = std::clamp(bq, -double{kMaxAbsBiasI32}, double{kMaxAbsBiasI32});
        ++rep.clamped_biases;
      }
      bias[r] = static_cast<int32_t>(bq);
      QuantizeMultiplier(acc_scale / out_scale, &requant[2 * r], &requant[2 * r + 1]);
      for (uint32_t c = 0; c < in; ++c) {
        const float err = static_cast<float>(
            std::fabs(w(r, c) - wq[size_t{r} * stride + c] * double{w_scale[r]}));
        rep.max_weight_error = std::max(rep.max_weight_error, err);
        rep.mean_weight_error += err;
      }
    }
    rep.mean_weight_error /= static_cast<float>(size_t{in} * out);
    if (report) (*report)[i] = rep;

    LayerRecord rec{};
    rec.in_size = in;
    rec.out_size = out;
    rec.stride = stride;
    rec.activation = static_cast<uint8_t>(layer.activation);
    rec.weight_type = static_cast<uint8_t>(WeightType::kI8);
    rec.weights_offset = writer.AddSection(wq.data(), wq.size());
    rec.bias_offset = writer.AddSection(bias.data(), bias.size() * 4);
    rec.weight_scale_offset = writer.AddSection(w_scale.data(), w_scale.size() * 4);
    rec.requant_offset = writer.AddSection(requant.data(), requant.size() * 4);
    rec.in_scale = static_cast<float>(in_scale);
    rec.out_scale = static_cast<float>(out_scale);
    rec.calib_max = layer.calib_max;
    writer.SetLayer(static_cast<uint32_t>(i), rec);
    in_scale = out_scale;
  }
  return writer.Finish();
}

}  // namespace edgemlp
