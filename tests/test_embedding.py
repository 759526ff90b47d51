"""Embedding the C library in a C program, and C and Python agreeing.

What this proves:
- ``make -C csrc install`` lays out include/, lib/ (static and shared) and a
  pkg-config file that compiles and links a program, shared or static;
- the C examples (examples/c) build against that install with the system
  compiler and run: ``predict`` prints, for a model saved from Python, the
  same numbers as ``MLP.predict`` bit for bit on the same instruction-set
  path; ``train_xor`` learns XOR and saves a model that Python loads, with
  the very weights Python's own training reaches;
- the two model-file writers (C: ``_core.Net.save``; Python:
  ``fastmlp._format``) write the same bytes for the same model, and each
  reader reads the other's files exactly.
"""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from conftest import ROOT

import fastmlp
from fastmlp import MLP, Dense, _core, _format

CC = next((shutil.which(c) for c in (os.environ.get("CC", "cc"), "cc", "gcc", "clang")
           if c and shutil.which(c)), None)
MAKE = shutil.which("make")
PKG_CONFIG = shutil.which("pkg-config")

pytestmark = pytest.mark.skipif(CC is None or MAKE is None,
                                reason="no C compiler (cc, gcc or clang) or no make found")

# Digits that print every value so that it reads back exactly.
DIGITS = {np.dtype(np.float32): 9, np.dtype(np.float64): 17}


def run(cmd, timeout=300, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """The library built in a private folder and installed under a prefix."""
    root = tmp_path_factory.mktemp("install")
    run([MAKE, "-C", str(ROOT / "csrc"), f"BUILD={root / 'build'}",
         f"PREFIX={root / 'prefix'}", f"CC={CC}", "-j2", "install"], timeout=600)
    return root / "prefix"


def pkg_env(prefix):
    return dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))


@pytest.fixture(scope="module")
def examples(prefix, tmp_path_factory):
    """examples/c built by its Makefile against the install: {"shared": dir,
    "static": dir}.  Without pkg-config, the same commands by hand."""
    out = tmp_path_factory.mktemp("examples")
    built = {}
    for kind, static in (("shared", "0"), ("static", "1")):
        dest = out / kind
        if PKG_CONFIG:
            made = run([MAKE, "-C", str(ROOT / "examples" / "c"), f"BUILD={dest}",
                        f"STATIC={static}", f"CC={CC}"], env=pkg_env(prefix))
            assert f"-I{prefix / 'include'}" in made.stdout  # the install, not the tree
        else:
            dest.mkdir()
            lib = (["-L", str(prefix / "lib"), "-lfastmlp", f"-Wl,-rpath,{prefix / 'lib'}"]
                   if static == "0" else [str(prefix / "lib" / "libfastmlp.a"), "-fopenmp", "-lm"])
            for prog in ("predict", "train_xor"):
                run([CC, "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L",
                     f"-I{prefix / 'include'}", str(ROOT / "examples" / "c" / f"{prog}.c"),
                     "-o", str(dest / prog)] + lib)
        built[kind] = dest
    return built


def c_env(isa):
    return dict(os.environ, FASTMLP_ISA=isa)


# ---------------------------------------------------------------------------
# The install
# ---------------------------------------------------------------------------


def test_install_layout(prefix):
    for rel in ("include/fastmlp.h", "lib/libfastmlp.a", "lib/libfastmlp.so",
                "lib/pkgconfig/fastmlp.pc"):
        assert (prefix / rel).is_file(), rel
    assert (prefix / "include" / "fastmlp.h").read_bytes() == \
        (ROOT / "csrc" / "fastmlp.h").read_bytes()
    pc = (prefix / "lib" / "pkgconfig" / "fastmlp.pc").read_text()
    assert f"prefix={prefix}" in pc
    assert f"Version: {fastmlp.__version__}" in pc
    if _core.cpu_info()["openmp"]:
        # libfastmlp.a needs the OpenMP runtime: a static link must say so.
        assert any(line.startswith("Libs.private:") and "-fopenmp" in line
                   for line in pc.splitlines())


