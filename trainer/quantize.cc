#include "quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "edgemlp/blob_writer.h"
#include "edgemlp/runtime.h"
#include "error.h"

namespace edgemlp {

WeightType ParseWeightType(const std::string& name) {
  for (WeightType t : {WeightType::kI8, WeightType::kI16, WeightType::kI4}) {
    if (name == WeightTypeName(t)) return t;
  }
  throw InputError("unknown weight scheme '" + name + "' (expected int8, int16 or int4)");
}

int32_t WeightQmax(WeightType type, uint32_t in_size) {
  switch (type) {
    case WeightType::kI16:
      return I16WeightLimit(in_size);
    case WeightType::kI4:
      return 7;
    default:
      return kInt8WeightLimit;
  }
}

uint32_t WeightStride(WeightType type, uint32_t in_size) {
  const uint32_t align = 8 * kBlobAlign / WeightBits(static_cast<uint8_t>(type));
  return (in_size + align - 1) / align * align;
}

float QuantizeRow(const Eigen::Ref<const Eigen::RowVectorXd>& w, double qmax, int32_t* q) {
  const double max_abs = w.cwiseAbs().maxCoeff();
  const float scale = max_abs > 0 ? static_cast<float>(max_abs / qmax) : 1.0f;
  for (Eigen::Index c = 0; c < w.size(); ++c) {
    q[c] = static_cast<int32_t>(std::clamp(std::nearbyint(w[c] / scale), -qmax, qmax));
  }
  return scale;
}

double InputFold(const FloatModel& model) { return 255.0 * model.input_scale; }

void QuantizeMultiplier(double m, int32_t* multiplier, int32_t* shift) {
  int exponent = 0;
  const double fraction = std::frexp(m, &exponent);   // m = f * 2^e, f in [0.5, 1)
  int64_t q = std::llround(fraction * 2147483648.0);  // f * 2^31
  if (q == (int64_t{1} << 31)) {                      // rounding carried f up to 1.0
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

namespace {

// One layer's quantized weights in the blob's storage layout.
std::vector<uint8_t> PackWeights(WeightType type, const std::vector<int32_t>& q, uint32_t rows,
                                 uint32_t stride) {
  const size_t count = size_t{rows} * stride;
  std::vector<uint8_t> bytes(count * WeightBits(static_cast<uint8_t>(type)) / 8, 0);
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t c = 0; c < stride; ++c) {
      const int32_t v = q[size_t{r} * stride + c];
      if (type == WeightType::kI8) {
        bytes[size_t{r} * stride + c] = static_cast<uint8_t>(static_cast<int8_t>(v));
      } else if (type == WeightType::kI16) {
        const int16_t w = static_cast<int16_t>(v);
        std::memcpy(&bytes[2 * (size_t{r} * stride + c)], &w, 2);
      } else {  // int4: element c < half in the low nibble of byte c, else high of c - half
        const uint32_t half = stride / 2;
        uint8_t& b = bytes[size_t{r} * half + (c < half ? c : c - half)];
        b |= static_cast<uint8_t>((v & 0xF) << (c < half ? 0 : 4));
      }
    }
  }
  return bytes;
}

struct LayerSections {
  LayerRecord record{};
  std::vector<uint8_t> weights;
  std::vector<int32_t> bias, requant;
  std::vector<float> scales;
};

std::vector<uint8_t> Serialize(const FileHeader& h, const InputTransform& transform,
                               const std::vector<LayerSections>& layers,
                               const std::string& metadata, const std::vector<uint8_t>& test_input,
                               const std::vector<int32_t>& test_output) {
  BlobWriter writer(h, static_cast<uint32_t>(layers.size()));
  writer.SetInputTransform(transform);
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSections& s = layers[i];
    LayerRecord rec = s.record;
    rec.weights_offset = writer.AddSection(s.weights.data(), s.weights.size());
    rec.bias_offset = writer.AddSection(s.bias.data(), s.bias.size() * 4);
    rec.weight_scale_offset = writer.AddSection(s.scales.data(), s.scales.size() * 4);
    rec.requant_offset = writer.AddSection(s.requant.data(), s.requant.size() * 4);
    writer.SetLayer(static_cast<uint32_t>(i), rec);
  }
  writer.SetMetadata(metadata);
  if (!test_input.empty()) {
    writer.SetTestVector(test_input.data(), test_input.size(), test_output.data(),
                         test_output.size());
  }
  return writer.Finish();
}

}  // namespace

