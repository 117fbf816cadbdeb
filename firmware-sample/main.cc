// edgemlp-firmware: the inference loop a board runs. Loads and verifies an
// int8 model once, then classifies frames until EOF or SIGINT/SIGTERM:
//   raw 784-byte frames or I420 camera frames (--yuv420 WxH, e.g. from
//   rpicam-vid) on stdin (default) or a FIFO (--fifo PATH), or PGM/PNG/raw
//   files dropped into a directory (--watch DIR), or a V4L2 camera
//   (--camera DEV, when built with -Dcamera), or float32 feature records
//   (--features) for a model trained on CSV or NumPy data.
// One line per frame (or per change of digit), "digit probability
// latency_us" (or --json), and a final statistics line. As a systemd
// service: sd_notify, the watchdog, SIGHUP reloads the model, journald
// priorities (service.h). No heap allocation after start-up but in a reload.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"
#include "camera_formats.h"
#include "firmware.h"
#include "version.h"  // EDGEMLP_VERSION, EDGEMLP_GIT_REVISION (meson.build)
#include "gpio.h"
#include "service.h"
#if EDGEMLP_HAVE_CAMERA
#include "camera_v4l2.h"
#endif

#ifdef EDGEMLP_FIRMWARE_MODEL_HEADER
#include EDGEMLP_FIRMWARE_MODEL_HEADER  // edgemlp export --format c-header
#endif

namespace {

using namespace edgemlp::firmware;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;
void OnSignal(int) { g_stop = 1; }
void OnHangup(int) { g_reload = 1; }
sigset_t g_wait_mask;  // the mask inside ppoll: SIGINT/SIGTERM/SIGHUP open

// Handlers for SIGINT/SIGTERM (stop) and SIGHUP (reload the model), then
// those signals blocked: they are only delivered inside the loops' ppoll
// (LoopOptions::wait_mask), so none is lost between a check and a wait.
void SetUpSignals() {
  struct sigaction action {};
  action.sa_handler = OnSignal;  // no SA_RESTART: ppoll returns EINTR
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  action.sa_handler = OnHangup;
  sigaction(SIGHUP, &action, nullptr);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGHUP);
  sigprocmask(SIG_BLOCK, &blocked, &g_wait_mask);
  sigdelset(&g_wait_mask, SIGINT);
  sigdelset(&g_wait_mask, SIGTERM);
  sigdelset(&g_wait_mask, SIGHUP);
}

// "640x480" -> width, height in 1..kMaxCameraSide. strtol, not sscanf:
// scanf would add ~40 KB to the static Pi binaries.
bool ParseSize(const char* text, int* width, int* height) {
  char* x = nullptr;
  char* end = nullptr;
  const long w = std::strtol(text, &x, 10);
  const long h = *x == 'x' ? std::strtol(x + 1, &end, 10) : 0;
  *width = static_cast<int>(w), *height = static_cast<int>(h);
  return end != nullptr && end != x + 1 && *end == '\0' && w >= 1 && h >= 1 &&
         w <= kMaxCameraSide && h <= kMaxCameraSide;
}

#if EDGEMLP_HAVE_CAMERA
constexpr char kCameraNote[] = "";
#else
constexpr char kCameraNote[] = " (not in this build: -Dcamera=enabled)";
#endif

