// A fake V4L2 capture device for the camera loop's tests: ioctl, ppoll, mmap
// and munmap are wrapped at link time (-Wl,--wrap, tests/meson.build) and
// answered here while a FakeV4l2 is installed; everything else goes to the
// real calls. It follows the V4L2 streaming rules the driver side enforces
// (QUERYCAP, ENUM_FMT, S_FMT, REQBUFS, QUERYBUF + mmap, QBUF/DQBUF of owned
// buffers, STREAMON/OFF) and plays a script of frames. It allocates nothing
// while streaming. Include it from one test file only (it defines the
// wrappers). It stands in for a driver: it proves the ioctl sequence
// and the loop's handling, not that a real camera works.
#ifndef EDGEMLP_TESTS_FAKE_V4L2_H_
#define EDGEMLP_TESTS_FAKE_V4L2_H_

#include <linux/videodev2.h>
#include <poll.h>
#include <sys/mman.h>

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

extern "C" {
int __real_ioctl(int fd, unsigned long request, ...);
int __real_ppoll(pollfd* fds, nfds_t count, const timespec* timeout, const sigset_t* mask);
void* __real_mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset);
void* __real_mmap64(void* addr, size_t length, int prot, int flags, int fd, off64_t offset);
int __real_munmap(void* addr, size_t length);
}

namespace edgemlp::firmware {

class FakeV4l2 {
 public:
  // What DQBUF hands out for one frame of the script.
  // kStale: a good frame whose capture timestamp is 10 s old.
  enum class Event { kFrame, kErrorFlag, kShort, kEio, kNoDevice, kStale };
  static constexpr int kBuffers = 4;
  static constexpr off_t kOffsetStep = 1 << 20;

  FakeV4l2() { installed_ = this; }
  ~FakeV4l2() { installed_ = nullptr; }
  static FakeV4l2* installed() { return installed_; }

  // The device: capabilities, offered formats, the bytes of one frame (laid
  // out as S_FMT will report: bytes_per_line padded by 16).
  uint32_t caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
  std::vector<uint32_t> formats;
  std::vector<uint8_t> frame_bytes;  // one encoded frame, copied into a buffer on DQBUF
  int frame_bytes_per_line = 0;
  // The script: one poll() makes `burst` frames ready, each taking the next
  // event. When it runs out, poll() either raises *stop_flag as a signal
  // would (EINTR) or, with stop_flag null, times out.
  std::vector<Event> events;
  int burst = 1;
  volatile std::sig_atomic_t* stop_flag = nullptr;

  // What the camera did.
  int streamon = 0, streamoff = 0, unmapped = 0, released = 0, dequeued = 0;
  int width = 0, height = 0;
  uint32_t fourcc = 0;
  bool owned_by_driver[kBuffers] = {};

  int Ioctl(unsigned long request, void* arg) {
    switch (request) {
      case VIDIOC_QUERYCAP: {
        auto* cap = static_cast<v4l2_capability*>(arg);
        std::memset(cap, 0, sizeof(*cap));
        std::memcpy(cap->driver, "fake", 5);
        std::memcpy(cap->card, "Fake camera", 12);
        cap->capabilities = caps | V4L2_CAP_DEVICE_CAPS;
        cap->device_caps = caps;
        return 0;
      }
      case VIDIOC_ENUM_FMT: {
        auto* desc = static_cast<v4l2_fmtdesc*>(arg);
        if (desc->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || desc->index >= formats.size()) {
          return Error(EINVAL);
        }
        desc->pixelformat = formats[desc->index];
        std::snprintf(reinterpret_cast<char*>(desc->description), sizeof(desc->description),
                      "format %u", desc->index);
        return 0;
      }
      case VIDIOC_S_FMT: {
        auto* f = static_cast<v4l2_format*>(arg);
        bool offered = false;
        for (const uint32_t x : formats) offered |= x == f->fmt.pix.pixelformat;
        if (!offered || f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE) return Error(EINVAL);
        fourcc = f->fmt.pix.pixelformat;
        width = static_cast<int>(f->fmt.pix.width);
        height = static_cast<int>(f->fmt.pix.height);
        f->fmt.pix.bytesperline = static_cast<uint32_t>(frame_bytes_per_line);
        f->fmt.pix.sizeimage = static_cast<uint32_t>(frame_bytes.size());
        return 0;
      }
      case VIDIOC_REQBUFS: {
        auto* r = static_cast<v4l2_requestbuffers*>(arg);
        if (r->memory != V4L2_MEMORY_MMAP || streamon > streamoff) return Error(EBUSY);
        if (r->count == 0) {
          ++released;
          return 0;
        }
        r->count = kBuffers;
        for (auto& b : buffers_) b.assign(frame_bytes.size() + 4096, 0);
        return 0;
      }
      case VIDIOC_QUERYBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (b->index >= kBuffers) return Error(EINVAL);
        b->length = static_cast<uint32_t>(buffers_[b->index].size());
        b->m.offset = static_cast<uint32_t>(b->index * kOffsetStep);
        return 0;
      }
      case VIDIOC_QBUF: {
        auto* b = static_cast<v4l2_buffer*>(arg);
        if (b->index >= kBuffers || owned_by_driver[b->index]) return Error(EINVAL);
        owned_by_driver[b->index] = true;
        return 0;
      }
      case VIDIOC_STREAMON:
        ++streamon;
        return 0;
      case VIDIOC_STREAMOFF:
        ++streamoff;
        for (bool& owned : owned_by_driver) owned = false;
        return 0;
      case VIDIOC_DQBUF:
        return Dequeue(static_cast<v4l2_buffer*>(arg));
      default:
        return Error(ENOTTY);
    }
  }

