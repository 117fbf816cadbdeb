#include "import/import.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "error.h"

namespace edgemlp {

namespace {

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool LooksLikeSafetensors(const uint8_t* bytes, size_t size) {
  if (size < 9) return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  return n >= 2 && n <= size - 8 && bytes[8] == '{';
}

// Every layer fits the blob format and the one before it; every value fits float.
void CheckLayers(const ImportedModel& m, const std::string& name) {
  if (m.layers.empty()) throw InputError(name + ": no dense layers found");
  if (m.layers.size() > kMaxLayers) {
    throw InputError(name + ": " + std::to_string(m.layers.size()) + " layers, at most " +
                     std::to_string(kMaxLayers) + " fit an edgemlp model");
  }
  const double float_max = std::numeric_limits<float>::max();
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const ImportedLayer& l = m.layers[i];
    const std::string what = name + ": layer " + std::to_string(i) + " (" + l.source + ")";
    if (l.weights.rows() < 1 || l.weights.cols() < 1 || l.weights.rows() > kMaxLayerWidth ||
        l.weights.cols() > kMaxLayerWidth) {
      throw InputError(what + ": " + std::to_string(l.weights.rows()) + " x " +
                       std::to_string(l.weights.cols()) + " weights, expected 1.." +
                       std::to_string(kMaxLayerWidth) + " per side");
    }
    if (l.bias.size() != l.weights.rows()) {
      throw InputError(what + ": " + std::to_string(l.bias.size()) + " biases for " +
                       std::to_string(l.weights.rows()) + " outputs");
    }
    if (i > 0 && l.weights.cols() != m.layers[i - 1].weights.rows()) {
      throw InputError(what + ": takes " + std::to_string(l.weights.cols()) +
                       " inputs but the layer before gives " +
                       std::to_string(m.layers[i - 1].weights.rows()));
    }
    const auto bad = [&](double v) { return !(std::fabs(v) <= float_max); };  // NaN too
    if (std::any_of(l.weights.data(), l.weights.data() + l.weights.size(), bad) ||
        std::any_of(l.bias.data(), l.bias.data() + l.bias.size(), bad)) {
      throw InputError(what + ": holds NaN, infinity or a value beyond float32's range");
    }
  }
}

}  // namespace

bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      // Compare the digit runs as numbers without converting (any length).
      size_t is = i, js = j;
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      if (ie - is != je - js) return ie - is < je - js;
      const int c = a.compare(is, ie - is, b, js, je - js);
      if (c != 0) return c < 0;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

ImportedModel ReadImport(const uint8_t* bytes, size_t size, const std::string& name,
                         ImportFormat format, Activation between) {
  if (format == ImportFormat::kAuto) {
    if (EndsWith(name, ".onnx")) {
      format = ImportFormat::kOnnx;
    } else if (EndsWith(name, ".safetensors") || LooksLikeSafetensors(bytes, size)) {
      format = ImportFormat::kSafetensors;
    } else {
      format = ImportFormat::kOnnx;
    }
  }
  ImportedModel m = format == ImportFormat::kOnnx ? ReadOnnx(bytes, size, name)
                                                  : ReadSafetensors(bytes, size, name, between);
  CheckLayers(m, name);
  return m;
}

FloatModel ToFloatModel(const ImportedModel& imported, const std::string& name) {
  CheckLayers(imported, name);
  FloatModel model;
  const uint32_t in = static_cast<uint32_t>(imported.layers[0].weights.cols());
  if (uint64_t{imported.input_rows} * imported.input_cols == in && imported.input_rows > 0) {
    model.input_rows = imported.input_rows;
    model.input_cols = imported.input_cols;
  } else if (in == 784) {
    model.input_rows = model.input_cols = 28;  // MNIST flattened by the caller
  } else {
    model.input_rows = in;
    model.input_cols = 1;
  }
  for (const ImportedLayer& l : imported.layers) {
    DenseLayer d;
    d.weights = l.weights.cast<float>();
    d.bias = l.bias.cast<float>();
    d.activation = l.activation;
    model.layers.push_back(std::move(d));
  }
  return model;
}

ImportCheck CheckImport(const ImportedModel& imported, const FloatModel& model, size_t count) {
  const size_t n = model.input_size();
  std::vector<uint8_t> pixels((count + 2) * n);
  std::mt19937 rng(17);
  for (size_t i = 0; i < count * n; ++i) pixels[i] = static_cast<uint8_t>(rng() & 0xFF);
  std::fill(pixels.end() - n, pixels.end(), uint8_t{255});
  std::fill(pixels.end() - 2 * n, pixels.end() - n, uint8_t{0});

  ImportCheck c;
  c.inputs = count + 2;
  const Eigen::MatrixXf got = Forward(model, ImagesToInput(model, pixels.data(), c.inputs));
  Eigen::MatrixXd x(n, c.inputs);
  for (size_t k = 0; k < c.inputs; ++k) {
    for (size_t i = 0; i < n; ++i) {
      x(i, k) = pixels[k * n + i] * double{model.input_scale} + double{model.input_offset};
    }
  }
  const Eigen::MatrixXd want = imported.reference(x);
  if (want.rows() != got.rows() || want.cols() != got.cols()) {
    c.max_abs_diff = std::numeric_limits<double>::infinity();
  } else {
    c.max_abs_logit = want.cwiseAbs().maxCoeff();
    c.max_abs_diff = (got.cast<double>() - want).cwiseAbs().maxCoeff();
  }
  c.tolerance = kImportCheckRelTolerance * std::max(1.0, c.max_abs_logit);
  c.ok = c.max_abs_diff <= c.tolerance;  // false for NaN
  return c;
}

}  // namespace edgemlp
