"""Parameter-shared PPO over the edges of `splitgym.envs.multiagent`, beside the
centralised agent.

Every edge acts with one shared MaskablePPO network (sb3-contrib's policy, MLP 64x64,
the centralised agent's hyperparameters and behaviour-cloning warm start from
``sq_lookahead``), but learns as an agent of its own: a transition is one of *its*
decisions, its reward is the shared reward summed until its next decision (or the
episode's end), and advantages (GAE) run along its own decisions. The update is PPO's
clipped objective on the pooled transitions of all edges. Rollouts are whole episodes
(about 2,048 decisions per update), so no trajectory is cut and nothing bootstraps.

The centralised agent is the shipped one (`splitgym.agents.load_pretrained`: one
MaskablePPO agent choosing every cut, trained 100,000 decisions, seed 0). Both are
evaluated greedily on held-out seeds 0..n-1 that no training or validation used, in
the single-agent env and the multi-agent env respectively (the same episodes).

    PYTHONPATH=... python examples/multiagent_ppo.py --out results/multiagent
        --scenarios alexnet-3g,resnet18-4g --seeds 0,1 --timesteps 100000

Writes ``results.json`` and ``results.md`` under ``--out`` and one shared-policy zip per
run (loadable with ``LearnedPolicy.load``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import DummyVecEnv

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.agents import load_pretrained
from splitgym.agents.policy import LearnedPolicy
from splitgym.agents.safe_load import save_model
from splitgym.agents.train import (
    VALIDATION_SEEDS,
    behaviour_cloning,
    load_hyperparams,
    make_agent_env,
)
from splitgym.baselines import make_policy
from splitgym.envs import EdgeCloudEnv, multiagent, rollout
from splitgym.envs.core.config import parse_bandwidth_mbps
from splitgym.envs.observation import time_scale_s
from splitgym.fileio import write_atomic


def collect(aec: Any, policy: Any, n_decisions: int, first_seed: int,
            scale_s: float) -> tuple[dict[str, np.ndarray], list[float], int]:
    """Whole episodes until `n_decisions` decisions; per-agent transitions with GAE
    inputs. Returns the batch (flat), the episodes' makespans and the next seed."""
    buf: dict[str, list[Any]] = {k: [] for k in ("obs", "mask", "act", "logp", "val",
                                                 "rew", "done", "traj")}
    makespans = []
    seed = first_seed
    traj_id = 0
    while len(buf["obs"]) < n_decisions:
        aec.reset(seed=seed)
        seed += 1
        pending: dict[str, int] = {}  # agent -> index of its open transition
        ids = {a: traj_id + i for i, a in enumerate(aec.possible_agents)}
        traj_id += len(ids)
        for agent in aec.agent_iter():
            obs, reward, terminated, truncated, info = aec.last()
            if agent in pending:  # close its previous decision with the rewards since
                buf["rew"][pending[agent]] = reward / scale_s
            if terminated or truncated:
                if agent in pending:
                    buf["done"][pending[agent]] = True
                makespans.append(info["metrics"]["makespan_s"])
                aec.step(None)
                continue
            x = torch.as_tensor(obs["observation"][None])  # the network input as it is
            mask = obs["action_mask"].astype(bool)
            with torch.no_grad():
                action, value, logp = policy(x, action_masks=mask[None])
            pending[agent] = len(buf["obs"])
            for key, v in (("obs", x[0].numpy()), ("mask", mask), ("act", int(action[0])),
                           ("logp", float(logp[0])), ("val", float(value[0, 0])),
                           ("rew", 0.0), ("done", False), ("traj", ids[agent])):
                buf[key].append(v)
            aec.step(int(action[0]))
    batch = {k: np.asarray(v) for k, v in buf.items()}
    return batch, makespans[::len(aec.possible_agents)], seed


def gae(batch: dict[str, np.ndarray], gamma: float, lam: float) -> None:
    """Advantages and returns along each agent's own decisions (in place)."""
    adv = np.zeros(len(batch["rew"]))
    for t in np.unique(batch["traj"]):
        idx = np.flatnonzero(batch["traj"] == t)
        last = 0.0
        for j in range(len(idx) - 1, -1, -1):
            i = idx[j]
            nxt = 0.0 if batch["done"][i] else batch["val"][idx[j + 1]]
            delta = batch["rew"][i] + gamma * nxt - batch["val"][i]
            last = delta + gamma * lam * (0.0 if batch["done"][i] else last)
            adv[i] = last
    batch["adv"] = adv
    batch["ret"] = adv + batch["val"]


def update(policy: Any, batch: dict[str, np.ndarray], hp: dict[str, Any],
           gen: torch.Generator) -> None:
    """PPO's clipped surrogate, entropy bonus and value loss (SB3's defaults)."""
    t = {k: torch.as_tensor(v) for k, v in batch.items()}
    n = len(t["act"])
    for _ in range(int(hp["n_epochs"])):
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, int(hp["batch_size"])):
            i = perm[s:s + int(hp["batch_size"])]
            values, logp, entropy = policy.evaluate_actions(
                t["obs"][i], t["act"][i], action_masks=t["mask"][i].numpy())
            adv = t["adv"][i].float()
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = torch.exp(logp - t["logp"][i].float())
            clip = float(hp["clip_range"])
            pg = -torch.min(adv * ratio, adv * ratio.clamp(1 - clip, 1 + clip)).mean()
            vloss = torch.nn.functional.mse_loss(values.flatten(), t["ret"][i].float())
            loss = pg - float(hp["ent_coef"]) * entropy.mean() + 0.5 * vloss
            policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            policy.optimizer.step()


