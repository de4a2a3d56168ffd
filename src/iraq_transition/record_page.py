"""A record's page, answering who, what, when and says who: its fields with every reference a link showing the
referenced record's label, its list items in place, the records that refer to it, and each citation with its span
in context; and, on a source's page, the evidence view: the archived article with every cited span highlighted,
anchored and linked to the records it supports.

:func:`record_page` reads everything from one SQLite connection, in the thread Datasette gives it
(``Database.execute_fn``): a page costs one hop to that thread, not one a query.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup
from markupsafe import escape

from . import layout, site_config, site_metadata
from .fields import quoted_collection
from .layout import sql_name
from .models import COLLECTIONS
from .pages import (RECORD_PAIR, keyed_tables, list_cell, list_items, page_order, record_key, record_link, row_name,
                    row_url, seed_numbers, with_seed_links)

SPEAKER, SPEAKER_AS_DESCRIBED = "speaker_id", "speaker_as_described"
"""A quote's columns that say whose words its label is: its page's heading says so."""
UNKNOWN = Markup('<span class="unknown" title="not given: null">—</span>')
MAX_REFERRERS = 100
"""Records listed per kind of reference to a record; the rest behind a link to the table filtered."""
MAX_CONTEXT = 400
"""Most characters of context shown on either side of a cited span."""
MAX_LIST_ITEMS = 100
"""Items of a list field shown on a record's page; the rest counted (the record's JSON holds them all)."""
MAX_LIST_CHARACTERS = 1_000_000
"""Of a list field's text, the most read as a list on a record's page; a longer one is shown as its text, cut."""
CONTEXT_WINDOW = 4 * MAX_CONTEXT
"""Most characters of a source read on either side of a cited span for its context: a page's cost does not grow
with the length of its sources (runs of whitespace, shown as one space, may leave less than :data:`MAX_CONTEXT`)."""
MAX_CITATIONS = 200
"""Citations shown on a record's page; the rest behind a link to the record's citations as a table."""
MAX_PASSAGES = 200
"""Cited passages listed on a source's page (its article highlights every one); the rest behind a link to them as a
table."""
SOURCE_STATEMENTS = "source_statements"
"""The view of every cited passage of each source."""
SENTENCE_END = re.compile(r"[.!?…][\"”’)\]]*\s+|\n\s*")
WHITESPACE = re.compile(r"\s+")


@dataclass
class Field:
    name: str
    description: str
    html: Markup


@dataclass
class Child:
    """One list field of the record, as a table: its items with their columns, and the citations of each."""

    name: str
    description: str
    columns: list[tuple[str, str]]  # (name, description)
    rows: list[list[Markup]]


@dataclass
class Referrers:
    """The records that refer to this one through one column."""

    title: str
    links: list[Markup]
    more: int  # how many more than those listed
    url: str  # the referring table filtered to this record


@dataclass
class CitationView:
    number: int
    part: str
    before: str
    quote: str
    after: str
    source: Markup  # link to the source, with its seed number
    start: int
    end: int
    evidence_url: str  # the span highlighted in its article
    supports: str  # the values the span supports, e.g. "date, status"


@dataclass
class Passage:
    """A cited span of a source and the records it supports."""

    anchor: str
    number: int
    quote: str
    records: list[Markup]


@dataclass
class RecordPage:
    table: str
    record_id: str | None
    label: str
    fields: list[Field]
    children: list[Child] = field(default_factory=list)
    referrers: list[Referrers] = field(default_factory=list)
    citations: list[CitationView] = field(default_factory=list)
    editorial: list[tuple[str, str]] = field(default_factory=list)  # values no cited passage gives, and their basis
    more_citations: int = 0  # how many more than those shown
    citations_url: str = ""  # the record's citations as a table
    seed: str | None = None
    evidence: Markup | None = None
    passages: list[Passage] = field(default_factory=list)
    more_passages: int = 0  # how many more cited spans than those listed
    passages_url: str = ""  # the source's cited passages as a table
    said_by: Markup | None = None  # a quote's speaker, linked, and as the source describes them: the words are theirs


def span_anchor(start: int, end: int) -> str:
    """The id of a cited span in its source's evidence view."""
    return f"span-{start}-{end}"


