"""Cuts: which layers run on the edge, and what that costs.

A *cut* is a set of layers run on the edge that is closed under predecessors; the
rest run on the cloud. Its costs are the edge time of its layers, the bytes of
every tensor produced on the edge (or the model input) that some cloud layer reads,
each sent **once**, and the cloud time of the other layers.

The simulator only ever sees a `CutTable`: the K candidate cuts of one model on one
(edge, cloud) device pair, ordered by edge time, index 0 = cloud-only and index K-1 =
edge-only. For a chain model the candidates are its N+1 prefixes (cut index = number
of layers on the edge, as in the paper's eq. (1)); a DAG model's candidates come from
the same `cut_for_edge_set`, so they slot into the simulator unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .schema import INPUT, Profile, ProfileError


@dataclass(frozen=True)
class Cut:
    """One candidate cut."""

    edge_layers: tuple[str, ...]  # layer names run on the edge, in profile order
    edge_s: float  # [s] edge time of the edge part
    transfer_bytes: int  # [bytes] sent from edge to cloud (0 for edge-only)
    cloud_s: float  # [s] cloud time of the cloud part
    offloads: bool  # False for edge-only: the task never touches the link or the cloud

    def transfer_s(self, bandwidth_mbps: float) -> float:
        """Transfer time at `bandwidth_mbps` [s]; inf when offloading at bandwidth 0."""
        return transfer_seconds(self.transfer_bytes, bandwidth_mbps, self.offloads)


def transfer_seconds(n_bytes: float, bandwidth_mbps: float, offloads: bool = True) -> float:
    """``8 * bytes / B`` [s] at B Mbit/s (1 Mbit = 1e6 bit); inf where nothing can flow."""
    if not offloads:
        return 0.0
    if bandwidth_mbps <= 0:
        return math.inf
    return 8.0 * n_bytes / (bandwidth_mbps * 1e6)


class CutTable:
    """The candidate cuts of one model on one (edge device, cloud device) pair.

    Arrays (each shape ``(K,)``, read-only): ``edge_s`` [s], ``transfer_bytes``
    [bytes], ``cloud_s`` [s], ``offloads`` (bool). Index 0 is cloud-only and index
    ``K - 1`` edge-only; indices are ordered by edge time.
    """

    def __init__(self, profile: Profile, edge_device: str, cloud_device: str,
                 cuts: Sequence[Cut], kind: str) -> None:
        if not cuts:
            raise ValueError("a cut table needs at least one cut")
        self.model = profile.model
        self.edge_device = edge_device
        self.cloud_device = cloud_device
        self.kind = kind  # "chain" or "dag"
        self.cuts: tuple[Cut, ...] = tuple(cuts)
        self.edge_s = _ro(np.array([c.edge_s for c in cuts], dtype=np.float64))
        self.transfer_bytes = _ro(np.array([c.transfer_bytes for c in cuts], dtype=np.float64))
        self.cloud_s = _ro(np.array([c.cloud_s for c in cuts], dtype=np.float64))
        self.offloads = _ro(np.array([c.offloads for c in cuts], dtype=bool))
        if self.offloads[-1] or not self.offloads[:-1].all():
            raise ValueError("the last cut, and only it, must be edge-only")

    def __len__(self) -> int:
        return len(self.cuts)

    @property
    def n_cuts(self) -> int:
        """K, the number of candidate cuts (the size of the action space)."""
        return len(self.cuts)

    @property
    def edge_only(self) -> int:
        """Index of the edge-only cut (K - 1)."""
        return len(self.cuts) - 1

    @property
    def whole_edge_s(self) -> float:
        """Whole-model edge time [s] (the edge-only cut's edge time)."""
        return float(self.edge_s[-1])

    @property
    def whole_cloud_s(self) -> float:
        """Whole-model cloud time [s] (the cloud-only cut's cloud time)."""
        return float(self.cloud_s[0])

    def transfer_s(self, bandwidth_mbps: float) -> np.ndarray:
        """Per-cut transfer time at `bandwidth_mbps` [s] (inf where infeasible)."""
        return np.array([c.transfer_s(bandwidth_mbps) for c in self.cuts], dtype=np.float64)

    def feasible(self, bandwidth_mbps: float) -> np.ndarray:
        """Per-cut mask: at bandwidth 0 only edge-only is feasible."""
        if bandwidth_mbps > 0:
            return np.ones(len(self.cuts), dtype=bool)
        return ~self.offloads

    def describe(self) -> list[dict[str, object]]:
        """One row per cut: index, edge layers, edge_s, transfer_bytes, cloud_s."""
        return [{"cut": i, "edge_layers": c.edge_layers, "edge_s": c.edge_s,
                 "transfer_bytes": c.transfer_bytes, "cloud_s": c.cloud_s}
                for i, c in enumerate(self.cuts)]

    def __repr__(self) -> str:
        return (f"CutTable(model={self.model!r}, kind={self.kind!r}, K={len(self.cuts)}, "
                f"edge={self.edge_device!r}, cloud={self.cloud_device!r})")


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def cut_for_edge_set(profile: Profile, edge_layers: Iterable[str], edge_device: str,
                     cloud_device: str) -> Cut:
    """The cost of running `edge_layers` on the edge and the rest on the cloud.

    `edge_layers` must be closed under predecessors. Every tensor (a layer output or
    the model input) produced on the edge and read by at least one cloud layer is
    sent once.
    """
    on_edge = set(edge_layers)
    unknown = on_edge - {lay.name for lay in profile.layers}
    if unknown:
        raise ProfileError(f"cut: unknown layers {sorted(unknown)}")
    edge_ms: list[float] = []
    cloud_ms: list[float] = []
    sent: set[str] = set()
    for lay in profile.layers:
        if lay.name in on_edge:
            missing = [s for s in lay.inputs if s != INPUT and s not in on_edge]
            if missing:
                raise ProfileError(f"cut: layer {lay.name!r} is on the edge but its input "
                                   f"{missing[0]!r} is not (a cut must be closed under "
                                   f"predecessors)")
            edge_ms.append(lay.latency_ms[edge_device])
        else:
            cloud_ms.append(lay.latency_ms[cloud_device])
            sent.update(s for s in lay.inputs if s == INPUT or s in on_edge)
    nbytes = sum(profile.input_bytes if s == INPUT else profile.layers[profile.index(s)]
                 .output_bytes for s in sorted(sent))
    return Cut(edge_layers=tuple(lay.name for lay in profile.layers if lay.name in on_edge),
               edge_s=math.fsum(edge_ms) / 1000.0, transfer_bytes=int(nbytes),
               cloud_s=math.fsum(cloud_ms) / 1000.0, offloads=bool(cloud_ms))


def chain_cut_table(profile: Profile, edge_device: str | None = None,
                    cloud_device: str | None = None) -> CutTable:
    """The N+1 cuts of a chain model: cut i runs layers 1..i on the edge."""
    if not profile.is_chain:
        raise ProfileError(f"model: profile {profile.model!r} is not a chain")
    edge = edge_device or profile.default_edge
    cloud = cloud_device or profile.default_cloud
    profile.check_device(edge, "edge_device")
    profile.check_device(cloud, "cloud_device")
    names = [lay.name for lay in profile.layers]
    cuts = [cut_for_edge_set(profile, names[:i], edge, cloud) for i in range(len(names) + 1)]
    return CutTable(profile, edge, cloud, cuts, kind="chain")


def make_cut_table(profile: Profile, edge_device: str | None = None,
                   cloud_device: str | None = None) -> CutTable:
    """The candidate cut table of any profile (chains: every prefix)."""
    if profile.is_chain:
        return chain_cut_table(profile, edge_device, cloud_device)
    raise ProfileError(
        f"model: profile {profile.model!r} is a DAG; DAG candidate cuts are not "
        f"implemented yet (chain models only in this version)")
