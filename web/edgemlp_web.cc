// The WebAssembly module's C interface (emscripten): what web/pad.js,
// eval.mjs and bench.mjs call. A thin layer over edgemlp::Network and the
// preprocessing library (preprocess/), the same code as the CLI and the
// firmware; the timing loops run inside the module so that JavaScript call
// overhead and the browser's coarse clock stay out of the numbers.
#include <emscripten/emscripten.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

#include "edgemlp/mnist_frame.h"
#include "edgemlp/runtime.h"

using edgemlp::Network;

namespace {
std::string g_error;  // the last failed load's message
}  // namespace

extern "C" {

// Validates a blob (copied: the caller may free `bytes`) and runs its
// known-answer test on this build's SIMD target. Null on failure; then
// web_error() says why, as the CLI would.
EMSCRIPTEN_KEEPALIVE Network* web_load(const uint8_t* bytes, size_t size) {
  Network* net = new (std::nothrow) Network;
  if (net == nullptr) {
    g_error = "out of memory";
    return nullptr;
  }
  edgemlp::LoadResult r = Network::LoadCopy(bytes, size, net);
  if (r.ok()) {
    r = net->SelfTest();
    if (r.status == edgemlp::Status::kNoTestVector) r = {};  // format 1.0: nothing to check
  }
  if (!r.ok()) {
    g_error = std::string(edgemlp::StatusName(r.status)) + ": " + r.message;
    delete net;
    return nullptr;
  }
  g_error.clear();
  return net;
}

EMSCRIPTEN_KEEPALIVE const char* web_error() { return g_error.c_str(); }
EMSCRIPTEN_KEEPALIVE void web_free(Network* net) { delete net; }
EMSCRIPTEN_KEEPALIVE size_t web_input_size(const Network* net) { return net->input_size(); }
EMSCRIPTEN_KEEPALIVE size_t web_output_size(const Network* net) { return net->output_size(); }

// The kernel family Predict() runs ("WASM" with -msimd128).
EMSCRIPTEN_KEEPALIVE const char* web_target() {
  static const std::string name = edgemlp::KernelName(edgemlp::ChosenTarget());
  return name.c_str();
}

// `count` images one call each, with the SIMD kernels or (reference != 0)
// the scalar reference; as `edgemlp eval` does.
EMSCRIPTEN_KEEPALIVE void web_predict_each(Network* net, const uint8_t* pixels, size_t count,
                                           int reference, int32_t* logits, uint8_t* classes) {
  const size_t in = net->input_size(), out = net->output_size();
  for (size_t i = 0; i < count; ++i) {
    const int c = reference ? net->PredictRef(pixels + i * in, logits + i * out)
                            : net->Predict(pixels + i * in, logits + i * out);
    classes[i] = static_cast<uint8_t>(c);
  }
}

// The batched kernels; same results as web_predict_each, bit for bit.
EMSCRIPTEN_KEEPALIVE void web_predict_batch(Network* net, const uint8_t* pixels, size_t count,
                                            int32_t* logits, uint8_t* classes) {
  const size_t in = net->input_size(), out = net->output_size();
  for (size_t i = 0; i < count; i += Network::kMaxBatch) {
    const size_t n = count - i < Network::kMaxBatch ? count - i : Network::kMaxBatch;
    int chunk[Network::kMaxBatch];
    net->PredictBatch(pixels + i * in, n, logits + i * out, chunk);
    for (size_t k = 0; k < n; ++k) classes[i + k] = static_cast<uint8_t>(chunk[k]);
  }
}

EMSCRIPTEN_KEEPALIVE void web_softmax(const Network* net, const int32_t* logits, float* probs) {
  edgemlp::Softmax(logits, net->output_size(), net->logit_scale(), probs);
}

// A canvas's RGBA pixels -> the 28 x 28 MNIST frame, exactly as
// `edgemlp predict` and the firmware make it from a PNG of the same pixels:
// stb_image's luma (alpha ignored), then PreprocessLikeMnist. Returns the
// number of non-zero pixels of the frame.
EMSCRIPTEN_KEEPALIVE int web_frame_from_rgba(const uint8_t* rgba, int width, int height,
                                             uint8_t* gray, uint8_t* frame) {
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = rgba + 4 * i;
    gray[i] = static_cast<uint8_t>((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
  }
  edgemlp::GrayImage image;
  image.pixels = gray;
  image.width = width;
  image.height = height;
  edgemlp::PreprocessLikeMnist(image, frame);
  int ink = 0;
  for (size_t i = 0; i < edgemlp::kFrameBytes; ++i) ink += frame[i] != 0;
  return ink;
}

// Milliseconds for `calls` batch-1 predictions cycling through `images`
// images from `first` on (reference != 0: the scalar reference).
EMSCRIPTEN_KEEPALIVE double web_time_batch1(Network* net, const uint8_t* pixels, size_t images,
                                            size_t first, size_t calls, int reference,
                                            int32_t* logits) {
  const size_t in = net->input_size();
  const double start = emscripten_get_now();
  for (size_t i = 0; i < calls; ++i) {
    const uint8_t* image = pixels + ((first + i) % images) * in;
    if (reference) {
      net->PredictRef(image, logits);
    } else {
      net->Predict(image, logits);
    }
  }
  return emscripten_get_now() - start;
}

// Milliseconds for `reps` calls over `batch` images at once: PredictBatch,
// or (reference != 0) the scalar reference image by image.
EMSCRIPTEN_KEEPALIVE double web_time_batch(Network* net, const uint8_t* pixels, size_t batch,
                                           size_t reps, int reference, int32_t* logits) {
  const size_t in = net->input_size(), out = net->output_size();
  const double start = emscripten_get_now();
  for (size_t r = 0; r < reps; ++r) {
    if (reference) {
      for (size_t i = 0; i < batch; ++i) net->PredictRef(pixels + i * in, logits + i * out);
    } else {
      net->PredictBatch(pixels, batch, logits, nullptr);
    }
  }
  return emscripten_get_now() - start;
}

}  // extern "C"
