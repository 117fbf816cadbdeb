#include "firmware.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>

namespace edgemlp::firmware {

namespace {

// JSON string body: escapes quotes, backslashes and control characters.
size_t JsonEscape(const char* s, char* buf, size_t size) {
  size_t n = 0;
  for (; *s != '\0' && n + 7 < size; ++s) {
    const unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      buf[n++] = '\\';
      buf[n++] = static_cast<char>(c);
    } else if (c < 0x20) {
      n += static_cast<size_t>(std::snprintf(buf + n, size - n, "\\u%04x", c));
    } else {
      buf[n++] = static_cast<char>(c);
    }
  }
  buf[n] = '\0';
  return n;
}

size_t Clamp(int written, size_t size) {
  if (written < 0) return 0;
  return static_cast<size_t>(written) < size ? static_cast<size_t>(written) : size - 1;
}

}  // namespace

bool Stopped(const LoopOptions& o) { return o.stop != nullptr && *o.stop != 0; }

Wait WaitReadable(int fd, int64_t deadline_ns, const LoopOptions& o) {
  for (;;) {
    if (Stopped(o)) return Wait::kStopped;
    if (o.reload != nullptr && *o.reload != 0) {
      *o.reload = 0;
      if (o.hooks != nullptr) o.hooks->Reload();
    }
    const int64_t now = MonotonicNs();
    int64_t until = deadline_ns;
    if (o.hooks != nullptr) {
      o.hooks->Tick(now);
      const int64_t tick = o.hooks->NextTickNs();
      if (tick >= 0 && (until < 0 || tick < until)) until = tick;
    }
    timespec ts{};
    if (until >= 0) {
      const int64_t wait = std::max<int64_t>(0, until - now);
      ts = timespec{static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ppoll(&p, fd >= 0 ? 1 : 0, until >= 0 ? &ts : nullptr, o.wait_mask);
    if (r > 0) return Wait::kReady;  // readable, or hung up / failed: read() tells
    if (r < 0 && errno != EINTR) return Wait::kError;
    if (r == 0 && deadline_ns >= 0 && MonotonicNs() >= deadline_ns) return Wait::kTimeout;
  }
}

Pacer::Pacer(double hz) : period_ns_(hz > 0 ? static_cast<int64_t>(1e9 / hz) : 0) {}

void Pacer::WaitForSlot(const LoopOptions& o) {
  if (!active()) return;
  if (start_ns_ == 0) start_ns_ = NowNs();
  const int64_t begin = start_ns_ + slot_ * period_ns_;
  if (NowNs() < begin) WaitReadable(-1, begin, o);  // a sleep that signals end
}

bool Pacer::FinishSlot() {
  if (!active()) return false;
  const int64_t now = NowNs();
  const bool missed = now > start_ns_ + (slot_ + 1) * period_ns_;
  ++slot_;
  const int64_t behind = (now - start_ns_) / period_ns_;
  if (behind > slot_) slot_ = behind;
  return missed;
}

int64_t Pacer::NowNs() { return MonotonicNs(); }

void EmitPrediction(Prediction p, int64_t received_ns, const char* source, const LoopOptions& o,
                    FrameClassifier* c, std::FILE* out) {
  c->RecordLatency(&p, received_ns);
  const bool changed = p.digit != c->last_digit;
  c->last_digit = p.digit;
  char line[1024];
  if (changed || !o.print_changes) {
    c->FormatPrediction(p, source, o.json, line, sizeof(line));
    std::fputs(line, out);
  }
  if (changed && o.hooks != nullptr) o.hooks->DigitChanged(p.digit);
  bool stats = o.stats_every > 0 && c->frames() % o.stats_every == 0;
  if (o.stats_period_s > 0) {
    const int64_t now = MonotonicNs();
    if (c->last_stats_ns == 0) c->last_stats_ns = now;
    if (now - c->last_stats_ns >= static_cast<int64_t>(o.stats_period_s * 1e9)) {
      stats = true;
      c->last_stats_ns = now;
    }
  }
  if (stats) {  // on stderr as it is, with the journal's priority prefix
    c->FormatStats(o.json, line, sizeof(line));
    LogLine(kLogInfo, line);
  }
}

void LatencyStats::Add(double us) {
  // Bucket b >= 1 holds [0.1 * 2^(b/8), 0.1 * 2^((b+1)/8)) us.
  const double octaves = us > kFirstUs ? std::log2(us / kFirstUs) : 0;
  buckets_[std::min(kBuckets - 1, static_cast<int>(octaves * kPerOctave))]++;
  ++count_;
  if (count_ == 1 || us < min_us_) min_us_ = us;
  if (us > max_us_) max_us_ = us;
  const double delta = us - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (us - mean_);
}

double LatencyStats::Percentile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets - 1; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const double upper = kFirstUs * std::exp2(static_cast<double>(i + 1) / kPerOctave);
      return std::max(min_us_, std::min(max_us_, upper));
    }
  }
  return max_us_;
}

