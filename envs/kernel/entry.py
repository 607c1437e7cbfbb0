"""The compiled engine's entry points: one env's reset and step (`reset_env`,
`step_env`), N envs' resets and lock-step decisions (`reset_envs`, `step_all`, on one
thread or several; `draw_reset_envs` and `redraw_step_all`, the vector env's
autoresets with their arrivals drawn in the same call, `kernel.arrivals`), and
`FastKernel`, the Python object holding a batch's arrays and turning an episode's
inputs (arrivals, rate traces, a fleet's edge times) into what the kernel reads
(`FastKernel.prepare`)."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from numba import njit, prange

from .arrivals import DRAWN, draw_rows
from .layout import (
    C_BITS,
    C_BYTES,
    C_CLOUD_S,
    C_EDGE_S,
    C_MISSED,
    C_OBS,
    C_OFFLOADS,
    C_PENDING,
    C_TX_S,
    F_AREA,
    F_NOW,
    F_OBJ,
    N_C,
    O_TASK,
    P_EDGES,
    P_K,
    P_NF,
    P_NI,
    P_NS,
    P_O_CUT,
    P_O_DROP,
    P_O_LMASK,
    P_O_OFF,
    P_O_TEDGE,
    P_OBJECTIVE,
    P_SHARED,
    P_TASKS,
    P_TRACED,
    TR_TOTAL,
    layout,
)
from .links import traces_size, write_traces
from .loop import advance, setup, start
from .metrics import (
    M_DROPPED,
    M_MAKESPAN,
    M_MAX,
    M_MEAN,
    M_MISSED,
    M_P95,
    M_P99,
    M_TASKS,
    N_M,
    row_metrics,
    row_results,
)
from .observe import observe, scale_cuts
from .prefetch import PREFETCH_ABOVE, prefetch_fixed, prefetch_queues

_LAUNCH = threading.Lock()


@njit(cache=True)
def _objective(g, f, P):
    mode = P[P_OBJECTIVE]
    if mode == 0:
        return f[F_NOW]
    n = g[P[P_O_OFF] + P[P_EDGES]]
    if mode == 1:
        return f[F_AREA] / n
    return g[C_MISSED] / n


@njit(cache=True)
def _write_mask(g, P, masks_i):
    """The pending task's feasible cuts (its link's) into `masks_i`."""
    task = g[C_PENDING]
    k = P[P_K]
    link = 0 if P[P_SHARED] else g[P[P_O_TEDGE] + task]
    o = P[P_O_LMASK] + link * k
    for j in range(k):
        masks_i[j] = g[o + j] != 0


@njit(cache=True)
def reset_env(i, arrivals, offsets, edge_s, lmask, toff, fparams, I, F, S, T, C, P, inv,
              cap_obs, out, ctx):
    """Start env i's episode (see `loop.setup`; its traces already in ``T[i]``); write
    its first observation. Return the deciding edge or -1 (nothing to decide)."""
    g, f, tr = I[i], F[i], T[i]
    setup(g, f, tr, arrivals, offsets, edge_s, lmask, toff, fparams, C, P, inv, cap_obs)
    e = advance(g, f, tr, C, P)
    if e >= 0:
        observe(g, f, S, tr, e, C, P, inv, cap_obs, out, ctx)
    else:
        out[:] = 0.0
    return e


@njit(cache=True)
def step_env(i, c, I, F, S, T, C, P, inv, cap_obs, out, ctx):
    """One decision of env i (cut `c`, already checked): its next observation (zeros at
    the end). Return ``(edge or -1, reward)``; ``(-2, nan)``, having changed nothing,
    when env i has no pending task or `c` is out of range (a guard: the callers check
    both, and the kernel must never index with them)."""
    g, f, tr = I[i], F[i], T[i]
    if g[C_PENDING] < 0 or g[C_PENDING] >= P[P_TASKS] or c < 0 or c >= C.shape[1]:
        return -2, math.nan
    start(g, f, tr, c, C, P)
    e = advance(g, f, tr, C, P)
    if e >= 0:
        observe(g, f, S, tr, e, C, P, inv, cap_obs, out, ctx)
    else:
        out[:] = 0.0
    if e < -1:
        return e, math.nan
    current = _objective(g, f, P)
    reward = f[F_OBJ] - current
    f[F_OBJ] = current
    return e, reward


@njit(cache=True)
def check_actions(actions, skip, I, P2):
    """The first env not in `skip` whose action is not a cut in range that its pending
    task's mask allows, or -1 (row i's parameters: ``P2[i]``)."""
    for i in range(actions.shape[0]):
        a = actions[i]
        if skip[i]:
            continue
        P = P2[i]
        k = P[P_K]
        if a < 0 or a >= k:
            return i
        g = I[i]
        task = g[C_PENDING]
        if task < 0:
            continue  # step_env refuses it (a guard)
        link = 0 if P[P_SHARED] else g[P[P_O_TEDGE] + task]
        if g[P[P_O_LMASK] + link * k + a] == 0:
            return i
    return -1


@njit(cache=True)
def _step_block(lo, hi, ahead, actions, skip, I, F, S, T, C3, P2, inv, cap_obs, obs,
                rewards, done, masks):
    """One decision in each env ``lo..hi-1`` not in `skip` (row i's cut table and
    parameters ``C3[i]``, ``P2[i]``; scratch `S`; `ahead`: prefetch the next envs' rows,
    for rows out of cache); return how many ended."""
    ctx = np.empty(0)
    ended = 0
    for i in range(lo, hi):
        if ahead:
            if i + 2 < hi:
                prefetch_fixed(I[i + 2], F[i + 2], P2[i + 2])
            if i + 1 < hi:
                prefetch_queues(I[i + 1], F[i + 1], P2[i + 1])
        if skip[i]:
            continue
        P = P2[i]
        e, r = step_env(i, actions[i], I, F, S, T, C3[i], P, inv, cap_obs, obs[i], ctx)
        rewards[i] = r
        if e < 0:
            done[i] = True
            ended += 1
        elif P[P_TRACED] != 0:  # masks change with the link (constant rates: at reset)
            _write_mask(I[i], P, masks[i])
    return ended


@njit(cache=True)
def step_all(actions, skip, I, F, S, T, C3, P2, inv, cap_obs, obs, rewards, done, masks):
    """One decision in every env but those with ``skip[i]`` (just reset), in lock step.

    First checks every stepped env's action (a cut in range that its pending task's
    mask allows): if one is not, returns its env's index having changed nothing. Else
    returns ``-1 - ended`` (`ended`: how many episodes ended, flagged in `done`); the
    pending tasks' masks are written to `masks` (rows that ended: unchanged)."""
    n = actions.shape[0]
    bad = check_actions(actions, skip, I, P2)
    if bad >= 0:
        return bad
    return -1 - _step_block(0, n, n > PREFETCH_ABOVE, actions, skip, I, F, S, T, C3, P2, inv,
                            cap_obs, obs, rewards, done, masks)


