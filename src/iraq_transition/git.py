"""Running git on the repository, so that no argument can be taken for one of git's options.

A revision given by a user is resolved once to a full commit id (``commit_id``) and only that id
is passed on; every call also puts ``--end-of-options`` before its revisions and paths.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .problems import UsageError


def _run(root: Path, args: tuple[str, ...], input: bytes | None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=root, input=input, capture_output=True, check=False)
    except OSError as error:
        raise UsageError(f"git is needed to read revisions, and it could not be run: {error}") from None


def _complaint(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
    return lines[0] if lines else f"exit status {done.returncode}"


def output(root: Path, *args: str, input: bytes | None = None) -> bytes:
    """Standard output of ``git ARGS`` run in ``root``; a UsageError with git's complaint if it fails."""
    done = _run(root, args, input)
    if done.returncode != 0:
        raise UsageError(f"git {args[0]} failed: {_complaint(done)}")
    return done.stdout


def commit_id(root: Path, revision: str) -> str:
    """The full id of the commit that ``revision`` names in the repository at ``root``; a
    UsageError naming the revision when it names none (or names an option: it is never one)."""
    done = _run(root, ("rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"), None)
    if done.returncode != 0:
        reason = _complaint(done) if done.stderr.strip() else "no such commit in the repository"
        raise UsageError(f"git cannot compare with {revision!r}: {reason}")
    return done.stdout.decode().strip()


def changed_files(root: Path, revision: str) -> set[str]:
    """Paths (relative to ``root``) changed since ``revision``, plus untracked files under data/ and
    seeds/. The revision is resolved to a commit first, so that it is never read as an option."""
    commit = commit_id(root, revision)
    listings = (
        output(root, "diff", "--name-only", "--relative", "-z", "--end-of-options", commit, "--"),
        output(root, "ls-files", "--others", "--exclude-standard", "-z", "--end-of-options", "--", "data", "seeds"),
    )
    return {path for listing in listings for path in os.fsdecode(listing).split("\0") if path}


def head_files(root: Path, directory: str) -> list[str] | None:
    """Paths (relative to ``root``) under ``directory`` in the commit HEAD of the git work tree holding ``root``:
    none before its first commit; None when ``root`` is in no git work tree, or git cannot be run."""
    try:
        inside = _run(root, ("rev-parse", "--is-inside-work-tree"), None)
    except UsageError:
        return None
    if inside.returncode != 0 or inside.stdout.strip() != b"true":
        return None
    if _run(root, ("rev-parse", "--verify", "--quiet", "HEAD^{commit}"), None).returncode != 0:
        return []  # no commit yet
    listing = output(root, "ls-tree", "-r", "-z", "--name-only", "--end-of-options", "HEAD", "--", directory)
    return [path for path in os.fsdecode(listing).split("\0") if path]
