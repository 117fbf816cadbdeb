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
  bool dashed = false;  // a reference line rather than measurements
};

struct ChartAxes {
  bool log_x = false;        // for sizes: ticks at 1, 2, 5 x 10^k
  bool y_from_zero = false;  // losses: the y axis starts at 0
};

// Tick values for data in [lo, hi]: multiples of 1, 2 or 5 x 10^k, about
// `target` of them; with `integer`, steps of at least 1. The axis runs from
// the first tick to the last, which enclose [lo, hi].
std::vector<double> NiceTicks(double lo, double hi, int target, bool integer = false);

// A line chart: round tick values, the legend in its own column right of the
// frame (it never covers data). Integer x values (epochs) get integer ticks.
std::string LineChartSvg(const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series,
                         ChartAxes axes = {});
// counts[true][predicted]
std::string ConfusionSvg(const std::vector<std::vector<int>>& counts);
// The images `indices` of `data` (in that order, 10 per row), each scaled x3
// on a dark grid with "true -> predicted" (`predicted[n]`) written under it,
// as PNG bytes.
std::vector<uint8_t> DigitSheetPng(const Dataset& data, const std::vector<size_t>& indices,
                                   const std::vector<uint8_t>& predicted);

// The learning curves from a run's per-epoch records: train and validation
// loss, the L2 term if any and `prior` (the class-prior loss, dashed; NaN
// leaves it out); train and validation accuracy.
std::string LossChartSvg(const std::vector<EpochRecord>& history, OutputLoss loss, double prior);
std::string AccuracyChartSvg(const std::vector<EpochRecord>& history);

// The pictures of a run in memory, as WriteRunPlots writes them (file names
// in the comments); `train --report` puts them in the page.
struct RunPlots {
  std::string loss_svg;                    // loss.svg
  std::string accuracy_svg;                // accuracy.svg
  std::string confusion_svg;               // confusion.svg
  std::vector<uint8_t> misclassified_png;  // misclassified.png
  std::string misclassified_json;          // misclassified.json
};
RunPlots MakeRunPlots(const Run& run, const Dataset& test);

// The loss of always answering the training set's class frequencies.
double ClassPriorLoss(const Run& run);

// Into `dir` (created if missing): loss.svg (train and validation loss, the
// L2 term if any, the class-prior loss), accuracy.svg (train and
// validation), confusion.svg, misclassified.png (the 40 most confidently
// wrong test digits, row by row, each captioned true -> predicted) and
// misclassified.json (their index, label, prediction, confidence).
void WriteRunPlots(const std::string& dir, const RunPlots& plots);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_PLOTS_H_
