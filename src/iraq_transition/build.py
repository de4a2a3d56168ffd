"""Build step: validated records -> build/ (SQLite database, CSVs, timeline, Datasette metadata).

The table layout is derived from the Pydantic models by walking their fields; it is the one
description of the tables, used here for SQLite and CSV and by ``export`` for the Frictionless
data package. Builds start from scratch, are atomic (written next to the output, then swapped
in by exchanging the two names at once) and deterministic (the same records give byte-identical
files). They stream: the records are taken a batch at a time, collection after collection, and
each batch's rows go straight into SQLite and the CSV files, so that memory never holds the tables.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from html import escape
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import BaseModel, Strict, StringConstraints

from . import site_config
from .freshness import built_before, input_state, remember_build
from .fields import field_type, is_model
from .load import Project, ensure_real_directories
from .models import (
    COLLECTIONS, SCHEMA_VERSION, SLUG_PATTERN, Citation, FuzzyDate, Record, References
)
from .problems import UsageError, refuse, shown
from .timeline import Timeline
from .spans import find_span
from .validate import Dataset, Spans, validate_project

DATABASE = "iraq-transition.db"
DATASETTE_NAME = Path(DATABASE).stem
"""Name of the database in Datasette: the stem of the built database's file name."""
CSV_DIR = "csv"
TIMELINE = "timeline.svg"
METADATA = "metadata.json"
CITATIONS = "citations"
CSV_LINE_TERMINATOR = "\r\n"
OUTPUT_NAMES = frozenset({DATABASE, CSV_DIR, TIMELINE, METADATA, *(DATABASE + s for s in ("-journal", "-wal", "-shm"))})
"""What a build writes into its output directory (and what SQLite may leave next to an opened database)."""
STAGING = "-new-"
"""Infix of a build's staging directory next to the output (``.build-new-<token>``)."""
RETIRED = "-old-"
"""Infix of the previous output's name while it is swapped out, where two names cannot be exchanged at once."""
FULL_TEXT = {"sources": ("text",), "events": ("title", "description"), "quotes": ("text",)}
"""Tables searchable with FTS5 (``<table>_fts``, external content), and the columns indexed."""
BATCH = 1000
"""Records whose rows are made and written together: enough for bulk inserts, few enough to hold."""

SQL_TYPES = {
    "string": "TEXT", "date": "TEXT", "array": "TEXT", "integer": "INTEGER", "boolean": "INTEGER", "number": "REAL"
}
SCALAR_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}

Getter = Callable[[Any], Any]


class BuildError(Exception):
    """The database came out inconsistent although the records validated (a bug, not a data error)."""


# --------------------------------------------------------------------------- table layout


@dataclass(frozen=True)
class Column:
    """One column of a table, with the constraints its model field declares."""

    name: str
    type: str  # Frictionless field type: string, integer, number, boolean, date or array
    description: str
    required: bool = False  # never null
    references: str | None = None  # table whose ``id`` this column holds
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """One table of the build: a collection, a list field of one (``event_participants``), or ``citations``."""

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def foreign_keys(self) -> tuple[tuple[str, str], ...]:
        """(column, referenced table) pairs; the referenced column is always ``id``."""
        return tuple((column.name, column.references) for column in self.columns if column.references)


@dataclass
class _Flat:
    """A model flattened into columns, with a getter per column, and the list fields left over."""

    columns: list[Column]
    getters: list[Getter]
    children: list[tuple[str, type[BaseModel]]]  # list-of-model fields other than citations
    cited: bool  # whether the model has a ``citations`` list


@dataclass(frozen=True)
class _TablePlan:
    table: Table
    getters: tuple[Getter, ...]


@dataclass(frozen=True)
class _CollectionPlan:
    collection: str
    record: _TablePlan
    children: tuple[tuple[str, _TablePlan], ...]  # (list field, its child table)
    cited: bool  # whether the records carry citations (sources do not)
    cited_fields: tuple[str, ...]  # list fields whose items carry citations


def singular(collection: str) -> str:
    """``events`` -> ``event``: names child tables and their parent-id columns."""
    return collection.removesuffix("s")


