#include "cli/plots.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "atomic_file.h"
#include "error.h"

namespace edgemlp::cli {

namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

std::string Text(double x, double y, const std::string& s, const std::string& extra = "") {
  return "<text x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" " + extra + ">" + s + "</text>\n";
}

std::string Line(double x1, double y1, double x2, double y2, const std::string& style) {
  return "<line x1=\"" + Num(x1) + "\" y1=\"" + Num(y1) + "\" x2=\"" + Num(x2) + "\" y2=\"" +
         Num(y2) + "\" " + style + "/>\n";
}

// 1, 2, 5 or 10 x 10^k near x (Heckbert, "Nice numbers for graph labels").
double NiceNumber(double x) {
  const double p = std::pow(10.0, std::floor(std::log10(x)));
  const double f = x / p;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

// A tick label with as many decimals as the step needs (0.2 -> "0.4").
std::string TickLabel(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, std::abs(v) < step * 1e-9 ? 0.0 : v);
  return buf;
}

// Ticks of a log axis over [lo, hi] (> 0): 1, 2, 5 x 10^k, or only the
// powers of ten when those would be too many.
std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> all, decades;
  for (int k = static_cast<int>(std::floor(std::log10(lo))); k <= std::ceil(std::log10(hi)); ++k) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, k);
      if (v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
      all.push_back(v);
      if (m == 1) decades.push_back(v);
    }
  }
  return all.size() <= 10 || decades.size() < 2 ? all : decades;
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target, bool integer) {
  if (!(hi > lo)) hi = lo + (integer ? 1 : std::max(std::abs(lo) * 0.1, 1e-6));
  double step = NiceNumber((hi - lo) / std::max(1, target - 1));
  if (integer) step = std::max(step, 1.0);
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last; ++k) ticks.push_back(k * step);
  return ticks;
}

std::string LineChartSvg(const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series,
                         ChartAxes axes) {
  // Frame [kL, kW - kLegend] x [kT, kH - kB]; the legend is the column right of it.
  constexpr double kW = 810, kH = 400, kL = 70, kLegend = 250, kT = 40, kB = 50, kPad = 12;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  bool integer_x = true;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (axes.log_x && !(s.x[i] > 0))) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
      integer_x &= s.x[i] == std::round(s.x[i]);
    }
  }
  if (x0 > x1) {  // nothing to draw: an empty frame
    x0 = y0 = 0;
    x1 = y1 = 1;
  }
  if (axes.y_from_zero) y0 = std::min(y0, 0.0);
  const std::vector<double> yt = NiceTicks(y0, y1, 6);
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  std::vector<double> xt;
  if (axes.log_x) {
    xt = LogTicks(x0, std::max(x1, x0 * 1.0001));
  } else {
    // Epochs: ticks inside the data's range only (no epoch 0 or 11).
    for (double v : NiceTicks(x0, x1, 8, integer_x)) {
      if (v >= x0 - 1e-9 && v <= x1 + 1e-9) xt.push_back(v);
    }
  }
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  const auto fx = [&](double x) { return axes.log_x ? std::log10(x) : x; };
  const double fx0 = fx(x0);
  const double fx1 = fx(x1) > fx0 ? fx(x1) : fx0 + 1;
  const double right = kW - kLegend;
  const auto px = [&](double x) {
    return kL + kPad + (fx(x) - fx0) / (fx1 - fx0) * (right - kL - 2 * kPad);
  };
  const auto py = [&](double y) {
    return kH - kB - (y - yt.front()) / (yt.back() - yt.front()) * (kH - kT - kB);
  };

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kW) +
                    "\" height=\"" + Num(kH) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += Text((kL + right) / 2, 22, title, "text-anchor=\"middle\" font-size=\"15\"");
  for (double v : yt) {
    svg += Line(kL, py(v), right, py(v), "stroke=\"#e0e0e0\"");
    svg += Line(kL - 4, py(v), kL, py(v), "stroke=\"black\"");
    svg += Text(kL - 7, py(v) + 4, TickLabel(v, ystep), "text-anchor=\"end\"");
  }
  for (double v : xt) {
    svg += Line(px(v), kT, px(v), kH - kB, "stroke=\"#f0f0f0\"");
    svg += Line(px(v), kH - kB, px(v), kH - kB + 4, "stroke=\"black\"");
    svg += Text(px(v), kH - kB + 17, TickLabel(v, axes.log_x ? std::min(v, 1.0) : xstep),
                "text-anchor=\"middle\"");
  }
  svg += "<rect x=\"" + Num(kL) + "\" y=\"" + Num(kT) + "\" width=\"" + Num(right - kL) +
         "\" height=\"" + Num(kH - kT - kB) + "\" fill=\"none\" stroke=\"black\"/>\n";
  svg += Text((kL + right) / 2, kH - 12, x_label, "text-anchor=\"middle\"");
  svg += Text(18, (kT + kH - kB) / 2, y_label,
              "text-anchor=\"middle\" transform=\"rotate(-90 18 " + Num((kT + kH - kB) / 2) +
                  ")\"");
  double legend_y = kT + 8;
  for (const Series& s : series) {
    const std::string dash = s.dashed ? " stroke-dasharray=\"6 4\"" : "";
    std::string points;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (std::isfinite(s.y[i]) && (!axes.log_x || s.x[i] > 0)) {
        points += Num(px(s.x[i])) + "," + Num(py(s.y[i])) + " ";
      }
    }
    if (!points.empty()) {
      svg += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"2\"" + dash +
             " points=\"" + points + "\"/>\n";
    }
    for (size_t i = 0; i < s.x.size() && !s.dashed; ++i) {
      if (std::isfinite(s.y[i]) && (!axes.log_x || s.x[i] > 0)) {
        svg += "<circle cx=\"" + Num(px(s.x[i])) + "\" cy=\"" + Num(py(s.y[i])) +
               "\" r=\"3\" fill=\"" + s.color + "\"/>\n";
      }
    }
    svg += Line(right + 16, legend_y, right + 40, legend_y,
                "stroke=\"" + s.color + "\" stroke-width=\"2\"" + dash);
    svg += Text(right + 46, legend_y + 4, s.name);
    legend_y += 20;
  }
  return svg + "</svg>\n";
}

