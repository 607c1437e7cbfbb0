"""The Gymnasium adapter: `EdgeCloudEnv`, registered as ``splitgym/EdgeCloud-v0``."""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.profiles.codecs import ENCODINGS, encode_overhead_s, make_encoded_cut_table
from splitgym.profiles.cuts import (
    CutTable,
    chain_edge_times_s,
    cut_for_edge_set,
)
from splitgym.profiles.devices import RADIOS, power_of, radio_of
from splitgym.profiles.schema import Profile, load_profile

from .core.config import (
    BANDWIDTH_PRESETS_MBPS,
    MAX_EDGES,
    MAX_SPEED,
    MIN_SPEED,
    ConfigError,
    SimConfig,
    WorkloadConfig,
    check_number,
    check_seed,
    is_real,
    shown,
)
from .core.energy import ENERGY_OBJECTIVES, EnergyModel
from .core.simulator import Simulator, TaskRecords
from .core.traces import (
    RateTrace,
    check_episode_traces,
    check_spec,
    is_constant_spec,
    make_trace,
    make_traces,
    nominal_mbps,
    prior_mbps,
)
from .core.workload import check_arrivals, make_arrivals, mean_gap_s
from .engine import ENGINES, EnergyMeter, Engine, EngineStateError
from .observation import (
    OBS_HIGH,
    OBSERVATION_VERSIONS,
    PER_CUT_FIELDS,
    SCALAR_FIELDS,
    V1_FIELDS,
    encode,
    field_names,
    obs_size,
    time_scale_s,
)
from .scenarios import SCENARIOS

OBJECTIVES: tuple[str, ...] = ("makespan", "mean_latency", "deadline_miss", "energy",
                               "makespan_energy")
#: Largest ``energy_weight_s_per_j`` accepted [s/J].
MAX_ENERGY_WEIGHT_S_PER_J = 1e6

