// edgemlp doctor [train options]: trains the run as given, adds the
// on-demand checks (gradient check, overfit 20 images, blank-input
// baseline, learning-rate range test), prints the ranked verdict and a
// corrected command line that it has verified by running it.
#include <cmath>
#include <memory>
#include <numeric>
#include <set>

#include "cli/cli.h"
#include "cli/data_options.h"
#include "diagnostics.h"
#include "error.h"
#include "cli/train_options.h"

namespace edgemlp::cli {

namespace {

struct DoctorOptions {
  TrainOptions train;
  int verify_epochs = 0;  // 0: run the suggested command as printed
};

bool Has(const std::vector<Finding>& findings, const std::string& id, Severity at_least) {
  for (const Finding& f : findings) {
    if (f.id == id && f.severity >= at_least) return true;
  }
  return false;
}

// A dataset of `count` images of `from` (by index) followed by `val` as the
// validation split.
Dataset Subset(const Dataset& from, const std::vector<size_t>& index, const Dataset& val,
               size_t val_begin) {
  Dataset out;
  out.classes = from.classes;
  out.images.rows = from.images.rows;
  out.images.cols = from.images.cols;
  const size_t size = from.images.image_size();
  const auto add = [&](const Dataset& d, size_t i) {
    out.images.pixels.insert(out.images.pixels.end(), d.images.image(i), d.images.image(i) + size);
    out.labels.push_back(d.labels[i]);
  };
  for (size_t i : index) add(from, i);
  for (size_t i = val_begin; i < val.size(); ++i) add(val, i);
  out.images.count = static_cast<uint32_t>(out.labels.size());
  return out;
}

size_t Correct(const std::vector<uint8_t>& pred, const Dataset& data, size_t begin) {
  size_t c = 0;
  for (size_t i = 0; i < pred.size(); ++i) c += pred[i] == data.labels[begin + i];
  return c;
}

// D13: 2 images per class, Adam 1e-3, 500 full-batch steps, no regularization.
Finding OverfitTiny(const Run& run) {
  std::vector<size_t> index;
  std::vector<int> taken(run.data.classes, 0);
  for (size_t i = 0; i < run.n_train && index.size() < 2 * taken.size(); ++i) {
    if (taken[run.data.labels[i]]++ < 2) index.push_back(i);
  }
  // The images, then the same images again as the "validation" split.
  const Dataset once = Subset(run.data, index, run.data, run.data.size());
  std::vector<size_t> all(index.size());
  std::iota(all.begin(), all.end(), size_t{0});
  const Dataset tiny = Subset(once, all, once, 0);
  TrainConfig c = run.config;
  c.optimizer = Optimizer::kAdam;
  c.learning_rate = 1e-3f;
  c.batch = 0;
  c.epochs = 500;
  c.schedule = Schedule::kConstant;
  c.warmup_epochs = 0;
  c.l2 = c.l2_lambda = c.weight_decay = 0;
  c.val_count = static_cast<uint32_t>(index.size());
  const TrainResult r = Train(tiny, c);
  double loss = 0;
  Cost(r.final_model, tiny, 0, index.size(), c, index.size(), &loss);
  const std::vector<uint8_t> pred = PredictFloat(r.final_model, tiny, 0, index.size());
  return CheckOverfitTiny(static_cast<double>(Correct(pred, tiny, 0)) / index.size(), loss,
                          index.size());
}

// D14: the same training (up to 3 epochs) on blank training images.
Finding BlankBaseline(const Run& run) {
  TrainConfig c = run.config;
  c.epochs = std::min(c.epochs, 3);
  Dataset blank = run.data;
  std::fill(blank.images.pixels.begin(),
            blank.images.pixels.begin() + run.n_train * blank.images.image_size(), 0);
  const TrainResult r = Train(blank, c);
  return CheckInputIndependent(run.result.history[c.epochs - 1].val_accuracy,
                               r.history.back().val_accuracy);
}

// D17: one epoch on 2,000 images (batch 64) per learning rate, from 1e-4 to 10.
Finding LrRange(const Run& run) {
  std::vector<size_t> index;
  for (size_t i = 0; i < std::min<size_t>(run.n_train, 2000); ++i) index.push_back(i);
  const Dataset small = Subset(run.data, index, run.data, run.n_train);
  TrainConfig c = run.config;
  if (c.optimizer == Optimizer::kGd) c.optimizer = Optimizer::kSgd;
  c.batch = 64;
  c.epochs = 1;
  c.schedule = Schedule::kConstant;
  c.warmup_epochs = 0;
  const float user_lr =
      run.config.learning_rate > 0 ? run.config.learning_rate : DefaultLr(run.config.optimizer);
  const auto loss_at = [&](float lr) {
    c.learning_rate = lr;
    try {
      const TrainResult r = Train(small, c);
      const double cost = Cost(r.final_model, small, 0, index.size(), c, index.size());
      return std::isfinite(cost) ? cost : INFINITY;
    } catch (const InputError&) {  // diverged
      return double{INFINITY};
    }
  };
  double best = INFINITY, best_lr = user_lr;
  for (int e = -8; e <= 2; ++e) {
    const float lr = static_cast<float>(std::pow(10.0, e / 2.0));
    const double loss = loss_at(lr);
    if (loss < best) {
      best = loss;
      best_lr = lr;
    }
  }
  const double user_loss = loss_at(user_lr);
  return CheckLrRange(best_lr, user_lr, !(user_loss < 4 * best));
}

// Overrides for the user's command line, one per finding that calls for it.
std::vector<std::string> Fixes(const Run& run, const std::vector<Finding>& findings) {
  std::vector<std::string> fix;
  const TrainConfig& c = run.config;
  const auto add = [&](std::initializer_list<std::string> args) { fix.insert(fix.end(), args); };
  if (Has(findings, "D3", Severity::kWarn)) {
    add({"--optimizer", "adam", "--lr", "0.001", "--batch",
         std::to_string(BudgetBatch(run.n_train)), "--schedule", "cosine", "--epochs",
         std::to_string(std::max(static_cast<size_t>(c.epochs), BudgetEpochs(run.n_train)))});
  }
  bool squashing = false;
  for (Activation a : c.activations) squashing |= a != Activation::kRelu;
  if (Has(findings, "D2", Severity::kWarn) || Has(findings, "D9", Severity::kWarn) ||
      Has(findings, "D8", Severity::kWarn) || Has(findings, "D13", Severity::kWarn)) {
    if (squashing) add({"--activation", "relu"});
    add({"--init", "he"});
  }
  if (Has(findings, "D0", Severity::kWarn)) add({"--input", "standardize"});
  if (Has(findings, "D18", Severity::kWarn)) {
    add({"--arch", std::to_string(c.arch.front()) + "-256-128-" + std::to_string(c.arch.back())});
  }
  if (Has(findings, "D11", Severity::kWarn))
    add({"--l2", "0", "--l2-lambda", "0", "--weight-decay", "0"});
  if (!Has(findings, "D3", Severity::kWarn)) {
    const float lr = c.learning_rate > 0 ? c.learning_rate : DefaultLr(c.optimizer);
    for (const Finding& f : findings) {
      if (f.severity < Severity::kWarn) continue;
      if ((f.id == "D7" && f.value > 0.1) || f.id == "D10") {
        add({"--lr", std::to_string(lr / 10)});
        break;
      }
    }
  }
  return fix;
}

std::string Quote(const std::string& arg) {
  if (arg.find_first_of(" \t'\"$\\") == std::string::npos && !arg.empty()) return arg;
  std::string q = "'";
  for (char ch : arg) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

void RunDoctor(const DoctorOptions& d) {
  const TrainOptions& o = d.train;
  const LoadedData mnist = LoadAndLog(o.data_spec);
  Log("doctor 1/5: the run as given");
  const Run run = TrainWithDiagnostics(o, mnist, false);
  std::vector<Finding> findings = run.findings;
  Log("doctor 2/5: gradient check (double precision)");
  std::set<Activation> acts(run.config.activations.begin(), run.config.activations.end());
  double worst = 0;
  for (Activation a : acts) {
    worst =
        std::max(worst, GradientCheckError({20, 8, 6, 10}, a, run.config.loss, run.config.seed));
  }
  findings.push_back(CheckGradients(worst));
  Log("doctor 3/5: overfit 2 images per class");
  findings.push_back(OverfitTiny(run));
  Log("doctor 4/5: blank-input baseline");
  findings.push_back(BlankBaseline(run));
  Log("doctor 5/5: learning-rate range test");
  findings.push_back(LrRange(run));
  for (size_t i = run.findings.size(); i < findings.size(); ++i)
    Log("%s", FindingLine(findings[i]).c_str());
  const std::vector<std::string> verdict = Verdict(findings);

  // The corrected command: the user's own arguments (the doctor's own
  // options left out), each fix replacing the option it corrects.
  std::vector<std::string> args;
  bool skip_value = false;
  for (size_t i = 1; i < CommandLine().size(); ++i) {  // [0] is "doctor"
    const std::string& a = CommandLine()[i];
    if (skip_value) {
      skip_value = false;
      continue;
    }
    if (a == "--json") continue;
    if (a == "--verify-epochs") {
      skip_value = true;
      continue;
    }
    if (a.rfind("--verify-epochs=", 0) == 0) continue;
    args.push_back(a);
  }
  args = MergeTrainArgs(args, Fixes(run, findings));
  bool has_out = false;
  for (const std::string& a : args) has_out |= a == "--out" || a.rfind("--out=", 0) == 0;
  if (!has_out) args.insert(args.end(), {"--out", "model.f32"});
  std::string command = "edgemlp train";
  for (const std::string& a : args) command += " " + Quote(a);

  TrainOptions fixed = ParseTrainArgs(args);
  if (d.verify_epochs > 0) fixed.config.epochs = std::min(fixed.config.epochs, d.verify_epochs);
  Log("verifying the suggested command (%d epochs): %s", fixed.config.epochs, command.c_str());
  const Run check = TrainWithDiagnostics(fixed, mnist, true);

  const Json j = {{"data", DataJson(mnist, o.data_spec)},
                  {"final_loss", run.final_loss},
                  {"test_accuracy", run.test_accuracy},
                  {"diagnostics", FindingsJson(findings)},
                  {"verdict", verdict},
                  {"suggested_command", command},
                  {"suggested_accuracy", check.test_accuracy},
                  {"suggested_epochs_run", fixed.config.epochs},
                  {"suggested_final_loss", check.final_loss}};
  std::string human = "Diagnostics:\n";
  for (const Finding& f : findings) human += "  " + FindingLine(f) + "\n";
  human += "Verdict:\n";
  for (const std::string& v : verdict) human += "  " + v + "\n";
  char line[256];
  std::snprintf(line, sizeof(line), "Suggested (verified: %.2f%% test accuracy after %d epochs):\n",
                100 * check.test_accuracy, fixed.config.epochs);
  human += line + std::string("  ") + command + "\n";
  Emit(o.json, j, human);
}

}  // namespace

void AddDoctor(CLI::App& app) {
  auto d = std::make_shared<DoctorOptions>();
  CLI::App* cmd = app.add_subcommand(
      "doctor",
      "Train as given, run every diagnostic (also gradient check, overfit 2 images per class, blank-input "
      "baseline, lr range test), print the verdict and a corrected, verified command line");
  AddTrainOptions(cmd, &d->train);
  cmd->add_option("--out", d->train.out, "Ignored here (kept so a train command line works)");
  cmd->add_option("--verify-epochs", d->verify_epochs,
                  "Run the suggested command for at most N epochs (default: as suggested)")
      ->check(CLI::Range(1, 100000));
  cmd->callback([d] { RunDoctor(*d); });
}

}  // namespace edgemlp::cli