std::string ConfusionSvg(const std::vector<std::vector<int>>& counts) {
  constexpr double kCell = 44, kL = 70, kT = 60;
  const double size = kL + kCell * 10 + 20;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(size) +
                    "\" height=\"" + Num(size) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += Text(size / 2, 20, "Confusion matrix (test): rows true digit, columns predicted",
              "text-anchor=\"middle\" font-size=\"14\"");
  for (int t = 0; t < 10; ++t) {
    const int row_total = std::max(1, std::accumulate(counts[t].begin(), counts[t].end(), 0));
    svg += Text(kL - 10, kT + kCell * t + kCell / 2 + 4, std::to_string(t), "text-anchor=\"end\"");
    svg += Text(kL + kCell * t + kCell / 2, kT - 8, std::to_string(t), "text-anchor=\"middle\"");
    for (int p = 0; p < 10; ++p) {
      const double share = static_cast<double>(counts[t][p]) / row_total;
      const int shade = static_cast<int>(255 - 200 * std::sqrt(share));
      char fill[16];
      std::snprintf(fill, sizeof(fill), "#%02x%02xff", shade, shade);
      svg += "<rect x=\"" + Num(kL + kCell * p) + "\" y=\"" + Num(kT + kCell * t) + "\" width=\"" +
             Num(kCell) + "\" height=\"" + Num(kCell) + "\" fill=\"" + fill +
             "\" stroke=\"#999\"/>\n";
      svg += Text(kL + kCell * p + kCell / 2, kT + kCell * t + kCell / 2 + 4,
                  std::to_string(counts[t][p]),
                  std::string("text-anchor=\"middle\" font-size=\"11\"") +
                      (share > 0.5 ? " fill=\"white\"" : ""));
    }
  }
  return svg + "</svg>\n";
}

namespace {

// 5x7 glyphs for the captions: the digits, then an arrow (index 10). Row r
// of a glyph is bits 4..0 of its byte r, left to right.
constexpr uint8_t kGlyphs[11][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x00, 0x04, 0x02, 0x1F, 0x02, 0x04, 0x00}};
constexpr int kGlyphScale = 2, kGlyphW = 5 * kGlyphScale, kGlyphH = 7 * kGlyphScale;

// Writes glyphs (indices into kGlyphs) in white with their left edge at x.
void DrawGlyphs(std::vector<uint8_t>* gray, int width, int x, int y,
                const std::vector<int>& glyphs) {
  for (int g : glyphs) {
    for (int r = 0; r < kGlyphH; ++r) {
      for (int c = 0; c < kGlyphW; ++c) {
        if (kGlyphs[g][r / kGlyphScale] >> (4 - c / kGlyphScale) & 1) {
          (*gray)[static_cast<size_t>(y + r) * width + x + c] = 255;
        }
      }
    }
    x += kGlyphW + kGlyphScale;
  }
}

}  // namespace

std::vector<uint8_t> DigitSheetPng(const Dataset& data, const std::vector<size_t>& indices,
                                   const std::vector<uint8_t>& predicted) {
  constexpr int kScale = 3, kColumns = 10, kGap = 4, kCaption = kGlyphH + 6;
  const int rows = static_cast<int>(data.images.rows), cols = static_cast<int>(data.images.cols);
  const int tile_w = cols * kScale + kGap, tile_h = rows * kScale + kCaption + kGap;
  const int grid_rows =
      std::max<int>(1, (static_cast<int>(indices.size()) + kColumns - 1) / kColumns);
  const int width = kColumns * tile_w + kGap, height = grid_rows * tile_h + kGap;
  std::vector<uint8_t> gray(static_cast<size_t>(width) * height, 64);
  for (size_t n = 0; n < indices.size(); ++n) {
    const uint8_t* img = data.images.image(indices[n]);
    const int ox = kGap + static_cast<int>(n % kColumns) * tile_w;
    const int oy = kGap + static_cast<int>(n / kColumns) * tile_h;
    for (int y = 0; y < rows * kScale; ++y) {
      for (int x = 0; x < cols * kScale; ++x) {
        // Dark digits on white, as on paper.
        gray[static_cast<size_t>(oy + y) * width + ox + x] =
            static_cast<uint8_t>(255 - img[(y / kScale) * cols + x / kScale]);
      }
    }
    // "7 -> 1": the true digit, then what the model predicted.
    const std::vector<int> caption = {data.labels[indices[n]] % 10, 10, predicted[n] % 10};
    const int caption_w = 3 * kGlyphW + 2 * kGlyphScale;
    DrawGlyphs(&gray, width, ox + (cols * kScale - caption_w) / 2, oy + rows * kScale + 4,
               caption);
  }
  std::vector<uint8_t> png;
  const auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(append, &png, width, height, 1, gray.data(), width)) {
    throw InputError("cannot encode the misclassified-digits PNG");
  }
  return png;
}

double ClassPriorLoss(const Run& run) {
  return PriorLoss(run.config.loss,
                   CountClasses(run.data.labels, 0, run.n_train, run.data.classes).share);
}

std::string LossChartSvg(const std::vector<EpochRecord>& history, OutputLoss loss, double prior) {
  // Train: the mean over the epoch's batches; validation: after the epoch.
  Series train_loss{"train (epoch mean)", "#1f77b4", {}, {}};
  Series val_loss{"validation (epoch end)", "#d62728", {}, {}};
  Series reg{"L2 term", "#ff7f0e", {}, {}};
  double top = 0, reg_max = 0;
  for (const EpochRecord& r : history) {
    for (Series* s : {&train_loss, &val_loss, &reg}) s->x.push_back(r.epoch);
    train_loss.y.push_back(r.train_loss);
    val_loss.y.push_back(r.val_loss);
    reg.y.push_back(r.reg_loss);
    top = std::max({top, r.train_loss, std::isfinite(r.val_loss) ? r.val_loss : 0.0});
    reg_max = std::max(reg_max, r.reg_loss);
  }
  std::vector<Series> losses = {train_loss, val_loss};
  if (reg_max > 0) losses.push_back(reg);
  // The loss of answering the class frequencies: a plateau here learned
  // nothing. Far above the curves it would squash them; the legend says so.
  if (std::isfinite(prior)) {
    char prior_name[64];
    const bool prior_shown = prior <= 2 * top;
    std::snprintf(prior_name, sizeof(prior_name), "class-prior loss %.3g%s", prior,
                  prior_shown ? "" : " (above)");
    Series prior_line{prior_name, "#888888", {}, {}, true};
    if (prior_shown) {
      prior_line.x = train_loss.x;
      prior_line.y.assign(train_loss.x.size(), prior);
    }
    losses.push_back(prior_line);
  }
  const char* loss_label = loss == OutputLoss::kSoftmaxCe ? "cross-entropy" : "sum of sigmoid BCEs";
  return LineChartSvg("Loss per epoch", "epoch", std::string("loss (") + loss_label + ")", losses,
                      {false, true});
}

