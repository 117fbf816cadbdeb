/* The edgemlp C API, for C firmware and other languages' FFIs. A thin layer
 * over edgemlp::Network (runtime.h) with the same contract: loading is the
 * only step that allocates or can fail; after it, predictions cannot fail
 * and allocate nothing. One network serves one thread at a time. */
#ifndef EDGEMLP_EDGEMLP_H_
#define EDGEMLP_EDGEMLP_H_

#include <stddef.h>
#include <stdint.h>

#include "edgemlp/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edgemlp_network edgemlp_network;

/* Validates an int8 blob in memory. The caller keeps `bytes` alive and
 * unchanged until edgemlp_free (zero-copy); `bytes` must be 8-byte aligned.
 * Returns NULL on failure; edgemlp_last_error() then says why. */
EDGEMLP_API edgemlp_network* edgemlp_load(const uint8_t* bytes, size_t size);
/* Reads and validates a blob file; the network owns the bytes. */
EDGEMLP_API edgemlp_network* edgemlp_load_file(const char* path);
/* Frees the network (NULL is allowed). */
EDGEMLP_API void edgemlp_free(edgemlp_network* net);

/* The message of this thread's last failed load ("" if none). */
EDGEMLP_API const char* edgemlp_last_error(void);

/* Per prediction: bytes per image, or float features for edgemlp_predict_float. */
EDGEMLP_API size_t edgemlp_input_size(const edgemlp_network* net);
/* The blob's input transform: 0 none, 1 affine (raw float features: use
 * edgemlp_predict_float), 2 area (a larger image, downsampled by the runtime). */
EDGEMLP_API int edgemlp_input_transform(const edgemlp_network* net);
EDGEMLP_API size_t edgemlp_output_size(const edgemlp_network* net);  /* logits per image */
/* real logit = int32 logit * edgemlp_logit_scale(net) */
EDGEMLP_API float edgemlp_logit_scale(const edgemlp_network* net);
/* Scratch bytes allocated at load; nothing is allocated afterwards. */
EDGEMLP_API size_t edgemlp_arena_bytes(const edgemlp_network* net);
/* Images per batched kernel pass (larger batches run in chunks of it). */
EDGEMLP_API size_t edgemlp_max_batch(void);

/* One image (input_size bytes) -> output_size logits; returns the class.
 * -1 on a blob with an affine transform (it takes floats): nothing written. */
EDGEMLP_API int edgemlp_predict(edgemlp_network* net, const uint8_t* pixels,
                                int32_t* logits);
/* Raw features (input_size floats) of a blob with an affine transform ->
 * output_size logits; returns the class, or -1 (nothing written) if a
 * feature is NaN or infinite, or if the blob has no affine transform. */
EDGEMLP_API int edgemlp_predict_float(edgemlp_network* net, const float* features,
                                      int32_t* logits);
/* `count` images back to back -> count x output_size logits and, unless
 * `classes` is NULL, count classes. Bit-identical to edgemlp_predict. On
 * an affine blob nothing is computed: every class is -1, logits untouched. */
EDGEMLP_API void edgemlp_predict_batch(edgemlp_network* net, const uint8_t* pixels,
                                       size_t count, int32_t* logits, int* classes);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* EDGEMLP_EDGEMLP_H_ */
