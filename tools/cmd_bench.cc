// edgemlp bench: every compiled SIMD target (forced in turn), the scalar
// reference and an Eigen f32 baseline of the same network, interleaved round
// by round in one process over real MNIST test images: batch-1 latency,
// batched throughput, per-layer time, and efficiency against the hardware.
#include <hwy/highway.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>

#include "bench_eigen.h"
#include "bench_peak.h"
#ifdef EDGEMLP_BENCH_PEERS
#include "bench_peers.h"
#endif
#include "cli.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "idx.h"
#include "kernels.h"

namespace edgemlp::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBatchSizes[] = {1, 8, 64, 256};

struct BenchOptions {
  std::string blob;
  std::string data;
  int calls = 10000;
  int images = 10000;
  int rounds = 5;
  bool json = false;
};

double Median(std::vector<double> v, double q = 0.5) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1))];
}

double NsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

std::string CpuInfo(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "";
}

// Cache sizes of this core (bytes), innermost first: L1d, L2, L3.
std::vector<std::pair<std::string, long>> Caches() {
  std::vector<std::pair<std::string, long>> caches;
  const std::pair<const char*, int> levels[] = {{"L1d", _SC_LEVEL1_DCACHE_SIZE},
                                                {"L2", _SC_LEVEL2_CACHE_SIZE},
                                                {"L3", _SC_LEVEL3_CACHE_SIZE}};
  for (const auto& [name, id] : levels) {
    const long bytes = sysconf(id);
    if (bytes > 0) caches.emplace_back(name, bytes);
  }
  return caches;
}

std::string CacheLevelFor(size_t bytes) {
  for (const auto& [name, size] : Caches()) {
    if (static_cast<long>(bytes) <= size) return name;
  }
  return "DRAM";
}

// One engine's measurements, one sample per round for the batched numbers.
struct Engine {
  std::string name;
  int64_t target = 0;  // > 0: SIMD target; kRef / kEigen / kPeer otherwise
  std::vector<double> batch1_ns;
  std::vector<std::vector<double>> images_per_s;  // by kBatchSizes index
  std::vector<std::vector<double>> layer_ns;
#ifdef EDGEMLP_BENCH_PEERS
  Peer* peer = nullptr;
#endif
};
constexpr int64_t kRef = -1, kEigen = -2, kPeer = -3;

