"""Memory-error checks in CI: the C library's tests under AddressSanitizer
and UndefinedBehaviorSanitizer, and the Python binding's kernels and
training under valgrind.

What this proves:
- ``make -C csrc sanitize`` (every C test, built with
  -fsanitize=address,undefined and no recovery, LeakSanitizer on) exits 0
  with no report;
- a workload through ``fastmlp._core`` and the model API (every kernel on
  both dtypes and every instruction-set path this CPU and valgrind run,
  fit with dropout/validation/sample weights, predict, both model-file
  writers and readers, refused files) makes valgrind's memcheck report no
  error in the library's code.  CPython itself is not valgrind-clean (it
  reports errors even for ``python -c pass``), so only errors with a frame
  in fastmlp's extension module count.

Each is skipped only when its tool is missing.
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT

import fastmlp
from fastmlp import _core


def sanitizers_work(tmp_path):
    """True if cc builds and runs a program with ASan + UBSan."""
    src = tmp_path / "probe.c"
    src.write_text("int main(void) { return 0; }\n")
    exe = tmp_path / "probe"
    try:
        built = subprocess.run(["cc", "-fsanitize=address,undefined", str(src), "-o", str(exe)],
                               capture_output=True, timeout=60)
        return built.returncode == 0 and subprocess.run([str(exe)], timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                    reason="needs make and a C compiler")
def test_c_tests_are_clean_under_asan_and_ubsan(tmp_path):
    if not sanitizers_work(tmp_path):
        pytest.skip("the C compiler lacks -fsanitize=address,undefined")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    out = subprocess.run(["make", "-C", str(ROOT / "csrc"), f"BUILD={tmp_path / 'build'}", "-j2",
                          "sanitize"], capture_output=True, text=True, timeout=400, env=env)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert "all C tests passed" in out.stdout
    for report in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert report not in log, log[-5000:]


WORKLOAD = r'''
import os, tempfile
import numpy as np
from fastmlp import MLP, Dense, _core, _enums, load

rng = np.random.default_rng(0)
isas = ["generic", "avx2", "avx512"]
isas = isas[: isas.index(_core.cpu_info()["isa_detected"]) + 1]
for isa in isas:
    _core.set_isa(isa)
    for dt in (np.float32, np.float64):
        # kernels, with shapes that leave edge tiles
        for ta in (0, 1):
            for tb in (0, 1):
                M, N, K = 13, 11, 7
                A = rng.normal(size=(K, M) if ta else (M, K)).astype(dt)
                B = rng.normal(size=(N, K) if tb else (K, N)).astype(dt)
                want = (A.T if ta else A) @ (B.T if tb else B)
                assert np.allclose(_core.gemm(A, B, ta, tb), want, rtol=1e-3, atol=1e-3)
        Z = rng.normal(size=(5, 9)).astype(dt)
        for act in _enums.ACTIVATIONS:
            A = _core.act_forward(act, Z)
            if act not in _enums.FLAT:
                _core.act_backward(act, np.ones_like(Z), A=A, Z=Z)
        for loss, out in (("squared_error", "identity"), ("squared_error", "tanh"),
                          ("binary_crossentropy", "sigmoid"),
                          ("categorical_crossentropy", "softmax"), ("poisson", "exp")):
            A = _core.act_forward(out, Z)
            _core.loss(loss, out, Z, A, np.abs(A) / np.abs(A).sum(), sw=np.ones(5, dt))
        W, b = _core.init_layer("sklearn", 7, 9, 4, True, dt)
        _core.dense_forward(Z, W, b, "gelu")
        _core.dense_backward(rng.normal(size=(5, 4)).astype(dt), Z, W)
        for kind in _enums.OPTIMIZERS:
            w, g = np.ones(17, dt), np.full(17, 0.5, dt)
            _core.optim_step({"kind": kind}, 1, w, g, np.zeros(17, dt), np.zeros(17, dt),
                             l2=0.1, l1=0.1)
        _core.dropout_forward(0.3, 1, 0, Z.copy())
        # training, prediction and model files
        X = rng.normal(size=(67, 5))
        y = rng.integers(0, 3, size=67)
        m = MLP([Dense(9, "tanh", dropout=0.2), Dense(6, "gelu"), Dense(3, "softmax")],
                dtype=dt, standardize=True, l2=1e-3, l1=1e-4, seed=1)
        m.fit(X, y, epochs=3, batch_size=16, validation_split=0.2)
        m.fit(X, y, epochs=1, batch_size=None, sample_weight=np.ones(67), shuffle=False)
        m.train_step(X[:7], y[:7])
        p = m.predict(X)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.fmlp")
            m.save(path)
            net, mean, scale, meta = _core.Net.load(path)
            net.save(path, mean, scale, meta)
            assert np.array_equal(load(path).predict(X), p)
        Xs = ((X - mean) / scale).astype(dt)
        Y = np.eye(3, dtype=dt)[y]
        cfg = {"loss": "categorical_crossentropy", "batch_size": 8}
        net.loss_grad(cfg, Xs, Y)
        net.evaluate(cfg, Xs, Y)
        data = m.to_bytes()
        for cut in (0, 7, 12, 59, 60, len(data) // 2, len(data) - 1):
            try:
                _core.Net.from_bytes(data[:cut])
                raise AssertionError(f"a file cut at {cut} was accepted")
            except ValueError:
                pass
print("workload ok")
'''


def fastmlp_errors(xml_path, module):
    """memcheck errors with a frame in the extension module: (kind, frames).
    Leaks are not counted here: CPython keeps objects alive at exit, and
    the C library's leaks are LeakSanitizer's (above) and the RSS test's."""
    found = []
    for err in ET.parse(xml_path).getroot().iter("error"):
        if (err.findtext("kind") or "").startswith("Leak_"):
            continue
        frames = [(f.findtext("obj") or "", f.findtext("fn") or "?", f.findtext("file") or "",
                   f.findtext("line") or "") for f in err.iter("frame")]
        if any(os.path.realpath(obj) == module for obj, *_ in frames):
            found.append((err.findtext("kind"),
                          [f"{fn} ({file}:{line})" for _, fn, file, line in frames[:8]]))
    return found


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_python_kernels_and_training_are_clean_under_valgrind(tmp_path):
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    xml = tmp_path / "memcheck.xml"
    env = dict(os.environ, PYTHONMALLOC="malloc", OMP_WAIT_POLICY="passive",
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(fastmlp.__file__))] +
                                          [p for p in os.environ.get("PYTHONPATH", "").split(
                                              os.pathsep) if p]))
    env.pop("FASTMLP_ISA", None)
    out = subprocess.run(["valgrind", "--tool=memcheck", "--xml=yes", f"--xml-file={xml}",
                          "--leak-check=no", "--num-callers=30",
                          os.path.realpath(sys.executable), str(script)],
                         capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0 and "workload ok" in out.stdout, out.stderr[-4000:]
    errors = fastmlp_errors(xml, os.path.realpath(_core.__file__))
    assert not errors, "\n".join(f"{kind}: {' <- '.join(frames)}" for kind, frames in errors)
