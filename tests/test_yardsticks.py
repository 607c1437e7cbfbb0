"""Yardsticks and the lower bound: hand-checkable facts and properties."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitgym.baselines import (
    POLICIES,
    episode_lower_bound,
    make_policy,
    single_cut_index,
)
from splitgym.envs import ENV_ID, EdgeCloudEnv, rollout

BW = 0.008  # toy profile: 1000 bytes per second


def test_lower_bound__toy_hand_computed():
    # One edge, three frames at t=0, toy profile at 0.008 Mbit/s, per-edge link.
    # Cuts (Te, Tt, Tc): 0 (0, 2, 1), 1 (1, 1, .75), 2 (3, .5, .25), 3 (4, 0, 0).
    # LP: min T s.t. sum x = 3, T >= sum x Te, T >= sum x Tt, T >= sum x Tc, and
    # T >= 0 + min(Te + Tt + Tc) = 2.75. Mixing cut 1 and cut 0: x1 = a, x0 = 3 - a gives
    # edge a, link 6 - a: equal at a = 3 -> T = 3 (all cut 1: edge 3, link 3, cloud 2.25).
    # Cut 2 would not help (edge 3 each). So the bound is 3.0.
    env = EdgeCloudEnv(model="toy", bandwidth_mbps=BW)
    env.reset(options={"arrival_times_s": [[0.0, 0.0, 0.0]]})
    sim = env.simulator
    assert math.isclose(episode_lower_bound(sim), 3.0,
                        rel_tol=1e-9)
    # and the best real schedule is no better: all cut 1 finishes at 1+1+.75 ... 3.75
    best = min(rollout(env, make_policy("fixed", cut=k),
                       options={"arrival_times_s": [[0.0] * 3]}).metrics["makespan_s"]
               for k in range(4))
    assert best >= 3.0


def test_lower_bound__with_drops_hand_computed():
    # One edge at 0 Mbit/s (edge-only: 4 s a frame, toy), frames at 0, 1 and 5 s.
    # Without drops: 0-4, 4-8, 8-12, and the LP gives 0 + 3 x 4 = 12 (tight).
    # deadline 2 s with drops: frame 0 runs 0-4; frame 1 is picked at 4 > 1 + 2, dropped;
    # frame 2 runs 5-9: makespan 9, below the LP's 12. The bound then is the largest of
    # last + min(D, fastest) = 5 + 2 = 7, first + fastest = 0 + 4 and
    # min(LP, first + D) = min(12, 2): 7.
    arrivals = {"arrival_times_s": [[0.0, 1.0, 5.0]]}
    plain = EdgeCloudEnv(model="toy", bandwidth_mbps=0.0, deadline_s=2.0)
    drops = EdgeCloudEnv(model="toy", bandwidth_mbps=0.0, deadline_s=2.0, drop_late=True)
    for env, bound, makespan in ((plain, 12.0, 12.0), (drops, 7.0, 9.0)):
        env.reset(options=arrivals)
        assert math.isclose(episode_lower_bound(env.simulator), bound, rel_tol=1e-9)
        ep = rollout(env, make_policy("edge_only"), options=arrivals)
        assert ep.metrics["makespan_s"] == makespan


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), model=st.sampled_from(["toy", "alexnet", "resnet18"]),
       bw=st.sampled_from([0.0, 0.008, 0.5, 1.1, 5.85, 20.0]),
       n_edges=st.integers(1, 4), frames=st.integers(1, 6),
       uplink=st.sampled_from(["per_edge", "shared"]), cap=st.integers(1, 6),
       workers=st.integers(1, 2))
def test_lower_bound__no_policy_ever_beats_it(seed, model, bw, n_edges, frames, uplink, cap,
                                              workers):
    env = EdgeCloudEnv(model=model, bandwidth_mbps=bw, n_edges=n_edges,
                       frames_per_edge=frames, uplink=uplink, queue_capacity=cap,
                       cloud_workers=workers, fps=(5.0, 15.0))
    env.reset(seed=seed)
    sim = env.simulator
    bound = episode_lower_bound(sim)
    for name in POLICIES:
        if name == "fixed" or (name == "cloud_only" and bw == 0.0):
            continue
        ep = rollout(env, make_policy(name), seed=seed)
        assert ep.metrics["makespan_s"] >= bound * (1 - 1e-9), name


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), model=st.sampled_from(["alexnet", "darknet19", "toy"]),
       bw=st.sampled_from([0.3, 1.1, 3.0, 5.85, 12.0]), n_edges=st.integers(1, 6))
def test_queue_aware__never_shallower_than_single_cut(seed, model, bw, n_edges):
    env = EdgeCloudEnv(model=model, bandwidth_mbps=bw, n_edges=n_edges, frames_per_edge=8)
    sq = make_policy("queue_aware")
    fill = make_policy("sq_fill")
    obs, info = env.reset(seed=seed)
    while True:
        d = info["decision"]
        v = single_cut_index(d)
        assert sq(obs, info) >= v
        assert fill(obs, info) >= v
        obs, _, term, _, info = env.step(sq(obs, info))
        if term:
            break


@pytest.mark.parametrize("bw", [0.0])
def test_zero_bandwidth__every_policy_but_cloud_only_is_edge_only(bw):
    env = gym.make(ENV_ID, model="alexnet", bandwidth_mbps=bw)
    eo = rollout(env, make_policy("edge_only"), seed=4).metrics["makespan_s"]
    for name in POLICIES:
        if name in ("cloud_only", "fixed"):
            continue
        assert rollout(env, make_policy(name), seed=4).metrics["makespan_s"] == eo, name


def test_edge_only__paper_setting_is_30_frames_of_whole_model():
    # 5-15 fps into a 2.963 s edge: each edge is busy from its first frame on, so the
    # makespan is the latest first arrival + 30 x 2.963 s.
    env = EdgeCloudEnv(model="alexnet")
    ep = rollout(env, make_policy("edge_only"), seed=9)
    first = max(a[0] for a in env.simulator.arrivals)
    assert math.isclose(ep.metrics["makespan_s"], first + 30 * 2.963, rel_tol=1e-6)


def test_best_static__is_the_best_fixed_cut_on_the_same_arrivals():
    env = EdgeCloudEnv(model="alexnet", bandwidth_mbps=1.1, frames_per_edge=10)
    oracle = make_policy("best_static")
    ep = rollout(env, oracle, seed=2)
    fixed = [rollout(env, make_policy("fixed", cut=k), seed=2).metrics["makespan_s"]
             for k in range(env.cut_table.n_cuts)]
    assert ep.metrics["makespan_s"] == min(fixed)
    assert set(ep.actions.tolist()) == {int(np.argmin(fixed))}
    with pytest.raises(RuntimeError, match="oracle"):
        make_policy("best_static")(None, {"decision": {}})


def test_greedy_eft__picks_the_earliest_predicted_finish():
    env = EdgeCloudEnv(model="alexnet", bandwidth_mbps=5.85)
    obs, info = env.reset(seed=0)
    pol = make_policy("greedy_eft")
    for _ in range(60):
        d = info["decision"]
        a = pol(obs, info)
        assert d["finish_at_s"][a] == np.min(d["finish_at_s"][d["mask"]])
        obs, _, term, _, info = env.step(a)
        if term:
            break


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_edges=st.integers(1, 4),
       speeds=st.lists(st.floats(0.25, 4.0), min_size=4, max_size=4),
       per_edge=st.booleans(), uplink=st.sampled_from(["per_edge", "shared"]))
def test_lower_bound__holds_under_changing_conditions(seed, n_edges, speeds, per_edge, uplink):
    spec = {"kind": "markov", "rates_mbps": [6.0, 1.0, 0.0], "mean_dwell_s": [3.0, 2.0, 1.0]}
    env = EdgeCloudEnv(model="alexnet", n_edges=n_edges, frames_per_edge=4,
                       edge_speed=speeds[:n_edges], bandwidth_mbps=spec,
                       bandwidth_per_edge=per_edge and uplink == "per_edge", uplink=uplink)
    env.reset(seed=seed)
    bound = episode_lower_bound(env.simulator)
    for name in ("edge_only", "single_cut", "greedy_eft", "sq_lookahead", "best_static"):
        ep = rollout(env, make_policy(name), seed=seed)
        assert ep.metrics["makespan_s"] >= bound * (1 - 1e-9), name
