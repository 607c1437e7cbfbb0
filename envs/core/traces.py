"""Uplink rate over time: piecewise-constant traces, exact transfer times, generators.

A `RateTrace` holds breakpoints ``times_s[0] = 0 < times_s[1] < ...`` and the rate
``rates_mbps[i]`` on ``[times_s[i], times_s[i+1])``; the last rate holds until
``period_s``, after which the trace repeats. A transfer of ``n`` bytes starting at t
ends at the first t1 with ``integral_t^t1 rate = 8 n / 1e6`` Mbit: exact across rate
changes, paused through zero-rate intervals.

Specs (the env's ``bandwidth_mbps`` and ``edge_bandwidth_mbps``):

* a number >= 0 or ``"3g"`` / ``"4g"``: a constant rate;
* a list of ``(t_s, mbps)`` steps (the first at t = 0, each at least ``MIN_STEP_S``
  long), repeating after the last step plus its duration ``period_s`` (default: the
  last step's start + the mean step);
* a path to a CSV file of ``t_s,mbps`` rows (a header line is allowed): a `Path`, or a
  string with a directory separator or a ``.csv`` suffix. A bare word is never read as
  a file (``"3g"`` is 3G even beside a file named ``3g``): write ``"./3g"`` for that;
* ``{"kind": "markov", "rates_mbps": [...], "mean_dwell_s": [...], "transition": ...,
  "duration_s": 600}``: a continuous-time Markov chain of rates (exponential dwell
  times; next state uniform among the others unless a row-stochastic ``transition``
  matrix is given), drawn from the episode seed;
* ``{"kind": "lognormal_ar1", "mean_mbps": m, "sigma": s, "rho": r, "step_s": 1,
  "duration_s": 600}``: a log-normal AR(1) rate per step with mean m, drawn from the
  episode seed.

Rates given by the user are 0 or in [`MIN_MBPS`, `MAX_MBPS`]; generator parameters are
bounded so that a trace has at most `MAX_TRACE_STEPS` steps (see `docs/errors.md`),
and unknown keys of a generator dict are refused.
"""

from __future__ import annotations

import csv
import math
import pickle
from collections.abc import Mapping, Sequence, Sized
from pathlib import Path
from typing import Any

import numpy as np

from .config import (
    MAX_DWELL_S,
    MAX_MBPS,
    MIN_DWELL_S,
    MIN_MBPS,
    ConfigError,
    check_keys,
    check_number,
    check_rate_mbps,
    looks_like_path,
    parse_bandwidth_mbps,
    shown,
)

GENERATORS = ("markov", "lognormal_ar1")
GENERATOR_KEYS: dict[str, tuple[str, ...]] = {
    "markov": ("kind", "rates_mbps", "mean_dwell_s", "transition", "duration_s"),
    "lognormal_ar1": ("kind", "mean_mbps", "sigma", "rho", "step_s", "duration_s"),
}
#: A generated trace has at most this many steps (its memory and drawing time).
MAX_TRACE_STEPS = 1_000_000
#: One episode's uplink traces have at most this many steps in all (every link's
#: trace, drawn or given), checked before any is drawn or read: per-edge generators
#: multiply the work and memory of one trace by the number of edges.
MAX_EPISODE_TRACE_STEPS = 1_000_000
#: A trace CSV file is at most this many bytes (checked before reading it; 1,000,000
#: rows of ``t_s,mbps`` take about 20 MB).
MAX_TRACE_FILE_BYTES = 64 * 2**20
#: A generator's ``duration_s`` is at most this [s] (about 116 days).
MAX_DURATION_S = 1e7
#: Shortest step [s] of a user-given trace (steps or CSV): a narrower one has a volume
#: below the arithmetic's resolution.
MIN_STEP_S = 1e-6
#: Largest log-normal ``sigma`` (wider rates overflow).
MAX_SIGMA = 5.0
#: Most states of a Markov trace.
MAX_STATES = 64


