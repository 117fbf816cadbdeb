// Writes the seed inputs of fuzz_blob and fuzz_checkpoint that need the
// writers (small valid blobs and a checkpoint): make_seeds CORPUS_DIR.
// The committed files under tests/fuzz/corpus/ came from this program
// (int8-16-8-4, int8-9-3 and float-16-8-4 from its format 1.1 version: they
// stay as 1.1 seeds).
#include <random>
#include <string>
#include <utility>

#include "atomic_file.h"
#include "checkpoint.h"
#include "model.h"
#include "quantize.h"

namespace {

using namespace edgemlp;

FloatModel SmallModel(const std::vector<uint32_t>& arch, uint32_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  FloatModel m;
  m.input_rows = rows;
  m.input_cols = arch[0] / rows;
  for (size_t i = 0; i + 1 < arch.size(); ++i) {
    DenseLayer l;
    l.weights.resize(arch[i + 1], arch[i]);
    for (Eigen::Index k = 0; k < l.weights.size(); ++k) l.weights.data()[k] = normal(rng);
    l.bias.resize(arch[i + 1]);
    for (Eigen::Index k = 0; k < l.bias.size(); ++k) l.bias[k] = normal(rng);
    l.activation = i + 2 == arch.size() ? Activation::kNone : Activation::kRelu;
    l.calib_max = 3.0f;
    m.layers.push_back(std::move(l));
  }
  return m;
}

void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  WriteFileAtomic(path, bytes.data(), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  const FloatModel a = SmallModel({16, 8, 4}, 4, 1);
  const FloatModel b = SmallModel({9, 3}, 3, 2);
  Write(dir + "/fuzz_blob/int8-16-8-4.bin", QuantizeInt8(a));
  Write(dir + "/fuzz_blob/int8-9-3.bin", QuantizeInt8(b));
  Write(dir + "/fuzz_blob/float-16-8-4.bin", SerializeFloatModel(a));
  // Format 1.2 input transforms: 8x8 -> 4x4 area, 5 affine features.
  FloatModel area = SmallModel({16, 8, 4}, 4, 4);
  area.input_rows = area.input_cols = 8;
  area.input_transform.kind = InputTransformKind::kArea;
  area.input_transform.in_rows = area.input_transform.in_cols = 8;
  area.input_transform.out_rows = area.input_transform.out_cols = 4;
  FloatModel affine = SmallModel({5, 4, 2}, 5, 5);
  affine.input_transform.kind = InputTransformKind::kAffine;
  affine.input_transform.scale = {1.0f, 2.0f, 0.5f, 100.0f, -3.0f};
  affine.input_transform.offset = {0.0f, 128.0f, 10.0f, -5.0f, 255.0f};
  for (const auto& [name, model] : {std::pair{"area-8x8-4x4", &area}, std::pair{"affine-5-4-2", &affine}}) {
    QuantOptions q;
    q.test_input = SyntheticTestInput(model->input_size());
    Write(dir + "/fuzz_blob/int8-" + name + ".bin", Quantize(*model, q));
    Write(dir + "/fuzz_blob/float-" + name + ".bin", SerializeFloatModel(*model));
  }

  // A one-epoch run on random 4x4 images.
  Dataset data;
  data.images.count = 40;
  data.images.rows = data.images.cols = 4;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 40 * 16; ++i) data.images.pixels.push_back(static_cast<uint8_t>(rng()));
  for (int i = 0; i < 40; ++i) data.labels.push_back(static_cast<uint8_t>(i % 10));
  Checkpoint ck;
  ck.config.arch = {16, 4, 10};
  ck.config.epochs = 2;
  ck.config.batch = 8;
  ck.config.threads = 1;
  ck.config.val_count = 10;
  ck.note = "{\"out\": \"m.bin\"}";
  TrainHooks hooks;
  hooks.after_epoch = [&](const TrainState& s) {
    ck.state = s;
    return false;
  };
  Train(data, ck.config, hooks);
  Write(dir + "/fuzz_checkpoint/adam-16-4-10.emck", SerializeCheckpoint(ck));
  return 0;
}
