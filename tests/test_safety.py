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


# -- crafted agent files: one child process, memory-capped, each case a named error --------

AGENT = __import__("pathlib").Path(__file__).parents[1] / "agents" / "pretrained" / \
    "alexnet-3g.zip"


def _gadget() -> bytes:
    """The issue's numpy dtype BUILD gadget as a pickle of only what the old allowlist
    admitted: ``frozenset(_frombuffer(b"A" * 16, d, (1,), "C"))`` where ``d`` is a
    ``dtype('V16')`` whose BUILD state lays two object fields over those bytes, so
    hashing the elements dereferences 0x4141414141414141 (SIGSEGV when unpickled)."""
    dtype = (b"cnumpy\ndtype\n(X\x03\x00\x00\x00V16\x89\x88tR"
             b"(K\x03X\x01\x00\x00\x00|N(X\x01\x00\x00\x00aX\x01\x00\x00\x00bt"
             b"}(X\x01\x00\x00\x00acnumpy\ndtype\nX\x01\x00\x00\x00O\x89\x88\x87RK\x00\x86"
             b"X\x01\x00\x00\x00bcnumpy\ndtype\nX\x01\x00\x00\x00O\x89\x88\x87RK\x08\x86u"
             b"K\x10K\x01K\x00tb")
    array = (b"cnumpy._core.numeric\n_frombuffer\n(C\x10" + b"A" * 16 + dtype
             + b"K\x01\x85X\x01\x00\x00\x00CtR")
    return b"\x80\x04cbuiltins\nfrozenset\n(" + array + b"tR."


def _npy(header_descr: str, shape: tuple, payload: bytes, fortran: bool = False) -> bytes:
    """A .npy file with a hand-written header (for dtypes np.save would pickle)."""
    head = f"{{'descr': {header_descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"
    head = head.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode() + payload


def _torch_zip(obj) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class _Exec:
    def __reduce__(self):
        return (exec, ("raise SystemExit(99)",))


