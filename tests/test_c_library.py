"""The C library builds on its own and passes its own tests (make test)."""

import shutil
import subprocess

import pytest

from conftest import ROOT


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                    reason="needs make and a C compiler")
def test_c_library_builds_and_its_tests_pass(tmp_path):
    build = tmp_path / "build"
    out = subprocess.run(["make", "-C", str(ROOT / "csrc"), f"BUILD={build}", "-j2", "all", "test"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "all C tests passed" in out.stdout
    assert (build / "libfastmlp.a").exists() and (build / "libfastmlp.so").exists()
