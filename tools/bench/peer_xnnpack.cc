// XNNPACK peer. Its 2022 fully_connected_nc_qs8 takes one weight scale per
// tensor; the blob has one per row, so each layer is XNNPACK's per-channel
// int8 operator, a 1x1 convolution2d_nhwc_qc8 over `batch` pixels (the
// same GEMM microkernels as its fully-connected operator). Activations are
// s8 with zero point -128 (u8 - 128), so the accumulators are the
// reference's; requantization is XNNPACK's own (fp32 scale), and the last
// layer outputs int8 logits scaled to the reference's logit range.
#include <cpuinfo.h>
#include <xnnpack.h>

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>

#include "bench/peers.h"

namespace edgemlp::cli {

namespace {

void Check(xnn_status status, const char* what) {
  if (status != xnn_status_success) {
    throw std::runtime_error(std::string("xnnpack: ") + what + " failed (status " +
                             std::to_string(static_cast<int>(status)) + ")");
  }
}

// EDGEMLP_XNNPACK_MAX_ISA=AVX2 or SSE4_1 holds XNNPACK to that ISA, as
// DNNL_MAX_CPU_ISA does oneDNN, so an AVX-512 machine also shows the
// kernels XNNPACK runs on AVX2-only and older x86. XNNPACK has no such
// switch: it picks its microkernels once, in xnn_initialize, from cpuinfo's
// ISA flags, which are cleared here first (cpuinfo initializes once, so
// XNNPACK reads the same, cleared, table). Returns what the row says.
std::string HoldIsa() {
  const char* env = std::getenv("EDGEMLP_XNNPACK_MAX_ISA");
  const std::string isa = env != nullptr ? env : "";
  if (isa.empty()) return "its own choice";
  if (isa != "AVX2" && isa != "SSE4_1") {
    throw std::runtime_error("EDGEMLP_XNNPACK_MAX_ISA=" + isa + ": expected AVX2 or SSE4_1");
  }
  if (!cpuinfo_initialize()) throw std::runtime_error("xnnpack: cpuinfo_initialize failed");
  cpuinfo_x86_isa& f = cpuinfo_isa;
  f.avx512f = f.avx512pf = f.avx512er = f.avx512cd = f.avx512dq = f.avx512bw = f.avx512vl = false;
  f.avx512ifma = f.avx512vbmi = f.avx512vbmi2 = f.avx512bitalg = f.avx512vpopcntdq = false;
  f.avx512vnni = f.avx512bf16 = f.avx512vp2intersect = f.avx512_4vnniw = f.avx512_4fmaps = false;
  if (isa == "SSE4_1") f.avx = f.avx2 = f.fma3 = f.fma4 = f.xop = f.f16c = f.sse4_2 = false;
  return "held to " + isa + " (EDGEMLP_XNNPACK_MAX_ISA)";
}

class XnnpackPeer : public Peer {
 public:
  XnnpackPeer(const std::vector<PeerLayer>& layers, size_t max_batch, float max_abs_logit)
      : layers_(layers), max_batch_(max_batch), isa_(HoldIsa()) {
    Check(xnn_initialize(nullptr), "xnn_initialize");
    for (const PeerLayer& l : layers_) {
      // Hidden layers: u8 activations as s8 (zero point -128), ReLU is the
      // clamp at -128. Last layer: int8 logits over the reference's range.
      const bool last = l.last;
      const float out_scale = last ? std::max(max_abs_logit, 1e-6f) / 127 : l.out_scale;
      const int8_t out_zero = last ? 0 : -128;
      const int8_t out_min = last && !l.relu ? -127 : out_zero;
      xnn_operator_t op = nullptr;
      Check(xnn_create_convolution2d_nhwc_qc8(
                0, 0, 0, 0, 1, 1, 1, 1, 1, 1, /*groups=*/1, l.in_size, l.out_size, l.in_size,
                l.out_size, /*input_zero_point=*/-128, l.in_scale, l.weight_scale.data(),
                l.weights.data(), l.bias.data(), out_zero, out_scale, out_min, 127, 0, &op),
            "xnn_create_convolution2d_nhwc_qc8");
      ops_.push_back(op);
    }
  }
  ~XnnpackPeer() override {
    for (xnn_operator_t op : ops_) xnn_delete_operator(op);
    xnn_deinitialize();
  }

