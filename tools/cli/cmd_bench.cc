// edgemlp bench: the CLI and the report. tools/bench/measure.h measures;
// this file prints its numbers as text or as one JSON object.
#include <hwy/highway.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "bench/measure.h"
#include "cli/data_options.h"
#include "cli/cli.h"

namespace edgemlp::cli {

namespace {

using Kind = EngineResult::Kind;

Json ImagesPerS(const EngineResult& e) {
  Json ips = Json::object();
  for (size_t b = 0; b < kBatchCount; ++b) {
    if (e.images_per_s[b] > 0) ips[std::to_string(kBatchSizes[b])] = e.images_per_s[b];
  }
  return ips;
}

std::string Text(const BenchResult& r) {
  char line[640];
  std::string out;
  std::snprintf(
      line, sizeof(line),
      "model     %s: %zu bytes, %.0f int8 weight bytes (fit in %s), %.0f MACs per image, "
      "arena %zu bytes (max batch %zu)\n"
      "machine   %s, %.0f MHz nominal, %.2f GHz measured; %s; Highway %d.%d.%d; chosen target %s\n"
      "timing    %d batch-1 calls per engine, %zu images per batched run, %d rounds, "
      "interleaved; timer %.0f ns per call (included); eigen-f32 agrees with the int8 reference on "
      "%.2f%% of images\n\n",
      r.blob.c_str(), r.model_bytes, r.weight_bytes, r.weight_level.c_str(), r.macs, r.arena_bytes,
      r.max_batch, r.cpu.c_str(), r.cpu_mhz_nominal, r.ghz, "compiler " __VERSION__, HWY_MAJOR,
      HWY_MINOR, HWY_PATCH, r.chosen_target.c_str(), r.calls, r.batched_images, r.rounds,
      r.timer_overhead_ns, 100 * r.eigen_agreement);
  out += line;
  std::snprintf(line, sizeof(line), "%-17s %9s %9s %7s %7s %9s %9s %9s %9s %7s %7s %7s %9s %6s\n",
                "engine", "b1 med", "b1 p90", "vs ref", "vs f32", "img/s b1", "b8", "b64", "b256",
                "MAC/ns", "best", "peak", "bound", "% peak");
  out += line;
  for (const EngineResult& e : r.engines) {
    std::snprintf(line, sizeof(line),
                  "%-17s %7.2fus %7.2fus %6.1fx %6.2fx %9.0f %9.0f %9.0f %9.0f %7.1f %7.1f %7.1f",
                  e.name.c_str(), e.batch1_ns / 1000, e.batch1_p90_ns / 1000,
                  e.speedup_vs_reference, e.speedup_vs_eigen_f32, e.images_per_s[0],
                  e.images_per_s[1], e.images_per_s[2], e.images_per_s[3], e.batch1_macs_per_ns,
                  e.batched_macs_per_ns, e.peak_macs_per_ns);
    out += line;
    if (e.bound_ns > 0) {
      std::snprintf(line, sizeof(line), " %7.2fus %5.0f%%\n", e.bound_ns / 1000,
                    100 * e.fraction_of_peak);
    } else {
      std::snprintf(line, sizeof(line), " %9s %6s\n", "-", "-");
    }
    out += line;
  }
  if (r.peers_compiled) {
    out += "\npeers (same int8 weights; verified against the scalar reference before timing):\n";
    for (const PeerResult& p : r.peers) {
      if (p.error.empty()) {
        std::snprintf(line, sizeof(line), "classes agree on %.2f%% of %zu images",
                      100 * p.agreement, r.test_images);
        out += "  " + p.name + ": " + p.isa + "; " + p.checked + "; " + line + "\n";
      } else {
        out += "  " + p.name + ": NOT TIMED: " + p.error + "\n";
      }
    }
  }
  // Per-layer times and the distance to the bounds.
  out += "\nper layer (batch 1, median ns):";
  for (const auto& [in, outs] : r.layer_shapes) {
    std::snprintf(line, sizeof(line), "  %u-%u", in, outs);
    out += line;
  }
  out += "\n";
  for (const EngineResult& e : r.engines) {
    if (e.kind != Kind::kTarget) continue;
    std::snprintf(line, sizeof(line), "%-17s", e.name.c_str());
    out += line;
    for (double ns : e.layer_ns) {
      std::snprintf(line, sizeof(line), " %9.0f", ns);
      out += line;
    }
    out += "\n";
  }
  std::snprintf(
      line, sizeof(line),
      "\nMAC/ns: multiply-accumulates per ns at batch 1 and at the best batch size (int8; "
      "f32 for eigen-f32); peak: the best instruction the engine can use, registers only, "
      "best of one measurement per round; bound: the engine's batch-1 limit, the larger of "
      "the weight read bound and MACs / its peak; %% peak: best batched MAC/ns / its peak\n"
      "peaks at %.2f GHz (instructions/cycle, MAC/cycle):",
      r.ghz);
  out += line;
  for (const PeakInstruction& p : r.peaks) {
    std::snprintf(line, sizeof(line), "  %s %.2f, %.0f;", p.name, p.instructions_per_ns / r.ghz,
                  p.macs_per_ns() / r.ghz);
    out += line;
  }
  std::snprintf(
      line, sizeof(line),
      "\nbounds: int8 compute at %.1f MAC/cycle %.0f ns/image = %.2f M images/s; batch-1 "
      "weight read (%.0f bytes from %s at %.1f B/cycle, measured) %.0f ns; weight bytes per image "
      "at "
      "batch b: %.0f / b; f32 FMA peak %.1f MAC/cycle, so int8 / f32 <= %.1fx here batched; "
      "Eigen f32 reads %.0f weight bytes per image (%s) in >= %.0f ns, so int8 / f32 <= "
      "%.1fx at batch 1\n",
      r.vnni_peak / r.ghz, r.compute_bound_ns,
      r.compute_bound_ns > 0 ? 1e3 / r.compute_bound_ns : 0, r.weight_bytes, r.weight_level.c_str(),
      r.read_bytes_per_ns / r.ghz, r.read_bound_ns, r.weight_bytes, r.f32_peak / r.ghz,
      r.f32_peak > 0 ? r.vnni_peak / r.f32_peak : 0, r.f32_bytes, r.f32_level.c_str(),
      r.f32_read_bound_ns, r.f32_read_bound_ns / r.read_bound_ns);
  out += line;
  return out;
}

Json JsonReport(const BenchResult& r) {
  const double ghz = r.ghz;
  Json targets = Json::array();
  std::map<std::string, Json> peer_timings;
  for (const EngineResult& e : r.engines) {
    if (e.kind == Kind::kPeer) {
      peer_timings[e.name] = {{"batch1_ns", e.batch1_ns},
                              {"batch1_p90_ns", e.batch1_p90_ns},
                              {"images_per_s", ImagesPerS(e)},
                              {"speedup_vs_eigen_f32", e.speedup_vs_eigen_f32},
                              {"batch1_macs_per_cycle", e.batch1_macs_per_ns / ghz},
                              {"batched_macs_per_cycle", e.batched_macs_per_ns / ghz}};
    }
    if (e.kind != Kind::kTarget) continue;
    targets.push_back({{"target", e.name},
                       {"batch1_ns", e.batch1_ns},
                       {"batch1_p90_ns", e.batch1_p90_ns},
                       {"images_per_s", ImagesPerS(e)},
                       {"layer_ns", e.layer_ns},
                       {"speedup_vs_reference", e.speedup_vs_reference},
                       {"speedup_vs_eigen_f32", e.speedup_vs_eigen_f32},
                       {"batched_speedup_vs_eigen_f32", e.batched_speedup_vs_eigen_f32},
                       {"batch1_macs_per_ns", e.batch1_macs_per_ns},
                       {"batched_macs_per_ns", e.batched_macs_per_ns},
                       {"batch1_macs_per_cycle", e.batch1_macs_per_ns / ghz},
                       {"batched_macs_per_cycle", e.batched_macs_per_ns / ghz},
                       {"peak_macs_per_ns", e.peak_macs_per_ns},
                       {"peak_macs_per_cycle", e.peak_macs_per_ns / ghz},
                       {"batched_fraction_of_peak", e.fraction_of_peak},
                       {"bound_ns", e.bound_ns},
                       {"fraction_of_peak", e.fraction_of_peak}});
  }
  Json peak_rows = Json::array();
  for (const PeakInstruction& p : r.peaks) {
    peak_rows.push_back({{"instruction", p.name},
                         {"kind", p.kind},
                         {"width_bits", p.width_bits},
                         {"macs_per_instruction", p.macs_per_instruction},
                         {"instructions_per_cycle", p.instructions_per_ns / ghz},
                         {"macs_per_cycle", p.macs_per_ns() / ghz},
                         {"macs_per_ns", p.macs_per_ns()}});
  }
  Json caches = Json::object();
  for (const auto& [name, size] : r.caches) caches[name] = size;
  const EngineResult& eigen = r.Engine(Kind::kEigen);
  Json report = {{"model", r.blob},
                 {"cpu", r.cpu},
                 {"cpu_mhz_nominal", r.cpu_mhz_nominal},
                 {"cpu_ghz_measured", ghz},
                 {"vnni_peak_macs_per_ns", r.vnni_peak},
                 {"vnni_peak_macs_per_cycle", r.vnni_peak / ghz},
                 {"f32_peak_macs_per_ns", r.f32_peak},
                 {"f32_peak_macs_per_cycle", r.f32_peak / ghz},
                 {"int8_over_f32_peak_ratio", r.f32_peak > 0 ? r.vnni_peak / r.f32_peak : 0},
                 {"peaks", peak_rows},
                 {"compiler", __VERSION__},
                 {"highway_version", std::to_string(HWY_MAJOR) + "." + std::to_string(HWY_MINOR) +
                                         "." + std::to_string(HWY_PATCH)},
                 {"chosen_target", r.chosen_target},
                 {"model_bytes", r.model_bytes},
                 {"arena_bytes", r.arena_bytes},
                 {"max_batch", r.max_batch},
                 {"macs_per_image", r.macs},
                 {"paired_macs_per_image", r.paired_macs},
                 {"weight_bytes", r.weight_bytes},
                 {"weight_cache_level", r.weight_level},
                 {"caches", caches},
                 {"calls", r.calls},
                 {"batched_images", r.batched_images},
                 {"rounds", r.rounds},
                 {"timer_overhead_ns", r.timer_overhead_ns},
                 {"targets", targets},
                 {"scalar_reference_batch1_ns", r.Engine(Kind::kReference).batch1_ns},
                 {"eigen_f32_batch1_ns", eigen.batch1_ns},
                 {"eigen_f32_images_per_s", ImagesPerS(eigen)},
                 {"eigen_f32_agreement", r.eigen_agreement},
                 {"compute_bound_ns", r.compute_bound_ns},
                 {"weight_read_bytes_per_ns", r.read_bytes_per_ns},
                 {"weight_read_bound_ns", r.read_bound_ns},
                 {"f32_weight_read_bound_ns", r.f32_read_bound_ns},
                 {"int8_over_f32_batch1_bound_ratio", r.f32_read_bound_ns / r.read_bound_ns}};
  if (r.peers_compiled) {
    Json peer_rows = Json::array();
    for (const PeerResult& p : r.peers) {
      Json row = {{"name", p.name},
                  {"verified", p.error.empty()},
                  {"agreement", p.agreement},
                  {"first_layer_check", p.checked}};
      if (p.error.empty()) {
        row["isa"] = p.isa;
        row.update(peer_timings[p.name]);
      } else {
        row["error"] = p.error;
      }
      peer_rows.push_back(row);
    }
    report["peers"] = peer_rows;
  }
  return report;
}

}  // namespace

void AddBench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "bench", "Latency and throughput of every SIMD target vs the scalar reference and Eigen f32");
  cmd->add_option("blob", o->blob, "int8 blob")->required();
  AddDataOptions(cmd, &o->data_spec);  // the test rows are the inputs
  cmd->add_option("--calls", o->calls, "Timed batch-1 calls per engine (over all rounds)")
      ->capture_default_str()
      ->check(CLI::Range(10, 10000000));
  cmd->add_option("--images", o->images, "Test images per batched throughput run")
      ->capture_default_str()
      ->check(CLI::Range(256, 10000));
  cmd->add_option("--rounds", o->rounds, "Interleaved rounds")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", *json, "Print one JSON object on stdout");
  cmd->callback([o, json] {
    Progress progress("bench");
    const BenchResult r = MeasureBench(*o, [&](double done) { progress.Update(done); });
    progress.Done();
    Emit(*json, JsonReport(r), Text(r));
  });
}

}  // namespace edgemlp::cli
