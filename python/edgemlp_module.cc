// The Python module `edgemlp` (pybind11): edgemlp::Network over NumPy
// arrays. Inputs are read in place (C-contiguous uint8, zero copies); the
// GIL is released while the kernels run. docs/python.md shows its use.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "edgemlp/introspect.h"
#include "edgemlp/runtime.h"

namespace py = pybind11;

namespace {

// edgemlp.LoadError(ValueError). Created once at import and never freed,
// as CPython's own exception types are: no destructor runs at exit.
PyObject* g_load_error = nullptr;

// The runtime's target choice is process-wide (ForceTarget): predictions on
// any Network hold it shared, force_target() exclusively, so a target
// never changes under a running batch of another thread.
std::shared_mutex g_target_lock;

// AvailableTargets() un-forces a forced target for a moment: not while a
// batch runs.
std::vector<int64_t> AvailableTargets() {
  py::gil_scoped_release release;
  std::unique_lock<std::shared_mutex> lock(g_target_lock);
  return edgemlp::AvailableTargets();
}

[[noreturn]] void ThrowLoadError(const edgemlp::LoadResult& r) {
  py::object error = py::reinterpret_borrow<py::object>(g_load_error)(r.message);
  error.attr("status") = edgemlp::StatusName(r.status);
  error.attr("message") = r.message;
  PyErr_SetObject(g_load_error, error.ptr());
  throw py::error_already_set();
}

class PyNetwork {
 public:
  // A path (str or os.PathLike) is mapped read-only; bytes-like objects
  // are copied into an aligned buffer the Network owns, so the caller may
  // drop or change theirs.
  explicit PyNetwork(const py::object& source) {
    edgemlp::LoadResult r;
    if (py::isinstance<py::str>(source) || py::hasattr(source, "__fspath__")) {
      const std::string path = py::str(py::module_::import("os").attr("fsdecode")(source));
      if (path.find('\0') != std::string::npos) {
        throw py::value_error("edgemlp.Network: the path contains a NUL byte");
      }
      r = edgemlp::Network::LoadFile(path, &net_);
    } else if (PyObject_CheckBuffer(source.ptr())) {
      const py::buffer_info info = py::reinterpret_borrow<py::buffer>(source).request();
      if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
        throw py::value_error("edgemlp.Network: a bytes-like blob must be one contiguous run of bytes");
      }
      r = edgemlp::Network::LoadCopy(static_cast<const uint8_t*>(info.ptr),
                                     static_cast<size_t>(info.size), &net_);
      if (!r.ok()) r.message = "<bytes>: " + r.message;
    } else {
      throw py::type_error("edgemlp.Network: expected a path (str or os.PathLike) or bytes, got " +
                           std::string(py::str(py::type::of(source).attr("__name__"))));
    }
    if (!r.ok()) ThrowLoadError(r);
  }

  // x: uint8, shape (input_size,) -> (class, logits (output_size,)), or
  // shape (N, input_size) -> (classes (N,), logits (N, output_size)).
  py::tuple Predict(const py::object& x) {
    if (!py::isinstance<py::array>(x)) {
      throw py::type_error("predict: expected a numpy.ndarray of uint8, got " +
                           std::string(py::str(py::type::of(x).attr("__name__"))));
    }
    const auto a = py::reinterpret_borrow<py::array>(x);
    if (TakesFloats()) {
      throw py::type_error("predict: this blob takes raw float features (an affine input "
                           "transform): use predict_float(x) with a numpy float32 array");
    }
    if (a.dtype().kind() != 'u' || a.itemsize() != 1) {
      throw py::type_error("predict: expected dtype uint8 (pixels 0..255), got " +
                           std::string(py::str(a.dtype())) +
                           "; float features need a blob with an affine input transform "
                           "and predict_float (docs/python.md)");
    }
    const size_t out = net_.output_size();
    const bool batch = a.ndim() == 2;
    CheckShape("predict", a);
    const size_t count = batch ? static_cast<size_t>(a.shape(0)) : 1;
    const auto* pixels = static_cast<const uint8_t*>(a.data());
    py::array_t<int32_t> logits(batch ? std::vector<py::ssize_t>{a.shape(0), py::ssize_t(out)}
                                      : std::vector<py::ssize_t>{py::ssize_t(out)});
    py::array_t<int> classes(static_cast<py::ssize_t>(count));
    int32_t* logits_out = logits.mutable_data();
    int* classes_out = classes.mutable_data();
    {
      // The arrays stay referenced by `a` and the locals; the kernels touch
      // no Python object. One Network serves one thread at a time.
      py::gil_scoped_release release;
      std::shared_lock<std::shared_mutex> target(g_target_lock);
      std::lock_guard<std::mutex> lock(mutex_);
      if (count != 0) net_.PredictBatch(pixels, count, logits_out, classes_out);
    }
    if (!batch) return py::make_tuple(classes_out[0], logits);
    return py::make_tuple(classes, logits);
  }

