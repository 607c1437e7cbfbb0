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

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .schema import INPUT, Profile, ProfileError


class LayerPrefix(Sequence[str]):
    """The first `n` names of a tuple, without copying them: a chain's N+1 cuts would
    otherwise hold N²/2 names (36 MB at 3,000 layers, 2.8 s at 9,000). It equals, and
    hashes as, the tuple of those names."""

    __slots__ = ("_hash", "_n", "_names")

    def __init__(self, names: tuple[str, ...], n: int) -> None:
        self._names, self._n, self._hash = names, n, None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self._names[:self._n][index]
        if not -self._n <= index < self._n:
            raise IndexError("layer prefix index out of range")
        return self._names[index % self._n]

    def __iter__(self) -> Iterator[str]:
        return itertools.islice(self._names, self._n)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LayerPrefix) and other._names is self._names:
            return other._n == self._n
        if isinstance(other, (tuple, LayerPrefix)):
            return len(other) == self._n and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self))
        return self._hash

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (LayerPrefix, (self._names, self._n))


@dataclass(frozen=True)
class Cut:
    """One candidate cut."""

    # layer names run on the edge, in profile order (a tuple, or for the prefixes of a
    # chain a `LayerPrefix` that equals that tuple)
    edge_layers: tuple[str, ...] | LayerPrefix
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
    names = tuple(lay.name for lay in profile.layers)
    n = len(names)
    edge_s = _prefix_sums_s([lay.latency_ms[edge] for lay in profile.layers])
    cloud_s = _prefix_sums_s([lay.latency_ms[cloud] for lay in reversed(profile.layers)])
    sent = [profile.input_bytes] + [lay.output_bytes for lay in profile.layers]
    # the same costs as `cut_for_edge_set` of each prefix (bit for bit, tested), in time
    # linear in the layers rather than quadratic
    cuts = [Cut(edge_layers=LayerPrefix(names, i), edge_s=edge_s[i],
                transfer_bytes=int(sent[i]) if i < n else 0, cloud_s=cloud_s[n - i],
                offloads=i < n) for i in range(n + 1)]
    return CutTable(profile, edge, cloud, cuts, kind="chain")


def chain_edge_times_s(profile: Profile, device: str) -> list[float]:
    """Edge time [s] of each prefix cut of a chain on `device` (``cut_for_edge_set``'s
    ``edge_s``, in linear time)."""
    profile.check_device(device, "edge_device")
    return _prefix_sums_s([lay.latency_ms[device] for lay in profile.layers])


_ULP_SCALE = 1 << 1074  # every finite double is a whole multiple of 2**-1074


def _prefix_sums_s(values_ms: Sequence[float]) -> list[float]:
    """``math.fsum(values_ms[:i]) / 1000`` for i = 0..n, in linear time: the partial sums
    are kept exactly as integers (multiples of 2**-1074) and each is rounded once, by
    Python's correctly rounded integer division, as `math.fsum` rounds its exact sum."""
    total = 0
    out = [0.0]
    for v in values_ms:
        num, den = float(v).as_integer_ratio()  # den is a power of two <= 2**1074
        total += num << (1074 - (den.bit_length() - 1))
        out.append((total / _ULP_SCALE) / 1000.0)
    return out


