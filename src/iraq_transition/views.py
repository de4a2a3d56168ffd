"""The views of the build: ready-made readings of the tables, with labels beside ids, in a documented order.

Each view is described like a table (its columns, copied from the tables of the layout where they are the same
value, else described here), so that it renders as a data package resource, a CSV file and a Datasette entry like
the tables do; its SQL is assembled from the same column list, so that the two cannot disagree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache

from .layout import CITATIONS, Column, Table, label_column, sql_name, table
from .models import COLLECTIONS


@dataclass(frozen=True)
class View:
    """A view: its description and columns as a :class:`.layout.Table`, and the SQL that computes each column."""

    table: Table
    expressions: tuple[str, ...]  # one per column
    body: str  # FROM ... ORDER BY ...
    prelude: str = ""  # WITH ... before the SELECT

    @property
    def name(self) -> str:
        return self.table.name

    def create_sql(self) -> str:
        """``CREATE VIEW``: each column's expression under its name, then the body."""
        selected = ",\n    ".join(
            f"{expression} AS {sql_name(column.name)}" for column, expression in zip(self.table.columns, self.expressions)
        )
        return f"CREATE VIEW {sql_name(self.name)} AS\n{self.prelude}SELECT {selected}\n{self.body}"


Selected = tuple[Column, str]


def _copy(alias: str, of: str, column: str, name: str | None = None, **changes) -> Selected:
    """Column ``column`` of table ``of``, read through ``alias``, under ``name``."""
    found = table(of).column(column)
    return dataclasses.replace(found, name=name or column, **changes), f"{alias}.{sql_name(column)}"


def _own(name: str, kind: str, description: str, expression: str, **constraints) -> Selected:
    """A column the view computes itself."""
    return Column(name, kind, description, **constraints), expression


def _label(alias: str, collection: str, name: str, what: str, required: bool = True) -> Selected:
    """The label of the ``collection`` record read through ``alias``, beside its id."""
    column = label_column(collection)
    return Column(name, "string", f"{what} ({collection}.{column}), beside its id.", required=required), (
        f"{alias}.{sql_name(column)}"
    )


def _view(name: str, description: str, primary_key: tuple[str, ...], selected: list[Selected], body: str,
          prelude: str = "") -> View:
    columns = tuple(column for column, _ in selected)
    return View(Table(name, description, columns, primary_key), tuple(e for _, e in selected), body, prelude)


def _source_array(record_type: str, alias: str, value: str) -> str:
    """A JSON array of ``value`` (of source ``s``) for each distinct source the ``record_type`` record ``alias`` cites,
    in source id order."""
    return (
        f"(SELECT json_group_array(value) FROM (SELECT DISTINCT c.source_id, {value} AS value FROM {CITATIONS} c "
        f"JOIN sources s ON s.id = c.source_id WHERE c.record_type = '{record_type}' AND c.record_id = {alias}.id "
        "ORDER BY c.source_id))"
    )


def _labels_sql() -> str:
    """Every record's type, id and label, as one relation."""
    return " UNION ALL ".join(
        f"SELECT '{collection}' AS record_type, id, {sql_name(label_column(collection))} AS label FROM {sql_name(collection)}"
        for collection in COLLECTIONS
    )


SORT_DATE = (
    "Day to sort by (YYYY-MM-DD), never empty when the record has a date (undated records last): the earliest "
    "possible day where the date has one, else the first day of the date as given ('by September 2025': 2025-09-01). "
    "The view is in this order."
)
ONE_ROW = "One row per {}, in {} order."


def _timeline() -> View:
    return _view(
        "timeline",
        "Every event in date order: what occurred and what was announced, planned or expected in separate columns, "
        "with the date as given and its possible days. " + ONE_ROW.format("event", "sort_date (undated events last)"),
        ("id",),
        [
            _copy("e", "events", "id", references="events"),
            _copy("e", "events", "date_sort", "sort_date", description=SORT_DATE, required=False),
            *(_copy("e", "events", name) for name in (
                "date_value", "date_qualifier", "date_start", "date_end", "end_date_value", "end_date_start",
                "end_date_end")),
            _own("occurred", "string", "Title of an event that occurred; empty for the others.",
                 "CASE WHEN e.status = 'occurred' THEN e.title END"),
            _own("announced_planned_or_expected", "string",
                 "Title of an event announced, planned or expected; empty for one that occurred.",
                 "CASE WHEN e.status <> 'occurred' THEN e.title END"),
            *(_copy("e", "events", name) for name in (
                "status", "event_type", "place_country", "place_name", "place_base")),
            _label("b", "bases", "place_base_name", "Name of the base or site", required=False),
        ],
        "FROM events e LEFT JOIN bases b ON b.id = e.place_base\n"
        "ORDER BY e.date_sort IS NULL, e.date_sort, e.date_end IS NULL, e.date_end, e.id",
    )


