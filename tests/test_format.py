"""Tests of the pure-Python model file reader/writer (fastmlp/_format.py)
against docs/FORMAT.md, organised by what they prove:

- a file assembled byte by byte from the specification's layout (with
  struct, in this file) is read correctly and equals what the writer
  produces: the document and the code agree;
- the writer produces exactly the bytes of the FORMAT.md example, the same
  constant that csrc/tests/test_model_io.c checks against the C writer, so
  both writers agree byte for byte;
- round trips are bit-exact (float32/float64, with and without
  mean/scale/metadata, NaN payloads, infinities, signed zeros);
- every truncation and every single-byte change is refused with
  ModelFileError (exhaustively on a small file, and with hypothesis on
  random models);
- each validity rule of FORMAT.md section 5 is enforced on its own, with
  the message the table gives;
- absurd headers are refused from the header alone;
- saving is atomic.

The module is imported without the compiled extension when that cannot be
imported.
"""

import math
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


from fastmlp import _format as F
from fastmlp.exceptions import ModelFileError

# Hypothesis: bounded, no example database written into the tree.
BOUNDED = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# The example of FORMAT.md section 8 (the same constant is in
# csrc/tests/test_model_io.c).
GOLDEN_HEX = (
    "89464d500d0a1a0a01000000000000000000000003000000030000000000000002"
    "000000000000001f000000000000000000000000000000020000000000000004000000"
    "030000000000000000000000000000000000d03f0100000000000000060000000400"
    "00007b14ae47e17a843f00000000000000000000003f000080bf000000400000803f"
    "000000400000803e0000a0bf000080bf000040bf000000bf000080be000000000000"
    "803e0000003f0000403f0000803f0000a03f7b22636c6173736573223a5b302c315d"
    "2c226e616d65223a2264656d6f227ddebe420b"
)
GOLDEN = bytes.fromhex(GOLDEN_HEX)
GOLDEN_LAYERS = [
    dict(units=2, activation="tanh", act_param=0.0, init="glorot_uniform", dropout=0.25),
    dict(units=1, activation="leaky_relu", act_param=0.01, init="he_normal", dropout=0.0),
]
GOLDEN_PARAMS = (np.arange(11) - 5) * 0.25
GOLDEN_MEAN = [0.5, -1.0, 2.0]
GOLDEN_SCALE = [1.0, 2.0, 0.25]
GOLDEN_META = {"name": "demo", "classes": [0, 1]}
L0, L1 = 56, 88  # offsets of the golden file's two layer records


def golden_bytes():
    return F.to_bytes("float32", 3, GOLDEN_LAYERS, GOLDEN_PARAMS, GOLDEN_MEAN,
                      GOLDEN_SCALE, GOLDEN_META)


def with_crc(body):
    """body + its CRC-32 (FORMAT.md section 3)."""
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def edited(buf, offset, fmt, value):
    """buf with struct-format `fmt` value written at offset, crc repaired."""
    b = bytearray(buf[:-4])
    struct.pack_into(fmt, b, offset, value)
    return with_crc(b)


def bits(a):
    a = np.asarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


# ---------------------------------------------------------------------------
# The document and the code agree
# ---------------------------------------------------------------------------


def hand_built(dtype_code, n_in, layers, mean, scale, params, meta, minor=0, ext=b""):
    """A model file assembled from FORMAT.md section 2, field by field.

    layers: (units, activation code, init code, act_param, dropout).
    """
    el = "<f" if dtype_code == 0 else "<d"
    out = b"\x89FMP\r\n\x1a\n"                      # 0: magic
    out += struct.pack("<I", 1)                       # 8: format_major
    out += struct.pack("<I", minor)                   # 12: format_minor
    out += struct.pack("<I", dtype_code)              # 16: dtype
    flags = (1 if mean is not None else 0) | (2 if scale is not None else 0)
    out += struct.pack("<I", flags)                   # 20: flags
    out += struct.pack("<Q", n_in)                    # 24: n_in
    out += struct.pack("<I", len(layers))             # 32: n_layers
    out += struct.pack("<I", 0)                       # 36: reserved
    out += struct.pack("<Q", len(meta))               # 40: meta_len
    out += struct.pack("<Q", len(ext))                # 48: ext_len
    assert len(out) == 56
    for units, act, init, act_param, dropout in layers:  # 56: layer table
        out += struct.pack("<Q", units)
        out += struct.pack("<I", act)
        out += struct.pack("<I", init)
        out += struct.pack("<d", act_param)
        out += struct.pack("<d", dropout)
    for vec in (mean, scale):
        if vec is not None:
            out += b"".join(struct.pack(el, v) for v in vec)
    out += b"".join(struct.pack(el, v) for v in params)
    out += meta + ext
    return out + struct.pack("<I", zlib.crc32(out))


