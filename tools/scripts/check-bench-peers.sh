#!/usr/bin/env bash
# Not run by CI: installs the bench peers (oneDNN, XNNPACK), builds
# `edgemlp bench` with -Dbench_peers=enabled in build-peers and runs the CLI
# contract test of the bench there, which fails unless every peer matches
# the scalar reference (layer 1 and the test-set classes) and was timed.
# Usage: tools/scripts/check-bench-peers.sh   (MNIST from $EDGEMLP_DATA, else data/mnist)
set -euo pipefail
cd "$(dirname "$0")/../.."
EDGEMLP_PEERS=1 tools/scripts/install-deps.sh
export EDGEMLP_DATA=${EDGEMLP_DATA:-$PWD/data/mnist}
if [ -f build-peers/build.ninja ]; then
  meson setup --reconfigure build-peers -Dbench_peers=enabled >/dev/null
else
  meson setup build-peers --buildtype=release -Dwerror=true -Dbench_peers=enabled >/dev/null
fi
meson compile -C build-peers -j 2 edgemlp
EDGEMLP_EXPECT_PEERS=1 python3 tests/cli_test.py build-peers/tools/edgemlp CliTest.test_bench_json
