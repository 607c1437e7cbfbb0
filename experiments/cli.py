"""The ``splitgym`` command line."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from splitgym import __version__
from splitgym.envs.core.config import ConfigError, parse_bandwidth_mbps
from splitgym.profiles.schema import ProfileError

#: What `learned` is, wherever a table shows it.
_LEARNED_NOTE = ("'learned' is the shipped agent of the model and conditions; a line under "
                 "the table names it and says whether it imitated a heuristic (by default "
                 "sq_lookahead) before RL.")


def _bandwidth(text: str) -> float:
    try:
        return parse_bandwidth_mbps(text, "--bandwidth")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    """A usage error is one line (what is wrong, and where the options are listed), not
    the usage block of every option followed by the error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        import re

        message = re.sub(r"^argument (\S+): (?=\1=)", "", message)  # said once, not twice
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after every option that has a default worth showing (not
    for flags, empty lists or None, and not twice when the help already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default == [] or "default" in text
                or default == argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


#: --bandwidth's default on every command (and the env's own): 4G.
DEFAULT_BANDWIDTH_MBPS = 5.85


def _device_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--edge-device", default=None, metavar="NAME",
                        help="the profile's device the edges run on (default: the "
                        "profile's default_edge)")
    parser.add_argument("--cloud-device", default=None, metavar="NAME",
                        help="the profile's device the cloud runs on (default: the "
                        "profile's default_cloud)")


