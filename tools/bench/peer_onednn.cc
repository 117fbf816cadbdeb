// oneDNN peer: one inner product per layer, u8 activations x s8 weights +
// s32 bias, per-row output scales (the runtime's requantization multiplier)
// and a ReLU post-op to u8 on hidden layers, s32 logits on the last.
#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <set>
#include <stdexcept>

#include "bench/peers.h"

namespace edgemlp::cli {

namespace {

using dnnl::inner_product_forward;
using dnnl::memory;
using Tag = memory::format_tag;
using Type = memory::data_type;

class OneDnnPeer : public Peer {
 public:
  OneDnnPeer(const std::vector<PeerLayer>& layers, size_t max_batch)
      : layers_(layers), max_batch_(max_batch) {
    omp_set_num_threads(1);  // oneDNN's OpenMP runtime: one thread, like the others
  }

  std::string Name() const override { return "onednn"; }

  std::string Isa() const override {
    std::set<std::string> impls;
    for (const auto& [count, net] : nets_) impls.insert(net.impls.begin(), net.impls.end());
    std::string s = dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa());
    s += " (inner product:";
    for (const std::string& i : impls) s += " " + i;
    return s + ")";
  }

  void Predict(const uint8_t* pixels, size_t count) override {
    if (count > max_batch_) throw std::runtime_error("onednn: batch above its maximum");
    Net& net = NetFor(count);
    // oneDNN only reads its source: the pixels are used in place.
    net.acts[0].set_data_handle(const_cast<uint8_t*>(pixels));
    for (size_t i = 0; i < net.prims.size(); ++i) {
      net.prims[i].execute(stream_, {{DNNL_ARG_SRC, net.acts[i]},
                                     {DNNL_ARG_WEIGHTS, net.weights[i]},
                                     {DNNL_ARG_BIAS, net.bias[i]},
                                     {DNNL_ARG_DST, net.acts[i + 1]}});
    }
    stream_.wait();
    last_ = &net;
  }

  int Class(size_t n) const override {
    const size_t out = layers_.back().out_size;
    return ArgMax(static_cast<const int32_t*>(last_->acts.back().get_data_handle()) + n * out, out);
  }

  std::string CheckFirstLayer(const Network& net, const uint8_t* pixels, size_t count,
                              std::string* checked) override {
    // Layer 1 alone with s32 output and no scales: the accumulators, which
    // integer arithmetic must reproduce exactly.
    const PeerLayer& l = layers_[0];
    const dim n = static_cast<dim>(count);
    Net raw;
    AddLayer(&raw, l, n, Type::s32, /*requantize=*/false);
    raw.acts[0].set_data_handle(const_cast<uint8_t*>(pixels));
    raw.prims[0].execute(stream_, {{DNNL_ARG_SRC, raw.acts[0]},
                                   {DNNL_ARG_WEIGHTS, raw.weights[0]},
                                   {DNNL_ARG_BIAS, raw.bias[0]},
                                   {DNNL_ARG_DST, raw.acts[1]}});
    stream_.wait();
    const int32_t* got = static_cast<const int32_t*>(raw.acts[1].get_data_handle());
    std::vector<int32_t> want(count * l.out_size);
    ReferenceAccumulators(net, 0, pixels, count, want.data());
    *checked = "layer-1 int32 accumulators (" + *raw.impls.begin() + "): exact";
    for (size_t i = 0; i < want.size(); ++i) {
      if (got[i] != want[i]) {
        return "image " + std::to_string(i / l.out_size) + " row " +
               std::to_string(i % l.out_size) + ": accumulator " + std::to_string(got[i]) +
               ", reference " + std::to_string(want[i]);
      }
    }
    return "";
  }

 private:
  using dim = memory::dim;
  struct Net {
    std::vector<inner_product_forward> prims;
    std::vector<memory> weights, bias;
    std::vector<memory> acts;     // acts[i]: input of layer i; back(): logits
    std::set<std::string> impls;  // what oneDNN chose, e.g. brg:avx512_core_vnni
  };

  // Primitives are built for one batch size: one Net per size, on first use.
  Net& NetFor(size_t count) {
    auto it = nets_.find(count);
    if (it != nets_.end()) return it->second;
    Net& net = nets_[count];
    for (const PeerLayer& l : layers_) {
      AddLayer(&net, l, static_cast<dim>(count), l.last ? Type::s32 : Type::u8, true);
    }
    return net;
  }

  void AddLayer(Net* net, const PeerLayer& l, dim n, Type dst_type, bool requantize) {
    const dim in = l.in_size, out = l.out_size;
    const memory::desc src_md({n, in}, Type::u8, Tag::nc);
    const memory::desc any_weights({out, in}, Type::s8, Tag::any);
    const memory::desc bias_md({out}, Type::s32, Tag::x);
    const memory::desc dst_md({n, out}, dst_type, Tag::nc);
    dnnl::primitive_attr attr;
    if (requantize) {
      attr.set_output_scales(1 << 1, l.multiplier);  // per output row
      if (l.relu || !l.last) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        attr.set_post_ops(ops);
      }
    }
    const inner_product_forward::primitive_desc pd(
        inner_product_forward::desc(dnnl::prop_kind::forward_inference, src_md, any_weights,
                                    bias_md, dst_md),
        attr, engine_);
    // The weights in the layout the primitive chose, reordered once.
    memory user_weights({{out, in}, Type::s8, Tag::oi}, engine_,
                        const_cast<int8_t*>(l.weights.data()));
    memory weights(pd.weights_desc(), engine_);
    dnnl::reorder(user_weights, weights).execute(stream_, user_weights, weights);
    memory bias(bias_md, engine_);
    std::copy(l.bias.begin(), l.bias.end(), static_cast<int32_t*>(bias.get_data_handle()));
    stream_.wait();
    if (net->acts.empty()) net->acts.emplace_back(src_md, engine_);
    net->acts.emplace_back(dst_md, engine_);
    net->prims.emplace_back(pd);
    net->weights.push_back(weights);
    net->bias.push_back(bias);
    net->impls.insert(pd.impl_info_str());
  }

  std::vector<PeerLayer> layers_;
  size_t max_batch_;
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  std::map<size_t, Net> nets_;
  const Net* last_ = nullptr;
};

}  // namespace

std::unique_ptr<Peer> MakeOneDnnPeer(const std::vector<PeerLayer>& layers, size_t max_batch) {
  return std::make_unique<OneDnnPeer>(layers, max_batch);
}

}  // namespace edgemlp::cli
