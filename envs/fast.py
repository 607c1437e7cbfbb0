"""The compiled engine (numba): the simulator core's event loop, decision context and
observation over flat per-env state rows, for every configuration `EdgeCloudEnv`
accepts.

The same event simulation as `splitgym.envs.core.simulator.Simulator` and the same
observation as `splitgym.envs.observation.encode`, written over a few arrays per batch
(one float64 and one int64 row per env, and a row of its rate traces) so that one
compiled call advances one env (`EdgeCloudEnv`, ``engine="compiled"``) or N envs in
lock step (`EdgeCloudVectorEnv`, on one thread or several). Tests check it against the
Python core bit for bit (observations, rewards, decision contexts, records, metrics).

The kernel lives in `splitgym.envs.kernel`, one module per concern:

* `kernel.layout`: the state layout, every slot of every array, in one place;
* `kernel.loop`: the event loop (episode start, a decision, events to the next one);
* `kernel.links`: the uplinks, their rate traces and transfer times;
* `kernel.cloud`: the cloud queue, its servers and completions;
* `kernel.predictor`: the backlog predictor (the FIFO replay, the fluid one);
* `kernel.observe`: the observation and the decision context;
* `kernel.metrics`: a finished episode's metrics and edge energy (numpy's reductions
  replayed);
* `kernel.arrivals`: an episode's arrival times drawn from each env's generator (the
  vector env's resets);
* `kernel.heaps`, `kernel.prefetch`: the heaps inside a row, cache hints;
* `kernel.entry`: the entry points and `FastKernel`.

This module is the engine's public face: what `splitgym.envs.engine` and the tests
import.
"""

from __future__ import annotations

from .kernel.arrivals import DRAWN, ArrivalDraws, RowGenerators, draw_rows
from .kernel.entry import (
    FastKernel,
    check_actions,
    reset_env,
    reset_envs,
    step_all,
    step_all_threads,
    step_env,
)
from .kernel.layout import (
    C_DECIDED,
    C_PENDING,
    N_CTX,
    T_ARR,
    T_CE,
    T_CS,
    T_DONE,
    T_EE,
    T_ES,
    T_LE,
    T_LS,
    TR_HEAD,
    X_RATE,
    layout,
)
from .kernel.links import MarkovDraws, write_markov_block, write_markov_chains
from .kernel.metrics import pairwise_sum, row_energy, row_metrics
from .kernel.observe import predicted_energy
from .kernel.prefetch import PREFETCH_ABOVE

__all__ = ["DRAWN", "ArrivalDraws", "RowGenerators", "draw_rows",
           "C_DECIDED", "C_PENDING", "N_CTX", "PREFETCH_ABOVE", "T_ARR", "T_CE", "T_CS",
           "T_DONE", "T_EE", "T_ES", "T_LE", "T_LS", "X_RATE", "FastKernel",
           "check_actions", "layout", "reset_env", "reset_envs", "step_all",
           "step_all_threads", "step_env", "MarkovDraws", "TR_HEAD",
           "predicted_energy", "write_markov_block", "pairwise_sum", "row_energy",
           "row_metrics", "write_markov_chains"]

