"""The Gymnasium adapter: checkers, determinism, pickling, rewards, options, errors."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from splitgym.baselines import PAPER_POLICIES, make_policy
from splitgym.envs import ENV_ID, EdgeCloudEnv, rollout
from splitgym.envs.core import ConfigError
from splitgym.profiles import ProfileError

KWARG_SETS = [
    {},
    {"model": "toy", "bandwidth_mbps": "3g", "uplink": "shared", "n_edges": 2,
     "frames_per_edge": 4},
    {"model": "alexnet", "bandwidth_mbps": 0.5, "queue_capacity": 1, "cloud_workers": 3,
     "fps": 12.0, "objective": "mean_latency"},
    {"model": "alexnet", "bandwidth_mbps": "4g", "n_edges": 1, "frames_per_edge": 1,
     "phase_s": [0.25]},
]


@pytest.mark.parametrize("kwargs", KWARG_SETS)
def test_env__passes_gymnasium_and_sb3_checkers(kwargs):
    env = gym.make(ENV_ID, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure here
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(gym.make(ENV_ID, **kwargs), warn=True)


def test_env__registration_is_idempotent_and_spec_serialises():
    import splitgym.envs as envs

    envs.register_envs()
    envs.register_envs()
    env = gym.make(ENV_ID, model="toy", bandwidth_mbps=2.0)
    spec = json.loads(env.spec.to_json())
    assert spec["id"] == ENV_ID
    assert spec["kwargs"] == {"model": "toy", "bandwidth_mbps": 2.0}
    again = gym.make(gym.envs.registration.EnvSpec.from_json(env.spec.to_json()))
    assert again.unwrapped.sim_config.bandwidth_mbps == 2.0


def _trajectory(env, seed, policy, n_steps=None):
    obs, info = env.reset(seed=seed)
    out = [obs.tobytes()]
    steps = 0
    while True:
        obs, r, term, trunc, info = env.step(policy(obs, info))
        out.append((obs.tobytes(), r))
        steps += 1
        if term or (n_steps is not None and steps >= n_steps):
            break
    return out


def test_env__same_seed_same_episode_bit_for_bit():
    a = gym.make(ENV_ID, bandwidth_mbps="3g")
    b = gym.make(ENV_ID, bandwidth_mbps="3g")
    pol = make_policy("queue_aware")
    ta, tb = _trajectory(a, 7, pol), _trajectory(b, 7, pol)
    assert ta == tb
    ra, rb = a.unwrapped.records(), b.unwrapped.records()
    for field in ra.__dataclass_fields__:
        assert np.array_equal(getattr(ra, field), getattr(rb, field), equal_nan=True), field
    assert _trajectory(a, 8, pol) != ta  # another seed draws other arrivals


def test_env__pickled_mid_episode_continues_identically():
    env = gym.make(ENV_ID, bandwidth_mbps="4g")
    pol = make_policy("queue_aware")
    obs, info = env.reset(seed=3)
    for _ in range(40):
        obs, *_, info = env.step(pol(obs, info))
    clone = pickle.loads(pickle.dumps(env))
    c_obs, c_info = obs.copy(), info
    rest, rest_clone = [], []
    for e, o, i, out in ((env, obs, info, rest), (clone, c_obs, c_info, rest_clone)):
        while True:
            o, r, term, _, i = e.step(pol(o, i))
            out.append((o.tobytes(), r))
            if term:
                out.append(i["metrics"]["makespan_s"])
                break
    assert rest == rest_clone


@pytest.mark.parametrize("objective", ["makespan", "mean_latency"])
@pytest.mark.parametrize("bandwidth", ["3g", "4g", 0.0])
def test_env__return_is_minus_the_objective_for_every_baseline(objective, bandwidth):
    env = gym.make(ENV_ID, bandwidth_mbps=bandwidth, objective=objective)
    key = "makespan_s" if objective == "makespan" else "mean_latency_s"
    names = [p for p in PAPER_POLICIES if not (bandwidth == 0.0 and p == "cloud_only")]
    for name in names + ["fixed"]:
        pol = make_policy(name, cut=11) if name == "fixed" else make_policy(name)
        ep = rollout(env, pol, seed=11)
        assert math.isclose(ep.episode_return, -ep.metrics[key], rel_tol=1e-9), name
        lat = ep.records.completion_s - ep.records.arrival_s
        assert math.isclose(ep.metrics["mean_latency_s"], lat.mean(), rel_tol=1e-12)
        assert ep.metrics["makespan_s"] == ep.records.completion_s.max()
        assert sum(ep.metrics["cut_histogram"]) == ep.metrics["n_tasks"] == 150


def test_env__decision_context_and_cut_table():
    env = gym.make(ENV_ID, model="toy", bandwidth_mbps=0.008, n_edges=3)
    obs, info = env.reset(seed=0)
    d = info["decision"]
    assert {"edge", "frame", "time_s", "edge_s", "transfer_s", "cloud_s", "cloud_free_at_s",
            "link_free_at_s", "sq_cloud_free_at_s", "sq_link_cloud_free_at_s",
            "mask"} <= set(d)
    assert d["frame"] == 0 and 0 <= d["edge"] < 3
    assert d["transfer_s"].tolist() == [2.0, 1.0, 0.5, 0.0]
    rows = env.unwrapped.cut_table.describe()
    assert [r["edge_layers"] for r in rows] == [(), ("l1",), ("l1", "l2"), ("l1", "l2", "l3")]
    assert obs.shape == (4 * 4 + 10,)
    assert len(env.unwrapped.observation_fields()) == obs.shape[0]
    # first block: log1p(edge time per cut / whole-model edge time (4 s))
    np.testing.assert_allclose(obs[:4], np.log1p([0.0, 0.25, 0.75, 1.0]), rtol=1e-6)
    assert env.observation_space.high.max() == np.float32(np.log1p(1e4))
    # infos are fresh objects every call (users may keep them)
    _, _, _, _, info2 = env.step(1)
    assert info2["decision"]["edge_s"] is not d["edge_s"]


def test_env__reset_options_override_one_episode_only():
    env = gym.make(ENV_ID, model="toy", bandwidth_mbps=1.0, n_edges=2, frames_per_edge=3)
    ep = rollout(env, make_policy("single_cut"), seed=0,
                 options={"n_edges": 4, "frames_per_edge": 2, "bandwidth_mbps": 0.0})
    assert ep.metrics["n_tasks"] == 8
    assert set(ep.actions.tolist()) == {3}  # bandwidth 0: edge-only
    ep = rollout(env, make_policy("single_cut"), seed=0)
    assert ep.metrics["n_tasks"] == 6
    with pytest.raises(ConfigError, match=r"options\['bandwidth'\]: unknown reset option"):
        env.reset(options={"bandwidth": 3})
    with pytest.raises(ConfigError, match=r"arrival_times_s\[0\]\[1\]=1\.0: arrivals must be "
                                          r"non-decreasing"):
        env.reset(options={"arrival_times_s": [[2.0, 1.0]]})
    with pytest.raises(ConfigError, match=r"arrival_times_s\[1\]\[0\]=-1\.0"):
        env.reset(options={"arrival_times_s": [[0.0], [-1.0]]})


BAD_KWARGS = [
    ({"bandwidth_mbps": -1.0}, ConfigError, r"bandwidth_mbps=-1\.0: expected a finite number"),
    ({"bandwidth_mbps": "5g"}, ConfigError, r"bandwidth_mbps='5g'"),
    ({"uplink": "mesh"}, ConfigError, r"uplink='mesh': expected one of"),
    ({"n_edges": 0}, ConfigError, r"n_edges=0: expected a whole number >= 1"),
    ({"frames_per_edge": 2.5}, ConfigError, r"frames_per_edge=2\.5"),
    ({"queue_capacity": 0}, ConfigError, r"queue_capacity=0"),
    ({"cloud_workers": -2}, ConfigError, r"cloud_workers=-2"),
    ({"fps": (15.0, 5.0)}, ConfigError, r"fps=\(15\.0, 5\.0\)"),
    ({"fps": 0}, ConfigError, r"fps=0"),
    ({"phase_s": [0.0]}, ConfigError, r"phase_s=\(0\.0,\): expected None or 5 finite phases"),
    ({"objective": "power"}, ConfigError, r"objective='power'"),
    ({"model": "resnet1000"}, ProfileError, r"no shipped profile 'resnet1000'"),
    ({"edge_device": "jetson"}, ProfileError, r"edge_device='jetson'"),
    ({"bandwith_mbps": 3.0}, TypeError, r"bandwith_mbps"),
]


@pytest.mark.parametrize("kwargs,exc,pattern", BAD_KWARGS,
                         ids=[next(iter(k)) + "=" + repr(next(iter(k.values())))
                              for k, _, _ in BAD_KWARGS])
def test_env__bad_kwargs_raise_naming_the_field(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        gym.make(ENV_ID, **kwargs)


def test_env__invalid_actions_and_misuse():
    env = EdgeCloudEnv(model="toy")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action=4: expected a cut index in 0\.\.3"):
        env.step(4)
    with pytest.raises(ValueError, match=r"action=-1"):
        env.step(-1)
    ep = rollout(env, make_policy("edge_only"), seed=0)
    assert ep.metrics["n_tasks"] == 150
    with pytest.raises(RuntimeError, match="no pending decision"):
        env.step(3)
    with pytest.raises(ValueError, match=r"cut=7: this model has cuts 0\.\.3"):
        rollout(env, make_policy("fixed", cut=7), seed=0)
    with pytest.raises(ValueError, match=r"policy='nope': unknown policy"):
        make_policy("nope")


def test_core__imports_and_runs_without_gymnasium():
    code = (
        "import sys; sys.modules['gymnasium'] = None\n"
        "from splitgym.envs.core import Simulator, SimConfig\n"
        "from splitgym.profiles import load_profile, make_cut_table\n"
        "sim = Simulator(make_cut_table(load_profile('toy')), SimConfig(bandwidth_mbps=0.008))\n"
        "ctx = sim.reset([[0.0, 0.0, 0.0]])\n"
        "while ctx is not None: ctx = sim.decide(0)\n"
        "assert sim.makespan_s == 7.0, sim.makespan_s\n"
        "assert not any(m == 'gymnasium' or m.startswith('gymnasium.') for m in sys.modules\n"
        "               if sys.modules[m] is not None)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_env__every_registered_id_passes_check_env_and_presets_apply():
    from splitgym.envs.scenarios import SCENARIOS, env_id

    ids = [k for k in gym.registry if k.startswith("splitgym/")]
    assert len(ids) == 1 + len(SCENARIOS)
    for env_name in ids:
        env = gym.make(env_name, frames_per_edge=4)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gym_check_env(env.unwrapped, skip_render_check=True)
        ep = rollout(env, make_policy("greedy_eft"), seed=0)
        assert math.isclose(ep.episode_return, -ep.metrics["deadline_miss_rate"]
                            if "deadline_miss_rate" in ep.metrics and
                            env.unwrapped.objective == "deadline_miss"
                            else -ep.metrics["makespan_s"], rel_tol=1e-9, abs_tol=1e-12)
    mixed = gym.make(env_id("mixed-fleet")).unwrapped
    assert mixed.workload.n_edges == 6 and mixed.sim_config.bandwidth_mbps == 1.1
    # explicit arguments win over the preset's
    assert gym.make(env_id("paper-3g"), bandwidth_mbps=2.0).unwrapped \
        .sim_config.bandwidth_mbps == 2.0
    with pytest.raises(ConfigError, match="scenario='moon'"):
        EdgeCloudEnv(scenario="moon")
