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

import json
import math
import pickle
import re
import subprocess
import time
import zipfile
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
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from tqdm.auto import tqdm

import splitgym
from splitgym.baselines import make_policy
from splitgym.envs.core.config import parse_bandwidth_mbps
from splitgym.envs.edge_cloud import EdgeCloudEnv
from splitgym.envs.observation import time_scale_s
from splitgym.envs.rollout import rollout

from .policy import ALGO_NAMES, LearnedPolicy, algo_class, load_model
from .safe_load import load_replay_buffer
from .vecenv import NativeVecEnv, is_native
from .wrappers import RandomizedScenario, ScaledReward

HYPERPARAMS = Path(__file__).parent / "hyperparams"
VALIDATION_SEEDS = (900_001, 900_002, 900_003, 900_004, 900_005, 900_006)
BASELINES_FOR_GAP = ("single_cut", "queue_aware", "greedy_eft", "sq_lookahead")
_BC_KEYS = ("bc_expert", "bc_episodes", "bc_epochs", "bc_learning_rate", "bc_value")
_OWN_KEYS = ("n_envs", "policy", "net_arch") + _BC_KEYS


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
    return f"{model}-{parse_bandwidth_mbps(bandwidth):g}mbps"


def load_hyperparams(algo: str, scenario: str,
                     overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``hyperparams/<algo>.yml``: its ``default``, then the scenario's entry, then
    `overrides`."""
    if algo not in ALGO_NAMES:
        raise ValueError(f"--algo={algo!r}: expected one of {list(ALGO_NAMES)}")
    table = yaml.safe_load((HYPERPARAMS / f"{algo}.yml").read_text()) or {}
    hp = dict(table.get("default", {}))
    hp.update(table.get(scenario, {}))
    hp.update(overrides or {})
    return hp


def parse_kv(items: Sequence[str], flag: str) -> dict[str, Any]:
    """``["n_edges=3", "uplink=shared"]`` -> a dict, values read as YAML scalars."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} {item!r}: expected key=value")
        out[key.strip()] = yaml.safe_load(value)
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
    base = root / algo
    base.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in base.iterdir()
             if (m := re.fullmatch(re.escape(scenario) + r"_(\d+)", p.name))]
    run = base / f"{scenario}_{max(taken, default=0) + 1}"
    run.mkdir()
    return run


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
    compiled vector env) where the compiled engine covers the configuration and the
    scenario is not redrawn per episode, else ``"dummy"``."""
    if vec not in VEC_KINDS:
        raise ValueError(f"--vec={vec!r}: expected one of {list(VEC_KINDS)}")
    covered = not randomize and is_native(env_kwargs)
    if vec == "native" and not covered:
        raise ValueError("--vec=native: the compiled engine does not cover this "
                         "configuration (randomised conditions, traces, fleets, deadlines "
                         "need the Python core); use --vec auto or dummy")
    if vec == "auto":
        return "native" if covered else "dummy"
    return vec


def make_train_vec_env(env_kwargs: Mapping[str, Any], randomize: bool, n_envs: int,
                       seed: int, vec: str = "auto") -> VecEnv:
    """The training `VecEnv` of `n_envs` envs, env i seeded ``train_seed(seed) + i``
    (call ``.seed(train_seed(seed))`` again after building an SB3 model on it: SB3
    reseeds the env with the model's seed)."""
    kind = vec_kind(env_kwargs, randomize, vec)
    if kind == "native":
        scale = time_scale_s(EdgeCloudEnv(**env_kwargs).cut_table.whole_edge_s)
        venv: VecEnv = NativeVecEnv(n_envs, env_kwargs, reward_scale_s=scale)
        venv.seed(train_seed(seed))
        return venv
    cls = SubprocVecEnv if kind == "subproc" and n_envs > 1 else DummyVecEnv
    return make_vec_env(make_agent_env, n_envs=n_envs, seed=train_seed(seed),
                        vec_env_cls=cls, env_kwargs={"env_kwargs": dict(env_kwargs),
                                                     "randomize": randomize})


# -- callbacks -------------------------------------------------------------------------

class _Progress(BaseCallback):
    def __init__(self, total: int, enabled: bool) -> None:
        super().__init__()
        self.total, self.enabled = total, enabled
        self.bar: Any = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, initial=min(self.num_timesteps, self.total),
                        desc="train", unit="step", disable=not self.enabled)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
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
        return True

    def _on_rollout_end(self) -> None:
        if self.cuts:
            self.logger.record("episode/cut_histogram", torch.tensor(self.cuts),
                               exclude=("stdout", "log", "json", "csv"))
            self.cuts = []


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
        env = self._env()
        return float(np.mean([rollout(env, policy, seed=s).metrics["makespan_s"]
                              for s in VALIDATION_SEEDS]))

    def _on_training_start(self) -> None:
        self.baseline = min(self._mean(make_policy(p)) for p in BASELINES_FOR_GAP)
        self.last = self.num_timesteps
        if (self.run_dir / "validation.json").is_file():
            state = json.loads((self.run_dir / "validation.json").read_text())
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
        gap = value / self.baseline - 1.0
        self.logger.record("eval/makespan_s", value)
        self.logger.record("eval/gap_to_best_baseline", gap)
        self.history.append({"step": self.num_timesteps, "makespan_s": value, "gap": gap})
        if value < self.best:
            self.best = value
            self.model.save(self.run_dir / "best_model.zip")
        (self.run_dir / "validation.json").write_text(json.dumps(
            {"best_makespan_s": self.best, "best_baseline_makespan_s": self.baseline,
             "seeds": VALIDATION_SEEDS, "history": self.history}, indent=1))

    def _on_training_end(self) -> None:
        self.evaluate()


