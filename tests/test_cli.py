"""The ``splitgym`` console script, run as a user would, in a subprocess."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest


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


def test_cli__a_usage_error_is_one_line_not_the_usage_block():
    res = _splitgym("evaluate", "--bandwidth", "5g", "--no-progress")
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        "splitgym evaluate: error: --bandwidth='5g': expected a number of Mbit/s >= 0 or "
        "one of ['3g', '4g'] (see 'splitgym evaluate --help')"]
    res = _splitgym("evaluate", "--seeds")
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1
    assert "argument --seeds: expected one argument" in res.stderr


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
    # --no-best-known: no 'vs best_known' column of nan gaps
    assert "nan" not in res.stdout and "vs best_known" not in res.stdout
    gaps_lp = [float(r["gap_to_bound"]) for r in csv.DictReader(lp.open())]
    gaps_cp = [float(r["gap_to_bound"]) for r in csv.DictReader(cp.open())]
    assert all(0 <= c < g for c, g in zip(gaps_cp, gaps_lp, strict=True))
    # a deterministic budget instead: the relaxation is as easy, so the same column
    work = tmp_path / "work.csv"
    res = _splitgym(*common, "--proven-bound-work", "1", "--csv", str(work))
    assert res.returncode == 0, res.stderr
    assert "CP-SAT 1 units of deterministic time per seed" in res.stdout
    assert [float(r["gap_to_bound"]) for r in csv.DictReader(work.open())] == gaps_cp
    res = _splitgym("evaluate", "--proven-bound", "0", "--no-progress")
    assert res.returncode == 2
    assert "--proven-bound=0.0: expected seconds > 0" in res.stderr


def _main(capsys, *args):
    """The CLI in this process (cheaper than a subprocess): (exit code, stdout, stderr)."""
    from splitgym.experiments.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # --help and argparse's own refusals
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_evaluate__shows_the_objectives_metric(tmp_path, capsys):
    # rush-hour's objective is the deadline-miss rate: it must be in the table, and be
    # the mean over seeds of the episodes' deadline_miss_rate
    import gymnasium as gym

    from splitgym.baselines import make_policy
    from splitgym.envs import ENV_ID, rollout

    out = tmp_path / "eval.csv"
    code, text, err = _main(capsys, "evaluate", "--model", "toy", "--scenario", "rush-hour",
                            "--frames", "4", "--seeds", "2", "--policies",
                            "single_cut,edge_only", "--csv", str(out), "--no-progress",
                            "--no-best-known")
    assert code == 0, err
    assert "miss_rate" in text.splitlines()[1]
    assert "objective: deadline-miss rate" in text
    env = gym.make(ENV_ID, model="toy", scenario="rush-hour", frames_per_edge=4)
    rows = {r["policy"]: r for r in csv.DictReader(out.open())}
    for name in ("single_cut", "edge_only"):
        want = sum(rollout(env, make_policy(name), seed=s).metrics["deadline_miss_rate"]
                   for s in (0, 1)) / 2
        assert rows[name]["objective"] == "deadline_miss"
        assert float(rows[name]["objective_value"]) == pytest.approx(want, abs=1e-12)
        shown = next(line for line in text.splitlines() if line.startswith(name))
        assert shown.split()[1] == f"{want:.3f}"
    # the makespan objective keeps the plain table, without the extra column or line
    code, text, _ = _main(capsys, "evaluate", "--model", "toy", "--bandwidth", "0.008",
                          "--n-edges", "1", "--frames", "2", "--seeds", "1", "--policies",
                          "single_cut", "--no-progress", "--no-best-known")
    assert code == 0 and "miss_rate" not in text and "objective:" not in text


def test_cli_evaluate__learned_says_which_agent_and_how_it_was_trained(capsys):
    from splitgym.experiments.evaluate import learned_notes, resolve_learned

    assert resolve_learned({"model": "alexnet", "bandwidth_mbps": 1.1}) == "alexnet-3g"
    assert resolve_learned({"model": "alexnet", "scenario": "paper-4g"}) == "alexnet-4g"
    assert resolve_learned({"model": "resnet18", "scenario": "mixed-fleet"}) == \
        "resnet18-mixed-fleet"
    assert resolve_learned({"model": "alexnet", "bandwidth_mbps": 2.5}) == "alexnet-random"
    assert resolve_learned({"model": "googlenet", "scenario": "rush-hour"}) == \
        "googlenet-rush-hour"
    with pytest.raises(ValueError, match="no shipped agent 'toy-rush-hour'.*--agent"):
        resolve_learned({"model": "toy", "scenario": "rush-hour"})
    (note,) = learned_notes(["single_cut", "learned"], {"model": "alexnet",
                                                        "bandwidth_mbps": 2.5})
    assert note.startswith("learned = shipped agent alexnet-random (no agent for this exact")
    assert "imitated sq_lookahead before RL" in note
    code, text, err = _main(capsys, "evaluate", "--bandwidth", "2.5", "--n-edges", "1",
                            "--frames", "2", "--seeds", "1", "--policies", "learned",
                            "--no-progress", "--no-best-known")
    assert code == 0, err
    assert "* learned = shipped agent alexnet-random" in text
    code, _, err = _main(capsys, "evaluate", "--policies", "greedy", "--no-progress")
    assert code == 2 and "learned (the shipped agent" in err and "fixed:<cut>" in err


def test_cli_help__every_option_shows_its_default_and_every_command_a_description(capsys):
    import argparse

    from splitgym.experiments.cli import _build_parser

    parser = _build_parser()
    (subs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"reproduce", "evaluate", "train", "profile", "bench"} <= set(subs.choices)
    for name, sub in subs.choices.items():
        assert sub.description and len(sub.description) > 40, name
        formatter = sub._get_formatter()
        for action in sub._actions:
            if action.default is None or action.default is False or action.default == [] \
                    or action.default == argparse.SUPPRESS:
                continue  # flags, --help, and options whose absence means "none"
            assert action.help, f"{name} {action.dest}: no help"
            assert "default" in formatter._get_help_string(action), \
                f"{name} {action.dest}: no default in --help"
    code, text, _ = _main(capsys, "train", "--help")
    flat = " ".join(text.split())
    assert code == 0
    assert "--timesteps TIMESTEPS total environment steps (default: 200000" in flat
    assert "--checkpoint-freq CHECKPOINT_FREQ save a checkpoint every this many steps " \
        "(default: 20000)" in flat
    assert "--eval-freq EVAL_FREQ validate (and keep best_model.zip) every this many " \
        "steps (default: 20000)" in flat
    assert "first imitates the sq_lookahead heuristic" in flat
    code, text, _ = _main(capsys, "bench", "--help")
    assert "Measure speed" in text and "(default: 200)" in text


def test_warm_engine__a_line_when_it_compiles_nothing_when_cached(tmp_path, monkeypatch):
    import io
    import os

    from splitgym.envs import EdgeCloudEnv, warmup

    # an empty numba cache is cold (read from the cache index only: no compiling here)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-c", "from splitgym.envs.warmup import "
                          "engine_cached; print(engine_cached())"], capture_output=True,
                         text=True, env=env)
    assert res.stdout.strip() == "False", res.stderr
    out = io.StringIO()
    monkeypatch.setattr(warmup, "engine_cached", lambda vector=False: False)
    kwargs = {"model": "toy", "n_edges": 1, "frames_per_edge": 2}
    took = warmup.warm_engine(EdgeCloudEnv(**kwargs), out, vector_kwargs=kwargs)
    assert took is not None and out.getvalue().startswith("compiling the simulation engine")
    assert f"engine compiled in {took:.0f} s" in out.getvalue()
    assert warmup.warm_engine(EdgeCloudEnv(model="toy", engine="python"), out) is None
    monkeypatch.setattr(warmup, "engine_cached", lambda vector=False: True)
    out = io.StringIO()
    assert warmup.warm_engine(EdgeCloudEnv(model="toy"), out) is None
    assert out.getvalue() == ""


def test_cli_profile__never_silently_replaces_a_profile(tmp_path, capsys, monkeypatch):
    import json
    import shutil
    from pathlib import Path

    shipped = Path(__file__).parents[1] / "profiles" / "toy.json"
    out = tmp_path / "toy.json"
    shutil.copy(shipped, out)
    before = out.read_bytes()
    code, _, err = _main(capsys, "profile", "alexnet", "--device", "x", "--out", str(out))
    assert code == 2 and out.read_bytes() == before
    assert "already exists (a profile of [" in err and "--merge adds device 'x'" in err
    assert "--force replaces it" in err
    # a tiny factory: --force replaces the file
    (tmp_path / "tinymods.py").write_text(
        "import torch\n"
        "def linear():\n    return torch.nn.Sequential(torch.nn.Linear(4, 3))\n"
        "def nothing():\n    return torch.nn.Identity()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = _main(capsys, "profile", "tinymods:linear", "--device", "x", "--out",
                         str(out), "--input-shape", "1,4", "--repeats", "2", "--warmup", "0",
                         "--force", "--no-progress")
    assert code == 0, err
    assert list(json.loads(out.read_text())["devices"]) == ["x"]
    code, _, err = _main(capsys, "profile", "tinymods:nothing", "--device", "x", "--out",
                         str(tmp_path / "none.json"), "--input-shape", "1,4", "--no-progress")
    assert code == 2 and "traced it to no layers" in err
    assert not (tmp_path / "none.json").exists()


def test_cli_evaluate__devices_and_env_kwargs_reach_the_env(tmp_path):
    # toy: edge-only is 4 s a frame on 'edge', and on 'cloud' (one tenth) much less; one
    # edge, 2 frames at 0.008 Mbit/s (transfers dominate): edge_only's makespan tells
    # which device the edge ran on
    common = ["evaluate", "--model", "toy", "--bandwidth", "0.008", "--seeds", "1",
              "--policies", "edge_only", "--no-best-known", "--no-progress",
              "--env-kwargs", "n_edges=1", "frames_per_edge=2", "fps=100"]
    slow = _splitgym(*common, "--csv", str(tmp_path / "a.csv"))
    fast = _splitgym(*common, "--edge-device", "cloud", "--csv", str(tmp_path / "b.csv"))
    assert slow.returncode == 0 and fast.returncode == 0, slow.stderr + fast.stderr
    assert fast.stdout.startswith("model=toy bandwidth=0.008 Mbit/s edges=1 frames/edge=2 ")
    assert "edge_device=cloud" in fast.stdout
    a = float(next(csv.DictReader((tmp_path / "a.csv").open()))["makespan_s"])
    b = float(next(csv.DictReader((tmp_path / "b.csv").open()))["makespan_s"])
    assert b < a
    res = _splitgym(*common, "--n-edges", "1")
    assert res.returncode == 2 and "--env-kwargs n_edges=...: also given as a flag" in res.stderr
    res = _splitgym("evaluate", "--env-kwargs", "bandwith_mbps=3", "--no-progress")
    assert res.returncode == 2 and "(did you mean 'bandwidth_mbps'?)" in res.stderr
