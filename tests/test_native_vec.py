"""`NativeVecEnv` (SB3 over the compiled vector env) against a `DummyVecEnv` of single
envs: the same episodes, the same SB3 conventions, the same learning curve bits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks

from splitgym.agents.train import make_train_vec_env, train_seed, vec_kind
from splitgym.agents.vecenv import NativeVecEnv
from splitgym.envs.core.config import ConfigError

# short episodes (2 edges x 3 frames = 6 decisions), so a few dozen steps cross many
# same-step resets
TOY = {"model": "toy", "bandwidth_mbps": 0.008, "n_edges": 2, "frames_per_edge": 3}


def _pair(n_envs=3, seed=5, **kw):
    env_kwargs = dict(TOY, **kw)
    return (make_train_vec_env(env_kwargs, False, n_envs, seed, "dummy"),
            make_train_vec_env(env_kwargs, False, n_envs, seed, "native"))


@pytest.mark.parametrize("kw", [{}, {"bandwidth_mbps": 0.0}, {"objective": "mean_latency"},
                                {"observation_version": 1, "deadline_s": 0.5}])
def test_native_vec__steps_as_a_dummy_vec_env_of_single_envs(kw):
    dummy, native = _pair(**kw)
    assert isinstance(native.unwrapped, NativeVecEnv)  # in a VecMonitor
    assert native.observation_space == dummy.observation_space
    rng = np.random.default_rng(0)
    o_d, o_n = dummy.reset(), native.reset()
    assert o_n.dtype == np.float32 and np.array_equal(o_d, o_n)
    ends = 0
    for _ in range(40):
        m_d, m_n = get_action_masks(dummy), get_action_masks(native)
        assert m_n.shape == (3, 4) and np.array_equal(m_d, m_n)
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in m_d])
        o_d, r_d, d_d, i_d = dummy.step(actions)
        o_n, r_n, d_n, i_n = native.step(actions)
        assert np.array_equal(o_d, o_n)
        assert r_n.dtype == r_d.dtype == np.float32 and np.array_equal(r_d, r_n)
        assert np.array_equal(d_d, d_n)
        for a, b in zip(i_d, i_n, strict=True):
            assert ("terminal_observation" in a) == ("terminal_observation" in b)
            if "terminal_observation" in a:
                ends += 1
                assert np.array_equal(a["terminal_observation"], b["terminal_observation"])
                assert a["metrics"] == b["metrics"]
                assert b["TimeLimit.truncated"] is False
                # the episode's return and length, as SB3's rollout/ep_rew_mean reads
                # them (Monitor rounds the return to 6 decimals)
                assert a["episode"]["l"] == b["episode"]["l"]
                assert b["episode"]["r"] == pytest.approx(a["episode"]["r"], abs=1e-5)
    assert ends >= 3 * 5  # every env crossed several same-step resets


def test_native_vec__same_seeds_give_the_same_learning_curve_bits():
    """A short MaskablePPO run (rollouts across episode ends, two updates) on the
    native vector env ends with exactly the parameters of the same run on a DummyVecEnv
    of single envs: same observations, rewards (float32), dones, masks, and the same
    torch computations on them."""
    params = []
    for venv in _pair(n_envs=3, seed=2):
        model = MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=2,
                            seed=2, device="cpu", policy_kwargs={"net_arch": [8, 8]})
        venv.seed(train_seed(2))
        model.learn(96)
        params.append(torch.nn.utils.parameters_to_vector(model.policy.parameters())
                      .detach().numpy().copy())
    assert params[0].shape == params[1].shape and np.array_equal(params[0], params[1])


def test_native_vec__seed_then_reset_starts_env_i_from_seed_plus_i():
    _, native = _pair(n_envs=2, seed=0)
    native.seed(7)
    a = native.reset()
    single = make_train_vec_env(TOY, False, 1, 0, "native")
    single.seed(8)
    assert np.array_equal(a[1], single.reset()[0])
    native.seed(7)
    assert np.array_equal(native.reset(), a)


def test_native_vec__a_bad_action_is_the_single_envs_error_and_moves_nothing():
    _, native = _pair(bandwidth_mbps=0.0)  # only the edge-only cut (3) is feasible
    obs = native.reset()
    with pytest.raises(Exception, match="infeasible|bandwidth"):
        native.step(np.array([3, 0, 3]))
    o, _, _, _ = native.step(np.array([3, 3, 3]))
    ref = make_train_vec_env(dict(TOY, bandwidth_mbps=0.0), False, 3, 5, "native")
    assert np.array_equal(obs, ref.reset())
    assert np.array_equal(o, ref.step(np.array([3, 3, 3]))[0])


def test_vec_kind__native_for_every_scenario_else_dummy():
    assert vec_kind(TOY, False, "auto") == "native"
    assert vec_kind(TOY, True, "auto") == "native"  # scenario redrawn per episode too
    for name in ("cellular-markov", "rush-hour", "mixed-fleet"):
        assert vec_kind({"model": "alexnet", "scenario": name}, False, "auto") == "native"
    assert vec_kind(dict(TOY, engine="python"), False, "auto") == "dummy"
    with pytest.raises(ValueError, match="--vec=native"):
        vec_kind(dict(TOY, engine="python"), False, "native")
    with pytest.raises(ValueError, match="--vec='fast'"):
        vec_kind(TOY, False, "fast")
    with pytest.raises(ConfigError, match="engine='python'"):
        NativeVecEnv(2, {"model": "alexnet", "scenario": "mixed-fleet", "engine": "python"})


def test_native_vec__predicted_makespan_shaping_keeps_the_return_minus_the_makespan():
    """Shaping changes when a decision is charged, not what an episode is worth: the
    shaped rewards of an episode sum to minus its makespan (float32 rounding), and the
    episodes themselves are the unshaped env's."""
    kw = dict(TOY, n_edges=3, frames_per_edge=4)
    shaped = NativeVecEnv(2, kw, shaping="predicted_makespan")
    plain = NativeVecEnv(2, kw)
    shaped.seed(1)
    plain.seed(1)
    assert np.array_equal(shaped.reset(), plain.reset())
    rng = np.random.default_rng(1)
    ret, returns, differs = np.zeros(2), [], False
    for _ in range(60):
        actions = rng.integers(0, 4, 2)
        o_s, r_s, d_s, i_s = shaped.step(actions)
        o_p, r_p, d_p, _ = plain.step(actions)
        assert np.array_equal(o_s, o_p) and np.array_equal(d_s, d_p)
        differs |= not np.array_equal(r_s, r_p)
        ret += r_s
        for j in np.flatnonzero(d_s):
            returns.append((ret[j], -i_s[j]["metrics"]["makespan_s"]))
            ret[j] = 0.0
    assert len(returns) >= 8 and differs
    for got, want in returns:
        assert got == pytest.approx(want, rel=1e-5)
    with pytest.raises(ConfigError, match="needs objective='makespan'"):
        NativeVecEnv(2, dict(TOY, objective="mean_latency"), shaping="predicted_makespan")


