// safetensors (huggingface/safetensors): u64 little-endian header length N,
// N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {...}}, then the tensors' little-endian bytes, offsets
// relative to the end of the header. A PyTorch state dict of Linear layers
// holds "<prefix>.weight" [out, in] and "<prefix>.bias" [out].
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "error.h"
#include "import/import.h"

namespace edgemlp {

namespace {

// Headers of real models are kilobytes; this bounds the JSON parser's work.
constexpr uint64_t kMaxHeaderBytes = uint64_t{16} << 20;

struct Tensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t count = 0;
};

uint64_t LoadLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

double HalfToDouble(uint16_t h) {
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);  // subnormal or zero
  if (exponent == 31) return mantissa ? std::nan("") : sign * HUGE_VAL;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

double Element(const Tensor& t, uint64_t i) {
  if (t.dtype == "F32") {
    const uint32_t bits = static_cast<uint32_t>(LoadLe(t.data + 4 * i, 4));
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  if (t.dtype == "F64") {
    const uint64_t bits = LoadLe(t.data + 8 * i, 8);
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  const uint16_t bits = static_cast<uint16_t>(LoadLe(t.data + 2 * i, 2));
  if (t.dtype == "F16") return HalfToDouble(bits);
  const uint32_t f32 = uint32_t{bits} << 16;  // BF16: the top half of a float
  float f;
  std::memcpy(&f, &f32, 4);
  return f;
}

int DtypeBytes(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Tensor ParseEntry(const std::string& key, const nlohmann::json& v, const uint8_t* data,
                  uint64_t data_size, const std::string& name) {
  const std::string what = name + ": tensor '" + key + "'";
  if (!v.is_object() || !v.contains("dtype") || !v["dtype"].is_string() ||
      !v.contains("shape") || !v["shape"].is_array() || !v.contains("data_offsets") ||
      !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
    throw InputError(what + ": expected {\"dtype\": str, \"shape\": [..], \"data_offsets\": "
                            "[begin, end]} in the header");
  }
  Tensor t;
  t.name = key;
  t.dtype = v["dtype"].get<std::string>();
  const int bytes = DtypeBytes(t.dtype);
  if (bytes == 0) {
    throw InputError(what + ": dtype " + t.dtype + ", expected F32, F64, F16 or BF16");
  }
  t.count = 1;
  for (const nlohmann::json& d : v["shape"]) {
    if (!d.is_number_unsigned() || t.shape.size() >= 8) {
      throw InputError(what + ": shape must be up to 8 non-negative integers");
    }
    const uint64_t dim = d.get<uint64_t>();
    if (dim > 0 && t.count > data_size / dim) {
      throw InputError(what + ": shape is larger than the file");
    }
    t.count *= dim;
    t.shape.push_back(dim);
  }
  const nlohmann::json& o = v["data_offsets"];
  if (!o[0].is_number_unsigned() || !o[1].is_number_unsigned()) {
    throw InputError(what + ": data_offsets must be two non-negative integers");
  }
  const uint64_t begin = o[0].get<uint64_t>(), end = o[1].get<uint64_t>();
  if (begin > end || end > data_size) {
    throw InputError(what + ": data_offsets [" + std::to_string(begin) + ", " +
                     std::to_string(end) + "] outside the " + std::to_string(data_size) +
                     " data bytes");
  }
  if (end - begin != t.count * bytes) {
    throw InputError(what + ": " + t.dtype + " " + ShapeString(t.shape) + " needs " +
                     std::to_string(t.count * bytes) + " bytes, data_offsets give " +
                     std::to_string(end - begin));
  }
  t.data = data + begin;
  return t;
}

Eigen::MatrixXd Widen(const Tensor& t, uint64_t rows, uint64_t cols) {
  Eigen::MatrixXd m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) m(r, c) = Element(t, r * cols + c);  // row-major
  }
  return m;
}

}  // namespace

ImportedModel ReadSafetensors(const uint8_t* bytes, size_t size, const std::string& name,
                              Activation between) {
  if (size < 8) {
    throw InputError(name + ": " + std::to_string(size) +
                     " bytes, too short for safetensors (8-byte header length first)");
  }
  const uint64_t header_size = LoadLe(bytes, 8);
  if (header_size > size - 8 || header_size > kMaxHeaderBytes) {
    throw InputError(name + ": header length " + std::to_string(header_size) +
                     " does not fit the file's " + std::to_string(size - 8) +
                     " remaining bytes (or exceeds 16 MiB): truncated or not safetensors");
  }
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  const nlohmann::json header = nlohmann::json::parse(text, text + header_size, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    throw InputError(name + ": the header is not a JSON object (not safetensors?)");
  }
  const uint8_t* data = bytes + 8 + header_size;
  const uint64_t data_size = size - 8 - header_size;

  // prefix -> (weight, bias), in natural order of the prefix.
  struct Pair {
    const Tensor* weight = nullptr;
    const Tensor* bias = nullptr;
  };
  std::vector<Tensor> tensors;
  tensors.reserve(header.size());
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    tensors.push_back(ParseEntry(it.key(), it.value(), data, data_size, name));
  }
  std::map<std::string, Pair, bool (*)(const std::string&, const std::string&)> pairs(NaturalLess);
  for (const Tensor& t : tensors) {
    const size_t dot = t.name.rfind('.');
    const std::string role = dot == std::string::npos ? "" : t.name.substr(dot + 1);
    if (role != "weight" && role != "bias") {
      throw InputError(name + ": tensor '" + t.name +
                       "' is neither <layer>.weight nor <layer>.bias: only Linear layers can "
                       "be imported (a PyTorch state dict of nn.Linear)");
    }
    Pair& p = pairs[t.name.substr(0, dot)];
    (role == "weight" ? p.weight : p.bias) = &t;
  }
  ImportedModel m;
  m.format = "safetensors";
  for (const auto& [prefix, p] : pairs) {
    if (!p.weight) throw InputError(name + ": '" + prefix + ".bias' has no '" + prefix + ".weight'");
    const Tensor& w = *p.weight;
    if (w.shape.size() != 2) {
      throw InputError(name + ": '" + w.name + "' has shape " + ShapeString(w.shape) +
                       ", expected [out, in] (a Linear weight)");
    }
    ImportedLayer l;
    l.weights = Widen(w, w.shape[0], w.shape[1]);
    l.bias = Eigen::VectorXd::Zero(l.weights.rows());
    l.source = w.name;
    if (p.bias) {
      const Tensor& b = *p.bias;
      if (b.shape.size() != 1 || b.shape[0] != w.shape[0]) {
        throw InputError(name + ": '" + b.name + "' has shape " + ShapeString(b.shape) +
                         ", expected [" + std::to_string(w.shape[0]) + "] for '" + w.name +
                         "' " + ShapeString(w.shape));
      }
      l.bias = Widen(b, b.shape[0], 1);
      l.source += ", " + b.name;
    } else {
      m.notes.push_back("'" + prefix + "' has no bias: zeros");
    }
    if (!m.layers.empty()) m.layers.back().activation = between;
    m.layers.push_back(std::move(l));
    if (m.layers.size() > kMaxLayers) break;  // refused by the caller's check
  }
  // The reference: the file's tensors in double, layer after layer.
  std::vector<ImportedLayer> layers = m.layers;
  m.reference = [layers](const Eigen::MatrixXd& x) {
    Eigen::MatrixXd a = x;
    for (const ImportedLayer& l : layers) {
      Eigen::MatrixXd z = l.weights * a;
      z.colwise() += l.bias;
      if (l.activation == Activation::kRelu) z = z.cwiseMax(0.0);
      if (l.activation == Activation::kSigmoid) z = (1.0 + (-z.array()).exp()).inverse().matrix();
      if (l.activation == Activation::kTanh) z = z.array().tanh().matrix();
      a = std::move(z);
    }
    return a;
  };
  return m;
}

}  // namespace edgemlp
