// The C API, driven from C (c_api_check.c), and Network::PredictBatch over
// more images than one batched pass, against the scalar reference.
#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <vector>

#include "atomic_file.h"
#include "edgemlp/edgemlp.h"
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

TEST_CASE("C API: edgemlp_predict_float on an affine blob, u8 input refused there") {
  FloatModel m = test::RandomModel({6, 5, 4}, 3);
  m.input_rows = 6;
  m.input_cols = 1;
  m.input_transform.kind = InputTransformKind::kAffine;
  m.input_transform.scale = {1.0f, 2.0f, 4.0f, 8.0f, 16.0f, 32.0f};
  m.input_transform.offset = {0.0f, 50.0f, 100.0f, 150.0f, 200.0f, 250.0f};
  test::TempDir dir;
  const std::string path = dir.File("affine.q8");
  const std::vector<uint8_t> blob = QuantizeInt8(m);
  WriteFileAtomic(path, blob.data(), blob.size());
  edgemlp_network* net = edgemlp_load_file(path.c_str());
  REQUIRE(net != nullptr);
  CHECK(edgemlp_input_transform(net) == 1);
  CHECK(edgemlp_input_size(net) == 6);
  Network ref;
  REQUIRE(Network::LoadFile(path, &ref).ok());
  const float x[6] = {3.25f, -7.0f, 0.5f, 1.0f, -2.5f, 100.0f};
  uint8_t q[6];
  REQUIRE(QuantizeFeatures(ref.input_transform(), x, q));
  int32_t want[4], got[4] = {};
  const int want_class = ref.PredictRef(q, want);
  CHECK(edgemlp_predict_float(net, x, got) == want_class);
  CHECK(std::vector<int32_t>(got, got + 4) == std::vector<int32_t>(want, want + 4));
  float bad[6] = {1, 2, 3, 4, 5, 6};
  bad[4] = std::numeric_limits<float>::quiet_NaN();
  int32_t untouched[4] = {9, 9, 9, 9};
  CHECK(edgemlp_predict_float(net, bad, untouched) == -1);
  CHECK(untouched[0] == 9);
  // u8 input to an affine blob: refused, nothing written.
  CHECK(edgemlp_predict(net, q, untouched) == -1);
  CHECK(untouched[3] == 9);
  int classes[2] = {7, 7};
  edgemlp_predict_batch(net, q, 1, untouched, classes);
  CHECK(classes[0] == -1);
  CHECK(classes[1] == 7);
  CHECK(untouched[1] == 9);
  edgemlp_free(net);

  // A blob without a transform: 0, and predict_float refuses.
  const std::vector<uint8_t> plain = QuantizeInt8(test::RandomModel({6, 5, 4}, 3));
  WriteFileAtomic(path, plain.data(), plain.size());
  net = edgemlp_load_file(path.c_str());
  REQUIRE(net != nullptr);
  CHECK(edgemlp_input_transform(net) == 0);
  CHECK(edgemlp_predict_float(net, x, untouched) == -1);
  CHECK(edgemlp_predict(net, q, untouched) >= 0);
  edgemlp_free(net);
}

}  // namespace
}  // namespace edgemlp
