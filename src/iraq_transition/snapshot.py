"""The snapshot of the cache's files: what every file's row says that a run reads of each file (its real name, id,
stat and :data:`.store.Head`, its links and its repeat), read and checked at once instead of a row at a time, and how
a run takes it; with it, the outcome of the checks of the whole that read the links and repeats of every file (cycles,
duplicate quotes), which a run takes as it is while no file's links or repeat changed.

Its base is columns of machine integers (:mod:`array`) and the names joined by NUL (which no file name holds),
marshalled; :mod:`.store` keeps it with the files changed since and the outcome (so that a run writes only as much as
changed), each sealed with a CRC-32 and the count of changes of the rows it was made from. What it holds is plain
data; nothing that can run code is built from it.
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
SCANNED = 16
"""Files looked up by a scan of the run's order, at most, before the index of every file is made (a run that changes
a few files does without it)."""
CHANGES = 2000
"""Files changed since the base was written, at most, before it is written anew (a run reads the base and the
changes since: what it writes is only as much as changed)."""


def stamped(stamp: int) -> bytes:
    """What a blob of the snapshot made from the rows at the count of changes ``stamp`` is sealed with."""
    return KEY + b"\0" + str(stamp).encode()


Links = tuple[tuple[str, str], ...]
"""A valid file's references to its own collection: (name of the field, target id)."""


class Files(NamedTuple):
    """The files of the cache as columns: each file's real name (:func:`.store.file_keys`), the id of its row, its
    stat (None: not to be trusted) and :data:`.store.Head`; and by position, the links of the files that have some
    and the repeat (:data:`.summary.Repeat`) of the valid quotes."""

    paths: list[bytes]
    rows: list[int]
    stats: list[tuple[int, int, int] | None]
    heads: list[tuple]
    links: dict[int, Links]
    repeats: dict[int, tuple]


def encode(files: Files) -> bytes:
    """``files`` as the snapshot's plain data."""
    size, changed, inode = zip(*[stat or (UNTRUSTED, 0, 0) for stat in files.stats]) if files.paths else ((),) * 3
    valid, rare, declared, refs, links, repeats = zip(*files.heads) if files.paths else ((),) * 6
    odd = {at: name for at, name in enumerate(declared) if name is not None}
    columns = (files.rows, size, changed, inode, valid, rare, refs, links, repeats)
    return marshal.dumps((b"\0".join(files.paths), *(array("q", column).tobytes() for column in columns), odd,
                          files.links, files.repeats))


def decode(data: bytes) -> Files:
    """The files of :func:`encode`'s data; ValueError or TypeError if it is not such data."""
    paths, *columns, odd, linked, repeated = marshal.loads(data)
    if len(columns) != 9 or not isinstance(paths, bytes) or not all(isinstance(part, dict) for part in (odd, linked, repeated)):
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
    if UNTRUSTED in size:
        for at, bytes_ in enumerate(size):
            if bytes_ == UNTRUSTED:
                stats[at] = None
    files = Files(names, rows, stats, list(zip(valid, rare, declared, refs, links, repeats)), {}, {})
    return with_parts(files, linked, repeated)


def with_parts(files: Files, links: dict, repeats: dict) -> Files:
    """``files`` with these ``links`` and ``repeats`` (by position); ValueError if they are not of its files (what
    they hold is the seal's to vouch for, as the heads are)."""
    count = len(files.paths)
    for part in (links, repeats):
        if part and (min(part) < 0 or max(part) >= count or set(map(type, part)) != {int}
                     or set(map(type, part.values())) != {tuple}):
            raise ValueError("links or repeats of the snapshot are not of its files")
    files.links.update(links)
    files.repeats.update(repeats)
    return files


def with_changes(files: Files, changes: dict[int, tuple]) -> Files:
    """``files`` with the ``changes`` since (index -> id, stat, head, links, repeat); ValueError or TypeError if they
    are not theirs."""
    links, repeats = {}, {}
    for index, (row, stat, head, linked, repeat) in changes.items():
        if index < 0 or len(head) != len(files.heads[index]):
            raise ValueError("a change of the snapshot is not of its files")
        files.rows[index], files.stats[index], files.heads[index] = row, stat, head
        files.links.pop(index, None)
        files.repeats.pop(index, None)
        if linked:
            links[index] = linked
        if repeat is not None:
            repeats[index] = repeat
    return with_parts(files, links, repeats)


Whole = tuple
"""The outcome of the checks of the whole that read every file's links and repeat: the issues of the duplicate
quotes, the hints of similar ones and the issues of the cycles, each by the id of the file's row, as plain data."""


