"""Results folders that never take a user's file.

`atomic_output` wraps a function that writes a folder of results (``splitgym
reproduce --out X``). Before it computes anything:

- X is checked: a folder (made if missing) that takes new files; else an
  `OutputError` in one line. ``--out .`` is an ordinary folder.
- X's manifest (``.splitgym-manifest.json``: every file the command wrote there, with
  its SHA-256) is read, and every name the function may write is checked: a file of
  that name that the manifest does not list (the user's own, or one the user changed
  since splitgym wrote it) is refused by name, so nothing is computed that could not
  be written.
- Partial folders and temporaries left in X (or beside it, by older versions) by runs
  that were killed are removed (only those whose process is gone).

The function then writes into a fresh hidden folder inside X
(``X/.<X>.partial-<pid>-<random>``). When it returns, each file it wrote replaces its
namesake in X by one ``os.replace`` (X always exists and every file in it is always
whole: the old version or the new one), files the manifest lists that this run did
not write (results of an earlier, larger run) are removed, and the new manifest is
written; SIGINT and SIGTERM wait during these few renames. Files the manifest does
not list are never replaced, moved or removed. An interrupt, a full disk or any other
failure while computing or writing leaves X's old results as they were and removes
the partial folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from splitgym.fileio import fsync_dir, fsync_file, write_atomic

F = TypeVar("F", bound=Callable[..., Any])

#: The manifest of a results folder: what the project wrote there.
MANIFEST = ".splitgym-manifest.json"
#: A manifest larger than this is refused unread (one lists a few dozen files).
MAX_MANIFEST_BYTES = 2**20
_PARTIAL = re.compile(r"\..*\.partial-(\d+)-[0-9a-f]{8}")
#: `splitgym.fileio`'s temporaries, ``.<name>.tmp-<pid>-<8 hex><suffix>`` exactly (a
#: user's ``.draft-tmp-<n>-<hex>`` is not one).
_TMP = re.compile(r"\..+\.tmp-(\d+)-[0-9a-f]{8}(?:\.[^.]*)?")


class OutputError(OSError):
    """A results folder that cannot be written (checked before any work), or a write
    that failed (the old results are left untouched)."""


def check_writable(out: str | Path, flag: str = "--out") -> Path:
    """`out` made absolute, or an `OutputError` if results cannot be written there: it
    must be a folder or not exist, and it (or its nearest existing parent, where it
    does not exist yet) must take a new file."""
    given = str(out)
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{flag}={given!r}: exists and is not a folder")
    probe_in = out
    while not probe_in.exists():
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise OutputError(f"{flag}={given!r}: {str(probe_in)!r} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".splitgym-probe-", dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{flag}={given!r}: cannot write in {str(probe_in)!r} "
                          f"({exc.strerror or exc}); nothing was computed") from None
    return out


def check_file_writable(path: str | Path, flag: str) -> Path:
    """For an output file (``evaluate --csv``): `path`, or an `OutputError` before any
    computing if it cannot be written (a folder there, or its folder takes no file)."""
    given = str(path)
    path = Path(path).absolute()
    if path.is_dir():
        raise OutputError(f"{flag}={given!r}: is a folder; expected a file name")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{flag}={given!r}: {str(folder)!r} is not a folder; nothing "
                          f"was computed")
    try:
        check_writable(folder, flag)
    except OutputError as exc:
        raise OutputError(f"{flag}={given!r}: {str(exc).split(': ', 1)[1]}") from None
    return Path(given)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(out: Path, flag: str = "--out") -> dict[str, list[str]]:
    """The files the project wrote in `out`: name -> the SHA-256s it may have (one;
    two while a commit is under way). ``{}`` without a manifest."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"over {MAX_MANIFEST_BYTES} bytes")
        files = json.loads(path.read_text())["files"]
        if not (isinstance(files, dict) and all(
                isinstance(k, str) and isinstance(v, list) and all(isinstance(h, str)
                                                                   for h in v)
                for k, v in files.items())):
            raise ValueError("files is not a mapping of names to hashes")
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise OutputError(f"{flag}={str(out)!r}: its manifest {MANIFEST} is unreadable "
                          f"({exc}); remove it (splitgym then writes only names no file "
                          f"has)") from None
    return {k: list(v) for k, v in files.items() if _plain_name(k)}


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..", MANIFEST) and "/" not in name and "\\" not in name


def _write_manifest(out: Path, files: Mapping[str, list[str]], writer: str) -> None:
    write_atomic(out / MANIFEST, json.dumps(
        {"written_by": writer, "note": "the files splitgym wrote here; it replaces or "
         "removes only these (and only while unchanged)", "files": dict(sorted(
             files.items()))}, indent=1) + "\n")


def _ours(out: Path, name: str, manifest: Mapping[str, list[str]]) -> bool | None:
    """None if `out/name` does not exist; else whether it is the file the project
    wrote (listed, and unchanged since)."""
    path = out / name
    if not os.path.lexists(path):
        return None
    if name not in manifest or path.is_symlink() or not path.is_file():
        return False
    return sha256_file(path) in manifest[name]


