// libFuzzer target: the PGM/PNG reader of `edgemlp predict`, at the model's
// size and at a size that forces scaling.
#include "error.h"
#include "image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int side : {28, 5}) {
    try {
      edgemlp::DecodeImage(data, size, "fuzz", side, side);
    } catch (const edgemlp::InputError&) {
    }
  }
  return 0;
}