  // x: float32 raw features of a blob with an affine input transform,
  // shape (input_size,) or (N, input_size), like predict. A NaN or infinite
  // feature raises ValueError naming its row and column.
  py::tuple PredictFloat(const py::object& x) {
    if (!py::isinstance<py::array>(x)) {
      throw py::type_error("predict_float: expected a numpy.ndarray of float32, got " +
                           std::string(py::str(py::type::of(x).attr("__name__"))));
    }
    const auto a = py::reinterpret_borrow<py::array>(x);
    if (!TakesFloats()) {
      throw py::type_error("predict_float: this blob takes uint8 input (it has no affine "
                           "input transform): use predict(x)");
    }
    if (a.dtype().kind() != 'f' || a.itemsize() != 4) {
      throw py::type_error("predict_float: expected dtype float32, got " +
                           std::string(py::str(a.dtype())) + "; pass x.astype(numpy.float32)");
    }
    const size_t in = net_.input_size(), out = net_.output_size();
    const bool batch = a.ndim() == 2;
    CheckShape("predict_float", a);
    const size_t count = batch ? static_cast<size_t>(a.shape(0)) : 1;
    const auto* features = static_cast<const float*>(a.data());
    py::array_t<int32_t> logits(batch ? std::vector<py::ssize_t>{a.shape(0), py::ssize_t(out)}
                                      : std::vector<py::ssize_t>{py::ssize_t(out)});
    py::array_t<int> classes(static_cast<py::ssize_t>(count));
    int32_t* logits_out = logits.mutable_data();
    int* classes_out = classes.mutable_data();
    size_t bad_row = count;
    {
      py::gil_scoped_release release;
      std::shared_lock<std::shared_mutex> target(g_target_lock);
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t n = 0; n < count && bad_row == count; ++n) {
        classes_out[n] = net_.PredictFloat(features + n * in, logits_out + n * out);
        if (classes_out[n] < 0) bad_row = n;
      }
    }
    if (bad_row != count) {
      size_t col = 0;
      while (col < in && std::isfinite(features[bad_row * in + col])) ++col;
      throw py::value_error("predict_float: feature " + std::to_string(col) +
                            (batch ? " of row " + std::to_string(bad_row) : std::string()) +
                            " is " + std::to_string(features[bad_row * in + col]) +
                            " (features must be finite)");
    }
    if (!batch) return py::make_tuple(classes_out[0], logits);
    return py::make_tuple(classes, logits);
  }

  py::list Layers() const {
    py::list layers;
    for (size_t i = 0; i < net_.layer_count(); ++i) {
      const edgemlp::LayerInfo l = edgemlp::GetLayer(net_, i);
      py::dict d;
      d["in"] = l.in_size;
      d["out"] = l.out_size;
      d["weight_type"] = edgemlp::WeightTypeName(l.weight_type);
      d["relu"] = l.relu;
      layers.append(d);
    }
    return layers;
  }

  std::string Repr() const {
    std::string shape = std::to_string(net_.input_size());
    for (size_t i = 0; i < net_.layer_count(); ++i) {
      shape += "-" + std::to_string(edgemlp::GetLayer(net_, i).out_size);
    }
    return "<edgemlp.Network " + shape + ", target " + Target() + ">";
  }

  static std::vector<std::string> Targets() {
    std::vector<std::string> names;
    for (int64_t t : AvailableTargets()) names.emplace_back(edgemlp::TargetName(t));
    return names;
  }
  static std::string Target() { return edgemlp::TargetName(edgemlp::ChosenTarget()); }

  // name: one of Targets(); None restores the best one.
  static void ForceTarget(const py::object& name) {
    int64_t target = 0;
    if (!name.is_none()) {
      const std::string wanted = py::cast<std::string>(name);
      std::string known;
      for (int64_t t : AvailableTargets()) {
        if (wanted == edgemlp::TargetName(t)) target = t;
        known += std::string(known.empty() ? "" : ", ") + edgemlp::TargetName(t);
      }
      if (target == 0) {
        throw py::value_error("force_target: " + wanted + " is not available here (available: " +
                              known + ")");
      }
    }
    py::gil_scoped_release release;  // batches of other threads finish first
    std::unique_lock<std::shared_mutex> lock(g_target_lock);
    edgemlp::ForceTarget(target);
  }

  const edgemlp::Network& net() const { return net_; }

  // The input transform as a dict: kind ('none', 'affine', 'area'), in_size,
  // out_size, and for area in_rows, in_cols, out_rows, out_cols.
  py::dict InputTransform() const {
    const edgemlp::InputTransform& t = net_.input_transform();
    py::dict d;
    d["kind"] = edgemlp::InputTransformKindName(t.kind);
    d["in_size"] = net_.input_size();
    d["out_size"] = t.kind == edgemlp::InputTransformKind::kNone ? net_.input_size() : t.out_size;
    if (t.kind == edgemlp::InputTransformKind::kArea) {
      d["in_rows"] = t.in_rows;
      d["in_cols"] = t.in_cols;
      d["out_rows"] = t.out_rows;
      d["out_cols"] = t.out_cols;
    }
    return d;
  }

 private:
  bool TakesFloats() const {
    return net_.input_transform().kind == edgemlp::InputTransformKind::kAffine;
  }

  // Shape (input_size,) or (N, input_size), C-contiguous; else ValueError.
  void CheckShape(const char* what, const py::array& a) const {
    const size_t in = net_.input_size();
    const bool batch = a.ndim() == 2;
    if ((a.ndim() != 1 && !batch) || static_cast<size_t>(a.shape(a.ndim() - 1)) != in) {
      std::string shape;
      for (py::ssize_t d = 0; d < a.ndim(); ++d) shape += (d ? ", " : "") + std::to_string(a.shape(d));
      throw py::value_error(std::string(what) + ": expected shape (" + std::to_string(in) +
                            ",) or (N, " + std::to_string(in) + "), got (" + shape +
                            (a.ndim() == 1 ? ",)" : ")"));
    }
    // A copy would hide a cost the caller should see: say how to make one.
    if (!(a.flags() & py::array::c_style)) {
      throw py::value_error(std::string(what) +
                            ": the array is not C-contiguous (a slice or a transpose); "
                            "pass numpy.ascontiguousarray(x)");
    }
  }

  edgemlp::Network net_;
  std::mutex mutex_;  // the Network's scratch arena
};

}  // namespace

