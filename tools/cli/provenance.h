// Provenance recorded in model files (the blob's metadata section): which
// tool, source revision and data made them, and optionally when.
#ifndef EDGEMLP_TOOLS_PROVENANCE_H_
#define EDGEMLP_TOOLS_PROVENANCE_H_

#include <string>

#include "cli/cli.h"
#include "idx.h"
#include "train.h"

namespace edgemlp::cli {

// {"tool": "edgemlp", "tool_version", "git_revision", ["created_at"]}.
// created_at (UTC, ISO 8601) is SOURCE_DATE_EPOCH if set, else now; omitted
// when `timestamp` is false so that builds are byte-for-byte reproducible.
Json ToolProvenance(bool timestamp);

// SHA-256 of a data set's pixels and labels: names the data a model saw.
std::string DatasetDigest(const Dataset& data);

// What `edgemlp train` records: architecture, seed, epochs, optimizer,
// dataset digests, float test accuracy, plus ToolProvenance(true).
Json TrainProvenance(const TrainConfig& config, const std::string& arch, const Mnist& mnist,
                     double test_accuracy);

// Parses a model's provenance JSON (empty object if absent or unparsable).
Json ParseProvenance(const std::string& text);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_PROVENANCE_H_
