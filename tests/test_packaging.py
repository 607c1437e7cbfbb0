"""The wheel holds every package folder of the repository and the shipped data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", ".venv-ci", "build", "dist", "tests", "results", "runs"}


def _package_dirs() -> set[str]:
    found = set()
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel.parts and (rel.parts[0] in SKIP or rel.parts[0].startswith(".")):
            continue
        found.add("/".join(("splitgym", *rel.parts)))
    return found


def test_wheel__contains_every_package_and_the_shipped_profiles(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", ".pathdir", "build", "dist", "*.egg-info", "__pycache__", "results",
        "runs"))
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(src)], check=True)
    (wheel,) = out.glob("splitgym-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packaged = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    expected = _package_dirs()
    assert "splitgym/envs/core" in expected
    assert expected <= packaged, f"missing from the wheel: {sorted(expected - packaged)}"
    for data in ("splitgym/profiles/toy.json", "splitgym/profiles/alexnet.json",
                 "splitgym/py.typed", "splitgym/__main__.py"):  # python -m splitgym
        assert data in names
    assert not any(n.startswith(("tests/", "splitgym/tests/")) for n in names)


def test_wheel__ships_the_agents_and_hyperparameters(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", ".pathdir", "build", "dist", "*.egg-info", "__pycache__", "results",
        "runs"))
    out = tmp_path / "wheel"
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                          "--no-build-isolation", "-w", str(out), str(src)],
                         capture_output=True, text=True, check=True)
    assert "absent from the `packages` configuration" not in res.stdout + res.stderr
    (wheel,) = out.glob("splitgym-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "splitgym/agents/hyperparams/maskable_ppo.yml" in names
    assert "splitgym/agents/pretrained/alexnet-3g.zip" in names
    assert "splitgym/agents/pretrained/alexnet-3g.md" in names


def test_record_video__its_moviepy_is_an_extra_the_readme_names():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(d.startswith("moviepy") for d in extras["video"])
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "RecordVideo` (which writes with MoviePy: `pip install \"splitgym[video]\"`)" \
        in readme


def test_record_video__writes_an_episode_where_moviepy_is_installed(tmp_path):
    import pytest

    pytest.importorskip("moviepy")
    import gymnasium as gym

    from splitgym.baselines import make_policy
    from splitgym.envs import rollout

    env = gym.wrappers.RecordVideo(gym.make("splitgym/EdgeCloud-v0", model="toy", n_edges=1,
                                            frames_per_edge=3, render_mode="rgb_array"),
                                   str(tmp_path), disable_logger=True)
    rollout(env, make_policy("single_cut"), seed=0)
    env.close()
    assert list(tmp_path.glob("*.mp4"))
