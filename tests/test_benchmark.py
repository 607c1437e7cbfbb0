"""`splitgym benchmark`: the --quick protocol end to end on a local Ray instance, its
resumption, the score's normalisation and the statistics."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from splitgym.envs.core.config import ConfigError
from splitgym.experiments.benchmark import (
    EVAL_SEEDS,
    SUITES,
    aggregates,
    benchmark,
    compare,
    normalized_score,
    profiles,
    score_matrix,
    time_to_quality,
)


def _kill_after_first_checkpoint(out, proc):
    """SIGKILL seed 0's worker once its first checkpoint is logged (Tune then holds it);
    True if it was killed before its trial finished."""
    trial = out / "runs" / "alexnet_paper-4g_seed0"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (trial / "result.json").is_file():
            return False
        if (trial / "checkpoint_wall.jsonl").is_file() and (trial / "attempts").is_file():
            os.kill(int((trial / "attempts").read_text().split()[0]), signal.SIGKILL)
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "splitgym.experiments.cli", "benchmark", "--algo",
         "maskable_ppo", "--quick", "--out", str(out), "--cpus", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        killed = _kill_after_first_checkpoint(out, proc)
        log, _ = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, log
    return out, log, killed


def test_benchmark__quick_writes_scores_statistics_and_one_folder_per_trial(quick):
    out, log, _ = quick
    for name in ("references.json", "scores.csv", "summary.json", "summary.md",
                 "performance_profile.png"):
        assert (out / name).stat().st_size > 0, name
    with (out / "scores.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(int(r["seed"]) for r in rows) == [0, 1]
    refs = json.loads((out / "references.json").read_text())["alexnet/paper-4g"]
    for r in rows:
        # the score is the normalisation of the agent's value between S-C and best_known
        assert float(r["single_cut"]) == refs["values"]["single_cut"]
        assert math.isclose(float(r["score"]), normalized_score(
            float(r["value"]), float(r["single_cut"]), float(r["best_known"])))
        trial = out / "runs" / f"alexnet_paper-4g_seed{r['seed']}"
        meta = json.loads((trial / "trial.json").read_text())
        assert meta["seed"] == int(r["seed"]) and meta["commit"]
        assert meta["algo"] == "maskable_ppo" and meta["scenario"] == "paper-4g"
        # torch pinned to the trial's one Ray CPU (not the machine's cores): the agent
        # a trial trains does not depend on where it ran
        assert meta["torch_threads"] == 1
        result = json.loads((trial / "result.json").read_text())
        assert len(result["values"]) == 2 and result["train_wall_s"] > 0
    # the table names each scenario's best heuristic beside S-C and best_known
    assert f"| {refs['best_heuristic']} " in (out / "summary.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    lo, hi = summary["iqm_ci"]
    assert lo <= summary["iqm"] <= hi and summary["n_seeds"] == 2
    assert "IQM" in log and "stratified-bootstrap" in log


def test_benchmark__time_to_quality_is_the_first_checkpoint_reaching_the_target(quick):
    out, _, _ = quick
    trial = out / "runs" / "alexnet_paper-4g_seed0"
    run = next((trial / "train").glob("*/*/config.yml")).parent
    log = [json.loads(line) for line in (trial / "checkpoint_wall.jsonl").read_text()
           .splitlines()]
    assert [r["steps"] for r in log] == [128, 256]
    assert 0 < log[0]["wall_s"] < log[1]["wall_s"]
    seeds = (3000,)
    reached = time_to_quality(trial, run, "alexnet", "paper-4g", seeds, math.inf, 99.0)
    assert reached["time_to_quality_s"] == log[0]["wall_s"]  # the first checkpoint
    assert reached["time_to_quality_steps"] == 128
    never = time_to_quality(trial, run, "alexnet", "paper-4g", seeds, 0.0, 99.0)
    assert never["time_to_quality_s"] is None


def test_benchmark__a_killed_worker_resumes_its_trial(quick):
    out, _, killed = quick
    trial = out / "runs" / "alexnet_paper-4g_seed0"
    starts = (trial / "attempts").read_text().split()[1::2]
    result = json.loads((trial / "result.json").read_text())
    if killed:  # restarted by Tune from its reported checkpoint (or afresh before one)
        assert len(starts) >= 2 and result["restarts"] == len(starts) - 1
    assert starts[0] == "start"
    timing = next((trial / "train").glob("*/*/timing.jsonl")).read_text().splitlines()
    steps = json.loads(timing[-1])["num_timesteps"]
    assert steps >= 256  # the whole budget, resumed or not


def test_benchmark__a_finished_benchmark_resumes_without_running_a_trial(quick):
    out, _, _ = quick
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    summary = benchmark("maskable_ppo", out, quick=True, progress=False)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # no trial ran again
    assert summary["n_results"] == 2 and not summary["missing"]


def test_normalized_score__hand_computed():
    # S-C 30 s, best_known 20 s: an agent at 25 s closes half the gap, 30 s none,
    # 20 s all of it, 35 s is below S-C (-0.5); rush-hour's miss rates the same way.
    assert normalized_score(25.0, 30.0, 20.0) == 0.5
    assert normalized_score(30.0, 30.0, 20.0) == 0.0
    assert normalized_score(20.0, 30.0, 20.0) == 1.0
    assert normalized_score(35.0, 30.0, 20.0) == -0.5
    assert normalized_score(0.1, 0.4, 0.0) == pytest.approx(0.75)
    # nothing to close: 1 at best_known, 0 above it
    assert normalized_score(20.0, 20.0, 20.0) == 1.0
    assert normalized_score(21.0, 20.0, 20.0) == 0.0


def _scores_csv(path, algo, scores):
    path.mkdir()
    with (path / "scores.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["algo", "model", "scenario", "seed", "score"])
        w.writeheader()
        for (seed, task), s in np.ndenumerate(scores):
            w.writerow({"algo": algo, "model": "alexnet", "scenario": f"s{task}",
                        "seed": seed, "score": s})


def test_compare__probability_of_improvement(tmp_path):
    a = np.array([[0.9, 0.8, 0.7], [0.95, 0.85, 0.75]])
    _scores_csv(tmp_path / "a", "A", a)
    _scores_csv(tmp_path / "b", "B", a - 0.5)
    _scores_csv(tmp_path / "c", "C", a)
    res = compare(tmp_path / "a", tmp_path / "b", reps=100)
    assert res["probability_of_improvement"] == 1.0  # every run of A beats every run of B
    assert res["a"] == "A" and len(res["scenarios"]) == 3
    same = compare(tmp_path / "a", tmp_path / "c", reps=100)
    assert same["probability_of_improvement"] == 0.5  # identical: ties count half
    with pytest.raises(ConfigError, match="scores.csv"):
        compare(tmp_path / "a", tmp_path / "nothing")


def test_profiles__one_plot_of_several_folders_on_their_common_scenarios(tmp_path,
                                                                          capsys):
    from splitgym.experiments.cli import main

    a = np.array([[0.9, 0.8, 0.7], [0.95, 0.85, 0.75]])
    _scores_csv(tmp_path / "a", "A", a)
    _scores_csv(tmp_path / "b", "B", (a - 0.5)[:1])  # one seed only: still a curve
    _scores_csv(tmp_path / "c", "A", a[:, ::-1])  # the same algorithm's name again
    res = profiles([tmp_path / n for n in "abc"], tmp_path / "p.png")
    assert res["labels"] == ["A (a)", "B", "A (c)"] and res["seeds"] == [2, 1, 2]
    assert len(res["scenarios"]) == 3
    assert res["iqm"][0] == pytest.approx(aggregates(a, 100)["iqm"])
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    # an existing file is never replaced, whoever wrote it; nor is another kind written
    for bad, field in (("p.png", "exists"), ("p.txt", r"\.png, \.pdf or \.svg"),
                       ("no/p.png", "folder does not exist")):
        with pytest.raises(ConfigError, match=rf"--plot '.*{bad}'.*{field}"):
            profiles([tmp_path / "a"], tmp_path / bad)
    _scores_csv(tmp_path / "d", "D", a)
    rows = (tmp_path / "d" / "scores.csv").read_text().replace(",alexnet,", ",resnet18,")
    (tmp_path / "d" / "scores.csv").write_text(rows)
    with pytest.raises(ConfigError, match="share no scenario"):
        profiles([tmp_path / "a", tmp_path / "d"], tmp_path / "q.png")
    with pytest.raises(ConfigError, match=r"--profiles '.*nothing'.*no scores\.csv"):
        profiles([tmp_path / "a", tmp_path / "nothing"], tmp_path / "q.png")
    assert not (tmp_path / "q.png").exists()
    # the command line: --plot is required with --profiles, and only with it
    assert main(["benchmark", "--profiles", str(tmp_path / "a"), str(tmp_path / "b"),
                 "--plot", str(tmp_path / "r.svg")]) == 0
    assert "A: IQM" in capsys.readouterr().out and (tmp_path / "r.svg").is_file()
    assert main(["benchmark", "--profiles", str(tmp_path / "a")]) == 2
    assert "--profiles: --plot FILE is required" in capsys.readouterr().err
    assert main(["benchmark", "--plot", str(tmp_path / "s.png")]) == 2
    assert "--plot: only with --profiles" in capsys.readouterr().err


def test_profile_plot__each_legend_entry_names_its_own_curve():
    # rliable draws a curve (labelled) and a band (unlabelled) per algorithm; a legend
    # given a bare list of names pairs the names with curves and bands alike, so with
    # four algorithms the 2nd name labelled the 1st band and the 3rd the 2nd curve
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from splitgym.experiments.benchmark import _draw_profiles

    a = np.array([[0.9, 0.8, 0.7], [0.95, 0.85, 0.75]])
    scores = {"W": a, "X": a - 0.2, "Y": a - 0.4, "Z": a - 0.6}
    fig, ax = plt.subplots()
    _draw_profiles(ax, scores)
    legend = ax.get_legend()
    names = [t.get_text() for t in legend.get_texts()]
    assert names == list(scores)
    curves = {line.get_label(): line.get_color() for line in ax.get_lines()}
    for name, handle in zip(names, legend.legend_handles, strict=True):
        assert isinstance(handle, matplotlib.lines.Line2D)
        assert matplotlib.colors.same_color(handle.get_color(), curves[name])
    assert len({str(c) for c in curves.values()}) == 4  # four distinct colours
    plt.close(fig)


def test_score_matrix__seeds_by_scenarios():
    rows = [{"model": "m", "scenario": s, "seed": k, "score": 10 * k + i}
            for k in range(2) for i, s in enumerate(("x", "y"))]
    mat, tasks = score_matrix(rows)
    assert tasks == ["m/x", "m/y"] and mat.tolist() == [[0, 1], [10, 11]]


def test_benchmark__suites_seeds_and_refusals(tmp_path):
    assert len(SUITES["paper"]) == 12 and len(SUITES["conditions"]) == 18
    assert len(SUITES["all"]) == 30 and len(EVAL_SEEDS) == 10
    for kwargs, field in (({"algo": "nosuchmodule:f"}, "--algo"),
                          ({"algo": "ppo", "seeds": 0}, "--seeds"),
                          ({"algo": "ppo", "suite": "nope"}, "--suite"),
                          ({"algo": "ppo", "timesteps": -1}, "--timesteps")):
        with pytest.raises(ConfigError, match=field):
            benchmark(out=tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()  # refused before any work


def test_benchmark__another_algorithm_or_budget_in_the_same_folder_is_refused(quick):
    # a rerun resumes only the same benchmark: another algo, budget or quick-ness would
    # have published the earlier trials' results under the new name
    out, _, _ = quick
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    with pytest.raises(ConfigError, match=r"another benchmark's results \(algo='maskable_ppo'"
                                          r" \(now 'ppo'\)"):
        benchmark("ppo", out, quick=True, progress=False)
    with pytest.raises(ConfigError, match=r"timesteps=256 \(now 512\)"):
        benchmark("maskable_ppo", out, quick=True, timesteps=512, progress=False)
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_write_summary__time_to_quality_medians_in_seconds_and_steps(tmp_path):
    from splitgym.experiments.benchmark import write_summary

    def row(scenario, seed, wall, steps):
        return {"algo": "maskable_ppo", "model": "alexnet", "scenario": scenario,
                "seed": seed, "metric": "makespan_s", "value": 27.0, "single_cut": 30.0,
                "best_known": 26.0, "score": 0.75, "best_heuristic": "sq_lookahead",
                "best_heuristic_value": 27.5, "timesteps": 200_000, "eval_seeds": [3000],
                "train_wall_s": 50.0, "time_to_quality_s": wall,
                "time_to_quality_steps": steps, "restarts": 0, "run_dir": "x"}

    # 4 trials, 3 reached: at 20k steps (10 s), 60k (30 s) and with the final model
    # (steps not logged: the whole 200k run, 90 s); medians 30 s and 60,000 steps
    results = [row("paper-3g", 0, 10.0, 20_000), row("paper-3g", 1, 30.0, 60_000),
               row("paper-4g", 0, 90.0, None), row("paper-4g", 1, None, None)]
    summary = write_summary(tmp_path, results, "maskable_ppo", [], False, 1.0)
    ttq = summary["time_to_quality"]["paper"]
    assert ttq == {"median_s": 30.0, "median_steps": 60_000.0, "reached": 3, "trials": 4}
    assert "30.0 s median (median 60,000 steps)" in (tmp_path / "summary.md").read_text()
    # half or fewer reaching it: no median claimed
    few = write_summary(tmp_path, results[1:], "maskable_ppo", [], False, 1.0)
    assert few["time_to_quality"]["paper"]["median_s"] is not None  # 2 of 3
    none = write_summary(tmp_path, results[2:], "maskable_ppo", [], False, 1.0)
    assert none["time_to_quality"]["paper"]["median_steps"] is None  # 1 of 2
