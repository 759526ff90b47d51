"""The vanishing-gradient experiment of the course (seeds 000 and 001).

Setup, as in the course: MNIST (784 inputs, 10 sigmoid outputs, the class
is the largest output), hidden layers of 100 sigmoid units, quadratic cost
``C = 1/(2m) Σ ‖t − a‖²``, plain mini-batch gradient descent with one
learning rate for every layer (η = 0.1, batches of 20, 2 epochs over the
60,000 training images), weights from fastmlp's default for sigmoid layers
(Glorot uniform), biases 0.  The measurement is the mean absolute gradient
of each hidden layer's biases, ``mean |∂C/∂b|``, averaged over the batches
of each epoch (``MLP.history_["grad_b"]``).  It is run with 2, 3 and 4
hidden layers, then again with ReLU hidden layers and He initialisation.

    python examples/vanishing_gradient.py            # full run, ~1 minute
    python examples/vanishing_gradient.py --quick    # 10,000 images, seconds

What it shows (full run on the development machine; the script prints the
same tables):

    first hidden layer, mean |dC/db| in the last (2nd) epoch
    hidden layers   sigmoid   ratio to one layer less   seeds     ReLU + He
    2               6.1e-04                             2.5e-03   2.3e-03
    3               3.9e-05   16                        9.0e-05   2.8e-03
    4               6.0e-06   6.5                       9.0e-06   3.1e-03

- The pattern of the seeds is reproduced: each added sigmoid layer costs
  the first hidden layer about an order of magnitude of gradient (the
  seeds: ×28 then ×10; here ×16 then ×6.5), and inside every network the
  layers nearest the input get the smallest gradients (4 layers: 6.0e-06,
  2.5e-05, 1.1e-04, 4.6e-04 from the input up), so they learn slowest.
  After 2 epochs the 2-layer network reaches 82 % test accuracy, the
  3-layer one 30 %, and the 4-layer one has not started to learn (11 %:
  it predicts one class).
- The numbers themselves agree within a factor of 4: ours are 0.24, 0.43
  and 0.66 times the seeds' for 2, 3 and 4 layers.  They cannot
  agree exactly because the seeds do not give every setting that sets their
  size: the initialisation (Glorot uniform here; N(0, 1) or 1/√n elsewhere
  make the loss per layer larger), the learning rate and batch size (a
  per-batch mean |gradient| grows as batches shrink, and η decides how soon
  a network leaves its plateau), the number of epochs, the cost's scaling
  (½ and the 1/m average) and where the gradient is measured (over one
  batch, a whole epoch, or after training).
- The effect is a delay, not a wall: each deeper network sits on a plateau
  with tiny gradients until its weights grow enough, then escapes, and its
  gradients catch up (try ``--epochs 4``: the 3-layer network escapes and
  the ratios change).  That is why the course's table is "after training"
  for a fixed, short budget.
- The cure: with ReLU hidden layers and He initialisation (variance 2/n,
  the ReLU's gain in the course's variance argument) the first layer's
  gradient is as large with 4 hidden layers as with 2 (520 times the
  sigmoid network's at 4 layers) and every network learns (95 % test
  accuracy after the same 2 epochs).

The cause (seed 001): backpropagation multiplies, layer by layer, by the
weights and by the activation's derivative ``σ'(z) = σ(z)(1 − σ(z)) ≤ 1/4``;
with weights of variance ~1/n each sigmoid layer divides the signal going
back by about 4 or more, and saturated units (σ' ≈ 0) make it worse.
ReLU's derivative is 1 on its active side, so the product does not shrink.

``run(quick=True)`` returns the numbers; ``main(argv)`` prints the tables
and writes ``vanishing_gradient_sigmoid.png`` / ``…_relu.png`` when
matplotlib is installed.
"""

import argparse
import os
import sys
import time


import numpy as np

from fastmlp import MLP, Dense
from fastmlp.plot import format_table, gradient_table, plot_gradients

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import add_plot_args, load_mnist_parts, save_figure

# The course's reported first-hidden-layer values after training.
SEEDS = {2: 0.0025, 3: 0.00009, 4: 0.000009}


def build(depth, activation, lr, seed):
    """``depth`` hidden layers of 100 units, 10 sigmoid outputs, quadratic
    cost, plain SGD; the initialiser is fastmlp's default for the
    activation (Glorot uniform for sigmoid, He uniform for ReLU)."""
    hidden = [Dense(100, activation) for _ in range(depth)]
    return MLP(hidden + [Dense(10, "sigmoid")], loss="squared_error",
               optimizer={"kind": "sgd", "lr": lr}, seed=seed)


