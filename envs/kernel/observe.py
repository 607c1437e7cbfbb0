"""What a decision sees: the observation (`splitgym.envs.observation.encode`, entry
for entry) and, for the single env, the decision context's values (``X_*`` slots, then
per cut the predicted finish and the transfer time at the link's estimate), and its
per-cut predicted edge energy (`predicted_energy`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..core.simulator import OCC_ALPHA
from .layout import (
    C_BLK_HEAD,
    C_BLK_TAIL,
    C_BUSY_EDGES,
    C_CLOUD_S,
    C_DECIDED,
    C_OBS,
    C_OFFLOADS,
    C_PENDING,
    C_SLOTS,
    C_TX_S,
    C_WAITING,
    F_DEADLINE,
    F_GAP,
    F_NOW,
    H_BW,
    H_OCC,
    H_RATE,
    N_CTX,
    O_TASK,
    P_CAP,
    P_DEADLINE,
    P_EDGES,
    P_FLUID,
    P_K,
    P_LINKS,
    P_O_EDGE,
    P_O_EOBS,
    P_O_HIST,
    P_O_LMASK,
    P_O_NARR,
    P_O_NEXT,
    P_O_OFF,
    P_O_VSTAR,
    P_OBSV,
    P_SHARED,
    P_TRACED,
    T_ARR,
    X_ARRIVAL,
    X_BLOCKED,
    X_BUSY_EDGES,
    X_CLOUD_FREE,
    X_DECIDED,
    X_EDGE,
    X_EDGE_WAITING,
    X_LAST_DONE,
    X_LINK_FREE,
    X_MEASURED,
    X_NEXT_ARRIVAL,
    X_NOW,
    X_OCC_AVG,
    X_QUEUE_USED,
    X_RATE,
    X_SQ_CLOUD_FREE,
    X_SQ_LINK_CLOUD_FREE,
    X_TASK,
    X_WAITING_TOTAL,
)
from .links import est_tx, link_rate
from .predictor import fluid, replay


@njit(cache=True, inline="always")
def entry(x, cap):
    """``log1p`` of `x` clipped to [0, cap]: an observation entry (see
    `splitgym.envs.observation`; the same C ``log1p`` as its ``math.log1p``)."""
    if x < 0.0:
        return 0.0
    if x > cap:
        return math.log1p(cap)
    return math.log1p(x)


@njit(cache=True)
def scale_cuts(C, inv, cap_obs):
    """Write C's rows `C_OBS`.. (see the C_* slots)."""
    for r in range(3):
        for j in range(C.shape[1]):
            C[C_OBS + r, j] = entry(C[r, j] * inv, cap_obs)


@njit(cache=True)
def single_cut(g, f, C, P, e, traced, r):
    """Eq. (1), edge `e`'s S-C cut now: the feasible cut of least edge + transfer +
    cloud time, ties to the smaller (the core's `single_cut_of`); per edge where the
    costs never change, else at the link's estimated rate `r`."""
    if not traced:
        return g[P[P_O_VSTAR] + e]
    k = P[P_K]
    link = 0 if P[P_SHARED] else e
    om, oe = P[P_O_LMASK] + link * k, P[P_O_EDGE] + e * k
    best, v = math.inf, 0
    for j in range(k):
        x = (f[oe + j] + est_tx(C, j, r)) + C[C_CLOUD_S, j] if g[om + j] != 0 else math.inf
        if x < best:
            best, v = x, j
    return v


