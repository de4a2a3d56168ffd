"""The site as Datasette shows it: the table layout and the site's configuration (:mod:`.site_config`) rendered
into Datasette's metadata (``build/metadata.json``), and what the site browses by, which the build indexes.

Pure: reads nothing but the models, through the layout, and the site's configuration.
"""

from __future__ import annotations

from html import escape

from . import corroboration, layout, site_config
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
    about = {
        "license": site_config.LICENSE,
        "license_url": site_config.LICENSE_URL,
        "source": site_config.SOURCE,
        "about": f"Codebook, data version {site_config.VERSION}",  # in every page's footer
        "about_url": site_config.CODEBOOK_URL,
    }
    table_metadata = {}
    for table in layout.table_layout():
        entry = table.to_datasette() | about
        if table_facets := facets(table):
            entry["facets"] = table_facets
        if table.name in COLLECTIONS:
            entry["label_column"] = label_column(table.name)
        if newest := sort_desc(table):
            entry["sort_desc"] = newest
        if table.name == site_config.MAP_TABLE:
            entry["plugins"] = {"datasette-cluster-map": site_config.MAP_COLUMNS}
        table_metadata[table.name] = entry
    for table in (*(view.table for view in views()), *corroboration.TABLES):
        table_metadata[table.name] = table.to_datasette() | about
    return {
        "title": site_config.TITLE,
        "description": site_config.DESCRIPTION,
        "description_html": _home_html(timeline_svg),
        **about,
        "databases": {
            site_config.NAME: {  # every entry says it too: Datasette copies what is inherited only on some pages
                "description": site_config.DESCRIPTION,
                **about,
                "tables": table_metadata,
                "queries": {name: query | about for name, query in site_config.QUERIES.items()},
            }
        },
    }


def _home_html(timeline_svg: str | None) -> str:
    """The home page text: what the dataset is, where to start, how to cite it, and the timeline picture."""
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
    cite = (
        f'<h2 id="how-to-cite">How to cite</h2><p>{escape(site_config.CITATION)}</p>'
        "<p>Name the version you used: each release can be downloaded again as it was, and its changelog and "
        "delta file say what changed since the one before.</p>"
    )
    return (f"<p>{escape(site_config.DESCRIPTION)}</p><p>Start with: {links}; what every column means: {codebook}.</p>"
            f"{cite}{figure}")
