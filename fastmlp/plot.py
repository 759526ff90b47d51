"""Figures of training runs, and the text tables that stand in for them.

- :func:`plot_history`: loss and validation loss per epoch (one run, or
  several runs on one set of axes for comparisons such as optimisers).
- :func:`plot_gradients`: each layer's mean absolute gradient per epoch on
  a log scale (the vanishing-gradient measurement of ``MLP.history_``).
- :func:`history_table`, :func:`gradient_table`, :func:`format_table`:
  the same numbers as plain-text tables, for scripts running without
  matplotlib and for terminals.

matplotlib is optional (the ``plot`` extra): it is imported only when a
figure is drawn, and a missing matplotlib raises an ImportError that says
how to install it.  Figures are drawn on a standalone
:class:`matplotlib.figure.Figure` with the Agg canvas, so plotting never
opens a window nor changes pyplot's global state or backend.

A *history* is an ``MLP.history_`` dict (``epoch``, ``loss``,
``val_loss``, ``grad_w``, ``grad_b``, … one entry per epoch), or anything
with a ``history_`` attribute holding one (a fitted :class:`fastmlp.MLP`).
Where several runs are compared, pass a dict ``{label: history}``.
"""

import math
import os
from numbers import Real

import numpy as np

__all__ = ["format_table", "gradient_table", "history_table", "plot_gradients",
           "plot_history"]

_INSTALL_HINT = ("fastmlp.plot needs matplotlib, which is not installed: "
                 "pip install 'fastmlp[plot]' (or pip install matplotlib)")


