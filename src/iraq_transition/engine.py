"""The runner of a validation: plans what to check again after the last run, feeds the checks, reports.

A run lists the record files and stats them; with the cache (:mod:`.store`), a file whose stat is unchanged holds
what the cache says, and one whose stat changed is hashed: only files whose bytes changed are checked again
(:func:`.records.check_file`). The checks that span records (:mod:`.crosscheck`) are repeated only for those
files and the ones whose outcome could differ: the files that refer to a record that came or went, or cite a
source whose text or record changed (a read of the cache's references, each row checked; a file whose cached rows
fail their checksums is a cache miss, read and checked again). The checks of the whole (duplicate ids, seeds,
cycles, duplicate quotes) read little and always run. Source files are checked first, here, so that the seeds'
texts are known before the other files are examined (:func:`examine`), on every core when there are many. The
outcome is the same with the cache as without it (tests compare them).
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .crosscheck import citation_issues, cycles, duplicate_ids, duplicate_quotes, reference_issues
from .forked import end_with_parent
from .load import LoadError, Project, RecordFile, decode, display_path, read_bytes
from .models import COLLECTIONS
from .problems import Issue, Problem, UsageError
from .records import FileResult, check_file, locate
from .seedcheck import SeedOutcome, Texts, check_seeds
from .snapshot import Links, Previous
from .store import (DECLARED, FILE_TABLES, ISSUES, ODD_ID, PROBLEMS, RARE, VALID, Head, Store, Unreadable, file_keys, file_stats,
                    row_key, seal, seal_data, unseal)
from .summary import (NAME_FIELDS, Repeat, Summary, issues_of, plain, plain_issues, plain_problems, problems_of,
                      summarise, summary_of)

PARALLEL_MIN_FILES = 1000
"""Fewer files than this to examine are examined in this process: starting workers would cost more."""
CHUNK_FILES = 250
"""Files a worker is given at a time."""


def _workers(count: int) -> int:
    """How many processes should work on ``count`` files: one per core, but one per :data:`PARALLEL_MIN_FILES`."""
    return min(os.cpu_count() or 1, 1 + count // PARALLEL_MIN_FILES)


# --------------------------------------------------------------------------- examining one file


@dataclass
class Context:
    """What examining a file needs besides the file: the ids there are, and the sources' texts."""

    known: dict[str, set[str]]  # collection -> its ids (the file names)
    texts: Texts
    published: dict[str, tuple[int, ...]]  # source id -> the years it may be published in


Task = tuple
"""(index, path to read or None, display, collection, stem, SHA-256 the cache has or None, what is known of the file
or None: its summary and its citations' outcome, as plain data)."""


def examine(context: Context | None, task: Task) -> tuple:
    """Read, check and cross-check one file: (index, SHA-256 of its bytes (None: unreadable), its record's parsed
    data or None, its summary or None, its cross-record issues or None, its citations' outcome or None), the
    record, summary and outcome marshalled (as the cache keeps them), the issues as plain data. With the SHA-256 the cache has, nothing but the digest when nothing is known to look at
    again; without a path, the file is not read: what is known of it is looked at again. Without a context, no
    cross-record checks."""
    index, path, display, collection, stem, known_digest, known = task
    file = RecordFile(path, display, collection, stem)
    digest, record, summary = known_digest, None, None
    if path is not None:
        try:
            data = read_bytes(path)
        except LoadError as error:
            digest = None
            result = FileResult(None, None, [error.problem(display, file.label)])
        else:
            digest = hashlib.sha256(data).digest()
            result = None if digest == known_digest else check_file(file, data)
        if result is None and known is None:
            return index, digest, None, None, None, None
        if result is not None:
            summary = summarise(file, result)
            record = marshal.dumps(result.content) if result.record is not None else None
            known = None
    cited_before = None
    if known is not None:
        summary, cited_before = summary_of(known[0]), known[1]
    issues, cited = cross_check(context, file, summary, cited_before) if context is not None else (None, None)
    checked = record is not None or known is None
    return (index, digest, record, marshal.dumps(plain(summary)) if checked else None, issues,
            marshal.dumps(cited) if cited is not None else None)


