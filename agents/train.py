"""Train stable-baselines3 agents on splitgym, one run folder per run.

``runs/<algo>/<scenario>_<n>/`` holds ``config.yml`` (the resolved hyperparameters,
env arguments, seed, package version and git commit), ``tb/`` (TensorBoard: episode
return, makespan, mean latency, the cut histogram, and the validation makespan and gap
to the best baseline), ``checkpoints/``, ``best_model.zip`` (lowest validation
makespan) and ``model.zip`` (final).

Seeds: training env i of run seed s starts from seed ``10_000 * (s + 1) + i``;
validation uses seeds from ``VALIDATION_SEEDS``; evaluation (``splitgym evaluate``,
``splitgym reproduce``) uses small seeds (0, 1, ...) that training never resets with.
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import pickle
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecMonitor
from tqdm.auto import tqdm

import splitgym
from splitgym.baselines import make_policy
from splitgym.envs.core.config import (
    BANDWIDTH_PRESETS_MBPS,
    ConfigError,
    is_finite,
    is_real,
    parse_bandwidth_mbps,
    shown,
)
from splitgym.envs.edge_cloud import EdgeCloudEnv
from splitgym.envs.observation import time_scale_s
from splitgym.envs.rollout import rollout
from splitgym.envs.warmup import warm_engine
from splitgym.fileio import write_atomic

from .policy import ALGO_NAMES, LearnedPolicy, algo_class, load_model
from .safe_load import (
    AgentFileError,
    check_model_fits,
    load_replay_buffer,
    save_model,
    save_replay_buffer,
    zip_is_whole,
    zip_steps,
)
from .vecenv import NativeVecEnv, is_native
from .wrappers import RandomizedScenario, ScaledReward

HYPERPARAMS = Path(__file__).parent / "hyperparams"
VALIDATION_SEEDS = (900_001, 900_002, 900_003, 900_004, 900_005, 900_006)
BASELINES_FOR_GAP = ("single_cut", "queue_aware", "greedy_eft", "sq_link", "sq_lookahead")
_BC_KEYS = ("bc_expert", "bc_episodes", "bc_epochs", "bc_learning_rate", "bc_value")
_OWN_KEYS = ("n_envs", "policy", "net_arch", "reward_shaping") + _BC_KEYS


def scenario_name(model: str, bandwidth: str | float | None, randomize: bool = False,
                  preset: str | None = None) -> str:
    """``alexnet-3g``, ``alexnet-2.5mbps``, ``alexnet-random`` or, for a scenario preset,
    ``alexnet-cellular-markov``."""
    if randomize:
        return f"{model}-random"
    if preset is not None:
        return f"{model}-{preset}"
    if isinstance(bandwidth, str) and bandwidth.lower() in ("3g", "4g"):
        return f"{model}-{bandwidth.lower()}"
    mbps = parse_bandwidth_mbps(bandwidth)
    named = [k for k, v in BANDWIDTH_PRESETS_MBPS.items() if v == mbps]  # 1.1 is 3g
    return f"{model}-{named[0]}" if named else f"{model}-{mbps:g}mbps"


def load_hyperparams(algo: str, scenario: str,
                     overrides: Mapping[str, Any] | None = None,
                     vec: str = "native", objective: str = "makespan") -> dict[str, Any]:
    """``hyperparams/<algo>.yml``: its ``default``, then (when the run's vector env `vec`
    is not the native one) its ``python_core`` entry, then (when the run imitates
    nothing, ``bc_epochs`` 0, on the native vector env, and minimises the makespan: its
    shaping is the predicted makespan's) its ``no_imitation`` entry,
    then the scenario's entry, then `overrides`; every key checked against
    `hyperparam_keys` and every value against the type its default has (see
    `check_hyperparams`)."""
    if algo not in ALGO_NAMES:
        raise ValueError(f"--algo={algo!r}: expected one of {list(ALGO_NAMES)}")
    table = _numbers_inside(yaml.safe_load((HYPERPARAMS / f"{algo}.yml").read_text()) or {})
    overrides = _numbers_inside(dict(overrides or {}))  # "1e-4" from a YAML file too
    layers = [table.get("default", {})]
    if vec != "native":
        layers.append(table.get("python_core", {}))
    top = [table.get(scenario, {}), overrides]
    if vec == "native" and objective == "makespan" and \
            _merged(layers + top).get("bc_epochs", 0) == 0:
        layers.append(table.get("no_imitation", {}))
    hp = _merged(layers + top)
    check_hyperparams(algo, hp)
    return hp


def _merged(layers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    hp: dict[str, Any] = {}
    for layer in layers:
        hp.update(layer)
    return hp


#: Constructor arguments `train` sets itself (or that take Python objects, not values).
_SET_BY_TRAIN = ("self", "policy", "env", "seed", "device", "tensorboard_log", "verbose",
                 "policy_kwargs", "_init_setup_model", "rollout_buffer_class",
                 "replay_buffer_class")


def hyperparam_keys(algo: str) -> list[str]:
    """The keys ``--hyperparams`` accepts for `algo`: its SB3 constructor's arguments
    (less those `train` sets: env, seed, device, logging, policy_kwargs) and the
    project's own (``n_envs``, ``policy``, ``net_arch``, ``bc_*``)."""
    params = inspect.signature(algo_class(algo).__init__).parameters
    return sorted([k for k in params if k not in _SET_BY_TRAIN] + list(_OWN_KEYS))


def env_kwarg_keys() -> list[str]:
    """The keys ``--env-kwargs`` accepts: `EdgeCloudEnv`'s arguments."""
    return [k for k in inspect.signature(EdgeCloudEnv.__init__).parameters if k != "self"]


def check_keys(given: Mapping[str, Any], valid: Sequence[str], flag: str) -> None:
    """Refuse a key not in `valid`, naming the closest valid one and listing them all."""
    for key in given:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{flag} {key}={shown(given[key])}: unknown key{hint}; valid keys: "
                              f"{', '.join(valid)}")


