// Blob round trips and every corruption class -> its own status.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <functional>
#include <map>
#include <random>

#include "atomic_file.h"
#include "edgemlp/blob.h"
#include "edgemlp/introspect.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "model.h"
#include "quantize.h"
#include "test_util.h"

namespace edgemlp {
namespace {

// 8-byte aligned copy of a blob that a test may damage.
struct Buffer {
  std::vector<uint64_t> words;
  size_t size;
  explicit Buffer(const std::vector<uint8_t>& bytes, size_t keep = SIZE_MAX)
      : words(bytes.size() / 8 + 1), size(std::min(keep, bytes.size())) {
    std::memcpy(words.data(), bytes.data(), size);
  }
  uint8_t* data() { return reinterpret_cast<uint8_t*>(words.data()); }
  template <typename T>
  void Put(size_t offset, T value) { std::memcpy(data() + offset, &value, sizeof(T)); }
  template <typename T>
  T Get(size_t offset) { T v; std::memcpy(&v, data() + offset, sizeof(T)); return v; }
  void FixCrc() { Put<uint32_t>(offsetof(FileHeader, crc32), BlobCrc32(data(), size)); }
  Status Parse() {
    BlobView view;
    return ParseBlob(data(), size, &view).status;
  }
};

std::vector<uint8_t> Int8Blob() {
  return QuantizeInt8(test::RandomModel({784, 70, 33, 10}, 5));
}

// Writes blob to path, checks the file holds exactly it, and loads it.
void WriteAndLoad(const std::string& path, const std::vector<uint8_t>& blob, Network* net) {
  WriteFileAtomic(path, blob.data(), blob.size());
  CHECK(test::ReadBytes(path) == blob);
  const LoadResult r = Network::LoadFile(path, net);
  REQUIRE_MESSAGE(r.ok(), r.message);
}

// The blob's known-answer vector passes on every target this CPU runs;
// fails if none ran.
void CheckSelfTestOnEveryTarget(Network& net) {
  int ran = 0;
  for (int64_t target : AvailableTargets()) {
    INFO("target ", TargetName(target));
    ForceTarget(target);
    const LoadResult st = net.SelfTest();
    CHECK_MESSAGE(st.ok(), st.message);
    ++ran;
  }
  ForceTarget(0);
  CHECK(ran > 0);
}

size_t LayerField(size_t layer, size_t field_offset) {
  return kHeaderSizeV11 + layer * sizeof(LayerRecord) + field_offset;
}

TEST_CASE("int8 blob: write, read back, load: identical and valid") {
  const std::vector<uint8_t> blob = Int8Blob();
  test::TempDir dir;
  Network net;
  WriteAndLoad(dir.File("m.q8"), blob, &net);
  CHECK(net.input_size() == 784);
  CHECK(net.output_size() == 10);
  CHECK(net.layer_count() == 3);
  CHECK(GetLayer(net, 0).stride % kBlobAlign == 0);
  CHECK(net.arena_bytes() > 0);
  CHECK(BlobCrc32(blob.data(), blob.size()) == Buffer(blob).Get<uint32_t>(offsetof(FileHeader, crc32)));
}

TEST_CASE("float model: serialize -> deserialize gives the same numbers") {
  FloatModel m = test::RandomModel({20, 7, 3}, 9);
  m.input_scale = 2.0f / 255.0f;
  m.input_offset = -1.0f;
  const std::vector<uint8_t> bytes = SerializeFloatModel(m);
  Buffer b(bytes);
  const FloatModel back = DeserializeFloatModel(b.data(), b.size, "m");
  REQUIRE(back.layers.size() == m.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    CHECK(back.layers[i].weights == m.layers[i].weights);
    CHECK(back.layers[i].bias == m.layers[i].bias);
    CHECK(back.layers[i].activation == m.layers[i].activation);
    CHECK(back.layers[i].calib_max == m.layers[i].calib_max);
  }
  CHECK(back.input_scale == m.input_scale);
  CHECK(back.input_offset == m.input_offset);
}

TEST_CASE("FloatModel's input transform: View() is the runtime's transform") {
  FloatInputTransform area;
  area.kind = InputTransformKind::kArea;
  area.in_rows = area.in_cols = 28;
  area.out_rows = area.out_cols = 14;
  const InputTransform a = area.View();
  CHECK(a.in_size == 784);
  CHECK(a.out_size == 196);
  CHECK(a.out_cols == 14);
  FloatModel m = test::RandomModel({196, 8, 10}, 1);
  m.input_rows = m.input_cols = 28;  // the caller passes 28x28 pixels
  m.input_transform = area;
  CHECK(m.input_size() == 784);
  CHECK(m.layer_input_size() == 196);
  CHECK(m.ArchString() == "196-8-10");

  FloatInputTransform affine;
  affine.kind = InputTransformKind::kAffine;
  affine.scale = {2.0f, 0.5f};
  affine.offset = {1.0f, 100.0f};
  const InputTransform t = affine.View();
  CHECK(t.in_size == 2);
  CHECK(t.out_size == 2);
  const float x[2] = {3.0f, -10.0f};
  uint8_t q[2] = {};
  REQUIRE(QuantizeFeatures(t, x, q));
  CHECK(q[0] == 7);
  CHECK(q[1] == 95);
  CHECK(FloatInputTransform{}.View().kind == InputTransformKind::kNone);
}

TEST_CASE("CRC32 equals zlib's check value") {
  CHECK(Crc32("123456789", 9) == 0xCBF43926u);
}

TEST_CASE("each corruption gets its own status") {
  const std::vector<uint8_t> blob = Int8Blob();
  auto damaged = [&](auto edit, bool fix_crc = true) {
    Buffer b(blob);
    edit(b);
    if (fix_crc) b.FixCrc();
    return b.Parse();
  };
  CHECK(Buffer(blob).Parse() == Status::kOk);
  CHECK(damaged([](Buffer& b) { b.data()[0] = 'X'; }) == Status::kBadMagic);
  CHECK(damaged([](Buffer& b) { b.Put<uint16_t>(offsetof(FileHeader, version_major), 2); }) ==
        Status::kUnsupportedVersion);
  CHECK(damaged([](Buffer& b) { b.Put<uint16_t>(offsetof(FileHeader, version_minor), 9); }) ==
        Status::kOk);  // newer minor: accepted
  CHECK(damaged([](Buffer& b) { b.Put<float>(offsetof(FileHeader, input_scale), NAN); }) ==
        Status::kBadScale);
  // One uint32 field set to a bad value, the CRC fixed up.
  struct U32Edit {
    size_t at;
    uint32_t value;
    Status want;
  };
  const U32Edit u32_edits[] = {
      {offsetof(FileHeader, file_size), 1u << 30, Status::kTruncated},
      {offsetof(FileHeader, file_size), 100, Status::kBadHeader},
      {offsetof(FileHeader, header_size), 12, Status::kBadHeader},
      {offsetof(FileHeader, header_size), 0xFFFFFF00u, Status::kTruncated},
      {offsetof(FileHeader, layer_record_size), 8, Status::kBadHeader},
      {offsetof(FileHeader, layer_count), 0, Status::kBadHeader},
      {offsetof(FileHeader, layer_count), 0xFFFFFFFFu, Status::kBadHeader},
      {offsetof(FileHeader, layer_count), 2, Status::kBadShape},  // output_size no longer matches
      {offsetof(FileHeader, kind), 9, Status::kBadHeader},
      {offsetof(FileHeader, input_size), 785, Status::kBadShape},
      {offsetof(FileHeader, output_size), 11, Status::kBadShape},
      {LayerField(1, offsetof(LayerRecord, in_size)), 71, Status::kBadShape},
      {LayerField(0, offsetof(LayerRecord, out_size)), 0, Status::kBadShape},
      {LayerField(0, offsetof(LayerRecord, stride)), 800, Status::kBadShape},  // not a multiple of 64
      {LayerField(0, offsetof(LayerRecord, stride)), 700, Status::kBadShape},  // shorter than in_size
  };
  for (const U32Edit& e : u32_edits) {
    INFO("offset ", e.at, " value ", e.value);
    CHECK(damaged([&](Buffer& b) { b.Put<uint32_t>(e.at, e.value); }) == e.want);
  }
  CHECK(damaged([](Buffer& b) { b.data()[LayerField(0, offsetof(LayerRecord, activation))] = 7; }) ==
        Status::kBadLayer);
  CHECK(damaged([](Buffer& b) { b.data()[LayerField(0, offsetof(LayerRecord, activation))] = 0; }) ==
        Status::kBadLayer);  // int8 hidden layers must be ReLU
  CHECK(damaged([](Buffer& b) { b.data()[LayerField(0, offsetof(LayerRecord, weight_type))] = 1; }) ==
        Status::kBadLayer);
  for (size_t field : {offsetof(LayerRecord, weights_offset), offsetof(LayerRecord, bias_offset),
                       offsetof(LayerRecord, weight_scale_offset), offsetof(LayerRecord, requant_offset)}) {
    INFO("offset field ", field);
    CHECK(damaged([&](Buffer& b) { b.Put<uint32_t>(LayerField(2, field), b.Get<uint32_t>(LayerField(2, field)) + 4); }) ==
          Status::kMisaligned);
    CHECK(damaged([&](Buffer& b) { b.Put<uint32_t>(LayerField(2, field), 0xFFFFFFC0u); }) ==
          Status::kOutOfBounds);
    CHECK(damaged([&](Buffer& b) { b.Put<uint32_t>(LayerField(2, field), 0); }) ==
          Status::kOutOfBounds);  // overlaps the header
  }
  for (float bad : {0.0f, -1.0f, NAN, INFINITY}) {
    INFO("scale ", bad);
    CHECK(damaged([&](Buffer& b) { b.Put<float>(LayerField(1, offsetof(LayerRecord, in_scale)), bad); }) ==
          Status::kBadScale);
    CHECK(damaged([&](Buffer& b) { b.Put<float>(LayerField(1, offsetof(LayerRecord, out_scale)), bad); }) ==
          Status::kBadScale);
    CHECK(damaged([&](Buffer& b) {
            b.Put<float>(b.Get<uint32_t>(LayerField(0, offsetof(LayerRecord, weight_scale_offset))) + 8, bad);
          }) == Status::kBadScale);
  }
  CHECK(damaged([](Buffer& b) {
          b.Put<int32_t>(b.Get<uint32_t>(LayerField(0, offsetof(LayerRecord, requant_offset))) + 4, 0);
        }) == Status::kBadRequant);
  CHECK(damaged([](Buffer& b) {
          b.Put<int32_t>(b.Get<uint32_t>(LayerField(0, offsetof(LayerRecord, requant_offset))), 5);
        }) == Status::kBadRequant);
  CHECK(damaged([](Buffer& b) {
          b.Put<int32_t>(b.Get<uint32_t>(LayerField(0, offsetof(LayerRecord, bias_offset))), INT32_MAX);
        }) == Status::kBadLayer);
  // An int8 weight of -128, in a row or in its padding (stride 832 > 784).
  for (uint32_t k : {3u, 800u}) {
    INFO("weight byte ", k);
    CHECK(damaged([&](Buffer& b) {
            b.data()[b.Get<uint32_t>(LayerField(0, offsetof(LayerRecord, weights_offset))) + k] = 0x80;
          }) == Status::kBadLayer);
  }
  // A flipped weight bit is caught by the CRC alone.
  CHECK(damaged([](Buffer& b) { b.data()[b.Get<uint32_t>(LayerField(1, offsetof(LayerRecord, weights_offset))) + 3] ^= 4; },
                false) == Status::kBadChecksum);
  CHECK(damaged([](Buffer& b) { b.Put<uint32_t>(offsetof(FileHeader, crc32), 0); }, false) ==
        Status::kBadChecksum);
}

TEST_CASE("reserved fields: refused in a known minor, ignored in a newer one") {
  const std::vector<uint8_t> blob = Int8Blob();
  const size_t ext_reserved = sizeof(FileHeader) + offsetof(HeaderExtension, reserved);
  const size_t reserved[] = {
      offsetof(FileHeader, flags),
      offsetof(FileHeader, reserved),
      ext_reserved,
      ext_reserved + sizeof(HeaderExtension::reserved) - 4,
      LayerField(0, offsetof(LayerRecord, reserved0)),
      LayerField(1, offsetof(LayerRecord, reserved)),
      LayerField(2, offsetof(LayerRecord, reserved) + sizeof(LayerRecord::reserved) - 4),
  };
  REQUIRE(Buffer(blob).Parse() == Status::kOk);  // the writer leaves them 0
  for (size_t at : reserved) {
    INFO("offset ", at);
    for (uint16_t minor : {uint16_t{0}, kBlobVersionMinor, uint16_t{kBlobVersionMinor + 1}}) {
      INFO("minor ", minor);
      Buffer b(blob);
      b.Put<uint16_t>(offsetof(FileHeader, version_minor), minor);
      b.Put<uint16_t>(at, 1);
      b.FixCrc();
      BlobView view;
      const LoadResult r = ParseBlob(b.data(), b.size, &view);
      CHECK(r.status == (minor > kBlobVersionMinor ? Status::kOk : Status::kReservedNotZero));
      if (!r.ok()) CHECK(r.message.find("reserved in format 1.") != std::string::npos);
    }
  }
}

TEST_CASE("a non-finite calib_max is refused in both kinds") {
  const std::vector<uint8_t> int8 = Int8Blob();
  const std::vector<uint8_t> f32 = SerializeFloatModel(test::RandomModel({16, 4, 2}, 1));
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    INFO("calib_max ", bad);
    for (const std::vector<uint8_t>* blob : {&int8, &f32}) {
      Buffer b(*blob);
      REQUIRE(b.Parse() == Status::kOk);
      b.Put<float>(LayerField(1, offsetof(LayerRecord, calib_max)), bad);
      b.FixCrc();
      CHECK(b.Parse() == Status::kBadValue);
    }
  }
}

TEST_CASE("truncation at every section boundary and inside each") {
  const std::vector<uint8_t> blob = Int8Blob();
  for (size_t keep = 0; keep < blob.size(); keep += (keep < 256 ? 1 : kBlobAlign / 2)) {
    INFO("kept ", keep, " of ", blob.size(), " bytes");
    Buffer b(blob, keep);
    CHECK(b.Parse() == Status::kTruncated);
  }
}

TEST_CASE("float model with a NaN weight is rejected") {
  FloatModel m = test::RandomModel({16, 4, 2}, 1);
  m.layers[0].weights(1, 2) = NAN;
  Buffer b(SerializeFloatModel(m));
  CHECK(b.Parse() == Status::kBadValue);
  CHECK_THROWS_AS(DeserializeFloatModel(b.data(), b.size, "m"), InputError);
}

TEST_CASE("the runtime refuses a float model and unaligned buffers") {
  Buffer f(SerializeFloatModel(test::RandomModel({16, 4, 2}, 1)));
  Network net;
  CHECK(Network::Load(f.data(), f.size, &net).status == Status::kWrongKind);
  const std::vector<uint8_t> blob = Int8Blob();
  std::vector<uint64_t> words(blob.size() / 8 + 2);
  uint8_t* odd = reinterpret_cast<uint8_t*>(words.data()) + 1;
  std::memcpy(odd, blob.data(), blob.size());
  CHECK(Network::Load(odd, blob.size(), &net).status == Status::kMisaligned);
}

TEST_CASE("LoadFile names the file in its errors") {
  test::TempDir dir;
  Network net;
  LoadResult r = Network::LoadFile(dir.File("missing.q8"), &net);
  CHECK(r.status == Status::kIoError);
  CHECK(r.message.find("missing.q8") != std::string::npos);
  test::WriteBytes(dir.File("junk.q8"), std::vector<uint8_t>(100, 7));
  r = Network::LoadFile(dir.File("junk.q8"), &net);
  CHECK(r.status == Status::kBadMagic);
  CHECK(r.message.find("junk.q8") != std::string::npos);
}

// A model quantized with the given scheme and a known-answer vector.
std::vector<uint8_t> SchemeBlob(WeightType type, std::map<size_t, WeightType> layers = {}) {
  QuantOptions q;
  q.weight_type = type;
  q.layer_types = std::move(layers);
  q.test_input = SyntheticTestInput(784);
  q.metadata = "{\"architecture\": \"784-70-33-10\"}";
  return Quantize(test::RandomModel({784, 70, 33, 10}, 5), q);
}

TEST_CASE("every scheme: write, read back, load, self-test on every target") {
  using WT = WeightType;
  const std::vector<std::pair<std::vector<uint8_t>, std::vector<WT>>> cases = {
      {SchemeBlob(WT::kI8), {WT::kI8, WT::kI8, WT::kI8}},
      {SchemeBlob(WT::kI16), {WT::kI16, WT::kI16, WT::kI16}},
      {SchemeBlob(WT::kI4), {WT::kI4, WT::kI4, WT::kI4}},
      {SchemeBlob(WT::kI8, {{0, WT::kI16}, {2, WT::kI4}}), {WT::kI16, WT::kI8, WT::kI4}},
  };
  test::TempDir dir;
  for (const auto& [blob, types] : cases) {
    INFO("layer 0 type ", int(types[0]));
    Network net;
    WriteAndLoad(dir.File("m.bin"), blob, &net);
    REQUIRE(net.layer_count() == 3);
    for (size_t i = 0; i < 3; ++i) CHECK(GetLayer(net, i).weight_type == types[i]);
    CHECK(net.blob().metadata() == "{\"architecture\": \"784-70-33-10\"}");
    CheckSelfTestOnEveryTarget(net);
    // A damaged expected logit is caught by the self-test (CRC not involved:
    // SelfTest reads the bytes the Network was loaded from).
    Buffer b(blob);
    const uint32_t out_at = b.Get<uint32_t>(sizeof(FileHeader) + offsetof(HeaderExtension, kat_output_offset));
    b.Put<int32_t>(out_at + 8, b.Get<int32_t>(out_at + 8) + 1);
    Network damaged;
    b.FixCrc();
    REQUIRE(Network::Load(b.data(), b.size, &damaged).ok());
    const LoadResult st = damaged.SelfTest();
    CHECK(st.status == Status::kSelfTestFailed);
    CHECK(st.message.find("logit 2") != std::string::npos);
  }
}

TEST_CASE("int4 layers run widened to int8 rows: Predict, PredictBatch == PredictRef") {
  // The Network widens int4 rows at load and runs the int8 kernels (and on
  // AVX3_DL the batched tiles) on them; PredictRef keeps the blob's packed
  // nibbles, so a wrong nibble order or a missed layer shows up here.
  using WT = WeightType;
  std::mt19937_64 rng(21);
  std::uniform_int_distribution<int> pixel(0, 255);
  constexpr size_t kImages = 37;  // tiles of 8, then a tail
  std::vector<uint8_t> pixels(kImages * 784);
  for (size_t i = 0; i < pixels.size(); ++i) {
    pixels[i] = i < 784 ? 255 : static_cast<uint8_t>(pixel(rng));
  }
  for (const std::vector<uint8_t>& blob :
       {SchemeBlob(WT::kI4), SchemeBlob(WT::kI8, {{0, WT::kI4}, {1, WT::kI16}})}) {
    Network net;
    REQUIRE(Network::LoadCopy(blob.data(), blob.size(), &net).ok());
    size_t widened = 0;
    for (size_t i = 0; i < net.layer_count(); ++i) {
      const LayerInfo l = GetLayer(net, i);
      if (l.weight_type == WT::kI4) widened += size_t{l.out_size} * l.stride;
    }
    REQUIRE(widened > 0);
    CHECK(net.arena_bytes() > widened);  // the widened rows are in the arena
    std::vector<int32_t> want(kImages * 10);
    for (size_t n = 0; n < kImages; ++n) net.PredictRef(&pixels[n * 784], &want[n * 10]);
    int ran = 0;
    for (int64_t target : AvailableTargets()) {
      INFO("target ", TargetName(target), " layer 0 ", int(GetLayer(net, 0).weight_type));
      ForceTarget(target);
      std::vector<int32_t> one(kImages * 10), batch(kImages * 10);
      for (size_t n = 0; n < kImages; ++n) net.Predict(&pixels[n * 784], &one[n * 10]);
      net.PredictBatch(pixels.data(), kImages, batch.data(), nullptr);
      CHECK(one == want);
      CHECK(batch == want);
      ++ran;
    }
    ForceTarget(0);
    CHECK(ran > 0);
  }
}

TEST_CASE("format 1.1 fields: each corruption gets its own status") {
  auto damaged = [](const std::vector<uint8_t>& blob, auto edit) {
    Buffer b(blob);
    edit(b);
    b.FixCrc();
    return b.Parse();
  };
  const std::vector<uint8_t> blob = SchemeBlob(WeightType::kI8);
  const size_t ext = sizeof(FileHeader);
  const size_t meta_off = ext + offsetof(HeaderExtension, metadata_offset);
  const size_t meta_size = ext + offsetof(HeaderExtension, metadata_size);
  const size_t kat_in = ext + offsetof(HeaderExtension, kat_input_offset);
  const size_t kat_out = ext + offsetof(HeaderExtension, kat_output_offset);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(meta_off, b.Get<uint32_t>(meta_off) + 8); }) ==
        Status::kMisaligned);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(meta_off, 0xFFFFFFC0u); }) == Status::kOutOfBounds);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(meta_off, 64); }) == Status::kOutOfBounds);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(meta_size, 0xFFFFFFFFu); }) == Status::kBadHeader);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(meta_size, 0); }) == Status::kBadHeader);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(meta_size, b.size); }) == Status::kOutOfBounds);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(kat_in, 0); }) == Status::kBadHeader);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(kat_in, b.Get<uint32_t>(kat_in) + 1); }) ==
        Status::kMisaligned);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(kat_out, b.size - 32); }) == Status::kMisaligned);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(kat_out, b.size); }) == Status::kOutOfBounds);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(kat_in, 0xFFFFFFC0u); }) == Status::kOutOfBounds);
  CHECK(damaged(blob, [&](Buffer& b) { b.data()[LayerField(1, offsetof(LayerRecord, weight_type))] = 5; }) ==
        Status::kBadLayer);
  // Changing int8 to int4 leaves the stride (64) wrong for packed rows.
  CHECK(damaged(blob, [&](Buffer& b) { b.data()[LayerField(2, offsetof(LayerRecord, weight_type))] = 4; }) ==
        Status::kBadShape);
  // Size arithmetic cannot wrap: a huge stride is refused before any product.
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(LayerField(0, offsetof(LayerRecord, stride)), 0xFFFFFFC0u); }) ==
        Status::kBadShape);
  CHECK(damaged(blob, [&](Buffer& b) { b.Put<uint32_t>(LayerField(0, offsetof(LayerRecord, out_size)), 0xFFFFFFFFu); }) ==
        Status::kBadShape);

  // int16 weights beyond the overflow limit, int4 nibbles holding -8.
  const std::vector<uint8_t> i16 = SchemeBlob(WeightType::kI16);
  CHECK(damaged(i16, [&](Buffer& b) {
          b.Put<int16_t>(b.Get<uint32_t>(LayerField(0, offsetof(LayerRecord, weights_offset))) + 2,
                         static_cast<int16_t>(I16WeightLimit(784) + 1));
        }) == Status::kBadLayer);
  const std::vector<uint8_t> i4 = SchemeBlob(WeightType::kI4);
  CHECK(damaged(i4, [&](Buffer& b) {
          b.data()[b.Get<uint32_t>(LayerField(1, offsetof(LayerRecord, weights_offset))) + 5] = 0x80;
        }) == Status::kBadLayer);
  for (const std::vector<uint8_t>* scheme : {&i16, &i4}) {
    // Flipped bits anywhere in the packed weights: the CRC.
    Buffer b(*scheme);
    b.data()[b.Get<uint32_t>(LayerField(0, offsetof(LayerRecord, weights_offset))) + 100] ^= 0x11;
    CHECK(b.Parse() == Status::kBadChecksum);
  }
}

