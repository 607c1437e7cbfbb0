"""``python -m splitgym.agents.convert --trust-agent IN OUT [--algo ALGO]``: add the
plain data splitgym loads (``splitgym.json``, ``.npy`` entries: the weights and
optimizer state too) to an SB3 model zip, or an older splitgym zip, that lacks it, every
original entry kept byte for byte. IN is *unpickled* here (SB3's own way, its ``.pth``
entries by ``torch.load``): run it only on a file you trust, once; OUT then loads
without any unpickler (`splitgym.agents.safe_load`).

Like every unpickling path in splitgym it runs only on an explicit opt-in
(``--trust-agent`` here, ``trust=True`` in Python, as for ``evaluate``/``train``);
without it the command refuses before it opens IN. This module is the package's only
unpickling code besides SB3's own loader behind the same flag: `safe_load` holds none."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from splitgym.fileio import write_atomic

from .safe_load import (
    _STATE_DICTS,
    AgentFileError,
    _serialized,
    algo_from_data,
    read_data,
    with_plain_data,
)

#: What the converter says when it was not told to trust its input.
NOT_TRUSTED = ("converting unpickles the file: pass --trust-agent (trust=True in "
               "Python) only for a file you trust")


def add_plain_data(src: str | Path, out: str | Path, algo: str, *,
                   trust: bool = False) -> None:
    """Write `src` (an SB3 zip, *unpickled* here: trust it) to `out` with the plain data
    added, every original entry kept byte for byte (the way the shipped agents were
    converted). Refused with `AgentFileError` unless ``trust=True``, before `src` is
    opened."""
    if trust is not True:
        raise AgentFileError(f"{str(src)!r}: {NOT_TRUSTED}")
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
                    "only for a file you trust, and only with --trust-agent).")
    ap.add_argument("--trust-agent", action="store_true",
                    help="required: IN is unpickled (SB3's own loader); only for a file "
                         "you trust")
    ap.add_argument("src", help="SB3 model zip (trusted)")
    ap.add_argument("out", help="zip to write, with splitgym.json added")
    ap.add_argument("--algo", choices=ALGO_NAMES, help="its algorithm (default: from the "
                    "policy class named in its data)")
    args = ap.parse_args(argv)
    if not args.trust_agent:
        ap.error(f"{args.src}: {NOT_TRUSTED}")
    algo = args.algo or algo_from_data(read_data(args.src))
    if algo is None:
        ap.error("cannot tell its algorithm: give --algo")
    add_plain_data(args.src, args.out, algo, trust=True)


if __name__ == "__main__":
    _main()
