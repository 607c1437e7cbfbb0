"""``splitgym benchmark``: train an algorithm on a fixed suite of scenarios and report
normalised scores with honest statistics (docs/benchmark.md).

* **Suite**: ``paper`` (6 models x the paper's 3G and 4G: 12 scenarios), ``conditions``
  (6 models x cellular-markov, mixed-fleet, rush-hour: 18) or ``all`` (30).
* **Trials**: one per (scenario, training seed ``0..N-1``): train (a registered algorithm
  with `splitgym.agents.train.train`, or ``module:factory``), then evaluate the agent (a
  registered run's validation-best model, as `splitgym train` selects it, else its
  final one) on the fixed held-out evaluation seeds `EVAL_SEEDS`. Trials run as Ray Tune trials
  through the same path as `splitgym sweep` (`splitgym.experiments.sweep.run_trials`):
  local cores by default, a cluster with ``address``; a trial whose worker dies resumes
  from its last checkpoint; a trial whose ``result.json`` exists is not run again, so a
  killed benchmark resumes where it stopped.
* **Score** per trial: ``(S-C - agent) / (S-C - best_known)`` on the scenario's
  objective metric (the makespan; the deadline-miss rate on rush-hour), each the mean
  over the evaluation seeds: 0 is the paper's Single Cutting, 1 the offline planner
  ``best_known`` (above 1 is possible: best_known is a search, not the optimum). Where
  S-C already equals best_known the score is 1 at or below it, else 0.
* **Statistics** (`rliable`): IQM and mean over all (seed, scenario) scores with 95%
  stratified-bootstrap confidence intervals, a performance profile, and (`compare`) the
  probability of improvement of one result folder's algorithm over another's.
* **Time to quality** (registered algorithms): the training wall time until the first
  checkpoint whose evaluation reaches the best heuristic's value on the evaluation
  seeds (none where no checkpoint does).

Files under ``--out``: ``references.json`` (per scenario: every online heuristic's,
S-C's and best_known's values on the evaluation seeds),
``runs/<model>_<scenario>_seed<k>/`` (one folder per trial: ``trial.json`` with its
config, seed and commit, the training run, ``attempts`` (one line per start),
``result.json``), ``scores.csv``, ``summary.json``, ``summary.md`` and
``performance_profile.png``; each written atomically.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.envs.core.config import ConfigError
from splitgym.fileio import atomic_target, write_atomic

from .outdir import check_outputs, record_outputs

MODELS: tuple[str, ...] = ("alexnet", "tiny_yolo", "darknet19", "alexnet_parallel",
                           "resnet18", "googlenet")
PAPER_SCENARIOS = ("paper-3g", "paper-4g")
CONDITION_SCENARIOS = ("cellular-markov", "mixed-fleet", "rush-hour")
SUITES: dict[str, tuple[tuple[str, str], ...]] = {
    "paper": tuple((m, s) for m in MODELS for s in PAPER_SCENARIOS),
    "conditions": tuple((m, s) for m in MODELS for s in CONDITION_SCENARIOS),
}
SUITES["all"] = SUITES["paper"] + SUITES["conditions"]
#: The fixed held-out evaluation seeds: used by nothing else in the project (training
#: resets draw from 10,000 up, validation uses 900,001-900,006, agent selection
#: 500-519, the shipped agents' held-out tables 1000-1009).
EVAL_SEEDS: tuple[int, ...] = tuple(range(3000, 3010))
#: Algorithms `splitgym train` knows (anything else is ``module:factory``).
REGISTERED = ("maskable_ppo", "ppo", "a2c", "dqn")
#: The online heuristics "the best heuristic" is the best of (best_static, an oracle,
#: and mpc, an online planner, are not heuristics here).
HEURISTICS = ("edge_only", "cloud_only", "single_cut", "queue_aware", "sq_link",
              "greedy_eft", "sq_fill", "sq_lookahead")
#: ``--quick``: one scenario, two seeds, a tiny budget (a CI test, well under a minute).
QUICK: dict[str, Any] = {
    "scenarios": (("alexnet", "paper-4g"),), "seeds": 2, "eval_seeds": (3000, 3001),
    "timesteps": 256, "checkpoint_freq": 128, "plan_evaluations": 20,
    "hyperparams": {"maskable_ppo": {"n_envs": 2, "n_steps": 64, "batch_size": 64,
                                     "n_epochs": 1, "bc_epochs": 0},
                    "ppo": {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1,
                            "bc_epochs": 0},
                    "a2c": {"n_envs": 2, "n_steps": 8, "bc_epochs": 0},
                    "dqn": {"learning_starts": 64}}}
OUT_FILES = ("benchmark.json", "references.json", "scores.csv", "summary.json",
             "summary.md", "performance_profile.png")
_OUT = "_benchmark_out"
#: Normalised score thresholds of the performance profile.
TAUS = np.linspace(-0.5, 1.5, 81)


# -- what is benchmarked ----------------------------------------------------------------

def metric_of(scenario: str) -> str:
    """The scenario's objective metric: ``deadline_miss_rate`` on rush-hour (its env
    objective), else ``makespan_s``."""
    from splitgym.envs.scenarios import SCENARIOS

    objective = SCENARIOS[scenario].get("objective", "makespan")
    return {"makespan": "makespan_s", "mean_latency": "mean_latency_s",
            "deadline_miss": "deadline_miss_rate"}[objective]


def load_factory(spec: str) -> Callable[..., Any]:
    """``module:factory`` -> the factory; a `ConfigError` naming the spec otherwise.

    The contract: ``factory(env_kwargs=..., seed=..., timesteps=..., run_dir=...)`` trains
    on ``gym.make("splitgym/EdgeCloud-v0", **env_kwargs)`` for `timesteps` steps with
    `seed`, may write into `run_dir` (a folder of its own), and returns a policy
    ``policy(obs, info) -> cut`` (a `splitgym` policy or `LearnedPolicy`)."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ConfigError(f"--algo={spec!r}: expected one of {list(REGISTERED)} or "
                          f"module:factory")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--algo={spec!r}: cannot load {name!r} from {module!r} "
                          f"({exc})") from None
    if not callable(factory):
        raise ConfigError(f"--algo={spec!r}: {name!r} is not callable")
    return factory


