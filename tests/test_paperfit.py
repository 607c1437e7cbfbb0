"""The paper-fit calibration: the fit recovers known factors, and the shipped devices
carry it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splitgym.profiles.paperfit import (
    CALIBRATIONS,
    CLOUD_FIT,
    EDGE_FIT,
    CandidateCuts,
    Cell,
    fit_factors,
    fit_model,
    fit_provenance,
    layer_class,
    reachable,
    static_estimate,
)
from splitgym.profiles.schema import load_profile

F, E = 30, 5


def _toy() -> dict:
    # A chain of two convs and two dense layers; base devices "edge" and "cloud".
    def lay(name, src, op, out, e_ms, c_ms):
        return {"name": name, "inputs": [src], "op": op, "output_bytes": out,
                "latency_ms": {"edge": e_ms, "cloud": c_ms}}

    return {"format": "splitgym-profile/1", "model": "toyfit", "input_bytes": 200_000,
            "devices": {"edge": {"description": "toy"}, "cloud": {"description": "toy"}},
            "default_edge": "edge", "default_cloud": "cloud",
            "layers": [lay("c1", "input", "conv2d+relu", 20_000, 400.0, 400.0),
                       lay("c2", "c1", "conv2d", 8_000, 300.0, 300.0),
                       lay("d1", "c2", "linear+relu", 2_000, 600.0, 200.0),
                       lay("d2", "d1", "linear", 400, 200.0, 100.0)]}


def _target(prof, cut, mbps, ge, gc):
    """The estimate of `cut` under true class factors (the fit's own model)."""
    S = CandidateCuts(prof, "edge", "cloud")
    k = {"conv": 0, "dense": 1, "other": 2}
    ve = np.array([ge.get(c, 1.0) for c in k])
    vc = np.array([gc.get(c, 1.0) for c in k])
    te, tc = S.E @ ve, S.C @ vc
    tt = np.where(S.off, 8.0 * S.d / (mbps * 1e6), 0.0)
    est = static_estimate(te, tt, tc, S.off, F, E)
    v = int(np.argmin(te + tt + tc))
    return float(est[cut if cut is not None else v]), v


def test_layer_class__from_the_first_fused_op():
    assert layer_class("conv2d+batchnorm2d+leakyrelu") == "conv"
    assert layer_class("linear+relu+dropout") == "dense"
    assert layer_class("maxpool2d") == layer_class("add") == layer_class(None) == "other"


def test_fit_factors__recovers_known_factors_on_a_toy_profile():
    prof = load_profile(_toy())
    ge, gc = {"conv": 1.6, "dense": 0.7}, {"conv": 0.8, "dense": 1.5}
    fast = 50.0  # Mbit/s: no cut is link-bound
    cells = []
    # True times: edge Te(1) = 0.64, Te(3) = 1.54, whole 1.68 s; cloud Tc(0) = 1.01,
    # Tc(1) = 0.69, Tc(3) = 0.15 s. E-O pins the edge's whole model, C-O (cloud-bound at
    # 50 Mbit/s: E*Tc(0) = 5.05 s per frame) the cloud's; cut 3 (edge-bound: Te(3) = 1.54
    # > E*Tc(3) = 0.75) pins conv + d1 on the edge; cut 1 (cloud-bound: E*Tc(1) = 3.45 >
    # Te(1) = 0.64) pins c2 + dense on the cloud: four equations, four factors.
    for name, pol, cut in (("E-O", "edge_only", 4), ("C-O", "cloud_only", 0),
                           ("cut 3", "fixed", 3), ("cut 1", "fixed", 1)):
        target, _ = _target(prof, cut, fast, ge, gc)
        cells.append(Cell(name, pol, fast, target, cut if pol == "fixed" else None))
    # and S-C at 1 Mbit/s, where eq. (1) picks cut 1 (Te+Tt+Tc = 1.49 s against 1.63 for
    # cut 2 and 2.61 for cloud-only) under the true factors
    sc_target, v = _target(prof, None, 1.0, ge, gc)
    assert v == 1
    cells.append(Cell("S-C", "single_cut", 1.0, sc_target))
    fit = fit_factors(prof, cells, edge="edge", cloud="cloud", n_edges=E, frames=F, ridge=0.0)
    for c in ("conv", "dense"):
        assert math.isclose(fit.edge_factors[c], ge[c], rel_tol=1e-3), fit.edge_factors
        assert math.isclose(fit.cloud_factors[c], gc[c], rel_tol=1e-3), fit.cloud_factors
    assert fit.edge_factors["other"] == fit.cloud_factors["other"] == 1.0  # no such layer
    assert fit.max_abs_residual() < 1e-4
    assert {r["cell"] for r in fit.cells} == {"E-O", "C-O", "cut 3", "cut 1", "S-C"}


def test_reachable__a_cell_below_every_static_bound_is_excluded():
    prof = load_profile(_toy())
    # At 0.1 Mbit/s the cuts send 200,000 / 20,000 / 8,000 / 2,000 bytes: F*Tt = 480, 48,
    # 19.2 and 4.8 s. The cut after d1 needs (0.7 g_conv + 0.6 g_dense) / (0.7 g_conv +
    # 0.8 g_dense) of the 1.5 s edge model, at least 0.763 (g_conv = 0.25, g_dense = 4):
    # F*Te >= 34.3 s; edge-only is 45 s; after c2 the edge and cloud shares can be tiny
    # (2.3 s and 3.9 s), so its link sets the least bound: 19.2 s.
    ok, why = reachable(prof, Cell("S-C", "single_cut", 0.1, 5.0), edge="edge",
                        cloud="cloud")
    assert not ok
    assert "the least bound, 19.2 s, is the cut after c2 (8000 bytes sent)" in why
    assert reachable(prof, Cell("S-C", "single_cut", 0.1, 20.0), edge="edge",
                     cloud="cloud") == (True, "")


@pytest.mark.parametrize("model", ["alexnet", "tiny_yolo", "darknet19", "alexnet_parallel",
                                   "resnet18", "googlenet"])
def test_shipped_paperfit_devices__load_and_name_their_fit(model):
    prof = load_profile(model)
    assert {EDGE_FIT, CLOUD_FIT} <= set(prof.devices)
    assert CALIBRATIONS["paper-fit"] == (EDGE_FIT, CLOUD_FIT)
    prov = prof.provenance["devices"]
    assert "least squares in log space" in prov[EDGE_FIT]["method"]
    assert prov[EDGE_FIT]["base_device"] == "rpi3b"
    fit = fit_provenance(prof)
    assert fit["cells"] and set(fit["edge_factors"]) == {"conv", "dense", "other"}
    # every layer is its base device's time times its class's factor
    for lay in prof.layers:
        cls = layer_class(lay.op)
        assert math.isclose(lay.latency_ms[EDGE_FIT],
                            lay.latency_ms["rpi3b"] * fit["edge_factors"][cls], rel_tol=1e-5,
                            abs_tol=1e-6)
        assert math.isclose(lay.latency_ms[CLOUD_FIT],
                            lay.latency_ms["paper-cloud"] * fit["cloud_factors"][cls],
                            rel_tol=1e-5, abs_tol=1e-6)
    # the E-O and C-O anchors stay within 5% of the paper
    for row in fit["cells"]:
        if "S-C" not in row["cell"]:
            assert abs(row["residual"]) < 0.05, row


def test_shipped_paperfit__is_what_the_fit_gives_today():
    stored = fit_provenance(load_profile("alexnet"))
    fit = fit_model("alexnet")
    for side, got in (("edge_factors", fit.edge_factors), ("cloud_factors", fit.cloud_factors)):
        for c, v in got.items():
            assert math.isclose(stored[side][c], v, rel_tol=1e-4), (side, c)
