// Helper for tests/kill_test.py: a process that is busy writing with
// WriteFileAtomic when it is SIGKILLed.
//   atomic_writer loop PATH         rewrites PATH forever, alternating two
//                                   contents (1.5 MB of 'A', 2.5 MB of 'B')
//   atomic_writer once PATH         writes PATH once (1.5 MB of 'A')
//   atomic_writer model SEED PATH   writes a random 784-64-10 float model
#include <cstdio>
#include <cstdlib>
#include <string>

#include "atomic_file.h"
#include "test_util.h"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "loop" && argc == 3) {
    const std::string a(1500000, 'A'), b(2500000, 'B');
    for (unsigned long i = 0;; ++i) edgemlp::WriteFileAtomic(argv[2], i % 2 ? b : a);
  }
  if (mode == "once" && argc == 3) {
    edgemlp::WriteFileAtomic(argv[2], std::string(1500000, 'A'));
    return 0;
  }
  if (mode == "model" && argc == 4) {
    edgemlp::SaveFloatModel(edgemlp::test::RandomModel({784, 64, 10}, std::strtoull(argv[2], nullptr, 10)),
                            argv[3]);
    return 0;
  }
  std::fprintf(stderr, "usage: atomic_writer loop PATH | once PATH | model SEED PATH\n");
  return 2;
}
