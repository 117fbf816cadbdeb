// The firmware loop as a library (main.cc parses flags; tests drive it):
// classify frames, keep running statistics and the eval digests, read raw or
// I420 frames from a stream or images from a watched directory, wait for
// input without losing a signal, reload the model. Every buffer is allocated
// in a constructor or at a loop's start; no frame touches the heap (a SIGHUP
// reload does).
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
#include "gpio.h"
#include "service.h"
#include "sha256.h"

namespace edgemlp::firmware {

// A latency distribution in a log-bucketed histogram: 8 buckets per octave
// from 0.1 us to ~13 s (877 bytes, so recording a frame or a percentile
// touches no more than that); percentiles are within 9% (one bucket),
// clamped to the exact min and max; mean, max and standard deviation are exact.
class LatencyStats {
 public:
  void Add(double us);
  uint64_t count() const { return count_; }
  double Percentile(double q) const;  // the upper edge of the bucket holding q
  double max_us() const { return max_us_; }
  double jitter_us() const;  // standard deviation of the latency

  static constexpr int kPerOctave = 8;
  static constexpr int kBuckets = 27 * kPerOctave + 1;  // the last counts everything above
  static constexpr double kFirstUs = 0.1;               // bucket 0: below 0.1 * 2^(1/8) us

 private:
  uint32_t buckets_[kBuckets] = {};
  uint64_t count_ = 0;
  double min_us_ = 0, max_us_ = 0, mean_ = 0, m2_ = 0;  // Welford
};

struct Prediction {
  int digit = 0;
  float probability = 0;
  double inference_us = 0;  // the network alone (Predict)
  double latency_us = 0;    // frame received to answer written (EmitPrediction)
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

  // Runs the network on one frame (timed: inference_us) and updates the
  // digests; latency_us is set when the answer is written (EmitPrediction).
  Prediction Classify(const uint8_t* frame);
  // The same for raw float features (a blob with an affine input
  // transform: Network::PredictFloat). digit -1 (nothing counted) if a
  // feature is NaN or infinite.
  Prediction ClassifyFeatures(const float* features);
  // Records an answer's end-to-end latency (frame received to now).
  void RecordLatency(Prediction* p, int64_t received_ns);
  void CountMalformed() { ++malformed_; }
  void CountMissedDeadline() { ++missed_deadlines_; }
  // Frames read but not answered because a newer one was there (--hz), or
  // camera buffers older than one period.
  void CountDropped(uint64_t n = 1) { dropped_ += n; }
  uint64_t frames() const { return frames_; }
  size_t input_size() const { return net_->input_size(); }
  uint64_t malformed() const { return malformed_; }
  uint64_t missed_deadlines() const { return missed_deadlines_; }
  uint64_t dropped() const { return dropped_; }
  const LatencyStats& stats() const { return stats_; }  // inference_us
  const LatencyStats& latency() const { return latency_; }  // latency_us

  // One line (with '\n') into buf; returns its length.
  size_t FormatPrediction(const Prediction& p, const char* source, bool json, char* buf,
                          size_t size) const;
  size_t FormatStats(bool json, char* buf, size_t size) const;

 private:
  Network* net_;
  std::unique_ptr<int32_t[]> logits_;
  std::unique_ptr<float[]> probs_;
  std::vector<uint8_t> labels_;
  LatencyStats stats_, latency_;
  uint64_t frames_ = 0, correct_ = 0, malformed_ = 0, missed_deadlines_ = 0, dropped_ = 0;
  Sha256 predictions_sha_, outputs_sha_;
  // Softmax, accuracy and digests of a prediction whose logits are in logits_.
  Prediction Finish(int predicted, double inference_us);

