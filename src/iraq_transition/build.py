"""Build step: validated records -> build/ (SQLite database, CSVs, timeline, Datasette metadata).

The tables are those of the table layout (:mod:`.layout`), their rows made by its getters; the Datasette metadata
is rendered by :mod:`.site_metadata`. Builds start from scratch, are atomic (written next to the output, then
swapped in by exchanging the two names at once) and deterministic (the same records give byte-identical files).
They stream: the records are taken a batch at a time, collection after collection, and each batch's rows go
straight into SQLite and the CSV files, so that memory never holds the tables. With more records than a batch, the
rows are made in a forked process (:mod:`.forked`) while this one writes them: a core each. What each record makes
is kept in the cache (:meth:`.Dataset.made_items`): the next build makes again only the rows of records whose file
changed (of every record when a seed's text did), and gives the same bytes as a build from scratch.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import fcntl
import functools
import json
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from . import corroboration, forked, site_config
from .codebook import codebook, to_html, to_markdown
from .freshness import built_before, input_state, remember_build
from .layout import (CITATIONS, CSV_LINE_TERMINATOR, CollectionPlan, Table, collection_plans, json_array, sql_name,
                     table_layout)
from .load import Project, ensure_real_directories
from .models import COLLECTIONS, SCHEMA_VERSION, Record
from .problems import UsageError, refuse, shown
from .site_metadata import browsed_columns, datasette_metadata
from .spans import find_span
from .timeline import Timeline
from .validate import Dataset, Spans, validate_project
from .views import views

DATABASE = f"{site_config.NAME}.db"
CSV_DIR = "csv"
TIMELINE = "timeline.svg"
METADATA = "metadata.json"
CODEBOOK = "codebook.md"
CODEBOOK_HTML = "codebook.html"
"""The codebook, as in docs/, and as an HTML fragment for the site."""
OUTPUT_NAMES = frozenset(
    {DATABASE, CSV_DIR, TIMELINE, METADATA, CODEBOOK, CODEBOOK_HTML, *(DATABASE + s for s in ("-journal", "-wal", "-shm"))}
)
"""What a build writes into its output directory (and what SQLite may leave next to an opened database)."""
STAGING = "-new-"
"""Infix of a build's staging directory next to the output (``.build-new-<token>``)."""
RETIRED = "-old-"
"""Infix of the previous output's name while it is swapped out, where two names cannot be exchanged at once."""
BATCH = 1000
"""Records whose rows are made and written together: enough for bulk inserts, few enough to hold."""


class BuildError(Exception):
    """The database came out inconsistent although the records validated (a bug, not a data error)."""


FORKED_FAILURES = (BuildError, UsageError, OSError, sqlite3.Error, MemoryError)
"""The failures of a part of the build done in a forked process (:mod:`.forked`) that are raised in the build as
they were, to be reported as the build's own; any other is a bug."""


# --------------------------------------------------------------------------- rows


def record_rows(plan: CollectionPlan, record_id: str, record: Record, spans: Spans, texts: dict[str, str]) -> dict[str, list[tuple]]:
    """The rows one record of a collection (with the spans validation found for its citations) adds to the
    collection's table, its child tables and citations, in primary-key order."""
    row = [getter(record) for getter in plan.record.getters]
    if plan.quoted:
        row.append(texts[record_id])
    rows = {plan.collection: [tuple(row)]}
    for field, child in plan.children:
        rows[child.table.name] = [(record_id, position, *[getter(item) for getter in child.getters])
                                  for position, item in enumerate(getattr(record, field))]
    rows[CITATIONS] = list(_citation_rows(plan, record_id, record, spans, texts))
    return rows


def _citation_rows(plan: CollectionPlan, record_id: str, record: Record, spans: Spans, texts: dict[str, str]) -> Iterator[tuple]:
    """The citations rows of one record and of its list items, with the span's offsets in the source text (as
    validation found them, or looked up here)."""
    parts = [("", (), record)] if plan.cited else []
    for field in plan.cited_fields:
        parts += [(f"{field}.{n}", (field, n), item) for n, item in enumerate(getattr(record, field))]
    for part, loc, item in parts:
        for position, citation in enumerate(item.citations):
            span = spans.get((*loc, "citations", position)) or find_span(texts[citation.source], citation)
            if span is None:
                where = f"{part}.citations" if part else "citations"
                raise BuildError(
                    f"{plan.collection}/{record_id}: {where}.{position}: span not found once in {citation.source}"
                )
            yield (
                plan.collection, record_id, part, position, citation.source, citation.quote, citation.prefix,
                citation.suffix, json_array(citation.supports), *span,
            )


