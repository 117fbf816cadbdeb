#!/usr/bin/env bash
# The WebAssembly runtime under Node beside native SSE4 on the same machine:
# `edgemlp bench` (its forced SSE4 row, and the scalar reference) and
# bench.mjs (WASM and the scalar reference compiled to WebAssembly), run
# alternately REPEATS times so that both see the same machine load; prints
# each run and the medians, with the WASM / SSE4 batch-1 ratio.
# Usage: tools/scripts/bench-web.sh EDGEMLP_CLI WEB_DIR [REPEATS]   (default 3)
#   WEB_DIR: a tools/build-web.sh folder; its model.q8 is timed.
set -euo pipefail
cli=$1 web=$2 repeats=${3:-3}
data=${EDGEMLP_DATA:-data/mnist}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$repeats"); do
  "$cli" bench "$web/model.q8" --data "$data" --json > "$work/native-$i.json" 2>/dev/null
  node "$web/bench.mjs" "$web/model.q8" "$data" --json > "$work/wasm-$i.json"
done
python3 - "$work" "$repeats" <<'PY'
import json, os, statistics, sys
work, repeats = sys.argv[1], int(sys.argv[2])
rows = []
for i in range(1, repeats + 1):
    native = json.load(open(os.path.join(work, f"native-{i}.json")))
    wasm = json.load(open(os.path.join(work, f"wasm-{i}.json")))
    sse4 = next(t for t in native["targets"] if t["target"] == "SSE4")
    w, ref = wasm["engines"]
    rows.append({"sse4_ns": sse4["batch1_ns"], "wasm_ns": w["batch1_ns"],
                 "native_ref_ns": native["scalar_reference_batch1_ns"], "wasm_ref_ns": ref["batch1_ns"],
                 "sse4_ips": [sse4["images_per_s"][str(b)] for b in (1, 8, 64, 256)],
                 "wasm_ips": w["images_per_s"], "wasm_ref_ips": ref["images_per_s"]})
    r = rows[-1]
    print(f"run {i}: batch 1: SSE4 {r['sse4_ns'] / 1e3:.2f} us, WASM {r['wasm_ns'] / 1e3:.2f} us "
          f"({r['wasm_ns'] / r['sse4_ns']:.2f}x); scalar reference native {r['native_ref_ns'] / 1e3:.1f} us, "
          f"WASM {r['wasm_ref_ns'] / 1e3:.1f} us")
med = lambda key, k=None: statistics.median(r[key] if k is None else r[key][k] for r in rows)
print(f"median of {repeats}: batch-1 SSE4 {med('sse4_ns') / 1e3:.2f} us, WASM {med('wasm_ns') / 1e3:.2f} us "
      f"= {med('wasm_ns') / med('sse4_ns'):.2f}x SSE4; scalar reference native {med('native_ref_ns') / 1e3:.1f} us, "
      f"WASM {med('wasm_ref_ns') / 1e3:.1f} us")
for name, key in (("SSE4", "sse4_ips"), ("WASM", "wasm_ips"), ("WASM scalar reference", "wasm_ref_ips")):
    print(f"images/s at batch 1/8/64/256, {name}: " + " / ".join(f"{med(key, k):,.0f}" for k in range(4)))
PY
