// The float model: what the trainer produces and the quantizer consumes.
// Stored as a float32 blob (same container as the int8 blob).
#ifndef EDGEMLP_TRAINER_MODEL_H_
#define EDGEMLP_TRAINER_MODEL_H_

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "edgemlp/blob_format.h"

namespace edgemlp {

struct DenseLayer {
  Eigen::MatrixXf weights;  // out x in
  Eigen::VectorXf bias;     // out
  Activation activation = Activation::kRelu;
  float calib_max = 0.0f;   // largest output seen on held-out training data
};

struct FloatModel {
  uint32_t input_rows = 28;
  uint32_t input_cols = 28;
  // real input = pixel * input_scale + input_offset
  float input_scale = 1.0f / 255.0f;
  float input_offset = 0.0f;
  std::vector<DenseLayer> layers;
  // Provenance JSON stored in the blob's metadata section ("" if none):
  // how the model was made (seed, dataset digests, tool version...).
  std::string provenance;

  uint32_t input_size() const { return input_rows * input_cols; }
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

// Converts count images of pixels to model input columns.
Eigen::MatrixXf ImagesToInput(const FloatModel& model, const uint8_t* pixels,
                              size_t count);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_MODEL_H_
