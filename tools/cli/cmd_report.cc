// edgemlp report RUN_DIR: the run directory's files as one self-contained
// HTML page (cli/report.h).
#include <memory>

#include "atomic_file.h"
#include "cli/cli.h"
#include "cli/output_guard.h"
#include "cli/report.h"

namespace edgemlp::cli {

namespace {

struct ReportCommand {
  std::string dir;
  std::string out;  // default RUN_DIR/report.html
  bool force = false;
  bool json = false;
};

void RunReport(const ReportCommand& c) {
  const RunRecord run = LoadRunDir(c.dir);
  const std::string out =
      !c.out.empty() ? c.out : c.dir + (c.dir.back() == '/' ? "" : "/") + "report.html";
  CheckOverwrite(out, FileKind::kReport, c.force);
  WriteFileAtomic(out, ReportHtml(run));
  Json sections = Json::array();
  std::string human = "report " + out + "\n";
  for (const ReportSection& s : ReportSections(run)) {
    Json j = {{"id", s.id}, {"title", s.title}, {"source", s.source}, {"present", s.present}};
    if (!s.present) j["command"] = s.command;
    sections.push_back(j);
    human += "  " + s.title +
             (s.present ? " (" + s.source + ")" : ": not present, make it with: " + s.command) +
             "\n";
  }
  Emit(c.json, {{"report", out}, {"run_dir", c.dir}, {"sections", sections}}, human);
}

}  // namespace

void AddReport(CLI::App& app) {
  auto c = std::make_shared<ReportCommand>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "A run directory (train.json, train --plots, export.json, bench.json) as one "
      "self-contained HTML page");
  cmd->add_option("RUN_DIR", c->dir, "The run directory")->required();
  cmd->add_option("--out", c->out, "Output HTML file (default RUN_DIR/report.html)");
  cmd->add_flag("--force", c->force, "Overwrite an --out that is not an edgemlp run report");
  cmd->add_flag("--json", c->json, "Print one JSON object: the page's path and its sections");
  cmd->callback([c] { RunReport(*c); });
}

}  // namespace edgemlp::cli
