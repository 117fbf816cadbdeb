#!/bin/sh
# The Raspberry Pi firmware binaries, static and stripped, from a Debian 12
# host (or the container in cross/Dockerfile):
#   out/pi/edgemlp-firmware-aarch64  64-bit OS: Zero 2 W, Pi 3, 4, 400, CM4, 5
#   out/pi/edgemlp-firmware-armhf    32-bit OS: Zero 2 W, Pi 2, 3, 4, 400, CM4
#   out/pi/edgemlp-firmware-pi5      64-bit OS, Pi 5 only (Cortex-A76 tuned)
# Usage: tools/scripts/build-pi.sh [OUT_DIR]   (docs/raspberry-pi.md)
set -eu
cd "$(dirname "$0")/../.."
out=${1:-out/pi}
mkdir -p "$out"

build() {  # build NAME STRIP CROSS_FILE...
  name=$1 strip=$2
  shift 2
  dir=build-pi-$name
  if [ ! -f "$dir/build.ninja" ]; then
    cross=""
    for f in "$@"; do cross="$cross --cross-file $f"; done
    # shellcheck disable=SC2086 # one word per cross file
    meson setup "$dir" --buildtype=release -Dtests=disabled $cross
  fi
  meson compile -C "$dir" firmware-sample/edgemlp-firmware
  "$strip" -o "$out/edgemlp-firmware-$name" "$dir/firmware-sample/edgemlp-firmware"
  echo "$out/edgemlp-firmware-$name"
}

build aarch64 aarch64-linux-gnu-strip cross/aarch64-linux-gnu.txt
build armhf arm-linux-gnueabihf-strip cross/armhf-linux-gnueabihf.txt
build pi5 aarch64-linux-gnu-strip cross/aarch64-linux-gnu.txt cross/pi5.txt
