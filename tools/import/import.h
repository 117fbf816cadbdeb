// Model importers: MLPs trained elsewhere (PyTorch's ONNX export, safetensors
// state dicts) read into edgemlp's float model. The files are untrusted:
// every size and offset is checked, and anything outside the supported forms
// is refused with an InputError naming the file and what was found.
#ifndef EDGEMLP_TOOLS_IMPORT_IMPORT_H_
#define EDGEMLP_TOOLS_IMPORT_IMPORT_H_

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "edgemlp/blob_format.h"
#include "model.h"

namespace edgemlp {

// One dense layer as the file stores it, widened to double.
struct ImportedLayer {
  Eigen::MatrixXd weights;  // out x in
  Eigen::VectorXd bias;     // out
  Activation activation = Activation::kNone;
  std::string source;       // what it came from: "fc.0.weight/fc.0.bias", "Gemm /0/Gemm"
};

struct ImportedModel {
  std::string format;  // "onnx" or "safetensors"
  std::vector<ImportedLayer> layers;
  // The input's image shape when the file states one ([N,1,H,W] or [N,H,W]),
  // else 0 x 0.
  uint32_t input_rows = 0;
  uint32_t input_cols = 0;
  std::vector<std::string> notes;  // forms accepted with a remark (a dropped Softmax...)
  // The file's own computation in double: real inputs (one column each) ->
  // logits (one column each). For ONNX a small interpreter of the graph's
  // nodes, independent of the conversion into `layers`.
  std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)> reference;
};

enum class ImportFormat { kAuto, kOnnx, kSafetensors };

// Readers of whole files in memory; `name` is the file named in errors.
// `between` is the activation safetensors cannot state (between layers; none
// after the last).
ImportedModel ReadSafetensors(const uint8_t* bytes, size_t size, const std::string& name,
                              Activation between);
ImportedModel ReadOnnx(const uint8_t* bytes, size_t size, const std::string& name);
// False when built without libonnx/protobuf: ReadOnnx then refuses.
bool OnnxSupported();

// Picks the reader: kAuto goes by the extension (.onnx, .safetensors), then
// by content (safetensors' 8-byte length and '{'), else ONNX.
ImportedModel ReadImport(const uint8_t* bytes, size_t size, const std::string& name,
                         ImportFormat format, Activation between);

// The float model of the imported layers (weights rounded to float; values
// outside float's range are refused). Input shape: the file's image shape,
// else 28x28 for 784 inputs, else input_size x 1.
FloatModel ToFloatModel(const ImportedModel& imported, const std::string& name);

// The self-check: `count` seeded random u8 inputs (plus all-0 and all-255)
// mapped to real inputs with the model's input_scale/input_offset, run
// through the float model and through imported.reference in double.
struct ImportCheck {
  size_t inputs = 0;
  double max_abs_diff = 0;
  double max_abs_logit = 0;  // of the reference
  double tolerance = 0;      // kImportCheckRelTolerance * max(1, max_abs_logit)
  bool ok = false;
};
inline constexpr double kImportCheckRelTolerance = 1e-4;
ImportCheck CheckImport(const ImportedModel& imported, const FloatModel& model, size_t count = 8);

// Natural order of tensor-name prefixes: digit runs compare as numbers, so
// "net.2" < "net.10" and "fc2" < "fc10".
bool NaturalLess(const std::string& a, const std::string& b);

}  // namespace edgemlp

#endif  // EDGEMLP_TOOLS_IMPORT_IMPORT_H_
