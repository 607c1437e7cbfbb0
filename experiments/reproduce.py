"""`splitgym reproduce`: the paper's Table 1 and Figures 2-7 beside the paper's numbers.

Every number is the mean over seeds (arrival phases and per-edge fps are random) of an
episode run through `EdgeCloudEnv` and `rollout`, the same loop a learned agent uses.
Runs are spread over worker processes; the result is the same for any worker count.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from splitgym.baselines import PAPER_POLICIES, YARDSTICKS, make_policy, seed_lower_bounds
from splitgym.baselines.planner import BestKnown, gap
from splitgym.envs.core.simulator import InvalidActionError
from splitgym.envs.edge_cloud import EdgeCloudEnv
from splitgym.envs.rollout import rollout
from splitgym.fileio import write_atomic
from splitgym.profiles.paperfit import CALIBRATIONS, fit_provenance
from splitgym.profiles.schema import load_profile

from . import audit, figures, paper
from .audit import LABELS, label  # noqa: F401  (LABELS: re-exported)
from .outdir import atomic_output

LEARNED = "learned"
POLICIES: tuple[str, ...] = PAPER_POLICIES + YARDSTICKS + (LEARNED,)
#: the online planner (Table 1 only, beside the yardsticks: ~1 s an episode, too slow
#: for every point of the figures); it also seeds Table 1's best_known
MPC = "mpc"
#: Table 1's policies
TABLE1_POLICIES: tuple[str, ...] = PAPER_POLICIES + YARDSTICKS + (MPC, LEARNED)
LOWER_BOUND = "lower_bound"
#: the offline planner (Table 1 only): each policy's gap to the best schedule found
BEST_KNOWN = "best_known"
#: its search steps per episode here (fewer than `splitgym evaluate`'s 1000, to keep the
#: reproduction near a minute; it is still seeded with every heuristic and shipped agent)
PLAN_EVALUATIONS = 300
#: the group of the Table 1 runs under the calibration that is not the main one
ALT_TABLE1 = "table1_alt"
#: the policies run under both calibrations: the paper's four and the S-Q readings
COMPARED: tuple[str, ...] = PAPER_POLICIES + tuple(p for p in audit.SQ_READINGS
                                                   if p in POLICIES and p not in PAPER_POLICIES)
PAPER_SETTING: dict[str, Any] = {"n_edges": 5, "frames_per_edge": 30, "queue_capacity": 20,
                                 "fps": (5.0, 15.0)}


@dataclass(frozen=True)
class Job:
    """One policy (or the lower bound) on one scenario over several seeds."""

    group: str  # "table1", "edges", "bandwidth" or ALT_TABLE1
    model: str
    x: Any  # the network name, the number of edges or the bandwidth [Mbit/s]
    policy: str
    env_kwargs: dict[str, Any] = field(hash=False, compare=False)
    seeds: tuple[int, ...] = ()


def _learned(job: Job) -> Any:
    """The shipped agent for a job: the scenario's own in Table 1, else the one trained
    on randomised conditions; None when none is shipped."""
    from splitgym.agents.policy import available_pretrained, load_pretrained

    net = job.x if job.group in ("table1", ALT_TABLE1) else "random"
    if f"{job.model}-{net}" not in available_pretrained():
        return None
    return load_pretrained(job.model, net)


def _run_job(job: Job) -> tuple[Job, list[float], dict[str, Any]]:
    """Per-seed makespans, and stats: the cut histogram summed over seeds and the busiest
    link's busy time (the largest over edges of its total transfer time) [s], mean over
    seeds."""
    import torch

    torch.set_num_threads(1)
    env = EdgeCloudEnv(model=job.model, **job.env_kwargs)
    agent = _learned(job) if job.policy == LEARNED else None
    if job.policy == LEARNED and agent is None:
        return job, [math.nan] * len(job.seeds), {}
    if job.policy == LOWER_BOUND:
        return job, seed_lower_bounds(env, job.seeds), {}
    if job.policy == BEST_KNOWN:
        planner = BestKnown(evaluations=PLAN_EVALUATIONS,
                            extra_policies={MPC: make_policy(MPC)})
        spans, plan_s = [], []
        for seed in job.seeds:
            spans.append(rollout(env, planner, seed=seed).metrics["makespan_s"])
            plan_s.append(planner.last_plan_s)
        return job, spans, {"plan_s": float(np.mean(plan_s))}
    out: list[float] = []
    hist = np.zeros(0, dtype=np.int64)
    busiest: list[float] = []
    for seed in job.seeds:
        policy = agent if agent is not None else make_policy(job.policy)
        try:
            ep = rollout(env, policy, seed=seed)
        except InvalidActionError:  # cloud-only at 0 Mbit/s: infinite delay
            out.append(math.inf)
            continue
        out.append(ep.metrics["makespan_s"])
        h = np.asarray(ep.metrics["cut_histogram"], dtype=np.int64)
        hist = h if hist.size == 0 else hist + h
        r = ep.records
        busy = np.nan_to_num(np.asarray(r.link_end_s) - np.asarray(r.link_start_s))
        busiest.append(float(np.bincount(np.asarray(r.edge), weights=busy).max()))
    return job, out, {"cut_histogram": hist.tolist(),
                      "busiest_link_s": float(np.mean(busiest)) if busiest else math.nan}


@dataclass
class Results:
    """Per-seed makespans keyed by (group, model, x, policy)."""

    seeds: tuple[int, ...]
    runs: dict[tuple[str, str, Any, str], np.ndarray] = field(default_factory=dict)
    stats: dict[tuple[str, str, Any, str], dict[str, Any]] = field(default_factory=dict)

    def hist(self, group: str, model: str, x: Any, policy: str) -> list[int]:
        """How many tasks went to each cut, summed over seeds."""
        return self.stats[(group, model, x, policy)]["cut_histogram"]

    def busiest_link_s(self, group: str, model: str, x: Any, policy: str) -> float:
        """The busiest link's total transfer time [s], mean over seeds."""
        return self.stats[(group, model, x, policy)]["busiest_link_s"]

    def get(self, group: str, model: str, x: Any, policy: str) -> np.ndarray:
        """Per-seed makespans [s]."""
        return self.runs[(group, model, x, policy)]

    def mean(self, group: str, model: str, x: Any, policy: str) -> float:
        """Mean makespan over seeds [s]."""
        return float(np.mean(self.get(group, model, x, policy)))

    def speedup(self, group: str, model: str, x: Any, policy: str) -> tuple[float, float]:
        """Mean and std over seeds of E-O's makespan / the policy's (0 for infinite)."""
        with np.errstate(divide="ignore"):
            r = self.get(group, model, x, "edge_only") / self.get(group, model, x, policy)
        return float(np.mean(r)), float(np.std(r))


