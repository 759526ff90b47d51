"""Data for fastmlp: file loaders, splitting, standardisation, toy problems.

This module owns everything that happens to data before it reaches a model:

- loaders for MNIST's IDX files (:func:`load_idx`, :func:`load_mnist`),
  NumPy archives (:func:`load_npz`) and CSV tables (:func:`load_csv`);
- the course's training/validation/test split (:func:`train_val_test_split`);
- input normalisation with statistics from the training set only
  (:class:`Standardizer`);
- small generated problems for tests and examples (:func:`make_xor`,
  :func:`make_spirals`, :func:`make_moons`, :func:`make_blobs`,
  :func:`make_regression`).

Only NumPy and the standard library are used. Loaders treat their files as
untrusted: every size is checked before memory is allocated, and every error
names the file and the problem.
"""

import csv
import gzip
import math
import os
import struct
import zipfile
import zlib
from fractions import Fraction
from numbers import Integral, Real

import numpy as np

from .exceptions import DataFormatError, NotFittedError

__all__ = [
    "DataFormatError",
    "NotFittedError",
    "Standardizer",
    "load_csv",
    "load_idx",
    "load_mnist",
    "load_npz",
    "make_blobs",
    "make_moons",
    "make_regression",
    "make_spirals",
    "make_xor",
    "train_val_test_split",
]




# ---------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------

# IDX type byte -> element dtype as stored on disk (multi-byte types are
# big-endian).
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_MAX_NDIM = 8
_GZIP_MAGIC = b"\x1f\x8b"
# Largest payload load_idx accepts by default (4 GiB; MNIST's largest file
# holds 47 MB).
DEFAULT_MAX_BYTES = 1 << 32
# Bytes read per call while filling the output buffer.
_CHUNK = 1 << 24


def _read_exact(stream, n):
    """Read up to ``n`` bytes, stopping early only at the end of the stream."""
    parts = []
    while n > 0:
        part = stream.read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _read_idx(stream, path, max_bytes, file_size):
    """Parse one IDX stream; ``file_size`` is its length in bytes when known
    in advance (raw files), else None (gzip)."""
    header = _read_exact(stream, 4)
    if len(header) < 4:
        raise DataFormatError(
            f"{path}: too short for an IDX header ({len(header)} bytes, need 4)"
        )
    if header[0] != 0 or header[1] != 0:
        raise DataFormatError(
            f"{path}: bad magic number 0x{header.hex().upper()}: an IDX file "
            "starts with two zero bytes"
        )
    type_code, ndim = header[2], header[3]
    if type_code not in _IDX_TYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_TYPES)
        raise DataFormatError(
            f"{path}: unknown IDX data type code 0x{type_code:02X} (known: {known})"
        )
    if not 1 <= ndim <= _IDX_MAX_NDIM:
        raise DataFormatError(
            f"{path}: {ndim} dimensions in the IDX header; "
            f"expected 1 to {_IDX_MAX_NDIM}"
        )
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataFormatError(
            f"{path}: truncated IDX header: {ndim} dimensions announced but "
            f"only {len(raw_dims)} of {4 * ndim} size bytes present"
        )
    # Sizes are big-endian signed 32-bit integers.
    shape = struct.unpack(f">{ndim}i", raw_dims)
    for axis, size in enumerate(shape):
        if size <= 0:
            raise DataFormatError(
                f"{path}: dimension {axis} has size {size}; every size must be > 0"
            )

    # Python ints: no overflow however large the claimed shape is.
    dtype = _IDX_TYPES[type_code]
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > max_bytes:
        raise DataFormatError(
            f"{path}: header claims shape {shape} of {dtype.name} "
            f"({nbytes} bytes), more than max_bytes={max_bytes}; refusing to "
            "allocate"
        )
    if file_size is not None and file_size - 4 - 4 * ndim != nbytes:
        payload = file_size - 4 - 4 * ndim
        problem = "truncated" if payload < nbytes else "trailing data"
        raise DataFormatError(
            f"{path}: {problem}: header shape {shape} needs {nbytes} data "
            f"bytes, file holds {payload}"
        )

    # Never read past what the header announced.  A file of known size
    # was checked above, so its buffer is allocated at once; a compressed
    # stream's size is unknown, so its buffer grows with the data actually
    # decompressed: a header claiming gigabytes allocates nothing up front.
    if file_size is not None:
        buf = np.empty(nbytes, dtype=np.uint8)
        view = memoryview(buf)
        filled = 0
        while filled < nbytes:
            got = stream.readinto(view[filled : filled + _CHUNK])
            if not got:
                break
            filled += got
    else:
        grown = bytearray()
        while len(grown) < nbytes:
            part = stream.read(min(_CHUNK, nbytes - len(grown)))
            if not part:
                break
            grown += part
        filled = len(grown)
        buf = np.frombuffer(grown, dtype=np.uint8)
    if filled < nbytes:
        raise DataFormatError(
            f"{path}: truncated: header shape {shape} needs {nbytes} data "
            f"bytes, stream ends after {filled}"
        )
    if stream.read(1):
        raise DataFormatError(
            f"{path}: trailing data: the stream continues past the "
            f"{nbytes} data bytes that header shape {shape} accounts for"
        )
    data = buf.view(dtype).reshape(shape)
    if dtype.itemsize > 1:
        data = data.astype(dtype.newbyteorder("="))
    return data


