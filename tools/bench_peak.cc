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
// Each instruction is asm so the compiler keeps 16 chains in registers and
// cannot fold them; `V` is the register type, `kInsn` the mnemonic.
#define EDGEMLP_PEAK_LOOP(NAME, V, TARGET, INSN)                              \
  __attribute__((target(TARGET))) void NAME() {                               \
    V acc[16], a, w;                                                           \
    std::memset(&a, g_sink | 1, sizeof(a));                                    \
    std::memset(&w, g_sink | 2, sizeof(w));                                    \
    for (V& v : acc) v = a;                                                    \
    for (int i = 0; i < kIterations; ++i) {                                    \
      for (int k = 0; k < 16; ++k) {                                           \
        asm(INSN " %2, %1, %0" : "+v"(acc[k]) : "v"(a), "v"(w));               \
      }                                                                        \
    }                                                                          \
    int s = 0;                                                                 \
    for (V& v : acc) s += reinterpret_cast<const int*>(&v)[0];                 \
    g_sink = s;                                                                \
  }
EDGEMLP_PEAK_LOOP(PeakVnni512, __m512i, "avx512f,avx512vnni", "vpdpbusd")
EDGEMLP_PEAK_LOOP(PeakMadd512, __m512i, "avx512f,avx512bw", "vpmaddwd")
EDGEMLP_PEAK_LOOP(PeakMadd256, __m256i, "avx2", "vpmaddwd")
EDGEMLP_PEAK_LOOP(PeakMadd128, __m128i, "avx", "vpmaddwd")
#undef EDGEMLP_PEAK_LOOP

// Scalar: one 32-bit multiply per MAC (the add goes to another port).
void PeakImul() {
  int32_t acc[16];
  const int32_t w = g_sink | 3;
  for (int32_t& v : acc) v = w;
  for (int i = 0; i < kIterations; ++i) {
    for (int k = 0; k < 16; ++k) asm("imull %1, %0" : "+r"(acc[k]) : "r"(w));
  }
  int s = 0;
  for (int32_t v : acc) s += v;
  g_sink = s;
}
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
  // vpmaddwd after widening: one i16 pair (2 MACs) per 32-bit lane.
  const double instructions = 16.0 * kIterations;
  if (target == HWY_AVX3_DL) return instructions * 64 / BestNs(PeakVnni512);
  if (target == HWY_AVX3) return instructions * 32 / BestNs(PeakMadd512);
  if (target == HWY_AVX2) return instructions * 16 / BestNs(PeakMadd256);
  if (target == HWY_SSE4 || target == HWY_SSSE3) {
    return instructions * 8 / BestNs(PeakMadd128);  // VEX form: same ports
  }
  return instructions / BestNs(PeakImul);
#else
  (void)target;
#endif
  return 0;
}

}  // namespace edgemlp::cli
