#include "diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <random>

#include "backprop.h"

namespace edgemlp {

namespace {


std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* format, ...) {
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  return buf;
}

Finding Make(const char* id, Severity severity, double value, std::string message,
             std::string advice = "") {
  return {id, severity, value, std::move(message),
          severity == Severity::kOk ? std::string() : std::move(advice)};
}

bool Squashing(Activation a) { return a == Activation::kSigmoid || a == Activation::kTanh; }

// Hidden layer outputs of `model` on `probe` (one matrix per hidden layer).
std::vector<Eigen::MatrixXf> Hidden(const FloatModel& model, const Eigen::MatrixXf& probe) {
  std::vector<Eigen::MatrixXf> hidden;
  Forward(model, probe, &hidden);
  return hidden;
}

// Mean absolute correlation between the rows (units) of `a` over its columns.
double MeanUnitCorrelation(const Eigen::MatrixXf& a) {
  const Eigen::MatrixXd x = a.cast<double>();
  const Eigen::MatrixXd centred = x.colwise() - x.rowwise().mean();
  const Eigen::VectorXd norm = centred.rowwise().norm();
  double sum = 0;
  int pairs = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = i + 1; j < x.rows(); ++j) {
      if (norm[i] == 0 || norm[j] == 0) continue;
      sum += std::abs(centred.row(i).dot(centred.row(j)) / (norm[i] * norm[j]));
      ++pairs;
    }
  }
  return pairs ? sum / pairs : 0.0;
}

}  // namespace

const char* SeverityName(Severity severity) {
  static constexpr const char* kNames[] = {"OK", "NOTE", "WARN", "FAIL"};  // by value (0..3)
  const auto i = static_cast<size_t>(severity);
  return i < std::size(kNames) ? kNames[i] : "?";
}

ClassShares CountClasses(const std::vector<uint8_t>& labels, size_t begin, size_t end,
                         uint32_t classes) {
  ClassShares s;
  s.share.assign(std::max<uint32_t>(classes, 1), 0.0);
  for (size_t i = begin; i < end; ++i) s.share[labels[i] % s.share.size()] += 1;
  for (double& p : s.share) p /= static_cast<double>(std::max<size_t>(end - begin, 1));
  s.majority = static_cast<int>(std::max_element(s.share.begin(), s.share.end()) - s.share.begin());
  return s;
}

double PriorLoss(OutputLoss loss, const std::vector<double>& share) {
  double h = 0;
  for (double p : share) {
    if (p <= 0 || p >= 1) continue;
    h += loss == OutputLoss::kSoftmaxCe ? -p * std::log(p)
                                        : -p * std::log(p) - (1 - p) * std::log(1 - p);
  }
  return h;
}

Finding CheckData(const ClassShares& train, double input_mean, double input_std) {
  const double p_max = *std::max_element(train.share.begin(), train.share.end());
  const double p_min = *std::min_element(train.share.begin(), train.share.end());
  const bool imbalanced =
      p_min <= 0 || p_max / p_min > 1.5 || p_min < 0.5 / static_cast<double>(train.share.size());
  const bool uncentred = std::abs(input_mean) > 0.5 * input_std;
  std::string msg = Format(
      "Most common class '%d' is %.1f%% of the training images (rarest %.1f%%); "
      "inputs have mean %.2f and std %.2f",
      train.majority, 100 * p_max, 100 * p_min, input_mean, input_std);
  msg += uncentred ? ": not centred." : ".";
  std::string advice;
  if (imbalanced) advice += "Balance the classes (--balanced N). ";
  if (uncentred) advice += "Centre the inputs (--input standardize) or use a zero-mean init.";
  return Make("D0", imbalanced || uncentred ? Severity::kWarn : Severity::kOk,
              uncentred ? input_mean / input_std : p_max / std::max(p_min, 1e-9), msg, advice);
}

Finding CheckInitialLoss(double loss, double expected) {
  const double ratio = loss / expected;
  const bool off = !(ratio >= 0.8 && ratio <= 1.25);
  return Make("D1", off ? Severity::kWarn : Severity::kOk, loss,
              Format("Loss before training %.3f, expected about %.3f for an uninformed output "
                     "(ratio %.2f).",
                     loss, expected, ratio),
              "The output layer starts too confident: initialise it smaller or set its bias to "
              "the class prior (--bias-prior).");
}

