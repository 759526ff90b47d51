"""The ``fastmlp`` command line: every subcommand, and its errors.

Most tests call ``fastmlp.cli.main(argv)`` in-process (fast, output via
capsys); a few run ``python -m fastmlp`` to check the real program: its
exit statuses and that user errors print one line, never a traceback.
"""

import csv
import gzip
import json
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import cli, datasets


def run_cli(capsys, *argv):
    """(exit status, stdout, stderr) of ``fastmlp ARGV``."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, *fragments):
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def flowers_csv(tmp_path_factory):
    """A 3-class CSV with text labels in the middle column."""
    path = tmp_path_factory.mktemp("data") / "flowers.csv"
    X, y = datasets.make_blobs(300, centers=3, n_features=4, cluster_std=0.8, seed=1)
    names = np.array(["setosa", "versicolor", "virginica"])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "species", "c", "d"])
        for x, label in zip(X, y):
            writer.writerow([x[0], x[1], names[label], x[2], x[3]])
    return path, X, names[y]


@pytest.fixture(scope="module")
def flowers_model(flowers_csv, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "flowers.fmlp"
    code = cli.main(["train", str(flowers_csv[0]), "--target", "species", "--hidden", "16",
                     "--epochs", "40", "--batch-size", "16", "--lr", "0.01", "--quiet",
                     "--out", str(path)])
    assert code == 0
    return path


# -- train / predict / info ------------------------------------------------------


def test_train_csv_classifier_reports_and_saves_labels(flowers_csv, tmp_path, capsys):
    out_path = tmp_path / "m.fmlp"
    code, out, err = run_cli(capsys, "train", flowers_csv[0], "--target", "species",
                             "--hidden", "16,8", "--epochs", "3", "--out", out_path)
    assert code == 0
    assert out_path.is_file()
    # progress: one line per epoch on stderr; the report on stdout
    assert [line.split()[1] for line in err.splitlines() if line.startswith("epoch")] == \
        ["1/3", "2/3", "3/3"]
    assert "val_accuracy" in err
    assert "trained classifier 4 → 16 relu → 8 relu → 3 softmax" in out
    assert "train" in out and "validation" in out and "accuracy" in out
    assert f"saved {out_path}" in out
    model = fastmlp.load(out_path)  # still an ordinary model file
    assert model.n_features_in_ == 4 and model.mean_ is not None
    from fastmlp import _format
    meta = _format.read_model(out_path).meta
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    training = meta["training"]
    assert training["task"] == "classify" and training["target"] == "species"
    assert training["feature_names"] == ["a", "b", "c", "d"]
    assert training["n_train"] + training["n_val"] == 300 and training["n_val"] == 30
    assert set(training["metrics"]) == {"train", "validation"}


def test_predict_prints_labels_and_scores_when_the_target_is_present(
        flowers_csv, flowers_model, tmp_path, capsys):
    code, out, err = run_cli(capsys, "predict", flowers_model, flowers_csv[0])
    assert code == 0
    labels = out.split()
    assert len(labels) == 300 and set(labels) <= {"setosa", "versicolor", "virginica"}
    accuracy = np.mean(np.array(labels) == flowers_csv[2])
    assert accuracy > 0.9
    assert f"accuracy {accuracy:.4f} on 300 samples" in err

    preds = tmp_path / "preds.csv"
    code, out, err = run_cli(capsys, "predict", flowers_model, flowers_csv[0], "--out", preds,
                             "--proba")
    assert code == 0 and out == ""
    with open(preds, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert [r[0] for r in rows[1:]] == labels
    probs = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_predict_picks_feature_columns_by_name(flowers_csv, flowers_model, tmp_path, capsys):
    # Features only, in another order: matched by the names stored in the model.
    X = flowers_csv[1][:5]
    path = tmp_path / "new.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["d", "c", "b", "a"])
        writer.writerows(X[:, ::-1].tolist())
    code, out, err = run_cli(capsys, "predict", flowers_model, path)
    assert code == 0 and err == ""
    code, full, _ = run_cli(capsys, "predict", flowers_model, flowers_csv[0])
    assert out.split() == full.split()[:5]


def test_train_npz_regression_and_predict(tmp_path, capsys):
    X, y = datasets.make_regression(400, n_features=3, noise=0.05, seed=0)
    data = tmp_path / "reg.npz"
    np.savez(data, X=X, y=y)
    model = tmp_path / "reg.fmlp"
    code, out, err = run_cli(capsys, "train", data, "--hidden", "32", "--epochs", "40",
                             "--lr", "0.01", "--batch-size", "32", "--out", model, "--quiet")
    assert code == 0, err
    assert "trained regression 3 → 32 relu → 1 identity" in out
    assert "rmse" in out and "r2" in out
    code, out, err = run_cli(capsys, "predict", model, data)
    assert code == 0
    pred = np.array([float(v) for v in out.split()])
    assert pred.shape == (400,)
    np.testing.assert_allclose(pred, fastmlp.load(model).predict(X).ravel(), rtol=1e-6)
    assert "rmse" in err
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.5 * y.std()


def test_task_override_and_integer_targets(tmp_path, capsys):
    X, y = datasets.make_moons(200, noise=0.1, seed=0)
    data = tmp_path / "moons.npz"
    np.savez(data, features=X, label=y.astype(np.float64))  # float labels: regression...
    model = tmp_path / "m.fmlp"
    code, out, _ = run_cli(capsys, "train", data, "--x-key", "features", "--target", "label",
                           "--epochs", "2", "--hidden", "8", "--quiet", "--out", model)
    assert code == 0 and "regression" in out
    code, out, _ = run_cli(capsys, "train", data, "--x-key", "features", "--target", "label",
                           "--task", "classify", "--epochs", "2", "--hidden", "8", "--quiet",
                           "--out", model)
    assert code == 0 and "classifier" in out
    code, out, _ = run_cli(capsys, "predict", model, data, "--x-key", "features")
    assert set(out.split()) == {"0", "1"}  # the file's labels 0.0 and 1.0


def _write_idx(path, array):
    """A gzipped IDX file of unsigned bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path):
    """An MNIST-format folder with 300 training and 100 test 28x28 images."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix, n in (("train", 300), ("t10k", 100)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        images[np.arange(n), labels * 2, :] = 255  # a learnable bright row per digit
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def test_train_and_predict_on_an_mnist_folder(tiny_mnist, tmp_path, capsys):
    model = tmp_path / "digits.fmlp"
    code, out, err = run_cli(capsys, "train", tiny_mnist, "--hidden", "32", "--epochs", "15",
                             "--batch-size", "32", "--out", model)
    assert code == 0, err
    assert "784 → 32 relu → 10 softmax" in out
    test_line = next(line for line in out.splitlines() if line.startswith("test"))
    assert float(test_line.split()[-1]) > 0.8
    code, out, err = run_cli(capsys, "info", model)
    assert "standardisation:    no" in out  # pixels are already in [0, 1]
    code, out, err = run_cli(capsys, "predict", model, tiny_mnist)
    assert code == 0 and len(out.split()) == 100 and "test set" in err


def test_info_describes_the_model(flowers_model, capsys):
    code, out, _ = run_cli(capsys, "info", flowers_model)
    assert code == 0
    model = fastmlp.load(flowers_model)
    n_params = sum(w.size + b.size for w, b in zip(model.coefs_, model.intercepts_))
    assert f"parameters:         {n_params:,}" in out
    assert "architecture:       4 → 16 relu → 3 softmax" in out
    assert "dtype:              float32" in out
    assert "classes:            3: setosa, versicolor, virginica" in out
    assert "standardisation:    yes" in out
    assert "target 'species'" in out and "validation metrics:" in out
    code, out, _ = run_cli(capsys, "info", flowers_model, "--json")
    info = json.loads(out)
    assert info["parameters"] == n_params and info["standardized"] is True
    assert info["metadata"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_info_of_a_model_saved_by_the_api(tmp_path, capsys):
    X, y = datasets.make_xor(40, noise=0.05, seed=0)
    model = fastmlp.MLP([fastmlp.Dense(4, "tanh"), fastmlp.Dense(1, "sigmoid")])
    model.fit(X, y, epochs=2)
    model.save(tmp_path / "xor.fmlp")
    code, out, _ = run_cli(capsys, "info", tmp_path / "xor.fmlp")
    assert code == 0 and "2 → 4 tanh → 1 sigmoid" in out and "standardisation:    no" in out
    np.savez(tmp_path / "xor.npz", X=X, y=y)
    code, out, _ = run_cli(capsys, "predict", tmp_path / "xor.fmlp", tmp_path / "xor.npz")
    assert code == 0 and set(out.split()) <= {"0", "1"}  # sigmoid output: classes 0/1


# -- demo and bench -------------------------------------------------------------------


@pytest.fixture
def one_thread():
    """--threads 1 in-process (the test process's OpenMP threads may spin
    on a busy machine); the thread count is restored afterwards."""
    before = fastmlp.get_num_threads()
    yield "--threads", "1"
    fastmlp.set_num_threads(before)


def test_demo_quick_trains_and_measures_the_speed_up(capsys, monkeypatch, one_thread):
    monkeypatch.setenv("FASTMLP_DEMO_QUICK", "1")
    code, out, err = run_cli(capsys, "demo", *one_thread)
    assert code == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 8 and "val_accuracy" in epochs[0]
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy > 90
    assert "NumPy reference backend" in out
    speed_up = re.search(r"speed-up ([0-9.]+)x", out)
    assert speed_up and float(speed_up.group(1)) > 0
    assert "the same computation" in out


def test_bench_builtin(capsys, one_thread):
    code, out, _ = run_cli(capsys, "bench", "--builtin", "--quick", *one_thread)
    assert code == 0
    lines = [line for line in out.splitlines() if "(MNIST-shaped)" in line or "(small)" in line]
    assert len(lines) == 2
    for line in lines:
        assert float(line.split()[-2].rstrip("x")) > 0


def test_bench_runs_the_checkout_script(tmp_path, capfd, monkeypatch):
    script = tmp_path / "run.py"
    script.write_text("import sys\nprint('bench args', sys.argv[1:])\nsys.exit(3)\n")
    monkeypatch.setattr(cli, "_source_bench_script", lambda: script)
    before = fastmlp.get_num_threads()
    try:
        code = cli.main(["bench", "--quick", "--threads", "1", "--", "--json", "x.json"])
    finally:
        fastmlp.set_num_threads(before)
    assert code == 3  # the script's own status
    out, err = capfd.readouterr()
    assert "running" in err
    assert "bench args ['--quick', '--threads', '1', '--json', 'x.json']" in out


def test_bench_script_is_found_only_in_a_checkout():
    # The package in use is a checkout when its parent folder holds
    # fastmlp's pyproject.toml (CI tests an installed copy instead).
    here = os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__)))
    expected = os.path.join(here, "bench", "run.py")
    is_checkout = os.path.isfile(os.path.join(here, "pyproject.toml"))
    script = cli._source_bench_script()
    assert script is None or str(script) == expected
    assert (script is not None) == (is_checkout and os.path.isfile(expected))


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, fragment", [
    (["train", "DATA", "--hidden", "25a"], "'25a' is not a positive integer"),
    (["train", "DATA", "--hidden", "0,4"], "not a positive integer"),
    (["train", "DATA", "--validation-split", "1.5"], "--validation-split"),
    (["train", "DATA", "--epochs", "ten"], "'ten' is not an integer"),
    (["train", "DATA", "--lr", "-1"], "--lr"),
    (["train", "DATA", "--activation", "sigmoidal"], "unknown activation 'sigmoidal'"),
    (["train", "DATA", "--optimizer", "adamax"], "unknown optimizer"),
    (["train", "DATA", "--task", "cluster"], "invalid choice"),
    (["train"], "required: DATA"),
    (["fit", "x"], "invalid choice"),
    ([], "required: COMMAND"),
])
def test_malformed_command_lines_exit_2(argv, fragment, capsys):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert fragment in err and "Traceback" not in err


def test_csv_without_target_is_a_usage_error(flowers_csv, capsys):
    code, _, err = run_cli(capsys, "train", flowers_csv[0])
    assert code == 2
    assert_one_line_error(err, "--target", "columns: a, b, species, c, d")


@pytest.mark.parametrize("make_argv, fragment", [
    (lambda d, m: ["train", d / "missing.csv", "--target", "y"], "missing.csv: no such file"),
    (lambda d, m: ["train", d / "flowers.csv", "--target", "colour"],
     "target column 'colour' not found"),
    (lambda d, m: ["train", d / "flowers.csv", "--target", "species", "--task", "regress"],
     "text labels"),
    (lambda d, m: ["predict", d / "missing.fmlp", d / "flowers.csv"], "missing.fmlp"),
    (lambda d, m: ["info", d / "flowers.csv"], "not a valid fastmlp model file"),
    (lambda d, m: ["info", d / "truncated.fmlp"], "truncated"),
    (lambda d, m: ["predict", m, d / "narrow.npz"], "3 features per sample, the model expects 4"),
    (lambda d, m: ["predict", m, d / "other.csv"], "the model needs the column(s) a, d"),
])
def test_runtime_errors_exit_1_with_one_line(make_argv, fragment, flowers_csv, flowers_model,
                                              capsys):
    folder = flowers_csv[0].parent
    data = flowers_model.read_bytes()
    (folder / "truncated.fmlp").write_bytes(data[: len(data) // 2])
    np.savez(folder / "narrow.npz", X=np.zeros((4, 3)))
    (folder / "other.csv").write_text("b,c,e\n1,2,3\n")
    code, _, err = run_cli(capsys, *make_argv(folder, flowers_model))
    assert code == 1
    assert_one_line_error(err, fragment)


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "train", str(tmp_path / "missing.csv"), "--target", "y"])


# -- the real program ------------------------------------------------------------------


def _run_program(*argv, cwd, env=None):
    """``python -m fastmlp ARGV`` with the fastmlp under test (the one this
    process imported: a source tree or site-packages) first on the path."""
    env = dict(os.environ if env is None else env)
    here = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "fastmlp", *map(str, argv)],
                          capture_output=True, text=True, timeout=120, check=False,
                          cwd=cwd, env=env)


def test_python_m_fastmlp_exit_statuses(tmp_path):
    r = _run_program("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == f"fastmlp {fastmlp.__version__}"
    r = _run_program("train", tmp_path / "x.csv", "--hidden", "25a", cwd=tmp_path)
    assert r.returncode == 2 and "--hidden" in r.stderr and "Traceback" not in r.stderr
    r = _run_program("info", tmp_path / "nothing.fmlp", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"fastmlp info: error: {tmp_path / 'nothing.fmlp'}: " \
                               "No such file or directory"


def test_import_bounds_openmp_spinning_unless_user_chose(tmp_path):
    code = ("import os, fastmlp; "
            "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))

    def policy(**extra):
        out = subprocess.run([sys.executable, "-c", code], env=dict(env, **extra),
                             capture_output=True, text=True, check=True, cwd=tmp_path)
        return out.stdout.split()

    assert policy() == ["passive", "3000"]
    assert policy(OMP_WAIT_POLICY="active") == ["active", "None"]
    assert policy(GOMP_SPINCOUNT="0") == ["None", "0"]


def test_the_program_runs_the_demo_end_to_end(tmp_path):
    r = _run_program("demo", "--quick", "--no-compare", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout
