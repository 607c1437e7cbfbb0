"""``splitgym testbed``: real split inference on one machine, measured against the model.

One OS process per edge and one cloud process (``multiprocessing``, forked from a fork
server that imported torch once; see `_mp_context`), talking over
real TCP sockets on 127.0.0.1; a coordinator in the calling process owns the policy and
the decision context. Then the same episode (same arrivals, same cuts, same rate
traces) runs in the simulator with a profile measured on this machine, and the two
timelines are compared task by task.

What each part does (see docs/testbed.md for the fidelity study):

* **Edge e** (a process, torch pinned to one thread): sleeps until each frame's arrival
  time (the env's own generator and seed), asks the coordinator for the frame's cut
  (the decision, at edge start, as in the model), runs layers ``[0, cut)`` of the real
  torch model (the fx graph `splitgym.profiles.profiler.capture` builds, the one the
  profiler times) on a real input tensor, then, for an emulated device ``s`` times
  slower, waits ``(s - 1)`` times the compute it just measured. A sender thread keeps
  the edge's FIFO uplink: for the task at its head it asks the cloud for a slot (a
  credit), and once granted sends the intermediate tensors' raw float32 bytes, paced
  by a token bucket one chunk deep filled at the link's rate (the episode's rate trace,
  constant or not): a chunk leaves when the bucket holds its bytes, so the last byte
  leaves exactly when ``8 * bytes / rate`` (integrated over the trace) has passed. A
  small header (task, cut, shapes; no pickle) goes ahead unpaced.
* **Cloud** (a process): one receiving thread per edge connection. A request takes one
  of the C slots or, when none is free, waits (the link is *blocked*, as in the model:
  waiting requests are granted in the order they blocked); the slot is held from the
  grant (transfer start) to the task's cloud completion. Received tasks enter one FIFO
  served by ``cloud_workers`` worker threads running layers ``[cut, end)``.
* **Coordinator** (the calling process): answers each edge's decision request with the
  policy's cut. It mirrors every reported event (edge start/end, blocked, transfer
  start/end, cloud start/end) into a `Simulator` whose state it sets, so the decision
  context the policies read (``info["decision"]``, and the observation an agent reads)
  is built by the simulator's own code from the real system's state at the real time;
  transfers and cloud work in progress are predicted from the profile, as in the model.
  Its decision latency (request to reply, and the policy's own time) is measured; the
  model assumes zero.

Not emulated: a shared uplink, dropping late frames, edges faster than this machine
(``edge_speed`` > 1), and Linux ``tc`` shaping (it needs root and a network namespace;
pacing is in the sender). Every process ends when the command ends, Ctrl-C included:
the children ignore SIGINT, are terminated (then killed) by the coordinator in a
``finally`` block, and die with it (``PR_SET_PDEATHSIG``) if it is killed outright.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.envs.core.config import ConfigError

#: Models the testbed can run for real (their torch code is `splitgym.profiles.models`).
TESTBED_MODELS = ("alexnet", "tiny_yolo", "darknet19", "alexnet_parallel", "resnet18",
                  "googlenet")
#: Most edges (one process each) the testbed starts.
MAX_EDGES = 16
#: Bytes per paced chunk of a transfer.
CHUNK_BYTES = 4096
#: The device name the measured profile records its latencies under.
DEVICE = "host"

_HELLO, _REQ, _GRANT = b"SGHI", b"SGRQ", b"SGGR"
_REQ_HEAD = struct.Struct("!4sIIIQ")  # magic, task, cut, n_tensors, payload bytes
_SMALL = struct.Struct("!4sI")  # magic, edge (hello) or task (grant)
_U32 = struct.Struct("!I")


class TestbedError(ConfigError):
    """The testbed cannot run as asked (a bad cut, an impossible rate, a model it cannot
    run, a child process that failed); the message names the field and the value."""

    __test__ = False  # not a pytest test class


class PortInUseError(TestbedError):
    """``--port`` names a port of 127.0.0.1 that is already taken."""


# -- the real model, split ----------------------------------------------------------------
class GraphRunner:
    """The fx graph of a model (the profiler's capture) run in two parts: the edge part
    of a cut (its layers, returning the tensors the cut sends) and the cloud part
    (everything else, from those tensors). Node lists are cached per cut."""

    def __init__(self, model: str, cut_layers: Sequence[Sequence[str]], seed: int = 0) -> None:
        import torch
        from torch import fx

        from splitgym.profiles.models import build
        from splitgym.profiles.profiler import capture

        module, shape = build(model, seed)
        gen = torch.Generator().manual_seed(seed)
        self.example = torch.randn(shape, generator=gen)
        with torch.no_grad():
            self.gm, layers = capture(module, self.example, count_flops=False)
        self._fx = fx
        self.layers = layers
        self.cut_layers = [tuple(c) for c in cut_layers]
        nodes = list(self.gm.graph.nodes)
        self._order = {n: i for i, n in enumerate(nodes)}
        self._placeholder = next(n for n in nodes if n.op == "placeholder")
        self._output = next(n for n in nodes if n.op == "output")
        self._last = {lay.name: lay.nodes[-1] for lay in layers}
        self._last["input"] = self._placeholder
        self._owner = {n: lay.name for lay in layers for n in lay.nodes}
        self._plans: dict[int, tuple[Any, ...]] = {}
        self._local = threading.local()

    def sent_names(self, cut: int) -> list[str]:
        """The tensors cut `cut` sends (layer names, ``"input"``), in a fixed order."""
        return self.plan(cut)[1]

    def plan(self, cut: int) -> tuple[list[Any], list[str], list[Any], list[Any]]:
        """``(edge nodes, sent names, sent nodes, cloud nodes)`` of a cut."""
        hit = self._plans.get(cut)
        if hit is not None:
            return hit
        on_edge = set(self.cut_layers[cut])
        sent: set[str] = set()
        for lay in self.layers:
            if lay.name not in on_edge:
                sent.update(s for s in lay.inputs if s == "input" or s in on_edge)
        names = sorted(sent)
        sent_nodes = [self._last[s] for s in names]
        final = list(self._output.all_input_nodes)
        if len(on_edge) == len(self.layers):  # edge-only: the whole model here
            edge = self._closure(final, {self._placeholder})
            cloud: list[Any] = []
        else:
            edge = self._closure(sent_nodes, {self._placeholder})
            cloud = self._closure(final, set(sent_nodes))
            if self._placeholder in cloud:
                raise RuntimeError(f"cut {cut}: the cloud part reads the input it was not "
                                   f"sent")
        cat = _cat_targets()
        for n in edge:
            if n in self._owner and self._owner[n] not in on_edge and n.target not in cat:
                raise RuntimeError(f"cut {cut}: node {n.name} of cloud layer "
                                   f"{self._owner[n]!r} would run on the edge")
        for n in cloud:
            if n in self._owner and self._owner[n] in on_edge and n.target not in cat:
                raise RuntimeError(f"cut {cut}: node {n.name} of edge layer "
                                   f"{self._owner[n]!r} would run on the cloud")
        out = (edge, names, sent_nodes, cloud)
        self._plans[cut] = out
        return out

    def _closure(self, targets: Sequence[Any], stop: set[Any]) -> list[Any]:
        seen: set[Any] = set()
        stack = [t for t in targets if t not in stop]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(a for a in n.all_input_nodes if a not in stop and a not in seen)
        return sorted(seen, key=self._order.__getitem__)

    def _interp(self) -> Any:
        it = getattr(self._local, "interp", None)
        if it is None:
            it = self._local.interp = self._fx.Interpreter(self.gm,
                                                           garbage_collect_values=False)
        return it

    def _run(self, nodes: Sequence[Any], env: dict[Any, Any]) -> dict[Any, Any]:
        import torch

        it = self._interp()
        it.env = env
        with torch.no_grad():
            for n in nodes:
                env[n] = it.run_node(n)
        return env

    def edge(self, cut: int, x: Any) -> list[Any]:
        """Run the edge part of `cut` on input `x`; the tensors it sends (none for
        edge-only), contiguous, float32."""
        edge, _, sent_nodes, cloud = self.plan(cut)
        env = self._run(edge, {self._placeholder: x})
        if not cloud:
            return []
        return [env[n].contiguous() for n in sent_nodes]

    def cloud(self, cut: int, tensors: Sequence[Any]) -> Any:
        """Run the cloud part of `cut` from the tensors the edge sent; the model output."""
        _, _, sent_nodes, cloud = self.plan(cut)
        env = self._run(cloud, dict(zip(sent_nodes, tensors, strict=True)))
        return env[self._output.all_input_nodes[0]]


def _cat_targets() -> tuple[Any, ...]:
    import torch

    return (torch.cat, torch.concat)


# -- child processes ------------------------------------------------------------------------
def _child_setup() -> None:
    """In a child: ignore Ctrl-C (the coordinator ends us), die with the coordinator, one
    torch thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    os.environ["OMP_NUM_THREADS"] = "1"
    import sys

    # A thread waiting for the GIL waits up to the switch interval (5 ms by default)
    # while another runs Python (the fx interpreter between ops): the sender and the
    # receiving threads would add ~5 ms per hand-off. 0.2 ms keeps them prompt.
    sys.setswitchinterval(2e-4)
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # pragma: no cover - already set
        pass


class _Reporter:
    """Thread-safe sends on a child's control pipe."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.lock = conn, threading.Lock()

    def send(self, *msg: Any) -> None:
        with self.lock:
            try:
                self.conn.send(msg)
            except (OSError, EOFError, BrokenPipeError):
                os._exit(0)  # the coordinator is gone


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("connection closed")
        got += k
    return bytes(buf)


def _sleep_until(t: float) -> None:
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)


def _child_main(who: str, run: Any, cfg: dict[str, Any], conn: Any) -> None:
    """Set up a child process, run ``run(cfg, conn, rep)``, and report any exception
    (prefixed with ``who``) to the parent instead of dying silently."""
    rep = _Reporter(conn)
    try:
        _child_setup()
        run(cfg, conn, rep)
    except BaseException as exc:  # noqa: BLE001 - reported, then the process ends
        import traceback

        rep.send("error", f"{who}: {type(exc).__name__}: {exc}\n"
                          f"{traceback.format_exc(limit=4)}")


def _edge_main(cfg: dict[str, Any], conn: Any) -> None:
    """An edge process (see the module doc)."""
    _child_main(f"edge {cfg['edge']}", _edge_run, cfg, conn)


def _edge_run(cfg: dict[str, Any], conn: Any, rep: _Reporter) -> None:
    import queue

    from splitgym.envs.core.traces import RateTrace

    e = cfg["edge"]
    runner = GraphRunner(cfg["model"], cfg["cut_layers"], cfg["model_seed"])
    x = runner.example
    for cut in sorted(set(cfg["warm_cuts"])):  # warm the code paths (not timed)
        runner.edge(cut, x)
    trace = RateTrace(*cfg["trace"])
    slow = float(cfg["slowdown"])
    sock = socket.create_connection(("127.0.0.1", cfg["port"]), timeout=60)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(_SMALL.pack(_HELLO, e))
    rep.send("ready", e)
    msg = conn.recv()
    if msg[0] != "start":
        return
    t0 = float(msg[1])
    sendq: queue.Queue[Any] = queue.Queue()
    chunk = int(cfg["chunk_bytes"])

    def sender() -> None:
        while True:
            item = sendq.get()
            if item is None:
                return
            task, cut, tensors = item
            arrays = [t.numpy().reshape(-1).view(np.uint8) for t in tensors]
            total = sum(a.size for a in arrays)
            meta = b"".join(_U32.pack(t.dim()) + b"".join(_U32.pack(d) for d in t.shape)
                            for t in tensors)
            t_req = time.monotonic()
            sock.sendall(_REQ_HEAD.pack(_REQ, task, cut, len(tensors), total) + meta)
            rep.send("tx_request", task, t_req - t0)
            magic, granted = _SMALL.unpack(_recv_exact(sock, _SMALL.size))
            if magic != _GRANT or granted != task:
                raise RuntimeError(f"edge {e}: expected the grant of task {task}, got "
                                   f"{magic!r} {granted}")
            t_start = time.monotonic() - t0
            sent = 0
            for a in arrays:
                pos = 0
                while pos < a.size:
                    n = min(chunk, a.size - pos)
                    # the bucket holds these bytes once the link could have carried them
                    _sleep_until(t0 + trace.finish(t_start, sent + n))
                    sock.sendall(a[pos:pos + n].data)
                    pos += n
                    sent += n
            rep.send("tx_sent", task, time.monotonic() - t0)

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    offset = cfg["task_offset"]
    for k, arrival in enumerate(cfg["arrivals"]):
        task = offset + k
        _sleep_until(t0 + arrival)
        t_req = time.monotonic() - t0
        rep.send("decide", task, t_req)
        reply = conn.recv()
        if reply[0] != "cut":
            return  # stop
        cut = int(reply[2])
        t_start = time.monotonic()
        rep.send("edge_start", task, t_start - t0)
        tensors = runner.edge(cut, x)
        compute = time.monotonic() - t_start
        if slow > 1.0:
            time.sleep((slow - 1.0) * compute)
        rep.send("edge_end", task, time.monotonic() - t0, compute)
        if tensors:
            sendq.put((task, cut, tensors))
    sendq.put(None)
    th.join()
    while True:  # wait for the coordinator's stop
        msg = conn.recv()
        if msg[0] == "stop":
            sock.close()
            return


def _cloud_main(cfg: dict[str, Any], conn: Any) -> None:
    """The cloud process (see the module doc)."""
    _child_main("cloud", _cloud_run, cfg, conn)


def _cloud_run(cfg: dict[str, Any], conn: Any, rep: _Reporter) -> None:
    import queue

    import torch

    runner = GraphRunner(cfg["model"], cfg["cut_layers"], cfg["model_seed"])
    for cut in sorted(set(cfg["warm_cuts"])):  # warm the code paths (not timed)
        if cut < len(cfg["cut_layers"]) - 1:
            runner.cloud(cut, runner.edge(cut, runner.example))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        srv.bind(("127.0.0.1", cfg["port"]))
    except OSError as exc:
        rep.send("port_error", f"{exc}")
        return
    srv.listen(max(1, cfg["n_edges"]))
    rep.send("listening", srv.getsockname()[1])
    socks: dict[int, socket.socket] = {}
    srv.settimeout(120)
    while len(socks) < cfg["n_edges"]:
        s, _ = srv.accept()
        s.settimeout(None)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _, e = _SMALL.unpack(_recv_exact(s, _SMALL.size))
        socks[e] = s
    rep.send("ready", -1)
    msg = conn.recv()
    if msg[0] != "start":
        return
    t0 = float(msg[1])
    cond = threading.Condition()
    free = [int(cfg["queue_capacity"])]
    waiting: deque[threading.Event] = deque()
    cloudq: queue.Queue[Any] = queue.Queue()

    def receiver(sock: socket.socket) -> None:
        while True:
            try:
                head = _recv_exact(sock, _REQ_HEAD.size)
            except (EOFError, OSError):
                return
            magic, task, cut, n_tensors, total = _REQ_HEAD.unpack(head)
            if magic != _REQ:
                raise RuntimeError(f"cloud: bad request header {magic!r}")
            shapes = []
            for _ in range(n_tensors):
                (nd,) = _U32.unpack(_recv_exact(sock, 4))
                shapes.append(struct.unpack(f"!{nd}I", _recv_exact(sock, 4 * nd)))
            with cond:
                if free[0] > 0 and not waiting:
                    free[0] -= 1
                    ev = None
                else:
                    ev = threading.Event()
                    waiting.append(ev)
                    rep.send("blocked", task, time.monotonic() - t0)
            if ev is not None:
                ev.wait()  # a completion handed us its slot
            t_grant = time.monotonic()
            sock.sendall(_SMALL.pack(_GRANT, task))
            rep.send("tx_start", task, t_grant - t0)
            buf = bytearray(total)
            view = memoryview(buf)
            got = 0
            while got < total:
                k = sock.recv_into(view[got:], total - got)
                if k == 0:
                    return
                got += k
            rep.send("tx_end", task, time.monotonic() - t0)
            tensors, pos = [], 0
            for shape in shapes:
                count = math.prod(shape)
                tensors.append(torch.frombuffer(buf, dtype=torch.float32, offset=pos,
                                                count=count).reshape(shape))
                pos += 4 * count
            cloudq.put((task, cut, tensors))

    def worker() -> None:
        while True:
            item = cloudq.get()
            if item is None:
                return
            task, cut, tensors = item
            rep.send("cloud_start", task, time.monotonic() - t0)
            runner.cloud(cut, tensors)
            rep.send("cloud_end", task, time.monotonic() - t0)
            with cond:
                if waiting:
                    waiting.popleft().set()  # the slot passes on, in blocking order
                else:
                    free[0] += 1

    threads = [threading.Thread(target=receiver, args=(s,), daemon=True)
               for s in socks.values()]
    threads += [threading.Thread(target=worker, daemon=True)
                for _ in range(int(cfg["cloud_workers"]))]
    for th in threads:
        th.start()
    while True:
        msg = conn.recv()
        if msg[0] == "stop":
            for s in socks.values():
                s.close()
            srv.close()
            return


# -- the coordinator -----------------------------------------------------------------------
_STAGES = {"edge_start": 2, "edge_end": 3, "tx_request": 4, "blocked": 5, "tx_start": 6,
           "tx_sent": 7, "tx_end": 8, "cloud_start": 9, "cloud_end": 10}
#: the stage a task must have reached before an event is applied (pipes from different
#: processes may deliver out of order)
_NEEDS = {"edge_start": 1, "edge_end": 2, "tx_request": 3, "blocked": 4, "tx_start": 4,
          "tx_sent": 6, "tx_end": 6, "cloud_start": 8, "cloud_end": 9}
_FIELDS = ("arrival_s", "decide_s", "edge_start_s", "edge_end_s", "tx_request_s",
           "tx_start_s", "tx_end_s", "cloud_start_s", "cloud_end_s", "done_s")


class _Mirror:
    """A `Simulator` whose state is set from the real system's reported events, so its
    own `_context` builds the decision context the policies read."""

    def __init__(self, sim: Any, arrivals: Sequence[np.ndarray], traces: Any,
                 edge_rows: Any) -> None:
        sim._setup(arrivals, traces, edge_rows)
        self.sim = sim
        self.n_tasks = sim.n_tasks
        self.stage = [0] * sim.n_tasks
        self.stash: dict[int, list[tuple[Any, ...]]] = {}
        self.times = {f: [math.nan] * sim.n_tasks for f in _FIELDS}
        self.times["arrival_s"] = list(sim._arr)
        self.compute_s = [math.nan] * sim.n_tasks
        self.blocked = [False] * sim.n_tasks
        self.n_done = 0

    def _arrive(self, now: float) -> None:
        s = self.sim
        for e in range(s.n_edges):
            while s._offset[e] + s._n_arrived[e] < s._offset[e + 1] and \
                    s._arr[s._offset[e] + s._n_arrived[e]] <= now:
                s._n_arrived[e] += 1
                s._waiting += 1
                s._in_system += 1

    def context(self, task: int, now: float) -> dict[str, Any]:
        s = self.sim
        e = s._edge_of[task]
        expected = s._offset[e] + s._next_start[e]
        if task != expected:
            raise RuntimeError(f"edge {e} asked for task {task}, expected {expected}")
        self._arrive(now)
        while s._n_arrived[e] <= s._next_start[e]:  # woke a hair before the schedule
            s._n_arrived[e] += 1
            s._waiting += 1
            s._in_system += 1
        s.now = max(now, s.now)
        s._pending = task
        return s._context(e)

    def start(self, task: int, cut: int, now: float) -> None:
        s = self.sim
        s._start(cut)
        self.stage[task] = 1
        self.times["decide_s"][task] = now

    def apply(self, kind: str, task: int, t: float, *extra: Any) -> None:
        if self.stage[task] < _NEEDS[kind]:
            self.stash.setdefault(task, []).append((kind, task, t, *extra))
            return
        self._apply(kind, task, t, *extra)
        self.stage[task] = max(self.stage[task], _STAGES[kind])
        pending = self.stash.pop(task, [])
        for ev in pending:
            self.apply(*ev)

    def _apply(self, kind: str, task: int, t: float, *extra: Any) -> None:
        s = self.sim
        link = s._edge_of[task]
        times = self.times
        if kind == "edge_start":
            times["edge_start_s"][task] = t
            s._es[task] = t
        elif kind == "edge_end":
            times["edge_end_s"][task] = t
            self.compute_s[task] = extra[0]
            s._ee[task] = t
            s._edge_busy[link] = -1
            s._busy_edges -= 1
            if s._offloads[s._cut[task]]:
                s._link_q[link].append(task)
            else:
                self._done(task, t)
        elif kind == "tx_request":
            times["tx_request_s"][task] = t
        elif kind == "blocked":
            self.blocked[task] = True
            s._link_blocked[link] = True
            s._blocked.append(link)
        elif kind == "tx_start":
            times["tx_start_s"][task] = t
            if s._link_blocked[link]:
                s._link_blocked[link] = False
                s._blocked.remove(link)
            s._link_q[link].remove(task)
            s._link_busy[link] = task
            s._slots += 1
            s._ls[task] = t
            if s._traces is None:
                s._le[task] = t + s._tx_s[s._cut[task]]
            else:
                s._le[task] = s._traces[link].finish(t, s.cuts.transfer_bytes[s._cut[task]])
        elif kind == "tx_sent":
            pass
        elif kind == "tx_end":
            times["tx_end_s"][task] = t
            s._link_busy[link] = -1
            s._observe_uplink(task, link, t)
            s._le[task] = t
            s._cloud_q.append(task)
        elif kind == "cloud_start":
            times["cloud_start_s"][task] = t
            s._cloud_q.remove(task)
            s._free_workers -= 1
            s._in_service.add(task)
            s._cs[task] = t
            s._ce[task] = t + s._cloud_s[s._cut[task]]
        elif kind == "cloud_end":
            times["cloud_end_s"][task] = t
            s._free_workers += 1
            s._slots -= 1
            s._in_service.discard(task)
            s._ce[task] = t
            self._done(task, t)

    def _done(self, task: int, t: float) -> None:
        self.times["done_s"][task] = t
        self.sim._in_system -= 1
        self.n_done += 1


@dataclass
class TestbedResult:
    """One testbed run: the real and the simulated timelines and their comparison."""

    __test__ = False

    conditions: dict[str, Any]
    policy: str
    profile: dict[str, Any]
    edge: np.ndarray
    frame: np.ndarray
    cut: np.ndarray
    measured: dict[str, np.ndarray]  # _FIELDS (+ blocked_s), [s] from the episode start
    simulated: dict[str, np.ndarray]
    measured_makespan_s: float
    simulated_makespan_s: float
    policy_in_simulator_makespan_s: float  # the same policy driving the simulator alone
    decision_latency_s: np.ndarray  # per task: request to reply, as the edge waited
    policy_s: np.ndarray  # per task: the policy's own time in the coordinator
    diagnostics: dict[str, Any]
    load: dict[str, Any]
    wall_s: float
    offloads: np.ndarray  # per cut: whether it sends anything (all but edge-only)

    @property
    def makespan_error(self) -> float:
        """(measured - simulated) / measured makespan."""
        return (self.measured_makespan_s - self.simulated_makespan_s) / \
            self.measured_makespan_s

    def latency_errors(self) -> np.ndarray:
        """Per task |measured - simulated| / measured latency (completion - arrival)."""
        m = self.measured["done_s"] - self.measured["arrival_s"]
        s = self.simulated["done_s"] - self.simulated["arrival_s"]
        return np.abs(m - s) / m

    def completion_errors(self) -> np.ndarray:
        """Per task |measured - simulated| / measured completion time (from t = 0)."""
        m, s = self.measured["done_s"], self.simulated["done_s"]
        return np.abs(m - s) / m

    def to_json(self) -> dict[str, Any]:
        """testbed.json's document."""
        def task_times(src: Mapping[str, np.ndarray], i: int) -> dict[str, float | None]:
            keys = ("arrival_s", "edge_start_s", "edge_end_s", "tx_start_s", "tx_end_s",
                    "cloud_start_s", "cloud_end_s", "done_s", "blocked_s")
            return {k: _num(src[k][i]) for k in keys}

        lat = self.latency_errors()
        tasks = [{"edge": int(self.edge[i]), "frame": int(self.frame[i]),
                  "cut": int(self.cut[i]), "measured": task_times(self.measured, i)
                  | {"decide_s": _num(self.measured["decide_s"][i]),
                     "tx_request_s": _num(self.measured["tx_request_s"][i]),
                     "decision_latency_s": _num(self.decision_latency_s[i]),
                     "edge_compute_s": _num(self.measured["edge_compute_s"][i])},
                  "simulated": task_times(self.simulated, i),
                  "latency_error": _num(lat[i])} for i in range(len(self.edge))]
        return {
            "format": "splitgym-testbed/1",
            "conditions": self.conditions, "policy": self.policy,
            "measured_makespan_s": self.measured_makespan_s,
            "simulated_makespan_s": self.simulated_makespan_s,
            "makespan_error": self.makespan_error,
            "policy_in_simulator_makespan_s": self.policy_in_simulator_makespan_s,
            "median_latency_error": float(np.median(lat)),
            "p90_latency_error": float(np.percentile(lat, 90)),
            "median_completion_error": float(np.median(self.completion_errors())),
            "decision_latency_s": _summary(self.decision_latency_s),
            "policy_s": _summary(self.policy_s),
            "diagnostics": self.diagnostics, "load": self.load, "wall_s": self.wall_s,
            "tasks": tasks, "profile": self.profile,
        }


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _summary(a: np.ndarray) -> dict[str, float | None]:
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    if not a.size:
        return {"median": None, "p90": None, "max": None, "mean": None}
    return {"median": float(np.median(a)), "p90": float(np.percentile(a, 90)),
            "max": float(a.max()), "mean": float(a.mean())}


# -- checks and setup ----------------------------------------------------------------------
def check_port(port: int) -> None:
    """Raise `PortInUseError` unless 127.0.0.1:`port` can be bound now (0: any port)."""
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise TestbedError(f"--port={port!r}: expected a port number in 0..65535 (0: the "
                           f"OS picks a free one)")
    if port == 0:
        return
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError as exc:
        raise PortInUseError(f"--port={port}: 127.0.0.1:{port} is in use ({exc.strerror}); "
                             f"choose another, or 0 to let the OS pick one") from None
    finally:
        s.close()


def measure_here(model: str, repeats: int = 20, warmup: int = 3) -> Any:
    """The profile of `model` measured on this machine with one torch thread (device
    ``host``), as the testbed's processes run it."""
    import torch

    from splitgym.profiles.measure import measure_profile

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return measure_profile(model, DEVICE, repeats=repeats, warmup=warmup,
                               progress=False,
                               description="measured here by splitgym testbed "
                                           "(1 torch thread)")
    finally:
        torch.set_num_threads(threads)


def _check_profile(profile: Any, model: str) -> str:
    """The device of a given profile to use for both sides; refuse one that is not
    this model's real graph (names and bytes) or has no single measured device."""
    from splitgym.profiles.models import build
    from splitgym.profiles.profiler import capture
    from splitgym.profiles.schema import ProfileError

    if profile.model != model:
        raise ProfileError(f"--profile: it profiles model {profile.model!r}, not "
                           f"--model={model!r}")
    device = DEVICE if DEVICE in profile.devices else profile.default_edge
    import torch

    module, shape = build(model)
    with torch.no_grad():
        _, layers = capture(module, torch.zeros(shape), count_flops=False)
    mine = [(la.name, la.output_bytes) for la in layers]
    theirs = [(la.name, la.output_bytes) for la in profile.layers]
    raw = math.prod(shape) * 4
    if mine != theirs or profile.input_bytes != raw:
        raise ProfileError(f"--profile: its layers or bytes (input {profile.input_bytes}) "
                           f"are not those of the real {model!r} graph here (input {raw} "
                           f"bytes); measure one with 'splitgym profile {model} --device "
                           f"host --threads 1 --out FILE.json'")
    return device


def build_env(env_kwargs: Mapping[str, Any], profile: Any, device: str,
              slowdown: float) -> Any:
    """The env of the testbed's conditions on `profile` (Python engine)."""
    from splitgym.envs.edge_cloud import EdgeCloudEnv

    kw = dict(env_kwargs)
    kw.pop("model", None)
    for key in ("edge_device", "cloud_device"):
        if kw.get(key) not in (None, device):
            raise TestbedError(f"{key}={kw[key]!r}: the testbed runs every part here "
                               f"(device {device!r} of the profile measured here)")
        kw.pop(key, None)
    env = EdgeCloudEnv(model=profile, edge_device=device, cloud_device=device,
                       engine="python", **kw)
    if env.sim_config.uplink != "per_edge":
        raise TestbedError("uplink='shared': the testbed emulates one uplink per edge only")
    if getattr(env, "transfer_encoding", "float32") != "float32":
        raise TestbedError(f"transfer_encoding={env.transfer_encoding!r}: the testbed sends "
                           f"the raw float32 tensors only")
    if env.sim_config.drop_late:
        raise TestbedError("drop_late=True: the testbed does not drop late frames")
    n = env.workload.n_edges
    if not 1 <= n <= MAX_EDGES:
        raise TestbedError(f"--n-edges={n}: the testbed starts one process per edge; "
                           f"expected 1..{MAX_EDGES}")
    if not (isinstance(slowdown, (int, float)) and 1.0 <= slowdown <= 1000.0):
        raise TestbedError(f"--edge-slowdown={slowdown!r}: expected a factor in 1..1000 "
                           f"(an edge device that many times slower than this machine)")
    speed = env._edge_speed
    if speed is not None:
        if any(s > 1.0 for s in speed):
            raise TestbedError(f"edge_speed={list(speed)!r}: an edge faster than this "
                               f"machine (speed > 1) cannot be emulated")
        speeds = [s / slowdown for s in speed]
    else:
        speeds = [1.0 / slowdown] * n if slowdown != 1.0 else None
    if speeds is not None:
        env = EdgeCloudEnv(model=profile, edge_device=device, cloud_device=device,
                           engine="python", **{**kw, "edge_speed": speeds})
    return env


def check_policy(spec: str, env: Any) -> None:
    """A fixed cut out of range, or a cut that sends at rate 0, refused by name."""
    from .evaluate import parse_policy

    if spec.startswith("agent:") or spec == "learned":
        return
    name, kw = parse_policy(spec)
    table = env.cut_table
    k = table.n_cuts
    cut = {"fixed": kw.get("cut"), "cloud_only": 0}.get(name)
    if cut is not None and cut >= k:
        raise TestbedError(f"--policy={spec}: cut {cut} is out of range; {env.profile.model} "
                           f"has cuts 0..{k - 1} (K-1 = {k - 1} is edge-only)")
    if cut is not None and table.offloads[cut] and env.sim_config.bandwidth_mbps <= 0:
        from splitgym.envs.core.traces import is_constant_spec

        if is_constant_spec(env._bw_spec):
            raise TestbedError(f"--policy={spec}: cut {cut} sends "
                               f"{int(table.transfer_bytes[cut])} bytes, but the uplink rate "
                               f"is 0 Mbit/s (only edge-only, cut {k - 1}, can run)")


def _precheck_cut(policy: str, model: str, env_kwargs: Mapping[str, Any]) -> None:
    """A chain's cuts are its N + 1 prefixes whatever the costs: refuse a fixed cut out
    of range, or one that sends at a constant rate of 0, before the profile is measured
    (`check_policy` checks every model again on the measured cut table)."""
    from splitgym.envs.core.config import parse_bandwidth_mbps
    from splitgym.profiles.schema import load_profile

    from .evaluate import parse_policy

    if policy.startswith("agent:") or policy == "learned" or env_kwargs.get("scenario"):
        return
    name, kw = parse_policy(policy)
    cut = {"fixed": kw.get("cut"), "cloud_only": 0}.get(name)
    shipped = load_profile(model)
    if cut is None or not shipped.is_chain:
        return
    k = shipped.n_layers + 1
    if cut >= k:
        raise TestbedError(f"--policy={policy}: cut {cut} is out of range; {model} has cuts "
                           f"0..{k - 1} (K-1 = {k - 1} is edge-only)")
    bw = env_kwargs.get("bandwidth_mbps", 5.85)
    try:
        rate = parse_bandwidth_mbps(bw)
    except (ConfigError, TypeError, ValueError):
        return  # a trace: checked on the env
    if rate <= 0 and cut < k - 1:
        raise TestbedError(f"--policy={policy}: cut {cut} sends its tensor, but the uplink "
                           f"rate is 0 Mbit/s (only edge-only, cut {k - 1}, can run)")


# -- one run ---------------------------------------------------------------------------------
def run_testbed(env_kwargs: Mapping[str, Any], policy: str = "single_cut", seed: int = 0,
                profile: Any = None, profile_repeats: int = 20, slowdown: float = 1.0,
                port: int = 0, trust: bool = False, chunk_bytes: int = CHUNK_BYTES,
                timeout_s: float | None = None, start_timeout_s: float = 180.0,
                progress: Any = None) -> TestbedResult:
    """Run one episode on the real testbed and in the simulator; see the module doc.

    `env_kwargs` are the env's condition arguments (``model`` one of `TESTBED_MODELS`);
    `policy` a name `splitgym evaluate` takes (``fixed:<cut>``, ``learned``,
    ``agent:<path>``); `profile` a profile measured here (None: measure it now with
    `profile_repeats`). Every check runs before any process starts.
    """
    from splitgym.profiles.schema import load_profile

    from .evaluate import build_policy

    say = progress or (lambda _msg: None)
    wall0 = time.monotonic()
    model = str(env_kwargs.get("model", "alexnet"))
    if model not in TESTBED_MODELS:
        raise TestbedError(f"--model={model!r}: the testbed runs the torch models of "
                           f"splitgym.profiles.models: {list(TESTBED_MODELS)}")
    check_port(port)
    if not isinstance(chunk_bytes, int) or chunk_bytes < 1:
        raise TestbedError(f"chunk_bytes={chunk_bytes!r}: expected a whole number >= 1")
    _precheck_cut(policy, model, env_kwargs)
    if profile is None:
        say(f"measuring the {model} profile here (1 torch thread, {profile_repeats} "
            f"repeats)")
        profile = measure_here(model, profile_repeats)
        device = DEVICE
    else:
        profile = load_profile(profile)
        device = _check_profile(profile, model)
    env = build_env(env_kwargs, profile, device, slowdown)
    check_policy(policy, env)
    pol = build_policy(policy, {**env_kwargs, "model": model}, trust)
    if hasattr(pol, "check_env"):
        pol.check_env(env)
    # the episode: arrivals and rate traces from the env's own generator and seed
    from splitgym.envs import rollout

    sim_alone = rollout(env, pol, seed=seed)  # the policy driving the simulator alone
    env.reset(seed=seed)
    inputs = env.simulator.episode_inputs()
    if hasattr(pol, "on_episode_start"):
        pol.on_episode_start(env)
    arrivals = [np.asarray(a, dtype=np.float64) for a in inputs["arrivals"]]
    traces, edge_rows = inputs["link_traces"], inputs["edge_s"]
    table = env.cut_table
    n_edges = len(arrivals)
    from splitgym.envs.core.traces import constant

    link_traces = traces if traces is not None else \
        [constant(env.sim_config.bandwidth_mbps)] * n_edges
    # each edge's slowdown against this machine: its edge-only time over the profile's
    slow = [float(edge_rows[e][-1] / table.edge_s[-1]) for e in range(n_edges)] \
        if edge_rows is not None and table.edge_s[-1] > 0 else [1.0] * n_edges
    if timeout_s is None:
        timeout_s = 60.0 + 20.0 * float(sim_alone.metrics["makespan_s"])
    from splitgym.envs.core.simulator import Simulator

    mirror = _Mirror(Simulator(table, env.sim_config), arrivals, traces, edge_rows)
    cut_layers = [list(c.edge_layers) for c in table.cuts]
    warm = sorted(set(int(c) for c in sim_alone.actions) | {0, table.n_cuts - 1}
                  | ({int(pol.cut)} if getattr(pol, "cut", None) is not None else set()))
    common = {"model": model, "model_seed": 0, "cut_layers": cut_layers, "warm_cuts": warm}
    load_before = os.getloadavg()
    result = _run_processes(common, env, pol, mirror, arrivals, link_traces, slow, port,
                            chunk_bytes, timeout_s, start_timeout_s, say)
    decision_latency, policy_s, cuts = result
    load_after = os.getloadavg()
    # the same episode in the simulator: same arrivals, cuts, traces and fleet
    sim = Simulator(table, env.sim_config)
    metrics = sim.run_plan(arrivals, [int(c) for c in cuts], link_traces=traces,
                           edge_s=edge_rows)
    rec = sim.records()
    meas = {f: np.asarray(mirror.times[f], dtype=np.float64) for f in _FIELDS}
    meas["edge_compute_s"] = np.asarray(mirror.compute_s, dtype=np.float64)
    simd = {"arrival_s": rec.arrival_s, "edge_start_s": rec.edge_start_s,
            "edge_end_s": rec.edge_end_s, "tx_start_s": rec.link_start_s,
            "tx_end_s": rec.link_end_s, "cloud_start_s": rec.cloud_start_s,
            "cloud_end_s": rec.cloud_end_s, "done_s": rec.completion_s}
    edge_of = rec.edge
    # blocked: the real cloud told us (a request that found no free slot), from the
    # request to the grant; the rest of a link's wait is the hand-off (a diagnostic)
    blocked = np.asarray(mirror.blocked)
    meas["blocked_s"] = np.where(blocked, meas["tx_start_s"] - meas["tx_request_s"],
                                 np.where(np.isfinite(meas["tx_start_s"]), 0.0, np.nan))
    handoff = _blocked_s(meas["edge_end_s"], meas["tx_start_s"], meas["tx_end_s"], edge_of)
    simd["blocked_s"] = _blocked_s(simd["edge_end_s"], simd["tx_start_s"],
                                   simd["tx_end_s"], edge_of)
    diag = _diagnostics(meas, simd, rec, table, cuts, link_traces, slow)
    free = ~blocked & np.isfinite(handoff)
    diag["link_handoff_ms_median"] = float(np.median(1e3 * handoff[free])) if free.any() \
        else None
    replay = replay_measured(meas, rec.edge, arrivals, profile, env.sim_config)
    diag["replay_makespan_s"] = float(np.nanmax(replay))
    lat_m = meas["done_s"] - meas["arrival_s"]
    diag["replay_median_latency_error"] = float(np.median(
        np.abs(lat_m - (replay - meas["arrival_s"])) / lat_m))
    conditions = _conditions(env, seed, slowdown, chunk_bytes)
    return TestbedResult(
        conditions=conditions, policy=policy, profile=profile.to_dict(), edge=rec.edge,
        frame=rec.frame, cut=np.asarray(cuts, dtype=np.int64), measured=meas,
        simulated=simd, measured_makespan_s=float(np.nanmax(meas["done_s"])),
        simulated_makespan_s=float(metrics["makespan_s"]),
        policy_in_simulator_makespan_s=float(sim_alone.metrics["makespan_s"]),
        decision_latency_s=decision_latency, policy_s=policy_s, diagnostics=diag,
        load={"loadavg_before": list(load_before), "loadavg_after": list(load_after),
              "cpu_count": os.cpu_count()},
        wall_s=time.monotonic() - wall0, offloads=np.asarray(table.offloads, dtype=bool))


def replay_measured(meas: Mapping[str, np.ndarray], edge_of: np.ndarray,
                    arrivals: Sequence[np.ndarray], profile: Any, config: Any) -> np.ndarray:
    """Each task's completion [s] in the simulator given the *measured* service times:
    its edge occupancy (from its start, the later of its arrival and its edge's previous
    end, to its edge end: decision latency and the compute as it ran), its transfer
    (grant to last byte received) and its cloud compute. Each task gets a cut of its
    own in a synthetic cut table carrying those times (edge-only tasks share the last
    cut, at their edge's median), so the model's queueing (FIFO edges and links, C
    slots held from transfer start to cloud end, blocking, FIFO workers) is all that
    differs from the real run: what is left of the error is the structure's, not the
    profile's."""
    from splitgym.envs.core.simulator import Simulator
    from splitgym.profiles.cuts import Cut, CutTable

    n = len(edge_of)
    n_edges = len(arrivals)
    mbps = 1000.0
    off = np.isfinite(meas["tx_start_s"])
    occupancy = np.zeros(n)
    for e in range(n_edges):
        prev = -math.inf
        for i in np.flatnonzero(edge_of == e):
            start = max(meas["arrival_s"][i], prev)
            occupancy[i] = max(0.0, meas["edge_end_s"][i] - start)
            prev = meas["edge_end_s"][i]
    cuts = []
    for i in range(n):
        if off[i]:
            tx = max(0.0, meas["tx_end_s"][i] - meas["tx_start_s"][i])
            cuts.append(Cut(edge_layers=(), edge_s=0.0,
                            transfer_bytes=max(1, round(tx * mbps * 1e6 / 8.0)),
                            cloud_s=max(0.0, meas["cloud_end_s"][i] - meas["cloud_start_s"][i]),
                            offloads=True))
    cuts.append(Cut(edge_layers=(), edge_s=0.0, transfer_bytes=0, cloud_s=0.0,
                    offloads=False))
    k = len(cuts)
    index = np.cumsum(off) - 1
    plan = [int(index[i]) if off[i] else k - 1 for i in range(n)]
    rows = []
    for e in range(n_edges):
        mine = edge_of == e
        local = occupancy[mine & ~off]
        row = [0.0] * k
        row[-1] = float(np.median(local)) if local.size else 0.0
        for i in np.flatnonzero(mine & off):
            row[plan[i]] = float(occupancy[i])
        rows.append(row)
    table = CutTable(profile, DEVICE if DEVICE in profile.devices else profile.default_edge,
                     DEVICE if DEVICE in profile.devices else profile.default_cloud, cuts,
                     kind="chain")
    from dataclasses import replace

    sim = Simulator(table, replace(config, bandwidth_mbps=mbps))
    sim.run_plan(arrivals, plan, edge_s=rows)
    return sim.records().completion_s


def _conditions(env: Any, seed: int, slowdown: float, chunk: int) -> dict[str, Any]:
    sim, work = env.sim_config, env.workload
    return {"model": env.profile.model, "bandwidth_mbps": sim.bandwidth_mbps,
            "bandwidth_spec": env._bw_spec if not isinstance(env._bw_spec, Path)
            else str(env._bw_spec),
            "n_edges": work.n_edges, "frames_per_edge": work.frames_per_edge,
            "queue_capacity": sim.queue_capacity, "cloud_workers": sim.cloud_workers,
            "scenario": env.scenario, "seed": seed, "edge_slowdown": slowdown,
            "chunk_bytes": chunk, "n_cuts": env.cut_table.n_cuts}


def _blocked_s(edge_end: np.ndarray, tx_start: np.ndarray, tx_end: np.ndarray,
               edge_of: np.ndarray) -> np.ndarray:
    """Per task: the time its link, free and holding it at its head, waited for a
    cloud slot: tx_start - max(edge_end, the link's previous tx_end)."""
    out = np.full(edge_end.size, np.nan)
    for e in np.unique(edge_of):
        prev = -math.inf
        for i in np.flatnonzero(edge_of == e):
            if not math.isfinite(tx_start[i]):
                continue
            out[i] = max(0.0, tx_start[i] - max(edge_end[i], prev))
            prev = tx_end[i]
    return out


def _diagnostics(meas: Mapping[str, np.ndarray], simd: Mapping[str, np.ndarray], rec: Any,
                 table: Any, cuts: Sequence[int], traces: Sequence[Any],
                 slow: Sequence[float]) -> dict[str, Any]:
    """Where the real system departs from the model, term by term (medians)."""
    cuts = np.asarray(cuts)
    edge_s = np.asarray([table.edge_s[c] * slow[e] for c, e in zip(cuts, rec.edge,
                                                                   strict=True)])
    edge_real = meas["edge_end_s"] - meas["edge_start_s"]
    cloud_s = table.cloud_s[cuts]
    cloud_real = meas["cloud_end_s"] - meas["cloud_start_s"]
    off = table.offloads[cuts]
    tx_model = np.array([traces[e].finish(meas["tx_start_s"][i], table.transfer_bytes[c])
                         - meas["tx_start_s"][i] if off[i] else np.nan
                         for i, (c, e) in enumerate(zip(cuts, rec.edge, strict=True))])
    tx_real = meas["tx_end_s"] - meas["tx_start_s"]
    # an edge that is free when a frame arrives should start it at once: the wake-up lag
    wake = []
    for e in np.unique(rec.edge):
        prev = -math.inf
        for i in np.flatnonzero(rec.edge == e):
            ready = max(meas["arrival_s"][i], prev)
            wake.append(meas["decide_s"][i] - ready)
            prev = meas["edge_end_s"][i]

    def med(a: np.ndarray) -> float | None:
        a = np.asarray(a, dtype=np.float64)
        a = a[np.isfinite(a)]
        return float(np.median(a)) if a.size else None

    pos = edge_s > 0
    return {
        "edge_stretch_median": med(edge_real[pos] / edge_s[pos]),
        "edge_extra_ms_median": med(1e3 * (edge_real - edge_s)),
        "cloud_stretch_median": med(cloud_real[off] / cloud_s[off]) if off.any() else None,
        "cloud_extra_ms_median": med(1e3 * (cloud_real - cloud_s)[off]) if off.any()
        else None,
        "tx_overhead_ms_median": med(1e3 * (tx_real - tx_model)),
        "arrival_to_decision_ms_median": med(1e3 * np.asarray(wake)),
        "decision_to_edge_start_ms_median": med(1e3 * (meas["edge_start_s"]
                                                       - meas["decide_s"])),
        "tx_end_to_cloud_start_queue_ms_median_measured": med(
            1e3 * (meas["cloud_start_s"] - meas["tx_end_s"])[off]) if off.any() else None,
        "tx_end_to_cloud_start_queue_ms_median_simulated": med(
            1e3 * (simd["cloud_start_s"] - simd["tx_end_s"])[off]) if off.any() else None,
        "blocked_tasks_measured": int(np.sum(meas["blocked_s"] > 0)),
        "blocked_tasks_simulated": int(np.sum(simd["blocked_s"] > 1e-9)),
        "blocked_total_s_measured": float(np.nansum(meas["blocked_s"])),
        "blocked_total_s_simulated": float(np.nansum(simd["blocked_s"])),
    }


def _run_processes(common: dict[str, Any], env: Any, pol: Any, mirror: _Mirror,
                   arrivals: Sequence[np.ndarray], traces: Sequence[Any],
                   slow: Sequence[float], port: int, chunk: int, timeout_s: float,
                   start_timeout_s: float, say: Any) -> tuple[np.ndarray, np.ndarray,
                                                              list[int]]:
    """Start the cloud and the edges, run the episode, stop everything (always)."""
    from multiprocessing.connection import wait

    from splitgym.envs.core.simulator import InvalidActionError, check_cut

    ctx = _mp_context()
    n_edges = len(arrivals)
    procs: list[Any] = []
    conns: list[Any] = []
    sim = mirror.sim
    n_tasks = sim.n_tasks
    decision_latency = np.full(n_tasks, np.nan)
    policy_s = np.full(n_tasks, np.nan)
    req_at = np.full(n_tasks, np.nan)
    cuts = [-1] * n_tasks
    cfg_cloud = {**common, "port": port, "n_edges": n_edges,
                 "queue_capacity": env.sim_config.queue_capacity,
                 "cloud_workers": env.sim_config.cloud_workers}
    try:
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_cloud_main, args=(cfg_cloud, child), daemon=True,
                        name="splitgym-testbed-cloud")
        say(f"starting the cloud and {n_edges} edge processes")
        p.start()
        child.close()
        procs.append(p)
        conns.append(parent)
        msg = _expect(parent, p, ("listening", "port_error"), start_timeout_s, "cloud")
        if msg[0] == "port_error":
            raise PortInUseError(f"--port={port}: the cloud could not bind 127.0.0.1:"
                                 f"{port} ({msg[1]})")
        bound = int(msg[1])
        for e in range(n_edges):
            tr = traces[e]
            cfg = {**common, "edge": e, "port": bound, "arrivals": arrivals[e].tolist(),
                   "task_offset": sim._offset[e], "slowdown": slow[e], "chunk_bytes": chunk,
                   "trace": (tr.times_s.tolist(), tr.rates_mbps.tolist(), tr.period_s)}
            parent_e, child_e = ctx.Pipe()
            pe = ctx.Process(target=_edge_main, args=(cfg, child_e), daemon=True,
                             name=f"splitgym-testbed-edge{e}")
            pe.start()
            child_e.close()
            procs.append(pe)
            conns.append(parent_e)
        for i in range(1, n_edges + 1):
            _expect(conns[i], procs[i], ("ready",), start_timeout_s, f"edge {i - 1}")
        _expect(conns[0], procs[0], ("ready",), start_timeout_s, "cloud")
        t0 = time.monotonic() + 0.05
        for c in conns:
            c.send(("start", t0))
        say("running the episode")
        deadline = time.monotonic() + timeout_s
        obs_buf = None
        while mirror.n_done < n_tasks:
            if time.monotonic() > deadline:
                raise TestbedError(f"the run did not finish in {timeout_s:.0f} s "
                                   f"({mirror.n_done}/{n_tasks} tasks done)")
            ready = wait(conns, timeout=0.5)
            if not ready:
                dead = [q for q in procs if q.exitcode is not None]
                if dead:
                    raise TestbedError(f"process {dead[0].name} ended early (exit code "
                                       f"{dead[0].exitcode})")
                continue
            for c in ready:
                try:
                    msg = c.recv()
                except EOFError:
                    raise TestbedError(f"process {procs[conns.index(c)].name} ended "
                                       f"early") from None
                kind = msg[0]
                if kind == "error":
                    raise TestbedError(f"a testbed process failed: {msg[1]}")
                if kind == "decide":
                    task, t_req = int(msg[1]), float(msg[2])
                    now = time.monotonic() - t0
                    t_pol = time.perf_counter()
                    dctx = mirror.context(task, now)
                    obs_buf = env.observation_of(dctx)
                    info = {"action_mask": dctx["mask"].astype(np.int8), "decision": dctx}
                    try:
                        cut = check_cut(pol(obs_buf, info), dctx["mask"],
                                        dctx["bandwidth_mbps"])
                    except InvalidActionError as exc:
                        raise TestbedError(f"policy {getattr(pol, 'name', pol)!r} chose an "
                                           f"infeasible cut for task {task}: {exc}") from None
                    policy_s[task] = time.perf_counter() - t_pol
                    mirror.start(task, cut, now)
                    cuts[task] = cut
                    req_at[task] = t_req
                    c.send(("cut", task, cut))
                elif kind in _STAGES:
                    task = int(msg[1])
                    if kind == "edge_start":
                        decision_latency[task] = float(msg[2]) - req_at[task]
                    mirror.apply(kind, task, float(msg[2]), *msg[3:])
        for c in conns:
            c.send(("stop",))
        end = time.monotonic() + 2.0  # a clean exit if quick; `_stop` ends the rest
        for q in procs:
            q.join(timeout=max(0.0, end - time.monotonic()))
    finally:
        _stop(procs, conns)
    # the decision as the edge saw it: request to start (includes the reply's transit)
    mirror.times["decide_s"] = list(req_at)
    return decision_latency, policy_s, cuts


