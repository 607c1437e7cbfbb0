"""The compiled engine (numba): the simulator core's event loop, decision context and
observation over flat per-env state rows.

The same event simulation as `splitgym.envs.core.simulator.Simulator` and the same
observation as `splitgym.envs.observation.encode`, written over two arrays per batch
(one float64 and one int64 row per env) so that one compiled call advances one env
(`EdgeCloudEnv`, ``engine="compiled"``) or N envs in lock step (`EdgeCloudVectorEnv`,
on one thread or on several, each over its own block of envs).
It covers the paper's family of settings (constant bandwidth, one edge device at speed
1, no deadlines, the replay predictor, equal frame counts, makespan or mean-latency
objective): `supports` says when; elsewhere the env runs the Python core. Tests check it
against the Python core bit for bit (observations, rewards, records, metrics).

Layout of env i's rows (offsets in the parameter vector ``P``, see `layout`):

* ``F[i]`` (float64): now, latency area, makespan, objective so far; per task, 8 times
  in one cache line (arrival, edge start/end, link start/end, cloud start/end,
  completion); the event heap's times; then what the backlog replay reads, packed:
  per edge its task's (edge end, transfer, cloud time, offloads), per link its
  transfer's (end, cloud time), per cloud-queue slot (arrival, cloud time), per
  link-queue slot (edge end, transfer, cloud time), written when a task enters them.
* ``S`` (float64, one per thread): the backlog replay's scratch, which then stays in
  cache however many envs there are.
* ``I[i]`` (int64): counters and the small per-edge and per-link fields first (one
  block), the event heap's keys (``kind << 32 | task``, so the heap orders
  ``(time, kind, task)`` as the Python core's tuples do); then per task its cut and the
  link and cloud FIFO rings of task ids.

Every compiled function takes one env's two rows rather than one array per field
(numba reference-counts each array argument of every call). Above `PREFETCH_ABOVE`
envs the rows no longer fit in cache: `step_all` then prefetches the next envs' rows
(an LLVM prefetch hint through a numba intrinsic) while it steps the current one.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_CLOUD_DONE, _TX_DONE, _EDGE_DONE, _ARRIVAL = 0, 1, 2, 3

# task-major times: F[i, O_TASK + 8 * task + field]
T_ARR, T_ES, T_EE, T_LS, T_LE, T_CS, T_CE, T_DONE = range(8)
# scalars of F
F_NOW, F_AREA, F_MAKESPAN, F_OBJ = 0, 1, 2, 3
O_TASK = 8
# counters of I
(C_HEAP, C_READY, C_CAND, C_BLK_HEAD, C_BLK_TAIL, C_CQ_HEAD, C_CQ_TAIL, C_SERVING,
 C_FREE_WORKERS, C_SLOTS, C_IN_SYSTEM, C_DONE, C_DECIDED, C_WAITING, C_BUSY_EDGES,
 C_PENDING) = range(16)
N_COUNTERS = 16
# the parameter vector P
(P_EDGES, P_FRAMES, P_LINKS, P_WORKERS, P_CAP, P_SHARED, P_OBJECTIVE, P_TASKS, P_RING,
 P_LRING, P_O_HT, P_O_LF, P_O_WA, P_O_WK, P_O_CUT, P_O_NARR, P_O_NEXT, P_O_EBUSY,
 P_O_READY, P_O_INREADY, P_O_LQ, P_O_LQH, P_O_LQT, P_O_LBUSY, P_O_LBLK, P_O_LCAND,
 P_O_INLCAND, P_O_BLOCKED, P_O_CQ, P_O_SERV, P_O_HK, P_O_COMP, P_O_RUNS, P_O_ECD,
 P_O_LBD, P_O_CQD, P_O_LQD, P_BRING, P_O_TEDGE, P_NF, P_NI, P_NS, P_V_STAR) = range(43)
N_P = 43
# the cut table C
# (rows 4-6: the observation's first three blocks, the first three rows scaled,
# clipped and log1p'd; the same for every decision, so `scale_cuts` writes them once)
C_EDGE_S, C_TX_S, C_CLOUD_S, C_OFFLOADS, C_OBS = range(5)
# the decision context written by `_observe` (single env): scalars, then finish per cut
(X_EDGE, X_TASK, X_NOW, X_CLOUD_FREE, X_LINK_FREE, X_NEXT_ARRIVAL, X_EDGE_WAITING,
 X_WAITING_TOTAL, X_BUSY_EDGES, X_QUEUE_USED, X_BLOCKED, X_DECIDED, X_SQ_CLOUD_FREE,
 X_SQ_LINK_CLOUD_FREE) = range(14)
N_CTX = 14
# `step_all` prefetches the next envs' rows above this many envs: below, the rows stay in
# cache and the hints only cost (measured: 1.04x the time per decision at 64 envs,
# 0.83x at 1,024)
PREFETCH_ABOVE = 128
_LAUNCH = threading.Lock()


def _pow2(n: int) -> int:
    """The least power of two >= n."""
    return 1 << max(0, int(n) - 1).bit_length()


def layout(n_edges: int, frames: int, shared: bool, workers: int, capacity: int,
           objective: str) -> np.ndarray:
    """The parameter vector ``P``: sizes and the offsets of every field in a row."""
    t = n_edges * frames
    links = 1 if shared else n_edges
    # the FIFO rings have power-of-two sizes (an index is a mask, not a division): the
    # cloud queue holds at most `capacity` tasks, a link's queue its edges' frames
    ring = _pow2(min(t, capacity) + 1)
    lring = _pow2((t if shared else frames) + 1)
    bring = _pow2(links + 1)
    heap = 2 * n_edges + links + workers + 4
    # the replay's (arrival, service) pairs: the committed tasks' runs, each ended by a
    # sentinel, then the merges (each pair is written at most once per level of a
    # balanced merge tree, which the shortest-first merges never exceed)
    items = t + links + n_edges + 1
    work = 2 * (items * (1 + (links + 1).bit_length()) + 2 * (links + 2))
    p = np.zeros(N_P, dtype=np.int64)  # P_V_STAR, the S-C cut, is set by `FastKernel`
    p[P_EDGES], p[P_FRAMES], p[P_LINKS], p[P_WORKERS] = n_edges, frames, links, workers
    p[P_CAP], p[P_SHARED] = capacity, int(shared)
    p[P_OBJECTIVE] = 0 if objective == "makespan" else 1
    p[P_TASKS], p[P_RING], p[P_LRING], p[P_BRING] = t, ring, lring, bring
    o = O_TASK + 8 * t
    # the heap's times, then what the backlog replay reads, packed: per edge its task's
    # (edge end, transfer, cloud time, offloads), per link its transfer's (end, cloud
    # time), per cloud-queue slot (arrival, cloud time), per link-queue slot (edge end,
    # transfer, cloud time)
    for slot, size in ((P_O_HT, heap), (P_O_ECD, 4 * n_edges), (P_O_LBD, 2 * links),
                       (P_O_CQD, 2 * ring), (P_O_LQD, 3 * links * lring)):
        p[slot] = o
        o += size
    p[P_NF] = o
    o = 0  # the scratch of the backlog replay: one for all envs, so it stays in cache
    for slot, size in ((P_O_LF, links), (P_O_WA, work), (P_O_WK, workers)):
        p[slot] = o
        o += size
    p[P_NS] = o
    o = N_COUNTERS  # the small fields first (`_prefetch_next` fetches them as a block)
    for slot, size in ((P_O_NARR, n_edges), (P_O_NEXT, n_edges), (P_O_EBUSY, n_edges),
                       (P_O_READY, n_edges), (P_O_INREADY, n_edges), (P_O_LQH, links),
                       (P_O_LQT, links), (P_O_LBUSY, links), (P_O_LBLK, links),
                       (P_O_LCAND, links), (P_O_INLCAND, links), (P_O_BLOCKED, bring),
                       (P_O_SERV, workers), (P_O_HK, heap), (P_O_COMP, n_edges),
                       (P_O_RUNS, 2 * (links + 1)), (P_O_TEDGE, t), (P_O_CUT, t),
                       (P_O_CQ, ring),
                       (P_O_LQ, links * lring)):
        p[slot] = o
        o += size
    p[P_NI] = o
    return p


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Ask the CPU to start loading the cache line of ``arr[idx]`` (``llvm.prefetch``:
    a hint, never a fault; numba has no prefetch of its own)."""
    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], ary, [args[1]])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0),
                          ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.void(arr, idx), codegen


