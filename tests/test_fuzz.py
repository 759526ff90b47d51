"""Bounded fuzzing of everything that reads untrusted input, in CI.

What this proves, each with a few hundred generated inputs (hypothesis,
derandomised so CI runs are reproducible; set FASTMLP_FUZZ_EXAMPLES=n for
a longer, randomised local run):

- the two model-file readers (C: ``_core.Net.from_bytes``; Python:
  ``fastmlp._format.from_bytes``) never crash, raise only
  ``ModelFileError``, and agree on every input: both accept (with the same
  network, bit for bit) or both refuse for the same reason (checksum,
  version or format; Python alone also refuses metadata that is not a JSON
  object, rule 9');
- the IDX and CSV loaders return the array the file describes or raise
  ``DataFormatError``;
- the public API (``MLP``, the ``_core`` kernels and ``Net``) answers any
  shape, dtype or value with a result or a documented exception
  (ValueError, TypeError, MemoryError; FloatingPointError from ``fit``);
- every file in tests/corpus/ (inputs that once failed, or that pin an
  edge of the rules) still gets its recorded answer;
- the libFuzzer harness csrc/fuzz/fuzz_model_load.c replays the corpus
  under AddressSanitizer + UBSan with the system compiler, and fuzzes for
  a bounded time when clang with libFuzzer is installed.
"""

import gzip
import json
import math
import os
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastmlp import MLP, Dense, _core, _enums, _format, datasets
from fastmlp.exceptions import DataFormatError, ModelFileError

CORPUS = ROOT / "tests" / "corpus"
N_EXAMPLES = int(os.environ.get("FASTMLP_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    derandomize="FASTMLP_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
    database=None,
)

# ---------------------------------------------------------------------------
# Model files
# ---------------------------------------------------------------------------

U32 = [0, 1, 2, 3, 6, 7, 12, 13, 1023, 1024, 1025, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1]
U64 = U32 + [2**32, 2**32 + 1, 2**62, 2**63 - 1, 2**63, 2**64 - 2**31, 2**64 - 1]
F64 = [0.0, -0.0, 0.01, 0.5, 0.999999, 1.0, 2.0, -1.0, -1e-300, 5e-324, 1e308,
       math.nan, math.inf, -math.inf]
# (offset, struct format) of every header field after the magic
HEADER_FIELDS = [(8, "<I"), (12, "<I"), (16, "<I"), (20, "<I"), (24, "<Q"), (32, "<I"),
                 (36, "<I"), (40, "<Q"), (48, "<Q")]
# (offset in a layer record, format)
LAYER_FIELDS = [(0, "<Q"), (8, "<I"), (12, "<I"), (16, "<d"), (24, "<d")]
# UTF-8 edge cases for the metadata (rule 9): valid and invalid
UTF8 = [b"", b"{}", b'{"a":1}', b"\x00", b"\xc3\xa9", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80",
        b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xef\xbf\xbf", b"\xf0\x90\x80\x80",
        b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xe2\x82",
        b"\xff", b'"str"', b"[1]", b"NaN", b'{"x":NaN}', b"{" * 3000 + b"}" * 3000]


@st.composite
def layer_dicts(draw, n_layers):
    layers = []
    for i in range(n_layers):
        act = draw(st.sampled_from(sorted(_enums.ACTIVATIONS)))
        last = i == n_layers - 1
        layers.append({
            "units": draw(st.integers(1, 4)),
            "activation": act,
            "act_param": draw(st.sampled_from([0.01, 0.3])) if act in ("leaky_relu", "elu") else 0.0,
            "init": draw(st.sampled_from(sorted(_enums.INITIALIZERS))),
            "dropout": 0.0 if last else draw(st.sampled_from([0.0, 0.5])),
        })
    return layers


@st.composite
def model_files(draw):
    """The bytes of a valid, small model file."""
    dtype = draw(st.sampled_from(["float32", "float64"]))
    n_in = draw(st.integers(1, 4))
    layers = draw(layer_dicts(draw(st.integers(1, 3))))
    fan = [n_in] + [layer["units"] for layer in layers]
    n_params = sum(a * b + b for a, b in zip(fan, fan[1:]))
    values = st.floats(width=32 if dtype == "float32" else 64)
    params = draw(hnp.arrays(dtype, n_params, elements=values))
    mean = draw(st.none() | hnp.arrays(dtype, n_in, elements=values))
    scale = draw(st.none() | hnp.arrays(dtype, n_in, elements=values))
    meta = draw(st.none() | st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=6),
                                            max_size=3))
    return _format.to_bytes(dtype, n_in, layers, params, mean, scale, meta)


