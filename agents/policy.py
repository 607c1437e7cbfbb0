"""Learned agents as policies ``policy(obs, info) -> cut``, like the baselines."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.baselines.paper import Policy

from .safe_load import (
    AgentChecksumError,
    AgentFileError,
    AgentMismatchError,
    AgentModelWarning,
    algo_from_data,
    load_sb3,
    read_data,
    read_plain,
    sha256_file,
)

ALGO_NAMES = ("maskable_ppo", "ppo", "a2c", "dqn")


def algo_class(name: str) -> Any:
    """The stable-baselines3 / sb3-contrib class of an algorithm name."""
    if name == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    from stable_baselines3 import A2C, DQN, PPO

    classes = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
    if name not in classes:
        raise ValueError(f"algo={name!r}: expected one of {list(ALGO_NAMES)}")
    return classes[name]


def load_model(path: str | Path, algo: str | None = None, env: Any = None,
               trust: bool = False) -> tuple[Any, str]:
    """Load an SB3 model zip from plain data only, no unpickler (`trust` for full
    unpickling of a file you trust; see `splitgym.agents.safe_load`). The algorithm
    comes from `algo`, else from the ``.json`` card or ``config.yml`` beside the zip,
    else from the zip's ``splitgym.json``, else from the policy class named in its data
    (plain text); `env` is the VecEnv to train on (resume)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent: no model file {str(path)!r}")
    if algo is None:
        algo = _algo_beside(path)
    if algo is None:
        plain = read_plain(path)
        algo = plain.get("algo") if plain is not None else algo_from_data(read_data(path))
    if algo is None:
        raise AgentFileError(f"agent {str(path)!r}: cannot tell its algorithm (no .json "
                             f"card or config.yml beside it, and its data names no known "
                             f"policy class); expected one of {list(ALGO_NAMES)}")
    if algo not in ALGO_NAMES:
        raise AgentFileError(f"agent {str(path)!r}: algo={algo!r}: expected one of "
                             f"{list(ALGO_NAMES)}")
    return load_sb3(path, algo, algo_class(algo), env=env, trust=trust), algo


def _algo_beside(path: Path) -> str | None:
    meta = _meta_beside(path)
    return meta.get("algo")


def _meta_beside(path: Path) -> dict[str, Any]:
    """Plain-data facts about the agent in `path` from the files beside it: ``algo``,
    ``model`` (the profile it was trained on) and ``card`` (the shipped card). A file
    there that does not read as a small mapping is an `AgentFileError` naming it."""
    card = path.with_suffix(".json")
    if card.is_file():
        doc = _small_doc(card, json.loads)
        model = doc.get("model") or str(doc.get("scenario", "")).partition("-")[0] or None
        return {"algo": doc.get("algo"), "model": model, "card": doc}
    for cfg in (path.parent / "config.yml", path.parent.parent / "config.yml"):
        if cfg.is_file():
            import yaml

            doc = _small_doc(cfg, yaml.safe_load)
            kwargs = doc.get("env_kwargs")
            model = kwargs.get("model") if isinstance(kwargs, dict) else None
            return {"algo": doc.get("algo"), "model": _model_name(model)}
    return {}


#: Largest card or config.yml read beside an agent [bytes].
_MAX_META_BYTES = 4 * 2**20


