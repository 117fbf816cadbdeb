#!/usr/bin/env python3
"""edgemlp import: ONNX and safetensors files made here, at test time.

Usage: import_test.py PATH/TO/edgemlp HAVE_ONNX(0|1)
The safetensors files are written with the standard library, the ONNX files
with python3-onnx's helpers (needed when edgemlp has ONNX). Each accepted
model is checked by behaviour: tiny IDX test sets are labelled with the
argmax of the file's own computation (pure Python, double precision) and
`edgemlp eval` of the imported model must get every label right; the
refused forms must exit 3 naming what was wrong.
"""
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest

EDGEMLP = None
HAVE_ONNX = False
ROWS, COLS = 3, 4  # 12 inputs
N_IMAGES = 40


def run(*args, expect=0):
    p = subprocess.run([EDGEMLP, *args], capture_output=True, text=True)
    if p.returncode != expect:
        raise AssertionError(f"edgemlp {' '.join(args)}: exit {p.returncode}, expected {expect}\n"
                             f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
    return p


def act(name, v):
    return {"relu": max(v, 0.0), "none": v, "tanh": math.tanh(v),
            "sigmoid": 1 / (1 + math.exp(-v))}[name]


def forward(layers, x):
    """layers: [(W rows, b, activation)]; x: real inputs."""
    for w, b, a in layers:
        x = [act(a, sum(wi * xi for wi, xi in zip(row, x)) + bi) for row, bi in zip(w, b)]
    return x


def random_layers(rng, sizes, acts):
    return [([[rng.uniform(-1, 1) for _ in range(sizes[i])] for _ in range(sizes[i + 1])],
             [rng.uniform(-0.5, 0.5) for _ in range(sizes[i + 1])], acts[i])
            for i in range(len(sizes) - 1)]


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def rounded(layers, conv):
    return [([[conv(v) for v in row] for row in w], [conv(v) for v in b], a) for w, b, a in layers]


def write_idx_set(directory, layers, scale, offset, seed):
    """Images whose labels are the reference argmax (clear winners only)."""
    rng = random.Random(seed)
    images, labels = [], []
    while len(images) < N_IMAGES:
        pixels = [rng.randrange(256) for _ in range(ROWS * COLS)]
        out = forward(layers, [p * scale + offset for p in pixels])
        top = sorted(out, reverse=True)
        if top[0] - top[1] < 1e-3 * max(1.0, abs(top[0])):
            continue
        images.append(pixels)
        labels.append(out.index(top[0]))
    # eval reads the test files; the training files need every class once
    # (a data set with a class never seen in training is refused).
    classes = len(layers[-1][1])
    sets = {"t10k": (images, labels), "train": (images[:classes], list(range(classes)))}
    for prefix, (set_images, set_labels) in sets.items():
        with open(os.path.join(directory, prefix + "-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, len(set_images), ROWS, COLS))
            f.write(bytes(p for image in set_images for p in image))
        with open(os.path.join(directory, prefix + "-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, len(set_labels)) + bytes(set_labels))
    return labels


def safetensors_bytes(tensors, dtype="F32", header_pad=0):
    """tensors: [(name, shape, flat values)] -> the file's bytes."""
    pack = {"F32": lambda v: struct.pack("<f", v), "F64": lambda v: struct.pack("<d", v),
            "F16": lambda v: struct.pack("<e", v),
            "BF16": lambda v: struct.pack("<f", v)[2:]}[dtype]
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, shape, values in tensors:
        raw = b"".join(pack(v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode() + b" " * header_pad
    return struct.pack("<Q", len(text)) + text + data


def state_dict(layers, names):
    out = []
    for (w, b, _), name in zip(layers, names):
        out.append((name + ".weight", [len(w), len(w[0])], [v for row in w for v in row]))
        out.append((name + ".bias", [len(b)], b))
    return out


def bf16(v):
    return struct.unpack("<f", b"\0\0" + struct.pack("<f", v)[2:])[0]


def f16(v):
    return struct.unpack("<e", struct.pack("<e", v))[0]


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="edgemlp-import-")

    def path(self, name):
        return os.path.join(self.dir, name)

    def accept(self, data, layers, extra=(), scale=1 / 255, offset=0.0, name="m.safetensors"):
        """Imports `data`, then evaluates the model on images labelled by `layers`."""
        with open(self.path(name), "wb") as f:
            f.write(data)
        out = json.loads(run("import", self.path(name), "--out", self.path("m.fmlp"), "--json",
                             *extra).stdout)
        self.assertTrue(out["check"]["ok"], out)
        write_idx_set(self.dir, layers, scale, offset, seed=len(data))
        ev = json.loads(run("eval", self.path("m.fmlp"), "--data", self.dir, "--json").stdout)
        self.assertEqual(ev["accuracy"], 1.0, ev)
        return out

    def refuse(self, data, *needles, name="bad.safetensors"):
        with open(self.path(name), "wb") as f:
            f.write(data)
        p = run("import", self.path(name), "--out", self.path("x.fmlp"), expect=3)
        for needle in needles:
            self.assertIn(needle, p.stderr)
        self.assertIn(self.path(name), p.stderr)
        self.assertFalse(os.path.exists(self.path("x.fmlp")))


class Safetensors(Base):
    def test_dtypes(self):
        rng = random.Random(1)
        layers = random_layers(rng, [12, 8, 5, 3], ["relu", "relu", "none"])
        for dtype, conv in (("F32", f32), ("F64", float), ("F16", f16), ("BF16", bf16)):
            with self.subTest(dtype=dtype):
                exact = rounded(layers, conv)
                out = self.accept(safetensors_bytes(state_dict(exact, ["0", "2", "4"]), dtype),
                                  rounded(exact, f32))
                self.assertEqual(out["architecture"], "12-8-5-3")
                self.assertEqual(out["format"], "safetensors")
                self.assertEqual([l["activation"] for l in out["layers"]], ["relu", "relu", "none"])

    def test_natural_order_activation_and_input_normalize(self):
        # Lexicographic order would put layers.10 (8 -> 3) before layers.2 (12 -> 8).
        rng = random.Random(2)
        layers = rounded(random_layers(rng, [12, 8, 3], ["tanh", "none"]), f32)
        mean, std = 0.25, 0.5
        out = self.accept(safetensors_bytes(state_dict(layers, ["layers.2", "layers.10"])),
                          layers, ("--activation", "tanh", "--input-normalize", f"{mean},{std}"),
                          scale=1 / (255 * std), offset=-mean / std, name="m.bin")
        self.assertEqual(out["layers"][0]["source"], "layers.2.weight, layers.2.bias")
        self.assertFalse(out["int8_exportable"])

    def test_refused(self):
        rng = random.Random(3)
        good = safetensors_bytes(state_dict(random_layers(rng, [12, 8, 3], ["relu", "none"]),
                                            ["0", "2"]))
        self.refuse(good[:len(good) - 5], "data_offsets")  # truncated data
        self.refuse(good[:6], "too short")
        self.refuse(struct.pack("<Q", 1 << 40) + good[8:], "header length")
        self.refuse(struct.pack("<Q", len(good)) + good[8:], "header length")
        self.refuse(good[:8] + b"[" + good[9:], "JSON object")
        w = [("0.weight", [8, 12], [0.5] * 96), ("0.bias", [7], [0.0] * 7)]
        self.refuse(safetensors_bytes(w), "'0.bias'", "[7]")  # bias shape mismatch
        w = [("0.weight", [8, 12], [0.5] * 96), ("1.weight", [3, 9], [0.5] * 27)]
        self.refuse(safetensors_bytes(w), "takes 9 inputs", "gives 8")
        w = [("0.weight", [8, 12], [0.5] * 96), ("bn.running_mean", [8], [0.0] * 8)]
        self.refuse(safetensors_bytes(w), "bn.running_mean", "Linear")
        w = [("0.weight", [8, 12], [float("nan")] * 96)]
        self.refuse(safetensors_bytes(w), "NaN")
        w = [("0.weight", [2, 2], [1.0] * 4)]
        self.refuse(safetensors_bytes(w).replace(b"F32", b"I32"), "dtype I32")


def onnx_model(nodes, initializers, input_shape, output="y"):
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def tensor(name, dims, values, raw):
    from onnx import TensorProto, helper
    if raw:
        return helper.make_tensor(name, TensorProto.FLOAT, dims,
                                  b"".join(struct.pack("<f", v) for v in values), raw=True)
    return helper.make_tensor(name, TensorProto.FLOAT, dims, values)


def transpose(w):
    return [list(col) for col in zip(*w)]


class Onnx(Base):
    def setUp(self):
        super().setUp()
        if not HAVE_ONNX:
            self.skipTest("edgemlp built without ONNX")

    def test_gemm_chain(self):
        from onnx import helper
        rng = random.Random(4)
        (w0, b0, _), (w1, b1, _) = rounded(random_layers(rng, [12, 6, 4], ["relu", "none"]), f32)
        alpha, beta = 0.5, 2.0
        nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
                 helper.make_node("Gemm", ["f", "W0", "B0"], ["h"], name="fc0", transB=1),
                 helper.make_node("Relu", ["h"], ["r"], name="relu0"),
                 helper.make_node("Gemm", ["r", "W1", "B1"], ["z"], name="fc1", alpha=alpha, beta=beta),
                 helper.make_node("LogSoftmax", ["z"], ["y"], name="out", axis=1)]
        inits = [tensor("W0", [6, 12], [v for r in w0 for v in r], raw=True),
                 tensor("B0", [6], b0, raw=True),
                 tensor("W1", [6, 4], [v for r in transpose(w1) for v in r], raw=False),
                 tensor("B1", [4], b1, raw=False)]
        reference = [(w0, b0, "relu"),
                     ([[alpha * v for v in r] for r in w1], [beta * v for v in b1], "none")]
        out = self.accept(onnx_model(nodes, inits, ["batch", 1, ROWS, COLS]), reference,
                          name="m.onnx")
        self.assertEqual(out["format"], "onnx")
        self.assertEqual((out["input_rows"], out["input_cols"]), (ROWS, COLS))
        self.assertEqual([l["activation"] for l in out["layers"]], ["relu", "none"])
        self.assertTrue(any("LogSoftmax" in n for n in out["notes"]), out["notes"])

    def test_matmul_add_sigmoid(self):
        from onnx import helper
        rng = random.Random(5)
        (w0, b0, _), (w1, b1, _) = rounded(random_layers(rng, [12, 7, 3], ["sigmoid", "none"]), f32)
        nodes = [helper.make_node("MatMul", ["x", "W0"], ["m0"], name="mm0"),
                 helper.make_node("Add", ["B0", "m0"], ["a0"], name="add0"),  # either order
                 helper.make_node("Sigmoid", ["a0"], ["s0"], name="sig0"),
                 helper.make_node("MatMul", ["s0", "W1"], ["m1"], name="mm1"),
                 helper.make_node("Add", ["m1", "B1"], ["y"], name="add1")]
        inits = [tensor("W0", [12, 7], [v for r in transpose(w0) for v in r], raw=True),
                 tensor("B0", [7], b0, raw=True),
                 tensor("W1", [7, 3], [v for r in transpose(w1) for v in r], raw=True),
                 tensor("B1", [1, 3], b1, raw=True)]
        out = self.accept(onnx_model(nodes, inits, ["batch", 12]),
                          [(w0, b0, "sigmoid"), (w1, b1, "none")], name="m.onnx")
        self.assertEqual(out["architecture"], "12-7-3")

    def test_refused_forms(self):
        from onnx import helper
        w = tensor("W", [3, 12], [0.25] * 36, raw=True)
        gemm = helper.make_node("Gemm", ["x", "W"], ["y"], name="fc", transB=1)
        good = onnx_model([gemm], [w], ["batch", 12])
        self.refuse(good[:len(good) // 2], "not an ONNX model", name="t.onnx")
        conv = helper.make_node("Conv", ["x", "W"], ["y"], name="conv1")
        self.refuse(onnx_model([conv], [w], ["batch", 12]), "'conv1'", "Conv", name="c.onnx")
        mismatch = helper.make_node("Gemm", ["x", "W"], ["y"], name="fc")  # no transB: 3 inputs
        self.refuse(onnx_model([mismatch], [w], ["batch", 12]), "'fc'", "take 3 inputs",
                    "has 12", name="s.onnx")
        side = helper.make_node("Gemm", ["x", "V"], ["y"], name="fc2", transB=1)
        self.refuse(onnx_model([side], [w], ["batch", 12]), "'fc2'", "'V'", name="v.onnx")
        # An input whose dims overflow 64 bits when multiplied: no layer fits it.
        flat = helper.make_node("Flatten", ["x"], ["f"], name="flat")
        big = helper.make_node("Gemm", ["f", "W"], ["y"], name="fc3", transB=1)
        self.refuse(onnx_model([flat, big], [w], ["batch", 1 << 40, 1 << 40]), "'fc3'", "take 12",
                    name="o.onnx")
        # The data input cast before the MLP: Cast is not supported.
        cast = helper.make_node("Cast", ["x"], ["c"], name="cast0", to=1)
        self.refuse(onnx_model([cast, gemm], [w], ["batch", 12]), "'cast0'", "Cast", name="k.onnx")


class NoOnnx(unittest.TestCase):
    def test_says_built_without(self):
        if HAVE_ONNX:
            self.skipTest("edgemlp has ONNX")
        d = tempfile.mkdtemp(prefix="edgemlp-import-")
        path = os.path.join(d, "m.onnx")
        with open(path, "wb") as f:
            f.write(b"\x08\x07")
        p = run("import", path, "--out", os.path.join(d, "m.fmlp"), expect=3)
        self.assertIn("without ONNX support", p.stderr)


if __name__ == "__main__":
    EDGEMLP = sys.argv[1]
    HAVE_ONNX = sys.argv[2] == "1"
    if HAVE_ONNX:
        try:
            import onnx  # noqa: F401
        except ImportError:
            sys.exit("import_test: edgemlp has ONNX, python3-onnx is missing (install-deps.sh)")
    unittest.main(argv=sys.argv[:1], verbosity=2)
