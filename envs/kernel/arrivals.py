"""An episode's arrival times, drawn in compiled code from each env's own generator.

`draw_rows` draws the next episode's arrivals of many envs in one call: the draws of
`splitgym.envs.core.workload.make_arrivals` (periodic, Poisson and bursty arrivals,
an fps range and drawn phases included), in its order and with its arithmetic, so the
same bits and each generator left in the same state; then `check_generated`'s checks.
`RowGenerators` holds the envs' numpy generators in a numba typed list, so a call pays
no per-generator conversion (numba's unboxing of one `Generator` costs about as much
as a whole reset of a row): it converts a generator once, when an env's generator
object changes (a reset with a seed makes a new one). `ArrivalDraws` is a workload's
parameters as `draw_rows` takes them.

The vector env resets the rows whose episodes ended with these (episodes that end at
different steps reset a row or two at a time, so a reset's fixed cost is what counts).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, typed

from ..core.config import MAX_SWITCHES_PER_FRAME, MAX_TIME_S, ConfigError, WorkloadConfig
from ..core.workload import check_generated, mmpp_times

#: `ArrivalDraws.kind`'s values.
PERIODIC, POISSON, BURSTY = 0, 1, 2
#: `draw_rows`' result codes (`ArrivalDraws.fail` holds the code, the row's index in
#: the call and the edge).
DRAWN, TOO_MANY_SWITCHES, NOT_CHECKED = -1, 0, 1

_mmpp_times = njit(cache=True)(mmpp_times)


class ArrivalDraws:
    """A workload's arrival parameters as `draw_rows` takes them (`params`), and the
    errors its result codes stand for (`raise_failure`)."""

    def __init__(self, workload: WorkloadConfig) -> None:
        n = workload.n_edges
        arr = workload.arrivals
        kind = arr if isinstance(arr, str) else dict(arr)["kind"]
        self.kind = {"periodic": PERIODIC, "poisson": POISSON, "bursty": BURSTY}[kind]
        self.extra = {} if isinstance(arr, str) else dict(arr)  # the bursty parameters
        frames = workload.frames_per_edge
        self.counts = np.asarray(list(frames) if isinstance(frames, tuple) else [frames] * n,
                                 dtype=np.int64)
        fps = workload.fps
        ranged = isinstance(fps, tuple)
        lo, hi = (fps if ranged else (fps, fps))
        phase = np.zeros(0) if workload.phase_s is None or self.kind != PERIODIC else \
            np.asarray(workload.phase_s, dtype=np.float64)
        # `workload._mmpp`'s parameters
        dwell = [float(x) for x in self.extra.get("mean_dwell_s", (2.0, 6.0))]
        budgets = 20 * (self.counts + 1) * (MAX_SWITCHES_PER_FRAME + 1)
        floats = np.array([float(lo), float(hi), float(self.extra.get("high_factor", 3.0)),
                           float(self.extra.get("low_factor", 0.25)), dwell[0], dwell[1]])
        #: `draw_rows`' arguments after the rows and generators, before the output
        self.params = (self.kind, int(ranged), phase, floats, self.counts, budgets)
        #: where a refused draw is written: (code, the row's index in the call, edge)
        self.fail = np.full(3, DRAWN, dtype=np.int64)

    def shape(self, m: int) -> tuple[int, int, int]:
        """`draw_rows`' output shape for `m` rows: (rows, edges, most frames)."""
        return (m, self.counts.size, int(self.counts.max(initial=0)))

    def raise_failure(self, out: np.ndarray) -> None:
        """The `make_arrivals` error of the refused draw in `fail`, from the draw's
        output `out` (rows, edges, frames)."""
        code, j, e = self.fail.tolist()
        if code == TOO_MANY_SWITCHES:
            raise ConfigError(f"arrivals={self.extra!r}: the bursty process switched state "
                              f"more than {20 * MAX_SWITCHES_PER_FRAME:g} times per frame")
        check_generated([out[j, d, :c] for d, c in enumerate(self.counts.tolist())],
                        "arrivals")
        raise AssertionError(f"draw_rows refused edge {e}'s arrivals, check_generated "
                             f"accepts them")  # pragma: no cover