def test_hand_built_file_matches_the_spec():
    meta = b'{"classes":[0,1],"name":"demo"}'
    buf = hand_built(0, 3, [(2, 4, 3, 0.0, 0.25), (1, 6, 4, 0.01, 0.0)],
                     GOLDEN_MEAN, GOLDEN_SCALE, list(GOLDEN_PARAMS), meta)
    assert buf == GOLDEN
    assert golden_bytes() == buf
    mf = F.from_bytes(buf)
    assert mf.dtype == np.float32 and mf.n_in == 3
    assert mf.layers == GOLDEN_LAYERS
    np.testing.assert_array_equal(mf.params, GOLDEN_PARAMS.astype(np.float32))
    np.testing.assert_array_equal(mf.mean, np.float32(GOLDEN_MEAN))
    np.testing.assert_array_equal(mf.scale, np.float32(GOLDEN_SCALE))
    assert mf.meta == GOLDEN_META


def test_hand_built_float64_without_extras():
    # n_in 2 -> 3 sigmoid (sklearn init) -> 2 softmax: 2*3+3 + 3*2+2 = 17.
    params = [math.ldexp(i - 8, -3) for i in range(17)]
    buf = hand_built(1, 2, [(3, 3, 6, 0.0, 0.5), (2, 11, 0, 0.0, 0.0)],
                     None, None, params, b"")
    assert len(buf) == 56 + 64 + 17 * 8 + 4
    mf = F.from_bytes(buf)
    assert mf.dtype == np.float64 and mf.n_in == 2
    assert mf.layers == [
        dict(units=3, activation="sigmoid", act_param=0.0, init="sklearn", dropout=0.5),
        dict(units=2, activation="softmax", act_param=0.0, init="lecun_normal", dropout=0.0),
    ]
    np.testing.assert_array_equal(mf.params, params)
    assert mf.mean is None and mf.scale is None and mf.meta is None
    assert F.to_bytes("float64", 2, mf.layers, params) == buf


def test_enum_tables_match_the_spec():
    # FORMAT.md section 2: activation codes 0..12, init codes 0..6.
    assert sorted(F._enums.ACTIVATIONS.values()) == list(range(13))
    assert sorted(F._enums.INITIALIZERS.values()) == list(range(7))
    assert F._enums.ACTIVATIONS["leaky_relu"] == 6 and F._enums.ACTIVATIONS["elu"] == 7


def test_crc_is_zlibs():
    assert zlib.crc32(b"123456789") == 0xCBF43926
    assert struct.unpack("<I", GOLDEN[-4:])[0] == zlib.crc32(GOLDEN[:-4])


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


def special_params(n, dtype):
    p = ((np.arange(n) * 37) % 101 - 50) / 7.0
    p = p.astype(dtype)
    p[1], p[2], p[3], p[4] = -0.0, np.inf, -np.inf, np.nan
    return p


LAYERS3 = [
    dict(units=5, activation="relu", act_param=0.0, init="he_uniform", dropout=0.1),
    dict(units=4, activation="leaky_relu", act_param=0.2, init="glorot_normal", dropout=0.0),
    dict(units=2, activation="softmax", act_param=0.0, init="sklearn", dropout=0.0),
]
N3 = 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_mean", [False, True])
@pytest.mark.parametrize("with_scale", [False, True])
@pytest.mark.parametrize("meta", [None, {}, {"classes": ["a", "b"], "note": "café € 😀"}])
def test_roundtrip(tmp_path, dtype, with_mean, with_scale, meta):
    params = special_params(N3, dtype)
    mean = np.array([0.5, -1.25, np.nan], dtype) if with_mean else None
    scale = np.array([1.0, 2.0, 1e-3], dtype) if with_scale else None
    path = tmp_path / "m.fmlp"
    F.write_model(path, dtype, 3, LAYERS3, params, mean, scale, meta)
    for mf in (F.read_model(path), F.read_model(str(path)),
               F.from_bytes(path.read_bytes())):
        assert mf.dtype == dtype and mf.n_in == 3 and mf.layers == LAYERS3
        assert mf.params.dtype == dtype and mf.params.flags.writeable
        np.testing.assert_array_equal(bits(mf.params), bits(params))
        for got, want in ((mf.mean, mean), (mf.scale, scale)):
            if want is None:
                assert got is None
            else:
                np.testing.assert_array_equal(bits(got), bits(want))
        assert mf.meta == meta
    assert path.read_bytes() == F.to_bytes(dtype, 3, LAYERS3, params, mean, scale, meta)
    assert [p.name for p in tmp_path.iterdir()] == ["m.fmlp"]


