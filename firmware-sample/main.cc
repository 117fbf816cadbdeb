// edgemlp-firmware: the inference loop a board runs. Loads and validates an
// int8 blob once, then reads raw 784-byte frames from stdin and prints one
// line per frame: "digit probability latency_us". Runtime only; no heap
// allocation after start-up.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "edgemlp/runtime.h"

int main(int argc, char** argv) {
  const char* model = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
  }
  if (model == nullptr) {
    std::fprintf(stderr, "usage: edgemlp-firmware --model BLOB < frames\n"
                         "  frames: raw 784-byte images (MNIST layout) on stdin\n");
    return 2;
  }
  edgemlp::Network net;
  const edgemlp::LoadResult r = edgemlp::Network::LoadFile(model, &net);
  if (!r.ok()) {
    std::fprintf(stderr, "edgemlp-firmware: %s\n", r.message.c_str());
    return 3;
  }
  std::fprintf(stderr, "edgemlp-firmware: %s loaded, target %s, arena %zu bytes\n", model,
               edgemlp::TargetName(edgemlp::ChosenTarget()), net.arena_bytes());
  std::vector<uint8_t> frame(net.input_size());
  std::vector<int32_t> logits(net.output_size());
  std::vector<float> probs(net.output_size());
  unsigned long frames = 0;
  while (std::fread(frame.data(), 1, frame.size(), stdin) == frame.size()) {
    const auto t0 = std::chrono::steady_clock::now();
    const int digit = net.Predict(frame.data(), logits.data());
    const auto t1 = std::chrono::steady_clock::now();
    edgemlp::Softmax(logits.data(), logits.size(), net.logit_scale(), probs.data());
    std::printf("%d %.4f %.2f\n", digit, probs[digit],
                std::chrono::duration<double, std::micro>(t1 - t0).count());
    ++frames;
  }
  std::fprintf(stderr, "edgemlp-firmware: %lu frames\n", frames);
  return 0;
}
