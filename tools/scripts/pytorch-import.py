#!/usr/bin/python3
"""The PyTorch path end to end: train an MLP with PyTorch, import it, run it in int8.

Trains nn.Sequential(Flatten, Linear, ReLU, ..., Linear) on MNIST with PyTorch
(Debian's python3-torch), exports it with torch.onnx.export and as safetensors
(the safetensors package if present, else written with the standard library),
imports both with `edgemlp import`, exports int8 blobs calibrated on the
training images, and compares on the 10,000 test images: accuracy of PyTorch,
of the imported float models and of the int8 blobs, and the share of images
where the int8 runtime's argmax equals PyTorch's. The issue's bar: agreement
>= 99% and int8 accuracy within 0.2 points of PyTorch's, for both formats
(exit 1 otherwise).

Needs a build with the Python module (python/, for the int8 predictions) and
ONNX import (libonnx-dev): BUILD/tools/edgemlp and BUILD/python.
Usage: tools/scripts/pytorch-import.py [--build build] [--data data/mnist]
         [--arch 784-128-10] [--epochs 6] [--threads 2] [--work DIR] [--json]
(Debian's python3, /usr/bin/python3, is where python3-torch installs.)
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEAN, STD = 0.1307, 0.3081  # torchvision's MNIST Normalize


def read_idx(data_dir, name, offset):
    import numpy as np
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                return np.frombuffer(f.read(), np.uint8, offset=offset)
    sys.exit(f"pytorch-import: {data_dir}: no {name}(.gz) (tools/scripts/fetch-mnist.sh)")


def load_mnist(data_dir):
    train_x = read_idx(data_dir, "train-images-idx3-ubyte", 16).reshape(-1, 784)
    train_y = read_idx(data_dir, "train-labels-idx1-ubyte", 8)
    test_x = read_idx(data_dir, "t10k-images-idx3-ubyte", 16).reshape(-1, 784)
    test_y = read_idx(data_dir, "t10k-labels-idx1-ubyte", 8)
    return train_x, train_y, test_x, test_y


def to_input(torch, pixels):
    # ToTensor + Normalize, as a torchvision pipeline feeds the model.
    x = torch.from_numpy(pixels.astype("float32")).reshape(-1, 1, 28, 28) / 255.0
    return (x - MEAN) / STD


def train(args, data):
    import torch
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.arch.split("-")]
    layers = [torch.nn.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    train_x, train_y, test_x, _ = data
    x = to_input(torch, train_x)
    y = torch.from_numpy(train_y.astype("int64"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        sched.step()
        print(f"pytorch-import: epoch {epoch + 1}/{args.epochs} loss {loss.item():.4f} "
              f"({time.time() - start:.0f} s)",
              file=sys.stderr)
    model.eval()
    with torch.no_grad():
        predictions = model(to_input(torch, test_x)).argmax(1).numpy()
    return model, predictions, time.time() - start


def save_safetensors(model, path):
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    try:
        from safetensors.torch import save_file
        save_file(state, path)
        return "safetensors package"
    except ImportError:
        pass
    header, blobs = {}, b""
    for name, tensor in state.items():
        raw = tensor.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [len(blobs), len(blobs) + len(raw)]}
        blobs += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blobs)
    return "standard library"


def edgemlp(args, *cmd):
    out = subprocess.run([args.edgemlp, *cmd, "--json"], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--data", default=os.environ.get("EDGEMLP_DATA", os.path.join(ROOT, "data/mnist")))
    p.add_argument("--arch", default="784-128-10")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", help="keep the files here (default: a temporary directory)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    args.edgemlp = os.path.join(args.build, "tools", "edgemlp")
    sys.path.insert(0, os.path.join(args.build, "python"))
    try:
        import numpy as np
        import torch
        import edgemlp as edgemlp_module
    except ImportError as e:
        sys.exit(f"pytorch-import: {e} (needs python3-torch, python3-numpy and the Python "
                 f"module in {args.build}/python)")
    work = args.work or tempfile.mkdtemp(prefix="edgemlp-pytorch-")
    os.makedirs(work, exist_ok=True)

    data = load_mnist(args.data)
    test_x, test_y = data[2], data[3]
    model, torch_pred, train_seconds = train(args, data)
    torch_acc = float((torch_pred == test_y).mean())
    onnx_path = os.path.join(work, "mlp.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path, input_names=["image"],
                      output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    st_path = os.path.join(work, "mlp.safetensors")
    st_writer = save_safetensors(model, st_path)

    results = {}
    images = np.ascontiguousarray(test_x)
    for fmt, path in (("onnx", onnx_path), ("safetensors", st_path)):
        fmodel = os.path.join(work, fmt + ".fmlp")
        blob = os.path.join(work, fmt + ".q8")
        imp = edgemlp(args, "import", path, "--out", fmodel, "--force",
                      "--input-normalize", f"{MEAN},{STD}")
        fev = edgemlp(args, "eval", fmodel, "--data", args.data)
        edgemlp(args, "export", fmodel, "--out", blob, "--data", args.data, "--force")
        qev = edgemlp(args, "eval", blob, "--data", args.data)
        classes, _ = edgemlp_module.Network(blob).predict(images)
        int8_acc = float((classes == test_y).mean())
        assert abs(int8_acc - qev["accuracy"]) < 1e-9, "the module and eval disagree"
        results[fmt] = {
            "import_check_max_abs_diff": imp["check"]["max_abs_diff"],
            "float_accuracy": fev["accuracy"],
            "int8_accuracy": int8_acc,
            "int8_agreement": float((classes == torch_pred).mean()),
            "int8_minus_pytorch_points": 100 * (int8_acc - torch_acc),
            "int8_bytes": os.path.getsize(blob),
        }
    ok = all(r["int8_agreement"] >= 0.99 and abs(r["int8_minus_pytorch_points"]) <= 0.2
             for r in results.values())
    report = {"pytorch": {"version": torch.__version__, "arch": args.arch, "epochs": args.epochs,
                          "batch": args.batch, "seed": args.seed, "accuracy": torch_acc,
                          "train_seconds": train_seconds,
                          "normalize": {"mean": MEAN, "std": STD}},
              "safetensors_writer": st_writer, "formats": results, "ok": ok, "work": work}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"PyTorch {torch.__version__}, {args.arch}, {args.epochs} epochs "
              f"({train_seconds:.0f} s), test accuracy {100 * torch_acc:.2f}%")
        print(f"{'format':<12} {'import check':>12} {'float acc':>10} {'int8 acc':>9} "
              f"{'int8 - torch':>13} {'argmax agreement':>17}")
        for fmt, r in results.items():
            print(f"{fmt:<12} {r['import_check_max_abs_diff']:>12.2g} "
                  f"{100 * r['float_accuracy']:>9.2f}% {100 * r['int8_accuracy']:>8.2f}% "
                  f"{r['int8_minus_pytorch_points']:>+10.2f} pt {100 * r['int8_agreement']:>16.2f}%")
        print("ok: agreement >= 99% and int8 within 0.2 points of PyTorch" if ok else
              "FAILED: agreement < 99% or int8 more than 0.2 points from PyTorch")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