def check_hyperparams(algo: str, hp: Mapping[str, Any]) -> None:
    """Refuse unknown keys, a value of another type than the constructor's default
    (a number where it takes a number, true/false where it takes a flag), and bad
    values of the project's own keys, before anything is built."""
    check_keys(hp, hyperparam_keys(algo), "--hyperparams")
    params = inspect.signature(algo_class(algo).__init__).parameters
    for key, value in hp.items():
        default = params[key].default if key in params else None
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"--hyperparams {key}={shown(value)}: expected true or false")
        if is_real(default) and not (is_real(value) or isinstance(value, (list, tuple))):
            raise ConfigError(f"--hyperparams {key}={shown(value)}: expected a number "
                              f"(default {default!r})")
    for key in ("n_envs",):
        if key in hp and not (isinstance(hp[key], int) and not isinstance(hp[key], bool)
                              and hp[key] >= 1):
            raise ConfigError(f"--hyperparams {key}={shown(hp[key])}: expected a whole number >= 1")
    for key in ("bc_episodes", "bc_epochs"):
        if key in hp and not (isinstance(hp[key], int) and not isinstance(hp[key], bool)
                              and hp[key] >= 0):
            raise ConfigError(f"--hyperparams {key}={shown(hp[key])}: expected a whole number >= 0")
    if "bc_learning_rate" in hp and not (is_real(hp["bc_learning_rate"])
                                         and 0 < hp["bc_learning_rate"] < math.inf):
        raise ConfigError(f"--hyperparams bc_learning_rate={shown(hp['bc_learning_rate'])}: "
                          f"expected a number > 0")
    if "bc_value" in hp and not isinstance(hp["bc_value"], bool):
        raise ConfigError(f"--hyperparams bc_value={shown(hp['bc_value'])}: expected true or false")
    if "bc_expert" in hp:
        make_policy(str(hp["bc_expert"]))  # an unknown policy is a clear ValueError
    arch = hp.get("net_arch", [64, 64])
    layers = list(arch.values()) if isinstance(arch, dict) else [arch]
    if not all(isinstance(ls, list) and len(ls) <= MAX_LAYERS and all(
            isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH
            for n in ls) for ls in layers):
        raise ConfigError(f"--hyperparams net_arch={shown(arch)}: expected a list of at most "
                          f"{MAX_LAYERS} layer widths, each a whole number in [1, "
                          f"{MAX_WIDTH}], e.g. [64,64] (or a dict of such lists: pi, vf)")
    check_hyperparam_ranges(hp, params)


#: Hyperparameter ranges (checked before anything is built): a value outside them
#: either fails deep inside the algorithm (a MemoryError, a RuntimeError, NaN logits)
#: or trains nothing. Numbers: key -> (low, high, low open); `None` is accepted where
#: the algorithm's default is None.
HYPERPARAM_RANGES: dict[str, tuple[float, float, bool]] = {
    "gamma": (0.0, 1.0, True), "learning_rate": (0.0, 1.0, True),
    "bc_learning_rate": (0.0, 1.0, True),
    "clip_range": (0.0, 10.0, True), "clip_range_vf": (0.0, 10.0, True),
    "gae_lambda": (0.0, 1.0, False), "ent_coef": (0.0, 1e3, False),
    "vf_coef": (0.0, 1e3, False), "max_grad_norm": (0.0, 1e6, True),
    "target_kl": (0.0, 1e6, True), "tau": (0.0, 1.0, True),
    "exploration_fraction": (0.0, 1.0, False), "exploration_initial_eps": (0.0, 1.0, False),
    "exploration_final_eps": (0.0, 1.0, False), "rms_prop_eps": (0.0, 1.0, True),
    "sde_sample_freq": (-1.0, 1e6, False),
}
#: Whole-number hyperparameters: key -> (low, high).
MAX_ENVS = 1024
MAX_ROLLOUT_STEPS = 2**20  # n_steps x n_envs: one rollout buffer's rows
MAX_WIDTH, MAX_LAYERS = 4096, 16  # net_arch
HYPERPARAM_INT_RANGES: dict[str, tuple[int, int]] = {
    "n_envs": (1, MAX_ENVS), "n_steps": (1, MAX_ROLLOUT_STEPS),
    "batch_size": (1, MAX_ROLLOUT_STEPS), "n_epochs": (1, 10_000),
    "buffer_size": (1, 2**22), "learning_starts": (0, 10**9),
    "target_update_interval": (1, 10**9), "gradient_steps": (-1, 10_000),
    "stats_window_size": (1, 10**6), "bc_episodes": (0, 100_000), "bc_epochs": (0, 10_000),
}


