"""The ``diff`` command: record-level changes between two git revisions or data directories.

Each side is a snapshot of data/: a git revision (resolved once to its commit id, then read with
``git ls-tree`` and ``git cat-file`` without touching the working tree), a directory given with
``--dir`` (a repository root or its data/), or, for a missing second side, the working tree.
Revisions and directories are never guessed from one another, so that a folder named like a
revision cannot stand in for it. Records are compared as data in canonical form, so a change of
formatting alone is no change, and lists by content (:func:`field_changes`), so that an item moved
is no change and an item inserted is one item added. Ids are stable: a renamed record shows as a removal plus an
addition, flagged as a likely rename when nothing but the id differs.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from . import git, load
from .fields import field_shapes, label_field
from .fmt import canonical, same
from .models import COLLECTIONS, Citation, EventLink, Framing, Participant, Position, Posture
from .problems import Problem, UsageError, print_problems, printable

RENAME_NOTE = "Ids are stable: a renamed record appears as a removal plus an addition."
MAX_SHOWN = 80
"""Longest value shown in full in Markdown; longer ones are cut with an ellipsis (JSON has them whole)."""
MAX_ITEM_SHOWN = 400
"""Longest list item (a citation added or removed whole) shown in full in Markdown."""
SYMLINK_MESSAGE = "symbolic link, not read: replace it with the record itself"
LINE_BREAK = re.compile(r"\r\n?|\n")
"""What ends a line in Markdown (inside a code span too, which would end a table row or list item)."""
MAX_DETAILED = 200
"""Most records detailed per collection in Markdown (the counts and JSON cover all of them)."""
MAX_FIELDS = 50
"""Most changed fields shown per record in Markdown."""
MAX_MESSAGE = 400
"""Longest message of an unreadable file shown in Markdown."""
MAX_MARKDOWN_BYTES = 900_000
"""Longest Markdown output: GitHub refuses a job summary over 1 MiB, and would show none of it."""
CUT_NOTE = "… the summary is cut here, to fit a job summary: `--format json` lists every change."


class _Absent:
    """The value of a field on the side where it does not exist."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


@dataclass
class Snapshot:
    """The records of one side: (collection, id) -> data with defaults filled in, and unreadable files."""

    label: str
    records: dict[tuple[str, str], dict] = field(default_factory=dict)
    unreadable: dict[tuple[str, str], Problem] = field(default_factory=dict)


@dataclass
class FieldChange:
    path: str  # dotted, e.g. "citations.0.quote"
    old: Any
    new: Any


@dataclass
class CollectionChanges:
    added: dict[str, dict] = field(default_factory=dict)
    removed: dict[str, dict] = field(default_factory=dict)
    changed: dict[str, list[FieldChange]] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)  # removed id -> added id with the same content


def run(args) -> int:
    """``iraq-transition diff BASE [HEAD]`` or ``diff --dir OLD [--dir NEW]``, ``[--format markdown|json|delta]``.
    A delta must be whole: with a file unreadable on either side, its problems instead, and exit status 1."""
    base, head = sides(args.root, args.base, args.head, args.dirs or [])
    if args.format == "delta" and (unreadable := sorted([*base.unreadable.values(), *head.unreadable.values()])):
        print_problems(unreadable, stream=sys.stderr)
        print(f"iraq-transition diff: {len(unreadable)} files could not be read, and a delta lists every change: "
              "none written; fix the files above first", file=sys.stderr)
        return 1
    changes = compare(base, head)
    render = {"json": to_json, "markdown": to_markdown, "delta": to_delta}[args.format]
    print(render(base, head, changes), end="")
    return 0


# --------------------------------------------------------------------------- reading snapshots


def sides(root: Path, base: str | None, head: str | None, directories: list[Path]) -> tuple[Snapshot, Snapshot]:
    """The two snapshots to compare: revisions ``base`` and ``head``, or ``directories`` (one or
    two); the working tree of ``root`` stands in for the second side when it is not given.
    Every revision is resolved before anything is read; UsageError for a revision or directory
    that does not exist, or for revisions and directories mixed."""
    if directories and base is not None:
        raise UsageError("compare either git revisions (BASE [HEAD]) or directories (--dir OLD [--dir NEW]), not both")
    if len(directories) > 2:
        raise UsageError("--dir is given once or twice: --dir OLD [--dir NEW]")
    if directories:
        for directory in directories:
            if not directory.is_dir():
                raise UsageError(f"--dir {str(directory)!r}: not a directory")
        data_dirs = [(str(directory), _data_directory(directory)) for directory in directories]
        snapshots = [_read_directory(data_dir, label, data_dir.parent) for label, data_dir in data_dirs]
    elif base is None:
        raise UsageError("say what to compare: git revisions BASE [HEAD], or directories --dir OLD [--dir NEW]")
    else:
        commits = [(revision, _commit_id(root, revision)) for revision in (base, head) if revision is not None]
        snapshots = [_read_revision(root, revision, commit) for revision, commit in commits]
    if len(snapshots) == 1:
        snapshots.append(_read_directory(root / "data", "working tree", root))
    return snapshots[0], snapshots[1]


