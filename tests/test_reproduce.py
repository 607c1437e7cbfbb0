"""A reduced reproduction (few frames, one seed) writes every file with sane numbers, an
audit of every claim and a README naming every column."""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from splitgym.experiments import paper
from splitgym.experiments.audit import Claim, claims
from splitgym.experiments.reproduce import (
    POLICIES,
    TABLE1_COLUMNS,
    TABLE1_POLICIES,
    reproduce,
)

FILES = ("table1.csv", "table1.md", "table1_calibrations.csv", "report.md", "README.md",
         "fig2.png", "fig2.csv", "fig3.png", "fig3.csv", "fig4.png", "fig4.csv", "fig5.png",
         "fig5.csv", "fig6.png", "fig6.csv", "fig7.png", "fig7.csv")


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("reduced")
    rep = reproduce(out, seeds=[0], workers=1, progress=False,
                    models=("alexnet", "resnet18"), frames_per_edge=3, edges=(1, 2),
                    bandwidths=(0.0, 1.0, 9.0))
    return out, rep


def test_reproduce__reduced_run_writes_every_file(reduced):
    out, rep = reduced
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    assert sorted(rep.files) == sorted(FILES)
    rows = list(csv.DictReader((out / "table1.csv").open()))
    assert tuple(rows[0]) == TABLE1_COLUMNS
    assert len(rows) == 2 * 2 * len(TABLE1_POLICIES)  # models x networks x policies
    for r in rows:
        mk = float(r["makespan_s"])
        assert math.isfinite(mk) and mk > 0
        assert float(r["lower_bound_s"]) <= mk * (1 + 1e-9)
        # best_known is seeded with every heuristic and agent: never above any of them,
        # and a real schedule, so never below the bound
        assert float(r["lower_bound_s"]) <= float(r["best_known_s"]) * (1 + 1e-9)
        assert float(r["gap_to_best_known"]) >= 0.0
        if r["paper_s"]:
            assert math.isclose(float(r["ratio"]), mk / float(r["paper_s"]), rel_tol=1e-4)
    # the paper ran no S-Q on DAGs: empty paper_s, marked beyond the paper
    sq_dag = [r for r in rows if r["model"] == "resnet18" and r["policy"] == "queue_aware"]
    assert all(r["paper_s"] == "" and r["beyond_paper"] == "True" for r in sq_dag)


def test_reproduce__cloud_only_at_0_mbps_is_infeasible_not_a_speedup_of_0(reduced):
    out, _ = reduced
    fig6 = list(csv.DictReader((out / "fig6.csv").open()))
    co0 = [r for r in fig6 if r["policy"] == "cloud_only" and float(r["bandwidth"]) == 0.0]
    assert co0[0]["feasible"] == "False" and co0[0]["speedup"] == ""
    assert math.isinf(float(co0[0]["makespan_s"]))
    eo0 = [r for r in fig6 if r["policy"] == "edge_only" and float(r["bandwidth"]) == 0.0]
    assert eo0[0]["feasible"] == "True" and float(eo0[0]["speedup"]) == 1.0


def test_reproduce__both_calibrations_side_by_side(reduced):
    out, rep = reduced
    rows = list(csv.DictReader((out / "table1_calibrations.csv").open()))
    assert rows and all(r["default_s"] and r["paper_fit_s"] for r in rows)
    # the default run's own Table 1 is its default column
    by = {(r["model"], r["network"], r["policy"]): r for r in rows}
    for r in rep.table1:
        if (r["model"], r["network"], r["policy"]) in by:
            got = float(by[(r["model"], r["network"], r["policy"])]["default_s"])
            assert math.isclose(got, r["makespan_s"], rel_tol=1e-5)
    # the calibrations differ where a cut is in the middle (paper-fit reshapes layers)
    assert any(r["default_s"] != r["paper_fit_s"] for r in rows)