def load_idx(path, *, max_bytes=DEFAULT_MAX_BYTES):
    """Read an array from an IDX file (the MNIST format), raw or gzipped.

    Gzip compression is detected from the file's first two bytes
    (``1f 8b``), not from its name. The header (two zero bytes, a type code,
    the number of dimensions, one big-endian 32-bit size per dimension) is
    validated before any data buffer is allocated, and the data are read
    with a size limit, so a truncated file, a file with trailing data or a
    gzip bomb is refused instead of exhausting memory.

    Parameters
    ----------
    path : str or path-like
        The IDX file.
    max_bytes : int, default=2**32
        Largest data payload accepted, in bytes.

    Returns
    -------
    data : ndarray
        Array of the header's shape in native byte order: uint8 (type
        0x08), int8 (0x09), int16 (0x0B), int32 (0x0C), float32 (0x0D) or
        float64 (0x0E).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        (a ``ValueError``) naming the file, if the magic number, the type
        code, the number of dimensions (1 to 8) or a size (> 0) is invalid,
        if the payload would exceed ``max_bytes``, if the data are shorter
        or longer than the shape requires, or if the gzip stream is corrupt.

    Examples
    --------
    >>> X = load_idx("train-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = os.fspath(path)
    if (
        isinstance(max_bytes, bool)
        or not isinstance(max_bytes, Integral)
        or max_bytes < 0
    ):
        raise ValueError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not is_gzip:
            size = os.fstat(raw.fileno()).st_size
            return _read_idx(raw, path, int(max_bytes), size)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_idx(stream, path, int(max_bytes), None)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFormatError(f"{path}: corrupt gzip stream: {exc}") from exc


_MNIST_PREFIX = {"train": "train", "test": "t10k"}


def _find_mnist_file(folder, prefix, part):
    """Path of ``{prefix}-{part}-ubyte`` in ``folder``, raw or gzipped."""
    stems = [f"{prefix}-{part}-ubyte", f"{prefix}-{part.replace('-', '.')}-ubyte"]
    names = [stem + ext for stem in stems for ext in (".gz", "")]
    for name in names:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"MNIST file not found in {folder!r}: looked for {', '.join(names)}"
    )


def load_mnist(folder, kind="train", flatten=True, dtype=np.float32, scale=True):
    """Load the MNIST digits from the original IDX files.

    Reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``
    (``kind="train"``, 60,000 images) or the ``t10k-`` pair
    (``kind="test"``, 10,000 images) from ``folder``, each gzipped
    (``.gz``) or raw.

    Parameters
    ----------
    folder : str or path-like
        Folder holding the IDX files.
    kind : {"train", "test"}, default="train"
        Which of the two sets to load.
    flatten : bool, default=True
        Return the images as rows of ``rows * cols`` pixels (784 for MNIST)
        instead of ``(rows, cols)`` grids.
    dtype : dtype, default=np.float32
        Dtype of ``X``. Must be a floating type when ``scale`` is true.
    scale : bool, default=True
        Divide the pixels by 255 so that ``X`` lies in [0, 1].

    Returns
    -------
    X : ndarray of shape (n_samples, 784) or (n_samples, 28, 28)
        The images.
    y : ndarray of shape (n_samples,), dtype int64
        The digit labels.

    Raises
    ------
    FileNotFoundError
        If the folder lacks the images or the labels file.
    ValueError
        If ``kind`` or ``dtype`` is invalid; :class:`DataFormatError` if a
        file is malformed, is not unsigned bytes of the expected rank, or
        if images and labels disagree in number.

    Examples
    --------
    >>> X, y = load_mnist("data/mnist", kind="test")  # doctest: +SKIP
    >>> X.shape, X.dtype, y.shape, y.dtype  # doctest: +SKIP
    ((10000, 784), dtype('float32'), (10000,), dtype('int64'))
    """
    if kind not in _MNIST_PREFIX:
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    dtype = np.dtype(dtype)
    if scale and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"scale=True needs a floating dtype, got {dtype}")
    folder = os.fspath(folder)
    prefix = _MNIST_PREFIX[kind]
    images_path = _find_mnist_file(folder, prefix, "images-idx3")
    labels_path = _find_mnist_file(folder, prefix, "labels-idx1")
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataFormatError(
            f"{images_path}: expected a 3-d array of unsigned bytes, got "
            f"shape {images.shape} of {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataFormatError(
            f"{labels_path}: expected a 1-d array of unsigned bytes, got "
            f"shape {labels.shape} of {labels.dtype}"
        )
    if images.shape[0] != labels.shape[0]:
        raise DataFormatError(
            f"{images_path} holds {images.shape[0]} images but "
            f"{labels_path} holds {labels.shape[0]} labels"
        )
    if flatten:
        images = images.reshape(images.shape[0], -1)
    X = images.astype(dtype)
    if scale:
        X /= dtype.type(255)
    return X, labels.astype(np.int64)


# ---------------------------------------------------------------------------
# NumPy archives and CSV tables
# ---------------------------------------------------------------------------


def _npz_member(archive, key, path):
    """One array of an open ``.npz`` archive, with errors naming the file."""
    if key not in archive.files:
        available = ", ".join(repr(name) for name in archive.files) or "none"
        raise DataFormatError(f"{path}: no array named {key!r}; available: {available}")
    try:
        return archive[key]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFormatError(f"{path}: cannot read array {key!r}: {exc}") from exc


def load_npz(path, x_key="X", y_key="y"):
    """Load features and targets from a NumPy ``.npz`` archive.

    The archive is opened with ``allow_pickle=False``: arrays of Python
    objects are refused, so loading an untrusted file cannot run code.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file (as written by ``np.savez``).
    x_key : str, default="X"
        Name of the feature array in the archive.
    y_key : str or None, default="y"
        Name of the target array; None to load features only.

    Returns
    -------
    X : ndarray
        The feature array.
    y : ndarray or None
        The target array (None when ``y_key`` is None).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        (a ``ValueError``) if the file is not an ``.npz`` archive, lacks a
        key (the message lists the available ones), holds object arrays, or
        if ``X`` and ``y`` differ in length.

    Examples
    --------
    >>> np.savez("toy.npz", X=np.eye(3), y=np.arange(3))  # doctest: +SKIP
    >>> X, y = load_npz("toy.npz")  # doctest: +SKIP
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFormatError(f"{path}: not a readable .npz archive: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataFormatError(
            f"{path}: holds a single array (.npy format), not an .npz archive"
        )
    with archive:
        X = _npz_member(archive, x_key, path)
        y = None if y_key is None else _npz_member(archive, y_key, path)
    if y is not None:
        if X.ndim == 0 or y.ndim == 0:
            raise DataFormatError(
                f"{path}: {x_key!r} and {y_key!r} must not be scalars"
            )
        if X.shape[0] != y.shape[0]:
            raise DataFormatError(
                f"{path}: {x_key!r} has {X.shape[0]} samples but {y_key!r} "
                f"has {y.shape[0]}"
            )
    return X, y


