#!/usr/bin/env python3
"""The fastmlp benchmark suite (issue 4): workloads W1-W6 in one table.

Usage::

    python bench/run.py [--quick] [--check] [--repeat N] [--only W2,W4]
                        [--threads T] [--json out.json] [--markdown out.md]

Every number in the table is the median of ``--repeat`` timed repetitions
taken after one untimed warm-up, and every ratio divides two medians taken
in the same run (the contenders of a workload are interleaved repetition by
repetition, so a burst of load on a shared machine hits all of them).  The
header names the CPU, the ISA path fastmlp dispatched to, the thread count
and the versions of everything measured.  A column whose package is missing
reads "n/a (torch not installed)".

Workloads (float32; ``--threads`` threads, 2 by default, unless said):

W1  products: every product of one W2 training step at batch 128 (forward
    X·W, backward Xᵀ·dZ and dZ·Wᵀ) and squares 512/1024/2048; fastmlp's
    ``_core.gemm`` vs ``np.matmul`` on the same operands, 1 and T threads.
W2  MNIST-sized training: 60000×784, 784-256-128-10 ReLU/softmax,
    cross-entropy, Adam, batch 128, one epoch: fastmlp, the NumPy
    reference backend, the GEMM floor (OpenBLAS doing only the epoch's
    products), PyTorch eager, scikit-learn ``MLPClassifier``.
W3  small tabular training: 50000×32, 32-64-64-1 tanh, squared error,
    Adam, batch 32, one epoch; same columns.
W4  inference: ``predict`` of the W2 network on 1 sample (per call, over
    many calls) and on 1000 samples; vs the NumPy reference, a hand-written
    NumPy chain of matmuls and PyTorch.
W5  scaling: W2 with N = 7500/15000/30000/60000 (time per sample); 1 vs T
    threads on W2 and W3; W3-like networks of width 16…512 at 1 and T
    threads (the "no cliff" sweep).
W6  memory: peak RSS (``ru_maxrss``) of a child process that fits W2 for one
    epoch, minus the input array's size; also the RSS after the imports.

``--check`` exits with status 1 listing every target of the issue that the
run missed.  ``--quick`` shrinks every size so the suite takes about a
minute (a smoke test, not a measurement).
"""

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_DIR = os.path.join(os.path.dirname(ROOT), "shared", "data", "mnist")
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")
MIB = 1 << 20

# Thread control of NumPy's BLAS: threadpoolctl when importable (it does not
# import NumPy).  Without it the BLAS reads its thread count from the
# environment once, at load time, so it is set here, before NumPy loads, and
# 1-thread BLAS timings come from a child process with the variables at 1.
try:
    import threadpoolctl
except ImportError:  # pragma: no cover - depends on the environment
    threadpoolctl = None
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS")


def _early_threads(argv):
    """The --threads value, read before argparse (and before NumPy loads)."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "2"


if threadpoolctl is None:
    for _var in _BLAS_ENV:
        os.environ.setdefault(_var, _early_threads(sys.argv[1:]))

import numpy as np  # after the BLAS environment is set

try:
    import fastmlp
except ImportError:  # running from a source tree that is not installed
    sys.path.insert(0, ROOT)
    import fastmlp
from fastmlp import _core
from fastmlp.model import MLP, Dense


def _optional(name):
    """(module, None) or (None, "n/a (name not installed)")."""
    try:
        return __import__(name), None
    except ImportError:
        return None, f"n/a ({name} not installed)"


# ---------------------------------------------------------------------------
# Sizes: one table for the full run and one for --quick
# ---------------------------------------------------------------------------

FULL = {
    "w1_squares": (512, 1024, 2048),
    "w2_n": 60000,
    "w3_n": 50000,
    "w4_calls_1": 20000,
    "w4_calls_1000": 50,
    "w5_ns": (7500, 15000, 30000, 60000),
    "w5_widths": (16, 32, 64, 128, 256, 512),
    "w5_sweep_n": 10000,
    "w6_n": 60000,
    "repeat": 5,
}
QUICK = {
    "w1_squares": (256, 512),
    "w2_n": 6000,
    "w3_n": 5000,
    "w4_calls_1": 500,
    "w4_calls_1000": 5,
    "w5_ns": (750, 1500, 3000, 6000),
    "w5_widths": (16, 64, 256),
    "w5_sweep_n": 1000,
    "w6_n": 6000,
    "repeat": 3,
}

W2_LAYERS = ((256, "relu"), (128, "relu"), (10, "softmax"))
W2_BATCH = 128
W3_LAYERS = ((64, "tanh"), (64, "tanh"), (1, "identity"))
W3_BATCH = 32
W3_FEATURES = 32


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------

class Contender:
    """One column of a workload: ``fn()`` timed ``inner`` times per
    repetition (the time reported is per call); ``setup()`` runs untimed
    before each repetition (thread counts, fresh estimators)."""

    def __init__(self, name, fn, inner=1, setup=None, threads=None, lib="fastmlp"):
        self.name, self.fn, self.inner = name, fn, max(1, int(inner))
        self.setup, self.threads, self.lib = setup, threads, lib
        self.times = []

    @property
    def median(self):
        return statistics.median(self.times) if self.times else None


def _settle(seconds, poll_s=0.01, cap_s=1.0):
    """Let the previous library's idle worker threads stop spinning before
    the next contender is timed: sleep ``seconds``, then until the process
    burns less than a tenth of a poll's CPU time in one poll (at most
    ``cap_s`` more).  A fixed 0.1 s was not enough: after a 2-thread
    OpenBLAS call the process still burned 0.056 s of CPU between 0.05
    and 0.15 s later, its worker spinning while the main thread slept."""
    if seconds <= 0:
        return
    time.sleep(seconds)
    end = time.perf_counter() + cap_s
    while time.perf_counter() < end:
        c0 = time.process_time()
        time.sleep(poll_s)
        if time.process_time() - c0 < 0.1 * poll_s:
            return


def measure(contenders, reps, interleave=True, settle=0.1, budget_s=None, min_reps=3):
    """Time every contender: one untimed warm-up each, then ``reps``
    repetitions.  Interleaved: repetition r of every contender before
    repetition r+1 of any (for long calls, so load bursts hit all
    columns alike); otherwise all repetitions of one contender in a row
    (for short calls, where switching libraries costs a settle each).
    With ``budget_s``, a round that the warm-up shows to be too slow for
    ``reps`` rounds in the budget (a loaded machine) gets fewer rounds, never
    fewer than ``min_reps``; the table reports the count used."""
    round_s = 0.0
    for c in contenders:
        if c.setup:
            c.setup()
        t0 = time.perf_counter()
        c.fn()
        round_s += (time.perf_counter() - t0) * c.inner
    if budget_s is not None and round_s * reps > budget_s:
        reps = max(min(min_reps, reps), int(budget_s / max(round_s, 1e-9)))
    order = ([(r, c) for r in range(reps) for c in contenders] if interleave
             else [(r, c) for c in contenders for r in range(reps)])
    last_lib = None
    for r, c in order:
        if c.setup:
            c.setup()
        if interleave or c.lib != last_lib or r == 0:
            _settle(settle)
        last_lib = c.lib
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for _ in range(c.inner):
                c.fn()
            c.times.append((time.perf_counter() - t0) / c.inner)
        finally:
            if was_enabled:
                gc.enable()
    return contenders


def calls_for(fn, target_s=0.05, cap=100000):
    """How many calls of fn make one repetition of about target_s."""
    fn()
    t0 = time.perf_counter()
    fn()
    dt = max(time.perf_counter() - t0, 1e-7)
    return int(min(cap, max(1, target_s / dt)))


class Threads:
    """Set the thread count of fastmlp, NumPy's BLAS and PyTorch at once."""

    def __init__(self, torch):
        self.torch = torch
        self.blas = threadpoolctl.ThreadpoolController() if threadpoolctl else None

    def __call__(self, n):
        fastmlp.set_num_threads(n)
        if self.blas is not None:
            self.blas.limit(limits=n, user_api="blas")
        if self.torch is not None:
            self.torch.set_num_threads(n)

    def setter(self, n):
        return lambda: self(n)