@njit(cache=True)
def _prefetch_block(a, lo, hi):
    for j in range(lo, hi, 8):  # one hint per 64-byte line
        _prefetch(a, j)
    _prefetch(a, hi - 1)


@njit(cache=True)
def _prefetch_fixed(g, f, P):
    """Stage 1 for an env two ahead: its counters and small fields, its heap, and its
    per-edge and per-link times (fixed offsets)."""
    _prefetch_block(g, 0, P[P_O_CUT])
    _prefetch(f, 0)
    _prefetch_block(f, P[P_O_HT], P[P_O_CQD])


@njit(cache=True)
def _prefetch_queues(g, f, P):
    """Stage 2 for the next env (its counters are in cache by now): the occupied slots
    of its cloud and link queues, and its pending task's line."""
    ring, lring = P[P_RING], P[P_LRING]
    n = g[C_CQ_TAIL] - g[C_CQ_HEAD]
    if n > 0:
        q = g[C_CQ_HEAD] & (ring - 1)
        end = min(q + n, ring)
        _prefetch_block(f, P[P_O_CQD] + 2 * q, P[P_O_CQD] + 2 * end)
        if q + n > ring:
            _prefetch_block(f, P[P_O_CQD], P[P_O_CQD] + 2 * (q + n - ring))
    for link in range(P[P_LINKS]):
        n = g[P[P_O_LQT] + link] - g[P[P_O_LQH] + link]
        if n > 0:
            q = g[P[P_O_LQH] + link] & (lring - 1)
            base = P[P_O_LQD] + 3 * link * lring
            end = min(q + n, lring)
            _prefetch_block(f, base + 3 * q, base + 3 * end)
            if q + n > lring:
                _prefetch_block(f, base, base + 3 * (q + n - lring))
    task = g[C_PENDING]
    if task >= 0:
        _prefetch(f, O_TASK + 8 * task)
        _prefetch(g, P[P_O_CUT] + task)


# -- heaps inside the rows ----------------------------------------------------------------

@njit(cache=True, inline="always")
def _ev_less(t1, k1, t2, k2):
    return t1 < t2 or (t1 == t2 and k1 < k2)


@njit(cache=True)
def _ev_push(g, f, P, t, key):
    oht, ohk = P[P_O_HT], P[P_O_HK]
    n = g[C_HEAP]
    g[C_HEAP] = n + 1
    while n > 0:
        p = (n - 1) >> 1
        pt, pk = f[oht + p], g[ohk + p]
        if _ev_less(t, key, pt, pk):
            f[oht + n], g[ohk + n] = pt, pk
            n = p
        else:
            break
    f[oht + n], g[ohk + n] = t, key


@njit(cache=True)
def _ev_pop(g, f, P):
    oht, ohk = P[P_O_HT], P[P_O_HK]
    key0 = g[ohk]
    n = g[C_HEAP] - 1
    g[C_HEAP] = n
    if n > 0:
        t, k = f[oht + n], g[ohk + n]
        pos = 0
        while True:
            c = 2 * pos + 1
            if c >= n:
                break
            ct, ck = f[oht + c], g[ohk + c]
            if c + 1 < n:
                dt, dk = f[oht + c + 1], g[ohk + c + 1]
                if _ev_less(dt, dk, ct, ck):
                    c += 1
                    ct, ck = dt, dk
            if _ev_less(ct, ck, t, k):
                f[oht + pos], g[ohk + pos] = ct, ck
                pos = c
            else:
                break
        f[oht + pos], g[ohk + pos] = t, k
    return key0


@njit(cache=True)
def _int_push(g, o, size_slot, v):
    n = g[size_slot]
    g[size_slot] = n + 1
    while n > 0:
        p = (n - 1) >> 1
        if v < g[o + p]:
            g[o + n] = g[o + p]
            n = p
        else:
            break
    g[o + n] = v


@njit(cache=True)
def _int_pop(g, o, size_slot):
    top = g[o]
    n = g[size_slot] - 1
    g[size_slot] = n
    if n > 0:
        v = g[o + n]
        pos = 0
        while True:
            c = 2 * pos + 1
            if c >= n:
                break
            if c + 1 < n and g[o + c + 1] < g[o + c]:
                c += 1
            if g[o + c] < v:
                g[o + pos] = g[o + c]
                pos = c
            else:
                break
        g[o + pos] = v
    return top


