"""The paper's own numbers (Zhang et al. 2022): Table 1 and the Section 5 claims."""

from __future__ import annotations

#: Table 1: total inference delay [s]; None where the paper ran nothing ("-").
TABLE1_S: dict[tuple[str, str], dict[str, float | None]] = {
    ("alexnet", "3g"): {"cloud_only": 78.3, "edge_only": 88.9, "single_cut": 43.7,
                        "queue_aware": 43.7},
    ("tiny_yolo", "3g"): {"cloud_only": 200.8, "edge_only": 159.7, "single_cut": 59.9,
                          "queue_aware": 59.9},
    ("darknet19", "3g"): {"cloud_only": 77.8, "edge_only": 180.4, "single_cut": 54.6,
                          "queue_aware": 54.6},
    ("alexnet_parallel", "3g"): {"cloud_only": 70.2, "edge_only": 44.9, "single_cut": 40.6,
                                 "queue_aware": None},
    ("resnet18", "3g"): {"cloud_only": 84.3, "edge_only": 81.7, "single_cut": 32.0,
                         "queue_aware": None},
    ("googlenet", "3g"): {"cloud_only": 91.2, "edge_only": 121.1, "single_cut": 63.3,
                          "queue_aware": None},
    ("alexnet", "4g"): {"cloud_only": 28.6, "edge_only": 88.9, "single_cut": 27.1,
                        "queue_aware": 24.7},
    ("tiny_yolo", "4g"): {"cloud_only": 84.2, "edge_only": 159.7, "single_cut": 58.6,
                          "queue_aware": 58.6},
    ("darknet19", "4g"): {"cloud_only": 34.9, "edge_only": 180.4, "single_cut": 34.9,
                          "queue_aware": 32.6},
    ("alexnet_parallel", "4g"): {"cloud_only": 27.9, "edge_only": 44.9, "single_cut": 27.9,
                                 "queue_aware": None},
    ("resnet18", "4g"): {"cloud_only": 34.4, "edge_only": 81.7, "single_cut": 25.5,
                         "queue_aware": None},
    ("googlenet", "4g"): {"cloud_only": 43.2, "edge_only": 121.1, "single_cut": 43.2,
                          "queue_aware": None},
}

CHAIN_MODELS = ("alexnet", "tiny_yolo", "darknet19")
DAG_MODELS = ("alexnet_parallel", "resnet18", "googlenet")
MODELS = CHAIN_MODELS + DAG_MODELS
NETWORKS = {"3g": 1.1, "4g": 5.85}

#: Ranges of speedup over edge-only the paper states for Fig. 4 and 5 (Section 5.3),
#: as (low, high), keyed by (figure, policy).
FIG_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("fig4", "single_cut"): (2.88, 3.27),
    ("fig4", "queue_aware"): (3.12, 3.75),
    ("fig5", "single_cut"): (2.94, 3.20),
}

#: Fig. 7 (Section 5.4): S-C is "at most 2.85 times faster than the edge-only method
#: and at most 1.93 times faster than the cloud-only method" between 1 and 8 Mbit/s.
FIG7_MAX_SPEEDUP = {"edge_only": 2.85, "cloud_only": 1.93}
