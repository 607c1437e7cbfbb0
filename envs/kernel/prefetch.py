"""Prefetch hints for `step_all` above `PREFETCH_ABOVE` envs, where the rows no longer
fit in cache: while it steps one env it asks the CPU to load the next envs' rows (an
LLVM prefetch hint through a numba intrinsic; numba has none of its own)."""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .layout import (
    C_CQ_HEAD,
    C_CQ_TAIL,
    C_PENDING,
    LQD_W,
    O_TASK,
    P_LINKS,
    P_LRING,
    P_O_CQD,
    P_O_CUT,
    P_O_HT,
    P_O_LQD,
    P_O_LQH,
    P_O_LQT,
    P_O_TEDGE,
    P_RING,
)

# below this many envs the rows stay in cache and the hints only cost (measured: 1.04x
# the time per decision at 64 envs, 0.83x at 1,024)
PREFETCH_ABOVE = 128


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Ask the CPU to start loading the cache line of ``arr[idx]`` (``llvm.prefetch``:
    a hint, never a fault)."""
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
def prefetch_fixed(g, f, P):
    """Stage 1 for an env two ahead: its counters and small fields, its heap, and its
    per-edge and per-link times (fixed offsets)."""
    _prefetch_block(g, 0, P[P_O_TEDGE])
    _prefetch(f, 0)
    _prefetch_block(f, P[P_O_HT], P[P_O_CQD])


@njit(cache=True)
def prefetch_queues(g, f, P):
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
            base = P[P_O_LQD] + LQD_W * link * lring
            end = min(q + n, lring)
            _prefetch_block(f, base + LQD_W * q, base + LQD_W * end)
            if q + n > lring:
                _prefetch_block(f, base, base + LQD_W * (q + n - lring))
    task = g[C_PENDING]
    if task >= 0:
        _prefetch(f, O_TASK + 8 * task)
        _prefetch(g, P[P_O_CUT] + task)
