"""The figures of `splitgym reproduce` (matplotlib, PNG + CSV) and the results README.

Series that coincide stay visible: every policy has its own marker and dash style, line
series are drawn side by side (a horizontal offset of `DODGE` of the x span per
policy), and the legend names the
series a line hides ("S-C (= C-O)"). A policy that cannot run (cloud-only at 0 Mbit/s,
infinite delay) is marked "infeasible", never drawn as a speedup of 0.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.fileio import atomic_target

from . import paper
from .audit import label

_COLORS = ["#7f7f7f", "#bcbd22", "#1f77b4", "#d62728", "#8c564b", "#9467bd", "#2ca02c",
           "#ff7f0e", "#17becf", "#e377c2", "#000080", "#808000"]
_MARKERS = ["s", "D", "o", "^", "v", "P", "X", "<", ">", "*", "h", "p"]
#: PNG resolution of every figure [dots per inch] (was 110: blurry when zoomed)
DPI = 200
#: Horizontal offset between neighbouring series of a line figure, as a fraction of
#: the x span: wide enough that series of nearly equal values sit side by side
DODGE = 0.012

_DASHES = ["-", "-", "-", "-", (0, (4, 1.5)), (0, (1, 1)), (0, (5, 2)), (0, (3, 1, 1, 1)),
           (0, (6, 2, 1, 2)), (0, (2, 2)), (0, (8, 2)), (0, (1, 2))]

#: what every column of every CSV `reproduce` writes means (results/README.md)
COLUMNS: dict[str, str] = {
    "model": "the DNN (a shipped profile name)",
    "network": "3g (1.1 Mbit/s) or 4g (5.85 Mbit/s)",
    "policy": "the scheduler (cloud_only = C-O, edge_only = E-O, single_cut = S-C, "
              "queue_aware = S-Q, sq_link = S-Q with the edge's link backlog, the yardsticks "
              "best_static, greedy_eft, sq_fill, sq_lookahead, learned = the shipped agent; "
              "lower_bound = the LP bound, not a policy)",
    "makespan_s": "total delay (the paper's 'total inference delay') [s], mean over seeds; "
                  "inf where the policy cannot run (cloud-only at 0 Mbit/s)",
    "makespan_std_s": "its standard deviation over seeds [s] (empty where infinite)",
    "paper_s": "the paper's Table 1 value [s] (empty where the paper ran nothing)",
    "ratio": "makespan_s / paper_s",
    "beyond_paper": "True for yardsticks, the learned agent and S-Q on a DAG model (which "
                    "the paper did not run)",
    "lower_bound_s": "the LP lower bound on the makespan, mean over seeds [s]",
    "gap_to_bound": "makespan_s / lower_bound_s - 1",
    "best_known_s": "makespan of best_known, the offline planner on each seed's known "
                    "arrivals (an achievable schedule, never worse than any heuristic or "
                    "shipped agent), mean over seeds [s]",
    "gap_to_best_known": "the policy's makespan / best_known's - 1, mean over seeds (>= 0)",
    "speedup": "the paper's kappa, E-O's makespan / the policy's, mean over seeds (empty "
               "where the policy is infeasible or for the lower bound)",
    "speedup_std": "its standard deviation over seeds",
    "paper_speedup": "the same ratio from the paper's Table 1 (empty where it ran nothing)",
    "edges": "number of edge devices (Fig. 4 / 5, 4G)",
    "bandwidth": "uplink rate of every edge [Mbit/s] (Fig. 6 / 7)",
    "feasible": "False where the policy cannot run at all (its delay is infinite)",
    "calibration": "default (rpi3b / paper-cloud) or paper-fit (rpi3b-paperfit / "
                   "paper-cloud-paperfit)",
    "default_s": "makespan [s] under the default calibration, mean over seeds",
    "paper_fit_s": "makespan [s] under the paper-fit calibration, mean over seeds",
}

FIG_FILES: dict[str, str] = {
    "fig2": "Fig. 2: chain DNNs, speedup over E-O per policy at 3G and 4G",
    "fig3": "Fig. 3: DAG DNNs, the same",
    "fig4": "Fig. 4: AlexNet at 4G, 1-5 edge devices",
    "fig5": "Fig. 5: ResNet18 at 4G, 1-5 edge devices",
    "fig6": "Fig. 6: AlexNet with 5 edges, 0-12 Mbit/s",
    "fig7": "Fig. 7: ResNet18 with 5 edges, 0-12 Mbit/s",
}


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """One CSV with a header row; floats to 6 significant digits (written atomically)."""
    with atomic_target(path) as tmp, open(tmp, "x", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def styles(policies: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Colour, marker and dash per policy (cycled; same for every figure)."""
    return {p: {"color": _COLORS[i % len(_COLORS)], "marker": _MARKERS[i % len(_MARKERS)],
                "ls": _DASHES[i % len(_DASHES)]} for i, p in enumerate(policies)}