def cross_check(context: Context, file: RecordFile, summary: Summary, cited: tuple | None) -> tuple[tuple, tuple]:
    """The issues of a file's references and citations, and its citations' outcome (issues, each cited source with
    the SHA-256 of its text and the years it may be published in, the spans found by loc), as plain data: ``cited``
    is taken as it is while those are the same."""
    texts = tuple((source, context.texts.digests.get(source), context.published.get(source))
                  for source in dict.fromkeys(citation[1] for citation in summary.citations))
    if cited is None or tuple(cited[1]) != texts:
        found, spans = citation_issues(summary, context.texts.get, context.published.get)
        located = tuple((citation[0], span) for citation, span in zip(summary.citations, spans) if span is not None)
        cited = (plain_issues(found), texts, located)
    return plain_issues(reference_issues(file, summary, context.known)) + tuple(cited[0]), cited


_CONTEXT: Context | None = None
"""In a worker process: the context it was started with (see :func:`_start_worker`)."""


def _start_worker(context: Context, parent: int) -> None:
    global _CONTEXT
    _CONTEXT = context
    end_with_parent(parent)


def _examine_in_worker(tasks: list[Task]) -> bytes:
    return marshal.dumps([examine(_CONTEXT, task) for task in tasks])


def examine_all(context: Context, tasks: list[Task]) -> Iterator[tuple]:
    """:func:`examine` of every task, in order, on every core when there are many (workers are forked with the
    context; what they send back is marshalled plain data)."""
    jobs = _workers(len(tasks))
    if jobs == 1:
        yield from (examine(context, task) for task in tasks)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor  # here: a run with little to check does without

    from concurrent.futures.process import BrokenProcessPool

    chunks = [tasks[start: start + CHUNK_FILES] for start in range(0, len(tasks), CHUNK_FILES)]
    try:
        with ProcessPoolExecutor(jobs, multiprocessing.get_context("fork"), _start_worker, (context, os.getpid())) as pool:
            for outcome in pool.map(_examine_in_worker, chunks):
                yield from marshal.loads(outcome)
    except BrokenProcessPool:
        raise UsageError("a worker process was killed while checking the files (out of memory?): nothing was "
                         "saved; run the command again") from None


# --------------------------------------------------------------------------- a run


