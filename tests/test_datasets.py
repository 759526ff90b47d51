"""Tests of fastmlp.datasets, grouped by what they prove.

- IDX: round trips (property-based, raw and gzipped, every type code),
  every malformed-file error, and refusal of oversized claims and gzip bombs
  before memory is spent; the real MNIST files where they are present.
- NPZ and CSV loaders: contents and the wording of their errors.
- Splitting: the course's 98/1/1 and 78/11/11 examples give exact counts, no
  sample is lost or duplicated, the same seed gives the same split.
- Standardizer: statistics from the training data only, dtypes, errors.
- Generators: shapes, dtypes, determinism, class balance.
"""

import gzip
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"


from fastmlp import datasets
from fastmlp.exceptions import DataFormatError, NotFittedError
Standardizer = datasets.Standardizer
load_csv = datasets.load_csv
load_idx = datasets.load_idx
load_mnist = datasets.load_mnist
load_npz = datasets.load_npz
make_blobs = datasets.make_blobs
make_moons = datasets.make_moons
make_regression = datasets.make_regression
make_spirals = datasets.make_spirals
make_xor = datasets.make_xor
train_val_test_split = datasets.train_val_test_split


# ---------------------------------------------------------------------------
# An independent IDX writer for the tests
# ---------------------------------------------------------------------------

_TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array):
    """IDX encoding of ``array``: magic, big-endian sizes, big-endian data."""
    array = np.asarray(array)
    header = bytes([0, 0, _TYPE_CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, payload, compress=False):
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def header(type_code=0x08, dims=(3,)):
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


# ---------------------------------------------------------------------------
# IDX: round trips
# ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=6)
    ),
    compress=st.booleans(),
)
def test_idx_round_trip_uint8(tmp_path_factory, array, compress):
    path = tmp_path_factory.mktemp("idx") / "a.idx"
    write(path, idx_bytes(array), compress)
    back = load_idx(path)
    assert back.dtype == np.uint8
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("dtype", list(_TYPE_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_every_type_code(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    back = load_idx(write(tmp_path / "a", idx_bytes(array), compress))
    assert back.dtype == dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_named_raw = write(tmp_path / "plain.idx", idx_bytes(array), compress=True)
    raw_named_gz = write(tmp_path / "fake.gz", idx_bytes(array), compress=False)
    np.testing.assert_array_equal(load_idx(gz_named_raw), array)
    np.testing.assert_array_equal(load_idx(raw_named_gz), array)


# ---------------------------------------------------------------------------
# IDX: malformed files
# ---------------------------------------------------------------------------

BAD_IDX = {
    "empty": (b"", "too short"),
    "short header": (b"\x00\x00", "too short"),
    "wrong magic": (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "magic"),
    "unknown type": (header(0x0A) + b"abc", "type code 0x0A"),
    "zero dims": (b"\x00\x00\x08\x00", "0 dimensions"),
    "too many dims": (header(0x08, (1,) * 9) + b"\x00", "9 dimensions"),
    "size zero": (header(0x08, (2, 0)), "dimension 1 has size 0"),
    "negative size": (header(0x08, (0x80000000,)), "dimension 0"),
    "truncated sizes": (
        b"\x00\x00\x08\x03" + struct.pack(">I", 2),
        "truncated IDX header",
    ),
    "truncated data": (header(0x08, (10,)) + bytes(9), "truncated"),
    "trailing data": (header(0x08, (10,)) + bytes(11), "trailing data"),
    "size mismatch": (header(0x0C, (2, 3)) + bytes(2 * 3), "truncated"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", list(BAD_IDX))
def test_idx_malformed(tmp_path, case, compress):
    payload, fragment = BAD_IDX[case]
    path = write(tmp_path / "bad.idx", payload, compress)
    with pytest.raises(DataFormatError, match=fragment) as info:
        load_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_idx_missing_file(tmp_path):
    path = tmp_path / "nope-idx3-ubyte"
    with pytest.raises(FileNotFoundError, match="nope-idx3-ubyte"):
        load_idx(path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda good: (
            good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:]
        ),  # CRC
        lambda good: good[: len(good) // 2],  # compressed stream cut short
        lambda good: b"\x1f\x8b" + b"not deflate data at all",  # bad gzip header
    ],
    ids=["bad-crc", "cut-short", "bad-header"],
)
def test_idx_corrupt_gzip_stream(tmp_path, damage):
    good = gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))
    path = tmp_path / "corrupt.gz"
    path.write_bytes(damage(good))
    with pytest.raises(DataFormatError, match="corrupt gzip") as info:
        load_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_huge_claim_refused_before_allocating(tmp_path, compress):
    # 10**12 elements claimed (10**6 x 10**6), 16 bytes present.
    path = write(tmp_path / "bomb", header(0x08, (10**6, 10**6)) + bytes(16), compress)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataFormatError, match="max_bytes"):
            load_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 4 << 20


def test_idx_claim_beyond_8_dims_of_max_size_uses_python_ints(tmp_path):
    # 8 sizes of 2**31 - 1: the product overflows any fixed-width integer.
    path = write(tmp_path / "huge", header(0x0E, (2**31 - 1,) * 8))
    with pytest.raises(DataFormatError, match="max_bytes"):
        load_idx(path)


def test_idx_max_bytes_parameter(tmp_path):
    path = write(tmp_path / "a", idx_bytes(np.zeros((10, 10), np.uint8)))
    assert load_idx(path, max_bytes=100).shape == (10, 10)
    with pytest.raises(DataFormatError, match="max_bytes=99"):
        load_idx(path, max_bytes=99)
    with pytest.raises(ValueError, match="max_bytes"):
        load_idx(path, max_bytes=-1)


def test_idx_gzip_bomb_reads_no_further_than_the_header_claims(tmp_path):
    # A small header followed by 64 MiB of compressed zeros (~64 KiB on disk):
    # the reader must stop one byte past the 16 announced bytes.
    path = tmp_path / "bomb.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    parts = [compressor.compress(header(0x08, (16,)))]
    zeros = bytes(1 << 20)
    parts += [compressor.compress(zeros) for _ in range(64)]
    parts.append(compressor.flush())
    path.write_bytes(b"".join(parts))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataFormatError, match="trailing data"):
            load_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 4 << 20


