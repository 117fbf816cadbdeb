// libFuzzer target: the blob loader (ParseBlob, Network::Load, the float
// model reader). Any crash, sanitizer report or oversized allocation is a
// finding; a refused blob is the expected outcome for most inputs.
#include <algorithm>
#include <cstring>
#include <vector>

#include "edgemlp/runtime.h"
#include "error.h"
#include "model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgemlp;
  // ParseBlob wants 8-byte aligned bytes, as every loader provides.
  std::vector<uint64_t> storage(size / 8 + 1);
  uint8_t* bytes = reinterpret_cast<uint8_t*>(storage.data());
  std::memcpy(bytes, data, size);

  BlobView view;
  ParseBlob(bytes, size, &view, /*check_crc=*/false);
  // Patch in the right CRC so the fuzzer reaches past the checksum into
  // loading and running the network.
  if (size >= sizeof(FileHeader)) {
    const uint32_t crc = BlobCrc32(bytes, size);
    std::memcpy(bytes + offsetof(FileHeader, crc32), &crc, 4);
  }
  Network net;
  if (Network::Load(bytes, size, &net).ok()) {
    std::vector<uint8_t> pixels(net.input_size());
    std::vector<int32_t> logits(net.output_size()), ref(net.output_size());
    for (int fill : {0, 255, 1}) {
      for (size_t i = 0; i < pixels.size(); ++i) {
        pixels[i] = static_cast<uint8_t>(fill == 1 ? i * 37 : fill);
      }
      // SIMD and scalar reference must agree on any valid blob.
      if (net.Predict(pixels.data(), logits.data()) !=
              net.PredictRef(pixels.data(), ref.data()) ||
          logits != ref) {
        __builtin_trap();
      }
    }
    // Raw features through an affine transform: PredictFloat is
    // QuantizeFeatures then Predict, and refuses a NaN.
    if (net.input_transform().kind == InputTransformKind::kAffine) {
      std::vector<float> x(net.input_size());
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.37f - 3.0f;
      if (!QuantizeFeatures(net.input_transform(), x.data(), pixels.data()) ||
          net.PredictFloat(x.data(), logits.data()) != net.PredictRef(pixels.data(), ref.data()) ||
          logits != ref) {
        __builtin_trap();
      }
      x.back() = __builtin_nanf("");
      if (net.PredictFloat(x.data(), logits.data()) != -1) __builtin_trap();
    }
    // And the batched path: 21 images are tiles of 8, 8 and 5 on AVX3_DL.
    constexpr size_t kBatch = 21;
    std::vector<uint8_t> batch(kBatch * net.input_size());
    for (size_t i = 0; i < batch.size(); ++i) batch[i] = static_cast<uint8_t>(i * 131 + (i >> 7));
    std::vector<int32_t> got(kBatch * net.output_size());
    net.PredictBatch(batch.data(), kBatch, got.data(), nullptr);
    for (size_t n = 0; n < kBatch; ++n) {
      net.PredictRef(batch.data() + n * net.input_size(), ref.data());
      if (!std::equal(ref.begin(), ref.end(), got.begin() + n * net.output_size())) {
        __builtin_trap();
      }
    }
  }
  try {
    DeserializeFloatModel(bytes, size, "fuzz");
  } catch (const InputError&) {
  }
  return 0;
}
