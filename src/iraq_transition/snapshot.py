"""The snapshot of the cache's files: what every file's row says that a run reads of each file (its real name, id,
stat and :data:`.store.Head`), read and checked at once instead of a row at a time, and how a run takes it.

Its base is columns of machine integers (:mod:`array`) and the names joined by NUL (which no file name holds),
marshalled; :mod:`.store` keeps it with the files changed since (so that a run writes only as much as changed),
each sealed with a CRC-32 and the count of changes of the rows it was made from. What it holds is plain data;
nothing that can run code is built from it.
"""

from __future__ import annotations

import marshal
import sys
from array import array
from typing import NamedTuple

KEY = f"snapshot {sys.byteorder}".encode()
"""What the blob is sealed with besides its stamp (its integers are the machine's)."""
UNTRUSTED = -1
"""The size column's value for a file whose stat is not to be trusted (None)."""
CHANGES = 2000
"""Files changed since the base was written, at most, before it is written anew (a run reads the base and the
changes since: what it writes is only as much as changed)."""


def stamped(stamp: int) -> bytes:
    """What a blob of the snapshot made from the rows at the count of changes ``stamp`` is sealed with."""
    return KEY + b"\0" + str(stamp).encode()


class Files(NamedTuple):
    """The files of the cache as columns: each file's real name (:func:`.store.file_keys`), the id of its row, its
    stat (None: not to be trusted) and :data:`.store.Head`."""

    paths: list[bytes]
    rows: list[int]
    stats: list[tuple[int, int, int] | None]
    heads: list[tuple]


def encode(files: Files) -> bytes:
    """``files`` as the snapshot's plain data."""
    size, changed, inode = zip(*[stat or (UNTRUSTED, 0, 0) for stat in files.stats]) if files.paths else ((),) * 3
    valid, rare, declared, refs, links, repeats = zip(*files.heads) if files.paths else ((),) * 6
    odd = {at: name for at, name in enumerate(declared) if name is not None}
    columns = (files.rows, size, changed, inode, valid, rare, refs, links, repeats)
    return marshal.dumps((b"\0".join(files.paths), *(array("q", column).tobytes() for column in columns), odd))


def decode(data: bytes) -> Files:
    """The files of :func:`encode`'s data; ValueError or TypeError if it is not such data."""
    paths, *columns, odd = marshal.loads(data)
    if len(columns) != 9 or not isinstance(paths, bytes) or not isinstance(odd, dict):
        raise ValueError("not a snapshot")
    rows, size, changed, inode, valid, rare, refs, links, repeats = (array("q", column).tolist() for column in columns)
    names = paths.split(b"\0") if paths else []
    if any(len(column) != len(names) for column in (rows, size, changed, inode, valid, rare, refs, links, repeats)):
        raise ValueError("the columns of the snapshot are not alike")
    declared: list[str | None] = [None] * len(names)
    for at, name in odd.items():
        if not isinstance(name, str):
            raise ValueError("a declared id of the snapshot is not a text")
        declared[at] = name
    stats: list = list(zip(size, changed, inode))
    for at, bytes_ in enumerate(size):
        if bytes_ == UNTRUSTED:
            stats[at] = None
    return Files(names, rows, stats, list(zip(valid, rare, declared, refs, links, repeats)))


def with_changes(files: Files, changes: dict[int, tuple]) -> Files:
    """``files`` with the ``changes`` since (index -> id, stat, head); ValueError or TypeError if they are not theirs."""
    for index, (row, stat, head) in changes.items():
        if index < 0 or len(head) != len(files.heads[index]):
            raise ValueError("a change of the snapshot is not of its files")
        files.rows[index], files.stats[index], files.heads[index] = row, stat, head
    return files


class Previous(NamedTuple):
    """What the last run left of each file of this run, by its index (None: nothing), the rows of files that are no
    more (path, id), and the rows that fail their checksum (path, id)."""

    rows: list[int | None]
    stats: list[tuple[int, int, int] | None]
    heads: list[tuple | None]
    gone: list[tuple[bytes, int]]
    failed: list[tuple[bytes, int]]


def aligned(taken: Files, paths: list[bytes], failed: list[tuple[bytes, int]]) -> Previous:
    """``taken`` by the index of each of ``paths`` (in the same order, the common case, as it is)."""
    if taken.paths == paths:
        return Previous(list(taken.rows), list(taken.stats), list(taken.heads), [], failed)
    count, at = len(paths), dict(zip(paths, range(len(paths))))
    rows, stats, heads, gone = [None] * count, [None] * count, [None] * count, []
    for path, row, stat, head in zip(*taken):
        index = at.get(path)
        if index is None:
            gone.append((path, row))
        else:
            rows[index], stats[index], heads[index] = row, stat, head
    return Previous(rows, stats, heads, gone, failed)


class Tracked:
    """What the rows of files say of each file of a run (``order``: their :func:`.store.file_keys`), as the run
    changes them, for the snapshot written at its end: ``stamp``, the count of changes of the rows when the snapshot
    was read (None: not read); ``base``, its base's count and the changes since; ``same``, whether the files are
    the snapshot's (then only what changed is written)."""

    def __init__(self, order: list[bytes], now: Previous, stamp: int | None, base: tuple[int, dict], same: bool):
        self.order, self.now, self.stamp, self.base = order, now, stamp, base
        self.changed: set[int] | None = set() if same else None  # the files the run changed
        self.at: dict[bytes, int] | None = None  # the index of each file, once asked for

    def set(self, path: bytes, **values) -> None:
        """Note the new ``row``, ``stat`` or ``head`` of the file ``path``."""
        if self.at is None:
            self.at = dict(zip(self.order, range(len(self.order))))
        index = self.at[path]
        for name, value in values.items():
            getattr(self.now, f"{name}s")[index] = value
        if self.changed is not None:
            self.changed.add(index)

    def changes(self) -> tuple[int, dict] | None:
        """The base's count and the changes since it, with this run's; None when the base is to be written anew."""
        base, changes = self.base
        if self.changed is None or len(changes) + len(self.changed) > CHANGES:
            return None
        rows, stats, heads = self.now[:3]
        return base, {**changes, **{index: (rows[index], stats[index], heads[index]) for index in self.changed}}

    def files(self) -> Files:
        """Every file that has a row, in the run's order."""
        rows, stats, heads = self.now[:3]
        kept = [index for index, row in enumerate(rows) if row is not None] if None in rows else range(len(rows))
        return Files(*([column[index] for index in kept] for column in (self.order, rows, stats, heads)))
