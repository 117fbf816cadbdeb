// ioctl, retried when a signal interrupts it (as libv4l's xioctl does):
// every call the camera (V4L2) and GPIO code make on their devices.
#ifndef EDGEMLP_FIRMWARE_RETRY_IOCTL_H_
#define EDGEMLP_FIRMWARE_RETRY_IOCTL_H_

#include <sys/ioctl.h>

#include <cerrno>

namespace edgemlp::firmware {

inline int RetryIoctl(int fd, unsigned long request, void* arg) {
  int r;
  do {
    r = ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_RETRY_IOCTL_H_