def record_page(connection, table_name: str, key: tuple[str, ...], base: str) -> RecordPage | None:
    """The page of the row of ``table_name`` with primary key ``key``; None for a table the layout does not have
    or a row that is not there. ``base`` is the database's URL."""
    table = keyed_tables().get(table_name)
    if table is None or len(key) != len(table.primary_key):
        return None
    where = " and ".join(f"{sql_name(column)} = ?" for column in table.primary_key)
    cursor = connection.execute(f"select * from {sql_name(table.name)} where {where}", key)
    values = cursor.fetchone()
    if values is None:
        return None
    row = dict(zip([d[0] for d in cursor.description], values))
    seeds = seed_numbers(connection)
    render = _Renderer(connection, base, seeds)
    quoted = quoted_collection()
    shown = [c for c in table.columns if not (table.name == quoted and c.name == layout.TEXT_COLUMN)]
    ordered = [shown[i] for i in page_order(table.name, [c.name for c in shown])]
    fields = [Field(c.name, c.description, render.value(c, row.get(c.name), row)) for c in ordered]
    collection = table.name if table.name in COLLECTIONS else None
    label_name = site_metadata.label_column(table.name) if collection else None
    label = str(row.get(label_name) or "") if label_name else ""
    if named_key := record_key(table.name):
        label = row_name(named_key, row)
    page = RecordPage(table.name, row.get("id") if collection else None, label or ", ".join(map(str, key)), fields)
    if SPEAKER in row and row.get(SPEAKER_AS_DESCRIBED):
        page.said_by = Markup("{}, described in the source as “{}”").format(
            render.link(table.column(SPEAKER).references, row[SPEAKER]), row[SPEAKER_AS_DESCRIBED])
    if collection is None:
        return page
    record_id = row["id"]
    citations = connection.execute(
        "select part, position, source_id, quote, start_offset, end_offset, supports from citations "
        "where record_type = ? and record_id = ? order by part, position",
        (collection, record_id),
    ).fetchall()
    page.citations = _citation_views(connection, citations[:MAX_CITATIONS], base, seeds)
    page.more_citations = len(citations) - len(page.citations)
    page.citations_url = f"{base}/{site_config.RECORD_CITATIONS}?{urlencode({'record_type': collection, 'record_id': record_id})}"
    page.editorial = _editorial(connection, collection, record_id)
    numbers = defaultdict(list)
    for number, (part, *_) in enumerate(citations, 1):
        numbers[part].append(number)
    page.children = _children(connection, collection, record_id, render, numbers, page.citations_url)
    page.referrers = _referrers(connection, collection, record_id, base)
    if collection == quoted:
        page.seed = next((number for number, (source, _) in seeds.items() if source == record_id), None)
        page.evidence, page.passages, page.more_passages = _evidence(connection, record_id, row[layout.TEXT_COLUMN], base)
        page.passages_url = passages_url(base, record_id)
    return page