class RowGenerators:
    """The envs' numpy generators in a numba typed list (`gens`), kept in step with the
    envs' current generator objects by `refresh`. Not pickled (a copy rebuilds it)."""

    def __init__(self, n: int) -> None:
        self._objs: list[Any] = [None] * n
        self._list: Any = None

    def refresh(self, envs: list[Any], rows: Any) -> Any:
        """The typed list, its entries of `rows` made `envs[i].np_random` (a new object
        converted once; the same object is the same state, drawn in place)."""
        objs = self._objs
        if self._list is None:
            self._list = typed.List([env.np_random for env in envs])
            self._objs = objs = [env.np_random for env in envs]
            return self._list
        for i in rows:
            rng = envs[i].np_random
            if rng is not objs[i]:
                self._list[i] = rng
                objs[i] = rng
        return self._list

    def __getstate__(self) -> dict[str, Any]:
        return {"_objs": [None] * len(self._objs), "_list": None}


@njit(cache=True)
def draw_row(rng, kind, ranged, phase, floats, counts, budgets, out):
    """`make_arrivals`' draws of one episode from `rng` into ``out[e, :counts[e]]``;
    return `DRAWN`, or (with the edge) `TOO_MANY_SWITCHES` or `NOT_CHECKED` (times that
    `check_generated` refuses)."""
    n = counts.size
    lo, hi = floats[0], floats[1]
    fps = np.empty(n)
    for e in range(n):  # rng.uniform(lo, hi, size=n), or np.full(n, fps)
        fps[e] = rng.uniform(lo, hi) if ranged else lo
    if kind == PERIODIC:
        ph = np.empty(n)
        if phase.size:
            ph[:] = phase
        else:
            for e in range(n):  # rng.uniform(0.0, 1.0, size=n), then / fps
                ph[e] = rng.uniform(0.0, 1.0)
            for e in range(n):
                ph[e] = ph[e] / fps[e]
        for e in range(n):  # phase + np.arange(count) / fps
            for k in range(counts[e]):
                out[e, k] = ph[e] + k / fps[e]
    elif kind == POISSON:
        for e in range(n):  # np.cumsum(rng.exponential(1.0 / fps, size=count))
            scale = 1.0 / fps[e]
            t = 0.0
            for k in range(counts[e]):
                x = rng.exponential(scale)
                t = x if k == 0 else t + x
                out[e, k] = t
    else:
        high, low, dwell0, dwell1 = floats[2], floats[3], floats[4], floats[5]
        for e in range(n):  # `_mmpp`, edge by edge
            times, ok = _mmpp_times(rng, fps[e] * high, fps[e] * low, dwell0, dwell1,
                                    counts[e], budgets[e])
            if not ok:
                return TOO_MANY_SWITCHES, e
            out[e, :counts[e]] = times
    for e in range(n):  # check_generated
        c = counts[e]
        if c == 0:
            continue
        if not (out[e, 0] >= 0.0 and out[e, c - 1] <= 2 * MAX_TIME_S):
            return NOT_CHECKED, e
        for k in range(c):
            if not math.isfinite(out[e, k]) or k and not out[e, k] >= out[e, k - 1]:
                return NOT_CHECKED, e
    return DRAWN, -1


@njit(cache=True)
def draw_rows(rows, gens, kind, ranged, phase, floats, counts, budgets, out, fail):
    """The next episode's arrivals of env ``rows[j]`` from its generator ``gens[rows[j]]``
    into ``out[j]`` (see `draw_row`), row by row; stop at the first refused row and
    return its code (in ``fail``: the code, its index in `rows` and the edge), else
    `DRAWN`."""
    for j in range(rows.size):
        code, e = draw_row(gens[rows[j]], kind, ranged, phase, floats, counts, budgets,
                           out[j])
        if code != DRAWN:
            fail[0], fail[1], fail[2] = code, j, e
            return code
    return DRAWN