def _figure(n_panels=1, width=6.4, height=4.2):
    """A pyplot-free Figure with ``n_panels`` side-by-side axes."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    fig = Figure(figsize=(width * n_panels if n_panels > 1 else width, height),
                 layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


# -- histories ---------------------------------------------------------------


def _as_history(obj, what="history"):
    """The history dict of ``obj`` (a history dict or a fitted model)."""
    history = getattr(obj, "history_", obj)
    if not isinstance(history, dict) or "loss" not in history:
        raise TypeError(f"{what} must be an MLP.history_ dict (with a 'loss' list) or a "
                        f"fitted model, got {type(obj).__name__}")
    return history


def _as_runs(history):
    """``[(label, history_dict), ...]``: one unlabelled run or several."""
    if hasattr(history, "history_") or (isinstance(history, dict) and "loss" in history):
        return [(None, _as_history(history))]
    if isinstance(history, dict) and history:
        return [(str(label), _as_history(h, f"history[{label!r}]"))
                for label, h in history.items()]
    raise TypeError("history must be an MLP.history_ dict, a fitted model, or a "
                    f"non-empty dict {{label: history}}, got {type(history).__name__}")


def _epochs(history, key="loss"):
    n = len(history[key])
    epochs = history.get("epoch") or list(range(n))
    return [int(e) + 1 for e in epochs[:n]]  # 1-based, as printed while training


def _finite(values):
    """Values as floats, NaN for missing ones (matplotlib leaves a gap)."""
    return [float(v) if isinstance(v, Real) and math.isfinite(v) else math.nan
            for v in values]


def _integer_epochs(ax):
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(fig, path):
    path = os.fspath(path)
    fig.savefig(path, dpi=110)
    return path


def plot_history(history, path, *, title=None, log_scale=False):
    """Draw the training loss and, when present, the validation loss per epoch.

    Parameters
    ----------
    history : dict, fitted model, or dict {label: history}
        One run (``model.history_`` or the model), or several runs to
        compare, drawn in one colour each (training loss solid, validation
        loss dashed).
    path : str or path-like
        Where to write the figure; the format follows the extension
        (``.png`` usually).
    title : str, optional
    log_scale : bool, default False
        Logarithmic loss axis (useful when runs differ by decades).

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'fastmlp[plot]'``).
    TypeError
        If ``history`` is not a history, a fitted model or a dict of them.

    Examples
    --------
    >>> plot_history(model.history_, "loss.png")                # doctest: +SKIP
    >>> plot_history({"sgd": sgd_model, "adam": adam_model}, "opt.png")  # doctest: +SKIP
    """
    runs = _as_runs(history)
    many = len(runs) > 2
    fig, (ax,) = _figure(width=9.0 if many else 6.4)
    for i, (label, h) in enumerate(runs):
        colour = f"C{i % 10}"
        prefix = f"{label}: " if label is not None else ""
        dots = len(h["loss"]) <= 30  # markers only while they stay readable
        ax.plot(_epochs(h), _finite(h["loss"]), "-", color=colour, marker="o" if dots else None,
                markersize=3, label=f"{prefix}training loss")
        val = _finite(h.get("val_loss", []))
        if any(math.isfinite(v) for v in val):
            ax.plot(_epochs(h, "val_loss"), val, "--", color=colour,
                    marker="s" if dots else None, markersize=3,
                    label=f"{prefix}validation loss")
    _integer_epochs(ax)
    ax.set_ylabel("loss")
    if log_scale:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if many:  # beside the axes, not over the curves
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    else:
        ax.legend(fontsize="small")
    ax.set_title(title or "Loss per epoch")
    return _save(fig, path)


def _layer_grads(history, which):
    key = {"b": "grad_b", "w": "grad_w"}.get(which)
    if key is None:
        raise ValueError(f"which must be 'b' (biases) or 'w' (weights), got {which!r}")
    rows = history.get(key) or []
    if not rows:
        raise ValueError(f"the history has no {key!r} entries (train the model first)")
    return key, np.array([np.asarray(r, dtype=float) for r in rows])


def plot_gradients(history, path, *, which="b", include_output=False, title=None):
    """Draw each layer's mean absolute gradient per epoch, on a log scale.

    The course's vanishing-gradient measurement: with saturating
    activations the layers nearest the input get the smallest gradients
    and so learn slowest.

    Parameters
    ----------
    history : dict, fitted model, or dict {label: history}
        One run, or several (e.g. 2, 3 and 4 hidden layers), each drawn in
        its own panel with a shared y axis so that the panels compare.
    path : str or path-like
        Where to write the figure.
    which : {"b", "w"}, default "b"
        Bias gradients (``grad_b``, the course's measure) or weight
        gradients (``grad_w``).
    include_output : bool, default False
        Also draw the output layer (hidden layers only by default).
    title : str, optional

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install 'fastmlp[plot]'``).
    ValueError
        If the history holds no gradients or ``which`` is invalid.
    """
    runs = _as_runs(history)
    grads = [(label, *_layer_grads(h, which), _epochs(h)) for label, h in runs]
    fig, axes = _figure(len(runs), width=4.6 if len(runs) > 1 else 6.4)
    for ax, (label, key, g, epochs) in zip(axes, grads):
        n_layers = g.shape[1] if include_output else g.shape[1] - 1
        for l in range(max(n_layers, 1)):
            values = np.where(g[:, l] > 0, g[:, l], np.nan)  # log axis: no zeros
            name = "output layer" if l == g.shape[1] - 1 else f"hidden layer {l + 1}"
            ax.plot(epochs[:len(values)], values, marker="o", markersize=3, label=name)
        ax.set_yscale("log")
        _integer_epochs(ax)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        if label is not None:
            ax.set_title(label)
    axes[0].set_ylabel(f"mean |∂L/∂{'b' if which == 'b' else 'W'}|")
    if len(axes) > 1:
        lows = [ax.get_ylim()[0] for ax in axes]
        highs = [ax.get_ylim()[1] for ax in axes]
        for ax in axes:
            ax.set_ylim(min(lows), max(highs))
    fig.suptitle(title or f"Mean absolute {'bias' if which == 'b' else 'weight'} "
                          "gradient per layer")
    return _save(fig, path)


# -- text tables -------------------------------------------------------------


def _cell(value, floatfmt):
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "nan"
        return format(float(value), floatfmt)
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_cell(v, floatfmt) for v in value) + (",)" if len(value) == 1 else ")")
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v, floatfmt)}" for k, v in value.items())
    return str(value)


def format_table(rows, columns=None, *, floatfmt=".4g", headers=None):
    """Rows of dicts as an aligned plain-text table.

    Parameters
    ----------
    rows : sequence of dict
    columns : sequence of str, optional
        Keys to show, in order; default the keys of all rows in first-seen
        order.  A key missing from a row shows as ``-``.
    floatfmt : str, default ".4g"
        Format of floats (``format(value, floatfmt)``).
    headers : dict, optional
        Display names for some columns.

    Returns
    -------
    str
        The table, numbers right-aligned, text left-aligned, no trailing
        newline.

    Examples
    --------
    >>> print(format_table([{"layers": 2, "grad": 0.0025}, {"layers": 3, "grad": 9e-05}]))
    layers    grad
    ------  ------
         2  0.0025
         3   9e-05
    """
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns += [k for k in row if k not in columns]
    headers = headers or {}
    names = [str(headers.get(c, c)) for c in columns]
    cells = [[_cell(row.get(c), floatfmt) for c in columns] for row in rows]
    numeric = [all(isinstance(row.get(c), (Real, np.number)) or row.get(c) is None
                   for row in rows) for c in columns]
    widths = [max([len(n)] + [len(r[j]) for r in cells]) for j, n in enumerate(names)]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [line(names), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def history_table(history, columns=("loss", "val_loss", "val_accuracy", "time"),
                  *, floatfmt=".4g"):
    """One line per epoch of a training history, as text.

    Columns whose values are all missing (NaN), such as ``val_loss``
    without validation data, are left out.

    Parameters
    ----------
    history : dict or fitted model
    columns : sequence of str
        History keys to show after the epoch number.

    Returns
    -------
    str
    """
    h = _as_history(history)
    epochs = _epochs(h)
    keep = [c for c in columns if any(math.isfinite(v) for v in _finite(h.get(c, [])))]
    rows = [{"epoch": e, **{c: h[c][i] for c in keep}} for i, e in enumerate(epochs)]
    return format_table(rows, ["epoch"] + keep, floatfmt=floatfmt)


def gradient_table(history, *, which="b", include_output=False, floatfmt=".2e"):
    """Each layer's mean absolute gradient per epoch (``grad_b`` or
    ``grad_w``), one line per epoch, as text.

    Returns
    -------
    str
    """
    h = _as_history(history)
    _, g = _layer_grads(h, which)
    n = g.shape[1] if include_output else max(g.shape[1] - 1, 1)
    names = [f"layer {l + 1}" if l < g.shape[1] - 1 else "output" for l in range(n)]
    rows = [{"epoch": e, **{names[l]: float(g[i, l]) for l in range(n)}}
            for i, e in enumerate(_epochs(h, f"grad_{which}"))]
    return format_table(rows, ["epoch"] + names, floatfmt=floatfmt)
