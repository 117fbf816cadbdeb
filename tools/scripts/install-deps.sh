#!/usr/bin/env bash
# Installs the Debian 12 packages edgemlp needs, only those missing.
# Usage: tools/scripts/install-deps.sh [extra packages...]
#        EDGEMLP_PEERS=1 also installs the bench peers (oneDNN, XNNPACK)
#        EDGEMLP_PYTORCH=1 also installs PyTorch (tools/scripts/pytorch-import.py)
set -euo pipefail

packages=(
  meson ninja-build pkg-config g++ python3
  libhwy-dev libeigen3-dev zlib1g-dev      # runtime, trainer
  libzip-dev                               # trainer: NumPy .npz data
  doctest-dev cmake                        # tests (cmake lets meson find doctest)
  libcli11-dev nlohmann-json3-dev libstb-dev libssl-dev   # the CLI
  curl ca-certificates                     # fetch-mnist.sh
  pybind11-dev python3-dev python3-numpy python3-pytest   # the Python module (python/)
  python3-sklearn                          # its bundled data sets: sklearn_datasets suite
  help2man dpkg-dev lintian                # man pages, .deb packages (build-deb.sh, deb suite)
  libonnx-dev libprotobuf-dev python3-onnx # edgemlp import of ONNX (-Donnx), its test fixtures
  # Raspberry Pi: tools/scripts/test-arm.sh adds g++-aarch64-linux-gnu g++-arm-linux-gnueabihf
  # qemu-user-static; tools/scripts/pi-speed.py needs llvm (llvm-mca).
  # Microcontrollers: tools/scripts/test-mcu.sh adds gcc-arm-none-eabi picolibc-arm-none-eabi
  # libstdc++-arm-none-eabi-picolibc qemu-system-arm; tools/scripts/mcu-cycles.py needs llvm-19.
  # WebAssembly: tools/build-web.sh adds emscripten nodejs. Browser tests (the report page,
  # the drawing pad): tools/test.sh adds chromium chromium-driver python3-selenium.
  clang-14 libclang-rt-14-dev              # fuzz targets (tools/scripts/fuzz.sh)
  "$@"
)
# Opt-in: the peers of `edgemlp bench` (-Dbench_peers=enabled); CI goes without.
if [ "${EDGEMLP_PEERS:-0}" = 1 ]; then
  packages+=(libdnnl-dev libxnnpack-dev libpthreadpool-dev libcpuinfo-dev)
fi

# Opt-in: PyTorch for the end-to-end proof of `edgemlp import` (about 180 MB with libtorch).
if [ "${EDGEMLP_PYTORCH:-0}" = 1 ]; then
  packages+=(python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# A mirror inconsistency can make update exit non-zero; the install decides.
$sudo apt-get update -qq || true
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
