// Network: turns a validated int8 blob into kernel views and a scratch arena.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define EDGEMLP_HAVE_MMAP 1
#endif

#include "edgemlp/runtime.h"
#include "kernels.h"

namespace edgemlp {

namespace {

size_t RoundUp(size_t bytes) { return (bytes + kBlobAlign - 1) / kBlobAlign * kBlobAlign; }

size_t PackedBytes(const std::vector<DenseI8>& layers) {
  size_t bytes = 0;
  for (const DenseI8& l : layers) bytes += RoundUp(internal::PackedWeightBytes(l));
  return bytes;
}

// int4 layers run on the int8 kernels, from rows widened once at load:
// the same integer math (u8 x small signed weights, exact int32 sums, the
// same requantization), at int8 speed on every target and batched in
// tiles where the target has them, for out_size x stride bytes of arena.
size_t WidenedBytes(const DenseI8& l) {
  return l.weight_type == WeightType::kI4 ? RoundUp(size_t{l.out_size} * l.stride) : 0;
}

// Element k of a packed int4 row is byte k's low nibble for k < stride / 2,
// else byte k - stride / 2's high nibble (blob-format.md).
void WidenInt4Rows(const DenseI8& l, int8_t* dst) {
  const size_t half = l.stride / 2;
  for (size_t r = 0; r < l.out_size; ++r) {
    const int8_t* packed = l.weights + r * half;
    int8_t* row = dst + r * l.stride;
    for (size_t k = 0; k < half; ++k) {
      row[k] = static_cast<int8_t>(internal::LowNibble(packed[k]));
      row[half + k] = static_cast<int8_t>(internal::HighNibble(packed[k]));
    }
  }
}

uint8_t* AlignUp(uint8_t* p) {
  const uintptr_t mask = kBlobAlign - 1;
  return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + mask) &
                                    ~mask);
}

}  // namespace

LoadResult Network::Load(const uint8_t* bytes, size_t size, Network* out) {
  BlobView view;
  LoadResult r = ParseBlob(bytes, size, &view);
  if (!r.ok()) return r;
  if (view.header.kind != static_cast<uint32_t>(BlobKind::kInt8)) {
    return LoadResult{Status::kWrongKind,
                      "this is a float model; the runtime runs int8 blobs "
                      "(make one with `edgemlp export MODEL --quant int8`)"};
  }
  Network net;
  uint32_t max_stride = 0;
  for (const LayerRecord& l : view.layers) {
    net.layers_.push_back(internal::LayerView(bytes, l));
    if (l.stride > max_stride) max_stride = l.stride;
  }
  // The kernels' views: int4 layers become int8 layers whose rows are
  // widened into the arena below; the reference keeps the blob's.
  net.run_layers_ = net.layers_;
  size_t rows = 0, widened_bytes = 0;
  for (DenseI8& l : net.run_layers_) {
    rows += l.out_size;
    widened_bytes += WidenedBytes(l);
    if (l.weight_type == WeightType::kI4) l.weight_type = WeightType::kI8;
  }
  // Two activation buffers of kMaxBatch vectors, each padded to a 64-byte
  // multiple, plus slack to align the first one.
  net.pitch_ = (max_stride + kBlobAlign - 1) / kBlobAlign * kBlobAlign;
  static_assert(internal::BatchScratchVectors(kMaxBatch) == kMaxBatch,
                "PredictBatch's chunks need no scratch past kMaxBatch vectors");
  const size_t buffer_bytes = kMaxBatch * net.pitch_;
  // Then the widened int4 layers, then the weights re-laid out for the
  // target that runs, if it wants.
  net.packed_bytes_ = PackedBytes(net.run_layers_);
  // Then the transformed inputs: kMaxBatch area images (PredictBatch
  // chunks) and a column of sums, or one affine vector (PredictFloat).
  net.transform_ = view.input_transform();
  const InputTransform& t = net.transform_;
  const size_t transformed_bytes =
      t.kind == InputTransformKind::kArea     ? RoundUp(kMaxBatch * t.out_size)
      : t.kind == InputTransformKind::kAffine ? RoundUp(t.out_size)
                                              : 0;
  const size_t scratch_bytes =
      t.kind == InputTransformKind::kArea ? RoundUp(internal::AreaScratchBytes(t)) : 0;
  net.arena_bytes_ = 2 * buffer_bytes + widened_bytes + net.packed_bytes_ + transformed_bytes +
                     scratch_bytes;
  net.arena_storage_.reset(new uint8_t[net.arena_bytes_ + kBlobAlign]());
  net.act_a_ = AlignUp(net.arena_storage_.get());
  net.act_b_ = net.act_a_ + buffer_bytes;
  int8_t* widened = reinterpret_cast<int8_t*>(net.act_b_ + buffer_bytes);
  net.packed_ = widened + widened_bytes;
  uint8_t* after_packed = reinterpret_cast<uint8_t*>(net.packed_) + net.packed_bytes_;
  net.transformed_ = transformed_bytes != 0 ? after_packed : nullptr;
  net.transform_scratch_ = scratch_bytes != 0 ? after_packed + transformed_bytes : nullptr;
  if (scratch_bytes != 0) internal::PrepareArea(t, net.transform_scratch_);
  net.compensation_.resize(rows);
  int32_t* compensation = net.compensation_.data();
  for (size_t i = 0; i < net.run_layers_.size(); ++i) {
    DenseI8& l = net.run_layers_[i];
    if (net.layers_[i].weight_type == WeightType::kI4) {
      WidenInt4Rows(net.layers_[i], widened);
      l.weights = widened;
      widened += WidenedBytes(net.layers_[i]);
    }
    if (l.weight_type != WeightType::kI8) continue;  // sdot is for int8 rows
    internal::ComputeSignedInputCompensation(l, compensation);
    l.signed_input_compensation = compensation;
    l.max_abs_weight = internal::MaxAbsWeight(l);
    compensation += l.out_size;
  }
  net.RepackWeights();
  net.self_test_logits_.reset(new int32_t[view.header.output_size]);
  net.input_size_ = view.header.input_size;
  net.output_size_ = view.header.output_size;
  net.logit_scale_ = view.layers.back().out_scale;
  net.view_ = std::move(view);
  *out = std::move(net);
  return {};
}

