"""Caches that make repeated runs fast without changing what they produce.

Records: a cache of checked record files, so that a run parses and validates only what changed.

It lives in ``.cache/`` under the repository root (gitignored). An entry is the outcome of
checking one record file (``validate.check_file``), stored pickled, under the file's path: the
record, and apart from it the summary the cross-record checks read (so that they need not
unpickle records), with the outcome of its citations' lookups and the source texts it held for. It
is used only while the file holds the same bytes: size, mtime_ns and inode are compared first
(a fast path, like git's index); when they differ, the SHA-256 of the bytes decides. And only
by the same code: the cache file's name carries :func:`code_version`, a hash of
``models.SCHEMA_VERSION``, the package version and the package's source files, so a change to
any of them starts a new cache. The cache never changes results, only how fast they come.

Builds: ``build`` remembers the fingerprint of its inputs (every entry under data/ and seeds/ with
its stat, and the code version) and of the output it wrote; when both are unchanged, the output
is what a build would write again, byte for byte, and the build is skipped.

Files changed within :data:`RACY_NS` of being looked at are not trusted by their stat (their next
change could keep size and mtime, as in git's "racy clean" problem): they are hashed next time,
and a build with such inputs is not remembered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from . import __version__, models

CACHE_DIR = ".cache"
PREFIX = "records-"  # then the code version
BUILD_STAMP = "build.json"
RACY_NS = 2_000_000_000

Stat = tuple[int, int, int]
"""size, mtime_ns, inode of a file."""


@cache
def _source_hash() -> str:
    """A hash of the package's source files (read once per process)."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version() -> str:
    """What cached results depend on besides the files: schema version, package version, package code."""
    key = f"{models.SCHEMA_VERSION}\0{__version__}\0{_source_hash()}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def file_stat(path: Path) -> Stat | None:
    """The stat of ``path``, or None if it cannot be had or the file changed too recently to trust it."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if time.time_ns() - stat.st_mtime_ns < RACY_NS:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` through a temporary file and a rename; a cache that cannot be written only costs time."""
    try:
        path.parent.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as file:
            try:
                file.write(data)
            except OSError:
                os.unlink(file.name)
                raise
        os.replace(file.name, path)
    except OSError:
        pass


@dataclass
class Entry:
    stat: Stat | None
    digest: str  # SHA-256 of the file's bytes, in hex
    result: bytes  # the pickled record (or None)
    summary: bytes  # the pickled summary (validate.Summary)


MAGIC = b"iraq-transition record cache 2\n"
_HEADER = struct.Struct("<HqqQ32sII")
"""Before each entry's key, result and summary: key length, size, mtime_ns (-1: no stat), inode, SHA-256,
result length, summary length."""


class RecordCache:
    """The entries of one code version, read from ``.cache/`` and written back entry by entry."""

    def __init__(self, root: Path):
        self.directory = root / CACHE_DIR
        self.path = self.directory / f"{PREFIX}{code_version()}.bin"
        try:
            self.entries = _read_entries(self.path)
        except Exception:  # missing, unreadable or truncated: start afresh
            self.entries = {}

    def unchanged(self, key: str, stat: Stat | None) -> Entry | None:
        """The entry of ``key`` if the file's stat is what it was (then its bytes are taken to be too)."""
        entry = self.entries.get(key)
        return entry if entry is not None and stat is not None and entry.stat == stat else None

    def digest(self, key: str) -> str | None:
        entry = self.entries.get(key)
        return entry.digest if entry else None

    @contextlib.contextmanager
    def writer(self) -> Iterator[Callable[[str, Entry], None]]:
        """``add(key, entry)`` for every entry of a new cache file, which replaces the old one (and the caches
        of other code versions) when the block ends without error. Writing is best effort: a cache that
        cannot be written only costs time."""
        try:
            self.directory.mkdir(exist_ok=True)
            file = tempfile.NamedTemporaryFile(dir=self.directory, prefix=".tmp-", delete=False)
        except OSError:
            yield lambda key, entry: None
            return
        failed = False

        def add(key: str, entry: Entry) -> None:
            nonlocal failed
            if failed:
                return
            stat = entry.stat or (0, -1, 0)
            name = key.encode()
            try:
                file.write(_HEADER.pack(len(name), *stat, bytes.fromhex(entry.digest), len(entry.result),
                                        len(entry.summary)))
                file.write(name)
                file.write(entry.result)
                file.write(entry.summary)
            except OSError:
                failed = True

        try:
            with file:
                file.write(MAGIC)
                yield add
        except BaseException:
            failed = True
            raise
        finally:
            try:
                if failed:
                    os.unlink(file.name)
                else:
                    os.replace(file.name, self.path)
                    for other in self.directory.glob(f"{PREFIX}*"):
                        if other != self.path:
                            other.unlink(missing_ok=True)
            except OSError:
                pass


def _read_entries(path: Path) -> dict[str, Entry]:
    entries = {}
    with open(path, "rb") as file:
        if file.read(len(MAGIC)) != MAGIC:
            return {}
        while header := file.read(_HEADER.size):
            name_length, size, mtime_ns, inode, digest, length, summary_length = _HEADER.unpack(header)
            key = file.read(name_length).decode()
            result = file.read(length)
            summary = file.read(summary_length)
            if len(result) != length or len(summary) != summary_length:
                return {}
            entries[key] = Entry(None if mtime_ns < 0 else (size, mtime_ns, inode), digest.hex(), result, summary)
    return entries


# --------------------------------------------------------------------------- builds


def _tree_state(top: Path, digest) -> int:
    """Add the name and stat of every entry under ``top`` to ``digest``; return the newest mtime_ns."""
    try:
        entries = sorted(os.scandir(top), key=lambda entry: entry.name)
    except OSError as error:
        digest.update(f"{top}\0{error.errno}\n".encode())
        return 0
    newest = 0
    for entry in entries:
        try:
            stat = entry.stat()
            state = (stat.st_mode, stat.st_size, stat.st_mtime_ns, stat.st_ino)
            newest = max(newest, stat.st_mtime_ns)
        except OSError as error:
            state = error.errno
        digest.update(f"{entry.path}\0{state}\n".encode())
        if entry.is_dir(follow_symlinks=False):
            newest = max(newest, _tree_state(Path(entry.path), digest))
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


def built_before(project, out: Path, inputs: str) -> str | None:
    """The message of the build that wrote ``out`` from these very ``inputs``, if ``out`` is as it left it."""
    try:
        stamp = json.loads((project.root / CACHE_DIR / BUILD_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    out = os.path.abspath(out)
    if stamp.get("inputs") != inputs or stamp.get("out") != out or stamp.get("output") != _output_state(Path(out)):
        return None
    return f"{out} is up to date: nothing changed since it was {stamp.get('message')}"


def remember_build(project, out: Path, inputs: str, message: str) -> None:
    """Note that ``out`` was built from ``inputs``, for :func:`built_before`."""
    out = os.path.abspath(out)
    stamp = {"inputs": inputs, "out": out, "output": _output_state(Path(out)), "message": message}
    _write_atomically(project.root / CACHE_DIR / BUILD_STAMP, json.dumps(stamp).encode())
