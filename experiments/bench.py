"""Benchmarks: figures printed against a reference measured in the same run."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from splitgym.profiles import load_profile
from splitgym.profiles.cuts import DagCutter, make_cut_table
from splitgym.profiles.schema import INPUT, Profile

SIX = ("alexnet", "tiny_yolo", "darknet19", "alexnet_parallel", "resnet18", "googlenet")
BANDWIDTH_MBPS = 5.85


def _per_call_s(fn: Callable[[], object], repeats: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def networkx_best_cost(profile: Profile, bandwidth_mbps: float) -> float:
    """The same DADS construction solved by networkx's float max-flow (the reference)."""
    te = profile.latencies_s(profile.default_edge)
    tc = profile.latencies_s(profile.default_cloud)
    g = nx.DiGraph()
    g.add_edge("s", INPUT)  # no capacity attribute: infinite
    for i, lay in enumerate(profile.layers):
        g.add_edge("s", lay.name, capacity=tc[i])
        g.add_edge(lay.name, "t", capacity=te[i])
        for src in lay.inputs:
            g.add_edge(lay.name, src)  # closed under predecessors
            nbytes = profile.input_bytes if src == INPUT else \
                profile.layers[profile.index(src)].output_bytes
            g.add_edge(src, ("aux", src), capacity=8.0 * nbytes / (bandwidth_mbps * 1e6))
            g.add_edge(("aux", src), lay.name)
    value, _ = nx.minimum_cut(g, "s", "t")
    return float(value)


def chain_enumeration_cost(profile: Profile, bandwidth_mbps: float) -> float:
    """Eq. (1) by enumerating every prefix (chains only)."""
    table = make_cut_table(profile)
    return float(np.min(table.edge_s + table.transfer_s(bandwidth_mbps) + table.cloud_s))