def revision_snapshot(root: Path, revision: str) -> Snapshot:
    """The records of data/ at ``revision``; UsageError when git knows no such commit."""
    return _read_revision(root, revision, _commit_id(root, revision))


def _data_directory(directory: Path) -> Path:
    """The data/ of a repository root, or the directory itself."""
    return directory / "data" if (directory / "data").is_dir() else directory


def _read_directory(data_dir: Path, label: str, root: Path) -> Snapshot:
    """The records of ``data_dir`` as :func:`load.record_files` lists them; every other entry there (a symbolic
    link to a directory, a FIFO) is reported, and no symbolic link is followed: it could lead anywhere."""
    result = Snapshot(label)
    files, strays = load.record_files(load.Project(root), data_dir)
    for problem in strays:  # one named like a record leaves that record out of the comparison, as a link does
        result.unreadable[load.record_key(problem.path.partition("/")[2]) or ("", problem.path)] = problem
    for file in files:
        key = file.collection, file.stem
        if os.path.islink(file.path):  # one inside data/, which validate follows; a revision's side cannot
            result.unreadable[key] = Problem(file.display, 1, 1, SYMLINK_MESSAGE, code=load.UNREADABLE)
            continue
        try:
            content = load.read_bytes(file.path)
        except load.LoadError as error:
            result.unreadable[key] = error.problem(file.display)
            continue
        _add(result, file.collection, file.stem, file.display, content)
    return result


def _commit_id(root: Path, revision: str) -> str:
    """:func:`git.commit_id`, whose error says how to compare a directory when ``revision`` names one."""
    try:
        return git.commit_id(root, revision)
    except UsageError as error:
        if (Path.cwd() / revision).is_dir():
            raise UsageError(f"{error}; to compare the directory {revision!r}, write --dir {revision}") from None
        raise


def _read_revision(root: Path, label: str, commit: str) -> Snapshot:
    """The records of data/ at ``commit`` (a full commit id); files too large are not read."""
    listing = git.output(root, "ls-tree", "-r", "-z", "-l", "--end-of-options", commit, "--", "data/")
    result = Snapshot(label)
    wanted = []  # (collection, stem, path, object id)
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.decode("utf-8", errors="replace").partition("\t")
        mode, kind, object_id, size = meta.split()
        key = load.record_key(name.removeprefix("data/"))
        if kind != "blob" or key is None:
            continue
        if mode == "120000":
            result.unreadable[key] = Problem(name, 1, 1, SYMLINK_MESSAGE, code=load.UNREADABLE)
        elif not size.isdigit():  # git knows the file but has no copy of it
            raise _missing(name, label)
        elif int(size) > load.MAX_FILE_BYTES:
            result.unreadable[key] = Problem(name, 1, 1, f"file is larger than {load.MAX_FILE_BYTES:,} bytes",
                                             code=load.UNREADABLE)
        else:
            wanted.append((*key, name, object_id))
    blobs = git.output(root, "cat-file", "--batch", "--end-of-options", input="".join(f"{w[3]}\n" for w in wanted).encode())
    offset = 0
    for collection, stem, name, _ in wanted:
        header_end = blobs.index(b"\n", offset)
        header = blobs[offset:header_end].split()  # object id, type and size; or object id and "missing"
        if len(header) != 3:
            raise _missing(name, label)
        size = int(header[2])
        _add(result, collection, stem, name, blobs[header_end + 1 : header_end + 1 + size])
        offset = header_end + 1 + size + 1
    return result


def _missing(name: str, label: str) -> UsageError:
    return UsageError(f"git has no copy of {name} at {label} (a partial or damaged clone): "
                      "fetch the revision in full (git fetch --refetch), then run diff again")


