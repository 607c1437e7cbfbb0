"""`NativeVecEnv`: a stable-baselines3 `VecEnv` over the compiled vector env.

SB3's algorithms step a `VecEnv`; `DummyVecEnv` steps N single envs one by one in
Python (plus a deepcopy of every info dict each step). `NativeVecEnv` steps the N
simulations of `splitgym.envs.vector.EdgeCloudVectorEnv` in one compiled call and follows
SB3's conventions:

* same-step reset: when env i's episode ends, `step_wait` returns its next episode's
  first observation, ``dones[i] = True`` and, in ``infos[i]``, the last observation
  (``"terminal_observation"``), the episode's ``"metrics"`` and
  ``"TimeLimit.truncated": False`` (episodes never truncate);
* seeding: `seed(s)` makes the next `reset` start env i from seed ``s + i``; later
  episodes continue env i's generator, exactly as a `DummyVecEnv` of single
  `EdgeCloudEnv` does (so the same seeds give the same episodes, bit for bit);
* masks: ``env_method("action_masks")`` (what sb3-contrib's ``get_action_masks`` calls)
  gives the (N, K) feasibility of every pending task;
* reward: minus the objective's increase, divided by `reward_scale_s` (the trainer
  passes ``T_E``, the model's whole-model edge time, so returns are scale-free), in
  float32 as `DummyVecEnv`'s buffer. With ``shaping="predicted_makespan"`` (makespan
  objective only) the reward is instead minus the increase of a predicted makespan
  M: the latest of now and every decided task's predicted completion (the
  observation's ``finish`` entry of the cut taken), and at the episode's end the
  makespan itself. M starts at 0, so the episode return is still exactly minus the
  makespan (up to float rounding), but a decision that schedules a late completion
  is charged at once rather than when the clock gets there.

It covers every configuration `EdgeCloudEnv` accepts (the compiled engine does), and
with ``randomize=True`` a scenario redrawn per episode as `RandomizedScenario` draws it
(rows then differ in configuration: each is padded to the largest); `is_native` is
False only for ``engine="python"``. ``infos[i]`` holds no ``"decision"``
context (building it is what the compiled step avoids); the baselines read it from
single envs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from splitgym.envs.core.config import ConfigError
from splitgym.envs.core.energy import ENERGY_OBJECTIVES
from splitgym.envs.core.simulator import check_cut
from splitgym.envs.edge_cloud import EdgeCloudEnv
from splitgym.envs.vector import EdgeCloudVectorEnv, vector_seeds

from .wrappers import RandomizedScenario


def is_native(env_kwargs: Mapping[str, Any]) -> bool:
    """Whether `NativeVecEnv` covers an env of `env_kwargs`: the compiled engine does,
    except under an energy objective (its rewards come from the single envs'
    `EnergyMeter`)."""
    env = EdgeCloudEnv(**env_kwargs)
    return env.engine == "compiled" and env.objective not in ENERGY_OBJECTIVES


class NativeVecEnv(VecEnv):
    """SB3 `VecEnv` of `n_envs` compiled `EdgeCloudEnv` simulations (see the module
    docstring)."""

    def __init__(self, n_envs: int, env_kwargs: Mapping[str, Any] | None = None,
                 reward_scale_s: float = 1.0, shaping: str | None = None,
                 randomize: bool = False) -> None:
        kwargs = dict(env_kwargs or {})
        if kwargs.get("engine", "auto") == "python":
            raise ConfigError("NativeVecEnv: engine='python' asked; use a DummyVecEnv")
        self.vector = EdgeCloudVectorEnv(n_envs, compiled=True, threads=1, **kwargs)
        batch = self.vector._batch
        if batch is None:  # an energy objective: the compiled batch has no energy reward
            raise ConfigError(f"NativeVecEnv: objective={self.vector.envs[0].objective!r} is "
                              f"stepped by single envs (its reward is the seam's energy "
                              f"meter); use a DummyVecEnv (splitgym train --vec auto)")
        if not reward_scale_s > 0:
            raise ConfigError(f"reward_scale_s={reward_scale_s!r}: expected > 0")
        self._batch = batch
        self._kernel = batch.kernel
        self.render_mode = None
        first = self.vector.envs[0]
        super().__init__(n_envs, first.observation_space, first.action_space)
        self.reward_scale_s = float(reward_scale_s)
        if shaping not in (None, "predicted_makespan"):
            raise ConfigError(f"shaping={shaping!r}: expected None or 'predicted_makespan'")
        if shaping and first.objective != "makespan":
            raise ConfigError("shaping='predicted_makespan': needs objective='makespan'")
        self.shaping = shaping
        self._now = np.zeros(n_envs)  # [s] per env, from the rewards (shaping)
        self._pred = np.zeros(n_envs)  # [s] predicted makespan M per env (shaping)
        self._finish_at = 3 * first.action_space.n  # the observation's finish block
        self._scale_s = 1.0 / self._kernel.inv
        self._obs = np.zeros((n_envs, *first.observation_space.shape), dtype=np.float32)
        self._rewards = np.zeros(n_envs)
        self._done = np.zeros(n_envs, dtype=bool)
        self._skip = np.zeros(n_envs, dtype=bool)  # same-step resets: no env waits
        self._actions = np.zeros(n_envs, dtype=np.int64)
        self._started = False
        # `randomize`: each env's scenario redrawn per episode, as `RandomizedScenario`
        # draws it for a single env (its own generator, seeded at a seeded reset)
        self._randomizers = [RandomizedScenario(env) for env in self.vector.envs] \
            if randomize else None

    # -- the VecEnv API ---------------------------------------------------------------
    def reset(self) -> np.ndarray:
        """Start every env's episode (env i from the seed `seed` set, else continuing
        its generator)."""
        self._batch.seed(self._seeds)  # env i's generator, as its reset seeds it
        options = None
        if self._randomizers is not None:
            options = [r.draw(seed) for r, seed in zip(self._randomizers, self._seeds,
                                                       strict=True)]
        self._reset_seeds()
        self._reset_options()
        self._batch.reset(np.arange(self.num_envs), self._obs, options)
        self._now[:] = 0.0
        self._pred[:] = 0.0
        self._started = True
        return self._obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if not self._started:
            raise RuntimeError("step() before reset()")
        actions = self._actions
        if actions.shape != (self.num_envs,):
            actions = actions.reshape(self.num_envs)
        if actions.dtype != np.int64:
            if actions.dtype.kind not in "iu":
                self._check_actions(actions)
            actions = actions.astype(np.int64)
        kernel = self._kernel
        if self.shaping:  # the taken cut's predicted completion, before the obs moves on
            rows = np.arange(self.num_envs)
            finish = self._now + np.expm1(
                self._obs[rows, self._finish_at + actions].astype(np.float64)) * self._scale_s
        self._done[:] = False
        ended = -1 - kernel.step(actions, self._skip, self._obs, self._rewards, self._done)
        if ended < 0:  # a bad action: nothing moved; raise the single env's error
            self._check_actions(actions)
            raise RuntimeError("the compiled engine refused an action check_cut accepts")
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        raw = self._rewards
        if self.shaping:
            self._now -= self._rewards
            pred = np.maximum(np.maximum(self._pred, finish), self._now)
        if ended:
            rows = np.flatnonzero(self._done)
            for j, metrics in zip(rows.tolist(), self._batch.metrics_of(rows), strict=True):
                infos[j] = {"terminal_observation": self._obs[j].copy(), "metrics": metrics,
                            "TimeLimit.truncated": False}
                if self.shaping:
                    pred[j] = metrics["makespan_s"]
            options = None if self._randomizers is None else \
                [self._randomizers[j].draw() for j in rows.tolist()]
            self._batch.reset(rows, self._obs, options)
        if self.shaping:
            raw = self._pred - pred
            self._pred = pred
            if ended:
                self._pred[rows] = 0.0
                self._now[rows] = 0.0
        rewards = (raw / self.reward_scale_s).astype(np.float32)
        return self._obs.copy(), rewards, self._done.copy(), infos

    def _check_actions(self, actions: np.ndarray) -> None:
        """Raise the single env's error for the first bad action."""
        bandwidth = self.vector.envs[0].sim_config.bandwidth_mbps
        for j in range(self.num_envs):
            check_cut(actions[j].item(), self._batch.masks[j], bandwidth)

    def close(self) -> None:
        """Nothing to release: the simulations live in this process."""

    def action_masks(self) -> np.ndarray:
        """Feasible cuts of every env's pending task, shape (N, K)."""
        return self._batch.masks.copy()

    def _indices(self, indices: Any) -> list[int]:
        return list(self._get_indices(indices))

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.vector.envs[i], attr_name) for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        for i in self._indices(indices):
            setattr(self.vector.envs[i], attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None,
                   **method_kwargs: Any) -> Any:
        """``env_method("action_masks")`` is answered from the batch (an (N, K) array,
        what ``np.stack`` of the per-env masks gives); other methods are called on the
        single envs (which do not see the compiled batch's state)."""
        if method_name == "action_masks" and not method_args and not method_kwargs:
            rows = self._indices(indices)
            return self._batch.masks[rows].copy()
        return [getattr(self.vector.envs[i], method_name)(*method_args, **method_kwargs)
                for i in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper],
                       indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Env i starts from seed ``seed + i`` at the next `reset` (a seed below 0 is
        refused here, before any env is touched)."""
        vector_seeds(seed, self.num_envs)
        return super().seed(seed)

    def __copy__(self) -> NativeVecEnv:
        """A copy with its own envs and compiled rows (a deep copy): a shallow one would
        share the rows with this one."""
        return copy.deepcopy(self)