def normalized_score(value: float, single_cut: float, best_known: float) -> float:
    """``(S-C - value) / (S-C - best_known)``: 0 at S-C, 1 at best_known. Where they are
    equal (nothing to close): 1 at or below best_known, else 0."""
    den = single_cut - best_known
    if den <= 1e-9 * max(1.0, abs(single_cut)):
        return 1.0 if value <= best_known * (1 + 1e-9) + 1e-12 else 0.0
    return (single_cut - value) / den


def evaluate_on(policy: Any, model: str, scenario: str, seeds: Sequence[int]) -> list[float]:
    """The scenario's metric per seed for `policy`."""
    import gymnasium as gym

    from splitgym.envs import ENV_ID, rollout
    from splitgym.envs.core.simulator import InvalidActionError

    env = gym.make(ENV_ID, model=model, scenario=scenario)
    metric = metric_of(scenario)
    if hasattr(policy, "check_env"):
        policy.check_env(env)
    out = []
    for seed in seeds:
        try:
            out.append(float(rollout(env, policy, seed=seed).metrics[metric]))
        except InvalidActionError:  # e.g. cloud-only at 0 Mbit/s
            out.append(1.0 if metric == "deadline_miss_rate" else math.inf)
    env.close()
    return out


def scenario_references(model: str, scenario: str, seeds: Sequence[int],
                        plan_evaluations: int = 1000,
                        shipped_agents: bool = True) -> dict[str, Any]:
    """Every online heuristic's and best_known's mean metric on `seeds` (S-C is the
    score's 0, best_known its 1, the best heuristic the time-to-quality target)."""
    from splitgym.baselines import make_policy
    from splitgym.baselines.planner import BestKnown

    values = {name: float(np.mean(evaluate_on(make_policy(name), model, scenario, seeds)))
              for name in HEURISTICS}
    planner = BestKnown(evaluations=plan_evaluations, shipped_agents=shipped_agents)
    values["best_known"] = float(np.mean(evaluate_on(planner, model, scenario, seeds)))
    best = min(HEURISTICS, key=lambda n: (values[n], n))
    return {"model": model, "scenario": scenario, "metric": metric_of(scenario),
            "seeds": list(seeds), "values": values, "best_heuristic": best,
            "plan_evaluations": plan_evaluations, "shipped_agents": shipped_agents}


