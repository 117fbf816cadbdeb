// edgemlp-mcu: the sample firmware for Cortex-M. The model (an
// `edgemlp export --format c-header` array) and the first N MNIST test
// images are in flash; the arena is a static object sized from the model at
// compile time. It checks the blob (every field, CRC32, known-answer
// vector), classifies the images, prints `INDEX DIGIT` per image, then the
// SHA-256 of the predictions (one byte per image, the digit's value: the
// predictions_sha256 of `edgemlp eval --count N --json`), and exits through
// semihosting. Every image also runs the scalar reference: any logit that
// differs fails the run, so each core's kernels are checked bit for bit.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "mcu.h"
#include "mnist_images.h"  // edgemlp_test_images, edgemlp_test_labels (mnist_images.py)
#include "sha256.h"        // firmware-sample/, the board firmware's digest
#include "version.h"       // EDGEMLP_VERSION, EDGEMLP_GIT_REVISION

#include EDGEMLP_MCU_MODEL_HEADER  // edgemlp_model, EDGEMLP_MODEL_BYTES (mcu/meson.build)

namespace {

using edgemlp::mcu::ModelShape;

constexpr ModelShape kShape = edgemlp::mcu::ShapeOf(edgemlp_model, EDGEMLP_MODEL_BYTES);
static_assert(kShape.layers > 0, "the model header does not hold an edgemlp blob");
// The caller's input: the full image also when an area transform
// downsamples it for layer 0.
static_assert(kShape.input_size == EDGEMLP_TEST_IMAGE_SIZE,
              "the model's input size is not that of the MNIST images");
constexpr uint32_t kTransformed =
    kShape.transform_kind == static_cast<uint32_t>(edgemlp::InputTransformKind::kArea)
        ? kShape.transformed_size
        : 0;

edgemlp::mcu::StaticArena<kShape.layers, kShape.max_stride, kShape.rows, kShape.output_size,
                          kTransformed>
    g_arena;
int32_t g_logits[kShape.output_size];
int32_t g_ref_logits[kShape.output_size];
bool g_heap_sealed = false;

// picolibc.ld's stack region is [__heap_end, __stack), __stack_size bytes
// (2 KB if not defined; a --defsym comes too late for its DEFINED(), a
// symbol of an object file does not). Loading peaks at 1.9 KB (2.2 KB on
// the M0+: ParseBlob's and Load's message strings), so 4 KB. Painted at
// start and read at the end: the firmware prints its real depth.
asm(".global __stack_size\n.set __stack_size, 4096");
extern "C" uint8_t __heap_end[], __stack[];
constexpr uint8_t kPaint = 0xA5;

uint8_t* StackByte(uintptr_t address) { return reinterpret_cast<uint8_t*>(address); }

// Paints the region below this function's frame (plus a margin).
[[gnu::noinline]] void PaintStack() {
  volatile uint8_t here = 0;
  const uintptr_t top = reinterpret_cast<uintptr_t>(&here) - 64;
  for (uintptr_t p = reinterpret_cast<uintptr_t>(__heap_end); p < top; ++p) {
    *static_cast<volatile uint8_t*>(StackByte(p)) = kPaint;
  }
}

// Bytes of the stack region ever used; the whole region if its last byte
// was overwritten (the stack may have run past it).
size_t StackUsed() {
  uintptr_t p = reinterpret_cast<uintptr_t>(__heap_end);
  const uintptr_t end = reinterpret_cast<uintptr_t>(__stack);
  while (p < end && *static_cast<volatile uint8_t*>(StackByte(p)) == kPaint) ++p;
  return end - p;
}

[[noreturn]] void Fail(const char* what, const char* detail) {
  std::printf("edgemlp-mcu: %s: %s\n", what, detail);
  std::exit(1);
}

// The class from the core's kernels, whose logits must equal the
// reference's for the same input.
int Classify(edgemlp::mcu::Model& model, const uint8_t* pixels, const char* input) {
  const int digit = model.Predict(pixels, g_logits);
  model.PredictRef(pixels, g_ref_logits);
  if (std::memcmp(g_logits, g_ref_logits, sizeof(g_logits)) != 0) {
    Fail(input, "the kernels' logits differ from the scalar reference");
  }
  return digit;
}

}  // namespace

// Every allocation goes through here (-Wl,--wrap=malloc, mcu/meson.build):
// after Load, one fails the run, so "no heap after start" is tested.
extern "C" void* __real_malloc(size_t size);
extern "C" void* __wrap_malloc(size_t size) {
  if (g_heap_sealed) Fail("heap", "allocation after start");
  return __real_malloc(size);
}

int main() {
  PaintStack();
  edgemlp::mcu::Model model;
  const edgemlp::LoadResult r =
      model.Load(edgemlp_model, EDGEMLP_MODEL_BYTES, g_arena.workspace());
  if (!r.ok()) Fail(edgemlp::StatusName(r.status), r.message.c_str());
  g_heap_sealed = true;
  std::printf("edgemlp-mcu %s (git %s): %s, kernels %s; model %s, %u bytes, crc32 and "
              "known-answer test ok; arena %u bytes; %u images\n",
              EDGEMLP_VERSION, EDGEMLP_GIT_REVISION, EDGEMLP_MCU_CPU,
              edgemlp::mcu::KernelName(), EDGEMLP_MODEL_ARCH, unsigned{EDGEMLP_MODEL_BYTES},
              unsigned{sizeof(g_arena)}, unsigned{EDGEMLP_TEST_IMAGE_COUNT});

  // The worst case of the unsigned activations: every pixel 255.
  static uint8_t saturated[kShape.input_size];
  std::memset(saturated, 255, sizeof(saturated));
  Classify(model, saturated, "all-255 input");

  edgemlp::firmware::Sha256 digest;
  unsigned correct = 0;
  for (unsigned i = 0; i < EDGEMLP_TEST_IMAGE_COUNT; ++i) {
    const auto digit = static_cast<uint8_t>(Classify(model, edgemlp_test_images[i], "test image"));
    digest.Update(&digit, 1);
    correct += digit == edgemlp_test_labels[i];
    std::printf("%u %u\n", i, unsigned{digit});
  }
  char hex[65];
  digest.FinishHex(hex);
  const size_t stack_size = static_cast<size_t>(__stack - __heap_end);
  const size_t stack_used = StackUsed();
  if (stack_used == stack_size) Fail("stack", "the whole stack region was used: it may have overflowed");
  std::printf("correct %u/%u; kernels and reference bit-exact on every image; stack %u of %u "
              "bytes used\n",
              correct, unsigned{EDGEMLP_TEST_IMAGE_COUNT}, unsigned(stack_used),
              unsigned(stack_size));
  std::printf("predictions_sha256 %s\n", hex);
  std::fflush(stdout);
  std::exit(0);  // returning from main does not end qemu's semihosting session
}
