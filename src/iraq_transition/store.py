"""The cache of one repository: a SQLite database outside the work tree that makes repeated runs fast.

It lives in :func:`cache_directory` (``$XDG_CACHE_HOME/iraq-transition/<key>``, else ``~/.cache/...``, one per
repository): nothing a pull request commits can be taken for a cache. Its name carries :func:`code_version`, so
that other code never reads what this code wrote. Tables:

* ``files``: every record file of the last run, keyed by its real name (:func:`file_keys`; its display path
  escapes what does not print, and two names can print alike), with its stat (NULL: not to be trusted), the SHA-256
  of its bytes, whether it is valid, which of the rare things it has (:data:`PROBLEMS`, :data:`ISSUES`,
  :data:`ODD_ID`), its declared id, how many rows of refs, links and repeats it has (indexed so that a run reads all
  that, and its rare rows, without reading the blobs), and blobs: its own problems, the issues of its references
  and citations, its record (the parsed data), its summary and its citations' outcome;
* ``refs`` (indexed on the target ``collection/id``) and ``links`` (a record's references to its own collection);
* ``repeats``: what the duplicate-quote check needs of each valid quote (its words' digest, speaker, sources);
* ``made``: what the build made of each valid record (its rows), sealed also with the code's version and the seeds'
  texts;
* ``seeds`` (stat and SHA-256 of each seed read) and ``texts`` (the SHA-256 of the text each source's citations
  were looked up in); ``meta`` holds the build stamp;
* ``generation``: a count that SQLite's triggers raise with every row of files inserted, updated or deleted, in the
  same transaction (whatever writes them);
* ``snapshot`` (:mod:`.snapshot`): what every file's row says that a run reads of each file (name, id, stat, head,
  links, repeat), in one blob, its base, and the files changed since in another, with the outcome of the checks of
  the whole, each sealed with the count it was written at: a run reads them instead of every row of files, links and
  repeats when that is the count (any change of the rows since, or a blob that fails its check, has the rows read,
  each checked), and writes what changed in the same transaction as the rows.

Every row carries a :func:`checksum` of the columns that decide a result, checked as the row is read (a file's
stat and SHA-256 are outside it: a wrong one only has the file hashed, or checked, again): a file whose row, or
one of its rows of refs, links and repeats, fails it, or whose rows of these are not as many as its row says, is a
cache miss (read and checked again); a seed's or a source text's row that fails it counts as changed. Blobs are
marshalled plain data (nothing that can run code is ever built from them), each followed by a checksum of the
blob, its file's real name and SHA-256: a damaged or foreign blob is :class:`Unreadable`, a cache miss. A run
holds SQLite's write lock from its first read to its commit, so that runs never interleave; one run is one
transaction that changes only the rows of what changed. Every failure to read the cache is a cache miss, every
failure to write it only costs time.

Files changed within :data:`RACY_NS` of being looked at are not trusted by their stat (their next change could
keep size and change time, as in git's "racy clean" problem): they are hashed next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import re
import sqlite3
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .cache_home import cache_directory, owned
from .snapshot import Files, Previous, Tracked, Whole, aligned, decode, encode, stamped, with_changes

DATABASE = "cache-"  # then the code version, .sqlite3
RACY_NS = 2_000_000_000
BUSY_SECONDS = 5
"""How long a run waits for another run of the same repository to finish with the cache; then it goes without (the
results are the same), saying so."""
OWN_FILES = re.compile(r"cache-[0-9a-f]{16}\.sqlite3(?:-wal|-shm|-journal)?")
"""The names of this code's cache databases (of any code version): the only files a run removes, besides what older
releases left in the default cache directory (:data:`OLD_FILES`)."""
OLD_FILES = re.compile(r"index-[0-9a-f]{16}\.pickle|pack-[0-9a-f]{16}-[0-9a-f]+\.bin|lock|build\.json")
CHUNK = 500
"""Rows asked for in one query (SQLite allows a few thousand parameters)."""

Stat = tuple[int, int, int]
"""size, change time (the later of mtime and ctime, in ns: no tool can set ctime back) and inode of a file."""
Head = tuple
"""What a file's row says that decides a result, besides its blobs: (valid, rare, declared id, and how many rows of
refs, links and repeats it has), indexed by :data:`VALID` ... :data:`REPEATS`."""
VALID, RARE, DECLARED, REFS, LINKS, REPEATS = range(6)
PROBLEMS, ISSUES, ODD_ID = 1, 2, 4
"""The bits of a file's ``rare``: it has problems of its own, issues of its references or citations, an id that is
not its name."""

SCHEMA = """
create table if not exists files (
    id integer primary key autoincrement, path blob not null unique, size int, changed_ns int, inode int,
    sha256 blob not null, valid int not null, rare int not null, declared text, refs int not null, links int not null,
    repeats int not null, crc int not null, problems blob, issues blob, record blob, summary blob, cited blob);
create index if not exists files_head on files (path, id, size, changed_ns, inode, valid, rare, declared, refs,
    links, repeats, crc);
create index if not exists files_rare on files (id) where rare;
create table if not exists refs (target text not null, file int not null, crc int not null,
    primary key (target, file)) without rowid;
create index if not exists refs_file on refs (file);
create table if not exists links (file int not null, name text not null, target text not null, crc int not null);
create index if not exists links_file on links (file);
create table if not exists repeats (file integer primary key, digest blob not null, speaker text not null,
    sources text not null, crc int not null);
create table if not exists seeds (name text primary key, size int, changed_ns int, inode int, sha256 text not null,
    crc int not null);
create table if not exists texts (source text primary key, sha256 text not null, crc int not null);
create table if not exists meta (key text primary key, value text not null);
create table if not exists generation (id integer primary key check (id = 0), count int not null);
insert or ignore into generation values (0, 0);
create table if not exists snapshot (id integer primary key check (id in (0, 1)), blob blob not null);
create table if not exists made (id integer primary key, blob blob not null);
create trigger if not exists files_inserted after insert on files begin
    update generation set count = count + 1; end;
create trigger if not exists files_updated after update on files begin
    update generation set count = count + 1; end;
create trigger if not exists files_deleted after delete on files begin
    update generation set count = count + 1; end;
"""
FILE_TABLES = (("refs", "file"), ("links", "file"), ("repeats", "file"), ("made", "id"), ("files", "id"))
"""The tables that hold rows of a file (and the column naming it): a file's rows go together."""
FILES_COLUMNS = 18