class _Renderer:
    """A value of a column as the record page shows it; labels of referenced records looked up once each."""

    def __init__(self, connection, base: str, seeds):
        self.connection, self.base, self.seeds = connection, base, seeds
        self.labels: dict[tuple[str, str], str | None] = {}

    def label(self, collection: str, record_id: str) -> str | None:
        if (collection, record_id) not in self.labels:
            name = sql_name(site_metadata.label_column(collection))
            found = self.connection.execute(
                f"select {name} from {sql_name(collection)} where id = ?", (record_id,)
            ).fetchone()
            self.labels[collection, record_id] = found[0] if found else None
        return self.labels[collection, record_id]

    def link(self, collection: str, record_id: str) -> Markup:
        label = self.label(collection, record_id)
        link = record_link(self.base, collection, record_id, label)
        if label and label != record_id:
            link += Markup(' <span class="id">{}</span>').format(record_id)
        return link

    def items(self, column: str, value: str) -> Markup:
        """A list field's items, one a line, each a link to its record where ``column`` holds ids; the first
        :data:`MAX_LIST_ITEMS` of them."""
        items = list_items(value, MAX_LIST_CHARACTERS)
        if items is None:
            return escape(value[:MAX_LIST_CHARACTERS] + ("…" if len(value) > MAX_LIST_CHARACTERS else ""))
        return list_cell(items, column, self.link, MAX_LIST_ITEMS) if items else UNKNOWN

    def value(self, column: layout.Column, value, row: dict | None = None) -> Markup:
        """``value`` of ``column`` in ``row`` (whose ``record_type`` names the collection of its ``record_id``)."""
        if value is None or value == "":
            return UNKNOWN
        if column.references:
            return self.link(column.references, value)
        collection = (row or {}).get(RECORD_PAIR[0])
        if collection in COLLECTIONS and column.name in RECORD_PAIR:
            if column.name == RECORD_PAIR[1]:
                return self.link(collection, value)
            return Markup('<a href="{}/{}">{}</a>').format(self.base, collection, collection)
        if column.type == "boolean":
            return Markup("yes" if value else "no")
        if column.type == "array":
            return self.items(column.name, value)
        if isinstance(value, str):
            if column.name == "url" and value.startswith(("https://", "http://")):
                return Markup('<a href="{}" rel="nofollow">{}</a>').format(value, value)
            return with_seed_links(value, self.seeds, self.base)
        return escape(value)


def _children(connection, collection: str, record_id: str, render: _Renderer, numbers, citations_url: str) -> list[Child]:
    plan = next(plan for plan in layout.collection_plans() if plan.collection == collection)
    children = []
    for list_field, child in plan.children:
        parent, position = child.table.columns[0].name, "position"
        columns = [c for c in child.table.columns if c.name not in (parent, position)]
        names = ", ".join(sql_name(c.name) for c in columns)
        items = connection.execute(
            f"select position, {names} from {sql_name(child.table.name)} where {sql_name(parent)} = ? order by position",
            (record_id,),
        ).fetchall()
        if not items:
            continue
        cited = list_field in plan.cited_fields
        rows = []
        for item in items:
            cells = [render.value(c, value) for c, value in zip(columns, item[1:])]
            if cited:
                cells.append(_citation_refs(numbers.get(f"{list_field}.{item[0]}", []), citations_url))
            rows.append(cells)
        headers = [(c.name, c.description) for c in columns]
        if cited:
            headers.append(("cited", "The citations below that support this item."))
        children.append(Child(list_field, child.table.description, headers, rows))
    return children


def _citation_refs(numbers: list[int], citations_url: str) -> Markup:
    """Links to the citations ``numbers`` on the page (to the record's citations as a table past those shown)."""
    if not numbers:
        return UNKNOWN
    return Markup(" ").join(
        Markup('<a href="{}">[{}]</a>').format(f"#citation-{n}" if n <= MAX_CITATIONS else citations_url, n)
        for n in numbers
    )