def _add(result: Snapshot, collection: str, stem: str, shown: str, content: bytes) -> None:
    try:
        data = load.parse_yaml(load.decode(content))
    except load.LoadError as error:
        result.unreadable[collection, stem] = error.problem(shown)
        return
    if not isinstance(data, dict):
        result.unreadable[collection, stem] = Problem(shown, 1, 1, "not a mapping of field names to values",
                                                      code="not-a-record")
        return
    result.records[collection, stem] = canonical(data, COLLECTIONS[collection], fill_defaults=True)


# --------------------------------------------------------------------------- comparing


def compare(base: Snapshot, head: Snapshot) -> dict[str, CollectionChanges]:
    """Per collection (all of them, in order): records added, removed and changed, and likely renames.
    A record unreadable on either side is left out (it is reported as unreadable instead)."""
    changes = {collection: CollectionChanges() for collection in COLLECTIONS}
    skipped = base.unreadable.keys() | head.unreadable.keys()
    for key in sorted((base.records.keys() | head.records.keys()) - skipped):
        collection, record_id = key
        old, new = base.records.get(key), head.records.get(key)
        if old is None:
            changes[collection].added[record_id] = new
        elif new is None:
            changes[collection].removed[record_id] = old
        elif fields := field_changes(old, new, COLLECTIONS[collection]):
            changes[collection].changed[record_id] = fields
    for collection_changes in changes.values():
        collection_changes.renames = _likely_renames(collection_changes)
    return changes


IDENTITY: dict[type[BaseModel], tuple[str, ...]] = {
    Citation: ("source", "quote", "prefix", "suffix"),
    Participant: ("actor",),
    EventLink: ("event",),
    Framing: ("wording", "attributed_to"),
    Position: ("title", "organisation"),
    Posture: ("posture", "status", "actor", "reported", "effective", "description"),
}
"""The fields that tell an item of a list from the others: an item whose other fields change is the same item,
changed. Items of other lists (aliases) are told by all they hold."""


def field_changes(old: dict, new: dict, model: type[BaseModel] | None = None) -> list[FieldChange]:
    """Every leaf that differs, by dotted path, in the order of the new record then the old. Lists (of a record of
    ``model``) are compared by content: an item inserted is one item added (its path: its place in the new list), one
    deleted one item removed (its place in the old list), and an item moved is no change."""
    changes: list[FieldChange] = []
    _changes(old, new, model, "", changes)
    return changes


def _changes(old: Any, new: Any, model: type[BaseModel] | None, path: str, out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        nested = {shape.name: shape.model for shape in field_shapes(model)} if model else {}
        for key in [*new, *(key for key in old if key not in new)]:
            _changes(old.get(key, ABSENT), new.get(key, ABSENT), nested.get(key), _join(path, key), out)
    elif isinstance(old, list) and isinstance(new, list):
        _item_changes(old, new, model, path, out)
    elif not same(old, new):
        before, after = _leaves(old, path), _leaves(new, path)
        out.extend(
            FieldChange(leaf, before.get(leaf, ABSENT), after.get(leaf, ABSENT))
            for leaf in [*after, *(leaf for leaf in before if leaf not in after)]
            if not same(before.get(leaf, ABSENT), after.get(leaf, ABSENT))
        )


def _item_changes(old: list, new: list, model: type[BaseModel] | None, path: str, out: list[FieldChange]) -> None:
    """The changes between two lists of items of ``model`` (or of plain values): items equal on both sides are
    paired first, then items of the same identity (:data:`IDENTITY`), each in order."""
    pairs: dict[int, int] = {}  # new index -> old index
    for key in (_whole, functools.partial(_identity, IDENTITY.get(model))):
        unpaired: dict[str, collections.deque[int]] = {}
        paired = set(pairs.values())
        for index, item in enumerate(old):
            if index not in paired:
                unpaired.setdefault(key(item), collections.deque()).append(index)
        for index, item in enumerate(new):
            if index not in pairs and (waiting := unpaired.get(key(item))):
                pairs[index] = waiting.popleft()
    for index, item in enumerate(new):
        if index in pairs:
            _changes(old[pairs[index]], item, model, _join(path, index), out)
        else:
            out.append(FieldChange(_join(path, index), ABSENT, _item(item, model)))
    paired = set(pairs.values())
    out.extend(FieldChange(_join(path, index), _item(item, model), ABSENT)
               for index, item in enumerate(old) if index not in paired)


def _whole(item: Any) -> str:
    """A key equal for two items exactly when :func:`.fmt.same` holds (``1``, ``1.0`` and ``true`` differ)."""
    return json.dumps(item, sort_keys=True, ensure_ascii=False, default=repr)


def _identity(fields: tuple[str, ...] | None, item: Any) -> str:
    if fields is None or not isinstance(item, dict):
        return _whole(item)
    return _whole([item.get(name) for name in fields])


def _item(item: Any, model: type[BaseModel] | None) -> Any:
    """A list item added or removed whole, as its record would be written (defaults left out)."""
    return canonical(item, model) if model is not None else item


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, list) and value:
        items = enumerate(value)
    else:
        return {prefix: value}
    leaves = {}
    for key, item in items:
        leaves.update(_leaves(item, _join(prefix, key)))
    return leaves


