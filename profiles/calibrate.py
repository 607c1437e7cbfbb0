"""Profiles calibrated to the paper's whole-model times.

`flops_calibrated` splits a whole-model latency per device across layers in
proportion to their FLOPs; `alexnet_layers` is torchvision's AlexNet (224x224, batch
1, float32) layer by layer, computed analytically, with every ReLU fused into the conv
or fc before it and the identity ops (AdaptiveAvgPool2d to 6x6 on a 6x6 map, flatten,
dropout at inference) fused into the pool before them.

Regenerate the shipped ``alexnet.json``::

    python -m splitgym.profiles.calibrate alexnet profiles/alexnet.json
"""

from __future__ import annotations

import math
import sys
from typing import Any

from .schema import FORMAT, Profile

#: The spec's implied whole-model times and input (its section 3 table, derived from the
#: paper's Table 1): edge = E-O / 30 frames; input = 3G C-O link-bound per edge; cloud =
#: 4G C-O cloud-bound (150 frames through one cloud).
PAPER_IMPLIED: dict[str, dict[str, float]] = {
    "alexnet": {"edge_s": 2.963, "cloud_s": 0.191, "input_bytes": 359_000},
    "tiny_yolo": {"edge_s": 5.323, "cloud_s": 0.561, "input_bytes": 920_000},
    "darknet19": {"edge_s": 6.013, "cloud_s": 0.233, "input_bytes": 357_000},
    "alexnet_parallel": {"edge_s": 1.497, "cloud_s": 0.186, "input_bytes": 322_000},
    "resnet18": {"edge_s": 2.723, "cloud_s": 0.229, "input_bytes": 386_000},
    "googlenet": {"edge_s": 4.037, "cloud_s": 0.288, "input_bytes": 418_000},
}

FLOAT32_BYTES = 4


def _conv_out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def alexnet_layers() -> list[dict[str, Any]]:
    """Torchvision AlexNet at 224x224: name, op, output shape, FLOPs, params per layer.

    FLOPs count a multiply-add as 2; a fused ReLU adds one per output element; a max
    pool costs one comparison per window element.
    """
    layers: list[dict[str, Any]] = []
    c, h = 3, 224

    def conv(name: str, out_c: int, k: int, s: int, p: int) -> None:
        nonlocal c, h
        h = _conv_out(h, k, s, p)
        macs = out_c * h * h * c * k * k
        layers.append({"name": name, "op": "conv2d+relu", "output_shape": [1, out_c, h, h],
                       "flops": 2 * macs + out_c * h * h,
                       "params": out_c * c * k * k + out_c})
        c = out_c

    def pool(name: str, op: str = "maxpool2d") -> None:
        nonlocal h
        h = _conv_out(h, 3, 2, 0)
        layers.append({"name": name, "op": op, "output_shape": [1, c, h, h],
                       "flops": c * h * h * 9, "params": 0})

    def fc(name: str, n_in: int, n_out: int, relu: bool) -> None:
        layers.append({"name": name, "op": "linear+relu" if relu else "linear",
                       "output_shape": [1, n_out],
                       "flops": 2 * n_in * n_out + (n_out if relu else 0),
                       "params": n_in * n_out + n_out})

    conv("conv1", 64, 11, 4, 2)
    pool("pool1")
    conv("conv2", 192, 5, 1, 2)
    pool("pool2")
    conv("conv3", 384, 3, 1, 1)
    conv("conv4", 256, 3, 1, 1)
    conv("conv5", 256, 3, 1, 1)
    pool("pool5", "maxpool2d+avgpool(6x6)+flatten")
    fc("fc6", 256 * 6 * 6, 4096, relu=True)
    fc("fc7", 4096, 4096, relu=True)
    fc("fc8", 4096, 1000, relu=False)
    for lay in layers:
        lay["output_bytes"] = math.prod(lay["output_shape"]) * FLOAT32_BYTES
    return layers


def flops_calibrated(model: str, layers: list[dict[str, Any]], totals_s: dict[str, float],
                     descriptions: dict[str, str], input_bytes: int,
                     provenance: dict[str, Any]) -> Profile:
    """A chain profile whose per-device whole-model time is `totals_s[device]`, split
    across `layers` in proportion to their ``flops``.
    """
    total_flops = math.fsum(lay["flops"] for lay in layers)
    doc_layers = []
    prev = "input"
    for lay in layers:
        share = lay["flops"] / total_flops
        doc_layers.append({
            "name": lay["name"], "inputs": [prev], "op": lay["op"],
            "output_shape": lay["output_shape"], "output_bytes": lay["output_bytes"],
            "flops": lay["flops"], "params": lay["params"],
            "latency_ms": {dev: round(1000.0 * t * share, 6) for dev, t in totals_s.items()}})
        prev = lay["name"]
    devices = list(totals_s)
    return Profile.from_dict({
        "format": FORMAT, "model": model, "input_bytes": input_bytes,
        "devices": {d: {"description": descriptions[d]} for d in devices},
        "default_edge": devices[0], "default_cloud": devices[1],
        "layers": doc_layers, "provenance": provenance})


def calibrated_alexnet() -> Profile:
    """The shipped ``alexnet`` profile: exact shapes and bytes, paper-calibrated times."""
    implied = PAPER_IMPLIED["alexnet"]
    raw_input = 3 * 224 * 224 * FLOAT32_BYTES
    return flops_calibrated(
        "alexnet", alexnet_layers(),
        {"rpi3b": implied["edge_s"], "paper-cloud": implied["cloud_s"]},
        {"rpi3b": "Raspberry Pi 3B (4x Cortex-A53 @ 1.2 GHz), the paper's edge: "
                  "calibrated, not measured",
         "paper-cloud": "i7-9700K + RTX 2080 Ti, the paper's cloud: calibrated, not measured"},
        int(implied["input_bytes"]),
        {
            "method": "calibrated to the paper, not measured",
            "layers": "torchvision AlexNet (224x224, batch 1, eval), computed analytically; "
                      "ReLU fused into its conv/fc; avgpool(6x6), flatten and dropout "
                      "(identities at inference) fused into pool5",
            "output_bytes": "exact: float32 elements of each layer's output x 4",
            "flops": "multiply-add = 2 FLOPs; fused ReLU 1 per output; max pool 1 per "
                     "window element",
            "latency_ms": "whole-model time per device from the spec's table implied by "
                          "the paper's Table 1 (rpi3b: E-O / 30 frames = 2.963 s; "
                          "paper-cloud: 4G C-O / 150 frames = 0.191 s), split across "
                          "layers in proportion to their FLOPs",
            "input_bytes": "359 KB implied by the paper's 3G C-O (78.3 s / 30 frames at "
                           "1.1 Mbit/s), calibrated; the raw float32 input is "
                           f"{raw_input} bytes",
            "raw_input_bytes": raw_input,
            "source": "Zhang et al. 2022, Table 1; splitgym spec section 3",
        })


def main(argv: list[str] | None = None) -> int:
    """``python -m splitgym.profiles.calibrate alexnet OUT.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "alexnet":
        print("usage: python -m splitgym.profiles.calibrate alexnet OUT.json", file=sys.stderr)
        return 2
    calibrated_alexnet().save(args[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