def check_hyperparam_ranges(hp: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Refuse a hyperparameter outside `HYPERPARAM_RANGES` / `HYPERPARAM_INT_RANGES`,
    and a rollout (``n_steps`` x ``n_envs``) above `MAX_ROLLOUT_STEPS`, naming the key,
    the value and the range."""
    for key, (low, high, low_open) in HYPERPARAM_RANGES.items():
        value = hp.get(key)
        if value is None and key in hp and key in params and params[key].default is None:
            continue
        if key in hp and (not is_finite(value) or value > high
                          or value < low or (low_open and value == low)):
            raise ConfigError(f"--hyperparams {key}={shown(value)}: expected a number in "
                              f"{'(' if low_open else '['}{low:g}, {high:g}]")
    for key, (low, high) in HYPERPARAM_INT_RANGES.items():
        value = hp.get(key)
        if key in hp and (not isinstance(value, int) or isinstance(value, bool)
                          or not low <= value <= high):
            raise ConfigError(f"--hyperparams {key}={shown(value)}: expected a whole number "
                              f"in [{low}, {high}]")
    n_steps = hp.get("n_steps", params["n_steps"].default if "n_steps" in params else None)
    if isinstance(n_steps, int):
        n_envs = int(hp.get("n_envs", 1))
        if n_steps * n_envs > MAX_ROLLOUT_STEPS:
            raise ConfigError(f"--hyperparams n_steps={n_steps}, n_envs={n_envs}: "
                              f"{n_steps * n_envs} steps per rollout; expected at most "
                              f"{MAX_ROLLOUT_STEPS}")


_INT = re.compile(r"[+-]?\d[\d_]*")


def parse_value(text: str, flag: str = "value") -> Any:
    """A command-line value as a user means it. Every number a user would type is a
    number (``1e-4``, ``3E-4``, ``1_000``, ``-2``, ``.5``, ``inf``), also inside lists
    and mappings (``[64,64]``, ``{kind: markov, rates_mbps: [8, 0.5]}``); otherwise the
    YAML reading (``true``, ``null``, lists, mappings), else the text itself. (PyYAML
    alone reads ``1e-4`` as text: it follows YAML 1.1.)"""
    number = _number(text)
    if number is not None:
        return number
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{flag} {text!r}: not a readable value "
                          f"({str(exc).splitlines()[0]})") from None
    return _numbers_inside(value)


def _number(text: str) -> int | float | None:
    text = text.strip()
    if _INT.fullmatch(text):
        return int(text)
    try:
        return float(text)  # 1e-4, 3E-4, .5, -2.0, inf, 1_000.5
    except ValueError:
        return None


def _numbers_inside(value: Any) -> Any:
    if isinstance(value, str):
        number = _number(value)
        return value if number is None else number
    if isinstance(value, list):
        return [_numbers_inside(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers_inside(v) for k, v in value.items()}
    return value


def parse_kv(items: Sequence[str], flag: str) -> dict[str, Any]:
    """``["n_edges=3", "uplink=shared", "learning_rate=1e-4"]`` -> a dict, each value
    read by `parse_value`."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} {item!r}: expected key=value")
        out[key.strip()] = parse_value(value, f"{flag} {key.strip()}")
    return out


def git_commit() -> str:
    """The repository's commit, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _next_run_dir(root: Path, algo: str, scenario: str) -> Path:
    """The next free ``<root>/<algo>/<scenario>_<n>`` (not created)."""
    base = root / algo
    taken = [int(m.group(1)) for p in (base.iterdir() if base.is_dir() else ())
             if (m := re.fullmatch(re.escape(scenario) + r"_(\d+)", p.name))]
    return base / f"{scenario}_{max(taken, default=0) + 1}"


VEC_KINDS = ("auto", "native", "dummy", "subproc")


def make_agent_env(env_kwargs: Mapping[str, Any], randomize: bool = False) -> gym.Env:
    """One training env: `EdgeCloudEnv` (optionally randomised per episode) with its
    reward scaled (`ScaledReward`); the observation is the env's own."""
    env: gym.Env = EdgeCloudEnv(**env_kwargs)
    if randomize:
        env = RandomizedScenario(env)
    return ScaledReward(env)


def train_seed(seed: int) -> int:
    """Training env i of run seed s starts from seed ``train_seed(s) + i``."""
    return 10_000 * (seed + 1)


def vec_kind(env_kwargs: Mapping[str, Any], randomize: bool, vec: str) -> str:
    """The vectorised env a run uses: ``"auto"`` is ``"native"`` (`NativeVecEnv`, the
    compiled vector env: every scenario, ``randomize`` included) unless
    ``engine="python"`` is asked, else ``"dummy"``."""
    if vec not in VEC_KINDS:
        raise ValueError(f"--vec={vec!r}: expected one of {list(VEC_KINDS)}")
    covered = is_native(env_kwargs)
    if vec == "native" and not covered:
        raise ValueError("--vec=native: engine='python' runs single envs; use --vec auto "
                         "or dummy")
    if vec == "auto":
        return "native" if covered else "dummy"
    return vec


def make_train_vec_env(env_kwargs: Mapping[str, Any], randomize: bool, n_envs: int,
                       seed: int, vec: str = "auto", shaping: str | None = None) -> VecEnv:
    """The training `VecEnv` of `n_envs` envs, env i seeded ``train_seed(seed) + i``
    (call ``.seed(train_seed(seed))`` again after building an SB3 model on it: SB3
    reseeds the env with the model's seed). `shaping`: `NativeVecEnv`'s reward shaping
    (native only)."""
    kind = vec_kind(env_kwargs, randomize, vec)
    if shaping and kind != "native":
        raise ValueError(f"reward_shaping={shaping!r}: only on the native vector env")
    if kind == "native":
        scale = time_scale_s(EdgeCloudEnv(**env_kwargs).cut_table.whole_edge_s)
        venv: VecEnv = NativeVecEnv(n_envs, env_kwargs, reward_scale_s=scale,
                                    shaping=shaping, randomize=randomize)
        # episode returns and lengths for SB3's rollout/ep_rew_mean (make_vec_env's
        # Monitor gives the others theirs)
        venv = VecMonitor(venv)
        venv.seed(train_seed(seed))
        return venv
    cls = SubprocVecEnv if kind == "subproc" and n_envs > 1 else DummyVecEnv
    return make_vec_env(make_agent_env, n_envs=n_envs, seed=train_seed(seed),
                        vec_env_cls=cls, env_kwargs={"env_kwargs": dict(env_kwargs),
                                                     "randomize": randomize})


