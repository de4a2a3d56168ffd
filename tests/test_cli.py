"""The command itself: usage errors and behaviour in a shell pipeline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_closed_pipe_ends_quietly(repo_copy: Path):
    # Enough errors to overflow the pipe after `head` has gone away.
    for number in range(3000):
        (repo_copy / "data" / "events" / f"broken-{number}.yaml").write_text("id: [\n", encoding="utf-8")
    pipeline = f"{sys.executable} -m iraq_transition --root {repo_copy} validate --no-cache | head -n 1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], capture_output=True, text=True, timeout=300)
    assert result.stdout.startswith("data/events/broken-")
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.returncode == 141  # the shell's convention for a closed pipe


def test_root_that_is_not_a_directory_is_a_usage_error(cli, tmp_path: Path):
    result = cli("--root", tmp_path / "missing", "validate")
    assert result.code == 2
    assert "not a directory" in result.err


def test_unknown_command_is_a_usage_error(cli):
    result = cli("publish")
    assert result.code == 2
    assert "invalid choice" in result.err
