#!/usr/bin/env python3
"""Trains the model zoo and writes its results table and frontier chart.

For each model: train (`--preset micro`, `--preset tiny`, `--preset fast --arch A`,
`--preset no-aug`, `--preset best` or an explicit recipe), export it in the
schemes it was trained for (int8, or int4 after `train --qat int4`), count its
weight bytes (`edgemlp inspect BLOB --json`), evaluate the blob on the runtime
(`edgemlp eval BLOB --json`) and time batch-1 inference on the chosen SIMD
target (`edgemlp bench BLOB --json`). Writes the table between the zoo markers
in docs/models.md and README.md, and docs/img/frontier.svg: accuracy against
weight bytes, with published fully-connected MNIST networks as anchors.

Every row is kept in docs/model-zoo.json with the date, thread count and
load average of its measurement; `--only NAME,...` re-runs those rows and keeps
the others as they were measured (a full run takes about an hour on 2 cores).
Each trained row also leaves, in --work, its training log (NAME.log), per-epoch
metrics (NAME.metrics.jsonl) and plots (NAME.plots/): all reproducible from
the seed for the same --threads (except the wall-clock seconds).

Usage: tools/scripts/model-zoo.py [--edgemlp build/tools/edgemlp] [--work DIR]
                          [--seed 1] [--threads 1] [--only NAME,...] [--reuse]
                          [--redraw] [--no-write] [--chart FILE.svg]
--reuse keeps a model already trained in --work (its train JSON is reused),
so an interrupted run continues; delete the directory to re-train.
--redraw runs nothing: it rewrites the tables and the chart from
docs/model-zoo.json (rows it lacks are left out).
"""
import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
from xml.sax.saxutils import escape

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZOO = [  # (name, train arguments)
    ("micro", ["--preset", "micro"]),
    ("tiny", ["--preset", "tiny"]),
    # The tiny preset before issue 16, spelled out.
    ("784-32-10", "--arch 784-32-10 --optimizer adam --lr 0.002 --batch 128 --schedule one-cycle "
     "--label-smoothing 0.1 --ema 0.999 --shift 1 --rotate 6 --scale 0.06 --epochs 60".split()),
    ("784-128-10", ["--preset", "fast", "--arch", "784-128-10"]),
    ("784-256-128-10", ["--preset", "no-aug"]),
    ("784-800-10", ["--preset", "fast", "--arch", "784-800-10"]),
    ("best", ["--preset", "best"]),
]
BEGIN, END = "<!-- model-zoo:begin -->", "<!-- model-zoo:end -->"
RESULTS = os.path.join(ROOT, "docs/model-zoo.json")
CHART = os.path.join(ROOT, "docs/img/frontier.svg")

