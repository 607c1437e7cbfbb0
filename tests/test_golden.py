"""Golden runs on toy profiles, every number hand-computed in the comments.

The shipped toy chain (profiles/toy.json) at bandwidth_mbps=0.008 (8000 bit/s, so
1000 bytes take 1 s) has four cuts:

    cut  edge_s  transfer_s  cloud_s   (Te + Tt + Tc)
     0    0         2         1.0       3.0   cloud-only
     1    1         1         0.75      2.75  <- single cut (eq. 1)
     2    3         0.5       0.25      3.75
     3    4         -         -         4.0   edge-only
"""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest

from splitgym.baselines import make_policy
from splitgym.envs import ENV_ID, rollout
from splitgym.envs.core import InvalidActionError, SimConfig, Simulator
from splitgym.profiles import load_profile, make_cut_table

BW = 0.008  # Mbit/s: 1000 bytes per second


def run_fixed(arrivals, cuts, profile="toy", **config):
    """Run the core with cuts[e][k] for frame k of edge e; return completions per edge."""
    sim = Simulator(make_cut_table(load_profile(profile)), SimConfig(**config))
    ctx = sim.reset(arrivals)
    while ctx is not None:
        ctx = sim.decide(cuts[ctx["edge"]][ctx["frame"]])
    return [c.tolist() for c in sim.records().per_edge("completion_s")], sim


def test_golden__full_queue_blocks_links_released_in_blocking_order():
    # 2 edges, per-edge links, C = 1, all cloud-only; edge 0 has frames at 0 and 0,
    # edge 1 one frame at 0.
    # t=0: e0f0 and e1f0 finish their (empty) edge part at 0. Link 0 starts e0f0 and
    #      takes the only slot; link 1 finds the queue full and BLOCKS (first).
    # t=2: e0f0 reaches the cloud (2..3). Link 0's next head, e0f1, finds the queue
    #      full and blocks (second).
    # t=3: the cloud frees the slot: link 1 (blocked first) sends e1f0, 3..5; cloud 5..6.
    # t=6: the slot frees again: link 0 sends e0f1, 6..8; cloud 8..9.
    done, sim = run_fixed([[0.0, 0.0], [0.0]], [[0, 0], [0]], bandwidth_mbps=BW,
                          queue_capacity=1)
    assert done == [[3.0, 9.0], [6.0]]
    rec = sim.records()
    # e1f0 waited, holding its link, from 0 (edge end) to 3 (transfer start)
    assert rec.edge_end_s[2] == 0.0 and rec.link_start_s[2] == 3.0
    assert sim.metrics()["makespan_s"] == 9.0


def test_golden__shared_uplink_serialises_transfers():
    # 2 edges, one frame each at 0, cut 1: both edge parts end at 1.
    # shared link: e0 sends 1..2 (cloud 2..2.75), e1 waits and sends 2..3 (cloud 3..3.75).
    # per-edge links: both send 1..2; the cloud serves e0 2..2.75 then e1 2.75..3.5.
    shared, _ = run_fixed([[0.0], [0.0]], [[1], [1]], bandwidth_mbps=BW, uplink="shared")
    per_edge, _ = run_fixed([[0.0], [0.0]], [[1], [1]], bandwidth_mbps=BW, uplink="per_edge")
    assert shared == [[2.75], [3.75]]
    assert per_edge == [[2.75], [3.5]]


def test_golden__cloud_workers_serve_in_parallel():
    # Same as the per-edge case with 2 cloud workers: both served 2..2.75.
    done, _ = run_fixed([[0.0], [0.0]], [[1], [1]], bandwidth_mbps=BW, cloud_workers=2)
    assert done == [[2.75], [2.75]]


def test_golden__bandwidth_zero_leaves_only_edge_only():
    env = gym.make(ENV_ID, model="toy", bandwidth_mbps=0.0)
    _, info = env.reset(seed=0, options={"arrival_times_s": [[0.0, 0.0]]})
    assert info["action_mask"].tolist() == [False, False, False, True]
    assert env.unwrapped.action_masks().tolist() == [False, False, False, True]
    with pytest.raises(InvalidActionError, match=r"action=0: cut 0 is infeasible at "
                                                 r"bandwidth_mbps=0\.0"):
        env.step(0)
    # edge-only: 4 s per frame on the one edge, frames back to back: done at 4 and 8.
    ep = rollout(env, make_policy("single_cut"), options={"arrival_times_s": [[0.0, 0.0]]})
    assert ep.records.completion_s.tolist() == [4.0, 8.0]
    assert ep.actions.tolist() == [3, 3]
    # edge-only tasks never touch the link or the cloud
    assert np.isnan(ep.records.link_start_s).all() and np.isnan(ep.records.cloud_end_s).all()