def _is_blank(row):
    return all(not cell.strip() for cell in row)


def _target_index(target, header, path):
    """Column index of ``target`` (a name, or an int index, negative allowed)."""
    available = ", ".join(repr(name) for name in header)
    if isinstance(target, str):
        if target not in header:
            raise DataFormatError(
                f"{path}: target column {target!r} not found; available "
                f"columns: {available}"
            )
        return header.index(target)
    if isinstance(target, Integral) and not isinstance(target, bool):
        if not -len(header) <= target < len(header):
            raise DataFormatError(
                f"{path}: target index {target} out of range for "
                f"{len(header)} columns: {available}"
            )
        return int(target) % len(header)
    raise TypeError(f"target must be a column name or an int index, got {target!r}")


def _parse_target(cells, dtype):
    """Targets as int64 if all cells are integers, else ``dtype`` if all are
    numbers, else strings."""
    try:
        return np.array([int(cell) for cell in cells], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return np.array([float(cell) for cell in cells], dtype=dtype)
    except ValueError:
        return np.array(cells, dtype=np.str_)


def load_csv(path, target, delimiter=",", dtype=np.float32):
    """Load a numeric table with a header row from a CSV file.

    Every column but the target must hold numbers (anything Python's
    ``float`` accepts). Blank lines are skipped, surrounding spaces are
    ignored and a UTF-8 byte-order mark is tolerated. Row numbers in error
    messages are line numbers of the file (the header is on row 1 when the
    file starts with it).

    Parameters
    ----------
    path : str or path-like
        The CSV file (UTF-8).
    target : str or int
        Name of the target column, or its index (negative counts from the
        end, so ``-1`` is the last column).
    delimiter : str, default=","
        Field separator.
    dtype : dtype, default=np.float32
        Floating dtype of ``X`` (and of ``y`` when it holds non-integer
        numbers).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The feature columns, in file order.
    y : ndarray of shape (n_samples,)
        The target column: int64 when every value is an integer, ``dtype``
        when every value is a number, otherwise a string array (class
        labels such as ``"setosa"``).
    feature_names : list of str
        Names of the columns of ``X``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        (a ``ValueError``) naming the file and, where it applies, the column
        and row: empty file, no data rows, duplicate or empty column names,
        unknown target (listing the available columns), a row with the
        wrong number of fields, a feature cell that is not a number, an
        empty target cell, or text that is not UTF-8.

    Examples
    --------
    >>> X, y, names = load_csv("iris.csv", target="species")  # doctest: +SKIP
    >>> names  # doctest: +SKIP
    ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']
    """
    path = os.fspath(path)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next((row for row in reader if not _is_blank(row)), None)
            if header is None:
                raise DataFormatError(f"{path}: empty file; expected a header row")
            header = [name.strip() for name in header]
            for j, name in enumerate(header):
                if not name:
                    raise DataFormatError(f"{path}: column {j} has an empty name")
                if name in header[:j]:
                    raise DataFormatError(f"{path}: duplicate column name {name!r}")
            t = _target_index(target, header, path)
            features = [j for j in range(len(header)) if j != t]
            if not features:
                raise DataFormatError(f"{path}: no feature columns besides the target")

            rows, targets = [], []
            for row in reader:
                if _is_blank(row):
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise DataFormatError(
                        f"{path}: row {line}: expected {len(header)} fields, "
                        f"found {len(row)}"
                    )
                values = []
                for j in features:
                    cell = row[j].strip()
                    try:
                        values.append(float(cell))
                    except ValueError:
                        raise DataFormatError(
                            f"{path}: column {header[j]!r} row {line}: could not "
                            f"convert {cell!r} to float"
                        ) from None
                label = row[t].strip()
                if not label:
                    raise DataFormatError(
                        f"{path}: column {header[t]!r} row {line}: empty target value"
                    )
                rows.append(values)
                targets.append(label)
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"{path}: not UTF-8 text: {exc}") from exc
        except csv.Error as exc:
            raise DataFormatError(f"{path}: row {reader.line_num}: {exc}") from exc
    if not rows:
        raise DataFormatError(f"{path}: no data rows after the header")
    X = np.array(rows, dtype=dtype)
    return X, _parse_target(targets, dtype), [header[j] for j in features]