def _build_parser() -> argparse.ArgumentParser:
    fmt = {"formatter_class": _HelpFormatter}
    parser = _Parser(
        prog="splitgym", description="Multi-edge / single-cloud split DNN inference: "
        "simulate, evaluate and compare schedulers.", **fmt)
    parser.add_argument("--version", action="version", version=f"splitgym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rp = sub.add_parser("reproduce", help="the paper's Table 1 and Figures 2-7, side by side",
                        description="Regenerate the paper's evaluation from the shipped "
                        "profiles, next to the paper's own numbers, plus stronger yardsticks; "
                        "writes table1.csv/.md, fig2-7 (.png + .csv) and report.md.", **fmt)
    rp.add_argument("--out", default="results", help="output folder")
    rp.add_argument("--seeds", type=int, default=5, help="seeds 0..n-1")
    rp.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                    help="worker processes (default: 2 or the CPU count)")
    rp.add_argument("--models", default=None,
                    help="comma-separated subset of the six models (default: all)")
    rp.add_argument("--frames", type=int, default=30, help="frames per edge")
    rp.add_argument("--calibration", choices=("default", "paper-fit"), default="default",
                    help="device calibration of the run: default (rpi3b / paper-cloud, one "
                    "factor per model) or paper-fit (one factor per layer class, fitted to "
                    "Table 1); the report shows Table 1 under both")
    rp.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    ev = sub.add_parser("evaluate", help="run policies on the same seeds and print a table",
                        description="Run each policy on the same seeds (so the same arrival "
                        "times) and print the objective's metric (makespan, mean latency or "
                        "deadline-miss rate), makespan, mean and p95 latency per policy. "
                        f"{_LEARNED_NOTE}", **fmt)
    ev.add_argument("--model", default="alexnet",
                    help="shipped profile name or path to a profile JSON")
    ev.add_argument("--bandwidth", type=_bandwidth, default=DEFAULT_BANDWIDTH_MBPS,
                    metavar="MBPS", help="uplink Mbit/s, or 3g (1.1) / 4g (5.85) (default: "
                    "4g, as train; with --agent: the agent's own)")
    ev.add_argument("--policies", default="edge_only,cloud_only,single_cut,queue_aware",
                    help="comma-separated policy names; fixed:<cut> for a fixed cut; "
                    "learned for the shipped agent of this model and conditions")
    ev.add_argument("--seeds", type=int, default=5, help="number of seeds")
    ev.add_argument("--n-edges", type=int, default=5, help="edge devices E")
    ev.add_argument("--frames", type=int, default=30, help="frames per edge")
    ev.add_argument("--queue-capacity", type=int, default=20, help="cloud queue capacity C")
    ev.add_argument("--cloud-workers", type=int, default=1, help="cloud servers")
    ev.add_argument("--uplink", choices=("per_edge", "shared"), default="per_edge",
                    help="one uplink per edge, or one shared by all")
    ev.add_argument("--objective", choices=("makespan", "mean_latency", "deadline_miss",
                                            "energy", "makespan_energy"),
                    default="makespan", help="what the env's reward measures (a "
                    "--scenario may set it)")
    ev.add_argument("--scenario", default=None,
                    help="a scenario preset (paper-3g, paper-4g, cellular-markov, rush-hour, "
                    "mixed-fleet); it sets the conditions the flags above leave at their "
                    "defaults")
    _device_flags(ev)
    ev.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                    help="other EdgeCloudEnv arguments, e.g. fps=10 arrivals=poisson")
    ev.add_argument("--agent", action="append", default=[], metavar="RUN_DIR_OR_ZIP",
                    help="add a trained agent (repeatable); the conditions it was trained "
                    "under (its config.yml or card) are the evaluation's, except those "
                    "given as flags here (with a warning)")
    ev.add_argument("--trust-agent", action="store_true",
                    help="load agent files with full unpickling (SB3's own loader), which "
                    "runs any code the file holds: only for files you trust. Without it, "
                    "agents load from plain data only (no unpickler runs)")
    ev.add_argument("--seed-offset", type=int, default=0,
                    help="evaluate on seeds offset..offset+n-1 (training never resets with "
                    "these)")
    proven = ev.add_mutually_exclusive_group()
    proven.add_argument("--proven-bound", type=float, nargs="?", const=10.0, default=None,
                        metavar="SECONDS",
                        help="also bound each seed with CP-SAT (needs the cpsat extra; "
                        "SECONDS per seed, default 10) and take max(LP, CP-SAT) as the "
                        "'vs bound' reference; how far CP-SAT gets in that time depends "
                        "on the machine and its load")
    proven.add_argument("--proven-bound-work", type=float, default=None, metavar="UNITS",
                        help="as --proven-bound, but CP-SAT stops after UNITS of its "
                        "deterministic time per seed (its own measure of work; one unit "
                        "took about 3 s on a 2-core VM), "
                        "so the bound is the same on every machine and load")
    ev.add_argument("--plot", default=None, metavar="FILE.png", help="also draw a bar plot")
    ev.add_argument("--timeline", default=None, metavar="FILE.png",
                    help="also draw the first seed's episode of each policy as a Gantt "
                    "timeline (edges, links, cloud servers; one panel per policy)")
    ev.add_argument("--csv", default=None, help="also write the table to this CSV file")
    ev.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ev.add_argument("--plan-evaluations", type=int, default=1000, metavar="N",
                    help="search steps of best_known, the offline planner whose makespan "
                    "each policy's 'vs best_known' gap is measured against (default 1000, "
                    "about 1-5 s per episode)")
    ev.add_argument("--no-best-known", action="store_true",
                    help="skip the planner and the 'vs best_known' column")

    tr = sub.add_parser("train", help="train a stable-baselines3 agent",
                        description="Train an agent on one scenario (or on randomised "
                        "conditions) into runs/<algo>/<scenario>_<n>/. By default an "
                        "actor-critic agent (maskable_ppo, ppo, a2c) first imitates the "
                        "sq_lookahead heuristic (behaviour cloning, bc_* hyperparameters; "
                        "bc_epochs=0 turns it off), then learns by RL. Every argument is "
                        "checked before the run folder is made; a start that fails leaves "
                        "no folder.", **fmt)
    tr.add_argument("--algo", default="maskable_ppo",
                    choices=("maskable_ppo", "ppo", "dqn", "a2c"), help="the algorithm")
    tr.add_argument("--model", default="alexnet", help="shipped profile name or path")
    tr.add_argument("--bandwidth", type=_bandwidth, default=DEFAULT_BANDWIDTH_MBPS,
                    metavar="MBPS", help="uplink Mbit/s, or 3g (1.1) / 4g (5.85) "
                    "(default: 4g, as evaluate)")
    _device_flags(tr)
    tr.add_argument("--timesteps", type=int, default=None,
                    help="total environment steps (default: 200000; with --resume: the "
                    "run's own total, and a larger value extends the run)")
    tr.add_argument("--seed", type=int, default=0, help="the run's seed")
    tr.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra EdgeCloudEnv arguments, e.g. n_edges=3 uplink=shared")
    tr.add_argument("--hyperparams", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override agents/hyperparams/<algo>.yml, e.g. learning_rate=1e-4 "
                    "net_arch=[128,128] bc_epochs=0 (numbers as you would type them)")
    tr.add_argument("--scenario", default=None,
                    help="a scenario preset (cellular-markov, mixed-fleet, rush-hour, ...); "
                    "it sets the conditions, --bandwidth is then ignored")
    tr.add_argument("--randomize", action="store_true",
                    help="redraw bandwidth (0.5-12 Mbit/s), edges (1-8) and C (5-30) per "
                    "episode")
    tr.add_argument("--runs", default="runs", help="root of the run folders")
    tr.add_argument("--vec", choices=("auto", "native", "dummy", "subproc"), default="auto",
                    help="training envs: 'native' (the compiled vector env, one call steps "
                    "all), 'dummy' (single envs in this process), 'subproc' (in "
                    "subprocesses); 'auto': native where the compiled engine covers the "
                    "configuration, else dummy")
    tr.add_argument("--checkpoint-freq", type=int, default=20_000,
                    help="save a checkpoint every this many steps")
    tr.add_argument("--eval-freq", type=int, default=20_000,
                    help="validate (and keep best_model.zip) every this many steps")
    tr.add_argument("--threads", type=int, default=1, help="torch threads")
    tr.add_argument("--resume", default=None, metavar="RUN_DIR",
                    help="continue this run from its newest checkpoint, as its config.yml "
                    "says; a finished run is left as it is unless --timesteps raises its "
                    "total")
    tr.add_argument("--trust-agent", action="store_true",
                    help="with --resume: load the checkpoints with full unpickling, which "
                    "runs any code they hold: only for a run folder you trust")
    tr.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    pr = sub.add_parser("profile", help="measure a torch model layer by layer",
                        description="Capture MODEL with torch.fx, time every layer (warm-up, "
                        "repeats, median) and write a splitgym-profile/1 JSON file. An "
                        "existing FILE.json is only replaced with --force; --merge adds this "
                        "device to it instead. A package.module:factory MODEL is code that "
                        "runs: the module is imported and the factory called (after every "
                        "other argument is checked), so name only code you trust.", **fmt)
    pr.add_argument("model", help="alexnet, tiny_yolo, darknet19, alexnet_parallel, "
                    "resnet18, googlenet, or package.module:factory (imported and run: "
                    "code you trust)")
    pr.add_argument("--device", required=True, metavar="NAME",
                    help="the device name to record the latencies under (e.g. jetson)")
    pr.add_argument("--out", required=True, metavar="FILE.json", help="the profile to write")
    pr.add_argument("--torch-device", default="cpu", help="cpu, cuda, cuda:1, ...")
    pr.add_argument("--repeats", type=int, default=20, help="timed runs per layer")
    pr.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    pr.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's)")
    pr.add_argument("--input-shape", default=None, metavar="N,C,H,W",
                    help="input shape (required for package.module:factory)")
    pr.add_argument("--merge", action="store_true",
                    help="add this device to the existing profile FILE.json; a profile of "
                    "one device gets the faster of the two as its default_cloud and the "
                    "slower as its default_edge (unless --role says), and the command says "
                    "what it set")
    pr.add_argument("--role", choices=("edge", "cloud"), default=None,
                    help="make this device the profile's default_edge or default_cloud "
                    "(with --merge; a new profile's one device is both)")
    pr.add_argument("--force", action="store_true",
                    help="replace an existing FILE.json (its other devices are lost)")
    pr.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    be = sub.add_parser("bench", help="benchmarks (printed figures and ratios)",
                        description="Measure speed and print it beside references: the env's "
                        "decisions/s against CartPole-v1 (single and vector env), the "
                        "best-cut and candidate-list times against reference "
                        "implementations, and the cost per decision for 5, 50 and 500 "
                        "edges. Figures move by 10-30% between runs on a shared machine.",
                        **fmt)
    be.add_argument("what", nargs="?", default="all",
                    choices=("all", "env", "partition", "scale", "train", "testbed"),
                    help="env: decisions/s against CartPole; train: MaskablePPO's steps/s "
                    "(collection and update), shipped configuration against the former "
                    "DummyVecEnv one; partition: best-cut and "
                    "candidate-list times against references; scale: cost per decision for "
                    "5, 50 and 500 edges; testbed: the real testbed against the "
                    "simulator (docs/testbed.md; --quick: alexnet and resnet18, 1 and 3 "
                    "edges; not part of all); all: everything and the reproduction")
    be.add_argument("--quick", action="store_true", help="a CI-sized run")
    be.add_argument("--repeats", type=int, default=200,
                    help="repeats per partition measurement (--quick: 20)")

    tb = sub.add_parser("testbed", help="real split inference on this machine vs the simulator",
                        description="Run one episode for real: one process per edge and one "
                        "cloud process over TCP on 127.0.0.1, the real torch layers, "
                        "token-bucket-paced uplinks, C cloud slots; then the same episode in "
                        "the simulator with a profile measured here, and the errors. See "
                        "docs/testbed.md.", **fmt)
    tb.add_argument("--model", default="alexnet", help="one of the six torch models")
    tb.add_argument("--bandwidth", type=_bandwidth, default=DEFAULT_BANDWIDTH_MBPS,
                    metavar="MBPS", help="uplink Mbit/s, or 3g (1.1) / 4g (5.85)")
    tb.add_argument("--n-edges", type=int, default=3, help="edge devices E (processes)")
    tb.add_argument("--frames", type=int, default=10, help="frames per edge")
    tb.add_argument("--queue-capacity", type=int, default=20, help="cloud queue capacity C")
    tb.add_argument("--cloud-workers", type=int, default=1, help="cloud servers (threads)")
    tb.add_argument("--scenario", default=None, help="a scenario preset (as evaluate)")
    tb.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                    help="other EdgeCloudEnv arguments, e.g. fps=10 arrivals=poisson")
    tb.add_argument("--policy", default="single_cut",
                    help="a policy name evaluate takes: fixed:<cut>, learned, ...")
    tb.add_argument("--agent", default=None, metavar="RUN_DIR_OR_ZIP",
                    help="a trained agent drives the run instead of --policy")
    tb.add_argument("--trust-agent", action="store_true",
                    help="load the agent with full unpickling (only a file you trust)")
    tb.add_argument("--seed", type=int, default=0, help="the episode's seed (arrivals)")
    tb.add_argument("--profile", default=None, metavar="FILE.json",
                    help="a profile measured here (default: measure one now)")
    tb.add_argument("--profile-repeats", type=int, default=20,
                    help="timed runs per layer when measuring the profile")
    tb.add_argument("--edge-slowdown", type=float, default=1.0, metavar="S",
                    help="emulate edges S times slower than this machine (run the layers, "
                    "then wait (S-1) x their measured time)")
    tb.add_argument("--port", type=int, default=0,
                    help="the cloud's TCP port on 127.0.0.1 (0: the OS picks a free one)")
    tb.add_argument("--timeline", default=None, metavar="FILE.png",
                    help="draw the real and the simulated Gantt charts, stacked")
    tb.add_argument("--out", default=None, metavar="DIR", help="write DIR/testbed.json")
    tb.add_argument("--no-per-task", action="store_true", help="omit the per-task table")
    tb.set_defaults(uplink=None, objective=None, edge_device=None, cloud_device=None)

    sw = sub.add_parser("sweep", help="a grid of train (or evaluate) runs as Ray Tune trials",
                        description="Run every combination of a YAML config's grid as a "
                        "Ray Tune trial (a splitgym train run, resumed from its last "
                        "checkpoint if it fails or is killed, or an evaluation); gather "
                        "the results into DIR/sweep.csv and DIR/sweep.md. See "
                        "examples/sweep-smoke.yml.", **fmt)
    sw.add_argument("config", metavar="CONFIG.yml", help="the sweep's YAML config")
    sw.add_argument("--out", required=True, metavar="DIR", help="the sweep's output folder")
    sw.add_argument("--address", default=None,
                    help="a running Ray cluster (e.g. auto or HOST:6379); default: start "
                    "a local instance")
    sw.add_argument("--cpus", type=int, default=None,
                    help="CPUs of the local instance (default: all of this machine's)")

    bm = sub.add_parser("benchmark", help="train an algorithm on the fixed suite; normalised "
                        "scores with rliable statistics",
                        description="Train and evaluate an algorithm on a fixed suite "
                        "(paper: 12 scenarios, conditions: 18, all: 30), one Ray Tune trial "
                        "per (scenario, training seed), each evaluated on the fixed held-out "
                        "seeds 3000-3009; a score per scenario (0 = S-C, 1 = best_known; "
                        "rush-hour on the miss rate), IQM and mean with 95%% stratified-"
                        "bootstrap CIs, a performance profile, time to the best "
                        "heuristic's value. Resumes where a killed run stopped. See "
                        "docs/benchmark.md.", **fmt)
    bm.add_argument("--algo", default=None, metavar="NAME|module:factory",
                    help="maskable_ppo, ppo, a2c, dqn, or module:factory (see "
                    "docs/benchmark.md for the factory's contract)")
    bm.add_argument("--seeds", type=int, default=5, help="training seeds 0..N-1")
    bm.add_argument("--suite", default="paper", choices=("paper", "conditions", "all"),
                    help="paper: 12 scenarios (6 models x paper-3g/4g); conditions: 18 "
                    "(x cellular-markov, mixed-fleet, rush-hour); all: 30")
    bm.add_argument("--out", default=None, metavar="DIR", help="the results folder")
    bm.add_argument("--timesteps", type=int, default=None,
                    help="training steps per trial (default 200,000; --quick: 256)")
    bm.add_argument("--quick", action="store_true",
                    help="one scenario, two seeds, a tiny budget (a CI smoke test)")
    bm.add_argument("--address", default=None,
                    help="a running Ray cluster (e.g. auto or HOST:6379); default: a local "
                    "instance")
    bm.add_argument("--cpus", type=int, default=None,
                    help="CPUs of the local instance (default: all of this machine's)")
    bm.add_argument("--compare", nargs=2, default=None, metavar=("DIR_A", "DIR_B"),
                    help="no training: the probability that DIR_A's algorithm improves on "
                    "DIR_B's (two benchmark result folders), with its 95%% CI")
    bm.add_argument("--profiles", nargs="+", default=None, metavar="DIR",
                    help="no training: one performance-profile plot of these result "
                    "folders' algorithms on the scenarios they share (with --plot FILE)")
    bm.add_argument("--plot", default=None, metavar="FILE",
                    help="the plot --profiles writes (.png, .pdf or .svg; a new file)")
    return parser


