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
    """

    bandwidth_mbps: float = 5.85
    uplink: Uplink = "per_edge"
    queue_capacity: int = 20
    cloud_workers: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "bandwidth_mbps", parse_bandwidth_mbps(self.bandwidth_mbps))
        if self.uplink not in UPLINKS:
            raise ConfigError(f"uplink={self.uplink!r}: expected one of {list(UPLINKS)}")
        _pos_int(self.queue_capacity, "queue_capacity")
        _pos_int(self.cloud_workers, "cloud_workers")


@dataclass(frozen=True)
class WorkloadConfig:
    """Frames: edge e's frame k arrives at ``phase_e + k / fps_e``.

    Attributes:
        n_edges: E, the number of edge devices (paper: 5).
        frames_per_edge: frames per edge per episode (paper: 30).
        fps: frames per second, one number for every edge, or a ``(low, high)``
            range drawn uniformly per edge per episode (paper: 5-15).
        phase_s: per-edge phase [s]; ``None`` draws it uniformly in ``[0, 1/fps_e)``
            per episode.
    """

    n_edges: int = 5
    frames_per_edge: int = 30
    fps: float | tuple[float, float] = (5.0, 15.0)
    phase_s: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _pos_int(self.n_edges, "n_edges")
        _pos_int(self.frames_per_edge, "frames_per_edge")
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
