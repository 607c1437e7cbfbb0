"""Evaluate policies on the same seeds (hence the same arrival times) and tabulate."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from splitgym.baselines import POLICIES, make_policy, seed_lower_bounds
from splitgym.baselines.planner import gap
from splitgym.envs import ENV_ID, rollout
from splitgym.envs.core.simulator import InvalidActionError
from splitgym.fileio import atomic_target


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
    ratio_to_sq: float = math.nan  # makespan / queue_aware's on the same seeds
    gap_to_bound: float = math.nan  # makespan / LP lower bound - 1
    gap_to_best_known: float = math.nan  # mean over seeds of makespan / best_known's - 1
    plan_s: float = math.nan  # offline planners: mean planning time per episode [s]
    decision_ms: float = math.nan  # online planners (mpc): mean time per decision [ms]
    decision_max_ms: float = math.nan  # and the longest decision [ms]
    decision_cpu_ms: float = math.nan  # mean CPU time per decision [ms] (load-independent)
    objective: str = "makespan"  # the env's objective: what its reward measures
    objective_value: float = math.nan  # its metric's mean: makespan_s, mean_latency_s
    #                                    or deadline_miss_rate (a fraction)
    deadline_miss_rate: float = math.nan  # with a deadline, else nan


#: Each objective's metric in the episode metrics, and its table heading.
OBJECTIVE_METRIC: dict[str, tuple[str, str]] = {
    "makespan": ("makespan_s", "makespan (s)"),
    "mean_latency": ("mean_latency_s", "mean latency (s)"),
    "deadline_miss": ("deadline_miss_rate", "deadline-miss rate"),
    "energy": ("edge_energy_j", "edge energy (J)"),
    "makespan_energy": ("makespan_energy", "makespan + energy_weight_s_per_j x edge energy (s)"),
}
#: The first column of the table and its name in the note under it, per objective that
#: is not the makespan.
_FIRST = {"deadline_miss": "miss_rate", "energy": "energy_j", "makespan_energy": "weighted"}


def _objective_of(metrics: dict[str, Any], metric: str, weight_s_per_j: float) -> float:
    """One episode's objective value (`OBJECTIVE_METRIC`); inf where it never ran."""
    if metric == "makespan_energy":
        return metrics["makespan_s"] + weight_s_per_j * metrics.get("edge_energy_j", math.inf)
    return metrics.get(metric, math.inf)


def build_policy(spec: str, env_kwargs: Mapping[str, Any], trust: bool = False) -> Any:
    """A policy from its command-line name: a baseline, ``fixed:<cut>``, ``learned`` (the
    shipped agent of this model and conditions, see `resolve_learned`) or
    ``agent:<run folder or zip>``. Agent files are loaded without running code from them
    unless `trust`."""
    if spec.startswith("agent:"):
        from splitgym.agents.policy import LearnedPolicy

        return LearnedPolicy.load(spec[len("agent:"):], trust=trust)
    if spec == "learned":
        from splitgym.agents.policy import load_pretrained

        model, kind = resolve_learned(env_kwargs).split("-", 1)
        return load_pretrained(model, kind, trust=trust)
    name, kw = parse_policy(spec)
    try:
        return make_policy(name, **kw)
    except ValueError as exc:
        if "unknown policy" not in str(exc):
            raise
        from splitgym.baselines import POLICIES

        raise ValueError(f"policy={spec!r}: unknown policy; known: {sorted(POLICIES)}, "
                         f"fixed:<cut>, learned (the shipped agent of this model and "
                         f"conditions) and agent:<run folder or zip> (--agent)") from None


