// edgemlp predict: image files -> digit and probabilities, on the runtime.
#include <memory>

#include "cli/cli.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "image.h"

namespace edgemlp::cli {

namespace {

struct PredictOptions {
  std::string blob;
  std::vector<std::string> images;
  bool json = false;
};

void RunPredict(const PredictOptions& o) {
  Network net;
  const LoadResult r = Network::LoadFile(o.blob, &net);
  if (!r.ok()) throw InputError(r.message);
  const FileHeader& h = net.blob().header;
  if (h.input_rows * h.input_cols != h.input_size || h.input_rows == 0) {
    throw InputError(o.blob + ": its input is not an image");
  }
  Json results = Json::array();
  std::string human;
  std::vector<int32_t> logits(net.output_size());
  std::vector<float> probs(net.output_size());
  for (const std::string& path : o.images) {
    const std::vector<uint8_t> pixels = ReadImage(path, h.input_rows, h.input_cols);
    const int digit = net.Predict(pixels.data(), logits.data());
    Softmax(logits.data(), logits.size(), net.logit_scale(), probs.data());
    results.push_back({{"file", path}, {"digit", digit}, {"probability", probs[digit]},
                       {"probabilities", probs}});
    char line[512];
    int n = std::snprintf(line, sizeof(line), "%s: %d (%.1f%%)  [", path.c_str(), digit,
                          100 * probs[digit]);
    for (size_t k = 0; k < probs.size(); ++k) {
      n += std::snprintf(line + n, sizeof(line) - n, "%s%zu:%.3f", k ? " " : "", k, probs[k]);
    }
    human += std::string(line) + "]\n";
  }
  Emit(o.json, {{"model", o.blob}, {"target", TargetName(ChosenTarget())}, {"predictions", results}},
       human);
}

}  // namespace

void AddPredict(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Digit and probabilities for images (PGM/PNG; other sizes are scaled to 28x28)");
  cmd->add_option("blob", o->blob, "int8 blob")->required();
  cmd->add_option("images", o->images, "Image files")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunPredict(*o); });
}

}  // namespace edgemlp::cli
