"""Evaluate policies on the same seeds (hence the same arrival times) and tabulate."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from splitgym.baselines import make_policy
from splitgym.envs import ENV_ID, rollout
from splitgym.envs.core.simulator import InvalidActionError


@dataclass(frozen=True)
class PolicyResult:
    """One policy over several seeds: means and spread of the episode metrics [s]."""

    policy: str
    makespan_s: float
    makespan_std_s: float
    mean_latency_s: float
    p95_latency_s: float
    n_seeds: int
    makespans_s: tuple[float, ...]


def parse_policy(spec: str) -> tuple[str, dict[str, Any]]:
    """``"single_cut"`` -> (name, {}); ``"fixed:3"`` -> ("fixed", {"cut": 3})."""
    name, _, arg = spec.strip().partition(":")
    if name == "fixed":
        if not arg.isdigit():
            raise ValueError(f"policy={spec!r}: write a fixed cut as fixed:<index>, e.g. fixed:3")
        return name, {"cut": int(arg)}
    if arg:
        raise ValueError(f"policy={spec!r}: only 'fixed' takes an argument")
    return name, {}


def evaluate_policies(env_kwargs: Mapping[str, Any], policies: Sequence[str],
                      seeds: Iterable[int], progress: bool = True) -> list[PolicyResult]:
    """Run every policy on every seed through ``gym.make(ENV_ID, **env_kwargs)``.

    A policy whose action is infeasible (cloud-only at bandwidth 0) gets an infinite
    makespan, the spec's reading of "its delay is infinite".
    """
    seeds = list(seeds)
    parsed = [(spec, *parse_policy(spec)) for spec in policies]
    built = [(spec, make_policy(name, **kw)) for spec, name, kw in parsed]
    env = gym.make(ENV_ID, **env_kwargs)
    results = []
    bar = tqdm(total=len(built) * len(seeds), desc="evaluate", unit="run", disable=not progress,
               leave=False)
    for spec, policy in built:
        rows = []
        for seed in seeds:
            try:
                rows.append(rollout(env, policy, seed=seed).metrics)
            except InvalidActionError:
                rows.append({"makespan_s": math.inf, "mean_latency_s": math.inf,
                             "p95_latency_s": math.inf})
            bar.update()
        mk = np.array([r["makespan_s"] for r in rows])
        results.append(PolicyResult(
            policy=spec, makespan_s=float(mk.mean()),
            makespan_std_s=float(mk.std()) if np.isfinite(mk).all() else math.nan,
            mean_latency_s=float(np.mean([r["mean_latency_s"] for r in rows])),
            p95_latency_s=float(np.mean([r["p95_latency_s"] for r in rows])),
            n_seeds=len(seeds), makespans_s=tuple(float(x) for x in mk)))
    bar.close()
    env.close()
    return results


COLUMNS = ("policy", "makespan_s", "makespan_std_s", "mean_latency_s", "p95_latency_s",
           "n_seeds")


def format_table(results: Sequence[PolicyResult]) -> str:
    """A plain-text table of the results, one row per policy."""
    head = f"{'policy':<16} {'makespan_s':>12} {'± std':>8} {'mean_lat_s':>11} {'p95_lat_s':>10}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.policy:<16} {r.makespan_s:>12.3f} {r.makespan_std_s:>8.3f} "
                     f"{r.mean_latency_s:>11.3f} {r.p95_latency_s:>10.3f}")
    return "\n".join(lines)


def write_csv(results: Sequence[PolicyResult], path: str | Path) -> None:
    """Write the results with the columns of `COLUMNS`."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in results:
            w.writerow([r.policy, r.makespan_s, r.makespan_std_s, r.mean_latency_s,
                        r.p95_latency_s, r.n_seeds])
