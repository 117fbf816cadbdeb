// A C++ program outside the tree, built against an installed edgemlp with
// only `pkg-config --cflags --libs edgemlp` (tests/install_test.py).
// Usage: consumer_cc BLOB FRAMES PREDICTIONS LOGITS
// Like consumer.c, through edgemlp::Network and one PredictBatch over all
// frames: the same bytes as edgemlp eval's predictions and outputs.
#include <edgemlp/runtime.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s BLOB FRAMES PREDICTIONS LOGITS\n", argv[0]);
    return 2;
  }
  edgemlp::Network net;
  const edgemlp::LoadResult loaded = edgemlp::Network::LoadFile(argv[1], &net);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s: %s (%s)\n", argv[1], loaded.message.c_str(),
                 edgemlp::StatusName(loaded.status));
    return 3;
  }
  std::ifstream in(argv[2], std::ios::binary);
  const std::vector<uint8_t> pixels{std::istreambuf_iterator<char>(in), {}};
  const size_t count = pixels.size() / net.input_size();
  std::vector<int32_t> logits(count * net.output_size());
  std::vector<int> classes(count);
  net.PredictBatch(pixels.data(), count, logits.data(), classes.data());
  const std::vector<uint8_t> digits(classes.begin(), classes.end());
  std::ofstream(argv[3], std::ios::binary)
      .write(reinterpret_cast<const char*>(digits.data()), static_cast<std::streamsize>(count));
  std::ofstream(argv[4], std::ios::binary)
      .write(reinterpret_cast<const char*>(logits.data()),
             static_cast<std::streamsize>(logits.size() * sizeof(int32_t)));
  std::printf("%zu frames on %s\n", count, edgemlp::TargetName(edgemlp::ChosenTarget()));
  return 0;
}
