// edgemlp-firmware as a service (firmware.h, service.h, gpio.h): waits that
// cannot miss a signal, sd_notify and the watchdog on a socket made here,
// GPIO lines on a fake chip, models read into memory and reloaded, I420
// frames and the newest-frame drain of a pipe.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgemlp/mnist_frame.h"
#include "firmware.h"
#include "firmware_test_util.h"
#include "gpio.h"
#include "photo.h"
#include "service.h"

namespace edgemlp::firmware {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnUsr1(int) { g_stop = 1; }

TEST_CASE("a signal pending before the wait ends the wait at once (ppoll with the mask)") {
  struct sigaction action {};
  action.sa_handler = OnUsr1;
  sigaction(SIGUSR1, &action, nullptr);
  sigset_t blocked, old;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &blocked, &old);
  sigset_t wait_mask = old;
  sigdelset(&wait_mask, SIGUSR1);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  g_stop = 0;
  LoopOptions options;
  options.stop = &g_stop;
  // The signal lands after the last stop check and before the wait (here:
  // before the call): with read() it would be lost until data came.
  raise(SIGUSR1);
  CHECK(g_stop == 0);  // blocked: still pending
  const int64_t start = MonotonicNs();
  options.wait_mask = &wait_mask;
  CHECK(WaitReadable(fds[0], start + 5000000000LL, options) == Wait::kStopped);
  CHECK(MonotonicNs() - start < 1000000000LL);
  CHECK(g_stop == 1);
  // Without the mask the blocked signal would stay pending: the wait times out.
  g_stop = 0;
  raise(SIGUSR1);
  options.wait_mask = nullptr;
  CHECK(WaitReadable(fds[0], MonotonicNs() + 50000000LL, options) == Wait::kTimeout);
  sigprocmask(SIG_SETMASK, &old, nullptr);  // delivers it now
  CHECK(g_stop == 1);
  close(fds[0]);
  close(fds[1]);
}

// A datagram socket like systemd's notify socket: a path or an abstract name.
struct NotifySocket {
  int fd = -1;
  std::string name;
  explicit NotifySocket(bool abstract) {
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    name = (abstract ? "@edgemlp-notify-" : "/tmp/edgemlp-notify-") + std::to_string(getpid());
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (abstract) address.sun_path[0] = '\0';
    if (!abstract) unlink(name.c_str());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
  }
  ~NotifySocket() {
    close(fd);
    if (name[0] == '/') unlink(name.c_str());
  }
  // Everything received so far, one message per line.
  std::string Received() {
    std::string all;
    char buf[256];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n <= 0) return all;
      all.append(buf, static_cast<size_t>(n)).append("\n");
    }
  }
};

TEST_CASE("sd_notify: READY, watchdog pings at half WATCHDOG_USEC, path and abstract sockets") {
  for (const bool abstract : {false, true}) {
    INFO("abstract " << abstract);
    NotifySocket socket(abstract);
    setenv("NOTIFY_SOCKET", socket.name.c_str(), 1);
    setenv("WATCHDOG_USEC", "200000", 1);  // a ping every 100 ms
    unsetenv("WATCHDOG_PID");
    Notifier notifier;
    REQUIRE(notifier.Open());
    REQUIRE(notifier.active());
    CHECK(notifier.watchdog_period_ns() == 100000000);
    CHECK(notifier.Send("READY=1"));
    const int64_t now = MonotonicNs();
    notifier.Tick(now);            // due at once
    notifier.Tick(now + 1000000);  // 1 ms later: not yet
    notifier.Tick(now + 100000000);
    CHECK(socket.Received() == "READY=1\nWATCHDOG=1\nWATCHDOG=1\n");

    // The watchdog while the loop waits on an idle pipe: pings keep coming.
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    Notifier waiting;
    REQUIRE(waiting.Open());
    FirmwareService service(&waiting, nullptr, nullptr, nullptr);
    LoopOptions options;
    options.hooks = &service;
    CHECK(WaitReadable(fds[0], MonotonicNs() + 450000000LL, options) == Wait::kTimeout);
    const std::string pings = socket.Received();
    size_t count = 0;
    for (size_t at = 0; (at = pings.find("WATCHDOG=1\n", at)) != std::string::npos; ++at) ++count;
    CHECK(count >= 4);  // at 0, 100, ... 400 ms
    CHECK(count <= 6);
    close(fds[0]);
    close(fds[1]);
  }
  // WATCHDOG_PID names another process: no watchdog for this one.
  NotifySocket socket(true);
  setenv("NOTIFY_SOCKET", socket.name.c_str(), 1);
  setenv("WATCHDOG_PID", "1", 1);
  Notifier other;
  REQUIRE(other.Open());
  CHECK(other.watchdog_due_ns() == -1);
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  Notifier none;
  CHECK(none.Open());
  CHECK(!none.active());
  CHECK(!none.Send("READY=1"));
}