double LatencyStats::jitter_us() const {
  return count_ > 1 ? std::sqrt(m2_ / static_cast<double>(count_ - 1)) : 0.0;
}

FrameClassifier::FrameClassifier(Network* net)
    : net_(net), logits_(new int32_t[net->output_size()]), probs_(new float[net->output_size()]) {}

Prediction FrameClassifier::Classify(const uint8_t* frame) {
  const auto t0 = std::chrono::steady_clock::now();
  const int digit = net_->Predict(frame, logits_.get());
  const auto t1 = std::chrono::steady_clock::now();
  return Finish(digit, std::chrono::duration<double, std::micro>(t1 - t0).count());
}

Prediction FrameClassifier::ClassifyFeatures(const float* features) {
  const auto t0 = std::chrono::steady_clock::now();
  const int digit = net_->PredictFloat(features, logits_.get());
  const auto t1 = std::chrono::steady_clock::now();
  if (digit < 0) {
    Prediction p;
    p.digit = -1;
    return p;
  }
  return Finish(digit, std::chrono::duration<double, std::micro>(t1 - t0).count());
}

Prediction FrameClassifier::Finish(int predicted, double inference_us) {
  const size_t n = net_->output_size();
  Prediction p;
  p.digit = predicted;
  Softmax(logits_.get(), n, net_->logit_scale(), probs_.get());
  p.probability = probs_[p.digit];
  p.inference_us = inference_us;
  p.latency_us = p.inference_us;
  if (frames_ < labels_.size() && labels_[frames_] == p.digit) ++correct_;
  ++frames_;
  const uint8_t digit = static_cast<uint8_t>(p.digit);
  predictions_sha_.Update(&digit, 1);
  outputs_sha_.Update(logits_.get(), n * sizeof(int32_t));
  stats_.Add(p.inference_us);
  return p;
}

void FrameClassifier::RecordLatency(Prediction* p, int64_t received_ns) {
  // steady_clock and CLOCK_MONOTONIC differ; the received time is the
  // latter, and the latency includes the inference whatever the clocks say.
  if (received_ns > 0) {
    const double us = static_cast<double>(MonotonicNs() - received_ns) / 1e3;
    p->latency_us = std::max(us, p->inference_us);
  }
  latency_.Add(p->latency_us);
}

size_t FrameClassifier::FormatPrediction(const Prediction& p, const char* source, bool json,
                                         char* buf, size_t size) const {
  if (!json) {
    return Clamp(std::snprintf(buf, size, "%d %.4f %.2f%s%s\n", p.digit, p.probability,
                               p.latency_us, source ? " " : "", source ? source : ""),
                 size);
  }
  char name[512] = "";
  if (source != nullptr) JsonEscape(source, name, sizeof(name));
  return Clamp(
      std::snprintf(buf, size,
                    "{\"frame\":%llu,\"digit\":%d,\"probability\":%.4f,"
                    "\"latency_us\":%.2f,\"inference_us\":%.2f%s%s%s}\n",
                    static_cast<unsigned long long>(frames_ - 1), p.digit, p.probability,
                    p.latency_us, p.inference_us, source ? ",\"source\":\"" : "", name,
                    source ? "\"" : ""),
      size);
}

