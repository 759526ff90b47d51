#!/usr/bin/env python3
"""Worst error of fastmlp's float32 exp, tanh and sigmoid over every float.

Not a timing: the sweep behind the ulp figures quoted in
csrc/act_vec_tmpl.h and docs/MATH.md.  Each function is evaluated by the C
core (``_core.act_forward``) on every float32 of its range, on each
instruction set this machine has, and compared with the double-precision
value of NumPy's libm, in units of the float32 spacing at that value (the
subnormal spacing below the normal range), as tests/test_kernels.py does
on a sample.  Also checks that every ISA returns the same bits.

Usage::

    python bench/ulp_sweep.py [--only tanh] [--isa avx512]

30-80 s per function (all three ISAs) on one core.
"""

import argparse

import numpy as np

from fastmlp import _core

# Ranges swept, float by float: past them exp and sigmoid are 0, 1 or inf
# (checked by the tests), and tanh is odd and 1 past 12.
RANGES = {"exp": (-104.0, 89.0), "tanh": (0.0, 12.0), "sigmoid": (-100.0, 40.0)}
CHUNK = 1 << 22


def exact(act, z):
    z = z.astype(np.float64)
    with np.errstate(over="ignore"):
        return {"exp": np.exp, "tanh": np.tanh,
                "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v))}[act](z)


def ulps(got, want):
    """|got − want| in float32 spacings at want.  Past the float range (exp
    above 88.72) the rounded value is the largest float or inf: 0 if got
    is one of those, inf if not."""
    fmax = float(np.finfo(np.float32).max)
    big = np.abs(want) > fmax
    w = np.where(big, 1.0, want)
    spacing = np.maximum(np.spacing(np.abs(w).astype(np.float32)).astype(np.float64),
                         2.0 ** -149)
    g = got.astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(g - w) / spacing
    past_ok = (np.abs(g) == np.inf) | (np.abs(g) == fmax)
    return np.where(big, np.where(past_ok, 0.0, np.inf), err)


def floats(lo, hi):
    """Every float32 in [lo, hi], in chunks, by walking the bit patterns of
    the non-negative and the negative halves."""
    for sign, bound in ((1.0, hi), (-1.0, -lo)):
        if bound < 0 or (sign < 0 and lo >= 0):
            continue
        end = int(np.float32(bound).view(np.int32))
        for b0 in range(0 if sign > 0 else 1, end + 1, CHUNK):
            bits = np.arange(b0, min(b0 + CHUNK, end + 1), dtype=np.int32)
            yield (bits.view(np.float32) * np.float32(sign)).astype(np.float32)


def sweep(act, isas):
    """(worst ulp on normal results, worst on subnormal ones, the z of the
    worst normal one, whether every ISA gave the same bits)."""
    lo, hi = RANGES[act]
    worst_n = worst_s = 0.0
    arg, same = None, True
    for z in floats(lo, hi):
        outs = []
        for isa in isas:
            _core.set_isa(isa)
            outs.append(_core.act_forward(act, z.reshape(1, -1)).ravel())
        same &= all(np.array_equal(o.view(np.int32), outs[0].view(np.int32)) for o in outs)
        want = exact(act, z)
        err = ulps(outs[0], want)
        normal = np.abs(want) >= np.finfo(np.float32).tiny
        if normal.any():
            i = int(np.argmax(np.where(normal, err, -1)))
            if err[i] > worst_n:
                worst_n, arg = float(err[i]), float(z[i])
        if (~normal).any():
            worst_s = max(worst_s, float(err[~normal].max()))
    return worst_n, worst_s, arg, same


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(RANGES), default=None)
    p.add_argument("--isa", default=None, help="one ISA instead of every available one")
    args = p.parse_args()
    before = _core.get_isa()
    order = ["generic", "avx2", "avx512"]
    best = _core.cpu_info()["isa_detected"]
    isas = [args.isa] if args.isa else order[: order.index(best) + 1][::-1]
    try:
        for act in [args.only] if args.only else sorted(RANGES):
            n, s, z, same = sweep(act, isas)
            lo, hi = RANGES[act]
            print(f"{act:8s} every float in [{lo:g}, {hi:g}]: worst {n:.3f} ulp (at z = {z!r}), "
                  f"subnormal results {s:.3f} ulp; "
                  f"{'same bits' if same else 'DIFFERENT bits'} on {', '.join(isas)}")
    finally:
        _core.set_isa(before)


if __name__ == "__main__":
    main()
