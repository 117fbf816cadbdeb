#!/usr/bin/env python3
"""edgemlp-firmware --camera's failures, through the executable: a missing
device, /dev/null, a regular file and a directory each end with a message that
names the device and what was expected, a non-zero exit, no crash and nothing
on stdout; --bench --json's output contract. Usage: firmware_cli_test.py FIRMWARE MODEL_BLOB HAS_CAMERA(0|1)"""
import json
import os
import subprocess
import sys
import tempfile

firmware, model, has_camera = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
failures = []


def run(*args):
    return subprocess.run([firmware, *args], capture_output=True, text=True, timeout=30)


def expect(what, result, code, *phrases):
    problems = []
    if result.returncode != code:
        problems.append(f"exit {result.returncode}, want {code}")
    if result.stdout:
        problems.append(f"stdout not empty: {result.stdout!r}")
    for phrase in phrases:
        if phrase not in result.stderr:
            problems.append(f"stderr lacks {phrase!r}")
    print(f"{'ok  ' if not problems else 'FAIL'} {what}: {result.stderr.strip().splitlines()[-1]}")
    if problems:
        failures.append(f"{what}: {'; '.join(problems)}\n{result.stderr}")


help_text = run("--help").stdout
if "--camera DEV" not in help_text or "--camera-size WxH" not in help_text:
    failures.append("--help does not document --camera DEV and --camera-size WxH")

with tempfile.TemporaryDirectory() as tmp:
    regular = os.path.join(tmp, "frames.raw")
    with open(regular, "wb") as f:
        f.write(bytes(784))
    missing = os.path.join(tmp, "video9")
    if has_camera:
        expect("missing device", run("--model", model, "--camera", missing), 1,
               missing + ": cannot open", "No such file", "/dev/video0")
        expect("/dev/null", run("--model", model, "--camera", "/dev/null"), 1,
               "/dev/null: not a V4L2 device", "VIDIOC_QUERYCAP")
        expect("regular file", run("--model", model, "--camera", regular), 1,
               regular + ": not a V4L2 device", "regular file", "character device")
        expect("directory", run("--model", model, "--camera", tmp), 1, tmp + ": cannot open")
    else:
        expect("camera not built", run("--model", model, "--camera", "/dev/video0"), 2,
               "--camera /dev/video0", "without camera support")
    expect("two sources", run("--model", model, "--camera", "/dev/video0", "--watch", tmp), 2,
           "exclude each other")
    expect("bad --camera-size", run("--model", model, "--camera-size", "640"), 2,
           "--camera-size 640", "WIDTHxHEIGHT")

# --bench --json: one JSON object on stdout (the contract tools/test-arm.sh
# also checks under qemu, where the numbers mean nothing).
bench = subprocess.run([firmware, "--model", model, "--bench", "--json"], capture_output=True,
                       text=True, timeout=120)
try:
    report = json.loads(bench.stdout)
    layer_keys = {"in", "out", "ns", "macs", "mac_per_cycle", "weight_bytes", "weight_gb_per_s"}
    problems = [what for what, bad in [
        ("exit code", bench.returncode != 0),
        ("one line", len(bench.stdout.splitlines()) != 1),
        ("keys", not {"model", "kernel", "clock_mhz", "layers", "forward_ns", "weight_bytes",
                      "weight_gb_per_s"} <= report.keys()),
        ("layers", not report["layers"] or any(set(l) != layer_keys for l in report["layers"])),
        ("positive numbers", not (report["clock_mhz"] > 0 and report["forward_ns"] > 0 and
                                  all(l["ns"] > 0 and l["mac_per_cycle"] > 0
                                      for l in report["layers"]))),
        ("kernel named on stderr", f"kernel {report['kernel']}" not in bench.stderr)] if bad]
except (ValueError, KeyError, TypeError) as e:
    problems = [f"not the JSON contract: {e}: {bench.stdout!r}"]
print(f"{'ok  ' if not problems else 'FAIL'} --bench --json: {bench.stdout.strip()[:100]}")
if problems:
    failures.append(f"--bench --json: {', '.join(problems)}\n{bench.stderr}")

for failure in failures:
    print(failure, file=sys.stderr)
sys.exit(1 if failures else 0)
