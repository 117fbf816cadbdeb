#include "model.h"

#include <cstring>
#include <fstream>

#include "atomic_file.h"
#include "backprop.h"
#include "edgemlp/blob_writer.h"
#include "edgemlp/blob.h"
#include "error.h"

namespace edgemlp {

InputTransform FloatInputTransform::View() const {
  InputTransform t;
  t.kind = kind;
  if (kind == InputTransformKind::kAffine) {
    t.in_size = t.out_size = static_cast<uint32_t>(scale.size());
    t.scale = scale.data();
    t.offset = offset.data();
  } else if (kind == InputTransformKind::kArea) {
    t.in_size = in_rows * in_cols;
    t.out_size = out_rows * out_cols;
    t.in_rows = in_rows;
    t.in_cols = in_cols;
    t.out_rows = out_rows;
    t.out_cols = out_cols;
  }
  return t;
}

FloatInputTransform FloatInputTransform::FromView(const InputTransform& v) {
  FloatInputTransform t;
  t.kind = v.kind;
  if (v.kind == InputTransformKind::kAffine) {
    t.scale.assign(v.scale, v.scale + v.in_size);
    t.offset.assign(v.offset, v.offset + v.in_size);
  } else if (v.kind == InputTransformKind::kArea) {
    t.in_rows = v.in_rows;
    t.in_cols = v.in_cols;
    t.out_rows = v.out_rows;
    t.out_cols = v.out_cols;
  }
  return t;
}

std::string FloatModel::ArchString() const {
  std::string s = std::to_string(layer_input_size());
  for (const DenseLayer& l : layers) s += "-" + std::to_string(l.weights.rows());
  return s;
}

std::vector<uint32_t> ParseArch(const std::string& arch) {
  std::vector<uint32_t> sizes;
  size_t pos = 0;
  while (pos <= arch.size()) {
    const size_t dash = arch.find('-', pos);
    const std::string part =
        arch.substr(pos, dash == std::string::npos ? std::string::npos : dash - pos);
    char* end = nullptr;
    const unsigned long v = std::strtoul(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || v == 0 || v > kMaxLayerWidth) {
      throw InputError("--arch " + arch + ": '" + part +
                       "' is not a layer size (expected sizes 1.." +
                       std::to_string(kMaxLayerWidth) +
                       " joined by '-', e.g. 784-256-128-10)");
    }
    sizes.push_back(static_cast<uint32_t>(v));
    if (dash == std::string::npos) break;
    pos = dash + 1;
  }
  if (sizes.size() < 2) {
    throw InputError("--arch " + arch + ": needs an input and an output size");
  }
  return sizes;
}

std::vector<uint8_t> SerializeFloatModel(const FloatModel& model) {
  FileHeader h{};
  h.kind = static_cast<uint32_t>(BlobKind::kFloat32);
  h.input_size = model.input_size();
  h.input_rows = model.input_rows;
  h.input_cols = model.input_cols;
  h.input_scale = model.input_scale;
  h.input_offset = model.input_offset;
  h.output_size = model.output_size();
  BlobWriter writer(h, static_cast<uint32_t>(model.layers.size()));
  writer.SetInputTransform(model.input_transform.View());
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const DenseLayer& l = model.layers[i];
    const uint32_t in = static_cast<uint32_t>(l.weights.cols());
    const uint32_t out = static_cast<uint32_t>(l.weights.rows());
    const uint32_t stride = (in + 15) / 16 * 16;  // 64-byte rows
    std::vector<float> rows(size_t{out} * stride, 0.0f);
    for (uint32_t r = 0; r < out; ++r) {
      for (uint32_t c = 0; c < in; ++c) rows[size_t{r} * stride + c] = l.weights(r, c);
    }
    LayerRecord rec{};
    rec.in_size = in;
    rec.out_size = out;
    rec.stride = stride;
    rec.activation = static_cast<uint8_t>(l.activation);
    rec.weight_type = static_cast<uint8_t>(WeightType::kF32);
    rec.weights_offset = writer.AddSection(rows.data(), rows.size() * 4);
    rec.bias_offset = writer.AddSection(l.bias.data(), size_t{out} * 4);
    rec.calib_max = l.calib_max;
    writer.SetLayer(static_cast<uint32_t>(i), rec);
  }
  writer.SetMetadata(model.provenance);
  return writer.Finish();
}

void SaveFloatModel(const FloatModel& model, const std::string& path) {
  const std::vector<uint8_t> bytes = SerializeFloatModel(model);
  WriteFileAtomic(path, bytes.data(), bytes.size());
}