// A GPIO chip in the test: what GPIO_V2_GET_LINE_IOCTL asked for, and the
// values each GPIO_V2_LINE_SET_VALUES_IOCTL set.
struct FakeChip {
  static inline gpio_v2_line_request request{};
  static inline std::vector<uint64_t> values;
  static inline int line_fd = -1;
  static int Ioctl(int fd, unsigned long op, void* arg) {
    if (op == GPIO_V2_GET_LINE_IOCTL) {
      request = *static_cast<gpio_v2_line_request*>(arg);
      line_fd = dup(fd);
      static_cast<gpio_v2_line_request*>(arg)->fd = line_fd;
      return 0;
    }
    if (op == GPIO_V2_LINE_SET_VALUES_IOCTL && fd == line_fd) {
      const auto* v = static_cast<gpio_v2_line_values*>(arg);
      REQUIRE(v->mask == 0xF);  // all four lines each time
      values.push_back(v->bits);
      return 0;
    }
    errno = ENOTTY;
    return -1;
  }
};

TEST_CASE("GPIO: the lines carry each new digit as a 4-bit code, first line = bit 0") {
  GpioOutput bad(FakeChip::Ioctl);
  for (const char* list : {"", "17,", "a", "1,1", "-3", "1,2,3,4,5,6,7,8,9"}) {
    INFO(list);
    CHECK(!bad.ParseLines(list));
    CHECK(std::string(bad.error()).find("--gpio-lines") == 0);
  }
  CHECK(!bad.Open("/nonexistent/gpiochip9"));
  CHECK(std::string(bad.error()).find("/nonexistent/gpiochip9: cannot open") == 0);

  GpioOutput gpio(FakeChip::Ioctl);
  REQUIRE(gpio.ParseLines("17,27,22,23"));
  REQUIRE_MESSAGE(gpio.Open("/dev/null"), gpio.error());
  const gpio_v2_line_request& r = FakeChip::request;
  CHECK(r.num_lines == 4);
  CHECK((r.offsets[0] == 17 && r.offsets[1] == 27 && r.offsets[2] == 22 && r.offsets[3] == 23));
  CHECK(r.config.flags == GPIO_V2_LINE_FLAG_OUTPUT);
  CHECK(std::string(r.consumer) == "edgemlp-firmware");
  CHECK((r.config.num_attrs == 1 && r.config.attrs[0].attr.values == 0));  // start low

  // Frames through the raw loop: the lines follow the answers.
  LoadedNet loaded(21);
  std::mt19937_64 rng(4);
  std::vector<uint8_t> frames(40 * kFrameBytes);
  for (uint8_t& p : frames) p = static_cast<uint8_t>(rng() % 5 == 0 ? rng() : 0);
  std::vector<uint64_t> want;
  int32_t logits[10];
  for (size_t i = 0; i < 40; ++i) {
    const int digit = loaded.net.PredictRef(frames.data() + i * kFrameBytes, logits);
    if (want.empty() || want.back() != static_cast<uint64_t>(digit)) want.push_back(digit);
  }
  REQUIRE(want.size() > 2);  // the frames give several digits
  FakeChip::values.clear();
  FirmwareService service(nullptr, nullptr, &loaded.net, &gpio);
  LoopOptions options;
  options.hooks = &service;
  options.print_changes = true;
  const int fd = TempFileWith(frames);
  std::FILE* out = std::tmpfile();
  FrameClassifier classifier(&loaded.net);
  RunRawLoop(fd, nullptr, options, &classifier, out);
  close(fd);
  CHECK(classifier.frames() == 40);
  CHECK(FakeChip::values == want);
  // --print change: one line per change, the same digits.
  std::rewind(out);
  char line[256];
  size_t lines = 0;
  while (std::fgets(line, sizeof(line), out) != nullptr) {
    REQUIRE(lines < want.size());
    CHECK(std::atoi(line) == static_cast<int>(want[lines++]));
  }
  CHECK(lines == want.size());
  std::fclose(out);
}

std::string WriteTemp(const std::vector<uint8_t>& bytes, const char* path = nullptr) {
  std::string name = path ? path : "/tmp/edgemlp-model-XXXXXX";
  if (path == nullptr) {
    const int fd = mkstemp(name.data());
    REQUIRE(fd >= 0);
    close(fd);
  }
  // In place (same inode): a mapped model would see these bytes.
  std::FILE* f = std::fopen(name.c_str(), "r+b");
  REQUIRE(f != nullptr);
  // fwrite(nullptr, ...) is undefined even for 0 bytes (UBSan): an empty file writes nothing.
  if (!bytes.empty()) REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  REQUIRE(ftruncate(fileno(f), static_cast<off_t>(bytes.size())) == 0);
  std::fclose(f);
  return name;
}

TEST_CASE("the model is read into memory; SIGHUP's reload takes a good file, refuses a bad one") {
  const std::vector<uint8_t> a = RandomBlob(31), b = RandomBlob(32);
  std::vector<uint8_t> bad = b;
  bad[bad.size() / 2] ^= 0x40;  // one bit: the CRC must catch it
  const std::string path = WriteTemp(a);
  Network net;
  std::string error;
  REQUIRE_MESSAGE(LoadModelFile(path.c_str(), &net, &error), error);
  uint8_t frame[kFrameBytes];
  for (size_t i = 0; i < kFrameBytes; ++i) frame[i] = static_cast<uint8_t>(i * 7);
  int32_t with_a[10], with_b[10], now[10];
  net.Predict(frame, with_a);
  Network reference_b;
  REQUIRE(Network::LoadCopy(b.data(), b.size(), &reference_b).ok());
  reference_b.Predict(frame, with_b);
  REQUIRE(std::memcmp(with_a, with_b, sizeof(with_a)) != 0);

  WriteTemp(b, path.c_str());  // replaced on disk, same inode
  net.Predict(frame, now);
  CHECK(std::memcmp(now, with_a, sizeof(now)) == 0);  // nothing changes until the reload

  NotifySocket socket(true);
  setenv("NOTIFY_SOCKET", socket.name.c_str(), 1);
  Notifier notifier;
  REQUIRE(notifier.Open());
  unsetenv("NOTIFY_SOCKET");
  FirmwareService service(&notifier, path.c_str(), &net, nullptr);
  service.Reload();
  CHECK(service.reloads() == 1);
  net.Predict(frame, now);
  CHECK(std::memcmp(now, with_b, sizeof(now)) == 0);
  const std::string reload = socket.Received();
  INFO(reload);
  CHECK(reload.find("RELOADING=1\nMONOTONIC_USEC=") == 0);
  CHECK(reload.find("\nREADY=1\n") != std::string::npos);

  for (const std::vector<uint8_t>& broken :
       {bad, std::vector<uint8_t>(b.begin(), b.begin() + b.size() / 2), std::vector<uint8_t>{}}) {
    WriteTemp(broken, path.c_str());
    CHECK(!ReloadModelFile(path.c_str(), &net, &error));
    CHECK(error.find(path + ": ") == 0);
    service.Reload();
    net.Predict(frame, now);
    CHECK(std::memcmp(now, with_b, sizeof(now)) == 0);  // the old model kept
  }
  CHECK(service.refused_reloads() == 3);
  unlink(path.c_str());
  CHECK(!LoadModelFile(path.c_str(), &net, &error));
  CHECK(error.find("cannot open") != std::string::npos);
}

// A width x height I420 frame: `luma`, then random U and V planes of
// ceil(w/2) x ceil(h/2) (as libcamera sizes them for odd sides).
std::vector<uint8_t> I420(const std::vector<uint8_t>& luma, int w, int h, uint32_t seed) {
  std::vector<uint8_t> f(luma);
  FastNoise noise{seed | 1};
  const size_t chroma = 2 * static_cast<size_t>((w + 1) / 2) * static_cast<size_t>((h + 1) / 2);
  for (size_t i = 0; i < chroma; ++i) f.push_back(static_cast<uint8_t>(noise.Next() >> 24));
  return f;
}

TEST_CASE("I420 frames: the luma plane's answer, odd sizes rounded up like libcamera") {
  CHECK(I420FrameBytes(640, 480) == 640 * 480 * 3 / 2);
  CHECK(I420FrameBytes(641, 481) == 641 * 481 + 2 * 321 * 241);
  LoadedNet loaded(22);
  constexpr int kW = 161, kH = 121;
  std::vector<uint8_t> stream;
  std::vector<int> want;
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> luma = Photo(kW, kH);
    for (int y = 20 + 10 * i; y < 90; ++y) luma[static_cast<size_t>(y) * kW + 60 + 15 * i] = 10;
    uint8_t frame[kFrameBytes];
    PreprocessLikeMnist(GrayImage{luma.data(), kW, kH}, frame);
    int32_t logits[10];
    want.push_back(loaded.net.PredictRef(frame, logits));
    const std::vector<uint8_t> f = I420(luma, kW, kH, 7 + i);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  stream.resize(stream.size() + 1000, 128);  // a short last frame
  const int fd = TempFileWith(stream);
  std::FILE* out = std::tmpfile();
  std::fputs("warm up the stream's buffer\n", out);
  FrameClassifier classifier(&loaded.net);
  LoopOptions options;
  options.json = true;
  const long before = HeapAllocations();
  RunStreamLoop(fd, nullptr, kW, kH, options, &classifier, out);
  CHECK(HeapAllocations() - before == 1);  // the stream's two frame buffers, at its start
  close(fd);
  CHECK(classifier.frames() == 3);
  CHECK(classifier.malformed() == 1);
  std::rewind(out);
  char line[256];
  REQUIRE(std::fgets(line, sizeof(line), out) != nullptr);  // the warm-up line
  for (int i = 0; i < 3; ++i) {
    REQUIRE(std::fgets(line, sizeof(line), out) != nullptr);
    const std::string s = line;
    INFO(s);
    CHECK(s.find("\"digit\":" + std::to_string(want[i]) + ",") != std::string::npos);
    const double latency = std::atof(s.c_str() + s.find("\"latency_us\":") + 13);
    const double inference = std::atof(s.c_str() + s.find("\"inference_us\":") + 15);
    CHECK(inference > 0);
    CHECK(latency >= inference);
  }
  std::fclose(out);
}

