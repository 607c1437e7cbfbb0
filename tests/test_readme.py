"""Every Python snippet of the README runs as it stands (self-contained, in an empty
folder, in a fresh interpreter), and where the README shows its output (a ``text``
block right after it), prints exactly that."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def snippets() -> list[tuple[str, str | None]]:
    """(code, the output the README shows for it, or None) of every python block."""
    found = re.findall(r"```(\w*)\n(.*?)```(?:\n\n```text\n(.*?)```)?", README.read_text(),
                       flags=re.S)
    return [(code, out or None) for lang, code, out in found if lang == "python"]


def test_readme__has_snippets_and_shows_the_output_of_some():
    found = snippets()
    assert len(found) >= 5 and sum(out is not None for _, out in found) >= 2


@pytest.mark.parametrize("index", range(len(snippets())))
def test_readme__snippet_runs_alone_and_prints_what_the_readme_says(index, tmp_path):
    code, shown = snippets()[index]
    env = dict(os.environ, OMP_NUM_THREADS="1")  # one torch thread: the same numbers
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    if shown is not None:
        assert res.stdout == shown, res.stdout
