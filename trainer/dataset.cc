#include "dataset.h"

#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string_view>

#include "edgemlp/input_transform.h"
#include "error.h"

namespace edgemlp {

namespace {

// No feature file we take is larger (bounds what a header or zip entry may claim).
constexpr uint64_t kMaxBytes = uint64_t{1} << 31;
// --label-column none: every column is a feature; every label is 0.
constexpr size_t kNoLabel = SIZE_MAX;

std::string Quote(std::string_view s) {
  std::string out(s.substr(0, 40));
  if (s.size() > 40) out += "...";
  return "'" + out + "'";
}

bool ParseDouble(std::string_view s, double* v) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  // A value beyond double's range is still a number (caught as not finite).
  return end == s.data() + s.size() && (ec == std::errc() || ec == std::errc::result_out_of_range);
}

// Which of `columns` columns holds the label; `names` are the header's (or empty).
size_t LabelColumn(const std::string& spec, const std::vector<std::string>& names,
                   size_t columns, size_t default_column, const std::string& where) {
  if (columns < (spec == "none" ? 1u : 2u)) {
    throw InputError(where + " has " + std::to_string(columns) +
                     " column(s) (expected a label and at least one feature)");
  }
  if (spec.empty()) return default_column;
  if (spec == "none") return kNoLabel;
  if (spec == "first") return 0;
  if (spec == "last") return columns - 1;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == spec) return i;
  }
  size_t n = 0;
  const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), n);
  if (ec == std::errc() && end == spec.data() + spec.size() && n >= 1 && n <= columns) {
    return n - 1;
  }
  std::string known;
  for (size_t i = 0; i < names.size() && i < 8; ++i) known += (i ? ", " : "") + Quote(names[i]);
  if (names.size() > 8) known += ", ...";
  throw InputError(where + ": no label column " + Quote(spec) + " (expected first, last, 1.." +
                   std::to_string(columns) + (known.empty() ? "" : " or a header name: " + known) +
                   ")");
}

// A label value: an integer in 0..kMaxClasses-1 (and below `limit` if the
// file names its classes).
uint8_t CheckLabel(double v, size_t limit, const std::string& where) {
  if (!(v == std::floor(v)) || v < 0 || v >= static_cast<double>(limit)) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    throw InputError(where + ": label " + buf + " (expected an integer class 0.." +
                     std::to_string(limit - 1) + ")");
  }
  return static_cast<uint8_t>(v);
}

float CheckFeature(double v, const std::string& where) {
  if (!std::isfinite(v) || std::abs(v) > FLT_MAX) {
    throw InputError(where + ": value " + (std::isnan(v) ? std::string("NaN") : std::to_string(v)) +
                     " (expected a finite number within float32's range)");
  }
  return static_cast<float>(v);
}

// Class count from the labels (or the file's class names).
void FinishClasses(FeatureSet* d, const std::string& name) {
  if (d->size() == 0) throw InputError(name + ": no examples (an empty data set)");
  uint32_t top = 0;
  for (uint8_t l : d->labels) top = std::max<uint32_t>(top, l);
  d->classes = std::max<uint32_t>(top + 1, static_cast<uint32_t>(d->class_names.size()));
}

}  // namespace

void RequireEveryClass(const FeatureSet& data, const std::string& name) {
  const FeatureSet* d = &data;
  std::vector<size_t> count(kMaxClasses, 0);
  for (uint8_t l : d->labels) count[l]++;
  for (uint32_t c = 0; c < d->classes; ++c) {
    if (count[c] == 0) {
      throw InputError(name + ": class " + std::to_string(c) +
                       (c < d->class_names.size() ? " (" + Quote(d->class_names[c]) + ")" : "") +
                       " has no examples (expected every class 0.." +
                       std::to_string(d->classes - 1) + " to appear)");
    }
  }
}

namespace {

// --- CSV ---

class CsvReader {
 public:
  CsvReader(const char* text, size_t size, const std::string& name)
      : p_(text), end_(text + size), name_(name) {}

