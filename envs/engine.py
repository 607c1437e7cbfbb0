"""The seam between `EdgeCloudEnv` and the two engines that run its episodes.

`Engine` is what the Gymnasium adapter holds for an episode: the Python core
(`PythonEngine`, over `splitgym.envs.core.Simulator`, the reference) or the compiled
kernel (`CompiledEngine`, one state row of `splitgym.envs.fast.FastKernel`). Both cover
every configuration the env accepts; the adapter picks one by its ``engine`` argument
(``"auto"``: compiled) and from then on only calls the interface below, so reset, step,
records, masks, rendering and simulator access read the same for both. Both engines
give the same episodes bit for bit (the differential tests in
``tests/test_properties.py`` keep them honest). A new condition is one change in the
core and one in the kernel (`splitgym.envs.kernel`), never a branch in the adapter.

The adapter keeps the pending decision context itself and hands the engine the task it
believes is pending on each step: the compiled engine checks its row is still there (the
kernel trusts it), so an env that shares its engine with another by a dict-level copy
gets an `EngineStateError`, not a corrupted episode.

`EnergyMeter` is the one place the edge energy enters an episode, for both engines:
the ``edge_energy_j`` / ``mean_frame_energy_j`` metrics, the energy objectives'
rewards and each context's per-cut ``edge_energy_j`` prediction, all computed from what
both engines give bit for bit (records and contexts), so they agree by construction.

`CompiledBatch` is the batched side of the compiled engine: N kernel rows whose episodes
come from N single envs' generators, shared by the native vector env and SB3's
`NativeVecEnv`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from splitgym.profiles.cuts import CutTable

from .core.config import ConfigError, SimConfig
from .core.energy import ENERGY_OBJECTIVES, EnergyModel, edge_energy_j
from .core.simulator import Simulator, TaskRecords, check_cut
from .core.traces import MAX_TRACE_STEPS, RateTrace, is_constant_spec
from .core.workload import make_arrivals
from .observation import encode, version_of

Context = dict[str, Any]


class EngineStateError(RuntimeError):
    """The engine's state is not at the caller's pending decision (stale or shared); the
    episode cannot go on: reset."""


def engine_objective(objective: str) -> str:
    """What an engine's own reward measures for `objective`: the makespan under the
    energy objectives (`EnergyMeter` adds their energy terms), else the objective."""
    return "makespan" if objective in ENERGY_OBJECTIVES else objective


class EnergyMeter:
    """The episode's edge energy (`splitgym.envs.core.energy`), kept by the seam the same
    way for both engines.

    * `metrics` adds ``edge_energy_j`` (the fleet's edge energy over the episode [J])
      and ``mean_frame_energy_j`` (that over the frames served: dropped ones left out) to a finished
      episode's metrics; nothing without a `model` (an edge device with no power
      figures).
    * `reward` turns the engine's reward into the objective's: with ``"energy"``
      minus the edge energy accrued since the previous decision (by the new decision's
      time; by the episode's end on the last step), so the return is minus
      ``edge_energy_j``; with ``"makespan_energy"`` the makespan reward minus
      ``energy_weight_s_per_j`` times that energy, so the return is minus
      ``makespan_s + energy_weight_s_per_j * edge_energy_j``; other objectives pass
      the engine's reward through unchanged.
    * `annotate` adds ``edge_energy_j`` to a decision context: per cut, the frame's
      predicted edge energy in Neurosurgeon's model (`EnergyModel.predicted_j`; on the
      compiled engine its arithmetic compiled, the same bits).

    Cost: an energy objective recomputes the accrued energy from the episode's records
    at every decision, O(tasks) each (the paper's setting steps at about a tenth of the
    makespan objective's rate on the compiled engine, measured on a loaded 2-core
    machine); the metrics cost that once per episode.
    """

    def __init__(self, model: EnergyModel | None = None, objective: str = "makespan",
                 energy_weight_s_per_j: float = 0.0) -> None:
        self.model = model
        self.objective = objective
        self.energy_weight_s_per_j = energy_weight_s_per_j
        self._accrued_j = 0.0  # the energy accrued by the previous decision
        self._predicted: dict[tuple[Any, ...], np.ndarray] = {}  # annotate's results
        self._per_edge: list[tuple[float, float, float]] | None = None  # annotate's

    def start(self, ctx: Context | None, compiled: bool = False) -> Context | None:
        """A new episode, whose first context is `ctx` (`compiled`: see `annotate`)."""
        self._accrued_j = 0.0
        return self.annotate(ctx, compiled)

    def reward(self, records: Any, reward: float, ctx: Context | None) -> float:
        """The objective's reward of a step whose engine reward is `reward` and whose
        next context is `ctx`; `records` gives the episode's records (called only for
        the energy objectives)."""
        if self.objective not in ENERGY_OBJECTIVES:
            return reward
        accrued = edge_energy_j(records(), self.model,
                                math.inf if ctx is None else ctx["time_s"])
        step_j = accrued - self._accrued_j
        self._accrued_j = accrued
        if self.objective == "energy":
            return 0.0 - step_j  # never -0.0
        return reward - self.energy_weight_s_per_j * step_j

    def annotate(self, ctx: Context | None, compiled: bool = False) -> Context | None:
        """`ctx` with its per-cut predicted ``edge_energy_j`` (where there is a model).
        `compiled`: for the compiled engine (numba is loaded): computed by
        `splitgym.envs.fast.predicted_energy`, `EnergyModel.predicted_j`'s arithmetic
        compiled (the same bits; numpy's per-call cost was most of a decision's when the
        rate estimate moves)."""
        if ctx is not None and self.model is not None and compiled:
            per_edge = self._per_edge
            if per_edge is None:
                m = self.model
                per_edge = self._per_edge = list(zip(
                    (m.compute_w - m.idle_w).tolist(), m.tx_base_w.tolist(),
                    m.tx_w_per_mbps.tolist(), strict=True))
            extra_w, base_w, per_mbps_w = per_edge[ctx["edge"]]
            ctx["edge_energy_j"] = (_FAST[0] or _load_fast()).predicted_energy(
                extra_w, base_w, per_mbps_w, float(ctx["bandwidth_mbps"]), ctx["edge_s"],
                ctx["transfer_s"])
        elif ctx is not None and self.model is not None:
            # the same inputs recur at every decision of a constant-rate episode: reuse
            edge_s, tx, rate = ctx["edge_s"], ctx["transfer_s"], ctx["bandwidth_mbps"]
            m, e = self.model, ctx["edge"]
            key = (m.compute_w[e] - m.idle_w[e], m.tx_base_w[e], m.tx_w_per_mbps[e], rate,
                   edge_s.tobytes(), tx.tobytes())
            hit = self._predicted.get(key)
            if hit is None:
                if len(self._predicted) >= 256:
                    self._predicted.clear()
                hit = self._predicted[key] = m.predicted_j(e, edge_s, tx, rate)
            ctx["edge_energy_j"] = hit.copy()
        return ctx

    def metrics(self, metrics: dict[str, Any], records: TaskRecords) -> dict[str, Any]:
        """`metrics` of a finished episode with its energy (where there is a model)."""
        if self.model is not None:
            total = edge_energy_j(records, self.model)
            # per frame served: a dropped frame costs (nearly) nothing, so counting it
            # would make dropping look efficient (mean_latency_s leaves it out too)
            n = int(np.count_nonzero(~np.asarray(records.dropped, dtype=bool)))
            metrics["edge_energy_j"] = total
            metrics["mean_frame_energy_j"] = total / n if n else 0.0
        return metrics


#: A meter that adds nothing (an engine reset without one).
NO_METER = EnergyMeter()


class Engine(Protocol):
    """One episode's simulation, as the adapter drives it."""

    #: True for the compiled kernel (what ``EdgeCloudEnv._compiled`` reports).
    compiled: bool
    #: The episode's system configuration and objective (set by `reset`).
    config: SimConfig
    objective: str

    def reset(self, arrivals: list[np.ndarray], config: SimConfig, objective: str,
              link_traces: list[RateTrace] | None = None,
              edge_s: list[list[float]] | None = None,
              meter: EnergyMeter = NO_METER) -> tuple[np.ndarray, Context | None]:
        """Start an episode; return its first observation and decision context (None
        when there is nothing to decide). `meter` keeps its energy (`EnergyMeter`)."""
        ...

    def step(self, action: Any, task: int) -> tuple[np.ndarray, float, Context | None]:
        """Give pending task `task` cut `action` (validated here: `InvalidActionError`);
        return the next observation, the reward and the next context (None at the end).
        Raises `EngineStateError` when the engine is not at `task`."""
        ...

    def action_mask(self) -> np.ndarray:
        """Bool mask of the cuts feasible for the pending task (a new array)."""
        ...

    def records(self) -> TaskRecords:
        """The episode's per-task timeline so far."""
        ...

    def metrics(self) -> dict[str, Any]:
        """The finished episode's metrics."""
        ...

    @property
    def simulator(self) -> Simulator:
        """A simulator core at the episode's current point."""
        ...