def _mp_context() -> Any:
    """How the children start: from a fork server that has imported torch and this
    module once (each child then forks from it: no torch import per process, a few
    seconds each on a busy 2-core machine; the server is reused by later runs of the
    same process, and ends with it). Spawn where there is no fork server (not POSIX).
    A child never inherits the coordinator's own state (torch's threads, the policy)."""
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():  # pragma: no cover - Windows
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "torch.fx", "splitgym.experiments.testbed",
                                "splitgym.profiles.models", "splitgym.profiles.profiler"])
    return ctx


def _expect(conn: Any, proc: Any, kinds: tuple[str, ...], timeout_s: float,
            who: str) -> tuple[Any, ...]:
    end = time.monotonic() + timeout_s
    while True:
        left = end - time.monotonic()
        if left <= 0:
            raise TestbedError(f"the {who} process did not start in {timeout_s:.0f} s")
        if conn.poll(min(left, 0.5)):
            try:
                msg = conn.recv()
            except EOFError:
                raise TestbedError(f"the {who} process ended while starting (exit code "
                                   f"{proc.exitcode})") from None
            if msg[0] == "error":
                raise TestbedError(f"the {who} process failed: {msg[1]}")
            if msg[0] in kinds:
                return msg
        elif proc.exitcode is not None:
            raise TestbedError(f"the {who} process ended while starting (exit code "
                               f"{proc.exitcode})")