# --------------------------------------------------------------------------- SQLite


def _fts_sql(name: str, columns: tuple[str, ...]) -> list[str]:
    fts = f"{name}_fts"
    return [
        f"CREATE VIRTUAL TABLE {sql_name(fts)} USING fts5({', '.join(map(sql_name, columns))}, "
        f"content=[{name}], content_rowid=rowid, tokenize='porter unicode61 remove_diacritics 2')",
        f"INSERT INTO {sql_name(fts)}({sql_name(fts)}) VALUES ('rebuild')",
    ]


@contextlib.contextmanager
def _database(path: Path) -> Iterator[sqlite3.Connection]:
    """A fresh database at ``path`` with every table of :func:`table_layout` created, in an open transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # fixed page size, no journal (a failed build is thrown away), the schema version in the header
        for pragma in ("page_size = 4096", "journal_mode = OFF", "synchronous = OFF", f"user_version = {int(SCHEMA_VERSION)}"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute("BEGIN")
        for table in (*table_layout(), *corroboration.TABLES):
            connection.execute(table.create_sql())
        yield connection
    finally:
        connection.close()


def _finish_database(connection: sqlite3.Connection) -> None:
    """Once the rows are in: indexes (also on the columns the site facets or sorts by), full-text indexes, views;
    commit, check foreign keys. No VACUUM: the rows go in once, in order, into a fresh file, which leaves no free
    pages; rewriting the file would take 5% of a build to make it 2% smaller."""
    browsed = browsed_columns()
    statements = [sql for table in table_layout() for sql in table.index_sql(browsed[table.name])]
    statements += [sql for name, columns in site_config.FULL_TEXT.items() for sql in _fts_sql(name, columns)]
    statements += [view.create_sql() for view in views()]
    for sql in statements:
        connection.execute(sql)
    connection.execute("COMMIT")
    broken = connection.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise BuildError(f"foreign keys broken in the database (table, rowid, parent): {broken[:5]}")


# --------------------------------------------------------------------------- CSV and the whole build


def csv_tables() -> tuple[Table, ...]:
    """Every table written as ``csv/<name>.csv``: the tables of the layout, the views, the corroboration tables."""
    return (*table_layout(), *(view.table for view in views()), *corroboration.TABLES)


def _csv_writer(file: Any) -> Any:
    """A CSV writer into ``file`` as the build writes every CSV file: null as an empty cell, CRLF."""
    return csv.writer(file, lineterminator=CSV_LINE_TERMINATOR)


@contextlib.contextmanager
def _csv_files(directory: Path) -> Iterator[dict[str, Any]]:
    """A file per table and view, ``directory/<name>.csv`` (UTF-8), open for writing, its header row written."""
    directory.mkdir()
    with contextlib.ExitStack() as stack:
        files = {}
        for table in csv_tables():
            files[table.name] = stack.enter_context(open(directory / f"{table.name}.csv", "w", encoding="utf-8", newline=""))
            _csv_writer(files[table.name]).writerow(column.name for column in table.columns)
        yield files


def _write_views(connection: sqlite3.Connection, files: dict[str, Any]) -> None:
    """Each view's rows into its CSV file, a batch at a time, after checking that SQLite gives it the columns
    the layout describes (while the corroboration tables are written meanwhile: :func:`_write_counted`)."""
    for view in views():
        cursor = connection.execute(f"SELECT * FROM {sql_name(view.name)}")
        names = tuple(column[0] for column in cursor.description)
        if names != tuple(column.name for column in view.table.columns):
            raise BuildError(f"view {view.name} has the columns {names}, not those its description lists")
        writer = _csv_writer(files[view.name])
        while rows := cursor.fetchmany(BATCH):
            writer.writerows(view.table.csv_rows(rows))


def _write_counted(database: Path, files: dict[str, Any]) -> None:
    """The corroboration tables' rows (counted in record order) into their CSV files in primary-key order, read
    through a connection of their own to the finished ``database``."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        for table in corroboration.TABLES:
            cursor = connection.execute(f"SELECT * FROM {sql_name(table.name)} ORDER BY "
                                        f"{', '.join(map(sql_name, table.primary_key))}")
            writer = _csv_writer(files[table.name])
            while rows := cursor.fetchmany(BATCH):
                writer.writerows(rows)
            files[table.name].flush()