#: train options that --resume does not take: the run's config.yml fixes them.
_FIXED_BY_RUN = ("algo", "model", "bandwidth", "seed", "env_kwargs", "hyperparams",
                 "scenario", "randomize", "runs", "vec", "checkpoint_freq", "eval_freq",
                 "edge_device", "cloud_device")


def _given(argv: Sequence[str]) -> set[str]:
    """The options `argv` gives explicitly (even at their default values)."""
    parser = _build_parser()
    for action in parser._actions:  # argparse keeps the subparsers here
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for option in sub._actions:
                    option.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv))) - {"command"}


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from splitgym.agents.train import parse_kv, resume, train, validation_summary

    if args.resume:
        given = [k for k in _FIXED_BY_RUN if k in _given(args.argv)]
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ConfigError(f"--resume {args.resume}: {flags} cannot change a run (its "
                              f"config.yml fixes them); start a new run instead, or give "
                              f"--resume with --timesteps only")
        torch.set_num_threads(max(1, args.threads))
        run = resume(args.resume, timesteps=args.timesteps, progress=not args.no_progress,
                     trust=args.trust_agent)
    else:
        env_kwargs = parse_kv(args.env_kwargs, "--env-kwargs")
        if args.scenario:
            env_kwargs["scenario"] = args.scenario
        env_kwargs.update(_devices(args))
        hyperparams = parse_kv(args.hyperparams, "--hyperparams")
        torch.set_num_threads(max(1, args.threads))
        run = train(args.algo, args.model, args.bandwidth,
                    200_000 if args.timesteps is None else args.timesteps, args.seed,
                    env_kwargs=env_kwargs, hyperparams=hyperparams,
                    randomize=args.randomize, run_root=args.runs, vec=args.vec,
                    checkpoint_freq=args.checkpoint_freq, eval_freq=args.eval_freq,
                    progress=not args.no_progress)
    print(validation_summary(run))
    print(f"run folder: {run}")
    return 0


