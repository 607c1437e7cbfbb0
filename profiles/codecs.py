"""Transfer encodings: how a cut's intermediate tensors are sent, and what that costs.

``transfer_encoding`` (`splitgym.envs.EdgeCloudEnv`) is one of `ENCODINGS`:

* ``"float32"``: the tensors as the profile states them (the paper's; the default).
* ``"float16"``: each element in 2 bytes (``torch.Tensor.half`` on the edge,
  ``.float`` on the cloud).
* ``"int8"``: each element in 1 byte plus an 8-byte header per tensor (a float32
  scale and an int32 zero point, ``torch.quantize_per_tensor``'s parameters; the
  scale from the tensor's largest magnitude).

An encoding is a transformation of the cut table, done once before any engine sees it
(`encode_cut_table`; `make_encoded_cut_table` also picks a DAG's candidate cuts by
the encoded sizes), so both engines run the same numbers by construction. For each
cut it changes only the intermediate tensors it sends (layer outputs; the model input
of a cut that sends it is sent as the profile states it, as it is not an activation
the model computed):

* ``transfer_bytes``: each tensor's float32 bytes ``b`` become ``ceil(b / 2)``
  (float16) or ``ceil(b / 4) + 8`` (int8);
* ``edge_s`` gains the edge device's encode time and ``cloud_s`` the cloud device's
  decode time, ``fixed_s + s_per_mb * b / 1e6`` per tensor, from the devices'
  ``codecs`` figures (`splitgym.profiles.devices`), which the profiler measures
  (`measure_codecs`).

Edge-only sends nothing and cloud-only sends only the input: both keep their costs.
Accuracy is outside the model: an encoding changes bytes and time, never what the
cloud computes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .cuts import Cut, CutTable, cut_for_edge_set, make_cut_table
from .devices import codec_of
from .schema import INPUT, Profile, ProfileError

#: The encodings: bytes per element and header bytes per tensor.
ENCODINGS: dict[str, tuple[int, int]] = {"float32": (4, 0), "float16": (2, 0),
                                         "int8": (1, 8)}
#: The int8 header: a float32 scale and an int32 zero point per tensor [bytes].
INT8_HEADER_BYTES = 8


class EncodingError(ProfileError):
    """A transfer encoding that is unknown, or whose costs a device does not state."""


def check_encoding(encoding: Any, field: str = "transfer_encoding") -> str:
    """`encoding` if it is one of `ENCODINGS`; else an `EncodingError` naming it."""
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise EncodingError(f"{field}={encoding!r}: expected one of {list(ENCODINGS)}")
    return encoding


def encoded_bytes(float32_bytes: int, encoding: str) -> int:
    """The bytes one tensor of `float32_bytes` takes under `encoding`."""
    per_elem, header = ENCODINGS[encoding]
    return -(-float32_bytes * per_elem // 4) + header if float32_bytes else 0


def _sent_tensors(profile: Profile, table: CutTable, i: int) -> tuple[bool, list[int]]:
    """(whether cut i sends the model input, float32 bytes of each layer output it
    sends)."""
    cut = table.cuts[i]
    if not cut.offloads:
        return False, []
    if table.kind == "chain":
        n = len(cut.edge_layers)
        return (True, []) if n == 0 else (False, [profile.layers[n - 1].output_bytes])
    on_edge = set(cut.edge_layers)
    sent: set[str] = set()
    for lay in profile.layers:
        if lay.name not in on_edge:
            sent.update(s for s in lay.inputs if s == INPUT or s in on_edge)
    return INPUT in sent, [profile.layers[profile.index(s)].output_bytes
                           for s in sorted(sent) if s != INPUT]


def codec_costs(profile: Profile, device: str, encoding: str) -> dict[str, float]:
    """Device `device`'s encode/decode figures for `encoding` (an `EncodingError` naming
    the device when the profile has none)."""
    profile.check_device(device, "device")
    figures = codec_of(profile.devices[device], encoding)
    if figures is None:
        raise EncodingError(
            f"transfer_encoding={encoding!r}: device {device!r} of profile "
            f"{profile.model!r} has no {encoding} codec costs (devices[{device!r}].codecs); "
            f"`splitgym profile` measures them, or add them with their provenance")
    return figures


def encode_overhead_s(profile: Profile, table: CutTable, encoding: str,
                      device: str) -> list[float]:
    """Per cut, the time [s] `device` (as the edge) takes to encode what the cut sends
    (0.0 for float32 and for cuts that send no intermediate tensor)."""
    return _overhead_s(profile, table, encoding, device, "encode")


def _overhead_s(profile: Profile, table: CutTable, encoding: str, device: str,
                role: str) -> list[float]:
    if encoding == "float32":
        return [0.0] * table.n_cuts
    f = codec_costs(profile, device, encoding)
    fixed, per_mb = f[f"{role}_fixed_s"], f[f"{role}_s_per_mb"]
    out = []
    for i in range(table.n_cuts):
        _, tensors = _sent_tensors(profile, table, i)
        out.append(math.fsum(fixed + per_mb * (b / 1e6) for b in tensors))
    return out


def encode_cut_table(profile: Profile, table: CutTable, encoding: str) -> CutTable:
    """`table` with its cuts' tensors sent under `encoding` (see the module docstring);
    `table` itself for ``"float32"``. The result's ``transfer_encoding`` names it."""
    check_encoding(encoding)
    if encoding == "float32":
        return table
    enc = _overhead_s(profile, table, encoding, table.edge_device, "encode")
    dec = _overhead_s(profile, table, encoding, table.cloud_device, "decode")
    cuts = []
    for i, c in enumerate(table.cuts):
        sends_input, tensors = _sent_tensors(profile, table, i)
        if not tensors:
            cuts.append(c)
            continue
        nbytes = (profile.input_bytes if sends_input else 0) + sum(
            encoded_bytes(b, encoding) for b in tensors)
        cuts.append(Cut(edge_layers=c.edge_layers, edge_s=c.edge_s + enc[i],
                        transfer_bytes=nbytes, cloud_s=c.cloud_s + dec[i],
                        offloads=c.offloads))
    out = CutTable(profile, table.edge_device, table.cloud_device, cuts, kind=table.kind)
    out.transfer_encoding = encoding
    return out