TEST_CASE("truncation at every section boundary of a 1.1 blob") {
  const std::vector<uint8_t> blob = SchemeBlob(WeightType::kI4);
  Buffer whole(blob);
  BlobView view;
  REQUIRE(ParseBlob(whole.data(), whole.size, &view).ok());
  std::vector<size_t> cuts = {64, 128, view.header.header_size + 3 * 64ul,
                              view.ext.metadata_offset, view.ext.kat_input_offset,
                              view.ext.kat_output_offset, blob.size() - 1};
  for (const LayerRecord& l : view.layers) {
    for (uint32_t off : {l.weights_offset, l.bias_offset, l.weight_scale_offset, l.requant_offset}) {
      cuts.push_back(off);
      cuts.push_back(off + 1);
    }
  }
  for (size_t keep : cuts) {
    INFO("kept ", keep, " of ", blob.size());
    CHECK(Buffer(blob, keep).Parse() == Status::kTruncated);
  }
}

// A 28x28 -> 14x14 area model and a 12-feature affine model, int8 with a
// known-answer vector (1.2).
FloatModel AreaModel() {
  FloatModel m = test::RandomModel({196, 40, 10}, 11);
  m.input_rows = m.input_cols = 28;
  m.input_transform.kind = InputTransformKind::kArea;
  m.input_transform.in_rows = m.input_transform.in_cols = 28;
  m.input_transform.out_rows = m.input_transform.out_cols = 14;
  return m;
}
FloatModel AffineModel() {
  FloatModel m = test::RandomModel({12, 8, 3}, 12);
  m.input_rows = 12;
  m.input_cols = 1;
  m.input_transform.kind = InputTransformKind::kAffine;
  for (int i = 0; i < 12; ++i) {
    m.input_transform.scale.push_back(10.0f + i);
    m.input_transform.offset.push_back(128.0f - 3 * i);
  }
  return m;
}
std::vector<uint8_t> TransformBlob(const FloatModel& m) {
  QuantOptions q;
  q.test_input = SyntheticTestInput(m.input_size());
  return Quantize(m, q);
}