# -- behaviour cloning -----------------------------------------------------------------

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
    pol = make_policy(expert)
    gamma = float(getattr(model, "gamma", 0.99))
    xs, ys, gs = [], [], []
    for k in tqdm(range(episodes), desc=f"imitate {expert}", disable=not progress,
                  leave=False):
        obs, info = env.reset(seed=10_000 * (seed + 1) + 5_000 + k)
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

def train(algo: str, model: str = "alexnet", bandwidth: str | float | None = "3g",
          timesteps: int = 200_000, seed: int = 0, env_kwargs: Mapping[str, Any] | None = None,
          hyperparams: Mapping[str, Any] | None = None, randomize: bool = False,
          run_root: str | Path = "runs", vec: str = "auto", checkpoint_freq: int = 20_000,
          eval_freq: int = 20_000, progress: bool = True,
          callbacks: Sequence[BaseCallback] = ()) -> Path:
    """Train one agent in a new run folder; returns the folder. With
    ``env_kwargs={"scenario": name}`` the preset sets the conditions (and `bandwidth` is
    ignored). `callbacks` run after the run's own (checkpoints, validation), e.g.
    `splitgym sweep`'s report to Ray Tune."""
    preset = (env_kwargs or {}).get("scenario")
    scenario = scenario_name(model, bandwidth, randomize, preset)
    hp = load_hyperparams(algo, scenario, hyperparams)
    kwargs: dict[str, Any] = {"model": model}
    if bandwidth is not None and preset is None:
        kwargs["bandwidth_mbps"] = parse_bandwidth_mbps(bandwidth)
    kwargs.update(env_kwargs or {})
    EdgeCloudEnv(**kwargs)  # validate every env argument before any work
    vec = vec_kind(kwargs, randomize, vec)
    if timesteps < 1:
        raise ValueError(f"--timesteps={timesteps}: expected >= 1")
    run = _next_run_dir(Path(run_root), algo, scenario)
    config = {"algo": algo, "scenario": scenario, "seed": seed, "total_timesteps": timesteps,
              "env_kwargs": kwargs, "randomize": randomize, "vec": vec,
              "checkpoint_freq": checkpoint_freq, "eval_freq": eval_freq,
              "hyperparams": hp, "splitgym_version": splitgym.__version__,
              "commit": git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (run / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return _learn(run, config, resume=False, progress=progress, extra=callbacks)


def resume(run_dir: str | Path, progress: bool = True,
           callbacks: Sequence[BaseCallback] = (), trust: bool = False) -> Path:
    """Continue an interrupted run from its last checkpoint, to the same total budget.
    Checkpoints are loaded without unpickling unless `trust`."""
    run = Path(run_dir)
    cfg_path = run / "config.yml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"--resume: {str(run)!r} has no config.yml (not a run folder)")
    return _learn(run, yaml.safe_load(cfg_path.read_text()), resume=True, progress=progress,
                  extra=callbacks, trust=trust)


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
    and every entry's CRC checks. (`zipfile.is_zipfile` is not enough: the torch files
    inside are zips themselves, so a truncated archive can end in an inner one's
    end-of-directory record.)"""
    try:
        with zipfile.ZipFile(path) as zf:
            return "data" in zf.namelist() and zf.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


def _load_checkpoint(algo: str, venv: VecEnv, run: Path,
                     trust: bool = False) -> tuple[Any, Path | None]:
    """The model of the newest checkpoint that loads whole, with its replay buffer when
    the algorithm has one (saved after the zip, so a kill between the two truncates
    it: that checkpoint is skipped too); ``(None, None)`` if none does. Loaded without
    unpickling (`splitgym.agents.safe_load`) unless `trust`."""
    for ckpt in _checkpoints(run):
        model, _ = load_model(ckpt, algo, env=venv, trust=trust)
        buffer = ckpt.with_name(ckpt.name.replace("ckpt_", "ckpt_replay_buffer_")
                                .replace("_steps.zip", "_steps.pkl"))
        if hasattr(model, "load_replay_buffer"):
            try:
                load_replay_buffer(model, buffer, trust=trust)
            except (OSError, EOFError, pickle.UnpicklingError) as err:
                print(f"{buffer}: replay buffer unreadable ({type(err).__name__}), "
                      f"checkpoint skipped")
                continue
        return model, ckpt
    return None, None


def _learn(run: Path, cfg: Mapping[str, Any], resume: bool, progress: bool,
           extra: Sequence[BaseCallback] = (), trust: bool = False) -> Path:
    algo, seed, hp = cfg["algo"], int(cfg["seed"]), dict(cfg["hyperparams"])
    cls = algo_class(algo)
    n_envs = int(hp.get("n_envs", 1))
    set_random_seed(seed)
    venv = make_train_vec_env(cfg["env_kwargs"], cfg["randomize"], n_envs, seed,
                              cfg.get("vec", "dummy"))
    algo_kwargs = {k: v for k, v in hp.items() if k not in _OWN_KEYS}
    policy_kwargs = {"net_arch": list(hp.get("net_arch", [64, 64]))}
    model, ckpt = _load_checkpoint(algo, venv, run, trust) if resume else (None, None)
    if resume and ckpt is None and (run / "model.zip").is_file():
        print(f"{run}: already complete")
        return run
    if model is None:
        model = cls(hp.get("policy", "MlpPolicy"), venv, seed=seed, device="cpu",
                    policy_kwargs=policy_kwargs, tensorboard_log=str(run / "tb"), verbose=0,
                    **algo_kwargs)
        venv.seed(train_seed(seed))  # SB3 reseeded the envs with the model's seed
        acc = behaviour_cloning(model, cfg["env_kwargs"], cfg["randomize"],
                                hp.get("bc_expert", "sq_lookahead"),
                                int(hp.get("bc_episodes", 0)), int(hp.get("bc_epochs", 0)),
                                float(hp.get("bc_learning_rate", 1e-3)), seed, progress,
                                bool(hp.get("bc_value", False)))
        if not math.isnan(acc):
            (run / "imitation.json").write_text(json.dumps(
                {"expert": hp.get("bc_expert"), "accuracy": acc}, indent=1))
    total = int(cfg["total_timesteps"])
    remaining = total - model.num_timesteps
    every = max(int(cfg["checkpoint_freq"]) // n_envs, 1)
    callbacks = CallbackList([
        _Progress(total, progress), _EpisodeMetrics(),
        CheckpointCallback(every, str(run / "checkpoints"), name_prefix="ckpt",
                           save_replay_buffer=hasattr(model, "replay_buffer")),
        _Validation(cfg["env_kwargs"], cfg["randomize"], int(cfg["eval_freq"]), run),
        *extra])
    t0 = time.perf_counter()
    if remaining > 0:
        model.learn(remaining, callback=callbacks, reset_num_timesteps=not resume,
                    tb_log_name="tb", progress_bar=False)
    model.save(run / "model.zip")
    timing = {"wall_s_this_session": time.perf_counter() - t0, "num_timesteps":
              model.num_timesteps, "resumed_from": str(ckpt) if ckpt else None}
    with (run / "timing.jsonl").open("a") as fh:
        fh.write(json.dumps(timing) + "\n")
    venv.close()
    return run
