// Measured hardware limits for `edgemlp bench`: the core clock and the
// throughput of each x86 target's widest int8 multiply-accumulate
// instruction, registers only, 16 independent chains. Measured, not taken
// from a data sheet, because a VM's vCPU may share a core with others.
#ifndef EDGEMLP_TOOLS_BENCH_PEAK_H_
#define EDGEMLP_TOOLS_BENCH_PEAK_H_

#include <cstdint>

namespace edgemlp::cli {

// Cycles per ns from a chain of dependent integer adds (1 cycle each).
double MeasuredGhz();
// int8 MACs per ns of the target's multiply-accumulate (vpdpbusd zmm for
// AVX3_DL, vpmaddwd zmm/ymm for AVX3/AVX2, SSE2 pmaddwd for SSE4, SSSE3 and
// the scalar fallback, which GCC vectorizes); 0 off x86.
double MeasuredPeakMacsPerNs(int64_t target);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_BENCH_PEAK_H_
