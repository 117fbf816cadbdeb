// edgemlp import: an MLP trained elsewhere (ONNX, safetensors) as a float
// model that export, eval, inspect and bench take like one `train` made.
#include <cmath>
#include <memory>

#include "cli/cli.h"
#include "cli/output_guard.h"
#include "cli/provenance.h"
#include "error.h"
#include "import/import.h"
#include "model.h"

namespace edgemlp::cli {

namespace {

struct ImportOptions {
  std::string file;
  std::string out;
  std::string format = "auto";
  std::string activation = "relu";
  double input_scale = 1.0 / 255.0;
  double input_offset = 0.0;
  std::string input_normalize;  // "MEAN,STD"
  bool force = false;
  bool json = false;
};

// --input-normalize MEAN,STD: PyTorch's Normalize after ToTensor,
// real = (pixel / 255 - MEAN) / STD.
void ApplyNormalize(ImportOptions* o) {
  double mean = 0, std = 0;
  char extra = 0;
  if (std::sscanf(o->input_normalize.c_str(), "%lf,%lf%c", &mean, &std, &extra) != 2 ||
      !std::isfinite(mean) || !std::isfinite(std) || std <= 0) {
    throw InputError("--input-normalize " + o->input_normalize +
                     ": expected MEAN,STD with STD > 0 (e.g. 0.1307,0.3081)");
  }
  o->input_scale = 1.0 / (255.0 * std);
  o->input_offset = -mean / std;
}

void RunImport(ImportOptions o) {
  if (!o.input_normalize.empty()) ApplyNormalize(&o);
  if (!std::isfinite(o.input_scale) || o.input_scale == 0 || !std::isfinite(o.input_offset) ||
      std::fabs(o.input_scale) > 1e30 || std::fabs(o.input_offset) > 1e30) {
    throw InputError("--input-scale/--input-offset: expected finite values, scale != 0");
  }
  CheckOverwrite(o.out, FileKind::kFloatModel, o.force);
  const ImportFormat format = o.format == "onnx"          ? ImportFormat::kOnnx
                              : o.format == "safetensors" ? ImportFormat::kSafetensors
                                                          : ImportFormat::kAuto;
  const Activation between = o.activation == "sigmoid" ? Activation::kSigmoid
                             : o.activation == "tanh"  ? Activation::kTanh
                                                       : Activation::kRelu;
  size_t size = 0;
  const std::vector<uint64_t> storage = ReadFileAligned(o.file, &size);
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(storage.data());
  const ImportedModel imported = ReadImport(bytes, size, o.file, format, between);
  FloatModel model = ToFloatModel(imported, o.file);
  model.input_scale = static_cast<float>(o.input_scale);
  model.input_offset = static_cast<float>(o.input_offset);
  const ImportCheck check = CheckImport(imported, model);

  Json provenance = ToolProvenance(true);
  provenance["imported_from"] = {{"format", imported.format},
                                 {"sha256", Sha256Hex(bytes, size)},
                                 {"bytes", size}};
  provenance["architecture"] = model.ArchString();
  model.provenance = provenance.dump();

  Json layers = Json::array();
  std::string human = o.file + ": " + imported.format + ", " + model.ArchString() + ", input " +
                      std::to_string(model.input_rows) + "x" + std::to_string(model.input_cols) +
                      " (real = pixel * " + std::to_string(model.input_scale) + " + " +
                      std::to_string(model.input_offset) + ")\n";
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const DenseLayer& l = model.layers[i];
    layers.push_back({{"in_size", l.weights.cols()},
                      {"out_size", l.weights.rows()},
                      {"activation", ActivationName(l.activation)},
                      {"source", imported.layers[i].source}});
    human += "  layer " + std::to_string(i) + ": " + std::to_string(l.weights.cols()) + " -> " +
             std::to_string(l.weights.rows()) + ", " + ActivationName(l.activation) + "  (" +
             imported.layers[i].source + ")\n";
  }
  for (const std::string& note : imported.notes) human += "note: " + note + "\n";
  bool int8_ready = true;
  for (size_t i = 0; i + 1 < model.layers.size(); ++i) {
    int8_ready = int8_ready && model.layers[i].activation == Activation::kRelu;
  }
  char line[256];
  std::snprintf(line, sizeof(line),
                "check: %zu inputs, float32 model vs the file's tensors in double: max |diff| "
                "%.3g (tolerance %.3g) %s\n",
                check.inputs, check.max_abs_diff, check.tolerance, check.ok ? "ok" : "FAILED");
  human += line;
  if (check.ok) {
    SaveFloatModel(model, o.out);
    human += "wrote " + o.out + (int8_ready
                                     ? "; int8: `edgemlp export " + o.out +
                                           " --data DIR` (calibrates on the training images)\n"
                                     : "; int8 export needs ReLU hidden layers: float only\n");
  }
  const Json j = {{"file", o.file},
                  {"format", imported.format},
                  {"out", check.ok ? Json(o.out) : Json(nullptr)},
                  {"architecture", model.ArchString()},
                  {"input_rows", model.input_rows},
                  {"input_cols", model.input_cols},
                  {"input_scale", model.input_scale},
                  {"input_offset", model.input_offset},
                  {"layers", layers},
                  {"notes", imported.notes},
                  {"int8_exportable", int8_ready},
                  {"check", {{"inputs", check.inputs},
                             {"max_abs_diff", check.max_abs_diff},
                             {"max_abs_logit", check.max_abs_logit},
                             {"tolerance", check.tolerance},
                             {"ok", check.ok}}},
                  {"sha256", provenance["imported_from"]["sha256"]}};
  Emit(o.json, j, human);
  if (!check.ok) {
    Log("edgemlp: error: %s: the imported model differs from the file's own computation by "
        "%.3g > %.3g; nothing written (please report this file)",
        o.file.c_str(), check.max_abs_diff, check.tolerance);
    throw ExitWith{kExitInternal};
  }
}

}  // namespace

void AddImport(CLI::App& app) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "import", std::string("Read an MLP trained elsewhere (ONNX") +
                    (OnnxSupported() ? "" : ": not in this build") +
                    ", safetensors) into a float model and check it");
  cmd->add_option("file", o->file, "The .onnx or .safetensors file")->required();
  cmd->add_option("--out", o->out, "Float model to write (what `edgemlp train` writes)")
      ->required();
  cmd->add_option("--format", o->format, "auto (by extension, then content), onnx, safetensors")
      ->check(CLI::IsMember({"auto", "onnx", "safetensors"}));
  cmd->add_option("--activation", o->activation,
                  "safetensors: the activation between layers (none after the last)")
      ->check(CLI::IsMember({"relu", "sigmoid", "tanh"}));
  CLI::Option* scale = cmd->add_option(
      "--input-scale", o->input_scale,
      "The model's real input = pixel * SCALE + OFFSET (default 1/255: PyTorch's ToTensor)");
  CLI::Option* offset = cmd->add_option("--input-offset", o->input_offset, "See --input-scale (default 0)");
  cmd->add_option("--input-normalize", o->input_normalize,
                  "MEAN,STD: real input = (pixel/255 - MEAN) / STD (ToTensor + Normalize, "
                  "e.g. 0.1307,0.3081)")
      ->excludes(scale)
      ->excludes(offset);
  cmd->add_flag("--force", o->force, "Overwrite an --out that is not a float model");
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunImport(*o); });
}

}  // namespace edgemlp::cli
