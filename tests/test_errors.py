"""Every refused input, with the message it gets: one test per row of docs/errors.md.

The doc page is generated from ROWS (``python tests/test_errors.py``) and a test keeps
the two in step.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from splitgym.agents import AgentChecksumError, AgentFileError, AgentMismatchError
from splitgym.agents.train import vec_kind
from splitgym.agents.vecenv import NativeVecEnv
from splitgym.baselines.cpsat import UnsupportedRelaxationError
from splitgym.envs import EdgeCloudEnv
from splitgym.envs.core import ConfigError, InvalidActionError
from splitgym.envs.core.traces import RateTrace, make_trace
from splitgym.envs.core.workload import _mmpp, check_generated
from splitgym.envs.edge_cloud import UnknownArgumentError
from splitgym.envs.vector import EdgeCloudVectorEnv
from splitgym.experiments.outdir import OutputError
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


def _cpsat(bound_kw=None, **kw):
    from splitgym.baselines.cpsat import cpsat_lower_bound

    env = EdgeCloudEnv(model="toy", **kw)
    env.reset(seed=0)
    cpsat_lower_bound(env, **(bound_kw or {"time_limit_s": 0.1}))


def _file(name, data: bytes) -> str:
    """Write `data` to a fresh temporary file `name`; return its path."""
    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(data)
    return str(path)


def _shared_row_step():
    """Step a dict-level copy of a compiled env after the original ran out (misuse that
    once reached the kernel with a finished row)."""
    env = EdgeCloudEnv(model="toy", n_edges=1, frames_per_edge=2, engine="compiled")
    env.reset(seed=0)
    other = object.__new__(EdgeCloudEnv)
    other.__dict__.update(env.__dict__)
    while not env.step(0)[2]:
        pass
    other.step(0)


BURSTY = {"kind": "bursty", "mean_dwell_s": [2.0, 6.0]}
MARKOV = {"kind": "markov", "rates_mbps": [1.0, 5.0], "mean_dwell_s": [1.0, 1.0]}
LOGNORMAL = {"kind": "lognormal_ar1", "mean_mbps": 5.0}
DEEP = b"[" * 100_000 + b"]" * 100_000
NPY_3 = (b"\x93NUMPY\x01\x00v\x00" + b"{'descr': '<f4', 'fortran_order': False, "
         b"'shape': (3,), }".ljust(117) + b"\n" + b"\0" * 12)  # three float32 zeros


AGENT = Path(__file__).parents[1] / "agents" / "pretrained" / "alexnet-3g.zip"


class _Payload:
    """Unpickling this would run ``print``: what a crafted agent file carries."""

    def __reduce__(self):
        return (exec, ("print('ran')",))


def _crafted_agent(entry="policy_class", **text):
    """The shipped alexnet-3g agent as SB3 alone writes it (no plain data) with `entry`
    replaced by `_Payload` (and the data's plain-text fields of `entry` updated by
    `text`), in a fresh temporary folder."""
    import tempfile

    from helpers.agent_zip import with_serialized, without_plain

    folder = Path(tempfile.mkdtemp())
    path = with_serialized(AGENT, folder / "payload.zip", entry, _Payload(), **text)
    return without_plain(path, folder / "crafted.zip")


def _edited_agent(**kw):
    """The shipped alexnet-3g agent through `helpers.agent_zip.rewrite(**kw)`, loaded."""
    import tempfile

    from helpers.agent_zip import rewrite

    _load_agent(rewrite(AGENT, Path(tempfile.mkdtemp()) / "edited.zip", **kw))


def _convert_untrusted():
    """The converter (which unpickles) on an SB3-only zip, without ``trust=True``."""
    import tempfile

    from helpers.agent_zip import without_plain

    from splitgym.agents.convert import add_plain_data

    folder = Path(tempfile.mkdtemp())
    add_plain_data(without_plain(AGENT, folder / "sb3.zip"), folder / "out.zip",
                   "maskable_ppo")


def _agent_declaring(name, size):
    import tempfile

    from helpers.agent_zip import declare_size, rewrite

    path = rewrite(AGENT, Path(tempfile.mkdtemp()) / "bomb.zip")
    _load_agent(declare_size(path, name, size))


def _load_agent(path):
    from splitgym.agents import LearnedPolicy

    return LearnedPolicy.load(path)


def _changed_shipped_agent():
    import shutil
    import tempfile

    from splitgym.agents import load_pretrained
    from splitgym.agents import policy as policy_mod

    folder = Path(tempfile.mkdtemp())
    shutil.copy(AGENT.with_suffix(".json"), folder)
    (folder / AGENT.name).write_bytes(AGENT.read_bytes() + b"\0")
    saved, policy_mod.pretrained_dir = policy_mod.pretrained_dir, lambda: folder
    try:
        load_pretrained("alexnet", "3g")
    finally:
        policy_mod.pretrained_dir = saved


def _crafted_replay_buffer():
    import pickle
    import tempfile

    from stable_baselines3 import DQN

    from splitgym.agents.safe_load import load_replay_buffer

    path = Path(tempfile.mkdtemp()) / "buf.pkl"
    path.write_bytes(pickle.dumps(_Payload()))
    load_replay_buffer(DQN("MlpPolicy", "CartPole-v1", device="cpu"), path)


def _pretrained(*args):
    from splitgym.agents import load_pretrained

    load_pretrained(*args)


def _reproduce_into_a_file():
    import tempfile

    from splitgym.experiments.reproduce import reproduce

    path = Path(tempfile.mkdtemp()) / "results"
    path.write_text("not a folder")
    reproduce(path)


def _big_trace_file():
    """A sparse 64 MiB + 1 byte CSV (no disk blocks): refused by its size alone."""
    path = Path(tempfile.mkdtemp()) / "big.csv"
    with path.open("wb") as fh:
        fh.truncate(64 * 2**20 + 1)
    make_trace(path)


def _hp(algo="ppo", **overrides):
    from splitgym.agents.train import load_hyperparams

    load_hyperparams(algo, "alexnet-3g", overrides)


def _reproduce_over_a_users_readme():
    from splitgym.experiments.reproduce import reproduce

    path = Path(tempfile.mkdtemp())
    (path / "README.md").write_text("my project")
    reproduce(path)


def _agent_on(model):
    _load_agent(AGENT).check_env(EdgeCloudEnv(model=model))


def _make_bandwidth():
    import gymnasium as gym

    gym.make("splitgym/EdgeCloud-v0", bandwidth="3g")


def _cli(*args):
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", *args],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr.strip().splitlines()[-1])


def _testbed_port_taken():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        _cli("testbed", "--port", str(s.getsockname()[1]))


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
    ("training", "native vector env asked to run the Python core",
     lambda: NativeVecEnv(2, {"scenario": "mixed-fleet", "engine": "python"}),
     ConfigError, r"NativeVecEnv: engine='python' asked; use a DummyVecEnv"),
    ("training", "unknown vector env kind",
     lambda: vec_kind({}, False, "fast"),
     ValueError, r"--vec='fast': expected one of \['auto', 'native', 'dummy', 'subproc'\]"),
    ("env", "unknown engine", lambda: EdgeCloudEnv(engine="gpu"),
     ConfigError, r"engine='gpu': expected 'auto', 'python' or 'compiled'"),
    ("env", "human render mode (no window)", lambda: EdgeCloudEnv(render_mode="human"),
     ConfigError, r"render_mode='human': expected None, 'ansi' or 'rgb_array'"),
    ("env", "unknown observation version", lambda: EdgeCloudEnv(observation_version=2),
     ConfigError, r"observation_version=2: expected one of \[0, 1\]"),
    ("env", "unknown objective", lambda: EdgeCloudEnv(objective="power"),
     ConfigError, r"objective='power': expected one of"),
    ("env", "unknown transfer encoding", lambda: EdgeCloudEnv(transfer_encoding="fp16"),
     ConfigError, r"transfer_encoding='fp16': expected one of"),
    ("env", "energy objective on an edge device without power figures",
     lambda: EdgeCloudEnv(edge_device="host", objective="energy"),
     ConfigError, r"objective='energy': edge device 'host' of profile 'alexnet' has no power"),
    ("env", "weighted objective without a weight",
     lambda: EdgeCloudEnv(objective="makespan_energy"),
     ConfigError, r"objective='makespan_energy': needs energy_weight_s_per_j > 0"),
    ("env", "negative energy weight",
     lambda: EdgeCloudEnv(objective="makespan_energy", energy_weight_s_per_j=-1.0),
     ConfigError, r"energy_weight_s_per_j=-1.0: expected a finite number in \[0, 1e\+06\]"),
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
    ("env", "edge speed below 0.001", lambda: EdgeCloudEnv(n_edges=1, edge_speed=[5e-324]),
     ConfigError, r"edge_speed=\[5e-324\]: expected 1 factors > 0 \(one per edge, each in "
     r"\[0\.001, 1000\]\)"),
    ("env", "unknown edge device", lambda: EdgeCloudEnv(edge_device="jetson"),
     ProfileError, r"edge_device='jetson': profile 'alexnet' has no such device"),
    ("env", "unknown scenario", lambda: EdgeCloudEnv(scenario="moon"),
     ConfigError, r"scenario='moon': expected one of"),
    ("env", "misspelled argument", lambda: EdgeCloudEnv(bandwith_mbps=3),
     TypeError, r"unexpected keyword argument 'bandwith_mbps' \(did you mean "
     r"'bandwidth_mbps'\?\)"),
    ("env", "gym.make with bandwidth= (the CLI's flag name)", _make_bandwidth,
     UnknownArgumentError, r"unexpected keyword argument 'bandwidth' \(did you mean "
     r"'bandwidth_mbps'\?\); arguments: model, "),
    ("env", "unknown shipped model", lambda: EdgeCloudEnv(model="vgg"),
     ProfileError, r"model: no shipped profile 'vgg'; shipped: "),
    ("env", "misspelled model (the internal toy profile is not offered)",
     lambda: EdgeCloudEnv(model="alexnett"),
     ProfileError, r"model: no shipped profile 'alexnett' \(did you mean 'alexnet'\?\); "
     r"shipped: \['alexnet', 'alexnet_parallel', 'darknet19', 'googlenet', 'resnet18', "
     r"'tiny_yolo'\] "),
    ("env", "frame rate below the minimum", lambda: EdgeCloudEnv(fps=5e-324),
     ConfigError, r"fps=5e-324: expected a number > 0 or a \(low, high\) range, within "
     r"\[0\.001, 1e\+06\]"),
    ("env", "positive bandwidth below 1 bit/s", lambda: EdgeCloudEnv(bandwidth_mbps=5e-324),
     ConfigError, r"bandwidth_mbps=5e-324: expected 0 \(no uplink\) or a number of Mbit/s "
     r"in \[1e-06, 1e\+09\]"),
    ("env", "empty edge device list", lambda: EdgeCloudEnv(edge_device=[]),
     ConfigError, r"edge_device=\[\]: expected a device name, or a list"),
    ("env", "queue capacity beyond 2**31 - 1", lambda: EdgeCloudEnv(queue_capacity=2**70),
     ConfigError, r"queue_capacity=1180591620717411303424: expected a whole number in "
     r"\[1, 2147483647\]"),
    ("env", "more than 4096 cloud workers", lambda: EdgeCloudEnv(cloud_workers=5000),
     ConfigError, r"cloud_workers=5000: expected a whole number in \[1, 4096\]"),
    ("env", "more than 100,000 edges", lambda: EdgeCloudEnv(n_edges=10**6),
     ConfigError, r"n_edges=1000000: expected a whole number in \[1, 100000\]"),
    ("env", "more than 10,000,000 frames per episode",
     lambda: EdgeCloudEnv(n_edges=1000, frames_per_edge=10**5),
     ConfigError, r"frames_per_edge=100000: 100000000 frames in all \(n_edges=1000\); "
     r"expected at most 10000000"),
    ("env", "bursty factor not finite",
     lambda: EdgeCloudEnv(arrivals=dict(BURSTY, high_factor=float("nan"))),
     ConfigError, r"arrivals\['high_factor'\]=nan: expected a finite number in \[0, 1000\]"),
    ("env", "bursty dwell time NaN",
     lambda: EdgeCloudEnv(arrivals=dict(BURSTY, mean_dwell_s=[float("nan"), 1])),
     ConfigError, r"arrivals\['mean_dwell_s'\]\[0\]=nan: expected a finite number in "
     r"\[0\.001, 1e\+07\]"),
    ("env", "bursty dwell time below 1 ms",
     lambda: EdgeCloudEnv(arrivals=dict(BURSTY, mean_dwell_s=[1e-12, 1e-12])),
     ConfigError, r"arrivals\['mean_dwell_s'\]\[0\]=1e-12: expected a finite number in"),
    ("env", "bursty with over 1000 state switches per frame",
     lambda: EdgeCloudEnv(fps=1.0, arrivals=dict(BURSTY, high_factor=1e-3, low_factor=0.0,
                                                 mean_dwell_s=[1e-3, 1e7])),
     ConfigError, r"arrivals: bursty with high_factor=0\.001.* switches state 2e\+06 times per "
     r"frame; expected at most 1000"),
    ("env", "arrivals neither a name nor a dict", lambda: EdgeCloudEnv(arrivals=None),
     ConfigError, r"arrivals=None: expected one of \['periodic', 'poisson', 'bursty'\] or a "
     r"dict with 'kind'"),
    ("env", "misspelled key of an arrivals dict",
     lambda: EdgeCloudEnv(arrivals=dict(BURSTY, high_facter=2.0)),
     ConfigError, r"arrivals\['high_facter'\]: unknown key; allowed: \['kind', 'high_factor'"),
    ("reset", "option out of range (nothing changes)",
     lambda: EdgeCloudEnv().reset(options={"fps": 5e-324}),
     ConfigError, r"fps=5e-324: expected a number > 0"),
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
    ("step", "compiled engine state shared with a finished env", _shared_row_step,
     RuntimeError, r"step\(\): the compiled engine's state is not at this env's pending "
     r"decision \(shared with another env or stale\)"),
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
    ("profile", "a count beyond 2**53", lambda: load_profile(_profile(output_bytes=10**400)),
     ProfileError, r"output_bytes: must be a whole number of bytes >= 0, got an integer of "
     r"1329 bits \(at most 2\*\*53\)"),
    ("profile", "a latency beyond 1e12 ms",
     lambda: load_profile(_profile(latency_ms={"a": 10**400, "b": 1.0})),
     ProfileError, r"latency_ms\['a'\]: must be a finite number >= 0, got an integer of 1329 "
     r"bits \(at most 1e\+12\)"),
    ("profile", "provenance nested over 64 levels",
     lambda: load_profile(dict(PROFILE, provenance=json.loads("{\"a\":" * 70 + "1" +
                                                              "}" * 70))),
     ProfileError, r"provenance: nested more than 64 levels deep"),
    ("profile", "a file of deeply nested JSON", lambda: load_profile(_file("deep.json", DEEP)),
     ProfileError, r"deep\.json: JSON nested too deeply"),
    ("profile", "a file with an integer of 5,000 digits",
     lambda: load_profile(_file("big.json", b'{"input_bytes": ' + b"9" * 5000 + b"}")),
     ProfileError, r"big\.json: not a valid profile number \(Exceeds the limit"),
    ("profile", "a file not in UTF-8",
     lambda: load_profile(_file("latin1.json", '{"model": "caf\u00e9"}'.encode("latin-1"))),
     ProfileError, r"latin1\.json: not UTF-8 text \(byte 0xe9 at offset 14\); profiles are "
     r"UTF-8 JSON"),
    ("profile", "a missing file (a path: it has a separator or .json)",
     lambda: load_profile("./nowhere.json"),
     ProfileError, r"model: profile file 'nowhere\.json' does not exist"),
    ("trace", "steps not starting at 0", lambda: make_trace([[1.0, 2.0]]),
     ConfigError, r"bandwidth_mbps: the first step must start at t_s = 0"),
    ("trace", "missing trace file", lambda: make_trace("missing.csv"),
     ConfigError, r"bandwidth_mbps: trace file 'missing\.csv' does not exist"),
    ("trace", "unknown generator", lambda: EdgeCloudEnv(bandwidth_mbps={"kind": "wifi"}),
     ConfigError, r"bandwidth_mbps: unknown generator kind 'wifi'"),
    ("trace", "bad Markov chain",
     lambda: EdgeCloudEnv(bandwidth_mbps={"kind": "markov", "rates_mbps": [1.0]}),
     ConfigError, r"markov needs rates_mbps \(>= 0\) and mean_dwell_s \(> 0\)"),
    ("trace", "steps closer than 1 microsecond",
     lambda: EdgeCloudEnv(n_edges=2, edge_bandwidth_mbps=[[[0, 1.0], [0, 2.0]], 1.0]),
     ConfigError, r"edge_bandwidth_mbps\[0\]: step 1 starts at t_s=0\.0; expected finite "
     r"times, each at least 1e-06 s after the previous"),
    ("trace", "CSV step 5e-324 s wide",
     lambda: make_trace(_file("tiny.csv", b"0,5\n5e-324,0\n")),
     ConfigError, r"bandwidth_mbps: step 1 starts at t_s=5e-324"),
    ("trace", "CSV file not in UTF-8",
     lambda: make_trace(_file("latin1.csv", "# caf\u00e9\n0,5\n".encode("latin-1"))),
     ConfigError, r"bandwidth_mbps: trace file '.*latin1\.csv' is not UTF-8 text \(byte 0xe9"),
    ("trace", "a step's rate not finite", lambda: make_trace([[0, 1.0], [1, float("nan")]]),
     ConfigError, r"bandwidth_mbps\[1\]\[1\]=nan: expected 0 \(no uplink\) or a number"),
    ("trace", "a bare word that is no rate (a file needs a path)",
     lambda: EdgeCloudEnv(bandwidth_mbps="uplink"),
     ConfigError, r"bandwidth_mbps='uplink': expected a number of Mbit/s >= 0 or one of"),
    ("trace", "misspelled key of a generator",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(LOGNORMAL, sigmaa=1.0)),
     ConfigError, r"bandwidth_mbps\['sigmaa'\]: unknown key; allowed: \['kind', 'mean_mbps'"),
    ("trace", "Markov dwell time below 1 ms",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(MARKOV, mean_dwell_s=[1e-9, 1e-9])),
     ConfigError, r"bandwidth_mbps\['mean_dwell_s'\]\[0\]=1e-09: expected a finite number in "
     r"\[0\.001, 1e\+07\]"),
    ("trace", "Markov duration infinite",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(MARKOV, duration_s=float("inf"))),
     ConfigError, r"bandwidth_mbps\['duration_s'\]=inf: expected a finite number in "
     r"\[0\.001, 1e\+07\]"),
    ("trace", "Markov duration NaN",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(MARKOV, duration_s=float("nan"))),
     ConfigError, r"bandwidth_mbps\['duration_s'\]=nan: expected a finite number"),
    ("trace", "Markov duration negative",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(MARKOV, duration_s=-1)),
     ConfigError, r"bandwidth_mbps\['duration_s'\]=-1: expected a finite number"),
    ("trace", "Markov trace of over 1,000,000 steps",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(MARKOV, duration_s=1e7)),
     ConfigError, r"bandwidth_mbps: markov with duration_s=1e\+07 and a mean dwell of 1 s draws "
     r"about 1e\+07 steps; expected at most 1000000"),
    ("trace", "log-normal duration infinite",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(LOGNORMAL, duration_s=float("inf"))),
     ConfigError, r"bandwidth_mbps\['duration_s'\]=inf: expected a finite number in "
     r"\[1, 1e\+07\]"),
    ("trace", "log-normal step below 1 ms",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(LOGNORMAL, step_s=1e-9)),
     ConfigError, r"bandwidth_mbps\['step_s'\]=1e-09: expected a finite number in "
     r"\[0\.001, 1e\+07\]"),
    ("trace", "log-normal trace of over 1,000,000 steps",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(LOGNORMAL, step_s=1e-3, duration_s=1e4)),
     ConfigError, r"bandwidth_mbps: lognormal_ar1 with duration_s=10000 and step_s=0\.001 has "
     r"10000000 steps; expected at most 1000000"),
    ("trace", "log-normal sigma beyond 5",
     lambda: EdgeCloudEnv(bandwidth_mbps=dict(LOGNORMAL, sigma=50.0)),
     ConfigError, r"bandwidth_mbps\['sigma'\]=50\.0: expected a finite number in \[0, 5\]"),
    ("trace", "a trace whose volume per period overflows",
     lambda: make_trace([[0, 1e9], [1e300, 1e9]]),
     ConfigError, r"bandwidth_mbps: a trace's volume per period overflows \(inf Mbit\)"),
    ("trace", "a trace object with its period inside its steps",
     lambda: RateTrace([0.0, 1.0], [1.0, 2.0], 0.5),
     ConfigError, r"bandwidth_mbps: a trace needs finite steps starting at t=0, strictly "
     r"increasing, and a finite period_s > the last step"),
    ("arrivals", "generated times not finite and sorted (checked before any simulation)",
     lambda: check_generated([np.array([0.0, np.nan])], "arrivals"),
     ConfigError, r"arrivals: edge 0's generated arrival times are not finite, within "
     r"2e\+10 s and non-decreasing"),
    ("arrivals", "a bursty process past 20x its switch bound (a safety net)",
     lambda: _mmpp(np.random.default_rng(0), 1.0, 3, {"high_factor": 1e-9, "low_factor": 0.0,
                                                      "mean_dwell_s": [1e-3, 1e-3]}),
     ConfigError, r"the bursty process switched state more than 20000 times per frame"),
    ("trace", "per-edge specs on a shared uplink",
     lambda: EdgeCloudEnv(uplink="shared", edge_bandwidth_mbps=["3g"] * 5),
     ConfigError, r"edge_bandwidth_mbps: per-edge uplinks need uplink='per_edge'"),
    ("agent", "agent zip without splitgym's plain data (pickled entries only)",
     lambda: _load_agent(_crafted_agent()), AgentFileError,
     r"crafted\.zip': entry 'splitgym\.json' missing: not written by splitgym \(its "
     r"entries \[.*'policy_class'.*\] are pickled, and splitgym does not unpickle\); load "
     r"it only if you trust the file"),
    ("agent", "agent zip entry declaring more than MAX_ENTRY_BYTES",
     lambda: _agent_declaring("policy.pth", 3_000_000_000), AgentFileError,
     r"bomb\.zip': entry 'policy\.pth' declares 3000000000 bytes, more than 268435456"),
    ("agent", "agent zip entry that decompresses to more than it declares",
     lambda: _agent_declaring("policy.pth", 1000), AgentFileError,
     r"bomb\.zip': not a readable zip \(BadZipFile: Bad CRC-32 for file 'policy\.pth'\)"),
    ("agent", "agent zip entry that is not one splitgym reads",
     lambda: _edited_agent(entries={"../../evil.pth": b"x"}), AgentFileError,
     r"edited\.zip': entry '\.\./\.\./evil\.pth' is not one splitgym reads"),
    ("agent", "agent zip of an older splitgym (weights in pickled .pth entries only)",
     lambda: _edited_agent(plain=lambda d: d.pop("state_dicts")), AgentFileError,
     r"edited\.zip': entry 'splitgym\.json' declares no \.npy weights \(written by an "
     r"older splitgym, .*\); add them once with python -m splitgym\.agents\.convert "
     r"--trust-agent IN OUT"),
    ("agent", "converting an SB3 zip (which unpickles it) without the explicit trust flag",
     lambda: _convert_untrusted(), AgentFileError,
     r"sb3\.zip': converting unpickles the file: pass --trust-agent \(trust=True in "
     r"Python\) only for a file you trust"),
    ("agent", ".npy weights whose header differs from their declaration",
     lambda: _edited_agent(entries={"weights/policy/action_net.bias.npy": NPY_3}),
     AgentFileError, r"edited\.zip': entry 'weights/policy/action_net\.bias\.npy': an "
     r"array of shape \(3,\), splitgym\.json declares \(12,\)"),
    ("agent", "data nested too deeply",
     lambda: _edited_agent(entries={"data": DEEP}), AgentFileError,
     r"edited\.zip': entry 'data': JSON nested too deeply"),
    ("agent", "data key splitgym does not read",
     lambda: _edited_agent(data=lambda d: d.update(device="cuda:7")), AgentFileError,
     r"edited\.zip': entry 'data' key 'device': not a key splitgym reads"),
    ("agent", "policy_kwargs that is not a mapping",
     lambda: _edited_agent(data=lambda d: d.update(policy_kwargs="abc")), AgentFileError,
     r"edited\.zip': entry 'data' key 'policy_kwargs': \"abc\": expected a mapping"),
    ("agent", "use_sde true",
     lambda: _edited_agent(data=lambda d: d.update(use_sde=True)), AgentFileError,
     r"edited\.zip': entry 'data' key 'use_sde': true: expected false"),
    ("agent", "observation too large",
     lambda: _edited_agent(plain=lambda d: d["entries"]["observation_space"].update(
         shape=[200_000_000])), AgentFileError,
     r"edited\.zip': entry 'splitgym\.json' key 'observation_space': shape=\[200000000\]: "
     r"expected at most 8 sizes of at most 1048576 numbers in all"),
    ("agent", "weights that do not fit the declared sizes",
     lambda: _edited_agent(data=lambda d: d["policy_kwargs"].update(net_arch=[64, 65])),
     AgentFileError, r"edited\.zip': entry 'splitgym\.json' key 'state_dicts': 'policy' "
     r"holds [0-9]+ numbers, the "
     r"observation of 58, 12 actions and net_arch=\[64, 65\] need [0-9]+"),
    ("agent", "model larger than MAX_MODEL_BYTES",
     lambda: _edited_agent(data=lambda d: d.update(n_steps=2**31)), AgentFileError,
     r"edited\.zip': entry 'data': its model would take [0-9]+ bytes \(networks and "
     r"rollout buffer\), more than 2147483648"),
    ("agent", "load_pretrained name that is a path",
     lambda: _pretrained("../../x", "3g"), ValueError,
     r"no shipped agent '\.\./\.\./x-3g' \(model='\.\./\.\./x', bandwidth='3g'\)"),
    ("agent", "agent zip naming no known policy class",
     lambda: _load_agent(_crafted_agent(__module__="mypkg")), AgentFileError,
     r"crafted\.zip': cannot tell its algorithm"),
    ("agent", "file that is not an SB3 zip", lambda: _load_agent(Path(__file__)),
     AgentFileError, r"test_errors\.py': not a readable zip"),
    ("agent", "pickled replay buffer", _crafted_replay_buffer, AgentFileError,
     r"replay buffer '.*buf\.pkl': a pickled buffer \(splitgym reads its own \.npz "
     r"buffers only\)"),
    ("agent", "shipped agent changed after shipping", _changed_shipped_agent,
     AgentChecksumError, r"shipped agent 'alexnet-3g': '.*alexnet-3g\.zip' has SHA-256 "
     r"[0-9a-f]{64}, its card alexnet-3g\.json says [0-9a-f]{64}"),
    ("agent", "agent for another model", lambda: _agent_on("resnet18"), AgentMismatchError,
     r"\(alexnet: 12 cuts, observation of 58\) does not fit the env \(model 'resnet18': "
     r"5 cuts, observation of [0-9]+\)"),
    ("cli", "splitgym evaluate --agent crafted.zip",
     lambda: _cli("evaluate", "--seeds", "1", "--agent", str(_crafted_agent())),
     SystemExit, r"crafted\.zip': entry 'splitgym\.json' missing"),
    ("reproduce", "output folder that is a file (before computing)", _reproduce_into_a_file,
     OutputError, r"--out='.*results': exists and is not a folder"),
    ("cli", "splitgym reproduce --out under a file (one line, before computing)",
     lambda: _cli("reproduce", "--out", str(Path(__file__) / "results")),
     SystemExit, r"--out='.*test_errors\.py/results': '.*test_errors\.py' is not a folder"),
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
    ("cli", "splitgym reproduce --calibration fitted",
     lambda: _cli("reproduce", "--calibration", "fitted", "--no-progress"),
     SystemExit, r"--calibration: invalid choice: 'fitted'"),
    ("cli", "splitgym testbed --policy fixed:12 (a cut out of range, before measuring)",
     lambda: _cli("testbed", "--policy", "fixed:12"),
     SystemExit, r"--policy=fixed:12: cut 12 is out of range; alexnet has cuts 0\.\.11"),
    ("cli", "splitgym testbed --bandwidth 0 --policy cloud_only",
     lambda: _cli("testbed", "--bandwidth", "0", "--policy", "cloud_only"),
     SystemExit, r"--policy=cloud_only: cut 0 sends its tensor, but the uplink rate is 0"),
    ("cli", "splitgym testbed --port (a port in use)", _testbed_port_taken,
     SystemExit, r"--port=[0-9]+: 127\.0\.0\.1:[0-9]+ is in use"),
    ("cli", "splitgym testbed --model toy (no torch model)",
     lambda: _cli("testbed", "--model", "toy"),
     SystemExit, r"--model='toy': the testbed runs the torch models"),
    ("multi-agent env", "reset to another fleet size",
     lambda: _multiagent_reset(options={"n_edges": 3}),
     ConfigError, r"options: 3 edges for an env built with n_edges=5"),
    ("cli", "splitgym sweep missing.yml", lambda: _cli("sweep", "missing.yml", "--out", "x"),
     SystemExit, r"sweep config 'missing\.yml' does not exist"),
    ("cli", "splitgym profile pkg.module:factory without --input-shape (before importing it)",
     lambda: _cli("profile", "pkg.module:factory", "--device", "x", "--out", "x.json"),
     SystemExit, r"model='pkg\.module:factory': give --input-shape"),
    ("cli", "splitgym profile vgg99", lambda: _cli("profile", "vgg99", "--device", "x",
                                                   "--out", "x.json"),
     SystemExit, r"model='vgg99': expected one of"),
    ("cli", "splitgym train --env-kwargs bandwith_mbps=3",
     lambda: _cli("train", "--model", "toy", "--env-kwargs", "bandwith_mbps=3"),
     SystemExit, r"--env-kwargs bandwith_mbps=3: unknown key \(did you mean "
                 r"'bandwidth_mbps'\?\); valid keys: model, "),
    ("cli", "splitgym train --hyperparams learning_rate=fast",
     lambda: _cli("train", "--model", "toy", "--hyperparams", "learning_rate=fast"),
     SystemExit, r"--hyperparams learning_rate='fast': expected a number"),
    ("cli", "splitgym train --resume RUN --model resnet18",
     lambda: _cli("train", "--resume", "nowhere", "--model", "resnet18"),
     SystemExit, r"--resume nowhere: --model cannot change a run"),
    ("cli", "splitgym profile over an existing profile",
     lambda: _cli("profile", "alexnet", "--device", "x", "--out",
                  str(Path(__file__).parents[1] / "profiles" / "toy.json")),
     SystemExit, r"already exists \(a profile of .*\); --merge adds device 'x' to it, "
                 r"--force replaces it"),
    ("cpsat bound", "an episode with drop_late (dropped frames never run)",
     lambda: _cpsat(deadline_s=5.0, drop_late=True),
     UnsupportedRelaxationError, r"drop_late=True \(deadline_s=5\.0\): dropped frames"),
    ("cpsat bound", "an episode with a time-varying uplink",
     lambda: _cpsat(n_edges=2, edge_bandwidth_mbps=["3g", [[0, 1.0]]]),
     UnsupportedRelaxationError, r"bandwidth_mbps: a time-varying uplink trace"),
    ("cpsat bound", "a time limit that is not > 0",
     lambda: _cpsat({"time_limit_s": 0}),
     ValueError, r"time_limit_s=0: expected seconds > 0"),
    ("cpsat bound", "a deterministic budget on several workers",
     lambda: _cpsat({"work_limit": 1.0, "workers": 2}),
     ValueError, r"work_limit=1\.0 with workers=2: a deterministic budget needs workers=1"),
    ("cli", "splitgym evaluate --proven-bound 5 --proven-bound-work 5",
     lambda: _cli("evaluate", "--proven-bound", "5", "--proven-bound-work", "5",
                  "--no-progress"),
     SystemExit, r"--proven-bound-work: not allowed with argument --proven-bound"),
    ("cli", "splitgym evaluate --proven-bound 0",
     lambda: _cli("evaluate", "--proven-bound", "0", "--no-progress"),
     SystemExit, r"--proven-bound=0\.0: expected seconds > 0"),
    # integers beyond a float's range, and per-episode bounds of given arrivals (issue 20)
    ("env", "an integer beyond a float's range (10**400)",
     lambda: EdgeCloudEnv(bandwidth_mbps=10**400),
     ConfigError, r"bandwidth_mbps=<an integer of 1329 bits>: expected a finite number of "
     r"Mbit/s >= 0 \(at most 1e\+09\)"),
    ("reset", "an integer beyond a float's range in a generator",
     lambda: EdgeCloudEnv().reset(options={"bandwidth_mbps": dict(LOGNORMAL, sigma=10**400)}),
     ConfigError, r"bandwidth_mbps\['sigma'\]=<an integer of 1329 bits>: expected a finite "
     r"number in \[0, 5\]"),
    ("env", "a deadline beyond 1e10 s", lambda: EdgeCloudEnv(deadline_s=1e300),
     ConfigError, r"deadline_s=1e\+300: expected None or a number of seconds > 0 \(at most "
     r"1e\+10\)"),
    ("reset", "arrival times beyond 1e10 s",
     lambda: EdgeCloudEnv().reset(options={"arrival_times_s": [[0.0, 1e300]]}),
     ConfigError, r"arrival_times_s\[0\]\[1\]=1e\+300: expected a finite time in "
     r"\[0, 1e\+10\] s"),
    ("env", "frames whose last arrival is past 1e10 s",
     lambda: EdgeCloudEnv(n_edges=1, frames_per_edge=10**7, fps=1e-3),
     ConfigError, r"frames_per_edge=10000000 at fps 0\.001: the last frame arrives near "
     r"t=1e\+10 s; expected within 1e\+10 s"),
    ("reset", "arrival times for more than 100,000 edges",
     lambda: EdgeCloudEnv().reset(options={"arrival_times_s": [[0.0]] * 200_000}),
     ConfigError, r"arrival_times_s: 200000 edges; expected at most 100000"),
    ("reset", "more than 10,000,000 arrival times (counted before reading them)",
     lambda: EdgeCloudEnv().reset(options={"arrival_times_s": [range(6_000_000)] * 2}),
     ConfigError, r"arrival_times_s: 12000000 arrival times in all; expected at most "
     r"10000000 per episode"),
    ("cli", "splitgym train --env-kwargs deadline_s=<400 digits>",
     lambda: _cli("train", "--model", "toy", "--env-kwargs", "deadline_s=1" + "0" * 400),
     SystemExit, r"deadline_s=<an integer of 1329 bits>: expected None or a number of "
     r"seconds > 0"),
    ("trace", "a Markov trace per edge over 1,000,000 steps in all (before drawing)",
     lambda: EdgeCloudEnv(n_edges=8, bandwidth_per_edge=True,
                          bandwidth_mbps=dict(MARKOV, duration_s=1e6)),
     ConfigError, r"bandwidth_mbps: 8000000 trace steps in one episode \(8 links x 1000000 "
     r"steps\); expected at most 1000000"),
    ("trace", "per-edge log-normal specs over 1,000,000 steps in all",
     lambda: EdgeCloudEnv(n_edges=150, edge_bandwidth_mbps=[dict(LOGNORMAL,
                                                                 duration_s=1e6)] * 150),
     ConfigError, r"edge_bandwidth_mbps: 150000000 trace steps in one episode"),
    ("trace", "a CSV trace file over 64 MiB (before reading it)", _big_trace_file,
     ConfigError, r"bandwidth_mbps: trace file '.*big\.csv' has 67108865 bytes; expected at "
     r"most 67108864"),
    ("trace", "a CSV field over the csv module's 128 kB limit",
     lambda: make_trace(_file("wide.csv", b"0,1\n1," + b"9" * 200_000 + b"\n")),
     ConfigError, r"bandwidth_mbps: wide\.csv line 2: not a t_s,mbps row \(field larger "
     r"than field limit"),
    ("trace", "a list of more than 1,000,000 steps",
     lambda: make_trace([[0, 1.0]] * 1_000_001),
     ConfigError, r"bandwidth_mbps: 1000001 steps; expected at most 1000000"),
    ("reset", "a negative seed (nothing changes)", lambda: EdgeCloudEnv().reset(seed=-1),
     ConfigError, r"seed=-1: expected None or a whole number >= 0; nothing was reset"),
    ("vector env", "a negative seed for one sub-env (checked before any resets)",
     lambda: EdgeCloudVectorEnv(3, model="toy").reset(seed=[0, -1, 0]),
     ConfigError, r"seed\[1\]=-1: expected None or a whole number >= 0; nothing was reset"),
    # hyperparameters: ranges checked before anything is built (issue 20)
    ("training", "gamma above 1 (NaN logits)", lambda: _hp(gamma=2),
     ConfigError, r"--hyperparams gamma=2: expected a number in \(0, 1\]"),
    ("training", "clip_range not > 0", lambda: _hp(clip_range=-1),
     ConfigError, r"--hyperparams clip_range=-1: expected a number in \(0, 10\]"),
    ("training", "learning_rate not > 0", lambda: _hp(learning_rate=0),
     ConfigError, r"--hyperparams learning_rate=0: expected a number in \(0, 1\]"),
    ("training", "batch_size 0", lambda: _hp(batch_size=0),
     ConfigError, r"--hyperparams batch_size=0: expected a whole number in \[1, 1048576\]"),
    ("training", "n_steps 1e12 (a MemoryError)", lambda: _hp(n_steps=1e12),
     ConfigError, r"--hyperparams n_steps=1000000000000\.0: expected a whole number in "
     r"\[1, 1048576\]"),
    ("training", "n_envs 100,000", lambda: _hp(n_envs=10**5),
     ConfigError, r"--hyperparams n_envs=100000: expected a whole number in \[1, 1024\]"),
    ("training", "n_steps x n_envs over 2**20 rows", lambda: _hp(n_steps=4096, n_envs=1024),
     ConfigError, r"--hyperparams n_steps=4096, n_envs=1024: 4194304 steps per rollout; "
     r"expected at most 1048576"),
    ("training", "net_arch wider than 4096", lambda: _hp(net_arch=[10**5, 10**5]),
     ConfigError, r"--hyperparams net_arch=\[100000, 100000\]: expected a list of at most "
     r"16 layer widths, each a whole number in \[1, 4096\]"),
    ("training", "a hyperparameter beyond a float's range", lambda: _hp(gamma=10**400),
     ConfigError, r"--hyperparams gamma=<an integer of 1329 bits>: expected a number in "
     r"\(0, 1\]"),
    ("training", "a replay buffer over 2**22 transitions",
     lambda: _hp("dqn", buffer_size=10**9),
     ConfigError, r"--hyperparams buffer_size=1000000000: expected a whole number in "
     r"\[1, 4194304\]"),
    ("cli", "splitgym evaluate --csv under a file (before computing)",
     lambda: _cli("evaluate", "--csv", str(Path(__file__) / "x.csv"), "--no-progress"),
     SystemExit, r"--csv='.*test_errors\.py/x\.csv': '.*test_errors\.py' is not a folder; "
     r"nothing was computed"),
    ("reproduce", "a file of the user's with a result's name (before computing)",
     _reproduce_over_a_users_readme, OutputError, r"README\.md exist\(s\) there and "
     r"\.splitgym-manifest\.json does not list them as written by splitgym"),
]


BIG = 10**400  # above a float's range: math.isfinite(BIG) raises OverflowError
#: Every numeric env argument, given an integer beyond a float's range (issue 20).
HUGE = {
    "bandwidth_mbps": BIG, "deadline_s": BIG, "phase_s": BIG, "fps": BIG,
    "edge_speed": BIG, "n_edges": BIG, "frames_per_edge": BIG, "queue_capacity": BIG,
    "cloud_workers": BIG, "edge_bandwidth_mbps": [BIG] * 5,
    "arrivals": dict(BURSTY, high_factor=BIG),
}
GENERATORS = {
    "markov rates_mbps": dict(MARKOV, rates_mbps=[BIG, 1.0]),
    "markov mean_dwell_s": dict(MARKOV, mean_dwell_s=[BIG, 1.0]),
    "markov duration_s": dict(MARKOV, duration_s=BIG),
    **{f"lognormal {k}": dict(LOGNORMAL, **{k: BIG}) for k in
       ("mean_mbps", "sigma", "rho", "step_s", "duration_s")},
    "trace time": [[0, 1.0], [BIG, 2.0]], "trace rate": [[0, BIG]],
}
RESET_OK = ("bandwidth_mbps", "deadline_s", "phase_s", "fps", "n_edges", "frames_per_edge",
            "queue_capacity", "cloud_workers", "arrivals")


@pytest.mark.parametrize("field, value", [*HUGE.items(), *(
    ("bandwidth_mbps", v) for v in GENERATORS.values())],
    ids=[*HUGE, *GENERATORS])
def test_integer_beyond_a_float__is_a_named_config_error(field, value):
    """At construction and in reset(options=...): a `ConfigError` naming the field (no
    raw OverflowError), with the value shown by its size."""
    import gymnasium as gym

    calls = [lambda: gym.make("splitgym/EdgeCloud-v0", model="toy", **{field: value})]
    if field in RESET_OK:
        calls.append(lambda: EdgeCloudEnv(model="toy").reset(options={field: value}))
    for call in calls:
        with pytest.raises(ConfigError) as info:
            call()
        assert field in str(info.value) and "\n" not in str(info.value)
        assert "1329 bits" in str(info.value) or "expected" in str(info.value)


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
    out += ["", "## Bounds", "",
            "Every number has a range whose work and memory are bounded, so no accepted "
            "input can overflow, allocate without bound or loop without end; outside it "
            "the input is refused as above. The constants live in "
            "`splitgym.envs.core.config`, `splitgym.envs.core.traces`, "
            "`splitgym.profiles.schema` and `splitgym.agents.safe_load`.", "",
            "| input | accepted | why |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in BOUNDS]
    out += ["", "## Names and files", "",
            "A bare word is never read as a file, whatever the working directory holds: "
            "`bandwidth_mbps=\"3g\"` is 3G and `model=\"alexnet\"` (or `--model alexnet`) "
            "the shipped profile even beside a file or folder of that name. A value is "
            "read as a file only when it looks like a path: a `pathlib.Path`, or a string "
            "with a directory separator or a `.csv` (traces) / `.json` (profiles) "
            "suffix; write `./3g` to mean a file named `3g`. Files are read as UTF-8."]
    return "\n".join(out) + "\n"


def _bounds() -> list[tuple[str, str, str]]:
    from splitgym.envs.core import config as c
    from splitgym.envs.core import traces as t
    from splitgym.profiles import schema as s

    return [
        ("`bandwidth_mbps`, every trace rate", f"0, or {c.MIN_MBPS:g} to {c.MAX_MBPS:g} "
         f"Mbit/s", "a smaller positive rate is refused, not rounded to 0: it makes a "
         "transfer's time overflow while the cut still looks feasible; 0 means no uplink"),
        ("`fps` (and each end of a range)", f"{c.MIN_FPS:g} to {c.MAX_FPS:g} frames/s",
         "slower rates overflow arrival times; faster ones are below the times' resolution"),
        ("`n_edges`", f"1 to {c.MAX_EDGES:,}", "per-edge state"),
        ("`n_edges` x `frames_per_edge`", f"at most {c.MAX_TASKS:,} frames",
         "one episode's per-task records (64 bytes a task in the compiled engine)"),
        ("`queue_capacity`", f"1 to {c.MAX_QUEUE_CAPACITY:,}", "the compiled engine's "
         "integers"),
        ("`cloud_workers`", f"1 to {c.MAX_CLOUD_WORKERS:,}", "work per decision"),
        ("`phase_s`", f"0 to {c.MAX_DWELL_S:g} s", "finite times"),
        ("`edge_speed` (each factor)", f"{c.MIN_SPEED:g} to {c.MAX_SPEED:g}",
         "edge times that neither overflow nor vanish"),
        ("bursty `high_factor`, `low_factor`", f"0 to {c.MAX_FACTOR:g}, not both 0",
         "finite rates"),
        ("bursty `mean_dwell_s`, Markov `mean_dwell_s`",
         f"{c.MIN_DWELL_S:g} to {c.MAX_DWELL_S:g} s", "drawing work per frame or per second"),
        ("bursty state switches", f"at most {c.MAX_SWITCHES_PER_FRAME:g} expected per frame "
         "(2 / (fps_low x (high_factor x dwell_high + low_factor x dwell_low)))",
         "drawing work per frame; a draw that still passes 20x the bound stops with a "
         "`ConfigError` (as does a Markov trace past 20x its step bound)"),
        ("Markov and log-normal `duration_s`", f"up to {t.MAX_DURATION_S:g} s (Markov: at "
         f"least {c.MIN_DWELL_S:g} s; log-normal: at least `step_s`)", "finite traces"),
        ("generated trace steps", f"at most {t.MAX_TRACE_STEPS:,} (Markov: duration_s / "
         "the shortest mean dwell; log-normal: duration_s / step_s)", "memory and drawing "
         "time"),
        ("Markov states", f"2 to {t.MAX_STATES}", "the transition matrix"),
        ("log-normal `step_s`; `sigma`; `rho`", f"at least {c.MIN_DWELL_S:g} s; 0 to "
         f"{t.MAX_SIGMA:g}; -1 < rho < 1", "overflowing rates"),
        ("user trace steps (a list or a CSV)", f"finite, each at least {t.MIN_STEP_S:g} s "
         "after the previous", "a narrower step's volume is below the arithmetic's "
         "resolution"),
        ("generator dicts", "only their documented keys", "a misspelled key is refused, "
         "not ignored"),
        ("generated arrival times", "finite, >= 0, non-decreasing (checked before the "
         "simulation)", "the compiled engine also refuses a NaN event time"),
        ("profile latencies", f"0 to {s.MAX_MS:g} ms", "finite sums"),
        ("profile bytes, params, shapes", "whole numbers 0 to 2**53", "exact in float64"),
        ("profile nesting", f"at most {s.MAX_DEPTH} levels", "no recursion limits"),
        ("one episode's uplink traces", f"at most {t.MAX_EPISODE_TRACE_STEPS:,} steps in "
         "all (every link's trace: per-edge generators count once per edge), counted "
         "before any is drawn or read", "drawing work and memory per reset"),
        ("a trace CSV file", f"at most {t.MAX_TRACE_FILE_BYTES:,} bytes (checked before "
         f"reading) and {t.MAX_TRACE_STEPS:,} rows; a list of steps at most "
         f"{t.MAX_TRACE_STEPS:,}", "reading time and memory"),
        ("`arrival_times_s`", f"at most {c.MAX_EDGES:,} edges and {c.MAX_TASKS:,} times in "
         f"all (counted before converting them), each in [0, {c.MAX_TIME_S:g}] s",
         "as for generated arrivals; beyond 1e10 s a float no longer resolves the events"),
        ("`deadline_s`", f"(0, {c.MAX_TIME_S:g}] s", "finite times"),
        ("generated arrivals", f"the last frame's expected arrival (largest phase + most "
         f"frames per edge / (lowest fps x a bursty process's mean factor)) within "
         f"{c.MAX_TIME_S:g} s; a draw past twice that is refused", "the same time range "
         "as given arrival times"),
        ("any number", "an integer beyond a float's range (~1.8e308) is refused like inf, "
         "shown by its size in bits", "no raw OverflowError"),
        *_hyperparam_bounds(),
        *_agent_bounds(),
    ]


def _hyperparam_bounds() -> list[tuple[str, str, str]]:
    from splitgym.agents import train as tr

    def span(low, high, low_open):
        return f"{'(' if low_open else '['}{low:g}, {high:g}]"

    nums = "; ".join(f"`{k}` {span(*r)}" for k, r in tr.HYPERPARAM_RANGES.items())
    ints = "; ".join(f"`{k}` [{lo:,}, {hi:,}]" for k, (lo, hi) in
                     tr.HYPERPARAM_INT_RANGES.items())
    return [
        ("hyperparameters (numbers)", nums, "outside them training fails deep inside the "
         "algorithm (NaN logits) or learns nothing"),
        ("hyperparameters (whole numbers)", ints, "memory of the rollout and replay "
         "buffers, work per update"),
        ("`n_steps` x `n_envs`", f"at most {tr.MAX_ROLLOUT_STEPS:,}", "one rollout "
         "buffer's rows"),
        ("`net_arch`", f"at most {tr.MAX_LAYERS} layers of 1 to {tr.MAX_WIDTH:,} units",
         "the networks' memory"),
    ]


def _agent_bounds() -> list[tuple[str, str, str]]:
    from splitgym.agents import safe_load as a

    return [
        ("agent/replay-buffer zip entry", f"declared and read size at most "
         f"{a.MAX_ENTRY_BYTES:,} bytes; the file and its entries in all at most "
         f"{a.MAX_FILE_BYTES:,}; at most {a.MAX_ENTRIES:,} entries", "checked before "
         "decompressing (the entry count before the directory is parsed); each read is "
         "capped"),
        ("agent JSON entries (`data`, `splitgym.json`)", f"at most {a.MAX_JSON_BYTES:,} "
         "bytes", "parsing time and memory"),
        ("model an agent file asks for", f"networks and rollout/replay buffer at most "
         f"{a.MAX_MODEL_BYTES:,} bytes; observation, actions, layer widths at most "
         f"{a.MAX_DIM:,}", "the weights (`.npy`, read with numpy, no unpickler) must "
         "hold exactly the tensors the declared sizes need"),
    ]


BOUNDS = _bounds()


def test_errors_doc__is_in_step_with_the_rows():
    assert DOC.read_text() == render(), "regenerate: python tests/test_errors.py"


if __name__ == "__main__":
    DOC.write_text(render())
    print(f"wrote {DOC}")
