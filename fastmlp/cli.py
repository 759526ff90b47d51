"""The ``fastmlp`` command: demo, train, predict, info, bench.

::

    fastmlp demo [--quick]                         # a first run, under a minute
    fastmlp train DATA [--target COL] [--hidden 256,128] [--activation relu]
                  [--optimizer adam] [--lr LR] [--epochs 10] [--batch-size 128]
                  [--validation-split 0.1] [--seed 0] [--out model.fmlp]
    fastmlp predict MODEL DATA [--out preds.csv] [--proba]
    fastmlp info MODEL [--json]
    fastmlp bench [--builtin] [--quick] [-- ARGS for bench/run.py]

(also ``python -m fastmlp ...``).  ``DATA`` is one of

- a CSV file: a header row, numeric feature columns and, for ``train``, a
  target column named by ``--target`` (a name, or an index such as -1);
- a NumPy ``.npz`` archive with arrays ``X`` and ``y`` (``--x-key``,
  ``--target`` choose other names); images are flattened;
- an MNIST folder holding the four IDX files, gzipped or raw: ``train``
  uses the training set (and reports the test set's accuracy), ``predict``
  the test set;

the kind is detected from the path (a folder, a ``.npz`` name or a zip
signature, else CSV).

``train`` infers the task from the target: integer or text labels make a
classifier (softmax output, categorical cross-entropy), other numbers a
regression (identity output, squared error); ``--task`` overrides.

Model files are written with the model-file format (docs/FORMAT.md); the
command line adds two metadata keys, which other readers ignore:

``classes``
    a classifier's labels in output order, so that ``predict`` prints
    labels (``"setosa"``, ``7``) rather than output indices;
``training``
    what ``info`` reports: ``task``, ``target``, ``feature_names``, the
    ``data`` it was trained on, sample counts, final ``metrics``,
    ``seconds``, ``date`` and the fastmlp ``version``.

Exit status: 0 on success; 1 when something fails while running (a missing
or unreadable file, an unknown column, malformed data, a corrupt model
file, training that diverged); 2 when the command line itself is wrong (an
unknown option or subcommand, a value of the wrong form such as
``--hidden 25a``, a required option missing), as argparse does.  Errors are
one line on stderr (``fastmlp train: error: ...``), never a traceback;
``fastmlp --debug ...`` shows the traceback.

Standard output carries results (reports, predictions); progress lines go
to standard error.
"""

import argparse
import csv
import datetime
import json
import math
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line cannot work, found after parsing (exit status 2)."""


class CommandError(Exception):
    """The command failed while running (exit status 1)."""


# -- option types (argparse turns their errors into exit status 2) ----------


def _hidden_sizes(text):
    """``"256,128"`` -> (256, 128); ``""`` or ``"none"`` -> () (no hidden layer)."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma-separated list of positive layer sizes "
                f"(e.g. 256,128): {part!r} is not a positive integer")
        sizes.append(int(part))
    return tuple(sizes)


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be >= {low}")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def _float_in(low, high, high_open=True, low_open=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        ok = (value > low if low_open else value >= low) and \
             (high is None or (value < high if high_open else value <= high))
        if not math.isfinite(value) or not ok:
            lo = "(" if low_open else "["
            hi = "∞)" if high is None else (f"{high})" if high_open else f"{high}]")
            raise argparse.ArgumentTypeError(f"{value:g} is not in {lo}{low}, {hi}")
        return value
    return parse


