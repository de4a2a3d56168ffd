"""Seeds: the archived article texts in seeds/, read safely (never following a link, never reading a FIFO), and
the naming scheme of a new one.

A new seed is named ``NNN_<16 hex>.txt``: ``NNN`` one more than the highest number in seeds/ (three digits, more
past 999), the hex the first 16 digits of the SHA-256 of its bytes (:func:`seed_name`). The hex of the first five
seeds (000 to 004) was derived otherwise, from nothing the repository records; they keep their names, since
names never change.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from pathlib import Path
from stat import S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISDIR, S_ISREG

from . import git
from .load import MAX_FILE_BYTES, NO_FOLLOW_READ, position_of_offset


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


# --------------------------------------------------------------------------- a new seed

_NUMBERED = re.compile(r"([0-9]{3,})_")
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
"""Control characters that no article's text holds (tab, line breaks and form feed aside): a binary file."""


def read_article(path: Path) -> bytes:
    """The bytes of the article text at ``path`` (given on the command line, so a link is followed), to archive
    as a seed; SeedError unless it is a regular file of UTF-8 text no larger than :data:`MAX_FILE_BYTES`."""
    shown = str(path)
    try:
        descriptor = _open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except _Unopenable as error:
        raise SeedError(f"{shown} {error.what}: give the path of the article's text file") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not S_ISREG(mode):
            raise SeedError(f"{shown} is {_kind(mode)}, not a text file: give the path of the article's text file")
        with open(descriptor, "rb", closefd=False) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise SeedError(f"{shown} is larger than {MAX_FILE_BYTES:,} bytes, the most a seed may hold: "
                        "archive only the article's text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, col = position_of_offset(data, error.start)
        raise SeedError(f"{shown} is not UTF-8 text (byte 0x{data[error.start]:02x} at line {line}, column {col}): "
                        "save the article's text as UTF-8 first") from None
    if not text.strip():
        raise SeedError(f"{shown} holds no text: give the file of the article's text")
    if match := _NOT_TEXT.search(text):
        line, col = position_of_offset(text, match.start())
        raise SeedError(f"{shown} is not text: it holds the control character U+{ord(match.group()):04X} at line "
                        f"{line}, column {col}; give the article's text, saved as plain UTF-8 text")
    return data


def seed_name(seeds_dir: Path, data: bytes) -> str:
    """The file name of a new seed holding ``data`` (the naming scheme in this module's docstring)."""
    names = os.listdir(seeds_dir) if is_plain_directory(seeds_dir) else []
    numbers = [int(match.group(1)) for name in names if (match := _NUMBERED.match(name))]
    return f"{max(numbers, default=-1) + 1:03d}_{hashlib.sha256(data).hexdigest()[:16]}.txt"


def same_seed(seeds_dir: Path, data: bytes) -> str | None:
    """The name of the seed in ``seeds_dir`` that holds exactly ``data``, if one does (seeds that cannot be read
    are passed over: validate reports them)."""
    if not is_plain_directory(seeds_dir):
        return None
    for name in sorted(os.listdir(seeds_dir)):
        try:
            if read_seed(seeds_dir, name) == data:
                return name
        except SeedError:
            continue
    return None


def committed_seeds(root: Path) -> frozenset[str] | None:
    """The names of the seeds in the commit HEAD of the git work tree holding ``root`` (none before its first
    commit); None when ``root`` is in no git work tree: then no seed can be told new."""
    paths = git.head_files(root, "seeds/")
    return None if paths is None else frozenset(path.removeprefix("seeds/") for path in paths)


def hash_mismatch(name: str, digest: str, committed: frozenset[str] | None) -> str:
    """What to say of seeds/``name``, whose SHA-256 ``digest`` is not the one its source gives: a seed that no
    commit has (``committed``, from :func:`committed_seeds`) is new, and its record merely wants the hash; a
    committed one has changed."""
    if committed is not None and name not in committed:
        return (f"new seed: sha256 should be {digest}, the SHA-256 of seeds/{name}: set it (or let "
                "`iraq-transition new sources ID --seed FILE` archive the text and write the record)")
    return (f"seeds/{name} has changed: its SHA-256 is {digest}. Seeds must stay byte-for-byte as archived; restore "
            "the file, or if the new text is right, set sha256 to the new value and re-check every citation of "
            "this source")