# -- the event loop ------------------------------------------------------------------------

@njit(cache=True)
def _setup(g, f, arrivals, P):
    """Start env i's episode on `arrivals` (n_edges x frames)."""
    n_edges, frames, tasks = P[P_EDGES], P[P_FRAMES], P[P_TASKS]
    f[:] = 0.0
    g[:] = 0
    for e in range(n_edges):
        for k in range(frames):
            base = O_TASK + 8 * (e * frames + k)
            f[base + T_ARR] = arrivals[e, k]
            for field in range(1, 8):
                f[base + field] = np.nan
    o, o_tedge = P[P_O_CUT], P[P_O_TEDGE]
    for task in range(tasks):
        g[o + task] = -1
        g[o_tedge + task] = task // frames  # each task's edge, looked up, not divided
    o = P[P_O_EBUSY]
    for e in range(n_edges):
        g[o + e] = -1
    o = P[P_O_LBUSY]
    for link in range(P[P_LINKS]):
        g[o + link] = -1
    o = P[P_O_SERV]
    for w in range(P[P_WORKERS]):
        g[o + w] = -1
    g[C_FREE_WORKERS] = P[P_WORKERS]
    g[C_PENDING] = -1
    for e in range(n_edges):
        task = e * frames
        _ev_push(g, f, P, f[O_TASK + 8 * task + T_ARR], (_ARRIVAL << 32) + task)


@njit(cache=True)
def _complete(g, f, task, t):
    f[O_TASK + 8 * task + T_DONE] = t
    g[C_IN_SYSTEM] -= 1
    g[C_DONE] += 1
    if t > f[F_MAKESPAN]:
        f[F_MAKESPAN] = t


@njit(cache=True)
def _mark(g, o_flag, o_heap, size_slot, v):
    if g[o_flag + v] == 0:
        g[o_flag + v] = 1
        _int_push(g, o_heap, size_slot, v)


@njit(cache=True)
def _start_tx(g, f, C, P, link, t):
    lring = P[P_LRING]
    slot = link * lring + (g[P[P_O_LQH] + link] & (lring - 1))
    task = g[P[P_O_LQ] + slot]
    g[P[P_O_LQH] + link] += 1
    g[C_SLOTS] += 1
    g[P[P_O_LBUSY] + link] = task
    base = O_TASK + 8 * task
    f[base + T_LS] = t
    d = P[P_O_LQD] + 3 * slot
    end = t + f[d + 1]
    f[base + T_LE] = end
    o = P[P_O_LBD] + 2 * link
    f[o], f[o + 1] = end, f[d + 2]
    _ev_push(g, f, P, end, (_TX_DONE << 32) + task)


@njit(cache=True)
def _start(g, f, c, C, P):
    """Give the pending task of env i cut `c` and start it on its edge."""
    task = g[C_PENDING]
    g[C_PENDING] = -1
    e = g[P[P_O_TEDGE] + task]
    now = f[F_NOW]
    g[P[P_O_CUT] + task] = c
    base = O_TASK + 8 * task
    f[base + T_ES] = now
    end = now + C[C_EDGE_S, c]
    f[base + T_EE] = end
    o = P[P_O_ECD] + 4 * e
    f[o], f[o + 1], f[o + 2], f[o + 3] = end, C[C_TX_S, c], C[C_CLOUD_S, c], C[C_OFFLOADS, c]
    g[P[P_O_EBUSY] + e] = task
    g[C_BUSY_EDGES] += 1
    g[P[P_O_NEXT] + e] += 1
    g[C_WAITING] -= 1
    g[C_DECIDED] += 1
    _ev_push(g, f, P, end, (_EDGE_DONE << 32) + task)


