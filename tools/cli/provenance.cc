#include "cli/provenance.h"

#include <cstdlib>
#include <ctime>

#include "quantize.h"
#include "version.h"

namespace edgemlp::cli {

Json ToolProvenance(bool timestamp) {
  Json j = {{"tool", "edgemlp"},
            {"tool_version", EDGEMLP_VERSION},
            {"git_revision", EDGEMLP_GIT_REVISION}};
  if (timestamp) {
    std::time_t t = std::time(nullptr);
    if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) {
      t = static_cast<std::time_t>(std::strtoll(epoch, nullptr, 10));
    }
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    j["created_at"] = buf;
  }
  return j;
}

std::string DatasetDigest(const Dataset& data) {
  std::string bytes(reinterpret_cast<const char*>(data.images.pixels.data()),
                    data.images.pixels.size());
  bytes.append(reinterpret_cast<const char*>(data.labels.data()), data.labels.size());
  return Sha256Hex(bytes.data(), bytes.size());
}

Json TrainProvenance(const TrainConfig& config, const std::string& arch, const Mnist& mnist,
                     double test_accuracy) {
  Json j = ToolProvenance(true);
  j["architecture"] = arch;
  j["seed"] = config.seed;
  j["epochs"] = config.epochs;
  j["optimizer"] = OptimizerName(config.optimizer);
  j["val_count"] = config.val_count;
  j["dataset"] = {{"train_sha256", DatasetDigest(mnist.train)},
                  {"test_sha256", DatasetDigest(mnist.test)}};
  j["float_test_accuracy"] = test_accuracy;
  if (config.downsample > 0) j["downsample"] = config.downsample;
  if (!config.qat.empty()) {  // one scheme per layer: export's default
    Json schemes = Json::array();
    for (size_t i = 0; i + 1 < config.arch.size(); ++i) {
      schemes.push_back(WeightTypeName(QatScheme(config, i)));
    }
    j["qat"] = schemes;
    j["qat_from"] = config.qat_from;
  }
  return j;
}

Json ParseProvenance(const std::string& text) {
  if (text.empty()) return Json::object();
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : Json::object();
}

}  // namespace edgemlp::cli