Finding CheckInit(const FloatModel& model, const Eigen::MatrixXf& probe) {
  // The worst layer by sign balance and scale, and unit similarity in layer 1.
  double worst_sign = 0, worst_scale = 1;
  size_t sign_layer = 0, scale_layer = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Eigen::MatrixXf& w = model.layers[i].weights;
    const double n = static_cast<double>(w.size());
    const double positive = (w.array() > 0).cast<double>().sum() / n;
    const double same_sign = std::max(positive, (w.array() < 0).cast<double>().sum() / n);
    const double mean = w.cast<double>().mean();
    const double std_dev =
        std::sqrt(std::max(w.cast<double>().array().square().mean() - mean * mean, 0.0));
    const double fan_in = static_cast<double>(w.cols()), fan_out = static_cast<double>(w.rows());
    const bool relu =
        i + 1 < model.layers.size() && model.layers[i].activation == Activation::kRelu;
    const double recommended = relu ? std::sqrt(2 / fan_in) : std::sqrt(2 / (fan_in + fan_out));
    const double scale = std_dev / recommended;
    if (same_sign > worst_sign) {
      worst_sign = same_sign;
      sign_layer = i;
    }
    if (std::abs(std::log(scale)) > std::abs(std::log(worst_scale))) {
      worst_scale = scale;
      scale_layer = i;
    }
  }
  double corr = 0;
  if (model.layers.size() > 1 && probe.cols() > 2)
    corr = MeanUnitCorrelation(Hidden(model, probe)[0]);
  const bool one_sign = worst_sign > 0.95, bad_scale = worst_scale < 0.1 || worst_scale > 10,
             alike = corr > 0.95;
  const Severity sev = one_sign || bad_scale || alike ? Severity::kWarn : Severity::kOk;
  std::string msg = Format(
      "Initial weights: layer %zu has %.0f%% of one sign; layer %zu's std is %.3gx "
      "the recommended (Xavier/He); layer 1's units respond alike "
      "(mean |corr| %.2f).",
      sign_layer + 1, 100 * worst_sign, scale_layer + 1, worst_scale, corr);
  if (one_sign && alike)
    msg += " With all-positive weights every unit computes nearly the same function (symmetry).";
  return Make("D2", sev, alike ? corr : worst_sign, msg,
              "Use a zero-mean init scaled to the layer (--init xavier for sigmoid/tanh, --init he "
              "for relu).");
}

size_t BudgetBatch(size_t n_train) { return n_train >= kSmallData ? 128 : 16; }

size_t BudgetEpochs(size_t n_train) {
  if (n_train >= kSmallData) return 10;
  const size_t per_epoch = std::max<size_t>(1, (n_train + 15) / 16);
  return std::clamp<size_t>((5000 + per_epoch - 1) / per_epoch, 10, 1000);
}

Finding CheckUpdateBudget(long updates, size_t batch, size_t n_train) {
  const Severity sev = updates < 100    ? Severity::kFail
                       : updates < 1000 ? Severity::kWarn
                       : updates < 5000 ? Severity::kNote
                                        : Severity::kOk;
  return Make("D3", sev, static_cast<double>(updates),
              Format("The run makes %ld weight updates (batch %zu of %zu images); networks "
                     "usually need thousands.",
                     updates, batch, n_train),
              Format("Use mini-batches (--batch %zu: %zu updates per epoch) and more epochs.",
                     BudgetBatch(n_train),
                     (n_train + BudgetBatch(n_train) - 1) / BudgetBatch(n_train)));
}

Finding CheckPriorLoss(double data_loss, double prior_loss, OutputLoss loss, uint32_t classes) {
  const double gap = std::abs(data_loss - prior_loss) / prior_loss;
  // The same prior with K equal classes, the number people recognise.
  const double k = classes, p = 1.0 / k;
  const double equal = loss == OutputLoss::kSigmoidBce
                           ? k * (-p * std::log(p) - (1 - p) * std::log(1 - p))
                           : std::log(k);
  const std::string equal_name = loss == OutputLoss::kSigmoidBce
                                     ? Format("%u x H_b(%.3g)", classes, p)
                                     : Format("ln %u", classes);
  return Make(
      "D4", gap < 0.02 ? Severity::kWarn : Severity::kOk, data_loss,
      Format(
          "Final data loss %.4f vs %.4f, the loss of answering the class frequencies "
          "for every image (%s = %.4f for equal classes; %.1f%% apart)%s",
          data_loss, prior_loss, equal_name.c_str(), equal, 100 * gap,
          gap < 0.02 ? ": the network learned the class prior and nothing from the inputs." : "."),
      "The output biases fit the class frequencies but no signal came from the inputs: "
      "see the causes below.");
}

