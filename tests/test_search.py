"""fastmlp.search: grid and random search, joblib processes, a Dask cluster.

What is proved: the grid is complete and ordered; random search is
reproducible from its seed and samples distributions in range; scores,
ranks and the best candidate are consistent; failures are reported per
candidate; fixed and searched fit parameters reach ``fit``; and models
trained in other processes (joblib workers, Dask workers on a loopback
LocalCluster) come back bit-identical to a local refit.
"""

import math

import numpy as np
import pytest

from fastmlp import MLP, Dense, datasets, search


@pytest.fixture(scope="module")
def moons():
    X, y = datasets.make_moons(400, noise=0.25, seed=0)
    return X[:300], y[:300], X[300:], y[300:]


def test_grid_search_tries_every_combination_and_ranks_them(moons):
    r = search.grid_search({"epochs": 15}, {"hidden": [(8,), (32,)], "lr": [1e-3, 1e-2]},
                           *moons)
    assert [(row["hidden"], row["lr"]) for row in r.results_] == [
        ((8,), 1e-3), ((8,), 1e-2), ((32,), 1e-3), ((32,), 1e-2)]
    scores = [row["score"] for row in r.results_]
    assert r.best_score_ == max(scores)
    assert r.results_[r.best_index_]["rank"] == 1
    assert sorted(row["rank"] for row in r.results_) == sorted(
        1 + sum(t > s for t in scores) for s in scores)
    for row in r.results_:  # classification: the score is the validation accuracy
        assert row["score"] == row["val_accuracy"]
        assert row["epochs_run"] == 15
    best = r.best_model_
    assert isinstance(best, MLP)
    acc = np.mean(best.predict(moons[2]).argmax(axis=1) == moons[3])
    assert acc == pytest.approx(r.best_score_)
    table = r.format_table()
    assert table.splitlines()[0].split()[:4] == ["rank", "hidden", "lr", "score"]
    assert len(table.splitlines()) == 2 + 4


def test_list_of_grids_and_regression_scoring():
    X, y = datasets.make_regression(300, n_features=3, noise=0.05, seed=1)
    r = search.GridSearch({"epochs": 10, "lr": 0.01},
                          [{"hidden": [(16,)]}, {"hidden": [(16, 16)], "l2": [0.0, 0.1]}]
                          ).fit(X[:200], y[:200], X[200:], y[200:])
    assert len(r.results_) == 3
    for row in r.results_:  # regression: minus the validation loss
        assert row["score"] == -row["val_loss"]
        assert "val_accuracy" not in row
    assert r.results_[0]["l2"] is None  # a parameter the first grid lacks


def test_random_search_is_reproducible_and_respects_the_distributions(moons):
    space = {"lr": search.LogUniform(1e-4, 1e-1), "hidden": [(8,), (16,)],
             "epochs": search.RandInt(3, 6), "dropout": search.Uniform(0.0, 0.3)}
    a = search.random_search(None, space, *moons, n_iter=5, seed=3)
    b = search.random_search(None, space, *moons, n_iter=5, seed=3)
    c = search.random_search(None, space, *moons, n_iter=5, seed=4)
    params = [row["params"] for row in a.results_]
    assert params == [row["params"] for row in b.results_]
    assert params != [row["params"] for row in c.results_]
    assert [row["score"] for row in a.results_] == [row["score"] for row in b.results_]
    for p in params:
        assert 1e-4 <= p["lr"] <= 1e-1 and 3 <= p["epochs"] <= 6
        assert 0.0 <= p["dropout"] <= 0.3 and p["hidden"] in [(8,), (16,)]
    assert [row["epochs_run"] for row in a.results_] == [p["epochs"] for p in params]


def test_random_search_over_lists_samples_without_replacement(moons):
    grid = {"hidden": [(4,), (8,), (16,)], "lr": [1e-3, 1e-2], "epochs": [2]}
    r = search.random_search(None, grid, *moons, n_iter=4, seed=0)
    combos = [(p["hidden"], p["lr"]) for p in (row["params"] for row in r.results_)]
    assert len(set(combos)) == 4
    with pytest.warns(UserWarning, match="each is tried once"):
        r = search.random_search(None, grid, *moons, n_iter=50, seed=0)
    assert len(r.results_) == 6


def test_failures_are_reported_per_candidate_or_raised(moons):
    def build(width):
        if width == 0:
            raise ValueError("width must be positive")
        return MLP([Dense(width, "relu"), Dense(2, "softmax")], seed=0)

    r = search.grid_search(build, {"width": [0, 8]}, *moons, fit_params={"epochs": 3})
    bad, _ = r.results_
    assert math.isnan(bad["score"]) and "width must be positive" in bad["error"]
    assert bad["rank"] == 2 and r.best_params_ == {"width": 8}
    assert r.models_[0] is None and r.best_model_ is r.models_[1]
    assert "error" in r.format_table()
    with pytest.raises(ValueError, match="width must be positive"):
        search.grid_search(build, {"width": [0, 8]}, *moons, error_score="raise")
    with pytest.raises(RuntimeError, match="every candidate failed"):
        search.grid_search(build, {"width": [0]}, *moons)


def test_callable_scoring_and_sklearn_like_models():
    X = np.zeros((10, 1))
    y = np.array([1] * 7 + [0] * 3)
    data = (X, y, X, y)

    class Majority:  # a minimal estimator with fit/score, no evaluate
        def __init__(self, bias=0):
            self.bias = bias

        def fit(self, X, y):
            self.label_ = int(np.bincount(y).argmax()) ^ self.bias
            return self

        def score(self, X, y):
            return float(np.mean(y == self.label_))

    r = search.grid_search(Majority, {"bias": [0, 1]}, *data)  # scored by model.score
    assert r.best_params_ == {"bias": 0} and r.best_score_ == 0.7
    r = search.grid_search(Majority, {"bias": [0, 1]}, *data,
                           scoring=lambda m, X, y: -float(np.mean(y == m.label_)))
    assert r.best_params_ == {"bias": 1} and r.best_score_ == pytest.approx(-0.3)