# ---------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------


def _write_mnist(folder, prefix, images, labels, compress=True):
    ext = ".gz" if compress else ""
    write(folder / f"{prefix}-images-idx3-ubyte{ext}", idx_bytes(images), compress)
    write(folder / f"{prefix}-labels-idx1-ubyte{ext}", idx_bytes(labels), compress)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_mnist_small_synthetic(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _write_mnist(tmp_path, "t10k", images, labels, compress)
    X, y = load_mnist(tmp_path, kind="test")
    assert X.shape == (5, 784) and X.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_array_equal(
        X, images.reshape(5, -1).astype(np.float32) / np.float32(255)
    )
    assert X[0, 0] == 0.0 and X[0, 1] == 1.0
    X3, _ = load_mnist(tmp_path, kind="test", flatten=False, dtype=np.float64)
    assert X3.shape == (5, 28, 28) and X3.dtype == np.float64
    Xu, _ = load_mnist(tmp_path, kind="test", scale=False, dtype=np.uint8)
    np.testing.assert_array_equal(Xu, images.reshape(5, -1))


def test_mnist_count_mismatch(tmp_path):
    _write_mnist(
        tmp_path, "train", np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.uint8)
    )
    with pytest.raises(DataFormatError, match="4 images .* 3 labels"):
        load_mnist(tmp_path)


def test_mnist_wrong_rank_or_type(tmp_path):
    _write_mnist(tmp_path, "train", np.zeros((4, 784), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(DataFormatError, match="3-d array of unsigned bytes"):
        load_mnist(tmp_path)
    _write_mnist(
        tmp_path, "train", np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int32)
    )
    with pytest.raises(DataFormatError, match="1-d array of unsigned bytes"):
        load_mnist(tmp_path)


def test_mnist_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, kind="validation")
    with pytest.raises(ValueError, match="floating dtype"):
        load_mnist(tmp_path, dtype=np.uint8)


