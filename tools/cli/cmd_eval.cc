// edgemlp eval: accuracy of a float model or an int8 blob on the MNIST test
// set, with the digests that prove two machines computed the same thing.
#include <chrono>
#include <memory>

#include "cli/cli.h"
#include "cli/data_options.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "idx.h"
#include "cli/model_file.h"
#include "quantize.h"
#include "train.h"

namespace edgemlp::cli {

namespace {

struct EvalOptions {
  std::string model;
  DataSpec data_spec;
  std::string target;  // force a SIMD target by name
  size_t count = 0;    // the first `count` test images; 0: all
  bool reference = false;
  bool json = false;
};

int64_t FindTarget(const std::string& name) {
  std::string known;
  for (int64_t t : AvailableTargets()) {
    if (name == TargetName(t)) return t;
    known += std::string(known.empty() ? "" : ", ") + TargetName(t);
  }
  throw InputError("--target " + name + ": not available here (available: " + known + ")");
}

struct Outcome {
  std::vector<uint8_t> predictions;
  std::vector<uint8_t> outputs;  // little-endian int32 or float32, per image
  std::string engine;
  double seconds = 0;
};

Outcome RunInt8(const ModelFile& file, const LoadedData& data, const EvalOptions& o) {
  const Dataset& test = data.test;
  Network net;
  const LoadResult r = Network::Load(file.bytes(), file.size, &net);
  if (!r.ok()) throw InputError(file.path + ": " + r.message);
  if (!o.target.empty()) ForceTarget(FindTarget(o.target));
  Outcome out;
  out.engine = o.reference ? "scalar-reference" : TargetName(ChosenTarget());
  const size_t n_out = net.output_size();
  out.predictions.resize(test.size());
  out.outputs.resize(test.size() * n_out * 4);
  std::vector<int32_t> logits(n_out);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < test.size(); ++i) {
    out.predictions[i] =
        static_cast<uint8_t>(PredictTestRow(net, data, i, logits.data(), o.reference));
    std::memcpy(out.outputs.data() + i * n_out * 4, logits.data(), n_out * 4);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ForceTarget(0);
  return out;
}

Outcome RunFloat(const ModelFile& file, const Dataset& test) {
  const FloatModel model = DeserializeFloatModel(file.bytes(), file.size, file.path);
  Outcome out;
  out.engine = "eigen-f32";
  Eigen::MatrixXf logits;
  const auto start = std::chrono::steady_clock::now();
  out.predictions = PredictFloat(model, test, 0, test.size(), &logits);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Column-major: image i's outputs are contiguous, in test-set order.
  out.outputs.resize(logits.size() * 4);
  std::memcpy(out.outputs.data(), logits.data(), out.outputs.size());
  return out;
}

// The model's weight scheme: "float32", "int8", "int16", "int4", or "mixed"
// when `export --layer-quant` gave layers different schemes.
std::string Scheme(const ModelFile& file) {
  std::string scheme;
  for (const LayerRecord& l : file.view.layers) {
    const std::string name = WeightTypeName(static_cast<WeightType>(l.weight_type));
    if (!scheme.empty() && name != scheme) return "mixed";
    scheme = name;
  }
  return scheme;
}

void RunEval(const EvalOptions& o) {
  const ModelFile file = ReadModelFile(o.model);
  if ((o.reference || !o.target.empty()) && !file.is_int8()) {
    throw InputError(o.model + ": --target and --reference apply to int8 blobs");
  }
  const ModelShape shape = ShapeOfFile(file);
  LoadedData data = LoadAndLog(o.data_spec, &shape);
  Dataset& test = data.test;
  if (o.count > test.size()) {
    throw InputError("--count " + std::to_string(o.count) + ": the test set of " + data.source +
                     " has " + std::to_string(test.size()) + (data.features ? " rows" : " images"));
  }
  if (o.count != 0) {  // the first rows, as edgemlp-mcu carries them
    test.labels.resize(o.count);
    test.images.count = static_cast<uint32_t>(o.count);
    test.images.pixels.resize(o.count * test.images.image_size());
    if (!data.test_x.empty()) data.test_x.resize(o.count * size_t{data.input_size()});
  }
  if (shape.input_size != data.input_size()) {
    throw InputError(o.model + ": expects " + std::to_string(shape.input_size) +
                     " inputs but the data (" + data.source + ") has " +
                     std::to_string(data.input_size()));
  }
  if (shape.outputs < test.classes) {
    throw InputError(o.model + ": has " + std::to_string(shape.outputs) +
                     " outputs but the data has " + std::to_string(test.classes) + " classes");
  }
  const Outcome out = file.is_int8() ? RunInt8(file, data, o) : RunFloat(file, test);

  const int classes = static_cast<int>(shape.outputs);
  std::vector<std::vector<int>> confusion(classes, std::vector<int>(classes, 0));
  size_t correct = 0;
  for (size_t i = 0; i < test.size(); ++i) {
    const int p = std::min<int>(out.predictions[i], classes - 1);
    confusion[test.labels[i]][p]++;
    correct += out.predictions[i] == test.labels[i];
  }
  Json per_class = Json::array();
  std::string table = "class  accuracy  count\n";
  for (int c = 0; c < classes; ++c) {
    int total = 0;
    for (int v : confusion[c]) total += v;
    const double acc = total ? static_cast<double>(confusion[c][c]) / total : 0.0;
    per_class.push_back(acc);
    char line[64];
    std::snprintf(line, sizeof(line), "%5d  %7.2f%%  %5d\n", c, 100 * acc, total);
    table += line;
  }
  const double accuracy = static_cast<double>(correct) / test.size();
  const double us_per_image = 1e6 * out.seconds / test.size();
  const Json j = {{"model", o.model},
                  {"data", DataJson(data, o.data_spec)},
                  {"kind", Scheme(file)},
                  {"engine", out.engine},
                  {"accuracy", accuracy},
                  {"count", test.size()},
                  {"correct", correct},
                  {"per_class", per_class},
                  {"confusion", confusion},
                  {"predictions_sha256", Sha256Hex(out.predictions.data(), out.predictions.size())},
                  {"outputs_sha256", Sha256Hex(out.outputs.data(), out.outputs.size())},
                  {"us_per_image", us_per_image},
                  {"model_bytes", file.size}};
  std::string human;
  char head[256];
  std::snprintf(head, sizeof(head),
                "%s (%s, %zu bytes): accuracy %.2f%% (%zu/%zu), %.2f us per image on %s%s\n",
                o.model.c_str(), Scheme(file).c_str(), file.size,
                100 * accuracy, correct, test.size(), us_per_image, out.engine.c_str(),
                file.is_int8() ? " (batch 1)" : " (batched)");
  human += head + table + "confusion (rows: true class, columns: predicted)\n      ";
  char cell[16];
  for (int c = 0; c < classes; ++c) {
    std::snprintf(cell, sizeof(cell), "%6d", c);
    human += cell;
  }
  human += "\n";
  for (int r = 0; r < classes; ++r) {
    std::snprintf(cell, sizeof(cell), "%6d", r);
    human += cell;
    for (int c = 0; c < classes; ++c) {
      std::snprintf(cell, sizeof(cell), "%6d", confusion[r][c]);
      human += cell;
    }
    human += "\n";
  }
  Emit(o.json, j, human);
}

}  // namespace

void AddEval(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Test accuracy, per-class accuracy, confusion matrix and time per image");
  cmd->add_option("model", o->model, "Float model or int8 blob")->required();
  AddDataOptions(cmd, &o->data_spec);
  cmd->add_option("--target", o->target, "int8: force a SIMD target (e.g. AVX2; see `edgemlp bench`)");
  cmd->add_flag("--reference", o->reference, "int8: use the scalar reference forward pass");
  cmd->add_option("--count", o->count, "Evaluate the first N test images only (default: all)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunEval(*o); });
}

}  // namespace edgemlp::cli