# ---------------------------------------------------------------------------
# Data and networks
# ---------------------------------------------------------------------------

def w2_data(n, mnist_dir, notes):
    """(X float32 (n, 784) C-contiguous in [0, 1], labels int64 (n,),
    one-hot float32 (n, 10)): MNIST's first n training images, or random
    data of the same shape when MNIST is not there."""
    X = y = None
    if mnist_dir and os.path.isdir(mnist_dir):
        try:
            from fastmlp.datasets import load_mnist
            X, y = load_mnist(mnist_dir, "train")
            X, y = np.ascontiguousarray(X[:n], dtype=np.float32), y[:n].astype(np.int64)
            if X.shape[0] < n:
                X = y = None
        except (OSError, ValueError) as exc:
            notes.append(f"MNIST not loaded from {mnist_dir} ({exc}); random data instead")
            X = y = None
    if X is None:
        if not any(n.startswith("W2 data") for n in notes):
            notes.append(f"W2 data: random uniform [0,1) of MNIST's shape (MNIST not found "
                         f"at {mnist_dir}); timings do not depend on the values")
        rng = np.random.default_rng(0)
        X = rng.random((n, 784), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int64)
    elif not any(n.startswith("W2 data") for n in notes):
        notes.append(f"W2 data: MNIST training images from {mnist_dir}, scaled to [0, 1]")
    Y = np.zeros((n, 10), dtype=np.float32)
    Y[np.arange(n), y] = 1
    return X, y, Y


def w3_data(n, n_features=W3_FEATURES):
    """(X float32 (n, 32) standard normal, y float32 (n, 1)): a smooth
    nonlinear target plus noise."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, n_features), dtype=np.float32)
    w = rng.standard_normal(n_features).astype(np.float32) / np.sqrt(n_features)
    y = np.tanh(X @ w) + 0.1 * np.sin(3 * X[:, 0]) + 0.05 * rng.standard_normal(n, dtype=np.float32)
    return X, y.astype(np.float32).reshape(-1, 1)


def fastmlp_model(layers, backend="c", loss=None):
    return MLP([Dense(u, a) for u, a in layers], loss=loss, optimizer="adam",
               dtype="float32", seed=0, backend=backend)


def torch_model(torch, n_in, layers):
    """The same stack as nn.Sequential (nn.Linear keeps W as (out, in))."""
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
    mods, fan_in = [], n_in
    for units, act in layers:
        mods.append(torch.nn.Linear(fan_in, units))
        if act in acts:
            mods.append(acts[act]())
        fan_in = units
    return torch.nn.Sequential(*mods)


def torch_epoch_fn(torch, n_in, layers, X, target, batch, classify):
    """One PyTorch eager epoch: randperm, index slicing (no DataLoader),
    zero_grad / forward / loss / backward / Adam step per batch."""
    torch.manual_seed(0)
    model = torch_model(torch, n_in, layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss() if classify else torch.nn.MSELoss()
    Xt = torch.from_numpy(X)
    Tt = torch.from_numpy(target)
    n = Xt.shape[0]

    def epoch():
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), Tt[idx])
            loss.backward()
            opt.step()
    return epoch


def sklearn_epoch_fn(sklearn, layers, X, y, batch, classify):
    """A fresh scikit-learn estimator fitted for one epoch (max_iter=1),
    Adam, no L2 penalty (alpha=0) like the other columns."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    hidden = tuple(u for u, _ in layers[:-1])
    act = layers[0][1]
    cls = MLPClassifier if classify else MLPRegressor
    target = y if classify else y.ravel()

    def epoch():
        est = cls(hidden_layer_sizes=hidden, activation=act, solver="adam", alpha=0.0,
                  batch_size=batch, learning_rate_init=1e-3, max_iter=1, shuffle=True,
                  random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, target)
    return epoch


def gemm_floor_fn(X, layers, batch, seed=0):
    """Only the products of one epoch, by NumPy/OpenBLAS into preallocated
    outputs: per batch Z_l = H_l·W_l for every layer, dW_l = H_lᵀ·dZ_l for
    every layer, dH_l = dZ_{l+1}·W_{l+1}ᵀ for the layers above the first.
    Operands other than X are fixed random arrays of the right shapes (the
    values do not change the time of a product)."""
    rng = np.random.default_rng(seed)
    n, n_in = X.shape
    widths = [n_in] + [u for u, _ in layers]
    L = len(layers)
    W = [(rng.standard_normal((widths[l], widths[l + 1])) / np.sqrt(widths[l])).astype(np.float32)
         for l in range(L)]
    H = [None] + [rng.random((batch, widths[l]), dtype=np.float32) for l in range(1, L)]
    Z = [np.empty((batch, widths[l + 1]), np.float32) for l in range(L)]
    dZ = [rng.standard_normal((batch, widths[l + 1]), dtype=np.float32) for l in range(L)]
    dW = [np.empty_like(w) for w in W]
    dH = [np.empty((batch, widths[l]), np.float32) for l in range(L)]
    # every operand float32 (a float64 one would silently run dgemm)
    assert X.dtype == np.float32 and all(a.dtype == np.float32 for group in (W, H[1:], Z, dZ, dW, dH)
                                         for a in group)

    def epoch():
        for i in range(0, n, batch):
            x = X[i:i + batch]
            nb = x.shape[0]
            ins = [x] + [h[:nb] for h in H[1:]]
            for l in range(L):                       # Z_l = H_l·W_l
                np.matmul(ins[l], W[l], out=Z[l][:nb])
            for l in range(L - 1, -1, -1):
                np.matmul(ins[l].T, dZ[l][:nb], out=dW[l])        # dW_l = H_lᵀ·dZ_l
                if l > 0:
                    np.matmul(dZ[l][:nb], W[l].T, out=dH[l][:nb])  # dH_l = dZ_l·W_lᵀ
    return epoch


def step_products(layers, n_in, batch):
    """The products of one training step: (label, M, K, N, form) where
    form is "nn" (forward X·W), "tn" (Xᵀ·dZ) or "nt" (dZ·Wᵀ)."""
    widths = [n_in] + [u for u, _ in layers]
    out = []
    for l in range(len(layers)):
        out.append((f"fwd X·W{l}", batch, widths[l], widths[l + 1], "nn"))
    for l in range(len(layers) - 1, -1, -1):
        out.append((f"dW{l}=Xᵀ·dZ", widths[l], batch, widths[l + 1], "tn"))
        if l > 0:
            out.append((f"dX{l}=dZ·W{l}ᵀ", batch, widths[l + 1], widths[l], "nt"))
    return out


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

