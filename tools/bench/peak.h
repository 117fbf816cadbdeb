// Measured hardware limits for `edgemlp bench`: the core clock and the
// throughput of every multiply-accumulate instruction a target uses (int8
// VNNI, int8 pmaddubsw+pmaddwd+paddd (and paired), int16 pmaddwd, f32 FMA; each width),
// registers only, 12 independent chains in one asm statement. Measured, not
// taken from a data sheet, because a VM's vCPU may share a core with others.
#ifndef EDGEMLP_TOOLS_BENCH_PEAK_H_
#define EDGEMLP_TOOLS_BENCH_PEAK_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgemlp::cli {

// Cycles per ns from a chain of dependent integer adds (1 cycle each).
double MeasuredGhz();

// Bytes per ns one core streams from a buffer of `bytes`, re-read after a
// warm-up so it sits in the cache level it fits (best of many runs): the
// batch-1 bound of a kernel that reads every weight byte once per image.
// A data sheet's figure (e.g. 64 B/cycle from L2) can be twice what a VM's
// core sustains.
double MeasuredReadBytesPerNs(size_t bytes);

// One multiply-accumulate instruction at one register width.
struct PeakInstruction {
  const char* name;  // "vpdpbusd zmm", or a two-instruction step
  const char* kind;  // "int8" (u8 x s8), "int16" (after widening), "f32"
  int width_bits;    // 128, 256, 512
  double macs_per_instruction;
  double instructions_per_ns = 0;  // best measurement so far; 0 if not run
  double macs_per_ns() const { return instructions_per_ns * macs_per_instruction; }
};

// The instructions this CPU can run (x86; empty elsewhere), in a fixed order.
class PeakTable {
 public:
  PeakTable();
  // Measures every instruction once, keeping the best rate of all calls
  // (a shared core: the fastest measurement is the closest to the limit).
  void Measure();
  const std::vector<PeakInstruction>& instructions() const { return instructions_; }
  // int8 MACs per ns of the best instruction the Highway target's kernels
  // use: vpdpbusd zmm/ymm on AVX3_DL; the pmaddubsw+pmaddwd+paddd step
  // (zmm/ymm on AVX3, ymm on AVX2, xmm on SSE4 and SSSE3), or with `paired`
  // (a layer whose weights are within +-32) the paired step of those; SSE2
  // pmaddwd for the scalar fallback (which GCC vectorizes with the SSE2
  // baseline); 0 off x86. dot_product: the target's optional dot-product
  // kernels run (AVX2 with AVX-VNNI; see edgemlp::UseDotProductKernels).
  double TargetMacsPerNs(int64_t target, bool dot_product = false, bool paired = false) const;
  // f32 MACs per ns of the best FMA (the ceiling of any f32 engine here).
  double F32MacsPerNs() const;

 private:
  std::vector<PeakInstruction> instructions_;
};

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_BENCH_PEAK_H_
