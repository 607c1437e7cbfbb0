"""The `splitgym-profile/1` format: per-layer costs of one DNN on several devices.

A profile is JSON::

    {"format": "splitgym-profile/1", "model": "toy", "input_bytes": 1000,
     "devices": {"pi": {"description": "..."}, "srv": {"description": "..."}},
     "default_edge": "pi", "default_cloud": "srv",
     "layers": [
       {"name": "conv1", "inputs": ["input"], "output_bytes": 500,
        "latency_ms": {"pi": 2000.0, "srv": 500.0}},
       {"name": "fc", "inputs": ["conv1"], "output_bytes": 40,
        "latency_ms": {"pi": 1000.0, "srv": 100.0}}]}

Layers are listed in a topological order: ``inputs`` name earlier layers or the
model input ``"input"``. Optional per layer: ``op``, ``output_shape``, ``flops``,
``params``; optional top level: ``provenance`` (free-form, where every number
came from). A device may carry power figures and transfer-encoding costs, each with
its provenance (`splitgym.profiles.devices`). A profile is a *chain* when each layer
reads only the one before it.

`load_profile` validates everything and raises `ProfileError`, whose message names
the layer and the field, before any simulation work starts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .devices import check_device

FORMAT = "splitgym-profile/1"
INPUT = "input"
_LAYER_KEYS = {"name", "inputs", "output_bytes", "latency_ms", "op", "output_shape", "flops",
               "params"}
_TOP_KEYS = {"format", "model", "input_bytes", "devices", "default_edge", "default_cloud",
             "layers", "provenance"}


class ProfileError(ValueError):
    """A profile that is not a valid `splitgym-profile/1` document.

    The message names the offending field (``layers[2] ('conv3').latency_ms['pi']``),
    the value found and what was expected.
    """


@dataclass(frozen=True)
class Layer:
    """One layer (one cut point): its output tensor is what a cut after it sends."""

    name: str
    inputs: tuple[str, ...]
    output_bytes: int  # [bytes] size of this layer's output tensor
    latency_ms: Mapping[str, float]  # [ms] per device name
    op: str | None = None
    output_shape: tuple[int, ...] | None = None
    flops: float | None = None
    params: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency_ms", MappingProxyType(dict(self.latency_ms)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Layer, (self.name, self.inputs, self.output_bytes, dict(self.latency_ms),
                        self.op, self.output_shape, self.flops, self.params))


@dataclass(frozen=True)
class Profile:
    """A validated profile. Build it with `load_profile` or `Profile.from_dict`."""

    model: str
    input_bytes: int  # [bytes] what cloud-only sends per frame
    devices: Mapping[str, Mapping[str, Any]]
    default_edge: str
    default_cloud: str
    layers: tuple[Layer, ...]
    provenance: Mapping[str, Any] | None = None
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_index", MappingProxyType({lay.name: i for i, lay in enumerate(self.layers)})
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # mappingproxy does not pickle: a profile pickles as its JSON document.
        return (_validate, (self.to_dict(),))

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Profile:
        """Validate a decoded JSON document and build the profile from it."""
        return _validate(doc)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this profile (round-trips through `from_dict`)."""
        layers = []
        for lay in self.layers:
            d: dict[str, Any] = {"name": lay.name, "inputs": list(lay.inputs),
                                 "output_bytes": lay.output_bytes,
                                 "latency_ms": dict(lay.latency_ms)}
            if lay.op is not None:
                d["op"] = lay.op
            if lay.output_shape is not None:
                d["output_shape"] = list(lay.output_shape)
            if lay.flops is not None:
                d["flops"] = lay.flops
            if lay.params is not None:
                d["params"] = lay.params
            layers.append(d)
        doc: dict[str, Any] = {
            "format": FORMAT, "model": self.model, "input_bytes": self.input_bytes,
            "devices": {k: dict(v) for k, v in self.devices.items()},
            "default_edge": self.default_edge, "default_cloud": self.default_cloud,
            "layers": layers,
        }
        if self.provenance is not None:
            doc["provenance"] = _thaw(self.provenance)
        return doc

    def save(self, path: str | Path) -> None:
        """Write the profile as indented JSON."""
        from splitgym.fileio import write_atomic

        write_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")

    # -- queries -----------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        """N, the number of layers (cut points after the input)."""
        return len(self.layers)

    @property
    def is_chain(self) -> bool:
        """True when each layer reads only the one before it (the first reads the input)."""
        prev = INPUT
        for lay in self.layers:
            if lay.inputs != (prev,):
                return False
            prev = lay.name
        return True

    def index(self, name: str) -> int:
        """Position of a layer by name."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"profile {self.model!r} has no layer {name!r}") from None

    def check_device(self, device: str, role: str) -> None:
        """Raise `ProfileError` unless `device` is one of this profile's devices."""
        if device not in self.devices:
            raise ProfileError(
                f"{role}={device!r}: profile {self.model!r} has no such device; "
                f"it has {sorted(self.devices)}")

    def latencies_s(self, device: str) -> tuple[float, ...]:
        """Per-layer latency on `device` in seconds, in layer order."""
        self.check_device(device, "device")
        return tuple(lay.latency_ms[device] / 1000.0 for lay in self.layers)

    def whole_model_s(self, device: str) -> float:
        """Latency of the whole model on `device` [s] (the sum of its layers)."""
        return math.fsum(self.latencies_s(device))


