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
from pathlib import Path

import numpy as np
import pytest
from helpers.agent_zip import rewrite, with_serialized, without_plain  # tests/helpers

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


def crafted_zip(tmp_path: Path, marker: Path, entry: str = "policy_class",
                plain: bool = False) -> Path:
    """A shipped agent with its `entry` serialized value replaced by `_Payload`; without
    splitgym's plain data (as SB3 alone writes a zip) unless `plain`."""
    path = with_serialized(PRETRAINED / "alexnet-3g.zip", tmp_path / "crafted.zip", entry,
                           _Payload(marker))
    return path if plain else without_plain(path, tmp_path / "crafted_sb3.zip")


@pytest.mark.parametrize("entry", ["policy_class", "lr_schedule", "observation_space"])
def test_safe_load__a_zip_without_plain_data_is_refused_unread(tmp_path, entry):
    marker = tmp_path / "marker"
    path = crafted_zip(tmp_path, marker, entry)
    with pytest.raises(AgentFileError, match=r"crafted_sb3\.zip': entry 'splitgym\.json' "
                       r"missing: not written by splitgym \(its entries \[.*"
                       rf"'{entry}'.*\] are pickled.*--trust-agent"):
        LearnedPolicy.load(path)
    with pytest.raises(AgentFileError):
        load_model(path, "maskable_ppo")
    assert not marker.exists()


@pytest.mark.parametrize("entry", ["policy_class", "observation_space", "_last_obs",
                                   "lr_schedule", "ep_info_buffer"])
def test_safe_load__a_payload_beside_the_plain_data_is_never_decoded(tmp_path, entry):
    # SB3's pickled copy stays in the zip (SB3 itself still reads it) but splitgym
    # reads the plain data only: the payload neither runs nor changes a decision
    marker = tmp_path / "marker"
    pol = LearnedPolicy.load(crafted_zip(tmp_path, marker, entry, plain=True))
    ref = LearnedPolicy.load(PRETRAINED / "alexnet-3g.zip")
    assert not marker.exists()
    obs = np.random.default_rng(1).uniform(0, 9, (8, 58))
    assert all(np.array_equal(pol.scores(o), ref.scores(o)) for o in obs)
    assert pol.model.observation_space == ref.model.observation_space


def test_safe_load__trust_is_the_users_choice(tmp_path):
    marker = tmp_path / "marker"
    path = crafted_zip(tmp_path, marker)
    with pytest.raises(AgentFileError, match=r"trusted, fully unpickled"):
        LearnedPolicy.load(path, trust=True)  # the payload returns no policy class
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
    assert "entry 'splitgym.json' missing" in res.stderr
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
    assert "ckpt_256_steps.zip': entry 'splitgym.json' missing" in res.stderr
    assert "Traceback" not in res.stderr


def test_safe_load__a_pickled_replay_buffer_is_refused_unread(tmp_path):
    from stable_baselines3 import DQN

    marker = tmp_path / "marker"
    buf = tmp_path / "buf.pkl"
    buf.write_bytes(pickle.dumps(_Payload(marker)))
    model = DQN("MlpPolicy", "CartPole-v1", buffer_size=100, device="cpu")
    with pytest.raises(AgentFileError, match=r"replay buffer .*buf\.pkl': a pickled buffer "
                       r"\(splitgym reads its own \.npz buffers only\).*--trust-agent"):
        load_replay_buffer(model, buf)
    assert not marker.exists()