LoadResult Network::LoadCopy(const uint8_t* bytes, size_t size, Network* out) {
  std::unique_ptr<uint8_t[]> storage(new uint8_t[size + kBlobAlign]);
  uint8_t* aligned = AlignUp(storage.get());
  if (size > 0) std::memcpy(aligned, bytes, size);
  LoadResult r = Load(aligned, size, out);
  if (r.ok()) out->owned_blob_ = std::move(storage);
  return r;
}

// Load() with the file's name in front of any error message.
static LoadResult LoadNamed(const std::string& path, const uint8_t* bytes, size_t size,
                            Network* out) {
  LoadResult r = Network::Load(bytes, size, out);
  if (!r.ok()) r.message = path + ": " + r.message;
  return r;
}

#ifdef EDGEMLP_HAVE_MMAP
// Zero-copy: the kernels read the weights straight from the page cache.
LoadResult Network::LoadFile(const std::string& path, Network* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return LoadResult{Status::kIoError,
                      path + ": cannot open: " + std::strerror(errno)};
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return LoadResult{Status::kIoError, path + ": not a regular file"};
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > 0xFFFFFFFFull) {
    ::close(fd);
    return LoadResult{Status::kBadHeader,
                      path + ": " + std::to_string(size) +
                          " bytes is larger than any blob (4 GiB limit)"};
  }
  if (size < sizeof(FileHeader)) {  // also: mmap cannot map 0 bytes
    ::close(fd);
    return LoadResult{Status::kTruncated,
                      path + ": " + std::to_string(size) +
                          " bytes is shorter than the " +
                          std::to_string(sizeof(FileHeader)) + "-byte header"};
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    return LoadResult{Status::kIoError,
                      path + ": cannot map: " + std::strerror(errno)};
  }
  std::shared_ptr<const void> mapping(
      map, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
  const LoadResult r = LoadNamed(path, static_cast<const uint8_t*>(map), size, out);
  if (r.ok()) out->mapping_ = std::move(mapping);
  return r;
}
#else
LoadResult Network::LoadFile(const std::string& path, Network* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return LoadResult{Status::kIoError,
                      path + ": cannot open: " + std::strerror(errno)};
  }
  long size = -1;
  if (std::fseek(f, 0, SEEK_END) == 0) size = std::ftell(f);
  if (size < 0 || std::fseek(f, 0, SEEK_SET) != 0) {
    std::fclose(f);
    return LoadResult{Status::kIoError, path + ": cannot determine its size"};
  }
  if (static_cast<unsigned long>(size) > 0xFFFFFFFFul) {
    std::fclose(f);
    return LoadResult{Status::kBadHeader,
                      path + ": " + std::to_string(size) +
                          " bytes is larger than any blob (4 GiB limit)"};
  }
  // The buffer is exactly the file's size (plus alignment slack): a short
  // hostile file cannot make us allocate more than it holds.
  std::unique_ptr<uint8_t[]> storage(new uint8_t[size + kBlobAlign]);
  uint8_t* bytes = AlignUp(storage.get());
  const size_t got = std::fread(bytes, 1, static_cast<size_t>(size), f);
  std::fclose(f);
  if (got != static_cast<size_t>(size)) {
    return LoadResult{Status::kIoError, path + ": read failed"};
  }
  const LoadResult r = LoadNamed(path, bytes, static_cast<size_t>(size), out);
  if (r.ok()) out->owned_blob_ = std::move(storage);
  return r;
}
#endif