def _enum_name(kind, extra=()):
    """An activation/optimizer name, checked against fastmlp's tables."""
    def parse(text):
        from fastmlp import _enums

        if text in extra:
            return text
        try:
            return _enums.canonical(kind, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


# -- data -------------------------------------------------------------------


def _data_kind(path):
    """"mnist" (a folder), "npz" or "csv"; FileNotFoundError if absent."""
    if os.path.isdir(path):
        return "mnist"
    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such file or folder", path)
    if path.lower().endswith(".npz"):
        return "npz"
    with open(path, "rb") as handle:
        if handle.read(4) == b"PK\x03\x04":
            return "npz"
    return "csv"


def _csv_rows(path):
    """The non-blank rows of a CSV file, cells stripped, with their line
    numbers; DataFormatError naming the file for text that is not CSV."""
    from fastmlp.exceptions import DataFormatError

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            return [(reader.line_num, [cell.strip() for cell in row])
                    for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text: {exc}") from exc
    except csv.Error as exc:
        raise DataFormatError(f"{path}: {exc}") from exc


def _csv_header(path):
    rows = _csv_rows(path)
    return rows[0][1] if rows else []


def _read_numeric_csv(path):
    """(X, column names) of a CSV file whose columns are all numbers."""
    from fastmlp.exceptions import DataFormatError

    rows = _csv_rows(path)
    if not rows:
        raise DataFormatError(f"{path}: empty file; expected a header row")
    header, values = rows[0][1], []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataFormatError(f"{path}: row {line}: expected {len(header)} fields, "
                                  f"found {len(row)}")
        try:
            values.append([float(cell) for cell in row])
        except ValueError:
            j = next(j for j, cell in enumerate(row) if not _is_float(cell))
            raise DataFormatError(f"{path}: column {header[j]!r} row {line}: could not "
                                  f"convert {row[j]!r} to float") from None
    if not values:
        raise DataFormatError(f"{path}: no data rows after the header")
    return np.array(values, dtype=np.float32), header


def _is_float(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_csv(path, target):
    """(X, y, feature_names, target name) with ``target`` a name or an index."""
    from fastmlp.datasets import load_csv

    header = _csv_header(path)
    if target is None:
        raise UsageError(f"{path} is a CSV file: name its target column with --target "
                         f"(columns: {', '.join(header) or 'none'})")
    key = target
    if target not in header:
        try:
            key = int(target)
        except ValueError:
            pass  # load_csv reports the unknown name with the available columns
    X, y, names = load_csv(path, key)
    name = target if target in header else header[int(key) % len(header)] if header else target
    return X, y, names, name


def _feature_matrix(X, where):
    X = np.asarray(X)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    elif X.ndim > 2:
        X = X.reshape(X.shape[0], -1)  # images: one row of pixels each
    if X.dtype.kind not in "fiub":
        raise CommandError(f"{where}: the features must be numbers, got dtype {X.dtype}")
    return X


def _load_training_data(args):
    """{"X", "y", "feature_names", "target", "kind", "path", "test"}."""
    from fastmlp import datasets

    path = args.data
    kind = _data_kind(path)
    data = {"kind": kind, "path": os.path.abspath(path), "test": None,
            "feature_names": None, "target": args.target}
    if kind == "csv":
        X, y, names, target = _load_csv(path, args.target)
        data.update(X=X, y=y, feature_names=names, target=target)
    elif kind == "npz":
        target = args.target or "y"
        X, y = datasets.load_npz(path, args.x_key, target)
        data.update(X=_feature_matrix(X, path), y=y, target=target)
    else:
        X, y = datasets.load_mnist(path, "train")
        data.update(X=X, y=y, target="label")
        try:
            data["test"] = datasets.load_mnist(path, "test")
        except FileNotFoundError:
            pass  # a folder with the training set only
    return data


def _read_csv_features(path, model_names, n_in, target):
    """Feature matrix of a CSV file for ``predict``, and the target column
    when present: columns chosen by the model's feature names when the
    header has them, else all non-target columns in order."""
    from fastmlp.datasets import load_csv
    from fastmlp.exceptions import DataFormatError

    header = _csv_header(path)
    if not header:
        raise DataFormatError(f"{path}: empty file; expected a header row")
    y = None
    if target is not None and target in header:
        X, y, names = load_csv(path, target)
    else:
        X, names = _read_numeric_csv(path)  # features only
    if model_names and all(n in names for n in model_names):
        X = X[:, [names.index(n) for n in model_names]]
    elif model_names:
        missing = [n for n in model_names if n not in names]
        raise CommandError(f"{path}: the model needs the column(s) {', '.join(missing)}; "
                           f"the file has {', '.join(names)}")
    _check_width(X, n_in, path)
    return X, y


def _check_width(X, n_in, path):
    if X.shape[1] != n_in:
        raise CommandError(f"{path}: {X.shape[1]} features per sample, the model expects {n_in}")


def _load_prediction_data(path, meta, n_in, x_key):
    """(X, y or None, description) for ``predict``."""
    from fastmlp import datasets

    training = meta.get("training") or {}
    target = training.get("target")
    kind = _data_kind(path)
    if kind == "csv":
        X, y = _read_csv_features(path, training.get("feature_names"), n_in, target)
        return X, y, f"{path}"
    if kind == "npz":
        X, _ = datasets.load_npz(path, x_key, None)
        X = _feature_matrix(X, path)
        y = None
        try:
            y = datasets.load_npz(path, target or "y", None)[0]
        except ValueError:
            pass  # no target array: predictions only
        if y is not None and y.shape[:1] != X.shape[:1]:
            y = None
        _check_width(X, n_in, path)
        return X, y, path
    for part in ("test", "train"):
        try:
            X, y = datasets.load_mnist(path, part)
        except FileNotFoundError:
            continue
        _check_width(X, n_in, path)
        return X, y, f"{path} ({part} set)"
    raise FileNotFoundError(2, "no MNIST IDX files in this folder", path)


# -- model files --------------------------------------------------------------


def _model_class():
    from fastmlp.model import MLP

    class LabelledMLP(MLP):
        """An MLP whose model file also carries the command line's metadata.

        ``MLP.save`` writes ``self._meta()``; this adds ``cli_meta`` (the
        ``classes`` and ``training`` keys) to it.  Files stay ordinary model
        files: ``fastmlp.load`` reads them and ignores the extra keys.
        """

        cli_meta = None

        def _meta(self):
            meta = super()._meta()
            meta.update(self.cli_meta or {})
            return meta

    return LabelledMLP


def _read_model(path):
    """(model, metadata dict, ModelFile) of a model file."""
    from fastmlp import _format
    from fastmlp.model import load

    try:
        mf = _format.read_model(path)
    except _format.ModelFileError as exc:
        raise CommandError(f"{path}: not a valid fastmlp model file: {exc}") from exc
    return load(path), (mf.meta or {}), mf


def _architecture(n_in, layers):
    parts = [str(n_in)] + [f"{layer['units']} {layer['activation']}" for layer in layers]
    return " → ".join(parts)


# -- output helpers -------------------------------------------------------------


def _fmt(value, spec=".4f"):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _progress(stream, epochs):
    """A ``fit`` callback printing one line per epoch."""
    width = len(str(epochs))

    def callback(model, epoch, logs):
        parts = [f"epoch {epoch + 1:{width}d}/{epochs}", f"loss {logs['loss']:.4f}"]
        if "val_loss" in logs:
            parts.append(f"val_loss {logs['val_loss']:.4f}")
        if "val_accuracy" in logs:
            parts.append(f"val_accuracy {logs['val_accuracy']:.4f}")
        parts.append(f"{logs['time']:.2f} s")
        print("  ".join(parts), file=stream, flush=True)
    return callback


def _backend_words(backend):
    import fastmlp

    if backend == "numpy":
        return "NumPy reference backend"
    return f"C backend ({fastmlp.get_isa()}, {fastmlp.get_num_threads()} threads)"


def _set_threads(args):
    if getattr(args, "threads", None):
        import fastmlp

        fastmlp.set_num_threads(args.threads)


# -- train ------------------------------------------------------------------


def _metrics(model, X, y, task):
    """{"loss", "accuracy"} or {"loss", "rmse", "r2"} of ``model`` on (X, y)."""
    out = model.evaluate(X, y)
    result = {"loss": float(out["loss"])}
    if task == "classify":
        result["accuracy"] = float(out["accuracy"])
    else:
        pred = model.predict(X).astype(np.float64)
        t = np.asarray(y, dtype=np.float64).reshape(pred.shape)
        err = float(np.mean((pred - t) ** 2))
        var = float(np.mean((t - t.mean(axis=0)) ** 2))
        result["rmse"] = math.sqrt(err)
        result["r2"] = 1.0 - err / var if var > 0 else float("nan")
    return result


def _cmd_train(args):
    import fastmlp
    from fastmlp import Dense

    _set_threads(args)
    data = _load_training_data(args)
    X, y = data["X"], np.asarray(data["y"])
    task = args.task
    if task == "auto":
        task = "classify" if y.dtype.kind in "iubUSO" else "regress"
    meta = {"training": {"task": task, "target": data["target"],
                         "feature_names": data["feature_names"],
                         "data": {"kind": data["kind"], "path": data["path"]}}}
    if task == "classify":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise CommandError(f"classification needs one target column; the target has "
                               f"shape {y.shape} (use --task regress for several outputs)")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise CommandError("the target contains NaN or infinity")
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise CommandError(f"the target {data['target']!r} holds a single class "
                               f"({classes[0]!r}): nothing to classify")
        if classes.size > 10_000:
            raise CommandError(f"the target {data['target']!r} has {classes.size} distinct "
                               "values: use --task regress for a numeric target")
        targets, n_out, out_act = codes.astype(np.int64), int(classes.size), "softmax"
        meta["classes"] = classes.tolist()
    else:
        if y.dtype.kind not in "fiub":
            raise CommandError(f"the target {data['target']!r} holds text labels: a "
                               "regression needs numbers (use --task classify)")
        targets = y.astype(np.float64)
        n_out = 1 if targets.ndim == 1 else targets.shape[1]
        out_act = "identity"

    # Validation split: a seeded shuffle (files are often sorted by class).
    n = X.shape[0]
    n_val = round(n * args.validation_split)
    if args.validation_split > 0 and not 1 <= n_val < n:
        raise CommandError(f"--validation-split {args.validation_split} leaves {n - n_val} "
                           f"training and {n_val} validation samples out of {n}")
    order = np.random.default_rng(args.seed).permutation(n) if n_val else np.arange(n)
    tr, va = order[:n - n_val], order[n - n_val:]
    standardize = args.standardize if args.standardize is not None else data["kind"] != "mnist"

    layers = [Dense(h, args.activation, dropout=args.dropout) for h in args.hidden]
    layers.append(Dense(n_out, out_act))
    optimizer = {"kind": args.optimizer}
    if args.lr is not None:
        optimizer["lr"] = args.lr
    model = _model_class()(layers, optimizer=optimizer, l2=args.l2, dtype=args.dtype,
                           seed=args.seed, backend=args.backend, standardize=standardize)
    val = (X[va], targets[va]) if n_val else None
    kind = "classifier" if task == "classify" else "regression"
    print(f"training a {kind} {_architecture(X.shape[1], model.layers)} on "
          f"{len(tr)} samples ({n_val} for validation), {args.epochs} epochs, "
          f"{model.optimizer['kind']} lr {model.optimizer['lr']:g}, "
          f"batch {args.batch_size}, {_backend_words(args.backend)}",
          file=sys.stderr, flush=True)
    callbacks = [] if args.quiet else [_progress(sys.stderr, args.epochs)]
    t0 = time.perf_counter()
    try:
        model.fit(X[tr], targets[tr], epochs=args.epochs, batch_size=args.batch_size,
                  validation_data=val, early_stopping=args.patience > 0,
                  patience=max(args.patience, 1), callbacks=callbacks)
    except KeyboardInterrupt:
        print(f"interrupted after {model.epochs_} epochs; nothing saved", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - t0

    metrics = {"train": _metrics(model, X[tr], targets[tr], task)}
    if n_val:
        metrics["validation"] = _metrics(model, X[va], targets[va], task)
    if data["test"] is not None:
        Xt, yt = data["test"]
        yt = np.searchsorted(classes, yt) if task == "classify" else yt
        if task != "classify" or np.isin(data["test"][1], classes).all():
            metrics["test"] = _metrics(model, _feature_matrix(Xt, data["path"]), yt, task)
    meta["training"].update(
        n_train=len(tr), n_val=int(n_val), epochs=int(model.epochs_),
        early_stopped=bool(model.epochs_ < args.epochs), metrics=metrics,
        seconds=round(seconds, 3), backend=args.backend, batch_size=args.batch_size,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        version=fastmlp.__version__)
    model.cli_meta = meta
    model.save(args.out)

    columns = ["loss", "accuracy"] if task == "classify" else ["loss", "rmse", "r2"]
    print(f"trained {kind} {_architecture(X.shape[1], model.layers)} on {data['path']}")
    print(f"{model.epochs_} epochs in {seconds:.1f} s on the {_backend_words(args.backend)}"
          + ("; stopped early" if model.epochs_ < args.epochs else ""))
    print(f"{'':12s}" + "".join(f"{c:>10s}" for c in columns))
    for part, values in metrics.items():
        print(f"{part:12s}" + "".join(f"{_fmt(values.get(c)):>10s}" for c in columns))
    print(f"saved {args.out} ({os.path.getsize(args.out):,} bytes)")
    return EXIT_OK


# -- predict --------------------------------------------------------------------


def _labels(model, meta, out):
    """Class labels (classifier) or None (regression) for outputs ``out``."""
    classes = meta.get("classes")
    last = model.layers[-1]["activation"]
    if classes is not None:
        if len(classes) != out.shape[1]:
            raise CommandError(f"the model file lists {len(classes)} classes but the model "
                               f"has {out.shape[1]} outputs")
        return [classes[i] for i in out.argmax(axis=1)]
    if last == "softmax":
        return out.argmax(axis=1).tolist()
    if last == "sigmoid" and out.shape[1] == 1:
        return (out[:, 0] > 0.5).astype(int).tolist()
    return None


def _cell(value):
    if isinstance(value, float):
        return format(value, ".7g")
    return str(value)


def _cmd_predict(args):
    _set_threads(args)
    model, meta, _ = _read_model(args.model)
    X, y, where = _load_prediction_data(args.data, meta, model.n_features_in_, args.x_key)
    out = model.predict(X).astype(np.float64)
    labels = _labels(model, meta, out)
    if labels is not None:
        header = ["prediction"]
        rows = [[label] for label in labels]
        if args.proba:
            names = meta.get("classes") or list(range(out.shape[1]))
            if out.shape[1] == 1:  # one sigmoid output: P(class 1)
                names = ["1"]
            header += [f"p_{name}" for name in names]
            rows = [r + p.tolist() for r, p in zip(rows, out)]
    else:
        header = ["prediction"] if out.shape[1] == 1 else [f"prediction_{j}"
                                                         for j in range(out.shape[1])]
        rows = out.tolist()
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([[_cell(v) for v in row] for row in rows])
        print(f"wrote {len(rows)} predictions to {args.out}", file=sys.stderr)
    else:
        if args.proba:
            print(",".join(header))
        for row in rows:
            print(",".join(_cell(v) for v in row))
    if y is not None:
        _report_score(model, meta, labels, out, y, where)
    return EXIT_OK


def _report_score(model, meta, labels, out, y, where):
    y = np.asarray(y)
    if labels is not None and y.ndim == 1:
        truth = y.tolist()
        if meta.get("classes") is None and y.dtype.kind == "f":
            truth = y.astype(np.int64).tolist()
        acc = float(np.mean([a == b for a, b in zip(labels, truth)]))
        print(f"accuracy {acc:.4f} on {len(truth)} samples of {where}", file=sys.stderr)
    elif labels is None and y.dtype.kind in "fiub" and y.size == out.size:
        rmse = math.sqrt(float(np.mean((out.ravel() - y.astype(np.float64).ravel()) ** 2)))
        print(f"rmse {rmse:.6g} on {len(y)} samples of {where}", file=sys.stderr)


# -- info ---------------------------------------------------------------------


def _cmd_info(args):
    model, meta, mf = _read_model(args.model)
    n_params = int(mf.params.size)
    training = meta.get("training") or {}
    classes = meta.get("classes")
    if args.json:
        summary = {"file": args.model, "bytes": os.path.getsize(args.model),
                   "dtype": np.dtype(mf.dtype).name, "n_features": mf.n_in,
                   "layers": mf.layers, "parameters": n_params,
                   "standardized": mf.mean is not None, "metadata": meta}
        print(json.dumps(summary, indent=2, default=str))
        return EXIT_OK
    rows = [("model file", f"{args.model} ({os.path.getsize(args.model):,} bytes)"),
            ("architecture", _architecture(mf.n_in, mf.layers)),
            ("dtype", np.dtype(mf.dtype).name),
            ("parameters", f"{n_params:,}"),
            ("loss", model.loss),
            ("optimizer", _optimizer_words(model.optimizer)),
            ("epochs trained", str(model.epochs_))]
    if model.l2 or model.l1:
        rows.append(("penalties", f"l2 {model.l2:g}, l1 {model.l1:g}"))
    if mf.mean is not None:
        rows.append(("standardisation", (f"yes: (x - mean) / scale for the {mf.n_in} inputs, "
                                         f"from the training data (mean {_span(mf.mean)}, "
                                         f"scale {_span(mf.scale)})")))
    else:
        rows.append(("standardisation", "no"))
    if training.get("task"):
        rows.append(("task", training["task"]))
    if classes is not None:
        shown = ", ".join(map(str, classes[:20])) + (", ..." if len(classes) > 20 else "")
        rows.append(("classes", f"{len(classes)}: {shown}"))
    if training:
        data = training.get("data") or {}
        rows.append(("trained on", (f"{data.get('path', '?')} ({data.get('kind', '?')}), "
                                    f"target {training.get('target')!r}, "
                                    f"{training.get('n_train', '?')} training / "
                                    f"{training.get('n_val', 0)} validation samples")))
        names = training.get("feature_names")
        if names:
            rows.append(("features", ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")))
        for part, values in (training.get("metrics") or {}).items():
            rows.append((f"{part} metrics", ", ".join(f"{k} {_fmt(v)}" for k, v in values.items())))
        rows.append(("training time", (f"{training.get('seconds', '?')} s, batch "
                                       f"{training.get('batch_size', '?')}, "
                                       f"{training.get('backend', '?')} backend, "
                                       f"{training.get('date', '?')}, "
                                       f"fastmlp {training.get('version', '?')}")))
    for key, value in rows:
        print(f"{key + ':':20s}{value}")
    print("layers:")
    print(f"  {'#':>3s}  {'units':>7s}  {'activation':12s}{'init':14s}{'dropout':>8s}  {'params':>10s}")
    n_prev = mf.n_in
    for i, layer in enumerate(mf.layers):
        count = (n_prev + 1) * layer["units"]
        act = layer["activation"] + (f"({layer['act_param']:g})"
                                     if layer["activation"] in ("leaky_relu", "elu") else "")
        print(f"  {i + 1:3d}  {layer['units']:7d}  {act:12s}{layer['init']:14s}"
              f"{layer['dropout']:8g}  {count:10,d}")
        n_prev = layer["units"]
    return EXIT_OK


def _optimizer_words(opt):
    """"adam (lr 0.001, beta1 0.9, ...)": the settings the kind uses."""
    used = [f"lr {opt['lr']:g}"]
    used += [f"{k} {opt[k]:g}" for k in ("momentum", "beta1", "beta2", "eps", "weight_decay")
             if opt.get(k)]
    used += [k for k in ("nesterov", "eps_inside_sqrt") if opt.get(k)]
    return f"{opt['kind']} ({', '.join(used)})"


def _span(values):
    return f"{float(np.min(values)):.3g}..{float(np.max(values)):.3g}"


# -- demo ---------------------------------------------------------------------


def _cmd_demo(args):
    import fastmlp
    from fastmlp import MLP, Dense, datasets

    _set_threads(args)
    quick = args.quick or os.environ.get("FASTMLP_DEMO_QUICK", "") not in ("", "0")
    n = args.samples or (6_000 if quick else 20_000)
    epochs = args.epochs or (8 if quick else 12)
    turns, hidden = (2.0 if quick else 3.0), (256, 256)
    X, y = datasets.make_spirals(n, noise=0.02, seed=args.seed, n_turns=turns)
    Xtr, ytr, Xv, yv, Xt, yt = datasets.train_val_test_split(X, y, (0.8, 0.1, 0.1),
                                                             seed=args.seed)

    def build(backend):
        return MLP([Dense(h, "relu") for h in hidden] + [Dense(2, "softmax")],
                   optimizer={"kind": "adam", "lr": 3e-3}, seed=args.seed, backend=backend)

    out = sys.stdout
    print(f"fastmlp {fastmlp.__version__} demo: two interleaved spirals ({turns:g} turns, "
          f"{n:,} points: {len(Xtr):,} train / {len(Xv):,} validation / {len(Xt):,} test)", file=out)
    print(f"network 2 → {' → '.join(map(str, hidden))} → 2 (ReLU, softmax), Adam lr 0.003, "
          f"batch 64, on the {_backend_words('c')}", file=out, flush=True)
    model = build("c")
    t0 = time.perf_counter()
    model.fit(Xtr, ytr, epochs=epochs, batch_size=64, validation_data=(Xv, yv),
              callbacks=[_progress(out, epochs)])
    train_time = time.perf_counter() - t0
    acc = model.evaluate(Xt, yt)["accuracy"]
    print(f"\ntest accuracy {100 * acc:.1f} % after {epochs} epochs "
          f"({train_time:.1f} s of training, {len(Xtr) * epochs / train_time:,.0f} samples/s)",
          file=out)
    if args.no_compare:
        return EXIT_OK

    print("\nspeed-up over the NumPy reference: the same fresh model, one epoch each on the "
          "same training set", file=out, flush=True)
    times, losses = {}, {}
    for backend in ("c", "numpy"):
        m = build(backend)
        t0 = time.perf_counter()
        m.fit(Xtr, ytr, epochs=1, batch_size=64)
        times[backend] = time.perf_counter() - t0
        losses[backend] = m.history_["loss"][0]
    print(f"  {_backend_words('c'):34s} {times['c']:7.3f} s   loss {losses['c']:.6f}", file=out)
    print(f"  {_backend_words('numpy'):34s} {times['numpy']:7.3f} s   loss {losses['numpy']:.6f}",
          file=out)
    diff = abs(losses["c"] - losses["numpy"]) / max(abs(losses["numpy"]), 1e-30)
    if diff == 0:
        agree = "identical epoch losses: the same computation"
    elif diff < 1e-3:
        agree = f"the epoch losses agree to {diff:.0e} relative: the same computation"
    else:
        agree = f"the epoch losses differ by {diff:.1e} relative"
    print(f"  speed-up {times['numpy'] / times['c']:.1f}x ({agree})", file=out)
    return EXIT_OK


# -- bench --------------------------------------------------------------------


def _source_bench_script():
    """``bench/run.py`` of the source checkout this package runs from, or
    None (an installed package has no checkout around it)."""
    root = pathlib.Path(__file__).resolve().parent.parent
    script = root / "bench" / "run.py"
    try:
        is_checkout = 'name = "fastmlp"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        is_checkout = False
    return script if is_checkout and script.is_file() else None


def _cmd_bench(args):
    _set_threads(args)
    script = None if args.builtin else _source_bench_script()
    extra = [a for a in args.bench_args if a != "--"]
    if script is not None:
        # bench/run.py takes --quick and --threads too: pass them on.
        extra = (["--quick"] if args.quick else []) + (
            ["--threads", str(args.threads)] if args.threads else []) + extra
        print(f"running {script} {' '.join(extra)}".rstrip(), file=sys.stderr, flush=True)
        return subprocess.call([sys.executable, str(script), *extra])
    if extra:
        raise UsageError(f"the built-in benchmark takes no extra arguments: {' '.join(extra)}")
    return _builtin_bench(args.quick)


def _builtin_bench(quick):
    """One epoch of fastmlp (C) and of the NumPy reference on the same
    models and data, a table of the times."""
    from fastmlp import MLP, Dense

    rng = np.random.default_rng(0)
    n = 2_048 if quick else 8_192
    cases = [("784-256-128-10 relu, softmax (MNIST-shaped)", 784, (256, 128), 10, 128),
             ("32-64-64-1 tanh, squared error (small)", 32, (64, 64), 1, 32)]
    print(f"built-in benchmark: one training epoch of {n:,} random samples, Adam; "
          f"fastmlp on the {_backend_words('c')} vs the NumPy reference")
    print(f"{'network':46s}{'batch':>6s}{'C s':>10s}{'NumPy s':>10s}{'speed-up':>10s}"
          f"{'C samples/s':>14s}")
    for name, n_in, hidden, n_out, batch in cases:
        X = rng.random((n, n_in), dtype=np.float32)
        act = "relu" if n_out > 1 else "tanh"
        if n_out > 1:
            y = rng.integers(0, n_out, n)
        else:
            y = np.sin(X.sum(axis=1)).astype(np.float32)
        times = {}
        for backend in ("c", "numpy"):
            model = MLP([Dense(h, act) for h in hidden] +
                        [Dense(n_out, "softmax" if n_out > 1 else "identity")],
                        backend=backend, seed=0)
            model.build(n_in)
            t0 = time.perf_counter()
            model.fit(X, y, epochs=1, batch_size=batch)
            times[backend] = time.perf_counter() - t0
        print(f"{name:46s}{batch:6d}{times['c']:10.3f}{times['numpy']:10.3f}"
              f"{times['numpy'] / times['c']:9.1f}x{n / times['c']:14,.0f}", flush=True)
    return EXIT_OK


# -- the parser ---------------------------------------------------------------


def build_parser():
    """The ``fastmlp`` argument parser (exposed for documentation tools)."""
    from fastmlp import __version__

    parser = argparse.ArgumentParser(
        prog="fastmlp", description="Fast multilayer perceptrons on the CPU.",
        epilog="Exit status: 0 success, 1 runtime error, 2 usage error.")
    parser.add_argument("--version", action="version", version=f"fastmlp {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    threads = argparse.ArgumentParser(add_help=False)
    threads.add_argument("--threads", type=_int_at_least(1), metavar="N",
                         help="threads of the C backend (default: FASTMLP_NUM_THREADS or "
                              "OpenMP's default)")

    p = sub.add_parser("demo", parents=[threads], help="train on generated data, in seconds",
                       description="Train a network on two generated spirals, print its "
                                   "progress and accuracy, and measure the speed-up over the "
                                   "NumPy reference backend.")
    p.add_argument("--quick", action="store_true",
                   help="a smaller run (also: FASTMLP_DEMO_QUICK=1)")
    p.add_argument("--samples", type=_int_at_least(100), metavar="N")
    p.add_argument("--epochs", type=_int_at_least(1), metavar="N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-compare", action="store_true",
                   help="skip the NumPy reference measurement")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("train", parents=[threads], help="train a model on a data file",
                       description="Train an MLP on DATA (CSV, NPZ or an MNIST folder) and "
                                   "save it.  Progress goes to stderr, the report to stdout.")
    p.add_argument("data", metavar="DATA", help="CSV file, .npz archive or MNIST folder")
    p.add_argument("--target", metavar="COL",
                   help="target column of a CSV (name or index); y array of an NPZ (default y)")
    p.add_argument("--x-key", default="X", metavar="KEY", help="feature array of an NPZ (default X)")
    p.add_argument("--task", choices=("auto", "classify", "regress"), default="auto",
                   help="default: classify for integer/text targets, regress for others")
    p.add_argument("--hidden", type=_hidden_sizes, default=(256, 128), metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default 256,128)")
    p.add_argument("--activation", type=_enum_name("activation"), default="relu",
                   help="hidden activation (default relu)")
    p.add_argument("--dropout", type=_float_in(0.0, 1.0), default=0.0, metavar="P",
                   help="dropout probability of the hidden layers (default 0)")
    p.add_argument("--optimizer", type=_enum_name("optimizer"), default="adam",
                   help="sgd, sgd_velocity, momentum_ewma, rmsprop, adam, adamw, "
                        "adam_sklearn (default adam)")
    p.add_argument("--lr", type=_float_in(0.0, None, low_open=True), metavar="LR",
                   help="learning rate (default: the optimiser's, 0.001 for adam)")
    p.add_argument("--l2", type=_float_in(0.0, None), default=0.0, metavar="LAMBDA")
    p.add_argument("--epochs", type=_int_at_least(1), default=10, metavar="N")
    p.add_argument("--batch-size", type=_int_at_least(1), default=128, metavar="N")
    p.add_argument("--validation-split", type=_float_in(0.0, 1.0), default=0.1, metavar="F",
                   help="fraction held out for validation, shuffled with --seed (default 0.1)")
    p.add_argument("--patience", type=_int_at_least(0), default=0, metavar="N",
                   help="early stopping after N epochs without improvement (default 0: off)")
    p.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                   help="standardise inputs with training statistics, stored in the model "
                        "(default: on, except for MNIST folders, whose pixels are in [0, 1])")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--backend", choices=("c", "numpy"), default="c")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="model.fmlp", metavar="FILE",
                   help="model file to write (default model.fmlp)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("predict", parents=[threads], help="predict with a saved model",
                       description="Print (or write) one prediction per sample of DATA: class "
                                   "labels for classifiers, values for regressions.  When DATA "
                                   "holds the target, the accuracy (or RMSE) goes to stderr.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", metavar="FILE", help="write a CSV file instead of printing")
    p.add_argument("--proba", action="store_true", help="add the class probabilities")
    p.add_argument("--x-key", default="X", metavar="KEY", help="feature array of an NPZ")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("info", help="describe a saved model",
                       description="Architecture, dtype, parameter count, training metadata "
                                   "and standardisation of a model file.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("bench", parents=[threads], help="benchmark fastmlp against NumPy",
                       description="Run bench/run.py of a source checkout, or else (or with "
                                   "--builtin) a built-in micro-benchmark: one epoch of "
                                   "fastmlp vs the NumPy reference.")
    p.add_argument("--builtin", action="store_true", help="the built-in benchmark even in a checkout")
    p.add_argument("--quick", action="store_true",
                   help="fewer samples (passed on to bench/run.py)")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, metavar="-- ARGS",
                   help="arguments for bench/run.py")
    p.set_defaults(func=_cmd_bench)
    return parser


def _os_message(exc):
    if exc.filename is not None and exc.strerror:
        return f"{os.fsdecode(exc.filename)}: {exc.strerror}"
    return str(exc)



def main(argv=None):
    """Run the command line; returns the exit status (0, 1 or 2).

    ``argv`` defaults to ``sys.argv[1:]``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    prog = f"fastmlp {args.command}"
    try:
        return args.func(args)
    except UsageError as exc:
        if args.debug:
            raise
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError, TypeError, FloatingPointError,
            MemoryError) as exc:
        if args.debug:
            raise
        if isinstance(exc, OSError):
            message = _os_message(exc)
        elif isinstance(exc, MemoryError):
            message = "not enough memory"
        else:
            message = str(exc)
        print(f"{prog}: error: {message}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
