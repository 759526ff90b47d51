"""Threads, memory, interrupts and absurd requests.

What this proves:
- two models trained at the same time in two threads end with exactly the
  weights they get one after the other; many threads predicting with one
  model get the sequential answers; predicting (or fitting) a model while
  it trains is refused with a clear RuntimeError, and the training is
  unharmed;
- 1,000 cycles of create/fit/predict/save/load/delete keep resident memory
  flat; an absurd size (10**12 units, a batch bigger than the address
  space) is refused with MemoryError or ValueError at once, before anything
  large is allocated;
- Ctrl-C during a long fit stops it within a fraction of an epoch, raises
  KeyboardInterrupt and leaves a usable model with the weights reached.

The last section keeps the bugs fuzzing once found as regression tests.
"""

import _thread
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np

import fastmlp
import pytest
from conftest import ROOT

from fastmlp import MLP, Dense, _core

# Child interpreters import the fastmlp under test (installed, or built in
# place) and start in a neutral folder: from a source checkout's root, its
# uncompiled fastmlp/ would come first on sys.path.
FASTMLP_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [FASTMLP_PARENT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
    OMP_WAIT_POLICY="passive")
NEUTRAL_CWD = tempfile.gettempdir()


def run_python(code, timeout=120, **kwargs):
    """Run code in a fresh interpreter; returns the CompletedProcess."""
    kwargs.setdefault("cwd", NEUTRAL_CWD)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=ENV, **kwargs)


def problem(seed, n=3000, f=24):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(np.float32)
    return X, y


def model(seed):
    return MLP([Dense(64, "relu", dropout=0.1), Dense(32, "tanh"), Dense(1, "sigmoid")],
               optimizer={"kind": "adam", "lr": 1e-3}, seed=seed, standardize=True)


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------


def run_threads(targets):
    """Start all targets together; re-raise the first exception."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(fn):
        def go():
            barrier.wait()
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        return go

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors:
        raise errors[0]


def test_two_models_trained_at_once_match_one_after_the_other():
    data = [problem(1), problem(2)]
    alone = [model(s).fit(*data[s - 1], epochs=4, batch_size=64) for s in (1, 2)]
    together = [model(1), model(2)]
    run_threads([lambda: together[0].fit(*data[0], epochs=4, batch_size=64),
                 lambda: together[1].fit(*data[1], epochs=4, batch_size=64)])
    for a, b in zip(alone, together):
        assert np.array_equal(a.net_.params, b.net_.params)
        assert a.history_["loss"] == b.history_["loss"]


def test_many_threads_predict_with_one_model():
    X, y = problem(3)
    m = model(3).fit(X, y, epochs=1, batch_size=128)
    inputs = [problem(10 + k, n=257 + k)[0] for k in range(6)]
    want = [m.predict(x) for x in inputs]
    bad = []

    def worker(k):
        def go():
            for _ in range(30):
                if not np.array_equal(m.predict(inputs[k]), want[k]):
                    bad.append(k)
        return go

    run_threads([worker(k) for k in range(6)])
    assert not bad


def test_predict_while_fitting_is_refused_and_training_unharmed():
    X, y = problem(4, n=20000)
    m = model(4)
    m.fit(X, y, epochs=1, batch_size=32)
    reference = model(4)
    reference.fit(X, y, epochs=1, batch_size=32).fit(X, y, epochs=3, batch_size=32)

    answers = {"refused": 0, "answered": 0}
    done = threading.Event()

    def fit():
        try:
            m.fit(X, y, epochs=3, batch_size=32)
        finally:
            done.set()

    def poke():
        while not done.is_set():
            try:
                m.predict(X[:5])
                answers["answered"] += 1
            except RuntimeError as exc:
                assert "being trained" in str(exc)
                answers["refused"] += 1
            time.sleep(0.001)

    run_threads([fit, poke])
    assert answers["refused"] > 0, answers
    # the refused calls changed nothing: same weights as training alone
    assert np.array_equal(m.net_.params, reference.net_.params)
    assert np.array_equal(m.predict(X[:5]), reference.predict(X[:5]))


def test_fit_started_during_a_predict_waits_for_it_instead_of_failing():
    # The predict reads the weights with the GIL released for about a second;
    # a fit that starts meanwhile must neither fail nor change the weights
    # under it: it starts once the predict is done.
    # (Net.predict: MLP.predict's standardisation would run before the C
    # reader starts, and a fit may then legitimately finish first.)
    X, y = problem(4, n=2000)
    m = model(4).fit(X, y, epochs=1, batch_size=32)
    Xt = np.ascontiguousarray(m._transform(X))
    big = np.ascontiguousarray(np.tile(Xt, (1500, 1)))  # 3M rows
    before = m.net_.predict(Xt)
    times, out = {}, {}

    def predict():
        times["predict_start"] = time.perf_counter()
        out["predict"] = m.net_.predict(big)
        times["predict_end"] = time.perf_counter()

    def fit():
        time.sleep(0.05)
        times["fit_start"] = time.perf_counter()
        m.fit(X, y, epochs=1, batch_size=32)
        times["fit_end"] = time.perf_counter()

    run_threads([predict, fit])
    assert times["predict_start"] < times["fit_start"] < times["predict_end"], times
    assert times["fit_end"] > times["predict_end"]
    # every predicted row came from the weights before the fit
    assert np.array_equal(out["predict"][:2000], before)
    assert np.array_equal(out["predict"][-2000:], before)
    assert m.epochs_ == 2


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------

CYCLES = """
    import os, tempfile, numpy as np
    from fastmlp import MLP, Dense, load, _core, _format

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    # tmpfs if there is one: the writers fsync, which costs ms on a disk
    folder = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)

    def cycle(i):
        m = MLP([Dense(8, "tanh", dropout=0.1), Dense(1, "sigmoid")], seed=i,
                standardize=True).fit(X, y, epochs=1, batch_size=16)
        m.predict(X)
        m.save(folder + "/py.fmlp")                    # Python writer
        m.net_.save(folder + "/c.fmlp", m.mean_, m.scale_)  # C writer
        load(folder + "/c.fmlp").predict(X)           # Python reader
        net, *_ = _core.Net.load(folder + "/py.fmlp")  # C reader
        _core.Net.from_bytes(m.to_bytes())[0].predict(X)
        try:
            _core.Net.from_bytes(m.to_bytes()[:-1])    # refused files leak nothing
        except ValueError:
            pass
        del m, net

    for i in range(100):
        cycle(i)
    before = rss()
    for i in range(1000):
        cycle(i)
    print(rss() - before)
