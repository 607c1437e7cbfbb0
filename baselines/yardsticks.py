"""Yardsticks beyond the paper: stronger policies that run through the same env.

* `GreedyEFT` (``greedy_eft``): per task, the cut with the earliest predicted
  completion given the committed cloud backlog and this edge's link backlog.
* `QueueFill` (``sq_fill``): S-Q repaired. The paper's rule accepts a deeper cut only
  when it sends *more* bytes; this one fills the predicted cloud wait with edge layers:
  the deepest cut whose predicted arrival at the cloud (this edge's link backlog
  included) is still no later than the cloud becomes free, never shallower than S-C.
* `QueueLookahead` (``sq_lookahead``): S-Q's intent (eqs. 2-3: count the delay a deeper
  cut imposes on this edge's next frame) done with the cloud time counted: the cut that
  minimises the predicted completion of this task plus that of the edge's next frame
  (itself given its own earliest-finish cut). The next frame starts at the later of
  this frame's edge end and the context's ``next_arrival_s``: its true time under
  periodic arrivals, a prediction (now plus the mean gap) under random ones.
* `BestStatic` (``best_static``): an **oracle**. Before the episode it simulates every
  feasible candidate cut, fixed for all tasks, on this episode's arrival times, and
  plays the best one. No online policy can know this; it bounds what a fixed cut gets.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from splitgym.envs.core.simulator import Simulator

from .paper import Policy, single_cut_index


def _finish_times(ctx: dict[str, Any], start: float, link_free: float,
                  cloud_free: float) -> np.ndarray:
    """Predicted completion per cut of a task starting on its edge at `start`."""
    ready = start + ctx["edge_s"]
    arrive = np.maximum(ready, link_free) + ctx["transfer_s"]
    offloads = ctx["transfer_bytes"] > 0
    offloads[:-1] = True
    offloads[-1] = False
    finish = np.where(offloads, np.maximum(arrive, cloud_free) + ctx["cloud_s"], ready)
    return np.where(ctx["mask"], finish, np.inf)


class GreedyEFT(Policy):
    """Per task, the cut with the earliest predicted completion (ties: smaller cut)."""

    name = "greedy_eft"

    def act(self, ctx: dict[str, Any]) -> int:
        return int(np.argmin(np.where(ctx["mask"], ctx["finish_at_s"], np.inf)))


class QueueFill(Policy):
    """S-Q repaired: fill the predicted cloud wait with edge layers (see module doc)."""

    name = "sq_fill"

    def act(self, ctx: dict[str, Any]) -> int:
        v = single_cut_index(ctx)
        now, t_end = ctx["time_s"], ctx["cloud_free_at_s"]
        edge_s, tx, mask = ctx["edge_s"], ctx["transfer_s"], ctx["mask"]
        link_free = ctx["link_free_at_s"]
        best = v
        last = len(edge_s) - 1
        for i in range(v + 1, last + 1):
            if not mask[i]:
                continue
            ready = now + edge_s[i]
            arrive = ready if i == last else max(ready, link_free) + tx[i]
            if arrive <= t_end:
                best = i
        return best


class QueueLookahead(Policy):
    """Two-task look-ahead: this task's and the edge's next frame's predicted
    completions, summed (see module doc)."""

    name = "sq_lookahead"

    def act(self, ctx: dict[str, Any]) -> int:
        now = ctx["time_s"]
        link_free, cloud_free = ctx["link_free_at_s"], ctx["cloud_free_at_s"]
        first = _finish_times(ctx, now, link_free, cloud_free)
        nxt = ctx["next_arrival_s"]
        if math.isinf(nxt):
            return int(np.argmin(first))
        last = len(first) - 1
        scores = np.full(len(first), np.inf)
        for i in np.flatnonzero(np.isfinite(first)):
            edge_free = now + ctx["edge_s"][i]
            if i == last:
                link2, cloud2 = link_free, cloud_free
            else:
                link2 = max(edge_free, link_free) + ctx["transfer_s"][i]
                cloud2 = max(link2, cloud_free) + ctx["cloud_s"][i]
            second = _finish_times(ctx, max(edge_free, nxt), link2, cloud2)
            scores[i] = first[i] + second.min()
        return int(np.argmin(scores))


class BestStatic(Policy):
    """Oracle: the best fixed cut for this episode's arrivals (see module doc).

    Needs `on_episode_start(env)` before the first action (`rollout` calls it).
    """

    name = "best_static"

    def __init__(self, objective: str = "makespan") -> None:
        if objective not in ("makespan", "mean_latency"):
            raise ValueError(f"objective={objective!r}: expected 'makespan' or "
                             f"'mean_latency'")
        self.objective = objective
        self.cut: int | None = None
        self.scores: dict[int, float] = {}

    def on_episode_start(self, env: Any) -> None:
        """Simulate every feasible fixed cut on the episode's arrivals; keep the best."""
        sim: Simulator = env.unwrapped.simulator
        probe = Simulator(sim.cuts, sim.config)
        key = "makespan_s" if self.objective == "makespan" else "mean_latency_s"
        inputs = sim.episode_inputs()  # the episode's traces and fleet too
        self.scores = {int(k): probe.run_fixed(cut=int(k), **inputs)[key]
                       for k in np.flatnonzero(sim.mask)}
        self.cut = min(self.scores, key=lambda k: (self.scores[k], k))

    def act(self, ctx: dict[str, Any]) -> int:
        if self.cut is None:
            raise RuntimeError("best_static is an oracle: call on_episode_start(env) after "
                               "env.reset() (splitgym.envs.rollout does)")
        return self.cut