def with_crc(data):
    """data with its last four bytes replaced by the right CRC-32."""
    if len(data) < 4:
        return data
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def with_meta(data, meta):
    """A valid file with its metadata replaced by meta (length and crc fixed)."""
    (old,) = struct.unpack_from("<Q", data, 40)
    body = bytearray(data[: len(data) - 4 - old] + meta)
    struct.pack_into("<Q", body, 40, len(meta))
    return with_crc(bytes(body) + b"\0\0\0\0")


@st.composite
def mutated_model_files(draw):
    """A valid file, then up to four edits, then (usually) a repaired crc."""
    data = bytearray(draw(model_files()))
    n_layers = struct.unpack_from("<I", data, 32)[0]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["header", "layer", "byte", "truncate", "append",
                                     "delete", "meta"]))
        if kind == "header":
            off, fmt = draw(st.sampled_from(HEADER_FIELDS))
            value = draw(st.sampled_from(U32 if fmt == "<I" else U64))
            if off + struct.calcsize(fmt) <= len(data):
                struct.pack_into(fmt, data, off, value)
        elif kind == "layer":
            l = draw(st.integers(0, max(n_layers - 1, 0)))
            off, fmt = draw(st.sampled_from(LAYER_FIELDS))
            value = draw(st.sampled_from(F64 if fmt == "<d" else U32 if fmt == "<I" else U64))
            off += 56 + 32 * l
            if off + struct.calcsize(fmt) <= len(data):
                struct.pack_into(fmt, data, off, value)
        elif kind == "byte" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data))):]
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=40))
        elif kind == "delete" and data:
            i = draw(st.integers(0, len(data) - 1))
            del data[i:i + draw(st.integers(1, 16))]
        elif kind == "meta" and len(data) >= 60:
            try:
                data = bytearray(with_meta(bytes(data), draw(st.sampled_from(UTF8))))
            except struct.error:
                pass
    if draw(st.booleans()):
        data = bytearray(with_crc(bytes(data)))
    return bytes(data)


def py_outcome(data):
    """('ok', ModelFile) or ('refused', reason) from the Python reader."""
    try:
        return "ok", _format.from_bytes(data)
    except ModelFileError as exc:
        msg = str(exc)
    if "checksum mismatch" in msg:
        return "refused", "checksum"
    if "newer than this fastmlp" in msg:
        return "refused", "version"
    if msg.startswith(("metadata is not valid JSON", "metadata is not a JSON object")):
        return "refused", "json"
    return "refused", "format"


def c_outcome(data):
    """('ok', (Net, mean, scale, meta)) or ('refused', reason) from the C reader."""
    try:
        return "ok", _core.Net.from_bytes(data)
    except ModelFileError as exc:
        msg = str(exc)
    if "checksum mismatch" in msg:
        return "refused", "checksum"
    if "newer format version" in msg:
        return "refused", "version"
    assert "not a fastmlp model file" in msg, msg
    return "refused", "format"


def same_bits(a, b):
    return (a is None and b is None) or (a is not None and b is not None
                                         and a.tobytes() == b.tobytes())


