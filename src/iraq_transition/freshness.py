"""Whether a build is up to date: the one rule that ``build`` (skip when nothing changed) and ``serve`` (build first
when stale) follow.

``build`` remembers, in the cache (:mod:`.store`), the fingerprint of its inputs (every entry under data/ and
seeds/ with its stat, and the code version) and of the output it wrote; while both are unchanged, the output is
what a build would write again, byte for byte. Inputs changed within :data:`.store.RACY_NS` of being looked at
have no fingerprint (their next change could keep their stat): a build from them is not remembered.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .store import RACY_NS, Store, Unreadable, code_version

BUILD_STAMP = "build"  # the key of the stamp in the cache's meta table


def tree_entries(top: Path) -> Iterator[tuple[str, os.stat_result | int]]:
    """Every entry under ``top`` with its stat (or the errno that stopped it), depth first in name order,
    links not followed; ``top`` itself as an error when it cannot be listed. No recursion: a tree of any depth."""
    stack = [iter([(str(top), None)])]
    while stack:
        for path, entry in stack[-1]:
            if entry is not None:
                try:
                    yield path, entry.stat(follow_symlinks=False)
                except OSError as error:
                    yield path, error.errno
                    continue
                if not entry.is_dir(follow_symlinks=False):
                    continue
            try:
                with os.scandir(path) as listing:
                    entries = sorted(listing, key=lambda entry: entry.name)
            except OSError as error:
                yield path, error.errno
                continue
            stack.append(iter([(entry.path, entry) for entry in entries]))
            break
        else:
            stack.pop()


def _tree_state(top: Path, digest) -> int:
    """Add the name and stat of every entry under ``top`` to ``digest``; return the newest mtime or ctime (ns)."""
    newest = 0
    for path, stat in tree_entries(top):
        if isinstance(stat, int):
            state = stat
        else:
            state = (stat.st_mode, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
            newest = max(newest, stat.st_mtime_ns, stat.st_ctime_ns)
        digest.update(f"{path}\0{state}\n".encode())
    return newest


def input_state(project) -> str | None:
    """Fingerprint of what a build reads: code version, and every entry under data/ and seeds/ with its stat.
    None when an input changed too recently for its stat to tell a further change."""
    digest = hashlib.sha256(code_version().encode())
    newest = max(_tree_state(project.data_dir, digest), _tree_state(project.seeds_dir, digest))
    return None if time.time_ns() - newest < RACY_NS else digest.hexdigest()


def _output_state(out: Path) -> str:
    digest = hashlib.sha256()
    _tree_state(out, digest)
    return digest.hexdigest()


def built_before(project, out: Path, inputs: str, cache_dir: Path | None = None) -> str | None:
    """The message of the build that wrote ``out`` from these very ``inputs``, if ``out`` is as it left it."""
    store = Store.open(project.root, cache_dir, lock=False)
    if store is None:
        return None
    try:
        stamp = json.loads(store.meta(BUILD_STAMP) or "null")
    except (Unreadable, ValueError):
        return None
    finally:
        store.close()
    if not isinstance(stamp, dict):
        return None
    out = os.path.abspath(out)
    if stamp.get("inputs") != inputs or stamp.get("out") != out or stamp.get("output") != _output_state(Path(out)):
        return None
    return f"up to date: nothing changed since the last build, which {stamp.get('message')}"


def remember_build(project, out: Path, inputs: str, message: str, cache_dir: Path | None = None) -> None:
    """Note that ``out`` was built from ``inputs``, for :func:`built_before`."""
    out = os.path.abspath(out)
    stamp = {"inputs": inputs, "out": out, "output": _output_state(Path(out)), "message": message}
    store = Store.open(project.root, cache_dir, lock=False)
    if store is not None:
        store.set_meta(BUILD_STAMP, json.dumps(stamp))
        store.close()


def is_up_to_date(project, out: Path, cache_dir: Path | None = None) -> bool:
    """Whether ``out`` holds what a build of ``project`` would write now (the rule of :func:`built_before`)."""
    inputs = input_state(project)
    return inputs is not None and built_before(project, out, inputs, cache_dir) is not None