def test_invalid_arguments(moons):
    with pytest.raises(ValueError, match="is empty"):
        search.grid_search(None, {"lr": []}, *moons)
    with pytest.raises(TypeError, match="list of values"):
        search.grid_search(None, {"lr": 0.1}, *moons)
    with pytest.raises(ValueError, match="n_iter"):
        search.random_search(None, {"lr": [0.1]}, *moons, n_iter=0)
    with pytest.raises(ValueError, match="scoring"):
        search.grid_search(None, {"epochs": [1]}, *moons, scoring="f1", error_score="raise")
    with pytest.raises(ValueError, match="LogUniform"):
        search.LogUniform(0, 1)
    with pytest.raises(TypeError, match="build_fn_or_params"):
        search.grid_search(42, {"lr": [0.1]}, *moons)


def _refit(params, fixed, X, y):
    model = search.build_mlp(**search._output_settings(y), **params)
    return model.fit(X, y, **fixed)


def test_joblib_processes_return_models_intact(moons):
    pytest.importorskip("joblib", reason="joblib is not installed (pip install joblib)")
    grid = {"hidden": [(8,), (16,)], "lr": [0.003, 0.03]}
    r = search.grid_search({"epochs": 5, "batch_size": 16}, grid, *moons, n_jobs=2)
    serial = search.grid_search({"epochs": 5, "batch_size": 16}, grid, *moons, n_jobs=1)
    assert [row["score"] for row in r.results_] == [row["score"] for row in serial.results_]
    X_all = np.concatenate([moons[0], moons[2]])
    for row, model in zip(r.results_, r.models_):
        local = _refit(row["params"], {"epochs": 5, "batch_size": 16}, moons[0], moons[1])
        np.testing.assert_array_equal(model.predict(X_all), local.predict(X_all))
        assert model.history_["loss"] == local.history_["loss"]


@pytest.fixture(scope="module")
def dask_client():
    """A two-process Dask cluster on the loopback address, closed afterwards.

    Needs the ``distributed`` extra (pip install 'fastmlp[distributed]');
    skipped only when dask/distributed cannot be imported."""
    pytest.importorskip("dask", reason="dask is not installed: pip install 'fastmlp[distributed]'")
    distributed = pytest.importorskip(
        "distributed", reason="distributed is not installed: pip install 'fastmlp[distributed]'")
    pytest.importorskip("joblib", reason="joblib is not installed")
    cluster = client = None
    try:
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                           host="127.0.0.1", dashboard_address=None,
                                           worker_dashboard_address=None)
        client = distributed.Client(cluster, timeout="60s")
        client.wait_for_workers(2, timeout=60)
        yield client
    finally:
        if client is not None:
            client.close(timeout=30)
        if cluster is not None:
            cluster.close(timeout=30)


def test_dask_cluster_search_returns_models_intact(moons, dask_client):
    grid = {"hidden": [(8,), (16, 8)], "lr": [0.003, 0.03]}
    fixed = {"epochs": 6, "batch_size": 16, "seed": 1}
    from distributed import get_task_stream

    with get_task_stream(client=dask_client) as stream:
        r = search.grid_search(fixed, grid, *moons, backend="dask")
    assert len(r.results_) == 4
    # The candidates ran as tasks on the cluster's worker processes.
    workers = set(dask_client.scheduler_info()["workers"])
    ran_on = {task["worker"] for task in stream.data}
    assert len(stream.data) >= 4 and ran_on and ran_on <= workers
    X_all = np.concatenate([moons[0], moons[2]])
    for row, model in zip(r.results_, r.models_):
        build = {k: v for k, v in {**fixed, **row["params"]}.items()
                 if k not in search.FIT_PARAMS}
        local = _refit(build, {"epochs": 6, "batch_size": 16}, moons[0], moons[1])
        np.testing.assert_array_equal(model.predict(X_all), local.predict(X_all))
        assert model.evaluate(*moons[2:])["accuracy"] == row["val_accuracy"]
    local_best = search.grid_search(fixed, grid, *moons)
    assert r.best_params_ == local_best.best_params_
    assert r.best_score_ == local_best.best_score_


def test_dask_through_joblib_context(moons, dask_client):
    import joblib

    with joblib.parallel_backend("dask"):
        r = search.random_search({"epochs": 3}, {"lr": search.LogUniform(1e-3, 1e-1)},
                                 *moons, n_iter=3, seed=0, n_jobs=-1)
    local = search.random_search({"epochs": 3}, {"lr": search.LogUniform(1e-3, 1e-1)},
                                 *moons, n_iter=3, seed=0)
    assert [row["score"] for row in r.results_] == [row["score"] for row in local.results_]
    np.testing.assert_array_equal(r.best_model_.predict(moons[2]),
                                  local.best_model_.predict(moons[2]))


def test_dask_backend_without_a_client_says_so(moons, monkeypatch):
    distributed = pytest.importorskip("distributed", reason="distributed is not installed")
    pytest.importorskip("joblib", reason="joblib is not installed")

    def no_client(*args, **kwargs):
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "get_client", no_client)
    with pytest.raises(RuntimeError, match="dask.distributed.Client"):
        search.grid_search({"epochs": 1}, {"lr": [0.01]}, *moons, backend="dask")
