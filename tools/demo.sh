#!/usr/bin/env bash
# The main job on the default model: build, get MNIST, train 784-256-128-10,
# export int8, evaluate float and int8, benchmark the SIMD targets, and
# write the run as one HTML page (report.html).
# Usage: tools/demo.sh      (MNIST from $EDGEMLP_DATA, else data/mnist;
#                           outputs in runs/default/)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/scripts/install-deps.sh
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build --buildtype=release >/dev/null
else
  meson setup build --buildtype=release >/dev/null
fi
meson compile -C build >/dev/null
export EDGEMLP_DATA=${EDGEMLP_DATA:-data/mnist}
tools/scripts/fetch-mnist.sh "$EDGEMLP_DATA"

edgemlp=build/tools/edgemlp
out=runs/default
mkdir -p "$out"
echo "== train 784-256-128-10 (15 epochs, Adam, batch 128)" >&2
$edgemlp train --arch 784-256-128-10 --epochs 15 --seed 1 --out "$out/model.bin" --plots "$out" \
  --json > "$out/train.json"
echo "== export int8" >&2
$edgemlp export "$out/model.bin" --quant int8 --out "$out/model.q8" --json > "$out/export.json"
echo "== evaluate float and int8 on the 10,000 test images" >&2
$edgemlp eval "$out/model.bin" --json > "$out/eval-float.json"
$edgemlp eval "$out/model.q8" --json > "$out/eval-int8.json"
echo "== benchmark every SIMD target (batch 1)" >&2
$edgemlp bench "$out/model.q8" --json > "$out/bench.json"
$edgemlp report "$out" --out "$out/report.html" >/dev/null

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
load = lambda name: json.load(open(os.path.join(out, name)))
train, f, q, b = load("train.json"), load("eval-float.json"), load("eval-int8.json"), load("bench.json")
print(f"model     {train['arch']}, {len(train['history'])} epochs in {train['seconds']:.1f} s "
      f"({train['seconds_per_epoch']:.2f} s per epoch, {train['threads']} threads)")
print(f"float     accuracy {100 * f['accuracy']:.2f}%  ({f['model_bytes']} bytes)")
print(f"int8      accuracy {100 * q['accuracy']:.2f}%  ({q['model_bytes']} bytes, "
      f"{q['accuracy'] - f['accuracy']:+.4f} vs float)")
chosen = next(t for t in b["targets"] if t["target"] == b["chosen_target"])
print(f"runtime   {chosen['batch1_ns'] / 1000:.2f} us per image on {b['chosen_target']} "
      f"(batch 1, median), scalar reference {b['scalar_reference_batch1_ns'] / 1000:.2f} us")
for t in b["targets"]:
    print(f"          {t['target']:<9} {t['batch1_ns'] / 1000:7.2f} us  p90 {t['batch1_p90_ns'] / 1000:7.2f} us  "
          f"{t['speedup_vs_reference']:5.1f}x the reference")
print(f"outputs   {out}/ (model.bin, model.q8, *.json, plots; the run as a page: report.html)")
PY