@njit(cache=True, parallel=True)
def step_all_threads(actions, skip, I, F, S2, T, C3, P2, inv, cap_obs, obs, rewards, done,
                     masks):
    """`step_all` on ``S2.shape[0]`` threads, each over a contiguous block of envs with its
    own scratch row ``S2[t]`` (the envs are independent: the same bits as `step_all`)."""
    n = actions.shape[0]
    bad = check_actions(actions, skip, I, P2)
    if bad >= 0:
        return bad
    nt = S2.shape[0]
    block = (n + nt - 1) // nt
    ended = np.zeros(nt, dtype=np.int64)
    ahead = n > nt * PREFETCH_ABOVE
    for t in prange(nt):
        ended[t] = _step_block(t * block, min(n, (t + 1) * block), ahead, actions, skip, I,
                               F, S2[t], T, C3, P2, inv, cap_obs, obs, rewards, done,
                               masks)
    return -1 - ended.sum()


@njit(cache=True)
def reset_envs(rows, arrivals, offsets, edge_s, lmask, toff, fparams, I, F, S, T, C3, P2,
               inv, cap_obs, obs, masks):
    """`reset_env` of each env in `rows` (its inputs at index j for rows[j], padded to the
    largest row; its cut table and parameters ``C3[rows[j]]``, ``P2[rows[j]]``); write
    the masks of their first pending tasks."""
    ctx = np.empty(0)
    for j in range(rows.shape[0]):
        i = rows[j]
        e = reset_env(i, arrivals[j], offsets[j], edge_s[j], lmask[j], toff[j], fparams[j],
                      I, F, S, T, C3[i], P2[i], inv, cap_obs, obs[i], ctx)
        if e >= 0:
            _write_mask(I[i], P2[i], masks[i])