# ---------------------------------------------------------------------------
# Splitting and standardisation
# ---------------------------------------------------------------------------


def _split_counts(sizes, n):
    """Sizes of the three parts: integer counts, or fractions apportioned by
    the largest-remainder method so that the parts sum to ``n`` exactly."""
    sizes = tuple(sizes)
    if len(sizes) != 3:
        raise ValueError(
            f"sizes must have 3 entries (train, val, test), got {len(sizes)}"
        )
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, Real):
            raise ValueError(f"sizes must be numbers, got {sizes!r}")
    if all(isinstance(s, Integral) for s in sizes):
        counts = [int(s) for s in sizes]
        if min(counts) < 0 or sum(counts) != n:
            raise ValueError(
                f"integer sizes are counts: non-negative and summing to the "
                f"{n} samples, got {counts}"
            )
        return counts
    if any(isinstance(s, Integral) for s in sizes):
        raise ValueError(
            f"sizes mixes integers (counts) and floats (fractions): {sizes!r}"
        )
    fractions = [float(s) for s in sizes]
    if not all(math.isfinite(f) and 0.0 <= f <= 1.0 for f in fractions):
        raise ValueError(f"fractional sizes must lie in [0, 1], got {sizes!r}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(
            f"fractional sizes must sum to 1, got {sizes!r} (sum {sum(fractions)})"
        )
    # Exact decimal values as written (0.98 -> 98/100), normalised to sum 1.
    exact = [Fraction(repr(f)) for f in fractions]
    total = sum(exact)
    quotas = [f * n / total for f in exact]
    counts = [math.floor(q) for q in quotas]
    # Hand the leftover samples to the largest remainders (ties: earlier part).
    order = sorted(range(3), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def train_val_test_split(X, y, sizes=(0.98, 0.01, 0.01), seed=0, shuffle=True):
    """Split samples into training, validation and test sets.

    The validation set chooses hyper-parameters; the test set is used once,
    at the end. Every sample lands in exactly one part.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Features.
    y : array-like of shape (n_samples, ...) or None
        Targets, split alongside ``X`` (None: the ``y`` parts are None).
    sizes : sequence of 3 floats or 3 ints, default=(0.98, 0.01, 0.01)
        Fractions of the samples (summing to 1; counts are rounded by the
        largest-remainder method, so they sum to ``n_samples``), or integer
        counts summing to ``n_samples``. The course suggests 98/1/1 for very
        large sets and 78/11/11 otherwise.
    seed : int, numpy.random.Generator or None, default=0
        Seed of the shuffle (``np.random.default_rng(seed)``).
    shuffle : bool, default=True
        Shuffle before splitting; if False the parts are consecutive runs
        in the original order and ``seed`` is unused.

    Returns
    -------
    X_train, y_train, X_val, y_val, X_test, y_test : ndarray
        The parts (copies), ``y_*`` None when ``y`` is None.

    Raises
    ------
    ValueError
        If ``X`` is empty or a scalar, ``X`` and ``y`` differ in length, or
        ``sizes`` is invalid.

    Examples
    --------
    >>> X = np.arange(20).reshape(10, 2)
    >>> X_tr, y_tr, X_va, y_va, X_te, y_te = train_val_test_split(
    ...     X, np.arange(10), sizes=(0.8, 0.1, 0.1))
    >>> len(X_tr), len(X_va), len(X_te)
    (8, 1, 1)
    """
    X = np.asarray(X)
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"X must hold at least one sample, got shape {X.shape}")
    n = X.shape[0]
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has shape {y.shape}")
    n_train, n_val, _ = _split_counts(sizes, n)
    index = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    parts = np.split(index, [n_train, n_train + n_val])
    out = []
    for part in parts:
        out.append(X[part])
        out.append(None if y is None else y[part])
    return tuple(out)