def test_from_bytes_accepts_any_buffer():
    for buf in (GOLDEN, bytearray(GOLDEN), memoryview(GOLDEN),
                np.frombuffer(GOLDEN, np.uint8)):
        assert F.from_bytes(buf).meta == GOLDEN_META


@st.composite
def models(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n_in = draw(st.integers(1, 5))
    n_layers = draw(st.integers(1, 3))
    layers = []
    for l in range(n_layers):
        act = draw(st.sampled_from(sorted(F._enums.ACTIVATIONS)))
        if act == "leaky_relu":
            ap = draw(st.floats(0, 10))
        elif act == "elu":
            ap = draw(st.floats(1e-6, 10))
        else:
            ap = draw(st.floats(-1e3, 1e3))
        dropout = 0.0 if l == n_layers - 1 else draw(st.floats(0, 0.99))
        layers.append(dict(units=draw(st.integers(1, 4)), activation=act, act_param=ap,
                           init=draw(st.sampled_from(sorted(F._enums.INITIALIZERS))),
                           dropout=dropout))
    n = F._n_params(n_in, [layer["units"] for layer in layers])
    params = np.array(draw(st.lists(st.floats(width=32), min_size=n, max_size=n)), dtype)
    mean = draw(st.none() | st.just(np.linspace(-1, 1, n_in).astype(dtype)))
    scale = draw(st.none() | st.just(np.linspace(1, 2, n_in).astype(dtype)))
    meta = draw(st.none() | st.dictionaries(st.text(max_size=5),
                                            st.integers() | st.text(max_size=5),
                                            max_size=3))
    return dtype, n_in, layers, params, mean, scale, meta


@BOUNDED
@given(models())
def test_roundtrip_random_models(model):
    dtype, n_in, layers, params, mean, scale, meta = model
    mf = F.from_bytes(F.to_bytes(dtype, n_in, layers, params, mean, scale, meta))
    assert mf.dtype == dtype and mf.n_in == n_in and mf.layers == layers
    np.testing.assert_array_equal(bits(mf.params), bits(params))
    assert (mf.mean is None) == (mean is None) and (mf.scale is None) == (scale is None)
    assert mf.meta == meta


# ---------------------------------------------------------------------------
# Truncation and corruption
# ---------------------------------------------------------------------------


def test_every_truncation_is_refused(tmp_path):
    path = tmp_path / "t.fmlp"
    for k in range(len(GOLDEN)):
        with pytest.raises(ModelFileError, match="^truncated"):
            F.from_bytes(GOLDEN[:k])
        path.write_bytes(GOLDEN[:k])
        with pytest.raises(ModelFileError, match="^truncated"):
            F.read_model(path)
    with pytest.raises(ModelFileError, match="^trailing data: header says 223 bytes, file has 224"):
        F.from_bytes(GOLDEN + b"\0")


def test_every_single_byte_change_is_refused():
    buf = bytearray(GOLDEN)
    for i in range(len(GOLDEN)):
        for delta in (0x01, 0x02, 0x10, 0x80, 0xFF):
            buf[i] = GOLDEN[i] ^ delta
            with pytest.raises(ModelFileError):
                F.from_bytes(buf)
        buf[i] = GOLDEN[i]
    assert F.from_bytes(buf).meta == GOLDEN_META


@BOUNDED
@given(models(), st.data())
def test_random_corruption_is_refused(model, data):
    buf = bytearray(F.to_bytes(*model))
    i = data.draw(st.integers(0, len(buf) - 1))
    buf[i] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ModelFileError):
        F.from_bytes(buf)


@BOUNDED
@given(models(), st.data())
def test_random_truncation_is_refused(model, data):
    buf = F.to_bytes(*model)
    k = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(ModelFileError, match="^truncated"):
        F.from_bytes(buf[:k])


def test_checksum_mismatch_message():
    buf = bytearray(GOLDEN)
    buf[150] ^= 0x10  # a parameter byte
    with pytest.raises(ModelFileError, match=r"^checksum mismatch \(stored 0x[0-9a-f]{8}, "
                                             r"computed 0x[0-9a-f]{8}\)$"):
        F.from_bytes(buf)


