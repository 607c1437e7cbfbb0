"""A certified lower bound on the makespan: the fractional relaxation.

Each edge e splits its F_e tasks among the feasible cuts, ``x[e, k] >= 0`` with
``sum_k x[e, k] = F_e``, and the makespan T is at least each of:

* edge e: its first arrival ``a_e`` plus its compute ``sum_k x[e, k] Te(k)`` (the edge
  cannot start before its first frame and runs one task at a time);
* link of edge e (per-edge uplink): ``a_e + sum_k x[e, k] Tt(k)``; the shared link:
  ``min_e a_e + sum_e sum_k x[e, k] Tt(k)``;
* cloud: ``min_e a_e + sum_e sum_k x[e, k] Tc(k) / W`` with W cloud workers;
* the last arrival plus the fastest single-task time ``min_k Te + Tt + Tc``.

Every schedule's makespan satisfies all of them with integer x, so the LP minimum
(scipy's ``linprog``, HiGHS) is a lower bound. It ignores queue capacity, FIFO order
and idle time, so it is not tight. With a heterogeneous fleet each edge uses its own
edge times; with time-varying uplinks each link is charged at its trace's peak rate
(no transfer can be faster), so the bound stays certified.

**Drops** (``drop_late`` with a deadline D): a dropped frame never runs, so the LP's
"every frame is computed" no longer holds (with drops a policy can finish well under
the LP value). What still holds: a frame j is dropped only when its edge picks it after
``a_j + D``, and the edge is never idle while j waits, so a task that runs is on the
edge through ``(a_j + D, pick time)`` and completes after ``a_j + D``. Hence, for every
episode: either nothing is dropped (the LP holds) or some frame is (T > min_j a_j + D);
every frame gives T >= a_j + min(D, fastest) (run: at least its fastest time;
dropped: above); and each edge's first frame always runs (its edge is idle when it
arrives). The bound is the largest of these, no longer the LP alone.

A tighter, slower bound: `splitgym.baselines.cpsat` (``cpsat_lower_bound``) states the
episode as a CP-SAT scheduling relaxation (FIFO edges and per-edge links, the cloud in
any order, the queue capacity, integer cuts, every frame's arrival) and reports
``max(this LP bound, CP-SAT's proven bound)``; it refuses rate traces and drops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linprog

from splitgym.envs.core.config import SimConfig
from splitgym.profiles.cuts import CutTable


def episode_lower_bound(sim: Any) -> float:
    """`makespan_lower_bound` of a simulator's current episode (its arrivals, fleet and
    uplink traces)."""
    peak = None
    if sim._traces is not None:
        peak = [float(tr.rates_mbps.max()) for tr in sim._traces]
    return makespan_lower_bound(sim.cuts, sim.config, sim.arrivals, edge_s=sim._edge_s_of,
                                link_peak_mbps=peak)


def seed_lower_bounds(env: Any, seeds: Sequence[int]) -> list[float]:
    """The bound of each seed's episode of `env` (wrapped or not): reset, then bound."""
    out = []
    for seed in seeds:
        env.reset(seed=seed)
        out.append(episode_lower_bound(env.unwrapped.simulator))
    return out


def makespan_lower_bound(cuts: CutTable, config: SimConfig,
                         arrivals: Sequence[Sequence[float]],
                         edge_s: Sequence[Sequence[float]] | None = None,
                         link_peak_mbps: Sequence[float] | None = None) -> float:
    """The LP lower bound on the makespan [s] of any policy on these arrivals.

    `edge_s`: per-edge, per-cut edge times (a heterogeneous fleet); `link_peak_mbps`:
    per-link peak rates of time-varying uplinks (one for a shared link).
    """
    n_e = len(arrivals)
    peak = list(link_peak_mbps) if link_peak_mbps is not None else None
    rate = max(peak) if peak else config.bandwidth_mbps
    feasible = np.flatnonzero(cuts.feasible(rate))
    rows_te = np.asarray(edge_s)[:, feasible] if edge_s is not None else \
        np.tile(cuts.edge_s[feasible], (n_e, 1))
    if peak is not None and config.uplink == "per_edge":
        rows_tt = np.array([cuts.transfer_s(r)[feasible] for r in peak])
    else:
        rows_tt = np.tile(cuts.transfer_s(rate)[feasible], (n_e, 1))
    rows_tt = np.where(np.isfinite(rows_tt), rows_tt, 1e12)  # a dead link: never used
    tc = cuts.cloud_s[feasible]
    n_k = len(feasible)
    first = np.array([float(a[0]) for a in arrivals])
    frames = np.array([len(a) for a in arrivals], dtype=np.float64)
    last = max(float(a[-1]) for a in arrivals)
    n_var = n_e * n_k + 1  # x[e, k] row-major, then T
    t_col = n_var - 1
    rows, rhs = [], []

    def load(coeffs: np.ndarray, edges: Sequence[int], scale: float = 1.0) -> None:
        row = np.zeros(n_var)
        for e in edges:
            row[e * n_k:(e + 1) * n_k] = coeffs[e] * scale
        row[t_col] = -1.0
        rows.append(row)

    tc_rows = np.tile(tc, (n_e, 1))
    for e in range(n_e):
        load(rows_te, [e])
        rhs.append(-first[e])
    if config.uplink == "per_edge":
        for e in range(n_e):
            load(rows_tt, [e])
            rhs.append(-first[e])
    else:
        load(rows_tt, range(n_e))
        rhs.append(-first.min())
    load(tc_rows, range(n_e), 1.0 / config.cloud_workers)
    rhs.append(-first.min())
    a_eq = np.zeros((n_e, n_var))
    for e in range(n_e):
        a_eq[e, e * n_k:(e + 1) * n_k] = 1.0
    c = np.zeros(n_var)
    c[t_col] = 1.0
    fastest = float(np.min(rows_te + rows_tt + tc))
    bounds = [(0, None)] * (n_var - 1) + [(last + fastest, None)]
    res = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs), A_eq=a_eq, b_eq=frames,
                  bounds=bounds, method="highs")
    if not res.success:  # pragma: no cover - the LP is always feasible and bounded
        raise RuntimeError(f"lower-bound LP failed: {res.message}")
    bound = float(res.fun)
    if config.drop_late and config.deadline_s is not None:  # see the module docstring
        d = float(config.deadline_s)
        fastest_e = np.min(rows_te + rows_tt + tc, axis=1)  # per edge
        always = max(last + min(d, fastest), float(np.max(first + fastest_e)))
        bound = max(always, min(bound, float(first.min()) + d))
    return bound
