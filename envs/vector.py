"""`EdgeCloudVectorEnv`: N independent simulations stepped in lock step.

``gym.make_vec("splitgym/EdgeCloud-v0", num_envs=N,
vectorization_mode="vector_entry_point", **kwargs)`` builds it. Sub-env i is an
`EdgeCloudEnv` reset with ``seed + i``; after an episode ends, the next `step` resets
it (Gymnasium's next-step autoreset) and returns its first observation with reward 0,
so env i's trajectory is exactly that of a single env reset with ``seed + i`` and then
reset without a seed after each episode. Observations, rewards, flags and action masks
are numpy arrays with a leading axis of N (``infos["action_mask"]``, shape (N, K), int8
as Gymnasium's masked sampling takes it: ``action_space.sample(mask=tuple(
infos["action_mask"]))``; and `action_masks()`, bool as sb3-contrib takes it). Actions
may be an array of any integer dtype.

The sub-envs share one profile and cut table. Every configuration runs in one compiled
loop (`splitgym.envs.fast`, numba; ``compiled=False`` or ``engine="python"`` turns it
off) that tests check bit for bit against single envs on the Python core: rate traces
(each sub-env draws its own from its generator), fleets, unequal frame counts,
deadlines and drops, and an episode reset with `options` (rows whose configuration
differs from the env's are padded to the largest). ``threads=k`` runs the compiled loop
on k threads, each over its own block of envs (``threads=None``: one per core, at most
one per 16 envs); any count gives the same bits. The default is one thread: a training
process usually has other thread pools (torch's) and often runs beside other seeds, and numba's
OpenMP threads keep spinning for a while after each step; ask for threads where the
env's throughput is the bottleneck, not in a process forked after it used them
(numba's OpenMP layer refuses to run parallel code in such a child). ``splitgym bench
env`` measures both against CartPole's vector env.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable
from typing import Any

import gymnasium as gym
import numba
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import fast
from .core.config import ConfigError, check_seed
from .core.energy import ENERGY_OBJECTIVES
from .core.simulator import check_cut
from .edge_cloud import EdgeCloudEnv
from .engine import CompiledBatch

ENVS_PER_THREAD = 16  # the default `threads` gives each thread at least this many envs


class EdgeCloudVectorEnv(VectorEnv):
    """N `EdgeCloudEnv` in lock step with batched arrays (see the module docstring)."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}  # noqa: RUF012

    def __init__(self, num_envs: int = 1, compiled: bool = True, threads: int | None = 1,
                 **kwargs: Any) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}: expected a whole number >= 1")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"threads={threads!r}: expected a whole number >= 1, or None "
                             f"(one per core, at most one per {ENVS_PER_THREAD} envs)")
        first = EdgeCloudEnv(**kwargs)
        shared = dict(kwargs, model=first.profile)
        self.envs = [first] + [EdgeCloudEnv(**shared) for _ in range(num_envs - 1)]
        self.num_envs = num_envs
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, num_envs)
        self.action_space = batch_space(first.action_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._resetting = False  # whether any sub-env resets at the next step
        self._ended = np.zeros(0, dtype=np.int64)  # which (the compiled loop's)
        k = first.action_space.n
        self._masks = np.ones((num_envs, k), dtype=bool)
        self._obs = np.zeros((num_envs, *first.observation_space.shape), dtype=np.float32)
        self._batch: CompiledBatch | None = None  # the compiled loop's rows
        self._kernel: Any = None  # its kernel
        self._use_kernel = False
        self.threads = 1
        # the compiled loop computes the engines' own rewards: an energy objective's
        # (`EnergyMeter`) steps the single envs
        if compiled and first.engine != "python" and \
                first.objective not in ENERGY_OBJECTIVES:
            if threads is None:
                threads = max(1, min(numba.get_num_threads(), num_envs // ENVS_PER_THREAD))
            self.threads = min(threads, num_envs)
            self._batch = CompiledBatch(self.envs, threads=self.threads)
            self._kernel = self._batch.kernel

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env (env i with ``seed + i``, or ``seed[i]``). The seeds and
        options are checked for every sub-env before any changes: a refused reset
        leaves every episode (and every generator) as it was."""
        seeds = vector_seeds(seed, self.num_envs)
        # the sub-envs share one configuration: options refused for one are refused for
        # all, before any state changes
        self.envs[0]._episode_setup(options)
        use_kernel = self._batch is not None and (
            not options or options.get("objective") not in ENERGY_OBJECTIVES)
        if use_kernel:
            self._batch.seed(seeds)
            self._batch.reset(np.arange(self.num_envs), self._obs,
                              [options] * self.num_envs if options else None)
            self._masks[:] = self._batch.masks
            self._use_kernel = True
        else:
            self._use_kernel = False
            for i, env in enumerate(self.envs):
                obs, info = env.reset(seed=seeds[i], options=options)
                self._obs[i] = obs
                self._masks[i] = info["action_mask"]
        self._autoreset[:] = False
        self._resetting = False
        return self._obs.copy(), {"action_mask": self._masks.astype(np.int8)}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        """One decision in every sub-env (or its autoreset)."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions: expected shape ({self.num_envs},), got "
                             f"{actions.shape}")
        if self._use_kernel:
            return self._kernel_step(actions)
        self._check_actions(actions, ~self._autoreset)  # before any sub-env moves
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        metrics: list[Any] = [None] * self.num_envs
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                obs, info = env.reset()
            else:
                obs, rewards[i], terminated[i], _, info = env.step(int(actions[i]))
                metrics[i] = info.get("metrics")
            self._obs[i] = obs
            self._masks[i] = info["action_mask"]
        self._autoreset = terminated.copy()
        infos: dict[str, Any] = {"action_mask": self._masks.astype(np.int8)}
        if terminated.any():
            infos["metrics"] = np.array(metrics, dtype=object)
            infos["_metrics"] = terminated.copy()
        return (self._obs.copy(), rewards, terminated, np.zeros(self.num_envs, dtype=bool),
                infos)

    def _kernel_step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray, dict[str, Any]]:
        kernel = self._kernel
        n = self.num_envs
        skip = self._autoreset
        given = actions  # the caller's values, for the error message
        if actions.dtype != np.int64:  # any integer dtype is fine
            if actions.dtype.kind not in "iu":  # floats, bools, ...: the single env's error
                self._check_actions(actions, ~skip)
            # a uint64 beyond int64 wraps to a negative cut, which the kernel refuses
            actions = actions.astype(np.int64)
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        redraw = None
        if self._resetting:  # the rows whose episodes ended at the previous step
            redraw = self._batch.redraw(self._ended)  # restarted in the step's call
            if redraw is None:  # check the actions before the resets draw new episodes
                if fast.check_actions(actions, skip, kernel.I, kernel.P2) >= 0:
                    self._check_actions(given, ~skip)
                self._batch.reset(self._ended, self._obs)
        # the kernel checks every stepped action first (in range, feasible for its
        # pending task) and steps (or restarts) nothing if one is bad
        ended = -1 - kernel.step(actions, skip, self._obs, rewards, terminated, redraw)
        if ended < 0:
            self._check_actions(given, ~skip)
        self._masks[:] = kernel.masks  # the pending tasks' (a rate trace changes them)
        infos: dict[str, Any] = {}
        if ended:
            rows = self._ended = np.flatnonzero(terminated)
            metrics = np.empty(n, dtype=object)
            for i, m in zip(rows.tolist(), self._batch.metrics_of(rows), strict=True):
                metrics[i] = m
            self._masks[rows] = True
            infos["metrics"] = metrics
            infos["_metrics"] = terminated.copy()
        if ended or self._resetting:
            self._autoreset = terminated.copy()
            self._resetting = bool(ended)
        infos["action_mask"] = self._masks.astype(np.int8)
        return self._obs.copy(), rewards, terminated, np.zeros(n, dtype=bool), infos

    def _check_actions(self, actions: np.ndarray, active: np.ndarray) -> None:
        """Raise the single env's error for the first active env's bad action."""
        for j in np.flatnonzero(active):
            check_cut(actions[j].item(), self._masks[j],
                      self.envs[j].sim_config.bandwidth_mbps)

    def action_masks(self) -> np.ndarray:
        """Feasible cuts of every sub-env's pending task, shape (N, K)."""
        return self._masks.copy()

    def __copy__(self) -> EdgeCloudVectorEnv:
        """A copy with its own sub-envs and compiled rows (a deep copy): a shallow one
        would share the rows, and stepping either would corrupt the other's episodes."""
        return copy.deepcopy(self)

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release: the sub-envs live in this process."""


def vector_seeds(seed: Any, num_envs: int) -> list[int | None]:
    """The per-env seeds of a vector reset (``seed + i``, or a list of one per env),
    each None or a whole number >= 0, checked all before any env is touched."""
    if seed is None or isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        check_seed(seed)
        return [None if seed is None else int(seed) + i for i in range(num_envs)]
    if isinstance(seed, (str, bytes)) or not isinstance(seed, Iterable):
        raise ConfigError(f"seed={seed!r}: expected None, a whole number >= 0 or a list of "
                          f"{num_envs} of them")
    seeds = list(seed)
    if len(seeds) != num_envs:
        raise ConfigError(f"seed: expected {num_envs} seeds, got {len(seeds)}")
    return [check_seed(s, f"seed[{i}]") for i, s in enumerate(seeds)]


def make_vector(num_envs: int, **kwargs: Any) -> gym.vector.VectorEnv:
    """`EdgeCloudVectorEnv` (the id's ``vector_entry_point``)."""
    return EdgeCloudVectorEnv(num_envs, **kwargs)
