#include "edgemlp/mnist_frame.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace edgemlp {

void PreprocessLikeMnist(const GrayImage& image, uint8_t frame[kFrameBytes]) {
  std::memset(frame, 0, kFrameBytes);
  const int w = image.width, h = image.height;
  if (w <= 0 || h <= 0 || image.pixels == nullptr) return;
  auto row = [&](int y) { return image.pixels + static_cast<size_t>(y) * w; };

  // Polarity from the border: MNIST is white ink on black.
  uint64_t border_sum = 0, border_count = 0;
  for (int x = 0; x < w; ++x) border_sum += row(0)[x] + row(h - 1)[x], border_count += 2;
  for (int y = 0; y < h; ++y) border_sum += row(y)[0] + row(y)[w - 1], border_count += 2;
  const bool invert = border_sum > 127 * border_count;
  // Raw ink: the pixel, or 255 - pixel on a light page (pixel ^ 0xFF).
  const uint8_t flip = invert ? 0xFF : 0;

  if (w == kFrameSide && h == kFrameSide && !invert) {
    std::memcpy(frame, image.pixels, kFrameBytes);
    return;
  }
  // One pass over the image: the largest raw ink of every row and column.
  // Ink "clearly above the background" is a threshold on raw ink (levelling
  // is monotonic), so the maxima give the ink's bounding box once the
  // threshold is known. Rows and columns are kept as "first/last row (column)
  // whose maximum is v", 256 entries each, so any image size fits; columns
  // are swept in strips of kStrip so their running maxima stay in L1.
  constexpr int kStrip = 4096;
  uint8_t column_max[kStrip];
  int first_row[256], last_row[256], first_col[256], last_col[256];
  std::fill_n(first_row, 256, h);
  std::fill_n(last_row, 256, -1);
  std::fill_n(first_col, 256, w);
  std::fill_n(last_col, 256, -1);
  for (int xs = 0; xs < w; xs += kStrip) {
    const int n = std::min(kStrip, w - xs);
    std::memset(column_max, 0, static_cast<size_t>(n));
    for (int y = 0; y < h; ++y) {
      const uint8_t* p = row(y) + xs;
      uint8_t row_max = 0;
      for (int x = 0; x < n; ++x) {  // vectorized: byte xor and max
        const uint8_t v = static_cast<uint8_t>(p[x] ^ flip);
        column_max[x] = std::max(column_max[x], v);
        row_max = std::max(row_max, v);
      }
      first_row[row_max] = std::min(first_row[row_max], y);
      last_row[row_max] = std::max(last_row[row_max], y);
    }
    for (int x = 0; x < n; ++x) {
      first_col[column_max[x]] = std::min(first_col[column_max[x]], xs + x);
      last_col[column_max[x]] = std::max(last_col[column_max[x]], xs + x);
    }
  }
  // Levels, as MNIST has them: the paper (the border's mean) becomes 0 and
  // the darkest ink 255, so a photo's grey page is not read as faint ink.
  // A table of 256 levels: no division per pixel.
  const int paper =
      static_cast<int>(invert ? 255 - border_sum / border_count : border_sum / border_count);
  int peak = 255;
  while (peak > 0 && last_row[peak] < 0) --peak;
  const int range = std::max(1, peak - paper);
  uint8_t level[256];
  for (int v = 0; v < 256; ++v) {
    level[v] = static_cast<uint8_t>(std::clamp((v - paper) * 255 / range, 0, 255));
  }
  auto ink = [&](int x, int y) { return level[row(y)[x] ^ flip]; };
  // Bounding box of the ink (pixels clearly above the background): every
  // raw ink v with level[v] > kInkThreshold.
  constexpr int kInkThreshold = 64;
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int v = 0; v < 256; ++v) {
    if (level[v] <= kInkThreshold) continue;
    x0 = std::min(x0, first_col[v]), x1 = std::max(x1, last_col[v]);
    y0 = std::min(y0, first_row[v]), y1 = std::max(y1, last_row[v]);
  }
  if (x1 < 0) return;  // blank: an all-black frame
  FitInkBox(ink, w, h, x0, y0, x1, y1, frame);
}

namespace {
bool EndsWith(const char* s, const char* suffix) {
  const size_t n = std::strlen(s), m = std::strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}
}  // namespace

bool IsFrameFileName(const char* name) {
  return EndsWith(name, ".pgm") || EndsWith(name, ".png") || EndsWith(name, ".raw");
}

const char* FrameFromFileBytes(const char* name, const uint8_t* data, size_t size,
                               DecodeArena* arena, uint8_t frame[kFrameBytes]) {
  if (EndsWith(name, ".raw")) {
    if (size != kFrameBytes) return "a .raw frame must be exactly 784 bytes";
    std::memcpy(frame, data, kFrameBytes);
    return nullptr;
  }
  GrayImage image;
  if (const char* error = DecodeImage(data, size, arena, &image)) return error;
  PreprocessLikeMnist(image, frame);
  return nullptr;
}

const char* ReadFrameFile(const char* path, uint8_t* file, DecodeArena* arena,
                          uint8_t frame[kFrameBytes]) {
  // O_NONBLOCK: a FIFO named like a frame must not block the caller's loop.
  const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return arena->Fail("cannot open (%s)", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return "not a regular file";
  }
  size_t size = 0;
  while (size <= kMaxImageFileBytes) {  // one byte past the limit tells "too large"
    const ssize_t n = read(fd, file + size, kMaxImageFileBytes + 1 - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return arena->Fail("read failed (%s)", std::strerror(errno));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  if (size > kMaxImageFileBytes) return "file larger than any accepted image (8 MiB)";
  return FrameFromFileBytes(path, file, size, arena, frame);
}

}  // namespace edgemlp