Made = tuple[int, int, dict[str, list[tuple]], list[tuple[str, str | None, tuple[str, ...]]], list[tuple[int, bytes]]]
"""What :func:`_made_rows` makes of a batch: the index of its collection's plan, its number of records, the rows of
each table (the collection's, its child tables', citations), for sources what corroboration needs of each (id,
``same_story_as`` and the ids its ``shared_upstream`` names), and what the cache is to keep of the records made now
(:meth:`.Dataset.keep`)."""


def _table_names(plan: CollectionPlan) -> tuple[str, ...]:
    """The tables a collection's records add rows to, in the order of what :func:`_record_made` makes."""
    return (plan.collection, *(child.table.name for _, child in plan.children), CITATIONS)


def _record_made(plan: CollectionPlan, texts: dict[str, str], record_id: str, record: Record, spans: Spans) -> tuple:
    """What one record makes, as plain data: its rows of each table of :func:`_table_names`, and for a source what
    corroboration needs of it (else None)."""
    rows = record_rows(plan, record_id, record, spans, texts)
    reported = (record_id, record.same_story_as, tuple(upstream.source for upstream in record.shared_upstream)) \
        if plan.quoted else None
    return tuple(rows[name] for name in _table_names(plan)), reported


SCALARS = frozenset({str, int, float, bool, type(None)})
"""The types of the values of rows."""


def _fitting(plan: CollectionPlan) -> Callable[[str, Any], bool]:
    """Whether a value is what :func:`_record_made` makes of the record of ``plan``'s collection with that id: its row,
    and rows of its own, each as wide as its table, of plain values (a cache's blob of the right seal but another
    shape, which no code of this version writes, is a cache miss)."""
    tables = {table.name: table for table in table_layout()}
    widths = [len(tables[name].columns) for name in _table_names(plan)]

    def fits(record_id: str, value: Any) -> bool:
        if type(value) is not tuple or len(value) != 2 or type(value[0]) is not tuple or len(value[0]) != len(widths):
            return False
        made, reported = value
        if type(made[0]) is not list or len(made[0]) != 1:
            return False
        for at, (rows, width) in enumerate(zip(made, widths)):
            owner = (plan.collection, record_id) if at == len(widths) - 1 else (record_id,)  # citations last
            if type(rows) is not list or not all(
                    type(row) is tuple and len(row) == width and row[:len(owner)] == owner
                    and SCALARS.issuperset(map(type, row)) for row in rows):
                return False
        if not plan.quoted:
            return reported is None
        return (type(reported) is tuple and len(reported) == 3 and reported[0] == record_id
                and type(reported[1]) in (str, type(None)) and type(reported[2]) is tuple
                and all(type(source) is str for source in reported[2]))

    return fits


def _made_rows(dataset: Dataset, timeline: Timeline) -> Iterator[Made]:
    """What each batch makes (:data:`Made`), collection after collection, the events drawn into ``timeline`` from
    their rows on the way."""
    for index, plan in enumerate(collection_plans()):
        names = _table_names(plan)
        drawn = plan.collection == timeline.collection
        made = dataset.made_items(plan.collection, functools.partial(_record_made, plan, dataset.texts), _fitting(plan))
        while batch := list(islice(made, BATCH)):
            rows: dict[str, list[tuple]] = {name: [] for name in names}
            reported, kept = [], []
            for (tables, report), keep in batch:
                for name, table_rows in zip(names, tables):
                    rows[name] += table_rows
                if drawn:
                    timeline.add_row(tables[0][0])
                if report is not None:
                    reported.append(report)
                if keep is not None:
                    kept.append(keep)
            yield index, len(batch), rows, reported, kept


