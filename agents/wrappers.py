"""How agents train: the reward scaled to be scale-free and (optionally) the scenario
redrawn every episode. The observation is the env's own (already bounded)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from splitgym.envs.observation import time_scale_s


class ScaledReward(gym.Wrapper):
    """The env as agents train on it: the reward divided by the model's whole-model
    edge time ``T_E`` (so returns are scale-free across models and devices); the
    observation is the env's own, masks are passed through. Training only: an agent
    acts on the env's observation, with or without this wrapper.

    The unscaled reward is kept in ``info["reward_s"]``.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.scale_s = time_scale_s(env.unwrapped.cut_table.whole_edge_s)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["reward_s"] = reward
        return obs, reward / self.scale_s, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Feasible cuts of the pending task (sb3-contrib's MaskablePPO calls this)."""
        return self.env.unwrapped.action_masks()


#: The randomised conditions of the "changing conditions" agent (issue: one agent per
#: model for bandwidth 0.5-12 Mbit/s, 1-8 edges, fps 5-15, C 5-30).
RANDOM_RANGES: dict[str, tuple[float, float]] = {
    "bandwidth_mbps": (0.5, 12.0), "n_edges": (1, 8), "queue_capacity": (5, 30)}


class RandomizedScenario(gym.Wrapper):
    """Draws ``bandwidth_mbps`` (log-uniform), ``n_edges`` and ``queue_capacity``
    (uniform integers) per episode from `ranges`, from its own generator seeded at the
    first seeded reset; fps stays the env's (a 5-15 range drawn per edge)."""

    def __init__(self, env: gym.Env,
                 ranges: Mapping[str, tuple[float, float]] | None = None) -> None:
        super().__init__(env)
        self.ranges = dict(ranges or RANDOM_RANGES)
        self._rng = np.random.default_rng()

    def draw(self, seed: int | None = None,
             options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The next episode's reset options (reseeding the generator with `seed`, as
        `reset` does; `NativeVecEnv` draws them so for its rows)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed + 7_919)
        drawn: dict[str, Any] = {}
        for key, (lo, hi) in self.ranges.items():
            if key == "bandwidth_mbps":
                drawn[key] = float(np.exp(self._rng.uniform(np.log(lo), np.log(hi))))
            else:
                drawn[key] = int(self._rng.integers(int(lo), int(hi) + 1))
        drawn.update(options or {})
        return drawn

    def reset(self, *, seed: int | None = None,
              options: Mapping[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        return self.env.reset(seed=seed, options=self.draw(seed, options))

    def action_masks(self) -> np.ndarray:
        """Feasible cuts of the pending task."""
        return self.env.unwrapped.action_masks()
