"""Load step: find record files and read them as YAML safely, with line and column of every node.

YAML is read event by event with libyaml (``yaml.cyaml.CParser``) and turned into plain
Python data here, so that nothing dangerous is ever built: tags, anchors and aliases
(including alias bombs, rejected before any expansion), duplicate keys, nesting deeper
than :data:`MAX_DEPTH` and files over :data:`MAX_FILE_BYTES` are errors. Plain scalars
are resolved like PyYAML's SafeLoader (YAML 1.1) with one exception: there is no timestamp
resolver, so an unquoted ``2024-09-27`` stays the string ``'2024-09-27'`` (as in YAML 1.2)
and never becomes a date. A plain scalar that YAML 1.2 (the core schema of editors and most
other tools) reads as another value than YAML 1.1 (``0700``, ``1:30``, ``1_000``, ``yes``,
``0o17``, ``1e3``) is an error, so that every reader of a record sees the same values.
Mapping keys are always taken as written (strings).

Positions cost time, so :func:`parse_yaml` records them only when asked: validation parses
every file once without them, and again with them only for a file that has a problem.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISLNK, S_ISREG
from typing import Any, NamedTuple

import yaml
from yaml.cyaml import CParser
from yaml.nodes import ScalarNode

from .models import COLLECTIONS
from .problems import UNPRINTABLE, Problem, UsageError, printable

MAX_FILE_BYTES = 1_000_000
"""Largest record or seed file accepted (1 MB)."""
NO_FOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
"""How a file of the work tree that must be a regular file is opened: never through a symbolic link, never
waiting (on a FIFO), never as a terminal; the opener then checks the descriptor is a regular file."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted in a record."""
INT64 = range(-(2**63), 2**63)
RECORD_SUFFIX = ".yaml"

# The codes (:data:`.problems.CODES`) of the problems found here.
UNREADABLE, MISPLACED, SYNTAX, CONSTRUCT = "file-unreadable", "file-misplaced", "yaml-syntax", "yaml-construct"


@dataclass(frozen=True)
class Project:
    """The repository a command works on, and where its parts live."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def seeds_dir(self) -> Path:
        return self.root / "seeds"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def schema_dir(self) -> Path:
        return self.root / "schema"


class LoadError(Exception):
    """A file that cannot be read as one safe YAML mapping, at a 1-based line and column; ``code`` is the kind of
    problem, one of :data:`.problems.CODES`."""

    def __init__(self, line: int, col: int, message: str, code: str):
        super().__init__(message)
        self.line, self.col, self.message, self.code = line, col, message, code

    def problem(self, display: str, record: str | None = None) -> Problem:
        """This error as the problem of the file shown as ``display`` (of the record labelled ``record``)."""
        return Problem(display, self.line, self.col, self.message, record, code=self.code)


# --------------------------------------------------------------------------- bytes and text


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a file no larger than MAX_FILE_BYTES; LoadError (at 1:1) otherwise."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise LoadError(1, 1, "is a directory, not a file: remove it or move its contents", UNREADABLE) from None
    except OSError as error:
        raise LoadError(1, 1, f"cannot read the file ({error.strerror or error}): check its permissions", UNREADABLE) from None
    if len(data) > MAX_FILE_BYTES:
        raise LoadError(1, 1, f"file is larger than {MAX_FILE_BYTES:,} bytes: a record must be small; split it or trim it",
                        UNREADABLE)
    return data


def decode(data: bytes) -> str:
    """UTF-8 text of ``data`` (a leading byte-order mark is dropped); LoadError at the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, col = position_of_offset(data, error.start)
        raise LoadError(line, col, f"invalid UTF-8 (byte 0x{data[error.start]:02x}): save the file as UTF-8",
                        UNREADABLE) from None
    return text[1:] if text.startswith("\ufeff") else text


def position_of_offset(text: bytes | str, offset: int) -> tuple[int, int]:
    """1-based line and column of the character (or byte) at ``offset``."""
    newline = b"\n" if isinstance(text, bytes) else "\n"
    line_start = text.rfind(newline, 0, offset) + 1
    return text.count(newline, 0, offset) + 1, offset - line_start + 1


class WriteError(OSError):
    """A file :func:`write_files` could not write (``filename``), having written none of its files: a command
    that writes through one call of it has changed nothing."""


