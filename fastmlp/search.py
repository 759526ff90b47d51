"""Hyper-parameter search without scikit-learn: grid and random search.

The course's search methods (seed 004) over a parameter dictionary, each
candidate trained on a training set and scored on a validation set (the
test set stays untouched for the final estimate)::

    from fastmlp import search

    result = search.grid_search(
        {"epochs": 20},                                   # fixed settings
        {"hidden": [(64,), (128, 64)], "lr": [1e-3, 1e-2]},
        X_train, y_train, X_val, y_val, n_jobs=2)
    print(result.format_table())
    result.best_params_, result.best_score_, result.best_model_

    search.random_search(build_fn, {"lr": search.LogUniform(1e-5, 10), ...},
                         X_train, y_train, X_val, y_val, n_iter=20, seed=0)

What is searched
    ``build_fn_or_params`` is either a callable ``build_fn(**params)``
    returning an unfitted model with ``fit(X, y, **fit_params)`` (an
    :class:`fastmlp.MLP`, a :class:`fastmlp.MLPClassifier`, any
    scikit-learn-like estimator), or a dict of fixed settings for the
    built-in :func:`build_mlp` (``None`` for its defaults), which builds an
    MLP whose output layer suits ``y_train``.  Parameters named in
    :data:`FIT_PARAMS` (``epochs``, ``batch_size``, ``early_stopping``, …),
    searched or fixed, go to ``fit``; the others go to the builder.

Scores
    Greater is better.  ``scoring=None`` uses the validation accuracy for
    classifiers (cross-entropy losses) and minus the validation loss
    otherwise (``model.evaluate``), or ``model.score`` for models without
    ``evaluate``; ``"accuracy"``, ``"neg_loss"`` or a callable
    ``scoring(model, X_val, y_val) -> float`` choose.  A candidate whose
    training fails (a diverging learning rate) gets ``error_score`` (NaN by
    default) and its error in the table, unless ``error_score="raise"``.

Parallelism
    ``n_jobs`` candidates train at once in worker processes through joblib
    when it is installed (``n_jobs=-1``: one per core), sequentially
    otherwise.  ``backend="dask"`` runs them on the Dask cluster of the
    current ``dask.distributed.Client`` (the ``distributed`` extra installs
    joblib, dask and distributed); so does a surrounding
    ``with joblib.parallel_backend("dask"):``.  The data are scattered to
    the workers once.  Models travel back to this process by pickling, and
    an MLP pickles through its model-file bytes (weights, standardisation
    and configuration, bit for bit), so ``best_model_`` predicts exactly
    as it did on its worker.  Each candidate's result depends only on its
    parameters and seed, never on where it ran.
"""

import itertools
import math
import numbers
import time
import warnings
from collections.abc import Mapping

import numpy as np

__all__ = ["FIT_PARAMS", "GridSearch", "LogUniform", "RandInt", "RandomSearch",
           "SearchResult", "Uniform", "build_mlp", "grid_search", "random_search"]

# Candidate parameters passed to ``fit`` rather than to the builder.
FIT_PARAMS = frozenset({"epochs", "batch_size", "shuffle", "early_stopping", "patience",
                        "min_delta", "tol", "restore_best_weights", "validation_split"})


# -- distributions for random search ---------------------------------------------


class _Distribution:
    """Base of the samplers: ``rvs(random_state)`` as in scipy.stats, so
    they also work with scikit-learn's RandomizedSearchCV."""

    def rvs(self, random_state=None):
        return self._draw(np.random.default_rng(random_state))

    def __repr__(self):
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"


class LogUniform(_Distribution):
    """A float drawn uniformly on a log scale in [low, high] (learning rates:
    the course's 1e-5 … 10)."""

    def __init__(self, low, high):
        if not (isinstance(low, numbers.Real) and isinstance(high, numbers.Real)
                and 0 < low < high and math.isfinite(high)):
            raise ValueError(f"LogUniform needs 0 < low < high, got {low!r}, {high!r}")
        self.low, self.high = float(low), float(high)

    def _draw(self, rng):
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