class DagCutter:
    """Single Cutting on a DAG: the minimum s-t cut of the DADS / QDMP construction.

    Nodes: source s (the edge side), sink t (the cloud side), the model input and every
    layer. Arcs:

    * ``s -> v`` with capacity ``Tc(v)`` (paid when v runs on the cloud) and
      ``v -> t`` with ``Te(v)`` (paid when v runs on the edge);
    * for a tensor u read by one layer w: ``u -> w`` with ``Tt(u) = 8 d_u / B``; for a
      tensor read by several layers, ``u -> aux(u)`` with ``Tt(u)`` and ``aux(u) -> w``
      (infinite) for each consumer w, so it is paid **once** however many cloud layers
      read it;
    * ``w -> u`` (infinite) for every input u of w, so the edge side is closed under
      predecessors; ``s -> input`` (infinite): the frame is born on the edge.

    A cut's capacity is exactly ``Te + Tt + Tc`` of its edge set, so the minimum cut is
    eq. (1) over every predecessor-closed set. The max-flow is scipy's
    ``scipy.sparse.csgraph.maximum_flow`` (Dinic, compiled; networkx's float max-flow
    gives the same cuts about 20x slower on GoogLeNet). It needs integer capacities, so
    times are scaled to integers, ``2**30`` units over the sum of all finite capacities
    (a resolution of about 1e-9 of that sum). Among minimum cuts the one with the
    smallest edge set (the nodes reachable from s in the residual graph) is returned,
    matching eq. (1)'s "ties: the smaller i" on chains.
    """

    def __init__(self, profile: Profile, edge_device: str | None = None,
                 cloud_device: str | None = None) -> None:
        from scipy.sparse import csr_matrix

        self.profile = profile
        self.edge_device = edge_device or profile.default_edge
        self.cloud_device = cloud_device or profile.default_cloud
        profile.check_device(self.edge_device, "edge_device")
        profile.check_device(self.cloud_device, "cloud_device")
        n = profile.n_layers
        self._names = [lay.name for lay in profile.layers]
        self._te = np.array(profile.latencies_s(self.edge_device))
        self._tc = np.array(profile.latencies_s(self.cloud_device))
        # node ids: 0 = s, 1 = t, 2 = input, 3 + i = layer i, then aux nodes
        consumers: dict[int, list[int]] = {}
        for i, lay in enumerate(profile.layers):
            for src in lay.inputs:
                u = 2 if src == INPUT else 3 + profile.index(src)
                consumers.setdefault(u, []).append(3 + i)
        tensors = sorted(consumers)
        self._bytes = np.array([profile.input_bytes if u == 2 else
                                profile.layers[u - 3].output_bytes for u in tensors],
                               dtype=np.float64)
        arcs: list[tuple[int, int]] = [(0, 3 + i) for i in range(n)]  # Tc
        arcs += [(3 + i, 1) for i in range(n)]  # Te
        infinite: list[tuple[int, int]] = [(0, 2)]
        next_node = 3 + n
        for u in tensors:  # Tt, one arc per tensor
            ws = consumers[u]
            if len(ws) == 1:
                arcs.append((u, ws[0]))
            else:
                arcs.append((u, next_node))
                infinite += [(next_node, w) for w in ws]
                next_node += 1
            infinite += [(w, u) for w in ws]  # closed under predecessors
        self._n_finite = len(arcs)
        arcs += infinite
        self._n_nodes = next_node
        rows = np.array([a for a, _ in arcs], dtype=np.int32)
        cols = np.array([b for _, b in arcs], dtype=np.int32)
        # One CSR skeleton; each solve only rewrites its data (arc k -> slot _slot[k]).
        ids = np.arange(1, len(arcs) + 1, dtype=np.int32)
        skeleton = csr_matrix((ids, (rows, cols)), shape=(next_node, next_node))
        if skeleton.nnz != len(arcs):  # pragma: no cover - arcs are distinct by build
            raise RuntimeError("duplicate arcs in the min-cut graph")
        self._slot = np.empty(len(arcs), dtype=np.int64)
        self._slot[skeleton.data - 1] = np.arange(len(arcs))
        self._cap = skeleton
        self._inf = np.iinfo(np.int32).max // 4
        self._arcs = arcs
        self._out: list[list[tuple[int, int]]] = [[] for _ in range(next_node)]
        self._in: list[list[tuple[int, int]]] = [[] for _ in range(next_node)]
        for k, (a, b) in enumerate(arcs):
            self._out[a].append((k, b))
            self._in[b].append((k, a))
        self._flow_pos: np.ndarray | None = None

    def best_set(self, bandwidth_mbps: float) -> frozenset[str]:
        """The edge set minimising ``Te + Tt + Tc`` (eq. 1) over all predecessor-closed
        sets at `bandwidth_mbps`."""
        from scipy.sparse.csgraph import maximum_flow

        if bandwidth_mbps <= 0:
            return frozenset(self._names)
        tt = 8.0 * self._bytes / (bandwidth_mbps * 1e6)
        finite = np.concatenate([self._tc, self._te, tt])
        total = float(finite.sum())
        scale = (2.0 ** 30) / total if total > 1e-12 else 1.0  # all-zero costs: any cut
        data = np.full(len(self._slot), self._inf, dtype=np.int32)
        data[: self._n_finite] = np.rint(finite * scale)
        cap = self._cap
        cap.data[self._slot] = data
        flow = maximum_flow(cap, 0, 1, method="dinic").flow
        if self._flow_pos is None:  # the flow matrix's layout is fixed by the skeleton
            rows = np.repeat(np.arange(flow.shape[0]), np.diff(flow.indptr)).tolist()
            pos = {(r, c): k for k, (r, c) in enumerate(zip(rows, flow.indices.tolist(),
                                                            strict=True))}
            self._flow_pos = np.array([pos[a] for a in self._arcs], dtype=np.int64)
        f = flow.data[self._flow_pos].tolist()
        d = data.tolist()
        # nodes reachable from s in the residual graph: the smallest minimum edge side
        seen = [False] * self._n_nodes
        seen[0] = True
        stack = [0]
        out, into = self._out, self._in
        while stack:
            u = stack.pop()
            for k, v in out[u]:
                if not seen[v] and d[k] - f[k] > 0:
                    seen[v] = True
                    stack.append(v)
            for k, v in into[u]:
                if not seen[v] and f[k] > 0:
                    seen[v] = True
                    stack.append(v)
        return frozenset(name for i, name in enumerate(self._names) if seen[3 + i])

    def best(self, bandwidth_mbps: float) -> Cut:
        """The optimal cut at `bandwidth_mbps` with its exact (float) costs."""
        return cut_for_edge_set(self.profile, self.best_set(bandwidth_mbps), self.edge_device,
                                self.cloud_device)

    def candidates(self, bandwidths_mbps: Sequence[float] = ()) -> list[Cut]:
        """The candidate cuts of the model, ordered by edge time (see `dag_cut_table`)."""
        grid = [float(b) for b in np.logspace(-2, 3, 41)]
        names = self._names
        sets = {b: self.best_set(b) for b in grid}
        stack = [(lo, hi, 0) for lo, hi in itertools.pairwise(grid)]
        while stack:
            lo, hi, depth = stack.pop()
            if sets[lo] == sets[hi] or depth >= 6:
                continue
            mid = math.sqrt(lo * hi)
            sets[mid] = self.best_set(mid)
            stack += [(lo, mid, depth + 1), (mid, hi, depth + 1)]
        found = {frozenset(), frozenset(names), *sets.values()}
        found.update(self.best_set(float(b)) for b in bandwidths_mbps if b > 0)
        optimal = [self._cut(s) for s in found]
        keys = {c.edge_layers for c in optimal}
        prefixes = self.prefix_cuts()[1:-1]
        kept = optimal + [c for c in (x if isinstance(x, Cut) else x.cut()
                                      for x in _lighter_deeper(optimal + prefixes))
                          if c.edge_layers not in keys]
        index = {name: i for i, name in enumerate(names)}
        kept.sort(key=lambda c: (not c.offloads, c.edge_s, len(c.edge_layers),
                                 [index[x] for x in c.edge_layers]))
        return kept

    def _cut(self, edge_set: frozenset[str]) -> Cut:
        return cut_for_edge_set(self.profile, edge_set, self.edge_device, self.cloud_device)

    def prefix_cuts(self) -> list[PrefixCut]:
        """The costs of every prefix of the topological layer order (i = 0..N layers on
        the edge), as `cut_for_edge_set` gives them, in time linear in the layers: a
        tensor is sent by prefix i when its producer is inside (the input: always) and
        its last consumer outside, so each tensor adds its bytes to one range of i."""
        prof = self.profile
        n = prof.n_layers
        edge_s = _prefix_sums_s([lay.latency_ms[self.edge_device] for lay in prof.layers])
        cloud_s = _prefix_sums_s([lay.latency_ms[self.cloud_device]
                                  for lay in reversed(prof.layers)])
        last: dict[str, int] = {}
        for k, lay in enumerate(prof.layers):
            for src in lay.inputs:
                last[src] = k
        delta = [0] * (n + 2)
        for src, k in last.items():
            start = 0 if src == INPUT else prof.index(src) + 1
            nbytes = prof.input_bytes if src == INPUT else prof.layers[start - 1].output_bytes
            delta[start] += nbytes
            delta[k + 1] -= nbytes
        names = tuple(self._names)
        out, sent = [], 0
        for i in range(n + 1):
            sent += delta[i]
            out.append(PrefixCut(names, i, edge_s[i], sent if i < n else 0, cloud_s[n - i]))
        return out


