"""The shipped profiles' device figures beyond layer times: power, radio and codec costs
(`splitgym.profiles.devices`), each with where it came from.

`attach_figures` adds them to a shipped profile: power and radio figures to the
Raspberry Pi 3B edge devices (published measurements, cited below), and codec costs to
every device: measured on the host (`splitgym.profiles.codecs.measure_codecs`), and
for the devices derived from the host by one factor, the host's costs times that
factor (derived, not measured). `splitgym.profiles.measure.shipped_profile` calls it
(devices added later, the ``h100`` merge and the paper-fit devices, get theirs when
this module runs); to refresh only these figures of the shipped JSON files, keeping
their layer times::

    python -m splitgym.profiles.figures --out-dir profiles
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .schema import Profile

#: Raspberry Pi 3 Model B board power [W].
RPI3B_POWER: dict[str, Any] = {
    "idle_w": 1.4, "compute_w": 3.7,
    "provenance": (
        "Jeff Geerling's Raspberry Pi power measurements (pidramble.com, 'Power "
        "Consumption Benchmarks'): Raspberry Pi 3 B on Raspbian Lite, no peripherals, "
        "idle 260 mA at 5 V (1.4 W), 400% CPU load (stress --cpu 4) 730 mA (3.7 W). "
        "compute_w is that all-core load power, taken as the board's power while it runs "
        "DNN layers: approximate (an inference need not load all four cores fully); the "
        "board alone (no camera, no modem: the radio's power is the radio block)"),
}

#: Uplink radio figures per link type: transmit power ``tx_base_w + tx_w_per_mbps *
#: rate`` [W] and the high-power tail after a transfer.
RADIO: dict[str, Any] = {
    "4g": {"tx_base_w": 1.28804, "tx_w_per_mbps": 0.43839, "tail_w": 1.06,
           "tail_s": 11.576},
    "3g": {"tx_base_w": 0.81788, "tx_w_per_mbps": 0.86898, "tail_w": 0.8039,
           "tail_s": 8.0882},
    "wifi": {"tx_base_w": 0.13286, "tx_w_per_mbps": 0.28317, "tail_w": 0.1193,
             "tail_s": 0.2381},
    "provenance": (
        "Huang et al., 'A Close Examination of Performance and Power Characteristics of 4G "
        "LTE Networks', MobiSys 2012: the power model P = alpha_u * t_u + beta in the "
        "uplink throughput t_u (4G/LTE alpha_u 438.39 mW/Mbps, beta 1288.04 mW; 3G "
        "868.98, 817.88; WiFi 283.17, 132.86) and the tail after a transfer (LTE "
        "1060.0 mW for 11.576 s, 3G 803.9 mW for 8.088 s, WiFi 119.3 mW for 0.238 s). "
        "Measured on a smartphone's radios (HTC ThunderBolt), not on a Raspberry Pi's "
        "modem; the values were transcribed from memory of the paper's tables and not "
        "re-checked against it when entered: approximate, check a digit before relying "
        "on it. The 3G tail is taken at one power for its whole length (the paper's 3G "
        "tail has two states); radio promotion from idle is not modeled"),
}

#: Sizes [float32 bytes] the shipped codec costs are fitted over: from a classifier's
#: output to a large early feature map.
CODEC_SIZES_BYTES: tuple[int, ...] = (4_000, 16_384, 36_864, 129_792, 259_584, 559_872,
                                      774_400, 1_605_632, 3_211_264)

#: The shipped edge devices that carry power and radio figures.
POWERED_DEVICES: tuple[str, ...] = ("rpi3b", "rpi3b-paperfit")


def _derivation(profile: Profile, device: str) -> tuple[float, bool] | None:
    """(factor, whether the factor is the one `device`'s layer times were derived from
    the host's by) for a device other than the host, or None."""
    prov = (profile.provenance or {}).get("devices", {}).get(device, {})
    if "scale_factor" in prov:
        return float(prov["scale_factor"]), True
    base = prov.get("base_device")
    if base is not None:  # a paper-fit device: its base device's codec costs
        return _derivation(profile, base)
    if "host" in profile.devices:  # measured on its own: a rough estimate
        return profile.whole_model_s(device) / profile.whole_model_s("host"), False
    return None


def attach_figures(profile: Profile, host_codecs: dict[str, Any]) -> Profile:
    """`profile` with power and radio figures on its Raspberry Pi devices and codec costs
    on every device: the host's `host_codecs` (measured); a device derived from the host
    by one factor, the host's costs times it; a paper-fit device, its base device's; a
    device measured on its own (a GPU), the host's times the ratio of its whole-model
    time to the host's, a rough estimate whose provenance says so."""
    from .codecs import scaled_codecs

    doc = profile.to_dict()
    for name, desc in doc["devices"].items():
        if name in POWERED_DEVICES:
            desc["power"] = dict(RPI3B_POWER)
            desc["radio"] = json.loads(json.dumps(RADIO))
        if name == "host":
            desc["codecs"] = host_codecs
            continue
        derived = _derivation(profile, name)
        if derived is None:
            continue
        factor, same_as_layers = derived
        codecs = scaled_codecs(host_codecs, factor, "host")
        if not same_as_layers:
            codecs["provenance"] = (
                f"rough estimate, not measured on this device: the host's codec times x "
                f"{factor:.6g}, the ratio of this device's whole-model time to the host's "
                f"(a GPU's casts are memory-bound, its layers are not); host: "
                f"{host_codecs['provenance']}")
        desc["codecs"] = codecs
    return Profile.from_dict(doc)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the host's codec costs once and attach the figures to every shipped
    profile in `--out-dir` (layer times untouched; each file written atomically)."""
    from splitgym.fileio import write_atomic

    from .codecs import measure_codecs
    from .schema import load_profile, shipped_profiles

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args(argv)
    host = measure_codecs(CODEC_SIZES_BYTES, "cpu", repeats=args.repeats)
    import datetime as dt

    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    host["provenance"] = (f"measured on this project's build machine on {day} (AMD EPYC, 2 "
                          f"cores, shared with other jobs while measuring); "
                          f"{host['provenance']}")
    for name in shipped_profiles():
        if name == "toy":
            continue
        p = attach_figures(load_profile(name), host)
        write_atomic(args.out_dir / f"{name}.json", json.dumps(p.to_dict(), indent=1) + "\n")
        print(f"{name}: figures attached")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
