"""Runs pytest files of the edgemlp module for `meson test` (python/meson.build).

Usage: run.py [--mnist] TEST_FILE...
  --mnist  the files need the MNIST test set ($EDGEMLP_DATA): without it, exit 77
           (meson: skipped), as the other MNIST suites do.
pytest's own exit codes pass through: 5 (no tests collected) fails the test like any
error, and a test that skips fails the run too (-W is not enough: see the hook in
conftest.py), so nothing can pass without having run.
"""
import os
import sys

if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--mnist":
        args = args[1:]
        if not os.environ.get("EDGEMLP_DATA"):
            print("python_mnist: $EDGEMLP_DATA is not set (MNIST); skipped")
            sys.exit(77)
    try:
        import pytest
    except ImportError:
        print("python tests: pytest is missing (Debian: python3-pytest)", file=sys.stderr)
        sys.exit(1)
    # No cache directory in the source tree; -rA lists every outcome.
    sys.exit(pytest.main(["-p", "no:cacheprovider", "-rA", *args]))
