// libFuzzer target: the safetensors importer (edgemlp import), then the
// conversion to a float model and the self-check on what it accepted.
#include <cstdint>
#include <string>

#include "error.h"
#include "import/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const edgemlp::ImportedModel m = edgemlp::ReadImport(
        data, size, "fuzz.safetensors", edgemlp::ImportFormat::kSafetensors,
        edgemlp::Activation::kRelu);
    const edgemlp::FloatModel model = edgemlp::ToFloatModel(m, "fuzz.safetensors");
    edgemlp::CheckImport(m, model, 2);
  } catch (const edgemlp::InputError&) {
  }
  return 0;
}
