"""SGD, momentum, RMSProp and Adam on the same network and data: loss per epoch.

    python examples/optimizers.py                     # MNIST (10,000 images), 10 epochs
    python examples/optimizers.py --dataset spirals   # two spirals, 60 epochs, seconds
    python examples/optimizers.py --quick             # smaller data, fewer epochs

The four optimisers of the course (seed 004), with its formulas and its
usual settings, each starting from the same initial weights (same seed)
and seeing the same batches in the same order:

============  ==========================================  ==========
optimiser     update                                      settings
============  ==========================================  ==========
SGD           ``w ← w − η dw``                            η = 0.05
momentum      ``V ← βV + (1−β) dw;  w ← w − η V``          η = 0.05, β = 0.9
RMSProp       ``S ← βS + (1−β) dw²;  w ← w − η dw/√(S+ε)`` η = 0.001, β = 0.9
Adam          both moments, bias-corrected                η = 0.001, β1 = 0.9, β2 = 0.999
============  ==========================================  ==========

Network: ReLU hidden layers (784-128-64-10 on MNIST, 2-64-64-2 on the two
spirals), softmax output, categorical cross-entropy, mini-batches of 64
(spirals: 32).

What to look for: the adaptive methods (RMSProp, Adam) lower the training
loss fastest in the first epochs, because they scale each weight's step by
its own gradient history; Adam ends below plain SGD at equal epochs.  With
the course's momentum formula (an exponentially weighted average, so the
step is η times an *average* gradient) momentum moves at the speed of SGD
with the same η but with less noise; its benefit shows as a smoother curve
rather than a faster one.  (The "velocity" form ``V ← βV + dw``,
``optimizer="sgd_velocity"``, takes steps about 1/(1−β) = 10 times larger.)

``run(quick=True)`` returns the loss curves; ``main`` prints them as a
table and writes ``optimizers_loss.png`` when matplotlib is installed.
"""

import argparse
import os
import sys
import time


from fastmlp import MLP, Dense, datasets
from fastmlp.plot import format_table, plot_history

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import add_plot_args, find_mnist, load_mnist_parts, save_figure

# name -> optimizer dict (fastmlp's names for the course's formulas).
OPTIMIZERS = {
    "SGD": {"kind": "sgd", "lr": 0.05},
    "momentum": {"kind": "momentum_ewma", "lr": 0.05, "momentum": 0.9},
    # fastmlp's rmsprop calls the smoothing constant beta2; the course puts ε
    # inside the square root.
    "RMSProp": {"kind": "rmsprop", "lr": 0.001, "beta2": 0.9, "eps": 1e-8,
                "eps_inside_sqrt": True},
    "Adam": {"kind": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def load(dataset, quick, data=None, seed=0):
    """(X_train, y_train, X_val, y_val, hidden sizes, batch size, description)."""
    if dataset == "mnist":
        X, y, Xv, yv = load_mnist_parts(data, 5_000 if quick else 10_000,
                                        2_000 if quick else 5_000)
        return X, y, Xv, yv, (128, 64), 64, f"MNIST ({len(X)} training images)"
    n = 2_000 if quick else 6_000
    X, y = datasets.make_spirals(n, noise=0.05, seed=seed, n_turns=1.5)
    Xtr, ytr, Xv, yv, _, _ = datasets.train_val_test_split(X, y, (0.75, 0.25, 0.0), seed=seed)
    return Xtr, ytr, Xv, yv, (64, 64), 32, f"two spirals ({len(Xtr)} training points)"


def run(quick=False, dataset="auto", epochs=None, data=None, seed=0, optimizers=None,
        verbose=False):
    """Train the same network once per optimiser.

    Parameters
    ----------
    quick : bool
        Smaller data (spirals: 2,000 points; MNIST: 5,000 images).
    dataset : {"auto", "mnist", "spirals"}
        auto: MNIST when found (``data`` or the usual places), else spirals.
    epochs : int, optional
        Default 10 on MNIST (quick: 5), 60 on the spirals (quick: 40).
    optimizers : dict, optional
        ``{name: optimizer dict}``; default :data:`OPTIMIZERS`.

    Returns
    -------
    dict
        ``loss[name]`` and ``val_loss[name]``: per-epoch lists;
        ``final_loss[name]``; ``val_accuracy[name]``: last epoch's;
        ``time[name]``; ``histories``; ``dataset`` (a description).
    """
    if dataset == "auto":
        dataset = "mnist" if find_mnist(data) else "spirals"
    if dataset not in ("mnist", "spirals"):
        raise ValueError(f"dataset must be 'auto', 'mnist' or 'spirals', got {dataset!r}")
    epochs = epochs or {("mnist", False): 10, ("mnist", True): 5,
                        ("spirals", False): 60, ("spirals", True): 40}[dataset, bool(quick)]
    X, y, Xv, yv, hidden, batch, desc = load(dataset, quick, data, seed)
    n_classes = int(max(y.max(), yv.max())) + 1
    out = {"dataset": desc, "epochs": epochs, "loss": {}, "val_loss": {}, "final_loss": {},
           "val_accuracy": {}, "time": {}, "histories": {}}
    for name, opt in (optimizers or OPTIMIZERS).items():
        model = MLP([Dense(h, "relu") for h in hidden] + [Dense(n_classes, "softmax")],
                    optimizer=opt, seed=seed)
        t0 = time.perf_counter()
        model.fit(X, y, epochs=epochs, batch_size=batch, validation_data=(Xv, yv))
        out["time"][name] = time.perf_counter() - t0
        h = model.history_
        out["loss"][name] = list(h["loss"])
        out["val_loss"][name] = list(h["val_loss"])
        out["final_loss"][name] = h["loss"][-1]
        out["val_accuracy"][name] = h["val_accuracy"][-1]
        out["histories"][name] = h
        if verbose:
            print(f"  {name}: final loss {h['loss'][-1]:.4f}, validation accuracy "
                  f"{h['val_accuracy'][-1]:.3f} ({out['time'][name]:.1f} s)", flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer epochs")
    parser.add_argument("--dataset", choices=("auto", "mnist", "spirals"), default="auto",
                        help="auto (default): MNIST when found, else two spirals")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", metavar="DIR", help="MNIST folder")
    add_plot_args(parser)
    args = parser.parse_args(argv)
    try:
        r = run(quick=args.quick, dataset=args.dataset, epochs=args.epochs, data=args.data,
                seed=args.seed, verbose=True)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    names = list(r["loss"])
    print(f"\nTraining loss per epoch, {r['dataset']}:")
    rows = [{"epoch": e + 1, **{n: r["loss"][n][e] for n in names}} for e in range(r["epochs"])]
    print(format_table(rows))
    print("\nValidation loss per epoch:")
    rows = [{"epoch": e + 1, **{n: r["val_loss"][n][e] for n in names}} for e in range(r["epochs"])]
    print(format_table(rows))
    print()
    print(format_table([{"optimiser": n, "final loss": r["final_loss"][n],
                         "validation accuracy": r["val_accuracy"][n], "seconds": r["time"][n]}
                        for n in names]))
    best = min(names, key=lambda n: r["final_loss"][n])
    print(f"\nLowest final training loss: {best}.")
    if not args.no_plots:
        os.makedirs(args.plots, exist_ok=True)
        save_figure(plot_history, r["histories"], path=os.path.join(args.plots, "optimizers_loss.png"),
                    title=f"Optimisers on {r['dataset']}", log_scale=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
