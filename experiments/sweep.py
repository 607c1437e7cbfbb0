"""``splitgym sweep CONFIG.yml --out DIR``: a grid of `splitgym train` (or evaluate) runs
as Ray Tune trials, gathered into one table.

The config (YAML) names the command, the arguments every trial shares and the grid::

    command: train            # or evaluate
    base:                     # splitgym train's arguments (the flags, with underscores)
      algo: maskable_ppo
      model: alexnet
      timesteps: 2000
    grid:                     # every combination is one trial (Tune's grid_search)
      bandwidth: [3g, 4g]
      seed: [0, 1]
    cpus_per_trial: 1         # Ray resources of one trial (default 1)
    max_failures: 2           # restarts of a failed or killed trial (default 2)
    eval_seeds: 3             # held-out seeds 0..n-1 a trained agent is evaluated on

A train trial is `splitgym.agents.train.train` in a run folder
``DIR/runs/<trial>/<algo>/<scenario>_1/`` (config, TensorBoard, checkpoints as usual).
Each checkpoint the run writes is also reported to Tune as a Tune checkpoint (the
checkpoint zip, the run's config and validation history); a trial that fails or whose
worker is killed is restarted by Tune (``max_failures``) and resumes from its last
reported checkpoint with `splitgym.agents.train.resume`, to the same budget. An
evaluate trial runs `splitgym.experiments.evaluate.evaluate_policies` (base: ``model``,
``bandwidth``, ``policies``, ``seeds``, ``env_kwargs``, ``scenario``).

Results: ``DIR/sweep.csv`` and ``DIR/sweep.md`` (one row per trial: its grid values,
status, restarts and final metrics), Tune's own per-trial results and TensorBoard
events under ``DIR/tune/`` and the runs' TensorBoard logs under ``DIR/runs/``
(``tensorboard --logdir DIR``).

Ray: a local instance with the machine's cores (``--cpus`` to cap it, no dashboard,
its temporary folder under /tmp), or an existing cluster with ``--address``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from splitgym.envs.core.config import ConfigError
from splitgym.fileio import atomic_target, write_atomic

from .outdir import check_outputs, record_outputs

COMMANDS = ("train", "evaluate")
SWEEP_KEYS = ("command", "name", "base", "grid", "cpus_per_trial", "max_failures",
              "max_concurrent", "eval_seeds")
TRAIN_KEYS = ("algo", "model", "bandwidth", "timesteps", "seed", "env_kwargs",
              "hyperparams", "scenario", "randomize", "checkpoint_freq", "eval_freq")
EVALUATE_KEYS = ("model", "bandwidth", "policies", "seeds", "seed_offset", "env_kwargs",
                 "scenario")
_OUT = "_sweep_out"  # the output folder, passed to every trial in its config


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a sweep config; every problem is a `ConfigError` naming the key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep config {str(path)!r} does not exist")
    cfg = yaml.safe_load(path.read_text())
    if not isinstance(cfg, dict):
        raise ConfigError(f"sweep config {str(path)!r}: expected a mapping of "
                          f"{list(SWEEP_KEYS)}")
    unknown = sorted(set(cfg) - set(SWEEP_KEYS))
    if unknown:
        raise ConfigError(f"sweep config: unknown key {unknown[0]!r}; known: "
                          f"{list(SWEEP_KEYS)}")
    command = cfg.setdefault("command", "train")
    if command not in COMMANDS:
        raise ConfigError(f"sweep config: command={command!r}: expected one of "
                          f"{list(COMMANDS)}")
    base, grid = cfg.setdefault("base", {}) or {}, cfg.get("grid") or {}
    if not isinstance(base, dict) or not isinstance(grid, dict):
        raise ConfigError("sweep config: base and grid must be mappings of argument -> "
                          "value (grid: -> list of values)")
    allowed = TRAIN_KEYS if command == "train" else EVALUATE_KEYS
    for where, keys in (("base", base), ("grid", grid)):
        bad = sorted(set(keys) - set(allowed))
        if bad:
            raise ConfigError(f"sweep config: {where}.{bad[0]}: not an argument of "
                              f"splitgym {command}; known: {list(allowed)}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep config: grid.{key}={values!r}: expected a non-empty "
                              f"list of values")
    cfg["base"], cfg["grid"] = base, grid
    for key, low in (("cpus_per_trial", 0.01), ("max_failures", 0), ("eval_seeds", 0)):
        value = cfg.setdefault(key, {"cpus_per_trial": 1, "max_failures": 2,
                                     "eval_seeds": 3}[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
            raise ConfigError(f"sweep config: {key}={value!r}: expected a number >= {low}")
    cfg.setdefault("name", path.stem)
    return cfg


def n_trials(cfg: Mapping[str, Any]) -> int:
    """Trials of the grid (its values' product)."""
    return math.prod(len(v) for v in cfg["grid"].values())


# -- trials (run in Ray workers) --------------------------------------------------------

def _train_callback(root: Path) -> Any:
    """An SB3 callback reporting each new checkpoint of the run to Tune."""
    from ray import tune
    from stable_baselines3.common.callbacks import BaseCallback

    from splitgym.agents.train import _checkpoints

    class TuneReport(BaseCallback):
        def _on_training_start(self) -> None:
            self.run = next(root.glob("*/*/config.yml")).parent
            cfg = yaml.safe_load((self.run / "config.yml").read_text())
            n_envs = int(cfg["hyperparams"].get("n_envs", 1))
            self.every = max(int(cfg["checkpoint_freq"]) // n_envs, 1)
            found = _checkpoints(self.run)
            self.reported = found[0].name if found else None

        def _on_step(self) -> bool:
            if self.n_calls % self.every == 0:
                found = _checkpoints(self.run)
                if found and found[0].name != self.reported:
                    self.reported = found[0].name
                    _report_checkpoint(tune, root, self.run, found[0], self.num_timesteps)
            return True

    return TuneReport()


def _report_checkpoint(tune: Any, root: Path, run: Path, ckpt: Path, steps: int) -> None:
    """One Tune checkpoint: the SB3 checkpoint zip, the run's config and validation."""
    metrics: dict[str, Any] = {"timesteps": steps}
    val = run / "validation.json"
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy2(ckpt, tmp)
        shutil.copy2(run / "config.yml", tmp)
        if val.is_file():
            shutil.copy2(val, tmp)
            metrics["validation_makespan_s"] = json.loads(val.read_text())["best_makespan_s"]
        (Path(tmp) / "trial.json").write_text(json.dumps(
            {"run": str(run.relative_to(root)), "checkpoint": ckpt.name}))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))


