#include "firmware.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>

namespace edgemlp::firmware {

namespace {

// Reads up to `size` bytes, retrying short reads; stops early on EOF, an
// error or a stop request (a signal interrupts read() with EINTR).
size_t ReadFull(int fd, uint8_t* buf, size_t size, const LoopOptions& o) {
  size_t got = 0;
  while (got < size) {
    const ssize_t n = read(fd, buf + got, size - got);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR && !Stopped(o)) {
      continue;
    } else {
      break;
    }
  }
  return got;
}

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

Pacer::Pacer(double hz) : period_ns_(hz > 0 ? static_cast<int64_t>(1e9 / hz) : 0) {}

void Pacer::WaitForSlot(const LoopOptions& o) {
  if (!active()) return;
  if (start_ns_ == 0) start_ns_ = NowNs();
  const int64_t begin = start_ns_ + slot_ * period_ns_;
  timespec ts{static_cast<time_t>(begin / 1000000000), static_cast<long>(begin % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR && !Stopped(o)) {
  }
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

int64_t Pacer::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void EmitPrediction(const Prediction& p, const char* source, const LoopOptions& o,
                    const FrameClassifier& c, std::FILE* out) {
  char line[1024];
  c.FormatPrediction(p, source, o.json, line, sizeof(line));
  std::fputs(line, out);
  if (o.stats_every > 0 && c.frames() % o.stats_every == 0) {
    c.FormatStats(o.json, line, sizeof(line));
    std::fputs(line, stderr);
  }
}

LatencyStats::LatencyStats() : buckets_(1000001, 0) {}

void LatencyStats::Add(double us) {
  const double slot = us / kBucketUs;
  const size_t last = buckets_.size() - 1;
  buckets_[slot < static_cast<double>(last) ? static_cast<size_t>(slot) : last]++;
  ++count_;
  if (us > max_us_) max_us_ = us;
  const double delta = us - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (us - mean_);
}

double LatencyStats::Percentile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank && seen > 0) {
      return i + 1 == buckets_.size() ? max_us_ : std::min(max_us_, (i + 1) * kBucketUs);
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
  const size_t n = net_->output_size();
  const auto t0 = std::chrono::steady_clock::now();
  Prediction p;
  p.digit = net_->Predict(frame, logits_.get());
  const auto t1 = std::chrono::steady_clock::now();
  Softmax(logits_.get(), n, net_->logit_scale(), probs_.get());
  p.probability = probs_[p.digit];
  p.latency_us = std::chrono::duration<double, std::micro>(t1 - t0).count();
  const uint64_t index = stats_.count();
  if (index < labels_.size() && labels_[index] == p.digit) ++correct_;
  const uint8_t digit = static_cast<uint8_t>(p.digit);
  predictions_sha_.Update(&digit, 1);
  outputs_sha_.Update(logits_.get(), n * sizeof(int32_t));
  stats_.Add(p.latency_us);
  return p;
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
                    "\"latency_us\":%.2f%s%s%s}\n",
                    static_cast<unsigned long long>(stats_.count() - 1), p.digit, p.probability,
                    p.latency_us, source ? ",\"source\":\"" : "", name, source ? "\"" : ""),
      size);
}

size_t FrameClassifier::FormatStats(bool json, char* buf, size_t size) const {
  Sha256 predictions = predictions_sha_, outputs = outputs_sha_;  // finish copies
  char predictions_hex[65], outputs_hex[65];
  predictions.FinishHex(predictions_hex);
  outputs.FinishHex(outputs_hex);
  const unsigned long long frames = stats_.count();
  const bool labelled = !labels_.empty() && frames > 0;
  const double accuracy =
      labelled ? static_cast<double>(correct_) / static_cast<double>(frames) : 0;
  char accuracy_field[48] = "";
  if (labelled) {
    std::snprintf(accuracy_field, sizeof(accuracy_field),
                  json ? ",\"accuracy\":%.4f" : " accuracy=%.4f", accuracy);
  }
  const char* format = json ? "{\"final\":true,\"frames\":%llu,\"malformed\":%llu,"
                              "\"missed_deadlines\":%llu,\"p50_us\":%.2f,\"p99_us\":%.2f,"
                              "\"max_us\":%.2f,\"jitter_us\":%.2f%s,"
                              "\"predictions_sha256\":\"%s\",\"outputs_sha256\":\"%s\"}\n"
                            : "stats frames=%llu malformed=%llu missed_deadlines=%llu p50_us=%.2f "
                              "p99_us=%.2f max_us=%.2f jitter_us=%.2f%s predictions_sha256=%s "
                              "outputs_sha256=%s\n";
  return Clamp(std::snprintf(buf, size, format, frames, static_cast<unsigned long long>(malformed_),
                             static_cast<unsigned long long>(missed_deadlines_),
                             stats_.Percentile(0.5), stats_.Percentile(0.99), stats_.max_us(),
                             stats_.jitter_us(), accuracy_field, predictions_hex, outputs_hex),
               size);
}

const char* VerifyPredictMatchesReference(Network* net) {
  if (net->input_size() != kFrameBytes) return "the model does not take 28 x 28 frames";
  std::vector<uint8_t> frame(kFrameBytes);
  std::vector<int32_t> simd(net->output_size()), ref(net->output_size());
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

void RunRawLoop(int fd, const char* reopen_path, const LoopOptions& o, FrameClassifier* classifier,
                std::FILE* out) {
  uint8_t frame[kFrameBytes];
  Pacer pacer(o.hz);
  while (!Stopped(o)) {
    pacer.WaitForSlot(o);
    const size_t got = ReadFull(fd, frame, kFrameBytes, o);
    if (got < kFrameBytes) {
      if (got > 0) {
        classifier->CountMalformed();
        std::fprintf(stderr,
                     "edgemlp-firmware: malformed frame: short read, %zu of %zu bytes; skipped\n",
                     got, kFrameBytes);
      }
      if (Stopped(o) || reopen_path == nullptr) break;
      close(fd);  // FIFO: the writer left; wait for the next one
      fd = open(reopen_path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        std::fprintf(stderr, "edgemlp-firmware: %s: cannot reopen: %s\n", reopen_path,
                     std::strerror(errno));
        return;
      }
      continue;
    }
    const Prediction p = classifier->Classify(frame);
    if (pacer.FinishSlot()) classifier->CountMissedDeadline();
    EmitPrediction(p, nullptr, o, *classifier, out);
  }
  if (reopen_path != nullptr && fd >= 0) close(fd);
}

int WatchDirectory(const char* dir) {
  const int watch = inotify_init1(IN_CLOEXEC);
  if (watch < 0 || inotify_add_watch(watch, dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    std::fprintf(stderr, "edgemlp-firmware: %s: cannot watch: %s\n", dir, std::strerror(errno));
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
  std::fprintf(stderr, "edgemlp-firmware: watching %s for .pgm, .png and .raw files\n", dir);
  while (!Stopped(o)) {
    const ssize_t n = read(watch, events, sizeof(events));
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
        std::fprintf(stderr, "edgemlp-firmware: malformed frame %s: %s; skipped\n", path, error);
        continue;
      }
      EmitPrediction(classifier->Classify(frame), name, o, *classifier, out);
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
