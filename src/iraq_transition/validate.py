"""Validate step: every record against its model, then the checks that span records, seeds and citations.

The API the other commands use: :func:`validate_project` (the :class:`Dataset` of valid records, and every
problem), :func:`check_project` (the problems alone), and the ``validate`` command (:func:`run`). The work is
:mod:`.engine`'s (what to check again, on every core), over :mod:`.records` (one file), :mod:`.crosscheck` and
:mod:`.seedcheck` (what spans files), with the cache of :mod:`.store`. Every problem is reported, located at
``path:line:col`` of the YAML node it concerns; nothing stops at the first error.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import git
from .engine import Run
from .hints import MAX_HINTS, with_hints
from .load import RECORD_SUFFIX, LoadError, Project, read_bytes, record_files, record_key
from .models import COLLECTIONS, Record
from .problems import Problem, UsageError, print_problems, summary
from .records import check_file
from .store import Store, Unreadable, code_version, row_key, seal, unseal

Spans = dict[tuple, tuple[int, int]]
"""Where a record's citations are in their sources' texts: loc of the citation -> (start, end) offsets."""


class Dataset:
    """The valid records without problems, loaded as they are asked for, and the source texts."""

    def __init__(
        self,
        entries: dict[str, list[tuple[str, Callable[[], Record]]]],
        texts: dict[str, str],
        spans: dict[str, list[Callable[[], Spans]]] | None = None,
        reconnect: Callable[[], None] = lambda: None,
        kept: _KeptRecords | None = None,
    ):
        self._entries = entries  # collection -> (id, loader) in id order, for every collection in COLLECTIONS order
        self.texts = texts  # source id -> full article text, exactly as in seeds/
        self._spans = spans or {}  # collection -> loader of each record's spans, as validation found them
        self.reconnect = reconnect  # in a forked process, before loading: reopen what the loaders read from
        self._kept = kept  # the cache, where what the build makes of each record is kept (None: nowhere)
        self._records: dict[str, dict[str, Record]] | None = None

    @property
    def records(self) -> dict[str, dict[str, Record]]:
        """Every record, loaded and kept: collection -> id -> record (in COLLECTIONS order, ids sorted)."""
        if self._records is None:
            self._records = {collection: dict(self.items(collection)) for collection in self._entries}
        return self._records

    @property
    def size(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    def items(self, collection: str) -> Iterator[tuple[str, Record]]:
        """The records of ``collection`` as (id, record) in id order, each loaded as it is given (unless all are)."""
        if self._records is not None:
            return iter(self._records.get(collection, {}).items())
        return ((record_id, load()) for record_id, load in self._entries.get(collection, ()))

    def located_items(self, collection: str) -> Iterator[tuple[str, Record, Spans]]:
        """:meth:`items` with the spans validation found for each record's citations (empty when it has none at hand)."""
        spans = self._spans.get(collection)
        if spans is None:
            return ((record_id, record, {}) for record_id, record in self.items(collection))
        return ((record_id, record, load()) for (record_id, record), load in zip(self.items(collection), spans))

    def made_items(self, collection: str, make: Callable[[str, Record, Spans], Any],
                   fits: Callable[[str, Any], bool]) -> Iterator[tuple[Any, tuple | None]]:
        """``make(id, record, spans)`` (plain data) of each record of ``collection`` in id order: as kept from an earlier
        build of the same file and seeds' texts by the same code (the record is not loaded), if ``fits(id, value)``
        says it has the shape ``make`` gives, else made now. Each comes with what :meth:`keep` is to keep of it
        (None: nothing, or kept already)."""
        if self._kept is not None and self._records is None:
            return self._kept.made_items(collection, make, fits)
        return ((make(record_id, record, spans), None) for record_id, record, spans in self.located_items(collection))

    def keep(self, made: list[tuple]) -> None:
        """Keep in the cache what :meth:`made_items` made now, for the next build."""
        if self._kept is not None:
            self._kept.keep(made)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and (self.records, self.texts) == (other.records, other.texts)

    __hash__ = None  # type: ignore[assignment]


