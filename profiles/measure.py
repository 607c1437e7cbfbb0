"""Profiles from torch models: measured (`measure_profile`), merged (`merge_device`) and
the shipped six (`shipped_profile`: measured on the host, scaled to the paper).

Regenerate the shipped profiles (a few minutes on a 2-core machine)::

    python -m splitgym.profiles.measure --out-dir profiles
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .codecs import measure_codecs, scaled_codecs
from .figures import attach_figures
from .models import MODELS, build
from .profiler import capture, cpu_model, environment, measure
from .schema import FORMAT, Profile, ProfileError

#: The implied whole-model times and input per frame (docs/model.md's table,
#: derived from the paper's Table 1): edge = E-O / 30 frames on a Raspberry Pi 3B;
#: input = 3G C-O, link-bound per edge, at 1.1 Mbit/s; cloud = 4G C-O, cloud-bound,
#: 150 frames through one cloud.
PAPER_IMPLIED: dict[str, dict[str, float]] = {
    "alexnet": {"edge_s": 2.963, "cloud_s": 0.191, "input_bytes": 359_000},
    "tiny_yolo": {"edge_s": 5.323, "cloud_s": 0.561, "input_bytes": 920_000},
    "darknet19": {"edge_s": 6.013, "cloud_s": 0.233, "input_bytes": 357_000},
    "alexnet_parallel": {"edge_s": 1.497, "cloud_s": 0.186, "input_bytes": 322_000},
    "resnet18": {"edge_s": 2.723, "cloud_s": 0.229, "input_bytes": 386_000},
    "googlenet": {"edge_s": 4.037, "cloud_s": 0.288, "input_bytes": 418_000},
}

_LAYER_METHOD = ("torch.fx capture of the model in eval mode at batch 1 (splitgym."
                 "profiles.profiler): batch-norm, activations, dropout and flatten fused "
                 "into the layer before them; torch.cat folded into its consumers")
_FLOPS_METHOD = ("torch.utils.flop_counter.FlopCounterMode: 2 per multiply-add of conv, "
                 "linear and matmul; pooling, normalisation and activations count 0")


def resolve_model(spec: str | nn.Module, input_shape: Sequence[int] | None = None,
                  seed: int = 0) -> tuple[str, nn.Module, tuple[int, ...]]:
    """``"alexnet"`` (one of the six), ``"pkg.module:factory"`` (any callable returning an
    ``nn.Module``; needs `input_shape`; named ``module``, the module's own name; looked
    for in the working directory first) or a module -> (name, module in eval mode,
    shape)."""
    if isinstance(spec, nn.Module):
        if input_shape is None:
            raise ValueError("input_shape: required for a module")
        return type(spec).__name__.lower(), spec.eval(), tuple(input_shape)
    if spec in MODELS:
        if input_shape is not None:
            _check_shape(input_shape)
        module, shape = build(spec, seed)
        return spec, module, tuple(input_shape or shape)
    if ":" not in spec:
        raise ValueError(f"model={spec!r}: expected one of {sorted(MODELS)} or "
                         f"'package.module:factory'")
    mod_name, _, attr = spec.partition(":")
    if input_shape is None:  # checked before the import: importing runs the module
        raise ValueError(f"model={spec!r}: give --input-shape, e.g. 1,3,224,224")
    _check_shape(input_shape)
    try:
        factory = getattr(_import_here(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"model={spec!r}: cannot import it ({exc}; the module is looked "
                         f"for in the working directory {os.getcwd()!r} first, then on "
                         f"the Python path)") from None
    torch.manual_seed(seed)
    module = factory()
    if not isinstance(module, nn.Module):
        raise ValueError(f"model={spec!r}: the factory returned {type(module).__name__}, "
                         f"not an nn.Module")
    # the profile is named after the module (mynet.py's factory profiles as "mynet")
    return mod_name.rsplit(".", 1)[-1], module.eval(), tuple(input_shape)


def _import_here(mod_name: str) -> Any:
    """Import `mod_name` as ``python -c`` would: the working directory first (where the
    user's ``mynet.py`` is; the ``splitgym`` console script alone does not look there),
    then the Python path."""
    import sys

    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, here)
    importlib.invalidate_caches()  # a file written just now (a test, a notebook)
    try:
        return importlib.import_module(mod_name)
    finally:
        if added and here in sys.path:
            sys.path.remove(here)


def _check_shape(shape: Sequence[int]) -> None:
    if not shape or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ValueError(f"input_shape={tuple(shape)}: expected whole numbers >= 1, e.g. "
                         f"1,3,224,224")


def check_measure_args(torch_device: str = "cpu", repeats: int = 20,
                       warmup: int = 3) -> torch.device:
    """The measurement arguments checked (before a factory's module is imported: that
    runs its code)."""
    try:
        dev = torch.device(torch_device)
    except (RuntimeError, TypeError):
        raise ValueError(f"torch_device={torch_device!r}: expected cpu, cuda or "
                         f"cuda:<index>") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"torch_device={torch_device!r}: CUDA is not available here")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"torch_device={torch_device!r}: expected cpu, cuda or "
                         f"cuda:<index>")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats={repeats!r}: expected a whole number >= 1")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup={warmup!r}: expected a whole number >= 0")
    return dev


def measure_profile(spec: str | nn.Module, device_name: str = "host",
                    torch_device: str = "cpu", repeats: int = 20, warmup: int = 3,
                    input_shape: Sequence[int] | None = None, progress: bool = True,
                    description: str | None = None) -> Profile:
    """Capture and time `spec` on `torch_device`; one device, named `device_name`.

    ``input_bytes`` is the raw input tensor's size; shapes and bytes are exact. A
    ``"pkg.module:factory"`` `spec` is code: its module is imported and the factory
    called, after every other argument is checked.
    """
    dev = check_measure_args(torch_device, repeats, warmup)
    name, module, shape = resolve_model(spec, input_shape)
    module = module.to(dev)
    example = torch.randn(shape, device=dev)
    gm, layers = capture(module, example)
    if not layers:
        shown = spec if isinstance(spec, str) else name
        raise ProfileError(f"model {shown!r}: torch.fx traced it to no layers (its forward "
                           f"has no operation to time, e.g. it returns its input)")
    runs = measure(gm, example, layers, repeats=repeats, warmup=warmup, progress=progress,
                   desc=f"profile {name}")
    whole = _whole_forward_ms(module, example, max(3, repeats // 2))
    env = environment(torch_device, repeats, warmup)
    env["whole_model_forward_ms"] = round(whole, 6)
    env["sum_of_layers_ms"] = round(sum(la.latency_ms for la in layers), 6)
    env["repeats_sum_of_layers_ms"] = repeat_spread(runs)
    if description is None:
        description = (f"measured here on {env.get('gpu_model', cpu_model())} "
                       f"({torch_device}, {env['threads']} threads, torch {torch.__version__})")
    codecs = measure_codecs(_codec_sizes([la.output_bytes for la in layers]), torch_device,
                            repeats=repeats, warmup=warmup)
    return Profile.from_dict({
        "format": FORMAT, "model": name,
        "input_bytes": math.prod(shape) * example.element_size(),
        "devices": {device_name: {"description": description, "codecs": codecs}},
        "default_edge": device_name, "default_cloud": device_name,
        "layers": [{"name": la.name, "inputs": la.inputs, "op": la.op,
                    "output_shape": list(la.output_shape), "output_bytes": la.output_bytes,
                    "flops": la.flops, "params": la.params,
                    "latency_ms": {device_name: round(la.latency_ms, 6)}} for la in layers],
        "provenance": {"layers": _LAYER_METHOD, "flops": _FLOPS_METHOD,
                       "input_shape": list(shape), "devices": {device_name: env}},
    })


#: `repeat_spread`'s spread above which a measurement is called unsteady.
WIDE_SPREAD = 0.25


def repeat_spread(runs_ms: Sequence[float]) -> dict[str, float]:
    """The repeats' sums over the layers [ms]: median, min, max, the 10th and 90th
    percentiles and ``spread`` = (p90 - p10) / median, the relative width of the middle
    80% (above `WIDE_SPREAD`: the machine was busy, or the model too small to time
    steadily)."""
    xs = sorted(runs_ms)
    if not xs:
        return {}

    def pct(q: float) -> float:  # linear interpolation between the closest ranks
        pos = q * (len(xs) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    median = statistics.median(xs)
    out = {"n": len(xs), "median": median, "min": xs[0], "max": xs[-1],
           "p10": pct(0.1), "p90": pct(0.9)}
    out["spread"] = (out["p90"] - out["p10"]) / median if median > 0 else 0.0
    return {k: (v if k == "n" else round(v, 6)) for k, v in out.items()}


def _codec_sizes(output_bytes: Sequence[int], most: int = 9) -> list[int]:
    """The tensor sizes [float32 bytes] the codec costs are fitted over: the model's own
    layer outputs (at most `most`, spread over their range), or the shipped profiles'
    sizes where the model has fewer than two distinct ones."""
    from .figures import CODEC_SIZES_BYTES

    sizes = sorted({int(b) for b in output_bytes if b >= 4})
    if len(sizes) < 2:
        return list(CODEC_SIZES_BYTES)
    if len(sizes) > most:
        sizes = [sizes[round(i * (len(sizes) - 1) / (most - 1))] for i in range(most)]
    return sizes


def _whole_forward_ms(module: nn.Module, example: torch.Tensor, repeats: int) -> float:
    samples = []
    with torch.no_grad():
        module(example)
        for _ in range(repeats):
            if example.is_cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            module(example)
            if example.is_cuda:
                torch.cuda.synchronize()
            samples.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(samples)


def _structure(p: Profile) -> list[tuple[Any, ...]]:
    return [(la.name, la.inputs, la.output_bytes) for la in p.layers]


ROLES = ("edge", "cloud")


def merge_device(base: Profile, new: Profile, device_name: str,
                 role: str | None = None) -> Profile:
    """`base` with device `device_name`'s latencies taken from `new` (same layers).

    The defaults: with `role` (``"edge"`` or ``"cloud"``) the merged device becomes the
    profile's ``default_edge`` or ``default_cloud``. Without it, a profile of one device
    (edge and cloud the same) that gains a second gets the faster of the two (whole
    model) as its ``default_cloud`` and the slower as its ``default_edge``; a profile
    whose edge and cloud already differ keeps them."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role={role!r}: expected one of {list(ROLES)} or None")
    if _structure(base) != _structure(new):
        raise ProfileError(f"--merge: the new measurement of {new.model!r} does not have the "
                           f"same layers, inputs and output bytes as the existing profile")
    doc = base.to_dict()
    if role is not None:
        doc[f"default_{role}"] = device_name
    elif base.default_edge == base.default_cloud and device_name != base.default_edge:
        old_s = base.whole_model_s(base.default_edge)
        new_s = new.whole_model_s(device_name)
        slow, fast = ((base.default_edge, device_name) if new_s < old_s
                      else (device_name, base.default_edge))
        doc["default_edge"], doc["default_cloud"] = slow, fast
    doc["devices"][device_name] = dict(new.devices[device_name])
    for lay, src in zip(doc["layers"], new.layers, strict=True):
        lay["latency_ms"][device_name] = src.latency_ms[device_name]
    prov = doc.setdefault("provenance", {})
    prov.setdefault("devices", {})[device_name] = (new.provenance or {}).get(
        "devices", {}).get(device_name, {})
    return Profile.from_dict(doc)