def devices(calibration: str) -> dict[str, str]:
    """The env's ``edge_device`` / ``cloud_device`` of a calibration."""
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration={calibration!r}: expected one of {list(CALIBRATIONS)}")
    edge, cloud = CALIBRATIONS[calibration]
    return {"edge_device": edge, "cloud_device": cloud}


def plan(models: Sequence[str], seeds: Sequence[int], frames_per_edge: int,
         edges: Sequence[int], bandwidths: Sequence[float],
         calibration: str = "default", compare_with: str | None = None) -> list[Job]:
    """Every run of the reproduction under `calibration`; with `compare_with`, also the
    Table 1 runs of the `COMPARED` policies under that calibration (group ALT_TABLE1)."""
    seeds = tuple(seeds)
    base = dict(PAPER_SETTING, frames_per_edge=frames_per_edge, **devices(calibration))
    jobs = []
    if compare_with is not None:
        alt = dict(PAPER_SETTING, frames_per_edge=frames_per_edge, **devices(compare_with))
        for model in models:
            for net, mbps in paper.NETWORKS.items():
                jobs += [Job(ALT_TABLE1, model, net, p, dict(alt, bandwidth_mbps=mbps), seeds)
                         for p in COMPARED]
    for model in models:
        for net, mbps in paper.NETWORKS.items():
            kw = dict(base, bandwidth_mbps=mbps)
            jobs += [Job("table1", model, net, p, kw, seeds)
                     for p in TABLE1_POLICIES + (BEST_KNOWN, LOWER_BOUND)]
    for fig_model in ("alexnet", "resnet18"):
        if fig_model not in models:
            continue
        for n in edges:
            kw = dict(base, bandwidth_mbps=paper.NETWORKS["4g"], n_edges=n)
            jobs += [Job("edges", fig_model, n, p, kw, seeds) for p in POLICIES + (LOWER_BOUND,)]
        for mbps in bandwidths:
            kw = dict(base, bandwidth_mbps=float(mbps))
            jobs += [Job("bandwidth", fig_model, float(mbps), p, kw, seeds)
                     for p in POLICIES + (LOWER_BOUND,)]
    return jobs