def _restore(checkpoint: Any, root: Path) -> Path:
    """Lay a reported checkpoint back into the run folder (it may be on another node or
    gone) and return the folder."""
    with checkpoint.as_directory() as d:
        d = Path(d)
        meta = json.loads((d / "trial.json").read_text())
        run = root / meta["run"]
        (run / "checkpoints").mkdir(parents=True, exist_ok=True)
        for name in ("config.yml", "validation.json"):
            if (d / name).is_file() and not (run / name).is_file():
                shutil.copy2(d / name, run / name)
        if not (run / "checkpoints" / meta["checkpoint"]).is_file():
            shutil.copy2(d / meta["checkpoint"], run / "checkpoints" / meta["checkpoint"])
    return run


def pin_torch_threads() -> int:
    """Set torch's intra-op threads to the CPUs Ray gave this trial (at least 1), and
    return that number. Torch's default is every core of the machine: two 1-CPU trials
    on 2 cores then ran 4 spinning threads (A2C's small batches several times slower),
    and a trained agent's bits depended on the machine's core count. Pinned, a trial
    trains the same agent wherever it runs with the same ``cpus_per_trial``. Called
    outside a Ray worker (a trial function run directly) it changes nothing."""
    import ray
    import torch

    if not ray.is_initialized():  # (asking for the context would start Ray here)
        return torch.get_num_threads()
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    except AssertionError:  # Ray's way of saying "not in a worker" (a driver)
        return torch.get_num_threads()
    n = max(1, int(cpus))
    torch.set_num_threads(n)
    return n


