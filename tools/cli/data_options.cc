#include "cli/data_options.h"

namespace edgemlp::cli {

void AddDataOptions(CLI::App* cmd, DataSpec* spec) {
  cmd->add_option("--data", spec->data,
                  "MNIST-format IDX directory (else $EDGEMLP_DATA, else ./data/mnist), or a "
                  ".csv/.csv.gz/.tsv/.npy/.npz file of float features (docs/datasets.md)");
  cmd->add_option("--test-data", spec->test_data,
                  "CSV/NumPy data: a separate test file (default: hold out --test-fraction)");
  cmd->add_option("--label-column", spec->label_column,
                  "CSV/.npy: the label column: first (default), last, a header name or a "
                  "1-based number");
  cmd->add_option("--test-fraction", spec->test_fraction,
                  "CSV/NumPy data without --test-data: share of each class held out for test")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.9));
  cmd->add_option("--split-seed", spec->split_seed,
                  "CSV/NumPy data: seed of the held-out split and of the row order")
      ->capture_default_str();
}

LoadedData LoadAndLog(const DataSpec& spec, const FloatModel& model) {
  const ModelShape shape = ShapeOf(model);
  return LoadAndLog(spec, &shape);
}

ModelShape ShapeOfFile(const ModelFile& file) {
  if (!file.is_int8()) {
    return ShapeOf(DeserializeFloatModel(file.bytes(), file.size, file.path));
  }
  ModelShape s;
  s.input_size = file.view.header.input_size;
  s.outputs = file.view.layers.empty() ? 0 : file.view.layers.back().out_size;
  s.transform = FloatInputTransform::FromView(file.view.input_transform());
  return s;
}

LoadedData LoadAndLog(const DataSpec& spec, const ModelShape* model) {
  LoadedData data = LoadData(spec, model);
  Log("data: %s", data.source.c_str());
  Log("%s", data.split.c_str());
  return data;
}

int PredictTestRow(Network& net, const LoadedData& data, size_t i, int32_t* logits,
                   bool reference) {
  // Features: the raw floats through PredictFloat (QuantizeFeatures, then
  // the network); the reference from the rows quantized by the same function.
  if (data.features && !reference) {
    return net.PredictFloat(data.test_x.data() + i * data.input_size(), logits);
  }
  const uint8_t* pixels = data.test.images.image(i);
  return reference ? net.PredictRef(pixels, logits) : net.Predict(pixels, logits);
}

Json DataJson(const LoadedData& data, const DataSpec& spec) {
  Json j = {{"source", data.source},
            {"split", data.split},
            {"features", data.features},
            {"input_size", data.input_size()},
            {"classes", data.train.classes},
            {"train_rows", data.train.size()},
            {"test_rows", data.test.size()}};
  if (data.features && spec.test_data.empty()) {
    j["test_fraction"] = spec.test_fraction;
    j["split_seed"] = spec.split_seed;
  }
  if (!data.class_names.empty()) j["class_names"] = data.class_names;
  return j;
}

}  // namespace edgemlp::cli
