// Feature files (CSV, .npy, .npz): good files of every layout, every
// malformation with the file, line and column it names, the input transform
// chosen from the training rows and the stratified held-out split.
#include <doctest/doctest.h>
#include <zip.h>

#include <cmath>
#include <cstring>
#include <set>

#include "dataset.h"
#include "edgemlp/input_transform.h"
#include "error.h"
#include "test_util.h"

namespace edgemlp {
namespace {

using test::ErrorOf;

FeatureSet Csv(const std::string& text, const std::string& label_column = "") {
  return ParseCsv(text.data(), text.size(), "t.csv", label_column);
}
std::string CsvError(const std::string& text, const std::string& label_column = "") {
  return ErrorOf([&] { Csv(text, label_column); });
}
bool Has(const std::string& s, const std::string& part) {
  if (s.find(part) != std::string::npos) return true;
  MESSAGE(s);
  return false;
}

TEST_CASE("CSV: label first by default, header detected, values read exactly") {
  const FeatureSet d = Csv("label,a,b\n1,0.5,-2\n0,1e3,4\n2,7,8\n");
  CHECK(d.features == 2);
  CHECK(d.classes == 3);
  CHECK(d.labels == std::vector<uint8_t>{1, 0, 2});
  CHECK(d.x == std::vector<float>{0.5f, -2.0f, 1000.0f, 4.0f, 7.0f, 8.0f});
  CHECK(Has(d.layout, "header row, label column 'label'"));
  // No header: the first line is data.
  const FeatureSet n = Csv("1,2,3\r\n0,5,6\r\n\r\n");
  CHECK(n.size() == 2);
  CHECK(n.x == std::vector<float>{2, 3, 5, 6});
}

TEST_CASE("CSV: --label-column by name, number or last; quotes and tabs") {
  const std::string text = "\"x, one\",y,class\n1.5,2,1\n3,4,0\n";
  const FeatureSet by_name = Csv(text, "class");
  CHECK(by_name.labels == std::vector<uint8_t>{1, 0});
  CHECK(by_name.x == std::vector<float>{1.5f, 2, 3, 4});
  CHECK(Csv(text, "3").labels == by_name.labels);
  CHECK(Csv(text, "last").x == by_name.x);
  CHECK(Has(CsvError(text, "klass"), "no label column 'klass'"));
  CHECK(Has(CsvError(text, "klass"), "'x, one'"));
  const FeatureSet tabs = Csv("y\tf\n1\t2.5\n0\t3\n");
  CHECK(tabs.x == std::vector<float>{2.5f, 3});
}

TEST_CASE("CSV: scikit-learn's first line gives the class names and keeps the label last") {
  const FeatureSet d = Csv("3,2,setosa,versicolor,virginica\n5.1,3.5,0\n4.9,3,2\n6,2,1\n");
  CHECK(d.class_names == std::vector<std::string>{"setosa", "versicolor", "virginica"});
  CHECK(d.labels == std::vector<uint8_t>{0, 2, 1});
  CHECK(d.x == std::vector<float>{5.1f, 3.5f, 4.9f, 3, 6, 2});
  CHECK(Has(CsvError("3,2,a,b\n5,3,0\n4,3,1\n"), "2 data rows but the first line declares 3"));
  CHECK(Has(CsvError("2,2,a,b\n5,3,0\n4,3,2\n"), "t.csv:3: column 3: label 2 (expected an integer class 0..1)"));
}

TEST_CASE("CSV: every malformation names the file, line and column") {
  CHECK(Has(CsvError(""), "t.csv: empty"));
  CHECK(Has(CsvError("\n\n"), "t.csv: empty"));
  CHECK(Has(CsvError("label,a\n"), "no data rows"));
  CHECK(Has(CsvError("label,a,b\n1,2,3\n0,4\n"), "t.csv:3: 2 fields (expected 3, as the header has)"));
  CHECK(Has(CsvError("1,2,3\n0,4,5,6\n"), "t.csv:2: 4 fields (expected 3)"));
  CHECK(Has(CsvError("label,a,b\n1,2,x7\n"), "t.csv:2: column 3 ('b'): 'x7' is not a number"));
  CHECK(Has(CsvError("1,2,3\n0,5,\n"), "t.csv:2: column 3: '' is not a number"));
  CHECK(Has(CsvError("1,2\n0,nan\n"), "t.csv:2: column 2: value NaN"));
  CHECK(Has(CsvError("1,2\n0,inf\n"), "t.csv:2: column 2: value inf"));
  CHECK(Has(CsvError("1,2\n0,1e39\n"), "within float32's range"));
  CHECK(Has(CsvError("1.5,2\n"), "t.csv:1: column 1: label 1.5 (expected an integer class 0..255)"));
  CHECK(Has(CsvError("-1,2\n"), "label -1"));
  CHECK(Has(CsvError("256,2\n"), "label 256"));
  CHECK(Has(CsvError("1,\"2\n"), "a quote is never closed"));
  CHECK(Has(CsvError("7\n"), "1 column(s)"));
  // Training needs every class 0..max.
  const FeatureSet gap = Csv("0,1\n2,3\n");
  CHECK(gap.classes == 3);
  CHECK(Has(ErrorOf([&] { RequireEveryClass(gap, "t.csv"); }), "t.csv: class 1 has no examples"));
}

// A .npy file: version 1.0 header padded to 64 bytes, then the data.
std::vector<uint8_t> Npy(const std::string& descr, const std::string& shape, bool fortran,
                         const void* data, size_t bytes) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " +
                       (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size());
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data), bytes);
  return std::vector<uint8_t>(out.begin(), out.end());
}