def _devices(args: argparse.Namespace) -> dict[str, str]:
    """--edge-device / --cloud-device as env arguments (those given)."""
    return {k: getattr(args, k) for k in ("edge_device", "cloud_device")
            if getattr(args, k, None) is not None}


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .paper import MODELS
    from .reproduce import reproduce

    if args.seeds < 1:
        raise ConfigError(f"--seeds={args.seeds}: expected a whole number >= 1")
    if args.workers < 1:
        raise ConfigError(f"--workers={args.workers}: expected a whole number >= 1")
    if args.frames < 1:
        raise ConfigError(f"--frames={args.frames}: expected a whole number >= 1")
    models = tuple(args.models.split(",")) if args.models else MODELS
    rep = reproduce(args.out, seeds=range(args.seeds), workers=args.workers,
                    progress=not args.no_progress, models=models,
                    frames_per_edge=args.frames, calibration=args.calibration)
    print((rep.out_dir / "table1.md").read_text())
    held = sum(c.holds for c in rep.claims)
    print(f"claims of the paper checked ({rep.calibration} calibration): {len(rep.claims)}, "
          f"{held} hold in ours, {len(rep.claims) - held} do not; see "
          f"{rep.out_dir / 'report.md'}")
    print(f"wrote {', '.join(rep.files)} to {rep.out_dir}/")
    print(f"reproduction wall time: {rep.wall_s:.1f} s")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:

    from .evaluate import evaluate_policies, format_table, learned_notes, write_csv
    from .outdir import check_file_writable

    if args.seeds < 1:
        raise ConfigError(f"--seeds={args.seeds}: expected a whole number >= 1")
    if args.proven_bound is not None and not args.proven_bound > 0:
        raise ConfigError(f"--proven-bound={args.proven_bound}: expected seconds > 0")
    if args.proven_bound_work is not None and not 0 < args.proven_bound_work < math.inf:
        raise ConfigError(f"--proven-bound-work={args.proven_bound_work}: expected "
                          f"deterministic seconds > 0")
    if args.plan_evaluations < 0:
        raise ConfigError(f"--plan-evaluations={args.plan_evaluations}: expected a whole "
                          f"number >= 0")
    env_kwargs, explicit = _eval_env_kwargs(args)
    for flag in ("csv", "plot", "timeline"):  # before any computing
        if getattr(args, flag):
            check_file_writable(getattr(args, flag), f"--{flag}")
    if args.agent:
        from .evaluate import AgentConditionsWarning, conditions_for_agents

        env_kwargs, told = conditions_for_agents(env_kwargs, explicit, args.agent)
        for line in told:
            warnings.warn(line, AgentConditionsWarning, stacklevel=1)
    policies = [p for p in args.policies.split(",") if p.strip()]
    policies += [f"agent:{a}" for a in args.agent]
    notes = learned_notes(policies, env_kwargs)  # also: an unshipped 'learned' fails now
    t0 = time.perf_counter()
    results = evaluate_policies(env_kwargs, policies,
                                range(args.seed_offset, args.seed_offset + args.seeds),
                                progress=not args.no_progress, trust=args.trust_agent,
                                plan_evaluations=None if args.no_best_known
                                else args.plan_evaluations,
                                proven_bound_s=args.proven_bound,
                                proven_bound_work=args.proven_bound_work, warm=True)
    print(_conditions_line(env_kwargs) + f" seeds={args.seed_offset}.."
          f"{args.seed_offset + args.seeds - 1}")
    print(format_table(results))
    if args.proven_bound is not None or args.proven_bound_work is not None:
        budget = (f"{args.proven_bound:g} s" if args.proven_bound is not None else
                  f"{args.proven_bound_work:g} units of deterministic time")
        print(f"vs bound: to max(LP bound, CP-SAT proven bound) per seed (CP-SAT "
              f"{budget} per seed; the LP alone where CP-SAT does not apply)")
    planned = [r for r in results if r.policy == "best_known"]
    if planned:
        print(f"best_known: the offline planner on each seed's known arrivals (seeded with "
              f"every heuristic and agent above; {planned[0].plan_s:.1f} s per episode); "
              f"an achievable makespan, not a proof of optimality")
    for r in results:
        if math.isfinite(r.decision_ms):
            print(f"{r.policy}: the online planner (no future information), "
                  f"{r.decision_ms:.1f} ms per decision on average ({r.decision_cpu_ms:.1f} "
                  f"ms of CPU), {r.decision_max_ms:.1f} ms the longest, here")
    for note in notes:
        print(f"* {note}")
    if args.csv:
        write_csv(results, args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        from .evaluate import bar_plot

        where = env_kwargs.get("scenario") or f"{env_kwargs.get('bandwidth_mbps')} Mbit/s"
        bar_plot(results, args.plot, f"{env_kwargs['model']}, {where}")
        print(f"wrote {args.plot}")
    if args.timeline:
        from .evaluate import timeline_plot

        print(f"wrote {timeline_plot(env_kwargs, policies, args.seed_offset, args.timeline)}")
    print(f"({time.perf_counter() - t0:.2f} s)")
    return 0


#: evaluate's flags for EdgeCloudEnv arguments: argument -> flag (its dest)
_EVAL_FLAGS = {"model": "model", "bandwidth_mbps": "bandwidth", "n_edges": "n_edges",
               "frames_per_edge": "frames", "queue_capacity": "queue_capacity",
               "cloud_workers": "cloud_workers", "uplink": "uplink",
               "objective": "objective", "scenario": "scenario",
               "edge_device": "edge_device", "cloud_device": "cloud_device"}


def _eval_env_kwargs(args: argparse.Namespace) -> tuple[dict[str, object], set[str]]:
    """Evaluate's env arguments and those the user gave (flags, --env-kwargs). With a
    --scenario, the preset sets what the flags leave at their defaults."""
    given = _given(args.argv)
    explicit = {k for k, flag in _EVAL_FLAGS.items() if flag in given}
    env_kwargs = {k: getattr(args, flag) for k, flag in _EVAL_FLAGS.items()
                  if getattr(args, flag) is not None}
    if args.env_kwargs:
        from splitgym.agents.train import check_keys, env_kwarg_keys, parse_kv

        extra = parse_kv(args.env_kwargs, "--env-kwargs")
        check_keys(extra, env_kwarg_keys(), "--env-kwargs")
        twice = sorted(set(extra) & explicit)
        if twice:
            raise ConfigError(f"--env-kwargs {twice[0]}=...: also given as a flag; give "
                              f"it once")
        env_kwargs.update(extra)
        explicit |= set(extra)
    if args.scenario:
        env_kwargs = {k: v for k, v in env_kwargs.items() if k in explicit or k == "model"}
    return env_kwargs, explicit


def _conditions_line(env_kwargs: dict[str, object]) -> str:
    """``model=alexnet bandwidth=5.85 Mbit/s edges=5 ...``: the conditions the env
    resolves (a preset's, an agent's), for the table's heading."""
    from splitgym.envs.edge_cloud import EdgeCloudEnv

    env = EdgeCloudEnv(**env_kwargs)
    sim, work = env.sim_config, env.workload
    line = f"model={env_kwargs['model']}"
    if env.scenario:
        line += f" scenario={env.scenario}"
    line += (f" bandwidth={sim.bandwidth_mbps:g} Mbit/s edges={work.n_edges} "
             f"frames/edge={work.frames_per_edge} C={sim.queue_capacity} "
             f"uplink={sim.uplink}")
    if sim.cloud_workers != 1:
        line += f" cloud_workers={sim.cloud_workers}"
    devices = {k: env_kwargs[k] for k in ("edge_device", "cloud_device") if k in env_kwargs}
    return line + "".join(f" {k}={v}" for k, v in devices.items())


def _cmd_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from splitgym.profiles.measure import WIDE_SPREAD, measure_profile, merge_device
    from splitgym.profiles.schema import load_profile

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads={args.threads}: expected a whole number >= 1")
        torch.set_num_threads(args.threads)
    shape = None
    if args.input_shape:
        try:
            shape = tuple(int(x) for x in args.input_shape.split(","))
        except ValueError:
            raise ConfigError(f"--input-shape={args.input_shape!r}: expected integers "
                              f"separated by commas, e.g. 1,3,224,224") from None
    out = Path(args.out)
    if args.merge and args.force:
        raise ConfigError("--merge and --force: choose one (add a device, or replace the file)")
    if args.merge and not out.is_file():
        raise ConfigError(f"--merge: {str(out)!r} does not exist; run without --merge first")
    base = load_profile(out) if args.merge else None  # validate before measuring
    if out.is_dir() or not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise ConfigError(f"--out={str(out)!r}: expected a file in an existing, writable "
                          f"folder")
    if out.exists() and not args.merge and not args.force:
        try:
            held = f"a profile of {sorted(load_profile(out).devices)}"
        except (ProfileError, ValueError, OSError):
            held = "a file that is not a readable profile"
        raise ConfigError(f"--out={str(out)!r} already exists ({held}); --merge adds "
                          f"device {args.device!r} to it, --force replaces it")
    if not args.device.strip():
        raise ConfigError(f"--device={args.device!r}: expected a device name, e.g. jetson")
    if args.role is not None and not args.merge:
        raise ConfigError(f"--role {args.role}: only with --merge (a new profile's one "
                          f"device is both its edge and its cloud)")
    prof = measure_profile(args.model, args.device, torch_device=args.torch_device,
                           repeats=args.repeats, warmup=args.warmup, input_shape=shape,
                           progress=not args.no_progress)
    runs = (prof.provenance or {}).get("devices", {}).get(args.device, {}).get(
        "repeats_sum_of_layers_ms", {})
    if base is not None:
        prof = merge_device(base, prof, args.device, args.role)
    prof.save(out)
    print(f"{prof.model}: {prof.n_layers} layers, {'chain' if prof.is_chain else 'DAG'}, "
          f"{args.device} whole model {prof.whole_model_s(args.device) * 1e3:.2f} ms, "
          f"devices {sorted(prof.devices)} -> {out}")
    if runs:
        print(f"{args.device}: sum of the layers over {runs['n']} repeats: median "
              f"{runs['median']:.3f} ms, middle 80% {runs['p10']:.3f}-{runs['p90']:.3f} ms "
              f"(spread {runs['spread']:.0%}), min {runs['min']:.3f}, max {runs['max']:.3f}")
        if runs["spread"] > WIDE_SPREAD:
            print(f"splitgym profile: warning: the repeats spread by {runs['spread']:.0%} "
                  f"(more than {WIDE_SPREAD:.0%}): the machine was busy or the model is too "
                  f"small to time steadily; profile again on an idle machine, with more "
                  f"--repeats", file=sys.stderr)
    if base is None:
        print(f"defaults: default_edge={prof.default_edge}, default_cloud="
              f"{prof.default_cloud} (its one device; --merge another with --role cloud "
              f"or --role edge)")
    else:
        said = []
        for key in ("default_edge", "default_cloud"):
            was, now = getattr(base, key), getattr(prof, key)
            said.append(f"{key}={now}" + (f" (was {was})" if was != now else " (kept)"))
        why = (f"--role {args.role}" if args.role else
               "the faster device is the cloud, the slower the edge"
               if base.default_edge == base.default_cloud else
               "edge and cloud were already set apart; --role edge|cloud changes them")
        print(f"defaults: {', '.join(said)}: {why}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import bench_all, bench_env, bench_partition, bench_scale, bench_train

    if args.what == "partition":
        bench_partition(repeats=20 if args.quick else args.repeats)
    elif args.what == "scale":
        bench_scale(decisions=2_000 if args.quick else 20_000)
    elif args.what == "env":
        bench_env(args.quick)
    elif args.what == "testbed":
        from .bench import bench_testbed

        bench_testbed(args.quick)
    elif args.what == "train":
        bench_train(args.quick)
    else:
        bench_all(args.quick)
    return 0


def _cmd_testbed(args: argparse.Namespace) -> int:
    from .testbed import main_cli

    env_kwargs, _ = _eval_env_kwargs(args)
    return main_cli(args, env_kwargs)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import load_config, n_trials, sweep

    if args.cpus is not None and args.cpus < 1:
        raise ConfigError(f"--cpus={args.cpus}: expected a whole number >= 1")
    cfg = load_config(args.config)  # refuse a bad config before Ray starts
    print(f"sweep {cfg['name']}: {n_trials(cfg)} {cfg['command']} trials")
    res = sweep(args.config, args.out, address=args.address, cpus=args.cpus)
    print(res["md"].read_text())
    print(f"wrote {res['csv']} and {res['md']} ({res['wall_s']:.1f} s wall)")
    print(f"TensorBoard: tensorboard --logdir {Path(args.out) / 'tune'}")
    return 0 if all(r["status"] == "ok" for r in res["rows"]) else 1


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from .benchmark import benchmark, compare, profiles

    if args.compare:
        res = compare(*args.compare)
        lo, hi = res["ci"]
        print(f"P({res['a']} > {res['b']}) = {res['probability_of_improvement']:.3f} "
              f"[{lo:.3f}, {hi:.3f}] (95% stratified-bootstrap CI) over "
              f"{len(res['scenarios'])} common scenarios; IQM {res['iqm'][0]:.3f} against "
              f"{res['iqm'][1]:.3f}")
        return 0
    if args.profiles:
        if not args.plot:
            raise ConfigError("benchmark --profiles: --plot FILE is required")
        res = profiles(args.profiles, args.plot)
        for label, iqm, n in zip(res["labels"], res["iqm"], res["seeds"], strict=True):
            print(f"{label}: IQM {iqm:.3f} over {n} training seeds")
        print(f"wrote {res['plot']} ({len(res['scenarios'])} common scenarios)")
        return 0
    if args.plot:
        raise ConfigError("benchmark --plot: only with --profiles DIR [DIR ...]")
    if not args.algo or not args.out:
        raise ConfigError("benchmark: --algo and --out are required (or --compare DIR_A "
                          "DIR_B, or --profiles DIR ... --plot FILE)")
    if args.cpus is not None and args.cpus < 1:
        raise ConfigError(f"--cpus={args.cpus}: expected a whole number >= 1")
    summary = benchmark(args.algo, args.out, seeds=args.seeds, suite=args.suite,
                        quick=args.quick, timesteps=args.timesteps, address=args.address,
                        cpus=args.cpus)
    out = os.path.abspath(args.out)
    print(open(os.path.join(out, "summary.md")).read())
    print(f"wrote scores.csv, summary.json, summary.md, performance_profile.png and runs/ "
          f"to {out} ({summary['wall_s']:.1f} s wall)")
    return 0 if not summary["missing"] else 1


def _one_line_warnings(command: str) -> None:
    """Show splitgym's own warnings to a user as one line (not a file and source line);
    others as Python shows them."""
    from splitgym.agents.safe_load import AgentModelWarning

    from .evaluate import AgentConditionsWarning

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, (AgentModelWarning, AgentConditionsWarning)):
            print(f"splitgym {command}: warning: {message}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``splitgym`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _build_parser().parse_args(argv)
    args.argv = argv
    commands = {"evaluate": _cmd_evaluate, "profile": _cmd_profile, "bench": _cmd_bench,
                "reproduce": _cmd_reproduce, "train": _cmd_train}
    commands["sweep"] = _cmd_sweep
    commands["testbed"] = _cmd_testbed
    commands["benchmark"] = _cmd_benchmark
    try:
        with warnings.catch_warnings():
            _one_line_warnings(args.command)
            return commands[args.command](args)
    except (ConfigError, ProfileError, ValueError, OSError) as exc:
        # OSError: an unwritable or full output folder (FileNotFoundError among them)
        print(f"splitgym {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
