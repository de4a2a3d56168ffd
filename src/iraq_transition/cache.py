"""Caches that make repeated runs fast without changing what they produce.

They live outside the work tree, in :func:`cache_directory` (``$XDG_CACHE_HOME/iraq-transition/<key>``, else
``~/.cache/...``, one per repository): nothing a pull request commits can be taken for a cache. What is read
back is unpickled by :func:`loads`, which builds only plain data and the classes it is given, never calls
anything else; blobs carry a checksum. Any failure to read the cache is a cache miss.

Validation: :class:`Store`. A validation run
leaves there the state of its checks (see ``validate._State``): every record file with its stat and
SHA-256, its record (marshalled parsed data) and pickled summary in an append-only pack, and the
outcomes of the checks that span records. The next run checks again only the files whose bytes
changed (stat first, like git's index; when the stat differs, the SHA-256 decides) and repeats only
the cross-record checks whose outcome could differ. Everything is keyed by :func:`code_version`, a
hash of ``models.SCHEMA_VERSION``, the package version and the package's source files: a change to
any of them starts afresh. The cache never changes results, only how fast they come.

Builds: ``build`` remembers the fingerprint of its inputs (every entry under data/ and seeds/ with
its stat, and the code version) and of the output it wrote; when both are unchanged, the output
is what a build would write again, byte for byte, and the build is skipped.

Files changed within :data:`RACY_NS` of being looked at are not trusted by their stat (their next
change could keep size and mtime, as in git's "racy clean" problem): they are hashed next time,
and a build with such inputs is not remembered.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import pickle
import tempfile
import time
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__, models

CACHE_HOME = "iraq-transition"  # the directory of the caches of every repository, in the user's cache directory
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


def cache_directory(root: Path) -> Path | None:
    """Where the caches of the repository at ``root`` are: ``$XDG_CACHE_HOME/iraq-transition/`` (else
    ``~/.cache/iraq-transition/``), then the first 16 hex digits of the SHA-256 of the repository's real path.
    None when there is no home to put it in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: ignored, as the XDG specification says
        try:
            base = os.path.join(Path.home(), ".cache")
        except (KeyError, RuntimeError):
            return None
    key = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:16]
    return Path(base, CACHE_HOME, key)


class Unreadable(Exception):
    """Something read from the cache is not what was written there: the cache is to be dropped."""