def check_readers_agree(data):
    """Both readers give the same answer for data; returns the answer."""
    (pk, pv), (ck, cv) = py_outcome(data), c_outcome(data)
    if pk == "refused" and pv == "json":  # rule 9' is Python's alone
        assert ck == "ok", f"C refused ({cv}) what Python refused only for its JSON"
        return "json"
    assert (pk, pk == "ok" or pv) == (ck, ck == "ok" or cv), (pk, pv, ck, cv)
    if pk == "refused":
        return pv
    net, mean, scale, meta = cv
    assert net.dtype == pv.dtype and net.n_in == pv.n_in and net.layers == pv.layers
    assert net.params.tobytes() == pv.params.tobytes()
    assert same_bits(mean, pv.mean) and same_bits(scale, pv.scale)
    assert (json.loads(meta) if meta else None) == pv.meta
    return "ok"


@FUZZ
@given(st.binary(max_size=300))
def test_model_readers_on_random_bytes(data):
    check_readers_agree(data)
    # the same bytes behind a valid magic and version get further
    check_readers_agree(with_crc(_format.MAGIC + b"\x01\0\0\0" + data))


@FUZZ
@given(mutated_model_files())
def test_model_readers_on_mutated_files(data):
    if check_readers_agree(data) == "ok":
        # what was accepted can be used
        net = _core.Net.from_bytes(data)[0]
        assert net.predict(np.zeros((2, net.n_in), dtype=net.dtype)).shape == (2, net.n_out)


@FUZZ
@given(model_files())
def test_model_files_round_trip_through_both_readers(data):
    assert check_readers_agree(data) == "ok"
    mf = _format.from_bytes(data)
    again = _format.to_bytes(mf.dtype, mf.n_in, mf.layers, mf.params, mf.mean, mf.scale, mf.meta)
    assert again == data


# ---------------------------------------------------------------------------
# IDX and CSV loaders
# ---------------------------------------------------------------------------

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 1 << 16


@st.composite
def idx_files(draw):
    """(bytes, compressed) of an IDX file that is valid or slightly wrong."""
    valid = draw(st.booleans())
    code = draw(st.sampled_from(sorted(IDX_TYPES))) if valid else draw(st.integers(0, 255))
    ndim = draw(st.integers(1, 3)) if valid else draw(st.integers(0, 10))
    dims = [draw(st.integers(1, 5)) if valid else
            draw(st.sampled_from([0, 1, 3, -1, 2**31 - 1, 2**16])) for _ in range(ndim)]
    magic = b"\0\0" if valid or draw(st.booleans()) else draw(st.binary(min_size=2, max_size=2))
    head = magic + bytes([code, ndim]) + b"".join(struct.pack(">i", d) for d in dims)
    size = math.prod(dims) * np.dtype(IDX_TYPES.get(code, ">u1")).itemsize if valid else None
    if valid and draw(st.booleans()):
        payload = draw(st.binary(min_size=size, max_size=size))
    else:
        payload = draw(st.binary(max_size=64))
    data = head + payload
    compressed = draw(st.booleans())
    if compressed:
        data = gzip.compress(data, mtime=0)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    return data, compressed


def load_idx_checked(path, data):
    """load_idx(path) is the array the file describes, or DataFormatError."""
    try:
        arr = datasets.load_idx(path, max_bytes=MAX_BYTES)
    except DataFormatError as exc:
        assert str(path) in str(exc)
        return None
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}i", raw[4:4 + 4 * ndim])
    want = np.frombuffer(raw, dtype=IDX_TYPES[raw[2]], offset=4 + 4 * ndim).reshape(dims)
    assert arr.shape == want.shape and np.array_equal(arr, want, equal_nan=True)
    return arr


@FUZZ
@given(idx_files())
def test_idx_loader(tmp_path_factory, file):
    data, _ = file
    path = tmp_path_factory.mktemp("idx") / "f.idx"
    path.write_bytes(data)
    load_idx_checked(path, data)


CSV_ALPHABET = st.sampled_from(list("0123456789.,;-+eE \t\"'\n\r#abcxyz") +
                               ["nan", "inf", "1e999", "\x00", "\ufeff", "é", "\u2028"])


