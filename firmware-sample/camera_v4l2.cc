#include "camera_v4l2.h"

#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "retry_ioctl.h"

namespace edgemlp::firmware {

namespace {

// Consecutive bad frames after which the stream counts as failed.
constexpr int kMaxBadFramesInARow = 50;

}  // namespace

bool V4l2Camera::Fail(const char* format, ...) {
  int n = std::snprintf(error_, sizeof(error_), "%s: ", device_);
  if (n < 0 || static_cast<size_t>(n) >= sizeof(error_)) n = 0;
  va_list args;
  va_start(args, format);
  std::vsnprintf(error_ + n, sizeof(error_) - n, format, args);
  va_end(args);
  return false;
}

bool V4l2Camera::Open(const char* device, int width, int height, int timeout_ms) {
  Close();
  std::snprintf(device_, sizeof(device_), "%s", device);
  timeout_ms_ = timeout_ms;
  fd_ = open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    return Fail("cannot open: %s (expected a V4L2 capture device such as /dev/video0)",
                std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd_, &st) != 0 || !S_ISCHR(st.st_mode)) {
    Close();
    return Fail("not a V4L2 device: %s, not a character device such as /dev/video0",
                S_ISDIR(st.st_mode)   ? "a directory"
                : S_ISREG(st.st_mode) ? "a regular file"
                                      : "a special file");
  }
  v4l2_capability cap{};
  if (RetryIoctl(fd_, VIDIOC_QUERYCAP, &cap) != 0) {
    const int e = errno;
    Close();
    return Fail("not a V4L2 device (VIDIOC_QUERYCAP: %s); expected a camera such as /dev/video0",
                std::strerror(e));
  }
  std::snprintf(card_, sizeof(card_), "%.32s, %.16s", reinterpret_cast<const char*>(cap.card),
                reinterpret_cast<const char*>(cap.driver));
  const uint32_t caps =
      cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
  if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
    Close();
    return Fail("(%s) is not a video capture device%s", card_,
                caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE
                    ? " with single-planar buffers (multi-planar capture is not supported)"
                    : "; expected a camera's capture node (see v4l2-ctl --list-devices)");
  }
  if (!(caps & V4L2_CAP_STREAMING)) {
    Close();
    return Fail("(%s) has no streaming I/O; edgemlp-firmware needs mmap streaming", card_);
  }
  if (!NegotiateFormat(width, height) || !MapBuffers()) {
    Close();
    return false;
  }
  int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (RetryIoctl(fd_, VIDIOC_STREAMON, &type) != 0) {
    const int e = errno;
    Close();
    return Fail("VIDIOC_STREAMON: %s", std::strerror(e));
  }
  streaming_ = true;
  char name[5];
  std::snprintf(description_, sizeof(description_), "%s (%s): %s %dx%d, %d buffers", device_, card_,
                FourCcName(layout_.fourcc, name), layout_.width, layout_.height, buffer_count_);
  return true;
}