def make_encoded_cut_table(profile: Profile, edge_device: str | None = None,
                           cloud_device: str | None = None,
                           bandwidths_mbps: Sequence[float] = (),
                           encoding: str = "float32") -> CutTable:
    """`make_cut_table` under `encoding`: a chain's prefixes, or a DAG's candidates
    chosen by the parametric min-cut sweep on the *encoded* tensor sizes (the float32
    sweep would offer cuts picked for float32 bytes), then costed by
    `encode_cut_table`. The sweep weighs bytes only: encode and decode times do not
    steer which DAG cuts are candidates."""
    check_encoding(encoding)
    if encoding == "float32" or profile.is_chain:
        return encode_cut_table(profile, make_cut_table(
            profile, edge_device, cloud_device, bandwidths_mbps=bandwidths_mbps), encoding)
    doc = profile.to_dict()
    for lay in doc["layers"]:
        lay["output_bytes"] = encoded_bytes(lay["output_bytes"], encoding)
    picked = make_cut_table(Profile.from_dict(doc), edge_device, cloud_device,
                            bandwidths_mbps=bandwidths_mbps)
    edge, cloud = picked.edge_device, picked.cloud_device
    cuts = [cut_for_edge_set(profile, c.edge_layers, edge, cloud) for c in picked.cuts]
    return encode_cut_table(profile, CutTable(profile, edge, cloud, cuts, kind="dag"),
                            encoding)


# -- measuring ------------------------------------------------------------------------

def _int8_encode(x: Any) -> Any:
    import warnings

    import torch

    scale = float(x.abs().max()) / 127.0 or 1.0
    with warnings.catch_warnings():  # torch >= 2.10 deprecates the quantized dtypes
        warnings.simplefilter("ignore", UserWarning)
        return torch.quantize_per_tensor(x, scale, 0, torch.qint8)