class RateTrace:
    """A repeating piecewise-constant rate [Mbit/s]; see the module docstring."""

    def __init__(self, times_s: Sequence[float], rates_mbps: Sequence[float],
                 period_s: float, field: str = "bandwidth_mbps") -> None:
        t = np.asarray(times_s, dtype=np.float64)
        r = np.asarray(rates_mbps, dtype=np.float64)
        if t.ndim != 1 or t.size == 0 or t.size != r.size or t[0] != 0.0 or \
                not np.isfinite(t).all() or np.any(np.diff(t) <= 0) or \
                not math.isfinite(period_s) or not period_s > t[-1]:
            raise ConfigError(f"{field}: a trace needs finite steps starting at t=0, strictly "
                              f"increasing, and a finite period_s > the last step (got times "
                              f"{t.tolist()[:5]}..., period_s={period_s})")
        if np.any(~np.isfinite(r)) or np.any(r < 0):
            raise ConfigError(f"{field}: a trace's rates must be finite and >= 0 Mbit/s, got "
                              f"{r.tolist()[:5]}...")
        self.times_s, self.rates_mbps, self.period_s = t, r, float(period_s)
        widths = np.diff(np.append(t, period_s))
        with np.errstate(over="ignore"):  # an overflow is refused just below
            self._cum = np.concatenate([[0.0], np.cumsum(r * widths)])  # Mbit at each step
        self.total_mbit = float(self._cum[-1])  # per period
        if not math.isfinite(self.total_mbit):
            raise ConfigError(f"{field}: a trace's volume per period overflows "
                              f"({self.total_mbit} Mbit)")
        self.constant = bool(np.all(r == r[0]))

    @property
    def mean_mbps(self) -> float:
        """The time-average rate over a period."""
        return self.total_mbit / self.period_s

    def rate_at(self, t: float) -> float:
        """The rate at time t [Mbit/s]."""
        x = t % self.period_s
        return float(self.rates_mbps[np.searchsorted(self.times_s, x, side="right") - 1])

    def integral(self, t: float) -> float:
        """Mbit that could flow from 0 to t."""
        k, x = divmod(t, self.period_s)
        i = int(np.searchsorted(self.times_s, x, side="right")) - 1
        return k * self.total_mbit + self._cum[i] + self.rates_mbps[i] * (x - self.times_s[i])

    def finish(self, start_s: float, n_bytes: float) -> float:
        """When a transfer of `n_bytes` starting at `start_s` ends (inf if it never can)."""
        need = 8.0 * float(n_bytes) / 1e6  # a Python float, as every time of the core
        if need <= 0:
            return start_s
        if self.constant:
            r = float(self.rates_mbps[0])
            return start_s + need / r if r > 0 else math.inf
        if self.total_mbit <= 0:
            return math.inf
        target = self.integral(start_s) + need
        k, rem = divmod(target, self.total_mbit)
        if rem == 0.0 and k > 0:  # ends exactly at a period's last positive rate
            k, rem = k - 1, self.total_mbit
        # first step i whose cumulative volume reaches rem, then solve inside it
        n = self.rates_mbps.size
        i = min(max(int(np.searchsorted(self._cum, rem, side="left")) - 1, 0), n - 1)
        j = i
        while j < n and self.rates_mbps[j] <= 0:  # a zero-rate step cannot end a transfer
            j += 1
        if j == n:  # rounding put `rem` at the period's end: its last positive step ends it
            j = i
            while self.rates_mbps[j] <= 0:
                j -= 1
        i = j
        # a Python float, as every other time of the core (the same value)
        return float(k * self.period_s + self.times_s[i] +
                     (rem - self._cum[i]) / self.rates_mbps[i])


def constant(mbps: float) -> RateTrace:
    """A constant-rate trace."""
    return RateTrace([0.0], [mbps], 1.0)