def _likely_renames(changes: CollectionChanges) -> dict[str, str]:
    """Each removed record identical to an added one apart from its id, and the first such added record not taken
    by an earlier one: records grouped by their content without the id, linear in their number."""
    waiting: dict[str, collections.deque[str]] = {}
    for new_id, new in changes.added.items():
        waiting.setdefault(_whole({**new, "id": None}), collections.deque()).append(new_id)
    renames = {}
    for old_id, old in changes.removed.items():
        if candidates := waiting.get(_whole({**old, "id": None})):
            renames[old_id] = candidates.popleft()
    return renames


# --------------------------------------------------------------------------- output


def _jsonable(value: Any) -> Any:
    return None if value is ABSENT else value


def to_json(base: Snapshot, head: Snapshot, changes: dict[str, CollectionChanges]) -> str:
    """The changes as one JSON object; a field absent on one side has no "old" (or "new") key."""
    collections = {}
    for collection, c in changes.items():
        model = COLLECTIONS[collection]
        collections[collection] = {
            "added": [{"id": i, "record": canonical(r, model)} for i, r in c.added.items()],
            "removed": [{"id": i, "record": canonical(r, model)} for i, r in c.removed.items()],
            "changed": [
                {
                    "id": i,
                    "fields": [_field_json(f) for f in fields],
                }
                for i, fields in c.changed.items()
            ],
            "likely_renames": [{"from": old, "to": new} for old, new in c.renames.items()],
        }
    unreadable = [
        {"side": side.label, **vars(problem)}
        for side in (base, head)
        for problem in sorted(side.unreadable.values())
    ]
    document = {"base": base.label, "head": head.label, "note": RENAME_NOTE, "collections": collections, "unreadable": unreadable}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def to_delta(base: Snapshot, head: Snapshot, changes: dict[str, CollectionChanges]) -> str:
    """The changes as JSON lines, one a changed record, by collection then id: its ``op``, ``collection`` and ``id``,
    then for ADD the whole ``record``, for DEL the whole record as it was, for MOD its changed ``fields`` (each a
    ``path`` with its ``old`` and ``new`` value, a side where the field is absent left out)."""
    lines = []
    for collection, c in changes.items():
        model = COLLECTIONS[collection]
        entries = [(i, "ADD", {"record": canonical(r, model)}) for i, r in c.added.items()]
        entries += [(i, "DEL", {"record": canonical(r, model)}) for i, r in c.removed.items()]
        entries += [(i, "MOD", {"fields": [_field_json(f) for f in fields]}) for i, fields in c.changed.items()]
        for record_id, op, body in sorted(entries, key=lambda entry: entry[0]):
            line = {"op": op, "collection": collection, "id": record_id, **body}
            lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return "".join(lines)


def _field_json(change: FieldChange) -> dict[str, Any]:
    sides = (("old", change.old), ("new", change.new))
    return {"path": change.path, **{side: value for side, value in sides if value is not ABSENT}}


def to_markdown(base: Snapshot, head: Snapshot, changes: dict[str, CollectionChanges]) -> str:
    """A summary table of counts per collection, the unreadable files, then the details: fit for a
    pull-request comment or a job summary, whatever the size of the change (at most
    MAX_MARKDOWN_BYTES, with a last line saying where it was cut). Everything that comes from a
    record or a command line (ids, titles, values, field names, revisions, paths) is written as a
    code span, where nothing is markup: no HTML, links, mentions or headings, whatever a pull
    request puts in its records."""
    lines = [f"### Record changes from {code_span(base.label)} to {code_span(head.label)}", ""]
    totals = [sum(len(getattr(c, kind)) for c in changes.values()) for kind in ("added", "removed", "changed")]
    if not any(totals):
        lines.append("No record changes.")
    else:
        lines += ["| collection | added | removed | changed |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {len(c.added)} | {len(c.removed)} | {len(c.changed)} |" for name, c in changes.items()]
        lines += ["| **total** | {} | {} | {} |".format(*totals), "", RENAME_NOTE]
    problems = [(side.label, p) for side in (base, head) for p in sorted(side.unreadable.values())]
    if problems:
        lines += ["", "#### Unreadable files (left out of the comparison)", ""]
        lines += [f"- {code_span(label)}: {code_span(str(problem), MAX_MESSAGE)}" for label, problem in problems[:MAX_DETAILED]]
        if len(problems) > MAX_DETAILED:
            lines += ["", f"… and {len(problems) - MAX_DETAILED} more files: `--format json` lists them all."]
    for name, c in changes.items():
        lines += _collection_details(name, c)
    return "\n".join(_within(MAX_MARKDOWN_BYTES, lines)) + "\n"