class Results:
    """The rows of the one table, the targets, and the notes."""

    def __init__(self):
        self.rows, self.targets, self.notes = [], [], []

    def row(self, workload, case, column, threads=None, value=None, unit="s", reps=None,
            ratio=None, ratio_to=None, note=None, na=None, key=None):
        """One row; ``na`` ("n/a (torch not installed)") stands in for a
        value that could not be measured."""
        r = {"workload": workload, "case": case, "column": column, "threads": threads,
             "value": value, "unit": unit, "reps": reps, "ratio": ratio,
             "ratio_to": ratio_to, "note": note, "na": na, "key": key}
        self.rows.append(r)
        return r

    def contender_row(self, workload, case, c, base=None, base_name=None, unit="s",
                      scale=1.0, key=None):
        value = None if c.median is None else c.median * scale
        ratio = None
        if base is not None and base.median and c.median is not None and c is not base:
            ratio = c.median / base.median
        return self.row(workload, case, c.name, c.threads, value, unit, len(c.times), ratio,
                        base_name if ratio is not None else None, key=key)

    def target(self, workload, what, value, limit, op, unit=""):
        """A target: value op limit (op "<=" or ">="); value None = not measured."""
        if value is None:
            met, margin = None, "not measured"
        elif op == "<=":
            met = value <= limit
            margin = (f"{(limit - value) / limit:.0%} headroom" if met
                      else f"missed by {(value - limit) / limit:.0%}: {value / limit:.2f}× the limit")
        else:
            met = value >= limit
            margin = (f"{(value - limit) / limit:.0%} headroom" if met
                      else f"missed by {(limit - value) / limit:.0%}: {limit / value:.2f}× short")
        self.targets.append({"workload": workload, "what": what, "value": value,
                             "limit": limit, "op": op, "unit": unit, "met": met,
                             "margin": margin})


def fmt_value(value, unit):
    if value is None:
        return ""
    if unit == "s":
        for scale, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if value >= scale or u == "µs":
                return f"{value / scale:.3g} {u}" if value / scale < 1000 else \
                    f"{value / scale:.0f} {u}"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:.3g} {unit}"


def table_lines(res, markdown=False):
    head = ["W", "case", "column", "thr", "median", "reps", "ratio", "note"]
    body = []
    for r in res.rows:
        val = r["na"] if r["value"] is None and r["na"] else fmt_value(r["value"], r["unit"])
        note = r["note"] or ""
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}× {r['ratio_to']}"
        body.append([r["workload"], r["case"], r["column"],
                     "" if r["threads"] is None else str(r["threads"]), val,
                     "" if r["reps"] is None else str(r["reps"]), ratio, note])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        return lines
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
              for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:{'>' if i in (3, 5) else '<'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), "  ".join("-" * w for w in widths)]
    prev = None
    for row in body:
        if prev is not None and row[0] != prev:
            lines.append("")
        prev = row[0]
        lines.append(fmt.format(*row).rstrip())
    return lines


def target_lines(res):
    lines = []
    for t in res.targets:
        mark = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        val = ("" if t["value"] is None else
               f"{t['value']:.2f}{t['unit']}" if t["unit"] == "×" else
               f"{t['value']:.3g}{t['unit']}")
        lines.append(f"[{mark:>6}] {t['workload']}: {t['what']} — {val} "
                     f"(target {t['op']} {t['limit']:g}{t['unit']}; {t['margin']})")
    return lines


# ---------------------------------------------------------------------------
# Header
# ---------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in ("avx2", "fma", "avx512f") if f in flags]
    except OSError:
        pass
    return []


def blas_description():
    """Every BLAS loaded in this process (threadpoolctl's view: NumPy's and,
    once scikit-learn imported SciPy, SciPy's), else numpy.show_config's."""
    if threadpoolctl is not None:
        found = []
        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                where = os.path.basename(os.path.dirname(info.get("filepath") or ""))
                extra = [where or info.get("prefix"), info.get("architecture"),
                         info.get("threading_layer")]
                found.append(f"{info.get('internal_api')} {info.get('version')} "
                             f"({', '.join(str(e) for e in extra if e)})")
        if found:
            return "; ".join(found)
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - best effort across NumPy versions
        return "unknown"


def header(args, torch, sklearn, torch_note, sklearn_note):
    info = fastmlp.cpu_info()
    h = {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "isa": info["isa"],
        "isa_detected": info["isa_detected"],
        "openmp": info["openmp"],
        "threads": args.threads,
        "fastmlp": info["version"],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_description(),
        "blas_threads": ("threadpoolctl" if threadpoolctl is not None else
                         f"environment ({', '.join(_BLAS_ENV)}), threadpoolctl not installed"),
        "torch": torch.__version__ if torch else torch_note,
        "sklearn": sklearn.__version__ if sklearn else sklearn_note,
        # fastmlp bounds OpenMP spinning at import unless the user chose;
        # PyTorch shares the process's libgomp, so its OpenMP threads too
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "unset"),
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "mode": "quick" if args.quick else "full",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    return h


def header_lines(h):
    la = h.get("loadavg_start")
    la_end = h.get("loadavg_end")
    load = "" if la is None else f"load average at start {la[0]:.2f}, {la[1]:.2f}, {la[2]:.2f}"
    if la_end is not None:
        load += f"; at end {la_end[0]:.2f}, {la_end[1]:.2f}, {la_end[2]:.2f}"
    return [
        f"fastmlp benchmark suite ({h['mode']} run, {h['date']})",
        (f"CPU: {h['cpu']} — {h['usable_cpus']} usable of {h['logical_cpus']} logical CPUs; "
         f"flags: {', '.join(h['cpu_flags']) or 'none of avx2/fma/avx512f'}"),
        (f"fastmlp {h['fastmlp']}: ISA path {h['isa']} (detected {h['isa_detected']}), "
         f"OpenMP {'on' if h['openmp'] else 'off'} (OMP_WAIT_POLICY={h['omp_wait_policy']}, "
         f"GOMP_SPINCOUNT={h.get('gomp_spincount', 'unset')}); "
         f"threads: {h['threads']} unless the row says"),
        (f"python {h['python']}, numpy {h['numpy']}, BLAS {h['blas']} "
         f"(threads via {h['blas_threads']}), torch {h['torch']}, scikit-learn {h['sklearn']}"),
        load + (f"; total {h['elapsed_s']:.0f} s" if "elapsed_s" in h else ""),
        ("Times are medians of the repetitions after one warm-up; ratios divide two medians "
         "of this run."),
    ]


# ---------------------------------------------------------------------------
# W1: products
# ---------------------------------------------------------------------------

def operands(M, K, N, form, rng):
    """A, B with op(A) (M, K) and op(B) (K, N) stored as the training step
    stores them: for "tn" A is (K, M) (the batch's X), for "nt" B is (N, K)
    (the weights)."""
    a_shape = (K, M) if form == "tn" else (M, K)
    b_shape = (N, K) if form == "nt" else (K, N)
    A = rng.standard_normal(a_shape, dtype=np.float32)
    B = rng.standard_normal(b_shape, dtype=np.float32)
    return A, B


def w1_cases(cfg):
    """(label, M, K, N, form) of every W1 product."""
    return (step_products(W2_LAYERS, 784, W2_BATCH)
            + [(f"square {s}", s, s, s, "nn") for s in cfg["w1_squares"]])


def w1_functions(M, K, N, form, rng):
    """(fastmlp call, NumPy call, max relative difference of their results)
    on the same operands, each writing into its own preallocated C."""
    A, B = operands(M, K, N, form, rng)
    ta, tb = form == "tn", form == "nt"
    opA, opB = (A.T if ta else A), (B.T if tb else B)
    C1, C2 = np.empty((M, N), np.float32), np.empty((M, N), np.float32)

    def f_fm():
        _core.gemm(A, B, ta, tb, C=C1)

    def f_np():
        np.matmul(opA, opB, out=C2)

    f_fm()
    f_np()
    err = float(np.max(np.abs(C1 - C2)) / max(1.0, float(np.max(np.abs(C2)))))
    return f_fm, f_np, err


