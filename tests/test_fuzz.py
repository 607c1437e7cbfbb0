"""A bounded fuzz of everything a user passes in: env arguments, reset options and profile
documents. Each case runs a few steps on both engines in one child process with a
timeout (`helpers/fuzz_worker.py`); the only outcomes allowed are "a clean named error
(the same on both engines)" and "runs, stays in the observation space with finite
rewards, and the engines agree bit for bit". A hang fails the test on the timeout and
names the case. Hypothesis draws the cases derandomized: the same cases on every run.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORKER = Path(__file__).parent / "helpers" / "fuzz_worker.py"
N_CASES = 300
TIMEOUT_S = 400  # the cases take ~20 s on a quiet 2-core machine (more the first time)
NAN, INF = math.nan, math.inf

# per argument, ordinary values and values at and beyond every documented bound
# (docs/errors.md); a case takes ordinary values, then maybe one hostile one, so that
# both outcomes are common. Accepted generator settings stay small: the run stays short.
def _markov(dwell, duration_s, rates=(1.0, 5.0), **extra):
    return {"kind": "markov", "rates_mbps": list(rates), "mean_dwell_s": list(dwell),
            "duration_s": duration_s, **extra}


def _lognormal(**kw):
    return {"kind": "lognormal_ar1", "mean_mbps": 5.0, **kw}


def _bursty(**kw):
    return {"kind": "bursty", **kw}


GOOD = {
    "n_edges": st.sampled_from([1, 2, 3]),
    "frames_per_edge": st.sampled_from([1, 2, 4, [2, 3]]),
    "bandwidth_mbps": st.sampled_from([
        "3g", "4g", "3G", 0, 0.0, 1.1, 1e-6, 1e9, [[0, 1.0], [1, 0.0]], [[0, 5.0], [0.5, 1.0]],
        _markov([0.5, 5.0], 60.0), _markov([1.0, 2.0], 600.0, rates=(0.0, 2.0)),
        _markov([1.0, 1.0], 5.0, transition=[[0, 1], [1, 0]]),
        _lognormal(), _lognormal(sigma=3.0, rho=-0.5, step_s=0.5, duration_s=60.0)]),
    "fps": st.sampled_from([5.0, 0.1, 1e-3, 1e6, [5.0, 15.0], [1e-3, 1e6]]),
    "queue_capacity": st.sampled_from([1, 3, 20, 2**31 - 1]),
    "cloud_workers": st.sampled_from([1, 2, 4096]),
    "uplink": st.sampled_from(["per_edge", "shared"]),
    "objective": st.sampled_from(["makespan", "mean_latency"]),
    "arrivals": st.sampled_from(["periodic", "poisson", "bursty", {"kind": "poisson"},
                                 _bursty(high_factor=5.0, low_factor=0.0,
                                         mean_dwell_s=[1.0, 3.0]),
                                 _bursty(high_factor=1e3, low_factor=1e-3,
                                         mean_dwell_s=[1e-3, 1e7])]),
    "deadline_s": st.sampled_from([None, 0.5, 5.0]),
    "predictor": st.sampled_from(["auto", "replay", "fluid"]),
    "phase_s": st.sampled_from([None, 0.1, 1e7]),
    "edge_speed": st.sampled_from([None, [1.0, 2.0], [1e-3, 1e3]]),
}
BAD = {
    "n_edges": st.sampled_from([0, -1, 2**70, True, 1.5, 10**6]),
    "frames_per_edge": st.sampled_from([0, -1, 2**70, 1.5, 10**7, [2]]),
    "bandwidth_mbps": st.sampled_from([
        "5g", "", "./missing.csv", 5e-324, 1e-7, -1.0, NAN, INF, 1e10, True, None,
        [[1, 1.0]], [[0, NAN]], [[0, 5.0], [5e-324, 1.0]], [[0, 1.0], [0.5, 2.0], [0.2, 1.0]],
        [], _markov([1e-9, 1e-9], 600.0), _markov([NAN, 1.0], 60.0), _markov([INF, 1], 60.0),
        _markov([1, 1], INF), _markov([1, 1], NAN), _markov([1, 1], -1.0), _markov([1, 1], 1e7),
        _markov([1, 1], 60.0, rates=(5e-324, 1.0)), _markov([1, 1], 60.0, rates=(1.0,)),
        _markov([1, 1], 60.0, transition=[[0.5, 0.5], [NAN, 1]]),
        _markov([1, 1], 60.0, duration=5.0), _lognormal(mean_mbps=NAN),
        _lognormal(mean_mbps=5e-324), _lognormal(sigma=50.0), _lognormal(rho=1.0),
        _lognormal(step_s=1e-9), _lognormal(duration_s=INF), _lognormal(sigmaa=1.0),
        _lognormal(step_s=1e-3, duration_s=1e4), {"kind": "wifi"}]),
    "fps": st.sampled_from([5e-324, NAN, INF, 1e7, 0.0, [15.0, 5.0], [1e-4, 1.0]]),
    "queue_capacity": st.sampled_from([0, 2**70, 2**31, -5]),
    "cloud_workers": st.sampled_from([0, 5000]),
    "uplink": st.just("mesh"),
    "objective": st.sampled_from(["deadline_miss", "power"]),
    "arrivals": st.sampled_from([
        "weekly", None, _bursty(high_factor=NAN), _bursty(high_factor=INF),
        _bursty(low_factor=-1.0), _bursty(high_factor=0.0, low_factor=0.0),
        _bursty(mean_dwell_s=[1e-12, 1e-12]), _bursty(mean_dwell_s=[NAN, 1.0]),
        _bursty(mean_dwell_s=[1.0]), _bursty(mean_dwell_s="ab"), _bursty(high_facter=2.0),
        _bursty(high_factor=1e-3, low_factor=0.0, mean_dwell_s=[1e-3, 1e7])]),
    "deadline_s": st.sampled_from([NAN, -1.0, INF]),
    "edge_device": st.sampled_from([[], "nope", ["pi3b"]]),
    "predictor": st.just("psychic"),
    "phase_s": st.sampled_from([[0.0], NAN, 1e300, -1.0]),
    "edge_speed": st.sampled_from([[5e-324, 1.0], [1e300, 1.0], [NAN, 1.0], [0.0, 1.0]]),
}
OPTIONS_GOOD = {"fps": st.just(8.0), "n_edges": st.sampled_from([1, 2]),
                "frames_per_edge": st.sampled_from([1, 3]),
                "bandwidth_mbps": GOOD["bandwidth_mbps"], "queue_capacity": st.just(2),
                "arrivals": GOOD["arrivals"],
                "arrival_times_s": st.sampled_from([[[0.0, 0.5], [0.1, 0.2]], [[0.0, 1e6]],
                                                    [[0.0, 0.1, 0.2]]])}
OPTIONS_BAD = {"fps": BAD["fps"], "n_edges": BAD["n_edges"],
               "frames_per_edge": BAD["frames_per_edge"],
               "bandwidth_mbps": BAD["bandwidth_mbps"], "queue_capacity": BAD["queue_capacity"],
               "arrivals": BAD["arrivals"], "bw": st.just(1),
               "arrival_times_s": st.sampled_from([[[0.0, NAN]], [[1.0, 0.5]], [[]],
                                                   [[0.0, 1e300]], "x"])}


@st.composite
def _with_one_bad(draw, good, bad):
    """Some ordinary values, and in half the cases one hostile value."""
    out = draw(st.fixed_dictionaries({}, optional=good))
    if draw(st.booleans()):
        key = draw(st.sampled_from(sorted(bad)))
        out[key] = draw(bad[key])
    return out


kwargs = _with_one_bad(GOOD, BAD)
options = st.one_of(st.none(), _with_one_bad(OPTIONS_GOOD, OPTIONS_BAD))


@st.composite
def profiles(draw):
    """A small valid chain or DAG profile with up to two fields replaced."""
    n = draw(st.integers(1, 4))
    layers = [{"name": f"l{i}", "inputs": ["input"] if i == 0 else
               draw(st.sampled_from([[f"l{i - 1}"], ["input", f"l{i - 1}"]])),
               "output_bytes": draw(st.sampled_from([0, 100, 10**4])),
               "latency_ms": {"e": draw(st.sampled_from([0.0, 1.0, 50.0])),
                              "c": draw(st.sampled_from([0.0, 0.5, 5.0]))}}
              for i in range(n)]
    doc = {"format": "splitgym-profile/1", "model": "m", "input_bytes": 1000,
           "devices": {"e": {}, "c": {}}, "default_edge": "e", "default_cloud": "c",
           "layers": layers}
    bad = st.sampled_from([NAN, INF, -1.0, 10**400, 2**60, 1.5, "x", None, [], {}, True,
                           5e-324, 1e300])
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, n - 1))
        where = draw(st.sampled_from(["bytes", "lat", "input", "inputs", "name"]))
        if where == "bytes":
            layers[i]["output_bytes"] = draw(bad)
        elif where == "lat":
            layers[i]["latency_ms"]["e"] = draw(bad)
        elif where == "input":
            doc["input_bytes"] = draw(bad)
        elif where == "inputs":
            layers[i]["inputs"] = draw(st.sampled_from([[], ["zz"], [f"l{n - 1}"], "input"]))
        else:
            layers[i]["name"] = draw(st.sampled_from(["input", "l0", ""]))
    return doc


cases = st.fixed_dictionaries({"kwargs": kwargs, "options": options,
                               "seed": st.integers(0, 3),
                               "model": st.sampled_from(["toy", "alexnet"])},
                              optional={"profile": profiles()})


def _draw_cases() -> list[dict]:
    drawn: list[dict] = []

    @settings(max_examples=N_CASES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def collect(case):
        case = json.loads(json.dumps(case))  # what the worker will see
        case["kwargs"]["model"] = case.pop("profile", case.pop("model"))
        drawn.append(case)

    collect()
    return drawn


def test_fuzz__every_input_runs_on_both_engines_alike_or_gets_a_named_error():
    drawn = _draw_cases()
    assert len(drawn) >= N_CASES // 2
    try:
        res = subprocess.run([sys.executable, str(WORKER)], input=json.dumps(drawn),
                             capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        started = [line for line in out.splitlines() if line.startswith("START")]
        last = int(started[-1].split()[1]) if started else 0
        raise AssertionError(f"hung past {TIMEOUT_S} s on case {last}: "
                             f"{drawn[last]!r}") from None
    assert res.returncode == 0, res.stderr[-3000:]
    results = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(drawn)
    bad = [(drawn[r["case"]], r) for r in results if r["outcome"] == "bad"]
    assert not bad, f"{len(bad)} cases neither ran alike nor gave a named error; first: " \
                    f"{bad[0]!r}"
    outcomes = {r["outcome"] for r in results}
    assert outcomes == {"ok", "error"}  # the fuzz reaches both sides of every check
