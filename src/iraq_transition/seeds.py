"""Seeds: the archived article texts in seeds/, read safely (never following a link, never reading a FIFO)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from stat import S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISDIR, S_ISREG

from .load import MAX_FILE_BYTES, NO_FOLLOW_READ


_KINDS = {S_IFLNK: "a symbolic link", S_IFIFO: "a FIFO", S_IFCHR: "a device", S_IFBLK: "a device",
          S_IFDIR: "a directory", S_IFSOCK: "a socket", S_IFREG: "a file"}
OUTSIDE_SEEDS = ("outside seeds/: a seed is a plain file directly in seeds/; archive the text there and give "
                 "only its file name, e.g. 000_article.txt")


class SeedError(Exception):
    """A seed that cannot be used; the message says what it is and what to do."""


class _Unopenable(Exception):
    """Why a file could not be opened: it is missing, or ``what`` stands there ("is a symbolic link"), or the
    system refused (``what`` is "cannot be read (<reason>)")."""

    def __init__(self, what: str, missing: bool = False, refused: bool = False):
        super().__init__(what)
        self.what, self.missing, self.refused = what, missing, refused


def is_seed_name(name: str) -> bool:
    """Whether ``name`` names an entry directly in seeds/ (no directory part, nor . or ..)."""
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def _kind(mode: int) -> str:
    return _KINDS.get(S_IFMT(mode), "of an unknown kind")


def _open(path: str | Path, flags: int, dir_fd: int | None = None) -> int:
    """A descriptor of ``path`` opened with ``flags`` (which hold O_NOFOLLOW); :class:`_Unopenable` if it cannot be."""
    try:
        return os.open(path, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _Unopenable("does not exist", missing=True) from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO):  # a link, not a directory, a socket
            try:
                mode = os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode
            except OSError:
                mode = None
            if mode is not None:
                raise _Unopenable(f"is {_kind(mode)}") from None
        raise _Unopenable(f"cannot be read ({error.strerror})", refused=True) from None


def read_seed(seeds_dir: Path, name: str) -> bytes:
    """The bytes of the seed ``name``, at most :data:`MAX_FILE_BYTES`: every seed is read here.

    It must be a regular file directly in ``seeds_dir``, itself a directory and not a link to one: links are
    never followed, a FIFO or device never read. SeedError otherwise, saying what the thing is and what to do.
    """
    where = f"seeds/{name}"
    if not is_seed_name(name):
        raise SeedError(f"{name!r} is {OUTSIDE_SEEDS}")
    try:
        directory = _open(seeds_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except _Unopenable as error:
        if error.missing:
            raise _seed_error(where, error) from None
        raise SeedError(f"seeds/ {error.what}, so {where} is not read: keep the archived texts as plain files "
                        "in a seeds/ directory of the repository itself") from None
    try:
        descriptor = _open(name, NO_FOLLOW_READ, dir_fd=directory)
    except _Unopenable as error:
        raise _seed_error(where, error) from None
    finally:
        os.close(directory)
    try:
        mode = os.fstat(descriptor).st_mode
        if not S_ISREG(mode):
            raise _seed_error(where, _Unopenable(f"is {_kind(mode)}"))
        with open(descriptor, "rb", closefd=False) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise _seed_error(where, _Unopenable(f"cannot be read ({error.strerror})", refused=True)) from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise SeedError(f"{where} is larger than {MAX_FILE_BYTES:,} bytes, the most a seed may hold: "
                        "archive only the article's text")
    return data


def _seed_error(where: str, error: _Unopenable) -> SeedError:
    if error.missing:
        return SeedError(f"seed file {where} does not exist: archive the article's text there, or correct the file name")
    if error.refused:
        return SeedError(f"{where} {error.what}: check its permissions")
    return SeedError(f"{where} {error.what}, not a plain file: a seed must be a plain file inside seeds/; "
                     "replace it with a copy of the archived text")


def stray_seed(seeds_dir: Path, name: str) -> str:
    """The message for an entry of seeds/ that no source record describes (looked at, never followed nor read)."""
    try:
        mode = os.lstat(seeds_dir / name).st_mode
    except OSError:
        mode = None
    if mode is None or S_ISREG(mode):
        return ("no source record describes this seed file: add one with "
                f"'iraq-transition new sources' (file: {name}), or remove the file")
    return (f"this is {_kind(mode)}, not a seed file, and no source record describes it: seeds/ holds only the "
            "archived texts, as plain files; remove it")


def is_plain_directory(path: Path) -> bool:
    """Whether ``path`` is a directory itself (not a link to one)."""
    try:
        return S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
