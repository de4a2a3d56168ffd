"""The site's Datasette plugin: what ``iraq-transition serve`` and the published site (which installs this package,
see the README's Publishing section) both load, through the ``datasette`` entry point in pyproject.toml.

It brings the templates in templates/ (Datasette takes a plugin's templates from the ``templates`` directory of
its package), their Python helpers (:mod:`..pages`, :mod:`..record_page`), the bounds on SQL of
plugins/sql_limits.py, one log line per error answer instead of a traceback with every local variable, row
pages whose key does not have the parts of its table's primary key answered 404, list columns (JSON arrays) shown
as lists in every HTML table, the search across all tables at ``/-/find`` (:mod:`..search_page`), where the
header's search box leads and ``/-/search`` (an earlier such search's address) redirects, and each table's CSV file
as the build wrote it at ``/-/csv/<table>.csv``.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
import weakref
from pathlib import Path

from datasette import hookimpl
from markupsafe import Markup

from .. import pages, search_page, site_config
from ..build import CSV_DIR, csv_tables
from ..codebook import codebook, to_html
from ..plugins.sql_limits import prepare_connection
from ..record_page import record_page

__all__ = ["extra_template_vars", "prepare_connection", "register_routes", "render_cell", "startup"]
"""The hooks of this plugin (Datasette finds them as the module's attributes; prepare_connection comes from
plugins/sql_limits.py)."""


@hookimpl
def startup(datasette) -> None:
    """Datasette prints the traceback of every error answer (404s included) with all its local variables when
    rich is installed (frictionless brings it); without rich, only the plain traceback of server errors."""
    from datasette import handle_exception

    handle_exception.rich = None


@hookimpl
def register_routes(datasette):
    """The search across all tables (:data:`FIND_PAGE`) and its former address (:func:`search_moved`), the row
    pages of the dataset's tables, ahead of Datasette's own route for them: a key of more or fewer parts than the
    table's primary key is no row (404), where Datasette 0.65 would run its query with values missing (a server error
    and its traceback) or ignore the parts too many; and each table's published CSV file."""
    from datasette.utils import tilde_encode, urlsafe_components
    from datasette.utils.asgi import NotFound
    from datasette.views.row import RowView

    key_parts = {tilde_encode(name): len(table.primary_key) for name, table in pages.keyed_tables().items()}
    tables = "|".join(map(re.escape, key_parts))
    route = rf"/(?P<database>{re.escape(tilde_encode(site_config.NAME))})/(?P<table>{tables})/(?P<pks>[^/]+?)(\.(?P<format>\w+))?$"
    row_view = RowView.as_view(datasette)

    async def row(request, send):
        table = request.url_vars["table"]
        given = len(urlsafe_components(request.url_vars["pks"]))
        if given != key_parts[table]:
            raise NotFound(f"A row of {table} has a key of {key_parts[table]} parts, comma-separated; this one has {given}")
        return await row_view(request, send)

    async def published_csv(request):
        """A table's CSV file as the build wrote it (the data package's file), not Datasette's export of a page."""
        from datasette.utils.asgi import AsgiFileDownload

        name = request.url_vars["name"]
        path = _published_file(datasette, name)
        if path is None:
            raise NotFound(f"No published CSV file of a table called {name}")
        return AsgiFileDownload(path, filename=f"{name}.csv", content_type="text/csv; charset=utf-8")

    csv_route = re.escape(PUBLISHED_CSV).replace(re.escape("{}"), r"(?P<name>\w+)") + "$"
    return [(re.escape(FIND_URL) + "$", find), (re.escape(SEARCH_MOVED) + "$", search_moved), (route, row),
            (csv_route, published_csv)]


PUBLISHED_CSV = "/-/csv/{}.csv"
"""Where each table's CSV file is served as the build wrote it."""


@functools.cache
def _published() -> frozenset[str]:
    """The tables and views the build writes a CSV file of."""
    return frozenset(table.name for table in csv_tables())


def _published_file(datasette, name: str) -> Path | None:
    """The CSV file the build wrote of table ``name`` beside the database, if there is one (a site published
    without build/csv/ has none)."""
    if name not in _published() or site_config.NAME not in datasette.databases:
        return None
    path = Path(datasette.get_database(site_config.NAME).path).parent / CSV_DIR / f"{name}.csv"
    return path if path.is_file() else None


