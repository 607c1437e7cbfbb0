"""Edge energy: what an episode's timeline costs the edge devices [J].

A pure function of the episode's records (`TaskRecords`), the cut table's bytes and
the edge devices' power figures (`splitgym.profiles.devices`), so both engines, whose
timelines are the same bit for bit, report the same energy bit for bit.

Edge e draws, over its window ``[0, T_e]`` (``T_e``: when its last frame completed,
or its last frame arrived if that was later, e.g. a dropped frame):

* ``idle_w`` all the time;
* ``compute_w - idle_w`` more while it computes a frame's edge part
  (``[edge_start_s, edge_end_s]``, encode time included);
* ``tx_base_w + tx_w_per_mbps * rate`` more while its radio sends a transfer
  (``[link_start_s, link_end_s]``): over a transfer of ``d`` seconds and ``M`` Mbit that
  is ``tx_base_w * d + tx_w_per_mbps * M`` joules, exact under a changing rate too
  (Huang et al.'s linear model, ``rate * d = M``), spread evenly over the transfer;
* ``tail_w`` more after each transfer, for ``tail_s`` or until its next transfer
  starts, within the window (the radio's high-power tail).

``edge_energy_j(records, model, until_s)`` is the energy accrued by time `until_s`
(``inf``: the whole episode). Accrued by a decision's time it depends only on what has
started by then, so the env's energy rewards (`splitgym.envs.engine`) are its
increments, and an episode's rewards sum to minus its energy. Not modeled: the radio's
promotion from idle, downlink of the result, cloud energy, and any change of power
with an edge's speed factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .simulator import TaskRecords

#: The objectives whose reward the seam computes from the energy (`splitgym.envs.engine.
#: EnergyMeter`): ``"energy"`` (the return is minus the edge energy [J]) and
#: ``"makespan_energy"`` (minus ``makespan_s + energy_weight_s_per_j * edge_energy_j``).
ENERGY_OBJECTIVES: tuple[str, ...] = ("energy", "makespan_energy")


@dataclass(frozen=True, eq=False)
class EnergyModel:
    """Per-edge power figures (arrays of shape ``(n_edges,)``, [W] or [s]) and the cut
    table's bytes per cut (``(K,)``), for one episode's fleet on one link type."""

    idle_w: np.ndarray
    compute_w: np.ndarray
    tx_base_w: np.ndarray
    tx_w_per_mbps: np.ndarray
    tail_w: np.ndarray
    tail_s: np.ndarray
    transfer_bytes: np.ndarray
    radio: str  # the link type the radio figures are for: "3g", "4g" or "wifi"

    @property
    def n_edges(self) -> int:
        """E, the edges the figures are for."""
        return len(self.idle_w)

    def predicted_j(self, edge: int, edge_s: np.ndarray, transfer_s: np.ndarray,
                    rate_mbps: float) -> np.ndarray:
        """Neurosurgeon's per-cut edge energy of one frame on `edge` [J]: the extra power
        of computing times the edge time plus the radio's transmit power at
        `rate_mbps` times the transfer time; the idle draw (paid whatever the cut) and
        the radio tail (shared between transfers) are left out. inf where a transfer
        cannot flow."""
        tx_w = self.tx_base_w[edge] + self.tx_w_per_mbps[edge] * rate_mbps
        radio = np.where(transfer_s > 0, tx_w * transfer_s, 0.0)
        return (self.compute_w[edge] - self.idle_w[edge]) * edge_s + radio


def _window_end_s(rec: TaskRecords, n_edges: int) -> np.ndarray:
    """Per edge, when its window ends [s]: inf while a frame of it is unfinished."""
    ends = np.zeros(n_edges)
    done = ~np.isnan(rec.completion_s) | rec.dropped
    last = np.where(np.isnan(rec.completion_s), rec.arrival_s,
                    np.maximum(rec.completion_s, rec.arrival_s))
    np.maximum.at(ends, rec.edge, last)
    unfinished = np.zeros(n_edges, dtype=bool)
    unfinished[rec.edge[~done]] = True
    ends[unfinished] = math.inf
    return ends


def edge_energy_j(rec: TaskRecords, model: EnergyModel, until_s: float = math.inf) -> float:
    """The fleet's edge energy accrued by `until_s` [J] (see the module docstring)."""
    n = model.n_edges
    t_e = np.minimum(_window_end_s(rec, n), until_s)  # per edge
    idle = float(np.sum(model.idle_w * t_e))
    e = rec.edge
    t = t_e[e]  # per task: its edge's window end
    started = ~np.isnan(rec.edge_start_s)
    es = np.where(started, rec.edge_start_s, 0.0)
    ee = np.where(started, rec.edge_end_s, 0.0)
    busy = np.maximum(np.minimum(ee, t) - es, 0.0)
    compute = float(np.sum((model.compute_w - model.idle_w)[e] * busy))
    sent = ~np.isnan(rec.link_start_s)
    idx = np.flatnonzero(sent)
    if idx.size == 0:
        return idle + compute
    ls, le, te = rec.link_start_s[idx], rec.link_end_s[idx], t[idx]
    ei = e[idx]
    d = le - ls
    mbit = 8.0 * model.transfer_bytes[rec.cut[idx]] / 1e6
    joules = model.tx_base_w[ei] * d + model.tx_w_per_mbps[ei] * mbit
    frac = np.where(te >= le, 1.0,
                    np.maximum(te - ls, 0.0) / np.where(d > 0, d, 1.0))
    radio = float(np.sum(joules * frac))
    # the tail after each transfer: until the next transfer of the same edge starts
    # (tasks are edge-major and an edge's transfers run in frame order), tail_s at most
    nxt = np.full(idx.size, math.inf)
    same = ei[1:] == ei[:-1]
    nxt[:-1] = np.where(same, ls[1:], math.inf)
    tail_end = np.minimum(np.minimum(le + model.tail_s[ei], nxt), te)
    tail = float(np.sum(model.tail_w[ei] * np.maximum(tail_end - le, 0.0)))
    return idle + compute + radio + tail
