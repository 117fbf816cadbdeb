#include "cli/train_options.h"

#include <algorithm>
#include <map>

#include "augment.h"
#include "quantize.h"

#include "error.h"
#include "cli/data_options.h"
#include "cli/presets.h"

namespace edgemlp::cli {

namespace {

// A CLI11 transformer's map from a name table (train.h).
template <typename E, size_t N>
std::map<std::string, E> NameMap(const Named<E> (&table)[N]) {
  std::map<std::string, E> map;
  for (const Named<E>& n : table) map[n.name] = n.value;
  return map;
}

}  // namespace

// Augmentation and regularisation (all off by default).
static void AddRegularizationOptions(CLI::App* cmd, TrainConfig* c) {
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

void AddTrainOptions(CLI::App* cmd, TrainOptions* o) {
  // Presets put their options first; an option given again later wins.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string presets_help = "Named recipe; explicit options override it:";
  for (const Preset& p : Presets()) presets_help += "\n  " + p.name + ": " + p.description;
  cmd->add_option("--preset", o->preset, presets_help)->check(CLI::IsMember(PresetNames()));
  AddDataOptions(cmd, &o->data_spec);
  cmd->add_option("--arch", o->arch, "Layer sizes, input to output")->capture_default_str();
  cmd->add_option("--epochs", o->config.epochs, "Passes over the training set")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", o->config.seed, "Random seed (init, shuffling)")->capture_default_str();
  cmd->add_option("--optimizer", o->config.optimizer,
                  "gd (full-batch gradient descent) | sgd | momentum | nesterov | adam | adamw "
                  "(default adam)")
      ->transform(CLI::CheckedTransformer(NameMap(kOptimizerNames), CLI::ignore_case))
      ->option_text("gd|sgd|momentum|nesterov|adam|adamw");
  cmd->add_option(
         "--lr", o->config.learning_rate,
         "Learning rate (default: adam/adamw 1e-3, momentum/nesterov 0.05, sgd 0.1, gd 0.5)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--schedule", o->config.schedule,
                  "constant | cosine | one-cycle (warm up to --lr over 30% of the steps, then "
                  "anneal) | step (lr x --step-gamma every --step-epochs) (default cosine)")
      ->transform(CLI::CheckedTransformer(NameMap(kScheduleNames), CLI::ignore_case))
      ->option_text("constant|cosine|one-cycle|step");
  cmd->add_option("--step-epochs", o->config.step_epochs, "step schedule: epochs per step")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--step-gamma", o->config.step_gamma, "step schedule: lr factor per step")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--warmup-epochs", o->config.warmup_epochs,
                  "Linear warm-up from lr/10 over these epochs")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--batch", o->batch, "Mini-batch size, or 'full' (one batch = all images)")
      ->capture_default_str();
  cmd->add_option("--threads", o->config.threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--l2", o->config.l2,
                  "L2 penalty (L/2)*sum(W^2) added to the mean loss (weights only)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--l2-lambda", o->config.l2_lambda,
                  "L2 as in Ng's ex4: (lambda/(2m))*sum(W^2), m = training images, biases excluded")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--weight-decay", o->config.weight_decay,
                  "Decoupled weight decay W -= lr*D*W per step (adamw default 0.01)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--activation", o->activation,
                  "Hidden activation relu|sigmoid|tanh, or one per hidden layer: sigmoid,relu")
      ->capture_default_str();
  cmd->add_option("--loss", o->config.loss,
                  "softmax (softmax + cross-entropy, default) | sigmoid-bce (sum of per-output "
                  "sigmoid binary cross-entropies)")
      ->transform(CLI::CheckedTransformer(NameMap(kLossNames), CLI::ignore_case))
      ->option_text("softmax|sigmoid-bce");
  cmd->add_option("--init", o->init, "Weight init: he | xavier (glorot) | uniform:A,B")
      ->capture_default_str();
  cmd->add_flag("--bias-prior", o->config.bias_prior,
                "Start the output biases at the class frequencies");
  cmd->add_option("--input", o->config.input,
                  "Input scaling: unit ([0,1], default) | symmetric ([-1,1]) | standardize "
                  "(mean 0, std 1 over the training images)")
      ->transform(CLI::CheckedTransformer(NameMap(kInputScalingNames), CLI::ignore_case))
      ->option_text("unit|symmetric|standardize");
  cmd->add_option("--downsample", o->config.downsample,
                  "Area-downsample each image to N x N pixels before layer 0, e.g. 14 or 16 "
                  "(the blob keeps the transform: the runtime and firmware take full images)")
      ->check(CLI::Range(1u, kMaxDownsample));
  cmd->add_option("--qat", o->qat,
                  "Quantization-aware training for `export`'s scheme: int8 | int16 | int4, or "
                  "one per layer, e.g. int4,int4,int8 (export then defaults to it)");
  cmd->add_option("--qat-from", o->config.qat_from,
                  "With --qat: the first epoch that trains through the quantized weights")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxEpochs));
  cmd->add_option("--train-count", o->train_count,
                  "Train on the first N images only (validation stays the last --val-count)")
      ->check(CLI::Range(1, 10000000));
  cmd->add_option("--balanced", o->balanced,
                  "Train on N images, N/classes of each class (the first of each)")
      ->check(CLI::Range(10, 10000000));
  AddRegularizationOptions(cmd, &o->config);
  o->config.val_count = 0;  // auto (ResolveConfig)
  cmd->add_option("--val-count", o->config.val_count,
                  "Training images held out (from the end) to pick the best epoch and calibrate "
                  "(default: 10% of them, at most 5000)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
}

