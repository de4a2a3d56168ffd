"""What the site's pages show beyond Datasette's own: table rows written in Python, the page's column order, ids
as links to their records, seed numbers ("003 says...") as links to their sources, list columns (JSON arrays) as
lists, and readable names for the rows of tables keyed by a record and more (citations, the corroboration tables).

Used by the package's Datasette plugin (:mod:`.site_plugin`) and the templates in templates/. Reads the layout and
the site's configuration; the database only through the connections it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache

from markupsafe import Markup
from markupsafe import escape as autoescape  # what Jinja's autoescaping applies (html.escape writes quotes otherwise)

from . import corroboration, layout, site_config, site_metadata
from .build import csv_tables
from .fields import quoted_collection
from .models import COLLECTIONS

NOTES = "notes"
"""The editorial notes: shown after the data they explain."""
RECORD_PAIR = ("record_type", "record_id")
"""Columns that name a record of any collection together (citations, and the views built on them)."""
SEED_NUMBER = re.compile(r"(?<![\w,.\-])(\d{3})(?![\w\-]|[,.]\d)")
"""A seed's number as record texts write it ("003 says"), not part of a figure ("2,000", "3.005") or an id."""


def row_url(base: str, collection: str, record_id: str) -> str:
    """The page of one record, ``base`` being the database's URL (ids are slugs; quoted all the same)."""
    from datasette.utils import tilde_encode

    return f"{base}/{tilde_encode(collection)}/{tilde_encode(record_id)}"


def record_link(base: str, collection: str, record_id: str, label: str | None = None) -> Markup:
    """A link to a record showing its label (its id when it has none)."""
    return Markup('<a href="{}">{}</a>').format(row_url(base, collection, record_id), label or record_id)


@cache
def linked_columns() -> Mapping[str, str]:
    """Foreign-key columns of the layout whose name means one collection wherever it occurs, and that collection."""
    seen: dict[str, set[str]] = {}
    for table in layout.table_layout():
        for column, target in table.foreign_keys:
            seen.setdefault(column, set()).add(target)
    return {column: next(iter(targets)) for column, targets in seen.items() if len(targets) == 1}


def links_for(name: str | None) -> dict[str, str]:
    """The id columns of the table, view or query ``name`` and the collections they refer to: the foreign keys,
    and the ``id`` of the views and queries :data:`.site_config.RECORD_IDS` names."""
    links = dict(linked_columns())
    if name in site_config.RECORD_IDS:
        links["id"] = site_config.RECORD_IDS[name]
    return links


# --------------------------------------------------------------------------- tables, rows and lists


@cache
def keyed_tables() -> Mapping[str, layout.Table]:
    """The tables of the build that have a page per row, by name: the layout's and the corroboration tables."""
    return {table.name: table for table in (*layout.table_layout(), *corroboration.TABLES)}


@cache
def list_columns() -> Mapping[str | None, frozenset[str]]:
    """The list columns (JSON arrays) of each table and view of the build; under None, every name of one (a query's
    columns have no table)."""
    found = {table.name: frozenset(c.name for c in table.columns if c.type == "array") for table in csv_tables()}
    return found | {None: frozenset().union(*found.values())}


def listed_collection(column: str) -> str | None:
    """The collection whose ids the list column ``column`` holds (``source_ids``: sources), if its name says one."""
    return next((c for c in COLLECTIONS if column == f"{layout.singular(c)}_ids"), None)


MAX_LIST_CHARACTERS = 4_000
"""Of a list column's text on table and query pages, the most read as a list: a longer cell is left to Datasette,
which cuts it at ``truncate_cells_html`` (the text is not parsed, whatever it holds)."""
MAX_LIST_ITEMS = 10
"""Items of a list column shown in a cell of a table or query page; the rest counted ("… and 12 more")."""


def list_items(value: str, max_characters: int) -> list[str] | None:
    """The items of a list column's JSON array of texts; None when ``value`` is longer than ``max_characters``
    (never parsed), is no JSON array of texts (nested too deep included), or holds a text that UTF-8 cannot encode
    (the JSON escape of a lone surrogate)."""
    if len(value) > max_characters:
        return None
    try:
        items = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return None
    try:
        "".join(items).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return items