def w1_numpy_child(args, cfg):
    """Without threadpoolctl: NumPy's W1 medians at the BLAS thread count of
    this process's environment, as JSON {label: median seconds}."""
    rng = np.random.default_rng(0)
    out = {}
    for label, M, K, N, form in w1_cases(cfg):
        _, f_np, _ = w1_functions(M, K, N, form, rng)
        c = Contender("numpy matmul", f_np, calls_for(f_np, 0.01 if args.quick else 0.03))
        measure([c], cfg["repeat"], interleave=False, settle=0.0)
        out[label] = c.median
    print(json.dumps(out))


def w1_numpy_in_child(args, cfg, n_threads):
    env = dict(os.environ, **{v: str(n_threads) for v in _BLAS_ENV})
    cmd = [sys.executable, os.path.abspath(__file__), "--_w1-numpy-child",
           "--repeat", str(cfg["repeat"])] + (["--quick"] if args.quick else [])
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def w1(res, cfg, args, threads):
    rng = np.random.default_rng(0)
    thread_counts = sorted({1, args.threads})
    # Without threadpoolctl NumPy's thread count is fixed at load time: the
    # rows at other counts come from a child process (not interleaved).
    child = {}
    if threadpoolctl is None:
        for t in thread_counts:
            if str(t) != os.environ.get("OPENBLAS_NUM_THREADS"):
                child[t] = w1_numpy_in_child(args, cfg, t)
                res.notes.append(f"W1: NumPy at {t} thread(s) timed in a child process "
                                 "(threadpoolctl not installed)")
    ratios, np_time = {}, {}
    for label, M, K, N, form in w1_cases(cfg):
        f_fm, f_np, err = w1_functions(M, K, N, form, rng)
        if err > 1e-3:
            res.notes.append(f"W1 {label}: fastmlp and NumPy disagree (rel. error {err:.2g})")
        inner = calls_for(f_np, target_s=0.01 if args.quick else 0.03)
        cs = []
        for t in thread_counts:
            cs.append(Contender("numpy matmul", f_np, inner, threads.setter(t), t, "numpy"))
            cs.append(Contender("fastmlp gemm", f_fm, inner, threads.setter(t), t, "fastmlp"))
        cs = [c for c in cs if not (c.lib == "numpy" and c.threads in child)]
        # interleaved, as the epochs: a burst of load that lasts a
        # contender's whole row of repetitions (5 × 30 ms) would otherwise
        # decide a ratio near 1 on its own
        measure(cs, cfg["repeat"], interleave=True, settle=0.1, budget_s=30)
        for t, medians in child.items():
            c = Contender("numpy matmul", f_np, inner, None, t, "numpy")
            c.times = [medians[label]] if medians else []
            cs.append(c)
        case = f"{label} ({M}×{K}·{K}×{N})"
        for t in thread_counts:
            c_np = next(c for c in cs if c.threads == t and c.lib == "numpy")
            c_fm = next(c for c in cs if c.threads == t and c.lib == "fastmlp")
            res.contender_row("W1", case, c_np)
            res.contender_row("W1", case, c_fm, c_np, "numpy")
            ratios[(label, t)] = (c_fm.median / c_np.median
                                  if c_np.median and c_fm.median else None)
            ratios[(label, t, "fastmlp")] = c_fm.median
            np_time[(label, t)] = c_np.median
    # targets: ratio <= 1 at batch 128 (every thread count), <= 1.10 on squares
    # against NumPy's best time at <= t threads: OpenBLAS at 2 threads on a
    # shared 2-core machine can be many times slower than at 1
    for label, *_ in w1_cases(cfg):
        for t in thread_counts:
            limit = 1.10 if label.startswith("square") else 1.0
            best_np = min(np_time[(label, u)] for u in thread_counts if u <= t)
            value = ratios[(label, t, "fastmlp")] / best_np if best_np else None
            res.target("W1", f"gemm {t} thr / best matmul ≤{t} thr, {label}", value, limit,
                       "<=", "×")
    return ratios


# ---------------------------------------------------------------------------
# W2 / W3: one training epoch
# ---------------------------------------------------------------------------

def epoch_contenders(X, fit_target, torch_target, sk_target, layers, batch, classify,
                     torch, sklearn, threads, T, competitor_counts=None):
    """fastmlp (MLP.fit, one epoch) and fastmlp's C epoch alone at T
    threads; the GEMM floor, the NumPy reference backend, PyTorch eager and
    scikit-learn at each count of ``competitor_counts`` (default [T])."""
    n_in = X.shape[1]
    loss = "categorical_crossentropy" if classify else "squared_error"
    m_c = fastmlp_model(layers, "c", loss)
    m_c.build(n_in)
    m_np = fastmlp_model(layers, "numpy", loss)
    m_np.build(n_in)
    net = fastmlp_model(layers, "c", loss)
    net.build(n_in)
    core = net.net_
    ecfg = {"loss": loss, "optimizer": "adam", "l2": 0.0, "l1": 0.0, "batch_size": batch,
            "shuffle": True, "seed": 0}
    epoch_no = [0]

    def core_epoch():
        core.train_epoch(ecfg, X, fit_target, None, epoch=epoch_no[0])
        epoch_no[0] += 1

    cs = [Contender("fastmlp", lambda: m_c.fit(X, fit_target, epochs=1, batch_size=batch),
                    1, threads.setter(T), T, "fastmlp"),
          Contender("fastmlp C epoch", core_epoch, 1, threads.setter(T), T, "fastmlp")]
    floor = gemm_floor_fn(X, layers, batch)
    ref = (lambda: m_np.fit(X, fit_target, epochs=1, batch_size=batch))
    tch = (torch_epoch_fn(torch, n_in, layers, X, torch_target, batch, classify)
           if torch is not None else None)
    skl = (sklearn_epoch_fn(sklearn, layers, X, sk_target, batch, classify)
           if sklearn is not None else None)
    for t in competitor_counts or [T]:
        cs.append(Contender("GEMM floor (numpy)", floor, 1, threads.setter(t), t, "numpy"))
        cs.append(Contender("numpy reference", ref, 1, threads.setter(t), t, "numpy"))
        if tch is not None:
            cs.append(Contender("torch eager", tch, 1, threads.setter(t), t, "torch"))
        if skl is not None:
            cs.append(Contender("sklearn MLP", skl, 1, threads.setter(t), t, "sklearn"))
    return cs


def competitor_threads(T):
    """Thread counts to time the competitors at: 1 and T, or only T when
    threadpoolctl is missing (NumPy's BLAS count is then fixed at load)."""
    return sorted({1, T}) if threadpoolctl is not None else [T]


def best_of(cs, name):
    """The contender called ``name`` with the smallest median (the
    competitor at its best thread count), or None."""
    group = [c for c in cs if c.name == name and c.median is not None]
    return min(group, key=lambda c: c.median) if group else None


def epoch_workload(res, name, case, cs, reps, torch_note, sklearn_note, budget_s):
    """Measure, then one row per contender; ratios to the best GEMM floor."""
    measure(cs, reps, interleave=True, settle=0.1, budget_s=budget_s)
    floor, fm = best_of(cs, "GEMM floor (numpy)"), best_of(cs, "fastmlp")
    for c in cs:
        r = res.contender_row(name, case, c, floor, "best floor", key=(name, c.name, c.threads))
        if c.name == "fastmlp C epoch" and c.median and fm.median:
            r["note"] = f"MLP.fit's Python side adds {fm.median / c.median - 1:+.0%}"
        elif c is not fm and c.name != "GEMM floor (numpy)" and c.median and fm.median:
            r["note"] = f"fastmlp {c.median / fm.median:.1f}× faster"
        if c is floor:
            r["note"] = "the floor: best thread count"
    if best_of(cs, "torch eager") is None:
        res.row(name, case, "torch eager", na=torch_note)
    if best_of(cs, "sklearn MLP") is None:
        res.row(name, case, "sklearn MLP", na=sklearn_note)
    return {n: best_of(cs, n) for n in dict.fromkeys(c.name for c in cs)}


