#include "cli/presets.h"

#include "error.h"

namespace edgemlp::cli {

const std::vector<Preset>& Presets() {
  static const std::vector<Preset> presets = {
      {"default",
       "the default model: 784-256-128-10 ReLU, Adam 1e-3, batch 128, cosine, 15 epochs "
       "(~98.2% test; about 6 s on 2 cores)",
       {"--arch", "784-256-128-10", "--optimizer", "adam", "--lr", "0.001", "--batch", "128",
        "--schedule", "cosine", "--epochs", "15"}},
      {"fast",
       "784-256-128-10 without augmentation: Adam 2e-3 one-cycle, batch 128, dropout 0.2, "
       "label smoothing 0.1, weight EMA 0.999, 20 epochs (98.29% int8 test; 0.7 min on 1 "
       "thread of a 2-core VM at load average 10; see docs/models.md)",
       {"--arch", "784-256-128-10", "--optimizer", "adam", "--lr", "0.002", "--batch", "128",
        "--schedule", "one-cycle", "--dropout", "0.2", "--label-smoothing", "0.1", "--ema",
        "0.999", "--epochs", "20"}},
      {"no-aug",
       "784-256-128-10, no augmentation of any kind: the fast recipe with AdamW (decoupled "
       "weight decay 0.1), 60 epochs (98.54% int8 test; 1.5 min on 1 thread of a 2-core VM "
       "at load average 8.4; see docs/models.md)",
       {"--arch", "784-256-128-10", "--optimizer", "adamw", "--weight-decay", "0.1", "--lr",
        "0.002", "--batch", "128", "--schedule", "one-cycle", "--dropout", "0.2",
        "--label-smoothing", "0.1", "--ema", "0.999", "--epochs", "60"}},
      {"micro",
       "16x16 input (area-downsampled in the blob), 256-64-64-48-10 with int4 weights, "
       "12,016 weight bytes: Adam 2e-3 one-cycle, batch 128, label smoothing 0.05, EMA 0.999, "
       "affine distortions (shift 1.5, rotation 10, zoom 10%, shear 0.1), 300 epochs, the "
       "last 150 through the int4 weights (--qat int4 --qat-from 151) (99.03% on the "
       "runtime; about 6 min on 1 thread; see docs/models.md)",
       {"--downsample", "16", "--arch", "256-64-64-48-10", "--qat", "int4", "--qat-from", "151",
        "--optimizer", "adam", "--lr", "0.002", "--batch", "128", "--schedule", "one-cycle",
        "--label-smoothing", "0.05", "--ema", "0.999", "--shift", "1.5", "--rotate", "10",
        "--scale", "0.1", "--shear", "0.1", "--epochs", "300"}},
      {"tiny",
       "18x18 input (area-downsampled in the blob), 324-128-96-64-10 with int4 weights, "
       "30,272 weight bytes: the micro recipe (300 epochs, the last 150 through the int4 "
       "weights) (99.26% on the runtime; about 6 min on 1 thread; see docs/models.md)",
       {"--downsample", "18", "--arch", "324-128-96-64-10", "--qat", "int4", "--qat-from",
        "151", "--optimizer", "adam", "--lr", "0.002", "--batch", "128", "--schedule",
        "one-cycle", "--label-smoothing", "0.05", "--ema", "0.999", "--shift", "1.5",
        "--rotate", "10", "--scale", "0.1", "--shear", "0.1", "--epochs", "300"}},
      {"best",
       "784-800-800-10 on affine + elastic distortions: Adam 2e-3 cosine, batch 128, "
       "dropout 0.25, max-norm 3.5, label smoothing 0.05, weight EMA 0.999, 200 epochs "
       "(99.43% int8 test; 47 min with 2 threads of a 2-core VM; see docs/models.md)",
       {"--arch", "784-800-800-10", "--optimizer", "adam", "--lr", "0.002", "--batch", "128",
        "--schedule", "cosine", "--shift", "1.5", "--rotate", "8", "--scale", "0.08", "--shear",
        "0.1", "--elastic-alpha", "30", "--elastic-sigma", "5", "--dropout", "0.25",
        "--max-norm", "3.5", "--label-smoothing", "0.05", "--ema", "0.999", "--epochs", "200"}},
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
