"""The env the way Gymnasium and SB3 users drive it: actions as SB3 returns them, masks
in both conventions, the plain ``model.predict`` -> ``env.step`` loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from splitgym.envs import ENV_ID
from splitgym.envs.core.simulator import InvalidActionError
from splitgym.envs.vector import EdgeCloudVectorEnv

ENGINES = ["python", "compiled"]
# the toy profile: 4 cuts; 2 edges x 3 frames keeps every episode at 6 decisions
SMALL = {"model": "toy", "bandwidth_mbps": 2.0, "n_edges": 2, "frames_per_edge": 3}


def _episode(env, to_action, seed=3):
    """(observations, rewards) of one episode acting cut `(step % K)` written as
    `to_action(cut)`."""
    obs, _ = env.reset(seed=seed)
    out, step, k = [obs.tobytes()], 0, env.action_space.n
    while True:
        obs, r, term, _, _ = env.step(to_action(step % k))
        out.append((obs.tobytes(), r))
        step += 1
        if term:
            return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("form", [
    np.int8, np.uint8, np.int32, np.uint64, np.int64,
    lambda c: np.array(c),  # what SB3's model.predict returns for one observation
    lambda c: np.array(c, dtype=np.uint16),
])
def test_step__accepts_every_action_the_space_contains(engine, form):
    env = gym.make(ENV_ID, engine=engine, **SMALL)
    assert env.unwrapped.engine == engine
    if form is not np.uint64:  # Discrete.contains refuses uint64 (gymnasium 1.4); we take it
        assert env.action_space.contains(form(2))
    assert _episode(env, form) == _episode(env, int)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("action", [
    True, np.bool_(True), np.array(True), 2.0, np.float32(2), np.array(2.0),
    np.array([2]), "2", None, -1, np.int8(-1), 4, np.array(4), np.uint64(2**63 + 1),
])
def test_step__refuses_bools_floats_and_out_of_range_with_the_named_error(engine, action):
    env = gym.make(ENV_ID, engine=engine, **SMALL)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"action=.*: expected a cut index in 0\.\.3"):
        env.step(action)
    env.step(np.array(1))  # nothing moved: the episode goes on


@pytest.mark.parametrize("engine", ENGINES)
def test_step__refuses_an_infeasible_0d_array(engine):
    env = gym.make(ENV_ID, engine=engine, **dict(SMALL, bandwidth_mbps=0.0))
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="action=0: cut 0 is infeasible"):
        env.step(np.array(0))
    env.step(np.array(3))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint32, np.int64,
                                   np.uint64])
def test_vector_step__accepts_actions_of_any_integer_dtype(compiled, dtype):
    def run(dt):
        venv = EdgeCloudVectorEnv(3, compiled=compiled, **SMALL)
        assert (venv._kernel is not None) == compiled
        obs, _ = venv.reset(seed=5)
        out = [obs.tobytes()]
        for step in range(14):  # past the first episode's end (6 decisions): autoreset
            obs, r, term, _, _ = venv.step(np.array([step % 4, 1, 3], dtype=dt))
            out.append((obs.tobytes(), r.tobytes(), term.tobytes()))
        return out

    assert run(dtype) == run(np.int64)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(("actions", "shown"), [
    (np.array([1, 1, 1], dtype=bool), "True"),
    (np.array([1.0, 1.0, 1.0]), "1.0"),
    (np.array([1, 2**63 + 1, 1], dtype=np.uint64), str(2**63 + 1)),
    (np.array([1, 4, 1], dtype=np.uint8), "4"),
])
def test_vector_step__refuses_bad_actions_naming_the_given_value(compiled, actions, shown):
    venv = EdgeCloudVectorEnv(3, compiled=compiled, **SMALL)
    venv.reset(seed=0)
    with pytest.raises(InvalidActionError, match=f"action={shown}: expected a cut index"):
        venv.step(actions)


@pytest.mark.parametrize("engine", ENGINES)
def test_info_action_mask__is_gymnasium_int8_and_action_masks_is_sb3_bool(engine):
    # at 0 Mbit/s only edge-only (cut 3 of the toy's 4) is feasible, so a masked draw
    # that ignored the mask would soon pick another cut
    env = gym.make(ENV_ID, engine=engine, **dict(SMALL, bandwidth_mbps=0.0))
    env.action_space.seed(0)
    _, info = env.reset(seed=0)
    done = False
    while not done:
        mask = info["action_mask"]
        assert mask.dtype == np.int8 and mask.tolist() == [0, 0, 0, 1]
        assert env.unwrapped.action_masks().dtype == bool
        assert env.unwrapped.action_masks().tolist() == [False, False, False, True]
        action = env.action_space.sample(mask=mask)
        assert action == 3
        _, _, done, _, info = env.step(action)
    assert info["action_mask"].dtype == np.int8  # also on the last step


@pytest.mark.parametrize("compiled", [True, False])
def test_vector_info_action_mask__samples_with_gymnasium_masks(compiled):
    venv = EdgeCloudVectorEnv(3, compiled=compiled, **dict(SMALL, bandwidth_mbps=0.0))
    venv.action_space.seed(0)
    _, infos = venv.reset(seed=0)
    for step in range(14):  # past the end of the first episodes (6 decisions)
        mask = infos["action_mask"]
        assert mask.dtype == np.int8 and mask.shape == (3, 4)
        assert venv.action_masks().dtype == bool
        assert np.array_equal(venv.action_masks(), mask.astype(bool))
        actions = venv.action_space.sample(mask=tuple(mask))
        assert mask[np.arange(3), actions].all()
        if step < 6:  # within the first episode only edge-only is feasible; on the
            assert actions.tolist() == [3, 3, 3]  # autoreset step every cut is allowed
        _, _, _, _, infos = venv.step(actions)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("algo", ["ppo", "maskable_ppo"])
def test_sb3_loop__predict_then_step_on_gym_make_runs_to_the_end(engine, algo):
    """The plain SB3 loop, untrained model, ``deterministic=True``: the 0-d array
    ``predict`` returns goes straight into ``env.step``."""
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    # MaskablePPO at 0 Mbit/s: only the mask keeps it on edge-only, so a mask that
    # did not reach the policy would raise InvalidActionError
    bandwidth = 0.0 if algo == "maskable_ppo" else 2.0
    env = gym.make(ENV_ID, engine=engine, **dict(SMALL, bandwidth_mbps=bandwidth))
    cls = MaskablePPO if algo == "maskable_ppo" else PPO
    model = cls("MlpPolicy", env, n_steps=16, batch_size=16, seed=0, device="cpu")
    obs, info = env.reset(seed=0)
    steps, done = 0, False
    while not done:
        if algo == "maskable_ppo":
            action, _ = model.predict(obs, deterministic=True,
                                      action_masks=env.unwrapped.action_masks())
            assert int(action) == 3
        else:
            action, _ = model.predict(obs, deterministic=True)
        assert isinstance(action, np.ndarray) and action.shape == ()
        obs, _, done, _, info = env.step(action)
        steps += 1
    assert steps == 6 and info["metrics"]["n_tasks"] == 6


def _python(code_or_args, **kw):
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=300, **kw)


def test_import_splitgym__registers_every_id_without_torch():
    res = _python(
        "import sys, gymnasium as gym, splitgym\n"
        "from splitgym.envs.scenarios import SCENARIOS, env_id\n"
        "ids = ['splitgym/EdgeCloud-v0'] + [env_id(n) for n in SCENARIOS]\n"
        "assert all(i in gym.registry for i in ids), [i for i in ids if i not in gym.registry]\n"
        "assert 'torch' not in sys.modules\n"
        "env = gym.make('splitgym/EdgeCloud-Paper3G-v0', model='toy')\n"
        "print(env.unwrapped.sim_config.bandwidth_mbps, len(ids))\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1.1", "6"]  # 3G = 1.1 Mbit/s; the base id + 5 presets


def test_python_m_splitgym__runs_the_cli_and_prints_the_version():
    import splitgym

    res = _python(["-m", "splitgym", "--version"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"splitgym {splitgym.__version__}"
    res = _python(["-m", "splitgym", "evaluate", "--model", "toy", "--seeds", "1",
                   "--frames", "2", "--n-edges", "1", "--policies", "edge_only",
                   "--no-progress"])
    assert res.returncode == 0, res.stderr
    assert "edge_only" in res.stdout
    res = _python(["-m", "splitgym", "nonsense"])
    assert res.returncode == 2 and "invalid choice: 'nonsense'" in res.stderr


def test_version__matches_pyproject():
    import tomllib

    import splitgym

    root = Path(__file__).resolve().parents[1]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert splitgym.__version__ == meta["project"]["version"]