def label_column(collection: str) -> str:
    """The column that names a collection's records (events.title, actors.name, ...)."""
    fields = COLLECTIONS[collection].model_fields
    return next(name for name in site_config.LABEL_FIELDS if name in fields)


@cache
def table_layout() -> tuple[Table, ...]:
    """Every table of the build, in creation order: each collection followed by its child tables, then citations."""
    tables = []
    for plan in _collection_plans():
        tables += [plan.record.table, *(child.table for _, child in plan.children)]
    return (*tables, _citations_table())


def table(name: str) -> Table:
    """The table called ``name`` in :func:`table_layout`."""
    return next(table for table in table_layout() if table.name == name)


@cache
def _collection_plans() -> tuple[_CollectionPlan, ...]:
    return tuple(_collection_plan(collection, model) for collection, model in COLLECTIONS.items())


def _collection_plan(collection: str, model: type[BaseModel]) -> _CollectionPlan:
    flat = _flatten(model)
    columns = flat.columns
    if collection == "sources":
        text = "Full text of the archived article in seeds/; citation offsets index into it."
        columns = [*columns, Column("text", "string", text, required=True)]
    record = _TablePlan(Table(collection, _doc(model), tuple(columns), ("id",)), tuple(flat.getters))
    children = []
    cited_fields = []
    parent = singular(collection)
    parent_id = f"{parent}_id"
    for field, item_model in flat.children:
        item = _flatten(item_model, top_level=False)
        if item.cited:
            cited_fields.append(field)
        context = [
            Column(parent_id, "string", f"Id of the {parent} this row belongs to.", required=True, references=collection),
            Column("position", "integer", f"0-based position in the {parent}'s {field} list.", required=True, minimum=0),
        ]
        name = f"{parent}_{field}"
        description = f"{_doc(item_model)} One row per item of {collection}.{field}."
        child = Table(name, description, (*context, *item.columns), (parent_id, "position"))
        children.append((field, _TablePlan(child, tuple(item.getters))))
    for plan_table in (record.table, *(child.table for _, child in children)):
        names = [column.name for column in plan_table.columns]
        if len(set(names)) != len(names):
            raise TypeError(f"table {plan_table.name}: flattened column names collide: {names}")
    return _CollectionPlan(collection, record, tuple(children), flat.cited, tuple(cited_fields))


def _citations_table() -> Table:
    collections = tuple(COLLECTIONS)
    context = [
        Column("record_type", "string", "Collection of the cited record.", required=True, enum=collections),
        Column("record_id", "string", "Id of the cited record.", required=True, pattern=SLUG_PATTERN),
        Column(
            "part",
            "string",
            "Which part of the record the citation supports: empty for the record itself, else list field "
            "and 0-based position, e.g. 'postures.0'.",
            pattern=r"^[a-z_]+\.[0-9]+$",
        ),
        Column("position", "integer", "0-based position in the part's citations list.", required=True, minimum=0),
    ]
    flat = _flatten(Citation, top_level=False)
    renamed = [dataclasses.replace(c, name="source_id") if c.name == "source" else c for c in flat.columns]
    offsets = [
        Column("start_offset", "integer", "Character offset in sources.text where the span starts.", required=True, minimum=0),
        Column("end_offset", "integer", "Character offset in sources.text just after the span.", required=True, minimum=0),
    ]
    description = f"{_doc(Citation)} Every citation of every record, at any depth."
    primary_key = ("record_type", "record_id", "part", "position")
    return Table(CITATIONS, description, (*context, *renamed, *offsets), primary_key)


