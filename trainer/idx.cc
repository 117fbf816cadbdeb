#include "idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "error.h"

namespace edgemlp {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
// No MNIST-format image set is larger; bounds what a header can ask for.
constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 32;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads a file that may be gzipped (zlib reads plain files transparently).
class IdxFile {
 public:
  explicit IdxFile(const std::string& path) : path_(path) {
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) throw InputError(path + ": cannot open (missing or unreadable)");
    gzbuffer(file_.get(), 1 << 16);
  }

  // Reads exactly n bytes; `what` says what they are for the error message.
  void Read(void* out, uint64_t n, const char* what) {
    uint8_t* p = static_cast<uint8_t*>(out);
    while (n > 0) {
      const unsigned chunk = n > (1u << 30) ? (1u << 30) : static_cast<unsigned>(n);
      const int got = gzread(file_.get(), p, chunk);
      if (got < 0) {
        int errnum = 0;
        throw InputError(path_ + ": read error in " + what + " (" +
                         gzerror(file_.get(), &errnum) + ")");
      }
      if (got == 0) {
        throw InputError(path_ + ": truncated: the file ends inside " + what);
      }
      p += got;
      n -= static_cast<uint64_t>(got);
    }
  }

  uint32_t ReadBigEndian32(const char* what) {
    uint8_t b[4];
    Read(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
           (uint32_t{b[2]} << 8) | b[3];
  }

  // Reads n bytes into a buffer that grows geometrically with what has
  // actually arrived, so a short file whose header claims a huge count fails
  // at its real end having allocated at most about twice its own size.
  std::vector<uint8_t> ReadGrowing(uint64_t n, const char* what) {
    std::vector<uint8_t> out;
    for (uint64_t done = 0; done < n;) {
      const uint64_t step = std::min<uint64_t>(n - done, std::max<uint64_t>(done, 1 << 16));
      out.resize(done + step);
      Read(out.data() + done, step, what);
      done += step;
    }
    return out;
  }

  void ExpectEnd() {
    uint8_t extra;
    if (gzread(file_.get(), &extra, 1) != 0) {
      throw InputError(path_ + ": has bytes after the data its header declares");
    }
  }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
};

void ExpectMagic(const std::string& path, uint32_t magic, uint32_t want,
                 const char* kind) {
  if (magic != want) {
    char buf[160];
    std::snprintf(buf, sizeof(buf),
                  ": wrong magic 0x%08x (expected 0x%08x, an IDX %s file)",
                  magic, want, kind);
    throw InputError(path + buf);
  }
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

ImageSet ReadIdxImages(const std::string& path) {
  IdxFile f(path);
  ExpectMagic(path, f.ReadBigEndian32("the header"), kImagesMagic, "images");
  ImageSet set;
  set.count = f.ReadBigEndian32("the header");
  set.rows = f.ReadBigEndian32("the header");
  set.cols = f.ReadBigEndian32("the header");
  if (set.rows == 0 || set.cols == 0 || set.rows > 4096 || set.cols > 4096) {
    throw InputError(path + ": image size " + std::to_string(set.rows) + "x" +
                     std::to_string(set.cols) + " (expected 1..4096 each)");
  }
  const uint64_t bytes = uint64_t{set.count} * set.rows * set.cols;
  if (bytes > kMaxIdxBytes) {
    throw InputError(path + ": header declares " + std::to_string(bytes) +
                     " bytes of pixels, more than any IDX image set");
  }
  set.pixels = f.ReadGrowing(bytes, "the pixel data");
  f.ExpectEnd();
  return set;
}

std::vector<uint8_t> ReadIdxLabels(const std::string& path) {
  IdxFile f(path);
  ExpectMagic(path, f.ReadBigEndian32("the header"), kLabelsMagic, "labels");
  const uint32_t count = f.ReadBigEndian32("the header");
  const std::vector<uint8_t> labels = f.ReadGrowing(count, "the label data");
  f.ExpectEnd();
  return labels;  // any byte is a class (0..255)
}

Dataset ReadIdxDataset(const std::string& images_path,
                       const std::string& labels_path) {
  Dataset d;
  d.images = ReadIdxImages(images_path);
  d.labels = ReadIdxLabels(labels_path);
  if (d.images.count != d.labels.size()) {
    throw InputError(images_path + " has " + std::to_string(d.images.count) +
                     " images but " + labels_path + " has " +
                     std::to_string(d.labels.size()) +
                     " labels (expected the same count)");
  }
  d.classes = d.labels.empty() ? 1 : *std::max_element(d.labels.begin(), d.labels.end()) + 1u;
  return d;
}

Mnist LoadMnist(const std::string& dir) {
  auto find = [&](const std::string& name) {
    const std::string plain = dir + "/" + name;
    if (Exists(plain)) return plain;
    if (Exists(plain + ".gz")) return plain + ".gz";
    throw InputError(plain + "(.gz): missing; get MNIST with tools/scripts/fetch-mnist.sh " +
                     dir + " or point --data / EDGEMLP_DATA at it");
  };
  Mnist m;
  // One at a time, so a missing file is reported in a fixed order.
  const std::string train_images = find("train-images-idx3-ubyte");
  const std::string train_labels = find("train-labels-idx1-ubyte");
  const std::string test_images = find("t10k-images-idx3-ubyte");
  const std::string test_labels = find("t10k-labels-idx1-ubyte");
  m.train = ReadIdxDataset(train_images, train_labels);
  m.test = ReadIdxDataset(test_images, test_labels);
  if (m.train.images.image_size() != m.test.images.image_size()) {
    throw InputError(dir + ": training and test images differ in size");
  }
  m.train.classes = m.test.classes = std::max(m.train.classes, m.test.classes);
  std::vector<size_t> count(m.train.classes, 0);
  for (uint8_t l : m.train.labels) count[l]++;
  for (uint32_t c = 0; c < m.train.classes; ++c) {
    if (count[c] == 0) {
      throw InputError(train_labels + ": class " + std::to_string(c) +
                       " has no training images (expected every class 0.." +
                       std::to_string(m.train.classes - 1) + " to appear)");
    }
  }
  return m;
}

std::string ResolveDataDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("EDGEMLP_DATA"); env != nullptr && *env) {
    return env;
  }
  return "data/mnist";
}

}  // namespace edgemlp
