"""Shared fixtures: the repository under test, a scratch copy of it, and the CLI run as a real process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
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


@pytest.fixture(autouse=True, scope="session")
def scratch_cache_home(tmp_path_factory):
    """Caches made by the tests, in this process and in the CLI processes it starts, go to a scratch directory:
    never the user's ~/.cache."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache-home"))
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture
def repo() -> Path:
    """The repository itself (read-only use)."""
    return REPO


def copy_repository(copy: Path) -> Path:
    """Copy the repository's records, seeds and generated files to ``copy`` (not built)."""
    copy.mkdir(parents=True, exist_ok=True)
    for name in ("data", "seeds", "schema"):
        shutil.copytree(REPO / name, copy / name)
    shutil.copy2(REPO / "datapackage.json", copy / "datapackage.json")
    return copy


def date_from_publication(root: Path) -> Path:
    """Have Singh's quote (the data marks its day editorial) cite 003's 'on Friday' for its date, whose year is then
    that of 003's publication; the quote's path."""
    quote = root / "data" / "quotes" / "singh-us-not-withdrawing-from-iraq.yaml"
    text = quote.read_text(encoding="utf-8")
    editorial = text[text.index("editorial:\n"):text.index("citations:\n")]
    quote.write_text(text.replace(editorial, "").replace("      - occasion\n", "      - occasion\n      - said\n", 1),
                     encoding="utf-8")
    return quote


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A scratch copy of the repository's data, seeds and generated files, safe to break."""
    return copy_repository(tmp_path / "repo")


@pytest.fixture
def cli():
    """The ``run_cli`` helper, as a fixture."""
    return run_cli


# --------------------------------------------------------------------------- a real server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    """``iraq-transition serve`` on a free port, as a separate process; returns it and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "iraq_transition", "--root", str(root), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_for(url: str, process: subprocess.Popen, attempts: int = 600) -> bytes:
    """The body at ``url`` once the server answers (polling; fails if the server dies first)."""
    for _ in range(attempts):
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.read()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no answer from {url}")
