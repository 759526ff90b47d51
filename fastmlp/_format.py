"""The fastmlp model file in pure Python: reader and writer.

This module owns the Python side of the binary model format defined in
``docs/FORMAT.md`` (section numbers below refer to it).  ``csrc/model_io.c``
is its C mirror: both writers produce byte-identical files from the same
inputs, and both readers apply the same validity rules in the same order
(section 5); only the messages are Python's own.

A model file is data only.  It is decoded with :mod:`struct` and
:func:`numpy.frombuffer`, checked with :func:`zlib.crc32`, and its metadata
blob is parsed by :func:`json.loads` and nothing else: nothing in a file is
ever executed, unpickled or evaluated.  Every size in a header is checked
against the real length before it is used.
"""

import json
import math
import operator
import os
import secrets
import stat
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _enums
from .exceptions import ModelFileError

__all__ = [
    "ModelFileError",
    "ModelFile",
    "encode_meta",
    "to_bytes",
    "from_bytes",
    "write_model",
    "read_model",
]

# ---------------------------------------------------------------------------
# Format constants (section 2); the C names are in csrc/model_io.c.
# ---------------------------------------------------------------------------

MAGIC = b"\x89FMP\r\n\x1a\n"
FORMAT_MAJOR = 1  # newest major this code reads, and the one it writes
FORMAT_MINOR = 0  # newest minor this code knows; written as is
MAX_LAYERS = 1024
MAX_DIM = 2**31  # limit of n_in and of every layer's units
FLAG_MEAN = 1
FLAG_SCALE = 2
_U64_MAX = 2**64 - 1

# magic, major, minor, dtype, flags, n_in, n_layers, reserved, meta_len, ext_len
_FIXED = struct.Struct("<8sIIIIQIIQQ")
# units, activation, init, act_param, dropout
_LAYER = struct.Struct("<QIIdd")
_CRC = struct.Struct("<I")
_MIN_LEN = _FIXED.size + _CRC.size  # 60
# Longest prefix rules 1-7 ever look at: fixed header + 1024 layer records.
MAX_HEADER = _FIXED.size + _LAYER.size * MAX_LAYERS + _CRC.size

# dtype code -> little-endian element type (section 2, field dtype).
_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<f8")}
_ACT_NAMES = {code: name for name, code in _enums.ACTIVATIONS.items()}
_INIT_NAMES = {code: name for name, code in _enums.INITIALIZERS.items()}

_TMP_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"




@dataclass(eq=False)
class ModelFile:
    """Everything a model file holds, decoded.

    Attributes
    ----------
    dtype : numpy.dtype
        ``float32`` or ``float64``: the dtype of ``params``, ``mean`` and
        ``scale``.
    n_in : int
        Number of inputs.
    layers : list of dict
        One dict per dense layer with keys ``"units"`` (int),
        ``"activation"`` (name from ``_enums.ACTIVATIONS``), ``"act_param"``
        (float), ``"init"`` (name from ``_enums.INITIALIZERS``) and
        ``"dropout"`` (float).
    params : numpy.ndarray
        Flat parameters ``[W0 (n_in, u0) row-major, b0, W1, b1, ...]``,
        1-D, native byte order, writable.
    mean, scale : numpy.ndarray or None
        Input standardisation, shape ``(n_in,)``, or None when absent.
    meta : dict or None
        The decoded JSON metadata, or None when the file has none.
    """

    dtype: np.dtype
    n_in: int
    layers: list
    params: np.ndarray
    mean: Optional[np.ndarray]
    scale: Optional[np.ndarray]
    meta: Optional[dict]


# ---------------------------------------------------------------------------
# Validity rules (section 5), shared by the reader and the writer
# ---------------------------------------------------------------------------