class PythonEngine:
    """The simulator core (`Simulator`): every configuration the env accepts."""

    compiled = False

    def __init__(self, cut_table: CutTable, scale_s: float,
                 obs_shape: tuple[int, ...]) -> None:
        self.cut_table = cut_table
        self.scale_s = scale_s
        self.obs_shape = obs_shape
        self.sim: Simulator | None = None
        self.objective = "makespan"
        self._prev = 0.0  # the objective's value at the previous decision
        self.meter = NO_METER

    @property
    def config(self) -> SimConfig:
        assert self.sim is not None
        return self.sim.config

    def reset(self, arrivals: list[np.ndarray], config: SimConfig, objective: str,
              link_traces: list[RateTrace] | None = None,
              edge_s: list[list[float]] | None = None,
              meter: EnergyMeter = NO_METER) -> tuple[np.ndarray, Context | None]:
        if self.sim is None or self.sim.config != config:
            self.sim = Simulator(self.cut_table, config)
        self.objective = engine_objective(objective)
        self.meter = meter
        self._prev = 0.0
        ctx = self.sim.reset(arrivals, link_traces=link_traces, edge_s=edge_s)
        return self._observe(ctx), meter.start(ctx)

    def step(self, action: Any, task: int) -> tuple[np.ndarray, float, Context | None]:
        sim = self.sim
        ctx = sim.decide(action)  # the core checks the action and that a task is pending
        if self.objective == "makespan":
            current = sim.now
        elif self.objective == "mean_latency":
            current = sim.latency_area / sim.n_tasks
        else:
            current = sim.n_missed / sim.n_tasks
        reward = self._prev - current
        self._prev = current
        reward = self.meter.reward(self.records, float(reward), ctx)
        return self._observe(ctx), reward, self.meter.annotate(ctx)

    def _observe(self, ctx: Context | None) -> np.ndarray:
        obs = np.zeros(self.obs_shape, dtype=np.float32)
        return obs if ctx is None else encode(ctx, self.scale_s, obs)

    def action_mask(self) -> np.ndarray:
        return np.array(self.sim.pending_mask, dtype=bool)

    def records(self) -> TaskRecords:
        return self.sim.records()

    def metrics(self) -> dict[str, Any]:
        return self.meter.metrics(self.sim.metrics(), self.records())

    @property
    def simulator(self) -> Simulator:
        return self.sim