@njit(cache=True)
def _advance(g, f, C, P):
    """Run env i's events until an edge needs a decision (return it) or the end (-1);
    -2 for a NaN event time (the callers check arrivals first: a guard, not a path)."""
    frames, cap, shared = P[P_FRAMES], P[P_CAP], P[P_SHARED]
    rmask, lmask, bmask = P[P_RING] - 1, P[P_LRING] - 1, P[P_BRING] - 1
    lring, o_tedge = P[P_LRING], P[P_O_TEDGE]
    o_cut, o_narr, o_next, o_ebusy = P[P_O_CUT], P[P_O_NARR], P[P_O_NEXT], P[P_O_EBUSY]
    o_ready, o_inready, o_lq, o_lqh, o_lqt = (P[P_O_READY], P[P_O_INREADY], P[P_O_LQ],
                                              P[P_O_LQH], P[P_O_LQT])
    o_lbusy, o_lblk, o_lcand, o_inlcand = (P[P_O_LBUSY], P[P_O_LBLK], P[P_O_LCAND],
                                           P[P_O_INLCAND])
    o_blocked, o_cq, o_serv, o_ht = P[P_O_BLOCKED], P[P_O_CQ], P[P_O_SERV], P[P_O_HT]
    o_ecd, o_lbd, o_cqd, o_lqd = P[P_O_ECD], P[P_O_LBD], P[P_O_CQD], P[P_O_LQD]
    while True:
        if g[C_READY] > 0:
            e = _int_pop(g, o_ready, C_READY)
            g[o_inready + e] = 0
            g[C_PENDING] = e * frames + g[o_next + e]
            return e
        if g[C_HEAP] == 0:
            return -1
        t = f[o_ht]
        if t != t:  # a NaN time would never pop (NaN != NaN): refuse, never spin
            return -2
        f[F_AREA] += g[C_IN_SYSTEM] * (t - f[F_NOW])
        f[F_NOW] = t
        while g[C_HEAP] > 0 and f[o_ht] == t:
            key = _ev_pop(g, f, P)
            kind = key >> 32
            task = key & 0xFFFFFFFF
            if kind == _CLOUD_DONE:
                g[C_FREE_WORKERS] += 1
                g[C_SLOTS] -= 1
                n = g[C_SERVING]
                for w in range(n):
                    if g[o_serv + w] == task:
                        g[C_SERVING] = n - 1
                        g[o_serv + w] = g[o_serv + n - 1]
                        g[o_serv + n - 1] = -1
                        break
                _complete(g, f, task, t)
            elif kind == _TX_DONE:
                link = 0 if shared else g[o_tedge + task]
                g[o_lbusy + link] = -1
                slot = g[C_CQ_TAIL] & rmask
                g[o_cq + slot] = task
                f[o_cqd + 2 * slot], f[o_cqd + 2 * slot + 1] = t, f[o_lbd + 2 * link + 1]
                g[C_CQ_TAIL] += 1
                if g[o_lqt + link] > g[o_lqh + link]:
                    _mark(g, o_inlcand, o_lcand, C_CAND, link)
            elif kind == _EDGE_DONE:
                e = g[o_tedge + task]
                g[o_ebusy + e] = -1
                g[C_BUSY_EDGES] -= 1
                o = o_ecd + 4 * e
                if f[o + 3] != 0.0:
                    link = 0 if shared else e
                    qt = g[o_lqt + link]
                    slot = link * lring + (qt & lmask)
                    g[o_lq + slot] = task
                    d = o_lqd + 3 * slot
                    f[d], f[d + 1], f[d + 2] = t, f[o + 1], f[o + 2]
                    g[o_lqt + link] = qt + 1
                    _mark(g, o_inlcand, o_lcand, C_CAND, link)
                else:
                    _complete(g, f, task, t)
                if g[o_next + e] < g[o_narr + e]:
                    _mark(g, o_inready, o_ready, C_READY, e)
            else:
                e = g[o_tedge + task]
                g[o_narr + e] += 1
                g[C_IN_SYSTEM] += 1
                g[C_WAITING] += 1
                nxt = task + 1
                if nxt < (e + 1) * frames:
                    _ev_push(g, f, P, f[O_TASK + 8 * nxt + T_ARR],
                             (_ARRIVAL << 32) + nxt)
                if g[o_ebusy + e] < 0:
                    _mark(g, o_inready, o_ready, C_READY, e)
        # dispatch: blocked links first, then idle links by index, then the cloud
        while g[C_BLK_TAIL] > g[C_BLK_HEAD] and g[C_SLOTS] < cap:
            link = g[o_blocked + (g[C_BLK_HEAD] & bmask)]
            g[C_BLK_HEAD] += 1
            g[o_lblk + link] = 0
            _start_tx(g, f, C, P, link, t)
        while g[C_CAND] > 0:
            link = _int_pop(g, o_lcand, C_CAND)
            g[o_inlcand + link] = 0
            if g[o_lbusy + link] >= 0 or g[o_lblk + link] != 0 or \
                    g[o_lqt + link] == g[o_lqh + link]:
                continue
            if g[C_SLOTS] < cap:
                _start_tx(g, f, C, P, link, t)
            else:
                g[o_lblk + link] = 1
                g[o_blocked + (g[C_BLK_TAIL] & bmask)] = link
                g[C_BLK_TAIL] += 1
        while g[C_FREE_WORKERS] > 0 and g[C_CQ_TAIL] > g[C_CQ_HEAD]:
            task = g[o_cq + (g[C_CQ_HEAD] & rmask)]
            g[C_CQ_HEAD] += 1
            g[C_FREE_WORKERS] -= 1
            g[o_serv + g[C_SERVING]] = task
            g[C_SERVING] += 1
            base = O_TASK + 8 * task
            f[base + T_CS] = t
            end = t + C[C_CLOUD_S, g[o_cut + task]]
            f[base + T_CE] = end
            _ev_push(g, f, P, end, (_CLOUD_DONE << 32) + task)


# -- what a decision sees ------------------------------------------------------------------

@njit(cache=True, inline="always")
def _entry(x, cap):
    """``log1p`` of `x` clipped to [0, cap]: an observation entry (see
    `splitgym.envs.observation`; the same C ``log1p`` as its ``math.log1p``)."""
    if x < 0.0:
        return 0.0
    if x > cap:
        return math.log1p(cap)
    return math.log1p(x)


@njit(cache=True, inline="always")
def _behind(S, free, d, at, f):
    """The task of (edge end, transfer, cloud time) ``f[d:d + 3]`` transferred after a
    link free at `free`: write its predicted arrival at the cloud and its cloud time to
    ``S[at]``, ``S[at + 1]``; return when the link is free."""
    start = f[d]
    if start < free:
        start = free
    free = start + f[d + 1]
    S[at] = free
    S[at + 1] = f[d + 2]
    return free


@njit(cache=True)
def _end_run(g, S, o_w, o_runs, nr, lo, n):
    """Close the run [lo, n) of (arrival, service) pairs: record it, order equal arrivals
    by service (each run is already sorted by arrival) and put an (inf, inf) sentinel
    after it. Return the next free pair index."""
    if n == lo:
        return n
    g[o_runs + 2 * nr], g[o_runs + 2 * nr + 1] = lo, n
    pa, pc = S[o_w + 2 * lo], S[o_w + 2 * lo + 1]  # the largest pair so far
    for j in range(lo + 1, n):  # insertion sort: one comparison, no store, when in order
        xa, xc = S[o_w + 2 * j], S[o_w + 2 * j + 1]
        if pa < xa or (pa == xa and pc <= xc):
            pa, pc = xa, xc
            continue
        q = j - 1
        while q >= lo:
            ya, yc = S[o_w + 2 * q], S[o_w + 2 * q + 1]
            if ya > xa or (ya == xa and yc > xc):
                S[o_w + 2 * q + 2], S[o_w + 2 * q + 3] = ya, yc
                q -= 1
            else:
                break
        S[o_w + 2 * q + 2], S[o_w + 2 * q + 3] = xa, xc
    S[o_w + 2 * n], S[o_w + 2 * n + 1] = math.inf, math.inf
    return n + 1