def _layer_problem(l, units, act, init, act_param, dropout, last):
    """Rule 6 for layer ``l``: the message of the first broken rule, or None."""
    if not 1 <= units <= MAX_DIM:
        return f"units {units} out of range [1, {MAX_DIM}] in layer {l}"
    if act not in _ACT_NAMES:
        return f"unknown activation code {act} in layer {l}"
    if init not in _INIT_NAMES:
        return f"unknown init code {init} in layer {l}"
    name = _ACT_NAMES[act]
    if (
        not math.isfinite(act_param)
        or (name == "leaky_relu" and not act_param >= 0)
        or (name == "elu" and not act_param > 0)
    ):
        return f"invalid act_param {act_param!r} for {name} in layer {l}"
    if not (0 <= dropout < 1):  # NaN fails
        return f"dropout {dropout!r} out of range [0, 1) in layer {l}"
    if last and dropout != 0:
        return f"dropout {dropout!r} on the output layer {l} (must be 0)"
    return None


def _n_params(n_in, units):
    """Σ_l fan_in_l·u_l + u_l with fan_in_0 = n_in (section 2)."""
    total, fan_in = 0, n_in
    for u in units:
        total += fan_in * u + u
        fan_in = u
    return total


@dataclass
class _Header:
    """What rules 1-7 derive from a header (mirrors mf_header_t in C)."""

    minor: int
    dtype: np.dtype
    flags: int
    n_in: int
    records: list  # (units, act, init, act_param, dropout) per layer
    meta_len: int
    ext_len: int
    n_params: int
    off_mean: int
    off_scale: int
    off_params: int
    off_meta: int
    total: int


def _layout(n_layers, n_in, esize, flags, n_params, meta_len, ext_len):
    """Section offsets and the total length (section 2).

    Python integers do not overflow, so rule 7's overflow test is done on
    the exact total: every step of the C computation adds or multiplies
    non-negative numbers, so some step overflows 64 bits exactly when the
    final value does.
    """
    off_mean = _FIXED.size + _LAYER.size * n_layers
    off_scale = off_mean + (n_in * esize if flags & FLAG_MEAN else 0)
    off_params = off_scale + (n_in * esize if flags & FLAG_SCALE else 0)
    off_meta = off_params + n_params * esize
    total = off_meta + meta_len + ext_len + _CRC.size
    if total > _U64_MAX:
        return None
    return off_mean, off_scale, off_params, off_meta, total