TEST_CASE("NumPy .npy: a 2-D array with a label column, any dtype and order") {
  const float f32[] = {1, 0.5f, 2, 0, 3, 4};  // rows: label, a, b
  std::vector<uint8_t> file = Npy("<f4", "(2, 3)", false, f32, sizeof(f32));
  FeatureSet d = ParseNpy(file.data(), file.size(), "t.npy");
  CHECK(d.labels == std::vector<uint8_t>{1, 0});
  CHECK(d.x == std::vector<float>{0.5f, 2, 3, 4});
  // Big-endian int16, Fortran order, label last.
  const int16_t c_order[] = {-5, 7, 1, 300, 9, 0};  // 2 x 3, C order
  uint8_t be[12];
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) {  // Fortran: column after column
      const uint16_t v = static_cast<uint16_t>(c_order[r * 3 + c]);
      be[2 * (c * 2 + r)] = static_cast<uint8_t>(v >> 8);
      be[2 * (c * 2 + r) + 1] = static_cast<uint8_t>(v);
    }
  }
  file = Npy(">i2", "(2, 3)", true, be, sizeof(be));
  d = ParseNpy(file.data(), file.size(), "t.npy", "last");
  CHECK(d.labels == std::vector<uint8_t>{1, 0});
  CHECK(d.x == std::vector<float>{-5, 7, 300, 9});

  CHECK(Has(ErrorOf([&] { ParseNpy(file.data(), file.size() - 1, "t.npy"); }),
            "need 12 bytes of data but the file has 11"));
  file = Npy("<f4", "(6,)", false, f32, sizeof(f32));
  CHECK(Has(ErrorOf([&] { ParseNpy(file.data(), file.size(), "t.npy"); }), "expected 2-D"));
  file = Npy("<c8", "(1, 2)", false, f32, 8);
  CHECK(Has(ErrorOf([&] { ParseNpy(file.data(), file.size(), "t.npy"); }), "dtype '<c8'"));
  const float nan_row[] = {0, NAN};
  file = Npy("<f4", "(1, 2)", false, nan_row, sizeof(nan_row));
  CHECK(Has(ErrorOf([&] { ParseNpy(file.data(), file.size(), "t.npy"); }), "row 0, column 1: value NaN"));
  const uint8_t junk[] = "not numpy at all";
  CHECK(Has(ErrorOf([&] { ParseNpy(junk, sizeof(junk), "t.npy"); }), "t.npy: not a NumPy .npy"));
}

