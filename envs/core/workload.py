"""Arrival times of frames: the only source of randomness of an episode.

`make_arrivals` draws the workload (periodic, Poisson or bursty) from a numpy `Generator` (the env's
episode seed); `check_arrivals` validates an explicit, recorded stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Sized
from typing import Any

import numpy as np

from .config import (
    MAX_EDGES,
    MAX_SWITCHES_PER_FRAME,
    MAX_TASKS,
    MAX_TIME_S,
    ConfigError,
    WorkloadConfig,
    is_finite,
    shown,
)


def make_arrivals(workload: WorkloadConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """Per-edge arrival times [s].

    Periodic (the paper's): frame k of edge e at ``phase_e + k / fps_e``. Draws, in this
    order, the per-edge fps (when `workload.fps` is a range) and the per-edge phases
    (when `workload.phase_s` is None), so one seed gives one workload. Poisson and
    bursty draw the per-edge fps, then each edge's process in edge order. The vector
    env makes the same draws compiled (`splitgym.envs.kernel.arrivals`).
    """
    n = workload.n_edges
    if isinstance(workload.fps, tuple):
        fps = rng.uniform(workload.fps[0], workload.fps[1], size=n)
    else:
        fps = np.full(n, workload.fps)
    frames = workload.frames_per_edge
    counts = list(frames) if isinstance(frames, tuple) else [frames] * n
    kind = workload.arrivals if isinstance(workload.arrivals, str) else \
        dict(workload.arrivals)["kind"]
    if kind == "periodic":
        if workload.phase_s is None:
            phase = rng.uniform(0.0, 1.0, size=n) / fps
        else:
            phase = np.asarray(workload.phase_s, dtype=np.float64)
        out = [phase[e] + np.arange(counts[e], dtype=np.float64) / fps[e] for e in range(n)]
    elif kind == "poisson":
        out = [np.cumsum(rng.exponential(1.0 / fps[e], size=counts[e])) for e in range(n)]
    else:
        params = {} if isinstance(workload.arrivals, str) else dict(workload.arrivals)
        out = [_mmpp(rng, fps[e], counts[e], params) for e in range(n)]
    check_generated(out, "arrivals")
    return out


def mean_gap_s(workload: WorkloadConfig) -> float | None:
    """The long-run mean gap [s] between an edge's frames under random (``poisson``,
    ``bursty``) arrivals, from the configuration alone (`SimConfig.arrival_gap_s`: what
    a decision is told of a frame not yet arrived); None for ``periodic`` arrivals,
    whose times are knowable. The rate is the configured fps (the middle of a
    ``(low, high)`` range: an edge's own draw is not told), times, for ``bursty``, the
    time-average factor ``(high_factor * dwell_high + low_factor * dwell_low) /
    (dwell_high + dwell_low)``."""
    kind = workload.arrivals if isinstance(workload.arrivals, str) else \
        dict(workload.arrivals)["kind"]
    if kind == "periodic":
        return None
    fps = workload.fps
    rate = (fps[0] + fps[1]) / 2 if isinstance(fps, tuple) else float(fps)
    if kind == "bursty":
        params = {} if isinstance(workload.arrivals, str) else dict(workload.arrivals)
        high = float(params.get("high_factor", 3.0))
        low = float(params.get("low_factor", 0.25))
        d_high, d_low = (float(x) for x in params.get("mean_dwell_s", (2.0, 6.0)))
        rate *= (high * d_high + low * d_low) / (d_high + d_low)
    return min(1.0 / rate, MAX_TIME_S) if rate > 0 else MAX_TIME_S


def check_generated(arrivals: Sequence[np.ndarray], field: str) -> None:
    """Refuse generated arrival times that are not finite, >= 0 and non-decreasing (the
    simulation, and the compiled engine above all, must never see them). `arrivals`: one
    sequence per edge, or a 2-D array (edges, frames), checked in one pass."""
    if isinstance(arrivals, np.ndarray) and arrivals.ndim == 2 and arrivals.shape[1] and \
            np.isfinite(arrivals).all() and (arrivals[:, 0] >= 0).all() and \
            (arrivals[:, 1:] >= arrivals[:, :-1]).all() and \
            (arrivals[:, -1] <= 2 * MAX_TIME_S).all():
        return
    for e, a in enumerate(arrivals):
        if a.size and not (np.isfinite(a).all() and a[0] >= 0 and (a[1:] >= a[:-1]).all()
                           and a[-1] <= 2 * MAX_TIME_S):
            raise ConfigError(f"{field}: edge {e}'s generated arrival times are not finite, "
                              f"within {2 * MAX_TIME_S:g} s and non-decreasing (first "
                              f"{a[:3].tolist()}); check the workload parameters")


def _mmpp(rng: np.random.Generator, fps: float, count: int,
          params: dict[str, Any]) -> np.ndarray:
    """A two-state Markov-modulated Poisson process: `count` arrival times (`mmpp_times`).

    The parameters were checked by `WorkloadConfig` (bounded expected state switches
    per frame); the loop also stops, with a `ConfigError`, past 20 times that bound.
    """
    rates = (fps * float(params.get("high_factor", 3.0)),
             fps * float(params.get("low_factor", 0.25)))
    dwell = [float(x) for x in params.get("mean_dwell_s", (2.0, 6.0))]
    budget = 20 * (count + 1) * (MAX_SWITCHES_PER_FRAME + 1)
    out, ok = mmpp_times(rng, float(rates[0]), float(rates[1]), dwell[0], dwell[1], count,
                         budget)
    if not ok:
        raise ConfigError(f"arrivals={params!r}: the bursty process switched state more "
                          f"than {20 * MAX_SWITCHES_PER_FRAME:g} times per frame")
    return out


def mmpp_times(rng: np.random.Generator, rate0: float, rate1: float, dwell0: float,
               dwell1: float, count: int, budget: int) -> tuple[np.ndarray, bool]:
    """`_mmpp`'s loop (plain Python, or compiled by numba as it is): `count` arrival
    times of states with Poisson rates `rate0`, `rate1` [1/s] and mean dwells [s]; False
    when it ran past `budget` iterations."""
    out = np.empty(count)
    state = 0 if rng.uniform() < dwell0 / (dwell0 + dwell1) else 1
    t = 0.0
    k = 0
    switch = rng.exponential(dwell0 if state == 0 else dwell1)
    while k < count:
        budget -= 1
        if budget < 0:
            return out[:k], False
        rate = rate0 if state == 0 else rate1
        nxt = rng.exponential(1.0 / rate) if rate > 0 else math.inf
        if nxt < switch:
            t += nxt
            switch -= nxt
            out[k] = t
            k += 1
        else:
            t += switch
            state = 1 - state
            switch = rng.exponential(dwell0 if state == 0 else dwell1)
    return out, True


def check_arrivals(arrivals: Any, field: str = "arrival_times_s") -> list[np.ndarray]:
    """Validate explicit per-edge arrival times: a non-empty list (one per edge) of
    non-empty, non-decreasing lists of finite times >= 0 [s].
    """
    if not isinstance(arrivals, Sequence) or isinstance(arrivals, (str, bytes)) \
            or len(arrivals) == 0:
        raise ConfigError(f"{field}: expected a non-empty list with one list of arrival "
                          f"times per edge, got {type(arrivals).__name__}")
    if len(arrivals) > MAX_EDGES:
        raise ConfigError(f"{field}: {len(arrivals)} edges; expected at most {MAX_EDGES}")
    sizes = [len(row) if isinstance(row, Sized) else 0 for row in arrivals]
    if sum(sizes) > MAX_TASKS:  # before converting anything
        raise ConfigError(f"{field}: {sum(sizes)} arrival times in all; expected at most "
                          f"{MAX_TASKS} per episode")
    out = []
    for e, row in enumerate(arrivals):
        try:
            a = np.asarray(row, dtype=np.float64)
        except OverflowError:  # an integer beyond a float's range
            k = next((i for i, v in enumerate(row) if not is_finite(v)), 0)
            raise ConfigError(f"{field}[{e}][{k}]={shown(row[k])}: expected a finite time in "
                              f"[0, {MAX_TIME_S:g}] s") from None
        except (TypeError, ValueError):
            raise ConfigError(f"{field}[{e}]: expected a list of numbers, got "
                              f"{shown(row)[:200]}") from None
        if a.ndim != 1 or a.size == 0:
            raise ConfigError(f"{field}[{e}]: expected a non-empty flat list of times")
        if a.size > MAX_TASKS:
            raise ConfigError(f"{field}[{e}]: {a.size} arrival times; expected at most "
                              f"{MAX_TASKS} per episode")
        bad = ~np.isfinite(a) | (a < 0) | (a > MAX_TIME_S)
        if bad.any():
            k = int(np.argmax(bad))
            given = row[k] if isinstance(row, Sequence) and k < len(row) else float(a[k])
            raise ConfigError(f"{field}[{e}][{k}]={shown(given)}: expected a finite time in "
                              f"[0, {MAX_TIME_S:g}] s")
        dec = np.diff(a) < 0
        if dec.any():
            k = int(np.argmax(dec)) + 1
            raise ConfigError(f"{field}[{e}][{k}]={float(a[k])!r}: arrivals must be non-decreasing "
                              f"(previous {float(a[k - 1])!r})")
        out.append(a)
    return out