def _referrers(connection, collection: str, record_id: str, base: str) -> list[Referrers]:
    """Every record that refers to this one: through its own columns, or through one of its list items (an
    event's participant is an actor: the actor's page lists the event, with the participant's role)."""
    plans = {plan.collection: plan for plan in layout.collection_plans()}
    parents = {child.table.name: (plan.collection, list_field) for plan in plans.values() for list_field, child in plan.children}
    found = []
    for table in layout.table_layout():
        if table.name == layout.CITATIONS:
            continue  # a source's citations are its evidence view
        for column, target in table.foreign_keys:
            if target != collection or (parents.get(table.name, ("", ""))[0] == collection and column == table.columns[0].name):
                continue  # a record's own list items refer to it
            if table.name in COLLECTIONS:
                owner, detail_columns = table.name, []
                label = sql_name(site_metadata.label_column(owner))
                sql = f"select id, {label} from {sql_name(owner)} where {sql_name(column)} = ? order by id"
                title = f"{owner} whose {column} is this record"
            else:
                owner, list_field = parents[table.name]
                parent = table.columns[0].name
                detail_columns = [c.name for c in table.columns if c.enum and c.name != column]
                label = sql_name(site_metadata.label_column(owner))
                details = "".join(f", c.{sql_name(name)}" for name in detail_columns)
                sql = (
                    f"select distinct p.id, p.{label}{details} from {sql_name(table.name)} c "
                    f"join {sql_name(owner)} p on p.id = c.{sql_name(parent)} where c.{sql_name(column)} = ? order by p.id"
                )
                title = f"{owner} with this record as {list_field}.{column}"
            rows = connection.execute(f"{sql} limit {MAX_REFERRERS + 1}", (record_id,)).fetchall()
            if not rows:
                continue
            more = 0
            if len(rows) > MAX_REFERRERS:
                (count,) = connection.execute(
                    f"select count(*) from {sql_name(table.name)} where {sql_name(column)} = ?", (record_id,)
                ).fetchone()
                more = count - MAX_REFERRERS
            links = []
            for found_id, found_label, *detail in rows[:MAX_REFERRERS]:
                link = record_link(base, owner, found_id, found_label)
                shown = [f"{name}: {value}" for name, value in zip(detail_columns, detail) if value]
                if shown:
                    link += Markup(' <span class="detail">({})</span>').format("; ".join(shown))
                links.append(link)
            url = f"{base}/{table.name}?{urlencode({column: record_id})}"
            found.append(Referrers(title, links, more, url))
    return found


# --------------------------------------------------------------------------- citations and the evidence view


def _context(text: str, start: int, end: int) -> tuple[str, str]:
    """The text of a sentence either side of ``text[start:end]`` (and the rest of the sentences it cuts), each
    read from at most :data:`CONTEXT_WINDOW` characters of the text and shown as at most :data:`MAX_CONTEXT`."""
    window_start, window_end = max(start - CONTEXT_WINDOW, 0), min(end + CONTEXT_WINDOW, len(text))
    starts = [0] * (window_start == 0) + [m.end() for m in SENTENCE_END.finditer(text, window_start, start)]
    # a sentence end that the span's last characters begin ("troops." then a space) counts: search from within it
    following = SENTENCE_END.finditer(text, max(end - CONTEXT_WINDOW, start), window_end)
    ends = [m.end() for m in following if m.end() >= end]
    before_start = starts[-2] if len(starts) > 1 else window_start  # the sentence before the span's, or the window
    after_end = ends[1] if len(ends) > 1 else window_end  # the end of the sentence after the span's, or the window
    before = WHITESPACE.sub(" ", text[before_start:start]).lstrip()
    after = WHITESPACE.sub(" ", text[end:after_end]).rstrip()
    if len(before) > MAX_CONTEXT or (len(starts) < 2 and window_start > 0):
        before = "…" + before[-MAX_CONTEXT:]
    if len(after) > MAX_CONTEXT or (len(ends) < 2 and window_end < len(text)):
        after = after[:MAX_CONTEXT] + "…"
    return before, after


def _citation_views(connection, citations, base: str, seeds) -> list[CitationView]:
    quoted = quoted_collection()
    label = sql_name(site_metadata.label_column(quoted))
    sources = {}
    for source_id in {c[2] for c in citations}:
        name, text = connection.execute(
            f"select {label}, {sql_name(layout.TEXT_COLUMN)} from {sql_name(quoted)} where id = ?", (source_id,)
        ).fetchone()
        sources[source_id] = (name or source_id, text)
    numbers = {source: number for number, (source, _) in seeds.items()}
    views = []
    for number, (part, _, source_id, quote, start, end, supports) in enumerate(citations, 1):
        name, text = sources[source_id]
        before, after = _context(text, start, end)
        source = record_link(base, quoted, source_id, name)
        if source_id in numbers:
            source += Markup(" (seed {})").format(numbers[source_id])
        url = f"{row_url(base, quoted, source_id)}#{span_anchor(start, end)}"
        views.append(CitationView(number, part, before, text[start:end], after, source, start, end, url,
                                  ", ".join(json.loads(supports))))
    return views


