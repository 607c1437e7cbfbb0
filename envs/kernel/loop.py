"""The event loop: an episode's start (`setup`), a decision (`start`: the pending task
takes its cut and starts on its edge) and `advance`, the core's ``_advance``: events in
``(time, kind, task)`` order, all of one instant applied before anything starts at it,
then `cloud.dispatch`, until an edge needs a decision. Edges are FIFO servers of their
frames (per-edge edge times in ``F``; frame counts may differ: ``offsets``); with
``drop_late`` a frame whose deadline passed before it starts is dropped, counted."""

from __future__ import annotations

import math

from numba import njit

from .cloud import cloud_done, complete, dispatch
from .heaps import ev_pop, ev_push, int_pop, mark
from .layout import (
    _ARRIVAL,
    _CLOUD_DONE,
    _EDGE_DONE,
    _TX_DONE,
    C_BITS,
    C_BUSY_EDGES,
    C_CAND,
    C_CLOUD_S,
    C_CQ_TAIL,
    C_DECIDED,
    C_DONE,
    C_DROPPED,
    C_FREE_WORKERS,
    C_HEAP,
    C_IN_SYSTEM,
    C_MISSED,
    C_OFFLOADS,
    C_PENDING,
    C_READY,
    C_TX_S,
    C_WAITING,
    ECD_W,
    F_ALPHA,
    F_AREA,
    F_BACKLOG,
    F_DEADLINE,
    F_GAP,
    F_NOW,
    FP_ALPHA,
    FP_BW,
    FP_DEADLINE,
    FP_GAP,
    FP_PRIOR,
    H_BW,
    H_OCC,
    H_RATE,
    LQD_W,
    O_TASK,
    P_DROP,
    P_EDGES,
    P_EWMA,
    P_FLUID,
    P_K,
    P_LINKS,
    P_LRING,
    P_O_CQ,
    P_O_CQD,
    P_O_CUT,
    P_O_DROP,
    P_O_EBUSY,
    P_O_ECD,
    P_O_EDGE,
    P_O_EOBS,
    P_O_HIST,
    P_O_HT,
    P_O_INLCAND,
    P_O_INREADY,
    P_O_LBD,
    P_O_LBUSY,
    P_O_LCAND,
    P_O_LMASK,
    P_O_LPRED,
    P_O_LQ,
    P_O_LQD,
    P_O_LQH,
    P_O_LQT,
    P_O_NARR,
    P_O_NEXT,
    P_O_OFF,
    P_O_RATE,
    P_O_READY,
    P_O_SERV,
    P_O_TEDGE,
    P_O_TOFF,
    P_O_VSTAR,
    P_RING,
    P_SHARED,
    P_TRACED,
    P_WORKERS,
    T_ARR,
    T_EE,
    T_ES,
)
from .links import est_tx, link_rate, observe_uplink, rate_at
from .observe import entry