FloatModel DeserializeFloatModel(const uint8_t* bytes, size_t size,
                                 const std::string& name) {
  BlobView view;
  const LoadResult r = ParseBlob(bytes, size, &view);
  if (!r.ok()) throw InputError(name + ": " + r.message);
  if (view.header.kind != static_cast<uint32_t>(BlobKind::kFloat32)) {
    throw InputError(name + ": is an int8 blob, expected a float model (the "
                            "output of `edgemlp train`)");
  }
  FloatModel m;
  m.input_rows = view.header.input_rows;
  m.input_cols = view.header.input_cols;
  if (m.input_rows * m.input_cols != view.header.input_size) {
    m.input_rows = view.header.input_size;
    m.input_cols = 1;
  }
  m.input_scale = view.header.input_scale;
  m.input_offset = view.header.input_offset;
  m.input_transform = FloatInputTransform::FromView(view.input_transform());
  for (const LayerRecord& rec : view.layers) {
    DenseLayer l;
    l.weights.resize(rec.out_size, rec.in_size);
    l.bias.resize(rec.out_size);
    const float* w = reinterpret_cast<const float*>(bytes + rec.weights_offset);
    for (uint32_t r = 0; r < rec.out_size; ++r) {
      for (uint32_t c = 0; c < rec.in_size; ++c) l.weights(r, c) = w[size_t{r} * rec.stride + c];
    }
    std::memcpy(l.bias.data(), bytes + rec.bias_offset, size_t{rec.out_size} * 4);
    l.activation = static_cast<Activation>(rec.activation);
    l.calib_max = rec.calib_max;
    m.layers.push_back(std::move(l));
  }
  m.provenance = view.metadata();
  return m;
}

std::vector<uint64_t> ReadFileAligned(const std::string& path, size_t* size) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path + ": cannot open (missing or unreadable)");
  const std::streamoff end = in.tellg();
  if (end < 0) throw InputError(path + ": cannot determine its size");
  if (static_cast<uint64_t>(end) > 0xFFFFFFFFull) {
    throw InputError(path + ": larger than any edgemlp model (4 GiB)");
  }
  *size = static_cast<size_t>(end);
  std::vector<uint64_t> buf((*size + 7) / 8);
  in.seekg(0);
  if (*size > 0 && !in.read(reinterpret_cast<char*>(buf.data()), end)) {
    throw InputError(path + ": read failed");
  }
  return buf;
}

FloatModel LoadFloatModel(const std::string& path) {
  size_t size = 0;
  const std::vector<uint64_t> buf = ReadFileAligned(path, &size);
  return DeserializeFloatModel(reinterpret_cast<const uint8_t*>(buf.data()),
                               size, path);
}

Dataset TransformDataset(const FloatInputTransform& t, const Dataset& raw) {
  const InputTransform view = t.View();
  if (t.kind != InputTransformKind::kArea) {
    throw InputError(std::string("TransformDataset: an area transform is expected, got ") +
                     InputTransformKindName(t.kind));
  }
  if (raw.images.rows != t.in_rows || raw.images.cols != t.in_cols) {
    throw InputError("images are " + std::to_string(raw.images.rows) + "x" +
                     std::to_string(raw.images.cols) + ", the area transform takes " +
                     std::to_string(t.in_rows) + "x" + std::to_string(t.in_cols));
  }
  Dataset out;
  out.classes = raw.classes;
  out.labels = raw.labels;
  out.images.count = raw.images.count;
  out.images.rows = t.out_rows;
  out.images.cols = t.out_cols;
  out.images.pixels.resize(size_t{raw.images.count} * view.out_size);
  for (size_t i = 0; i < raw.images.count; ++i) {
    AreaDownsample(view, raw.images.image(i), out.images.pixels.data() + i * view.out_size);
  }
  return out;
}

void AttachInputTransform(FloatModel* model, const FloatInputTransform& t) {
  const InputTransform view = t.View();
  if (t.kind != InputTransformKind::kNone && view.out_size != model->layer_input_size()) {
    throw InputError("the input transform gives " + std::to_string(view.out_size) +
                     " values, the model's first layer takes " +
                     std::to_string(model->layer_input_size()));
  }
  model->input_transform = t;
  if (t.kind == InputTransformKind::kArea) {
    model->input_rows = t.in_rows;
    model->input_cols = t.in_cols;
  } else if (t.kind == InputTransformKind::kAffine) {
    model->input_rows = view.in_size;
    model->input_cols = 1;
  }
}

Eigen::MatrixXf ImagesToInput(const FloatModel& model, const uint8_t* pixels,
                              size_t count) {
  const InputTransform t = model.input_transform.View();
  if (t.kind == InputTransformKind::kArea) {
    std::vector<uint8_t> small(count * t.out_size);
    for (size_t i = 0; i < count; ++i) {
      AreaDownsample(t, pixels + i * t.in_size, small.data() + i * t.out_size);
    }
    FloatModel plain;  // the same scaling, no transform
    plain.input_rows = t.out_size;
    plain.input_cols = 1;
    plain.input_scale = model.input_scale;
    plain.input_offset = model.input_offset;
    return ImagesToInput(plain, small.data(), count);
  }
  const Eigen::Index n = model.layer_input_size();
  Eigen::Map<const Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic>> raw(
      pixels, n, static_cast<Eigen::Index>(count));
  return (raw.cast<float>().array() * model.input_scale + model.input_offset)
      .matrix();
}

Eigen::MatrixXf Forward(const FloatModel& model, const Eigen::MatrixXf& input,
                        std::vector<Eigen::MatrixXf>* hidden) {
  Eigen::MatrixXf a = input;
  if (hidden) hidden->clear();
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const DenseLayer& l = model.layers[i];
    Eigen::MatrixXf z = l.weights * a;
    z.colwise() += l.bias;
    ApplyActivation(l.activation, &z);
    if (hidden && i + 1 < model.layers.size()) hidden->push_back(z);
    a = std::move(z);
  }
  return a;
}

}  // namespace edgemlp
