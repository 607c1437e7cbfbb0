"""Frozen, validated configuration of the simulator and its workload.

Units are in the names: ``_mbps`` is Mbit/s (1 Mbit = 1e6 bit), ``_s`` seconds.
Every check raises `ConfigError` naming the field, the value and what was expected,
before any simulation work starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

#: Named uplink rates of the paper (Section 5.2): theoretical maximum uplink of 3G and 4G.
BANDWIDTH_PRESETS_MBPS: dict[str, float] = {"3g": 1.1, "4g": 5.85}

Uplink = Literal["per_edge", "shared"]
UPLINKS: tuple[str, ...] = ("per_edge", "shared")
ARRIVALS: tuple[str, ...] = ("periodic", "poisson", "bursty")


class ConfigError(ValueError):
    """An invalid configuration value; the message names the field and the value."""


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_bandwidth_mbps(value: Any, field: str = "bandwidth_mbps") -> float:
    """A bandwidth in Mbit/s from a number >= 0 or a preset name (``"3g"``, ``"4g"``)."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in BANDWIDTH_PRESETS_MBPS:
            return BANDWIDTH_PRESETS_MBPS[key]
        try:
            value = float(key)
        except ValueError:
            raise ConfigError(f"{field}={value!r}: expected a number of Mbit/s >= 0 or one of "
                              f"{sorted(BANDWIDTH_PRESETS_MBPS)}") from None
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{field}={value!r}: expected a finite number of Mbit/s >= 0 or one "
                          f"of {sorted(BANDWIDTH_PRESETS_MBPS)}")
    return float(value)


def _pos_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{field}={value!r}: expected a whole number >= 1")
    return value


@dataclass(frozen=True)
class SimConfig:
    """The system: uplink(s) and cloud. Defaults are the paper's 4G setting.

    Attributes:
        bandwidth_mbps: uplink rate B [Mbit/s] of each edge's link (or of the one
            shared link); 0 leaves only edge-only feasible.
        uplink: ``"per_edge"`` (one FIFO link per edge, the paper's reading) or
            ``"shared"`` (one FIFO link for all edges).
        queue_capacity: C, tasks whose transfer has started and that the cloud has
            not finished (paper: 20).
        cloud_workers: FIFO servers at the cloud (paper: 1).
        deadline_s: per-frame deadline relative to its arrival [s], or None.
        drop_late: drop a frame whose deadline passed before it starts on its edge.
        bandwidth_estimator: what decisions see of a time-varying uplink: ``"oracle"``
            (the true current rate) or ``"ewma"`` (an average over completed transfers,
            as a real system would have).
        ewma_alpha: weight of the newest transfer in the ``ewma`` estimate.
        predictor: how the decision context predicts the link and cloud backlogs:
            ``"replay"`` (exact FIFO replay of the committed work), ``"fluid"`` (O(1)
            per decision, for large fleets), ``"auto"`` (replay up to 32 edges).
    """

    bandwidth_mbps: float = 5.85
    uplink: Uplink = "per_edge"
    queue_capacity: int = 20
    cloud_workers: int = 1
    deadline_s: float | None = None
    drop_late: bool = False
    bandwidth_estimator: Literal["oracle", "ewma"] = "oracle"
    ewma_alpha: float = 0.3
    predictor: Literal["auto", "replay", "fluid"] = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bandwidth_mbps", parse_bandwidth_mbps(self.bandwidth_mbps))
        if self.uplink not in UPLINKS:
            raise ConfigError(f"uplink={self.uplink!r}: expected one of {list(UPLINKS)}")
        _pos_int(self.queue_capacity, "queue_capacity")
        _pos_int(self.cloud_workers, "cloud_workers")
        d = self.deadline_s
        if d is not None and (not _is_real(d) or not math.isfinite(d) or d <= 0):
            raise ConfigError(f"deadline_s={d!r}: expected None or a number of seconds > 0")
        if not isinstance(self.drop_late, bool):
            raise ConfigError(f"drop_late={self.drop_late!r}: expected True or False")
        if self.drop_late and d is None:
            raise ConfigError("drop_late=True: needs a deadline_s")
        if self.bandwidth_estimator not in ("oracle", "ewma"):
            raise ConfigError(f"bandwidth_estimator={self.bandwidth_estimator!r}: expected "
                              f"'oracle' or 'ewma'")
        a = self.ewma_alpha
        if not _is_real(a) or not 0 < a <= 1:
            raise ConfigError(f"ewma_alpha={a!r}: expected a number in (0, 1]")
        if self.predictor not in ("auto", "replay", "fluid"):
            raise ConfigError(f"predictor={self.predictor!r}: expected 'auto', 'replay' or "
                              f"'fluid'")


