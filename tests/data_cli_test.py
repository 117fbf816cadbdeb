#!/usr/bin/env python3
"""Your own data through the CLI: CSV, NumPy and IDX sets of any shape.

Usage: data_cli_test.py PATH/TO/edgemlp [PATH/TO/edgemlp-firmware]

Every data set is made here (the standard library; NumPy for .npy/.npz):
three well-separated Gaussian classes of 5 features, and IDX images of
5x3 pixels with 4 classes. Seconds, not minutes; no MNIST needed.
"""
import hashlib
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest

import cli_util

EDGEMLP = None
FIRMWARE = None
SKLEARN_DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data"

try:
    import numpy
except ImportError:  # the .npy/.npz cases are skipped
    numpy = None


def run(*args, expect=0):
    return cli_util.run(EDGEMLP, args, expect)


def run_json(*args):
    return json.loads(run(*args, "--json").stdout)


def blobs(n, seed):
    """n rows per class of 3 classes: (label, 5 features), centres far apart
    against a std of 1, features on different scales (the transform's job)."""
    rng = random.Random(seed)
    scale = [1, 10, 0.01, 100, 1]
    rows = []
    for i in range(3 * n):
        label = i % 3
        x = [(4 * (label == j % 3) + rng.gauss(0, 1)) * scale[j] for j in range(5)]
        rows.append((label, x))
    return rows


def write_csv(path, rows, header=True, label_last=False):
    with open(path, "w") as f:
        names = [f"f{j}" for j in range(5)]
        if header:
            f.write(",".join(names + ["class"] if label_last else ["class"] + names) + "\n")
        for label, x in rows:
            values = [repr(v) for v in x]
            f.write(",".join(values + [str(label)] if label_last else [str(label)] + values) + "\n")


class DataCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.csv = cls.path("train.csv")
        write_csv(cls.csv, blobs(100, 1))
        cls.model = cls.path("m.bin")
        cls.train = run_json("train", "--data", cls.csv, "--arch", "5-16-3", "--epochs", "30",
                             "--batch", "16", "--lr", "0.01", "--threads", "1", "--out", cls.model)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def test_train_reports_the_data_and_learns_it(self):
        d = self.train["data"]
        self.assertTrue(d["features"])
        self.assertEqual(d["classes"], 3)
        self.assertEqual(d["input_size"], 5)
        self.assertEqual(d["test_rows"], 60)  # 20% of each class of 100
        self.assertEqual(d["train_rows"], 240)
        self.assertEqual(d["test_fraction"], 0.2)
        self.assertEqual(d["split_seed"], 1)
        self.assertIn("60 of 300 rows held out (20% of each class, split seed 1)", d["split"])
        self.assertEqual(self.train["arch"], "5-16-3")
        self.assertGreater(self.train["test_accuracy"], 0.95)
        # The diagnostics count 3 classes, not MNIST's 10.
        messages = {f["id"]: f["message"] for f in self.train["diagnostics"]}
        self.assertIn("ln 3 = 1.0986", messages["D4"])
        self.assertIn("for 3 classes", messages["D18"])
        self.assertIn("nearest-class-mean classifier", messages["D6"])

    def test_eval_export_and_firmware_agree_on_features(self):
        # eval of the float model sees the rows train held out.
        ev = run_json("eval", self.model, "--data", self.csv)
        self.assertEqual(ev["count"], 60)
        self.assertAlmostEqual(ev["accuracy"], self.train["test_accuracy"])
        self.assertEqual(ev["data"]["split"], self.train["data"]["split"])
        blob = self.path("m.q8")
        ex = run_json("export", self.model, "--data", self.csv, "--no-timestamp", "--out", blob)
        q = run_json("eval", blob, "--data", self.csv)
        self.assertAlmostEqual(ex["report"]["quantized_accuracy"], q["accuracy"])
        self.assertEqual(q["kind"], "int8")
        self.assertGreater(q["accuracy"], 0.95)
        ref = run_json("eval", blob, "--data", self.csv, "--reference")
        self.assertEqual(ref["predictions_sha256"], q["predictions_sha256"])
        self.assertEqual(ref["outputs_sha256"], q["outputs_sha256"])
        if FIRMWARE is None:
            return
        # The firmware on the same raw rows (--test-data keeps file order):
        # the same predictions and logits as eval, digest for digest.
        rows = blobs(20, 9)
        test = self.path("fw_test.csv")
        write_csv(test, rows)
        q = run_json("eval", blob, "--data", self.csv, "--test-data", test)
        records = b"".join(struct.pack("<5f", *x) for _, x in rows)
        labels = self.path("fw.labels")
        with open(labels, "wb") as f:
            f.write(struct.pack(">II", 0x801, len(rows)) + bytes(l for l, _ in rows))
        p = subprocess.run([FIRMWARE, "--model", blob, "--features", "--labels", labels, "--json"],
                           input=records, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        lines = p.stdout.decode().strip().splitlines()
        stats = json.loads(lines[-1])
        self.assertEqual(len(lines), len(rows) + 1)
        self.assertEqual(stats["predictions_sha256"], q["predictions_sha256"])
        self.assertEqual(stats["outputs_sha256"], q["outputs_sha256"])
        self.assertAlmostEqual(stats["accuracy"], q["accuracy"])
        # A record with NaN and a short last record are skipped and counted.
        bad = records[:20] + struct.pack("<5f", 1, float("nan"), 2, 3, 4) + records[20:40] + b"\0" * 7
        p = subprocess.run([FIRMWARE, "--model", blob, "--features", "--json"], input=bad,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        stats = json.loads(p.stdout.decode().strip().splitlines()[-1])
        self.assertEqual(stats["frames"], 2)
        self.assertEqual(stats["malformed"], 2)
        self.assertIn(b"NaN or infinite", p.stderr)
        # predict on the same rows without labels: the same classes.
        unlabelled = self.path("fw_rows.csv")
        with open(unlabelled, "w") as f:
            f.write("".join(",".join(repr(v) for v in x) + "\n" for _, x in rows))
        pr = run_json("predict", blob, unlabelled)
        classes = bytes(p["digit"] for p in pr["predictions"])
        self.assertEqual(len(classes), len(rows))
        self.assertEqual(hashlib.sha256(classes).hexdigest(), q["predictions_sha256"])
        # A features blob needs --features; 784-byte frames are refused.
        p = subprocess.run([FIRMWARE, "--model", blob], input=b"", capture_output=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"takes 5 float features per record: run with --features", p.stderr)

    def test_same_split_seed_same_model(self):
        other = self.path("again.bin")
        run("train", "--data", self.csv, "--arch", "5-16-3", "--epochs", "30", "--batch", "16",
            "--lr", "0.01", "--threads", "1", "--out", other)
        # The same rows in the same order: the same weights, hence the same logits.
        first = run_json("eval", self.model, "--data", self.csv)
        second = run_json("eval", other, "--data", self.csv)
        self.assertEqual(first["outputs_sha256"], second["outputs_sha256"])
        third = run_json("eval", other, "--data", self.csv, "--split-seed", "2")
        self.assertNotEqual(third["data"]["split"], first["data"]["split"])

    def test_arch_must_match_the_data(self):
        p = run("train", "--data", self.csv, "--arch", "784-32-10", "--epochs", "1",
                "--out", self.path("x.bin"), expect=3)
        self.assertIn("--arch 784-32-10 takes 784 inputs and gives 10 outputs but the data has "
                      "5 inputs and 3 classes", p.stderr)

    def test_bad_files_name_the_line_and_column(self):
        cases = [
            ("ragged.csv", "class,a,b\n1,2,3\n0,4\n", "ragged.csv:3: 2 fields (expected 3"),
            ("word.csv", "class,a,b\n1,2,x\n", "word.csv:2: column 3 ('b'): 'x' is not a number"),
            ("nan.csv", "1,2\n0,nan\n", "nan.csv:2: column 2: value NaN"),
            ("label.csv", "1.5,2\n0,3\n", "label.csv:1: column 1: label 1.5"),
            ("empty.csv", "", "empty.csv: empty"),
            ("gap.csv", "0,1\n2,3\n", "gap.csv: class 1 has no examples"),
        ]
        for name, text, message in cases:
            with open(self.path(name), "w") as f:
                f.write(text)
            p = run("train", "--data", self.path(name), "--arch", "2-4-3", "--epochs", "1",
                    "--out", self.path("x.bin"), expect=3)
            self.assertIn(message, p.stderr, name)

    def test_test_data_and_label_column(self):
        train = self.path("last.csv")
        test = self.path("last_test.csv")
        write_csv(train, blobs(60, 2), label_last=True)
        write_csv(test, blobs(20, 3), label_last=True)
        j = run_json("train", "--data", train, "--test-data", test, "--label-column", "class",
                     "--arch", "5-16-3", "--epochs", "30", "--batch", "16", "--lr", "0.01",
                     "--out", self.path("last.bin"))
        self.assertEqual(j["data"]["test_rows"], 60)
        self.assertEqual(j["data"]["train_rows"], 180)
        self.assertNotIn("test_fraction", j["data"])
        self.assertIn("test: " + test, j["data"]["split"])
        self.assertGreater(j["test_accuracy"], 0.95)
        p = run("train", "--data", train, "--label-column", "klass", "--arch", "5-16-3",
                "--out", self.path("x.bin"), expect=3)
        self.assertIn("no label column 'klass'", p.stderr)

    @unittest.skipIf(numpy is None, "NumPy is not installed")
    def test_npy_and_npz(self):
        rows = blobs(60, 4)
        x = numpy.array([r[1] for r in rows], dtype=numpy.float32)
        y = numpy.array([r[0] for r in rows], dtype=numpy.int64)
        numpy.savez_compressed(self.path("d.npz"), x=x, y=y)
        numpy.save(self.path("d.npy"), numpy.column_stack([y.astype(numpy.float64), x]))
        for name in ("d.npz", "d.npy"):
            j = run_json("train", "--data", self.path(name), "--arch", "5-16-3", "--epochs", "30",
                         "--batch", "16", "--lr", "0.01", "--out", self.path(name + ".bin"))
            self.assertEqual(j["data"]["classes"], 3, name)
            self.assertGreater(j["test_accuracy"], 0.95, name)

    @unittest.skipUnless(os.path.exists(os.path.join(SKLEARN_DATA, "iris.csv")),
                         "python3-sklearn's data files are not installed")
    def test_sklearn_bundled_files_as_they_are(self):
        # scikit-learn's first line: counts checked, class names kept, label last.
        j = run_json("train", "--data", os.path.join(SKLEARN_DATA, "iris.csv"), "--arch", "4-32-3",
                     "--epochs", "100", "--batch", "16", "--lr", "0.01", "--threads", "1",
                     "--out", self.path("iris.bin"))
        self.assertEqual(j["data"]["class_names"], ["setosa", "versicolor", "virginica"])
        self.assertEqual(j["data"]["test_rows"], 30)
        self.assertIn("scikit-learn layout", j["data"]["source"])
        self.assertGreater(j["test_accuracy"], 0.85)
        # digits.csv.gz: gzipped, no header, the label last.
        j = run_json("train", "--data", os.path.join(SKLEARN_DATA, "digits.csv.gz"),
                     "--label-column", "last", "--arch", "64-64-10", "--epochs", "20",
                     "--batch", "16", "--lr", "0.003", "--threads", "1",
                     "--out", self.path("digits.bin"))
        self.assertEqual(j["data"]["classes"], 10)
        self.assertEqual(j["data"]["input_size"], 64)
        self.assertGreater(j["test_accuracy"], 0.9)

    def test_idx_of_any_shape(self):
        # 5x3 images, 4 classes: class k lights row k.
        rng = random.Random(5)
        idx = self.path("idx")
        os.mkdir(idx)
        for prefix, n in (("train", 400), ("t10k", 80)):
            labels = [i % 4 for i in range(n)]
            pixels = bytearray()
            for k in labels:
                pixels += bytes(200 if r == k else rng.randrange(60) for r in range(5)
                                for _ in range(3))
            with open(os.path.join(idx, prefix + "-images-idx3-ubyte"), "wb") as f:
                f.write(struct.pack(">IIII", 0x803, n, 5, 3) + bytes(pixels))
            with open(os.path.join(idx, prefix + "-labels-idx1-ubyte"), "wb") as f:
                f.write(struct.pack(">II", 0x801, n) + bytes(labels))
        j = run_json("train", "--data", idx, "--arch", "15-16-4", "--epochs", "20", "--batch", "16",
                     "--out", self.path("idx.bin"))
        self.assertFalse(j["data"]["features"])
        self.assertEqual(j["data"]["classes"], 4)
        self.assertEqual(j["data"]["test_rows"], 80)
        self.assertGreater(j["test_accuracy"], 0.95)
        ev = run_json("eval", self.path("idx.bin"), "--data", idx)
        self.assertEqual(len(ev["per_class"]), 4)
        self.assertEqual(len(ev["confusion"]), 4)
        self.assertAlmostEqual(ev["accuracy"], j["test_accuracy"])
        p = run("train", "--data", idx, "--arch", "15-16-10", "--epochs", "1",
                "--out", self.path("x.bin"), expect=3)
        self.assertIn("data has 15 inputs and 4 classes", p.stderr)


if __name__ == "__main__":
    EDGEMLP = sys.argv[1]
    if len(sys.argv) > 2:
        FIRMWARE = sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