def from_steps(steps: Sequence[Sequence[float]], period_s: float | None = None,
               field: str = "bandwidth_mbps") -> RateTrace:
    """A trace from ``(t_s, mbps)`` steps (at most `MAX_TRACE_STEPS`)."""
    if isinstance(steps, Sized) and len(steps) > MAX_TRACE_STEPS:
        raise ConfigError(f"{field}: {len(steps)} steps; expected at most {MAX_TRACE_STEPS}")
    try:
        arr = np.asarray(steps, dtype=np.float64)
    except OverflowError:
        raise ConfigError(f"{field}: a step holds an integer beyond a float's range "
                          f"({shown(steps)[:120]}...); expected finite (t_s, mbps) pairs "
                          f"with rates in [0, {MAX_MBPS:g}]") from None
    except (TypeError, ValueError):
        raise ConfigError(f"{field}: expected (t_s, mbps) pairs, got "
                          f"{shown(steps)[:200]}") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ConfigError(f"{field}: expected a list of (t_s, mbps) pairs, got shape "
                          f"{arr.shape}")
    if arr[0, 0] != 0.0:
        raise ConfigError(f"{field}: the first step must start at t_s = 0, got {arr[0, 0]}")
    times = arr[:, 0]
    bad = ~np.isfinite(times)
    bad[1:] |= ~(np.diff(times) >= MIN_STEP_S)
    if bad.any():
        k = int(np.argmax(bad))
        raise ConfigError(f"{field}: step {k} starts at t_s={float(times[k])!r}; expected "
                          f"finite times, each at least {MIN_STEP_S:g} s after the previous")
    for k, rate in enumerate(arr[:, 1].tolist()):
        check_rate_mbps(rate, f"{field}[{k}][1]")
    if period_s is None:
        period_s = arr[-1, 0] + (arr[-1, 0] / (len(arr) - 1) if len(arr) > 1 else 1.0)
    return RateTrace(times, arr[:, 1], period_s, field)


