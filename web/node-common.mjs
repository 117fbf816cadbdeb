// What eval.mjs and bench.mjs share under Node: the module, a blob loaded
// into it, and the MNIST test set read from IDX files (gzipped or plain),
// with errors that name the file and what was expected.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export class InputError extends Error {}

// The emscripten module (edgemlp.js, built with MODULARIZE + SINGLE_FILE).
export async function loadModule() {
  const require = createRequire(import.meta.url);
  return require('./edgemlp.js')();
}

// Copies bytes into the module's heap; the caller frees the pointer.
export function copyIn(mod, bytes) {
  const ptr = mod._malloc(Math.max(1, bytes.length));
  mod.HEAPU8.set(bytes, ptr);
  return ptr;
}

// The network handle of a blob file, or an InputError with the loader's message.
export function loadBlob(mod, file) {
  let bytes;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new InputError(`${file}: cannot read (${e.code || e.message})`);
  }
  const ptr = copyIn(mod, bytes);
  const net = mod._web_load(ptr, bytes.length);
  mod._free(ptr);
  if (!net) throw new InputError(`${file}: ${mod.UTF8ToString(mod._web_error())}`);
  return net;
}

function readIdx(dir, name, magic, dims) {
  const plain = path.join(dir, name);
  const file = existsSync(plain) ? plain : plain + '.gz';
  if (!existsSync(file)) {
    throw new InputError(`${plain}(.gz): missing; get MNIST with tools/scripts/fetch-mnist.sh`);
  }
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new InputError(`${file}: not a valid gzip file (${e.message})`);
    }
  }
  const header = 4 + 4 * dims;
  if (bytes.length < header) throw new InputError(`${file}: truncated: the file ends inside the header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const found = view.getUint32(0);
  if (found !== magic) {
    throw new InputError(`${file}: magic 0x${found.toString(16).padStart(8, '0')}, ` +
                         `expected 0x${magic.toString(16).padStart(8, '0')}`);
  }
  const shape = [];
  for (let i = 0; i < dims; ++i) shape.push(view.getUint32(4 + 4 * i));
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + size) {
    throw new InputError(`${file}: ${bytes.length - header} data bytes, the header declares ${size}`);
  }
  return { shape, data: bytes.subarray(header) };
}

// The 10,000 test images (count x rows*cols bytes) and labels of DATA_DIR.
export function readMnistTest(dir) {
  const images = readIdx(dir, 't10k-images-idx3-ubyte', 0x803, 3);
  const labels = readIdx(dir, 't10k-labels-idx1-ubyte', 0x801, 1);
  if (images.shape[0] !== labels.shape[0]) {
    throw new InputError(`${dir}: ${images.shape[0]} test images but ${labels.shape[0]} labels`);
  }
  return { count: images.shape[0], pixels: images.shape[1] * images.shape[2],
           images: images.data, labels: labels.data };
}

// Runs main(); InputError -> exit 3 with its message, as the CLI does.
export function run(main) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof InputError ? '' : 'internal error: '}${e.message}\n`);
    process.exit(e instanceof InputError ? 3 : 1);
  });
}
