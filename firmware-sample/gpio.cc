#include "gpio.h"

#include <fcntl.h>
#include <linux/gpio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "retry_ioctl.h"

namespace edgemlp::firmware {

GpioOutput::GpioOutput(IoctlFn ioctl_fn) : ioctl_(ioctl_fn != nullptr ? ioctl_fn : RetryIoctl) {}

bool GpioOutput::ParseLines(const char* list) {
  count_ = 0;
  const char* at = list;
  for (;;) {
    char* end = nullptr;
    const long line = std::strtol(at, &end, 10);
    bool repeated = false;
    for (int i = 0; i < count_; ++i) repeated |= lines_[i] == static_cast<uint32_t>(line);
    if (end == at || line < 0 || line > 65535 || repeated || count_ == kMaxLines ||
        (*end != ',' && *end != '\0')) {
      std::snprintf(error_, sizeof(error_),
                    "--gpio-lines %s: expected 1 to %d distinct line numbers separated by commas, "
                    "e.g. 17,27,22,23 (first = bit 0)",
                    list, kMaxLines);
      count_ = 0;
      return false;
    }
    lines_[count_++] = static_cast<uint32_t>(line);
    if (*end == '\0') return true;
    at = end + 1;
  }
}

bool GpioOutput::Open(const char* chip) {
  Close();
  chip_fd_ = ::open(chip, O_RDWR | O_CLOEXEC);
  if (chip_fd_ < 0) {
    std::snprintf(error_, sizeof(error_),
                  "%s: cannot open: %s (expected a GPIO chip such as /dev/gpiochip0; the user "
                  "needs the gpio group)",
                  chip, std::strerror(errno));
    return false;
  }
  gpio_v2_line_request request{};
  for (int i = 0; i < count_; ++i) request.offsets[i] = lines_[i];
  request.num_lines = static_cast<uint32_t>(count_);
  std::snprintf(request.consumer, sizeof(request.consumer), "edgemlp-firmware");
  request.config.flags = GPIO_V2_LINE_FLAG_OUTPUT;
  request.config.num_attrs = 1;  // start low
  request.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
  request.config.attrs[0].attr.values = 0;
  request.config.attrs[0].mask = (uint64_t{1} << count_) - 1;
  if (ioctl_(chip_fd_, GPIO_V2_GET_LINE_IOCTL, &request) != 0) {
    const int e = errno;
    std::snprintf(error_, sizeof(error_),
                  "%s: cannot request lines as outputs (GPIO_V2_GET_LINE_IOCTL): %s (expected a "
                  "GPIO chip, kernel 5.10+, with those lines free)",
                  chip, std::strerror(e));
    Close();
    return false;
  }
  line_fd_ = request.fd;
  return true;
}

void GpioOutput::Close() {
  if (line_fd_ >= 0) close(line_fd_);
  if (chip_fd_ >= 0) close(chip_fd_);
  line_fd_ = chip_fd_ = -1;
}

bool GpioOutput::Set(unsigned value) {
  if (line_fd_ < 0) return false;
  gpio_v2_line_values values{};
  values.mask = (uint64_t{1} << count_) - 1;
  values.bits = value & values.mask;
  if (ioctl_(line_fd_, GPIO_V2_LINE_SET_VALUES_IOCTL, &values) != 0) {
    std::snprintf(error_, sizeof(error_), "GPIO_V2_LINE_SET_VALUES_IOCTL: %s", std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace edgemlp::firmware