def _flatten(model: type[BaseModel], top_level: bool = True) -> _Flat:
    """Columns for the scalar and nested-model fields of ``model``; list-of-model fields are left to child tables."""
    flat = _Flat([], [], [], False)
    for name, info in model.model_fields.items():
        shape = field_type(info.annotation, tuple(info.metadata))
        base, optional = shape.base, shape.optional
        description = info.description or ""
        if shape.is_list:
            item = base
            if item is Citation:
                flat.cited = True
            elif is_model(item) and top_level:
                flat.children.append((name, item))
            elif item is str:
                flat.columns.append(Column(name, "array", f"{description} A JSON array.", required=not optional))
                flat.getters.append(_getter(name, _json_array))
            else:
                raise TypeError(f"{model.__name__}.{name}: a list of {item} has no table layout")
        elif is_model(base):
            nested = _flatten(base, top_level=False)
            if nested.children or nested.cited:
                raise TypeError(f"{model.__name__}.{name}: nested lists inside {base.__name__} have no table layout")
            for column, getter in zip(nested.columns, nested.getters):
                flat.columns.append(
                    dataclasses.replace(
                        column,
                        name=f"{name}_{column.name}",
                        description=f"{description} — {column.name}: {column.description}",
                        required=column.required and not optional,
                    )
                )
                flat.getters.append(_within(name, getter))
            if base is FuzzyDate:
                for end, (which, index) in {"start": ("Earliest", 0), "end": ("Latest", 1)}.items():
                    flat.columns.append(
                        Column(
                            f"{name}_{end}",
                            "date",
                            f"{description} — {which} possible day (YYYY-MM-DD) from value, qualifier and "
                            "earliest/latest; null when open.",
                        )
                    )
                    flat.getters.append(_within(name, lambda date, index=index: date.bounds()[index]))
        else:
            where = f"{model.__name__}.{name}"
            flat.columns.append(_scalar_column(where, name, base, not optional, description, shape.metadata))
            flat.getters.append(_getter(name, int if base is bool else None))
    return flat


def _scalar_column(where: str, name: str, base: Any, required: bool, description: str, metadata: tuple) -> Column:
    if get_origin(base) is Literal:
        kind, enum = "string", tuple(get_args(base))
    elif base in SCALAR_TYPES:
        kind, enum = SCALAR_TYPES[base], None
    else:
        raise TypeError(f"{where}: type {base} has no column type")
    constraints: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, References):
            constraints["references"] = item.collection
        elif isinstance(item, StringConstraints):
            constraints.update(pattern=item.pattern, min_length=item.min_length, max_length=item.max_length)
        elif isinstance(item, Strict):
            continue  # what the column's type already says: no boolean for a number
        elif isinstance(item, annotated_types.Ge):
            constraints["minimum"] = item.ge
        elif isinstance(item, annotated_types.Le):
            constraints["maximum"] = item.le
        elif isinstance(item, annotated_types.MinLen):
            constraints["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            constraints["max_length"] = item.max_length
        else:
            raise TypeError(f"{where}: constraint {item!r} has no column equivalent")
    return Column(name, kind, description, required=required, enum=enum, **constraints)


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").replace("``", "").split())


def _getter(name: str, convert: Callable[[Any], Any] | None) -> Getter:
    if convert is None:
        return attrgetter(name)
    return lambda obj: None if (value := getattr(obj, name)) is None else convert(value)


def _within(name: str, getter: Getter) -> Getter:
    return lambda obj: None if (inner := getattr(obj, name)) is None else getter(inner)


def _json_array(values: list[str]) -> str:
    return json.dumps(values, ensure_ascii=False)


# --------------------------------------------------------------------------- rows


def _batches(items: Iterator[tuple[str, Record, Spans]]) -> Iterator[list[tuple[str, Record, Spans]]]:
    """``items`` in lists of up to :data:`BATCH`."""
    while batch := list(islice(items, BATCH)):
        yield batch


def batch_rows(plan: _CollectionPlan, batch: list[tuple[str, Record, Spans]], texts: dict[str, str]) -> dict[str, list[tuple]]:
    """The rows a batch of one collection's records (in id order, each with the spans validation found for its
    citations) adds to the collection's table, its child tables and citations, in primary-key order."""
    record_rows: list[tuple] = []
    child_rows: dict[str, list[tuple]] = {child.table.name: [] for _, child in plan.children}
    citation_rows: list[tuple] = []
    getters = plan.record.getters
    for record_id, record, spans in batch:
        row = [getter(record) for getter in getters]
        if plan.collection == "sources":
            row.append(texts[record_id])
        record_rows.append(tuple(row))
        for field, child in plan.children:
            rows = child_rows[child.table.name]
            for position, item in enumerate(getattr(record, field)):
                rows.append((record_id, position, *[getter(item) for getter in child.getters]))
        citation_rows += _citation_rows(plan, record_id, record, spans, texts)
    return {plan.collection: record_rows, **child_rows, CITATIONS: citation_rows}


def _citation_rows(plan: _CollectionPlan, record_id: str, record: Record, spans: Spans, texts: dict[str, str]) -> Iterator[tuple]:
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
                citation.suffix, *span,
            )


