// edgemlp train: MNIST -> float model file, with diagnostics before and
// after the run (trainer/diagnostics.h), optional metrics and plots,
// checkpoints every epoch (--checkpoint DIR), a clean stop on SIGINT/SIGTERM
// and --resume DIR.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <memory>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cli/cli.h"
#include "cli/data_options.h"
#include "error.h"
#include "idx.h"
#include "cli/output_guard.h"
#include "cli/plots.h"
#include "cli/provenance.h"
#include "cli/report.h"
#include "cli/train_options.h"

namespace edgemlp::cli {

namespace {

struct TrainCommand {
  TrainOptions options;
  std::string metrics;     // per-epoch JSONL
  std::string plots;       // directory for curves, confusion matrix, misclassified digits
  std::string report;      // FILE: the run report page (cli/report.h)
  std::string checkpoint;  // DIR: a checkpoint after every epoch
  std::string resume;      // DIR: continue that run
  bool force = false;
};

// The training options a checkpoint stores, so `--resume DIR` alone continues.
const char* const kRunOptions[] = {
    "--preset", "--arch", "--epochs", "--seed", "--optimizer", "--lr", "--schedule", "--batch",
    "--threads", "--l2", "--l2-lambda", "--weight-decay", "--activation", "--loss", "--init",
    "--input", "--train-count", "--balanced", "--val-count"};

// Set by SIGINT/SIGTERM; training stops after the current epoch.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void OnStopSignal(int sig) {
  g_stop_signal = sig;
  static const char kMessage[] =
      "\nedgemlp: stopping after this epoch to save a checkpoint "
      "(interrupt again to quit at once)\n";
  const ssize_t ignored = write(2, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
  std::signal(sig, SIG_DFL);  // a second signal ends the process
}

// Installs the handlers for its lifetime.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_, old_term_;
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
          {"val_loss", r.val_loss},  // null for epochs from a version-2 checkpoint
          {"learning_rate", r.learning_rate},
          {"update_ratio", r.update_ratio},
          {"grad_norm", r.grad_norm}};
}

Json RegularizationJson(const TrainConfig& c) {
  const AugmentConfig& a = c.augment;
  return {{"shift", a.shift}, {"rotate", a.rotate}, {"scale", a.scale}, {"shear", a.shear},
          {"elastic_alpha", a.elastic_alpha}, {"elastic_sigma", a.elastic_sigma},
          {"input_dropout", c.input_dropout}, {"dropout", c.hidden_dropout},
          {"max_norm", c.max_norm}, {"label_smoothing", c.label_smoothing},
          {"ema", c.ema_decay}, {"early_stop", c.early_stop}, {"l2", c.l2}};
}