bool V4l2Camera::NegotiateFormat(int width, int height) {
  // What the device offers; the first of kLumaFormats among them wins.
  uint32_t offered[32];
  char offered_names[32 * 40] = "";
  size_t names_used = 0;
  int count = 0;
  for (; count < 32; ++count) {
    v4l2_fmtdesc desc{};
    desc.index = static_cast<uint32_t>(count);
    desc.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (RetryIoctl(fd_, VIDIOC_ENUM_FMT, &desc) != 0) break;
    offered[count] = desc.pixelformat;
    char name[5];
    const int n =
        std::snprintf(offered_names + names_used, sizeof(offered_names) - names_used,
                      "%s%s (%.24s)", count > 0 ? ", " : "", FourCcName(desc.pixelformat, name),
                      reinterpret_cast<const char*>(desc.description));
    if (n > 0) names_used = std::min(sizeof(offered_names) - 1, names_used + n);
  }
  uint32_t chosen = 0;
  for (const uint32_t want : kLumaFormats) {
    for (int i = 0; i < count && chosen == 0; ++i) {
      if (offered[i] == want) chosen = want;
    }
    if (chosen != 0) break;
  }
  if (chosen == 0) {
    char supported[sizeof(kLumaFormats) / sizeof(kLumaFormats[0]) * 6] = "";
    size_t used = 0;
    for (const uint32_t f : kLumaFormats) {
      char name[5];
      used += static_cast<size_t>(std::snprintf(supported + used, sizeof(supported) - used, "%s%s",
                                                used > 0 ? " " : "", FourCcName(f, name)));
    }
    return Fail(
        "(%s) offers no format edgemlp-firmware reads without a decoder: it offers %s; "
        "expected one of %s",
        card_, count > 0 ? offered_names : "no capture formats", supported);
  }
  v4l2_format fmt{};
  fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  fmt.fmt.pix.width = static_cast<uint32_t>(width);
  fmt.fmt.pix.height = static_cast<uint32_t>(height);
  fmt.fmt.pix.pixelformat = chosen;
  fmt.fmt.pix.field = V4L2_FIELD_ANY;
  char name[5];
  if (RetryIoctl(fd_, VIDIOC_S_FMT, &fmt) != 0) {
    return Fail("VIDIOC_S_FMT %s %dx%d: %s", FourCcName(chosen, name), width, height,
                std::strerror(errno));
  }
  if (fmt.fmt.pix.pixelformat != chosen) {
    char got[5];
    return Fail("asked for %s, the driver set %s", FourCcName(chosen, name),
                FourCcName(fmt.fmt.pix.pixelformat, got));
  }
  layout_.fourcc = chosen;
  layout_.width = static_cast<int>(fmt.fmt.pix.width);
  layout_.height = static_cast<int>(fmt.fmt.pix.height);
  const uint32_t min_line =
      fmt.fmt.pix.width * static_cast<uint32_t>(LumaLineBytesPerPixel(chosen));
  layout_.bytes_per_line =
      static_cast<int>(fmt.fmt.pix.bytesperline >= min_line ? fmt.fmt.pix.bytesperline : min_line);
  if (layout_.width <= 0 || layout_.height <= 0 || layout_.width > kMaxCameraSide ||
      layout_.height > kMaxCameraSide || fmt.fmt.pix.bytesperline > 4u * kMaxCameraSide) {
    return Fail(
        "the driver set an unusable frame size %ux%u (bytes per line %u); expected "
        "1..4096 pixels a side",
        fmt.fmt.pix.width, fmt.fmt.pix.height, fmt.fmt.pix.bytesperline);
  }
  gray_.reset(new uint8_t[static_cast<size_t>(layout_.width) * layout_.height]);
  return true;
}

bool V4l2Camera::MapBuffers() {
  v4l2_requestbuffers request{};
  request.count = 4;
  request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  request.memory = V4L2_MEMORY_MMAP;
  if (RetryIoctl(fd_, VIDIOC_REQBUFS, &request) != 0) {
    return Fail("VIDIOC_REQBUFS (mmap streaming): %s", std::strerror(errno));
  }
  if (request.count < 2)
    return Fail("the driver granted %u buffer(s); expected at least 2", request.count);
  buffer_count_ = static_cast<int>(request.count < kMaxBuffers ? request.count : kMaxBuffers);
  for (int i = 0; i < buffer_count_; ++i) {
    v4l2_buffer b{};
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = static_cast<uint32_t>(i);
    if (RetryIoctl(fd_, VIDIOC_QUERYBUF, &b) != 0) {
      return Fail("VIDIOC_QUERYBUF %d: %s", i, std::strerror(errno));
    }
    void* start = mmap(nullptr, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, b.m.offset);
    if (start == MAP_FAILED) return Fail("mmap of buffer %d: %s", i, std::strerror(errno));
    buffers_[i] = Buffer{start, b.length};
    if (b.length < LumaBytesNeeded(layout_)) {
      return Fail("buffer %d holds %u bytes, less than one %dx%d frame", i, b.length, layout_.width,
                  layout_.height);
    }
    if (!Requeue(b.index)) return false;
  }
  return true;
}

bool V4l2Camera::Requeue(uint32_t index) {
  v4l2_buffer b{};
  b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  b.memory = V4L2_MEMORY_MMAP;
  b.index = index;
  if (RetryIoctl(fd_, VIDIOC_QBUF, &b) != 0) {
    return Fail("VIDIOC_QBUF %u: %s", index, std::strerror(errno));
  }
  return true;
}

void V4l2Camera::Close() {
  if (fd_ < 0) return;
  if (streaming_) {
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    RetryIoctl(fd_, VIDIOC_STREAMOFF, &type);
    streaming_ = false;
  }
  for (int i = 0; i < kMaxBuffers; ++i) {
    if (buffers_[i].start != nullptr) munmap(buffers_[i].start, buffers_[i].length);
    buffers_[i] = Buffer{};
  }
  if (buffer_count_ > 0) {  // give the buffers back to the driver
    v4l2_requestbuffers request{};
    request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    request.memory = V4L2_MEMORY_MMAP;
    RetryIoctl(fd_, VIDIOC_REQBUFS, &request);
    buffer_count_ = 0;
  }
  close(fd_);
  fd_ = -1;
}

