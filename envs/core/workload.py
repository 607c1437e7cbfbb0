"""Arrival times of frames: the only source of randomness of an episode.

`periodic_arrivals` draws the paper's workload from a numpy `Generator` (the env's
episode seed); `check_arrivals` validates an explicit, recorded stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .config import ConfigError, WorkloadConfig


def periodic_arrivals(workload: WorkloadConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """Per-edge arrival times [s]: frame k of edge e at ``phase_e + k / fps_e``.

    Draws, in this order, the per-edge fps (when `workload.fps` is a range) and the
    per-edge phases (when `workload.phase_s` is None), so one seed gives one workload.
    """
    n = workload.n_edges
    if isinstance(workload.fps, tuple):
        fps = rng.uniform(workload.fps[0], workload.fps[1], size=n)
    else:
        fps = np.full(n, workload.fps)
    if workload.phase_s is None:
        phase = rng.uniform(0.0, 1.0, size=n) / fps
    else:
        phase = np.asarray(workload.phase_s, dtype=np.float64)
    k = np.arange(workload.frames_per_edge, dtype=np.float64)
    return [phase[e] + k / fps[e] for e in range(n)]


def check_arrivals(arrivals: Any, field: str = "arrival_times_s") -> list[np.ndarray]:
    """Validate explicit per-edge arrival times: a non-empty list (one per edge) of
    non-empty, non-decreasing lists of finite times >= 0 [s].
    """
    if not isinstance(arrivals, Sequence) or isinstance(arrivals, (str, bytes)) \
            or len(arrivals) == 0:
        raise ConfigError(f"{field}: expected a non-empty list with one list of arrival "
                          f"times per edge, got {type(arrivals).__name__}")
    out = []
    for e, row in enumerate(arrivals):
        try:
            a = np.asarray(row, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{field}[{e}]: expected a list of numbers, got {row!r}") from None
        if a.ndim != 1 or a.size == 0:
            raise ConfigError(f"{field}[{e}]: expected a non-empty flat list of times")
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            k = int(np.argmax(bad))
            raise ConfigError(f"{field}[{e}][{k}]={float(a[k])!r}: expected a finite time >= 0")
        dec = np.diff(a) < 0
        if dec.any():
            k = int(np.argmax(dec)) + 1
            raise ConfigError(f"{field}[{e}][{k}]={float(a[k])!r}: arrivals must be non-decreasing "
                              f"(previous {float(a[k - 1])!r})")
        out.append(a)
    return out


def last_arrival_s(arrivals: Sequence[np.ndarray]) -> float:
    """The latest arrival over all edges [s]."""
    return max((float(a[-1]) for a in arrivals), default=-math.inf)
