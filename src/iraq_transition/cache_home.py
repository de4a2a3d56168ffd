"""Where the cache of a repository lives: in the user's cache directory, outside every work tree, and only if it is
the user's own (nothing a pull request commits, or another user writes, can be taken for a cache)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from stat import S_ISREG

from .problems import UsageError

CACHE_HOME = "iraq-transition"  # the directory of the caches of every repository, in the user's cache directory


def owned(directory: Path, path: Path) -> bool:
    """Whether a cache can be trusted: its directory and database (if there is one yet) are the user's, writable by
    nobody else, and the database is a plain file (never a link, which could lead into a work tree)."""
    try:
        stats = [os.stat(directory, follow_symlinks=False)]
        if os.path.lexists(path):
            stats.append(os.stat(path, follow_symlinks=False))
            if not S_ISREG(stats[-1].st_mode):
                return False
    except OSError:
        return False
    return all(stat.st_uid == os.getuid() and not stat.st_mode & 0o022 for stat in stats)


def cache_directory(root: Path, override: Path | None = None) -> Path | None:
    """Where the cache of the repository at ``root`` is: ``override`` (``--cache-dir``), else
    ``$XDG_CACHE_HOME/iraq-transition/`` (else ``~/.cache/iraq-transition/``), then the first 16 hex digits of the
    SHA-256 of the repository's real path. Never inside the repository (a ``$XDG_CACHE_HOME`` there is passed over,
    as files a pull request committed could be taken for a cache); None when there is no home to put it in."""
    if override is not None:
        override = Path(os.path.abspath(override))
        if _inside(override, root):
            raise UsageError(f"--cache-dir {override} is inside the repository: the cache must live outside the work "
                             "tree (nothing in it may be taken for a cache); choose a directory elsewhere")
        return override
    key = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:16]
    base = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(base) and not _inside(Path(base), root):  # unset, empty or relative: ignored, as XDG says
        return Path(base, CACHE_HOME, key)
    try:
        base = os.path.join(Path.home(), ".cache")
    except (KeyError, RuntimeError):
        return None
    return None if _inside(Path(base), root) else Path(base, CACHE_HOME, key)


def _inside(path: Path, root: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
