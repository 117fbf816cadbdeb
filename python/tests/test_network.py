"""The edgemlp module on the blobs in tests/data: loading, inputs it refuses, the
properties, batches against single images, threads, and every SIMD target."""
import json
import os
import pathlib
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import edgemlp
from conftest import CLI


def random_images(n, seed=1):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)


def test_loads_from_path_pathlike_and_bytes(golden_path):
    x = random_images(50)
    want = edgemlp.Network(golden_path).predict(x)
    blob = pathlib.Path(golden_path).read_bytes()
    for source in (pathlib.Path(golden_path), blob, bytearray(blob), memoryview(blob)):
        classes, logits = edgemlp.Network(source).predict(x)
        np.testing.assert_array_equal(classes, want[0])
        np.testing.assert_array_equal(logits, want[1])


def test_properties(golden_path):
    net = edgemlp.Network(golden_path)
    assert (net.input_size, net.output_size) == (784, 10)
    assert net.layers == [
        {"in": 784, "out": 32, "weight_type": "int8", "relu": True},
        {"in": 32, "out": 10, "weight_type": "int8", "relu": False},
    ]
    assert net.arena_bytes > 0
    assert net.logit_scale > 0
    assert "784-32-10" in repr(net)


@pytest.mark.cli
def test_layers_match_inspect(affine_path):
    j = json.loads(subprocess.run([CLI, "inspect", affine_path, "--json"], check=True,
                                  capture_output=True, text=True).stdout)
    want = [{"in": l["in_size"], "out": l["out_size"], "weight_type": l["weight_type"],
             "relu": l["activation"] == "relu"} for l in j["layers"]]
    net = edgemlp.Network(affine_path)
    assert net.layers == want
    assert (net.input_size, net.output_size) == (j["input_size"], j["output_size"])
    assert (net.input_scale, net.input_offset) == pytest.approx((j["input_scale"], j["input_offset"]))


def test_one_image_and_batches_agree(affine_path):
    net = edgemlp.Network(affine_path)
    x = random_images(150)  # more than one kernel pass of 64 images, and a remainder
    classes, logits = net.predict(x)
    assert classes.shape == (150,) and logits.shape == (150, 10)
    assert logits.dtype == np.int32 and classes.dtype.kind == "i"
    # The class is the first largest logit.
    np.testing.assert_array_equal(classes, np.argmax(logits, axis=1))
    for i in (0, 63, 64, 149):
        c, l = net.predict(x[i])
        assert isinstance(c, int) and c == classes[i]
        assert l.shape == (10,)
        np.testing.assert_array_equal(l, logits[i])
    # Read-only input (np.frombuffer over bytes) is read in place.
    ro = np.frombuffer(x.tobytes(), dtype=np.uint8).reshape(150, 784)
    np.testing.assert_array_equal(net.predict(ro)[1], logits)
    empty_classes, empty_logits = net.predict(np.empty((0, 784), np.uint8))
    assert empty_classes.shape == (0,) and empty_logits.shape == (0, 10)


@pytest.mark.parametrize("x", [
    np.zeros(784, np.float32), np.zeros((2, 784), np.int8), np.zeros(784, np.uint16),
    np.zeros(784, np.bool_), [0] * 784, b"\0" * 784],
    ids=["float32", "int8", "uint16", "bool", "list", "bytes"])
def test_wrong_type_is_a_type_error(golden_path, x):
    with pytest.raises(TypeError, match="uint8"):
        edgemlp.Network(golden_path).predict(x)


@pytest.mark.parametrize("shape", [(783,), (2, 785), (2, 2, 784), (), (784, 1)])
def test_wrong_shape_is_a_value_error(golden_path, shape):
    with pytest.raises(ValueError, match=r"expected shape \(784,\) or \(N, 784\)"):
        edgemlp.Network(golden_path).predict(np.zeros(shape, np.uint8))


