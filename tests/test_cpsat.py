"""The CP-SAT lower bound (`splitgym.baselines.cpsat`): a proven bound, never above
any policy's makespan, never below the LP bound, tighter where the LP is loose."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitgym.baselines import make_policy
from splitgym.baselines.cpsat import UnsupportedRelaxationError, cpsat_lower_bound
from splitgym.baselines.planner import BestKnown
from splitgym.envs.edge_cloud import EdgeCloudEnv
from splitgym.envs.rollout import rollout

pytest.importorskip("ortools")

BW = 0.008  # Mbit/s: the toy profile's 1000 bytes take 1 s
TICK = 1e-5  # [s]: the model's default time unit


def test_cpsat_bound__toy_two_frames_equals_hand_computed_optimum_above_the_lp():
    # The toy chain (see test_golden.py) at 1000 bytes/s: cut (Te, Tt, Tc) =
    # 0 (0, 2, 1), 1 (1, 1, 0.75), 2 (3, 0.5, 0.25), 3 (4, edge-only).
    # One edge, two frames both at t = 0. The optimum is 3.75 (enumerated by hand in
    # test_planner.py: (1, 1), (0, 1) or (0, 2)); no relaxed order or wait does better,
    # since with one edge the link is in frame order and the cloud gets the two tasks
    # at distinct times. The LP bound is 2.75: x = (0.75, 1.25, 0, 0) tasks at cuts
    # 0 and 1 loads the link 0.75 * 2 + 1.25 * 1 = 2.75, the edge 1.25 and the cloud
    # 1.6875, and the last frame plus the fastest task (cut 1) is 0 + 2.75; the LP
    # does not see that the second frame's transfer waits behind the first's.
    # The model rounds every duration down after taking 1 ns off, so each of the
    # relaxation's critical path's durations loses one 10 us tick; its optimum is plan
    # (1, 1) with four (f0 edge 1, f0 link 1, f1 link 1, f1 cloud 0.75): the proven
    # bound is 3.75 - 4e-5 (plans (0, 1), (0, 2) lose only three).
    env = EdgeCloudEnv(model="toy", bandwidth_mbps=BW, n_edges=1, frames_per_edge=2)
    env.reset(options={"arrival_times_s": [[0.0, 0.0]]})
    res = cpsat_lower_bound(env, time_limit_s=2.0)
    assert math.isclose(res.lp_s, 2.75, abs_tol=1e-9)
    assert res.status == "OPTIMAL"
    assert math.isclose(res.cpsat_s, 3.75 - 4 * TICK, abs_tol=1e-9)
    assert res.bound_s == res.cpsat_s > res.lp_s + 0.99


@st.composite
def instances(draw):
    n_edges = draw(st.integers(1, 2))
    arrivals = [sorted(draw(st.lists(st.floats(0.0, 3.0), min_size=1, max_size=3)))
                for _ in range(n_edges)]
    kwargs = {
        "model": draw(st.sampled_from(["toy", "alexnet"])),
        "n_edges": n_edges,
        "frames_per_edge": [len(a) for a in arrivals],
        "uplink": draw(st.sampled_from(["per_edge", "shared"])),
        "queue_capacity": draw(st.integers(1, 3)),
        "cloud_workers": draw(st.integers(1, 2)),
        "edge_speed": draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]),
                                    min_size=n_edges, max_size=n_edges)),
        "engine": "python",
    }
    bw = draw(st.sampled_from([0.0, 0.004, 0.008, 0.016]))
    if kwargs["model"] == "alexnet":
        bw = {0.0: 0.0, 0.004: 1.1, 0.008: 5.85, 0.016: 20.0}[bw]
    kwargs["bandwidth_mbps"] = bw
    return kwargs, arrivals


POLICIES = ("single_cut", "queue_aware", "sq_link", "greedy_eft", "edge_only",
            "cloud_only")


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_cpsat_bound__never_above_any_policy_nor_below_the_lp(case):
    kwargs, arrivals = case
    env = EdgeCloudEnv(**kwargs)
    options = {"arrival_times_s": arrivals}
    env.reset(options=options)
    res = cpsat_lower_bound(env, time_limit_s=1.0)
    assert res.bound_s >= res.lp_s
    assert res.bound_s == max(res.lp_s, res.cpsat_s)
    planner = BestKnown(evaluations=200, shipped_agents=False)
    policies = [make_policy(n) for n in POLICIES] + [planner]
    for policy in policies:
        if kwargs["bandwidth_mbps"] == 0 and policy.name == "cloud_only":
            continue
        ep = rollout(env, policy, options=options)
        assert res.bound_s <= ep.metrics["makespan_s"], policy.name
    if res.status == "OPTIMAL" and planner.plan is not None:
        # small enough for best_known to enumerate every plan: the relaxation's
        # optimum is at most the true optimum
        assert res.cpsat_s <= planner.score


def test_cpsat_bound__refuses_drops_and_rate_traces():
    env = EdgeCloudEnv(model="toy", deadline_s=5.0, drop_late=True)
    env.reset(seed=0)
    with pytest.raises(UnsupportedRelaxationError, match="drop_late=True"):
        cpsat_lower_bound(env, time_limit_s=0.1)
    env = EdgeCloudEnv(model="toy", n_edges=2, edge_bandwidth_mbps=["3g", [[0, 1.0]]])
    env.reset(seed=0)
    with pytest.raises(UnsupportedRelaxationError, match="bandwidth_mbps: a time-varying"):
        cpsat_lower_bound(env, time_limit_s=0.1)


def test_cpsat_bound__a_work_limit_proves_the_same_bound_on_every_run():
    """With a budget of CP-SAT's deterministic time (one worker), the probes stop at
    the same point whatever the machine's load, so two runs prove the same bound, bit
    for bit. Here the budget cuts the search (no schedule found, status UNKNOWN), which
    is where a wall-clock limit would make the bound depend on the load."""
    env = EdgeCloudEnv(model="alexnet", bandwidth_mbps="4g", frames_per_edge=4)
    env.reset(seed=3)
    a = cpsat_lower_bound(env, work_limit=0.2)
    b = cpsat_lower_bound(env, work_limit=0.2)
    assert a.status == "UNKNOWN"
    assert repr((a.cpsat_s, a.best_s, a.status)) == repr((b.cpsat_s, b.best_s, b.status))
    assert a.lp_s < a.bound_s  # the probes proved more than the LP
    assert a.bound_s <= rollout(env, make_policy("sq_lookahead"), seed=3).metrics["makespan_s"]
