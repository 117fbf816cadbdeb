#include "bench/peers.h"

#include <stdexcept>

#include <cmath>
#include <exception>

#include "error.h"

namespace edgemlp::cli {

std::vector<PeerLayer> PeerLayers(const Network& net) {
  std::vector<PeerLayer> out;
  for (size_t i = 0; i < net.layer_count(); ++i) {
    const LayerInfo q = GetLayer(net, i);
    if (q.weight_type != WeightType::kI8) {
      throw InputError("bench peers: layer " + std::to_string(i) +
                       " is not int8; oneDNN and XNNPACK run int8 blobs only");
    }
    PeerLayer l{q.in_size, q.out_size, q.relu, i + 1 == net.layer_count(), {}, {}, {}, {},
                q.in_scale, q.out_scale};
    for (uint32_t r = 0; r < q.out_size; ++r) {
      const int8_t* row = q.weights + size_t{r} * q.stride;
      l.weights.insert(l.weights.end(), row, row + q.in_size);
      l.bias.push_back(q.bias[r]);
      l.weight_scale.push_back(q.weight_scale[r]);
      l.multiplier.push_back(static_cast<float>(
          std::ldexp(static_cast<double>(q.requant[2 * r]), -q.requant[2 * r + 1])));
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::vector<PeerSlot> MakePeers(const Network& net, size_t max_batch, float max_abs_logit) {
  const std::vector<PeerLayer> layers = PeerLayers(net);
  std::vector<PeerSlot> slots;
  auto add = [&](const char* name, auto make) {
    PeerSlot slot;
    slot.name = name;
    try {
      // Peers take layer 0's input; the transform (format 1.2) is the runtime's.
      if (net.input_transform().kind != InputTransformKind::kNone) {
        throw std::runtime_error("not run on a blob with an input transform");
      }
      slot.peer = make();
    } catch (const std::exception& e) {
      slot.error = e.what();
    }
    slots.push_back(std::move(slot));
  };
  add("onednn", [&] { return MakeOneDnnPeer(layers, max_batch); });
  add("xnnpack", [&] { return MakeXnnpackPeer(layers, max_batch, max_abs_logit); });
  return slots;
}

void VerifyPeers(const Network& net, const uint8_t* pixels, size_t count,
                 const std::vector<int>& reference_class, size_t max_batch,
                 std::vector<PeerSlot>* slots) {
  const size_t in_size = net.input_size();
  for (PeerSlot& slot : *slots) {
    if (!slot.peer) continue;
    try {
      const size_t first_images = std::min(count, kFirstLayerCheckImages);
      for (size_t done = 0; done < first_images && slot.error.empty(); done += max_batch) {
        const size_t n = std::min(max_batch, first_images - done);
        slot.error = slot.peer->CheckFirstLayer(net, pixels + done * in_size, n, &slot.checked);
      }
      slot.checked += " (first " + std::to_string(first_images) + " test images)";
      size_t agree = 0;
      for (size_t done = 0; done < count; done += max_batch) {
        const size_t n = std::min(max_batch, count - done);
        slot.peer->Predict(pixels + done * in_size, n);
        for (size_t i = 0; i < n; ++i) agree += slot.peer->Class(i) == reference_class[done + i];
      }
      slot.agreement = static_cast<double>(agree) / count;
      if (slot.error.empty() && slot.agreement < kMinPeerAgreement) {
        char msg[128];
        std::snprintf(msg, sizeof(msg),
                      "classes agree with the reference on %.2f%% of %zu images (< %.1f%%)",
                      100 * slot.agreement, count, 100 * kMinPeerAgreement);
        slot.error = msg;
      }
    } catch (const std::exception& e) {
      slot.error = e.what();
    }
    if (!slot.error.empty()) slot.peer.reset();
  }
}

}  // namespace edgemlp::cli
