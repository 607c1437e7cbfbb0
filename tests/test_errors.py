"""Every refused input, with the message it gets: one test per row of docs/errors.md.

The doc page is generated from ROWS (``python tests/test_errors.py``) and a test keeps
the two in step.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest

from splitgym.envs import EdgeCloudEnv
from splitgym.envs.core import ConfigError, InvalidActionError
from splitgym.envs.core.traces import make_trace
from splitgym.envs.vector import EdgeCloudVectorEnv
from splitgym.profiles import ProfileError, load_profile

DOC = Path(__file__).parents[1] / "docs" / "errors.md"
PROFILE = {
    "format": "splitgym-profile/1", "model": "m", "input_bytes": 100,
    "devices": {"a": {}, "b": {}}, "default_edge": "a", "default_cloud": "b",
    "layers": [{"name": "x", "inputs": ["input"], "output_bytes": 10,
                "latency_ms": {"a": 1.0, "b": 2.0}}]}


def _profile(**layer0):
    doc = copy.deepcopy(PROFILE)
    doc["layers"][0].update(layer0)
    return doc


def _step(action, **kw):
    env = EdgeCloudEnv(model="toy", **kw)
    env.reset(seed=0)
    env.step(action)


def _multiagent_reset(**kw):
    from splitgym.envs import multiagent

    multiagent.env().reset(**kw)


def _cli(*args):
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", *args],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr.strip().splitlines()[-1])


# (area, refused input, how it is given, exception, message (a regex))
ROWS = [
    ("env", "negative bandwidth", lambda: EdgeCloudEnv(bandwidth_mbps=-1),
     ConfigError, r"bandwidth_mbps=-1: expected a finite number of Mbit/s >= 0"),
    ("env", "unknown bandwidth name", lambda: EdgeCloudEnv(bandwidth_mbps="5g"),
     ConfigError, r"bandwidth_mbps='5g': expected a number of Mbit/s >= 0 or one of"),
    ("env", "unknown uplink", lambda: EdgeCloudEnv(uplink="mesh"),
     ConfigError, r"uplink='mesh': expected one of \['per_edge', 'shared'\]"),
    ("env", "no edges", lambda: EdgeCloudEnv(n_edges=0),
     ConfigError, r"n_edges=0: expected a whole number >= 1"),
    ("env", "frame counts not one per edge",
     lambda: EdgeCloudEnv(n_edges=2, frames_per_edge=[3]),
     ConfigError, r"frames_per_edge=\[3\]: expected one count per edge \(2\)"),
    ("env", "reversed fps range", lambda: EdgeCloudEnv(fps=(15, 5)),
     ConfigError, r"fps=\(15, 5\): expected a number > 0 or a \(low, high\) range"),
    ("env", "phases not one per edge", lambda: EdgeCloudEnv(phase_s=[0.0]),
     ConfigError, r"phase_s=\(0\.0,\): expected None or 5 finite phases"),
    ("env", "zero queue capacity", lambda: EdgeCloudEnv(queue_capacity=0),
     ConfigError, r"queue_capacity=0: expected a whole number >= 1"),
    ("vector env", "no sub-envs", lambda: EdgeCloudVectorEnv(0),
     ValueError, r"num_envs=0: expected a whole number >= 1"),
    ("vector env", "threads below 1", lambda: EdgeCloudVectorEnv(4, threads=0),
     ValueError, r"threads=0: expected a whole number >= 1, or None \(one per core"),
    ("env", "unknown engine", lambda: EdgeCloudEnv(engine="gpu"),
     ConfigError, r"engine='gpu': expected 'auto', 'python' or 'compiled'"),
    ("env", "compiled engine for a setting it does not cover",
     lambda: EdgeCloudEnv(engine="compiled", deadline_s=1.0),
     ConfigError, r"engine='compiled': this configuration needs the Python core"),
    ("env", "unknown objective", lambda: EdgeCloudEnv(objective="energy"),
     ConfigError, r"objective='energy': expected one of"),
    ("env", "deadline objective without a deadline",
     lambda: EdgeCloudEnv(objective="deadline_miss"),
     ConfigError, r"objective='deadline_miss': needs a deadline_s"),
    ("env", "drops without a deadline", lambda: EdgeCloudEnv(drop_late=True),
     ConfigError, r"drop_late=True: needs a deadline_s"),
    ("env", "negative deadline", lambda: EdgeCloudEnv(deadline_s=-2),
     ConfigError, r"deadline_s=-2: expected None or a number of seconds > 0"),
    ("env", "unknown arrivals", lambda: EdgeCloudEnv(arrivals="weekly"),
     ConfigError, r"arrivals='weekly': expected one of \['periodic', 'poisson', 'bursty'\]"),
    ("env", "edge speeds not one per edge", lambda: EdgeCloudEnv(edge_speed=[1.0]),
     ConfigError, r"edge_speed=\[1\.0\]: expected 5 factors > 0"),
    ("env", "unknown edge device", lambda: EdgeCloudEnv(edge_device="jetson"),
     ProfileError, r"edge_device='jetson': profile 'alexnet' has no such device"),
    ("env", "unknown scenario", lambda: EdgeCloudEnv(scenario="moon"),
     ConfigError, r"scenario='moon': expected one of"),
    ("env", "misspelled argument", lambda: EdgeCloudEnv(bandwith_mbps=3),
     TypeError, r"unexpected keyword argument 'bandwith_mbps'"),
    ("env", "unknown shipped model", lambda: EdgeCloudEnv(model="vgg"),
     ProfileError, r"model: no shipped profile 'vgg' and no such file"),
    ("reset", "unknown option", lambda: EdgeCloudEnv().reset(options={"bw": 1}),
     ConfigError, r"options\['bw'\]: unknown reset option"),
    ("reset", "decreasing arrival times",
     lambda: EdgeCloudEnv().reset(options={"arrival_times_s": [[2.0, 1.0]]}),
     ConfigError, r"arrival_times_s\[0\]\[1\]=1\.0: arrivals must be non-decreasing"),
    ("step", "cut out of range", lambda: _step(9),
     InvalidActionError, r"action=9: expected a cut index in 0\.\.3"),
    ("step", "infeasible cut at 0 Mbit/s", lambda: _step(0, bandwidth_mbps=0),
     InvalidActionError, r"action=0: cut 0 is infeasible at bandwidth_mbps=0\.0"),
    ("step", "step before reset", lambda: EdgeCloudEnv(model="toy").step(0),
     RuntimeError, r"step\(\) called with no pending decision: call reset\(\) first"),
    ("profile", "unknown format", lambda: load_profile(dict(PROFILE, format="x")),
     ProfileError, r"format: unknown profile format 'x'"),
    ("profile", "negative latency", lambda: load_profile(_profile(latency_ms={"a": -1,
                                                                             "b": 1})),
     ProfileError, r"layers\[0\] \('x'\)\.latency_ms\['a'\]: must be a finite number >= 0"),
    ("profile", "device missing from a layer",
     lambda: load_profile(_profile(latency_ms={"a": 1.0})),
     ProfileError, r"layers\[0\] \('x'\)\.latency_ms: device 'b' is missing"),
    ("profile", "unknown input", lambda: load_profile(_profile(inputs=["z"])),
     ProfileError, r"layers\[0\] \('x'\)\.inputs: unknown layer 'z'"),
    ("profile", "fractional bytes", lambda: load_profile(_profile(output_bytes=1.5)),
     ProfileError, r"output_bytes: must be a whole number of bytes >= 0, got 1\.5"),
    ("trace", "steps not starting at 0", lambda: make_trace([[1.0, 2.0]]),
     ConfigError, r"bandwidth_mbps: the first step must start at t_s = 0"),
    ("trace", "missing trace file", lambda: make_trace("missing.csv"),
     ConfigError, r"bandwidth_mbps: trace file 'missing\.csv' does not exist"),
    ("trace", "unknown generator", lambda: EdgeCloudEnv(bandwidth_mbps={"kind": "wifi"}),
     ConfigError, r"bandwidth_mbps: unknown generator kind 'wifi'"),
    ("trace", "bad Markov chain",
     lambda: EdgeCloudEnv(bandwidth_mbps={"kind": "markov", "rates_mbps": [1.0]}),
     ConfigError, r"markov needs rates_mbps \(>= 0\) and mean_dwell_s \(> 0\)"),
    ("trace", "per-edge specs on a shared uplink",
     lambda: EdgeCloudEnv(uplink="shared", edge_bandwidth_mbps=["3g"] * 5),
     ConfigError, r"edge_bandwidth_mbps: per-edge uplinks need uplink='per_edge'"),
    ("cli", "splitgym evaluate --bandwidth -3", lambda: _cli("evaluate", "--bandwidth", "-3"),
     SystemExit, r"--bandwidth=-3"),
    ("cli", "splitgym evaluate --policies greedy",
     lambda: _cli("evaluate", "--policies", "greedy", "--no-progress"),
     SystemExit, r"policy='greedy': unknown policy"),
    ("cli", "splitgym train --env-kwargs n_edges",
     lambda: _cli("train", "--env-kwargs", "n_edges"),
     SystemExit, r"--env-kwargs 'n_edges': expected key=value"),
    ("cli", "splitgym train --resume nowhere", lambda: _cli("train", "--resume", "nowhere"),
     SystemExit, r"--resume: 'nowhere' has no config\.yml"),
    ("cli", "splitgym reproduce --models vgg16",
     lambda: _cli("reproduce", "--models", "vgg16", "--no-progress"),
     SystemExit, r"models=\['vgg16'\]: the paper's models are"),
    ("multi-agent env", "reset to another fleet size",
     lambda: _multiagent_reset(options={"n_edges": 3}),
     ConfigError, r"options: 3 edges for an env built with n_edges=5"),
    ("cli", "splitgym sweep missing.yml", lambda: _cli("sweep", "missing.yml", "--out", "x"),
     SystemExit, r"sweep config 'missing\.yml' does not exist"),
    ("cli", "splitgym profile vgg99", lambda: _cli("profile", "vgg99", "--device", "x",
                                                   "--out", "x.json"),
     SystemExit, r"model='vgg99': expected one of"),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[0]}: {r[1]}" for r in ROWS])
def test_refused_input__gets_its_documented_message(row):
    _, _, call, exc, pattern = row
    with pytest.raises(exc) as info:
        call()
    assert re.search(pattern, str(info.value)), str(info.value)


def render() -> str:
    """docs/errors.md from ROWS."""
    out = ["# Refused inputs and their messages", "",
           "Generated from `tests/test_errors.py` (`python tests/test_errors.py`), where "
           "each row is also a test. Every message names the field, the value and what was "
           "expected; errors are raised before any simulation work.", "",
           "| where | refused input | exception | message (pattern) |", "|---|---|---|---|"]
    for area, what, _, exc, pattern in ROWS:
        shown = re.sub(r"\\(.)", r"\1", pattern).replace("|", "\\|")
        out.append(f"| {area} | {what} | `{exc.__name__}` | `{shown}` |")
    return "\n".join(out) + "\n"


def test_errors_doc__is_in_step_with_the_rows():
    assert DOC.read_text() == render(), "regenerate: python tests/test_errors.py"


if __name__ == "__main__":
    DOC.write_text(render())
    print(f"wrote {DOC}")
