#include "bench/measure.h"

#include <hwy/highway.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "bench/eigen.h"
#ifdef EDGEMLP_BENCH_PEERS
#include "bench/peers.h"
#endif
#include "edgemlp/introspect.h"
#include "edgemlp/runtime.h"
#include "error.h"
#include "idx.h"

namespace edgemlp::cli {

namespace {

using Clock = std::chrono::steady_clock;
using Kind = EngineResult::Kind;

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

// Whether x86 without VNNI runs the layer in its paired mode (int8 rows,
// int4 ones widened at load, within +-kPairedWeightLimit).
bool PairedOnX86(const LayerInfo& l) {
  return l.max_abs_weight != 0 && l.max_abs_weight <= kPairedWeightLimit;
}

// One engine's samples: one per call (batch 1, layers), one per round
// (batched).
struct Samples {
  Samples(std::string n, Kind k, int64_t t = 0, bool dot = true)
      : name(std::move(n)), kind(k), target(t), dot_product(dot) {}
  std::string name;
  Kind kind;
  int64_t target;    // SIMD targets
  bool dot_product;  // SIMD targets: with their dot-product kernels, if any
  std::vector<double> batch1_ns;
  std::vector<std::vector<double>> images_per_s = std::vector<std::vector<double>>(kBatchCount);
  std::vector<std::vector<double>> layer_ns;
#ifdef EDGEMLP_BENCH_PEERS
  Peer* peer = nullptr;
#endif
};

// Medians, then each row against the reference, eigen-f32 and its limits.
void Summarize(const std::vector<Samples>& samples, const PeakTable& peaks, BenchResult* r) {
  for (const Samples& s : samples) {
    EngineResult e;
    e.name = s.name;
    e.kind = s.kind;
    e.batch1_ns = Median(s.batch1_ns);
    e.batch1_p90_ns = Median(s.batch1_ns, 0.9);
    for (size_t b = 0; b < kBatchCount; ++b) {
      e.images_per_s[b] = Median(s.images_per_s[b]);
      e.best_images_per_s = std::max(e.best_images_per_s, e.images_per_s[b]);
    }
    for (const std::vector<double>& l : s.layer_ns) e.layer_ns.push_back(Median(l));
    e.batch1_macs_per_ns = r->macs / e.batch1_ns;
    e.batched_macs_per_ns = e.best_images_per_s * r->macs * 1e-9;
    if (s.kind == Kind::kTarget) {
      // Layers in x86's paired mode at their own peak: MACs over the time
      // all layers take at their peaks.
      const bool dot = s.dot_product && HasDotProductKernels(s.target);
      const double step = peaks.TargetMacsPerNs(s.target, dot);
      const double paired = peaks.TargetMacsPerNs(s.target, dot, true);
      e.peak_macs_per_ns =
          step > 0 && paired > 0
              ? r->macs / (r->paired_macs / paired + (r->macs - r->paired_macs) / step)
              : 0;
      e.bound_ns =
          std::max(r->read_bound_ns, e.peak_macs_per_ns > 0 ? r->macs / e.peak_macs_per_ns : 0);
    } else if (s.kind == Kind::kEigen) {
      e.peak_macs_per_ns = r->f32_peak;
      e.bound_ns = std::max(r->f32_read_bound_ns, r->f32_peak > 0 ? r->macs / r->f32_peak : 0);
    }
    e.fraction_of_peak = e.peak_macs_per_ns > 0 ? e.batched_macs_per_ns / e.peak_macs_per_ns : 0;
    r->engines.push_back(std::move(e));
  }
  const EngineResult& ref = r->Engine(Kind::kReference);
  const EngineResult& eigen = r->Engine(Kind::kEigen);
  for (EngineResult& e : r->engines) {
    e.speedup_vs_reference = ref.batch1_ns / e.batch1_ns;
    e.speedup_vs_eigen_f32 = eigen.batch1_ns / e.batch1_ns;
    e.batched_speedup_vs_eigen_f32 =
        eigen.images_per_s[2] > 0 ? e.best_images_per_s / eigen.images_per_s[2] : 0;
  }
}

}  // namespace

const EngineResult& BenchResult::Engine(EngineResult::Kind kind) const {
  for (const EngineResult& e : engines) {
    if (e.kind == kind) return e;
  }
  throw std::logic_error("bench: no engine of the requested kind");
}

BenchResult MeasureBench(const BenchOptions& o, const std::function<void(double)>& on_round) {
  Network net;
  const LoadResult load = Network::LoadFile(o.blob, &net);
  if (!load.ok()) throw InputError(load.message);
  ModelShape shape;
  shape.input_size = static_cast<uint32_t>(net.input_size());
  shape.outputs = static_cast<uint32_t>(net.output_size());
  shape.transform = FloatInputTransform::FromView(net.input_transform());
  const LoadedData data = LoadData(o.data_spec, &shape);
  const Dataset& test = data.test;
  if (test.images.image_size() != net.input_size()) {
    throw InputError(o.blob + ": input size " + std::to_string(net.input_size()) +
                     " differs from the test rows of " + data.source);
  }
  BenchResult r;
  const size_t in_size = net.input_size(), out_size = net.output_size();
  const size_t test_count = test.size();
  const size_t batched_images = std::min<size_t>(o.images, test_count);
  const uint8_t* all_pixels = test.images.image(0);  // contiguous, image after image

  std::vector<Samples> engines;
  // A target with dot-product kernels (NEON+sdot, AVX2+vnni) runs twice:
  // with them, and as the base target (the CPUs without them).
  for (int64_t t : AvailableTargets()) {
    if (HasDotProductKernels(t)) {
      UseDotProductKernels(true);
      engines.push_back(Samples{KernelName(t), Kind::kTarget, t, true});
    }
    engines.push_back(Samples{TargetName(t), Kind::kTarget, t, false});
  }
  if (engines.empty()) throw std::runtime_error("no SIMD target is available");
  engines.push_back(Samples{"scalar-reference", Kind::kReference});
  engines.push_back(Samples{"eigen-f32", Kind::kEigen});

  const size_t max_batch = *std::max_element(std::begin(kBatchSizes), std::end(kBatchSizes));
  EigenBaseline eigen(net, max_batch);
  std::vector<int32_t> logits(max_batch * out_size);
  std::vector<float> float_logits(max_batch * out_size);
  std::vector<LayerInfo> layers;
  for (size_t i = 0; i < net.layer_count(); ++i) layers.push_back(GetLayer(net, i));

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
  r.eigen_agreement = static_cast<double>(agree) / test_count;
#ifdef EDGEMLP_BENCH_PEERS
  // Peers on the same weights, timed only once they match the reference.
  r.peers_compiled = true;
  std::vector<PeerSlot> peers =
      MakePeers(net, max_batch, static_cast<float>(max_abs_logit) * layers.back().out_scale);
  VerifyPeers(net, all_pixels, test_count, reference_class, max_batch, &peers);
  for (PeerSlot& p : peers) {
    r.peers.push_back(
        PeerResult{p.name, p.peer ? p.peer->Isa() : "", p.checked, p.error, p.agreement});
    if (!p.peer) continue;
    engines.push_back(Samples{p.name, Kind::kPeer});
    engines.back().peer = p.peer.get();
  }
#else
  (void)max_abs_logit;
#endif

  auto run_batch1 = [&](Samples& e, size_t image) {
    const uint8_t* px = test.images.image(image % test_count);
    if (e.kind == Kind::kReference) return net.PredictRef(px, logits.data());
    if (e.kind == Kind::kEigen) return eigen.Predict(px, 1, float_logits.data());
#ifdef EDGEMLP_BENCH_PEERS
    if (e.kind == Kind::kPeer) {
      e.peer->Predict(px, 1);
      return e.peer->Class(0);
    }
#endif
    return net.Predict(px, logits.data());
  };
  auto run_batch = [&](Samples& e, size_t first, size_t count) {
    const uint8_t* px = all_pixels + first * in_size;
    if (e.kind == Kind::kEigen) {
      eigen.Predict(px, count, float_logits.data());
#ifdef EDGEMLP_BENCH_PEERS
    } else if (e.kind == Kind::kPeer) {
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
  // Round-robin over engines, so drift on a shared machine hits all alike.
  for (int round = 0; round < o.rounds; ++round) {
    for (Samples& e : engines) {
      if (e.kind == Kind::kTarget) {
        ForceTarget(e.target);
        UseDotProductKernels(e.dot_product);
      }
      for (int i = 0; i < 20; ++i) run_batch1(e, next_image + i);  // warm-up
      const size_t first = next_image;
      for (int i = 0; i < per_round; ++i) {
        const auto t0 = Clock::now();
        run_batch1(e, first + i);
        e.batch1_ns.push_back(NsSince(t0));
      }
      // Batched throughput over the test images (the reference: batch 1
      // only): images per second at the median time per batch call, so a
      // preemption by another process does not count.
      for (size_t b = 0; b < kBatchCount && e.kind != Kind::kReference; ++b) {
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
      if (e.kind == Kind::kTarget) {
        e.layer_ns.resize(layers.size());
        std::vector<double> ns(layers.size());
        for (int i = 0; i < per_round / 10 + 1; ++i) {
          const uint8_t* px = test.images.image((first + i) % test_count);
          PredictTimingLayers(net, px, logits.data(), ns.data());
          for (size_t l = 0; l < layers.size(); ++l) e.layer_ns[l].push_back(ns[l]);
        }
      }
    }
    peaks.Measure();
    next_image += per_round;
    on_round(static_cast<double>(round + 1) / o.rounds);
  }
  ForceTarget(0);
  UseDotProductKernels(true);

  r.blob = o.blob;
  r.model_bytes = net.blob().size;
  r.arena_bytes = net.arena_bytes();
  r.max_batch = Network::kMaxBatch;
  for (const LayerInfo& l : layers) {
    r.layer_shapes.emplace_back(l.in_size, l.out_size);
    r.macs += l.macs();
    if (PairedOnX86(l)) r.paired_macs += l.macs();
    r.weight_bytes += l.weight_bytes();
  }
  r.weight_level = CacheLevelFor(static_cast<size_t>(r.weight_bytes));
  r.cpu = CpuInfo("model name");
  r.cpu_mhz_nominal = std::atof(CpuInfo("cpu MHz").c_str());
  r.ghz = MeasuredGhz();  // the nominal MHz of a VM says little
  r.chosen_target = KernelName(ChosenTarget());  // the row Predict runs: "AVX2+vnni"
  r.caches = Caches();
  r.calls = per_round * o.rounds;
  r.rounds = o.rounds;
  r.batched_images = batched_images;
  r.test_images = test_count;
  // What one timed call adds: included in every batch-1 and per-layer time.
  std::vector<double> timer_ns;
  for (int i = 0; i < 1000; ++i) timer_ns.push_back(NsSince(Clock::now()));
  r.timer_overhead_ns = Median(timer_ns);

  // Limits on this core: the int8 compute bound at the best target's peak
  // (VNNI where the CPU has it; a target the CPU lacks is never run), and
  // batch 1 re-reading every weight byte from where it lives at the
  // measured rate. The f32 FMA peak bounds the Eigen baseline, whose
  // matrix-vector products read 4 bytes per MAC.
  r.peaks = peaks.instructions();
  for (const Samples& e : engines) {
    if (e.kind == Kind::kTarget)
      r.vnni_peak = std::max(r.vnni_peak,
                             peaks.TargetMacsPerNs(e.target, e.dot_product &&
                                                                 HasDotProductKernels(e.target)));
  }
  r.f32_peak = peaks.F32MacsPerNs();
  r.compute_bound_ns = r.vnni_peak > 0 ? r.macs / r.vnni_peak : 0;
  r.read_bytes_per_ns = MeasuredReadBytesPerNs(static_cast<size_t>(r.weight_bytes));
  r.read_bound_ns = r.weight_bytes / r.read_bytes_per_ns;
  r.f32_bytes = 4.0 * r.macs;
  r.f32_level = CacheLevelFor(static_cast<size_t>(r.f32_bytes));
  r.f32_read_bound_ns = r.f32_bytes / MeasuredReadBytesPerNs(static_cast<size_t>(r.f32_bytes));
  Summarize(engines, peaks, &r);
  return r;
}

}  // namespace edgemlp::cli