TEST_CASE("--label-column none: every column is a feature (rows to predict)") {
  const FeatureSet h = Csv("a,b\n1.5,2\n3,4\n", "none");
  CHECK(h.features == 2);
  CHECK(h.x == std::vector<float>{1.5f, 2, 3, 4});
  CHECK(h.labels == std::vector<uint8_t>{0, 0});
  CHECK(Csv("7\n8\n", "none").x == std::vector<float>{7, 8});
  // scikit-learn's layout: the label column is dropped.
  const FeatureSet s = Csv("2,2,a,b\n5,3,0\n4,3,1\n", "none");
  CHECK(s.features == 2);
  CHECK(s.x == std::vector<float>{5, 3, 4, 3});
  const float f32[] = {1, 0.5f, 2, 0};
  const std::vector<uint8_t> npy = Npy("<f4", "(2, 2)", false, f32, sizeof(f32));
  CHECK(ParseNpy(npy.data(), npy.size(), "t.npy", "none").x == std::vector<float>{1, 0.5f, 2, 0});
}

// An .npz (zip) of the given members, made with libzip.
std::vector<uint8_t> Npz(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members,
                         const test::TempDir& dir) {
  const std::string path = dir.File("t.npz");
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  REQUIRE(z != nullptr);
  for (const auto& m : members) {
    zip_source_t* src = zip_source_buffer(z, m.second.data(), m.second.size(), 0);
    REQUIRE(zip_file_add(z, m.first.c_str(), src, ZIP_FL_OVERWRITE) >= 0);
  }
  REQUIRE(zip_close(z) == 0);
  return test::ReadBytes(path);
}

TEST_CASE("NumPy .npz: arrays x (flattened per example) and y") {
  test::TempDir dir;
  const double x[] = {1, 2, 3, 4, 5, 6, 7, 8};  // 2 examples of 2x2
  const int64_t y[] = {1, 0};
  const std::vector<uint8_t> xs = Npy("<f8", "(2, 2, 2)", false, x, sizeof(x));
  const std::vector<uint8_t> ys = Npy("<i8", "(2,)", false, y, sizeof(y));
  std::vector<uint8_t> file = Npz({{"x.npy", xs}, {"y.npy", ys}}, dir);
  const FeatureSet d = ParseNpz(file.data(), file.size(), "t.npz");
  CHECK(d.features == 4);
  CHECK(d.labels == std::vector<uint8_t>{1, 0});
  CHECK(d.x == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});

  file = Npz({{"x.npy", xs}}, dir);
  CHECK(Has(ErrorOf([&] { ParseNpz(file.data(), file.size(), "t.npz"); }), "has no array 'y'"));
  const int64_t y3[] = {1, 0, 1};
  file = Npz({{"x.npy", xs}, {"y.npy", Npy("<i8", "(3,)", false, y3, sizeof(y3))}}, dir);
  CHECK(Has(ErrorOf([&] { ParseNpz(file.data(), file.size(), "t.npz"); }),
            "y has shape (3,) but x has (2, 2, 2)"));
  const float yf[] = {0.5f, 1};
  file = Npz({{"x.npy", xs}, {"y.npy", Npy("<f4", "(2,)", false, yf, sizeof(yf))}}, dir);
  CHECK(Has(ErrorOf([&] { ParseNpz(file.data(), file.size(), "t.npz"); }), "y[0]: label 0.5"));
  file = Npz({{"x.npy", xs}, {"y.npy", ys}}, dir);
  file.resize(file.size() / 2);
  CHECK(Has(ErrorOf([&] { ParseNpz(file.data(), file.size(), "t.npz"); }), "t.npz: not a readable .npz"));
}

