// Dynamic dispatch of the forward pass: one dispatch per image, never per
// layer or dot product. Which targets are compiled is decided in
// runtime/meson.build (HWY_WANT_AVX3_DL, static-only builds for boards).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "forward-inl.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "forward-inl.h"
#include "hwy/highway.h"

#if HWY_ARCH_X86
#include <cpuid.h>
#include <immintrin.h>
#endif
#if HWY_ARCH_ARM_A64 && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#if HWY_ONCE
namespace edgemlp {
HWY_EXPORT(DenseI8ToU8Impl);
HWY_EXPORT(DenseI8ToI32Impl);
HWY_EXPORT(ForwardI8Impl);
HWY_EXPORT(ForwardI8BatchImpl);
HWY_EXPORT(CurrentTargetImpl);
HWY_EXPORT(PackedWeightBytesImpl);
HWY_EXPORT(PackWeightsImpl);

namespace {
// Measured on Zen 4: after an AVX2/AVX-512 forward pass, legacy-SSE code
// that follows (the caller's, or an SSE4 target forced next) ran 2.8x
// slower until a vzeroupper, although the kernels return through one; a
// vzeroupper after each dispatched call costs about a cycle. Only on CPUs
// with AVX, where the instruction exists.
#if HWY_ARCH_X86 && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx"))) void ZeroUpperAvx() { _mm256_zeroupper(); }
inline void CleanUpperState() {
  static const bool has_avx = (__builtin_cpu_init(), __builtin_cpu_supports("avx"));
  if (has_avx) ZeroUpperAvx();
}
#else
inline void CleanUpperState() {}
#endif
}  // namespace

namespace internal {
namespace {
// The CPU's dot product, asked once (Linux reports it in AT_HWCAP); only
// where the NEON target, which has the sdot kernel, is compiled.
bool CpuHasArmDotProd() {
#if HWY_ARCH_ARM_A64 && defined(__linux__) && defined(HWCAP_ASIMDDP)
  return (HWY_TARGETS & HWY_NEON) != 0 && (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
  return false;
#endif
}
const bool g_cpu_has_arm_dot_prod = CpuHasArmDotProd();
bool g_arm_dot_prod_enabled = true;

// AVX-VNNI: cpuid leaf 7, subleaf 1, EAX bit 4 (clang 14 has no
// __builtin_cpu_supports name for it). The OS's AVX state is checked by
// Highway before it picks the AVX2 target, the only one that uses it.
bool CpuHasX86AvxVnni() {
#if HWY_ARCH_X86 && (defined(__GNUC__) || defined(__clang__))
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return (HWY_TARGETS & HWY_AVX2) != 0 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) &&
         (eax & (1u << 4)) != 0;
#else
  return false;
#endif
}
const bool g_cpu_has_x86_avx_vnni = CpuHasX86AvxVnni();
bool g_x86_avx_vnni_enabled = true;
}  // namespace

bool X86AvxVnniSupported() { return g_cpu_has_x86_avx_vnni; }
bool UseX86AvxVnni() { return g_cpu_has_x86_avx_vnni && g_x86_avx_vnni_enabled; }
void SetX86AvxVnni(bool enabled) { g_x86_avx_vnni_enabled = enabled; }

bool ArmDotProdSupported() { return g_cpu_has_arm_dot_prod; }
#if defined(HWY_COMPILE_ONLY_STATIC)
bool StaticDispatchBuild() { return true; }
#else
bool StaticDispatchBuild() { return false; }
#endif
bool UseArmDotProd() { return g_cpu_has_arm_dot_prod && g_arm_dot_prod_enabled; }
void SetArmDotProd(bool enabled) { g_arm_dot_prod_enabled = enabled; }

void DenseI8ToU8(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  HWY_DYNAMIC_DISPATCH(DenseI8ToU8Impl)(layer, in, out);
  CleanUpperState();
}
void DenseI8ToI32(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(DenseI8ToI32Impl)(layer, in, out);
  CleanUpperState();
}
void ForwardI8(const DenseI8* layers, size_t count, const uint8_t* pixels,
               uint8_t* act_a, uint8_t* act_b, int32_t* logits) {
  HWY_DYNAMIC_DISPATCH(ForwardI8Impl)(layers, count, pixels, act_a, act_b,
                                      logits);
  CleanUpperState();
}
void ForwardI8Batch(const DenseI8* layers, size_t count, const uint8_t* pixels,
                    size_t images, uint8_t* act_a, uint8_t* act_b, size_t pitch,
                    int32_t* logits) {
  HWY_DYNAMIC_DISPATCH(ForwardI8BatchImpl)(layers, count, pixels, images, act_a,
                                           act_b, pitch, logits);
  CleanUpperState();
}
size_t PackedWeightBytes(const DenseI8& layer) {
  return HWY_DYNAMIC_DISPATCH(PackedWeightBytesImpl)(layer);
}
void PackWeights(const DenseI8& layer, int8_t* dst) {
  HWY_DYNAMIC_DISPATCH(PackWeightsImpl)(layer, dst);
  CleanUpperState();
}
}  // namespace internal

const char* TargetName(int64_t target) { return hwy::TargetName(target); }

std::string KernelName(int64_t target) {
  std::string name = TargetName(target);
  if (target == HWY_NEON && internal::UseArmDotProd()) name += "+sdot";
  if (target == HWY_AVX2 && internal::UseX86AvxVnni()) name += "+vnni";
  return name;
}

int64_t ChosenTarget() { return HWY_DYNAMIC_DISPATCH(CurrentTargetImpl)(); }

#if defined(HWY_COMPILE_ONLY_STATIC)
// Board builds: one target, chosen by the compiler flags; no libhwy.so.
std::vector<int64_t> AvailableTargets() { return {HWY_STATIC_TARGET}; }
void ForceTarget(int64_t) {}
#else
static int64_t g_forced_target = 0;

std::vector<int64_t> AvailableTargets() {
  if (g_forced_target != 0) hwy::SetSupportedTargetsForTest(0);
  std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  if (g_forced_target != 0) hwy::SetSupportedTargetsForTest(g_forced_target);
  return targets;
}

void ForceTarget(int64_t target) {
  g_forced_target = target;
  hwy::SetSupportedTargetsForTest(target);
  internal::g_target_generation.fetch_add(1, std::memory_order_relaxed);
}
#endif

}  // namespace edgemlp
#endif  // HWY_ONCE