void RunTrain(TrainCommand c) {
  TrainOptions& o = c.options;
  Checkpoint resumed;
  if (!c.resume.empty()) {
    resumed = LoadCheckpoint(c.resume);
    const Json note = Json::parse(resumed.note, nullptr, /*allow_exceptions=*/false);
    auto text = [&](const char* key) {
      return note.is_object() && note.contains(key) && note[key].is_string()
                 ? note[key].get<std::string>() : std::string();
    };
    auto number = [&](const char* key) {
      return note.is_object() && note.contains(key) && note[key].is_number_unsigned()
                 ? note[key].get<uint32_t>() : 0u;
    };
    if (o.data_spec.data.empty()) o.data_spec.data = text("data");
    if (o.data_spec.test_data.empty()) o.data_spec.test_data = text("test_data");
    if (o.data_spec.label_column.empty()) o.data_spec.label_column = text("label_column");
    if (note.is_object() && note.contains("test_fraction") && note["test_fraction"].is_number()) {
      o.data_spec.test_fraction = note["test_fraction"].get<double>();
    }
    if (note.is_object() && note.contains("split_seed") && note["split_seed"].is_number_unsigned()) {
      o.data_spec.split_seed = note["split_seed"].get<uint64_t>();
    }
    if (o.out.empty()) o.out = text("out");
    o.preset = text("preset");
    o.train_count = number("train_count");
    o.balanced = number("balanced");
    o.arch.clear();
    for (uint32_t n : resumed.config.arch) o.arch += (o.arch.empty() ? "" : "-") + std::to_string(n);
    if (c.checkpoint.empty()) c.checkpoint = c.resume;
    Log("resuming %s after epoch %d of %d", CheckpointPath(c.resume).c_str(),
        resumed.state.epochs_done, resumed.config.epochs);
  }
  if (o.out.empty()) throw CLI::RequiredError("--out");
  CheckOverwrite(o.out, FileKind::kFloatModel, c.force);
  if (!c.report.empty()) CheckOverwrite(c.report, FileKind::kReport, c.force);
  if (!c.checkpoint.empty() && c.resume.empty() && CheckpointExists(c.checkpoint) && !c.force) {
    throw InputError(c.checkpoint + " already holds a checkpoint: continue it with --resume " +
                     c.checkpoint + ", or pass --force to start over");
  }
  const LoadedData mnist = LoadAndLog(o.data_spec);
  const TrainConfig config =
      c.resume.empty() ? ResolveConfig(o, mnist.train.size()) : resumed.config;
  Log("training %s (%s loss, %s init, %s input), %d epochs, %s lr %g, batch %d, seed %llu",
      o.arch.c_str(), LossName(config.loss), InitName(config.init),
      InputScalingName(config.input), config.epochs, OptimizerName(config.optimizer),
      config.learning_rate > 0 ? config.learning_rate : DefaultLr(config.optimizer),
      config.batch, static_cast<unsigned long long>(config.seed));
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
  // Where an interruption saves its checkpoint when --checkpoint is not given.
  const std::string stop_dir = c.checkpoint.empty() ? o.out + ".checkpoint" : c.checkpoint;
  const Json note = {{"data", o.data_spec.data},
                     {"test_data", o.data_spec.test_data},
                     {"label_column", o.data_spec.label_column},
                     {"test_fraction", o.data_spec.test_fraction},
                     {"split_seed", o.data_spec.split_seed},
                     {"out", o.out},
                     {"preset", o.preset},
                     {"train_count", o.train_count},
                     {"balanced", o.balanced}};
  hooks.after_epoch = [&](const TrainState& state) {
    const bool stop = g_stop_signal != 0 && state.epochs_done < config.epochs;
    if (!c.checkpoint.empty() || stop) {
      SaveCheckpoint(Checkpoint{config, state, note.dump()}, stop_dir);
    }
    return !stop;
  };
  StopSignals signals;
  const Run run = TrainWithDiagnostics(o, mnist, false, hooks, &config,
                                       c.resume.empty() ? nullptr : &resumed.state);
  const TrainResult& result = run.result;
  // Stopped by a signal (early stopping also ends before config.epochs).
  if (g_stop_signal != 0 && static_cast<int>(result.history.size()) < config.epochs) {
    const int done = static_cast<int>(result.history.size());
    Log("interrupted after epoch %d of %d; checkpoint saved in %s", done, config.epochs,
        stop_dir.c_str());
    Log("continue with: edgemlp train --resume %s", stop_dir.c_str());
    Emit(o.json,
         {{"interrupted", true}, {"epochs_done", done}, {"epochs", config.epochs},
          {"checkpoint", stop_dir}, {"resume", "edgemlp train --resume " + stop_dir}},
         "interrupted after epoch " + std::to_string(done) + "; continue with: edgemlp train "
         "--resume " + stop_dir + "\n");
    throw ExitWith{kExitInterrupted};
  }
  FloatModel model = result.model;
  Json provenance = TrainProvenance(config, o.arch, mnist, run.test_accuracy);
  provenance["data"] = DataJson(mnist, o.data_spec);
  model.provenance = provenance.dump();
  SaveFloatModel(model, o.out);
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
  Json j = {{"model", o.out},
            {"data", DataJson(mnist, o.data_spec)},
            {"preset", o.preset},
            {"arch", result.model.ArchString()},
            {"optimizer", OptimizerName(config.optimizer)},
            {"loss", LossName(config.loss)},
            {"epochs", config.epochs},
            {"seed", config.seed},
            {"threads", result.threads},
            {"train_images", run.n_train},
            {"best_epoch", result.best_epoch},
            {"epochs_run", result.history.size()},
            {"schedule", ScheduleName(config.schedule)},
            {"regularization", RegularizationJson(config)},
            {"final_loss", run.final_loss},
            {"class_prior_loss", ClassPriorLoss(run)},
            {"test_accuracy", run.test_accuracy},
            {"downsample", config.downsample},
            {"qat", provenance.value("qat", Json::array())},
            {"qat_test_accuracy",
             run.qat_test_accuracy >= 0 ? Json(run.qat_test_accuracy) : Json()},
            {"seconds", result.seconds},
            {"seconds_per_epoch", epoch_seconds},
            {"history", history},
            {"diagnostics", FindingsJson(run.findings)},
            {"verdict", verdict}};
  const RunPlots plots =
      c.plots.empty() && c.report.empty() ? RunPlots{} : MakeRunPlots(run, mnist.test);
  if (!c.plots.empty()) WriteRunPlots(c.plots, plots);
  if (!c.report.empty()) {
    // The page `edgemlp report` makes of a directory holding this run's
    // train.json and plots: the same bytes.
    j["report"] = c.report;
    RunRecord record;
    record.dir = std::filesystem::path(o.out).parent_path().string();
    if (record.dir.empty()) record.dir = ".";
    record.train = j;
    record.confusion_svg = plots.confusion_svg;
    record.misclassified_png.assign(plots.misclassified_png.begin(), plots.misclassified_png.end());
    record.misclassified = Json::parse(plots.misclassified_json);
    WriteFileAtomic(c.report, ReportHtml(record));
    Log("report %s", c.report.c_str());
  }
  char line[512];
  std::snprintf(line, sizeof(line),
                "model %s (%s): test accuracy %s%s%s, final cost %.4f, best epoch %d, %.1f s "
                "(%.2f s per epoch, %d threads)\n",
                o.out.c_str(), result.model.ArchString().c_str(),
                Percent(run.test_accuracy).c_str(),
                run.qat_test_accuracy >= 0 ? " (float), with the QAT weights " : "",
                run.qat_test_accuracy >= 0 ? Percent(run.qat_test_accuracy).c_str() : "",
                run.final_loss, result.best_epoch, result.seconds, epoch_seconds, result.threads);
  Emit(o.json, j, line);
}

}  // namespace

