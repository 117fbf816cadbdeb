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
  auto at = [&](int x, int y) { return image.pixels[static_cast<size_t>(y) * w + x]; };

  // Polarity from the border: MNIST is white ink on black.
  uint64_t border_sum = 0, border_count = 0;
  for (int x = 0; x < w; ++x) border_sum += at(x, 0) + at(x, h - 1), border_count += 2;
  for (int y = 0; y < h; ++y) border_sum += at(0, y) + at(w - 1, y), border_count += 2;
  const bool invert = border_sum > 127 * border_count;
  auto raw_ink = [&](int x, int y) { return invert ? 255 - at(x, y) : at(x, y); };

  if (w == kFrameSide && h == kFrameSide && !invert) {
    std::memcpy(frame, image.pixels, kFrameBytes);
    return;
  }
  // Levels, as MNIST has them: the paper (the border's mean) becomes 0 and
  // the darkest ink 255, so a photo's grey page is not read as faint ink.
  const int paper =
      static_cast<int>(invert ? 255 - border_sum / border_count : border_sum / border_count);
  int peak = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) peak = std::max(peak, raw_ink(x, y));
  }
  const int range = std::max(1, peak - paper);
  auto ink = [&](int x, int y) {
    return std::max(0, std::min(255, (raw_ink(x, y) - paper) * 255 / range));
  };
  // Bounding box of the ink (pixels clearly above the background).
  constexpr int kInkThreshold = 64;
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      if (ink(x, y) > kInkThreshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return;  // blank: an all-black frame
  const int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  // Fit the box into 20 x 20, keeping its aspect ratio.
  const double scale = 20.0 / (bw > bh ? bw : bh);
  const int tw = std::max(1, static_cast<int>(std::lround(bw * scale)));
  const int th = std::max(1, static_cast<int>(std::lround(bh * scale)));
  // Area resampling: each target pixel averages the source area it covers.
  uint8_t patch[20 * 20];
  double mass = 0, mass_x = 0, mass_y = 0;
  for (int ty = 0; ty < th; ++ty) {
    const double sy0 = y0 + ty * static_cast<double>(bh) / th;
    const double sy1 = y0 + (ty + 1) * static_cast<double>(bh) / th;
    for (int tx = 0; tx < tw; ++tx) {
      const double sx0 = x0 + tx * static_cast<double>(bw) / tw;
      const double sx1 = x0 + (tx + 1) * static_cast<double>(bw) / tw;
      double sum = 0, area = 0;
      for (int y = static_cast<int>(sy0); y < sy1 && y < h; ++y) {
        const double cy = std::min(sy1, y + 1.0) - std::max(sy0, static_cast<double>(y));
        for (int x = static_cast<int>(sx0); x < sx1 && x < w; ++x) {
          const double cx = std::min(sx1, x + 1.0) - std::max(sx0, static_cast<double>(x));
          sum += cx * cy * ink(x, y);
          area += cx * cy;
        }
      }
      const int v = area > 0 ? static_cast<int>(std::lround(sum / area)) : 0;
      patch[ty * 20 + tx] = static_cast<uint8_t>(v > 255 ? 255 : v);
      mass += v;
      mass_x += v * (tx + 0.5);
      mass_y += v * (ty + 0.5);
    }
  }
  // Shift so the centre of mass lands on the frame's centre (14, 14).
  auto offset = [&](double weighted, int size) {
    int o = mass > 0 ? static_cast<int>(std::lround(kFrameSide / 2.0 - weighted / mass))
                     : (kFrameSide - size) / 2;
    return std::max(0, std::min(kFrameSide - size, o));
  };
  const int ox = offset(mass_x, tw), oy = offset(mass_y, th);
  for (int ty = 0; ty < th; ++ty) {
    std::memcpy(frame + (oy + ty) * kFrameSide + ox, patch + ty * 20, tw);
  }
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
