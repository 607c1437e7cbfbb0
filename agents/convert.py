"""``python -m splitgym.agents.convert IN OUT [--algo ALGO]``: add the plain data
splitgym loads (``splitgym.json``, ``.npy`` entries: the weights and optimizer state
too) to an SB3 model zip, or an older splitgym zip, that lacks it, every original entry
kept byte for byte. IN is *unpickled* here (SB3's own way, its ``.pth`` entries by
``torch.load``): run it only on a file you trust, once; OUT then loads without any
unpickler (`splitgym.agents.safe_load`). This module is the package's only unpickling
code besides ``--trust-agent`` (SB3's own loader): `safe_load` holds none."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from splitgym.fileio import write_atomic

from .safe_load import _STATE_DICTS, _serialized, algo_from_data, read_data, with_plain_data


def add_plain_data(src: str | Path, out: str | Path, algo: str) -> None:
    """Write `src` (an SB3 zip, *unpickled* here: trust it) to `out` with the plain data
    added, every original entry kept byte for byte (the way the shipped agents were
    converted)."""
    import cloudpickle
    import torch

    blob = Path(src).read_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        data = json.loads(zf.read("data"))
        params = {name: _load_trusted_pth(zf.read(f"{name}.pth"), torch)
                  for name in _STATE_DICTS}
    objects = {k: cloudpickle.loads(base64.b64decode(v[":serialized:"]))
               for k, v in data.items() if _serialized(v)}
    write_atomic(out, with_plain_data(blob, objects, algo, params))


def _load_trusted_pth(blob: bytes, torch: Any) -> Any:
    """A ``.pth`` entry of a *trusted* file (the converter's only): torch's own reader."""
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


def _main(argv: list[str] | None = None) -> None:
    import argparse

    from .policy import ALGO_NAMES

    ap = argparse.ArgumentParser(
        prog="python -m splitgym.agents.convert",
        description="Add the plain data splitgym loads to an SB3 zip (IN is unpickled: "
                    "only for a file you trust).")
    ap.add_argument("src", help="SB3 model zip (trusted)")
    ap.add_argument("out", help="zip to write, with splitgym.json added")
    ap.add_argument("--algo", choices=ALGO_NAMES, help="its algorithm (default: from the "
                    "policy class named in its data)")
    args = ap.parse_args(argv)
    algo = args.algo or algo_from_data(read_data(args.src))
    if algo is None:
        ap.error("cannot tell its algorithm: give --algo")
    add_plain_data(args.src, args.out, algo)


if __name__ == "__main__":
    _main()