def test_bad_magic_and_text_mode_mangling():
    msg = r"^not a fastmlp model file \(bad magic\)$"
    for buf in (b"hello world", b"\x89PNG\r\n\x1a\n" + GOLDEN[8:], b"X" + GOLDEN[1:],
                GOLDEN.replace(b"\r\n", b"\n", 1),            # CRLF -> LF
                GOLDEN[:7] + b"\r" + GOLDEN[7:]):             # LF -> CRLF
        with pytest.raises(ModelFileError, match=msg):
            F.from_bytes(buf)


# ---------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------


def test_newer_major_is_refused():
    msg = r"^format version 7 is newer than this fastmlp \(supports 1\)$"
    buf = edited(GOLDEN, 8, "<I", 7)
    with pytest.raises(ModelFileError, match=msg):
        F.from_bytes(buf)
    with pytest.raises(ModelFileError, match=msg):  # whatever its layout
        F.from_bytes(buf[:16])
    with pytest.raises(ModelFileError, match="^invalid format version 0$"):
        F.from_bytes(edited(GOLDEN, 8, "<I", 0))


def test_newer_minor_extension_is_skipped():
    meta = b'{"classes":[0,1],"name":"demo"}'
    layers = [(2, 4, 3, 0.0, 0.25), (1, 6, 4, 0.01, 0.0)]
    args = (0, 3, layers, GOLDEN_MEAN, GOLDEN_SCALE, list(GOLDEN_PARAMS), meta)
    mf = F.from_bytes(hand_built(*args, minor=3, ext=b"EXTN!"))
    assert mf.layers == GOLDEN_LAYERS and mf.meta == GOLDEN_META
    np.testing.assert_array_equal(mf.params, GOLDEN_PARAMS.astype(np.float32))
    with pytest.raises(ModelFileError,
                       match="^extension area of 5 bytes in a version 1.0 file$"):
        F.from_bytes(hand_built(*args, minor=0, ext=b"EXTN!"))


# ---------------------------------------------------------------------------
# One validity rule at a time (FORMAT.md section 5)
# ---------------------------------------------------------------------------

RULES = [
    (16, "<I", 2, "unknown dtype code 2"),
    (20, "<I", 7, "unknown flags 0x7"),
    (36, "<I", 1, "reserved header field is 1, not 0"),
    (24, "<Q", 0, "n_in 0 out of range [1, 2147483648]"),
    (24, "<Q", 2**31 + 1, "n_in 2147483649 out of range [1, 2147483648]"),
    (32, "<I", 0, "n_layers 0 out of range [1, 1024]"),
    (32, "<I", 1025, "n_layers 1025 out of range [1, 1024]"),
    (32, "<I", 2**32 - 1, "n_layers 4294967295 out of range [1, 1024]"),
    (40, "<Q", 2**64 - 1, "sizes in the header overflow"),
    (40, "<Q", 30, "trailing data: header says 222 bytes, file has 223"),
    (L0, "<Q", 0, "units 0 out of range [1, 2147483648] in layer 0"),
    (L0, "<Q", 2**31 + 1, "units 2147483649 out of range [1, 2147483648] in layer 0"),
    (L0, "<Q", 3, "truncated: header says 243 bytes, file has 223"),
    (L0 + 8, "<I", 13, "unknown activation code 13 in layer 0"),
    (L1 + 8, "<I", 99, "unknown activation code 99 in layer 1"),
    (L0 + 12, "<I", 7, "unknown init code 7 in layer 0"),
    (L0 + 16, "<d", math.nan, "invalid act_param nan for tanh in layer 0"),
    (L0 + 16, "<d", math.inf, "invalid act_param inf for tanh in layer 0"),
    (L1 + 16, "<d", -0.01, "invalid act_param -0.01 for leaky_relu in layer 1"),
    (L0 + 24, "<d", 1.0, "dropout 1.0 out of range [0, 1) in layer 0"),
    (L0 + 24, "<d", -0.1, "dropout -0.1 out of range [0, 1) in layer 0"),
    (L0 + 24, "<d", math.nan, "dropout nan out of range [0, 1) in layer 0"),
    (L1 + 24, "<d", 0.5, "dropout 0.5 on the output layer 1 (must be 0)"),
]


