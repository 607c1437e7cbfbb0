"""Energy-aware policies: Neurosurgeon's energy mode.

Neurosurgeon (Kang et al., "Neurosurgeon: Collaborative Intelligence Between the Cloud
and Mobile Edge", ASPLOS 2017, Section 5) picks the partition point that minimizes the
mobile device's predicted energy per inference instead of its latency: the energy of
the layers run on the device plus the energy of sending the partition's tensor. Here
the prediction is the decision context's per-cut ``edge_energy_j``
(`splitgym.envs.core.energy.EnergyModel.predicted_j`), which the env adds where its
edge devices carry power figures (`splitgym.profiles.devices`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .paper import Policy


class NeurosurgeonEnergy(Policy):
    """The feasible cut of least predicted edge energy per frame,
    ``argmin_i (P_compute - P_idle) * Te(i) + (P_tx_base + P_tx_per_mbps * B) * Tt(i)``
    (ties: the smaller i).

    Known weaknesses, as in the original: it ignores queueing (the link and the cloud's
    backlog), so it can cost makespan, and the radio's tail and the idle draw, which a
    cut does not change frame by frame but the episode's length does: minimizing each
    frame's energy is not minimizing the episode's (`objective="energy"`)."""

    name = "neurosurgeon_energy"

    def act(self, ctx: dict[str, Any]) -> int:
        energy = ctx.get("edge_energy_j")
        if energy is None:
            raise ValueError("neurosurgeon_energy: the decision context has no "
                             "'edge_energy_j' (the env's edge devices have no power "
                             "figures; see splitgym.profiles.devices)")
        return int(np.argmin(np.where(ctx["mask"], energy, np.inf)))
