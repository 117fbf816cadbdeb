// libFuzzer target: the NumPy readers (.npy header dict, dtypes, shapes,
// byte counts; .npz through libzip). Only InputError may leave them.
#include "dataset.h"
#include "error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    edgemlp::ParseNpy(data, size, "fuzz.npy", "last");
  } catch (const edgemlp::InputError&) {
  }
  try {
    edgemlp::ParseNpz(data, size, "fuzz.npz");
  } catch (const edgemlp::InputError&) {
  }
  return 0;
}
