"""Uplink rate over time: piecewise-constant traces, exact transfer times, generators.

A `RateTrace` holds breakpoints ``times_s[0] = 0 < times_s[1] < ...`` and the rate
``rates_mbps[i]`` on ``[times_s[i], times_s[i+1])``; the last rate holds until
``period_s``, after which the trace repeats. A transfer of ``n`` bytes starting at t
ends at the first t1 with ``integral_t^t1 rate = 8 n / 1e6`` Mbit: exact across rate
changes, paused through zero-rate intervals.

Specs (the env's ``bandwidth_mbps`` and ``edge_bandwidth_mbps``):

* a number >= 0 or ``"3g"`` / ``"4g"``: a constant rate;
* a list of ``(t_s, mbps)`` steps (the first at t = 0), repeating after the last step
  plus its duration ``period_s`` (default: the last step's start + the mean step);
* a path to a CSV file of ``t_s,mbps`` rows (a header line is allowed);
* ``{"kind": "markov", "rates_mbps": [...], "mean_dwell_s": [...], "transition": ...,
  "duration_s": 600}``: a continuous-time Markov chain of rates (exponential dwell
  times; next state uniform among the others unless a row-stochastic ``transition``
  matrix is given), drawn from the episode seed;
* ``{"kind": "lognormal_ar1", "mean_mbps": m, "sigma": s, "rho": r, "step_s": 1,
  "duration_s": 600}``: a log-normal AR(1) rate per step with mean m, drawn from the
  episode seed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import ConfigError, parse_bandwidth_mbps

GENERATORS = ("markov", "lognormal_ar1")


class RateTrace:
    """A repeating piecewise-constant rate [Mbit/s]; see the module docstring."""

    def __init__(self, times_s: Sequence[float], rates_mbps: Sequence[float],
                 period_s: float) -> None:
        t = np.asarray(times_s, dtype=np.float64)
        r = np.asarray(rates_mbps, dtype=np.float64)
        if t.ndim != 1 or t.size == 0 or t.size != r.size or t[0] != 0.0 or \
                np.any(np.diff(t) <= 0) or not period_s > t[-1]:
            raise ConfigError(f"trace: need steps starting at t=0, strictly increasing, "
                              f"and period_s > the last step (got times {t.tolist()[:5]}..., "
                              f"period_s={period_s})")
        if np.any(~np.isfinite(r)) or np.any(r < 0):
            raise ConfigError(f"trace: rates must be finite and >= 0 Mbit/s, got "
                              f"{r.tolist()[:5]}...")
        self.times_s, self.rates_mbps, self.period_s = t, r, float(period_s)
        widths = np.diff(np.append(t, period_s))
        self._cum = np.concatenate([[0.0], np.cumsum(r * widths)])  # Mbit at each step
        self.total_mbit = float(self._cum[-1])  # per period
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
        need = 8.0 * n_bytes / 1e6
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
        i = int(np.searchsorted(self._cum, rem, side="left")) - 1
        i = max(i, 0)
        while self.rates_mbps[i] <= 0:  # a zero-rate step cannot end a transfer
            i += 1
        return k * self.period_s + self.times_s[i] + (rem - self._cum[i]) / self.rates_mbps[i]


def constant(mbps: float) -> RateTrace:
    """A constant-rate trace."""
    return RateTrace([0.0], [mbps], 1.0)


def from_steps(steps: Sequence[Sequence[float]], period_s: float | None = None,
               field: str = "bandwidth_mbps") -> RateTrace:
    """A trace from ``(t_s, mbps)`` steps."""
    try:
        arr = np.asarray(steps, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{field}: expected (t_s, mbps) pairs, got {steps!r}") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ConfigError(f"{field}: expected a list of (t_s, mbps) pairs, got shape "
                          f"{arr.shape}")
    if arr[0, 0] != 0.0:
        raise ConfigError(f"{field}: the first step must start at t_s = 0, got {arr[0, 0]}")
    if period_s is None:
        period_s = arr[-1, 0] + (arr[-1, 0] / (len(arr) - 1) if len(arr) > 1 else 1.0)
    return RateTrace(arr[:, 0], arr[:, 1], period_s)


def from_csv(path: str | Path, field: str = "bandwidth_mbps") -> RateTrace:
    """A trace from a CSV of ``t_s,mbps`` rows (an optional header line)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{field}: trace file {str(p)!r} does not exist")
    rows = []
    with p.open() as fh:
        for n, row in enumerate(csv.reader(fh)):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                rows.append((float(row[0]), float(row[1])))
            except (ValueError, IndexError):
                if n == 0:
                    continue  # a header
                raise ConfigError(f"{field}: {p.name} line {n + 1}: expected t_s,mbps, "
                                  f"got {row!r}") from None
    return from_steps(rows, field=field)


