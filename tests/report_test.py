#!/usr/bin/env python3
"""The run report page: `edgemlp report RUN_DIR` and `train --report FILE`.

Usage: report_test.py PATH/TO/edgemlp   (MNIST from $EDGEMLP_DATA or
<source>/data/mnist). One small run (784-32-10, 2 epochs on 2,000 images,
a short bench): under a minute.
"""
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import cli_util

EDGEMLP = None
DATA = None

SECTIONS = ["configuration", "curves", "diagnostics", "confusion", "misclassified",
            "quantization", "bench"]
PLOT_FILES = ["confusion.svg", "misclassified.png", "misclassified.json"]


def run(*args, expect=0):
    return cli_util.run(EDGEMLP, args, expect)


def slurp(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def make_run(edgemlp, data, run_dir, bench=True):
    """A complete run directory as the docs describe it: train --plots and
    --report, export --data, bench. Returns the train --report page's path,
    and the page `report` made of the directory before export and bench."""
    def go(*args, stdout=None):
        with open(stdout, "w") if stdout else open(os.devnull, "w") as out:
            subprocess.run([edgemlp, *args], stdout=out, stderr=subprocess.PIPE, check=True)
    os.makedirs(run_dir, exist_ok=True)
    model = os.path.join(run_dir, "model.bin")
    blob = os.path.join(run_dir, "model.q8")
    train_page = os.path.join(run_dir, "train-report.html")
    go("train", "--data", data, "--arch", "784-32-10", "--epochs", "2", "--train-count", "2000",
       "--seed", "5", "--out", model, "--plots", run_dir, "--report", train_page, "--json",
       stdout=os.path.join(run_dir, "train.json"))
    early_page = os.path.join(run_dir, "before-export.html")
    go("report", run_dir, "--out", early_page)
    go("export", model, "--data", data, "--no-timestamp", "--out", blob, "--json",
       stdout=os.path.join(run_dir, "export.json"))
    if bench:
        go("bench", blob, "--data", data, "--calls", "100", "--images", "256", "--rounds", "1",
           "--json", stdout=os.path.join(run_dir, "bench.json"))
    return train_page, early_page


def escape(text):
    """As the page escapes text."""
    for c, e in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        text = text.replace(c, e)
    return text


def data_uris(html):
    """(mime, bytes) of every data: URI in the page."""
    return [(m, base64.b64decode(b, validate=True))
            for m, b in re.findall(r'src="data:([a-z/+]+);base64,([A-Za-z0-9+/=]*)"', html)]


def section(html, name):
    m = re.search(r'<section id="%s" data-present="([01])"[^>]*>(.*?)</section>' % name, html,
                  re.S)
    assert m, f"no section {name}"
    return m.group(1) == "1", m.group(2)


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "run")
        cls.train_page, cls.early_page = make_run(EDGEMLP, DATA, cls.dir)
        cls.page = os.path.join(cls.tmp.name, "report.html")
        cls.json = json.loads(run("report", cls.dir, "--out", cls.page, "--json").stdout)
        cls.html = slurp(cls.page, "r")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def copy_run(self, name, files):
        """A new run directory holding `files` of the complete one."""
        d = os.path.join(self.tmp.name, name)
        os.makedirs(d)
        for f in files:
            shutil.copy(os.path.join(self.dir, f), d)
        return d

    def test_json(self):
        j = self.json
        self.assertEqual(j["report"], self.page)
        self.assertEqual(j["run_dir"], self.dir)
        self.assertEqual([s["id"] for s in j["sections"]], SECTIONS)
        for s in j["sections"]:
            self.assertTrue(s["present"], s)
            self.assertNotIn("command", s)
            self.assertTrue(s["title"] and s["source"])

    def test_every_section_present(self):
        self.assertTrue(self.html.startswith("<!DOCTYPE html>\n<!-- edgemlp run report -->\n"))
        train = json.loads(slurp(os.path.join(self.dir, "train.json")))
        exported = json.loads(slurp(os.path.join(self.dir, "export.json")))
        bench = json.loads(slurp(os.path.join(self.dir, "bench.json")))
        for name in SECTIONS:
            present, body = section(self.html, name)
            self.assertTrue(present, name)
            self.assertNotIn("Not present", body)
        _, config = section(self.html, "configuration")
        for key in ("arch", "optimizer", "seed", "epochs", "regularization"):
            self.assertIn(f"<th>{key}</th>", config)
        self.assertIn("784-32-10", config)
        _, diagnostics = section(self.html, "diagnostics")
        self.assertEqual(diagnostics.count("<li>"), len(train["verdict"]))
        for finding in train["diagnostics"]:
            self.assertIn(f"<td>{finding['id']}</td>", diagnostics)
        _, quantization = section(self.html, "quantization")
        self.assertIn("quantized %.2f%%" % (100 * exported["report"]["quantized_accuracy"]),
                      quantization)
        self.assertEqual(len(re.findall(r"<tr><td>\d+</td><td>\d+ x \d+</td><td>int8</td>",
                                        quantization)), len(exported["layers"]))
        _, bench_html = section(self.html, "bench")
        for t in bench["targets"]:
            self.assertIn(f"<td>{t['target']}</td>", bench_html)
        _, misclassified = section(self.html, "misclassified")
        wrong = json.loads(slurp(os.path.join(self.dir, "misclassified.json")))
        self.assertEqual(misclassified.count("<tr>"), len(wrong) + 1)

    def test_pictures_are_the_runs(self):
        """The curves are SVGs of this history; confusion matrix and digits
        are the files of train --plots, byte for byte."""
        pictures = {name: data_uris(section(self.html, name)[1])
                    for name in ("curves", "confusion", "misclassified")}
        self.assertEqual([m for m, _ in pictures["curves"]], ["image/svg+xml"] * 2)
        for _, svg in pictures["curves"]:
            self.assertTrue(svg.startswith(b"<svg"))
            self.assertEqual(svg.count(b"<circle"), 2 * 2)  # train and validation, 2 epochs
        self.assertEqual(pictures["confusion"],
                         [("image/svg+xml", slurp(os.path.join(self.dir, "confusion.svg")))])
        self.assertEqual(pictures["misclassified"],
                         [("image/png", slurp(os.path.join(self.dir, "misclassified.png")))])
        # The loss chart is the one train --plots wrote.
        self.assertEqual(pictures["curves"][0][1], slurp(os.path.join(self.dir, "loss.svg")))
        self.assertEqual(pictures["curves"][1][1], slurp(os.path.join(self.dir, "accuracy.svg")))

    def test_nothing_fetched(self):
        for page in (self.html, slurp(self.train_page, "r")):
            self.assertNotRegex(page, r"(?i)https?:")
            self.assertNotRegex(page, r"(?i)(src|href)=\"(?!data:|#)")
            self.assertNotIn("<script", page)
            self.assertIn("Content-Security-Policy\" content=\"default-src 'none'", page)

    def test_train_report_is_the_same_page(self):
        # train --report ran before export and bench: the page `report` makes
        # of the directory at that point, byte for byte.
        self.assertEqual(slurp(self.train_page), slurp(self.early_page))
        page = slurp(self.early_page, "r")
        for name in ("quantization", "bench"):
            self.assertFalse(section(page, name)[0], name)

    def test_missing_sections_name_their_command(self):
        d = self.copy_run("bare", ["train.json"])
        j = json.loads(run("report", d, "--json").stdout)
        self.assertEqual(j["report"], d + "/report.html")
        missing = {s["id"]: s["command"] for s in j["sections"] if not s["present"]}
        self.assertEqual(sorted(missing), sorted(["confusion", "misclassified", "quantization",
                                                  "bench"]))
        self.assertIn("--plots " + d, missing["confusion"])
        self.assertIn(f"edgemlp export {self.dir}/model.bin", missing["quantization"])
        self.assertIn(f"> {d}/export.json", missing["quantization"])
        self.assertIn(f"edgemlp bench {d}/model.q8 --json > {d}/bench.json", missing["bench"])
        html = slurp(d + "/report.html", "r")
        for name in missing:
            present, body = section(html, name)
            self.assertFalse(present)
            self.assertIn("Not present", body)
            self.assertIn(escape(missing[name]), body)
        for name in ("configuration", "curves", "diagnostics"):
            self.assertTrue(section(html, name)[0])
        self.assertEqual(json.loads(run("report", d + "/", "--json").stdout)["report"],
                         d + "/report.html")
        human = run("report", d).stdout
        self.assertIn("not present, make it with: edgemlp bench", human)

    def test_text_from_files_is_escaped(self):
        d = self.copy_run("hostile", ["train.json", "export.json", "bench.json"])
        evil = "<script>alert(1)</script>&\"'"
        train = json.loads(slurp(os.path.join(d, "train.json")))
        train["arch"] = evil
        train[evil] = evil
        train["verdict"] = [evil]
        train["diagnostics"][0]["message"] = evil
        train["diagnostics"][0]["severity"] = evil
        train["model"] = evil
        train["history"][0]["epoch"] = 1e300  # drawn at its position
        train["history"][1]["val_loss"] = evil
        exported = json.loads(slurp(os.path.join(d, "export.json")))
        exported["report"]["changed"] = [{"index": evil, "label": evil, "float": 1, "quantized": 2}]
        exported["layers"][0]["weight_type"] = evil
        bench = json.loads(slurp(os.path.join(d, "bench.json")))
        bench["cpu"] = evil
        bench["targets"][0]["target"] = evil
        for name, obj in (("train.json", train), ("export.json", exported),
                          ("bench.json", bench)):
            with open(os.path.join(d, name), "w") as f:
                json.dump(obj, f)
        run("report", d)
        html = slurp(d + "/report.html", "r")
        self.assertNotIn("<script", html)
        self.assertNotIn(evil, html)
        escaped = escape(evil)
        # title, h1, model, config key and value, verdict, message, severity,
        # changed index and label, weight type, cpu, target; the commands
        # for the missing plots name the model too.
        self.assertGreaterEqual(html.count(escaped), 14)

    def test_refused_inputs(self):
        out = os.path.join(self.tmp.name, "refused.html")
        missing = os.path.join(self.tmp.name, "no-such-run")
        p = run("report", missing, "--out", out, expect=3)
        self.assertIn(missing + ": no such directory", p.stderr)
        p = run("report", os.path.join(self.dir, "train.json"), "--out", out, expect=3)
        self.assertIn("train.json: not a directory", p.stderr)
        empty = self.copy_run("empty", [])
        p = run("report", empty, "--out", out, expect=3)
        self.assertIn(empty + ": not a run directory: no train.json", p.stderr)

        count = itertools.count()

        def damaged(name, content, needle, base=("train.json",)):
            d = self.copy_run(f"damaged-{next(count)}", base)
            with open(os.path.join(d, name), "wb") as f:
                f.write(content)
            p = run("report", d, "--out", out, expect=3)
            self.assertIn(os.path.join(d, name) + ": " + needle, p.stderr)
            self.assertEqual(p.stdout, "")

        damaged("train.json", b'{"arch": "784-10", "hist', "not a JSON object")
        damaged("train.json", b"[1, 2]", "not a JSON object")
        damaged("train.json", b'{"arch": "784-10", "diagnostics": [], "verdict": []}',
                'no "history" key')
        damaged("train.json", b'{"arch": "7", "history": 3, "diagnostics": [], "verdict": []}',
                '"history", "diagnostics" and "verdict" must be arrays')
        damaged("export.json", b"not json", "not a JSON object (expected the output of "
                "`edgemlp export --json`)")
        damaged("bench.json", b'{"cpu": "x"}', 'no "targets" key')
        damaged("misclassified.png", b"GIF89a", "not a PNG image")
        damaged("confusion.svg", b"<html>", "not an SVG image")
        damaged("misclassified.json", b"{}", "not a JSON array")
        self.assertFalse(os.path.exists(out))
        self.assertEqual(run("report", expect=2).returncode, 2)

    def test_output_guard_and_atomic_write(self):
        d = self.copy_run("guard", ["train.json"])
        model = os.path.join(self.dir, "model.bin")
        victim = os.path.join(d, "victim.bin")
        shutil.copy(model, victim)
        p = run("report", d, "--out", victim, expect=3)
        self.assertIn("holds a float model, not an edgemlp run report", p.stderr)
        self.assertEqual(slurp(victim), slurp(model))
        run("report", d, "--out", victim, "--force")
        self.assertTrue(slurp(victim, "r").startswith("<!DOCTYPE html>"))
        run("report", d, "--out", victim)  # a page replaces a page
        # A failing report leaves the existing page whole, and no temporary file.
        before = slurp(victim)
        with open(os.path.join(d, "bench.json"), "w") as f:
            f.write("{")
        run("report", d, "--out", victim, expect=3)
        self.assertEqual(slurp(victim), before)
        self.assertEqual([f for f in os.listdir(d) if ".tmp." in f], [])
        # train --report refuses a non-page before it trains.
        p = run("train", "--data", DATA, "--arch", "784-8-10", "--epochs", "1",
                "--train-count", "500", "--out", os.path.join(d, "t.bin"), "--report", model,
                expect=3)
        self.assertIn(model + ": exists and holds a float model", p.stderr)
        self.assertNotIn("epoch", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "t.bin")))


if __name__ == "__main__":
    EDGEMLP = os.path.abspath(sys.argv.pop(1))
    DATA = os.environ.get("EDGEMLP_DATA") or os.path.join(
        os.environ.get("EDGEMLP_SOURCE_ROOT", "."), "data", "mnist")
    unittest.main(verbosity=2)