# --------------------------------------------------------------------------- SQLite


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(table: Table) -> str:
    """``CREATE TABLE`` for ``table``: typed columns, NOT NULL, primary key and foreign keys."""
    lines = []
    for column in table.columns:
        line = f"{_q(column.name)} {column.sql_type}"
        if column.required:
            line += " NOT NULL"
        if column.references:
            line += f" REFERENCES {_q(column.references)}(\"id\")"
        lines.append(line)
    lines.append(f"PRIMARY KEY ({', '.join(map(_q, table.primary_key))})")
    return f"CREATE TABLE {_q(table.name)} (\n    " + ",\n    ".join(lines) + "\n)"


def _index_sql(table: Table, browsed: tuple[str, ...] = ()) -> list[str]:
    """An index on every foreign-key column and every ``browsed`` column (faceted or sorted by in Datasette),
    except one the primary key's index already leads with."""
    columns = dict.fromkeys([column for column, _ in table.foreign_keys] + list(browsed))
    return [
        f"CREATE INDEX {_q(f'idx_{table.name}_{column}')} ON {_q(table.name)}({_q(column)})"
        for column in columns
        if column != table.primary_key[0]
    ]


def browsed_columns(metadata: dict) -> dict[str, tuple[str, ...]]:
    """Per table, the columns Datasette facets or sorts by, as the metadata configures them."""
    columns: dict[str, tuple[str, ...]] = {}
    for database in metadata.get("databases", {}).values():
        for name, entry in database.get("tables", {}).items():
            wanted = [*entry.get("facets", []), entry.get("sort"), entry.get("sort_desc")]
            columns[name] = tuple(column for column in wanted if isinstance(column, str))
    return columns


def _fts_sql(name: str, columns: tuple[str, ...]) -> list[str]:
    fts = f"{name}_fts"
    return [
        f"CREATE VIRTUAL TABLE {_q(fts)} USING fts5({', '.join(map(_q, columns))}, "
        f"content=[{name}], content_rowid=rowid, tokenize='porter unicode61 remove_diacritics 2')",
        f"INSERT INTO {_q(fts)}({_q(fts)}) VALUES ('rebuild')",
    ]