class Run:
    """One validation of ``files`` with the cache's ``store`` (or None): :meth:`check` fills :attr:`problems` (not
    sorted, without hints: see :attr:`hints` and :attr:`named`), :attr:`notes` and :attr:`kept` (the valid files
    without problems), as :func:`report` says."""

    def __init__(self, project: Project, files: list[RecordFile], store: Store | None):
        self.project, self.files, self.store = project, files, store
        count = len(files)
        self.paths = file_keys((file.collection, file.stem) for file in files)  # what the files' rows are keyed by
        self.known: dict[str, set[str]] = {collection: set() for collection in COLLECTIONS}
        self.sources: list[int] = []  # the index of each source file
        for index, file in enumerate(files):
            self.known[file.collection].add(file.stem)
            if file.collection == "sources":
                self.sources.append(index)
        self.rows: list[int | None] = [None] * count  # each file's row in the cache (of the last run, until renewed)
        self.heads: dict[int, Head] = {}  # by row of the last run: what it says (only rows that hold their checksum)
        self.cached: dict[int, int] = {}  # the index of the file of each of these rows
        self.missed: set[int] = set()  # files whose cached rows fail their checks: read and checked again
        self.unsure: set[int] = set()  # files whose rows of refs fail their checks (seen when refs are looked up)
        self.keys: dict[int, bytes] = {}  # what the blobs of a file's row are sealed with
        self.digests: dict[int, bytes | None] = {}  # SHA-256 of the files read in this run (None: unreadable)
        self.valid = bytearray(count)
        self.own: dict[int, tuple[Problem, ...]] = {}  # each file's own problems
        self.cross: dict[int, list[Issue]] = {}  # the issues of each file's references and citations
        self.declared: dict[int, str | None] = {}  # the declared id of files where it is not the file's name
        self.links: dict[int, Links] = {}  # valid files' references to their own collection
        self.repeats: dict[int, Repeat] = {}  # valid quotes' words, speaker and sources
        self.names: dict[int, tuple[tuple[str, str], ...]] = {}  # what names the files checked in this run
        self.fresh: dict[int, set[str]] = {}  # the files checked in this run, with the targets of their references
        self.pending: dict[int, tuple] = {}  # checked files whose row waits for their cross-record outcome
        self.records: dict[int, tuple[bytes, tuple | None]] = {}  # record and spans of checked files not cached
        self.touched: list[tuple] = []  # new stats of files whose bytes are the same
        self.hints: dict[Problem, tuple[str, str, str]] = {}
        self.named: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}  # what names the records, for the hints
        self.notes: list[Problem] = []  # hints that are no problems: the same words as a quote of another source
        self.seeds: SeedOutcome | None = None
        self.problems: list[Problem] = []
        self.kept: list[int] = []

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """The index of each file by its display path."""
        return {file.display: index for index, file in enumerate(self.files)}

    def check(self, listed: list[Problem]) -> None:
        """Check what needs checking, then report (after the problems of the listing, ``listed``)."""
        store, files = self.store, self.files
        count = len(files)
        self.previous = previous = store.files(self.paths) if store else Previous.nothing(count)
        self.stats = stats = file_stats([file.path for file in files]) if store else [None] * count
        todo = [index for index, (now, before) in enumerate(zip(stats, previous.stats)) if now is None or now != before]
        self.rows, heads = previous.rows, previous.heads
        self.heads, self.cached = dict(zip(self.rows, heads)), dict(zip(self.rows, range(count)))
        self.heads.pop(None, None)
        self.cached.pop(None, None)
        self.valid = bytearray(head[VALID] if head is not None else 0 for head in heads)
        present = {path: index for index, path in enumerate(self.paths)} if previous.failed else {}
        went, replaced = _failed(previous.failed, present, self.rows)
        went += [row for _, row in previous.gone]
        for index, row in replaced.items():
            self.rows[index] = row
        self.missed.update(replaced)
        if store:
            self.missed.update(self._take_rare(previous))
            todo = sorted(set(todo) | self.missed)
        wanted = {self.rows[index]: index for index in todo  # the SHA-256 the cache has of a file whose stat changed
                  if self.rows[index] in self.heads and index not in self.missed}
        known_digests = {wanted[row]: digest for row, digest in store.digests(list(wanted))} if wanted else {}
        changed = {f"{files[index].collection}/{files[index].stem}" for index in todo if self.rows[index] is None}
        changed |= {os.fsdecode(path) for path, _ in previous.gone}
        sources = self._check_sources([index for index in todo if files[index].collection == "sources"], known_digests)
        texts_before = store.texts() if store else {}
        self._check_seeds(sources)
        digests = self.seeds.texts.digests
        changed |= {f"sources/{source}" for source in texts_before.keys() | digests.keys()
                    if texts_before.get(source) != digests.get(source)}
        changed |= {f"sources/{files[index].stem}" for index in sources if index in self.pending}  # its published
        published = {files[index].stem: summary.published for index, summary in sources.items()}
        again = self.referrers(changed) | set(self.pending)
        mended = self.unsure - self.fresh.keys()  # their rows of refs failed: read and checked again
        for index in mended:
            known_digests.pop(index, None)
        tasks = self._tasks(sorted({index for index in todo if index not in sources} | mended), known_digests, again)
        self._take_outcomes(examine_all(Context(self.known, self.seeds.texts, published), tasks))
        if store:
            store.touch(self.touched)
            for table, column in FILE_TABLES:
                store.write(f"delete from {table} where {column} = ?", [(row,) for row in went])
            store.set_seeds(self.seeds.seeds)
            store.set_texts(digests)
        report(self, listed)

    # ---- what the cache holds

    def _take_rare(self, previous: Previous) -> set[int]:
        """What the cache holds that is rare (problems, issues, ids that are not the file's name), and the links and
        the quotes' repeats the last run left; the files whose rows of these fail their checks, or are not as many as
        their row says (cache misses: what the cache holds of them is not taken)."""
        rows = self.store.query("select id, sha256, problems, issues from files where rare")
        self.own, self.cross, self.declared, unread = _rare(rows, self.heads, self.cached, self.paths, previous.miscounted)
        missed = {self.cached[row] for row in unread | previous.miscounted if row in self.cached}
        for found, taken in ((previous.links, self.links), (previous.repeats, self.repeats)):
            taken.update((index, value) for index, value in found.items() if index not in missed)
        return missed

    def _known(self, indexes: Iterable[int], with_cited: bool = True) -> dict[int, tuple]:
        """What the cache holds of these files: their summary and citations' outcome (None without ``with_cited``), as
        plain data."""
        by_row = {self.rows[index]: index for index in indexes if self.rows[index] is not None}
        if self.store is None or not by_row:
            return {}
        known = {}
        for row, digest, summary, cited in self.store.query_many(
                f"select id, sha256, summary, {'cited' if with_cited else 'null'} from files where id in ({{}})", list(by_row)):
            index = by_row[row]
            key = row_key(self.paths[index], digest)
            self.keys[index] = key
            known[index] = (unseal(summary, key), unseal(cited, key) if cited is not None else None)
        if len(known) != len(by_row):  # rows that damage has put out of the index's order
            raise Unreadable("rows of the cache are missing")
        return known

    def referrers(self, keys: set[str]) -> set[int]:
        """The files that refer to any of ``keys`` (``collection/id``): as checked in this run, or as cached."""
        if not keys:
            return set()
        found = {index for index, targets in self.fresh.items() if not targets.isdisjoint(keys)}
        if self.store is not None:
            rows, miscounted = self.store.references(keys, self.heads)
            found |= {self.cached[row] for row in rows if row in self.cached} - self.fresh.keys()
            unsure = {self.cached[row] for row in miscounted} - self.fresh.keys() - self.missed
            self.unsure |= unsure
            for index, (summary, _) in self._known(unsure).items():  # what their rows of refs should have said
                targets = {f"{collection}/{target}" for _, collection, target in summary_of(summary).references}
                if not targets.isdisjoint(keys):
                    found.add(index)
        return found

    # ---- sources and seeds first

    def _check_sources(self, checked: list[int], known_digests: dict[int, bytes]) -> dict[int, Summary]:
        """Check the source files whose stat changed, here and first (the seeds' texts depend on them); the
        summaries of every source, by index."""
        sources: dict[int, Summary] = {}
        for index in checked:
            file = self.files[index]
            outcome = examine(None, (index, file.path, file.display, file.collection, file.stem,
                                        known_digests.get(index), None))
            self._take_read(index, outcome)
            if index in self.pending:
                sources[index] = summary_of(marshal.loads(self.pending[index][1]))
        known = self._known([index for index in self.sources if index not in sources], with_cited=False)
        sources.update((index, summary_of(summary)) for index, (summary, _) in known.items())
        return sources

    def _check_seeds(self, sources: dict[int, Summary]) -> None:
        listed = []
        for index in sorted(sources):
            summary, file = sources[index], self.files[index]
            listed.append((index, file.display, file.stem, summary.file, summary.sha256, summary.valid))
        self.seeds = check_seeds(self.project, listed, self.store.seeds() if self.store else {})

    # ---- the other files, and the outcomes

    def _tasks(self, todo: list[int], known_digests: dict[int, bytes], again: set[int]) -> list[Task]:
        """What to examine: the files whose stat changed (to read), and the files to look at again (as known)."""
        known = self._known([index for index in again if index not in self.pending
                             and index not in self.missed])  # a missed file is read and checked again
        known.update((index, (marshal.loads(summary), None)) for index, (_, summary) in self.pending.items())
        tasks, reading = [], set(todo)
        for index in sorted(reading | again):
            file = self.files[index]
            read = index in reading
            what = known.get(index) if index in again else None
            if read or what is not None:
                tasks.append((index, file.path if read else None, file.display, file.collection, file.stem,
                              known_digests.get(index) if read else None, what))
        return tasks

    def _take_outcomes(self, outcomes: Iterable[tuple]) -> None:
        renewed = []
        for outcome in outcomes:
            index, _, _, summary, issues, cited = outcome
            self._take_read(index, outcome)
            if issues is None:
                continue
            self.cross[index] = issues_of(issues)
            if index in self.pending:
                self._store_checked(index, issues, cited)
            elif self.store is not None and self.rows[index] is not None:
                key = self.keys[index]
                renewed.append((self.rows[index], self.paths[index], self.heads[self.rows[index]],
                                seal(issues, key) if issues else None, seal_data(cited, key)))
        if self.store:
            self.store.flush()
            self.store.renew_issues(renewed)

    def _take_read(self, index: int, outcome: tuple) -> None:
        """What reading a file found: the same bytes as cached (its row holds), or a file checked anew."""
        _, digest, record, summary, _, _ = outcome
        if summary is None:
            if digest is not None and self.stats[index] is not None:  # the same bytes as cached
                self.touched.append((self.paths[index], self.stats[index], self.rows[index]))
            return
        summary_data, summary = summary, summary_of(marshal.loads(summary))
        file = self.files[index]
        self.digests[index], self.valid[index] = digest, summary.valid
        self.own.pop(index, None)
        self.declared.pop(index, None)
        self.links.pop(index, None)
        self.repeats.pop(index, None)
        self.names.pop(index, None)
        if summary.problems:
            self.own[index] = summary.problems
        if summary.declared_id != file.stem:
            self.declared[index] = summary.declared_id
        if summary.valid and summary.links:
            self.links[index] = tuple(summary.links)
        if summary.repeat is not None:
            self.repeats[index] = summary.repeat
        if summary.names:
            self.names[index] = summary.names
        self.fresh[index] = {f"{collection}/{target}" for _, collection, target in summary.references}
        self.pending[index] = (record, summary_data)

    def _store_checked(self, index: int, issues: tuple, cited: bytes) -> None:
        """Write the row of a file checked in this run, now that its cross-record outcome is known."""
        record, summary = self.pending.pop(index)
        store = self.store
        if store is None or not store.writable:
            if record is not None:
                self.records[index] = (record, marshal.loads(cited)[2])
            return
        path, digest, stat = self.paths[index], self.digests[index] or b"", self.stats[index]
        key = self.keys[index] = row_key(path, digest)
        own = plain_problems(self.own.get(index, ()))
        rare = (PROBLEMS if own else 0) | (ISSUES if issues else 0) | (ODD_ID if index in self.declared else 0)
        head = (self.valid[index], rare, self.declared.get(index))
        self.rows[index] = store.replace_file(
            self.rows[index], path, stat if digest else None, digest, head,
            (seal(own, key) if own else None, seal(issues, key) if issues else None,
             seal_data(record, key) if record is not None else None, seal_data(summary, key), seal_data(cited, key)),
            self.fresh[index], self.links.get(index, ()), self.repeats.get(index))