@dataclass(frozen=True)
class PrefixCut:
    """The costs of the cut running the first `n_edge_layers` layers (in profile order)
    on the edge, without their names (`cut` builds the `Cut`)."""

    names: tuple[str, ...] = field(repr=False)
    n_edge_layers: int
    edge_s: float
    transfer_bytes: int
    cloud_s: float

    def cut(self) -> Cut:
        """The `Cut` (the same as `cut_for_edge_set` of these layers)."""
        n = self.n_edge_layers
        return Cut(edge_layers=LayerPrefix(self.names, n), edge_s=self.edge_s,
                   transfer_bytes=int(self.transfer_bytes), cloud_s=self.cloud_s,
                   offloads=n < len(self.names))


def _n_layers(c: Cut | PrefixCut) -> int:
    return c.n_edge_layers if isinstance(c, PrefixCut) else len(c.edge_layers)


def _lighter_deeper(cuts: Sequence[Cut | PrefixCut]) -> list[Cut | PrefixCut]:
    """The cuts that send fewer bytes than every cut with less or equal edge time (the
    lower-left frontier of edge time against bytes sent)."""
    keep = []
    best_bytes = math.inf
    for c in sorted(cuts, key=lambda c: (c.edge_s, c.transfer_bytes, _n_layers(c))):
        if c.transfer_bytes < best_bytes:
            keep.append(c)
            best_bytes = c.transfer_bytes
    return keep