 public:
  // EmitPrediction's state: what was last printed and when stats last went out.
  int last_digit = -1;
  int64_t last_stats_ns = 0;
};

// Start-up check that the SIMD path agrees with the scalar reference on a
// built-in frame (a blob with an affine transform: on u8 features as
// QuantizeFeatures makes them; main.cc then needs --features). Returns
// nullptr if it passes, else what failed.
const char* VerifyPredictMatchesReference(Network* net);
// Runs the blob's own known-answer vector (Network::SelfTest) on the chosen
// target. Returns nullptr if it passes or the blob (format 1.0) has none.
const char* VerifyBlobKnownAnswer(Network* net);

// What a service adds to the loops (FirmwareService: sd_notify, SIGHUP
// reloads, GPIO); the loops call it while they wait and when the digit changes.
class LoopHooks {
 public:
  virtual ~LoopHooks() = default;
  // When Tick() next wants to run (CLOCK_MONOTONIC ns), or -1: never.
  virtual int64_t NextTickNs() = 0;
  virtual void Tick(int64_t now_ns) = 0;  // e.g. the watchdog ping
  virtual void Reload() = 0;              // *LoopOptions::reload was set (SIGHUP)
  virtual void DigitChanged(int digit) = 0;
};

struct LoopOptions {
  bool json = false;
  double hz = 0;                               // > 0: fixed rate, count missed deadlines
  uint64_t stats_every = 0;                    // > 0: a statistics line on stderr every N frames
  double stats_period_s = 0;                   // > 0: ... and every so many seconds
  bool print_changes = false;                  // print a line only when the digit changes
  volatile std::sig_atomic_t* stop = nullptr;  // set by a signal handler
  volatile std::sig_atomic_t* reload = nullptr;  // set by SIGHUP's handler
  // The signal mask while waiting (ppoll): main.cc blocks SIGINT, SIGTERM
  // and SIGHUP everywhere else, so a signal cannot land between the stop
  // check and a blocking call. nullptr: the mask is left as it is.
  const sigset_t* wait_mask = nullptr;
  LoopHooks* hooks = nullptr;
};

// Whether the loop was asked to stop (a signal set *options.stop).
bool Stopped(const LoopOptions& options);

// The loops' only blocking call: ppoll on `fd` (none if fd < 0) with
// options.wait_mask, until it is readable (or hung up), the CLOCK_MONOTONIC
// `deadline_ns` (-1: none; 0: do not wait), or a stop. Runs the hooks'
// Tick() and Reload() meanwhile.
enum class Wait { kReady, kTimeout, kStopped, kError };
Wait WaitReadable(int fd, int64_t deadline_ns, const LoopOptions& options);

// Fixed-rate pacing (--hz): frame k owns the slot [start + k/hz, start + (k+1)/hz).
class Pacer {
 public:
  explicit Pacer(double hz);  // hz <= 0: no pacing
  bool active() const { return period_ns_ > 0; }
  int64_t period_ns() const { return period_ns_; }
  // Sleeps until the current slot begins (in WaitReadable: signals end it).
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

// Records the latency from `received_ns` (MonotonicNs(); 0: the
// inference alone), prints one frame's line on `out` unless
// options.print_changes and the digit is the last one printed, tells the
// hooks when the digit changes, and prints the statistics line on stderr
// every stats_every frames / stats_period_s seconds. `source` names the
// frame, or nullptr.
void EmitPrediction(Prediction p, int64_t received_ns, const char* source,
                    const LoopOptions& options, FrameClassifier* classifier, std::FILE* out);

// Fixed-size frames from a stream (stdin, a FIFO, a file), read whole into
// one of two buffers allocated here. With `newest`, every complete frame
// that is already readable replaces the previous one (which counts as
// dropped), so a reader slower than the writer answers the current frame.
class FrameStream {
 public:
  explicit FrameStream(size_t frame_bytes);
  enum class Result { kFrame, kEnd, kStopped, kError };
  // kFrame: frame() holds one, received_ns() when its last byte came.
  // kEnd: end of input; partial_bytes() of an unfinished frame remain.
  Result Next(int fd, bool newest, const LoopOptions& options);
  const uint8_t* frame() const { return ready_; }
  int64_t received_ns() const { return received_ns_; }
  size_t partial_bytes() const { return filled_; }
  uint64_t TakeDropped() {
    const uint64_t n = dropped_;
    dropped_ = 0;
    return n;
  }
  void Reset() { filled_ = 0; }  // a new writer: start at a frame boundary

 private:
  size_t frame_bytes_;
  std::unique_ptr<uint8_t[]> storage_;
  uint8_t* ready_;
  uint8_t* filling_;
  size_t filled_ = 0;
  int64_t received_ns_ = 0;
  uint64_t dropped_ = 0;
};

// Bytes of one I420 frame (YUV 4:2:0 planar, as rpicam-vid --codec yuv420
// and libcamera lay it out without line padding): the W x H luma plane,
// then U and V planes of ceil(W/2) x ceil(H/2) each.
size_t I420FrameBytes(int width, int height);

// Reads frames from fd until EOF or stop: raw kFrameBytes frames (width 0),
// or I420 frames of width x height whose luma plane is preprocessed like
// MNIST. A short final frame is reported and skipped. When `reopen_path` is
// set (a FIFO, opened O_NONBLOCK), EOF reopens it and waits for the next
// writer instead of ending. With --hz on a pipe (not a regular file), the
// newest complete frame is answered and older readable ones are dropped.
void RunStreamLoop(int fd, const char* reopen_path, int width, int height,
                   const LoopOptions& options, FrameClassifier* classifier, std::FILE* out);
// Feature records: input_size() little-endian float32 values each (a blob
// with an affine input transform), from fd until EOF or stop; a record with
// a NaN or infinite value is counted as malformed and skipped.
void RunFeatureLoop(int fd, const char* reopen_path, const LoopOptions& options,
                    FrameClassifier* classifier, std::FILE* out);
// Raw 784-byte frames: RunStreamLoop with width 0.
void RunRawLoop(int fd, const char* reopen_path, const LoopOptions& options,
                FrameClassifier* classifier, std::FILE* out);

// Reads a model file into memory (no mmap: replacing the file later does not
// touch the running model) and loads it with every check: the blob's CRC and
// layout (Network::LoadCopy), SIMD == scalar reference, the blob's
// known-answer vector. false with a message naming the file.
bool LoadModelFile(const char* path, Network* net, std::string* error);
// SIGHUP: LoadModelFile into a new Network; only if it passes and takes the
// same input and output sizes does it replace *live (allocates: the reload
// is the one place after start-up that does). false: *live is untouched.
bool ReloadModelFile(const char* path, Network* live, std::string* error);

// The hooks edgemlp-firmware runs with: the watchdog ping (Notifier), SIGHUP
// reloads of `model_path` (RELOADING=1 ... READY=1; a bad file is refused
// with an error logged and the old model kept), and the digit on GPIO lines.
// Any of them may be absent (null).
class FirmwareService : public LoopHooks {
 public:
  FirmwareService(Notifier* notifier, const char* model_path, Network* net, GpioOutput* gpio)
      : notifier_(notifier), model_path_(model_path), net_(net), gpio_(gpio) {}
  int64_t NextTickNs() override { return notifier_ ? notifier_->watchdog_due_ns() : -1; }
  void Tick(int64_t now_ns) override {
    if (notifier_) notifier_->Tick(now_ns);
  }
  void Reload() override;
  void DigitChanged(int digit) override;
  uint64_t reloads() const { return reloads_; }
  uint64_t refused_reloads() const { return refused_; }

 private:
  Notifier* notifier_;
  const char* model_path_;
  Network* net_;
  GpioOutput* gpio_;
  uint64_t reloads_ = 0, refused_ = 0;
};

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
