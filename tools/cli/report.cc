#include "cli/report.h"

#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "cli/output_guard.h"
#include "cli/plots.h"
#include "error.h"
#include "version.h"

namespace edgemlp::cli {

namespace {

// A run directory's files are a few hundred KB; more is not ours.
constexpr size_t kMaxFileBytes = size_t{64} << 20;

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The file's bytes, or "" with *found false when it does not exist.
std::string ReadRunFile(const std::string& path, bool* found) {
  struct stat st;
  *found = stat(path.c_str(), &st) == 0;
  if (!*found) return "";
  if (!S_ISREG(st.st_mode)) throw InputError(path + ": not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
    throw InputError(path + ": " + std::to_string(st.st_size) +
                     " bytes, more than a run's file can be (64 MiB)");
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw InputError(path + ": cannot read it");
  return bytes;
}

// `text` as the JSON object of `command`, which must have `keys`.
Json ParseRunJson(const std::string& path, const std::string& text, const char* command,
                  std::initializer_list<const char*> keys) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  const std::string expected = std::string(" (expected the output of `") + command + " --json`)";
  if (j.is_discarded() || !j.is_object()) throw InputError(path + ": not a JSON object" + expected);
  for (const char* key : keys) {
    if (!j.contains(key)) {
      throw InputError(path + ": no \"" + key + "\" key" + expected);
    }
  }
  return j;
}

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const char* entity = c == '&'    ? "&amp;"
                         : c == '<'  ? "&lt;"
                         : c == '>'  ? "&gt;"
                         : c == '"'  ? "&quot;"
                         : c == '\'' ? "&#39;"
                                     : nullptr;
    if (entity) {
      out += entity;
    } else {
      out += c;
    }
  }
  return out;
}

std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) {
      v = v << 8 | (k < n ? static_cast<uint8_t>(bytes[i + k]) : 0u);
    }
    for (size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
    }
  }
  return out;
}

std::string Image(const std::string& mime, const std::string& bytes, const std::string& alt) {
  return "<img src=\"data:" + mime + ";base64," + Base64(bytes) + "\" alt=\"" + Escape(alt) +
         "\">\n";
}

std::string Format(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// A JSON value as a person reads it; objects and arrays on one line.
std::string Text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_number_float()) return Format("%.6g", v.get<double>());
  if (v.is_object()) {
    std::string s;
    for (const auto& [key, value] : v.items())
      s += (s.empty() ? "" : ", ") + key + " " + Text(value);
    return s;
  }
  if (v.is_array()) {
    std::string s;
    for (const Json& e : v) s += (s.empty() ? "" : ", ") + Text(e);
    return s;
  }
  return v.dump();
}

// The number at `key`, or NaN (absent, null, not a number).
double Number(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

std::string Str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) ? Text(j[key]) : "-";
}

std::string Percent(double fraction) {
  return std::isfinite(fraction) ? Format("%.2f%%", 100 * fraction) : "-";
}

std::string Cell(const std::string& text) { return "<td>" + Escape(text) + "</td>"; }