@FUZZ
@given(st.lists(CSV_ALPHABET, max_size=80).map("".join) | st.binary(max_size=80),
       st.sampled_from([0, 1, -1, 5, -7, "a", "x", "label"]))
def test_csv_loader(tmp_path_factory, content, target):
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    try:
        X, y, names = datasets.load_csv(path, target=target)
    except DataFormatError as exc:
        assert str(path) in str(exc)
        return
    assert X.ndim == 2 and X.shape[0] == y.shape[0] >= 1 and X.shape[1] == len(names) >= 1
    assert X.dtype == np.float32


# ---------------------------------------------------------------------------
# The public API's argument checking
# ---------------------------------------------------------------------------

API_ERRORS = (ValueError, TypeError, MemoryError)
ODD_DTYPES = ["float16", "float32", "float64", "int8", "int64", "uint8", "bool", "complex128",
              "object", "U3", "datetime64[s]"]
# Integers in the int64 range (beyond it: test_hardening's regression tests).
# Sizes are either small or absurd (10**12 units is refused before any
# allocation); none falls between the machine's memory and the library's
# allocation ceiling, where creating succeeds lazily and initialising
# exhausts memory (see test_hardening).
ODD_INTS = st.sampled_from([-(2**63), -1, 0, 1, 2, 3, 7, 10**12, 2**62, 2**63 - 1])
ODD_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, 0.5, 1.0, 1e300])
ODD_VALUES = ODD_INTS | ODD_FLOATS | st.sampled_from([None, "", "relu", "adam", [], {}, (), b"x"])


@st.composite
def odd_arrays(draw, max_dims=3):
    dtype = draw(st.sampled_from(ODD_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=5))
    if dtype in ("object", "U3", "datetime64[s]"):
        arr = np.zeros(shape, dtype=dtype)
    else:
        arr = draw(hnp.arrays(dtype, shape))
    if arr.ndim == 2 and draw(st.booleans()):
        arr = arr[:, ::2]  # not contiguous
    return arr


@st.composite
def data_arrays(draw, ndim=2, cols=None):
    """Mostly well-formed float data (so that calls get past the first
    checks), with NaN, infinities and extremes among the values."""
    rows = draw(st.integers(1, 6))
    shape = (rows,) if ndim == 1 else (rows, cols or draw(st.integers(1, 3)))
    arr = draw(hnp.arrays("float64", shape, elements=st.floats(-1e6, 1e6) | ODD_FLOATS))
    dtype = draw(st.sampled_from(["float32", "float64", "float64", "int64", "bool"]))
    if dtype in ("int64", "bool"):
        arr = np.nan_to_num(arr).clip(-1e6, 1e6)
    with np.errstate(over="ignore"):
        return arr.astype(dtype)


def maybe_odd(strategy, odd):
    return st.one_of(strategy, strategy, strategy, odd)


TRAINABLE = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu",
             "softplus", "softmax", "exp"]


@st.composite
def odd_layer(draw):
    if draw(st.booleans()):
        return Dense(draw(ODD_INTS | st.integers(1, 4)),
                     draw(st.sampled_from(sorted(_enums.ACTIVATIONS) + ["nope", "logistic"])),
                     dropout=draw(st.sampled_from([0.0, 0.5, 1.0, -0.1, math.nan])),
                     act_param=draw(st.none() | ODD_FLOATS))
    # (a dict without "units": test_hardening's regression tests)
    return draw(st.dictionaries(st.sampled_from(["units", "activation", "init", "dropout",
                                                 "act_param", "bogus"]), ODD_VALUES, max_size=4)
                .filter(lambda d: "units" in d))


@st.composite
def good_layer(draw):
    return Dense(draw(st.integers(1, 4)), draw(st.sampled_from(TRAINABLE)),
                 dropout=draw(st.sampled_from([0.0, 0.0, 0.3])))


def layer_specs():
    return st.lists(maybe_odd(good_layer(), odd_layer()), min_size=0, max_size=3)


