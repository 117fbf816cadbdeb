// edgemlp finetune --qat: quantization-aware fine-tuning of a float model
// for the scheme it will be exported with (trainer/qat.h).
#include <algorithm>
#include <memory>

#include "cli/cli.h"
#include "cli/data_options.h"
#include "error.h"
#include "idx.h"
#include "cli/provenance.h"
#include "qat.h"
#include "quantize.h"
#include "train.h"

namespace edgemlp::cli {

namespace {

struct FinetuneOptions {
  std::string model;
  DataSpec data_spec;
  std::string out;
  std::string quant = "int8";
  std::vector<std::string> layer_quant;
  bool qat = false;
  QatConfig config;
  bool json = false;
};

void RunFinetune(const FinetuneOptions& o) {
  if (!o.qat) throw InputError("finetune needs --qat (the only fine-tuning mode so far)");
  QatConfig config = o.config;
  config.weight_type = ParseWeightType(o.quant);
  for (const std::string& spec : o.layer_quant) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || spec.find_first_not_of("0123456789") != eq) {
      throw InputError("--layer-quant " + spec + ": expected LAYER=SCHEME, e.g. 0=int16");
    }
    config.layer_types[std::stoul(spec.substr(0, eq))] = ParseWeightType(spec.substr(eq + 1));
  }
  const FloatModel model = LoadFloatModel(o.model);
  const LoadedData mnist = LoadAndLog(o.data_spec, model);
  // 10% of the training rows validate, at most 5000 (MNIST: 5000).
  config.val_count = static_cast<uint32_t>(std::clamp<size_t>(mnist.train.size() / 10, 1, 5000));
  Log("QAT for %s weights: %d epochs, Adam lr %g, batch %d", o.quant.c_str(), config.epochs,
      config.learning_rate, config.batch);
  std::vector<QatEpoch> history;
  FloatModel tuned = FinetuneQat(model, mnist.train, config, &history, [&](const QatEpoch& e) {
    Log("epoch %d/%d  loss %.4f  val (quantized) %.2f%%  %.1f s", e.epoch, config.epochs,
        e.train_loss, 100 * e.val_accuracy, e.seconds);
  });
  Json provenance = ParseProvenance(model.provenance);
  provenance["qat"] = {{"source_model", o.model},
                       {"weights", o.quant},
                       {"layer_quant", o.layer_quant},
                       {"epochs", config.epochs},
                       {"learning_rate", config.learning_rate},
                       {"seed", config.seed},
                       {"train_sha256", DatasetDigest(mnist.train)},
                       {"tool", ToolProvenance(true)}};
  tuned.provenance = provenance.dump();
  SaveFloatModel(tuned, o.out);
  Json epochs = Json::array();
  for (const QatEpoch& e : history) {
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"val_accuracy", e.val_accuracy},
                      {"seconds", e.seconds}});
  }
  Emit(o.json,
       {{"model", o.out},
        {"source", o.model},
        {"quant", o.quant},
        {"layer_quant", o.layer_quant},
        {"epochs", config.epochs},
        {"history", epochs}},
       o.model + " -> " + o.out + " (QAT for " + o.quant + "; export it with --quant " + o.quant +
           ")\n");
}

}  // namespace

void AddFinetune(CLI::App& app) {
  auto o = std::make_shared<FinetuneOptions>();
  CLI::App* cmd = app.add_subcommand(
      "finetune", "Fine-tune a float model; --qat: quantization-aware, for `export --quant`");
  cmd->add_option("model", o->model, "Float model from `edgemlp train`")->required();
  cmd->add_flag("--qat", o->qat, "Quantization-aware: fake quantization, straight-through");
  cmd->add_option("--quant", o->quant, "The scheme it will be exported with")
      ->capture_default_str()
      ->check(CLI::IsMember({"int8", "int16", "int4"}));
  cmd->add_option("--layer-quant", o->layer_quant, "LAYER=SCHEME (repeatable), as in export");
  AddDataOptions(cmd, &o->data_spec);
  cmd->add_option("--epochs", o->config.epochs, "Passes over the training set")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--lr", o->config.learning_rate, "Adam learning rate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch", o->config.batch, "Mini-batch size")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--seed", o->config.seed, "Random seed (shuffling)")->capture_default_str();
  cmd->add_option("--threads", o->config.threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--out", o->out, "Output float model file")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunFinetune(*o); });
}

}  // namespace edgemlp::cli
