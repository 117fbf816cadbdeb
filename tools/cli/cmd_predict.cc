// edgemlp predict: image files -> digit and probabilities, on the runtime.
#include <memory>

#include "cli/cli.h"
#include "edgemlp/mnist_frame.h"
#include "edgemlp/runtime.h"
#include "error.h"

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
      "predict", "Digit and probabilities for images (PGM/PNG, preprocessed like MNIST; .raw: 784 bytes)");
  cmd->add_option("blob", o->blob, "int8 blob")->required();
  cmd->add_option("images", o->images, "Image files")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunPredict(*o); });
}

}  // namespace edgemlp::cli