// A word for the shell: quoted when it holds anything but [A-Za-z0-9_./=-].
std::string ShellWord(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789_./=-") == std::string::npos) {
    return s;
  }
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string Join(const std::string& dir, const char* name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

// The trained model's path as train.json records it.
std::string ModelPath(const RunRecord& run) {
  return run.train.contains("model") && run.train["model"].is_string()
             ? run.train["model"].get<std::string>()
             : Join(run.dir, "model.bin");
}

std::vector<EpochRecord> History(const Json& train) {
  std::vector<EpochRecord> history;
  if (!train.contains("history") || !train["history"].is_array()) return history;
  for (const Json& e : train["history"]) {
    EpochRecord r;
    const double epoch = Number(e, "epoch");
    // A number that fits an int, else the position (a hostile file must not overflow the cast).
    r.epoch =
        std::abs(epoch) < 1e9 ? static_cast<int>(epoch) : static_cast<int>(history.size()) + 1;
    r.train_loss = Number(e, "train_loss");
    r.reg_loss = std::isfinite(Number(e, "reg_loss")) ? Number(e, "reg_loss") : 0;
    r.val_loss = Number(e, "val_loss");
    r.train_accuracy = Number(e, "train_accuracy");
    r.val_accuracy = Number(e, "val_accuracy");
    history.push_back(r);
  }
  return history;
}

std::string ConfigurationHtml(const RunRecord& run) {
  std::string h = "<table class=\"kv\">\n";
  for (const auto& [key, value] : run.train.items()) {
    if (key == "history" || key == "diagnostics" || key == "verdict") continue;
    std::string shown = Text(value);
    if (key == "test_accuracy") shown = Percent(value.is_number() ? value.get<double>() : NAN);
    h += "<tr><th>" + Escape(key) + "</th>" + Cell(shown) + "</tr>\n";
  }
  return h + "</table>\n";
}

std::string CurvesHtml(const RunRecord& run) {
  const std::vector<EpochRecord> history = History(run.train);
  const std::string loss = run.train.contains("loss") ? Text(run.train["loss"]) : "";
  const OutputLoss kind = loss == "sigmoid-bce" ? OutputLoss::kSigmoidBce : OutputLoss::kSoftmaxCe;
  return "<div class=\"pictures\">\n" +
         Image("image/svg+xml", LossChartSvg(history, kind, Number(run.train, "class_prior_loss")),
               "loss per epoch") +
         Image("image/svg+xml", AccuracyChartSvg(history), "accuracy per epoch") + "</div>\n";
}

std::string DiagnosticsHtml(const RunRecord& run) {
  std::string h = "<h3>Verdict</h3>\n<ul class=\"verdict\">\n";
  if (run.train.contains("verdict") && run.train["verdict"].is_array()) {
    for (const Json& v : run.train["verdict"]) h += "<li>" + Escape(Text(v)) + "</li>\n";
  }
  h += "</ul>\n<h3>Checks</h3>\n<table>\n<tr><th>check</th><th>result</th><th>finding</th></tr>\n";
  if (run.train.contains("diagnostics") && run.train["diagnostics"].is_array()) {
    for (const Json& f : run.train["diagnostics"]) {
      const std::string severity = Str(f, "severity");
      // Only the four known severities become a CSS class.
      const bool known =
          severity == "OK" || severity == "NOTE" || severity == "WARN" || severity == "FAIL";
      h += "<tr>" + Cell(Str(f, "id")) + "<td><span class=\"sev" +
           (known ? " sev-" + severity : "") + "\">" + Escape(severity) + "</span></td>" +
           Cell(Str(f, "message")) + "</tr>\n";
    }
  }
  return h + "</table>\n";
}

std::string MisclassifiedHtml(const RunRecord& run) {
  std::string h =
      "<p>The most confidently wrong test digits, captioned true &rarr; predicted.</p>\n"
      "<div class=\"side\">\n" +
      Image("image/png", run.misclassified_png, "misclassified test digits");
  if (!run.misclassified.is_array()) return h + "</div>\n";
  h += "<div class=\"scroll\"><table class=\"compact\">\n<tr><th>test index</th><th>true</th>"
       "<th>predicted</th><th>confidence</th></tr>\n";
  for (const Json& m : run.misclassified) {
    h += "<tr>" + Cell(Str(m, "index")) + Cell(Str(m, "label")) + Cell(Str(m, "predicted")) +
         Cell(Percent(Number(m, "confidence"))) + "</tr>\n";
  }
  return h + "</table></div>\n</div>\n";
}

std::string QuantizationHtml(const RunRecord& run) {
  const Json& e = run.exported;
  std::string h = "<table class=\"kv\">\n";
  for (const char* key : {"out", "quant", "int8_limit", "format", "blob_bytes", "arch"}) {
    if (e.contains(key))
      h += "<tr><th>" + std::string(key) + "</th>" + Cell(Str(e, key)) + "</tr>\n";
  }
  const Json report =
      e.contains("report") && e["report"].is_object() ? e["report"] : Json::object();
  h += "<tr><th>calibration</th>" + Cell(Str(report, "calibration")) + "</tr>\n</table>\n";
  h += "<table>\n<tr><th>layer</th><th>shape (out x in)</th><th>weights</th><th>max weight "
       "error</th><th>mean weight error</th><th>activation range</th><th>clipped (held-out)</th>"
       "</tr>\n";
  if (e["layers"].is_array()) {
    size_t n = 0;
    for (const Json& l : e["layers"]) {
      const double act = Number(l, "activation_max"), clip = Number(l, "clipping_rate");
      h += "<tr>" + Cell(std::to_string(n++)) + Cell(Str(l, "out") + " x " + Str(l, "in")) +
           Cell(Str(l, "weight_type")) + Cell(Format("%.3g", Number(l, "max_weight_error"))) +
           Cell(Format("%.3g", Number(l, "mean_weight_error"))) +
           Cell(std::isfinite(act) ? Format("0..%.3g", act) : "-") +
           Cell(std::isfinite(clip) ? Format("%.4f%%", 100 * clip) : "-") + "</tr>\n";
    }
  }
  h += "</table>\n";
  if (!report.contains("quantized_accuracy")) {
    return h +
           "<p>Exported without <code>--data</code>: calibration ranges recorded at training "
           "time, no accuracy report.</p>\n";
  }
  const double drop = Number(report, "accuracy_drop_points");
  h += "<p class=\"big\">Test accuracy: float " + Percent(Number(report, "float_accuracy")) +
       ", quantized " + Percent(Number(report, "quantized_accuracy")) + " (" +
       Format("%+.2f", std::isfinite(drop) ? -drop : NAN) + " points); " +
       Escape(Str(report, "changed_count")) + " test digits changed prediction</p>\n";
  if (report.contains("changed") && report["changed"].is_array() && !report["changed"].empty()) {
    std::string list;
    size_t shown = 0;
    for (const Json& c : report["changed"]) {
      if (shown++ == 20) {
        list += ", ...";
        break;
      }
      list += (list.empty() ? "#" : ", #") + Escape(Str(c, "index")) + " (" +
              Escape(Str(c, "label")) + ": " + Escape(Str(c, "float")) + "&rarr;" +
              Escape(Str(c, "quantized")) + ")";
    }
    h += "<p>Changed (test index, true: float&rarr;quantized): " + list + "</p>\n";
  }
  if (report.contains("warning")) {
    h += "<p class=\"warn\">WARNING: " + Escape(Str(report, "warning")) + "</p>\n";
  }
  return h;
}

std::string BenchHtml(const RunRecord& run) {
  const Json& b = run.bench;
  std::string h = "<table class=\"kv\">\n";
  for (const char* key :
       {"model", "cpu", "chosen_target", "compiler", "highway_version", "weight_cache_level"}) {
    if (b.contains(key))
      h += "<tr><th>" + std::string(key) + "</th>" + Cell(Str(b, key)) + "</tr>\n";
  }
  const auto us = [](double ns) { return std::isfinite(ns) ? Format("%.2f", ns / 1000) : "-"; };
  h += "<tr><th>scalar reference, batch 1</th>" +
       Cell(us(Number(b, "scalar_reference_batch1_ns")) + " us") + "</tr>\n";
  h += "<tr><th>Eigen f32, batch 1</th>" + Cell(us(Number(b, "eigen_f32_batch1_ns")) + " us") +
       "</tr>\n</table>\n";
  h += "<table>\n<tr><th>target</th><th>batch 1 median (us)</th><th>p90 (us)</th>"
       "<th>x reference</th><th>x Eigen f32</th><th>images/s by batch size</th></tr>\n";
  for (const Json& t : b["targets"]) {
    std::string ips;
    if (t.contains("images_per_s") && t["images_per_s"].is_object()) {
      for (const auto& [batch, rate] : t["images_per_s"].items()) {
        ips += (ips.empty() ? "" : ", ") + batch + ": " +
               (rate.is_number() ? Format("%.0f", rate.get<double>()) : Text(rate));
      }
    }
    const bool chosen =
        b.contains("chosen_target") && t.contains("target") && t["target"] == b["chosen_target"];
    h += std::string(chosen ? "<tr class=\"chosen\">" : "<tr>") + Cell(Str(t, "target")) +
         Cell(us(Number(t, "batch1_ns"))) + Cell(us(Number(t, "batch1_p90_ns"))) +
         Cell(Format("%.1f", Number(t, "speedup_vs_reference"))) +
         Cell(Format("%.2f", Number(t, "speedup_vs_eigen_f32"))) + Cell(ips) + "</tr>\n";
  }
  return h + "</table>\n";
}

constexpr char kStyle[] = R"(body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;
padding:1em 2em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.sub{color:#555}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}table.kv th{width:16em}table.compact{font-size:.9em}
img{max-width:100%;height:auto;border:1px solid #ddd;margin:.3em .3em .3em 0}
.pictures{display:flex;flex-wrap:wrap}.pictures img{flex:1 1 480px;min-width:0}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}.missing{color:#666}
.sev{font-weight:bold;padding:0 .4em;border-radius:3px}.sev-OK{background:#d8f0d8}
.sev-NOTE{background:#dce8fa}.sev-WARN{background:#fbe3c0}.sev-FAIL{background:#f6c6c6}
.verdict{list-style:none;padding-left:1em}.verdict li{margin:.2em 0}.warn{color:#a40}
.big{font-size:1.1em}tr.chosen{font-weight:bold}
nav a{margin-right:1em}.side{display:flex;flex-wrap:wrap;align-items:flex-start;gap:1em}
.side img{image-rendering:pixelated}.scroll{max-height:360px;overflow-y:auto})";

}  // namespace

RunRecord LoadRunDir(const std::string& dir) {
  if (!IsDirectory(dir)) {
    struct stat st;
    throw InputError(dir +
                     (stat(dir.c_str(), &st) == 0 ? ": not a directory" : ": no such directory") +
                     " (expected a run directory holding train.json)");
  }
  RunRecord run;
  run.dir = dir;
  bool found = false;
  const std::string train_path = Join(dir, "train.json");
  const std::string train = ReadRunFile(train_path, &found);
  if (!found) {
    throw InputError(dir +
                     ": not a run directory: no train.json (write it with `edgemlp train "
                     "... --plots " +
                     dir + " --json > " + train_path + "`)");
  }
  run.train = ParseRunJson(train_path, train, "edgemlp train",
                           {"arch", "history", "diagnostics", "verdict"});
  if (!run.train["history"].is_array() || !run.train["diagnostics"].is_array() ||
      !run.train["verdict"].is_array()) {
    throw InputError(train_path +
                     ": \"history\", \"diagnostics\" and \"verdict\" must be arrays "
                     "(expected the output of `edgemlp train --json`)");
  }

  const std::string svg_path = Join(dir, "confusion.svg");
  run.confusion_svg = ReadRunFile(svg_path, &found);
  if (found && run.confusion_svg.compare(0, 4, "<svg") != 0) {
    throw InputError(svg_path +
                     ": not an SVG image (expected the confusion.svg of `edgemlp "
                     "train --plots`)");
  }
  const std::string png_path = Join(dir, "misclassified.png");
  run.misclassified_png = ReadRunFile(png_path, &found);
  if (found && run.misclassified_png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) {
    throw InputError(png_path +
                     ": not a PNG image (expected the misclassified.png of `edgemlp "
                     "train --plots`)");
  }
  const std::string list_path = Join(dir, "misclassified.json");
  const std::string list = ReadRunFile(list_path, &found);
  if (found) {
    run.misclassified = Json::parse(list, nullptr, /*allow_exceptions=*/false);
    if (!run.misclassified.is_array()) {
      throw InputError(list_path +
                       ": not a JSON array (expected the misclassified.json of "
                       "`edgemlp train --plots`)");
    }
  }
  const std::string export_path = Join(dir, "export.json");
  const std::string exported = ReadRunFile(export_path, &found);
  if (found) run.exported = ParseRunJson(export_path, exported, "edgemlp export", {"layers"});
  const std::string bench_path = Join(dir, "bench.json");
  const std::string bench = ReadRunFile(bench_path, &found);
  if (found) {
    run.bench = ParseRunJson(bench_path, bench, "edgemlp bench", {"targets"});
    if (!run.bench["targets"].is_array()) {
      throw InputError(bench_path +
                       ": \"targets\" must be an array (expected the output of "
                       "`edgemlp bench --json`)");
    }
  }
  return run;
}

std::vector<ReportSection> ReportSections(const RunRecord& run) {
  const std::string model = ShellWord(ModelPath(run));
  const std::string dir = ShellWord(run.dir);
  const std::string blob = run.exported.contains("out") && run.exported["out"].is_string()
                               ? ShellWord(run.exported["out"].get<std::string>())
                               : ShellWord(Join(run.dir, "model.q8"));
  const std::string plots = "edgemlp train <this run's options> --out " + model + " --plots " +
                            dir + " --json > " + ShellWord(Join(run.dir, "train.json"));
  return {
      {"configuration", "Configuration", "train.json", true, ""},
      {"curves", "Loss and accuracy", "train.json", true, ""},
      {"diagnostics", "Diagnostics and verdict", "train.json", true, ""},
      {"confusion", "Confusion matrix", "confusion.svg", !run.confusion_svg.empty(), plots},
      {"misclassified", "Misclassified test digits", "misclassified.png, misclassified.json",
       !run.misclassified_png.empty(), plots},
      {"quantization", "Quantization report", "export.json", !run.exported.is_null(),
       "edgemlp export " + model + " --data data/mnist --out " +
           ShellWord(Join(run.dir, "model.q8")) + " --json > " +
           ShellWord(Join(run.dir, "export.json"))},
      {"bench", "Benchmark", "bench.json", !run.bench.is_null(),
       "edgemlp bench " + blob + " --json > " + ShellWord(Join(run.dir, "bench.json"))},
  };
}

std::string ReportHtml(const RunRecord& run) {
  const std::string arch = Str(run.train, "arch");
  std::string h = kReportStart;
  h += "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       // Nothing may be fetched: the page is whole as it is.
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "img-src data:; style-src 'unsafe-inline'\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<title>edgemlp run " +
       Escape(arch) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>edgemlp run: " + Escape(arch) + "</h1>\n<p class=\"sub\">" + Escape(ModelPath(run)) +
       ": test accuracy " + Percent(Number(run.train, "test_accuracy")) + " (float), " +
       Escape(Str(run.train, "epochs_run")) + " epochs in " +
       Format("%.1f", Number(run.train, "seconds")) + " s. Page made by edgemlp " +
       Escape(EDGEMLP_VERSION) + " (git " + Escape(EDGEMLP_GIT_REVISION) + ").</p>\n";
  const std::vector<ReportSection> sections = ReportSections(run);
  h += "<nav>";
  for (const ReportSection& s : sections) h += "<a href=\"#" + s.id + "\">" + s.title + "</a>";
  h += "</nav>\n";
  for (const ReportSection& s : sections) {
    h += "<section id=\"" + s.id + "\" data-present=\"" + (s.present ? "1" : "0") + "\"" +
         (s.present ? "" : " class=\"missing\"") + ">\n<h2>" + s.title + "</h2>\n";
    if (!s.present) {
      h += "<p>Not present: this run has no " + Escape(s.source) + ". Make it with:</p>\n<pre>" +
           Escape(s.command) + "</pre>\n</section>\n";
      continue;
    }
    if (s.id == "configuration") h += ConfigurationHtml(run);
    if (s.id == "curves") h += CurvesHtml(run);
    if (s.id == "diagnostics") h += DiagnosticsHtml(run);
    if (s.id == "confusion") h += Image("image/svg+xml", run.confusion_svg, "confusion matrix");
    if (s.id == "misclassified") h += MisclassifiedHtml(run);
    if (s.id == "quantization") h += QuantizationHtml(run);
    if (s.id == "bench") h += BenchHtml(run);
    h += "</section>\n";
  }
  return h + "</body>\n</html>\n";
}

}  // namespace edgemlp::cli