TEST_CASE("format 1.2: the input transform round-trips through both kinds") {
  for (const FloatModel& m : {AreaModel(), AffineModel()}) {
    const InputTransformKind kind = m.input_transform.kind;
    INFO("kind ", InputTransformKindName(kind));
    const std::vector<uint8_t> f32 = SerializeFloatModel(m);
    const FloatModel back = DeserializeFloatModel(f32.data(), f32.size(), "m.bin");
    CHECK(back.input_transform.kind == kind);
    CHECK(back.input_transform.scale == m.input_transform.scale);
    CHECK(back.input_transform.offset == m.input_transform.offset);
    CHECK(back.input_transform.out_cols == m.input_transform.out_cols);
    CHECK(back.input_size() == m.input_size());
    CHECK(back.ArchString() == m.ArchString());

    Network net;
    const std::vector<uint8_t> blob = TransformBlob(m);
    const LoadResult r = Network::LoadCopy(blob.data(), blob.size(), &net);
    REQUIRE_MESSAGE(r.ok(), r.message);
    CHECK(net.blob().header.version_minor == 2);
    CHECK(net.input_size() == m.input_size());
    CHECK(net.input_transform().kind == kind);
    CHECK(net.input_transform().out_size == m.layer_input_size());
    CHECK(net.blob().layers[0].in_size == m.layer_input_size());
    if (kind == InputTransformKind::kAffine) CHECK(net.input_transform().scale[3] == 13.0f);
    CheckSelfTestOnEveryTarget(net);
  }
}