std::vector<uint8_t> Quantize(const FloatModel& model, const QuantOptions& options,
                              std::vector<QuantLayerReport>* report) {
  const size_t n_layers = model.layers.size();
  for (const auto& [index, type] : options.layer_types) {
    if (index >= n_layers) {
      throw InputError("--layer-quant " + std::to_string(index) + "=" + WeightTypeName(type) +
                       ": the model has layers 0.." + std::to_string(n_layers - 1));
    }
  }
  if (options.int8_limit < 1 || options.int8_limit > 127) {
    throw InputError("int8 weight limit " + std::to_string(options.int8_limit) +
                     ": expected 1..127");
  }
  if (!options.activation_max.empty() && options.activation_max.size() + 1 != n_layers) {
    throw InputError("need one activation range per hidden layer");
  }
  for (size_t i = 0; i + 1 < n_layers; ++i) {
    if (model.layers[i].activation != Activation::kRelu) {
      throw InputError("integer export needs ReLU hidden layers (u8 activations); layer " +
                       std::to_string(i) + " is not ReLU");
    }
    const float range =
        options.activation_max.empty() ? model.layers[i].calib_max : options.activation_max[i];
    if (!(range > 0) || !std::isfinite(range)) {
      throw InputError("layer " + std::to_string(i) +
                       " has no calibrated activation range; retrain with "
                       "`edgemlp train` (it records them) or pass --data");
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
  // The transform is carried as is: layer 0 reads its u8 output, which the
  // fold below treats like pixels.
  const InputTransform transform = model.input_transform.View();
  if (report) report->assign(n_layers, {});

  std::vector<LayerSections> sections(n_layers);
  double in_scale = 1.0 / 255.0;  // pixels are u8 with real = p / 255
  for (size_t i = 0; i < n_layers; ++i) {
    const DenseLayer& layer = model.layers[i];
    const auto found = options.layer_types.find(i);
    const WeightType type =
        found != options.layer_types.end() ? found->second : options.weight_type;
    Eigen::MatrixXd w = layer.weights.cast<double>();
    Eigen::VectorXd b = layer.bias.cast<double>();
    if (i == 0) {
      // Fold the model's input scaling into layer 0:
      // W x + b with x = p*s + o  ==  (255 s W)(p/255) + (b + o * rowsum W).
      b += model.input_offset * w.rowwise().sum();
      w *= InputFold(model);
    }
    const uint32_t in = static_cast<uint32_t>(w.cols());
    const uint32_t out = static_cast<uint32_t>(w.rows());
    const uint32_t stride = WeightStride(type, in);
    const double qmax = type == WeightType::kI8 ? options.int8_limit : WeightQmax(type, in);
    const bool last = i + 1 == n_layers;

    LayerSections& s = sections[i];
    s.scales.resize(out);
    std::vector<int32_t> wq(size_t{out} * stride, 0);
    for (uint32_t r = 0; r < out; ++r) {
      s.scales[r] = QuantizeRow(w.row(r), qmax, &wq[size_t{r} * stride]);
    }
    // One output scale: u8 range of the calibrated maximum for hidden
    // layers; for the logits the coarsest accumulator unit, so every row's
    // multiplier is <= 1 and argmax over int32 logits is meaningful.
    const float act_max =
        last ? layer.calib_max
             : (options.activation_max.empty() ? layer.calib_max : options.activation_max[i]);
    double out_scale = 0;
    if (!last) {
      out_scale = act_max / 255.0;
    } else {
      for (uint32_t r = 0; r < out; ++r) out_scale = std::max(out_scale, in_scale * s.scales[r]);
    }
    s.bias.resize(out);
    s.requant.resize(2 * size_t{out});
    QuantLayerReport rep;
    rep.weight_type = type;
    rep.activation_max = last ? 0.0f : act_max;
    for (uint32_t r = 0; r < out; ++r) {
      const double acc_scale = in_scale * s.scales[r];
      double bq = std::nearbyint(b(r) / acc_scale);
      if (std::fabs(bq) > kMaxAbsBiasI32) {
        bq = std::clamp(bq, -double{kMaxAbsBiasI32}, double{kMaxAbsBiasI32});
        ++rep.clamped_biases;
      }
      s.bias[r] = static_cast<int32_t>(bq);
      QuantizeMultiplier(acc_scale / out_scale, &s.requant[2 * r], &s.requant[2 * r + 1]);
      for (uint32_t c = 0; c < in; ++c) {
        const float err = static_cast<float>(
            std::fabs(w(r, c) - wq[size_t{r} * stride + c] * double{s.scales[r]}));
        rep.max_weight_error = std::max(rep.max_weight_error, err);
        rep.mean_weight_error += err;
      }
    }
    rep.mean_weight_error /= static_cast<float>(size_t{in} * out);
    if (report) (*report)[i] = rep;
    s.weights = PackWeights(type, wq, out, stride);

    LayerRecord& rec = s.record;
    rec.in_size = in;
    rec.out_size = out;
    rec.stride = stride;
    rec.activation = static_cast<uint8_t>(layer.activation);
    rec.weight_type = static_cast<uint8_t>(type);
    rec.in_scale = static_cast<float>(in_scale);
    rec.out_scale = static_cast<float>(out_scale);
    rec.calib_max = act_max;
    in_scale = out_scale;
  }
  if (options.test_input.empty()) {
    return Serialize(h, transform, sections, options.metadata, {}, {});
  }
  // An affine blob's known-answer input is the u8 features after the
  // transform (as many as the raw features): the network's part is tested.
  if (options.test_input.size() != h.input_size) {
    throw InputError("known-answer input has " + std::to_string(options.test_input.size()) +
                     " bytes, expected " + std::to_string(h.input_size));
  }
  // The expected logits are the scalar reference's on this very blob.
  const std::vector<uint8_t> plain = Serialize(h, transform, sections, "", {}, {});
  Network net;
  const LoadResult loaded = Network::Load(plain.data(), plain.size(), &net);
  if (!loaded.ok()) throw InputError("quantized blob does not validate: " + loaded.message);
  std::vector<int32_t> expected(h.output_size);
  net.PredictRef(options.test_input.data(), expected.data());
  return Serialize(h, transform, sections, options.metadata, options.test_input, expected);
}

std::vector<uint8_t> QuantizeInt8(const FloatModel& model, std::vector<QuantLayerReport>* report) {
  return Quantize(model, QuantOptions{}, report);
}

std::vector<float> CalibrateActivationMax(const FloatModel& model, const Dataset& data,
                                          size_t begin, size_t count, double percentile) {
  std::vector<Eigen::MatrixXf> hidden;
  Forward(model, ImagesToInput(model, data.images.image(begin), count), &hidden);
  std::vector<float> result;
  for (const Eigen::MatrixXf& h : hidden) {
    if (percentile <= 0 || percentile >= 100) {
      result.push_back(h.maxCoeff());
      continue;
    }
    std::vector<float> values(h.data(), h.data() + h.size());
    const size_t k = std::min(values.size() - 1,
                              static_cast<size_t>(std::ceil(percentile / 100.0 * values.size())));
    std::nth_element(values.begin(), values.begin() + k, values.end());
    // A layer that is mostly zero must still get a usable range.
    result.push_back(values[k] > 0 ? values[k] : h.maxCoeff());
  }
  return result;
}

std::vector<double> ClippingRates(const FloatModel& model, const Dataset& data, size_t begin,
                                  size_t count, const std::vector<float>& activation_max) {
  std::vector<Eigen::MatrixXf> hidden;
  Forward(model, ImagesToInput(model, data.images.image(begin), count), &hidden);
  std::vector<double> rates;
  for (size_t i = 0; i < hidden.size(); ++i) {
    const double clipped = (hidden[i].array() > activation_max[i]).count();
    rates.push_back(clipped / static_cast<double>(hidden[i].size()));
  }
  return rates;
}

}  // namespace edgemlp