def resolve_learned(env_kwargs: Mapping[str, Any]) -> str:
    """The shipped agent ``learned`` means here: ``<model>-<scenario preset>`` for a
    preset, ``<model>-3g`` / ``<model>-4g`` at exactly 1.1 / 5.85 Mbit/s, and the agent
    trained on randomised conditions (``<model>-random``: 0.5-12 Mbit/s, 1-8 edges,
    C 5-30) at any other bandwidth."""
    from splitgym.agents.policy import available_pretrained
    from splitgym.envs.core.config import BANDWIDTH_PRESETS_MBPS, parse_bandwidth_mbps

    model = str(env_kwargs.get("model", "alexnet"))
    scenario = env_kwargs.get("scenario")
    if scenario not in (None, "paper-3g", "paper-4g"):
        name = f"{model}-{scenario}"
    else:
        bw = env_kwargs.get("bandwidth_mbps", 5.85)
        if scenario in ("paper-3g", "paper-4g"):
            bw = scenario[-2:]
        bw = parse_bandwidth_mbps(bw)
        net = next((k for k, v in BANDWIDTH_PRESETS_MBPS.items() if v == bw), "random")
        name = f"{model}-{net}"
    shipped = available_pretrained()
    if name not in shipped:
        mine = [n for n in shipped if n.startswith(f"{model}-")]
        raise ValueError(f"policy='learned': no shipped agent {name!r} for these conditions; "
                         f"shipped for {model}: {mine or 'none'}; train one and pass "
                         f"--agent RUN_DIR")
    return name


def learned_notes(policies: Sequence[str], env_kwargs: Mapping[str, Any]) -> list[str]:
    """One line per learned policy in `policies`: which agent it is and how it was
    trained (whether it imitated a heuristic before RL)."""
    notes = []
    for spec in policies:
        if spec == "learned":
            name = resolve_learned(env_kwargs)
            why = "" if not name.endswith("-random") or env_kwargs.get("scenario") else (
                " (no agent for this exact bandwidth: the one trained on randomised "
                "conditions, 0.5-12 Mbit/s, 1-8 edges, C 5-30)")
            notes.append(f"learned = shipped agent {name}{why}; {shipped_training(name)}")
        elif spec.startswith("agent:"):
            notes.append(f"{spec}: {_how_trained_run(Path(spec[len('agent:'):]))}")
    return notes


def _bc_phrase(algo: str, hp: Mapping[str, Any]) -> str:
    expert, epochs = hp.get("bc_expert"), int(hp.get("bc_epochs", 0) or 0)
    if algo != "dqn" and expert and epochs > 0:
        return f"{algo}, imitated {expert} before RL (behaviour cloning)"
    return f"{algo}, RL only (no imitation)"


def training_phrase(algo: str, imitation: str | None, card: str) -> str:
    """How a shipped agent was trained, in a few words, from its record's
    ``imitation`` text (newer records) or its model card's text (older ones)."""
    import re

    for text in (imitation or "", card):
        found = re.search(r"(?:behaviour cloning of|warm start from) `(\w+)`", text)
        if found:
            return f"{algo}, imitated {found.group(1)} before RL (behaviour cloning)"
        if "no imitation" in text:
            return f"{algo}, RL only (no imitation)"
    return f"{algo}, how it was trained: see its model card"


def shipped_training(name: str) -> str:
    """How the shipped agent `name` (``alexnet-3g``, ...) was trained, in a few words:
    whether it imitated a heuristic (which) before RL."""
    import json

    from splitgym.agents.policy import pretrained_dir

    meta, card = pretrained_dir().joinpath(f"{name}.json"), pretrained_dir().joinpath(
        f"{name}.md")
    record = json.loads(meta.read_text()) if meta.is_file() else {}
    return training_phrase(record.get("algo", "maskable_ppo"), record.get("imitation"),
                           card.read_text() if card.is_file() else "")


def shipped_training_note(names: Sequence[str]) -> str:
    """One sentence on how the shipped agents `names` were trained (for table notes)."""
    phrases = {n: shipped_training(n) for n in names}
    if not phrases:
        return ""
    if len(set(phrases.values())) == 1:
        return f"Shipped agents here: {next(iter(phrases.values()))}."
    return "Shipped agents here: " + "; ".join(f"{n}: {p}" for n, p in phrases.items()) + "."