# -- one trial (in a Ray worker) ---------------------------------------------------------

def trial_name(model: str, scenario: str, seed: int) -> str:
    """A trial's folder name under ``runs/``."""
    return f"{model}_{scenario}_seed{seed}"


def _checkpoint_timer(trial_dir: Path, root: Path, t0: float) -> Any:
    """An SB3 callback logging each new checkpoint's training wall time (since `t0`, the
    session's start: building the envs and the model and any imitation count) to
    ``checkpoint_wall.jsonl``, and the run's at its end to ``train_wall.json``. A resumed
    session starts from the wall time logged for the checkpoint it resumes from (the
    killed session's work after that checkpoint is redone, and counted once)."""
    import yaml
    from stable_baselines3.common.callbacks import BaseCallback

    from splitgym.agents.train import _checkpoints

    class Timer(BaseCallback):
        def _on_training_start(self) -> None:
            self.run = next(root.glob("*/*/config.yml")).parent
            cfg = yaml.safe_load((self.run / "config.yml").read_text())
            # the run's checkpoint callback saves every `every` calls and runs before
            # this one: look only then (listing and checking the zips at every step
            # cost A2C's 8-env trials ~4x their training time, more as they piled up)
            self.every = max(int(cfg["checkpoint_freq"]) //
                             int(cfg["hyperparams"].get("n_envs", 1)), 1)
            self.log = trial_dir / "checkpoint_wall.jsonl"
            rows = [json.loads(line) for line in self.log.read_text().splitlines()] \
                if self.log.is_file() else []
            found = _checkpoints(self.run)
            logged = {r["checkpoint"]: r["wall_s"] for r in rows}
            self.before = logged.get(found[0].name, 0.0) if found else 0.0
            self.seen = set(logged)
            self.t0 = t0

        def _wall(self) -> float:
            return self.before + time.perf_counter() - self.t0

        def _on_step(self) -> bool:
            if self.n_calls % self.every:
                return True
            found = _checkpoints(self.run)
            if found and found[0].name not in self.seen:
                self.seen.add(found[0].name)
                row = {"checkpoint": found[0].name, "steps": int(self.num_timesteps),
                       "wall_s": self._wall()}
                old = self.log.read_text() if self.log.is_file() else ""
                write_atomic(self.log, old + json.dumps(row) + "\n")
            return True

        def _on_training_end(self) -> None:
            write_atomic(trial_dir / "train_wall.json", json.dumps({"wall_s": self._wall()}))

    return Timer()


def _train_registered(params: Mapping[str, Any], trial_dir: Path) -> tuple[Path, float]:
    """Train (or resume after a killed worker) a registered algorithm; return its run
    folder and the training wall time [s] over all its sessions."""
    from ray import tune

    from splitgym.agents.train import resume, train

    from .sweep import _restore, _train_callback

    root = trial_dir / "train"
    checkpoint = tune.get_checkpoint()
    callbacks = [_train_callback(root), _checkpoint_timer(trial_dir, root,
                                                          time.perf_counter())]
    if checkpoint is not None:
        run = resume(_restore(checkpoint, root), progress=False, callbacks=callbacks)
    else:
        if root.exists():  # killed before its first checkpoint: start again
            shutil.rmtree(root)
        for name in ("checkpoint_wall.jsonl", "train_wall.json"):
            (trial_dir / name).unlink(missing_ok=True)
        run = train(params["algo"], params["model"], None, int(params["timesteps"]),
                    int(params["seed"]), env_kwargs={"scenario": params["scenario"]},
                    hyperparams=params.get("hyperparams") or {}, run_root=root,
                    checkpoint_freq=int(params["checkpoint_freq"]),
                    eval_freq=int(params["eval_freq"]), progress=False,
                    callbacks=callbacks)
    return run, json.loads((trial_dir / "train_wall.json").read_text())["wall_s"]