size_t FrameClassifier::FormatStats(bool json, char* buf, size_t size) const {
  Sha256 predictions = predictions_sha_, outputs = outputs_sha_;  // finish copies
  char predictions_hex[65], outputs_hex[65];
  predictions.FinishHex(predictions_hex);
  outputs.FinishHex(outputs_hex);
  const unsigned long long frames = frames_;
  const bool labelled = !labels_.empty() && frames > 0;
  const double accuracy =
      labelled ? static_cast<double>(correct_) / static_cast<double>(frames) : 0;
  char accuracy_field[48] = "";
  if (labelled) {
    std::snprintf(accuracy_field, sizeof(accuracy_field),
                  json ? ",\"accuracy\":%.4f" : " accuracy=%.4f", accuracy);
  }
  const char* format = json ? "{\"final\":true,\"frames\":%llu,\"malformed\":%llu,"
                              "\"missed_deadlines\":%llu,\"dropped\":%llu,\"p50_us\":%.2f,"
                              "\"p99_us\":%.2f,\"max_us\":%.2f,\"jitter_us\":%.2f,"
                              "\"latency_p50_us\":%.2f,\"latency_p99_us\":%.2f,"
                              "\"latency_max_us\":%.2f%s,"
                              "\"predictions_sha256\":\"%s\",\"outputs_sha256\":\"%s\"}\n"
                            : "stats frames=%llu malformed=%llu missed_deadlines=%llu dropped=%llu "
                              "p50_us=%.2f p99_us=%.2f max_us=%.2f jitter_us=%.2f "
                              "latency_p50_us=%.2f latency_p99_us=%.2f latency_max_us=%.2f%s "
                              "predictions_sha256=%s outputs_sha256=%s\n";
  return Clamp(std::snprintf(buf, size, format, frames, static_cast<unsigned long long>(malformed_),
                             static_cast<unsigned long long>(missed_deadlines_),
                             static_cast<unsigned long long>(dropped_), stats_.Percentile(0.5),
                             stats_.Percentile(0.99), stats_.max_us(), stats_.jitter_us(),
                             latency_.Percentile(0.5), latency_.Percentile(0.99),
                             latency_.max_us(), accuracy_field, predictions_hex, outputs_hex),
               size);
}

const char* VerifyPredictMatchesReference(Network* net) {
  std::vector<int32_t> simd(net->output_size()), ref(net->output_size());
  if (net->input_transform().kind == InputTransformKind::kAffine) {
    // Features: Predict takes them quantized (u8); every byte value.
    std::vector<uint8_t> q(net->input_size());
    for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<uint8_t>(i * 37 + 11);
    const int a = net->Predict(q.data(), simd.data());
    const int b = net->PredictRef(q.data(), ref.data());
    return a != b || simd != ref ? "SIMD forward pass differs from the scalar reference" : nullptr;
  }
  if (net->input_size() != kFrameBytes) return "the model does not take 28 x 28 frames";
  std::vector<uint8_t> frame(kFrameBytes);
  // A ring (a drawn "0") and a pattern that covers every pixel value.
  for (int pattern = 0; pattern < 2; ++pattern) {
    for (int y = 0; y < kFrameSide; ++y) {
      for (int x = 0; x < kFrameSide; ++x) {
        const double r = std::hypot(x - 13.5, (y - 13.5) * 0.8);
        frame[y * kFrameSide + x] =
            pattern == 0 ? (r > 6 && r < 9 ? 255 : 0) : static_cast<uint8_t>((y * kFrameSide + x) * 37);
      }
    }
    const int a = net->Predict(frame.data(), simd.data());
    const int b = net->PredictRef(frame.data(), ref.data());
    if (a != b || simd != ref) return "SIMD forward pass differs from the scalar reference";
  }
  return nullptr;
}

