#include "cli/cli.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cstdarg>
#include <iostream>


namespace edgemlp::cli {

void Emit(bool json, const Json& object, const std::string& human) {
  if (json) {
    std::cout << object.dump() << std::endl;
  } else {
    std::cout << human << std::flush;
  }
}

void Log(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

Progress::Progress(std::string label)
    : label_(std::move(label)), tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::Update(double fraction) {
  if (!tty_) return;  // logs (CI, pipes) get per-epoch lines only
  const int percent = static_cast<int>(fraction * 100);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  const int width = 30, filled = percent * width / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), filled,
               "##############################", width - filled, "", percent);
  std::fflush(stderr);
}

void Progress::Done() {
  if (tty_ && last_percent_ >= 0) std::fprintf(stderr, "\r\033[K");
  last_percent_ = -1;
}

namespace {
std::vector<std::string>& CommandLineStore() {
  static std::vector<std::string> args;
  return args;
}
}  // namespace

void SetCommandLine(std::vector<std::string> args) { CommandLineStore() = std::move(args); }
const std::vector<std::string>& CommandLine() { return CommandLineStore(); }

std::string Sha256Hex(const void* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data, size, digest, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace edgemlp::cli
