"""Agent files load without running code from them; shipped agents match their cards;
an agent for another model is refused (or, same shape, warned about)."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers.agent_zip import with_serialized  # tests/helpers

from splitgym.agents import LearnedPolicy, available_pretrained, load_pretrained
from splitgym.agents import policy as policy_mod
from splitgym.agents.policy import load_model
from splitgym.agents.safe_load import (
    AgentChecksumError,
    AgentFileError,
    AgentMismatchError,
    AgentModelWarning,
    load_replay_buffer,
)
from splitgym.experiments.evaluate import evaluate_policies

PRETRAINED = Path(__file__).parents[1] / "agents" / "pretrained"


class _Payload:
    """Unpickling this writes `marker`: what a crafted agent file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def crafted_zip(tmp_path: Path, marker: Path, entry: str = "policy_class") -> Path:
    """A shipped agent with its `entry` serialized value replaced by `_Payload`."""
    return with_serialized(PRETRAINED / "alexnet-3g.zip", tmp_path / "crafted.zip", entry,
                           _Payload(marker))


@pytest.mark.parametrize("entry", ["policy_class", "lr_schedule", "observation_space"])
def test_safe_load__crafted_zip_runs_nothing_in_python(tmp_path, entry):
    marker = tmp_path / "marker"
    path = crafted_zip(tmp_path, marker, entry)
    with pytest.raises(AgentFileError, match=rf"entry '{entry}': refers to builtins\.exec.*"
                       r"--trust-agent"):
        LearnedPolicy.load(path)
    with pytest.raises(AgentFileError):
        load_model(path, "maskable_ppo")
    assert not marker.exists()


def test_safe_load__a_payload_in_a_resettable_entry_is_dropped_unrun(tmp_path):
    # the rollout state (_last_obs, ...) is reset by SB3 anyway: a payload there is
    # replaced by None and the agent loads clean
    marker = tmp_path / "marker"
    pol = LearnedPolicy.load(crafted_zip(tmp_path, marker, "_last_obs"))
    assert pol.model._last_obs is None and pol.n_cuts == 12
    assert not marker.exists()


def test_safe_load__trust_is_the_users_choice(tmp_path):
    marker = tmp_path / "marker"
    path = crafted_zip(tmp_path, marker)
    with pytest.raises(Exception):  # noqa: B017 - the payload returns no policy class
        LearnedPolicy.load(path, trust=True)
    assert marker.read_text() == "ran"  # full unpickling does run the file's code


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_cli_evaluate__crafted_agent_is_refused_in_one_line(tmp_path):
    marker = tmp_path / "marker"
    path = crafted_zip(tmp_path, marker)
    res = _cli("evaluate", "--model", "alexnet", "--bandwidth", "3g", "--seeds", "1",
               "--frames", "2", "--policies", "single_cut", "--agent", str(path),
               "--no-progress")
    assert res.returncode == 2 and not marker.exists()
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "entry 'policy_class': refers to builtins.exec" in res.stderr
    assert "--trust-agent" in res.stderr


def test_cli_train_resume__crafted_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "marker"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(crafted_zip(tmp_path, marker), run / "checkpoints" / "ckpt_256_steps.zip")
    cfg = {"algo": "maskable_ppo", "scenario": "alexnet-3g", "seed": 0,
           "total_timesteps": 512, "env_kwargs": {"model": "alexnet", "bandwidth_mbps": 1.1},
           "randomize": False, "vec": "dummy", "checkpoint_freq": 256, "eval_freq": 10**6,
           "hyperparams": {"n_envs": 1}}
    (run / "config.yml").write_text(json.dumps(cfg))  # JSON is YAML
    res = _cli("train", "--resume", str(run), "--no-progress")
    assert res.returncode == 2 and not marker.exists(), res.stderr[-2000:]
    assert "refers to builtins.exec" in res.stderr and "Traceback" not in res.stderr


def test_safe_load__crafted_replay_buffer_runs_nothing(tmp_path):
    from stable_baselines3 import DQN

    marker = tmp_path / "marker"
    buf = tmp_path / "buf.pkl"
    buf.write_bytes(pickle.dumps(_Payload(marker)))
    model = DQN("MlpPolicy", "CartPole-v1", buffer_size=100, device="cpu")
    with pytest.raises(AgentFileError, match=r"replay buffer .*refers to builtins\.exec"):
        load_replay_buffer(model, buf)
    assert not marker.exists()


def test_safe_load__every_shipped_agent_loads_without_unpickling(monkeypatch):
    # SB3 reaches cloudpickle only for serialized entries missing from custom_objects:
    # make that an error, then check the safe load acts exactly as the trusted one
    import stable_baselines3.common.save_util as save_util

    trusted = {n: LearnedPolicy.load(PRETRAINED / f"{n}.zip", trust=True)
               for n in available_pretrained()}

    def refuse(*_a, **_k):
        raise AssertionError("cloudpickle.loads called")

    monkeypatch.setattr(save_util.cloudpickle, "loads", refuse)
    obs = np.random.default_rng(0).uniform(0, 200, (16, 400))
    for name, ref in trusted.items():
        pol = LearnedPolicy.load(PRETRAINED / f"{name}.zip")
        assert pol.algo == "maskable_ppo"
        x = obs[:, :pol.obs_size]
        assert all(np.array_equal(pol.scores(o), ref.scores(o)) for o in x), name


