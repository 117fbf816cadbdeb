#!/usr/bin/env python3
"""The .deb packages of tools/scripts/build-deb.sh, built and taken apart.

Usage: deb_test.py edgemlp BUILD_DIR
       deb_test.py edgemlp-firmware BUILD_DIR MAN_PAGE|- [WRAPPER...]
Builds the package from BUILD_DIR (configured with --prefix=/usr, as
tools/test.sh and tools/scripts/test-arm.sh do; skipped otherwise), checks
its control fields (dpkg-deb -I) and files (dpkg-deb -c), unpacks it into an
empty root (dpkg-deb -x) and runs `--version` of its program from there
(through WRAPPER, e.g. qemu-aarch64-static, for a board's package). Then
lintian, where installed: its output is printed, and an error fails.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = BUILD = MAN_PAGE = None
WRAPPER = []


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p.stdout


def build_option(name):
    options = json.loads(run(["meson", "introspect", BUILD, "--buildoptions"]))
    return next(o["value"] for o in options if o["name"] == name)


class DebTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if build_option("prefix") != "/usr":
            raise unittest.SkipTest(f"{BUILD} is not configured with --prefix=/usr")
        cls.tmp = tempfile.mkdtemp(prefix="edgemlp-deb-")
        args = [PACKAGE, BUILD, cls.tmp] + ([MAN_PAGE] if MAN_PAGE else [])
        cls.deb = run([os.path.join(ROOT, "tools/scripts/build-deb.sh")] + args).strip()
        fields = run(["dpkg-deb", "-f", cls.deb])
        cls.fields = dict(re.findall(r"^([\w-]+): (.*)$", fields, re.M))
        # "mode owner size date time ./path[ -> target]"
        cls.files = {line.split(None, 5)[5].split(" -> ")[0].lstrip(".") for line in
                     run(["dpkg-deb", "-c", cls.deb]).splitlines()}
        cls.root = os.path.join(cls.tmp, "root")
        run(["dpkg-deb", "-x", cls.deb, cls.root])
        with open(os.path.join(ROOT, "meson.build")) as f:
            cls.version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_control(self):
        info = run(["dpkg-deb", "-I", self.deb])
        self.assertIn(f"Package: {PACKAGE}", info)
        self.assertEqual(self.fields["Version"], self.version + "-1")
        self.assertIn(self.fields["Architecture"], ["amd64", "arm64", "armhf"])
        self.assertTrue(self.deb.endswith(f"_{self.fields['Architecture']}.deb"), self.deb)
        depends = self.fields.get("Depends", "")
        if PACKAGE == "edgemlp":
            # The libraries ldd would show, as Debian packages.
            for dep in ["libc6", "libstdc++6", "libhwy1", "zlib1g", "libssl3"]:
                self.assertRegex(depends, rf"(^|, ){re.escape(dep)}( |,|$)", depends)
        else:
            self.assertEqual(depends, "")  # static: nothing at run time
            self.assertIn("postinst", info)

    def test_files(self):
        docs = f"/usr/share/doc/{PACKAGE}/"
        expected = [docs + "copyright", docs + "changelog.gz", docs + "changelog.Debian.gz"]
        if PACKAGE == "edgemlp":
            lib = next(f for f in self.files if f.endswith("/libedgemlp.so.0"))
            libdir = os.path.dirname(lib)
            expected += ["/usr/bin/edgemlp", libdir + "/libedgemlp.so.0.1.0", libdir + "/libedgemlp.so",
                         libdir + "/libedgemlp.a", libdir + "/pkgconfig/edgemlp.pc",
                         "/usr/include/edgemlp/edgemlp.h", "/usr/include/edgemlp/runtime.h",
                         "/usr/share/man/man1/edgemlp.1.gz"]
            self.assertFalse([f for f in self.files if "firmware" in f or "systemd" in f])
            with open(os.path.join(self.root, libdir.lstrip("/"), "pkgconfig/edgemlp.pc")) as f:
                self.assertIn("prefix=/usr\n", f.read())
        else:
            expected += ["/usr/bin/edgemlp-firmware", "/usr/lib/sysusers.d/edgemlp.conf",
                         "/usr/lib/systemd/system/edgemlp-firmware.service",
                         "/usr/lib/systemd/system/edgemlp-camera.service", "/var/lib/edgemlp/inbox/"]
            if MAN_PAGE:
                expected.append("/usr/share/man/man1/edgemlp-firmware.1.gz")
            self.assertFalse([f for f in self.files if "libedgemlp" in f or "include" in f])
            with open(os.path.join(self.root, "usr/lib/systemd/system/edgemlp-firmware.service")) as f:
                self.assertIn("ExecStart=/usr/bin/edgemlp-firmware --model", f.read())
        for path in expected:
            self.assertIn(path, self.files)

    def test_runs_from_unpacked_root(self):
        exe = os.path.join(self.root, "usr/bin", PACKAGE)
        env = dict(os.environ)
        libs = [os.path.dirname(os.path.join(self.root, f.lstrip("/"))) for f in self.files
                if f.endswith("/libedgemlp.so.0")]
        if libs:
            env["LD_LIBRARY_PATH"] = libs[0]
        out = run(WRAPPER + [exe, "--version"], env=env)
        self.assertTrue(out.startswith(f"{PACKAGE} {self.version} "), out)

    def test_lintian(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian not installed")
        p = subprocess.run(["lintian", "--tag-display-limit", "0", self.deb],
                           capture_output=True, text=True)
        print(f"lintian {os.path.basename(self.deb)}:\n{p.stdout}{p.stderr}", file=sys.stderr)
        self.assertFalse(re.findall(r"^E: .*$", p.stdout, re.M))


if __name__ == "__main__":
    PACKAGE, BUILD = sys.argv[1:3]
    if PACKAGE == "edgemlp-firmware":
        MAN_PAGE = None if sys.argv[3] == "-" else sys.argv[3]
        WRAPPER = sys.argv[4:]
    unittest.main(argv=sys.argv[:1], verbosity=2)
