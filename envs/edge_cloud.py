"""The Gymnasium adapter: `EdgeCloudEnv`, registered as ``splitgym/EdgeCloud-v0``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.profiles.cuts import CutTable, make_cut_table
from splitgym.profiles.schema import Profile, load_profile

from .core.config import ConfigError, SimConfig, WorkloadConfig
from .core.simulator import Simulator, TaskRecords
from .core.workload import check_arrivals, periodic_arrivals
from .observation import OBS_CAP, PER_CUT_FIELDS, SCALAR_FIELDS, encode, field_names, obs_size

OBJECTIVES: tuple[str, ...] = ("makespan", "mean_latency")

#: Keys `reset(options=...)` accepts: one-episode overrides of the constructor's workload
#: and system arguments, plus an explicit arrival stream.
RESET_OPTIONS: tuple[str, ...] = (
    "arrival_times_s", "bandwidth_mbps", "uplink", "queue_capacity", "cloud_workers",
    "n_edges", "frames_per_edge", "fps", "phase_s", "objective")


def _field_table(fields: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"    | {name:<17} | {desc}" for name, desc in fields)


class EdgeCloudEnv(gym.Env[np.ndarray, np.int64]):
    """## Description

    E edge devices each run the first layers of a DNN on their video frames, send the
    intermediate tensor over an uplink, and one cloud finishes the rest from a bounded
    FIFO queue (Zhang et al., "An Adaptive Task Migration Scheduling Approach for
    Edge-Cloud Collaborative Inference", 2022, Sections 3-5). Per task, the agent picks
    the cut point. The system follows the discrete-event model of
    `splitgym.envs.core.simulator` exactly: per-edge FIFO compute, FIFO uplinks, a
    cloud queue of capacity C whose slots are held from transfer start to cloud
    completion (a link that finds it full blocks), and FIFO cloud servers.

    ## Action Space

    ``Discrete(K)``: the cut of the task about to start on its edge. For a chain model
    K = N + 1 and the action is the number of layers run on the edge (0 = cloud-only,
    N = edge-only). For a DAG model the K candidate cuts come from
    `splitgym.profiles.cuts.dag_cut_table` (the parametric min-cut sweep, which includes
    the optimal cut at ``bandwidth_mbps``, plus the narrow block boundaries), 0 being
    cloud-only and K - 1 edge-only. Cuts are ordered by edge time; `cut_table` lists each cut's edge
    layers, edge time, bytes sent and cloud time. At bandwidth 0 only edge-only is
    feasible: `action_masks()` (used by sb3-contrib's MaskablePPO) and
    ``info["action_mask"]`` say which cuts are, and an infeasible action raises
    `InvalidActionError`.

    ## Observation Space

    A flat float32 ``Box(0, 1e4, (4K + 10,))``, scale-free: times are divided by
    ``T_E``, the model's whole-model edge time. First four blocks of K (one entry per
    cut), then ten scalars:

    {per_cut}
    {scalars}

    `observation_fields()` names every entry.

    ## Rewards

    Minus the increase of the objective since the previous decision, in seconds: with
    ``objective="makespan"`` the time elapsed (from t = 0 for the first step), so the
    episode return is exactly minus the makespan; with ``"mean_latency"`` the integral
    of the number of frames in the system divided by the number of frames, so the
    return is minus the mean latency.

    ## Starting State

    Per episode, each edge's fps is drawn in the ``fps`` range and its phase uniformly
    in ``[0, 1/fps)`` (unless fixed), from the episode seed. ``reset(options=...)``
    overrides, for one episode, any of {options}; ``arrival_times_s`` (one list of
    times [s] per edge) replays a recorded stream and overrides ``n_edges``,
    ``frames_per_edge``, ``fps`` and ``phase_s``.

    ## Episode End

    The episode terminates after the last task's decision: that step runs the
    simulation to its end and ``info["metrics"]`` holds ``makespan_s``,
    ``mean_latency_s``, ``p95_latency_s``, ``max_latency_s``, ``cut_histogram`` and
    ``n_tasks``. There is no truncation.

    ## Arguments

    * ``model``: a shipped profile name (``"alexnet"``, ``"tiny_yolo"``,
      ``"darknet19"``, ``"alexnet_parallel"``, ``"resnet18"``, ``"googlenet"``,
      ``"toy"``), a path to a
      ``splitgym-profile/1`` JSON file, or a `Profile`.
    * ``edge_device``, ``cloud_device``: device names of the profile (default: its
      ``default_edge`` / ``default_cloud``).
    * ``bandwidth_mbps``: uplink rate [Mbit/s] >= 0, or ``"3g"`` (1.1) / ``"4g"`` (5.85).
    * ``uplink``: ``"per_edge"`` (one link per edge) or ``"shared"`` (one for all).
    * ``n_edges``, ``frames_per_edge``: E and frames per edge (paper: 5 and 30).
    * ``fps``: frames per second, a number or a ``(low, high)`` range drawn per edge.
    * ``phase_s``: per-edge phases [s], or None to draw them.
    * ``queue_capacity``: C (paper: 20). ``cloud_workers``: cloud servers (paper: 1).
    * ``objective``: ``"makespan"`` (the paper's total delay) or ``"mean_latency"``.

    Defaults are the paper's 4G AlexNet setting.

    ## Decision context

    ``info["decision"]`` is what the baselines read: ``edge``, ``frame``, ``task``,
    ``time_s``, per-cut ``edge_s``, ``transfer_s``, ``cloud_s``, ``transfer_bytes``,
    ``finish_at_s`` and ``mask``, the predicted ``cloud_free_at_s`` (when the cloud
    finishes the committed work: the paper's t_end) and ``link_free_at_s``,
    ``next_arrival_s``, ``queue_used``, ``queue_capacity``, ``blocked_links`` and
    counts of waiting frames and busy edges.

    ## Version History

    * v0: first release.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        model: str | Path | Profile = "alexnet",
        edge_device: str | None = None,
        cloud_device: str | None = None,
        bandwidth_mbps: float | str = 5.85,
        uplink: Literal["per_edge", "shared"] = "per_edge",
        n_edges: int = 5,
        frames_per_edge: int = 30,
        fps: float | tuple[float, float] = (5.0, 15.0),
        phase_s: Sequence[float] | None = None,
        queue_capacity: int = 20,
        cloud_workers: int = 1,
        objective: Literal["makespan", "mean_latency"] = "makespan",
    ) -> None:
        self.profile = load_profile(model)
        self.sim_config = SimConfig(bandwidth_mbps=bandwidth_mbps, uplink=uplink,
                                    queue_capacity=queue_capacity, cloud_workers=cloud_workers)
        self._cut_table = make_cut_table(self.profile, edge_device, cloud_device,
                                         bandwidths_mbps=(self.sim_config.bandwidth_mbps,))
        self.workload = WorkloadConfig(
            n_edges=n_edges, frames_per_edge=frames_per_edge,
            fps=tuple(fps) if isinstance(fps, list) else fps,
            phase_s=tuple(phase_s) if isinstance(phase_s, list) else phase_s)
        self.objective = _check_objective(objective)
        k = self._cut_table.n_cuts
        self.action_space = spaces.Discrete(k)
        self.observation_space = spaces.Box(0.0, OBS_CAP, shape=(obs_size(k),),
                                            dtype=np.float32)
        self._scale_s = self._cut_table.whole_edge_s or 1.0
        self._sim: Simulator | None = None
        self._ctx: dict[str, Any] | None = None
        self._episode_objective = self.objective
        self._obj_prev = 0.0

    # -- accessors ---------------------------------------------------------------------
    @property
    def cut_table(self) -> CutTable:
        """The candidate cuts (the action set): per cut, ``edge_layers``, ``edge_s``,
        ``transfer_bytes`` and ``cloud_s``; ``cut_table.describe()`` lists them.
        """
        return self._cut_table

    @property
    def simulator(self) -> Simulator:
        """The simulator core of the current episode."""
        if self._sim is None:
            raise RuntimeError("call reset() first")
        return self._sim

    def records(self) -> TaskRecords:
        """Per-task timeline of the current episode (arrival, cut, edge, link and cloud
        start/end, completion).
        """
        return self.simulator.records()

    def observation_fields(self) -> list[str]:
        """Name of every entry of the observation vector."""
        return field_names(self._cut_table.n_cuts)

    def action_masks(self) -> np.ndarray:
        """Boolean mask of feasible cuts for the pending task (MaskablePPO's hook)."""
        if self._sim is None:
            return np.ones(self._cut_table.n_cuts, dtype=bool)
        return np.array(self._sim.mask, dtype=bool)

    # -- gymnasium API -----------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: Mapping[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; see the class docstring for `options`."""
        super().reset(seed=seed)
        sim_config, workload, objective, arrivals = self._episode_setup(options)
        if arrivals is None:
            arrivals = periodic_arrivals(workload, self.np_random)
        self._episode_objective = objective
        if self._sim is None or self._sim.config != sim_config:
            self._sim = Simulator(self._cut_table, sim_config)
        self._obj_prev = 0.0
        self._ctx = self._sim.reset(arrivals)
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Give the pending task cut `action`; advance to the next decision."""
        if self._sim is None or self._ctx is None:
            raise RuntimeError("step() called with no pending decision: call reset() first "
                               "(the episode may have ended)")
        self._ctx = self._sim.decide(action)
        if self._episode_objective == "makespan":
            current = self._sim.now
        else:
            current = self._sim.latency_area / self._sim.n_tasks
        reward = self._obj_prev - current
        self._obj_prev = current
        terminated = self._ctx is None
        info = self._info()
        if terminated:
            info["metrics"] = self._sim.metrics()
        return self._observe(), float(reward), terminated, False, info

    # -- helpers -----------------------------------------------------------------------
    def _episode_setup(self, options: Mapping[str, Any] | None) -> tuple[
            SimConfig, WorkloadConfig, str, list[np.ndarray] | None]:
        if not options:
            return self.sim_config, self.workload, self.objective, None
        if not isinstance(options, Mapping):
            raise ConfigError(f"options: expected a dict, got {type(options).__name__}")
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ConfigError(f"options[{unknown[0]!r}]: unknown reset option; allowed: "
                              f"{list(RESET_OPTIONS)}")
        sim_kw = {k: options[k] for k in ("bandwidth_mbps", "uplink", "queue_capacity",
                                          "cloud_workers") if k in options}
        sim_config = replace(self.sim_config, **sim_kw) if sim_kw else self.sim_config
        objective = _check_objective(options.get("objective", self.objective))
        arrivals = None
        workload = self.workload
        if "arrival_times_s" in options:
            arrivals = check_arrivals(options["arrival_times_s"])
        else:
            wl_kw = {k: options[k] for k in ("n_edges", "frames_per_edge", "fps", "phase_s")
                     if k in options}
            if wl_kw:
                if "n_edges" in wl_kw and "phase_s" not in wl_kw \
                        and workload.phase_s is not None:
                    wl_kw["phase_s"] = None
                for key in ("fps", "phase_s"):
                    if isinstance(wl_kw.get(key), list):
                        wl_kw[key] = tuple(wl_kw[key])
                workload = replace(workload, **wl_kw)
        return sim_config, workload, objective, arrivals

    def _observe(self) -> np.ndarray:
        out = np.zeros(self.observation_space.shape, dtype=np.float32)
        if self._ctx is not None:
            encode(self._ctx, self._scale_s, out)
        return out

    def _info(self) -> dict[str, Any]:
        if self._ctx is None:
            return {"action_mask": np.ones(self._cut_table.n_cuts, dtype=bool)}
        return {"action_mask": np.array(self._ctx["mask"], dtype=bool), "decision": self._ctx}


def _check_objective(objective: Any) -> str:
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective={objective!r}: expected one of {list(OBJECTIVES)}")
    return objective


EdgeCloudEnv.__doc__ = (EdgeCloudEnv.__doc__ or "").format(
    per_cut=_field_table(PER_CUT_FIELDS), scalars=_field_table(SCALAR_FIELDS),
    options=", ".join(f"``{o}``" for o in RESET_OPTIONS))