class CompiledEngine:
    """One state row of the numba kernel (`splitgym.envs.fast.FastKernel`): every
    configuration the env accepts (rate traces, fleets, unequal frame counts,
    deadlines and drops, every objective and predictor). Its `simulator` is a core
    replayed from the episode's inputs and decisions (kept and advanced between
    accesses)."""

    compiled = True

    def __init__(self, cut_table: CutTable, scale_s: float,
                 obs_shape: tuple[int, ...]) -> None:
        self.cut_table = cut_table
        self.obs_shape = obs_shape
        self.kernel: Any = None  # fast.FastKernel with one row, rebuilt when the shape changes
        self._key: Any = None
        self.ctx_buf = np.empty(0)
        self.config: SimConfig | None = None
        self.objective = "makespan"
        self.arrivals: list[np.ndarray] = []
        self.link_traces: list[RateTrace] | None = None
        self.edge_s: list[list[float]] | None = None
        self.decisions: list[int] = []
        self._replay: tuple[Simulator, int] | None = None
        self._edge_rows = np.empty((0, 0))
        self._link_masks = np.empty((0, 0), dtype=bool)
        self._offsets = np.zeros(1, dtype=np.int64)
        self._tx = np.empty(0)
        self._mask_now = np.empty(0, dtype=bool)
        self.meter = NO_METER
        self._episode: tuple[Any, ...] = ()  # what the episode's contexts share
        self._step_rows: tuple[np.ndarray, ...] = ()  # step_env's kernel arrays
        self._figures: tuple[Any, Any] = (None, None)  # (model, `energy_figures`)

    def __getstate__(self) -> dict[str, Any]:
        # `_step_rows` holds views into the kernel's arrays: a pickle would copy them
        return {**self.__dict__, "_step_rows": ()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.kernel is not None:
            self._step_rows = _step_rows(self.kernel)

    def reset(self, arrivals: list[np.ndarray], config: SimConfig, objective: str,
              link_traces: list[RateTrace] | None = None,
              edge_s: list[list[float]] | None = None,
              meter: EnergyMeter = NO_METER) -> tuple[np.ndarray, Context | None]:
        from . import fast

        _FAST[0] = fast  # for step and _context (imported here: numba loads only if used)
        objective = engine_objective(objective)
        self.meter = meter

        counts = [len(a) for a in arrivals]
        traced = link_traces is not None
        key = (len(arrivals), sum(counts), max(counts), config, objective, traced)
        if self.kernel is None or self._key != key:
            self.kernel = fast.FastKernel(1, self.cut_table, config, objective, len(arrivals),
                                          sum(counts), max(counts), traced=traced,
                                          obs_version=version_of(self.cut_table.n_cuts,
                                                                 self.obs_shape[0]))
            self._key = key
            self.ctx_buf = np.empty(fast.N_CTX + 2 * self.cut_table.n_cuts)
            self._tx = self.kernel.C[1].copy()  # the constant rate's transfer times
        fk = self.kernel
        self.config = config
        self.objective = objective
        self.arrivals = arrivals
        self.link_traces = link_traces
        self.edge_s = edge_s
        self.decisions = []
        self._replay = None
        flat, self._offsets = fk.flat_arrivals(arrivals)
        toff = fk.write_traces([0], [link_traces])[0]  # before any reads a trace's arrays
        self._link_masks = fk.link_masks(None) if link_traces is None else \
            fk.written_link_masks(0, toff[:len(link_traces)])
        self._edge_rows = fk.edge_rows(edge_s)
        obs = np.empty(self.obs_shape, dtype=np.float32)
        e = fast.reset_env(0, flat, self._offsets, self._edge_rows,
                           self._link_masks.astype(np.int64), toff, fk.fparams, fk.I, fk.F,
                           fk.S, fk.T, fk.C, fk.P, fk.inv, fk.cap, obs, self.ctx_buf)
        if e < -1:  # pragma: no cover - the arrivals were checked finite and sorted
            raise EngineStateError("reset(): the compiled engine met a NaN event time")
        self._mask_now = fk.mask  # the nominal mask while nothing is pending, as the core
        # what every context of the episode shares (`_context` reads it per decision)
        self._episode = (fast.N_CTX, self.cut_table.n_cuts, self._offsets.tolist(),
                         list(self._edge_rows), list(self._link_masks), fk.n_links == 1,
                         traced, config, fk.n_edges, self.cut_table.cloud_s,
                         self.cut_table.transfer_bytes)
        self._step_rows = _step_rows(fk)
        return obs, meter.start(self._context() if e >= 0 else None, compiled=True)

    def step(self, action: Any, task: int) -> tuple[np.ndarray, float, Context | None]:
        fast = _FAST[0] or _load_fast()
        fk = self.kernel
        mask = self._mask_now
        # a Python int that is a feasible cut passes as it is (what check_cut returns)
        cut = action if type(action) is int and 0 <= action < mask.size and mask[action] \
            else check_cut(action, mask, self.config.bandwidth_mbps)
        # liveness: the row must be at the caller's pending decision (never a finished,
        # stale or shared row: the kernel trusts it)
        g = fk.I[0]
        if g[fast.C_PENDING] != task or g[fast.C_DECIDED] != len(self.decisions):
            raise EngineStateError("step(): the compiled engine's state is not at this env's "
                                   "pending decision (shared with another env or stale); "
                                   "call reset()")
        obs = np.empty(self.obs_shape, dtype=np.float32)
        e, reward = fast.step_env(0, cut, *self._step_rows, obs, self.ctx_buf)
        if e < -1:  # pragma: no cover - guarded above and by the kernel
            raise EngineStateError("step(): the compiled engine refused a step (no pending "
                                   "task or a NaN event time); call reset()")
        self.decisions.append(cut)
        self._mask_now = fk.mask
        ctx = self._context() if e >= 0 else None
        return obs, self.meter.reward(self.records, reward, ctx), \
            self.meter.annotate(ctx, compiled=True)

    def _context(self) -> Context:
        """The decision context the Python core would give, from the kernel's values."""
        buf = self.ctx_buf
        (n, k, off, edge_rows, link_masks, one_link, traced, cfg, n_edges, cloud_s,
         transfer_bytes) = self._episode
        (e, task, now, cloud_free, link_free, next_arrival, edge_waiting, waiting_total,
         busy_edges, queue_used, blocked, decided, sq_free, sq_link_free, rate, arrival,
         measured, last_done, occ_avg) = buf[:n].tolist()
        e, task = int(e), int(task)
        mask = self._mask_now = link_masks[0 if one_link else e]
        return {
            "edge": e, "frame": task - off[e], "task": task, "time_s": now,
            "edge_s": edge_rows[e].copy(),
            "transfer_s": buf[n + k:n + 2 * k].copy() if traced else self._tx.copy(),
            "cloud_s": cloud_s.copy(), "transfer_bytes": transfer_bytes.copy(),
            "mask": mask.copy(),
            "cloud_free_at_s": cloud_free, "link_free_at_s": link_free,
            "sq_cloud_free_at_s": sq_free, "sq_link_cloud_free_at_s": sq_link_free,
            "finish_at_s": buf[n:n + k].copy(), "next_arrival_s": next_arrival,
            "edge_waiting": int(edge_waiting), "frames_left": off[e + 1] - task,
            "waiting_total": int(waiting_total), "busy_edges": int(busy_edges),
            "queue_used": int(queue_used), "queue_capacity": cfg.queue_capacity,
            "blocked_links": int(blocked), "n_edges": n_edges,
            "n_tasks": off[-1], "tasks_decided": int(decided),
            "bandwidth_mbps": rate if traced else cfg.bandwidth_mbps,
            "deadline_s": cfg.deadline_s,
            "arrival_s": arrival,
            "link_measured_mbps": measured if measured == measured else None,
            "link_last_done_s": last_done if last_done == last_done else None,
            "queue_occupancy_avg": occ_avg,
        }

    def action_mask(self) -> np.ndarray:
        return self._mask_now.copy()

    def records(self) -> TaskRecords:
        return kernel_records(self.kernel, 0)

    def metrics(self) -> dict[str, Any]:
        # the kernel's, plus the meter's energy compiled (`fast.row_energy`, the same
        # bits as `EnergyMeter.metrics`)
        fk = self.kernel
        row = np.zeros(1, dtype=np.int64)
        out = fk.metrics_of(row)[0]
        model = self.meter.model
        if model is None:
            return out
        if self._figures[0] is not model:
            self._figures = (model, energy_figures(model))
        energy = np.empty(2)
        (_FAST[0] or _load_fast()).row_energy(row, fk.I, fk.F, fk.P2, *self._figures[1],
                                              energy)
        total, served = energy.tolist()
        out["edge_energy_j"] = total
        out["mean_frame_energy_j"] = total / served if served else 0.0
        return out

    @property
    def simulator(self) -> Simulator:
        sim, done = self._replay or (None, 0)
        if sim is None:
            sim = Simulator(self.cut_table, self.config)
            sim.reset(self.arrivals, link_traces=self.link_traces, edge_s=self.edge_s)
            done = 0
        for cut in self.decisions[done:]:
            sim.decide(cut)
        self._replay = (sim, len(self.decisions))
        return sim


def _step_rows(fk: Any) -> tuple[Any, ...]:
    """`fast.step_env`'s arguments after the cut for row 0 of kernel `fk` (its arrays,
    taken once per episode: `trace_room` may grow ``T`` at a reset)."""
    return (fk.I, fk.F, fk.S2[0], fk.T, fk.C3[0], fk.P2[0], fk.inv, fk.cap)


def kernel_records(fk: Any, row: int) -> TaskRecords:
    """The per-task timeline of row `row` of compiled kernel `fk` (in the row's own
    configuration: its edges and frame counts)."""
    from . import fast

    times, cuts, dropped = fk.records_of(row)
    col = [times[:, f].copy() for f in range(8)]
    counts = np.diff(fk.offsets_of(row))
    return TaskRecords(
        edge=np.repeat(np.arange(counts.size, dtype=np.int64), counts),
        frame=np.concatenate([np.arange(c, dtype=np.int64) for c in counts]),
        arrival_s=col[fast.T_ARR], cut=cuts.copy(),
        edge_start_s=col[fast.T_ES], edge_end_s=col[fast.T_EE],
        link_start_s=col[fast.T_LS], link_end_s=col[fast.T_LE],
        cloud_start_s=col[fast.T_CS], cloud_end_s=col[fast.T_CE],
        completion_s=col[fast.T_DONE], dropped=dropped.copy())


#: `splitgym.envs.fast` once a compiled engine was used (numba loads only when used).
_FAST: list[Any] = [None]


def _load_fast() -> Any:
    """`splitgym.envs.fast`, imported on first use (an engine unpickled in a fresh
    process steps before any reset)."""
    from . import fast

    _FAST[0] = fast
    return fast


#: The engines by name (``EdgeCloudEnv(engine=...)``'s values other than "auto").
ENGINES: dict[str, type[PythonEngine] | type[CompiledEngine]] = {
    "python": PythonEngine, "compiled": CompiledEngine}


class CompiledBatch:
    """N rows of the compiled kernel whose episodes come from N single envs' generators:
    what the native vector env (`splitgym.envs.vector`) and SB3's `NativeVecEnv`
    (`splitgym.agents.vecenv`) step. Row i's episodes are those `envs[i]` would play on
    its own (same generator, same draws: arrivals, then rate traces), so a batch and N
    single envs agree bit for bit. The envs share one configuration."""

    def __init__(self, envs: list[Any], threads: int = 1) -> None:
        from . import fast

        self.envs = envs
        env = envs[0]
        wl = env.workload
        n = wl.n_edges
        frames = wl.frames_per_edge
        counts = list(frames) if isinstance(frames, tuple) else [frames] * n
        self.traced = is_traced(env)
        self.edge_s = env._edge_rows(n)
        self.kernel = fast.FastKernel(len(envs), env.cut_table, env.sim_config,
                                      engine_objective(env.objective), n, sum(counts),
                                      max(counts), traced=self.traced, threads=threads,
                                      obs_version=env.observation_version)
        #: energy metrics only: the batch steps the engines' own objectives (the vector
        #: envs step an energy objective's episodes through their single envs); a row
        #: reset with options has its own fleet, so its own meter (`_meters`: by row)
        self.meter = env.energy_meter(n, env.sim_config, "makespan")
        self._meters: dict[int, EnergyMeter] = {}
        self._figures: tuple[np.ndarray, ...] | None = None  # `_energy_figures`
        # every link on a Markov trace: (spec, field) per independent draw, and per link
        # which draw it takes (`_link_traces`' draws, in its order)
        self._markov_links = _markov_links(env, n)
        self._markov = fast.MarkovDraws()
        #: the episodes' arrivals, drawn for many rows in one compiled call
        #: (`kernel.arrivals`: `make_arrivals`' draws) from the rows' generators
        self._arrivals = fast.ArrivalDraws(wl)
        self._gens = fast.RowGenerators(len(envs))

    def _draw_markov(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's Markov traces, drawn from its env's generator as `_link_traces`
        draws them, written into its trace row: (link offsets, link masks)."""
        from . import fast

        draws_of, link_of = self._markov_links
        kernel = self.kernel
        m, links = len(rows), len(link_of)
        toff = np.zeros((m, links), dtype=np.int64)
        lmask = np.ones((m, links, kernel.k), dtype=np.int64)
        offloads = np.asarray(self.envs[0].cut_table.offloads, dtype=bool)
        spec = draws_of[0][0]
        if all(s is spec for s, _ in draws_of):  # one spec: a row's chains in one call
            rates, dwell, start, cdf, duration, size, chains = self._markov.params(
                spec, draws_of[0][1])
            cap, count = 20 * MAX_TRACE_STEPS, len(draws_of)
            link_at = np.asarray(link_of)
            for j, i in enumerate(rows.tolist()):
                times, states, bounds, ends = chains(self.envs[i].np_random, start, cdf,
                                                     dwell, duration, size, cap, count)
                if ends[-1] < 0:  # a chain past the cap (the ones after it not drawn)
                    bad = int(np.argmax(ends < 0))
                    raise ConfigError(f"{draws_of[bad][1]}: the markov trace drew more "
                                      f"than {cap} steps")
                T = kernel.trace_room(count * (fast.TR_HEAD + 1) + 3 * times.size)
                offs, totals = fast.write_markov_chains(times, states, bounds, ends, rates,
                                                        T[i])
                toff[j] = offs[link_at]
                lmask[j] = np.where(offloads, totals[link_at, None] > 0, True)
            return toff, lmask
        for j, i in enumerate(rows.tolist()):
            rng = self.envs[i].np_random
            drawn = []
            for spec, field in draws_of:
                d = self._markov.draw(spec, rng, field)
                if d is None:
                    raise ConfigError(f"{field}: the markov trace drew more than "
                                      f"{20 * MAX_TRACE_STEPS} steps")
                drawn.append(d)
            T = kernel.trace_room(sum(fast.TR_HEAD + 3 * d[0].size + 1 for d in drawn))
            at, o = [], 0
            for times, states, t, rates in drawn:
                total = fast.write_markov_block(times, states, t, rates, T[i], o)
                at.append((o, total))
                o += fast.TR_HEAD + 3 * times.size + 1
            for link, d in enumerate(link_of):
                toff[j, link] = at[d][0]
                lmask[j, link] = np.where(offloads, at[d][1] > 0, True)
        return toff, lmask

    def metrics_of(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """The finished episodes' metrics of rows `rows`, as a single env reports them
        (the kernel's, plus the `EnergyMeter`'s energy: for the rows of the batch's own
        fleet in the same compiled call, `FastKernel.metrics_of`, the same bits as
        `EnergyMeter.metrics`)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.meter.model is None:
            return self.kernel.metrics_of(rows)
        meters = self._meters
        if not meters:
            return self.kernel.metrics_of(rows, self._energy_figures)
        rl = rows.tolist()
        ours = np.array([r not in meters for r in rl], dtype=bool)
        out = self.kernel.metrics_of(rows, self._energy_figures, ours)
        for j, r in enumerate(rl):  # rows reset with options: their own fleet's meter
            if not ours[j]:
                out[j] = meters[r].metrics(out[j], kernel_records(self.kernel, r))
        return out

    @property
    def _energy_figures(self) -> tuple[np.ndarray, ...]:
        """The batch's fleet's `EnergyModel` arrays as `fast.row_energy` takes them."""
        if self._figures is None:
            self._figures = energy_figures(self.meter.model)
        return self._figures

    @property
    def masks(self) -> np.ndarray:
        """Each row's pending task's feasible cuts, shape (N, K) (the kernel's array)."""
        return self.kernel.masks

    def seed(self, seeds: list[int | None]) -> None:
        """Seed env i's generator with ``seeds[i]``, as its reset does."""
        for env, seed in zip(self.envs, seeds, strict=True):
            gym.Env.reset(env, seed=seed)

    def reset(self, rows: np.ndarray, obs: np.ndarray,
              options_of: list[Any] | None = None) -> None:
        """Start the next episode of rows `rows` (each drawn from its env's generator, as
        its reset draws it; with ``options_of[j]``, the reset options of rows[j], as its
        ``reset(options=...)`` draws it), writing their first observations into `obs`
        and their masks into `masks`."""
        env = self.envs[0]
        if options_of is not None and any(o for o in options_of):
            self._reset_with_options(rows, obs, options_of)
            return
        rows = np.asarray(rows, dtype=np.int64)
        gens = self._gens.refresh(self.envs, rows.tolist())
        if not self.traced:  # the arrivals drawn in the reset's own compiled call
            self.kernel.reset_drawn(rows, gens, self._arrivals, obs, self.edge_s)
        else:
            wl = env.workload
            arrivals = self._draw_arrivals(rows, gens)
            if self._markov_links is not None:  # drawn straight into the rows (same draws)
                self.kernel.reset_many(rows, arrivals, obs, None, self.edge_s,
                                       written=self._draw_markov(rows))
            else:
                traces_of = [self.envs[i]._link_traces(wl.n_edges, env.sim_config,
                                                       env._bw_spec) for i in rows]
                self.kernel.reset_many(rows, arrivals, obs, traces_of, self.edge_s)
        self._own_meters(rows.tolist())

    def redraw(self, rows: np.ndarray) -> tuple[Any, ...] | None:
        """What `FastKernel.step` takes (its `redraw`) to restart rows `rows` (int64)
        in the step's own call, as `reset` restarts them without options; None where
        their episodes need more than arrivals drawn (rate traces: `reset` them)."""
        if self.traced:
            return None
        rl = rows.tolist()
        self._own_meters(rl)
        return rows, self._gens.refresh(self.envs, rl), self._arrivals, self.edge_s

    def _own_meters(self, rows: list[int]) -> None:
        """Rows `rows` restart in the batch's own fleet: its meter."""
        if self._meters:
            for i in rows:
                self._meters.pop(i, None)

    def _draw_arrivals(self, rows: np.ndarray, gens: Any) -> Any:
        """The next episode's arrivals of rows `rows` (int64), each from its env's
        generator (in `gens`, `kernel.arrivals.RowGenerators`) as `make_arrivals` draws
        them (`kernel.arrivals.draw_rows`, one compiled call): shape (rows, edges,
        frames), or per row its per-edge arrays where the edges' frame counts differ.
        Raises `make_arrivals`' errors."""
        from . import fast

        draws = self._arrivals
        out = np.empty(draws.shape(rows.size))
        code = fast.draw_rows(rows, gens, *draws.params, out, draws.fail)
        if code != fast.DRAWN:
            draws.raise_failure(out)
        counts = draws.counts.tolist()
        if min(counts) == max(counts):
            return out
        return [[a[e, :c] for e, c in enumerate(counts)] for a in out]

    def _reset_with_options(self, rows: np.ndarray, obs: np.ndarray,
                            options_of: list[Any]) -> None:
        """`reset` where rows may differ in configuration: each row's episode set up as
        `EdgeCloudEnv.reset` sets it up (validated options, then arrivals, traces and
        edge times drawn from its env's generator), its state padded to the largest."""
        arrivals, traces_of, edges, configs = [], [], [], []
        for i, options in zip(rows, options_of, strict=True):
            env = self.envs[i]
            sim_config, workload, objective, arr, bw_spec = env._episode_setup(options)
            if arr is None:
                arr = make_arrivals(workload, env.np_random)
            n = len(arr)
            traces = env._link_traces(n, sim_config, bw_spec)
            counts = [len(a) for a in arr]
            configs.append(self.kernel.config_of(sim_config, engine_objective(objective), n,
                                                 sum(counts), max(counts), traces is not None))
            self._meters[int(i)] = env.energy_meter(n, sim_config, "makespan")
            arrivals.append(arr)
            traces_of.append(traces)
            edges.append(env._edge_rows(n))
        self.kernel.reset_many(rows, arrivals, obs, traces_of, edges, configs)


def energy_figures(model: EnergyModel) -> tuple[np.ndarray, ...]:
    """`model`'s arrays as `fast.row_energy` takes them."""
    return tuple(np.ascontiguousarray(a, dtype=np.float64) for a in (
        model.idle_w, model.compute_w, model.tx_base_w, model.tx_w_per_mbps, model.tail_w,
        model.tail_s, model.transfer_bytes))


def _markov_links(env: Any, n_edges: int) -> tuple[list[Any], list[int]] | None:
    """When every link of `env`'s episodes is on a ``markov`` generator: the independent
    draws ``(spec, field)`` in `EdgeCloudEnv._link_traces`' order, and each link's
    draw; else None."""
    def markov(spec: Any) -> bool:
        return isinstance(spec, Mapping) and spec.get("kind") == "markov"

    n_links = n_edges if env.sim_config.uplink == "per_edge" else 1
    if env._edge_bw is not None:
        if not all(markov(s) for s in env._edge_bw):
            return None
        return ([(s, f"edge_bandwidth_mbps[{i}]") for i, s in enumerate(env._edge_bw)],
                list(range(len(env._edge_bw))))
    if not markov(env._bw_spec):
        return None
    if env._bw_per_edge:
        return [(env._bw_spec, "bandwidth_mbps")] * n_links, list(range(n_links))
    return [(env._bw_spec, "bandwidth_mbps")], [0] * n_links


def is_traced(env: Any) -> bool:
    """Whether `env`'s episodes (without reset options) run on rate traces."""
    return env._edge_bw is not None or not is_constant_spec(env._bw_spec)
