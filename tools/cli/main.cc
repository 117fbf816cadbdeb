// edgemlp: train, export, evaluate, inspect, predict and benchmark small
// MLPs on MNIST-format data. One binary, one subcommand per stage.
#include <algorithm>
#include <exception>
#include <iostream>

#include "cli/cli.h"
#include "error.h"
#include "cli/presets.h"
#include "version.h"

int main(int argc, char** argv) {
  using namespace edgemlp::cli;
  CLI::App app{
      "edgemlp: train a small MLP on MNIST, export it as an int8 blob, run it "
      "with Highway SIMD.",
      "edgemlp"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgemlp " EDGEMLP_VERSION " (git " EDGEMLP_GIT_REVISION ")");
  app.footer(
      "Data: --data DIR, else $EDGEMLP_DATA, else ./data/mnist (the four MNIST "
      "IDX files, gzipped or not, any image size and class count; "
      "tools/scripts/fetch-mnist.sh gets MNIST), or --data FILE: .csv, .csv.gz, "
      ".tsv, .npy or .npz float features with integer labels (docs/datasets.md).\n"
      "Exit codes: 0 success, 1 internal error, 2 usage error, 3 bad input "
      "file or data, 130 training interrupted by SIGINT/SIGTERM (a checkpoint "
      "was saved; continue with `edgemlp train --resume DIR`).\n"
      "--json: stdout is exactly one JSON object; progress and logs go to "
      "stderr.");
  AddTrain(app);
  AddExport(app);
  AddEval(app);
  AddInspect(app);
  AddPredict(app);
  AddBench(app);
  AddFinetune(app);
  AddDoctor(app);
  AddLearningCurve(app);
  AddReport(app);
  AddImport(app);
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    SetCommandLine(args);
    ExpandPreset(&args);
    std::reverse(args.begin(), args.end());  // CLI11 takes them last-first
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  } catch (const ExitWith& e) {
    return e.code;
  } catch (const edgemlp::InputError& e) {
    std::cerr << "edgemlp: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "edgemlp: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return kExitOk;
}