def _view_sql() -> list[str]:
    labels = " UNION ALL ".join(
        f"SELECT '{collection}' AS record_type, id, {_q(label_column(collection))} AS label FROM {_q(collection)}"
        for collection in COLLECTIONS
    )
    return [
        """CREATE VIEW timeline AS
SELECT id, coalesce(date_start, date_end) AS sort_date,
    date_value, date_qualifier, date_start, date_end, end_date_value, end_date_start, end_date_end,
    CASE WHEN status = 'occurred' THEN title END AS occurred,
    CASE WHEN status <> 'occurred' THEN title END AS announced_planned_or_expected,
    status, event_type, place_country, place_name, place_base
FROM events
ORDER BY sort_date IS NULL, sort_date, date_end IS NULL, date_end, id""",
        """CREATE VIEW quotes_with_speakers AS
SELECT q.id, q.text, a.name AS speaker, q.speaker_id, q.speaker_as_described, a.unnamed AS speaker_unnamed,
    q.said_value AS said, q.said_start, q.said_end, q.occasion, q.occasion_event, q.directness, q.variant_of,
    (SELECT group_concat(source_id, ', ') FROM (
        SELECT DISTINCT source_id FROM citations c
        WHERE c.record_type = 'quotes' AND c.record_id = q.id ORDER BY source_id)) AS source_ids
FROM quotes q LEFT JOIN actors a ON a.id = q.speaker_id
ORDER BY q.said_start IS NULL, q.said_start, q.id""",
        """CREATE VIEW corroboration AS
WITH RECURSIVE origin(id, root) AS (
    SELECT id, id FROM sources WHERE same_story_as IS NULL
    UNION ALL
    SELECT s.id, o.root FROM sources s JOIN origin o ON s.same_story_as = o.id
), counted AS (
    SELECT record_type, record_id, count(*) AS citations FROM citations GROUP BY record_type, record_id
), cited AS (
    SELECT DISTINCT c.record_type, c.record_id, c.source_id, coalesce(o.root, c.source_id) AS report
    FROM citations c LEFT JOIN origin o ON o.id = c.source_id
    ORDER BY c.record_type, c.record_id, c.source_id
)
SELECT cited.record_type, cited.record_id, counted.citations,
    count(DISTINCT cited.source_id) AS sources, count(DISTINCT cited.report) AS independent_reports,
    group_concat(cited.source_id, ', ') AS source_ids
FROM cited JOIN counted USING (record_type, record_id)
GROUP BY cited.record_type, cited.record_id
ORDER BY cited.record_type, cited.record_id""",
        f"""CREATE VIEW source_statements AS
SELECT c.source_id, c.start_offset, c.end_offset, c.quote, c.record_type, c.record_id,
    coalesce(labels.label, c.record_id) AS label, c.part
FROM citations c JOIN ({labels}) AS labels ON labels.record_type = c.record_type AND labels.id = c.record_id
ORDER BY c.source_id, c.start_offset, c.end_offset, c.record_type, c.record_id, c.part, c.position""",
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
        for table in table_layout():
            connection.execute(create_table_sql(table))
        yield connection
    finally:
        connection.close()


def _insert_sql(table: Table) -> str:
    return f"INSERT INTO {_q(table.name)} VALUES ({', '.join('?' * len(table.columns))})"


def _finish_database(connection: sqlite3.Connection, browsed: dict[str, tuple[str, ...]]) -> None:
    """Once the rows are in: indexes (also on the ``browsed`` columns of each table: those Datasette facets or sorts
    by), full-text indexes, views; commit, check foreign keys, VACUUM."""
    statements = [sql for table in table_layout() for sql in _index_sql(table, browsed.get(table.name, ()))]
    statements += [sql for name, columns in FULL_TEXT.items() for sql in _fts_sql(name, columns)]
    statements += _view_sql()
    for sql in statements:
        connection.execute(sql)
    connection.execute("COMMIT")
    broken = connection.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise BuildError(f"foreign keys broken in the database (table, rowid, parent): {broken[:5]}")
    connection.execute("VACUUM")


# --------------------------------------------------------------------------- Datasette metadata


def datasette_metadata(timeline_svg: str | None = None) -> dict:
    """Datasette metadata for the built database (``build/metadata.json``).

    Table and column descriptions come from the models through the table layout; facets, sort orders, labels,
    canned queries and the map from the site's configuration (:mod:`.site_config`). ``timeline_svg`` (from
    :func:`iraq_transition.timeline.render_svg`) is shown on the home page. Pure: reads nothing but its arguments, the models and the site's configuration.
    """
    table_metadata = {}
    for table in table_layout():
        columns = {column.name: column.description for column in table.columns if column.description}
        entry: dict = {"description": table.description, "columns": columns}
        if facets := [c for c in site_config.FACETS.get(table.name, []) if c in columns]:
            entry["facets"] = facets
        if table.name in COLLECTIONS:
            entry["label_column"] = label_column(table.name)
            if newest := _latest_day_column(table):
                entry["sort_desc"] = newest
        if table.name == site_config.MAP_TABLE:
            entry["plugins"] = {"datasette-cluster-map": site_config.MAP_COLUMNS}
        table_metadata[table.name] = entry
    return {
        "title": site_config.TITLE,
        "description": site_config.DESCRIPTION,
        "description_html": _home_html(timeline_svg),
        "license": site_config.LICENSE,
        "license_url": site_config.LICENSE_URL,
        "source": site_config.SOURCE,
        "databases": {
            DATASETTE_NAME: {  # license and source are inherited from the top level
                "description": site_config.DESCRIPTION,
                "tables": table_metadata,
                "queries": site_config.QUERIES,
            }
        },
    }


def _latest_day_column(table: Table) -> str | None:
    """The latest possible day of a collection's first date (date_end, said_end...): newest first, undated last."""
    return next((c.name for c in table.columns if c.type == "date" and c.name.endswith("_end")), None)


def _home_html(timeline_svg: str | None) -> str:
    """The home page text: what the dataset is, where to start, and the timeline picture."""
    links = ", ".join(
        f'<a href="{DATASETTE_NAME}/{name}">{escape(query["title"].split(":")[0].lower())}</a>'
        for name, query in site_config.QUERIES.items()
        if name != site_config.RECORD_CITATIONS
    )
    figure = ""
    if timeline_svg:
        figure = (
            '<figure class="timeline" style="margin: 1em 0; max-width: 100%; overflow-x: auto">'
            f"{timeline_svg}<figcaption>Events by date; hover a mark for details.</figcaption></figure>"
        )
    return f"<p>{escape(site_config.DESCRIPTION)}</p><p>Start with: {links}.</p>{figure}"


# --------------------------------------------------------------------------- CSV and the whole build


@contextlib.contextmanager
def _csv_writers(directory: Path) -> Iterator[dict[str, Any]]:
    """A writer per table into ``directory/<table>.csv``, its header row written: UTF-8, CRLF, null as an empty cell,
    booleans 0/1."""
    directory.mkdir()
    with contextlib.ExitStack() as stack:
        writers = {}
        for table in table_layout():
            file = stack.enter_context(open(directory / f"{table.name}.csv", "w", encoding="utf-8", newline=""))
            writers[table.name] = csv.writer(file, lineterminator=CSV_LINE_TERMINATOR)
            writers[table.name].writerow(column.name for column in table.columns)
        yield writers


def write_tables(
    dataset: Dataset, directory: Path, browsed: dict[str, tuple[str, ...]], timeline: Timeline
) -> dict[str, int]:
    """Write every table into the database and its CSV file in ``directory``, a batch of records at a time, collection
    after collection (so that only a batch's rows are held), and draw the events into ``timeline`` on the way.

    ``browsed`` are the columns to index besides the foreign keys (:func:`browsed_columns`). Returns the number of
    records of each collection.
    """
    counts = dict.fromkeys(COLLECTIONS, 0)
    inserts = {table.name: _insert_sql(table) for table in table_layout()}
    with _database(directory / DATABASE) as connection, _csv_writers(directory / CSV_DIR) as writers:
        for plan in _collection_plans():
            for batch in _batches(dataset.located_items(plan.collection)):
                counts[plan.collection] += len(batch)
                if plan.collection == "events":
                    for _, event, _ in batch:
                        timeline.add(event)
                for name, rows in batch_rows(plan, batch, dataset.texts).items():
                    connection.executemany(inserts[name], rows)
                    writers[name].writerows(rows)
        _finish_database(connection, browsed)
    return counts


def write_outputs(dataset: Dataset, directory: Path) -> dict[str, int]:
    """Write every build output into the empty ``directory``; the number of records of each collection."""
    timeline = Timeline()
    counts = write_tables(dataset, directory, browsed_columns(datasette_metadata()), timeline)
    svg = timeline.svg()
    (directory / TIMELINE).write_text(svg, encoding="utf-8", newline="")
    text = json.dumps(datasette_metadata(timeline_svg=svg), indent=2, ensure_ascii=False) + "\n"
    (directory / METADATA).write_text(text, encoding="utf-8", newline="")
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


@cache
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
    """The one line that says why the build failed and what to do; SQLite errors other than the machine's are
    bugs, raised again."""
    unchanged = f"{out} is left as it was"
    if isinstance(error, sqlite3.Error):
        if not (error.sqlite_errorname or "").startswith(SQLITE_ENVIRONMENT):
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
    except (OSError, sqlite3.Error, BuildError) as error:
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
