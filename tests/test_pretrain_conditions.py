"""The condition agents' pipeline (`splitgym.agents.pretrain`): the preset bar on
hand-made tables, the card's pass line, and a preset-only run that leaves every other
agent's files alone (tiny runs on the toy profile)."""

from __future__ import annotations

import functools
import json
import math
import shutil
from concurrent.futures import Future
from pathlib import Path

import pytest

from splitgym.agents import pretrain
from splitgym.baselines import make_policy
from splitgym.baselines.planner import BestKnown

SHIPPED = Path(__file__).parents[1] / "agents" / "pretrained"


def _table(makespans: dict[str, float], misses: dict[str, float] | None = None) -> dict:
    table = {n: {"mean_s": v, "std_s": 0.0} for n, v in makespans.items()}
    for n, v in (misses or {}).items():
        table[n].update({"deadline_miss_rate": v, "deadline_miss_rate_std": 0.0})
    return table


# best_static (the oracle, 20) beats everything online: it must not set the bar
MAKESPANS = {"cloud_only": 40.0, "edge_only": 50.0, "single_cut": 30.0, "queue_aware": 35.0,
             "best_static": 20.0, "greedy_eft": 28.0, "sq_link": 31.0, "sq_fill": 29.0,
             "sq_lookahead": 27.0, "mpc": 26.0, "learned": 25.0, "best_known": 22.0}


def test_preset_bar__passes_against_the_best_online_policy_not_the_oracle():
    check = pretrain.preset_bar(_table(MAKESPANS), "makespan_s", "cellular-markov")
    assert check["best_online"] == "mpc" and check["best_online_value"] == 26.0
    assert check["passes"] is True
    # (26 - 25) / (26 - 22) = 0.25: a quarter of the gap, not half
    assert check["gap_closed"] == pytest.approx(0.25)
    assert check["closes_half_gap"] is False
    assert check["vs_best_online"] == pytest.approx(25 / 26 - 1)
    assert check["vs_best_static"] == pytest.approx(25 / 20 - 1)


def test_preset_bar__fails_when_worse_and_the_gap_closed_goes_negative():
    check = pretrain.preset_bar(_table(dict(MAKESPANS, learned=26.5)), "makespan_s",
                                "cellular-markov")
    assert check["passes"] is False
    assert check["gap_closed"] == pytest.approx((26 - 26.5) / (26 - 22))  # -0.125
    # 24 closes (26 - 24) / 4 = 50%: exactly half counts
    half = pretrain.preset_bar(_table(dict(MAKESPANS, learned=24.0)), "makespan_s",
                               "cellular-markov")
    assert half["gap_closed"] == pytest.approx(0.5) and half["closes_half_gap"] is True
    # the half-gap bar is cellular-markov's only
    assert pretrain.preset_bar(_table(MAKESPANS), "makespan_s", "mixed-fleet")[
        "closes_half_gap"] is None


def test_preset_bar__no_gap_to_close_is_none_not_a_division():
    check = pretrain.preset_bar(_table(dict(MAKESPANS, best_known=26.0, learned=26.0)),
                                "makespan_s", "cellular-markov")
    assert check["gap_closed"] is None and check["passes"] is True
    assert check["closes_half_gap"] is False


def test_preset_bar__a_best_known_worse_than_the_best_online_policy_has_no_gap():
    # best_known (26.5) above mpc (26): there is no gap to close; the ratio would be
    # (26 - 25) / (26 - 26.5) = -200% for an agent that beats mpc, and +100% for one
    # at 27 (worse than mpc): its sign flipped
    for learned in (25.0, 27.0):
        check = pretrain.preset_bar(_table(dict(MAKESPANS, best_known=26.5, learned=learned)),
                                    "makespan_s", "cellular-markov")
        assert check["gap_closed"] is None and check["closes_half_gap"] is False


