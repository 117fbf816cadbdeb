// Outputs are never silently replaced by a different kind of file: writing a
// blob over a float model, or a model over someone's data, needs --force.
#ifndef EDGEMLP_TOOLS_OUTPUT_GUARD_H_
#define EDGEMLP_TOOLS_OUTPUT_GUARD_H_

#include <string>

namespace edgemlp::cli {

enum class FileKind { kMissing, kEmpty, kFloatModel, kInt8Blob, kCHeader, kReport, kOther };

// The first bytes of every run report page (`edgemlp report`), which mark it as ours.
inline constexpr char kReportStart[] = "<!DOCTYPE html>\n<!-- edgemlp run report -->\n";

const char* FileKindName(FileKind kind);
// What `path` holds now, from its first bytes.
FileKind DetectFileKind(const std::string& path);

// Throws InputError when `path` exists and holds something other than
// `kind` (an empty file counts as free), unless `force`.
void CheckOverwrite(const std::string& path, FileKind kind, bool force);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_OUTPUT_GUARD_H_
