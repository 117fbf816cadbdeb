// Peers of `edgemlp bench` (-Dbench_peers=enabled): oneDNN and XNNPACK run
// the same int8 network (the blob's weights, biases and scales) in the same
// process. Each is verified against the scalar reference before it is timed.
#ifndef EDGEMLP_TOOLS_BENCH_PEERS_H_
#define EDGEMLP_TOOLS_BENCH_PEERS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgemlp/introspect.h"
#include "edgemlp/runtime.h"

namespace edgemlp::cli {

// One int8 layer as the libraries take it: compact rows (no padding).
struct PeerLayer {
  uint32_t in_size, out_size;
  bool relu, last;
  std::vector<int8_t> weights;  // out_size x in_size
  std::vector<int32_t> bias;    // at scale in_scale * weight_scale[row]
  std::vector<float> weight_scale;
  std::vector<float> multiplier;  // the runtime's requantization, multiplier * 2^-shift
  float in_scale, out_scale;
};
// Throws InputError if a layer is not int8 (the peers take int8 only).
std::vector<PeerLayer> PeerLayers(const Network& net);

class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string Name() const = 0;
  // The ISA / kernels the library chose on this CPU, as far as it says.
  virtual std::string Isa() const = 0;
  // Runs `count` images (<= the max batch it was made for), back to back.
  virtual void Predict(const uint8_t* pixels, size_t count) = 0;
  // The class of image n of the last Predict.
  virtual int Class(size_t n) const = 0;
  // Compares the first layer's outputs with the reference on `count`
  // images (<= max batch): "" if they agree as the library's arithmetic
  // promises, else what differs. *checked says what was compared (over
  // every call so far).
  virtual std::string CheckFirstLayer(const Network& net, const uint8_t* pixels, size_t count,
                                      std::string* checked) = 0;
};

struct PeerSlot {
  std::string name;
  std::unique_ptr<Peer> peer;  // null if it could not be built or failed verification
  std::string error;           // why it is not timed
  std::string checked;         // what the first-layer check compared
  double agreement = 0;        // fraction of predictions equal to the reference's
};

// A peer is timed only if its first layer matches (see CheckFirstLayer) and
// its classes equal the reference's on at least this fraction of the test
// images (the libraries requantize in float, so a rounding may differ).
inline constexpr double kMinPeerAgreement = 0.995;
inline constexpr size_t kFirstLayerCheckImages = 1024;

// Verifies every built peer on `count` images (pixels back to back) against
// the reference classes; a peer that fails loses `peer` and gets `error`.
void VerifyPeers(const Network& net, const uint8_t* pixels, size_t count,
                 const std::vector<int>& reference_class, size_t max_batch,
                 std::vector<PeerSlot>* slots);

// Every compiled peer. max_abs_logit: the largest |real logit| of the
// reference on the bench images (XNNPACK's last layer outputs int8 and
// needs a range).
std::vector<PeerSlot> MakePeers(const Network& net, size_t max_batch, float max_abs_logit);

// Factories, one per library (bench_peer_*.cc).
std::unique_ptr<Peer> MakeOneDnnPeer(const std::vector<PeerLayer>& layers, size_t max_batch);
std::unique_ptr<Peer> MakeXnnpackPeer(const std::vector<PeerLayer>& layers, size_t max_batch,
                                      float max_abs_logit);

template <class T>
int ArgMax(const T* v, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i) best = v[i] > v[best] ? i : best;
  return static_cast<int>(best);
}

}  // namespace edgemlp::cli

#endif  // EDGEMLP_TOOLS_BENCH_PEERS_H_