def test_preset_bar__rush_hour_is_judged_on_the_miss_rate():
    assert pretrain.metric_of("rush-hour") == "deadline_miss_rate"
    assert pretrain.metric_of("cellular-markov") == pretrain.metric_of("3g") == "makespan_s"
    # by makespan sq_fill would be the best online policy and the agent would fail;
    # by the miss rate greedy_eft (10%) is, and the agent (5%) passes
    misses = {"cloud_only": 0.6, "edge_only": 0.9, "single_cut": 0.5, "queue_aware": 0.4,
              "best_static": 0.0, "greedy_eft": 0.10, "sq_link": 0.3, "sq_fill": 0.2,
              "sq_lookahead": 0.15, "mpc": 0.12, "learned": 0.05, "best_known": 0.0}
    makespans = dict(MAKESPANS, sq_fill=10.0)
    check = pretrain.preset_bar(_table(makespans, misses), "deadline_miss_rate", "rush-hour")
    assert check["metric"] == "deadline_miss_rate"
    assert check["best_online"] == "greedy_eft" and check["passes"] is True
    assert check["gap_closed"] == pytest.approx((0.10 - 0.05) / 0.10)
    assert check["vs_best_online"] == pytest.approx(-0.05)  # a difference, not a ratio
    line = pretrain.pass_line(check)
    assert line.startswith("- passes: yes") and "greedy_eft 10.0%" in line


def _info(scenario: str) -> dict:
    return {"train_wall_s": 12.0, "sha256": "0" * 64, "imitation_expert": "sq_lookahead",
            "imitation_accuracy": 0.8,
            "config": {"scenario": scenario, "total_timesteps": 4096, "seed": 0,
                       "vec": "native", "env_kwargs": {"model": "toy"}, "randomize": False,
                       "commit": "abc" * 5, "splitgym_version": "0.0",
                       "hyperparams": {"n_envs": 2, "bc_epochs": 1, "bc_episodes": 1,
                                       "bc_expert": "sq_lookahead"}}}


def test_card__says_whether_a_preset_agent_passes_and_by_how_much():
    table = _table(dict(MAKESPANS, learned=26.5))
    check = pretrain.preset_bar(table, "makespan_s", "cellular-markov")
    text = pretrain.card("toy-cellular-markov", _info("toy-cellular-markov"), table, check,
                         {"seeds": [1], "best_makespan_s": 30.0})
    assert "- passes: NO: 26.50 s against the best online policy mpc 26.00 s (+1.9%)" in text
    assert "best_static (oracle" in text and "closes at least half" in text
    misses = {n: 0.5 for n in MAKESPANS} | {"learned": 0.25, "best_known": 0.0}
    table = _table(MAKESPANS, misses)
    check = pretrain.preset_bar(table, "deadline_miss_rate", "rush-hour")
    text = pretrain.card("toy-rush-hour", _info("toy-rush-hour"), table, check,
                         {"seeds": [1], "best_makespan_s": 0.3,
                          "metric": "deadline_miss_rate"})
    assert pretrain.pass_line(check) in text and "- passes: yes" in text
    assert "deadline miss rate" in text and "No lower bound" in text


