#!/usr/bin/env python3
"""`meson install` as a user of the library sees it.

Usage: install_test.py MESON BUILD_DIR BLOB MAN_PAGES(0|1)
Installs BUILD_DIR into a temporary DESTDIR, then, with nothing but
`pkg-config` pointed at that tree (PKG_CONFIG_PATH, PKG_CONFIG_SYSROOT_DIR),
compiles tests/install/consumer.c and consumer.cc out of tree (-Werror:
the installed headers must be clean for users), runs them on BLOB over the
10,000 MNIST test images ($EDGEMLP_DATA, else data/mnist) and checks that
their predictions and logits hash to the predictions_sha256 and
outputs_sha256 of the installed `edgemlp eval --json`; then again linked
against the static library alone (`pkg-config --static`). Also checks the
layout (headers, units, sysusers, man pages), the soname and that
libedgemlp.so exports the API only, and imports a Python module edgemlp*.so
if the install has one. Without MNIST the hash comparisons are skipped.
"""
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MESON = BUILD = BLOB = None
MAN_PAGES = False


def run(cmd, env=None, **kwargs):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, **kwargs)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p.stdout


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class InstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="edgemlp-install-")
        cls.dest = os.path.join(cls.tmp, "root")
        run([MESON, "install", "-C", BUILD, "--no-rebuild", "--destdir", cls.dest])
        pcs = glob.glob(os.path.join(cls.dest, "**", "pkgconfig", "edgemlp.pc"), recursive=True)
        assert len(pcs) == 1, f"one edgemlp.pc under {cls.dest}, found {pcs}"
        cls.pc_dir = os.path.dirname(pcs[0])
        cls.libdir = os.path.dirname(cls.pc_dir)
        with open(pcs[0]) as f:
            cls.prefix = re.search(r"^prefix=(.*)$", f.read(), re.M).group(1)
        cls.root = cls.dest + cls.prefix  # the installed prefix inside DESTDIR
        cls.env = dict(os.environ, PKG_CONFIG_PATH=cls.pc_dir, PKG_CONFIG_SYSROOT_DIR=cls.dest,
                       LD_LIBRARY_PATH=cls.libdir)
        cls.data = os.environ.get("EDGEMLP_DATA") or os.path.join(HERE, "..", "data", "mnist")
        images = os.path.join(cls.data, "t10k-images-idx3-ubyte.gz")
        cls.frames = None
        if os.path.exists(images):
            cls.frames = os.path.join(cls.tmp, "t10k.frames")
            with gzip.open(images) as f, open(cls.frames, "wb") as out:
                out.write(f.read()[16:])  # IDX header: 16 bytes

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pkg_config(self, *args):
        return run(["pkg-config", *args, "edgemlp"], env=self.env).split()

    def build(self, source, out, static=False):
        """Compiles tests/install/SOURCE with pkg-config's flags only."""
        flags = self.pkg_config("--cflags", "--libs", *(["--static"] if static else []))
        if source.endswith(".c"):
            cmd = [os.environ.get("CC", "cc"), "-std=c11"]
        else:
            cmd = [os.environ.get("CXX", "c++"), "-std=c++17"]
        exe = os.path.join(self.tmp, out)
        run(cmd + ["-Wall", "-Wextra", "-pedantic", "-Werror", os.path.join(HERE, "install", source),
                   "-o", exe] + flags, env=self.env)
        return exe

    def needed(self, exe):
        return re.findall(r"\(NEEDED\).*\[(.*)\]", run(["readelf", "-d", exe]))

    def expected_hashes(self):
        if not hasattr(InstallTest, "eval_hashes"):
            report = json.loads(run([os.path.join(self.root, "bin", "edgemlp"), "eval", BLOB,
                                     "--data", self.data, "--json"], env=self.env))
            InstallTest.eval_hashes = report["predictions_sha256"], report["outputs_sha256"]
        return InstallTest.eval_hashes

    def check_consumer(self, exe):
        """Runs EXE on the MNIST test frames: edgemlp eval's hashes."""
        if self.frames is None:
            self.skipTest(f"MNIST not found in {self.data} (set EDGEMLP_DATA)")
        pred, logits = (os.path.join(self.tmp, os.path.basename(exe) + ext) for ext in (".pred", ".logits"))
        out = run([exe, BLOB, self.frames, pred, logits], env=self.env)
        self.assertTrue(out.startswith("10000 frames"), out)
        self.assertEqual((sha256(pred), sha256(logits)), self.expected_hashes(), exe)

    def test_0_layout(self):
        for path in ["bin/edgemlp", "bin/edgemlp-firmware",
                     "include/edgemlp/edgemlp.h", "include/edgemlp/runtime.h",
                     "include/edgemlp/introspect.h", "include/edgemlp/blob.h",
                     "include/edgemlp/input_transform.h",
                     "include/edgemlp/blob_format.h", "include/edgemlp/export.h",
                     "lib/sysusers.d/edgemlp.conf"]:
            self.assertTrue(os.path.exists(os.path.join(self.root, path)), path)
        # The blob writer is not part of the runtime library.
        self.assertFalse(os.path.exists(os.path.join(self.root, "include/edgemlp/blob_writer.h")))
        for name in ["libedgemlp.a", "libedgemlp.so", "libedgemlp.so.0"]:
            self.assertTrue(os.path.exists(os.path.join(self.libdir, name)), name)
        # Units run the installed binary.
        for unit in ["edgemlp-firmware.service", "edgemlp-camera.service"]:
            with open(os.path.join(self.root, "lib/systemd/system", unit)) as f:
                text = f.read()
            self.assertIn(self.prefix + "/bin/edgemlp-firmware --model", text)
        for page in ["edgemlp.1", "edgemlp-firmware.1"]:
            path = os.path.join(self.root, "share/man/man1", page)
            self.assertEqual(os.path.exists(path), MAN_PAGES, path)
            if MAN_PAGES:
                with open(path) as f:
                    self.assertIn(".SH NAME\n" + page[:-2] + " \\- ", f.read())
        out = run([os.path.join(self.root, "bin", "edgemlp"), "--version"])
        self.assertTrue(out.startswith("edgemlp "), out)

    def test_1_exports(self):
        """The soname carries the ABI; only the API is exported, versioned."""
        lib = os.path.join(self.libdir, "libedgemlp.so")
        self.assertIn("[libedgemlp.so.0]", run(["readelf", "-d", lib]))
        self.assertEqual(os.readlink(os.path.join(self.libdir, "libedgemlp.so.0")),
                         "libedgemlp.so.0.1.0")
        symbols = run(["nm", "-D", "--defined-only", "--with-symbol-versions", "-C", lib]).splitlines()
        names = [line.split(" ", 2)[2] for line in symbols]
        stray = [n for n in names if not (n.startswith("edgemlp_") or n.startswith("edgemlp::")
                                          or n == "EDGEMLP_0")]
        self.assertEqual(stray, [])
        for api in ["edgemlp_predict@@EDGEMLP_0", "edgemlp_load_file@@EDGEMLP_0"]:
            self.assertIn(api, names)
        for api in ["edgemlp::Network::LoadFile(", "edgemlp::Network::PredictBatch(",
                    "edgemlp::ParseBlob(", "edgemlp::TargetName(",
                    "edgemlp::QuantizeFeatures(", "edgemlp::AreaDownsample("]:
            self.assertTrue(any(n.startswith(api) for n in names), api)
        # The kernels and the dispatch tables stay inside.
        self.assertFalse([n for n in names if "internal" in n or "hwy" in n.lower()])

    def test_2_shared(self):
        for source, out in [("consumer.c", "consumer"), ("consumer.cc", "consumer_cc")]:
            with self.subTest(source=source):
                exe = self.build(source, out)
                self.assertIn("libedgemlp.so.0", self.needed(exe))
                self.check_consumer(exe)

    def test_3_python(self):
        modules = [m for m in glob.glob(os.path.join(self.dest, "**", "edgemlp*.so"), recursive=True)
                   if not os.path.basename(m).startswith("libedgemlp")]
        if not modules:
            self.skipTest("no Python module edgemlp*.so in this install")
        env = dict(self.env, PYTHONPATH=os.path.dirname(modules[0]))
        run([sys.executable, "-c", "import edgemlp"], env=env)

    def test_4_static(self):
        """Only libedgemlp.a installed: pkg-config --static links it."""
        for lib in glob.glob(os.path.join(self.libdir, "libedgemlp.so*")):
            os.remove(lib)
        exe = self.build("consumer.c", "consumer_static", static=True)
        self.assertFalse([n for n in self.needed(exe) if "edgemlp" in n])
        self.check_consumer(exe)


if __name__ == "__main__":
    MESON, BUILD, BLOB = sys.argv[1:4]
    MAN_PAGES = sys.argv[4] == "1"
    unittest.main(argv=sys.argv[:1], verbosity=2)
