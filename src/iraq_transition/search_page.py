"""The site's search across all tables (``/-/find?q=...``, a route of the package's Datasette plugin): for each
table of :data:`.site_config.FULL_TEXT`, how many records match a visitor's words and the first few, each its
label linked to its page and a few words of the matched column with the match marked (a list column's as its items,
not its JSON). Never a whole text.

A visitor's words are searched as words: each is one quoted FTS5 term, so no query syntax (``"``, ``*``, ``NEAR``,
``AND``, ``column:``) reaches FTS5, and the words searched are bounded in number and length. The queries run
through Datasette's, under the site's time limit and the bounds of plugins/sql_limits.py.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass

from markupsafe import Markup, escape

from . import layout, site_config
from .layout import sql_name
from .models import NOT_IN_TEXT
from .pages import list_columns, row_url

MAX_CHARACTERS = 200
"""Of a visitor's query, the characters searched: those after are left out (and the page says so)."""
MAX_TERMS = 12
"""Of a visitor's words, the ones searched."""
HITS_SHOWN = 10
"""Hits shown a table, best first; its own search page lists them all."""
SNIPPET_TOKENS = 12
"""Words of the matched column shown a hit."""
MARK, END_MARK = "\x02", "\x03"
"""Where FTS5 marks a match in a snippet: control characters no text of the data holds (the models refuse them,
:data:`.models.NOT_IN_TEXT`, and so do the seeds' checks), so none comes from a record."""
_SEPARATOR = re.compile(rf'[\s"{NOT_IN_TEXT}\ud800-\udfff]+')
"""What separates words: white space, a double quote (the tokenizer drops it anyway), and what text cannot hold."""
_MARKED = re.compile(re.escape(MARK) + "(.*?)" + re.escape(END_MARK), re.DOTALL)


@dataclass(frozen=True)
class Search:
    """The words of a query that are searched, and whether the query held more."""

    terms: tuple[str, ...]
    cut: bool

    @property
    def match(self) -> str:
        """The FTS5 query: every word a quoted term, all of them required."""
        return " ".join(f'"{term}"' for term in self.terms)

    @property
    def words(self) -> str:
        """The words as a table's ``?_search=`` takes them: Datasette quotes each alike, so finds the same rows."""
        return " ".join(self.terms)


def search_terms(query: str) -> Search:
    """The words of ``query`` searched: at most :data:`MAX_TERMS` of its first :data:`MAX_CHARACTERS` characters."""
    words = _SEPARATOR.split(query[:MAX_CHARACTERS])
    terms = tuple(word for word in words if word)
    cut = len(query) > MAX_CHARACTERS or len(terms) > MAX_TERMS
    return Search(terms[:MAX_TERMS], cut)


_ESCAPE = re.compile(
    rf"\\(?P<marks>[{MARK}{END_MARK}]*)"  # a match's mark may stand between a backslash and the letter after it
    r'(?P<code>u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|["\\/bfnrt])'
)
"""A JSON string escape in a snippet: a surrogate pair's two escapes, one character's, or a letter's."""


def list_snippet(snippet: str) -> list[str]:
    """A snippet of a list column (a JSON array of texts, as the build writes it) as its items, their JSON escapes
    decoded ("tab\\there": "tab", a tab, "here"); an escape that is no text (a lone surrogate's) kept as written.

    A snippet starts at the column's start, outside the array's strings, or with "…" at a word, inside one (words
    are only in the strings); it ends inside a string or after the array."""
    items: list[str] = []
    item: list[str] | None = [] if snippet.startswith("…") else None  # the item being read; None between items
    position = 0
    while position < len(snippet):
        character = snippet[position]
        if item is None:
            if character == '"':
                item = []
        elif character == '"':
            items.append("".join(item))
            item = None
        elif character == "\\" and (escape_match := _ESCAPE.match(snippet, position)):
            item.append(escape_match["marks"] + _decoded(escape_match["code"]))
            position = escape_match.end()
            continue
        else:
            item.append(character)
        position += 1
    return items if item is None else [*items, "".join(item)]


def _decoded(code: str) -> str:
    decoded = json.loads(f'"\\{code}"')
    try:
        decoded.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no character
        return "\\" + code
    return decoded


def list_snippet_html(items: list[str]) -> Markup:
    """The items of a list column's snippet (:func:`list_snippet`), each in a box of its own, so that an item holding
    ", " reads as one: escaped, then marked (a match across two items is not marked)."""
    return Markup(" ").join(Markup('<span class="list-item">{}</span>').format(snippet_html(item)) for item in items)


def snippet_html(snippet: str) -> Markup:
    """A snippet of FTS5 as HTML: its text escaped, then each marked match in ``<mark>`` (an unclosed mark dropped)."""
    marked = _MARKED.sub(lambda match: f"<mark>{match.group(1)}</mark>", str(escape(snippet)))
    return Markup(marked.replace(MARK, "").replace(END_MARK, ""))


@dataclass(frozen=True)
class Hit:
    label: str
    url: str
    snippet: Markup


@dataclass(frozen=True)
class TableHits:
    """What one table holds of a search: the number of records found (None when the search took too long), the
    first :data:`HITS_SHOWN`, and its own search page, which lists them all."""

    table: str
    count: int | None
    hits: list[Hit]
    url: str

    @property
    def more(self) -> int:
        return (self.count or 0) - len(self.hits)


async def find(db, search: Search, base: str) -> list[TableHits]:
    """What each table of :data:`.site_config.FULL_TEXT` holds of ``search``, in that order."""
    return [await table_hits(db, table, search, base) for table in site_config.FULL_TEXT]


async def table_hits(db, table: str, search: Search, base: str) -> TableHits:
    """What ``table`` holds of ``search``, read from Datasette's database ``db`` (whose URL is ``base``)."""
    from datasette.database import QueryInterrupted
    from datasette.utils import tilde_encode

    fts = sql_name(f"{table}_fts")
    url = f"{base}/{tilde_encode(table)}?" + urllib.parse.urlencode({"_search": search.words})
    # FTS5 picks the column of the best snippet (-1); that of a list column, the same snippet, is shown as its items
    lists = [index for index, column in enumerate(site_config.FULL_TEXT[table]) if column in list_columns()[table]]
    snippets = ", ".join(f"snippet({fts}, {index}, :mark, :end, '…', {SNIPPET_TOKENS})" for index in (-1, *lists))
    hits_sql = (
        f"select t.id, t.{sql_name(layout.label_column(table))}, {snippets} "
        f"from {fts} join {sql_name(table)} t on t.rowid = {fts}.rowid where {fts} match :match order by rank limit {HITS_SHOWN}"
    )
    try:
        (count,) = (await db.execute(f"select count(*) from {fts} where {fts} match :match", {"match": search.match})).first()
        rows = await db.execute(hits_sql, {"match": search.match, "mark": MARK, "end": END_MARK})
    except QueryInterrupted:  # under the site's time limit, as any query
        return TableHits(table, None, [], url)
    hits = [Hit(label or record_id, row_url(base, table, record_id), _snippet_html(snippet, of_lists))
            for record_id, label, snippet, *of_lists in rows]
    return TableHits(table, count, hits, url)


def _snippet_html(snippet: str, of_lists: list[str]) -> Markup:
    """``snippet`` as HTML, as its items when it is the snippet of one of the list columns (their snippets ``of_lists``)."""
    return list_snippet_html(list_snippet(snippet)) if snippet in of_lists else snippet_html(snippet)