@njit(cache=True)
def _merge_runs(g, S, o_runs, nr, o_w, end, left):
    """Merge the `nr` sentinel-ended runs of pairs of ``S[o_w:]`` (bounds, in pairs, in
    ``g[o_runs:]``), the two shortest first, until `left` are left; each merge is
    written from pair `end` on. Return how many are left (their bounds then in
    ``g[o_runs:]``). Equal pairs are interchangeable (the same values in either order),
    so the result is the one (arrival, service) order whatever the merge tree."""
    while nr > left:
        a, b = 0, 1  # the two shortest runs: a no longer than b
        la, lb = g[o_runs + 1] - g[o_runs], g[o_runs + 3] - g[o_runs + 2]
        if lb < la:
            a, b, la, lb = 1, 0, lb, la
        for r in range(2, nr):
            size = g[o_runs + 2 * r + 1] - g[o_runs + 2 * r]
            if size < la:
                b, lb, a, la = a, la, r, size
            elif size < lb:
                b, lb = r, size
        i1, i2 = o_w + 2 * g[o_runs + 2 * a], o_w + 2 * g[o_runs + 2 * b]
        w = o_w + 2 * end
        for _ in range(la + lb):  # the sentinels stop an ended run
            a1, a2 = S[i1], S[i2]
            if a2 < a1 or (a2 == a1 and S[i2 + 1] < S[i1 + 1]):
                S[w], S[w + 1] = a2, S[i2 + 1]
                i2 += 2
            else:
                S[w], S[w + 1] = a1, S[i1 + 1]
                i1 += 2
            w += 2
        S[w], S[w + 1] = math.inf, math.inf
        g[o_runs + 2 * a], g[o_runs + 2 * a + 1] = end, end + la + lb
        end += la + lb + 1
        nr -= 1  # run b's place takes the last run
        g[o_runs + 2 * b], g[o_runs + 2 * b + 1] = g[o_runs + 2 * nr], g[o_runs + 2 * nr + 1]
    return nr


@njit(cache=True)
def _merge_fold1(g, S, o_runs, src, t):
    """`_fold1` over the merge of the two runs ``g[o_runs:o_runs + 4]`` of ``S[src:]``,
    without writing the merge."""
    i1, h1, i2, h2 = g[o_runs], g[o_runs + 1], g[o_runs + 2], g[o_runs + 3]
    for _ in range((h1 - i1) + (h2 - i2)):  # the sentinels stop an ended run
        a1, a2 = S[src + 2 * i1], S[src + 2 * i2]
        if a2 < a1 or (a2 == a1 and S[src + 2 * i2 + 1] < S[src + 2 * i1 + 1]):
            c = S[src + 2 * i2 + 1]
            i2 += 1
            t = (a2 if a2 > t else t) + c
        else:
            c = S[src + 2 * i1 + 1]
            i1 += 1
            t = (a1 if a1 > t else t) + c
    return t


@njit(cache=True)
def _merge_fold1_cap(g, S, o_runs, src, t, thr1, thr2, c1, c2):
    """`_merge_fold1`, also capturing when the worker is free after the pairs that
    arrive no later than `thr1` (`c1`) and `thr2` (`c2`; thr1 <= thr2): a capture still
    NaN is taken at the first pair beyond its threshold. Returns ``(t, c1, c2)``."""
    i1, h1, i2, h2 = g[o_runs], g[o_runs + 1], g[o_runs + 2], g[o_runs + 3]
    for _ in range((h1 - i1) + (h2 - i2)):  # the sentinels stop an ended run
        a1, a2 = S[src + 2 * i1], S[src + 2 * i2]
        if a2 < a1 or (a2 == a1 and S[src + 2 * i2 + 1] < S[src + 2 * i1 + 1]):
            a = a2
            c = S[src + 2 * i2 + 1]
            i2 += 1
        else:
            a = a1
            c = S[src + 2 * i1 + 1]
            i1 += 1
        if a > thr1:
            if c1 != c1:
                c1 = t
            if a > thr2 and c2 != c2:
                c2 = t
        t = (a if a > t else t) + c
    return t, c1, c2


@njit(cache=True)
def _fold1_cap(S, o, lo, hi, t, thr1, thr2, c1, c2):
    """`_fold1` with the captures of `_merge_fold1_cap`."""
    for j in range(lo, hi):
        a = S[o + 2 * j]
        if a > thr1:
            if c1 != c1:
                c1 = t
            if a > thr2 and c2 != c2:
                c2 = t
        t = (a if a > t else t) + S[o + 2 * j + 1]
    return t, c1, c2


@njit(cache=True)
def _fold1(S, o, lo, hi, t):
    """One cloud worker free at `t` serves the pairs ``lo..hi`` of ``S[o:]`` in order:
    return when it is free again."""
    for j in range(lo, hi):
        a = S[o + 2 * j]
        t = (a if a > t else t) + S[o + 2 * j + 1]
    return t


@njit(cache=True, inline="always")
def _first_free(S, o_wk, workers):
    """When the first of the cloud workers ``S[o_wk:o_wk + workers]`` is free."""
    m = S[o_wk]
    for w in range(1, workers):
        if S[o_wk + w] < m:
            m = S[o_wk + w]
    return m


@njit(cache=True)
def _precedes(g, S, o_w, o_runs, nr):
    """Whether run 0's last pair is no later, in (arrival, service) order, than the first
    pair of every other run (then run 0 followed by the merge of the others is the
    order of all)."""
    last = 2 * (g[o_runs + 1] - 1)
    la, lc = S[o_w + last], S[o_w + last + 1]
    for r in range(1, nr):
        first = 2 * g[o_runs + 2 * r]
        fa = S[o_w + first]
        if fa < la or (fa == la and S[o_w + first + 1] < lc):
            return False
    return True