# -- callbacks -------------------------------------------------------------------------

class _Progress(BaseCallback):
    """A tqdm bar over the steps to the run's total. The total is the one SB3 will
    actually reach: an on-policy algorithm learns in whole rollouts (``n_steps`` x
    envs), so 6,000 steps are 6,016 at 128 per rollout; tqdm would drop a total the
    count passes (and show a bare counter), so any other overshoot raises it too."""

    def __init__(self, total: int, enabled: bool) -> None:
        super().__init__()
        self.total, self.enabled = total, enabled
        self.bar: Any = None

    def _on_training_start(self) -> None:
        from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

        start, total = self.num_timesteps, self.total
        if isinstance(self.model, OnPolicyAlgorithm):
            chunk = self.model.n_steps * self.training_env.num_envs
            total = start + math.ceil(max(total - start, 0) / chunk) * chunk
        self.bar = tqdm(total=total, initial=min(start, total), desc="train", unit="step",
                        disable=not self.enabled)

    def _on_step(self) -> bool:
        step = self.training_env.num_envs
        if self.bar.n + step > self.bar.total:
            self.bar.total = self.bar.n + step
        self.bar.update(step)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class _EpisodeMetrics(BaseCallback):
    """Logs each finished episode's makespan and mean latency, and the cut histogram."""

    def __init__(self) -> None:
        super().__init__()
        self.cuts: list[int] = []

    def _on_step(self) -> bool:
        for action, info in zip(self.locals["actions"], self.locals["infos"], strict=True):
            self.cuts.append(int(action))
            metrics = info.get("metrics")
            if metrics is not None:
                self.logger.record_mean("episode/makespan_s", metrics["makespan_s"])
                self.logger.record_mean("episode/mean_latency_s", metrics["mean_latency_s"])
                if "edge_energy_j" in metrics:  # edge devices with power figures
                    self.logger.record_mean("episode/edge_energy_j", metrics["edge_energy_j"])
        return True

    def _on_rollout_end(self) -> None:
        if self.cuts:
            self.logger.record("episode/cut_histogram", torch.tensor(self.cuts),
                               exclude=("stdout", "log", "json", "csv"))
            self.cuts = []


#: The metric a run's validation ranks checkpoints by, per env objective (the energy
#: objectives: the makespan).
_OBJECTIVE_METRICS = {"makespan": "makespan_s", "mean_latency": "mean_latency_s",
                      "deadline_miss": "deadline_miss_rate"}


class _Validation(BaseCallback):
    """At the start (after any imitation) and every `every` steps: the greedy agent's
    mean makespan on the validation seeds, its gap to the best baseline there, and
    ``best_model.zip`` (so RL that does worse than its warm start ships the warm
    start)."""

    def __init__(self, env_kwargs: Mapping[str, Any], randomize: bool, every: int,
                 run_dir: Path) -> None:
        super().__init__()
        self.env_kwargs, self.randomize = dict(env_kwargs), randomize
        self.every, self.run_dir = every, run_dir
        self.best = math.inf
        self.baseline = math.nan
        self.last = 0
        self.history: list[dict[str, float]] = []

    def _env(self) -> gym.Env:
        env: gym.Env = EdgeCloudEnv(**self.env_kwargs)
        return RandomizedScenario(env) if self.randomize else env

    def _mean(self, policy: Any) -> float:
        """Mean over the validation seeds of the env's objective metric (the makespan
        [s], or rush-hour's deadline-miss rate: `validation.json`'s ``metric``; its
        ``best_makespan_s`` then holds that metric's value)."""
        env = self._env()
        metric = _OBJECTIVE_METRICS.get(env.unwrapped.objective, "makespan_s")
        return float(np.mean([rollout(env, policy, seed=s).metrics[metric]
                              for s in VALIDATION_SEEDS]))

    def _on_training_start(self) -> None:
        self.baseline = min(self._mean(make_policy(p)) for p in BASELINES_FOR_GAP)
        self.last = self.num_timesteps
        state = _validation_state(self.run_dir / "validation.json")
        if state is not None:
            self.best, self.history = state["best_makespan_s"], state["history"]
        else:  # the starting point (the imitation's result) is a candidate too
            self.evaluate()

    def _on_step(self) -> bool:
        if self.num_timesteps - self.last >= self.every:
            self.last = self.num_timesteps
            self.evaluate()
        return True

    def evaluate(self) -> None:
        """Validate now; keep the model if it is the best so far."""
        value = self._mean(LearnedPolicy(self.model))
        gap = value / self.baseline - 1.0 if self.baseline > 0 else math.nan  # a 0 miss rate
        self.logger.record("eval/makespan_s", value)
        self.logger.record("eval/gap_to_best_baseline", gap)
        self.history.append({"step": self.num_timesteps, "makespan_s": value, "gap": gap})
        if value < self.best:
            self.best = value
            save_model(self.model, self.run_dir / "best_model.zip")
        write_atomic(self.run_dir / "validation.json", json.dumps(
            {"best_makespan_s": self.best, "best_baseline_makespan_s": self.baseline,
             "metric": _OBJECTIVE_METRICS.get(self._env().unwrapped.objective,
                                              "makespan_s"),
             "seeds": VALIDATION_SEEDS, "history": self.history}, indent=1))

    def _on_training_end(self) -> None:
        self.evaluate()


