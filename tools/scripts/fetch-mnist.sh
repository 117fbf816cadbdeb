#!/usr/bin/env bash
# Gets the four MNIST IDX files (gzipped) into DIR and verifies them against
# the SHA-256 sums in tools/scripts/mnist.sha256. Does nothing if they are already
# there and match. Usage: tools/scripts/fetch-mnist.sh [DIR]   (default data/mnist)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${EDGEMLP_DATA:-data/mnist}}
sums="$here/mnist.sha256"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
mirrors=(
  https://ossci-datasets.s3.amazonaws.com/mnist
  https://storage.googleapis.com/cvdf-datasets/mnist
  http://yann.lecun.com/exdb/mnist
)

expected() { awk -v f="$1" '$2 == f {print $1}' "$sums"; }

# A file is good if its plain or gzipped form matches the recorded digest.
good() {
  local name=$1
  for f in "$name" "$name.gz"; do
    [ -f "$dir/$f" ] || continue
    [ "$(sha256sum "$dir/$f" | cut -d' ' -f1)" = "$(expected "$f")" ] && return 0
    echo "fetch-mnist: $dir/$f does not match its SHA-256 in $sums" >&2
    return 2
  done
  return 1
}

need=()
for name in "${files[@]}"; do
  status=0
  good "$name" || status=$?
  [ $status -eq 2 ] && exit 1
  [ $status -eq 1 ] && need+=("$name")
done
[ ${#need[@]} -eq 0 ] && exit 0

mkdir -p "$dir"
for name in "${need[@]}"; do
  ok=0
  for m in "${mirrors[@]}"; do
    echo "fetch-mnist: $m/$name.gz" >&2
    tmp="$dir/.$name.gz.part"
    if curl -fsSL --retry 2 --connect-timeout 15 -o "$tmp" "$m/$name.gz" &&
       [ "$(sha256sum "$tmp" | cut -d' ' -f1)" = "$(expected "$name.gz")" ]; then
      mv "$tmp" "$dir/$name.gz"
      ok=1
      break
    fi
    rm -f "$tmp"
    echo "fetch-mnist: failed or wrong digest from $m" >&2
  done
  [ $ok -eq 1 ] || { echo "fetch-mnist: could not get $name.gz from any mirror" >&2; exit 1; }
done
echo "fetch-mnist: MNIST is in $dir (verified)" >&2
