"""Cuts: the min-cut equals enumeration on chains and brute force on random DAGs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitgym.profiles import load_profile, make_cut_table
from splitgym.profiles.cuts import DagCutter, cut_for_edge_set
from splitgym.profiles.schema import INPUT, Profile

SIX = ("alexnet", "tiny_yolo", "darknet19", "alexnet_parallel", "resnet18", "googlenet")


def _cost(cut, bw):
    return cut.edge_s + cut.transfer_s(bw) + cut.cloud_s


@pytest.mark.parametrize("name", ["toy", "alexnet", "tiny_yolo", "darknet19"])
@pytest.mark.parametrize("bw", [0.05, 0.3, 1.1, 5.85, 12.0, 100.0, 0.0])
def test_min_cut__equals_eq1_enumeration_on_chains(name, bw):
    prof = load_profile(name)
    table = make_cut_table(prof)
    with np.errstate(invalid="ignore"):
        totals = table.edge_s + table.transfer_s(bw) + table.cloud_s
    i = int(np.nanargmin(np.where(table.feasible(bw), totals, np.inf)))
    best = DagCutter(prof).best(bw)
    assert math.isclose(_cost(best, bw), totals[i], rel_tol=1e-7, abs_tol=1e-9)
    # the same cut, not only the same cost (ties: the smaller edge set)
    assert len(best.edge_layers) == i


@st.composite
def random_dags(draw):
    """Small random DAG profiles: each layer reads 1-3 earlier tensors (or the input)."""
    n = draw(st.integers(1, 7))
    layers = []
    for i in range(n):
        pool = [INPUT] + [f"l{j}" for j in range(i)]
        k = draw(st.integers(1, min(3, len(pool))))
        inputs = draw(st.lists(st.sampled_from(pool), min_size=k, max_size=k, unique=True))
        layers.append({"name": f"l{i}", "inputs": inputs,
                       "output_bytes": draw(st.integers(0, 400_000)),
                       "latency_ms": {"e": draw(st.floats(0, 500)),
                                      "c": draw(st.floats(0, 50))}})
    return Profile.from_dict({
        "format": "splitgym-profile/1", "model": "rand", "devices": {"e": {}, "c": {}},
        "default_edge": "e", "default_cloud": "c",
        "input_bytes": draw(st.integers(0, 400_000)), "layers": layers})


def _closed_sets(prof):
    names = [lay.name for lay in prof.layers]
    for mask in range(1 << len(names)):
        chosen = {names[i] for i in range(len(names)) if mask >> i & 1}
        if all(s == INPUT or s in chosen for lay in prof.layers if lay.name in chosen
               for s in lay.inputs):
            yield chosen


@settings(max_examples=150, deadline=None)
@given(prof=random_dags(), bw=st.sampled_from([0.1, 1.1, 5.85, 50.0]))
def test_min_cut__equals_brute_force_on_random_dags(prof, bw):
    brute = min(_cost(cut_for_edge_set(prof, s, "e", "c"), bw) for s in _closed_sets(prof))
    best = DagCutter(prof).best(bw)
    # integer capacities: resolution 2**-30 of the sum of all finite capacities
    total = sum(prof.latencies_s("e")) + sum(prof.latencies_s("c")) + 8 * (
        prof.input_bytes + sum(lay.output_bytes for lay in prof.layers)) / (bw * 1e6)
    assert _cost(best, bw) <= brute + 1e-6 * total + 1e-12
    assert _cost(best, bw) >= brute - 1e-12  # it is a real cut, no better than optimal


@pytest.mark.parametrize("name", SIX)
def test_candidate_table__ordered_and_contains_the_optimum(name):
    prof = load_profile(name)
    bw = 1.1
    table = make_cut_table(prof, bandwidths_mbps=(bw,))
    assert table.cuts[0].edge_layers == ()
    assert table.cuts[-1].edge_layers == tuple(lay.name for lay in prof.layers)
    assert np.all(np.diff(table.edge_s) >= 0)
    assert len({c.edge_layers for c in table.cuts}) == table.n_cuts
    # Single Cutting over the candidates is the DAG optimum at the env's bandwidth
    totals = table.edge_s + table.transfer_s(bw) + table.cloud_s
    best = DagCutter(prof).best(bw)
    assert math.isclose(totals.min(), _cost(best, bw), rel_tol=1e-7)
    if not prof.is_chain:
        assert 3 <= table.n_cuts <= prof.n_layers


def test_candidate_table__dag_block_boundaries_send_less_than_shallower_cuts():
    table = make_cut_table(load_profile("resnet18"))
    names = [c.edge_layers[-1] if c.edge_layers else "" for c in table.cuts]
    assert "layer4.0.add" in names and "avgpool" in names
    b = table.transfer_bytes[:-1]
    assert np.all(np.diff(b) < 0)  # each deeper candidate sends less
