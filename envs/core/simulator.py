"""The discrete-event simulator of multi-edge / single-cloud split inference.

This is the system model of the project's spec (section 1), and nothing else:

* **Edge e**: one FIFO compute server. Frame k starts when the edge is free and the
  frame has arrived; the *decision* (its cut) is taken at that moment. Edge compute and
  transmission overlap: the edge starts its next frame as soon as its compute ends.
* **Uplink**: one FIFO link per edge (``uplink="per_edge"``) or one link shared by all
  edges (``"shared"``); a link carries one transfer at a time, ``8 * bytes / B``.
* **Cloud queue capacity C**: a slot is taken when a transfer starts and freed when the
  cloud finishes that task. A task at the head of a free link that finds the queue full
  is *blocked*: it holds its link until a cloud completion frees a slot; blocked links
  are released in the order they blocked.
* **Cloud**: ``cloud_workers`` FIFO servers in order of arrival at the cloud.
* Edge-only tasks never touch a link or the cloud; at bandwidth 0 only edge-only is
  feasible.
* Changing conditions (all off by default, where the run is the paper's bit for bit):
  per-link rate traces (`RateTrace`: a transfer takes the exact time under a
  piecewise-constant rate, pausing through zero-rate intervals), per-edge edge times
  (heterogeneous fleets), per-frame deadlines (``deadline_s``; with ``drop_late`` a
  frame whose deadline has passed before it starts on its edge is dropped, counted).

Ordering: the event heap is ordered by ``(time, kind, task)`` where kind orders cloud
completions, transfer completions, edge completions and arrivals, and task ids run
edge-major (edge 0's frames first). All events at one instant are applied before
anything starts at that instant, so resources freed at t are visible to every start at
t; then blocked links are released (in blocking order), idle links start (by index),
cloud servers start (FIFO), and finally edges ask for their decisions (by edge index).
A run is therefore a pure function of (cut table, config, arrival times, decisions).

The simulator is driven one decision at a time::

    sim = Simulator(cut_table, SimConfig(bandwidth_mbps=1.1))
    ctx = sim.reset(arrivals)          # first decision context, or None
    while ctx is not None:
        ctx = sim.decide(policy(ctx))  # the cut of task ctx["task"]
    sim.metrics(), sim.records()

It imports no gymnasium: the env, the baselines and the agents all drive this class.
"""

from __future__ import annotations

import copy
import heapq
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from splitgym.profiles.cuts import CutTable

from .config import SimConfig
from .traces import RateTrace, constant

_CLOUD_DONE, _TX_DONE, _EDGE_DONE, _ARRIVAL = 0, 1, 2, 3
_NAN = math.nan
#: The lowest rate [Mbit/s] a running transfer's estimated end is computed at (an
#: estimate of 0 would make it endless); `splitgym.baselines.mpc`'s model floors its
#: links' rates here too.
MIN_RATE_MBPS = 1e-3
#: Weight of the newest decision in the contexts' ``queue_occupancy_avg`` (an EWMA of
#: the cloud queue's occupancy over decisions).
OCC_ALPHA = 0.1


class InvalidActionError(ValueError):
    """A cut that is out of range or infeasible (masked) for the pending task."""


def as_cut(cut: Any, k: int) -> int:
    """`cut` as a Python int if it is a cut index in ``0..k-1``: an int, a numpy integer
    or a 0-d integer array (what SB3's ``model.predict`` returns), as
    ``Discrete(k).contains`` accepts; else raise `InvalidActionError` (bools and floats
    too, though ``Discrete.contains(True)`` is True: a bool is never a cut)."""
    if isinstance(cut, np.ndarray) and cut.shape == () and cut.dtype.kind in "iu":
        value: Any = cut.item()
    elif isinstance(cut, (int, np.integer)) and not isinstance(cut, (bool, np.bool_)):
        value = int(cut)
    else:
        value = None
    if value is None or not 0 <= value < k:
        raise InvalidActionError(f"action={cut!r}: expected a cut index in 0..{k - 1}")
    return value


def check_cut(cut: Any, mask: np.ndarray, bandwidth_mbps: float) -> int:
    """Return `cut` as an int (see `as_cut`); raise `InvalidActionError` unless it is an
    index of `mask` that is feasible."""
    k = len(mask)
    cut = as_cut(cut, k)
    if not mask[cut]:
        raise InvalidActionError(
            f"action={cut}: cut {cut} is infeasible at bandwidth_mbps={bandwidth_mbps} "
            f"(only edge-only, cut {k - 1}, can run); "
            f"feasible cuts: {np.flatnonzero(mask).tolist()}")
    return cut


def single_cut_of(edge_s: np.ndarray, transfer_s: np.ndarray, cloud_s: np.ndarray,
                  mask: np.ndarray) -> int:
    """Eq. (1), Single Cutting: ``argmin_i Te(i) + Tt(i) + Tc(i)`` over the feasible
    cuts, ties to the smaller i (the one expression both engines and the baselines use)."""
    return int(np.argmin(np.where(mask, edge_s + transfer_s + cloud_s, np.inf)))