@st.composite
def fit_problems(draw):
    """(layers, loss, X, y, sample_weight): a coherent problem, then maybe
    one thing spoiled (a bad layer, NaN, a shape, a dtype)."""
    n, f = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    layers = draw(st.lists(good_layer(), min_size=1, max_size=3))
    layers[-1] = Dense(layers[-1].units, layers[-1].activation)  # no dropout on the output
    out = layers[-1].units
    loss = {"sigmoid": "binary_crossentropy", "softmax": "categorical_crossentropy",
            "exp": "poisson"}.get(layers[-1].activation, "squared_error")
    X = draw(hnp.arrays(draw(st.sampled_from(["float32", "float64", "int64"])), (n, f),
                        elements=st.integers(-100, 100)))
    y = draw(hnp.arrays("float64", (n, out) if out > 1 or draw(st.booleans()) else (n,),
                        elements=st.floats(0, 1)))
    sw = draw(st.none() | hnp.arrays("float64", (n,), elements=st.floats(0, 10)))
    spoil = draw(st.sampled_from(["nothing", "nothing", "layers", "loss", "X", "y", "sw"]))
    if spoil == "layers":
        layers[draw(st.integers(0, len(layers) - 1))] = draw(odd_layer())
    elif spoil == "loss":
        loss = draw(st.none() | st.sampled_from(sorted(_enums.LOSSES) + ["hinge"]))
    elif spoil in ("X", "y", "sw"):
        odd = draw(odd_arrays() | data_arrays() | ODD_VALUES)
        X, y, sw = (odd if spoil == "X" else X), (odd if spoil == "y" else y), \
            (odd if spoil == "sw" else sw)
    return layers, loss, X, y, sw


@FUZZ
@given(problem=fit_problems(),
       optimizer=st.sampled_from(sorted(_enums.OPTIMIZERS)) | st.fixed_dictionaries(
           {"kind": st.sampled_from(["adam", "sgd", "?"])}, optional={"lr": ODD_FLOATS}),
       dtype=st.sampled_from(["float32", "float64", "float64", "int32"]),
       batch_size=st.none() | st.integers(1, 8) | ODD_INTS, epochs=st.integers(0, 2),
       standardize=st.booleans())
def test_mlp_fit_and_predict_answer_or_raise_documented_errors(problem, optimizer, dtype,
                                                               batch_size, epochs, standardize):
    layers, loss, X, y, sample_weight = problem
    try:
        model = MLP(layers, loss=loss, optimizer=optimizer, dtype=dtype,
                    standardize=standardize)
    except API_ERRORS:
        return
    try:
        model.fit(X, y, epochs=epochs, batch_size=batch_size, sample_weight=sample_weight)
    except API_ERRORS + (FloatingPointError,):
        return
    for Xp in (X, X[:1], np.zeros((3, 2)), np.full((2, X.shape[1]), np.inf)):
        try:
            out = model.predict(Xp)
        except API_ERRORS:
            continue
        assert out.shape == (len(Xp), model.layers[-1]["units"]) and out.dtype == dtype


KERNELS = ["gemm", "act_forward", "act_backward", "loss", "dense_forward", "dense_backward",
           "optim_step", "dropout_forward"]


