"""Corroboration: how many sources, and how many independent reports, back each record and each claim.

Two tables of the build, described like the others (:data:`CORROBORATION`, :data:`CLAIM_CORROBORATION`), whose rows
are counted as the build writes the citations (:class:`Counts`), a record at a time. Counted in SQL over the
finished tables, as views, they took most of a build at scale (9 s of SQL at 100k records) and their pages could
pass the site's time limit; counted here they cost a fraction of that, and are tables the site reads at once.

A source and the sources that rewrite or copy it (``same_story_as``, followed to the first) are one report; sources
the editors suspect of drawing on one earlier report (``shared_upstream``, in either direction, and through each
other) are one group (:class:`Reports`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from .layout import CITATIONS, Column, Table, json_array, table
from .views import ONE_ROW

_COUNTS = (
    Column("sources", "integer", "Distinct sources of those citations.", required=True, minimum=1),
    Column("independent_reports", "integer",
           "Distinct reports among them: a rewrite or copy (same_story_as) counts with its original.",
           required=True, minimum=1),
    Column("independent_reports_shared_upstream_as_one", "integer",
           "Distinct reports when sources suspected of a shared upstream report (sources.shared_upstream, a "
           "judgement) also count as one.", required=True, minimum=1),
    Column("source_ids", "array", "Ids of those sources, in id order. A JSON array.", required=True),
)


CORROBORATION = Table(
    "corroboration",
    "How many sources, and how many independent reports, back each record: only the citations of the record itself "
    "count (a posture's, framing's or position's citations count for that part's claims, in claim_corroboration); a "
    "source and the sources that rewrite or copy it count as one report. "
    + ONE_ROW.format("cited record", "record_type, record_id"),
    (
        table(CITATIONS).column("record_type"),
        table(CITATIONS).column("record_id"),
        Column("label", "string", "Label of the record (its title, name, wording or text, or sources.label).",
               required=True),
        Column("citations", "integer", "Citations of the record itself.", required=True, minimum=1),
        *_COUNTS,
    ),
    ("record_type", "record_id"),
)
CLAIM_CORROBORATION = Table(
    "claim_corroboration",
    "How many sources, and how many independent reports, back each claim: each value of a record or of one of its "
    "parts that a citation supports (citations.supports), counted from the citations that support it alone. "
    + ONE_ROW.format("claim", "record_type, record_id, part, claim"),
    (
        table(CITATIONS).column("record_type"),
        table(CITATIONS).column("record_id"),
        table(CITATIONS).column("part"),
        Column("claim", "string", "The value supported, as citations name it: a field (date), a field of a nested "
               "value (place.country) or a list item by its key (participants.iraq).", required=True),
        Column("label", "string", "Label of the record.", required=True),
        Column("citations", "integer", "Citations that support the claim.", required=True, minimum=1),
        *(dataclasses.replace(column, description=column.description.replace("those", "the")) for column in _COUNTS),
    ),
    ("record_type", "record_id", "part", "claim"),
)
TABLES = (CORROBORATION, CLAIM_CORROBORATION)


class Reports:
    """Which report each source is, and which group of reports suspected of a shared upstream, from each source's
    id, ``same_story_as`` and the ids its ``shared_upstream`` names."""

    def __init__(self, sources: Iterable[tuple[str, str | None, tuple[str, ...]]]):
        sources = list(sources)
        story = {source_id: same for source_id, same, _ in sources}
        self.report = {source_id: self._original(source_id, story) for source_id in story}
        neighbours: dict[str, set[str]] = {report: {report} for report in self.report.values()}
        for source_id, _, upstream in sources:
            for other in upstream:  # an id that is no source stands for itself
                one, two = self.report[source_id], self.report.get(other, other)
                neighbours.setdefault(one, {one}).add(two)
                neighbours.setdefault(two, {two}).add(one)
        self.group = {source_id: self._least_connected(report, neighbours) for source_id, report in self.report.items()}

    @staticmethod
    def _original(source_id: str, story: dict[str, str | None]) -> str:
        """The source that ``source_id``'s chain of ``same_story_as`` ends at (itself where it ends nowhere)."""
        seen, at = {source_id}, source_id
        while (same := story.get(at)) is not None:
            if same in seen or same not in story:
                return source_id
            seen.add(same)
            at = same
        return at

    @staticmethod
    def _least_connected(start: str, neighbours: dict[str, set[str]]) -> str:
        """The least id connected to ``start``: its group's name."""
        reached, todo = {start}, [start]
        while todo:
            for other in neighbours.get(todo.pop(), ()):
                if other not in reached:
                    reached.add(other)
                    todo.append(other)
        return min(reached)


class Counts:
    """The rows of :data:`CORROBORATION` and :data:`CLAIM_CORROBORATION`, counted from each record's citations."""

    def __init__(self, reports: Reports):
        self.reports = reports

    def rows(self, record_type: str, record_id: str, label: str, citations: Iterable[tuple[str, str, Iterable[str]]]
             ) -> tuple[list[tuple], list[tuple]]:
        """The record's row of corroboration (none when no citation is its own) and its rows of claim_corroboration,
        from its citations as (part, source id, what it supports)."""
        own: list[str] = []
        claims: dict[tuple[str, str], list[str]] = {}
        for part, source, supports in citations:
            if part == "":
                own.append(source)
            for claim in supports:
                claims.setdefault((part, claim), []).append(source)
        counted: dict[frozenset[str], tuple[int, int, int, str]] = {}  # a record's claims share their sources
        records = [(record_type, record_id, label, len(own), *self._counts(own, counted))] if own else []
        claimed = [(record_type, record_id, part, claim, label, len(sources), *self._counts(sources, counted))
                   for (part, claim), sources in sorted(claims.items())]
        return records, claimed

    def _counts(self, cited: list[str], counted: dict) -> tuple[int, int, int, str]:
        """Distinct sources, reports and groups among the ``cited`` sources, and the sources' ids as a JSON array
        (as SQLite's ``json_group_array`` writes it), kept in ``counted``."""
        distinct = frozenset(cited)
        if distinct not in counted:
            sources = sorted(distinct)
            report, group = self.reports.report, self.reports.group
            counted[distinct] = (len(sources), len({report.get(source, source) for source in sources}),
                                 len({group.get(source, source) for source in sources}),
                                 json_array(sources))
        return counted[distinct]


def batch_rows(counts: Counts, record_type: str, labels: dict[str, str], citation_rows: list[tuple]
               ) -> tuple[list[tuple], list[tuple]]:
    """The rows of both tables for a batch of one collection's records, from their rows of ``citations`` (record by
    record, as the build makes them) and their labels by id."""
    records: list[tuple] = []
    claims: list[tuple] = []
    start = 0
    while start < len(citation_rows):
        record_id, end = citation_rows[start][1], start
        while end < len(citation_rows) and citation_rows[end][1] == record_id:
            end += 1
        found = counts.rows(record_type, record_id, labels[record_id],
                             ((row[2], row[4], json.loads(row[8])) for row in citation_rows[start:end]))
        records += found[0]
        claims += found[1]
        start = end
    return records, claims