LoadResult Network::SelfTest() {
  if (!view_.has_test_vector()) {
    return LoadResult{Status::kNoTestVector,
                      "the blob has no known-answer vector (format 1.0; "
                      "re-export it with a 1.1 edgemlp)"};
  }
  const uint8_t* input = view_.bytes + view_.ext.kat_input_offset;
  const uint8_t* expected = view_.bytes + view_.ext.kat_output_offset;
  int32_t* logits = self_test_logits_.get();  // sized at load: no allocation
  Predict(input, logits);
  for (size_t i = 0; i < output_size_; ++i) {
    int32_t want;
    std::memcpy(&want, expected + 4 * i, 4);
    if (logits[i] != want) {
      return LoadResult{Status::kSelfTestFailed,
                        "known-answer test failed on " +
                            std::string(TargetName(ChosenTarget())) +
                            ": logit " + std::to_string(i) + " is " +
                            std::to_string(logits[i]) + ", expected " +
                            std::to_string(want)};
    }
  }
  return {};
}

// Packs for the current target into the space reserved at load; a target
// forced later (tests, bench) that needs more space runs on the blob's rows.
void Network::RepackWeights() {
  packed_generation_ =
      internal::g_target_generation.load(std::memory_order_relaxed);
  const int64_t target = ChosenTarget();
  const bool fits = PackedBytes(run_layers_) <= packed_bytes_;
  int8_t* dst = packed_;
  for (DenseI8& l : run_layers_) {
    const size_t bytes = fits ? RoundUp(internal::PackedWeightBytes(l)) : 0;
    l.packed_weights = bytes != 0 ? dst : nullptr;
    l.packed_target = target;
    if (bytes != 0) internal::PackWeights(l, dst);
    dst += bytes;
  }
}

void Network::RepackIfTargetForced() {
  if (packed_bytes_ != 0 &&
      internal::g_target_generation.load(std::memory_order_relaxed) !=
          packed_generation_) {
    RepackWeights();
  }
}

const uint8_t* Network::Transform(const uint8_t* pixels, size_t count) {
  if (transform_.kind != InputTransformKind::kArea) return pixels;
  for (size_t i = 0; i < count; ++i) {
    internal::AreaDownsampleSimd(transform_, pixels + i * input_size_,
                                 transformed_ + i * transform_.out_size, transform_scratch_);
  }
  return transformed_;
}

int Network::Predict(const uint8_t* pixels, int32_t* logits) {
  RepackIfTargetForced();
  internal::ForwardI8(run_layers_.data(), run_layers_.size(), Transform(pixels, 1), act_a_,
                      act_b_, logits);
  return ArgMax(logits, output_size_);
}

int Network::PredictFloat(const float* features, int32_t* logits) {
  if (transform_.kind != InputTransformKind::kAffine ||
      !QuantizeFeatures(transform_, features, transformed_)) {
    return -1;
  }
  return Predict(transformed_, logits);
}

void Network::PredictBatch(const uint8_t* pixels, size_t count,
                           int32_t* logits, int* classes) {
  RepackIfTargetForced();
  for (size_t done = 0; done < count; done += kMaxBatch) {
    const size_t n = count - done < kMaxBatch ? count - done : kMaxBatch;
    int32_t* chunk_logits = logits + done * output_size_;
    internal::ForwardI8Batch(run_layers_.data(), run_layers_.size(),
                             Transform(pixels + done * input_size_, n), n, act_a_, act_b_,
                             pitch_, chunk_logits);
    if (classes == nullptr) continue;
    for (size_t i = 0; i < n; ++i) {
      classes[done + i] = ArgMax(chunk_logits + i * output_size_, output_size_);
    }
  }
}

int Network::PredictRef(const uint8_t* pixels, int32_t* logits) {
  if (transform_.kind == InputTransformKind::kArea) {
    AreaDownsample(transform_, pixels, transformed_);
    pixels = transformed_;
  }
  internal::ForwardI8Ref(layers_.data(), layers_.size(), pixels, act_a_,
                         act_b_, logits);
  return ArgMax(logits, output_size_);
}

int ArgMax(const int32_t* values, size_t n) {
  // Selects instead of branches (cmov): which logit wins is data, so a
  // branch mispredicts about once per image.
  size_t best = 0;
  int32_t top = values[0];
  for (size_t i = 1; i < n; ++i) {
    const bool higher = values[i] > top;
    best = higher ? i : best;
    top = higher ? values[i] : top;
  }
  return static_cast<int>(best);
}

void Softmax(const int32_t* logits, size_t n, float scale, float* probs) {
  const int32_t top = logits[ArgMax(logits, n)];
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    // Differences are exact in int64 before scaling, so no overflow.
    const float z = static_cast<float>(int64_t{logits[i]} - top) * scale;
    probs[i] = std::exp(z);
    sum += probs[i];
  }
  for (size_t i = 0; i < n; ++i) probs[i] /= sum;
}

}  // namespace edgemlp
