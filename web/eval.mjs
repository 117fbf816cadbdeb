// node eval.mjs BLOB DATA_DIR [--reference | --batch]
// The WebAssembly runtime over the MNIST test set in DATA_DIR: one JSON
// object on stdout whose accuracy, predictions_sha256 and outputs_sha256 are
// computed as `edgemlp eval --json` computes them (one predicted class byte
// per image; each image's int32 logits, little-endian, back to back), so the
// two prove they computed the same thing. --reference: the scalar reference
// forward pass; --batch: the batched kernels (same results, bit for bit).
import { createHash } from 'node:crypto';
import { InputError, copyIn, loadBlob, loadModule, readMnistTest, run } from './node-common.mjs';

const usage = 'usage: node eval.mjs BLOB DATA_DIR [--reference | --batch]';

run(async () => {
  const args = process.argv.slice(2);
  const flags = args.filter((a) => a.startsWith('--'));
  const [blob, dir] = args.filter((a) => !a.startsWith('--'));
  if (!blob || !dir || args.length - flags.length !== 2 || flags.length > 1 ||
      flags.some((f) => f !== '--reference' && f !== '--batch')) {
    process.stderr.write(usage + '\n');
    process.exit(2);
  }
  const mode = flags[0] || '';
  const mod = await loadModule();
  const net = loadBlob(mod, blob);
  const test = readMnistTest(dir);
  if (mod._web_input_size(net) !== test.pixels) {
    throw new InputError(`${blob}: expects ${mod._web_input_size(net)} inputs but the images in ` +
                         `${dir} have ${test.pixels} pixels`);
  }
  const outputs = mod._web_output_size(net);
  const images = copyIn(mod, test.images);
  const logits = mod._malloc(test.count * outputs * 4);
  const classes = mod._malloc(test.count);
  const start = performance.now();
  if (mode === '--batch') {
    mod._web_predict_batch(net, images, test.count, logits, classes);
  } else {
    mod._web_predict_each(net, images, test.count, mode === '--reference' ? 1 : 0, logits, classes);
  }
  const seconds = (performance.now() - start) / 1000;
  // Views after the calls: a grown heap replaces the buffer.
  const predictions = mod.HEAPU8.slice(classes, classes + test.count);
  const outputBytes = mod.HEAPU8.slice(logits, logits + test.count * outputs * 4);
  let correct = 0;
  for (let i = 0; i < test.count; ++i) correct += predictions[i] === test.labels[i] ? 1 : 0;
  const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
  const engine = mode === '--reference' ? 'scalar-reference' : mod.UTF8ToString(mod._web_target());
  process.stdout.write(JSON.stringify({
    model: blob,
    engine: engine + (mode === '--batch' ? ' (batched)' : ''),
    accuracy: correct / test.count,
    count: test.count,
    correct,
    predictions_sha256: sha256(predictions),
    outputs_sha256: sha256(outputBytes),
    us_per_image: 1e6 * seconds / test.count,
  }) + '\n');
  mod._web_free(net);
});
