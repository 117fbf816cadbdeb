"""The 10,000 MNIST test images through the module: the same predictions_sha256 and
outputs_sha256 as `edgemlp eval --json`, on every SIMD target. Needs $EDGEMLP_DATA."""
import gzip
import hashlib
import json
import os
import subprocess

import numpy as np
import pytest

import edgemlp
from conftest import CLI, DATA_DIR

MNIST = os.environ.get("EDGEMLP_DATA", "")


def read_idx(name, header):
    with gzip.open(os.path.join(MNIST, name)) as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


@pytest.fixture(scope="module")
def test_set():
    images = read_idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)
    labels = read_idx("t10k-labels-idx1-ubyte.gz", 8)
    assert images.shape == (10000, 784) and labels.shape == (10000,)
    return images, labels


def digests(classes, logits):
    # As `edgemlp eval` hashes them: one byte per class, logits as little-endian int32.
    return {"predictions_sha256": hashlib.sha256(classes.astype(np.uint8).tobytes()).hexdigest(),
            "outputs_sha256": hashlib.sha256(logits.astype("<i4").tobytes()).hexdigest()}


def test_golden_digests(test_set):
    # golden_v1_0.json: what the v1.0 runtime printed for this blob (make_golden_v1_0.sh).
    images, labels = test_set
    with open(os.path.join(DATA_DIR, "golden_v1_0.json")) as f:
        golden = json.load(f)
    classes, logits = edgemlp.Network(os.path.join(DATA_DIR, "golden_v1_0.bin")).predict(images)
    assert digests(classes, logits) == {k: golden[k] for k in ("predictions_sha256", "outputs_sha256")}
    assert int((classes == labels).sum()) == golden["correct"]


@pytest.mark.cli
@pytest.mark.parametrize("blob", ["golden_v1_0.bin", "tiny_affine.q8"])
def test_same_digests_as_eval_on_every_target(test_set, blob):
    images, labels = test_set
    path = os.path.join(DATA_DIR, blob)
    net = edgemlp.Network(path)
    ran = []
    try:
        for name in net.targets:
            net.force_target(name)
            classes, logits = net.predict(images)
            cli = json.loads(subprocess.run(
                [CLI, "eval", path, "--data", MNIST, "--target", name, "--json"],
                check=True, capture_output=True, text=True).stdout)
            assert cli["engine"] == name
            assert digests(classes, logits) == {k: cli[k] for k in
                                                ("predictions_sha256", "outputs_sha256")}, name
            assert int((classes == labels).sum()) == cli["correct"]
            ran.append(name)
    finally:
        net.force_target(None)
    assert ran and ran == net.targets
