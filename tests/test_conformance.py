"""The shared conformance cases, fed through gym.make: every completion time to 1e-9.

The cases (tests/data/conformance_cases.json and sq_cases.json, copied from the
project's shared conformance folder; tests/data/CONFORMANCE.md describes them) pin the
spec's reading of the system model and of Scheduling with Queuing by example. A mismatch
is a bug in the simulator or a misreading of the spec: fix the reading, never the data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import splitgym.envs  # noqa: F401  (registers the id)
from splitgym.baselines import make_policy, single_cut_index
from splitgym.envs import ENV_ID

DATA = Path(__file__).parent / "data"
CASES = json.loads((DATA / "conformance_cases.json").read_text())["cases"]


def _case_env(case, path, **kwargs):
    """The case's env (its profile written to `path`), reset to the case's arrivals:
    (env, obs, info)."""
    path.write_text(json.dumps(case["profile"]))
    env = gym.make(ENV_ID, model=str(path), **kwargs, **case["env_kwargs"])
    obs, info = env.reset(seed=0, options={"arrival_times_s": case["arrival_times_s"]})
    return env, obs, info


def _assert_completion_times(case, records):
    """Every frame's completion time as the case expects, to 1e-9."""
    for e, (got, want) in enumerate(zip(records.per_edge("completion_s"),
                                        case["expected"]["completion_s"], strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0,
                                   err_msg=f"{case['id']} edge {e}")


@pytest.mark.parametrize("engine", ["python", "auto"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_conformance__every_completion_time_matches(case, engine, tmp_path):
    # on the Python core, and on the compiled engine (which covers every case)
    env, obs, info = _case_env(case, tmp_path / "profile.json", engine=engine)
    assert env.unwrapped.engine_in_use == ("compiled" if engine == "auto" else "python")
    terminated = False
    while not terminated:
        d = info["decision"]
        obs, _, terminated, _, info = env.step(case["cuts"][d["edge"]][d["frame"]])
    expected = case["expected"]
    _assert_completion_times(case, env.unwrapped.records())
    assert math.isclose(info["metrics"]["makespan_s"], expected["makespan_s"], rel_tol=1e-9)
    assert math.isclose(info["metrics"]["mean_latency_s"], expected["mean_latency_s"],
                        rel_tol=1e-9)


def test_conformance__the_compiled_engine_runs_every_case(tmp_path):
    for case in CASES:
        env, _, _ = _case_env(case, tmp_path / f"{case['id']}.json")
        assert env.unwrapped.engine_in_use == "compiled", case["id"]


def test_conformance__cases_cover_every_mode():
    # The data must keep exercising what it pins: both uplinks, several workers,
    # tiny queues, cloud-only, edge-only and middle cuts.
    kw = [c["env_kwargs"] for c in CASES]
    assert {k["uplink"] for k in kw} == {"per_edge", "shared"}
    assert max(k["cloud_workers"] for k in kw) > 1
    assert min(k["queue_capacity"] for k in kw) == 1
    cuts = {(x == 0, x == len(c["profile"]["layers"])) for c in CASES for row in c["cuts"]
            for x in row}
    assert cuts == {(True, False), (False, True), (False, False)}


SQ_CASES = json.loads((DATA / "sq_cases.json").read_text())["cases"]


@pytest.mark.parametrize("engine", ["python", "compiled"])
@pytest.mark.parametrize("case", SQ_CASES, ids=[c["id"] for c in SQ_CASES])
def test_sq_conformance__every_cut_and_completion_time_matches(case, engine, tmp_path):
    # Scheduling with Queuing decides every cut; both engines must make the case's cuts,
    # cut for cut, and reproduce every completion time to 1e-9
    env, obs, info = _case_env(case, tmp_path / "profile.json", engine=engine)
    policy = make_policy("queue_aware")
    expected = case["expected"]
    assert env.unwrapped._compiled == (engine == "compiled")
    terminated = False
    while not terminated:
        d = info["decision"]
        assert single_cut_index(d) == expected["single_cut"]
        cut = policy(obs, info)
        assert cut == expected["cuts"][d["edge"]][d["frame"]], \
            f"{case['id']} edge {d['edge']} frame {d['frame']}"
        obs, _, terminated, _, info = env.step(cut)
    records = env.unwrapped.records()
    got_cuts = [c.tolist() for c in records.per_edge("cut")]
    assert got_cuts == expected["cuts"]
    assert sum(c != expected["single_cut"] for row in got_cuts for c in row) == \
        expected["tasks_not_at_single_cut"]
    _assert_completion_times(case, records)
    assert math.isclose(info["metrics"]["makespan_s"], expected["makespan_s"], rel_tol=1e-9)


def test_sq_conformance__cases_exercise_what_they_pin():
    # deeper S-Q cuts in some cases and none in others, both uplinks, several workers
    assert {c["expected"]["tasks_not_at_single_cut"] > 0 for c in SQ_CASES} == {True, False}
    kw = [c["env_kwargs"] for c in SQ_CASES]
    assert {k["uplink"] for k in kw} == {"per_edge", "shared"}
    assert max(k["cloud_workers"] for k in kw) > 1