BATCH = 500
"""Records read from the cache at a time."""


class _KeptRecords:
    """The kept records of a run, read when wanted: from the cache a batch at a time, else as the run kept them, else
    from their files again (a damaged or replaced row is a cache miss)."""

    def __init__(self, run: Run, store: Store | None):
        self.run, self.store = run, store
        self.batch: dict[int, tuple[Any, Spans]] = {}
        self.orders: dict[str, list[int]] = {}  # collection -> the kept files' indexes in id order
        self.reread: set[int] = set()  # files read again (their cached record was damaged): nothing made is kept

    def record(self, order: list[int], at: int) -> Record:
        return self._get(order, at)[0]

    def spans(self, order: list[int], at: int) -> Spans:
        return self._get(order, at)[1]

    def _get(self, order: list[int], at: int) -> tuple[Record, Spans]:
        if order[at] not in self.batch:
            self.batch = self._read(order[at: at + BATCH])
        return self._loaded(order[at])

    def _loaded(self, index: int) -> tuple[Record, Spans]:
        """The record (validated into its model) and spans of a file of the batch read."""
        record, spans = self.batch[index]
        if not isinstance(record, COLLECTIONS[self.run.files[index].collection]):
            record = COLLECTIONS[self.run.files[index].collection].model_validate(record)
            self.batch[index] = (record, spans)
        return record, spans

    def _read(self, indexes: list[int]) -> dict[int, tuple[Any, Spans]]:
        run, found = self.run, {}
        for index in indexes:
            if index in run.records:
                data, spans = run.records[index]
                found[index] = (marshal.loads(data), dict(spans))
        rows = {run.rows[index]: index for index in indexes if index not in found and run.rows[index] is not None}
        if self.store is not None and rows:
            try:
                fetched = self.store.query_many("select id, sha256, record, cited from files where id in ({})", list(rows))
            except Unreadable:
                fetched = []
            for row, digest, record, cited in fetched:
                index = rows[row]
                with contextlib.suppress(Unreadable, TypeError, ValueError):
                    key = row_key(run.paths[index], digest)
                    content, (_, texts, spans) = unseal(record, key), unseal(cited, key)
                    held = all(run.seeds.texts.digests.get(source) == text for source, text, _ in texts)
                    found[index] = (content, dict(spans) if held else {})
        for index in indexes:
            if index not in found:
                found[index] = (self._again(index), {})
                self.reread.add(index)
        return found

    @functools.cached_property
    def _made_key(self) -> bytes:
        """What every kept made is sealed with besides its file: the code's version and each source text's SHA-256."""
        texts = marshal.dumps(sorted(self.run.seeds.texts.digests.items()), 0)
        return hashlib.sha256(code_version().encode() + b"\0" + texts).digest()

    def made_items(self, collection: str, make: Callable[[str, Record, Spans], Any],
                   fits: Callable[[str, Any], bool]) -> Iterator[tuple[Any, tuple | None]]:
        """:meth:`Dataset.made_items`: a batch of files at a time, what the cache holds of them, then the others read
        and made."""
        run, order = self.run, self.orders[collection]
        for start in range(0, len(order), BATCH):
            part = order[start: start + BATCH]
            keys, held = self._made(part)
            held = {index: value for index, value in held.items() if fits(run.files[index].stem, value)}
            self.batch = self._read([index for index in part if index not in held])
            for index in part:
                if index in held:
                    yield held[index], None
                    continue
                value = make(run.files[index].stem, *self._loaded(index))
                key = keys.get(index) if index not in self.reread else None
                yield value, (run.rows[index], seal(value, key)) if key is not None else None

    def _made(self, indexes: list[int]) -> tuple[dict[int, bytes], dict[int, Any]]:
        """What the made of these files is sealed with (of those the cache has a row of), and what the cache holds of
        it (a blob that fails its check is a cache miss)."""
        run = self.run
        rows = {run.rows[index]: index for index in indexes if run.rows[index] is not None}
        keys: dict[int, bytes] = {}
        held: dict[int, Any] = {}
        if self.store is None or not rows:
            return keys, held
        with contextlib.suppress(Unreadable):
            for row, digest, blob in self.store.query_many(
                    "select files.id, sha256, made.blob from files left join made on made.id = files.id "
                    "where files.id in ({})", list(rows)):
                index = rows[row]
                keys[index] = key = row_key(run.paths[index], digest) + self._made_key
                if blob is not None:
                    with contextlib.suppress(Unreadable):
                        held[index] = unseal(blob, key)
        return keys, held

    def keep(self, made: list[tuple]) -> None:
        if self.store is not None:
            self.store.write_apart("insert or replace into made select ?, ? where exists (select 1 from files where id = ?)",
                                   [(row, blob, row) for row, blob in made])  # a row replaced meanwhile: nothing kept

    def reconnect(self) -> None:
        """Read the cache through a connection of this process's own (in a process forked from the run's)."""
        if self.store is not None:
            self.store = self.store.reopened()

    def _again(self, index: int) -> Record:
        """The record of a file read and checked again (its cached row is damaged or was replaced)."""
        file = self.run.files[index]
        try:
            record = check_file(file, read_bytes(file.path)).record
        except LoadError:
            record = None
        if record is None:
            raise UsageError(f"{file.display} changed while it was being checked: run the command again")
        return record

    def dataset(self) -> Dataset:
        """The run's kept records, each loaded when it is wanted, with its spans."""
        files, kept = self.run.files, {collection: [] for collection in COLLECTIONS}
        for index in self.run.kept:
            kept[files[index].collection].append(index)
        entries, spans = {}, {}
        self.orders = kept
        for collection, order in kept.items():
            order.sort(key=lambda index: files[index].stem)
            entries[collection] = [(files[index].stem, functools.partial(self.record, order, at))
                                   for at, index in enumerate(order)]
            spans[collection] = [functools.partial(self.spans, order, at) for at in range(len(order))]
        texts = self.run.seeds.texts
        return Dataset(entries, {files[index].stem: text for index in kept["sources"]
                                 if (text := texts.get(files[index].stem)) is not None}, spans, self.reconnect, self)