def _failed(failed: list[tuple[bytes, int]], present: dict[bytes, int], rows: list[int | None]
            ) -> tuple[list[int], dict[int, int]]:
    """Of the rows of the cache that fail their checksum (path, id): those to delete, and the files (index -> row)
    that have no other (cache misses: read and checked again, their row replaced). Unreadable at a row that names no
    file: it could be the row of a file that went, whose referrers would not be checked again."""
    dropped, replaced = [], {}
    for path, row in failed:
        if (index := present.get(path)) is None:
            raise Unreadable("a row of the cache that names no file fails its checksum")
        if rows[index] is None and index not in replaced:
            replaced[index] = row
        else:
            dropped.append(row)
    return dropped, replaced


def _rare(rows: list[tuple], heads: dict[int, Head], cached: dict[int, int], paths: list[bytes], missed: set[int]
          ) -> tuple[dict[int, tuple[Problem, ...]], dict[int, list[Issue]], dict[int, str | None], set[int]]:
    """The problems, issues and declared ids (by the index of the file) that the ``rows`` (id, SHA-256, problems,
    issues) of the cache's files with something rare hold, but for the ``missed`` rows, and the rows of ``heads``
    (by id; ``cached``: the index of the file of each) that say they have something rare that their rows do not
    give (cache misses)."""
    own, cross, declared = {}, {}, {}
    unread = {row for row, head in heads.items() if head[RARE] and row not in missed}
    for row, digest, problems, issues in rows:
        if row not in unread:
            continue
        index, (_, bits, declared_id) = cached[row], heads[row][:DECLARED + 1]
        key = row_key(paths[index], digest)
        try:
            if bits & PROBLEMS:
                own[index] = problems_of(unseal(problems, key))
            if bits & ISSUES:
                cross[index] = issues_of(unseal(issues, key))
        except (Unreadable, TypeError, ValueError):
            own.pop(index, None)
            continue  # left unread: a miss
        if bits & ODD_ID:
            declared[index] = declared_id  # None too: a file whose id is not its name, but no text
        unread.discard(row)
    return own, cross, declared, unread


