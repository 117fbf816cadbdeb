// edgemlp train: MNIST -> float model file, with checkpoints every epoch
// (--checkpoint DIR), a clean stop on SIGINT/SIGTERM and --resume DIR.
#include <unistd.h>

#include <csignal>
#include <map>
#include <memory>

#include "checkpoint.h"
#include "cli.h"
#include "error.h"
#include "idx.h"
#include "output_guard.h"
#include "presets.h"
#include "provenance.h"
#include "train.h"

namespace edgemlp::cli {

namespace {

struct TrainOptions {
  std::string data;
  std::string arch = "784-256-128-10";
  std::string out;
  std::string preset;  // expanded before parsing (presets.h); kept for the record
  TrainConfig config;
  std::string checkpoint;  // DIR: a checkpoint after every epoch
  std::string resume;      // DIR: continue that run
  bool force = false;
  bool json = false;
};

// The training options a checkpoint stores, so `--resume DIR` alone continues.
const char* const kRunOptions[] = {"--preset", "--arch",  "--epochs", "--seed",
                                   "--optimizer", "--lr", "--schedule", "--batch",
                                   "--threads", "--l2",   "--val-count"};

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
    struct sigaction sa = {};
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

Json RegularizationJson(const TrainConfig& c) {
  const AugmentConfig& a = c.augment;
  return {{"shift", a.shift}, {"rotate", a.rotate}, {"scale", a.scale}, {"shear", a.shear},
          {"elastic_alpha", a.elastic_alpha}, {"elastic_sigma", a.elastic_sigma},
          {"input_dropout", c.input_dropout}, {"dropout", c.hidden_dropout},
          {"max_norm", c.max_norm}, {"label_smoothing", c.label_smoothing},
          {"ema", c.ema_decay}, {"early_stop", c.early_stop}, {"l2", c.l2}};
}

void RunTrain(TrainOptions o) {
  Checkpoint resumed;
  if (!o.resume.empty()) {
    resumed = LoadCheckpoint(o.resume);
    const Json note = Json::parse(resumed.note, nullptr, /*allow_exceptions=*/false);
    auto text = [&](const char* key) {
      return note.is_object() && note.contains(key) && note[key].is_string()
                 ? note[key].get<std::string>() : std::string();
    };
    if (o.data.empty()) o.data = text("data");
    if (o.out.empty()) o.out = text("out");
    o.preset = text("preset");
    o.config = resumed.config;
    o.arch.clear();
    for (uint32_t n : o.config.arch) o.arch += (o.arch.empty() ? "" : "-") + std::to_string(n);
    if (o.checkpoint.empty()) o.checkpoint = o.resume;
    Log("resuming %s after epoch %d of %d", CheckpointPath(o.resume).c_str(),
        resumed.state.epochs_done, resumed.config.epochs);
  }
  if (o.out.empty()) throw CLI::RequiredError("--out");
  CheckOverwrite(o.out, FileKind::kFloatModel, o.force);
  if (!o.checkpoint.empty() && o.resume.empty() && CheckpointExists(o.checkpoint) && !o.force) {
    throw InputError(o.checkpoint + " already holds a checkpoint: continue it with --resume " +
                     o.checkpoint + ", or pass --force to start over");
  }
  TrainConfig config = o.config;
  config.arch = ParseArch(o.arch);
  const std::string dir = ResolveDataDir(o.data);
  Log("loading MNIST from %s", dir.c_str());
  const Mnist mnist = LoadMnist(dir);
  Log("training %s on %zu images (%u held out for validation), %d epochs, "
      "%s lr %g, batch %d, seed %llu",
      o.arch.c_str(), mnist.train.size() - config.val_count, config.val_count,
      config.epochs, OptimizerName(config.optimizer),
      config.learning_rate > 0 ? config.learning_rate : DefaultLr(config.optimizer),
      config.batch, static_cast<unsigned long long>(config.seed));
  Progress progress("epoch");
  TrainHooks hooks;
  hooks.on_epoch = [&](const EpochRecord& r) {
    progress.Done();
    Log("epoch %2d/%d  loss %.4f  val %s  lr %.2g  %.2f s", r.epoch, config.epochs,
        r.train_loss, Percent(r.val_accuracy).c_str(), r.learning_rate, r.seconds);
  };
  hooks.on_progress = [&](double f) { progress.Update(f); };
  // Where an interruption saves its checkpoint when --checkpoint is not given.
  const std::string stop_dir = o.checkpoint.empty() ? o.out + ".checkpoint" : o.checkpoint;
  const Json note = {{"data", o.data}, {"out", o.out}, {"preset", o.preset}};
  hooks.after_epoch = [&](const TrainState& state) {
    const bool stop = g_stop_signal != 0 && state.epochs_done < config.epochs;
    if (!o.checkpoint.empty() || stop) {
      SaveCheckpoint(Checkpoint{config, state, note.dump()}, stop_dir);
    }
    return !stop;
  };
  StopSignals signals;
  const TrainResult result =
      Train(mnist.train, config, hooks, o.resume.empty() ? nullptr : &resumed.state);
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
  const std::vector<uint8_t> predictions =
      PredictFloat(result.model, mnist.test, 0, mnist.test.size());
  size_t correct = 0;
  for (size_t i = 0; i < predictions.size(); ++i) correct += predictions[i] == mnist.test.labels[i];
  const double test_accuracy = static_cast<double>(correct) / predictions.size();
  FloatModel model = result.model;
  model.provenance = TrainProvenance(config, o.arch, mnist, test_accuracy).dump();
  SaveFloatModel(model, o.out);

  Json history = Json::array();
  double epoch_seconds = 0;
  for (const EpochRecord& r : result.history) {
    history.push_back({{"epoch", r.epoch},
                       {"seconds", r.seconds},
                       {"train_loss", r.train_loss},
                       {"val_accuracy", r.val_accuracy},
                       {"learning_rate", r.learning_rate}});
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
                  {"best_epoch", result.best_epoch},
                  {"epochs_run", result.history.size()},
                  {"schedule", ScheduleName(config.schedule)},
                  {"regularization", RegularizationJson(config)},
                  {"test_accuracy", test_accuracy},
                  {"seconds", result.seconds},
                  {"seconds_per_epoch", epoch_seconds},
                  {"history", history}};
  char human[512];
  std::snprintf(human, sizeof(human),
                "model %s (%s): test accuracy %s, best epoch %d, %.1f s "
                "(%.2f s per epoch, %d threads)\n",
                o.out.c_str(), result.model.ArchString().c_str(),
                Percent(test_accuracy).c_str(), result.best_epoch,
                result.seconds, epoch_seconds, result.threads);
  Emit(o.json, j, human);
}

// Augmentation and regularisation (all off by default).
void AddRegularizationOptions(CLI::App* cmd, TrainConfig* c) {
  AugmentConfig& a = c->augment;
  cmd->add_option("--shift", a.shift, "Augment: random shift, pixels (each axis, +-)")
      ->capture_default_str()->check(CLI::Range(0.0, 28.0));
  cmd->add_option("--rotate", a.rotate, "Augment: random rotation, degrees (+-)")
      ->capture_default_str()->check(CLI::Range(0.0, 180.0));
  cmd->add_option("--scale", a.scale, "Augment: random zoom, factor 1 +- this")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--shear", a.shear, "Augment: random horizontal shear (+-)")
      ->capture_default_str()->check(CLI::Range(0.0, 2.0));
  cmd->add_option("--elastic-alpha", a.elastic_alpha,
                  "Augment: elastic distortion strength, pixels (Simard: 34; 0 off)")
      ->capture_default_str()->check(CLI::Range(0.0, 1000.0));
  cmd->add_option("--elastic-sigma", a.elastic_sigma,
                  "Augment: elastic smoothing std dev, pixels (Simard: 4)")
      ->capture_default_str()->check(CLI::Range(0.5, 20.0));
  cmd->add_option("--input-dropout", c->input_dropout, "Dropout rate of the input pixels")
      ->capture_default_str()->check(CLI::Range(0.0, 0.95));
  cmd->add_option("--dropout", c->hidden_dropout, "Dropout rate of the hidden units")
      ->capture_default_str()->check(CLI::Range(0.0, 0.95));
  cmd->add_option("--max-norm", c->max_norm,
                  "Cap on the L2 norm of each unit's incoming weights (0 off)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--label-smoothing", c->label_smoothing, "Label smoothing epsilon")
      ->capture_default_str()->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--ema", c->ema_decay,
                  "Decay of the weight moving average that is validated and saved (0 off)")
      ->capture_default_str()->check(CLI::Range(0.0, 0.99999));
  cmd->add_option("--early-stop", c->early_stop,
                  "Stop after this many epochs without a better validation accuracy (0 off)")
      ->capture_default_str()->check(CLI::Range(0, 100000));
}

}  // namespace