void RunBench(const BenchOptions& o) {
  Network net;
  const LoadResult r = Network::LoadFile(o.blob, &net);
  if (!r.ok()) throw InputError(r.message);
  const Mnist mnist = LoadMnist(ResolveDataDir(o.data));
  const Dataset& test = mnist.test;
  if (test.images.image_size() != net.input_size()) {
    throw InputError(o.blob + ": input size " + std::to_string(net.input_size()) +
                     " differs from the MNIST test images (" +
                     std::to_string(test.images.image_size()) + ")");
  }
  const size_t in_size = net.input_size(), out_size = net.output_size();
  const size_t test_count = test.size();
  const size_t batched_images = std::min<size_t>(o.images, test_count);
  const uint8_t* all_pixels = test.images.image(0);  // contiguous, image after image

  const int64_t chosen = ChosenTarget();
  std::vector<Engine> engines;
  // Named by the kernel that runs ("NEON+sdot" where NEON uses the Arm dot product).
  for (int64_t t : AvailableTargets()) engines.push_back(Engine{KernelName(t), t, {}, {}, {}});
  if (engines.empty()) throw std::runtime_error("no SIMD target is available");
  engines.push_back(Engine{"scalar-reference", kRef, {}, {}, {}});
  engines.push_back(Engine{"eigen-f32", kEigen, {}, {}, {}});
  const size_t ref_index = engines.size() - 2, eigen_index = engines.size() - 1;

  const size_t max_batch = *std::max_element(std::begin(kBatchSizes), std::end(kBatchSizes));
  EigenBaseline eigen(net, max_batch);
  std::vector<int32_t> logits(max_batch * out_size);
  std::vector<float> float_logits(max_batch * out_size);
  const std::vector<DenseI8>& layers = net.layers();
  std::vector<uint8_t> act_storage(2 * 32768 + 64);
  uint8_t* act_a = act_storage.data() + (64 - reinterpret_cast<uintptr_t>(act_storage.data()) % 64) % 64;
  uint8_t* act_b = act_a + 32768;

  // The f32 baseline must be the same network: its classes must agree with
  // the int8 reference on nearly every image.
  size_t agree = 0;
  std::vector<int> reference_class(test_count);
  int64_t max_abs_logit = 0;
  for (size_t i = 0; i < test_count; ++i) {
    const uint8_t* px = test.images.image(i);
    reference_class[i] = net.PredictRef(px, logits.data());
    agree += eigen.Predict(px, 1, float_logits.data()) == reference_class[i];
    for (size_t k = 0; k < out_size; ++k) {
      max_abs_logit = std::max<int64_t>(max_abs_logit, std::abs(int64_t{logits[k]}));
    }
  }
  const double eigen_agreement = static_cast<double>(agree) / test_count;
#ifdef EDGEMLP_BENCH_PEERS
  // Peers on the same weights, timed only once they match the reference.
  std::vector<PeerSlot> peers = MakePeers(
      net, max_batch, static_cast<float>(max_abs_logit) * net.blob().layers[layers.size() - 1].out_scale);
  VerifyPeers(net, all_pixels, test_count, reference_class, max_batch, &peers);
  for (PeerSlot& p : peers) {
    if (!p.peer) continue;
    engines.push_back(Engine{p.name, kPeer, {}, {}, {}});
    engines.back().peer = p.peer.get();
  }
#else
  (void)max_abs_logit;
#endif

  auto run_batch1 = [&](Engine& e, size_t image) {
    const uint8_t* px = test.images.image(image % test_count);
    if (e.target == kRef) return net.PredictRef(px, logits.data());
    if (e.target == kEigen) return eigen.Predict(px, 1, float_logits.data());
#ifdef EDGEMLP_BENCH_PEERS
    if (e.target == kPeer) {
      e.peer->Predict(px, 1);
      return e.peer->Class(0);
    }
#endif
    return net.Predict(px, logits.data());
  };
  auto run_batch = [&](Engine& e, size_t first, size_t count) {
    const uint8_t* px = all_pixels + first * in_size;
    if (e.target == kEigen) {
      eigen.Predict(px, count, float_logits.data());
#ifdef EDGEMLP_BENCH_PEERS
    } else if (e.target == kPeer) {
      e.peer->Predict(px, count);
#endif
    } else {
      net.PredictBatch(px, count, logits.data(), nullptr);
    }
  };

  // The multiply-accumulate peaks, MACs per ns: the best of one
  // measurement per round (the core may be shared with other work).
  PeakTable peaks;
  const int per_round = std::max(1, o.calls / o.rounds);
  size_t next_image = 0;
  Progress progress("bench");
  // Round-robin over engines, so drift on a shared machine hits all alike.
  for (int round = 0; round < o.rounds; ++round) {
    for (Engine& e : engines) {
      if (e.target > 0) ForceTarget(e.target);
      for (int i = 0; i < 20; ++i) run_batch1(e, next_image + i);  // warm-up
      const size_t first = next_image;
      for (int i = 0; i < per_round; ++i) {
        const auto t0 = Clock::now();
        run_batch1(e, first + i);
        e.batch1_ns.push_back(NsSince(t0));
      }
      e.images_per_s.resize(std::size(kBatchSizes));
      // Batched throughput over the test images (the reference: batch 1
      // only): images per second at the median time per batch call, so a
      // preemption by another process does not count.
      for (size_t b = 0; b < std::size(kBatchSizes) && e.target != kRef; ++b) {
        const size_t batch = kBatchSizes[b];
        run_batch(e, 0, std::min(batch, batched_images));  // warm-up
        std::vector<double> call_ns;
        for (size_t done = 0; done + batch <= batched_images; done += batch) {
          const auto t0 = Clock::now();
          run_batch(e, done, batch);
          call_ns.push_back(NsSince(t0));
        }
        if (!call_ns.empty()) e.images_per_s[b].push_back(batch / (Median(call_ns) * 1e-9));
      }
      // Per-layer time of the SIMD kernels (batch 1), through the same
      // forward loop the runtime uses.
      if (e.target > 0) {
        e.layer_ns.resize(layers.size());
        for (int i = 0; i < per_round / 10 + 1; ++i) {
          const uint8_t* px = test.images.image((first + i) % test_count);
          internal::RunForward(
              layers.data(), layers.size(), px, act_a, act_b, logits.data(),
              [&](const DenseI8& l, const uint8_t* in, uint8_t* out) {
                const auto t0 = Clock::now();
                internal::DenseI8ToU8(l, in, out);
                e.layer_ns[&l - layers.data()].push_back(NsSince(t0));
              },
              [&](const DenseI8& l, const uint8_t* in, int32_t* out) {
                const auto t0 = Clock::now();
                internal::DenseI8ToI32(l, in, out);
                e.layer_ns[&l - layers.data()].push_back(NsSince(t0));
              });
        }
      }
    }
    peaks.Measure();
    next_image += per_round;
    progress.Update(static_cast<double>(round + 1) / o.rounds);
  }
  progress.Done();
  ForceTarget(0);

  const double ghz = MeasuredGhz();  // the nominal MHz of a VM says little
  // What one timed call adds: included in every batch-1 and per-layer time.
  std::vector<double> timer_ns;
  for (int i = 0; i < 1000; ++i) timer_ns.push_back(NsSince(Clock::now()));
  const double timer_overhead_ns = Median(timer_ns);
  // Work and bytes per image.
  double macs = 0, weight_bytes = 0;
  for (const DenseI8& l : layers) {
    macs += static_cast<double>(l.in_size) * l.out_size;
    weight_bytes += static_cast<double>(l.stride) * l.out_size;
  }
  std::vector<double> peak;
  for (const Engine& e : engines) peak.push_back(e.target > 0 ? peaks.TargetMacsPerNs(e.target) : 0);
  const double f32_peak = peaks.F32MacsPerNs();
  // The compute bound uses the best target's peak (VNNI where the CPU has
  // it); a target the CPU lacks is never run. The f32 FMA peak bounds the
  // Eigen baseline, so int8 / f32 peak is the best possible speedup over it.
  const double vnni_peak = *std::max_element(peak.begin(), peak.end());
  peak[eigen_index] = f32_peak;  // eigen-f32's row: f32 MACs
  const double int8_over_f32_peak = f32_peak > 0 ? vnni_peak / f32_peak : 0;
  const double ref_ns = Median(engines[ref_index].batch1_ns);
  const Engine& eig = engines[eigen_index];
  const double eigen_ns = Median(eig.batch1_ns);
  const std::string weight_level = CacheLevelFor(static_cast<size_t>(weight_bytes));

  Json targets = Json::array();
  char line[512];
  std::string human;
  std::snprintf(line, sizeof(line),
                "model     %s: %zu bytes, %.0f int8 weight bytes (fit in %s), %.0f MACs per image, "
                "arena %zu bytes (max batch %zu)\n"
                "machine   %s, %.0f MHz nominal, %.2f GHz measured; %s; Highway %d.%d.%d; chosen target %s\n"
                "timing    %d batch-1 calls per engine, %zu images per batched run, %d rounds, "
                "interleaved; timer %.0f ns per call (included); eigen-f32 agrees with the int8 reference on %.2f%% of images\n\n",
                o.blob.c_str(), net.blob().size, weight_bytes, weight_level.c_str(), macs,
                net.arena_bytes(), Network::kMaxBatch, CpuInfo("model name").c_str(), std::atof(CpuInfo("cpu MHz").c_str()), ghz,
                "compiler " __VERSION__, HWY_MAJOR, HWY_MINOR, HWY_PATCH, KernelName(chosen).c_str(),
                per_round * o.rounds, batched_images, o.rounds, timer_overhead_ns,
                100 * eigen_agreement);
  human += line;
  std::snprintf(line, sizeof(line), "%-17s %9s %9s %7s %7s %9s %9s %9s %9s %7s %7s %7s\n",
                "engine", "b1 med", "b1 p90", "vs ref", "vs f32", "img/s b1", "b8", "b64",
                "b256", "MAC/ns", "best", "peak");
  human += line;
  Json eigen_ips = Json::object();
  std::map<std::string, Json> peer_timings;
  for (size_t ei = 0; ei < engines.size(); ++ei) {
    const Engine& e = engines[ei];
    const double med = Median(e.batch1_ns), p90 = Median(e.batch1_ns, 0.9);
    Json ips = Json::object();
    double best_ips = 0;
    for (size_t b = 0; b < std::size(kBatchSizes); ++b) {
      if (e.images_per_s[b].empty()) continue;
      const double v = Median(e.images_per_s[b]);
      ips[std::to_string(kBatchSizes[b])] = v;
      best_ips = std::max(best_ips, v);
    }
    auto ips_at = [&](size_t b) { return e.images_per_s[b].empty() ? 0.0 : Median(e.images_per_s[b]); };
    const bool simd = e.target > 0;
    // MACs per ns at batch 1 and at the best batch size, vs the peak.
    const double best_batched_macs_per_ns = best_ips * macs * 1e-9;
    std::snprintf(line, sizeof(line),
                  "%-17s %7.2fus %7.2fus %6.1fx %6.2fx %9.0f %9.0f %9.0f %9.0f %7.1f %7.1f %7.1f\n",
                  e.name.c_str(), med / 1000, p90 / 1000, ref_ns / med, eigen_ns / med, ips_at(0),
                  ips_at(1), ips_at(2), ips_at(3), macs / med, best_batched_macs_per_ns, peak[ei]);
    human += line;
    if (e.target == kEigen) eigen_ips = ips;
    if (e.target == kPeer) {
      peer_timings[e.name] = {{"batch1_ns", med},
                              {"batch1_p90_ns", p90},
                              {"images_per_s", ips},
                              {"speedup_vs_eigen_f32", eigen_ns / med},
                              {"batch1_macs_per_cycle", macs / med / ghz},
                              {"batched_macs_per_cycle", best_batched_macs_per_ns / ghz}};
    }
    if (!simd) continue;
    Json layer_ns = Json::array();
    for (const std::vector<double>& l : e.layer_ns) layer_ns.push_back(Median(l));
    targets.push_back({{"target", e.name},
                       {"batch1_ns", med},
                       {"batch1_p90_ns", p90},
                       {"images_per_s", ips},
                       {"layer_ns", layer_ns},
                       {"speedup_vs_reference", ref_ns / med},
                       {"speedup_vs_eigen_f32", eigen_ns / med},
                       {"batched_speedup_vs_eigen_f32",
                        Median(eig.images_per_s[2]) > 0 ? best_ips / Median(eig.images_per_s[2]) : 0},
                       {"batch1_macs_per_ns", macs / med},
                       {"batched_macs_per_ns", best_batched_macs_per_ns},
                       {"batch1_macs_per_cycle", macs / med / ghz},
                       {"batched_macs_per_cycle", best_batched_macs_per_ns / ghz},
                       {"peak_macs_per_ns", peak[ei]},
                       {"peak_macs_per_cycle", peak[ei] / ghz},
                       {"batched_fraction_of_peak", peak[ei] > 0 ? best_batched_macs_per_ns / peak[ei] : 0}});
  }
  Json peer_rows = Json::array();
#ifdef EDGEMLP_BENCH_PEERS
  human += "\npeers (same int8 weights; verified against the scalar reference before timing):\n";
  for (const PeerSlot& p : peers) {
    Json row = {{"name", p.name},
                {"verified", p.error.empty()},
                {"agreement", p.agreement},
                {"first_layer_check", p.checked}};
    char pct[64];
    std::snprintf(pct, sizeof(pct), "classes agree on %.2f%% of %zu images", 100 * p.agreement,
                  test_count);
    if (p.error.empty()) {
      row["isa"] = p.peer->Isa();
      row.update(peer_timings[p.name]);
      human += "  " + p.name + ": " + p.peer->Isa() + "; " + p.checked + "; " + pct + "\n";
    } else {
      row["error"] = p.error;
      human += "  " + p.name + ": NOT TIMED: " + p.error + "\n";
    }
    peer_rows.push_back(row);
  }
#endif
  // Per-layer times and the distance to the bounds.
  human += "\nper layer (batch 1, median ns):";
  for (size_t i = 0; i < layers.size(); ++i) {
    std::snprintf(line, sizeof(line), "  %u-%u", layers[i].in_size, layers[i].out_size);
    human += line;
  }
  human += "\n";
  for (const Engine& e : engines) {
    if (e.target <= 0) continue;
    std::snprintf(line, sizeof(line), "%-17s", e.name.c_str());
    human += line;
    for (const std::vector<double>& l : e.layer_ns) {
      std::snprintf(line, sizeof(line), " %9.0f", Median(l));
      human += line;
    }
    human += "\n";
  }
  // Bounds on this core: compute at the measured VNNI peak, and batch 1
  // re-reading every weight byte from where it lives at the measured rate.
  const double compute_bound_ns = vnni_peak > 0 ? macs / vnni_peak : 0;
  const double read_bytes_per_ns = MeasuredReadBytesPerNs(static_cast<size_t>(weight_bytes));
  const double read_bound_ns = weight_bytes / read_bytes_per_ns;
  // Eigen's f32 matrix-vector products read 4 bytes per MAC: the batch-1
  // ceiling of the int8 / f32 ratio is the ratio of the two read bounds.
  const double f32_bytes = 4.0 * macs;
  const double f32_read_bound_ns =
      f32_bytes / MeasuredReadBytesPerNs(static_cast<size_t>(f32_bytes));
  std::snprintf(line, sizeof(line),
                "\nMAC/ns: multiply-accumulates per ns at batch 1 and at the best batch size (int8; "
                "f32 for eigen-f32); peak: the best instruction the engine can use, registers only, "
                "best of one measurement per round\n"
                "peaks at %.2f GHz (instructions/cycle, MAC/cycle):",
                ghz);
  human += line;
  Json peak_rows = Json::array();
  for (const PeakInstruction& p : peaks.instructions()) {
    const double per_cycle = p.instructions_per_ns / ghz;
    std::snprintf(line, sizeof(line), "  %s %.2f, %.0f;", p.name, per_cycle,
                  p.macs_per_ns() / ghz);
    human += line;
    peak_rows.push_back({{"instruction", p.name},
                         {"kind", p.kind},
                         {"width_bits", p.width_bits},
                         {"macs_per_instruction", p.macs_per_instruction},
                         {"instructions_per_cycle", per_cycle},
                         {"macs_per_cycle", p.macs_per_ns() / ghz},
                         {"macs_per_ns", p.macs_per_ns()}});
  }
  std::snprintf(line, sizeof(line),
                "\nbounds: int8 compute at %.1f MAC/cycle %.0f ns/image = %.2f M images/s; batch-1 "
                "weight read (%.0f bytes from %s at %.1f B/cycle, measured) %.0f ns; weight bytes per image at "
                "batch b: %.0f / b; f32 FMA peak %.1f MAC/cycle, so int8 / f32 <= %.1fx here batched; "
                "Eigen f32 reads %.0f weight bytes per image (%s) in >= %.0f ns, so int8 / f32 <= "
                "%.1fx at batch 1\n",
                vnni_peak / ghz, compute_bound_ns, compute_bound_ns > 0 ? 1e3 / compute_bound_ns : 0,
                weight_bytes, weight_level.c_str(), read_bytes_per_ns / ghz, read_bound_ns, weight_bytes,
                f32_peak / ghz, int8_over_f32_peak, f32_bytes,
                CacheLevelFor(static_cast<size_t>(f32_bytes)).c_str(), f32_read_bound_ns,
                f32_read_bound_ns / read_bound_ns);
  human += line;

  Json caches = Json::object();
  for (const auto& [name, size] : Caches()) caches[name] = size;
  Json report = {{"model", o.blob},
        {"cpu", CpuInfo("model name")},
        {"cpu_mhz_nominal", std::atof(CpuInfo("cpu MHz").c_str())},
        {"cpu_ghz_measured", ghz},
        {"vnni_peak_macs_per_ns", vnni_peak},
        {"vnni_peak_macs_per_cycle", vnni_peak / ghz},
        {"f32_peak_macs_per_ns", f32_peak},
        {"f32_peak_macs_per_cycle", f32_peak / ghz},
        {"int8_over_f32_peak_ratio", int8_over_f32_peak},
        {"peaks", peak_rows},
        {"compiler", __VERSION__},
        {"highway_version", std::to_string(HWY_MAJOR) + "." + std::to_string(HWY_MINOR) + "." +
                                std::to_string(HWY_PATCH)},
        {"chosen_target", KernelName(chosen)},
        {"model_bytes", net.blob().size},
        {"arena_bytes", net.arena_bytes()},
        {"max_batch", Network::kMaxBatch},
        {"macs_per_image", macs},
        {"weight_bytes", weight_bytes},
        {"weight_cache_level", weight_level},
        {"caches", caches},
        {"calls", per_round * o.rounds},
        {"batched_images", batched_images},
        {"rounds", o.rounds},
        {"timer_overhead_ns", timer_overhead_ns},
        {"targets", targets},
        {"scalar_reference_batch1_ns", ref_ns},
        {"eigen_f32_batch1_ns", eigen_ns},
        {"eigen_f32_images_per_s", eigen_ips},
        {"eigen_f32_agreement", eigen_agreement},
        {"compute_bound_ns", compute_bound_ns},
        {"weight_read_bytes_per_ns", read_bytes_per_ns},
        {"weight_read_bound_ns", read_bound_ns},
        {"f32_weight_read_bound_ns", f32_read_bound_ns},
        {"int8_over_f32_batch1_bound_ratio", f32_read_bound_ns / read_bound_ns}};
#ifdef EDGEMLP_BENCH_PEERS
  report["peers"] = peer_rows;
#endif
  Emit(o.json, report, human);
}

}  // namespace

void AddBench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Latency and throughput of every SIMD target vs the scalar reference and Eigen f32");
  cmd->add_option("blob", o->blob, "int8 blob")->required();
  cmd->add_option("--data", o->data, "MNIST directory (test images are the inputs)");
  cmd->add_option("--calls", o->calls, "Timed batch-1 calls per engine (over all rounds)")
      ->capture_default_str()->check(CLI::Range(10, 10000000));
  cmd->add_option("--images", o->images, "Test images per batched throughput run")
      ->capture_default_str()->check(CLI::Range(256, 10000));
  cmd->add_option("--rounds", o->rounds, "Interleaved rounds")->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunBench(*o); });
}

}  // namespace edgemlp::cli
