"""Step single envs in lockstep with a vector env's rows (the tests that check the
vector env gives each row the single env's episode, bit for bit)."""

from __future__ import annotations

from typing import Any

import numpy as np


def step_rows(singles: list[Any], acts: np.ndarray, pending: list[bool], obs: np.ndarray,
              rew: np.ndarray, term: np.ndarray, info: dict[str, Any]) -> list[dict]:
    """Step each single env as the vector env stepped row i with ``acts[i]`` and returned
    ``obs, rew, term, info``. Gymnasium's next-step autoreset: a row whose episode ended
    at the previous step (``pending[i]``) resets without a seed, reward 0. Asserts the
    row's observation, reward and termination, and an ending row's metrics, equal the
    single env's; updates `pending`. Returns the single envs' infos of the ended
    episodes (their metrics), for further checks."""
    ended = []
    for i, env in enumerate(singles):
        if pending[i]:
            o, inf = env.reset()
            r, t = 0.0, False
        else:
            o, r, t, _, inf = env.step(int(acts[i]))
            if t:
                assert info["metrics"][i] == inf["metrics"]
                ended.append(inf)
        pending[i] = t
        assert np.array_equal(obs[i], o) and rew[i] == r and term[i] == t
        assert np.array_equal(info["action_mask"][i], inf["action_mask"])
    return ended
