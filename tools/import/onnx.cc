// ONNX (protobuf ModelProto, read with Debian's libonnx_proto): the chains
// PyTorch's torch.onnx.export writes for nn.Sequential of Linear and
// ReLU/Sigmoid/Tanh: [Flatten] (Gemm | MatMul [Add]) [activation] ... with
// an optional final Softmax/LogSoftmax, which is dropped (argmax is the same).
#include "import/import.h"

#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "error.h"

#ifdef EDGEMLP_HAVE_ONNX
#include <onnx/onnx_pb.h>
#endif

namespace edgemlp {

#ifndef EDGEMLP_HAVE_ONNX

bool OnnxSupported() { return false; }

ImportedModel ReadOnnx(const uint8_t*, size_t, const std::string& name) {
  throw InputError(name + ": this edgemlp was built without ONNX support (rebuild with "
                          "libonnx-dev and libprotobuf-dev installed, meson -Donnx=enabled), "
                          "or import the model's safetensors file");
}

#else

namespace {

// A tensor widened to double, row-major, with its dims.
struct DTensor {
  std::vector<int64_t> dims;
  std::vector<double> values;
};

std::string DimsString(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// `limit` bounds the element count (the file's size: every element is in it).
DTensor Decode(const onnx::TensorProto& t, const std::string& what, size_t limit) {
  if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    throw InputError(what + ": its data is in an external file; export with the weights "
                            "inside the .onnx (small models are by default)");
  }
  if (t.has_segment()) throw InputError(what + ": segmented tensors are not supported");
  DTensor d;
  uint64_t count = 1;
  for (int64_t dim : t.dims()) {
    if (dim < 0 || (dim > 0 && count > limit / static_cast<uint64_t>(dim))) {
      throw InputError(what + ": dims " + std::to_string(dim) + " out of range");
    }
    count *= static_cast<uint64_t>(dim);
    d.dims.push_back(dim);
  }
  const std::string& raw = t.raw_data();
  if (t.data_type() == onnx::TensorProto_DataType_FLOAT) {
    if (!raw.empty() || count == 0) {
      if (raw.size() != count * 4) {
        throw InputError(what + ": " + std::to_string(raw.size()) + " raw bytes for " +
                         std::to_string(count) + " floats " + DimsString(d.dims));
      }
      for (uint64_t i = 0; i < count; ++i) {
        uint32_t bits = 0;
        for (int b = 3; b >= 0; --b) bits = (bits << 8) | static_cast<uint8_t>(raw[4 * i + b]);
        float f;
        std::memcpy(&f, &bits, 4);
        d.values.push_back(f);
      }
    } else {
      if (static_cast<uint64_t>(t.float_data_size()) != count) {
        throw InputError(what + ": " + std::to_string(t.float_data_size()) +
                         " float_data values for dims " + DimsString(d.dims));
      }
      for (float f : t.float_data()) d.values.push_back(f);
    }
  } else if (t.data_type() == onnx::TensorProto_DataType_DOUBLE) {
    if (!raw.empty() || count == 0) {
      if (raw.size() != count * 8) {
        throw InputError(what + ": " + std::to_string(raw.size()) + " raw bytes for " +
                         std::to_string(count) + " doubles " + DimsString(d.dims));
      }
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t bits = 0;
        for (int b = 7; b >= 0; --b) bits = (bits << 8) | static_cast<uint8_t>(raw[8 * i + b]);
        double v;
        std::memcpy(&v, &bits, 8);
        d.values.push_back(v);
      }
    } else {
      if (static_cast<uint64_t>(t.double_data_size()) != count) {
        throw InputError(what + ": " + std::to_string(t.double_data_size()) +
                         " double_data values for dims " + DimsString(d.dims));
      }
      for (double v : t.double_data()) d.values.push_back(v);
    }
  } else {
    throw InputError(what + ": element type " + std::to_string(t.data_type()) +
                     ", expected float (1) or double (11)");
  }
  return d;
}

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const char* name) {
  for (const onnx::AttributeProto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t IntAttribute(const onnx::NodeProto& node, const char* name, int64_t fallback,
                     const std::string& what) {
  const onnx::AttributeProto* a = FindAttribute(node, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto_AttributeType_INT) {
    throw InputError(what + ": attribute " + name + " is not an integer");
  }
  return a->i();
}

double FloatAttribute(const onnx::NodeProto& node, const char* name, double fallback,
                      const std::string& what) {
  const onnx::AttributeProto* a = FindAttribute(node, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto_AttributeType_FLOAT) {
    throw InputError(what + ": attribute " + name + " is not a float");
  }
  return a->f();
}

// Features per example of an input [batch, dims...]: their product, -1 when
// one is symbolic, INT64_MAX when it overflows (no layer matches it then).
int64_t FeatureCount(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (size_t d = 1; d < dims.size(); ++d) {
    if (dims[d] < 0) return -1;
    if (__builtin_mul_overflow(n, dims[d], &n)) return INT64_MAX;
  }
  return n;
}

// The conversion's view of the graph: initializers by name, the one data input.
struct Graph {
  const onnx::GraphProto* proto = nullptr;
  std::map<std::string, const onnx::TensorProto*> initializers;
  std::string input;
  std::vector<int64_t> input_dims;  // -1: symbolic (the batch)
  size_t limit = 0;
  std::string name;

  DTensor Initializer(const onnx::NodeProto& node, int index, const std::string& what) const {
    if (index >= node.input_size()) throw InputError(what + ": missing input " + std::to_string(index));
    const auto it = initializers.find(node.input(index));
    if (it == initializers.end()) {
      throw InputError(what + ": input '" + node.input(index) +
                       "' is not a constant initializer (only weights may enter beside the data)");
    }
    return Decode(*it->second, what + ": initializer '" + node.input(index) + "'", limit);
  }
};

std::string Describe(const onnx::NodeProto& node, int index, const std::string& name) {
  const std::string id = node.name().empty() ? "#" + std::to_string(index) : node.name();
  return name + ": node '" + id + "' (" + node.op_type() + ")";
}

Graph ReadGraph(const onnx::ModelProto& model, size_t size, const std::string& name) {
  Graph g;
  g.proto = &model.graph();
  g.limit = size;
  g.name = name;
  for (const onnx::TensorProto& t : g.proto->initializer()) g.initializers[t.name()] = &t;
  int inputs = 0;
  for (const onnx::ValueInfoProto& v : g.proto->input()) {
    if (g.initializers.count(v.name())) continue;  // older exporters list weights too
    ++inputs;
    g.input = v.name();
    g.input_dims.clear();
    if (v.type().has_tensor_type() && v.type().tensor_type().has_shape()) {
      for (const auto& d : v.type().tensor_type().shape().dim()) {
        g.input_dims.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : -1);
      }
    }
  }
  if (inputs != 1) {
    throw InputError(name + ": the graph has " + std::to_string(inputs) +
                     " data inputs, expected one (the batch of feature vectors)");
  }
  if (g.proto->output_size() != 1) {
    throw InputError(name + ": the graph has " + std::to_string(g.proto->output_size()) +
                     " outputs, expected one (the logits)");
  }
  return g;
}

// y = act(W x + b) chains, matched node by node.
ImportedModel Convert(const Graph& g) {
  ImportedModel m;
  m.format = "onnx";
  const std::vector<int64_t>& dims = g.input_dims;
  int64_t width = dims.size() == 2 ? dims[1] : -1;  // features per example, -1 unknown
  bool flat = dims.size() <= 2;
  if (dims.size() == 4 && dims[1] == 1 && dims[2] > 0 && dims[3] > 0) {
    m.input_rows = static_cast<uint32_t>(std::min<int64_t>(dims[2], UINT32_MAX));
    m.input_cols = static_cast<uint32_t>(std::min<int64_t>(dims[3], UINT32_MAX));
  } else if (dims.size() == 3 && dims[1] > 0 && dims[2] > 0) {
    m.input_rows = static_cast<uint32_t>(std::min<int64_t>(dims[1], UINT32_MAX));
    m.input_cols = static_cast<uint32_t>(std::min<int64_t>(dims[2], UINT32_MAX));
  }
  enum { kStart, kLinear, kActivated, kEnd } state = kStart;
  std::string current = g.input;
  for (int i = 0; i < g.proto->node_size(); ++i) {
    const onnx::NodeProto& node = g.proto->node(i);
    const std::string what = Describe(node, i, g.name);
    const std::string& op = node.op_type();
    if (state == kEnd) throw InputError(what + ": comes after the final " + g.proto->node(i - 1).op_type());
    if (node.output_size() != 1 || node.input_size() < 1) {
      throw InputError(what + ": expected one output and at least one input");
    }
    if (!node.domain().empty() && node.domain() != "ai.onnx") {
      throw InputError(what + ": operator domain '" + node.domain() + "' is not supported");
    }
    const bool is_add = op == "Add" && node.input_size() == 2;
    const int data_index = is_add && node.input(1) == current ? 1 : 0;
    if (node.input(data_index) != current) {
      throw InputError(what + ": does not take the output of the node before ('" + current +
                       "'); only a chain of layers can be imported");
    }
    if (op == "Flatten") {
      if (IntAttribute(node, "axis", 1, what) != 1 || node.input_size() != 1) {
        throw InputError(what + ": only Flatten with axis 1 (keep the batch) is supported");
      }
      if (!flat) width = FeatureCount(dims);
      flat = true;
    } else if (op == "Gemm" || op == "MatMul") {
      if (!flat) throw InputError(what + ": its input " + DimsString(dims) + " needs a Flatten first");
      const bool gemm = op == "Gemm";
      if (gemm ? node.input_size() > 3 || node.input_size() < 2 : node.input_size() != 2) {
        throw InputError(what + ": unexpected number of inputs " + std::to_string(node.input_size()));
      }
      if (gemm && IntAttribute(node, "transA", 0, what) != 0) {
        throw InputError(what + ": transA = 1 is not supported (the data must be rows)");
      }
      const bool trans_b = gemm && IntAttribute(node, "transB", 0, what) != 0;
      const double alpha = gemm ? FloatAttribute(node, "alpha", 1.0, what) : 1.0;
      const double beta = gemm ? FloatAttribute(node, "beta", 1.0, what) : 1.0;
      const DTensor b = g.Initializer(node, 1, what);
      if (b.dims.size() != 2) {
        throw InputError(what + ": weights " + DimsString(b.dims) + ", expected a matrix");
      }
      const int64_t out = trans_b ? b.dims[0] : b.dims[1];
      const int64_t in = trans_b ? b.dims[1] : b.dims[0];
      if (width >= 0 && in != width) {
        throw InputError(what + ": weights " + DimsString(b.dims) + (trans_b ? " (transB)" : "") +
                         " take " + std::to_string(in) + " inputs, but the value before has " +
                         std::to_string(width));
      }
      if (out < 1 || in < 1 || out > kMaxLayerWidth || in > kMaxLayerWidth) {
        throw InputError(what + ": weights " + DimsString(b.dims) + ", expected 1.." +
                         std::to_string(kMaxLayerWidth) + " per side");
      }
      if (m.layers.size() == kMaxLayers) {
        throw InputError(what + ": more than " + std::to_string(kMaxLayers) + " layers");
      }
      ImportedLayer l;
      l.weights.resize(out, in);
      for (int64_t r = 0; r < out; ++r) {
        for (int64_t c = 0; c < in; ++c) {
          l.weights(r, c) = alpha * (trans_b ? b.values[r * in + c] : b.values[c * out + r]);
        }
      }
      l.bias = Eigen::VectorXd::Zero(out);
      if (gemm && node.input_size() == 3 && !node.input(2).empty()) {
        const DTensor c = g.Initializer(node, 2, what);
        if (c.values.size() != static_cast<size_t>(out) && c.values.size() != 1) {
          throw InputError(what + ": bias " + DimsString(c.dims) + " for " + std::to_string(out) +
                           " outputs");
        }
        for (int64_t r = 0; r < out; ++r) l.bias(r) = beta * c.values[c.values.size() == 1 ? 0 : r];
      }
      l.source = what.substr(g.name.size() + 2) + (trans_b ? " transB" : "");
      m.layers.push_back(std::move(l));
      width = out;
      state = kLinear;
    } else if (is_add) {
      if (state != kLinear) throw InputError(what + ": only a bias Add right after MatMul/Gemm is supported");
      const DTensor c = g.Initializer(node, 1 - data_index, what);
      const size_t out = static_cast<size_t>(width);
      if (c.values.size() != out || (c.dims.size() == 2 && c.dims[0] != 1) || c.dims.size() > 2) {
        throw InputError(what + ": bias " + DimsString(c.dims) + " for " + std::to_string(out) +
                         " outputs");
      }
      for (size_t r = 0; r < out; ++r) m.layers.back().bias(r) += c.values[r];
      m.layers.back().source += " + " + node.op_type();
    } else if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
      if (state != kLinear) throw InputError(what + ": an activation must follow a Gemm/MatMul");
      m.layers.back().activation = op == "Relu"      ? Activation::kRelu
                                   : op == "Sigmoid" ? Activation::kSigmoid
                                                     : Activation::kTanh;
      state = kActivated;
    } else if (op == "Softmax" || op == "LogSoftmax") {
      const int64_t axis = IntAttribute(node, "axis", -1, what);
      if (state != kLinear || (axis != -1 && axis != 1)) {
        throw InputError(what + ": only a final " + op + " over the logits (axis -1 or 1) is supported");
      }
      m.notes.push_back("dropped the final " + op + " (node '" + node.name() +
                        "'): edgemlp outputs logits, and argmax is unchanged");
      state = kEnd;
    } else {
      throw InputError(what + ": unsupported operator " + op +
                       " (supported: Flatten, Gemm, MatMul, Add, Relu, Sigmoid, Tanh, a final "
                       "Softmax/LogSoftmax)");
    }
    current = node.output(0);
  }
  if (g.proto->output(0).name() != current) {
    throw InputError(g.name + ": the graph output '" + g.proto->output(0).name() +
                     "' is not the end of the layer chain ('" + current + "')");
  }
  return m;
}

