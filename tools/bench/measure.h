// The measuring half of `edgemlp bench`: every compiled SIMD target (forced
// in turn), the scalar reference, an Eigen f32 baseline of the same network
// and, when compiled in, peer libraries, interleaved round by round in one
// process over real MNIST test images; then the machine's limits (measured
// peaks, clock, weight read rate) and each engine's distance to them.
// Returns plain numbers: tools/cli/cmd_bench.cc prints them as text or JSON.
#ifndef EDGEMLP_TOOLS_BENCH_MEASURE_H_
#define EDGEMLP_TOOLS_BENCH_MEASURE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "dataset.h"
#include "bench/peak.h"

namespace edgemlp::cli {

inline constexpr size_t kBatchSizes[] = {1, 8, 64, 256};
inline constexpr size_t kBatchCount = std::size(kBatchSizes);

struct BenchOptions {
  std::string blob;
  DataSpec data_spec;  // the test rows are the inputs
  int calls = 10000;   // timed batch-1 calls per engine, over all rounds
  int images = 10000;  // test images per batched throughput run
  int rounds = 5;
};

// One engine's row: medians of its samples and what follows from them.
struct EngineResult {
  enum class Kind { kTarget, kReference, kEigen, kPeer };
  std::string name;
  Kind kind = Kind::kTarget;
  double batch1_ns = 0, batch1_p90_ns = 0;
  double images_per_s[kBatchCount] = {};  // by kBatchSizes index; 0: not run
  std::vector<double> layer_ns;           // SIMD targets: per layer, batch 1
  double best_images_per_s = 0;
  double speedup_vs_reference = 0, speedup_vs_eigen_f32 = 0;
  double batched_speedup_vs_eigen_f32 = 0;                 // best batch vs eigen-f32 at batch 64
  double batch1_macs_per_ns = 0, batched_macs_per_ns = 0;  // batched: best batch
  // The engine's own limits (SIMD targets: int8; eigen-f32: f32; else 0):
  // the measured peak of the best multiply-accumulate instruction it can
  // use, bound_ns = max(batch-1 weight read bound, MACs / peak), and the
  // best batched MAC rate as a fraction of the peak.
  double peak_macs_per_ns = 0;
  double bound_ns = 0;
  double fraction_of_peak = 0;
};

// A peer library: verified against the reference before it is timed.
struct PeerResult {
  std::string name;
  std::string isa;      // what the library chose, if verified
  std::string checked;  // what the first-layer check compared
  std::string error;    // why it was not timed; empty if verified
  double agreement = 0;
};

struct BenchResult {
  // The model.
  std::string blob;
  size_t model_bytes = 0, arena_bytes = 0, max_batch = 0;
  std::vector<std::pair<uint32_t, uint32_t>> layer_shapes;  // in, out
  double macs = 0, weight_bytes = 0;                        // per image
  double paired_macs = 0;  // in layers x86 without VNNI runs paired (+-32)
  std::string weight_level;                                 // L1d, L2, L3 or DRAM
  // The machine.
  std::string cpu, chosen_target;
  double cpu_mhz_nominal = 0, ghz = 0;
  std::vector<std::pair<std::string, long>> caches;  // bytes, innermost first
  // The runs.
  int calls = 0, rounds = 0;
  size_t batched_images = 0, test_images = 0;
  double timer_overhead_ns = 0;       // included in batch-1 and per-layer times
  double eigen_agreement = 0;         // eigen-f32's classes vs the int8 reference
  std::vector<EngineResult> engines;  // targets, scalar-reference, eigen-f32, peers
  bool peers_compiled = false;
  std::vector<PeerResult> peers;
  // The limits.
  std::vector<PeakInstruction> peaks;
  double vnni_peak = 0, f32_peak = 0;  // best int8 and f32 MACs per ns
  double compute_bound_ns = 0;         // MACs at the best int8 peak
  double read_bytes_per_ns = 0, read_bound_ns = 0;
  double f32_bytes = 0, f32_read_bound_ns = 0;  // Eigen's f32 weights
  std::string f32_level;

  const EngineResult& Engine(EngineResult::Kind kind) const;  // the first of a kind
};

// on_round(fraction done) after each round, for a progress display.
BenchResult MeasureBench(const BenchOptions& o, const std::function<void(double)>& on_round);

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_BENCH_MEASURE_H_
