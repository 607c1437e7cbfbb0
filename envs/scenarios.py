"""Named scenario presets: ``gym.make`` of a preset id is the whole experiment setup.

Each preset is a dict of `EdgeCloudEnv` arguments, registered as
``splitgym/EdgeCloud-<Name>-v0`` and usable as ``EdgeCloudEnv(scenario=...)``;
arguments given explicitly win over the preset's.
"""

from __future__ import annotations

from typing import Any

#: Preset name -> EdgeCloudEnv arguments.
SCENARIOS: dict[str, dict[str, Any]] = {
    # The paper's setting (Section 5.2): 5 Raspberry Pis, 30 frames at 5-15 fps, C = 20.
    "paper-4g": {"bandwidth_mbps": "4g"},
    "paper-3g": {"bandwidth_mbps": "3g"},
    # Each Pi on its own cellular uplink that switches between good, fair and bad states
    # (exponential dwell times of 20, 15 and 8 s); decisions see an EWMA estimate of the
    # rate from completed transfers, as a deployed system would.
    "cellular-markov": {
        "bandwidth_mbps": {"kind": "markov", "rates_mbps": [8.0, 3.0, 0.5],
                           "mean_dwell_s": [20.0, 15.0, 8.0]},
        "bandwidth_per_edge": True, "bandwidth_estimator": "ewma"},
    # Eight cameras whose frames come in bursts (a Markov-modulated Poisson process at
    # 3x and 0.25x their 5-10 fps), a 12 s deadline per frame, late frames that have not
    # started dropped; the objective is the deadline miss rate.
    "rush-hour": {"bandwidth_mbps": "4g", "n_edges": 8, "fps": (5.0, 10.0),
                  "arrivals": "bursty", "deadline_s": 12.0, "drop_late": True,
                  "objective": "deadline_miss"},
    # A mixed fleet: a slow board, three Pi 3Bs, a board twice as fast and a Jetson-class
    # device 4x as fast, on 3G, with Poisson frame arrivals.
    "mixed-fleet": {"bandwidth_mbps": "3g", "n_edges": 6,
                    "edge_speed": [0.5, 1.0, 1.0, 1.0, 2.0, 4.0], "arrivals": "poisson"},
}


#: Preset name -> what it is for (docs/model.md's preset table is generated from this
#: and `SCENARIOS`; a test keeps them in step).
PURPOSES: dict[str, str] = {
    "paper-4g": "The paper's 4G setting (Section 5.2): five Raspberry Pis, 30 frames "
                "each at 5-15 fps, C = 20, 5.85 Mbit/s per uplink, where the cloud is the "
                "bottleneck.",
    "paper-3g": "The paper's 3G setting: the same at 1.1 Mbit/s, where the uplink is the "
                "bottleneck.",
    "cellular-markov": "Changing conditions: each Pi's uplink switches between good "
                       "(8 Mbit/s), fair (3) and bad (0.5) states with exponential dwell "
                       "times of 20, 15 and 8 s, drawn independently per edge; decisions "
                       "see an EWMA estimate of the rate from completed transfers, as a "
                       "deployed system would, not the true rate.",
    "rush-hour": "Real-time load: eight cameras whose frames come in bursts (a "
                 "Markov-modulated Poisson process at 3x and 0.25x their 5-10 fps), a 12 s "
                 "deadline per frame, late frames that have not started dropped; the "
                 "objective (and what `splitgym evaluate` reports first) is the "
                 "deadline-miss rate, not the makespan.",
    "mixed-fleet": "A heterogeneous fleet on 3G with Poisson arrivals: a slow board "
                   "(speed 0.5), three Pi 3Bs (1.0), a board twice as fast (2.0) and a "
                   "Jetson-class device (4.0): edge times differ per edge, so a cut "
                   "chosen for one edge need not suit another.",
}


def env_id(name: str) -> str:
    """``"cellular-markov"`` -> ``"splitgym/EdgeCloud-CellularMarkov-v0"``."""
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("-"))
    return f"splitgym/EdgeCloud-{camel.replace('3g', '3G').replace('4g', '4G')}-v0"
