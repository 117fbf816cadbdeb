// Helpers shared by the test suites: temporary directories, small random
// models, a small synthetic training task, the MNIST location.
#ifndef EDGEMLP_TESTS_TEST_UTIL_H_
#define EDGEMLP_TESTS_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "idx.h"
#include "model.h"
#include "train.h"

namespace edgemlp::test {

// A fresh directory under $TMPDIR, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> ReadBytes(const std::string& path);

// A ReLU MLP with random weights and calibration ranges, e.g. {784, 32, 10}.
FloatModel RandomModel(const std::vector<uint32_t>& arch, uint64_t seed);

// 4x4 images, 10 classes: class k lights pixel k (255) over noise (0..39),
// so a small net learns it in a few hundred steps.
Dataset OnePixelPerClass(size_t count, uint64_t seed);
// A {16, 24, 10} ReLU net for OnePixelPerClass: 20 epochs of batch 32 on one
// thread, the last 200 images held out.
TrainConfig SmallTrainConfig();

// $EDGEMLP_DATA, else <source>/data/mnist.
std::string MnistDir();

// The InputError message `read` throws (it must name the file and say what
// was expected), "" if it throws none.
std::string ErrorOf(const std::function<void()>& read);

}  // namespace edgemlp::test

#endif  // EDGEMLP_TESTS_TEST_UTIL_H_
