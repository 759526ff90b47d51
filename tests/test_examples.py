"""The course's experiments (examples/), each on a reduced size, with an
assertion on its scientific claim; and the figures/tables of fastmlp.plot.

MNIST experiments skip when the data is absent (see conftest.MNIST_DIR).
The examples run with one C thread here: their results do not depend on
the thread count, and a single thread cannot spin-wait on a busy machine.
"""

import importlib
import sys

import numpy as np
import pytest
from conftest import ROOT, mnist_or_skip

import fastmlp
from fastmlp import plot

EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def one_thread():
    before = fastmlp.get_num_threads()
    fastmlp.set_num_threads(1)
    yield
    fastmlp.set_num_threads(before)


def example(name):
    """The module examples/NAME.py."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


# -- perceptron ------------------------------------------------------------------


def test_perceptron_learns_and_or_but_not_xor_and_the_mlp_learns_xor():
    r = example("perceptron").run()
    assert r["threshold_unit"]["AND"] == [(2, ())]
    assert r["threshold_unit"]["OR"] == [(1, ())]
    assert r["threshold_unit"]["XOR"] == []  # no McCulloch-Pitts unit computes XOR
    for name in ("AND", "OR"):
        p = r["perceptron"][name]
        assert p["converged"] and p["accuracy"] == 1.0 and p["errors"][-1] == 0
    xor = r["perceptron"]["XOR"]
    assert not xor["converged"] and xor["accuracy"] < 1.0 and xor["epochs"] == 100
    assert min(xor["errors"]) > 0  # not a single error-free epoch
    assert r["mlp_xor"]["predictions"] == [0, 1, 1, 0]
    assert r["mlp_xor"]["accuracy"] == 1.0


def test_perceptron_main_prints_tables_and_writes_a_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (the plot extra)")
    assert example("perceptron").main(["--plots", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "XOR: none" in out and "accuracy 100%" in out
    png = tmp_path / "perceptron_xor_loss.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_examples_fall_back_to_tables_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert example("perceptron").main(["--plots", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pip install 'fastmlp[plot]'" in out and "x1  x2" in out
    assert not list(tmp_path.iterdir())


# -- optimisers ---------------------------------------------------------------------


def test_adam_ends_below_plain_sgd_at_equal_epochs():
    r = example("optimizers").run(quick=True, dataset="spirals")
    assert set(r["final_loss"]) == {"SGD", "momentum", "RMSProp", "Adam"}
    for curve in r["loss"].values():
        assert len(curve) == r["epochs"] and all(np.isfinite(curve))
    assert r["final_loss"]["Adam"] < 0.9 * r["final_loss"]["SGD"]
    assert r["final_loss"]["RMSProp"] < r["final_loss"]["SGD"]
    # Adam's curve is below SGD's over the run, not only at the end.
    assert np.mean(r["loss"]["Adam"]) < np.mean(r["loss"]["SGD"])


# -- over- and under-fitting -------------------------------------------------------------


def test_regularisation_shrinks_the_generalisation_gap_and_early_stopping_stops_early():
    r = example("overfitting").run(quick=True)
    b = r["by_name"]
    deep = b["6 layers x 64"]
    for name in ("6 x 64 + L2", "6 x 64 + dropout", "6 x 64 + early stopping"):
        assert deep["gap"] > 3 * b[name]["gap"], name
    assert deep["gap"] > b["2 layers x 32"]["gap"] > b["1 layer x 4"]["gap"]
    # the unregularised deep network fits its training set best
    assert deep["train_loss"] < b["6 x 64 + L2"]["train_loss"]
    stopped = b["6 x 64 + early stopping"]
    assert stopped["epochs_run"] < r["max_epochs"]
    assert all(b[n]["epochs_run"] == r["max_epochs"] for n in b if "early" not in n)


# -- MNIST ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_dir():
    return str(mnist_or_skip())


def test_vanishing_gradient_pattern_and_its_cure(mnist_dir):
    r = example("vanishing_gradient").run(quick=True, data=mnist_dir)
    s, relu = r["first_layer"]["sigmoid"], r["first_layer"]["relu"]
    # the first hidden layer's gradient shrinks as sigmoid layers are added...
    assert s[2] > s[3] > s[4]
    assert s[2] / s[4] > 10
    # ...and inside each sigmoid network, layers nearest the input learn slowest
    for depth, table in r["grad_b"]["sigmoid"].items():
        hidden = table[-1][:-1]
        assert hidden == sorted(hidden), (depth, hidden)
    # ReLU + He: much larger, and not shrinking with depth
    assert relu[4] > 100 * s[4]
    assert relu[4] > 0.5 * relu[2]
    assert r["accuracy"]["relu"][4] > r["accuracy"]["sigmoid"][4] + 0.3


def test_mnist_quick_run_is_accurate(mnist_dir):
    r = example("mnist").run(quick=True, data=mnist_dir)
    assert r["n_train"] == 20_000 and r["n_test"] == 10_000 and r["epochs"] == 2
    assert r["test_accuracy"] > 0.95
    assert r["train_time"] > 0 and len(r["epoch_times"]) == 2


def test_mnist_numpy_backend_computes_the_same(mnist_dir):
    mnist = example("mnist")
    c = mnist.run(backend="c", n_train=2_000, epochs=1, data=mnist_dir)
    ref = mnist.run(backend="numpy", n_train=2_000, epochs=1, data=mnist_dir)
    assert ref["backend"] == "numpy"
    assert ref["test_accuracy"] == pytest.approx(c["test_accuracy"], abs=0.005)
    assert ref["history"]["loss"][0] == pytest.approx(c["history"]["loss"][0], rel=1e-4)


def test_mnist_examples_explain_a_missing_data_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FASTMLP_MNIST", raising=False)
    code = example("mnist").main(["--data", str(tmp_path), "--no-plots"])
    assert code == 1
    assert "MNIST not found: pass --data DIR" in capsys.readouterr().err


# -- fastmlp.plot ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def histories():
    from fastmlp import MLP, Dense, datasets

    X, y = datasets.make_moons(200, noise=0.2, seed=0)
    out = {}
    for depth in (1, 2):
        m = MLP([Dense(8, "sigmoid") for _ in range(depth)] + [Dense(2, "softmax")])
        m.fit(X[:150], y[:150], epochs=4, validation_data=(X[150:], y[150:]))
        out[depth] = m
    return out


def test_plot_functions_write_png_files(histories, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (the plot extra)")
    one = histories[1]
    for path in (plot.plot_history(one, tmp_path / "h.png"),
                 plot.plot_history({"1 layer": one, "2 layers": histories[2].history_},
                                   tmp_path / "h2.png", log_scale=True),
                 plot.plot_gradients(one.history_, tmp_path / "g.png"),
                 plot.plot_gradients({f"{d}": m for d, m in histories.items()},
                                     tmp_path / "g2.png", which="w", include_output=True)):
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_needs_matplotlib_and_says_how_to_install_it(histories, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'fastmlp\[plot\]'"):
        plot.plot_history(histories[1], tmp_path / "h.png")
    with pytest.raises(ImportError, match="matplotlib"):
        plot.plot_gradients(histories[1], tmp_path / "g.png")


def test_plot_tables_and_input_checks(histories):
    h = histories[2].history_
    lines = plot.history_table(h).splitlines()
    assert lines[0].split() == ["epoch", "loss", "val_loss", "val_accuracy", "time"]
    assert len(lines) == 2 + 4
    grads = plot.gradient_table(h).splitlines()
    assert grads[0].split() == ["epoch", "layer", "1", "layer", "2"]
    assert float(grads[2].split()[1]) == pytest.approx(h["grad_b"][0][0], rel=1e-2)
    with pytest.raises(TypeError, match="history"):
        plot.plot_history([1, 2, 3], "x.png")
    with pytest.raises(ValueError, match="which"):
        plot.gradient_table(h, which="z")
    table = plot.format_table([{"a": 1.5, "b": "x"}, {"a": None}]).splitlines()
    assert [line.split() for line in table] == [["a", "b"], ["---", "-"], ["1.5", "x"],
                                                 ["-", "-"]]


def test_examples_expose_run_and_main():
    for name in ("mnist", "vanishing_gradient", "optimizers", "perceptron", "overfitting"):
        module = example(name)
        assert callable(module.run) and callable(module.main), name
        assert module.__doc__ and "python examples/" in module.__doc__, name
