"""The backlog predictor: what a decision is told about the committed work.

`replay` is the core's ``_backlog`` with the ``replay`` predictor: every committed,
unfinished, cloud-bound task's predicted arrival at the cloud (the cloud queue's
actual arrivals; per link its running transfer's end, then its queued and computing
tasks chained through the FIFO link at the link's estimated rate), as sorted runs of
(arrival, cloud time) pairs in the scratch ``S``, merged and folded through the FIFO
cloud servers: when the cloud finishes it all (``cloud_free``), when the deciding
edge's link is free, and Scheduling with Queuing's two ``t_end`` prefixes. `fluid` is
the ``fluid`` predictor's O(1) answer from the running counters that `loop.start` and
`cloud.dispatch` keep.
"""

from __future__ import annotations

import math

from numba import njit

from .layout import (
    C_CQ_HEAD,
    C_CQ_TAIL,
    C_FREE_WORKERS,
    C_SERVING,
    ECD_W,
    F_BACKLOG,
    F_NOW,
    LQD_W,
    O_TASK,
    P_EDGES,
    P_EWMA,
    P_LINKS,
    P_LRING,
    P_O_COMP,
    P_O_CQD,
    P_O_EBUSY,
    P_O_ECD,
    P_O_LBD,
    P_O_LBUSY,
    P_O_LF,
    P_O_LPRED,
    P_O_LQD,
    P_O_LQH,
    P_O_LQT,
    P_O_RUNS,
    P_O_SERV,
    P_O_WA,
    P_O_WK,
    P_RING,
    P_SHARED,
    P_TRACED,
    P_WORKERS,
    T_CE,
    T_LE,
)
from .links import link_rate, unsent_end


@njit(cache=True, inline="always")
def _behind(S, free, start, tx, cloud, at):
    """A task leaving its edge at `start`, taking `tx` on a link free at `free`: write
    its predicted arrival at the cloud and its cloud time to ``S[at]``, ``S[at + 1]``;
    return when the link is free."""
    if start < free:
        start = free
    free = start + tx
    S[at] = free
    S[at + 1] = cloud
    return free


@njit(cache=True, inline="always")
def _tx_at(tx, bits, traced, r):
    """A queued (offloading) task's predicted transfer time: its own at a constant
    rate, else its bits at the link's estimate `r`."""
    if not traced:
        return tx
    return bits / (r * 1e6) if r > 0 else math.inf


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
def replay(g, f, S, tr, C, P, e, sq, ready_v, tx_v):
    """``(cloud_free, link_free, t_end, t_end_link)`` of the deciding edge `e` (all >=
    now). With `sq`, the S-Q prefixes for a task whose S-C cut leaves the edge at
    `ready_v` and takes `tx_v` on the link; else both are ``cloud_free``. A running
    transfer ends at its true end, under ``ewma`` traces at `links.unsent_end`."""
    n_edges, links, workers = P[P_EDGES], P[P_LINKS], P[P_WORKERS]
    shared, rmask, lring = P[P_SHARED], P[P_RING] - 1, P[P_LRING]
    traced = P[P_TRACED] != 0
    ewma = traced and P[P_EWMA] != 0
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
            free = unsent_end(g, f, tr, C, P, link) if ewma else f[o_lbd + 2 * link]
            S[o_w + 2 * n] = free
            S[o_w + 2 * n + 1] = f[o_lbd + 2 * link + 1]
            n += 1
        m = 0
        if shared:  # the edges computing tasks to offload, by (edge end, task)
            for ed in range(n_edges):
                if g[o_ebusy + ed] >= 0 and f[o_ecd + ECD_W * ed + 3] != 0.0:
                    g[o_comp + m] = ed
                    m += 1
            for j in range(1, m):  # insertion sort (a task's edge orders it as its id)
                x = g[o_comp + j]
                xe = f[o_ecd + ECD_W * x]
                q = j - 1
                while q >= 0:
                    y = g[o_comp + q]
                    ye = f[o_ecd + ECD_W * y]
                    if ye > xe or (ye == xe and y > x):
                        g[o_comp + q + 1] = y
                        q -= 1
                    else:
                        break
                g[o_comp + q + 1] = x
        elif g[o_ebusy + link] >= 0 and f[o_ecd + ECD_W * link + 3] != 0.0:
            g[o_comp] = link
            m = 1
        nq = g[o_lqt + link] - g[o_lqh + link]
        r = 0.0
        if traced and (nq > 0 or m > 0):
            r = link_rate(g, f, tr, P, link)
        o_ring = o_lqd + LQD_W * link * lring
        q = g[o_lqh + link] & lmask
        for _ in range(nq):
            d = o_ring + LQD_W * q
            free = _behind(S, free, f[d], _tx_at(f[d + 1], f[d + 3], traced, r), f[d + 2],
                           o_w + 2 * n)
            q = (q + 1) & lmask
            n += 1
        for j in range(m):
            d = o_ecd + ECD_W * g[o_comp + j]
            free = _behind(S, free, f[d], _tx_at(f[d + 1], f[d + 4], traced, r), f[d + 2],
                           o_w + 2 * n)
            n += 1
        S[o_lf + link] = free
        if n > lo:
            n = _end_run(g, S, o_w, o_runs, nr, lo, n)
            nr += 1
    lf = S[o_lf + (0 if shared else e)]
    # Scheduling with Queuing's t_end (decision contexts only): when the cloud finishes
    # the work predicted to reach it no later than the task's own arrival under its S-C
    # cut v*, A = (now + Te(v*)) + Tt(v*), and no later than A_link = max(now + Te(v*),
    # link free) + Tt(v*); NaN until the replay passes that arrival
    thr1 = thr2 = math.inf
    c1 = c2 = math.nan
    if sq:
        thr1 = ready_v + tx_v
        thr2 = (ready_v if ready_v > lf else lf) + tx_v
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
            if not sq:
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
        cloud_free = t
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
    return cloud_free, lf, c1, c2


@njit(cache=True)
def fluid(g, f, tr, C, P, e):
    """The ``fluid`` predictor's ``(cloud_free, link_free, t_end, t_end_link)``: the
    link is free at the later of its running transfer and its committed transfers
    chained at decision time; the cloud when its running work ends plus the committed,
    not yet started cloud work divided by the servers (both t_end: ``cloud_free``)."""
    now = f[F_NOW]
    link = 0 if P[P_SHARED] else e
    busy = g[P[P_O_LBUSY] + link]
    lf = now
    x = f[P[P_O_LPRED] + link]
    if x > lf:
        lf = x
    if busy < 0:
        x = now
    elif P[P_TRACED] != 0 and P[P_EWMA] != 0:
        x = unsent_end(g, f, tr, C, P, link)
    else:
        x = f[O_TASK + 8 * busy + T_LE]
    if x > lf:
        lf = x
    start = now
    if g[C_FREE_WORKERS] == 0:
        o_serv = P[P_O_SERV]
        start = f[O_TASK + 8 * g[o_serv] + T_CE]
        for w in range(1, g[C_SERVING]):
            x = f[O_TASK + 8 * g[o_serv + w] + T_CE]
            if x < start:
                start = x
    cloud_free = (now if now >= start else start) + f[F_BACKLOG] / P[P_WORKERS]
    return cloud_free, lf, cloud_free, cloud_free