def _parse_header(buf, length):
    """Rules 1-7 on the first bytes ``buf`` of a file of ``length`` bytes.

    ``buf`` holds at least ``min(length, MAX_HEADER)`` bytes.  Returns a
    :class:`_Header`; raises :class:`ModelFileError` at the first broken
    rule.
    """
    # 1: magic (a short file must at least start like one)
    head = bytes(buf[: min(length, len(MAGIC))])
    if head != MAGIC[: len(head)]:
        raise ModelFileError("not a fastmlp model file (bad magic)")
    # 2: major version, before anything whose layout it could change
    if length >= 12:
        (major,) = struct.unpack_from("<I", buf, 8)
        if major == 0:
            raise ModelFileError("invalid format version 0")
        if major > FORMAT_MAJOR:
            raise ModelFileError(
                f"format version {major} is newer than this fastmlp "
                f"(supports {FORMAT_MAJOR})"
            )
    # 3: room for the fixed header and the crc
    if length < _MIN_LEN:
        raise ModelFileError(
            f"truncated: file has {length} bytes, a model file has at least {_MIN_LEN}"
        )
    # 4: fixed fields
    (_, _, minor, dtype, flags, n_in, n_layers, reserved, meta_len,
     ext_len) = _FIXED.unpack_from(buf, 0)
    if dtype not in _DTYPES:
        raise ModelFileError(f"unknown dtype code {dtype}")
    if flags & ~(FLAG_MEAN | FLAG_SCALE):
        raise ModelFileError(f"unknown flags 0x{flags:x}")
    if reserved != 0:
        raise ModelFileError(f"reserved header field is {reserved}, not 0")
    if not 1 <= n_in <= MAX_DIM:
        raise ModelFileError(f"n_in {n_in} out of range [1, {MAX_DIM}]")
    if not 1 <= n_layers <= MAX_LAYERS:
        raise ModelFileError(f"n_layers {n_layers} out of range [1, {MAX_LAYERS}]")
    if minor <= FORMAT_MINOR and ext_len != 0:
        raise ModelFileError(
            f"extension area of {ext_len} bytes in a version "
            f"{FORMAT_MAJOR}.{minor} file"
        )
    # 5: the layer table is there
    need = _FIXED.size + _LAYER.size * n_layers + _CRC.size
    if length < need:
        raise ModelFileError(
            f"truncated: header says at least {need} bytes, file has {length}"
        )
    # 6: each layer
    records = [
        _LAYER.unpack_from(buf, _FIXED.size + _LAYER.size * l) for l in range(n_layers)
    ]
    for l, rec in enumerate(records):
        problem = _layer_problem(l, *rec, last=(l == n_layers - 1))
        if problem:
            raise ModelFileError(problem)
    # 7: every size computed without overflow and equal to the length
    dt = _DTYPES[dtype]
    n_params = _n_params(n_in, [r[0] for r in records])
    lay = _layout(n_layers, n_in, dt.itemsize, flags, n_params, meta_len, ext_len)
    if lay is None:
        raise ModelFileError("sizes in the header overflow")
    off_mean, off_scale, off_params, off_meta, total = lay
    if total != length:
        what = "truncated" if length < total else "trailing data"
        raise ModelFileError(f"{what}: header says {total} bytes, file has {length}")
    return _Header(minor, dt, flags, n_in, records, meta_len, ext_len, n_params,
                   off_mean, off_scale, off_params, off_meta, total)


def _refuse_constant(name):
    raise ValueError(f"{name} is not allowed")