  // The next non-blank record's fields; false at the end.
  bool Next(std::vector<std::string>* fields) {
    for (;;) {
      if (p_ >= end_) return false;
      ++line_;
      record_line_ = line_;
      fields->clear();
      std::string field;
      bool quoted = false, any = false;
      while (p_ < end_) {
        const char c = *p_;
        if (quoted) {
          ++p_;
          if (c == '"') {
            if (p_ < end_ && *p_ == '"') {
              field += '"';
              ++p_;
            } else {
              quoted = false;
            }
          } else {
            if (c == '\n') ++line_;
            field += c;
          }
          continue;
        }
        if (c == '\n' || c == '\r') break;
        ++p_;
        any = true;
        if (c == '"') {
          quoted = true;
        } else if (c == sep_) {
          fields->push_back(std::move(field));
          field.clear();
        } else if (c == '\0') {
          throw InputError(At(fields->size()) + ": a NUL byte (expected text)");
        } else {
          field += c;
        }
      }
      if (quoted) throw InputError(At(fields->size()) + ": a quote is never closed");
      if (p_ < end_ && *p_ == '\r') ++p_;
      if (p_ < end_ && *p_ == '\n') ++p_;
      if (!any) continue;  // blank line
      fields->push_back(std::move(field));
      return true;
    }
  }

  void set_separator(char sep) { sep_ = sep; }
  // "file:LINE: column C" (1-based).
  std::string At(size_t column) const {
    return name_ + ":" + std::to_string(record_line_) + ": column " + std::to_string(column + 1);
  }
  std::string Line() const { return name_ + ":" + std::to_string(record_line_); }

 private:
  const char* p_;
  const char* end_;
  std::string name_;
  char sep_ = ',';
  size_t line_ = 0, record_line_ = 0;
};

bool AllNumbers(const std::vector<std::string>& fields, size_t from = 0) {
  double v;
  for (size_t i = from; i < fields.size(); ++i) {
    if (!ParseDouble(fields[i], &v)) return false;
  }
  return true;
}

bool IsCount(const std::string& s, uint64_t* n) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *n);
  return ec == std::errc() && end == s.data() + s.size();
}

// --- NumPy ---

struct NpyArray {
  char kind = 0;          // 'f', 'i', 'u', 'b'
  size_t itemsize = 0;
  bool big_endian = false;
  bool fortran = false;
  std::vector<uint64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t count = 0;

  // Element i in C order, as a double.
  double Get(uint64_t i) const {
    if (fortran && shape.size() >= 2) {  // C index -> Fortran storage
      uint64_t rest = i, f = 0, stride = 1;
      std::vector<uint64_t> idx(shape.size());
      for (size_t d = shape.size(); d-- > 0;) {
        idx[d] = rest % shape[d];
        rest /= shape[d];
      }
      for (size_t d = 0; d < shape.size(); ++d) {
        f += idx[d] * stride;
        stride *= shape[d];
      }
      i = f;
    }
    // The element's bits as an integer, most significant byte first.
    const uint8_t* p = data + i * itemsize;
    uint64_t u = 0;
    for (size_t k = 0; k < itemsize; ++k) u = (u << 8) | p[big_endian ? k : itemsize - 1 - k];
    switch (kind) {
      case 'f':
        if (itemsize == 4) {
          const uint32_t bits = static_cast<uint32_t>(u);
          float f;
          std::memcpy(&f, &bits, 4);
          return f;
        } else {
          double d;
          std::memcpy(&d, &u, 8);
          return d;
        }
      case 'b':
        return u != 0;
      case 'u':
        return static_cast<double>(u);
      default: {  // 'i': sign-extend
        const int shift = static_cast<int>(64 - 8 * itemsize);
        return static_cast<double>(static_cast<int64_t>(u << shift) >> shift);
      }
    }
  }
};

