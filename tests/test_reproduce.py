"""A reduced reproduction (few frames, one seed) writes every file with sane numbers."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

from splitgym.experiments.reproduce import TABLE1_COLUMNS, reproduce


def test_reproduce__reduced_run_writes_every_file(tmp_path):
    reproduce(tmp_path, seeds=[0], workers=1, progress=False,
              models=("alexnet", "resnet18"), frames_per_edge=3, edges=(1, 2),
              bandwidths=(0.0, 1.1, 8.0))
    for name in ("table1.csv", "table1.md", "report.md", "fig2.png", "fig2.csv", "fig3.png",
                 "fig3.csv", "fig4.png", "fig4.csv", "fig5.png", "fig5.csv", "fig6.png",
                 "fig6.csv", "fig7.png", "fig7.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    rows = list(csv.DictReader((tmp_path / "table1.csv").open()))
    assert tuple(rows[0]) == TABLE1_COLUMNS
    assert len(rows) == 2 * 2 * 10  # models x networks x policies (9 + learned)
    for r in rows:
        mk = float(r["makespan_s"])
        assert math.isfinite(mk) and mk > 0
        assert float(r["lower_bound_s"]) <= mk * (1 + 1e-9)
        if r["paper_s"]:
            assert math.isclose(float(r["ratio"]), mk / float(r["paper_s"]), rel_tol=1e-4)
    # the paper ran no S-Q on DAGs: empty paper_s, marked beyond the paper
    sq_dag = [r for r in rows if r["model"] == "resnet18" and r["policy"] == "queue_aware"]
    assert all(r["paper_s"] == "" and r["beyond_paper"] == "True" for r in sq_dag)
    fig6 = list(csv.DictReader((tmp_path / "fig6.csv").open()))
    co0 = [r for r in fig6 if r["policy"] == "cloud_only" and float(r["bandwidth"]) == 0.0]
    assert float(co0[0]["speedup"]) == 0.0  # infinite delay at 0 Mbit/s
    report = (tmp_path / "report.md").read_text()
    assert "3G, chain models: S-Q equals S-C" in report
    assert "Gap to the lower bound" in report and "![fig6](fig6.png)" in report


def test_reproduce__deterministic_for_a_seed_list(tmp_path):
    kw = dict(seeds=[3], progress=False, models=("alexnet",), frames_per_edge=2, edges=(1,),
              bandwidths=(1.0,))
    a = reproduce(tmp_path / "a", workers=1, **kw)
    b = reproduce(tmp_path / "b", workers=2, **kw)
    assert (tmp_path / "a" / "table1.csv").read_text() == \
        (tmp_path / "b" / "table1.csv").read_text()
    assert a.table1 == b.table1


def test_cli_reproduce__bad_model_is_a_clear_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "reproduce",
                          "--models", "vgg16", "--out", str(tmp_path), "--no-progress"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "models=['vgg16']" in res.stderr