def _how_trained_run(path: Path) -> str:
    import json

    import yaml

    card = path.with_suffix(".json")
    if path.suffix == ".zip" and card.is_file():  # a shipped agent's zip and its card
        record = json.loads(card.read_text())
        md = path.with_suffix(".md")
        return training_phrase(str(record.get("algo", "?")), record.get("imitation"),
                               md.read_text() if md.is_file() else "")

    for cfg in (path / "config.yml", path.parent / "config.yml"):
        if cfg.is_file():
            c = yaml.safe_load(cfg.read_text()) or {}
            return _bc_phrase(str(c.get("algo", "?")), c.get("hyperparams") or {})
    return "how it was trained is unknown (no config.yml beside it)"


def agent_conditions(path: str | Path) -> tuple[dict[str, Any], bool] | None:
    """The env arguments an agent was trained under, and whether its conditions were
    redrawn per episode (``--randomize``): from the ``config.yml`` of its run folder (a
    run folder, or a zip in one or in its ``checkpoints/``) or the ``env_kwargs`` of the
    card beside a zip (the shipped agents). None where neither says."""
    import json

    import yaml

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    card = path.with_suffix(".json")
    if not path.is_dir() and card.is_file():
        doc = json.loads(card.read_text())
        if isinstance(doc.get("env_kwargs"), dict):
            return dict(doc["env_kwargs"]), bool(doc.get("randomize", False))
    for cfg in (folder / "config.yml", folder.parent / "config.yml"):
        if cfg.is_file():
            doc = yaml.safe_load(cfg.read_text()) or {}
            if isinstance(doc.get("env_kwargs"), dict):
                return dict(doc["env_kwargs"]), bool(doc.get("randomize", False))
    return None


class AgentConditionsWarning(UserWarning):
    """An agent evaluated under other conditions than it was trained under, because
    the caller said so (``splitgym evaluate --agent RUN --bandwidth ...``)."""


def conditions_for_agents(env_kwargs: Mapping[str, Any], explicit: set[str],
                          agents: Sequence[str | Path]) -> tuple[dict[str, Any], list[str]]:
    """The env arguments to evaluate `agents` under: the first agent's training
    conditions (`agent_conditions`), with the keys of `env_kwargs` the caller gave
    (`explicit`) over them; the others of `env_kwargs` (defaults) give way. Returns the
    arguments and one line per difference the caller asked for (or between agents),
    to warn with. An agent trained on randomised conditions, or one whose conditions
    are unknown, fixes nothing: `env_kwargs` as given."""
    base: dict[str, Any] | None = None
    owner = ""
    warn: list[str] = []
    for agent in agents:
        found = agent_conditions(agent)
        if found is None or found[1]:
            continue
        if base is None:
            base, owner = found[0], str(agent)
            continue
        differ = {k: v for k, v in found[0].items() if base.get(k) != v}
        if differ:
            warn.append(f"agent {str(agent)!r} was trained under {_show(differ)}; it is "
                        f"evaluated under the conditions of {owner!r}: {_show(base)}")
    if base is None:
        return dict(env_kwargs), warn
    out = dict(base)
    for key in explicit:
        if key in env_kwargs:
            out[key] = env_kwargs[key]
    if "scenario" in explicit and "scenario" not in base:
        # a preset given for an agent trained without one: the preset's conditions,
        # not the agent's explicit ones, unless the caller gave them too
        out = {k: v for k, v in out.items() if k in explicit or k == "model"}
    import inspect

    from splitgym.envs.edge_cloud import EdgeCloudEnv

    default = {k: p.default for k, p in inspect.signature(EdgeCloudEnv.__init__)
               .parameters.items()}
    was = {k: base.get(k, default.get(k)) for k in sorted(explicit) if k in out}
    for key, field in (("edge_device", "default_edge"), ("cloud_device", "default_cloud")):
        if key in was and was[key] is None:  # the profile's default device, by name
            from splitgym.profiles import load_profile

            was[key] = getattr(load_profile(base.get("model", "alexnet")), field)
    told = {k: out[k] for k in was if was[k] != out[k]}
    if told:
        was = {k: was[k] for k in told}
        warn.insert(0, f"agent {owner!r} was trained under {_show(was)}; it is evaluated "
                       f"under {_show(told)} as told (leave these out to evaluate it "
                       f"under its own conditions)")
    return out, warn