def test_replay_buffer__round_trips_through_plain_arrays(tmp_path):
    from stable_baselines3 import DQN

    from splitgym.agents.safe_load import save_replay_buffer

    a = DQN("MlpPolicy", "CartPole-v1", buffer_size=64, learning_starts=10, seed=0,
            device="cpu")
    a.learn(100)  # more than the buffer holds: it wraps (full, pos > 0)
    save_replay_buffer(a, tmp_path / "buf.npz")
    b = DQN("MlpPolicy", "CartPole-v1", buffer_size=64, device="cpu")
    load_replay_buffer(b, tmp_path / "buf.npz")
    ra, rb = a.replay_buffer, b.replay_buffer
    assert (rb.pos, rb.full) == (ra.pos, ra.full) and ra.full and ra.pos > 0
    for key in ("observations", "next_observations", "actions", "rewards", "dones",
                "timeouts"):
        assert np.array_equal(getattr(ra, key), getattr(rb, key)), key
    small = DQN("MlpPolicy", "CartPole-v1", buffer_size=32, device="cpu")
    with pytest.raises(AgentFileError, match=r"buf\.npz': entry 'actions\.npy' declares "
                       r"\d+ bytes, more than|buf\.npz': entry '\w+\.npy': .* shape"):
        load_replay_buffer(small, tmp_path / "buf.npz")


def test_safe_load__every_shipped_agent_is_its_trusted_self():
    # the plain data rebuilds what SB3's unpickling of the same zip gives: the same
    # spaces (and their generators' states), schedules, rollout state and weights
    import torch

    for name in available_pretrained():
        ref = LearnedPolicy.load(PRETRAINED / f"{name}.zip", trust=True).model
        got = LearnedPolicy.load(PRETRAINED / f"{name}.zip").model
        assert got.observation_space == ref.observation_space, name
        assert got.action_space == ref.action_space, name
        for space in ("observation_space", "action_space"):
            ga, gb = getattr(ref, space)._np_random, getattr(got, space)._np_random
            assert (ga is None and gb is None) or \
                ga.bit_generator.state == gb.bit_generator.state, name
        for key in ("lr_schedule", "clip_range", "clip_range_vf", "policy_kwargs",
                    "rollout_buffer_class", "num_timesteps", "n_steps"):
            assert repr(getattr(got, key)) == repr(getattr(ref, key)), (name, key)
        # the logging window: the same numbers (SB3's VecMonitor, which the native vector
        # env runs under, logs numpy scalars; the plain data keeps them as JSON numbers)
        assert [{k: float(v) for k, v in e.items()} for e in got.ep_info_buffer] == \
            [{k: float(v) for k, v in e.items()} for e in ref.ep_info_buffer], name
        assert np.array_equal(got._last_obs, ref._last_obs), name
        sa, sb = ref.policy.state_dict(), got.policy.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), name
        assert repr(got.policy.optimizer.state_dict()) == \
            repr(ref.policy.optimizer.state_dict()), name
        # the weights splitgym reads (.npy) are those SB3 reads (.pth): same decisions
        obs = np.random.default_rng(3).uniform(0, 9, (16, *ref.observation_space.shape))
        assert np.array_equal(got.predict(obs, deterministic=True)[0],
                              ref.predict(obs, deterministic=True)[0]), name