@njit(cache=True)
def _observe(g, f, S, e, C, P, inv, cap_obs, out, ctx):
    """Write env i's observation of the pending task on edge `e` into `out` and, when
    `ctx` is not empty, its decision context (see the X_* slots)."""
    n_edges, frames, links, workers = P[P_EDGES], P[P_FRAMES], P[P_LINKS], P[P_WORKERS]
    cap, shared, rmask, lring = P[P_CAP], P[P_SHARED], P[P_RING] - 1, P[P_LRING]
    lmask = lring - 1
    o_ebusy, o_lqh, o_lqt, o_lbusy = P[P_O_EBUSY], P[P_O_LQH], P[P_O_LQT], P[P_O_LBUSY]
    o_serv, o_comp, o_lf, o_w, o_wk = P[P_O_SERV], P[P_O_COMP], P[P_O_LF], P[P_O_WA], P[P_O_WK]
    now = f[F_NOW]
    o_runs = P[P_O_RUNS]
    # (predicted arrival at the cloud, cloud time) pairs of every committed task in
    # ``S[o_w:]``, in sorted runs: the cloud queue, then per link its running and queued
    # transfers and the edges computing for it (a shared link takes them by (edge end,
    # task))
    n = 0
    nr = 0
    o_ecd, o_lbd, o_cqd, o_lqd = P[P_O_ECD], P[P_O_LBD], P[P_O_CQD], P[P_O_LQD]
    q = g[C_CQ_HEAD] & rmask
    for _ in range(g[C_CQ_TAIL] - g[C_CQ_HEAD]):
        S[o_w + 2 * n] = f[o_cqd + 2 * q]
        S[o_w + 2 * n + 1] = f[o_cqd + 2 * q + 1]
        q = (q + 1) & rmask
        n += 1
    cq_n = n
    if n > 0:
        n = _end_run(g, S, o_w, o_runs, nr, 0, n)
        nr = 1
    for link in range(links):
        lo = n
        free = now
        if g[o_lbusy + link] >= 0:
            free = f[o_lbd + 2 * link]
            S[o_w + 2 * n] = free
            S[o_w + 2 * n + 1] = f[o_lbd + 2 * link + 1]
            n += 1
        o_ring = o_lqd + 3 * link * lring
        q = g[o_lqh + link] & lmask
        for _ in range(g[o_lqt + link] - g[o_lqh + link]):
            free = _behind(S, free, o_ring + 3 * q, o_w + 2 * n, f)
            q = (q + 1) & lmask
            n += 1
        m = 0
        if shared:  # the edges computing tasks to offload, by (edge end, task)
            for ed in range(n_edges):
                if g[o_ebusy + ed] >= 0 and f[o_ecd + 4 * ed + 3] != 0.0:
                    g[o_comp + m] = ed
                    m += 1
            for j in range(1, m):  # insertion sort (a task's edge orders it as its id)
                x = g[o_comp + j]
                xe = f[o_ecd + 4 * x]
                q = j - 1
                while q >= 0:
                    y = g[o_comp + q]
                    ye = f[o_ecd + 4 * y]
                    if ye > xe or (ye == xe and y > x):
                        g[o_comp + q + 1] = y
                        q -= 1
                    else:
                        break
                g[o_comp + q + 1] = x
        elif g[o_ebusy + link] >= 0 and f[o_ecd + 4 * link + 3] != 0.0:
            g[o_comp] = link
            m = 1
        for j in range(m):
            free = _behind(S, free, o_ecd + 4 * g[o_comp + j], o_w + 2 * n, f)
            n += 1
        S[o_lf + link] = free
        if n > lo:
            n = _end_run(g, S, o_w, o_runs, nr, lo, n)
            nr += 1
    lf = S[o_lf + (0 if shared else e)]
    full = ctx.shape[0] > 0
    # Scheduling with Queuing's t_end (decision contexts only): when the cloud finishes
    # the work predicted to reach it no later than the task's own arrival under its S-C
    # cut v*, A = (now + Te(v*)) + Tt(v*), and no later than A_link = max(now + Te(v*),
    # link free) + Tt(v*); NaN until the replay passes that arrival
    thr1 = thr2 = math.inf
    c1 = c2 = math.nan
    if full:
        vs = P[P_V_STAR]
        ready_v = now + C[C_EDGE_S, vs]
        thr1 = ready_v + C[C_TX_S, vs]
        thr2 = (ready_v if ready_v > lf else lf) + C[C_TX_S, vs]
    # replay the FIFO cloud over the runs merged into one (arrival, service) order
    if workers == 1:
        t = now
        if g[C_SERVING] > 0:
            t = f[O_TASK + 8 * g[o_serv] + T_CE]
        r0 = 0
        if cq_n > 0 and _precedes(g, S, o_w, o_runs, nr):
            # the cloud queue arrived before every transfer's predicted arrival (the
            # usual case): replay it first, then merge the links' runs only (it arrived
            # by now, so before both thresholds)
            t = _fold1(S, o_w, 0, cq_n, t)
            r0 = 1
        if nr > r0:
            left = _merge_runs(g, S, o_runs + 2 * r0, nr - r0, o_w, n, 2)
            if not full:
                if left == 2:
                    t = _merge_fold1(g, S, o_runs + 2 * r0, o_w, t)
                else:
                    t = _fold1(S, o_w, g[o_runs + 2 * r0], g[o_runs + 2 * r0 + 1], t)
            elif left == 2:
                t, c1, c2 = _merge_fold1_cap(g, S, o_runs + 2 * r0, o_w, t, thr1, thr2, c1,
                                             c2)
            else:
                t, c1, c2 = _fold1_cap(S, o_w, g[o_runs + 2 * r0], g[o_runs + 2 * r0 + 1],
                                       t, thr1, thr2, c1, c2)
        if c1 != c1:
            c1 = t
        if c2 != c2:
            c2 = t
    else:
        _merge_runs(g, S, o_runs, nr, o_w, n, 1)
        sa = o_w
        lo, hi = (g[o_runs], g[o_runs + 1]) if nr > 0 else (0, 0)
        serving = g[C_SERVING]
        for w in range(workers):
            S[o_wk + w] = f[O_TASK + 8 * g[o_serv + w] + T_CE] if w < serving else now
        for j in range(lo, hi):
            aa = S[sa + 2 * j]
            if aa > thr1 and c1 != c1:
                c1 = _first_free(S, o_wk, workers)
            if aa > thr2 and c2 != c2:
                c2 = _first_free(S, o_wk, workers)
            w = 0
            for v in range(1, workers):
                if S[o_wk + v] < S[o_wk + w]:
                    w = v
            wt = S[o_wk + w]
            S[o_wk + w] = (aa if aa > wt else wt) + S[sa + 2 * j + 1]
    if workers == 1:
        cloud_free = t
    else:
        cloud_free = _first_free(S, o_wk, workers)
        if c1 != c1:
            c1 = cloud_free
        if c2 != c2:
            c2 = cloud_free
    if not cloud_free > now:
        cloud_free = now
    if not c1 > now:
        c1 = now
    if not c2 > now:
        c2 = now
    k = C.shape[1]
    task = g[C_PENDING]
    for j in range(k):
        ready = now + C[C_EDGE_S, j]
        arrive = (ready if ready > lf else lf) + C[C_TX_S, j]
        if C[C_OFFLOADS, j] != 0.0:
            fin = (arrive if arrive > cloud_free else cloud_free) + C[C_CLOUD_S, j]
        else:
            fin = ready
        out[j] = C[C_OBS, j]
        out[k + j] = C[C_OBS + 1, j]
        out[2 * k + j] = C[C_OBS + 2, j]
        out[3 * k + j] = _entry((fin - now) * inv, cap_obs)
        if full:
            ctx[N_CTX + j] = fin
    s = 4 * k
    nxt = task + 1
    nxt_t = f[O_TASK + 8 * nxt + T_ARR] if nxt < (e + 1) * frames else math.inf
    frames_left = (e + 1) * frames - task
    frame = task - e * frames
    n_arr = g[P[P_O_NARR] + e]
    n_next = g[P[P_O_NEXT] + e]
    blocked = g[C_BLK_TAIL] - g[C_BLK_HEAD]
    out[s + 0] = _entry((cloud_free - now) * inv, cap_obs)
    out[s + 1] = _entry((lf - now) * inv, cap_obs)
    out[s + 2] = _entry(cap_obs if math.isinf(nxt_t) else max(0.0, nxt_t - now) * inv,
                        cap_obs)
    out[s + 3] = _entry(g[C_SLOTS] / cap, cap_obs)
    out[s + 4] = _entry(blocked / n_edges, cap_obs)
    out[s + 5] = _entry(float(n_arr - n_next - 1), cap_obs)
    out[s + 6] = _entry((g[C_WAITING] - 1) / n_edges, cap_obs)
    out[s + 7] = _entry(g[C_BUSY_EDGES] / n_edges, cap_obs)
    out[s + 8] = _entry(frames_left / (frames_left + frame), cap_obs)
    out[s + 9] = _entry(g[C_DECIDED] / (n_edges * frames), cap_obs)
    if full:
        ctx[X_EDGE] = e
        ctx[X_TASK] = task
        ctx[X_NOW] = now
        ctx[X_CLOUD_FREE] = cloud_free
        ctx[X_LINK_FREE] = lf
        ctx[X_NEXT_ARRIVAL] = nxt_t
        ctx[X_EDGE_WAITING] = n_arr - n_next - 1
        ctx[X_WAITING_TOTAL] = g[C_WAITING] - 1
        ctx[X_BUSY_EDGES] = g[C_BUSY_EDGES]
        ctx[X_QUEUE_USED] = g[C_SLOTS]
        ctx[X_BLOCKED] = blocked
        ctx[X_DECIDED] = g[C_DECIDED]
        ctx[X_SQ_CLOUD_FREE] = c1
        ctx[X_SQ_LINK_CLOUD_FREE] = c2


