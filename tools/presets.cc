#include "presets.h"

#include "error.h"

namespace edgemlp::cli {

const std::vector<Preset>& Presets() {
  static const std::vector<Preset> presets = {
      {"default",
       "the default model: 784-256-128-10 ReLU, Adam 1e-3, batch 128, cosine, 15 epochs "
       "(~98.2% test; about 6 s on 2 cores)",
       {"--arch", "784-256-128-10", "--optimizer", "adam", "--lr", "0.001", "--batch", "128",
        "--schedule", "cosine", "--epochs", "15"}},
      {"stuck-3.25",
       "a learner's run that plateaus at cost 3.25 and ~11% accuracy (docs/stuck-3.25.md): "
       "784-5-5-10 sigmoid, sum of 10 sigmoid BCEs, full-batch GD lr 2, 5 iterations, L2 "
       "lambda 1 as lambda/(2m), first 30,000 images in [-1,1], init U[0,0.01)",
       {"--arch", "784-5-5-10", "--activation", "sigmoid", "--loss", "sigmoid-bce", "--init",
        "uniform:0,0.01", "--optimizer", "gd", "--lr", "2", "--batch", "full", "--schedule",
        "constant", "--epochs", "5", "--l2-lambda", "1", "--input", "symmetric", "--train-count",
        "30000"}},
  };
  return presets;
}

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const Preset& p : Presets()) names.push_back(p.name);
  return names;
}

void ExpandPreset(std::vector<std::string>* args) {
  std::string name;
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& a = (*args)[i];
    if (a == "--preset" && i + 1 < args->size()) name = (*args)[i + 1];
    if (a.rfind("--preset=", 0) == 0) name = a.substr(9);
  }
  if (name.empty() || args->empty()) return;
  for (const Preset& p : Presets()) {
    if (p.name == name) {
      args->insert(args->begin() + 1, p.args.begin(), p.args.end());
      return;
    }
  }
  std::string known;
  for (const std::string& n : PresetNames()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("--preset " + name + ": unknown (known: " + known + ")");
}

}  // namespace edgemlp::cli
