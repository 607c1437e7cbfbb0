"""Misuse that must never crash, hang or silently change meaning (issue: safe to load,
impossible to hang or crash). Each test failed before its fix: a segfault or a hang
runs in a subprocess with a timeout, so that it fails the test instead of the run."""

from __future__ import annotations

import copy
import json
import math
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from splitgym.envs import EdgeCloudEnv
from splitgym.envs.core import ConfigError
from splitgym.profiles import load_profile
from splitgym.profiles.cuts import chain_cut_table, chain_edge_times_s, cut_for_edge_set
from splitgym.profiles.schema import Profile


def _run(code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter; a hang fails the test after `timeout` seconds."""
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s:\n{code}")


def _episode(env, policy=lambda info: int(np.flatnonzero(info["action_mask"])[-1])):
    """The rest of the episode from env's pending decision: (obs bytes, reward) pairs and
    the makespan."""
    out = []
    info = {"action_mask": env.action_masks()}
    while True:
        obs, r, term, _, info = env.step(policy(info))
        out.append((obs.tobytes(), r))
        if term:
            return out, info["metrics"]["makespan_s"]


# -- 3. copies and stale rows --------------------------------------------------------------

@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_copy__is_a_real_copy_that_steps_its_own_episode(engine):
    env = EdgeCloudEnv(model="toy", n_edges=2, frames_per_edge=3, engine=engine)
    env.reset(seed=0)
    env.step(1)
    c = copy.copy(env)
    ref = copy.deepcopy(env)
    rest = _episode(env)  # env runs to its end first: the copy must not notice
    assert _episode(c) == rest == _episode(ref)
    assert c.np_random is not env.np_random


def test_compiled_step__after_a_shallow_copy_ran_out_is_an_error_not_a_segfault():
    # the reproduction (SIGSEGV in fast.step_env before the fix), then the same
    # misuse by hand: a dict-level copy that shares the compiled engine's state row
    res = _run("""
        import copy
        from splitgym.envs import EdgeCloudEnv
        env = EdgeCloudEnv(n_edges=1, frames_per_edge=2); env.reset(seed=0)
        c = copy.copy(env)
        shared = object.__new__(EdgeCloudEnv); shared.__dict__.update(env.__dict__)
        assert env.engine == "compiled"
        while not env.step(0)[2]:
            pass
        c.step(0)
        try:
            shared.step(0)
        except RuntimeError as exc:
            print("refused:", exc)
    """)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "refused: step(): the compiled engine's state is not at this env's" in res.stdout


def test_compiled_kernel__refuses_a_finished_row_and_nan_times_without_spinning():
    res = _run("""
        import numpy as np
        from splitgym.envs import EdgeCloudEnv, fast
        env = EdgeCloudEnv(model="toy", n_edges=1, frames_per_edge=2, engine="compiled")
        env.reset(seed=0)
        fk = env._fast
        obs = np.empty(env.observation_space.shape, dtype=np.float32)
        args = (fk.I, fk.F, fk.S, fk.T, fk.C, fk.P, fk.inv, fk.cap, obs, env._ctx_buf)
        print("bad cut", fast.step_env(0, 99, *args)[0])
        while not env.step(0)[2]:
            pass
        print("finished", fast.step_env(0, 0, *args)[0])
        nan = np.array([0.0, np.nan])
        inputs = (np.array([0, 2]), fk.default_edge_s, np.ones((1, 4), dtype=np.int64),
                  np.zeros(1, dtype=np.int64), fk.fparams)
        e = fast.reset_env(0, nan, *inputs, *args)
        print("nan", e, fast.step_env(0, 0, *args)[0])
    """)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["bad", "cut", "-2", "finished", "-2", "nan", "0", "-2"]


def test_pickle_and_deepcopy__mid_episode_on_the_compiled_engine_continue_identically():
    env = EdgeCloudEnv(model="toy", n_edges=2, frames_per_edge=4, engine="compiled")
    env.reset(seed=5)
    env.step(0)
    clones = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env), copy.copy(env)]
    rest = _episode(env)
    for clone in clones:
        assert _episode(clone) == rest


# -- 4. hangs -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, pattern", [
    ("arrivals={'kind': 'bursty', 'mean_dwell_s': [float('nan'), 1]}",
     "arrivals['mean_dwell_s'][0]=nan"),
    ("bandwidth_mbps={'kind': 'markov', 'rates_mbps': [1, 5], 'mean_dwell_s': [1e-9, 1e-9]}",
     "bandwidth_mbps['mean_dwell_s'][0]=1e-09"),
    ("bandwidth_mbps={'kind': 'markov', 'rates_mbps': [1, 5], 'mean_dwell_s': [1, 1], "
     "'duration_s': float('inf')}", "bandwidth_mbps['duration_s']=inf"),
    ("arrivals={'kind': 'bursty', 'mean_dwell_s': [1e-12, 1e-12]}",
     "arrivals['mean_dwell_s'][0]=1e-12"),
    ("arrivals={'kind': 'bursty', 'high_factor': 1e-3, 'low_factor': 0, "
     "'mean_dwell_s': [1e-3, 1e7]}", "switches state"),
])
def test_generators__that_looped_without_bound_are_refused_at_once(kwargs, pattern):
    res = _run(f"""
        from splitgym.envs import EdgeCloudEnv
        from splitgym.envs.core import ConfigError
        try:
            env = EdgeCloudEnv({kwargs})
            env.reset(seed=0)
            env.step(0)
        except ConfigError as exc:
            print(exc)
    """, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert pattern in res.stdout


def test_make_arrivals__refuses_generated_times_that_are_not_finite_and_sorted(monkeypatch):
    from splitgym.envs.core import workload

    monkeypatch.setattr(workload, "_mmpp", lambda rng, fps, count, params:
                        np.array([0.0, np.nan, 1.0][:count]))
    env = EdgeCloudEnv(model="toy", arrivals="bursty", n_edges=1, frames_per_edge=3)
    with pytest.raises(ConfigError, match=r"arrivals: edge 0's generated arrival times"):
        env.reset(seed=0)


# -- 5. a refused reset changes nothing ----------------------------------------------------

@pytest.mark.parametrize("engine", ["python", "compiled"])
@pytest.mark.parametrize("options", [{"fps": 0.0}, {"n_edges": 3, "arrivals": "weekly"},
                                     {"arrival_times_s": [[1.0, 0.5]]}, {"bw": 1},
                                     {"queue_capacity": 0}, {"bandwidth_mbps": -1}])
def test_reset__refused_options_leave_the_env_exactly_as_it_was(engine, options):
    kw = dict(model="toy", n_edges=2, frames_per_edge=4, engine=engine)
    env, twin = EdgeCloudEnv(**kw), EdgeCloudEnv(**kw)
    for e in (env, twin):
        e.reset(seed=1)
        e.reset(seed=2)  # a refused reset must not fall back on this episode's predecessor
        e.step(1)
    with pytest.raises(ConfigError):
        env.reset(seed=9, options=options)
    assert _episode(env) == _episode(twin)
    env.reset()
    twin.reset()  # the generators are where they were too
    assert _episode(env) == _episode(twin)


# -- 6. names never change meaning with the working directory -------------------------------

def test_bare_names__win_over_files_and_folders_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "3g").write_text("t_s,mbps\n0,100\n")
    (tmp_path / "alexnet").mkdir()
    (tmp_path / "toy").write_text("not json")
    env = EdgeCloudEnv(model="alexnet", bandwidth_mbps="3g", n_edges=1, frames_per_edge=2)
    assert env.sim_config.bandwidth_mbps == 1.1 and env.profile.model == "alexnet"
    assert load_profile("toy").model == "toy"
    # a value that looks like a path is a file
    assert EdgeCloudEnv(model="toy", bandwidth_mbps="./3g").sim_config.bandwidth_mbps == 100
    (tmp_path / "mine.json").write_text(json.dumps(load_profile("toy").to_dict()))
    assert load_profile("mine.json").model == "toy"
    with pytest.raises(ConfigError, match=r"bandwidth_mbps='trace': expected a number"):
        EdgeCloudEnv(model="toy", bandwidth_mbps="trace")


def test_cli_model__a_folder_named_like_the_model_does_not_break_it(tmp_path):
    (tmp_path / "toy").mkdir()
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "evaluate",
                          "--model", "toy", "--policies", "edge_only", "--seeds", "1",
                          "--frames", "2", "--no-progress"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]


# -- large profiles ------------------------------------------------------------------------

def _chain(latencies_e, latencies_c, nbytes):
    return Profile.from_dict({
        "format": "splitgym-profile/1", "model": "c", "input_bytes": 777,
        "devices": {"e": {}, "c": {}}, "default_edge": "e", "default_cloud": "c",
        "layers": [{"name": f"l{i}", "inputs": ["input" if i == 0 else f"l{i - 1}"],
                    "output_bytes": b, "latency_ms": {"e": te, "c": tc}}
                   for i, (te, tc, b) in enumerate(zip(latencies_e, latencies_c, nbytes,
                                                       strict=True))]})


def test_chain_cut_table__in_linear_time_is_cut_for_edge_set_bit_for_bit():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 40):
        # magnitudes 1e-9..1e9 ms so that plain running sums would round differently
        te = (10.0 ** rng.uniform(-9, 9, n)).tolist()
        tc = (10.0 ** rng.uniform(-9, 9, n) * rng.integers(0, 2, n)).tolist()
        prof = _chain(te, tc, rng.integers(0, 10**6, n).tolist())
        table = chain_cut_table(prof)
        names = [lay.name for lay in prof.layers]
        want = [cut_for_edge_set(prof, names[:i], "e", "c") for i in range(n + 1)]
        assert list(table.cuts) == want
        assert chain_edge_times_s(prof, "c") == [
            cut_for_edge_set(prof, names[:i], "c", "e").edge_s for i in range(n + 1)]


def test_chain_cut_table__of_a_3000_layer_chain_has_exact_totals():
    n = 3000
    prof = _chain([0.1] * n, [0.01] * n, list(range(n)))
    table = chain_cut_table(prof)
    assert table.n_cuts == n + 1
    assert table.edge_s[-1] == math.fsum([0.1] * n) / 1000.0
    assert table.cloud_s[0] == math.fsum([0.01] * n) / 1000.0
    assert table.transfer_bytes[1] == 0 and table.transfer_bytes[0] == 777


def test_dag_prefix_cuts__in_linear_time_are_cut_for_edge_set_bit_for_bit():
    from splitgym.profiles.cuts import DagCutter

    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 30):
        layers = []
        for i in range(n):
            k = int(rng.integers(1, 4))  # up to three inputs among the input and earlier layers
            srcs = sorted({int(x) for x in rng.integers(-1, i, size=k)})
            layers.append({"name": f"l{i}",
                           "inputs": ["input" if j < 0 else f"l{j}" for j in srcs],
                           "output_bytes": int(rng.integers(0, 10**6)),
                           "latency_ms": {"e": float(10.0 ** rng.uniform(-6, 6)),
                                          "c": float(10.0 ** rng.uniform(-6, 6))}})
        prof = Profile.from_dict({
            "format": "splitgym-profile/1", "model": "d", "input_bytes": 4321,
            "devices": {"e": {}, "c": {}}, "default_edge": "e", "default_cloud": "c",
            "layers": layers})
        names = [lay.name for lay in prof.layers]
        got = [p.cut() for p in DagCutter(prof).prefix_cuts()]
        assert got == [cut_for_edge_set(prof, names[:i], "e", "c") for i in range(n + 1)]


def test_layer_prefix__behaves_as_the_tuple_of_its_names():
    from splitgym.profiles.cuts import LayerPrefix

    names = ("a", "b", "c")
    for n in range(4):
        p, t = LayerPrefix(names, n), names[:n]
        assert p == t and t == p and hash(p) == hash(t) and {p} == {t}
        assert len(p) == n and tuple(p) == t and list(p[:2]) == list(t[:2])
        assert repr(p) == repr(t) and pickle.loads(pickle.dumps(p)) == t
        if n:
            assert p[-1] == t[-1] and p[0] == t[0]
    assert LayerPrefix(names, 2) != ("a", "c") and LayerPrefix(names, 2) != ["a", "b"]
    with pytest.raises(IndexError):
        LayerPrefix(names, 2)[2]


def test_vector_reset__refused_options_leave_every_episode_as_it_was():
    from splitgym.envs.vector import EdgeCloudVectorEnv

    def rest(venv):
        out = []
        for _ in range(12):
            obs, r, term, _, _ = venv.step(np.zeros(venv.num_envs, dtype=np.int64))
            out.append((obs.tobytes(), r.tobytes(), term.tobytes()))
        return out

    kw = dict(model="toy", n_edges=2, frames_per_edge=4)
    a, b = EdgeCloudVectorEnv(3, **kw), EdgeCloudVectorEnv(3, **kw)
    assert a._kernel is not None  # the compiled loop, whose rows the refusal must keep
    for v in (a, b):
        v.reset(seed=0)
        v.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ConfigError, match=r"fps=0\.0"):
        a.reset(seed=5, options={"fps": 0.0})
    assert rest(a) == rest(b)
