// edgemlp train: MNIST -> float model file, with diagnostics before and
// after the run (trainer/diagnostics.h) and optional metrics and plots.
#include <memory>

#include "atomic_file.h"
#include "cli.h"
#include "error.h"
#include "idx.h"
#include "plots.h"
#include "train_options.h"

namespace edgemlp::cli {

namespace {

struct TrainCommand {
  TrainOptions options;
  std::string metrics;  // per-epoch JSONL
  std::string plots;    // directory for curves, confusion matrix, misclassified digits
};

std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * fraction);
  return buf;
}

Json EpochJson(const EpochRecord& r) {
  return {{"epoch", r.epoch},
          {"seconds", r.seconds},
          {"train_loss", r.train_loss},
          {"reg_loss", r.reg_loss},
          {"cost", r.cost()},
          {"train_accuracy", r.train_accuracy},
          {"val_accuracy", r.val_accuracy},
          {"learning_rate", r.learning_rate},
          {"update_ratio", r.update_ratio},
          {"grad_norm", r.grad_norm}};
}

void RunTrain(const TrainCommand& c) {
  const TrainOptions& o = c.options;
  const std::string dir = ResolveDataDir(o.data);
  Log("loading MNIST from %s", dir.c_str());
  const Mnist mnist = LoadMnist(dir);
  const TrainConfig config = ResolveConfig(o);
  Log("training %s (%s hidden, %s loss, %s init, %s input), %d epochs, %s lr %g, batch %s, "
      "seed %llu",
      o.arch.c_str(), o.activation.c_str(), LossName(config.loss), o.init.c_str(),
      InputScalingName(config.input), config.epochs, OptimizerName(config.optimizer),
      config.learning_rate > 0 ? config.learning_rate : DefaultLr(config.optimizer),
      o.batch.c_str(), static_cast<unsigned long long>(config.seed));
  Progress progress("epoch");
  std::string metrics_text;
  TrainHooks hooks;
  hooks.on_epoch = [&](const EpochRecord& r) {
    progress.Done();
    Log("epoch %2d/%d  cost %.4f (data %.4f + reg %.4f)  train %s  val %s  lr %.2g  %.2f s",
        r.epoch, config.epochs, r.cost(), r.train_loss, r.reg_loss,
        Percent(r.train_accuracy).c_str(), Percent(r.val_accuracy).c_str(), r.learning_rate,
        r.seconds);
    if (!c.metrics.empty()) {  // rewritten each epoch, so it can be watched
      metrics_text += EpochJson(r).dump() + "\n";
      WriteFileAtomic(c.metrics, metrics_text);
    }
  };
  hooks.on_progress = [&](double f) { progress.Update(f); };
  const Run run = TrainWithDiagnostics(o, mnist, false, hooks);
  const TrainResult& result = run.result;
  SaveFloatModel(result.model, o.out);
  if (!c.plots.empty()) WriteRunPlots(c.plots, run, mnist.test);
  const std::vector<std::string> verdict = Verdict(run.findings);
  Log("verdict:");
  for (const std::string& v : verdict) Log("  %s", v.c_str());

  Json history = Json::array();
  double epoch_seconds = 0;
  for (const EpochRecord& r : result.history) {
    history.push_back(EpochJson(r));
    epoch_seconds += r.seconds;
  }
  epoch_seconds /= static_cast<double>(result.history.size());
  const Json j = {{"model", o.out},
                  {"preset", o.preset},
                  {"arch", result.model.ArchString()},
                  {"optimizer", OptimizerName(config.optimizer)},
                  {"epochs", config.epochs},
                  {"seed", config.seed},
                  {"threads", result.threads},
                  {"train_images", run.n_train},
                  {"best_epoch", result.best_epoch},
                  {"final_loss", run.final_loss},
                  {"test_accuracy", run.test_accuracy},
                  {"seconds", result.seconds},
                  {"seconds_per_epoch", epoch_seconds},
                  {"history", history},
                  {"diagnostics", FindingsJson(run.findings)},
                  {"verdict", verdict}};
  std::string human;
  char line[512];
  std::snprintf(line, sizeof(line),
                "model %s (%s): test accuracy %s, final cost %.4f, best epoch %d, %.1f s "
                "(%.2f s per epoch, %d threads)\n",
                o.out.c_str(), result.model.ArchString().c_str(),
                Percent(run.test_accuracy).c_str(), run.final_loss, result.best_epoch,
                result.seconds, epoch_seconds, result.threads);
  human += line;
  Emit(o.json, j, human);
}

}  // namespace

void AddTrain(CLI::App& app) {
  auto c = std::make_shared<TrainCommand>();
  CLI::App* cmd = app.add_subcommand("train", "Train a float MLP on MNIST-format data");
  AddTrainOptions(cmd, &c->options);
  cmd->add_option("--out", c->options.out, "Output float model file")->required();
  cmd->add_option("--metrics", c->metrics,
                  "Write per-epoch metrics (JSON lines: data and reg loss, accuracies, lr, "
                  "update ratios, seconds) to this file");
  cmd->add_option("--plots", c->plots,
                  "Write learning curves, confusion matrix (SVG) and the most confidently "
                  "misclassified test digits (PNG) to this directory");
  cmd->callback([c] { RunTrain(*c); });
}

}  // namespace edgemlp::cli
