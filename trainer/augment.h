// On-the-fly data augmentation and the batch loader that prepares the next
// mini-batch on a worker thread while Eigen computes the current one.
//
// Every augmented image depends only on (epoch seed, position in the epoch),
// never on which thread drew it, so a run is reproducible from its seed for
// any thread count. Buffers are sized once; nothing is allocated per sample.
#ifndef EDGEMLP_TRAINER_AUGMENT_H_
#define EDGEMLP_TRAINER_AUGMENT_H_

#include <Eigen/Core>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "edgemlp/input_transform.h"
#include "idx.h"

namespace edgemlp {

// Each sample draws its parameters uniformly from the given ranges.
struct AugmentConfig {
  float shift = 0;    // translation, pixels, per axis in [-shift, shift]
  float rotate = 0;   // rotation, degrees, in [-rotate, rotate]
  float scale = 0;    // zoom factor in [1 - scale, 1 + scale]
  float shear = 0;    // horizontal shear x += k * y, k in [-shear, shear]
  // Elastic distortion (Simard et al. 2003): per-pixel displacements drawn
  // uniformly in [-1, 1], smoothed by a Gaussian of std dev elastic_sigma
  // pixels, then scaled by elastic_alpha pixels. Simard used alpha 34,
  // sigma 4; alpha 0 turns it off.
  float elastic_alpha = 0;
  float elastic_sigma = 4;

  bool enabled() const {
    return shift > 0 || rotate > 0 || scale > 0 || shear > 0 || elastic_alpha > 0;
  }
};

// SplitMix64: tiny and fast, so every sample gets its own generator seeded
// from (epoch seed, position) at no cost.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi) with 24 random bits.
  float Uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(Next() >> 40) * 0x1.0p-24f;
  }

 private:
  uint64_t state_;
};

// The seed of sample `position` of an epoch whose augmentation seed is `seed`.
uint64_t SampleSeed(uint64_t seed, uint64_t position);

// Warps one rows x cols image; owns its scratch buffers (one per thread).
class Augmenter {
 public:
  Augmenter(const AugmentConfig& config, uint32_t rows, uint32_t cols);
  // Writes the distorted image (pixel values as floats, bilinear
  // interpolation, 0 outside the source) to `out`.
  void Warp(const uint8_t* image, uint64_t seed, float* out);

 private:
  void ElasticField(SplitMix64* rng);  // fills dx_, dy_

  AugmentConfig config_;
  uint32_t rows_, cols_;
  int radius_;                   // Gaussian kernel half-width, ceil(3 sigma)
  std::vector<float> kernel_;    // 2 * radius_ + 1 taps, sum 1
  std::vector<float> noise_;     // (rows + 2r) x (cols + 2r)
  std::vector<float> blurred_;   // (rows + 2r) x cols, after the row pass
  std::vector<float> dx_, dy_;   // rows x cols displacements, pixels
};

// Gathers (and augments) mini-batches into pixel-valued float columns, one
// batch ahead, on a worker thread that uses `threads` OpenMP threads. With
// an area transform each column is the runtime's AreaDownsample of the
// (augmented, then rounded to u8) image: what layer 0 will read.
class BatchLoader {
 public:
  BatchLoader(const ImageSet& images, const AugmentConfig& augment, int batch, int threads,
              const InputTransform& area = {});
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts filling a batch with images indices[0..n); sample c uses
  // SampleSeed(seed, position + c). `indices` must stay valid until Take().
  void Prefetch(const uint32_t* indices, Eigen::Index n, uint64_t seed, uint64_t position);
  // Waits for the prefetched batch. It stays valid until the next-but-one
  // Prefetch (two buffers alternate).
  const Eigen::MatrixXf& Take();

 private:
  struct Job {
    const uint32_t* indices = nullptr;
    Eigen::Index n = 0;
    uint64_t seed = 0, position = 0;
    Eigen::MatrixXf* out = nullptr;
  };
  void Fill(const Job& job);
  void WorkerLoop();

  // Writes image `index` of the job's sample `c` to column `c`.
  void FillColumn(const Job& job, Eigen::Index c, int thread);

  const ImageSet& images_;
  const bool augment_;
  const int threads_;
  const InputTransform area_;  // kNone: the image as it is
  std::vector<Augmenter> augmenters_;  // one per OpenMP thread
  // Per thread (area only): the warp, rounded to u8, and its transform.
  std::vector<std::vector<float>> warped_;
  std::vector<std::vector<uint8_t>> pixels_, small_;
  Eigen::MatrixXf buffers_[2];
  int next_ = 0;  // buffer the next Prefetch fills

  std::mutex mutex_;
  std::condition_variable cv_;
  Job job_;
  bool pending_ = false;  // a job is queued or running
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_AUGMENT_H_