@pytest.fixture(scope="module")
def mnist_train():
    if not MNIST.is_dir():
        pytest.skip(f"MNIST not found at {MNIST}")
    return load_mnist(MNIST, kind="train")


def test_mnist_real_train(mnist_train):
    X, y = mnist_train
    assert X.shape == (60000, 784) and X.dtype == np.float32
    assert y.shape == (60000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.min() == 0 and y.max() == 9
    assert np.bincount(y).min() > 5000  # every digit is well represented
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_mnist_real_test():
    if not MNIST.is_dir():
        pytest.skip(f"MNIST not found at {MNIST}")
    X, y = load_mnist(MNIST, kind="test", flatten=False, scale=False, dtype=np.uint8)
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert y.shape == (10000,) and set(np.unique(y).tolist()) == set(range(10))
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert X.max() == 255


# ---------------------------------------------------------------------------
# NPZ
# ---------------------------------------------------------------------------


def test_npz_round_trip(tmp_path):
    X, y = np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", X=X, y=y, features=X.T)
    X2, y2 = load_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    Xt, none = load_npz(tmp_path / "d.npz", x_key="features", y_key=None)
    assert none is None and Xt.shape == (3, 4)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "d.npz", data=np.zeros((2, 2)), y=np.zeros(3))
    with pytest.raises(
        DataFormatError, match=r"no array named 'X'; available: 'data', 'y'"
    ):
        load_npz(tmp_path / "d.npz")
    with pytest.raises(DataFormatError, match="2 samples but 'y' has 3"):
        load_npz(tmp_path / "d.npz", x_key="data")
    np.savez(
        tmp_path / "obj.npz", X=np.array([{"a": 1}, None], dtype=object), y=np.zeros(2)
    )
    with pytest.raises(DataFormatError, match="'X'"):
        load_npz(tmp_path / "obj.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(DataFormatError, match="not an .npz archive"):
        load_npz(tmp_path / "single.npy")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file at all")
    with pytest.raises(DataFormatError, match="junk.npz"):
        load_npz(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_npz(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------


def csv_file(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_numeric(tmp_path):
    path = csv_file(tmp_path, "age, height ,label\n30,1.8,1\n\n41,1.65,0\n")
    X, y, names = load_csv(path, target="label")
    assert names == ["age", "height"]
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, np.array([[30, 1.8], [41, 1.65]], np.float32))
    assert y.dtype == np.int64 and y.tolist() == [1, 0]
    X0, y0, names0 = load_csv(path, target=0, dtype=np.float64)
    assert names0 == ["height", "label"] and y0.tolist() == [30, 41]
    assert X0.dtype == np.float64
    _, y_last, _ = load_csv(path, target=-1)
    assert y_last.tolist() == [1, 0]


def test_csv_float_and_string_targets(tmp_path):
    path = csv_file(tmp_path, "x;price\n1;2.5\n2;3\n", name="price.csv")
    _, price, _ = load_csv(path, target="price", delimiter=";")
    assert price.dtype == np.float32 and price.tolist() == [2.5, 3.0]
    path = csv_file(tmp_path, "x;price;species\n1;2.5;setosa\n2;3;versicolor\n")
    with pytest.raises(DataFormatError, match="column 'species' row 2"):
        load_csv(path, target="price", delimiter=";")  # features must be numbers
    X, species, names = load_csv(path, target="species", delimiter=";")
    assert species.dtype.kind == "U" and species.tolist() == ["setosa", "versicolor"]
    assert names == ["x", "price"] and X.shape == (2, 2)


def test_csv_utf8_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffa,b\n1,2\n".encode("utf-8"))
    _, y, names = load_csv(path, target="b")
    assert names == ["a"] and y.tolist() == [2]


def test_csv_bad_cell_names_column_and_row(tmp_path):
    rows = "".join(f"{i},{i}\n" for i in range(15))
    path = csv_file(tmp_path, "age,y\n" + rows + "abc,1\n")
    with pytest.raises(
        DataFormatError, match=r"column 'age' row 17: could not convert 'abc' to float"
    ) as info:
        load_csv(path, target="y")
    assert str(path) in str(info.value)


def test_csv_missing_target_lists_columns(tmp_path):
    path = csv_file(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(
        DataFormatError, match=r"'target' not found; available columns: 'a', 'b', 'c'"
    ):
        load_csv(path, target="target")
    with pytest.raises(DataFormatError, match="index 3 out of range"):
        load_csv(path, target=3)
    with pytest.raises(TypeError):
        load_csv(path, target=1.5)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty file"),
        ("\n \n", "empty file"),
        ("a,b\n", "no data rows"),
        ("a,b\n\n\n", "no data rows"),
        ("a,b\n1,2\n3\n", "row 3: expected 2 fields, found 1"),
        ("a,a\n1,2\n", "duplicate column name 'a'"),
        ("a,,b\n1,2,3\n", "column 1 has an empty name"),
        ("a,b\n1,\n", "column 'b' row 2: empty target value"),
        ("a,b\n,1\n", "column 'a' row 2: could not convert '' to float"),
        ("b\n1\n", "no feature columns"),
    ],
)
def test_csv_errors(tmp_path, text, fragment):
    with pytest.raises(DataFormatError, match=fragment):
        load_csv(csv_file(tmp_path, text), target="b")


def test_csv_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,b\n1,\xe9\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8"):
        load_csv(path, target="b")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_csv(tmp_path / "missing.csv", target="b")


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, sizes, expected",
    [
        (10_000, (0.98, 0.01, 0.01), (9_800, 100, 100)),
        (70_000, (0.98, 0.01, 0.01), (68_600, 700, 700)),
        (10_000, (0.78, 0.11, 0.11), (7_800, 1_100, 1_100)),
        (70_000, (0.78, 0.11, 0.11), (54_600, 7_700, 7_700)),
        (10, (0.5, 0.25, 0.25), (5, 3, 2)),  # 2.5 + 2.5: the tie goes to val
        (100, (0.29, 0.71, 0.0), (29, 71, 0)),  # 0.29 * 100 is 28.999... in floats
        (10, (6, 3, 1), (6, 3, 1)),
    ],
)
def test_split_counts_and_partition(n, sizes, expected):
    X = np.arange(n, dtype=np.float32).reshape(n, 1)
    y = np.arange(n)
    X_tr, y_tr, X_va, y_va, X_te, y_te = train_val_test_split(X, y, sizes=sizes, seed=1)
    assert (len(X_tr), len(X_va), len(X_te)) == expected
    assert (len(y_tr), len(y_va), len(y_te)) == expected
    # rows stay paired, and every sample lands in exactly one part
    for Xp, yp in ((X_tr, y_tr), (X_va, y_va), (X_te, y_te)):
        np.testing.assert_array_equal(Xp[:, 0], yp)
    together = np.sort(np.concatenate([y_tr, y_va, y_te]))
    np.testing.assert_array_equal(together, np.arange(n))


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 500),
    weights=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(
        lambda w: sum(w) > 0
    ),
)
def test_split_property_no_sample_lost(n, weights):
    total = sum(weights)
    sizes = [w / total for w in weights]
    if abs(sum(sizes) - 1.0) > 1e-6:
        return
    parts = train_val_test_split(np.arange(n), None, sizes=sizes, seed=n)
    idx = [parts[0], parts[2], parts[4]]
    assert parts[1] is None and parts[3] is None and parts[5] is None
    np.testing.assert_array_equal(np.sort(np.concatenate(idx)), np.arange(n))
    for count, fraction in zip(map(len, idx), sizes):
        assert abs(count - fraction * n) < 1.0 + 1e-9


