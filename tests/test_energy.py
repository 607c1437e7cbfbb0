"""Edge energy (`splitgym.envs.core.energy`), the energy objectives (the seam's
`EnergyMeter`) and Neurosurgeon's energy mode: hand-computed goldens on the toy profile,
both engines bit for bit, the vector env, and the named errors."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from splitgym.baselines import make_policy
from splitgym.envs import rollout
from splitgym.envs.core.config import ConfigError
from splitgym.envs.edge_cloud import EdgeCloudEnv
from splitgym.envs.vector import EdgeCloudVectorEnv
from splitgym.profiles.schema import ProfileError, load_profile

# The toy profile at 0.008 Mbit/s (a transfer takes bytes / 1000 s); its edge draws
# idle 1 W, computing 3 W; its 4G radio adds 2 + 125 * 0.008 = 3 W while sending and
# 0.5 W for 1 s after; its 3G radio 1 + 250 * 0.008 = 3 W, tail 0.25 W for 2 s.
# One edge, frames at t = 0 and 1; cut 1 (Te 1 s, 1000 B) then cut 2 (Te 3 s, 500 B):
#   frame 0: edge [0, 1], link [1, 2], cloud [2, 2.75]
#   frame 1: edge [1, 4], link [4, 4.5], cloud [4.5, 4.75]; the window ends at 4.75
# 4G: idle 1 x 4.75 = 4.75; computing (3 - 1) x (1 + 3) = 8;
#     sending 2 x 1 + 125 x 0.008 Mbit = 3 and 2 x 0.5 + 125 x 0.004 = 1.5;
#     tails 0.5 x (min(2 + 1, next start 4) - 2) = 0.5 and 0.5 x (4.75 - 4.5) = 0.125
#     -> 17.875 J, 8.9375 J per frame.
#     By the second decision (t = 1): idle 1 + computing 2 x 1 = 3 J.
# 3G: sending 1 x 1 + 250 x 0.008 = 3 and 1 x 0.5 + 250 x 0.004 = 1.5; tails
#     0.25 x (min(2 + 2, 4) - 2) = 0.5 and 0.25 x 0.25 = 0.0625
#     -> 4.75 + 8 + 4.5 + 0.5625 = 17.8125 J.
TOY = {"model": "toy", "bandwidth_mbps": 0.008, "n_edges": 1, "frames_per_edge": 2,
       "fps": 1.0, "phase_s": [0.0]}


def _play(env: EdgeCloudEnv, cuts: list[int], seed: int = 0) -> tuple[list[float], dict]:
    env.reset(seed=seed)
    rewards = []
    for cut in cuts:
        _, reward, term, _, info = env.step(cut)
        rewards.append(reward)
    assert term
    return rewards, info["metrics"]


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_energy__toy_golden(engine):
    env = EdgeCloudEnv(**TOY, objective="energy", engine=engine)
    rewards, m = _play(env, [1, 2])
    assert env._compiled == (engine == "compiled")
    assert m["edge_energy_j"] == pytest.approx(17.875, rel=1e-12)
    assert m["mean_frame_energy_j"] == pytest.approx(8.9375, rel=1e-12)
    assert rewards == pytest.approx([-3.0, -14.875], rel=1e-12)
    assert m["makespan_s"] == 4.75


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_makespan_energy__toy_golden(engine):
    # makespan rewards -1 (0 -> 1) and -3.75 (1 -> 4.75), minus 0.1 s/J x (3, 14.875) J:
    # -1.3 and -5.2375; the return is -(4.75 + 0.1 x 17.875) = -6.5375
    env = EdgeCloudEnv(**TOY, objective="makespan_energy", energy_weight_s_per_j=0.1,
                       engine=engine)
    rewards, _ = _play(env, [1, 2])
    assert rewards == pytest.approx([-1.3, -5.2375], rel=1e-12)


def test_radio__3g_golden_and_the_bandwidth_default():
    env = EdgeCloudEnv(**TOY, radio="3g")
    _, m = _play(env, [1, 2])
    assert m["edge_energy_j"] == pytest.approx(17.8125, rel=1e-12)
    # no radio given: 4G figures, except at the 3G preset rate
    assert EdgeCloudEnv(**TOY).energy_meter(1, EdgeCloudEnv(**TOY).sim_config,
                                            "makespan").model.radio == "4g"
    env3 = EdgeCloudEnv(model="toy", bandwidth_mbps="3g")
    assert env3.energy_meter(5, env3.sim_config, "makespan").model.radio == "3g"


def test_energy__every_objective_reports_it_and_rewards_sum_to_minus_it():
    env = EdgeCloudEnv(model="toy", bandwidth_mbps=0.008, n_edges=3, frames_per_edge=5,
                       fps=0.5, objective="energy")
    policy = make_policy("queue_aware")
    obs, info = env.reset(seed=3)
    total, done = 0.0, False
    while not done:
        obs, r, done, _, info = env.step(policy(obs, info))
        assert r <= 0.0
        total += r
    assert total == pytest.approx(-info["metrics"]["edge_energy_j"], rel=1e-12)
    _, m = _play(EdgeCloudEnv(**TOY), [1, 2])  # the makespan objective reports it too
    assert m["edge_energy_j"] == pytest.approx(17.875, rel=1e-12)


PAPER_LIKE = [
    {"model": "alexnet"},
    {"model": "alexnet", "bandwidth_mbps": "3g", "objective": "energy"},
    {"model": "darknet19", "objective": "makespan_energy", "energy_weight_s_per_j": 0.05,
     "transfer_encoding": "int8"},
    {"model": "alexnet", "bandwidth_mbps": [(0.0, 5.85), (3.0, 1.1), (9.0, 0.0)],
     "edge_device": ["rpi3b", "rpi3b-paperfit", "rpi3b"], "edge_speed": [1.0, 2.0, 0.5],
     "n_edges": 3, "frames_per_edge": [4, 9, 6], "deadline_s": 20.0, "drop_late": True,
     "objective": "energy", "transfer_encoding": "float16"},
    {"model": "toy", "bandwidth_mbps": 0.02, "objective": "energy", "radio": "wifi",
     "transfer_encoding": "float16", "n_edges": 3, "frames_per_edge": 6, "fps": 0.3},
    # the rate estimate moves at every completed transfer (a new prediction per context),
    # and a zero-rate state makes transfers impossible (inf)
    {"model": "alexnet", "bandwidth_per_edge": True, "bandwidth_estimator": "ewma",
     "bandwidth_mbps": {"kind": "markov", "rates_mbps": [8.0, 0.5, 0.0],
                        "mean_dwell_s": [2.0, 1.0, 0.5]}},
]


@pytest.mark.parametrize("kwargs", PAPER_LIKE)
def test_engines__bit_identical_with_energy_and_encodings(kwargs):
    rng = np.random.default_rng(7)
    out = []
    for engine in ("python", "compiled"):
        env = EdgeCloudEnv(**kwargs, engine=engine)
        obs, info = env.reset(seed=11)
        assert env._compiled == (engine == "compiled")
        rewards, ctxs, done = [], [], False
        rng = np.random.default_rng(7)
        while not done:
            ctxs.append(info["decision"]["edge_energy_j"].tobytes())
            cut = int(rng.choice(np.flatnonzero(info["action_mask"])))
            obs, r, done, _, info = env.step(cut)
            rewards.append(r)
        out.append((rewards, ctxs, info["metrics"]))
    assert out[0] == out[1]
    assert math.isfinite(out[0][2]["edge_energy_j"])


@pytest.mark.parametrize("objective", ["makespan", "energy"])
def test_vector_env__matches_single_envs_with_energy(objective):
    kwargs = {"model": "toy", "bandwidth_mbps": 0.008, "n_edges": 2, "frames_per_edge": 3,
              "fps": 0.5, "objective": objective, "transfer_encoding": "int8"}
    vec = EdgeCloudVectorEnv(num_envs=2, **kwargs)
    assert (vec._batch is not None) == (objective == "makespan")  # energy: single envs
    vec.reset(seed=5)
    singles = [EdgeCloudEnv(**kwargs, engine="python") for _ in range(2)]
    for i, env in enumerate(singles):
        env.reset(seed=5 + i)
    metrics = [None, None]
    for _ in range(6):
        _, rewards, term, _, infos = vec.step(np.array([1, 2]))
        for i, env in enumerate(singles):
            _, r, t, _, info = env.step([1, 2][i])
            assert rewards[i] == r and term[i] == t
            if t:
                metrics[i] = info["metrics"]
    assert term.all()
    for i in range(2):
        assert infos["metrics"][i] == metrics[i]
        assert "edge_energy_j" in metrics[i]


def test_neurosurgeon_energy__picks_the_least_predicted_energy():
    # toy at 0.008 Mbit/s, 4G: predicted per cut (3 - 1) x Te + 3 W x Tt:
    # cut 0: 0 + 3 x 2 = 6; cut 1: 2 + 3 = 5; cut 2: 6 + 1.5 = 7.5; cut 3: 8 -> cut 1
    env = EdgeCloudEnv(**TOY)
    obs, info = env.reset(seed=0)
    assert info["decision"]["edge_energy_j"] == pytest.approx([6.0, 5.0, 7.5, 8.0])
    assert make_policy("neurosurgeon_energy")(obs, info) == 1
    # at bandwidth 0 only edge-only is feasible (offloading cuts predict inf)
    env0 = EdgeCloudEnv(model="toy", bandwidth_mbps=0.0)
    obs, info = env0.reset(seed=0)
    assert make_policy("neurosurgeon_energy")(obs, info) == 3


def test_errors__named():
    with pytest.raises(ConfigError, match="energy_weight_s_per_j=-1"):
        EdgeCloudEnv(model="toy", objective="makespan_energy", energy_weight_s_per_j=-1)
    with pytest.raises(ConfigError, match="energy_weight_s_per_j='x'"):
        EdgeCloudEnv(model="toy", objective="makespan_energy", energy_weight_s_per_j="x")
    with pytest.raises(ConfigError, match="needs energy_weight_s_per_j > 0"):
        EdgeCloudEnv(model="toy", objective="makespan_energy")
    with pytest.raises(ConfigError, match="only objective='makespan_energy' weighs"):
        EdgeCloudEnv(model="toy", energy_weight_s_per_j=0.5)
    with pytest.raises(ConfigError, match="radio='5g'"):
        EdgeCloudEnv(model="toy", radio="5g")
    with pytest.raises(ConfigError, match="objective='energy': edge device 'host'.*power"):
        EdgeCloudEnv(model="alexnet", edge_device="host", objective="energy")
    env = EdgeCloudEnv(model="alexnet", edge_device="host")  # no figures: no energy metrics
    with pytest.raises(ConfigError, match="objective='energy'"):
        env.reset(options={"objective": "energy"})
    obs, info = env.reset(seed=0)
    assert "edge_energy_j" not in info["decision"]
    with pytest.raises(ValueError, match="no 'edge_energy_j'"):
        make_policy("neurosurgeon_energy")(obs, info)


@pytest.mark.parametrize("block, match", [
    ({"power": {"idle_w": 1.0, "compute_w": 3.0}}, r"power.provenance"),
    ({"power": {"idle_w": -1.0, "compute_w": 3.0, "provenance": "x"}}, r"power.idle_w"),
    ({"power": {"idle_w": 2.0, "compute_w": 1.0, "provenance": "x"}},
     r"power.compute_w: 1 W is below idle_w 2 W"),
    ({"radio": {"5g": {}, "provenance": "x"}}, r"radio\['5g'\]: unknown key"),
    ({"radio": {"4g": {"tx_base_w": 1.0}, "provenance": "x"}}, r"radio\['4g'\].tx_w_per_mbps"),
    ({"codecs": {"int8": {"encode_fixed_s": "1", "encode_s_per_mb": 0, "decode_fixed_s": 0,
                          "decode_s_per_mb": 0}, "provenance": "x"}},
     r"codecs\['int8'\].encode_fixed_s"),
])
def test_profile__bad_device_figures_are_named(block, match):
    doc = load_profile("toy").to_dict()
    doc["devices"]["cloud"] = {"description": "c", **block}
    with pytest.raises(ProfileError, match=r"devices\['cloud'\]\." + match):
        load_profile(doc)


def test_evaluate__reports_the_energy_objectives():
    from splitgym.experiments.evaluate import evaluate_policies, format_table

    kwargs = {**TOY, "objective": "makespan_energy", "energy_weight_s_per_j": 0.1}
    res = evaluate_policies(kwargs, ["edge_only", "neurosurgeon_energy"], seeds=[0],
                            progress=False, plan_evaluations=None)
    env = EdgeCloudEnv(**TOY)
    _, m = _play(env, [3, 3])  # edge-only: two frames of 4 s, back to back
    # 1 W idle for 8 s plus 2 W more computing 8 s = 24 J; makespan 8 s -> 8 + 2.4
    assert m["edge_energy_j"] == pytest.approx(24.0, rel=1e-12)
    assert res[0].objective_value == pytest.approx(8.0 + 0.1 * 24.0, rel=1e-12)
    assert "weighted" in format_table(res)


def test_reset_options__switch_to_an_energy_objective_for_one_episode():
    env = EdgeCloudEnv(**TOY)  # makespan
    with pytest.raises(ConfigError, match="needs energy_weight_s_per_j > 0"):
        env.reset(options={"objective": "makespan_energy"})
    with pytest.raises(ConfigError, match="energy_weight_s_per_j=-2"):
        env.reset(options={"objective": "makespan_energy", "energy_weight_s_per_j": -2})
    env.reset(seed=0, options={"objective": "makespan_energy", "energy_weight_s_per_j": 0.1})
    _, r1, *_ = env.step(1)
    _, r2, *_ = env.step(2)
    assert [r1, r2] == pytest.approx([-1.3, -5.2375], rel=1e-12)  # the golden above
    rewards, _ = _play(env, [1, 2])  # no options: the constructor's makespan again
    assert rewards == [-1.0, -3.75]


def test_sb3_native_vec_env__energy_objectives_go_to_single_envs():
    from splitgym.agents.vecenv import NativeVecEnv, is_native

    assert is_native({"model": "toy"}) and not is_native({"model": "toy",
                                                          "objective": "energy"})
    with pytest.raises(ConfigError, match="objective='energy' is stepped by single envs"):
        NativeVecEnv(2, {"model": "toy", "objective": "energy"})
    v = NativeVecEnv(2, {**TOY, "transfer_encoding": "float16"})  # metrics: energy too
    v.reset()
    v.step_async(np.array([1, 1]))
    v.step_wait()
    v.step_async(np.array([2, 2]))
    _, _, done, infos = v.step_wait()
    assert done.all() and all("edge_energy_j" in i["metrics"] for i in infos)


def test_mean_frame_energy__is_per_frame_served_when_frames_are_dropped():
    # rush-hour drops late frames; a dropped frame costs the edge only idle power, so
    # per frame *served* is the honest figure (counting drops made edge_only look best)
    env = gym.make("splitgym/EdgeCloud-v0", scenario="rush-hour", model="alexnet",
                   n_edges=2, frames_per_edge=20)
    ep = rollout(env, make_policy("edge_only"), seed=3)
    m = ep.metrics
    served = int(np.count_nonzero(~np.asarray(ep.records.dropped)))
    assert m["n_dropped"] > 0 and served > 0
    assert m["mean_frame_energy_j"] == m["edge_energy_j"] / served


@pytest.mark.parametrize("objective", ["energy", "makespan_energy"])
def test_best_known__plans_the_energy_objectives(objective):
    # best_known scores its plans by the env's own meter: never worse than a seed it
    # starts from, and its metrics are the env's (it used to raise KeyError: 'energy')
    kw = {"model": "alexnet", "bandwidth_mbps": "3g", "n_edges": 2, "frames_per_edge": 4,
          "objective": objective}
    if objective == "makespan_energy":
        kw["energy_weight_s_per_j"] = 0.05
    env = gym.make("splitgym/EdgeCloud-v0", **kw)

    def value(m):
        if objective == "energy":
            return m["edge_energy_j"]
        return m["makespan_s"] + 0.05 * m["edge_energy_j"]

    best = value(rollout(env, make_policy("best_known"), seed=0).metrics)
    for name in ["single_cut", "edge_only", "cloud_only", "sq_lookahead"]:
        assert best <= value(rollout(env, make_policy(name), seed=0).metrics) + 1e-9, name
