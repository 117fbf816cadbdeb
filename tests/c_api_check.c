/* Uses the C API from C (compiled as C): checks a blob file against the
 * expected logits computed by the C++ runtime. Returns 0 or a failure line
 * number, with a message in `why`. Called by c_api_test.cc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgemlp/edgemlp.h"

#define EXPECT(cond)                                        \
  do {                                                      \
    if (!(cond)) {                                          \
      snprintf(why, why_size, "%s failed", #cond);          \
      edgemlp_free(net);                                    \
      free(logits);                                         \
      free(classes);                                        \
      return __LINE__;                                      \
    }                                                       \
  } while (0)

int edgemlp_c_api_check(const char* blob_path, const char* missing_path,
                        const uint8_t* pixels, size_t count,
                        const int32_t* want_logits, char* why,
                        size_t why_size) {
  edgemlp_network* net = NULL;
  int32_t* logits = NULL;
  int* classes = NULL;

  EXPECT(edgemlp_load_file(missing_path) == NULL);
  EXPECT(strstr(edgemlp_last_error(), missing_path) != NULL);

  net = edgemlp_load_file(blob_path);
  EXPECT(net != NULL);
  EXPECT(edgemlp_last_error()[0] == '\0');
  EXPECT(edgemlp_arena_bytes(net) > 0);
  EXPECT(edgemlp_max_batch() > 0);
  EXPECT(edgemlp_logit_scale(net) > 0.0f);
  const size_t in = edgemlp_input_size(net);
  const size_t out = edgemlp_output_size(net);
  logits = (int32_t*)calloc(count * out, sizeof(int32_t));
  classes = (int*)calloc(count, sizeof(int));
  EXPECT(logits != NULL && classes != NULL);

  for (size_t i = 0; i < count; ++i) {
    const int cls = edgemlp_predict(net, pixels + i * in, logits);
    EXPECT(memcmp(logits, want_logits + i * out, out * sizeof(int32_t)) == 0);
    for (size_t k = 0; k < out; ++k) EXPECT(logits[cls] >= logits[k]);
  }
  edgemlp_predict_batch(net, pixels, count, logits, classes);
  EXPECT(memcmp(logits, want_logits, count * out * sizeof(int32_t)) == 0);
  for (size_t i = 0; i < count; ++i) {
    for (size_t k = 0; k < out; ++k) {
      EXPECT(logits[i * out + (size_t)classes[i]] >= logits[i * out + k]);
    }
  }
  edgemlp_free(net);
  free(logits);
  free(classes);
  return 0;
}