def test_reproduce__report_audits_every_claim_with_a_verdict(reduced):
    out, rep = reduced
    report = (out / "report.md").read_text()
    assert all(isinstance(c, Claim) for c in rep.claims)
    names = [c.claim for c in rep.claims]
    for needle in ("3G, chain models: S-Q equals S-C", "C-O is the worst method",
                   "2.07-4.12x faster than C-O", "beat both baselines at every edge count",
                   "1.25-1.43x faster than C-O",
                   "1 Mbit/s: S-C equals S-Q", "above 8 Mbit/s: S-C has the same efficiency",
                   "2.85x faster than E-O", "up to 6.48x"):
        assert any(needle in n for n in names), needle
    for c in rep.claims:
        assert c.ours.startswith(("holds", "does not hold"))
        assert (c.why == "") == c.holds, c  # a reason exactly where it fails
    assert f"{len(rep.claims)} claims checked" in report
    assert "## Which S-Q reading recovers which claim" in report
    assert "Gaps to the lower bound and to the best known schedule" in report
    assert "![fig6](fig6.png)" in report
    # stands alone for a user of the wheel
    assert "../shared" not in report and not re.search(r"\bspec\b", report)


class _PaperAsOurs:
    """Results whose Table 1 is the paper's own (S-Q on a DAG and every yardstick: S-C),
    and flat made-up figure runs."""

    seeds = (0,)

    def mean(self, group, model, x, policy):
        if group == "table1":
            ref = paper.TABLE1_S[(model, x)]
            return float(ref.get(policy) or ref["single_cut"])
        base = {"edge_only": 90.0, "cloud_only": 30.0}.get(policy, 25.0)
        return math.inf if (group == "bandwidth" and x == 0 and policy == "cloud_only") \
            else base

    def get(self, group, model, x, policy):
        return np.array([self.mean(group, model, x, policy)])

    def speedup(self, group, model, x, policy):
        return self.mean(group, model, x, "edge_only") / self.mean(group, model, x, policy), 0.0

    def hist(self, group, model, x, policy):
        return [1]

    def busiest_link_s(self, group, model, x, policy):
        return 0.0


def test_claims__the_papers_own_table_as_ours_gives_the_papers_verdicts():
    # Fed the paper's Table 1 as our numbers, every claim that the paper's own table
    # decides gets the same verdict in "ours": the audit reads the numbers, not the labels.
    res = _PaperAsOurs()
    out = claims(res, paper.MODELS, (1, 2, 3, 4, 5), tuple(range(13)), POLICIES, "rpi3b",
                 "paper-cloud", 30, 5)
    names = [c.claim for c in out]
    assert len(names) == len(set(names)) >= 28
    for needle in ("Tiny-YOLO: S-C equals S-Q", "AlexNet-Parallel and GoogLeNet S-C equal C-O",
                   "up to 6.48x", "1.11-2.72x faster than E-O"):
        assert any(needle in n for n in names), needle
    decided = 0
    for c in out:
        verdict = re.search(r"(does not hold|holds)", c.paper)
        if verdict and "Table 1" not in c.paper:
            decided += 1
            assert c.holds == (verdict.group(1) == "holds"), c
    assert decided >= 15


def test_reproduce__every_cell_far_from_the_paper_is_explained_by_arithmetic(reduced):
    out, _ = reduced
    report = (out / "report.md").read_text()
    section = report.split("## Cells more than 10% from the paper")[1].split("## Figures")[0]
    rows = list(csv.DictReader((out / "table1_calibrations.csv").open()))
    for cal, col in (("default", "default_s"), ("paper-fit", "paper_fit_s")):
        part = section.split(f"### {cal} calibration")[1].split("###")[0]
        for r in rows:
            if r["policy"] not in ("single_cut", "cloud_only", "edge_only") or not r["paper_s"]:
                continue
            ours, ref = float(r[col]), float(r["paper_s"])
            head = f"**{r['model']} {r['network'].upper()} "
            if abs(ours / ref - 1) > 0.10:
                line = next(x for x in part.splitlines() if x.startswith("- " + head)).lower()
                assert "f*te =" in line and "bytes" in line and (
                    "reachable" in line or "infeasible" in line or "no static cut" in line)


def test_reproduce__readme_names_every_column_of_every_csv(reduced):
    out, rep = reduced
    readme = (out / "README.md").read_text()
    assert "(undocumented)" not in readme
    for f in rep.files:
        assert f"`{f}`" in readme
        if f.endswith(".csv"):
            header = next(csv.reader((out / f).open()))
            for col in header:
                assert f"- `{col}`:" in readme, (f, col)


