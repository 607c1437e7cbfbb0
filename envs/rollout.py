"""Run one episode of any policy ``policy(obs, info) -> action`` through an env."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from .core.simulator import TaskRecords

Policy = Callable[[np.ndarray, dict[str, Any]], Any]


@dataclass(frozen=True)
class Episode:
    """The outcome of one episode."""

    metrics: dict[str, Any]  # makespan_s, mean_latency_s, p95_latency_s, cut_histogram, ...
    records: TaskRecords  # per-task timeline
    episode_return: float  # sum of rewards (= minus the objective)
    actions: np.ndarray  # cut per decision, in decision order


def rollout(env: gym.Env, policy: Policy, seed: int | None = None,
            options: Mapping[str, Any] | None = None) -> Episode:
    """Reset `env` with `seed` (and `options`), act with `policy` to the end.

    `env` may be wrapped (``gym.make``) or not; every policy, baseline or learned,
    goes through this one loop and the same simulator core. A policy with an
    ``on_episode_start(env)`` method (the oracle ``best_static``) is told after reset.
    """
    obs, info = env.reset(seed=seed, options=dict(options) if options else None)
    start = getattr(policy, "on_episode_start", None)
    if start is not None:  # oracles (best_static) plan from the episode's arrivals
        start(env)
    total = 0.0
    actions = []
    while True:
        action = policy(obs, info)
        actions.append(int(action))
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        if terminated or truncated:
            break
    base = env.unwrapped
    return Episode(metrics=info["metrics"], records=base.records(), episode_return=total,
                   actions=np.asarray(actions, dtype=np.int64))