def test_split_deterministic_and_unshuffled():
    X = np.arange(100)
    a = train_val_test_split(X, X, sizes=(0.8, 0.1, 0.1), seed=3)
    b = train_val_test_split(X, X, sizes=(0.8, 0.1, 0.1), seed=3)
    c = train_val_test_split(X, X, sizes=(0.8, 0.1, 0.1), seed=4)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a[0], c[0])
    plain = train_val_test_split(X, X, sizes=(0.8, 0.1, 0.1), shuffle=False)
    np.testing.assert_array_equal(plain[0], np.arange(80))
    np.testing.assert_array_equal(plain[2], np.arange(80, 90))
    np.testing.assert_array_equal(plain[4], np.arange(90, 100))


@pytest.mark.parametrize(
    "sizes, fragment",
    [
        ((0.5, 0.5), "3 entries"),
        ((0.5, 0.3, 0.1), "sum to 1"),
        ((1.2, -0.1, -0.1), r"\[0, 1\]"),
        ((0.5, float("nan"), 0.5), r"\[0, 1\]"),
        ((5, 3, 1), "summing to the 10 samples"),
        ((11, -1, 0), "non-negative"),
        ((5, 0.3, 0.2), "mixes integers"),
        (("a", 0.5, 0.5), "numbers"),
    ],
)
def test_split_bad_sizes(sizes, fragment):
    with pytest.raises(ValueError, match=fragment):
        train_val_test_split(np.arange(10), None, sizes=sizes)