# --------------------------------------------------------------------------- reporting


def report(run: Run, listed: list[Problem]) -> None:
    """Fill ``run``'s problems: the listing's (``listed``), the files' own, their issues located at line and column,
    the seeds'; its notes (the hints that are no problems), what names the records of the collections that unknown
    ids were given for (:attr:`Run.named`), and the files it keeps."""
    whole: dict[int, list[Issue]] = {}
    data = display_path(run.project, run.project.data_dir)
    repeated, similar, cycled = _whole(run)
    ids = duplicate_ids(run.files, run.declared, run.position if run.declared else {}, data)
    for found in (run.seeds.issues, ids, cycled, repeated):
        for index, issues in found.items():
            whole.setdefault(index, []).extend(issues)
    problems = list(listed)
    for index in sorted(run.own):
        problems.extend(run.own[index])
    for index in sorted(run.cross.keys() | whole.keys()):
        issues = whole.get(index, []) + run.cross.get(index, [])
        if issues:
            problems.extend(_located(run, run.files[index], issues))
    run.problems = problems + run.seeds.problems
    run.notes = [note for index in sorted(similar) for note in _located(run, run.files[index], similar[index])]
    named = {about for kind, about, _ in run.hints.values() if kind == "id"}
    run.named = {collection: _names_of(run, collection) for collection in sorted(named)
                 if any(name in COLLECTIONS[collection].model_fields for name in NAME_FIELDS)}
    bad = {problem.path for problem in run.problems}
    run.kept = [index for index, file in enumerate(run.files) if run.valid[index] and file.display not in bad]


