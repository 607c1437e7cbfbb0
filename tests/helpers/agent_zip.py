"""A copy of an SB3 agent zip with one serialized entry of its ``data`` replaced: how
the tests make crafted agent files."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import cloudpickle


def with_serialized(src: Path, out: Path, entry: str, payload: Any, **text: Any) -> Path:
    """Write `src` to `out` with ``data[entry][":serialized:"]`` holding `payload`
    (cloudpickled) and the entry's plain-text fields updated by `text`; return `out`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            blob = zin.read(item)
            if item.filename == "data":
                doc = json.loads(blob)
                doc[entry][":serialized:"] = base64.b64encode(
                    cloudpickle.dumps(payload)).decode()
                doc[entry].update(text)
                blob = json.dumps(doc).encode()
            zout.writestr(item, blob)
    return out
