#!/usr/bin/env python3
"""edgemlp-firmware as a service, through the process: SIGTERM on an idle
stdin ends it within 1 s with code 0 and the statistics line; a model file
replaced on disk changes nothing until SIGHUP, and a bad file on SIGHUP is
refused (error priority) with the old model kept; sd_notify READY, WATCHDOG
pings, RELOADING and STOPPING on a socket made here (path and abstract);
journald prefixes only when $JOURNAL_STREAM is stderr; latency_us >=
inference_us on every --json line; --print change; usage errors.
With "yuv420": 1,000 MNIST test digits ($EDGEMLP_DATA) photographed dark on
light into 640x480 I420 frames give the 28x28 images' digits (>= 95%) with
the model given (tests/data/tiny_affine.q8, see make_tiny_affine.sh).
Usage: firmware_service_test.py FIRMWARE FIRMWARE_FRAMES MODEL_BLOB [yuv420]"""
import gzip
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

firmware, frames_tool, golden = sys.argv[1:4]
failures = []


def check(what, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(f"{what}: {detail}")


def start(*args, env=None, stdin=subprocess.PIPE, stderr=subprocess.PIPE):
    return subprocess.Popen([firmware, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                            env=env)


def wait_for_line(stream, phrase, timeout=10):
    """Reads lines of a pipe until one contains phrase; returns them all."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([stream], [], [], max(0, end - time.monotonic()))
        if not ready:
            break
        line = stream.readline()
        if not line:
            break
        seen.append(line.decode())
        if phrase in seen[-1]:
            return seen
    raise RuntimeError(f"no line with {phrase!r} within {timeout} s: {seen}")


def stops_at_once(proc, sig, during, stats_ok):
    """Sends sig; the firmware must exit 0 within 1 s, its stdout passing stats_ok."""
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=1)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        check(f"{sig.name} during {during}", False, "still running after 1 s")
        return
    took = time.monotonic() - sent
    check(f"{sig.name} during {during}: exit 0 within 1 s with the statistics line",
          proc.returncode == 0 and stats_ok(out.decode()) and took < 1,
          f"exit {proc.returncode} after {took:.2f} s, stdout {out!r}")


def frames_of(n, seed):
    """n raw 784-byte frames, sparse random ink (deterministic)."""
    state, out = seed, bytearray()
    for _ in range(n * 784):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out.append((state >> 56) if (state >> 40) % 5 == 0 else 0)
    return bytes(out)


def answers(proc, frames):
    """Writes frames one at a time; returns the --json line of each."""
    lines = []
    for i in range(0, len(frames), 784):
        proc.stdin.write(frames[i:i + 784])
        proc.stdin.flush()
        lines.append(json.loads(wait_for_line(proc.stdout, '"frame"')[-1]))
    return [(l["digit"], l["probability"]) for l in lines]


def yuv420_agreement(tmp):
    data = os.environ.get("EDGEMLP_DATA")
    if not data:
        print("firmware_yuv420: $EDGEMLP_DATA is not set (MNIST); skipped")
        sys.exit(77)
    with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz")) as f:
        digits = f.read()[16:16 + 1000 * 784]
    raw = subprocess.run([firmware, "--model", golden, "--json"], input=digits,
                         capture_output=True, check=True).stdout.decode().splitlines()
    i420 = subprocess.run([frames_tool, "i420", "640", "480", "15"], input=digits,
                          capture_output=True, check=True).stdout
    check("I420 stream size", len(i420) == 1000 * 640 * 480 * 3 // 2, len(i420))
    path = os.path.join(tmp, "frames.i420")
    with open(path, "wb") as f:
        f.write(i420)
    with open(path, "rb") as f:
        cam = subprocess.run([firmware, "--model", golden, "--yuv420", "640x480", "--json",
                              "--print", "all"], stdin=f, capture_output=True, check=True)
    cam_lines = cam.stdout.decode().splitlines()
    want = [json.loads(l)["digit"] for l in raw[:-1]]
    got = [json.loads(l)["digit"] for l in cam_lines[:-1]]
    agree = sum(a == b for a, b in zip(want, got))
    print(f"--yuv420 640x480: {agree} of {len(want)} photographed digits get the 28x28 "
          f"image's answer ({agree / 10:.1f}%)")
    check("1,000 answers each", len(want) == len(got) == 1000, f"{len(want)} / {len(got)}")
    check("at least 95% agreement", agree >= 950, f"{agree} of 1000")
    lines = [json.loads(l) for l in cam_lines[:-1]]
    check("latency_us >= inference_us on every I420 line",
          all(l["latency_us"] >= l["inference_us"] > 0 for l in lines))


with tempfile.TemporaryDirectory() as tmp:
    if len(sys.argv) > 4 and sys.argv[4] == "yuv420":
        yuv420_agreement(tmp)
        for failure in failures:
            print(failure, file=sys.stderr)
        sys.exit(1 if failures else 0)

    # 1. SIGTERM while blocked on an idle stdin.
    for sig in (signal.SIGTERM, signal.SIGINT):
        p = start("--model", golden)
        wait_for_line(p.stderr, "verified")
        time.sleep(0.2)  # in ppoll by now
        stops_at_once(p, sig, "idle stdin", lambda out: out.startswith("stats frames=0 "))

    # ...while sleeping for the next --hz slot, and while waiting for a FIFO's writer.
    fifo = os.path.join(tmp, "frames")
    os.mkfifo(fifo)
    for what, args in [("--hz 0.2 slot", ["--hz", "0.2"]), ("FIFO without a writer", ["--fifo", fifo])]:
        p = start("--model", golden, *args)
        wait_for_line(p.stderr, "verified")
        if "--hz" in args:
            p.stdin.write(frames_of(2, 1))
            p.stdin.flush()
            wait_for_line(p.stdout, " ")  # the first answer; the second waits 5 s
        time.sleep(0.2)
        stops_at_once(p, signal.SIGTERM, what, lambda out: "stats frames=" in out)

    # 2. The model file replaced in place; SIGHUP; a bad file on SIGHUP.
    model = os.path.join(tmp, "model.q8")
    other = subprocess.run([frames_tool, "blob", "7"], capture_output=True, check=True).stdout
    shutil.copy(golden, model)
    with open(golden, "rb") as f:
        golden_bytes = f.read()
    probe = frames_of(6, 3)
    p = start("--model", model, "--json")
    wait_for_line(p.stderr, "verified")
    before = answers(p, probe)
    with open(model, "r+b") as f:  # the same inode: a mapping would see this
        f.write(other)
        f.truncate()
    check("model replaced on disk: the same answers until SIGHUP", answers(p, probe) == before)
    p.send_signal(signal.SIGHUP)
    wait_for_line(p.stderr, "reloaded")
    after = answers(p, probe)
    expected_other = subprocess.run([firmware, "--model", model, "--json"], input=probe,
                                    capture_output=True).stdout.decode().splitlines()[:-1]
    check("SIGHUP: the new model answers",
          after != before and after == [(json.loads(l)["digit"], json.loads(l)["probability"])
                                        for l in expected_other])
    bad = bytearray(golden_bytes)
    bad[len(bad) // 2] ^= 1
    with open(model, "wb") as f:
        f.write(bad)
    p.send_signal(signal.SIGHUP)
    refusal = wait_for_line(p.stderr, "refused")[-1]
    check("SIGHUP with a damaged file: refused, naming the file",
          model in refusal and "CRC" in refusal, refusal)
    check("...and the old model kept", answers(p, probe) == after)
    p.stdin.close()
    out = p.stdout.read().decode()
    p.wait(timeout=5)
    check("end of input after reloads: exit 0", p.returncode == 0 and '"final":true' in out)

    # 3. sd_notify on a socket made here: path and abstract names.
    for name in (os.path.join(tmp, "notify"), f"@edgemlp-test-{os.getpid()}"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("\0" + name[1:] if name.startswith("@") else name)
        env = dict(os.environ, NOTIFY_SOCKET=name, WATCHDOG_USEC="200000")
        env.pop("WATCHDOG_PID", None)
        p = start("--model", golden, env=env)
        messages, end = [], time.monotonic() + 0.75
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                messages.append(s.recv(256).decode())
            except socket.timeout:
                break
        p.send_signal(signal.SIGHUP)
        wait_for_line(p.stderr, "reloaded")
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=5)
        s.settimeout(0.5)
        try:
            while True:
                messages.append(s.recv(256).decode())
        except socket.timeout:
            pass
        s.close()
        pings = messages.count("WATCHDOG=1")
        check(f"sd_notify to {name}: READY=1 first, WATCHDOG=1 every 100 ms while idle "
              f"({pings} in 0.75 s), STOPPING=1 last",
              messages[:1] == ["READY=1"] and 5 <= pings <= 10 and messages[-1] == "STOPPING=1"
              and p.returncode == 0, messages)
        reloading = [i for i, m in enumerate(messages) if m.startswith("RELOADING=1\nMONOTONIC_USEC=")]
        check(f"sd_notify to {name}: RELOADING=1 (with MONOTONIC_USEC) then READY=1 on SIGHUP",
              len(reloading) == 1 and messages[reloading[0] + 1] == "READY=1", messages)

    # 4. journald priorities only when stderr is the journal stream.
    r, w = os.pipe()
    st = os.fstat(w)
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    proc = subprocess.Popen([firmware, "--model", os.path.join(tmp, "missing.q8")], stderr=w,
                            stdout=subprocess.PIPE, env=env)
    os.close(w)
    proc.wait(timeout=10)
    err = os.read(r, 65536).decode()
    os.close(r)
    check("journal stderr: an error with <3>, exit 3",
          err.startswith("<3>edgemlp-firmware: ") and proc.returncode == 3, err)
    p = subprocess.run([firmware, "--model", golden], input=frames_of(2, 1), capture_output=True,
                       env=env)  # stderr is a pipe of its own: not the journal
    check("other stderr: no prefixes", not p.stderr.decode().startswith("<"), p.stderr)
    r, w = os.pipe()
    st = os.fstat(w)
    env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    proc = subprocess.Popen([firmware, "--model", golden], stdin=subprocess.PIPE, stderr=w,
                            stdout=subprocess.PIPE, env=env)
    os.close(w)
    proc.communicate(frames_of(2, 1) + bytes(100), timeout=10)  # and a short frame
    err = os.read(r, 65536).decode()
    os.close(r)
    check("journal stderr: start-up at <6>, a malformed frame at <4>",
          err.startswith("<6>edgemlp-firmware: ") and
          "\n<4>edgemlp-firmware: malformed frame: short read, 100 of 784 bytes" in err, err)

    # 5. latency_us >= inference_us on every line; --print change.
    frames = frames_of(200, 5)
    p = subprocess.run([firmware, "--model", golden, "--json"], input=frames, capture_output=True)
    lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
    check("--json: 200 lines and the final one",
          len(lines) == 201 and lines[-1]["final"] and lines[-1]["frames"] == 200)
    check("latency_us >= inference_us > 0 on every line",
          all(l["latency_us"] >= l["inference_us"] > 0 for l in lines[:-1]))
    check("statistics keys", {"p50_us", "p99_us", "max_us", "jitter_us", "latency_p50_us",
                              "latency_p99_us", "latency_max_us", "dropped"} <= lines[-1].keys())
    digits = [l["digit"] for l in lines[:-1]]
    changes = [d for i, d in enumerate(digits) if i == 0 or digits[i - 1] != d]
    p = subprocess.run([firmware, "--model", golden, "--print", "change"], input=frames,
                       capture_output=True)
    printed = p.stdout.decode().splitlines()
    check("--print change: a line per change of digit, then the statistics",
          [int(l.split()[0]) for l in printed[:-1]] == changes and printed[-1].startswith("stats "),
          printed)

    # 6. Usage errors (exit 2) and a bad model (exit 3), named.
    for args, code, phrase in [
            (["--yuv420", "640"], 2, "WIDTHxHEIGHT"),
            (["--yuv420", "64x48", "--watch", tmp], 2, "excludes --watch"),
            (["--print", "some"], 2, "expected change or all"),
            (["--gpio-chip", "/dev/gpiochip0"], 2, "go together"),
            (["--gpio-lines", "1,1", "--gpio-chip", "/dev/null"], 2, "--gpio-lines 1,1"),
            (["--gpio-lines", "1", "--gpio-chip", os.path.join(tmp, "nochip")], 1, "cannot open")]:
        p = subprocess.run([firmware, "--model", golden, *args], capture_output=True, text=True,
                           input="")
        check(f"{' '.join(args)}: exit {code}", p.returncode == code and phrase in p.stderr,
              f"exit {p.returncode}: {p.stderr}")
    with open(model, "wb") as f:
        f.write(bad)
    p = subprocess.run([firmware, "--model", model], capture_output=True, text=True, input="")
    check("damaged model at start: exit 3", p.returncode == 3 and "CRC" in p.stderr, p.stderr)
    help_text = subprocess.run([firmware, "--help"], capture_output=True, text=True).stdout
    check("--help documents the new flags", all(f in help_text for f in
          ["--yuv420 WxH", "--print MODE", "--gpio-chip DEV", "--gpio-lines", "SIGHUP"]))

for failure in failures:
    print(failure, file=sys.stderr)
sys.exit(1 if failures else 0)