def validate_project(
    project: Project, paths: list[Path] | None = None, changed_since: str | None = None, use_cache: bool = True,
    cache_dir: Path | None = None,
) -> tuple[Dataset, list[Problem]]:
    """Load and validate every record, seed and citation of ``project``.

    Problems are sorted. With ``paths``, only problems in those files or directories are
    reported (references still resolve against the whole dataset). With ``changed_since``
    (a git revision), only problems of the records changed since then and of the records
    that reference them. The dataset holds only records without problems, loaded as they are
    wanted. ``use_cache`` reuses (and updates) the results of the last run (see :mod:`.store`, in
    ``cache_dir`` if given); the results are the same either way.
    """
    run, store, problems = _validated(project, paths, changed_since, use_cache, cache_dir)
    return _KeptRecords(run, store).dataset(), problems


def check_project(
    project: Project, paths: list[Path] | None = None, changed_since: str | None = None, use_cache: bool = True,
    cache_dir: Path | None = None, notes: list[Problem] | None = None,
) -> tuple[int, list[Problem]]:
    """:func:`validate_project`'s problems, and the number of records its dataset would hold, without loading them
    (and the hints that are no problems added to ``notes`` if given, as far as problems are reported)."""
    run, store, problems = _validated(project, paths, changed_since, use_cache, cache_dir)
    if notes is not None:
        notes.extend(run.notes)
    if store is not None:
        store.close()
    return len(run.kept), problems