std::string AccuracyChartSvg(const std::vector<EpochRecord>& history) {
  Series train_acc{"train", "#1f77b4", {}, {}}, val_acc{"validation", "#d62728", {}, {}};
  for (const EpochRecord& r : history) {
    for (Series* s : {&train_acc, &val_acc}) s->x.push_back(r.epoch);
    train_acc.y.push_back(100 * r.train_accuracy);
    val_acc.y.push_back(100 * r.val_accuracy);
  }
  return LineChartSvg("Accuracy per epoch", "epoch", "accuracy (%)", {train_acc, val_acc});
}

RunPlots MakeRunPlots(const Run& run, const Dataset& test) {
  RunPlots plots;
  plots.loss_svg = LossChartSvg(run.result.history, run.config.loss, ClassPriorLoss(run));
  plots.accuracy_svg = AccuracyChartSvg(run.result.history);

  Eigen::MatrixXf logits;
  const std::vector<uint8_t> pred = PredictFloat(run.result.model, test, 0, test.size(), &logits);
  std::vector<std::vector<int>> confusion(10, std::vector<int>(10, 0));
  std::vector<std::pair<double, size_t>> wrong;  // (confidence, index)
  for (size_t i = 0; i < pred.size(); ++i) {
    confusion[test.labels[i] % 10][pred[i] % 10] += 1;
    if (pred[i] == test.labels[i]) continue;
    // Softmax probability of the predicted class (sigmoid for per-output BCE).
    const Eigen::VectorXf z = logits.col(static_cast<Eigen::Index>(i));
    const double conf = run.config.loss == OutputLoss::kSoftmaxCe
                            ? 1.0 / (z.array() - z[pred[i]]).exp().sum()
                            : 1.0 / (1.0 + std::exp(-z[pred[i]]));
    wrong.push_back({conf, i});
  }
  plots.confusion_svg = ConfusionSvg(confusion);
  std::sort(wrong.begin(), wrong.end(), std::greater<>());
  wrong.resize(std::min<size_t>(wrong.size(), 40));
  std::vector<size_t> indices;
  std::vector<uint8_t> predicted;
  Json list = Json::array();
  for (const auto& [conf, i] : wrong) {
    indices.push_back(i);
    predicted.push_back(pred[i]);
    list.push_back(
        {{"index", i}, {"label", test.labels[i]}, {"predicted", pred[i]}, {"confidence", conf}});
  }
  plots.misclassified_png = DigitSheetPng(test, indices, predicted);
  plots.misclassified_json = list.dump(1) + "\n";
  return plots;
}

void WriteRunPlots(const std::string& dir, const RunPlots& plots) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw InputError("--plots " + dir + ": cannot create the directory (" + ec.message() + ")");
  WriteFileAtomic(dir + "/loss.svg", plots.loss_svg);
  WriteFileAtomic(dir + "/accuracy.svg", plots.accuracy_svg);
  WriteFileAtomic(dir + "/confusion.svg", plots.confusion_svg);
  WriteFileAtomic(dir + "/misclassified.png", plots.misclassified_png.data(),
                  plots.misclassified_png.size());
  WriteFileAtomic(dir + "/misclassified.json", plots.misclassified_json);
}

}  // namespace edgemlp::cli
