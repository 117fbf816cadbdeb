// edgemlp predict: image files -> digit and probabilities, on the runtime;
// for a model trained on CSV/NumPy features, each row of feature files.
#include <memory>

#include "cli/cli.h"
#include "dataset.h"
#include "edgemlp/mnist_frame.h"
#include "edgemlp/runtime.h"
#include "error.h"

namespace edgemlp::cli {

namespace {

struct PredictOptions {
  std::string blob;
  std::vector<std::string> images;
  std::string label_column = "none";
  bool json = false;
};

// The class and probabilities of one input, as JSON and as a line.
void Report(const std::string& where, int cls, const std::vector<float>& probs, Json extra,
            Json* results, std::string* human) {
  extra["digit"] = cls;
  extra["probability"] = probs[cls];
  extra["probabilities"] = probs;
  results->push_back(extra);
  char line[512];
  int n = std::snprintf(line, sizeof(line), "%s: %d (%.1f%%)  [", where.c_str(), cls,
                        100 * probs[cls]);
  for (size_t k = 0; k < probs.size() && n < static_cast<int>(sizeof(line)) - 32; ++k) {
    n += std::snprintf(line + n, sizeof(line) - n, "%s%zu:%.3f", k ? " " : "", k, probs[k]);
  }
  *human += std::string(line) + "]\n";
}

// Feature files (.csv/.npy/.npz): one prediction per row, through PredictFloat.
void PredictFeatures(const PredictOptions& o, Network& net) {
  Json results = Json::array();
  std::string human;
  std::vector<int32_t> logits(net.output_size());
  std::vector<float> probs(net.output_size());
  for (const std::string& path : o.images) {
    const FeatureSet rows = ReadFeatureFile(path, o.label_column);
    if (rows.features != net.input_size()) {
      throw InputError(path + ": " + std::to_string(rows.features) + " features per row but " +
                       o.blob + " takes " + std::to_string(net.input_size()));
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const int cls = net.PredictFloat(rows.row(i), logits.data());
      if (cls < 0) throw InputError(path + ": row " + std::to_string(i) + " is not finite");
      Softmax(logits.data(), logits.size(), net.logit_scale(), probs.data());
      Report(path + ":" + std::to_string(i), cls, probs, {{"file", path}, {"row", i}}, &results,
             &human);
    }
  }
  Emit(o.json, {{"model", o.blob}, {"target", TargetName(ChosenTarget())}, {"predictions", results}},
       human);
}

void RunPredict(const PredictOptions& o) {
  Network net;
  const LoadResult r = Network::LoadFile(o.blob, &net);
  if (!r.ok()) throw InputError(r.message);
  if (net.input_transform().kind == InputTransformKind::kAffine) return PredictFeatures(o, net);
  const FileHeader& h = net.blob().header;
  if (h.input_rows != kFrameSide || h.input_cols != kFrameSide) {
    throw InputError(o.blob + ": its input is not a 28x28 image (" + std::to_string(h.input_size) +
                     " values); predict makes MNIST frames");
  }
  // The firmware's image path (preprocess/): crop, fit to 20x20, centre by
  // mass, light backgrounds inverted; buffers reserved once.
  std::unique_ptr<uint8_t[]> file(new uint8_t[kMaxImageFileBytes + 1]);
  std::unique_ptr<uint8_t[]> arena_memory(new uint8_t[DecodeArena::kRecommendedBytes]);
  DecodeArena arena(arena_memory.get(), DecodeArena::kRecommendedBytes);
  uint8_t pixels[kFrameBytes];
  Json results = Json::array();
  std::string human;
  std::vector<int32_t> logits(net.output_size());
  std::vector<float> probs(net.output_size());
  for (const std::string& path : o.images) {
    if (const char* error = ReadFrameFile(path.c_str(), file.get(), &arena, pixels)) {
      throw InputError(path + ": " + error);
    }
    const int digit = net.Predict(pixels, logits.data());
    Softmax(logits.data(), logits.size(), net.logit_scale(), probs.data());
    Report(path, digit, probs, {{"file", path}}, &results, &human);
  }
  Emit(o.json, {{"model", o.blob}, {"target", TargetName(ChosenTarget())}, {"predictions", results}},
       human);
}

}  // namespace

void AddPredict(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Digit and probabilities for images (PGM/PNG, preprocessed like MNIST; .raw: 784 bytes), "
      "or class and probabilities for each row of .csv/.npy/.npz feature files (a model "
      "trained on CSV/NumPy data)");
  cmd->add_option("blob", o->blob, "int8 blob")->required();
  cmd->add_option("images", o->images, "Image files, or feature files")->required();
  cmd->add_option("--label-column", o->label_column,
                  "Feature files: a label column to skip (default none: every column is a "
                  "feature)")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunPredict(*o); });
}

}  // namespace edgemlp::cli