def _checked(project: Project, use_cache: bool, cache_dir: Path | None,
             changed: set[str] | None) -> tuple[Run, Store | None, Callable[[str], bool] | None]:
    """The run over the project's files, the cache it was read from and written to (None: none), and with the files
    ``changed`` (by git) the filter of the problems to report (:func:`_affected`). Unreadable when the cache turns
    out damaged (it is then dropped)."""
    files, listed = record_files(project)
    store = Store.open(project.root, cache_dir) if use_cache else None
    run = Run(project, files, store)
    try:
        run.check(listed)
        affected = _affected(run, changed) if changed is not None else None  # reads the cache's references
    except Unreadable:
        store.forget()
        raise
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as error:
        if store is None:
            raise  # without a cache, a bug: reported as one
        store.forget()  # data of the right checksum but not of the shape this code writes: a cache miss too
        raise Unreadable(f"the cache holds data this code cannot read ({type(error).__name__})") from None
    except BaseException:
        if store is not None:
            store.close()
        raise
    if store is not None and not store.commit():
        store.close()
        store = None
    return run, store, affected


def _validated(
    project: Project, paths: list[Path] | None, changed_since: str | None, use_cache: bool, cache_dir: Path | None
) -> tuple[Run, Store | None, list[Problem]]:
    changed = git.changed_files(project.root, changed_since) if changed_since is not None else None  # a bad revision: at once
    try:
        run, store, report = _checked(project, use_cache, cache_dir, changed)
    except Unreadable:  # the cache was damaged, and is dropped: the same run from scratch, without it
        run, store, report = _checked(project, False, None, changed)
    problems = run.problems
    if changed is None and paths:
        root = project.root.resolve()
        wanted = [path.resolve() for path in paths]
        prefixes = tuple(path.relative_to(root).as_posix() for path in wanted if path.is_relative_to(root))
        report = lambda display: any(  # noqa: E731
            prefix == "." or display == prefix or display.startswith(f"{prefix}/") for prefix in prefixes
        )
    if report is not None:
        problems = [problem for problem in problems if report(problem.path)]
        run.notes = [note for note in run.notes if report(note.path)]
    return run, store, with_hints(sorted(problems), run.hints, run.known, run.seeds.texts.get, run.named)


def _affected(run: Run, changed: set[str]) -> Callable[[str], bool]:
    """A filter of display paths: the changed files, and the records that refer to a changed record."""
    keys = {"/".join(key) for path in changed if path.startswith("data/")
            and (key := record_key(path.removeprefix("data/"))) is not None}
    seeds = {path.split("/", 1)[1] for path in changed if path.startswith("seeds/")}
    names = run.seeds.texts.names
    keys |= {f"sources/{source}" for source, name in names.items() if name in seeds}
    selected = set(changed) | {run.files[index].display for index in run.referrers(keys)}
    selected |= {f"data/{key}{RECORD_SUFFIX}" for key in keys}
    return selected.__contains__


def run(args) -> int:
    """The ``validate`` command: exit 0 when clean, 1 when there are problems, 2 on a usage error."""
    project = Project(args.root)
    if not project.data_dir.is_dir():
        raise UsageError(f"no data/ directory in {args.root}: run in the repository or pass --root DIR")
    root = project.root.resolve()
    for path in args.paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or directory")
        if not path.resolve().is_relative_to(root):
            raise UsageError(f"{path} is outside the repository {args.root}")
        if path.resolve() != root and not any(
            path.resolve().is_relative_to(part.resolve()) for part in (project.data_dir, project.seeds_dir)
        ):
            raise UsageError(f"{path} is neither in data/ nor in seeds/: give record files or directories")
    notes: list[Problem] = []
    valid, problems = check_project(project, args.paths or None, changed_since=args.changed_since,
                                    use_cache=not args.no_cache, cache_dir=getattr(args, "cache_dir", None),
                                    notes=notes)
    print_problems(problems, args.format)
    for note in notes[:MAX_HINTS]:
        print(f"hint: {note}", file=sys.stderr)
    if len(notes) > MAX_HINTS:
        print(f"hint: {len(notes) - MAX_HINTS} more hints like these", file=sys.stderr)
    print(summary(valid, problems), file=sys.stderr)
    return 1 if problems else 0
