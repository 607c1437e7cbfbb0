"""``best_known``: an offline planner for one episode whose arrivals are known.

Before the episode's first decision the planner sees the whole episode (every frame's
arrival time, the uplink traces, the fleet's edge times) and searches over **cut
sequences**, one cut per task, with the simulator core itself as the model: a plan's
objective is exactly what the env reports when the plan is played, so nothing in the
model is relaxed (FIFO edges and links, queue capacity held from transfer start to
cloud end, blocking, cloud servers, drops). What it gives up is optimality: it is a
deterministic local search, so its makespan is an *achievable* value (an upper bound
on the optimum), not a proof; the LP bound (`splitgym.baselines.bounds`), or the
tighter CP-SAT bound (`splitgym.baselines.cpsat`, a proven relaxation where the uplink
rate is constant and nothing is dropped), is the lower bound, and the truth lies
between them (docs/model.md, "Lower bounds and best_known").

How it plans:

1. **Seeds.** Every heuristic in `SEED_POLICIES` (the paper's four, the yardsticks,
   every feasible fixed cut, which covers ``best_static``), every shipped agent of the
   model and every extra policy given (e.g. a learned agent) is rolled out on a
   private copy of the episode; their cut sequences are scored. The best is the
   incumbent, so ``best_known`` is never worse than any seed on any episode (a test
   checks it against each of them).
2. **Local search.** ``evaluations`` times: a move rewrites the current plan's cuts
   (one task to another feasible cut, a run of one edge's consecutive frames to one
   cut, or a run shifted one cut deeper or shallower), the plan is simulated, and it
   replaces the current plan when its key is no worse; after 150 evaluations without
   improvement the search restarts from the best plan with ~5% of its cuts redrawn
   (iterated local search). When the whole space of plans fits in ``evaluations``
   (tiny instances) every plan is simulated instead, so the result is the optimum.
   The key is the env's objective, then the other of (makespan, mean latency) as a
   tie-breaker, so the search can move along the many plans of equal makespan towards
   ones with slack. Moves come from a generator seeded by ``seed``, so a plan is a pure
   function of the episode.

Cost: one evaluation is one context-free simulation (`Simulator.run_plan`), about
1 ms for the paper's 150 tasks on the Python core; the default ``evaluations=1000``
plans an episode in 1-2 s on this project's 2-core machine (`last_plan_s` says how
long; the first episode of a model also loads its shipped agents).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from splitgym.envs.core.simulator import InvalidActionError, Simulator

from .paper import Policy

#: Heuristics whose schedules seed the search (each a `make_policy` name).
SEED_POLICIES: tuple[str, ...] = (
    "single_cut", "queue_aware", "sq_link", "greedy_eft", "sq_fill", "sq_lookahead",
    "edge_only", "cloud_only",
)

#: The metric of each env objective, and the tie-breaker after it.
_KEYS: dict[str, tuple[str, str]] = {
    "makespan": ("makespan_s", "mean_latency_s"),
    "mean_latency": ("mean_latency_s", "makespan_s"),
    "deadline_miss": ("deadline_miss_rate", "mean_latency_s"),
}
#: The energy objectives, scored from the probe's records by the env's `EnergyMeter`:
#: ``energy`` by edge energy then makespan; ``makespan_energy`` by ``makespan_s +
#: energy_weight_s_per_j * edge_energy_j`` then energy.
_ENERGY_KEYS = ("energy", "makespan_energy")

#: Evaluations without improvement before the search restarts from a kicked best plan.
_PATIENCE = 150

ExtraPolicy = Callable[[np.ndarray, dict[str, Any]], Any]


class BestKnown(Policy):
    """Offline planner: the best schedule found for this episode (see module doc).

    An oracle like ``best_static``: it needs `on_episode_start(env)` after reset
    (`splitgym.envs.rollout` calls it) and then plays its plan.

    Args:
        evaluations: local-search moves (each one simulation) after the seeds.
        seed: seed of the move generator (the plan is a pure function of the episode
            and this seed).
        extra_policies: more policies ``policy(obs, info) -> cut`` whose schedules
            seed the search (learned agents), by name.
        shipped_agents: also seed with every shipped agent of the env's model whose
            observation fits the env (`splitgym.agents.available_pretrained`).
    """

    name = "best_known"

    def __init__(self, evaluations: int = 1000, seed: int = 0,
                 extra_policies: Mapping[str, ExtraPolicy] | None = None,
                 shipped_agents: bool = True) -> None:
        if isinstance(evaluations, bool) or not isinstance(evaluations, (int, np.integer)) \
                or evaluations < 0:
            raise ValueError(f"evaluations={evaluations!r}: expected an integer >= 0")
        self.evaluations = int(evaluations)
        self.seed = int(seed)
        self.extra_policies = dict(extra_policies or {})
        self.shipped_agents = bool(shipped_agents)
        self.plan: np.ndarray | None = None
        self.seed_scores: dict[str, float] = {}
        self.score: float = math.nan
        self.last_plan_s: float = 0.0

    # -- planning ----------------------------------------------------------------------
    def on_episode_start(self, env: Any) -> None:
        """Plan the episode that `env` (just reset) is about to play."""
        t0 = time.perf_counter()
        base = env.unwrapped
        sim: Simulator = base.simulator
        inputs = sim.episode_inputs()
        objective = getattr(base, "_episode_objective", None) or base.objective
        probe = Simulator(sim.cuts, sim.config)
        if objective in _ENERGY_KEYS:
            # the energy objectives: the episode's edge energy, from the probe's records
            # through the env's own meter (the same function the env's metrics use)
            meter = base._engine.meter
            weight = meter.energy_weight_s_per_j if objective == "makespan_energy" else 0.0

            def key(metrics: dict[str, Any]) -> tuple[float, float]:
                m = meter.metrics(dict(metrics), probe.records())
                if objective == "energy":
                    return (m["edge_energy_j"], m["makespan_s"])
                return (m["makespan_s"] + weight * m["edge_energy_j"], m["edge_energy_j"])
        else:
            primary, secondary = _KEYS[objective]

            def key(metrics: dict[str, Any]) -> tuple[float, float]:
                return (metrics[primary], metrics[secondary])

        def score(plan: np.ndarray) -> tuple[float, float]:
            try:
                return key(probe.run_plan(plan=plan, **inputs))
            except InvalidActionError:
                return (math.inf, math.inf)

        from . import POLICIES, make_policy

        seeds: dict[str, np.ndarray] = {}
        feasible: list[np.ndarray] | None = None
        policies: dict[str, ExtraPolicy] = {
            n: make_policy(n) for n in SEED_POLICIES if n in POLICIES}
        policies.update(self.extra_policies)
        if self.shipped_agents:
            policies.update(shipped_agents_for(base))
        for name, pol in policies.items():
            try:
                seeds[name], masks = _plan_of(probe, inputs, pol, base)
            except InvalidActionError:  # e.g. cloud-only at bandwidth 0: not a seed
                continue
            feasible = feasible or masks
        assert feasible is not None  # edge-only is always feasible
        for cut in np.flatnonzero(sim.mask):
            seeds[f"fixed:{int(cut)}"] = np.full(sim.n_tasks, int(cut), dtype=np.int64)
        scored = {name: score(plan) for name, plan in seeds.items()}
        self.seed_scores = {name: s[0] for name, s in scored.items()}
        first = min(scored, key=lambda n: scored[n])
        best, best_key = seeds[first].copy(), scored[first]
        best, best_key = self._search(best, best_key, feasible, sim, score)
        self.plan = best
        self.score = best_key[0]
        self.last_plan_s = time.perf_counter() - t0

    def _search(self, best: np.ndarray, best_key: tuple[float, float],
                feasible: list[np.ndarray], sim: Simulator,
                score: Callable[[np.ndarray], tuple[float, float]],
                ) -> tuple[np.ndarray, tuple[float, float]]:
        counts = [len(a) for a in sim.arrivals]
        offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        options = [np.flatnonzero(m) for m in feasible]
        edges = [e for e in range(len(counts)) if counts[e]]
        if not edges or self.evaluations == 0:
            return best, best_key
        space = math.prod(len(o) for o in options)
        if space <= self.evaluations:  # small enough: every plan, so the optimum
            for plan in itertools.product(*options):
                cand = np.array(plan, dtype=np.int64)
                k = score(cand)
                if k < best_key:
                    best, best_key = cand, k
            return best, best_key
        rng = np.random.default_rng(self.seed)
        current, current_key = best.copy(), best_key
        stale = 0
        for _ in range(self.evaluations):
            if stale >= _PATIENCE:  # iterated local search: kick the best plan
                current = best.copy()
                for t in rng.integers(len(current), size=max(2, len(current) // 20)):
                    current[t] = rng.choice(options[t])
                current_key = score(current)
                stale = 0
                continue
            cand = current.copy()
            move = rng.integers(3)
            e = edges[int(rng.integers(len(edges)))]
            n = counts[e]
            a = int(rng.integers(n))
            if move == 0:  # one task to another cut
                t = offset[e] + a
                cand[t] = rng.choice(options[t])
            else:  # a run of this edge's frames
                b = int(rng.integers(a, min(n, a + 1 + int(rng.integers(1, 16)))))
                span = slice(offset[e] + a, offset[e] + b + 1)
                if move == 1:  # all to one cut
                    cand[span] = rng.choice(options[offset[e] + a])
                else:  # one cut deeper or shallower, within the feasible cuts
                    step = 1 if rng.integers(2) else -1
                    for t in range(span.start, span.stop):
                        opts = options[t]
                        i = int(np.searchsorted(opts, cand[t])) + step
                        cand[t] = opts[min(max(i, 0), len(opts) - 1)]
            if np.array_equal(cand, current):
                stale += 1
                continue
            k = score(cand)
            stale = 0 if k < current_key else stale + 1
            if k <= current_key:
                current, current_key = cand, k
                if k < best_key:
                    best, best_key = cand.copy(), k
        return best, best_key

    # -- acting ------------------------------------------------------------------------
    def act(self, ctx: dict[str, Any]) -> int:
        if self.plan is None:
            raise RuntimeError("best_known is an oracle: call on_episode_start(env) after "
                               "env.reset() (splitgym.envs.rollout does)")
        return int(self.plan[ctx["task"]])


_SHIPPED: dict[tuple[str, int], dict[str, ExtraPolicy]] = {}


def shipped_agents_for(env: Any) -> dict[str, ExtraPolicy]:
    """Every shipped agent of `env`'s model whose observation size fits `env`, by name
    (loaded once per process). Empty where the agents cannot be loaded."""
    model = env.profile.model
    size = int(env.observation_space.shape[0])
    if (model, size) not in _SHIPPED:
        agents: dict[str, ExtraPolicy] = {}
        try:
            from splitgym.agents import available_pretrained, load_pretrained
        except ImportError:  # pragma: no cover - torch / SB3 are dependencies
            names: list[str] = []
        else:
            names = [n for n in available_pretrained() if n.startswith(f"{model}-")]
        for name in names:
            agent = load_pretrained(model, name[len(model) + 1:])
            space = getattr(getattr(agent, "model", None), "observation_space", None)
            if space is None or tuple(space.shape) == (size,):
                agents[f"agent:{name}"] = agent
        _SHIPPED[(model, size)] = agents
    return _SHIPPED[(model, size)]


def _plan_of(probe: Simulator, inputs: dict[str, Any], policy: ExtraPolicy,
             env: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """Roll `policy` out on `probe` (the episode's exact inputs); return its cut per
    task (``-1`` for dropped tasks, never read) and the feasible mask per task."""
    ctx = probe.reset(**inputs)
    n = probe.n_tasks
    plan = np.full(n, -1, dtype=np.int64)
    masks: list[np.ndarray] = [probe.mask] * n
    bind = getattr(policy, "bind_simulator", None)
    if bind is not None:  # an online planner (mpc) follows the probe's episode
        objective = getattr(env, "_episode_objective", None) or env.objective
        bind(probe, objective)
    elif getattr(policy, "on_episode_start", None) is not None:
        raise ValueError("best_known cannot seed from another oracle; its fixed cuts "
                         "already cover best_static")
    obs_of = getattr(env, "observation_of", None)
    while ctx is not None:
        task = ctx["task"]
        info = {"action_mask": np.array(ctx["mask"], dtype=bool), "decision": ctx}
        obs = obs_of(ctx) if obs_of is not None else None
        cut = int(policy(obs, info))
        plan[task] = cut
        masks[task] = np.array(ctx["mask"], dtype=bool)
        ctx = probe.decide(cut)
    return plan, masks


def gap(value: float, reference: float) -> float:
    """``value / reference - 1`` (``nan`` when either is not finite or the reference is
    not positive): a policy's gap to ``best_known`` or to the lower bound."""
    if not (math.isfinite(value) and math.isfinite(reference)) or reference <= 0:
        return math.nan
    return value / reference - 1.0


__all__ = ["SEED_POLICIES", "BestKnown", "gap"]