// The header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (150, 5), }
class NpyHeader {
 public:
  NpyHeader(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  void Parse(NpyArray* a) {
    bool descr = false, order = false, shape = false;
    Expect('{');
    while (!Peek('}')) {
      const std::string key = String();
      Expect(':');
      if (key == "descr") {
        Descr(String(), a);
        descr = true;
      } else if (key == "fortran_order") {
        a->fortran = Bool();
        order = true;
      } else if (key == "shape") {
        Shape(a);
        shape = true;
      } else {
        Fail("an unknown key " + Quote(key) + " (expected descr, fortran_order, shape)");
      }
      if (!Peek('}')) Expect(',');
    }
    Expect('}');
    if (!descr || !order || !shape) Fail("a header without descr, fortran_order and shape");
  }

 private:
  [[noreturn]] void Fail(const std::string& what) {
    throw InputError(name_ + ": NumPy header: " + what);
  }
  void Skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n')) ++pos_;
  }
  bool Peek(char c) {
    Skip();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void Expect(char c) {
    if (!Peek(c)) Fail(std::string("expected '") + c + "' at byte " + std::to_string(pos_));
    ++pos_;
  }
  std::string String() {
    Skip();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) Fail("expected a quoted string");
    const char q = s_[pos_++];
    const size_t close = s_.find(q, pos_);
    if (close == std::string_view::npos) Fail("a string is never closed");
    std::string out(s_.substr(pos_, close - pos_));
    pos_ = close + 1;
    return out;
  }
  bool Bool() {
    Skip();
    for (const char* word : {"True", "False"}) {
      if (s_.substr(pos_, std::strlen(word)) == word) {
        pos_ += std::strlen(word);
        return word[0] == 'T';
      }
    }
    Fail("fortran_order is not True or False");
  }
  void Shape(NpyArray* a) {
    Expect('(');
    while (!Peek(')')) {
      Skip();
      uint64_t n = 0;
      const auto [end, ec] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), n);
      if (ec != std::errc() || end == s_.data() + pos_) Fail("a shape entry is not a count");
      pos_ = static_cast<size_t>(end - s_.data());
      Skip();
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs
      a->shape.push_back(n);
      if (a->shape.size() > 8) Fail("more than 8 dimensions");
      if (!Peek(')')) Expect(',');
    }
    Expect(')');
  }
  void Descr(const std::string& d, NpyArray* a) {
    if (d.size() < 3 || std::string("<>|=").find(d[0]) == std::string::npos ||
        std::string("fiub").find(d[1]) == std::string::npos) {
      Fail("dtype " + Quote(d) + " (expected float32/64, a signed or unsigned integer, or bool)");
    }
    a->big_endian = d[0] == '>';
    a->kind = d[1];
    const std::string size = d.substr(2);
    a->itemsize = size == "1" ? 1 : size == "2" ? 2 : size == "4" ? 4 : size == "8" ? 8 : 0;
    if (a->itemsize == 0 || (a->kind == 'f' && a->itemsize < 4) ||
        (a->kind == 'b' && a->itemsize != 1)) {
      Fail("dtype " + Quote(d) + " (expected float32/64, a signed or unsigned integer, or bool)");
    }
  }

  std::string_view s_;
  std::string name_;
  size_t pos_ = 0;
};

NpyArray ParseNpyArray(const uint8_t* bytes, size_t size, const std::string& name) {
  static const uint8_t kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(bytes, kMagic, 6) != 0) {
    throw InputError(name + ": not a NumPy .npy array (expected the magic \\x93NUMPY)");
  }
  const uint8_t major = bytes[6];
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = bytes[8] | (size_t{bytes[9]} << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw InputError(name + ": truncated NumPy header");
    header_len = bytes[8] | (size_t{bytes[9]} << 8) | (size_t{bytes[10]} << 16) |
                 (size_t{bytes[11]} << 24);
    start = 12;
  } else {
    throw InputError(name + ": NumPy format version " + std::to_string(major) +
                     " (expected 1, 2 or 3)");
  }
  if (header_len > size - start) {
    throw InputError(name + ": the NumPy header claims " + std::to_string(header_len) +
                     " bytes but the file ends first");
  }
  NpyArray a;
  NpyHeader(std::string_view(reinterpret_cast<const char*>(bytes + start), header_len), name)
      .Parse(&a);
  a.count = 1;
  for (uint64_t n : a.shape) {
    if (n != 0 && a.count > kMaxBytes / n) {
      throw InputError(name + ": shape too large (more than " + std::to_string(kMaxBytes) +
                       " elements)");
    }
    a.count *= n;
  }
  const size_t offset = start + header_len;
  const uint64_t need = a.count * a.itemsize;
  if (need != size - offset) {
    throw InputError(name + ": the shape and dtype need " + std::to_string(need) +
                     " bytes of data but the file has " + std::to_string(size - offset));
  }
  a.data = bytes + offset;
  return a;
}

std::string ShapeString(const NpyArray& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(a.shape[i]);
  return s + (a.shape.size() == 1 ? ",)" : ")");
}

// Feature value k of an array read as rows x features.
void FillFeatures(const NpyArray& x, uint64_t rows, uint64_t row_stride, uint64_t skip_column,
                  FeatureSet* d, const std::string& name) {
  const uint64_t features = skip_column < row_stride ? row_stride - 1 : row_stride;
  if (features == 0 || features > (uint64_t{1} << 24)) {
    throw InputError(name + ": " + std::to_string(features) +
                     " features per example (expected 1..16777216)");
  }
  d->features = static_cast<uint32_t>(features);
  d->x.resize(rows * features);
  float* out = d->x.data();
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < row_stride; ++c) {
      if (c == skip_column) continue;
      *out++ = CheckFeature(x.Get(r * row_stride + c),
                            name + ": row " + std::to_string(r) + ", column " + std::to_string(c));
    }
  }
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  struct GzCloser {
    void operator()(gzFile_s* f) const { gzclose(f); }
  };
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) throw InputError(path + ": cannot open (missing or unreadable)");
  std::vector<uint8_t> out;
  for (;;) {
    const size_t done = out.size();
    if (done >= kMaxBytes) throw InputError(path + ": larger than 2 GiB");
    out.resize(done + std::max<size_t>(done, 1 << 16));
    const int got = gzread(f.get(), out.data() + done, static_cast<unsigned>(out.size() - done));
    if (got < 0) {
      int errnum = 0;
      throw InputError(path + ": read error (" + gzerror(f.get(), &errnum) + ")");
    }
    out.resize(done + static_cast<size_t>(got));
    if (got == 0) return out;
  }
}

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

