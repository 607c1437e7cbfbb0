"""The shared conformance cases, fed through gym.make: every completion time to 1e-9.

The cases (tests/data/conformance_cases.json, copied from the project's shared
conformance folder) pin the spec's reading of the system model by example. A mismatch
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
from splitgym.envs import ENV_ID

DATA = Path(__file__).parent / "data"
CASES = json.loads((DATA / "conformance_cases.json").read_text())["cases"]


@pytest.mark.parametrize("engine", ["python", "auto"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_conformance__every_completion_time_matches(case, engine, tmp_path):
    # on the Python core, and on the compiled engine wherever it covers the case
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(case["profile"]))
    env = gym.make(ENV_ID, model=str(path), engine=engine, **case["env_kwargs"])
    obs, info = env.reset(seed=0, options={"arrival_times_s": case["arrival_times_s"]})
    equal_counts = len({len(a) for a in case["arrival_times_s"]}) == 1
    assert env.unwrapped._compiled == (engine == "auto" and equal_counts
                                       and env.unwrapped.engine == "compiled")
    terminated = False
    while not terminated:
        d = info["decision"]
        obs, _, terminated, _, info = env.step(case["cuts"][d["edge"]][d["frame"]])
    records = env.unwrapped.records()
    expected = case["expected"]
    for e, (got, want) in enumerate(zip(records.per_edge("completion_s"),
                                        expected["completion_s"], strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0,
                                   err_msg=f"{case['id']} edge {e}")
    assert math.isclose(info["metrics"]["makespan_s"], expected["makespan_s"], rel_tol=1e-9)
    assert math.isclose(info["metrics"]["mean_latency_s"], expected["mean_latency_s"],
                        rel_tol=1e-9)


def test_conformance__the_compiled_engine_runs_most_cases(tmp_path):
    covered = 0
    for case in CASES:
        path = tmp_path / f"{case['id']}.json"
        path.write_text(json.dumps(case["profile"]))
        env = gym.make(ENV_ID, model=str(path), **case["env_kwargs"])
        env.reset(seed=0, options={"arrival_times_s": case["arrival_times_s"]})
        covered += env.unwrapped._compiled
    assert covered >= len(CASES) // 2, covered


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
