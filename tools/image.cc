#include "image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>

#include "error.h"

namespace edgemlp {

namespace {

// A PGM of the largest side plus a generous header; PNGs are smaller.
constexpr size_t kMaxImageFileBytes =
    size_t{kMaxImageSide} * kMaxImageSide + (size_t{1} << 20);
// Deflate cannot compress better than about 1032:1, so a PNG of n bytes
// holds at most ~1032 n pixel bytes: a header claiming more is a lie, refused
// before the decoder allocates for it.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kSmallImagePixels = 1 << 16;

// A binary PGM/PPM header ("P5"/"P6", then width, height and maxval
// separated by whitespace or # comments, then one whitespace byte), read the
// way stb reads it. stb 2.27 parses its numbers into an int without an
// overflow check (undefined behaviour, found by tests/fuzz/fuzz_image), so
// the fields are bounded here before stb sees them.
struct PnmHeader {
  size_t bytes = 0;  // 0: not a PNM file
  uint64_t fields[3] = {0, 0, 0};
};

PnmHeader ReadPnmHeader(const uint8_t* bytes, size_t size) {
  PnmHeader h;
  if (size < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return h;
  size_t pos = 2;
  for (uint64_t& field : h.fields) {
    while (pos < size) {
      if (std::isspace(bytes[pos])) {
        ++pos;
      } else if (bytes[pos] == '#') {
        while (pos < size && bytes[pos] != '\n' && bytes[pos] != '\r') ++pos;
      } else {
        break;
      }
    }
    for (; pos < size && std::isdigit(bytes[pos]); ++pos) {
      field = std::min<uint64_t>(field * 10 + (bytes[pos] - '0'), uint64_t{1} << 32);
    }
  }
  h.bytes = pos + 1;
  return h;
}

// stb 2.27 allocates what a PNG chunk's length field declares before it
// reads the chunk (1.3 GB for a 91-byte file), and copies an empty first
// IDAT to a null pointer (both found by tests/fuzz/fuzz_image), so every
// chunk is checked against the real file length first.
void CheckPngChunks(const uint8_t* bytes, size_t size, const std::string& name) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 8 || std::memcmp(bytes, kSignature, 8) != 0) return;
  for (size_t pos = 8; size - pos >= 8;) {
    const uint32_t length = (uint32_t{bytes[pos]} << 24) | (uint32_t{bytes[pos + 1]} << 16) |
                            (uint32_t{bytes[pos + 2]} << 8) | bytes[pos + 3];
    const std::string type(reinterpret_cast<const char*>(bytes + pos + 4), 4);
    if (length > size - pos - 8 || size - pos - 8 - length < 4) {
      throw InputError(name + ": truncated PNG: chunk at offset " + std::to_string(pos) +
                       " declares " + std::to_string(length) + " bytes, " +
                       std::to_string(size - pos - 8) + " are left");
    }
    if (type == "IEND") return;
    if (type == "IDAT" && length == 0) {  // stb would memcpy to a null buffer
      throw InputError(name + ": unsupported PNG: empty IDAT chunk at offset " +
                       std::to_string(pos));
    }
    pos += 12 + size_t{length};
  }
}

}  // namespace