def _crafted_cases(tmp) -> list[dict]:
    """(id, how to load, file, the words the one-line error must hold) of every crafted
    file: `error` None where the file must load (a payload splitgym never decodes)."""
    import base64
    import io
    import pickle
    import zipfile

    import torch
    from helpers.agent_zip import declare_size, rewrite, without_plain

    cases = []

    def add(cid, path, error, how="agent", entry=None, **extra):
        cases.append({"id": cid, "how": how, "path": str(path), "error": error,
                      "entry": entry, **extra})

    def edited(cid, error, entry, **kw):
        add(cid, rewrite(AGENT, tmp / f"case{len(cases)}.zip", **kw), error, entry=entry)

    def blob_of(payload: bytes, key: str = "observation_space"):
        def edit(doc):
            doc[key][":serialized:"] = base64.b64encode(payload).decode()
        return edit

    # the dtype/BUILD gadget and the allowed-constructor bombs, as SB3's pickled entries
    # (raw pickles: bytearray(3e9), Box(0, 1, (2e8,)), PCG64(<300 kB integer>))
    bombs = {"gadget": _gadget(),
             "bytearray": b"cbuiltins\nbytearray\n(I3000000000\ntR.",
             "box": b"cgymnasium.spaces.box\nBox\n(I0\nI1\n(I200000000\nttR.",
             "pcg64": b"cnumpy.random._pcg64\nPCG64\n(L" + b"9" * 300_000 + b"L\ntR."}
    for name, payload in bombs.items():
        plain = rewrite(AGENT, tmp / f"{name}_plain.zip", data=blob_of(payload))
        add(f"{name} beside plain data", plain, None)  # never decoded: loads
        add(f"{name} without plain data", without_plain(plain, tmp / f"{name}.zip"),
            "entry 'splitgym.json' missing", entry="observation_space")
    add("gadget in _last_obs beside plain data", rewrite(
        AGENT, tmp / "gl.zip", data=blob_of(_gadget(), "_last_obs")), None)
    edited("bad base64", None, None, data=lambda d: d["lr_schedule"].update(
        {":serialized:": "!!not base64!!"}))
    edited("npy of objects (pickled)", "dtype object", "_last_obs.npy",
           entries={"_last_obs.npy": _npy("'|O'", (16, 58), _gadget())})
    edited("npy of a structured object dtype", "dtype", "_last_obs.npy",
           entries={"_last_obs.npy": _npy("[('a', '|O'), ('b', '|O')]", (1,), b"A" * 16)})
    edited("npy header larger than its data", "its header declares 4000000000 bytes",
           "_last_obs.npy", entries={"_last_obs.npy": _npy("'<f4'", (1000, 1000000),
                                                           b"\0" * 64)})
    # the constructor bombs' plain-data forms
    box = lambda **kw: (lambda d: d["entries"]["observation_space"].update(**kw))  # noqa: E731
    edited("Box of 2e8 numbers", "shape=[200000000]", "observation_space",
           plain=box(shape=[200_000_000]))
    edited("Box bounds of another length", "low: expected a list of 58 numbers",
           "observation_space", plain=box(low=[0.0] * 10))
    edited("rng state of 2**200", "expected a whole number in [0, "
           "340282366920938463463374607431768211455]", "observation_space",
           plain=box(rng={"state": 2**200, "inc": 1, "has_uint32": 0, "uinteger": 0}))
    edited("Discrete of 2**40", "expected a whole number in [1, 1048576]", "action_space",
           plain=lambda d: d["entries"]["action_space"].update(n=2**40))
    edited("episode window of 1e12", "expected a whole number in [1, 1000000]",
           "ep_info_buffer", plain=lambda d: d["entries"]["ep_info_buffer"].update(
               maxlen=10**12))
    edited("huge integer text", "not readable JSON", "splitgym.json",
           entries={"splitgym.json": b'{"format": ' + b"9" * 100_000 + b"}"})
    edited("net_arch of 1e5 x 1e5", "need", "splitgym.json",
           data=lambda d: d["policy_kwargs"].update(net_arch=[100_000, 100_000]))
    edited("rollout buffer of 2**31 steps", "its model would take", "data",
           data=lambda d: d.update(n_steps=2**31))
    edited("optimizer by a dotted name", "optimizer_class=\"os.system\"", "policy_kwargs",
           data=lambda d: d["policy_kwargs"].update(optimizer_class="os.system"))
    edited("policy class by a dotted name", "expected \"MlpPolicy\"", "policy_class",
           plain=lambda d: d["entries"].update(policy_class="builtins.exec"))
    # zip bombs and names
    for name, size, words in (("policy.pth", 3_000_000_000, "declares 3000000000 bytes"),
                              ("data", 2_000_000_000, "declares 2000000000 bytes"),
                              ("policy.pth", 1000, "Bad CRC-32 for file 'policy.pth'")):
        path = declare_size(rewrite(AGENT, tmp / f"z{size}.zip"), name, size)
        add(f"entry {name} declaring {size}", path, words, entry=name)
    path = rewrite(AGENT, tmp / "ztotal.zip")
    for name in ("policy.pth", "policy.optimizer.pth", "pytorch_variables.pth"):
        declare_size(path, name, 200 * 2**20)
    add("entries declaring 600 MiB in all", path, "declare more than 536870912 bytes")
    lie = io.BytesIO()
    with zipfile.ZipFile(lie, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data", b"\0" * (64 * 2**20))  # 64 MiB of zeros, deflated to 64 kB
    (tmp / "deflate.zip").write_bytes(lie.getvalue())
    add("64 MiB entry declaring 100 bytes", declare_size(tmp / "deflate.zip", "data", 100),
        "Bad CRC-32 for file 'data'", entry="data")
    for size in (8 * 2**20, 100):
        inner = io.BytesIO()  # a torch file whose records torch would inflate: never read
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("archive/data.pkl", pickle.dumps({}))
            zf.writestr("archive/data/0", b"\0" * size)
        edited(f"torch file with a compressed record of {size}", None, None,
               entries={"policy.pth": inner.getvalue()})
    for name in ("../../evil.pth", "/etc/x.npy", "data/../data", "C:\\x.pth"):
        edited(f"entry named {name}", "is not one splitgym reads", name,
               entries={name: b"x"})
    dup = tmp / "dup.zip"
    with zipfile.ZipFile(AGENT) as zin, zipfile.ZipFile(dup, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of the duplicate
            zout.writestr("data", b"{}")
    add("entry data twice", dup, "appears twice", entry="data")
    many = tmp / "many.zip"  # millions would cost zipfile gigabytes: 5000 show the cap
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(5000):
            zf.writestr(f"e{i}", b"")
    add("a zip of 5000 entries", many, "its directory lists 5000 entries")
    # tampered .pth entries: SB3's pickled weights, which splitgym never reads (it reads
    # the .npy weights): each loads, its payload undecoded
    edited("policy.pth a pickle with a GLOBAL", None, None,
           entries={"policy.pth": b"cos\nsystem\n(S'echo hi'\ntR."})
    edited("policy.pth a torch file with a GLOBAL", None, None,
           entries={"policy.pth": _exec_torch_zip()})
    edited("policy.optimizer.pth of a list", None, None,
           entries={"policy.optimizer.pth": _torch_zip([torch.zeros(3)])})
    # tampered .npy weights (alexnet-3g: observation of 58, 12 actions, net_arch [64, 64])
    w0, bias = "weights/policy/mlp_extractor.policy_net.0.weight.npy", \
        "weights/policy/action_net.bias.npy"
    exp_avg = "weights/policy.optimizer/state/0/exp_avg.npy"

    def tensor(name, entry=None, **kw):  # edit the declaration of a tensor
        def edit(doc):
            sd = doc["state_dicts"]
            spec = sd["policy"]["tensors"].get(name) or sd["policy.optimizer"]["state"][
                "0"][name]
            spec.update(kw)
        return edit
    edited("weights npy of objects (pickled)", "dtype object", w0,
           entries={w0: _npy("'|O'", (64, 58), _gadget())})
    edited("weights npy of another shape", "an array of shape (3,), splitgym.json "
           "declares (64, 58)", w0, entries={w0: _npy("'<f4'", (3,), b"\0" * 12)})
    edited("weights npy header of 1e12 numbers", "an array of shape (1000000, 1000000)",
           w0, entries={w0: _npy("'<f4'", (10**6, 10**6), b"\0" * 64)})
    edited("weights declared 1e12 numbers", "'policy' holds 10000000", "splitgym.json",
           plain=tensor("mlp_extractor.policy_net.0.weight", shape=[10**6, 10**6]),
           entries={w0: _npy("'<f4'", (10**6, 10**6), b"\0" * 64)})
    edited("optimizer state declared 1e12 numbers", "'policy.optimizer' holds 1000000",
           "splitgym.json", plain=tensor("exp_avg", shape=[10**12]),
           entries={exp_avg: _npy("'<f4'", (10**12,), b"\0" * 64)})
    edited("weights npy in Fortran order", "in Fortran order", w0,
           entries={w0: _npy("'<f4'", (64, 58), b"\0" * 64 * 58 * 4, fortran=True)})
    edited("weights npy big-endian", "dtype >f4", w0,
           entries={w0: _npy("'>f4'", (64, 58), b"\0" * 64 * 58 * 4)})
    with zipfile.ZipFile(AGENT) as zf:
        whole = zf.read(w0)
    edited("weights npy truncated", f"the entry holds {64 * 58 * 4 - 8}", w0,
           entries={w0: whole[:-8]})
    edited("weights npy declared float64, the policy's float32", "is torch.float64 of "
           "(12,), the policy's torch.float32", "splitgym.json",
           plain=tensor("action_net.bias", dtype="<f8"),
           entries={bias: _npy("'<f8'", (12,), b"\0" * 96)})
    edited("weights npy of another dtype than declared", "dtype int64: expected float32",
           bias, entries={bias: _npy("'<i8'", (12,), b"\0" * 96)})
    edited("weights entry declared but missing", "declared in splitgym.json, is missing",
           exp_avg, entries={exp_avg: None})
    edited("weights entry not declared", "is not one splitgym reads",
           "weights/policy/extra.npy", entries={"weights/policy/extra.npy": whole})
    edited("weights entry named by a path", "expected dotted names", "splitgym.json",
           plain=lambda d: d["state_dicts"]["policy"]["tensors"].update(
               {"../../x": {"npy": "weights/policy/../../x.npy", "shape": [],
                            "dtype": "<f4"}}))
    edited("optimizer setting a text", "param_group key 'lr'", "splitgym.json",
           plain=lambda d: d["state_dicts"]["policy.optimizer"]["param_groups"][0].update(
               lr="os.system"))
    edited("optimizer lr negative (loads, fails at resume without the check)",
           "Adam refuses them: Invalid learning rate", "splitgym.json",
           plain=lambda d: d["state_dicts"]["policy.optimizer"]["param_groups"][0].update(
               lr=-1.0))
    edited("optimizer betas out of range", "Adam refuses them", "splitgym.json",
           plain=lambda d: d["state_dicts"]["policy.optimizer"]["param_groups"][0].update(
               betas={"tuple": [2.0, 0.999]}))
    edited("a weight twice in the param_groups", "weight indices [0] are in its "
           "param_groups more than once", "splitgym.json",
           plain=lambda d: d["state_dicts"]["policy.optimizer"]["param_groups"][0].update(
               params=[0, *d["state_dicts"]["policy.optimizer"]["param_groups"][0][
                   "params"][:-1]]))
    edited("optimizer state of no weight", "state 0 is of no weight", "splitgym.json",
           plain=lambda d: d["state_dicts"]["policy.optimizer"]["param_groups"][0].update(
               params=list(range(100, 112))))
    # bad JSON and bad values
    edited("data nested 100000 deep", "JSON nested too deeply", "data",
           entries={"data": b"[" * 100_000 + b"]" * 100_000})
    edited("splitgym.json nested", "JSON nested too deeply", "splitgym.json",
           entries={"splitgym.json": b"{\"a\":" * 100_000 + b"1" + b"}" * 100_000})
    edited("data not UTF-8", "not readable JSON", "data", entries={"data": b"\xff\xfe"})
    edited("data a list", "not a JSON object", "data", entries={"data": b"[]"})
    edited("device cuda:7", "key 'device': not a key splitgym reads", "device",
           data=lambda d: d.update(device="cuda:7"))
    edited("policy_kwargs abc", "\"abc\": expected a mapping", "policy_kwargs",
           data=lambda d: d.update(policy_kwargs="abc"))
    edited("use_sde true", "true: expected false", "use_sde",
           data=lambda d: d.update(use_sde=True))
    edited("seed -1", "expected a whole number in [0, 4294967295] or null", "seed",
           data=lambda d: d.update(seed=-1))
    edited("gamma NaN", "expected a finite number", "gamma",
           data=lambda d: d.update(gamma=float("nan")))
    edited("schedule a lambda", "expected a schedule", "lr_schedule",
           plain=lambda d: d["entries"].update(lr_schedule={"lambda": "x"}))
    edited("algo another", "expected 'ReplayBuffer' (the buffer of dqn)",
           "rollout_buffer_class", plain=lambda d: d.update(algo="dqn"))
    # replay buffers
    buf = tmp / "buf.npz"
    import numpy as np

    np.savez(buf, observations=np.zeros((64, 1, 4), np.float32))
    add("buffer missing arrays", buf, "has no entry", how="buffer", entry="actions.npy")
    from stable_baselines3 import DQN

    from splitgym.agents.safe_load import save_replay_buffer

    good = tmp / "good.npz"  # the child's DQN has this buffer's shapes
    save_replay_buffer(DQN("MlpPolicy", "CartPole-v1", buffer_size=64, device="cpu"), good)
    add("buffer of objects", rewrite(good, tmp / "obj.npz", entries={
        "observations.npy": _npy("'|O'", (64, 1, 4), _gadget())}), "dtype object",
        how="buffer", entry="observations.npy")
    add("buffer of another shape", rewrite(good, tmp / "shape.npz", entries={
        "rewards.npy": _npy("'<f4'", (32, 1), b"\0" * 128)}), "the model's buffer is "
        "float32 of (64, 1)", how="buffer", entry="rewards.npy")
    add("buffer position out of range", rewrite(good, tmp / "pos.npz", entries={
        "pos.npy": _npy("'<i8'", (), (10**6).to_bytes(8, "little"))}), "expected 0 to 63",
        how="buffer", entry="pos.npy")
    big = tmp / "big.npz"
    with zipfile.ZipFile(big, "w") as zf:
        zf.writestr("rewards.npy", b"x")
    add("buffer entry declaring 3e9", declare_size(big, "rewards.npy", 3_000_000_000),
        "declares 3000000000 bytes", how="buffer", entry="rewards.npy")
    pkl = tmp / "buf.pkl"
    pkl.write_bytes(_gadget())
    add("buffer pickled", pkl, "a pickled buffer", how="buffer")
    # shipped names only
    for model, bw in (("../../x", "3g"), ("alexnet", "3g/../../x"), ("/etc/passwd", "3g"),
                      ("alexnet", "5g")):
        cases.append({"id": f"load_pretrained({model!r}, {bw!r})", "how": "pretrained",
                      "path": model, "bw": bw, "error": "no shipped agent", "entry": None,
                      "type": "ValueError"})
    return cases


def _exec_torch_zip() -> bytes:
    """A torch file whose pickle names builtins.exec (what weights_only refuses)."""
    import io
    import pickle
    import zipfile

    good = _torch_zip({})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            blob = zin.read(item)
            if item.filename.endswith("data.pkl"):
                blob = pickle.dumps(_Exec(), protocol=2)
            zout.writestr(item, blob)
    return out.getvalue()


_BATTERY_CHILD = """
import json, resource, sys, time, traceback
cases = json.load(open(sys.argv[1]))
from splitgym.agents import LearnedPolicy, load_pretrained
from splitgym.agents.safe_load import load_replay_buffer
from stable_baselines3 import DQN
LearnedPolicy.load(sys.argv[2])  # warm: imports and the engine compiled
dqn = DQN("MlpPolicy", "CartPole-v1", buffer_size=64, device="cpu")
with open("/proc/self/status") as fh:
    vm = int(next(l for l in fh if l.startswith("VmSize")).split()[1]) * 1024
cap = vm + int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
for case in cases:
    t0 = time.perf_counter()
    try:
        if case["how"] == "agent":
            LearnedPolicy.load(case["path"])
        elif case["how"] == "buffer":
            load_replay_buffer(dqn, case["path"])
        else:
            load_pretrained(case["path"], case["bw"])
        out = {"outcome": "loaded"}
    except BaseException as exc:
        out = {"outcome": "error", "type": type(exc).__name__, "msg": str(exc),
               "where": traceback.format_exc().splitlines()[-3:]}
    out.update(id=case["id"], s=time.perf_counter() - t0)
    print(json.dumps(out), flush=True)
"""


def test_crafted_agent_files__each_a_one_line_named_error_in_bounded_memory(tmp_path):
    # every case runs in one child whose address space is capped 512 MiB above what it
    # holds after a good load; a segfault, a hang or a bomb fails here, not the run
    cases = _crafted_cases(tmp_path)
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    try:
        res = subprocess.run([sys.executable, "-c", _BATTERY_CHILD, str(spec), str(AGENT),
                              str(512 * 2**20)], capture_output=True, text=True,
                             timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("the crafted-file battery hung for 240 s")
    assert res.returncode == 0, f"child ended with {res.returncode}: {res.stderr[-3000:]}"
    got = {r["id"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert list(got) == [c["id"] for c in cases]
    for case in cases:
        r = got[case["id"]]
        if case["error"] is None:
            assert r["outcome"] == "loaded", (case["id"], r)
            continue
        assert r["outcome"] == "error", (case["id"], r)
        assert r["type"] == case.get("type", "AgentFileError"), (case["id"], r)
        msg = r["msg"]
        assert "\n" not in msg and len(msg) < 1000, (case["id"], msg)
        assert case["error"] in msg, (case["id"], msg)
        if case["how"] != "pretrained":
            assert f"{case['path']}'" in msg, (case["id"], msg)  # names the file
        if case["entry"] is not None:
            assert repr(case["entry"]) in msg, (case["id"], msg)  # and the entry
