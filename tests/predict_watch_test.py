"""`edgemlp predict` and `edgemlp-firmware --watch` on the same photographed
digits (MNIST test digits dark on light paper, scaled up and off-centre in
320x240 and 640x480 PNGs): both binaries must report the same digit for
every file. Needs MNIST ($EDGEMLP_DATA).
Usage: predict_watch_test.py EDGEMLP EDGEMLP_FIRMWARE BLOB"""
import gzip
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib


def write_png(path, pixels, w, h):
    raw = b"".join(b"\0" + bytes(pixels[y * w:(y + 1) * w]) for y in range(h))

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    cli, firmware, blob = sys.argv[1:4]
    data = os.environ.get("EDGEMLP_DATA", "data/mnist")
    with gzip.open(os.path.join(data, "t10k-images-idx3-ubyte.gz")) as f:
        images = f.read()[16:]
    rng = random.Random(14)
    with tempfile.TemporaryDirectory() as tmp:
        src, inbox = os.path.join(tmp, "src"), os.path.join(tmp, "inbox")
        os.mkdir(src)
        os.mkdir(inbox)
        names = []
        for i in range(20):
            digit = images[i * 499 % 10000 * 784:][:784]
            w, h = (640, 480) if i % 2 else (320, 240)
            scale = rng.randint(6, 16) if w == 640 else rng.randint(4, 8)
            side = 28 * scale
            left, top = rng.randint(0, w - side), rng.randint(0, h - side)
            pixels = [225] * (w * h)  # light paper, dark ink
            for y in range(side):
                for x in range(side):
                    ink = digit[(y // scale) * 28 + x // scale]
                    pixels[(top + y) * w + left + x] = 225 - ink * 195 // 255
            names.append(f"photo{i:02d}.png")
            write_png(os.path.join(src, names[-1]), pixels, w, h)

        out = subprocess.run([cli, "predict", blob, "--json"] + [os.path.join(src, n) for n in names],
                             capture_output=True, text=True, check=True).stdout
        predicted = {os.path.basename(p["file"]): p["digit"] for p in json.loads(out)["predictions"]}

        watcher = subprocess.Popen([firmware, "--model", blob, "--watch", inbox, "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1)  # the watch is set up before its banner; give it a moment
        for n in names:
            os.rename(os.path.join(src, n), os.path.join(inbox, n))  # IN_MOVED_TO
        watched = {}
        deadline = time.time() + 60
        while len(watched) < len(names) and time.time() < deadline:
            line = watcher.stdout.readline()
            if not line:
                break
            record = json.loads(line)
            if "source" in record:
                watched[record["source"]] = record["digit"]
        watcher.send_signal(signal.SIGINT)
        watcher.communicate(timeout=30)

    differ = [n for n in names if predicted.get(n) != watched.get(n)]
    print(f"{len(names)} photos: predict and --watch agree on {len(names) - len(differ)}")
    if differ:
        print("differ:", {n: (predicted.get(n), watched.get(n)) for n in differ})
        sys.exit(1)


if __name__ == "__main__":
    main()