def _markov(spec: Mapping[str, Any], rng: np.random.Generator, field: str) -> RateTrace:
    rates = np.asarray(spec.get("rates_mbps", []), dtype=np.float64)
    dwell = np.asarray(spec.get("mean_dwell_s", []), dtype=np.float64)
    if rates.size < 2 or rates.size != dwell.size or np.any(dwell <= 0) or np.any(rates < 0):
        raise ConfigError(f"{field}: markov needs rates_mbps (>= 0) and mean_dwell_s (> 0) "
                          f"of the same length >= 2, got {dict(spec)!r}")
    n = rates.size
    trans = spec.get("transition")
    if trans is None:
        trans = (np.ones((n, n)) - np.eye(n)) / (n - 1)
    trans = np.asarray(trans, dtype=np.float64)
    if trans.shape != (n, n) or np.any(trans < 0) or not np.allclose(trans.sum(1), 1.0):
        raise ConfigError(f"{field}: markov transition must be a {n}x{n} row-stochastic "
                          f"matrix")
    duration = float(spec.get("duration_s", 600.0))
    state = int(rng.choice(n, p=dwell / dwell.sum()))  # time-stationary start, uniform jumps
    t, times, values = 0.0, [], []
    while t < duration:
        times.append(t)
        values.append(rates[state])
        t += float(rng.exponential(dwell[state]))
        state = int(rng.choice(n, p=trans[state]))
    return RateTrace(times, values, max(t, times[-1] + 1e-9))


def _lognormal_ar1(spec: Mapping[str, Any], rng: np.random.Generator,
                   field: str) -> RateTrace:
    mean = float(spec.get("mean_mbps", 0.0))
    sigma, rho = float(spec.get("sigma", 0.5)), float(spec.get("rho", 0.9))
    step, duration = float(spec.get("step_s", 1.0)), float(spec.get("duration_s", 600.0))
    if not (mean > 0 and sigma >= 0 and -1 < rho < 1 and step > 0 and duration >= step):
        raise ConfigError(f"{field}: lognormal_ar1 needs mean_mbps > 0, sigma >= 0, "
                          f"-1 < rho < 1, step_s > 0, duration_s >= step_s; got {dict(spec)!r}")
    n = int(math.ceil(duration / step))
    mu = math.log(mean) - sigma ** 2 / 2
    x = np.empty(n)
    x[0] = mu + sigma * rng.standard_normal()
    innov = sigma * math.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    for k in range(1, n):
        x[k] = mu + rho * (x[k - 1] - mu) + innov[k]
    return RateTrace(np.arange(n) * step, np.exp(x), n * step)


def make_trace(spec: Any, rng: np.random.Generator | None = None,
               field: str = "bandwidth_mbps") -> RateTrace:
    """A `RateTrace` from any spec (see the module docstring); generators draw from
    `rng` (required for them)."""
    if isinstance(spec, RateTrace):
        return spec
    if isinstance(spec, Mapping):
        kind = spec.get("kind")
        if kind not in GENERATORS:
            raise ConfigError(f"{field}: unknown generator kind {kind!r}; expected one of "
                              f"{list(GENERATORS)}")
        if rng is None:
            raise ConfigError(f"{field}: a generator needs the episode's random generator")
        return _markov(spec, rng, field) if kind == "markov" else \
            _lognormal_ar1(spec, rng, field)
    if isinstance(spec, (str, Path)) and (str(spec).lower().endswith(".csv")
                                          or Path(spec).is_file()):
        return from_csv(spec, field)
    if isinstance(spec, (list, tuple)):
        return from_steps(spec, field=field)
    return constant(parse_bandwidth_mbps(spec, field))


def check_spec(spec: Any, field: str = "bandwidth_mbps") -> None:
    """Validate a spec without drawing (generators are checked with a throwaway draw)."""
    make_trace(spec, np.random.default_rng(0), field)


def nominal_mbps(spec: Any, field: str = "bandwidth_mbps") -> float:
    """A validated spec's nominal rate [Mbit/s]: the constant, or the time-average of one
    throwaway realisation (generators drawn with seed 0)."""
    if is_constant_spec(spec):
        return parse_bandwidth_mbps(spec, field)
    return make_trace(spec, np.random.default_rng(0), field).mean_mbps


def is_constant_spec(spec: Any) -> bool:
    """A number or a preset name: the paper's constant bandwidth."""
    return not isinstance(spec, (Mapping, list, tuple, RateTrace)) and not (
        isinstance(spec, (str, Path)) and (str(spec).lower().endswith(".csv")
                                           or Path(spec).is_file()))
