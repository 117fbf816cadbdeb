#!/usr/bin/env bash
# WebAssembly (called by tools/test.sh): builds the pad with
# tools/build-web.sh around a small model trained here, checks that
# `node eval.mjs` computes the same predictions_sha256, outputs_sha256 and
# accuracy as `edgemlp eval` on x86 (SIMD kernels, batched kernels and the
# scalar reference), the bench's output, a bad blob's error, then the pad in
# headless Chromium (tests/web_pad_test.py). The runtime's own suites
# (kernels, schemes, preprocess) run under Node in the WebAssembly build.
# Usage: tools/scripts/test-web.sh X86_BUILD_DIR    (needs $EDGEMLP_DATA, the x86 CLI)
#        EDGEMLP_WEB_CHROMIUM=0 leaves the browser out
set -euo pipefail
cd "$(dirname "$0")/../.."
x86=$1
browser=${EDGEMLP_WEB_CHROMIUM:-1}
extra=()
[ "$browser" = 1 ] && extra=(chromium chromium-driver python3-selenium)
tools/scripts/install-deps.sh emscripten nodejs "${extra[@]}" ||
  echo "test-web: could not install emscripten nodejs ${extra[*]}" >&2
if ! command -v emcc >/dev/null || ! command -v node >/dev/null; then
  echo "web: SKIPPED: emscripten and nodejs are not installed (tools/scripts/install-deps.sh emscripten nodejs)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cli=$x86/tools/edgemlp
"$cli" train --data "$EDGEMLP_DATA" --arch 784-256-128-10 --epochs 1 --seed 1 \
  --out "$work/model.bin" >/dev/null 2>&1
"$cli" export "$work/model.bin" --quant int8 --out "$work/model.q8" >/dev/null
"$cli" eval "$work/model.q8" --data "$EDGEMLP_DATA" --json > "$work/x86.json"
start=$SECONDS
EDGEMLP_WEB_MODEL=$work/model.q8 tools/build-web.sh "$work/web"
echo "   build: $((SECONDS - start)) s"
failed=0
# The runtime's kernel, scheme and preprocess suites, compiled to WebAssembly, under Node.
meson test -C build-wasm --print-errorlogs --logbase testlog-wasm > "$work/suites.log" 2>&1 ||
  { cat "$work/suites.log"; echo "FAIL: the WebAssembly suites"; failed=1; }
grep -E '^ *[0-9]+/[0-9]+ ' "$work/suites.log" || true

for mode in "" --batch --reference; do
  node "$work/web/eval.mjs" "$work/web/model.q8" "$EDGEMLP_DATA" $mode > "$work/wasm.json"
  python3 - "$work/x86.json" "$work/wasm.json" <<'PY' || failed=1
import json, sys
x86, wasm = (json.load(open(p)) for p in sys.argv[1:3])
problems = [k for k in ("predictions_sha256", "outputs_sha256") if wasm[k] != x86[k]]
if abs(wasm["accuracy"] - x86["accuracy"]) >= 1e-4 or wasm["count"] != 10000:
    problems.append("accuracy")
print(f"e2e wasm {wasm['engine']:20s} accuracy {wasm['accuracy']:.4f} "
      f"predictions {wasm['predictions_sha256'][:16]} outputs {wasm['outputs_sha256'][:16]} "
      + ("same as x86 " + x86["engine"] if not problems else "DIFFERENT from x86: " + ", ".join(problems)))
sys.exit(1 if problems else 0)
PY
done

# A damaged blob: exit code 3 and the loader's message naming the file.
head -c 4096 "$work/model.q8" > "$work/cut.q8"
status=0
node "$work/web/eval.mjs" "$work/cut.q8" "$EDGEMLP_DATA" > /dev/null 2> "$work/cut.err" || status=$?
if [ "$status" = 3 ] && grep -q "^$work/cut.q8: truncated" "$work/cut.err"; then
  echo "eval.mjs: a truncated blob is refused: $(cat "$work/cut.err")"
else
  echo "FAIL: eval.mjs on a truncated blob: exit $status, $(cat "$work/cut.err")"; failed=1
fi

# The bench's output contract (times under load mean little).
node "$work/web/bench.mjs" "$work/web/model.q8" "$EDGEMLP_DATA" --calls 2000 --rounds 4 --json \
  > "$work/bench.json" || failed=1
python3 - "$work/bench.json" <<'PY' || failed=1
import json, sys
r = json.load(open(sys.argv[1]))
names = [e["engine"] for e in r["engines"]]
ok = (names == ["WASM", "scalar-reference"] and r["calls"] == 2000 and
      all(e["batch1_ns"] > 0 and len(e["images_per_s"]) == 4 for e in r["engines"]))
wasm = r["engines"][0]
print(f"bench.mjs: WASM {wasm['batch1_ns'] / 1000:.2f} us batch 1, {wasm['speedup_vs_reference']:.1f}x the "
      f"scalar reference: {'contract ok' if ok else 'CONTRACT BROKEN: ' + json.dumps(r)}")
sys.exit(0 if ok else 1)
PY

if [ "$browser" = 1 ]; then
  start=$SECONDS
  # Debian's python3-selenium, also where another python3 comes first in PATH.
  py=python3
  python3 -c 'import selenium' 2>/dev/null || py=/usr/bin/python3
  "$py" tests/web_pad_test.py "$work/web" "$cli" || failed=1
  echo "   Chromium: $((SECONDS - start)) s"
else
  echo "web pad in Chromium: left out (EDGEMLP_WEB_CHROMIUM=0)"
fi
exit $failed