def test_golden__edge_only_is_frames_times_whole_model_when_frames_come_faster():
    # 10 fps (a frame every 0.1 s) into a 4 s edge: the edge never idles after the first
    # frame, so edge e finishes at phase_e + 3 * 4.
    env = gym.make(ENV_ID, model="toy", bandwidth_mbps=BW, n_edges=2, frames_per_edge=3,
                   fps=10.0, phase_s=[0.0, 0.05])
    ep = rollout(env, make_policy("edge_only"), seed=0)
    assert ep.records.per_edge("completion_s")[1].tolist() == [4.05, 8.05, 12.05]
    assert ep.metrics["makespan_s"] == 12.05
    # and on AlexNet in the paper's setting: the last edge to start, plus 30 x 2.963 s
    env = gym.make(ENV_ID, model="alexnet")
    ep = rollout(env, make_policy("edge_only"), seed=3)
    first = max(a[0] for a in ep.records.per_edge("arrival_s"))
    whole = env.unwrapped.cut_table.whole_edge_s
    assert math.isclose(ep.metrics["makespan_s"], first + 30 * whole, rel_tol=1e-12)


def test_golden__cloud_only_at_low_bandwidth_is_link_bound():
    # One edge, three frames at t=0, cloud-only: the link sends 0..2, 2..4, 4..6 and the
    # idle cloud finishes each 1 s later: 3, 5, 7. Makespan = 3 x Tt + Tc.
    done, _ = run_fixed([[0.0, 0.0, 0.0]], [[0, 0, 0]], bandwidth_mbps=BW)
    assert done == [[3.0, 5.0, 7.0]]


def test_golden__queue_aware_equals_single_cut_when_the_cloud_is_idle():
    # Frames 10 s apart never meet in the cloud: S-Q's predicted wait is never positive.
    kwargs = dict(model="toy", bandwidth_mbps=BW, n_edges=2, frames_per_edge=4, fps=0.1)
    sc = rollout(gym.make(ENV_ID, **kwargs), make_policy("single_cut"), seed=1)
    sq = rollout(gym.make(ENV_ID, **kwargs), make_policy("queue_aware"), seed=1)
    assert sc.actions.tolist() == [1] * 8
    assert sq.actions.tolist() == sc.actions.tolist()
    assert sq.metrics["makespan_s"] == sc.metrics["makespan_s"]


BULGE = {
    # A chain whose second layer sends MORE than the first (like AlexNet's conv2 after
    # pool1), so the paper's S-Q rule (which accepts a deeper cut only when it sends more
    # bytes) has something to pick. At 0.008 Mbit/s:
    #   cut 0: Te 0,   Tt 2, Tc 0.75 (total 2.75)
    #   cut 1: Te 1,   Tt 1, Tc 0.5  (total 2.5)  <- single cut
    #   cut 2: Te 1.5, Tt 3, Tc 0.25 (total 4.75)
    #   cut 3: Te 2.5 (edge-only)
    "format": "splitgym-profile/1", "model": "bulge", "input_bytes": 2000,
    "devices": {"edge": {}, "cloud": {}}, "default_edge": "edge", "default_cloud": "cloud",
    "layers": [
        {"name": "l1", "inputs": ["input"], "output_bytes": 1000,
         "latency_ms": {"edge": 1000.0, "cloud": 250.0}},
        {"name": "l2", "inputs": ["l1"], "output_bytes": 3000,
         "latency_ms": {"edge": 500.0, "cloud": 250.0}},
        {"name": "l3", "inputs": ["l2"], "output_bytes": 100,
         "latency_ms": {"edge": 1000.0, "cloud": 250.0}},
    ],
}