@st.composite
def kernel_calls(draw):
    """(kernel name, positional args, keyword args): shapes that fit
    together (sizes 0 included), then maybe one argument spoiled."""
    which = draw(st.sampled_from(KERNELS))
    dt = draw(st.sampled_from(["float32", "float64"]))
    m, n, k = (draw(st.integers(0, 5)) for _ in range(3))
    values = st.floats(-10, 10, width=32) | ODD_FLOATS.filter(lambda v: not 1e30 < abs(v) < math.inf)

    def arr(*shape):
        return draw(hnp.arrays(dt, shape, elements=values))

    act = draw(st.sampled_from(sorted(_enums.ACTIVATIONS)))
    param = draw(st.none() | ODD_FLOATS)
    if which == "gemm":
        ta, tb = draw(st.booleans()), draw(st.booleans())
        args = [arr(*((k, m) if ta else (m, k))), arr(*((n, k) if tb else (k, n))), ta, tb]
        kwargs = {"alpha": draw(ODD_FLOATS), "beta": draw(ODD_FLOATS),
                  "C": draw(st.none() | st.just(arr(m, n)))}
    elif which == "act_forward":
        args, kwargs = [act, arr(m, n)], {"param": param}
    elif which == "act_backward":
        args, kwargs = [act, arr(m, n)], {"A": arr(m, n), "Z": arr(m, n), "param": param}
    elif which == "loss":
        args = [draw(st.sampled_from(sorted(_enums.LOSSES))), act, arr(m, n), arr(m, n),
                arr(m, n)]
        kwargs = {"sw": draw(st.none() | st.just(arr(m))), "grad": draw(st.booleans())}
    elif which == "dense_forward":
        args, kwargs = [arr(m, k), arr(k, n), arr(n), act], {"act_param": param}
    elif which == "dense_backward":
        args, kwargs = [arr(m, n), arr(m, k), arr(k, n)], {"need_dx": draw(st.booleans())}
    elif which == "optim_step":
        opt = {"kind": draw(st.sampled_from(sorted(_enums.OPTIMIZERS)))}
        opt.update(draw(st.dictionaries(st.sampled_from(["lr", "momentum", "beta1", "beta2",
                                                         "eps", "weight_decay"]), ODD_FLOATS)))
        args = [opt, draw(st.integers(-1, 3)), arr(m), arr(m)]
        kwargs = {"s1": arr(m), "s2": arr(m), "l2": draw(ODD_FLOATS), "l1": draw(ODD_FLOATS)}
    else:
        args, kwargs = [draw(ODD_FLOATS), 1, 0, arr(m, n)], {}
    # Spoil one argument, except C-integer ones (optim_step's t, dropout's
    # key and counter): out of range they are test_hardening's regression
    # tests (test_out_of_range_integers_raise_value_error).
    ints = {"optim_step": {1}, "dropout_forward": {1, 2}}.get(which, set())
    if draw(st.integers(0, 3)) == 0:
        odd = draw(odd_arrays() | ODD_VALUES)
        i = draw(st.integers(0, len(args) + len(kwargs) - 1).filter(lambda i: i not in ints))
        if i < len(args):
            args[i] = odd
        else:
            kwargs[sorted(kwargs)[i - len(args)]] = odd
    return which, args, kwargs


@FUZZ
@given(kernel_calls())
def test_core_kernels_check_their_arguments(call):
    which, args, kwargs = call
    try:
        getattr(_core, which)(*args, **kwargs)
    except API_ERRORS:
        pass