def w2(res, cfg, args, threads, torch, sklearn, torch_note, sklearn_note):
    X, y, Y = w2_data(cfg["w2_n"], args.mnist, res.notes)
    T = args.threads
    cs = epoch_contenders(X, Y, y, y, W2_LAYERS, W2_BATCH, True, torch, sklearn, threads, T,
                          competitor_threads(T))
    by = epoch_workload(res, "W2", f"epoch {X.shape[0]}×784, 784-256-128-10, batch 128", cs,
                        cfg["repeat"], torch_note, sklearn_note, budget_s=240)
    fm = by["fastmlp"].median
    res.target("W2", "fastmlp epoch / GEMM floor", fm / by["GEMM floor (numpy)"].median,
               1.15, "<=", "×")
    res.target("W2", "NumPy reference / fastmlp", by["numpy reference"].median / fm,
               4.0, ">=", "×")
    return by


def w3(res, cfg, args, threads, torch, sklearn, torch_note, sklearn_note):
    X, y = w3_data(cfg["w3_n"])
    T = args.threads
    cs = epoch_contenders(X, y, y, y, W3_LAYERS, W3_BATCH, False, torch, sklearn, threads, T,
                          competitor_threads(T))
    by = epoch_workload(res, "W3", f"epoch {X.shape[0]}×32, 32-64-64-1 tanh, batch 32", cs,
                        cfg["repeat"], torch_note, sklearn_note, budget_s=90)
    fm = by["fastmlp"].median
    res.target("W3", "scikit-learn / fastmlp",
               by["sklearn MLP"].median / fm if by.get("sklearn MLP") else None, 40.0, ">=",
               "×")
    res.target("W3", "NumPy reference / fastmlp", by["numpy reference"].median / fm,
               15.0, ">=", "×")
    return by


# ---------------------------------------------------------------------------
# W4: inference
# ---------------------------------------------------------------------------

def numpy_chain(model):
    """predict as a hand-written NumPy chain: relu(X·W0+b0) … softmax."""
    Ws = [w.copy() for w in model.coefs_]
    bs = [b.copy() for b in model.intercepts_]

    def predict(X):
        h = X
        for W, b in zip(Ws[:-1], bs[:-1]):
            h = h @ W
            h += b
            np.maximum(h, 0, out=h)
        z = h @ Ws[-1]
        z += bs[-1]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z
    return predict


def w4(res, cfg, args, threads, torch, torch_note):
    T = args.threads
    threads(T)
    X, _, _ = w2_data(1000, args.mnist, res.notes)
    m = fastmlp_model(W2_LAYERS)
    m.build(784)
    m_np = fastmlp_model(W2_LAYERS, "numpy")
    m_np.build(784)
    m_np.net_.params[...] = m.net_.params
    chain = numpy_chain(m)
    tm = None
    if torch is not None:
        tm = torch_model(torch, 784, W2_LAYERS[:-1] + ((10, "identity"),))
        with torch.no_grad():
            lin = [mod for mod in tm if isinstance(mod, torch.nn.Linear)]
            for mod, W, b in zip(lin, m.coefs_, m.intercepts_):
                mod.weight.copy_(torch.from_numpy(W.T.copy()))
                mod.bias.copy_(torch.from_numpy(b))
        tm.eval()

    def torch_predict(x):
        with torch.inference_mode():
            return torch.softmax(tm(torch.from_numpy(x)), dim=1).numpy()

    out = {}
    for n, calls in ((1, cfg["w4_calls_1"]), (1000, cfg["w4_calls_1000"])):
        x = np.ascontiguousarray(X[:n])
        want = chain(x)
        fns = [("fastmlp MLP.predict", m.predict, "fastmlp"),
               ("fastmlp Net.predict", m.net_.predict, "fastmlp"),
               ("numpy reference", m_np.predict, "numpy"),
               ("numpy matmul chain", chain, "numpy")]
        if tm is not None:
            fns.append(("torch eager", torch_predict, "torch"))
        cs = []
        for name, f, lib in fns:
            got = f(x)
            if not np.allclose(got, want, rtol=1e-3, atol=1e-5):
                res.notes.append(f"W4 {name}: output differs from the NumPy chain")
            # fastmlp at T threads; the others at 1 and T (their best counts)
            for t in ([T] if lib == "fastmlp" else competitor_threads(T)):
                cs.append(Contender(name, (lambda f=f, x=x: f(x)), calls, threads.setter(t), t, lib))
        measure(cs, cfg["repeat"], interleave=False, settle=0.1, budget_s=40)
        base = best_of(cs, "numpy matmul chain")
        case = "1 sample (per call)" if n == 1 else f"{n} samples (per call)"
        for c in cs:
            r = res.contender_row("W4", case, c, base, "best numpy chain",
                                  key=("W4", n, c.name, c.threads))
            r["note"] = f"{c.inner} calls/rep"
        if tm is None:
            res.row("W4", case, "torch eager", na=torch_note)
        out[n] = {name: best_of(cs, name).median for name, _, _ in fns}
    res.target("W4", "1-sample MLP.predict per call", out[1]["fastmlp MLP.predict"] * 1e6,
               10.0, "<=", " µs")
    res.target("W4", "1000-sample MLP.predict / NumPy chain",
               out[1000]["fastmlp MLP.predict"] / out[1000]["numpy matmul chain"], 1.0, "<=", "×")
    return out


# ---------------------------------------------------------------------------
# W5: scaling
# ---------------------------------------------------------------------------

