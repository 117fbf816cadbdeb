// The camera source of edgemlp-firmware (--camera DEV): a V4L2 capture
// device streamed through mmap buffers with the ioctls themselves (no
// libv4l). Built with -Dcamera (on when <linux/videodev2.h> is there).
// Everything is allocated in Open(); Capture() and the loop never touch the
// heap, and every message names the device and what was expected.
#ifndef EDGEMLP_FIRMWARE_CAMERA_V4L2_H_
#define EDGEMLP_FIRMWARE_CAMERA_V4L2_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "camera_formats.h"
#include "firmware.h"
#include "edgemlp/mnist_frame.h"

namespace edgemlp::firmware {

class V4l2Camera {
 public:
  V4l2Camera() = default;
  ~V4l2Camera() { Close(); }
  V4l2Camera(const V4l2Camera&) = delete;
  V4l2Camera& operator=(const V4l2Camera&) = delete;

  // Opens `device`, checks it is a capture device with streaming I/O,
  // negotiates the first of kLumaFormats it offers at about width x height,
  // maps its buffers and starts streaming. false: see error().
  bool Open(const char* device, int width, int height, int timeout_ms = 2000);
  // Stops streaming, unmaps the buffers, closes the device (idempotent).
  void Close();

  enum class Capture { kFrame, kMalformed, kStopped, kFailed };
  // Waits up to the timeout for a frame and takes the newest one queued
  // (older ones go back to the driver, so a slow consumer sees no backlog).
  // With max_age_ns > 0, a newest frame whose capture time (the buffer's
  // CLOCK_MONOTONIC timestamp) is older than that goes back too, counted in
  // stale(), and the wait goes on: the driver stalls with every buffer
  // full, so the newest queued frame can be several periods old.
  // kFrame: image() holds its luma. kMalformed: one bad frame (error()
  // says why), the stream goes on. kFailed: the stream is unusable.
  // kStopped: a signal asked to stop while waiting.
  Capture Next(const LoopOptions& options, int64_t max_age_ns = 0);
  // When the frame in image() was dequeued (MonotonicNs).
  int64_t received_ns() const { return received_ns_; }
  // Frames given back unanswered since the last call (older than max_age_ns,
  // or not the newest).
  uint64_t TakeDropped() {
    const uint64_t n = dropped_;
    dropped_ = 0;
    return n;
  }

  GrayImage image() const { return GrayImage{gray_.get(), layout_.width, layout_.height}; }
  const FrameLayout& layout() const { return layout_; }
  int buffer_count() const { return buffer_count_; }
  const char* error() const { return error_; }
  // "DEV (card, driver): YUYV 640x480, 4 buffers" once Open() succeeded.
  const char* description() const { return description_; }

 private:
  bool Fail(const char* format, ...) __attribute__((format(printf, 2, 3)));
  bool NegotiateFormat(int width, int height);
  bool MapBuffers();
  bool Requeue(uint32_t index);

  static constexpr int kMaxBuffers = 8;
  struct Buffer {
    void* start = nullptr;
    size_t length = 0;
  };
  int fd_ = -1;
  int timeout_ms_ = 2000;
  int64_t received_ns_ = 0;
  uint64_t dropped_ = 0;
  bool streaming_ = false;
  Buffer buffers_[kMaxBuffers];
  int buffer_count_ = 0;
  FrameLayout layout_;
  std::unique_ptr<uint8_t[]> gray_;
  char device_[256] = "";
  char card_[96] = "";
  char error_[768] = "";
  char description_[384] = "";
};

// Classifies camera frames (luma -> PreprocessLikeMnist -> predict) until
// stop, as RunRawLoop does for raw frames. A bad frame is reported and
// skipped; false (with a message on stderr) if the stream failed.
bool RunCameraLoop(V4l2Camera* camera, const LoopOptions& options, FrameClassifier* classifier,
                   std::FILE* out);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_CAMERA_V4L2_H_