Finding CheckOutputCollapse(const std::vector<uint8_t>& predictions,
                            const Eigen::MatrixXf& logits) {
  const int classes = static_cast<int>(std::max<Eigen::Index>(logits.rows(), 1));
  std::vector<double> count(classes, 0);
  for (uint8_t p : predictions) count[p % classes] += 1;
  const auto top = std::max_element(count.begin(), count.end());
  const double top_share = *top / static_cast<double>(std::max<size_t>(predictions.size(), 1));
  const int used =
      static_cast<int>(std::count_if(count.begin(), count.end(), [](double c) { return c > 0; }));
  const Eigen::MatrixXd x = logits.cast<double>();
  const double max_std =
      std::sqrt(((x.colwise() - x.rowwise().mean()).array().square().rowwise().mean()).maxCoeff());
  const Severity sev = used < (classes + 1) / 2 || max_std < 1e-3 ? Severity::kFail
                       : top_share > 0.5                     ? Severity::kWarn
                                                             : Severity::kOk;
  return Make("D5", sev, top_share,
              Format("%.1f%% of held-out images are classified as '%d'; %d of %d classes are ever "
                     "predicted; the outputs vary across images by at most %.2g (std of a logit).",
                     100 * top_share, static_cast<int>(top - count.begin()), used, classes,
                     max_std),
              "The output does not depend on the input: the hidden layers pass no signal.");
}

Finding CheckBaselines(double accuracy, int majority, double majority_share,
                       double nearest_mean_accuracy) {
  const Severity sev = accuracy <= majority_share + 0.02   ? Severity::kFail
                       : accuracy < nearest_mean_accuracy ? Severity::kWarn
                                                          : Severity::kOk;
  std::string msg = Format(
      "Accuracy %.2f%%; always answering the most common class '%d' scores "
      "%.2f%%, a nearest-class-mean classifier %.2f%%.",
      100 * accuracy, majority, 100 * majority_share, 100 * nearest_mean_accuracy);
  if (sev == Severity::kFail)
    msg += " The model is no better than always answering '" + std::to_string(majority) + "'.";
  return Make("D6", sev, accuracy, msg,
              sev == Severity::kFail ? "Nothing was learned from the inputs; fix the causes below."
                                     : "Train longer or with more capacity.");
}

Finding CheckUpdateRatios(const std::vector<double>& ratios) {
  if (ratios.empty()) {
    return Make("D7", Severity::kNote, 0, "Update/weight ratios were not recorded.", "");
  }
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  const size_t lo_layer = lo - ratios.begin(), hi_layer = hi - ratios.begin();
  if (*hi > 0.1) {
    return Make("D7", Severity::kWarn, *hi,
                Format("Layer %zu's weights change by %.2g of their size per step (healthy about "
                       "1e-3): the learning rate is too high for it.",
                       hi_layer + 1, *hi),
                "Lower --lr (try a tenth).");
  }
  return Make(
      "D7", *lo < 1e-5 ? Severity::kWarn : Severity::kOk, *lo,
      Format("Update/weight ratio per step ranges from %.2g (layer %zu) to %.2g (layer %zu); "
             "healthy is about 1e-3.",
             *lo, lo_layer + 1, *hi, hi_layer + 1),
      Format("Layer %zu hardly moves: gradients vanish before it or the learning rate is too "
             "low.",
             lo_layer + 1));
}

