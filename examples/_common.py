"""Helpers shared by the example scripts: finding MNIST, optional figures.

Not part of the fastmlp package: the examples import it as a sibling
module (``python examples/NAME.py`` puts this folder on ``sys.path``).
"""

import os
import pathlib

HERE = pathlib.Path(__file__).resolve().parent

# Where the examples look for the four MNIST IDX files, in order, after an
# explicit --data and the FASTMLP_MNIST environment variable: a data/ folder
# in the checkout, then the project's shared data folder beside it.
MNIST_CANDIDATES = (HERE.parent / "data" / "mnist", HERE.parent.parent / "shared" / "data" / "mnist")


def find_mnist(path=None):
    """The MNIST folder to use, or None when none holds the files."""
    candidates = [path] if path else []
    if os.environ.get("FASTMLP_MNIST"):
        candidates.append(os.environ["FASTMLP_MNIST"])
    candidates += [str(c) for c in MNIST_CANDIDATES] if not path else []
    for folder in candidates:
        folder = pathlib.Path(folder)
        if any((folder / f"train-images-idx3-ubyte{ext}").is_file() for ext in (".gz", "")):
            return str(folder)
    return None


MNIST_HELP = ("MNIST not found: pass --data DIR (a folder with train-images-idx3-ubyte.gz, "
              "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
              "t10k-labels-idx1-ubyte.gz) or set FASTMLP_MNIST")


def load_mnist_parts(path=None, n_train=None, n_test=None):
    """(X_train, y_train, X_test, y_test) from the MNIST folder, the first
    ``n_train`` / ``n_test`` samples of each set; FileNotFoundError with
    MNIST_HELP when the data is absent."""
    from fastmlp import datasets

    folder = find_mnist(path)
    if folder is None:
        raise FileNotFoundError(MNIST_HELP)
    X, y = datasets.load_mnist(folder, "train")
    Xt, yt = datasets.load_mnist(folder, "test")
    return X[:n_train], y[:n_train], Xt[:n_test], yt[:n_test]


def save_figure(draw, *args, path, **kwargs):
    """Call a fastmlp.plot function; print where the figure went, or why
    there is none (matplotlib missing: the printed tables stand in)."""
    try:
        draw(*args, path, **kwargs)
    except ImportError as exc:
        print(f"(no figure {os.path.basename(str(path))}: {exc}; the tables above hold the numbers)")
        return None
    print(f"wrote {path}")
    return str(path)


def add_plot_args(parser):
    parser.add_argument("--plots", metavar="DIR", default=".",
                        help="folder for the PNG figures (default: current folder)")
    parser.add_argument("--no-plots", action="store_true", help="print tables only")
