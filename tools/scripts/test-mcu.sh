#!/usr/bin/env bash
# Microcontroller builds under qemu-system-arm (called by tools/test.sh):
# edgemlp-mcu for each Cortex-M core (cross/cortex-m*.txt) carries an int8
# model trained here and the first 100 MNIST test images in flash; under
# qemu it must print the same predictions_sha256 as `edgemlp eval --count
# 100` on x86, and 100 `INDEX DIGIT` lines. The firmware itself checks the
# blob (CRC32, known-answer vector), its kernels against the scalar
# reference on every image, and that nothing allocates after load.
# Prints flash and RAM (arm-none-eabi-size) per build.
# Usage: tools/scripts/test-mcu.sh X86_BUILD_DIR   (needs $EDGEMLP_DATA, the x86 CLI)
set -euo pipefail
cd "$(dirname "$0")/../.."
x86=$1
tools/scripts/install-deps.sh gcc-arm-none-eabi picolibc-arm-none-eabi \
  libstdc++-arm-none-eabi-picolibc qemu-system-arm
count=100

# core | model: the default architecture; the tiny one where the machine's
# 256 KB of flash cannot hold the default (the micro:bit); mixed = the
# default with int4 and int16 layers (the reference path, as on every core;
# one core is enough: each run is another cross build in CI); micro = the
# micro preset's shape (an area transform 28x28 -> 16x16 in the blob, then
# 256-64-64-48-10 with int4 weights from train --qat) on the smallest core
# and on the M33.
configs=(
  "cortex-m0plus|tiny"
  "cortex-m0plus|micro"
  "cortex-m4|default"
  "cortex-m4|mixed"
  "cortex-m7|default"
  "cortex-m33|default"
  "cortex-m33|micro"
  "cortex-m55|default"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cli=$x86/tools/edgemlp
for model in default:784-256-128-10 tiny:784-32-10; do
  name=${model%%:*}
  "$cli" train --data "$EDGEMLP_DATA" --arch "${model#*:}" --epochs 1 --seed 1 \
    --out "$work/$name.bin" >/dev/null 2>&1
  "$cli" export "$work/$name.bin" --quant int8 --format c-header --no-timestamp \
    --out "$work/$name.h" >/dev/null
  "$cli" export "$work/$name.bin" --quant int8 --no-timestamp --out "$work/$name.q8" >/dev/null
  "$cli" eval "$work/$name.q8" --data "$EDGEMLP_DATA" --count $count --json > "$work/$name.json"
done
"$cli" export "$work/default.bin" --quant int8 --layer-quant 0=int4 --layer-quant 1=int16 \
  --format c-header --no-timestamp --out "$work/mixed.h" >/dev/null
"$cli" export "$work/default.bin" --quant int8 --layer-quant 0=int4 --layer-quant 1=int16 \
  --no-timestamp --out "$work/mixed.q8" >/dev/null
"$cli" eval "$work/mixed.q8" --data "$EDGEMLP_DATA" --count $count --json > "$work/mixed.json"
# A QAT model exports in the scheme it was trained for (int4): no --quant.
"$cli" train --data "$EDGEMLP_DATA" --downsample 16 --arch 256-64-64-48-10 --qat int4 \
  --epochs 1 --seed 1 --out "$work/micro.bin" >/dev/null 2>&1
"$cli" export "$work/micro.bin" --format c-header --no-timestamp --out "$work/micro.h" >/dev/null 2>&1
"$cli" export "$work/micro.bin" --no-timestamp --out "$work/micro.q4" >/dev/null 2>&1
"$cli" eval "$work/micro.q4" --data "$EDGEMLP_DATA" --count $count --json > "$work/micro.json"

failed=0
for config in "${configs[@]}"; do
  IFS='|' read -r core model <<< "$config"
  build=$work/build-$core-$model
  machine=$(sed -n "s/^qemu_machine = '\(.*\)'/\1/p" "cross/$core.txt")
  if ! { meson setup "$build" --cross-file "cross/$core.txt" -Dwerror=true \
           -Dfirmware_model="$work/$model.h" -Dmcu_images=$count -Dmcu_data="$EDGEMLP_DATA" \
           > "$work/$core.setup" 2>&1 &&
         meson compile -C "$build" edgemlp-mcu > "$work/$core.build" 2>&1; }; then
    echo "FAIL: $core: build"; tail -20 "$work/$core.setup" "$work/$core.build"; failed=1; continue
  fi
  # Semihosting output arrives on qemu's stderr; exit() ends qemu with its code.
  rc=0
  timeout 300 qemu-system-arm -M "$machine" -nographic -semihosting \
    -kernel "$build/mcu/edgemlp-mcu" > "$work/$core.out" 2>&1 || rc=$?
  size=$(arm-none-eabi-size "$build/mcu/edgemlp-mcu" | tail -1)
  python3 - "$work/$model.json" "$work/$core.out" "$core" "$model" "$rc" $count "$size" <<'PY' || failed=1
import json, re, sys
x86 = json.load(open(sys.argv[1]))
out = open(sys.argv[2]).read()
core, model, rc, count = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
text, data, bss = (int(v) for v in sys.argv[7].split()[:3])
lines = [l for l in out.splitlines() if re.fullmatch(r"\d+ \d", l)]
digest = re.search(r"^predictions_sha256 ([0-9a-f]{64})$", out, re.M)
kernels = re.search(r"kernels (\w+)", out)
arena = re.search(r"arena (\d+) bytes", out)
stack = re.search(r"stack (\d+) of", out)
problems = [what for what, bad in [
    (f"exit code {rc}", rc != 0),
    ("INDEX DIGIT lines", [l.split()[0] for l in lines] != [str(i) for i in range(count)]),
    ("predictions_sha256", not digest or digest.group(1) != x86["predictions_sha256"])] if bad]
ok = not problems
print(f"mcu {core:14s} {model:8s} kernels {kernels.group(1) if kernels else '?':9s} "
      f"flash {text + data:7d} B  RAM {data + bss:6d} B  "
      f"arena {arena.group(1) if arena else '?':>5s} B  stack {stack.group(1) if stack else '?':>4s} B  "
      f"{'predictions_sha256 same as x86' if ok else 'DIFFERENT: ' + ', '.join(problems)}")
if not ok:
    print("\n".join(out.splitlines()[-5:]))
sys.exit(0 if ok else 1)
PY
done

# The load-time checks on the device: a damaged blob (the low bit of
# layer 0's first bias flipped: only the CRC32 can tell) and a wrong known
# answer under a valid CRC32 (the known-answer test catches it) must stop
# the M4 firmware.
for damage in crc:bad_checksum kat:self_test_failed; do
  python3 - "$work/default.h" "$work/${damage%%:*}.h" "${damage%%:*}" <<'PY'
import re, struct, sys, zlib
text = open(sys.argv[1]).read()
head, body, tail = re.match(r"(?s)(.*?\] = \{\n#endif\n)(.*?)(\};.*)", text).groups()
blob = bytearray(int(v) for v in body.replace("\n", " ").split(",") if v.strip())
if sys.argv[3] == "crc":
    header_size = struct.unpack_from("<I", blob, 16)[0]
    blob[struct.unpack_from("<I", blob, header_size + 20)[0]] ^= 1
else:  # the first expected logit, then a valid CRC32
    kat_output = struct.unpack_from("<I", blob, 64 + 12)[0]
    struct.pack_into("<i", blob, kat_output, struct.unpack_from("<i", blob, kat_output)[0] + 1)
    struct.pack_into("<I", blob, 12, 0)
    struct.pack_into("<I", blob, 12, zlib.crc32(bytes(blob)))
open(sys.argv[2], "w").write(head + ",".join(map(str, blob)) + "\n" + tail)
PY
  build=$work/build-cortex-m4-default
  meson configure "$build" -Dfirmware_model="$work/${damage%%:*}.h" >/dev/null
  meson compile -C "$build" edgemlp-mcu > "$work/damaged.build" 2>&1 || { cat "$work/damaged.build"; failed=1; }
  rc=0
  timeout 300 qemu-system-arm -M mps2-an386 -nographic -semihosting \
    -kernel "$build/mcu/edgemlp-mcu" > "$work/damaged.out" 2>&1 || rc=$?
  if [ $rc = 1 ] && grep -q "^edgemlp-mcu: ${damage#*:}: " "$work/damaged.out"; then
    echo "mcu cortex-m4      ${damage%%:*} damage refused: $(head -1 "$work/damaged.out" | cut -c1-80)"
  else
    echo "FAIL: cortex-m4 ran a model with ${damage%%:*} damage (exit $rc)"; cat "$work/damaged.out"; failed=1
  fi
done
exit $failed
