"""Property-based tests (hypothesis) over random profiles, configurations, arrivals and
policies: the invariants of the system model, and the profile loader under fuzzing."""

from __future__ import annotations

import json
import math

import numpy as np
from helpers.lockstep import step_rows  # tests/helpers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cuts import random_dags

from splitgym.baselines import POLICIES, episode_lower_bound, make_policy
from splitgym.envs import EdgeCloudEnv, rollout
from splitgym.profiles import Profile, ProfileError, load_profile


@st.composite
def chains(draw):
    n = draw(st.integers(1, 6))
    layers = []
    for i in range(n):
        layers.append({"name": f"l{i}", "inputs": ["input" if i == 0 else f"l{i - 1}"],
                       "output_bytes": draw(st.integers(0, 300_000)),
                       "latency_ms": {"e": draw(st.floats(0, 800)),
                                      "c": draw(st.floats(0, 80))}})
    return Profile.from_dict({
        "format": "splitgym-profile/1", "model": "rand", "devices": {"e": {}, "c": {}},
        "default_edge": "e", "default_cloud": "c",
        "input_bytes": draw(st.integers(0, 300_000)), "layers": layers})


class RandomPolicy:
    """Uniform among the feasible cuts, from its own seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs, info):
        return int(self.rng.choice(np.flatnonzero(info["action_mask"])))


policies = st.sampled_from(["random", "single_cut", "queue_aware", "greedy_eft",
                            "sq_lookahead", "edge_only", "sq_link"])


@st.composite
def scenarios(draw):
    prof = draw(st.one_of(chains(), random_dags()))
    kwargs = {
        "model": prof,
        "bandwidth_mbps": draw(st.sampled_from([0.0, 0.05, 0.5, 2.0, 20.0])),
        "uplink": draw(st.sampled_from(["per_edge", "shared"])),
        "n_edges": draw(st.integers(1, 4)),
        "frames_per_edge": draw(st.integers(1, 6)),
        "fps": draw(st.sampled_from([1.0, 10.0, (2.0, 30.0)])),
        "queue_capacity": draw(st.integers(1, 5)),
        "cloud_workers": draw(st.integers(1, 3)),
        "arrivals": draw(st.sampled_from(["periodic", "poisson", "bursty"])),
    }
    return kwargs, draw(policies), draw(st.integers(0, 2**16))


def _policy(name, seed):
    return RandomPolicy(seed) if name == "random" else make_policy(name)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_invariants__of_every_run(case):
    kwargs, name, seed = case
    env = EdgeCloudEnv(**kwargs)
    ep = rollout(env, _policy(name, seed), seed=seed)
    r = ep.records
    sim = env.simulator
    table = env.cut_table
    n = r.completion_s.size
    # every task completes exactly once, with a cut, and its decision was taken once
    assert np.isfinite(r.completion_s).all() and n == ep.metrics["n_tasks"]
    assert len(ep.actions) == n and (r.cut >= 0).all()
    assert np.array_equal(np.sort(r.edge * 10_000 + r.frame),
                          np.unique(r.edge * 10_000 + r.frame))
    tol = 1e-9 * max(1.0, float(np.nanmax(r.completion_s)))
    off = table.offloads[r.cut]
    tx = table.transfer_s(kwargs["bandwidth_mbps"])[r.cut]
    own = table.edge_s[r.cut] + np.where(off, tx + table.cloud_s[r.cut], 0.0)
    # no completion earlier than arrival plus its own edge, transfer and cloud times
    assert np.all(r.completion_s >= r.arrival_s + own - tol)
    assert np.all(r.edge_start_s >= r.arrival_s - tol)
    # each edge computes one frame at a time, in frame order
    for e in range(int(r.edge.max()) + 1):
        sel = r.edge == e
        s, f = r.edge_start_s[sel], r.edge_end_s[sel]
        assert np.all(s[1:] >= f[:-1] - tol)
    # a link never carries two transfers at once
    links = r.edge if kwargs["uplink"] == "per_edge" else np.zeros_like(r.edge)
    for link in np.unique(links[off]):
        sel = off & (links == link)
        # by start, then end: a zero-byte transfer that starts and ends at the instant
        # another one starts sorts before it (a stable sort on the start alone could
        # put it after, and read as an overlap)
        order = np.lexsort((r.link_end_s[sel], r.link_start_s[sel]))
        s, f = r.link_start_s[sel][order], r.link_end_s[sel][order]
        assert np.all(s[1:] >= f[:-1] - tol)
    # the cloud is FIFO in cloud-arrival order: no task starts after one that arrived
    # strictly later (tasks arriving at the same instant, e.g. through a zero-byte
    # transfer, are served in the order the events happened), never more than W at once
    arrive, start = r.link_end_s[off], r.cloud_start_s[off]
    earlier_max = -np.inf
    for a in np.unique(arrive):
        group = start[arrive == a]
        assert group.min() >= earlier_max - tol
        earlier_max = max(earlier_max, group.max())
    events = sorted([(t, 1) for t in start] + [(t, -1) for t in r.cloud_end_s[off]],
                    key=lambda x: (x[0], x[1]))
    busy = np.cumsum([d for _, d in events]) if events else np.array([0])
    assert busy.max(initial=0) <= kwargs["cloud_workers"]
    # the queue (transfer start .. cloud end) never holds more than C tasks
    events = sorted([(t, 1) for t in r.link_start_s[off]] +
                    [(t, -1) for t in r.cloud_end_s[off]], key=lambda x: (x[0], x[1]))
    occ = np.cumsum([d for _, d in events]) if events else np.array([0])
    assert occ.max(initial=0) <= kwargs["queue_capacity"]
    # the return is minus the objective; edge-only tasks never touch link or cloud
    assert math.isclose(ep.episode_return, -ep.metrics["makespan_s"], rel_tol=1e-9,
                        abs_tol=1e-9)
    assert np.isnan(r.link_start_s[~off]).all() and np.isnan(r.cloud_end_s[~off]).all()
    del sim


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_same_seed__replays_bit_for_bit(case):
    kwargs, name, seed = case
    a = rollout(EdgeCloudEnv(**kwargs), _policy(name, seed), seed=seed)
    b = rollout(EdgeCloudEnv(**kwargs), _policy(name, seed), seed=seed)
    assert np.array_equal(a.actions, b.actions)
    for field in a.records.__dataclass_fields__:
        assert np.array_equal(getattr(a.records, field), getattr(b.records, field),
                              equal_nan=True)
    assert a.episode_return == b.episode_return


RATE_SPECS = [
    {"kind": "markov", "rates_mbps": [4.0, 0.5, 0.0], "mean_dwell_s": [1.0, 0.5, 0.3]},
    [(0.0, 2.0), (0.7, 0.0), (1.5, 5.0)],
    {"kind": "lognormal_ar1", "mean_mbps": 1.5, "sigma": 0.8, "rho": 0.7, "step_s": 0.5},
    [(0.0, 0.0), (0.4, 0.0)],  # a link that never carries anything: edge-only there
    3.0, 0.0,
]


@st.composite
def every_condition(draw):
    """`scenarios` widened to the whole configuration space, every feature on or off and
    combined: rate traces (shared, per edge, one spec per edge; oracle or EWMA
    estimates), fleets (edge devices, speeds), unequal frame counts, deadlines with and
    without drops, every objective and predictor, and a reset option of each kind."""
    kwargs, name, seed = draw(scenarios())
    n = kwargs["n_edges"]
    traced = draw(st.sampled_from(["no", "shared", "per_edge_spec"]))
    if traced == "per_edge_spec" and kwargs["uplink"] == "per_edge":
        kwargs["edge_bandwidth_mbps"] = draw(st.lists(st.sampled_from(RATE_SPECS),
                                                      min_size=n, max_size=n))
    elif traced != "no":
        kwargs["bandwidth_mbps"] = draw(st.sampled_from(RATE_SPECS[:3]))
        kwargs["bandwidth_per_edge"] = draw(st.booleans())
    kwargs["bandwidth_estimator"] = draw(st.sampled_from(["oracle", "ewma"]))
    if draw(st.booleans()):
        kwargs["edge_speed"] = draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, 3.0]),
                                             min_size=n, max_size=n))
    if draw(st.booleans()):
        kwargs["edge_device"] = draw(st.lists(st.sampled_from(["e", "c"]), min_size=n,
                                              max_size=n))
    if draw(st.booleans()):
        kwargs["frames_per_edge"] = draw(st.lists(st.integers(1, 6), min_size=n,
                                                  max_size=n))
    if draw(st.booleans()):
        kwargs["deadline_s"] = draw(st.sampled_from([0.02, 0.1, 0.5, 2.0]))
        kwargs["drop_late"] = draw(st.booleans())
    kwargs["predictor"] = draw(st.sampled_from(["auto", "replay", "fluid"]))
    kwargs["observation_version"] = draw(st.sampled_from([0, 1]))
    objectives = ["makespan", "mean_latency"] + (["deadline_miss"] if "deadline_s" in
                                                 kwargs else [])
    kwargs["objective"] = draw(st.sampled_from(objectives))
    option = draw(st.sampled_from(["none", "arrivals", "bandwidth", "queue", "objective",
                                   "frames", "workload"]))
    options = None
    if option == "arrivals":  # unequal recorded streams
        options = {"arrival_times_s": [
            sorted(draw(st.lists(st.floats(0.0, 2.0), min_size=1, max_size=5)))
            for _ in range(n)]}
    elif option == "bandwidth":
        options = {"bandwidth_mbps": draw(st.sampled_from(RATE_SPECS))}
    elif option == "queue":
        options = {"queue_capacity": draw(st.integers(1, 4)),
                   "cloud_workers": draw(st.integers(1, 3))}
    elif option == "objective":
        options = {"objective": draw(st.sampled_from(objectives))}
    elif option == "frames":
        options = {"frames_per_edge": draw(st.integers(1, 5))}
    elif option == "workload":
        options = {"fps": 20.0, "arrivals": draw(st.sampled_from(["periodic", "poisson",
                                                                  "bursty"]))}
    return kwargs, name, seed, options


def _same_episode(ref, fast, pol_a, pol_b, seed, options):
    """Play one episode on both envs; assert every output is the same bits."""
    oa, ia = ref.reset(seed=seed, options=options)
    ob, ib = fast.reset(seed=seed, options=options)
    assert fast.engine_in_use == "compiled" and ref.engine_in_use == "python"
    while True:
        assert np.isfinite(oa).all() and ref.observation_space.contains(oa)
        assert np.array_equal(oa, ob) and ia.keys() == ib.keys()
        assert np.array_equal(ia["action_mask"], ib["action_mask"])
        assert np.array_equal(ref.action_masks(), fast.action_masks())
        if "decision" in ia:
            da, db = ia["decision"], ib["decision"]
            assert da.keys() == db.keys()
            # S-Q's t_end counts a prefix of the committed work: no earlier than now, no
            # later than the link-aware prefix (a later arrival threshold), no later
            # than all of it (the fluid predictor's are all equal)
            if ref.simulator._fluid:
                assert da["sq_cloud_free_at_s"] == da["cloud_free_at_s"]
            else:
                assert da["time_s"] <= da["sq_cloud_free_at_s"] <= \
                    da["sq_link_cloud_free_at_s"] <= da["cloud_free_at_s"]
            for key, va in da.items():
                vb = db[key]
                assert type(va) is type(vb), key
                assert np.array_equal(va, vb) if isinstance(va, np.ndarray) else \
                    (va == vb or (va is None and vb is None)), key
        if "metrics" in ia:
            assert ia["metrics"] == ib["metrics"]
            break
        act = pol_a(oa, ia)
        assert pol_b(ob, ib) == act
        # the core the compiled env replays for env.simulator is at the same point
        assert fast.simulator.pending_task == ref.simulator.pending_task
        assert fast.simulator.predicted_backlog(ia["decision"]["edge"]) == \
            ref.simulator.predicted_backlog(ia["decision"]["edge"])
        oa, ra, ta, _, ia = ref.step(act)
        ob, rb, tb, _, ib = fast.step(act)
        assert ra == rb and type(ra) is type(rb) and ta == tb
    a, b = ref.records(), fast.records()
    for field in a.__dataclass_fields__:
        va, vb = getattr(a, field), getattr(b, field)
        assert va.dtype == vb.dtype and np.array_equal(va, vb, equal_nan=True), field
    # the simulator the compiled env replays for the baselines is at the same point
    assert fast.simulator.metrics() == ref.simulator.metrics()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=every_condition())
def test_compiled_engine__gives_the_python_cores_episodes_bit_for_bit(case):
    # every observation, reward, mask, decision context (S-Q fields included), record
    # and metric, over the whole configuration space; the policy reads the decision
    # contexts, so any difference there would change the actions too. Two episodes:
    # the first with a reset option, the next without
    kwargs, name, seed, options = case
    ref, fast = EdgeCloudEnv(engine="python", **kwargs), EdgeCloudEnv(**kwargs)
    assert fast.engine == "compiled"
    pol_a, pol_b = _policy(name, seed), _policy(name, seed)
    _same_episode(ref, fast, pol_a, pol_b, seed, options)
    _same_episode(ref, fast, pol_a, pol_b, None, None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=every_condition(), n=st.integers(1, 3))
def test_vector_env__gives_single_python_envs_episodes_bit_for_bit(case, n):
    # the compiled batch (rows drawing their own traces; the first episode with a reset
    # option) against n single envs on the Python core, across autoresets:
    # observations, rewards, masks, metrics
    from splitgym.envs.vector import EdgeCloudVectorEnv

    kwargs, _, seed, options = case
    venv = EdgeCloudVectorEnv(n, **kwargs)
    singles = [EdgeCloudEnv(engine="python", **kwargs) for _ in range(n)]
    obs, info = venv.reset(seed=seed, options=options)  # rows padded to the option's
    assert venv._use_kernel
    for i, env in enumerate(singles):
        o, inf = env.reset(seed=seed + i, options=options)
        assert np.array_equal(obs[i], o)
        assert np.array_equal(info["action_mask"][i], inf["action_mask"])
    rng = np.random.default_rng(seed)
    pending = [False] * n
    for _ in range(30):
        acts = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
        obs, rew, term, _, info = venv.step(acts)
        step_rows(singles, acts, pending, obs, rew, term, info)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**12) |
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) |
    st.dictionaries(st.text(max_size=8), children, max_size=5), max_leaves=30)


@st.composite
def mutated_profiles(draw):
    """A valid profile with one to three fields replaced by arbitrary JSON."""
    base = json.loads(json.dumps({
        "format": "splitgym-profile/1", "model": "m", "input_bytes": 100,
        "devices": {"a": {}, "b": {}}, "default_edge": "a", "default_cloud": "b",
        "layers": [{"name": "x", "inputs": ["input"], "output_bytes": 10,
                    "latency_ms": {"a": 1.0, "b": 2.0}},
                   {"name": "y", "inputs": ["x"], "output_bytes": 5,
                    "latency_ms": {"a": 1.0, "b": 2.0}}]}))
    paths = [("format",), ("model",), ("input_bytes",), ("devices",), ("default_edge",),
             ("layers",), ("layers", 0), ("layers", 1, "inputs"), ("layers", 0, "name"),
             ("layers", 1, "latency_ms"), ("layers", 0, "latency_ms", "a"),
             ("layers", 1, "output_bytes"), ("provenance",)]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        target = base
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            pass
    return base


@settings(max_examples=300, deadline=None)
@given(doc=st.one_of(json_values, mutated_profiles()))
def test_profile_loader__fuzzed_json_loads_or_raises_profile_error(doc):
    try:
        prof = load_profile(doc) if isinstance(doc, dict) else Profile.from_dict(doc)
    except ProfileError as exc:
        assert str(exc)  # a message naming the field
        return
    assert prof.n_layers >= 1 and prof.to_dict()["format"] == "splitgym-profile/1"


TRACES = [
    {"kind": "markov", "rates_mbps": [4.0, 0.5, 0.0], "mean_dwell_s": [1.0, 0.5, 0.3]},
    [(0.0, 2.0), (0.7, 0.0), (1.5, 5.0)],
    {"kind": "lognormal_ar1", "mean_mbps": 1.5, "sigma": 0.8, "rho": 0.7, "step_s": 0.5},
]


@st.composite
def any_conditions(draw):
    """`scenarios` widened to every condition the bound claims to cover: rate traces
    (per edge or shared, zero-rate spells), heterogeneous fleets, deadlines and drops."""
    kwargs, name, seed = draw(scenarios())
    if draw(st.booleans()):
        kwargs["bandwidth_mbps"] = draw(st.sampled_from(TRACES))
        kwargs["bandwidth_per_edge"] = draw(st.booleans())
    if draw(st.booleans()):
        kwargs["edge_speed"] = draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, 3.0]),
                                             min_size=kwargs["n_edges"],
                                             max_size=kwargs["n_edges"]))
    if draw(st.booleans()):  # drops mostly: they are what the LP alone misses
        kwargs["deadline_s"] = draw(st.sampled_from([0.02, 0.1, 0.5, 2.0]))
        kwargs["drop_late"] = draw(st.sampled_from([True, True, True, False]))
    return kwargs, name, seed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=any_conditions())
def test_lower_bound__no_policy_beats_it_under_any_conditions(case):
    # every policy (a seeded random one for `fixed`), the offline planner included: it
    # searches for the shortest makespan and, with drops, may drop frames to get it
    kwargs, _, seed = case
    env = EdgeCloudEnv(**kwargs)
    env.reset(seed=seed)
    bound = episode_lower_bound(env.simulator)
    assert math.isfinite(bound) and bound > 0
    names = [n for n in POLICIES if n != "fixed"]
    if not env.action_masks()[0]:  # cloud-only is infeasible at a zero nominal rate
        names.remove("cloud_only")
    _, info = env.reset(seed=seed)
    if "edge_energy_j" not in (info.get("decision") or {}):  # no power figures
        names.remove("neurosurgeon_energy")
    for name in [*names, "random"]:
        policy = make_policy("best_known", evaluations=30, shipped_agents=False) \
            if name == "best_known" else _policy(name, seed)
        ep = rollout(env, policy, seed=seed)
        assert ep.metrics["makespan_s"] >= bound * (1 - 1e-9), (name, bound, ep.metrics)
