#include "augment.h"

#include <algorithm>
#include <cmath>

#ifdef EDGEMLP_HAVE_OPENMP
#include <omp.h>
#endif

namespace edgemlp {

uint64_t SampleSeed(uint64_t seed, uint64_t position) {
  SplitMix64 mix(seed ^ (position * 0xd1b54a32d192ed03ull));
  return mix.Next();
}

Augmenter::Augmenter(const AugmentConfig& config, uint32_t rows, uint32_t cols)
    : config_(config), rows_(rows), cols_(cols), radius_(0) {
  if (config.elastic_alpha <= 0) return;
  const float sigma = std::max(config.elastic_sigma, 0.1f);
  radius_ = static_cast<int>(std::ceil(3.0f * sigma));
  kernel_.resize(2 * radius_ + 1);
  float sum = 0;
  for (int k = -radius_; k <= radius_; ++k) {
    sum += kernel_[k + radius_] = std::exp(-0.5f * k * k / (sigma * sigma));
  }
  for (float& w : kernel_) w /= sum;
  const size_t padded_rows = rows + 2 * radius_, padded_cols = cols + 2 * radius_;
  noise_.resize(padded_rows * padded_cols);
  blurred_.resize(padded_rows * cols);
  dx_.resize(size_t{rows} * cols);
  dy_.resize(size_t{rows} * cols);
}

// Uniform noise on a grid padded by the kernel radius, blurred separably
// ("valid" convolution, so the field has no border artefacts).
void Augmenter::ElasticField(SplitMix64* rng) {
  const int r = radius_, taps = 2 * r + 1;
  const size_t padded_cols = cols_ + 2 * r, padded_rows = rows_ + 2 * r;
  for (std::vector<float>* field : {&dx_, &dy_}) {
    for (float& v : noise_) v = rng->Uniform(-1.0f, 1.0f);
    for (size_t y = 0; y < padded_rows; ++y) {
      float* dst = &blurred_[y * cols_];
      const float* src = &noise_[y * padded_cols];
      std::fill(dst, dst + cols_, 0.0f);
      for (int k = 0; k < taps; ++k) {
        for (size_t x = 0; x < cols_; ++x) dst[x] += kernel_[k] * src[x + k];
      }
    }
    float* out = field->data();
    std::fill(out, out + field->size(), 0.0f);
    for (size_t y = 0; y < rows_; ++y) {
      for (int k = 0; k < taps; ++k) {
        const float* src = &blurred_[(y + k) * cols_];
        for (size_t x = 0; x < cols_; ++x) out[y * cols_ + x] += kernel_[k] * src[x];
      }
    }
    for (size_t i = 0; i < field->size(); ++i) out[i] *= config_.elastic_alpha;
  }
}

void Augmenter::Warp(const uint8_t* image, uint64_t seed, float* out) {
  SplitMix64 rng(seed);
  const AugmentConfig& c = config_;
  const float angle = rng.Uniform(-c.rotate, c.rotate) * static_cast<float>(M_PI / 180.0);
  const float zoom = 1.0f + rng.Uniform(-c.scale, c.scale);
  const float shear = rng.Uniform(-c.shear, c.shear);
  const float tx = rng.Uniform(-c.shift, c.shift), ty = rng.Uniform(-c.shift, c.shift);
  if (c.elastic_alpha > 0) ElasticField(&rng);
  // Output pixel p samples the source at M (p - centre) + centre - t, with
  // M = rotation * shear / zoom (the inverse of the forward transform).
  const float cosa = std::cos(angle) / zoom, sina = std::sin(angle) / zoom;
  const float m00 = cosa, m01 = cosa * shear - sina, m10 = sina, m11 = sina * shear + cosa;
  const float cx = 0.5f * static_cast<float>(cols_ - 1), cy = 0.5f * static_cast<float>(rows_ - 1);
  const int w = static_cast<int>(cols_), h = static_cast<int>(rows_);
  auto pixel = [&](int x, int y) -> float {
    return x >= 0 && x < w && y >= 0 && y < h ? image[y * w + x] : 0.0f;
  };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float u = static_cast<float>(x) - cx, v = static_cast<float>(y) - cy;
      float sx = m00 * u + m01 * v + cx - tx;
      float sy = m10 * u + m11 * v + cy - ty;
      if (c.elastic_alpha > 0) {
        sx += dx_[y * w + x];
        sy += dy_[y * w + x];
      }
      const float fx0 = std::floor(sx), fy0 = std::floor(sy);
      const float ax = sx - fx0, ay = sy - fy0;
      const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0);
      const float top = (1 - ax) * pixel(x0, y0) + ax * pixel(x0 + 1, y0);
      const float bottom = (1 - ax) * pixel(x0, y0 + 1) + ax * pixel(x0 + 1, y0 + 1);
      out[y * w + x] = (1 - ay) * top + ay * bottom;
    }
  }
}

