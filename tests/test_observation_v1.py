"""Observation version 1 (``observation_version=1``): version 0's entries, then four
scalars for changing conditions, on the decisions' own information set, the same on
both engines and in the vector envs."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import splitgym.envs  # noqa: F401
from splitgym.envs import ENV_ID, EdgeCloudEnv
from splitgym.envs.core.config import ConfigError
from splitgym.envs.observation import (
    OBS_CAP,
    OBS_HIGH,
    SCALAR_FIELDS,
    V1_FIELDS,
    field_names,
    obs_size,
    version_of,
)


def _play(env, seed=0, options=None, act=None):
    """(observations, contexts) of one episode, cutting with `act(ctx)` (default: the
    deepest feasible cut but edge-only, else edge-only)."""
    obs, info = env.reset(seed=seed, options=options)
    out_o, out_c = [], []
    while "decision" in info:
        ctx = info["decision"]
        out_o.append(obs)
        out_c.append(ctx)
        if act is None:
            feasible = np.flatnonzero(info["action_mask"])
            cut = int(feasible[-2] if feasible.size > 1 else feasible[-1])
        else:
            cut = act(ctx)
        obs, _, _, _, info = env.step(cut)
    return out_o, out_c


def test_v1__shapes_names_and_bounds():
    env = EdgeCloudEnv(model="alexnet", scenario="rush-hour", frames_per_edge=4,
                       observation_version=1)
    k = env.cut_table.n_cuts
    assert env.observation_space.shape == (obs_size(k, 1),) == (4 * k + 14,)
    assert obs_size(k) == 4 * k + len(SCALAR_FIELDS)
    names = env.observation_fields()
    assert names == field_names(k, 1) and len(names) == 4 * k + 14
    assert names[-4:] == [f for f, _ in V1_FIELDS] == [
        "rate_ratio", "since_transfer", "deadline_slack", "queue_occupancy_avg"]
    assert version_of(k, 4 * k + 10) == 0 and version_of(k, 4 * k + 14) == 1
    with pytest.raises(ValueError, match="no version's"):
        version_of(k, 4 * k + 11)
    for obs in _play(env, seed=2)[0]:
        assert obs.dtype == np.float32 and env.observation_space.contains(obs)
        assert 0.0 <= obs.min() and obs.max() <= OBS_HIGH
    # the default is version 0, as the paper agents read it; gym.make takes it flat
    assert EdgeCloudEnv(model="alexnet").observation_space.shape == (4 * k + 10,)
    made = gym.make(ENV_ID, model="alexnet", observation_version=1)
    assert made.observation_space.shape == (4 * k + 14,)


@pytest.mark.parametrize("bad", [2, -1, True, 1.0, "1", None])
def test_v1__a_bad_version_is_refused_by_name(bad):
    with pytest.raises(ConfigError, match=r"observation_version=.*expected one of \[0, 1\]"):
        EdgeCloudEnv(model="toy", observation_version=bad)


@pytest.mark.parametrize("scenario", ["cellular-markov", "rush-hour", "mixed-fleet"])
def test_v1__is_v0_then_four_scalars_same_episodes_both_engines(scenario):
    runs = {}
    for version in (0, 1):
        for engine in ("python", "compiled"):
            env = EdgeCloudEnv(model="alexnet", scenario=scenario, frames_per_edge=6,
                               engine=engine, observation_version=version)
            runs[version, engine] = _play(env, seed=4)
    for version in (0, 1):  # both engines, the same bits
        (oa, ca), (ob, cb) = runs[version, "python"], runs[version, "compiled"]
        assert len(oa) == len(ob)
        for a, b in zip(oa, ob, strict=True):
            assert a.tobytes() == b.tobytes()
        for a, b in zip(ca, cb, strict=True):
            for key in ("arrival_s", "link_measured_mbps", "link_last_done_s",
                        "queue_occupancy_avg"):
                assert type(a[key]) is type(b[key]) and a[key] == b[key], key
    v0, v1 = runs[0, "python"][0], runs[1, "python"][0]
    assert len(v0) == len(v1)
    k4 = v1[0].size - 14
    for a, b in zip(v0, v1, strict=True):
        assert np.array_equal(a, b[:k4 + 10])  # the same episode, v0's entries
    extra = np.array([b[k4 + 10:] for b in v1])
    assert (extra.std(axis=0) > 0).sum() >= 3  # the new scalars move


def test_v1__hand_computed_on_the_toy_profile():
    # toy: cut 1 (edge 1 s, 1000 bytes, cloud 0.75 s), cut 2 (edge 3 s, 500 bytes,
    # cloud 0.25 s); T_E = 4 s. One edge; the uplink runs at 0.008 Mbit/s on [0, 4) and
    # 0.004 on [4, 8), repeating (time-average 0.006: the ewma prior); deadline 10 s;
    # frames at 0, 0.5 and 7 s; cuts 2, 1, 1.
    # t=0, frame 0: nothing measured yet (ratio 1, since: cap), slack 10 s, queue empty
    #   (first decision: the average is the occupancy, 0). Edge 0-3 s, link 3-3.5 s
    #   (4000 bits at 8000 bit/s), measured 0.008; EWMA 0.3*0.008 + 0.7*0.006.
    # t=3, frame 1 (waited 2.5 s): frame 0's transfer runs (1 slot of 20): average
    #   0.1*0.05 + 0.9*0 = 0.005; still nothing completed; slack 7.5 s. Edge 3-4 s, link
    #   4-6 s (8000 bits at 4000 bit/s): measured 0.004, EWMA 0.3*0.004 + 0.7*previous.
    # t=7, frame 2: last transfer done at 6 (since 1 s), ratio 0.004 / EWMA, slack
    #   10 s, queue empty: average 0.9 * 0.005.
    ewma1 = 0.3 * 0.008 + 0.7 * 0.006
    ewma2 = 0.3 * 0.004 + 0.7 * ewma1
    want = [  # (rate_ratio, since_transfer, deadline_slack, queue_occupancy_avg) fields
        (1.0, OBS_CAP, 10.0 / 4, 0.0),
        (1.0, OBS_CAP, 7.5 / 4, 0.005),
        (0.004 / ewma2, 1.0 / 4, 10.0 / 4, 0.9 * 0.005),
    ]
    for engine in ("python", "compiled"):
        env = EdgeCloudEnv(model="toy", n_edges=1, frames_per_edge=3, deadline_s=10.0,
                           bandwidth_mbps=[[0.0, 0.008], [4.0, 0.004]],
                           bandwidth_estimator="ewma", observation_version=1,
                           engine=engine)
        cuts = iter([2, 1, 1])
        obs, ctxs = _play(env, options={"arrival_times_s": [[0.0, 0.5, 7.0]]},
                          act=lambda ctx, cuts=cuts: next(cuts))
        assert [c["time_s"] for c in ctxs] == [0.0, 3.0, 7.0]
        assert [c["link_measured_mbps"] for c in ctxs] == [None, None, 0.004]
        assert [c["link_last_done_s"] for c in ctxs] == [None, None, 6.0]
        assert ctxs[2]["bandwidth_mbps"] == pytest.approx(ewma2, rel=1e-12)
        for o, fields in zip(obs, want, strict=True):
            got = np.expm1(o[-4:].astype(np.float64))
            assert got == pytest.approx(fields, rel=1e-6, abs=1e-7)
    # no deadline: the slack is capped; a late frame's is 0
    env = EdgeCloudEnv(model="toy", n_edges=1, frames_per_edge=2, observation_version=1)
    obs, _ = _play(env, options={"arrival_times_s": [[0.0, 0.0]]})
    assert obs[0][-2] == np.float32(math.log1p(OBS_CAP))
    env = EdgeCloudEnv(model="toy", n_edges=1, frames_per_edge=2, deadline_s=0.5,
                       observation_version=1)
    obs, _ = _play(env, options={"arrival_times_s": [[0.0, 0.0]]}, act=lambda ctx: 3)
    assert obs[1][-2] == 0.0  # frame 1 waited 4 s for the edge: past its deadline


def test_v1__learned_policy_reads_its_version_and_evaluate_builds_it():
    from splitgym.agents.policy import LearnedPolicy
    from splitgym.agents.safe_load import AgentMismatchError

    class _Model:  # just the spaces an SB3 model has
        def __init__(self, n_obs, k):
            self.observation_space = gym.spaces.Box(0, 1, (n_obs,))
            self.action_space = gym.spaces.Discrete(k)

    env1 = EdgeCloudEnv(model="toy", observation_version=1)
    k = env1.cut_table.n_cuts
    pol = LearnedPolicy(_Model(obs_size(k, 1), k), "ppo", "toy")
    assert pol.observation_version == 1
    pol.check_env(env1)
    with pytest.raises(AgentMismatchError, match="observation_version=1"):
        pol.check_env(EdgeCloudEnv(model="toy"))
    assert LearnedPolicy(_Model(obs_size(k), k), "ppo", "toy").observation_version == 0


def test_v1__evaluate_refuses_an_explicit_version_its_agent_does_not_read():
    """`evaluate` builds the env its agents read (the shipped Tiny-YOLO rush-hour agent
    reads v1); a version the caller asked for explicitly is never silently replaced."""
    from splitgym.agents.safe_load import AgentMismatchError
    from splitgym.experiments.evaluate import evaluate_policies

    kwargs = {"model": "tiny_yolo", "scenario": "rush-hour", "frames_per_edge": 2}
    with pytest.raises(AgentMismatchError, match=r"observation_version=0: the agents read "
                       r"version 1"):
        evaluate_policies({**kwargs, "observation_version": 0}, ["learned"], [0],
                          progress=False, plan_evaluations=None)
    results = evaluate_policies(kwargs, ["learned"], [0], progress=False,
                                plan_evaluations=None)
    assert len(results) == 1 and results[0].n_seeds == 1
