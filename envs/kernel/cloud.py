"""The cloud: its bounded queue (slots held from transfer start to cloud completion;
a link whose head finds it full blocks, released in blocking order), its FIFO servers,
and a task's completion (makespan, deadline misses). `dispatch` is the core's
``_dispatch``: blocked links first, then idle links by index, then the servers."""

from __future__ import annotations

from numba import njit

from .heaps import ev_push, int_pop
from .layout import (
    _CLOUD_DONE,
    C_BLK_HEAD,
    C_BLK_TAIL,
    C_CAND,
    C_CLOUD_S,
    C_CQ_HEAD,
    C_CQ_TAIL,
    C_DONE,
    C_FREE_WORKERS,
    C_IN_SYSTEM,
    C_MISSED,
    C_SERVING,
    C_SLOTS,
    F_BACKLOG,
    F_DEADLINE,
    F_MAKESPAN,
    O_TASK,
    P_BRING,
    P_CAP,
    P_DEADLINE,
    P_FLUID,
    P_O_BLOCKED,
    P_O_CQ,
    P_O_CUT,
    P_O_INLCAND,
    P_O_LBLK,
    P_O_LBUSY,
    P_O_LCAND,
    P_O_LQH,
    P_O_LQT,
    P_O_SERV,
    P_RING,
    T_ARR,
    T_CE,
    T_CS,
    T_DONE,
)
from .links import start_tx


@njit(cache=True)
def complete(g, f, P, task, t):
    """`task` completes at `t`."""
    base = O_TASK + 8 * task
    f[base + T_DONE] = t
    g[C_IN_SYSTEM] -= 1
    g[C_DONE] += 1
    if t > f[F_MAKESPAN]:
        f[F_MAKESPAN] = t
    if P[P_DEADLINE] != 0 and t - f[base + T_ARR] > f[F_DEADLINE]:
        g[C_MISSED] += 1


@njit(cache=True)
def cloud_done(g, f, P, task, t):
    """`task`'s cloud service ended at `t`: its server and queue slot are free."""
    g[C_FREE_WORKERS] += 1
    g[C_SLOTS] -= 1
    o_serv = P[P_O_SERV]
    n = g[C_SERVING]
    for w in range(n):
        if g[o_serv + w] == task:
            g[C_SERVING] = n - 1
            g[o_serv + w] = g[o_serv + n - 1]
            g[o_serv + n - 1] = -1
            break
    complete(g, f, P, task, t)


@njit(cache=True)
def dispatch(g, f, tr, C, P, t):
    """Start what can start at `t`: blocked links (in blocking order), idle links with
    a queue (by index), then the cloud servers (FIFO)."""
    cap, bmask, rmask = P[P_CAP], P[P_BRING] - 1, P[P_RING] - 1
    o_blocked, o_lblk, o_lcand, o_inlcand = (P[P_O_BLOCKED], P[P_O_LBLK], P[P_O_LCAND],
                                             P[P_O_INLCAND])
    o_lbusy, o_lqh, o_lqt = P[P_O_LBUSY], P[P_O_LQH], P[P_O_LQT]
    while g[C_BLK_TAIL] > g[C_BLK_HEAD] and g[C_SLOTS] < cap:
        link = g[o_blocked + (g[C_BLK_HEAD] & bmask)]
        g[C_BLK_HEAD] += 1
        g[o_lblk + link] = 0
        start_tx(g, f, tr, C, P, link, t)
    while g[C_CAND] > 0:
        link = int_pop(g, o_lcand, C_CAND)
        g[o_inlcand + link] = 0
        if g[o_lbusy + link] >= 0 or g[o_lblk + link] != 0 or \
                g[o_lqt + link] == g[o_lqh + link]:
            continue
        if g[C_SLOTS] < cap:
            start_tx(g, f, tr, C, P, link, t)
        else:
            g[o_lblk + link] = 1
            g[o_blocked + (g[C_BLK_TAIL] & bmask)] = link
            g[C_BLK_TAIL] += 1
    o_cq, o_serv, o_cut = P[P_O_CQ], P[P_O_SERV], P[P_O_CUT]
    fluid = P[P_FLUID] != 0
    while g[C_FREE_WORKERS] > 0 and g[C_CQ_TAIL] > g[C_CQ_HEAD]:
        task = g[o_cq + (g[C_CQ_HEAD] & rmask)]
        g[C_CQ_HEAD] += 1
        g[C_FREE_WORKERS] -= 1
        g[o_serv + g[C_SERVING]] = task
        g[C_SERVING] += 1
        base = O_TASK + 8 * task
        f[base + T_CS] = t
        cloud = C[C_CLOUD_S, g[o_cut + task]]
        if fluid:
            f[F_BACKLOG] -= cloud
        end = t + cloud
        f[base + T_CE] = end
        ev_push(g, f, P, end, (_CLOUD_DONE << 32) + task)