def test_safe_load__an_older_splitgym_zip_without_npy_weights_is_refused(tmp_path):
    # splitgym.json without state_dicts: the weights are in the .pth entries only, which
    # splitgym never reads; the error names the two ways on (each unpickles: trusted)
    import zipfile

    src = PRETRAINED / "alexnet-3g.zip"
    with zipfile.ZipFile(src) as zf:
        weights = [n for n in zf.namelist() if n.startswith("weights/")]
    assert len(weights) == 12 + 3 * 12  # the policy's tensors, Adam's three per weight
    old = rewrite(src, tmp_path / "old.zip", plain=lambda d: d.pop("state_dicts"),
                  entries=dict.fromkeys(weights))
    with pytest.raises(AgentFileError, match=r"old\.zip': entry 'splitgym\.json' declares "
                       r"no \.npy weights .*python -m splitgym\.agents\.convert "
                       r"--trust-agent IN OUT.*--trust-agent"):
        LearnedPolicy.load(old)
    assert LearnedPolicy.load(old, trust=True).n_cuts == 12  # SB3's own reader: trusted
    subprocess.run([sys.executable, "-m", "splitgym.agents.convert", "--trust-agent",
                    str(old), str(tmp_path / "new.zip")], check=True, timeout=300)
    with zipfile.ZipFile(tmp_path / "new.zip") as zf:
        assert sorted(n for n in zf.namelist() if n.startswith("weights/")) == sorted(weights)
    got, ref = LearnedPolicy.load(tmp_path / "new.zip"), LearnedPolicy.load(src)
    obs = np.random.default_rng(4).uniform(0, 9, (8, 58))
    assert all(np.array_equal(got.scores(o), ref.scores(o)) for o in obs)


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
    # no card, no config: the algorithm is read from the zip's splitgym.json, else from
    # the policy class named in the data (text), never found by trying classes; an
    # unknown name, or another algorithm than the file's, is a named error
    path = tmp_path / "a.zip"
    shutil.copy(PRETRAINED / "alexnet-3g.zip", path)
    assert load_model(path)[1] == "maskable_ppo"
    sb3 = without_plain(path, tmp_path / "sb3.zip")
    assert load_model(sb3, trust=True)[1] == "maskable_ppo"  # from the class named

    def unknown(doc):
        doc["policy_class"]["__module__"] = "mypkg.policies"
    rewrite(sb3, tmp_path / "b.zip", data=unknown)
    with pytest.raises(AgentFileError, match="cannot tell its algorithm"):
        load_model(tmp_path / "b.zip")
    with pytest.raises(AgentFileError, match=r"a\.zip': entry 'splitgym\.json': "
                       r"algo=\"maskable_ppo\", but it is loaded as dqn"):
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
    lines = res.stderr.splitlines()  # one line a warning (its conditions warn too)
    assert lines and all(line.startswith("splitgym evaluate: warning: agent ")
                         for line in lines)
    assert any("trained for model 'resnet18', not 'googlenet'" in line for line in lines)


_NO_UNPICKLER_CHILD = r"""
import json, pickle, sys, traceback
from pathlib import Path
import cloudpickle, torch
from splitgym.agents import LearnedPolicy, available_pretrained, load_pretrained
from splitgym.agents.train import resume, train

root = Path(sys.argv[1])
kw = dict(env_kwargs={"n_edges": 1, "frames_per_edge": 3}, run_root=root,
          checkpoint_freq=64, eval_freq=10**6, progress=False)
runs = [train("maskable_ppo", "toy", 0.008, 128, 0, hyperparams={
            "n_envs": 1, "n_steps": 64, "batch_size": 32, "bc_epochs": 0}, **kw),
        train("dqn", "toy", 0.008, 128, 0, hyperparams={
            "n_envs": 1, "learning_starts": 32, "buffer_size": 500}, **kw)]
(runs[0] / "model.zip").unlink()  # interrupted: resume from its newest checkpoint

calls = []
def refuse(name, real):
    def f(*a, **k):
        # numba reads its own cache index (the package's compiled engine, not a file
        # the user gives) with pickle: let that one through
        if any("numba/core/caching.py" in fr.filename for fr in traceback.extract_stack()):
            return real(*a, **k)
        calls.append(name)
        raise AssertionError(name + " called")
    return f
class NoUnpickler:
    def __init__(self, *a, **k):
        calls.append("pickle.Unpickler")
        raise AssertionError("pickle.Unpickler constructed")
def torch_load(*a, **k):  # weights_only or not: splitgym reads weights with numpy
    calls.append("torch.load")
    raise AssertionError("torch.load called")
pickle.Unpickler = NoUnpickler
pickle.load, pickle.loads = (refuse("pickle.load", pickle.load),
                             refuse("pickle.loads", pickle.loads))
cloudpickle.load, cloudpickle.loads = (refuse("cloudpickle.load", cloudpickle.load),
                                       refuse("cloudpickle.loads", cloudpickle.loads))
torch.load = torch_load

names = available_pretrained()
for name in names:
    model, _, bw = name.partition("-")
    load_pretrained(model, bw)
ppo = resume(runs[0], progress=False)         # from a checkpoint
dqn = resume(runs[1], timesteps=192, progress=False)  # the final model and ckpt's buffer
timing = [json.loads(l) for r in runs for l in (r / "timing.jsonl").read_text().splitlines()]
print(json.dumps({"calls": calls, "agents": len(names),
                  "resumed_from": [t["resumed_from"] for t in timing],
                  "buffer": LearnedPolicy.load(runs[1] / "model.zip").model.num_timesteps}))
"""


