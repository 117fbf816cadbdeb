// edgemlp-firmware --bench: the kernels' speed on the board itself.
#ifndef EDGEMLP_FIRMWARE_BENCH_H_
#define EDGEMLP_FIRMWARE_BENCH_H_

#include "edgemlp/runtime.h"

namespace edgemlp::firmware {

// Times each layer of `net` (median of `rounds` rounds) and the whole
// batch-1 forward pass; prints per-layer time, MAC/cycle at the clock
// measured here and the weight read rate, as text or one JSON object on
// stdout. Returns the exit code.
int RunBench(Network* net, const char* model_name, bool json, int rounds = 21);

}  // namespace edgemlp::firmware

#endif  // EDGEMLP_FIRMWARE_BENCH_H_
