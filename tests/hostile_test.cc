// Hostile inputs for every reader: specific errors, and no allocation beyond
// what the input justifies. A counting malloc (this binary only) measures
// the peak bytes each reader holds; it also shows that the runtime does not
// allocate after load. Skipped under AddressSanitizer, which owns malloc
// (the fuzz targets' -malloc_limit_mb covers that build).
#include <doctest/doctest.h>
#include <malloc.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <functional>

#include "checkpoint.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "idx.h"
#include "edgemlp/image_decode.h"
#include "quantize.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define EDGEMLP_COUNTING_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EDGEMLP_COUNTING_MALLOC 0
#endif
#endif
#ifndef EDGEMLP_COUNTING_MALLOC
#define EDGEMLP_COUNTING_MALLOC 1
#endif

#if EDGEMLP_COUNTING_MALLOC
// glibc's own allocator under our counting wrappers.
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

namespace {
std::atomic<size_t> g_live{0}, g_peak{0}, g_calls{0};

// Counts p as live and hands it back.
void* Counted(void* p) {
  if (p == nullptr) return p;
  g_calls.fetch_add(1, std::memory_order_relaxed);
  const size_t live = g_live.fetch_add(malloc_usable_size(p)) + malloc_usable_size(p);
  size_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return p;
}
void Uncount(void* p) {
  if (p != nullptr) g_live.fetch_sub(malloc_usable_size(p));
}
}  // namespace

extern "C" {
void* malloc(size_t n) { return Counted(__libc_malloc(n)); }
void* calloc(size_t n, size_t size) { return Counted(__libc_calloc(n, size)); }
void* realloc(void* old, size_t n) {
  const size_t old_size = old ? malloc_usable_size(old) : 0;
  void* p = __libc_realloc(old, n);
  if (p != nullptr || n == 0) g_live.fetch_sub(old_size);
  return Counted(p);
}
void* memalign(size_t align, size_t n) { return Counted(__libc_memalign(align, n)); }
void* aligned_alloc(size_t align, size_t n) { return memalign(align, n); }
int posix_memalign(void** out, size_t align, size_t n) {
  *out = memalign(align, n);
  return *out ? 0 : ENOMEM;
}
void free(void* p) {
  Uncount(p);
  __libc_free(p);
}
}
#endif

namespace edgemlp {
namespace {

// Peak bytes allocated (above what was live before) while `run` ran.
size_t PeakBytesOf(const std::function<void()>& run) {
#if EDGEMLP_COUNTING_MALLOC
  const size_t before = g_live.load();
  g_peak.store(before);
  run();
  return g_peak.load() - before;
#else
  run();
  return 0;
#endif
}

using test::ErrorOf;

std::vector<uint8_t> BigEndian(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> out;
  for (uint32_t w : words) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(w >> s));
  }
  return out;
}

std::vector<uint8_t> Gzip(const std::vector<uint8_t>& raw) {
  uLongf size = compressBound(raw.size()) + 32;
  std::vector<uint8_t> out(size);
  z_stream z = {};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  z.next_in = const_cast<uint8_t*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

constexpr size_t kSmallFileBudget = 1 << 20;  // a 100-byte file gets at most this

TEST_CASE("hostile IDX files: specific errors, allocation bounded by the file") {
  test::TempDir dir;
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* expected;
    bool labels;
  };
  std::vector<uint8_t> huge = BigEndian({0x803, 5000000, 28, 28});  // 3.9 GB
  huge.resize(100, 7);
  std::vector<uint8_t> huge_labels = BigEndian({0x801, 0xFFFFFFFFu});
  huge_labels.resize(100, 1);
  const std::vector<Case> cases = {
      {"empty", {}, "truncated: the file ends inside the header", false},
      {"magic", BigEndian({0x804, 1, 2, 2, 0}), "wrong magic 0x00000804", false},
      {"labels-as-images", BigEndian({0x801, 1, 0}), "wrong magic 0x00000801", false},
      {"zero-rows", BigEndian({0x803, 1, 0, 28}), "image size 0x28", false},
      {"huge-side", BigEndian({0x803, 1, 1u << 20, 28}), "expected 1..4096 each", false},
      {"over-4GiB", BigEndian({0x803, 0xFFFFFFFFu, 4096, 4096}), "more than any IDX image set",
       false},
      {"huge-count", huge, "truncated: the file ends inside the pixel data", false},
      {"huge-count-gz", Gzip(huge), "truncated: the file ends inside the pixel data", false},
      {"trailing", BigEndian({0x803, 1, 1, 1, 0}), "has bytes after the data", false},
      {"huge-labels", huge_labels, "truncated: the file ends inside the label data", true},
      {"label-10", BigEndian({0x801, 1, 0x0A000000}), nullptr, true},
      {"not-gzip", {0x1f, 0x8b, 8, 0, 1, 2, 3}, "truncated", false},
  };
  for (const Case& c : cases) {
    INFO(std::string(c.name));
    const std::string path = dir.File(c.name);
    test::WriteBytes(path, c.bytes);
    std::string error;
    const size_t peak = PeakBytesOf([&] {
      error = ErrorOf([&] {
        if (c.labels) {
          ReadIdxLabels(path);
        } else {
          ReadIdxImages(path);
        }
      });
    });
    INFO(error);
    REQUIRE(error != "");
    CHECK(error.find(path + ": ") == 0);
    if (c.expected) CHECK(error.find(c.expected) != std::string::npos);
    CHECK(peak < kSmallFileBudget);
  }
  // Truncation at every byte of a valid file.
  std::vector<uint8_t> good = BigEndian({0x803, 3, 2, 2});
  for (int i = 0; i < 12; ++i) good.push_back(static_cast<uint8_t>(i));
  test::WriteBytes(dir.File("good"), good);
  CHECK(ReadIdxImages(dir.File("good")).pixels.size() == 12);
  for (size_t keep = 0; keep < good.size(); ++keep) {
    test::WriteBytes(dir.File("cut"), std::vector<uint8_t>(good.begin(), good.begin() + keep));
    CHECK(ErrorOf([&] { ReadIdxImages(dir.File("cut")); }).find("truncated") != std::string::npos);
  }
}