@dataclass(frozen=True)
class WorkloadConfig:
    """Frames: edge e's frame k arrives at ``phase_e + k / fps_e``.

    Attributes:
        n_edges: E, the number of edge devices (paper: 5).
        frames_per_edge: frames per edge per episode (paper: 30), or one count per edge.
        fps: frames per second, one number for every edge, or a ``(low, high)``
            range drawn uniformly per edge per episode (paper: 5-15).
        phase_s: per-edge phase [s]; ``None`` draws it uniformly in ``[0, 1/fps_e)``
            per episode.
        arrivals: ``"periodic"`` (the paper's), ``"poisson"`` (rate fps_e) or
            ``"bursty"`` (a two-state Markov-modulated Poisson process: rates
            ``high_factor`` and ``low_factor`` times fps_e, exponential dwell times
            ``mean_dwell_s``); a dict ``{"kind": "bursty", "high_factor": 3.0,
            "low_factor": 0.25, "mean_dwell_s": [2.0, 6.0]}`` sets the parameters.
    """

    n_edges: int = 5
    frames_per_edge: int | tuple[int, ...] = 30
    fps: float | tuple[float, float] = (5.0, 15.0)
    phase_s: tuple[float, ...] | None = None
    arrivals: str | tuple[tuple[str, Any], ...] = "periodic"

    def __post_init__(self) -> None:
        _pos_int(self.n_edges, "n_edges")
        fpe = self.frames_per_edge
        if isinstance(fpe, (list, tuple)):
            if len(fpe) != self.n_edges:
                raise ConfigError(f"frames_per_edge={list(fpe)!r}: expected one count per "
                                  f"edge ({self.n_edges})")
            for f in fpe:
                _pos_int(f, "frames_per_edge")
            object.__setattr__(self, "frames_per_edge", tuple(fpe))
        else:
            _pos_int(fpe, "frames_per_edge")
        arr = self.arrivals
        if isinstance(arr, dict):
            arr = tuple(sorted(arr.items()))
            object.__setattr__(self, "arrivals", arr)
        kind = arr if isinstance(arr, str) else dict(arr).get("kind")
        if kind not in ARRIVALS:
            raise ConfigError(f"arrivals={self.arrivals!r}: expected one of {list(ARRIVALS)} "
                              f"or a dict with 'kind'")
        fps = self.fps
        if isinstance(fps, (list, tuple)):
            if len(fps) != 2 or not all(_is_real(f) and math.isfinite(f) and f > 0 for f in fps) \
                    or fps[0] > fps[1]:
                raise ConfigError(f"fps={fps!r}: expected a number > 0 or a (low, high) range "
                                  f"with 0 < low <= high")
            object.__setattr__(self, "fps", (float(fps[0]), float(fps[1])))
        elif not _is_real(fps) or not math.isfinite(fps) or fps <= 0:
            raise ConfigError(f"fps={fps!r}: expected a number > 0 or a (low, high) range")
        else:
            object.__setattr__(self, "fps", float(fps))
        if self.phase_s is not None:
            ph = self.phase_s
            if _is_real(ph):
                ph = (ph,) * self.n_edges
            if not isinstance(ph, (list, tuple)) or len(ph) != self.n_edges or not all(
                    _is_real(p) and math.isfinite(p) and p >= 0 for p in ph):
                raise ConfigError(f"phase_s={self.phase_s!r}: expected None or {self.n_edges} "
                                  f"finite phases >= 0 (one per edge)")
            object.__setattr__(self, "phase_s", tuple(float(p) for p in ph))