# Published fully-connected MNIST networks, as their authors report them:
# (label, weight bytes, test accuracy %, how the bytes were counted).
# Weights only (no biases), at float32 = 4 bytes each unless stated.
ANCHORS = [
    # 256-64-64-64-10 = 25,216 weights at 4 bits (16x16 input, QAT, augmentation).
    ("BitNetMCU 99.01% (4-bit, 16x16 in)", 25216 // 2, 99.01, "4-bit weights"),
    # One hidden layer of 800 on elastic distortions: 784-800-10 = 635,200 weights.
    ("Simard 2003 99.3% (784-800-10)", 4 * 635200, 99.3, "float32"),
    # Hidden layers 2500-2000-1500-1000-500: about 12 M weights, counted as 12 M.
    ("Ciresan 2010 99.65% (≈12 M weights)", 4 * 12000000, 99.65, "float32, approximate"),
    # ggml's examples/mnist fully-connected network: 784-500-10 = 397,000 weights.
    ("ggml example 97.94% (784-500-10)", 4 * 397000, 97.94, "float32"),
]


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
    # No --quant: a model trained with --qat exports in the schemes it was trained for.
    run_json([args.edgemlp, "export", base + ".fmlp", "--out", base + ".q8", "--json"])
    info = run_json([args.edgemlp, "inspect", base + ".q8", "--json"])
    ev = run_json([args.edgemlp, "eval", base + ".q8", "--json"])
    bench = run_json([args.edgemlp, "bench", base + ".q8", "--json"])
    chosen = next(t for t in bench["targets"] if t["target"] == bench["chosen_target"])
    return {
        "name": name,
        "arch": train["arch"],
        "downsample": train.get("downsample"),
        "recipe": " ".join(train_args),
        "seed": train["seed"],
        "epochs_run": len(train["history"]),
        "best_epoch": train["best_epoch"],
        "val_accuracy": max(e["val_accuracy"] for e in train["history"]),
        "float_accuracy": train["test_accuracy"],
        "qat_accuracy": train.get("qat_test_accuracy"),
        "runtime_accuracy": ev["accuracy"],
        "blob_bytes": os.path.getsize(base + ".q8"),
        "weights": info["weight_count"],
        "weight_bytes": info["weight_bytes"],
        "stored_weight_bytes": info["stored_weight_bytes"],
        "weight_types": [layer["weight_type"] for layer in info["layers"]],
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


def upgrade(row):
    """A row kept from before issue 16, in today's keys (same order as measure's)."""
    out = {}
    for key, value in row.items():
        out["runtime_accuracy" if key == "int8_accuracy" else key] = value
        if key == "weights" and "weight_bytes" not in row:
            # Those rows were all int8: one byte per weight, and `weights` counts them.
            sizes = [int(n) for n in row["arch"].split("-")]
            out["weight_bytes"] = sum(a * b for a, b in zip(sizes, sizes[1:]))
            out["weight_types"] = ["int8"] * (len(sizes) - 1)
    return out


def schemes(row):
    """"int4", or the per-layer list when the layers differ."""
    types = row.get("weight_types") or ["?"]
    return types[0] if len(set(types)) == 1 else ",".join(types)


def model_label(row):
    arch = row["arch"]
    if row.get("downsample"):
        arch = f"{row['downsample']}x{row['downsample']} input, {arch}"
    return arch if row["name"] == arch else f"{row['name']} ({arch})"


def table(rows):
    lines = ["| model | recipe | float test | integer test (runtime) | weights | blob bytes "
             "| training | us/image (batch 1) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        load = r.get("load_average")
        load = f", load {load:.1f}" if load is not None else ""
        qat = r.get("qat_accuracy")
        qat = f" (QAT {100 * qat:.2f}%)" if qat is not None else ""
        lines.append(
            f"| {model_label(r)} | `{r['recipe']}` | {100 * r['float_accuracy']:.2f}%{qat} "
            f"| {100 * r['runtime_accuracy']:.2f}% | {r['weight_bytes']:,} B {schemes(r)} "
            f"| {r['blob_bytes']:,} "
            f"| {r['train_seconds'] / 60:.1f} min ({r['epochs_run']} epochs, "
            f"{r['threads']} thr{load}, {r['measured']}) | {r['batch1_us']:.1f} ({r['target']}) |")
    return "\n".join(lines)


def pareto(points):
    """Indices of the (bytes, accuracy) points no other point beats on both axes
    (no more bytes and no less accuracy, better on one), by increasing bytes."""
    def beaten(i):
        b, a = points[i]
        return any(b2 <= b and a2 >= a and (b2, a2) != (b, a) for b2, a2 in points)
    return sorted((i for i in range(len(points)) if not beaten(i)), key=lambda i: points[i])


def _bytes_text(n):
    for unit, size in (("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n:g} B"


def frontier_svg(rows, anchors=ANCHORS):
    """The frontier chart as an SVG document: one circle per row (class "row"),
    one diamond per anchor (class "anchor"), the rows' Pareto frontier as a line."""
    W, H = 900, 560
    left, right, top, bottom = 72, 868, 44, 452  # the plot area
    acc = [100 * r["runtime_accuracy"] for r in rows] + [a[2] for a in anchors]
    size = [r["weight_bytes"] for r in rows] + [a[1] for a in anchors]
    x_lo = min(math.log10(4e3), math.floor(math.log10(min(size))))
    x_hi = max(8.0, math.ceil(math.log10(max(size))))
    y_lo = min(97.0, math.floor(min(acc)))
    y_hi = 100.0

    def X(n):
        return left + (math.log10(n) - x_lo) / (x_hi - x_lo) * (right - left)

    def Y(a):
        return bottom - (a - y_lo) / (y_hi - y_lo) * (bottom - top)

    blue, red, grey = "#1f5fa8", "#c8431c", "#555"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">'
           'MNIST test accuracy against weight bytes: the edgemlp zoo and published MLPs</text>']
    # Grid: decades (labelled) and 2x, 5x in between; every half point of accuracy.
    for e in range(math.floor(x_lo), math.ceil(x_hi) + 1):
        for m in (1, 2, 5):
            if not x_lo <= e + math.log10(m) <= x_hi:
                continue
            x = X(m * 10 ** e)
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                       f'stroke="{"#ccc" if m == 1 else "#eee"}"/>')
            if m == 1:
                out.append(f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">'
                           f'{_bytes_text(10 ** e)}</text>')
    step = next(s for s in (0.5, 1, 2, 5, 10) if (y_hi - y_lo) / s <= 12)
    for k in range(int(round((y_hi - y_lo) / step)) + 1):
        y = Y(y_hi - k * step)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{y_hi - k * step:.1f}%</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
               f'fill="none" stroke="{grey}"/>')
    out.append(f'<text x="{(left + right) / 2}" y="{bottom + 40}" text-anchor="middle" '
               'font-size="13">weight bytes (log scale; the zoo as `edgemlp inspect` counts them)'
               '</text>')
    out.append(f'<text transform="translate(18 {(top + bottom) / 2}) rotate(-90)" '
               'text-anchor="middle" font-size="13">MNIST test accuracy</text>')

    # The legend sits in the lower right corner, where nothing small and bad lives.
    lx, ly = right - 262, bottom - 74
    legend = (lx, ly, right - 8, bottom - 8)
    out += [f'<rect x="{lx}" y="{ly}" width="{legend[2] - lx}" height="{legend[3] - ly}" '
            f'fill="white" stroke="{grey}"/>',
            f'<circle class="legend" cx="{lx + 14}" cy="{ly + 16}" r="5" fill="{blue}"/>',
            f'<text x="{lx + 26}" y="{ly + 20}">zoo row: integer blob on the runtime</text>',
            f'<line x1="{lx + 6}" y1="{ly + 36}" x2="{lx + 22}" y2="{ly + 36}" stroke="{blue}" '
            'stroke-width="1.5" stroke-dasharray="5 3"/>',
            f'<text x="{lx + 26}" y="{ly + 40}">Pareto frontier of the zoo</text>',
            f'<path class="legend" d="M{lx + 14} {ly + 49}l6 7-6 7-6-7z" fill="{red}"/>',
            f'<text x="{lx + 26}" y="{ly + 60}">published anchor (authors\' figure)</text>']

    # Points, the frontier through the rows, then labels placed around them.
    points = [(r["weight_bytes"], 100 * r["runtime_accuracy"]) for r in rows]
    front = pareto(points)
    out.append('<polyline fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="5 3" '
               'points="{}"/>'.format(blue, " ".join(f"{X(points[i][0]):.1f},{Y(points[i][1]):.1f}"
                                                     for i in front)))
    boxes = [legend]  # what a label must not cover: the legend, the frontier line, points
    for i, j in zip(front, front[1:]):
        (x0, y0), (x1, y1) = ((X(points[k][0]), Y(points[k][1])) for k in (i, j))
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / 4))
        boxes += [(x0 + (x1 - x0) * t / n - 1, y0 + (y1 - y0) * t / n - 1,
                   x0 + (x1 - x0) * t / n + 1, y0 + (y1 - y0) * t / n + 1) for t in range(n + 1)]
    labels = []
    # Anchors first: a zoo row on top of an anchor stays visible.
    for name, b, acc_, how in anchors:
        x, y = X(b), Y(acc_)
        out.append(f'<path class="anchor" d="M{x:.1f} {y - 7:.1f}l6 7-6 7-6-7z" fill="{red}">'
                   f'<title>{escape(name)}: {b:,} bytes ({escape(how)})</title></path>')
        boxes.append((x - 7, y - 7, x + 7, y + 7))
        labels.append((x, y, name, red))
    for r, (b, acc_) in zip(rows, points):
        x, y = X(b), Y(acc_)
        out.append(f'<circle class="row" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{blue}">'
                   f'<title>{escape(r["name"])}: {acc_:.2f}%, {b:,} weight bytes</title></circle>')
        boxes.append((x - 6, y - 6, x + 6, y + 6))
        labels.append((x, y, f'{r["name"]} {r["batch1_us"]:.1f} µs', blue))
    # Rows' labels first: they take the nearest free spots.
    for x, y, text, colour in labels[len(anchors):] + labels[:len(anchors)]:
        out.append(_place_label(x, y, text, colour, boxes, (left, top, right, bottom)))
    out.append(f'<text x="{left}" y="{H - 30}" font-size="11" fill="{grey}">Anchors are their '
               'authors\' published figures, weights counted at float32 (4 bytes each) unless '
               'stated; Ciresan\'s count is approximate.</text>')
    out.append(f'<text x="{left}" y="{H - 14}" font-size="11" fill="{grey}">Zoo labels: '
               'name and batch-1 microseconds per image on the measuring machine\'s chosen SIMD '
               'target; generated by tools/scripts/model-zoo.py.</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _place_label(x, y, text, colour, boxes, area):
    """A <text> beside (x, y) at the first spot that overlaps no box in `boxes`
    (points, the legend, labels placed before) and stays inside `area`; the
    least overlapping spot if none is free. Adds its box to `boxes`."""
    w, h = 7.0 * len(text), 13  # DejaVu Sans 12 px: about 7 px a character
    spots = [(9, 4, "start"), (-9, 4, "end"), (0, -10, "middle"), (0, 18, "middle"),
             (7, -8, "start"), (7, 16, "start"), (-7, -8, "end"), (-7, 16, "end"),
             (0, -24, "middle"), (0, 32, "middle"), (9, -20, "start"), (-9, -20, "end"),
             (9, 28, "start"), (-9, 28, "end")]

    def box(dx, dy, anchor):
        x0 = x + dx - {"start": 0, "middle": w / 2, "end": w}[anchor]
        return (x0, y + dy - h + 3, x0 + w, y + dy + 3)

    def cost(b):
        inside = area[0] <= b[0] and b[2] <= area[2] and area[1] <= b[1] and b[3] <= area[3]
        overlap = sum(max(0, min(b[2], o[2]) - max(b[0], o[0])) *
                      max(0, min(b[3], o[3]) - max(b[1], o[1])) for o in boxes)
        return overlap + (0 if inside else 1e6)

    dx, dy, anchor = min(spots, key=lambda s: cost(box(*s)))  # the first of the cheapest
    boxes.append(box(dx, dy, anchor))
    return (f'<text x="{x + dx:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}" '
            f'fill="{colour}" stroke="white" stroke-width="3" paint-order="stroke">'
            f'{escape(text)}</text>')


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
    p.add_argument("--no-write", action="store_true",
                   help="print, do not edit docs (nor the chart unless --chart is given)")
    p.add_argument("--redraw", action="store_true",
                   help="run nothing: rewrite the tables and the chart from docs/model-zoo.json")
    p.add_argument("--chart", help="where to write the frontier chart (default: "
                   "docs/img/frontier.svg)")
    args = p.parse_args()
    names = [name for name, _ in ZOO]
    only = [] if args.redraw else args.only.split(",") if args.only else names
    unknown = sorted(set(only) - set(names))
    if unknown:
        p.error(f"--only: unknown rows {unknown} (known: {', '.join(names)})")
    kept = {}
    if os.path.exists(RESULTS):
        kept = {r["name"]: upgrade(r) for r in json.load(open(RESULTS))}
    missing = [n for n in names if n not in only and n not in kept]
    if missing and args.redraw:
        print(f"{RESULTS} has no rows {missing}: left out", file=sys.stderr)
    elif missing:
        p.error(f"{RESULTS} has no rows {missing}: add them to --only")
    if only and not os.access(args.edgemlp, os.X_OK):
        p.error(f"--edgemlp: {args.edgemlp} is not an executable (build it, or give its path)")
    if only:
        os.makedirs(args.work, exist_ok=True)
    rows = [measure(args, name, a) if name in only else kept[name]
            for name, a in ZOO if name in only or name in kept]
    cpus = sorted({f"{r['cpu']} ({r['cores']} cores, {r['machine']})" for r in rows})
    seeds = sorted({str(r["seed"]) for r in rows})
    note = (f"Measured on {' / '.join(cpus)}, seed {', '.join(seeds)}; the training column "
            f"gives each row's threads, load average at the end of its training and date "
            f"(other engineers' builds and trainings shared the 2 cores: training times are "
            f"upper bounds). Generated by `tools/scripts/model-zoo.py`.")
    text = table(rows) + "\n\n" + note + "\n"
    print(text)
    if args.chart or not args.no_write:
        with open(args.chart or CHART, "w") as f:
            f.write(frontier_svg(rows))
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