def scaled_device(profile: Profile, source: str, device_name: str, total_s: float,
                  description: str) -> Profile:
    """`profile` plus a device whose per-layer times are `source`'s scaled by one factor
    so that the whole model takes `total_s`."""
    factor = total_s / profile.whole_model_s(source)
    doc = profile.to_dict()
    doc["devices"][device_name] = {"description": description}
    if "codecs" in doc["devices"][source]:  # its codec times by the same factor
        doc["devices"][device_name]["codecs"] = scaled_codecs(
            doc["devices"][source]["codecs"], factor, source)
    for lay in doc["layers"]:
        lay["latency_ms"][device_name] = round(lay["latency_ms"][source] * factor, 6)
    doc.setdefault("provenance", {}).setdefault("devices", {})[device_name] = {
        "method": f"{source} per-layer times x {factor:.6g}, so that the whole model takes "
                  f"{total_s} s", "scale_factor": factor}
    return Profile.from_dict(doc)


def shipped_profile(name: str, repeats: int = 20, warmup: int = 3,
                    progress: bool = True) -> Profile:
    """One of the six shipped profiles: ``host`` measured here, ``rpi3b`` and
    ``paper-cloud`` scaled to the paper, ``input_bytes`` calibrated to the paper."""
    implied = PAPER_IMPLIED[name]
    host = measure_profile(name, "host", repeats=repeats, warmup=warmup, progress=progress)
    raw_input = host.input_bytes
    p = scaled_device(host, "host", "rpi3b", implied["edge_s"],
                      "Raspberry Pi 3B (4x Cortex-A53 @ 1.2 GHz), the paper's edge: host "
                      "per-layer profile scaled to the paper's edge-only time, not measured")
    p = scaled_device(p, "host", "paper-cloud", implied["cloud_s"],
                      "i7-9700K + RTX 2080 Ti, the paper's cloud: host (CPU) per-layer "
                      "profile scaled to the paper's implied cloud time, not measured")
    doc = p.to_dict()
    doc["input_bytes"] = int(implied["input_bytes"])
    doc["default_edge"], doc["default_cloud"] = "rpi3b", "paper-cloud"
    prov = doc["provenance"]
    prov["devices"]["rpi3b"]["calibrated_to"] = (
        f"the implied edge whole-model time {implied['edge_s']} s = the paper's "
        f"Table 1 edge-only (E-O) column / 30 frames")
    prov["devices"]["paper-cloud"]["calibrated_to"] = (
        f"the implied cloud whole-model time {implied['cloud_s']} s = the paper's "
        f"Table 1 4G cloud-only (C-O) column / 150 frames (cloud-bound)")
    prov["input_bytes"] = (
        f"{int(implied['input_bytes'])} bytes per frame, calibrated: the paper's Table 1 3G "
        f"cloud-only (C-O) column / 30 frames at 1.1 Mbit/s (link-bound); the raw float32 "
        f"input tensor is {raw_input} bytes (raw_input_bytes)")
    prov["raw_input_bytes"] = raw_input
    prov["source"] = ("Zhang et al. 2022, Table 1; the implied whole-model times are derived "
                      "in docs/model.md (The paper's Table 1 and what it implies)")
    # the Raspberry Pi's power and radio figures (splitgym.profiles.figures)
    return attach_figures(Profile.from_dict(doc), doc["devices"]["host"]["codecs"])