class _DataUnpickler(pickle.Unpickler):
    """Builds plain data (numbers, strings, bytes, tuples, lists, dicts, sets) and instances of the allowed
    classes; any other global, a function or class a pickle could call, is refused."""

    def __init__(self, data: bytes, classes: dict[tuple[str, str], type]):
        super().__init__(io.BytesIO(data))
        self.classes = classes

    def find_class(self, module: str, name: str) -> type:
        try:
            return self.classes[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache") from None


def allowed(classes: Iterable[type]) -> dict[tuple[str, str], type]:
    """The classes :func:`loads` may build, by module and name (project classes: NamedTuples, dataclasses)."""
    return {(cls.__module__, cls.__qualname__): cls for cls in classes}


def loads(data: bytes, classes: dict[tuple[str, str], type]) -> Any:
    """Unpickle ``data`` with :class:`_DataUnpickler`; Unreadable if it is not a pickle of such data."""
    try:
        return _DataUnpickler(data, classes).load()
    except Exception as error:  # truncated, corrupt or hostile
        raise Unreadable(f"the cache holds what it did not write ({type(error).__name__})") from None


def file_stat(path: str | Path, follow_symlinks: bool = True) -> Stat | None:
    """The stat of ``path``, or None if it cannot be had or the file changed too recently to trust it."""
    return file_stats([path], follow_symlinks)[0]


def file_stats(paths: list[str | Path], follow_symlinks: bool = True) -> list[Stat | None]:
    """:func:`file_stat` of every path, the time read once (in one thread: threads only fight over the
    interpreter lock)."""
    trusted_until = time.time_ns() - RACY_NS
    stats: list[Stat | None] = []
    add, stat = stats.append, os.stat
    for path in paths:
        try:
            found = stat(path, follow_symlinks=follow_symlinks)
        except OSError:
            add(None)
            continue
        add((found.st_size, found.st_mtime_ns, found.st_ino) if found.st_mtime_ns <= trusted_until else None)
    return stats


def _write_atomically(path: Path, data: bytes) -> bool:
    """Write ``path`` through a temporary file and a rename; whether it was written (a cache that cannot be
    written only costs time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False)
    except OSError:
        return False
    try:
        with file:  # closing flushes, and can fail too (a full disk)
            file.write(data)
        os.replace(file.name, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(file.name)
        return False
    return True


INDEX = "index-"  # then the code version, .pickle: the state a validation run leaves for the next
PACK = "pack-"  # then the code version and a token, .bin: the blobs the state points into
LOCK = "lock"
CHECK = 4
"""Bytes of the CRC-32 that follows the index and each blob of the pack."""


class Store:
    """The validation cache of one repository for the running code version, used as a context manager.

    Two files in :func:`cache_directory`: a *pack* that blobs (records as marshalled parsed data, pickled
    summaries) are only ever appended to, and an *index* holding the state a run leaves for the next (whatever
    :mod:`.validate` puts there, with offsets into the pack), pickled: it may hold instances of ``classes`` only
    (see :func:`loads`). The index and every blob are followed by their CRC-32. The index is replaced atomically and names the pack and
    how much of it was written when the index was; so a run that fails half way leaves the previous state usable.
    An exclusive lock on the directory's ``lock`` keeps concurrent runs from writing at once. Every failure to
    read the index makes a cold start; a blob that fails its check raises :class:`Unreadable` (then
    :meth:`forget`); every failure to write only costs time.
    """

    def __init__(self, root: Path, classes: Iterable[type] = ()):
        self.directory = cache_directory(root)
        self.classes = allowed(classes)
        self.version = code_version()
        self.index_path = self.directory / f"{INDEX}{self.version}.pickle" if self.directory else None
        self.state: Any = None  # what the last run saved, or None
        self.usable = False  # whether the cache can be written
        self._lock: Any = None
        self._pack: Any = None  # the pack, open for reading and appending
        self._pack_name = ""
        self._end = 0

    def __enter__(self) -> Store:
        if self.directory is None:
            return self
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock = open(self.directory / LOCK, "ab")
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        except OSError:
            return self
        try:
            with open(self.index_path, "rb") as file:
                index = loads(_unsealed(file.read(), "the index"), self.classes)
            name = index["pack"]
            if not (isinstance(name, str) and name.startswith(PACK) and "/" not in name):
                raise Unreadable("the index names no pack")
            self._pack = open(self.directory / name, "r+b")
            if os.fstat(self._pack.fileno()).st_size < index["length"]:
                raise Unreadable("the pack is shorter than the index says")
            self._pack_name, self.state = name, index["state"]
        except Exception:  # missing, unreadable or inconsistent: start afresh
            self._close_pack()
            self.state = None
        if self._pack is None and not self._new_pack():
            return self
        self._end = os.fstat(self._pack.fileno()).st_size
        self.usable = True
        return self

    def __exit__(self, *exc_info) -> None:
        self._close_pack()
        if self._lock is not None:
            self._lock.close()  # releases the lock

    def _new_pack(self) -> bool:
        name = f"{PACK}{self.version}-{os.urandom(6).hex()}.bin"
        try:
            self._pack = open(self.directory / name, "w+b")
        except OSError:
            return False
        self._pack_name = name
        return True

    def _close_pack(self) -> None:
        if self._pack is not None:
            self._pack.close()
            self._pack = None

    def read(self, offset: int, length: int) -> bytes:
        """The blob at ``offset``: from the pack as it was when the state was saved, or as appended since.
        Unreadable if it is not what was appended."""
        return _read_blob(self._pack.fileno(), offset, length)

    def append(self, blob: bytes) -> int:
        """Add ``blob`` to the pack; its offset. Raises OSError (then do not save)."""
        offset = self._end
        os.pwrite(self._pack.fileno(), _sealed(blob), offset)
        self._end += len(blob) + CHECK
        return offset

    def loader(self) -> Callable[[int, int], bytes] | None:
        """A reader of blobs that stays valid after the store is closed (it keeps its own descriptor)."""
        if self._pack is None:
            return None
        descriptor = os.dup(self._pack.fileno())
        reader = _PackReader(descriptor)
        return reader.read

    def compact(self, blobs: array) -> array | None:
        """When over half the pack is dead, copy the live blobs (``blobs``: offset, length, offset, length, ...) to a
        new pack and return them with their new offsets; None when the pack stays as it is."""
        if (sum(blobs[1::2]) + CHECK * (len(blobs) // 2)) * 2 >= self._end:
            return None
        old, old_name, old_end = self._pack, self._pack_name, self._end
        if not self._new_pack():
            self._pack = old
            return None
        self._end = 0
        moved = array("q", blobs)
        try:
            for index in range(0, len(blobs), 2):
                moved[index] = self._end
                os.pwrite(self._pack.fileno(), os.pread(old.fileno(), blobs[index + 1] + CHECK, blobs[index]), self._end)
                self._end += blobs[index + 1] + CHECK
        except OSError:
            self._close_pack()
            (self.directory / self._pack_name).unlink(missing_ok=True)
            self._pack, self._pack_name, self._end = old, old_name, old_end
            return None
        old.close()
        return moved

    def save(self, state: Any) -> None:
        """Make ``state`` the state the next run starts from; drop the files of other code versions and old packs."""
        index = {"pack": self._pack_name, "length": self._end, "state": state}
        try:
            self._pack.flush()
        except OSError:
            return
        if not _write_atomically(self.index_path, _sealed(pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))):
            return  # the previous index, and the pack it names, stay
        for other in self.directory.iterdir():
            if other.name.startswith((INDEX, PACK)) and other.name not in (self.index_path.name, self._pack_name):
                other.unlink(missing_ok=True)

    def forget(self) -> None:
        """Drop the state (it was found damaged): the next run starts afresh."""
        if self.index_path is not None:
            with contextlib.suppress(OSError):  # a cache that cannot be dropped is not used again by this run
                self.index_path.unlink(missing_ok=True)


def _sealed(data: bytes) -> bytes:
    """``data`` followed by its CRC-32."""
    return data + zlib.crc32(data).to_bytes(CHECK, "little")


def _unsealed(sealed: bytes, what: str) -> bytes:
    """The data of :func:`_sealed` bytes; Unreadable if they are not whole."""
    data = sealed[:-CHECK]
    if len(sealed) < CHECK or zlib.crc32(data).to_bytes(CHECK, "little") != sealed[-CHECK:]:
        raise Unreadable(f"{what} fails its check")
    return data


def _read_blob(descriptor: int, offset: int, length: int) -> bytes:
    return _unsealed(os.pread(descriptor, length + CHECK, offset), f"the blob at {offset} of the pack")


class _PackReader:
    """Reads blobs of a pack through a descriptor of its own, closed with the reader."""

    def __init__(self, descriptor: int):
        self.descriptor = descriptor

    def read(self, offset: int, length: int) -> bytes:
        return _read_blob(self.descriptor, offset, length)

    def __del__(self) -> None:
        os.close(self.descriptor)


# --------------------------------------------------------------------------- builds


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
    """Add the name and stat of every entry under ``top`` to ``digest``; return the newest mtime_ns."""
    newest = 0
    for path, stat in tree_entries(top):
        if isinstance(stat, int):
            state = stat
        else:
            state = (stat.st_mode, stat.st_size, stat.st_mtime_ns, stat.st_ino)
            newest = max(newest, stat.st_mtime_ns)
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


def built_before(project, out: Path, inputs: str) -> str | None:
    """The message of the build that wrote ``out`` from these very ``inputs``, if ``out`` is as it left it."""
    directory = cache_directory(project.root)
    try:
        stamp = json.loads((directory / BUILD_STAMP).read_text(encoding="utf-8")) if directory else None
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict):
        return None
    out = os.path.abspath(out)
    if stamp.get("inputs") != inputs or stamp.get("out") != out or stamp.get("output") != _output_state(Path(out)):
        return None
    return f"{out} is up to date: nothing changed since it was {stamp.get('message')}"


def remember_build(project, out: Path, inputs: str, message: str) -> None:
    """Note that ``out`` was built from ``inputs``, for :func:`built_before`."""
    out = os.path.abspath(out)
    stamp = {"inputs": inputs, "out": out, "output": _output_state(Path(out)), "message": message}
    directory = cache_directory(project.root)
    if directory is not None:
        _write_atomically(directory / BUILD_STAMP, json.dumps(stamp).encode())