def _quotes_with_speakers() -> View:
    return _view(
        "quotes_with_speakers",
        "Every quote with its speaker's name and whether the sources name them, the event it was said at, and the "
        "sources that print it. " + ONE_ROW.format("quote", "said_sort (undated quotes last)"),
        ("id",),
        [
            _copy("q", "quotes", "id", references="quotes"),
            _copy("q", "quotes", "text"),
            _label("a", "actors", "speaker", "Name of the speaker"),
            _copy("q", "quotes", "speaker_id"),
            _copy("q", "quotes", "speaker_as_described"),
            _copy("a", "actors", "unnamed", "speaker_unnamed"),
            _copy("q", "quotes", "said_value", "said"),
            *(_copy("q", "quotes", name) for name in ("said_qualifier", "said_start", "said_end", "said_sort")),
            _copy("q", "quotes", "occasion"),
            _copy("q", "quotes", "occasion_event"),
            _label("e", "events", "occasion_event_title", "Title of the event it was said at", required=False),
            _copy("q", "quotes", "directness"),
            _copy("q", "quotes", "variant_of"),
            _own("source_ids", "array", "Ids of the sources that print the quote, in id order. A JSON array.",
                 _source_array("quotes", "q", "c.source_id"), required=True),
            _own("sources", "array", "Labels of those sources (sources.label), in the same order. A JSON array.",
                 _source_array("quotes", "q", f"s.{sql_name(label_column('sources'))}"), required=True),
        ],
        "FROM quotes q JOIN actors a ON a.id = q.speaker_id LEFT JOIN events e ON e.id = q.occasion_event\n"
        "ORDER BY q.said_sort IS NULL, q.said_sort, q.id",
    )


def _force_levels_by_date() -> View:
    return _view(
        "force_levels_by_date",
        "Every personnel figure by the date it holds, with the force's name, the source's own wording and the sources "
        "that give it; conflicting figures stand side by side, never averaged. " + ONE_ROW.format("figure", "sort_date, country"),
        ("id",),
        [
            _copy("f", "force_levels", "as_of_sort", "sort_date", description=SORT_DATE),
            _copy("f", "force_levels", "as_of_value", "as_of"),
            *(_copy("f", "force_levels", name) for name in (
                "as_of_qualifier", "as_of_start", "as_of_end", "country", "actor")),
            _label("a", "actors", "force", "Name of the force or state deploying the personnel"),
            *(_copy("f", "force_levels", name) for name in (
                "measure", "status", "best", "low", "high", "qualifier", "wording")),
            _own("source_ids", "array", "Ids of the sources that give the figure, in id order. A JSON array.",
                 _source_array("force_levels", "f", "c.source_id"), required=True),
            _own("sources", "array", "Labels of those sources (sources.label), in the same order. A JSON array.",
                 _source_array("force_levels", "f", f"s.{sql_name(label_column('sources'))}"), required=True),
            _copy("f", "force_levels", "id", references="force_levels"),
        ],
        "FROM force_levels f JOIN actors a ON a.id = f.actor\nORDER BY f.as_of_sort, f.country, f.id",
    )


def _source_statements() -> View:
    return _view(
        "source_statements",
        "Every passage of a source that a record cites, with the source's and the record's labels. "
        + ONE_ROW.format("citation", "source_id, start_offset"),
        ("record_type", "record_id", "part", "position"),
        [
            _copy("c", CITATIONS, "source_id"),
            _label("s", "sources", "source", "Label of the source"),
            *(_copy("c", CITATIONS, name) for name in ("start_offset", "end_offset", "quote", "record_type", "record_id")),
            _own("label", "string", "Label of the cited record (its title, name, wording or text, or sources.label).",
                 "labels.label", required=True),
            *(_copy("c", CITATIONS, name) for name in ("part", "position")),
        ],
        f"FROM {CITATIONS} c JOIN sources s ON s.id = c.source_id\n"
        f"JOIN ({_labels_sql()}) AS labels ON labels.record_type = c.record_type AND labels.id = c.record_id\n"
        "ORDER BY c.source_id, c.start_offset, c.end_offset, c.record_type, c.record_id, c.part, c.position",
    )


@cache
def views() -> tuple[View, ...]:
    """Every view of the build, in creation order."""
    return (_timeline(), _quotes_with_speakers(), _force_levels_by_date(), _source_statements())