def _gpu_ms(p: Profile, device: str = "h100") -> str:
    """'sum of layers (plain forward)' in ms, or '-' where `device` was not measured."""
    if device not in p.devices:
        return "-"
    fwd = (p.provenance or {}).get("devices", {}).get(device, {}).get("whole_model_forward_ms")
    sum_ms = p.whole_model_s(device) * 1e3
    return f"{sum_ms:.2f} ({fwd:.2f})" if fwd is not None else f"{sum_ms:.2f}"


def profiles_doc() -> str:
    """The text of docs/profiles.md, generated from the shipped profiles."""
    from .cuts import make_cut_table
    from .schema import load_profile

    out = [
        "# The shipped profiles", "",
        "Generated by `python -m splitgym.profiles.measure --doc docs/profiles.md` from the "
        "files in `profiles/`; a test keeps it in step with them.", "",
        "**How the numbers were obtained.** Each model (`splitgym.profiles.models`, torch, "
        "eval mode, batch 1, random weights) is captured with `torch.fx`; batch-norm, "
        "activations, dropout and flatten are fused into the layer before them and "
        "`torch.cat` is folded into its consumers, so every cut point is a real tensor. "
        "Output shapes and bytes are exact (float32). FLOPs are `torch.utils.flop_counter`'s "
        "(2 per multiply-add of conv/linear/matmul). Devices:", "",
        "- `host`: measured on the machine that generated the file (its CPU model, torch "
        "version, threads, repeats and date are in each file's `provenance`): median over "
        "repeats of each layer's wall time, after warm-up.",
        "- `rpi3b`: `host` per-layer times times one factor per model, so the whole model "
        "takes the paper's edge-only per-frame time (Table 1 E-O / 30). Calibrated, not "
        "measured.",
        "- `paper-cloud`: likewise scaled to the paper's implied cloud time (Table 1 4G C-O "
        "/ 150). Calibrated, not measured; the shape of the profile is the host CPU's, not "
        "a GPU's.",
        "- `h100`: measured on an NVIDIA H100 80GB (a GPU machine lent to the project; "
        "CUDA, cuDNN and torch versions and the date are in `provenance`), eager mode, batch "
        "1: each layer between two `torch.cuda.synchronize()` calls, so launch overhead is "
        "part of every layer and the sum of layers exceeds a plain forward "
        "(`whole_model_forward_ms`). A real GPU cloud profile; not the paper's cloud, so not "
        "the default: `gym.make(..., cloud_device=\"h100\")`.",
        "- `rpi3b-paperfit`, `paper-cloud-paperfit` (the `paper-fit` calibration, "
        "`splitgym reproduce --calibration paper-fit`): `rpi3b` and `paper-cloud` per-layer "
        "times times one factor per layer class (conv, dense, other), fitted by least squares "
        "in log space to the paper's Table 1 E-O, C-O and S-C cells that a static cut can "
        "reach (`splitgym.profiles.paperfit`; regenerate with `python -m "
        "splitgym.profiles.paperfit --write profiles`). Calibrated, not measured; the "
        "factors, the cells, their residuals and the cells left out (with the reason) are in "
        "`provenance` and in the table below.",
        "- `input_bytes`: the paper's implied per-frame input (Table 1 3G C-O / 30 frames "
        "at 1.1 Mbit/s), calibrated; the raw float32 input is `raw_input_bytes`.", "",
        "| model | kind | N | K cuts | host whole ms | rpi3b s | paper-cloud s | h100 ms "
        "(forward) | input B (raw) | GFLOPs | params |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = list(PAPER_IMPLIED)
    profs = {n: load_profile(n) for n in names}
    tables = {n: make_cut_table(profs[n]) for n in names}
    for n in names:
        p, t = profs[n], tables[n]
        flops = sum(la.flops or 0 for la in p.layers) / 1e9
        params = sum(la.params or 0 for la in p.layers) / 1e6
        out.append(
            f"| {n} | {'chain' if p.is_chain else 'DAG'} | {p.n_layers} | {t.n_cuts} | "
            f"{p.whole_model_s('host') * 1e3:.1f} | {p.whole_model_s('rpi3b'):.3f} | "
            f"{p.whole_model_s('paper-cloud'):.3f} | {_gpu_ms(p)} | {p.input_bytes} "
            f"({p.provenance['raw_input_bytes']}) | {flops:.2f} | {params:.2f}M |")
    out += ["", "**The paper-fit factors** (multipliers of `rpi3b` / `paper-cloud` per layer "
            "class; residual = log(fit estimate / paper) per fitted Table 1 cell):", "",
            "| model | edge conv / dense / other | cloud conv / dense / other | residuals | "
            "not fitted |", "|---|---|---|---|---|"]
    from .paperfit import fit_provenance

    for n in names:
        fit = fit_provenance(profs[n])
        if not fit:
            continue
        e, c = fit["edge_factors"], fit["cloud_factors"]
        res = ", ".join(f"{r['cell']} {r['residual']:+.3f}" for r in fit["cells"])
        left = ", ".join(x["cell"] for x in fit["excluded"]) or "-"
        out.append(f"| {n} | {e['conv']:.3g} / {e['dense']:.3g} / {e['other']:.3g} | "
                   f"{c['conv']:.3g} / {c['dense']:.3g} / {c['other']:.3g} | {res} | {left} |")
    for n in names:
        p, t = profs[n], tables[n]
        out += ["", f"## {n}", ""]
        if p.is_chain:
            out += [f"Chain: cut i runs layers 1..i on the edge (K = N + 1 = {t.n_cuts}).", "",
                    "| cut | layer | op | output shape | bytes sent | rpi3b ms |",
                    "|---|---|---|---|---|---|",
                    f"| 0 | (cloud-only) | | input | {p.input_bytes} | |"]
            for i, la in enumerate(p.layers, 1):
                sent = 0 if i == p.n_layers else la.output_bytes
                out.append(f"| {i} | {la.name} | {la.op} | {'x'.join(map(str, la.output_shape))}"
                           f" | {sent} | {la.latency_ms['rpi3b']:.1f} |")
        else:
            out += [f"DAG with {p.n_layers} layers; K = {t.n_cuts} candidate cuts "
                    "(`splitgym.profiles.cuts.dag_cut_table`):", "",
                    "| cut | last edge layer | edge layers | bytes sent | rpi3b s | "
                    "paper-cloud s |", "|---|---|---|---|---|---|"]
            for i, c in enumerate(t.cuts):
                last = c.edge_layers[-1] if c.edge_layers else "(cloud-only)"
                out.append(f"| {i} | {last} | {len(c.edge_layers)} | {c.transfer_bytes} | "
                           f"{c.edge_s:.3f} | {c.cloud_s:.3f} |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the shipped profiles."""
    ap = argparse.ArgumentParser(prog="python -m splitgym.profiles.measure",
                                 description="Regenerate the six shipped profiles.")
    ap.add_argument("--out-dir", default="profiles")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--doc", default=None, metavar="FILE.md",
                    help="only write the profiles doc page from the shipped files")
    args = ap.parse_args(argv)
    if args.doc:
        from splitgym.fileio import write_atomic

        write_atomic(args.doc, profiles_doc())
        return 0
    for name in args.models.split(","):
        prof = shipped_profile(name, args.repeats, args.warmup)
        path = Path(args.out_dir) / f"{name}.json"
        prof.save(path)
        print(f"{name}: {prof.n_layers} layers, host {prof.whole_model_s('host') * 1e3:.1f} ms "
              f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
