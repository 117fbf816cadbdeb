#include "service.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace edgemlp::firmware {

namespace {

// $JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected; a child
// whose stderr was redirected inherits the variable, so compare.
bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  // strtoull, not sscanf: scanf would add ~40 KB to the static Pi binaries.
  char* colon = nullptr;
  const unsigned long long dev = std::strtoull(stream, &colon, 10);
  if (*colon != ':') return false;
  const unsigned long long ino = std::strtoull(colon + 1, nullptr, 10);
  struct stat st {};
  return fstat(STDERR_FILENO, &st) == 0 && static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

}  // namespace

bool LogToJournal() {
  static const bool journal = StderrIsJournal();
  return journal;
}

void Log(LogPriority priority, const char* format, ...) {
  // The line is built on the stack and written at once (no allocation).
  char line[1024];
  int n = LogToJournal() ? std::snprintf(line, sizeof(line), "<%d>", static_cast<int>(priority))
                         : 0;
  n += std::snprintf(line + n, sizeof(line) - n, "edgemlp-firmware: ");
  va_list args;
  va_start(args, format);
  const int m = std::vsnprintf(line + n, sizeof(line) - n - 1, format, args);
  va_end(args);
  n = std::min(n + std::max(m, 0), static_cast<int>(sizeof(line)) - 2);  // truncated if long
  line[n++] = '\n';
  std::fflush(stderr);
  const ssize_t ignored = write(STDERR_FILENO, line, static_cast<size_t>(n));
  (void)ignored;
}

void LogLine(LogPriority priority, const char* line) {
  char prefix[8] = "";
  if (LogToJournal()) std::snprintf(prefix, sizeof(prefix), "<%d>", static_cast<int>(priority));
  std::fflush(stderr);
  std::fprintf(stderr, "%s%s", prefix, line);
  std::fflush(stderr);
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

Notifier::~Notifier() {
  if (fd_ >= 0) close(fd_);
}

bool Notifier::Open() {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || socket_name[0] == '\0') return true;
  const size_t length = std::strlen(socket_name);
  if ((socket_name[0] != '/' && socket_name[0] != '@') || length >= sizeof(address_)) {
    Log(kLogWarning, "NOTIFY_SOCKET=%s: expected an absolute path or an @abstract name of up to %zu bytes; "
        "running without sd_notify", socket_name, sizeof(address_) - 1);
    return false;
  }
  std::memcpy(address_, socket_name, length);
  if (address_[0] == '@') address_[0] = '\0';  // the abstract namespace
  address_length_ = static_cast<unsigned>(length);
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    Log(kLogWarning, "NOTIFY_SOCKET: socket: %s; running without sd_notify", std::strerror(errno));
    return false;
  }
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  const bool for_us = pid == nullptr || std::strtoll(pid, nullptr, 10) == getpid();
  const long long watchdog_us = usec != nullptr && for_us ? std::strtoll(usec, nullptr, 10) : 0;
  if (watchdog_us > 0) {
    watchdog_period_ns_ = watchdog_us * 1000 / 2;
    next_ping_ns_ = MonotonicNs();  // the first ping goes out at once
  }
  return true;
}

bool Notifier::Send(const char* state) {
  if (fd_ < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, address_, address_length_);
  const socklen_t size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_length_);
  const ssize_t n = sendto(fd_, state, std::strlen(state), MSG_NOSIGNAL,
                           reinterpret_cast<const sockaddr*>(&address), size);
  return n >= 0;
}

void Notifier::Tick(int64_t now_ns) {
  if (watchdog_period_ns_ <= 0 || now_ns < next_ping_ns_) return;
  Send("WATCHDOG=1");
  next_ping_ns_ = now_ns + watchdog_period_ns_;
}

}  // namespace edgemlp::firmware
