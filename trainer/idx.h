// MNIST IDX files (big-endian header, then uint8 data), gzipped or not.
// Untrusted input: the header is checked against the real data length
// before anything is allocated from it.
#ifndef EDGEMLP_TRAINER_IDX_H_
#define EDGEMLP_TRAINER_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

namespace edgemlp {

struct ImageSet {
  uint32_t count = 0;
  uint32_t rows = 0;
  uint32_t cols = 0;
  std::vector<uint8_t> pixels;  // count x rows x cols, row-major
  size_t image_size() const { return size_t{rows} * cols; }
  const uint8_t* image(size_t i) const { return pixels.data() + i * image_size(); }
};

// A labelled set: images (or quantized feature rows, 1 x features) and one
// label 0..classes-1 per image.
struct Dataset {
  ImageSet images;
  std::vector<uint8_t> labels;
  uint32_t classes = 10;  // the data's class count (not the labels' maximum in a subset)
  size_t size() const { return labels.size(); }
};

struct Mnist {
  Dataset train;  // 60000
  Dataset test;   // 10000
};

// Throw InputError naming the file and what was expected.
ImageSet ReadIdxImages(const std::string& path);  // magic 0x00000803
std::vector<uint8_t> ReadIdxLabels(const std::string& path);  // 0x00000801
// Reads images + labels and checks that the counts agree; classes is the
// largest label + 1.
Dataset ReadIdxDataset(const std::string& images_path,
                       const std::string& labels_path);
// DIR holds train-images-idx3-ubyte(.gz) etc.; plain files win over .gz.
// Any image size and up to 256 classes: both sets get the class count of
// the larger label of the two, and every class needs a training image.
Mnist LoadMnist(const std::string& dir);

// --data DIR, else $EDGEMLP_DATA, else ./data/mnist.
std::string ResolveDataDir(const std::string& flag);

}  // namespace edgemlp

#endif  // EDGEMLP_TRAINER_IDX_H_
