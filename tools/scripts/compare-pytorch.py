#!/usr/bin/python3
"""Seconds per epoch: edgemlp vs PyTorch, same network, batch and optimizer.

Runs both back to back, interleaved (edgemlp, PyTorch, edgemlp, ...), on the
full 60k training images, and prints medians and the edgemlp/PyTorch ratio.
PyTorch is only a yardstick: this script needs python3-torch (Debian), the
project does not.

(Debian's python3: /usr/bin/python3, where python3-torch installs.)
Usage: tools/scripts/compare-pytorch.py [--edgemlp build/tools/edgemlp] [--threads 2]
                                [--rounds 3] [--epochs 2] [--json]
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# (arch, optimizer, batch, lr): the anchors.
CASES = [("784-256-128-10", "adam", 128, 1e-3), ("784-800-10", "momentum", 64, 0.05)]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def load_train(data_dir):
    import numpy as np
    def find(name):
        for candidate in (name, name + ".gz"):
            if os.path.exists(os.path.join(data_dir, candidate)):
                return os.path.join(data_dir, candidate)
        sys.exit(f"{data_dir}: no {name}(.gz)")
    images = np.frombuffer(read_idx(find("train-images-idx3-ubyte")), np.uint8, offset=16)
    labels = np.frombuffer(read_idx(find("train-labels-idx1-ubyte")), np.uint8, offset=8)
    return images.reshape(-1, 784).astype(np.float32) / 255.0, labels.astype(np.int64)


def edgemlp_epoch_seconds(args, arch, optimizer, batch, lr):
    # --val-count 1: trains on 59,999 of the 60k images (the trainer needs a
    # validation split); the per-epoch time excludes loading.
    cmd = [args.edgemlp, "train", "--arch", arch, "--optimizer", optimizer, "--batch",
           str(batch), "--lr", str(lr), "--schedule", "constant", "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--val-count", "1", "--out",
           os.path.join(args.work, "compare.fmlp"), "--json"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return [r["seconds"] for r in json.loads(out)["history"]]


def torch_epoch_seconds(args, x, y, arch, optimizer, batch, lr):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    sizes = [int(n) for n in arch.split("-")]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(x.shape[0])
        for first in range(0, x.shape[0], batch):
            idx = order[first:first + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edgemlp", default=os.path.join(ROOT, "build/tools/edgemlp"))
    p.add_argument("--data", default=os.environ.get("EDGEMLP_DATA", os.path.join(ROOT, "data/mnist")))
    p.add_argument("--work", default="/tmp")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2, help="epochs per run (each is timed)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    # PyTorch's matrix products go to the system BLAS (Debian: reference BLAS
    # unless libopenblas0 is installed, about 30x slower); same thread count.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed (Debian: apt-get install python3-torch)")
    x_np, y_np = load_train(args.data)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    results = []
    load_before = os.getloadavg()[0]
    for arch, optimizer, batch, lr in CASES:
        ours, theirs = [], []
        for r in range(args.rounds):
            ours += edgemlp_epoch_seconds(args, arch, optimizer, batch, lr)
            theirs += torch_epoch_seconds(args, x, y, arch, optimizer, batch, lr)
            print(f"{arch} round {r + 1}: edgemlp {statistics.median(ours):.2f} s, "
                  f"pytorch {statistics.median(theirs):.2f} s per epoch (medians so far)",
                  file=sys.stderr, flush=True)
        results.append({"arch": arch, "optimizer": optimizer, "batch": batch,
                         "edgemlp_epoch_seconds": ours, "pytorch_epoch_seconds": theirs,
                         "edgemlp_median": statistics.median(ours),
                         "pytorch_median": statistics.median(theirs),
                         "ratio": statistics.median(ours) / statistics.median(theirs)})
    report = {"threads": args.threads, "torch": torch.__version__,
              "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
              "cases": results}
    if args.json:
        print(json.dumps(report))
        return
    print(f"threads {args.threads}, torch {torch.__version__}, load average "
          f"{load_before:.1f} -> {report['load_average_after']:.1f}")
    for c in results:
        print(f"{c['arch']:>15} {c['optimizer']:>8} batch {c['batch']:>3}: edgemlp "
              f"{c['edgemlp_median']:.2f} s, pytorch {c['pytorch_median']:.2f} s per epoch, "
              f"ratio {c['ratio']:.2f}")


if __name__ == "__main__":
    main()
