"""The compiled engine's state layout, in one place: every slot of every array the
kernel reads or writes, and `layout`, which sizes one configuration's rows.

A batch of N envs is a handful of arrays (the rest of `splitgym.envs.kernel` is
functions over them):

* ``F[i]`` (float64), env i's float row: the scalars ``F_*``; per task, 8 times in one
  cache line (``T_*``: arrival, edge start/end, link start/end, cloud start/end,
  completion); the event heap's times; then what the backlog replay reads, packed:
  per edge its task's (edge end, transfer, cloud time, offloads, bits), per link its
  transfer's (end, cloud time), per cloud-queue slot (arrival, cloud time), per
  link-queue slot (edge end, transfer, cloud time, bits), written when a task enters
  them; then the episode's conditions: per edge and cut its edge time and that time's
  observation entry, per link its rate estimate [Mbit/s] and (fluid predictor) when
  its committed transfers end.
* ``I[i]`` (int64), env i's int row: the counters ``C_*`` and the small per-edge and
  per-link fields first (one block), the event heap's keys (``kind << 32 | task``, so
  the heap orders ``(time, kind, task)`` as the Python core's tuples do); then per
  task its edge, cut and dropped flag, the link and cloud FIFO rings of task ids, the
  edges' first task ids (``offsets``: frame counts may differ per edge), per link its
  feasible cuts and where its rate trace starts in ``T[i]``, per edge its S-C cut.
* ``T[i]`` (float64), env i's rate traces (one block per distinct trace of the
  episode, see `links`): a zero-width array when the bandwidth is constant.
* ``S`` (float64, one row per thread): the backlog replay's scratch, which then stays
  in cache however many envs there are.
* ``C`` (float64, rows ``C_*`` by cut): the cut table and its observation entries.
* ``P`` (int64): sizes, flags and the offsets of every field above (``P_*``).

Every compiled function takes one env's rows rather than one array per field (numba
reference-counts each array argument of every call).
"""

from __future__ import annotations

import numpy as np

# the floor of a rate estimate a running transfer's end is computed at (the core's)
from ..core.simulator import MIN_RATE_MBPS as MIN_RATE_MBPS

_CLOUD_DONE, _TX_DONE, _EDGE_DONE, _ARRIVAL = 0, 1, 2, 3

# task-major times: F[i, O_TASK + 8 * task + field]
T_ARR, T_ES, T_EE, T_LS, T_LE, T_CS, T_CE, T_DONE = range(8)
# scalars of F: now, latency area, makespan, objective so far, deadline [s], the EWMA's
# alpha, the fluid predictor's committed cloud work [s], the predicted gap to a frame
# not yet arrived [s] (NaN: its true time, `SimConfig.arrival_gap_s`)
F_NOW, F_AREA, F_MAKESPAN, F_OBJ, F_DEADLINE, F_ALPHA, F_BACKLOG, F_GAP = range(8)
# the float parameters of an episode (``fparams``): deadline, alpha, gap, the constant
# bandwidth [Mbit/s], then per link the EWMA's prior [Mbit/s]
FP_DEADLINE, FP_ALPHA, FP_GAP, FP_BW, FP_PRIOR = range(5)
# what decisions know of the recent past (F's ``P_O_HIST`` block): the cloud queue's
# occupancy averaged over decisions (NaN before the first), the constant bandwidth
# [Mbit/s], then per link the rate its last completed transfer achieved, then per link
# when it completed (NaN: none yet)
H_OCC, H_BW, H_RATE = range(3)
O_TASK = 8
# counters of I
(C_HEAP, C_READY, C_CAND, C_BLK_HEAD, C_BLK_TAIL, C_CQ_HEAD, C_CQ_TAIL, C_SERVING,
 C_FREE_WORKERS, C_SLOTS, C_IN_SYSTEM, C_DONE, C_DECIDED, C_WAITING, C_BUSY_EDGES,
 C_PENDING, C_MISSED, C_DROPPED) = range(18)
N_COUNTERS = 18
# the parameter vector P: sizes and flags, then offsets (P_O_*) into I, F and S
(P_EDGES, P_FRAMES, P_LINKS, P_WORKERS, P_CAP, P_SHARED, P_OBJECTIVE, P_TASKS, P_RING,
 P_LRING, P_O_HT, P_O_LF, P_O_WA, P_O_WK, P_O_CUT, P_O_NARR, P_O_NEXT, P_O_EBUSY,
 P_O_READY, P_O_INREADY, P_O_LQ, P_O_LQH, P_O_LQT, P_O_LBUSY, P_O_LBLK, P_O_LCAND,
 P_O_INLCAND, P_O_BLOCKED, P_O_CQ, P_O_SERV, P_O_HK, P_O_COMP, P_O_RUNS, P_O_ECD,
 P_O_LBD, P_O_CQD, P_O_LQD, P_BRING, P_O_TEDGE, P_NF, P_NI, P_NS, P_K, P_TRACED,
 P_EWMA, P_FLUID, P_DEADLINE, P_DROP, P_O_OFF, P_O_DROP, P_O_LMASK, P_O_TOFF,
 P_O_VSTAR, P_O_EDGE, P_O_EOBS, P_O_RATE, P_O_LPRED, P_O_HIST, P_OBSV) = range(59)
