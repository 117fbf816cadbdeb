// Labelled data of any shape: CSV and NumPy (.npy, .npz) files of float
// features, read as untrusted input (every error names the file, and for
// CSV the line and column), and how such features become the u8 inputs the
// network takes: an affine input transform chosen from the training rows.
#ifndef EDGEMLP_TRAINER_DATASET_H_
#define EDGEMLP_TRAINER_DATASET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "idx.h"
#include "model.h"

namespace edgemlp {

// Rows of float features with one integer class label each.
struct FeatureSet {
  uint32_t features = 0;                 // per row
  uint32_t classes = 0;                  // labels are 0..classes-1, each present
  std::vector<float> x;                  // size() x features, row-major, all finite
  std::vector<uint8_t> labels;
  std::vector<std::string> class_names;  // from the file when it names them (else empty)
  std::string layout;                    // how the file was read, e.g. "CSV, header row, label column 1"
  size_t size() const { return labels.size(); }
  const float* row(size_t i) const { return x.data() + i * features; }
};

// The most classes a label may name (labels are stored as uint8_t).
inline constexpr uint32_t kMaxClasses = 256;

// Which column holds the label (CSV and 2-D .npy): "" or "first" (the
// default), "last", a header name, or a 1-based column number; "none":
// every column is a feature and every label 0 (rows to predict).
// Throw InputError naming the file (CSV: line and column) and what was
// expected: ragged rows, non-numbers, NaN/inf, a label that is not an
// integer in 0..255 (or beyond the classes the file names), an empty file.
//
// CSV: comma-separated (tab if the first line has tabs and no comma), RFC
// 4180 quotes, CRLF or LF, blank lines skipped. The first line is a header
// when a field is not a number. scikit-learn's bundled files start with
// "n_samples,n_features,class names..." and keep the label last: that line
// is recognised, its counts checked and its names kept.
FeatureSet ParseCsv(const char* text, size_t size, const std::string& name,
                    const std::string& label_column = "");
// A NumPy .npy file holding a 2-D array: one row per example, the label in
// `label_column` (as for CSV; no header, so no names).
FeatureSet ParseNpy(const uint8_t* bytes, size_t size, const std::string& name,
                    const std::string& label_column = "");
// A NumPy .npz archive (stored or deflated zip) with arrays `x` (n x ...,
// flattened per example; float or integer) and `y` (n integer labels).
FeatureSet ParseNpz(const uint8_t* bytes, size_t size, const std::string& name);

// Throws InputError naming the first class in 0..classes-1 without an
// example in `data` (training needs one of each).
void RequireEveryClass(const FeatureSet& data, const std::string& name);

// Reads a .csv (or .csv.gz), .npy or .npz file, by its extension.
FeatureSet ReadFeatureFile(const std::string& path, const std::string& label_column = "");
// True for the names ReadFeatureFile takes (else --data is an IDX directory).
bool IsFeatureFile(const std::string& path);

// The affine input transform chosen from `rows` of `data`, per feature:
// q = clamp(round(x * scale + offset), 0, 255) with the feature's training
// minimum at 0 and maximum at 255 (values outside clamp); a constant
// feature gets scale 1 and offset -value (it maps to 0, i.e. no input).
// Throws InputError when a range is too wide or narrow for float32.
FloatInputTransform ChooseFeatureTransform(const FeatureSet& data,
                                           const std::vector<size_t>& rows);

// A stratified, seeded split: from each class, round(fraction * count)
// examples (in a shuffled order) go to `test`, the rest to `train`, so a
// class with one example stays in training. Both lists come out shuffled.
void SplitHeldOut(const std::vector<uint8_t>& labels, uint32_t classes, double fraction,
                  uint64_t seed, std::vector<size_t>* train, std::vector<size_t>* test);

// The rows `index` of `data`, quantized by the runtime's QuantizeFeatures
// into a u8 Dataset ("images" of features x 1), with `classes` classes.
Dataset QuantizeRows(const FeatureSet& data, const std::vector<size_t>& index,
                     const FloatInputTransform& transform, uint32_t classes);

// Where the data comes from: the --data, --test-data, --label-column,
// --test-fraction and --split-seed options every data-reading command shares.
struct DataSpec {
  std::string data;          // an IDX directory ("" = $EDGEMLP_DATA or data/mnist) or a feature file
  std::string test_data;     // a feature file of test rows; "" = hold out a fraction of `data`
  std::string label_column;  // CSV and .npy (see ParseCsv)
  double test_fraction = 0.2;
  uint64_t split_seed = 1;
};

// A training and a test set as the network sees them (u8), plus what the
// commands need to report and to run float features through the runtime.
struct LoadedData : Mnist {
  bool features = false;          // from a feature file (else IDX images)
  FloatInputTransform transform;  // affine for features; kNone for images
  std::vector<float> test_x;      // features: the raw test rows (test.size() x input)
  std::vector<std::string> class_names;  // when the file names them
  std::string source;             // what was read, e.g. "iris.csv (CSV, header row, ...)"
  std::string split;              // how the test set was found, one sentence
  uint32_t input_size() const { return static_cast<uint32_t>(train.images.image_size()); }
};

// What an existing model takes and gives (eval, export, bench on a model).
struct ModelShape {
  uint32_t input_size = 0;  // what the caller passes
  uint32_t outputs = 0;
  FloatInputTransform transform;
};
ModelShape ShapeOf(const FloatModel& model);

// Reads the data `spec` names. Features get the transform of `model` if
// given (an existing model: eval, export, bench), else one chosen from the
// training rows. Throws InputError naming the file.
LoadedData LoadData(const DataSpec& spec, const ModelShape* model = nullptr);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_DATASET_H_