def _editorial(connection, collection: str, record_id: str) -> list[tuple[str, str]]:
    """The record's editorial values (no cited passage gives them), each entry's names joined, with its basis."""
    table = f"{layout.singular(collection)}_editorial"
    if table not in {made.name for made in layout.table_layout()}:
        return []
    parent = sql_name(f"{layout.singular(collection)}_id")
    rows = connection.execute(f"select fields, basis from {sql_name(table)} where {parent} = ? order by position",
                              (record_id,))
    return [(", ".join(json.loads(fields)), basis) for fields, basis in rows]


def _evidence(connection, source_id: str, text: str, base: str) -> tuple[Markup, list[Passage], int]:
    """The article with every cited span highlighted and anchored; the first :data:`MAX_PASSAGES` spans with the
    records they support, and how many more spans there are."""
    citations = connection.execute(
        "select start_offset, end_offset, record_type, record_id, part from citations where source_id = ? "
        "order by start_offset, end_offset, record_type, record_id, part, position",
        (source_id,),
    ).fetchall()
    spans: dict[tuple[int, int], dict[tuple[str, str, str], None]] = {}
    for start, end, collection, record_id, part in citations:
        spans.setdefault((start, end), {})[collection, record_id, part] = None
    listed = list(spans.items())[:MAX_PASSAGES]
    labels = _labels(connection, {(collection, record_id) for _, cited in listed for collection, record_id, _ in cited})
    passages = []
    for number, ((start, end), cited) in enumerate(listed, 1):
        records = []
        for collection, record_id, part in cited:
            link = Markup("{}: ").format(collection) + record_link(base, collection, record_id, labels.get((collection, record_id)))
            if part:
                link += Markup(' <span class="detail">({})</span>').format(part)
            records.append(link)
        passages.append(Passage(span_anchor(start, end), number, text[start:end], records))
    links = [f"#passage-{number}" if number <= MAX_PASSAGES else passages_url(base, source_id, span)
             for number, span in enumerate(spans, 1)]
    return _highlighted(text, list(spans), links), passages, len(spans) - len(passages)


def passages_url(base: str, source_id: str, span: tuple[int, int] | None = None) -> str:
    """The cited passages of a source as a table (those of one span of it)."""
    query = {"source_id": source_id} | ({"start_offset": span[0], "end_offset": span[1]} if span else {})
    return f"{base}/{SOURCE_STATEMENTS}?{urlencode(query)}"


def _labels(connection, records: set[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """The label of each (collection, id) of ``records``."""
    by_collection = defaultdict(list)
    for collection, record_id in sorted(records):
        by_collection[collection].append(record_id)
    labels = {}
    for collection, ids in by_collection.items():
        label = sql_name(site_metadata.label_column(collection))
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            for record_id, name in connection.execute(
                f"select id, {label} from {sql_name(collection)} where id in ({marks})", chunk
            ):
                labels[collection, record_id] = name
    return labels


def _chunks(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _highlighted(text: str, spans: list[tuple[int, int]], links: list[str]) -> Markup:
    """``text`` escaped, each of ``spans`` marked and preceded by its number, a link to ``links[number - 1]`` (its
    passage in the list, or in the table past those listed). Overlapping spans mark their common part once,
    darker; each marked piece says its offsets (``data-from``, ``data-to``) so that the page can mark every
    piece of the span its address names. One pass through the cuts: linear in the text and the spans."""
    cuts = sorted({0, len(text), *(s for s, _ in spans), *(e for _, e in spans)})
    starting = defaultdict(list)
    ending = defaultdict(int)
    for number, (start, end) in enumerate(spans, 1):
        starting[start].append((number, start, end))
        ending[end] += end > start
    out = []
    depth = 0
    for left, right in zip(cuts, cuts[1:]):
        depth -= ending.get(left, 0)
        for number, start, end in starting.get(left, []):
            out.append(Markup('<a class="span-start" id="{}" href="{}">{}</a>').format(
                span_anchor(start, end), links[number - 1], number))
            depth += end > start
        piece = escape(text[left:right])
        if depth:
            out.append(Markup('<mark class="cited depth-{}" data-from="{}" data-to="{}">{}</mark>').format(
                min(depth, 3), left, right, piece))
        else:
            out.append(piece)
    return Markup("").join(out)
