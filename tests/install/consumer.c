/* A C program outside the tree, built against an installed edgemlp with
 * only `pkg-config --cflags --libs edgemlp` (tests/install_test.py).
 * Usage: consumer BLOB FRAMES PREDICTIONS LOGITS
 * Classifies each input_size-byte frame of FRAMES one at a time
 * (edgemlp_predict) and writes one class byte per frame to PREDICTIONS and
 * the int32 logits to LOGITS: the bytes whose SHA-256 `edgemlp eval --json`
 * prints as predictions_sha256 and outputs_sha256. */
#include <edgemlp/edgemlp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s BLOB FRAMES PREDICTIONS LOGITS\n", argv[0]);
    return 2;
  }
  edgemlp_network* net = edgemlp_load_file(argv[1]);
  if (!net) {
    fprintf(stderr, "%s: %s\n", argv[1], edgemlp_last_error());
    return 3;
  }
  const size_t in = edgemlp_input_size(net), out = edgemlp_output_size(net);
  FILE* frames = fopen(argv[2], "rb");
  FILE* predictions = fopen(argv[3], "wb");
  FILE* logits_file = fopen(argv[4], "wb");
  uint8_t* pixels = malloc(in);
  int32_t* logits = malloc(out * sizeof *logits);
  if (!frames || !predictions || !logits_file || !pixels || !logits) {
    perror("consumer");
    return 1;
  }
  size_t count = 0;
  while (fread(pixels, 1, in, frames) == in) {
    const unsigned char digit = (unsigned char)edgemlp_predict(net, pixels, logits);
    fwrite(&digit, 1, 1, predictions);
    fwrite(logits, sizeof *logits, out, logits_file);
    ++count;
  }
  printf("%zu frames, %zu inputs, %zu outputs\n", count, in, out);
  free(pixels);
  free(logits);
  edgemlp_free(net);
  return fclose(frames) | fclose(predictions) | fclose(logits_file) ? 1 : 0;
}
