#!/usr/bin/env python3
"""No lost data: SIGKILL writers at random points; the target must always be
the old complete file or the new complete one.

Usage: kill_test.py ATOMIC_WRITER EDGEMLP [RUNS]
"""
import glob
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

writer, edgemlp = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 200
rng = random.Random(int(os.environ.get("KILL_TEST_SEED", "8")))
failures = []


def kill_at_random(cmd, max_delay):
    """Starts cmd, SIGKILLs it after a random delay; True if it was killed."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0, max_delay))
    p.send_signal(signal.SIGKILL)
    return p.wait() == -signal.SIGKILL


with tempfile.TemporaryDirectory() as tmp:
    # 1. A writer that does nothing but rewrite the target, alternating A and B.
    target = os.path.join(tmp, "target")
    a, b = b"A" * 1500000, b"B" * 2500000
    with open(target, "wb") as f:
        f.write(a)
    seen = {"A": 0, "B": 0}
    for i in range(runs):
        kill_at_random([writer, "loop", target], float(os.environ.get("KILL_TEST_MAX_DELAY", "0.3")))
        with open(target, "rb") as f:
            got = f.read()
        if got == a:
            seen["A"] += 1
        elif got == b:
            seen["B"] += 1
        else:
            failures.append(f"loop run {i}: target holds {len(got)} bytes, neither old nor new")
    leftovers = glob.glob(target + ".tmp.*")
    print(f"kill_test: atomic writer killed {runs} times: target complete A {seen['A']}, "
          f"B {seen['B']}, damaged {runs - seen['A'] - seen['B']}; "
          f"{len(leftovers)} orphaned temp files")
    if seen["A"] == 0 or seen["B"] == 0:
        failures.append("the kills never landed between writes of both kinds: test is blind")

    # 2. `edgemlp export`, killed while quantizing or writing.
    models = [os.path.join(tmp, f"m{k}.bin") for k in (0, 1)]
    blobs = []
    for k, m in enumerate(models):
        subprocess.run([writer, "model", str(k + 1), m], check=True)
        out = os.path.join(tmp, f"ref{k}.blob")
        start = time.monotonic()
        subprocess.run([edgemlp, "export", m, "--no-timestamp", "--out", out], check=True, stdout=subprocess.DEVNULL)
        duration = time.monotonic() - start
        with open(out, "rb") as f:
            blobs.append(f.read())
    target = os.path.join(tmp, "target.blob")
    with open(target, "wb") as f:
        f.write(blobs[0])
    export_runs = max(runs // 4, 10)
    killed = 0
    kinds = [0, 0]
    for i in range(export_runs):
        killed += kill_at_random([edgemlp, "export", models[i % 2], "--no-timestamp", "--out", target],
                                 duration * 1.2)
        with open(target, "rb") as f:
            got = f.read()
        if got in blobs:
            kinds[blobs.index(got)] += 1
        else:
            failures.append(f"export run {i}: target holds {len(got)} bytes, neither blob")
    print(f"kill_test: edgemlp export run {export_runs} times ({killed} killed mid-run, "
          f"{export_runs - killed} finished): target complete old/new {kinds[0]}/{kinds[1]}, "
          f"damaged {export_runs - sum(kinds)}")

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
