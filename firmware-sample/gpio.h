// GPIO output for edgemlp-firmware (--gpio-chip, --gpio-lines): the digit
// as a binary code on up to 8 lines of one chip, first line = bit 0, through
// the Linux GPIO character device uAPI v2 (<linux/gpio.h>, kernel 5.10+; no
// libgpiod). The ioctl is injectable so tests can stand in for a chip.
#ifndef EDGEMLP_FIRMWARE_GPIO_H_
#define EDGEMLP_FIRMWARE_GPIO_H_

#include <cstdint>

namespace edgemlp::firmware {

class GpioOutput {
 public:
  using IoctlFn = int (*)(int fd, unsigned long request, void* arg);
  static constexpr int kMaxLines = 8;

  explicit GpioOutput(IoctlFn ioctl_fn = nullptr);  // nullptr: the real ioctl
  ~GpioOutput() { Close(); }
  GpioOutput(const GpioOutput&) = delete;
  GpioOutput& operator=(const GpioOutput&) = delete;

  // Parses "17,27,22,23" into line offsets; false with error() if it is not
  // 1..kMaxLines distinct numbers.
  bool ParseLines(const char* list);
  // Opens `chip` (e.g. /dev/gpiochip0) and requests the parsed lines as
  // outputs, all low. false: see error().
  bool Open(const char* chip);
  void Close();
  bool open() const { return line_fd_ >= 0; }
  // Drives the lines to `value`'s low bits (GPIO_V2_LINE_SET_VALUES_IOCTL).
  bool Set(unsigned value);

  int line_count() const { return count_; }
  const uint32_t* lines() const { return lines_; }
  const char* error() const { return error_; }

 private:
  IoctlFn ioctl_;
  int chip_fd_ = -1;
  int line_fd_ = -1;
  uint32_t lines_[kMaxLines] = {};
  int count_ = 0;
  char error_[384] = "";
};

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_GPIO_H_