def coinciding(series: Mapping[str, Sequence[float]], rel: float = 0.005) -> dict[str, list[str]]:
    """For each series, the earlier series it coincides with at every point (within
    `rel`, infinities equal)."""
    out: dict[str, list[str]] = {}
    names = list(series)
    for j, b in enumerate(names):
        same = []
        for a in names[:j]:
            xa, xb = np.asarray(series[a], float), np.asarray(series[b], float)
            both_inf = np.isinf(xa) & np.isinf(xb)
            fin = np.isfinite(xa) & np.isfinite(xb)
            if (both_inf | fin).all() and np.all(
                    np.abs(xa[fin] - xb[fin]) <= rel * np.maximum(np.abs(xa[fin]), 1e-12)):
                same.append(a)
        out[b] = same
    return out


def fig_bars(res: Any, models: Sequence[str], policies: Sequence[str], out: Path, name: str,
             title: str) -> None:
    """Fig. 2 / 3: speedup over edge-only per model, 3G and 4G, paper's values overlaid."""
    plt = _plt()
    rows = []
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), sharey=True)
    sty = styles(policies)
    width = 0.8 / len(policies)
    for ax, net in zip(axes, paper.NETWORKS, strict=True):
        for j, pol in enumerate(policies):
            xs, ys, es = [], [], []
            for i, model in enumerate(models):
                m, s = res.speedup("table1", model, net, pol)
                ref = paper.TABLE1_S[(model, net)]
                ref_v = ref.get(pol)
                paper_speed = ref["edge_only"] / ref_v if ref_v else None
                rows.append({"model": model, "network": net, "policy": pol, "speedup": m,
                             "speedup_std": s,
                             "paper_speedup": paper_speed if paper_speed else ""})
                xs.append(i + (j - (len(policies) - 1) / 2) * width)
                ys.append(m)
                es.append(s)
                if paper_speed:  # a star on the bar's centre, in the bar's colour
                    ax.plot(xs[-1], paper_speed, marker="*", ls="", markersize=9,
                            mfc=sty[pol]["color"], mec="black", mew=0.7, zorder=3)
            ax.bar(xs, ys, width, yerr=es, color=sty[pol]["color"], label=label(pol),
                   edgecolor="white", linewidth=0.4)
        ax.set_xticks(range(len(models)), models)
        ax.set_title(f"{net.upper()} ({paper.NETWORKS[net]} Mbit/s)")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_ylabel("speedup over edge-only (x)")
    axes[0].plot([], [], marker="*", ls="", markersize=9, mfc="white", mec="black",
                 mew=0.7, label="paper (Table 1), in the policy's colour")
    fig.suptitle(title)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=6,
               fontsize=8, bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    with atomic_target(out / f"{name}.png") as tmp:
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    write_csv(out / f"{name}.csv", ("model", "network", "policy", "speedup", "speedup_std",
                                     "paper_speedup"), rows)