@njit(cache=True)
def setup(g, f, tr, arrivals, offsets, edge_s, lmask, toff, fparams, C, P, inv, cap_obs):
    """Start env i's episode: `arrivals` (flat, edge-major, ``offsets[e]`` edge e's
    first task), per-edge per-cut `edge_s`, per-link feasible cuts `lmask` and trace
    offsets `toff` (traces already in `tr`), ``fparams = (deadline_s, ewma_alpha)``."""
    n_edges, k, links = P[P_EDGES], P[P_K], P[P_LINKS]
    tasks = offsets[n_edges]
    f[:] = 0.0
    g[:] = 0
    f[F_DEADLINE], f[F_ALPHA], f[F_GAP] = fparams[FP_DEADLINE], fparams[FP_ALPHA], \
        fparams[FP_GAP]
    o_tedge, o_off = P[P_O_TEDGE], P[P_O_OFF]
    for e in range(n_edges + 1):
        g[o_off + e] = offsets[e]
    for e in range(n_edges):
        for task in range(offsets[e], offsets[e + 1]):
            base = O_TASK + 8 * task
            f[base + T_ARR] = arrivals[task]
            for field in range(1, 8):
                f[base + field] = math.nan
            g[o_tedge + task] = e  # each task's edge, looked up, not divided
    o = P[P_O_CUT]
    for task in range(tasks):
        g[o + task] = -1
    oe, oo = P[P_O_EDGE], P[P_O_EOBS]
    for e in range(n_edges):
        for j in range(k):
            x = edge_s[e, j]
            f[oe + e * k + j] = x
            f[oo + e * k + j] = entry(x * inv, cap_obs)
    oh = P[P_O_HIST]  # the recent past: nothing yet
    f[oh + H_OCC] = math.nan
    f[oh + H_BW] = fparams[FP_BW]
    for j in range(2 * links):
        f[oh + H_RATE + j] = math.nan
    om = P[P_O_LMASK]
    for link in range(links):
        g[P[P_O_TOFF] + link] = toff[link]
        for j in range(k):
            g[om + link * k + j] = lmask[link, j]
        if P[P_TRACED] != 0:
            o = toff[link]
            # ewma: the config-level prior (`SimConfig.link_priors`), never the trace's
            f[P[P_O_RATE] + link] = fparams[FP_PRIOR + link] \
                if P[P_EWMA] != 0 else rate_at(tr, o, 0.0)
    shared = P[P_SHARED]
    ov = P[P_O_VSTAR]
    for e in range(n_edges):  # the S-C cut per edge (fixed costs: a constant rate)
        link = 0 if shared else e
        best, v = math.inf, 0
        for j in range(k):
            x = (f[oe + e * k + j] + C[C_TX_S, j]) + C[C_CLOUD_S, j] \
                if lmask[link, j] != 0 else math.inf
            if x < best:
                best, v = x, j
        g[ov + e] = v
    o = P[P_O_EBUSY]
    for e in range(n_edges):
        g[o + e] = -1
    o = P[P_O_LBUSY]
    for link in range(links):
        g[o + link] = -1
    o = P[P_O_SERV]
    for w in range(P[P_WORKERS]):
        g[o + w] = -1
    g[C_FREE_WORKERS] = P[P_WORKERS]
    g[C_PENDING] = -1
    for e in range(n_edges):
        task = offsets[e]
        if offsets[e + 1] > task:
            ev_push(g, f, P, f[O_TASK + 8 * task + T_ARR], (_ARRIVAL << 32) + task)


@njit(cache=True)
def start(g, f, tr, c, C, P):
    """Give the pending task cut `c` and start it on its edge."""
    task = g[C_PENDING]
    g[C_PENDING] = -1
    e = g[P[P_O_TEDGE] + task]
    now = f[F_NOW]
    g[P[P_O_CUT] + task] = c
    base = O_TASK + 8 * task
    f[base + T_ES] = now
    end = now + f[P[P_O_EDGE] + e * P[P_K] + c]
    f[base + T_EE] = end
    o = P[P_O_ECD] + ECD_W * e
    f[o], f[o + 1], f[o + 2], f[o + 3], f[o + 4] = (end, C[C_TX_S, c], C[C_CLOUD_S, c],
                                                    C[C_OFFLOADS, c], C[C_BITS, c])
    if P[P_FLUID] != 0 and C[C_OFFLOADS, c] != 0.0:
        link = 0 if P[P_SHARED] else e
        tx = est_tx(C, c, link_rate(g, f, tr, P, link)) if P[P_TRACED] != 0 else C[C_TX_S, c]
        o = P[P_O_LPRED] + link
        x = f[o]
        f[o] = (x if x >= end else end) + tx
        f[F_BACKLOG] += C[C_CLOUD_S, c]
    g[P[P_O_EBUSY] + e] = task
    g[C_BUSY_EDGES] += 1
    g[P[P_O_NEXT] + e] += 1
    g[C_WAITING] -= 1
    g[C_DECIDED] += 1
    ev_push(g, f, P, end, (_EDGE_DONE << 32) + task)


@njit(cache=True)
def advance(g, f, tr, C, P):
    """Run events until an edge needs a decision (return it) or the end (-1); -2 for a
    NaN event time (the callers check arrivals first: a guard, not a path)."""
    shared = P[P_SHARED]
    rmask, lring = P[P_RING] - 1, P[P_LRING]
    lmask = lring - 1
    o_tedge, o_off = P[P_O_TEDGE], P[P_O_OFF]
    o_narr, o_next, o_ebusy = P[P_O_NARR], P[P_O_NEXT], P[P_O_EBUSY]
    o_ready, o_inready, o_lq, o_lqh, o_lqt = (P[P_O_READY], P[P_O_INREADY], P[P_O_LQ],
                                              P[P_O_LQH], P[P_O_LQT])
    o_lbusy, o_lcand, o_inlcand = P[P_O_LBUSY], P[P_O_LCAND], P[P_O_INLCAND]
    o_cq, o_ht = P[P_O_CQ], P[P_O_HT]
    o_ecd, o_lbd, o_cqd, o_lqd = P[P_O_ECD], P[P_O_LBD], P[P_O_CQD], P[P_O_LQD]
    drop = P[P_DROP] != 0
    ewma = P[P_TRACED] != 0 and P[P_EWMA] != 0
    while True:
        if g[C_READY] > 0:
            e = int_pop(g, o_ready, C_READY)
            g[o_inready + e] = 0
            task = g[o_off + e] + g[o_next + e]
            if drop and f[F_NOW] - f[O_TASK + 8 * task + T_ARR] > f[F_DEADLINE]:
                # its deadline passed before it could start: dropped, counted, never run
                g[P[P_O_DROP] + task] = 1
                g[o_next + e] += 1
                g[C_WAITING] -= 1
                g[C_IN_SYSTEM] -= 1
                g[C_DONE] += 1
                g[C_MISSED] += 1
                g[C_DROPPED] += 1
                if g[o_next + e] < g[o_narr + e]:
                    mark(g, o_inready, o_ready, C_READY, e)
                continue
            g[C_PENDING] = task
            return e
        if g[C_HEAP] == 0:
            return -1
        t = f[o_ht]
        if t != t:  # a NaN time would never pop (NaN != NaN): refuse, never spin
            return -2
        f[F_AREA] += g[C_IN_SYSTEM] * (t - f[F_NOW])
        f[F_NOW] = t
        while g[C_HEAP] > 0 and f[o_ht] == t:
            key = ev_pop(g, f, P)
            kind = key >> 32
            task = key & 0xFFFFFFFF
            if kind == _CLOUD_DONE:
                cloud_done(g, f, P, task, t)
            elif kind == _TX_DONE:
                link = 0 if shared else g[o_tedge + task]
                g[o_lbusy + link] = -1
                observe_uplink(g, f, C, P, link, task, t, ewma)
                slot = g[C_CQ_TAIL] & rmask
                g[o_cq + slot] = task
                f[o_cqd + 2 * slot], f[o_cqd + 2 * slot + 1] = t, f[o_lbd + 2 * link + 1]
                g[C_CQ_TAIL] += 1
                if g[o_lqt + link] > g[o_lqh + link]:
                    mark(g, o_inlcand, o_lcand, C_CAND, link)
            elif kind == _EDGE_DONE:
                e = g[o_tedge + task]
                g[o_ebusy + e] = -1
                g[C_BUSY_EDGES] -= 1
                o = o_ecd + ECD_W * e
                if f[o + 3] != 0.0:
                    link = 0 if shared else e
                    qt = g[o_lqt + link]
                    slot = link * lring + (qt & lmask)
                    g[o_lq + slot] = task
                    d = o_lqd + LQD_W * slot
                    f[d], f[d + 1], f[d + 2], f[d + 3] = t, f[o + 1], f[o + 2], f[o + 4]
                    g[o_lqt + link] = qt + 1
                    mark(g, o_inlcand, o_lcand, C_CAND, link)
                else:
                    complete(g, f, P, task, t)
                if g[o_next + e] < g[o_narr + e]:
                    mark(g, o_inready, o_ready, C_READY, e)
            else:
                e = g[o_tedge + task]
                g[o_narr + e] += 1
                g[C_IN_SYSTEM] += 1
                g[C_WAITING] += 1
                nxt = task + 1
                if nxt < g[o_off + e + 1]:
                    ev_push(g, f, P, f[O_TASK + 8 * nxt + T_ARR], (_ARRIVAL << 32) + nxt)
                if g[o_ebusy + e] < 0:
                    mark(g, o_inready, o_ready, C_READY, e)
        dispatch(g, f, tr, C, P, t)
