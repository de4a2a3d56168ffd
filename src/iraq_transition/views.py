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
    found = next(c for c in table(of).columns if c.name == column)
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
        "Every personnel figure by the date it holds, with the force's name and the source's own wording; "
        "conflicting figures stand side by side, never averaged. " + ONE_ROW.format("figure", "sort_date, country"),
        ("id",),
        [
            _copy("f", "force_levels", "as_of_sort", "sort_date", description=SORT_DATE),
            _copy("f", "force_levels", "as_of_value", "as_of"),
            *(_copy("f", "force_levels", name) for name in (
                "as_of_qualifier", "as_of_start", "as_of_end", "country", "actor")),
            _label("a", "actors", "force", "Name of the force or state deploying the personnel"),
            *(_copy("f", "force_levels", name) for name in (
                "measure", "status", "best", "low", "high", "qualifier", "wording")),
            _copy("f", "force_levels", "id", references="force_levels"),
        ],
        "FROM force_levels f JOIN actors a ON a.id = f.actor\nORDER BY f.as_of_sort, f.country, f.id",
    )


_ORIGINS = """origin(id, root) AS (
    SELECT id, id FROM sources WHERE same_story_as IS NULL
    UNION ALL
    SELECT s.id, o.root FROM sources s JOIN origin o ON s.same_story_as = o.id
), linked(a, b) AS (
    SELECT o.root, coalesce(l.root, u.source) FROM source_shared_upstream u JOIN origin o ON o.id = u.source_id
    LEFT JOIN origin l ON l.id = u.source
), reach(id, other) AS (
    SELECT root, root FROM origin
    UNION
    SELECT r.id, CASE WHEN l.a = r.other THEN l.b ELSE l.a END FROM reach r JOIN linked l ON r.other IN (l.a, l.b)
), upstream(id, grp) AS (
    SELECT o.id, min(r.other) FROM origin o JOIN reach r ON r.id = o.root GROUP BY o.id
)"""
"""Each source's report (``origin.root``: a rewrite counts with its original) and its group of reports suspected of
a shared upstream (``upstream.grp``: connected through ``shared_upstream``, in either direction)."""

_COUNTS = [
    _own("sources", "integer", "Distinct sources of those citations.", "count(DISTINCT cited.source_id)",
         required=True, minimum=1),
    _own("independent_reports", "integer",
         "Distinct reports among them: a rewrite or copy (same_story_as) counts with its original.",
         "count(DISTINCT cited.report)", required=True, minimum=1),
    _own("independent_reports_shared_upstream_as_one", "integer",
         "Distinct reports when sources suspected of a shared upstream report (sources.shared_upstream, a "
         "judgement) also count as one.", "count(DISTINCT cited.grp)", required=True, minimum=1),
    _own("source_ids", "array", "Ids of those sources, in id order. A JSON array.",
         "json_group_array(cited.source_id)", required=True),
]


def _corroboration() -> View:
    return _view(
        "corroboration",
        "How many sources, and how many independent reports, back each record: only the citations of the record "
        "itself count (a posture's, framing's or position's citations count for that part's claims, in "
        "claim_corroboration); a source and the sources that rewrite or copy it count as one report. "
        + ONE_ROW.format("cited record", "record_type, record_id"),
        ("record_type", "record_id"),
        [
            _copy("cited", CITATIONS, "record_type"),
            _copy("cited", CITATIONS, "record_id"),
            _own("label", "string", "Label of the record (its title, name, wording or text, or sources.label).",
                 "labels.label", required=True),
            _own("citations", "integer", "Citations of the record itself.", "counted.citations",
                 required=True, minimum=1),
            *_COUNTS,
        ],
        # CROSS JOIN: SQLite joins in this order, indexing counted and labels (it chose to scan them per row: 12 s at
        # 10k records, 0.2 s so)
        "FROM cited CROSS JOIN counted\n"
        "ON counted.record_type = cited.record_type AND counted.record_id = cited.record_id\n"
        "CROSS JOIN labels ON labels.record_type = cited.record_type AND labels.id = cited.record_id\n"
        "GROUP BY cited.record_type, cited.record_id\nORDER BY cited.record_type, cited.record_id",
        f"""WITH RECURSIVE {_ORIGINS}, counted AS (
    SELECT record_type, record_id, count(*) AS citations FROM {CITATIONS} WHERE coalesce(part, '') = ''
    GROUP BY record_type, record_id
), cited AS (
    SELECT DISTINCT c.record_type, c.record_id, c.source_id, coalesce(o.root, c.source_id) AS report,
        coalesce(u.grp, c.source_id) AS grp
    FROM {CITATIONS} c LEFT JOIN origin o ON o.id = c.source_id LEFT JOIN upstream u ON u.id = c.source_id
    WHERE coalesce(c.part, '') = ''
    ORDER BY c.record_type, c.record_id, c.source_id
), labels AS ({_labels_sql()})
""",
    )


def _claim_corroboration() -> View:
    return _view(
        "claim_corroboration",
        "How many sources, and how many independent reports, back each claim: each value of a record or of one of "
        "its parts that a citation supports (citations.supports), counted from the citations that support it "
        "alone. " + ONE_ROW.format("claim", "record_type, record_id, part, claim"),
        ("record_type", "record_id", "part", "claim"),
        [
            _copy("cited", CITATIONS, "record_type"),
            _copy("cited", CITATIONS, "record_id"),
            _copy("cited", CITATIONS, "part"),
            _own("claim", "string", "The value supported, as citations name it: a field (date), a field of a nested "
                 "value (place.country) or a list item by its key (participants.iraq).", "cited.claim", required=True),
            _own("label", "string", "Label of the record.", "labels.label", required=True),
            _own("citations", "integer", "Citations that support the claim.", "count(*)", required=True, minimum=1),
            *((dataclasses.replace(column, description=column.description.replace("those", "the")), expression)
              for column, expression in _COUNTS),
        ],
        "FROM cited\nCROSS JOIN labels ON labels.record_type = cited.record_type AND labels.id = cited.record_id\n"
        "GROUP BY cited.record_type, cited.record_id, cited.part, cited.claim\n"
        "ORDER BY cited.record_type, cited.record_id, cited.part, cited.claim",
        f"""WITH RECURSIVE {_ORIGINS}, cited AS (
    SELECT c.record_type, c.record_id, c.part, claim.value AS claim, c.source_id,
        coalesce(o.root, c.source_id) AS report, coalesce(u.grp, c.source_id) AS grp
    FROM {CITATIONS} c JOIN json_each(c.supports) AS claim LEFT JOIN origin o ON o.id = c.source_id
    LEFT JOIN upstream u ON u.id = c.source_id
    ORDER BY c.record_type, c.record_id, c.part, claim.value, c.source_id
), labels AS ({_labels_sql()})
""",
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
    return (_timeline(), _quotes_with_speakers(), _force_levels_by_date(), _corroboration(), _claim_corroboration(),
            _source_statements())
