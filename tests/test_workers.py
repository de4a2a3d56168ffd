"""A run's worker processes: one killed ends the run with a clean message, and a killed run leaves none behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_scale import synthesize

pytestmark = pytest.mark.skipif(sys.platform != "linux" or (os.cpu_count() or 1) < 2, reason="workers: Linux, 2 cores")


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    """A repository large enough that validation starts workers."""
    root = tmp_path_factory.mktemp("many") / "repo"
    assert synthesize(root, records=4000).returncode == 0
    return root


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie waiting for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started(root: Path) -> tuple[subprocess.Popen, list[int]]:
    """A cold validation of ``root``, once its workers are running."""
    run = subprocess.Popen([sys.executable, "-m", "iraq_transition", "--root", root, "validate", "--no-cache"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if len(workers := children(run.pid)) >= 2 or run.poll() is not None:
            return run, workers
        time.sleep(0.01)
    return run, []


def test_a_killed_worker_ends_the_run_with_a_clean_message(many):
    run, workers = started(many)
    if not workers:
        run.wait()
        pytest.skip("the run ended before its workers could be seen")
    os.kill(workers[0], signal.SIGKILL)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2, err
    assert "a worker process was killed" in err and "Traceback" not in err and "internal error" not in err


def test_a_killed_run_leaves_no_worker_behind(many):
    run, workers = started(many)
    if not workers:
        run.wait()
        pytest.skip("the run ended before its workers could be seen")
    run.kill()
    run.wait()
    for _ in range(500):
        alive = [pid for pid in workers if running(pid)]
        if not alive:
            break
        time.sleep(0.01)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)  # leave the machine as it was
    assert not alive, "workers outlived the run that forked them"