def from_csv(path: str | Path, field: str = "bandwidth_mbps") -> RateTrace:
    """A trace from a CSV of ``t_s,mbps`` rows (an optional header line)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{field}: trace file {str(p)!r} does not exist")
    size = p.stat().st_size
    if size > MAX_TRACE_FILE_BYTES:
        raise ConfigError(f"{field}: trace file {str(p)!r} has {size} bytes; expected at most "
                          f"{MAX_TRACE_FILE_BYTES} (about {MAX_TRACE_STEPS} rows)")
    rows = []
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{field}: trace file {str(p)!r} is not UTF-8 text (byte "
                          f"{exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{field}: trace file {str(p)!r} cannot be read ({exc.strerror})"
                          ) from None
    reader = csv.reader(text.splitlines())
    try:
        for n, row in enumerate(reader):
            if not row or row[0].strip().startswith("#"):
                continue
            if len(rows) >= MAX_TRACE_STEPS:
                raise ConfigError(f"{field}: {p.name} has more than {MAX_TRACE_STEPS} rows; "
                                  f"expected at most {MAX_TRACE_STEPS}")
            try:
                rows.append((float(row[0]), float(row[1])))
            except (ValueError, IndexError):
                if n == 0:
                    continue  # a header
                raise ConfigError(f"{field}: {p.name} line {n + 1}: expected t_s,mbps, "
                                  f"got {repr(row)[:200]}") from None
    except csv.Error as exc:  # e.g. a field over the csv module's 128 kB limit
        raise ConfigError(f"{field}: {p.name} line {reader.line_num}: not a t_s,mbps row "
                          f"({exc})") from None
    return from_steps(rows, field=field)


def _number_list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ConfigError(f"{field}={value!r}: expected a list of numbers")
    return list(value)


def check_markov(spec: Mapping[str, Any], field: str) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray, float]:
    """The Markov generator's validated (rates, dwell times, transition matrix,
    duration); see `docs/errors.md` for the bounds."""
    check_keys(spec, GENERATOR_KEYS["markov"], field)
    rates = _number_list(spec.get("rates_mbps", []), f"{field}['rates_mbps']")
    dwell = _number_list(spec.get("mean_dwell_s", []), f"{field}['mean_dwell_s']")
    if not 2 <= len(rates) <= MAX_STATES or len(rates) != len(dwell):
        raise ConfigError(f"{field}: markov needs rates_mbps (>= 0) and mean_dwell_s (> 0) "
                          f"of the same length >= 2 (at most {MAX_STATES}), got {dict(spec)!r}")
    r = np.array([check_rate_mbps(x, f"{field}['rates_mbps'][{i}]")
                  for i, x in enumerate(rates)])
    d = np.array([check_number(x, f"{field}['mean_dwell_s'][{i}]", MIN_DWELL_S, MAX_DWELL_S)
                  for i, x in enumerate(dwell)])
    n = r.size
    trans = spec.get("transition")
    if trans is None:
        trans = (np.ones((n, n)) - np.eye(n)) / (n - 1)
    try:
        trans = np.asarray(trans, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        trans = np.full(1, np.nan)
    if trans.shape != (n, n) or not np.isfinite(trans).all() or np.any(trans < 0) or \
            not np.all(np.abs(trans.sum(1) - 1.0) <= 1e-8 + 1e-5):  # np.allclose's test
        raise ConfigError(f"{field}: markov transition must be a {n}x{n} row-stochastic "
                          f"matrix")
    duration = check_number(spec.get("duration_s", 600.0), f"{field}['duration_s']",
                            MIN_DWELL_S, MAX_DURATION_S)
    if duration / d.min() > MAX_TRACE_STEPS:
        raise ConfigError(f"{field}: markov with duration_s={duration:g} and a mean dwell of "
                          f"{d.min():g} s draws about {duration / d.min():.3g} steps; expected "
                          f"at most {MAX_TRACE_STEPS} (a shorter duration_s or longer "
                          f"mean_dwell_s)")
    return r, d, trans, duration


def _markov(spec: Mapping[str, Any], rng: np.random.Generator, field: str,
            compiled: bool = False, count: int = 1) -> list[RateTrace]:
    """`count` independent Markov traces of `spec`, drawn one after another from `rng`
    (the spec validated once)."""
    rates, dwell, start, cdf, duration, expected = _markov_params(spec, field)
    draw = _compiled(_markov_chains) if compiled or expected > COMPILE_ABOVE_STEPS else \
        _markov_chains
    times, states, bounds, ends = draw(rng, start, cdf, dwell, float(duration),
                                       int(min(2 * expected + 16, 20 * MAX_TRACE_STEPS)),
                                       20 * MAX_TRACE_STEPS, count)
    out: list[RateTrace] = []
    for j, t in enumerate(ends.tolist()):
        if t < 0:
            raise ConfigError(f"{field}: the markov trace drew more than "
                              f"{20 * MAX_TRACE_STEPS} steps")
        a, b = int(bounds[j]), int(bounds[j + 1])
        out.append(MarkovTrace(times[a:b], states[a:b], t, rates, field))
    return out


#: `_markov_params`' results by spec content (at most `_MARKOV_PARAMS_MAX`).
_MARKOV_PARAMS: dict[bytes, tuple[Any, ...]] = {}
_MARKOV_PARAMS_MAX = 64


def _markov_params(spec: Mapping[str, Any], field: str) -> tuple[Any, ...]:
    """A Markov spec's validated ``(rates, mean dwells, start cdf, jump cdfs, duration,
    expected steps)`` (`check_markov`, `markov_cdfs`), computed once per distinct
    content: kept under the spec's pickle, its exact content, so a spec changed in place
    is validated again (one whose content does not pickle: at every call)."""
    try:
        key: bytes | None = pickle.dumps(dict(spec), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - any value pickle refuses: no caching
        key = None
    hit = _MARKOV_PARAMS.get(key) if key is not None else None
    if hit is None:
        rates, dwell, trans, duration = check_markov(spec, field)
        start, cdf = markov_cdfs(dwell, trans)
        hit = (rates, dwell, start, cdf, duration, duration / float(dwell.min()))
        if key is not None:
            if len(_MARKOV_PARAMS) >= _MARKOV_PARAMS_MAX:
                _MARKOV_PARAMS.clear()
            _MARKOV_PARAMS[key] = hit
    return hit


def markov_cdfs(dwell: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The normalised cumulative sums `_markov_chains` draws against: the start
    ``p = dwell / dwell.sum()`` (time-stationary only where the jump chain's
    stationary distribution is uniform, as under the default uniform jumps;
    `prior_mbps` weighs by the true one) and each row of `trans`. One uniform draw
    against them picks the state ``rng.choice(n, p)`` picks (NumPy's algorithm): the
    same draws as one ``rng.choice`` per jump, in one loop."""
    start = (dwell / dwell.sum()).cumsum()
    start /= start[-1]
    cdf = np.cumsum(trans, axis=1)
    cdf /= cdf[:, -1:]
    return start, cdf