def _decode_meta(raw):
    """Rules 9 and 9': the metadata blob -> dict, or None when empty."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError("metadata is not valid UTF-8") from None
    try:
        meta = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelFileError("metadata is not a JSON object")
    return meta


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def from_bytes(buf):
    """Decode a model file held in memory.

    Parameters
    ----------
    buf : bytes-like
        The whole file: ``bytes``, ``bytearray``, ``memoryview`` or any
        object supporting the buffer protocol.

    Returns
    -------
    ModelFile
        The decoded model; its arrays are copies (native byte order,
        writable) and do not refer to ``buf``.

    Raises
    ------
    ModelFileError
        If ``buf`` is not a valid model file; the message names the first
        rule of ``docs/FORMAT.md`` section 5 that fails.
    """
    mv = memoryview(buf)
    if not mv.c_contiguous:
        mv = memoryview(mv.tobytes())
    mv = mv.cast("B")
    length = len(mv)
    h = _parse_header(mv, length)
    # 8: checksum of everything before the stored crc
    (stored,) = _CRC.unpack_from(mv, length - _CRC.size)
    computed = zlib.crc32(mv[: length - _CRC.size])
    if stored != computed:
        raise ModelFileError(
            f"checksum mismatch (stored 0x{stored:08x}, computed 0x{computed:08x})"
        )
    # 9: metadata
    meta = _decode_meta(bytes(mv[h.off_meta : h.off_meta + h.meta_len]))

    native = h.dtype.newbyteorder("=")

    def array(offset, count):
        return np.frombuffer(mv, dtype=h.dtype, count=count, offset=offset).astype(
            native, copy=True
        )

    layers = [
        {
            "units": units,
            "activation": _ACT_NAMES[act],
            "act_param": act_param,
            "init": _INIT_NAMES[init],
            "dropout": dropout,
        }
        for units, act, init, act_param, dropout in h.records
    ]
    return ModelFile(
        dtype=native,
        n_in=h.n_in,
        layers=layers,
        params=array(h.off_params, h.n_params),
        mean=array(h.off_mean, h.n_in) if h.flags & FLAG_MEAN else None,
        scale=array(h.off_scale, h.n_in) if h.flags & FLAG_SCALE else None,
        meta=meta,
    )


def read_model(path):
    """Read a model file.

    The first bytes are read and checked against the file's size (rules 1-7
    of ``docs/FORMAT.md``) before the rest is read, so an absurd or
    inconsistent header is refused without reading or allocating anything
    sized by it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    ModelFile
        The decoded model.

    Raises
    ------
    ModelFileError
        If the file is not a valid model file (or not a regular file).
    OSError
        If the file cannot be opened or read.
    """
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ModelFileError(f"{os.fsdecode(os.fspath(path))} is not a regular file")
        size = st.st_size
        prefix = f.read(min(size, MAX_HEADER))
        if len(prefix) != min(size, MAX_HEADER):
            raise OSError(f"{os.fsdecode(os.fspath(path))} changed while being read")
        _parse_header(prefix, size)
        # size is now the total the header describes.
        data = bytearray(size)
        data[: len(prefix)] = prefix
        view = memoryview(data)
        got = len(prefix)
        while got < size:
            n = f.readinto(view[got:])
            if not n:
                raise OSError(f"{os.fsdecode(os.fspath(path))} changed while being read")
            got += n
    return from_bytes(data)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _json_default(obj):
    """NumPy scalars and arrays in metadata become plain JSON values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def encode_meta(meta):
    """Serialise metadata the canonical way (``docs/FORMAT.md`` section 4).

    Parameters
    ----------
    meta : dict or None
        JSON-serialisable mapping with string keys (NumPy scalars and
        arrays are converted to numbers and lists).  NaN and infinities are
        refused.

    Returns
    -------
    bytes
        UTF-8 JSON with sorted keys and no spaces; ``b""`` for None.  These
        are the bytes to give ``fm_model_save`` for a byte-identical file.

    Raises
    ------
    ValueError
        If ``meta`` is not a mapping or cannot be serialised.
    """
    if meta is None:
        return b""
    if not isinstance(meta, Mapping):
        raise ValueError(f"meta must be a dict or None, got {type(meta).__name__}")
    try:
        text = json.dumps(
            dict(meta),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_json_default,
        )
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"metadata is not JSON-serialisable: {exc}") from None


def _as_int(value, what):
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {value!r}") from None


def _as_float(value, what):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a real number, got {value!r}") from None


def _as_vector(values, n, dt, what):
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{what} must be real numbers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {arr.shape}")
    return arr.astype(dt).tobytes()


