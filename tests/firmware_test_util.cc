#include "firmware_test_util.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>

#include "edgemlp/blob_writer.h"
#include "sha256.h"

// Counts every heap allocation: operator new is replaced here; malloc,
// calloc and realloc are wrapped at link time (-Wl,--wrap, tests/meson.build).
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

extern "C" {
void* __real_malloc(size_t size);
void* __real_calloc(size_t count, size_t size);
void* __real_realloc(void* block, size_t size);
void* __wrap_malloc(size_t size) {
  ++g_allocations;
  return __real_malloc(size);
}
void* __wrap_calloc(size_t count, size_t size) {
  ++g_allocations;
  return __real_calloc(count, size);
}
void* __wrap_realloc(void* block, size_t size) {
  ++g_allocations;
  return __real_realloc(block, size);
}
}

void* operator new(size_t size) {
  ++g_allocations;
  if (void* p = __real_malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
// operator new above is malloc, so free is its match; GCC 12 cannot tell
// once these are inlined into std::vector (-Wmismatched-new-delete).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace edgemlp::firmware {

long HeapAllocations() { return g_allocations.load(); }

std::string HashHex(const void* data, size_t size) {
  Sha256 sha;
  sha.Update(data, size);
  char hex[65];
  sha.FinishHex(hex);
  return hex;
}

std::vector<uint8_t> RandomBlob(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const uint32_t sizes[3] = {784, 64, 10};
  FileHeader h{};
  h.kind = static_cast<uint32_t>(BlobKind::kInt8);
  h.input_size = 784;
  h.input_rows = h.input_cols = 28;
  h.input_scale = 1.0f / 255.0f;
  h.output_size = 10;
  BlobWriter writer(h, 2);
  for (uint32_t i = 0; i < 2; ++i) {
    const uint32_t in = sizes[i], out = sizes[i + 1];
    const uint32_t stride = (in + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
    std::vector<int8_t> w(size_t{out} * stride, 0);
    std::uniform_int_distribution<int> wd(-127, 127);
    for (uint32_t r = 0; r < out; ++r) {
      for (uint32_t c = 0; c < in; ++c) w[size_t{r} * stride + c] = static_cast<int8_t>(wd(rng));
    }
    std::vector<int32_t> bias(out), requant;
    std::vector<float> scale(out, 0.01f);
    std::uniform_int_distribution<int32_t> bd(-5000, 5000), md(kMinMultiplier, INT32_MAX);
    for (uint32_t r = 0; r < out; ++r) {
      bias[r] = bd(rng);
      requant.push_back(md(rng));
      requant.push_back(i == 0 ? 44 : 31);  // hidden: ~0..255, logits: ~acc
    }
    LayerRecord rec{};
    rec.in_size = in;
    rec.out_size = out;
    rec.stride = stride;
    rec.activation = static_cast<uint8_t>(i == 0 ? Activation::kRelu : Activation::kNone);
    rec.weight_type = static_cast<uint8_t>(WeightType::kI8);
    rec.weights_offset = writer.AddSection(w.data(), w.size());
    rec.bias_offset = writer.AddSection(bias.data(), bias.size() * 4);
    rec.weight_scale_offset = writer.AddSection(scale.data(), scale.size() * 4);
    rec.requant_offset = writer.AddSection(requant.data(), requant.size() * 4);
    rec.in_scale = 0.01f;
    rec.out_scale = 0.01f;
    writer.SetLayer(i, rec);
  }
  return writer.Finish();
}

LoadedNet::LoadedNet(uint64_t seed) {
  const std::vector<uint8_t> blob = RandomBlob(seed);
  const LoadResult r = Network::LoadCopy(blob.data(), blob.size(), &net);
  REQUIRE_MESSAGE(r.ok(), r.message);
}

int TempFileWith(const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  std::fflush(f);
  const int fd = dup(fileno(f));
  std::fclose(f);
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  return fd;
}

}  // namespace edgemlp::firmware
