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