class _Serial:
    """A `ProcessPoolExecutor` stand-in that runs each call at once, in this process."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn, items):
        return [fn(i) for i in items]

    def submit(self, fn, *args):
        future: Future = Future()
        future.set_result(fn(*args))
        return future


def test_main__a_preset_only_run_leaves_the_other_agents_alone(tmp_path, monkeypatch):
    """``--bandwidths cellular-markov --models toy`` trains two toy candidates, writes
    the toy preset agent, and leaves the paper agents' files and docs rows alone; a
    rerun (after a kill) trains and evaluates nothing again."""
    out, docs, runs = tmp_path / "out", tmp_path / "docs", tmp_path / "runs"
    out.mkdir()
    others = {}
    for suffix in ("json", "md", "zip"):
        shutil.copyfile(SHIPPED / f"alexnet-3g.{suffix}", out / f"alexnet-3g.{suffix}")
        others[suffix] = (out / f"alexnet-3g.{suffix}").read_bytes()
    monkeypatch.setattr(pretrain, "ProcessPoolExecutor", _Serial)
    # the expensive columns on a small budget (their cost is not what this checks)
    monkeypatch.setattr(pretrain, "make_policy", lambda name, **kw: make_policy(
        name, **({"horizon": 4, "evaluations": 2} if name == "mpc" else {}), **kw))
    monkeypatch.setattr(pretrain, "BestKnown", functools.partial(BestKnown, evaluations=10))
    monkeypatch.setattr(pretrain, "MODELS", pretrain.MODELS + ("toy",))
    monkeypatch.setattr(pretrain, "PRESET_MODELS", pretrain.MODELS + ("toy",))
    monkeypatch.setattr(pretrain, "SELECTION_SEEDS", (0,))
    monkeypatch.setattr(pretrain, "HELD_OUT_SEEDS", (2,))
    monkeypatch.setattr(pretrain, "CANDIDATE_MODES", {"imitation": {
        "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "bc_episodes": 1,
        "bc_epochs": 1}})
    argv = ["--runs", str(runs), "--out", str(out), "--docs", str(docs), "--bandwidths",
            "cellular-markov", "--models", "toy", "--preset-timesteps", "64", "--workers", "1"]
    assert pretrain.main(argv) == 0
    for suffix, data in others.items():
        assert (out / f"alexnet-3g.{suffix}").read_bytes() == data
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{s}.{x}" for s in ("alexnet-3g", "toy-cellular-markov") for x in ("json", "md", "zip"))
    assert sorted(p.name for p in runs.iterdir()) == ["imitation-s0", "imitation-s1"]
    record = json.loads((out / "toy-cellular-markov.json").read_text())
    assert record["metric"] == "makespan_s" and "mpc" in record["held_out"]
    assert [c["seed"] for c in record["candidates"]] == [0, 1]
    assert "- passes: " in (out / "toy-cellular-markov.md").read_text()
    page = (docs / "agents.md").read_text()
    assert "| alexnet-3g |" in page  # the paper agent's row is kept
    assert "| toy | cellular-markov |" in page
    # a rerun: every run is complete and the agent published from it, so nothing is
    # trained or evaluated again
    monkeypatch.setattr(pretrain, "held_out", lambda *a, **k: pytest.fail("re-evaluated"))
    mtime = (out / "toy-cellular-markov.json").stat().st_mtime_ns
    assert pretrain.main(argv) == 0
    assert (out / "toy-cellular-markov.json").stat().st_mtime_ns == mtime
    assert not math.isnan(record["held_out"]["learned"]["mean_s"])


def test_main__an_unknown_bandwidth_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        pretrain.main(["--runs", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
                       "--bandwidths", "cellular-markov,5g"])
    assert "'5g'" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_validation__ranks_checkpoints_by_the_objective(tmp_path):
    """A run's validation scores rush-hour by the deadline-miss rate (what its agents
    are judged on), the makespan elsewhere."""
    import numpy as np

    from splitgym.agents.train import VALIDATION_SEEDS, _Validation
    from splitgym.envs.edge_cloud import EdgeCloudEnv
    from splitgym.envs.rollout import rollout

    policy = make_policy("single_cut")
    for scenario, metric in (("rush-hour", "deadline_miss_rate"),
                             ("mixed-fleet", "makespan_s")):
        kwargs = {"model": "toy", "scenario": scenario}
        env = EdgeCloudEnv(**kwargs)
        want = np.mean([rollout(env, policy, seed=s).metrics[metric]
                        for s in VALIDATION_SEEDS])
        assert _Validation(kwargs, False, 1, tmp_path)._mean(policy) == pytest.approx(
            want, rel=1e-12)


def test_gap_words__a_negative_gap_closed_is_not_printed_as_a_huge_percentage():
    # tiny_yolo mixed-fleet: mpc 91.56, agent 106.08, best_known 90.83 made "-1983%"
    tiny = {n: v + 70.0 for n, v in MAKESPANS.items()}  # every other policy above 95 s
    check = pretrain.preset_bar(_table(dict(tiny, mpc=91.56, learned=106.08,
                                            best_known=90.83)), "makespan_s", "mixed-fleet")
    assert check["gap_closed"] < -19
    assert pretrain._gap_words(check) == "< 0 (worse than it)"
    assert pretrain._gap_words(pretrain.preset_bar(_table(MAKESPANS), "makespan_s",
                                                   "cellular-markov")) == "25%"


def test_mode_settings__the_obs1_candidate_trains_on_observation_version_1():
    assert pretrain._mode_settings(pretrain.OBS_MODES[1]) == (None, {"observation_version": 1})
    assert pretrain._mode_settings("imitation") == ({}, {})
    assert pretrain._mode_settings(None) == (None, {})


@pytest.mark.parametrize("bad", ["2", "x", ""])
def test_main__bad_preset_observations_are_refused_before_any_work(tmp_path, capsys, bad):
    with pytest.raises(SystemExit):
        pretrain.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                       "--bandwidths", "rush-hour", "--preset-observations", bad])
    assert "--preset-observations" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()
