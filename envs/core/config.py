"""Frozen, validated configuration of the simulator and its workload.

Units are in the names: ``_mbps`` is Mbit/s (1 Mbit = 1e6 bit), ``_s`` seconds.
Every check raises `ConfigError` naming the field, the value and what was expected,
before any simulation work starts. Every number has a range whose work and memory are
bounded (the constants below; `docs/errors.md` lists them): no accepted value can make
the simulation overflow, allocate without bound or loop without end.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal

#: Named uplink rates of the paper (Section 5.2): theoretical maximum uplink of 3G and 4G.
BANDWIDTH_PRESETS_MBPS: dict[str, float] = {"3g": 1.1, "4g": 5.85}

Uplink = Literal["per_edge", "shared"]
UPLINKS: tuple[str, ...] = ("per_edge", "shared")
ARRIVALS: tuple[str, ...] = ("periodic", "poisson", "bursty")

#: Smallest nonzero rate [Mbit/s] accepted anywhere (1 bit/s). A smaller positive rate
#: is refused, not rounded to 0: it would make a transfer's time overflow to inf (or
#: dwarf every other time) while the cut still looks feasible; 0 means "no uplink" and
#: leaves only edge-only feasible.
MIN_MBPS = 1e-6
#: Largest rate [Mbit/s] accepted (1 Pbit/s), so that a trace's volume cannot overflow.
MAX_MBPS = 1e9
#: Frame rates [frames/s] accepted: below MIN_FPS a frame interval (and the episode)
#: runs for days and tiny rates overflow to inf times; above MAX_FPS frames are closer
#: than the times' resolution.
MIN_FPS, MAX_FPS = 1e-3, 1e6
#: Edge speed factors accepted (``edge_speed``): beyond them edge times overflow or
#: vanish below the times' resolution.
MIN_SPEED, MAX_SPEED = 1e-3, 1e3
#: Upper bounds of the whole-number fields (each an allocation or a per-decision loop).
MAX_EDGES = 100_000
MAX_TASKS = 10_000_000  # n_edges x frames_per_edge: one episode's per-task records
MAX_QUEUE_CAPACITY = 2**31 - 1
MAX_CLOUD_WORKERS = 4096
#: Bursty arrivals: factors in [0, MAX_FACTOR]; dwell times in [MIN_DWELL_S,
#: MAX_DWELL_S]; at most MAX_SWITCHES_PER_FRAME expected state switches per frame
#: (``2 / (fps_low * (high_factor * dwell_high + low_factor * dwell_low))``).
MAX_FACTOR = 1e3
MIN_DWELL_S, MAX_DWELL_S = 1e-3, 1e7
MAX_SWITCHES_PER_FRAME = 1e3
#: Times [s] accepted anywhere in an episode (arrival times, deadlines): beyond it a
#: float's resolution (2e-6 s at 1e10 s) no longer separates the simulation's events.
MAX_TIME_S = 1e10
BURSTY_KEYS: tuple[str, ...] = ("kind", "high_factor", "low_factor", "mean_dwell_s")


class ConfigError(ValueError):
    """An invalid configuration value; the message names the field and the value."""


def is_real(x: Any) -> bool:
    """A real number given as a number: an int or float, not a bool (nor a string)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_finite(x: Any) -> bool:
    """A real number (`is_real`) that is finite as a float: an integer too large for a
    float (above ~1.8e308) is not, and is refused by name like inf, not with a raw
    OverflowError."""
    if not is_real(x):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def check_seed(seed: Any, field: str = "seed") -> int | None:
    """A reset seed: None or a whole number >= 0 (a NumPy integer too), as an int."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"{field}={shown(seed)}: expected None or a whole number >= 0; "
                          f"nothing was reset")
    return int(seed)


def shown(value: Any) -> str:
    """`repr(value)` for a message, with integers beyond a float's range (which can be
    too long to print at all) written as their size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1024:
        return f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, (list, tuple)) and any(_huge(v) for v in value):
        inner = ", ".join(shown(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' * (len(value) == 1)})"
    return repr(value)


def _huge(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 1024) or (
        isinstance(v, (list, tuple)) and any(_huge(x) for x in v))


def check_rate_mbps(value: Any, field: str) -> float:
    """A rate [Mbit/s]: 0, or a finite number in [MIN_MBPS, MAX_MBPS]."""
    try:
        ok = is_real(value) and (value == 0 or MIN_MBPS <= value <= MAX_MBPS)
    except OverflowError:  # pragma: no cover - ints compare exactly with floats
        ok = False
    if not ok:
        raise ConfigError(f"{field}={shown(value)}: expected 0 (no uplink) or a number of "
                          f"Mbit/s in [{MIN_MBPS:g}, {MAX_MBPS:g}]")
    return float(value)


def parse_bandwidth_mbps(value: Any, field: str = "bandwidth_mbps") -> float:
    """A bandwidth in Mbit/s from a number (0, or in [MIN_MBPS, MAX_MBPS]) or a preset
    name (``"3g"``, ``"4g"``)."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in BANDWIDTH_PRESETS_MBPS:
            return BANDWIDTH_PRESETS_MBPS[key]
        try:
            value = float(key)
        except ValueError:
            raise ConfigError(f"{field}={value!r}: expected a number of Mbit/s >= 0 or one of "
                              f"{sorted(BANDWIDTH_PRESETS_MBPS)}") from None
    if not is_finite(value) or value < 0:
        raise ConfigError(f"{field}={shown(value)}: expected a finite number of Mbit/s >= 0 "
                          f"(at most {MAX_MBPS:g}) or one of {sorted(BANDWIDTH_PRESETS_MBPS)}")
    return check_rate_mbps(value, field)


def _pos_int(value: Any, field: str, most: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{field}={shown(value)}: expected a whole number >= 1")
    if most is not None and value > most:
        raise ConfigError(f"{field}={shown(value)}: expected a whole number in [1, {most}]")
    return value


def check_number(value: Any, field: str, low: float, high: float,
                 low_open: bool = False) -> float:
    """A finite real number in [low, high] (``(low, high]`` with `low_open`)."""
    if not is_finite(value) or value > high or value < low or (low_open and value == low):
        raise ConfigError(f"{field}={shown(value)}: expected a finite number in "
                          f"{'(' if low_open else '['}{low:g}, {high:g}]")
    return float(value)


def check_keys(spec: Any, allowed: tuple[str, ...], field: str) -> None:
    """Refuse a key of a generator dict that is not one of `allowed` (a misspelling)."""
    unknown = sorted(str(k) for k in spec if k not in allowed)
    if unknown:
        raise ConfigError(f"{field}[{unknown[0]!r}]: unknown key; allowed: {list(allowed)}")


def looks_like_path(value: Any, suffixes: tuple[str, ...]) -> bool:
    """Whether a string names a file: a `Path`, or a string with a directory separator or
    one of `suffixes`. Bare words (``"3g"``, ``"alexnet"``) are never read as files,
    whatever the working directory holds: write ``./3g`` to mean a file named 3g."""
    if hasattr(value, "__fspath__"):
        return True
    if not isinstance(value, str):
        return False
    return "/" in value or "\\" in value or value.lower().endswith(suffixes)


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
        rate_prior_mbps: the ``ewma`` estimate before any transfer has completed, per
            link (a number: every link's; a tuple: one per link; None:
            ``bandwidth_mbps``). Config-level knowledge: the env gives a trace spec's
            long-run mean (`splitgym.envs.core.traces.prior_mbps`), never the episode's
            own draw.
        arrival_gap_s: what a decision is told of a frame that has not arrived yet
            (``next_arrival_s``): None, its true arrival time (periodic arrivals, or
            given times: knowable); a number, ``now + arrival_gap_s`` (random arrivals:
            the workload's long-run mean gap, `splitgym.envs.core.workload.mean_gap_s`).
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
    rate_prior_mbps: float | tuple[float, ...] | None = None
    arrival_gap_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "bandwidth_mbps", parse_bandwidth_mbps(self.bandwidth_mbps))
        if self.uplink not in UPLINKS:
            raise ConfigError(f"uplink={self.uplink!r}: expected one of {list(UPLINKS)}")
        _pos_int(self.queue_capacity, "queue_capacity", MAX_QUEUE_CAPACITY)
        _pos_int(self.cloud_workers, "cloud_workers", MAX_CLOUD_WORKERS)
        d = self.deadline_s
        if d is not None and (not is_finite(d) or d <= 0 or d > MAX_TIME_S):
            raise ConfigError(f"deadline_s={shown(d)}: expected None or a number of seconds > 0 "
                              f"(at most {MAX_TIME_S:g})")
        if not isinstance(self.drop_late, bool):
            raise ConfigError(f"drop_late={self.drop_late!r}: expected True or False")
        if self.drop_late and d is None:
            raise ConfigError("drop_late=True: needs a deadline_s")
        if self.bandwidth_estimator not in ("oracle", "ewma"):
            raise ConfigError(f"bandwidth_estimator={self.bandwidth_estimator!r}: expected "
                              f"'oracle' or 'ewma'")
        a = self.ewma_alpha
        if not is_real(a) or not 0 < a <= 1:
            raise ConfigError(f"ewma_alpha={a!r}: expected a number in (0, 1]")
        if self.predictor not in ("auto", "replay", "fluid"):
            raise ConfigError(f"predictor={self.predictor!r}: expected 'auto', 'replay' or "
                              f"'fluid'")
        prior = self.rate_prior_mbps
        if prior is not None:
            values = list(prior) if isinstance(prior, (list, tuple)) else [prior]
            if not values or not all(is_finite(x) and 0 <= x <= MAX_MBPS for x in values):
                raise ConfigError(f"rate_prior_mbps={shown(prior)}: expected None, a rate in "
                                  f"[0, {MAX_MBPS:g}] Mbit/s or a non-empty tuple of them")
            if isinstance(prior, (list, tuple)):
                object.__setattr__(self, "rate_prior_mbps", tuple(float(x) for x in values))
            else:
                object.__setattr__(self, "rate_prior_mbps", float(prior))
        gap = self.arrival_gap_s
        if gap is not None and (not is_finite(gap) or not 0 < gap <= MAX_TIME_S):
            raise ConfigError(f"arrival_gap_s={shown(gap)}: expected None or a number of "
                              f"seconds > 0 (at most {MAX_TIME_S:g})")

    def link_priors(self, n_links: int) -> list[float]:
        """The ``ewma`` estimate of each of `n_links` links before any transfer has
        completed (`rate_prior_mbps`; both engines start from these floats)."""
        prior = self.rate_prior_mbps
        if prior is None:
            return [float(self.bandwidth_mbps)] * n_links
        if isinstance(prior, tuple):
            if len(prior) != n_links:
                raise ConfigError(f"rate_prior_mbps: {len(prior)} rates; expected one per "
                                  f"link ({n_links})")
            return list(prior)
        return [prior] * n_links


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
        _pos_int(self.n_edges, "n_edges", MAX_EDGES)
        fpe = self.frames_per_edge
        if isinstance(fpe, (list, tuple)):
            if len(fpe) != self.n_edges:
                raise ConfigError(f"frames_per_edge={shown(list(fpe))}: expected one count per "
                                  f"edge ({self.n_edges})")
            for f in fpe:
                _pos_int(f, "frames_per_edge", MAX_TASKS)
            object.__setattr__(self, "frames_per_edge", tuple(fpe))
            total = sum(fpe)
        else:
            _pos_int(fpe, "frames_per_edge", MAX_TASKS)
            total = fpe * self.n_edges
        if total > MAX_TASKS:
            raise ConfigError(f"frames_per_edge={shown(fpe)}: {total} frames in all (n_edges="
                              f"{self.n_edges}); expected at most {MAX_TASKS} per episode")
        arr = self.arrivals
        if isinstance(arr, dict):
            arr = tuple(sorted(arr.items(), key=lambda kv: str(kv[0])))
            object.__setattr__(self, "arrivals", arr)
        kind = arr if isinstance(arr, str) else _kind_of(arr)
        if kind not in ARRIVALS:
            raise ConfigError(f"arrivals={self.arrivals!r}: expected one of {list(ARRIVALS)} "
                              f"or a dict with 'kind'")
        fps = self.fps
        if isinstance(fps, (list, tuple)):
            if len(fps) != 2 or not all(is_real(f) and MIN_FPS <= f <= MAX_FPS for f in fps) \
                    or fps[0] > fps[1]:
                raise ConfigError(f"fps={shown(fps)}: expected a number > 0 or a (low, high) "
                                  f"range with 0 < low <= high, within [{MIN_FPS:g}, {MAX_FPS:g}]")
            object.__setattr__(self, "fps", (float(fps[0]), float(fps[1])))
        elif not is_real(fps) or not MIN_FPS <= fps <= MAX_FPS:
            raise ConfigError(f"fps={shown(fps)}: expected a number > 0 or a (low, high) range, "
                              f"within [{MIN_FPS:g}, {MAX_FPS:g}]")
        else:
            object.__setattr__(self, "fps", float(fps))
        fps_low = self.fps[0] if isinstance(self.fps, tuple) else self.fps
        if not isinstance(arr, str):
            object.__setattr__(self, "arrivals", _check_arrival_params(dict(arr), fps_low))
        elif arr == "bursty":  # the default parameters, at this fps
            _check_arrival_params({"kind": "bursty"}, fps_low)
        if self.phase_s is not None:
            ph = self.phase_s
            if is_real(ph):
                ph = (ph,) * self.n_edges
            if not isinstance(ph, (list, tuple)) or len(ph) != self.n_edges or not all(
                    is_finite(p) and 0 <= p <= MAX_DWELL_S for p in ph):
                raise ConfigError(f"phase_s={shown(self.phase_s)}: expected None or "
                                  f"{self.n_edges} finite phases >= 0 (one per edge, at most "
                                  f"{MAX_DWELL_S:g} s)")
            object.__setattr__(self, "phase_s", tuple(float(p) for p in ph))
        self._check_horizon(fps_low)

    def _check_horizon(self, fps_low: float) -> None:
        """The last frame's expected arrival within `MAX_TIME_S` (the time range of
        given arrival times too): the largest phase plus the most frames per edge at the
        lowest mean rate (a bursty process's mean factor included)."""
        fpe = self.frames_per_edge
        frames = max(fpe) if isinstance(fpe, tuple) else fpe
        params = dict(self.arrivals) if isinstance(self.arrivals, tuple) else (
            {"kind": "bursty"} if self.arrivals == "bursty" else {})
        factor = 1.0
        if params.get("kind") == "bursty":
            d0, d1 = params.get("mean_dwell_s", (2.0, 6.0))
            factor = (params.get("high_factor", 3.0) * d0 + params.get("low_factor", 0.25)
                      * d1) / (d0 + d1)
        phase = max(self.phase_s) if self.phase_s else 1.0 / fps_low
        horizon = phase + frames / (fps_low * factor)
        if horizon > MAX_TIME_S:
            raise ConfigError(f"frames_per_edge={shown(fpe)} at fps {fps_low:g}"
                              f"{f' (bursty, mean factor {factor:.3g})' if factor != 1 else ''}"
                              f": the last frame arrives near t={horizon:.3g} s; expected "
                              f"within {MAX_TIME_S:g} s (fewer frames or a higher fps)")


def _kind_of(arr: Any) -> Any:
    """The ``kind`` of an arrivals dict in its stored form (sorted items), or None."""
    try:
        return dict(arr).get("kind") if isinstance(arr, tuple) else None
    except (TypeError, ValueError):
        return None


def _check_arrival_params(params: dict[Any, Any], fps_low: float) -> tuple[tuple[str, Any], ...]:
    """Validate an arrivals dict (see `WorkloadConfig`); return it as sorted items, the
    numbers as floats."""
    kind = params["kind"]
    if kind != "bursty":
        check_keys(params, ("kind",), "arrivals")
        return (("kind", kind),)
    check_keys(params, BURSTY_KEYS, "arrivals")
    high = check_number(params.get("high_factor", 3.0), "arrivals['high_factor']", 0.0,
                        MAX_FACTOR)
    low = check_number(params.get("low_factor", 0.25), "arrivals['low_factor']", 0.0,
                       MAX_FACTOR)
    if high == 0 and low == 0:
        raise ConfigError("arrivals: bursty needs high_factor or low_factor > 0 (both are 0: "
                          "no frame would ever arrive)")
    dwell = params.get("mean_dwell_s", (2.0, 6.0))
    if not isinstance(dwell, (list, tuple)) or len(dwell) != 2:
        raise ConfigError(f"arrivals['mean_dwell_s']={shown(dwell)}: expected two dwell times [s] "
                          f"(high state, low state)")
    d = tuple(check_number(x, f"arrivals['mean_dwell_s'][{i}]", MIN_DWELL_S, MAX_DWELL_S)
              for i, x in enumerate(dwell))
    per_frame = fps_low * (high * d[0] + low * d[1])
    if 2.0 / per_frame > MAX_SWITCHES_PER_FRAME:
        raise ConfigError(f"arrivals: bursty with high_factor={high:g}, low_factor={low:g}, "
                          f"mean_dwell_s={list(d)!r} at fps {fps_low:g} switches state "
                          f"{2.0 / per_frame:.3g} times per frame; expected at most "
                          f"{MAX_SWITCHES_PER_FRAME:g} (longer dwell times or larger factors)")
    return tuple(sorted({"kind": kind, "high_factor": high, "low_factor": low,
                         "mean_dwell_s": d}.items()))
