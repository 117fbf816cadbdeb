#!/usr/bin/env python3
"""Real data sets Debian ships, end to end: scikit-learn's bundled iris, wine,
breast cancer and digits (python3-sklearn) -> edgemlp train -> export int8 ->
eval (the runtime) -> edgemlp-firmware --features on the same test rows, with
scikit-learn baselines on the same split (majority class, nearest centroid,
logistic regression). Prints the docs/models.md table.

Usage: tools/scripts/sklearn-datasets.py EDGEMLP EDGEMLP_FIRMWARE [--json]
  e.g. build/tools/edgemlp build/firmware-sample/edgemlp-firmware
Needs python3-sklearn (tools/scripts/install-deps.sh installs it); exits 77
(a skipped meson test) without it. Fails if the firmware's predictions differ
from eval's, or int8 loses more than 2 points to float or does not beat the
majority class by 10. The data stay in the installed package; the splits go
to a temporary directory.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

try:
    from sklearn import datasets
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
except ImportError:
    print("sklearn-datasets: scikit-learn is not installed (python3-sklearn); skipped",
          file=sys.stderr)
    sys.exit(77)

# name, loader, edgemlp recipe (seed 1, one thread: reproducible bit for bit)
SETS = [
    ("iris", datasets.load_iris, "--arch 4-32-3 --epochs 200 --batch 16 --lr 0.01"),
    ("wine", datasets.load_wine, "--arch 13-32-3 --epochs 200 --batch 16 --lr 0.01"),
    ("breast_cancer", datasets.load_breast_cancer,
     "--arch 30-32-2 --epochs 200 --batch 16 --lr 0.01"),
    ("digits", datasets.load_digits,
     "--arch 64-128-10 --epochs 100 --batch 16 --lr 0.003 --dropout 0.2"),
]


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write("label," + ",".join(f"f{i}" for i in range(x.shape[1])) + "\n")
        for xi, yi in zip(x, y):
            f.write(f"{int(yi)}," + ",".join(repr(float(v)) for v in xi) + "\n")


def run(*args, stdin=None):
    p = subprocess.run(args, capture_output=True, input=stdin)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))}: exit {p.returncode}\n{p.stderr.decode()[-3000:]}")
    return p.stdout


def main():
    edgemlp, firmware = sys.argv[1], sys.argv[2]
    as_json = "--json" in sys.argv
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, load, recipe in SETS:
            d = load()
            xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=0.2,
                                                  stratify=d.target, random_state=0)
            train, test = os.path.join(tmp, name + "_train.csv"), os.path.join(tmp, name + "_test.csv")
            write_csv(train, xtr, ytr)
            write_csv(test, xte, yte)
            data = ["--data", train, "--test-data", test]
            model, blob = os.path.join(tmp, name + ".bin"), os.path.join(tmp, name + ".q8")
            start = time.time()
            t = json.loads(run(edgemlp, "train", *data, *recipe.split(), "--seed", "1",
                               "--threads", "1", "--out", model, "--json"))
            seconds = time.time() - start
            run(edgemlp, "export", model, *data, "--no-timestamp", "--out", blob)
            e = json.loads(run(edgemlp, "eval", blob, *data, "--json"))
            # The firmware on the same rows: little-endian float32 records.
            records = b"".join(struct.pack(f"<{xte.shape[1]}f", *row) for row in xte)
            labels = os.path.join(tmp, name + ".labels")
            with open(labels, "wb") as f:
                f.write(struct.pack(">II", 0x801, len(yte)) + bytes(int(v) for v in yte))
            out = run(firmware, "--model", blob, "--features", "--labels", labels, "--json",
                      stdin=records).decode().strip().splitlines()
            stats = json.loads(out[-1])
            same = (stats["predictions_sha256"] == e["predictions_sha256"]
                    and stats["outputs_sha256"] == e["outputs_sha256"])
            base = {
                "majority": DummyClassifier(strategy="most_frequent"),
                "nearest_centroid": make_pipeline(StandardScaler(), NearestCentroid()),
                "logistic_regression": make_pipeline(StandardScaler(),
                                                     LogisticRegression(max_iter=10000)),
            }
            r = {"name": name, "recipe": recipe, "rows": len(d.target),
                 "features": xtr.shape[1], "classes": int(d.target.max()) + 1,
                 "test_rows": len(yte), "float_accuracy": t["test_accuracy"],
                 "int8_accuracy": e["accuracy"], "firmware_accuracy": stats.get("accuracy"),
                 "firmware_matches_eval": same, "blob_bytes": e["model_bytes"],
                 "train_seconds": round(seconds, 1)}
            for key, clf in base.items():
                r[key] = float(clf.fit(xtr, ytr).score(xte, yte))
            results.append(r)
            print(f"{name}: float {100 * r['float_accuracy']:.2f}%  int8 {100 * r['int8_accuracy']:.2f}%"
                  f"  firmware {'same' if same else 'DIFFERENT'}", file=sys.stderr)
    failures = [f"{r['name']}: the firmware's predictions differ from edgemlp eval's"
                for r in results if not r["firmware_matches_eval"]]
    failures += [f"{r['name']}: int8 {r['int8_accuracy']:.4f} vs float {r['float_accuracy']:.4f}"
                 f" and majority {r['majority']:.4f}" for r in results
                 if r["int8_accuracy"] < r["float_accuracy"] - 0.02
                 or r["int8_accuracy"] < r["majority"] + 0.10]
    if as_json:
        print(json.dumps(results, indent=1))
    else:
        print_table(results)
    if failures:
        sys.exit("\n".join(failures))


def print_table(results):
    print("| data set | rows x features, classes | edgemlp recipe | float test | int8 test (runtime, firmware) "
          "| majority class | nearest centroid | logistic regression |")
    print("|---|---|---|---|---|---|---|---|")
    pct = lambda v: f"{100 * v:.2f}%"
    for r in results:
        fw = "= eval" if r["firmware_matches_eval"] else "DIFFERS"
        print(f"| {r['name']} | {r['rows']} x {r['features']}, {r['classes']} | `{r['recipe']}` "
              f"| {pct(r['float_accuracy'])} | {pct(r['int8_accuracy'])} ({fw}) | {pct(r['majority'])} "
              f"| {pct(r['nearest_centroid'])} | {pct(r['logistic_regression'])} |")


if __name__ == "__main__":
    main()
