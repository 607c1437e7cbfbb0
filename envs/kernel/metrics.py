"""A finished episode's metrics and edge energy, compiled: what `Simulator.metrics` and
`splitgym.envs.core.energy.edge_energy_j` compute with numpy, replayed operation by
operation over a kernel row, so the same bits without numpy's per-call cost (the
vector env pays it for every episode that ends).

Bit for bit because every step is numpy's own arithmetic in numpy's order: elementwise
products, sums and minima as IEEE operations (numba contracts nothing without
fastmath), `pairwise_sum` as numpy sums a contiguous float64 array (its 8-accumulator
blocks of up to 128 and its halving above), the mean as that sum over the count, the
percentiles as numpy's linear method on the sorted values. Tests compare each with
numpy on random arrays and every metric with the Python core's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .layout import (
    C_DROPPED,
    C_MISSED,
    F_MAKESPAN,
    O_TASK,
    P_EDGES,
    P_K,
    P_O_CUT,
    P_O_DROP,
    P_O_OFF,
    T_ARR,
    T_DONE,
    T_EE,
    T_ES,
    T_LE,
    T_LS,
)

#: `row_metrics`' columns before the cut histogram.
(M_MAKESPAN, M_MEAN, M_P95, M_P99, M_MAX, M_TASKS, M_DROPPED, M_MISSED) = range(8)
N_M = 8


@njit(cache=True)
def _block(a, lo, n):
    """The pairwise sum numpy takes of a block of ``n <= 128`` values from ``a[lo]``: plain
    below 8, else 8 accumulators combined as a tree, then the tail."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _pairwise(a, lo, n):
    """The pairwise sum numpy takes of ``a[lo:lo + n]`` (`pairwise_sum_DOUBLE`): above 128
    values the sum of its halves' sums (the first half a multiple of 8). Its recursion
    walked with an explicit stack (numba's cache does not load recursive functions
    safely)."""
    if n <= 128:
        return _block(a, lo, n)
    los = np.empty(64, dtype=np.int64)  # the open nodes: start, size, which child is
    ns = np.empty(64, dtype=np.int64)   # next (0 left, 1 right), the left one's sum
    side = np.empty(64, dtype=np.int64)
    left = np.empty(64)
    d = 0
    los[0], ns[0], side[0] = lo, n, 0
    have = False  # whether `val` is a finished child's sum for node d
    val = 0.0
    while True:
        if have:
            if d < 0:
                return val
            if side[d] == 0:
                left[d] = val
                side[d] = 1
                have = False
            else:
                val = left[d] + val
                d -= 1
            continue
        half = ns[d] // 2
        half -= half % 8
        c_lo, c_n = (los[d], half) if side[d] == 0 else (los[d] + half, ns[d] - half)
        if c_n <= 128:
            val = _block(a, c_lo, c_n)
            have = True
        else:
            d += 1
            los[d], ns[d], side[d] = c_lo, c_n, 0


@njit(cache=True)
def pairwise_sum(a):
    """``float(np.sum(a))`` of a 1-D float64 array (numpy's reduction starts from 0)."""
    return 0.0 + _pairwise(a, 0, a.size)


@njit(cache=True)
def _percentile(ranked, q):
    """``np.percentile(a, q)`` given ``ranked = np.sort(a)`` (non-empty, no NaN)."""
    n = ranked.size
    v = (n - 1) * (q / 100)
    if v >= n - 1:
        return ranked[n - 1]
    p = math.floor(v)
    a = ranked[p]
    b = ranked[p + 1]
    gamma = v - p
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


@njit(cache=True)
def _np_max(a, b):
    """``np.maximum(a, b)`` (NaN propagates)."""
    if math.isnan(a):
        return a
    if math.isnan(b):
        return b
    return a if a >= b else b


@njit(cache=True)
def _np_min(a, b):
    """``np.minimum(a, b)`` (NaN propagates)."""
    if math.isnan(a):
        return a
    if math.isnan(b):
        return b
    return a if a <= b else b


@njit(cache=True)
def row_metrics(rows, I, F, P2, out):
    """`Simulator.metrics` of the finished episodes of rows `rows` into ``out[j]``
    (columns ``M_*``, then the cut histogram; row i's layout ``P2[i]``)."""
    for j in range(rows.size):
        i = rows[j]
        P = P2[i]
        g, f = I[i], F[i]
        n = g[P[P_O_OFF] + P[P_EDGES]]
        k = P[P_K]
        oc, od = P[P_O_CUT], P[P_O_DROP]
        lat = np.empty(n)
        m = 0
        for t in range(n):
            if g[od + t] == 0:
                o = O_TASK + 8 * t
                lat[m] = f[o + T_DONE] - f[o + T_ARR]
                m += 1
        lat = lat[:m]
        r = out[j]
        r[M_MAKESPAN] = f[F_MAKESPAN]
        if m:
            r[M_MEAN] = pairwise_sum(lat) / m
            ranked = np.sort(lat)
            r[M_P95] = _percentile(ranked, 95)
            r[M_P99] = _percentile(ranked, 99)
            # numpy's max: the last of the sorted values (no NaN, no -0.0 latencies)
            r[M_MAX] = ranked[m - 1]
        else:
            r[M_MEAN] = r[M_P95] = r[M_P99] = r[M_MAX] = 0.0
        r[M_TASKS] = n
        r[M_DROPPED] = g[C_DROPPED]
        r[M_MISSED] = g[C_MISSED]
        for c in range(k):
            r[N_M + c] = 0.0
        for t in range(n):
            c = g[oc + t]
            if c >= 0:
                r[N_M + c] += 1.0