@njit(cache=True)
def draw_reset_envs(rows, gens, kind, ranged, phase, floats, counts, budgets, drawn, fail,
                    offsets, edge_s, lmask, toff, fparams, I, F, S, T, C3, P2, inv, cap_obs,
                    obs, masks):
    """`reset_envs` of rows `rows` of one configuration without rate traces, each row's
    arrivals first drawn from its generator ``gens[rows[j]]`` into ``drawn[j]``
    (`arrivals.draw_rows`; the other inputs the configuration's, one for every row).
    Every row is drawn before any is reset: a refused draw (its code returned, and
    written to `fail` with the row's index and the edge) resets none."""
    code = draw_rows(rows, gens, kind, ranged, phase, floats, counts, budgets, drawn, fail)
    if code != DRAWN:
        return code
    flat = np.empty(offsets[-1])
    ctx = np.empty(0)
    for j in range(rows.shape[0]):
        i = rows[j]
        for d in range(counts.size):  # edge-major, packed (frame counts may differ)
            flat[offsets[d]:offsets[d + 1]] = drawn[j, d, :counts[d]]
        e = reset_env(i, flat, offsets, edge_s, lmask, toff, fparams, I, F, S, T, C3[i],
                      P2[i], inv, cap_obs, obs[i], ctx)
        if e >= 0:
            _write_mask(I[i], P2[i], masks[i])
    return DRAWN


#: `redraw_step_all`'s result when a draw was refused (nothing stepped).
NOT_DRAWN = -(1 << 62)


@njit(cache=True)
def redraw_step_all(rows, gens, kind, ranged, phase, floats, counts, budgets, drawn, fail,
                    offsets, edge_s, lmask, toff, fparams, actions, skip, I, F, S, T, C3, P2,
                    inv, cap_obs, obs, rewards, done, masks):
    """`step_all` whose skipped envs `rows` (their episodes ended at the previous step)
    first restart, once the actions are checked, as `draw_reset_envs` restarts them:
    the vector env's next-step autoreset in the step's own call. Returns `step_all`'s
    result, or `NOT_DRAWN` (nothing reset or stepped; `fail` says why)."""
    n = actions.shape[0]
    bad = check_actions(actions, skip, I, P2)
    if bad >= 0:
        return bad
    if draw_reset_envs(rows, gens, kind, ranged, phase, floats, counts, budgets, drawn, fail,
                       offsets, edge_s, lmask, toff, fparams, I, F, S, T, C3, P2, inv,
                       cap_obs, obs, masks) != DRAWN:
        return NOT_DRAWN
    return -1 - _step_block(0, n, n > PREFETCH_ABOVE, actions, skip, I, F, S, T, C3, P2, inv,
                            cap_obs, obs, rewards, done, masks)


