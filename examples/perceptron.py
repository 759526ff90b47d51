"""Threshold units and perceptrons learn AND and OR but not XOR; an MLP learns XOR.

    python examples/perceptron.py

The course's first neuron models (seed 004), on the three truth tables:

1. McCulloch–Pitts units (``fastmlp.ThresholdUnit``): AND is threshold 2,
   OR is threshold 1.  The script tries every threshold and every choice of
   inhibitory inputs: none computes XOR.
2. Rosenblatt's perceptron (``fastmlp.Perceptron``, step activation,
   ``w ← w + η (y − ŷ) x``): it converges on AND and OR (an epoch without
   mistakes, as the convergence theorem promises for linearly separable
   data) and never converges on XOR, which is not linearly separable: after
   100 epochs it still misclassifies at least one of the four inputs.
3. A multilayer perceptron 2-4-1 (tanh hidden layer, sigmoid output, binary
   cross-entropy, Adam) learns XOR exactly: the hidden layer maps the four
   points to a space where they are separable.

``run()`` returns the numbers (it takes well under a second); ``main``
prints the truth tables and writes ``perceptron_xor_loss.png`` when
matplotlib is installed.
"""

import argparse
import itertools
import os
import sys
import warnings


import numpy as np

from fastmlp import MLP, Dense, Perceptron, ThresholdUnit
from fastmlp.plot import format_table, plot_history

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import add_plot_args, save_figure

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
TABLES = {"AND": np.array([0, 0, 0, 1]), "OR": np.array([0, 1, 1, 1]),
          "XOR": np.array([0, 1, 1, 0])}


def threshold_units():
    """For each table, the (threshold, inhibitory inputs) choices of a
    McCulloch–Pitts unit that compute it (empty for XOR)."""
    found = {}
    for name, y in TABLES.items():
        found[name] = [(theta, inhib) for theta in range(4)
                       for k in range(3) for inhib in itertools.combinations(range(2), k)
                       if np.array_equal(ThresholdUnit(theta, list(inhib) or None).predict(X), y)]
    return found


def run(quick=True, seed=0, max_iter=100, mlp_epochs=500):
    """All three experiments.

    Returns
    -------
    dict
        ``threshold_unit[name]``: the unit settings that compute each table;
        ``perceptron[name]``: ``converged``, ``accuracy``, ``epochs``,
        ``predictions``, ``errors`` (mistakes per epoch);
        ``mlp_xor``: ``accuracy``, ``predictions``, ``outputs``, ``epochs``,
        ``history``.  (``quick`` is accepted for symmetry with the other
        examples; this one is always quick.)
    """
    out = {"threshold_unit": threshold_units(), "perceptron": {}}
    for name, y in TABLES.items():
        p = Perceptron(max_iter=max_iter, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ConvergenceWarning on XOR is the point
            p.fit(X, y)
        pred = p.predict(X)
        out["perceptron"][name] = {"converged": bool(p.converged_),
                                   "accuracy": float(np.mean(pred == y)),
                                   "epochs": int(p.n_iter_), "predictions": pred.tolist(),
                                   "errors": list(p.errors_)}
    mlp = MLP([Dense(4, "tanh"), Dense(1, "sigmoid")], optimizer={"kind": "adam", "lr": 0.05},
              seed=seed)
    mlp.fit(X, TABLES["XOR"], epochs=mlp_epochs, batch_size=4, tol=0.01)
    outputs = mlp.predict(X).ravel()
    pred = (outputs > 0.5).astype(int)
    out["mlp_xor"] = {"accuracy": float(np.mean(pred == TABLES["XOR"])),
                      "predictions": pred.tolist(), "outputs": outputs.tolist(),
                      "epochs": mlp.epochs_, "final_loss": mlp.history_["loss"][-1],
                      "history": mlp.history_}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="(always quick)")
    parser.add_argument("--seed", type=int, default=0)
    add_plot_args(parser)
    args = parser.parse_args(argv)
    r = run(seed=args.seed)

    print("1. McCulloch-Pitts threshold units: settings (threshold, inhibitory inputs) "
          "that compute each table")
    for name, settings in r["threshold_unit"].items():
        print(f"   {name:3s}: {', '.join(map(str, settings)) or 'none: no threshold unit computes it'}")

    print("\n2. Rosenblatt's perceptron (step activation, up to 100 epochs)")
    rows = []
    for i, x in enumerate(X.tolist()):
        row = {"x1": x[0], "x2": x[1]}
        for name, y in TABLES.items():
            row[f"{name} target"] = int(y[i])
            row[f"{name} perceptron"] = r["perceptron"][name]["predictions"][i]
        rows.append(row)
    print(format_table(rows))
    print(format_table([{"table": n, "converged": v["converged"], "epochs": v["epochs"],
                         "accuracy": v["accuracy"],
                         "mistakes in the last epoch": v["errors"][-1]}
                        for n, v in r["perceptron"].items()]))

    m = r["mlp_xor"]
    print(f"\n3. MLP 2-4-1 (tanh, sigmoid output, Adam) on XOR: accuracy {m['accuracy']:.0%} "
          f"after {m['epochs']} epochs (final loss {m['final_loss']:.4f})")
    print(format_table([{"x1": x[0], "x2": x[1], "target": int(t), "output": o, "class": p}
                        for x, t, o, p in zip(X.tolist(), TABLES["XOR"], m["outputs"],
                                              m["predictions"])], floatfmt=".3f"))
    if not args.no_plots:
        os.makedirs(args.plots, exist_ok=True)
        save_figure(plot_history, m["history"],
                    path=os.path.join(args.plots, "perceptron_xor_loss.png"),
                    title="MLP 2-4-1 learning XOR", log_scale=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