FeatureSet ParseCsv(const char* text, size_t size, const std::string& name,
                    const std::string& label_column) {
  CsvReader csv(text, size, name);
  const std::string_view first_line(text, std::find(text, text + size, '\n') - text);
  if (first_line.find('\t') != std::string_view::npos &&
      first_line.find(',') == std::string_view::npos) {
    csv.set_separator('\t');
  }
  FeatureSet d;
  std::vector<std::string> fields, header;
  if (!csv.Next(&fields)) throw InputError(name + ": empty (expected CSV rows: a label and features)");
  size_t label = 0, columns = fields.size(), expected_rows = 0;
  bool have_row = true;
  uint64_t n_samples = 0, n_features = 0;
  if (fields.size() >= 3 && IsCount(fields[0], &n_samples) && IsCount(fields[1], &n_features) &&
      !AllNumbers(fields, 2)) {
    // scikit-learn's layout: "n_samples,n_features,class names...", label last.
    d.class_names.assign(fields.begin() + 2, fields.end());
    if (n_features == 0 || n_features > (uint64_t{1} << 24)) {
      throw InputError(csv.At(1) + ": " + std::to_string(n_features) + " features (expected 1..16777216)");
    }
    columns = n_features + 1;
    expected_rows = n_samples;
    if (!label_column.empty() && label_column != "last" && label_column != "none") {
      throw InputError(name + ": scikit-learn's layout keeps the label last (--label-column " +
                       label_column + " does not apply)");
    }
    label = label_column == "none" ? kNoLabel : columns - 1;
    d.layout = "CSV, scikit-learn layout (" + std::to_string(d.class_names.size()) +
               " class names), label last";
    if (label == kNoLabel) columns -= 1;  // the label column is then ignored
    have_row = false;
  } else if (!AllNumbers(fields)) {
    header = fields;
    for (std::string& h : header) {
      while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.pop_back();
      while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.erase(h.begin());
    }
    label = LabelColumn(label_column, header, columns, 0, name);
    d.layout = label == kNoLabel ? "CSV, header row, no label column"
                                 : "CSV, header row, label column " + Quote(header[label]);
    have_row = false;
  } else {
    label = LabelColumn(label_column, {}, columns, 0, name);
    d.layout = label == kNoLabel ? "CSV, no header, no label column"
                                 : "CSV, no header, label column " + std::to_string(label + 1);
  }
  const bool sklearn_unlabelled = label == kNoLabel && !d.class_names.empty();
  d.features = static_cast<uint32_t>(label == kNoLabel ? columns : columns - 1);
  const size_t limit = d.class_names.empty() ? kMaxClasses : std::min(d.class_names.size(), size_t{kMaxClasses});
  while (have_row || csv.Next(&fields)) {
    have_row = false;
    if (sklearn_unlabelled && fields.size() == columns + 1) fields.pop_back();
    if (fields.size() != columns) {
      throw InputError(csv.Line() + ": " + std::to_string(fields.size()) + " fields (expected " +
                       std::to_string(columns) + (header.empty() ? "" : ", as the header has") +
                       ")");
    }
    for (size_t c = 0; c < columns; ++c) {
      double v;
      const std::string where =
          csv.At(c) + (header.empty() ? "" : " (" + Quote(header[c]) + ")");
      if (!ParseDouble(fields[c], &v)) {
        throw InputError(where + ": " + Quote(fields[c]) + " is not a number");
      }
      if (c == label) {
        d.labels.push_back(CheckLabel(v, limit, where));
      } else {
        d.x.push_back(CheckFeature(v, where));
      }
    }
    if (label == kNoLabel) d.labels.push_back(0);
  }
  if (d.size() == 0) throw InputError(name + ": no data rows after the header");
  if (expected_rows != 0 && d.size() != expected_rows) {
    throw InputError(name + ": " + std::to_string(d.size()) + " data rows but the first line "
                     "declares " + std::to_string(expected_rows));
  }
  FinishClasses(&d, name);
  return d;
}

FeatureSet ParseNpy(const uint8_t* bytes, size_t size, const std::string& name,
                    const std::string& label_column) {
  const NpyArray a = ParseNpyArray(bytes, size, name);
  if (a.shape.size() != 2 || a.shape[0] == 0) {
    throw InputError(name + ": array of shape " + ShapeString(a) +
                     " (expected 2-D: one row per example, a label column and features)");
  }
  const size_t label = LabelColumn(label_column, {}, a.shape[1], 0, name);
  FeatureSet d;
  d.layout = "NumPy .npy " + ShapeString(a) +
             (label == kNoLabel ? ", no label column" : ", label column " + std::to_string(label + 1));
  for (uint64_t r = 0; r < a.shape[0]; ++r) {
    d.labels.push_back(label == kNoLabel ? 0
                                         : CheckLabel(a.Get(r * a.shape[1] + label), kMaxClasses,
                                                      name + ": row " + std::to_string(r)));
  }
  FillFeatures(a, a.shape[0], a.shape[1], label == kNoLabel ? UINT64_MAX : label, &d, name);
  FinishClasses(&d, name);
  return d;
}