def _whole(run: Run) -> tuple[dict[int, list[Issue]], ...]:
    """The issues of the duplicate quotes, the hints of similar ones and the issues of the cycles, by the index of the
    file: as the last run found them while no file checked since has other links or another repeat (and no file with
    either is gone), else found anew; kept for the next run."""
    previous, taken = run.previous, run.previous.whole
    if taken is not None and not run.missed and all(
            (run.links.get(index), run.repeats.get(index)) == (previous.links.get(index), previous.repeats.get(index))
            for index in run.fresh):
        found = tuple({run.cached[row]: issues_of(issues) for row, issues in part.items()} for part in taken)
    else:
        found = (*duplicate_quotes(run.files, run.repeats, run.links),
                 cycles(run.files, {index: run.links[index] for index in sorted(run.links)}))
    tracked = run.store.tracked if run.store is not None else None
    if tracked is not None:
        rows = [{run.rows[index]: plain_issues(issues) for index, issues in part.items()} for part in found]
        tracked.whole = tuple(rows) if all(None not in part for part in rows) else None
    return found


def _names_of(run: Run, collection: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """What names each record of ``collection`` besides its id: as checked in this run, or as cached."""
    indexes = [index for index, file in enumerate(run.files) if file.collection == collection]
    cached = run._known(index for index in indexes if index not in run.fresh)
    names = {index: summary_of(cached[index][0]).names for index in cached}
    names.update((index, run.names[index]) for index in indexes if index in run.names)
    return {run.files[index].stem: names[index] for index in sorted(names) if names[index]}


def _located(run: Run, file: RecordFile, issues: list[Issue]) -> list[Problem]:
    try:
        located = locate(file, decode(read_bytes(file.path)), issues)
    except LoadError as error:  # changed while being checked
        return [Problem(file.display, error.line, error.col, error.message, file.label, code="changed-during-run")]
    run.hints.update((problem, issue.hint) for problem, issue in zip(located, issues) if issue.hint)
    return located
