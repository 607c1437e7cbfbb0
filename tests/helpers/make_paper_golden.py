"""Regenerate tests/data/paper_golden.json: the paper setting's makespans per model,
network, policy and seed, recorded before the changing-conditions features so that a
test can show they leave the paper's setting bit for bit as it was.

    python tests/helpers/make_paper_golden.py
"""

import json
from pathlib import Path

from splitgym.baselines import make_policy
from splitgym.envs import EdgeCloudEnv, rollout

MODELS = ("alexnet", "tiny_yolo", "darknet19", "alexnet_parallel", "resnet18", "googlenet")
POLICIES = ("edge_only", "cloud_only", "single_cut", "queue_aware", "greedy_eft",
            "sq_lookahead")


def golden() -> dict:
    out = {}
    for model in MODELS:
        for net in ("3g", "4g"):
            env = EdgeCloudEnv(model=model, bandwidth_mbps=net)
            for pol in POLICIES:
                for seed in (0, 1):
                    ep = rollout(env, make_policy(pol), seed=seed)
                    out[f"{model}/{net}/{pol}/{seed}"] = {
                        "makespan_s": ep.metrics["makespan_s"],
                        "mean_latency_s": ep.metrics["mean_latency_s"],
                        "return": ep.episode_return, "actions": ep.actions.tolist()}
    return out


if __name__ == "__main__":
    path = Path(__file__).parents[1] / "data" / "paper_golden.json"
    path.write_text(json.dumps(golden(), indent=0))
    print(f"wrote {path}")
