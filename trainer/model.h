// The float model: what the trainer produces and the quantizer consumes.
// Stored as a float32 blob (same container as the int8 blob).
#ifndef EDGEMLP_TRAINER_MODEL_H_
#define EDGEMLP_TRAINER_MODEL_H_

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "edgemlp/blob_format.h"
#include "edgemlp/input_transform.h"
#include "idx.h"

namespace edgemlp {

struct DenseLayer {
  Eigen::MatrixXf weights;  // out x in
  Eigen::VectorXf bias;     // out
  Activation activation = Activation::kRelu;
  float calib_max = 0.0f;   // largest output seen on held-out training data
};

// The model's input transform as owned data (format 1.2): the trainer
// applies it to the data once, through the runtime's own functions, and
// trains on the u8 result; export stores it in the int8 blob.
struct FloatInputTransform {
  InputTransformKind kind = InputTransformKind::kNone;
  // affine: one scale and offset per feature (in_size = out_size = size())
  std::vector<float> scale, offset;
  // area: in_rows x in_cols -> out_rows x out_cols
  uint32_t in_rows = 0, in_cols = 0, out_rows = 0, out_cols = 0;

  // The runtime's view (pointers into this object's vectors).
  InputTransform View() const;
  // An owned copy of a view (e.g. a loaded blob's).
  static FloatInputTransform FromView(const InputTransform& view);
};

struct FloatModel {
  // What the caller passes (raw pixels or features; features are
  // input_rows x 1): layer 0 reads the transform's output instead if any.
  uint32_t input_rows = 28;
  uint32_t input_cols = 28;
  // real input = pixel * input_scale + input_offset
  float input_scale = 1.0f / 255.0f;
  float input_offset = 0.0f;
  FloatInputTransform input_transform;  // kind kNone: none
  std::vector<DenseLayer> layers;
  // Provenance JSON stored in the blob's metadata section ("" if none):
  // how the model was made (seed, dataset digests, tool version...).
  std::string provenance;

  uint32_t input_size() const { return input_rows * input_cols; }
  // What layer 0 reads: the transform's output size, or input_size().
  uint32_t layer_input_size() const {
    return input_transform.kind == InputTransformKind::kNone ? input_size()
                                                             : input_transform.View().out_size;
  }
  uint32_t output_size() const {
    return static_cast<uint32_t>(layers.back().weights.rows());
  }
  // "784-256-128-10"
  std::string ArchString() const;
};

// Parses "784-256-128-10" (>= 2 sizes, each 1..32768); throws InputError.
std::vector<uint32_t> ParseArch(const std::string& arch);

// Float blob I/O. Save writes atomically; Load validates (ParseBlob) and
// throws InputError naming the file.
void SaveFloatModel(const FloatModel& model, const std::string& path);
FloatModel LoadFloatModel(const std::string& path);
std::vector<uint8_t> SerializeFloatModel(const FloatModel& model);
FloatModel DeserializeFloatModel(const uint8_t* bytes, size_t size,
                                 const std::string& name);

// Reads a whole file into an 8-byte aligned buffer; throws InputError.
std::vector<uint64_t> ReadFileAligned(const std::string& path, size_t* size);

// Logits for a batch of images (one column each, already scaled to the
// model's real input). Hidden activations are written to `hidden` if given.
Eigen::MatrixXf Forward(const FloatModel& model, const Eigen::MatrixXf& input,
                        std::vector<Eigen::MatrixXf>* hidden = nullptr);

// Converts count inputs of model.input_size() bytes to model input columns:
// an area transform runs first (the runtime's AreaDownsample); u8 input to
// an affine model is its quantized features (as Network::Predict takes them).
Eigen::MatrixXf ImagesToInput(const FloatModel& model, const uint8_t* pixels,
                              size_t count);

// The data a model with transform `t` trains on: the area transform of
// every image (what layer 0 reads, as the runtime computes it); throws
// InputError if the images are not t's input size. Affine features are
// quantized by their reader instead (QuantizeFeatures), so this is for area.
Dataset TransformDataset(const FloatInputTransform& t, const Dataset& raw);

// Gives a model trained on transformed data its transform: from then on it
// takes what the caller has (area: the in_rows x in_cols image; affine: the
// in_size features, input_rows = in_size, input_cols = 1).
void AttachInputTransform(FloatModel* model, const FloatInputTransform& t);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_MODEL_H_
