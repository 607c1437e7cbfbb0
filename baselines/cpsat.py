"""A proven lower bound on the makespan from a CP-SAT relaxation of one episode.

The LP bound (`splitgym.baselines.bounds`) charges each resource its load; it knows no
order, no release time beyond the first frame, no integrality of cuts. This module
states one episode, its arrivals known, as a scheduling model for OR-Tools' CP-SAT and
reports what it proves, converted back to seconds, as a lower bound on the makespan of
every policy; the bound reported is the larger of it and the LP bound.

The model (per task j of edge e, frame f, arrival a_j):

* a cut per task: one Boolean per feasible cut, exactly one true; cuts that another
  cut matches or beats in edge, transfer and cloud time (and that offload whenever it
  does) are left out, which cannot change the model's optimum (shrinking a task's
  times keeps every constraint below satisfied);
* edge: ``es_j >= a_j``, ``ee_j = es_j + Te(cut_j)`` and the edge's frames in FIFO
  order, ``es_j >= ee_{j-1}``;
* link (offloading tasks only): ``ls_j >= ee_j``, ``le_j = ls_j + Tt(cut_j)``; a per-edge
  link serves its edge's offloading tasks in frame order (exact FIFO); the **shared
  link is a NoOverlap**, any order;
* cloud: ``cs_j >= le_j``, ``ce_j = cs_j + Tc(cut_j)``, a **Cumulative of capacity W**
  (NoOverlap for one worker): any order, not arrival order;
* queue capacity C: a Cumulative of capacity C over ``[ls_j, ce_j)``;
* makespan ``M >= ee_j`` and ``M >= ce_j`` for offloading tasks; minimize M.

What it relaxes (every schedule the simulator can produce satisfies the model):

* starts may wait: the simulator's edges, links and cloud never idle while work is
  waiting, and its decisions are online; the model allows any delay and any cut
  sequence (it is an offline relaxation, and waiting never helps a makespan except
  through the orders relaxed next);
* the cloud's FIFO order (arrival order) is relaxed to any order, and with a shared
  link its FIFO order (edge completion order) too;
* blocking: a task blocked on a full queue holds its link in the simulator; in the
  model the link is free during the wait (the queue's Cumulative still holds);
* integer time: every duration and release time is rounded *down* to the resolution
  (default 10 us) after subtracting 1 ns (more than floating-point addition can lose
  on times below 10^6 s), so the simulator's own float schedule, floored to the grid,
  is a solution of the model; the proven bound is converted back rounding down.

So ``resolution x (the model's optimum) <= every simulated makespan``, and every T
the solver proves infeasible is below the model's optimum. Valid for: constant uplink
rates (per-edge or shared, including 0, where only edge-only is feasible), any arrivals (periodic,
Poisson, bursty: they are known), heterogeneous fleets, any queue capacity and cloud
workers, deadlines without drops (a deadline does not change the schedule).
**Refused** (`UnsupportedRelaxationError`): time-varying uplink traces (a transfer's
time depends on its start; the trace's integral is not bounded here to the precision
the argument needs) and ``drop_late`` (a dropped frame never runs).

How it proves, within ``time_limit_s``:

1. **Release-time LP** (`_release_lp`, HiGHS, well under a second): the LP with a
   fractional cut per *task* and a row per frame arrival (the edge's and link's work
   from that frame on starts after it) and per earliest cloud arrival (the cloud work
   that cannot reach the cloud before h is done after h): a valid bound on the same
   grid, usually above the LP bound.
2. **Probes per edge** (60% of the time): each edge alone (its frames, its link and
   the cloud; the other edges dropped, a relaxation too), "is there a schedule with
   makespan <= T?" for T rising from the bound; each INFEASIBLE answer proves the
   makespan > T. Minimizing instead would raise CP-SAT's objective bound one tick at a
   time, too slowly on a 10 us grid; presolve is off (it costs more than it saves on
   these probes).
3. **Probes for the whole episode** (the rest of the time), from the bound so far.

By default the probes stop at a wall-clock limit, so how far they get depends on the
machine and its load; every value reported is proven either way. With ``work_limit``
they stop at a budget of CP-SAT's deterministic time instead (its own measure of work,
in "deterministic seconds", counted the same on every machine and load), on one
worker: the bound is then the same on every run, bit for bit, for one OR-Tools
version.

Measured on the paper's 12 scenarios: see docs/model.md, "Lower bounds and
best_known".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from splitgym.envs.core.config import is_real

from .bounds import episode_lower_bound

#: Ticks per second of the model's integer time (10 us).
DEFAULT_TICKS_PER_S = 100_000
#: Subtracted from every duration before rounding down [s]: more than the error of one
#: floating-point addition on times below 10^6 s (2^-53 * 10^6 ~ 1.1e-10 s).
_FLOAT_SLACK_S = Fraction(1, 10**9)
#: Share of the time limit spent on the per-edge models (the rest on the whole one).
_EDGE_SHARE = 0.6
#: At most this many release-time cuts on the cloud per model.
_HEAD_CUTS = 40


class UnsupportedRelaxationError(ValueError):
    """A configuration for which the CP-SAT model is not a proven relaxation."""


@dataclass(frozen=True)
class CpsatBound:
    """The result of `cpsat_lower_bound`.

    ``bound_s``: the lower bound reported, ``max(lp_s, cpsat_s)`` [s]; ``cpsat_s``: the
    bound this module proves (the release-time LP, then CP-SAT's probes above it), in
    seconds rounded down; ``lp_s``: the LP bound of `splitgym.baselines.bounds`;
    ``release_lp_s``: the release-time LP alone (`_release_lp`, on the model's grid);
    ``best_s``: the best solution of the *relaxation* the solver found (nan if none; it
    need not be achievable in the simulator); ``status``: CP-SAT's status name
    (``OPTIMAL`` when ``cpsat_s`` is the relaxation's optimum); ``wall_s``: solve time.
    """

    bound_s: float
    cpsat_s: float
    lp_s: float
    release_lp_s: float
    best_s: float
    status: str
    wall_s: float


class _Budget:
    """What the probes have spent: wall-clock seconds since it was made, or (with a
    `work_limit`) CP-SAT deterministic time summed over the solves charged to it."""

    def __init__(self, work_limit: float | None) -> None:
        self.deterministic = work_limit is not None
        self._t0 = time.perf_counter()
        self._work = 0.0

    def used(self) -> float:
        return self._work if self.deterministic else time.perf_counter() - self._t0

    def limit(self, solver: Any, amount: float) -> None:
        if self.deterministic:
            solver.parameters.max_deterministic_time = amount
        else:
            solver.parameters.max_time_in_seconds = amount

    def charge(self, solver: Any) -> None:
        self._work += float(solver.deterministic_time)


def _seconds_down(ticks: int, ticks_per_s: int) -> float:
    """``ticks / ticks_per_s`` as a float no larger than the exact value."""
    x = float(Fraction(ticks, ticks_per_s))
    if Fraction(x) > Fraction(ticks, ticks_per_s):  # rounded up: one step down
        x = math.nextafter(x, -math.inf)
    return x


def _ticks_down(x: float, ticks: int, slack: Fraction = Fraction(0)) -> int:
    """``floor((x - slack) * ticks)`` in exact arithmetic, at least 0."""
    return max(0, math.floor((Fraction(x) - slack) * ticks))


def _release_lp(opts_of_task: list[list[tuple[int, int, int, int, bool]]],
                rel: list[int], edge_of: list[int], shared: bool, workers: int) -> int:
    """The LP bound with release times, per task, in ticks (rounded down, one tick
    off for the solver's tolerance): fractional cuts ``x[j, k]`` per task, and for every
    task j (its frame's arrival r_j):

    * edge / link of its edge: ``T >= r_j + sum over later frames i of Te_i`` (and of
      ``Tt_i``), since they all start on that edge (link) after r_j; a shared link sums
      the tasks of every edge that arrive at or after r_j;
    * cloud: with ``h_i = r_i + min over offloading cuts of (Te + Tt)``, the earliest a
      task can reach the cloud, ``W (T - h) >= sum of Tc_i over tasks with h_i >= h``;
    * ``T >= r_j + min_k (Te + Tt + Tc)``.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    n = len(rel)
    col0 = np.concatenate([[0], np.cumsum([len(o) for o in opts_of_task])]).astype(int)
    n_var = int(col0[-1]) + 1
    t_col = n_var - 1
    rows_i: list[int] = []
    rows_j: list[int] = []
    vals: list[float] = []
    rhs: list[float] = []

    def add_row(tasks: list[int], field: int, scale: float, bound: float) -> None:
        r = len(rhs)
        for j in tasks:
            for k, c in enumerate(opts_of_task[j]):
                if c[field]:
                    rows_i.append(r)
                    rows_j.append(int(col0[j]) + k)
                    vals.append(c[field] * scale)
        rows_i.append(r)
        rows_j.append(t_col)
        vals.append(-1.0)
        rhs.append(-float(bound))

    by_edge: dict[int, list[int]] = {}
    for j in range(n):
        by_edge.setdefault(edge_of[j], []).append(j)
    for tasks in by_edge.values():
        for i, j in enumerate(tasks):
            add_row(tasks[i:], 1, 1.0, rel[j])
            if not shared:
                add_row(tasks[i:], 2, 1.0, rel[j])
    if shared:
        for r in sorted(set(rel)):
            add_row([j for j in range(n) if rel[j] >= r], 2, 1.0, r)
    heads = [rel[j] + min((c[1] + c[2] for c in opts_of_task[j] if c[4]), default=-1)
             for j in range(n)]
    for h in sorted({h for h in heads if h >= 0}):
        add_row([j for j in range(n) if heads[j] >= h], 3, 1.0 / workers, h)
    a_ub = coo_matrix((vals, (rows_i, rows_j)), shape=(len(rhs), n_var)).tocsr()
    a_eq = coo_matrix(([1.0] * (n_var - 1), ([j for j in range(n)
                                              for _ in opts_of_task[j]],
                                             list(range(n_var - 1)))),
                      shape=(n, n_var)).tocsr()
    c = np.zeros(n_var)
    c[t_col] = 1.0
    fastest = max(rel[j] + min(o[1] + o[2] + o[3] for o in opts_of_task[j])
                  for j in range(n))
    res = linprog(c, A_ub=a_ub, b_ub=np.array(rhs), A_eq=a_eq, b_eq=np.ones(n),
                  bounds=[(0, None)] * (n_var - 1) + [(fastest, None)], method="highs")
    if not res.success:  # pragma: no cover - always feasible and bounded
        return 0
    return max(0, math.floor(float(res.fun)) - 1)


def cpsat_lower_bound(sim_or_env: Any, time_limit_s: float = 10.0, workers: int = 1,
                      ticks_per_s: int = DEFAULT_TICKS_PER_S,
                      hint: Any = None, work_limit: float | None = None) -> CpsatBound:
    """A proven lower bound on the makespan of the current episode (see module doc).

    Args:
        sim_or_env: a `Simulator` after ``reset`` or an env (wrapped or not) after
            ``reset``: its episode's arrivals, fleet and configuration are bounded.
        time_limit_s: CP-SAT's time limit [s]; the bound is valid whenever it stops.
        workers: CP-SAT's ``num_workers`` (1 is deterministic).
        ticks_per_s: integer time units per second.
        hint: an optional plan (cut per task, edge-major) given to the solver as a
            hint, e.g. ``best_known``'s; it only speeds up finding solutions.
        work_limit: instead of `time_limit_s`, a budget of CP-SAT deterministic time
            (summed over the probes; CP-SAT's own measure of work, one unit took about
            3 s of wall time on this project's machine): the bound no longer depends
            on the machine or its load. Needs ``workers=1``.

    Raises:
        UnsupportedRelaxationError: uplink traces or ``drop_late`` (module doc).
    """
    from ortools.sat.python import cp_model

    sim = getattr(getattr(sim_or_env, "unwrapped", sim_or_env), "simulator", sim_or_env)
    cfg = sim.config
    if sim._traces is not None:
        raise UnsupportedRelaxationError(
            "bandwidth_mbps: a time-varying uplink trace; the CP-SAT bound needs a "
            "constant rate (use the LP bound, splitgym.baselines.bounds)")
    if cfg.drop_late and cfg.deadline_s is not None:
        raise UnsupportedRelaxationError(
            f"drop_late=True (deadline_s={cfg.deadline_s}): dropped frames never run, "
            f"so the CP-SAT model is no relaxation (use the LP bound)")
    if not (isinstance(ticks_per_s, int) and ticks_per_s >= 1):
        raise ValueError(f"ticks_per_s={ticks_per_s!r}: expected a whole number >= 1")
    if work_limit is not None:
        if not (is_real(work_limit) and 0 < work_limit < math.inf):
            raise ValueError(f"work_limit={work_limit!r}: expected deterministic seconds > 0")
        if workers != 1:
            raise ValueError(f"work_limit={work_limit!r} with workers={workers!r}: a "
                             f"deterministic budget needs workers=1")
    elif not (is_real(time_limit_s) and 0 < time_limit_s < math.inf):
        raise ValueError(f"time_limit_s={time_limit_s!r}: expected seconds > 0")
    budget = _Budget(work_limit)
    t0 = time.perf_counter()
    lp = episode_lower_bound(sim)
    cuts = sim.cuts
    arrivals = [np.asarray(a, dtype=np.float64) for a in sim.arrivals]
    n_e = len(arrivals)
    edge_rows = sim._edge_s_of if sim._edge_s_of is not None else [cuts.edge_s.tolist()] * n_e
    feasible = np.flatnonzero(sim.mask)
    tx = sim.transfer_s
    off = cuts.offloads
    slack = _FLOAT_SLACK_S

    def options(row: Any) -> list[tuple[int, int, int, int, bool]]:
        """(cut, Te, Tt, Tc, offloads) in ticks, dominated cuts left out."""
        opts = []
        for k in feasible:
            o = bool(off[k])
            opts.append((int(k), _ticks_down(row[k], ticks_per_s, slack),
                         _ticks_down(tx[k], ticks_per_s, slack) if o else 0,
                         _ticks_down(cuts.cloud_s[k], ticks_per_s, slack) if o else 0, o))
        kept = []
        for i, a in enumerate(opts):
            dominated = any(
                (b[1] <= a[1] and b[2] <= a[2] and b[3] <= a[3] and (a[4] or not b[4]))
                and (b[1:] != a[1:] or j < i) for j, b in enumerate(opts) if j != i)
            if not dominated:
                kept.append(a)
        return kept

    opts_of_edge = [options(edge_rows[e]) for e in range(n_e)]
    # Horizon: the best fixed-cut makespan (achievable), so the relaxation's optimum,
    # below every achievable makespan, lies inside it.
    from splitgym.envs.core.simulator import Simulator

    probe = Simulator(cuts, cfg)
    inputs = sim.episode_inputs()
    ub = min(probe.run_fixed(cut=int(k), **inputs)["makespan_s"] for k in feasible)
    horizon = math.ceil(Fraction(ub) * ticks_per_s) + 1

    lp_ticks = _ticks_down(lp, ticks_per_s, slack)
    opts_of_task = [opts_of_edge[e] for e in range(n_e) for _ in arrivals[e]]
    rel_of_task = [_ticks_down(float(a), ticks_per_s) for e in range(n_e)
                   for a in arrivals[e]]
    edge_of_task = [e for e in range(n_e) for _ in arrivals[e]]
    release_ticks = (_release_lp(opts_of_task, rel_of_task, edge_of_task,
                                 cfg.uplink == "shared", int(cfg.cloud_workers))
                     if opts_of_task else 0)
    release_s = _seconds_down(release_ticks, ticks_per_s)
    lp_ticks = max(lp_ticks, release_ticks)
    hint_plan = None if hint is None else [int(c) for c in hint]
    offset = np.concatenate([[0], np.cumsum([len(a) for a in arrivals])]).astype(int)
    total = float(time_limit_s) if work_limit is None else float(work_limit)

    def solve(edges: list[int], floor: int, limit_s: float,
              probe_s: float) -> tuple[int, float, str]:
        """The model restricted to `edges`' tasks (a relaxation: the other edges'
        tasks are dropped), solved within `limit_s`: (proven bound in ticks, best
        objective in ticks or nan, status name)."""
        m = cp_model.CpModel()
        mk = m.new_int_var(0, horizon, "makespan")
        w = int(cfg.cloud_workers)
        link_iv: list[Any] = []
        cloud_iv: list[Any] = []
        queue_iv: list[Any] = []
        heads: list[tuple[int, Any]] = []  # (earliest cloud start, cloud time) per task
        for e in edges:
            opts = opts_of_edge[e]
            prev_ee = None
            link_free = None  # when the edge's link is free after its frames so far
            for f, a in enumerate(arrivals[e]):
                task = int(offset[e]) + f
                rel = _ticks_down(float(a), ticks_per_s)
                xs = [m.new_bool_var(f"x{task}_{c[0]}") for c in opts]
                m.add_exactly_one(xs)
                if hint_plan is not None:
                    for x, c in zip(xs, opts, strict=True):
                        m.add_hint(x, c[0] == hint_plan[task])
                te = sum(x * c[1] for x, c in zip(xs, opts, strict=True))
                es = m.new_int_var(rel, horizon, f"es{task}")
                ee = m.new_int_var(rel, horizon, f"ee{task}")
                m.add(ee == es + te)
                if prev_ee is not None:
                    m.add(es >= prev_ee)
                prev_ee = ee
                m.add(mk >= ee)
                offl = [x for x, c in zip(xs, opts, strict=True) if c[4]]
                if not offl:
                    continue
                if len(offl) == len(xs):
                    o = m.new_constant(1)
                else:
                    o = m.new_bool_var(f"o{task}")
                    m.add(o == sum(offl))
                # Unconditional precedences, so that the LP relaxation is a chain:
                # an edge-only task's transfer and cloud parts have zero length and may
                # sit at its edge end (or the link's free time), which constrains nothing
                # its real schedule does not (its intervals are absent from resources).
                ls = m.new_int_var(rel, horizon, f"ls{task}")
                le = m.new_int_var(rel, horizon, f"le{task}")
                cs = m.new_int_var(rel, horizon, f"cs{task}")
                ce = m.new_int_var(rel, horizon, f"ce{task}")
                dt = m.new_int_var(0, max(c[2] for c in opts), f"dt{task}")
                dc = m.new_int_var(0, max(c[3] for c in opts), f"dc{task}")
                dq = m.new_int_var(0, horizon, f"dq{task}")
                m.add(dt == sum(x * c[2] for x, c in zip(xs, opts, strict=True)))
                m.add(dc == sum(x * c[3] for x, c in zip(xs, opts, strict=True)))
                m.add(le == ls + dt)
                m.add(ce == cs + dc)
                m.add(ls >= ee)
                m.add(cs >= le)
                m.add(mk >= ce)
                heads.append((rel + min(c[1] + c[2] for c in opts if c[4]), dc))
                link_iv.append(m.new_optional_interval_var(ls, dt, le, o, f"L{task}"))
                cloud_iv.append(m.new_optional_interval_var(cs, dc, ce, o, f"C{task}"))
                queue_iv.append(m.new_optional_interval_var(ls, dq, ce, o, f"Q{task}"))
                # FIFO in frame order: a per-edge link serves only its edge, and on a
                # shared link one edge's tasks still leave in their completion order
                if link_free is not None:
                    m.add(ls >= link_free)
                link_free = le
        if cfg.uplink == "shared" and len(edges) > 1 and link_iv:
            m.add_no_overlap(link_iv)
        if cloud_iv and w < len(cloud_iv):
            if w == 1:
                m.add_no_overlap(cloud_iv)
            else:
                m.add_cumulative(cloud_iv, [1] * len(cloud_iv), w)
        # Redundant cuts for the LP inside CP-SAT: the cloud's W servers cannot start a
        # task before its earliest arrival (its frame's arrival plus its fastest edge
        # part and transfer), so for every threshold h the tasks that cannot reach the
        # cloud before h need W * (makespan - h) >= their cloud time.
        for h in sorted({hd for hd, _ in heads})[:_HEAD_CUTS]:
            later = [d for hd, d in heads if hd >= h]
            m.add(w * mk >= w * h + sum(later))
        if queue_iv and int(cfg.queue_capacity) < len(queue_iv):
            m.add_cumulative(queue_iv, [1] * len(queue_iv), int(cfg.queue_capacity))
        # Proving: probes "is there a schedule with makespan <= T?" and raises the
        # proven bound to T + 1 on each INFEASIBLE answer (bisection between the bound
        # and the best solution); minimizing directly raises CP-SAT's bound one tick at
        # a time, far too slowly on a 10 us grid. A probe with no answer in time
        # moves the search below it.
        lo, hi = floor, horizon
        best, name = math.nan, "UNKNOWN"
        step = max(1, lo // 200)  # first probe 0.5% above the bound, then adapt
        stop = budget.used() + float(limit_s)
        while lo < hi:
            left = stop - budget.used()
            if left <= 0.05:
                break
            mid = min(lo + step, hi - 1) if hi - lo > 1 else lo
            probe = m.clone()
            probe_mk = probe.get_int_var_from_proto_index(mk.index)
            probe.add(probe_mk >= lo)
            probe.add(probe_mk <= mid)
            solver = cp_model.CpSolver()
            budget.limit(solver, min(left, probe_s))
            solver.parameters.num_workers = int(workers)
            # presolve costs more than it saves on these small, tight probes
            solver.parameters.cp_model_presolve = False
            status = solver.solve(probe)
            budget.charge(solver)
            if status == cp_model.INFEASIBLE:  # proven: every schedule needs > mid
                lo = mid + 1
                step *= 2
            elif status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                found = int(solver.value(probe_mk))
                best = found if not best <= found else best
                hi = found
                step = max(1, (hi - lo) // 2)
            elif status == cp_model.MODEL_INVALID:  # pragma: no cover
                raise RuntimeError("CP-SAT relaxation: MODEL_INVALID")
            else:  # no answer in time: a smaller step
                if step == 1:
                    break
                step = max(1, step // 4)
        name = "OPTIMAL" if best == lo else ("FEASIBLE" if best == best else "UNKNOWN")
        return lo, best, name

    # 1. each edge alone (its frames through its edge, its link and the cloud): small
    #    models whose bound often beats the LP where links bind; 2. the whole episode.
    active = [e for e in range(n_e) if len(arrivals[e])]
    bound_ticks = lp_ticks
    best_ticks, name = math.nan, "UNKNOWN"
    if len(active) > 1:
        share = _EDGE_SHARE * total / len(active)
        for e in active:
            b, _, _ = solve([e], bound_ticks, share, max(0.3, min(1.0, share / 3)))
            bound_ticks = max(bound_ticks, b)
    if active:
        left = total - budget.used()
        bound_ticks, best_ticks, name = solve(active, bound_ticks, left,
                                              max(0.5, min(2.0, left / 4)))
    cpsat_s = _seconds_down(bound_ticks, ticks_per_s)
    best = best_ticks / ticks_per_s
    return CpsatBound(bound_s=max(lp, cpsat_s), cpsat_s=cpsat_s, lp_s=lp,
                      release_lp_s=release_s, best_s=best, status=name,
                      wall_s=time.perf_counter() - t0)


__all__ = ["DEFAULT_TICKS_PER_S", "CpsatBound", "UnsupportedRelaxationError",
           "cpsat_lower_bound"]