def _small_doc(path: Path, parse: Any) -> dict[str, Any]:
    try:
        if path.stat().st_size > _MAX_META_BYTES:
            raise ValueError(f"{path.stat().st_size} bytes, more than {_MAX_META_BYTES}")
        doc = parse(path.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - any parse error (yaml has its own)
        raise AgentFileError(f"agent metadata {str(path)!r}: not readable "
                             f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
                             ) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise AgentFileError(f"agent metadata {str(path)!r}: not a mapping")
    return doc


def _model_name(model: Any) -> str | None:
    """The profile name of an env's ``model`` argument (a name or a profile file)."""
    if model is None:
        return None
    try:
        from splitgym.profiles import load_profile

        return load_profile(model).model
    except Exception:  # noqa: BLE001 - a missing or broken profile: keep the text
        return str(model)


class LearnedPolicy(Policy):
    """A trained SB3 agent acting greedily among the feasible cuts.

    The action is the argmax over feasible cuts of the policy's logits (PPO, A2C,
    MaskablePPO) or Q-values (DQN), so an agent trained without masks still never
    picks an infeasible cut.
    """

    name = "learned"

    def __init__(self, model: Any, algo: str = "", trained_on: str | None = None,
                 source: str = "") -> None:
        self.model = model
        self.algo = algo
        self.trained_on = trained_on  # the profile (model) name it was trained on
        self.source = source

    @classmethod
    def load(cls, path: str | Path, algo: str | None = None,
             trust: bool = False) -> LearnedPolicy:
        """From a model zip or a run folder (its best, else final, model), without
        running code from the file unless `trust` (see `splitgym.agents.safe_load`)."""
        path = Path(path)
        if path.is_dir():
            for name in ("best_model.zip", "model.zip"):
                if (path / name).is_file():
                    path = path / name
                    break
            else:
                raise FileNotFoundError(f"agent: run folder {str(path)!r} has no "
                                        f"best_model.zip or model.zip")
        model, algo = load_model(path, algo, trust=trust)
        return cls(model, algo, _meta_beside(path).get("model"), str(path))

    def describe(self) -> str:
        """``agent 'x.zip' (alexnet: 12 cuts, observation of 58)``."""
        return (f"agent {self.source or self.algo!r} ({self.trained_on or 'model unknown'}: "
                f"{self.n_cuts} cuts, observation of {self.obs_size})")

    @property
    def n_cuts(self) -> int:
        """Number of cuts (actions) the agent chooses among."""
        return int(self.model.action_space.n)

    @property
    def obs_size(self) -> int:
        """Length of the observation the agent reads."""
        return int(np.prod(self.model.observation_space.shape))

    @property
    def observation_version(self) -> int | None:
        """The env's ``observation_version`` this agent reads (from its observation's
        size and its number of cuts; None: no version's size)."""
        from splitgym.envs.observation import version_of

        try:
            return version_of(self.n_cuts, self.obs_size)
        except ValueError:
            return None

    def check_env(self, env: Any) -> None:
        """Refuse an env of another shape (`AgentMismatchError`, naming both) and warn
        (`AgentModelWarning`) for another model of the same shape."""
        import warnings

        base = env.unwrapped
        name = base.profile.model
        n_cuts = int(env.action_space.n)
        obs_size = int(np.prod(env.observation_space.shape))
        version = self.observation_version
        if n_cuts == self.n_cuts and obs_size != self.obs_size and version is not None:
            raise AgentMismatchError(
                f"{self.describe()} reads observation_version={version}; the env gives "
                f"version {getattr(base, 'observation_version', 0)}: build it with "
                f"observation_version={version}")
        if (n_cuts, obs_size) != (self.n_cuts, self.obs_size):
            raise AgentMismatchError(
                f"{self.describe()} does not fit the env (model {name!r}: {n_cuts} cuts, "
                f"observation of {obs_size}): use an agent trained for {name!r}")
        if self.trained_on is not None and self.trained_on != name:
            warnings.warn(f"{self.describe()} was trained for model {self.trained_on!r}, "
                          f"not {name!r} (same shape, so it runs, but its choices were "
                          f"learned on another model's costs)", AgentModelWarning,
                          stacklevel=2)

    def scores(self, obs: np.ndarray) -> np.ndarray:
        """Per-cut preference (logits or Q-values) for one env observation."""
        if np.shape(obs) != (self.obs_size,):
            raise AgentMismatchError(f"{self.describe()} was given an observation of shape "
                                     f"{np.shape(obs)}: it is an agent for another model")
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])
        policy = self.model.policy
        with torch.no_grad():
            if hasattr(policy, "q_net"):
                out = policy.q_net(x)
            else:
                out = policy.get_distribution(x).distribution.logits
        return out[0].numpy()

    def __call__(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        s = self.scores(obs)
        mask = info.get("action_mask")
        if mask is not None:
            s = np.where(np.asarray(mask, dtype=bool), s, -np.inf)
        return int(np.argmax(s))

    def act(self, ctx: dict[str, Any]) -> int:  # pragma: no cover - needs the observation
        raise TypeError("a learned policy reads the observation: call policy(obs, info)")


def pretrained_dir() -> Any:
    """The folder of the shipped agents (package data)."""
    return resources.files("splitgym.agents").joinpath("pretrained")


def available_pretrained() -> list[str]:
    """Scenario names of the shipped agents (``alexnet-3g``, ``resnet18-random``, ...)."""
    folder = pretrained_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".zip"))


def load_pretrained(model: str, bandwidth: str = "3g", trust: bool = False) -> LearnedPolicy:
    """A shipped agent as a policy: `model` one of the six, `bandwidth` ``"3g"``,
    ``"4g"``, ``"random"`` (the agent trained on randomised conditions) or a scenario
    preset it was trained on (``"cellular-markov"``, ``"mixed-fleet"``, ``"rush-hour"``;
    every model has one of each). The zip must
    match the SHA-256 in its card (`AgentChecksumError` otherwise) and is loaded
    without unpickling unless `trust`. Only the shipped names are taken: anything else
    (a path, ``..``, a separator) is a `ValueError` naming it."""
    name = f"{model}-{str(bandwidth).lower()}"
    shipped = available_pretrained()
    if name not in shipped:  # a bare name from the package's own list, never a path
        raise ValueError(f"no shipped agent {name!r} (model={model!r}, "
                         f"bandwidth={bandwidth!r}); shipped: {shipped}")
    folder = pretrained_dir()
    zip_path = folder.joinpath(f"{name}.zip")
    with resources.as_file(zip_path) as path:
        card = json.loads(path.with_suffix(".json").read_text())
        expected = card.get("sha256")
        actual = sha256_file(path)
        if expected != actual:
            raise AgentChecksumError(
                f"shipped agent {name!r}: {str(path)!r} has SHA-256 {actual}, its card "
                f"{path.with_suffix('.json').name} says {expected}: the file was changed "
                f"after it was shipped; reinstall splitgym")
        policy = LearnedPolicy.load(path, trust=trust)
    return policy