class Uniform(_Distribution):
    """A float drawn uniformly in [low, high]."""

    def __init__(self, low, high):
        if not (isinstance(low, numbers.Real) and isinstance(high, numbers.Real)
                and low < high and math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"Uniform needs finite low < high, got {low!r}, {high!r}")
        self.low, self.high = float(low), float(high)

    def _draw(self, rng):
        return float(rng.uniform(self.low, self.high))


class RandInt(_Distribution):
    """An integer drawn uniformly in [low, high] (both included)."""

    def __init__(self, low, high):
        if not (isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)
                and low <= high):
            raise ValueError(f"RandInt needs integers low <= high, got {low!r}, {high!r}")
        self.low, self.high = int(low), int(high)

    def _draw(self, rng):
        return int(rng.integers(self.low, self.high + 1))


# -- the built-in model ----------------------------------------------------------


def build_mlp(n_outputs=1, task="regress", hidden=(64,), activation="relu", dropout=0.0,
              optimizer="adam", lr=None, l2=0.0, l1=0.0, seed=0, standardize=False,
              dtype="float32", backend="c"):
    """An unfitted :class:`fastmlp.MLP` from flat, searchable settings.

    Parameters
    ----------
    n_outputs : int
        Output units (the number of classes for ``task="classify"``).
    task : {"classify", "regress"}
        Softmax output and categorical cross-entropy, or identity output
        and squared error.  (The searches fill ``n_outputs`` and ``task``
        in from ``y_train``.)
    hidden : int or tuple of int
        Hidden layer sizes.
    activation, dropout :
        Of every hidden layer.
    optimizer, lr :
        Optimiser name and learning rate (None: the optimiser's default).
    l2, l1, seed, standardize, dtype, backend :
        As for :class:`fastmlp.MLP`.

    Returns
    -------
    fastmlp.MLP
    """
    from fastmlp import MLP, Dense

    if isinstance(hidden, numbers.Integral):
        hidden = (int(hidden),)
    if task not in ("classify", "regress"):
        raise ValueError(f"task must be 'classify' or 'regress', got {task!r}")
    out = Dense(int(n_outputs), "softmax" if task == "classify" else "identity")
    layers = [Dense(int(h), activation, dropout=dropout) for h in hidden] + [out]
    opt = {"kind": optimizer} if isinstance(optimizer, str) else dict(optimizer)
    if lr is not None:
        opt["lr"] = lr
    return MLP(layers, optimizer=opt, l2=l2, l1=l1, seed=seed, standardize=standardize,
               dtype=dtype, backend=backend)


def _output_settings(y):
    """``{"task", "n_outputs"}`` for build_mlp from the training targets:
    integer labels 0..k−1 → k-class classifier, anything else regression."""
    y = np.asarray(y)
    if y.ndim == 1 and y.dtype.kind in "iub":
        if y.size and y.min() < 0:
            raise ValueError("class labels must be 0..k-1 integers for the built-in MLP")
        return {"task": "classify", "n_outputs": int(y.max()) + 1 if y.size else 1}
    return {"task": "regress", "n_outputs": 1 if y.ndim == 1 else int(y.shape[1])}


class _MLPBuilder:
    """A picklable ``build_fn`` for build_mlp with fixed settings."""

    def __init__(self, fixed):
        self.fixed = dict(fixed)

    def __call__(self, **params):
        return build_mlp(**{**self.fixed, **params})


# -- parameter spaces --------------------------------------------------------------


