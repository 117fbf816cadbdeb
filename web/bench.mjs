// node bench.mjs BLOB DATA_DIR [--calls N] [--rounds R] [--json]
// Speed of the WebAssembly runtime under Node: the SIMD kernels (Highway's
// WASM target) and the scalar reference, interleaved round by round after
// a warm-up, on the MNIST test images. Batch 1: the median and p90 time per
// call, each sample the mean of a block of calls timed inside the module
// (Node's clock is fine, but a browser's is coarse, and one JavaScript call
// per timing would add its own cost). Batched: images/s at batch 1, 8, 64
// and 256 from the median time per call, as `edgemlp bench` reports them.
import v8 from 'node:v8';
import { InputError, copyIn, loadBlob, loadModule, readMnistTest, run } from './node-common.mjs';

// V8 compiles WebAssembly in tiers: a quick baseline first, optimized code
// later, in the background (late on a busy machine). Compile every function
// optimized up front, so that no sample runs baseline code.
v8.setFlagsFromString('--no-liftoff');

const kBatchSizes = [1, 8, 64, 256];
const kBlock = 20;  // calls per batch-1 timing sample
const kBatchImages = 64;  // images per batched timing sample (one call at batch 256)
const kBatchSamples = 9;  // batched samples per batch size, engine and round

function parseArgs(argv) {
  const o = { calls: 10000, rounds: 10, json: false, positional: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--calls' || a === '--rounds') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new InputError(`${a}: expected a positive integer`);
      o[a.slice(2)] = v;
    } else if (a.startsWith('--')) throw new InputError(`unknown option ${a}`);
    else o.positional.push(a);
  }
  if (o.positional.length !== 2) {
    process.stderr.write('usage: node bench.mjs BLOB DATA_DIR [--calls N] [--rounds R] [--json]\n');
    process.exit(2);
  }
  return o;
}

const quantile = (values, q) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

run(async () => {
  const o = parseArgs(process.argv.slice(2));
  const [blob, dir] = o.positional;
  const mod = await loadModule();
  const net = loadBlob(mod, blob);
  const test = readMnistTest(dir);
  if (mod._web_input_size(net) !== test.pixels) {
    throw new InputError(`${blob}: expects ${mod._web_input_size(net)} inputs, the images have ${test.pixels}`);
  }
  const images = copyIn(mod, test.images);
  const logits = mod._malloc(kBatchSizes.at(-1) * mod._web_output_size(net) * 4);
  const target = mod.UTF8ToString(mod._web_target());
  const engines = [{ name: target, reference: 0 }, { name: 'scalar-reference', reference: 1 }];
  for (const e of engines) {
    e.samples = [];
    e.batch = kBatchSizes.map(() => []);
    // Warm-up: every path that is timed.
    mod._web_time_batch1(net, images, test.count, 0, 1000, e.reference, logits);
    for (const size of kBatchSizes) mod._web_time_batch(net, images, size, 2, e.reference, logits);
  }
  const blocks = Math.max(1, Math.round(o.calls / kBlock / o.rounds));
  let next = 0;  // the test image the next block starts at
  for (let round = 0; round < o.rounds; ++round) {
    // Alternate which engine goes first, so neither always follows the other.
    const order = round % 2 ? [...engines].reverse() : engines;
    for (const e of order) {
      for (let b = 0; b < blocks; ++b) {
        const ms = mod._web_time_batch1(net, images, test.count, next, kBlock, e.reference, logits);
        e.samples.push(ms * 1e6 / kBlock);
        next = (next + kBlock) % test.count;
      }
      // Several short samples per size: a long one is more often cut by
      // another process on a busy machine.
      kBatchSizes.forEach((size, k) => {
        const reps = Math.max(1, Math.floor(kBatchImages / size));
        for (let sample = 0; sample < kBatchSamples; ++sample) {
          const first = images + ((next + sample * size) % (test.count - size)) * test.pixels;
          const ms = mod._web_time_batch(net, first, size, reps, e.reference, logits);
          e.batch[k].push(ms * 1e6 / reps);
        }
      });
    }
  }
  const reference = engines[1];
  const rows = engines.map((e) => ({
    engine: e.name,
    batch1_ns: quantile(e.samples, 0.5),
    batch1_p90_ns: quantile(e.samples, 0.9),
    images_per_s: kBatchSizes.map((size, k) => size * 1e9 / quantile(e.batch[k], 0.5)),
  }));
  for (const r of rows) r.speedup_vs_reference = quantile(reference.samples, 0.5) / r.batch1_ns;
  const report = { model: blob, target, node: process.version, calls: blocks * kBlock * o.rounds,
                   block_calls: kBlock, rounds: o.rounds, batch_sizes: kBatchSizes, engines: rows };
  if (o.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    let out = `${blob}: WebAssembly under Node ${process.version}, ${report.calls} batch-1 calls per ` +
              `engine in ${o.rounds} interleaved rounds (median of ${kBlock}-call blocks)\n` +
              'engine               batch-1    p90  x ref  images/s at batch ' + kBatchSizes.join(' / ') + '\n';
    for (const r of rows) {
      out += `${r.engine.padEnd(18)} ${(r.batch1_ns / 1000).toFixed(2).padStart(7)} us ` +
             `${(r.batch1_p90_ns / 1000).toFixed(2).padStart(6)} ${r.speedup_vs_reference.toFixed(1).padStart(5)}x  ` +
             r.images_per_s.map((v) => Math.round(v)).join(' / ') + '\n';
    }
    process.stdout.write(out);
  }
  mod._web_free(net);
});