@pytest.mark.parametrize("offset, fmt, value, message", RULES)
def test_rule(offset, fmt, value, message):
    with pytest.raises(ModelFileError) as exc:
        F.from_bytes(edited(GOLDEN, offset, fmt, value))
    assert str(exc.value) == message


@pytest.mark.parametrize("offset, fmt, value", [
    (L0 + 16, "<d", -3.0),   # tanh ignores act_param: any finite value
    (L1 + 16, "<d", 0.0),    # leaky slope 0 is allowed
    (L0 + 24, "<d", 0.0),
])
def test_rule_boundaries_accepted(offset, fmt, value):
    F.from_bytes(edited(GOLDEN, offset, fmt, value))


def test_elu_alpha_must_be_positive():
    buf = edited(GOLDEN, L1 + 8, "<I", 7)  # layer 1 becomes elu(0.01)
    assert F.from_bytes(buf).layers[1]["activation"] == "elu"
    with pytest.raises(ModelFileError, match=r"^invalid act_param 0.0 for elu in layer 1$"):
        F.from_bytes(edited(buf, L1 + 16, "<d", 0.0))


@pytest.mark.parametrize("raw", [b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                                 b"\xe2\x82", b"\x80", b"\xff"])
def test_metadata_must_be_utf8(raw):
    # the bad bytes replace the end of the golden metadata blob
    body = bytearray(GOLDEN[:-4])
    body[len(body) - len(raw):] = raw
    with pytest.raises(ModelFileError, match="^metadata is not valid UTF-8$"):
        F.from_bytes(with_crc(body))


@pytest.mark.parametrize("raw, message", [
    (b"[1, 2]", "^metadata is not a JSON object$"),
    (b"not json", "^metadata is not valid JSON: "),
    (b'{"a": NaN}', "^metadata is not valid JSON: NaN is not allowed"),
    (b"[" * 100000, "^metadata is not valid JSON: "),
])
def test_metadata_must_be_a_json_object(raw, message):
    buf = hand_built(0, 1, [(1, 0, 0, 0.0, 0.0)], None, None, [1.0, 2.0], raw)
    with pytest.raises(ModelFileError, match=message):
        F.from_bytes(buf)


# ---------------------------------------------------------------------------
# Absurd headers
# ---------------------------------------------------------------------------


def absurd(n_in, n_layers, n_rec, units, dtype):
    body = b"\x89FMP\r\n\x1a\n" + struct.pack("<IIIIQIIQQ", 1, 0, dtype, 0, n_in,
                                               n_layers, 0, 0, 0)
    body += struct.pack("<QIIdd", units, 5, 0, 0.0, 0.0) * n_rec
    return with_crc(body)


@pytest.mark.parametrize("n_in, n_layers, n_rec, units, dtype, message", [
    (3, 2**32 - 1, 1, 4, 0, "^n_layers 4294967295 out of range"),
    (3, 1025, 1025, 4, 0, "^n_layers 1025 out of range"),
    (3, 1024, 1024, 2**31, 1, "^sizes in the header overflow$"),
    (2**31, 1, 1, 2**31, 0, "^sizes in the header overflow$"),
    (2**20, 1, 1, 2**20, 1, "^truncated: header says 8796101410908 bytes, file has 92$"),
    (2**31, 2, 2, 2**31, 1, "^sizes in the header overflow$"),
    (2**64 - 1, 1, 1, 4, 0, "^n_in 18446744073709551615 out of range"),
    (3, 1, 1, 2**64 - 1, 0, "^units 18446744073709551615 out of range"),
])
def test_absurd_header_refused(n_in, n_layers, n_rec, units, dtype, message):
    with pytest.raises(ModelFileError, match=message):
        F.from_bytes(absurd(n_in, n_layers, n_rec, units, dtype))


def test_huge_file_refused_from_its_header(tmp_path):
    # 64 GiB (sparse) file whose header describes the 223-byte model: the
    # reader must refuse it after reading only the header.
    path = tmp_path / "sparse.fmlp"
    with open(path, "wb") as f:
        f.write(GOLDEN)
        try:
            f.truncate(1 << 36)
        except OSError:
            pytest.skip("sparse files not supported here")
    with pytest.raises(ModelFileError, match="^trailing data: header says 223 bytes, "
                                             "file has 68719476736$"):
        F.read_model(path)


# ---------------------------------------------------------------------------
# Writing: validation and atomicity
# ---------------------------------------------------------------------------