def _stop(procs: Sequence[Any], conns: Sequence[Any]) -> None:
    """End every child: a polite stop was sent already where the run finished; then
    SIGTERM, then SIGKILL, each waited for."""
    for q in procs:
        if q.is_alive():
            q.terminate()
    for q in procs:
        q.join(timeout=3)
        if q.is_alive():
            q.kill()
            q.join(timeout=3)
    for c in conns:
        c.close()


# -- reporting ----------------------------------------------------------------------------------
def format_report(res: TestbedResult, per_task: bool = True) -> str:
    """The printed report: conditions, makespans and errors, per task, diagnostics."""
    c = res.conditions
    lat = res.latency_errors()
    lines = [f"testbed: model={c['model']} bandwidth={c['bandwidth_mbps']:g} Mbit/s "
             f"edges={c['n_edges']} frames/edge={c['frames_per_edge']} "
             f"C={c['queue_capacity']} cloud_workers={c['cloud_workers']} "
             f"policy={res.policy} seed={c['seed']} edge_slowdown={c['edge_slowdown']:g}"
             + (f" scenario={c['scenario']}" if c["scenario"] else "")]
    prof = res.profile
    whole = sum(la["latency_ms"].get(DEVICE, next(iter(la["latency_ms"].values())))
                for la in prof["layers"])
    lines.append(f"profile: {prof['model']} measured on this machine, 1 torch thread: "
                 f"whole model {whole:.2f} ms")
    if per_task:
        lines.append("")
        lines.append(f"{'edge':>4} {'frame':>5} {'cut':>4} {'arrival_s':>9} "
                     f"{'done_meas_s':>11} {'done_sim_s':>10} {'lat_err':>8} "
                     f"{'blocked_ms':>10}")
        for i in range(len(res.edge)):
            lines.append(f"{res.edge[i]:>4} {res.frame[i]:>5} {res.cut[i]:>4} "
                         f"{res.measured['arrival_s'][i]:>9.3f} "
                         f"{res.measured['done_s'][i]:>11.3f} "
                         f"{res.simulated['done_s'][i]:>10.3f} {lat[i]:>+8.1%} "
                         f"{1e3 * np.nan_to_num(res.measured['blocked_s'][i]):>10.1f}")
        lines.append("")
    d = res.diagnostics
    dl = _summary(res.decision_latency_s)
    ps = _summary(res.policy_s)
    lines += [
        f"makespan: measured {res.measured_makespan_s:.3f} s, simulated "
        f"{res.simulated_makespan_s:.3f} s, error {res.makespan_error:+.1%} (of measured)",
        f"per-task latency error |meas - sim| / meas: median {np.median(lat):.1%}, p90 "
        f"{np.percentile(lat, 90):.1%}, max {lat.max():.1%}; completion-time error median "
        f"{np.median(res.completion_errors()):.1%}",
        f"decision latency (edge's request to its start): median "
        f"{1e3 * (dl['median'] or 0):.2f} ms, max {1e3 * (dl['max'] or 0):.2f} ms; the "
        f"policy's own share: median {1e3 * (ps['median'] or 0):.3f} ms (the model "
        f"assumes 0)",
        f"blocked on a full cloud queue: measured {d['blocked_tasks_measured']} tasks, "
        f"{d['blocked_total_s_measured']:.3f} s; simulated {d['blocked_tasks_simulated']} "
        f"tasks, {d['blocked_total_s_simulated']:.3f} s",
        "model terms, real / model (medians): edge compute x"
        + _fmt(d["edge_stretch_median"]) + ", cloud compute x"
        + _fmt(d["cloud_stretch_median"]) + ", transfer overhead "
        + _fmt(d["tx_overhead_ms_median"], "ms") + ", arrival-to-decision lag "
        + _fmt(d["arrival_to_decision_ms_median"], "ms"),
        f"the simulator replaying the measured service times (edge occupancy, transfer, "
        f"cloud compute per task): makespan {d['replay_makespan_s']:.3f} s, median task "
        f"error {d['replay_median_latency_error']:.1%} (what the queueing model alone "
        f"misses)",
        f"the policy alone in the simulator: makespan {res.policy_in_simulator_makespan_s:.3f}"
        f" s",
        f"load average {res.load['loadavg_before'][0]:.2f} before, "
        f"{res.load['loadavg_after'][0]:.2f} after, on {res.load['cpu_count']} CPUs; "
        f"{res.wall_s:.1f} s wall",
    ]
    return "\n".join(lines)


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" + (f" {unit}" if unit else "")