Finding CheckGradientFlow(const std::vector<double>& grad_norms) {
  for (double g : grad_norms) {
    if (!std::isfinite(g)) {
      return Make("D8", Severity::kFail, g, "A gradient is NaN or infinite: training diverged.",
                  "Lower --lr.");
    }
  }
  const double first = grad_norms.front(), last = grad_norms.back();
  const double ratio = last > 0 ? first / last : 0.0;
  return Make(
      "D8", ratio < 1e-3 ? Severity::kWarn : Severity::kOk, ratio,
      Format("The first layer receives %.2g times the gradient of the last layer "
             "(|g1| %.2g, |gL| %.2g)%s",
             ratio, first, last, ratio < 1e-3 ? ": the gradient vanishes on the way down." : "."),
      "Saturated sigmoids or tiny weights block the gradient: use relu or tanh with "
      "Xavier/He init.");
}

Finding CheckSaturation(const FloatModel& model, const Eigen::MatrixXf& probe) {
  const std::vector<Eigen::MatrixXf> hidden = Hidden(model, probe);
  double worst = 0, worst_mean = 0;
  size_t worst_layer = 0;
  bool any = false;
  for (size_t i = 0; i < hidden.size(); ++i) {
    const Activation act = model.layers[i].activation;
    if (!Squashing(act)) continue;
    any = true;
    const Eigen::ArrayXXf a = hidden[i].array();
    // Slope as a fraction of its peak (0.25 for sigmoid, 1 for tanh).
    Eigen::ArrayXXf slope = 1 - a.square();
    if (act == Activation::kSigmoid) slope = a * (1 - a) / 0.25f;
    const double saturated = (slope < 0.25f).cast<double>().mean();
    if (saturated >= worst) {
      worst = saturated;
      worst_layer = i;
      worst_mean = a.cast<double>().mean();
    }
  }
  if (!any) return Make("D9", Severity::kOk, 0, "No sigmoid or tanh layers (nothing to saturate).");
  return Make(
      "D9", worst > 0.5 ? Severity::kWarn : Severity::kOk, worst,
      Format("Hidden layer %zu: %.0f%% of its %s outputs are saturated (slope below a quarter "
             "of its peak; mean output %.3f).",
             worst_layer + 1, 100 * worst, ActivationName(model.layers[worst_layer].activation),
             worst_mean),
      "Centre the inputs, use Xavier init, or use relu/tanh.");
}

Finding CheckDeadRelu(const FloatModel& model, const Eigen::MatrixXf& probe) {
  const std::vector<Eigen::MatrixXf> hidden = Hidden(model, probe);
  double worst = 0;
  size_t worst_layer = 0, worst_dead = 0, worst_units = 0;
  bool any = false;
  for (size_t i = 0; i < hidden.size(); ++i) {
    if (model.layers[i].activation != Activation::kRelu) continue;
    any = true;
    const Eigen::VectorXd zero_share = (hidden[i].array() <= 0).cast<double>().rowwise().mean();
    const size_t dead = static_cast<size_t>((zero_share.array() >= 0.99).count());
    const double share = static_cast<double>(dead) / hidden[i].rows();
    if (share >= worst) {
      worst = share;
      worst_layer = i;
      worst_dead = dead;
      worst_units = hidden[i].rows();
    }
  }
  if (!any) return Make("D10", Severity::kOk, 0, "No relu layers (no dead units possible).");
  const Severity sev = worst > 0.4   ? Severity::kFail
                       : worst > 0.1 ? Severity::kWarn
                                     : Severity::kOk;
  return Make("D10", sev, worst,
              Format("Hidden layer %zu: %zu of %zu relu units never fire (dead on >= 99%% of "
                     "images).",
                     worst_layer + 1, worst_dead, worst_units),
              "Lower --lr, use He init, or fewer epochs at a high rate.");
}

Finding CheckRegularization(double per_step_decay, double reg_loss, double data_loss) {
  const Severity sev = per_step_decay >= 1                              ? Severity::kFail
                       : per_step_decay >= 0.01 || reg_loss > data_loss ? Severity::kWarn
                                                                        : Severity::kOk;
  std::string msg = Format(
      "L2/weight decay removes %.2g of each weight per step; the penalty is "
      "%.3g against a data loss of %.3g.",
      per_step_decay, reg_loss, data_loss);
  if (per_step_decay >= 1) msg += " The decay alone erases or flips the weights every step.";
  return Make(
      "D11", sev, per_step_decay, msg,
      "Weaken the regularization: --l2-lambda is divided by the training-set size; --l2 and "
      "--weight-decay are not.");
}