def test_no_unpickler__runs_for_shipped_agents_checkpoints_and_replay_buffers(tmp_path):
    # pickle's Unpickler and load(s), cloudpickle's load(s) and torch.load (weights_only
    # or not: its allowlist unpickler too) all raise; every shipped agent loads, an
    # interrupted run resumes
    # from its checkpoint, and a DQN run is extended from its final model and its
    # checkpoint's replay buffer (.npz)
    res = subprocess.run([sys.executable, "-c", _NO_UNPICKLER_CHILD, str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["calls"] == [] and out["agents"] == len(available_pretrained()) >= 22
    ppo, dqn = (tmp_path / a / "toy-0.008mbps_1" for a in ("maskable_ppo", "dqn"))
    assert out["resumed_from"] == [None, str(ppo / "checkpoints" / "ckpt_128_steps.zip"),
                                   None, str(dqn / "model.zip")]
    assert out["buffer"] == 192
    assert list((tmp_path / "dqn").rglob("ckpt_replay_buffer_*_steps.npz"))
    assert not list(tmp_path.rglob("*.pkl"))


@pytest.mark.parametrize("algo,hp", [
    ("maskable_ppo", {"n_envs": 2, "n_steps": 32, "batch_size": 32, "bc_epochs": 0,
                      "learning_rate": 1e-3}),
    ("a2c", {"n_envs": 1, "n_steps": 8, "bc_epochs": 0}),
    ("dqn", {"n_envs": 1, "learning_starts": 16, "buffer_size": 500, "train_freq": 2}),
])
def test_resume__from_plain_data_trains_as_sb3s_unpickled_checkpoint_does(tmp_path, algo, hp):
    # the same checkpoint resumed twice, from splitgym's plain data and through SB3's
    # full unpickling: the schedules, train_freq, optimizer state and (DQN) replay
    # buffer are the same, so the continued training ends in bit-identical weights
    import torch

    from splitgym.agents.train import resume, train

    run = train(algo, "toy", 0.008, 64, 0, env_kwargs={"n_edges": 1, "frames_per_edge": 3},
                hyperparams=hp, run_root=tmp_path / "a", checkpoint_freq=32,
                eval_freq=10**6, progress=False, vec="dummy")
    twin = tmp_path / "b" / run.name
    shutil.copytree(run, twin)
    for folder in (run, twin):
        (folder / "model.zip").unlink()
        for late in (folder / "checkpoints").glob("*_64_steps.*"):
            late.unlink()  # resume from the 32-step checkpoint
    resume(run, timesteps=128, progress=False)
    resume(twin, timesteps=128, progress=False, trust=True)
    a = LearnedPolicy.load(run / "model.zip").model
    b = LearnedPolicy.load(twin / "model.zip").model
    assert a.num_timesteps == b.num_timesteps >= 128
    sa, sb = a.policy.state_dict(), b.policy.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], v) for k, v in LearnedPolicy.load(
        run / "checkpoints" / "ckpt_32_steps.zip").model.policy.state_dict().items())


