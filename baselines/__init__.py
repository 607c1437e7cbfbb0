"""Scheduling policies: ``make_policy(name, **kwargs)`` returns ``policy(obs, info) -> cut``.

The paper's: ``edge_only``, ``cloud_only``, ``fixed`` (``cut=i``), ``single_cut``
(eq. 1), ``queue_aware`` (Scheduling with Queuing). Yardsticks beyond the paper:
``sq_link`` (S-Q counting the edge's link backlog, `splitgym.baselines.paper`),
``greedy_eft``, ``sq_fill``, ``sq_lookahead``, the oracle ``best_static``
(`splitgym.baselines.yardsticks`) and the offline planner ``best_known``
(`splitgym.baselines.planner`: the best schedule found for the episode, never worse
than any heuristic); Neurosurgeon's energy mode ``neurosurgeon_energy`` (the cut of
least predicted edge energy, `splitgym.baselines.energy`); `makespan_lower_bound`
(`splitgym.baselines.bounds`) is the LP bound no policy can beat.
"""

from __future__ import annotations

from typing import Any

from .energy import NeurosurgeonEnergy
from .mpc import Mpc
from .paper import (
    CloudOnly,
    EdgeOnly,
    Fixed,
    Policy,
    QueueAware,
    QueueAwareLink,
    SingleCut,
    single_cut_index,
)
from .planner import BestKnown
from .yardsticks import BestStatic, GreedyEFT, QueueFill, QueueLookahead  # noqa: E402

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (EdgeOnly, CloudOnly, SingleCut, QueueAware, Fixed,
                              QueueAwareLink, GreedyEFT, QueueFill, QueueLookahead,
                              BestStatic, BestKnown, Mpc, NeurosurgeonEnergy)
}

#: The yardsticks beyond the paper.
YARDSTICKS: tuple[str, ...] = ("best_static", "greedy_eft", "sq_link", "sq_fill",
                               "sq_lookahead")

#: The paper's four policies, in Table 1's order.
PAPER_POLICIES: tuple[str, ...] = ("cloud_only", "edge_only", "single_cut", "queue_aware")


def make_policy(name: str, **kwargs: Any) -> Policy:
    """Build a policy by name; ``make_policy("fixed", cut=3)``."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise ValueError(f"policy={name!r}: unknown policy; known: {sorted(POLICIES)}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"policy={name!r}: bad arguments {kwargs!r} ({exc})") from None


def makespan_lower_bound(*args: Any, **kwargs: Any) -> float:
    """The LP lower bound on the makespan (`splitgym.baselines.bounds`)."""
    from .bounds import makespan_lower_bound as bound

    return bound(*args, **kwargs)


def episode_lower_bound(sim: Any) -> float:
    """The LP lower bound of a simulator's current episode (`splitgym.baselines.bounds`)."""
    from .bounds import episode_lower_bound as bound

    return bound(sim)


def seed_lower_bounds(env: Any, seeds: Any) -> list[float]:
    """The LP lower bound of each seed's episode of `env` (`splitgym.baselines.bounds`)."""
    from .bounds import seed_lower_bounds as bounds

    return bounds(env, seeds)


__all__ = [
    "PAPER_POLICIES", "POLICIES", "YARDSTICKS", "BestKnown", "BestStatic", "CloudOnly",
    "EdgeOnly", "Fixed", "GreedyEFT", "NeurosurgeonEnergy", "Policy", "QueueAware",
    "QueueAwareLink", "QueueFill",
    "QueueLookahead", "SingleCut",
    "episode_lower_bound", "make_policy", "makespan_lower_bound", "seed_lower_bounds",
    "single_cut_index",
]
