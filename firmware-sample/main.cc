// edgemlp-firmware: the inference loop a board runs. Loads and verifies an
// int8 model once, then classifies frames until EOF or SIGINT/SIGTERM:
//   raw 784-byte frames on stdin (default) or a FIFO (--fifo PATH), or
//   PGM/PNG/raw files dropped into a directory (--watch DIR), or a V4L2
//   camera (--camera DEV, when built with -Dcamera).
// One line per frame, "digit probability latency_us" (or --json), and a
// final statistics line. No heap allocation after start-up (firmware.h).
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
#if EDGEMLP_HAVE_CAMERA
#include "camera_v4l2.h"
#endif

#ifdef EDGEMLP_FIRMWARE_MODEL_HEADER
#include EDGEMLP_FIRMWARE_MODEL_HEADER  // edgemlp export --format c-header
#endif

namespace {

using namespace edgemlp::firmware;

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

#if EDGEMLP_HAVE_CAMERA
constexpr char kCameraNote[] = "";
#else
constexpr char kCameraNote[] = " (not in this build: -Dcamera=enabled)";
#endif

constexpr char kUsage[] =
    "usage: edgemlp-firmware [--model BLOB] [--fifo PATH | --watch DIR | --camera DEV]\n"
    "                        [--camera-size WxH] [--json] [--hz N] [--labels IDX]\n"
    "                        [--stats-every N] [--bench]\n"
    "  --model BLOB     int8 blob (edgemlp export); optional if one is compiled in\n"
    "  (no source)      raw 784-byte frames (MNIST layout) on stdin\n"
    "  --fifo PATH      raw frames from a FIFO, reopened when its writer leaves\n"
    "  --watch DIR      classify .pgm/.png/.raw files written into DIR\n"
    "  --camera DEV     V4L2 camera, e.g. /dev/video0: the newest frame's luma\n"
    "                   (GREY, YUYV, UYVY, NV12, YU12... no MJPEG), preprocessed\n"
    "                   like MNIST%s\n"
    "  --camera-size WxH  frame size to ask the camera for (default 640x480)\n"
    "  --json           one JSON object per line\n"
    "  --hz N           fixed rate: one frame per 1/N s, count missed deadlines\n"
    "  --labels IDX     IDX label file for the frames (reports accuracy)\n"
    "  --stats-every N  a statistics line on stderr every N frames\n"
    "  --bench          time the model's layers on this board (MAC/cycle at the\n"
    "                   measured clock, weight read rate) and exit; with --json\n"
    "                   one JSON object on stdout\n"
    "exit codes: 0 end of input or stopped by a signal, 1 system error (FIFO,\n"
    "  watch), 2 usage error, 3 bad model or labels file\n";

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "edgemlp-firmware: %s\n", message.c_str());
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
  LoopOptions options;
  bool bench = false;
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
    } else if (has_value && arg == "--camera-size") {
      // strtol, not sscanf: scanf would add ~40 KB to the static Pi binaries.
      char* x = nullptr;
      char* end = nullptr;
      const long w = std::strtol(argv[++i], &x, 10);
      const long h = *x == 'x' ? std::strtol(x + 1, &end, 10) : 0;
      camera_width = static_cast<int>(w), camera_height = static_cast<int>(h);
      if (end == nullptr || end == x + 1 || *end != '\0' || w < 1 || h < 1 ||
          w > kMaxCameraSide || h > kMaxCameraSide) {
        return Fail(arg + " " + argv[i] + ": expected WIDTHxHEIGHT, e.g. 640x480, up to 4096", 2);
      }
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
#if !EDGEMLP_HAVE_CAMERA
  if (camera != nullptr) {
    return Fail(std::string("--camera ") + camera +
                    ": this edgemlp-firmware was built without camera support "
                    "(meson -Dcamera=enabled needs <linux/videodev2.h>)",
                2);
  }
#endif

  edgemlp::Network net;
  edgemlp::LoadResult loaded;
  std::string model_name;
  if (model != nullptr) {
    loaded = edgemlp::Network::LoadFile(model, &net);
    model_name = model;
  } else {
#ifdef EDGEMLP_FIRMWARE_MODEL_HEADER
    loaded = edgemlp::Network::Load(edgemlp_model, sizeof(edgemlp_model), &net);
    model_name = "compiled-in model";
#else
    std::fprintf(stderr, kUsage, kCameraNote);
    return Fail("--model BLOB is required (no model is compiled in)", 2);
#endif
  }
  if (!loaded.ok()) return Fail(loaded.message, 3);  // includes the CRC check
  if (const char* error = VerifyPredictMatchesReference(&net)) {
    return Fail(model_name + ": " + error, 3);
  }
  if (const char* error = VerifyBlobKnownAnswer(&net)) return Fail(model_name + ": " + error, 3);

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
  static char stdout_buffer[1 << 16];  // line-buffered, allocated up front
  std::setvbuf(stdout, stdout_buffer, _IOLBF, sizeof(stdout_buffer));
  struct sigaction action {};
  action.sa_handler = OnSignal;  // no SA_RESTART: a blocked read returns
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  options.stop = &g_stop;

  // The kernel that runs: the target, "+sdot" where NEON uses the Arm dot
  // product (chosen at run time: the runtime's kernels_sdot-inl.h).
  const std::string kernel = edgemlp::KernelName(edgemlp::ChosenTarget());
  const bool has_known_answer = net.SelfTest().status != edgemlp::Status::kNoTestVector;
  std::fprintf(stderr,
               "edgemlp-firmware: %s: %zu layers, %zu -> %zu, verified (CRC, %sSIMD == reference); "
               "target %s; memory: model %zu bytes, arena %zu bytes\n",
               model_name.c_str(), net.layer_count(), net.input_size(), net.output_size(),
               has_known_answer ? "known answer, " : "",
               kernel.c_str(), net.blob().size,
               net.arena_bytes());

  bool stream_failed = false;
  if (camera != nullptr) {
#if EDGEMLP_HAVE_CAMERA
    V4l2Camera source;
    if (!source.Open(camera, camera_width, camera_height)) return Fail(source.error(), 1);
    std::fprintf(stderr, "edgemlp-firmware: camera %s\n", source.description());
    stream_failed = !RunCameraLoop(&source, options, &classifier, stdout);
    source.Close();  // STREAMOFF, unmap, close
#endif
  } else if (watch != nullptr) {
    const int watch_fd = WatchDirectory(watch);
    if (watch_fd < 0) return 1;
    RunWatchLoop(watch_fd, watch, options, &classifier, stdout);
  } else if (fifo != nullptr) {
    const int fd = open(fifo, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail(std::string(fifo) + ": cannot open: " + std::strerror(errno), 1);
    RunRawLoop(fd, fifo, options, &classifier, stdout);
  } else {
    RunRawLoop(STDIN_FILENO, nullptr, options, &classifier, stdout);
  }
  char line[1024];
  classifier.FormatStats(options.json, line, sizeof(line));
  std::fputs(line, stdout);
  std::fflush(stdout);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::fprintf(stderr, "edgemlp-firmware: %s, peak resident memory %ld KiB\n",
               g_stop          ? "stopped by signal"
               : stream_failed ? "camera stream failed"
                               : "end of input",
               usage.ru_maxrss);
  return stream_failed ? 1 : 0;
}