constexpr char kUsage[] =
    "usage: edgemlp-firmware [--model BLOB] [--fifo PATH | --watch DIR | --camera DEV]\n"
    "                        [--yuv420 WxH | --features] [--camera-size WxH] [--json] [--hz N]\n"
    "                        [--print change|all] [--labels IDX] [--stats-every N]\n"
    "                        [--gpio-chip DEV --gpio-lines N,N,...] [--bench]\n"
    "                        [--version]\n"
    "  --model BLOB     int8 blob (edgemlp export), read into memory and verified;\n"
    "                   SIGHUP reloads it (a bad file is refused, the old model\n"
    "                   kept); optional if one is compiled in\n"
    "  (no source)      raw 784-byte frames (MNIST layout) on stdin\n"
    "  --yuv420 WxH     I420 frames of W x H on stdin or --fifo instead, as\n"
    "                   rpicam-vid --codec yuv420 --width W --height H -o - writes\n"
    "                   them; the luma is preprocessed like MNIST\n"
    "  --features       records of the model's input_size little-endian float32\n"
    "                   features on stdin or --fifo (a model trained on CSV or\n"
    "                   NumPy data: its input transform quantizes them); a record\n"
    "                   with NaN or infinity is counted malformed and skipped\n"
    "  --fifo PATH      frames from a FIFO, reopened when its writer leaves\n"
    "  --watch DIR      classify .pgm/.png/.raw files written into DIR\n"
    "  --camera DEV     V4L2 camera, e.g. /dev/video0: the newest frame's luma\n"
    "                   (GREY, YUYV, UYVY, NV12, YU12... no MJPEG), preprocessed\n"
    "                   like MNIST%s\n"
    "  --camera-size WxH  frame size to ask the camera for (default 640x480)\n"
    "  --json           one JSON object per line\n"
    "  --hz N           fixed rate: one frame per 1/N s, count missed deadlines;\n"
    "                   from a pipe or camera the newest frame, older ones dropped\n"
    "  --print MODE     change: a line only when the digit changes, and the\n"
    "                   statistics on stderr every 60 s (default with --camera\n"
    "                   and --yuv420); all: a line per frame (default otherwise)\n"
    "  --gpio-chip DEV  set GPIO lines of DEV (e.g. /dev/gpiochip0) to the digit\n"
    "  --gpio-lines L   ...these lines, e.g. 17,27,22,23: first line = bit 0\n"
    "  --labels IDX     IDX label file for the frames (reports accuracy)\n"
    "  --stats-every N  a statistics line on stderr every N frames\n"
    "  --bench          time the model's layers on this board (MAC/cycle at the\n"
    "                   measured clock, weight read rate) and exit; with --json\n"
    "                   one JSON object on stdout\n"
    "  --version        the version and the git revision it was built from\n"
    "systemd: sd_notify (READY, WATCHDOG at half $WATCHDOG_USEC, RELOADING,\n"
    "  STOPPING) when $NOTIFY_SOCKET is set; journald priorities on stderr\n"
    "exit codes: 0 end of input or stopped by a signal, 1 system error (FIFO,\n"
    "  watch, camera, GPIO), 2 usage error, 3 bad model or labels file\n";