def run(jobs: Sequence[Job], seeds: Sequence[int], workers: int = 2,
        progress: bool = True) -> Results:
    """Run the jobs (in `workers` processes when > 1) with a progress bar."""
    results = Results(tuple(seeds))
    bar = tqdm(total=len(jobs), desc="reproduce", unit="run", disable=not progress)
    # expensive jobs first so the pool stays busy to the end
    order = sorted(jobs, key=lambda j: (j.policy != BEST_KNOWN, j.policy not in (
        "best_static", "sq_lookahead", MPC, LEARNED)))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for job, out, stats in pool.map(_run_job, order, chunksize=4):
                results.runs[(job.group, job.model, job.x, job.policy)] = np.array(out)
                results.stats[(job.group, job.model, job.x, job.policy)] = stats
                bar.update()
    else:
        for job in order:
            job, out, stats = _run_job(job)
            results.runs[(job.group, job.model, job.x, job.policy)] = np.array(out)
            results.stats[(job.group, job.model, job.x, job.policy)] = stats
            bar.update()
    bar.close()
    return results


# -- outputs -------------------------------------------------------------------------------

TABLE1_COLUMNS = ("model", "network", "policy", "makespan_s", "makespan_std_s", "paper_s",
                  "ratio", "beyond_paper", "lower_bound_s", "gap_to_bound", "best_known_s",
                  "gap_to_best_known")


def table1_rows(res: Results, models: Sequence[str]) -> list[dict[str, Any]]:
    """The long-format Table 1 rows (see `TABLE1_COLUMNS`)."""
    rows = []
    for model in models:
        for net in paper.NETWORKS:
            lb = res.mean("table1", model, net, LOWER_BOUND)
            known = res.get("table1", model, net, BEST_KNOWN)
            for pol in TABLE1_POLICIES:
                mk = res.get("table1", model, net, pol)
                ref = paper.TABLE1_S[(model, net)].get(pol)
                mean = float(mk.mean())
                rows.append({
                    "model": model, "network": net, "policy": pol, "makespan_s": mean,
                    "makespan_std_s": float(mk.std()) if np.isfinite(mk).all() else math.nan,
                    "paper_s": ref if ref is not None else "",
                    "ratio": mean / ref if ref else "",
                    "beyond_paper": pol in YARDSTICKS + (MPC, LEARNED) or (
                        pol == "queue_aware" and model in paper.DAG_MODELS),
                    "lower_bound_s": lb, "gap_to_bound": mean / lb - 1.0,
                    "best_known_s": float(known.mean()),
                    "gap_to_best_known": _mean_gap(mk, known)})
    return rows


def _mean_gap(makespans: np.ndarray, known: np.ndarray) -> float:
    """Mean over seeds of ``makespan / best_known's - 1``."""
    return float(np.mean([gap(m, k) for m, k in zip(makespans, known, strict=True)]))