TEST_CASE("format 1.2: an area blob predicts the reference's downsampled image on every target") {
  const FloatModel m = AreaModel();
  const std::vector<uint8_t> blob = TransformBlob(m);
  Network net;
  REQUIRE(Network::LoadCopy(blob.data(), blob.size(), &net).ok());
  // Its own plain twin (no transform) fed the reference's 14x14 images.
  FloatModel plain = m;
  plain.input_transform = {};
  plain.input_rows = plain.input_cols = 14;
  const std::vector<uint8_t> plain_blob = QuantizeInt8(plain);
  Network twin;
  REQUIRE(Network::LoadCopy(plain_blob.data(), plain_blob.size(), &twin).ok());
  CHECK(net.arena_bytes() >= twin.arena_bytes() + Network::kMaxBatch * 196 + 28 * 4);
  const size_t count = Network::kMaxBatch + 5;  // two chunks
  std::vector<uint8_t> images(count * 784), small(count * 196);
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>((i * 7919) >> 3);
  for (size_t n = 0; n < count; ++n) {
    AreaDownsample(net.input_transform(), &images[n * 784], &small[n * 196]);
  }
  std::vector<int32_t> want(count * 10), got(count * 10), one(10);
  std::vector<int> want_classes(count), classes(count);
  for (size_t n = 0; n < count; ++n) {
    want_classes[n] = twin.PredictRef(&small[n * 196], &want[n * 10]);
  }
  int ran = 0;
  for (int64_t target : AvailableTargets()) {
    INFO("target ", TargetName(target));
    ForceTarget(target);
    ++ran;
    net.PredictBatch(images.data(), count, got.data(), classes.data());
    CHECK(got == want);
    CHECK(classes == want_classes);
    for (size_t n : {size_t{0}, count - 1}) {
      CHECK(net.Predict(&images[n * 784], one.data()) == want_classes[n]);
      CHECK(std::equal(one.begin(), one.end(), want.begin() + n * 10));
      CHECK(net.PredictRef(&images[n * 784], one.data()) == want_classes[n]);
    }
  }
  ForceTarget(0);
  CHECK(ran > 0);
}