def items_html(shown: Iterable, count: int) -> Markup:
    """A list of the items ``shown`` (texts escaped, or markup), one a line; when the list has ``count`` items, more
    than shown, a last line says how many more."""
    lines = [Markup("<li>{}</li>").format(item) for item in shown]
    if (more := count - len(lines)) > 0:
        lines.append(Markup('<li class="more">… and {:,} more</li>').format(more))
    return Markup('<ul class="cell-list">{}</ul>').format(Markup("").join(lines))


def list_cell(items: list[str], column: str, link: Callable[[str, str], Markup], most: int) -> Markup:
    """The first ``most`` ``items`` of list column ``column``, each escaped, or ``link(collection, item)`` where the
    column holds ids of a collection (:func:`listed_collection`), and how many more there are."""
    collection, shown = listed_collection(column), items[:most]
    return items_html([link(collection, item) for item in shown] if collection else shown, len(items))


def list_html(value: str, column: str, base: str) -> Markup | None:
    """A list column's JSON array in a cell of a table or query page: its first :data:`MAX_LIST_ITEMS` items, each
    escaped (a link to its record where the column holds ids); None, the cell left to Datasette, when
    :func:`list_items` finds no list."""
    items = list_items(value, MAX_LIST_CHARACTERS)
    if items is None:
        return None
    return list_cell(items, column, lambda collection, item: record_link(base, collection, item), MAX_LIST_ITEMS)


def record_key(table: str | None) -> tuple[str, ...] | None:
    """The primary key of ``table`` when it names a record (:data:`RECORD_PAIR`) and more: citations' part and
    position, claim_corroboration's part and claim."""
    found = keyed_tables().get(table) if table else None
    return found.primary_key if found and found.primary_key[:2] == RECORD_PAIR else None


def row_name(key: tuple[str, ...], row: Mapping) -> str:
    """A readable name of a row keyed by a record and more, what cannot be faked first: the record's collection and
    id (a slug), then each further part of the key that is given, by name, then the record's label where it has one
    other than its id ("bases/ain-al-asad · part postures.0 · claim status — Ain al-Asad Air Base"); the record's own
    part, empty, is left out. A label holding " · claim name" or an invisible character cannot pass for another row."""
    record_id = row[RECORD_PAIR[1]]
    parts = [f"{row[RECORD_PAIR[0]]}/{record_id}"]
    parts += [f"{name} {row[name]}" for name in key[len(RECORD_PAIR):] if row.get(name) not in (None, "")]
    label = row.get("label")
    return " · ".join(parts) + (f" — {label}" if label and label != record_id else "")


def row_path(key: tuple[str, ...], row: Mapping) -> str:
    """The part of a row page's address that names the row: its key's values, each tilde-encoded, comma-separated."""
    from datasette.utils import tilde_encode

    return ",".join(tilde_encode(str(row[name])) for name in key)


# --------------------------------------------------------------------------- seed numbers


def seed_numbers(connection) -> dict[str, tuple[str, str]]:
    """Each seed's number (the first part of its file name: ``003``) and its source's id and label."""
    quoted = quoted_collection()
    label = layout.sql_name(site_metadata.label_column(quoted))
    rows = connection.execute(f"select id, file, {label} from {layout.sql_name(quoted)}").fetchall()
    return {file.split("_", 1)[0]: (source_id, name or source_id) for source_id, file, name in rows if file}


def with_seed_links(text: str, seeds: Mapping[str, tuple[str, str]], base: str) -> Markup:
    """``text`` escaped, each seed number in it a link to its source, the source's label as its title."""
    escaped = str(autoescape(text))
    if not seeds or not SEED_NUMBER.search(escaped):
        return Markup(escaped)

    def link(match: re.Match) -> str:
        if (seed := seeds.get(match.group(1))) is None:
            return match.group(0)
        source_id, label = seed
        return str(
            Markup('<a class="seed" href="{}" title="Seed {}: {}">{}</a>').format(
                row_url(base, quoted_collection(), source_id), match.group(1), label, match.group(1)
            )
        )

    return Markup(SEED_NUMBER.sub(link, escaped))


