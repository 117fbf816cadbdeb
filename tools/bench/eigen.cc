#include "bench/eigen.h"

#include <Eigen/Dense>
#include <vector>

#include "edgemlp/introspect.h"

namespace edgemlp::cli {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct EigenBaseline::Impl {
  struct Layer {
    RowMajor w;          // out x in
    Eigen::VectorXf b;   // out
    bool relu;
  };
  std::vector<Layer> layers;
  std::vector<Eigen::MatrixXf> acts;  // acts[i]: input of layer i, (width x max_batch)
  Eigen::MatrixXf out;
  size_t input_size = 0;  // layer 0's
  // An area transform runs first, with the reference (the runtime's part);
  // the f32 baseline times the layers.
  InputTransform transform;
  std::vector<uint8_t> transformed;
};

EigenBaseline::EigenBaseline(const Network& net, size_t max_batch) : impl_(new Impl) {
  Eigen::setNbThreads(1);  // one core, like the runtime
  impl_->transform = net.input_transform();
  impl_->input_size = GetLayer(net, 0).in_size;
  if (impl_->transform.kind == InputTransformKind::kArea) {
    impl_->transformed.resize(max_batch * impl_->input_size);
  }
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const LayerInfo q = GetLayer(net, i);
    Impl::Layer l{RowMajor(q.out_size, q.in_size), Eigen::VectorXf(q.out_size),
                  i + 1 < net.layer_count() || q.relu};
    for (uint32_t r = 0; r < q.out_size; ++r) {
      for (uint32_t k = 0; k < q.in_size; ++k) {
        l.w(r, k) = static_cast<float>(q.weights[size_t{r} * q.stride + k]) * q.weight_scale[r];
      }
      l.b(r) = static_cast<float>(q.bias[r]) * q.in_scale * q.weight_scale[r];
    }
    impl_->acts.emplace_back(q.in_size, max_batch);
    impl_->layers.push_back(std::move(l));
  }
  impl_->out.resize(net.output_size(), max_batch);
}

EigenBaseline::~EigenBaseline() = default;

int EigenBaseline::Predict(const uint8_t* pixels, size_t count, float* logits) {
  Impl& m = *impl_;
  if (m.transform.kind == InputTransformKind::kArea) {
    for (size_t n = 0; n < count; ++n) {
      AreaDownsample(m.transform, pixels + n * m.transform.in_size,
                     m.transformed.data() + n * m.input_size);
    }
    pixels = m.transformed.data();
  }
  auto x = m.acts[0].leftCols(count);
  for (size_t n = 0; n < count; ++n) {
    for (size_t k = 0; k < m.input_size; ++k) {
      x(k, n) = static_cast<float>(pixels[n * m.input_size + k]) * (1.0f / 255.0f);
    }
  }
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Impl::Layer& l = m.layers[i];
    Eigen::MatrixXf& dst = i + 1 < m.layers.size() ? m.acts[i + 1] : m.out;
    auto y = dst.leftCols(count);
    if (count == 1) {
      y.col(0).noalias() = l.w * m.acts[i].col(0);  // matrix-vector
    } else {
      y.noalias() = l.w * m.acts[i].leftCols(count);
    }
    y.colwise() += l.b;
    if (l.relu) y = y.cwiseMax(0.0f);
  }
  Eigen::Map<Eigen::MatrixXf>(logits, m.out.rows(), count) = m.out.leftCols(count);
  Eigen::Index best = 0;
  m.out.col(0).maxCoeff(&best);
  return static_cast<int>(best);
}

}  // namespace edgemlp::cli