def test_split_bad_arrays():
    with pytest.raises(ValueError, match="10 samples but y"):
        train_val_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="at least one sample"):
        train_val_test_split(np.zeros((0, 2)), None)


# ---------------------------------------------------------------------------
# Standardizer
# ---------------------------------------------------------------------------


def test_standardizer_uses_training_statistics_only():
    X_train = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    X_test = np.array([[7.0, 0.0], [1.0, 10.0]])
    scaler = Standardizer().fit(X_train)
    np.testing.assert_allclose(scaler.mean_, [3.0, 10.0])
    np.testing.assert_allclose(
        scaler.scale_, [np.sqrt(8 / 3), 1.0]
    )  # constant column: 1
    expected = (X_test - [3.0, 10.0]) / [np.sqrt(8 / 3), 1.0]
    np.testing.assert_allclose(scaler.transform(X_test), expected)
    # the test data never change the statistics
    scaler.transform(X_test * 100)
    np.testing.assert_allclose(scaler.mean_, [3.0, 10.0])
    assert scaler.n_features_in_ == 2 and scaler.n_samples_seen_ == 3


def test_standardizer_fit_transform_and_inverse():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((500, 4)) * [1, 10, 100, 0.01] + [5, -3, 0, 1e3]).astype(
        np.float32
    )
    X[:, 3] = 7.0  # zero-variance column
    scaler = Standardizer()
    Z = scaler.fit_transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, :3].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(Z[:, :3].std(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(Z[:, 3], 0.0)
    assert scaler.scale_[3] == 1.0
    back = scaler.inverse_transform(Z)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, X, rtol=1e-5, atol=1e-4)


def test_standardizer_dtypes():
    X64 = np.array([[1.0, 2.0], [3.0, 5.0]])
    assert Standardizer().fit_transform(X64).dtype == np.float64
    assert Standardizer().fit_transform(np.array([[1, 2], [3, 5]])).dtype == np.float64
    scaler = Standardizer().fit(X64)
    assert scaler.transform(X64.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_standardizer_rejects_non_finite(bad):
    X = np.ones((3, 2))
    X[1, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        Standardizer().fit(X)
    scaler = Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        scaler.transform(X)


def test_standardizer_errors():
    with pytest.raises(NotFittedError, match="not fitted"):
        Standardizer().transform(np.ones((2, 2)))
    assert issubclass(NotFittedError, ValueError) and issubclass(
        NotFittedError, AttributeError
    )
    scaler = Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(
        ValueError, match="3 features, but Standardizer was fitted with 2"
    ):
        scaler.transform(np.ones((1, 3)))
    with pytest.raises(ValueError, match="2-d"):
        Standardizer().fit(np.ones(3))
    with pytest.raises(ValueError, match="0 samples"):
        Standardizer().fit(np.ones((0, 3)))
    with pytest.raises(ValueError, match="numeric"):
        Standardizer().fit(np.array([["a", "b"]]))


# ---------------------------------------------------------------------------
# Generated data sets
# ---------------------------------------------------------------------------


def test_make_xor():
    X, y = make_xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert X.dtype == np.float32 and y.dtype == np.int64
    Xn, yn = make_xor(400, noise=0.1, seed=0)
    assert Xn.shape == (400, 2) and np.bincount(yn).tolist() == [200, 200]
    corners = np.round(Xn)  # noise 0.1 keeps points by their corner
    np.testing.assert_array_equal(np.logical_xor(corners[:, 0], corners[:, 1]), yn)


GENERATORS = {
    "xor": lambda seed, noise=0.1: make_xor(101, noise, seed),
    "spirals": lambda seed, noise=0.1: make_spirals(101, noise, seed),
    "moons": lambda seed, noise=0.1: make_moons(101, noise, seed),
    "blobs": lambda seed, noise=0.1: make_blobs(101, 3, 2, 1.0, seed),
    "regression": lambda seed, noise=0.1: make_regression(101, 3, noise, seed),
}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_generators_shapes_dtypes_determinism(name):
    X, y = GENERATORS[name](seed=7)
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[0] == 101
    assert y.shape == (101,) and np.isfinite(X).all()
    assert y.dtype == (np.float32 if name == "regression" else np.int64)
    X2, y2 = GENERATORS[name](seed=7)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = GENERATORS[name](seed=8)
    assert not np.array_equal(X, X3)


@pytest.mark.parametrize("make", [make_spirals, make_moons])
def test_two_class_generators_balanced_and_disjoint(make):
    X, y = make(201, 0.0, 0)
    assert np.bincount(y).tolist() == [101, 100]
    assert y[:20].min() == 0 and y[:20].max() == 1  # shuffled, not sorted by class
    gaps = np.linalg.norm(X[y == 0][:, None, :] - X[y == 1][None, :, :], axis=2)
    assert gaps.min() > 0.05  # without noise, the classes never touch


def test_make_spirals_geometry():
    X, y = make_spirals(400, noise=0.0, seed=0, n_turns=2.0)
    radius = np.linalg.norm(X, axis=1)
    assert radius.min() == pytest.approx(0.05, abs=1e-6)
    assert radius.max() == pytest.approx(1.05, abs=1e-6)


def test_make_blobs_centers_and_std():
    centers = [[0.0, 0.0, 0.0], [20.0, 0.0, 0.0]]
    X, y = make_blobs(1000, centers=centers, cluster_std=[0.5, 2.0], seed=0)
    assert X.shape == (1000, 3) and np.bincount(y).tolist() == [500, 500]
    np.testing.assert_allclose(X[y == 0].mean(axis=0), centers[0], atol=0.1)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), centers[1], atol=0.4)
    np.testing.assert_allclose(X[y == 0].std(axis=0), 0.5, rtol=0.15)
    np.testing.assert_allclose(X[y == 1].std(axis=0), 2.0, rtol=0.15)
    X4, y4 = make_blobs(10, centers=4, n_features=5, seed=1)
    assert X4.shape == (10, 5) and np.bincount(y4).tolist() == [3, 3, 2, 2]


def test_make_regression_is_smooth_target_plus_noise():
    X0, y0 = make_regression(200, 4, noise=0.0, seed=3)
    X1, y1 = make_regression(200, 4, noise=0.5, seed=3)
    np.testing.assert_array_equal(X0, X1)  # noise only touches y
    residual = y1 - y0
    assert 0.4 < residual.std() < 0.6
    assert np.abs(y0).max() <= 4.0  # a sum of 4 sines
    assert y0.std() > 0.3  # and not constant


@pytest.mark.parametrize(
    "call",
    [
        lambda: make_xor(0),
        lambda: make_xor(4, noise=-1.0),
        lambda: make_moons(1),
        lambda: make_spirals(10, noise=float("nan")),
        lambda: make_spirals(10, n_turns=0),
        lambda: make_blobs(10, centers=0),
        lambda: make_blobs(10, centers=[1.0, 2.0]),
        lambda: make_blobs(10, centers=2, cluster_std=-1.0),
        lambda: make_blobs(10, centers=2, cluster_std=[1.0, 1.0, 1.0]),
        lambda: make_regression(10, n_features=0),
        lambda: make_regression(2.5),
    ],
)
def test_generators_reject_bad_arguments(call):
    with pytest.raises(ValueError):
        call()
