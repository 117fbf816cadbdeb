#!/usr/bin/env python3
"""--version of each executable names the project version and the git revision.

Usage: version_test.py SOURCE_ROOT EXECUTABLE...
The version is the one in project() of SOURCE_ROOT/meson.build; the revision
must be this tree's HEAD (git describe, "-dirty" allowed), or "unknown" when
SOURCE_ROOT is not a git checkout (a tarball).
"""
import os
import re
import subprocess
import sys
import unittest

ROOT = None
EXES = []


def git(*args):
    """git's stdout in ROOT's own repository, or None outside one."""
    p = subprocess.run(["git", "--git-dir=" + os.path.join(ROOT, ".git"), *args],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


class VersionTest(unittest.TestCase):

    def test_version_and_revision(self):
        with open(os.path.join(ROOT, "meson.build")) as f:
            version = re.search(r"project\([^)]*?version\s*:\s*'([^']+)'", f.read(), re.S).group(1)
        head = git("rev-parse", "HEAD")
        self.assertTrue(EXES)
        for exe in EXES:
            name = os.path.basename(exe)
            with self.subTest(exe=name):
                p = subprocess.run([exe, "--version"], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                m = re.fullmatch(r"(\S+) (\S+) \(git (\S+)\)\n", p.stdout)
                self.assertIsNotNone(m, p.stdout)
                self.assertEqual(m.group(1), name)
                self.assertEqual(m.group(2), version)
                revision = m.group(3)
                if head is None:
                    self.assertEqual(revision, "unknown")
                    continue
                # git describe: HASH, TAG-N-gHASH or TAG, each maybe "-dirty".
                described = re.sub(r"-dirty$", "", revision)
                m = re.fullmatch(r".*-g([0-9a-f]{4,40})", described)
                commit = git("rev-parse", "--verify", "--quiet",
                             (m.group(1) if m else described) + "^{commit}")
                self.assertEqual(commit, head, f"{name} says {revision}, HEAD is {head}")


if __name__ == "__main__":
    ROOT = sys.argv[1]
    EXES = sys.argv[2:]
    unittest.main(argv=sys.argv[:1], verbosity=2)
