"""Pictures of an episode: a text snapshot and a Gantt timeline.

`EdgeCloudEnv.render` (``render_mode="ansi"`` or ``"rgb_array"``) and ``splitgym
evaluate --timeline`` draw from a `Snapshot`: the episode's per-task records (the same
on both engines) at a time ``now``, plus the shape of the system. Everything shown is
derived from the records, so a hand-built `Snapshot` draws as well as a live env:

* an edge runs the task with ``edge_start <= now < edge_end``; its queue holds the
  frames that have arrived and not started (nor been dropped);
* a link sends the task with ``link_start <= now < link_end``; a task whose edge part
  is done and whose transfer has not started waits for its link; a link that is idle
  while a task waits for it is *blocked* (the cloud queue is full: the model holds the
  task at the head of its link until a slot frees);
* the cloud queue holds every task from its transfer start to its cloud end (its
  capacity C counts these); servers run tasks ``cloud_start <= now < cloud_end``, each
  task on the lowest-numbered server free at its start (FIFO servers are
  interchangeable, so this is a faithful lane assignment).

The timeline draws, up to ``now``, one lane per edge, per link and per cloud server;
bars are coloured by cut (blue: cloud-only, through to red: edge-only), and a link's blocked
spells are hatched red. Matplotlib draws on its Agg canvas, no display needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .core.simulator import TaskRecords

#: Width [in] and dots per inch of an rgb_array frame; its height grows with the lanes.
FRAME_WIDTH_IN, FRAME_DPI = 10.0, 80


@dataclass(frozen=True)
class Snapshot:
    """What a picture of an episode needs: records at time `now` and the system's
    shape."""

    records: TaskRecords
    now: float  # [s] the snapshot's time: the pending decision's, or the makespan
    n_edges: int
    shared_link: bool  # one uplink for all edges (else one per edge)
    queue_capacity: int
    cloud_workers: int
    offloads: np.ndarray  # bool per cut: whether the cut sends anything to the cloud
    setting: str = ""  # model, bandwidth, ...: shown in titles
    pending: tuple[int, int] | None = None  # (edge, frame) awaiting its cut

    @property
    def n_cuts(self) -> int:
        """K, the number of candidate cuts."""
        return len(self.offloads)

    @property
    def title(self) -> str:
        """The setting, the time and how many tasks have their cut."""
        decided = int(np.count_nonzero(self.records.cut >= 0))
        return (f"{self.setting}  t = {self.now:.3f} s  decided {decided}/"
                f"{self.records.edge.size}").strip()

    @property
    def n_links(self) -> int:
        """Uplinks: one, shared, or one per edge."""
        return 1 if self.shared_link else self.n_edges

    def link_of(self) -> np.ndarray:
        """Each task's uplink index."""
        return np.zeros_like(self.records.edge) if self.shared_link else self.records.edge


def snapshot_of(env: Any) -> Snapshot:
    """The snapshot of an `EdgeCloudEnv`'s current episode (either engine)."""
    engine = env._engine
    if engine is None:
        raise RuntimeError("render() needs an episode: call reset() first")
    rec = env.records()
    config = engine.config
    ctx = env._ctx
    if ctx is not None:
        now = float(ctx["time_s"])
        pending: tuple[int, int] | None = (int(ctx["edge"]), int(ctx["frame"]))
    else:  # the episode is over: its makespan (0 when every frame was dropped)
        done = rec.completion_s[np.isfinite(rec.completion_s)]
        now, pending = float(done.max()) if done.size else 0.0, None
    setting = (f"{env.profile.model}, {config.bandwidth_mbps:g} Mbit/s, C = "
               f"{config.queue_capacity}, {config.cloud_workers} server(s):")
    return Snapshot(records=rec, now=now, n_edges=int(rec.edge.max()) + 1 if rec.edge.size
                    else 0, shared_link=config.uplink == "shared",
                    queue_capacity=config.queue_capacity, cloud_workers=config.cloud_workers,
                    offloads=np.asarray(env.cut_table.offloads, dtype=bool), setting=setting,
                    pending=pending)


