"""render(): the ansi snapshot and the rgb_array Gantt timeline, on a hand-built toy
episode and on live envs of both engines; Gymnasium's and SB3's tooling around them."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from splitgym.baselines import make_policy
from splitgym.envs import ENV_ID, EdgeCloudEnv
from splitgym.envs.core import ConfigError
from splitgym.envs.core.simulator import TaskRecords
from splitgym.envs.render import Snapshot, ansi, blocked_spells, rgb_array, server_lanes

NAN = np.nan
SMALL = {"model": "toy", "bandwidth_mbps": 0.008, "n_edges": 2, "frames_per_edge": 3,
         "queue_capacity": 1}


def _toy(now):
    """Two edges, per-edge links, C = 1, one server; the toy's cuts (Te, Tt, Tc):
    0 (0, 2, 1), 1 (1, 1, .75), 2 (3, .5, .25), 3 (4, 0, 0) (edge-only).

    e0f0 cut 1: edge 0-1, link 1-2, cloud 2-2.75. e1f0 cut 1: edge 0-1, then its link
    is blocked, the one queue slot being held by e0f0 from 1 to 2.75; link 2.75-3.75,
    cloud 3.75-4.5. e0f1 and e1f1 (arrived at 0.5) cut 3: edge 1-5. Makespan 5.
    """
    rec = TaskRecords(
        edge=np.array([0, 0, 1, 1]), frame=np.array([0, 1, 0, 1]),
        arrival_s=np.array([0.0, 0.5, 0.0, 0.5]), cut=np.array([1, 3, 1, 3]),
        edge_start_s=np.array([0.0, 1.0, 0.0, 1.0]), edge_end_s=np.array([1.0, 5.0, 1.0, 5.0]),
        link_start_s=np.array([1.0, NAN, 2.75, NAN]), link_end_s=np.array([2.0, NAN, 3.75, NAN]),
        cloud_start_s=np.array([2.0, NAN, 3.75, NAN]),
        cloud_end_s=np.array([2.75, NAN, 4.5, NAN]),
        completion_s=np.array([2.75, 5.0, 4.5, 5.0]), dropped=np.zeros(4, dtype=bool))
    return Snapshot(records=rec, now=now, n_edges=2, shared_link=False, queue_capacity=1,
                    cloud_workers=1, offloads=np.array([True, True, True, False]),
                    setting="toy:")


def test_ansi__hand_built_toy_episode_mid_way():
    text = ansi(_toy(2.0))
    lines = text.splitlines()
    assert lines[0] == "toy:  t = 2.000 s  decided 4/4"
    assert lines[1].startswith("edge 0   runs e0f1 cut 3 until 5.000")
    assert lines[2].startswith("edge 1   runs e1f1 cut 3 until 5.000")
    assert lines[3].startswith("link 0   idle") and "waiting   0 []" in lines[3]
    assert lines[4].startswith("link 1   BLOCKED since 1.000 (cloud queue full)")
    assert "waiting   1 [e1f0]" in lines[4]
    # e0f0 holds the slot (transfer started at 1, cloud ends at 2.75) and is on the server
    assert lines[5] == "cloud queue 1/1 held, 0 waiting [], blocked links 1"
    assert lines[6] == "server 0  runs e0f0 cut 1 until 2.750"
    assert lines[7] == "done 0/4, dropped 0"


def test_ansi__hand_built_toy_episode_at_the_end():
    text = ansi(_toy(5.0))
    assert "link 1   idle" in text and "BLOCKED" not in text
    assert "cloud queue 0/1 held, 0 waiting [], blocked links 0" in text
    assert "server 0  idle" in text and text.endswith("done 4/4, dropped 0\n")


def test_blocking_and_server_lanes__of_the_toy_episode():
    assert blocked_spells(_toy(5.0)) == [[], [(1.0, 2.75)]]
    assert blocked_spells(_toy(2.0)) == [[], [(1.0, 2.0)]]  # still blocked at t = 2
    assert server_lanes(_toy(5.0)).tolist() == [0, -1, 0, -1]


def test_rgb_array__is_an_hxwx3_uint8_image_with_the_cut_colours_and_blocking():
    mid, end = rgb_array(_toy(2.0)), rgb_array(_toy(5.0))
    assert mid.dtype == np.uint8 and mid.ndim == 3 and mid.shape[2] == 3
    assert mid.shape == end.shape  # a video's frames keep their size
    assert mid.shape[1] == 800

    def has(img, rgb):
        return np.any(np.all(np.abs(img.astype(int) - rgb) <= 8, axis=2))

    # hatching is drawn in tab:red (214, 39, 40); the end frame shows more bars than t=2
    assert has(end, (214, 39, 40))
    assert not np.array_equal(mid, end)


@pytest.mark.parametrize("engine", ["python", "compiled"])
def test_render__mid_episode_and_at_the_end_on_both_engines(engine):
    env = gym.make(ENV_ID, engine=engine, render_mode="ansi", **SMALL)
    assert env.unwrapped.engine == engine
    obs, info = env.reset(seed=1)
    first = env.render()
    assert first.startswith("toy, 0.008 Mbit/s, C = 1, 1 server(s):  t = ")
    assert "decided 0/6" in first and "awaits its cut" in first
    pol = make_policy("fixed", cut=1)
    texts = [first]
    done = False
    while not done:
        obs, _, done, _, info = env.step(pol(obs, info))
        texts.append(env.render())
    assert "decided 6/6" in texts[-1] and "done 6/6" in texts[-1]
    assert f"t = {info['metrics']['makespan_s']:.3f} s" in texts[-1]
    assert any("BLOCKED" in t for t in texts)  # cut 1 everywhere, C = 1: links block
    for t in texts:
        assert [ln.split()[0] + ln.split()[1] for ln in t.splitlines()[1:6]] == \
            ["edge0", "edge1", "link0", "link1", "cloudqueue"]


def test_render__both_engines_draw_the_same_episode_identically():
    out = {}
    for engine in ("python", "compiled"):
        for mode in ("ansi", "rgb_array"):
            env = EdgeCloudEnv(engine=engine, render_mode=mode, **SMALL)
            obs, info = env.reset(seed=3)
            frames = [env.render()]
            for step in range(6):
                obs, _, done, _, info = env.step(step % 3)
                if step in (2, 5):
                    frames.append(env.render())
            out[engine, mode] = frames
    assert out["python", "ansi"] == out["compiled", "ansi"]
    for a, b in zip(out["python", "rgb_array"], out["compiled", "rgb_array"], strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_check_env__passes_with_a_render_mode(mode):
    env = gym.make(ENV_ID, render_mode=mode, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped)
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(gym.make(ENV_ID, render_mode=mode, **SMALL), warn=True)


def test_render__modes_refused_and_missing():
    with pytest.raises(ConfigError, match="render_mode='human': expected None, 'ansi'"):
        EdgeCloudEnv(render_mode="human")
    with pytest.warns(UserWarning, match="HumanRendering wrapper is being applied"):
        human = gym.make(ENV_ID, render_mode="human", **SMALL)  # as the docstring says
    assert isinstance(human, gym.wrappers.HumanRendering)
    assert human.unwrapped.render_mode == "rgb_array"
    with pytest.raises(RuntimeError, match="call reset"):
        EdgeCloudEnv(render_mode="ansi", **SMALL).render()
    env = EdgeCloudEnv(**SMALL)
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="without a render_mode"):
        assert env.render() is None


def test_render_collection__gathers_one_frame_per_step_of_one_size():
    # what RecordVideo records, without moviepy: Gymnasium's RenderCollection wrapper
    env = gym.wrappers.RenderCollection(gym.make(ENV_ID, render_mode="rgb_array", **SMALL))
    obs, info = env.reset(seed=0)
    done, steps = False, 0
    while not done:
        obs, _, done, _, info = env.step(3)
        steps += 1
    frames = env.render()
    assert len(frames) == steps + 1
    assert len({f.shape for f in frames}) == 1 and frames[0].dtype == np.uint8


def test_record_video__writes_an_mp4(tmp_path):
    pytest.importorskip("moviepy")
    env = gym.wrappers.RecordVideo(gym.make(ENV_ID, render_mode="rgb_array", **SMALL),
                                   str(tmp_path), episode_trigger=lambda i: True)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, done, _, _ = env.step(3)
    env.close()
    assert list(tmp_path.glob("*.mp4"))


def test_sb3_make_vec_env__no_render_mode_warning():
    code = ("import warnings, splitgym\n"
            "warnings.simplefilter('error')\n"
            "from stable_baselines3.common.env_util import make_vec_env\n"
            "v = make_vec_env('splitgym/EdgeCloud-v0', n_envs=2, env_kwargs={'model': 'toy'})\n"
            "print(v.render_mode)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "rgb_array"


def test_evaluate_timeline__draws_one_panel_per_policy(tmp_path):
    out = tmp_path / "tl.png"
    res = subprocess.run(
        [sys.executable, "-m", "splitgym", "evaluate", "--model", "toy", "--bandwidth",
         "0.008", "--n-edges", "2", "--frames", "3", "--seeds", "1", "--no-best-known",
         "--no-progress", "--policies", "edge_only,cloud_only,fixed:1",
         "--timeline", str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"wrote {out}" in res.stdout
    import matplotlib.image

    img = matplotlib.image.imread(out)
    # three panels stacked: taller than one 5-lane panel, and wider than tall here
    assert img.ndim == 3 and img.shape[0] > 400 and img.shape[1] > 1000