@dataclass(frozen=True)
class TaskRecords:
    """Per-task timeline of one run; every array has shape ``(n_tasks,)``.

    Tasks are numbered edge-major: edge 0's frames first. Times are [s]; fields a task
    never reached (the link and cloud of an edge-only task) are NaN.
    """

    edge: np.ndarray  # int, edge index
    frame: np.ndarray  # int, frame index within its edge
    arrival_s: np.ndarray
    cut: np.ndarray  # int, cut index chosen
    edge_start_s: np.ndarray
    edge_end_s: np.ndarray
    link_start_s: np.ndarray  # transfer start (after any blocking)
    link_end_s: np.ndarray
    cloud_start_s: np.ndarray
    cloud_end_s: np.ndarray
    completion_s: np.ndarray  # NaN for a dropped frame
    dropped: np.ndarray  # bool, dropped because its deadline passed before it started

    @property
    def latency_s(self) -> np.ndarray:
        """Completion minus arrival per task [s]."""
        return self.completion_s - self.arrival_s

    def per_edge(self, name: str) -> list[np.ndarray]:
        """One field split per edge: ``per_edge("completion_s")[e][k]``."""
        values = getattr(self, name)
        n_edges = int(self.edge.max()) + 1 if self.edge.size else 0
        return [values[self.edge == e] for e in range(n_edges)]


