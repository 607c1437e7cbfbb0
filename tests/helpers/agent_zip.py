"""Copies of an SB3 agent zip with parts replaced: how the tests make crafted agent
files (a pickled payload, edited JSON, extra or swapped entries, lying sizes)."""

from __future__ import annotations

import base64
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle


def rewrite(src: Path, out: Path, data: Callable[[dict], Any] | None = None,
            plain: Callable[[dict], Any] | None = None,
            entries: dict[str, bytes | None] | None = None) -> Path:
    """Write `src` to `out` with its ``data`` JSON passed through `data` (edits it in
    place), its ``splitgym.json`` through `plain`, and the entries of `entries` replaced
    (bytes), removed (None) or added; return `out`."""
    entries = dict(entries or {})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            blob = zin.read(item)
            if item.filename in entries:
                blob = entries.pop(item.filename)
                if blob is None:
                    continue
            elif item.filename == "data" and data is not None:
                doc = json.loads(blob)
                data(doc)
                blob = json.dumps(doc).encode()
            elif item.filename == "splitgym.json" and plain is not None:
                doc = json.loads(blob)
                plain(doc)
                blob = json.dumps(doc).encode()
            zout.writestr(item, blob)
        for name, blob in entries.items():
            if blob is not None:
                zout.writestr(name, blob)
    return out


def with_serialized(src: Path, out: Path, entry: str, payload: Any, **text: Any) -> Path:
    """Write `src` to `out` with ``data[entry][":serialized:"]`` holding `payload`
    (cloudpickled) and the entry's plain-text fields updated by `text`; return `out`."""
    def edit(doc: dict) -> None:
        doc[entry][":serialized:"] = base64.b64encode(cloudpickle.dumps(payload)).decode()
        doc[entry].update(text)
    return rewrite(src, out, data=edit)


def without_plain(src: Path, out: Path) -> Path:
    """`src` as SB3 alone writes it: without splitgym's plain data."""
    with zipfile.ZipFile(src) as zin:
        extra = [n for n in zin.namelist() if n == "splitgym.json" or n.endswith(".npy")]
    return rewrite(src, out, entries=dict.fromkeys(extra))


def declare_size(path: Path, name: str, size: int) -> Path:
    """Make the zip at `path` declare `size` bytes (decompressed) for entry `name`, in
    its local header and its central directory, whatever it really holds."""
    blob = bytearray(path.read_bytes())
    raw = name.encode()
    for sig, off_size, off_name_len, head in ((b"PK\x03\x04", 22, 26, 30),
                                              (b"PK\x01\x02", 24, 28, 46)):
        at = 0
        while (at := blob.find(sig, at)) >= 0:
            n = struct.unpack_from("<H", blob, at + off_name_len)[0]
            if bytes(blob[at + head:at + head + n]) == raw:
                struct.pack_into("<I", blob, at + off_size, size)
            at += 4
    path.write_bytes(bytes(blob))
    return path