BatchLoader::BatchLoader(const ImageSet& images, const AugmentConfig& augment, int batch,
                         int threads, const InputTransform& area)
    : images_(images), augment_(augment.enabled()), threads_(std::max(1, threads)),
      area_(area) {
  const bool downsample = area.kind == InputTransformKind::kArea;
  const size_t size = downsample ? area.out_size : images.image_size();
  for (Eigen::MatrixXf& b : buffers_) b.resize(static_cast<Eigen::Index>(size), batch);
  if (augment_) augmenters_.assign(threads_, Augmenter(augment, images.rows, images.cols));
  if (downsample) {
    warped_.assign(threads_, std::vector<float>(augment_ ? images.image_size() : 0));
    pixels_.assign(threads_, std::vector<uint8_t>(augment_ ? images.image_size() : 0));
    small_.assign(threads_, std::vector<uint8_t>(size));
  }
  worker_ = std::thread([this] { WorkerLoop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return !pending_; });
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void BatchLoader::Prefetch(const uint32_t* indices, Eigen::Index n, uint64_t seed,
                           uint64_t position) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return !pending_; });
  job_ = {indices, n, seed, position, &buffers_[next_]};
  next_ ^= 1;
  pending_ = true;
  lock.unlock();
  cv_.notify_all();
}

const Eigen::MatrixXf& BatchLoader::Take() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return !pending_; });
  return buffers_[next_ ^ 1];
}

void BatchLoader::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] { return pending_ || stop_; });
    if (stop_) return;
    const Job job = job_;
    lock.unlock();
    Fill(job);
    lock.lock();
    pending_ = false;
    cv_.notify_all();
  }
}

void BatchLoader::FillColumn(const Job& job, Eigen::Index c, int thread) {
  const bool downsample = area_.kind == InputTransformKind::kArea;
  const uint8_t* image = images_.image(job.indices[c]);
  float* column = job.out->col(c).data();
  if (augment_) {
    float* warped = downsample ? warped_[thread].data() : column;
    augmenters_[thread].Warp(image, SampleSeed(job.seed, job.position + c), warped);
    if (!downsample) return;
    // The transform takes u8 images, as a camera gives them: round the warp.
    uint8_t* pixels = pixels_[thread].data();
    for (size_t i = 0; i < pixels_[thread].size(); ++i) {
      pixels[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(warped[i]), 0.0f, 255.0f));
    }
    image = pixels;
  }
  if (downsample) {
    AreaDownsample(area_, image, small_[thread].data());
    image = small_[thread].data();
  }
  for (Eigen::Index i = 0; i < job.out->rows(); ++i) column[i] = image[i];
}

void BatchLoader::Fill(const Job& job) {
  if (!augment_ && area_.kind != InputTransformKind::kArea) {
    for (Eigen::Index c = 0; c < job.n; ++c) FillColumn(job, c, 0);
    return;
  }
#ifdef EDGEMLP_HAVE_OPENMP
#pragma omp parallel for num_threads(threads_) schedule(static)
#endif
  for (Eigen::Index c = 0; c < job.n; ++c) {
#ifdef EDGEMLP_HAVE_OPENMP
    FillColumn(job, c, omp_get_thread_num());
#else
    FillColumn(job, c, 0);
#endif
  }
}

}  // namespace edgemlp