def _thaw(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_thaw(v) for v in obj]
    return obj


# -- validation --------------------------------------------------------------------------

def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


#: Largest latency [ms] and count (bytes, params, flops, shape entries) a profile may
#: hold: beyond them sums overflow or lose whole units (2**53 is float64's exact range).
MAX_MS = 1e12
MAX_COUNT = 2**53
#: Deepest nesting of a profile's JSON (or of its free-form ``provenance``).
MAX_DEPTH = 64


def _short(x: Any) -> str:
    """repr(x), cut short (a huge integer's digits are not worth printing)."""
    text = repr(x) if not isinstance(x, int) or abs(x) < 10**30 else f"an integer of " \
        f"{x.bit_length()} bits"
    return text if len(text) <= 80 else text[:77] + "..."


def _nonneg_float(x: Any, where: str, most: float = MAX_MS) -> float:
    if not _is_number(x) or not (0 <= x <= most) or not math.isfinite(float(x)):
        raise ProfileError(f"{where}: must be a finite number >= 0, got {_short(x)} (at most "
                           f"{most:g})")
    return float(x)


def _nonneg_int(x: Any, where: str) -> int:
    if _is_number(x) and 0 <= x <= MAX_COUNT and float(x).is_integer():
        return int(x)
    raise ProfileError(f"{where}: must be a whole number of bytes >= 0, got {_short(x)} "
                       f"(at most 2**53)")


