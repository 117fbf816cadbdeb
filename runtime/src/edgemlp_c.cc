// The C API (edgemlp.h) over edgemlp::Network.
#include "edgemlp/edgemlp.h"

#include <new>
#include <string>

#include "edgemlp/runtime.h"

struct edgemlp_network {
  edgemlp::Network net;
};

namespace {

thread_local std::string g_last_error;

edgemlp_network* Finish(const edgemlp::LoadResult& r, edgemlp::Network* net) {
  if (!r.ok()) {
    g_last_error = r.message;
    return nullptr;
  }
  edgemlp_network* handle = new (std::nothrow) edgemlp_network;
  if (handle == nullptr) {
    g_last_error = "out of memory";
    return nullptr;
  }
  handle->net = std::move(*net);
  g_last_error.clear();
  return handle;
}

// Raw features are floats: u8 input to an affine blob is a caller error.
bool TakesFloats(const edgemlp_network* net) {
  return net->net.input_transform().kind == edgemlp::InputTransformKind::kAffine;
}

}  // namespace

extern "C" {

edgemlp_network* edgemlp_load(const uint8_t* bytes, size_t size) {
  if (bytes == nullptr) {
    g_last_error = "edgemlp_load: bytes is NULL";
    return nullptr;
  }
  edgemlp::Network net;
  const edgemlp::LoadResult r = edgemlp::Network::Load(bytes, size, &net);
  return Finish(r, &net);
}

edgemlp_network* edgemlp_load_file(const char* path) {
  if (path == nullptr) {
    g_last_error = "edgemlp_load_file: path is NULL";
    return nullptr;
  }
  edgemlp::Network net;
  const edgemlp::LoadResult r = edgemlp::Network::LoadFile(path, &net);
  return Finish(r, &net);
}

void edgemlp_free(edgemlp_network* net) { delete net; }

const char* edgemlp_last_error(void) { return g_last_error.c_str(); }

size_t edgemlp_input_size(const edgemlp_network* net) {
  return net->net.input_size();
}

size_t edgemlp_output_size(const edgemlp_network* net) {
  return net->net.output_size();
}

float edgemlp_logit_scale(const edgemlp_network* net) {
  return net->net.logit_scale();
}

size_t edgemlp_arena_bytes(const edgemlp_network* net) {
  return net->net.arena_bytes();
}

size_t edgemlp_max_batch(void) { return edgemlp::Network::kMaxBatch; }

int edgemlp_input_transform(const edgemlp_network* net) {
  return static_cast<int>(net->net.input_transform().kind);
}

int edgemlp_predict(edgemlp_network* net, const uint8_t* pixels,
                    int32_t* logits) {
  if (TakesFloats(net)) return -1;
  return net->net.Predict(pixels, logits);
}

int edgemlp_predict_float(edgemlp_network* net, const float* features, int32_t* logits) {
  return net->net.PredictFloat(features, logits);
}

void edgemlp_predict_batch(edgemlp_network* net, const uint8_t* pixels,
                           size_t count, int32_t* logits, int* classes) {
  if (TakesFloats(net)) {
    for (size_t i = 0; classes != nullptr && i < count; ++i) classes[i] = -1;
    return;
  }
  net->net.PredictBatch(pixels, count, logits, classes);
}

}  // extern "C"