@njit(cache=True)
def scale_cuts(C, inv, cap_obs):
    """Write C's rows `C_OBS`.. (see the C_* slots)."""
    for r in range(3):
        for j in range(C.shape[1]):
            C[C_OBS + r, j] = _entry(C[r, j] * inv, cap_obs)


@njit(cache=True)
def _objective(f, P):
    return f[F_NOW] if P[P_OBJECTIVE] == 0 else f[F_AREA] / P[P_TASKS]


# -- entry points --------------------------------------------------------------------------

@njit(cache=True)
def reset_env(i, arrivals, I, F, S, C, P, inv, cap_obs, out, ctx):
    """Start env i's episode; write its first observation. Return the deciding edge or
    -1 (nothing to decide)."""
    g, f = I[i], F[i]
    _setup(g, f, arrivals, P)
    e = _advance(g, f, C, P)
    if e >= 0:
        _observe(g, f, S, e, C, P, inv, cap_obs, out, ctx)
    else:
        out[:] = 0.0
    return e


@njit(cache=True)
def step_env(i, c, I, F, S, C, P, inv, cap_obs, out, ctx):
    """One decision of env i (cut `c`, already checked): its next observation (zeros at
    the end). Return ``(edge or -1, reward)``; ``(-2, nan)``, having changed nothing,
    when env i has no pending task or `c` is out of range (a guard: the callers check
    both, and the kernel must never index with them)."""
    g, f = I[i], F[i]
    if g[C_PENDING] < 0 or g[C_PENDING] >= P[P_TASKS] or c < 0 or c >= C.shape[1]:
        return -2, math.nan
    _start(g, f, c, C, P)
    e = _advance(g, f, C, P)
    if e >= 0:
        _observe(g, f, S, e, C, P, inv, cap_obs, out, ctx)
    else:
        out[:] = 0.0
    if e < -1:
        return e, math.nan
    current = _objective(f, P)
    reward = f[F_OBJ] - current
    f[F_OBJ] = current
    return e, reward


@njit(cache=True)
def check_actions(actions, skip, mask):
    """The first env not in `skip` whose action is not a cut in range that `mask` allows,
    or -1."""
    k = mask.shape[0]
    for i in range(actions.shape[0]):
        a = actions[i]
        if not skip[i] and (a < 0 or a >= k or not mask[a]):
            return i
    return -1


@njit(cache=True)
def _step_block(lo, hi, ahead, actions, skip, I, F, S, C, P, inv, cap_obs, obs, rewards,
                done):
    """One decision in each env ``lo..hi-1`` not in `skip` (scratch `S`; `ahead`:
    prefetch the next envs' rows, for rows out of cache); return how many ended."""
    ctx = np.empty(0)
    ended = 0
    for i in range(lo, hi):
        if ahead:
            if i + 2 < hi:
                _prefetch_fixed(I[i + 2], F[i + 2], P)
            if i + 1 < hi:
                _prefetch_queues(I[i + 1], F[i + 1], P)
        if skip[i]:
            continue
        e, r = step_env(i, actions[i], I, F, S, C, P, inv, cap_obs, obs[i], ctx)
        rewards[i] = r
        if e < 0:
            done[i] = True
            ended += 1
    return ended


@njit(cache=True)
def step_all(actions, skip, mask, I, F, S, C, P, inv, cap_obs, obs, rewards, done):
    """One decision in every env but those with ``skip[i]`` (just reset), in lock step.

    First checks every stepped env's action (a cut in range that `mask` allows): if one
    is not, returns its env's index having changed nothing. Else returns ``-1 - ended``
    (`ended`: how many episodes ended, flagged in `done`)."""
    n = actions.shape[0]
    bad = check_actions(actions, skip, mask)
    if bad >= 0:
        return bad
    return -1 - _step_block(0, n, n > PREFETCH_ABOVE, actions, skip, I, F, S, C, P, inv,
                            cap_obs, obs, rewards, done)


@njit(cache=True, parallel=True)
def step_all_threads(actions, skip, mask, I, F, S2, C, P, inv, cap_obs, obs, rewards, done):
    """`step_all` on ``S2.shape[0]`` threads, each over a contiguous block of envs with its
    own scratch row ``S2[t]`` (the envs are independent: the same bits as `step_all`)."""
    n = actions.shape[0]
    bad = check_actions(actions, skip, mask)
    if bad >= 0:
        return bad
    nt = S2.shape[0]
    block = (n + nt - 1) // nt
    ended = np.zeros(nt, dtype=np.int64)
    ahead = n > nt * PREFETCH_ABOVE
    for t in prange(nt):
        ended[t] = _step_block(t * block, min(n, (t + 1) * block), ahead, actions, skip, I,
                               F, S2[t], C, P, inv, cap_obs, obs, rewards, done)
    return -1 - ended.sum()


