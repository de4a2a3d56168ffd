"""The site as Datasette shows it: the table layout and the site's configuration (:mod:`.site_config`) rendered
into Datasette's metadata (``build/metadata.json``), and what the site browses by, which the build indexes.

Pure: reads nothing but the models, through the layout, and the site's configuration.
"""

from __future__ import annotations

from html import escape

from . import layout, site_config
from .layout import label_column
from .models import COLLECTIONS
from .views import views


def facets(table: layout.Table) -> list[str]:
    """The columns the site facets ``table`` by (configured columns missing from the layout are dropped)."""
    names = {column.name for column in table.columns}
    return [name for name in site_config.FACETS.get(table.name, []) if name in names]


def sort_desc(table: layout.Table) -> str | None:
    """The column the site sorts ``table`` by, newest first, if one is configured and in the layout."""
    column = site_config.SORT_DESC.get(table.name)
    return column if any(c.name == column for c in table.columns) else None


def browsed_columns() -> dict[str, tuple[str, ...]]:
    """Per table, the columns the site facets or sorts by (the build indexes them)."""
    return {table.name: (*facets(table), *filter(None, [sort_desc(table)])) for table in layout.table_layout()}


def datasette_metadata(timeline_svg: str | None = None) -> dict:
    """Datasette metadata for the built database (``build/metadata.json``).

    Table and column descriptions come from the models through the table layout; facets, sort orders, labels,
    canned queries and the map from the site's configuration. ``timeline_svg`` (from
    :func:`iraq_transition.timeline.render_svg`) is shown on the home page.
    """
    table_metadata = {}
    for table in layout.table_layout():
        entry = table.to_datasette()
        if table_facets := facets(table):
            entry["facets"] = table_facets
        if table.name in COLLECTIONS:
            entry["label_column"] = label_column(table.name)
        if newest := sort_desc(table):
            entry["sort_desc"] = newest
        if table.name == site_config.MAP_TABLE:
            entry["plugins"] = {"datasette-cluster-map": site_config.MAP_COLUMNS}
        table_metadata[table.name] = entry
    for view in views():
        table_metadata[view.name] = view.table.to_datasette()
    return {
        "title": site_config.TITLE,
        "description": site_config.DESCRIPTION,
        "description_html": _home_html(timeline_svg),
        "license": site_config.LICENSE,
        "license_url": site_config.LICENSE_URL,
        "source": site_config.SOURCE,
        "about": "Codebook",
        "about_url": site_config.CODEBOOK_URL,
        "databases": {
            site_config.NAME: {  # license and source are inherited from the top level
                "description": site_config.DESCRIPTION,
                "tables": table_metadata,
                "queries": site_config.QUERIES,
            }
        },
    }


def _home_html(timeline_svg: str | None) -> str:
    """The home page text: what the dataset is, where to start, and the timeline picture."""
    links = ", ".join(
        f'<a href="{site_config.NAME}/{name}">{escape(query["title"].split(":")[0].lower())}</a>'
        for name, query in site_config.QUERIES.items()
        if name != site_config.RECORD_CITATIONS
    )
    figure = ""
    if timeline_svg:
        figure = (
            '<figure class="timeline" style="margin: 1em 0; max-width: 100%; overflow-x: auto">'
            f"{timeline_svg}<figcaption>Events by date; hover a mark for details.</figcaption></figure>"
        )
    codebook = f'<a href="{site_config.CODEBOOK_URL}">the codebook</a>'
    return f"<p>{escape(site_config.DESCRIPTION)}</p><p>Start with: {links}; what every column means: {codebook}.</p>{figure}"
