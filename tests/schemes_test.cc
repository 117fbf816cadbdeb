// int16 and packed int4 weight layers: every compiled SIMD target against
// the scalar reference, bit for bit, including the extreme values the
// blob format allows. Fails if it ran zero targets.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <vector>

#include "edgemlp/blob_writer.h"
#include "edgemlp/runtime.h"
#include "for_each_target.h"
#include "kernels.h"

namespace edgemlp {
namespace {

uint32_t StrideFor(WeightType type, uint32_t in) {
  const uint32_t align = 8 * kBlobAlign / WeightBits(static_cast<uint8_t>(type));
  return (in + align - 1) / align * align;
}

// One layer with its own 64-byte aligned storage (as in a blob).
// mode 0: random weights; 1: all +max; 2: alternating +-max.
struct SchemeLayer {
  std::vector<uint64_t> storage;
  std::vector<int32_t> bias, requant, logical;  // logical: row-major in x stride
  DenseI8 view{};

  SchemeLayer(WeightType type, uint32_t in, uint32_t out, bool relu, int mode,
              std::mt19937_64& rng) {
    const uint32_t stride = StrideFor(type, in);
    const int32_t qmax = type == WeightType::kI4 ? 7 : I16WeightLimit(in);
    const size_t bytes = size_t{out} * stride * WeightBits(static_cast<uint8_t>(type)) / 8;
    storage.assign(bytes / 8 + 16, 0);
    uint8_t* base = reinterpret_cast<uint8_t*>(storage.data());
    base += (kBlobAlign - reinterpret_cast<uintptr_t>(base) % kBlobAlign) % kBlobAlign;
    std::uniform_int_distribution<int32_t> wdist(-qmax, qmax);
    logical.assign(size_t{out} * stride, 0);
    for (uint32_t r = 0; r < out; ++r) {
      for (uint32_t c = 0; c < in; ++c) {
        int32_t v = wdist(rng);
        if (mode == 1) v = qmax;
        if (mode == 2) v = (c + r) % 2 ? qmax : -qmax;
        logical[size_t{r} * stride + c] = v;
        if (type == WeightType::kI16) {
          const int16_t w = static_cast<int16_t>(v);
          std::memcpy(base + 2 * (size_t{r} * stride + c), &w, 2);
        } else {
          const uint32_t half = stride / 2;
          base[size_t{r} * half + (c < half ? c : c - half)] |=
              static_cast<uint8_t>((v & 0xF) << (c < half ? 0 : 4));
        }
      }
    }
    std::uniform_int_distribution<int32_t> mdist(kMinMultiplier, INT32_MAX);
    std::uniform_int_distribution<int32_t> bdist(-(1 << 20), 1 << 20);
    int bits = 0;
    while ((uint64_t{1} << bits) < uint64_t{in} * 255 * qmax / 8 + 1) ++bits;
    for (uint32_t r = 0; r < out; ++r) {
      bias.push_back(bdist(rng));
      requant.push_back(mdist(rng));
      requant.push_back(std::max(kMinShift, std::min(kMaxShift, 31 + bits - 8)));
    }
    view = DenseI8{reinterpret_cast<const int8_t*>(base),
                   bias.data(),
                   requant.data(),
                   in,
                   out,
                   stride,
                   relu,
                   type};
  }
};

using test::ForEachTarget;

std::vector<uint8_t> Input(uint32_t in, uint32_t stride, int mode, std::mt19937_64& rng) {
  std::vector<uint8_t> x(stride, 0);
  std::uniform_int_distribution<int> dist(0, 255);
  for (uint32_t k = 0; k < in; ++k) x[k] = static_cast<uint8_t>(mode == 0 ? dist(rng) : 255);
  return x;
}

TEST_CASE("int16 and int4 kernels match the reference on every target") {
  std::mt19937_64 rng(5);
  std::vector<uint32_t> lengths = {1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 300, 784};
  const int ran = ForEachTarget([&](const std::string& target) {
    for (WeightType type : {WeightType::kI16, WeightType::kI4}) {
      for (uint32_t in : lengths) {
        for (uint32_t out : {1u, 5u, 10u}) {
          for (int mode = 0; mode < 3; ++mode) {
            INFO("target ", target, " type ", int(type), " in ", in, " out ", out, " mode ", mode);
            SchemeLayer layer(type, in, out, (in + out) % 2 == 0, mode, rng);
            const std::vector<uint8_t> x = Input(in, layer.view.stride, mode, rng);
            std::vector<uint8_t> got_u8(out), want_u8(out);
            internal::DenseI8ToU8(layer.view, x.data(), got_u8.data());
            internal::DenseI8ToU8Ref(layer.view, x.data(), want_u8.data());
            CHECK(got_u8 == want_u8);
            std::vector<int32_t> got(out), want(out);
            internal::DenseI8ToI32(layer.view, x.data(), got.data());
            internal::DenseI8ToI32Ref(layer.view, x.data(), want.data());
            CHECK(got == want);
          }
        }
      }
    }
  });
  CHECK(ran > 0);
}

// A blob of these layers (784 inputs, int8 kind), written with the
// format's writer: no trainer, so it runs in the board suites too.
std::vector<uint8_t> BlobOf(const std::vector<const SchemeLayer*>& layers) {
  FileHeader h{};
  h.kind = static_cast<uint32_t>(BlobKind::kInt8);
  h.input_size = layers.front()->view.in_size;
  h.input_rows = h.input_cols = 28;
  h.input_scale = 1.0f / 255.0f;
  h.output_size = layers.back()->view.out_size;
  BlobWriter writer(h, static_cast<uint32_t>(layers.size()));
  for (uint32_t i = 0; i < layers.size(); ++i) {
    const DenseI8& v = layers[i]->view;
    const std::vector<float> scales(v.out_size, 0.01f);
    LayerRecord rec{};
    rec.in_size = v.in_size;
    rec.out_size = v.out_size;
    rec.stride = v.stride;
    rec.activation = static_cast<uint8_t>(v.relu ? Activation::kRelu : Activation::kNone);
    rec.weight_type = static_cast<uint8_t>(v.weight_type);
    rec.weights_offset = writer.AddSection(
        v.weights, size_t{v.out_size} * v.stride * WeightBits(rec.weight_type) / 8);
    rec.bias_offset = writer.AddSection(v.bias, size_t{v.out_size} * 4);
    rec.weight_scale_offset = writer.AddSection(scales.data(), scales.size() * 4);
    rec.requant_offset = writer.AddSection(v.requant, size_t{v.out_size} * 8);
    rec.in_scale = rec.out_scale = 0.01f;
    writer.SetLayer(i, rec);
  }
  return writer.Finish();
}

TEST_CASE("a Network of int4 and int16 layers: Predict, PredictBatch == PredictRef") {
  // The Network widens int4 rows to int8 at load and runs the int8 kernels
  // (batched tiles, NEON, sdot) on them; PredictRef reads the packed
  // nibbles. Every target, 37 images (tiles and a tail).
  std::mt19937_64 rng(13);
  const SchemeLayer l0(WeightType::kI4, 784, 70, true, 0, rng);
  const SchemeLayer l1(WeightType::kI16, 70, 33, true, 0, rng);
  const SchemeLayer l2(WeightType::kI4, 33, 10, false, 0, rng);
  const std::vector<uint8_t> blob = BlobOf({&l0, &l1, &l2});
  Network net;
  const LoadResult r = Network::LoadCopy(blob.data(), blob.size(), &net);
  REQUIRE_MESSAGE(r.ok(), r.message);
  CHECK(net.arena_bytes() > size_t{70} * l0.view.stride);  // the widened rows
  constexpr size_t kImages = 37;
  std::vector<uint8_t> pixels;
  for (size_t n = 0; n < kImages; ++n) {
    const std::vector<uint8_t> x = Input(784, 784, n == 0 ? 1 : 0, rng);
    pixels.insert(pixels.end(), x.begin(), x.end());
  }
  std::vector<int32_t> want(kImages * 10);
  for (size_t n = 0; n < kImages; ++n) net.PredictRef(&pixels[n * 784], &want[n * 10]);
  const int ran = ForEachTarget([&](const std::string& target) {
    INFO("target ", target);
    std::vector<int32_t> one(kImages * 10), batch(kImages * 10);
    for (size_t n = 0; n < kImages; ++n) net.Predict(&pixels[n * 784], &one[n * 10]);
    net.PredictBatch(pixels.data(), kImages, batch.data(), nullptr);
    CHECK(one == want);
    CHECK(batch == want);
  });
  CHECK(ran > 0);
}

TEST_CASE("the reference unpacks int4 and int16 as the format says") {
  // With M = 1 (multiplier 2^30, shift 30) the output is the accumulator:
  // compare it with the logical weights written by the test itself.
  std::mt19937_64 rng(9);
  for (WeightType type : {WeightType::kI16, WeightType::kI4}) {
    for (uint32_t in : {7u, 200u, 784u}) {
      INFO("type ", int(type), " in ", in);
      SchemeLayer layer(type, in, 3, false, 0, rng);
      for (size_t r = 0; r < 3; ++r) {
        layer.requant[2 * r] = kMinMultiplier;
        layer.requant[2 * r + 1] = 30;
      }
      const std::vector<uint8_t> x = Input(in, layer.view.stride, 0, rng);
      std::vector<int32_t> got(3);
      internal::DenseI8ToI32Ref(layer.view, x.data(), got.data());
      for (uint32_t r = 0; r < 3; ++r) {
        int64_t want = layer.bias[r];
        for (uint32_t c = 0; c < in; ++c) {
          want += int64_t{x[c]} * layer.logical[size_t{r} * layer.view.stride + c];
        }
        CHECK(got[r] == want);
      }
    }
  }
}

TEST_CASE("extreme int16 weights (the format's limit) x 255 are exact on every target") {
  std::mt19937_64 rng(1);
  const int ran = ForEachTarget([&](const std::string& target) {
    INFO("target ", target);
    SchemeLayer layer(WeightType::kI16, 784, 4, false, 1, rng);
    for (size_t r = 0; r < 4; ++r) {
      layer.requant[2 * r] = kMinMultiplier;
      layer.requant[2 * r + 1] = 30;
      layer.bias[r] = kMaxAbsBiasI32;
    }
    const std::vector<uint8_t> x = Input(784, layer.view.stride, 1, rng);
    std::vector<int32_t> got(4);
    internal::DenseI8ToI32(layer.view, x.data(), got.data());
    for (int32_t v : got) CHECK(v == kMaxAbsBiasI32 + 784 * 255 * I16WeightLimit(784));
  });
  CHECK(ran > 0);
}

}  // namespace
}  // namespace edgemlp