def _depth(obj: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of lists and objects, counted without recursion, up to limit + 1."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, Mapping):
            children = list(node.values())
        elif isinstance(node, (list, tuple)):
            children = list(node)
        else:
            continue
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        stack.extend((c, d + 1) for c in children)
    return deepest


def _validate(doc: Any) -> Profile:
    if not isinstance(doc, Mapping):
        raise ProfileError(f"profile: must be a JSON object, got {type(doc).__name__}")
    for key, value in doc.items():
        if _depth(value, MAX_DEPTH - 1) > MAX_DEPTH - 1:
            raise ProfileError(f"{key}: nested more than {MAX_DEPTH} levels deep")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise ProfileError(f"format: unknown profile format {fmt!r}, expected {FORMAT!r}")
    for key in ("model", "input_bytes", "devices", "default_edge", "default_cloud", "layers"):
        if key not in doc:
            raise ProfileError(f"{key}: missing field")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ProfileError(f"{unknown[0]}: unknown field (allowed: {sorted(_TOP_KEYS)})")
    model = doc["model"]
    if not isinstance(model, str) or not model:
        raise ProfileError(f"model: must be a non-empty string, got {model!r}")
    input_bytes = _nonneg_int(doc["input_bytes"], "input_bytes")

    devices = doc["devices"]
    if not isinstance(devices, Mapping) or not devices:
        raise ProfileError(f"devices: must be a non-empty object of device name -> "
                           f"description, got {devices!r}")
    for name, desc in devices.items():
        if not isinstance(name, str) or not name:
            raise ProfileError(f"devices: device names must be non-empty strings, got {name!r}")
        if not isinstance(desc, Mapping):
            raise ProfileError(f"devices[{name!r}]: must be an object, got {desc!r}")
        check_device(name, desc)  # optional power, radio and codec figures
    for key in ("default_edge", "default_cloud"):
        if not isinstance(doc[key], str) or doc[key] not in devices:
            raise ProfileError(f"{key}: {doc[key]!r} is not one of devices {sorted(devices)}")

    raw_layers = doc["layers"]
    if not isinstance(raw_layers, Sequence) or isinstance(raw_layers, (str, bytes)) \
            or not raw_layers:
        raise ProfileError(f"layers: must be a non-empty list, got {raw_layers!r}")

    names: dict[str, int] = {}
    for i, raw in enumerate(raw_layers):
        if not isinstance(raw, Mapping):
            raise ProfileError(f"layers[{i}]: must be an object, got {raw!r}")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ProfileError(f"layers[{i}].name: must be a non-empty string, got {name!r}")
        if name == INPUT:
            raise ProfileError(f"layers[{i}].name: {INPUT!r} is reserved for the model input")
        if name in names:
            raise ProfileError(f"layers[{i}].name: duplicate layer name {name!r} "
                               f"(also layers[{names[name]}])")
        names[name] = i

    layers = []
    for i, raw in enumerate(raw_layers):
        name = raw["name"]
        where = f"layers[{i}] ({name!r})"
        for key in ("inputs", "output_bytes", "latency_ms"):
            if key not in raw:
                raise ProfileError(f"{where}.{key}: missing field")
        extra = sorted(set(raw) - _LAYER_KEYS)
        if extra:
            raise ProfileError(f"{where}.{extra[0]}: unknown field (allowed: "
                               f"{sorted(_LAYER_KEYS)})")
        inputs = raw["inputs"]
        if not isinstance(inputs, Sequence) or isinstance(inputs, (str, bytes)) or not inputs:
            raise ProfileError(f"{where}.inputs: must be a non-empty list of layer names, "
                               f"got {inputs!r}")
        for src in inputs:
            if src == INPUT:
                continue
            if not isinstance(src, str) or src not in names:
                raise ProfileError(f"{where}.inputs: unknown layer {src!r}")
        if len(set(inputs)) != len(inputs):
            raise ProfileError(f"{where}.inputs: lists a layer twice: {list(inputs)!r}")
        lat = raw["latency_ms"]
        if not isinstance(lat, Mapping):
            raise ProfileError(f"{where}.latency_ms: must be an object of device -> ms, "
                               f"got {lat!r}")
        for dev in devices:
            if dev not in lat:
                raise ProfileError(f"{where}.latency_ms: device {dev!r} is missing")
        for dev in lat:
            if dev not in devices:
                raise ProfileError(f"{where}.latency_ms: device {dev!r} is not declared in "
                                   f"devices {sorted(devices)}")
        latency = {dev: _nonneg_float(lat[dev], f"{where}.latency_ms[{dev!r}]") for dev in lat}
        shape = raw.get("output_shape")
        if shape is not None:
            if not isinstance(shape, Sequence) or isinstance(shape, (str, bytes)) or not all(
                    _is_number(s) and 0 <= s <= MAX_COUNT and float(s).is_integer()
                    for s in shape):
                raise ProfileError(f"{where}.output_shape: must be a list of whole numbers "
                                   f">= 0 (at most 2**53), got {_short(shape)}")
            shape = tuple(int(s) for s in shape)
        flops = raw.get("flops")
        if flops is not None:
            flops = _nonneg_float(flops, f"{where}.flops", 1e30)
        params = raw.get("params")
        if params is not None:
            params = _nonneg_int(params, f"{where}.params")
        op = raw.get("op")
        if op is not None and not isinstance(op, str):
            raise ProfileError(f"{where}.op: must be a string, got {op!r}")
        layers.append(Layer(
            name=name, inputs=tuple(inputs),
            output_bytes=_nonneg_int(raw["output_bytes"], f"{where}.output_bytes"),
            latency_ms=MappingProxyType(latency), op=op, output_shape=shape,
            flops=flops, params=params))

    _check_order(layers, names)
    prov = doc.get("provenance")
    if prov is not None and not isinstance(prov, Mapping):
        raise ProfileError(f"provenance: must be an object, got {prov!r}")
    return Profile(
        model=model, input_bytes=input_bytes,
        devices=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in devices.items()}),
        default_edge=doc["default_edge"], default_cloud=doc["default_cloud"],
        layers=tuple(layers), provenance=prov)


