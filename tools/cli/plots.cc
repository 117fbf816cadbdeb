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

}  // namespace

std::string LineChartSvg(const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series,
                         bool log_x) {
  constexpr double kW = 640, kH = 400, kL = 70, kR = 20, kT = 40, kB = 50;
  const auto fx = [&](double x) { return log_x ? std::log10(x) : x; };
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, fx(s.x[i]));
      x1 = std::max(x1, fx(s.x[i]));
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  }
  if (x0 > x1) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (x1 - x0 < 1e-12) x1 = x0 + 1;
  const double pad = std::max((y1 - y0) * 0.05, 1e-6);
  y0 -= pad;
  y1 += pad;
  const auto px = [&](double x) { return kL + (fx(x) - x0) / (x1 - x0) * (kW - kL - kR); };
  const auto py = [&](double y) { return kT + (y1 - y) / (y1 - y0) * (kH - kT - kB); };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kW) +
                    "\" height=\"" + Num(kH) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += Text(kW / 2, 22, title, "text-anchor=\"middle\" font-size=\"15\"");
  svg += "<rect x=\"" + Num(kL) + "\" y=\"" + Num(kT) + "\" width=\"" + Num(kW - kL - kR) +
         "\" height=\"" + Num(kH - kT - kB) + "\" fill=\"none\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 5; ++i) {  // ticks
    const double yv = y0 + (y1 - y0) * i / 5, xv = x0 + (x1 - x0) * i / 5;
    const double xs = kL + (kW - kL - kR) * i / 5;
    svg += Text(kL - 6, py(yv) + 4, Num(yv), "text-anchor=\"end\"");
    svg += "<line x1=\"" + Num(kL) + "\" x2=\"" + Num(kW - kR) + "\" y1=\"" + Num(py(yv)) +
           "\" y2=\"" + Num(py(yv)) + "\" stroke=\"#ddd\"/>\n";
    svg += Text(xs, kH - kB + 16, Num(log_x ? std::pow(10, xv) : xv), "text-anchor=\"middle\"");
  }
  svg += Text(kW / 2, kH - 10, x_label, "text-anchor=\"middle\"");
  svg += Text(16, kH / 2, y_label,
              "text-anchor=\"middle\" transform=\"rotate(-90 16 " + Num(kH / 2) + ")\"");
  double legend_y = kT + 16;
  for (const Series& s : series) {
    std::string points;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (std::isfinite(s.y[i])) points += Num(px(s.x[i])) + "," + Num(py(s.y[i])) + " ";
    }
    svg += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"2\" points=\"" +
           points + "\"/>\n";
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (std::isfinite(s.y[i])) {
        svg += "<circle cx=\"" + Num(px(s.x[i])) + "\" cy=\"" + Num(py(s.y[i])) +
               "\" r=\"3\" fill=\"" + s.color + "\"/>\n";
      }
    }
    svg += "<rect x=\"" + Num(kW - kR - 150) + "\" y=\"" + Num(legend_y - 9) +
           "\" width=\"12\" height=\"3\" fill=\"" + s.color + "\"/>\n";
    svg += Text(kW - kR - 133, legend_y - 4, s.name);
    legend_y += 16;
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

std::vector<uint8_t> DigitSheetPng(const Dataset& data, const std::vector<size_t>& indices) {
  constexpr int kScale = 3, kColumns = 10, kGap = 4;
  const int rows = static_cast<int>(data.images.rows), cols = static_cast<int>(data.images.cols);
  const int tile_w = cols * kScale + kGap, tile_h = rows * kScale + kGap;
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

void WriteRunPlots(const std::string& dir, const Run& run, const Dataset& test) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw InputError("--plots " + dir + ": cannot create the directory (" + ec.message() + ")");
  Series cost{"train cost (data + reg)", "#1f77b4", {}, {}}, reg{"reg term", "#ff7f0e", {}, {}};
  Series train_acc{"train", "#1f77b4", {}, {}}, val_acc{"validation", "#d62728", {}, {}};
  for (const EpochRecord& r : run.result.history) {
    for (Series* s : {&cost, &reg, &train_acc, &val_acc}) s->x.push_back(r.epoch);
    cost.y.push_back(r.cost());
    reg.y.push_back(r.reg_loss);
    train_acc.y.push_back(100 * r.train_accuracy);
    val_acc.y.push_back(100 * r.val_accuracy);
  }
  // The loss of answering the class frequencies: a plateau here learned nothing.
  const double prior =
      PriorLoss(run.config.loss, CountClasses(run.data.labels, 0, run.n_train).share);
  Series prior_line{"class-prior loss", "#999999", cost.x,
                    std::vector<double>(cost.x.size(), prior)};
  WriteFileAtomic(dir + "/loss.svg",
                  LineChartSvg("Loss per epoch", "epoch", "loss", {cost, reg, prior_line}));
  WriteFileAtomic(dir + "/accuracy.svg", LineChartSvg("Accuracy per epoch", "epoch", "accuracy (%)",
                                                      {train_acc, val_acc}));

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
  WriteFileAtomic(dir + "/confusion.svg", ConfusionSvg(confusion));
  std::sort(wrong.begin(), wrong.end(), std::greater<>());
  wrong.resize(std::min<size_t>(wrong.size(), 40));
  std::vector<size_t> indices;
  Json list = Json::array();
  for (const auto& [conf, i] : wrong) {
    indices.push_back(i);
    list.push_back(
        {{"index", i}, {"label", test.labels[i]}, {"predicted", pred[i]}, {"confidence", conf}});
  }
  const std::vector<uint8_t> png = DigitSheetPng(test, indices);
  WriteFileAtomic(dir + "/misclassified.png", png.data(), png.size());
  WriteFileAtomic(dir + "/misclassified.json", list.dump(1) + "\n");
}

}  // namespace edgemlp::cli