def _validation_state(path: Path) -> dict[str, Any] | None:
    """A run's ``validation.json``, or None if it is missing or unreadable (one torn by
    a kill while an older version wrote it in place): validation then starts over."""
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
        if is_real(state["best_makespan_s"]) and isinstance(state["history"], list):
            return state
    except (OSError, ValueError, KeyError, TypeError):
        pass
    print(f"{path}: unreadable, validation starts over", file=sys.stderr)
    return None


# -- behaviour cloning -----------------------------------------------------------------

#: The heuristics ``bc_expert: auto`` chooses from (no oracles: the imitation needs a
#: policy that acts on what the env shows).
EXPERTS = ("sq_lookahead", "sq_link", "greedy_eft", "sq_fill", "single_cut", "queue_aware")


def pick_expert(env_kwargs: Mapping[str, Any], randomize: bool, seed: int,
                episodes: int = 5) -> str:
    """``bc_expert: auto``: the heuristic of `EXPERTS` with the lowest mean makespan on
    the first `episodes` imitation episodes (training seeds, never evaluation ones)."""
    env = make_agent_env(env_kwargs, randomize)
    seeds = [10_000 * (seed + 1) + 5_000 + k for k in range(episodes)]
    scores = {name: float(np.mean([rollout(env, make_policy(name), seed=s)
                                   .metrics["makespan_s"] for s in seeds]))
              for name in EXPERTS}
    return min(scores, key=scores.__getitem__)