PYBIND11_MODULE(edgemlp, m) {
  m.doc() = "edgemlp: the int8 MLP runtime (load a blob, predict uint8 images with SIMD kernels)";
  g_load_error = PyErr_NewExceptionWithDoc(
      "edgemlp.LoadError",
      "A blob could not be loaded: .status names the reason (e.g. 'truncated', 'io_error'), "
      ".message is the loader's message (it names the file).",
      PyExc_ValueError, nullptr);
  if (g_load_error == nullptr) throw py::error_already_set();
  m.attr("LoadError") = py::reinterpret_borrow<py::object>(g_load_error);

  py::class_<PyNetwork>(m, "Network",
                        "An int8 blob, validated once; predictions then cannot fail.")
      .def(py::init<const py::object&>(), py::arg("source"),
           "Load a blob from a path (str, os.PathLike; mapped read-only) or from bytes (copied). "
           "Raises edgemlp.LoadError.")
      .def("predict", &PyNetwork::Predict, py::arg("x"),
           "x: numpy uint8 of shape (input_size,) -> (class: int, logits: int32 (output_size,)); "
           "shape (N, input_size) -> (classes: int32 (N,), logits: int32 (N, output_size)). "
           "Reads x in place: it must be C-contiguous.")
      .def("predict_float", &PyNetwork::PredictFloat, py::arg("x"),
           "x: numpy float32 raw features of a blob with an affine input transform, shape "
           "(input_size,) or (N, input_size) -> as predict. Features are quantized exactly as "
           "the trainer did; a NaN or infinite one raises ValueError.")
      .def_property_readonly("input_size", [](const PyNetwork& n) { return n.net().input_size(); },
                             "values per input: pixels, or float features for predict_float")
      .def_property_readonly("input_transform", &PyNetwork::InputTransform,
                             "dict: kind ('none', 'affine', 'area'), in_size, out_size "
                             "(+ in_rows, in_cols, out_rows, out_cols for area)")
      .def_property_readonly("output_size", [](const PyNetwork& n) { return n.net().output_size(); })
      .def_property_readonly("input_scale", [](const PyNetwork& n) { return n.net().blob().header.input_scale; },
                             "the model's real input = pixel * input_scale + input_offset")
      .def_property_readonly("input_offset", [](const PyNetwork& n) { return n.net().blob().header.input_offset; })
      .def_property_readonly("logit_scale", [](const PyNetwork& n) { return n.net().logit_scale(); },
                             "real logit = int32 logit * logit_scale")
      .def_property_readonly("arena_bytes", [](const PyNetwork& n) { return n.net().arena_bytes(); },
                             "scratch bytes allocated at load")
      .def_property_readonly("layers", &PyNetwork::Layers,
                             "one dict per layer: in, out, weight_type ('int8', 'int16', 'int4'), relu")
      .def_property_readonly_static("targets", [](const py::object&) { return PyNetwork::Targets(); },
                                    "SIMD targets compiled in and supported by this CPU")
      .def_property_readonly_static("target", [](const py::object&) { return PyNetwork::Target(); },
                                    "the SIMD target predictions use now (process-wide)")
      .def_static("force_target", &PyNetwork::ForceTarget, py::arg("name"),
                  "Use target `name` (one of targets) for every Network of the process; None "
                  "restores the best. For tests and benchmarks.")
      .def("__repr__", &PyNetwork::Repr);
}
