#!/usr/bin/env bash
# Raspberry Pi builds and their tests under qemu (called by tools/test.sh):
# static cross builds per ABI/CPU, the runtime and firmware suites in each,
# and the cross-architecture check: an int8 model trained here predicts the
# 10,000 MNIST test images under qemu with the same predictions_sha256 and
# outputs_sha256 as `edgemlp eval` on x86; the edgemlp-firmware packages
# (arm64, armhf) built from the aarch64 and armhf builds and checked.
# Usage: tools/scripts/test-arm.sh X86_BUILD_DIR   (needs $EDGEMLP_DATA, the x86 CLI)
set -euo pipefail
cd "$(dirname "$0")/../.."
x86=$1
tools/scripts/install-deps.sh g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user-static

# name | meson setup arguments | QEMU_CPU=expected kernel ("target ..." in the
# firmware's start-up line) for each CPU to test under. The aarch64 build
# leaves static_dispatch at its default (auto: static on Arm), so this also
# checks that a default Arm build runs NEON on a Pi 4's CPU, and that one
# binary takes sdot only where the CPU has it (Pi 5, max).
configs=(
  "aarch64|--cross-file cross/aarch64-linux-gnu.txt|cortex-a72=NEON cortex-a76=NEON+sdot max=NEON+sdot"
  "pi5|--cross-file cross/aarch64-linux-gnu.txt --cross-file cross/pi5.txt|cortex-a76=NEON+sdot"
  "aarch64-sve|--cross-file cross/aarch64-linux-gnu.txt -Dcpp_args=['-march=armv8.2-a+sve']|max=SVE"
  "aarch64-sve2|--cross-file cross/aarch64-linux-gnu.txt -Dcpp_args=['-march=armv8.5-a+sve2']|max=SVE2"
  "armhf|--cross-file cross/armhf-linux-gnueabihf.txt|max=NEON"
)

# The x86 reference: a small model (one epoch is enough to be non-trivial).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cli=$x86/tools/edgemlp
"$cli" train --data "$EDGEMLP_DATA" --arch 784-256-128-10 --epochs 1 --seed 1 \
  --out "$work/model.bin" >/dev/null 2>&1
"$cli" export "$work/model.bin" --quant int8 --out "$work/model.q8" >/dev/null
"$cli" eval "$work/model.q8" --data "$EDGEMLP_DATA" --json > "$work/x86.json"
# The ARM side has no zlib: decompress on the host; frames = IDX minus header.
gzip -dc "$EDGEMLP_DATA/t10k-images-idx3-ubyte.gz" | tail -c +17 > "$work/t10k.frames"
gzip -dc "$EDGEMLP_DATA/t10k-labels-idx1-ubyte.gz" > "$work/t10k.labels"

# One firmware run: --json final line vs the x86 eval digests and accuracy.
check_e2e() {  # check_e2e NAME EXPECTED_TARGET FIRMWARE [wrapper...]
  local name=$1 target=$2 exe=$3; shift 3
  "$@" "$exe" --model "$work/model.q8" --labels "$work/t10k.labels" --json \
    < "$work/t10k.frames" > "$work/$name.jsonl" 2> "$work/$name.err"
  python3 - "$work/x86.json" "$work/$name.jsonl" "$work/$name.err" "$name" "$target" <<'PY'
import json, sys
x86 = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
final = json.loads(lines[-1])
banner = open(sys.argv[3]).read()
name, target = sys.argv[4], sys.argv[5]
problems = [what for what, bad in [
    ("frame count", final["frames"] != 10000 or len(lines) != 10001),
    (f"target (want {target})", f"target {target};" not in banner),
    ("predictions_sha256", final["predictions_sha256"] != x86["predictions_sha256"]),
    ("outputs_sha256", final["outputs_sha256"] != x86["outputs_sha256"]),
    ("accuracy", abs(final["accuracy"] - x86["accuracy"]) >= 1e-4)] if bad]
ok = not problems
print(f"e2e {name:22s} target {target:16s} accuracy {final['accuracy']:.4f} "
      f"predictions {final['predictions_sha256'][:16]} outputs {final['outputs_sha256'][:16]} "
      f"{'same as x86' if ok else 'DIFFERENT from x86: ' + ', '.join(problems)}")
sys.exit(0 if ok else 1)
PY
}