V4l2Camera::Capture V4l2Camera::Next(const LoopOptions& o, int64_t max_age_ns) {
  if (fd_ < 0) {
    Fail("not open");
    return Capture::kFailed;
  }
  const int64_t deadline = MonotonicNs() + int64_t{timeout_ms_} * 1000000;
  for (;;) {
    switch (WaitReadable(fd_, deadline, o)) {
      case Wait::kReady:
        break;
      case Wait::kStopped:
        return Capture::kStopped;
      case Wait::kTimeout:
        Fail("no frame within %d ms (select timeout); expected a streaming camera", timeout_ms_);
        return Capture::kFailed;
      case Wait::kError:
        Fail("poll: %s", std::strerror(errno));
        return Capture::kFailed;
    }
    // Dequeue all that is ready; keep the newest, give the others back.
    v4l2_buffer newest{};
    bool have = false;
    for (;;) {
      v4l2_buffer b{};
      b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      b.memory = V4L2_MEMORY_MMAP;
      if (RetryIoctl(fd_, VIDIOC_DQBUF, &b) != 0) {
        if (errno == EAGAIN) break;
        if (errno == EIO && !have) {  // a transient capture error (V4L2 spec)
          Fail("VIDIOC_DQBUF: %s (transient capture error)", std::strerror(EIO));
          return Capture::kMalformed;
        }
        if (errno == EIO) break;
        Fail("VIDIOC_DQBUF: %s", std::strerror(errno));
        return Capture::kFailed;
      }
      if (b.index >= static_cast<uint32_t>(buffer_count_)) {
        Fail("VIDIOC_DQBUF returned buffer %u of %d", b.index, buffer_count_);
        return Capture::kFailed;
      }
      if (have) {
        ++dropped_;
        if (!Requeue(newest.index)) return Capture::kFailed;
      }
      newest = b;
      have = true;
    }
    if (!have) continue;  // woken without a frame: wait again
    received_ns_ = MonotonicNs();
    // Too old to answer for now (a monotonic capture time more than one
    // period ago): back to the driver, and wait for a fresh one.
    const bool monotonic = (newest.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) ==
                           V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
    const int64_t captured =
        int64_t{newest.timestamp.tv_sec} * 1000000000 + int64_t{newest.timestamp.tv_usec} * 1000;
    if (max_age_ns > 0 && monotonic && received_ns_ - captured > max_age_ns) {
      ++dropped_;
      if (!Requeue(newest.index)) return Capture::kFailed;
      continue;
    }
    const Buffer& buffer = buffers_[newest.index];
    const size_t size = newest.bytesused > 0 && newest.bytesused <= buffer.length ? newest.bytesused
                                                                                  : buffer.length;
    const char* bad =
        newest.flags & V4L2_BUF_FLAG_ERROR
            ? "the driver flagged the frame as corrupt"
            : ExtractLuma(layout_, static_cast<const uint8_t*>(buffer.start), size, gray_.get());
    if (!Requeue(newest.index)) return Capture::kFailed;
    if (bad != nullptr) {
      Fail("buffer %u (%zu bytes): %s", newest.index, size, bad);
      return Capture::kMalformed;
    }
    return Capture::kFrame;
  }
}

bool RunCameraLoop(V4l2Camera* camera, const LoopOptions& o, FrameClassifier* classifier,
                   std::FILE* out) {
  uint8_t frame[kFrameBytes];
  Pacer pacer(o.hz);
  int bad_in_a_row = 0;
  while (!Stopped(o)) {
    pacer.WaitForSlot(o);
    // With --hz, never a frame captured more than one period ago.
    const V4l2Camera::Capture capture = camera->Next(o, pacer.period_ns());
    classifier->CountDropped(camera->TakeDropped());
    switch (capture) {
      case V4l2Camera::Capture::kStopped:
        return true;
      case V4l2Camera::Capture::kFailed:
        Log(kLogError, "%s", camera->error());
        return false;
      case V4l2Camera::Capture::kMalformed:
        classifier->CountMalformed();
        Log(kLogWarning, "malformed frame: %s; skipped", camera->error());
        if (++bad_in_a_row >= kMaxBadFramesInARow) {
          Log(kLogError, "%d bad frames in a row from the camera; giving up", bad_in_a_row);
          return false;
        }
        pacer.FinishSlot();
        continue;
      case V4l2Camera::Capture::kFrame:
        bad_in_a_row = 0;
        break;
    }
    PreprocessLikeMnist(camera->image(), frame);
    const Prediction p = classifier->Classify(frame);
    if (pacer.FinishSlot()) classifier->CountMissedDeadline();
    EmitPrediction(p, camera->received_ns(), nullptr, o, classifier, out);
  }
  return true;
}

}  // namespace edgemlp::firmware
