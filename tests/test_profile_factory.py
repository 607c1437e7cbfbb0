"""``splitgym profile pkg.module:factory`` imports (runs) the module only after every
other argument is checked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FACTORY = '''
from pathlib import Path
Path(__file__).with_name("imported").write_text("ran")

import torch


def factory():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
'''


def _profile(tmp_path, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "profile",
                           "evilmod:factory", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--device", "x", "--out", "p.json"], "give --input-shape"),
    (["--device", "x", "--out", "p.json", "--input-shape", "1,0,2"],
     "input_shape=(1, 0, 2): expected whole numbers >= 1"),
    (["--device", "x", "--out", "p.json", "--input-shape", "1,3,4", "--repeats", "0"],
     "repeats=0: expected a whole number >= 1"),
    (["--device", "x", "--out", "p.json", "--input-shape", "1,3,4", "--warmup", "-1"],
     "warmup=-1: expected a whole number >= 0"),
    (["--device", "x", "--out", "p.json", "--input-shape", "1,3,4", "--torch-device",
      "tpu"], "torch_device='tpu'"),
    (["--device", "x", "--out", "nowhere/p.json", "--input-shape", "1,3,4"],
     "--out='nowhere/p.json': expected a file in an existing, writable folder"),
    (["--device", " ", "--out", "p.json", "--input-shape", "1,3,4"],
     "--device=' ': expected a device name"),
    (["--device", "x", "--out", "p.json", "--input-shape", "1,3,4", "--merge"],
     "--merge: 'p.json' does not exist"),
])
def test_cli_profile__factory__arguments_checked_before_its_module_runs(
        tmp_path, monkeypatch, capsys, args, message):
    from splitgym.experiments.cli import main

    (tmp_path / "evilmod.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "evilmod" not in sys.modules
    assert main(["profile", "evilmod:factory", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "imported").exists() and "evilmod" not in sys.modules


def test_cli_profile__factory__runs_when_the_arguments_are_good(tmp_path):
    (tmp_path / "evilmod.py").write_text(FACTORY)
    res = _profile(tmp_path, "--device", "x", "--out", "p.json", "--input-shape", "1,3,4",
                   "--repeats", "1", "--warmup", "0", "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "imported").read_text() == "ran" and (tmp_path / "p.json").is_file()


def test_cli_profile__help_says_a_factory_is_code_that_runs():
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "profile",
                          "--help"], capture_output=True, text=True, timeout=120)
    assert "code that runs" in " ".join(res.stdout.split())