TEST_CASE("under --hz a pipe is drained to its newest complete frame; a file is read in full") {
  LoadedNet loaded(23);
  std::mt19937_64 rng(9);
  std::vector<uint8_t> frames(5 * kFrameBytes);
  for (uint8_t& p : frames) p = static_cast<uint8_t>(rng() % 3 == 0 ? rng() : 0);
  int32_t logits[10];
  const int last = loaded.net.PredictRef(frames.data() + 4 * kFrameBytes, logits);
  for (const double hz : {1000.0, 0.0}) {
    INFO("hz " << hz);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    // Five frames and half of a sixth wait in the pipe: the writer is ahead.
    REQUIRE(write(fds[1], frames.data(), frames.size()) == static_cast<ssize_t>(frames.size()));
    REQUIRE(write(fds[1], frames.data(), kFrameBytes / 2) == static_cast<ssize_t>(kFrameBytes / 2));
    close(fds[1]);
    std::FILE* out = std::tmpfile();
    FrameClassifier classifier(&loaded.net);
    LoopOptions options;
    options.hz = hz;
    RunRawLoop(fds[0], nullptr, options, &classifier, out);
    close(fds[0]);
    CHECK(classifier.malformed() == 1);  // the half frame at the end
    if (hz > 0) {
      CHECK(classifier.frames() == 1);
      CHECK(classifier.dropped() == 4);
      std::rewind(out);
      char line[256];
      REQUIRE(std::fgets(line, sizeof(line), out) != nullptr);
      CHECK(std::atoi(line) == last);
    } else {
      CHECK(classifier.frames() == 5);
      CHECK(classifier.dropped() == 0);
    }
    std::fclose(out);
  }
  // A writer that never pauses: the drain stops after 256 replaced frames.
  {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    REQUIRE(fcntl(fds[1], F_SETPIPE_SZ, 512 * 1024) >= 300 * static_cast<int>(kFrameBytes));
    std::vector<uint8_t> many(300 * kFrameBytes);
    for (size_t i = 0; i < 300; ++i) {
      std::memcpy(many.data() + i * kFrameBytes, frames.data() + (i % 5) * kFrameBytes, kFrameBytes);
    }
    REQUIRE(write(fds[1], many.data(), many.size()) == static_cast<ssize_t>(many.size()));
    close(fds[1]);
    FrameClassifier classifier(&loaded.net);
    LoopOptions options;
    options.hz = 1000;
    std::FILE* out = std::tmpfile();
    RunRawLoop(fds[0], nullptr, options, &classifier, out);
    close(fds[0]);
    CHECK(classifier.frames() == 2);  // frame 257 (256 replaced), then frame 300 (42 replaced)
    CHECK(classifier.dropped() == 298);
    std::rewind(out);
    char line[256];
    int32_t scratch[10];
    for (const size_t index : {256, 299}) {
      REQUIRE(std::fgets(line, sizeof(line), out) != nullptr);
      CHECK(std::atoi(line) ==
            loaded.net.PredictRef(frames.data() + (index % 5) * kFrameBytes, scratch));
    }
    std::fclose(out);
  }
  // A regular file under --hz: every frame.
  const int fd = TempFileWith(frames);
  std::FILE* out = std::tmpfile();
  FrameClassifier classifier(&loaded.net);
  LoopOptions options;
  options.hz = 1000;
  RunRawLoop(fd, nullptr, options, &classifier, out);
  close(fd);
  CHECK(classifier.frames() == 5);
  CHECK(classifier.dropped() == 0);
  std::fclose(out);
}

}  // namespace
}  // namespace edgemlp::firmware