def run(quick=False, depths=(2, 3, 4), epochs=2, lr=0.1, batch_size=20, n_train=None,
        data=None, seed=0, cure=True, verbose=False):
    """Train every depth with sigmoid (and ReLU + He) hidden layers.

    Parameters
    ----------
    quick : bool
        10,000 training and 2,000 test images instead of 60,000 / 10,000.
    depths : sequence of int
        Numbers of hidden layers.
    epochs, lr, batch_size, seed : training settings (see the docstring).
    n_train : int, optional
        Training images to use (overrides ``quick``).
    data : str, optional
        MNIST folder (default: found automatically).
    cure : bool
        Also run the ReLU + He networks.

    Returns
    -------
    dict
        ``first_layer[activation][depth]``: mean |∂C/∂b| of the first
        hidden layer in the last epoch; ``grad_b[activation][depth]``: the
        per-epoch, per-layer table (list of lists, output layer last);
        ``accuracy[activation][depth]``: test accuracy; ``histories``:
        the training histories; ``config``: the settings used.
    """
    if n_train is None:
        n_train = 10_000 if quick else None
    X, y, Xt, yt = load_mnist_parts(data, n_train, 2_000 if quick else None)
    T = np.eye(10, dtype=np.float32)[y]  # one-hot targets for the quadratic cost
    out = {"config": {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                      "n_train": len(X), "n_test": len(Xt), "seed": seed},
           "first_layer": {}, "grad_b": {}, "accuracy": {}, "time": {}, "histories": {}}
    for activation in ("sigmoid", "relu") if cure else ("sigmoid",):
        for key in ("first_layer", "grad_b", "accuracy", "time", "histories"):
            out[key][activation] = {}
        for depth in depths:
            model = build(depth, activation, lr, seed)
            t0 = time.perf_counter()
            model.fit(X, T, epochs=epochs, batch_size=batch_size)
            elapsed = time.perf_counter() - t0
            grads = np.array(model.history_["grad_b"])
            acc = float(np.mean(model.predict(Xt).argmax(axis=1) == yt))
            out["first_layer"][activation][depth] = float(grads[-1, 0])
            out["grad_b"][activation][depth] = grads.tolist()
            out["accuracy"][activation][depth] = acc
            out["time"][activation][depth] = elapsed
            out["histories"][activation][depth] = model.history_
            if verbose:
                print(f"  {activation} {depth} hidden layers: {elapsed:.1f} s, "
                      f"test accuracy {acc:.3f}", flush=True)
    return out


def summary_rows(result):
    """The after-training table: one row per depth."""
    rows, prev = [], None
    first = result["first_layer"]
    for depth, g in first["sigmoid"].items():
        row = {"hidden layers": depth, "sigmoid": g,
               "ratio to one layer less": (prev / g) if prev else None,
               "seeds": SEEDS.get(depth), "sigmoid / seeds": g / SEEDS[depth] if depth in SEEDS else None}
        if "relu" in first:
            row["relu + He"] = first["relu"][depth]
            row["relu / sigmoid"] = first["relu"][depth] / g
        rows.append(row)
        prev = g
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 images: seconds")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", metavar="DIR", help="MNIST folder")
    add_plot_args(parser)
    args = parser.parse_args(argv)

    c = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size}
    print(f"Vanishing gradient on MNIST: hidden layers of 100 units, 10 sigmoid outputs, "
          f"quadratic cost, plain SGD (lr {c['lr']}, batch {c['batch_size']}, "
          f"{c['epochs']} epochs){', quick run' if args.quick else ''}")
    try:
        result = run(quick=args.quick, seed=args.seed, data=args.data, verbose=True, **c)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cfg = result["config"]
    print(f"({cfg['n_train']} training images, accuracy on {cfg['n_test']} test images)\n")
    for activation, label in (("sigmoid", "sigmoid, Glorot init"), ("relu", "ReLU, He init")):
        for depth, history in result["histories"][activation].items():
            print(f"{label}, {depth} hidden layers: mean |dC/db| per epoch "
                  f"(test accuracy {result['accuracy'][activation][depth]:.3f})")
            print(gradient_table(history, include_output=True))
            print()

    print(f"First hidden layer, mean |dC/db| after training (epoch {cfg['epochs']}):")
    print(format_table(summary_rows(result), floatfmt=".2g"))
    s = result["first_layer"]["sigmoid"]
    depths = sorted(s)
    ratios = [s[a] / s[b] for a, b in zip(depths, depths[1:])]
    print(f"\nEach added sigmoid layer divides the first layer's gradient by "
          f"{', '.join(f'{r:.2g}' for r in ratios)} (the seeds: 28, 10).")
    close = [s[d] / SEEDS[d] for d in depths if d in SEEDS]
    print(f"Our values are {', '.join(f'{c:.2g}' for c in close)} times the seeds' "
          f"({', '.join(f'{d}' for d in depths if d in SEEDS)} hidden layers). They cannot match "
          "exactly: the seeds do not state their initialisation, learning rate, batch size, "
          "number of epochs, the cost's scaling or where the gradient is measured, and each "
          "changes the values (see this script's docstring).")
    slowest_first = all(t[-1][:-1] == sorted(t[-1][:-1])
                        for t in result["grad_b"]["sigmoid"].values())
    falls = all(r > 1 for r in ratios)
    print(f"Pattern: the first layer's gradient {'falls' if falls else 'does NOT fall'} with "
          f"every added sigmoid layer (about {np.exp(np.mean(np.log(ratios))):.2g}x per layer"
          f"{'' if min(ratios) >= 5 else '; the quick run stops near the initialisation, where it is ~4x'}"
          f"), and the layers nearest the input "
          f"{'learn slowest' if slowest_first else 'do NOT always learn slowest'} in every network.")
    r = result["first_layer"].get("relu")
    if r:
        print(f"With ReLU + He the first layer keeps {r[depths[-1]]:.1e} at {depths[-1]} "
              f"hidden layers ({r[depths[-1]] / s[depths[-1]]:.0f} times the sigmoid "
              "network's): the cure.")

    if not args.no_plots:
        os.makedirs(args.plots, exist_ok=True)
        for activation in result["histories"]:
            runs = {f"{d} hidden layers": h for d, h in result["histories"][activation].items()}
            save_figure(plot_gradients, runs,
                        path=os.path.join(args.plots, f"vanishing_gradient_{activation}.png"),
                        title=f"Mean |∂L/∂b| per hidden layer, {activation} hidden layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
