#include "checkpoint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "atomic_file.h"
#include "edgemlp/blob.h"
#include "error.h"

namespace edgemlp {

namespace {

constexpr char kMagic[8] = {'E', 'M', 'L', 'P', 'C', 'K', 'P', 'T'};
// 2: every TrainConfig field, and the EMA; 3: the validation loss per epoch;
// 4: --downsample and QAT. Versions 2 and 3 still load (val_loss NaN for 2;
// the fields a version lacks keep their defaults).
constexpr uint32_t kVersion = 4;
constexpr uint32_t kOldestVersion = 2;
constexpr size_t kHeaderBytes = 24;  // magic, version, crc, payload size
constexpr uint32_t kMaxTextBytes = 1 << 20;

class Writer {
 public:
  template <typename T>
  void Put(T value) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
  }
  void PutFloats(const float* p, size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + 4 * n);
    if (n > 0) std::memcpy(bytes_.data() + at, p, 4 * n);
  }
  void PutText(const std::string& s) {
    Put(static_cast<uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void PutMatrix(const Eigen::MatrixXf& m) {
    Put(static_cast<uint32_t>(m.rows()));
    Put(static_cast<uint32_t>(m.cols()));
    PutFloats(m.data(), static_cast<size_t>(m.size()));
  }
  void PutVector(const Eigen::VectorXf& v) {
    Put(static_cast<uint32_t>(v.size()));
    PutFloats(v.data(), static_cast<size_t>(v.size()));
  }
  void PutModel(const FloatModel& m) {
    Put(m.input_rows);
    Put(m.input_cols);
    Put(m.input_scale);
    Put(m.input_offset);
    Put(static_cast<uint32_t>(m.layers.size()));
    for (const DenseLayer& l : m.layers) {
      PutMatrix(l.weights);
      PutVector(l.bias);
      Put(static_cast<uint8_t>(l.activation));
      Put(l.calib_max);
    }
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Bounds-checked reads; every failure names the file and the field.
class Reader {
 public:
  Reader(const uint8_t* p, size_t size, const std::string& name)
      : p_(p), left_(size), name_(name) {}

  [[noreturn]] void Fail(const std::string& what) const {
    throw InputError(name_ + ": damaged checkpoint: " + what);
  }

  void Need(uint64_t bytes, const char* what) const {
    if (bytes > left_) {
      Fail(std::string(what) + " needs " + std::to_string(bytes) +
           " bytes but only " + std::to_string(left_) + " are left");
    }
  }

  template <typename T>
  T Get(const char* what) {
    Need(sizeof(T), what);
    T value;
    std::memcpy(&value, p_, sizeof(T));
    Skip(sizeof(T));
    return value;
  }

  void GetFloats(float* out, uint64_t n, const char* what) {
    Need(4 * n, what);
    if (n > 0) std::memcpy(out, p_, 4 * n);
    Skip(4 * n);
    for (uint64_t i = 0; i < n; ++i) {
      if (!std::isfinite(out[i])) Fail(std::string(what) + " holds a NaN or infinity");
    }
  }

  std::string GetText(const char* what) {
    const uint32_t n = Get<uint32_t>(what);
    if (n > kMaxTextBytes) Fail(std::string(what) + " is " + std::to_string(n) + " bytes long");
    Need(n, what);
    std::string s(reinterpret_cast<const char*>(p_), n);
    Skip(n);
    return s;
  }

  // A matrix of exactly rows x cols (the shape the model dictates).
  Eigen::MatrixXf GetMatrix(Eigen::Index rows, Eigen::Index cols, const std::string& what) {
    const uint32_t r = Get<uint32_t>(what.c_str());
    const uint32_t c = Get<uint32_t>(what.c_str());
    if (r != rows || c != cols) {
      Fail(what + " is " + std::to_string(r) + "x" + std::to_string(c) + " (expected " +
           std::to_string(rows) + "x" + std::to_string(cols) + ")");
    }
    Need(uint64_t{r} * c * 4, what.c_str());
    Eigen::MatrixXf m(rows, cols);
    GetFloats(m.data(), uint64_t{r} * c, what.c_str());
    return m;
  }

  Eigen::VectorXf GetVector(Eigen::Index size, const std::string& what) {
    const uint32_t n = Get<uint32_t>(what.c_str());
    if (n != size) {
      Fail(what + " has " + std::to_string(n) + " entries (expected " + std::to_string(size) + ")");
    }
    Need(uint64_t{n} * 4, what.c_str());
    Eigen::VectorXf v(size);
    GetFloats(v.data(), n, what.c_str());
    return v;
  }

  // The transform is not stored: config.downsample gives it again.
  FloatModel GetModel(const TrainConfig& config, const char* what) {
    const std::vector<uint32_t>& arch = config.arch;
    FloatModel m;
    const std::string w = what;
    m.input_rows = Get<uint32_t>(what);
    m.input_cols = Get<uint32_t>(what);
    m.input_scale = Get<float>(what);
    m.input_offset = Get<float>(what);
    try {
      m.input_transform = DownsampleTransform(config, m.input_rows, m.input_cols);
    } catch (const InputError& e) {
      Fail(w + ": " + e.what());
    }
    if (uint64_t{m.input_rows} * m.input_cols > (uint64_t{1} << 32) ||
        m.layer_input_size() != arch[0] || !std::isfinite(m.input_scale) ||
        !std::isfinite(m.input_offset) || m.input_scale == 0.0f) {
      Fail(w + " input " + std::to_string(m.input_rows) + "x" + std::to_string(m.input_cols) +
           " does not match the architecture's " + std::to_string(arch[0]) +
           " inputs, or its input scale is not finite and non-zero");
    }
    const uint32_t layers = Get<uint32_t>(what);
    if (layers + 1 != arch.size()) {
      Fail(w + " has " + std::to_string(layers) + " layers (expected " +
           std::to_string(arch.size() - 1) + ")");
    }
    for (uint32_t i = 0; i < layers; ++i) {
      const std::string at = w + " layer " + std::to_string(i);
      DenseLayer l;
      l.weights = GetMatrix(arch[i + 1], arch[i], at + " weights");
      l.bias = GetVector(arch[i + 1], at + " bias");
      const uint8_t act = Get<uint8_t>(what);
      if (act > static_cast<uint8_t>(Activation::kTanh)) {
        Fail(at + " has unknown activation " + std::to_string(act));
      }
      l.activation = static_cast<Activation>(act);
      l.calib_max = Get<float>(what);
      m.layers.push_back(std::move(l));
    }
    return m;
  }

  size_t left() const { return left_; }

 private:
  void Skip(uint64_t n) {
    p_ += n;
    left_ -= n;
  }

  const uint8_t* p_;
  size_t left_;
  const std::string& name_;
};

// The configuration as stored: one row per field, in file order, with the
// version that added it (default 2). Writing and reading both walk this
// list; ValidateConfig checks the ranges once. Storage: int as i32,
// uint32_t as u32, uint64_t as u64, float as f32, bool as u8, enums as u32;
// a vector as a u32 count, then its elements (sizes as u32, activations and
// weight schemes as u8).
template <typename Config, typename Field>
void ForEachConfigField(Config& c, Field&& field) {
  field("arch", c.arch);
  field("epochs", c.epochs);
  field("seed", c.seed);
  field("optimizer", c.optimizer);
  field("learning_rate", c.learning_rate);
  field("batch", c.batch);
  field("threads", c.threads);
  field("l2", c.l2);
  field("momentum", c.momentum);
  field("schedule", c.schedule);
  field("val_count", c.val_count);
  field("augment.shift", c.augment.shift);
  field("augment.rotate", c.augment.rotate);
  field("augment.scale", c.augment.scale);
  field("augment.shear", c.augment.shear);
  field("augment.elastic_alpha", c.augment.elastic_alpha);
  field("augment.elastic_sigma", c.augment.elastic_sigma);
  field("input_dropout", c.input_dropout);
  field("hidden_dropout", c.hidden_dropout);
  field("max_norm", c.max_norm);
  field("label_smoothing", c.label_smoothing);
  field("ema_decay", c.ema_decay);
  field("early_stop", c.early_stop);
  field("l2_lambda", c.l2_lambda);
  field("weight_decay", c.weight_decay);
  field("step_gamma", c.step_gamma);
  field("init_low", c.init_low);
  field("init_high", c.init_high);
  field("step_epochs", c.step_epochs);
  field("warmup_epochs", c.warmup_epochs);
  field("loss", c.loss);
  field("init", c.init);
  field("input", c.input);
  field("bias_prior", c.bias_prior);
  field("activations", c.activations);
  field("downsample", c.downsample, 4);
  field("qat", c.qat, 4);
  field("qat_from", c.qat_from, 4);
}

// The stored type of a config member of type T (vectors: of an element).
template <typename T>
constexpr bool kStoredAsByte =
    std::is_same_v<T, bool> || std::is_same_v<T, Activation> || std::is_same_v<T, WeightType>;
template <typename T>
using Stored = std::conditional_t<kStoredAsByte<T>, uint8_t,
                                  std::conditional_t<std::is_enum_v<T>, uint32_t, T>>;
template <typename T>
constexpr bool kIsVector = std::is_same_v<T, std::vector<uint32_t>> ||
                           std::is_same_v<T, std::vector<Activation>> ||
                           std::is_same_v<T, std::vector<WeightType>>;

void PutConfig(Writer& w, const TrainConfig& config) {
  ForEachConfigField(config, [&](const char*, const auto& value, uint32_t = 2) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (kIsVector<T>) {
      w.Put(static_cast<uint32_t>(value.size()));
      for (auto v : value) w.Put(static_cast<Stored<typename T::value_type>>(v));
    } else {
      w.Put(static_cast<Stored<T>>(value));
    }
  });
}

TrainConfig GetConfig(Reader& r, uint32_t version) {
  TrainConfig config;
  ForEachConfigField(config, [&](const char* name, auto& value, uint32_t since = 2) {
    if (since > version) return;  // a later field: its default
    using T = std::decay_t<decltype(value)>;
    const std::string what = std::string("the configuration's ") + name;
    if constexpr (kIsVector<T>) {
      using E = typename T::value_type;
      const uint32_t n = r.Get<uint32_t>(what.c_str());
      r.Need(uint64_t{n} * sizeof(Stored<E>), what.c_str());  // before allocating
      value.resize(n);
      for (E& v : value) v = static_cast<E>(r.Get<Stored<E>>(what.c_str()));
    } else {
      value = static_cast<T>(r.Get<Stored<T>>(what.c_str()));
    }
  });
  try {
    ValidateConfig(config);
  } catch (const InputError& e) {
    r.Fail(std::string("the training configuration is out of range: ") + e.what());
  }
  return config;
}

}  // namespace

std::string CheckpointPath(const std::string& dir) { return dir + "/checkpoint.emck"; }

bool CheckpointExists(const std::string& dir) {
  struct stat st;
  return stat(CheckpointPath(dir).c_str(), &st) == 0;
}

std::vector<uint8_t> SerializeCheckpoint(const Checkpoint& ck) {
  const TrainState& s = ck.state;
  Writer w;
  PutConfig(w, ck.config);
  w.PutModel(s.model);
  w.Put(static_cast<uint32_t>(s.slots.size()));
  for (const OptimizerSlot& slot : s.slots) {
    w.PutMatrix(slot.w1);
    w.PutMatrix(slot.w2);
    w.PutVector(slot.b1);
    w.PutVector(slot.b2);
  }
  std::ostringstream rng;
  rng << s.rng;
  w.PutText(rng.str());
  w.Put(static_cast<int32_t>(s.epochs_done));
  w.Put(static_cast<int64_t>(s.step));
  w.PutModel(s.best);
  w.Put(static_cast<uint8_t>(!s.ema.layers.empty()));
  if (!s.ema.layers.empty()) w.PutModel(s.ema);
  w.Put(s.best_accuracy);
  w.Put(static_cast<int32_t>(s.best_epoch));
  w.Put(static_cast<uint32_t>(s.history.size()));
  for (const EpochRecord& e : s.history) {
    w.Put(static_cast<int32_t>(e.epoch));
    w.Put(e.seconds);
    w.Put(e.train_loss);
    w.Put(e.val_accuracy);
    w.Put(e.learning_rate);
    w.Put(e.reg_loss);
    w.Put(e.train_accuracy);
    w.Put(e.val_loss);
    for (const std::vector<double>* v : {&e.update_ratio, &e.grad_norm}) {
      w.Put(static_cast<uint32_t>(v->size()));
      for (double x : *v) w.Put(x);
    }
  }
  w.PutText(ck.note);

  const std::vector<uint8_t>& payload = w.bytes();
  std::vector<uint8_t> out(kHeaderBytes);
  std::memcpy(out.data(), kMagic, 8);
  const uint32_t crc = Crc32(payload.data(), payload.size());
  const uint64_t size = payload.size();
  std::memcpy(out.data() + 8, &kVersion, 4);
  std::memcpy(out.data() + 12, &crc, 4);
  std::memcpy(out.data() + 16, &size, 8);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Checkpoint ParseCheckpoint(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size < kHeaderBytes || std::memcmp(bytes, kMagic, 8) != 0) {
    throw InputError(name + ": not an edgemlp checkpoint (expected \"EMLPCKPT\" at offset 0)");
  }
  uint32_t version, crc;
  uint64_t payload_size;
  std::memcpy(&version, bytes + 8, 4);
  std::memcpy(&crc, bytes + 12, 4);
  std::memcpy(&payload_size, bytes + 16, 8);
  if (version < kOldestVersion || version > kVersion) {
    throw InputError(name + ": checkpoint version " + std::to_string(version) +
                     " (this edgemlp reads versions " + std::to_string(kOldestVersion) + " to " +
                     std::to_string(kVersion) + ")");
  }
  if (payload_size != size - kHeaderBytes) {
    throw InputError(name + ": truncated or padded: the header says " +
                     std::to_string(payload_size) + " bytes of data, the file holds " +
                     std::to_string(size - kHeaderBytes));
  }
  const uint8_t* payload = bytes + kHeaderBytes;
  if (Crc32(payload, payload_size) != crc) {
    throw InputError(name + ": CRC32 mismatch: the checkpoint is damaged");
  }
  Reader r(payload, payload_size, name);
  Checkpoint ck;
  ck.config = GetConfig(r, version);
  const std::vector<uint32_t>& arch = ck.config.arch;
  TrainState& s = ck.state;
  s.model = r.GetModel(ck.config, "the model");
  const uint32_t slots = r.Get<uint32_t>("the optimizer state");
  if (slots + 1 != arch.size()) r.Fail("optimizer state for " + std::to_string(slots) + " layers");
  for (uint32_t i = 0; i < slots; ++i) {
    const std::string at = "optimizer state of layer " + std::to_string(i);
    OptimizerSlot slot;
    slot.w1 = r.GetMatrix(arch[i + 1], arch[i], at);
    slot.w2 = r.GetMatrix(arch[i + 1], arch[i], at);
    slot.b1 = r.GetVector(arch[i + 1], at);
    slot.b2 = r.GetVector(arch[i + 1], at);
    s.slots.push_back(std::move(slot));
  }
  std::istringstream rng(r.GetText("the random generator state"));
  rng >> s.rng;
  if (rng.fail()) r.Fail("the random generator state does not parse");
  s.epochs_done = r.Get<int32_t>("the epoch counter");
  s.step = r.Get<int64_t>("the step counter");
  if (s.epochs_done < 0 || s.epochs_done > ck.config.epochs || s.step < 0) {
    r.Fail("epoch " + std::to_string(s.epochs_done) + " of " +
           std::to_string(ck.config.epochs) + ", step " + std::to_string(s.step));
  }
  s.best = r.GetModel(ck.config, "the best model");
  if (r.Get<uint8_t>("the EMA flag") != 0) s.ema = r.GetModel(ck.config, "the EMA model");
  s.best_accuracy = r.Get<double>("the best accuracy");
  s.best_epoch = r.Get<int32_t>("the best epoch");
  const uint32_t history = r.Get<uint32_t>("the history");
  if (history != static_cast<uint32_t>(s.epochs_done) || s.best_epoch < 0 ||
      s.best_epoch > s.epochs_done) {
    r.Fail(std::to_string(history) + " history records and best epoch " +
           std::to_string(s.best_epoch) + " for " + std::to_string(s.epochs_done) +
           " epochs done");
  }
  for (uint32_t i = 0; i < history; ++i) {
    EpochRecord e;
    e.epoch = r.Get<int32_t>("the history");
    e.seconds = r.Get<double>("the history");
    e.train_loss = r.Get<double>("the history");
    e.val_accuracy = r.Get<double>("the history");
    e.learning_rate = r.Get<double>("the history");
    e.reg_loss = r.Get<double>("the history");
    e.train_accuracy = r.Get<double>("the history");
    if (version >= 3) e.val_loss = r.Get<double>("the history");
    // Per-layer diagnostics: one value per layer of the architecture.
    for (std::vector<double>* v : {&e.update_ratio, &e.grad_norm}) {
      const uint32_t n = r.Get<uint32_t>("the history");
      if (n != arch.size() - 1) r.Fail("history record with " + std::to_string(n) + " layers");
      for (uint32_t k = 0; k < n; ++k) v->push_back(r.Get<double>("the history"));
    }
    s.history.push_back(e);
  }
  ck.note = r.GetText("the note");
  if (r.left() != 0) r.Fail(std::to_string(r.left()) + " bytes after the last field");
  return ck;
}

void SaveCheckpoint(const Checkpoint& checkpoint, const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    throw InputError(dir + ": cannot create the checkpoint directory (" +
                     std::strerror(errno) + ")");
  }
  const std::vector<uint8_t> bytes = SerializeCheckpoint(checkpoint);
  WriteFileAtomic(CheckpointPath(dir), bytes.data(), bytes.size());
}

Checkpoint LoadCheckpoint(const std::string& dir) {
  const std::string path = CheckpointPath(dir);
  size_t size = 0;
  const std::vector<uint64_t> buf = ReadFileAligned(path, &size);
  return ParseCheckpoint(reinterpret_cast<const uint8_t*>(buf.data()), size, path);
}

}  // namespace edgemlp
