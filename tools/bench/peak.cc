#include "bench/peak.h"

#include <hwy/targets.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

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
    best = std::min(
        best,
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

constexpr int kIterations = 500;  // x 12 instructions per run
constexpr int kChains = 12;
volatile int g_sink;

#if defined(__x86_64__)
// All 12 chains are operands of ONE asm statement per iteration, so the
// compiler keeps them in registers (an array of accumulators with one asm
// each is kept in memory: a store and a load per instruction, which then
// measures store throughput, half the real rate). `V` is the register type,
// REG its constraint, CHAIN(n) the instruction on accumulator %n with the
// operands %[a] and %[w], and xmm14/xmm15 (ymm, zmm) as scratch. Check:
// objdump -d shows no memory operand in the loop.
#define EDGEMLP_LATER_CHAINS(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define EDGEMLP_EACH_CHAIN(X) X(0) EDGEMLP_LATER_CHAINS(X)
#define EDGEMLP_DECLARE(n) V c##n = a;
#define EDGEMLP_OPERAND(n) , "+" REG(c##n)
#define EDGEMLP_FOLD(n)                    \
  std::memcpy(&lane, &c##n, sizeof(lane)); \
  s += lane;
#define EDGEMLP_PEAK_LOOP(NAME, TARGET, VT, INIT_A, INIT_W, CHAIN)            \
  __attribute__((target(TARGET))) double NAME() {                             \
    using V = VT;                                                             \
    const V a = INIT_A, w = INIT_W;                                           \
    EDGEMLP_EACH_CHAIN(EDGEMLP_DECLARE)                                       \
    for (int i = 0; i < kIterations; ++i) {                                   \
      asm(EDGEMLP_EACH_CHAIN(CHAIN)                                           \
          : "+" REG(c0) EDGEMLP_LATER_CHAINS(EDGEMLP_OPERAND)                 \
          : [a] REG(a), [w] REG(w)                                            \
          : "xmm14", "xmm15");                                                \
    }                                                                         \
    unsigned s = 0, lane; /* wraps by design: only keeps the results alive */ \
    EDGEMLP_EACH_CHAIN(EDGEMLP_FOLD)                                          \
    g_sink = static_cast<int>(s);                                             \
    return double{kChains} * kIterations;                                     \
  }
#define REG(x) "v"(x)
#define VPDPBUSD(n) "vpdpbusd %[w], %[a], %" #n "\n\t"
#define VPMADDWD(n) "vpmaddwd %[w], %[a], %" #n "\n\t"
#define VFMADD(n) "vfmadd231ps %[w], %[a], %" #n "\n\t"
#define SSE2_PMADDWD(n) "pmaddwd %[w], %" #n "\n\t"  // no VEX: any x86-64
// The exact u8 x s8 steps of the non-VNNI x86 kernels (kernels_x86-inl.h),
// their accumulate included (the kernels run that add on the same vector
// ports): pmaddubsw into int16 pairs, pmaddwd to int32 (a as the
// 16-bit ones), add into the chain, 4 MACs per 32-bit lane; the paired
// step (layers with |w| <= 32) adds two pmaddubsw results in int16 first,
// 8 MACs per 32-bit lane. Registers 14 and 15 are scratch (renamed: no
// chain waits on another).
#define STEP(R, n)                                                                    \
  "vpmaddubsw %[w], %[a], %%" R "15\n\tvpmaddwd %[a], %%" R "15, %%" R "15\n\t"        \
  "vpaddd %%" R "15, %" #n ", %" #n "\n\t"
#define PAIRED(R, n)                                                                  \
  "vpmaddubsw %[w], %[a], %%" R "15\n\tvpmaddubsw %[w], %[a], %%" R "14\n\t"           \
  "vpaddw %%" R "14, %%" R "15, %%" R "15\n\tvpmaddwd %[a], %%" R "15, %%" R "15\n\t"  \
  "vpaddd %%" R "15, %" #n ", %" #n "\n\t"
#define VPMADDUBSW512(n) STEP("zmm", n)
#define VPMADDUBSW256(n) STEP("ymm", n)
#define VPAIRED512(n) PAIRED("zmm", n)
#define VPAIRED256(n) PAIRED("ymm", n)
#define SSSE3_PMADDUBSW(n)                                                               \
  "movdqa %[a], %%xmm15\n\tpmaddubsw %[w], %%xmm15\n\tpmaddwd %[a], %%xmm15\n\t"       \
  "paddd %%xmm15, %" #n "\n\t"
#define SSSE3_PAIRED(n)                                                                  \
  "movdqa %[a], %%xmm15\n\tpmaddubsw %[w], %%xmm15\n\tmovdqa %[a], %%xmm14\n\t"         \
  "pmaddubsw %[w], %%xmm14\n\tpaddw %%xmm14, %%xmm15\n\tpmaddwd %[a], %%xmm15\n\t"     \
  "paddd %%xmm15, %" #n "\n\t"
// vpmaddwd overwrites instead of accumulating; its throughput is what counts.
EDGEMLP_PEAK_LOOP(Vnni512, "avx512f,avx512vnni", __m512i, _mm512_set1_epi32(g_sink | 0x01010101),
                  _mm512_set1_epi32(0x02020202), VPDPBUSD)
EDGEMLP_PEAK_LOOP(Vnni256, "avx512f,avx512vl,avx512vnni", __m256i,
                  _mm256_set1_epi32(g_sink | 0x01010101), _mm256_set1_epi32(0x02020202), VPDPBUSD)
EDGEMLP_PEAK_LOOP(Madd512, "avx512f,avx512bw", __m512i, _mm512_set1_epi32(g_sink | 0x01010101),
                  _mm512_set1_epi32(0x02020202), VPMADDWD)
EDGEMLP_PEAK_LOOP(Madd256, "avx2", __m256i, _mm256_set1_epi32(g_sink | 0x01010101),
                  _mm256_set1_epi32(0x02020202), VPMADDWD)
EDGEMLP_PEAK_LOOP(Maddubs512, "avx512f,avx512bw", __m512i, _mm512_set1_epi32(g_sink | 0x01010101),
                  _mm512_set1_epi32(0x02020202), VPMADDUBSW512)
EDGEMLP_PEAK_LOOP(Maddubs256, "avx2", __m256i, _mm256_set1_epi32(g_sink | 0x01010101),
                  _mm256_set1_epi32(0x02020202), VPMADDUBSW256)
EDGEMLP_PEAK_LOOP(Paired512, "avx512f,avx512bw", __m512i, _mm512_set1_epi32(g_sink | 0x01010101),
                  _mm512_set1_epi32(0x02020202), VPAIRED512)
EDGEMLP_PEAK_LOOP(Paired256, "avx2", __m256i, _mm256_set1_epi32(g_sink | 0x01010101),
                  _mm256_set1_epi32(0x02020202), VPAIRED256)
// Normal floats (acc grows by 0.5 per step): no denormal assists.
EDGEMLP_PEAK_LOOP(Fma512, "avx512f", __m512, _mm512_set1_ps(1.0f + static_cast<float>(g_sink)),
                  _mm512_set1_ps(0.5f), VFMADD)
EDGEMLP_PEAK_LOOP(Fma256, "avx2,fma", __m256, _mm256_set1_ps(1.0f + static_cast<float>(g_sink)),
                  _mm256_set1_ps(0.5f), VFMADD)
#undef REG
#define REG(x) "x"(x)  // xmm0-15: 12 chains + 2 operands fit
EDGEMLP_PEAK_LOOP(Madd128, "sse2", __m128i, _mm_set1_epi32(g_sink | 0x01010101),
                  _mm_set1_epi32(0x02020202), SSE2_PMADDWD)
EDGEMLP_PEAK_LOOP(Maddubs128, "ssse3", __m128i, _mm_set1_epi32(g_sink | 0x01010101),
                  _mm_set1_epi32(0x02020202), SSSE3_PMADDUBSW)
EDGEMLP_PEAK_LOOP(Paired128, "ssse3", __m128i, _mm_set1_epi32(g_sink | 0x01010101),
                  _mm_set1_epi32(0x02020202), SSSE3_PAIRED)
// AVX-VNNI: the VEX encoding, ymm0-15 only (the AVX2 target's +vnni kernels).
#define VEX_VPDPBUSD(n) "%{vex%} vpdpbusd %[w], %[a], %" #n "\n\t"
EDGEMLP_PEAK_LOOP(AvxVnni256, "avx2,avxvnni", __m256i, _mm256_set1_epi32(g_sink | 0x01010101),
                  _mm256_set1_epi32(0x02020202), VEX_VPDPBUSD)
#undef VEX_VPDPBUSD
#undef REG
#undef VPDPBUSD
#undef VPMADDWD
#undef VFMADD
#undef SSE2_PMADDWD
#undef STEP
#undef VPMADDUBSW512
#undef VPMADDUBSW256
#undef SSSE3_PMADDUBSW
#undef PAIRED
#undef VPAIRED512
#undef VPAIRED256
#undef SSSE3_PAIRED
#undef EDGEMLP_PEAK_LOOP
#undef EDGEMLP_FOLD
#undef EDGEMLP_OPERAND
#undef EDGEMLP_DECLARE
#undef EDGEMLP_EACH_CHAIN
#undef EDGEMLP_LATER_CHAINS

constexpr const char* kPairedSteps[3] = {"2 vpmaddubsw+vpaddw+vpmaddwd+vpaddd zmm",
                                          "2 vpmaddubsw+vpaddw+vpmaddwd+vpaddd ymm",
                                          "2 pmaddubsw+paddw+pmaddwd+paddd xmm"};

struct Loop {
  PeakInstruction instruction;
  double (*run)();
  bool supported;
};

// MACs per instruction: vpdpbusd 4 per 32-bit lane; vpmaddwd one i16 pair
// (2 MACs) per 32-bit lane; pmaddubsw+pmaddwd (one step) 4 per 32-bit lane,
// the paired step 8; an f32 FMA one per 32-bit lane.
std::vector<Loop> Loops() {
  __builtin_cpu_init();
  const bool vnni = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512f");
  return {
      {{"vpdpbusd zmm", "int8", 512, 64}, Vnni512, vnni},
      {{"vpdpbusd ymm", "int8", 256, 32}, Vnni256, vnni && __builtin_cpu_supports("avx512vl")},
      {{"vpdpbusd ymm (AVX-VNNI)", "int8", 256, 32}, AvxVnni256,
       __builtin_cpu_supports("avxvnni") != 0},
      {{"vpmaddwd zmm", "int16", 512, 32}, Madd512, __builtin_cpu_supports("avx512bw") != 0},
      {{"vpmaddwd ymm", "int16", 256, 16}, Madd256, __builtin_cpu_supports("avx2") != 0},
      {{"pmaddwd xmm", "int16", 128, 8}, Madd128, true},
      {{"vpmaddubsw+vpmaddwd+vpaddd zmm", "int8", 512, 64}, Maddubs512,
       __builtin_cpu_supports("avx512bw") != 0},
      {{"vpmaddubsw+vpmaddwd+vpaddd ymm", "int8", 256, 32}, Maddubs256,
       __builtin_cpu_supports("avx2") != 0},
      {{"pmaddubsw+pmaddwd+paddd xmm", "int8", 128, 16}, Maddubs128,
       __builtin_cpu_supports("ssse3") != 0},
      {{kPairedSteps[0], "int8", 512, 128}, Paired512, __builtin_cpu_supports("avx512bw") != 0},
      {{kPairedSteps[1], "int8", 256, 64}, Paired256, __builtin_cpu_supports("avx2") != 0},
      {{kPairedSteps[2], "int8", 128, 32}, Paired128, __builtin_cpu_supports("ssse3") != 0},
      {{"vfmadd231ps zmm", "f32", 512, 16}, Fma512, __builtin_cpu_supports("avx512f") != 0},
      {{"vfmadd231ps ymm", "f32", 256, 8},
       Fma256,
       __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
  };
}
#endif

}  // namespace

double MeasuredGhz() {
  const int adds = 4 * 100000;
  const double ns = BestNs([] {
    long x = g_sink, one = 1;
    // Adds of a register: Intel cores since Golden Cove execute chains of
    // adds of an immediate at rename, several per cycle (a Xeon VM with AMX
    // measured 16.8 GHz that way).
    for (int i = 0; i < 100000; ++i) {
      asm volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0" : "+r"(x) : "r"(one));
    }
    g_sink = static_cast<int>(x);
  });
  return adds / ns;
}

namespace {

#if defined(__x86_64__)
// 32-byte loads, four independent chains: the loads, not the xors, limit it.
__attribute__((target("avx2"))) uint64_t ReadAvx2(const uint8_t* p, size_t bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  return static_cast<uint64_t>(_mm256_extract_epi64(a, 0));
}
#endif

uint64_t ReadWords(const uint8_t* p, size_t bytes) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, w[4];
  for (size_t i = 0; i + 32 <= bytes; i += 32) {
    std::memcpy(w, p + i, 32);
    a0 ^= w[0];
    a1 ^= w[1];
    a2 ^= w[2];
    a3 ^= w[3];
  }
  return a0 ^ a1 ^ a2 ^ a3;
}

}  // namespace

double MeasuredReadBytesPerNs(size_t bytes) {
  bytes = std::max<size_t>(bytes / 128 * 128, 128);
  std::vector<uint8_t> storage(bytes + 64);
  uint8_t* p = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
  for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(i * 131u);
  uint64_t (*read)(const uint8_t*, size_t) = ReadWords;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) read = ReadAvx2;
#endif
  const double ns = BestNs([&] { g_sink = static_cast<int>(read(p, bytes)); });
  return static_cast<double>(bytes) / ns;
}

