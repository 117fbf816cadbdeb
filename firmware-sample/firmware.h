// The firmware loop as a library (main.cc parses flags; tests drive it):
// classify frames, keep running statistics and the eval digests, read raw
// frames from a stream or images from a watched directory. Every buffer is
// allocated in a constructor; the loops themselves never touch the heap.
#ifndef EDGEMLP_FIRMWARE_FIRMWARE_H_
#define EDGEMLP_FIRMWARE_FIRMWARE_H_

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "edgemlp/runtime.h"
#include "edgemlp/mnist_frame.h"
#include "sha256.h"

namespace edgemlp::firmware {

// Latency distribution in 0.1 us buckets up to 100 ms (bounded memory);
// max, mean and standard deviation are exact.
class LatencyStats {
 public:
  LatencyStats();
  void Add(double us);
  uint64_t count() const { return count_; }
  double Percentile(double q) const;  // upper edge of the bucket holding q
  double max_us() const { return max_us_; }
  double jitter_us() const;  // standard deviation of the latency

 private:
  static constexpr double kBucketUs = 0.1;
  std::vector<uint32_t> buckets_;  // the last one counts everything above
  uint64_t count_ = 0;
  double max_us_ = 0, mean_ = 0, m2_ = 0;  // Welford
};

struct Prediction {
  int digit = 0;
  float probability = 0;
  double latency_us = 0;
};

// Classifies frames with one Network and accumulates what the final line
// reports. predictions_sha256 / outputs_sha256 are those of
// `edgemlp eval --json`: one byte per predicted digit, and each frame's
// int32 logits in little-endian order (every supported target is LE).
class FrameClassifier {
 public:
  explicit FrameClassifier(Network* net);
  // Optional: labels for frame 0, 1, ... (e.g. the MNIST test labels).
  void SetLabels(std::vector<uint8_t> labels) { labels_ = std::move(labels); }

  Prediction Classify(const uint8_t* frame);
  void CountMalformed() { ++malformed_; }
  void CountMissedDeadline() { ++missed_deadlines_; }
  uint64_t frames() const { return stats_.count(); }
  uint64_t malformed() const { return malformed_; }
  uint64_t missed_deadlines() const { return missed_deadlines_; }
  const LatencyStats& stats() const { return stats_; }

  // One line (with '\n') into buf; returns its length.
  size_t FormatPrediction(const Prediction& p, const char* source, bool json, char* buf,
                          size_t size) const;
  size_t FormatStats(bool json, char* buf, size_t size) const;

 private:
  Network* net_;
  std::unique_ptr<int32_t[]> logits_;
  std::unique_ptr<float[]> probs_;
  std::vector<uint8_t> labels_;
  LatencyStats stats_;
  uint64_t correct_ = 0, malformed_ = 0, missed_deadlines_ = 0;
  Sha256 predictions_sha_, outputs_sha_;
};

// Start-up check that the SIMD path agrees with the scalar reference on a
// built-in frame. Returns nullptr if it passes, else what failed.
const char* VerifyPredictMatchesReference(Network* net);
// Runs the blob's own known-answer vector (Network::SelfTest) on the chosen
// target. Returns nullptr if it passes or the blob (format 1.0) has none.
const char* VerifyBlobKnownAnswer(Network* net);

struct LoopOptions {
  bool json = false;
  double hz = 0;                               // > 0: fixed rate, count missed deadlines
  uint64_t stats_every = 0;                    // > 0: a statistics line on stderr every N frames
  volatile std::sig_atomic_t* stop = nullptr;  // set by a signal handler
};

// Whether the loop was asked to stop (a signal set *options.stop).
bool Stopped(const LoopOptions& options);

// Fixed-rate pacing (--hz): frame k owns the slot [start + k/hz, start + (k+1)/hz).
class Pacer {
 public:
  explicit Pacer(double hz);  // hz <= 0: no pacing
  bool active() const { return period_ns_ > 0; }
  // Sleeps until the current slot begins.
  void WaitForSlot(const LoopOptions& options);
  // After a frame: true if it ended after its slot; moves to the next slot
  // (skipping slots already over, so a late frame does not start a backlog).
  bool FinishSlot();

 private:
  static int64_t NowNs();
  int64_t period_ns_;
  int64_t start_ns_ = 0;
  int64_t slot_ = 0;
};

// Prints one frame's line on `out` (and every stats_every frames the
// statistics line on stderr). `source` names the frame, or nullptr.
void EmitPrediction(const Prediction& p, const char* source, const LoopOptions& options,
                    const FrameClassifier& classifier, std::FILE* out);

// Reads raw kFrameBytes frames from fd until EOF or stop. A short final
// frame is reported and skipped. When `reopen_path` is set (a FIFO), EOF
// reopens it and waits for the next writer instead of ending.
void RunRawLoop(int fd, const char* reopen_path, const LoopOptions& options,
                FrameClassifier* classifier, std::FILE* out);

// Starts watching `dir` for files closed after writing or moved in
// (inotify). Returns the descriptor, or -1 with a message on stderr.
int WatchDirectory(const char* dir);

// Classifies every .pgm/.png/.raw file that `watch` (from WatchDirectory)
// reports in `dir`, until stop; undecodable files are reported and skipped.
// Closes `watch`.
void RunWatchLoop(int watch, const char* dir, const LoopOptions& options,
                  FrameClassifier* classifier, std::FILE* out);

// An uncompressed IDX1 label file (magic 2049, big-endian count) for
// --labels: false with a message naming the file if it is not one, or holds
// fewer labels than it declares (checked before anything is allocated).
bool ReadLabelFile(const char* path, std::vector<uint8_t>* labels, std::string* error);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_FIRMWARE_H_