def write_json(res: TestbedResult, out_dir: str | Path) -> Path:
    """``out_dir/testbed.json``, written atomically."""
    from splitgym.fileio import write_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "testbed.json"
    write_atomic(path, json.dumps(res.to_json(), indent=1) + "\n")
    return path


def records_of(res: TestbedResult, which: str) -> Any:
    """The measured or simulated timeline as `TaskRecords` (for `splitgym.envs.render`)."""
    from splitgym.envs.core.simulator import TaskRecords

    src = res.measured if which == "measured" else res.simulated
    n = len(res.edge)
    return TaskRecords(edge=res.edge, frame=res.frame, arrival_s=src["arrival_s"],
                       cut=res.cut, edge_start_s=src["edge_start_s"],
                       edge_end_s=src["edge_end_s"], link_start_s=src["tx_start_s"],
                       link_end_s=src["tx_end_s"], cloud_start_s=src["cloud_start_s"],
                       cloud_end_s=src["cloud_end_s"], completion_s=src["done_s"],
                       dropped=np.zeros(n, dtype=bool))


def timeline_png(res: TestbedResult, path: str | Path) -> Path:
    """The real and the simulated Gantt charts, one above the other, on one time axis."""
    from splitgym.envs.render import Snapshot, save_timelines

    c = res.conditions
    offloads = np.asarray(res.offloads, dtype=bool)
    setting = (f"{c['model']}, {c['bandwidth_mbps']:g} Mbit/s, C = {c['queue_capacity']}, "
               f"{c['cloud_workers']} server(s), policy {res.policy}:")
    panels = []
    for name, which, mk in (("measured (real processes and sockets)", "measured",
                             res.measured_makespan_s),
                            ("simulated (same arrivals and cuts)", "simulated",
                             res.simulated_makespan_s)):
        panels.append((name, Snapshot(records=records_of(res, which), now=mk,
                                      n_edges=int(c["n_edges"]), shared_link=False,
                                      queue_capacity=int(c["queue_capacity"]),
                                      cloud_workers=int(c["cloud_workers"]),
                                      offloads=offloads, setting=setting)))
    return save_timelines(panels, path, title=f"{setting.rstrip(':')}: the real testbed "
                                              f"and the simulator, one episode")