const char* VerifyBlobKnownAnswer(Network* net) {
  static std::string error;  // start-up only, single-threaded
  const LoadResult r = net->SelfTest();
  if (r.ok() || r.status == Status::kNoTestVector) return nullptr;  // 1.0 blobs carry none
  error = std::string("known-answer test failed: ") + r.message;
  return error.c_str();
}

FrameStream::FrameStream(size_t frame_bytes)
    : frame_bytes_(frame_bytes),
      storage_(new uint8_t[2 * frame_bytes]),
      ready_(storage_.get()),
      filling_(storage_.get() + frame_bytes) {}

FrameStream::Result FrameStream::Next(int fd, bool newest, const LoopOptions& o) {
  // A writer that never pauses (e.g. `cat` of a file) would keep a drain
  // going: it ends after this many frames replaced (more than a pipe holds).
  constexpr uint64_t kMaxReplaced = 256;
  bool have = false;
  uint64_t replaced = 0;
  for (;;) {
    if (have && replaced >= kMaxReplaced) return Result::kFrame;
    // With a frame in hand, only what is readable now; else wait for data.
    switch (WaitReadable(fd, have ? 0 : -1, o)) {
      case Wait::kReady:
        break;
      case Wait::kTimeout:
        return Result::kFrame;  // have: nothing more readable
      case Wait::kStopped:
        return Result::kStopped;
      case Wait::kError:
        return Result::kError;
    }
    const ssize_t n = read(fd, filling_ + filled_, frame_bytes_ - filled_);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Result::kError;
    }
    if (n == 0) return have ? Result::kFrame : Result::kEnd;
    filled_ += static_cast<size_t>(n);
    if (filled_ < frame_bytes_) continue;
    received_ns_ = MonotonicNs();
    if (have) {
      ++dropped_;
      ++replaced;
    }
    std::swap(ready_, filling_);
    filled_ = 0;
    have = true;
    if (!newest) return Result::kFrame;
  }
}

size_t I420FrameBytes(int width, int height) {
  const size_t w = static_cast<size_t>(width), h = static_cast<size_t>(height);
  return w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2);
}

namespace {

// Reads records of `record_bytes` from fd (reopening a FIFO whose writer
// left) and emits classify(record) for each: classify returns the
// prediction, or a negative digit for a record it counted as malformed.
template <class Classify>
void RunRecordLoop(int fd, const char* reopen_path, size_t record_bytes, const char* what,
                   const LoopOptions& o, FrameClassifier* classifier, std::FILE* out,
                   Classify classify) {
  FrameStream stream(record_bytes);
  Pacer pacer(o.hz);
  struct stat st {};
  // A file is read in full; a pipe under --hz is drained to its newest record.
  const bool newest = o.hz > 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
  while (!Stopped(o)) {
    pacer.WaitForSlot(o);
    const FrameStream::Result r = stream.Next(fd, newest, o);
    classifier->CountDropped(stream.TakeDropped());
    if (r == FrameStream::Result::kError) {
      Log(kLogError, "%s: read: %s", reopen_path ? reopen_path : "stdin", std::strerror(errno));
      break;
    }
    if (r != FrameStream::Result::kFrame) {
      if (stream.partial_bytes() > 0) {
        classifier->CountMalformed();
        Log(kLogWarning, "malformed %s: short read, %zu of %zu bytes; skipped", what,
            stream.partial_bytes(), record_bytes);
        stream.Reset();
      }
      if (r == FrameStream::Result::kStopped || reopen_path == nullptr) break;
      close(fd);  // FIFO: the writer left; wait for the next one
      fd = open(reopen_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) {
        Log(kLogError, "%s: cannot reopen: %s", reopen_path, std::strerror(errno));
        return;
      }
      continue;
    }
    const Prediction p = classify(stream.frame());
    if (pacer.FinishSlot()) classifier->CountMissedDeadline();
    if (p.digit < 0) continue;
    EmitPrediction(p, stream.received_ns(), nullptr, o, classifier, out);
  }
  if (reopen_path != nullptr && fd >= 0) close(fd);
}

}  // namespace