def _check_finite_2d(X, what):
    """``X`` as a 2-d floating array (float32/float64 kept, else float64)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"{what} must be 2-d (n_samples, n_features), got shape {X.shape}; "
            "reshape a single feature with X.reshape(-1, 1)"
        )
    if X.dtype.kind == "f":
        pass
    elif X.dtype.kind in "biu":
        X = X.astype(np.float64)
    else:
        raise ValueError(f"{what} must be numeric, got dtype {X.dtype}")
    if X.shape[0] == 0:
        raise ValueError(f"{what} has 0 samples; at least 1 is required")
    if not np.isfinite(X).all():
        raise ValueError(f"{what} contains NaN or infinity")
    return X


class Standardizer:
    """Standardise features with statistics from the training data only.

    ``fit`` learns each column's mean and standard deviation from the
    training set; ``transform`` applies ``(X - mean_) / scale_`` with those
    same statistics to the training, validation, test and any new inputs,
    as the course prescribes. Columns with zero variance get ``scale_ = 1``
    (they become 0, not NaN). Float32 input gives float32 output, float64
    gives float64, integers give float64; the statistics themselves are
    computed and stored in float64.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-column mean of the training data.
    scale_ : ndarray of shape (n_features,)
        Per-column standard deviation (population, ``ddof=0``), 1 where the
        column is constant.
    var_ : ndarray of shape (n_features,)
        Per-column variance.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    n_samples_seen_ : int
        Number of rows seen in ``fit``.

    Examples
    --------
    >>> scaler = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> scaler.mean_, scaler.scale_
    (array([1., 5.]), array([1., 1.]))
    >>> scaler.transform(np.array([[4.0, 5.0]]))
    array([[3., 0.]])
    """

    def fit(self, X, y=None):
        """Learn the per-column mean and spread of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (finite numbers).
        y : ignored
            Present for API consistency.

        Returns
        -------
        self : Standardizer
            The fitted object.

        Raises
        ------
        ValueError
            If ``X`` is not 2-d, is empty, or contains NaN or infinity.
        """
        X = _check_finite_2d(X, "X")
        mean = X.mean(axis=0, dtype=np.float64)
        var = X.var(axis=0, dtype=np.float64)
        std = np.sqrt(var)
        constant = (np.ptp(X, axis=0) == 0) | (std == 0)
        self.mean_ = mean
        self.var_ = var
        self.scale_ = np.where(constant, 1.0, std)
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = X.shape[0]
        return self

    def _check_input(self, X):
        if not hasattr(self, "mean_"):
            raise NotFittedError(
                "This Standardizer is not fitted yet; call 'fit' with the "
                "training data first"
            )
        X = _check_finite_2d(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but Standardizer was fitted "
                f"with {self.n_features_in_}"
            )
        return X

    def transform(self, X):
        """Standardise ``X`` with the training statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to transform (training, validation, test or new inputs).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            ``(X - mean_) / scale_``, float32 for float32 input, else
            float64.

        Raises
        ------
        NotFittedError
            If ``fit`` has not been called.
        ValueError
            If ``X`` is not 2-d, is empty, contains NaN or infinity, or has
            the wrong number of columns.
        """
        X = self._check_input(X)
        return (X - self.mean_.astype(X.dtype)) / self.scale_.astype(X.dtype)

    def fit_transform(self, X, y=None):
        """Fit to ``X``, then transform it; see :meth:`fit` and :meth:`transform`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : ignored
            Present for API consistency.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            The standardised training data.
        """
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        """Undo :meth:`transform`: return ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Standardised data.

        Returns
        -------
        X_orig : ndarray of shape (n_samples, n_features)
            Data in the original units, float32 for float32 input, else
            float64.

        Raises
        ------
        NotFittedError
            If ``fit`` has not been called.
        ValueError
            As for :meth:`transform`.
        """
        X = self._check_input(X)
        return X * self.scale_.astype(X.dtype) + self.mean_.astype(X.dtype)


# ---------------------------------------------------------------------------
# Generated data sets
# ---------------------------------------------------------------------------


def _check_n_samples(n_samples, minimum=1):
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, Integral)
        or n_samples < minimum
    ):
        raise ValueError(
            f"n_samples must be an integer >= {minimum}, got {n_samples!r}"
        )
    return int(n_samples)


def _check_noise(noise, name="noise"):
    if (
        isinstance(noise, bool)
        or not isinstance(noise, Real)
        or not (math.isfinite(noise) and noise >= 0)
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _two_classes(first, second, noise, rng):
    """Stack two classes' points, add Gaussian noise, shuffle; float32/int64."""
    X = np.concatenate([first, second])
    y = np.concatenate([np.zeros(len(first), np.int64), np.ones(len(second), np.int64)])
    # Noise is always drawn, so one seed gives the same shuffle at any level.
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X))
    return X[order].astype(np.float32), y[order]


