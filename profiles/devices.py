"""What a profile's device may carry beyond its layer times: power figures and the costs
of encoding a cut tensor.

A device of a `splitgym-profile/1` document is an object with a ``description`` and,
optionally, three blocks, each with its own ``provenance`` (free text: where every
number came from, and how sure it is)::

    "rpi3b": {
      "description": "...",
      "power": {"idle_w": 1.4, "compute_w": 3.7, "provenance": "..."},
      "radio": {"4g": {"tx_base_w": 1.288, "tx_w_per_mbps": 0.438,
                       "tail_w": 1.06, "tail_s": 11.576}, "3g": {...}, "wifi": {...},
                "provenance": "..."},
      "codecs": {"float16": {"encode_fixed_s": 1e-5, "encode_s_per_mb": 2e-4,
                             "decode_fixed_s": 1e-5, "decode_s_per_mb": 2e-4},
                 "int8": {...}, "provenance": "..."}}

* ``power`` [W]: the whole device's power when idle and while it computes a layer
  (the edge energy of `splitgym.envs.core.energy`).
* ``radio``, per link type (``"3g"``, ``"4g"``, ``"wifi"``): while a transfer runs
  the radio adds ``tx_base_w + tx_w_per_mbps * rate`` [W] (Huang et al.'s linear
  model in the uplink rate [Mbit/s]); after it ends the radio stays in its
  high-power tail, adding ``tail_w`` [W], for ``tail_s`` [s] or until the next
  transfer of that device starts.
* ``codecs``, per transfer encoding other than float32 (``"float16"``, ``"int8"``):
  the time to encode a tensor on this device when it is the edge, and to decode it
  when it is the cloud, ``fixed_s + s_per_mb * MB`` per tensor, MB being the tensor's
  float32 size in units of 1e6 bytes (`splitgym.profiles.codecs`).

`check_device` validates the blocks (a `ProfileError` naming the field); `power_of`,
`radio_of` and `codec_of` read them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Link types a device's ``radio`` block may describe.
RADIOS: tuple[str, ...] = ("3g", "4g", "wifi")
#: Encodings a device's ``codecs`` block may describe (float32 costs nothing: it is the
#: tensor as computed).
CODEC_ENCODINGS: tuple[str, ...] = ("float16", "int8")
POWER_KEYS: tuple[str, ...] = ("idle_w", "compute_w")
RADIO_KEYS: tuple[str, ...] = ("tx_base_w", "tx_w_per_mbps", "tail_w", "tail_s")
CODEC_KEYS: tuple[str, ...] = ("encode_fixed_s", "encode_s_per_mb", "decode_fixed_s",
                               "decode_s_per_mb")
#: Largest figure accepted (W, W per Mbit/s, s, s per MB): beyond it a product with an
#: episode's times could overflow.
MAX_FIGURE = 1e9


def _error(message: str) -> Exception:
    from .schema import ProfileError

    return ProfileError(message)


def _numbers(block: Any, keys: tuple[str, ...], where: str) -> dict[str, float]:
    if not isinstance(block, Mapping):
        raise _error(f"{where}: must be an object with {list(keys)}, got {block!r}")
    unknown = sorted(str(k) for k in block if k not in keys)
    if unknown:
        raise _error(f"{where}.{unknown[0]}: unknown field (allowed: {list(keys)})")
    out = {}
    for key in keys:
        if key not in block:
            raise _error(f"{where}.{key}: missing field")
        x = block[key]
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) \
                or not 0 <= x <= MAX_FIGURE:
            raise _error(f"{where}.{key}: must be a finite number >= 0 (at most "
                         f"{MAX_FIGURE:g}), got {x!r}")
        out[key] = float(x)
    return out


def _per_kind(block: Any, kinds: tuple[str, ...], keys: tuple[str, ...],
              where: str) -> None:
    if not isinstance(block, Mapping):
        raise _error(f"{where}: must be an object of {list(kinds)} and 'provenance', got "
                     f"{block!r}")
    _provenance(block, where)
    for kind, figures in block.items():
        if kind == "provenance":
            continue
        if kind not in kinds:
            raise _error(f"{where}[{kind!r}]: unknown key (allowed: {list(kinds)} and "
                         f"'provenance')")
        _numbers(figures, keys, f"{where}[{kind!r}]")


def _provenance(block: Mapping[str, Any], where: str) -> None:
    prov = block.get("provenance")
    if not isinstance(prov, str) or not prov.strip():
        raise _error(f"{where}.provenance: every figure needs its source: a non-empty "
                     f"string, got {prov!r}")


def check_device(name: str, desc: Mapping[str, Any]) -> None:
    """Validate device `name`'s optional ``power``, ``radio`` and ``codecs`` blocks."""
    where = f"devices[{name!r}]"
    if "power" in desc:
        power = desc["power"]
        if isinstance(power, Mapping):
            _provenance(power, f"{where}.power")
            power = {k: v for k, v in power.items() if k != "provenance"}
        figures = _numbers(power, POWER_KEYS, f"{where}.power")
        if figures["compute_w"] < figures["idle_w"]:
            raise _error(f"{where}.power.compute_w: {figures['compute_w']:g} W is below "
                         f"idle_w {figures['idle_w']:g} W (the power while computing is the "
                         f"whole device's, idle included)")
    if "radio" in desc:
        _per_kind(desc["radio"], RADIOS, RADIO_KEYS, f"{where}.radio")
    if "codecs" in desc:
        _per_kind(desc["codecs"], CODEC_ENCODINGS, CODEC_KEYS, f"{where}.codecs")


def power_of(device: Mapping[str, Any]) -> dict[str, float] | None:
    """The device's ``power`` figures (``idle_w``, ``compute_w``), or None."""
    power = device.get("power")
    return None if power is None else {k: float(power[k]) for k in POWER_KEYS}


def radio_of(device: Mapping[str, Any], radio: str) -> dict[str, float] | None:
    """The device's figures for link type `radio`, or None."""
    figures = (device.get("radio") or {}).get(radio)
    return None if figures is None else {k: float(figures[k]) for k in RADIO_KEYS}


def codec_of(device: Mapping[str, Any], encoding: str) -> dict[str, float] | None:
    """The device's encode/decode costs of `encoding`, or None."""
    figures = (device.get("codecs") or {}).get(encoding)
    return None if figures is None else {k: float(figures[k]) for k in CODEC_KEYS}