class Simulator:
    """Event-driven simulation of one episode; see the module docstring.

    Args:
        cuts: the candidate cuts of the model on the (edge, cloud) device pair.
        config: bandwidth, uplink mode, queue capacity, cloud workers.
    """

    def __init__(self, cuts: CutTable, config: SimConfig) -> None:
        self.cuts = cuts
        self.config = config
        self._edge_s = cuts.edge_s.tolist()
        self._cloud_s = cuts.cloud_s.tolist()
        self._offloads = cuts.offloads.tolist()
        self._set_bandwidth(config.bandwidth_mbps)

    # -- configuration -----------------------------------------------------------------
    def _set_bandwidth(self, mbps: float) -> None:
        self.bandwidth_mbps = mbps
        tx = self.cuts.transfer_s(mbps)
        self._tx_s = tx.tolist()
        tx.flags.writeable = False
        self.transfer_s = tx
        mask = self.cuts.feasible(mbps)
        mask.flags.writeable = False
        self.mask = mask

    # -- driving -----------------------------------------------------------------------
    def reset(self, arrivals: Sequence[Sequence[float]],
              link_traces: Sequence[RateTrace] | None = None,
              edge_s: Sequence[Sequence[float]] | None = None) -> dict[str, Any] | None:
        """Start an episode; return the first decision context (None when there is
        nothing to decide).

        Args:
            arrivals: per-edge arrival times [s] (lists may differ in length).
            link_traces: one `RateTrace` per link (per edge, or one for a shared
                uplink); None for the constant ``config.bandwidth_mbps``.
            edge_s: per-edge, per-cut edge times [s] (a heterogeneous fleet); None for
                the cut table's on every edge.
        """
        self._setup(arrivals, link_traces, edge_s)
        return self._context_of(self._advance())

    def run_fixed(self, arrivals: Sequence[Sequence[float]], cut: int,
                  link_traces: Sequence[RateTrace] | None = None,
                  edge_s: Sequence[Sequence[float]] | None = None) -> dict[str, Any]:
        """Run a whole episode giving every task `cut`; return its `metrics()`.

        The fast path of oracles that simulate many fixed cuts: no decision contexts.
        """
        self._setup(arrivals, link_traces, edge_s)
        e = self._advance()
        if e >= 0:
            cut = self._check_cut(cut)
        while e >= 0:
            self._start(cut)
            e = self._advance()
        return self.metrics()

    def run_plan(self, arrivals: Sequence[Sequence[float]], plan: Sequence[int],
                 link_traces: Sequence[RateTrace] | None = None,
                 edge_s: Sequence[Sequence[float]] | None = None) -> dict[str, Any]:
        """Run a whole episode giving task ``t`` (global id, edge-major) cut ``plan[t]``;
        return its `metrics()`. A plan entry of a task that is dropped is never read.

        The fast path of offline planners (`splitgym.baselines.planner`): no decision
        contexts. Raises `InvalidActionError` when a planned cut is infeasible.
        """
        self._setup(arrivals, link_traces, edge_s)
        if len(plan) != self.n_tasks:
            raise ValueError(f"plan: expected {self.n_tasks} cuts (one per task), "
                             f"got {len(plan)}")
        e = self._advance()
        while e >= 0:
            cut = plan[self._pending]
            self._check_cut(cut)
            self._start(int(cut))
            e = self._advance()
        return self.metrics()

    def episode_inputs(self) -> dict[str, Any]:
        """What the current episode was started with (``arrivals``, ``link_traces``,
        ``edge_s``), as keywords for `run_fixed` / `run_plan` on another simulator of
        the same cut table and config: oracles replay the episode's exact conditions."""
        return {"arrivals": self.arrivals, "link_traces": self._traces,
                "edge_s": self._edge_s_of}

    # -- models of the rest of an episode (online planners: `splitgym.baselines.mpc`) -------
    def fork(self, keep: Sequence[int], future_s: Sequence[Sequence[float]],
             link_rates_mbps: Sequence[float] | None = None,
             transfer_end_s: Mapping[int, float] | None = None,
             ) -> tuple[Simulator, list[int]]:
        """A new simulator in this one's state at its pending decision with the future
        forgotten: the model an online planner may search with.

        Finished and dropped tasks are left out. Of edge e's arrived, not yet started
        frames the first ``keep[e]`` stay, in order (the pending task must be one of
        them); edge e's frames that have not arrived are replaced by frames arriving at
        ``future_s[e]`` (predicted times, non-decreasing; any before now arrive now),
        allowed only where every waiting frame of e is kept. With `link_rates_mbps`
        (one per link) every link runs at that constant rate from now on (the rate
        traces and the estimator's values are replaced), and a transfer running now ends
        at ``transfer_end_s[task]`` (the caller's estimate; its true end is a function of
        the future rate). Everything committed (edges, links and cloud servers at work,
        link and cloud queues, blocked links, the queue's slots) is kept as it is.

        Returns the fork, at the same pending decision, and ``origin``: per task of the
        fork, its id here (-1 for a predicted frame). The fork's makespan, latency area
        and misses count its own tasks from now on.
        """
        if self._pending < 0:
            raise RuntimeError("fork() needs a pending decision")
        n_edges, now = self.n_edges, self.now
        if len(keep) != n_edges or len(future_s) != n_edges:
            raise ValueError(f"fork: expected keep and future_s per edge ({n_edges})")
        done, dropped = self._done, self._dropped
        origin: list[int] = []
        new_of: dict[int, int] = {}
        offset = [0]
        n_arrived, next_start = [0] * n_edges, [0] * n_edges
        first_future = [-1] * n_edges
        for e in range(n_edges):
            lo = self._offset[e]
            start, arrived = lo + self._next_start[e], lo + self._n_arrived[e]
            k = int(keep[e])
            if not 0 <= k <= arrived - start or (len(future_s[e]) and k < arrived - start):
                raise ValueError(f"fork: keep[{e}]={keep[e]!r}: expected 0..{arrived - start}"
                                 f" (all of them where future_s[{e}] is given)")
            for t in range(lo, start):  # started or dropped: the unfinished started ones
                if not dropped[t] and done[t] != done[t]:
                    new_of[t] = len(origin)
                    origin.append(t)
                    next_start[e] += 1
            for t in range(start, start + k):
                new_of[t] = len(origin)
                origin.append(t)
            n_arrived[e] = next_start[e] + k
            for j in range(len(future_s[e])):
                if j == 0:
                    first_future[e] = len(origin)
                origin.append(-1)
            offset.append(len(origin))
        if self._pending not in new_of:
            raise ValueError("fork: the pending task must be kept")
        arr: list[float] = []
        frame_of: list[int] = []
        edge_of: list[int] = []
        for e in range(n_edges):
            future = iter(future_s[e])
            for j, t in enumerate(origin[offset[e]:offset[e + 1]]):
                edge_of.append(e)
                if t >= 0:
                    arr.append(self._arr[t])
                    frame_of.append(self._frame_of[t])
                else:
                    a = float(next(future))
                    arr.append(a if a > now else now)
                    frame_of.append(self._n_arrived[e] + j - n_arrived[e])
        new = copy.copy(self)  # shares the cut table, config and cost lists (never written)
        n = len(origin)
        new.arrivals = [np.asarray(arr[offset[e]:offset[e + 1]], dtype=np.float64)
                        for e in range(n_edges)]
        new.n_tasks, new._offset, new._edge_of, new._frame_of = n, offset, edge_of, frame_of
        new._arr = arr
        new._cut = [self._cut[t] if t >= 0 else -1 for t in origin]
        for name in ("_es", "_ee", "_ls", "_le", "_cs", "_ce", "_done"):
            old = getattr(self, name)
            setattr(new, name, [old[t] if t >= 0 else _NAN for t in origin])
        new._dropped = [False] * n
        new._n_arrived, new._next_start = n_arrived, next_start
        new._edge_busy = [new_of[t] if t >= 0 else -1 for t in self._edge_busy]
        new._ready = [e for e in self._ready if n_arrived[e] > next_start[e]]
        heapq.heapify(new._ready)
        new._in_ready = [False] * n_edges
        for e in new._ready:
            new._in_ready[e] = True
        new._link_q = [deque(new_of[t] for t in q) for q in self._link_q]
        new._link_busy = [new_of[t] if t >= 0 else -1 for t in self._link_busy]
        new._link_blocked = list(self._link_blocked)
        new._link_cand = list(self._link_cand)
        new._in_link_cand = list(self._in_link_cand)
        new._blocked = deque(self._blocked)
        new._cloud_q = deque(new_of[t] for t in self._cloud_q)
        new._in_service = {new_of[t] for t in self._in_service}
        ends = transfer_end_s or {}
        heap = []
        for t_ev, kind, task in self._heap:
            if kind == _ARRIVAL:
                continue
            if kind == _TX_DONE and task in ends:
                t_ev = float(ends[task])
                new._le[new_of[task]] = t_ev
            heap.append((t_ev, kind, new_of[task]))
        for e in range(n_edges):
            if first_future[e] >= 0:
                heap.append((arr[first_future[e]], _ARRIVAL, first_future[e]))
        heapq.heapify(heap)
        new._heap = heap
        if link_rates_mbps is not None:
            if len(link_rates_mbps) != self._n_links:
                raise ValueError(f"fork: expected {self._n_links} link rates, got "
                                 f"{len(link_rates_mbps)}")
            if self._traces is None:
                new._link_mask = [self.mask] * self._n_links
                new._bits = (8.0 * self.cuts.transfer_bytes).tolist()
            new._traces = [constant(float(r)) for r in link_rates_mbps]
            new._rate_est = [float(r) for r in link_rates_mbps]
        elif self._traces is not None:
            new._rate_est = list(self._rate_est)
        new._link_pred = list(self._link_pred)
        new._last_rate, new._last_done = list(self._last_rate), list(self._last_done)
        new._v_star = dict(self._v_star)
        new.n_missed = new.n_dropped = 0
        new.latency_area = 0.0
        new._in_system = sum(n_arrived)
        new._n_done = 0
        new._n_decided = sum(next_start)
        new._waiting = sum(n_arrived) - sum(next_start)
        new.makespan_s = 0.0
        new.done = False
        new._pending = new_of[self._pending]
        return new, origin

    def clone(self) -> Simulator:
        """An independent copy of this simulator's state (cheap where the episode is
        small: a model of `fork` is copied once per plan an online planner tries)."""
        new = copy.copy(self)
        for name in ("_cut", "_es", "_ee", "_ls", "_le", "_cs", "_ce", "_done", "_dropped",
                     "_n_arrived", "_next_start", "_edge_busy", "_ready", "_in_ready",
                     "_link_busy", "_link_blocked", "_link_cand", "_in_link_cand", "_heap",
                     "_link_pred", "_last_rate", "_last_done"):
            setattr(new, name, list(getattr(self, name)))
        new._link_q = [deque(q) for q in self._link_q]
        new._blocked = deque(self._blocked)
        new._cloud_q = deque(self._cloud_q)
        new._in_service = set(self._in_service)
        new._v_star = dict(self._v_star)
        if self._traces is not None:
            new._rate_est = list(self._rate_est)
        return new

    def play(self, plan: Sequence[int], checked: bool = True) -> None:
        """From the pending decision to the end, give each task ``t`` cut ``plan[t]``
        (raises `InvalidActionError` on an infeasible one, unless `checked` is False:
        then the caller vouches that every cut is feasible); no decision contexts."""
        while self._pending >= 0:
            cut = plan[self._pending]
            self._start(self._check_cut(cut) if checked else cut)
            self._advance()

    def _setup(self, arrivals: Sequence[Sequence[float]],
               link_traces: Sequence[RateTrace] | None,
               edge_s: Sequence[Sequence[float]] | None) -> None:
        self.arrivals = [np.asarray(a, dtype=np.float64) for a in arrivals]
        n_edges = len(arrivals)
        counts = [len(a) for a in arrivals]
        self.n_edges = n_edges
        self.n_tasks = n = sum(counts)
        self._offset = np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist()
        self._edge_of = [e for e in range(n_edges) for _ in range(counts[e])]
        self._frame_of = [k for e in range(n_edges) for k in range(counts[e])]
        self._arr = [float(x) for a in arrivals for x in a]
        self._cut = [-1] * n
        self._es = [_NAN] * n
        self._ee = [_NAN] * n
        self._ls = [_NAN] * n
        self._le = [_NAN] * n
        self._cs = [_NAN] * n
        self._ce = [_NAN] * n
        self._done = [_NAN] * n
        self._n_links = n_edges if self.config.uplink == "per_edge" else 1
        self._shared = self.config.uplink == "shared"
        self._n_arrived = [0] * n_edges
        self._next_start = [0] * n_edges
        self._edge_busy = [-1] * n_edges
        self._ready: list[int] = []
        self._in_ready = [False] * n_edges
        self._link_q: list[deque[int]] = [deque() for _ in range(self._n_links)]
        self._link_busy = [-1] * self._n_links
        self._link_blocked = [False] * self._n_links
        self._link_cand: list[int] = []
        self._in_link_cand = [False] * self._n_links
        self._blocked: deque[int] = deque()
        self._cloud_q: deque[int] = deque()
        self._in_service: set[int] = set()
        self._free_workers = self.config.cloud_workers
        self._slots = 0
        self._heap: list[tuple[float, int, int]] = []
        self._setup_conditions(n_edges, link_traces, edge_s)
        self.n_missed = 0
        self.n_dropped = 0
        self._dropped = [False] * n
        self.now = 0.0
        self.latency_area = 0.0  # integral of (tasks in system) dt, = sum of latencies at end
        self._in_system = 0
        self._n_done = 0
        self._n_decided = 0
        self._waiting = 0
        self._busy_edges = 0
        self.makespan_s = 0.0
        self.done = False
        self._pending = -1
        for e in range(n_edges):
            if counts[e]:
                t = self._offset[e]
                heapq.heappush(self._heap, (self._arr[t], _ARRIVAL, t))

    def _setup_conditions(self, n_edges: int, link_traces: Sequence[RateTrace] | None,
                          edge_s: Sequence[Sequence[float]] | None) -> None:
        cfg = self.config
        k = len(self._edge_s)
        if edge_s is not None:
            if len(edge_s) != n_edges or any(len(row) != k for row in edge_s):
                raise ValueError(f"edge_s: expected {n_edges} rows of {k} edge times")
            self._edge_s_of: list[list[float]] | None = [[float(x) for x in row]
                                                         for row in edge_s]
        else:
            self._edge_s_of = None
        if link_traces is not None and len(link_traces) != self._n_links:
            raise ValueError(f"link_traces: expected {self._n_links} traces (one per link), "
                             f"got {len(link_traces)}")
        self._traces = list(link_traces) if link_traces is not None else None
        if self._traces is not None:
            offload = self.cuts.offloads
            self._link_mask = [np.where(offload, tr.total_mbit > 0, True)
                               for tr in self._traces]
            # ewma: the config-level prior (never the episode's own trace)
            self._rate_est = cfg.link_priors(self._n_links) \
                if cfg.bandwidth_estimator == "ewma" else \
                [tr.rate_at(0.0) for tr in self._traces]
        self._bits = (8.0 * self.cuts.transfer_bytes).tolist()
        # what decisions know of the recent past: per link the rate its last completed
        # transfer achieved [Mbit/s] and when it completed (NaN: none yet), and the
        # cloud queue's occupancy averaged over decisions (NaN before the first)
        self._last_rate = [_NAN] * self._n_links
        self._last_done = [_NAN] * self._n_links
        self._occ_avg = _NAN
        self._fluid = cfg.predictor == "fluid" or (cfg.predictor == "auto" and n_edges > 32)
        self._cloud_backlog_s = 0.0  # fluid predictor: decided, not yet served cloud work
        self._link_pred = [0.0] * self._n_links
        self._v_star: dict[int, int] = {}  # S-C cut per edge (untraced: fixed costs)

    def _mask_of(self, e: int) -> np.ndarray:
        if self._traces is None:
            return self.mask
        return self._link_mask[0 if self._shared else e]

    def _est_tx(self, link: int) -> list[float]:
        """Per-cut transfer time [s] at the link's current rate estimate."""
        if self._traces is None:
            return self._tx_s
        if self.config.bandwidth_estimator == "oracle":
            self._rate_est[link] = self._traces[link].rate_at(self.now)
        r = self._rate_est[link]
        off = self._offloads
        return [(b / (r * 1e6) if r > 0 else math.inf) if off[i] else 0.0
                for i, b in enumerate(self._bits)]

    def unsent_end_s(self, link: int, rate_mbps: float) -> float:
        """When `link`'s running transfer ends if its bits not yet sent go at
        `rate_mbps` (floored at `MIN_RATE_MBPS`) from now: ``now + unsent / rate``.
        Sent so far is the trace's volume since the transfer started: the past, known
        now. The estimate decisions see under ``ewma`` (at the link's estimate) and
        `splitgym.baselines.mpc`'s model's (at its rate); the compiled engine computes
        the same floats in the same order (`splitgym.envs.kernel.links.unsent_end`)."""
        task = self._link_busy[link]
        tr = self._traces[link]
        now = self.now
        sent = float(tr.integral(now) - tr.integral(self._ls[task]))  # Mbit
        left = self._bits[self._cut[task]] / 1e6 - sent
        r = rate_mbps if rate_mbps > MIN_RATE_MBPS else MIN_RATE_MBPS
        return now + (left if left > 0 else 0.0) / r

    def _running_end(self, link: int) -> float:
        """When decisions are told `link`'s running transfer ends: under ``ewma`` rate
        traces its unsent bits at the estimate (`unsent_end_s`); else its true end
        (a constant rate: known; ``oracle``: that estimator sees it, a clairvoyance
        knob)."""
        if self._traces is not None and self.config.bandwidth_estimator == "ewma":
            return self.unsent_end_s(link, self._rate_est[link])
        return self._le[self._link_busy[link]]

    def decide(self, cut: int) -> dict[str, Any] | None:
        """Give the pending task its cut; run to the next decision (None at the end)."""
        if self._pending < 0:
            raise RuntimeError("no decision is pending: call reset() first, or the episode "
                               "is over")
        self._start(self._check_cut(cut))
        return self._context_of(self._advance())

    def _check_cut(self, cut: Any) -> int:
        return check_cut(cut, self.pending_mask, self.bandwidth_mbps)

    def _start(self, cut: int) -> None:
        """Start the pending task on its edge with `cut` (already checked)."""
        task = self._pending
        self._pending = -1
        e = self._edge_of[task]
        now = self.now
        self._cut[task] = cut
        self._es[task] = now
        end = now + (self._edge_s if self._edge_s_of is None else self._edge_s_of[e])[cut]
        self._ee[task] = end
        if self._fluid and self._offloads[cut]:
            link = 0 if self._shared else e
            tx = self._est_tx(link)[cut]
            self._link_pred[link] = max(self._link_pred[link], end) + tx
            self._cloud_backlog_s += self._cloud_s[cut]
        self._edge_busy[e] = task
        self._busy_edges += 1
        self._next_start[e] += 1
        self._waiting -= 1
        self._n_decided += 1
        heapq.heappush(self._heap, (end, _EDGE_DONE, task))

    def _context_of(self, e: int) -> dict[str, Any] | None:
        return None if e < 0 else self._context(e)

    @property
    def pending_mask(self) -> np.ndarray:
        """Feasible cuts of the pending task (its link's under rate traces: a link whose
        trace never carries anything takes edge-only only); the nominal mask when none
        is pending."""
        return self._mask_of(self._edge_of[self._pending]) if self._pending >= 0 \
            else self.mask

    @property
    def pending_task(self) -> int:
        """Global id of the task awaiting its cut (-1 when none)."""
        return self._pending

    # -- the event loop ----------------------------------------------------------------
    def _advance(self) -> int:
        """Run events until an edge needs a decision (return it) or the end (-1)."""
        heap = self._heap
        pop = heapq.heappop
        while True:
            if self._ready:
                e = pop(self._ready)
                self._in_ready[e] = False
                task = self._offset[e] + self._next_start[e]
                if self.config.drop_late and self._late(task):
                    self._drop(task)
                    if self._next_start[e] < self._n_arrived[e]:
                        self._mark_ready(e)
                    continue
                self._pending = task
                return e
            if not heap:
                if self._n_done != self.n_tasks:  # pragma: no cover - internal invariant
                    raise RuntimeError(f"simulation ended with {self.n_tasks - self._n_done} "
                                       f"tasks unfinished")
                self.done = True
                return -1
            t = heap[0][0]
            self.latency_area += self._in_system * (t - self.now)
            self.now = t
            while heap and heap[0][0] == t:
                _, kind, task = pop(heap)
                if kind == _CLOUD_DONE:
                    self._free_workers += 1
                    self._slots -= 1
                    self._in_service.discard(task)
                    self._complete(task, t)
                elif kind == _TX_DONE:
                    link = self._link_of(task)
                    self._link_busy[link] = -1
                    self._observe_uplink(task, link, t)
                    self._cloud_q.append(task)
                    if self._link_q[link]:
                        self._mark_link(link)
                elif kind == _EDGE_DONE:
                    e = self._edge_of[task]
                    self._edge_busy[e] = -1
                    self._busy_edges -= 1
                    if self._offloads[self._cut[task]]:
                        link = 0 if self._shared else e
                        self._link_q[link].append(task)
                        self._mark_link(link)
                    else:
                        self._complete(task, t)
                    if self._next_start[e] < self._n_arrived[e]:
                        self._mark_ready(e)
                else:  # arrival
                    e = self._edge_of[task]
                    self._n_arrived[e] += 1
                    self._in_system += 1
                    self._waiting += 1
                    nxt = task + 1
                    if nxt < self._offset[e + 1]:
                        heapq.heappush(heap, (self._arr[nxt], _ARRIVAL, nxt))
                    if self._edge_busy[e] < 0:
                        self._mark_ready(e)
            self._dispatch(t)

    def _dispatch(self, t: float) -> None:
        cap = self.config.queue_capacity
        while self._blocked and self._slots < cap:
            link = self._blocked.popleft()
            self._link_blocked[link] = False
            self._start_transfer(link, t)
        cand = self._link_cand
        while cand:
            link = heapq.heappop(cand)
            self._in_link_cand[link] = False
            if self._link_busy[link] >= 0 or self._link_blocked[link] or not self._link_q[link]:
                continue
            if self._slots < cap:
                self._start_transfer(link, t)
            else:
                self._link_blocked[link] = True
                self._blocked.append(link)
        while self._free_workers and self._cloud_q:
            task = self._cloud_q.popleft()
            self._free_workers -= 1
            self._in_service.add(task)
            self._cs[task] = t
            if self._fluid:
                self._cloud_backlog_s -= self._cloud_s[self._cut[task]]
            end = t + self._cloud_s[self._cut[task]]
            self._ce[task] = end
            heapq.heappush(self._heap, (end, _CLOUD_DONE, task))

    def _start_transfer(self, link: int, t: float) -> None:
        task = self._link_q[link].popleft()
        self._slots += 1
        self._link_busy[link] = task
        self._ls[task] = t
        if self._traces is None:
            end = t + self._tx_s[self._cut[task]]
        else:
            end = self._traces[link].finish(t, self.cuts.transfer_bytes[self._cut[task]])
        self._le[task] = end
        heapq.heappush(self._heap, (end, _TX_DONE, task))

    def _complete(self, task: int, t: float) -> None:
        self._done[task] = t
        self._in_system -= 1
        self._n_done += 1
        if t > self.makespan_s:
            self.makespan_s = t
        deadline = self.config.deadline_s
        if deadline is not None and t - self._arr[task] > deadline:
            self.n_missed += 1

    def _late(self, task: int) -> bool:
        deadline = self.config.deadline_s
        return deadline is not None and self.now - self._arr[task] > deadline

    def _drop(self, task: int) -> None:
        """A frame whose deadline passed before it started: counted, never run."""
        e = self._edge_of[task]
        self._dropped[task] = True
        self._next_start[e] += 1
        self._waiting -= 1
        self._in_system -= 1
        self._n_done += 1
        self.n_missed += 1
        self.n_dropped += 1

    def _observe_uplink(self, task: int, link: int, t: float) -> None:
        """``task``'s upload on ``link`` finished at ``t``: record when, and the rate it
        achieved (Mbit/s, its bits over its transfer time; a zero-time transfer measures
        nothing), and fold that rate into the EWMA bandwidth estimate when traces drive
        the links and the estimator is ``ewma``. Shared with the testbed's replay so
        both update the estimate the same way."""
        self._last_done[link] = t
        dt = t - self._ls[task]
        if dt > 0:
            obs = self._bits[self._cut[task]] / 1e6 / dt
            self._last_rate[link] = obs
            if self._traces is not None and self.config.bandwidth_estimator == "ewma":
                a = self.config.ewma_alpha
                self._rate_est[link] = a * obs + (1 - a) * self._rate_est[link]

    def _link_of(self, task: int) -> int:
        return 0 if self._shared else self._edge_of[task]

    def _mark_ready(self, e: int) -> None:
        if not self._in_ready[e]:
            self._in_ready[e] = True
            heapq.heappush(self._ready, e)

    def _mark_link(self, link: int) -> None:
        if not self._in_link_cand[link]:
            self._in_link_cand[link] = True
            heapq.heappush(self._link_cand, link)

    # -- what a decision sees ----------------------------------------------------------
    def predicted_backlog(self, edge: int) -> tuple[float, float]:
        """``(cloud_free_at_s, link_free_at_s)``: when the cloud finishes the committed
        work, and when `edge`'s link finishes its committed transfers, predicted by
        replaying every committed, unfinished, cloud-bound task through its FIFO link and
        the FIFO cloud (queue blocking and future decisions ignored). Both are >= now.
        A running transfer ends when decisions are told it does (`_running_end`: under
        ``ewma`` rate traces its unsent bits at the estimate, never its true end).

        With the ``fluid`` predictor (``config.predictor``; ``auto`` picks it above 32
        edges) the cost does not grow with the fleet: the link is free at the later of
        its running transfer and its committed transfers chained at decision time, and
        the cloud when its running work ends plus the committed, not yet started cloud
        work divided by the workers.
        """
        cloud_free, link_free, _, _ = self._backlog(edge, math.inf, math.inf)
        return cloud_free, link_free

    def _backlog(self, edge: int, ready: float, tx_s: float) -> tuple[float, float, float,
                                                                        float]:
        """`predicted_backlog` of `edge`, and Scheduling with Queuing's ``t_end`` for a
        task whose S-C cut leaves the edge at `ready` and takes `tx_s` on the link: when
        the cloud finishes the committed work predicted to reach it no later than
        ``A = ready + tx_s`` (its own link backlog ignored), and no later than
        ``A_link = max(ready, link free) + tx_s``. Work arriving later is behind the
        task in the FIFO cloud and not counted. Returns ``(cloud_free, link_free,
        t_end, t_end_link)``, all >= now.

        The ``fluid`` predictor keeps no per-task arrival times: its ``t_end`` counts
        all the committed work (both equal ``cloud_free``), an over-estimate that can
        only make S-Q cut deeper than the replay would.
        """
        now = self.now
        if self._fluid:
            link = 0 if self._shared else edge
            busy = self._link_busy[link]
            link_free = max(now, self._link_pred[link],
                            self._running_end(link) if busy >= 0 else now)
            start = now
            if self._free_workers == 0:
                start = min(self._ce[task] for task in self._in_service)
            cloud_free = max(now, start) + self._cloud_backlog_s / self.config.cloud_workers
            return cloud_free, link_free, cloud_free, cloud_free
        tx, cloud_s, ee, cut = self._tx_s, self._cloud_s, self._ee, self._cut
        le = self._le
        traced = self._traces is not None
        # (predicted arrival at the cloud [s], cloud time [s]) of each committed task
        work = [(le[task], cloud_s[cut[task]]) for task in self._cloud_q]
        link_free = [now] * self._n_links
        busy_links = self._link_busy
        link_q = self._link_q
        for link in range(self._n_links):
            queue = link_q[link]
            busy = busy_links[link]
            if busy < 0 and not queue:
                continue
            free = now
            if busy >= 0:
                free = self._running_end(link)
                work.append((free, cloud_s[cut[busy]]))
            if traced:
                tx = self._est_tx(link)
            for task in queue:
                start = ee[task]
                if start < free:
                    start = free
                free = start + tx[cut[task]]
                work.append((free, cloud_s[cut[task]]))
            link_free[link] = free
        offloads = self._offloads
        computing = [task for task in self._edge_busy if task >= 0 and offloads[cut[task]]]
        if self._shared and len(computing) > 1:
            computing.sort(key=lambda task: (ee[task], task))
        for task in computing:
            link = 0 if self._shared else self._edge_of[task]
            if traced:
                tx = self._est_tx(link)
            start = ee[task]
            if start < link_free[link]:
                start = link_free[link]
            link_free[link] = free = start + tx[cut[task]]
            work.append((free, cloud_s[cut[task]]))
        work.sort()
        lf = link_free[0 if self._shared else edge]
        # the prefixes of the (arrival, service) order that reach the cloud no later than
        # A and A_link (A <= A_link: the max only raises it, and rounding is monotone)
        n1 = bisect_right(work, (ready + tx_s, math.inf))
        n2 = bisect_right(work, ((ready if ready > lf else lf) + tx_s, math.inf))
        if self.config.cloud_workers == 1:
            t = now
            for task in self._in_service:
                t = self._ce[task]
            ends = []
            lo = 0
            for hi in (n1, n2, len(work)):
                for arrive, service in work[lo:hi]:
                    t = (arrive if arrive > t else t) + service
                ends.append(t)
                lo = hi
        else:
            workers = [self._ce[task] for task in self._in_service]
            workers += [now] * (self.config.cloud_workers - len(workers))
            heapq.heapify(workers)
            ends = []
            lo = 0
            for hi in (n1, n2, len(work)):
                for arrive, service in work[lo:hi]:
                    w = heapq.heappop(workers)
                    heapq.heappush(workers, (arrive if arrive > w else w) + service)
                ends.append(workers[0])
                lo = hi
        t_end, t_end_link, cloud_free = (x if x > now else now for x in ends)
        return cloud_free, lf, t_end, t_end_link

    def _single_cut(self, e: int, edge_s: np.ndarray, tx: np.ndarray,
                    mask: np.ndarray) -> int:
        """Edge e's S-C cut v* now (cached per edge where the costs never change)."""
        if self._traces is not None:
            return single_cut_of(edge_s, tx, self.cuts.cloud_s, mask)
        key = e if self._edge_s_of is not None else 0
        v = self._v_star.get(key)
        if v is None:
            v = self._v_star[key] = single_cut_of(edge_s, tx, self.cuts.cloud_s, mask)
        return v

    def _context(self, e: int) -> dict[str, Any]:
        task = self._pending
        now = self.now
        edge_s, tx, cloud_s = self.cuts.edge_s, self.transfer_s, self.cuts.cloud_s
        mask, rate = self.mask, self.bandwidth_mbps
        if self._edge_s_of is not None:
            edge_s = np.array(self._edge_s_of[e])
        if self._traces is not None:
            link = 0 if self._shared else e
            tx = np.array(self._est_tx(link))
            mask, rate = self._link_mask[link], self._rate_est[link]
        v = self._single_cut(e, edge_s, tx, mask)
        cloud_free, link_free, t_end, t_end_link = self._backlog(
            e, now + float(edge_s[v]), float(tx[v]))
        ready = now + edge_s  # no NaN can arise: inf (bandwidth 0) only adds
        arrive = np.maximum(ready, link_free) + tx
        finish = np.where(self.cuts.offloads, np.maximum(arrive, cloud_free) + cloud_s, ready)
        link = 0 if self._shared else e
        occ = self._slots / self.config.queue_capacity
        q = self._occ_avg
        self._occ_avg = q = occ if q != q else OCC_ALPHA * occ + (1 - OCC_ALPHA) * q
        measured, last_done = self._last_rate[link], self._last_done[link]
        nxt = task + 1
        if nxt >= self._offset[e + 1]:
            next_arrival = math.inf
        elif nxt < self._offset[e] + self._n_arrived[e] or self.config.arrival_gap_s is None:
            next_arrival = self._arr[nxt]  # arrived, or periodic: knowable
        else:  # random arrivals: the config's mean gap, not the frame's draw
            next_arrival = now + self.config.arrival_gap_s
        return {
            "edge": e,
            "frame": self._frame_of[task],
            "task": task,
            "time_s": now,
            "edge_s": edge_s.copy(),
            "transfer_s": tx.copy(),
            "cloud_s": cloud_s.copy(),
            "transfer_bytes": self.cuts.transfer_bytes.copy(),
            "mask": mask.copy(),
            "cloud_free_at_s": cloud_free,
            "link_free_at_s": link_free,
            "sq_cloud_free_at_s": t_end,
            "sq_link_cloud_free_at_s": t_end_link,
            "finish_at_s": finish,
            "next_arrival_s": next_arrival,
            "edge_waiting": self._n_arrived[e] - self._next_start[e] - 1,
            "frames_left": self._offset[e + 1] - task,
            "waiting_total": self._waiting - 1,
            "busy_edges": self._busy_edges,
            "queue_used": self._slots,
            "queue_capacity": self.config.queue_capacity,
            "blocked_links": len(self._blocked),
            "n_edges": self.n_edges,
            "n_tasks": self.n_tasks,
            "tasks_decided": self._n_decided,
            "bandwidth_mbps": rate,
            "deadline_s": self.config.deadline_s,
            "arrival_s": self._arr[task],
            "link_measured_mbps": measured if measured == measured else None,
            "link_last_done_s": last_done if last_done == last_done else None,
            "queue_occupancy_avg": q,
        }

    # -- results -----------------------------------------------------------------------
    def records(self) -> TaskRecords:
        """Per-task timeline (complete once the run is done)."""
        f = np.array
        return TaskRecords(
            edge=f(self._edge_of, dtype=np.int64), frame=f(self._frame_of, dtype=np.int64),
            arrival_s=f(self._arr), cut=f(self._cut, dtype=np.int64),
            edge_start_s=f(self._es), edge_end_s=f(self._ee), link_start_s=f(self._ls),
            link_end_s=f(self._le), cloud_start_s=f(self._cs), cloud_end_s=f(self._ce),
            completion_s=f(self._done), dropped=f(self._dropped, dtype=bool))

    def metrics(self) -> dict[str, Any]:
        """Makespan, mean / p95 / p99 / max latency [s] of the completed frames, the
        histogram of cuts, dropped frames and (with a deadline) the miss rate."""
        if not self.done:
            raise RuntimeError("metrics() needs a finished run")
        lat = np.asarray(self._done) - np.asarray(self._arr)
        if self.n_dropped:
            lat = lat[~np.asarray(self._dropped)]
        cuts = np.asarray(self._cut, dtype=np.int64)
        hist = np.bincount(cuts[cuts >= 0], minlength=len(self._edge_s))
        out = {
            "makespan_s": self.makespan_s,
            "mean_latency_s": float(lat.mean()) if lat.size else 0.0,
            "p95_latency_s": float(np.percentile(lat, 95)) if lat.size else 0.0,
            "p99_latency_s": float(np.percentile(lat, 99)) if lat.size else 0.0,
            "max_latency_s": float(lat.max()) if lat.size else 0.0,
            "cut_histogram": hist.tolist(),
            "n_tasks": self.n_tasks,
            "n_dropped": self.n_dropped,
        }
        if self.config.deadline_s is not None:
            out["deadline_miss_rate"] = self.n_missed / self.n_tasks if self.n_tasks else 0.0
        return out
