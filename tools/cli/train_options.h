// The options every training command shares (train, doctor,
// learning-curve): how they are declared on the command line, and one
// training run with diagnostics, as those commands need it.
#ifndef EDGEMLP_TOOLS_TRAIN_OPTIONS_H_
#define EDGEMLP_TOOLS_TRAIN_OPTIONS_H_

#include <string>
#include <vector>

#include "cli/cli.h"
#include "dataset.h"
#include "diagnostics.h"
#include "idx.h"
#include "train.h"

namespace edgemlp::cli {

struct TrainOptions {
  DataSpec data_spec;
  std::string arch = "784-256-128-10";
  std::string out;
  std::string preset;               // expanded before parsing (presets.h); kept for the record
  std::string batch = "128";        // a size or "full"
  std::string activation = "relu";  // one for all hidden layers, or a comma list
  std::string init = "he";          // he | xavier | glorot | uniform:A,B
  std::string qat;                  // "" | a scheme for all layers | one per layer
  uint32_t train_count = 0;         // 0: every training image not held out
  uint32_t balanced = 0;
  TrainConfig config;
  bool json = false;
};

// Declares the training options on `cmd` (--out is left to the caller).
void AddTrainOptions(CLI::App* cmd, TrainOptions* o);

// The TrainConfig the options describe (arch, batch, activations, init
// parsed; --val-count auto resolved for `train_examples`: 10%, at most
// 5000); throws InputError for a malformed value.
TrainConfig ResolveConfig(const TrainOptions& o, size_t train_examples);

struct Run {
  TrainConfig config;
  Dataset data;  // the training subset followed by the validation split
  size_t n_train = 0;
  TrainResult result;
  double test_accuracy = 0;  // of result.model
  // With --qat: of result.model's weights quantized as export will (hidden
  // activations stay float); else -1.
  double qat_test_accuracy = -1;
  double final_loss = 0;     // the run's own cost of the final model on its training images
  std::vector<uint8_t> test_predictions;
  std::vector<Finding> findings;
};

// Trains as `o` says on `data`, with the diagnostics before and after
// (logged to stderr unless `quiet`). `hooks` are passed to Train.
// With resume_config/resume_state (a checkpoint), continues that run.
// The models in the result carry the data's input transform.
Run TrainWithDiagnostics(const TrainOptions& o, const LoadedData& data, bool quiet,
                         TrainHooks hooks = {}, const TrainConfig* resume_config = nullptr,
                         TrainState* resume_state = nullptr);

// Diagnostics as JSON records and as human lines.
Json FindingsJson(const std::vector<Finding>& findings);
std::string FindingLine(const Finding& f);

// Parses `args` (a train command line without "edgemlp train") into options.
TrainOptions ParseTrainArgs(std::vector<std::string> args);

// `args` (a train command line without "edgemlp train") with `overrides`
// applied, as a person would type it: a preset expanded into its options,
// each option once, where it first appears, with its last value; options
// new in `overrides` follow in their order.
std::vector<std::string> MergeTrainArgs(std::vector<std::string> args,
                                        const std::vector<std::string>& overrides);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_TRAIN_OPTIONS_H_