def time_to_quality(trial_dir: Path, run: Path, model: str, scenario: str,
                    seeds: Sequence[int], target: float,
                    final_wall_s: float) -> dict[str, Any]:
    """The first checkpoint (then the final model) whose mean metric on `seeds` reaches
    `target`: its training wall time and steps (None where none does)."""
    from splitgym.agents.policy import LearnedPolicy

    log = trial_dir / "checkpoint_wall.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] \
        if log.is_file() else []
    rows.sort(key=lambda r: r["steps"])
    points = [(r["wall_s"], r["steps"], run / "checkpoints" / r["checkpoint"]) for r in rows]
    points.append((final_wall_s, None, run / "model.zip"))
    for wall, steps, path in points:
        if not path.is_file():
            continue
        value = float(np.mean(evaluate_on(LearnedPolicy.load(path), model, scenario, seeds)))
        if value <= target * (1 + 1e-9):
            return {"time_to_quality_s": wall, "time_to_quality_steps": steps,
                    "time_to_quality_value": value}
    return {"time_to_quality_s": None, "time_to_quality_steps": None,
            "time_to_quality_value": None}


def benchmark_trial(config: dict[str, Any]) -> None:
    """A Tune trial: train one (scenario, seed), evaluate it, write ``result.json``."""
    from ray import tune

    from splitgym.agents.train import git_commit

    from .sweep import pin_torch_threads

    threads = pin_torch_threads()
    params = dict(config)
    out = Path(params.pop(_OUT))
    spec = params.pop("trial")
    params.update(spec)
    model, scenario, seed = spec["model"], spec["scenario"], int(spec["seed"])
    trial_dir = out / "runs" / trial_name(model, scenario, seed)
    trial_dir.mkdir(parents=True, exist_ok=True)
    result_path = trial_dir / "result.json"
    if result_path.is_file():  # done by an earlier (killed) benchmark
        tune.report(json.loads(result_path.read_text()))
        return
    if not (trial_dir / "trial.json").is_file():
        write_atomic(trial_dir / "trial.json", json.dumps(
            {**params, "commit": git_commit(), "torch_threads": threads}, indent=1,
            default=str))
    attempts = trial_dir / "attempts"  # "<pid> start|resume" per start of this trial
    old = attempts.read_text() if attempts.is_file() else ""
    resuming = tune.get_checkpoint() is not None
    write_atomic(attempts, old + f"{os.getpid()} {'resume' if resuming else 'start'}\n")
    refs = json.loads((out / "references.json").read_text())[f"{model}/{scenario}"]
    seeds = list(params["eval_seeds"])
    t0 = time.perf_counter()
    ttq: dict[str, Any] = {"time_to_quality_s": None, "time_to_quality_steps": None,
                           "time_to_quality_value": None}
    if params["algo"] in REGISTERED:
        run, wall = _train_registered(params, trial_dir)
        from splitgym.agents.policy import LearnedPolicy

        policy: Any = LearnedPolicy.load(run)  # validation's best model, else the final
        target = refs["values"][refs["best_heuristic"]]
        ttq = time_to_quality(trial_dir, run, model, scenario, seeds, target, wall)
        run_dir = str(run.relative_to(out))
    else:
        factory = load_factory(params["algo"])
        custom = trial_dir / "custom"
        custom.mkdir(exist_ok=True)
        policy = factory(env_kwargs={"model": model, "scenario": scenario}, seed=seed,
                         timesteps=int(params["timesteps"]), run_dir=custom)
        wall = time.perf_counter() - t0
        run_dir = str(custom.relative_to(out))
    values = evaluate_on(policy, model, scenario, seeds)
    value = float(np.mean(values))
    sc, bk = refs["values"]["single_cut"], refs["values"]["best_known"]
    result = {"algo": params["algo"], "model": model, "scenario": scenario, "seed": seed,
              "timesteps": int(params["timesteps"]), "eval_seeds": seeds,
              "metric": refs["metric"], "values": values, "value": value,
              "single_cut": sc, "best_known": bk,
              "score": normalized_score(value, sc, bk),
              "best_heuristic": refs["best_heuristic"],
              "best_heuristic_value": refs["values"][refs["best_heuristic"]],
              "train_wall_s": wall, **ttq, "run_dir": run_dir, "commit": git_commit(),
              "restarts": len(attempts.read_text().splitlines()) - 1}
    write_atomic(result_path, json.dumps(result, indent=1))
    tune.report(result)