@hookimpl
def render_cell(value, column, table, database, datasette):
    """A list column's JSON array as a list of its first items (:func:`..pages.list_html`) in the HTML tables of
    table, row and query pages (a query's by the column's name); the CSV and JSON keep the JSON text. A long text,
    or one that is no list, stays Datasette's cell, cut."""
    if database != site_config.NAME or not isinstance(value, str) or not value.startswith("["):
        return None
    if column not in pages.list_columns().get(table, ()):
        return None
    return pages.list_html(value, column, datasette.urls.database(database))


FIND_URL, FIND_PAGE = "/-/find", "find.html"
"""Where the search across all tables answers (``/-/find?q=...``), and its page's template."""
SEARCH_MOVED = "/-/search"
"""Where the site's search across all tables once was (a plugin's page): bookmarks and links to it lead to
:data:`FIND_URL`."""


async def find(request, datasette):
    """The search across all tables: each table's hits for the words of ``q``; just the form when there are none."""
    from datasette.utils.asgi import Response

    query = request.args.get("q") or ""
    search = search_page.search_terms(query)
    results = []
    if search.terms:
        base = datasette.urls.database(site_config.NAME)
        results = await search_page.find(datasette.get_database(site_config.NAME), search, base)
    context = {"q": query, "search": search, "results": results, "metadata": datasette.metadata(),
               "max_terms": search_page.MAX_TERMS, "max_characters": search_page.MAX_CHARACTERS}
    return Response.html(await datasette.render_template(FIND_PAGE, context, request=request))


async def search_moved(request, datasette):
    """A redirect to the search across all tables with the words of ``q`` (any other parameter dropped): always to
    the site's own :data:`FIND_URL`, under its ``base_url``, the words URL-encoded."""
    from datasette.utils.asgi import Response

    query = request.args.get("q")
    target = datasette.urls.path(FIND_URL)
    return Response.redirect(f"{target}?{urllib.parse.urlencode({'q': query})}" if query else target)


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    """The templates' helpers; on this dataset's pages what they show: the record of a record page, the seed
    numbers of a table page, the id columns of a query page, the undated events of the home page."""
    variables = {"table_body_html": pages.table_body_html, "page_order": pages.page_order}
    if template == CODEBOOK_PAGE:
        return variables | {"codebook_html": _codebook_html(), "metadata": datasette.metadata()}
    if template == "index.html":
        return _with(datasette, site_config.NAME, variables, undated=True)
    if database != site_config.NAME:
        return variables
    if template == "query.html":
        return variables | {"query_links": pages.query_links(request.url_vars.get("table") if request else None)}
    if view_name == "row":
        from datasette.utils import urlsafe_components

        return _with(datasette, database, variables, record=(table, tuple(urlsafe_components(request.url_vars["pks"]))))
    if view_name == "table":
        published = datasette.urls.path(PUBLISHED_CSV.format(table)) if _published_file(datasette, table) else None
        variables |= {"id_links": pages.links_for(table), "on_map": table == site_config.MAP_TABLE, "published_csv": published}
        return _with(datasette, database, variables)
    return variables


CODEBOOK_PAGE = "pages/codebook.html"
"""The codebook's page, at /codebook (Datasette serves templates/pages/<name>.html at /<name>)."""


@functools.cache
def _codebook_html() -> Markup:
    """The codebook as the build writes it (build/codebook.html), made from the models: the published site has it
    too, with no file beside the database."""
    return Markup(to_html(codebook(csv_tables())))


_SEEDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""The seed numbers of each open database (a rebuilt database is another object): read once, not once a page."""


def _with(datasette, database: str, variables: dict, record: tuple | None = None, undated: bool = False):
    """``variables`` and what the page reads from the database, in one hop to its thread."""

    async def read() -> dict:
        if database not in datasette.databases:
            return variables
        base = datasette.urls.database(database)

        def reading(connection) -> dict:
            if record is not None:
                return {"record": record_page(connection, *record, base)}
            if undated:
                return {"undated_events": pages.undated_events(connection, base), "timeline_events_url": f"{base}/events"}
            return {}

        db = datasette.get_database(database)
        if (seeds := _SEEDS.get(db)) is None and record is None and not undated:
            seeds = _SEEDS[db] = await db.execute_fn(pages.seed_numbers)
        return variables | {"database_url": base, "seeds": seeds} | await db.execute_fn(reading)

    return read