class MarkovTrace(RateTrace):
    """A drawn Markov trace (``_markov``) that builds its `RateTrace` arrays on first
    access: the compiled engine writes it into its state row from the draw itself
    (`splitgym.envs.kernel.links.write_markov_block`, the same bits), so an episode on
    it never pays for the arrays. What `RateTrace` refuses is refused here, when the
    trace is drawn. `draw` is ``(step times, state per step, the chain's end [s],
    rate per state)``."""

    _LAZY = frozenset(("times_s", "rates_mbps", "period_s", "_cum", "total_mbit",
                       "constant"))

    def __init__(self, times: np.ndarray, states: np.ndarray, end_s: float,
                 rates: np.ndarray, field: str = "bandwidth_mbps") -> None:
        self.draw = (times, states, end_s, rates)
        self.field = field
        # what RateTrace would refuse of a draw (rates and volumes are bounded by
        # check_markov): a zero-length step; build the arrays now for its error
        if times.size > 1 and not (times[1:] > times[:-1]).all() or \
                not max(end_s, float(times[-1]) + 1e-9) > times[-1]:
            self._build()

    def _build(self) -> None:
        times, states, t, rates = self.draw
        RateTrace.__init__(self, times, rates[states], max(t, float(times[-1]) + 1e-9),
                           self.field)

    def __getattr__(self, name: str) -> Any:  # only for attributes not yet set
        if name in MarkovTrace._LAZY and "draw" in self.__dict__:
            self._build()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


#: Generated traces longer than this are drawn by a compiled loop (numba; the same
#: draws, bit for bit: numba's Generator methods are NumPy's), shorter ones in Python
#: (Markov traces for the compiled engine, ``make_trace(..., compiled=True)``: always
#: compiled, numba being loaded already).
COMPILE_ABOVE_STEPS = 20_000
_COMPILED: dict[Any, Any] = {}


def _compiled(func: Any) -> Any:
    """`func` compiled by numba (once per process; cached on disk)."""
    if func not in _COMPILED:
        from numba import njit

        _COMPILED[func] = njit(cache=True)(func)
    return _COMPILED[func]


