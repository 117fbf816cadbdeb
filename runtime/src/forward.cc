// Dynamic dispatch of the forward pass: one dispatch per image, never per
// layer or dot product. Which targets are compiled is decided in
// runtime/meson.build (HWY_WANT_AVX3_DL, static-only builds for boards).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "forward-inl.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "forward-inl.h"
#include "hwy/highway.h"

#if HWY_ONCE
namespace edgemlp {
HWY_EXPORT(DenseI8ToU8Impl);
HWY_EXPORT(DenseI8ToI32Impl);
HWY_EXPORT(ForwardI8Impl);
HWY_EXPORT(DenseI8ToU8BatchImpl);
HWY_EXPORT(DenseI8ToI32BatchImpl);
HWY_EXPORT(ForwardI8BatchImpl);
HWY_EXPORT(CurrentTargetImpl);

namespace internal {
void DenseI8ToU8(const DenseI8& layer, const uint8_t* in, uint8_t* out) {
  HWY_DYNAMIC_DISPATCH(DenseI8ToU8Impl)(layer, in, out);
}
void DenseI8ToI32(const DenseI8& layer, const uint8_t* in, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(DenseI8ToI32Impl)(layer, in, out);
}
void ForwardI8(const DenseI8* layers, size_t count, const uint8_t* pixels,
               uint8_t* act_a, uint8_t* act_b, int32_t* logits) {
  HWY_DYNAMIC_DISPATCH(ForwardI8Impl)(layers, count, pixels, act_a, act_b,
                                      logits);
}
void DenseI8ToU8Batch(const DenseI8& layer, const uint8_t* in, size_t pitch,
                      size_t images, uint8_t* out) {
  HWY_DYNAMIC_DISPATCH(DenseI8ToU8BatchImpl)(layer, in, pitch, images, out);
}
void DenseI8ToI32Batch(const DenseI8& layer, const uint8_t* in, size_t pitch,
                       size_t images, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(DenseI8ToI32BatchImpl)(layer, in, pitch, images, out);
}
void ForwardI8Batch(const DenseI8* layers, size_t count, const uint8_t* pixels,
                    size_t images, uint8_t* act_a, uint8_t* act_b, size_t pitch,
                    int32_t* logits) {
  HWY_DYNAMIC_DISPATCH(ForwardI8BatchImpl)(layers, count, pixels, images, act_a,
                                           act_b, pitch, logits);
}
}  // namespace internal

const char* TargetName(int64_t target) { return hwy::TargetName(target); }

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
}
#endif

}  // namespace edgemlp
#endif  // HWY_ONCE