void AddTrain(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a float MLP on MNIST-format data");
  // Presets put their options first; an option given again later wins.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string presets_help = "Named recipe; explicit options override it:";
  for (const Preset& p : Presets()) presets_help += "\n  " + p.name + ": " + p.description;
  cmd->add_option("--preset", o->preset, presets_help)->check(CLI::IsMember(PresetNames()));
  cmd->add_option("--data", o->data, "MNIST directory (else $EDGEMLP_DATA, else ./data/mnist)");
  cmd->add_option("--arch", o->arch, "Layer sizes, input to output")->capture_default_str();
  cmd->add_option("--epochs", o->config.epochs, "Passes over the training set")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", o->config.seed, "Random seed (init, shuffling)")->capture_default_str();
  const std::map<std::string, Optimizer> optimizers = {
      {"sgd", Optimizer::kSgd}, {"momentum", Optimizer::kMomentum}, {"adam", Optimizer::kAdam}};
  cmd->add_option("--optimizer", o->config.optimizer, "sgd | momentum | adam (default adam)")
      ->transform(CLI::CheckedTransformer(optimizers, CLI::ignore_case))
      ->option_text("sgd|momentum|adam");
  cmd->add_option("--lr", o->config.learning_rate,
                  "Learning rate (default: adam 1e-3, momentum 0.05, sgd 0.1)")
      ->check(CLI::PositiveNumber);
  const std::map<std::string, Schedule> schedules = {
      {"constant", Schedule::kConstant}, {"cosine", Schedule::kCosine},
      {"one-cycle", Schedule::kOneCycle}};
  cmd->add_option("--schedule", o->config.schedule,
                  "constant | cosine | one-cycle (default cosine; one-cycle warms up to --lr "
                  "over 30% of the steps, then anneals)")
      ->transform(CLI::CheckedTransformer(schedules, CLI::ignore_case))
      ->option_text("constant|cosine|one-cycle");
  cmd->add_option("--batch", o->config.batch, "Mini-batch size")
      ->capture_default_str()->check(CLI::Range(1, 65536));
  cmd->add_option("--threads", o->config.threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--l2", o->config.l2, "L2 weight decay (weights only)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  AddRegularizationOptions(cmd, &o->config);
  cmd->add_option("--val-count", o->config.val_count,
                  "Training images held out (from the end) to pick the best epoch and calibrate")
      ->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--out", o->out, "Output float model file (required unless --resume)");
  cmd->add_option("--checkpoint", o->checkpoint,
                  "Save a checkpoint to DIR after every epoch (SIGINT/SIGTERM also save one)");
  CLI::Option* resume = cmd->add_option(
      "--resume", o->resume,
      "Continue the run checkpointed in DIR, with its options (--data/--out may change)");
  for (const char* name : kRunOptions) resume->excludes(cmd->get_option(name));
  cmd->add_flag("--force", o->force,
                "Overwrite an --out that is not a float model; restart over an existing "
                "--checkpoint");
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunTrain(*o); });
}

}  // namespace edgemlp::cli