def write_tables(dataset: Dataset, directory: Path) -> tuple[dict[str, int], str]:
    """Write every table into the database and its CSV file in ``directory``, a batch of records at a time, collection
    after collection (so that only a batch's rows are held), counting corroboration once the sources are in; the
    number of records of each collection, and the timeline of the records. With more records than a batch, the rows
    are made in a process of their own (:mod:`.forked`) meanwhile.
    """
    plans = collection_plans()
    quoted = next((index for index, plan in enumerate(plans) if plan.quoted), len(plans))
    if any(plan.cited for plan in plans[:quoted + 1]):
        raise BuildError("a collection that cites sources comes before them: corroboration cannot be counted")
    counts = dict.fromkeys(COLLECTIONS, 0)
    tables = {table.name: table for table in table_layout()}
    inserts = {name: table.insert_sql() for name, table in tables.items()}
    counted_inserts = [table.insert_sql() for table in corroboration.TABLES]
    sources: list[tuple[str, str | None, tuple[str, ...]]] = []
    tallies = None
    with _database(directory / DATABASE) as connection, _csv_files(directory / CSV_DIR) as files:
        writers = {table.name: _csv_writer(files[table.name]) for table in tables.values()}
        timeline = Timeline()
        forking = dataset.size > BATCH  # fewer records: one batch, nothing to do meanwhile
        made = forked.Stream(lambda: _made_rows(dataset, timeline), timeline.svg, dataset.reconnect,
                             FORKED_FAILURES, fork=forking)
        with contextlib.closing(iter(made)) as batches:  # closed: a maker of its own is stopped at once
            for index, size, rows, reported, kept in batches:
                dataset.keep(kept)
                plan = plans[index]
                counts[plan.collection] += size
                sources += reported
                for name, table_rows in rows.items():
                    connection.executemany(inserts[name], table_rows)
                    writers[name].writerows(tables[name].csv_rows(table_rows))
                if index > quoted:
                    if tallies is None:  # the sources are in: which report each is
                        tallies = corroboration.Counts(corroboration.Reports(sources))
                    labels = {row[0]: row[plan.label_index] for row in rows[plan.collection]}
                    for insert, table_rows in zip(counted_inserts, corroboration.batch_rows(
                            tallies, plan.collection, labels, rows[CITATIONS])):
                        connection.executemany(insert, table_rows)
        svg = made.result
        _finish_database(connection)
        for file in files.values():
            file.flush()  # nothing buffered is copied into a forked process
        with forked.meanwhile(lambda: _write_counted(directory / DATABASE, files), FORKED_FAILURES, fork=forking):
            _write_views(connection, files)
    return counts, svg


def write_outputs(dataset: Dataset, directory: Path) -> dict[str, int]:
    """Write every build output into the empty ``directory``; the number of records of each collection."""
    counts, svg = write_tables(dataset, directory)
    (directory / TIMELINE).write_text(svg, encoding="utf-8", newline="")
    text = json.dumps(datasette_metadata(timeline_svg=svg), indent=2, ensure_ascii=False) + "\n"
    (directory / METADATA).write_text(text, encoding="utf-8", newline="")
    blocks = codebook(csv_tables())
    (directory / CODEBOOK).write_text(to_markdown(blocks), encoding="utf-8", newline="")
    (directory / CODEBOOK_HTML).write_text(to_html(blocks), encoding="utf-8", newline="")
    return counts


def build(dataset: Dataset, out: Path) -> dict[str, int]:
    """Write the outputs of ``dataset`` into a staging directory next to ``out``, then swap it in; the number of
    records of each collection.

    ``out`` always names a complete output, the previous or the new one, whatever fails or kills the process on
    the way (where the system has no atomic exchange of names, there is a moment between two renames without
    it); staging directories that a killed build left behind are removed by a later one.
    """
    out = Path(os.path.abspath(out))
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out)
    staging = out.parent / f".{out.name}{STAGING}{uuid.uuid4().hex[:12]}"
    staging.mkdir()  # not mkdtemp: the output directory gets the usual permissions
    claim = _claim(staging)
    try:
        counts = write_outputs(dataset, staging)
        _swap_in(staging, out)
    finally:
        _remove(staging)  # after the swap, the previous output (or the symbolic link that stood in its place)
        os.close(claim)
    return counts


def _check_replaceable(out: Path) -> None:
    """Refuse to replace anything but a directory holding only what a build writes (part of it, if some was
    deleted), or a symbolic link (replaced itself: what it points to is never looked at)."""
    if os.path.islink(out):
        return
    if out.exists() and (not out.is_dir() or set(os.listdir(out)) - OUTPUT_NAMES):
        raise UsageError(
            f"{out} exists and is not a previous build output; refusing to replace it: choose a new or empty directory"
        )


