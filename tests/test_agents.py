"""Agents: train, resume and evaluate as a user would, in subprocesses; shipped agents."""

from __future__ import annotations

import importlib.resources
import json
import math
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

from splitgym.agents import LearnedPolicy, available_pretrained, load_pretrained
from splitgym.agents.train import load_hyperparams, scenario_name
from splitgym.envs import EdgeCloudEnv, rollout

TOY = ["--model", "toy", "--bandwidth", "0.008",
       "--env-kwargs", "n_edges=1", "frames_per_edge=3"]


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", *args],
                          capture_output=True, text=True, **kw)


@pytest.mark.parametrize("algo,extra", [
    ("maskable_ppo", ["n_envs=2", "n_steps=64", "batch_size=64", "bc_episodes=2",
                      "bc_epochs=1"]),
    ("ppo", ["n_envs=1", "n_steps=64", "batch_size=32", "bc_epochs=0", "learning_rate=1e-4",
             "net_arch=[32,32]"]),
    ("a2c", ["n_envs=2", "n_steps=8", "bc_epochs=0"]),
    ("dqn", ["n_envs=1", "learning_starts=32", "buffer_size=500"]),
])
def test_cli_train__smoke_every_algorithm(tmp_path, algo, extra):
    res = _cli("train", "--algo", algo, *TOY, "--timesteps", "200", "--runs", str(tmp_path),
               "--checkpoint-freq", "128", "--eval-freq", "128", "--no-progress",
               "--hyperparams", *extra)
    assert res.returncode == 0, res.stderr[-2000:]
    run = tmp_path / algo / "toy-0.008mbps_1"
    cfg = yaml.safe_load((run / "config.yml").read_text())
    # 200 steps: whole rollouts of 128 (2 x 64), 64 (1 x 64) or 16 (2 x 8), or train_freq
    # 4 x 1 env: the total recorded is the one run, and the request beside it
    ran = {"maskable_ppo": 256, "ppo": 256, "a2c": 208, "dqn": 200}[algo]
    assert cfg["algo"] == algo and cfg["seed"] == 0 and cfg["total_timesteps"] == ran
    timing = json.loads((run / "timing.jsonl").read_text().splitlines()[-1])
    assert timing["num_timesteps"] == ran
    assert cfg.get("requested_timesteps", 200) == 200
    if ran != 200:
        assert "--timesteps 200: " in res.stderr and f"the run takes {ran} steps" in res.stderr
    assert "validation (6 seeds): best " in res.stdout  # the result, not just the folder
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((run / "tb").rglob("events.out.tfevents.*")).parent))
    assert "rollout/ep_rew_mean" in events.Reload().Tags()["scalars"]
    assert cfg["commit"] and cfg["splitgym_version"]
    if algo == "ppo":  # "1e-4" is a number (PyYAML alone reads it as text)
        assert cfg["hyperparams"]["learning_rate"] == 1e-4
        assert cfg["hyperparams"]["net_arch"] == [32, 32]
    assert (run / "model.zip").is_file() and (run / "best_model.zip").is_file()
    assert list((run / "checkpoints").glob("ckpt_*_steps.zip"))
    assert list((run / "tb").rglob("events.out.tfevents.*"))
    val = json.loads((run / "validation.json").read_text())
    assert math.isfinite(val["best_makespan_s"]) and val["best_baseline_makespan_s"] > 0
    # evaluate the run folder beside the baselines
    out = tmp_path / "eval.csv"
    res = _cli("evaluate", "--model", "toy", "--bandwidth", "0.008", "--n-edges", "1",
               "--frames", "3", "--seeds", "2", "--policies", "single_cut,queue_aware",
               "--agent", str(run), "--csv", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"agent:{run}" in res.stdout
    rows = out.read_text().splitlines()
    # header, two baselines, the agent, and best_known (seeded with the agent too)
    assert rows[0].startswith("policy,makespan_s") and len(rows) == 5
    assert rows[-1].startswith("best_known,")


def test_resume__skips_a_checkpoint_truncated_while_written(tmp_path, capsys):
    from stable_baselines3 import PPO

    from splitgym.agents.train import _checkpoints

    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=64, batch_size=32).save(
        ckpts / "ckpt_256_steps.zip")
    whole = (ckpts / "ckpt_256_steps.zip").read_bytes()
    # killed mid-write, at a point where zipfile.is_zipfile is fooled: the torch files
    # inside are zips, so the truncated archive ends in an inner end-of-directory record
    cut = next(n for n in range(len(whole) - 1, 0, -1)
               if whole[n - 22:n - 18] == b"PK\x05\x06")
    (ckpts / "ckpt_512_steps.zip").write_bytes(whole[:cut])
    assert zipfile.is_zipfile(ckpts / "ckpt_512_steps.zip")
    assert _checkpoints(tmp_path) == [ckpts / "ckpt_256_steps.zip"]
    assert "ckpt_512_steps.zip: incomplete" in capsys.readouterr().out
    (ckpts / "ckpt_256_steps.zip").write_bytes(whole[: len(whole) // 2])
    assert _checkpoints(tmp_path) == []  # nothing complete: start over


def test_resume__skips_a_checkpoint_whose_replay_buffer_was_cut_short(tmp_path, capsys):
    # an off-policy checkpoint is its zip and then its replay buffer: a kill between the
    # two leaves a whole zip with no buffer (or, from a damaged disk, a cut one), and
    # the one before is used
    from stable_baselines3 import DQN
    from stable_baselines3.common.vec_env import DummyVecEnv

    from splitgym.agents.safe_load import save_model, save_replay_buffer
    from splitgym.agents.train import _load_checkpoint

    venv = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    model = DQN("MlpPolicy", venv, buffer_size=100, learning_starts=10, seed=0)
    model.learn(20)
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    for steps in (100, 200):
        save_model(model, ckpts / f"ckpt_{steps}_steps.zip")
        save_replay_buffer(model, ckpts / f"ckpt_replay_buffer_{steps}_steps.npz")
    buf = ckpts / "ckpt_replay_buffer_200_steps.npz"
    buf.write_bytes(buf.read_bytes()[:100])
    loaded, ckpt = _load_checkpoint("dqn", venv, tmp_path)
    assert ckpt == ckpts / "ckpt_100_steps.zip" and loaded.replay_buffer.size() > 0
    assert "ckpt_replay_buffer_200_steps.npz: replay buffer unreadable" in \
        capsys.readouterr().out
    buf.unlink()
    assert _load_checkpoint("dqn", venv, tmp_path)[1] == ckpts / "ckpt_100_steps.zip"


def test_cli_train__resume_after_interruption(tmp_path):
    from splitgym.agents.train import _checkpoints

    args = ["train", "--algo", "ppo", *TOY, "--timesteps", "6000", "--runs", str(tmp_path),
            "--checkpoint-freq", "256", "--eval-freq", "100000", "--no-progress",
            "--hyperparams", "n_envs=1", "n_steps=128", "batch_size=64", "bc_epochs=0"]
    proc = subprocess.Popen([sys.executable, "-m", "splitgym.experiments.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = tmp_path / "ppo" / "toy-0.008mbps_1"
    deadline = time.time() + 240
    # kill it once a checkpoint is complete (one caught while written is a truncated zip,
    # which --resume skips: see the tests above)
    while time.time() < deadline and not _checkpoints(run):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # an interruption, not a clean stop
    proc.wait()
    assert not (run / "model.zip").exists(), "the run finished before it was interrupted"
    res = _cli("train", "--resume", str(run), "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    timing = [json.loads(line) for line in (run / "timing.jsonl").read_text().splitlines()]
    assert timing[-1]["resumed_from"] and "ckpt_" in timing[-1]["resumed_from"]
    assert timing[-1]["num_timesteps"] == 6016  # 6000 rounded up to whole rollouts of 128
    pol = LearnedPolicy.load(run / "model.zip")
    assert pol.model.num_timesteps == 6016


def _first_losses(run: Path) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (tb,) = [p.parent for p in run.rglob("events.out.tfevents.*")]
    acc = EventAccumulator(str(tb))
    acc.Reload()
    return [e.value for tag in ("train/loss", "train/value_loss", "train/policy_gradient_loss")
            for e in acc.Scalars(tag)[:1]]


def test_train__same_seed_one_env_gives_the_same_first_update_losses(tmp_path):
    from splitgym.agents.train import train

    hp = {"n_envs": 1, "n_steps": 64, "batch_size": 32, "n_epochs": 2, "bc_episodes": 2,
          "bc_epochs": 2}
    kw = dict(env_kwargs={"n_edges": 2, "frames_per_edge": 4}, hyperparams=hp,
              checkpoint_freq=10_000, eval_freq=10_000, progress=False)
    a = train("maskable_ppo", "toy", 0.008, 192, 3, run_root=tmp_path / "a", **kw)
    b = train("maskable_ppo", "toy", 0.008, 192, 3, run_root=tmp_path / "b", **kw)
    la, lb = _first_losses(a), _first_losses(b)
    assert len(la) == 3 and la == lb
    c = train("maskable_ppo", "toy", 0.008, 192, 4, run_root=tmp_path / "c", **kw)
    assert _first_losses(c) != la


def test_hyperparams__default_then_scenario_then_overrides():
    hp = load_hyperparams("maskable_ppo", "alexnet-random", {"gamma": 0.9}, "dummy")
    assert hp["n_steps"] == 512 and hp["gamma"] == 0.9 and hp["n_envs"] == 8
    assert hp["n_epochs"] == 10  # python_core's entry, under the scenario's
    native = load_hyperparams("maskable_ppo", "resnet18-3g")
    assert native["n_steps"] == 256 and native["n_envs"] == 16 and native["n_epochs"] == 10
    assert "reward_shaping" not in native  # imitating runs are unshaped
    # no imitation on the native vector env: the no_imitation entry's dense reward, under
    # the scenario's entry and the command line
    scratch = load_hyperparams("maskable_ppo", "resnet18-3g", {"bc_epochs": 0})
    assert scratch["reward_shaping"] == "predicted_makespan"
    assert "reward_shaping" not in load_hyperparams(
        "maskable_ppo", "resnet18-3g", {"bc_epochs": 0}, "dummy")  # native only
    assert load_hyperparams("maskable_ppo", "resnet18-3g", {"bc_epochs": 3}) == native | {
        "bc_epochs": 3}
    assert scenario_name("alexnet", "3G") == "alexnet-3g"
    assert scenario_name("alexnet", 2.5) == "alexnet-2.5mbps"
    assert scenario_name("alexnet", 1.1) == "alexnet-3g"  # --bandwidth 3g, read as 1.1
    with pytest.raises(ValueError, match="--algo='sac'"):
        load_hyperparams("sac", "x")


SHIPPED = [f"{m}-{b}" for m in ("alexnet", "tiny_yolo", "darknet19", "alexnet_parallel",
                                "resnet18", "googlenet") for b in ("3g", "4g", "random")] + [
    f"{m}-{p}" for m in ("alexnet", "tiny_yolo", "darknet19", "alexnet_parallel", "resnet18",
                         "googlenet") for p in ("cellular-markov", "mixed-fleet", "rush-hour")]


@pytest.mark.parametrize("scenario", SHIPPED)
def test_pretrained__loads_and_acts_on_a_fresh_env(scenario):
    assert scenario in available_pretrained()
    model, bandwidth = scenario.split("-", 1)
    pol = load_pretrained(model, bandwidth)
    if bandwidth in ("cellular-markov", "mixed-fleet", "rush-hour"):
        # the observation version the agent reads (rush-hour agents may read v1)
        env = EdgeCloudEnv(model=model, scenario=bandwidth, n_edges=5, frames_per_edge=5,
                           edge_speed=[1.0, 2.0, 1.0, 0.5, 1.0]
                           if bandwidth == "mixed-fleet" else None,
                           observation_version=pol.observation_version or 0)
    else:
        env = EdgeCloudEnv(model=model, bandwidth_mbps=5.85 if bandwidth == "4g" else 1.1,
                           frames_per_edge=5)
    ep = rollout(env, pol, seed=0)
    assert math.isfinite(ep.metrics["makespan_s"]) and ep.metrics["n_tasks"] == 25
    card = (Path(__file__).parents[1] / "agents" / "pretrained" / f"{scenario}.md")
    assert "Held-out evaluation" in card.read_text()
    size = card.with_suffix(".zip").stat().st_size
    # the weights and Adam's state twice: SB3's .pth and the .npy splitgym reads (the
    # largest, darknet19, 0.62 MB; 0.34 MB with the .pth alone)
    assert size < 700_000, f"{scenario}.zip is {size} bytes"


def test_pretrained__unknown_is_a_clear_error():
    with pytest.raises(ValueError, match="no shipped agent 'vgg-3g'"):
        load_pretrained("vgg", "3g")


def test_cli_train__bad_input(tmp_path):
    res = _cli("train", "--model", "toy", "--bandwidth", "-1", "--runs", str(tmp_path))
    assert res.returncode == 2 and "bandwidth" in res.stderr
    res = _cli("train", "--resume", str(tmp_path / "nope"))
    assert res.returncode == 2 and "no config.yml" in res.stderr
    res = _cli("train", "--model", "toy", "--env-kwargs", "n_edges", "--runs", str(tmp_path))
    assert res.returncode == 2 and "expected key=value" in res.stderr
    assert not os.listdir(tmp_path)  # nothing was created for a refused run


@pytest.mark.parametrize("scenario", ["alexnet-3g", "resnet18-4g", "googlenet-random"])
def test_pretrained__plain_sb3_predict_on_gym_make_makes_load_pretraineds_decisions(scenario):
    """An agent's input is the env's own observation: a shipped zip loaded by plain
    sb3-contrib and fed `gym.make` observations acts exactly as `load_pretrained`."""
    from sb3_contrib import MaskablePPO

    from splitgym.agents.policy import pretrained_dir

    model, bandwidth = scenario.split("-", 1)
    bw = "3g" if bandwidth == "random" else bandwidth
    with importlib.resources.as_file(pretrained_dir().joinpath(f"{scenario}.zip")) as path:
        sb3 = MaskablePPO.load(path, device="cpu")
    pol = load_pretrained(model, bandwidth)
    env = gym.make("splitgym/EdgeCloud-v0", model=model, bandwidth_mbps=bw)
    assert sb3.observation_space == env.observation_space
    decisions = 0
    for seed in (1000, 1001):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            action, _ = sb3.predict(obs, action_masks=env.unwrapped.action_masks(),
                                    deterministic=True)
            assert int(action) == pol(obs, info)
            obs, _, done, _, info = env.step(action)
            decisions += 1
    assert decisions == 2 * 150


@pytest.mark.parametrize("text,value", [
    ("1e-4", 1e-4), ("3E-4", 3e-4), ("1_000", 1000), ("-2", -2), (".5", 0.5),
    ("inf", math.inf), ("-1.5e3", -1500.0), ("[64,64]", [64, 64]), ("[1e-4, 2]", [1e-4, 2]),
    ("{kind: markov, rates_mbps: [8, 5e-1]}", {"kind": "markov", "rates_mbps": [8, 0.5]}),
    ("true", True), ("null", None), ("shared", "shared"), ("3g", "3g"),
    ("sq_lookahead", "sq_lookahead")])
def test_parse_value__every_number_a_user_types_is_a_number(text, value):
    from splitgym.agents.train import parse_kv, parse_value

    got = parse_value(text)
    assert got == value and type(got) is type(value)
    assert parse_kv([f"k={text}"], "--x") == {"k": value}


def test_cli_train__refuses_unknown_keys_and_bad_values_leaving_no_folder(tmp_path):
    from splitgym.agents.train import train
    from splitgym.envs.core import ConfigError

    runs = tmp_path / "runs"
    res = _cli("train", "--model", "toy", "--env-kwargs", "bandwith_mbps=3", "--runs",
               str(runs))
    assert res.returncode == 2
    assert "--env-kwargs bandwith_mbps=3: unknown key (did you mean 'bandwidth_mbps'?)" \
        in res.stderr and "queue_capacity" in res.stderr  # the valid keys are listed
    cases = [({"learnin_rate": 1e-4}, r"learnin_rate=0.0001: unknown key \(did you mean "
                                      r"'learning_rate'\?\); valid keys: .*bc_epochs"),
             ({"learning_rate": "abc"}, r"learning_rate='abc': expected a number"),
             ({"normalize_advantage": 1}, r"normalize_advantage=1: expected true or false"),
             ({"n_envs": 0}, r"n_envs=0: expected a whole number >= 1"),
             ({"net_arch": [64, "x"]},
              r"net_arch=\[64, 'x'\]: expected a list of at most 16 layer widths"),
             ({"bc_expert": "oracle"}, r"policy='oracle': unknown policy"),
             ({"n_steps": -3},
              r"n_steps=-3: expected a whole number in \[1, 1048576\]")]
    for hp, message in cases:
        with pytest.raises((ConfigError, ValueError), match=message):
            train("maskable_ppo", "toy", 0.008, 64, env_kwargs={"n_edges": 1},
                  hyperparams=hp, run_root=runs, progress=False)
    assert not runs.exists()  # nothing was created for a refused start


def test_train__a_start_that_fails_after_the_folder_is_made_removes_it(tmp_path,
                                                                        monkeypatch):
    from splitgym.agents import train as train_mod

    def broken(*args, **kwargs):
        raise RuntimeError("expert crashed")

    monkeypatch.setattr(train_mod, "behaviour_cloning", broken)
    runs = tmp_path / "runs"
    with pytest.raises(RuntimeError, match="expert crashed"):
        train_mod.train("maskable_ppo", "toy", 0.008, 64, env_kwargs={"n_edges": 1},
                        hyperparams={"n_envs": 1, "n_steps": 32, "batch_size": 32},
                        run_root=runs, progress=False)
    assert not runs.exists()  # not even an empty runs/maskable_ppo/
    (runs / "maskable_ppo" / "toy-0.008mbps_1").mkdir(parents=True)  # an earlier run
    with pytest.raises(RuntimeError):
        train_mod.train("maskable_ppo", "toy", 0.008, 64, env_kwargs={"n_edges": 1},
                        hyperparams={"n_envs": 1, "n_steps": 32, "batch_size": 32},
                        run_root=runs, progress=False)
    assert [p.name for p in (runs / "maskable_ppo").iterdir()] == ["toy-0.008mbps_1"]


def test_cli_train__resume_leaves_a_finished_run_and_extends_it_on_request(tmp_path):
    from splitgym.agents.train import _zip_steps

    # 250 steps are 256 in rollouts of 64; checkpoints at 100 and 200 are older than the
    # final model and must never replace it (as one did)
    args = ["train", "--algo", "ppo", *TOY, "--timesteps", "250", "--runs", str(tmp_path),
            "--checkpoint-freq", "100", "--eval-freq", "100000", "--no-progress",
            "--hyperparams", "n_envs=1", "n_steps=64", "batch_size=32", "bc_epochs=0"]
    assert _cli(*args).returncode == 0
    run = tmp_path / "ppo" / "toy-0.008mbps_1"
    final = (run / "model.zip").read_bytes()
    assert _zip_steps(run / "model.zip") == 256
    ckpts = sorted(_zip_steps(p) for p in (run / "checkpoints").glob("ckpt_*.zip"))
    assert ckpts == [100, 200]
    res = _cli("train", "--resume", str(run), "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    # the total recorded is the one run (250 asked)
    assert "already complete (256 steps; its total is 256), left untouched" in res.stdout
    assert (run / "model.zip").read_bytes() == final
    res = _cli("train", "--resume", str(run), "--timesteps", "256", "--no-progress")
    assert res.returncode == 0 and "--timesteps=256 is already reached" in res.stdout
    assert (run / "model.zip").read_bytes() == final
    res = _cli("train", "--resume", str(run), "--algo", "dqn", "--no-progress")
    assert res.returncode == 2 and "--algo cannot change a run" in res.stderr
    # --timesteps extends it, from the final model (not the older checkpoint)
    res = _cli("train", "--resume", str(run), "--timesteps", "300", "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    assert _zip_steps(run / "model.zip") == 320  # 300 in whole rollouts of 64
    timing = [json.loads(line) for line in (run / "timing.jsonl").read_text().splitlines()]
    assert timing[-1]["resumed_from"] == str(run / "model.zip")
    cfg = yaml.safe_load((run / "config.yml").read_text())
    assert cfg["total_timesteps"] == 320 and cfg["requested_timesteps"] == 300
    assert cfg["extended"][0]["from_total_timesteps"] == 256
    assert LearnedPolicy.load(run / "model.zip").model.num_timesteps == 320


def test_progress__the_bar_keeps_its_total_through_the_last_rollout():
    from stable_baselines3 import PPO

    from splitgym.agents.train import _Progress

    # 100 steps in rollouts of 64 are 128: tqdm drops a total the count passes
    model = PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=64, batch_size=32, n_epochs=1)
    bar = _Progress(100, enabled=True)
    model.learn(100, callback=bar)
    assert model.num_timesteps == 128
    assert bar.bar.total == bar.bar.n == 128


def test_hyperparams__every_shipped_entry_passes_the_checks():
    from splitgym.agents.train import HYPERPARAMS

    for path in HYPERPARAMS.glob("*.yml"):
        for scenario in yaml.safe_load(path.read_text()):
            hp = load_hyperparams(path.stem, scenario)  # raises on a bad key or value
            assert isinstance(hp["learning_rate"], float), (path.name, scenario)


def test_train__imitates_an_oracle_that_plans_each_episode_on_reset(tmp_path):
    """`bc_expert: best_known` (an oracle: it plans when told the episode started) is
    imitated like a heuristic; before, the imitation called it without its plan and
    stopped with best_known's RuntimeError."""
    from splitgym.agents.train import train

    hp = {"n_envs": 1, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "bc_episodes": 2,
          "bc_epochs": 2, "bc_expert": "best_known"}
    run = train("maskable_ppo", "toy", 0.008, 32, 0, env_kwargs={"n_edges": 2,
                "frames_per_edge": 4}, hyperparams=hp, checkpoint_freq=10_000,
                eval_freq=10_000, progress=False, run_root=tmp_path)
    imitation = json.loads((run / "imitation.json").read_text())
    assert imitation["expert"] == "best_known" and 0.0 <= imitation["accuracy"] <= 1.0


def test_pretrain__ships_the_best_candidate_on_the_selection_seeds(tmp_path, monkeypatch):
    """The shipped agent of a paper scenario is the candidate run with the lowest mean
    makespan on the selection seeds, and every no-imitation candidate is evaluated on
    the held-out seeds against the same table's S-C."""
    from splitgym.agents import pretrain
    from splitgym.agents.safe_load import sha256_file
    from splitgym.agents.train import train

    monkeypatch.setattr(pretrain, "SELECTION_SEEDS", (0, 1))
    monkeypatch.setattr(pretrain, "HELD_OUT_SEEDS", (2,))
    hp = {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "bc_episodes": 1}
    infos = []
    for mode, seed in (("imitation", 0), ("none", 0), ("none", 1)):
        run = train("maskable_ppo", "toy", "3g", 64, seed, run_root=tmp_path / f"{mode}{seed}",
                    hyperparams=dict(hp, bc_epochs=0 if mode == "none" else 3),
                    checkpoint_freq=10_000, eval_freq=10_000, progress=False)
        infos.append({"model": "toy", "bandwidth": "3g", "run": str(run),
                      "train_wall_s": 1.0 + seed, "mode": mode, "seed": seed})
    out = tmp_path / "out"
    out.mkdir()
    pretrain._select_and_publish((infos, str(out)))
    record = json.loads((out / "toy-3g.json").read_text())
    env = EdgeCloudEnv(model="toy", bandwidth_mbps="3g")
    scores = {}
    for info in infos:  # each candidate's mean on seeds 0 and 1, computed here again
        agent = LearnedPolicy.load(info["run"])
        scores[(info["mode"], info["seed"])] = sum(
            rollout(env, agent, seed=s).metrics["makespan_s"] for s in (0, 1)) / 2
    assert {(c["mode"], c["seed"]): c["selection_mean_s"]
            for c in record["candidates"]} == pytest.approx(scores, rel=1e-12)
    best = min(scores, key=lambda k: (scores[k], k))
    chosen = next(Path(i["run"]) for i in infos if (i["mode"], i["seed"]) == best)
    shipped = chosen / "best_model.zip"
    shipped = shipped if shipped.is_file() else chosen / "model.zip"
    assert record["sha256"] == sha256_file(shipped) == sha256_file(out / "toy-3g.zip")
    assert "chosen as the best of 3 candidate runs" in (out / "toy-3g.md").read_text()
    sc = record["held_out"]["single_cut"]["mean_s"]
    rows = {r["seed"]: r for r in record["no_imitation"]}
    assert sorted(rows) == [0, 1]
    for seed, row in rows.items():
        agent = LearnedPolicy.load(next(i["run"] for i in infos
                                        if (i["mode"], i["seed"]) == ("none", seed)))
        mean = rollout(env, agent, seed=2).metrics["makespan_s"]
        assert row["held_out_mean_s"] == pytest.approx(mean, rel=1e-12)
        assert row["vs_single_cut"] == pytest.approx(mean / sc - 1.0, rel=1e-12)
        assert row["train_wall_s"] == 1.0 + seed
