#include "test_util.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "error.h"

namespace edgemlp::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/edgemlp-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

FloatModel RandomModel(const std::vector<uint32_t>& arch, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  FloatModel m;
  m.input_rows = arch[0];
  m.input_cols = 1;
  for (size_t i = 0; i + 1 < arch.size(); ++i) {
    DenseLayer l;
    const float sd = std::sqrt(2.0f / static_cast<float>(arch[i]));
    l.weights.resize(arch[i + 1], arch[i]);
    for (Eigen::Index k = 0; k < l.weights.size(); ++k) l.weights.data()[k] = sd * normal(rng);
    l.bias.resize(arch[i + 1]);
    for (Eigen::Index k = 0; k < l.bias.size(); ++k) l.bias[k] = 0.1f * normal(rng);
    l.activation = i + 2 == arch.size() ? Activation::kNone : Activation::kRelu;
    l.calib_max = 4.0f;
    m.layers.push_back(std::move(l));
  }
  return m;
}

Dataset OnePixelPerClass(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset d;
  d.images.rows = d.images.cols = 4;
  d.images.count = static_cast<uint32_t>(count);
  d.images.pixels.resize(count * 16);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t label = static_cast<uint8_t>(rng() % 10);
    for (int p = 0; p < 16; ++p) d.images.pixels[i * 16 + p] = static_cast<uint8_t>(rng() % 40);
    d.images.pixels[i * 16 + label] = 255;
    d.labels.push_back(label);
  }
  return d;
}

TrainConfig SmallTrainConfig() {
  TrainConfig c;
  c.arch = {16, 24, 10};
  c.epochs = 20;
  c.batch = 32;
  c.val_count = 200;
  c.threads = 1;
  return c;
}

std::string MnistDir() {
  if (const char* env = std::getenv("EDGEMLP_DATA"); env && *env) return env;
  return std::string(EDGEMLP_SOURCE_ROOT) + "/data/mnist";
}

std::string ErrorOf(const std::function<void()>& read) {
  try {
    read();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace edgemlp::test