Finding CheckLabels(double nearest_mean_accuracy, double majority_share) {
  // Halfway from always answering the majority class to perfect (55% on MNIST).
  const double floor = majority_share + 0.5 * (1 - majority_share);
  return Make("D15", nearest_mean_accuracy < floor ? Severity::kWarn : Severity::kOk,
              nearest_mean_accuracy,
              Format("A 'closest average example' classifier scores %.1f%% on the held-out "
                     "images (about 80%% on MNIST; the majority class alone %.1f%%).",
                     100 * nearest_mean_accuracy, 100 * majority_share),
              "Labels may be misaligned with the images: check the data files.");
}

Finding CheckFit(double train_accuracy, double val_accuracy) {
  const double gap = train_accuracy - val_accuracy;
  if (gap > 0.03) {
    return Make("D16", Severity::kWarn, gap,
                Format("High variance: train %.2f%%, validation %.2f%% (gap %.1f points).",
                       100 * train_accuracy, 100 * val_accuracy, 100 * gap),
                "Add weight decay or dropout, use more data, or stop earlier.");
  }
  const bool high_bias = train_accuracy < 0.97;
  return Make("D16", high_bias ? Severity::kWarn : Severity::kOk, train_accuracy,
              Format("Train %.2f%%, validation %.2f%% (gap %.1f points)%s", 100 * train_accuracy,
                     100 * val_accuracy, 100 * gap,
                     high_bias ? ": high bias, the model underfits even the training data." : "."),
              "More capacity or more training: wider layers, more updates, less regularization.");
}

Finding CheckCapacity(const std::vector<uint32_t>& arch) {
  uint32_t narrowest = UINT32_MAX;
  for (size_t i = 1; i + 1 < arch.size(); ++i) narrowest = std::min(narrowest, arch[i]);
  const uint32_t classes = arch.back();
  const Severity sev = arch.size() <= 2           ? Severity::kOk
                       : narrowest < classes     ? Severity::kWarn
                       : narrowest < 2 * classes ? Severity::kNote
                                                  : Severity::kOk;
  return Make(
      "D18", sev, narrowest,
      Format("The narrowest hidden layer has %u units for %u classes%s", narrowest, classes,
             sev != Severity::kOk ? ": a bottleneck; even a perfect optimizer is held back by "
                                    "it (on MNIST, below the 97-98% that 128+ units reach)."
                                  : "."),
      Format("Widen the hidden layers (at least %u units each).", 2 * classes));
}

Finding CheckGradients(double max_relative_error) {
  const Severity sev = !(max_relative_error < 1e-2) ? Severity::kFail
                       : max_relative_error >= 1e-6 ? Severity::kWarn
                                                    : Severity::kOk;
  return Make("D12", sev, max_relative_error,
              Format("Backprop vs centred finite differences (double): largest relative error %.2g "
                     "(< 1e-6 expected).",
                     max_relative_error),
              "The backward pass is wrong: this is a bug in edgemlp, please report it.");
}

Finding CheckOverfitTiny(double accuracy, double loss, size_t images) {
  const bool ok = accuracy >= 1.0;
  return Make(
      "D13", ok ? Severity::kOk : Severity::kWarn, accuracy,
      Format("Memorising %zu images (2 per class, 500 Adam steps, no regularization): %.0f%% "
             "correct, loss %.3g.",
             images, 100 * accuracy, loss),
      Format("This architecture/init cannot even memorise %zu images: the problem is the model "
             "or its initialisation, not the amount of data.", images));
}

Finding CheckInputIndependent(double real_accuracy, double blank_accuracy) {
  const double gain = real_accuracy - blank_accuracy;
  return Make("D14", gain < 0.10 ? Severity::kWarn : Severity::kOk, gain,
              Format("With blank images the same training scores %.2f%%, with the real images "
                     "%.2f%%%s",
                     100 * blank_accuracy, 100 * real_accuracy,
                     gain < 0.10 ? ": the network does not use the pixels." : "."),
              "The pixels carry no usable signal to the output: see the causes above.");
}

Finding CheckLrRange(double best_lr, double user_lr, bool user_lr_diverges) {
  const double ratio = user_lr / best_lr;
  const bool off = user_lr_diverges || ratio > 30 || ratio < 1.0 / 30;
  return Make("D17", off ? Severity::kWarn : Severity::kOk, best_lr,
              Format("Learning-rate range test: the loss falls furthest at lr %.3g; your lr %.3g%s",
                     best_lr, user_lr,
                     user_lr_diverges ? " diverges."
                     : off            ? " is far from it."
                                      : " is close."),
              Format("Try --lr %.3g.", best_lr));
}

