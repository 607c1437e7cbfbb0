"""The native vector env gives exactly the episodes of N single envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from helpers.lockstep import step_rows  # tests/helpers

import splitgym.envs  # noqa: F401
from splitgym.envs import ENV_ID, EdgeCloudEnv
from splitgym.envs.core import InvalidActionError
from splitgym.envs.core.config import ConfigError
from splitgym.envs.vector import EdgeCloudVectorEnv

KW = dict(model="toy", bandwidth_mbps=0.5, n_edges=2, frames_per_edge=3)


def _actions(masks, step):
    # a deterministic, mask-respecting action per env: cycle through the feasible cuts
    return np.array([np.flatnonzero(m)[(step + i) % m.sum()] for i, m in enumerate(masks)])


CONFIGS = [
    KW,  # the compiled kernel
    dict(KW, uplink="shared", cloud_workers=2, queue_capacity=1),
    dict(model="alexnet", bandwidth_mbps="3g", n_edges=3, frames_per_edge=2,
         objective="mean_latency"),
    dict(model="resnet18", bandwidth_mbps=0.0, n_edges=2, frames_per_edge=2),
    dict(KW, fps=10.0, phase_s=[0.0, 0.05]),  # fixed rate and phases
    dict(KW, arrivals="poisson"),
    dict(KW, edge_speed=[1.0, 2.0]),  # a fleet
    # changing conditions: each sub-env draws its own traces; masks change with them
    dict(KW, bandwidth_mbps={"kind": "markov", "rates_mbps": [4.0, 0.5, 0.0],
                             "mean_dwell_s": [1.0, 0.5, 0.3]}, bandwidth_per_edge=True,
         bandwidth_estimator="ewma"),
    dict(KW, edge_bandwidth_mbps=[[(0.0, 2.0), (0.7, 0.0), (1.5, 5.0)], 0.0]),
    dict(KW, frames_per_edge=[1, 4], deadline_s=0.3, drop_late=True,
         objective="deadline_miss"),
    dict(KW, uplink="shared", predictor="fluid", deadline_s=0.5, objective="mean_latency"),
    # Markov traces drawn into the rows with unequal frame counts: the rows' link masks
    # are the traces' (offloading feasible), not the nominal 0 Mbit/s one's
    dict(KW, bandwidth_mbps=0.0, frames_per_edge=[1, 3], edge_bandwidth_mbps=[
        {"kind": "markov", "rates_mbps": [4.0, 0.5], "mean_dwell_s": [1.0, 0.5]}] * 2),
    # observation version 1 (its extra scalars: measured rates, deadline slack, queue)
    dict(KW, bandwidth_mbps={"kind": "markov", "rates_mbps": [4.0, 0.5, 0.0],
                             "mean_dwell_s": [1.0, 0.5, 0.3]}, bandwidth_per_edge=True,
         bandwidth_estimator="ewma", deadline_s=0.3, observation_version=1),
    dict(KW, arrivals="bursty", observation_version=1),
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_vector__bit_for_bit_with_single_envs_across_autoresets(kw):
    n = 4
    venv = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **kw)
    assert isinstance(venv.unwrapped, EdgeCloudVectorEnv)
    singles = [EdgeCloudEnv(engine="python", **kw) for _ in range(n)]  # the reference
    obs, info = venv.reset(seed=7)
    assert venv.unwrapped._use_kernel
    s_obs = [e.reset(seed=7 + i)[0] for i, e in enumerate(singles)]
    assert np.array_equal(info["action_mask"], np.stack([e.action_masks() for e in singles]))
    assert np.array_equal(obs, np.stack(s_obs))
    pending = [False] * n
    episodes = 0
    for step in range(40):  # a few decisions an episode: several autoresets per env
        acts = _actions(info["action_mask"], step)
        obs, rew, term, trunc, info = venv.step(acts)
        # next-step autoreset; rows' observations, rewards, masks and metrics compared
        episodes += len(step_rows(singles, acts, pending, obs, rew, term, info))
    assert episodes >= n and not trunc.any()


def test_vector__batched_spaces_and_errors():
    venv = EdgeCloudVectorEnv(3, **KW)
    assert venv.observation_space.shape == (3, *venv.single_observation_space.shape)
    venv.reset(seed=0)
    assert venv.action_masks().shape == (3, 4)
    with pytest.raises(ValueError, match=r"actions: expected shape \(3,\)"):
        venv.step(np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="num_envs=0"):
        EdgeCloudVectorEnv(0, **KW)


@pytest.mark.parametrize("compiled", [True, False])
def test_vector__infeasible_action_gets_the_single_env_message(compiled):
    venv = EdgeCloudVectorEnv(2, compiled=compiled, **dict(KW, bandwidth_mbps=0.0))
    venv.reset(seed=0)
    assert venv._use_kernel == compiled
    with pytest.raises(InvalidActionError, match=r"action=0: cut 0 is infeasible at "
                                                 r"bandwidth_mbps=0\.0"):
        venv.step(np.array([3, 0]))
    with pytest.raises(InvalidActionError, match=r"action=7: expected a cut index in 0\.\.3"):
        venv.step(np.array([7, 3]))


def test_vector__threads_give_the_same_bits():
    # 7 envs on 3 threads: blocks of 3, 3 and 1 envs, each thread with its own scratch;
    # every output equals the one-thread run across autoresets
    kw = dict(model="alexnet", bandwidth_mbps="4g", n_edges=3, frames_per_edge=4)
    one, many = EdgeCloudVectorEnv(7, threads=1, **kw), EdgeCloudVectorEnv(7, threads=3, **kw)
    assert (one.threads, many.threads) == (1, 3)
    assert np.array_equal(one.reset(seed=5)[0], many.reset(seed=5)[0])
    rng = np.random.default_rng(0)
    for _ in range(40):  # episodes of 12 decisions
        acts = rng.integers(0, one.single_action_space.n, size=7)
        ra, rb = one.step(acts), many.step(acts)
        for x, y in zip(ra[:4], rb[:4], strict=True):
            assert np.array_equal(x, y)
        if "metrics" in ra[4]:
            assert list(ra[4]["metrics"]) == list(rb[4]["metrics"])
    assert EdgeCloudVectorEnv(64, **kw).threads == 1  # the default
    cores = EdgeCloudVectorEnv(64, threads=None, **kw).threads  # one per core, <= 64 // 16
    assert 1 <= cores <= 4


@pytest.mark.parametrize("compiled", [True, False])
def test_vector__a_refused_step_changes_nothing(compiled):
    # a bad action raises before any env moves: the run then goes on as if it never
    # happened. On the step that autoresets the ended envs (here all of them: equal
    # episode lengths) the actions are ignored, bad or not (Gymnasium's next-step autoreset)
    kw = dict(KW, bandwidth_mbps=0.0)  # cut 0 (cloud-only) is infeasible
    a, b = EdgeCloudVectorEnv(2, compiled=compiled, **kw), \
        EdgeCloudVectorEnv(2, compiled=compiled, **kw)
    a.reset(seed=3)
    b.reset(seed=3)
    good = np.array([3, 3])
    ended = np.zeros(2, dtype=bool)
    for step in range(20):  # episodes of 6 decisions: three autoreset steps
        bad = np.array([3, 0]) if step % 2 else np.array([-1, 3])
        if ended.all():
            ra = a.step(bad)
        else:
            with pytest.raises(InvalidActionError):
                a.step(bad)
            ra = a.step(good)
        rb = b.step(good)
        ended = rb[2]
        for x, y in zip(ra[:4], rb[:4], strict=True):
            assert np.array_equal(x, y)
        assert np.array_equal(ra[4]["action_mask"], rb[4]["action_mask"])


def test_cli_bench__quick_runs_and_reports_targets():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "bench", "env",
                          "--quick"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "CartPole-v1" in res.stdout and "target:" in res.stdout
    assert "memory, native vector env N=64: resident" in res.stdout and "process peak" in res.stdout


def _run(venv, steps=8):
    """The rewards of `steps` mask-respecting steps."""
    out = []
    masks = venv.action_masks()
    for k in range(steps):
        _, rew, _, _, infos = venv.step(_actions(masks, k))
        masks = infos["action_mask"].astype(bool)
        out.append(rew.copy())
    return np.array(out)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("seed, options", [(-1, {"n_edges": 2}), ([0, -1, 0], None),
                                           ([0, 1.5, 2], None), (0, {"n_edges": 0})])
def test_vector_env__a_refused_reset_changes_nothing(compiled, seed, options):
    """(issue 20) A seed below 0 in any env, or a refused option, is refused before any
    env is reseeded or reset: the episodes under way go on as if it never happened."""
    venv = EdgeCloudVectorEnv(3, compiled=compiled, **KW)
    ref = EdgeCloudVectorEnv(3, compiled=compiled, **KW)
    assert (venv._batch is not None) == compiled
    venv.reset(seed=0)
    ref.reset(seed=0)
    with pytest.raises(ConfigError, match=r"seed(\[1\])?=-1: expected None or a whole number"
                       r" >= 0|seed\[1\]=1\.5|n_edges=0"):
        venv.reset(seed=seed, options=options)
    assert np.array_equal(_run(venv), _run(ref))


@pytest.mark.parametrize("compiled", [True, False])
def test_vector_env__copy_has_its_own_rows(compiled):
    import copy

    venv = EdgeCloudVectorEnv(3, compiled=compiled, **KW)
    venv.reset(seed=0)
    twin = copy.copy(venv)
    assert twin.envs[0] is not venv.envs[0]
    a = _run(venv)
    b = _run(twin)
    assert np.isfinite(a).all() and np.array_equal(a, b)  # NaN when the rows were shared


def test_native_vec_env__refuses_a_negative_seed_and_copies_its_rows():
    import copy

    from splitgym.agents.vecenv import NativeVecEnv

    venv = NativeVecEnv(2, KW)
    with pytest.raises(ConfigError, match=r"seed=-1: expected None or a whole number >= 0"):
        venv.seed(-1)
    venv.seed(0)
    venv.reset()
    twin = copy.copy(venv)
    acts = np.zeros(2, dtype=np.int64) + np.flatnonzero(venv.action_masks()[0])[0]
    for _ in range(4):
        r1 = venv.step(acts)[1]
        r2 = twin.step(acts)[1]
        assert np.isfinite(r1).all() and np.array_equal(r1, r2)


def test_vector__staggered_episode_ends_reset_rows_as_single_envs_do():
    """Deadlines with drops: dropped frames are never decided, so the rows' episodes end
    at different steps and the rows reset a few at a time (each drawing its episode from
    its own generator in compiled code, in the step's call). Across several episodes per
    row, a reset with options, one with a seed, a copy stepped on its own and steps
    refused for a bad action while some rows restart, every row stays the single env's
    episode, bit for bit."""
    import copy

    kw = dict(model="toy", bandwidth_mbps=0.5, n_edges=3, frames_per_edge=4,
              arrivals="bursty", fps=(5.0, 20.0), deadline_s=0.3, drop_late=True,
              objective="deadline_miss")
    n = 6
    venv = EdgeCloudVectorEnv(n, **kw)
    singles = [EdgeCloudEnv(engine="python", **kw) for _ in range(n)]

    def reset(seed, options):
        obs, info = venv.reset(seed=seed, options=options)
        for i, env in enumerate(singles):
            o, inf = env.reset(seed=None if seed is None else seed + i, options=options)
            assert np.array_equal(obs[i], o)
            assert np.array_equal(info["action_mask"][i], inf["action_mask"])
        return info

    rng = np.random.default_rng(0)
    info, episodes, staggered, refused = reset(11, None), 0, 0, 0
    for seed, options in [(None, {"n_edges": 2, "deadline_s": 0.2}), (5, None), (None, None)]:
        pending = [False] * n
        for step in range(60):
            acts = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
            if any(pending) and not all(pending):  # refused before any row restarts
                bad = acts.copy()
                bad[pending.index(False)] = 99
                with pytest.raises(InvalidActionError, match="action=99"):
                    venv.step(bad)
                refused += 1
            obs, rew, term, _, info = venv.step(acts)
            episodes += len(step_rows(singles, acts, pending, obs, rew, term, info))
            staggered += 0 < term.sum() < n
            if step == 30:  # a copy's rows draw from its own generators
                twin = copy.copy(venv)
                for _ in range(20):
                    twin.step(np.array([np.flatnonzero(m)[0] for m in twin.action_masks()]))
        info = reset(seed, options)
    assert episodes >= 6 * n and staggered >= 20 and refused >= 20