def test_non_contiguous_input_is_refused_not_copied(golden_path):
    net = edgemlp.Network(golden_path)
    x = random_images(20)
    every_other = x[::2]
    fortran = np.asfortranarray(x)
    strided_row = np.repeat(x[0], 2)[::2]
    for bad in (every_other, fortran, strided_row):
        with pytest.raises(ValueError, match="not C-contiguous.*ascontiguousarray"):
            net.predict(bad)
    # The copy the message asks for gives the rows' own results.
    np.testing.assert_array_equal(net.predict(np.ascontiguousarray(every_other))[1],
                                  net.predict(x)[1][::2])


def test_missing_file(tmp_path):
    path = tmp_path / "missing.q8"
    with pytest.raises(edgemlp.LoadError) as e:
        edgemlp.Network(path)
    assert isinstance(e.value, ValueError)
    assert e.value.status == "io_error"
    assert str(path) in e.value.message and "cannot open" in str(e.value)


def test_truncated_and_damaged_files(golden_path, tmp_path):
    blob = pathlib.Path(golden_path).read_bytes()
    short = tmp_path / "short.q8"
    short.write_bytes(blob[:len(blob) // 2])
    with pytest.raises(edgemlp.LoadError) as e:
        edgemlp.Network(str(short))
    assert e.value.status == "truncated" and str(short) in e.value.message
    damaged = bytearray(blob)
    damaged[len(blob) // 2] ^= 0x01  # a weight byte: only the CRC notices
    with pytest.raises(edgemlp.LoadError) as e:
        edgemlp.Network(bytes(damaged))
    assert e.value.status == "bad_checksum" and e.value.message.startswith("<bytes>: ")
    with pytest.raises(edgemlp.LoadError) as e:
        edgemlp.Network(b"")
    assert e.value.status == "truncated"


def test_wrong_source_type():
    with pytest.raises(TypeError, match="path .* or bytes, got int"):
        edgemlp.Network(42)
    with pytest.raises(ValueError, match="NUL"):
        edgemlp.Network("tests/data/golden_v1_0.bin\0.txt")


def test_every_target_gives_the_same_logits(affine_path):
    net = edgemlp.Network(affine_path)
    x = random_images(200, seed=7)
    best = net.target
    assert best in net.targets
    want = net.predict(x)[1]
    ran = []
    try:
        for name in net.targets:
            net.force_target(name)
            assert net.target == name
            np.testing.assert_array_equal(net.predict(x)[1], want, err_msg=name)
            ran.append(name)
    finally:
        net.force_target(None)
    assert net.target == best
    assert ran == net.targets and len(ran) >= 1
    with pytest.raises(ValueError, match="not available here"):
        net.force_target("NO_SUCH_TARGET")


def test_threads_share_a_network(affine_path):
    # The GIL is released during a batch: the Network's lock keeps two
    # threads out of its scratch arena at the same time (without it, they
    # read each other's activations and this fails).
    net = edgemlp.Network(affine_path)
    inputs = [random_images(20000, seed=s) for s in range(3)]
    want = [net.predict(x)[1] for x in inputs]
    wrong = []
    start = threading.Barrier(len(inputs))

    def work(i):
        start.wait()
        for _ in range(10):
            if not np.array_equal(net.predict(inputs[i])[1], want[i]):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_predict_releases_the_gil(golden_path):
    # While one thread is inside a long predict(), another runs Python code:
    # it records times strictly inside the call. With the GIL held it could
    # not: a switch interval longer than the call keeps the interpreter from
    # taking the GIL away from the caller. A few tries: a loaded machine may
    # not schedule the main thread during one call.
    net = edgemlp.Network(golden_path)
    x = np.tile(random_images(1000), (60, 1))  # 60,000 images, some milliseconds
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.2)
    try:
        for _ in range(10):
            call = []
            worker = threading.Thread(target=lambda: call.extend(
                [time.perf_counter(), net.predict(x), time.perf_counter()]))
            ticks = []
            worker.start()
            while worker.is_alive():
                ticks.append(time.perf_counter())
            worker.join()
            if any(call[0] < t < call[2] for t in ticks):
                return
    finally:
        sys.setswitchinterval(interval)
    pytest.fail("no Python code ran during 10 predict() calls: is the GIL released?")


def blob_sections(path):
    """The known-answer input and logits and the affine scale/offset of a 1.2 blob."""
    b = pathlib.Path(path).read_bytes()
    input_size, output_size = struct.unpack_from("<I", b, 32)[0], struct.unpack_from("<I", b, 52)[0]
    _, _, kat_in, kat_out, xform, _ = struct.unpack_from("<6I", b, 64)
    kat = np.frombuffer(b, np.uint8, input_size, kat_in)
    want = np.frombuffer(b, "<i4", output_size, kat_out)
    if struct.unpack_from("<I", b, xform)[0] != 1:  # not affine
        return kat, want, None, None
    scale = np.frombuffer(b, "<f4", input_size, xform + 64)
    offset = np.frombuffer(b, "<f4", input_size, xform + 128)  # 64 + align64(4 * 5)
    return kat, want, scale, offset


def quantize(x, scale, offset):
    """The affine transform's definition: in double, rounded half to even, clamped."""
    return np.clip(np.rint(x.astype(np.float64) * scale + offset), 0, 255).astype(np.uint8)


def test_predict_float_runs_the_affine_transform(features_path):
    net = edgemlp.Network(features_path)
    assert net.input_transform == {"kind": "affine", "in_size": 5, "out_size": 5}
    kat, want, scale, offset = blob_sections(features_path)
    # Raw features that quantize to the known-answer input must give its logits.
    x = ((kat.astype(np.float64) - offset) / scale).astype(np.float32)
    np.testing.assert_array_equal(quantize(x, scale, offset), kat)
    c, logits = net.predict_float(x)
    np.testing.assert_array_equal(logits, want)
    assert c == int(np.argmax(want))
    # Batches agree with rows, and features with the same quantization agree.
    rng = np.random.default_rng(2)
    xs = rng.normal(0, 60, size=(70, 5)).astype(np.float32)
    classes, batch = net.predict_float(xs)
    assert batch.shape == (70, 2)
    for i in (0, 69):
        np.testing.assert_array_equal(net.predict_float(xs[i])[1], batch[i])
    nudged = np.nextafter(x, np.float32(np.inf))  # far from any .5: same q
    np.testing.assert_array_equal(quantize(nudged, scale, offset), kat)
    np.testing.assert_array_equal(net.predict_float(nudged)[1], want)


def test_predict_float_refuses_bad_input(features_path, golden_path):
    net = edgemlp.Network(features_path)
    xs = np.zeros((3, 5), np.float32)
    xs[1, 2] = np.nan
    with pytest.raises(ValueError, match="feature 2 of row 1 is nan"):
        net.predict_float(xs)
    with pytest.raises(ValueError, match="feature 4 is inf"):
        net.predict_float(np.array([0, 0, 0, 0, np.inf], np.float32))
    with pytest.raises(TypeError, match="float32"):
        net.predict_float(np.zeros(5, np.float64))
    with pytest.raises(ValueError, match=r"expected shape \(5,\)"):
        net.predict_float(np.zeros(6, np.float32))
    with pytest.raises(TypeError, match="predict_float"):
        net.predict(np.zeros(5, np.uint8))
    with pytest.raises(TypeError, match="use predict"):
        edgemlp.Network(golden_path).predict_float(np.zeros(784, np.float32))


def test_area_blob_takes_the_large_image(area_path):
    net = edgemlp.Network(area_path)
    assert net.input_transform == {"kind": "area", "in_size": 64, "out_size": 16,
                                   "in_rows": 8, "in_cols": 8, "out_rows": 4, "out_cols": 4}
    assert net.input_size == 64 and net.layers[0]["in"] == 16
    kat, want, _, _ = blob_sections(area_path)
    np.testing.assert_array_equal(net.predict(kat.copy())[1], want)
    for target in edgemlp.Network.targets:
        edgemlp.Network.force_target(target)
        try:
            np.testing.assert_array_equal(net.predict(kat.copy())[1], want)
        finally:
            edgemlp.Network.force_target(None)