  std::string Name() const override { return "xnnpack"; }
  std::string Isa() const override {
    return isa_ + "; microkernel not reported (qc8 GEMM, 1 thread)";
  }

  void Predict(const uint8_t* pixels, size_t count) override {
    if (count > max_batch_) throw std::runtime_error("xnnpack: batch above its maximum");
    Net& net = NetFor(count);
    int8_t* in = net.acts[0].data();
    for (size_t i = 0; i < count * layers_[0].in_size; ++i) {
      in[i] = static_cast<int8_t>(pixels[i] ^ 0x80);  // u8 p -> s8 p - 128
    }
    for (xnn_operator_t op : ops_) Check(xnn_run_operator(op, nullptr), "xnn_run_operator");
    last_ = &net;
  }

  int Class(size_t n) const override {
    const size_t out = layers_.back().out_size;
    return ArgMax(last_->acts.back().data() + n * out, out);
  }

  std::string CheckFirstLayer(const Network& net, const uint8_t* pixels, size_t count,
                              std::string* checked) override {
    if (layers_.size() < 2) {
      *checked = "single layer: predictions only";
      return "";
    }
    // XNNPACK outputs requantized activations only: they must equal the
    // reference's u8 outputs within 1 (fp32 vs fixed-point rounding).
    Predict(pixels, count);
    std::vector<uint8_t> want(count * layers_[0].out_size);
    ReferenceLayerU8(net, 0, pixels, count, want.data());
    const int8_t* got = last_->acts[1].data();
    for (size_t i = 0; i < want.size(); ++i) {
      const int v = got[i] + 128;
      if (std::abs(v - want[i]) > 1) {
        return "image " + std::to_string(i / layers_[0].out_size) + " row " +
               std::to_string(i % layers_[0].out_size) + ": u8 activation " + std::to_string(v) +
               ", reference " + std::to_string(want[i]);
      }
      exact_ += v == want[i];
    }
    compared_ += want.size();
    char pct[32];
    std::snprintf(pct, sizeof(pct), "%.3f%%", 100.0 * exact_ / compared_);
    *checked = std::string("layer-1 u8 activations: within 1 of the reference, ") + pct + " exact";
    return "";
  }

 private:
  struct Net {
    std::vector<std::vector<int8_t>> acts;  // acts[i]: input of layer i; back(): logits
  };

  // Operators are set up for one batch size and buffers; one Net per size.
  // Setup is repeated when the size changes (cheap: no weight repacking).
  Net& NetFor(size_t count) {
    Net& net = nets_[count];
    if (net.acts.empty()) {
      net.acts.emplace_back(count * layers_[0].in_size);
      for (const PeerLayer& l : layers_) net.acts.emplace_back(count * l.out_size);
    }
    if (set_up_for_ != count) {
      for (size_t i = 0; i < ops_.size(); ++i) {
        Check(xnn_setup_convolution2d_nhwc_qc8(ops_[i], count, 1, 1, net.acts[i].data(),
                                               net.acts[i + 1].data(), nullptr),
              "xnn_setup_convolution2d_nhwc_qc8");
      }
      set_up_for_ = count;
    }
    return net;
  }

  std::vector<PeerLayer> layers_;
  size_t max_batch_;
  std::string isa_;
  std::vector<xnn_operator_t> ops_;
  std::map<size_t, Net> nets_;
  size_t set_up_for_ = 0;
  size_t exact_ = 0, compared_ = 0;  // first-layer check, over all calls
  const Net* last_ = nullptr;
};

}  // namespace

std::unique_ptr<Peer> MakeXnnpackPeer(const std::vector<PeerLayer>& layers, size_t max_batch,
                                      float max_abs_logit) {
  return std::make_unique<XnnpackPeer>(layers, max_batch, max_abs_logit);
}

}  // namespace edgemlp::cli
