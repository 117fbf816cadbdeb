"""Shared fixtures of the edgemlp module's tests, and the rule that no test may skip."""
import os

import pytest

SOURCE_ROOT = os.environ.get("EDGEMLP_SOURCE_ROOT",
                             os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = os.path.join(SOURCE_ROOT, "tests", "data")


@pytest.fixture
def golden_path():
    """An int8 784-32-10 blob in format 1.0 (tests/data/make_golden_v1_0.sh)."""
    return os.path.join(DATA_DIR, "golden_v1_0.bin")


@pytest.fixture
def affine_path():
    """An int8 784-32-10 blob in format 1.1, with a known-answer vector."""
    return os.path.join(DATA_DIR, "tiny_affine.q8")


@pytest.fixture
def features_path():
    """An int8 5-4-2 blob with an affine input transform (format 1.2; made by
    tests/fuzz/make_seeds.cc, scale 1, 2, 0.5, 100, -3 and offset 0, 128, 10, -5, 255)."""
    return os.path.join(SOURCE_ROOT, "tests", "fuzz", "corpus", "fuzz_blob", "int8-affine-5-4-2.bin")


@pytest.fixture
def area_path():
    """An int8 16-8-4 blob that downsamples 8x8 images to 4x4 (format 1.2; make_seeds.cc)."""
    return os.path.join(SOURCE_ROOT, "tests", "fuzz", "corpus", "fuzz_blob", "int8-area-8x8-4x4.bin")


def pytest_sessionfinish(session, exitstatus):
    # A skipped test proves nothing: the run fails if one skipped.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 1


CLI = os.environ.get("EDGEMLP_CLI")  # tools/edgemlp, when the build has it


def pytest_configure(config):
    config.addinivalue_line("markers", "cli: compares with the edgemlp CLI ($EDGEMLP_CLI)")