def _markov_chains(rng: np.random.Generator, start: np.ndarray, cdf: np.ndarray,
                   scale: np.ndarray, duration: float, size: int, cap: int,
                   count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`count` Markov chains drawn one after another, each until `duration`: its start
    state (one uniform draw against `start`, the start distribution's normalised
    cumulative sum, as ``rng.choice(n, p)`` draws it), then per step an exponential
    dwell (mean ``scale[state]``) and the next state (one uniform draw against
    ``cdf[state]``, the row's normalised cumulative sum). Returns the chains' step times
    and states end to end, chain j at ``[bounds[j], bounds[j + 1])``, and each chain's
    end ``ends[j]`` (-1: it needed more than `cap` steps, and the chains after it were
    not drawn). `size`: the steps expected of one chain."""
    times = np.empty(max(size * count, 1))
    states = np.empty(times.size, dtype=np.int64)
    bounds = np.zeros(count + 1, dtype=np.int64)
    ends = np.full(count, -1.0)
    k = 0
    for j in range(count):
        first = k
        state = np.searchsorted(start, rng.random(), side="right")
        t = 0.0
        while t < duration:
            if k == times.size:
                if k - first >= cap:
                    bounds[j + 1:] = k
                    return times[:k], states[:k], bounds, ends
                grown = max(min(2 * k, first + cap), k + 1)
                more_t = np.empty(grown)
                more_s = np.empty(grown, dtype=np.int64)
                more_t[:k] = times[:k]
                more_s[:k] = states[:k]
                times, states = more_t, more_s
            times[k] = t
            states[k] = state
            k += 1
            t += rng.exponential(scale[state])
            state = np.searchsorted(cdf[state], rng.random(), side="right")
        bounds[j + 1] = k
        ends[j] = t
    return times[:k], states[:k], bounds, ends


def _ar1(x: np.ndarray, mu: float, rho: float, innov: np.ndarray) -> None:
    """x[k] = mu + rho (x[k-1] - mu) + innov[k], in place."""
    for k in range(1, x.size):
        x[k] = mu + rho * (x[k - 1] - mu) + innov[k]


def check_lognormal(spec: Mapping[str, Any], field: str) -> tuple[float, float, float,
                                                                  float, int]:
    """The log-normal AR(1) generator's validated (mean, sigma, rho, step, steps)."""
    check_keys(spec, GENERATOR_KEYS["lognormal_ar1"], field)
    if "mean_mbps" not in spec:
        raise ConfigError(f"{field}: lognormal_ar1 needs mean_mbps, got {dict(spec)!r}")
    mean = check_number(spec["mean_mbps"], f"{field}['mean_mbps']", MIN_MBPS, MAX_MBPS)
    sigma = check_number(spec.get("sigma", 0.5), f"{field}['sigma']", 0.0, MAX_SIGMA)
    rho = check_number(spec.get("rho", 0.9), f"{field}['rho']", -1.0, 1.0, low_open=True)
    if rho == 1.0:
        raise ConfigError(f"{field}['rho']=1.0: expected a number in (-1, 1)")
    step = check_number(spec.get("step_s", 1.0), f"{field}['step_s']", MIN_DWELL_S,
                        MAX_DURATION_S)
    duration = check_number(spec.get("duration_s", 600.0), f"{field}['duration_s']",
                            step, MAX_DURATION_S)
    n = int(math.ceil(duration / step))
    if n > MAX_TRACE_STEPS:
        raise ConfigError(f"{field}: lognormal_ar1 with duration_s={duration:g} and step_s="
                          f"{step:g} has {n} steps; expected at most {MAX_TRACE_STEPS}")
    return mean, sigma, rho, step, n


def _lognormal_ar1(spec: Mapping[str, Any], rng: np.random.Generator,
                   field: str) -> RateTrace:
    mean, sigma, rho, step, n = check_lognormal(spec, field)
    mu = math.log(mean) - sigma ** 2 / 2
    x = np.empty(n)
    x[0] = mu + sigma * rng.standard_normal()
    innov = sigma * math.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    (_compiled(_ar1) if n > COMPILE_ABOVE_STEPS else _ar1)(x, mu, rho, innov)
    return RateTrace(np.arange(n) * step, np.exp(x), n * step, field)


def make_trace(spec: Any, rng: np.random.Generator | None = None,
               field: str = "bandwidth_mbps", compiled: bool = False) -> RateTrace:
    """A `RateTrace` from any spec (see the module docstring); generators draw from
    `rng` (required for them). `compiled`: for the compiled engine (numba is loaded):
    a Markov chain of any length is drawn by the compiled loop (the same draws)."""
    if isinstance(spec, RateTrace):
        return spec
    if isinstance(spec, Mapping):
        kind = spec.get("kind")
        if kind not in GENERATORS:
            raise ConfigError(f"{field}: unknown generator kind {kind!r}; expected one of "
                              f"{list(GENERATORS)}")
        if rng is None:
            raise ConfigError(f"{field}: a generator needs the episode's random generator")
        return _markov(spec, rng, field, compiled)[0] if kind == "markov" else \
            _lognormal_ar1(spec, rng, field)
    if looks_like_path(spec, (".csv",)):
        return from_csv(spec, field)
    if isinstance(spec, (list, tuple)):
        return from_steps(spec, field=field)
    return constant(parse_bandwidth_mbps(spec, field))


def make_traces(spec: Any, rng: np.random.Generator | None, count: int,
                field: str = "bandwidth_mbps", compiled: bool = False) -> list[RateTrace]:
    """`count` independent draws of `spec`: what `count` calls of `make_trace` give (the
    same traces, the generator left alike), a Markov spec validated once."""
    if isinstance(spec, Mapping) and spec.get("kind") == "markov" and rng is not None:
        return _markov(spec, rng, field, compiled, count)
    return [make_trace(spec, rng, field, compiled) for _ in range(count)]


def check_spec(spec: Any, field: str = "bandwidth_mbps") -> None:
    """Validate a spec without drawing it (a generator's parameters are checked, not
    drawn: one draw can be a million steps)."""
    trace_steps(spec, field)


def trace_steps(spec: Any, field: str = "bandwidth_mbps") -> int:
    """A validated spec's number of steps, known before any drawing: 1 for a constant,
    the steps of a list or CSV, a Markov chain's expected steps (``duration_s`` / the
    shortest mean dwell), a log-normal trace's ``duration_s / step_s``."""
    if isinstance(spec, RateTrace):
        return int(spec.times_s.size)
    if isinstance(spec, Mapping):
        kind = spec.get("kind")
        if kind == "markov":
            _, dwell, _, duration = check_markov(spec, field)
            return max(1, math.ceil(duration / float(dwell.min())))
        if kind == "lognormal_ar1":
            return check_lognormal(spec, field)[4]
        make_trace(spec, None, field)  # the unknown kind's error
    if is_constant_spec(spec):
        parse_bandwidth_mbps(spec, field)
        return 1
    return int(make_trace(spec, None, field).times_s.size)


def check_episode_traces(specs: Sequence[tuple[Any, str]], n_copies: int = 1) -> int:
    """Refuse an episode whose uplink traces have more than `MAX_EPISODE_TRACE_STEPS`
    steps in all (`specs`: each link's spec and field; `n_copies`: independent draws of
    each, for one spec drawn per edge), before any is drawn; returns the total."""
    counts = [trace_steps(spec, field) for spec, field in specs]
    total = n_copies * sum(counts)
    if total > MAX_EPISODE_TRACE_STEPS:
        field = specs[0][1].split("[")[0] if specs else "bandwidth_mbps"
        per = f"{n_copies} links x {counts[0]}" if n_copies > 1 else \
            f"{len(counts)} traces of up to {max(counts)}"
        raise ConfigError(f"{field}: {total} trace steps in one episode ({per} steps); "
                          f"expected at most {MAX_EPISODE_TRACE_STEPS} (fewer edges with "
                          f"their own trace, or shorter traces)")
    return total


def nominal_mbps(spec: Any, field: str = "bandwidth_mbps") -> float:
    """A validated spec's nominal rate [Mbit/s]: the constant, or the time-average of one
    throwaway realisation (generators drawn with seed 0)."""
    if is_constant_spec(spec):
        return parse_bandwidth_mbps(spec, field)
    return make_trace(spec, np.random.default_rng(0), field).mean_mbps


def prior_mbps(spec: Any, field: str = "bandwidth_mbps") -> float:
    """A validated spec's long-run mean rate [Mbit/s], known before any episode is drawn:
    the ``ewma`` estimator's starting value (`SimConfig.rate_prior_mbps`).

    A constant: itself. Steps, a CSV file or a `RateTrace` (the same trace every
    episode): its time-average over a period. ``markov``: the chain's stationary mean,
    ``sum_i p_i r_i`` with ``p_i`` proportional to ``pi_i * mean_dwell_s[i]`` (``pi``:
    the stationary distribution of the jump chain ``transition``, by least squares;
    the least-norm one where the chain has several). ``lognormal_ar1``: ``mean_mbps``
    (the process is stationary with that mean).
    """
    if is_constant_spec(spec):
        return parse_bandwidth_mbps(spec, field)
    if isinstance(spec, Mapping) and spec.get("kind") == "markov":
        rates, dwell, trans, _ = check_markov(spec, field)
        n = rates.size
        a = np.vstack([trans.T - np.eye(n), np.ones((1, n))])
        b = np.zeros(n + 1)
        b[-1] = 1.0
        pi = np.clip(np.linalg.lstsq(a, b, rcond=None)[0], 0.0, None)
        p = pi * dwell
        return float(np.dot(p / p.sum(), rates))
    if isinstance(spec, Mapping) and spec.get("kind") == "lognormal_ar1":
        return check_lognormal(spec, field)[0]
    return make_trace(spec, None, field).mean_mbps


def is_constant_spec(spec: Any) -> bool:
    """A number or a preset name: the paper's constant bandwidth."""
    return not isinstance(spec, (Mapping, list, tuple, RateTrace)) and not looks_like_path(
        spec, (".csv",))