# -- the state at `now` ------------------------------------------------------------------
def _started(t: np.ndarray, now: float) -> np.ndarray:
    return np.isfinite(t) & (t <= now)


def _running(start: np.ndarray, end: np.ndarray, now: float) -> np.ndarray:
    return _started(start, now) & ~(end <= now)


def server_lanes(snap: Snapshot) -> np.ndarray:
    """Each task's cloud server (-1 if it never reached one): lowest free at its start."""
    r = snap.records
    lane = np.full(r.edge.size, -1, dtype=np.int64)
    free_at = [-math.inf] * max(snap.cloud_workers, 1)
    started = np.flatnonzero(np.isfinite(r.cloud_start_s))
    for task in started[np.argsort(r.cloud_start_s[started], kind="stable")]:
        start = r.cloud_start_s[task]
        k = next((i for i, f in enumerate(free_at) if f <= start),
                 int(np.argmin(free_at)))
        lane[task] = k
        end = r.cloud_end_s[task]
        free_at[k] = end if np.isfinite(end) else math.inf
    return lane


def blocked_spells(snap: Snapshot) -> list[list[tuple[float, float]]]:
    """Per link, the ``(start, end)`` spells up to `now` in which it was idle while a
    task whose edge part was done waited for it (the cloud queue was full)."""
    r, now = snap.records, snap.now
    links = snap.link_of()
    out: list[list[tuple[float, float]]] = []
    for link in range(snap.n_links):
        on = np.flatnonzero((links == link) & (r.cut >= 0) & _started(r.edge_end_s, now))
        on = on[snap.offloads[r.cut[on]]]
        sent = on[_started(r.link_start_s[on], now)]
        sent = sent[np.argsort(r.link_start_s[sent], kind="stable")]
        spells, prev_end = [], -math.inf
        for task in sent:  # FIFO: each transfer starts once the link, the task and a
            ready = max(r.edge_end_s[task], prev_end)  # queue slot are all free
            if r.link_start_s[task] > ready:
                spells.append((float(ready), float(r.link_start_s[task])))
            prev_end = max(prev_end, r.link_end_s[task])
        waiting = on[~_started(r.link_start_s[on], now)]
        if waiting.size and not prev_end > now:  # idle with a task waiting: blocked now
            ready = max(float(r.edge_end_s[waiting].min()), prev_end)
            if now > ready:
                spells.append((ready, now))
        out.append(spells)
    return out


