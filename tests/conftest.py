"""Shared fixtures: the repository under test, a scratch copy of it, and the CLI run as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Completed:
    code: int
    out: str
    err: str


def run_cli(*args: str | os.PathLike, cwd: Path = REPO, timeout: float = 300) -> Completed:
    """Run ``iraq-transition ARGS`` as a separate process, the way a contributor would."""
    proc = subprocess.run(
        [sys.executable, "-m", "iraq_transition", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def repo() -> Path:
    """The repository itself (read-only use)."""
    return REPO


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A scratch copy of the repository's data, seeds and generated files, safe to break."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in ("data", "seeds", "schema"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, copy / name)
    for name in ("datapackage.json",):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, copy / name)
    return copy


@pytest.fixture
def cli():
    """The ``run_cli`` helper, as a fixture."""
    return run_cli