def bench_partition(repeats: int = 200) -> None:
    """Best-cut time per model (scipy min-cut) against networkx's max-flow and, for
    chains, prefix enumeration; then the candidate lists of all six models."""
    print(f"best partition at {BANDWIDTH_MBPS} Mbit/s, mean of {repeats} calls per model")
    print(f"{'model':<18}{'N':>4}{'min-cut ms':>12}{'networkx ms':>13}{'ratio':>8}"
          f"{'enum ms':>10}  cost check")
    for name in SIX:
        prof = load_profile(name)
        cutter = DagCutter(prof)
        ours = _per_call_s(lambda c=cutter: c.best_set(BANDWIDTH_MBPS), repeats)
        ref = _per_call_s(lambda p=prof: networkx_best_cost(p, BANDWIDTH_MBPS),
                          max(5, repeats // 20))
        best = cutter.best(BANDWIDTH_MBPS)
        cost = best.edge_s + best.transfer_s(BANDWIDTH_MBPS) + best.cloud_s
        ref_cost = networkx_best_cost(prof, BANDWIDTH_MBPS)
        enum = "-"
        if prof.is_chain:
            t_enum = _per_call_s(lambda p=prof: chain_enumeration_cost(p, BANDWIDTH_MBPS),
                                 repeats)
            enum = f"{t_enum * 1e3:.3f}"
        ok = "ok" if abs(cost - ref_cost) <= 1e-6 * max(1.0, ref_cost) else \
            f"MISMATCH {cost} vs {ref_cost}"
        print(f"{name:<18}{prof.n_layers:>4}{ours * 1e3:>12.3f}{ref * 1e3:>13.3f}"
              f"{ref / ours:>7.1f}x{enum:>10}  {ok}")
    t0 = time.perf_counter()
    sizes = {name: make_cut_table(load_profile(name)).n_cuts for name in SIX}
    total = time.perf_counter() - t0
    print(f"candidate cut lists of all six models: {total * 1e3:.0f} ms "
          f"(target < 1000 ms); K = {sizes}")
    small = load_profile("alexnet_parallel")
    print(f"(brute force over predecessor-closed sets is exponential: "
          f"{_count_closed(small)} sets for alexnet_parallel's {small.n_layers} layers)")
    bench_large_profiles()


def synthetic_profile(n_layers: int, dag: bool) -> Profile:
    """A chain of `n_layers` (with `dag`: every third layer also reads the one two back)."""
    layers = []
    for i in range(n_layers):
        inputs = [INPUT] if i == 0 else [f"l{i - 1}"]
        if dag and i >= 2 and i % 3 == 0:
            inputs.append(f"l{i - 2}")
        layers.append({"name": f"l{i}", "inputs": inputs,
                       "output_bytes": 1000 + (i * 7919) % 5000,
                       "latency_ms": {"e": 1.0 + (i % 5) * 0.1, "c": 0.1}})
    return Profile.from_dict({"format": "splitgym-profile/1", "model": f"synthetic{n_layers}",
                              "input_bytes": 1000, "devices": {"e": {}, "c": {}},
                              "default_edge": "e", "default_cloud": "c", "layers": layers})


def bench_large_profiles(sizes: tuple[int, ...] = (1000, 3000)) -> None:
    """Loading a profile and building its cut table, for synthetic chains and DAGs of
    thousands of layers: the time should grow about linearly with the layers."""
    print("large profiles: load + cut table [s] (linear: x3 from 1,000 to 3,000 layers)")
    make_cut_table(synthetic_profile(10, True))  # imports scipy's max-flow first
    for dag in (False, True):
        times = []
        for n in sizes:
            doc = synthetic_profile(n, dag).to_dict()
            t0 = time.perf_counter()
            make_cut_table(load_profile(doc), bandwidths_mbps=(BANDWIDTH_MBPS,))
            times.append(time.perf_counter() - t0)
        cells = "  ".join(f"{n:,} layers {t:.2f} s" for n, t in zip(sizes, times, strict=True))
        print(f"  {'DAG' if dag else 'chain':<6}{cells}  (x{times[-1] / times[0]:.1f})")


def _count_closed(profile: Profile, limit: int = 10**6) -> int | str:
    """Number of predecessor-closed layer sets (by enumeration, capped)."""
    names = [lay.name for lay in profile.layers]
    if len(names) > 22:
        return "too many to count"
    count = 0
    for mask in range(1 << len(names)):
        chosen = {names[i] for i in range(len(names)) if mask >> i & 1}
        if all(s == INPUT or s in chosen for lay in profile.layers if lay.name in chosen
               for s in lay.inputs):
            count += 1
            if count >= limit:
                return f">={limit}"
    return count



def bench_scale(decisions: int = 20_000, fleets: tuple[int, ...] = (5, 50, 500)) -> None:
    """Cost per decision against fleet size: the same number of decisions, greedy EFT,
    AlexNet at 4G with C = the fleet size (the predictor: replay up to 32 edges, fluid
    above). The target: it does not grow with the number of edges."""
    from splitgym.baselines import make_policy
    from splitgym.envs import EdgeCloudEnv, rollout

    print(f"cost per decision, {decisions} decisions per fleet (greedy_eft, alexnet, 4G)")
    print(f"{'edges':>6}{'frames/edge':>13}{'predictor':>11}{'us/decision':>13}{'ratio':>8}")
    base = None
    for n in fleets:
        frames = max(1, decisions // n)
        env = EdgeCloudEnv(model="alexnet", bandwidth_mbps="4g", n_edges=n,
                           frames_per_edge=frames, queue_capacity=max(20, n))
        pol = make_policy("greedy_eft")
        rollout(env, pol, seed=0)  # warm up
        t0 = time.perf_counter()
        ep = rollout(env, pol, seed=1)
        per = (time.perf_counter() - t0) / ep.metrics["n_tasks"]
        base = base or per
        kind = "fluid" if env.simulator._fluid else "replay"
        print(f"{n:>6}{frames:>13}{kind:>11}{per * 1e6:>13.1f}{per / base:>7.2f}x")


def _rate(step: Callable[[], None], n_per_call: int, seconds: float,
          warm_calls: int = 302, clock: Callable[[], float] = time.perf_counter) -> float:
    """Decisions per second of `step` (each call makes `n_per_call` decisions), after
    `warm_calls` untimed calls: two episodes of the default 5 x 30 frames, so that the
    first autoresets (which load or compile their code) fall outside the timed window.
    `clock`: wall time, or ``time.process_time`` for seconds of this process's CPU (a
    single-threaded rate that other jobs on the machine do not dilute)."""
    for _ in range(warm_calls):
        step()
    calls, t0 = 0, clock()
    while clock() - t0 < seconds:
        step()
        calls += 1
    return calls * n_per_call / (clock() - t0)


def _paired(ours: Callable[[], None], ref: Callable[[], None], seconds: float,
            rounds: int = 3) -> tuple[float, float]:
    """Decisions per CPU-second of two single-env steppers (one thread each: other jobs
    on the machine do not count), each the best of `rounds` windows taken in turn."""
    a = b = 0.0
    for _ in range(rounds):
        a = max(a, _rate(ours, 1, seconds / rounds, clock=time.process_time))
        b = max(b, _rate(ref, 1, seconds / rounds, clock=time.process_time))
    return a, b


def _single_stepper(env: Any, action: int) -> Callable[[], None]:
    env.reset(seed=0)

    def step() -> None:
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            env.reset()
    return step


def _vector_stepper(venv: Any, action: int) -> Callable[[], None]:
    venv.reset(seed=0)
    acts = np.full(venv.num_envs, action)
    return lambda: venv.step(acts)


def _random_vector_stepper(venv: Any, seed: int = 0) -> Callable[[], None]:
    """Uniformly random feasible cuts, drawn up front (1,000 steps, cycled)."""
    mask = venv.reset(seed=seed)[1]["action_mask"][0]
    table = itertools.cycle(np.random.default_rng(seed).choice(
        np.flatnonzero(mask), size=(1000, venv.num_envs)))
    return lambda: venv.step(next(table))


def _rss_mib() -> float:
    """Current resident memory [MiB] (Linux /proc; else the peak so far)."""
    import resource

    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_env(quick: bool = False) -> dict[str, float]:
    """Decisions per second of splitgym (gym.make, unwrapped, the native vector env at
    64 and 1,024 envs) beside Gymnasium's CartPole-v1 measured the same way, and the
    resident memory of a long run (10,000,000 decisions; 200,000 with `quick`)."""
    import resource

    import gymnasium as gym
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
    from tqdm import tqdm

    import splitgym.envs  # noqa: F401
    from splitgym.envs import ENV_ID, EdgeCloudEnv
    from splitgym.envs.vector import EdgeCloudVectorEnv
    from splitgym.profiles.profiler import cpu_model

    secs = 0.5 if quick else 3.0
    sizes = (64,) if quick else (64, 1024)
    cut = 2  # AlexNet at 4G: a cut that uses edge, link and cloud (queues build up)
    rows = [("single env, gym.make",
             *_paired(_single_stepper(gym.make(ENV_ID), cut),
                      _single_stepper(gym.make("CartPole-v1"), 1), secs)),
            ("single env, unwrapped",
             *_paired(_single_stepper(EdgeCloudEnv(), cut),
                      _single_stepper(gym.make("CartPole-v1").unwrapped, 1), secs))]
    python_core = _rate(_single_stepper(EdgeCloudEnv(engine="python"), cut), 1, secs)
    loop = _rate(_vector_stepper(EdgeCloudVectorEnv(64, compiled=False), cut), 64, secs)
    mixed = _rate(_random_vector_stepper(EdgeCloudVectorEnv(64)), 64, secs)
    cores = EdgeCloudVectorEnv(64, threads=None).threads  # one per core, <= 1 per 16 envs
    for n in sizes:
        ref = _rate(_vector_stepper(CartPoleVectorEnv(num_envs=n), 1), n, secs)
        for threads in (1, None) if cores > 1 else (1,):
            venv = EdgeCloudVectorEnv(n, threads=threads)
            rows.append((f"native vector env, N={n}, {venv.threads} thr.",
                         _rate(_vector_stepper(venv, cut), n, secs), ref))
    print(f"decisions per second, measured here in the same run ({cpu_model()}, "
          f"{os.cpu_count()} cores); splitgym: AlexNet at 4G, every task at cut {cut}; "
          f"the vector env on 1 thread (the default) and on {cores} (threads=None); "
          f"CartPole's vector env: numpy, one thread; single envs: per CPU-second of this "
          f"process, the best of 3 windows taken in turn with CartPole's")
    print(f"{'':<34}{'splitgym':>14}{'CartPole-v1':>14}{'ratio':>9}")
    out = {}
    for name, ours, ref in rows:
        print(f"{name:<34}{ours:>14,.0f}{ref:>14,.0f}{ours / ref:>8.3f}x")
        out[name] = ours
    print(f"{'(single env, engine=python)':<34}{python_core:>14,.0f}{rows[0][2]:>14,.0f}"
          f"{python_core / rows[0][2]:>8.3f}x")
    cartpole_64 = rows[2][2]
    print(f"{'(vector env, loop of single envs)':<34}{loop:>14,.0f}{cartpole_64:>14,.0f}"
          f"{loop / cartpole_64:>8.3f}x")
    print(f"{'(vector env N=64, random cuts)':<34}{mixed:>14,.0f}{cartpole_64:>14,.0f}"
          f"{mixed / cartpole_64:>8.3f}x   (1 thread; shorter queues than at cut {cut})")
    targets = [("single env >= 0.6x CartPole's wrapped rate", rows[0][1] >= 0.6 * rows[0][2])]
    for name, ours, ref in rows[2:]:
        what = name.replace("native ", "")
        targets.append((f"{what} >= 1x CartPole's vector rate", ours >= ref))
        if "N=1024" in name:
            targets.append((f"{what} > 1,000,000 decisions/s", ours > 1e6))
    for what, ok in targets:
        print(f"  target: {what}: {'met' if ok else 'NOT met'}")
    out.update(bench_presets(secs))
    # memory: a long run of the native vector env (autoresets, metrics, infos each step)
    n_envs, total = 64, 200_000 if quick else 10_000_000
    venv = EdgeCloudVectorEnv(n_envs)
    step = _vector_stepper(venv, cut)
    steps = total // n_envs
    marks = {steps // 10, steps // 2, steps}
    seen = []
    for k in tqdm(range(1, steps + 1), desc="memory run", unit_scale=n_envs, unit="dec",
                  mininterval=1.0, leave=False, disable=quick):
        step()
        if k in marks:
            seen.append((k * n_envs, _rss_mib()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("memory, native vector env N=64: resident " + ", ".join(
        f"{mib:.0f} MiB after {d:,}" for d, mib in seen) +
        f" decisions (growth after the first tenth {seen[-1][1] - seen[0][1]:+.1f} MiB); "
        f"process peak {peak:.0f} MiB")
    return out


def _random_feasible(masks: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A random feasible cut per row of `masks` (N, K): the feasible cut of the largest
    of the uniform draws `u` (N, K)."""
    return np.argmax(np.where(masks != 0, u, -1.0), axis=-1)


def _random_single_stepper(env: Any, seed: int = 0) -> Callable[[], None]:
    """A single env stepped with random feasible cuts (its mask read every step, as a
    new user's loop does; draws made up front, 1,000 cycled)."""
    draws = itertools.cycle(np.random.default_rng(seed).random(
        (1000, env.action_space.n)))
    state = {"mask": env.reset(seed=seed)[1]["action_mask"]}

    def step() -> None:
        _, _, term, trunc, info = env.step(int(_random_feasible(state["mask"], next(draws))))
        state["mask"] = env.reset()[1]["action_mask"] if term or trunc else \
            info["action_mask"]
    return step


def _random_masked_vector_stepper(venv: Any, seed: int = 0) -> Callable[[], None]:
    """A vector env stepped with random feasible cuts per row (its masks read every
    step: a rate trace changes them)."""
    draws = itertools.cycle(np.random.default_rng(seed).random(
        (1000, venv.num_envs, venv.single_action_space.n)))
    state = {"mask": venv.reset(seed=seed)[1]["action_mask"]}

    def step() -> None:
        state["mask"] = venv.step(_random_feasible(state["mask"], next(draws)))[4][
            "action_mask"]
    return step


def bench_presets(secs: float, n_envs: int = 64) -> dict[str, float]:
    """Decisions per CPU-second of every preset (`splitgym.envs.scenarios.SCENARIOS`):
    ``gym.make`` of its id and the native vector env of `n_envs` (one thread), random
    feasible cuts, each as a ratio to ``paper-3g`` measured in the same run. Timed by
    this process's CPU time: every row runs on one thread, so that is its rate on an
    idle machine, and a shared machine's other jobs (which moved wall-clock ratios by
    2x between runs) do not count."""
    import gymnasium as gym

    from splitgym.envs.scenarios import SCENARIOS, env_id
    from splitgym.envs.vector import EdgeCloudVectorEnv

    steppers = {}
    for name in SCENARIOS:
        env = gym.make(env_id(name))
        venv = EdgeCloudVectorEnv(n_envs, scenario=name)
        steppers[name] = (env, venv, _random_single_stepper(env),
                          _random_masked_vector_stepper(venv))
        for _ in range(400):  # warm: autoresets (and their first compiles) untimed
            steppers[name][3]()
    # the machine's load varies: rounds alternate the presets, each keeps its best
    rounds = 3
    best = {name: [0.0, 0.0] for name in SCENARIOS}
    for _ in range(rounds):
        for name, (_, _, single, vector) in steppers.items():
            b = best[name]
            b[0] = max(b[0], _rate(single, 1, secs / rounds, warm_calls=10,
                                   clock=time.process_time))
            b[1] = max(b[1], _rate(vector, n_envs, secs / rounds, warm_calls=10,
                                   clock=time.process_time))
    rates = {name: (*best[name], env.unwrapped.engine_in_use,
                    "compiled" if venv._use_kernel else "python")
             for name, (env, venv, _, _) in steppers.items()}
    ref_single, ref_vector = rates["paper-3g"][:2]
    print(f"presets: decisions per CPU-second of this process (one thread: other jobs "
          f"on the machine do not count), random feasible cuts, each beside paper-3g "
          f"measured in this run (best of {rounds} alternating rounds; vector env: "
          f"N={n_envs}, 1 thread)")
    print(f"{'preset':<18}{'gym.make':>12}{'ratio':>8}{'engine':>10}"
          f"{f'vector x{n_envs}':>14}{'ratio':>8}{'engine':>10}")
    out = {}
    for name, (single, vector, e1, e2) in rates.items():
        print(f"{name:<18}{single:>12,.0f}{single / ref_single:>7.2f}x{e1:>10}"
              f"{vector:>14,.0f}{vector / ref_vector:>7.2f}x{e2:>10}")
        out[f"preset {name}, gym.make"] = single
        out[f"preset {name}, vector x{n_envs}"] = vector
    return out


#: Today's training configuration before the native vector env (the reference of
#: `bench_train`): `DummyVecEnv` of 8 single envs and the YAML's former defaults.
TODAY_TRAIN_HP: dict[str, Any] = {"n_envs": 8, "n_steps": 256, "batch_size": 512,
                                  "n_epochs": 10, "net_arch": [64, 64]}
#: The faster loop the agents were first retrained with on the native vector env (64
#: envs, 4 epochs of batch 2,048): shown beside the shipped one, whose agents are better.
FAST_TRAIN_HP: dict[str, Any] = {"n_envs": 64, "n_steps": 256, "batch_size": 2048,
                                 "n_epochs": 4}
_PPO_KEYS = ("n_steps", "batch_size", "n_epochs", "learning_rate", "gamma", "gae_lambda",
             "ent_coef", "clip_range")


def _train_loop(hp: dict[str, Any], vec: str, env_kwargs: dict[str, Any]) -> Any:
    """A MaskablePPO model on its training VecEnv, warmed up (one rollout and update:
    the engine's compile and torch's first calls are not timed)."""
    import torch
    from sb3_contrib import MaskablePPO

    from splitgym.agents.train import make_train_vec_env

    torch.set_num_threads(1)
    venv = make_train_vec_env(env_kwargs, False, int(hp["n_envs"]), 0, vec)
    model = MaskablePPO("MlpPolicy", venv, seed=0, device="cpu",
                        policy_kwargs={"net_arch": list(hp["net_arch"])},
                        **{k: hp[k] for k in _PPO_KEYS if k in hp})
    model.learn(model.n_steps * venv.num_envs)
    return model


def bench_train(quick: bool = False) -> float:
    """Steps/s of MaskablePPO's whole loop (rollout collection and update, no
    imitation or validation), AlexNet 3G, one torch thread: the shipped configuration
    (the YAML's ``default`` on the vector env `splitgym train` picks, the native one here)
    and the faster one it replaced (`FAST_TRAIN_HP`) against today's (`TODAY_TRAIN_HP`,
    a `DummyVecEnv` of 8 single envs), and the shipped one on the ``cellular-markov``
    preset (on the vector env ``--vec auto`` picks), alternated in the same run (the best
    of several rounds each, as the machine's load varies). Returns the shipped ratio."""
    from splitgym.agents.train import load_hyperparams, vec_kind

    env_kwargs = {"model": "alexnet", "bandwidth_mbps": 1.1}
    shipped = load_hyperparams("maskable_ppo", "alexnet-3g")
    today = dict(shipped, **TODAY_TRAIN_HP)
    fast = dict(shipped, **FAST_TRAIN_HP)
    markov = {"model": "alexnet", "scenario": "cellular-markov"}
    configs = {"shipped": (shipped, "native", env_kwargs), "fast": (fast, "native", env_kwargs),
               "today": (today, "dummy", env_kwargs),
               "cellular-markov": (shipped, vec_kind(markov, False, "auto"), markov)}
    models = {name: _train_loop(hp, vec, kw) for name, (hp, vec, kw) in configs.items()}
    rounds = 2 if quick else 5
    best = dict.fromkeys(configs, 0.0)
    for _ in range(rounds):
        for name, model in models.items():
            steps = model.n_steps * model.n_envs * (1 if quick else 2)
            steps = max(steps, 2_048 if quick else 16_384)
            t0 = time.perf_counter()
            model.learn(steps, reset_num_timesteps=False)
            best[name] = max(best[name], steps / (time.perf_counter() - t0))
    for name, (hp, vec, _) in configs.items():
        desc = ", ".join(f"{k}={hp[k]}" for k in ("n_envs", "n_steps", "batch_size",
                                                   "n_epochs") if k in hp)
        note = " -- not shipped: faster, but its agents were worse (see the YAML)" \
            if name == "fast" else ""
        if name == "cellular-markov":
            note = (f" -- the shipped loop on the cellular-markov preset: "
                    f"{best[name] / best['shipped']:.2f}x paper-3g's")
        print(f"train loop {name:<8} ({vec} vec env, {desc}): {best[name]:,.0f} steps/s "
              f"(best of {rounds}; {best[name] / best['today']:.2f}x today's){note}")
    ratio = best["shipped"] / best["today"]
    print(f"MaskablePPO loop, AlexNet 3G, 1 torch thread: shipped {best['shipped']:,.0f} "
          f"steps/s vs today's {best['today']:,.0f} steps/s: ratio {ratio:.2f}")
    return ratio


def bench_all(quick: bool = False) -> None:
    """Env throughput, partition times, scale and the default reproduction's wall time."""
    t0 = time.perf_counter()
    bench_env(quick)
    print()
    bench_partition(repeats=20 if quick else 200)
    print()
    bench_scale(decisions=2_000 if quick else 20_000)
    print()
    if quick:
        print("reproduction: skipped in --quick (run splitgym reproduce; it reports its time)")
    else:
        import tempfile

        from .reproduce import reproduce

        with tempfile.TemporaryDirectory() as tmp:
            rep = reproduce(tmp, progress=False)
        print(f"default reproduction: {rep.wall_s:.1f} s (target < 60 s)")
    print(f"bench wall time: {time.perf_counter() - t0:.1f} s")


#: The fidelity study (`bench_testbed`): a fast link so that the runs are short, the
#: paper's binding (C = 1) and non-binding (C = 20) queue.
TESTBED_MBPS = 50.0
TESTBED_FRAMES = 10


def testbed_cuts(table: Any) -> dict[str, int]:
    """Cloud-heavy, middle and edge-heavy cuts: the offloading cuts whose edge time is
    nearest 15%, 50% and 85% of the whole model's."""
    whole = float(table.edge_s[-1])
    off = [c for c in range(table.n_cuts) if table.offloads[c]]
    out: dict[str, int] = {}
    for name, f in (("cloud-heavy", 0.15), ("middle", 0.5), ("edge-heavy", 0.85)):
        out[name] = min(off, key=lambda c: (abs(float(table.edge_s[c]) / whole - f), c))
    return out


def bench_testbed(quick: bool = False, frames: int = TESTBED_FRAMES) -> list[dict[str, Any]]:
    """The testbed's fidelity study (docs/testbed.md): per model three cuts x {1, 3, 5}
    edges x C in {1, 20}, plus S-C and the shipped agent in the loop, each against the
    simulator on a profile measured here first. `quick`: alexnet and resnet18 (a chain
    and a DAG), 1 and 3 edges. Prints one row per run and the share of runs meeting
    the goals (makespan within 5%, median per-task latency error within 10%), and per
    run the simulator's makespan error when it replays the measured service times
    (`splitgym.experiments.testbed.replay_measured`: the queueing model's own share)."""
    from splitgym.envs.core.config import ConfigError

    from .testbed import measure_here, run_testbed

    models = ("alexnet", "resnet18") if quick else SIX
    fleets = (1, 3) if quick else (1, 3, 5)
    print(f"testbed fidelity study: {TESTBED_MBPS:g} Mbit/s, {frames} frames per edge, "
          f"seed 0, fps 5-15; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} "
          f"CPUs at the start")
    head = ("| model | policy | cut | E | C | measured s | simulated s | makespan err | "
            "median task err | edge x | cloud x | blocked meas/sim | replay err | load |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    rows: list[dict[str, Any]] = []
    for model in models:
        profile = measure_here(model, repeats=20)
        table = make_cut_table(profile, "host", "host", bandwidths_mbps=(TESTBED_MBPS,))
        runs = [(f"fixed:{c}", f"{name} {c}", e, cap)
                for name, c in testbed_cuts(table).items() for e in fleets
                for cap in (1, 20)]
        if model == models[0]:
            runs += [("single_cut", "S-C", 3, 20), ("learned", "agent", 3, 20)]
        for policy, label, n_edges, cap in runs:
            kwargs = {"model": model, "bandwidth_mbps": TESTBED_MBPS, "n_edges": n_edges,
                      "frames_per_edge": frames, "queue_capacity": cap}
            try:
                res = run_testbed(kwargs, policy=policy, profile=profile)
            except (ConfigError, ValueError) as exc:
                print(f"| {model} | {policy} | {label} | {n_edges} | {cap} | not run: "
                      f"{exc} |")
                continue
            lat = float(np.median(res.latency_errors()))
            d = res.diagnostics
            row = {"model": model, "policy": policy, "cut": label, "n_edges": n_edges,
                   "queue_capacity": cap, "measured_s": res.measured_makespan_s,
                   "simulated_s": res.simulated_makespan_s,
                   "makespan_error": res.makespan_error, "median_latency_error": lat,
                   "edge_stretch": d["edge_stretch_median"],
                   "cloud_stretch": d["cloud_stretch_median"],
                   "blocked": (d["blocked_tasks_measured"], d["blocked_tasks_simulated"]),
                   "tx_overhead_ms": d["tx_overhead_ms_median"],
                   "replay_error": (res.measured_makespan_s - d["replay_makespan_s"])
                   / res.measured_makespan_s,
                   "load": res.load["loadavg_after"][0]}
            rows.append(row)
            stretch = [f"{x:.2f}" if x is not None else "-"
                       for x in (row["edge_stretch"], row["cloud_stretch"])]
            cut = label if policy.startswith("fixed") else \
                f"{label} ({','.join(sorted({str(int(c)) for c in res.cut}))})"
            print(f"| {model} | {policy.split(':')[0]} | {cut} | {n_edges} | {cap} | "
                  f"{row['measured_s']:.3f} | {row['simulated_s']:.3f} | "
                  f"{row['makespan_error']:+.1%} | {lat:.1%} | {stretch[0]} | {stretch[1]} | "
                  f"{row['blocked'][0]}/{row['blocked'][1]} | {row['replay_error']:+.1%} | "
                  f"{row['load']:.1f} |",
                  flush=True)
    if rows:
        ok_mk = sum(abs(r["makespan_error"]) <= 0.05 for r in rows)
        ok_lat = sum(r["median_latency_error"] <= 0.10 for r in rows)
        errs = sorted(abs(r["makespan_error"]) for r in rows)
        print(f"\n{len(rows)} runs: makespan within 5% in {ok_mk}, median per-task latency "
              f"error within 10% in {ok_lat}; |makespan error| median "
              f"{errs[len(errs) // 2]:.1%}, max {errs[-1]:.1%}")
    return rows