# -- the driver ---------------------------------------------------------------------------

def _check_args(algo: str, seeds: int, suite: str, timesteps: int | None) -> None:
    if algo not in REGISTERED:
        load_factory(algo)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds={seeds!r}: expected a whole number >= 1")
    if suite not in SUITES:
        raise ConfigError(f"--suite={suite!r}: expected one of {list(SUITES)}")
    if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(
            timesteps, int) or timesteps < 1):
        raise ConfigError(f"--timesteps={timesteps!r}: expected a whole number >= 1")


def _claim(out: Path, settings: dict[str, Any]) -> None:
    """Record what this benchmark folder holds (`settings`: algorithm, budget,
    hyperparameters, evaluation seeds, reference settings) in ``benchmark.json``, or
    refuse when the folder holds another benchmark's trials: a rerun resumes only the
    same benchmark (more seeds or scenarios are fine; another algorithm, budget or
    reference setting would reuse the earlier results under the new name)."""
    path = out / "benchmark.json"
    settings = json.loads(json.dumps(settings, default=str))  # as it reads back
    if path.is_file():
        held = json.loads(path.read_text())
        diff = sorted(k for k in set(held) | set(settings) if held.get(k) != settings.get(k))
        if diff:
            shown = ", ".join(f"{k}={held.get(k)!r} (now {settings.get(k)!r})" for k in diff)
            raise ConfigError(f"--out {out}: holds another benchmark's results ({shown}); "
                              "use a new --out folder")
        return
    if (out / "runs").is_dir() and any((out / "runs").glob("*/result.json")):
        raise ConfigError(f"--out {out}: holds trial results without a benchmark.json "
                          "saying what they are; use a new --out folder")
    write_atomic(path, json.dumps(settings, indent=1, sort_keys=True))
    record_outputs(out, ["benchmark.json"], "splitgym benchmark")


