// Every compiled SIMD target against the scalar reference, bit for bit:
// lengths around the vector width and the real layer sizes, misaligned
// pointers, extreme values. Fails if it ran zero targets.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "edgemlp/runtime.h"
#include "for_each_target.h"
#include "kernels.h"

namespace edgemlp {
namespace {

// A layer with its own storage; `skew` bytes shift every buffer off its
// natural alignment.
struct TestLayer {
  std::vector<uint8_t> weight_storage;
  std::vector<int32_t> bias, requant, compensation;
  DenseI8 view{};

  TestLayer(uint32_t in, uint32_t out, bool relu, size_t skew, std::mt19937_64& rng,
            int weight_mode) {
    const uint32_t stride = (in + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
    weight_storage.assign(size_t{out} * stride + skew + kBlobAlign, 0);
    int8_t* w = reinterpret_cast<int8_t*>(weight_storage.data() + skew);
    // Modes 4 and 5 keep |w| <= 64, where x86 multiplies activations as
    // they are (kernels_x86-inl.h): random, and the extremes +-64; modes 6
    // and 7 the same within +-32, its paired mode.
    const int limit = weight_mode >= 6 ? kPairedWeightLimit : (weight_mode >= 4 ? 64 : 127);
    std::uniform_int_distribution<int> wdist(-limit, limit);
    for (uint32_t r = 0; r < out; ++r) {
      for (uint32_t c = 0; c < in; ++c) {
        int v = wdist(rng);
        if (weight_mode == 1) v = 127;                       // all max
        if (weight_mode == 2) v = (c + r) % 2 ? 127 : -127;  // alternating
        if (weight_mode == 5) v = (c / 2 + r) % 2 ? 64 : -64;
        if (weight_mode == 7) v = (c / 4 + r) % 2 ? limit : -limit;
        w[size_t{r} * stride + c] = static_cast<int8_t>(v);
      }
      // The validator does not require zero row padding: kernels must zero
      // the activations there instead.
      for (uint32_t c = in; c < stride; ++c)
        w[size_t{r} * stride + c] = static_cast<int8_t>(wdist(rng) | 1);
    }
    // Requant so outputs span the u8 range: M ~ 255 / typical |acc|.
    std::uniform_int_distribution<int32_t> mdist(kMinMultiplier, INT32_MAX);
    std::uniform_int_distribution<int> sdist(-2, 2);
    int bits = 0;
    while ((uint64_t{1} << bits) < uint64_t{in} * 255 * 127 / 8 + 1) ++bits;
    std::uniform_int_distribution<int32_t> bdist(-(1 << 20), 1 << 20);
    for (uint32_t r = 0; r < out; ++r) {
      bias.push_back(weight_mode == 3 ? (r % 2 ? kMaxAbsBiasI32 : -kMaxAbsBiasI32) : bdist(rng));
      requant.push_back(mdist(rng));
      int shift = 31 + bits - 8 + sdist(rng);
      if (weight_mode == 3) shift = r % 3 == 0 ? kMinShift : kMaxShift;
      requant.push_back(std::max(kMinShift, std::min(kMaxShift, shift)));
    }
    view = DenseI8{w, bias.data(), requant.data(), in, out, stride, relu};
    compensation.resize(out);
    internal::ComputeSignedInputCompensation(view, compensation.data());
    view.signed_input_compensation = compensation.data();
    view.max_abs_weight = internal::MaxAbsWeight(view);
  }
};

// `layer` with its weights packed for the current target the way
// Network::Load packs them (packed_weights stays null if the target reads
// the blob's rows), so the kernel tests cover both layouts.
struct PackedLayer {
  std::vector<uint8_t> storage;
  DenseI8 view;
  explicit PackedLayer(const DenseI8& layer) : view(layer) {
    const size_t bytes = internal::PackedWeightBytes(layer);
    if (bytes == 0) return;
    storage.assign(bytes + kBlobAlign, 0xEE);
    const uintptr_t at = reinterpret_cast<uintptr_t>(storage.data());
    int8_t* dst = reinterpret_cast<int8_t*>(storage.data() + (kBlobAlign - at % kBlobAlign) % kBlobAlign);
    internal::PackWeights(layer, dst);
    view.packed_weights = dst;
    view.packed_target = ChosenTarget();
  }
};

std::vector<uint8_t> RandomInput(uint32_t in, uint32_t stride, size_t skew, std::mt19937_64& rng,
                                 int mode) {
  std::vector<uint8_t> buf(stride + skew, 0);
  std::uniform_int_distribution<int> dist(0, 255);
  for (uint32_t k = 0; k < in; ++k) {
    buf[skew + k] = static_cast<uint8_t>(mode == 1 ? 255 : (mode == 2 ? 0 : dist(rng)));
  }
  return buf;
}

using test::ForEachTarget;

TEST_CASE("dense int8 kernels match the reference on every target") {
  std::mt19937_64 rng(42);
  std::vector<uint32_t> lengths;
  for (uint32_t n = 1; n <= 3 * 64 + 1; ++n) lengths.push_back(n);
  // 1025 and 1100 are past the 16 activation chunks AVX3_DL keeps in registers.
  for (uint32_t n : {255u, 256u, 257u, 511u, 784u, 800u, 1025u, 1100u}) lengths.push_back(n);
  const int ran = ForEachTarget([&](const std::string& target) {
    INFO("target ", target);
    for (uint32_t in : lengths) {
      for (uint32_t out : {1u, 3u, 4u, 5u, 9u, 10u, 16u, 33u}) {
        for (int mode = 0; mode < 8; ++mode) {
          const size_t skew = (in + out + mode) % 7;  // 0..6 bytes off
          INFO("in ", in, " out ", out, " mode ", mode, " skew ", skew);
          TestLayer layer(in, out, (in + out) % 2 == 0, skew, rng, mode);
          const int input_mode = mode == 0 || mode == 4 || mode == 6 ? 0 : (mode == 2 ? 2 : 1);
          const std::vector<uint8_t> x = RandomInput(in, layer.view.stride, skew + 1, rng, input_mode);
          const uint8_t* xp = x.data() + skew + 1;
          std::vector<uint8_t> want_u8(out + 1, 0xAB);
          internal::DenseI8ToU8Ref(layer.view, xp, want_u8.data() + 1);
          std::vector<int32_t> want(out);
          internal::DenseI8ToI32Ref(layer.view, xp, want.data());
          const PackedLayer packed(layer.view);
          for (const DenseI8* view : {&std::as_const(layer.view), &packed.view}) {
            INFO("packed ", view->packed_weights != nullptr);
            std::vector<uint8_t> got_u8(out + 1, 0xAB);
            internal::DenseI8ToU8(*view, xp, got_u8.data() + 1);
            CHECK(got_u8 == want_u8);
            std::vector<int32_t> got(out);
            internal::DenseI8ToI32(*view, xp, got.data());
            CHECK(got == want);
          }
        }
      }
    }
  });
  CHECK(ran > 0);
}

TEST_CASE("extreme values: 255 pixels x w are exact in int32 for w = 127, 65, 64, 33 and 32") {
  // pmaddubsw saturates at pairs 2 * 255 * w > 32767: from w = 65 on, so
  // x86 must take those layers in its signed mode; 64 is the direct mode's
  // largest weight. Two pairs added in int16 wrap from w = 33 on: 32 is the
  // paired mode's largest.
  std::mt19937_64 rng(7);
  const int ran = ForEachTarget([&](const std::string& target) {
    INFO("target ", target);
    for (const int w : {127, 65, 64, 33, 32, -65, -64, -33, -32}) {
      INFO("w ", w);
      TestLayer layer(784, 4, false, 0, rng, 1);
      layer.view.max_abs_weight = w < 0 ? -w : w;
      int8_t* weights = reinterpret_cast<int8_t*>(layer.weight_storage.data());  // skew 0
      for (size_t r = 0; r < 4; ++r) std::fill_n(weights + r * layer.view.stride, 784, w);
      internal::ComputeSignedInputCompensation(layer.view, layer.compensation.data());
      // With multiplier 2^30 and shift 30 the output is the accumulator itself.
      for (size_t r = 0; r < 4; ++r) {
        layer.requant[2 * r] = kMinMultiplier;
        layer.requant[2 * r + 1] = 30;
        layer.bias[r] = 0;
      }
      const std::vector<uint8_t> x = RandomInput(784, layer.view.stride, 0, rng, 1);
      std::vector<int32_t> got(4);
      internal::DenseI8ToI32(layer.view, x.data(), got.data());
      for (int32_t v : got) CHECK(v == 784 * 255 * w);
    }
  });
  CHECK(ran > 0);
}

TEST_CASE("whole forward pass: Predict == PredictRef on every target") {
  std::mt19937_64 rng(3);
  // 784-100-37-10: widths that are not multiples of the vector size, and a
  // wide layer before a narrow one (stale activation bytes must not leak);
  // the first layer's weights within +-64, the second's within +-32, the
  // last's not (x86 runs each in its own mode).
  TestLayer l0(784, 100, true, 0, rng, 4), l1(100, 37, true, 0, rng, 6), l2(37, 10, false, 0, rng, 0);
  const DenseI8 layers[3] = {l0.view, l1.view, l2.view};
  std::vector<uint8_t> a(896, 0x5A), b(896, 0xA5);
  const int ran = ForEachTarget([&](const std::string& target) {
    INFO("target ", target);
    const PackedLayer p0(l0.view), p1(l1.view), p2(l2.view);
    const DenseI8 packed[3] = {p0.view, p1.view, p2.view};
    for (int image = 0; image < 50; ++image) {
      const std::vector<uint8_t> x = RandomInput(784, 784, 0, rng, image == 0 ? 1 : 0);
      int32_t got[10], want[10];
      internal::ForwardI8(image % 2 ? packed : layers, 3, x.data(), a.data(), b.data(), got);
      internal::ForwardI8Ref(layers, 3, x.data(), a.data(), b.data(), want);
      CHECK(std::memcmp(got, want, sizeof(got)) == 0);
    }
  });
  CHECK(ran > 0);
}

TEST_CASE("batched forward == reference bit for bit on every target, any shape and batch") {
  // in-hidden-out networks with widths around 4, 16 and 64 bytes and the real
  // sizes; batches that take every AVX3_DL path (16-image panels, 8-image
  // panels full or padded for the last 4 to 15 images, batch 1 for the last 1
  // to 3); junk in the scratch, inputs off alignment.
  struct Case {
    std::unique_ptr<TestLayer> l0, l1;
    size_t skew;
    std::vector<uint8_t> pixels;  // kMaxImages inputs back to back, after skew bytes
    std::vector<int32_t> want;    // kMaxImages x out, from the reference
  };
  constexpr size_t kMaxImages = 33;
  std::mt19937_64 rng(11);
  std::vector<Case> cases;
  for (uint32_t in : {1u, 5u, 63u, 64u, 65u, 130u, 784u, 1100u}) {
    for (uint32_t hidden : {1u, 3u, 4u, 5u, 16u, 17u, 33u, 100u}) {
      const uint32_t out = (in + hidden) % 17 + 1;
      const int mode = static_cast<int>(cases.size() % 8);
      Case c;
      c.skew = cases.size() % 7;
      c.l0 = std::make_unique<TestLayer>(in, hidden, true, c.skew, rng, mode);
      c.l1 = std::make_unique<TestLayer>(hidden, out, (in + out) % 2 == 0, 0, rng, (mode + 1) % 8);
      c.pixels.assign(c.skew, 0);
      for (size_t n = 0; n < kMaxImages; ++n) {
        const std::vector<uint8_t> x = RandomInput(in, in, 0, rng, n % 5 == 4 ? 1 : 0);
        c.pixels.insert(c.pixels.end(), x.begin(), x.end());
      }
      const DenseI8 layers[2] = {c.l0->view, c.l1->view};
      std::vector<uint8_t> a(c.l0->view.stride), b(c.l0->view.stride + c.l1->view.stride);
      c.want.resize(kMaxImages * out);
      for (size_t n = 0; n < kMaxImages; ++n) {
        internal::ForwardI8Ref(layers, 2, c.pixels.data() + c.skew + n * in, a.data(), b.data(),
                               &c.want[n * out]);
      }
      cases.push_back(std::move(c));
    }
  }
  const int ran = ForEachTarget([&](const std::string& target) {
    INFO("target ", target);
    for (const Case& c : cases) {
      const PackedLayer p0(c.l0->view), p1(c.l1->view);
      const DenseI8 layers[2] = {p0.view, p1.view};
      const uint32_t in = layers[0].in_size, out = layers[1].out_size;
      // A spare 64 bytes between scratch vectors.
      const size_t pitch = std::max(layers[0].stride, layers[1].stride) + kBlobAlign;
      for (size_t images : {1u, 2u, 3u, 4u, 7u, 8u, 9u, 15u, 16u, 17u, 20u, 24u, 31u, 33u}) {
        INFO("in ", in, " hidden ", layers[0].out_size, " out ", out, " images ", images);
        std::vector<uint8_t> a(internal::BatchScratchVectors(images) * pitch, 0x5A);
        std::vector<uint8_t> b(a.size(), 0xA5);
        std::vector<int32_t> got(images * out, -1);
        internal::ForwardI8Batch(layers, 2, c.pixels.data() + c.skew, images, a.data(), b.data(),
                                 pitch, got.data());
        CHECK(std::equal(got.begin(), got.end(), c.want.begin()));
      }
    }
  });
  CHECK(ran > 0);
}

TEST_CASE("whole forward pass: batched == Predict == PredictRef on every target") {
  std::mt19937_64 rng(5);
  TestLayer l0(784, 100, true, 0, rng, 0), l1(100, 37, true, 0, rng, 0), l2(37, 10, false, 0, rng, 0);
  const DenseI8 layers[3] = {l0.view, l1.view, l2.view};
  constexpr size_t kImages = 21;  // AVX3_DL: two 8-image tiles, then one holding 5
  constexpr size_t kPitch = 832;
  std::vector<uint8_t> pixels;
  for (size_t n = 0; n < kImages; ++n) {
    const std::vector<uint8_t> x = RandomInput(784, 784, 0, rng, n == 0 ? 1 : 0);
    pixels.insert(pixels.end(), x.begin(), x.end());
  }
  std::vector<int32_t> want(kImages * 10);
  std::vector<uint8_t> a(internal::BatchScratchVectors(kImages) * kPitch, 0x5A);
  std::vector<uint8_t> b(a.size(), 0xA5);
  for (size_t n = 0; n < kImages; ++n) {
    internal::ForwardI8Ref(layers, 3, pixels.data() + n * 784, a.data(), b.data(), &want[n * 10]);
  }
  const int ran = ForEachTarget([&](const std::string& target) {
    INFO("target ", target);
    for (size_t images = 1; images <= kImages; ++images) {
      INFO("images ", images);
      std::fill(a.begin(), a.end(), 0x5A);  // stale bytes must not leak
      std::fill(b.begin(), b.end(), 0xA5);
      std::vector<int32_t> got(images * 10, -1);
      internal::ForwardI8Batch(layers, 3, pixels.data(), images, a.data(), b.data(), kPitch,
                               got.data());
      CHECK(std::equal(got.begin(), got.end(), want.begin()));
    }
  });
  CHECK(ran > 0);
}

TEST_CASE("requantization rounds half up and saturates") {
  // M = 2^30 * 2^-31 = 0.5: 3 * 0.5 = 1.5 -> 2, -3 * 0.5 = -1.5 -> -1.
  CHECK(Requantize(3, kMinMultiplier, 31) == 2);
  CHECK(Requantize(-3, kMinMultiplier, 31) == -1);
  CHECK(RequantizeToU8(-100, kMinMultiplier, 31) == 0);
  CHECK(RequantizeToU8(1000, kMinMultiplier, 31) == 255);
  CHECK(RequantizeToI32(INT32_MAX, INT32_MAX, 1, false) == INT32_MAX);
  CHECK(RequantizeToI32(-5, kMinMultiplier, 30, true) == 0);
}

TEST_CASE("Arm builds never run scalar kernels") {
  // Highway 1.0.3's dynamic dispatch reports NEON only on CPUs with AES,
  // which the Pi 3/4 lack: Arm builds default to static dispatch
  // (runtime/meson.build), whose one target is NEON or better, never asked
  // of the CPU. Under qemu -cpu cortex-a72 this must still say NEON.
#if HWY_ARCH_ARM
  CHECK_MESSAGE(internal::StaticDispatchBuild(),
                "Arm build with dynamic dispatch: scalar on CPUs without AES (Pi 3/4)");
  CHECK(ChosenTarget() != HWY_SCALAR);
  CHECK(ChosenTarget() != HWY_EMU128);
  INFO("kernel ", KernelName(ChosenTarget()));
  if (ChosenTarget() == HWY_NEON) {
    CHECK(KernelName(ChosenTarget()) ==
          (internal::ArmDotProdSupported() ? "NEON+sdot" : "NEON"));
  }
#else
  CHECK(KernelName(ChosenTarget()) == TargetName(ChosenTarget()));
#endif
}

TEST_CASE("target list is not empty and names are known") {
  const std::vector<int64_t> targets = AvailableTargets();
  REQUIRE(!targets.empty());
  for (int64_t t : targets) CHECK(std::string(TargetName(t)) != "Unknown");
  ForceTarget(targets.back());
  CHECK(ChosenTarget() == targets.back());
  ForceTarget(0);
}

}  // namespace
}  // namespace edgemlp