@cache
def _source_hash() -> str:
    """A hash of the package's source files (read once per process)."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _library_versions() -> str:
    """The versions of the libraries whose output the cache and the build keep: pydantic and PyYAML (what records
    read as), SQLite (which stamps its version in the built database)."""
    from importlib.metadata import PackageNotFoundError, version

    found = [sqlite3.sqlite_version]
    for name in ("pydantic", "pyyaml"):
        try:
            found.append(version(name))
        except PackageNotFoundError:
            found.append("")
    return " ".join(found)


def code_version() -> str:
    """What cached results depend on besides the files: schema, package, Python and library versions, the code."""
    from .models import SCHEMA_VERSION  # read each time: a test changes it

    key = "\0".join((SCHEMA_VERSION, __version__, sys.version, _library_versions(), _source_hash()))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def file_stats(paths: list[str], follow_symlinks: bool = True) -> list[Stat | None]:
    """The stat of every path, None where it cannot be had or the file changed too recently to trust it (in one
    thread: a second one costs more in contention for the interpreter lock than it saves)."""
    trusted_until = time.time_ns() - RACY_NS
    found: list[Stat | None] = []
    add, stat = found.append, os.stat
    for path in paths:
        try:
            seen = stat(path, follow_symlinks=follow_symlinks)
        except OSError:
            add(None)
            continue
        changed = max(seen.st_mtime_ns, seen.st_ctime_ns)  # ctime too: an edit that puts mtime back sets it
        add((seen.st_size, changed, seen.st_ino) if changed <= trusted_until else None)
    return found


class Unreadable(Exception):
    """Something read from the cache is not what was written there: the cache is to be dropped."""


CHECK = 4
"""Bytes of the checksum that follows each blob."""


def checksum(values: tuple) -> int:
    """The checksum of a row's values: a CRC-32 of them marshalled in version 0 (which depends on nothing but their
    types and values)."""
    return zlib.crc32(marshal.dumps(values, 0))


def with_checksum(values: tuple) -> tuple:
    return (*values, checksum(values))


def checked_rows(rows: Iterable[tuple]) -> list[tuple]:
    """The ``rows`` whose last value is the :func:`checksum` of the others, without it (those that fail it are left
    out)."""
    return [row[:-1] for row in rows if checksum(row[:-1]) == row[-1]]


def seal(value: Any, key: bytes) -> bytes:
    """``value`` (plain data) marshalled and sealed (see :func:`seal_data`)."""
    return seal_data(marshal.dumps(value), key)


def seal_data(data: bytes, key: bytes) -> bytes:
    """Marshalled ``data`` followed by a CRC-32 of it and ``key`` (the path and SHA-256 of the file it belongs to: a
    blob moved to another row fails its check)."""
    return data + zlib.crc32(data, zlib.crc32(key)).to_bytes(CHECK, "little")


def unseal(blob: Any, key: bytes) -> Any:
    """The value of a :func:`seal` blob; Unreadable if it is not whole, not this row's, or not marshalled data."""
    data = unseal_data(blob, key)
    try:
        return marshal.loads(data)
    except Exception:  # noqa: BLE001 - whatever marshal makes of bytes it did not write
        raise Unreadable("a blob of the cache is not marshalled data") from None


def unseal_data(blob: Any, key: bytes) -> bytes:
    """The data of a :func:`seal_data` blob; Unreadable if it is not whole or not this row's."""
    if not isinstance(blob, bytes) or len(blob) < CHECK:
        raise Unreadable("a blob of the cache is missing or cut short")
    data = blob[:-CHECK]
    if zlib.crc32(data, zlib.crc32(key)).to_bytes(CHECK, "little") != blob[-CHECK:]:
        raise Unreadable("a blob of the cache fails its check")
    return data


def file_keys(files: Iterable[tuple[str, str]]) -> list[bytes]:
    """What the rows of files (collection, stem) are keyed by: their real names, ``collection/stem`` as the bytes of
    the file system (:func:`os.fsencode`, at a fraction of its cost)."""
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    return [f"{collection}/{stem}".encode(encoding, errors) for collection, stem in files]


def row_key(path: bytes, sha256: bytes) -> bytes:
    """What a file's blobs are sealed with (``path``: its :func:`file_keys`)."""
    return path + b"\0" + sha256


def _miscounted(found: dict[int, int], heads: dict[int, Head], part: int) -> set[int]:
    """The files of ``heads`` (by id) whose rows counted in ``found`` are not as many as their head's ``part`` says."""
    expected = {row: head[part] for row, head in heads.items() if head[part]}
    return {row for row in found.keys() | expected.keys() if found.get(row, 0) != expected.get(row, 0) and row in heads}


def _from_snapshot(store: Store, stamp: int) -> tuple[tuple[int, dict], Files, Whole | None] | None:
    """The files of the snapshot (its base and the changes since), the base's count and the changes, and the outcome
    of the checks of the whole it holds (None: none), if it was made from the rows at the count ``stamp``, holds its
    checks and agrees with the rows (:func:`_agrees`)."""
    blobs = dict(store.query("select id, blob from snapshot"))
    try:
        base, changes, whole = unseal(blobs[1], stamped(stamp)) if 1 in blobs else (stamp, {}, None)
        files = with_changes(decode(unseal_data(blobs[0], stamped(base))), changes)
        if whole is not None and not (type(whole) is tuple and len(whole) == 3 and all(type(part) is dict for part in whole)):
            raise ValueError("not the outcome of the checks of the whole")
    except (Unreadable, KeyError, ValueError, TypeError, EOFError, IndexError):
        return None
    return ((base, changes), files, whole) if _agrees(store, files) else None