"""


def test_thousand_cycles_keep_resident_memory_flat():
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc/self/statm (Linux)")
    out = run_python(CYCLES, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    growth = int(out.stdout.split()[-1])
    assert growth < 30 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB"


@pytest.mark.parametrize("layers", [
    [Dense(10**12), Dense(1)],
    [Dense(10**9), Dense(10**9), Dense(1)],
    [Dense(2**62), Dense(1)],
], ids=["1e12-units", "1e9x1e9", "2^62-units"])
def test_absurd_layer_is_refused_at_once(layers):
    X, y = problem(5, n=8, f=10)
    t0 = time.perf_counter()
    with pytest.raises((MemoryError, ValueError)):
        MLP(layers).fit(X, y, epochs=1)
    assert time.perf_counter() - t0 < 2.0


def test_absurd_batch_is_refused_at_once():
    m = model(6).fit(*problem(6, n=64, f=4), epochs=1)
    # 2**45 rows of 4 float32: 512 TiB, more than any address space; a
    # zero-stride view costs nothing to make
    huge = np.broadcast_to(np.float32(0.5), (2**45, 4))
    t0 = time.perf_counter()
    for call in (lambda: m.predict(huge),
                 lambda: m.fit(huge, np.broadcast_to(np.float32(0), (2**45,))),
                 lambda: m.net_.predict(huge)):
        with pytest.raises((MemoryError, ValueError)):
            call()
    assert time.perf_counter() - t0 < 2.0
    # a batch size far beyond the data is just the whole data
    m.fit(*problem(6, n=64, f=4), epochs=1, batch_size=10**12)


# ---------------------------------------------------------------------------
# Interrupts
# ---------------------------------------------------------------------------

LONG_FIT = """
    import json, sys, time, numpy as np
    from fastmlp import MLP, Dense
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60000, 64)).astype(np.float32)
    y = (X[:, :4].sum(axis=1) > 0).astype(np.float32)
    m = MLP([Dense(256, "relu"), Dense(1, "sigmoid")], seed=0)
    m.fit(X[:256], y[:256], epochs=1)              # built and warm
    times = []
    def timer(model, epoch, logs):
        times.append(logs["time"])
        print("epoch", logs["time"], flush=True)
    before = m.net_.params.copy()
    print("fitting", flush=True)
    try:
        m.fit(X, y, epochs=1000, batch_size=128, callbacks=[timer])
        print(json.dumps({"interrupted": False}), flush=True)
    except KeyboardInterrupt:
        stopped = time.monotonic()
        out = m.predict(X[:100])
        m.fit(X[:256], y[:256], epochs=1)          # still trainable
        print(json.dumps({
            "interrupted": True, "stopped": stopped, "epochs": m.epochs_ - 1,
            "epoch_times": times, "finite": bool(np.isfinite(out).all()),
            "moved": bool((m.net_.params != before).any())}), flush=True)
