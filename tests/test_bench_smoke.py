"""Smoke test of the benchmark script: it runs and prints its table.

No timing is asserted (the numbers of a smoke run on a shared machine mean
nothing); this only proves that ``bench/run.py`` still works against the
current API.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import fastmlp

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "run.py"


@pytest.mark.slow
def test_bench_quick_runs_and_prints_the_table(tmp_path):
    out_json = tmp_path / "bench.json"
    env = dict(os.environ)
    # The fastmlp under test (installed, or built in place), from a neutral
    # folder: a source checkout's uncompiled fastmlp/ must not shadow it.
    parent = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([parent] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--only", "W1,W4", "--json", str(out_json)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    # the header names the CPU, the ISA path and the threads; then the table
    assert "fastmlp benchmark suite" in out
    assert "CPU:" in out and "ISA path" in out
    assert any(line.split()[:3] == ["W", "case", "column"] for line in out.splitlines())
    assert "Targets (issue 4):" in out
    result = json.loads(out_json.read_text())
    assert {r["workload"] for r in result["rows"]} == {"W1", "W4"}
    assert result["header"]["isa"] in ("generic", "avx2", "avx512")