def check_names(out: Path, names: Iterable[str], manifest: Mapping[str, list[str]],
                flag: str = "--out", when: str = "nothing was computed") -> None:
    """Refuse if any of `names` is a file in `out` the project did not write."""
    theirs = sorted(n for n in set(names) if _ours(out, n, manifest) is False)
    if theirs:
        shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5
                                         else "")
        raise OutputError(f"{flag}={str(out)!r}: {shown} exist(s) there and {MANIFEST} "
                          f"does not list them as written by splitgym (or they changed "
                          f"since); they are left alone: move them or choose another "
                          f"{flag}; {when}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists
        return True
    return True


def clean_stale(out: Path) -> list[Path]:
    """Remove the partial folders and temporaries of killed runs in `out` (and the
    ``.<out>.partial-*`` folders older versions left beside it); returns them."""
    removed = []
    places = [(out, _PARTIAL), (out, _TMP)]
    if out.parent != out:
        places.append((out.parent, re.compile(re.escape(f".{out.name}.partial-")
                                              + r"(\d+)-[0-9a-f]{8}")))
    for folder, rx in places:
        try:
            items = list(folder.iterdir())
        except OSError:
            continue
        for item in items:
            m = rx.fullmatch(item.name)
            if m is None or _pid_alive(int(m.group(1))):
                continue
            with contextlib.suppress(OSError):
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item)
                else:
                    item.unlink()
                removed.append(item)
    return removed


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (POSIX, main thread)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def commit(staging: Path, out: Path, writer: str, flag: str = "--out") -> list[str]:
    """Move the files of the finished folder `staging` into `out`, one atomic replace
    each, under the manifest's rules (see the module); returns the names written."""
    staged = sorted(p.name for p in staging.iterdir())
    bad = [n for n in staged if not _plain_name(n) or not (staging / n).is_file()
           or (staging / n).is_symlink()]
    if bad:
        raise OutputError(f"{flag}={str(out)!r}: the writer left {bad[0]!r}, not a plain "
                          f"file; only files are written")
    with _folder_locked(out):
        return _commit(staging, out, writer, flag, staged)


@contextlib.contextmanager
def _folder_locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder itself (no lock file is left in it), so that
    two runs writing the same folder commit one after the other, each against the
    manifest the other left."""
    try:
        import fcntl

        fd = os.open(out, os.O_RDONLY)
    except (ImportError, OSError):  # pragma: no cover - not POSIX
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _commit(staging: Path, out: Path, writer: str, flag: str, staged: list[str]) -> list[str]:
    old = read_manifest(out, flag)
    check_names(out, staged, old, flag, "the new results were not written")
    hashes = {}
    for name in staged:
        fsync_file(staging / name)
        hashes[name] = sha256_file(staging / name)
    with _signals_held():
        # the manifest first lists both versions, so that a kill in between leaves
        # every file the project wrote listed (and the next run free to replace it)
        during = {k: list(v) for k, v in old.items()}
        for name, h in hashes.items():
            during[name] = during.get(name, []) + [h]
        _write_manifest(out, during, writer)
        for name in staged:
            os.replace(staging / name, out / name)
        fsync_dir(out)
        for name in sorted(set(old) - set(hashes)):
            if _ours(out, name, old):  # an earlier run's, unchanged: stale now
                with contextlib.suppress(OSError):
                    os.unlink(out / name)
        _write_manifest(out, {n: [h] for n, h in hashes.items()}, writer)
    return staged


def check_outputs(out: str | Path, names: Iterable[str], flag: str = "--out") -> Path:
    """For a command that writes `names` into folder `out` itself (``splitgym sweep``):
    `out` made absolute, or an `OutputError` before any computing if it cannot be
    written or one of `names` there is a file the project did not write (see
    `check_names`)."""
    path = check_writable(out, flag)
    if path.is_dir():
        check_names(path, names, read_manifest(path, flag), flag)
    return path


def record_outputs(out: Path, names: Iterable[str], writer: str, flag: str = "--out") -> None:
    """Add the files `names` just written in `out` (each through `write_atomic`) to its
    manifest, so that the next run may replace them."""
    with _folder_locked(out):
        files = read_manifest(out, flag)
        for name in names:
            files[name] = [sha256_file(out / name)]
        _write_manifest(out, files, writer)


def atomic_output(arg: str = "out_dir",
                  names: Callable[[Mapping[str, Any]], Iterable[str]] | Iterable[str] = (),
                  flag: str = "--out", writer: str = "splitgym") -> Callable[[F], F]:
    """Decorate a function whose argument `arg` is the results folder: check the folder
    and the `names` the function may write (a list, or a function of its bound
    arguments) before the call, hand the function a fresh partial folder inside it,
    commit its files when it returns (a returned dataclass's `arg` field is set back to
    the folder). The function writes plain files only, no subfolders."""

    def wrap(func: F) -> F:
        sig = inspect.signature(func)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            given = bound.arguments[arg]
            out = check_writable(given, flag)
            expected = list(names(bound.arguments) if callable(names) else names)
            made = not out.exists()
            try:
                out.mkdir(parents=True, exist_ok=True)
                clean_stale(out)
                check_names(out, expected, read_manifest(out, flag), flag)
            except OSError as exc:
                if made:
                    with contextlib.suppress(OSError):
                        out.rmdir()
                if isinstance(exc, OutputError):
                    raise
                raise OutputError(f"{flag}={str(given)!r}: {exc.strerror or exc}; "
                                  f"nothing was computed") from None
            staging = out / f".{out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                staging.mkdir()
                bound.arguments[arg] = staging
                result = func(*bound.args, **bound.kwargs)
                commit(staging, out, writer, flag)
            except BaseException as exc:
                shutil.rmtree(staging, ignore_errors=True)
                if made:
                    with contextlib.suppress(OSError):
                        out.rmdir()  # only if still empty
                if isinstance(exc, OutputError) or not isinstance(exc, OSError):
                    raise
                where = f" ({Path(str(exc.filename)).name})" if exc.filename else ""
                raise OutputError(f"{flag}={str(given)!r}: writing the results failed"
                                  f"{where}: {exc.strerror or exc}; the old results are "
                                  f"untouched") from exc
            shutil.rmtree(staging, ignore_errors=True)
            if dataclasses.is_dataclass(result) and hasattr(result, arg):
                result = dataclasses.replace(result, **{arg: Path(given)})
            return result

        return run  # type: ignore[return-value]

    return wrap
