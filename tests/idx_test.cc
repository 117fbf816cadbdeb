// IDX reader: good files (plain and gzip) and every malformation, with
// files generated here.
#include <doctest/doctest.h>
#include <zlib.h>

#include "error.h"
#include "idx.h"
#include "test_util.h"

namespace edgemlp {
namespace {

void PutBe32(std::vector<uint8_t>* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<uint8_t>(v >> s));
}

std::vector<uint8_t> ImagesFile(uint32_t magic, uint32_t count, uint32_t rows, uint32_t cols,
                                size_t pixel_bytes) {
  std::vector<uint8_t> f;
  PutBe32(&f, magic);
  PutBe32(&f, count);
  PutBe32(&f, rows);
  PutBe32(&f, cols);
  for (size_t i = 0; i < pixel_bytes; ++i) f.push_back(static_cast<uint8_t>(i * 7));
  return f;
}

std::vector<uint8_t> LabelsFile(uint32_t count, size_t label_bytes, uint8_t value = 3) {
  std::vector<uint8_t> f;
  PutBe32(&f, 0x801);
  PutBe32(&f, count);
  for (size_t i = 0; i < label_bytes; ++i) f.push_back(value);
  return f;
}

void WriteGz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

using test::ErrorOf;

TEST_CASE("good files, plain and gzipped, read identically") {
  test::TempDir dir;
  const auto images = ImagesFile(0x803, 3, 4, 5, 60);
  test::WriteBytes(dir.File("img"), images);
  WriteGz(dir.File("img.gz"), images);
  const ImageSet a = ReadIdxImages(dir.File("img"));
  const ImageSet b = ReadIdxImages(dir.File("img.gz"));
  CHECK(a.count == 3);
  CHECK(a.rows == 4);
  CHECK(a.cols == 5);
  CHECK(a.pixels.size() == 60);
  CHECK(a.pixels[59] == static_cast<uint8_t>(59 * 7));
  CHECK(a.pixels == b.pixels);
  test::WriteBytes(dir.File("lab"), LabelsFile(3, 3));
  const Dataset d = ReadIdxDataset(dir.File("img.gz"), dir.File("lab"));
  CHECK(d.size() == 3);
}

TEST_CASE("malformed files: specific errors naming the file") {
  test::TempDir dir;
  auto images_error = [&](const std::vector<uint8_t>& bytes) {
    test::WriteBytes(dir.File("bad-images"), bytes);
    return ErrorOf([&] { ReadIdxImages(dir.File("bad-images")); });
  };
  std::string e = images_error(ImagesFile(0x801, 1, 2, 2, 4));
  CHECK(e.find("bad-images") != std::string::npos);
  CHECK(e.find("wrong magic 0x00000801 (expected 0x00000803") != std::string::npos);
  e = images_error(ImagesFile(0x803, 10, 28, 28, 784 * 3));
  CHECK(e.find("truncated") != std::string::npos);
  e = images_error({0, 0, 8});
  CHECK(e.find("truncated: the file ends inside the header") != std::string::npos);
  e = images_error(ImagesFile(0x803, 1, 2, 2, 5));
  CHECK(e.find("bytes after the data") != std::string::npos);
  e = images_error(ImagesFile(0x803, 1, 0, 28, 0));
  CHECK(e.find("image size 0x28") != std::string::npos);
  // A 16-byte file claiming 4 billion images fails without allocating them.
  e = images_error(ImagesFile(0x803, 0xFFFFFFFFu, 1, 1, 0));
  CHECK(e.find("truncated") != std::string::npos);
  e = images_error(ImagesFile(0x803, 0xFFFFFFFFu, 4096, 4096, 0));
  CHECK(e.find("more than any IDX image set") != std::string::npos);

  e = ErrorOf([&] { ReadIdxLabels(dir.File("nope")); });
  CHECK(e.find("nope: cannot open") != std::string::npos);
}

TEST_CASE("image and label counts must agree") {
  test::TempDir dir;
  test::WriteBytes(dir.File("img"), ImagesFile(0x803, 3, 2, 2, 12));
  test::WriteBytes(dir.File("lab"), LabelsFile(4, 4));
  const std::string e = ErrorOf([&] { ReadIdxDataset(dir.File("img"), dir.File("lab")); });
  CHECK(e.find("has 3 images but") != std::string::npos);
  CHECK(e.find("has 4 labels") != std::string::npos);
}

TEST_CASE("LoadMnist says how to get missing data") {
  test::TempDir dir;
  const std::string e = ErrorOf([&] { LoadMnist(dir.path()); });
  CHECK(e.find("train-images-idx3-ubyte(.gz): missing") != std::string::npos);
  CHECK(e.find("fetch-mnist.sh") != std::string::npos);
}

}  // namespace
}  // namespace edgemlp

namespace edgemlp {
namespace {

using test::ErrorOf;

void WriteSet(const test::TempDir& dir, const std::string& prefix, uint32_t rows, uint32_t cols,
              const std::vector<uint8_t>& labels) {
  const uint32_t n = static_cast<uint32_t>(labels.size());
  test::WriteBytes(dir.File(prefix + "-images-idx3-ubyte"),
                   ImagesFile(0x803, n, rows, cols, size_t{n} * rows * cols));
  std::vector<uint8_t> f;
  PutBe32(&f, 0x801);
  PutBe32(&f, n);
  f.insert(f.end(), labels.begin(), labels.end());
  test::WriteBytes(dir.File(prefix + "-labels-idx1-ubyte"), f);
}

TEST_CASE("IDX sets of any image size and class count; every class needs a training image") {
  test::TempDir dir;
  // 5x3 images, 12 classes (0..11) in training; the test set uses fewer.
  std::vector<uint8_t> train;
  for (int i = 0; i < 24; ++i) train.push_back(static_cast<uint8_t>(i % 12));
  WriteSet(dir, "train", 5, 3, train);
  WriteSet(dir, "t10k", 5, 3, {0, 3, 7});
  const Mnist m = LoadMnist(dir.path());
  CHECK(m.train.images.rows == 5);
  CHECK(m.train.images.cols == 3);
  CHECK(m.train.classes == 12);
  CHECK(m.test.classes == 12);  // the larger of the two sets
  // A label beyond the training classes makes class 12 empty in training.
  WriteSet(dir, "t10k", 5, 3, {0, 13});
  const std::string e = ErrorOf([&] { LoadMnist(dir.path()); });
  CHECK(e.find("class 12 has no training images") != std::string::npos);
}

}  // namespace
}  // namespace edgemlp
