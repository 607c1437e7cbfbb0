"""docs/your-model.md, run as a user would: every code block and command of the page,
in order, in an empty temporary folder, on its tiny network (fewer repeats and
training steps than the page shows, so that it takes seconds)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import torch

DOC = Path(__file__).parents[1] / "docs" / "your-model.md"

#: what the test runs smaller than the page (the page's numbers are for a real model)
FASTER = {
    "profile": ["--repeats", "5", "--warmup", "1", "--no-progress"],
    "train": ["--hyperparams", "n_envs=2", "n_steps=64", "batch_size=64", "bc_episodes=2",
              "bc_epochs=1", "--eval-freq", "128", "--checkpoint-freq", "128"],
    "evaluate": ["--no-progress", "--plan-evaluations", "20"],
}


def blocks() -> list[tuple[str, str]]:
    """(info string, text) of every fenced block of the page, in order."""
    return re.findall(r"```([^\n]*)\n(.*?)```", DOC.read_text(), flags=re.S)


def _command(line: str) -> list[str]:
    args = shlex.split(line)
    assert args[0] == "splitgym", line
    if not torch.cuda.is_available():
        args = ["cpu" if a == "cuda" else a for a in args]
    if args[1] == "train":
        args[args.index("--timesteps") + 1] = "256"
    return [sys.executable, "-m", "splitgym.experiments.cli", *args[1:],
            *FASTER.get(args[1], [])]


def test_your_model__the_page_runs_from_an_empty_folder_to_an_evaluated_agent(tmp_path):
    out: list[str] = []
    for info, text in blocks():
        if info.startswith("python file="):
            (tmp_path / info.split("=", 1)[1]).write_text(text)
            continue
        if info == "python":
            cmds = [[sys.executable, "-c", text]]
        else:
            assert info == "bash", info
            cmds = [_command(line) for line in text.strip().splitlines()]
        for cmd in cmds:
            res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                                 timeout=600)
            assert res.returncode == 0, (cmd, res.stdout[-2000:], res.stderr[-3000:])
            out.append(res.stdout + res.stderr)
    profile_edge, profile_cloud, make, baselines, train, agent, table = out
    assert profile_edge.startswith("mynet: 7 layers, chain, edge whole model")
    assert "edge: sum of the layers over 5 repeats: median" in profile_edge
    assert ("defaults: default_edge=edge (kept), default_cloud=cloud (was edge): "
            "--role cloud") in profile_cloud
    assert "cuts: 8" in make and "single_cut   makespan" in make
    assert baselines.startswith("model=./mynet.json bandwidth=1.1 Mbit/s edges=5")
    assert all(p in baselines for p in ("edge_only", "cloud_only", "sq_lookahead"))
    run = tmp_path / "runs" / "maskable_ppo" / "mynet-3g_1"
    assert f"run folder: {Path('runs/maskable_ppo/mynet-3g_1')}" in train
    assert "validation (6 seeds): best " in train and (run / "best_model.zip").is_file()
    # the agent is evaluated under its own conditions (./mynet.json at 3G), unwarned
    assert agent.startswith("model=./mynet.json bandwidth=1.1 Mbit/s edges=5")
    assert "agent:runs/maskable_ppo/mynet-3g_1" in agent and "warning" not in agent
    assert re.search(r"\| 3G \| [\d.]+ s \(1\.00x\) \|", table)
    assert re.search(r"\| 4G \| [\d.]+ s \(1\.00x\) \|", table)
