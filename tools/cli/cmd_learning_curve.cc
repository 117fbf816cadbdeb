// edgemlp learning-curve [train options]: accuracy vs training-set size
// (train, validation, test) for bias/variance, with an SVG plot.
#include <memory>

#include "atomic_file.h"
#include "cli/cli.h"
#include "cli/data_options.h"
#include "error.h"
#include "cli/plots.h"
#include "cli/train_options.h"

namespace edgemlp::cli {

namespace {

struct CurveOptions {
  TrainOptions train;
  std::vector<uint32_t> sizes = {1000, 2000, 5000, 10000, 20000, 55000};
  std::string plot = "learning-curve.svg";
};

void RunCurve(const CurveOptions& c) {
  const LoadedData mnist = LoadAndLog(c.train.data_spec);
  Series train{"train", "#1f77b4", {}, {}}, val{"validation", "#d62728", {}, {}},
      test{"test", "#2ca02c", {}, {}};
  Json points = Json::array();
  // Sizes beyond the data are replaced by all of it (small CSV data sets).
  const size_t pool = mnist.train.size() - ResolveConfig(c.train, mnist.train.size()).val_count;
  std::vector<uint32_t> sizes;
  for (uint32_t size : c.sizes) {
    if (size <= pool) sizes.push_back(size);
  }
  if (sizes.size() < c.sizes.size() && (sizes.empty() || sizes.back() != pool)) {
    Log("learning-curve: %zu training rows; larger sizes are replaced by all of them", pool);
    sizes.push_back(static_cast<uint32_t>(pool));
  }
  for (uint32_t size : sizes) {
    TrainOptions o = c.train;
    o.train_count = size;
    o.balanced = 0;
    const Run run = TrainWithDiagnostics(o, mnist, true);
    const size_t n_fit = std::min<size_t>(run.n_train, 5000);
    const std::vector<uint8_t> fit = PredictFloat(run.result.model, run.data, 0, n_fit);
    size_t correct = 0;
    for (size_t i = 0; i < n_fit; ++i) correct += fit[i] == run.data.labels[i];
    const double train_acc = static_cast<double>(correct) / n_fit;
    const double val_acc = run.result.history[run.result.best_epoch - 1].val_accuracy;
    Log("%6u images: train %.2f%%  validation %.2f%%  test %.2f%%", size, 100 * train_acc,
        100 * val_acc, 100 * run.test_accuracy);
    points.push_back({{"train_count", size},
                      {"train_accuracy", train_acc},
                      {"val_accuracy", val_acc},
                      {"test_accuracy", run.test_accuracy}});
    for (Series* s : {&train, &val, &test}) s->x.push_back(size);
    train.y.push_back(100 * train_acc);
    val.y.push_back(100 * val_acc);
    test.y.push_back(100 * run.test_accuracy);
  }
  WriteFileAtomic(c.plot, LineChartSvg("Accuracy vs training-set size", "training images (log)",
                                       "accuracy (%)", {train, val, test}, {true, false}));
  std::string human;
  for (const Json& p : points) {
    char line[160];
    std::snprintf(line, sizeof(line), "%6u images: train %.2f%%  validation %.2f%%  test %.2f%%\n",
                  p["train_count"].get<uint32_t>(), 100 * p["train_accuracy"].get<double>(),
                  100 * p["val_accuracy"].get<double>(), 100 * p["test_accuracy"].get<double>());
    human += line;
  }
  human += "plot: " + c.plot + "\n";
  Emit(c.train.json, Json{{"points", points}, {"plot", c.plot}}, human);
}

}  // namespace

void AddLearningCurve(CLI::App& app) {
  auto c = std::make_shared<CurveOptions>();
  CLI::App* cmd = app.add_subcommand(
      "learning-curve", "Accuracy vs training-set size (train/validation/test), with an SVG plot");
  AddTrainOptions(cmd, &c->train);
  cmd->add_option("--sizes", c->sizes,
                  "Training-set sizes (first N images; sizes beyond the data become all of it)")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::Range(20, 10000000));
  cmd->add_option("--plot", c->plot, "SVG file to write")->capture_default_str();
  cmd->callback([c] { RunCurve(*c); });
}

}  // namespace edgemlp::cli