def measure_codecs(sizes_bytes: Sequence[int], torch_device: str = "cpu",
                   repeats: int = 20, warmup: int = 3) -> dict[str, Any]:
    """Time encode and decode of float32 tensors of `sizes_bytes` on `torch_device`
    and fit ``fixed_s + s_per_mb * MB`` per encoding (Theil-Sen over the sizes, each
    the least of `repeats` runs: the least disturbed, as ``timeit`` advises on a shared
    machine); returns a device ``codecs`` block with its
    provenance. float16: ``x.half()`` / ``y.float()``; int8: the scale from
    ``x.abs().max()`` then ``torch.quantize_per_tensor`` / ``q.dequantize()`` (on a
    GPU, int8 is quantized on the host: torch has no CUDA quantize_per_tensor for every
    build, so a GPU's int8 figures include the copies)."""
    import torch

    sizes = sorted({int(s) for s in sizes_bytes if s >= 4})
    if len(sizes) < 2:
        raise ValueError(f"sizes_bytes: need at least two distinct tensor sizes >= 4, "
                         f"got {list(sizes_bytes)!r}")
    dev = torch.device(torch_device)
    cuda = dev.type == "cuda"

    def timed(fn: Any, arg: Any) -> float:
        samples = []
        for k in range(warmup + repeats):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn(arg)
            if cuda:
                torch.cuda.synchronize()
            if k >= warmup:
                samples.append(time.perf_counter() - t0)
        return min(samples)

    def int8_encode(x: Any) -> Any:
        return _int8_encode(x.cpu() if cuda else x)

    def int8_decode(q: Any) -> Any:
        y = q.dequantize()
        return y.to(dev) if cuda else y

    ops = {"float16": (lambda x: x.half(), lambda y: y.float()),
           "int8": (int8_encode, int8_decode)}
    gen = torch.Generator().manual_seed(0)
    points: dict[str, dict[str, list[float]]] = {e: {"encode": [], "decode": []}
                                                 for e in ops}
    with torch.no_grad():
        for size in sizes:
            x = torch.randn(size // 4, generator=gen).to(dev)
            for name, (enc, dec) in ops.items():
                y = enc(x)
                points[name]["encode"].append(timed(enc, x))
                points[name]["decode"].append(timed(dec, y))
    mb = np.array(sizes, dtype=np.float64) / 1e6
    block: dict[str, Any] = {}
    for name, roles in points.items():
        figures = {}
        for role, secs in roles.items():
            slope, icept = _theil_sen(mb, np.array(secs))
            figures[f"{role}_fixed_s"] = float(f"{max(icept, 0.0):.6g}")
            figures[f"{role}_s_per_mb"] = float(f"{max(slope, 0.0):.6g}")
        block[name] = figures
    block["provenance"] = (
        f"measured by splitgym.profiles.codecs.measure_codecs on {torch_device} "
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads): float16 "
        f"x.half() / y.float(); int8 scale from x.abs().max(), torch.quantize_per_tensor "
        f"/ dequantize(); the least of {repeats} runs per size at {len(sizes)} tensor sizes "
        f"{sizes[0]}-{sizes[-1]} float32 bytes, fitted as fixed_s + s_per_mb * MB by "
        f"Theil-Sen (the median of pairwise slopes: one disturbed size does not move it; "
        f"negative fits clipped to 0)")
    return block


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, intercept): the median of the pairwise slopes, and the median of
    ``y - slope * x``."""
    i, j = np.triu_indices(len(x), 1)
    slope = float(np.median((y[j] - y[i]) / (x[j] - x[i])))
    return slope, float(np.median(y - slope * x))


def scaled_codecs(block: dict[str, Any], factor: float, source: str) -> dict[str, Any]:
    """A ``codecs`` block whose times are `block`'s times `factor` (a device derived from
    another by one speed factor, as `splitgym.profiles.measure.scaled_device` derives
    layer times); provenance says so."""
    out: dict[str, Any] = {}
    for name, figures in block.items():
        if name == "provenance":
            continue
        out[name] = {k: float(f"{v * factor:.6g}") for k, v in figures.items()}
    out["provenance"] = (f"derived, not measured: device {source!r}'s codec times x "
                         f"{factor:.6g} (the factor that scales its layer times to this "
                         f"device's); {source}: {block.get('provenance', '')}")
    return out
