"""The ``splitgym`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from splitgym.envs.core.config import ConfigError, parse_bandwidth_mbps
from splitgym.profiles.schema import ProfileError


def _bandwidth(text: str) -> float:
    try:
        return parse_bandwidth_mbps(text, "--bandwidth")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="splitgym", description="Multi-edge / single-cloud split DNN inference: "
        "simulate, evaluate and compare schedulers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="run policies on the same seeds and print a table",
                        description="Run each policy on the same seeds (so the same arrival "
                        "times) and print makespan, mean and p95 latency per policy.")
    ev.add_argument("--model", default="alexnet",
                    help="shipped profile name or path to a profile JSON (default: alexnet)")
    ev.add_argument("--bandwidth", type=_bandwidth, default=5.85, metavar="MBPS",
                    help="uplink Mbit/s, or 3g (1.1) / 4g (5.85) (default: 4g)")
    ev.add_argument("--policies", default="edge_only,cloud_only,single_cut,queue_aware",
                    help="comma-separated policy names; fixed:<cut> for a fixed cut")
    ev.add_argument("--seeds", type=int, default=5, help="number of seeds 0..n-1 (default 5)")
    ev.add_argument("--n-edges", type=int, default=5)
    ev.add_argument("--frames", type=int, default=30, help="frames per edge (default 30)")
    ev.add_argument("--queue-capacity", type=int, default=20)
    ev.add_argument("--cloud-workers", type=int, default=1)
    ev.add_argument("--uplink", choices=("per_edge", "shared"), default="per_edge")
    ev.add_argument("--objective", choices=("makespan", "mean_latency"), default="makespan")
    ev.add_argument("--csv", default=None, help="also write the table to this CSV file")
    ev.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_policies, format_table, write_csv

    if args.seeds < 1:
        raise ConfigError(f"--seeds={args.seeds}: expected a whole number >= 1")
    env_kwargs = {"model": args.model, "bandwidth_mbps": args.bandwidth,
                  "n_edges": args.n_edges, "frames_per_edge": args.frames,
                  "queue_capacity": args.queue_capacity, "cloud_workers": args.cloud_workers,
                  "uplink": args.uplink, "objective": args.objective}
    policies = [p for p in args.policies.split(",") if p.strip()]
    t0 = time.perf_counter()
    results = evaluate_policies(env_kwargs, policies, range(args.seeds),
                                progress=not args.no_progress)
    print(f"model={args.model} bandwidth={args.bandwidth} Mbit/s edges={args.n_edges} "
          f"frames/edge={args.frames} C={args.queue_capacity} uplink={args.uplink} "
          f"seeds=0..{args.seeds - 1}")
    print(format_table(results))
    if args.csv:
        write_csv(results, args.csv)
        print(f"wrote {args.csv}")
    print(f"({time.perf_counter() - t0:.2f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``splitgym`` console script."""
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            return _cmd_evaluate(args)
    except (ConfigError, ProfileError, ValueError) as exc:
        print(f"splitgym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