def _show(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


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
                      seeds: Iterable[int], progress: bool = True,
                      plan_evaluations: int | None = 1000,
                      trust: bool = False,
                      proven_bound_s: float | None = None,
                      warm: bool = False,
                      proven_bound_work: float | None = None) -> list[PolicyResult]:
    """Run every policy on every seed through ``gym.make(ENV_ID, **env_kwargs)``.

    A policy whose action is infeasible (cloud-only at bandwidth 0) gets an infinite
    makespan, the spec's reading of "its delay is infinite". An agent for another model
    is refused before any rollout (see `LearnedPolicy.check_env`); `trust` loads agent
    files with full unpickling.

    Each policy's gap to ``best_known`` (the offline planner, seeded with every
    heuristic, the shipped agents and the learned policies evaluated here, with
    `plan_evaluations` search steps; None: no gap column) is measured on the same
    seeds; it is never negative.

    The gap to the bound uses the LP bound per seed; with `proven_bound_s` (a CP-SAT
    time limit per seed, `splitgym.baselines.cpsat`) or `proven_bound_work` (a budget
    of CP-SAT deterministic time per seed instead: the same bound on every machine) it
    uses ``max(LP, CP-SAT)``, falling back to the LP where the CP-SAT model is no
    relaxation (rate traces, drops).

    With `warm`, the compiled engine is compiled (or loaded) once, with a line on stderr
    when its cache is cold (`splitgym.envs.warmup`), after every policy is built and
    checked: a refused agent costs no compile.
    """
    seeds = list(seeds)
    built = [(spec, build_policy(spec, env_kwargs, trust)) for spec in policies]
    if plan_evaluations is not None and "best_known" not in policies:
        from splitgym.baselines.planner import BestKnown

        # learned and other non-baseline policies seed it too (oracles plan their own),
        # and the online planner mpc (a fresh one: never better than best_known then)
        extras = {spec: pol for spec, pol in built if spec not in POLICIES
                  and getattr(pol, "on_episode_start", None) is None}
        extras.update({spec: build_policy(spec, env_kwargs) for spec, pol in built
                       if hasattr(pol, "bind_simulator")})
        built.append(("best_known", BestKnown(evaluations=plan_evaluations,
                                              extra_policies=extras)))
    # the observation version the agents read (the episodes are the same under every
    # version, so the baselines are unaffected): one for all, theirs
    versions = {v for _, p in built
                if (v := getattr(p, "observation_version", None)) is not None}
    if len(versions) > 1:
        from splitgym.agents.safe_load import AgentMismatchError

        raise AgentMismatchError(f"the agents read different observation versions "
                                 f"({sorted(versions)}): evaluate them separately")
    if versions:
        version = versions.pop()
        asked = env_kwargs.get("observation_version")
        if asked is not None and asked != version:
            from splitgym.agents.safe_load import AgentMismatchError

            raise AgentMismatchError(f"observation_version={asked!r}: the agents read "
                                     f"version {version}; leave it out (evaluate builds "
                                     f"the env the agents read) or evaluate agents of "
                                     f"version {asked!r}")
        env_kwargs = {**env_kwargs, "observation_version": version}
    env = gym.make(ENV_ID, **env_kwargs)
    for _, policy in built:
        if hasattr(policy, "check_env"):
            policy.check_env(env)
    if warm:
        from splitgym.envs.warmup import warm_engine

        warm_engine(env.unwrapped)  # a line, not a silent wait, if it compiles
    objective = env.unwrapped.objective
    metric = OBJECTIVE_METRIC[objective][0]
    results = []
    bar = tqdm(total=len(built) * len(seeds), desc="evaluate", unit="run", disable=not progress,
               leave=False)
    for spec, policy in built:
        rows = []
        plan_s = []
        decision_s: list[float] = []
        decision_cpu_s: list[float] = []
        for seed in seeds:
            try:
                rows.append(rollout(env, policy, seed=seed).metrics)
                if hasattr(policy, "last_plan_s"):
                    plan_s.append(policy.last_plan_s)
                decision_s += getattr(policy, "decision_s", [])
                decision_cpu_s += getattr(policy, "decision_cpu_s", [])
            except InvalidActionError:
                rows.append({"makespan_s": math.inf, "mean_latency_s": math.inf,
                             "p95_latency_s": math.inf, "deadline_miss_rate": 1.0})
            bar.update()
        mk = np.array([r["makespan_s"] for r in rows])
        results.append(PolicyResult(
            policy=spec, makespan_s=float(mk.mean()),
            makespan_std_s=float(mk.std()) if np.isfinite(mk).all() else math.nan,
            mean_latency_s=float(np.mean([r["mean_latency_s"] for r in rows])),
            p95_latency_s=float(np.mean([r["p95_latency_s"] for r in rows])),
            n_seeds=len(seeds), makespans_s=tuple(float(x) for x in mk),
            plan_s=float(np.mean(plan_s)) if plan_s else math.nan,
            decision_ms=1e3 * float(np.mean(decision_s)) if decision_s else math.nan,
            decision_max_ms=1e3 * float(np.max(decision_s)) if decision_s else math.nan,
            decision_cpu_ms=1e3 * float(np.mean(decision_cpu_s)) if decision_cpu_s
            else math.nan,
            objective=objective, objective_value=float(np.mean([_objective_of(
                r, metric, env.unwrapped.energy_weight_s_per_j) for r in rows])),
            deadline_miss_rate=float(np.mean([r.get("deadline_miss_rate", math.nan)
                                              for r in rows]))))
    bar.close()
    bounds = seed_lower_bounds(env, seeds)
    if proven_bound_s is not None or proven_bound_work is not None:
        limit = ({"time_limit_s": proven_bound_s} if proven_bound_work is None
                 else {"work_limit": proven_bound_work})
        bounds = _proven_bounds(env, seeds, bounds, limit)
    env.close()
    sq = dict(zip(seeds, _makespans(env_kwargs, "queue_aware", seeds, results), strict=True))
    lb = float(np.mean(bounds))
    known = next((r.makespans_s for r in results if r.policy == "best_known"), None)
    out = []
    for r in results:
        gap_known = math.nan
        if known is not None:
            gap_known = float(np.mean([gap(m, k) for m, k in
                                       zip(r.makespans_s, known, strict=True)]))
        out.append(replace(r, ratio_to_sq=float(np.mean(
            [m / sq[s] for s, m in zip(seeds, r.makespans_s, strict=True)])),
            gap_to_bound=r.makespan_s / lb - 1.0, gap_to_best_known=gap_known))
    return out


