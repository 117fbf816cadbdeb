// libFuzzer target: the CSV feature reader (header detection, quotes,
// scikit-learn's first line, label columns, numbers). Only InputError may
// leave it.
#include <string>

#include "dataset.h"
#include "error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  for (const char* column : {"", "last", "2", "label"}) {
    try {
      const edgemlp::FeatureSet d = edgemlp::ParseCsv(text, size, "fuzz.csv", column);
      edgemlp::RequireEveryClass(d, "fuzz.csv");
      // The transform and split must take whatever the reader accepts.
      std::vector<size_t> train, test;
      edgemlp::SplitHeldOut(d.labels, d.classes, 0.2, 1, &train, &test);
      const edgemlp::FloatInputTransform t = edgemlp::ChooseFeatureTransform(d, train);
      edgemlp::QuantizeRows(d, test, t, d.classes);
    } catch (const edgemlp::InputError&) {
    }
  }
  return 0;
}