def test_golden__queue_aware_picks_deeper_cuts_when_the_cloud_is_congested(tmp_path):
    # 8 edges, one frame each at t=0, decided in edge order at t=0; per-edge links.
    # S-Q's own arrival under v* = 1 is A(1) = 0 + 1 + 1 = 2, and under cut 2
    # A(2) = 1.5 + 3 = 4.5. Edge k sees k committed cut-1 tasks that all reach the cloud
    # at 2 (<= A(1): ahead of it) and take 0.5 s each, so t_end = 2 + 0.5k, and
    # t_wait = t_end - 2 > 0 from k = 1 on. Cut 2 is accepted when A(2) = 4.5 <= t_end
    # (i.e. k >= 5), A(2) > A(1) and 3000 > 1000 bytes. Edge-only (0 bytes) never is.
    # Edges 6 and 7 also see the cut-2 tasks, but those reach the cloud at 4.5 > A(1):
    # behind this task, not counted, so t_end stays 2 + 0.5 x 5 = 4.5 and cut 2 is
    # accepted at equality (A(2) = 4.5 <= 4.5).
    path = tmp_path / "bulge.json"
    path.write_text(json.dumps(BULGE))
    arrivals = [[0.0]] * 8
    kwargs = dict(model=str(path), bandwidth_mbps=BW, queue_capacity=20)
    sq = rollout(gym.make(ENV_ID, **kwargs), make_policy("queue_aware"),
                 options={"arrival_times_s": arrivals})
    sc = rollout(gym.make(ENV_ID, **kwargs), make_policy("single_cut"),
                 options={"arrival_times_s": arrivals})
    assert sc.actions.tolist() == [1] * 8
    assert sq.actions.tolist() == [1, 1, 1, 1, 1, 2, 2, 2]
    # S-C: eight tasks reach the cloud at 2, 0.5 s each: 2 + 8 x 0.5 = 6.
    assert sc.metrics["makespan_s"] == 6.0
    # S-Q: five cut-1 tasks 2..4.5, then three cut-2 tasks arriving at 4.5: 4.75, 5, 5.25.
    assert sq.records.completion_s.tolist() == [2.5, 3.0, 3.5, 4.0, 4.5, 4.75, 5.0, 5.25]


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_golden__queue_aware_counts_only_the_work_ahead_of_the_task(tmp_path, engine):
    # BULGE, 8 edges, one frame each at t=0, ONE shared link, decided at t=0 in edge
    # order. Edge k sees k committed cut-1 tasks (edge end 1) queued for the shared link:
    # they reach the cloud at 2, 3, .., k+1 and each takes 0.5 s there.
    # - cloud_free_at_s (all of it) = (k + 1) + 0.5 for k >= 1.
    # - S-Q: A(v*=1) = 0 + 1 + 1 = 2 (its link backlog ignored); only the task arriving
    #   at 2 is ahead of it: t_end = 2.5. Cut 2 arrives at A(2) = 4.5 > 2.5: rejected,
    #   so every task keeps v* = 1. (Counting all committed work, t_end = k + 1.5 would
    #   accept cut 2 from k = 3 on: the feedback the spec's reading removes.)
    # - sq_link: link free at k + 1, so A(1) = max(1, k + 1) + 1 = k + 2 and all k tasks
    #   are ahead: t_end = k + 1.5 < A(1): v* as well.
    path = tmp_path / "bulge.json"
    path.write_text(json.dumps(BULGE))
    env = gym.make(ENV_ID, model=str(path), bandwidth_mbps=BW, uplink="shared",
                   engine=engine)
    sq, link = make_policy("queue_aware"), make_policy("sq_link")
    obs, info = env.reset(options={"arrival_times_s": [[0.0]] * 8})
    seen = []
    for k in range(8):
        d = info["decision"]
        assert d["edge"] == k and d["time_s"] == 0.0
        seen.append((d["cloud_free_at_s"], d["sq_cloud_free_at_s"], d["link_free_at_s"],
                     d["sq_link_cloud_free_at_s"]))
        assert sq(obs, info) == link(obs, info) == 1
        obs, _, _, _, info = env.step(1)
    assert seen[0] == (0.0, 0.0, 0.0, 0.0)  # nothing committed: t_end = now
    assert seen[1:] == [(k + 1.5, 2.5, k + 1.0, k + 1.5) for k in range(1, 8)]


