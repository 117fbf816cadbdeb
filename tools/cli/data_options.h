// The data options every data-reading command shares (--data, --test-data,
// --label-column, --test-fraction, --split-seed) and how a run reports them.
#ifndef EDGEMLP_TOOLS_DATA_OPTIONS_H_
#define EDGEMLP_TOOLS_DATA_OPTIONS_H_

#include "cli/cli.h"
#include "dataset.h"
#include "cli/model_file.h"
#include "edgemlp/runtime.h"

namespace edgemlp::cli {

// Declares the options on `cmd`, writing into `spec`.
void AddDataOptions(CLI::App* cmd, DataSpec* spec);

// LoadData with the source and the test split logged to stderr.
LoadedData LoadAndLog(const DataSpec& spec, const ModelShape* model = nullptr);
LoadedData LoadAndLog(const DataSpec& spec, const FloatModel& model);
// The shape of a float model or integer blob already read.
ModelShape ShapeOfFile(const ModelFile& file);

// Runs test row `i` of `data` through the int8 network: its float features
// (PredictFloat) for feature data, its pixels otherwise; the scalar
// reference with `reference`. Returns the class.
int PredictTestRow(Network& net, const LoadedData& data, size_t i, int32_t* logits,
                   bool reference);

// {"source", "split", "features", "classes", "train_rows", "test_rows",
//  "test_fraction"/"split_seed" when held out, "class_names" when named}.
Json DataJson(const LoadedData& data, const DataSpec& spec);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_DATA_OPTIONS_H_