void AddTrain(CLI::App& app) {
  auto c = std::make_shared<TrainCommand>();
  CLI::App* cmd = app.add_subcommand("train", "Train a float MLP on MNIST-format IDX, CSV or NumPy data");
  AddTrainOptions(cmd, &c->options);
  cmd->add_option("--out", c->options.out, "Output float model file (required unless --resume)");
  cmd->add_option("--metrics", c->metrics,
                  "Write per-epoch metrics (JSON lines: data and reg loss, accuracies, lr, "
                  "update ratios, seconds) to this file");
  cmd->add_option("--plots", c->plots,
                  "Write learning curves, confusion matrix (SVG) and the most confidently "
                  "misclassified test digits (PNG) to this directory");
  cmd->add_option("--report", c->report,
                  "Write the run report page (one self-contained HTML file, as `edgemlp report` "
                  "makes) to this file");
  cmd->add_option("--checkpoint", c->checkpoint,
                  "Save a checkpoint to DIR after every epoch (SIGINT/SIGTERM also save one)");
  CLI::Option* resume = cmd->add_option(
      "--resume", c->resume,
      "Continue the run checkpointed in DIR, with its options (--data/--out may change)");
  for (const char* name : kRunOptions) resume->excludes(cmd->get_option(name));
  cmd->add_flag("--force", c->force,
                "Overwrite an --out that is not a float model; restart over an existing "
                "--checkpoint");
  cmd->callback([c] { RunTrain(*c); });
}

}  // namespace edgemlp::cli
