#!/usr/bin/env bash
# `meson test --benchmark -C build` runs this: trains the given architecture
# once (cached next to the binary), exports int8, runs `edgemlp bench`.
# Usage: tools/scripts/bench.sh PATH/TO/edgemlp [ARCH] [bench options...]
#        (MNIST from $EDGEMLP_DATA, else data/mnist)
set -euo pipefail
edgemlp=$1
arch=${2:-784-256-128-10}
shift $(( $# >= 2 ? 2 : 1 ))
dir=$(cd "$(dirname "$edgemlp")" && pwd)/bench-models
mkdir -p "$dir"
model=$dir/$arch.bin
if [ ! -f "$dir/$arch.q8" ]; then
  echo "== train $arch (cached in $dir)" >&2
  "$edgemlp" train --arch "$arch" --seed 1 --out "$model" >&2
  "$edgemlp" export "$model" --quant int8 --out "$dir/$arch.q8" >&2
fi
exec "$edgemlp" bench "$dir/$arch.q8" "$@"