def _proven_bounds(env: Any, seeds: Sequence[int], lp: Sequence[float],
                   limit: Mapping[str, float]) -> list[float]:
    """max(LP, CP-SAT) per seed; the LP alone where the CP-SAT model does not apply."""
    from splitgym.baselines.cpsat import UnsupportedRelaxationError, cpsat_lower_bound

    out = []
    for seed, b in zip(seeds, lp, strict=True):
        env.reset(seed=seed)
        try:
            out.append(max(b, cpsat_lower_bound(env, **limit).bound_s))
        except UnsupportedRelaxationError:
            out.append(b)
    return out


def _makespans(env_kwargs: Mapping[str, Any], policy: str, seeds: Sequence[int],
               results: Sequence[PolicyResult]) -> list[float]:
    for r in results:
        if r.policy == policy:
            return list(r.makespans_s)
    env = gym.make(ENV_ID, **env_kwargs)
    return [rollout(env, make_policy(policy), seed=s).metrics["makespan_s"] for s in seeds]


COLUMNS = ("policy", "makespan_s", "makespan_std_s", "mean_latency_s", "p95_latency_s",
           "ratio_to_sq", "gap_to_bound", "gap_to_best_known", "n_seeds", "objective",
           "objective_value", "deadline_miss_rate")


def format_table(results: Sequence[PolicyResult]) -> str:
    """A plain-text table of the results, one row per policy (the ``vs best_known``
    column only when the planner ran). When the objective is not
    the makespan, its metric comes first (``miss_rate`` for the deadline-miss rate;
    the mean latency column is marked with ``*``), and a line says which it is."""
    width = max([16] + [len(r.policy) + 1 for r in results])
    objective = results[0].objective if results else "makespan"
    first = f" {_FIRST[objective]:>9}" if objective in _FIRST else ""
    lat = "mean_lat_s*" if objective == "mean_latency" else "mean_lat_s"
    # no planner (--no-best-known): no column of nan gaps
    known = any(math.isfinite(r.gap_to_best_known) for r in results)
    head = (f"{'policy':<{width}}{first} {'makespan_s':>12} {'± std':>8} {lat:>11} "
            f"{'p95_lat_s':>10} {'vs S-Q':>8} {'vs bound':>9}"
            + (f" {'vs best_known':>14}" if known else ""))
    lines = [head, "-" * len(head)]
    for r in results:
        lead = f" {r.objective_value:>9.3f}" if first else ""
        lines.append(f"{r.policy:<{width}}{lead} {r.makespan_s:>12.3f} "
                     f"{r.makespan_std_s:>8.3f} {r.mean_latency_s:>11.3f} "
                     f"{r.p95_latency_s:>10.3f} {r.ratio_to_sq:>7.3f}x {r.gap_to_bound:>+8.1%}"
                     + (f" {r.gap_to_best_known:>+13.1%}" if known else ""))
    if objective != "makespan":
        mark = _FIRST.get(objective, "mean_lat_s*")
        lines.append(f"objective: {OBJECTIVE_METRIC[objective][1]} ({mark}; lower is "
                     f"better); vs S-Q, vs bound and vs best_known compare makespans")
    return "\n".join(lines)