def w5(res, cfg, args, threads, torch, torch_note, tol):
    T = args.threads
    reps = cfg["repeat"]
    # (a) time per sample across N, T threads
    Xall, _, Yall = w2_data(max(cfg["w5_ns"]), args.mnist, res.notes)
    cs = []
    threads(T)
    for n in cfg["w5_ns"]:
        X, Y = Xall[:n], Yall[:n]
        m = fastmlp_model(W2_LAYERS)
        m.build(784)
        f = (lambda m=m, X=X, Y=Y: m.fit(X, Y, epochs=1, batch_size=W2_BATCH))
        # every N's repetition about as long as one full epoch (several of
        # the small-N epochs), so that a burst of load weighs on each alike
        # (one 50 ms epoch per repetition read 0.96-1.07x across N)
        cs.append(Contender(f"fastmlp N={n}", f, calls_for(f, target_s=0.4), threads.setter(T), T))
    measure(cs, reps, interleave=True, settle=0.0, budget_s=60)
    per = {}
    base = cs[-1]
    for n, c in zip(cfg["w5_ns"], cs):
        per[n] = c.median / n
        r = res.row("W5", "W2 time per sample vs N", c.name, T, per[n], "s", len(c.times),
                    per[n] / (base.median / cfg["w5_ns"][-1]), f"N={cfg['w5_ns'][-1]}",
                    key=("W5", "N", n))
        r["note"] = f"epoch {fmt_value(c.median, 's')}, {c.inner} per repetition"
    res.target("W5", "time per sample across N (max/min)", max(per.values()) / min(per.values()),
               1.10, "<=", "×")

    # (b) 1 vs T threads on W2 and W3
    thread_rows = {}
    X3, y3 = w3_data(cfg["w3_n"])
    for wl, X, Y, layers, batch, loss in (
            ("W2", Xall, Yall, W2_LAYERS, W2_BATCH, "categorical_crossentropy"),
            ("W3", X3, y3, W3_LAYERS, W3_BATCH, "squared_error")):
        m = fastmlp_model(layers, "c", loss)
        m.build(X.shape[1])
        f = (lambda m=m, X=X, Y=Y, batch=batch: m.fit(X, Y, epochs=1, batch_size=batch))
        # W3's 40 ms epochs: several per repetition, as in the sweep below
        inner = calls_for(f, target_s=0.2)
        cs = [Contender("fastmlp", f, inner, threads.setter(t), t) for t in sorted({1, T})]
        measure(cs, reps, interleave=True, settle=0.0, budget_s=40)
        c1 = cs[0]
        for c in cs:
            r = res.contender_row("W5", f"{wl} epoch, 1 vs {T} threads", c, c1, "1 thread",
                                  key=("W5", wl, c.threads))
            if c is not c1:
                r["note"] = f"speed-up {c1.median / c.median:.2f}×"
        thread_rows[wl] = {c.threads: c.median for c in cs}
    if T > 1:
        sp = thread_rows["W2"][1] / thread_rows["W2"][T]
        res.target("W5", f"W2 speed-up {T} threads vs 1", sp, 1.8, ">=", "×")
        for wl in ("W2", "W3"):
            res.target("W5", f"{wl}: {T} threads / 1 thread (never slower; {tol:.0%} noise "
                       "allowance)", thread_rows[wl][T] / thread_rows[wl][1], 1.0 + tol, "<=",
                       "×")

    # (c) the "no cliff" sweep: 32-h-h-1 tanh, batch 32, one epoch
    Xs, ys = w3_data(cfg["w5_sweep_n"])
    sweep = {}
    for h in cfg["w5_widths"]:
        layers = ((h, "tanh"), (h, "tanh"), (1, "identity"))
        m = fastmlp_model(layers, "c", "squared_error")
        m.build(W3_FEATURES)
        f = (lambda m=m: m.fit(Xs, ys, epochs=1, batch_size=W3_BATCH))
        # the narrow widths' epochs take a few ms: several per repetition
        # (about 0.2 s of them), so that one burst of load does not decide
        # a 1-vs-T ratio (at 0.05 s, widths 16 and 64 read 1.07-1.12x in
        # runs where nothing in their epochs starts a second thread)
        inner = calls_for(f, target_s=0.2)
        cs = [Contender("fastmlp", f, inner, threads.setter(t), t, "fastmlp")
              for t in sorted({1, T})]
        if torch is not None:
            tf = torch_epoch_fn(torch, W3_FEATURES, layers, Xs, ys, W3_BATCH, False)
            cs += [Contender("torch eager", tf, 1, threads.setter(t), t, "torch")
                   for t in sorted({1, T})]
        measure(cs, reps, interleave=True, settle=0.05, budget_s=20)
        case = f"width sweep 32-{h}-{h}-1, {Xs.shape[0]} samples"
        for name in ("fastmlp", "torch eager"):
            group = [c for c in cs if c.name == name]
            if not group:
                continue
            for c in group:
                r = res.contender_row("W5", case, c, group[0], "1 thread",
                                      key=("W5", "width", h, name, c.threads))
                if c.name == "fastmlp" and c.threads == T and T > 1:
                    sweep[h] = c.median / group[0].median
        if torch is None:
            res.row("W5", case, "torch eager", na=torch_note)
    if T > 1 and sweep:
        worst = max(sweep, key=sweep.get)
        res.target("W5", f"width sweep: worst {T}-thread/1-thread (width {worst}; never "
                   f"slower, {tol:.0%} noise allowance)", sweep[worst], 1.0 + tol, "<=", "×")
    return per, thread_rows, sweep


# ---------------------------------------------------------------------------
# W6: memory, in a child process
# ---------------------------------------------------------------------------