@njit(cache=True)
def observe(g, f, S, tr, e, C, P, inv, cap_obs, out, ctx):
    """Write the observation of the pending task on edge `e` into `out` and, when `ctx`
    is not empty, its decision context (see the X_* slots)."""
    n_edges, k = P[P_EDGES], P[P_K]
    traced = P[P_TRACED] != 0
    now = f[F_NOW]
    full = ctx.shape[0] > 0
    link = 0 if P[P_SHARED] else e
    r = link_rate(g, f, tr, P, link) if traced else 0.0
    oe = P[P_O_EDGE] + e * k
    if P[P_FLUID] != 0:
        cloud_free, lf, c1, c2 = fluid(g, f, tr, C, P, e)
    else:
        ready_v = tx_v = 0.0
        if full:
            vs = single_cut(g, f, C, P, e, traced, r)
            ready_v = now + f[oe + vs]
            tx_v = est_tx(C, vs, r) if traced else C[C_TX_S, vs]
        cloud_free, lf, c1, c2 = replay(g, f, S, tr, C, P, e, full, ready_v, tx_v)
    task = g[C_PENDING]
    oo = P[P_O_EOBS] + e * k
    for j in range(k):
        ready = now + f[oe + j]
        tx = est_tx(C, j, r) if traced else C[C_TX_S, j]
        arrive = (ready if ready > lf else lf) + tx
        if C[C_OFFLOADS, j] != 0.0:
            fin = (arrive if arrive > cloud_free else cloud_free) + C[C_CLOUD_S, j]
        else:
            fin = ready
        out[j] = f[oo + j]
        out[k + j] = entry(tx * inv, cap_obs) if traced else C[C_OBS + 1, j]
        out[2 * k + j] = C[C_OBS + 2, j]
        out[3 * k + j] = entry((fin - now) * inv, cap_obs)
        if full:
            ctx[N_CTX + j] = fin
            ctx[N_CTX + k + j] = tx
    s = 4 * k
    nxt = task + 1
    o_off = P[P_O_OFF]
    first, end = g[o_off + e], g[o_off + e + 1]
    n_arr = g[P[P_O_NARR] + e]
    gap = f[F_GAP]
    if nxt >= end:
        nxt_t = math.inf
    elif nxt < first + n_arr or gap != gap:  # arrived, or periodic: knowable
        nxt_t = f[O_TASK + 8 * nxt + T_ARR]
    else:  # random arrivals: the config's mean gap, not the frame's draw
        nxt_t = now + gap
    frames_left = end - task
    frame = task - first
    n_next = g[P[P_O_NEXT] + e]
    blocked = g[C_BLK_TAIL] - g[C_BLK_HEAD]
    out[s + 0] = entry((cloud_free - now) * inv, cap_obs)
    out[s + 1] = entry((lf - now) * inv, cap_obs)
    out[s + 2] = entry(cap_obs if math.isinf(nxt_t) else max(0.0, nxt_t - now) * inv,
                       cap_obs)
    out[s + 3] = entry(g[C_SLOTS] / P[P_CAP], cap_obs)
    out[s + 4] = entry(blocked / n_edges, cap_obs)
    out[s + 5] = entry(float(n_arr - n_next - 1), cap_obs)
    out[s + 6] = entry((g[C_WAITING] - 1) / n_edges, cap_obs)
    out[s + 7] = entry(g[C_BUSY_EDGES] / n_edges, cap_obs)
    out[s + 8] = entry(frames_left / (frames_left + frame), cap_obs)
    out[s + 9] = entry(g[C_DECIDED] / g[o_off + n_edges], cap_obs)
    # the recent past (the core's ``_context``): the queue's occupancy averaged over
    # decisions, this one included; this link's last measured rate and completion
    oh = P[P_O_HIST]
    occ = g[C_SLOTS] / P[P_CAP]
    q = f[oh + H_OCC]
    q = occ if q != q else OCC_ALPHA * occ + (1 - OCC_ALPHA) * q
    f[oh + H_OCC] = q
    measured = f[oh + H_RATE + link]
    last_done = f[oh + H_RATE + P[P_LINKS] + link]
    arrival = f[O_TASK + 8 * task + T_ARR]
    if P[P_OBSV] != 0:  # observation version 1 (`splitgym.envs.observation.V1_FIELDS`)
        est = r if traced else f[oh + H_BW]
        if measured != measured:
            x = 1.0
        elif est > 0:
            x = measured / est
        else:
            x = cap_obs
        out[s + 10] = entry(x, cap_obs)
        out[s + 11] = entry(cap_obs if last_done != last_done else (now - last_done) * inv,
                            cap_obs)
        out[s + 12] = entry((f[F_DEADLINE] - (now - arrival)) * inv
                            if P[P_DEADLINE] != 0 else cap_obs, cap_obs)
        out[s + 13] = entry(q, cap_obs)
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
        ctx[X_RATE] = r
        ctx[X_ARRIVAL] = arrival
        ctx[X_MEASURED] = measured
        ctx[X_LAST_DONE] = last_done
        ctx[X_OCC_AVG] = q


@njit(cache=True)
def predicted_energy(extra_w, tx_base_w, tx_w_per_mbps, rate_mbps, edge_s, transfer_s):
    """`splitgym.envs.core.energy.EnergyModel.predicted_j` of one edge (its
    ``compute_w - idle_w``, ``tx_base_w`` and ``tx_w_per_mbps``), operation for
    operation: the same bits without numpy's per-call cost (a context's whenever the
    rate estimate moves)."""
    tx_w = tx_base_w + tx_w_per_mbps * rate_mbps
    out = np.empty(transfer_s.size)
    for i in range(transfer_s.size):
        radio = tx_w * transfer_s[i] if transfer_s[i] > 0 else 0.0
        out[i] = extra_w * edge_s[i] + radio
    return out