def _agrees(store: Store, files: Files) -> bool:
    """Whether the rows of files are as many as the snapshot ``files`` says, with the same largest id, and the same
    ones have something rare: a snapshot put back with the count it was sealed with is not the rows'."""
    rare = {row for row, head in zip(files.rows, files.heads) if head[RARE]}
    counted = store.query("select count(*), coalesce(max(id), 0) from files")[0]
    return counted == (len(files.rows), max(files.rows, default=0)) and rare == {
        row for (row,) in store.query("select id from files where rare")}


def _from_rows(rows: list[tuple]) -> tuple[Files, list[tuple[bytes, int]]]:
    """The files of these rows of files that hold their checksum, and (path, id) of the rows that fail it."""
    paths, ids, stats, heads, failed = [], [], [], [], []
    crc32, dumps = zlib.crc32, marshal.dumps  # checksum() inlined: a row per file
    for row in rows:
        if crc32(dumps(row[:8], 0)) == row[8]:
            paths.append(row[0])
            ids.append(row[1])
            stats.append(row[9:] if row[9] is not None else None)
            heads.append(row[2:8])
        else:
            failed.append(row[:2])
    return Files(paths, ids, stats, heads, {}, {}), failed


def _write_snapshot(store: Store, tracked: Tracked) -> None:
    """Write the snapshot of the rows of files as the run leaves them, and the outcome of the checks of the whole, if
    they changed since it was read (or it was not): the changes since its base, or the base anew (none if the count of
    changes cannot be read)."""
    try:
        stamp = store.query("select count from generation")[0][0]
    except Unreadable:
        store.write("delete from snapshot")
        return
    if tracked.unchanged(stamp):
        return
    changes = tracked.changes()
    if changes is None:
        store.write("delete from snapshot")
        store.write("insert into snapshot values (0, ?)", [(seal_data(encode(tracked.files()), stamped(stamp)),)])
        changes = (stamp, {})
    store.write("insert or replace into snapshot values (1, ?)", [(seal((*changes, tracked.whole), stamped(stamp)),)])


def _parts(store: Store, files: Files) -> tuple[Files, set[int]]:
    """``files`` (read from the rows) with the links (name, target) and the repeat (digest, speaker, sources) of each,
    as their rows that hold their checksum give them, and the files (ids) whose rows of these are not as many as
    their head says (their links and repeat are left out)."""
    heads = dict(zip(files.rows, files.heads))
    links: dict[int, list[tuple[str, str]]] = {}
    for row, name, target in checked_rows(store.query("select file, name, target, crc from links order by file, rowid")):
        links.setdefault(row, []).append((name, target))
    repeats = {row: (digest, speaker, tuple(sources.split(" "))) for row, digest, speaker, sources in
               checked_rows(store.query("select file, digest, speaker, sources, crc from repeats"))}
    miscounted = _miscounted({row: len(pairs) for row, pairs in links.items()}, heads, LINKS)
    miscounted |= _miscounted(dict.fromkeys(repeats, 1), heads, REPEATS)
    for at, row in enumerate(files.rows):
        if row not in miscounted:
            if row in links:
                files.links[at] = tuple(links[row])
            if row in repeats:
                files.repeats[at] = repeats[row]
    return files, miscounted


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start: start + size]