def ensure_real_directories(root: Path, path: Path) -> None:
    """UsageError naming the first directory between ``root`` and ``path`` (``root`` joined with a relative path)
    that is a symbolic link: a command never reads or writes outside the repository through one. ``root`` itself
    may be reached through links; ``path`` itself may be a link (it is replaced, not written through)."""
    directory = root
    for part in path.parent.relative_to(root).parts:
        directory = directory / part
        try:
            linked = S_ISLNK(os.lstat(directory).st_mode)
        except OSError:  # missing (made by the writer) or unreadable (the writer will say why)
            return
        if linked:
            shown = printable(directory.relative_to(root).as_posix())
            raise UsageError(f"{shown}/ is a symbolic link: iraq-transition never reads or writes through one (it "
                             "could lead outside the repository): nothing was done; replace it with a real directory")


def write_files(root: Path, files: dict[Path, str]) -> None:
    """Write every file of ``files`` (path under ``root`` -> text, UTF-8 with LF) or none of them.

    No directory on the way from ``root`` may be a symbolic link (:func:`ensure_real_directories`). Each
    text goes to a temporary file beside its target, and only once all are written do they replace their
    targets, so that a read-only or full disk leaves every file as it was (and no directory made for them):
    WriteError then. Should replacing a later target fail, OSError.
    """
    for path in files:
        ensure_real_directories(root, path)
    made: list[Path] = []
    staged: list[tuple[str, Path]] = []
    try:
        for directory in dict.fromkeys(path.parent for path in files):
            if os.path.lexists(directory) and not directory.is_dir():
                raise WriteError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory))
            if not directory.is_dir():
                _naming(directory, directory.mkdir)
                made.append(directory)
        for path, text in files.items():
            staged.append((_naming(path, _stage, path, text), path))
        for done, (temporary, path) in enumerate(staged):
            _naming(path, os.replace, temporary, path, error_class=OSError if done else WriteError)
    except BaseException:
        for temporary, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def _naming(path: Path, function, *args, error_class: type[OSError] = WriteError) -> Any:
    """``function(*args)``, with an OSError it raises naming ``path`` (not a temporary file)."""
    try:
        return function(*args)
    except OSError as error:
        raise error_class(error.errno, error.strerror, str(path)) from None


