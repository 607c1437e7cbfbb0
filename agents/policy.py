"""Learned agents as policies ``policy(obs, info) -> cut``, like the baselines."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from splitgym.baselines.paper import Policy

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


def load_model(path: str | Path, algo: str | None = None) -> tuple[Any, str]:
    """Load an SB3 model zip; the algorithm comes from `algo`, from a ``config.yml`` or
    ``.json`` card beside it, or is tried in the order of `ALGO_NAMES`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent: no model file {str(path)!r}")
    if algo is None:
        algo = _algo_beside(path)
    names = [algo] if algo else list(ALGO_NAMES)
    errors = []
    for name in names:
        try:
            return algo_class(name).load(str(path), device="cpu"), name
        except Exception as exc:  # noqa: BLE001 - try the next algorithm class
            errors.append(f"{name}: {exc}")
    raise ValueError(f"agent: cannot load {str(path)!r} ({'; '.join(errors)})")


def _algo_beside(path: Path) -> str | None:
    card = path.with_suffix(".json")
    if card.is_file():
        return json.loads(card.read_text()).get("algo")
    for cfg in (path.parent / "config.yml", path.parent.parent / "config.yml"):
        if cfg.is_file():
            import yaml

            return (yaml.safe_load(cfg.read_text()) or {}).get("algo")
    return None


class LearnedPolicy(Policy):
    """A trained SB3 agent acting greedily among the feasible cuts.

    The action is the argmax over feasible cuts of the policy's logits (PPO, A2C,
    MaskablePPO) or Q-values (DQN), so an agent trained without masks still never
    picks an infeasible cut.
    """

    name = "learned"

    def __init__(self, model: Any, algo: str = "") -> None:
        self.model = model
        self.algo = algo

    @classmethod
    def load(cls, path: str | Path, algo: str | None = None) -> LearnedPolicy:
        """From a model zip or a run folder (its best, else final, model)."""
        path = Path(path)
        if path.is_dir():
            for name in ("best_model.zip", "model.zip"):
                if (path / name).is_file():
                    path = path / name
                    break
            else:
                raise FileNotFoundError(f"agent: run folder {str(path)!r} has no "
                                        f"best_model.zip or model.zip")
        model, algo = load_model(path, algo)
        return cls(model, algo)

    def scores(self, obs: np.ndarray) -> np.ndarray:
        """Per-cut preference (logits or Q-values) for one env observation."""
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


def load_pretrained(model: str, bandwidth: str = "3g") -> LearnedPolicy:
    """A shipped agent as a policy: `model` one of the six, `bandwidth` ``"3g"``,
    ``"4g"``, ``"random"`` (the agent trained on randomised conditions) or a scenario
    preset it was trained on (``"cellular-markov"``, ``"mixed-fleet"``)."""
    name = f"{model}-{str(bandwidth).lower()}"
    folder = pretrained_dir()
    zip_path = folder.joinpath(f"{name}.zip")
    if not zip_path.is_file():
        raise ValueError(f"no shipped agent {name!r}; shipped: {available_pretrained()}")
    with resources.as_file(zip_path) as path:
        return LearnedPolicy.load(path)