def test_reproduce__deterministic_for_a_seed_list(tmp_path):
    kw = dict(seeds=[3], progress=False, models=("alexnet",), frames_per_edge=2, edges=(1,),
              bandwidths=(1.0,), compare=False)
    a = reproduce(tmp_path / "a", workers=1, **kw)
    b = reproduce(tmp_path / "b", workers=2, **kw)
    assert (tmp_path / "a" / "table1.csv").read_text() == \
        (tmp_path / "b" / "table1.csv").read_text()
    assert a.table1 == b.table1


def test_reproduce__paper_fit_calibration_runs_on_the_fitted_devices(tmp_path):
    rep = reproduce(tmp_path, seeds=[0], workers=1, progress=False, models=("alexnet",),
                    frames_per_edge=2, edges=(), bandwidths=(), calibration="paper-fit",
                    compare=False)
    report = (tmp_path / "report.md").read_text()
    assert "**paper-fit** (edge `rpi3b-paperfit`, cloud `paper-cloud-paperfit`" in report
    assert rep.calibration == "paper-fit"
    with pytest.raises(ValueError, match="calibration='fitted'"):
        reproduce(tmp_path, seeds=[0], models=("alexnet",), calibration="fitted")


def test_cli_reproduce__bad_model_is_a_clear_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "reproduce",
                          "--models", "vgg16", "--out", str(tmp_path), "--no-progress"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "models=['vgg16']" in res.stderr


def test_claims__a_range_inside_the_papers_holds_and_a_one_value_range_is_one_value():
    from splitgym.experiments.audit import _fmt, _range_ok

    # the case of the report: ours 2.28-2.99x against the paper's 2.03-3.30x
    assert _range_ok((2.28, 2.99), (2.03, 3.30))
    assert _range_ok((2.0, 3.4), (2.03, 3.30))  # ends within 5% of the claim's
    assert not _range_ok((1.5, 2.5), (2.03, 3.30))  # below it
    assert not _range_ok((2.5, 3.9), (2.03, 3.30))  # above it
    assert not _range_ok((float("nan"), float("nan")), (2.03, 3.30))
    assert _fmt((2.361, 2.359)) == "2.36x" and _fmt((2.28, 2.99)) == "2.28-2.99x"


class _Flat:
    """Results where every policy has nearly the same speedup (1% apart): the series a
    figure must keep apart."""

    def __init__(self, policies):
        self.k = {p: i for i, p in enumerate(policies)}

    def speedup(self, group, model, x, policy):
        return 3.0 * (1 + 0.01 * self.k[policy]), 0.0

    def get(self, group, model, x, policy):
        return np.array([1.0])

    def mean(self, group, model, x, policy):
        return 1.0


def test_figures__paper_values_are_stars_series_sit_apart_and_pngs_are_sharp(
        tmp_path, monkeypatch):
    from matplotlib.axes import Axes
    from PIL import Image

    from splitgym.experiments import figures

    pols = ["edge_only", "cloud_only", "single_cut", "queue_aware", "sq_link"]
    markers, xs = [], {}
    plot, errorbar = Axes.plot, Axes.errorbar

    def spy_plot(self, *args, **kw):
        markers.append(kw.get("marker"))
        return plot(self, *args, **kw)

    def spy_errorbar(self, x, y, *args, **kw):
        xs[kw.get("label")] = np.asarray(x, dtype=float)
        return errorbar(self, x, y, *args, **kw)

    monkeypatch.setattr(Axes, "plot", spy_plot)
    monkeypatch.setattr(Axes, "errorbar", spy_errorbar)
    figures.fig_bars(_Flat(pols), ["alexnet"], pols, tmp_path, "bars", "t")
    # report.md says stars mark the paper's values: every paper mark is a star
    assert markers and set(markers) == {"*"}
    xs.clear()  # the bars drew their error bars through errorbar too
    figures.fig_lines(_Flat(pols), "edges", "alexnet", [1, 2, 3, 4, 5], pols, tmp_path,
                      "lines", "t", "edges", ranges={})
    # five series 1% apart in value: side by side, at least DODGE of the span apart
    firsts = sorted(x[0] for x in xs.values())
    assert len(firsts) == 5 and min(np.diff(firsts)) >= figures.DODGE * 4 - 1e-9
    for name in ("bars", "lines"):
        dpi = Image.open(tmp_path / f"{name}.png").info["dpi"]
        assert round(dpi[0]) == figures.DPI >= 200
