"""A run folder survives kills and copies: its JSON and YAML are replaced atomically,
a torn ``validation.json`` (a kill while an older version wrote it) does not stop a
resume, and a resumed run writes only inside its own folder (issue 20)."""

from __future__ import annotations

import json
import math
import shutil
import zipfile

import pytest
import yaml

from splitgym.agents.train import resume, train
from splitgym.envs.core import ConfigError

TOY = dict(model="toy", bandwidth=0.008, env_kwargs={"n_edges": 1, "frames_per_edge": 3},
           hyperparams={"n_envs": 1, "n_steps": 32, "batch_size": 32, "bc_epochs": 0},
           checkpoint_freq=32, eval_freq=32, progress=False)


def _tb_files(run):
    return {p.relative_to(run): p.stat().st_size for p in (run / "tb").rglob("*")
            if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train("ppo", timesteps=64, run_root=tmp_path_factory.mktemp("runs"), **TOY)


def test_resume__a_copied_run_with_a_torn_validation_json_writes_only_inside_itself(
        run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    with zipfile.ZipFile(run / "model.zip") as zf:  # the file names the original's tb/
        assert json.loads(zf.read("data"))["tensorboard_log"] == str(run / "tb")
    original = _tb_files(run)
    (copy / "validation.json").write_text('{"best_makespan_s": 1')  # torn by a kill
    resume(copy, timesteps=128, progress=False)
    assert _tb_files(run) == original  # nothing appended to the original's tb/
    assert len(_tb_files(copy)) > len(original)
    val = json.loads((copy / "validation.json").read_text())
    assert math.isfinite(val["best_makespan_s"])
    assert yaml.safe_load((copy / "config.yml").read_text())["total_timesteps"] == 128
    assert not [p for p in copy.rglob(".*tmp-*")]  # no temporaries left behind


def test_resume__a_hand_edited_hyperparameter_is_refused_before_any_work(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    cfg = yaml.safe_load((copy / "config.yml").read_text())
    cfg["hyperparams"]["n_envs"] = 10**5
    (copy / "config.yml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"n_envs=100000: expected a whole number in "
                                          r"\[1, 1024\]"):
        resume(copy, timesteps=128, progress=False)


def test_train__an_unwritable_runs_folder_fails_before_any_work(tmp_path, monkeypatch):
    """(Root writes into read-only folders, so the unwritable place is under a file.)"""
    from splitgym.agents import train as train_mod
    from splitgym.experiments.outdir import OutputError

    def no_work(*_a, **_k):
        raise AssertionError("warmed up or built before checking --runs")

    monkeypatch.setattr(train_mod, "warm_engine", no_work)
    monkeypatch.setattr(train_mod, "_build", no_work)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"--runs='.*file/runs': '.*file' is not a folder"):
        train("ppo", timesteps=64, run_root=tmp_path / "file" / "runs", **TOY)