void RunStreamLoop(int fd, const char* reopen_path, int width, int height, const LoopOptions& o,
                   FrameClassifier* classifier, std::FILE* out) {
  const bool i420 = width > 0;
  uint8_t frame[kFrameBytes];
  RunRecordLoop(fd, reopen_path, i420 ? I420FrameBytes(width, height) : kFrameBytes, "frame", o,
                classifier, out, [&](const uint8_t* record) {
                  if (!i420) return classifier->Classify(record);
                  // The luma plane comes first.
                  PreprocessLikeMnist(GrayImage{record, width, height}, frame);
                  return classifier->Classify(frame);
                });
}

void RunFeatureLoop(int fd, const char* reopen_path, const LoopOptions& o,
                    FrameClassifier* classifier, std::FILE* out) {
  const size_t count = classifier->input_size();
  std::unique_ptr<float[]> features(new float[count]);
  RunRecordLoop(fd, reopen_path, count * sizeof(float), "record", o, classifier, out,
                [&](const uint8_t* bytes) {
                  // Little-endian on the wire whatever the host (every
                  // supported one is LE).
                  for (size_t i = 0; i < count; ++i) {
                    const uint32_t bits = uint32_t{bytes[4 * i]} |
                                          uint32_t{bytes[4 * i + 1]} << 8 |
                                          uint32_t{bytes[4 * i + 2]} << 16 |
                                          uint32_t{bytes[4 * i + 3]} << 24;
                    std::memcpy(&features[i], &bits, sizeof(float));
                  }
                  const Prediction p = classifier->ClassifyFeatures(features.get());
                  if (p.digit < 0) {
                    classifier->CountMalformed();
                    Log(kLogWarning, "malformed record: a feature is NaN or infinite; skipped");
                  }
                  return p;
                });
}

void RunRawLoop(int fd, const char* reopen_path, const LoopOptions& o, FrameClassifier* classifier,
                std::FILE* out) {
  RunStreamLoop(fd, reopen_path, 0, 0, o, classifier, out);
}

bool LoadModelFile(const char* path, Network* net, std::string* error) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string(path) + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  constexpr off_t kMaxModelBytes = off_t{1} << 30;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxModelBytes) {
    close(fd);
    *error = std::string(path) + ": expected a regular file of at most 1 GiB (an int8 blob)";
    return false;
  }
  // Read, not mapped: the bytes are the process's own from here on.
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got != bytes.size()) {
    *error = std::string(path) + ": read " + std::to_string(got) + " of " +
             std::to_string(bytes.size()) + " bytes (the file shrank while being read?)";
    return false;
  }
  const LoadResult r = Network::LoadCopy(bytes.data(), bytes.size(), net);  // CRC, layout
  const char* check = !r.ok() ? r.message.c_str() : VerifyPredictMatchesReference(net);
  if (check == nullptr) check = VerifyBlobKnownAnswer(net);
  if (check != nullptr) {
    *error = std::string(path) + ": " + check;
    return false;
  }
  return true;
}

bool ReloadModelFile(const char* path, Network* live, std::string* error) {
  Network fresh;
  if (!LoadModelFile(path, &fresh, error)) return false;
  if (fresh.input_size() != live->input_size() || fresh.output_size() != live->output_size()) {
    *error = std::string(path) + ": the new model maps " + std::to_string(fresh.input_size()) +
             " -> " + std::to_string(fresh.output_size()) + ", the running one " +
             std::to_string(live->input_size()) + " -> " + std::to_string(live->output_size());
    return false;
  }
  *live = std::move(fresh);  // the arena and blob move with it: pointers stay valid
  return true;
}