TEST_CASE("format 1.2: PredictFloat quantizes the features, refuses non-finite ones") {
  const FloatModel m = AffineModel();
  const std::vector<uint8_t> blob = TransformBlob(m);
  Network net;
  REQUIRE(Network::LoadCopy(blob.data(), blob.size(), &net).ok());
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[i] = -20.0f + 3.7f * i;
  std::vector<uint8_t> q(12);
  REQUIRE(QuantizeFeatures(net.input_transform(), x.data(), q.data()));
  int32_t want[3], got[3];
  const int want_class = net.PredictRef(q.data(), want);
  CHECK(net.PredictFloat(x.data(), got) == want_class);
  CHECK(std::equal(got, got + 3, want));
  for (float bad : {NAN, INFINITY}) {
    std::vector<float> y = x;
    y[7] = bad;
    int32_t untouched[3] = {5, 6, 7};
    CHECK(net.PredictFloat(y.data(), untouched) == -1);
    CHECK(untouched[0] == 5);
    CHECK(untouched[2] == 7);
  }
  // Not an affine blob: -1, nothing written.
  Network plain;
  const std::vector<uint8_t> area = TransformBlob(AreaModel());
  REQUIRE(Network::LoadCopy(area.data(), area.size(), &plain).ok());
  std::vector<float> img(784, 1.0f);
  int32_t logits[10] = {};
  CHECK(plain.PredictFloat(img.data(), logits) == -1);
  CHECK(logits[0] == 0);
}

