"""The six models, their shipped profiles, and the profiler CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from splitgym.baselines import make_policy
from splitgym.envs import ENV_ID, rollout
from splitgym.profiles import load_profile
from splitgym.profiles.measure import PAPER_IMPLIED
from splitgym.profiles.models import build
from splitgym.profiles.profiler import capture

SIX = tuple(PAPER_IMPLIED)
HERE = Path(__file__).parent


@pytest.mark.parametrize("name", ["alexnet", "resnet18"])
def test_shipped_profile__structure_regenerates_exactly_from_torch(name):
    module, shape = build(name)
    _, layers = capture(module, torch.randn(shape))
    shipped = load_profile(name)
    assert [la.name for la in layers] == [x.name for x in shipped.layers]
    for la, x in zip(layers, shipped.layers, strict=True):
        assert tuple(la.inputs) == x.inputs, la.name
        assert la.output_shape == x.output_shape, la.name
        assert la.output_bytes == x.output_bytes, la.name
        assert la.flops == x.flops, la.name
        assert la.params == x.params, la.name
        assert la.op == x.op, la.name


def test_alexnet__float32_bytes_match_torchvision_shapes():
    # torchvision AlexNet at 224x224: conv1 64x55x55, pool1 64x27x27, conv2 192x27x27,
    # pool2 192x13x13, conv3 384x13x13, conv4/conv5 256x13x13, pool5 256x6x6, fc6/fc7
    # 4096, fc8 1000; float32 = 4 bytes per element.
    expected = [64 * 55 * 55, 64 * 27 * 27, 192 * 27 * 27, 192 * 13 * 13, 384 * 13 * 13,
                256 * 13 * 13, 256 * 13 * 13, 256 * 6 * 6, 4096, 4096, 1000]
    prof = load_profile("alexnet")
    assert [la.output_bytes for la in prof.layers] == [4 * n for n in expected]


def test_models__architectures_have_their_published_sizes():
    # parameter counts: AlexNet 61.1M, ResNet-18 11.69M, GoogLeNet (no aux) 6.62M,
    # YOLOv2-tiny-VOC 15.86M (9 convs, 6 pools, 13x13x125 out)
    def n_params(name):
        return sum(p.numel() for p in build(name)[0].parameters())
    assert n_params("alexnet") == 61_100_840
    assert n_params("resnet18") == 11_689_512
    assert abs(n_params("googlenet") - 6_624_904) < 1000
    assert abs(n_params("tiny_yolo") - 15_860_000) < 20_000
    module, shape = build("tiny_yolo")
    assert module(torch.randn(shape)).shape == (1, 125, 13, 13)
    prof = load_profile("tiny_yolo")
    assert prof.is_chain and sum(la.op.startswith("conv") for la in prof.layers) == 9


@pytest.mark.parametrize("name", SIX)
def test_shipped_profile__calibrated_devices_and_provenance(name):
    prof = load_profile(name)
    implied = PAPER_IMPLIED[name]
    assert {"host", "rpi3b", "paper-cloud"} <= set(prof.devices)
    assert (prof.default_edge, prof.default_cloud) == ("rpi3b", "paper-cloud")
    assert math.isclose(prof.whole_model_s("rpi3b"), implied["edge_s"], rel_tol=1e-5)
    assert math.isclose(prof.whole_model_s("paper-cloud"), implied["cloud_s"], rel_tol=1e-5)
    assert prof.input_bytes == implied["input_bytes"]
    prov = prof.provenance
    assert prov["raw_input_bytes"] == 4 * math.prod(build(name)[1])
    host = prov["devices"]["host"]
    assert host["cpu_model"] and host["torch"] and host["repeats"] >= 1
    assert "calibrated" in prov["input_bytes"]
    assert prof.is_chain == (name in ("alexnet", "tiny_yolo", "darknet19"))
    # rpi3b is one factor times host, layer by layer
    ratios = {round(la.latency_ms["rpi3b"] / la.latency_ms["host"], 3)
              for la in prof.layers if la.latency_ms["host"] > 0.05}
    assert len(ratios) == 1


@pytest.mark.parametrize("name", SIX)
def test_shipped_profile__h100_is_a_measured_gpu_device(name):
    # h100 was measured on a lent GPU (not scaled from host): its provenance names the GPU
    # and CUDA, and its per-layer shape is not host's times one factor (launch-bound layers
    # vs FLOP-bound ones on the CPU).
    prof = load_profile(name)
    prov = prof.provenance["devices"]["h100"]
    assert "H100" in prov["gpu_model"] and prov["cuda"] and prov["torch_device"] == "cuda"
    assert "scale_factor" not in prov and "calibrated_to" not in prov
    assert 0 < prov["whole_model_forward_ms"] <= prov["sum_of_layers_ms"]
    assert math.isclose(prof.whole_model_s("h100") * 1e3, prov["sum_of_layers_ms"],
                        rel_tol=1e-4)
    ratios = [la.latency_ms["h100"] / la.latency_ms["host"] for la in prof.layers
              if la.latency_ms["host"] > 0.05]
    assert max(ratios) > 2 * min(ratios)
    # selectable as the cloud: a faster cloud never makes cloud-only slower
    mk = {}
    for cloud in ("paper-cloud", "h100"):
        env = gym.make(ENV_ID, model=name, bandwidth_mbps="4g", cloud_device=cloud)
        mk[cloud] = rollout(env, make_policy("cloud_only"), seed=0).metrics["makespan_s"]
    assert mk["h100"] <= mk["paper-cloud"]


@pytest.mark.parametrize("name", SIX)
def test_env__works_for_all_six_models(name):
    env = gym.make(ENV_ID, model=name, bandwidth_mbps="3g")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    for pol in ("single_cut", "queue_aware", "edge_only"):
        ep = rollout(env, make_policy(pol), seed=0)
        assert math.isclose(ep.episode_return, -ep.metrics["makespan_s"], rel_tol=1e-9)
        assert ep.metrics["n_tasks"] == 150


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", *args],
                          capture_output=True, text=True, env=env)


def test_cli_profile__user_module_and_merge(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(HERE / "helpers"))
    out = tmp_path / "mlp.json"
    res = _cli("profile", "tiny_models:tiny_mlp", "--device", "laptop", "--out", str(out),
               "--input-shape", "1,3,4,4", "--repeats", "3", "--warmup", "1",
               "--no-progress", env=env)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert [la["name"] for la in doc["layers"]] == ["1", "3"]  # flatten fused away
    assert doc["layers"][0]["output_bytes"] == 32 * 4
    assert doc["layers"][0]["flops"] == 2 * 48 * 32
    assert doc["input_bytes"] == 48 * 4
    res = _cli("profile", "tiny_models:tiny_mlp", "--device", "server", "--out", str(out),
               "--input-shape", "1,3,4,4", "--repeats", "2", "--warmup", "0", "--merge",
               "--no-progress", env=env)
    assert res.returncode == 0, res.stderr
    prof = load_profile(out)
    assert set(prof.devices) == {"laptop", "server"}
    assert all(la.latency_ms["server"] > 0 for la in prof.layers)
    assert set(prof.provenance["devices"]) == {"laptop", "server"}


def test_cli_profile__errors(tmp_path):
    res = _cli("profile", "vgg99", "--device", "x", "--out", str(tmp_path / "a.json"))
    assert res.returncode == 2 and "model='vgg99': expected one of" in res.stderr
    res = _cli("profile", "alexnet", "--device", "x", "--out", str(tmp_path / "b.json"),
               "--merge")
    assert res.returncode == 2 and "--merge" in res.stderr and "does not exist" in res.stderr
    res = _cli("profile", "os:getcwd", "--device", "x", "--out", str(tmp_path / "c.json"),
               "--input-shape", "1,2")
    assert res.returncode == 2 and "not an nn.Module" in res.stderr


def test_profiles_doc__is_in_step_with_the_shipped_profiles():
    from splitgym.profiles.measure import profiles_doc

    doc = (HERE.parent / "docs" / "profiles.md").read_text()
    assert doc == profiles_doc(), "regenerate: python -m splitgym.profiles.measure --doc " \
                                  "docs/profiles.md"