std::vector<uint8_t> DecodeImage(const uint8_t* bytes, size_t size,
                                 const std::string& name, int rows, int cols) {
  if (rows <= 0 || cols <= 0 || rows > kMaxImageSide || cols > kMaxImageSide) {
    throw InputError(name + ": the model wants " + std::to_string(cols) + "x" +
                     std::to_string(rows) + " images, not a valid image size");
  }
  if (size > kMaxImageFileBytes || size > INT_MAX) {
    throw InputError(name + ": " + std::to_string(size) +
                     " bytes is larger than any accepted image");
  }
  const int length = static_cast<int>(size);
  CheckPngChunks(bytes, size, name);
  const PnmHeader pnm = ReadPnmHeader(bytes, size);
  const uint64_t maxval = pnm.fields[2];
  if (pnm.bytes > 0 && (pnm.fields[0] > kMaxImageSide || pnm.fields[1] > kMaxImageSide ||
                        maxval == 0 || (maxval > 255 && maxval != 65535))) {
    // stb would read 16-bit samples of another range as if it were 65535.
    throw InputError(name + ": not a readable image (PGM/PPM header " +
                     std::to_string(pnm.fields[0]) + "x" + std::to_string(pnm.fields[1]) +
                     ", maxval " + std::to_string(maxval) + "; expected sides 1.." +
                     std::to_string(kMaxImageSide) + ", maxval 1..255 or 65535)");
  }
  int w = 0, h = 0, channels = 0;
  // The header first: the size is checked before stb allocates for it.
  if (!stbi_info_from_memory(bytes, length, &w, &h, &channels)) {
    throw InputError(name + ": not a readable image (" + stbi_failure_reason() +
                     "; expected PGM or PNG, 8-bit grayscale)");
  }
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide) {
    throw InputError(name + ": " + std::to_string(w) + "x" + std::to_string(h) +
                     " pixels (expected 1.." + std::to_string(kMaxImageSide) +
                     " per side)");
  }
  const uint64_t pixels = uint64_t{static_cast<uint32_t>(w)} * static_cast<uint32_t>(h);
  if (pixels > kMaxDeflateRatio * size + kSmallImagePixels) {
    throw InputError(name + ": declares " + std::to_string(w) + "x" + std::to_string(h) +
                     " pixels, more than its " + std::to_string(size) + " bytes can hold");
  }
  // stb does not notice a PGM/PPM that ends early and would hand back
  // uninitialized pixels.
  if (const size_t header = pnm.bytes; header > 0) {
    const uint64_t need = pixels * static_cast<uint32_t>(channels) *
                          (stbi_is_16_bit_from_memory(bytes, length) ? 2 : 1);
    if (header > size || size - header < need) {
      throw InputError(name + ": truncated: " + std::to_string(w) + "x" + std::to_string(h) +
                       " pixels need " + std::to_string(need) + " bytes of pixel data, " +
                       std::to_string(header > size ? 0 : size - header) + " are present");
    }
  }
  // Decoded in the file's own channels and converted to gray here: stb 2.27
  // converts 16-bit PNM channels with its 8-bit routine and overflows its
  // buffer (found by tests/fuzz/fuzz_image, e.g. "P6 2 2 525").
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(bytes, length, &w, &h, &channels, 0), stbi_image_free);
  if (!decoded) {
    throw InputError(name + ": cannot decode (" + stbi_failure_reason() + ")");
  }
  if (channels < 1 || channels > 4) {
    throw InputError(name + ": " + std::to_string(channels) + " channels (expected 1..4)");
  }
  std::vector<uint8_t> gray(static_cast<size_t>(w) * static_cast<size_t>(h));
  for (size_t i = 0; i < gray.size(); ++i) {
    const stbi_uc* p = decoded.get() + i * static_cast<size_t>(channels);
    // Gray (+ alpha): the value; colour (+ alpha): stb's own luma weights.
    gray[i] = channels < 3 ? p[0] : static_cast<uint8_t>((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
  }
  if (pnm.bytes > 0 && maxval < 255) {  // stb leaves 0..maxval as it is
    for (uint8_t& v : gray) v = static_cast<uint8_t>(std::min<uint64_t>(255, (v * 255 + maxval / 2) / maxval));
  }
  std::vector<uint8_t> out(static_cast<size_t>(rows) * cols);
  if (w == cols && h == rows) {
    out = std::move(gray);
  } else if (!stbir_resize_uint8(gray.data(), w, h, 0, out.data(), cols, rows, 0, 1)) {
    throw InputError(name + ": cannot scale to " + std::to_string(cols) + "x" +
                     std::to_string(rows));
  }
  long border = 0, count = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (r == 0 || c == 0 || r == rows - 1 || c == cols - 1) {
        border += out[static_cast<size_t>(r) * cols + c];
        ++count;
      }
    }
  }
  if (count > 0 && border / count > 127) {
    for (uint8_t& p : out) p = static_cast<uint8_t>(255 - p);
  }
  return out;
}

std::vector<uint8_t> ReadImage(const std::string& path, int rows, int cols) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError(path + ": cannot open (missing or unreadable)");
  const std::streamoff end = in.tellg();
  if (end < 0) throw InputError(path + ": cannot determine its size");
  if (static_cast<uint64_t>(end) > kMaxImageFileBytes) {
    throw InputError(path + ": " + std::to_string(end) +
                     " bytes is larger than any accepted image");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(end));
  in.seekg(0);
  if (end > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), end)) {
    throw InputError(path + ": read failed");
  }
  return DecodeImage(bytes.data(), bytes.size(), path, rows, cols);
}

}  // namespace edgemlp