@njit(cache=True)
def reset_envs(rows, arrivals, I, F, S, C, P, inv, cap_obs, obs):
    """`reset_env` of each env in `rows`, arrivals[j] for rows[j]."""
    ctx = np.empty(0)
    for j in range(rows.shape[0]):
        reset_env(rows[j], arrivals[j], I, F, S, C, P, inv, cap_obs, obs[rows[j]], ctx)


class FastKernel:
    """The compiled engine's state and entry points for N envs of one configuration."""

    def __init__(self, n_envs: int, env: Any, n_edges: int | None = None,
                 frames: int | None = None, threads: int = 1) -> None:
        from .core.simulator import single_cut_of
        from .observation import OBS_CAP, time_scale_s

        sim_cfg, table, wl = env.sim_config, env.cut_table, env.workload
        self.n_envs = n_envs
        self.n_edges = wl.n_edges if n_edges is None else n_edges
        self.frames = int(wl.frames_per_edge) if frames is None else frames
        self.P = layout(self.n_edges, self.frames, sim_cfg.uplink == "shared",
                        sim_cfg.cloud_workers, sim_cfg.queue_capacity, env.objective)
        k = table.n_cuts
        self.C = np.zeros((C_OBS + 3, k))
        self.C[C_EDGE_S] = table.edge_s
        self.C[C_TX_S] = table.transfer_s(sim_cfg.bandwidth_mbps)
        self.C[C_CLOUD_S] = table.cloud_s
        self.C[C_OFFLOADS] = np.asarray(table.offloads, dtype=np.float64)
        self.I = np.zeros((n_envs, int(self.P[P_NI])), dtype=np.int64)
        self.F = np.zeros((n_envs, int(self.P[P_NF])))
        self.threads = threads
        self.S2 = np.zeros((threads, int(self.P[P_NS])))  # a replay scratch per thread
        self.S = self.S2[0]
        self.inv = 1.0 / time_scale_s(table.whole_edge_s)
        self.cap = float(OBS_CAP)
        scale_cuts(self.C, self.inv, self.cap)
        self.mask = np.asarray(table.feasible(sim_cfg.bandwidth_mbps), dtype=bool)
        self.P[P_V_STAR] = single_cut_of(self.C[C_EDGE_S], self.C[C_TX_S], self.C[C_CLOUD_S],
                                         self.mask)
        self.all_feasible = bool(self.mask.all())
        self.n_tasks = self.n_edges * self.frames

    def arrivals(self, arrivals: list[np.ndarray]) -> np.ndarray:
        """Per-edge arrival lists as the (n_edges, frames) array the kernel reads."""
        return np.asarray(arrivals, dtype=np.float64).reshape(self.n_edges, self.frames)

    def reset_many(self, rows: np.ndarray, arrivals: np.ndarray, obs: np.ndarray) -> None:
        """Start the episodes of envs `rows` on ``arrivals[j]`` (n_edges x frames)."""
        reset_envs(rows, arrivals, self.I, self.F, self.S, self.C, self.P, self.inv, self.cap,
                   obs)

    def step(self, actions: np.ndarray, skip: np.ndarray, obs: np.ndarray,
             rewards: np.ndarray, done: np.ndarray) -> int:
        """One decision in every env not in `skip` (int64 `actions`); see `step_all`."""
        if self.threads == 1:
            return step_all(actions, skip, self.mask, self.I, self.F, self.S, self.C, self.P,
                            self.inv, self.cap, obs, rewards, done)
        with _LAUNCH:  # numba's default threading layer takes one parallel call at a time
            return step_all_threads(actions, skip, self.mask, self.I, self.F, self.S2, self.C,
                                    self.P, self.inv, self.cap, obs, rewards, done)

    def task_times(self) -> np.ndarray:
        """View of every env's per-task times, shape (N, tasks, 8) (T_* fields)."""
        o = O_TASK + 8 * self.n_tasks
        return self.F[:, O_TASK:o].reshape(self.n_envs, self.n_tasks, 8)

    def cuts(self) -> np.ndarray:
        """View of every env's per-task cuts, shape (N, tasks)."""
        o = int(self.P[P_O_CUT])
        return self.I[:, o:o + self.n_tasks]

    def metrics_of(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """`Simulator.metrics()` of the finished episodes of envs `rows` (the same numpy
        reductions, row by row, so the same bits)."""
        times = self.task_times()[rows]
        lat = times[:, :, T_DONE] - times[:, :, T_ARR]
        cuts = self.cuts()[rows]
        m, k = len(rows), self.C.shape[1]
        if lat.shape[1]:
            mean = lat.mean(axis=1).tolist()
            p95, p99 = np.percentile(lat, [95, 99], axis=1).tolist()
            mx = lat.max(axis=1).tolist()
        else:
            mean = p95 = p99 = mx = [0.0] * m
        decided = cuts >= 0  # every task's histogram bin, offset by its row
        bins = (cuts + k * np.arange(m)[:, None])[decided]
        hist = np.bincount(bins, minlength=m * k).reshape(m, k).tolist()
        makespan = self.F[rows, F_MAKESPAN].tolist()
        n_tasks = cuts.shape[1]
        return [{"makespan_s": makespan[j], "mean_latency_s": mean[j],
                 "p95_latency_s": p95[j], "p99_latency_s": p99[j],
                 "max_latency_s": mx[j], "cut_histogram": hist[j], "n_tasks": n_tasks,
                 "n_dropped": 0} for j in range(m)]


def supports(env: Any) -> bool:
    """Whether the compiled engine covers this env's configuration (see the module
    docstring)."""
    from .core.traces import is_constant_spec

    cfg = env.sim_config
    return (is_constant_spec(env._bw_spec) and env._edge_bw is None and not env._bw_per_edge
            and env._edge_rows(env.workload.n_edges) is None and cfg.deadline_s is None
            and isinstance(env.workload.frames_per_edge, int)
            and (cfg.predictor == "replay" or (cfg.predictor == "auto"
                                               and env.workload.n_edges <= 32))
            and env.objective in ("makespan", "mean_latency"))
