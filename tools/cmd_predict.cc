// edgemlp predict: image files -> digit and probabilities, on the runtime.
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <memory>

#include "cli.h"
#include "edgemlp/runtime.h"
#include "error.h"

namespace edgemlp::cli {

namespace {

struct PredictOptions {
  std::string blob;
  std::vector<std::string> images;
  bool json = false;
};

constexpr int kMaxImageSide = 8192;

// Reads an 8-bit grayscale (or colour, converted) PGM/PNG/... file into
// rows x cols pixels in MNIST's convention: light ink on a dark background.
// Other sizes are scaled; a light background (mean border > 127) is inverted.
std::vector<uint8_t> ReadImage(const std::string& path, int rows, int cols) {
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &channels)) {
    throw InputError(path + ": not a readable image (" + stbi_failure_reason() +
                     "; expected PGM or PNG, 8-bit grayscale)");
  }
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide) {
    throw InputError(path + ": " + std::to_string(w) + "x" + std::to_string(h) +
                     " pixels (expected 1.." + std::to_string(kMaxImageSide) + " per side)");
  }
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &channels, 1),
                                                 stbi_image_free);
  if (!data) throw InputError(path + ": cannot decode (" + stbi_failure_reason() + ")");
  std::vector<uint8_t> out(static_cast<size_t>(rows) * cols);
  if (w == cols && h == rows) {
    std::memcpy(out.data(), data.get(), out.size());
  } else if (!stbir_resize_uint8(data.get(), w, h, 0, out.data(), cols, rows, 0, 1)) {
    throw InputError(path + ": cannot scale to " + std::to_string(cols) + "x" + std::to_string(rows));
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

void RunPredict(const PredictOptions& o) {
  Network net;
  const LoadResult r = Network::LoadFile(o.blob, &net);
  if (!r.ok()) throw InputError(r.message);
  const FileHeader& h = net.blob().header;
  if (h.input_rows * h.input_cols != h.input_size || h.input_rows == 0) {
    throw InputError(o.blob + ": its input is not an image");
  }
  Json results = Json::array();
  std::string human;
  std::vector<int32_t> logits(net.output_size());
  std::vector<float> probs(net.output_size());
  for (const std::string& path : o.images) {
    const std::vector<uint8_t> pixels = ReadImage(path, h.input_rows, h.input_cols);
    const int digit = net.Predict(pixels.data(), logits.data());
    Softmax(logits.data(), logits.size(), net.logit_scale(), probs.data());
    results.push_back({{"file", path}, {"digit", digit}, {"probability", probs[digit]},
                       {"probabilities", probs}});
    char line[512];
    int n = std::snprintf(line, sizeof(line), "%s: %d (%.1f%%)  [", path.c_str(), digit,
                          100 * probs[digit]);
    for (size_t k = 0; k < probs.size(); ++k) {
      n += std::snprintf(line + n, sizeof(line) - n, "%s%zu:%.3f", k ? " " : "", k, probs[k]);
    }
    human += std::string(line) + "]\n";
  }
  Emit(o.json, {{"model", o.blob}, {"target", TargetName(ChosenTarget())}, {"predictions", results}},
       human);
}

}  // namespace

void AddPredict(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict", "Digit and probabilities for images (PGM/PNG; other sizes are scaled to 28x28)");
  cmd->add_option("blob", o->blob, "int8 blob")->required();
  cmd->add_option("images", o->images, "Image files")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunPredict(*o); });
}

}  // namespace edgemlp::cli
