"""The `paper-fit` calibration: per-layer-class factors fitted to the paper's Table 1.

The default devices (`rpi3b`, `paper-cloud`) scale the host's per-layer times by one
factor per model, so only the whole-model times match the paper (edge-only and 4G
cloud-only). Where a run cuts a model in the middle, its costs follow the *host's* shape,
and the paper's Raspberry Pi 3B per-layer times are not public. This module fits a
second, clearly labelled pair of devices, ``rpi3b-paperfit`` and
``paper-cloud-paperfit``: the default device's per-layer times times one factor per
layer class (``conv``, ``dense``, ``other``; see `layer_class`) on the edge and on the
cloud, chosen by least squares in log space (`scipy.optimize.least_squares`) so that
the Table 1 cells that a static cut can reach (`reachable`) come out as the paper's.

The fit predicts a cell from the static-cut estimate of a makespan, a three-stage flow
shop with F frames per edge, E edges on their own links and one cloud::

    est(cut) = max(F Te + Tt + Tc,  Te + F Tt + Tc,  Te + Tt + E F Tc)

(edge-only: ``F Te``). Single Cutting's cut is eq. (1)'s; the fit tries every pair of
cuts for the 3G and 4G S-C cells, forces eq. (1) to pick them by a margin (hinge
residuals) and keeps the pair with the least cost. A small ridge term keeps each factor
near 1 where the cells do not pin it. Everything is deterministic and takes well under
a second per model.

Regenerate the shipped devices (rewrites the profiles in place)::

    python -m splitgym.profiles.paperfit --write profiles
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cuts import make_cut_table
from .schema import INPUT, Profile, load_profile

CLASSES: tuple[str, ...] = ("conv", "dense", "other")
EDGE_FIT = "rpi3b-paperfit"
CLOUD_FIT = "paper-cloud-paperfit"
#: calibration name -> (edge device, cloud device)
CALIBRATIONS: dict[str, tuple[str, str]] = {
    "default": ("rpi3b", "paper-cloud"),
    "paper-fit": (EDGE_FIT, CLOUD_FIT),
}
ESTIMATE = ("max(F*Te + Tt + Tc, Te + F*Tt + Tc, Te + Tt + E*F*Tc) of the cut "
            "(edge-only: F*Te)")


def layer_class(op: str | None) -> str:
    """``conv`` (any convolution), ``dense`` (linear / matmul) or ``other`` (pooling,
    additions, ...), from the first op of a (fused) layer."""
    first = (op or "").split("+")[0].lower()
    if first.startswith("conv"):
        return "conv"
    if first in ("linear", "matmul", "addmm", "bmm"):
        return "dense"
    return "other"


@dataclass(frozen=True)
class Cell:
    """One Table 1 cell the fit aims at."""

    label: str  # e.g. "3G S-C"
    policy: str  # "edge_only", "cloud_only", "single_cut" or "fixed"
    bandwidth_mbps: float  # [Mbit/s]
    target_s: float  # [s] the paper's total delay
    cut: int | None = None  # "fixed": the number of layers (in profile order) on the edge


@dataclass
class Fit:
    """A fitted calibration of one model."""

    model: str
    edge_factors: dict[str, float]  # class -> multiplier of the base edge device
    cloud_factors: dict[str, float]  # class -> multiplier of the base cloud device
    cells: list[dict[str, Any]]  # label, paper_s, fit_s, residual (log), cut, bytes
    excluded: list[dict[str, str]] = field(default_factory=list)  # label, reason
    cost: float = 0.0

    def max_abs_residual(self) -> float:
        """The largest |log(fit / paper)| over the fitted cells."""
        return max((abs(c["residual"]) for c in self.cells), default=0.0)


class CandidateCuts:
    """Every prefix of the layer order (a DAG: also its candidate cut table) as per-class
    time sums: ``E[s, k]`` edge time [s] of class k in the edge set s on `edge`,
    ``C[s, k]`` cloud time [s] of class k outside it on `cloud`, ``d[s]`` bytes sent,
    ``off[s]`` whether it offloads, ``labels[s]`` its last edge layer."""

    def __init__(self, profile: Profile, edge: str, cloud: str) -> None:
        names = [lay.name for lay in profile.layers]
        sets: list[frozenset[str]] = [frozenset(names[:i]) for i in range(len(names) + 1)]
        if not profile.is_chain:  # the DAG's candidate table plus every prefix
            table = make_cut_table(profile, edge, cloud, bandwidths_mbps=(1.1, 5.85))
            sets += [frozenset(c.edge_layers) for c in table.cuts]
        seen: dict[frozenset[str], None] = {}
        for s in sets:
            seen.setdefault(s, None)
        self.sets = list(seen)
        self.labels: list[str] = []
        k = {c: j for j, c in enumerate(CLASSES)}
        E = np.zeros((len(self.sets), len(CLASSES)))
        C = np.zeros_like(E)
        d = np.zeros(len(self.sets))
        off = np.zeros(len(self.sets), dtype=bool)
        consumers: dict[str, list[str]] = {}
        for lay in profile.layers:
            for src in lay.inputs:
                consumers.setdefault(src, []).append(lay.name)
        size = {lay.name: lay.output_bytes for lay in profile.layers}
        size[INPUT] = profile.input_bytes
        for i, s in enumerate(self.sets):
            sent: set[str] = set()
            for lay in profile.layers:
                j = k[layer_class(lay.op)]
                if lay.name in s:
                    E[i, j] += lay.latency_ms[edge] / 1000.0
                else:
                    C[i, j] += lay.latency_ms[cloud] / 1000.0
                    sent.update(x for x in lay.inputs if x == INPUT or x in s)
            d[i] = sum(size[x] for x in sent)
            off[i] = len(s) < len(names)
            last = [n for n in names if n in s]
            self.labels.append(last[-1] if last else "(cloud-only)")
        self.E, self.C, self.d, self.off = E, C, d, off
        self.edge_only = int(np.flatnonzero(~off)[0])
        self.cloud_only = int(np.flatnonzero(E.sum(1) == 0)[0])


def _name(S: CandidateCuts, i: int) -> str:
    """'cloud-only', 'edge-only' or 'the cut after <layer>'."""
    if not S.off[i]:
        return "edge-only"
    if S.E[i].sum() == 0 and S.labels[i] == "(cloud-only)":
        return "cloud-only"
    return f"the cut after {S.labels[i]}"


def _given_cut(cell: Cell, S: CandidateCuts) -> int | None:
    """The cut a Table 1 cell's policy fixes (E-O, C-O, a fixed cut); None for S-C,
    whose cut depends on the factors."""
    if cell.policy == "edge_only":
        return S.edge_only
    if cell.policy == "cloud_only":
        return S.cloud_only
    if cell.policy == "fixed":
        return int(cell.cut or 0)
    return None


def static_estimate(te: np.ndarray, tt: np.ndarray, tc: np.ndarray, off: np.ndarray, frames: int,
         n_edges: int) -> np.ndarray:
    """The static-cut makespan estimate of every cut [s] (see the module docstring)."""
    flow = np.maximum.reduce([frames * te + tt + tc, te + frames * tt + tc,
                              te + tt + n_edges * frames * tc])
    return np.where(off, flow, frames * te)


def reachable(profile: Profile, cell: Cell, *, edge: str, cloud: str, n_edges: int = 5,
              frames: int = 30, factor_bounds: tuple[float, float] = (0.25, 4.0),
              tol: float = 0.10) -> tuple[bool, str]:
    """Can any static cut come within `tol` of the cell under *some* class factors in
    `factor_bounds` (the whole-model times held)? A necessary condition, from the
    tensor sizes (the link) and the least share of the whole model a cut's edge and
    cloud parts can take. Returns (reachable, one-sentence reason)."""
    if cell.policy != "single_cut":
        return True, ""
    S = CandidateCuts(profile, edge, cloud)
    lo, hi = factor_bounds
    best = (math.inf, -1)
    whole_e, whole_c = S.E[S.edge_only].sum(), S.C[S.cloud_only].sum()
    vertices = [np.array(v) for v in itertools.product((lo, hi), repeat=len(CLASSES))]
    for i in range(len(S.sets)):
        share_e = min(float(S.E[i] @ v) / float(S.E[S.edge_only] @ v) for v in vertices)
        share_c = min(float(S.C[i] @ v) / float(S.C[S.cloud_only] @ v) for v in vertices)
        tt = 8.0 * S.d[i] / (cell.bandwidth_mbps * 1e6) if S.off[i] else 0.0
        bound = max(frames * whole_e * share_e, frames * tt,
                    n_edges * frames * whole_c * share_c if S.off[i] else 0.0)
        best = min(best, (bound, i))
    bound, i = best
    if bound <= (1 + tol) * cell.target_s:
        return True, ""
    return False, (f"no static cut can come within {tol:.0%} of {cell.target_s} s: the least "
                   f"bound, {bound:.1f} s, is {_name(S, i)} ({S.d[i]:.0f} bytes "
                   f"sent), with the edge and cloud parts at their smallest share of the "
                   f"whole model for any class factors in {lo:g}-{hi:g}x")


def paper_cells(model: str) -> list[Cell]:
    """The paper's Table 1 cells of `model` that a static calibration speaks to: E-O, C-O
    and S-C at 3G and 4G (E-O once: it does not depend on the network)."""
    from splitgym.experiments import paper

    cells = [Cell("E-O", "edge_only", paper.NETWORKS["3g"],
                  float(paper.TABLE1_S[(model, "3g")]["edge_only"]))]
    for net, mbps in paper.NETWORKS.items():
        ref = paper.TABLE1_S[(model, net)]
        cells.append(Cell(f"{net.upper()} C-O", "cloud_only", mbps, float(ref["cloud_only"])))
        cells.append(Cell(f"{net.upper()} S-C", "single_cut", mbps, float(ref["single_cut"])))
    return cells


def fit_factors(profile: Profile, cells: Sequence[Cell], *, edge: str, cloud: str,
                n_edges: int = 5, frames: int = 30,
                factor_bounds: tuple[float, float] = (0.25, 4.0), ridge: float = 0.05,
                margin: float = 0.02, anchor_weight: float = 3.0,
                exclude_unreachable: bool = True, tol: float = 0.10,
                drop_unreached: bool = True) -> Fit:
    """Fit per-class factors of the `edge` and `cloud` devices to `cells`.

    Residuals: ``log(est / target)`` per cell (times `anchor_weight` for E-O and C-O, the
    whole-model anchors of the default calibration), ``ridge * log(factor)`` per factor, and
    for each S-C cell ``10 * max(0, (1 + margin) * total(c) - total(j)) / total(c)`` for
    every other cut j, which makes eq. (1) pick the cut c assigned to the cell. Every
    assignment of cuts to the S-C cells that the link allows is tried. Cells no static
    cut can reach (`reachable`) are left out first; with `drop_unreached`, an S-C cell the
    best fit still leaves more than `tol` off (eq. (1) cannot be made to pick a cut near
    it) is left out too, with the reason, and the rest refitted, so that it does not
    bend the others.
    """
    from scipy.optimize import least_squares

    S = CandidateCuts(profile, edge, cloud)
    used = list(cells)
    excluded: list[dict[str, str]] = []
    if exclude_unreachable:
        used = []
        for cell in cells:
            ok, why = reachable(profile, cell, edge=edge, cloud=cloud, n_edges=n_edges,
                                frames=frames, factor_bounds=factor_bounds)
            if ok:
                used.append(cell)
            else:
                excluded.append({"cell": cell.label, "reason": why})
    # parameters: log-factors of the classes present on each side
    e_cls = [j for j in range(len(CLASSES)) if S.E[S.edge_only, j] > 0]
    c_cls = [j for j in range(len(CLASSES)) if S.C[S.cloud_only, j] > 0]
    n_e = len(e_cls)
    lo, hi = math.log(factor_bounds[0]), math.log(factor_bounds[1])

    def factors(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ge, gc = np.ones(len(CLASSES)), np.ones(len(CLASSES))
        ge[e_cls] = np.exp(x[:n_e])
        gc[c_cls] = np.exp(x[n_e:])
        return ge, gc

    def costs(x: np.ndarray, mbps: float) -> tuple[np.ndarray, ...]:
        ge, gc = factors(x)
        te, tc = S.E @ ge, S.C @ gc
        tt = np.where(S.off, 8.0 * S.d / (mbps * 1e6), 0.0)
        return te, tt, tc

    sc_cells = [c for c in used if c.policy == "single_cut"]
    choices = []
    for cell in sc_cells:  # cuts whose link time alone does not rule them out
        tt = np.where(S.off, frames * 8.0 * S.d / (cell.bandwidth_mbps * 1e6), 0.0)
        choices.append([i for i in range(len(S.sets)) if tt[i] <= 1.5 * cell.target_s])

    def residuals(x: np.ndarray, assign: Sequence[int]) -> np.ndarray:
        out = []
        k = 0
        for cell in used:
            te, tt, tc = costs(x, cell.bandwidth_mbps)
            est = static_estimate(te, tt, tc, S.off, frames, n_edges)
            i = _given_cut(cell, S)
            if i is None:  # S-C: the cut assigned to this cell
                i = assign[k]
                k += 1
                total = te + tt + tc
                hinge = np.maximum(0.0, (1 + margin) * total[i] - total) / total[i]
                hinge[i] = 0.0
                out.append(10.0 * hinge)
            w = anchor_weight if cell.policy in ("edge_only", "cloud_only") else 1.0
            out.append(np.array([w * math.log(est[i] / cell.target_s)]))
        out.append(ridge * x)
        return np.concatenate(out)

    x0 = np.zeros(n_e + len(c_cls))
    best: tuple[float, np.ndarray, tuple[int, ...]] | None = None
    for assign in itertools.product(*choices):
        r = least_squares(residuals, x0, bounds=(lo, hi), args=(assign,), method="trf",
                          xtol=1e-10, ftol=1e-10)
        if best is None or r.cost < best[0] - 1e-12:
            best = (float(r.cost), r.x, assign)
    assert best is not None
    cost, x, assign = best
    ge, gc = factors(x)
    rows = []
    for cell in used:
        te, tt, tc = costs(x, cell.bandwidth_mbps)
        est = static_estimate(te, tt, tc, S.off, frames, n_edges)
        i = _given_cut(cell, S)
        if i is None:  # report the cut eq. (1) picks under the fitted factors
            i = int(np.argmin(te + tt + tc))
        rows.append({"cell": cell.label, "paper_s": cell.target_s,
                     "fit_s": round(float(est[i]), 4),
                     "residual": round(math.log(est[i] / cell.target_s), 5),
                     "cut": S.labels[i], "bytes": int(S.d[i])})
    far = [cell for cell, row in zip(used, rows, strict=True)
           if cell.policy == "single_cut" and abs(row["residual"]) > math.log(1 + tol)]
    if drop_unreached and far:
        for cell in far:
            te, tt, tc = costs(x, cell.bandwidth_mbps)
            total = te + tt + tc
            est = static_estimate(te, tt, tc, S.off, frames, n_edges)
            i = int(np.argmin(total))
            near = np.flatnonzero(np.abs(est / cell.target_s - 1) <= tol)
            why = (f"the best fit leaves it at {est[i]:.1f} s: eq. (1) picks {_name(S, i)} "
                   f"(Te+Tt+Tc {total[i]:.2f} s per task)")
            if near.size:
                j = int(near[np.argmin(total[near])])
                why += (f", while the cheapest cut within {tol:.0%} of {cell.target_s} s "
                        f"({_name(S, j)}, {est[j]:.1f} s) costs {total[j]:.2f} s per "
                        f"task, so no class factors in the bounds make eq. (1) pick it")
            excluded.append({"cell": cell.label, "reason": why})
        kept = [c for c in cells if c not in far
                and all(c.label != e["cell"] for e in excluded)]
        again = fit_factors(profile, kept, edge=edge, cloud=cloud, n_edges=n_edges,
                            frames=frames, factor_bounds=factor_bounds, ridge=ridge,
                            margin=margin, anchor_weight=anchor_weight,
                            exclude_unreachable=False, tol=tol, drop_unreached=False)
        again.excluded = excluded + again.excluded
        return again
    return Fit(profile.model, {c: round(float(ge[j]), 6) for j, c in enumerate(CLASSES)},
               {c: round(float(gc[j]), 6) for j, c in enumerate(CLASSES)}, rows, excluded,
               cost)


def with_fitted_devices(profile: Profile, fit: Fit, *, edge: str = "rpi3b",
                        cloud: str = "paper-cloud") -> Profile:
    """`profile` plus (or with new) ``rpi3b-paperfit`` and ``paper-cloud-paperfit``: the
    base devices' per-layer times times the fitted class factors, the fit in
    `provenance`."""
    doc = profile.to_dict()
    doc["devices"][EDGE_FIT] = {"description": (
        "Raspberry Pi 3B, paper-fit calibration: rpi3b per-layer times x one factor per "
        "layer class (conv, dense, other), fitted to the paper's Table 1; not measured")}
    doc["devices"][CLOUD_FIT] = {"description": (
        "the paper's cloud, paper-fit calibration: paper-cloud per-layer times x one factor "
        "per layer class, fitted with rpi3b-paperfit; not measured")}
    for fitted, base in ((EDGE_FIT, edge), (CLOUD_FIT, cloud)):  # the same hardware:
        for block in ("power", "radio", "codecs"):  # its power and codec figures
            if block in doc["devices"][base]:
                doc["devices"][fitted][block] = doc["devices"][base][block]
    for lay in doc["layers"]:
        cls = layer_class(lay.get("op"))
        lay["latency_ms"][EDGE_FIT] = round(lay["latency_ms"][edge] * fit.edge_factors[cls], 6)
        lay["latency_ms"][CLOUD_FIT] = round(lay["latency_ms"][cloud] * fit.cloud_factors[cls],
                                             6)
    method = ("least squares in log space (scipy.optimize.least_squares) of log(estimate / "
              "paper) over the paper's Table 1 cells a static cut can reach (E-O, C-O, S-C at "
              "3G and 4G), estimate = " + ESTIMATE + " with F = 30 frames, E = 5 edges; eq. "
              "(1) forced to pick each S-C cell's cut by a 2% margin; ridge 0.05 on each "
              "log-factor; factors bounded to 0.25-4x")
    devs = doc.setdefault("provenance", {}).setdefault("devices", {})
    devs[EDGE_FIT] = {"method": f"{edge} per-layer times x the factor of the layer's class; "
                      + method, "base_device": edge, "factors": fit.edge_factors,
                      "fit": {"cells": fit.cells, "excluded": fit.excluded,
                              "cost": round(fit.cost, 8)}}
    devs[CLOUD_FIT] = {"method": f"{cloud} per-layer times x the factor of the layer's "
                       f"class, fitted jointly with {EDGE_FIT} (see its provenance)",
                       "base_device": cloud, "factors": fit.cloud_factors}
    return Profile.from_dict(doc)


def fit_model(name: str | Profile) -> Fit:
    """The paper-fit of one of the paper's six models, from its default devices."""
    p = load_profile(name)
    edge, cloud = CALIBRATIONS["default"]
    return fit_factors(p, paper_cells(p.model), edge=edge, cloud=cloud)