@njit(cache=True)
def row_energy(rows, I, F, P2, idle_w, compute_w, tx_base_w, tx_w_per_mbps, tail_w,
               tail_s, transfer_bytes, out):
    """``edge_energy_j(records, model)`` (the whole episode) of the finished episodes of
    rows `rows` into ``out[j]``, and their frames served into ``out[j + rows.size]``;
    the model's figures per edge (its fleet is every row's)."""
    m = rows.size
    for j in range(m):
        out[j], out[j + m] = _row_energy(rows[j], I, F, P2, idle_w, compute_w, tx_base_w,
                                         tx_w_per_mbps, tail_w, tail_s, transfer_bytes)


@njit(cache=True)
def row_results(rows, energy_of, I, F, P2, idle_w, compute_w, tx_base_w, tx_w_per_mbps,
                tail_w, tail_s, transfer_bytes, out):
    """A vector env's ending rows in one call: `row_metrics` of rows `rows` into
    ``out[j, :-2]`` and, where ``energy_of[j]``, `row_energy`'s energy and frames served
    into ``out[j, -2:]`` (else zeros)."""
    w = out.shape[1]
    row_metrics(rows, I, F, P2, out[:, :w - 2])
    for j in range(rows.size):
        if energy_of[j]:
            out[j, w - 2], out[j, w - 1] = _row_energy(
                rows[j], I, F, P2, idle_w, compute_w, tx_base_w, tx_w_per_mbps, tail_w,
                tail_s, transfer_bytes)
        else:
            out[j, w - 2] = out[j, w - 1] = 0.0


@njit(cache=True)
def _row_energy(i, I, F, P2, idle_w, compute_w, tx_base_w, tx_w_per_mbps, tail_w, tail_s,
                transfer_bytes):
    """``edge_energy_j(records, model)`` of row i's finished episode, and its frames
    served (see `row_energy`)."""
    n_e = idle_w.size
    P = P2[i]
    g, f = I[i], F[i]
    off = P[P_O_OFF]
    n = g[off + P[P_EDGES]]
    oc, od = P[P_O_CUT], P[P_O_DROP]
    # _window_end_s: per edge, when its window ends (inf while a frame is unfinished)
    ends = np.zeros(n_e)
    unfinished = np.zeros(n_e, dtype=np.bool_)
    served = 0
    for e in range(n_e):
        for t in range(g[off + e], g[off + e + 1]):
            o = O_TASK + 8 * t
            comp, arr = f[o + T_DONE], f[o + T_ARR]
            dropped = g[od + t] != 0
            served += not dropped
            last = arr if math.isnan(comp) else _np_max(comp, arr)
            ends[e] = _np_max(ends[e], last)
            if not (not math.isnan(comp) or dropped):
                unfinished[e] = True
    for e in range(n_e):
        if unfinished[e]:
            ends[e] = math.inf
    # until_s = inf: t_e = minimum(ends, inf) = ends
    prod = np.empty(max(n_e, n))
    for e in range(n_e):
        prod[e] = idle_w[e] * ends[e]
    idle = pairwise_sum(prod[:n_e])
    ei = np.empty(n, dtype=np.int64)
    sent = np.empty(n, dtype=np.int64)
    ns = 0
    for e in range(n_e):
        w = compute_w[e] - idle_w[e]
        for t in range(g[off + e], g[off + e + 1]):
            o = O_TASK + 8 * t
            es, ee = f[o + T_ES], f[o + T_EE]
            if math.isnan(es):
                es = ee = 0.0
            busy = _np_max(_np_min(ee, ends[e]) - es, 0.0)
            prod[t] = w * busy
            ei[t] = e
            if not math.isnan(f[o + T_LS]):
                sent[ns] = t
                ns += 1
    compute = pairwise_sum(prod[:n])
    if ns == 0:
        total = idle + compute
    else:
        # the radio's energy over each transfer, then its tail
        tail = np.empty(ns)
        for q in range(ns):
            t = sent[q]
            e = ei[t]
            o = O_TASK + 8 * t
            ls, le, te = f[o + T_LS], f[o + T_LE], ends[e]
            d = le - ls
            mbit = 8.0 * transfer_bytes[g[oc + t]] / 1e6
            joules = tx_base_w[e] * d + tx_w_per_mbps[e] * mbit
            if te >= le:
                frac = 1.0
            else:
                frac = _np_max(te - ls, 0.0) / (d if d > 0 else 1.0)
            prod[q] = joules * frac
            nxt = math.inf
            if q + 1 < ns and ei[sent[q + 1]] == e:
                nxt = f[O_TASK + 8 * sent[q + 1] + T_LS]
            tail_end = _np_min(_np_min(le + tail_s[e], nxt), te)
            tail[q] = tail_w[e] * _np_max(tail_end - le, 0.0)
        radio = pairwise_sum(prod[:ns])
        total = idle + compute + radio + pairwise_sum(tail)
    return total, served
