"""Results folders are written file by file, atomically, and never take a user's file
(``splitgym reproduce --out``)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from splitgym.experiments import reproduce as reproduce_mod
from splitgym.experiments.outdir import (
    MANIFEST,
    OutputError,
    atomic_output,
    read_manifest,
    sha256_file,
)

TINY = dict(seeds=[0], workers=1, progress=False, models=("alexnet",), frames_per_edge=2,
            edges=(1,), bandwidths=(1.1,))


@dataclass(frozen=True)
class _Done:
    out_dir: Path


def _writer(fail_after: int | None = None, exc: BaseException | None = None,
            files=("a.txt", "b.txt", "c.txt"), text="new"):
    """A toy writer of `files` that raises `exc` after `fail_after` files."""

    @atomic_output("out_dir", names=("a.txt", "b.txt", "c.txt"))
    def write(out_dir):
        assert out_dir.is_dir()
        for i, name in enumerate(files):
            if i == fail_after:
                (out_dir / name).open("w").close()  # a 0-byte file, as on a full disk
                raise exc
            (out_dir / name).write_text(text)
        return _Done(out_dir)

    return write


def _old_results(out: Path) -> dict[str, str]:
    """A folder of a.txt, b.txt, c.txt written by a previous run, and the user's own
    notes.md; its files' contents by name."""
    _writer(text="old")(out)
    (out / "notes.md").write_text("old notes.md")
    return _contents(out)


def _contents(out: Path) -> dict[str, str]:
    return {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left "
                                                                              "on device")])
def test_atomic_output__a_failure_while_writing_leaves_the_old_results(tmp_path, exc):
    out = tmp_path / "results"
    before = _old_results(out)
    with pytest.raises(type(exc) if isinstance(exc, KeyboardInterrupt) else OutputError):
        _writer(fail_after=1, exc=exc)(out)
    assert _contents(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no partial folder


def test_atomic_output__a_finished_write_replaces_only_the_files_it_wrote(tmp_path):
    out = tmp_path / "results"
    _old_results(out)
    (out / "z.txt").write_text("the user's")
    done = _writer(files=("a.txt", "b.txt"))(out)  # c.txt: an earlier run's, now stale
    assert done.out_dir == out
    assert _contents(out) == {"a.txt": b"new", "b.txt": b"new", "notes.md": b"old notes.md",
                              "z.txt": b"the user's", MANIFEST: (out / MANIFEST).read_bytes()}
    assert sorted(read_manifest(out)) == ["a.txt", "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_atomic_output__a_users_file_of_a_name_it_writes_is_refused_before_computing(
        tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "b.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"b\.txt exist\(s\) there and "
                                          r"\.splitgym-manifest\.json does not list them"):
        _writer(exc=AssertionError("computed"), fail_after=0)(out)
    assert _contents(out) == {"b.txt": b"mine"}
    # a file splitgym wrote but the user edited since is the user's now
    _writer()(tmp_path / "r2")
    (tmp_path / "r2" / "a.txt").write_text("edited")
    with pytest.raises(OutputError, match=r"a\.txt exist\(s\)"):
        _writer()(tmp_path / "r2")
    assert (tmp_path / "r2" / "a.txt").read_text() == "edited"


def test_atomic_output__full_disk_message_is_one_line(tmp_path):
    with pytest.raises(OutputError) as info:
        _writer(fail_after=2, exc=OSError(errno.ENOSPC, "No space left on device",
                                          "c.txt"))(tmp_path / "r")
    assert str(info.value) == (f"--out={str(tmp_path / 'r')!r}: writing the results failed "
                               f"(c.txt): No space left on device; the old results are "
                               f"untouched")
    assert not (tmp_path / "r").exists()


def test_atomic_output__stale_partials_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "results"
    _old_results(out)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (out / f".results.partial-{dead}-0123abcd").mkdir()
    (out / f".a.txt.tmp-{dead}-0123abcd.txt").write_text("half")
    (out / f".draft-tmp-{dead}-deadbeef").write_text("mine")  # a user's, not ours: kept
    (tmp_path / f".results.partial-{dead}-89abcdef").mkdir()  # an older version's
    alive = out / f".results.partial-{os.getpid()}-00000000"  # a running one's: kept
    alive.mkdir()
    _writer()(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MANIFEST, "a.txt", "b.txt", "c.txt", "notes.md", alive.name,
         f".draft-tmp-{dead}-deadbeef"])


def test_atomic_output__the_folder_always_exists_and_each_file_is_whole(tmp_path,
                                                                         monkeypatch):
    """During the commit, every rename leaves the folder there with whole files."""
    out = tmp_path / "results"
    _old_results(out)
    seen = []
    real = os.replace

    def watch(src, dst):
        real(src, dst)
        seen.append(sorted((p.name, p.read_text()) for p in out.iterdir() if p.is_file()
                           and p.name != MANIFEST))

    monkeypatch.setattr(os, "replace", watch)
    _writer()(out)
    assert seen and all(("notes.md", "old notes.md") in s for s in seen)
    assert all({t for n, t in s if n != "notes.md"} <= {"old", "new"} for s in seen)


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


#: The issue's example: a user's files whose names look like the results' (issue 20)
USER_FILES = ("README_notes.txt", "report_final.docx", "fig10_mine.png",
              "table9_budget.xlsx", "report.md.bak", "notes.md")


