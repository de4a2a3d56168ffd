"""Validate step: every record against its model, then the checks that span records, seeds and citations.

Work is split in two so that it can be cached and parallelised:

* :func:`check_file` is a pure function of a record file's name and bytes: parse, validate
  against the model, compare id and file name. It returns the record or located problems.
* the cross-record checks (:func:`validate_project`) resolve references, verify seeds and
  find every citation's span in its source's text.

Every problem is reported, located at ``path:line:col`` of the YAML node it concerns; nothing
stops at the first error.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import difflib
import functools
import gc
import hashlib
import itertools
import marshal
import os
import pickle  # only to write: what is read back is read by cache.loads
import sys
import typing
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import git, models
from .cache import Stat, Store, Unreadable, allowed, file_stat, file_stats, loads
from .fields import citations, field_shapes, get_field, references
from .load import LoadError, Project, RecordFile, decode, display_path, read_bytes, record_files, RECORD_SUFFIX
from .models import COLLECTIONS, Record
from .problems import Issue, Problem, UsageError, print_problems, summary
from .records import FileResult, check_file, locate
from .seeds import SeedError, is_plain_directory, read_seed, stray_seed
from .spans import _span_matches, closest_passage, normalise


Spans = dict[tuple, tuple[int, int]]
"""Where a record's citations are in their sources' texts: loc of the citation -> (start, end) offsets."""


class Dataset:
    """The valid records without problems, loaded as they are asked for, and the source texts."""

    def __init__(
        self,
        entries: dict[str, list[tuple[str, Callable[[], Record]]]],
        texts: dict[str, str],
        spans: dict[str, list[Callable[[], Spans]]] | None = None,
    ):
        self._entries = entries  # collection -> (id, loader) in id order, for every collection in COLLECTIONS order
        self.texts = texts  # source id -> full article text, exactly as in seeds/
        self._spans = spans or {}  # collection -> loader of each record's spans, as validation found them
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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and (self.records, self.texts) == (other.records, other.texts)

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- the project


MAX_HINTS = 20
"""Hints (a quote's closest passage, the id an unknown one may mean) given per run: to the first problems they may
help, in the order problems are reported."""
HINT_IDS = 1000
"""Ids compared, at most, with an unknown one: the :data:`HINT_IDS` / 2 nearest in sorted order, and as many in the
order of the ids read backwards (so that a slip at the start or at the end of an id is caught)."""
HINT_ID_CHARS = 200
"""Longest unknown id for which a known one is suggested."""


def _nearest(order: list[str], key: str) -> list[str]:
    """The :data:`HINT_IDS` // 2 items of sorted ``order`` around where ``key`` would be."""
    at = bisect.bisect_left(order, key)
    return order[max(0, at - HINT_IDS // 4): at + HINT_IDS // 4]


class Summary(typing.NamedTuple):
    """What the cross-record checks need of one checked file, so that they never unpickle its record."""

    declared_id: str | None
    valid: bool  # the file holds a valid record
    problems: list[Problem]  # the file's own problems
    references: tuple[tuple[tuple, str, str], ...]  # as :func:`references` gives them
    citations: tuple[tuple[tuple, str, str, str | None, str | None], ...]  # loc, source, quote, prefix, suffix
    text: str | None  # a quote's text
    file: str | None  # a source's seed file
    sha256: str | None  # a valid source's seed hash
    links: tuple[tuple[str, str], ...]  # a valid record's top-level references to its own collection
    cited: tuple | None = None  # the citations' issues, the SHA-256 of each cited source's text they hold for, their spans


def summarise(file: RecordFile, result: FileResult) -> Summary:
    """The :class:`Summary` of a file's check result."""
    subject, record, model = result.subject, result.record, COLLECTIONS[file.collection]
    found = tuple(references(subject, model)) if subject is not None else ()
    cited = tuple(
        (loc, c.source, c.quote, c.prefix, c.suffix) for loc, c in citations(subject, model)
    ) if subject is not None else ()
    text = get_field(subject, "text") if file.collection == models.Quote.collection else None
    seed = get_field(subject, "file") if file.collection == models.Source.collection else None
    links = tuple(
        (shape.name, getattr(record, shape.name)) for shape in field_shapes(model)
        if shape.references == file.collection and not shape.is_list and getattr(record, shape.name) is not None
    ) if record is not None else ()
    return Summary(
        result.declared_id, record is not None, result.problems, found, cited, text if isinstance(text, str) else None,
        seed if isinstance(seed, str) else None, getattr(record, "sha256", None), links,
    )


def _reference_line(summary: Summary) -> str:
    """A file's references as one line, ``\t<collection>/<id>`` each and a closing tab (see :meth:`_Run.referrers`)."""
    line = "".join(f"\t{collection}/{target}" for _, collection, target in summary.references) + "\t"
    return line.replace("\n", " ")  # a line break can only be in an invalid record's reference


def _lines(text: str) -> list[str]:
    """The lines of a column of :class:`_State` kept as one string."""
    return text.split("\n") if text else []


def _record_key(display: str) -> str:
    """``data/events/x.yaml`` -> ``events/x``, as in :func:`_reference_line`."""
    return display.split("/", 1)[1].removesuffix(RECORD_SUFFIX)


@dataclass
class _State:
    """What a validation run leaves in the cache for the next one (see :class:`.cache.Store`).

    Per record file, in listing order, in compact columns: stat and SHA-256 (whether it changed), where its
    record (marshalled parsed data) and pickled summary are in the pack, whether it is valid, and its
    references as one line (which files refer to a record that came or went, or to a source whose text
    changed). By file, only what is
    rare or small: problems, issues, declared ids that are not the file's name, sources, links. And the
    seeds: stat and SHA-256 of each, and the SHA-256 of each source's text that the issues were found with.
    """

    paths: str  # display paths, one a line (one string pickles and loads at the speed of a copy)
    stats: array  # size, mtime_ns, inode per file (all -1: look at the file again)
    digests: bytes  # SHA-256 per file, 32 bytes each
    blobs: array  # offset and length of the record, then of the summary, per file
    valid: bytes  # 1 per file that holds a valid record, else 0
    references: str  # per file, a line: see :func:`_reference_line`
    # by the index of a file in ``paths``:
    declared: dict[int, str | None]  # the declared id, where it is not the file's stem
    problems: dict[int, list[Problem]]  # the file's own problems
    issues: dict[int, list[Issue]]  # the issues of its references and citations
    sources: dict[int, tuple[str | None, str | None, bool]]  # of a source file: seed file, sha256, valid
    links: dict[int, tuple[tuple[str, str], ...]]  # the links of a valid record that has any
    seeds: dict[str, tuple[Stat, str]]  # seed file name -> stat and SHA-256 of a seed that is UTF-8 text
    text_digests: dict[str, str]  # source id -> SHA-256 of the text its citations were looked up in

    def __getstate__(self) -> dict:
        """Pickled as plain data: the arrays as their bytes, so that unpickling builds no array."""
        return {**self.__dict__, "stats": self.stats.tobytes(), "blobs": self.blobs.tobytes()}

    def __setstate__(self, state: dict) -> None:
        stats, blobs = array("q"), array("q")
        stats.frombytes(state["stats"])
        blobs.frombytes(state["blobs"])
        self.__dict__.update(state, stats=stats, blobs=blobs)


CACHED = (_State, Summary, Issue, Problem)
"""The classes whose instances the cache holds (see :func:`.cache.loads`); nothing else is built from it."""
_CACHED = allowed(CACHED)


def _loads(data: bytes) -> Any:
    """A state or summary pickled by this module (see :func:`.cache.loads`)."""
    return loads(data, _CACHED)


UNKNOWN_STAT = (-1, -1, -1)
PARALLEL_MIN_FILES = 1000
"""Fewer files than this to check are checked in this process: starting workers would cost more."""


def _workers(count: int) -> int:
    """How many processes should work on ``count`` files: one per core, but one per :data:`PARALLEL_MIN_FILES`."""
    return min(os.cpu_count() or 1, 1 + count // PARALLEL_MIN_FILES)


def _check_path(file: RecordFile, known_digest: bytes | None, pickled: bool) -> tuple[bytes | None, Any, Any]:
    """Read and check one file: (SHA-256 of its bytes, its record, its summary), pickled if ``pickled``;
    record and summary are None if the bytes have ``known_digest`` (the cached entry holds). Runs in workers."""
    try:
        data = read_bytes(file.path)
    except LoadError as error:
        digest, result = None, FileResult(None, None, [Problem(file.display, error.line, error.col, error.message, file.label)])
    else:
        digest = hashlib.sha256(data).digest()
        if digest == known_digest:
            return digest, None, None
        result = check_file(file, data)
    summary = summarise(file, result)
    if not pickled:
        return digest, result.record, summary
    # the record travels as its parsed data: marshal and validating again cost a third of pickling and unpickling
    return digest, marshal.dumps(result.content if result.record is not None else None), _dumps(summary)


def _check_path_star(arguments: tuple) -> tuple[bytes | None, Any, Any]:
    return _check_path(*arguments)


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _differing(new: bytes, old: bytes, width: int) -> list[int]:
    """Indexes of the ``width``-byte items that differ between two sequences of the same length, found by halving
    (a few changes among 100k items cost microseconds)."""
    if new == old:
        return []
    if len(new) == width:
        return [0]
    half = len(new) // width // 2 * width
    return _differing(new[:half], old[:half], width) + [
        half // width + index for index in _differing(new[half:], old[half:], width)
    ]


class _Run:
    """One validation: the files checked (or taken from the cache where unchanged), then the checks spanning records.

    With the state the last run left in the cache, only the files that changed are checked, and the checks
    of references and citations look again only at the files whose outcome could differ: the changed ones,
    and those referring to a record that came or went or to a source whose text changed. The checks of the
    whole (duplicate ids, seeds, cycles) read little and always run. The outcome is the same as without the
    cache (a test compares them).
    """

    def __init__(self, project: Project, files: list[RecordFile], store: Store | None):
        self.project, self.files = project, files
        self.store = store if store is not None and store.usable else None
        state = self.store.state if self.store is not None else None
        self.state: _State | None = state if isinstance(state, _State) else None
        count = len(files)
        self.source_indexes = [index for index, file in enumerate(files) if file.collection == "sources"]
        self.old = [-1] * count  # where each file is in the state, -1 if it is not there as it is now
        self.new_digests: dict[int, bytes | None] = {}  # SHA-256 of the files read in this run (None: unreadable)
        self.stats: list[Stat | None] = [None] * count
        self.records: list[Any] = [None] * count  # a record (or its marshalled data) that is not in the pack
        self.blobs: list[tuple[int, int] | None] = [None] * count  # where a record's data is in the pack
        self.valid = bytearray(count)
        self.summaries: dict[int, Summary] = {}  # of the files checked in this run, and of those looked at again
        self.restored: set[int] = set()  # summaries to store anew
        self.renewed: dict[int, bytes] = {}  # summaries to store anew, pickled by workers
        self.fresh: list[int] = []  # files checked in this run
        self.issues: dict[int, list[Issue]] = {}  # issues of each file's references and citations
        self.whole: dict[int, list[Issue]] = {}  # issues found by the checks of the whole
        self.problems: list[Problem] = []
        self.hints: dict[Problem, tuple[str, str, str]] = {}  # problems that a hint may help -> what it is about
        self.id_orders: dict[str, tuple[list[str], list[str]]] = {}  # collection -> its ids sorted, and reversed
        self.seeds: dict[str, tuple[Stat, str]] = {}
        self.seed_files: dict[str, str] = {}  # source id -> the file name of its usable seed
        self.text_digests: dict[str, str] = {}  # source id -> SHA-256 of its seed's text
        self.texts: dict[str, str] = {}
        self.changed = self.state is None  # whether the state must be saved anew
        self.same_files = False  # the files are those of the state, in the same order
        self.old_position: dict[str, int] = {}  # when not: the index of each file in the state, by display path
        self.stat_array = array("q")  # when so: the stats of the files, as the state keeps them
        self.saved_blobs: array | None = None  # the pack's blobs after saving (records may have moved)
        self.kept: list[int] = []

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """The index of each file, by display path."""
        return {file.display: index for index, file in enumerate(self.files)}

    @functools.cached_property
    def _moved(self) -> dict[int, int]:
        """The index now of each file the state has at another index (when files came or went)."""
        return {old: index for index, old in enumerate(self.old) if old >= 0 and old != index}

    def unchanged(self, old: int) -> int | None:
        """The index now of the file at ``old`` in the state, if it is there with the same bytes."""
        index = old if self.same_files else self._moved.get(old, old if old < len(self.old) else None)
        return index if index is not None and self.old[index] == old else None

    def _still(self, column: dict[int, Any]) -> dict[int, Any]:
        """The entries of a per-file column of the state whose files are unchanged, by their index now."""
        return {index: value for old, value in column.items() if (index := self.unchanged(old)) is not None}

    # ---- checking the files

    def check(self) -> None:
        """Check every file that is new or changed; take the others as the state has them."""
        state, files = self.state, self.files
        if self.store is not None:
            self.stats = file_stats([file.path for file in files])
        if state is not None and state.paths == "\n".join(file.display for file in files):
            todo = self._unchanged_listing()
        else:
            self.old_position = {path: index for index, path in enumerate(_lines(state.paths))} if state else {}
            todo = []
            for index, (file, stat) in enumerate(zip(files, self.stats)):
                old = self.old_position.get(file.display, -1)
                if old >= 0 and stat is not None and (state.stats[3 * old], state.stats[3 * old + 1], state.stats[3 * old + 2]) == stat:
                    self.old[index] = old
                    self.valid[index] = state.valid[old]
                else:
                    todo.append((index, old))
            self.changed = True
        if todo:
            self.changed = True
        self._check_files(todo)

    def _unchanged_listing(self) -> list[tuple[int, int]]:
        """The files to check when the files are those of the state: those whose stat changed (found by halving)."""
        state = self.state
        self.same_files = True
        self.old = list(range(len(self.files)))
        self.valid = bytearray(state.valid)
        self.stat_array = array("q", itertools.chain.from_iterable(stat or UNKNOWN_STAT for stat in self.stats))
        changed = _differing(self.stat_array.tobytes(), state.stats.tobytes(), 24)
        untrusted = [index for index, stat in enumerate(self.stats) if stat is None]  # (-1, -1, -1) on both sides
        todo = [(index, index) for index in sorted({*changed, *untrusted})]
        for index, _ in todo:
            self.old[index] = -1
        return todo

    def _take(self, index: int, old: int) -> None:
        """File ``index`` holds what it held at ``old`` in the state (its bytes are the same)."""
        self.old[index] = old
        self.valid[index] = self.state.valid[old]

    def _check_files(self, todo: list[tuple[int, int]]) -> None:
        """:func:`check_file` of the ``todo`` files (index, index in the state or -1), on every core if many.

        Results are taken in file order as workers deliver them (overlapping with their work)."""
        state, files = self.state, self.files
        jobs = _workers(len(todo))
        pickled = self.store is not None or jobs > 1
        arguments = [
            (files[index], state.digests[32 * old: 32 * old + 32] if old >= 0 else None, pickled) for index, old in todo
        ]
        with contextlib.ExitStack() as stack:
            if jobs > 1:
                import multiprocessing

                pool = stack.enter_context(multiprocessing.get_context("fork").Pool(jobs))
                chunk = max(1, min(500, len(arguments) // (8 * jobs)))
                outcomes: Iterable = pool.imap(_check_path_star, arguments, chunksize=chunk)
            else:
                outcomes = map(_check_path_star, arguments)
            for (index, old), (digest, record, summary) in zip(todo, outcomes):
                self.new_digests[index] = digest
                if summary is None:  # touched, but the same bytes
                    self._take(index, old)
                    continue
                self.old[index] = -1
                summary = _loads(summary) if pickled else summary
                self.summaries[index] = summary
                self.restored.add(index)
                self.fresh.append(index)
                self.valid[index] = summary.valid
                self._keep_record(index, record)

    def _keep_record(self, index: int, record: Any) -> None:
        """Put a checked record in the pack, or keep it here when there is no cache (or it cannot be written)."""
        if self.store is not None:
            try:
                self.blobs[index] = (self.store.append(record), len(record))
                return
            except OSError:
                self.store = None
        self.records[index] = record

    def summary(self, index: int) -> Summary:
        """The summary of file ``index``: from this run's check, or read from the pack."""
        summary = self.summaries.get(index)
        if summary is None:
            old, blobs = self.old[index], self.state.blobs
            summary = _loads(self.store.read(blobs[4 * old + 2], blobs[4 * old + 3]))
            self.summaries[index] = summary
        return summary

    # ---- the checks that span records

    def cross_check(self) -> None:
        """Check references, seeds, citations, ids and cycles across the files (again only where needed)."""
        state, files = self.state, self.files
        self.known: dict[str, set[str]] = {collection: set() for collection in COLLECTIONS}
        for file in files:
            self.known[file.collection].add(file.stem)
        self._seeds()
        if state is None:
            again: Iterable[int] = range(len(files))
        else:
            came_or_went = set() if self.same_files else self.position.keys() ^ self.old_position.keys()
            keys = {_record_key(path) for path in came_or_went}
            keys |= {f"sources/{source}" for source in state.text_digests.keys() | self.text_digests.keys()
                     if state.text_digests.get(source) != self.text_digests.get(source)}
            self.changed = self.changed or bool(keys)
            again = sorted(set(self.fresh) | self.referrers(keys))
            self.issues.update(self._still(state.issues))
        for index, issues, renewed in self._check_files_again(list(again)):
            self.issues.pop(index, None)
            if issues:
                self.issues[index] = issues
            if isinstance(renewed, bytes):  # pickled by a worker, with its citations' outcome
                self.renewed[index] = renewed
            elif renewed is not None:
                self.summaries[index] = renewed
                self.restored.add(index)
            self.changed = self.changed or renewed is not None
        self._duplicate_ids()
        self._cycles()

    def referrers(self, keys: set[str]) -> set[int]:
        """The files that refer to any of ``keys`` (``<collection>/<id>``)."""
        if not keys:
            return set()
        wanted = [f"\t{key}\t" for key in keys]
        return {index for index, line in enumerate(self.reference_lines()) if any(key in line for key in wanted)}

    def reference_lines(self) -> list[str]:
        """:func:`_reference_line` of every file."""
        if self.same_files:
            lines = _lines(self.state.references)
            for index in self.fresh:
                lines[index] = _reference_line(self.summaries[index])
            return lines
        lines = _lines(self.state.references) if self.state else []
        return [
            lines[old] if (old := self.old[index]) >= 0 else _reference_line(self.summaries[index])
            for index in range(len(self.files))
        ]

    def _add(self, index: int, loc: tuple, message: str) -> None:
        self.whole.setdefault(index, []).append(Issue(loc, message))

    def _source_files(self) -> Iterator[tuple[int, str | None, str | None, bool]]:
        """Every source file: index, seed file, sha256 and whether it is valid."""
        state = self.state
        for index in self.source_indexes:
            if self.old[index] < 0:
                summary = self.summaries[index]
                yield index, summary.file, summary.sha256, summary.valid
            else:
                yield (index, *state.sources[self.old[index]])

    def _seeds(self) -> None:
        """Every valid source describes a seed of its own that has the SHA-256 it gives; every seed is described."""
        seeds_dir = self.project.seeds_dir
        described: dict[str, int] = {}
        mentioned = set()
        plain = is_plain_directory(seeds_dir)
        known = self.state.seeds if self.state and plain else {}
        for index, source_file, sha256, valid in self._source_files():
            if not valid:
                mentioned.add(source_file)
                continue
            if source_file in described:
                self._add(index, ("file",), f"{source_file} is already described by "
                          f"{self.files[described[source_file]].display}: one source record per seed file")
                continue
            described[source_file] = index
            source_id = self.files[index].stem
            seen = file_stat(os.path.join(seeds_dir, source_file), follow_symlinks=False) if plain else None
            if seen is not None and known.get(source_file, (None,))[0] == seen:
                digest = known[source_file][1]
            else:
                try:
                    data = read_seed(seeds_dir, source_file)
                    self.texts[source_id] = data.decode("utf-8")
                except SeedError as error:
                    self._add(index, ("file",), str(error))
                    continue
                except UnicodeDecodeError:
                    self._add(index, ("file",), f"seeds/{source_file} cannot be used: it is not valid UTF-8")
                    continue
                digest = hashlib.sha256(data).hexdigest()
                self.changed = True
            if seen is not None:
                self.seeds[source_file] = (seen, digest)
            self.text_digests[source_id] = digest
            self.seed_files[source_id] = source_file
            if digest != sha256:
                self._add(index, ("sha256",), f"seeds/{source_file} has changed: its SHA-256 is {digest}. "
                          "Seeds must stay byte-for-byte as archived; restore the file, or if the new text is "
                          "right, set sha256 to the new value and re-check every citation of this source")
        if plain and is_plain_directory(self.project.data_dir):  # without records, no seed is judged undescribed
            for name in sorted(os.listdir(seeds_dir)):
                if name not in described and name not in mentioned:
                    self.problems.append(Problem(display_path(self.project, seeds_dir / name), 1, 1,
                                                 stray_seed(seeds_dir, name)))

    def text(self, source_id: str) -> str | None:
        """The text of a source whose seed is usable, read when first wanted (as it was checked, or not at all)."""
        if source_id not in self.text_digests:
            return None
        if source_id not in self.texts:
            name = self.seed_files[source_id]
            try:
                data = read_seed(self.project.seeds_dir, name)
            except SeedError:
                data = None
            if data is None or hashlib.sha256(data).hexdigest() != self.text_digests[source_id]:
                raise UsageError(f"seeds/{name} changed while it was being checked: run the command again")
            self.texts[source_id] = data.decode("utf-8")  # as checked: its SHA-256 is that of UTF-8 text
        return self.texts[source_id]

    def _check_files_again(self, indexes: list[int]) -> Iterable[tuple[int, list[Issue], Summary | bytes | None]]:
        """:meth:`_file_issues` of the files, on every core if many (workers send the renewed summaries pickled)."""
        global _RUN
        jobs = _workers(len(indexes))
        if jobs == 1:
            return [self._file_issues(index) for index in indexes]
        import multiprocessing

        _RUN = self  # the workers are forked with this run as it is now
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                chunks = [indexes[start: start + PARALLEL_MIN_FILES] for start in range(0, len(indexes), PARALLEL_MIN_FILES)]
                return [outcome for outcomes in pool.imap(_file_issues_pickled, chunks) for outcome in outcomes]
        finally:
            _RUN = None

    def _file_issues(self, index: int) -> tuple[int, list[Issue], Summary | None]:
        """The issues of a file's references and citations, and its summary if the citations' outcome was found anew
        (else None: it holds while the cited sources' texts are the same)."""
        summary = self.summary(index)
        issues = list(self._reference_issues(index, summary))
        texts = tuple(self.text_digests.get(source) for source in dict.fromkeys(cited[1] for cited in summary.citations))
        renewed = None
        if summary.cited is None or summary.cited[1] != texts:
            spans: list[tuple[int, int] | None] = []
            summary = renewed = summary._replace(cited=(tuple(self._citation_issues(summary, spans)), texts, tuple(spans)))
        issues.extend(summary.cited[0])
        return index, issues, renewed

    def _reference_issues(self, index: int, summary: Summary) -> Iterator[Issue]:
        file = self.files[index]
        for loc, collection, target in summary.references:
            if collection == file.collection and target == file.stem:
                yield Issue(loc, "refers to this record itself: point it at another record or remove it")
            elif target not in self.known[collection]:
                yield Issue(loc, f"unknown {collection} id {target!r}: there is no data/{collection}/{target}.yaml",
                            hint=("id", collection, target))

    def _citation_issues(self, summary: Summary, found: list[tuple[int, int] | None]) -> Iterator[Issue]:
        """The issues of the summary's citations; appends to ``found`` each citation's span (None: not found once)."""
        found_spans = []
        for loc, source, quote, prefix, suffix in summary.citations:
            text = self.text(source)
            spans, occurrences = _span_matches(text, quote, prefix, suffix) if text is not None else ((), 0)
            found.append(spans[0] if len(spans) == 1 else None)
            if text is None:
                continue  # unknown or unusable source: reported on its own
            if len(spans) == 1:
                found_spans.append(text[spans[0][0]: spans[0][1]])
            elif occurrences == 0:
                yield Issue(loc + ("quote",), f"quote not found in the text of source {source!r} "
                            "(ignoring only whitespace, Unicode form and typographic quotes): "
                            "copy the span verbatim from the seed", hint=("passage", source, quote))
            elif not spans:
                yield Issue(loc + ("quote",), f"quote occurs {occurrences} times in source "
                            f"{source!r} but none with the given prefix/suffix: copy them verbatim "
                            "from the words just before/after the span")
            else:
                yield Issue(loc + ("quote",), f"quote occurs {len(spans)} times in source "
                            f"{source!r}: add a prefix or suffix (the words just before or after it) "
                            "to pick one")
        if found_spans and summary.text is not None:
            wanted = normalise(summary.text)
            if not any(wanted in normalise(span) for span in found_spans):
                yield Issue(("text",), "the quoted text is not inside any of the record's citation "
                            "spans: cite the span that contains these words, or correct the text")

    def _declared_ids(self) -> dict[int, str | None]:
        """The files whose declared id is not their file name, with the id they declare (None: none)."""
        declared = self._still(self.state.declared) if self.state else {}
        for index in self.fresh:
            declared_id = self.summaries[index].declared_id
            if declared_id != self.files[index].stem:
                declared[index] = declared_id
        return declared

    def _duplicate_ids(self) -> None:
        declared = self.declared = self._declared_ids()
        by_id: dict[tuple[str, str], list[int]] = {}
        for index, record_id in declared.items():
            if record_id is not None:
                by_id.setdefault((self.files[index].collection, record_id), []).append(index)
        for (collection, record_id), indexes in by_id.items():
            named = self.position.get(f"{self.project_data}/{collection}/{record_id}{RECORD_SUFFIX}")
            if named is not None and named not in declared:
                indexes.append(named)
            indexes.sort()
            for index in indexes:
                others = ", ".join(self.files[other].display for other in indexes if other != index)
                if others:
                    self._add(index, ("id",), f"duplicate id {record_id!r}, also in {others}: ids must be unique")

    @property
    def project_data(self) -> str:
        return display_path(self.project, self.project.data_dir)

    def _links(self) -> dict[int, tuple[tuple[str, str], ...]]:
        """The valid files with top-level references to their own collection, and those references."""
        links = self._still(self.state.links) if self.state else {}
        for index in self.fresh:
            summary = self.summaries[index]
            if summary.valid and summary.links:
                links[index] = summary.links
        return dict(sorted(links.items()))

    def _cycles(self) -> None:
        """Chains of same-collection references held in a top-level field (variant_of, same_story_as, ...) must end."""
        held = self.links = self._links()
        links = {(self.files[index].collection, self.files[index].stem): dict(pairs) for index, pairs in held.items()}
        for index, pairs in held.items():
            collection, record_id = self.files[index].collection, self.files[index].stem
            for name, target in pairs:
                chain = [record_id]
                while target is not None and (collection, target) in links:
                    if target == record_id and len(chain) > 1:
                        self._add(index, (name,), f"{name} forms a cycle "
                                  f"({' -> '.join(chain + [target])}): point every record at one that has none")
                        break
                    if target in chain:
                        break  # a cycle that does not pass through this record, or a self-reference
                    chain.append(target)
                    target = links[(collection, target)].get(name)

    # ---- the outcome

    def locate(self) -> list[Problem]:
        """Every problem: the files' own, then their issues located at line and column, then those of seeds."""
        problems = []
        state = self.state
        for own in self._still(state.problems).values() if state else ():
            problems.extend(own)
        for index in self.fresh:
            problems.extend(self.summaries[index].problems)
        for index in sorted(self.issues.keys() | self.whole.keys()):
            issues = self.whole.get(index, []) + self.issues.get(index, [])
            if not issues:
                continue
            file = self.files[index]
            try:
                located = locate(file, decode(read_bytes(file.path)), issues)
            except LoadError as error:  # changed while being checked
                problems.append(Problem(file.display, error.line, error.col, error.message, file.label))
                continue
            problems.extend(located)
            self.hints.update((problem, issue.hint) for problem, issue in zip(located, issues) if issue.hint)
        return problems + self.problems

    def with_hints(self, problems: list[Problem]) -> list[Problem]:
        """``problems`` (as reported, in order) with a hint for the first :data:`MAX_HINTS` that a hint may help:
        what a run spends on hints is bounded, and does not depend on the cache."""
        hinted, told = [], 0
        for problem in problems:
            wanted = self.hints.get(problem)
            if wanted is not None and told < MAX_HINTS:
                told += 1
                problem = dataclasses.replace(problem, message=problem.message + self.hint(*wanted))
            hinted.append(problem)
        return hinted

    def hint(self, kind: str, about: str, value: str) -> str:
        """The closest passage of a quote not found in source ``about``, or the id of collection ``about`` closest
        to an unknown one (looking at most at :data:`HINT_IDS` ids)."""
        if kind == "passage":
            passage = closest_passage(self.text(about), value)
            return f"; closest passage: {passage!r}" if passage else "; nothing similar found"
        if len(value) > HINT_ID_CHARS:
            return ""
        ids: Iterable[str] = self.known[about]
        if len(self.known[about]) > HINT_IDS:  # the ids nearest in order, and nearest read backwards
            if about not in self.id_orders:
                self.id_orders[about] = sorted(ids), sorted(known[::-1] for known in ids)
            forward, backward = self.id_orders[about]
            ids = set(_nearest(forward, value)) | {near[::-1] for near in _nearest(backward, value[::-1])}
        guess = difflib.get_close_matches(value, ids, n=1)
        return f"; did you mean {guess[0]!r}?" if guess else ""

    def keep(self, problems: list[Problem]) -> None:
        """Note the valid records without problems: the dataset's."""
        bad = {problem.path for problem in problems}
        self.kept = [index for index, file in enumerate(self.files) if self.valid[index] and file.display not in bad]

    def save(self) -> None:
        """Leave the state of this run in the cache for the next, unless it is the state already there."""
        if self.store is None or not self.changed:
            return
        paths = "\n".join(file.display for file in self.files)  # printable: no display path holds a line break
        try:
            restored = {}
            for index in sorted(self.restored | self.renewed.keys()):
                pickled = self.renewed.get(index) or _dumps(self.summaries[index])
                restored[index] = (self.store.append(pickled), len(pickled))
            blobs = self._blobs(restored)
            blobs = self.store.compact(blobs) or blobs
        except OSError:
            return
        self.store.save(self._state(blobs, paths))
        self.saved_blobs = blobs

    def _blobs(self, restored: dict[int, tuple[int, int]]) -> array:
        """Where each file's record and summary are in the pack (``restored``: the summaries stored anew)."""
        state = self.state
        if self.same_files:
            blobs = array("q", state.blobs)
            for index in self.fresh:
                blobs[4 * index: 4 * index + 2] = array("q", self.blobs[index])
        else:
            blobs = array("q")
            for index, old in enumerate(self.old):
                record = self.blobs[index] if old < 0 else (state.blobs[4 * old], state.blobs[4 * old + 1])
                summary = (state.blobs[4 * old + 2], state.blobs[4 * old + 3]) if old >= 0 else (0, 0)
                blobs.extend((*record, *summary))
        for index, summary in restored.items():
            blobs[4 * index + 2: 4 * index + 4] = array("q", summary)
        return blobs

    def _state(self, blobs: array, paths: str) -> _State:
        state = self.state
        if self.same_files:  # patch the state's columns
            stats, digests = array("q", self.stat_array), bytearray(state.digests)
            for index, digest in self.new_digests.items():
                digests[32 * index: 32 * index + 32] = digest or bytes(32)
                if digest is None:
                    stats[3 * index: 3 * index + 3] = array("q", UNKNOWN_STAT)
        else:
            stats, digests = array("q"), bytearray()
            for index, (old, stat) in enumerate(zip(self.old, self.stats)):
                digest = self.new_digests[index] if old < 0 else state.digests[32 * old: 32 * old + 32]
                stats.extend(stat if stat is not None and digest is not None else UNKNOWN_STAT)
                digests += digest or bytes(32)
        own = self._still(state.problems) if state else {}
        for index in self.fresh:
            if self.summaries[index].problems:
                own[index] = self.summaries[index].problems
        return _State(
            paths=paths,
            stats=stats,
            digests=bytes(digests),
            blobs=blobs,
            valid=bytes(self.valid),
            references="\n".join(self.reference_lines()),
            declared=self.declared,
            problems=own,
            issues={index: issues for index, issues in self.issues.items() if issues},
            sources={index: facts for index, *facts in self._source_files()},
            links=self.links,
            seeds=self.seeds,
            text_digests=self.text_digests,
        )

    def dataset(self, read: Callable[[int, int], bytes] | None) -> Dataset:
        """The kept records, to be loaded one by one as they are wanted (``read`` reads blobs of the pack), with the
        spans of their citations."""
        entries: dict[str, list[tuple[str, Callable[[], Record], Callable[[], Spans]]]] = {c: [] for c in COLLECTIONS}
        for index in self.kept:
            file, old = self.files[index], self.old[index]
            blobs, at = (self.saved_blobs, index) if self.saved_blobs is not None else (self.state.blobs if old >= 0 else None, old)
            if self.records[index] is not None:
                load = functools.partial(_record_from, file.collection, self.records[index])
            else:
                offset, length = (blobs[4 * at], blobs[4 * at + 1]) if blobs is not None else self.blobs[index]
                load = functools.partial(_read_record, read, file, offset, length)
            if blobs is None:  # the summary is here (no cache, or it could not be saved)
                summary = self.renewed.get(index) or self.summaries[index]
                spans = functools.partial(_spans_of, summary)
            else:
                spans = functools.partial(_read_spans, read, blobs[4 * at + 2], blobs[4 * at + 3])
            entries[file.collection].append((file.stem, load, spans))
        for listed in entries.values():
            listed.sort(key=lambda entry: entry[0])
        texts = {source_id: text for source_id, _, _ in entries["sources"] if (text := self.text(source_id)) is not None}
        return Dataset(
            {collection: [entry[:2] for entry in listed] for collection, listed in entries.items()},
            texts,
            {collection: [entry[2] for entry in listed] for collection, listed in entries.items()},
        )

    def affected_by(self, changed: set[str]) -> Callable[[str], bool]:
        """A filter of display paths: the changed files, and the records that refer to a changed record."""
        keys = {_record_key(path) for path in changed if path.startswith("data/") and path.count("/") == 2}
        seeds = {path.split("/", 1)[1] for path in changed if path.startswith("seeds/")}
        keys |= {f"sources/{self.files[index].stem}" for index, source_file, _, valid in self._source_files()
                 if valid and source_file in seeds}
        selected = set(changed) | {self.files[index].display for index in self.referrers(keys)}
        selected |= {f"data/{key}{RECORD_SUFFIX}" for key in keys}
        return selected.__contains__


_RUN: _Run | None = None
"""The run whose files forked workers look at again (see :meth:`_Run._check_files_again`)."""


def _file_issues_pickled(indexes: list[int]) -> list[tuple[int, list[Issue], bytes | None]]:
    outcomes = []
    for index in indexes:
        index, issues, renewed = _RUN._file_issues(index)
        outcomes.append((index, issues, None if renewed is None else _dumps(renewed)))
    return outcomes


def _record_from(collection: str, record: Record | bytes) -> Record:
    """A record, or the record of its marshalled parsed data."""
    return COLLECTIONS[collection].model_validate(marshal.loads(record)) if isinstance(record, bytes) else record


def _read_record(read: Callable[[int, int], bytes], file: RecordFile, offset: int, length: int) -> Record:
    """A kept record from the pack, or from its file when the pack is damaged (a cache miss)."""
    try:
        return _record_from(file.collection, read(offset, length))
    except Unreadable:
        pass
    try:
        record = check_file(file, read_bytes(file.path)).record
    except LoadError:
        record = None
    if record is None:
        raise UsageError(f"{file.display} changed while it was being checked: run the command again")
    return record


def _spans_of(summary: Summary | bytes) -> Spans:
    """The spans of a summary's citations (a summary pickled, or not)."""
    summary = _loads(summary) if isinstance(summary, bytes) else summary
    return {cited[0]: span for cited, span in zip(summary.citations, summary.cited[2]) if span is not None}


def _read_spans(read: Callable[[int, int], bytes], offset: int, length: int) -> Spans:
    """The spans of a summary in the pack; none when the pack is damaged (the build finds them again)."""
    try:
        return _spans_of(read(offset, length))
    except Unreadable:
        return {}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while records are built: they are all kept, and collecting them costs a third."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # what was built lives on (records): later collections need not look at it again
        if enabled:
            gc.enable()


def validate_project(
    project: Project, paths: list[Path] | None = None, changed_since: str | None = None, use_cache: bool = True
) -> tuple[Dataset, list[Problem]]:
    """Load and validate every record, seed and citation of ``project``.

    Problems are sorted. With ``paths``, only problems in those files or directories are
    reported (references still resolve against the whole dataset). With ``changed_since``
    (a git revision), only problems of the records changed since then and of the records
    that reference them. The dataset holds only records without problems, loaded as they are
    wanted. ``use_cache`` reuses (and updates) the results of the last run (see :mod:`.cache`);
    the results are the same either way.
    """
    with _gc_paused():
        return _validate_project(project, paths, changed_since, use_cache, want_dataset=True)


def check_project(
    project: Project, paths: list[Path] | None = None, changed_since: str | None = None, use_cache: bool = True
) -> tuple[int, list[Problem]]:
    """:func:`validate_project`'s problems, and the number of records its dataset would hold, without loading them."""
    with _gc_paused():
        return _validate_project(project, paths, changed_since, use_cache, want_dataset=False)


def _checked(
    project: Project, files: list[RecordFile], listed: list[Problem], use_cache: bool
) -> tuple[_Run, list[Problem], Callable[[int, int], bytes] | None]:
    """The run over ``files``, with its problems (after those of the listing, ``listed``) and the reader of its
    pack. Unreadable when the cache turns out damaged (it is then dropped)."""
    with Store(project.root, CACHED) if use_cache else contextlib.nullcontext() as store:
        try:
            run = _Run(project, files, store)
            run.check()
            run.cross_check()
            problems = listed + run.locate()
        except Unreadable:
            store.forget()
            raise
        run.keep(problems)
        run.save()
        return run, problems, store.loader() if store is not None else None


def _validate_project(
    project: Project, paths: list[Path] | None, changed_since: str | None, use_cache: bool, want_dataset: bool
) -> tuple[Any, list[Problem]]:
    changed = git.changed_files(project.root, changed_since) if changed_since is not None else None  # a bad revision: at once
    files, listed = record_files(project)
    try:
        run, problems, read = _checked(project, files, listed, use_cache)
    except Unreadable:  # the cache was damaged, and is dropped: the same run from scratch, without it
        run, problems, read = _checked(project, files, listed, use_cache=False)
    if changed is not None:
        report = run.affected_by(changed)
    elif paths:
        root = project.root.resolve()
        wanted = [path.resolve() for path in paths]
        prefixes = tuple(path.relative_to(root).as_posix() for path in wanted if path.is_relative_to(root))
        report = lambda display: any(  # noqa: E731
            prefix == "." or display == prefix or display.startswith(f"{prefix}/") for prefix in prefixes
        )
    else:
        report = None
    if report is not None:
        problems = [problem for problem in problems if report(problem.path)]
    problems = run.with_hints(sorted(problems))
    return (run.dataset(read) if want_dataset else len(run.kept)), problems


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
    valid, problems = check_project(
        project, args.paths or None, changed_since=args.changed_since, use_cache=not args.no_cache
    )
    print_problems(problems, args.format)
    print(summary(valid, problems), file=sys.stderr)
    return 1 if problems else 0
