"""Results folders that are written whole or not at all.

`atomic_output` wraps a function that writes a folder of results: before it computes
anything the folder is checked writable (a refusal is an `OutputError` in one line);
the function then writes into a fresh folder beside the target
(``.<name>.partial-<pid>-<random>``), which replaces the target in two renames at the
end, with SIGINT/SIGTERM held off between them. An interrupt, a full disk or any other
failure while writing leaves the old results exactly as they were and removes the
partial folder. Files in the old folder that the writer does not own (`owned`) are
carried over as hard links, so a user's own notes there survive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import re
import secrets
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class OutputError(OSError):
    """A results folder that cannot be written (checked before any work), or a write
    that failed (the old results are left untouched)."""


def check_writable(out: str | Path, flag: str = "--out") -> Path:
    """`out` resolved, or an `OutputError` if a folder cannot be made there: it must be
    a folder or not exist, and its nearest existing parent must take a new folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{flag}={str(out)!r}: exists and is not a folder")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{flag}={str(out)!r}: {str(parent)!r} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=parent)
        os.rmdir(probe)
    except OSError as exc:
        raise OutputError(f"{flag}={str(out)!r}: cannot write in {str(parent)!r} "
                          f"({exc.strerror or exc}); nothing was computed") from None
    return out


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


def _carry_over(old: Path, staging: Path, owned: Callable[[str], bool]) -> None:
    for item in old.iterdir():
        if owned(item.name) or (staging / item.name).exists() or \
                item.name.startswith(f".{old.name}."):
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.copytree(item, staging / item.name, symlinks=True, copy_function=os.link)
        elif item.is_symlink():
            os.symlink(os.readlink(item), staging / item.name)
        else:
            os.link(item, staging / item.name)


def commit(staging: Path, out: Path, owned: Callable[[str], bool]) -> None:
    """Put the finished folder `staging` in place of `out`."""
    if not out.exists():
        os.rename(staging, out)
        return
    _carry_over(out, staging, owned)
    old = out.with_name(f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    with _signals_held():
        os.rename(out, old)
        try:
            os.rename(staging, out)
        except OSError:
            os.rename(old, out)
            raise
    shutil.rmtree(old, ignore_errors=True)


def atomic_output(arg: str = "out_dir", owned: Callable[[str], bool] = lambda _: True,
                  flag: str = "--out") -> Callable[[F], F]:
    """Decorate a function whose argument `arg` is the results folder: check it before
    the call, hand the function a partial folder beside it, put that in place when the
    function returns (a returned dataclass's `arg` field is set back to the folder)."""

    def wrap(func: F) -> F:
        sig = inspect.signature(func)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            out = check_writable(bound.arguments[arg], flag)
            staging = out.absolute().parent / (f".{out.name}.partial-{os.getpid()}-"
                                               f"{secrets.token_hex(4)}")
            bound.arguments[arg] = staging
            try:
                result = func(*bound.args, **bound.kwargs)
                commit(staging, out, owned)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                if isinstance(exc, OutputError):
                    raise
                where = f" ({Path(str(exc.filename)).name})" if exc.filename else ""
                raise OutputError(f"{flag}={str(out)!r}: writing the results failed{where}: "
                                  f"{exc.strerror or exc}; the old results are "
                                  f"untouched") from exc
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if dataclasses.is_dataclass(result) and hasattr(result, arg):
                result = dataclasses.replace(result, **{arg: out})
            return result

        return run  # type: ignore[return-value]

    return wrap


def owned_names(pattern: str) -> Callable[[str], bool]:
    """A predicate for `atomic_output`'s `owned`: names matching `pattern`."""
    rx = re.compile(pattern)
    return lambda name: rx.match(name) is not None