def _within(limit: int, lines: list[str]) -> list[str]:
    """The first of ``lines`` that fit ``limit`` bytes (joined by line breaks, one at the end), then
    CUT_NOTE if some did not."""
    room = limit - len(CUT_NOTE.encode()) - 3  # the note, the blank line before it, and line breaks
    for index, line in enumerate(lines):
        room -= len(line.encode()) + 1
        if room < 0:
            return [*lines[:index], "", CUT_NOTE]
    return lines


def _collection_details(name: str, changes: CollectionChanges) -> list[str]:
    """The section of one collection: a line per added or removed record, a table per changed one
    (at most MAX_DETAILED records and MAX_FIELDS fields a record, so that a large change still fits
    a job summary)."""
    renamed_to = set(changes.renames.values())
    entries = []
    label = label_field(COLLECTIONS[name])
    for record_id, record in changes.added.items():
        note = " (likely a rename, see below)" if record_id in renamed_to else ""
        entries.append([f"- added {code_span(record_id)}{_headline(record, label)}{note}"])
    for record_id, record in changes.removed.items():
        if record_id in changes.renames:
            renamed = changes.renames[record_id]
            entries.append([f"- removed {code_span(record_id)}: likely renamed to {code_span(renamed)} (identical apart from the id)"])
        else:
            entries.append([f"- removed {code_span(record_id)}{_headline(record, label)}"])
    for record_id, fields in changes.changed.items():
        table = [f"| {_cell(f.path)} | {' | '.join(_cells(f.old, f.new))} |" for f in fields[:MAX_FIELDS]]
        if len(fields) > MAX_FIELDS:
            table += ["", f"… and {len(fields) - MAX_FIELDS} more fields: `--format json` lists them all."]
        entries.append(["", f"Changed {code_span(record_id)}:", "", "| field | old | new |", "| --- | --- | --- |", *table])
    if not entries:
        return []
    lines = ["", f"#### {name}"]
    if entries[0][0]:
        lines.append("")
    for entry in entries[:MAX_DETAILED]:
        lines += entry
    if len(entries) > MAX_DETAILED:
        lines += ["", f"… and {len(entries) - MAX_DETAILED} more records: `--format json` lists them all."]
    return lines


def _headline(record: dict, label: str) -> str:
    """``: <label>`` of a record, where its label field (:func:`.fields.label_field`) holds a text."""
    return f": {code_span(record[label])}" if isinstance(record.get(label), str) else ""


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cells(old: Any, new: Any) -> tuple[str, str]:
    """Table cells for a changed value; long texts start shortly before their first difference."""
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > MAX_SHOWN:
        start = max(0, len(os.path.commonprefix([old, new])) - MAX_SHOWN // 4)
        if start:
            old, new = "…" + old[start:], "…" + new[start:]
    return _cell(old), _cell(new)


def _cell(value: Any) -> str:
    """A table cell: a code span with its pipes escaped (GFM splits cells before reading code spans)."""
    if value is ABSENT:
        return "*(absent)*"
    return code_span(value, MAX_ITEM_SHOWN if isinstance(value, (dict, list)) else MAX_SHOWN).replace("|", "\\|")


def code_span(value: Any, limit: int = MAX_SHOWN) -> str:
    """``value`` as a Markdown code span on one line: strings as they are (line breaks shown as ↵,
    other control characters and bidirectional overrides as escapes, :func:`printable`, so
    that no text shows reordered), other values as JSON; at most ``limit`` characters. Its fence
    is longer than any run of backticks inside, so that the text cannot close it early."""
    text = value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)
    text = _shorten(printable(LINE_BREAK.sub("↵", text)), limit)
    fence = "`" * (_longest_backtick_run(text) + 1)
    # A space each side keeps a backtick off the fence (and an empty span a span); Markdown
    # removes one space each side when there is one each side.
    padding = " " if "`" in (text[:1], text[-1:]) or text[:1] == text[-1:] == " " or not text else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest
