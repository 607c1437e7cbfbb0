"""Each edge an agent: the same system as a PettingZoo `AECEnv`.

``splitgym.envs.multiagent.env(**kwargs)`` takes the keyword arguments of
``gym.make("splitgym/EdgeCloud-v0", ...)`` and returns a PettingZoo ``AECEnv`` whose
agents are ``edge_0 .. edge_{E-1}``::

    from splitgym.envs import multiagent

    env = multiagent.env(model="alexnet", bandwidth_mbps="3g")
    env.reset(seed=0)
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        action = None if terminated or truncated else policy(obs, info)
        env.step(action)

STATE: the multi-agent env drives one `EdgeCloudEnv` (so the same simulator core and,
where it covers the configuration, the same compiled engine: ``engine`` works as
there), and exposes its decisions turn by turn. The agent selected is the edge whose
frame is about to start, in the simulator's decision order (time, then edge index);
an edge with several frames waiting acts several times in a row.

OBSERVATION: per agent a dict ``{"observation", "action_mask"}``. ``observation`` is
the single-agent env's observation vector at that edge's decision (its own waiting
frames, its own link backlog, and the cloud's backlog and queue as it would see them;
`EdgeCloudEnv.observation_fields` names every entry); ``action_mask`` (int8) is the
cut mask of the pending frame for the agent selected and all zeros for the others,
whose ``observation`` is the one of their last decision (zeros before it): an edge
sees the system when one of its frames starts, not in between.

REWARD: shared. Each decision gives every agent the single-agent env's reward of that
step (minus the time elapsed, with the default objective), so each agent's total over
the episode is minus the makespan (minus the mean latency, or the miss rate, with the
other objectives), the single-agent return.

STATE (centralised critics): `state()` concatenates, for every edge, its latest
observation and how long ago it was taken (``log1p`` of the age divided by ``T_E``, the
model's whole-model edge time, as the observation encodes times).

EPISODE END: after the last frame's decision every agent is terminated at once and
every agent's info holds ``"metrics"`` (the single-agent env's final
``info["metrics"]``). There is no truncation.

No `ParallelEnv`: decisions are asynchronous in time. A parallel step would need every
agent to act at once, but an edge has a decision only when one of its frames starts;
a second decision at the same instant sees the first one's effect on the link and
cloud predictions, and an edge with a backlog acts several times before another acts
once. Padding with no-op actions would add steps that are not decisions of the model
and break the equality with the single-agent env, so none is offered (PettingZoo's
``aec_to_parallel`` needs an env that is ``is_parallelizable``; this one is not).

With every agent following one baseline policy (`agent_policy`), the episode is the
single-agent env's bit for bit: the same actions, rewards, records and metrics
(tested).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

try:
    from pettingzoo import AECEnv
    from pettingzoo.utils import wrappers
except ImportError as exc:  # pragma: no cover - installed by the dev and multiagent extras
    raise ImportError("splitgym.envs.multiagent needs PettingZoo: "
                      "pip install 'splitgym[multiagent]'") from exc

from .core.config import ConfigError
from .edge_cloud import RESET_OPTIONS, EdgeCloudEnv
from .observation import OBS_CAP, OBS_HIGH, time_scale_s
from .rollout import Episode

__all__ = ["EdgeCloudAECEnv", "agent_policy", "env", "raw_env", "rollout"]


class EdgeCloudAECEnv(AECEnv):
    """The edge-cloud system with one agent per edge; see the module docstring.

    Args:
        **kwargs: every argument of `EdgeCloudEnv` (``model``, ``bandwidth_mbps``,
            ``n_edges``, ``scenario``, ``engine``, ...), with the same defaults.
    """

    metadata = {  # noqa: RUF012
        "name": "splitgym_edge_cloud_v0",
        "render_modes": ["ansi", "rgb_array"],
        "is_parallelizable": False,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.edge_cloud_env = EdgeCloudEnv(**kwargs)
        base = self.edge_cloud_env
        self.render_mode = base.render_mode  # checked there: None, "ansi" or "rgb_array"
        self.n_edges = base.workload.n_edges
        self.possible_agents = [f"edge_{i}" for i in range(self.n_edges)]
        self.agents: list[str] = []
        obs_space = base.observation_space
        k = base.cut_table.n_cuts
        self._obs_shape = obs_space.shape
        self._k = k
        self.observation_spaces = {a: spaces.Dict({
            "observation": obs_space,
            "action_mask": spaces.Box(0, 1, (k,), dtype=np.int8)}) for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(k) for a in self.possible_agents}
        n = obs_space.shape[0] + 1
        self.state_space = spaces.Box(0.0, OBS_HIGH, (self.n_edges * n,), dtype=np.float32)
        self._scale_s = time_scale_s(base.cut_table.whole_edge_s)
        self._obs: dict[str, np.ndarray] = {}
        self._seen_at = np.zeros(self.n_edges)  # time of each edge's latest observation [s]
        self._now = 0.0
        self._mask = np.zeros(k, dtype=np.int8)

    def observation_space(self, agent: str) -> spaces.Space:
        """``Dict(observation=Box(4K + 10), action_mask=Box(0, 1, (K,), int8))``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """``Discrete(K)``: the cut of the agent's pending frame."""
        return self.action_spaces[agent]

    # -- PettingZoo API ----------------------------------------------------------------
    def reset(self, seed: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        """Start an episode (`EdgeCloudEnv.reset`'s seed and options)."""
        if options:
            options = self._check_options(options)
        obs, info = self.edge_cloud_env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self._obs = {a: np.zeros(self._obs_shape, dtype=np.float32) for a in self.agents}
        self._seen_at[:] = 0.0
        self._now = 0.0
        self._after(obs, info, terminated="decision" not in info)

    def step(self, action: Any) -> None:
        """Give the selected agent's pending frame cut `action` (None once terminated)."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        obs, reward, terminated, _, info = self.edge_cloud_env.step(action)
        self.rewards = {a: reward for a in self.agents}
        self._after(obs, info, terminated)
        self._accumulate_rewards()

    def _after(self, obs: np.ndarray, info: dict[str, Any], terminated: bool) -> None:
        for a in self.agents:
            self.infos[a] = {}
        if terminated:
            metrics = info.get("metrics")
            if metrics is None:  # nothing to decide at all (every frame dropped)
                metrics = self.edge_cloud_env.simulator.metrics()
            for a in self.agents:
                self.terminations[a] = True
                self.infos[a] = {"metrics": metrics}
            self._mask = np.zeros(self._k, dtype=np.int8)
            self._now = float(metrics["makespan_s"])
            self.agent_selection = self.agents[0]
            return
        ctx = info["decision"]
        e = int(ctx["edge"])
        agent = self.possible_agents[e]
        self._obs[agent] = obs
        self._now = self._seen_at[e] = float(ctx["time_s"])
        self._mask = np.asarray(info["action_mask"], dtype=np.int8)
        self.infos[agent] = info
        self.agent_selection = agent

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """The agent's latest observation; its action mask is all zeros unless selected."""
        selected = agent == self.agent_selection and not self.terminations.get(agent, True)
        mask = self._mask.copy() if selected else np.zeros(self._k, dtype=np.int8)
        return {"observation": self._obs[agent].copy(), "action_mask": mask}

    def state(self) -> np.ndarray:
        """Every edge's latest observation and ``log1p(age / T_E)``, edge by edge."""
        if not self._obs:
            raise RuntimeError("call reset() first")
        # encoded as the observation's time fields are: log1p of the clipped age / T_E
        age = np.log1p(np.minimum((self._now - self._seen_at) / self._scale_s, OBS_CAP))
        rows = [np.append(self._obs[a], np.float32(age[i]))
                for i, a in enumerate(self.possible_agents)]
        return np.concatenate(rows).astype(np.float32)

    def render(self) -> str | np.ndarray | None:
        """The episode so far, as the single-agent env renders it (`EdgeCloudEnv.render`):
        ``render_mode="ansi"`` a text snapshot, ``"rgb_array"`` a Gantt timeline (an
        (H, W, 3) uint8 image); without a render mode, a warning and None."""
        return self.edge_cloud_env.render()

    def close(self) -> None:
        """Release the single-agent env."""
        self.edge_cloud_env.close()

    # -- helpers -----------------------------------------------------------------------
    def records(self) -> Any:
        """Per-task timeline of the current episode (`EdgeCloudEnv.records`)."""
        return self.edge_cloud_env.records()

    def _check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options `EdgeCloudEnv.reset` knows; others are dropped with a warning
        (PettingZoo's ``api_test`` resets with an arbitrary one and expects it to pass)."""
        if not isinstance(options, Mapping):
            raise ConfigError(f"options: expected a dict, got {type(options).__name__}")
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            warnings.warn(f"options{unknown!r}: not reset options of splitgym, ignored; "
                          f"known: {list(RESET_OPTIONS)}", stacklevel=3)
        options = {k: v for k, v in options.items() if k in RESET_OPTIONS}
        n = options.get("n_edges", self.n_edges)
        if "arrival_times_s" in options:
            n = len(options["arrival_times_s"])
        if n != self.n_edges:
            raise ConfigError(f"options: {n} edges for an env built with n_edges="
                              f"{self.n_edges}; the agents are fixed at construction, "
                              f"build a new env for another fleet size")
        return options


def raw_env(**kwargs: Any) -> EdgeCloudAECEnv:
    """The bare `EdgeCloudAECEnv` (PettingZoo's module convention)."""
    return EdgeCloudAECEnv(**kwargs)


def env(**kwargs: Any) -> AECEnv:
    """`EdgeCloudAECEnv` in PettingZoo's order-enforcing wrapper (which refuses a step or
    an observation before `reset`); the arguments are `EdgeCloudEnv`'s."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


class _AgentPolicy:
    """A single-agent policy ``policy(obs, info) -> cut`` acting for one agent."""

    def __init__(self, policy: Callable[[np.ndarray, dict[str, Any]], Any]) -> None:
        self.policy = policy

    def on_episode_start(self, aec: Any) -> None:
        start = getattr(self.policy, "on_episode_start", None)
        if start is not None:  # oracles (best_static) plan from the episode's arrivals
            start(aec.unwrapped.edge_cloud_env)

    def __call__(self, observation: Mapping[str, np.ndarray], info: dict[str, Any]) -> int:
        info = {**info, "action_mask": np.asarray(observation["action_mask"], dtype=bool)}
        return int(self.policy(observation["observation"], info))

    def __repr__(self) -> str:
        return f"agent_policy({self.policy!r})"


def agent_policy(policy: Callable[[np.ndarray, dict[str, Any]], Any]) -> _AgentPolicy:
    """Adapt a single-agent policy (a baseline of `splitgym.baselines.make_policy`, a
    `LearnedPolicy`) to act for one agent: it is called with the agent's observation
    vector and an info holding the decision context and the action mask as a bool array.
    """
    return _AgentPolicy(policy)


def rollout(aec: AECEnv, policies: Any, seed: int | None = None,
            options: Mapping[str, Any] | None = None) -> Episode:
    """Play one episode; `policies` is one policy for every agent or a dict agent ->
    policy, each ``policy(obs, info) -> cut`` in single-agent form (wrapped with
    `agent_policy` here) or already adapted. ``episode_return`` is one agent's total
    reward (they are shared) and ``actions`` the cuts in decision order."""
    aec.reset(seed=seed, options=dict(options) if options else None)
    agents = aec.possible_agents
    chosen = policies if isinstance(policies, Mapping) else {a: policies for a in agents}
    adapted = {a: p if isinstance(p, _AgentPolicy) else agent_policy(p)
               for a, p in chosen.items()}
    for p in {id(p): p for p in adapted.values()}.values():
        p.on_episode_start(aec)
    total = {a: 0.0 for a in agents}
    actions = []
    metrics = None
    for agent in aec.agent_iter():
        obs, reward, terminated, truncated, info = aec.last()
        total[agent] += float(reward)
        if terminated or truncated:
            metrics = info["metrics"]
            aec.step(None)
            continue
        action = adapted[agent](obs, info)
        actions.append(action)
        aec.step(action)
    return Episode(metrics=metrics, records=aec.unwrapped.records(),
                   episode_return=total[agents[0]],
                   actions=np.asarray(actions, dtype=np.int64))