TEST_CASE("the transform maps each feature's training range onto 0..255 via QuantizeFeatures") {
  const FeatureSet d = Csv("0,-1,5,100\n1,3,5,356\n0,1,5,228\n1,9,5,500\n");
  const std::vector<size_t> train = {0, 1, 2};  // row 3 is "test": outside the range
  const FloatInputTransform t = ChooseFeatureTransform(d, train);
  REQUIRE(t.kind == InputTransformKind::kAffine);
  const Dataset q = QuantizeRows(d, {0, 1, 2, 3}, t, 2);
  CHECK(q.images.rows == 3);  // features x 1
  CHECK(q.images.cols == 1);
  CHECK(q.classes == 2);
  // Feature 1 spans -1..3: -1 -> 0, 3 -> 255, 1 -> 127.5 -> 128 (half to even), 9 clamps.
  // Feature 2 is constant (5): it maps to 0. Feature 3 spans 100..356 (scale 255/256).
  const std::vector<uint8_t> want = {0, 0, 0, 255, 0, 255, 128, 0, 128, 255, 0, 255};
  CHECK(q.images.pixels == want);
  CHECK(q.labels == std::vector<uint8_t>{0, 1, 0, 1});
  // The same bytes as the runtime's own function, row by row.
  uint8_t row[3];
  REQUIRE(QuantizeFeatures(t.View(), d.row(2), row));
  CHECK(std::memcmp(row, q.images.image(2), 3) == 0);
}

TEST_CASE("the held-out split is stratified, seeded, disjoint and keeps rare classes") {
  std::vector<uint8_t> labels;
  for (int i = 0; i < 100; ++i) labels.push_back(i < 70 ? 0 : 1);
  labels.push_back(2);  // one example: stays in training
  std::vector<size_t> train, test, train2, test2;
  SplitHeldOut(labels, 3, 0.2, 7, &train, &test);
  CHECK(test.size() == 20);  // 14 of class 0, 6 of class 1
  int per_class[3] = {0, 0, 0};
  for (size_t i : test) per_class[labels[i]]++;
  CHECK(per_class[0] == 14);
  CHECK(per_class[1] == 6);
  CHECK(per_class[2] == 0);
  std::set<size_t> all(train.begin(), train.end());
  all.insert(test.begin(), test.end());
  CHECK(all.size() == labels.size());
  CHECK(train.size() + test.size() == labels.size());
  SplitHeldOut(labels, 3, 0.2, 7, &train2, &test2);
  CHECK(test2 == test);
  CHECK(train2 == train);
  SplitHeldOut(labels, 3, 0.2, 8, &train2, &test2);
  CHECK(test2 != test);
}

TEST_CASE("LoadData: a CSV file trains on the transform of its training rows") {
  test::TempDir dir;
  std::string text = "y,a,b\n";
  for (int i = 0; i < 50; ++i) {
    text += std::to_string(i % 2) + "," + std::to_string(i) + "," + std::to_string(i % 7) + "\n";
  }
  test::WriteBytes(dir.File("d.csv"), std::vector<uint8_t>(text.begin(), text.end()));
  DataSpec spec;
  spec.data = dir.File("d.csv");
  const LoadedData data = LoadData(spec);
  CHECK(data.features);
  CHECK(data.train.size() == 40);
  CHECK(data.test.size() == 10);
  CHECK(data.test_x.size() == 20);
  CHECK(data.train.classes == 2);
  CHECK(data.input_size() == 2);
  CHECK(Has(data.split, "10 of 50 rows held out (20% of each class, split seed 1)"));
  // An existing model's transform is used as it is; its shape must fit.
  ModelShape shape{2, 2, data.transform};
  shape.transform.scale[0] = 1;
  shape.transform.offset[0] = 0;
  const LoadedData again = LoadData(spec, &shape);
  for (size_t i = 0; i < again.test.size(); ++i) {
    CHECK(again.test.images.image(i)[0] == static_cast<uint8_t>(std::min(again.test_x[2 * i], 255.0f)));
  }
  shape.input_size = 3;
  CHECK(Has(ErrorOf([&] { LoadData(spec, &shape); }), "has 2 features per row but the model takes 3"));
  spec.test_data = dir.File("missing.csv");
  CHECK(Has(ErrorOf([&] { LoadData(spec); }), "missing.csv: cannot open"));
}

}  // namespace
}  // namespace edgemlp
