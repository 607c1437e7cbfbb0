"""Bounds per episode and per file (issue 20): the work a reset or a load can cause is
bounded before it starts, and the faster generator loops draw exactly what the plain
ones did."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splitgym.envs import EdgeCloudEnv
from splitgym.envs.core import ConfigError
from splitgym.envs.core import traces as T

MARKOV = {"kind": "markov", "rates_mbps": [0.0, 1.0, 5.0, 9.0],
          "mean_dwell_s": [0.5, 1.0, 2.0, 0.01],
          "transition": [[0, .3, .3, .4], [.1, 0, .8, .1], [1 / 3, 1 / 3, 0, 1 / 3],
                         [.25, .25, .5, 0]]}


def _markov_reference(spec, rng):
    """The Markov trace as first written: one rng.choice per jump."""
    rates, dwell, trans, duration = T.check_markov(spec, "bandwidth_mbps")
    n = rates.size
    state = int(rng.choice(n, p=dwell / dwell.sum()))
    t, times, values = 0.0, [], []
    while t < duration:
        times.append(t)
        values.append(rates[state])
        t += float(rng.exponential(dwell[state]))
        state = int(rng.choice(n, p=trans[state]))
    return np.array(times), np.array(values), max(t, times[-1] + 1e-9)


@pytest.mark.parametrize("duration_s", [50.0, 1000.0])  # below / above COMPILE_ABOVE_STEPS
def test_markov__draws_exactly_what_one_choice_per_jump_drew(duration_s):
    spec = dict(MARKOV, duration_s=duration_s)
    assert (duration_s / 0.01 > T.COMPILE_ABOVE_STEPS) == (duration_s == 1000.0)
    for seed in range(3):
        ref_rng, rng = np.random.default_rng(seed), np.random.default_rng(seed)
        times, rates, period = _markov_reference(spec, ref_rng)
        trace = T.make_trace(spec, rng)
        assert np.array_equal(trace.times_s, times) and np.array_equal(trace.rates_mbps, rates)
        assert trace.period_s == period
        assert ref_rng.random() == rng.random()  # the generator advanced alike


def test_lognormal__compiled_loop_is_the_python_loop_bit_for_bit():
    spec = {"kind": "lognormal_ar1", "mean_mbps": 5.0, "sigma": 2.0, "rho": -0.7,
            "step_s": 0.01, "duration_s": 2 * T.COMPILE_ABOVE_STEPS * 0.01}
    big = T.make_trace(spec, np.random.default_rng(7))
    mean, sigma, rho, _, n = T.check_lognormal(spec, "bandwidth_mbps")
    assert n > T.COMPILE_ABOVE_STEPS
    rng = np.random.default_rng(7)
    mu = math.log(mean) - sigma ** 2 / 2
    x = np.empty(n)
    x[0] = mu + sigma * rng.standard_normal()
    innov = sigma * math.sqrt(1 - rho ** 2) * rng.standard_normal(n)
    T._ar1(x, mu, rho, innov)  # the plain Python loop
    assert np.array_equal(big.rates_mbps, np.exp(x))


def test_a_refused_per_edge_trace_budget_leaves_the_episode_as_it_was():
    env = EdgeCloudEnv(model="toy", n_edges=4, bandwidth_per_edge=True,
                       bandwidth_mbps=dict(MARKOV, duration_s=100.0))
    ref = EdgeCloudEnv(model="toy", n_edges=4, bandwidth_per_edge=True,
                       bandwidth_mbps=dict(MARKOV, duration_s=100.0))
    env.reset(seed=1)
    ref.reset(seed=1)
    with pytest.raises(ConfigError, match=r"4000000 trace steps in one episode \(4 links x "
                                          r"1000000 steps\)"):
        env.reset(options={"bandwidth_mbps": dict(MARKOV, duration_s=1e4)})
    assert env.step(0)[1] == ref.step(0)[1]


def test_profile_order_check__is_linear_in_a_layers_inputs():
    """A layer with n inputs: O(n) name lookups (a per-visit rebuild made it O(n^2):
    20,000 inputs took 23-36 s)."""
    from splitgym.profiles import load_profile, schema

    n = 2000
    layers = [{"name": f"l{i}", "inputs": ["input"], "output_bytes": 10,
               "latency_ms": {"a": 1.0, "b": 1.0}} for i in range(n)]
    layers.append({"name": "join", "inputs": [f"l{i}" for i in range(n)],
                   "output_bytes": 10, "latency_ms": {"a": 1.0, "b": 1.0}})
    prof = load_profile({"format": "splitgym-profile/1", "model": "m", "input_bytes": 100,
                         "devices": {"a": {}, "b": {}}, "default_edge": "a",
                         "default_cloud": "b", "layers": layers})

    class Counting(dict):
        lookups = 0

        def __getitem__(self, key):
            Counting.lookups += 1
            return super().__getitem__(key)

    names = Counting({lay.name: i for i, lay in enumerate(prof.layers)})
    schema._check_order(list(prof.layers), names)
    assert Counting.lookups <= 3 * n
