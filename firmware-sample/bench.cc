// edgemlp-firmware --bench (bench.h). The clock is measured, not read from
// a data sheet: a chain of dependent integer adds retires one per cycle on
// every core this runs on (Cortex-A53/A72/A76, x86), so adds / seconds is
// the frequency the timed code ran at, throttling and governor included.
#include "bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "edgemlp/introspect.h"

namespace edgemlp::firmware {
namespace {

using Clock = std::chrono::steady_clock;

double NsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

#define EDGEMLP_ADD8 "add %0, %0, #1\n" "add %0, %0, #1\n" "add %0, %0, #1\n" "add %0, %0, #1\n" \
                     "add %0, %0, #1\n" "add %0, %0, #1\n" "add %0, %0, #1\n" "add %0, %0, #1\n"
// Cycles per second, from 64 dependent adds per iteration.
double MeasureClockHz() {
  constexpr long kIterations = 1'000'000;
  double best_ns = 1e300;
  for (int round = 0; round < 3; ++round) {
    unsigned long x = 0;
    const Clock::time_point t0 = Clock::now();
    for (long i = 0; i < kIterations; ++i) {
#if defined(__aarch64__) || defined(__arm__)
      asm volatile(EDGEMLP_ADD8 EDGEMLP_ADD8 EDGEMLP_ADD8 EDGEMLP_ADD8
                   EDGEMLP_ADD8 EDGEMLP_ADD8 EDGEMLP_ADD8 EDGEMLP_ADD8 : "+r"(x));
#elif defined(__x86_64__) || defined(__i386__)
// A register operand: recent Intel cores run chains of adds of an
// immediate at rename, several per cycle.
#define EDGEMLP_X86_ADD8 "add %1, %0\n" "add %1, %0\n" "add %1, %0\n" "add %1, %0\n" \
                         "add %1, %0\n" "add %1, %0\n" "add %1, %0\n" "add %1, %0\n"
      const unsigned long one = 1;
      asm volatile(EDGEMLP_X86_ADD8 EDGEMLP_X86_ADD8 EDGEMLP_X86_ADD8 EDGEMLP_X86_ADD8
                   EDGEMLP_X86_ADD8 EDGEMLP_X86_ADD8 EDGEMLP_X86_ADD8 EDGEMLP_X86_ADD8 : "+r"(x) : "r"(one));
#else
      x = x * 3 + 1;  // unknown core: the number is a rough guess
#endif
    }
    best_ns = std::min(best_ns, NsSince(t0));
  }
  return 64.0 * kIterations / best_ns * 1e9;
}

std::string JsonString(const char* s) {
  std::string out = "\"";
  for (; *s != '\0'; ++s) {
    if (*s == '"' || *s == '\\') out += '\\';
    if (static_cast<unsigned char>(*s) < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\u%04x", static_cast<unsigned char>(*s));
      out += hex;
    } else {
      out += *s;
    }
  }
  return out + "\"";
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int RunBench(Network* net, const char* model_name, bool json, int rounds) {
  std::vector<LayerInfo> layers;
  for (size_t i = 0; i < net->layer_count(); ++i) layers.push_back(GetLayer(*net, i));
  // A real-looking input: mid-grey pixels; each layer sees its real input.
  std::vector<int32_t> logits(net->output_size());
  std::vector<uint8_t> pixels(net->input_size(), 128);
  const double hz = MeasureClockHz();
  struct Row {
    double ns = 0;
    double macs = 0;
    double weight_bytes = 0;
  };
  std::vector<Row> rows(layers.size());
  std::vector<std::vector<double>> samples(layers.size());
  std::vector<double> layer_ns(layers.size()), sums(layers.size());
  std::vector<double> forward;
  constexpr int kCalls = 100;
  for (int round = 0; round < rounds; ++round) {
    // Per layer: the runtime's own forward pass, timed layer by layer.
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int c = 0; c < kCalls; ++c) {
      PredictTimingLayers(*net, pixels.data(), logits.data(), layer_ns.data());
      for (size_t i = 0; i < layers.size(); ++i) sums[i] += layer_ns[i];
    }
    for (size_t i = 0; i < layers.size(); ++i) samples[i].push_back(sums[i] / kCalls);
    const Clock::time_point t0 = Clock::now();
    for (int c = 0; c < kCalls; ++c) net->Predict(pixels.data(), logits.data());
    forward.push_back(NsSince(t0) / kCalls);
  }
  double total_weight_bytes = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    rows[i].ns = Median(samples[i]);
    rows[i].macs = layers[i].macs();
    rows[i].weight_bytes = layers[i].weight_bytes();
    total_weight_bytes += rows[i].weight_bytes;
  }
  const double forward_ns = Median(forward);
  const std::string kernel = KernelName(ChosenTarget());
  if (json) {
    std::printf("{\"model\":%s,\"kernel\":\"%s\",\"clock_mhz\":%.1f,\"rounds\":%d,\"layers\":[",
                JsonString(model_name).c_str(), kernel.c_str(), hz / 1e6, rounds);
    for (size_t i = 0; i < layers.size(); ++i) {
      const Row& r = rows[i];
      std::printf("%s{\"in\":%u,\"out\":%u,\"ns\":%.1f,\"macs\":%.0f,\"mac_per_cycle\":%.2f,"
                  "\"weight_bytes\":%.0f,\"weight_gb_per_s\":%.2f}",
                  i ? "," : "", layers[i].in_size, layers[i].out_size, r.ns, r.macs,
                  r.macs / (r.ns * 1e-9 * hz), r.weight_bytes, r.weight_bytes / r.ns);
    }
    std::printf("],\"forward_ns\":%.1f,\"weight_bytes\":%.0f,\"weight_gb_per_s\":%.2f}\n",
                forward_ns, total_weight_bytes, total_weight_bytes / forward_ns);
  } else {
    std::printf("kernel %s, clock %.0f MHz (measured), median of %d rounds\n", kernel.c_str(),
                hz / 1e6, rounds);
    for (size_t i = 0; i < layers.size(); ++i) {
      const Row& r = rows[i];
      std::printf("layer %zu %u -> %u: %.2f us, %.2f MAC/cycle, weights %.0f bytes at %.2f GB/s\n",
                  i, layers[i].in_size, layers[i].out_size, r.ns / 1e3,
                  r.macs / (r.ns * 1e-9 * hz), r.weight_bytes, r.weight_bytes / r.ns);
    }
    std::printf("forward pass (batch 1): %.2f us, weights read at %.2f GB/s\n", forward_ns / 1e3,
                total_weight_bytes / forward_ns);
  }
  return 0;
}

}  // namespace edgemlp::firmware