TEST_CASE("format 1.2: every bad transform parameter is refused at load, by name") {
  const std::vector<uint8_t> area = TransformBlob(AreaModel());
  const std::vector<uint8_t> affine = TransformBlob(AffineModel());
  const size_t off_at = sizeof(FileHeader) + offsetof(HeaderExtension, input_transform_offset);
  const size_t size_at = sizeof(FileHeader) + offsetof(HeaderExtension, input_transform_size);
  struct Case {
    const char* what;
    const std::vector<uint8_t>* blob;
    std::function<void(Buffer&, size_t)> edit;  // section offset
    Status status;
    const char* message;
  };
  const Case cases[] = {
      {"offset without size", &area, [&](Buffer& b, size_t) { b.Put<uint32_t>(size_at, 0); },
       Status::kBadHeader, "input transform offset"},
      {"misaligned", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(off_at, uint32_t(s + 4)); },
       Status::kMisaligned, "input transform offset"},
      {"outside", &area, [&](Buffer& b, size_t) { b.Put<uint32_t>(off_at, 0xFFFFFFC0u); },
       Status::kOutOfBounds, "input transform ["},
      {"short", &area, [&](Buffer& b, size_t) { b.Put<uint32_t>(size_at, 32); },
       Status::kBadHeader, "shorter than its 64-byte header"},
      {"size too big", &area, [&](Buffer& b, size_t) { b.Put<uint32_t>(size_at, 128); },
       Status::kBadHeader, "needs 64"},
      {"affine size", &affine, [&](Buffer& b, size_t) { b.Put<uint32_t>(size_at, 64); },
       Status::kBadHeader, "needs 176"},
      {"kind 0", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s, 0); },
       Status::kBadTransform, "kind 0"},
      {"kind 3", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s, 3); },
       Status::kBadTransform, "kind 3"},
      {"in_size", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 4, 785); },
       Status::kBadTransform, "in_size 785"},
      {"area out > in", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 20, 29); },
       Status::kBadTransform, "expected 1 <= out <= in"},
      {"area out 0", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 24, 0); },
       Status::kBadTransform, "expected 1 <= out <= in"},
      {"area out_size", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 24, 13); },
       Status::kBadTransform, "do not agree"},
      {"area in_rows", &area, [&](Buffer& b, size_t s) {
         b.Put<uint32_t>(s + 12, 14); b.Put<uint32_t>(s + 16, 56); },
       Status::kBadTransform, "header image 28x28"},
      {"area too large", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 12, 4097); },
       Status::kBadTransform, "<= 4096"},
      {"layer 0", &area, [&](Buffer& b, size_t s) {
         b.Put<uint32_t>(s + 8, 14 * 13); b.Put<uint32_t>(s + 24, 13); },
       Status::kBadShape, "transformed to 182"},
      {"affine out_size", &affine, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 8, 11); },
       Status::kBadTransform, "affine out_size 11"},
      {"affine rows", &affine, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 12, 12); },
       Status::kBadTransform, "rows/cols"},
      {"reserved", &area, [&](Buffer& b, size_t s) { b.Put<uint32_t>(s + 60, 1); },
       Status::kReservedNotZero, "input transform: reserved"},
      {"scale 0", &affine, [&](Buffer& b, size_t s) { b.Put<float>(s + 64 + 4 * 5, 0.0f); },
       Status::kBadValue, "feature 5 scale"},
      {"scale NaN", &affine, [&](Buffer& b, size_t s) { b.Put<float>(s + 64, NAN); },
       Status::kBadValue, "feature 0 scale"},
      {"offset inf", &affine, [&](Buffer& b, size_t s) { b.Put<float>(s + 128 + 4 * 11, INFINITY); },
       Status::kBadValue, "feature 11 scale"},
      {"in a 1.1 file", &area, [&](Buffer& b, size_t) { b.Put<uint16_t>(offsetof(FileHeader, version_minor), 1); },
       Status::kReservedNotZero, "reserved in format 1.1"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Buffer b(*c.blob);
    c.edit(b, b.Get<uint32_t>(off_at));
    b.FixCrc();
    BlobView view;
    const LoadResult r = ParseBlob(b.data(), b.size, &view);
    CHECK(r.status == c.status);
    CHECK_MESSAGE(r.message.find(c.message) != std::string::npos, r.message);
  }
  // Cut inside the section: truncated.
  for (const std::vector<uint8_t>* blob : {&area, &affine}) {
    Buffer whole(*blob);
    const uint32_t at = whole.Get<uint32_t>(off_at);
    CHECK(Buffer(*blob, at + 1).Parse() == Status::kTruncated);
  }
}

TEST_CASE("golden format 1.0 blob (tests/data) still loads and runs") {
  const std::string path = std::string(EDGEMLP_SOURCE_ROOT) + "/tests/data/golden_v1_0.bin";
  Network net;
  const LoadResult r = Network::LoadFile(path, &net);
  REQUIRE_MESSAGE(r.ok(), r.message);
  CHECK(net.blob().header.version_minor == 0);
  CHECK(net.blob().header.header_size == 64);
  CHECK(net.blob().metadata().empty());
  CHECK(net.SelfTest().status == Status::kNoTestVector);
  // Every target agrees with the reference on it (its MNIST predictions are
  // checked against the ones recorded at creation in cli_test.py).
  const std::vector<uint8_t> x = SyntheticTestInput(784);
  int32_t want[10];
  net.PredictRef(x.data(), want);
  int ran = 0;
  for (int64_t target : AvailableTargets()) {
    ForceTarget(target);
    int32_t got[10];
    net.Predict(x.data(), got);
    CHECK(std::memcmp(got, want, sizeof(got)) == 0);
    ++ran;
  }
  ForceTarget(0);
  CHECK(ran > 0);
}

}  // namespace
}  // namespace edgemlp
