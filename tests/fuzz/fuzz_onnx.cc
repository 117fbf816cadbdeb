// libFuzzer target: the ONNX importer (edgemlp import; protobuf parsing,
// graph matching, initializer decoding), then the conversion to a float
// model and the self-check, whose graph interpreter sees what was accepted.
#include <cstdint>
#include <string>

#include "error.h"
#include "import/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const edgemlp::ImportedModel m = edgemlp::ReadImport(
        data, size, "fuzz.onnx", edgemlp::ImportFormat::kOnnx, edgemlp::Activation::kRelu);
    const edgemlp::FloatModel model = edgemlp::ToFloatModel(m, "fuzz.onnx");
    edgemlp::CheckImport(m, model, 2);
  } catch (const edgemlp::InputError&) {
  }
  return 0;
}
