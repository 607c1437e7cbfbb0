"""Scheduling policies: ``make_policy(name, **kwargs)`` returns ``policy(obs, info) -> cut``.

Names: ``edge_only``, ``cloud_only``, ``fixed`` (``cut=i``), ``single_cut`` (the
paper's eq. 1), ``queue_aware`` (the paper's Scheduling with Queuing).
"""

from __future__ import annotations

from typing import Any

from .paper import (
    CloudOnly,
    EdgeOnly,
    Fixed,
    Policy,
    QueueAware,
    SingleCut,
    single_cut_index,
)

POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (EdgeOnly, CloudOnly, SingleCut, QueueAware, Fixed)
}

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


__all__ = [
    "PAPER_POLICIES", "POLICIES", "CloudOnly", "EdgeOnly", "Fixed", "Policy", "QueueAware",
    "SingleCut", "make_policy", "single_cut_index",
]
