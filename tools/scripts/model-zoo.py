#!/usr/bin/env python3
"""Trains the model zoo and writes its results table.

For each model: train (`--preset tiny`, `--preset fast --arch A`,
`--preset no-aug` or `--preset best`), export int8, evaluate the int8 blob on the runtime
(`edgemlp eval BLOB --json`) and time batch-1 inference on the chosen SIMD
target (`edgemlp bench BLOB --json`). Writes docs/models.md and the table
between the zoo markers in README.md.

Every row is kept in docs/model-zoo.json with the date, thread count and
load average of its measurement; `--only NAME,...` re-runs those rows and keeps
the others as they were measured (a full run takes about an hour on 2 cores).
Each trained row also leaves, in --work, its training log (NAME.log), per-epoch
metrics (NAME.metrics.jsonl) and plots (NAME.plots/): all reproducible from
the seed for the same --threads (except the wall-clock seconds).

Usage: tools/scripts/model-zoo.py [--edgemlp build/tools/edgemlp] [--work DIR]
                          [--seed 1] [--threads 1] [--only NAME,...] [--reuse]
--reuse keeps a model already trained in --work (its train JSON is reused),
so an interrupted run continues; delete the directory to re-train.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZOO = [  # (name, train arguments)
    ("784-32-10", ["--preset", "tiny"]),
    ("784-128-10", ["--preset", "fast", "--arch", "784-128-10"]),
    ("784-256-128-10", ["--preset", "no-aug"]),
    ("784-800-10", ["--preset", "fast", "--arch", "784-800-10"]),
    ("best", ["--preset", "best"]),
]
BEGIN, END = "<!-- model-zoo:begin -->", "<!-- model-zoo:end -->"
RESULTS = os.path.join(ROOT, "docs/model-zoo.json")


def run_json(cmd, log=None):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    err = open(log, "w") if log else None
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=err, text=True).stdout
    return json.loads(out)


def measure(args, name, train_args):
    base = os.path.join(args.work, name)
    train_json = base + ".train.json"
    if args.reuse and os.path.exists(train_json) and os.path.exists(base + ".fmlp"):
        train = json.load(open(train_json))
    else:
        train = run_json([args.edgemlp, "train", *train_args, "--seed", str(args.seed),
                          "--threads", str(args.threads), "--out", base + ".fmlp",
                          "--metrics", base + ".metrics.jsonl", "--plots", base + ".plots",
                          "--json"], log=base + ".log")
        train["load_average"] = os.getloadavg()[0]  # at the end of the training
        with open(train_json, "w") as f:
            json.dump(train, f)
    run_json([args.edgemlp, "export", base + ".fmlp", "--out", base + ".q8", "--json"])
    ev = run_json([args.edgemlp, "eval", base + ".q8", "--json"])
    bench = run_json([args.edgemlp, "bench", base + ".q8", "--json"])
    chosen = next(t for t in bench["targets"] if t["target"] == bench["chosen_target"])
    sizes = [int(n) for n in train["arch"].split("-")]
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return {
        "name": name,
        "arch": train["arch"],
        "recipe": " ".join(train_args),
        "seed": train["seed"],
        "epochs_run": len(train["history"]),
        "best_epoch": train["best_epoch"],
        "val_accuracy": max(e["val_accuracy"] for e in train["history"]),
        "float_accuracy": train["test_accuracy"],
        "int8_accuracy": ev["accuracy"],
        "blob_bytes": os.path.getsize(base + ".q8"),
        "weights": weights,
        "train_seconds": train["seconds"],
        "seconds_per_epoch": train["seconds_per_epoch"],
        "threads": train["threads"],
        "target": bench["chosen_target"],
        "batch1_us": chosen["batch1_ns"] / 1000.0,
        "cpu": bench["cpu"],
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "load_average": train.get("load_average"),
        "measured": datetime.date.fromtimestamp(os.path.getmtime(train_json)).isoformat(),
    }


def table(rows):
    lines = ["| model | recipe | float test | int8 test (runtime) | blob bytes | training "
             "| us/image (batch 1) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        load = r.get("load_average")
        load = f", load {load:.1f}" if load is not None else ""
        lines.append(
            f"| {r['arch']} | `{r['recipe']}` | {100 * r['float_accuracy']:.2f}% "
            f"| {100 * r['int8_accuracy']:.2f}% | {r['blob_bytes']:,} "
            f"| {r['train_seconds'] / 60:.1f} min ({r['epochs_run']} epochs, "
            f"{r['threads']} thr{load}, {r['measured']}) | {r['batch1_us']:.1f} ({r['target']}) |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--edgemlp", default=os.path.join(ROOT, "build/tools/edgemlp"))
    p.add_argument("--work", default=os.path.join(ROOT, "build/model-zoo"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", help="comma-separated row names to re-run (default: all of "
                   + ", ".join(name for name, _ in ZOO) + "); the others are kept from "
                   "docs/model-zoo.json")
    p.add_argument("--reuse", action="store_true", help="reuse models trained in --work")
    p.add_argument("--no-write", action="store_true", help="print, do not edit docs")
    args = p.parse_args()
    names = [name for name, _ in ZOO]
    only = args.only.split(",") if args.only else names
    unknown = sorted(set(only) - set(names))
    if unknown:
        p.error(f"--only: unknown rows {unknown} (known: {', '.join(names)})")
    kept = {}
    if os.path.exists(RESULTS):
        kept = {r["name"]: r for r in json.load(open(RESULTS))}
    missing = [n for n in names if n not in only and n not in kept]
    if missing:
        p.error(f"{RESULTS} has no rows {missing}: add them to --only")
    os.makedirs(args.work, exist_ok=True)
    rows = [measure(args, name, a) if name in only else kept[name] for name, a in ZOO]
    cpus = sorted({f"{r['cpu']} ({r['cores']} cores, {r['machine']})" for r in rows})
    seeds = sorted({str(r["seed"]) for r in rows})
    note = (f"Measured on {' / '.join(cpus)}, seed {', '.join(seeds)}; the training column "
            f"gives each row's threads, load average at the end of its training and date "
            f"(other engineers' builds and trainings shared the 2 cores: training times are "
            f"upper bounds). Generated by `tools/scripts/model-zoo.py`.")
    text = table(rows) + "\n\n" + note + "\n"
    print(text)
    if args.no_write:
        return
    with open(RESULTS, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    for path in (os.path.join(ROOT, "docs/models.md"), os.path.join(ROOT, "README.md")):
        doc = open(path).read()
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            doc = head + BEGIN + "\n" + text + END + rest.split(END, 1)[1]
            with open(path, "w") as f:
                f.write(doc)
        else:
            print(f"{path}: no {BEGIN} marker, not updated", file=sys.stderr)


if __name__ == "__main__":
    main()