def dag_cut_table(profile: Profile, edge_device: str | None = None,
                  cloud_device: str | None = None,
                  bandwidths_mbps: Sequence[float] = ()) -> CutTable:
    """The candidate cuts of a DAG model: its action set, ordered by edge time.

    1. The distinct optimal cuts (`DagCutter`) over a parametric sweep: 41 bandwidths
       log-spaced over 0.01..1000 Mbit/s (8 per decade), bisected geometrically (up to 6
       times) between neighbours whose optimal cuts differ, plus `bandwidths_mbps`, so
       that Single Cutting is exact there.
    2. Cloud-only and edge-only.
    3. Beyond the paper: the prefixes of the profile's topological layer order (the
       Neurosurgeon-style cut points of a DAG) that send fewer bytes than every cut with
       less edge time: the block boundaries where the DAG narrows. With float32 tensors
       step 1 alone often finds only cloud-only and edge-only; these give a scheduler
       (and S-Q's deeper-cut scan) real choices, as a chain's prefixes do.
    """
    cutter = DagCutter(profile, edge_device, cloud_device)
    return CutTable(profile, cutter.edge_device, cutter.cloud_device,
                    cutter.candidates(bandwidths_mbps), kind="dag")


def make_cut_table(profile: Profile, edge_device: str | None = None,
                   cloud_device: str | None = None,
                   bandwidths_mbps: Sequence[float] = ()) -> CutTable:
    """The candidate cut table of a profile: every prefix of a chain (the paper's
    enumeration), the parametric min-cut candidates of a DAG (`DagCutter`), whose sweep
    also includes `bandwidths_mbps` so that Single Cutting is exact there."""
    if profile.is_chain:
        return chain_cut_table(profile, edge_device, cloud_device)
    return dag_cut_table(profile, edge_device, cloud_device, bandwidths_mbps)