int Fail(const std::string& message, int code) {
  Log(kLogError, "%s", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const char* model = nullptr;
  const char* fifo = nullptr;
  const char* watch = nullptr;
  const char* labels_path = nullptr;
  const char* camera = nullptr;
  [[maybe_unused]] int camera_width = 640, camera_height = 480;  // unused without -Dcamera
  int yuv_width = 0, yuv_height = 0;  // --yuv420
  const char* print = nullptr;
  const char* gpio_chip = nullptr;
  GpioOutput gpio;
  bool gpio_lines = false;
  LoopOptions options;
  bool bench = false;
  bool features = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--version") {
      std::printf("edgemlp-firmware %s (git %s)\n", EDGEMLP_VERSION, EDGEMLP_GIT_REVISION);
      return 0;
    }
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--bench") {
      bench = true;
    } else if (arg == "--features") {
      features = true;
    } else if (arg == "--help" || arg == "-h") {
      std::printf(kUsage, kCameraNote);
      return 0;
    } else if (has_value && arg == "--model") {
      model = argv[++i];
    } else if (has_value && arg == "--fifo") {
      fifo = argv[++i];
    } else if (has_value && arg == "--watch") {
      watch = argv[++i];
    } else if (has_value && arg == "--camera") {
      camera = argv[++i];
    } else if (has_value && (arg == "--camera-size" || arg == "--yuv420")) {
      const bool ok = arg == "--yuv420" ? ParseSize(argv[++i], &yuv_width, &yuv_height)
                                        : ParseSize(argv[++i], &camera_width, &camera_height);
      if (!ok) {
        return Fail(arg + " " + argv[i] + ": expected WIDTHxHEIGHT, e.g. 640x480, up to 4096", 2);
      }
    } else if (has_value && arg == "--print") {
      print = argv[++i];
      if (std::strcmp(print, "change") != 0 && std::strcmp(print, "all") != 0) {
        return Fail(arg + " " + print + ": expected change or all", 2);
      }
    } else if (has_value && arg == "--gpio-chip") {
      gpio_chip = argv[++i];
    } else if (has_value && arg == "--gpio-lines") {
      if (!gpio.ParseLines(argv[++i])) return Fail(gpio.error(), 2);
      gpio_lines = true;
    } else if (has_value && arg == "--labels") {
      labels_path = argv[++i];
    } else if (has_value && (arg == "--hz" || arg == "--stats-every")) {
      char* end = nullptr;
      const double v = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(v > 0) || v > 1e6) {
        return Fail(arg + " " + argv[i] + ": expected a positive number up to 1e6", 2);
      }
      if (arg == "--hz") {
        options.hz = v;
      } else {
        options.stats_every = static_cast<uint64_t>(v);
      }
    } else {
      std::fprintf(stderr, kUsage, kCameraNote);
      return Fail("unknown or incomplete argument: " + arg, 2);
    }
  }
  if ((fifo != nullptr) + (watch != nullptr) + (camera != nullptr) > 1) {
    return Fail("--fifo, --watch and --camera exclude each other", 2);
  }
  if (yuv_width > 0 && (watch != nullptr || camera != nullptr)) {
    return Fail("--yuv420 reads stdin or --fifo; it excludes --watch and --camera", 2);
  }
  if (features && (yuv_width > 0 || watch != nullptr || camera != nullptr)) {
    return Fail("--features reads stdin or --fifo; it excludes --yuv420, --watch and --camera", 2);
  }
  if ((gpio_chip != nullptr) != gpio_lines) {
    return Fail("--gpio-chip DEV and --gpio-lines N,N,... go together", 2);
  }
  // Print on change by default for cameras: at 30 Hz every line would be
  // ~2.6 M journal lines a day on an SD card.
  options.print_changes = print != nullptr ? std::strcmp(print, "change") == 0
                                           : camera != nullptr || yuv_width > 0;
  if (options.print_changes) options.stats_period_s = 60;
  SetUpSignals();
#if !EDGEMLP_HAVE_CAMERA
  if (camera != nullptr) {
    return Fail(std::string("--camera ") + camera +
                    ": this edgemlp-firmware was built without camera support "
                    "(meson -Dcamera=enabled needs <linux/videodev2.h>)",
                2);
  }
