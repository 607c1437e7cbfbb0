"""The vector env's compiled end-of-episode work gives numpy's bits: its sums, means and
percentiles (`splitgym.envs.kernel.metrics`), the metrics and edge energy of whole
presets' episodes, and the batched draws of arrivals (`splitgym.envs.kernel.arrivals`)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.lockstep import step_rows  # tests/helpers

from splitgym.envs import EdgeCloudEnv, fast
from splitgym.envs.core.config import ConfigError, WorkloadConfig
from splitgym.envs.core.workload import make_arrivals
from splitgym.envs.kernel.arrivals import NOT_CHECKED, TOO_MANY_SWITCHES
from splitgym.envs.kernel.metrics import _percentile
from splitgym.envs.vector import EdgeCloudVectorEnv


def _arrays(seed: int, count: int):
    """Random float64 arrays of every size class numpy's pairwise sum treats apart
    (< 8, 8..128 in blocks of 8, halved above 128), with magnitudes 1e-5..1e8."""
    rng = np.random.default_rng(seed)
    sizes = [0, 1, 7, 8, 9, 127, 128, 129, 136, 255, 1000, 4097, 20_001]
    for n in sizes + rng.integers(0, 3000, size=count).tolist():
        yield rng.standard_normal(n) * 10.0 ** rng.uniform(-5, 8, size=n)


def test_pairwise_sum__is_numpys_sum_and_mean_bit_for_bit():
    # np.sum's association (not a plain loop's) decides the last bits: a plain
    # left-to-right sum differs from numpy's on most of these arrays
    plain_differs = 0
    for a in _arrays(0, 300):
        got = fast.pairwise_sum(a)
        assert got == float(np.sum(a)) and np.signbit(got) == np.signbit(np.sum(a))
        if a.size:
            assert got / a.size == float(a.mean())
        plain_differs += sum(a.tolist()) != got
    assert plain_differs > 100


def test_percentile__is_numpys_linear_percentile_bit_for_bit():
    rng = np.random.default_rng(1)
    for a in _arrays(1, 300):
        if not a.size:
            continue
        a = np.abs(a) if rng.random() < 0.5 else np.round(a, 1)  # ties too
        ranked = np.sort(a)
        for q in (95, 99):
            assert _percentile(ranked, q) == float(np.percentile(a, q))


@pytest.mark.parametrize("kw", [
    dict(scenario="rush-hour"),  # drops: latencies of the frames served, missed deadlines
    dict(scenario="cellular-markov"),  # Markov traces drawn per row in one call
    dict(model="alexnet", bandwidth_mbps="4g", n_edges=3, frames_per_edge=(2, 7, 4),
         arrivals="bursty", deadline_s=0.6, drop_late=True),  # unequal frame counts
])
def test_vector_metrics_and_energy__are_the_python_cores_across_episodes(kw):
    n = 3
    venv = EdgeCloudVectorEnv(n, **kw)
    singles = [EdgeCloudEnv(engine="python", **kw) for _ in range(n)]
    obs, info = venv.reset(seed=4)
    for i, env in enumerate(singles):
        assert np.array_equal(obs[i], env.reset(seed=4 + i)[0])
    rng = np.random.default_rng(0)
    pending, ended = [False] * n, 0
    for _ in range(400 if "scenario" in kw else 120):
        acts = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
        obs, rew, term, _, info = venv.step(acts)
        done = step_rows(singles, acts, pending, obs, rew, term, info)
        assert all("edge_energy_j" in inf["metrics"] for inf in done)
        ended += len(done)
    assert ended >= n


def _draw(wl, rngs):
    """`draw_rows` of every generator in `rngs` (one call, as a vector env resets
    rows), and its result code."""
    from numba import typed

    draws = fast.ArrivalDraws(wl)
    out = np.full(draws.shape(len(rngs)), np.nan)
    code = fast.draw_rows(np.arange(len(rngs)), typed.List(rngs), *draws.params, out,
                          draws.fail)
    return draws, out, code


@pytest.mark.parametrize("arrivals", [
    "periodic", "poisson", "bursty",
    {"kind": "bursty", "high_factor": 5.0, "low_factor": 0.0, "mean_dwell_s": [1.0, 3.0]}])
@pytest.mark.parametrize("fps, phase_s, frames", [
    ((2.0, 30.0), None, 4), (10.0, None, 4), (7.0, (0.0, 0.01, 0.3), 4),
    ((5.0, 15.0), None, (1, 6, 3))])
def test_draw_rows__is_make_arrivals_per_generator_bit_for_bit(arrivals, fps, phase_s,
                                                               frames):
    # the vector env draws its rows' next episodes in compiled code from the rows' own
    # generators: each must give exactly the single env's arrivals, episode after
    # episode, and leave its generator where make_arrivals leaves it
    wl = WorkloadConfig(n_edges=3, frames_per_edge=frames, fps=fps, phase_s=phase_s,
                        arrivals=arrivals)
    rngs = [np.random.default_rng(s) for s in range(4)]
    refs = [np.random.default_rng(s) for s in range(4)]
    for _ in range(3):
        _, out, code = _draw(wl, rngs)
        assert code == fast.DRAWN
        for j, ref in enumerate(refs):
            for e, times in enumerate(make_arrivals(wl, ref)):
                assert np.array_equal(out[j, e, :times.size], times)
    for rng, ref in zip(rngs, refs, strict=True):
        assert rng.bit_generator.state == ref.bit_generator.state


def test_draw_rows__refuses_what_make_arrivals_refuses_with_its_error():
    # parameters the config would refuse (a safety net): a runaway bursty process, and
    # times past the bound (a frame every 1e12 s); the row and edge are flagged and the
    # error is make_arrivals' own
    runaway = WorkloadConfig(n_edges=2, frames_per_edge=3, fps=1.0, arrivals="bursty")
    object.__setattr__(runaway, "arrivals", (("high_factor", 1e-9), ("kind", "bursty"),
                                             ("low_factor", 0.0),
                                             ("mean_dwell_s", (1e-3, 1e-3))))
    slow = WorkloadConfig(n_edges=2, frames_per_edge=3, fps=1.0, arrivals="poisson")
    object.__setattr__(slow, "fps", 1e-12)
    for wl, code, match in [
            (runaway, TOO_MANY_SWITCHES,
             "switched state more than 20000 times per frame"),
            (slow, NOT_CHECKED, r"arrivals: edge 0's generated arrival times")]:
        draws, out, got = _draw(wl, [np.random.default_rng(0), np.random.default_rng(1)])
        assert got == code and draws.fail.tolist() == [code, 0, 0]
        with pytest.raises(ConfigError, match=match):
            draws.raise_failure(out)
        with pytest.raises(ConfigError, match=match):
            make_arrivals(wl, np.random.default_rng(0))
