"""The PettingZoo env: PettingZoo's own API tests, and the single-agent env's episodes
bit for bit when every agent follows the same baseline."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.baselines import make_policy
from splitgym.envs import multiagent, rollout

SMALL = {"model": "alexnet", "bandwidth_mbps": "3g", "n_edges": 3, "frames_per_edge": 6}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():  # dict observations: PettingZoo's own convention
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


@pytest.mark.parametrize("engine", ["auto", "python"])
def test_multiagent__passes_pettingzoo_api_test(engine):
    _quiet(api_test, multiagent.env(**SMALL, engine=engine), num_cycles=100)


def test_multiagent__passes_pettingzoo_seed_test():
    _quiet(seed_test, lambda: multiagent.env(**SMALL), num_cycles=50)


def _records_equal(a, b):
    for name in a.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


CASES = [
    ({"model": "alexnet", "bandwidth_mbps": "3g"}, "queue_aware"),
    ({"model": "resnet18", "bandwidth_mbps": "4g"}, "sq_lookahead"),
    ({"model": "resnet18", "bandwidth_mbps": "4g", "engine": "python"}, "greedy_eft"),
    ({"model": "alexnet", "bandwidth_mbps": "3g"}, "best_static"),
    # off the compiled engine's family: a Markov uplink trace per edge and a deadline
    ({"model": "alexnet", "bandwidth_mbps": {"kind": "markov", "rates_mbps": [0.5, 6.0],
                                             "mean_dwell_s": [2.0, 2.0]},
      "bandwidth_per_edge": True, "deadline_s": 3.0, "drop_late": True}, "sq_fill"),
]


@pytest.mark.parametrize(("kwargs", "policy"), CASES,
                         ids=[f"{c[0]['model']}-{c[1]}" for c in CASES])
def test_multiagent__shared_baseline_gives_the_single_agent_episode_bit_for_bit(kwargs,
                                                                             policy):
    single = rollout(gym.make("splitgym/EdgeCloud-v0", **kwargs), make_policy(policy),
                     seed=7)
    multi = multiagent.rollout(multiagent.env(**kwargs), make_policy(policy), seed=7)
    assert np.array_equal(single.actions, multi.actions)
    assert single.metrics == multi.metrics
    _records_equal(single.records, multi.records)
    # each agent sums the same rewards, grouped by its turns: equal up to rounding
    assert multi.episode_return == pytest.approx(single.episode_return, rel=1e-12)
    # step by step: the same observation, mask and reward at every decision, exactly
    env = gym.make("splitgym/EdgeCloud-v0", **kwargs)
    obs, info = env.reset(seed=7)
    aec = multiagent.env(**kwargs)
    aec.reset(seed=7)
    raw = aec.unwrapped
    for cut in single.actions:
        seen = aec.observe(aec.agent_selection)
        assert np.array_equal(seen["observation"], obs)
        assert np.array_equal(seen["action_mask"], info["action_mask"].astype(np.int8))
        obs, reward, _, _, info = env.step(int(cut))
        aec.step(int(cut))
        assert set(raw.rewards.values()) == {reward}


def test_multiagent__selection_follows_the_simulators_decision_order():
    # The decision contexts of the single env name the edge of each decision; the AEC
    # env must select exactly that edge, and mask every other agent out.
    env = gym.make("splitgym/EdgeCloud-v0", **SMALL)
    _, info = env.reset(seed=3)
    aec = multiagent.env(**SMALL)
    aec.reset(seed=3)
    policy = make_policy("queue_aware")
    n = 0
    while "decision" in info:
        edge = info["decision"]["edge"]
        assert aec.agent_selection == f"edge_{edge}"
        for agent in aec.agents:
            mask = aec.observe(agent)["action_mask"]
            assert mask.any() == (agent == aec.agent_selection)
        cut = policy(None, info)
        _, _, _, _, info = env.step(cut)
        aec.step(cut)
        n += 1
    assert n == 3 * 6
    assert all(aec.terminations.values())


def test_multiagent__every_agents_return_is_minus_the_makespan_and_holds_the_metrics():
    aec = multiagent.env(**SMALL)
    aec.reset(seed=1)
    totals = dict.fromkeys(aec.possible_agents, 0.0)
    metrics = {}
    for agent in aec.agent_iter():
        obs, reward, terminated, truncated, info = aec.last()
        totals[agent] += reward
        if terminated:
            metrics[agent] = info["metrics"]
            aec.step(None)
        else:
            aec.step(int(np.flatnonzero(obs["action_mask"])[-1]))  # edge-only
    makespan = metrics["edge_0"]["makespan_s"]
    assert set(metrics) == set(aec.possible_agents)
    assert all(m == metrics["edge_0"] for m in metrics.values())
    # rewards are differences of the clock, so their sum telescopes to the makespan
    assert totals == pytest.approx(dict.fromkeys(totals, -makespan), abs=1e-12)
    assert aec.agents == []


def test_multiagent__state_holds_each_edges_latest_observation_and_its_age():
    aec = multiagent.env(**SMALL)
    aec.reset(seed=0)
    raw = aec.unwrapped
    width = raw.edge_cloud_env.observation_space.shape[0] + 1
    for _ in range(7):
        aec.step(0)
    state = aec.state()
    assert state.shape == raw.state_space.shape and state.dtype == np.float32
    sel = int(aec.agent_selection.split("_")[1])
    block = state[sel * width:(sel + 1) * width]
    np.testing.assert_array_equal(block[:-1], aec.observe(aec.agent_selection)["observation"])
    assert block[-1] == 0.0  # the selected edge's view is taken now
    assert raw.state_space.contains(state)


def test_multiagent__pretrained_agent_acts_per_agent_as_in_the_single_env():
    from splitgym.agents import load_pretrained

    agent = load_pretrained("alexnet", "3g")
    kw = {"model": "alexnet", "bandwidth_mbps": "3g"}
    single = rollout(gym.make("splitgym/EdgeCloud-v0", **kw), agent, seed=11)
    multi = multiagent.rollout(multiagent.env(**kw), agent, seed=11)
    assert np.array_equal(single.actions, multi.actions)
    assert single.metrics == multi.metrics


def test_multiagent__unknown_reset_option_is_ignored_with_a_warning():
    aec = multiagent.env(**SMALL)
    with pytest.warns(UserWarning, match=r"options\['bw'\]: not reset options"):
        aec.reset(seed=0, options={"bw": 1})
    assert aec.agent_selection in aec.possible_agents


def test_multiagent__has_no_parallel_form():
    assert multiagent.raw_env().metadata["is_parallelizable"] is False


def test_readme__multiagent_snippet_runs():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
                 if "multiagent.env(" in b)
    scope = {}
    exec("from splitgym.baselines import make_policy\n" + block, scope)  # noqa: S102
    assert scope["info"]["metrics"]["n_tasks"] == 5 * 30  # ran to the episode's end


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_render__every_advertised_mode_renders_the_episode(mode):
    from splitgym.envs import multiagent

    env = multiagent.env(model="toy", n_edges=2, frames_per_edge=2, render_mode=mode)
    assert mode in env.unwrapped.metadata["render_modes"] and env.render_mode == mode
    env.reset(seed=0)
    for _agent in env.agent_iter():
        obs, _, terminated, truncated, _ = env.last()
        env.step(None if terminated or truncated
                 else int(np.flatnonzero(obs["action_mask"])[-1]))
    out = env.render()
    if mode == "ansi":
        assert isinstance(out, str) and "edge" in out
    else:
        assert isinstance(out, np.ndarray) and out.ndim == 3 and out.shape[2] == 3
        assert out.dtype == np.uint8 and out.min() < out.max()  # something drawn


def test_render__a_mode_nobody_draws_is_refused():
    from splitgym.envs import multiagent
    from splitgym.envs.core import ConfigError

    with pytest.raises(ConfigError, match="render_mode='human'"):
        multiagent.env(model="toy", render_mode="human")