def write_csv(results: Sequence[PolicyResult], path: str | Path) -> None:
    """Write the results with the columns of `COLUMNS`."""
    with atomic_target(path) as tmp, open(tmp, "x", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in results:
            w.writerow([r.policy, r.makespan_s, r.makespan_std_s, r.mean_latency_s,
                        r.p95_latency_s, r.ratio_to_sq, r.gap_to_bound,
                        r.gap_to_best_known, r.n_seeds, r.objective, r.objective_value,
                        r.deadline_miss_rate])


def bar_plot(results: Sequence[PolicyResult], path: str | Path, title: str) -> None:
    """The objective's metric per policy (the makespan with its spread over seeds, the
    mean latency, or the deadline-miss rate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objective = results[0].objective if results else "makespan"
    fig, ax = plt.subplots(figsize=(1.1 * len(results) + 2, 3.8))
    finite = [r for r in results if math.isfinite(r.objective_value)]
    ax.bar([r.policy for r in finite], [r.objective_value for r in finite],
           yerr=[r.makespan_std_s for r in finite] if objective == "makespan" else None,
           color="#1f77b4")
    ax.set_ylabel(OBJECTIVE_METRIC[objective][1])
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    with atomic_target(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def timeline_plot(env_kwargs: Mapping[str, Any], policies: Sequence[str], seed: int,
                  path: str | Path) -> Path:
    """One episode (`seed`) per policy as Gantt timelines on one time axis
    (`splitgym.envs.render`): edges, links and cloud servers, tasks coloured by cut,
    blocked links hatched. A policy whose action is infeasible is left out."""
    from splitgym.envs.render import save_timelines, snapshot_of

    env = gym.make(ENV_ID, **env_kwargs)
    panels = []
    for spec in policies:
        try:
            rollout(env, build_policy(spec, env_kwargs), seed=seed)
        except InvalidActionError:
            continue
        panels.append((spec, snapshot_of(env.unwrapped)))
    env.close()
    return save_timelines(panels, path)