def _stage(path: Path, text: str) -> str:
    """A temporary file beside ``path`` holding ``text``, with the mode ``path`` has (or a new file gets)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, _mode_for(path))
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def _mode_for(path: Path) -> int:
    """The permissions ``path`` has if it is a regular file, or those a new file gets (the umask applied): a
    symbolic link it replaces is not followed."""
    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(path).st_mode
        if S_ISREG(mode):
            return mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --------------------------------------------------------------------------- YAML

_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_CONSTRUCT = {
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
}


_CORE_SCHEMA = (  # YAML 1.2's core schema, as editors (yaml-language-server) and most other tools read YAML
    (re.compile(r"~|null|Null|NULL|"), lambda text: None),
    (re.compile(r"true|True|TRUE|false|False|FALSE"), lambda text: text[0] in "tT"),
    (re.compile(r"[-+]?[0-9]+"), int),
    (re.compile(r"0o[0-7]+"), lambda text: int(text[2:], 8)),
    (re.compile(r"0x[0-9a-fA-F]+"), lambda text: int(text[2:], 16)),
    (re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"), float),
    (re.compile(r"[-+]?\.(?:inf|Inf|INF)"), lambda text: -math.inf if text[0] == "-" else math.inf),
    (re.compile(r"\.(?:nan|NaN|NAN)"), lambda text: math.nan),
)
_SPEC_1_1_BOOLEANS = {"y": True, "Y": True, "n": False, "N": False}
"""Booleans of the YAML 1.1 specification that PyYAML does not resolve (a strict YAML 1.1 reader does)."""
_CORE_NOT_TEXT_START = frozenset("0123456789+-.")
"""First characters of the scalars YAML 1.2 may read as something else where YAML 1.1 reads text."""


class AmbiguousScalar(ValueError):
    """A plain scalar that YAML 1.1 and YAML 1.2 read as different values."""


def plain_scalar(value: str) -> Any:
    """The value of an unquoted scalar as both YAML 1.1 (PyYAML's SafeLoader, no timestamps) and YAML 1.2
    (core schema) read it: a boolean, number, null or the string; AmbiguousScalar when their readings differ."""
    yaml_1_1: Any = _SPEC_1_1_BOOLEANS.get(value, value)
    for tag, pattern in _RESOLVERS.get(value[:1], ()):
        if tag in _CONSTRUCT and pattern.match(value):
            yaml_1_1 = _CONSTRUCT[tag](ScalarNode(tag, value))
            break
    if yaml_1_1 is value and value[:1] not in _CORE_NOT_TEXT_START:
        return value  # text, and text in YAML 1.2 too: the common case, decided without a second reading
    yaml_1_2 = next((construct(value) for pattern, construct in _CORE_SCHEMA if pattern.fullmatch(value)), value)
    if type(yaml_1_1) is not type(yaml_1_2) or (yaml_1_1 != yaml_1_2 and yaml_1_1 == yaml_1_1):  # nan is nan
        raise AmbiguousScalar(_ambiguity(value, yaml_1_1, yaml_1_2))
    return yaml_1_1


def _ambiguity(text: str, yaml_1_1: Any, yaml_1_2: Any) -> str:
    """What the two YAML versions make of ``text``, and what to write instead."""
    numbers = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in (yaml_1_1, yaml_1_2)]
    shown = _cut(text)
    second = _cut(repr(yaml_1_2)) if all(numbers) else _reading(yaml_1_2)
    hint = "write the number plainly" if any(numbers) else "write true or false"
    return (
        f"`{shown}` is read as {_reading(yaml_1_1)} by YAML 1.1 and {second} by YAML 1.2: "
        f"quote it ('{shown}') if it is text, or {hint}"
    )


def _reading(value: Any) -> str:
    """A scalar's value in words: 'the number 448', 'the text '1:30'', 'the boolean true', 'null'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"the text {_cut(repr(value))}"
    return f"the number {_cut(repr(value))}"


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


Positions = dict[tuple, tuple[int, int, int, int]]
"""loc (keys and list indices, as in Pydantic errors) -> (key line, key col, value line, value col)."""


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep: flatten it"
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"


class _LibyamlTooDeep(Exception):
    """libyaml's own nesting limit, reached at ``offset`` (a character index), 1-based ``line`` and ``col``."""

    def __init__(self, offset: int, line: int, col: int):
        super().__init__(offset, line, col)
        self.offset, self.line, self.col = offset, line, col


def parse_yaml(text: str, positions: Positions | None = None) -> Any:
    """The one YAML document in ``text`` as plain data (dict, list, str, int, float, bool, None).

    Raises LoadError for anything unsafe or malformed. When ``positions`` is given, it is
    filled with the 1-based position of every node (see :data:`Positions`).
    """
    try:
        return _parse(text, positions)
    except _LibyamlTooDeep as deep:
        # libyaml 0.2.5 and later stop nesting of their own (at 1,000 levels), and in flow style
        # ("[[[...") their scanner reads that far ahead before this module is handed the level that
        # passes MAX_DEPTH. The text before libyaml's stop holds that level: parse it again to
        # report the same located error as for any other too-deep record.
        try:
            _parse(text[: deep.offset], None)
        except LoadError as error:
            if error.message == _TOO_DEEP:
                raise error from None
        except _LibyamlTooDeep:
            pass
        raise LoadError(deep.line, deep.col, _TOO_DEEP, CONSTRUCT) from None


def _parse(text: str, positions: Positions | None) -> Any:
    parser = CParser(text)
    try:
        return _build(parser, positions)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if error.problem == _LIBYAML_TOO_DEEP and mark is not None:
            raise _LibyamlTooDeep(mark.index, mark.line + 1, mark.column + 1) from None
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        context = f" ({error.context})" if error.context else ""
        raise LoadError(line, col, f"YAML syntax error: {error.problem}{context}: check indentation and quoting",
                        SYNTAX) from None
    except yaml.reader.ReaderError as error:
        line, col = position_of_offset(text, error.position)
        raise LoadError(line, col, f"character U+{error.character:04X} is not allowed in YAML ({error.reason}): remove it",
                        SYNTAX) from None
    except yaml.YAMLError as error:
        raise LoadError(1, 1, f"YAML error: {error}", SYNTAX) from None
    finally:
        parser.dispose()


_Scalar, _MappingStart, _SequenceStart = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
_Ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _error(event: yaml.Event, message: str, code: str = CONSTRUCT) -> LoadError:
    mark = event.start_mark
    return LoadError(mark.line + 1, mark.column + 1, message, code)


def _build(parser: CParser, positions: Positions | None) -> Any:
    """Assemble the events of one document into plain data, with an explicit stack (no recursion).

    Locations (loc tuples, as in Pydantic errors) are built only when ``positions`` is wanted.
    """
    get_event = parser.get_event
    get_event()  # StreamStartEvent
    if isinstance(get_event(), yaml.StreamEndEvent):
        raise LoadError(1, 1, "file is empty: write the record's fields (id: ...) here", "not-a-record")
    # Stack entries: [container, its loc, pending key (None: expecting a key), the key's event]
    stack: list[list] = []
    root: Any = None
    while True:
        event = get_event()
        kind = type(event)
        if kind in _Ends:
            stack.pop()
            continue
        if kind is yaml.DocumentEndEvent:
            break
        if kind is yaml.AliasEvent:
            raise _error(event, f"alias *{event.anchor} is not allowed: write the value out in full")
        if event.anchor is not None:
            raise _error(event, f"anchor &{event.anchor} is not allowed: write values out in full")
        if event.tag is not None:
            raise _error(event, f"tag {event.tag} is not allowed: remove it (quote the value if it must stay text)")
        parent = stack[-1] if stack else None
        if parent is not None:
            container = parent[0]
            if type(container) is dict:
                key = parent[2]
                if key is None:  # this event is a key
                    if kind is not _Scalar:
                        raise _error(event, "a key must be a plain name, not a list or mapping")
                    if event.value in container:
                        raise _error(event, f"duplicate key {event.value!r}: keep one of them")
                    parent[2], parent[3] = event.value, event
                    continue
                parent[2] = None
        if kind is _Scalar:
            value = event.value
            if event.style == "":
                try:
                    value = plain_scalar(value)
                except AmbiguousScalar as error:
                    raise _error(event, str(error), "yaml-ambiguous") from None
                except ValueError:
                    raise _error(event, "number is too long: quote it if it is text") from None
                if type(value) is int and value not in INT64:
                    raise _error(event, "number is out of range (64-bit integers only)")
        elif kind is _MappingStart or kind is _SequenceStart:
            if len(stack) >= MAX_DEPTH:
                raise _error(event, _TOO_DEEP)
            value = {} if kind is _MappingStart else []
        else:  # pragma: no cover - libyaml emits no other event inside a document
            raise _error(event, f"unexpected YAML event {kind.__name__}", SYNTAX)
        loc = None
        if positions is not None:
            if parent is None:
                loc, key_event = (), event
            elif type(container) is dict:
                loc, key_event = parent[1] + (key,), parent[3]
            else:
                loc, key_event = parent[1] + (len(container),), event
            key_mark, mark = key_event.start_mark, event.start_mark
            positions[loc] = (key_mark.line + 1, key_mark.column + 1, mark.line + 1, mark.column + 1)
        if parent is None:
            root = value
        elif type(container) is dict:
            container[key] = value
        else:
            container.append(value)
        if kind is not _Scalar:
            stack.append([value, loc, None, None])
    event = get_event()
    if not isinstance(event, yaml.StreamEndEvent):
        raise _error(event, "a second YAML document ('---'): one record per file")
    return root


def load_yaml(path: Path, display: str | None = None) -> tuple[Any, list[Problem]]:
    """Read and parse one YAML file: (data, []) or (None, [the located problem])."""
    try:
        return parse_yaml(decode(read_bytes(path))), []
    except LoadError as error:
        return None, [error.problem(display or str(path))]


# --------------------------------------------------------------------------- finding record files


class RecordFile(NamedTuple):
    """A file that should hold one record: ``data/<collection>/<stem>.yaml``."""

    path: str  # as the file system is asked for it (under the project's root)
    display: str  # the path as printed in problems (relative to the root, printable)
    collection: str
    stem: str

    @property
    def label(self) -> str:
        """``collection/stem``, as printed in problems (:func:`printable`)."""
        return f"{self.collection}/{printable(self.stem)}"


def display_path(project: Project, path: Path) -> str:
    """``path`` relative to the root (POSIX separators) when inside it, else as given; :func:`printable`."""
    try:
        return printable(path.relative_to(project.root).as_posix())
    except ValueError:
        return printable(str(path))


def is_record_name(name: str) -> bool:
    """Whether a file named ``name`` in a collection's directory is a record file (``<id>.yaml``)."""
    return name.endswith(RECORD_SUFFIX) and name != RECORD_SUFFIX


def record_key(path: str) -> tuple[str, str] | None:
    """(collection, id) of a record file's path below the data directory (``events/some-id.yaml``, POSIX
    separators); None for a path where no record can be."""
    parts = path.split("/")
    if len(parts) == 2 and parts[0] in COLLECTIONS and is_record_name(parts[1]):
        return parts[0], parts[1].removesuffix(RECORD_SUFFIX)
    return None


def record_files(project: Project, data_dir: Path | None = None) -> tuple[list[RecordFile], list[Problem]]:
    """Every record file under data/ (or ``data_dir``, under the root) sorted, and a problem for every other entry
    there; none but a problem if data/ itself is a symbolic link (it could lead anywhere)."""
    files: list[RecordFile] = []
    problems: list[Problem] = []
    data_dir = project.data_dir if data_dir is None else data_dir
    known = ", ".join(COLLECTIONS)

    def stray(path: Path, message: str, code: str) -> None:
        problems.append(Problem(display_path(project, path), 1, 1, message, code=code))

    if os.path.islink(data_dir):
        stray(data_dir, f"a symbolic link, not a directory: records are read only from a real {data_dir.name}/ "
                        "directory of the repository; replace the link with the directory itself", UNREADABLE)
        return files, problems
    for entry in sorted(_entries(data_dir, stray), key=lambda entry: entry.name):
        path = data_dir / entry.name
        if entry.is_dir(follow_symlinks=False) and entry.name in COLLECTIONS:
            files.extend(_collection_files(project, data_dir, entry.name, stray))
        elif entry.is_dir(follow_symlinks=False):
            stray(path, f"unknown collection directory {entry.name!r}: records go in data/<collection>/, one of {known}",
                  MISPLACED)
        elif entry.is_symlink() and entry.name in COLLECTIONS:
            stray(path, f"a symbolic link, not a directory: make data/{entry.name}/ a directory holding the records",
                  UNREADABLE)
        else:
            stray(path, f"not a record: records go in data/<collection>/<id>.yaml, with collection one of {known}",
                  MISPLACED)
    return files, problems


def _collection_files(project: Project, data_dir: Path, collection: str, stray) -> list[RecordFile]:
    directory = data_dir / collection
    shown = display_path(project, directory)
    entries = _entries(directory, stray)
    names = [  # regular record files, the common case, decided without a system call
        entry.name for entry in entries
        if is_record_name(entry.name) and entry.is_file(follow_symlinks=False)
    ]
    if len(names) < len(entries):
        regular = set(names)
        names += _irregular(directory, collection, [entry for entry in entries if entry.name not in regular], stray)
    names.sort()
    prefix, display_prefix, cut = f"{directory}{os.sep}", f"{shown}/", len(RECORD_SUFFIX)
    make = functools.partial(tuple.__new__, RecordFile)  # a third of the time of RecordFile(...), for 100k files
    joined = "/".join(names)
    plain = joined.isascii() and joined.isprintable()  # no character of UNPRINTABLE, at a fraction of its search
    shown_names = map(printable, names) if not plain and UNPRINTABLE.search(joined) else names
    return [
        make((prefix + name, display_prefix + shown_name, collection, name[:-cut]))
        for name, shown_name in zip(names, shown_names)
    ]


def _irregular(directory: Path, collection: str, entries: list[os.DirEntry], stray) -> list[str]:
    """Report the entries of a collection's ``directory`` that are not regular record files; the names of those that
    are records all the same (symbolic links to record files inside data/)."""
    names = []
    data_dir = directory.parent.resolve()
    for entry in entries:
        path = directory / entry.name
        try:
            problem = _irregular_problem(entry, path, collection, data_dir)
        except OSError as error:  # a loop of symbolic links, or one too long to follow
            problem = (f"a symbolic link that cannot be followed ({error.strerror}): replace it with the record itself",
                       UNREADABLE)
        if problem:
            stray(path, *problem)
        else:
            names.append(entry.name)
    return names


def _irregular_problem(entry: os.DirEntry, path: Path, collection: str, data_dir: Path) -> tuple[str, str] | None:
    """What is wrong with an entry of a collection's directory that is not a regular record file, and its code
    (None: it is a record all the same)."""
    stem, suffix = os.path.splitext(entry.name)
    if entry.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(data_dir):
        return "symbolic link, not read: it leads outside data/; replace it with the record itself", UNREADABLE
    if entry.is_dir():
        return f"a directory inside data/{collection}/: records go directly in data/{collection}/<id>.yaml", MISPLACED
    if not entry.is_file():
        return ("not a regular file (a pipe, socket or device, or a broken link): replace it with a record file",
                UNREADABLE)
    if suffix != RECORD_SUFFIX:
        hint = f"rename it to {stem}.yaml" if suffix in (".yml", ".YAML", ".YML") else "remove it"
        return f"not a record file (record files end in .yaml): {hint}", MISPLACED
    return None


def _entries(directory: Path, stray) -> list[os.DirEntry]:
    """The entries of ``directory``; none (and a problem) if it cannot be listed."""
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError as error:
        advice = "replace the links with a real directory" if error.errno == errno.ELOOP else "check its permissions"
        stray(directory, f"cannot list the directory ({error.strerror or error}): {advice}", UNREADABLE)
        return []
