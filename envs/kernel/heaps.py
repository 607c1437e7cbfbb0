"""The heaps inside a state row: the event heap (times in ``F``, keys
``kind << 32 | task`` in ``I``, ordered ``(time, kind, task)`` as the Python core's
tuples) and the small int min-heaps of ready edges and candidate links."""

from __future__ import annotations

from numba import njit

from .layout import C_HEAP, P_O_HK, P_O_HT


@njit(cache=True, inline="always")
def _ev_less(t1, k1, t2, k2):
    return t1 < t2 or (t1 == t2 and k1 < k2)


@njit(cache=True)
def ev_push(g, f, P, t, key):
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
def ev_pop(g, f, P):
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
def int_push(g, o, size_slot, v):
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
def int_pop(g, o, size_slot):
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


@njit(cache=True)
def mark(g, o_flag, o_heap, size_slot, v):
    """Push `v` on the int heap at `o_heap` unless its flag says it is there."""
    if g[o_flag + v] == 0:
        g[o_flag + v] = 1
        int_push(g, o_heap, size_slot, v)