FeatureSet ParseNpz(const uint8_t* bytes, size_t size, const std::string& name) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes, size, 0, &error);
  if (!src) throw InputError(name + ": " + zip_error_strerror(&error));
  zip_t* zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!zip) {
    zip_source_free(src);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    throw InputError(name + ": not a readable .npz (zip) archive: " + why);
  }
  struct ZipCloser {
    void operator()(zip_t* z) const { zip_discard(z); }
  };
  std::unique_ptr<zip_t, ZipCloser> archive(zip);
  auto entry = [&](const char* key) {
    const std::string member = std::string(key) + ".npy";
    const zip_int64_t index = zip_name_locate(zip, member.c_str(), 0);
    if (index < 0) {
      throw InputError(name + ": has no array '" + key + "' (expected arrays x and y, as "
                       "numpy.savez(path, x=features, y=labels) writes)");
    }
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip, static_cast<zip_uint64_t>(index), 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE) || st.size > kMaxBytes) {
      throw InputError(name + ": " + member + " has no valid size (expected at most 2 GiB)");
    }
    struct FileCloser {
      void operator()(zip_file_t* f) const { zip_fclose(f); }
    };
    std::unique_ptr<zip_file_t, FileCloser> f(zip_fopen_index(zip, static_cast<zip_uint64_t>(index), 0));
    if (!f) throw InputError(name + ": cannot read " + member + ": " + zip_strerror(zip));
    // Grow with what arrives, so a false size claim costs little.
    std::vector<uint8_t> out;
    while (out.size() < st.size) {
      const size_t done = out.size();
      out.resize(std::min<uint64_t>(st.size, done + std::max<size_t>(done, 1 << 16)));
      const zip_int64_t got = zip_fread(f.get(), out.data() + done, out.size() - done);
      if (got <= 0) {
        throw InputError(name + ": " + member + " is damaged or shorter than its size (" +
                         zip_file_strerror(f.get()) + ")");
      }
      out.resize(done + static_cast<size_t>(got));
    }
    return out;
  };
  const std::vector<uint8_t> xb = entry("x"), yb = entry("y");
  const NpyArray x = ParseNpyArray(xb.data(), xb.size(), name + ":x.npy");
  const NpyArray y = ParseNpyArray(yb.data(), yb.size(), name + ":y.npy");
  if (x.shape.empty() || x.shape[0] == 0) {
    throw InputError(name + ": x has shape " + ShapeString(x) + " (expected examples x features)");
  }
  if (!(y.shape.size() == 1 || (y.shape.size() == 2 && y.shape[1] == 1)) ||
      y.shape[0] != x.shape[0]) {
    throw InputError(name + ": y has shape " + ShapeString(y) + " but x has " + ShapeString(x) +
                     " (expected one label per row of x: (" + std::to_string(x.shape[0]) + ",))");
  }
  FeatureSet d;
  d.layout = "NumPy .npz, x " + ShapeString(x) + ", y " + ShapeString(y);
  for (uint64_t r = 0; r < y.shape[0]; ++r) {
    d.labels.push_back(CheckLabel(y.Get(r), kMaxClasses, name + ": y[" + std::to_string(r) + "]"));
  }
  FillFeatures(x, x.shape[0], x.count / x.shape[0], UINT64_MAX, &d, name + ": x");
  FinishClasses(&d, name);
  return d;
}

bool IsFeatureFile(const std::string& path) {
  return EndsWith(path, ".csv") || EndsWith(path, ".csv.gz") || EndsWith(path, ".tsv") ||
         EndsWith(path, ".npy") || EndsWith(path, ".npz");
}

FeatureSet ReadFeatureFile(const std::string& path, const std::string& label_column) {
  if (!IsFeatureFile(path)) {
    throw InputError(path + ": unknown data file type (expected .csv, .csv.gz, .tsv, .npy or "
                     ".npz, or an MNIST-format IDX directory)");
  }
  const std::vector<uint8_t> bytes = ReadAll(path);  // gzip is read transparently
  if (EndsWith(path, ".npy")) return ParseNpy(bytes.data(), bytes.size(), path, label_column);
  if (EndsWith(path, ".npz")) {
    if (!label_column.empty()) {
      throw InputError(path + ": --label-column does not apply to .npz (labels are its array y)");
    }
    return ParseNpz(bytes.data(), bytes.size(), path);
  }
  return ParseCsv(reinterpret_cast<const char*>(bytes.data()), bytes.size(), path, label_column);
}