class Store:
    """The SQLite cache of one repository for the running code version (see the module's description).

    :meth:`open` connects and takes the write lock (None when the cache cannot be used: the run goes without);
    reads raise :class:`Unreadable` when the database is damaged (then :meth:`forget`); :meth:`commit` ends the
    run's transaction. The connection stays open for reading records afterwards, until :meth:`close`.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.connection, self.path = connection, path
        self.writable = True  # false once a write failed: the transaction is dropped, the run goes on without
        self.last_row: int | None = None  # the largest id files ever had (never given again), once asked for
        self.queued: tuple[list, ...] = ([], [], [], [], [])  # rows replaced, files, refs, links, repeats to write
        self.tracked: Tracked | None = None  # what the rows say of the run's files, once :meth:`files` read them

    @classmethod
    def open(cls, root: Path, override: Path | None = None, lock: bool = True) -> Store | None:
        directory = cache_directory(root, override)
        if directory is None:
            return None
        path = directory / f"{DATABASE}{code_version()}.sqlite3"
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not owned(directory, path):
                print(f"iraq-transition: the cache in {directory} is not the user's own (or not a plain file): "
                      "checking without it", file=sys.stderr)
                return None
            connection = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error):
            return None
        store = cls(connection, path)
        try:
            # 64 MiB of page cache: with SQLite's 2 MiB, a cold run rereads the index of refs as it grows
            connection.executescript(f"pragma journal_mode = wal; pragma synchronous = normal; pragma cache_size = -65536; {SCHEMA}")
            if lock:
                connection.execute("begin immediate")
        except sqlite3.DatabaseError as error:  # not a database (damaged, or something else in its place), read-only, busy
            if getattr(error, "sqlite_errorname", None) in ("SQLITE_BUSY", "SQLITE_LOCKED"):  # another run's: never dropped
                store.close()
                print("iraq-transition: another run is using the cache: checking without it", file=sys.stderr)
            else:
                store.forget()
            return None
        store._drop_others(directory, old_files=override is None)
        return store

    def reopened(self) -> Store:
        """The same database through a connection of its own, to read in a forked process (SQLite's connections
        must not cross a fork: the inherited one is never used there)."""
        return Store(sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False), self.path)

    def _drop_others(self, directory: Path, old_files: bool) -> None:
        """Remove the caches of other code versions, and with ``old_files`` what older releases left in the default
        cache directory (index, pack, lock, stamp): files of exactly those names, nothing else."""
        with contextlib.suppress(OSError):
            for other in directory.iterdir():
                ours = OWN_FILES.fullmatch(other.name) or (old_files and OLD_FILES.fullmatch(other.name))
                if ours and not other.name.startswith(self.path.name) and other.is_file() and not other.is_symlink():
                    with contextlib.suppress(OSError):
                        other.unlink()

    # ---- reading

    def query(self, sql: str, parameters: Iterable = ()) -> list[tuple]:
        """The rows of a query; Unreadable if the database is damaged."""
        try:
            return self.connection.execute(sql, tuple(parameters)).fetchall()
        except sqlite3.Error as error:
            raise Unreadable(f"the cache database cannot be read ({error})") from None

    def query_many(self, sql: str, keys: list) -> list[tuple]:
        """``sql`` (with ``{}`` where the list of parameters goes) for ``keys``, in chunks."""
        rows: list[tuple] = []
        for part in _chunks(keys):
            rows += self.query(sql.format(",".join("?" * len(part))), part)
        return rows

    def files(self, paths: list[bytes]) -> Previous:
        """What the last run left of each of the files ``paths`` (:func:`file_keys`): from the snapshot when its stamp
        is the rows' (checked as a whole), else from every row of files (each checked)."""
        stamp = self.query("select count from generation")[0][0]
        snapshot = _from_snapshot(self, stamp)
        if snapshot is not None:
            (base, taken, whole), failed, miscounted = snapshot, [], set()
        else:  # the rows are read, and the snapshot written anew
            base, stamp, whole = (0, {}), None, None
            taken, failed = _from_rows(self.query("select path, id, valid, rare, declared, refs, links, repeats, crc, "
                                                  "size, changed_ns, inode from files"))
            taken, miscounted = _parts(self, taken)
        self.tracked = Tracked(paths, aligned(taken, paths, failed, miscounted, whole), stamp, base,
                               snapshot is not None and taken.paths == paths)
        now = self.tracked.now
        return now._replace(rows=list(now.rows), links=dict(now.links), repeats=dict(now.repeats))

    def references(self, keys: set[str], heads: dict[int, Head]) -> tuple[set[int], set[int]]:
        """The files (ids) with a row of refs to any of ``keys``, and the files of ``heads`` whose rows of refs are
        not as many as their head says: of the rows that hold their checksum, every one read as it comes (a search
        of the index could miss rows that damage has put out of order)."""
        counts: Counter = Counter()
        found = set()
        try:
            for target, row, crc in self.connection.execute("select target, file, crc from refs"):
                if checksum((target, row)) == crc:
                    counts[row] += 1
                    if target in keys:
                        found.add(row)
        except sqlite3.Error as error:
            raise Unreadable(f"the cache database cannot be read ({error})") from None
        return found, _miscounted(counts, heads, REFS)

    def digests(self, rows: list[int]) -> list[tuple[int, bytes]]:
        """(id, SHA-256) of these rows of files: a damaged SHA-256 only has its file checked again."""
        return self.query_many("select id, sha256 from files where id in ({})", rows)

    def seeds(self) -> dict[str, tuple[Stat, str]]:
        """Seed name -> stat and SHA-256, as last read (a row that fails its checksum is left out: read again)."""
        return {name: ((size, changed, inode), digest) for name, size, changed, inode, digest in
                checked_rows(self.query("select name, size, changed_ns, inode, sha256, crc from seeds"))}

    def texts(self) -> dict[str, str]:
        """Source id -> SHA-256 of the text its citations were looked up in (a row that fails its checksum is left
        out: the text counts as changed)."""
        return dict(checked_rows(self.query("select source, sha256, crc from texts")))

    def meta(self, key: str) -> str | None:
        return next(iter(self.query("select value from meta where key = ?", (key,))), (None,))[0]

    # ---- writing (each a no-op once a write failed)

    def write(self, sql: str, rows: Iterable[tuple] = ((),), many: bool = True) -> None:
        if not self.writable:
            return
        try:
            if many:
                self.connection.executemany(sql, rows)
            else:
                self.connection.execute(sql, next(iter(rows)))
        except sqlite3.Error:
            self._give_up()

    def commit(self) -> bool:
        """End the run's transaction; whether what it wrote is kept."""
        self.flush()
        if self.tracked is not None and self.writable:
            _write_snapshot(self, self.tracked)
        if not self.writable:
            return False
        try:
            if self.connection.in_transaction:
                self.connection.execute("commit")
        except sqlite3.Error:
            self._give_up()
        return self.writable

    def write_apart(self, sql: str, rows: list[tuple]) -> None:
        """Write ``rows`` in a transaction of their own after the run's; not at all while another run holds the cache."""
        if rows:
            self.write("pragma busy_timeout = 0", many=False)
            for step in ("begin immediate", sql, "commit"):
                self.write(step, rows if step == sql else ((),), many=step == sql)
            self.write(f"pragma busy_timeout = {BUSY_SECONDS * 1000}", many=False)

    def _give_up(self) -> None:
        self.writable = False
        with contextlib.suppress(sqlite3.Error):
            if self.connection.in_transaction:
                self.connection.execute("rollback")

    def replace_file(self, old: int | None, path: bytes, stat: Stat | None, sha256: bytes, head: tuple, blobs: tuple,
                     targets: Iterable[str], links: Iterable[tuple],
                     repeat: tuple[bytes, str, tuple[str, ...]] | None = None) -> int:
        """Queue the row of a file (``path``: its :func:`file_keys` key; ``head``: valid, rare and declared id;
        ``blobs``: its problems, issues, record, summary and citations' outcome), its references' ``targets``, its
        ``links`` (name, target) and its ``repeat`` (a quote's digest, speaker, sources), in place of row ``old`` if
        not None; its new id, one no row ever had. Written by :meth:`flush`, a few hundred files at a time."""
        if self.last_row is None:
            self.last_row = self.query("select max(coalesce(max(id), 0), coalesce((select seq from sqlite_sequence "
                                       "where name = 'files'), 0)) from files")[0][0]
        self.last_row += 1
        row = self.last_row
        replaced, files, refs, linked, repeats = self.queued
        if old is not None:
            replaced.append((old,))
        targets, links = set(targets), list(links)
        head = (*head, len(targets), len(links), int(repeat is not None))
        files.append((row, path, *(stat or (None, None, None)), sha256, *head, checksum((path, row, *head)), *blobs))
        if self.tracked is not None:
            self.tracked.set(path, row=row, stat=stat, head=head, links=tuple(links), repeat=repeat)
        refs.extend(with_checksum((target, row)) for target in targets)
        linked.extend(with_checksum((row, *link)) for link in links)
        if repeat is not None:
            digest, speaker, sources = repeat
            repeats.append(with_checksum((row, digest, speaker, " ".join(sources))))
        if len(files) >= CHUNK:
            self.flush()
        return row

    def flush(self) -> None:
        """Write the rows queued by :meth:`replace_file`."""
        replaced, files, refs, links, repeats = self.queued
        for table, column in FILE_TABLES:
            self.write(f"delete from {table} where {column} = ?", replaced)
        self.write(f"insert into files values ({', '.join('?' * FILES_COLUMNS)})", files)
        self.write("insert into refs values (?, ?, ?)", refs)
        self.write("insert into links values (?, ?, ?, ?)", links)
        self.write("insert into repeats values (?, ?, ?, ?, ?)", repeats)
        self.queued = ([], [], [], [], [])

    def renew_issues(self, rows: Iterable[tuple[int, bytes, Head, bytes | None, bytes]]) -> None:
        """Write the new issues and citations' outcome of files whose rows are otherwise kept: (id, path, head,
        sealed issues or None, sealed outcome)."""
        renewed = []
        for row, path, head, issues, cited in rows:
            head = (head[VALID], head[RARE] & ~ISSUES | (ISSUES if issues is not None else 0), *head[DECLARED:])
            renewed.append((issues, cited, head[RARE], checksum((path, row, *head)), row))
            if self.tracked is not None:
                self.tracked.set(path, head=head)
        self.write("update files set issues = ?, cited = ?, rare = ?, crc = ? where id = ?", renewed)

    def touch(self, files: Iterable[tuple[bytes, Stat, int]]) -> None:
        """Write the new stat of files whose bytes are the same as their row says: (path, stat, id)."""
        rows = []
        for path, stat, row in files:
            rows.append((*stat, row))
            if self.tracked is not None:
                self.tracked.set(path, stat=stat)
        self.write("update files set size = ?, changed_ns = ?, inode = ? where id = ?", rows)

    def set_seeds(self, seeds: dict[str, tuple[Stat, str]]) -> None:
        self.write("delete from seeds")
        self.write("insert into seeds values (?, ?, ?, ?, ?, ?)",
                   [with_checksum((name, *stat, digest)) for name, (stat, digest) in seeds.items()])

    def set_texts(self, digests: dict[str, str]) -> None:
        self.write("delete from texts")
        self.write("insert into texts values (?, ?, ?)", [with_checksum(item) for item in digests.items()])

    def set_meta(self, key: str, value: str) -> None:
        self.write("insert or replace into meta (key, value) values (?, ?)", [(key, value)])

    def forget(self) -> None:
        """Drop the database (it was found damaged): the next run starts afresh."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):  # a cache that cannot be dropped is not used again by this run
                os.unlink(f"{self.path}{suffix}")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.connection.close()