def test_convert__adds_the_plain_data_to_a_trusted_sb3_zip(tmp_path):
    # python -m splitgym.agents.convert: a zip SB3 wrote alone loads afterwards, acting
    # as the shipped agent it came from, every original entry kept byte for byte
    import zipfile

    sb3 = without_plain(PRETRAINED / "darknet19-4g.zip", tmp_path / "sb3.zip")
    res = subprocess.run([sys.executable, "-m", "splitgym.agents.convert", "--trust-agent",
                          str(sb3), str(tmp_path / "out.zip")], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0 and not res.stderr, res.stderr
    with zipfile.ZipFile(sb3) as a, zipfile.ZipFile(tmp_path / "out.zip") as b:
        assert all(a.read(n) == b.read(n) for n in a.namelist())
        assert "splitgym.json" in b.namelist()
    got, ref = (LearnedPolicy.load(p) for p in (tmp_path / "out.zip",
                                                PRETRAINED / "darknet19-4g.zip"))
    obs = np.random.default_rng(2).uniform(0, 9, (8, ref.obs_size))
    assert all(np.array_equal(got.scores(o), ref.scores(o)) for o in obs)


def test_convert__refuses_without_the_explicit_trust_flag(tmp_path):
    # the converter unpickles its input, so, like evaluate/train, it runs only on an
    # explicit --trust-agent (trust=True): without it a crafted zip is refused before it
    # is opened (the payload would write the marker), and nothing is written
    from splitgym.agents.convert import add_plain_data

    marker, out = tmp_path / "marker", tmp_path / "out.zip"
    path = crafted_zip(tmp_path, marker)
    res = subprocess.run([sys.executable, "-m", "splitgym.agents.convert", str(path),
                          str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res
    assert "crafted_sb3.zip: converting unpickles the file: pass --trust-agent" in res.stderr
    for trust in (False, 1, "yes"):  # only True itself opts in
        with pytest.raises(AgentFileError, match=r"crafted_sb3\.zip': converting "
                           r"unpickles the file: pass --trust-agent"):
            add_plain_data(path, out, "maskable_ppo", trust=trust)
    assert not marker.exists() and not out.exists()
    # with the flag the same file is unpickled, which is what the flag says (the payload
    # ran; its class then has no plain form, so nothing is written)
    with pytest.raises(AgentFileError, match="has no plain-data form"):
        add_plain_data(path, out, "maskable_ppo", trust=True)
    assert marker.read_text() == "ran" and not out.exists()


def test_source__decodes_files_only_through_the_plain_readers():
    # beside the patched-unpickler test above, a static look: the package's only
    # unpickling calls are the trusted converter's (agents/convert.py: cloudpickle,
    # torch.load) and numpy.load refuses pickles (anything new here must say why it is safe)
    import re

    root = Path(__file__).parents[1]
    pattern = re.compile(r"Unpickler|pickle\.loads?\(|\bth\.load\(|torch\.load\(|"
                         r"np\.load\(|numpy\.load\(|allow_pickle=True|weights_only=False")
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("tests", ".pkgroot", ".venv") or "site-packages" in rel.parts:
            continue
        for line in path.read_text().splitlines():
            code = line.split("#")[0]
            if pattern.search(code) and "``" not in code:  # ``...``: docstring text
                found.append((str(rel), line.strip()))
    assert found == [
        ("agents/convert.py", 'objects = {k: cloudpickle.loads(base64.b64decode('
                              'v[":serialized:"]))'),
        ("agents/convert.py", 'return torch.load(io.BytesIO(blob), map_location="cpu", '
                              "weights_only=True)"),
        ("agents/safe_load.py", "return np.load(fh, allow_pickle=False)"),
    ], found


def test_train__refuses_a_model_whose_checkpoints_it_could_not_load(tmp_path, monkeypatch):
    # a replay buffer past MAX_MODEL_BYTES (lowered here to 8 MB, so that the test needs
    # no gigabytes): refused before any training, and no folder made
    from splitgym.agents import safe_load
    from splitgym.agents.train import train
    from splitgym.envs.core import ConfigError

    monkeypatch.setattr(safe_load, "MAX_MODEL_BYTES", 8 * 2**20)
    with pytest.raises(ConfigError, match=r"--hyperparams: the model takes \d+ bytes "
                       r"\(networks and replay buffer: buffer_size rows of an observation "
                       r"of 58\), more than the 8388608 splitgym loads"):
        train("dqn", "alexnet", "3g", 1000, hyperparams={"buffer_size": 50_000,
                                                         "n_envs": 1},
              run_root=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())