def fit_provenance(profile: Profile) -> Mapping[str, Any]:
    """The stored fit of a profile's ``rpi3b-paperfit`` device (factors, cells, excluded)."""
    devs = (profile.provenance or {}).get("devices", {})
    if EDGE_FIT not in devs:
        return {}
    e, c = devs[EDGE_FIT], devs.get(CLOUD_FIT, {})
    return {"edge_factors": dict(e["factors"]), "cloud_factors": dict(c.get("factors", {})),
            "cells": [dict(x) for x in e["fit"]["cells"]],
            "excluded": [dict(x) for x in e["fit"]["excluded"]]}


def main(argv: Sequence[str] | None = None) -> int:
    """Fit and (with --write DIR) store the paper-fit devices of the six models."""
    from splitgym.experiments import paper

    ap = argparse.ArgumentParser(prog="python -m splitgym.profiles.paperfit",
                                 description="Fit the paper-fit calibration to Table 1.")
    ap.add_argument("--write", default=None, metavar="DIR",
                    help="rewrite DIR/<model>.json with the fitted devices")
    ap.add_argument("--models", default=",".join(paper.MODELS))
    args = ap.parse_args(argv)
    for name in args.models.split(","):
        fit = fit_model(name)
        print(f"{name}: edge {fit.edge_factors} cloud {fit.cloud_factors}")
        for row in fit.cells:
            print(f"  {row['cell']:7s} paper {row['paper_s']:6.1f} fit {row['fit_s']:6.1f} "
                  f"({row['residual']:+.3f}) cut {row['cut']} {row['bytes']} B")
        for row in fit.excluded:
            print(f"  {row['cell']:7s} excluded: {row['reason']}")
        if args.write:
            path = Path(args.write) / f"{name}.json"
            with_fitted_devices(load_profile(path), fit).save(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