@st.composite
def net_problems(draw):
    """(dtype, n_in, layers, X, Y, cfg) that fit together, maybe one spoiled."""
    dt = draw(st.sampled_from(["float32", "float64"]))
    n_in, n = draw(st.integers(1, 3)), draw(st.integers(0, 6))
    layers = [{"units": draw(st.integers(1, 3)), "activation": draw(st.sampled_from(TRAINABLE)),
               "dropout": draw(st.sampled_from([0.0, 0.5]))} for _ in range(draw(st.integers(1, 3)))]
    layers[-1]["dropout"] = 0.0
    n_out = layers[-1]["units"]
    values = st.floats(-5, 5, width=32)
    X = draw(hnp.arrays(dt, (n, n_in), elements=values))
    Y = draw(hnp.arrays(dt, (n, n_out), elements=st.floats(0, 1, width=32)))
    pair = {"sigmoid": "binary_crossentropy", "softmax": "categorical_crossentropy",
            "exp": "poisson"}.get(layers[-1]["activation"], "squared_error")
    cfg = {"loss": draw(st.sampled_from([pair, pair, "squared_error"] + sorted(_enums.LOSSES))),
           "optimizer": {"kind": draw(st.sampled_from(sorted(_enums.OPTIMIZERS)))},
           "batch_size": draw(st.integers(1, 8)), "shuffle": draw(st.booleans()),
           "seed": draw(st.integers(0, 2**64 - 1)), "l2": draw(st.sampled_from([0.0, 0.1])),
           "l1": draw(st.sampled_from([0.0, 0.1]))}
    spoil = draw(st.sampled_from(["nothing", "n_in", "layer", "X", "Y", "cfg"]))
    if spoil == "n_in":
        n_in = draw(ODD_INTS | ODD_VALUES)
    elif spoil == "layer":
        layers[draw(st.integers(0, len(layers) - 1))] = draw(st.dictionaries(
            st.sampled_from(["units", "activation", "init", "dropout", "act_param"]), ODD_VALUES))
    elif spoil == "X":
        X = draw(odd_arrays())
    elif spoil == "Y":
        Y = draw(odd_arrays())
    elif spoil == "cfg":
        # (an infinite seed: test_hardening's regression tests)
        cfg[draw(st.sampled_from(sorted(cfg) + ["bogus"]))] = draw(
            ODD_VALUES.filter(lambda v: not (isinstance(v, float) and math.isinf(v))))
    return dt, n_in, layers, X, Y, cfg


@FUZZ
@given(net_problems())
def test_core_net_checks_its_arguments(problem):
    dt, n_in, layers, X, Y, cfg = problem
    try:
        net = _core.Net(dt, n_in, layers)
    except API_ERRORS:
        return
    net.init(0)
    for call in (lambda: net.predict(X),
                 lambda: net.train_epoch(cfg, X, Y),
                 lambda: net.train_step(cfg, X, Y),
                 lambda: net.evaluate(cfg, X, Y),
                 lambda: net.loss_grad(cfg, X, Y)):
        try:
            call()
        except API_ERRORS:
            pass


# ---------------------------------------------------------------------------
# The regression corpus: every file gets its recorded answer
# ---------------------------------------------------------------------------
# File names start with the expected answer: "ok-", "format-", "checksum-",
# "version-", "json-" for model files; "ok-" or "bad-" for IDX and CSV.


