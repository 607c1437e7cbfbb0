"""Results folders are written whole or not at all (``splitgym reproduce --out``)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from splitgym.experiments import reproduce as reproduce_mod
from splitgym.experiments.outdir import OutputError, atomic_output, owned_names

TINY = dict(seeds=[0], workers=1, progress=False, models=("alexnet",), frames_per_edge=2,
            edges=(1,), bandwidths=(1.1,))


@dataclass(frozen=True)
class _Done:
    out_dir: Path


def _writer(fail_after: int | None = None, exc: BaseException | None = None):
    """A toy writer of a.txt, b.txt, c.txt that raises `exc` after `fail_after` files."""

    @atomic_output("out_dir", owned=owned_names(r"[abc]\.txt$"))
    def write(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(("a.txt", "b.txt", "c.txt")):
            if i == fail_after:
                (out_dir / name).open("w").close()  # a 0-byte file, as on a full disk
                raise exc
            (out_dir / name).write_text("new")
        return _Done(out_dir)

    return write


def _old_results(out: Path) -> dict[str, str]:
    out.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "notes.md"):
        (out / name).write_text(f"old {name}")
    return {p.name: p.read_text() for p in out.iterdir()}


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left "
                                                                              "on device")])
def test_atomic_output__a_failure_while_writing_leaves_the_old_results(tmp_path, exc):
    out = tmp_path / "results"
    before = _old_results(out)
    with pytest.raises(type(exc) if isinstance(exc, KeyboardInterrupt) else OutputError):
        _writer(fail_after=1, exc=exc)(out)
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no partial folder


def test_atomic_output__a_finished_write_replaces_only_the_owned_files(tmp_path):
    out = tmp_path / "results"
    _old_results(out)
    (out / "z.txt").write_text("stale")
    done = _writer()(out)
    assert done.out_dir == out
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        "a.txt": "new", "b.txt": "new", "c.txt": "new", "notes.md": "old notes.md",
        "z.txt": "stale"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_atomic_output__full_disk_message_is_one_line(tmp_path):
    with pytest.raises(OutputError) as info:
        _writer(fail_after=2, exc=OSError(errno.ENOSPC, "No space left on device",
                                          "c.txt"))(tmp_path / "r")
    assert str(info.value) == (f"--out={str(tmp_path / 'r')!r}: writing the results failed "
                               f"(c.txt): No space left on device; the old results are "
                               f"untouched")
    assert not (tmp_path / "r").exists()


def _no_compute(*_a, **_k):
    raise AssertionError("computed before checking --out")


def test_reproduce__unwritable_out_fails_before_computing(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce_mod, "run", _no_compute)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"--out='.*file/res': '.*file' is not a folder"):
        reproduce_mod.reproduce(tmp_path / "file" / "res", **TINY)
    with pytest.raises(OutputError, match="exists and is not a folder"):
        reproduce_mod.reproduce(tmp_path / "file", **TINY)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions that bind (not root)")
def test_reproduce__read_only_parent_fails_before_computing(tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce_mod, "run", _no_compute)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"cannot write in .*nothing was computed"):
            reproduce_mod.reproduce(ro / "results", **TINY)
    finally:
        ro.chmod(0o700)


def test_reproduce__failure_while_writing_leaves_old_results_untouched(tmp_path,
                                                                        monkeypatch):
    out = tmp_path / "results"
    before = _old_results(out)
    real = reproduce_mod.figures.fig_lines

    def full_disk(*a, **k):
        real(*a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reproduce_mod.figures, "fig_lines", full_disk)
    with pytest.raises(OutputError, match="No space left on device; the old results are "
                                          "untouched"):
        reproduce_mod.reproduce(out, **TINY)
    assert {p.name: p.read_text() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    monkeypatch.setattr(reproduce_mod.figures, "fig_lines", real)
    rep = reproduce_mod.reproduce(out, **TINY)
    assert rep.out_dir == out and (out / "table1.csv").read_text().startswith("model,")
    assert (out / "notes.md").read_text() == "old notes.md"  # the user's own file stays
    assert (out / "a.txt").read_text() == "old a.txt"  # not a name reproduce writes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_cli_reproduce__unwritable_out_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "reproduce",
                          "--out", str(tmp_path / "file" / "res"), "--no-progress"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and "is not a folder" in res.stderr