def test_reproduce__keeps_the_users_files_and_a_failure_leaves_old_results(tmp_path,
                                                                           monkeypatch):
    out = tmp_path / "results"
    reproduce_mod.reproduce(out, **TINY)
    for name in USER_FILES:
        (out / name).write_text(f"the user's {name}")
    (out / "table1.md").write_text((out / "table1.md").read_text())  # unchanged: ours
    before = _contents(out)
    real = reproduce_mod.figures.fig_lines

    def full_disk(*a, **k):
        real(*a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reproduce_mod.figures, "fig_lines", full_disk)
    with pytest.raises(OutputError, match="No space left on device; the old results are "
                                          "untouched"):
        reproduce_mod.reproduce(out, **TINY)
    assert _contents(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    monkeypatch.setattr(reproduce_mod.figures, "fig_lines", real)
    rep = reproduce_mod.reproduce(out, **TINY)
    assert rep.out_dir == out and (out / "table1.csv").read_text().startswith("model,")
    for name in USER_FILES:
        assert (out / name).read_text() == f"the user's {name}"
    assert set(read_manifest(out)) == set(rep.files)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*USER_FILES, *rep.files, MANIFEST])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_reproduce__a_users_readme_is_refused_before_computing(tmp_path, monkeypatch):
    """``--out .`` in a project folder: its README.md is the user's."""
    monkeypatch.setattr(reproduce_mod, "run", _no_compute)
    (tmp_path / "README.md").write_text("my project")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match=r"--out='.*': README\.md exist\(s\) there .*"
                                          r"nothing was computed"):
        reproduce_mod.reproduce(".", **TINY)
    assert _contents(tmp_path) == {"README.md": b"my project"}
    monkeypatch.undo()  # the real computation, into the working folder itself
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").rename(tmp_path / "my_readme.md")
    rep = reproduce_mod.reproduce(".", **TINY)
    assert rep.out_dir == Path(".") and (tmp_path / "table1.csv").is_file()
    assert (tmp_path / "my_readme.md").read_text() == "my project"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*rep.files, MANIFEST, "my_readme.md"])


def test_cli_reproduce__unwritable_out_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    res = subprocess.run([sys.executable, "-m", "splitgym.experiments.cli", "reproduce",
                          "--out", str(tmp_path / "file" / "res"), "--no-progress"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and "is not a folder" in res.stderr


@pytest.mark.parametrize("flag", ["--csv", "--plot", "--timeline"])
def test_cli_evaluate__unwritable_output_file_fails_before_computing(tmp_path, monkeypatch,
                                                                     capsys, flag):
    """(Root writes into read-only folders, so the unwritable place is under a file.)"""
    from splitgym.experiments import cli
    from splitgym.experiments import evaluate as evaluate_mod

    monkeypatch.setattr(evaluate_mod, "evaluate_policies", _no_compute)
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "out.csv"
    assert cli.main(["evaluate", "--seeds", "1", "--no-progress", flag, str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{flag}='{target}'" in err and "is not a folder" in err
    assert cli.main(["evaluate", "--seeds", "1", "--no-progress", flag, str(tmp_path)]) == 2
    assert "is a folder; expected a file name" in capsys.readouterr().err


def test_write_atomic__a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from splitgym.fileio import atomic_target, write_atomic

    path = tmp_path / "validation.json"
    write_atomic(path, "old")
    with pytest.raises(RuntimeError), atomic_target(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]
    write_atomic(path, b"new")
    assert path.read_text() == "new" and sorted(tmp_path.iterdir()) == [path]


def test_atomic_output__a_run_killed_mid_commit_leaves_a_folder_the_next_run_takes(
        tmp_path, monkeypatch):
    """Killed between two file replaces: a mix of old and new files, every one of them
    still listed as splitgym's (both versions), so the next run replaces them all."""
    out = tmp_path / "results"
    _old_results(out)
    real, calls = os.replace, []

    def dies_second_time(src, dst):  # the second result file (not the manifest)
        if Path(dst).name != MANIFEST:
            calls.append(dst)
        if len(calls) == 2:
            raise SystemExit("killed")
        real(src, dst)

    monkeypatch.setattr(os, "replace", dies_second_time)
    with pytest.raises(SystemExit):
        _writer()(out)
    monkeypatch.setattr(os, "replace", real)
    assert (out / "a.txt").read_text() == "new" and (out / "b.txt").read_text() == "old"
    assert all(len(read_manifest(out)[n]) == 2 for n in ("a.txt", "b.txt", "c.txt"))
    _writer(text="newer")(out)
    assert {n: (out / n).read_text() for n in ("a.txt", "b.txt", "c.txt")} == dict.fromkeys(
        ("a.txt", "b.txt", "c.txt"), "newer")
    assert (out / "notes.md").read_text() == "old notes.md"


@pytest.mark.parametrize("manifest", [b"[" * 100_000 + b"]" * 100_000, b"{}",
                                      b'{"files": {"a.txt": "abc"}}', b"\xff"])
def test_atomic_output__a_crafted_manifest_is_one_named_error_and_nothing_is_removed(
        tmp_path, manifest):
    out = tmp_path / "results"
    _old_results(out)
    (out / MANIFEST).write_bytes(manifest)
    before = _contents(out)
    with pytest.raises(OutputError, match=r"its manifest \.splitgym-manifest\.json is "
                                          r"unreadable .*; remove it"):
        _writer()(out)
    assert _contents(out) == before


def test_atomic_output__a_manifest_cannot_name_files_outside_the_folder(tmp_path):
    out = tmp_path / "results"
    _writer()(out)
    victim = tmp_path / "victim.txt"
    victim.write_text("x")
    doc = json.loads((out / MANIFEST).read_text())
    doc["files"]["../victim.txt"] = [sha256_file(victim)]
    (out / MANIFEST).write_text(json.dumps(doc))
    _writer(files=("a.txt",))(out)
    assert victim.read_text() == "x" and sorted(read_manifest(out)) == ["a.txt"]
