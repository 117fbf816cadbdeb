// Kernels for the x86 targets without VNNI: SSSE3, SSE4, AVX2 and AVX3
// (AVX-512). The scalar reference is forward_ref.cc.
// Included by forward-inl.h inside edgemlp::HWY_NAMESPACE, once per target
// (foreach_target.h), so no include guard.

// For now the widening kernels of the generic family.
#include "kernels_generic-inl.h"
