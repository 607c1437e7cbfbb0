"""The ``splitgym`` console script, run as a user would, in a subprocess."""

from __future__ import annotations

import csv
import subprocess
import sys


def _splitgym(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", *args],
                          capture_output=True, text=True)


def test_cli_evaluate__prints_a_table_and_writes_csv(tmp_path):
    out = tmp_path / "eval.csv"
    res = _splitgym("evaluate", "--model", "toy", "--bandwidth", "0.008", "--seeds", "2",
                    "--n-edges", "2", "--frames", "3", "--policies",
                    "edge_only,single_cut,fixed:2", "--csv", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "single_cut" in res.stdout and "fixed:2" in res.stdout
    rows = list(csv.DictReader(out.open()))
    # the offline planner is appended: every policy's gap to it is >= 0, its own is 0
    assert [r["policy"] for r in rows] == ["edge_only", "single_cut", "fixed:2", "best_known"]
    assert all(float(r["gap_to_best_known"]) >= 0 for r in rows)
    assert float(rows[-1]["gap_to_best_known"]) == 0.0
    assert "best_known: the offline planner" in res.stdout
    # edge-only on the toy: 3 frames x 4 s behind the later of two phases < 1/fps
    edge_only = float(rows[0]["makespan_s"])
    assert 12.0 <= edge_only < 12.0 + 1 / 5
    assert all(float(r["makespan_s"]) > 0 for r in rows)


def test_cli_evaluate__bad_input_is_a_clear_error():
    res = _splitgym("evaluate", "--bandwidth", "-3", "--no-progress")
    assert res.returncode == 2
    assert "--bandwidth=-3" in res.stderr
    res = _splitgym("evaluate", "--policies", "greedy", "--no-progress")
    assert res.returncode == 2
    assert "policy='greedy': unknown policy" in res.stderr
    res = _splitgym("evaluate", "--model", "missing.json", "--no-progress")
    assert res.returncode == 2
    assert "does not exist" in res.stderr


def test_cli_evaluate__proven_bound_tightens_the_bound_column(tmp_path):
    # toy at 1000 bytes/s, 1 edge x 3 frames: the CP-SAT relaxation (solved to
    # optimality in well under a second) is above the LP bound, so every policy's gap
    # to max(LP, CP-SAT) is smaller than to the LP alone, and still >= 0.
    common = ("evaluate", "--model", "toy", "--bandwidth", "0.008", "--seeds", "1",
              "--n-edges", "1", "--frames", "3", "--policies", "single_cut,edge_only",
              "--no-best-known", "--no-progress")
    lp, cp = tmp_path / "lp.csv", tmp_path / "cp.csv"
    res = _splitgym(*common, "--csv", str(lp))
    assert res.returncode == 0, res.stderr
    res = _splitgym(*common, "--proven-bound", "2", "--csv", str(cp))
    assert res.returncode == 0, res.stderr
    assert "vs bound: to max(LP bound, CP-SAT proven bound)" in res.stdout
    gaps_lp = [float(r["gap_to_bound"]) for r in csv.DictReader(lp.open())]
    gaps_cp = [float(r["gap_to_bound"]) for r in csv.DictReader(cp.open())]
    assert all(0 <= c < g for c, g in zip(gaps_cp, gaps_lp, strict=True))
    res = _splitgym("evaluate", "--proven-bound", "0", "--no-progress")
    assert res.returncode == 2
    assert "--proven-bound=0.0: expected seconds > 0" in res.stderr
