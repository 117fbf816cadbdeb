#!/usr/bin/env python3
"""No lost data: SIGKILL writers at random points; the target must always be
the old complete file or the new complete one. The temporary files killed
writers leave behind are removed by the next successful write of the same
target, except a live process's.

Usage: kill_test.py ATOMIC_WRITER EDGEMLP [RUNS]   (RUNS: else $KILL_TEST_RUNS, else 200)
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
runs = int(sys.argv[3] if len(sys.argv) > 3 else os.environ.get("KILL_TEST_RUNS", "200"))
rng = random.Random(int(os.environ.get("KILL_TEST_SEED", "8")))
failures = []


def temp_files(target):
    return sorted(glob.glob(glob.escape(target) + ".tmp.*"))


def check_clean_write(cmd, target, what):
    """Runs one write to completion beside a live process's temp file of the
    same target: afterwards only the live one may remain. Returns how many
    stale ones the write removed."""
    before = temp_files(target)
    live = subprocess.Popen(["sleep", "600"])
    try:
        in_progress = f"{target}.tmp.{live.pid}.Live00"
        with open(in_progress, "wb") as f:
            f.write(b"a write in progress")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        left = temp_files(target)
        if left != [in_progress]:
            failures.append(f"{what}: after a clean write, temp files {left}, "
                            f"expected only the live process's {in_progress}")
    finally:
        live.kill()
        live.wait()
    os.unlink(in_progress)
    return len(before)


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
    orphaned_runs = most_orphans = 0
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
        orphans = len(temp_files(target))
        orphaned_runs += orphans > 0
        most_orphans = max(most_orphans, orphans)
    removed = check_clean_write([writer, "once", target], target, "loop")
    print(f"kill_test: atomic writer killed {runs} times: target complete A {seen['A']}, "
          f"B {seen['B']}, damaged {runs - seen['A'] - seen['B']}; an orphaned temp file after "
          f"{orphaned_runs} kills (at most {most_orphans} at once, the next write removes them); "
          f"{removed} removed by the final write")
    if seen["A"] == 0 or seen["B"] == 0:
        failures.append("the kills never landed between writes of both kinds: test is blind")
    if orphaned_runs == 0:
        failures.append("no kill left a temp file: the clean-up check is blind")

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
    removed = check_clean_write([edgemlp, "export", models[0], "--no-timestamp", "--out", target],
                                target, "export")
    print(f"kill_test: edgemlp export run {export_runs} times ({killed} killed mid-run, "
          f"{export_runs - killed} finished): target complete old/new {kinds[0]}/{kinds[1]}, "
          f"damaged {export_runs - sum(kinds)}; {removed} orphaned temp files removed by the "
          f"final export")

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