def train_trial(config: dict[str, Any]) -> None:
    """A Tune trial: one `splitgym train` run, resumed from Tune's checkpoint if any."""
    from ray import tune

    from splitgym.agents.train import parse_kv, resume, train
    from splitgym.experiments.evaluate import evaluate_policies

    pin_torch_threads()
    params = dict(config)
    out = Path(params.pop(_OUT))
    eval_seeds = int(params.pop("_eval_seeds", 3))
    trial = tune.get_context().get_trial_name()
    root = out / "runs" / trial
    checkpoint = tune.get_checkpoint()
    t0 = time.perf_counter()
    attempts = out / "attempts" / trial  # starts of this trial, restarts included
    attempts.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(attempts, (attempts.read_text() if attempts.is_file() else "") +
                 f"{os.getpid()} {'resume' if checkpoint is not None else 'start'}\n")
    if checkpoint is not None:
        run = resume(_restore(checkpoint, root), progress=False,
                     callbacks=[_train_callback(root)])
    else:
        if root.exists():  # killed before its first checkpoint: start again
            shutil.rmtree(root)
        env_kwargs = dict(params.get("env_kwargs") or {})
        if isinstance(env_kwargs, list):
            env_kwargs = parse_kv(env_kwargs, "env_kwargs")
        if params.get("scenario"):
            env_kwargs["scenario"] = params["scenario"]
        run = train(params.get("algo", "maskable_ppo"), params.get("model", "alexnet"),
                    params.get("bandwidth", "4g"), int(params.get("timesteps", 200_000)),
                    int(params.get("seed", 0)), env_kwargs=env_kwargs,
                    hyperparams=params.get("hyperparams") or {},
                    randomize=bool(params.get("randomize", False)), run_root=root,
                    checkpoint_freq=int(params.get("checkpoint_freq", 20_000)),
                    eval_freq=int(params.get("eval_freq", 20_000)), progress=False,
                    callbacks=[_train_callback(root)])
    cfg = yaml.safe_load((run / "config.yml").read_text())
    timing = [json.loads(line) for line in (run / "timing.jsonl").read_text().splitlines()]
    metrics: dict[str, Any] = {
        "timesteps": timing[-1]["num_timesteps"],
        "restarts": len(attempts.read_text().splitlines()) - 1,
        "resumed_from": timing[-1]["resumed_from"] or "",
        "run_dir": str(run), "trial_wall_s": time.perf_counter() - t0}  # this attempt's
    val = run / "validation.json"
    if val.is_file():
        v = json.loads(val.read_text())
        metrics["validation_makespan_s"] = v["best_makespan_s"]
        metrics["validation_gap"] = v["best_makespan_s"] / v["best_baseline_makespan_s"] - 1
    if eval_seeds:
        res = evaluate_policies(cfg["env_kwargs"], [f"agent:{run}", "sq_lookahead"],
                                range(eval_seeds), progress=False)
        metrics["heldout_makespan_s"] = res[0].makespan_s
        metrics["heldout_sq_lookahead_s"] = res[1].makespan_s
    tune.report(metrics)


def evaluate_trial(config: dict[str, Any]) -> None:
    """A Tune trial: `splitgym evaluate` of the policies on the seeds."""
    from ray import tune

    from splitgym.envs.core.config import parse_bandwidth_mbps
    from splitgym.experiments.evaluate import evaluate_policies

    pin_torch_threads()
    params = dict(config)
    params.pop(_OUT)
    params.pop("_eval_seeds", None)
    env_kwargs = dict(params.get("env_kwargs") or {})
    env_kwargs["model"] = params.get("model", "alexnet")
    if params.get("scenario"):
        env_kwargs["scenario"] = params["scenario"]
    else:
        env_kwargs["bandwidth_mbps"] = parse_bandwidth_mbps(params.get("bandwidth", "4g"))
    policies = params.get("policies", "single_cut,queue_aware")
    if isinstance(policies, str):
        policies = [p for p in policies.split(",") if p.strip()]
    offset = int(params.get("seed_offset", 0))
    t0 = time.perf_counter()
    res = evaluate_policies(env_kwargs, policies,
                            range(offset, offset + int(params.get("seeds", 5))),
                            progress=False)
    metrics: dict[str, Any] = {"trial_wall_s": time.perf_counter() - t0}
    for r in res:
        metrics[f"{r.policy}_makespan_s"] = r.makespan_s
    tune.report(metrics)


# -- the driver --------------------------------------------------------------------------

#: The tables `sweep` writes in its folder (replaced only if its manifest lists them).
SWEEP_FILES = ("sweep.csv", "sweep.md")