def corpus(kind):
    return sorted(p for p in (CORPUS / kind).iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("path", corpus("model"), ids=lambda p: p.name)
def test_model_corpus(path):
    data = path.read_bytes()
    assert check_readers_agree(data) == path.name.split("-")[0]
    # the file readers (header first, then the rest) give the same answers
    try:
        _format.read_model(path)
    except ModelFileError:
        pass
    try:
        _core.Net.load(path)
    except ModelFileError:
        pass


@pytest.mark.parametrize("path", corpus("idx"), ids=lambda p: p.name)
def test_idx_corpus(path):
    got = load_idx_checked(path, path.read_bytes())
    assert (got is not None) == path.name.startswith("ok-")


@pytest.mark.parametrize("path", corpus("csv"), ids=lambda p: p.name)
def test_csv_corpus(path):
    try:
        datasets.load_csv(path, target=-1)
        ok = True
    except DataFormatError:
        ok = False
    assert ok == path.name.startswith("ok-")


# ---------------------------------------------------------------------------
# The C harness: replayed under sanitizers, fuzzed with libFuzzer if present
# ---------------------------------------------------------------------------

HARNESS = ROOT / "csrc" / "fuzz" / "fuzz_model_load.c"
LIB_SOURCES = sorted(str(p) for p in (ROOT / "csrc").glob("*.c"))
SAN = ["-g", "-O1", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
       "-fno-sanitize-recover=all"]


def builds_and_runs(cc, flags, tmp_path):
    """True if cc builds a probe with flags and the probe runs (a sanitizer
    runtime can fail to start, e.g. under a tight address-space limit)."""
    src = tmp_path / "probe.c"
    src.write_text("#include <stdint.h>\n#include <stddef.h>\n"
                   "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                   "{ (void)d; (void)n; return 0; }\n"
                   "#ifndef FUZZER\nint main(void) { return 0; }\n#endif\n")
    exe = tmp_path / "probe"
    try:
        if subprocess.run([cc] + flags + [str(src), "-o", str(exe)], capture_output=True,
                          timeout=120).returncode != 0:
            return False
        args = ["-runs=0"] if "-DFUZZER" in flags else []
        return subprocess.run([str(exe)] + args, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def sanitizer_env():
    return dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=1",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def write_seeds(folder, n=40):
    """Valid model files and some edits of them, as extra harness inputs."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    for i in range(n):
        dtype = ["float32", "float64"][i % 2]
        n_in, units = 1 + i % 3, [1 + (i * 7) % 4, 1 + i % 2]
        acts = sorted(_enums.ACTIVATIONS)
        layers = [{"units": u, "activation": acts[(i + k) % len(acts)],
                   "act_param": 0.5, "init": "he_normal", "dropout": 0.0} for k, u in
                  enumerate(units)]
        n_params = sum(a * b + b for a, b in zip([n_in] + units, units))
        data = bytearray(_format.to_bytes(dtype, n_in, layers, rng.normal(size=n_params),
                                          rng.normal(size=n_in) if i % 3 else None, None,
                                          {"i": i}))
        (folder / f"seed{i:02d}").write_bytes(bytes(data))
        data[rng.integers(0, len(data))] ^= 1 << rng.integers(0, 8)
        (folder / f"flip{i:02d}").write_bytes(with_crc(bytes(data)))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) found")
def test_fuzz_harness_replays_corpus_under_sanitizers(tmp_path):
    if not builds_and_runs("cc", SAN, tmp_path):
        pytest.skip("cc cannot build and run programs with -fsanitize=address,undefined")
    exe = tmp_path / "replay"
    build = subprocess.run(["cc", "-std=c11", "-DFM_FUZZ_MAIN", f"-I{ROOT / 'csrc'}"] + SAN +
                           [str(HARNESS)] + LIB_SOURCES + ["-lm", "-o", str(exe)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, "cannot build the harness:\n" + build.stderr[-3000:]
    write_seeds(tmp_path / "seeds")
    run = subprocess.run([str(exe), str(CORPUS / "model"), str(tmp_path / "seeds")],
                         capture_output=True, text=True, timeout=120, env=sanitizer_env())
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "replayed" in run.stdout


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang (libFuzzer) not installed; "
                    "the hypothesis tests above fuzz the C reader instead")
def test_libfuzzer_bounded_run(tmp_path):
    flags = ["-g", "-O1", "-fsanitize=fuzzer,address,undefined"]
    if not builds_and_runs("clang", flags + ["-DFUZZER"], tmp_path):
        pytest.skip("this clang cannot build and run libFuzzer programs (-fsanitize=fuzzer)")
    exe = tmp_path / "fuzz_model_load"
    build = subprocess.run(["clang", f"-I{ROOT / 'csrc'}"] + flags + [str(HARNESS)] +
                           LIB_SOURCES + ["-lm", "-o", str(exe)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, "cannot build the harness:\n" + build.stderr[-3000:]
    work = tmp_path / "corpus"
    work.mkdir()
    write_seeds(tmp_path / "seeds")
    seconds = int(os.environ.get("FASTMLP_LIBFUZZER_SECONDS", "20"))
    run = subprocess.run([str(exe), f"-max_total_time={seconds}", "-max_len=4096",
                          f"-artifact_prefix={tmp_path}/", str(work), str(tmp_path / "seeds"),
                          str(CORPUS / "model")],
                         capture_output=True, text=True, timeout=seconds + 120,
                         env=sanitizer_env())
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "leak-",
                                                                               "oom-", "timeout-")))
    assert run.returncode == 0 and not crashes, (
        f"libFuzzer found {crashes}; add them to tests/corpus/model/\n" + run.stderr[-4000:])
