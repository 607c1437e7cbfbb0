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


def test_profile__factory_is_imported_from_the_working_directory(tmp_path, monkeypatch,
                                                                  capsys):
    # the console script's sys.path holds neither '' nor the working directory
    from splitgym.experiments.cli import main

    (tmp_path / "mynet_cwd.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert main(["profile", "mynet_cwd:factory", "--device", "pi", "--out", "m.json",
                 "--input-shape", "1,3,4", "--repeats", "3", "--warmup", "0",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mynet_cwd: 1 layers")  # named after its module
    assert "pi: sum of the layers over 3 repeats: median " in out
    assert "defaults: default_edge=pi, default_cloud=pi (its one device" in out
    assert str(tmp_path) not in sys.path  # the working directory was not left on the path
    sys.modules.pop("mynet_cwd", None)


def test_repeat_spread__median_percentiles_and_relative_spread():
    from splitgym.profiles.measure import WIDE_SPREAD, repeat_spread

    # 1..11 ms: median 6, p10 = 2 and p90 = 10 (ranks 1 and 9 of 0..10), spread 8/6
    got = repeat_spread([float(x) for x in range(11, 0, -1)])
    assert got == {"n": 11, "median": 6.0, "min": 1.0, "max": 11.0, "p10": 2.0,
                   "p90": 10.0, "spread": round(8 / 6, 6)}
    assert repeat_spread([5.0] * 4)["spread"] == 0.0 < WIDE_SPREAD


def _one_device(name, ms):
    from splitgym.profiles import load_profile

    return load_profile({
        "format": "splitgym-profile/1", "model": "m", "input_bytes": 100,
        "devices": {name: {}}, "default_edge": name, "default_cloud": name,
        "layers": [{"name": "x", "inputs": ["input"], "output_bytes": 10,
                    "latency_ms": {name: ms}}]})


def test_merge__a_second_device_sets_the_defaults_apart():
    from splitgym.profiles.measure import merge_device

    edge, cloud = _one_device("pi", 50.0), _one_device("gpu", 1.0)
    merged = merge_device(edge, cloud, "gpu")  # the faster is the cloud
    assert (merged.default_edge, merged.default_cloud) == ("pi", "gpu")
    merged = merge_device(cloud, edge, "pi")  # in either order
    assert (merged.default_edge, merged.default_cloud) == ("pi", "gpu")
    merged = merge_device(edge, cloud, "gpu", role="edge")  # unless told
    assert (merged.default_edge, merged.default_cloud) == ("gpu", "pi")
    # edge and cloud already apart: a third device changes nothing unless told
    third = _one_device("tpu", 0.5)
    assert (merge_device(merged, third, "tpu").default_edge,
            merge_device(merged, third, "tpu").default_cloud) == ("gpu", "pi")
    assert merge_device(merged, third, "tpu", role="cloud").default_cloud == "tpu"


def test_cli_profile__merge_says_what_it_set_and_a_wide_spread_is_warned(
        tmp_path, monkeypatch, capsys):
    import splitgym.profiles.measure as measure
    from splitgym.experiments.cli import main

    _one_device("pi", 50.0).save(tmp_path / "m.json")
    gpu = _one_device("gpu", 1.0).to_dict()
    gpu["provenance"] = {"devices": {"gpu": {"repeats_sum_of_layers_ms": measure.repeat_spread(
        [1.0, 1.0, 1.0, 3.0])}}}
    monkeypatch.setattr(measure, "measure_profile",
                        lambda *a, **k: measure.Profile.from_dict(gpu))
    assert main(["profile", "alexnet", "--device", "gpu", "--out",
                 str(tmp_path / "m.json"), "--merge", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert ("defaults: default_edge=pi (kept), default_cloud=gpu (was pi): the faster "
            "device is the cloud, the slower the edge") in out
    # p10 = 1, p90 = 2.4 (rank 2.7 of 0..3), median 1: spread 140%
    assert "median 1.000 ms, middle 80% 1.000-2.400 ms (spread 140%)" in out
    assert "warning: the repeats spread by 140% (more than 25%)" in err