def to_bytes(dtype, n_in, layers, params, mean=None, scale=None, meta=None):
    """Encode a model as the bytes of a model file (format 1.0).

    Parameters
    ----------
    dtype : str or numpy.dtype
        ``"float32"`` or ``"float64"``; ``params``, ``mean`` and ``scale``
        are converted to it.
    n_in : int
        Number of inputs, in ``[1, 2**31]``.
    layers : sequence of dict
        One dict per dense layer with keys ``"units"``, ``"activation"``,
        ``"act_param"``, ``"init"``, ``"dropout"``; names as in
        :mod:`fastmlp._enums` (aliases accepted, canonical names stored).
    params : array_like
        Flat parameters, 1-D, ``n_params`` values laid out
        ``[W0 (n_in, u0) row-major, b0, W1, b1, ...]``.
    mean, scale : array_like or None
        Input standardisation, shape ``(n_in,)``, or None.
    meta : dict or None
        JSON metadata, serialised by :func:`encode_meta`.

    Returns
    -------
    bytes
        The file, byte-identical to what ``fm_model_save`` writes for the
        same inputs.

    Raises
    ------
    ValueError
        If the inputs break a rule of ``docs/FORMAT.md`` section 5 (so the
        result could not be read back) or have the wrong shapes.
    """
    dt = np.dtype(dtype)
    codes = {np.dtype("float32"): 0, np.dtype("float64"): 1}
    if dt not in codes:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    code = codes[dt]
    dt_le = _DTYPES[code]
    n_in = _as_int(n_in, "n_in")
    if not 1 <= n_in <= MAX_DIM:
        raise ValueError(f"cannot write model: n_in {n_in} out of range [1, {MAX_DIM}]")
    layers = list(layers)
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise ValueError(
            f"cannot write model: n_layers {len(layers)} out of range [1, {MAX_LAYERS}]"
        )
    records = []
    for l, layer in enumerate(layers):
        if not isinstance(layer, Mapping):
            raise ValueError(f"layer {l} must be a dict, got {type(layer).__name__}")
        missing = {"units", "activation", "act_param", "init", "dropout"} - set(layer)
        if missing:
            raise ValueError(f"layer {l} lacks {', '.join(sorted(missing))}")
        rec = (
            _as_int(layer["units"], f"units of layer {l}"),
            _enums.code("activation", layer["activation"]),
            _enums.code("initializer", layer["init"]),
            _as_float(layer["act_param"], f"act_param of layer {l}"),
            _as_float(layer["dropout"], f"dropout of layer {l}"),
        )
        problem = _layer_problem(l, *rec, last=(l == len(layers) - 1))
        if problem:
            raise ValueError(f"cannot write model: {problem}")
        records.append(rec)
    n_params = _n_params(n_in, [r[0] for r in records])
    meta_bytes = encode_meta(meta)
    flags = (FLAG_MEAN if mean is not None else 0) | (FLAG_SCALE if scale is not None else 0)
    if _layout(len(records), n_in, dt.itemsize, flags, n_params, len(meta_bytes), 0) is None:
        raise ValueError("cannot write model: sizes overflow")

    parts = [
        _FIXED.pack(MAGIC, FORMAT_MAJOR, FORMAT_MINOR, code, flags, n_in, len(records),
                    0, len(meta_bytes), 0)
    ]
    parts += [_LAYER.pack(*rec) for rec in records]
    if mean is not None:
        parts.append(_as_vector(mean, n_in, dt_le, "mean"))
    if scale is not None:
        parts.append(_as_vector(scale, n_in, dt_le, "scale"))
    parts.append(_as_vector(params, n_params, dt_le, "params"))
    parts.append(meta_bytes)
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def _temp_name(path):
    suffix = ".tmp-" + "".join(secrets.choice(_TMP_ALPHABET) for _ in range(6))
    return path + (os.fsencode(suffix) if isinstance(path, bytes) else suffix)


def _atomic_write(path, data):
    """Write ``data`` to ``path`` via a temporary file and a rename (section 7)."""
    path = os.fspath(path)
    flags = (
        os.O_WRONLY | os.O_CREAT | os.O_EXCL
        | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    )
    for _ in range(100):
        tmp = _temp_name(path)
        try:
            # 0o666 before the umask: the usual permissions of a new file.
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name next to {os.fsdecode(path)}")
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if os.name == "posix":  # make the rename durable; best effort
        try:
            dfd = os.open(os.path.dirname(path) or os.curdir, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)


def write_model(path, dtype, n_in, layers, params, mean=None, scale=None, meta=None):
    """Write a model file atomically.

    The bytes are built first (see :func:`to_bytes`), then written to
    ``<path>.tmp-XXXXXX`` in the same directory, flushed to disk and
    renamed over ``path``.  On any failure the temporary file is removed
    and an existing ``path`` is left as it was.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.
    dtype, n_in, layers, params, mean, scale, meta
        As in :func:`to_bytes`.

    Raises
    ------
    ValueError
        If the inputs cannot form a valid model file (nothing is written).
    OSError
        If the file cannot be written.
    """
    data = to_bytes(dtype, n_in, layers, params, mean=mean, scale=scale, meta=meta)
    _atomic_write(path, data)