#: Keys `reset(options=...)` accepts: one-episode overrides of the constructor's workload
#: and system arguments, plus an explicit arrival stream.
RESET_OPTIONS: tuple[str, ...] = (
    "arrival_times_s", "bandwidth_mbps", "uplink", "queue_capacity", "cloud_workers",
    "n_edges", "frames_per_edge", "fps", "phase_s", "objective", "arrivals", "deadline_s",
    "energy_weight_s_per_j")


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
    feasible: `action_masks()` (a bool array, as sb3-contrib's MaskablePPO takes it) and
    ``info["action_mask"]`` (the same as int8 0/1, Gymnasium's convention:
    ``env.action_space.sample(mask=info["action_mask"])`` draws a feasible cut) say
    which cuts are. The env accepts every action the space contains (an int, a numpy
    integer, or a 0-d integer array as SB3's ``model.predict`` returns); a bool, a
    float, an out-of-range or an infeasible cut raises `InvalidActionError`.

    ## Observation Space

    A flat float32 ``Box(0, 9.21, (4K + 10,))``: entry i is ``log1p(min(x_i, 1e4))``
    of a scale-free, non-negative field x_i (times are divided by ``T_E``, the model's
    whole-model edge time; an infinite time, e.g. a transfer at bandwidth 0, is 1e4),
    so every entry lies in ``[0, log1p(1e4)]`` and is ready to be a network's input as
    it is. First four blocks of K (one entry per cut), then ten scalars (the fields x_i):

    {per_cut}
    {scalars}

    With ``observation_version=1`` it is ``Box(0, 9.21, (4K + 14,))``: the same, then
    four more scalars, on the decisions' own information set (what a scheduler under
    changing conditions knows of the recent past):

    {v1}

    `observation_fields()` names every entry; ``np.expm1(obs)`` gives back the fields
    (to float32 precision).

    ## Rewards

    Minus the increase of the objective since the previous decision, in seconds: with
    ``objective="makespan"`` the time elapsed (from t = 0 for the first step), so the
    episode return is exactly minus the makespan; with ``"mean_latency"`` the integral
    of the number of frames in the system divided by the number of frames, so the
    return is minus the mean latency. With ``"energy"`` minus the edge energy [J]
    accrued since the previous decision, so the return is minus ``edge_energy_j``;
    with ``"makespan_energy"`` the makespan reward minus ``energy_weight_s_per_j``
    times that energy, so the return is minus ``makespan_s + energy_weight_s_per_j *
    edge_energy_j`` (`splitgym.envs.engine.EnergyMeter`, the same on both engines).

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
    ``n_tasks``, and where the edge devices carry power figures (the shipped Raspberry
    Pi devices do) ``edge_energy_j`` (the fleet's edge energy [J],
    `splitgym.envs.core.energy`) and ``mean_frame_energy_j`` (per frame). There is no
    truncation.

    ## Arguments

    * ``model``: a shipped profile name (``"alexnet"``, ``"tiny_yolo"``,
      ``"darknet19"``, ``"alexnet_parallel"``, ``"resnet18"``, ``"googlenet"``,
      ``"toy"``), a path to a
      ``splitgym-profile/1`` JSON file (a string with a directory separator or a
      ``.json`` suffix: a bare name is always a shipped profile), or a `Profile`.
    * ``edge_device``, ``cloud_device``: device names of the profile (default: its
      ``default_edge`` / ``default_cloud``).
    * ``bandwidth_mbps``: uplink rate [Mbit/s] >= 0, or ``"3g"`` (1.1) / ``"4g"``
      (5.85); or a rate over time: a list of ``(t_s, mbps)`` steps, a CSV path (with a
      directory separator or a ``.csv`` suffix: ``"./3g"``, never ``"3g"``), or a
      generator ``{{"kind": "markov" | "lognormal_ar1", ...}}`` drawn from the episode
      seed (`splitgym.envs.core.traces`). A transfer under a changing rate takes the
      exact time; a zero rate pauses it.
    * ``bandwidth_per_edge``: draw the ``bandwidth_mbps`` trace independently per edge
      (default: one trace shared by every link). ``edge_bandwidth_mbps``: one spec per
      edge instead.
    * ``bandwidth_estimator``: what decisions see of the rate: ``"oracle"`` (the true
      current rate, and a running transfer's true end) or ``"ewma"`` (an average over
      completed transfers, started from the spec's long-run mean; a running transfer
      is predicted to send its remaining bits at it: decisions see no future).
    * ``uplink``: ``"per_edge"`` (one link per edge) or ``"shared"`` (one for all).
    * ``n_edges``, ``frames_per_edge``: E and frames per edge (paper: 5 and 30; a list
      gives one count per edge).
    * ``fps``: frames per second, a number or a ``(low, high)`` range drawn per edge.
    * ``phase_s``: per-edge phases [s], or None to draw them.
    * ``arrivals``: ``"periodic"`` (the paper's), ``"poisson"`` or ``"bursty"`` (a
      two-state Markov-modulated Poisson process; a dict sets its parameters).
    * ``edge_device``: a profile device, or one per edge; ``edge_speed``: one speed
      factor per edge (2.0 runs every layer twice as fast): a heterogeneous fleet.
    * ``queue_capacity``: C (paper: 20). ``cloud_workers``: cloud servers (paper: 1).
    * ``deadline_s``: per-frame deadline after its arrival [s] (metrics gain
      ``deadline_miss_rate``); ``drop_late``: drop, and count, a frame whose deadline
      passed before it starts on its edge.
    * ``objective``: ``"makespan"`` (the paper's total delay), ``"mean_latency"`` or
      ``"deadline_miss"`` (the return is minus the miss rate), ``"energy"`` (minus the
      edge energy [J]) or ``"makespan_energy"`` (minus ``makespan_s +
      energy_weight_s_per_j * edge_energy_j``); the energy objectives need power
      figures on every edge device (`splitgym.profiles.devices`).
    * ``energy_weight_s_per_j``: seconds of makespan one joule of edge energy is worth
      under ``"makespan_energy"`` (> 0; 0 for every other objective).
    * ``radio``: the link type of the edge radios' power figures, ``"3g"``, ``"4g"`` or
      ``"wifi"``; None: ``"3g"`` at the 3G preset rate (1.1 Mbit/s), else ``"4g"``.
    * ``predictor``: how contexts predict the backlogs: ``"replay"`` (exact FIFO replay),
      ``"fluid"`` (O(1) per decision), ``"auto"`` (replay up to 32 edges).
    * ``scenario``: a preset of `splitgym.envs.scenarios.SCENARIOS` (``"paper-4g"``,
      ``"paper-3g"``, ``"cellular-markov"``, ``"rush-hour"``, ``"mixed-fleet"``), also
      registered as ``splitgym/EdgeCloud-<Name>-v0``; arguments given explicitly win
      over the preset's.
    * ``engine``: ``"auto"`` (default) or ``"compiled"``: the compiled engine (numba,
      `splitgym.envs.fast`), which covers every configuration this env accepts (rate
      traces of every kind, shared or per edge, oracle or EWMA estimates; fleets;
      unequal frame counts; deadlines with and without drops; all three objectives;
      both predictors; every ``reset`` option); ``"python"``: always the simulator core
      (`splitgym.envs.core.Simulator`, the reference). Both give the same episodes bit
      for bit (tested over the whole configuration space); ``engine_in_use`` says which
      ran the current episode. Measured by ``splitgym bench env`` on a 2-core VM at load
      average 6-9 (ratios in one run, per CPU-second): ``gym.make`` at 0.66-0.68x
      CartPole-v1's decisions/s (cut 2); with random feasible cuts the presets' single
      envs at 1.01-1.09x (``paper-4g``), 0.93-0.94x (``cellular-markov``), 0.90-0.93x
      (``rush-hour``) and 0.99-1.02x (``mixed-fleet``) ``paper-3g``'s rate, their 64-env
      vector envs at 1.33-1.35x, 0.82x, 0.88-0.89x and 0.90-0.91x (two later runs at
      load average 3; README: Speed).
      With it, `simulator` is rebuilt on access by replaying the episode's decisions.
    * ``transfer_encoding``: how a cut's intermediate tensor is sent: ``"float32"``
      (the paper's, default), ``"float16"`` (half the bytes) or ``"int8"`` (a quarter,
      plus an 8-byte scale header per tensor). The edge pays the encode time and the
      cloud the decode time that the profile's devices state (their ``codecs``
      figures, measured by the profiler); `cut_table` holds the encoded bytes and
      times, so both engines and every policy see them. Bytes and time only: the
      accuracy an encoding costs is outside the model
      (`splitgym.profiles.codecs`). Fixed per env (not a reset option), like the
      devices: it is the action set's costs.
    * ``observation_version``: ``0`` (default: the observation the paper agents read,
      `SCALAR_FIELDS`) or ``1`` (version 0's entries, then four scalars for changing
      conditions, `V1_FIELDS`: this link's last measured transfer rate over its
      estimate, the time since its last completed transfer, this frame's deadline
      slack and the cloud queue's occupancy averaged over decisions; all on the
      decisions' information set). The episodes are the same under both.
    * ``render_mode``: ``"ansi"`` (`render` returns a text snapshot: each edge's
      running frame and queue, each link's transfer, waiting tasks and blocking, the
      cloud queue and servers) or ``"rgb_array"`` (a Gantt timeline of the episode so
      far: one lane per edge, link and cloud server, tasks coloured by cut, blocked link
      spells hatched; for ``gymnasium.wrappers.RecordVideo`` and notebooks). Both
      engines; `splitgym.envs.render`. ``"human"`` is not native (no window):
      ``gym.make(..., render_mode="human")`` shows ``"rgb_array"`` through Gymnasium's
      ``HumanRendering`` (needs pygame); ``EdgeCloudEnv(render_mode="human")`` raises
      `ConfigError`.

    Defaults are the paper's 4G AlexNet setting.

    ## Decision context

    ``info["decision"]`` is what the baselines read: ``edge``, ``frame``, ``task``,
    ``time_s``, per-cut ``edge_s``, ``transfer_s``, ``cloud_s``, ``transfer_bytes``,
    ``finish_at_s`` and ``mask``; the predicted ``cloud_free_at_s`` (when the cloud
    finishes all the committed work) and ``link_free_at_s`` (when this edge's link
    finishes its committed transfers); Scheduling with Queuing's ``t_end``,
    ``sq_cloud_free_at_s``: when the cloud finishes the committed work predicted to
    reach it no later than this task's own arrival under its S-C cut v*,
    ``A(v*) = (time_s + Te(v*)) + Tt(v*)`` (the tasks ahead of it in the FIFO cloud),
    and ``sq_link_cloud_free_at_s``, the same with the arrival counting this edge's link
    backlog, ``max(time_s + Te(v*), link_free_at_s) + Tt(v*)``; ``next_arrival_s``,
    ``queue_used``, ``queue_capacity``, ``blocked_links`` and counts of waiting frames
    and busy edges; where the edge devices carry power figures, ``edge_energy_j``: per
    cut, the frame's predicted edge energy [J] in Neurosurgeon's model (computing and
    sending; `splitgym.envs.core.energy.EnergyModel.predicted_j`). Predicted times are
    replays of the committed tasks through their FIFO links and the FIFO cloud
    (blocking ignored) and never earlier than ``time_s``; with ``predictor="fluid"``
    both S-Q fields equal ``cloud_free_at_s`` (it keeps no per-task arrival times).
    The observation does not include the S-Q fields.

    What a context knows is what a deployed scheduler could: under ``ewma`` rate traces
    a running transfer is predicted to end when its bits not yet sent (its bits minus
    the trace's volume since it started) go at the link's estimate, and the estimate
    starts at the spec's long-run mean (`splitgym.envs.core.traces.prior_mbps`), not
    at the episode's trace; under ``poisson`` and ``bursty`` arrivals ``next_arrival_s``
    of a frame not yet arrived is ``time_s`` plus the workload's long-run mean gap
    (`splitgym.envs.core.workload.mean_gap_s`), not its drawn time (a frame already
    here: its arrival time; none left: inf; ``periodic`` or given times: the true,
    knowable time). ``oracle`` is a clairvoyance knob: it sees the current rate and a
    running transfer's true end.

    ## Version History

    * v0: first release (the paper's setting, then changing conditions: bandwidth
      traces, heterogeneous edges, Poisson and bursty arrivals, deadlines, presets; the
      paper's setting is unchanged bit for bit). The compiled engine (``engine``)
      changes speed only: episodes are the same bit for bit.
      In splitgym 0.1 the observation became ``log1p`` of the fields, bounded by
      ``log1p(1e4)`` (it was the fields themselves, ``Box(0, 1e4)``): the meaning of
      the observation changed, the dynamics, rewards and episodes did not. The id stays
      v0 because every agent trained before (shipped or by ``splitgym train``) already
      read this input, through a training wrapper now removed: such a zip reads the new
      observation as it read the wrapped one (to float32 rounding; its saved space is
      the new one), so a v1 would have broken the agents the change fixes. Code that
      read the raw fields applies ``np.expm1``. Also in 0.1: ``render`` (``"ansi"``,
      ``"rgb_array"``), actions as SB3 gives them (0-d integer arrays), and
      ``info["action_mask"]`` as int8 (was bool; ``action_masks()`` stays bool).
      Later in 0.1: ``transfer_encoding``, the edge energy metrics, the ``"energy"``
      and ``"makespan_energy"`` objectives, ``radio`` and the contexts'
      ``edge_energy_j``; all additions: with them at their defaults every episode,
      reward and observation is the same bit for bit (metrics gain the energy keys).
      Later in 0.1, the honest information set (issue 22): under ``ewma`` rate traces
      the contexts' predicted backlogs (``link_free_at_s``, ``cloud_free_at_s``, the
      S-Q fields, ``finish_at_s``) take a running transfer's end at the estimate (it
      was its true end) and the estimate starts at the spec's long-run mean (it was
      the episode trace's own mean); under ``poisson`` and ``bursty`` arrivals
      ``next_arrival_s`` of a frame not yet arrived is now plus the mean gap (it was
      its true time). The observation's ``cloud_wait``, ``link_wait``, ``finish`` and
      ``next_arrival`` entries change meaning there (and every decision's under
      ``ewma``: different estimates), so the decisions and episodes of policies that
      read them change; dynamics and rewards of a given action sequence do not, and
      ``oracle``, constant rates and periodic arrivals (the paper's setting) are the
      same bit for bit. Agents trained on ``cellular-markov``, ``rush-hour`` or
      ``mixed-fleet`` before read the old meaning (retrain them). And
      ``observation_version`` (default 0: the observation above, unchanged): 1 appends
      four scalars for changing conditions (`V1_FIELDS`); an agent records the version
      it was trained on in its env arguments, and is evaluated under it.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        model: str | Path | Profile = "alexnet",
        edge_device: str | Sequence[str] | None = None,
        cloud_device: str | None = None,
        bandwidth_mbps: Any = 5.85,
        uplink: Literal["per_edge", "shared"] = "per_edge",
        n_edges: int = 5,
        frames_per_edge: int | Sequence[int] = 30,
        fps: float | tuple[float, float] = (5.0, 15.0),
        phase_s: Sequence[float] | None = None,
        queue_capacity: int = 20,
        cloud_workers: int = 1,
        objective: Literal["makespan", "mean_latency", "deadline_miss", "energy",
                           "makespan_energy"] = "makespan",
        edge_bandwidth_mbps: Sequence[Any] | None = None,
        bandwidth_per_edge: bool = False,
        bandwidth_estimator: Literal["oracle", "ewma"] = "oracle",
        edge_speed: Sequence[float] | None = None,
        arrivals: str | Mapping[str, Any] = "periodic",
        deadline_s: float | None = None,
        drop_late: bool = False,
        predictor: Literal["auto", "replay", "fluid"] = "auto",
        scenario: str | None = None,
        engine: Literal["auto", "python", "compiled"] = "auto",
        render_mode: Literal["ansi", "rgb_array"] | None = None,
        transfer_encoding: Literal["float32", "float16", "int8"] = "float32",
        energy_weight_s_per_j: float = 0.0,
        radio: Literal["3g", "4g", "wifi"] | None = None,
        observation_version: int = 0,
    ) -> None:
        args = dict(locals())
        del args["self"]
        args = _apply_scenario(args, getattr(self, "_explicit", set(args)))
        self.scenario = args["scenario"]
        self.profile = load_profile(args["model"])
        devices = args["edge_device"]
        if isinstance(devices, (list, tuple)) and not devices:
            raise ConfigError("edge_device=[]: expected a device name, or a list of one "
                              "device name per edge")
        default_edge = devices[0] if isinstance(devices, (list, tuple)) else devices
        self._bw_spec = args["bandwidth_mbps"]
        self._edge_bw = args["edge_bandwidth_mbps"]
        if self._edge_bw is not None and (not isinstance(self._edge_bw, (list, tuple))
                                          or not self._edge_bw):
            raise ConfigError(f"edge_bandwidth_mbps={shown(self._edge_bw)}: expected a list "
                              f"with one bandwidth spec per edge")
        if self._edge_bw is not None and len(self._edge_bw) > MAX_EDGES:
            raise ConfigError(f"edge_bandwidth_mbps: {len(self._edge_bw)} specs; expected one "
                              f"per edge, at most {MAX_EDGES}")
        for i, spec in enumerate(self._edge_bw or []):
            check_spec(spec, f"edge_bandwidth_mbps[{i}]")
        nominal = nominal_mbps(self._bw_spec)
        if not isinstance(args["bandwidth_per_edge"], bool):
            raise ConfigError(f"bandwidth_per_edge={args['bandwidth_per_edge']!r}: expected "
                              f"True or False")
        self._bw_per_edge = args["bandwidth_per_edge"]
        self.sim_config = SimConfig(
            bandwidth_mbps=nominal, uplink=args["uplink"],
            queue_capacity=args["queue_capacity"], cloud_workers=args["cloud_workers"],
            deadline_s=args["deadline_s"], drop_late=args["drop_late"],
            bandwidth_estimator=args["bandwidth_estimator"], predictor=args["predictor"],
            rate_prior_mbps=self._rate_prior(self._bw_spec))
        self.transfer_encoding = _check_encoding(args["transfer_encoding"])
        self._cut_table = _cut_table(self.profile, default_edge, args["cloud_device"],
                                     self.sim_config.bandwidth_mbps, self.transfer_encoding)
        self._edge_devices = devices
        self._edge_speed = args["edge_speed"]
        arr = args["arrivals"]
        fps = args["fps"]
        self.workload = WorkloadConfig(
            n_edges=args["n_edges"],
            frames_per_edge=tuple(args["frames_per_edge"]) if isinstance(
                args["frames_per_edge"], list) else args["frames_per_edge"],
            fps=tuple(fps) if isinstance(fps, list) else fps,
            phase_s=tuple(args["phase_s"]) if isinstance(args["phase_s"], list)
            else args["phase_s"], arrivals=dict(arr) if isinstance(arr, Mapping) else arr)
        self.sim_config = replace(self.sim_config, arrival_gap_s=mean_gap_s(self.workload))
        self.objective = _check_objective(args["objective"], self.sim_config)
        self.radio = _check_radio(args["radio"])
        self.energy_weight_s_per_j = _check_weight(args["energy_weight_s_per_j"],
                                                   self.objective)
        self._energy_models: dict[tuple[tuple[str, ...], str], Any] = {}
        self._device_edge_s: dict[str, list[float]] = {}
        self._edge_rows(self.workload.n_edges)  # validate the fleet arguments now
        self._check_links(self.workload.n_edges, self.sim_config)
        self.energy_meter(self.workload.n_edges, self.sim_config, self.objective)
        k = self._cut_table.n_cuts
        self.action_space = spaces.Discrete(k)
        self.observation_version = _check_observation_version(args["observation_version"])
        self.observation_space = spaces.Box(
            0.0, OBS_HIGH, shape=(obs_size(k, self.observation_version),), dtype=np.float32)
        self._scale_s = time_scale_s(self._cut_table.whole_edge_s)
        self._ctx: dict[str, Any] | None = None  # the pending decision's context
        self._episode_objective = self.objective
        self.engine = self._check_engine(args["engine"])
        self.render_mode = _check_render_mode(args["render_mode"], self.metadata)
        self._engine: Engine | None = None  # the current episode's engine
        self._engines: dict[str, Engine] = {}  # by name, kept for the next episodes

    #: What `copy.copy` copies (the rest is shared: the profile, cut table and configs
    #: are never changed after construction).
    _EPISODE_STATE: tuple[str, ...] = ("_engine", "_engines", "_ctx", "_np_random")

    def __copy__(self) -> EdgeCloudEnv:
        """A real copy: the episode state (the simulator or the compiled engine's rows, the
        random generator) is copied, so each copy steps its own episode. (A shallow copy
        would share the compiled engine's state rows, and stepping one would corrupt the
        other.)"""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        memo = {id(self.profile): self.profile, id(self._cut_table): self._cut_table,
                id(self.sim_config): self.sim_config}
        for name in self._EPISODE_STATE:
            if name in self.__dict__:
                new.__dict__[name] = copy.deepcopy(self.__dict__[name], memo)
        return new

    def _check_engine(self, engine: Any) -> str:
        if engine not in ("auto", "python", "compiled"):
            raise ConfigError(f"engine={engine!r}: expected 'auto', 'python' or 'compiled'")
        if engine == "python":
            return engine
        try:
            from . import fast  # noqa: F401
        except ImportError:  # pragma: no cover - numba is a dependency
            if engine == "compiled":
                raise ConfigError("engine='compiled': numba is not installed") from None
            return "python"
        return "compiled"

    def _edge_rows(self, n_edges: int) -> list[list[float]] | None:
        """Per-edge, per-cut edge times [s] for a fleet of `n_edges`, or None when every
        edge is the profile's default edge device at speed 1 (the paper's fleet)."""
        devices, speed = self._edge_devices, self._edge_speed
        if not isinstance(devices, (list, tuple)) and speed is None:
            return None
        if isinstance(devices, (list, tuple)):
            if len(devices) != n_edges:
                raise ConfigError(f"edge_device={list(devices)!r}: expected one device per "
                                  f"edge ({n_edges})")
            names = list(devices)
        else:
            names = [self._cut_table.edge_device] * n_edges
        if speed is None:
            speed = [1.0] * n_edges
        if not isinstance(speed, (list, tuple)) or len(speed) != n_edges or not all(
                is_real(x) and MIN_SPEED <= x <= MAX_SPEED for x in speed):
            raise ConfigError(f"edge_speed={speed!r}: expected {n_edges} factors > 0 (one "
                              f"per edge, each in [{MIN_SPEED:g}, {MAX_SPEED:g}])")
        rows = []
        for name, factor in zip(names, speed, strict=True):
            if name not in self._device_edge_s:
                self.profile.check_device(name, "edge_device")
                times = chain_edge_times_s(self.profile, name) if \
                    self._cut_table.kind == "chain" else [
                    cut_for_edge_set(self.profile, c.edge_layers, name,
                                     self._cut_table.cloud_device).edge_s
                    for c in self._cut_table.cuts]
                if self.transfer_encoding != "float32":  # the device's own encode time
                    times = [t + enc for t, enc in zip(times, encode_overhead_s(
                        self.profile, self._cut_table, self.transfer_encoding, name),
                        strict=True)]
                self._device_edge_s[name] = times
            rows.append([t / factor for t in self._device_edge_s[name]])
        return rows

    def _check_links(self, n_edges: int, config: SimConfig, spec: Any = None) -> None:
        """The uplink specs fit the fleet, and the episode's traces have at most
        `MAX_EPISODE_TRACE_STEPS` steps in all (checked before any is drawn)."""
        if self._edge_bw is not None:
            if config.uplink == "shared":
                raise ConfigError("edge_bandwidth_mbps: per-edge uplinks need "
                                  "uplink='per_edge'")
            if len(self._edge_bw) != n_edges:
                raise ConfigError(f"edge_bandwidth_mbps: expected {n_edges} specs (one per "
                                  f"edge), got {len(self._edge_bw)}")
            check_episode_traces([(s, f"edge_bandwidth_mbps[{i}]")
                                  for i, s in enumerate(self._edge_bw)])
            return
        spec = self._bw_spec if spec is None else spec
        if not is_constant_spec(spec):
            per_edge = self._bw_per_edge and config.uplink == "per_edge"
            check_episode_traces([(spec, "bandwidth_mbps")], n_edges if per_edge else 1)

    def _rate_prior(self, spec: Any) -> float | tuple[float, ...] | None:
        """The ``ewma`` estimate's config-level start (`SimConfig.rate_prior_mbps`): each
        link's spec's long-run mean (`prior_mbps`), never an episode's draw; None for
        the paper's constant bandwidth."""
        if self._edge_bw is not None:
            return tuple(prior_mbps(s, f"edge_bandwidth_mbps[{i}]")
                         for i, s in enumerate(self._edge_bw))
        return None if is_constant_spec(spec) else prior_mbps(spec)

    def _link_traces(self, n_edges: int, config: SimConfig,
                     spec: Any) -> list[RateTrace] | None:
        """The episode's uplink traces (drawn from the episode seed), or None for the
        paper's constant bandwidth."""
        n_links = n_edges if config.uplink == "per_edge" else 1
        fast = self.engine == "compiled"  # its Markov draws: compiled, arrays not built
        if self._edge_bw is not None:
            return [make_trace(s, self.np_random, f"edge_bandwidth_mbps[{i}]", fast)
                    for i, s in enumerate(self._edge_bw)]
        if is_constant_spec(spec):
            return None
        if self._bw_per_edge:
            return make_traces(spec, self.np_random, n_links, compiled=fast)
        return [make_trace(spec, self.np_random, compiled=fast)] * n_links

    # -- accessors ---------------------------------------------------------------------
    @property
    def cut_table(self) -> CutTable:
        """The candidate cuts (the action set): per cut, ``edge_layers``, ``edge_s``,
        ``transfer_bytes`` and ``cloud_s``; ``cut_table.describe()`` lists them.
        """
        return self._cut_table

    @property
    def simulator(self) -> Simulator:
        """The simulator core of the current episode (on the compiled engine: a core
        replayed to the same point from the episode's arrivals and decisions)."""
        return self._live_engine().simulator

    def _live_engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("call reset() first")
        return self._engine

    def records(self) -> TaskRecords:
        """Per-task timeline of the current episode (arrival, cut, edge, link and cloud
        start/end, completion).
        """
        return self._live_engine().records()

    def render(self) -> str | np.ndarray | None:
        """The episode so far (`splitgym.envs.render`): ``"ansi"``, a text snapshot of
        every edge, link, the cloud queue and servers; ``"rgb_array"``, a Gantt timeline
        as an (H, W, 3) uint8 image."""
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode: build the env with "
                            "render_mode='ansi' or 'rgb_array'")
            return None
        from . import render

        snap = render.snapshot_of(self)
        return render.ansi(snap) if self.render_mode == "ansi" else render.rgb_array(snap)

    def observation_fields(self) -> list[str]:
        """Name of every entry of the observation vector."""
        return field_names(self._cut_table.n_cuts, self.observation_version)

    def action_masks(self) -> np.ndarray:
        """Boolean mask of feasible cuts for the pending task (MaskablePPO's hook)."""
        if self._engine is None:
            return np.ones(self._cut_table.n_cuts, dtype=bool)
        return self._engine.action_mask()

    # -- gymnasium API -----------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: Mapping[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; see the class docstring for `options`.

        Every option is validated before anything changes: a refused reset leaves the
        env, its random generator and its episode exactly as they were."""
        seed = check_seed(seed)
        sim_config, workload, objective, arrivals, bw_spec = self._episode_setup(options)
        super().reset(seed=seed)
        if arrivals is None:
            arrivals = make_arrivals(workload, self.np_random)
        n_edges = len(arrivals)
        traces = self._link_traces(n_edges, sim_config, bw_spec)  # None: constant
        edge_rows = self._edge_rows(n_edges)  # None: the default edge at speed 1
        kind = self.engine
        engine = self._engines.get(kind)
        if engine is None:
            engine = self._engines[kind] = ENGINES[kind](
                self._cut_table, self._scale_s, self.observation_space.shape)
        self._engine = engine
        self._episode_objective = objective
        self._ctx = None
        meter = self.energy_meter(n_edges, sim_config, objective, _check_weight(
            (options or {}).get("energy_weight_s_per_j", self.energy_weight_s_per_j),
            objective))
        obs, self._ctx = engine.reset(arrivals, sim_config, objective, traces, edge_rows,
                                      meter=meter)
        return obs, self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Give the pending task cut `action`; advance to the next decision."""
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError("step() called with no pending decision: call reset() first "
                               "(the episode may have ended)")
        try:
            obs, reward, ctx = self._engine.step(action, ctx["task"])
        except EngineStateError:
            self._ctx = None
            raise
        self._ctx = ctx
        if ctx is not None:
            return obs, reward, False, False, {
                "action_mask": ctx["mask"].astype(np.int8), "decision": ctx}
        return obs, reward, True, False, {
            "action_mask": np.ones(self._cut_table.n_cuts, dtype=np.int8),
            "metrics": self._engine.metrics()}

    @property
    def engine_in_use(self) -> str | None:
        """The engine running the current episode: ``"compiled"`` (numba) or
        ``"python"`` (the simulator core); None before the first `reset`."""
        if self._engine is None:
            return None
        return "compiled" if self._engine.compiled else "python"

    # -- internals tests and debugging reach -------------------------------------------
    @property
    def _compiled(self) -> bool:
        """Whether the current episode runs on the compiled engine."""
        return self._engine is not None and self._engine.compiled

    @property
    def _fast(self) -> Any:
        """The compiled engine's kernel (one state row), or None."""
        engine = self._engines.get("compiled")
        return None if engine is None else engine.kernel

    @property
    def _ctx_buf(self) -> np.ndarray:
        """The compiled engine's context buffer."""
        return self._engines["compiled"].ctx_buf

    # -- helpers -----------------------------------------------------------------------
    def _episode_setup(self, options: Mapping[str, Any] | None) -> tuple[
            SimConfig, WorkloadConfig, str, list[np.ndarray] | None, Any]:
        """The episode's validated configuration; changes nothing (see `reset`)."""
        if options is None or (isinstance(options, Mapping) and not options):
            return self.sim_config, self.workload, self.objective, None, self._bw_spec
        if not isinstance(options, Mapping):
            raise ConfigError(f"options: expected a dict, got {type(options).__name__}")
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ConfigError(f"options[{unknown[0]!r}]: unknown reset option; allowed: "
                              f"{list(RESET_OPTIONS)}")
        bw_spec = options.get("bandwidth_mbps", self._bw_spec)
        sim_kw = {k: options[k] for k in ("uplink", "queue_capacity", "cloud_workers",
                                          "deadline_s") if k in options}
        if "bandwidth_mbps" in options:
            sim_kw["bandwidth_mbps"] = nominal_mbps(bw_spec)
            sim_kw["rate_prior_mbps"] = self._rate_prior(bw_spec)
        sim_config = replace(self.sim_config, **sim_kw) if sim_kw else self.sim_config
        objective = _check_objective(options.get("objective", self.objective), sim_config)
        _check_weight(options.get("energy_weight_s_per_j", self.energy_weight_s_per_j),
                      objective)
        arrivals = None
        workload = self.workload
        if "arrival_times_s" in options:
            arrivals = check_arrivals(options["arrival_times_s"])
        else:
            wl_kw = {k: options[k] for k in ("n_edges", "frames_per_edge", "fps", "phase_s",
                                             "arrivals") if k in options}
            if wl_kw:
                if "n_edges" in wl_kw and "phase_s" not in wl_kw \
                        and workload.phase_s is not None:
                    wl_kw["phase_s"] = None
                for key in ("fps", "phase_s", "frames_per_edge"):
                    if isinstance(wl_kw.get(key), list):
                        wl_kw[key] = tuple(wl_kw[key])
                workload = replace(workload, **wl_kw)
                sim_config = replace(sim_config, arrival_gap_s=mean_gap_s(workload))
        if arrivals is not None:  # given times: knowable, as periodic ones
            sim_config = replace(sim_config, arrival_gap_s=None)
        n_edges = len(arrivals) if arrivals is not None else workload.n_edges
        self._check_links(n_edges, sim_config, bw_spec)
        self._edge_rows(n_edges)
        self.energy_meter(n_edges, sim_config, objective)
        return sim_config, workload, objective, arrivals, bw_spec

    def energy_meter(self, n_edges: int, config: SimConfig, objective: str,
                     energy_weight_s_per_j: float | None = None) -> EnergyMeter:
        """The `EnergyMeter` of an episode of `n_edges` under `config` and `objective`:
        the edges' power figures (`splitgym.profiles.devices`) on the link type
        ``radio`` (None: ``"3g"`` at the 3G preset rate, 1.1 Mbit/s, else ``"4g"``).
        Without figures for every edge device it adds nothing, and an energy objective
        is a `ConfigError`."""
        radio = self.radio or ("3g" if config.bandwidth_mbps == BANDWIDTH_PRESETS_MBPS["3g"]
                               else "4g")
        devices = self._edge_devices
        names = tuple(devices) if isinstance(devices, (list, tuple)) else (
            self._cut_table.edge_device,) * n_edges
        key = (names, radio)
        if key not in self._energy_models:
            self._energy_models[key] = self._energy_model(names, radio)
        model, missing = self._energy_models[key]
        if model is None and objective in ENERGY_OBJECTIVES:
            raise ConfigError(f"objective={objective!r}: {missing}")
        weight = self.energy_weight_s_per_j if energy_weight_s_per_j is None else \
            energy_weight_s_per_j
        return EnergyMeter(model, objective, weight)

    def _energy_model(self, names: tuple[str, ...],
                      radio: str) -> tuple[EnergyModel | None, str]:
        """The fleet's `EnergyModel`, or (None, what figure is missing)."""
        rows = []
        for name in names:
            device = self.profile.devices[name]
            power, link = power_of(device), radio_of(device, radio)
            if power is None or link is None:
                block = "power" if power is None else f"radio[{radio!r}]"
                return None, (f"edge device {name!r} of profile {self.profile.model!r} has "
                              f"no {block} figures (devices[{name!r}].{block}, "
                              f"splitgym.profiles.devices)")
            rows.append((power["idle_w"], power["compute_w"], link["tx_base_w"],
                         link["tx_w_per_mbps"], link["tail_w"], link["tail_s"]))
        cols = np.array(rows, dtype=np.float64).T
        return EnergyModel(*cols, transfer_bytes=self._cut_table.transfer_bytes,
                           radio=radio), ""

    def observation_of(self, ctx: dict[str, Any]) -> np.ndarray:
        """The observation this env gives for decision context `ctx` (offline planners
        replay an agent on a private simulator through it)."""
        return encode(ctx, self._scale_s, np.zeros(self.observation_space.shape,
                                                   dtype=np.float32))

    def _info(self) -> dict[str, Any]:
        # int8, Gymnasium's mask convention (`action_space.sample(mask=...)`);
        # `action_masks()` gives the same as bool (sb3-contrib's)
        if self._ctx is None:
            return {"action_mask": np.ones(self._cut_table.n_cuts, dtype=np.int8)}
        return {"action_mask": np.array(self._ctx["mask"], dtype=np.int8),
                "decision": self._ctx}


def _check_render_mode(mode: Any, metadata: Mapping[str, Any]) -> str | None:
    if mode is not None and mode not in metadata["render_modes"]:
        raise ConfigError(
            f"render_mode={mode!r}: expected None, 'ansi' or 'rgb_array' (no window of "
            f"its own: gym.make(..., render_mode='human') shows 'rgb_array' through "
            f"Gymnasium's HumanRendering, which needs pygame)")
    return mode


def _check_observation_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or \
            int(version) not in OBSERVATION_VERSIONS:
        raise ConfigError(f"observation_version={shown(version)}: expected one of "
                          f"{list(OBSERVATION_VERSIONS)}")
    return int(version)


def _check_radio(radio: Any) -> str | None:
    if radio is not None and radio not in RADIOS:
        raise ConfigError(f"radio={radio!r}: expected None (the bandwidth's: 3g at the 3G "
                          f"preset rate, else 4g) or one of {list(RADIOS)}")
    return radio


def _check_weight(weight: Any, objective: str) -> float:
    w = check_number(weight, "energy_weight_s_per_j", 0.0, MAX_ENERGY_WEIGHT_S_PER_J)
    if objective == "makespan_energy" and w == 0:
        raise ConfigError("objective='makespan_energy': needs energy_weight_s_per_j > 0 "
                          "(seconds of makespan one joule of edge energy is worth)")
    if objective != "makespan_energy" and w != 0:
        raise ConfigError(f"energy_weight_s_per_j={weight!r}: only objective="
                          f"'makespan_energy' weighs energy (objective={objective!r})")
    return w


def _check_encoding(encoding: Any) -> str:
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ConfigError(f"transfer_encoding={encoding!r}: expected one of "
                          f"{list(ENCODINGS)}")
    return encoding


def _check_objective(objective: Any, config: SimConfig) -> str:
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective={objective!r}: expected one of {list(OBJECTIVES)}")
    if objective == "deadline_miss" and config.deadline_s is None:
        raise ConfigError("objective='deadline_miss': needs a deadline_s")
    return objective


_CUT_TABLES: dict[tuple[int, Any, Any, float, str], tuple[Profile, CutTable]] = {}


def _cut_table(profile: Profile, edge: str | None, cloud: str | None,
               bandwidth_mbps: float, encoding: str = "float32") -> CutTable:
    """`make_cut_table` under transfer `encoding` (`make_encoded_cut_table`), shared by envs
    built on the same profile object (a vector env's sub-envs): a DAG's parametric sweep
    then runs once, not once per env."""
    key = (id(profile), edge, cloud, bandwidth_mbps, encoding)
    hit = _CUT_TABLES.get(key)
    if hit is not None and hit[0] is profile:
        return hit[1]
    table = make_encoded_cut_table(profile, edge, cloud, (bandwidth_mbps,), encoding)
    if len(_CUT_TABLES) >= 64:
        _CUT_TABLES.pop(next(iter(_CUT_TABLES)))
    _CUT_TABLES[key] = (profile, table)
    return table


def _apply_scenario(args: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    """Preset values for every argument not given explicitly (see `SCENARIOS`)."""
    name = args.get("scenario")
    if name is None:
        return args
    if name not in SCENARIOS:
        raise ConfigError(f"scenario={name!r}: expected one of {sorted(SCENARIOS)}")
    out = dict(args)
    for key, value in SCENARIOS[name].items():
        if key not in explicit:
            out[key] = value
    return out


class UnknownArgumentError(ConfigError, TypeError):
    """An `EdgeCloudEnv` (``gym.make``) argument that does not exist; the message names
    it and the closest real one (``bandwidth`` -> ``bandwidth_mbps``). A `TypeError`, as
    Python's own for an unknown keyword, and a `ConfigError`."""


def _track_explicit(init: Any) -> Any:
    """Record which arguments the caller gave, so a preset fills only the others."""
    names = list(inspect.signature(init).parameters)[1:]

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        for key in kwargs:
            if key not in names:
                import difflib

                close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UnknownArgumentError(
                    f"EdgeCloudEnv: unexpected keyword argument {key!r}{hint}; "
                    f"arguments: {', '.join(names)}")
        self._explicit = set(names[:len(args)]) | set(kwargs)
        init(self, *args, **kwargs)
    return wrapper


EdgeCloudEnv.__init__ = _track_explicit(EdgeCloudEnv.__init__)  # type: ignore[method-assign]


EdgeCloudEnv.__doc__ = (EdgeCloudEnv.__doc__ or "").format(
    per_cut=_field_table(PER_CUT_FIELDS), scalars=_field_table(SCALAR_FIELDS),
    v1=_field_table(V1_FIELDS),
    options=", ".join(f"``{o}``" for o in RESET_OPTIONS))
