// What edgemlp-firmware needs to be a good systemd service, without
// libsystemd: log lines with journald priority prefixes when stderr is the
// journal, and the sd_notify datagram (READY, WATCHDOG, RELOADING,
// STOPPING). Neither allocates after Open(); both are no-ops outside systemd.
#ifndef EDGEMLP_FIRMWARE_SERVICE_H_
#define EDGEMLP_FIRMWARE_SERVICE_H_

#include <cstdint>

namespace edgemlp::firmware {

// syslog priorities, as journald reads them from a "<N>" line prefix.
enum LogPriority { kLogError = 3, kLogWarning = 4, kLogInfo = 6 };

// One line on stderr: "edgemlp-firmware: " + the message, with "<N>" in
// front when stderr is the journal ($JOURNAL_STREAM names stderr's device
// and inode, as systemd sets it), so `journalctl -p err` finds errors.
void Log(LogPriority priority, const char* format, ...) __attribute__((format(printf, 2, 3)));
// `line` (ending in '\n') on stderr as it is, but for the "<N>" prefix.
void LogLine(LogPriority priority, const char* line);
// Whether Log() writes the prefixes (decided once, on the first Log()).
bool LogToJournal();

// The sd_notify protocol: datagrams to the AF_UNIX socket $NOTIFY_SOCKET
// (a path, or '@' for the abstract namespace). $WATCHDOG_USEC (for this
// process when $WATCHDOG_PID is set) asks for WATCHDOG=1 at least that
// often; Tick() sends it at half that period.
class Notifier {
 public:
  Notifier() = default;
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Reads the environment; false with a warning logged if $NOTIFY_SOCKET is
  // set but unusable (the service then runs without notifications).
  bool Open();
  bool active() const { return fd_ >= 0; }
  // Sends one state string, e.g. "READY=1". false if it could not be sent.
  bool Send(const char* state);
  // The watchdog: the next ping's CLOCK_MONOTONIC time (ns), or -1 without one.
  int64_t watchdog_due_ns() const { return watchdog_period_ns_ > 0 ? next_ping_ns_ : -1; }
  int64_t watchdog_period_ns() const { return watchdog_period_ns_; }
  // Sends WATCHDOG=1 if it is due (at `now_ns`), and schedules the next.
  void Tick(int64_t now_ns);

 private:
  int fd_ = -1;
  char address_[108] = "";  // sockaddr_un::sun_path
  unsigned address_length_ = 0;
  int64_t watchdog_period_ns_ = 0;  // half of $WATCHDOG_USEC
  int64_t next_ping_ns_ = 0;
};

// CLOCK_MONOTONIC in ns (what V4L2 buffer timestamps and the pacer use).
int64_t MonotonicNs();

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_SERVICE_H_
