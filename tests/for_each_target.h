// The per-target loop of the kernel tests: runs a body once with each SIMD
// target this binary has and this CPU supports, forced in turn, and twice
// for NEON on a CPU with the Arm dot product (the sdot kernel and the one
// without) and for AVX2 on a CPU with AVX-VNNI. Callers CHECK the returned count: a loop that ran zero targets
// must fail.
#ifndef EDGEMLP_TESTS_FOR_EACH_TARGET_H_
#define EDGEMLP_TESTS_FOR_EACH_TARGET_H_

#include <cstdint>
#include <string>

#include "edgemlp/introspect.h"
#include "edgemlp/runtime.h"
#include "hwy/highway.h"
#include "kernels.h"

namespace edgemlp::test {

// Calls body(kernel_name) per target and kernel; returns how many ran.
template <class Body>
int ForEachTarget(Body body) {
  int ran = 0;
  for (int64_t target : AvailableTargets()) {
    ForceTarget(target);
    const bool two = HasDotProductKernels(target);
    for (const bool dot : {true, false}) {
      if (!dot && !two) break;
      UseDotProductKernels(dot);
      body(KernelName(target));
      ++ran;
    }
  }
  UseDotProductKernels(true);
  ForceTarget(0);
  return ran;
}

}  // namespace edgemlp::test

#endif  // EDGEMLP_TESTS_FOR_EACH_TARGET_H_