double NearestMeanAccuracy(const Dataset& data, size_t n_train) {
  return NearestMeanAccuracy(data, n_train, data, n_train, data.size());
}

double NearestMeanAccuracy(const Dataset& data, size_t n_train, const Dataset& eval,
                           size_t begin, size_t end) {
  const size_t size = data.images.image_size();
  const Eigen::Index classes = std::max<uint32_t>(data.classes, 1);
  Eigen::MatrixXd means = Eigen::MatrixXd::Zero(size, classes);
  Eigen::VectorXd count = Eigen::VectorXd::Zero(classes);
  for (size_t i = 0; i < n_train; ++i) {
    const uint8_t* p = data.images.image(i);
    for (size_t j = 0; j < size; ++j) means(j, data.labels[i] % classes) += p[j];
    count[data.labels[i] % classes] += 1;
  }
  for (Eigen::Index k = 0; k < classes; ++k) {
    // A class absent from the training part can never be the nearest.
    if (count[k] == 0) means.col(k).setConstant(INFINITY);
    else means.col(k) /= count[k];
  }
  size_t correct = 0;
  for (size_t i = begin; i < end; ++i) {
    Eigen::VectorXd x(size);
    for (size_t j = 0; j < size; ++j) x[j] = eval.images.image(i)[j];
    Eigen::Index best;
    (means.colwise() - x).colwise().squaredNorm().minCoeff(&best);
    correct += static_cast<int>(best) == eval.labels[i];
  }
  return static_cast<double>(correct) / static_cast<double>(std::max<size_t>(end - begin, 1));
}

namespace {

constexpr size_t kProbe = 1000;

Eigen::MatrixXf Probe(const FloatModel& model, const Dataset& data, size_t n_train) {
  return ImagesToInput(model, data.images.image(0), std::min(kProbe, n_train));
}

}  // namespace

