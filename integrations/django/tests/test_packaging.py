"""The package as pip builds it: the wheel holds every module, the
migrations and the management command, and installs and imports without
this source tree."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WheelTest(unittest.TestCase):
    def test_wheel_builds_installs_and_imports(self):
        if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
            self.fail("pip is not available to %s: install Debian's python3-pip (make deps does)" % sys.executable)
        with tempfile.TemporaryDirectory(prefix="cachegate-wheel-") as tmp:
            # setuptools writes build/ and egg-info beside the sources: build
            # a copy, so that the tree stays clean.
            src = os.path.join(tmp, "src")
            shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
                "build", "*.egg-info", "__pycache__", "tests", "example"))
            build = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "-w", os.path.join(tmp, "dist"), src],
                capture_output=True, text=True, timeout=300, cwd=tmp,
            )
            self.assertEqual(build.returncode, 0, build.stdout + build.stderr)
            wheels = [f for f in os.listdir(os.path.join(tmp, "dist")) if f.endswith(".whl")]
            self.assertEqual(len(wheels), 1, wheels)
            wheel = os.path.join(tmp, "dist", wheels[0])
            names = set(zipfile.ZipFile(wheel).namelist())
            sources = set()
            for dirpath, _, files in os.walk(os.path.join(ROOT, "cachegate_django")):
                for f in files:
                    if f.endswith(".py"):
                        sources.add(os.path.relpath(os.path.join(dirpath, f), ROOT).replace(os.sep, "/"))
            self.assertTrue(sources, "no sources found")
            self.assertEqual(sources - names, set(), "modules missing from the wheel")

            target = os.path.join(tmp, "site")
            install = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", target, wheel],
                capture_output=True, text=True, timeout=300, cwd=tmp,
            )
            self.assertEqual(install.returncode, 0, install.stdout + install.stderr)
            probe = subprocess.run(
                [sys.executable, "-c",
                 "import cachegate_django.outbox, cachegate_django.management.commands.cachegate_flush as c, "
                 "cachegate_django.migrations; print(cachegate_django.__file__)"],
                capture_output=True, text=True, timeout=60, cwd=tmp, env=dict(os.environ, PYTHONPATH=target),
            )
            self.assertEqual(probe.returncode, 0, probe.stderr)
            self.assertTrue(probe.stdout.strip().startswith(target), probe.stdout)


if __name__ == "__main__":
    unittest.main()
