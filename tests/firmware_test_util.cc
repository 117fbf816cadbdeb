#include "firmware_test_util.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>

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