def _check_order(layers: list[Layer], names: Mapping[str, int]) -> None:
    """Reject cycles first (naming them), then any other forward reference."""
    state = [0] * len(layers)  # 0 unseen, 1 on stack, 2 done
    # each layer's predecessors, once (rebuilt per visit, a layer with n inputs made
    # this quadratic: 20,000 inputs took half a minute)
    preds_of = [[names[s] for s in lay.inputs if s != INPUT] for lay in layers]

    for root in range(len(layers)):
        if state[root]:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path = [root]
        state[root] = 1
        while stack:
            node, k = stack[-1]
            preds = preds_of[node]
            if k < len(preds):
                stack[-1] = (node, k + 1)
                nxt = preds[k]
                if state[nxt] == 1:
                    cyc = path[path.index(nxt):] + [nxt]
                    desc = " <- ".join(repr(layers[j].name) for j in cyc)
                    raise ProfileError(f"layers[{nxt}] ({layers[nxt].name!r}).inputs: cycle "
                                       f"{desc}")
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    for i, lay in enumerate(layers):
        for src in lay.inputs:
            if src != INPUT and names[src] >= i:
                raise ProfileError(
                    f"layers[{i}] ({lay.name!r}).inputs: forward reference to {src!r} "
                    f"(layers[{names[src]}]); layers must be listed after their inputs")


# -- loading ------------------------------------------------------------------------------

#: Shipped profiles for tests and examples, loadable by name but not offered to a user
#: (an error listing the models leaves them out).
INTERNAL_PROFILES = ("toy",)


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped with splitgym (`load_profile` takes them)."""
    pkg = resources.files("splitgym.profiles")
    return sorted(p.name[:-5] for p in pkg.iterdir() if p.name.endswith(".json"))


def load_profile(source: str | Path | Mapping[str, Any] | Profile) -> Profile:
    """Load and validate a profile.

    `source` is a shipped profile name (``"alexnet"``, ``"toy"``; see
    `shipped_profiles`), a path to a JSON file (a `Path`, or a string with a directory
    separator or a ``.json`` suffix: a bare word is always a shipped name, whatever the
    working directory holds), a decoded JSON document, or a `Profile` (returned as
    is). Raises `ProfileError` naming the bad field.
    """
    if isinstance(source, Profile):
        return source
    if isinstance(source, Mapping):
        return _validate(source)
    if not isinstance(source, (str, Path)):
        raise ProfileError(f"model: expected a shipped profile name, a path or a profile, "
                           f"got {type(source).__name__}")
    text: str
    origin: str
    if isinstance(source, str) and not _looks_like_path(source):
        # a bare word is a shipped name, whatever the working directory holds
        res = resources.files("splitgym.profiles").joinpath(f"{source}.json")
        if not source or source.startswith(".") or not res.is_file():
            import difflib

            names = [n for n in shipped_profiles() if n not in INTERNAL_PROFILES]
            close = difflib.get_close_matches(source, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProfileError(f"model: no shipped profile {source!r}{hint}; shipped: "
                               f"{names} (a file is read only from a path: "
                               f"write './{source}' or give a .json name)")
        text, origin = res.read_text(), f"shipped profile {source!r}"
    else:
        path = Path(source)
        if not path.is_file():
            raise ProfileError(f"model: profile file {str(path)!r} does not exist")
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProfileError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                               f"offset {exc.start}); profiles are UTF-8 JSON") from None
        except OSError as exc:
            raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
        origin = str(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{origin}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ProfileError(f"{origin}: JSON nested too deeply (at most {MAX_DEPTH} levels)"
                           ) from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ProfileError(f"{origin}: not a valid profile number ({exc})") from None
    try:
        return _validate(doc)
    except ProfileError as exc:
        raise ProfileError(f"{origin}: {exc}") from None


def _looks_like_path(value: str) -> bool:
    """A string names a file only when it has a directory separator or a ``.json``
    suffix (so ``"alexnet"`` is the shipped profile even beside a folder ``alexnet``)."""
    return "/" in value or "\\" in value or value.lower().endswith(".json")
