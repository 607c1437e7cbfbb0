"""Encoding of a decision context as a flat, scale-free, bounded float32 vector.

Each field is first a scale-free quantity: times are divided by the model's whole-model
edge time ``T_E`` (the edge-only cut's edge time), so one agent reads AlexNet on a
Raspberry Pi and GoogLeNet on a Jetson on the same scale; counts and fractions are
as they are. Infinite values (a transfer at bandwidth 0, no next frame) and large ones
are clipped to `OBS_CAP`; every field is >= 0. The observation is then ``log1p`` of
that value, so every entry lies in ``[0, OBS_HIGH]`` (``log1p(1e4)`` = 9.21) and a
network reads 0.1 T_E and 100 T_E on comparable scales: the observation is the
network's input as it is (no wrapper).

Bit for bit: the value is computed in float64 (``math.log1p`` of the clipped value,
the C library's ``log1p``, which the compiled engine calls too) and cast to float32
once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Upper clip of every field before the ``log1p``.
OBS_CAP = 1.0e4

#: Upper bound of every observation entry: ``log1p(OBS_CAP)`` (as float32).
OBS_HIGH = float(np.float32(math.log1p(OBS_CAP)))

#: Per-cut blocks, each K long, in this order.
PER_CUT_FIELDS: tuple[tuple[str, str], ...] = (
    ("edge", "edge time of the cut / T_E"),
    ("transfer", "transfer time of the cut at the current bandwidth / T_E (cap: infeasible)"),
    ("cloud", "cloud time of the cut / T_E"),
    ("finish", "predicted completion of this task with the cut, minus now, / T_E "
               "(greedy earliest-finish estimate from the link and cloud backlogs)"),
)

#: Scalars after the per-cut blocks, in this order.
SCALAR_FIELDS: tuple[tuple[str, str], ...] = (
    ("cloud_wait", "predicted time until the cloud finishes the committed work / T_E"),
    ("link_wait", "predicted time until this edge's link is free / T_E (under ewma "
                  "rate traces a running transfer's unsent bits at the estimate)"),
    ("next_arrival", "time until this edge's next frame arrives / T_E (0: already here, "
                     "cap: none left; poisson/bursty: the config's mean gap)"),
    ("queue_occupancy", "cloud queue slots taken / C"),
    ("blocked_links", "links blocked on a full cloud queue / number of links"),
    ("edge_waiting", "frames waiting on this edge behind this one (a count)"),
    ("waiting_per_edge", "frames waiting on all edges / number of edges"),
    ("busy_edges", "edges computing / number of edges"),
    ("frames_left", "this edge's frames not yet started, this one included, / its frames"),
    ("progress", "decisions taken so far / tasks in the episode"),
)

#: Observation versions (`EdgeCloudEnv`'s ``observation_version``): 0, the fields above
#: (the paper agents' input, the default); 1, those and then `V1_FIELDS`.
OBSERVATION_VERSIONS: tuple[int, ...] = (0, 1)

#: Scalars version 1 appends after `SCALAR_FIELDS`, in this order: what a scheduler
#: under changing conditions knows of the recent past (all on the decisions' own
#: information set: measured transfers, the estimate, the clock, the queue).
V1_FIELDS: tuple[tuple[str, str], ...] = (
    ("rate_ratio", "rate this edge's link's last completed transfer achieved / the "
                   "link's current estimate (1: none completed yet; cap: estimate 0)"),
    ("since_transfer", "time since this edge's link last completed a transfer / T_E "
                       "(cap: none yet)"),
    ("deadline_slack", "this frame's deadline minus its age, / T_E (0: already late; "
                       "cap: no deadline)"),
    ("queue_occupancy_avg", "cloud queue slots taken / C, averaged over decisions (an "
                            "EWMA, weight 0.1 on the newest, this decision included)"),
)


#: Below this whole-model edge time [s] the scale is 1 s (a profile with next to no edge
#: cost would otherwise scale times by ~1/0 into inf and NaN).
MIN_SCALE_S = 1e-9


def time_scale_s(whole_edge_s: float) -> float:
    """``T_E``, the time scale of the observation: the whole-model edge time [s], or 1 s
    when that is under `MIN_SCALE_S`."""
    return whole_edge_s if whole_edge_s >= MIN_SCALE_S else 1.0


def obs_size(n_cuts: int, version: int = 0) -> int:
    """Length of the observation vector for K = `n_cuts` cuts (observation `version`)."""
    return len(PER_CUT_FIELDS) * n_cuts + len(SCALAR_FIELDS) + \
        (len(V1_FIELDS) if version >= 1 else 0)


def version_of(n_cuts: int, size: int) -> int:
    """The observation version whose vector for K = `n_cuts` cuts has `size` entries."""
    for version in OBSERVATION_VERSIONS:
        if obs_size(n_cuts, version) == size:
            return version
    raise ValueError(f"an observation of {size} entries is no version's for {n_cuts} cuts "
                     f"(version 0: {obs_size(n_cuts)}, 1: {obs_size(n_cuts, 1)})")


def field_names(n_cuts: int, version: int = 0) -> list[str]:
    """Name of every entry of the observation vector, e.g. ``edge[3]``, ``cloud_wait``."""
    names = [f"{f}[{i}]" for f, _ in PER_CUT_FIELDS for i in range(n_cuts)]
    return names + [f for f, _ in SCALAR_FIELDS] + \
        ([f for f, _ in V1_FIELDS] if version >= 1 else [])


def encode(ctx: dict[str, Any], scale_s: float, out: np.ndarray) -> np.ndarray:
    """Write the observation of decision context `ctx` into `out` (float32) and return it:
    ``log1p`` of each field (see `PER_CUT_FIELDS`, `SCALAR_FIELDS` and, where `out` has
    version 1's size, `V1_FIELDS`) clipped to ``[0, OBS_CAP]``.

    Computed in float64 and cast once, so no value overflows float32; ``math.log1p``
    per entry (not numpy's, which may take a vectorised path) is the compiled engine's
    ``log1p``, so both engines give the same bits.
    """
    buf = np.empty(out.shape, dtype=np.float64)
    _encode(ctx, scale_s, buf)
    np.clip(buf, 0.0, OBS_CAP, out=buf)
    log1p = math.log1p
    out[:] = [log1p(v) for v in buf.tolist()]
    return out


def _encode(ctx: dict[str, Any], scale_s: float, out: np.ndarray) -> None:
    k = len(ctx["edge_s"])
    now = ctx["time_s"]
    inv = 1.0 / scale_s
    out[0:k] = ctx["edge_s"] * inv
    out[k:2 * k] = np.minimum(ctx["transfer_s"] * inv, OBS_CAP)  # inf (infeasible) -> cap
    out[2 * k:3 * k] = ctx["cloud_s"] * inv
    out[3 * k:4 * k] = np.minimum((ctx["finish_at_s"] - now) * inv, OBS_CAP)
    n_edges = ctx["n_edges"]
    nxt = ctx["next_arrival_s"]
    frames_left = ctx["frames_left"]
    frames_of_edge = frames_left + ctx["frame"]
    s = 4 * k
    out[s + 0] = (ctx["cloud_free_at_s"] - now) * inv
    out[s + 1] = (ctx["link_free_at_s"] - now) * inv
    out[s + 2] = OBS_CAP if math.isinf(nxt) else max(0.0, nxt - now) * inv
    out[s + 3] = ctx["queue_used"] / ctx["queue_capacity"]
    out[s + 4] = ctx["blocked_links"] / n_edges
    out[s + 5] = ctx["edge_waiting"]
    out[s + 6] = ctx["waiting_total"] / n_edges
    out[s + 7] = ctx["busy_edges"] / n_edges
    out[s + 8] = frames_left / frames_of_edge
    out[s + 9] = ctx["tasks_decided"] / ctx["n_tasks"]
    if out.size > s + len(SCALAR_FIELDS):  # version 1 (`V1_FIELDS`)
        measured, est = ctx["link_measured_mbps"], ctx["bandwidth_mbps"]
        out[s + 10] = 1.0 if measured is None else (measured / est if est > 0 else OBS_CAP)
        done = ctx["link_last_done_s"]
        out[s + 11] = OBS_CAP if done is None else (now - done) * inv
        deadline = ctx["deadline_s"]
        out[s + 12] = OBS_CAP if deadline is None else \
            (deadline - (now - ctx["arrival_s"])) * inv
        out[s + 13] = ctx["queue_occupancy_avg"]
