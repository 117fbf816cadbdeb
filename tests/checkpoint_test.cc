// Checkpoints: an interrupted and resumed run ends with exactly the weights
// of an uninterrupted one; damaged checkpoint files get specific errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "checkpoint.h"
#include "edgemlp/blob.h"
#include "error.h"
#include "test_util.h"

namespace edgemlp {
namespace {

// Random 8x8 images with labels that depend on them, enough to train on.
Dataset SyntheticData(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset d;
  d.images.count = static_cast<uint32_t>(count);
  d.images.rows = 8;
  d.images.cols = 8;
  d.images.pixels.resize(count * 64);
  for (size_t i = 0; i < count; ++i) {
    unsigned sum = 0;
    for (size_t p = 0; p < 64; ++p) {
      const uint8_t v = static_cast<uint8_t>(rng() % 256);
      d.images.pixels[i * 64 + p] = v;
      sum += p < 8 ? v : 0;
    }
    d.labels.push_back(static_cast<uint8_t>(sum % 10));
  }
  return d;
}

TrainConfig SmallConfig(Optimizer optimizer) {
  TrainConfig c;
  c.arch = {64, 16, 10};
  c.epochs = 4;
  c.seed = 7;
  c.optimizer = optimizer;
  c.batch = 32;
  c.threads = 1;
  c.val_count = 100;
  return c;
}

bool SameBits(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

bool SameModel(const FloatModel& a, const FloatModel& b) {
  if (a.layers.size() != b.layers.size()) return false;
  for (size_t i = 0; i < a.layers.size(); ++i) {
    if (!SameBits(a.layers[i].weights, b.layers[i].weights) ||
        !SameBits(a.layers[i].bias, b.layers[i].bias)) {
      return false;
    }
  }
  return true;
}

Checkpoint TrainedCheckpoint(const Dataset& data, const TrainConfig& config, int stop_after) {
  Checkpoint ck;
  ck.config = config;
  ck.note = "{\"out\": \"model.bin\"}";
  TrainHooks hooks;
  hooks.after_epoch = [&](const TrainState& s) {
    ck.state = s;
    return s.epochs_done < stop_after;
  };
  Train(data, config, hooks);
  return ck;
}

// Every TrainConfig field away from its default (the loss stays softmax
// cross-entropy: label smoothing needs it), valid for SyntheticData.
TrainConfig EveryFieldSet() {
  TrainConfig c;
  c.arch = {64, 12, 11, 10};
  c.epochs = 7;
  c.seed = 99;
  c.optimizer = Optimizer::kNesterov;
  c.learning_rate = 0.02f;
  c.batch = 16;
  c.threads = 1;
  c.l2 = 0.001f;
  c.l2_lambda = 0.5f;
  c.weight_decay = 0.003f;
  c.momentum = 0.85f;
  c.schedule = Schedule::kStep;
  c.step_epochs = 3;
  c.step_gamma = 0.3f;
  c.warmup_epochs = 2;
  c.val_count = 50;
  c.augment.shift = 1;
  c.augment.rotate = 5;
  c.augment.scale = 0.05f;
  c.augment.shear = 0.1f;
  c.augment.elastic_alpha = 8;
  c.augment.elastic_sigma = 3;
  c.input_dropout = 0.1f;
  c.hidden_dropout = 0.2f;
  c.max_norm = 3.5f;
  c.label_smoothing = 0.05f;
  c.ema_decay = 0.9f;
  c.early_stop = 4;
  c.activations = {Activation::kTanh, Activation::kSigmoid};
  c.init = Init::kUniform;
  c.init_low = -0.05f;
  c.init_high = 0.05f;
  c.bias_prior = true;
  c.input = InputScaling::kStandardize;
  return c;
}

TEST_CASE("a resumed run ends with exactly the weights of an uninterrupted one") {
  const Dataset data = SyntheticData(700, 3);
  for (Optimizer optimizer : {Optimizer::kSgd, Optimizer::kMomentum, Optimizer::kAdam}) {
    INFO("optimizer ", OptimizerName(optimizer));
    const TrainConfig config = SmallConfig(optimizer);
    TrainState full_state;
    TrainHooks keep;
    keep.after_epoch = [&](const TrainState& s) {
      full_state = s;
      return true;
    };
    const TrainResult full = Train(data, config, keep);

    // Stop after epoch 2, through the bytes of a checkpoint file, resume.
    test::TempDir dir;
    SaveCheckpoint(TrainedCheckpoint(data, config, 2), dir.path());
    Checkpoint ck = LoadCheckpoint(dir.path());
    CHECK(ck.state.epochs_done == 2);
    CHECK(ck.note == "{\"out\": \"model.bin\"}");
    const TrainResult resumed = Train(data, ck.config, {}, &ck.state);

    CHECK(SameModel(resumed.model, full.model));  // best epoch, calibrated
    CHECK(SameModel(ck.state.model, full_state.model));  // last epoch
    CHECK(ck.state.step == full_state.step);
    CHECK(resumed.best_epoch == full.best_epoch);
    REQUIRE(resumed.history.size() == full.history.size());
    for (size_t e = 0; e < full.history.size(); ++e) {
      CHECK(resumed.history[e].train_loss == full.history[e].train_loss);
      CHECK(resumed.history[e].val_accuracy == full.history[e].val_accuracy);
      CHECK(resumed.history[e].val_loss == full.history[e].val_loss);
      CHECK(std::isfinite(full.history[e].val_loss));
    }
    for (size_t i = 0; i < full_state.slots.size(); ++i) {
      CHECK(SameBits(ck.state.slots[i].w1, full_state.slots[i].w1));
      CHECK(SameBits(ck.state.slots[i].w2, full_state.slots[i].w2));
    }
    // Without the optimizer state the run would differ: the test can fail.
    if (optimizer != Optimizer::kSgd) {
      Checkpoint lossy = LoadCheckpoint(dir.path());
      for (OptimizerSlot& s : lossy.state.slots) s.w1.setZero();
      // (The last epoch's weights: the best epoch may predate the resume.)
      Train(data, lossy.config, {}, &lossy.state);
      CHECK_FALSE(SameModel(lossy.state.model, full_state.model));
    }
  }
}

TEST_CASE("a QAT run on downsampled, augmented images resumes to exactly the same weights") {
  const Dataset data = SyntheticData(500, 5);  // 8x8
  TrainConfig config = SmallConfig(Optimizer::kAdam);
  config.arch = {16, 12, 10};
  config.downsample = 4;  // 8x8 -> 4x4
  config.qat = {WeightType::kI4, WeightType::kI8};
  config.qat_from = 2;
  config.augment.shift = 1;
  config.ema_decay = 0.9f;
  const TrainResult full = Train(data, config);
  test::TempDir dir;
  SaveCheckpoint(TrainedCheckpoint(data, config, 2), dir.path());
  Checkpoint ck = LoadCheckpoint(dir.path());
  CHECK(ck.config.downsample == 4);
  CHECK(ck.config.qat == config.qat);
  CHECK(ck.config.qat_from == 2);
  CHECK(ck.state.model.input_transform.kind == InputTransformKind::kArea);
  CHECK(ck.state.model.input_size() == 64);
  const TrainResult resumed = Train(data, ck.config, {}, &ck.state);
  CHECK(SameModel(resumed.model, full.model));
  CHECK(resumed.model.input_transform.out_rows == 4);
  for (size_t e = 0; e < full.history.size(); ++e) {
    CHECK(resumed.history[e].val_accuracy == full.history[e].val_accuracy);
  }
}

// Checkpoint bytes with the CRC recomputed after an edit.
struct CheckpointBytes {
  std::vector<uint8_t> bytes;
  void FixCrc() {
    const uint32_t crc = Crc32(bytes.data() + 24, bytes.size() - 24);
    std::memcpy(bytes.data() + 12, &crc, 4);
  }
  template <typename T>
  void Put(size_t at, T value) {
    std::memcpy(bytes.data() + at, &value, sizeof(T));
  }
  std::string Error() const {
    try {
      ParseCheckpoint(bytes.data(), bytes.size(), "ck.emck");
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
};

// Bytes [24, ConfigEnd) of a checkpoint hold its TrainConfig: the arch
// (count + sizes), epochs, seed, 8 more scalars, 11 regularization floats,
// early_stop, 5 floats, 2 epoch counts, loss/init/input, bias_prior and the
// activation list (count + one byte each); from version 4 downsample, the
// QAT schemes (count + one byte each) and qat_from.
size_t ConfigEnd(const TrainConfig& c, uint32_t version = 4) {
  return 24 + 4 + 4 * c.arch.size() + 4 + 8 + 8 * 4 + 11 * 4 + 4 + 5 * 4 + 2 * 4 + 3 * 4 + 1 + 4 +
         c.activations.size() + (version >= 4 ? 4 + 4 + c.qat.size() + 4 : 0);
}

TEST_CASE("a damaged checkpoint gets a specific error naming the file") {
  const Dataset data = SyntheticData(300, 4);
  TrainConfig config = SmallConfig(Optimizer::kAdam);
  config.epochs = 1;
  const CheckpointBytes good{SerializeCheckpoint(TrainedCheckpoint(data, config, 1))};
  CHECK(good.Error() == "");
  auto damaged = [&](auto edit, bool fix_crc = true) {
    CheckpointBytes b = good;
    edit(b);
    if (fix_crc) b.FixCrc();
    return b.Error();
  };
  constexpr size_t kPayload = 24;
  // Payload starts with the architecture: count, then sizes.
  CHECK(damaged([](CheckpointBytes& b) { b.bytes[0] = 'X'; }, false).find(
            "ck.emck: not an edgemlp checkpoint") == 0);
  CHECK(damaged([](CheckpointBytes& b) { b.Put<uint32_t>(8, 99); }, false).find(
            "checkpoint version 99") != std::string::npos);
  CHECK(damaged([](CheckpointBytes& b) { b.bytes[b.bytes.size() / 2] ^= 1; }, false).find(
            "CRC32 mismatch") != std::string::npos);
  CHECK(damaged([](CheckpointBytes& b) { b.Put<uint64_t>(16, uint64_t{1} << 40); }, false).find(
            "truncated or padded") != std::string::npos);
  CHECK(damaged([&](CheckpointBytes& b) { b.Put<uint32_t>(kPayload, 0xFFFFFFFFu); }).find(
            "the configuration's arch needs 17179869180 bytes") != std::string::npos);
  CHECK(damaged([&](CheckpointBytes& b) { b.Put<uint32_t>(kPayload, 1); }).find(
            "--arch has 1 sizes") != std::string::npos);
  CHECK(damaged([&](CheckpointBytes& b) { b.Put<uint32_t>(kPayload + 4, 0x7FFFFFFFu); }).find(
            "layer size 2147483647") != std::string::npos);
  const size_t config_end = ConfigEnd(config);
  const size_t first_rows = config_end + 5 * 4;  // after the model's header
  const size_t first_weight = first_rows + 8;
  // A huge layer, consistent between the architecture and the matrix, still
  // cannot make the reader allocate beyond the bytes present.
  CHECK(damaged([&](CheckpointBytes& b) {
          b.Put<uint32_t>(kPayload + 8, 32768);
          b.Put<uint32_t>(first_rows, 32768);
        }).find("weights needs 8388608 bytes but only") != std::string::npos);
  for (float bad : {NAN, INFINITY}) {
    CHECK(damaged([&](CheckpointBytes& b) { b.Put<float>(first_weight, bad); }).find(
              "the model layer 0 weights holds a NaN") != std::string::npos);
  }
  CHECK(damaged([&](CheckpointBytes& b) { b.Put<int32_t>(kPayload + 16, 0); }).find(
            "training configuration is out of range") != std::string::npos);  // epochs 0
  // Truncation at every byte: always refused, never a crash.
  for (size_t keep = 0; keep < good.bytes.size(); keep += keep < 200 ? 1 : 97) {
    CheckpointBytes b{std::vector<uint8_t>(good.bytes.begin(), good.bytes.begin() + keep)};
    INFO("kept ", keep);
    CHECK(b.Error() != "");
    if (keep >= kPayload) {  // even with the header and CRC made consistent
      b.Put<uint64_t>(16, keep - kPayload);
      b.FixCrc();
      CHECK(b.Error() != "");
    }
  }
}

TEST_CASE("a version-2 checkpoint (before the config table) loads with every field in place") {
  // tests/data/checkpoint_v2.emck: SaveCheckpoint at commit 0f94e74 (format
  // 2, the hand-written PutConfig) of TrainedCheckpoint(SyntheticData(300,
  // 4), EveryFieldSet(), 1).
  const std::vector<uint8_t> old =
      test::ReadBytes(std::string(EDGEMLP_SOURCE_ROOT) + "/tests/data/checkpoint_v2.emck");
  Checkpoint ck = ParseCheckpoint(old.data(), old.size(), "checkpoint_v2.emck");
  // Written by the table, the expected config gives the old bytes (each
  // field has its own value, so a moved or retyped field shows), and so does
  // the config as read.
  const TrainConfig want = EveryFieldSet();
  const size_t end = ConfigEnd(want, 2);
  REQUIRE(old.size() > end);
  for (const TrainConfig& c : {want, ck.config}) {
    const std::vector<uint8_t> now = SerializeCheckpoint(Checkpoint{c, ck.state, ck.note});
    REQUIRE(now.size() > end);
    CHECK(std::equal(old.begin() + 24, old.begin() + end, now.begin() + 24));
  }
  CHECK(ck.config.arch == want.arch);
  CHECK(ck.config.activations == want.activations);
  CHECK(ck.config.augment.elastic_sigma == want.augment.elastic_sigma);
  CHECK(ck.config.input == want.input);
  CHECK(ck.state.epochs_done == 1);
  REQUIRE(ck.state.history.size() == 1);
  CHECK(std::isnan(ck.state.history[0].val_loss));  // version 2 did not record it
  CHECK_FALSE(ck.state.ema.layers.empty());
  CHECK(ck.note == "{\"out\": \"model.bin\"}");
  // And it trains on: one more epoch from the loaded state.
  ck.config.epochs = 2;
  const TrainResult r = Train(SyntheticData(300, 4), ck.config, {}, &ck.state);
  REQUIRE(r.history.size() == 2);
  CHECK(std::isfinite(r.history[1].val_loss));
  CHECK(ck.state.epochs_done == 2);
}

TEST_CASE("a configuration out of range is refused when read, naming the option") {
  const Dataset data = SyntheticData(300, 4);
  TrainConfig config = SmallConfig(Optimizer::kAdam);
  config.epochs = 1;
  Checkpoint ck = TrainedCheckpoint(data, config, 1);
  auto error = [&](auto edit) {
    Checkpoint bad = ck;
    edit(bad.config);
    const std::vector<uint8_t> bytes = SerializeCheckpoint(bad);
    try {
      ParseCheckpoint(bytes.data(), bytes.size(), "ck.emck");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error([](TrainConfig&) {}) == "");
  CHECK(error([](TrainConfig& c) { c.threads = -1; }).find("--threads") != std::string::npos);
  CHECK(error([](TrainConfig& c) { c.hidden_dropout = 1; }).find("--dropout") != std::string::npos);
  CHECK(error([](TrainConfig& c) { c.momentum = NAN; }).find("--momentum") != std::string::npos);
  CHECK(error([](TrainConfig& c) { c.optimizer = static_cast<Optimizer>(9); })
            .find("unknown optimizer") != std::string::npos);
  CHECK(error([](TrainConfig& c) { c.activations = {static_cast<Activation>(4)}; })
            .find("unknown hidden activation 4") != std::string::npos);
  CHECK(error([](TrainConfig& c) { c.schedule = Schedule::kStep; })
            .find("--step-epochs") != std::string::npos);
  CHECK(error([](TrainConfig& c) { c.epochs = 0; })
            .find("ck.emck: damaged checkpoint: the training configuration is out of range: "
                  "--epochs") == 0);
}

TEST_CASE("LoadCheckpoint names the missing file") {
  test::TempDir dir;
  try {
    LoadCheckpoint(dir.path());
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find(dir.path() + "/checkpoint.emck") == 0);
  }
}

}  // namespace
}  // namespace edgemlp