def test_native_vec__randomized_scenarios_step_as_a_dummy_vec_env_bit_for_bit():
    # --randomize on the native vector env: each row redraws bandwidth, edges and queue
    # per episode (rows then differ in configuration, padded per row) exactly as
    # RandomizedScenario does for the single envs of a DummyVecEnv
    env_kwargs = dict(TOY, frames_per_edge=2)
    dummy = make_train_vec_env(env_kwargs, True, 3, 5, "dummy")
    native = make_train_vec_env(env_kwargs, True, 3, 5, "native")
    assert isinstance(native.unwrapped, NativeVecEnv)
    assert vec_kind(env_kwargs, True, "auto") == "native"
    rng = np.random.default_rng(0)
    assert np.array_equal(dummy.reset(), native.reset())
    ends, edges = 0, set()
    for _ in range(60):
        m_d, m_n = get_action_masks(dummy), get_action_masks(native)
        assert np.array_equal(m_d, m_n)
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in m_d])
        o_d, r_d, d_d, i_d = dummy.step(actions)
        o_n, r_n, d_n, i_n = native.step(actions)
        assert np.array_equal(o_d, o_n) and np.array_equal(r_d, r_n)
        assert np.array_equal(d_d, d_n)
        for a, b in zip(i_d, i_n, strict=True):
            if "terminal_observation" in a:
                ends += 1
                assert a["metrics"] == b["metrics"]
                edges.add(a["metrics"]["n_tasks"])
    assert ends >= 6 and len(edges) >= 3  # several episode shapes across the rows
