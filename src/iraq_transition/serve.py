"""Serve step: Datasette metadata generated from the models and the table layout, and the ``serve`` command."""

from __future__ import annotations

import argparse
import json
import socket
import types
from html import escape
from pathlib import Path

from . import build
from .cli import UsageError
from .load import Project
from .models import COLLECTIONS

DATABASE = Path(build.DATABASE).stem
"""Name of the database in Datasette: the stem of the built database's file name."""
PACKAGE_DIR = Path(__file__).parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"

TITLE = "Iraq transition: the US-led coalition's mission in Iraq and Syria, 2024–2026"
DESCRIPTION = (
    "An open, citable dataset of the transition of the US-led coalition's military mission in Iraq (and "
    "Syria) announced in September 2024: events, quotes, force levels, bases and actors, each record "
    "hand-reviewed and backed by verbatim spans of five archived news articles. The data holds what the "
    "sources say, not what the editors believe: values the sources do not give are left empty, dates are "
    "only as precise as the text, quotes are attributed exactly as printed (an unnamed official is never "
    "given a name), conflicting figures and framings ('transition', 'withdrawal') are kept side by side, "
    "each with its citation, and a plan and its execution are separate events."
)
LICENSE = "CC-BY-4.0"
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
SOURCE = "Five archived news articles on the September 2024 US–Iraq joint statement (seeds/)"

# Editorial choices per table; columns missing from the layout are dropped, never invented.
FACETS = {
    "events": ["status", "event_type"],
    "quotes": ["speaker_id", "directness"],
    "force_levels": ["status", "country", "qualifier"],
    "actors": ["kind"],
    "bases": ["site_type", "country"],
    "citations": ["record_type", "source_id"],
}
SETTINGS = {
    "truncate_cells_html": 300,  # long texts (articles, notes) cut in table views; record pages show them whole
    "suggest_facets": False,  # the configured facets suffice; suggesting more costs seconds on 100k records
}
MAP_TABLE = "bases"
RECORD_CITATIONS = "record_citations"  # the query behind the citations on every record's page (templates/row.html)

QUERIES = {
    "occurred_and_planned": {
        "title": "Timeline: what occurred and what is announced, planned or expected",
        "description": "Every event in date order (earliest possible day; undated events last), with what "
        "occurred and what was announced, planned or expected in separate columns.",
        "sql": """select sort_date as earliest_or_deadline, date_value as date_as_given, date_qualifier,
  occurred, announced_planned_or_expected, status, end_date_value as until, id
from timeline""",
    },
    "what_each_source_says": {
        "title": "What each source says",
        "description": "Every passage of a source that a record cites, in the order of the text: give a source id "
        "(see the sources table), or leave it empty for all sources.",
        "sql": """select source_id, start_offset, end_offset, quote, record_type, record_id, label, part
from source_statements
where :source = '' or source_id = :source""",
    },
    "quotes_by_speaker": {
        "title": "Quotes by speaker",
        "description": "The quotes of one speaker (actor id, or part of the name; empty for everyone), as printed "
        "by each source.",
        "sql": """select q.id, q.text, a.name as speaker, q.speaker_as_described, q.said_value as said,
  q.occasion, q.directness, q.variant_of
from quotes q join actors a on a.id = q.speaker_id
where q.speaker_id = :speaker or a.name like '%' || :speaker || '%'
order by q.said_start is null, q.said_start, q.id""",
    },
    "force_levels_over_time": {
        "title": "Force levels over time",
        "description": "Every personnel figure by the date it holds, with the source's own wording; "
        "conflicting figures are listed side by side, never averaged.",
        "sql": """select f.as_of_value as as_of, f.country, a.name as force, f.measure, f.status,
  f.best, f.low, f.high, f.qualifier, f.wording, f.id
from force_levels f join actors a on a.id = f.actor
order by f.as_of_start is null, f.as_of_start, f.country, f.id""",
    },
    "single_report_records": {
        "title": "Records backed by only one independent report",
        "description": "Records whose citations all come from one report (a source and the sources that "
        "rewrite it count once): candidates for corroboration.",
        "sql": """select * from corroboration
where independent_reports = 1
order by record_type, record_id""",
    },
    RECORD_CITATIONS: {
        "title": "Citations of a record",
        "description": "The verbatim passages a record (and its parts) cites, with their place in the source.",
        "sql": """select c.part, c.position, c.source_id, coalesce(s.headline, s.id) as source, c.quote,
  c.start_offset, c.end_offset
from citations c join sources s on s.id = c.source_id
where c.record_type = :record_type and c.record_id = :record_id
order by c.part, c.position""",
    },
}


def metadata(timeline_svg: str | None = None, source_url: str | None = None) -> dict:
    """Datasette metadata for the built database (``build/metadata.json``).

    Table and column descriptions come from the models through the build's table layout; facets, sort
    orders, labels, canned queries and the map are configured here. ``timeline_svg`` (from
    :func:`iraq_transition.timeline.render_svg`) is shown on the home page; ``source_url``, when given, links
    the data's source. Pure: reads nothing but its arguments and the models.
    """
    table_metadata = {}
    for table in build.table_layout():
        columns = {column.name: column.description for column in table.columns if column.description}
        entry: dict = {"description": table.description, "columns": columns}
        if facets := [c for c in FACETS.get(table.name, []) if c in columns]:
            entry["facets"] = facets
        if table.name in COLLECTIONS:
            entry["label_column"] = build.label_column(table.name)
            if newest := _latest_day_column(table):
                entry["sort_desc"] = newest
        if table.name == MAP_TABLE:
            entry["plugins"] = {
                "datasette-cluster-map": {"latitude_column": "latitude", "longitude_column": "longitude"}
            }
        table_metadata[table.name] = entry
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "description_html": _home_html(timeline_svg),
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "source": SOURCE,
        **({"source_url": source_url} if source_url else {}),
        "databases": {
            DATABASE: {  # license and source are inherited from the top level
                "description": DESCRIPTION,
                "tables": table_metadata,
                "queries": QUERIES,
            }
        },
    }