W6_CHILD = r"""
import json, resource, sys
import numpy as np
sys.path.insert(0, sys.argv[5])
import fastmlp
from fastmlp.model import MLP, Dense

def status(field):
    # a VmRSS / VmHWM line of /proc/self/status, in bytes (None elsewhere)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None

def peak():
    # Peak RSS of this process.  ru_maxrss (KiB on Linux) also counts the
    # parent's pages at the fork that started this process (Linux keeps the
    # maximum across exec), so where the kernel offers VmHWM, the high-water
    # mark of this process's own address space, that is the number used.
    hwm = status("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def vmrss():
    rss = status("VmRSS")
    return rss if rss is not None else peak()

xpath, ypath, variant, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
fastmlp.set_num_threads(threads)
base_rss, base_peak = vmrss(), peak()

# Fill the input from the file in chunks, so no temporary copy of the data
# set raises the high-water mark before the fit starts.
dtype = np.float64 if variant == "fit_f64" else np.float32
order = "F" if variant == "fit_f32_fortran" else "C"
with open(xpath, "rb") as f:
    version = np.lib.format.read_magic(f)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    shape, fortran, stored = read_header(f)
    assert not fortran and stored == np.float32
    X = np.empty(shape, dtype=dtype, order=order)
    chunk = np.empty((1024, shape[1]), dtype=np.float32)
    for i in range(0, shape[0], chunk.shape[0]):
        rows = chunk[:min(chunk.shape[0], shape[0] - i)]
        f.readinto(memoryview(rows).cast("B"))
        X[i:i + rows.shape[0]] = rows
labels = np.load(ypath)
before_rss, before_peak = vmrss(), peak()

layers = [Dense(256, "relu"), Dense(128, "relu"), Dense(10, "softmax")]
model = MLP(layers, seed=0)
if variant == "net_epoch":
    Y = np.zeros((X.shape[0], 10), dtype=np.float32)
    Y[np.arange(X.shape[0]), labels] = 1
    model.build(X.shape[1])
    cfg = {"loss": "categorical_crossentropy", "optimizer": "adam", "l2": 0.0, "l1": 0.0,
           "batch_size": 128, "shuffle": True, "seed": 0}
    model.net_.train_epoch(cfg, X, Y, None, epoch=0)
else:
    model.fit(X, labels, epochs=1, batch_size=128)
print(json.dumps({"base_rss": base_rss, "base_peak": base_peak, "before_rss": before_rss,
                  "before_peak": before_peak, "peak": peak(), "input": X.nbytes,
                  "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

W6_VARIANTS = (
    ("fit_f32", "MLP.fit, float32 C-contiguous X, int labels"),
    ("net_epoch", "Net.train_epoch, float32 C X, one-hot float32 Y"),
    ("fit_f64", "MLP.fit, float64 X (converted to float32)"),
    ("fit_f32_fortran", "MLP.fit, float32 Fortran-order X"),
)


def w6(res, cfg, args):
    X, y, _ = w2_data(cfg["w6_n"], args.mnist, res.notes)
    out = {}
    variants = W6_VARIANTS if not args.quick else W6_VARIANTS[:2]
    with tempfile.TemporaryDirectory(prefix="fastmlp-bench-") as tmp:
        xpath, ypath = os.path.join(tmp, "X.npy"), os.path.join(tmp, "y.npy")
        np.save(xpath, np.ascontiguousarray(X, dtype=np.float32))
        np.save(ypath, y)
        del X
        for variant, desc in variants:
            proc = subprocess.run(
                [sys.executable, "-c", W6_CHILD, xpath, ypath, variant, str(args.threads),
                 os.path.dirname(os.path.dirname(os.path.abspath(fastmlp.__file__)))],
                check=False, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                res.row("W6", desc, "peak RSS − input", na="n/a (child failed)",
                        note=tail[:120])
                continue
            m = json.loads(proc.stdout.strip().splitlines()[-1])
            out[variant] = m
            case = f"{desc}, N={cfg['w6_n']}"
            over = (m["peak"] - m["input"]) / MIB
            fit_own = (m["peak"] - m["before_peak"]) / MIB
            if variant == "fit_f32":
                res.row("W6", "baseline after imports (python, numpy, fastmlp)", "RSS",
                        args.threads, m["base_rss"] / MIB, "MiB")
            r = res.row("W6", case, "peak RSS − input", args.threads, over, "MiB",
                        key=("W6", variant))
            r["note"] = (f"input {m['input'] / MIB:.0f} MiB, peak {m['peak'] / MIB:.0f} MiB, "
                         f"fit adds {fit_own:.1f} MiB over imports+input")
    if "fit_f32" in out:
        m = out["fit_f32"]
        res.target("W6", "MLP.fit peak RSS − input (float32 C input)",
                   (m["peak"] - m["input"]) / MIB, 64.0, "<=", " MiB")
    return out


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def profile_epochs(args, cfg):
    """fastmlp's C epoch of W2 or W3 alone, --repeat times (no other
    library is imported or timed, so a profiler sees only fastmlp)."""
    fastmlp.set_num_threads(args.threads)
    notes = []
    if args.profile == "W2":
        X, _, Y = w2_data(cfg["w2_n"], args.mnist, notes)
        layers, batch, loss = W2_LAYERS, W2_BATCH, "categorical_crossentropy"
    else:
        X, Y = w3_data(cfg["w3_n"])
        layers, batch, loss = W3_LAYERS, W3_BATCH, "squared_error"
    model = fastmlp_model(layers, "c", loss)
    model.build(X.shape[1])
    ecfg = {"loss": loss, "optimizer": "adam", "l2": 0.0, "l1": 0.0, "batch_size": batch,
            "shuffle": True, "seed": 0}
    model.net_.train_epoch(ecfg, X[:10 * batch], Y[:10 * batch], None, epoch=0)  # warm-up
    for e in range(cfg["repeat"]):
        t0 = time.perf_counter()
        model.net_.train_epoch(ecfg, X, Y, None, epoch=e)
        print(f"{args.profile} C epoch {e}: {time.perf_counter() - t0:.4f} s "
              f"({args.threads} threads, N={X.shape[0]})", flush=True)


def _binding_overheads():
    """Seconds one call of each kernel binding costs on 1×1 operands: the
    Python side of a call (argument checks, output allocation), to be
    taken off the phase times."""
    x = np.zeros((1, 1), np.float32)
    v = np.zeros(1, np.float32)
    opt = _core.optim_defaults("adam")
    idx = np.zeros(1, np.intp)
    calls = {
        "take": lambda: np.take(x, idx, axis=0, out=x),
        "gemm": lambda: _core.gemm(x, x),
        "dense_forward": lambda: _core.dense_forward(x, x, v, "tanh"),
        "dense_backward": lambda: _core.dense_backward(x, x, x),
        "act_backward": lambda: _core.act_backward("tanh", x, x, x),
        "loss": lambda: _core.loss("squared_error", "identity", x, x, x),
        "optim_step": lambda: _core.optim_step(opt, 1, v, v, v.copy(), v.copy()),
    }
    out = {}
    for name, f in calls.items():
        c = measure([Contender(name, f, calls_for(f, 0.01))], 5, interleave=False, settle=0.0)[0]
        out[name] = c.median
    return out


def _phase_contenders(wl, args, cfg):
    """(phases [(name, fn, {binding: calls})], C epoch fn, steps per epoch)
    for one training step of W2 or W3 through fastmlp's kernels."""
    if wl == "W2":
        X, _, Y = w2_data(min(cfg["w2_n"], 6000), args.mnist, [])
        layers, batch, loss_name = W2_LAYERS, W2_BATCH, "categorical_crossentropy"
    else:
        X, Y = w3_data(min(cfg["w3_n"], 6000))
        layers, batch, loss_name = W3_LAYERS, W3_BATCH, "squared_error"
    L = len(layers)
    model = fastmlp_model(layers, "c", loss_name)
    model.build(X.shape[1])
    net = model.net_
    Ws = [net.weights(l) for l in range(L)]
    bs = [net.biases(l) for l in range(L)]
    acts = [a for _, a in layers]
    idx = np.random.default_rng(0).permutation(X.shape[0])[:batch]
    xb = np.empty((batch, X.shape[1]), np.float32)
    yb = np.ascontiguousarray(Y[idx])
    np.take(X, idx, axis=0, out=xb)
    # one forward/backward pass, kept to feed the timed phases
    H, Zs, As = [xb], [], []
    for l in range(L):
        z, a = _core.dense_forward(H[-1], Ws[l], bs[l], acts[l])
        Zs.append(z)
        As.append(a)
        H.append(a)
    dZs = [None] * L
    dZs[-1] = _core.loss(loss_name, acts[-1], Zs[-1], As[-1], yb)[1]
    grads = [None] * L
    for l in range(L - 1, -1, -1):
        dW, db, dX = _core.dense_backward(dZs[l], H[l], Ws[l], need_dx=l > 0)
        grads[l] = (dW.reshape(-1), db)
        if l > 0:
            dZs[l - 1] = _core.act_backward(acts[l - 1], dX, As[l - 1], Zs[l - 1])
    # the update runs on copies with its own state: timing must not train
    opt = _core.optim_defaults("adam")
    params = [(w.reshape(-1).copy(), b.copy()) for w, b in zip(Ws, bs)]
    state = [tuple(np.zeros_like(a) for a in (w, w, b, b)) for w, b in params]
    step_t = [0]

    def gather():
        np.take(X, idx, axis=0, out=xb)

    def forward():
        h = xb
        for l in range(L):
            h = _core.dense_forward(h, Ws[l], bs[l], acts[l])[1]

    def forward_products():
        for l in range(L):
            _core.gemm(H[l], Ws[l])

    def loss_delta():
        _core.loss(loss_name, acts[-1], Zs[-1], As[-1], yb)

    def backward():
        for l in range(L - 1, -1, -1):
            dX = _core.dense_backward(dZs[l], H[l], Ws[l], need_dx=l > 0)[2]
            if l > 0:
                _core.act_backward(acts[l - 1], dX, As[l - 1], Zs[l - 1])

    def backward_products():
        for l in range(L - 1, -1, -1):
            _core.gemm(H[l], dZs[l], True, False)
            if l > 0:
                _core.gemm(dZs[l], Ws[l], False, True)

    def optimizer():
        step_t[0] += 1
        for (w, b), (gw, gb), (m1, v1, m2, v2) in zip(params, grads, state):
            _core.optim_step(opt, step_t[0], w, gw, m1, v1)
            _core.optim_step(opt, step_t[0], b, gb, m2, v2)

    ecfg = {"loss": loss_name, "optimizer": "adam", "l2": 0.0, "l1": 0.0,
            "batch_size": batch, "shuffle": True, "seed": 0}
    epoch_no = [0]

    def c_epoch():
        net.train_epoch(ecfg, X, Y, None, epoch=epoch_no[0])
        epoch_no[0] += 1

    phases = [
        ("gather (np.take of the batch rows)", gather, {"take": 1}),
        ("forward: dense_forward ×L", forward, {"dense_forward": L}),
        ("  of which products X·W (gemm)", forward_products, {"gemm": L}),
        ("loss + output delta", loss_delta, {"loss": 1}),
        ("backward: dense_backward + act_backward", backward,
         {"dense_backward": L, "act_backward": L - 1}),
        ("  of which products Xᵀ·dZ, dZ·Wᵀ (gemm)", backward_products, {"gemm": 2 * L - 1}),
        ("optimizer: optim_step per W and b", optimizer, {"optim_step": 2 * L}),
    ]
    return phases, c_epoch, -(-X.shape[0] // batch)


def phase_breakdown(args, cfg):
    """Where one training step's time goes, phase by phase, through
    fastmlp's public kernels (dense_forward, loss, dense_backward,
    act_backward, optim_step, gemm) on the shapes of W2 and W3, net of the
    bindings' own Python cost (measured on 1×1 operands), against the C
    epoch's time per step.  The perf profile in docs/PERFORMANCE.md is the
    view from inside the C epoch of the same split."""
    threads = Threads(None)
    overhead = _binding_overheads()
    rows = []
    for wl in ("W2", "W3"):
        phases, c_epoch, n_steps = _phase_contenders(wl, args, cfg)
        for t in sorted({1, args.threads}):
            cs = [Contender(name, f, calls_for(f, 0.02), threads.setter(t), t)
                  for name, f, _ in phases]
            cs.append(Contender("C epoch", c_epoch, 1, threads.setter(t), t))
            measure(cs, cfg["repeat"], interleave=False, settle=0.0)
            net = {}
            for (name, _, calls), c in zip(phases, cs):
                over = sum(overhead[k] * n for k, n in calls.items())
                net[name] = (max(c.median - over, 0.0), over)
            total = sum(v for name, (v, _) in net.items() if not name.startswith("  "))
            for name, (v, over) in net.items():
                rows.append((wl, t, name, v, over, v / total))
            rows.append((wl, t, "sum of the phases", total, None, 1.0))
            per_step = cs[-1].median / n_steps
            rows.append((wl, t, "C epoch ÷ steps (measured)", per_step, None, per_step / total))
    print(f"Per-step phase times, net of the Python cost of the binding calls; medians of "
          f"{cfg['repeat']} repetitions; share = of the sum of the phases")
    print(f"{'W':<3} {'thr':>3}  {'phase':<42} {'µs/step':>9} {'binding':>8} {'share':>6}")
    for wl, t, name, sec, over, share in rows:
        o = "" if over is None else f"{over * 1e6:.1f}"
        print(f"{wl:<3} {t:>3}  {name:<42} {sec * 1e6:>9.1f} {o:>8} {share:>6.0%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"workload": wl, "threads": t, "phase": n, "seconds": sec,
                        "binding_seconds": over, "share": sh}
                       for wl, t, n, sec, over, sh in rows], f, indent=1)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small sizes, about a minute: a smoke test, not a measurement")
    p.add_argument("--check", action="store_true",
                   help="exit 1 and list the issue's targets that this run missed")
    p.add_argument("--repeat", type=int, default=None,
                   help="timed repetitions per measurement (default 5, 3 with --quick)")
    p.add_argument("--only", default=None, help="comma-separated workloads, e.g. W2,W4")
    p.add_argument("--threads", type=int, default=2, help="thread count T (default 2)")
    p.add_argument("--tolerance", type=float, default=0.05,
                   help="noise allowance on 'T threads never slower than 1' (default 0.05)")
    p.add_argument("--mnist", default=os.environ.get("FASTMLP_MNIST", MNIST_DIR),
                   help="folder of the MNIST IDX files (random data of the same shape "
                        "when absent)")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    p.add_argument("--markdown", default=None, help="write the table as Markdown here")
    p.add_argument("--profile", choices=["W2", "W3"], default=None,
                   help="only run fastmlp's C epoch of this workload --repeat times after a "
                        "warm-up, printing each epoch's time: a target for `perf record` "
                        "or callgrind (see docs/PERFORMANCE.md)")
    p.add_argument("--phases", action="store_true",
                   help="only print the per-step phase times of W2 and W3 (gather, forward, "
                        "loss, backward, optimizer) through fastmlp's kernels")
    p.add_argument("--_w1-numpy-child", dest="w1_numpy_child", action="store_true",
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.only:
        wanted = [w.strip().upper() for w in args.only.split(",") if w.strip()]
        bad = [w for w in wanted if w not in WORKLOADS]
        if bad:
            p.error(f"unknown workload(s) {bad}; valid: {', '.join(WORKLOADS)}")
        args.only = wanted
    else:
        args.only = list(WORKLOADS)
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if args.repeat is not None and args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.repeat is not None:
        cfg["repeat"] = args.repeat
    if args.w1_numpy_child:
        w1_numpy_child(args, cfg)
        return 0
    if args.profile:
        profile_epochs(args, cfg)
        return 0
    if args.phases:
        phase_breakdown(args, cfg)
        return 0
    torch, torch_note = _optional("torch")
    sklearn, sklearn_note = _optional("sklearn")
    threads = Threads(torch)
    res = Results()
    h = header(args, torch, sklearn, torch_note, sklearn_note)
    for line in header_lines(h):
        print(line, flush=True)
    if torch is not None and os.environ.get("OMP_WAIT_POLICY") == "passive":
        res.notes.append("PyTorch shares this process's OpenMP runtime (libgomp), so its "
                         "threads follow the bounded spinning that fastmlp sets at import "
                         f"(OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT="
                         f"{os.environ.get('GOMP_SPINCOUNT', 'unset')}): its 2-thread rows "
                         "can differ from a PyTorch-only process (ratios use each "
                         "competitor's best thread count)")
    if threadpoolctl is None:
        res.notes.append("threadpoolctl is not installed: NumPy's BLAS runs with the thread "
                         "count of its environment (set to --threads before NumPy loads); W1 "
                         "times the other count in a child process, and the competitors of "
                         "W2-W4 run at --threads only")
    t_start = time.perf_counter()
    for w in args.only:
        t0 = time.perf_counter()
        n_rows = len(res.rows)
        print(f"... {w}", file=sys.stderr, flush=True)
        if w == "W1":
            w1(res, cfg, args, threads)
        elif w == "W2":
            w2(res, cfg, args, threads, torch, sklearn, torch_note, sklearn_note)
        elif w == "W3":
            w3(res, cfg, args, threads, torch, sklearn, torch_note, sklearn_note)
        elif w == "W4":
            w4(res, cfg, args, threads, torch, torch_note)
        elif w == "W5":
            w5(res, cfg, args, threads, torch, torch_note, args.tolerance)
        elif w == "W6":
            w6(res, cfg, args)
        part = Results()
        part.rows = res.rows[n_rows:]
        for line in table_lines(part)[2:]:
            print("    " + line, file=sys.stderr)
        print(f"... {w} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    threads(args.threads)
    h["elapsed_s"] = time.perf_counter() - t_start
    h["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None

    print()
    for line in table_lines(res):
        print(line)
    if res.notes:
        print("\nNotes:")
        for n in dict.fromkeys(res.notes):
            print(f"- {n}")
    print("\nTargets (issue 4):")
    for line in target_lines(res):
        print(line)
    print(header_lines(h)[4])

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": h, "config": cfg, "rows": [
                {k: v for k, v in r.items() if k != "key"} for r in res.rows],
                "targets": res.targets, "notes": list(dict.fromkeys(res.notes))},
                f, indent=1, default=str)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(["- " + line for line in header_lines(h)]) + "\n\n")
            f.write("\n".join(table_lines(res, markdown=True)) + "\n\n")
            if res.notes:
                f.write("Notes:\n\n" + "\n".join(f"- {n}" for n in dict.fromkeys(res.notes))
                        + "\n\n")
            f.write("Targets:\n\n" + "\n".join(f"- {line}" for line in target_lines(res))
                    + "\n")
    missed = [t for t in res.targets if t["met"] is False]
    if args.check and missed:
        print(f"\n--check: {len(missed)} target(s) missed:", file=sys.stderr)
        for t in missed:
            print(f"  {t['workload']}: {t['what']}: {t['margin']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
