// edgemlp bench: batch-1 latency of every compiled SIMD target and the
// scalar reference, interleaved in one process over real MNIST test images.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>

#include "cli.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "idx.h"

namespace edgemlp::cli {

namespace {

struct BenchOptions {
  std::string blob;
  std::string data;
  int calls = 10000;
  int rounds = 5;
  bool json = false;
};

struct Stats {
  std::vector<double> ns;  // one sample per call
  double Quantile(double q) {
    std::sort(ns.begin(), ns.end());
    return ns.empty() ? 0 : ns[static_cast<size_t>(q * (ns.size() - 1))];
  }
};

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

void RunBench(const BenchOptions& o) {
  Network net;
  const LoadResult r = Network::LoadFile(o.blob, &net);
  if (!r.ok()) throw InputError(r.message);
  const Mnist mnist = LoadMnist(ResolveDataDir(o.data));
  const Dataset& test = mnist.test;
  if (test.images.image_size() != net.input_size()) {
    throw InputError(o.blob + ": input size differs from the test images");
  }
  const int64_t best = ChosenTarget();
  // Engines: every available target, then the scalar reference (-1).
  std::vector<int64_t> engines = AvailableTargets();
  if (engines.empty()) throw std::runtime_error("no SIMD target is available");
  engines.push_back(-1);
  std::vector<Stats> stats(engines.size());
  std::vector<int32_t> logits(net.output_size());
  using Clock = std::chrono::steady_clock;
  const int per_round = std::max(1, o.calls / o.rounds);
  // Interleave engines round by round so drift on a shared machine affects
  // all of them alike; the first call of each round is a warm-up.
  for (int round = 0; round < o.rounds; ++round) {
    for (size_t e = 0; e < engines.size(); ++e) {
      if (engines[e] > 0) ForceTarget(engines[e]);
      const bool ref = engines[e] < 0;
      for (int i = -1; i < per_round; ++i) {
        const uint8_t* pixels = test.images.image(static_cast<size_t>(round * per_round + i + 1) % test.size());
        const auto t0 = Clock::now();
        ref ? net.PredictRef(pixels, logits.data()) : net.Predict(pixels, logits.data());
        const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
        if (i >= 0) stats[e].ns.push_back(ns);
      }
    }
  }
  ForceTarget(0);
  const double ref_ns = stats.back().Quantile(0.5);
  Json targets = Json::array();
  char line[256];
  std::string human;
  std::snprintf(line, sizeof(line),
                "%s: %zu bytes, arena %zu bytes; CPU %s; chosen target %s; %d calls per engine\n"
                "%-18s %12s %12s %10s\n",
                o.blob.c_str(), net.blob().size, net.arena_bytes(), CpuModel().c_str(),
                TargetName(best), per_round * o.rounds, "engine", "median ns", "p90 ns", "vs ref");
  human += line;
  for (size_t e = 0; e < engines.size(); ++e) {
    const double med = stats[e].Quantile(0.5), p90 = stats[e].Quantile(0.9);
    const char* name = engines[e] < 0 ? "scalar-reference" : TargetName(engines[e]);
    std::snprintf(line, sizeof(line), "%-18s %12.0f %12.0f %9.1fx\n", name, med, p90, ref_ns / med);
    human += line;
    if (engines[e] > 0) {
      targets.push_back({{"target", name}, {"batch1_ns", med}, {"batch1_p90_ns", p90},
                         {"speedup_vs_reference", ref_ns / med}});
    }
  }
  Emit(o.json,
       {{"model", o.blob}, {"cpu", CpuModel()}, {"chosen_target", TargetName(best)},
        {"model_bytes", net.blob().size}, {"arena_bytes", net.arena_bytes()},
        {"calls", per_round * o.rounds}, {"targets", targets},
        {"scalar_reference_batch1_ns", ref_ns}},
       human);
}

}  // namespace

void AddBench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Batch-1 latency per SIMD target vs the scalar reference");
  cmd->add_option("blob", o->blob, "int8 blob")->required();
  cmd->add_option("--data", o->data, "MNIST directory (test images are the inputs)");
  cmd->add_option("--calls", o->calls, "Timed calls per engine")->capture_default_str()
      ->check(CLI::Range(10, 10000000));
  cmd->add_option("--rounds", o->rounds, "Interleaved rounds")->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", o->json, "Print one JSON object on stdout");
  cmd->callback([o] { RunBench(*o); });
}

}  // namespace edgemlp::cli
