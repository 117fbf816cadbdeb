#!/usr/bin/env bash
# Builds the drawing pad and the WebAssembly runtime into one folder that can
# be copied to any web server or opened from file://: index.html, pad.js,
# pad.css, edgemlp.js (the module inlined), model.js (the default model in
# base64, so file:// needs no fetch), model.q8, eval.mjs, bench.mjs.
# Usage: tools/build-web.sh [--serve] [OUTDIR]     (default OUTDIR: build-web/)
#   --serve  then serve OUTDIR at http://127.0.0.1:${EDGEMLP_WEB_PORT:-8000}/
# The default model: $EDGEMLP_WEB_MODEL if set, else runs/default/model.q8
# (tools/demo.sh), else a quick one trained now (784-256-128-10, 2 epochs)
# into runs/web-quick/ with the native CLI (build/).
set -euo pipefail
serve=0
if [ "${1:-}" = --serve ]; then serve=1; shift; fi
out=$(realpath -m "${1:-$(dirname "$0")/../build-web}")
model=${EDGEMLP_WEB_MODEL:+$(realpath "$EDGEMLP_WEB_MODEL")}
cd "$(dirname "$0")/.."

tools/scripts/install-deps.sh emscripten nodejs
# emcc's optimizer runs under Node and needs acorn from Debian's node modules.
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
quiet() {  # runs a command, showing its output only if it fails
  local log
  log=$("$@" 2>&1) || { echo "$log" >&2; echo "build-web: failed: $*" >&2; return 1; }
}
reconfigure=()
[ -f build-wasm/build.ninja ] && reconfigure=(--reconfigure)
quiet meson setup "${reconfigure[@]}" build-wasm --cross-file cross/wasm.txt -Dwerror=true
quiet meson compile -C build-wasm

if [ -z "$model" ] && [ -f runs/default/model.q8 ]; then
  model=$PWD/runs/default/model.q8
fi
if [ -z "$model" ]; then
  model=$PWD/runs/web-quick/model.q8
  if [ ! -f "$model" ]; then
    echo "build-web: no runs/default/model.q8 (tools/demo.sh makes it); training a quick model" >&2
    [ -f build/build.ninja ] || quiet meson setup build --buildtype=release
    quiet meson compile -C build tools/edgemlp
    export EDGEMLP_DATA=${EDGEMLP_DATA:-data/mnist}
    tools/scripts/fetch-mnist.sh "$EDGEMLP_DATA"
    mkdir -p runs/web-quick
    build/tools/edgemlp train --arch 784-256-128-10 --epochs 2 --seed 1 \
      --out runs/web-quick/model.bin >/dev/null
    build/tools/edgemlp export runs/web-quick/model.bin --quant int8 --out "$model" >/dev/null
  fi
fi

mkdir -p "$out"
cp build-wasm/web/edgemlp.js web/index.html web/pad.js web/pad.css web/eval.mjs \
  web/bench.mjs web/node-common.mjs "$out/"
cp "$model" "$out/model.q8"
{
  printf '// The default model (%s), for file:// pages that cannot fetch it.\n' "$(basename "$model")"
  printf 'window.EDGEMLP_DEFAULT_MODEL = {name: "model.q8", base64: "'
  base64 -w0 "$model"
  printf '"};\n'
} > "$out/model.js"
echo "build-web: $out (model: $model)" >&2

if [ "$serve" = 1 ]; then
  port=${EDGEMLP_WEB_PORT:-8000}
  echo "build-web: serving http://127.0.0.1:$port/ (Ctrl-C stops)" >&2
  exec python3 -m http.server --bind 127.0.0.1 --directory "$out" "$port"
fi