def ansi(snap: Snapshot) -> str:
    """A text snapshot: each edge's frame and queue, each link, the cloud queue and
    servers, blocked links."""
    r, now = snap.records, snap.now
    name = [f"e{e}f{f}" for e, f in zip(r.edge.tolist(), r.frame.tolist(), strict=True)]

    def names(mask: np.ndarray, limit: int = 6) -> str:
        idx = np.flatnonzero(mask)
        shown = " ".join(name[i] for i in idx[:limit])
        return shown + (f" +{idx.size - limit}" if idx.size > limit else "")

    blocked = blocked_spells(snap)
    lines = [snap.title]
    arrived = _started(r.arrival_s, now) & ~np.isfinite(r.edge_start_s) & ~r.dropped
    for e in range(snap.n_edges):
        mine = r.edge == e
        run = np.flatnonzero(mine & _running(r.edge_start_s, r.edge_end_s, now))
        doing = (f"runs {name[run[0]]} cut {r.cut[run[0]]} until {r.edge_end_s[run[0]]:.3f}"
                 if run.size else "idle")
        wait = mine & arrived
        note = ""
        if snap.pending is not None and snap.pending[0] == e:
            note = f"  (e{e}f{snap.pending[1]} awaits its cut)"
        lines.append(f"edge {e:<3d} {doing:<38s} queue {int(wait.sum()):>3d} "
                     f"[{names(wait)}]{note}")
    links = snap.link_of()
    done_edge = _started(r.edge_end_s, now) & (r.cut >= 0)
    offl = np.zeros(r.edge.size, dtype=bool)
    offl[r.cut >= 0] = snap.offloads[r.cut[r.cut >= 0]]
    for link in range(snap.n_links):
        mine = links == link
        run = np.flatnonzero(mine & _running(r.link_start_s, r.link_end_s, now))
        wait = mine & offl & done_edge & ~_started(r.link_start_s, now)
        if run.size:
            doing = f"sends {name[run[0]]} until {r.link_end_s[run[0]]:.3f}"
        elif wait.any():
            since = blocked[link][-1][0] if blocked[link] else now
            doing = f"BLOCKED since {since:.3f} (cloud queue full)"
        else:
            doing = "idle"
        label = "link all" if snap.shared_link else f"link {link:<3d}"
        lines.append(f"{label} {doing:<38s} waiting {int(wait.sum()):>3d} [{names(wait)}]")
    held = _started(r.link_start_s, now) & ~(r.cloud_end_s <= now)
    at_cloud = _started(r.link_end_s, now) & ~_started(r.cloud_start_s, now)
    n_blocked = sum(1 for sp in blocked if sp and sp[-1][1] == now)
    lines.append(f"cloud queue {int(held.sum())}/{snap.queue_capacity} held, "
                 f"{int(at_cloud.sum())} waiting [{names(at_cloud)}], "
                 f"blocked links {n_blocked}")
    lanes = server_lanes(snap)
    for k in range(snap.cloud_workers):
        run = np.flatnonzero((lanes == k) & _running(r.cloud_start_s, r.cloud_end_s, now))
        doing = (f"runs {name[run[0]]} cut {r.cut[run[0]]} until {r.cloud_end_s[run[0]]:.3f}"
                 if run.size else "idle")
        lines.append(f"server {k:<2d} {doing}")
    done = int(np.count_nonzero(r.completion_s <= now))
    lines.append(f"done {done}/{r.edge.size}, dropped {int(r.dropped.sum())}")
    return "\n".join(lines) + "\n"


# -- the Gantt timeline ------------------------------------------------------------------
def lane_labels(snap: Snapshot) -> list[str]:
    """Top to bottom: ``edge i``, ``link i`` (or ``link (shared)``), ``server k``."""
    links = ["link (shared)"] if snap.shared_link else [f"link {i}" for i in
                                                         range(snap.n_edges)]
    return ([f"edge {i}" for i in range(snap.n_edges)] + links +
            [f"server {k}" for k in range(snap.cloud_workers)])


def legend_columns(n_cuts: int, axes_height_in: float) -> int:
    """Columns the cut legend needs beside axes `axes_height_in` tall (fontsize 6)."""
    rows = max(1, int(axes_height_in / 0.13))
    return max(1, math.ceil((n_cuts + 1) / rows))