def table1_markdown(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> str:
    """Table 1 side by side: ours (paper) per policy, then yardsticks and the bound."""
    by = {(r["model"], r["network"], r["policy"]): r for r in rows}
    extra = YARDSTICKS + (MPC, LEARNED)
    head = ["DNN", "net"] + [label(p) + " ours (paper)" for p in PAPER_POLICIES] + \
        [label(p) for p in extra] + ["best known", "lower bound"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in models:
        for net in paper.NETWORKS:
            cells = [model, net.upper()]
            for p in PAPER_POLICIES:
                r = by[(model, net, p)]
                ref = f"{r['paper_s']:.1f}" if r["paper_s"] != "" else "-"
                mark = "*" if r["beyond_paper"] else ""
                cells.append(f"{r['makespan_s']:.1f}{mark} ({ref})")
            cells += [f"{by[(model, net, p)]['makespan_s']:.1f}" for p in extra]
            cells.append(f"{by[(model, net, PAPER_POLICIES[0])]['best_known_s']:.1f}")
            cells.append(f"{by[(model, net, PAPER_POLICIES[0])]['lower_bound_s']:.1f}")
            out.append("| " + " | ".join(cells) + " |")
    out.append("")
    from .evaluate import shipped_training_note

    agents = [f"{m}-{net}" for m in models for net in paper.NETWORKS]
    out.append("Seconds, mean over seeds; in brackets the paper's Table 1; `*` S-Q on a DAG "
               "model, beyond the paper (which ran S-Q on chains only). Learned: the shipped "
               "agent of the scenario (`agents/pretrained`), evaluated on seeds it never "
               "trained on. MPC: the online planner `mpc` (no future information: arrivals "
               "predicted from each edge's past). Best known: the offline planner "
               "`best_known` on each seed's known arrivals (a schedule found by search with "
               "the simulator as the model, seeded with every heuristic, `mpc` and shipped "
               "agent): achievable, so the optimum lies between it and the lower bound. " +
               shipped_training_note(agents))
    return "\n".join(out) + "\n"


def calibration_rows(res: Results, models: Sequence[str], main: str,
                     other: str | None) -> list[dict[str, Any]]:
    """The `COMPARED` policies of Table 1 under both calibrations, beside the paper."""
    groups = {main: "table1"}
    if other is not None:
        groups[other] = ALT_TABLE1
    rows = []
    for model in models:
        for net in paper.NETWORKS:
            for pol in COMPARED:
                ref = paper.TABLE1_S[(model, net)].get(pol)
                row: dict[str, Any] = {"model": model, "network": net, "policy": pol,
                                       "paper_s": ref if ref is not None else ""}
                for cal in CALIBRATIONS:
                    key = cal.replace("-", "_") + "_s"
                    row[key] = res.mean(groups[cal], model, net, pol) if cal in groups else ""
                rows.append(row)
    return rows


CALIBRATION_COLUMNS = ("model", "network", "policy", "paper_s", "default_s", "paper_fit_s")


def calibrations_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Table 1's paper policies: the paper, the default calibration and paper-fit."""
    by = {(r["model"], r["network"], r["policy"]): r for r in rows}
    keys = sorted({(r["model"], r["network"]) for r in rows},
                  key=lambda k: (paper.MODELS.index(k[0]), k[1]))
    head = ["DNN", "net"] + [f"{label(p)} paper / default / paper-fit" for p in COMPARED]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(v: Any, ref: Any) -> str:
        if v == "":
            return "-"
        mark = "" if ref == "" or abs(v / ref - 1) <= audit.TOL else "**"
        return f"{mark}{v:.1f}{mark}"

    for model, net in keys:
        cells = [model, net.upper()]
        for p in COMPARED:
            r = by[(model, net, p)]
            ref = r["paper_s"]
            cells.append(f"{ref if ref != '' else '-'} / {cell(r['default_s'], ref)} / "
                         f"{cell(r['paper_fit_s'], ref)}")
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Seconds, mean over seeds. **Bold**: more than 10% from the paper (explained "
            "below). S-Q link (`sq_link`) is a yardstick beyond the paper."]
    return "\n".join(out) + "\n"


def fit_markdown(models: Sequence[str], res: Results, fit_group: str | None) -> str:
    """The paper-fit calibration: fitted factors and residuals per model."""
    out = ["| DNN | edge conv / dense / other | cloud conv / dense / other | cell: paper, fit "
           "estimate (log residual), simulated | not fitted |", "|---|---|---|---|---|"]
    for model in models:
        fit = fit_provenance(load_profile(model))
        if not fit:
            out.append(f"| {model} | - | - | (no paper-fit device in this profile) | |")
            continue
        e, c = fit["edge_factors"], fit["cloud_factors"]
        cells = []
        for row in fit["cells"]:
            sim = ""
            if fit_group is not None and row["cell"].endswith(("S-C", "C-O")):
                net, short = row["cell"].split()
                pol = {"S-C": "single_cut", "C-O": "cloud_only"}[short]
                sim = f", sim {res.mean(fit_group, model, net.lower(), pol):.1f}"
            elif fit_group is not None:
                sim = f", sim {res.mean(fit_group, model, '3g', 'edge_only'):.1f}"
            cells.append(f"{row['cell']}: {row['paper_s']:g}, {row['fit_s']:.1f} "
                         f"({row['residual']:+.3f}){sim}")
        excl = "; ".join(f"{x['cell']}: {x['reason']}" for x in fit["excluded"]) or "-"
        out.append(f"| {model} | {e['conv']:.3g} / {e['dense']:.3g} / {e['other']:.3g} | "
                   f"{c['conv']:.3g} / {c['dense']:.3g} / {c['other']:.3g} | "
                   + "; ".join(cells) + f" | {excl} |")
    return "\n".join(out) + "\n"


def _far_markdown(cells: Sequence[dict[str, Any]]) -> list[str]:
    if not cells:
        return ["Every cell is within 10% of the paper.", ""]
    out = []
    for c in cells:
        out.append(f"- **{c['model']} {c['network'].upper()} {label(c['policy'])}**: ours "
                   f"{c['ours_s']:.1f} s, paper {c['paper_s']:g} s "
                   f"({c['ours_s'] / c['paper_s']:.2f}x). {c['why']}")
    return out + [""]


def _summary(res: Results, models: Sequence[str], claim_rows: Sequence[audit.Claim],
             calibration: str, other: str | None,
             far: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Counts a reader wants first: S-C cells within 10% per calibration, claims held."""
    groups = {calibration: "table1"}
    if other is not None:
        groups[other] = ALT_TABLE1
    out = ["**Summary.**"]
    cells = [(m, n) for m in models for n in paper.NETWORKS]
    for cal, group in groups.items():
        near = sum(abs(res.mean(group, m, n, "single_cut")
                       / float(paper.TABLE1_S[(m, n)]["single_cut"]) - 1) <= audit.TOL
                   for m, n in cells)
        off = len(far.get(cal, []))
        out.append(f"Under the {cal} calibration S-C is within 10% of the paper on {near} of "
                   f"{len(cells)} cells, and {off} Table 1 cells (any policy) are more than "
                   "10% off, each explained below.")
    n_hold = sum(c.holds for c in claim_rows)
    out.append(f"Of {len(claim_rows)} claims of the paper checked under the {calibration} "
               f"calibration, {n_hold} hold in ours.")
    return [" ".join(out), ""]


def report_markdown(res: Results, models: Sequence[str], table_md: str,
                    claim_rows: Sequence[audit.Claim], figures_done: Sequence[str],
                    wall_s: float, edges: Sequence[int], bandwidths: Sequence[float],
                    calibration: str = "default", other: str | None = None,
                    cal_md: str = "", far: dict[str, list[dict[str, Any]]] | None = None,
                    readings: Sequence[tuple[str, dict[str, bool]]] = (),
                    frames: int = 30) -> str:
    """The full report: setting, Table 1 (both calibrations), the paper-fit factors, the
    arithmetic behind every cell more than 10% off, figures, claims, gaps to the bound."""
    seeds = ", ".join(map(str, res.seeds))
    edge, cloud = CALIBRATIONS[calibration]
    n_hold = sum(c.holds for c in claim_rows)
    fit_group = {calibration: "table1", other: ALT_TABLE1}.get("paper-fit")
    out = ["# splitgym reproduction of Zhang et al. (2022)", "",
           f"Setting: 5 edges (Fig. 4/5: {', '.join(map(str, edges))}), "
           f"{frames} frames per edge at 5-15 fps "
           f"(drawn per edge and seed), C = 20, one cloud worker, per-edge uplinks; 3G = 1.1 "
           f"and 4G = 5.85 Mbit/s (Fig. 6/7: {', '.join(f'{b:g}' for b in bandwidths)}). "
           f"Seeds {seeds}; every number is the mean over them. Calibration of this run: "
           f"**{calibration}** (edge `{edge}`, cloud `{cloud}`; docs/profiles.md). The "
           "default calibration scales the host's per-layer times by one factor per model "
           "to the paper's whole-model times; paper-fit also fits one factor per layer class "
           "to the paper's Table 1 (below). Policies follow docs/model.md; S-Q is the "
           "paper's rule exactly, including its known weakness, and `sq_link` is the "
           "link-aware reading, a yardstick.", "",
           ""] + _summary(res, models, claim_rows, calibration, other, far or {}) + [
           f"## Table 1: total delay (s), {calibration} calibration", "", table_md, ""]
    if cal_md:
        out += ["## Table 1 under both calibrations", "", cal_md, ""]
    out += ["## The paper-fit calibration", "",
            "Per model, the edge (`rpi3b-paperfit`) and cloud (`paper-cloud-paperfit`) "
            "per-layer times are the default devices' times one factor per layer class "
            "(conv, dense, other), fitted by least squares in log space "
            "(`scipy.optimize.least_squares`, `splitgym.profiles.paperfit`) to the paper's "
            "E-O, C-O and S-C cells that some static cut can reach, with the estimate "
            f"{audit.static_estimate_text()}. Fit estimate and simulated makespan (s) per "
            "cell; the factors and residuals are also in each profile's provenance.", "",
            fit_markdown(models, res, fit_group), ""]
    out += ["## Cells more than 10% from the paper, by arithmetic", "",
            "For a static cut with F frames per edge and E edges (F = "
            f"{frames}, E = {PAPER_SETTING['n_edges']} here) the "
            "makespan is at least max(F*Te, F*Tt, E*F*Tc): each edge computes F frames, each "
            "link sends F tensors, the one cloud serves E*F tasks. Each explanation names "
            "the cut eq. (1) picks, its bytes and seconds, and whether any static cut under "
            "our profile (every prefix of the layer order; for a DAG also its candidate "
            "table) lands within 10% of the paper's value by the estimate "
            f"{audit.static_estimate_text()}.", ""]
    for cal, cells in (far or {}).items():
        out += [f"### {cal} calibration", ""] + _far_markdown(cells)
    out += ["## Figures", "",
            "Speedup = E-O's makespan / the policy's (the paper's kappa). Coinciding series "
            "are offset slightly and named in the legend ('S-C (= C-O)'); stars mark the "
            "paper's Table 1 values; C-O at 0 Mbit/s is marked infeasible.", ""]
    for f in figures_done:
        out += [f"![{f}]({f}.png)", ""]
    out += ["## The paper's claims (Section 5 and the abstract)", "",
            f"{len(claim_rows)} claims checked under the {calibration} calibration: "
            f"{n_hold} hold in ours, {len(claim_rows) - n_hold} do not. 'The paper's own "
            "Table 1' says whether the claim follows from the paper's own numbers.", "",
            "| claim | the paper's own Table 1 | ours | why not |", "|---|---|---|---|"]
    out += [f"| {c.claim} | {c.paper} | {c.ours} | {c.why} |" for c in claim_rows]
    if readings:
        names = list(dict.fromkeys(r for _, v in readings for r in v))
        out += ["", "## Which S-Q reading recovers which claim", "",
                "`queue_aware` is S-Q as the paper states it: a task's predicted arrival "
                "A(i) = t_start + Te(i) + Tt(i) ignores its own link's backlog, and t_end "
                "counts only the committed work that reaches the cloud by A(v*). `sq_link` "
                "counts the edge's link backlog in A(i) (max(t_start + Te(i), link free) + "
                "Tt(i)). Each claim about S-Q, checked under each reading:", "",
                "| claim | " + " | ".join(f"`{n}`" for n in names) + " |",
                "|---|" + "---|" * len(names)]
        for claim, verdicts in readings:
            out.append(f"| {claim} | " + " | ".join(
                ("holds" if verdicts[n] else "does not hold") if n in verdicts else "-"
                for n in names) + " |")
    plan_s = [res.stats[k]["plan_s"] for k in res.stats if k[3] == BEST_KNOWN]
    out += ["", "## Gaps to the lower bound and to the best known schedule", "",
            "The LP bound (`splitgym.baselines.bounds`) relaxes each edge's split of its "
            "tasks among cuts; no policy can beat it. `best_known` (`splitgym.baselines."
            "planner`) knows each seed's arrivals and searches per-task cut sequences with the "
            "simulator as the model, seeded with every heuristic, fixed cut and shipped agent "
            f"({PLAN_EVALUATIONS} search steps, {np.mean(plan_s) if plan_s else math.nan:.1f} "
            "s per episode here): its makespan is achievable, so the optimum lies between the "
            "two. Each cell: gap to the bound / gap to best known (makespan / reference - 1, "
            "mean over seeds); the last column is best known's own gap to the bound, an upper "
            "limit on the bound's slack.", "",
            "| DNN | net | " + " | ".join(label(p) for p in POLICIES) + " | best known |",
            "|" + "---|" * (len(POLICIES) + 3)]
    for model in models:
        for net in paper.NETWORKS:
            lb = res.mean("table1", model, net, LOWER_BOUND)
            known = res.get("table1", model, net, BEST_KNOWN)
            cells = [f"{res.mean('table1', model, net, p) / lb - 1:+.0%} / "
                     f"{_mean_gap(res.get('table1', model, net, p), known):+.1%}"
                     for p in POLICIES]
            cells.append(f"{known.mean() / lb - 1:+.1%}")
            out.append(f"| {model} | {net.upper()} | " + " | ".join(cells) + " |")
    out += ["", f"Wall time of this reproduction: {wall_s:.1f} s on {os.cpu_count()} CPUs.", ""]
    return "\n".join(out)


@dataclass
class Reproduction:
    """What `reproduce` wrote and measured."""

    out_dir: Path
    results: Results
    table1: list[dict[str, Any]]
    claims: list[audit.Claim]
    wall_s: float
    files: list[str]
    calibration: str = "default"


#: Every file `reproduce` may write in its results folder (the figures' plots and data).
RESULT_FILES: tuple[str, ...] = ("table1.csv", "table1.md", "table1_calibrations.csv",
                                 "report.md", "README.md") + tuple(
    f"{f}.{e}" for f in figures.FIG_FILES for e in ("png", "csv"))


@atomic_output("out_dir", names=RESULT_FILES, writer="splitgym reproduce")
def reproduce(out_dir: str | Path = "results", seeds: Sequence[int] = range(5),
              workers: int = 2, progress: bool = True,
              models: Sequence[str] = paper.MODELS, frames_per_edge: int = 30,
              edges: Sequence[int] = (1, 2, 3, 4, 5),
              bandwidths: Sequence[float] = tuple(range(13)),
              calibration: str = "default", compare: bool = True) -> Reproduction:
    """Run everything under `calibration` and write Table 1, Figures 2-7, report.md and a
    README to `out_dir`; with `compare`, Table 1's paper policies also under the other
    calibration, side by side. `out_dir` is checked writable first and written whole or
    not at all, and only files that `RESULT_FILES` names and its manifest says it wrote
    are replaced (see `splitgym.experiments.outdir`)."""
    t0 = time.perf_counter()
    unknown = [m for m in models if m not in paper.MODELS]
    if unknown:
        raise ValueError(f"models={unknown}: the paper's models are {list(paper.MODELS)}")
    dev = devices(calibration)
    other = next((c for c in CALIBRATIONS if c != calibration), None) if compare else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = tuple(seeds)
    bandwidths = tuple(float(b) for b in bandwidths)
    res = run(plan(models, seeds, frames_per_edge, edges, bandwidths, calibration, other),
              seeds, workers, progress)
    rows = table1_rows(res, models)
    figures.write_csv(out / "table1.csv", TABLE1_COLUMNS, rows)
    table_md = table1_markdown(rows, models)
    write_atomic(out / "table1.md", table_md)
    cal_rows = calibration_rows(res, models, calibration, other)
    figures.write_csv(out / "table1_calibrations.csv", CALIBRATION_COLUMNS, cal_rows)
    cal_md = calibrations_markdown(cal_rows)
    figs = []
    chains = [m for m in paper.CHAIN_MODELS if m in models]
    dags = [m for m in paper.DAG_MODELS if m in models]
    if chains:
        figures.fig_bars(res, chains, POLICIES, out, "fig2",
                         "Fig. 2: chain DNNs, speedup over edge-only")
        figs.append("fig2")
    if dags:
        figures.fig_bars(res, dags, POLICIES, out, "fig3", "Fig. 3: DAG DNNs, speedup over "
                         "edge-only (S-Q on DAGs is beyond the paper)")
        figs.append("fig3")
    t1 = paper.TABLE1_S

    def table_point(model: str, pol: str, x: float) -> list[tuple[float, float]]:
        ref = t1[(model, "4g")]
        return [(x, ref["edge_only"] / ref[pol])] if ref.get(pol) else []

    for fig, model in (("fig4", "alexnet"), ("fig5", "resnet18")):
        if model in models and edges:
            ranges = {p: r for (f, p), r in paper.FIG_RANGES.items() if f == fig}
            pts = {p: table_point(model, p, 5.0) for p in PAPER_POLICIES[:1] + PAPER_POLICIES[2:]}
            figures.fig_lines(res, "edges", model, list(edges), POLICIES, out, fig,
                              f"Fig. {fig[3]}: {model}, 4G, 1-5 edges", "edge devices",
                              ranges, pts if 5 in edges else None)
            figs.append(fig)
    for fig, model in (("fig6", "alexnet"), ("fig7", "resnet18")):
        if model in models and bandwidths:
            pts = {p: [(paper.NETWORKS[n], t1[(model, n)]["edge_only"] / t1[(model, n)][p])
                       for n in paper.NETWORKS if t1[(model, n)].get(p)]
                   for p in ("cloud_only", "single_cut", "queue_aware")}
            note, hl = "", {}
            if fig == "fig7":
                mx = paper.FIG7_MAX_SPEEDUP
                mid = [b for b in bandwidths if 1 <= b <= 8]
                hl = {"single_cut": (1.0, 8.0, mx["edge_only"], "paper (text): S-C at most "
                                     f"{mx['edge_only']}x faster than E-O, 1-8 Mbit/s")}
                if mid:
                    o_eo = max(res.speedup("bandwidth", model, b, "single_cut")[0] for b in mid)
                    o_co = max(res.mean("bandwidth", model, b, "cloud_only")
                               / res.mean("bandwidth", model, b, "single_cut") for b in mid)
                    note = (f"Paper (text), 1-8 Mbit/s: S-C at most {mx['edge_only']}x faster "
                            f"than E-O and {mx['cloud_only']}x faster than C-O; ours: "
                            f"{o_eo:.2f}x and {o_co:.2f}x")
            else:
                note = ("Paper (text): at 0 Mbit/s C-O worst, S-C = S-Q = E-O; at 1 Mbit/s "
                        "S-C = S-Q; 2-7 Mbit/s S-Q better than S-C; above 7 S-C = S-Q = E-O")
            figures.fig_lines(res, "bandwidth", model, list(bandwidths), POLICIES, out, fig,
                              f"Fig. {fig[3]}: {model}, 5 edges, 0-12 Mbit/s",
                              "uplink (Mbit/s)", {}, pts, note, hl)
            figs.append(fig)
    n_edges, frames = PAPER_SETTING["n_edges"], frames_per_edge
    edge, cloud = dev["edge_device"], dev["cloud_device"]
    claim_rows = audit.claims(res, models, edges, bandwidths, POLICIES, edge, cloud, frames,
                              n_edges)
    readings = audit.sq_readings(res, models, edges, bandwidths, POLICIES, edge, cloud,
                                 frames, n_edges)
    far = {calibration: audit.far_cells(res, "table1", models, edge, cloud, frames, n_edges)}
    if other is not None:
        o = devices(other)
        far[other] = audit.far_cells(res, ALT_TABLE1, models, o["edge_device"],
                                     o["cloud_device"], frames, n_edges)
    wall = time.perf_counter() - t0
    write_atomic(out / "report.md", report_markdown(
        res, models, table_md, claim_rows, figs, wall, edges, bandwidths, calibration, other,
        cal_md, far, readings, frames))
    files = ["table1.csv", "table1.md", "table1_calibrations.csv", "report.md"] + [
        f"{f}.{e}" for f in figs for e in ("png", "csv")]
    files.append("README.md")
    write_atomic(out / "README.md", figures.results_readme(out, files, calibration))
    return Reproduction(out, res, rows, claim_rows, wall, files, calibration)
