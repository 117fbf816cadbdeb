#!/usr/bin/env python3
"""tools/scripts/model-zoo.py without training: its Pareto frontier, the chart
it draws and the rows it keeps from before weight bytes were recorded.

Usage: model_zoo_test.py tools/scripts/model-zoo.py
"""
import importlib.util
import sys
import unittest
import xml.etree.ElementTree as ET

zoo = None
SVG = "{http://www.w3.org/2000/svg}"


def row(name, bytes_, accuracy, us=1.0):
    return {"name": name, "weight_bytes": bytes_, "runtime_accuracy": accuracy, "batch1_us": us}


class ParetoTest(unittest.TestCase):

    def test_keeps_only_rows_nothing_beats(self):
        points = [(100, 98.0),   # beaten by 50 B at 99.0
                  (50, 99.0),
                  (300, 99.5),
                  (200, 99.5),   # beats 300 B: same accuracy, fewer bytes
                  (50, 97.0),    # same bytes as index 1, less accurate
                  (10, 96.0)]
        self.assertEqual(zoo.pareto(points), [5, 1, 3])

    def test_equal_points_both_stay(self):
        self.assertEqual(zoo.pareto([(10, 99.0), (10, 99.0), (20, 98.0)]), [0, 1])


class ChartTest(unittest.TestCase):

    def setUp(self):
        self.rows = [row("micro", 12016, 0.9905, 0.3), row("tiny", 31000, 0.9922, 0.5),
                     row("784-32-10", 25408, 0.9757, 0.4), row("a<b&c", 101632, 0.9812),
                     row("best", 1275200, 0.9951, 18.5)]
        self.svg = ET.fromstring(zoo.frontier_svg(self.rows))

    def test_one_circle_per_row_and_one_mark_per_anchor(self):
        rows = [c for c in self.svg.iter(SVG + "circle") if c.get("class") == "row"]
        self.assertEqual(len(rows), len(self.rows))
        anchors = [p for p in self.svg.iter(SVG + "path") if p.get("class") == "anchor"]
        self.assertEqual(len(anchors), len(zoo.ANCHORS))
        texts = [t.text for t in self.svg.iter(SVG + "text")]
        for label in ["micro 0.3 µs", "tiny 0.5 µs", "a<b&c 1.0 µs", "best 18.5 µs"]:
            self.assertIn(label, texts)
        for anchor in zoo.ANCHORS:
            self.assertIn(anchor[0], texts)

    def test_frontier_joins_the_unbeaten_rows_left_to_right(self):
        circles = {c.find(SVG + "title").text.split(":")[0]: (float(c.get("cx")), float(c.get("cy")))
                   for c in self.svg.iter(SVG + "circle") if c.get("class") == "row"}
        line = next(self.svg.iter(SVG + "polyline"))
        points = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
        self.assertEqual(points, [circles["micro"], circles["tiny"], circles["best"]])
        # More bytes is further right, more accuracy further up.
        self.assertLess(circles["micro"][0], circles["784-32-10"][0])
        self.assertLess(circles["micro"][1], circles["784-32-10"][1])

    def test_row_labels_do_not_overlap(self):
        # Three rows almost on one spot, next to BitNetMCU's anchor: the
        # labels move apart (each box as the placer estimates it).
        rows = self.rows + [row("near1", 13000, 0.9903), row("near2", 14000, 0.9904)]
        svg = ET.fromstring(zoo.frontier_svg(rows))
        boxes = []
        for t in svg.iter(SVG + "text"):
            if t.get("fill") != "#1f5fa8":
                continue
            w, x, y = 7.0 * len(t.text), float(t.get("x")), float(t.get("y"))
            x0 = x - {"start": 0, "middle": w / 2, "end": w}[t.get("text-anchor")]
            boxes.append((x0, y - 10, x0 + w, y + 3))
        self.assertEqual(len(boxes), len(rows))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                self.assertFalse(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3],
                                 (a, b))


class KeptRowTest(unittest.TestCase):

    def test_int8_row_from_before_gets_its_weight_bytes(self):
        old = {"name": "784-32-10", "arch": "784-32-10", "int8_accuracy": 0.9757, "weights": 25408}
        new = zoo.upgrade(old)
        self.assertEqual(new["runtime_accuracy"], 0.9757)
        self.assertNotIn("int8_accuracy", new)
        self.assertEqual(new["weight_bytes"], 784 * 32 + 32 * 10)
        self.assertEqual(zoo.schemes(new), "int8")
        self.assertEqual(list(new), ["name", "arch", "runtime_accuracy", "weights",
                                     "weight_bytes", "weight_types"])

    def test_measured_row_is_kept_as_it_is(self):
        measured = {"name": "micro", "arch": "256-32-10", "runtime_accuracy": 0.99,
                    "weights": 8512, "weight_bytes": 4256, "weight_types": ["int4", "int8"]}
        self.assertEqual(zoo.upgrade(measured), measured)
        self.assertEqual(zoo.schemes(measured), "int4,int8")


if __name__ == "__main__":
    spec = importlib.util.spec_from_file_location("model_zoo", sys.argv[1])
    zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo)
    unittest.main(argv=sys.argv[:1], verbosity=2)