# --------------------------------------------------------------------------- table pages


def page_order(table: str | None, columns: Iterable[str | Mapping]) -> list[int]:
    """Positions of ``columns`` (names, or Datasette's display columns) in the order the site shows them: the key
    and the label first, then the rest as built, the editorial notes last. Only the page's order: the database
    and the CSVs keep theirs."""
    names = [column if isinstance(column, str) else column["name"] for column in columns]
    first = ["id"]
    if table in COLLECTIONS:
        first.append(site_metadata.label_column(table))

    def rank(index: int) -> tuple[int, int]:
        name = names[index]
        if name in first:
            return 0, first.index(name)
        return (2 if name == NOTES else 1), index

    return sorted(range(len(names)), key=rank)


def table_body_html(rows, order: list[int] | None = None, links: Mapping[str, str] | None = None,
                    seeds: Mapping[str, tuple[str, str]] | None = None, base: str = "", table: str | None = None) -> Markup:
    """The ``<tr>`` rows of a table page, as Datasette's ``_table.html`` loop writes them, in ``order``.

    ``rows`` are Datasette's display rows, each an iterable of cells (dicts with the column, the value's type and
    its display value). Datasette renders templates in Jinja's async mode, whose loops cost some 20 µs a cell,
    most of a table page's time (an events page has 100 rows of 24 cells); this costs about 1 µs a cell. Plain
    text cells of the columns in ``links`` become links to the record they name (a ``record_id`` to the record of
    its row's ``record_type``), and seed numbers in text links to their sources. In a ``table`` keyed by a record
    and more, the link to each row's page (Datasette's "Link" column) shows the row's readable name
    (:func:`row_name`), not its key's values joined by commas.
    """
    from datasette.utils import tilde_encode, to_css_class

    links = links or {}
    named_key = record_key(table)
    cell_starts: dict[tuple[str, str], str] = {}  # (column, type of value) -> '<td class="...">'
    lines = []
    for row in rows:
        cells = list(row)
        if order is not None:
            cells = [cells[index] for index in order]
        values = {cell["column"]: cell.get("raw") for cell in cells} if named_key else {}
        if named_key and all(name in values for name in named_key):
            url = f"{base}/{tilde_encode(table)}/{row_path(named_key, values)}"
            named = Markup('<a href="{}">{}</a>').format(url, row_name(named_key, values))
            cells = [cell | {"value": named} if cell.get("is_special_link_column") else cell for cell in cells]
        lines.append("<tr>")
        for cell in cells:
            key = (cell["column"], cell["value_type"])
            if (start := cell_starts.get(key)) is None:
                start = cell_starts[key] = f'<td class="col-{autoescape(to_css_class(key[0]))} type-{autoescape(key[1])}">'
            value = cell["value"]
            if not isinstance(value, Markup):
                value = _cell_html(cell, cells, links, seeds, base)
            lines.append(f"{start}{value}</td>")
        lines.append("</tr>")
    return Markup("\n".join(lines))


def _cell_html(cell, cells, links, seeds, base) -> Markup:
    value, column = cell["value"], cell["column"]
    if not isinstance(value, str) or not value:
        return autoescape(value)
    if column in links and value == cell.get("raw"):
        return record_link(base, links[column], value)
    if column == RECORD_PAIR[1]:
        collection = next((c.get("raw") for c in cells if c["column"] == RECORD_PAIR[0]), None)
        if collection in COLLECTIONS and value == cell.get("raw"):
            return record_link(base, collection, value)
    if seeds and cell["value_type"] == "str":
        return with_seed_links(value, seeds, base)
    return autoescape(value)


def query_links(query: str | None) -> dict:
    """The id columns of a canned query, for the script that links them on its page."""
    return {"columns": links_for(query), "pair": list(RECORD_PAIR), "collections": list(COLLECTIONS)}


def undated_events(connection, base: str) -> list[dict[str, str]]:
    """The events without a date, which the timeline picture cannot place: title, status and page."""
    rows = connection.execute("select id, title, status from events where date_value is null order by title, id")
    return [{"title": title or record_id, "status": status, "url": row_url(base, "events", record_id)} for record_id, title, status in rows]

