"""Runs fuzzed env cases for `tests/test_fuzz.py`, in a child process so that a hang
(in the compiled kernel Ctrl-C does not even reach Python) fails the test on its
timeout instead of hanging the run.

Reads a JSON list of cases on stdin: ``{"kwargs": ..., "options": ..., "seed": s}``
(``kwargs["model"]`` may be a profile document). For each, on the Python core and on
``engine="auto"`` (the compiled engine where it covers the case), builds the env, resets
it and takes up to six feasible decisions. Prints ``START i`` before case i (so the
parent can name a hanging case) and one JSON line per case with the outcome:
``{"case": i, "outcome": "error", "errors": [...]}`` (both engines raised), ``"ok"``
(both ran), or ``"bad"`` with the reason.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from splitgym.envs import EdgeCloudEnv
from splitgym.envs.core import ConfigError
from splitgym.profiles import ProfileError

NAMED = (ConfigError, ProfileError)
STEPS = 6


def _episode(engine: str, case: dict) -> tuple:
    try:
        env = EdgeCloudEnv(engine=engine, **case["kwargs"])
        obs, info = env.reset(seed=case["seed"], options=case["options"])
        space = env.observation_space
        out = [obs.tobytes()]
        problems = [] if space.contains(obs) else ["reset: observation outside the space"]
        for k in range(STEPS):
            feasible = np.flatnonzero(info["action_mask"])
            obs, r, term, trunc, info = env.step(int(feasible[(5 * k + case["seed"])
                                                              % len(feasible)]))
            out.append((obs.tobytes(), r, term))
            if not space.contains(obs):
                problems.append(f"step {k}: observation outside the space")
            if not math.isfinite(r):
                problems.append(f"step {k}: reward {r}")
            if term:
                if not math.isfinite(info["metrics"]["makespan_s"]):
                    problems.append(f"makespan {info['metrics']['makespan_s']}")
                break
        return ("ran", out, problems)
    except NAMED as exc:
        return ("named", type(exc).__name__, str(exc))
    except Exception as exc:  # noqa: BLE001 - every other exception is the finding
        return ("crash", f"{type(exc).__name__}: {exc}")


def main() -> None:
    cases = json.loads(sys.stdin.read())
    for i, case in enumerate(cases):
        print(f"START {i}", flush=True)
        a, b = _episode("python", case), _episode("auto", case)
        if a[0] == "named" and b == a and a[2]:
            result = {"outcome": "error", "errors": [a[1], a[2]]}
        elif a[0] == "ran" and b[0] == "ran" and a[1] == b[1] and not a[2] and not b[2]:
            result = {"outcome": "ok"}
        else:
            result = {"outcome": "bad", "python": repr(a)[:300], "auto": repr(b)[:300]}
        print(json.dumps({"case": i, **result}), flush=True)


if __name__ == "__main__":
    main()