def _as_spaces(space, what):
    """A parameter dict or list of dicts -> list of dicts, checked."""
    spaces = [space] if isinstance(space, Mapping) else list(space)
    if not spaces:
        raise ValueError(f"{what} is empty")
    for s in spaces:
        if not isinstance(s, Mapping):
            raise TypeError(f"{what} must be a dict or a list of dicts, got {type(s).__name__}")
        for key, values in s.items():
            if not isinstance(key, str):
                raise TypeError(f"{what}: parameter names must be strings, got {key!r}")
            if not hasattr(values, "rvs") and (isinstance(values, (str, bytes))
                                               or not hasattr(values, "__iter__")):
                raise TypeError(f"{what}[{key!r}] must be a list of values (or, for random "
                                f"search, a distribution), got {values!r}")
            if not hasattr(values, "rvs") and len(list(values)) == 0:
                raise ValueError(f"{what}[{key!r}] is empty")
    return spaces


def _grid(spaces):
    """Every combination, in order (sklearn's ParameterGrid order per dict)."""
    out = []
    for s in spaces:
        keys = sorted(s)
        for values in itertools.product(*(list(s[k]) for k in keys)):
            out.append(dict(zip(keys, values)))
    return out


def _sample(spaces, n_iter, seed):
    """``n_iter`` candidates: without replacement from the grid when every
    entry is a list, else independent draws (distributions via ``rvs``)."""
    rng = np.random.default_rng(seed)
    if all(not hasattr(v, "rvs") for s in spaces for v in s.values()):
        grid = _grid(spaces)
        if n_iter >= len(grid):
            if n_iter > len(grid):
                warnings.warn(f"n_iter={n_iter} exceeds the {len(grid)} combinations: "
                              "each is tried once", UserWarning, stacklevel=3)
            return grid
        return [grid[i] for i in sorted(rng.choice(len(grid), n_iter, replace=False))]
    out = []
    for _ in range(n_iter):
        s = spaces[int(rng.integers(len(spaces)))]
        params = {}
        for key in sorted(s):
            values = s[key]
            if hasattr(values, "rvs"):
                params[key] = values.rvs(random_state=rng)
            else:
                values = list(values)
                params[key] = values[int(rng.integers(len(values)))]
        out.append(params)
    return out


# -- one candidate (runs in a worker) ------------------------------------------------


def _evaluate(model, scoring, X_val, y_val):
    """(score, extra columns) of a fitted model on the validation set."""
    extra = {}
    if hasattr(model, "evaluate"):
        ev = model.evaluate(X_val, y_val)
        extra["val_loss"] = float(ev["loss"])
        if "accuracy" in ev:
            extra["val_accuracy"] = float(ev["accuracy"])
    if callable(scoring):
        return float(scoring(model, X_val, y_val)), extra
    if scoring is None:
        if "val_accuracy" in extra:
            return extra["val_accuracy"], extra
        if "val_loss" in extra:
            return -extra["val_loss"], extra
        if hasattr(model, "score"):
            return float(model.score(X_val, y_val)), extra
        raise TypeError(f"cannot score a {type(model).__name__}: it has neither evaluate "
                        "nor score; pass scoring=callable(model, X_val, y_val)")
    if scoring == "accuracy":
        if "val_accuracy" in extra:
            return extra["val_accuracy"], extra
        pred = np.asarray(model.predict(X_val))
        if pred.ndim == 2 and pred.shape[1] > 1:
            pred = pred.argmax(axis=1)
        return float(np.mean(pred.ravel() == np.asarray(y_val).ravel())), extra
    if scoring == "neg_loss":
        if "val_loss" not in extra:
            raise TypeError(f"scoring='neg_loss' needs a model with evaluate(), got "
                            f"{type(model).__name__}")
        return -extra["val_loss"], extra
    raise ValueError(f"scoring must be None, 'accuracy', 'neg_loss' or a callable, got {scoring!r}")


