"""`splitgym sweep`: the smoke config on a local Ray instance (2 CPUs), one of whose
trials has its worker killed mid-run and resumes from its last checkpoint."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitgym.envs.core.config import ConfigError
from splitgym.experiments.sweep import load_config, n_trials

ROOT = Path(__file__).parents[1]
SMOKE = ROOT / "examples" / "sweep-smoke.yml"


def _kill_first_trial_after_a_checkpoint(out: Path, proc: subprocess.Popen) -> str:
    """Wait until the driver has recorded a result of some trial (so Tune holds its
    checkpoint), then SIGKILL that trial's worker process; return the trial's name."""
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and proc.poll() is None:
        for result in (out / "tune").glob("*/*/result.json"):
            if result.stat().st_size == 0:
                continue
            trial = "_".join(result.parent.name.split("_")[:4])  # train_trial_<id>_<n>
            starts = out / "attempts" / trial  # "<pid> start" per start of the trial
            if starts.is_file():
                os.kill(int(starts.read_text().split()[0]), signal.SIGKILL)
                return trial
        time.sleep(0.05)
    raise AssertionError("no trial reported a checkpoint in time")


def test_sweep__smoke_config_survives_a_killed_worker_and_writes_its_table(tmp_path):
    out = tmp_path / "sweep"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "splitgym.experiments.cli", "sweep", str(SMOKE), "--out",
         str(out), "--cpus", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=env)
    try:
        killed = _kill_first_trial_after_a_checkpoint(out, proc)
        log, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, log
    with (out / "sweep.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["bandwidth"] for r in rows) == ["3g", "4g"]  # one row per trial
    for row in rows:
        assert row["status"] == "ok"
        assert int(row["timesteps"]) >= 2000  # the whole budget, resumed or not
        assert 0 < float(row["heldout_makespan_s"]) < 1e3
    resumed = [r for r in rows if killed.endswith(r["trial"])]
    assert len(resumed) == 1
    # the killed trial went on from a checkpoint of its run, not from scratch
    assert resumed[0]["restarts"] == "1"
    assert "/checkpoints/ckpt_" in resumed[0]["resumed_from"]
    assert (out / "attempts" / killed).read_text().split()[1::2] == ["start", "resume"]
    assert len(list((out / "tune").glob("*/*/events.out.tfevents.*"))) >= 2  # TensorBoard
    assert (out / "sweep.md").read_text().count("| ok |") == 2
    # where TensorBoard's logs are (not Ray's temporary folder, deleted at exit), and
    # none of Tune's snapshot warnings
    assert f"TensorBoard: tensorboard --logdir {out / 'tune'}" in log
    assert log.count("tensorboard --logdir") == 1 and "snapshotting" not in log


def test_sweep__smoke_config_has_two_trials():
    assert n_trials(load_config(SMOKE)) == 2


@pytest.mark.parametrize(("text", "message"), [
    ("command: fit\n", r"command='fit': expected one of"),
    ("grid: {bandwith: [3g]}\n", r"grid\.bandwith: not an argument of splitgym train"),
    ("grid: {seed: 3}\n", r"grid\.seed=3: expected a non-empty list"),
    ("epochs: 3\n", r"unknown key 'epochs'"),
])
def test_sweep__bad_config_is_refused_naming_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_sweep__evaluate_trial_reports_each_policys_makespan(monkeypatch, tmp_path):
    # the trial function alone, its Tune report captured (no Ray instance needed)
    from ray import tune

    from splitgym.experiments import sweep

    reported = []
    monkeypatch.setattr(tune, "report", lambda metrics, **_: reported.append(metrics))
    sweep.evaluate_trial({"_sweep_out": str(tmp_path), "_eval_seeds": 0, "model": "alexnet",
                          "bandwidth": "3g", "policies": "edge_only,single_cut",
                          "seeds": 2, "env_kwargs": {"n_edges": 2, "frames_per_edge": 4}})
    (metrics,) = reported
    # edge-only never touches the link: its makespan is the edges' own work, and
    # single_cut offloads at 3G (AlexNet's narrow cut), so it finishes first
    assert 0 < metrics["single_cut_makespan_s"] < metrics["edge_only_makespan_s"]


def test_sweep__a_users_table_in_out_is_refused_before_any_trial(tmp_path, monkeypatch):
    """(issue 20) sweep.csv / sweep.md are replaced only where the folder's manifest
    lists them; a file of the user's of that name stops the sweep before Ray starts."""
    import ray

    from splitgym.experiments.outdir import OutputError, record_outputs
    from splitgym.experiments.sweep import sweep

    def no_ray(*_a, **_k):
        raise AssertionError("Ray started before --out was checked")

    monkeypatch.setattr(ray, "init", no_ray)
    (tmp_path / "sweep.csv").write_text("my own numbers")
    with pytest.raises(OutputError, match=r"sweep\.csv exist\(s\) there and "
                                          r"\.splitgym-manifest\.json does not list them"):
        sweep(SMOKE, tmp_path)
    assert (tmp_path / "sweep.csv").read_text() == "my own numbers"
    record_outputs(tmp_path, ["sweep.csv"], "splitgym sweep")  # as if the sweep wrote it
    with pytest.raises(AssertionError, match="Ray started"):
        sweep(SMOKE, tmp_path)  # listed and unchanged: the sweep may replace it
