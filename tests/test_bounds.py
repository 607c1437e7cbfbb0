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


@pytest.mark.parametrize("duration_s", [50.0, 1000.0])  # below / above COMPILE_ABOVE_STEPS
@pytest.mark.parametrize("compiled", [False, True])
def test_markov__lazy_trace_is_the_eager_one_and_is_written_without_its_arrays(
        duration_s, compiled):
    """The compiled engine's Markov trace (drawn by the compiled loop, its arrays built
    only when read) draws what the reference drew, leaves the generator where it left
    it, and writes the kernel block an eager `RateTrace` of the same steps writes."""
    from splitgym.envs.kernel.links import traces_size, write_traces

    spec = dict(MARKOV, duration_s=duration_s)
    for seed in range(3):
        ref_rng, rng = np.random.default_rng(seed), np.random.default_rng(seed)
        times, rates, period = _markov_reference(spec, ref_rng)
        trace = T.make_trace(spec, rng, compiled=compiled)
        assert isinstance(trace, T.MarkovTrace)
        assert ref_rng.bit_generator.state == rng.bit_generator.state
        eager = T.RateTrace(times, rates, period)
        assert traces_size([trace, trace]) == traces_size([eager, eager])
        rows = np.full((2, traces_size([eager]) + 3), -1.0)
        assert write_traces([trace, trace], rows[0]).tolist() == [0, 0]
        assert "times_s" not in trace.__dict__  # written from the draw alone
        write_traces([eager, eager], rows[1])
        assert rows[0].tobytes() == rows[1].tobytes()
        # read: the arrays RateTrace builds, bit for bit
        assert trace.mean_mbps == eager.mean_mbps and trace.constant == eager.constant
        for name in ("times_s", "rates_mbps", "_cum"):
            assert getattr(trace, name).tobytes() == getattr(eager, name).tobytes()
        assert trace.period_s == eager.period_s == period
        assert trace.finish(3.0, 1e6) == eager.finish(3.0, 1e6)


@pytest.mark.parametrize("compiled", [False, True])
def test_make_traces__draws_what_one_make_trace_per_link_drew(compiled):
    """A per-edge spec's links drawn in one call (validated once) are the traces and
    the generator state of one `make_trace` per link."""
    for spec in (dict(MARKOV, duration_s=30.0), [(0.0, 2.0), (1.0, 0.0)],
                 {"kind": "lognormal_ar1", "mean_mbps": 2.0, "duration_s": 5.0}):
        ref_rng, rng = np.random.default_rng(4), np.random.default_rng(4)
        ref = [T.make_trace(spec, ref_rng) for _ in range(4)]
        got = T.make_traces(spec, rng, 4, compiled=compiled)
        assert len({id(tr) for tr in got}) == 4
        for a, b in zip(ref, got, strict=True):
            assert a.times_s.tobytes() == b.times_s.tobytes()
            assert a.rates_mbps.tobytes() == b.rates_mbps.tobytes()
            assert a.period_s == b.period_s
        assert ref_rng.bit_generator.state == rng.bit_generator.state


@pytest.mark.parametrize("compiled", [False, True])
def test_markov_chains__grow_past_their_size_and_stop_at_the_cap(compiled):
    """Chains drawn together, their buffer grown from a tiny `size`, are the chains drawn
    one call each; a chain over `cap` steps ends the draw (-1), as one over the cap
    refuses the trace."""
    rates, dwell, trans, _ = T.check_markov(MARKOV, "bandwidth_mbps")
    start, cdf = T.markov_cdfs(dwell, trans)
    draw = T._compiled(T._markov_chains) if compiled else T._markov_chains
    together, apart = np.random.default_rng(2), np.random.default_rng(2)
    times, states, bounds, ends = draw(together, start, cdf, dwell, 5.0, 1, 10**6, 3)
    assert bounds[0] == 0 and bounds[-1] == times.size and (ends >= 5.0).all()
    for j in range(3):
        t1, s1, b1, e1 = draw(apart, start, cdf, dwell, 5.0, 1, 10**6, 1)
        assert t1.tobytes() == times[bounds[j]:bounds[j + 1]].tobytes()
        assert s1.tobytes() == states[bounds[j]:bounds[j + 1]].tobytes()
        assert e1[0] == ends[j]
    assert together.bit_generator.state == apart.bit_generator.state
    times, _, bounds, ends = draw(np.random.default_rng(2), start, cdf, dwell, 1e6, 2, 7, 3)
    assert ends.tolist() == [-1.0] * 3 and times.size == 7 and bounds.tolist() == [0, 7, 7, 7]


def test_markov__a_spec_changed_in_place_is_validated_and_drawn_anew():
    """Validated parameters are reused per spec content: a spec (a list or a numpy
    array in it) changed in place after a draw is checked again and drawn as it now
    reads."""
    spec = dict(MARKOV, duration_s=20.0, rates_mbps=list(MARKOV["rates_mbps"]),
                transition=np.array(MARKOV["transition"]))
    T.make_trace(spec, np.random.default_rng(0))
    spec["rates_mbps"][1] = -1.0
    with pytest.raises(ConfigError, match=r"rates_mbps'\]\[1\]"):
        T.make_trace(spec, np.random.default_rng(0))
    spec["rates_mbps"][1] = 1.0
    spec["transition"][0] = [0.0, 0.0, 0.0, 1.0]  # state 0 now always jumps to 3
    trace = T.make_trace(spec, np.random.default_rng(0))
    times, rates, _ = _markov_reference(spec, np.random.default_rng(0))
    assert np.array_equal(trace.rates_mbps, rates) and np.array_equal(trace.times_s, times)
    spec["transition"][0, 0] = np.nan
    with pytest.raises(ConfigError, match="row-stochastic"):
        T.make_trace(spec, np.random.default_rng(0))


def test_markov__lazy_trace_refuses_a_zero_length_step_when_drawn():
    """What RateTrace refuses of a draw (a step of zero length: an exponential draw
    of 0, or one lost to rounding at a large time) is refused when the trace is drawn,
    with RateTrace's error."""
    rates = np.array([1.0, 2.0])
    with pytest.raises(ConfigError, match="strictly increasing"):
        T.MarkovTrace(np.array([0.0, 1.0, 1.0]), np.array([0, 1, 0]), 2.0, rates)
    with pytest.raises(ConfigError, match="strictly increasing"):  # the period too
        T.MarkovTrace(np.array([0.0, 1e9]), np.array([0, 1]), 1e9, rates)
    ok = T.MarkovTrace(np.array([0.0, 1.0]), np.array([0, 1]), 2.5, rates)
    assert ok.total_mbit == 1.0 + 2.0 * 1.5


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