def run_trials(fn: Any, space: Mapping[str, Any], out: Path, name: str,
               cpus_per_trial: float = 1.0, max_failures: int = 2,
               max_concurrent: int | None = None, address: str | None = None,
               cpus: int | None = None) -> list[Any]:
    """Run the Tune trials of `fn` over `space` (grid searches in it) with their state
    under ``out/tune/<name>``: on an existing Ray cluster (`address`) or a local instance
    with `cpus` cores (default: all), each trial restarted up to `max_failures` times
    from its last reported checkpoint. Returns Tune's results (one per trial, in grid
    order). `splitgym sweep` and `splitgym benchmark` both run their trials here."""
    # Tune's own console output (a config box and `tensorboard --logdir` of Ray's
    # temporary folder, deleted at exit) and its warnings about snapshotting the
    # experiment state (forced by num_to_keep at every checkpoint, harmless here) say
    # nothing a user can act on: the old output engine at verbose=0 prints nothing,
    # and the command prints where TensorBoard's logs are (under `out`)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    import logging

    import ray
    from ray import tune

    logging.getLogger("ray.tune").setLevel(logging.WARNING)
    started = not ray.is_initialized()
    tmp = None
    if started and address:
        ray.init(address=address)
    elif started:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        tmp = tempfile.mkdtemp(prefix="sg-ray-", dir="/tmp")  # short: socket path limits
        ray.init(num_cpus=cpus or os.cpu_count(), include_dashboard=False, _temp_dir=tmp,
                 log_to_driver=False, logging_level=logging.ERROR)
    try:
        tuner = tune.Tuner(
            tune.with_resources(fn, {"cpu": float(cpus_per_trial)}),
            param_space=dict(space),
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent),
            run_config=tune.RunConfig(
                name=name, storage_path=str(out / "tune"), verbose=0,
                failure_config=tune.FailureConfig(max_failures=int(max_failures)),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
        return list(tuner.fit())
    finally:
        if started:
            ray.shutdown()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def sweep(config_path: str | Path, out: str | Path, address: str | None = None,
          cpus: int | None = None) -> dict[str, Any]:
    """Run the sweep; write ``sweep.csv`` and ``sweep.md`` under `out`; return a summary
    (``rows``, ``wall_s``, ``csv``, ``md``)."""
    from ray import tune

    cfg = load_config(config_path)
    out = check_outputs(Path(out).resolve(), SWEEP_FILES)  # before any trial runs
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fn = train_trial if cfg["command"] == "train" else evaluate_trial
    space: dict[str, Any] = dict(cfg["base"])
    space.update({k: tune.grid_search(list(v)) for k, v in cfg["grid"].items()})
    space[_OUT] = str(out)
    space["_eval_seeds"] = int(cfg["eval_seeds"])
    grid = run_trials(fn, space, out, str(cfg["name"]), float(cfg["cpus_per_trial"]),
                      int(cfg["max_failures"]), cfg.get("max_concurrent"), address, cpus)
    rows = _rows(grid, list(cfg["grid"]))
    wall = time.perf_counter() - t0
    csv_path, md_path = (out / name for name in SWEEP_FILES)
    check_outputs(out, SWEEP_FILES)  # a file of the user's made there meanwhile stays
    _write_table(rows, csv_path, md_path, cfg, wall)
    record_outputs(out, SWEEP_FILES, "splitgym sweep")
    return {"rows": rows, "wall_s": wall, "csv": csv_path, "md": md_path}


def _rows(grid: Any, keys: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for result in grid:
        conf = result.config or {}
        row: dict[str, Any] = {"trial": (result.metrics or {}).get("trial_id", "")}
        row.update({k: conf.get(k) for k in keys})
        row["status"] = "error" if result.error else "ok"
        metrics = dict(result.metrics or {})
        for k, v in metrics.items():
            if k in ("timesteps", "restarts", "resumed_from", "run_dir", "trial_wall_s",
                     "validation_makespan_s", "validation_gap", "heldout_makespan_s",
                     "heldout_sq_lookahead_s") or k.endswith("_makespan_s"):
                row[k] = v
        if result.error:
            row["error"] = str(result.error).strip().splitlines()[-1][:200]
        rows.append(row)
    return sorted(rows, key=lambda r: [str(r.get(k)) for k in keys])


def _write_table(rows: list[dict[str, Any]], csv_path: Path, md_path: Path,
                 cfg: Mapping[str, Any], wall: float) -> None:
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    with atomic_target(csv_path) as tmp, open(tmp, "x", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        writer.writerows(rows)

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v).replace("|", "\\|")

    shown = [c for c in cols if c not in ("run_dir", "resumed_from")]
    lines = [f"# sweep `{cfg['name']}` ({cfg['command']}, {len(rows)} trials, "
             f"{wall:.1f} s wall)", "",
             "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in shown) + " |" for r in rows]
    write_atomic(md_path, "\n".join(lines) + "\n")