FloatInputTransform ChooseFeatureTransform(const FeatureSet& data,
                                           const std::vector<size_t>& rows) {
  FloatInputTransform t;
  t.kind = InputTransformKind::kAffine;
  t.scale.assign(data.features, 1.0f);
  t.offset.assign(data.features, 0.0f);
  if (rows.empty()) return t;
  for (uint32_t f = 0; f < data.features; ++f) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t r : rows) {
      lo = std::min<double>(lo, data.row(r)[f]);
      hi = std::max<double>(hi, data.row(r)[f]);
    }
    const double s = hi > lo ? 255.0 / (hi - lo) : 1.0;
    const float fs = static_cast<float>(s), fo = static_cast<float>(-lo * s);
    if (!std::isfinite(fs) || !std::isfinite(fo) || fs == 0) {
      throw InputError("feature " + std::to_string(f + 1) + " spans " + std::to_string(lo) +
                       ".." + std::to_string(hi) +
                       ": no float32 scale maps it onto 0..255 (rescale that column)");
    }
    t.scale[f] = fs;
    t.offset[f] = fo;
  }
  return t;
}

void SplitHeldOut(const std::vector<uint8_t>& labels, uint32_t classes, double fraction,
                  uint64_t seed, std::vector<size_t>* train, std::vector<size_t>* test) {
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(labels.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<size_t> count(classes, 0), taken(classes, 0);
  for (uint8_t l : labels) count[l]++;
  train->clear();
  test->clear();
  for (size_t i : order) {
    const uint8_t l = labels[i];
    const size_t quota = static_cast<size_t>(std::llround(fraction * static_cast<double>(count[l])));
    // Keep at least one example of every class for training.
    if (taken[l] < quota && taken[l] + 1 < count[l]) {
      taken[l]++;
      test->push_back(i);
    } else {
      train->push_back(i);
    }
  }
}

Dataset QuantizeRows(const FeatureSet& data, const std::vector<size_t>& index,
                     const FloatInputTransform& transform, uint32_t classes) {
  const InputTransform view = transform.View();
  if (view.kind != InputTransformKind::kAffine || view.in_size != data.features) {
    throw InputError("the model's input transform takes " + std::to_string(view.in_size) +
                     " features but the data has " + std::to_string(data.features));
  }
  Dataset d;
  d.images.count = static_cast<uint32_t>(index.size());
  d.images.rows = data.features;  // features are input_rows x 1 (FloatModel)
  d.images.cols = 1;
  d.images.pixels.resize(index.size() * data.features);
  d.classes = classes;
  uint8_t* q = d.images.pixels.data();
  for (size_t i : index) {
    if (!QuantizeFeatures(view, data.row(i), q)) {
      throw InputError("row " + std::to_string(i) + " has a value that is not finite");
    }
    q += data.features;
    d.labels.push_back(data.labels[i]);
  }
  return d;
}

namespace {

std::vector<size_t> AllRows(size_t n) {
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  return all;
}

std::string Percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g%%", 100 * f);
  return buf;
}

}  // namespace

ModelShape ShapeOf(const FloatModel& model) {
  ModelShape s;
  s.input_size = model.input_size();
  s.outputs = model.output_size();
  s.transform = model.input_transform;
  return s;
}