def make_xor(n_samples=4, noise=0.0, seed=None):
    """The XOR problem: two binary inputs, target 1 when exactly one is 1.

    With the defaults this is the truth table itself; otherwise sample ``i``
    sits at corner ``i % 4`` of the unit square (so the classes stay
    balanced and the rows cycle through the truth table) plus Gaussian
    noise. XOR is the classic problem that no single threshold unit or
    perceptron can solve and an MLP with one hidden layer can.

    Parameters
    ----------
    n_samples : int, default=4
        Number of points.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to the inputs.
    seed : int, numpy.random.Generator or None, default=None
        Seed for ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float32
        The inputs.
    y : ndarray of shape (n_samples,), dtype int64
        The labels (0 or 1), those of the corners.

    Raises
    ------
    ValueError
        If ``n_samples < 1`` or ``noise < 0``.

    Examples
    --------
    >>> X, y = make_xor()
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    which = np.arange(n) % 4
    rng = np.random.default_rng(seed)
    X = corners[which] + noise * rng.standard_normal((n, 2))
    return X.astype(np.float32), labels[which]


def make_spirals(n_samples=200, noise=0.0, seed=None, *, n_turns=1.5):
    """Two interleaved spirals, one per class.

    Class ``k`` (0 or 1) follows ``r = 0.05 + t``,
    ``angle = 2 pi n_turns t + k pi`` for ``t`` evenly spaced in [0, 1]:
    the arms are half a turn apart, a problem that needs a nonlinear model.
    The rows are shuffled.

    Parameters
    ----------
    n_samples : int, default=200
        Total number of points (class 0 gets the odd one out).
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to the coordinates.
    seed : int, numpy.random.Generator or None, default=None
        Seed for ``np.random.default_rng`` (noise and shuffle).
    n_turns : float, default=1.5
        Number of turns of each arm (> 0).

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float32
        The points, within about [-1.05, 1.05]² before noise.
    y : ndarray of shape (n_samples,), dtype int64
        The spiral of each point (0 or 1).

    Raises
    ------
    ValueError
        If ``n_samples < 2``, ``noise < 0`` or ``n_turns <= 0``.

    Examples
    --------
    >>> X, y = make_spirals(100, noise=0.05, seed=0)
    >>> X.shape, int(y.sum())
    ((100, 2), 50)
    """
    n = _check_n_samples(n_samples, minimum=2)
    noise = _check_noise(noise)
    if (
        isinstance(n_turns, bool)
        or not isinstance(n_turns, Real)
        or not (math.isfinite(n_turns) and n_turns > 0)
    ):
        raise ValueError(f"n_turns must be a finite number > 0, got {n_turns!r}")
    rng = np.random.default_rng(seed)
    arms = []
    for k, count in enumerate(((n + 1) // 2, n // 2)):
        t = np.linspace(0.0, 1.0, count)
        radius = 0.05 + t
        angle = 2.0 * np.pi * n_turns * t + k * np.pi
        arms.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
    return _two_classes(arms[0], arms[1], noise, rng)


def make_moons(n_samples=100, noise=0.0, seed=None):
    """Two interleaving half circles, one per class.

    Class 0 lies on the upper unit half circle ``(cos t, sin t)``, class 1 on
    the lower half circle ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly spaced
    in [0, pi]. The rows are shuffled.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points (class 0 gets the odd one out).
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to the coordinates.
    seed : int, numpy.random.Generator or None, default=None
        Seed for ``np.random.default_rng`` (noise and shuffle).

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float32
        The points.
    y : ndarray of shape (n_samples,), dtype int64
        The moon of each point (0 or 1).

    Raises
    ------
    ValueError
        If ``n_samples < 2`` or ``noise < 0``.

    Examples
    --------
    >>> X, y = make_moons(10, seed=0)
    >>> X.dtype, y.tolist().count(1)
    (dtype('float32'), 5)
    """
    n = _check_n_samples(n_samples, minimum=2)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    t_outer = np.linspace(0.0, np.pi, (n + 1) // 2)
    t_inner = np.linspace(0.0, np.pi, n // 2)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
    return _two_classes(outer, inner, noise, rng)


def make_blobs(n_samples=100, centers=3, n_features=2, cluster_std=1.0, seed=None):
    """Gaussian clusters, one class per cluster.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points, shared as evenly as possible between the
        clusters (the first ones get the extra points).
    centers : int or array-like of shape (n_centers, n_features), default=3
        Number of clusters, whose centres are then drawn uniformly in
        [-10, 10]^n_features, or the centres themselves.
    n_features : int, default=2
        Number of features; ignored when ``centers`` is an array.
    cluster_std : float or array-like of shape (n_centers,), default=1.0
        Standard deviation of each cluster.
    seed : int, numpy.random.Generator or None, default=None
        Seed for ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float32
        The points, in random order.
    y : ndarray of shape (n_samples,), dtype int64
        The cluster of each point (0 .. n_centers - 1).

    Raises
    ------
    ValueError
        If a count is < 1, ``centers`` is not 2-d or not finite, or a
        standard deviation is negative or does not match the centres.

    Examples
    --------
    >>> X, y = make_blobs(90, centers=[[0, 0], [5, 5], [0, 5]], seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((90, 2), [30, 30, 30])
    """
    n = _check_n_samples(n_samples)
    rng = np.random.default_rng(seed)
    if isinstance(centers, Integral) and not isinstance(centers, bool):
        if centers < 1:
            raise ValueError(f"centers must be >= 1, got {centers}")
        if (
            isinstance(n_features, bool)
            or not isinstance(n_features, Integral)
            or n_features < 1
        ):
            raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
        points = rng.uniform(-10.0, 10.0, size=(int(centers), int(n_features)))
    else:
        points = np.asarray(centers, dtype=np.float64)
        if points.ndim != 2 or points.shape[0] < 1 or points.shape[1] < 1:
            raise ValueError(
                f"centers must be an int or a 2-d array (n_centers, n_features), "
                f"got shape {points.shape}"
            )
        if not np.isfinite(points).all():
            raise ValueError("centers contains NaN or infinity")
    k = points.shape[0]
    std = np.asarray(cluster_std, dtype=np.float64)
    if std.ndim == 0:
        std = np.full(k, float(std))
    if std.shape != (k,) or not np.isfinite(std).all() or (std < 0).any():
        raise ValueError(
            f"cluster_std must be a number >= 0 or {k} such numbers, "
            f"got {cluster_std!r}"
        )
    y = np.repeat(
        np.arange(k, dtype=np.int64), [n // k + (i < n % k) for i in range(k)]
    )
    X = points[y] + std[y, None] * rng.standard_normal((n, points.shape[1]))
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order]


def make_regression(n_samples=100, n_features=2, noise=0.0, seed=None):
    """A smooth nonlinear regression problem.

    ``X`` is standard normal and the target is
    ``y = sum_j sin(X @ W)[:, j] + noise * e`` with ``W`` a random
    ``(n_features, 4)`` projection of standard deviation
    ``1/sqrt(n_features)`` (so each projection has unit variance) and ``e``
    standard normal.

    Parameters
    ----------
    n_samples : int, default=100
        Number of samples.
    n_features : int, default=2
        Number of input features.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to the target.
    seed : int, numpy.random.Generator or None, default=None
        Seed for ``np.random.default_rng``; with one seed, ``X`` and the
        noise-free part of ``y`` do not depend on ``noise``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float32
        The inputs.
    y : ndarray of shape (n_samples,), dtype float32
        The targets.

    Raises
    ------
    ValueError
        If a count is < 1 or ``noise < 0``.

    Examples
    --------
    >>> X, y = make_regression(50, n_features=3, noise=0.1, seed=0)
    >>> X.shape, y.shape, y.dtype
    ((50, 3), (50,), dtype('float32'))
    """
    n = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    if (
        isinstance(n_features, bool)
        or not isinstance(n_features, Integral)
        or n_features < 1
    ):
        raise ValueError(f"n_features must be an integer >= 1, got {n_features!r}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, int(n_features)))
    W = rng.standard_normal((int(n_features), 4)) / math.sqrt(n_features)
    y = np.sin(X @ W).sum(axis=1) + noise * rng.standard_normal(n)
    return X.astype(np.float32), y.astype(np.float32)