// The graph's nodes evaluated in double on [batch, ...] tensors: the
// self-check's reference, written from the ONNX operator definitions.
Eigen::MatrixXd Interpret(const Graph& g, const Eigen::MatrixXd& x) {
  const int64_t batch = x.cols(), n = x.rows();
  DTensor a;
  a.dims = {batch, n};
  if (g.input_dims.size() > 1 && FeatureCount(g.input_dims) == n) {
    a.dims = g.input_dims;
    a.dims[0] = batch;
  }
  a.values.resize(batch * n);
  for (int64_t k = 0; k < batch; ++k) {
    for (int64_t i = 0; i < n; ++i) a.values[k * n + i] = x(i, k);
  }
  for (int i = 0; i < g.proto->node_size(); ++i) {
    const onnx::NodeProto& node = g.proto->node(i);
    const std::string what = Describe(node, i, g.name);
    const std::string& op = node.op_type();
    const int64_t rows = a.dims[0];
    const int64_t cols = static_cast<int64_t>(a.values.size()) / rows;
    if (op == "Flatten") {
      a.dims = {rows, cols};
    } else if (op == "Gemm" || op == "MatMul") {
      const DTensor b = g.Initializer(node, 1, what);
      const bool trans_b = op == "Gemm" && IntAttribute(node, "transB", 0, what) != 0;
      const double alpha = op == "Gemm" ? FloatAttribute(node, "alpha", 1.0, what) : 1.0;
      const double beta = op == "Gemm" ? FloatAttribute(node, "beta", 1.0, what) : 1.0;
      const int64_t out = trans_b ? b.dims[0] : b.dims[1];
      DTensor y;
      y.dims = {rows, out};
      y.values.assign(rows * out, 0.0);
      DTensor c;
      if (op == "Gemm" && node.input_size() == 3 && !node.input(2).empty()) c = g.Initializer(node, 2, what);
      for (int64_t m = 0; m < rows; ++m) {
        for (int64_t j = 0; j < out; ++j) {
          double s = 0;
          for (int64_t k = 0; k < cols; ++k) {
            s += a.values[m * cols + k] * (trans_b ? b.values[j * cols + k] : b.values[k * out + j]);
          }
          s *= alpha;
          if (!c.values.empty()) s += beta * c.values[c.values.size() == 1 ? 0 : j];
          y.values[m * out + j] = s;
        }
      }
      a = std::move(y);
    } else if (op == "Add") {
      const DTensor bias = g.Initializer(node, g.initializers.count(node.input(1)) ? 1 : 0, what);
      for (size_t k = 0; k < a.values.size(); ++k) a.values[k] += bias.values[k % cols];
    } else if (op == "Relu") {
      for (double& v : a.values) v = v > 0 ? v : 0;
    } else if (op == "Sigmoid") {
      for (double& v : a.values) v = 1 / (1 + std::exp(-v));
    } else if (op == "Tanh") {
      for (double& v : a.values) v = std::tanh(v);
    } else {
      break;  // the final Softmax/LogSoftmax, dropped
    }
  }
  const int64_t out = static_cast<int64_t>(a.values.size()) / batch;
  Eigen::MatrixXd logits(out, batch);
  for (int64_t k = 0; k < batch; ++k) {
    for (int64_t j = 0; j < out; ++j) logits(j, k) = a.values[k * out + j];
  }
  return logits;
}

}  // namespace

bool OnnxSupported() { return true; }

ImportedModel ReadOnnx(const uint8_t* bytes, size_t size, const std::string& name) {
  auto model = std::make_shared<onnx::ModelProto>();
  if (size > INT_MAX || !model->ParseFromArray(bytes, static_cast<int>(size))) {
    throw InputError(name + ": not an ONNX model (the protobuf does not parse: truncated or "
                            "another format)");
  }
  if (!model->has_graph()) throw InputError(name + ": an ONNX model without a graph");
  auto graph = std::make_shared<Graph>(ReadGraph(*model, size, name));
  ImportedModel m = Convert(*graph);
  m.reference = [model, graph](const Eigen::MatrixXd& x) { return Interpret(*graph, x); };
  return m;
}

#endif  // EDGEMLP_HAVE_ONNX

}  // namespace edgemlp