LoadedData LoadData(const DataSpec& spec, const ModelShape* model) {
  LoadedData out;
  if (!IsFeatureFile(spec.data)) {
    const std::string dir = ResolveDataDir(spec.data);
    if (!spec.test_data.empty()) {
      throw InputError("--test-data " + spec.test_data + ": applies to CSV/NumPy data (" + dir +
                       " is an IDX directory with its own test files)");
    }
    static_cast<Mnist&>(out) = LoadMnist(dir);
    out.source = dir + " (IDX, " + std::to_string(out.train.images.rows) + "x" +
                 std::to_string(out.train.images.cols) + " images, " +
                 std::to_string(out.train.classes) + " classes)";
    out.split = "test: the directory's t10k files (" + std::to_string(out.test.size()) + " images)";
    if (model && model->transform.kind == InputTransformKind::kAffine) {
      throw InputError(dir + " holds images but the model takes " +
                       std::to_string(model->input_size) + " float features (give it --data "
                       "FILE.csv/.npy/.npz)");
    }
    return out;
  }
  if (model && model->transform.kind != InputTransformKind::kAffine) {
    throw InputError(spec.data + " holds float features but the model takes " +
                     std::to_string(model->input_size) + " pixels, without an input transform");
  }
  if (!(spec.test_fraction > 0 && spec.test_fraction < 1)) {
    throw InputError("--test-fraction " + std::to_string(spec.test_fraction) +
                     " (expected between 0 and 1)");
  }
  const FeatureSet all = ReadFeatureFile(spec.data, spec.label_column);
  if (!model) RequireEveryClass(all, spec.data);  // training needs an example of each
  out.features = true;
  out.class_names = all.class_names;
  out.source = spec.data + " (" + all.layout + "; " + std::to_string(all.size()) + " rows, " +
               std::to_string(all.features) + " features, " + std::to_string(all.classes) +
               " classes)";
  std::vector<size_t> train_rows, test_rows;
  FeatureSet test_file;
  const FeatureSet* test_set = &all;
  uint32_t classes = all.classes;
  if (spec.test_data.empty()) {
    SplitHeldOut(all.labels, all.classes, spec.test_fraction, spec.split_seed, &train_rows,
                 &test_rows);
    out.split = "test: " + std::to_string(test_rows.size()) + " of " +
                std::to_string(all.size()) + " rows held out (" + Percent(spec.test_fraction) +
                " of each class, split seed " + std::to_string(spec.split_seed) + ")";
  } else {
    test_file = ReadFeatureFile(spec.test_data, spec.label_column);
    if (test_file.features != all.features) {
      throw InputError(spec.test_data + " has " + std::to_string(test_file.features) +
                       " features per row but " + spec.data + " has " +
                       std::to_string(all.features));
    }
    if (test_file.classes > all.classes) {
      throw InputError(spec.test_data + " has label " + std::to_string(test_file.classes - 1) +
                       " but " + spec.data + " only classes 0.." +
                       std::to_string(all.classes - 1));
    }
    // Shuffled once (seeded), so the validation split taken from the end
    // of the training rows is not one class of a sorted file.
    train_rows = AllRows(all.size());
    std::mt19937_64 rng(spec.split_seed);
    std::shuffle(train_rows.begin(), train_rows.end(), rng);
    test_rows = AllRows(test_file.size());
    test_set = &test_file;
    out.split = "test: " + spec.test_data + " (" + std::to_string(test_file.size()) + " rows)";
  }
  if (model) {
    if (model->input_size != all.features) {
      throw InputError(spec.data + " has " + std::to_string(all.features) +
                       " features per row but the model takes " +
                       std::to_string(model->input_size));
    }
    for (const FeatureSet* d : {&all, test_set}) {
      if (d->classes > model->outputs) {
        throw InputError((d == &all ? spec.data : spec.test_data) + " has label " +
                         std::to_string(d->classes - 1) + " but the model has " +
                         std::to_string(model->outputs) + " outputs");
      }
    }
    out.transform = model->transform;
    classes = model->outputs;
  } else {
    out.transform = ChooseFeatureTransform(all, train_rows);
  }
  out.train = QuantizeRows(all, train_rows, out.transform, classes);
  out.test = QuantizeRows(*test_set, test_rows, out.transform, classes);
  out.test_x.reserve(test_rows.size() * all.features);
  for (size_t i : test_rows) {
    out.test_x.insert(out.test_x.end(), test_set->row(i), test_set->row(i) + all.features);
  }
  return out;
}

}  // namespace edgemlp