void FirmwareService::Reload() {
  if (model_path_ == nullptr) {
    Log(kLogWarning, "SIGHUP: the model is compiled in; nothing to reload");
    return;
  }
  if (notifier_) {
    // MONOTONIC_USEC: what Type=notify-reload (systemd 253+) requires with it.
    char state[64];
    std::snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%lld",
                  static_cast<long long>(MonotonicNs() / 1000));
    notifier_->Send(state);
  }
  std::string error;
  if (ReloadModelFile(model_path_, net_, &error)) {
    ++reloads_;
    Log(kLogInfo, "SIGHUP: %s reloaded and verified (CRC, SIMD == reference); %zu layers",
        model_path_, net_->layer_count());
  } else {
    ++refused_;
    Log(kLogError, "SIGHUP: refused the new model, keeping the running one: %s", error.c_str());
  }
  if (notifier_) notifier_->Send("READY=1");
}

void FirmwareService::DigitChanged(int digit) {
  if (gpio_ != nullptr && gpio_->open() && !gpio_->Set(static_cast<unsigned>(digit))) {
    Log(kLogError, "GPIO: %s", gpio_->error());
  }
}

int WatchDirectory(const char* dir) {
  const int watch = inotify_init1(IN_CLOEXEC);
  if (watch < 0 || inotify_add_watch(watch, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    Log(kLogError, "%s: cannot watch: %s", dir, std::strerror(errno));
    if (watch >= 0) close(watch);
    return -1;
  }
  return watch;
}

void RunWatchLoop(int watch, const char* dir, const LoopOptions& o, FrameClassifier* classifier,
                  std::FILE* out) {
  // Start-up allocations: the file buffer and the decoder's arena.
  std::unique_ptr<uint8_t[]> file(new uint8_t[kMaxImageFileBytes + 1]);
  std::unique_ptr<uint8_t[]> arena_memory(new uint8_t[DecodeArena::kRecommendedBytes]);
  DecodeArena arena(arena_memory.get(), DecodeArena::kRecommendedBytes);
  uint8_t frame[kFrameBytes];
  alignas(inotify_event) char events[16 * (sizeof(inotify_event) + 256)];
  Log(kLogInfo, "watching %s for .pgm, .png and .raw files", dir);
  while (!Stopped(o)) {
    const Wait w = WaitReadable(watch, -1, o);
    if (w == Wait::kStopped || w == Wait::kError) break;
    const ssize_t n = read(watch, events, sizeof(events));
    const int64_t received = MonotonicNs();
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    for (ssize_t at = 0; at < n;) {
      const inotify_event* event = reinterpret_cast<const inotify_event*>(events + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->len == 0) continue;
      const char* name = event->name;
      if (!IsFrameFileName(name)) continue;  // e.g. a temporary file
      char path[4096];
      std::snprintf(path, sizeof(path), "%s/%s", dir, name);
      // The same reader and preprocessing as `edgemlp predict`.
      if (const char* error = ReadFrameFile(path, file.get(), &arena, frame)) {
        classifier->CountMalformed();
        Log(kLogWarning, "malformed frame %s: %s; skipped", path, error);
        continue;
      }
      EmitPrediction(classifier->Classify(frame), received, name, o, classifier, out);
    }
  }
  close(watch);
}

bool ReadLabelFile(const char* path, std::vector<uint8_t>* labels, std::string* error) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) {
    *error = std::string(path) + ": cannot open: " + std::strerror(errno);
    return false;
  }
  uint8_t header[8];
  const bool ok_header = std::fread(header, 1, 8, f) == 8 && header[0] == 0 && header[1] == 0 &&
                         header[2] == 8 && header[3] == 1;
  const size_t count =
      size_t{header[4]} << 24 | size_t{header[5]} << 16 | size_t{header[6]} << 8 | header[7];
  // The declared count must fit in the file before anything is allocated.
  struct stat st {};
  const bool fits = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 8 &&
                    count <= static_cast<size_t>(st.st_size) - 8;
  if (ok_header && fits) {
    labels->resize(count);
    if (std::fread(labels->data(), 1, count, f) != count) labels->clear();
  }
  std::fclose(f);
  if (!ok_header || !fits || labels->size() != count) {
    *error = std::string(path) + ": expected an uncompressed IDX label file (magic 2049) with " +
             "all its labels (gunzip it first)";
    return false;
  }
  return true;
}

}  // namespace edgemlp::firmware