class RowConfig:
    """One row configuration: its parameter vector ``P`` (`layout`), cut table ``C``
    (transfer times at its nominal rate), float parameters and what its results need."""

    def __init__(self, cut_table: Any, sim_config: Any, objective: str, n_edges: int,
                 tasks: int, max_frames: int, traced: bool, inv: float, cap: float,
                 obs_version: int = 0) -> None:
        from ..core.simulator import single_cut_of

        self.sim_config, self.objective, self.traced = sim_config, objective, traced
        self.n_edges, self.tasks, self.max_frames = n_edges, tasks, max_frames
        self.fluid = sim_config.predictor == "fluid" or (sim_config.predictor == "auto"
                                                         and n_edges > 32)
        k = cut_table.n_cuts
        self.n_links = 1 if sim_config.uplink == "shared" else n_edges
        self.P = layout(n_edges, tasks, max_frames, sim_config.uplink == "shared",
                        sim_config.cloud_workers, sim_config.queue_capacity, objective, k,
                        traced=traced, ewma=sim_config.bandwidth_estimator == "ewma",
                        fluid=self.fluid, deadline=sim_config.deadline_s is not None,
                        drop_late=bool(sim_config.drop_late), obs_version=obs_version)
        self.C = np.zeros((N_C, k))
        self.C[C_EDGE_S] = cut_table.edge_s
        self.C[C_TX_S] = cut_table.transfer_s(sim_config.bandwidth_mbps)
        self.C[C_CLOUD_S] = cut_table.cloud_s
        self.C[C_OFFLOADS] = np.asarray(cut_table.offloads, dtype=np.float64)
        self.C[C_BITS] = 8.0 * cut_table.transfer_bytes
        self.C[C_BYTES] = cut_table.transfer_bytes
        scale_cuts(self.C, inv, cap)
        # (`layout.FP_*`): deadline, alpha, the arrival gap (NaN: true times), then per
        # link the EWMA's prior (the core's floats: `SimConfig.link_priors`)
        gap = sim_config.arrival_gap_s
        self.fparams = np.array([
            math.nan if sim_config.deadline_s is None else float(sim_config.deadline_s),
            float(sim_config.ewma_alpha), math.nan if gap is None else float(gap),
            float(sim_config.bandwidth_mbps)]
            + (sim_config.link_priors(self.n_links) if traced else []))
        #: the constant-rate mask (the same for every task without traces)
        self.mask = np.asarray(cut_table.feasible(sim_config.bandwidth_mbps), dtype=bool)
        self.default_edge_s = np.tile(cut_table.edge_s, (n_edges, 1))
        self.v_star = single_cut_of(self.C[C_EDGE_S], self.C[C_TX_S], self.C[C_CLOUD_S],
                                    self.mask)