std::vector<Finding> DiagnoseBeforeTraining(const Dataset& data, const TrainConfig& config,
                                            const TrainState& initial) {
  const size_t n_train = data.size() - config.val_count;
  const FloatModel& model = initial.model;
  const ClassShares shares = CountClasses(data.labels, 0, n_train, data.classes);
  // Pixel statistics after the model's input scaling.
  double sum = 0, sum_sq = 0;
  const size_t n = n_train * data.images.image_size();
  for (size_t i = 0; i < n; ++i) {
    const double x = data.images.pixels[i] * model.input_scale + model.input_offset;
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n, std_dev = std::sqrt(std::max(sum_sq / n - mean * mean, 0.0));
  const Eigen::MatrixXf probe = Probe(model, data, n_train);
  const size_t batch = EffectiveBatch(config, n_train);
  const long updates = static_cast<long>((n_train + batch - 1) / batch) * config.epochs;
  const float lr = config.learning_rate > 0 ? config.learning_rate : DefaultLr(config.optimizer);
  const double decay_coefficient = config.weight_decay > 0                 ? config.weight_decay
                                   : config.optimizer == Optimizer::kAdamW ? 0.01
                                                                           : 0.0;
  // Adam normalises the gradient, so an L2 term does not scale with lr there;
  // lr * coefficient is the share removed by plain gradient steps.
  const double decay = lr * (L2Coefficient(config, n_train) + decay_coefficient);
  double data_loss = 0;
  const double cost = Cost(model, data, 0, std::min(kProbe, n_train), config, n_train, &data_loss);
  const double k = data.classes;
  const double uninformed = config.bias_prior ? PriorLoss(config.loss, shares.share)
                            : config.loss == OutputLoss::kSoftmaxCe ? std::log(k)
                                                                    : k * std::log(2.0);
  const ClassShares val_shares = CountClasses(data.labels, n_train, data.size(), data.classes);
  return {CheckData(shares, mean, std_dev),
          CheckInitialLoss(data_loss, uninformed),
          CheckInit(model, probe),
          CheckUpdateBudget(updates, batch, n_train),
          CheckRegularization(decay, cost - data_loss, data_loss),
          CheckLabels(NearestMeanAccuracy(data, n_train), val_shares.share[shares.majority]),
          CheckCapacity(config.arch)};
}

std::vector<Finding> DiagnoseAfterTraining(const Dataset& data, const TrainConfig& config,
                                           const TrainResult& result, const Dataset* test) {
  const size_t n_train = data.size() - config.val_count;
  const FloatModel& model = result.final_model;
  const ClassShares shares = CountClasses(data.labels, 0, n_train, data.classes);
  double data_loss = 0;
  Cost(model, data, 0, n_train, config, n_train, &data_loss);
  Eigen::MatrixXf logits;
  const std::vector<uint8_t> val = PredictFloat(model, data, n_train, data.size(), &logits);
  std::vector<Finding> out = {
      CheckPriorLoss(data_loss, PriorLoss(config.loss, shares.share), config.loss, data.classes),
      CheckOutputCollapse(val, logits)};
  const Dataset& eval = test ? *test : data;
  const size_t eval_begin = test ? 0 : n_train;
  const std::vector<uint8_t> pred = PredictFloat(model, eval, eval_begin, eval.size());
  size_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == eval.labels[eval_begin + i];
  const ClassShares eval_shares =
      CountClasses(eval.labels, eval_begin, eval.size(), data.classes);
  out.push_back(CheckBaselines(static_cast<double>(correct) / pred.size(), shares.majority,
                               eval_shares.share[shares.majority],
                               NearestMeanAccuracy(data, n_train, eval, eval_begin, eval.size())));
  const EpochRecord& last = result.history.back();
  // Per layer, the median epoch: a schedule's last epochs (lr near 0 with
  // cosine) or the first steps from a tiny init must not decide alone.
  std::vector<double> ratios;
  for (size_t l = 0; l < last.update_ratio.size(); ++l) {
    std::vector<double> per_epoch;
    for (const EpochRecord& r : result.history) per_epoch.push_back(r.update_ratio[l]);
    std::nth_element(per_epoch.begin(), per_epoch.begin() + per_epoch.size() / 2, per_epoch.end());
    ratios.push_back(per_epoch[per_epoch.size() / 2]);
  }
  out.push_back(CheckUpdateRatios(ratios));
  out.push_back(CheckGradientFlow(last.grad_norm));
  const Eigen::MatrixXf probe = Probe(model, data, n_train);
  out.push_back(CheckSaturation(model, probe));
  out.push_back(CheckDeadRelu(model, probe));
  // Train accuracy of the final model on (up to) 5000 training images.
  const size_t n_fit = std::min<size_t>(n_train, 5000);
  const std::vector<uint8_t> fit = PredictFloat(model, data, 0, n_fit);
  size_t fit_correct = 0;
  for (size_t i = 0; i < n_fit; ++i) fit_correct += fit[i] == data.labels[i];
  size_t val_correct = 0;
  for (size_t i = 0; i < val.size(); ++i) val_correct += val[i] == data.labels[n_train + i];
  out.push_back(CheckFit(static_cast<double>(fit_correct) / n_fit,
                         static_cast<double>(val_correct) / val.size()));
  return out;
}

std::vector<std::string> Verdict(const std::vector<Finding>& findings, size_t max) {
  // Most severe first; the catalogue order (cause before symptom) breaks ties.
  static const std::vector<std::string> kOrder = {"D12", "D11", "D4",  "D6", "D3", "D5",  "D2",
                                                  "D9",  "D8",  "D18", "D0", "D7", "D10", "D13",
                                                  "D14", "D15", "D17", "D1", "D16"};
  std::vector<const Finding*> ranked;
  for (const Finding& f : findings) {
    if (f.severity != Severity::kOk) ranked.push_back(&f);
  }
  const auto rank = [&](const Finding* f) {
    return std::find(kOrder.begin(), kOrder.end(), f->id) - kOrder.begin();
  };
  std::stable_sort(ranked.begin(), ranked.end(), [&](const Finding* a, const Finding* b) {
    // NOTE never outranks a WARN/FAIL; among WARN and FAIL the catalogue order rules.
    const bool a_note = a->severity == Severity::kNote, b_note = b->severity == Severity::kNote;
    if (a_note != b_note) return b_note;
    return rank(a) < rank(b);
  });
  std::vector<std::string> verdict;
  for (const Finding* f : ranked) {
    if (verdict.size() >= max) break;
    verdict.push_back(std::to_string(verdict.size() + 1) + ". [" + f->id + " " +
                      SeverityName(f->severity) + "] " + f->message + " " + f->advice);
  }
  if (verdict.empty()) verdict.push_back("No problems found: the run looks healthy.");
  return verdict;
}

// --- Gradient check ---

namespace {

using MatrixD = Eigen::MatrixXd;
using VectorD = Eigen::VectorXd;

struct NetD {
  std::vector<MatrixD> w;
  std::vector<VectorD> b;
  std::vector<Activation> act;
};

// Mean loss over the columns of x; gradients of it if gw/gb are given. The
// same steps as Trainer::Forward/Backward, with the shared backprop pieces.
double LossD(const NetD& net, const MatrixD& x, const std::vector<int>& labels, OutputLoss loss,
             std::vector<MatrixD>* gw = nullptr, std::vector<VectorD>* gb = nullptr) {
  std::vector<MatrixD> a = {x};
  for (size_t i = 0; i < net.w.size(); ++i) {
    MatrixD z = net.w[i] * a.back();
    z.colwise() += net.b[i];
    ApplyActivation(net.act[i], &z);
    a.push_back(std::move(z));
  }
  const double n = static_cast<double>(x.cols());
  MatrixD d(a.back().rows(), a.back().cols());
  const double total = LossAndDelta(
      loss, a.back(), [&](Eigen::Index c) { return labels[c]; }, &d);
  if (gw) {
    d /= n;
    gw->resize(net.w.size());
    gb->resize(net.w.size());
    for (size_t i = net.w.size(); i-- > 0;) {
      (*gw)[i] = d * a[i].transpose();
      (*gb)[i] = d.rowwise().sum();
      if (i > 0) {
        MatrixD prev = net.w[i].transpose() * d;
        MultiplyByDerivative(net.act[i - 1], a[i], &prev);
        d = std::move(prev);
      }
    }
  }
  return total / n;
}

double RelativeError(const MatrixD& analytic, const MatrixD& numeric) {
  const double denom = analytic.norm() + numeric.norm();
  return denom > 0 ? (analytic - numeric).norm() / denom : 0.0;
}

}  // namespace

double GradientCheckError(const std::vector<uint32_t>& arch, Activation hidden, OutputLoss loss,
                          uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  NetD net;
  for (size_t i = 0; i + 1 < arch.size(); ++i) {
    net.w.push_back(MatrixD::NullaryExpr(arch[i + 1], arch[i],
                                         [&] { return normal(rng) / std::sqrt(arch[i]); }));
    net.b.push_back(VectorD::NullaryExpr(arch[i + 1], [&] { return 0.1 * normal(rng); }));
    net.act.push_back(i + 2 == arch.size() ? Activation::kNone : hidden);
  }
  constexpr int kSamples = 3;
  const MatrixD x = MatrixD::NullaryExpr(arch[0], kSamples, [&] { return normal(rng); });
  std::vector<int> labels;
  for (int i = 0; i < kSamples; ++i) labels.push_back(static_cast<int>(rng() % arch.back()));
  std::vector<MatrixD> gw;
  std::vector<VectorD> gb;
  LossD(net, x, labels, loss, &gw, &gb);
  constexpr double kH = 1e-5;
  const auto numeric = [&](double* param) {
    const double keep = *param;
    *param = keep + kH;
    const double plus = LossD(net, x, labels, loss);
    *param = keep - kH;
    const double minus = LossD(net, x, labels, loss);
    *param = keep;
    return (plus - minus) / (2 * kH);
  };
  double worst = 0;
  for (size_t i = 0; i < net.w.size(); ++i) {
    MatrixD nw(net.w[i].rows(), net.w[i].cols());
    for (Eigen::Index k = 0; k < nw.size(); ++k) nw.data()[k] = numeric(net.w[i].data() + k);
    VectorD nb(net.b[i].size());
    for (Eigen::Index k = 0; k < nb.size(); ++k) nb[k] = numeric(net.b[i].data() + k);
    worst = std::max({worst, RelativeError(gw[i], nw), RelativeError(gb[i], nb)});
  }
  return worst;
}

}  // namespace edgemlp