def fig_lines(res: Any, group: str, model: str, xs: Sequence[Any], policies: Sequence[str],
              out: Path, name: str, title: str, xlabel: str,
              ranges: Mapping[str, tuple[float, float]],
              paper_points: Mapping[str, Sequence[tuple[float, float]]] | None = None,
              note: str = "",
              hlines: Mapping[str, tuple[float, float, float, str]] | None = None) -> None:
    """Fig. 4-7: speedup over edge-only against edges or bandwidth; the paper's stated
    ranges shaded, its Table 1 points (`paper_points`: policy -> [(x, speedup)]) marked,
    the paper's stated values (`hlines`: policy -> (x from, x to, speedup, label)) dotted,
    `note` (what the paper's text says, with ours) as the legend's title."""
    plt = _plt()
    sty = styles(policies)
    rows = []
    fig, ax = plt.subplots(figsize=(9.0, 5.2))
    xs = list(xs)
    span = (max(xs) - min(xs)) if len(xs) > 1 else 1.0
    means: dict[str, list[float]] = {}
    for pol in policies:
        ms = []
        for x in xs:
            mk = res.get(group, model, x, pol)
            feasible = bool(np.isfinite(mk).all())
            m, s = res.speedup(group, model, x, pol)
            ms.append(m if feasible else math.inf)
            rows.append({"model": model, group: x, "policy": pol,
                         "speedup": m if feasible else "", "speedup_std": s if feasible else "",
                         "makespan_s": res.mean(group, model, x, pol), "feasible": feasible})
        means[pol] = ms
    same = coinciding(means)
    for j, pol in enumerate(policies):
        ms = np.asarray(means[pol], dtype=float)
        ss = np.array([res.speedup(group, model, x, pol)[1] for x in xs])
        off = (j - (len(policies) - 1) / 2) * DODGE * span
        px = np.asarray(xs, dtype=float) + off
        finite = np.isfinite(ms)
        lab = "learned (randomised-conditions agent)" if pol == "learned" else label(pol)
        if same[pol]:
            lab += " (= " + ", ".join(label(p) for p in same[pol]) + ")"
        st = sty[pol]
        ax.errorbar(px[finite], ms[finite], yerr=ss[finite], label=lab, color=st["color"],
                    ls=st["ls"], marker=st["marker"], ms=4.5, capsize=2, lw=1.3,
                    mfc="white" if j % 2 else st["color"], alpha=0.9)
        for x in px[~finite]:
            ax.plot([x], [0.0], marker="x", color=st["color"], ms=9, mew=2, ls="")
            ax.annotate(f"{label(pol)}: infeasible\n(infinite delay)", (x, 0.0),
                        textcoords="offset points", xytext=(8, 4), fontsize=7,
                        color=st["color"])
    for pol, (lo, hi) in ranges.items():
        ax.axhspan(lo, hi, color=sty.get(pol, {"color": "grey"})["color"], alpha=0.13,
                   label=f"paper's stated {label(pol)} range")
    for k, (pol, pts) in enumerate((paper_points or {}).items()):
        if pts:  # nested sizes, so stars of equal values stay visible
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ls="", marker="*", ms=17 - 4 * k,
                    mfc="none", mec=sty.get(pol, {"color": "black"})["color"], mew=1.5,
                    label=f"paper's Table 1 {label(pol)}")
    for pol, (lo, hi, y, text) in (hlines or {}).items():
        ax.hlines(y, lo, hi, colors=sty.get(pol, {"color": "black"})["color"], linestyles=":",
                  lw=2.2, label=text)
    for x in xs:
        rows.append({"model": model, group: x, "policy": "lower_bound", "speedup": "",
                     "speedup_std": "", "makespan_s": res.mean(group, model, x, "lower_bound"),
                     "feasible": True})
    if group == "edges":
        ax.set_xticks(xs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("speedup over edge-only (x)")
    ax.set_ylim(bottom=-0.15)
    ax.set_title(title)
    ax.legend(fontsize=7.5, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12),
              title=note or None, title_fontsize=8)
    fig.tight_layout()
    with atomic_target(out / f"{name}.png") as tmp:
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    write_csv(out / f"{name}.csv", ("model", group, "policy", "speedup", "speedup_std",
                                     "makespan_s", "feasible"), rows)


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file."""
    with path.open(newline="") as fh:
        return next(csv.reader(fh))


def results_readme(out: Path, files: Sequence[str], calibration: str) -> str:
    """The README of a results folder: every file, and every column of every CSV."""
    lines = ["# splitgym reproduction results", "",
             f"Written by `splitgym reproduce` (calibration: {calibration}). `report.md` is "
             "the full report: Table 1 beside the paper's, both calibrations, the claims of "
             "the paper checked, and the arithmetic behind every cell more than 10% from the "
             "paper.", "", "## Files", ""]
    for f in files:
        stem = f.rsplit(".", 1)[0]
        what = {"table1.csv": "Table 1 in long format: one row per model, network and policy",
                "table1.md": "Table 1 side by side with the paper's values",
                "table1_calibrations.csv": "the paper's four policies in Table 1 under both "
                                           "calibrations, beside the paper",
                "report.md": "the report",
                "README.md": "this file"}.get(f)
        if what is None and stem in FIG_FILES:
            what = FIG_FILES[stem] + (" (data)" if f.endswith(".csv") else " (plot)")
        lines.append(f"- `{f}`: {what or ''}")
    lines += ["", "## Columns", ""]
    for f in files:
        if not f.endswith(".csv"):
            continue
        lines += [f"`{f}`:", ""]
        for col in csv_header(out / f):
            lines.append(f"- `{col}`: {COLUMNS.get(col, '(undocumented)')}")
        lines.append("")
    return "\n".join(lines)
