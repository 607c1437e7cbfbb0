"""Every file splitgym writes is written whole or not at all.

`write_atomic` (text or bytes) and `atomic_target` (for writers that take a path:
``savefig``, ``model.save``, a CSV writer) write to a temporary file beside the target
(``.<name>.tmp-<pid>-<random>.<suffix>``), flush and ``fsync`` it, then ``os.replace`` it over
the target and ``fsync`` the folder. A kill, a full disk or an exception at any point
leaves either the old file or the new one, never a truncated mix; the temporary file
is removed on any failure. (A temporary left by ``kill -9`` starts with a dot and is
never mistaken for a result.)
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def _tmp_name(path: Path) -> Path:
    """``.<name>.tmp-<pid>-<random><suffix>``: the same suffix as `path` (writers that
    pick a format by it still do), none where `path` has none."""
    tag = f"tmp-{os.getpid()}-{secrets.token_hex(4)}"
    if path.suffix:
        return path.with_name(f".{path.name}.{tag}{path.suffix}")
    return path.with_name(f".{path.name}-{tag}")


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make the renames in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a finished file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; when the block ends without an
    exception it is fsync'ed and renamed over `path` (the folder fsync'ed too), else
    removed. The temporary keeps `path`'s suffix, so writers that choose a format by
    it (``savefig``) still do."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_atomic(path: str | os.PathLike[str], data: str | bytes,
                 encoding: str = "utf-8") -> Path:
    """Write `data` (text or bytes) to `path` atomically; returns `path`."""
    path = Path(path)
    raw = data.encode(encoding) if isinstance(data, str) else bytes(data)
    with atomic_target(path) as tmp:
        with open(tmp, "xb") as fh:
            fh.write(raw)
    return path