def draw_timeline(ax: Any, snap: Snapshot, legend_cols: int = 1) -> None:
    """Draw `snap`'s timeline up to ``now`` on a matplotlib axes (with the cut legend
    in `legend_cols` columns to its right; 0: none)."""
    from matplotlib.patches import Patch

    r, now = snap.records, snap.now
    labels = lane_labels(snap)
    n_lanes = len(labels)
    cmap = _cut_colours(snap.n_cuts)
    links = snap.link_of()
    lanes = server_lanes(snap)

    def bars(y: int, start: np.ndarray, end: np.ndarray, cuts: np.ndarray) -> None:
        ok = _started(start, now) & np.isfinite(end) & (end > start)
        if not ok.any():
            return
        s, e = start[ok], np.minimum(end[ok], now)
        keep = e > s
        ax.broken_barh(list(zip(s[keep], (e - s)[keep], strict=True)),
                       (n_lanes - 1 - y - 0.4, 0.8),
                       facecolors=[cmap[c] for c in cuts[ok][keep]], edgecolor="white",
                       linewidth=0.3)

    for e in range(snap.n_edges):
        m = r.edge == e
        bars(e, r.edge_start_s[m], r.edge_end_s[m], r.cut[m])
    for link, spells in enumerate(blocked_spells(snap)):
        y = snap.n_edges + link
        m = links == link
        bars(y, r.link_start_s[m], r.link_end_s[m], r.cut[m])
        if spells:
            ax.broken_barh([(a, b - a) for a, b in spells], (n_lanes - 1 - y - 0.4, 0.8),
                           facecolors="none", edgecolor="tab:red", hatch="////",
                           linewidth=0.6)
    for k in range(snap.cloud_workers):
        m = lanes == k
        bars(snap.n_edges + snap.n_links + k, r.cloud_start_s[m], r.cloud_end_s[m], r.cut[m])
    ax.axvline(now, color="black", linewidth=0.8)
    ax.set_yticks(range(n_lanes), labels[::-1], fontsize=7)
    ax.set_ylim(-0.6, n_lanes - 0.4)
    ax.set_xlim(0.0, max(now, 1e-3) * 1.02)
    ax.set_xlabel("time [s]", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(snap.title, fontsize=8, loc="left")
    if legend_cols:
        handles = [Patch(facecolor=cmap[c], label=_cut_label(c, snap.n_cuts))
                   for c in range(snap.n_cuts)]
        handles.append(Patch(facecolor="none", edgecolor="tab:red", hatch="////",
                             label="link blocked"))
        ax.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                  frameon=False, ncols=legend_cols)


def _cut_colours(k: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["turbo"]  # ordered (cloud-only blue .. edge-only red), yet distinct
    return [cmap(0.05 + 0.9 * c / max(k - 1, 1)) for c in range(k)]


def _cut_label(c: int, k: int) -> str:
    if c == 0:
        return "cut 0 (cloud-only)"
    if c == k - 1:
        return f"cut {c} (edge-only)"
    return f"cut {c}"


def rgb_array(snap: Snapshot) -> np.ndarray:
    """The timeline as an ``(H, W, 3)`` uint8 image (W = 800 px; H grows with lanes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height = 0.9 + 0.25 * len(lane_labels(snap))
    fig = Figure(figsize=(FRAME_WIDTH_IN, height), dpi=FRAME_DPI)
    canvas = FigureCanvasAgg(fig)
    # fixed margins [in] (lane labels left, the legend right): a third of the time of a
    # constrained layout per frame, and the axes never move between a video's frames
    cols = legend_columns(snap.n_cuts, height - 0.75)
    fig.subplots_adjust(left=0.8 / FRAME_WIDTH_IN, right=1 - (0.2 + 1.2 * cols) / FRAME_WIDTH_IN,
                        bottom=0.45 / height, top=1 - 0.3 / height)
    draw_timeline(fig.add_subplot(), snap, legend_cols=cols)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_timelines(panels: Sequence[tuple[str, Snapshot]], path: str | Path,
                   title: str | None = None) -> Path:
    """One timeline per ``(name, snapshot)``, stacked on a shared time axis, to `path`
    (any format matplotlib writes: .png, .svg, .pdf); `title` above them (default: the
    setting, one episode per policy)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("save_timelines: no episodes to draw")
    lanes = len(lane_labels(panels[0][1]))
    panel_in = 0.9 + 0.22 * lanes
    fig = Figure(figsize=(11.0, len(panels) * panel_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for i, (ax, (name, snap)) in enumerate(zip(axes, panels, strict=True)):
        draw_timeline(ax, snap, legend_cols=legend_columns(snap.n_cuts, panel_in - 0.5)
                      if i == 0 else 0)
        ax.set_title(f"{name}: makespan {snap.now:.2f} s", fontsize=9, loc="left")
        if i < len(panels) - 1:
            ax.set_xlabel("")
    fig.suptitle(title or f"{panels[0][1].setting.rstrip(':')}: one episode per policy",
                 fontsize=9)
    horizon = max(snap.now for _, snap in panels)
    axes[0].set_xlim(0.0, max(horizon, 1e-3) * 1.02)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    from splitgym.fileio import atomic_target

    with atomic_target(out) as tmp:
        fig.savefig(tmp)
    return out