def behaviour_cloning(model: Any, env_kwargs: Mapping[str, Any], randomize: bool,
                      expert: str, episodes: int, epochs: int, lr: float, seed: int,
                      progress: bool, value: bool = False) -> float:
    """Warm-start an actor-critic policy by imitating `expert` (cross-entropy on its
    cuts over `episodes` training episodes); returns the final accuracy. With `value`,
    the critic is fitted too, to the expert's discounted returns (the training reward,
    the algorithm's gamma), so that PPO's first advantages come from a critic of the
    policy it starts from rather than from a random one."""
    if not hasattr(model.policy, "evaluate_actions") or epochs <= 0:
        return math.nan
    env = make_agent_env(env_kwargs, randomize)
    # the oracles plan each episode on reset; best_known plans from the heuristics and
    # fixed cuts only (not from shipped agents: an agent's training must not depend on
    # the agent it may replace)
    pol = make_policy(expert, shipped_agents=False) if expert == "best_known" \
        else make_policy(expert)
    start = getattr(pol, "on_episode_start", None)
    gamma = float(getattr(model, "gamma", 0.99))
    xs, ys, gs = [], [], []
    for k in tqdm(range(episodes), desc=f"imitate {expert}", disable=not progress,
                  leave=False):
        obs, info = env.reset(seed=10_000 * (seed + 1) + 5_000 + k)
        if start is not None:
            start(env)
        rewards = []
        while True:
            act = pol(obs, info)  # heuristics read only info["decision"]
            xs.append(obs)
            ys.append(act)
            obs, reward, term, _, info = env.step(act)
            rewards.append(reward)
            if term:
                break
        ret, rets = 0.0, []
        for reward in reversed(rewards):
            ret = reward + gamma * ret
            rets.append(ret)
        gs.extend(reversed(rets))
    x = torch.as_tensor(np.array(xs), dtype=torch.float32)
    y = torch.as_tensor(np.array(ys), dtype=torch.long)
    g = torch.as_tensor(np.array(gs), dtype=torch.float32)
    opt = torch.optim.Adam(model.policy.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 256):
            idx = perm[i:i + 256]
            values, logp, _ = model.policy.evaluate_actions(x[idx], y[idx])
            loss = -logp.mean()
            if value:
                loss = loss + 0.5 * torch.nn.functional.mse_loss(values.flatten(), g[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = model.policy.get_distribution(x).distribution.logits.argmax(1)
    return float((pred == y).float().mean())


# -- entry points ----------------------------------------------------------------------

def train(algo: str, model: str = "alexnet", bandwidth: str | float | None = "4g",
          timesteps: int = 200_000, seed: int = 0, env_kwargs: Mapping[str, Any] | None = None,
          hyperparams: Mapping[str, Any] | None = None, randomize: bool = False,
          run_root: str | Path = "runs", vec: str = "auto", checkpoint_freq: int = 20_000,
          eval_freq: int = 20_000, progress: bool = True,
          callbacks: Sequence[BaseCallback] = ()) -> Path:
    """Train one agent in a new run folder; returns the folder. With
    ``env_kwargs={"scenario": name}`` the preset sets the conditions (and `bandwidth` is
    ignored). `callbacks` run after the run's own (checkpoints, validation), e.g.
    `splitgym sweep`'s report to Ray Tune.

    Every argument is checked, and the model built, before the folder is created; if the
    start fails later (or is interrupted) before a checkpoint is written, the folder is
    removed again, so a run folder always holds something to resume or use."""
    check_keys(env_kwargs or {}, env_kwarg_keys(), "--env-kwargs")
    preset = (env_kwargs or {}).get("scenario")
    kwargs: dict[str, Any] = {"model": model}
    if bandwidth is not None and preset is None:
        kwargs["bandwidth_mbps"] = parse_bandwidth_mbps(bandwidth)
    kwargs.update(env_kwargs or {})
    probe = EdgeCloudEnv(**kwargs)  # validate every env argument before any work
    # a profile file (./mynet.json) names its run by the model it profiles
    scenario = scenario_name(probe.profile.model, bandwidth, randomize, preset)
    vec = vec_kind(kwargs, randomize, vec)
    hp = load_hyperparams(algo, scenario, hyperparams, vec, probe.objective)
    for flag, value in (("--timesteps", timesteps), ("--checkpoint-freq", checkpoint_freq),
                        ("--eval-freq", eval_freq)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{flag}={value!r}: expected a whole number >= 1")
    from splitgym.experiments.outdir import check_writable

    check_writable(run_root, "--runs")  # before the engine warms up (up to a minute)
    root = Path(run_root)
    run = _next_run_dir(root, algo, scenario)
    config = {"algo": algo, "scenario": scenario, "seed": seed, "total_timesteps": timesteps,
              "env_kwargs": kwargs, "randomize": randomize, "vec": vec,
              "checkpoint_freq": checkpoint_freq, "eval_freq": eval_freq,
              "hyperparams": hp, "splitgym_version": splitgym.__version__,
              "commit": git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    warm_engine(probe, vector_kwargs=kwargs if vec == "native" else None)
    venv, new_model = _build(run, config)  # a refused hyperparameter fails here
    steps, why = run_length(new_model, timesteps)
    if steps != timesteps:  # record what it will run, and say so
        config["requested_timesteps"], config["total_timesteps"] = timesteps, steps
        print(f"--timesteps {timesteps:,}: {why}, so the run takes {steps:,} steps "
              f"(its recorded total)", file=sys.stderr)
    made = [d for d in (root, root / algo) if not d.exists()]
    try:
        run.mkdir(parents=True)
        write_atomic(run / "config.yml", yaml.safe_dump(config, sort_keys=False))
        return _learn(run, config, venv, new_model, ckpt=None, fresh=True, progress=progress,
                      extra=callbacks)
    except BaseException:
        venv.close()
        if not (run / "model.zip").is_file() and not _checkpoints(run):
            shutil.rmtree(run, ignore_errors=True)
            for folder in reversed(made):  # the folders this start created, if empty
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            print(f"{run}: removed (the start failed before a checkpoint was written)",
                  file=sys.stderr)
        raise


def run_length(model: Any, timesteps: int, start: int = 0) -> tuple[int, str]:
    """The total ``model.learn`` actually reaches from `start` towards `timesteps`, and
    why: an on-policy
    algorithm learns in whole rollouts (``n_steps`` x envs), an off-policy one collects
    ``train_freq`` steps per env between updates."""
    n_envs = int(model.n_envs)
    name = type(model).__name__
    if hasattr(model, "n_steps"):
        chunk = int(model.n_steps) * n_envs
        why = (f"{name} learns in whole rollouts of {chunk:,} steps ({n_envs} envs x "
               f"n_steps {model.n_steps})")
    else:
        freq = getattr(model, "train_freq", None)
        per_env = freq.frequency if freq is not None and freq.unit.value == "step" else 1
        chunk = per_env * n_envs
        why = f"{name} collects {chunk:,} steps between updates ({n_envs} envs x {per_env})"
    return start + math.ceil(max(timesteps - start, 0) / chunk) * chunk, why


def validation_summary(run: str | Path) -> str:
    """One line on a run's validation (``validation.json``): the best and the final
    greedy agent's mean makespan on the validation seeds, beside the best baseline's."""
    path = Path(run) / "validation.json"
    if not path.is_file():
        return f"{run}: no validation.json (no validation ran)"
    val = json.loads(path.read_text())
    hist, base = val["history"], val["best_baseline_makespan_s"]
    best = min(hist, key=lambda h: h["makespan_s"])
    seeds = val.get("seeds") or VALIDATION_SEEDS
    return (f"validation ({len(seeds)} seeds): best {best['makespan_s']:.3f} s at step "
            f"{best['step']:,} ({best['makespan_s'] / base - 1:+.1%} to the best baseline, "
            f"{base:.3f} s); final {hist[-1]['makespan_s']:.3f} s at step "
            f"{hist[-1]['step']:,}; best_model.zip is the best")


def resume(run_dir: str | Path, timesteps: int | None = None, progress: bool = True,
           callbacks: Sequence[BaseCallback] = (), trust: bool = False) -> Path:
    """Continue a run from the newest of its checkpoints and its final ``model.zip``
    (loaded without unpickling unless `trust`).

    Without `timesteps`, an interrupted run goes on to its total and a finished one is
    left untouched (with a message). With `timesteps` (a new total) a run is extended,
    finished or not; a total it has already reached leaves it untouched.
    """
    run = Path(run_dir)
    cfg_path = run / "config.yml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"--resume: {str(run)!r} has no config.yml (not a run folder)")
    cfg = yaml.safe_load(cfg_path.read_text())
    check_hyperparams(str(cfg.get("algo")), cfg.get("hyperparams") or {})  # hand-edited too
    if timesteps is not None and (not isinstance(timesteps, int) or isinstance(timesteps, bool)
                                  or timesteps < 1):
        raise ValueError(f"--timesteps={timesteps!r}: expected a whole number >= 1")
    total = int(cfg["total_timesteps"]) if timesteps is None else timesteps
    final = run / "model.zip"
    done = _zip_steps(final) if final.is_file() else None
    if done is not None and done >= total:
        if timesteps is None:
            print(f"{run}: already complete ({done:,} steps; its total is "
                  f"{int(cfg['total_timesteps']):,}), left untouched; to train it further, "
                  f"give a larger total: --resume {run} --timesteps N (N > {done})")
        else:
            print(f"{run}: --timesteps={timesteps:,} is already reached ({done:,} steps "
                  f"done), left untouched; give a total above {done} to extend it")
        return run
    if timesteps is not None and timesteps != int(cfg["total_timesteps"]):
        cfg.setdefault("extended", []).append(
            {"from_total_timesteps": int(cfg["total_timesteps"]), "to": timesteps,
             "at": time.strftime("%Y-%m-%dT%H:%M:%S")})
        cfg["total_timesteps"] = timesteps
    if not cfg.get("randomize"):
        warm_engine(EdgeCloudEnv(**cfg["env_kwargs"]),
                    vector_kwargs=cfg["env_kwargs"] if cfg.get("vec") == "native" else None)
    set_random_seed(int(cfg["seed"]))
    venv = make_train_vec_env(cfg["env_kwargs"], cfg["randomize"], int(cfg["hyperparams"].get(
        "n_envs", 1)), int(cfg["seed"]), cfg.get("vec", "dummy"))
    model, ckpt = _load_checkpoint(cfg["algo"], venv, run, trust)
    ckpt_steps = -1 if ckpt is None else _zip_steps(ckpt)
    if done is not None and done >= max(ckpt_steps, 0):  # the final model is the newest
        model, ckpt = _load_final(cfg["algo"], venv, run, ckpt, trust), final
    if model is None:
        venv.close()
        venv, model = _build(run, cfg)
    model.tensorboard_log = str(run / "tb")  # this folder's, whatever the file says
    steps, why = run_length(model, int(cfg["total_timesteps"]), model.num_timesteps)
    if steps != int(cfg["total_timesteps"]):  # record what it will run, and say so
        cfg["requested_timesteps"] = int(cfg["total_timesteps"])
        cfg["total_timesteps"] = steps
        if cfg.get("extended"):
            cfg["extended"][-1]["to"] = steps
        print(f"--timesteps {cfg['requested_timesteps']:,}: {why}, so the run ends at "
              f"{steps:,} steps (its recorded total)", file=sys.stderr)
    write_atomic(cfg_path, yaml.safe_dump(cfg, sort_keys=False))
    return _learn(run, cfg, venv, model, ckpt=ckpt, fresh=ckpt is None, progress=progress,
                  extra=callbacks)


def _zip_steps(path: Path) -> int:
    """The ``num_timesteps`` an SB3 zip was saved at (read from its ``data`` entry,
    within `safe_load.read_zip`'s bounds, without loading the networks); -1 for a zip
    that does not read whole."""
    return zip_steps(path) if _whole_zip(path) else -1


def _load_final(algo: str, venv: VecEnv, run: Path, ckpt: Path | None,
                trust: bool = False) -> Any:
    """The finished model, with the newest checkpoint's replay buffer when the
    algorithm has one (the final model is saved without it)."""
    model, _ = load_model(run / "model.zip", algo, env=venv, trust=trust)
    if ckpt is not None and hasattr(model, "load_replay_buffer"):
        load_replay_buffer(model, _buffer_of(ckpt), trust=trust)
    return model


def _buffer_of(ckpt: Path) -> Path:
    """A checkpoint's replay buffer: the plain ``.npz`` splitgym writes, else (a run of
    an older splitgym) SB3's pickled ``.pkl``, which loads only with ``--trust-agent``."""
    npz = ckpt.with_name(ckpt.name.replace("ckpt_", "ckpt_replay_buffer_")
                         .replace("_steps.zip", "_steps.npz"))
    pkl = npz.with_suffix(".pkl")
    return pkl if not npz.exists() and pkl.exists() else npz


class _Checkpoint(CheckpointCallback):
    """SB3's checkpoints, each written atomically with the plain data splitgym loads
    (`safe_load.save_model`), the replay buffer as a plain ``.npz``."""

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            save_model(self.model, self._checkpoint_path(extension="zip"))
            if self.save_replay_buffer and getattr(self.model, "replay_buffer", None) \
                    is not None:
                save_replay_buffer(self.model, self._checkpoint_path("replay_buffer_",
                                                                     extension="npz"))
        return True


def _checkpoints(run: Path) -> list[Path]:
    """The run's complete checkpoints, newest first: a run killed while it wrote one
    leaves a truncated zip (SB3 writes in place), which is skipped."""
    found = [(int(m.group(1)), p) for p in (run / "checkpoints").glob("ckpt_*_steps.zip")
             if (m := re.search(r"_(\d+)_steps\.zip$", p.name))]
    out = []
    for _, path in sorted(found, reverse=True):
        if _whole_zip(path):
            out.append(path)
        else:
            print(f"{path}: incomplete (interrupted while written), skipped")
    return out


def _whole_zip(path: Path) -> bool:
    """Whether `path` is a whole SB3 zip: its central directory reads, lists ``data``
    and every entry's CRC checks, each read within `safe_load.read_zip`'s bounds.
    (`zipfile.is_zipfile` is not enough: the torch files inside are zips themselves, so
    a truncated archive can end in an inner one's end-of-directory record.)"""
    return zip_is_whole(path)


def _load_checkpoint(algo: str, venv: VecEnv, run: Path,
                     trust: bool = False) -> tuple[Any, Path | None]:
    """The model of the newest checkpoint that loads whole, with its replay buffer when
    the algorithm has one (saved after the zip, so a kill between the two truncates
    it: that checkpoint is skipped too); ``(None, None)`` if none does. Loaded without
    unpickling (`splitgym.agents.safe_load`) unless `trust`."""
    for ckpt in _checkpoints(run):
        model, _ = load_model(ckpt, algo, env=venv, trust=trust)
        buffer = _buffer_of(ckpt)
        if hasattr(model, "load_replay_buffer"):
            try:
                load_replay_buffer(model, buffer, trust=trust)
            except (OSError, EOFError, pickle.UnpicklingError, AgentFileError) as err:
                if isinstance(err, AgentFileError) and buffer.suffix != ".npz":
                    raise  # an older run's pickled buffer: --trust-agent, not skipped
                print(f"{buffer}: replay buffer unreadable ({type(err).__name__}), "
                      f"checkpoint skipped")
                continue
        return model, ckpt
    return None, None


def _build(run: Path, cfg: Mapping[str, Any]) -> tuple[VecEnv, Any]:
    """The training envs and a new model (nothing is written: `run` may not exist yet).
    The algorithm's own refusal of a hyperparameter becomes a `ConfigError`."""
    algo, seed, hp = cfg["algo"], int(cfg["seed"]), dict(cfg["hyperparams"])
    cls = algo_class(algo)
    set_random_seed(seed)
    venv = make_train_vec_env(cfg["env_kwargs"], cfg["randomize"], int(hp.get("n_envs", 1)),
                              seed, cfg.get("vec", "dummy"), hp.get("reward_shaping"))
    algo_kwargs = {k: v for k, v in hp.items() if k not in _OWN_KEYS}
    arch = hp.get("net_arch", [64, 64])
    policy_kwargs = {"net_arch": dict(arch) if isinstance(arch, dict) else list(arch)}
    try:
        model = cls(hp.get("policy", "MlpPolicy"), venv, seed=seed, device="cpu",
                    policy_kwargs=policy_kwargs, tensorboard_log=str(run / "tb"), verbose=0,
                    **algo_kwargs)
    except (TypeError, ValueError, AssertionError, KeyError) as exc:
        venv.close()
        shown = {k: v for k, v in hp.items() if k not in _BC_KEYS}
        raise ConfigError(f"--hyperparams: {cls.__name__} refused {shown}: "
                          f"{type(exc).__name__}: {exc}") from None
    try:
        check_model_fits(model, algo)  # its checkpoints must load again (resume)
    except AgentFileError as exc:
        venv.close()
        raise ConfigError(f"--hyperparams: {exc}") from None
    venv.seed(train_seed(seed))  # SB3 reseeded the envs with the model's seed
    return venv, model


def _learn(run: Path, cfg: Mapping[str, Any], venv: VecEnv, model: Any, ckpt: Path | None,
           fresh: bool, progress: bool, extra: Sequence[BaseCallback] = ()) -> Path:
    """Imitate the expert first if `fresh`, then learn to the configured total and save
    ``model.zip``."""
    seed, hp = int(cfg["seed"]), dict(cfg["hyperparams"])
    n_envs = int(hp.get("n_envs", 1))
    if fresh:
        expert = hp.get("bc_expert", "sq_lookahead")
        if expert == "auto" and int(hp.get("bc_epochs", 0)) > 0:
            expert = pick_expert(cfg["env_kwargs"], cfg["randomize"], seed)
        acc = behaviour_cloning(model, cfg["env_kwargs"], cfg["randomize"], expert,
                                int(hp.get("bc_episodes", 0)), int(hp.get("bc_epochs", 0)),
                                float(hp.get("bc_learning_rate", 1e-3)), seed, progress,
                                bool(hp.get("bc_value", False)))
        if not math.isnan(acc):
            write_atomic(run / "imitation.json", json.dumps(
                {"expert": expert, "accuracy": acc}, indent=1))
    total = int(cfg["total_timesteps"])
    remaining = total - model.num_timesteps
    every = max(int(cfg["checkpoint_freq"]) // n_envs, 1)
    callbacks = CallbackList([
        _Progress(total, progress), _EpisodeMetrics(),
        _Checkpoint(every, str(run / "checkpoints"), name_prefix="ckpt",
                    save_replay_buffer=hasattr(model, "replay_buffer")),
        _Validation(cfg["env_kwargs"], cfg["randomize"], int(cfg["eval_freq"]), run),
        *extra])
    t0 = time.perf_counter()
    if remaining > 0:
        # on-policy: write TensorBoard (rollout/ep_rew_mean, ...) every rollout, as PPO
        # does by default; A2C's own default (every 100 rollouts) left short runs empty
        log = {"log_interval": 1} if hasattr(model, "n_steps") else {}
        model.learn(remaining, callback=callbacks, reset_num_timesteps=ckpt is None,
                    tb_log_name="tb", progress_bar=False, **log)
    save_model(model, run / "model.zip")
    timing = {"wall_s_this_session": time.perf_counter() - t0, "num_timesteps":
              model.num_timesteps, "resumed_from": str(ckpt) if ckpt else None}
    log = run / "timing.jsonl"  # appended by a whole rewrite: never a torn line
    write_atomic(log, (log.read_text() if log.is_file() else "") + json.dumps(timing) + "\n")
    venv.close()
    return run