def ma_makespans(kwargs: dict[str, Any], agent: LearnedPolicy, seeds: Any) -> list[float]:
    """Greedy makespans of a shared policy in the multi-agent env."""
    env = multiagent.env(**kwargs)
    return [multiagent.rollout(env, agent, seed=s).metrics["makespan_s"] for s in seeds]


def train_shared(scenario: str, seed: int, timesteps: int, out: Path) -> dict[str, Any]:
    """One parameter-shared PPO run; returns its validation history and wall time."""
    model_name, bw = scenario.rsplit("-", 1)
    kwargs = {"model": model_name, "bandwidth_mbps": parse_bandwidth_mbps(bw)}
    hp = load_hyperparams("maskable_ppo", scenario)
    set_random_seed(seed)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    venv = DummyVecEnv([lambda: make_agent_env(kwargs)])  # only to build the network
    algo_kw = {k: hp[k] for k in ("learning_rate", "gamma", "gae_lambda", "ent_coef")}
    model = MaskablePPO("MlpPolicy", venv, seed=seed, device="cpu",
                        policy_kwargs={"net_arch": list(hp["net_arch"])}, **algo_kw)
    acc = behaviour_cloning(model, kwargs, False, hp["bc_expert"], int(hp["bc_episodes"]),
                            int(hp["bc_epochs"]), float(hp["bc_learning_rate"]), seed, False)
    aec = multiagent.raw_env(**kwargs)
    scale_s = time_scale_s(aec.edge_cloud_env.cut_table.whole_edge_s)
    per_update = int(hp["n_steps"]) * int(hp["n_envs"])
    gen = torch.Generator().manual_seed(seed)
    ep_seed = 10_000 * (seed + 1)  # the centralised agent's training seeds
    done, next_eval = 0, 0
    best, history = np.inf, []
    best_path = out / f"{scenario}_seed{seed}.zip"
    while True:
        if done >= next_eval:
            agent = LearnedPolicy(model, "maskable_ppo")
            val = float(np.mean(ma_makespans(kwargs, agent, VALIDATION_SEEDS)))
            history.append({"step": done, "makespan_s": val})
            if val < best:
                best = val
                save_model(model, best_path, "maskable_ppo")  # with plain data
            next_eval += 20_000
        if done >= timesteps:
            break
        batch, _, ep_seed = collect(aec, model.policy, per_update, ep_seed, scale_s)
        gae(batch, float(hp["gamma"]), float(hp["gae_lambda"]))
        update(model.policy, batch, hp, gen)
        done += len(batch["act"])
    return {"imitation_accuracy": acc, "validation": history, "best_validation_s": best,
            "train_wall_s": time.perf_counter() - t0, "decisions": done,
            "model": str(best_path)}


def main() -> None:
    """Train, evaluate on held-out seeds and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default="alexnet-3g,resnet18-4g")
    ap.add_argument("--seeds", default="0,1", help="training seeds, comma-separated")
    ap.add_argument("--timesteps", type=int, default=100_000, help="decisions per run")
    ap.add_argument("--eval-seeds", type=int, default=10, help="held-out seeds 0..n-1")
    ap.add_argument("--out", default="results/multiagent")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    held_out = range(args.eval_seeds)
    results: dict[str, Any] = {"timesteps": args.timesteps, "held_out_seeds":
                               list(held_out), "scenarios": {}}
    for scenario in args.scenarios.split(","):
        model_name, bw = scenario.rsplit("-", 1)
        kwargs = {"model": model_name, "bandwidth_mbps": parse_bandwidth_mbps(bw)}
        env = EdgeCloudEnv(**kwargs)
        row: dict[str, Any] = {}
        for name in ("single_cut", "sq_lookahead"):
            row[name] = [rollout(env, make_policy(name), seed=s).metrics["makespan_s"]
                         for s in held_out]
        central = load_pretrained(model_name, bw)
        row["centralised (shipped, seed 0)"] = [
            rollout(env, central, seed=s).metrics["makespan_s"] for s in held_out]
        runs = {}
        for seed in (int(s) for s in args.seeds.split(",")):
            run = train_shared(scenario, seed, args.timesteps, out)
            agent = LearnedPolicy.load(run["model"], "maskable_ppo")
            row[f"shared PPO (seed {seed})"] = ma_makespans(kwargs, agent, held_out)
            runs[seed] = run
            print(f"{scenario} seed {seed}: held-out "
                  f"{np.mean(row[f'shared PPO (seed {seed})']):.2f} s, "
                  f"{run['train_wall_s']:.0f} s wall", flush=True)
        results["scenarios"][scenario] = {"makespans_s": row, "runs": runs}
        write_atomic(out / "results.json", json.dumps(results, indent=1))
    lines = [f"Held-out seeds 0-{args.eval_seeds - 1}; mean makespan [s] ± std over seeds; "
             f"{args.timesteps} training decisions per learned run.", "",
             "| scenario | policy | makespan (s) | ± std |", "|---|---|---|---|"]
    for scenario, res in results["scenarios"].items():
        for name, vals in res["makespans_s"].items():
            lines.append(f"| {scenario} | {name} | {np.mean(vals):.2f} | {np.std(vals):.2f} |")
    write_atomic(out / "results.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
