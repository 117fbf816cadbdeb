#!/usr/bin/env bash
# Regenerates tests/data/golden_v1_0.bin (a blob in format v1.0) and
# golden_v1_0.json (what the v1.0 runtime predicted on the MNIST test set),
# by building the edgemlp of commit 73c15a7 (the last v1.0 writer) in a
# temporary directory. Deterministic: fixed seed, one thread.
# Usage: tests/data/make_golden_v1_0.sh [MNIST dir, default $EDGEMLP_DATA]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-${EDGEMLP_DATA:?set EDGEMLP_DATA or pass the MNIST directory}}
rev=73c15a7
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$rev" | tar -x -C "$tmp"
meson setup "$tmp/build" "$tmp" --buildtype=release -Dtests=disabled >/dev/null
meson compile -C "$tmp/build" -j 2 >/dev/null
old="$tmp/build/tools/edgemlp"
"$old" train --data "$data" --arch 784-32-10 --epochs 1 --seed 5 --threads 1 \
  --out "$tmp/float.bin" >/dev/null 2>&1
"$old" export "$tmp/float.bin" --out tests/data/golden_v1_0.bin >/dev/null
"$old" eval tests/data/golden_v1_0.bin --data "$data" --json |
  python3 -c 'import json,sys; j=json.load(sys.stdin); print(json.dumps({k: j[k] for k in
  ("accuracy", "correct", "predictions_sha256", "outputs_sha256")}, indent=1))' \
  > tests/data/golden_v1_0.json
echo "wrote tests/data/golden_v1_0.bin ($(stat -c %s tests/data/golden_v1_0.bin) bytes) and golden_v1_0.json"
