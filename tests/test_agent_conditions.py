"""Conditions travel with an agent: a run's config.yml and a shipped card record the env
arguments it was trained under, and ``splitgym evaluate --agent`` uses them unless told
otherwise (and then warns). train and evaluate share their defaults."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import yaml

from splitgym.experiments.cli import _build_parser
from splitgym.experiments.evaluate import agent_conditions, conditions_for_agents

SHIPPED_3G = __import__("splitgym.agents.policy", fromlist=["x"]).pretrained_dir() \
    .joinpath("alexnet-3g.zip")
CLI_DEFAULTS = {"model": "alexnet", "bandwidth_mbps": 5.85, "n_edges": 5,
                "frames_per_edge": 30}


def _run(tmp_path, **env_kwargs):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yml").write_text(yaml.safe_dump({"algo": "maskable_ppo",
                                                    "env_kwargs": env_kwargs,
                                                    "randomize": False}))
    return run


def test_every_shipped_card_records_its_training_conditions():
    card = json.loads(SHIPPED_3G.with_suffix(".json").read_text())
    assert card["env_kwargs"] == {"model": "alexnet", "bandwidth_mbps": 1.1}
    assert agent_conditions(SHIPPED_3G) == ({"model": "alexnet", "bandwidth_mbps": 1.1},
                                            False)
    random = SHIPPED_3G.with_name("alexnet-random.zip")
    assert agent_conditions(random)[1] is True  # redrawn per episode: fixes nothing


def test_agent_conditions__a_run_folder_its_zips_and_its_checkpoints(tmp_path):
    run = _run(tmp_path, model="toy", bandwidth_mbps=0.008, n_edges=2)
    (run / "checkpoints").mkdir()
    want = ({"model": "toy", "bandwidth_mbps": 0.008, "n_edges": 2}, False)
    assert agent_conditions(run) == want
    assert agent_conditions(run / "best_model.zip") == want
    assert agent_conditions(run / "checkpoints" / "ckpt_64_steps.zip") == want
    assert agent_conditions(tmp_path / "loose.zip") is None


def test_conditions__the_agents_unless_told_otherwise_then_a_warning(tmp_path):
    run = _run(tmp_path, model="toy", bandwidth_mbps=0.008, n_edges=2)
    # nothing given: the agent's conditions, the CLI's defaults give way
    kwargs, told = conditions_for_agents(CLI_DEFAULTS, set(), [run])
    assert kwargs == {"model": "toy", "bandwidth_mbps": 0.008, "n_edges": 2}
    assert told == []
    # given as what the agent had: no warning
    kwargs, told = conditions_for_agents(dict(CLI_DEFAULTS, n_edges=2), {"n_edges"}, [run])
    assert kwargs["n_edges"] == 2 and told == []
    # given otherwise: the caller wins, and is told what the agent had
    kwargs, told = conditions_for_agents(dict(CLI_DEFAULTS, frames_per_edge=3),
                                         {"bandwidth_mbps", "frames_per_edge"}, [run])
    assert kwargs == {"model": "toy", "bandwidth_mbps": 5.85, "n_edges": 2,
                      "frames_per_edge": 3}
    assert told == [f"agent {str(run)!r} was trained under bandwidth_mbps=0.008, "
                    f"frames_per_edge=30; it is evaluated under bandwidth_mbps=5.85, "
                    f"frames_per_edge=3 as told (leave these out to evaluate it under "
                    f"its own conditions)"]


def test_cli_evaluate__a_3g_agent_runs_at_3g_unless_told_and_then_warns():
    common = [sys.executable, "-m", "splitgym.experiments.cli", "evaluate", "--agent",
              str(SHIPPED_3G), "--policies", "single_cut", "--seeds", "1",
              "--no-best-known", "--no-progress"]
    res = subprocess.run(common, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("model=alexnet bandwidth=1.1 Mbit/s edges=5 frames/edge=30")
    assert "warning" not in res.stderr
    res = subprocess.run(common + ["--bandwidth", "4g"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("model=alexnet bandwidth=5.85 Mbit/s")
    assert res.stderr.strip() == (
        f"splitgym evaluate: warning: agent {str(SHIPPED_3G)!r} was trained under "
        f"bandwidth_mbps=1.1; it is evaluated under bandwidth_mbps=5.85 as told (leave "
        f"these out to evaluate it under its own conditions)")


def test_train_and_evaluate_share_their_defaults():
    parser = _build_parser()
    train = parser.parse_args(["train"])
    evaluate = parser.parse_args(["evaluate"])
    for key in ("model", "bandwidth", "edge_device", "cloud_device"):
        assert getattr(train, key) == getattr(evaluate, key), key
    assert evaluate.bandwidth == 5.85  # 4G, the env's own default too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from splitgym.envs import EdgeCloudEnv

        assert EdgeCloudEnv().sim_config.bandwidth_mbps == evaluate.bandwidth


def test_cli_train__devices_are_recorded_and_travel_to_evaluate(tmp_path):
    cli = [sys.executable, "-m", "splitgym.experiments.cli"]
    res = subprocess.run(cli + [
        "train", "--model", "toy", "--bandwidth", "0.008", "--edge-device", "cloud",
        "--env-kwargs", "n_edges=1", "frames_per_edge=2", "--timesteps", "64", "--runs",
        str(tmp_path), "--eval-freq", "64", "--checkpoint-freq", "64", "--no-progress",
        "--hyperparams", "n_envs=1", "n_steps=64", "batch_size=64", "bc_epochs=0"],
        capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    run = tmp_path / "maskable_ppo" / "toy-0.008mbps_1"
    cfg = yaml.safe_load((run / "config.yml").read_text())
    assert cfg["env_kwargs"] == {"model": "toy", "bandwidth_mbps": 0.008,
                                 "edge_device": "cloud", "n_edges": 1, "frames_per_edge": 2}
    res = subprocess.run(cli + ["evaluate", "--agent", str(run), "--policies", "edge_only",
                                "--seeds", "1", "--no-best-known", "--no-progress"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("model=toy bandwidth=0.008 Mbit/s edges=1 frames/edge=2")
    assert "edge_device=cloud" in res.stdout.splitlines()[0] and "warning" not in res.stderr