# --bench --json under qemu: the output contract only (qemu's times mean
# nothing), and the kernel it names.
check_bench() {  # check_bench NAME EXPECTED_KERNEL FIRMWARE [wrapper...]
  local name=$1 kernel=$2 exe=$3; shift 3
  "$@" "$exe" --model "$work/model.q8" --bench --json \
    > "$work/$name.bench" 2>/dev/null || { echo "FAIL: $name --bench"; return 1; }
  python3 - "$work/$name.bench" "$name" "$kernel" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
report = json.loads(text)
ok = (len(text.splitlines()) == 1 and report["kernel"] == sys.argv[3]
      and len(report["layers"]) == 3 and all(l["mac_per_cycle"] > 0 for l in report["layers"]))
print(f"bench {sys.argv[2]:22s} kernel {report['kernel']:10s} "
      f"{'contract ok' if ok else 'CONTRACT BROKEN: ' + text}")
sys.exit(0 if ok else 1)
PY
}

failed=0
x86_target=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["engine"])' "$work/x86.json")
check_e2e x86 "$x86_target" "$x86/firmware-sample/edgemlp-firmware" || failed=1
for config in "${configs[@]}"; do
  IFS='|' read -r name args cpus <<< "$config"
  dir=build-$name
  echo "== $name: $args"
  start=$SECONDS
  reconfigure=()
  [ -f "$dir/build.ninja" ] && reconfigure=(--reconfigure)
  set -f  # args are several words by design; no globbing of ['...']
  # shellcheck disable=SC2086
  meson setup "${reconfigure[@]}" "$dir" $args --prefix=/usr -Dwerror=true >/dev/null
  set +f
  meson compile -C "$dir" >/dev/null
  wrapper=(qemu-aarch64-static)
  [ "$name" = armhf ] && wrapper=(qemu-arm-static)
  for cpu_kernel in $cpus; do
    cpu=${cpu_kernel%%=*} target=${cpu_kernel#*=}
    QEMU_CPU=$cpu meson test -C "$dir" --print-errorlogs --suite runtime \
      --logbase "testlog-$cpu" >/dev/null || { echo "FAIL: $name suites under $cpu"; failed=1; }
    QEMU_CPU=$cpu check_e2e "$name-$cpu" "$target" "$dir/firmware-sample/edgemlp-firmware" \
      "${wrapper[@]}" || failed=1
    QEMU_CPU=$cpu check_bench "$name-$cpu" "$target" "$dir/firmware-sample/edgemlp-firmware" \
      "${wrapper[@]}" || failed=1
  done
  exe=$dir/firmware-sample/edgemlp-firmware
  strip_tool=aarch64-linux-gnu-strip
  [ "$name" = armhf ] && strip_tool=arm-linux-gnueabihf-strip
  $strip_tool -o "$work/stripped" "$exe"
  echo "   edgemlp-firmware: static, $(stat -c %s "$exe") bytes ($(stat -c %s "$work/stripped") stripped); $((SECONDS - start)) s"
  # The Pi packages (tools/scripts/build-deb.sh): arm64 and armhf, with the
  # x86 build's man page (the same --help); checked and run under qemu.
  if [ "$name" = aarch64 ] || [ "$name" = armhf ]; then
    man_page=$x86/edgemlp-firmware.1
    [ -f "$man_page" ] || man_page=-
    python3 tests/deb_test.py edgemlp-firmware "$dir" "$man_page" "${wrapper[@]}" >"$work/deb.log" 2>&1 ||
      { cat "$work/deb.log"; echo "FAIL: $name edgemlp-firmware .deb"; failed=1; }
    grep -E '^(E|W): ' "$work/deb.log" || true  # lintian's findings, if it ran
    echo "   edgemlp-firmware .deb: $(grep -E '^(Ran|OK|FAILED)' "$work/deb.log" | paste -sd ' ')"
  fi
done
exit $failed