def main_cli(args: Any, env_kwargs: Mapping[str, Any]) -> int:
    """``splitgym testbed``: check everything, run, print, write what was asked."""
    import sys

    from .outdir import check_file_writable

    for name, value in (("--n-edges", args.n_edges), ("--frames", args.frames),
                        ("--profile-repeats", args.profile_repeats)):
        if value < 1:
            raise TestbedError(f"{name}={value}: expected a whole number >= 1")
    if args.timeline:
        check_file_writable(args.timeline, "--timeline")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise TestbedError(f"--out={args.out!r}: exists and is not a folder")
    policy = f"agent:{args.agent}" if args.agent else args.policy
    try:
        res = run_testbed(env_kwargs, policy=policy, seed=args.seed, profile=args.profile,
                          profile_repeats=args.profile_repeats, slowdown=args.edge_slowdown,
                          port=args.port, trust=args.trust_agent,
                          progress=lambda m: print(f"[testbed] {m}", file=sys.stderr,
                                                   flush=True))
    except KeyboardInterrupt:
        print("splitgym testbed: interrupted; every process it started has ended",
              file=sys.stderr)
        return 130
    print(format_report(res, per_task=not args.no_per_task))
    if args.out:
        print(f"wrote {write_json(res, args.out)}")
    if args.timeline:
        print(f"wrote {timeline_png(res, args.timeline)}")
    return 0
