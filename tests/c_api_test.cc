// The C API, driven from C (c_api_check.c), Network::PredictBatch over
// more images than one batched pass, against the scalar reference, and ArgMax.
#include <doctest/doctest.h>

#include <climits>
#include <cstdint>
#include <random>
#include <vector>

#include "atomic_file.h"
#include "edgemlp/runtime.h"
#include "quantize.h"
#include "test_util.h"

extern "C" int edgemlp_c_api_check(const char* blob_path, const char* missing_path,
                                   const uint8_t* pixels, size_t count,
                                   const int32_t* want_logits, char* why, size_t why_size);

namespace edgemlp {
namespace {

struct Fixture {
  test::TempDir dir;
  std::string path = dir.File("m.q8");
  Network net;
  std::vector<uint8_t> pixels;
  std::vector<int32_t> want;  // reference logits, image after image

  explicit Fixture(size_t count) {
    const std::vector<uint8_t> blob = QuantizeInt8(test::RandomModel({784, 70, 33, 10}, 5));
    WriteFileAtomic(path, blob.data(), blob.size());
    REQUIRE(Network::LoadFile(path, &net).ok());
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> dist(0, 255);
    pixels.resize(count * 784);
    for (uint8_t& p : pixels) p = static_cast<uint8_t>(dist(rng));
    want.resize(count * 10);
    for (size_t i = 0; i < count; ++i) net.PredictRef(&pixels[i * 784], &want[i * 10]);
  }
};

TEST_CASE("ArgMax: the highest value, the lowest index on ties") {
  const int32_t one[] = {-7};
  CHECK(ArgMax(one, 1) == 0);
  const int32_t negative[] = {-9, -3, -3, -12};
  CHECK(ArgMax(negative, 4) == 1);
  const int32_t last[] = {0, 5, 2, 5, 6};
  CHECK(ArgMax(last, 5) == 4);
  const int32_t extremes[] = {INT32_MIN, INT32_MAX, INT32_MAX, 0};
  CHECK(ArgMax(extremes, 4) == 1);
  // Against a plain search, on random logits with many ties.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> dist(-4, 4);
  for (int trial = 0; trial < 1000; ++trial) {
    int32_t v[10];
    for (int32_t& x : v) x = dist(rng);
    int want = 0;
    for (int i = 1; i < 10; ++i) {
      if (v[i] > v[want]) want = i;
    }
    CHECK(ArgMax(v, 10) == want);
  }
}

TEST_CASE("C API from C: load, errors, predict, predict_batch, arena") {
  Fixture f(Network::kMaxBatch + 7);
  char why[256] = "";
  const int line = edgemlp_c_api_check(f.path.c_str(), f.dir.File("missing.q8").c_str(),
                                       f.pixels.data(), f.pixels.size() / 784, f.want.data(),
                                       why, sizeof(why));
  INFO("c_api_check.c line ", line, ": ", why);
  CHECK(line == 0);
}

TEST_CASE("PredictBatch == PredictRef on every target, across chunk boundaries") {
  const size_t count = 2 * Network::kMaxBatch + 3;
  Fixture f(count);
  int ran = 0;
  for (int64_t target : AvailableTargets()) {
    ForceTarget(target);
    INFO("target ", TargetName(target));
    std::vector<int32_t> got(count * 10, -1);
    std::vector<int> classes(count, -1);
    f.net.PredictBatch(f.pixels.data(), count, got.data(), classes.data());
    CHECK(got == f.want);
    for (size_t i = 0; i < count; ++i) CHECK(classes[i] == ArgMax(&f.want[i * 10], 10));
    ++ran;
  }
  ForceTarget(0);
  CHECK(ran > 0);
}

}  // namespace
}  // namespace edgemlp