N_P = 59
# objectives (P_OBJECTIVE)
OBJECTIVES = ("makespan", "mean_latency", "deadline_miss")
# the cut table C (rows 4-6: the observation's first three blocks, the first three rows
# scaled, clipped and log1p'd, written once by `scale_cuts`; the edge block is the
# default edge's: a fleet's own rows are in F)
C_EDGE_S, C_TX_S, C_CLOUD_S, C_OFFLOADS, C_OBS = range(5)
C_BITS, C_BYTES = C_OBS + 3, C_OBS + 4
N_C = C_OBS + 5
# the decision context written by `observe` (single env): scalars, then per cut the
# predicted finish, then per cut the transfer time at the link's estimated rate
(X_EDGE, X_TASK, X_NOW, X_CLOUD_FREE, X_LINK_FREE, X_NEXT_ARRIVAL, X_EDGE_WAITING,
 X_WAITING_TOTAL, X_BUSY_EDGES, X_QUEUE_USED, X_BLOCKED, X_DECIDED, X_SQ_CLOUD_FREE,
 X_SQ_LINK_CLOUD_FREE, X_RATE, X_ARRIVAL, X_MEASURED, X_LAST_DONE, X_OCC_AVG) = range(19)
N_CTX = 19
# a trace's block in T (see `links`): header, then times, rates and cumulative volumes
TR_N, TR_PERIOD, TR_TOTAL, TR_CONSTANT = range(4)
TR_HEAD = 4
# per-edge (ECD) and link-queue (LQD) record widths in F
ECD_W, LQD_W = 5, 4


def _pow2(n: int) -> int:
    """The least power of two >= n."""
    return 1 << max(0, int(n) - 1).bit_length()


def layout(n_edges: int, tasks: int, max_frames: int, shared: bool, workers: int,
           capacity: int, objective: str, n_cuts: int, traced: bool = False,
           ewma: bool = False, fluid: bool = False, deadline: bool = False,
           drop_late: bool = False, obs_version: int = 0) -> np.ndarray:
    """The parameter vector ``P``: sizes, flags and the offsets of every field in a row.
    `tasks` and `max_frames` bound the episode's frame counts (any per-edge counts with
    that total and that largest count fit)."""
    t, k = tasks, n_cuts
    links = 1 if shared else n_edges
    # the FIFO rings have power-of-two sizes (an index is a mask, not a division): the
    # cloud queue holds at most `capacity` tasks, a link's queue its edges' frames
    ring = _pow2(min(t, capacity) + 1)
    lring = _pow2((t if shared else max_frames) + 1)
    bring = _pow2(links + 1)
    heap = 2 * n_edges + links + workers + 4
    # the replay's (arrival, service) pairs: the committed tasks' runs, each ended by a
    # sentinel, then the merges (each pair is written at most once per level of a
    # balanced merge tree, which the shortest-first merges never exceed)
    items = t + links + n_edges + 1
    work = 2 * (items * (1 + (links + 1).bit_length()) + 2 * (links + 2))
    p = np.zeros(N_P, dtype=np.int64)
    p[P_EDGES], p[P_FRAMES], p[P_LINKS], p[P_WORKERS] = n_edges, max_frames, links, workers
    p[P_CAP], p[P_SHARED] = capacity, int(shared)
    p[P_OBJECTIVE] = OBJECTIVES.index(objective)
    p[P_TASKS], p[P_RING], p[P_LRING], p[P_BRING] = t, ring, lring, bring
    p[P_K], p[P_TRACED], p[P_EWMA], p[P_FLUID] = k, int(traced), int(ewma), int(fluid)
    p[P_DEADLINE], p[P_DROP] = int(deadline), int(drop_late)
    p[P_OBSV] = obs_version
    o = O_TASK + 8 * t
    for slot, size in ((P_O_HT, heap), (P_O_ECD, ECD_W * n_edges), (P_O_LBD, 2 * links),
                       (P_O_CQD, 2 * ring), (P_O_LQD, LQD_W * links * lring),
                       (P_O_EDGE, n_edges * k), (P_O_EOBS, n_edges * k),
                       (P_O_RATE, links), (P_O_LPRED, links),
                       (P_O_HIST, H_RATE + 2 * links)):
        p[slot] = o
        o += size
    p[P_NF] = o
    o = 0  # the scratch of the backlog replay: one for all envs, so it stays in cache
    for slot, size in ((P_O_LF, links), (P_O_WA, work), (P_O_WK, workers)):
        p[slot] = o
        o += size
    p[P_NS] = o
    o = N_COUNTERS  # the small fields first (`prefetch_fixed` fetches them as a block)
    for slot, size in ((P_O_NARR, n_edges), (P_O_NEXT, n_edges), (P_O_EBUSY, n_edges),
                       (P_O_READY, n_edges), (P_O_INREADY, n_edges), (P_O_LQH, links),
                       (P_O_LQT, links), (P_O_LBUSY, links), (P_O_LBLK, links),
                       (P_O_LCAND, links), (P_O_INLCAND, links), (P_O_BLOCKED, bring),
                       (P_O_SERV, workers), (P_O_HK, heap), (P_O_COMP, n_edges),
                       (P_O_RUNS, 2 * (links + 1)), (P_O_OFF, n_edges + 1),
                       (P_O_VSTAR, n_edges), (P_O_TOFF, links),
                       (P_O_TEDGE, t), (P_O_CUT, t), (P_O_DROP, t), (P_O_CQ, ring),
                       (P_O_LQ, links * lring), (P_O_LMASK, links * k)):
        p[slot] = o
        o += size
    p[P_NI] = o
    return p