def test_pretrained__every_zip_matches_the_sha256_in_its_card():
    names = available_pretrained()
    assert len(names) >= 19
    for name in names:
        sha = hashlib.sha256((PRETRAINED / f"{name}.zip").read_bytes()).hexdigest()
        assert json.loads((PRETRAINED / f"{name}.json").read_text())["sha256"] == sha, name
        assert f"`{sha}`" in (PRETRAINED / f"{name}.md").read_text(), name


def test_pretrained__a_changed_zip_is_refused(tmp_path, monkeypatch):
    for name in ("alexnet-3g.zip", "alexnet-3g.json"):
        shutil.copy(PRETRAINED / name, tmp_path / name)
    monkeypatch.setattr(policy_mod, "pretrained_dir", lambda: tmp_path)
    assert load_pretrained("alexnet", "3g").n_cuts == 12
    zpath = tmp_path / "alexnet-3g.zip"
    zpath.write_bytes(zpath.read_bytes() + b"\0")
    with pytest.raises(AgentChecksumError, match=r"shipped agent 'alexnet-3g': .* has "
                       r"SHA-256 [0-9a-f]{64}, its card alexnet-3g\.json says [0-9a-f]{64}"):
        load_pretrained("alexnet", "3g")


def test_load_model__algorithm_from_plain_metadata_only(tmp_path):
    # no card, no config: the algorithm is read from the policy class named in the
    # data (text), not found by trying classes; an unknown name is a named error
    path = tmp_path / "a.zip"
    shutil.copy(PRETRAINED / "alexnet-3g.zip", path)
    assert load_model(path)[1] == "maskable_ppo"
    with zipfile.ZipFile(PRETRAINED / "alexnet-3g.zip") as zin, \
            zipfile.ZipFile(tmp_path / "b.zip", "w") as zout:
        for item in zin.infolist():
            blob = zin.read(item)
            if item.filename == "data":
                doc = json.loads(blob)
                doc["policy_class"]["__module__"] = "mypkg.policies"
                blob = json.dumps(doc).encode()
            zout.writestr(item, blob)
    with pytest.raises(AgentFileError, match="cannot tell its algorithm"):
        load_model(tmp_path / "b.zip")
    with pytest.raises(AgentFileError, match="policy_class .* is not a policy of DQN"):
        load_model(path, "dqn")


def test_agent_for_another_model__refused_up_front_naming_both():
    env_kwargs = {"model": "resnet18", "bandwidth_mbps": 1.1, "n_edges": 1,
                  "frames_per_edge": 2}
    with pytest.raises(AgentMismatchError, match=r"\(alexnet: 12 cuts, observation of 58\) "
                       r"does not fit the env \(model 'resnet18': 5 cuts, observation of "
                       r"\d+\)"):
        evaluate_policies(env_kwargs, ["single_cut", f"agent:{PRETRAINED / 'alexnet-3g.zip'}"],
                          [0], progress=False)


def test_agent_for_another_model_of_the_same_shape__warns():
    env_kwargs = {"model": "googlenet", "bandwidth_mbps": 1.1, "n_edges": 1,
                  "frames_per_edge": 2}
    agent = f"agent:{PRETRAINED / 'resnet18-3g.zip'}"
    with pytest.warns(AgentModelWarning, match="trained for model 'resnet18', not "
                      "'googlenet'"):
        res = evaluate_policies(env_kwargs, [agent], [0], progress=False)
    assert np.isfinite(res[0].makespan_s)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its own model: no warning
        evaluate_policies(dict(env_kwargs, model="resnet18"), [agent], [0], progress=False)


def test_cli_evaluate__agent_for_another_model_is_one_line():
    res = _cli("evaluate", "--model", "resnet18", "--bandwidth", "3g", "--seeds", "1",
               "--frames", "2", "--policies", "single_cut", "--agent",
               str(PRETRAINED / "alexnet-3g.zip"), "--no-progress")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "does not fit the env (model 'resnet18': 5 cuts" in res.stderr


def test_cli_evaluate__same_shape_other_model_warns_in_one_line():
    res = _cli("evaluate", "--model", "googlenet", "--bandwidth", "3g", "--seeds", "1",
               "--frames", "2", "--policies", "single_cut", "--agent",
               str(PRETRAINED / "resnet18-3g.zip"), "--no-progress", "--no-best-known")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stderr.startswith("splitgym evaluate: warning: agent ") and \
        "trained for model 'resnet18', not 'googlenet'" in res.stderr.splitlines()[0]
