// The Eigen float baseline of `edgemlp bench`: the int8 network dequantized
// to f32 (W = W_q * scale[row], b = b_q * in_scale * scale[row]) and run with
// Eigen matrix-vector / matrix-matrix products, ReLU on hidden layers.
#ifndef EDGEMLP_TOOLS_BENCH_EIGEN_H_
#define EDGEMLP_TOOLS_BENCH_EIGEN_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "edgemlp/runtime.h"

namespace edgemlp::cli {

class EigenBaseline {
 public:
  // Buffers for up to max_batch images are allocated here, not per call.
  EigenBaseline(const Network& net, size_t max_batch);
  ~EigenBaseline();
  // `count` images (input_size bytes each) -> count x output_size logits in
  // `logits` (real scale); returns the class of the first image.
  int Predict(const uint8_t* pixels, size_t count, float* logits);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_BENCH_EIGEN_H_