class FastKernel:
    """The compiled engine's state and entry points for N envs: by default every row of
    one configuration (`sim_config`, `objective`, the cut table; `n_edges` edges, at most
    `tasks` tasks and `max_frames` frames per edge; `traced`: per-link rate traces); a
    row reset with its own configuration (`reset_many`'s `configs`) gets its own
    parameters and cut table, its state padded to the largest row."""

    def __init__(self, n_envs: int, cut_table: Any, sim_config: Any, objective: str,
                 n_edges: int, tasks: int, max_frames: int, traced: bool = False,
                 threads: int = 1, obs_version: int = 0) -> None:
        from ..observation import OBS_CAP, time_scale_s

        self.obs_version = obs_version
        self.n_envs = n_envs
        self.cut_table = cut_table
        self.k = cut_table.n_cuts
        self.inv = 1.0 / time_scale_s(cut_table.whole_edge_s)
        self.cap = float(OBS_CAP)
        self._configs: dict[Any, RowConfig] = {}
        base = self.config_of(sim_config, objective, n_edges, tasks, max_frames, traced)
        self.base = base
        self.row_cfg = [base] * n_envs
        self.n_edges, self.tasks, self.max_frames = n_edges, tasks, max_frames
        self.sim_config, self.traced, self.fluid = sim_config, traced, base.fluid
        self.n_links = base.n_links
        self.mask, self.fparams, self.v_star = base.mask, base.fparams, base.v_star
        self.default_edge_s = base.default_edge_s
        self.P2 = np.tile(base.P, (n_envs, 1))
        self.C3 = np.tile(base.C, (n_envs, 1, 1))
        self.I = np.zeros((n_envs, int(base.P[P_NI])), dtype=np.int64)
        self.F = np.zeros((n_envs, int(base.P[P_NF])))
        self.T = np.zeros((n_envs, 0))
        self.threads = threads
        self.S2 = np.zeros((threads, int(base.P[P_NS])))  # a replay scratch per thread
        self.masks = np.ones((n_envs, self.k), dtype=bool)  # each row's pending task's mask
        self._tiled: Any = None  # reset_many's inputs common to every row, tiled
        self._drawn_inputs: Any = None  # reset_drawn's (edge_s, then its inputs)

    @property
    def S(self) -> np.ndarray:
        """Thread 0's replay scratch."""
        return self.S2[0]

    @property
    def P(self) -> np.ndarray:
        """Row 0's parameter vector."""
        return self.P2[0]

    @property
    def C(self) -> np.ndarray:
        """Row 0's cut table."""
        return self.C3[0]

    def config_of(self, sim_config: Any, objective: str, n_edges: int, tasks: int,
                  max_frames: int, traced: bool) -> RowConfig:
        """The row configuration of these arguments (built once)."""
        key = (sim_config, objective, n_edges, tasks, max_frames, traced)
        cfg = self._configs.get(key)
        if cfg is None:
            cfg = self._configs[key] = RowConfig(self.cut_table, sim_config, objective,
                                                 n_edges, tasks, max_frames, traced,
                                                 self.inv, self.cap, self.obs_version)
        return cfg

    def _fit(self, cfg: RowConfig) -> None:
        """Grow the rows (and the scratch) to hold configuration `cfg`."""
        ni, nf, ns = (int(cfg.P[x]) for x in (P_NI, P_NF, P_NS))
        if ni > self.I.shape[1]:
            grown = np.zeros((self.n_envs, ni), dtype=np.int64)
            grown[:, :self.I.shape[1]] = self.I
            self.I = grown
        if nf > self.F.shape[1]:
            grownf = np.zeros((self.n_envs, nf))
            grownf[:, :self.F.shape[1]] = self.F
            self.F = grownf
        if ns > self.S2.shape[1]:
            self.S2 = np.zeros((self.threads, ns))

    # -- an episode's inputs ---------------------------------------------------------------
    def link_masks(self, traces: Any, cfg: RowConfig | None = None) -> np.ndarray:
        """Per link, its feasible cuts: with traces, offloading needs a trace that ever
        carries anything (the core's ``_link_mask``); else the constant rate's."""
        cfg = cfg or self.base
        if traces is None:
            return np.tile(cfg.mask, (cfg.n_links, 1))
        offloads = np.asarray(self.cut_table.offloads, dtype=bool)
        return np.array([np.where(offloads, tr.total_mbit > 0, True) for tr in traces])

    def written_link_masks(self, row: int, toff: np.ndarray) -> np.ndarray:
        """`link_masks` of the traces written into row `row` at link offsets `toff`,
        read from their blocks' total volumes (the same values: no trace's arrays
        built)."""
        offloads = np.asarray(self.cut_table.offloads, dtype=bool)
        carries = self.T[row, toff + TR_TOTAL] > 0
        return np.where(offloads, carries[:, None], True)

    def edge_rows(self, edge_s: Any, cfg: RowConfig | None = None) -> np.ndarray:
        """Per edge, per cut edge times [s] (the cut table's on every edge for None)."""
        cfg = cfg or self.base
        if edge_s is None:
            return cfg.default_edge_s
        return np.asarray(edge_s, dtype=np.float64).reshape(cfg.n_edges, self.k)

    def write_traces(self, rows: Any, traces_of: list[Any]) -> np.ndarray:
        """Write each row's traces into ``T`` (grown as needed); return the per-link
        offsets, shape (len(rows), links)."""
        links = max([self.n_links] + [len(trs) for trs in traces_of if trs is not None])
        toff = np.zeros((len(rows), links), dtype=np.int64)
        sized = [traces_size(trs) for trs in traces_of if trs is not None]
        if not sized:
            return toff
        self.trace_room(max(sized))
        for j, (i, trs) in enumerate(zip(rows, traces_of, strict=True)):
            if trs is not None:
                toff[j, :len(trs)] = write_traces(trs, self.T[i])
        return toff

    @staticmethod
    def flat_arrivals(arrivals: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-edge arrival lists as (flat times, offsets of each edge's first task)."""
        counts = [len(a) for a in arrivals]
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(counts)
        flat = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrivals]) \
            if counts else np.zeros(0)
        return flat, offsets

    def trace_room(self, floats: int) -> np.ndarray:
        """``T``, grown (if needed) to hold `floats` trace floats per row."""
        if floats > self.T.shape[1]:
            grown = np.zeros((self.n_envs, max(floats, 2 * self.T.shape[1])))
            grown[:, :self.T.shape[1]] = self.T
            self.T = grown
        return self.T

    def reset_many(self, rows: np.ndarray, arrivals: Any, obs: np.ndarray,
                   traces_of: list[Any] | None = None, edge_s: Any = None,
                   configs: list[RowConfig] | None = None,
                   written: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Start the episodes of envs `rows`: ``arrivals[j]`` (an (n_edges, frames)
        array, or per-edge lists) for rows[j], with link traces ``traces_of[j]`` and the
        fleet's `edge_s` (one for all rows, or with `configs` one per row); writes their
        first observations and masks. `configs` (from `config_of`): each row's own
        configuration (default: the kernel's). `written`: the rows' traces are already
        in ``T`` (`links.MarkovDraws`): their (link offsets, link masks)."""
        m = len(rows)
        cfgs = configs if configs is not None else [self.base] * m
        for i, cfg in zip(rows, cfgs, strict=True):
            if cfg is not self.row_cfg[i]:
                self._fit(cfg)
                self.row_cfg[i] = cfg
                self.P2[i] = cfg.P
                self.C3[i] = cfg.C
        traces_of = traces_of if traces_of is not None else [None] * m
        edges = [edge_s] * m if configs is None else list(edge_s)
        if configs is None and isinstance(arrivals, np.ndarray) and arrivals.ndim == 3:
            flat = arrivals.reshape(m, -1)
            per = arrivals.shape[2]
            # the rows' common inputs, tiled once for every row and sliced (a vector env
            # whose episodes end at different steps resets a row or two at a time)
            key = (per, id(edge_s))
            if self._tiled is None or self._tiled[0] != key or self._tiled[1] is not edge_s:
                n = self.n_envs
                self._tiled = (key, edge_s, np.tile(
                    np.arange(self.n_edges + 1, dtype=np.int64) * per, (n, 1)),
                    np.tile(self.link_masks(None), (n, 1, 1)).astype(np.int64),
                    np.tile(self.edge_rows(edge_s), (n, 1, 1)), np.tile(self.fparams, (n, 1)))
            offsets, lmask, edge_arr, fparams = (a[:m] for a in self._tiled[2:])
            if written is not None:
                lmask = written[1]
            elif traces_of[0] is not None:
                lmask = np.array([self.link_masks(trs) for trs in traces_of], dtype=np.int64)
        else:
            e_max = max(c.n_edges for c in cfgs)
            l_max = max(c.n_links for c in cfgs)
            flat = np.zeros((m, max(c.tasks for c in cfgs)))
            offsets = np.zeros((m, e_max + 1), dtype=np.int64)
            lmask = np.zeros((m, l_max, self.k), dtype=np.int64)
            edge_arr = np.zeros((m, e_max, self.k))
            fparams = np.zeros((m, max(c.fparams.size for c in cfgs)))
            for j, cfg in enumerate(cfgs):
                fl, off = self.flat_arrivals(arrivals[j])
                flat[j, :fl.size] = fl
                offsets[j, :off.size] = off
                lm = self.link_masks(traces_of[j], cfg) if written is None else written[1][j]
                lmask[j, :lm.shape[0]] = lm
                edge_arr[j, :cfg.n_edges] = self.edge_rows(edges[j], cfg)
                fparams[j, :cfg.fparams.size] = cfg.fparams
        toff = self.write_traces(rows, traces_of) if written is None else written[0]
        reset_envs(rows, flat, offsets, edge_arr, lmask, toff, fparams, self.I, self.F,
                   self.S, self.T, self.C3, self.P2, self.inv, self.cap, obs, self.masks)

    def reset_drawn(self, rows: np.ndarray, gens: Any, draws: Any, obs: np.ndarray,
                    edge_s: Any = None) -> None:
        """`reset_many` of envs `rows` (int64) in the kernel's own configuration without
        rate traces, their arrivals drawn in the same compiled call (`draw_reset_envs`)
        from their generators `gens` (`arrivals.RowGenerators`) as `draws`
        (`arrivals.ArrivalDraws`) says: a vector env resetting a row or two pays one
        call. Raises `make_arrivals`' error for a refused draw (no row reset)."""
        args, drawn = self._redraw_args(rows, gens, draws, edge_s)
        if draw_reset_envs(*args, self.I, self.F, self.S, self.T, self.C3, self.P2,
                           self.inv, self.cap, obs, self.masks) != DRAWN:
            draws.raise_failure(drawn)

    def _redraw_args(self, rows: np.ndarray, gens: Any, draws: Any,
                     edge_s: Any) -> tuple[tuple[Any, ...], np.ndarray]:
        """`draw_reset_envs`' arguments before the state arrays, and the array the
        arrivals are drawn into; rows `rows` made the kernel's own configuration."""
        base = self.base
        for i in rows.tolist():
            if self.row_cfg[i] is not base:
                self.row_cfg[i] = base
                self.P2[i] = base.P
                self.C3[i] = base.C
        inputs = self._drawn_inputs
        if inputs is None or inputs[0] is not edge_s:
            offsets = np.zeros(draws.counts.size + 1, dtype=np.int64)
            offsets[1:] = np.cumsum(draws.counts)
            inputs = self._drawn_inputs = (
                edge_s, offsets, np.ascontiguousarray(self.edge_rows(edge_s)),
                self.link_masks(None).astype(np.int64),
                np.zeros(self.n_links, dtype=np.int64), self.fparams)
        drawn = np.empty(draws.shape(rows.size))
        return (rows, gens, *draws.params, drawn, draws.fail, *inputs[1:]), drawn

    def step(self, actions: np.ndarray, skip: np.ndarray, obs: np.ndarray,
             rewards: np.ndarray, done: np.ndarray, redraw: Any = None) -> int:
        """One decision in every env not in `skip` (int64 `actions`); see `step_all`.
        `redraw`: ``(rows, gens, draws, edge_s)``, `reset_drawn`'s arguments for the
        envs ``rows`` in `skip` (their episodes ended), restarted once the actions are
        checked (on one thread in the same compiled call, `redraw_step_all`). Raises
        `make_arrivals`' error for a refused draw (nothing reset or stepped)."""
        if redraw is not None:
            rows, gens, draws, edge_s = redraw
            if self.threads == 1:
                args, drawn = self._redraw_args(rows, gens, draws, edge_s)
                out = redraw_step_all(*args, actions, skip, self.I, self.F, self.S, self.T,
                                      self.C3, self.P2, self.inv, self.cap, obs, rewards,
                                      done, self.masks)
                if out == NOT_DRAWN:
                    draws.raise_failure(drawn)
                return out
            bad = check_actions(actions, skip, self.I, self.P2)
            if bad >= 0:
                return bad
            self.reset_drawn(rows, gens, draws, obs, edge_s)
        if self.threads == 1:
            return step_all(actions, skip, self.I, self.F, self.S, self.T, self.C3, self.P2,
                            self.inv, self.cap, obs, rewards, done, self.masks)
        with _LAUNCH:  # numba's default threading layer takes one parallel call at a time
            return step_all_threads(actions, skip, self.I, self.F, self.S2, self.T, self.C3,
                                    self.P2, self.inv, self.cap, obs, rewards, done,
                                    self.masks)

    # -- results ---------------------------------------------------------------------------
    def n_tasks_of(self, i: int) -> int:
        """Env i's episode's task count."""
        return int(self.I[i, int(self.P2[i, P_O_OFF]) + self.row_cfg[i].n_edges])

    def task_times(self) -> np.ndarray:
        """View of every env's per-task times, shape (N, tasks, 8) (T_* fields; the
        kernel's configuration's tasks)."""
        o = O_TASK + 8 * self.tasks
        return self.F[:, O_TASK:o].reshape(self.n_envs, self.tasks, 8)

    def cuts(self) -> np.ndarray:
        """View of every env's per-task cuts, shape (N, tasks)."""
        o = int(self.P[P_O_CUT])
        return self.I[:, o:o + self.tasks]

    def dropped(self) -> np.ndarray:
        """View of every env's per-task dropped flags (0/1), shape (N, tasks)."""
        o = int(self.P[P_O_DROP])
        return self.I[:, o:o + self.tasks]

    def metrics_of(self, rows: np.ndarray, figures: tuple[np.ndarray, ...] | None = None,
                   energy_of: np.ndarray | None = None) -> list[dict[str, Any]]:
        """`Simulator.metrics()` of the finished episodes of envs `rows` (compiled,
        `metrics.row_metrics`: numpy's arithmetic in numpy's order, so the same bits).
        With `figures` (`splitgym.envs.engine.energy_figures` of the fleet's model), the
        rows where ``energy_of[j]`` (default: all) also get the ``edge_energy_j`` and
        ``mean_frame_energy_j`` that `EnergyMeter.metrics` adds (`metrics.row_energy`),
        in the same compiled call (`metrics.row_results`)."""
        rows = np.asarray(rows, dtype=np.int64)
        k = self.k
        if figures is None:
            vals = np.empty((rows.size, N_M + k))
            row_metrics(rows, self.I, self.F, self.P2, vals)
        else:
            if energy_of is None:
                energy_of = np.ones(rows.size, dtype=bool)
            vals = np.empty((rows.size, N_M + k + 2))
            row_results(rows, energy_of, self.I, self.F, self.P2, *figures, vals)
        hists = vals[:, N_M:N_M + k].astype(np.int64).tolist()
        out = []
        for j, (v, i) in enumerate(zip(vals.tolist(), rows.tolist(), strict=True)):
            n = int(v[M_TASKS])
            m = {"makespan_s": v[M_MAKESPAN], "mean_latency_s": v[M_MEAN],
                 "p95_latency_s": v[M_P95], "p99_latency_s": v[M_P99],
                 "max_latency_s": v[M_MAX], "cut_histogram": hists[j], "n_tasks": n,
                 "n_dropped": int(v[M_DROPPED])}
            if self.row_cfg[i].sim_config.deadline_s is not None:
                m["deadline_miss_rate"] = int(v[M_MISSED]) / n if n else 0.0
            if figures is not None and energy_of[j]:
                total, served = v[N_M + k], v[N_M + k + 1]
                m["edge_energy_j"] = total
                m["mean_frame_energy_j"] = total / served if served else 0.0
            out.append(m)
        return out

    def offsets_of(self, i: int) -> np.ndarray:
        """Env i's edges' first task ids (its edges + 1 of them, the last its tasks)."""
        o = int(self.P2[i, P_O_OFF])
        return self.I[i, o:o + self.row_cfg[i].n_edges + 1].copy()

    def records_of(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Env i's (per-task times (n, 8), cuts, dropped flags) in its own layout."""
        n = self.n_tasks_of(i)
        P = self.P2[i]
        times = self.F[i, O_TASK:O_TASK + 8 * n].reshape(n, 8)
        cuts = self.I[i, int(P[P_O_CUT]):int(P[P_O_CUT]) + n]
        dropped = self.I[i, int(P[P_O_DROP]):int(P[P_O_DROP]) + n] != 0
        return times, cuts, dropped


__all__ = ["C_OBS", "FastKernel", "check_actions", "reset_env", "reset_envs", "step_all",
           "step_env"]