def benchmark(algo: str, out: str | Path, seeds: int = 5, suite: str = "paper",
              quick: bool = False, timesteps: int | None = None,
              address: str | None = None, cpus: int | None = None,
              cpus_per_trial: float = 1.0, max_failures: int = 2,
              progress: bool = True) -> dict[str, Any]:
    """Run the benchmark (see the module doc); return its summary."""
    _check_args(algo, seeds, suite, timesteps)
    out = check_outputs(Path(out).resolve(), OUT_FILES)  # before any work
    out.mkdir(parents=True, exist_ok=True)
    scenarios = QUICK["scenarios"] if quick else SUITES[suite]
    n_seeds = QUICK["seeds"] if quick else seeds
    eval_seeds = QUICK["eval_seeds"] if quick else EVAL_SEEDS
    steps = timesteps or (QUICK["timesteps"] if quick else 200_000)
    hyperparams = QUICK["hyperparams"].get(algo, {}) if quick else {}
    plan_evaluations = QUICK["plan_evaluations"] if quick else 1000
    _claim(out, {"algo": algo, "timesteps": steps, "hyperparams": hyperparams,
                 "quick": bool(quick), "eval_seeds": list(eval_seeds),
                 "plan_evaluations": plan_evaluations, "shipped_agents": not quick})
    t0 = time.perf_counter()
    refs_path = out / "references.json"
    refs = json.loads(refs_path.read_text()) if refs_path.is_file() else {}
    for model, scenario in scenarios:
        key = f"{model}/{scenario}"
        if key in refs and refs[key]["seeds"] == list(eval_seeds):
            continue
        if progress:
            print(f"benchmark: references of {key} on {len(eval_seeds)} seeds", flush=True)
        refs[key] = scenario_references(
            model, scenario, eval_seeds,
            plan_evaluations=plan_evaluations, shipped_agents=not quick)
        write_atomic(refs_path, json.dumps(refs, indent=1, sort_keys=True))
        record_outputs(out, ["references.json"], "splitgym benchmark")  # resumable
    trials = [{"model": m, "scenario": s, "seed": k} for m, s in scenarios
              for k in range(n_seeds)]
    todo = [t for t in trials if not (out / "runs" / trial_name(
        t["model"], t["scenario"], t["seed"]) / "result.json").is_file()]
    if todo:
        from ray import tune

        from .sweep import run_trials

        space = {"trial": tune.grid_search(todo), "algo": algo, "timesteps": steps,
                 "eval_seeds": list(eval_seeds), "hyperparams": hyperparams,
                 "checkpoint_freq": QUICK["checkpoint_freq"] if quick else max(
                     steps // 10, 1), "eval_freq": steps if quick else max(steps // 10, 1),
                 _OUT: str(out)}
        name = "benchmark-" + algo.replace(":", "-").replace(".", "-")
        run_trials(benchmark_trial, space, out, name, cpus_per_trial, max_failures,
                   None, address, cpus)
    results = []
    missing = []
    for t in trials:
        path = out / "runs" / trial_name(t["model"], t["scenario"], t["seed"]) / "result.json"
        if path.is_file():
            results.append(json.loads(path.read_text()))
        else:
            missing.append(trial_name(t["model"], t["scenario"], t["seed"]))
    summary = write_summary(out, results, algo, missing, quick,
                            wall_s=time.perf_counter() - t0)
    record_outputs(out, OUT_FILES, "splitgym benchmark")
    return summary


SCORE_COLUMNS = ("algo", "model", "scenario", "seed", "metric", "value", "single_cut",
                 "best_known", "score", "best_heuristic", "best_heuristic_value",
                 "train_wall_s", "time_to_quality_s", "time_to_quality_steps", "restarts",
                 "run_dir")


def score_matrix(rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list[str]]:
    """Scores as rliable wants them: (training seeds, scenarios), scenarios sorted;
    only the seeds every scenario has."""
    tasks = sorted({f"{r['model']}/{r['scenario']}" for r in rows})
    by = {(f"{r['model']}/{r['scenario']}", int(r["seed"])): float(r["score"]) for r in rows}
    seeds = sorted({int(r["seed"]) for r in rows})
    seeds = [k for k in seeds if all((t, k) in by for t in tasks)]
    return np.array([[by[(t, k)] for t in tasks] for k in seeds]), tasks


def aggregates(scores: np.ndarray, reps: int = 2000) -> dict[str, Any]:
    """IQM and mean of `scores` (seeds x scenarios) with 95% stratified-bootstrap CIs."""
    from rliable import library as rly
    from rliable import metrics

    def func(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    with warnings.catch_warnings():  # arch's notice about RandomState, which rliable passes
        warnings.simplefilter("ignore", FutureWarning)
        point, ci = rly.get_interval_estimates({"a": scores}, func, reps=reps,
                                               random_state=np.random.RandomState(0))
    return {"iqm": float(point["a"][0]), "iqm_ci": [float(x) for x in ci["a"][:, 0]],
            "mean": float(point["a"][1]), "mean_ci": [float(x) for x in ci["a"][:, 1]]}


def write_summary(out: Path, results: Sequence[Mapping[str, Any]], algo: str,
                  missing: Sequence[str], quick: bool, wall_s: float) -> dict[str, Any]:
    """scores.csv, summary.json, summary.md and the performance profile."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SCORE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for r in sorted(results, key=lambda r: (r["model"], r["scenario"], r["seed"])):
        writer.writerow(r)
    write_atomic(out / "scores.csv", buf.getvalue())
    summary: dict[str, Any] = {"algo": algo, "quick": quick, "n_results": len(results),
                               "missing": list(missing), "wall_s": wall_s,
                               "eval_seeds": sorted({s for r in results
                                                     for s in r["eval_seeds"]})}
    scores, tasks = score_matrix(results) if results else (np.zeros((0, 0)), [])
    summary["scenarios"] = tasks
    summary["n_seeds"] = int(scores.shape[0])
    if scores.size:
        summary.update(aggregates(scores, reps=200 if quick else 2000))
    ttq = {}
    for suite, names in (("paper", PAPER_SCENARIOS), ("conditions", CONDITION_SCENARIOS)):
        rows = [r for r in results if r["scenario"] in names]
        times = [r["time_to_quality_s"] for r in rows]
        if times:
            reached = [t for t in times if t is not None]
            # steps do not depend on the machine's load as wall time does; the final
            # model reaching the target is logged without steps: it took the whole run
            steps = [r["timesteps"] if r.get("time_to_quality_steps") is None
                     else r["time_to_quality_steps"] for r in rows
                     if r["time_to_quality_s"] is not None]
            most = len(reached) * 2 > len(times)
            ttq[suite] = {"median_s": float(np.median(reached)) if most else None,
                          "median_steps": float(np.median(steps)) if most else None,
                          "reached": len(reached), "trials": len(times)}
    summary["time_to_quality"] = ttq
    write_atomic(out / "summary.json", json.dumps(summary, indent=1))
    write_atomic(out / "summary.md", summary_markdown(summary, results))
    _profile_plot(out / "performance_profile.png", {algo: scores})
    return summary


def summary_markdown(summary: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> str:
    """The summary as Markdown: the aggregates, then one row per scenario."""
    lines = [f"# splitgym benchmark: {summary['algo']}", ""]
    if summary.get("quick"):
        lines += ["**--quick**: one scenario, two seeds, a tiny budget: a smoke test, not a "
                  "result.", ""]
    if "iqm" in summary:
        lo, hi = summary["iqm_ci"]
        mlo, mhi = summary["mean_ci"]
        lines += [f"Normalised score (0 = S-C, 1 = best_known) over {summary['n_seeds']} "
                  f"training seeds x {len(summary['scenarios'])} scenarios: IQM "
                  f"{summary['iqm']:.3f} [{lo:.3f}, {hi:.3f}], mean {summary['mean']:.3f} "
                  f"[{mlo:.3f}, {mhi:.3f}] (95% stratified-bootstrap CIs, rliable).", ""]
    for suite, t in summary.get("time_to_quality", {}).items():
        med = "not reached by most trials" if t["median_s"] is None else \
            f"{t['median_s']:.1f} s median" + (
                f" (median {t['median_steps']:,.0f} steps)"
                if t.get("median_steps") is not None else "")
        lines.append(f"Time to the best heuristic's value, {suite} suite: {med} "
                     f"({t['reached']} of {t['trials']} trials reached it).")
    if summary.get("missing"):
        lines += ["", f"Missing trials (failed or not run): {', '.join(summary['missing'])}."]
    lines += ["", "| scenario | metric | S-C | best heuristic | best_known | agent (mean over "
              "seeds) | score (mean) | best heuristic's score |",
              "|---|---|---|---|---|---|---|---|"]
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        by.setdefault(f"{r['model']}/{r['scenario']}", []).append(r)
    for key in sorted(by):
        rs = by[key]
        r0 = rs[0]
        h = r0["best_heuristic_value"]
        lines.append(f"| {key} | {r0['metric']} | {r0['single_cut']:.4g} | "
                     f"{r0['best_heuristic']} {h:.4g} | "
                     f"{r0['best_known']:.4g} | {np.mean([r['value'] for r in rs]):.4g} | "
                     f"{np.mean([r['score'] for r in rs]):.3f} | "
                     f"{normalized_score(h, r0['single_cut'], r0['best_known']):.3f} |")
    return "\n".join(lines) + "\n"


def _profile_plot(path: Path, scores: Mapping[str, np.ndarray]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    _draw_profiles(ax, scores)
    fig.tight_layout()
    with atomic_target(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _draw_profiles(ax: Any, scores: Mapping[str, np.ndarray]) -> None:
    """Each algorithm's performance profile on `ax`: its curve (labelled, in the legend)
    and its bootstrap band (unlabelled: a legend given a bare list of names would pair
    them with the bands too, so from the second algorithm on each name sat on another's
    curve or on a band)."""
    usable = {k: v for k, v in scores.items() if v.size}
    if usable:
        from rliable import library as rly
        from rliable import plot_utils

        np.random.seed(0)  # noqa: NPY002  (rliable draws from numpy's global state)
        profiles, cis = rly.create_performance_profile(usable, TAUS, reps=200)
        plot_utils.plot_performance_profiles(profiles, TAUS, performance_profile_cis=cis,
                                             ax=ax, xlabel="normalised score (0 = S-C, "
                                             "1 = best_known)",
                                             ylabel="fraction of runs above")
        ax.legend(loc="lower left")  # the curves rliable labelled, not the bands
    else:
        ax.text(0.5, 0.5, "no results", ha="center")


def _common_scores(dirs: Sequence[str | Path], flag: str
                   ) -> tuple[list[list[dict[str, str]]], list[str], list[np.ndarray]]:
    """Each result folder's ``scores.csv`` rows, the scenarios all of them hold, and each
    one's score matrix (seeds x those scenarios)."""
    rows = []
    for d in dirs:
        path = Path(d) / "scores.csv"
        if not path.is_file():
            raise ConfigError(f"{flag} {str(d)!r}: no scores.csv (not a benchmark "
                              f"result folder)")
        with path.open() as fh:
            rows.append(list(csv.DictReader(fh)))
    common = sorted(set.intersection(*({f"{r['model']}/{r['scenario']}" for r in rs}
                                       for rs in rows)))
    if not common:
        raise ConfigError(f"{flag}: {', '.join(repr(str(d)) for d in dirs)} share no "
                          f"scenario")
    mats = [score_matrix([r for r in rs if f"{r['model']}/{r['scenario']}" in common])[0]
            for rs in rows]
    return rows, common, mats


def profiles(dirs: Sequence[str | Path], plot: str | Path) -> dict[str, Any]:
    """One performance-profile plot of several result folders' algorithms (one curve
    each, with its bootstrap band) on the scenarios all of them hold, written to `plot`
    (a new file: an existing one is refused, whoever wrote it). Returns the curves'
    labels (each folder's algorithm; the folder's name beside it where two share one),
    the common scenarios and each one's IQM."""
    if len(dirs) < 1:
        raise ConfigError("--profiles: give at least one result folder")
    plot = Path(plot)
    if plot.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"--plot {str(plot)!r}: expected a .png, .pdf or .svg file")
    if plot.exists():
        raise ConfigError(f"--plot {str(plot)!r}: exists; splitgym does not overwrite a "
                          f"file it did not write here: choose another name")
    if not plot.parent.is_dir():
        raise ConfigError(f"--plot {str(plot)!r}: its folder does not exist")
    rows, common, mats = _common_scores(dirs, "--profiles")
    algos = [rs[0]["algo"] if rs else "?" for rs in rows]
    labels = [a if algos.count(a) == 1 else f"{a} ({Path(d).name})"
              for a, d in zip(algos, dirs, strict=True)]
    if len(set(labels)) < len(labels):
        raise ConfigError(f"--profiles: two folders give the same curve label {labels}")
    _profile_plot(plot, dict(zip(labels, mats, strict=True)))
    return {"labels": labels, "scenarios": common,
            "iqm": [aggregates(m)["iqm"] if m.size else math.nan for m in mats],
            "seeds": [int(m.shape[0]) for m in mats], "plot": str(plot)}


def compare(dir_a: str | Path, dir_b: str | Path, reps: int = 2000) -> dict[str, Any]:
    """The probability that result folder `dir_a`'s algorithm improves on `dir_b`'s (on
    the scenarios both have), with a 95% stratified-bootstrap CI, and each one's IQM."""
    from rliable import library as rly
    from rliable import metrics

    rows, common, mats = _common_scores((dir_a, dir_b), "--compare")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        point, ci = rly.get_interval_estimates(
            {"a_over_b": (mats[0], mats[1])},
            lambda x, y: np.array([metrics.probability_of_improvement(x, y)]), reps=reps,
            random_state=np.random.RandomState(0))
    algos = [rs[0]["algo"] if rs else "?" for rs in rows]
    return {"a": algos[0], "b": algos[1], "scenarios": common,
            "probability_of_improvement": float(point["a_over_b"][0]),
            "ci": [float(x) for x in ci["a_over_b"][:, 0]],
            "iqm": [aggregates(m, reps)["iqm"] for m in mats]}
