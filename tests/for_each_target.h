// The per-target loop of the kernel tests: runs a body once with each SIMD
// target this binary has and this CPU supports, forced in turn. Callers
// CHECK the returned count: a loop that ran zero targets must fail.
#ifndef EDGEMLP_TESTS_FOR_EACH_TARGET_H_
#define EDGEMLP_TESTS_FOR_EACH_TARGET_H_

#include <cstdint>
#include <string>

#include "edgemlp/runtime.h"

namespace edgemlp::test {

// Calls body(target_name) per target; returns how many ran.
template <class Body>
int ForEachTarget(Body body) {
  int ran = 0;
  for (int64_t target : AvailableTargets()) {
    ForceTarget(target);
    body(std::string(TargetName(target)));
    ++ran;
  }
  ForceTarget(0);
  return ran;
}

}  // namespace edgemlp::test

#endif  // EDGEMLP_TESTS_FOR_EACH_TARGET_H_