def _ctx(**over):
    # BULGE's costs at 0.008 Mbit/s as a decision context at t = 0 (v* = 1):
    #   cut  Te   Tt  Tc    bytes  A(i) = Te + Tt
    #    0   0    2   .75   2000   2
    #    1   1    1   .5    1000   2     <- v*
    #    2   1.5  3   .25   3000   4.5
    #    3   2.5  0   0     0      2.5   (edge-only)
    ctx = {"time_s": 0.0, "edge_s": np.array([0.0, 1.0, 1.5, 2.5]),
           "transfer_s": np.array([2.0, 1.0, 3.0, 0.0]),
           "cloud_s": np.array([0.75, 0.5, 0.25, 0.0]),
           "transfer_bytes": np.array([2000.0, 1000.0, 3000.0, 0.0]),
           "mask": np.ones(4, dtype=bool), "link_free_at_s": 0.0}
    ctx.update(over)
    return ctx


def test_golden__queue_aware_test_in_its_exact_form():
    sq = make_policy("queue_aware")
    # t_end = 4.5: cut 2 arrives exactly then (A(2) <= t_end holds at equality), later
    # than v* and with more bytes: accepted. Just before, rejected.
    assert sq.act(_ctx(sq_cloud_free_at_s=4.5)) == 2
    assert sq.act(_ctx(sq_cloud_free_at_s=np.nextafter(4.5, 0.0))) == 1
    # t_end = A(v*) = 2: t_wait = 0, so v*, whatever comes deeper
    assert sq.act(_ctx(sq_cloud_free_at_s=2.0)) == 1


def test_golden__queue_aware_never_picks_an_equal_byte_cut_by_rounding():
    # A conv (cut 1) and its ReLU (cut 2) send the same bytes; cut 2 costs 0.381 s more
    # on the edge. At t_start = 41.788 with t_end = 45.8 the spec's test as differences
    # of floats, w - t'_wait > Te(2) - Te(1), reads 0.3810000000000002 > 0.381 and
    # would accept cut 2; in its exact form bytes(2) > bytes(1) is false: keep cut 1.
    ctx = {"time_s": 41.788, "edge_s": np.array([0.0, 1.298, 1.679, 5.0]),
           "transfer_s": np.array([3.0, 0.106, 0.106, 0.0]),
           "cloud_s": np.array([2.0, 0.5, 0.4, 0.0]),  # totals 5, 1.904, 2.185, 5: v* = 1
           "transfer_bytes": np.array([3000.0, 106.0, 106.0, 0.0]),
           "mask": np.ones(4, dtype=bool), "sq_cloud_free_at_s": 45.8}
    slack = 45.8 - 41.788
    w, w2 = slack - 1.298 - 0.106, slack - 1.679 - 0.106
    assert w - w2 > 1.679 - 1.298  # the rounding the exact form avoids
    assert make_policy("queue_aware").act(ctx) == 1
    ctx["transfer_bytes"] = np.array([3000.0, 106.0, 107.0, 0.0])
    assert make_policy("queue_aware").act(ctx) == 2  # one byte more: accepted


def test_golden__sq_link_counts_its_own_link_backlog():
    # Link free at 3: A_link(i) = max(Te(i), 3) + Tt(i) = 5, 4, 6, 3 for cuts 0..3.
    # t_end 7 (work ahead of A_link(v*) = 4): cut 2 arrives at 6 <= 7, later than 4,
    # more bytes: accepted. t_end 5.5: cut 2 (6) no longer arrives in time, so v*,
    # where plain S-Q (A(2) = 4.5, its t_end 5.5) takes cut 2.
    link = make_policy("sq_link")
    assert link.act(_ctx(link_free_at_s=3.0, sq_link_cloud_free_at_s=7.0)) == 2
    assert link.act(_ctx(link_free_at_s=3.0, sq_link_cloud_free_at_s=5.5)) == 1
    assert make_policy("queue_aware").act(_ctx(sq_cloud_free_at_s=5.5)) == 2
    # t_end no later than A_link(v*) = 4: v*
    assert link.act(_ctx(link_free_at_s=3.0, sq_link_cloud_free_at_s=4.0)) == 1