def _latest_day_column(table: build.Table) -> str | None:
    """The latest possible day of a collection's first date (date_end, said_end...): newest first, undated last."""
    return next((c.name for c in table.columns if c.type == "date" and c.name.endswith("_end")), None)


def _home_html(timeline_svg: str | None) -> str:
    """The home page text: what the dataset is, where to start, and the timeline picture."""
    links = ", ".join(
        f'<a href="{DATABASE}/{name}">{escape(query["title"].split(":")[0].lower())}</a>'
        for name, query in QUERIES.items()
        if name != RECORD_CITATIONS
    )
    figure = ""
    if timeline_svg:
        figure = (
            '<figure class="timeline" style="margin: 1em 0; max-width: 100%; overflow-x: auto">'
            f"{timeline_svg}<figcaption>Events by date; hover a mark for details.</figcaption></figure>"
        )
    return f"<p>{escape(DESCRIPTION)}</p><p>Start with: {links}.</p>{figure}"


def database_path(build_dir: Path) -> Path:
    return build_dir / build.DATABASE


def table_body_html(rows) -> str:
    """The ``<tr>`` rows of a table or record page: the markup of the Jinja loop in Datasette's ``_table.html``.

    ``rows`` are Datasette's display rows, each an iterable of cells (dicts with the column, the value's type
    and its display value). Datasette renders templates in Jinja's async mode, whose loops cost some 20 µs a
    cell, most of a table page's time (an events page has 100 rows of 24 cells); this costs about 1 µs a cell.
    templates/_table.html calls it through the package's Datasette plugin.
    """
    # markupsafe's escape is what Jinja's autoescaping applies (html.escape, used above, writes quotes otherwise)
    from datasette.utils import to_css_class
    from markupsafe import Markup
    from markupsafe import escape as autoescape

    cell_starts: dict[tuple[str, str], str] = {}  # (column, type of value) -> '<td class="...">'
    lines = []
    for row in rows:
        lines.append("<tr>")
        for cell in row:
            key = (cell["column"], cell["value_type"])
            if (start := cell_starts.get(key)) is None:
                start = cell_starts[key] = f'<td class="col-{autoescape(to_css_class(key[0]))} type-{autoescape(key[1])}">'
            value = cell["value"]
            lines.append(f"{start}{value if isinstance(value, Markup) else autoescape(value)}</td>")
        lines.append("</tr>")
    return Markup("\n".join(lines))


PLUGIN = "iraq-transition"
"""Name of the package's Datasette plugin, which gives the templates in templates/ their Python helpers.

Not the name of a module: Datasette would serve that module's templates/ to every instance in the process."""


def _template_vars() -> dict:
    return {"table_body_html": table_body_html}


def _register_plugin() -> None:
    """Register the package's Datasette plugin, once per process (Datasette's plugin manager is global)."""
    from datasette import hookimpl
    from datasette.plugins import pm

    if pm.get_plugin(PLUGIN) is None:
        plugin = types.ModuleType(PLUGIN, "Python helpers for the templates in iraq_transition/templates/.")
        plugin.extra_template_vars = hookimpl(_template_vars)
        pm.register(plugin, name=PLUGIN)


def datasette(build_dir: Path):
    """A Datasette instance on the built database, opened immutable, with its generated metadata."""
    from datasette.app import Datasette

    _register_plugin()
    meta = json.loads((build_dir / build.METADATA).read_text(encoding="utf-8"))
    return Datasette(
        immutables=[str(database_path(build_dir))],
        metadata=meta,
        template_dir=str(TEMPLATES_DIR),
        settings=SETTINGS,
    )


def is_stale(project: Project) -> bool:
    """True when the build is missing or older than anything in data/, seeds/ or this package.

    Directories count too: removing a record changes its directory's modification time.
    """
    outputs = [database_path(project.build_dir), project.build_dir / build.METADATA]
    if not all(path.is_file() for path in outputs):
        return True
    built = min(path.stat().st_mtime for path in outputs)
    inputs = [directory for directory in (project.data_dir, project.seeds_dir, PACKAGE_DIR) if directory.is_dir()]
    return any(
        path.stat().st_mtime > built
        for directory in inputs
        for path in (directory, *directory.rglob("*"))
        if "__pycache__" not in path.parts
    )


def run(args: argparse.Namespace) -> int:
    """The ``serve`` command: build if stale, then run Datasette until Ctrl-C."""
    import uvicorn

    project = Project(args.root)
    if is_stale(project):
        print("The build is missing or out of date: building first.", flush=True)
        status = build.run(argparse.Namespace(**vars(args), out=None, no_cache=False))
        if status:
            return status
    listening = _listen(args.host, args.port)
    server = uvicorn.Server(uvicorn.Config(datasette(project.build_dir).app(), log_level="warning", lifespan="on"))
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Serving {DATABASE} at http://{host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the signal
        print("Stopped.")
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a usage error saying why it cannot be."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as error:
        raise UsageError(f"cannot listen on {host} port {port}: {error.strerror or error}; choose another --port or --host")