#endif

  edgemlp::Network net;
  std::string model_name;
  if (model != nullptr) {
    // Read into memory, not mapped: replacing the file cannot touch the
    // running model; SIGHUP reloads it.
    std::string error;
    if (!LoadModelFile(model, &net, &error)) return Fail(error, 3);  // CRC, reference, known answer
    model_name = model;
  } else {
#ifdef EDGEMLP_FIRMWARE_MODEL_HEADER
    const edgemlp::LoadResult loaded =
        edgemlp::Network::Load(edgemlp_model, sizeof(edgemlp_model), &net);
    model_name = "compiled-in model";
    if (!loaded.ok()) return Fail(loaded.message, 3);  // includes the CRC check
    if (const char* error = VerifyPredictMatchesReference(&net)) {
      return Fail(model_name + ": " + error, 3);
    }
    if (const char* error = VerifyBlobKnownAnswer(&net)) return Fail(model_name + ": " + error, 3);
#else
    std::fprintf(stderr, kUsage, kCameraNote);
    return Fail("--model BLOB is required (no model is compiled in)", 2);
#endif
  }

  const bool takes_features = net.input_transform().kind == edgemlp::InputTransformKind::kAffine;
  if (features && !takes_features) {
    return Fail(model_name + ": --features needs a model with an affine input transform (one "
                "trained on CSV or NumPy features); this one takes " +
                    std::to_string(net.input_size()) + "-byte frames",
                3);
  }
  if (!features && takes_features && !bench) {
    return Fail(model_name + ": the model takes " + std::to_string(net.input_size()) +
                    " float features per record: run with --features",
                2);
  }
  if (bench) {
    std::fprintf(stderr, "edgemlp-firmware: %s: benchmark, kernel %s\n", model_name.c_str(),
                 edgemlp::KernelName(edgemlp::ChosenTarget()).c_str());
    return RunBench(&net, model_name.c_str(), options.json);
  }
  FrameClassifier classifier(&net);
  if (labels_path != nullptr) {
    std::vector<uint8_t> labels;
    std::string error;
    if (!ReadLabelFile(labels_path, &labels, &error)) return Fail(error, 3);
    classifier.SetLabels(std::move(labels));
  }
  if (gpio_chip != nullptr && !gpio.Open(gpio_chip)) return Fail(gpio.error(), 1);
  static char stdout_buffer[1 << 16];  // line-buffered, allocated up front
  std::setvbuf(stdout, stdout_buffer, _IOLBF, sizeof(stdout_buffer));
  options.stop = &g_stop;
  options.reload = &g_reload;
  options.wait_mask = &g_wait_mask;
  Notifier notifier;
  notifier.Open();
  FirmwareService service(&notifier, model, &net, &gpio);
  options.hooks = &service;

  // The kernel that runs: the target, "+sdot" where NEON uses the Arm dot
  // product (chosen at run time: the runtime's kernels_sdot-inl.h).
  const std::string kernel = edgemlp::KernelName(edgemlp::ChosenTarget());
  const bool has_known_answer = net.SelfTest().status != edgemlp::Status::kNoTestVector;
  Log(kLogInfo,
      "%s: %zu layers, %zu -> %zu, verified (CRC, %sSIMD == reference); "
      "target %s; memory: model %zu bytes, arena %zu bytes",
      model_name.c_str(), net.layer_count(), net.input_size(), net.output_size(),
      has_known_answer ? "known answer, " : "", kernel.c_str(), net.blob().size,
      net.arena_bytes());
  if (gpio.open()) Log(kLogInfo, "GPIO %s: the digit on %d lines, bit 0 first", gpio_chip, gpio.line_count());
  if (notifier.watchdog_period_ns() > 0) {
    Log(kLogInfo, "watchdog: a ping every %lld ms",
        static_cast<long long>(notifier.watchdog_period_ns() / 1000000));
  }

  bool stream_failed = false;
  if (camera != nullptr) {
#if EDGEMLP_HAVE_CAMERA
    V4l2Camera source;
    if (!source.Open(camera, camera_width, camera_height)) return Fail(source.error(), 1);
    Log(kLogInfo, "camera %s", source.description());
    notifier.Send("READY=1");
    stream_failed = !RunCameraLoop(&source, options, &classifier, stdout);
    source.Close();  // STREAMOFF, unmap, close
#endif
  } else if (watch != nullptr) {
    const int watch_fd = WatchDirectory(watch);
    if (watch_fd < 0) return 1;
    notifier.Send("READY=1");
    RunWatchLoop(watch_fd, watch, options, &classifier, stdout);
  } else if (fifo != nullptr) {
    // Non-blocking: waiting for a writer happens in ppoll, where signals land.
    const int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return Fail(std::string(fifo) + ": cannot open: " + std::strerror(errno), 1);
    notifier.Send("READY=1");
    if (features) {
      RunFeatureLoop(fd, fifo, options, &classifier, stdout);
    } else {
      RunStreamLoop(fd, fifo, yuv_width, yuv_height, options, &classifier, stdout);
    }
  } else {
    notifier.Send("READY=1");
    if (features) {
      RunFeatureLoop(STDIN_FILENO, nullptr, options, &classifier, stdout);
    } else {
      RunStreamLoop(STDIN_FILENO, nullptr, yuv_width, yuv_height, options, &classifier, stdout);
    }
  }
  notifier.Send("STOPPING=1");
  char line[1024];
  classifier.FormatStats(options.json, line, sizeof(line));
  std::fputs(line, stdout);
  std::fflush(stdout);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  Log(stream_failed ? kLogError : kLogInfo, "%s, peak resident memory %ld KiB",
      g_stop          ? "stopped by signal"
      : stream_failed ? "camera stream failed"
                      : "end of input",
      usage.ru_maxrss);
  return stream_failed ? 1 : 0;
}