namespace {

Activation ParseActivation(const std::string& name) {
  for (const Named<Activation>& a : kHiddenActivationNames) {
    if (name == a.name) return a.value;
  }
  throw InputError("--activation " + name + ": expected relu, sigmoid or tanh");
}

}  // namespace

TrainConfig ResolveConfig(const TrainOptions& o, size_t train_examples) {
  TrainConfig config = o.config;
  if (config.val_count == 0) {
    config.val_count = static_cast<uint32_t>(std::clamp<size_t>(train_examples / 10, 1, 5000));
  }
  config.arch = ParseArch(o.arch);
  if (o.batch == "full") {
    config.batch = 0;
  } else {
    try {
      size_t used = 0;
      config.batch = std::stoi(o.batch, &used);
      if (used != o.batch.size() || config.batch < 1) throw std::invalid_argument(o.batch);
    } catch (const std::logic_error&) {
      throw InputError("--batch " + o.batch + ": expected a size >= 1 or 'full'");
    }
  }
  config.activations.clear();
  size_t start = 0;
  while (start <= o.activation.size()) {
    const size_t comma = std::min(o.activation.find(',', start), o.activation.size());
    config.activations.push_back(ParseActivation(o.activation.substr(start, comma - start)));
    start = comma + 1;
  }
  config.qat.clear();
  for (size_t start = 0; !o.qat.empty() && start <= o.qat.size();) {
    const size_t comma = std::min(o.qat.find(',', start), o.qat.size());
    try {
      config.qat.push_back(ParseWeightType(o.qat.substr(start, comma - start)));
    } catch (const InputError& e) {
      throw InputError(std::string("--qat ") + o.qat + ": " + e.what());
    }
    start = comma + 1;
  }
  if (o.init == "he") {
    config.init = Init::kHe;
  } else if (o.init == "xavier" || o.init == "glorot") {
    config.init = Init::kXavier;
  } else if (o.init.rfind("uniform:", 0) == 0) {
    config.init = Init::kUniform;
    const std::string range = o.init.substr(8);
    const size_t comma = range.find(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument(range);
      config.init_low = std::stof(range.substr(0, comma));
      config.init_high = std::stof(range.substr(comma + 1));
    } catch (const std::logic_error&) {
      throw InputError("--init " + o.init + ": expected uniform:A,B, e.g. uniform:0,0.01");
    }
  } else {
    throw InputError("--init " + o.init + ": expected he, xavier, glorot or uniform:A,B");
  }
  return config;
}

Json FindingsJson(const std::vector<Finding>& findings) {
  Json out = Json::array();
  for (const Finding& f : findings) {
    out.push_back({{"id", f.id},
                   {"severity", SeverityName(f.severity)},
                   {"value", f.value},
                   {"message", f.message}});
  }
  return out;
}

std::string FindingLine(const Finding& f) {
  char head[32];
  std::snprintf(head, sizeof(head), "%-4s %-3s ", SeverityName(f.severity), f.id.c_str());
  return head + f.message;
}