class Previous(NamedTuple):
    """What the last run left of each file of this run, by its index (None: nothing; links and repeats: of the files
    that have some), the rows of files that are no more (path, id), the rows that fail their checksum (path, id), the
    files (ids) whose rows of links and repeats are not as many as their row says, and the outcome of the checks of
    the whole (None: not known)."""

    rows: list[int | None]
    stats: list[tuple[int, int, int] | None]
    heads: list[tuple | None]
    links: dict[int, Links]
    repeats: dict[int, tuple]
    gone: list[tuple[bytes, int]]
    failed: list[tuple[bytes, int]]
    miscounted: set[int]
    whole: Whole | None

    @classmethod
    def nothing(cls, count: int) -> Previous:
        """What a run without the cache starts from."""
        return cls([None] * count, [None] * count, [None] * count, {}, {}, [], [], set(), None)


def aligned(taken: Files, paths: list[bytes], failed: list[tuple[bytes, int]], miscounted: set[int],
            whole: Whole | None) -> Previous:
    """``taken`` by the index of each of ``paths`` (in the same order, the common case, as it is); the outcome of the
    checks of the whole is not known once a file with links or a repeat is no more."""
    if taken.paths == paths:
        return Previous(list(taken.rows), list(taken.stats), list(taken.heads), dict(taken.links), dict(taken.repeats),
                        [], failed, miscounted, whole)
    count, at = len(paths), dict(zip(paths, range(len(paths))))
    rows, stats, heads, gone = [None] * count, [None] * count, [None] * count, []
    links, repeats = {}, {}
    for position, (path, row, stat, head) in enumerate(zip(*taken[:4])):
        index = at.get(path)
        if index is None:
            gone.append((path, row))
            if position in taken.links or position in taken.repeats:
                whole = None
            continue
        rows[index], stats[index], heads[index] = row, stat, head
        if position in taken.links:
            links[index] = taken.links[position]
        if position in taken.repeats:
            repeats[index] = taken.repeats[position]
    return Previous(rows, stats, heads, links, repeats, gone, failed, miscounted, whole)


class Tracked:
    """What the rows of files say of each file of a run (``order``: their :func:`.store.file_keys`), as the run
    changes them, for the snapshot written at its end: ``stamp``, the count of changes of the rows when the snapshot
    was read (None: not read); ``base``, its base's count and the changes since; ``same``, whether the files are
    the snapshot's (then only what changed is written); ``whole``, the outcome of the checks of the whole, as read
    and then as the run found it."""

    def __init__(self, order: list[bytes], now: Previous, stamp: int | None, base: tuple[int, dict], same: bool):
        self.order, self.now, self.stamp, self.base = order, now, stamp, base
        self.changed: set[int] | None = set() if same else None  # the files the run changed
        self.at: dict[bytes, int] | None = None  # the index of each file, once more than SCANNED were asked for
        self.scanned = 0
        self.whole_read, self.whole = now.whole, now.whole

    def set(self, path: bytes, **values) -> None:
        """Note the new ``row``, ``stat`` or ``head`` of the file ``path``, or its ``links`` and ``repeat``."""
        if self.at is None and self.scanned < SCANNED:
            self.scanned += 1
            index = self.order.index(path)
        else:
            if self.at is None:
                self.at = dict(zip(self.order, range(len(self.order))))
            index = self.at[path]
        for name, value in values.items():
            if name in ("links", "repeat"):
                kept = self.now.links if name == "links" else self.now.repeats
                kept.pop(index, None)
                if value:
                    kept[index] = value
            else:
                getattr(self.now, f"{name}s")[index] = value
        if self.changed is not None:
            self.changed.add(index)

    def unchanged(self, stamp: int) -> bool:
        """Whether the snapshot read is the one to write at the count of changes ``stamp``."""
        return stamp == self.stamp and self.whole == self.whole_read

    def changes(self) -> tuple[int, dict] | None:
        """The base's count and the changes since it, with this run's; None when the base is to be written anew."""
        base, changes = self.base
        if self.changed is None or len(changes) + len(self.changed) > CHANGES:
            return None
        rows, stats, heads, links, repeats = self.now[:5]
        return base, {**changes, **{index: (rows[index], stats[index], heads[index], links.get(index), repeats.get(index))
                                    for index in self.changed}}

    def files(self) -> Files:
        """Every file that has a row, in the run's order."""
        rows, stats, heads, links, repeats = self.now[:5]
        kept = [index for index, row in enumerate(rows) if row is not None] if None in rows else range(len(rows))
        position = {index: at for at, index in enumerate(kept)} if None in rows else None
        moved = (lambda part: part) if position is None else (
            lambda part: {position[index]: value for index, value in part.items() if index in position})
        return Files(*([column[index] for index in kept] for column in (self.order, rows, stats, heads)),
                     moved(links), moved(repeats))
