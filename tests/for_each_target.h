// The per-target loop of the kernel tests: runs a body once with each SIMD
// target this binary has and this CPU supports, forced in turn, and twice
// for NEON on a CPU with the Arm dot product (the sdot kernel and the one
// without). Callers CHECK the returned count: a loop that ran zero targets
// must fail.
#ifndef EDGEMLP_TESTS_FOR_EACH_TARGET_H_
#define EDGEMLP_TESTS_FOR_EACH_TARGET_H_

#include <cstdint>
#include <string>

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
    const bool two = target == HWY_NEON && internal::ArmDotProdSupported();
    for (const bool sdot : {true, false}) {
      if (!sdot && !two) break;
      internal::SetArmDotProd(sdot);
      body(KernelName(target));
      ++ran;
    }
  }
  internal::SetArmDotProd(true);
  ForceTarget(0);
  return ran;
}

}  // namespace edgemlp::test

#endif  // EDGEMLP_TESTS_FOR_EACH_TARGET_H_