"""


def test_ctrl_c_stops_a_long_fit_within_an_epoch():
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(LONG_FIT)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=NEUTRAL_CWD)
    try:
        assert proc.stdout.readline().strip() == "fitting"
        first = float(proc.stdout.readline().split()[1])  # one epoch done, its duration
        time.sleep(first / 2)                              # now inside the next one
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["interrupted"], err[-2000:]
    latency = result["stopped"] - sent  # CLOCK_MONOTONIC is system-wide
    epoch = min(result["epoch_times"])
    assert latency < max(0.5 * epoch, 0.25), (latency, epoch)
    assert result["finite"] and result["moved"]


def test_interrupt_keeps_the_weights_reached():
    X, y = problem(7, n=40000, f=32)
    m = model(7).fit(X, y, epochs=1, batch_size=64)
    start = m.net_.params.copy()
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            m.fit(X, y, epochs=500, batch_size=64)
    finally:
        timer.cancel()
    assert time.perf_counter() - t0 < 10
    assert not np.array_equal(m.net_.params, start)   # progress was kept
    assert np.isfinite(m.net_.params).all()
    assert m.predict(X[:3]).shape == (3, 1)
    m.fit(X[:100], y[:100], epochs=1)                  # and training goes on


# ---------------------------------------------------------------------------
# Regressions: bugs fuzzing once found
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda X, y: MLP([Dense(2**63), Dense(1)]).fit(X, y),
    lambda X, y: MLP([Dense(4), Dense(1)]).fit(X, y, batch_size=2**64),
    lambda X, y: MLP([Dense(4), Dense(1)], seed=float("inf")).fit(X, y),
    lambda X, y: _core.optim_step({"kind": "sgd"}, float("inf"), np.ones(3), np.ones(3)),
], ids=["units-2^63", "batch_size-2^64", "seed-inf", "optim_step-t-inf"])
def test_out_of_range_integers_raise_value_error(call):
    X, y = problem(8, n=8, f=2)
    with pytest.raises((ValueError, MemoryError)):
        call(X, y)


def test_layer_dict_without_units_is_a_value_error():
    with pytest.raises(ValueError):
        MLP([{}]).fit([[0.0]], [0.0])


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_AS")
def test_gzip_idx_header_cannot_make_the_loader_allocate(tmp_path):
    path = tmp_path / "bomb.idx.gz"
    # 64 bytes of file announce 2 GiB of uint8 (within the default max_bytes)
    path.write_bytes(gzip.compress(b"\0\0\x08\x02" + struct.pack(">ii", 2**16, 2**15) + b"\0",
                                   mtime=0))
    code = f"""
        import resource
        from fastmlp import datasets
        from fastmlp.exceptions import DataFormatError
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB of address space
        try:
            datasets.load_idx({str(path)!r})
        except DataFormatError as exc:
            print("DataFormatError")
        except MemoryError:
            print("MemoryError")
    """
    out = run_python(code, timeout=60)
    assert out.stdout.strip() == "DataFormatError", out.stdout + out.stderr[-2000:]


def test_network_larger_than_physical_memory_is_refused_before_allocating():
    # 2^31 inputs × 16 units of float32 = 128 GiB of weights: more than any
    # test machine has; refused by size, never touched (no OOM kill).
    with pytest.raises(MemoryError):
        _core.Net(np.float32, 2**31, [{"units": 16}])


def test_a_second_concurrent_fit_of_one_model_is_refused():
    X, y = problem(8, n=20_000, f=64)
    m = MLP([Dense(64), Dense(1)], optimizer={"kind": "sgd", "lr": 1e-3})
    m.fit(X[:10], y[:10], epochs=1)
    errors = []
    worker = threading.Thread(target=lambda: m.fit(X, y, epochs=3, batch_size=8))
    worker.start()
    while worker.is_alive() and not getattr(m, "_fitting", False):
        time.sleep(0.001)  # until the worker's fit has begun
    while worker.is_alive() and not errors:
        try:
            m.fit(X[:10], y[:10], epochs=1)
        except RuntimeError as exc:
            errors.append(str(exc))
    worker.join()
    assert errors and "already being fitted" in errors[0]