def _claim(directory: Path) -> int:
    """An open descriptor holding an exclusive lock on ``directory``: the staging directory of a running build."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


STALE_AFTER = 60
"""Seconds a staging directory is left alone after its last change, whoever holds it: a build makes its directory,
then locks it."""


def _remove_stale_staging(out: Path) -> None:
    """Remove the staging directories next to ``out`` that no running build holds (left by a killed one), and
    the symbolic links a swap left in their place."""
    prefixes = (f".{out.name}{STAGING}", f".{out.name}{RETIRED}")
    for name in os.listdir(out.parent):
        if not name.startswith(prefixes):
            continue
        path = out.parent / name
        if os.path.islink(path):
            _remove(path)
            continue
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # not a directory, or gone meanwhile
        try:
            if time.time() - os.fstat(descriptor).st_mtime < STALE_AFTER:
                continue  # perhaps made by a build that is about to lock it
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a build is writing it
        else:
            _remove(path)  # while holding the lock: no build can take it meanwhile
        finally:
            os.close(descriptor)


def _remove(path: Path) -> None:
    """Remove the directory ``path`` and all it holds, or only the link if it is a symbolic link (never followed)."""
    if os.path.islink(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` in the place of ``out``, leaving the previous output at ``staging``.

    One atomic exchange where the system has one; else two renames, between which ``out`` is missing (and
    restored if the second fails).
    """
    if not os.path.lexists(out):
        staging.rename(out)
    elif not _exchange(staging, out):
        retired = out.parent / f".{out.name}{RETIRED}{uuid.uuid4().hex[:12]}"
        out.rename(retired)
        try:
            staging.rename(out)
        except OSError:
            retired.rename(out)
            raise
        retired.rename(staging)


RENAME_EXCHANGE = 2
"""``renameat2``'s flag to exchange two names (linux/fs.h)."""
AT_FDCWD = -100
"""``renameat2``'s directory argument for paths relative to the working directory (linux/fcntl.h)."""


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """Linux's ``renameat2`` from the C library, or None where there is none."""
    if sys.platform != "linux":
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is not None:
        function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    return function


def _exchange(first: Path, second: Path) -> bool:
    """Exchange the names ``first`` and ``second`` atomically; False where the system or file system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
"""Errors of a write that found no room: disk full, quota exceeded, file size limit reached."""
SQLITE_ENVIRONMENT = (
    "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_NOMEM"
)
"""SQLite's errors (and their extended codes) that come from the machine, not from the build's own SQL."""


def _failure(error: Exception, out: Path) -> str:
    """The one line that says why the build failed (the disk, the memory, SQLite) and what to do; SQLite errors other
    than the machine's are bugs, raised again."""
    unchanged = f"{out} is left as it was"
    if isinstance(error, MemoryError):
        return f"not enough memory to build: close other programs, or build on a machine with more; {unchanged}"
    if isinstance(error, sqlite3.Error):
        if not (getattr(error, "sqlite_errorname", None) or "").startswith(SQLITE_ENVIRONMENT):
            raise error
        advice = "free some disk space or check the disk, then build again"
        return f"SQLite could not write the database ({error}): {advice}; {unchanged}"
    if isinstance(error, OSError) and error.errno in FULL:
        where = f" writing {error.filename}" if error.filename else ""
        advice = "free some disk space or raise the file size limit, then build again"
        return f"no room{where} ({error.strerror}): {advice}; {unchanged}"
    return f"{error}; {unchanged}"


def run(args) -> int:
    """The ``build`` command."""
    project = Project(args.root)
    out = args.out if args.out is not None else project.build_dir
    root, where = Path(os.path.abspath(project.root)), Path(os.path.abspath(out))
    if where.is_relative_to(root):
        ensure_real_directories(root, where)
    use_cache, cache_dir = not args.no_cache, getattr(args, "cache_dir", None)
    inputs = input_state(project) if use_cache else None
    if inputs is not None and (message := built_before(project, out, inputs, cache_dir)):
        print(message)  # the same inputs and code built this very output: building again would give the same bytes
        return 0
    replaces_link = os.path.islink(out)
    try:
        dataset, problems = validate_project(project, use_cache=use_cache, cache_dir=cache_dir)
        counts = {} if problems else build(dataset, out)
    except (OSError, sqlite3.Error, BuildError, MemoryError) as error:
        print(shown(f"iraq-transition build: {_failure(error, Path(os.path.abspath(out)))}"), file=sys.stderr)
        return 1
    if problems:
        return refuse("build", dataset.size, problems, f"{out} left unchanged")
    built = ", ".join(f"{count} {collection}" for collection, count in counts.items())
    message = f"built {out / DATABASE}, {out / CSV_DIR}/ and {out / TIMELINE} from {built}"
    if replaces_link:
        print(f"{out} was a symbolic link: replaced by a directory of its own (the build never writes through a "
              "link); what the link pointed to is left as it was")
    print(message)
    if inputs is not None:
        remember_build(project, out, inputs, message, cache_dir)
    return 0