def _fit_candidate(index, build_fn, params, fixed_fit, X_train, y_train, X_val, y_val,
                   scoring, error_score, fit_keys, return_model):
    """Build, fit and score one candidate: (index, row, model or None)."""
    build_params = {k: v for k, v in params.items() if k not in fit_keys}
    fit_params = {**fixed_fit, **{k: v for k, v in params.items() if k in fit_keys}}
    row = {"params": dict(params)}
    t0 = time.perf_counter()
    try:
        model = build_fn(**build_params)
        model.fit(X_train, y_train, **fit_params)
        row["fit_time"] = time.perf_counter() - t0
        row["score"], extra = _evaluate(model, scoring, X_val, y_val)
        row.update(extra)
        history = getattr(model, "history_", None)
        if isinstance(history, dict) and history.get("loss"):
            row["train_loss"] = float(history["loss"][-1])
            row["epochs_run"] = len(history["loss"])
    except Exception as exc:
        if isinstance(error_score, str) and error_score == "raise":
            raise
        row.update(score=float(error_score), fit_time=time.perf_counter() - t0,
                   error=f"{type(exc).__name__}: {exc}")
        return index, row, None
    return index, row, (model if return_model else None)


# -- running them -------------------------------------------------------------------


def _dask_client():
    try:
        from distributed import get_client
    except ImportError as exc:
        raise ImportError("backend='dask' needs dask and distributed: "
                          "pip install 'fastmlp[distributed]'") from exc
    try:
        return get_client()
    except ValueError as exc:
        raise RuntimeError("backend='dask' runs on the current dask.distributed.Client: "
                           "create one first, e.g. Client('tcp://scheduler:8786') or "
                           "Client(LocalCluster())") from exc


def _run(tasks, data, n_jobs, backend, verbose):
    """Results of ``_fit_candidate`` for every task, in order."""
    try:
        import joblib
    except ImportError:
        joblib = None
    if joblib is None:
        if backend is not None or n_jobs not in (None, 1):
            if backend == "dask":
                raise ImportError("backend='dask' needs joblib, dask and distributed: "
                                  "pip install 'fastmlp[distributed]'")
            warnings.warn("joblib is not installed: the candidates run one after the "
                          "other (pip install joblib for n_jobs)", UserWarning, stacklevel=3)
        return [_fit_candidate(*t[:4], *data, *t[4:]) for t in tasks]

    calls = (joblib.delayed(_fit_candidate)(*t[:4], *data, *t[4:]) for t in tasks)
    if backend == "dask":
        _dask_client()
        # Scatter the arrays once instead of shipping them with every task.
        with joblib.parallel_backend("dask", scatter=list(data)):
            return joblib.Parallel(n_jobs=-1 if n_jobs is None else n_jobs,
                                   verbose=verbose)(calls)
    return joblib.Parallel(n_jobs=n_jobs, backend=backend, verbose=verbose)(calls)


def _rank(scores):
    """1 = best (highest); NaN scores last; ties share the better rank."""
    key = [(-s if not math.isnan(s) else math.inf) for s in scores]
    order = sorted(range(len(scores)), key=lambda i: key[i])
    ranks = [0] * len(scores)
    for pos, i in enumerate(order):
        ranks[i] = ranks[order[pos - 1]] if pos and key[i] == key[order[pos - 1]] else pos + 1
    return ranks