@pytest.mark.skipif(PKG_CONFIG is None, reason="pkg-config not found")
def test_pkg_config_compiles_and_links_a_program(prefix, tmp_path):
    flags = run([PKG_CONFIG, "--cflags", "--libs", "fastmlp"], env=pkg_env(prefix)).stdout.split()
    assert f"-I{prefix / 'include'}" in flags and "-lfastmlp" in flags
    src = tmp_path / "version.c"
    src.write_text('#include <stdio.h>\n#include "fastmlp.h"\n'
                   'int main(void){ puts(fm_version()); return 0; }\n')
    exe = tmp_path / "version"
    run([CC, str(src), "-o", str(exe)] + flags + [f"-Wl,-rpath,{prefix / 'lib'}"])
    assert run([str(exe)]).stdout.strip() == fastmlp.__version__


# ---------------------------------------------------------------------------
# predict: a Python model run from C
# ---------------------------------------------------------------------------


def python_model(dtype, standardize, seed=0):
    """A small trained model with awkward sizes (edge tiles everywhere)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(3.0, 5.0, size=(61, 7))
    y = rng.integers(0, 3, size=61)
    model = MLP([Dense(13, "tanh"), Dense(9, "gelu"), Dense(3, "softmax")], dtype=dtype,
                optimizer={"kind": "adam", "lr": 0.01}, seed=seed, standardize=standardize)
    return model.fit(X, y, epochs=3, batch_size=16)


def write_inputs(path, X):
    """One row per line, comma separated, %.17g: exactly the float64 values."""
    lines = ["# inputs for predict", ""]
    lines += [", ".join(repr(float(v)) for v in row) for row in X]
    path.write_text("\n".join(lines) + "\n")


def as_text(out, dtype):
    fmt = f"%.{DIGITS[np.dtype(dtype)]}g"
    return "\n".join(" ".join(fmt % float(v) for v in row) for row in out) + "\n"


@pytest.mark.parametrize("standardize", [False, True], ids=["raw", "standardized"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_matches_python_bit_for_bit(examples, tmp_path, isa, dtype, standardize):
    model = python_model(dtype, standardize)
    path = tmp_path / "model.fmlp"
    model.save(path)
    X = np.random.default_rng(1).normal(3.0, 5.0, size=(45, 7))
    inputs = tmp_path / "inputs.csv"
    write_inputs(inputs, X)

    want = model.predict(X)  # the isa fixture forced the same path here
    out = run([str(examples["shared"] / "predict"), str(path), str(inputs)], env=c_env(isa))
    assert out.stdout == as_text(want, dtype)
    got = np.array([[float(v) for v in line.split()] for line in out.stdout.splitlines()])
    assert np.array_equal(got.astype(dtype), want)

    # the statically linked program and standard input give the same text
    static = run([str(examples["static"] / "predict"), str(path), "-"],
                 input=inputs.read_text(), env=c_env(isa))
    assert static.stdout == out.stdout


def test_predict_reports_errors(examples, tmp_path):
    predict = str(examples["shared"] / "predict")
    model = python_model("float32", False)
    good = tmp_path / "model.fmlp"
    model.save(good)
    inputs = tmp_path / "in.txt"
    inputs.write_text("1 2 3 4 5 6 7\n")

    def fails(args, text, code=1):
        out = subprocess.run([predict] + [str(a) for a in args], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == code, out.stderr
        assert text in out.stderr
        assert out.stdout == ""

    fails([tmp_path / "missing.fmlp", inputs], "file could not be opened")
    corrupt = tmp_path / "corrupt.fmlp"
    data = bytearray(good.read_bytes())
    data[-5] ^= 0x40  # the last byte before the crc: only the checksum sees it
    corrupt.write_bytes(bytes(data))
    fails([corrupt, inputs], "checksum mismatch")
    fails([tmp_path / "in.txt", inputs], "not a fastmlp model file")
    short = tmp_path / "short.txt"
    short.write_text("1 2 3\n")
    fails([good, short], "short.txt:1: 3 values, the model expects 7")
    words = tmp_path / "words.txt"
    words.write_text("1 2 3 4 5 6 7\n1 2 x 4 5 6 7\n")
    fails([good, words], "words.txt:2: not a number")
    nan = tmp_path / "nan.txt"
    nan.write_text("1 2 3 nan 5 6 7\n")
    fails([good, nan], "not finite")
    fails([good], "usage", code=2)


# ---------------------------------------------------------------------------
# train_xor: a model trained in C, used from Python
# ---------------------------------------------------------------------------


def test_train_xor_in_c_gives_pythons_model(examples, tmp_path, isa):
    path = tmp_path / "xor.fmlp"
    out = run([str(examples["shared"] / "train_xor"), str(path)], env=c_env(isa))
    printed = [float(line.split()[-1]) for line in out.stdout.splitlines()[:4]]
    X, y = fastmlp.datasets.make_xor()

    model = fastmlp.load(path)
    pred = model.predict(X)
    assert ((pred.ravel() > 0.5) == (y.ravel() > 0.5)).all()
    assert np.array_equal(np.array(printed, dtype=np.float32), pred.ravel())
    assert model.loss == "binary_crossentropy" and model.epochs_ == 500

    # The same run in Python reaches the same weights, bit for bit.
    mine = MLP([Dense(8, "tanh"), Dense(1, "sigmoid")],
               optimizer={"kind": "adam", "lr": 0.05}, seed=0)
    mine.fit(X, y, epochs=500, batch_size=4)
    assert np.array_equal(mine.net_.params, model.net_.params)

    # And the C reader agrees with the Python one.
    net, mean, scale, meta = _core.Net.load(path)
    assert np.array_equal(net.params, model.net_.params)
    assert mean is None and scale is None and meta.startswith(b'{"config":')


# ---------------------------------------------------------------------------
# Model files: one format, two implementations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("standardize", [False, True], ids=["raw", "standardized"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_both_writers_write_the_same_bytes(tmp_path, dtype, standardize):
    model = python_model(dtype, standardize)
    py_path, c_path = tmp_path / "py.fmlp", tmp_path / "c.fmlp"
    model.save(py_path)
    model.net_.save(c_path, model.mean_, model.scale_, _format.encode_meta(model._meta()))
    assert c_path.read_bytes() == py_path.read_bytes() == model.to_bytes()
    # without metadata too (meta_len 0 on both sides)
    _format.write_model(py_path, dtype, 7, model.net_.layers, model.net_.params)
    model.net_.save(c_path)
    assert c_path.read_bytes() == py_path.read_bytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_reader_reads_the_others_files(tmp_path, dtype):
    model = python_model(dtype, True, seed=3)
    # special values must survive both ways, bit for bit
    model.net_.params[:4] = [np.nan, np.inf, -0.0, np.finfo(dtype).tiny]
    meta = _format.encode_meta(model._meta())

    # Python writes, C reads
    py_path = tmp_path / "py.fmlp"
    model.save(py_path)
    net, mean, scale, raw_meta = _core.Net.load(py_path)
    assert net.dtype == np.dtype(dtype) and net.layers == model.net_.layers
    assert net.params.tobytes() == model.net_.params.tobytes()
    assert mean.tobytes() == model.mean_.tobytes()
    assert scale.tobytes() == model.scale_.tobytes()
    assert raw_meta == meta
    net2, *_ = _core.Net.from_bytes(py_path.read_bytes())
    assert net2.params.tobytes() == net.params.tobytes()

    # C writes, Python reads
    c_path = tmp_path / "c.fmlp"
    net.save(c_path, mean, scale, raw_meta)
    mf = _format.read_model(c_path)
    assert mf.dtype == np.dtype(dtype) and mf.n_in == 7
    assert mf.params.tobytes() == model.net_.params.tobytes()
    assert mf.mean.tobytes() == model.mean_.tobytes()
    assert mf.scale.tobytes() == model.scale_.tobytes()
    assert mf.meta == json.loads(meta)
    back = fastmlp.load(c_path)
    assert back.get_config() == model.get_config()