// A PNG with the given IHDR fields and no pixel data worth the name.
std::vector<uint8_t> Png(uint32_t w, uint32_t h, uint8_t depth, uint8_t color, bool good_crc) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
    const std::vector<uint8_t> len = BigEndian({static_cast<uint32_t>(data.size())});
    out.insert(out.end(), len.begin(), len.end());
    std::vector<uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    out.insert(out.end(), body.begin(), body.end());
    const uint32_t crc = static_cast<uint32_t>(crc32(0, body.data(), body.size()));
    const std::vector<uint8_t> c = BigEndian({good_crc ? crc : crc ^ 1});
    out.insert(out.end(), c.begin(), c.end());
  };
  std::vector<uint8_t> ihdr = BigEndian({w, h});
  ihdr.insert(ihdr.end(), {depth, color, 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01});
  chunk("IEND", {});
  return out;
}

TEST_CASE("hostile images get specific errors and the decoder never touches the heap") {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* expected;
  };
  auto text = [](const char* s) { return std::vector<uint8_t>(s, s + std::strlen(s)); };
  const std::vector<Case> cases = {
      {"empty", {}, "not a readable image"},
      {"jpeg", {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F'}, "not a readable image"},
      {"bmp", text("BM\x3e\0\0\0\0\0\0\0"), "not a readable image"},
      {"pgm-huge", text("P5\n1024 1024\n255\n\x01\x02"), "more than its 19 bytes can hold"},
      {"pgm-too-tall", text("P5\n1 1025\n255\n\x01"), "expected sides 1..1024"},
      {"pgm-too-wide", text("P5\n100000 1\n255\n\x01"), "not a readable image"},
      {"pgm-int-overflow", text("P6\n2 2\n2777777777777777777775\n\x01"), "not a readable image"},
      {"pgm-short", text("P5\n28 28\n255\n\x01\x02\x03"), "truncated: 28x28 pixels need 784"},
      {"ppm16-short", text("P6\n2 2\n65535\n\x01\x02\x03"), "need 24 bytes of pixel data, 3"},
      {"pgm-maxval0", text("P5\n2 2\n0\n\x01\x02\x03\x04"), "maxval 0"},
      {"pgm-maxval1023", text("P5\n1 1\n1023\n\x01\x02"), "maxval 1023"},
      {"png-huge", Png(1024, 1024, 16, 6, true), "more than its"},
      {"png-too-tall", Png(1, 1025, 8, 0, true), "not a readable image"},
      {"png-too-wide", Png(1u << 20, 1, 8, 0, true), "not a readable image"},
      {"png-zero", Png(0, 28, 8, 0, true), "not a readable image"},
      {"png-bad-depth", Png(28, 28, 7, 0, true), "not a readable image"},
      {"png-short-data", Png(28, 28, 8, 0, true), "cannot decode"},
      {"png-huge-chunk", [&] {  // an IDAT that claims 1.3 GB
         std::vector<uint8_t> png = Png(4, 4, 8, 0, true);
         png[33] = 0x50;
         return png;
       }(), "truncated PNG: chunk at offset 33 declares 1342177289 bytes"},
      {"png-empty-idat", [&] {
         std::vector<uint8_t> png = Png(4, 4, 8, 0, true);
         const std::vector<uint8_t> empty = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
         png.insert(png.begin() + 33, empty.begin(), empty.end());
         return png;
       }(), "empty IDAT chunk at offset 33"},
  };
  std::vector<uint8_t> arena_memory(DecodeArena::kRecommendedBytes);
  DecodeArena arena(arena_memory.data(), arena_memory.size());
  // The decoded pixels, or the error.
  auto decode = [&](const std::vector<uint8_t>& bytes) {
    GrayImage image;
    const char* error = DecodeImage(bytes.data(), bytes.size(), &arena, &image);
    if (error != nullptr) return std::string(error);
    return std::string(image.pixels, image.pixels + size_t{static_cast<size_t>(image.width)} *
                                                        static_cast<size_t>(image.height));
  };
  for (const Case& c : cases) {
    INFO(std::string(c.name));
    const char* error = nullptr;
    GrayImage image;
    const size_t peak = PeakBytesOf(
        [&] { error = DecodeImage(c.bytes.data(), c.bytes.size(), &arena, &image); });
    REQUIRE(error != nullptr);
    INFO(error);
    CHECK(std::string(error).find(c.expected) != std::string::npos);
    CHECK(peak == 0);  // everything in the arena reserved up front
  }
  // Good ones decode: 8-bit gray, 16-bit colour (stb 2.27 overflowed its
  // buffer converting this one; tests/fuzz/fuzz_image found it).
  std::vector<uint8_t> pgm = text("P5\n# c\n2 2\n255\n");
  pgm.insert(pgm.end(), {0, 10, 20, 30});
  CHECK(decode(pgm) == std::string{0, 10, 20, 30});
  std::vector<uint8_t> ppm16 = text("P6\n2 1\n65535\n");
  ppm16.insert(ppm16.end(), {0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  CHECK(decode(ppm16) == std::string{0, static_cast<char>(255)});
  std::vector<uint8_t> pgm15 = text("P5 2 1 15\n");  // 4-bit samples scale to 0..255
  pgm15.insert(pgm15.end(), {0, 15});
  CHECK(decode(pgm15) == std::string{0, static_cast<char>(255)});
}

TEST_CASE("hostile blobs: no allocation beyond the file's size") {
  test::TempDir dir;
  FileHeader h = {};
  std::memcpy(h.magic, kBlobMagic, 4);
  h.version_major = kBlobVersionMajor;
  h.header_size = sizeof(FileHeader);
  h.layer_record_size = 0xFFFFFF00u;  // huge records ...
  h.layer_count = kMaxLayers;         // ... times the most layers
  h.kind = static_cast<uint32_t>(BlobKind::kInt8);
  std::vector<uint8_t> bytes(100);
  h.file_size = static_cast<uint32_t>(bytes.size());
  std::memcpy(bytes.data(), &h, sizeof(h));
  test::WriteBytes(dir.File("huge.bin"), bytes);
  Network net;
  LoadResult r;
  const size_t peak = PeakBytesOf([&] { r = Network::LoadFile(dir.File("huge.bin"), &net); });
  CHECK(r.status == Status::kTruncated);
  CHECK(r.message.find(dir.File("huge.bin") + ": layer records end at") == 0);
  CHECK(peak < kSmallFileBudget);
}

TEST_CASE("the runtime does not allocate after load, over many predictions and batches") {
  const std::vector<uint8_t> blob = QuantizeInt8(test::RandomModel({784, 64, 32, 10}, 5));
  Network net;
  REQUIRE(Network::LoadCopy(blob.data(), blob.size(), &net).ok());
  std::vector<uint8_t> pixels(784);
  std::vector<int32_t> logits(10);
  // Batches of 21: AVX3_DL tiles of 8, 8 and 5 images.
  constexpr size_t kBatch = 21;
  std::vector<uint8_t> batch(kBatch * 784, 7);
  std::vector<int32_t> batch_logits(kBatch * 10);
  std::vector<int> classes(kBatch);
  int checksum = 0;
#if EDGEMLP_COUNTING_MALLOC
  const size_t calls_before = g_calls.load();
#endif
  for (int i = 0; i < 20000; ++i) {
    pixels[static_cast<size_t>(i) % 784] = static_cast<uint8_t>(i);
    checksum += net.Predict(pixels.data(), logits.data());
    checksum += net.PredictRef(pixels.data(), logits.data());
    if (i % 100 == 0) {
      batch[static_cast<size_t>(i) % batch.size()] = static_cast<uint8_t>(i);
      net.PredictBatch(batch.data(), kBatch, batch_logits.data(), classes.data());
      checksum += classes[static_cast<size_t>(i) % kBatch];
    }
  }
#if EDGEMLP_COUNTING_MALLOC
  CHECK(g_calls.load() == calls_before);
  // The counter works: loading again allocates.
  Network other;
  Network::LoadCopy(blob.data(), blob.size(), &other);
  CHECK(g_calls.load() > calls_before);
#endif
  CHECK(checksum >= 0);
}

}  // namespace
}  // namespace edgemlp
