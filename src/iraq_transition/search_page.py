"""The site's search across all tables (``/-/find?q=...``, a route of the package's Datasette plugin): for each
table of :data:`.site_config.FULL_TEXT`, how many records match a visitor's words and the first few, each its
label linked to its page and a few words of the matched column with the match marked (a list column's as its items,
not its JSON). Never a whole text.

A visitor's words are searched as words: each is one quoted FTS5 term, so no query syntax (``"``, ``*``, ``NEAR``,
``AND``, ``column:``) reaches FTS5, and the words searched are bounded in number and length. The queries run
through Datasette's, under the site's time limit and the bounds of plugins/sql_limits.py.
"""

from __future__ import annotations

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


def list_snippet(snippet: str) -> str:
    """A snippet of a list column (a JSON array of texts, as the build writes it) as its items, comma-separated.

    A snippet starts at the column's start, outside the array's strings, or with "…" at a word, inside one (words
    are only in the strings); a backslash in a string escapes the character after it."""
    items, inside, escaped = [], snippet.startswith("…"), False
    for character in snippet:
        if escaped or (inside and character not in '\\"'):
            items.append(character)
            escaped = False
        elif inside and character == "\\":
            escaped = True
        elif character == '"':
            inside = not inside
        elif character == ",":  # between two items
            items.append(", ")
    return "".join(items)


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
    hits = [Hit(label or record_id, row_url(base, table, record_id), snippet_html(_plain(snippet, of_lists)))
            for record_id, label, snippet, *of_lists in rows]
    return TableHits(table, count, hits, url)


def _plain(snippet: str, of_lists: list[str]) -> str:
    """``snippet``, as its items when it is the snippet of one of the list columns (their snippets ``of_lists``)."""
    return list_snippet(snippet) if snippet in of_lists else snippet
