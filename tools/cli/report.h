// The run report page: one self-contained HTML file that reads a training
// run as a page (configuration, curves, diagnostics, confusion matrix,
// misclassified digits, quantization report, bench table). Inline CSS,
// pictures as data: URIs, a Content-Security-Policy that forbids every
// fetch: it reads the same offline, from file:// or any server.
#ifndef EDGEMLP_TOOLS_REPORT_H_
#define EDGEMLP_TOOLS_REPORT_H_

#include <string>
#include <vector>

#include "cli/cli.h"

namespace edgemlp::cli {

// What a run directory holds; each part names the file it comes from.
// Absent parts are empty (strings) or null (JSON).
struct RunRecord {
  std::string dir;                // the run directory, for the commands that make a missing part
  Json train;                     // train.json: `edgemlp train --json` (required)
  std::string confusion_svg;      // confusion.svg  } `edgemlp train --plots DIR`
  std::string misclassified_png;  // misclassified.png
  Json misclassified;             // misclassified.json
  Json exported;                  // export.json: `edgemlp export --json`
  Json bench;                     // bench.json: `edgemlp bench --json`
};

// Reads `dir`. Throws InputError naming the directory when it is missing or
// holds no train.json, and naming the file when one is damaged or is not
// what edgemlp writes under that name.
RunRecord LoadRunDir(const std::string& dir);

struct ReportSection {
  std::string id;  // the section's HTML id: configuration, curves, ...
  std::string title;
  std::string source;  // the file(s) it comes from
  bool present = false;
  std::string command;  // when absent: the command that makes it
};

// The sections a page of `run` has, in page order.
std::vector<ReportSection> ReportSections(const RunRecord& run);

// The page. Every text from the run is HTML-escaped; pictures are embedded
// as base64 data: URIs, so nothing in them can leave the <img>.
std::string ReportHtml(const RunRecord& run);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_REPORT_H_
