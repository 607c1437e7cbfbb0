"""The uplinks: rate traces, transfer times and the links' FIFO queues.

A link's rate is a constant (``P_TRACED`` off: every transfer takes the cut table's
``C_TX_S``) or a repeating piecewise-constant trace (`splitgym.envs.core.traces.
RateTrace`), drawn at reset (a Markov chain by a compiled loop, held as a lazy
`MarkovTrace` whose arrays are never built here) and written into the env's ``T`` row
by `write_traces`: per distinct trace a block ``[n, period, total volume, constant,
times[n], rates[n], cumulative volumes[n + 1]]`` (links sharing one trace object share
its block; ``I``'s ``P_O_TOFF`` says where each link's starts). `finish` is
`RateTrace.finish` and `rate_at` `RateTrace.rate_at`, step for step (Python's float
``divmod`` and ``%`` included), so a transfer ends at the same bits on both engines.

What decisions see of a traced link's rate is its estimate (``F``'s ``P_O_RATE``
slots): the oracle's current rate, or the EWMA over completed transfers that
`observe_uplink` keeps; `est_tx` is the core's ``_est_tx`` for one cut.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from .heaps import ev_push
from .layout import (
    _TX_DONE,
    C_BITS,
    C_BYTES,
    C_OFFLOADS,
    C_SLOTS,
    C_TX_S,
    F_ALPHA,
    F_NOW,
    H_RATE,
    LQD_W,
    MIN_RATE_MBPS,
    O_TASK,
    P_EWMA,
    P_LINKS,
    P_LRING,
    P_O_CUT,
    P_O_HIST,
    P_O_LBD,
    P_O_LBUSY,
    P_O_LQ,
    P_O_LQD,
    P_O_LQH,
    P_O_RATE,
    P_O_TOFF,
    P_TRACED,
    T_LE,
    T_LS,
    TR_CONSTANT,
    TR_HEAD,
    TR_N,
    TR_PERIOD,
    TR_TOTAL,
)


@njit(cache=True, inline="always")
def py_divmod(x, y):
    """Python's ``divmod`` of two floats (CPython's float_divmod, step for step)."""
    mod = np.fmod(x, y)
    div = (x - mod) / y
    if mod != 0.0:
        if (y < 0) != (mod < 0):
            mod += y
            div -= 1.0
    else:
        mod = math.copysign(0.0, y)
    if div != 0.0:
        floordiv = np.floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = math.copysign(0.0, x / y)
    return floordiv, mod


@njit(cache=True, inline="always")
def py_mod(x, y):
    """Python's ``x % y`` of two floats (CPython's float_rem)."""
    mod = np.fmod(x, y)
    if mod != 0.0:
        if (y < 0) != (mod < 0):
            mod += y
    else:
        mod = math.copysign(0.0, y)
    return mod


@njit(cache=True)
def _search_right(a, lo, n, x):
    """``np.searchsorted(a[lo:lo + n], x, side="right")``."""
    i, j = 0, n
    while i < j:
        m = (i + j) >> 1
        if x < a[lo + m]:
            j = m
        else:
            i = m + 1
    return i


@njit(cache=True)
def _search_left(a, lo, n, x):
    """``np.searchsorted(a[lo:lo + n], x, side="left")``."""
    i, j = 0, n
    while i < j:
        m = (i + j) >> 1
        if a[lo + m] < x:
            i = m + 1
        else:
            j = m
    return i


@njit(cache=True)
def rate_at(tr, o, t):
    """`RateTrace.rate_at` of the trace block at ``tr[o:]``."""
    n = int(tr[o + TR_N])
    x = py_mod(t, tr[o + TR_PERIOD])
    return tr[o + TR_HEAD + n + _search_right(tr, o + TR_HEAD, n, x) - 1]


@njit(cache=True)
def _integral(tr, o, t):
    n = int(tr[o + TR_N])
    k, x = py_divmod(t, tr[o + TR_PERIOD])
    i = _search_right(tr, o + TR_HEAD, n, x) - 1
    return k * tr[o + TR_TOTAL] + tr[o + TR_HEAD + 2 * n + i] + \
        tr[o + TR_HEAD + n + i] * (x - tr[o + TR_HEAD + i])


@njit(cache=True)
def finish(tr, o, start, n_bytes):
    """`RateTrace.finish`: when a transfer of `n_bytes` starting at `start` ends."""
    need = 8.0 * n_bytes / 1e6
    if need <= 0:
        return start
    n = int(tr[o + TR_N])
    times, rates, cum = o + TR_HEAD, o + TR_HEAD + n, o + TR_HEAD + 2 * n
    if tr[o + TR_CONSTANT] != 0.0:
        r = tr[rates]
        return start + need / r if r > 0 else math.inf
    total = tr[o + TR_TOTAL]
    if total <= 0:
        return math.inf
    target = _integral(tr, o, start) + need
    k, rem = py_divmod(target, total)
    if rem == 0.0 and k > 0:  # ends exactly at a period's last positive rate
        k, rem = k - 1, total
    i = min(max(_search_left(tr, cum, n + 1, rem) - 1, 0), n - 1)
    j = i
    while j < n and tr[rates + j] <= 0:  # a zero-rate step cannot end a transfer
        j += 1
    if j == n:
        j = i
        while tr[rates + j] <= 0:
            j -= 1
    i = j
    return k * tr[o + TR_PERIOD] + tr[times + i] + (rem - tr[cum + i]) / tr[rates + i]


@njit(cache=True)
def link_rate(g, f, tr, P, link):
    """The rate estimate [Mbit/s] decisions see on a traced `link` now (the oracle's is
    the current rate, written back as the core's ``_est_tx`` does)."""
    o = P[P_O_RATE] + link
    if P[P_EWMA] == 0:
        f[o] = rate_at(tr, g[P[P_O_TOFF] + link], f[F_NOW])
    return f[o]


@njit(cache=True)
def unsent_end(g, f, tr, C, P, link):
    """When decisions are told `link`'s running transfer ends under ``ewma``: its bits
    not yet sent at the link's estimate (floored), from now (the core's
    ``Simulator.unsent_end_s``, the same floats in the same order)."""
    task = g[P[P_O_LBUSY] + link]
    o = g[P[P_O_TOFF] + link]
    now = f[F_NOW]
    sent = _integral(tr, o, now) - _integral(tr, o, f[O_TASK + 8 * task + T_LS])
    left = C[C_BITS, g[P[P_O_CUT] + task]] / 1e6 - sent
    r = f[P[P_O_RATE] + link]
    r = r if r > MIN_RATE_MBPS else MIN_RATE_MBPS
    return now + (left if left > 0 else 0.0) / r


@njit(cache=True, inline="always")
def est_tx(C, c, r):
    """Cut `c`'s transfer time [s] at an estimated rate `r` (the core's ``_est_tx``)."""
    if C[C_OFFLOADS, c] == 0.0:
        return 0.0
    return C[C_BITS, c] / (r * 1e6) if r > 0 else math.inf


@njit(cache=True)
def observe_uplink(g, f, C, P, link, task, t, ewma):
    """A transfer of `task` on `link` ended at `t`: record when, and the rate it
    achieved (a zero-time transfer measures nothing), and with `ewma` fold that rate
    into the link's EWMA estimate (the core's ``_observe_uplink``)."""
    oh = P[P_O_HIST]
    f[oh + H_RATE + P[P_LINKS] + link] = t
    dt = t - f[O_TASK + 8 * task + T_LS]
    if dt > 0:
        obs = C[C_BITS, g[P[P_O_CUT] + task]] / 1e6 / dt
        f[oh + H_RATE + link] = obs
        if ewma:
            a = f[F_ALPHA]
            o = P[P_O_RATE] + link
            f[o] = a * obs + (1 - a) * f[o]


@njit(cache=True)
def start_tx(g, f, tr, C, P, link, t):
    """The task at the head of `link`'s queue starts its transfer at `t` (it takes a
    cloud-queue slot)."""
    lring = P[P_LRING]
    slot = link * lring + (g[P[P_O_LQH] + link] & (lring - 1))
    task = g[P[P_O_LQ] + slot]
    g[P[P_O_LQH] + link] += 1
    g[C_SLOTS] += 1
    g[P[P_O_LBUSY] + link] = task
    base = O_TASK + 8 * task
    f[base + T_LS] = t
    d = P[P_O_LQD] + LQD_W * slot
    if P[P_TRACED] != 0:
        end = finish(tr, g[P[P_O_TOFF] + link], t, C[C_BYTES, g[P[P_O_CUT] + task]])
    else:
        end = t + f[d + 1]
    f[base + T_LE] = end
    o = P[P_O_LBD] + 2 * link
    f[o], f[o + 1] = end, f[d + 2]
    ev_push(g, f, P, end, (_TX_DONE << 32) + task)


def write_traces(traces, row):
    """Write the episode's link traces (`RateTrace`, one per link; the same object for
    links sharing one) into `row` (a float64 array, long enough: `traces_size`); return
    each link's block offset (int64). A drawn Markov trace (`MarkovTrace`) is written
    from its draw (`write_markov_block`, the same bits) without building its arrays."""
    from ..core.traces import MarkovTrace

    offsets = np.empty(len(traces), dtype=np.int64)
    seen: dict[int, int] = {}
    o = 0
    for link, tr in enumerate(traces):
        at = seen.get(id(tr))
        if at is None:
            at = seen[id(tr)] = o
            if type(tr) is MarkovTrace:
                times, states, t, rates = tr.draw
                write_markov_block(times, states, t, rates, row, o)
                o += TR_HEAD + 3 * times.size + 1
                offsets[link] = at
                continue
            n = tr.rates_mbps.size
            row[o + TR_N] = n
            row[o + TR_PERIOD] = tr.period_s
            row[o + TR_TOTAL] = tr.total_mbit
            row[o + TR_CONSTANT] = 1.0 if tr.constant else 0.0
            row[o + TR_HEAD:o + TR_HEAD + n] = tr.times_s
            row[o + TR_HEAD + n:o + TR_HEAD + 2 * n] = tr.rates_mbps
            row[o + TR_HEAD + 2 * n:o + TR_HEAD + 3 * n + 1] = tr._cum
            o += TR_HEAD + 3 * n + 1
        offsets[link] = at
    return offsets


def traces_size(traces) -> int:
    """How many floats `write_traces` writes for `traces`."""
    return sum(TR_HEAD + 3 * _steps(tr) + 1 for tr in {id(tr): tr for tr in traces}.values())


def _steps(tr) -> int:
    """A trace's number of steps (a `MarkovTrace`'s without building its arrays)."""
    draw = tr.__dict__.get("draw")
    return draw[0].size if draw is not None else tr.rates_mbps.size


__all__ = ["C_TX_S", "est_tx", "observe_uplink", "finish", "link_rate", "rate_at",
           "start_tx", "write_traces", "traces_size"]


@njit(cache=True)
def write_markov_block(times, states, t, rates, tr, o):
    """Write the trace block of a drawn Markov chain (step `times`, `states`, the draw's
    end `t`) at ``tr[o:]``, as `RateTrace` builds its arrays (``_markov``'s period,
    the cumulative volumes summed in order); return its total volume [Mbit]."""
    n = times.shape[0]
    last = times[n - 1] + 1e-9
    period = last if last > t else t  # Python's max(t, last)
    tr[o + TR_N] = n
    tr[o + TR_PERIOD] = period
    base_t, base_r, base_c = o + TR_HEAD, o + TR_HEAD + n, o + TR_HEAD + 2 * n
    constant = 1.0
    r0 = rates[states[0]]
    cum = 0.0
    tr[base_c] = 0.0
    for i in range(n):
        r = rates[states[i]]
        tr[base_t + i] = times[i]
        tr[base_r + i] = r
        if r != r0:
            constant = 0.0
        width = (times[i + 1] if i + 1 < n else period) - times[i]
        cum = cum + r * width
        tr[base_c + i + 1] = cum
    tr[o + TR_TOTAL] = cum
    tr[o + TR_CONSTANT] = constant
    return cum


@njit(cache=True)
def write_markov_chains(times, states, bounds, ends, rates, tr):
    """`write_markov_block` of each chain `traces._markov_chains` drew (chain j's steps
    at ``[bounds[j], bounds[j + 1])``, its end ``ends[j]``), one block after another
    from ``tr[0]``; return each block's offset and total volume [Mbit]."""
    count = ends.size
    offs = np.empty(count, dtype=np.int64)
    totals = np.empty(count)
    o = 0
    for j in range(count):
        lo, hi = bounds[j], bounds[j + 1]
        offs[j] = o
        totals[j] = write_markov_block(times[lo:hi], states[lo:hi], ends[j], rates, tr, o)
        o += TR_HEAD + 3 * (hi - lo) + 1
    return offs, totals


class MarkovDraws:
    """Markov-chain rate traces drawn for the compiled engine without building
    `RateTrace` objects: the draws of `splitgym.envs.core.traces`' ``markov`` generator
    (the start state as ``rng.choice`` draws it, then the same compiled step loop), bit
    for bit, written straight into a row's trace blocks. A spec is validated once (and
    again whenever it changes)."""

    def __init__(self) -> None:
        self._params: dict[int, Any] = {}

    def params(self, spec: Any, field: str) -> Any:
        """The spec's validated parameters (cached while its contents are unchanged)."""
        from ..core import traces

        key = repr(spec)
        hit = self._params.get(id(spec))
        if hit is not None and hit[0] == key and hit[1] is spec:
            return hit[2:]
        rates, dwell, trans, duration = traces.check_markov(spec, field)
        start, cdf = traces.markov_cdfs(dwell, trans)
        expected = duration / float(dwell.min())
        size = int(min(2 * expected + 16, 20 * traces.MAX_TRACE_STEPS))
        steps = traces._compiled(traces._markov_chains)
        self._params[id(spec)] = (key, spec, rates, dwell, start, cdf, float(duration),
                                  size, steps)
        return self._params[id(spec)][2:]

    def draw(self, spec: Any, rng: Any, field: str) -> Any:
        """One trace's ``(times, states, end, rates)``, or None when the draw ran past
        the generator's cap (the Python path then raises its error)."""
        from ..core import traces

        rates, dwell, start, cdf, duration, size, steps = self.params(spec, field)
        times, states, _, ends = steps(rng, start, cdf, dwell, duration, size,
                                       20 * traces.MAX_TRACE_STEPS, 1)
        return None if ends[0] < 0 else (times, states, float(ends[0]), rates)