class SearchResult:
    """What a search found.

    Attributes
    ----------
    results_ : list of dict
        One row per candidate, in the order tried: ``rank`` (1 = best),
        ``params``, the parameters again as their own keys, ``score``,
        ``val_loss`` and ``val_accuracy`` (for fastmlp models),
        ``train_loss``, ``epochs_run``, ``fit_time`` (seconds) and, for a
        failed candidate, ``error``.
    best_index_ : int
    best_params_ : dict
    best_score_ : float
    best_model_ : fitted model
        The best candidate as trained on its worker (None if
        ``return_models=False``).
    models_ : list
        Every candidate's fitted model (None for failures), when
        ``return_models=True``.
    param_names_ : list of str
    search_time_ : float
        Seconds for the whole search.
    """

    def __init__(self, rows, models, param_names, search_time):
        ranks = _rank([r["score"] for r in rows])
        self.results_ = []
        for r, rank in zip(rows, ranks):
            row = {"rank": rank, **{k: r["params"].get(k) for k in param_names}}
            row.update({k: v for k, v in r.items()})
            self.results_.append(row)
        self.param_names_ = list(param_names)
        self.models_ = models
        ok = [i for i, r in enumerate(rows) if not math.isnan(r["score"])]
        if not ok:
            errors = "; ".join(sorted({r.get("error", "?") for r in rows}))
            raise RuntimeError(f"every candidate failed: {errors}")
        self.best_index_ = min(ok, key=lambda i: ranks[i])
        self.best_params_ = dict(rows[self.best_index_]["params"])
        self.best_score_ = rows[self.best_index_]["score"]
        self.best_model_ = models[self.best_index_] if models else None
        self.search_time_ = search_time

    def format_table(self, sort=True, floatfmt=".4g"):
        """The results as an aligned text table, best first (``sort``)."""
        from fastmlp.plot import format_table

        rows = sorted(self.results_, key=lambda r: r["rank"]) if sort else self.results_
        columns = ["rank", *self.param_names_, "score"]
        columns += [c for c in ("val_loss", "val_accuracy", "train_loss", "epochs_run", "fit_time",
                                "error") if any(c in r for r in rows)]
        return format_table(rows, columns, floatfmt=floatfmt)

    def __repr__(self):
        return (f"SearchResult({len(self.results_)} candidates, best_score_="
                f"{self.best_score_:.4g}, best_params_={self.best_params_!r})")


class _Search:
    def __init__(self, build_fn_or_params=None, *, scoring=None, n_jobs=None, backend=None,
                 error_score=np.nan, fit_params=None, fit_keys=FIT_PARAMS, return_models=True,
                 verbose=0):
        self.build_fn_or_params = build_fn_or_params
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.backend = backend
        self.error_score = error_score
        self.fit_params = fit_params
        self.fit_keys = fit_keys
        self.return_models = return_models
        self.verbose = verbose

    def _candidates(self):
        raise NotImplementedError

    def fit(self, X_train, y_train, X_val, y_val):
        """Train and score every candidate.

        Parameters
        ----------
        X_train, y_train : array-like
            Training data of every candidate.
        X_val, y_val : array-like
            Validation data that score them.

        Returns
        -------
        SearchResult
            Also stored as ``self.result_``.
        """
        if not (isinstance(self.error_score, numbers.Real) or self.error_score == "raise"):
            raise ValueError(f"error_score must be a number or 'raise', got {self.error_score!r}")
        X_train, X_val = np.asarray(X_train), np.asarray(X_val)
        y_train, y_val = np.asarray(y_train), np.asarray(y_val)
        if len(X_train) != len(y_train) or len(X_val) != len(y_val):
            raise ValueError(f"X and y differ in length: train {len(X_train)} vs "
                             f"{len(y_train)}, validation {len(X_val)} vs {len(y_val)}")
        spec = self.build_fn_or_params
        keys = frozenset(self.fit_keys)
        fixed_fit = {}
        if callable(spec):
            build_fn = spec
        elif spec is None or isinstance(spec, Mapping):
            spec = dict(spec or {})
            fixed_fit = {k: spec.pop(k) for k in list(spec) if k in keys}
            build_fn = _MLPBuilder({**_output_settings(y_train), **spec})
        else:
            raise TypeError("build_fn_or_params must be a callable build_fn(**params), a dict "
                            f"of build_mlp settings or None, got {type(spec).__name__}")
        candidates = self._candidates()
        fixed_fit.update(self.fit_params or {})
        names = []
        for c in candidates:
            names += [k for k in c if k not in names]
        tasks = [(i, build_fn, c, fixed_fit, self.scoring, self.error_score, keys,
                  self.return_models) for i, c in enumerate(candidates)]
        t0 = time.perf_counter()
        out = sorted(_run(tasks, (X_train, y_train, X_val, y_val), self.n_jobs, self.backend,
                          self.verbose), key=lambda r: r[0])
        self.result_ = SearchResult([r for _, r, _ in out],
                                    [m for _, _, m in out] if self.return_models else None,
                                    names, time.perf_counter() - t0)
        return self.result_


