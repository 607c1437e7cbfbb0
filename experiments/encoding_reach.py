"""Which of the paper's Table 1 S-C cells a static cut can reach under a transfer
encoding (docs/model.md, "Transfer encodings and the unreachable cells").

The same necessary condition as the audit's (`splitgym.experiments.audit`): for F
frames per edge and E edges a static cut's makespan is at least
``max(F*Te, F*Tt, E*F*Tc)``, over every cut the audit considers (every prefix of the
layer order, a DAG's candidate table too), here with each cut's intermediate tensors
encoded and its encode / decode times added (`splitgym.profiles.codecs`). A cell is
reachable when the least such bound is within 10% of the paper's value.

    python -m splitgym.experiments.encoding_reach
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitgym.profiles.codecs import codec_costs, encoded_bytes
from splitgym.profiles.paperfit import CandidateCuts
from splitgym.profiles.schema import INPUT, load_profile

from . import paper

#: How close to the paper's value the least bound must come [fraction] (the audit's).
TOL = 0.10


@dataclass(frozen=True)
class Bound:
    """The least static-cut bound of one cell under one encoding."""

    model: str
    network: str
    encoding: str
    paper_s: float
    bound_s: float
    label: str  # the cut's last edge layer
    sent_bytes: int

    @property
    def reachable(self) -> bool:
        """Whether the bound is within `TOL` of the paper's value."""
        return self.bound_s <= (1 + TOL) * self.paper_s


def least_bound(model: str, network: str, encoding: str, edge: str = "rpi3b",
                cloud: str = "paper-cloud", frames: int = 30, n_edges: int = 5) -> Bound:
    """The least ``max(F*Te, F*Tt, E*F*Tc)`` over the candidate cuts of `model` at the
    paper's `network` (``"3g"``, ``"4g"``) with tensors sent under `encoding`."""
    profile = load_profile(model)
    mbps = paper.NETWORKS[network]
    S = CandidateCuts(profile, edge, cloud)
    size = {lay.name: lay.output_bytes for lay in profile.layers}
    if encoding != "float32":
        enc, dec = codec_costs(profile, edge, encoding), codec_costs(profile, cloud, encoding)
    best = (np.inf, "", 0)
    for i, s in enumerate(S.sets):
        sent: set[str] = set()
        for lay in profile.layers:
            if lay.name not in s:
                sent.update(x for x in lay.inputs if x == INPUT or x in s)
        tensors = [size[x] for x in sorted(sent) if x != INPUT]
        te, tc = float(S.E[i].sum()), float(S.C[i].sum())
        nbytes = int(S.d[i])
        if encoding != "float32" and tensors:
            nbytes = (profile.input_bytes if INPUT in sent else 0) + sum(
                encoded_bytes(b, encoding) for b in tensors)
            te += sum(enc["encode_fixed_s"] + enc["encode_s_per_mb"] * b / 1e6
                      for b in tensors)
            tc += sum(dec["decode_fixed_s"] + dec["decode_s_per_mb"] * b / 1e6
                      for b in tensors)
        tt = 8.0 * nbytes / (mbps * 1e6)
        bound = max(frames * te, frames * tt, n_edges * frames * tc) if S.off[i] else \
            frames * te
        if bound < best[0]:
            best = (bound, S.labels[i], nbytes)
    target = float(paper.TABLE1_S[(model, network)]["single_cut"])
    return Bound(model, network, encoding, target, best[0], best[1], best[2])


def main() -> int:
    """Print every S-C cell's least bound under each encoding."""
    for model in paper.MODELS:
        for net in paper.NETWORKS:
            row = [least_bound(model, net, e) for e in ("float32", "float16", "int8")]
            cells = "; ".join(f"{b.encoding} {b.bound_s:.1f} s at {b.label}"
                              f"{'' if b.reachable else ' (unreachable)'}" for b in row)
            print(f"{model}-{net.upper()} S-C {row[0].paper_s:g} s: {cells}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