def test_encode_meta_is_canonical():
    assert F.encode_meta(None) == b""
    assert F.encode_meta({}) == b"{}"
    assert F.encode_meta({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()
    assert F.encode_meta({"n": np.int64(3), "x": np.arange(2)}) == b'{"n":3,"x":[0,1]}'
    for bad in ({"x": float("nan")}, {"x": object()}, [1, 2], "text"):
        with pytest.raises(ValueError):
            F.encode_meta(bad)


@pytest.mark.parametrize("change, message", [
    (dict(dtype="float16"), "dtype must be float32 or float64"),
    (dict(n_in=0), "n_in 0 out of range"),
    (dict(params=np.zeros(10)), r"params must have shape \(11,\)"),
    (dict(params=np.zeros((11, 1))), r"params must have shape \(11,\)"),
    (dict(mean=[1.0, 2.0]), r"mean must have shape \(3,\)"),
    (dict(layers=[]), "n_layers 0 out of range"),
    (dict(layers=[dict(GOLDEN_LAYERS[0], dropout=0.0), dict(GOLDEN_LAYERS[1], dropout=0.5)]),
     r"dropout 0.5 on the output layer 1 \(must be 0\)"),
    (dict(layers=[GOLDEN_LAYERS[0], dict(GOLDEN_LAYERS[1], activation="nope")]),
     "unknown activation 'nope'"),
    (dict(layers=[GOLDEN_LAYERS[0], {"units": 1}]), "layer 1 lacks"),
    (dict(meta={"x": float("inf")}), "not JSON-serialisable"),
])
def test_writer_refuses_what_the_reader_would(tmp_path, change, message):
    args = dict(dtype="float32", n_in=3, layers=GOLDEN_LAYERS, params=GOLDEN_PARAMS,
                mean=GOLDEN_MEAN, scale=GOLDEN_SCALE, meta=GOLDEN_META)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        F.write_model(tmp_path / "m.fmlp", **args)
    assert list(tmp_path.iterdir()) == []


def test_writer_accepts_aliases_and_stores_canonical_names():
    layers = [dict(GOLDEN_LAYERS[0], activation="TANH", init="xavier_uniform"),
              GOLDEN_LAYERS[1]]
    buf = F.to_bytes(np.float32, 3, layers, GOLDEN_PARAMS, GOLDEN_MEAN, GOLDEN_SCALE,
                     GOLDEN_META)
    assert buf == GOLDEN


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        F.write_model(tmp_path / "nope" / "m.fmlp", "float32", 3, GOLDEN_LAYERS,
                      GOLDEN_PARAMS)
    assert list(tmp_path.iterdir()) == []


def test_save_over_a_directory_leaves_no_temp_file(tmp_path):
    target = tmp_path / "adir"
    target.mkdir()
    with pytest.raises(OSError):
        F.write_model(target, "float32", 3, GOLDEN_LAYERS, GOLDEN_PARAMS)
    assert [p.name for p in tmp_path.iterdir()] == ["adir"] and target.is_dir()


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.fmlp"
    F.write_model(path, "float32", 3, GOLDEN_LAYERS, GOLDEN_PARAMS, GOLDEN_MEAN,
                  GOLDEN_SCALE, GOLDEN_META)
    assert path.read_bytes() == GOLDEN

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(F.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        F.write_model(path, "float64", 3, GOLDEN_LAYERS, GOLDEN_PARAMS)
    monkeypatch.undo()
    assert path.read_bytes() == GOLDEN
    assert [p.name for p in tmp_path.iterdir()] == ["m.fmlp"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        F.write_model(tmp_path / "m.fmlp", "float32", 3, GOLDEN_LAYERS, GOLDEN_PARAMS)
    finally:
        os.umask(old)
    assert (tmp_path / "m.fmlp").stat().st_mode & 0o777 == 0o644


def test_successful_overwrite(tmp_path):
    path = tmp_path / "m.fmlp"
    F.write_model(path, "float64", 3, GOLDEN_LAYERS, GOLDEN_PARAMS)
    F.write_model(os.fsencode(path), "float32", 3, GOLDEN_LAYERS, GOLDEN_PARAMS,
                  GOLDEN_MEAN, GOLDEN_SCALE, GOLDEN_META)
    assert path.read_bytes() == GOLDEN
    assert [p.name for p in tmp_path.iterdir()] == ["m.fmlp"]


def test_read_errors_of_the_os(tmp_path):
    with pytest.raises(FileNotFoundError):
        F.read_model(tmp_path / "missing.fmlp")
    with pytest.raises(OSError):
        F.read_model(tmp_path)
