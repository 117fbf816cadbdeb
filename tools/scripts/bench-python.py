#!/usr/bin/python3
"""Images/s of the Python module on the 10,000 MNIST test images in one predict() call,
against the batched throughput `edgemlp bench` measures in C++ for the same blob and
target (its best batch size). Interleaved rounds (Python, C++, Python, ...), medians.
A figure for docs/python.md, not a test: the issue asks for within 10% of C++.

Usage: PYTHONPATH=build/python tools/scripts/bench-python.py BLOB
           [--edgemlp build/tools/edgemlp] [--data data/mnist] [--rounds 3] [--json]
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import time

import numpy as np

import edgemlp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("blob")
    ap.add_argument("--edgemlp", default="build/tools/edgemlp")
    ap.add_argument("--data", default=os.environ.get("EDGEMLP_DATA", "data/mnist"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    with gzip.open(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    net = edgemlp.Network(a.blob)
    net.predict(images)  # warm: page in the weights, pack them for the target
    py_rates, cpp_rates = [], []
    for _ in range(a.rounds):
        # The median of 20 calls, as the bench takes the median time per call.
        times = []
        for _ in range(20):
            start = time.perf_counter()
            net.predict(images)
            times.append(time.perf_counter() - start)
        py_rates.append(len(images) / statistics.median(times))
        bench = json.loads(subprocess.run(
            [a.edgemlp, "bench", a.blob, "--data", a.data, "--rounds", "1", "--json"],
            check=True, capture_output=True, text=True).stdout)
        row = next(t for t in bench["targets"] if t["target"] == net.target)
        cpp_rates.append(max(row["images_per_s"].values()))
    result = {"blob": a.blob, "target": net.target, "images": len(images),
              "python_images_per_s": statistics.median(py_rates),
              "cpp_best_batched_images_per_s": statistics.median(cpp_rates)}
    result["ratio"] = result["python_images_per_s"] / result["cpp_best_batched_images_per_s"]
    if a.json:
        print(json.dumps(result))
    else:
        print(f"{a.blob} on {net.target}: Python {result['python_images_per_s']:,.0f} images/s "
              f"(one predict of {len(images):,}), C++ bench best batched "
              f"{result['cpp_best_batched_images_per_s']:,.0f} images/s: "
              f"{result['ratio']:.2f}x")


if __name__ == "__main__":
    main()