PeakTable::PeakTable() {
#if defined(__x86_64__)
  for (const Loop& l : Loops()) {
    if (l.supported) instructions_.push_back(l.instruction);
  }
#endif
}

void PeakTable::Measure() {
#if defined(__x86_64__)
  const std::vector<Loop> loops = Loops();
  for (PeakInstruction& p : instructions_) {
    for (const Loop& l : loops) {
      if (std::strcmp(l.instruction.name, p.name) != 0) continue;
      double count = 0;
      const double ns = BestNs([&] { count = l.run(); });
      p.instructions_per_ns = std::max(p.instructions_per_ns, count / ns);
    }
  }
#endif
}

double PeakTable::TargetMacsPerNs(int64_t target, bool dot_product, bool paired) const {
  std::vector<std::string> usable;
  if (target == HWY_AVX2 && dot_product)
    usable = {"vpdpbusd ymm (AVX-VNNI)"};
  else if (target == HWY_AVX3_DL)
    usable = {"vpdpbusd zmm", "vpdpbusd ymm"};
  else if (target == HWY_AVX3 && paired)
    usable = {kPairedSteps[0], kPairedSteps[1]};
  else if (target == HWY_AVX3)
    usable = {"vpmaddubsw+vpmaddwd+vpaddd zmm", "vpmaddubsw+vpmaddwd+vpaddd ymm"};
  else if (target == HWY_AVX2)
    usable = {paired ? kPairedSteps[1] : "vpmaddubsw+vpmaddwd+vpaddd ymm"};
  else if ((target == HWY_SSE4 || target == HWY_SSSE3) && paired)
    usable = {kPairedSteps[2]};
  else if (target == HWY_SSE4 || target == HWY_SSSE3)
    usable = {"pmaddubsw+pmaddwd+paddd xmm"};
  else
    usable = {"pmaddwd xmm"};
  double best = 0;
  for (const PeakInstruction& p : instructions_) {
    if (std::find(usable.begin(), usable.end(), p.name) != usable.end()) {
      best = std::max(best, p.macs_per_ns());
    }
  }
  return best;
}

double PeakTable::F32MacsPerNs() const {
  double best = 0;
  for (const PeakInstruction& p : instructions_) {
    if (std::strcmp(p.kind, "f32") == 0) best = std::max(best, p.macs_per_ns());
  }
  return best;
}

}  // namespace edgemlp::cli