class GridSearch(_Search):
    """Every combination of a parameter grid, scored on validation data.

    Parameters
    ----------
    build_fn_or_params : callable, dict or None
        ``build_fn(**params)`` returning an unfitted model, or fixed
        :func:`build_mlp` settings (see the module docstring).
    param_grid : dict or list of dict
        ``{name: [values]}``; a list of dicts searches several grids.
    scoring : None, "accuracy", "neg_loss" or callable
        Greater is better.
    n_jobs : int, optional
        Candidates trained at once (joblib; -1: all cores).
    backend : str, optional
        A joblib backend name; ``"dask"`` for the current Dask cluster.
    error_score : float or "raise", default NaN
        Score of a candidate whose training fails.
    fit_params : dict, optional
        Fixed arguments of every ``fit`` call (e.g. ``{"epochs": 20}``);
        a candidate's own value of the same name wins.
    fit_keys : set of str, default FIT_PARAMS
        Candidate parameters that go to ``fit`` instead of the builder.
    return_models : bool, default True
        Bring every fitted model back (``models_``); False keeps only the
        table (the best model is then not available either).
    verbose : int
        joblib's progress messages.

    Examples
    --------
    >>> from fastmlp import datasets
    >>> X, y = datasets.make_moons(300, noise=0.2, seed=0)
    >>> r = GridSearch({"epochs": 30}, {"hidden": [(8,), (32,)], "lr": [0.01]}).fit(
    ...     X[:200], y[:200], X[200:], y[200:])
    >>> len(r.results_), sorted(r.best_params_)
    (2, ['hidden', 'lr'])
    """

    def __init__(self, build_fn_or_params, param_grid, **kwargs):
        super().__init__(build_fn_or_params, **kwargs)
        self.param_grid = param_grid

    def _candidates(self):
        return _grid(_as_spaces(self.param_grid, "param_grid"))


class RandomSearch(_Search):
    """``n_iter`` random candidates from lists and distributions.

    Parameters
    ----------
    build_fn_or_params : callable, dict or None
        As for :class:`GridSearch`.
    param_distributions : dict or list of dict
        ``{name: [values] or distribution}``; a distribution is anything
        with ``rvs(random_state=...)`` (:class:`LogUniform`,
        :class:`Uniform`, :class:`RandInt`, scipy.stats).  When every entry
        is a list the candidates are drawn without replacement.
    n_iter : int, default 10
    seed : int, default 0
        Seeds the draws (same seed, same candidates).
    **kwargs
        As for :class:`GridSearch`.
    """

    def __init__(self, build_fn_or_params, param_distributions, n_iter=10, seed=0, **kwargs):
        super().__init__(build_fn_or_params, **kwargs)
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.seed = seed

    def _candidates(self):
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, numbers.Integral) \
                or self.n_iter < 1:
            raise ValueError(f"n_iter must be an integer >= 1, got {self.n_iter!r}")
        return _sample(_as_spaces(self.param_distributions, "param_distributions"),
                       int(self.n_iter), self.seed)


def grid_search(build_fn_or_params, param_grid, X_train, y_train, X_val, y_val, **kwargs):
    """Grid search in one call: ``GridSearch(...).fit(...)``.

    Returns
    -------
    SearchResult
        ``results_``, ``best_params_``, ``best_score_``, ``best_model_``,
        ``format_table()``.
    """
    return GridSearch(build_fn_or_params, param_grid, **kwargs).fit(X_train, y_train,
                                                                    X_val, y_val)


def random_search(build_fn_or_params, param_distributions, X_train, y_train, X_val, y_val,
                  n_iter=10, seed=0, **kwargs):
    """Random search in one call: ``RandomSearch(...).fit(...)``.

    Returns
    -------
    SearchResult
    """
    return RandomSearch(build_fn_or_params, param_distributions, n_iter=n_iter, seed=seed,
                        **kwargs).fit(X_train, y_train, X_val, y_val)