Run TrainWithDiagnostics(const TrainOptions& o, const LoadedData& mnist, bool quiet,
                         TrainHooks hooks, const TrainConfig* resume_config,
                         TrainState* resume_state) {
  Run run;
  run.config = resume_config ? *resume_config : ResolveConfig(o, mnist.train.size());
  if (mnist.features && run.config.augment.enabled()) {
    throw InputError("--shift, --rotate, --scale, --shear and --elastic-* distort images; " +
                     o.data_spec.data + " holds float features");
  }
  run.data = SelectTraining(mnist.train, o.train_count, o.balanced, run.config.val_count);
  run.n_train = run.data.size() - run.config.val_count;
  TrainState fresh;
  if (!resume_state) fresh = InitialState(run.data, run.config);
  TrainState& state = resume_state ? *resume_state : fresh;
  run.findings = DiagnoseBeforeTraining(run.data, run.config, state);
  if (!quiet) {
    for (const Finding& f : run.findings) Log("%s", FindingLine(f).c_str());
  }
  run.result = Train(run.data, run.config, hooks, &state);
  if (mnist.transform.kind != InputTransformKind::kNone) {
    AttachInputTransform(&run.result.model, mnist.transform);
    AttachInputTransform(&run.result.final_model, mnist.transform);
  }
  run.test_predictions = PredictFloat(run.result.model, mnist.test, 0, mnist.test.size());
  size_t correct = 0;
  for (size_t i = 0; i < run.test_predictions.size(); ++i) {
    correct += run.test_predictions[i] == mnist.test.labels[i];
  }
  run.test_accuracy = static_cast<double>(correct) / static_cast<double>(mnist.test.size());
  if (!run.config.qat.empty()) {
    const FloatModel quantized = QatQuantizedModel(run.result.model, run.config);
    const std::vector<uint8_t> predicted = PredictFloat(quantized, mnist.test, 0, mnist.test.size());
    size_t right = 0;
    for (size_t i = 0; i < predicted.size(); ++i) right += predicted[i] == mnist.test.labels[i];
    run.qat_test_accuracy = static_cast<double>(right) / static_cast<double>(predicted.size());
  }
  run.final_loss = Cost(run.result.final_model, run.data, 0, run.n_train, run.config, run.n_train);
  const std::vector<Finding> after =
      DiagnoseAfterTraining(run.data, run.config, run.result, &mnist.test);
  if (!quiet) {
    for (const Finding& f : after) Log("%s", FindingLine(f).c_str());
  }
  run.findings.insert(run.findings.end(), after.begin(), after.end());
  return run;
}

TrainOptions ParseTrainArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  ExpandPreset(&args);
  args.erase(args.begin());
  TrainOptions o;
  CLI::App app{"train"};
  AddTrainOptions(&app, &o);
  app.add_option("--out", o.out, "Output float model file");
  std::reverse(args.begin(), args.end());  // CLI11 takes them last-first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    throw InputError(std::string("suggested command line: ") + e.what());
  }
  return o;
}

std::vector<std::string> MergeTrainArgs(std::vector<std::string> args,
                                        const std::vector<std::string>& overrides) {
  args.insert(args.begin(), "train");
  ExpandPreset(&args);
  args.erase(args.begin());
  args.insert(args.end(), overrides.begin(), overrides.end());
  TrainOptions o;
  CLI::App app{"train"};
  AddTrainOptions(&app, &o);
  app.add_option("--out", o.out, "Output float model file");
  // Each option as its canonical name and its tokens ("--x v", "--x=v" or a
  // flag), in order of first appearance; a later occurrence replaces them.
  std::vector<std::pair<std::string, std::vector<std::string>>> merged;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const size_t eq = a.rfind("--", 0) == 0 ? a.find('=') : std::string::npos;
    const CLI::Option* opt = app.get_option_no_throw(a.substr(0, eq));
    std::vector<std::string> tokens = {a};
    if (opt && eq == std::string::npos && opt->get_expected_max() > 0 && i + 1 < args.size()) {
      tokens.push_back(args[++i]);
    }
    if (opt && opt->get_single_name() == "preset") continue;  // expanded above
    const std::string key = opt ? opt->get_single_name() : a;  // not an option: kept as it is
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const auto& m) { return opt && m.first == key; });
    if (it == merged.end()) {
      merged.emplace_back(key, std::move(tokens));
    } else {
      it->second = std::move(tokens);
    }
  }
  std::vector<std::string> out;
  for (const auto& m : merged) out.insert(out.end(), m.second.begin(), m.second.end());
  return out;
}

}  // namespace edgemlp::cli