  int Poll() {
    if (ready_ > 0) return 1;
    if (next_event_ >= events.size()) {
      if (stop_flag == nullptr) return 0;  // a timeout
      *stop_flag = 1;                      // as SIGINT would, interrupting poll
      return Error(EINTR);
    }
    ready_ = burst;
    return 1;
  }

  void* Map(size_t length, off_t offset) {
    const size_t index = static_cast<size_t>(offset / kOffsetStep);
    if (index >= kBuffers || length != buffers_[index].size()) {
      errno = EINVAL;
      return MAP_FAILED;
    }
    return buffers_[index].data();
  }
  bool Unmap(void* address) {
    for (auto& b : buffers_) {
      if (b.data() == address) return ++unmapped, true;
    }
    return false;
  }

 private:
  static int Error(int e) {
    errno = e;
    return -1;
  }
  int Dequeue(v4l2_buffer* b) {
    if (streamon <= streamoff) return Error(EINVAL);
    if (ready_ == 0 || next_event_ >= events.size()) return Error(EAGAIN);
    int index = -1;
    for (int i = 0; i < kBuffers && index < 0; ++i) {
      if (owned_by_driver[(next_buffer_ + i) % kBuffers]) index = (next_buffer_ + i) % kBuffers;
    }
    if (index < 0) return Error(EAGAIN);  // the application holds every buffer
    --ready_;
    const Event event = events[next_event_++];
    if (event == Event::kEio) return Error(EIO);
    if (event == Event::kNoDevice) return Error(ENODEV);
    next_buffer_ = (index + 1) % kBuffers;
    owned_by_driver[index] = false;
    ++dequeued;
    std::memcpy(buffers_[index].data(), frame_bytes.data(), frame_bytes.size());
    b->index = static_cast<uint32_t>(index);
    b->bytesused =
        static_cast<uint32_t>(event == Event::kShort ? frame_bytes.size() / 2 : frame_bytes.size());
    b->flags = (event == Event::kErrorFlag ? V4L2_BUF_FLAG_ERROR : 0) |
               V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
    // Captured now, as a driver stamps it (CLOCK_MONOTONIC), or long ago.
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    b->timestamp.tv_sec = now.tv_sec - (event == Event::kStale ? 10 : 0);
    b->timestamp.tv_usec = now.tv_nsec / 1000;
    return 0;
  }

  static inline FakeV4l2* installed_ = nullptr;
  std::vector<uint8_t> buffers_[kBuffers];
  size_t next_event_ = 0;
  int ready_ = 0;
  int next_buffer_ = 0;
};

}  // namespace edgemlp::firmware

extern "C" {
// V4L2 requests have type 'V'; those go to the fake while one is installed.
int __wrap_ioctl(int fd, unsigned long request, ...) {
  va_list args;
  va_start(args, request);
  void* arg = va_arg(args, void*);
  va_end(args);
  auto* fake = edgemlp::firmware::FakeV4l2::installed();
  if (fake != nullptr && _IOC_TYPE(request) == 'V') return fake->Ioctl(request, arg);
  return __real_ioctl(fd, request, arg);
}
int __wrap_ppoll(pollfd* fds, nfds_t count, const timespec* timeout, const sigset_t* mask) {
  auto* fake = edgemlp::firmware::FakeV4l2::installed();
  if (fake == nullptr || count != 1) return __real_ppoll(fds, count, timeout, mask);
  const int r = fake->Poll();
  fds[0].revents = r > 0 ? POLLIN : 0;
  return r;
}
void* __wrap_mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  auto* fake = edgemlp::firmware::FakeV4l2::installed();
  if (fake != nullptr && (flags & MAP_SHARED) && fd >= 0) return fake->Map(length, offset);
  return __real_mmap(addr, length, prot, flags, fd, offset);
}
void* __wrap_mmap64(void* addr, size_t length, int prot, int flags, int fd, off64_t offset) {
  auto* fake = edgemlp::firmware::FakeV4l2::installed();
  if (fake != nullptr && (flags & MAP_SHARED) && fd >= 0) {
    return fake->Map(length, static_cast<off_t>(offset));
  }
  return __real_mmap64(addr, length, prot, flags, fd, offset);
}
int __wrap_munmap(void* addr, size_t length) {
  auto* fake = edgemlp::firmware::FakeV4l2::installed();
  if (fake != nullptr && fake->Unmap(addr)) return 0;
  return __real_munmap(addr, length);
}
}

#endif  // EDGEMLP_TESTS_FAKE_V4L2_H_
