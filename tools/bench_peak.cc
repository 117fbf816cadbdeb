#include "bench_peak.h"

#include <hwy/targets.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace edgemlp::cli {

namespace {

// Best (smallest) time of many short runs: a preempted run never wins.
template <class Body>
double BestNs(Body body) {
  double best = 1e300;
  for (int run = 0; run < 2000; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::duration<double, std::nano>(
                              std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

constexpr int kIterations = 1000;  // x 16 instructions per run
volatile int g_sink;

#if defined(__x86_64__)
// Each instruction is asm so the compiler keeps the chains in registers and
// cannot fold them; `V` is the register type, INSN the asm template
// (%0 accumulator, %1 activations, %2 weights), REG its register class.
#define EDGEMLP_PEAK_LOOP(NAME, V, TARGET, CHAINS, REG, INSN)                  \
  __attribute__((target(TARGET))) double NAME() {                              \
    V acc[CHAINS], a, w;                                                       \
    std::memset(&a, g_sink | 1, sizeof(a));                                    \
    std::memset(&w, g_sink | 2, sizeof(w));                                    \
    for (V& v : acc) v = a;                                                    \
    for (int i = 0; i < kIterations; ++i) {                                    \
      for (int k = 0; k < CHAINS; ++k) {                                       \
        asm(INSN : "+" REG(acc[k]) : REG(a), REG(w));                          \
      }                                                                        \
    }                                                                          \
    unsigned s = 0; /* wraps by design: only keeps the results alive */       \
    for (V& v : acc) s += reinterpret_cast<const unsigned*>(&v)[0];            \
    g_sink = static_cast<int>(s);                                              \
    return double{CHAINS} * kIterations;                                       \
  }
EDGEMLP_PEAK_LOOP(PeakVnni512, __m512i, "avx512f,avx512vnni", 16, "v", "vpdpbusd %2, %1, %0")
EDGEMLP_PEAK_LOOP(PeakMadd512, __m512i, "avx512f,avx512bw", 16, "v", "vpmaddwd %2, %1, %0")
EDGEMLP_PEAK_LOOP(PeakMadd256, __m256i, "avx2", 16, "v", "vpmaddwd %2, %1, %0")
// SSE2 form (no VEX: runs on every x86-64, xmm0-15 only, so 12 chains); a
// pmaddwd result is not an accumulator, but its throughput is what counts.
EDGEMLP_PEAK_LOOP(PeakMadd128, __m128i, "sse2", 12, "x", "pmaddwd %2, %0")
#undef EDGEMLP_PEAK_LOOP

#endif

}  // namespace

double MeasuredGhz() {
  const int adds = 4 * 100000;
  const double ns = BestNs([] {
    long x = g_sink;
    for (int i = 0; i < 100000; ++i) {
      asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    }
    g_sink = static_cast<int>(x);
  });
  return adds / ns;
}

double MeasuredPeakMacsPerNs(int64_t target) {
#if defined(__x86_64__)
  // MACs per instruction: vpdpbusd 4 per 32-bit lane; vpmaddwd after
  // widening one i16 pair (2 MACs) per 32-bit lane.
  auto rate = [](double (*loop)(), double macs_per_instruction) {
    double instructions = 0;
    const double ns = BestNs([&] { instructions = loop(); });
    return instructions * macs_per_instruction / ns;
  };
  if (target == HWY_AVX3_DL) return rate(PeakVnni512, 64);
  if (target == HWY_AVX3) return rate(PeakMadd512, 32);
  if (target == HWY_AVX2) return rate(PeakMadd256, 16);
  // SSE4, SSSE3, and the scalar fallback, whose plain loops GCC vectorizes
  // with the SSE2 baseline.
  return rate(PeakMadd128, 8);
#else
  (void)target;
#endif
  return 0;
}

}  // namespace edgemlp::cli
