"""Say so when the compiled engine is about to be compiled, instead of a frozen bar.

numba compiles `splitgym.envs.fast` (`splitgym.envs.kernel`) on its first call in a
fresh checkout or install (15-30 s on 2 cores) and caches the machine code in ``__pycache__`` (or
``NUMBA_CACHE_DIR``); later processes load it in about a second. Commands that step an
env call `warm_engine` first, which prints one line and the time taken when the cache is
cold, and nothing when it is warm.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

#: The compiled functions one env's reset and step call, and the vector env's.
_SINGLE_ENV_FUNCTIONS = ("reset_env", "step_env")
_VECTOR_ENV_FUNCTIONS = ("reset_envs", "step_all", "check_actions")


def engine_cached(vector: bool = False) -> bool:
    """Whether numba's cache holds machine code of the single-env engine (and, with
    `vector`, the one-thread vector env's) for the current source of
    `splitgym.envs.fast` (a cache written for other source is stale and does not count).
    Reads numba's cache index only: no compiling. If numba's (private) cache layout
    cannot be read, answers False, so the worst case is a needless line."""
    names = _SINGLE_ENV_FUNCTIONS + (_VECTOR_ENV_FUNCTIONS if vector else ())
    try:
        from . import fast

        return all(getattr(fast, name)._cache._cache_file._load_index() for name in names)
    except Exception:  # noqa: BLE001 - any layout change in numba: assume cold
        return False


def warm_engine(env: Any, out: TextIO | None = None,
                vector_kwargs: Mapping[str, Any] | None = None) -> float | None:
    """Compile (or load) the engine `env` runs on by one reset and one step (given
    `vector_kwargs`, of a two-env vector env of those arguments too), announcing it on
    `out` (default stderr) when the cache is cold; returns the seconds it took then,
    else None. An env on the Python core needs nothing."""
    base = getattr(env, "unwrapped", env)
    vector = vector_kwargs is not None
    if getattr(base, "engine", "python") != "compiled" or engine_cached(vector):
        return None
    out = out if out is not None else sys.stderr
    print("compiling the simulation engine (numba; first run of this code on this "
          "machine, about 15-30 s; cached afterwards)...", file=out, flush=True)
    t0 = time.perf_counter()
    base.reset(seed=0)
    base.step(int(base.action_masks().argmax()))
    if vector_kwargs is not None:
        from .vector import EdgeCloudVectorEnv

        venv = EdgeCloudVectorEnv(2, compiled=True, threads=1, **vector_kwargs)
        venv.reset(seed=0)
        venv.step(venv.action_masks().argmax(axis=1))
        venv.close()
    elapsed = time.perf_counter() - t0
    print(f"engine compiled in {elapsed:.0f} s", file=out, flush=True)
    return elapsed
