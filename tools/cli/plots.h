// Pictures of a run a person can open: line charts and a confusion matrix
// as SVG (plain text), and a sheet of misclassified digits as PNG (written
// with stb_image_write).
#ifndef EDGEMLP_TOOLS_PLOTS_H_
#define EDGEMLP_TOOLS_PLOTS_H_

#include <string>
#include <vector>

#include "idx.h"
#include "cli/train_options.h"

namespace edgemlp::cli {

struct Series {
  std::string name;
  std::string color;  // SVG colour, e.g. "#1f77b4"
  std::vector<double> x, y;
};

// A line chart with axes, ticks and a legend; `log_x` for sizes.
std::string LineChartSvg(const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series,
                         bool log_x = false);
// counts[true][predicted]
std::string ConfusionSvg(const std::vector<std::vector<int>>& counts);
// Up to `max` images of `data`, sorted by the caller, 28x28 tiles scaled x3
// on a dark grid, as PNG bytes.
std::vector<uint8_t> DigitSheetPng(const Dataset& data, const std::vector<size_t>& indices);

// Into `dir` (created if missing): loss.svg, accuracy.svg, confusion.svg,
// misclassified.png (the 40 most confidently wrong test digits, row by row)
// and misclassified.json (their index, label, prediction, confidence).
void WriteRunPlots(const std::string& dir, const Run& run, const Dataset& test);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_PLOTS_H_
