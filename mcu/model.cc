// Model: a validated blob in flash, run in the caller's static arena.
#include <cstring>
#include <string>

#include "kernels.h"
#include "mcu.h"

namespace edgemlp::mcu {

namespace {

LoadResult Fail(Status status, std::string message) {
  return LoadResult{status, std::move(message)};
}

// Lowest index on ties, as edgemlp::ArgMax (runtime/src/network.cc).
int ArgMaxOf(const int32_t* values, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) {
    if (values[i] > values[best]) best = i;
  }
  return static_cast<int>(best);
}

}  // namespace

LoadResult Model::Load(const uint8_t* bytes, size_t size, const Workspace& ws) {
  HeaderExtension ext{};
  {
    // The view's layer list is the only heap use; it is freed on leaving.
    BlobView view;
    LoadResult r = ParseBlob(bytes, size, &view);
    if (!r.ok()) return r;
    if (view.header.kind != static_cast<uint32_t>(BlobKind::kInt8)) {
      return Fail(Status::kWrongKind, "this is a float model; the MCU core runs int8 blobs");
    }
    uint32_t max_stride = 0;
    size_t rows = 0;
    for (const LayerRecord& l : view.layers) {
      if (l.stride > max_stride) max_stride = l.stride;
      rows += l.out_size;
    }
    transform_ = view.input_transform();
    if (transform_.kind == InputTransformKind::kAffine) {
      return Fail(Status::kBadTransform,
                  "the blob has an affine input transform (float features); the MCU core "
                  "takes u8 images: only an area transform, or none");
    }
    if (transform_.kind == InputTransformKind::kArea &&
        transform_.out_size > ws.transformed_bytes) {
      return Fail(Status::kBadShape,
                  "the area transform's " + std::to_string(transform_.out_size) +
                      " outputs do not fit the arena (sized for " +
                      std::to_string(ws.transformed_bytes) +
                      "): build the firmware with this model's header");
    }
    if (view.layers.size() > ws.max_layers || max_stride > ws.act_bytes || rows > ws.max_rows ||
        view.header.output_size > ws.max_outputs) {
      return Fail(Status::kBadShape,
                  std::to_string(view.layers.size()) + " layers, stride " +
                      std::to_string(max_stride) + ", " + std::to_string(rows) +
                      " rows do not fit the arena (sized for " + std::to_string(ws.max_layers) +
                      ", " + std::to_string(ws.act_bytes) + ", " + std::to_string(ws.max_rows) +
                      "): build the firmware with this model's header");
    }
    int32_t* compensation = ws.compensation;
    for (size_t i = 0; i < view.layers.size(); ++i) {
      DenseI8& layer = ws.layers[i];
      layer = edgemlp::internal::LayerView(bytes, view.layers[i]);
      if (layer.weight_type != WeightType::kI8) continue;
      edgemlp::internal::ComputeSignedInputCompensation(layer, compensation);
      layer.signed_input_compensation = compensation;
      layer.max_abs_weight = edgemlp::internal::MaxAbsWeight(layer);
      compensation += layer.out_size;
    }
    ws_ = ws;
    layer_count_ = view.layers.size();
    input_size_ = view.header.input_size;
    output_size_ = view.header.output_size;
    ext = view.ext;
  }
  if (ext.kat_input_offset == 0) {
    layer_count_ = 0;
    return Fail(Status::kNoTestVector,
                "the blob has no known-answer vector (format 1.0): re-export it with "
                "`edgemlp export --format c-header`");
  }
  LoadResult r = CheckKnownAnswer(bytes, ext, false);
  if (r.ok()) r = CheckKnownAnswer(bytes, ext, true);
  if (!r.ok()) layer_count_ = 0;
  return r;
}

LoadResult Model::CheckKnownAnswer(const uint8_t* bytes, const HeaderExtension& ext,
                                   bool reference) {
  int32_t* logits = ws_.logits;
  if (reference) {
    PredictRef(bytes + ext.kat_input_offset, logits);
  } else {
    Predict(bytes + ext.kat_input_offset, logits);
  }
  for (size_t i = 0; i < output_size_; ++i) {
    int32_t want;
    std::memcpy(&want, bytes + ext.kat_output_offset + 4 * i, 4);
    if (logits[i] != want) {
      return Fail(Status::kSelfTestFailed,
                  std::string("known-answer test failed (") +
                      (reference ? "reference" : KernelName()) + " kernels): logit " +
                      std::to_string(i) + " is " + std::to_string(logits[i]) + ", expected " +
                      std::to_string(want));
    }
  }
  return {};
}

const uint8_t* Model::Transform(const uint8_t* pixels) {
  if (transform_.kind != InputTransformKind::kArea) return pixels;
  AreaDownsample(transform_, pixels, ws_.transformed);
  return ws_.transformed;
}

int Model::Predict(const uint8_t* pixels, int32_t* logits) {
  pixels = Transform(pixels);
  ForwardMcu(ws_.layers, layer_count_, pixels, ws_.act_a, ws_.act_b, logits);
  return ArgMaxOf(logits, output_size_);
}

int Model::PredictRef(const uint8_t* pixels, int32_t* logits) {
  pixels = Transform(pixels);
  edgemlp::internal::ForwardI8Ref(ws_.layers, layer_count_, pixels, ws_.act_a, ws_.act_b,
                                  logits);
  return ArgMaxOf(logits, output_size_);
}

}  // namespace edgemlp::mcu
