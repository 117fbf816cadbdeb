// Shared pieces of the edgemlp subcommands: exit codes, output (one JSON
// object on stdout with --json; logs and progress on stderr), digests.
#ifndef EDGEMLP_TOOLS_CLI_H_
#define EDGEMLP_TOOLS_CLI_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace edgemlp::cli {

using Json = nlohmann::ordered_json;

// Exit codes (documented in `edgemlp --help`).
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,   // a bug or an environment failure
  kExitUsage = 2,      // bad command line
  kExitBadInput = 3,   // a missing, damaged or wrong input file
  kExitInterrupted = 130,  // SIGINT/SIGTERM: stopped cleanly, checkpoint saved
};

// Thrown to end the program with `code` once the output is complete.
struct ExitWith {
  int code;
};

// Prints the result: JSON on stdout, or `human` text on stdout.
void Emit(bool json, const Json& object, const std::string& human);

// printf-style log line to stderr.
void Log(const char* format, ...) __attribute__((format(printf, 1, 2)));

// A progress bar on stderr, redrawn in place when stderr is a terminal.
class Progress {
 public:
  explicit Progress(std::string label);
  void Update(double fraction);
  void Done();

 private:
  std::string label_;
  bool tty_;
  int last_percent_ = -1;
};

std::string Sha256Hex(const void* data, size_t size);

// The command line as typed (argv without the program name), for commands
// that print a corrected version of it (doctor).
void SetCommandLine(std::vector<std::string> args);
const std::vector<std::string>& CommandLine();

// Each subcommand registers itself on the app.
void AddTrain(CLI::App& app);
void AddExport(CLI::App& app);
void AddEval(CLI::App& app);
void AddInspect(CLI::App& app);
void AddPredict(CLI::App& app);
void AddBench(CLI::App& app);
void AddFinetune(CLI::App& app);
void AddDoctor(CLI::App& app);
void AddLearningCurve(CLI::App& app);
void AddReport(CLI::App& app);
void AddImport(CLI::App& app);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_CLI_H_
