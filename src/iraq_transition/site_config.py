"""The site's configuration, as data: what the published dataset says of itself, and how Datasette shows it.

The dataset's name, version, title, description, licences, keywords and how to cite it; per table the facets, the
sort order, the columns searched and, on the map, the coordinates; the canned queries; Datasette's settings; the
fields that name a collection's records. :mod:`.site_metadata` renders it with the table layout into
``build/metadata.json``, the build indexes the columns faceted or sorted by and makes the full-text indexes,
``serve`` starts Datasette with its settings, ``generate`` takes the name, version, titles, licences and keywords for
the data package, and ``release`` writes CITATION.cff and .zenodo.json from it. Nothing here is imported: every value
is written out, or made from those above it (the data package's ASCII title, the citation).
"""

NAME = "iraq-transition"
"""The dataset's name: the data package's, and the database's (``iraq-transition.db``, which Datasette names after
its file)."""
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
VERSION = "0.1.0"
"""The version of the data: calendar versioning, YEAR.MONTH.N (``2026.12.0``, then ``2026.12.1`` or ``2027.1.0``),
from the first release on. ``iraq-transition release`` (``make release VERSION=...``) rewrites this line and the next;
the data package, the site's footer, CITATION.cff and .zenodo.json take it from here."""
RELEASED = None
"""The day that version was released (ISO 8601), or None before the first release."""
LICENSE = "CC-BY-4.0"
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
SOURCE = "Five archived news articles on the September 2024 US–Iraq joint statement (seeds/)"
CODEBOOK_URL = "/codebook"
"""The site's page of the codebook (every table, column and vocabulary value explained)."""

# The data package (datapackage.json) words them its own way: an ASCII title, and the licences of data and texts.
PACKAGE_TITLE = TITLE.replace("–", "-")
PACKAGE_DESCRIPTION = (
    "An open, citable dataset of the 2024-2026 transition of the US-led coalition's military mission in "
    "Iraq (and Syria): sources, actors, events, quotes, force levels and bases, each backed by verbatim "
    "citations of archived news articles. Every claim carries its citations (table citations, with character "
    "offsets into sources.text); unknown values are left empty, never estimated; quotes are attributed exactly "
    "as the source attributes them; where sources differ, their versions stand side by side.\n\n"
    "Licences: the records and the tables built from them are CC-BY-4.0; the code is MIT. The article texts "
    "(seeds/, and the column sources.text) remain the property of their publishers: they are included only so "
    "that every citation can be verified, and are not licensed under CC-BY-4.0."
)

LICENSES = [
    {
        "name": LICENSE,
        "path": LICENSE_URL,
        "title": "Creative Commons Attribution 4.0: the records (data/) and the tables built from them",
    },
    {"name": "MIT", "path": "https://opensource.org/licenses/MIT", "title": "MIT License: the code"},
]
"""The data package's licences: of the data, and of the code (as pyproject.toml declares it)."""
KEYWORDS = [
    "Iraq", "Syria", "Operation Inherent Resolve", "US military", "coalition", "troop levels", "military bases", "ISIS"
]
CONTRIBUTORS = [{"title": f"{NAME} contributors", "role": "author"}]
AUTHOR = CONTRIBUTORS[0]["title"]
CITATION = (
    f"{AUTHOR} ({RELEASED[:4] if RELEASED else 'unreleased'}). {TITLE}. Data set, version {VERSION}. {LICENSE}."
)
"""How to cite the data: the site's home page shows it (CITATION.cff says the same for citation managers)."""

LABEL_FIELDS = ("title", "name", "headline", "wording", "text")
"""The first of these a collection has names its records in views (and in Datasette)."""
LABEL_FALLBACK = ("publisher", "published", "file")
"""Where that field may be empty (a source's headline), the table gets a ``label`` column that is never empty: the
field, or else those of these fields the record has, in this order (a date as its range of possible days), or
else its id."""

# Editorial choices per table; columns missing from the layout are dropped, never invented.
FACETS = {
    "events": ["status", "event_type"],
    "quotes": ["speaker_id", "directness"],
    "force_levels": ["status", "country", "qualifier"],
    "actors": ["kind"],
    "bases": ["site_type", "country"],
    "citations": ["record_type", "source_id"],
}
SORT_DESC = {"sources": "published_end", "events": "date_end", "quotes": "said_end", "force_levels": "as_of_end"}
"""Tables shown newest first: by the latest possible day of their first date (undated records last). The build
indexes these columns too."""
FULL_TEXT = {
    "sources": ("text",),
    "actors": ("name", "aliases"),
    "events": ("title", "description"),
    "quotes": ("text",),
    "force_levels": ("wording",),
    "bases": ("name", "aliases", "province"),
}
"""Tables searchable on the site, and the columns searched: the build makes their FTS5 index ``<table>_fts``."""
MAP_TABLE = "bases"
MAP_COLUMNS = {"latitude_column": "latitude", "longitude_column": "longitude"}  # datasette-cluster-map's options

SETTINGS = {
    "truncate_cells_html": 300,  # long texts (articles, notes) cut in table views; record pages show them whole
    "suggest_facets": False,  # the configured facets suffice; suggesting more costs seconds on 100k records
    "sql_time_limit_ms": 1000,  # any query, a visitor's own SQL included, is interrupted after a second...
    "max_returned_rows": 1000,  # ...and returns at most this many rows (plugins/sql_limits.py bounds each value)
}

RECORD_IDS = {
    "timeline": "events", "quotes_with_speakers": "quotes",
    "occurred_and_planned": "events", "quotes_by_speaker": "quotes", "force_levels_over_time": "force_levels",
}
"""Views and canned queries whose ``id`` column names records of a collection: their pages link each id."""
RECORD_CITATIONS = "record_citations"  # the query behind the citations on every record's page (templates/row.html)
QUERIES = {
    "occurred_and_planned": {
        "title": "Timeline: what occurred and what is announced, planned or expected",
        "description": "Every event in date order (earliest possible day; undated events last), with what "
        "occurred and what was announced, planned or expected in separate columns. A date is given as its source "
        "gives it, with the earliest and latest day it may be (empty when the source leaves it open).",
        "sql": """select date_value as date_as_given, date_qualifier, date_start as earliest_day, date_end as latest_day,
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
        "description": "The quotes of one speaker (actor id, or part of the name; empty for everyone), with how each "
        "source describes the speaker, whether the sources name them, and the sources that print the quote.",
        "sql": """select id, text, speaker, speaker_as_described, speaker_unnamed, said, occasion, directness,
  variant_of, sources, source_ids
from quotes_with_speakers
where speaker_id = :speaker or speaker like '%' || :speaker || '%'""",
    },
    "force_levels_over_time": {
        "title": "Force levels over time",
        "description": "Every personnel figure by the date it holds (sort_date: deadlines by the first day of "
        "their period), with the source's own wording; conflicting figures are listed side by side, never averaged.",
        "sql": """select sort_date, as_of, as_of_qualifier, country, force, measure, status,
  best, low, high, qualifier, wording, id
from force_levels_by_date""",
    },
    "single_report_records": {
        "title": "Records backed by only one independent report",
        "description": "Records whose citations all come from one report (a source and the sources that "
        "rewrite it count once): candidates for corroboration. Sources suspected of a shared upstream report count "
        "as independent here; independent_reports_shared_upstream_as_one = 1 gives the stricter reading.",
        "sql": """select * from corroboration
where independent_reports = 1
order by record_type, record_id""",
    },
    "single_report_claims": {
        "title": "Claims backed by only one independent report",
        "description": "Values of records (a date, a participant, a figure) that only one report supports (a "
        "source and the sources that rewrite it count once): the claims to corroborate first. As for records, "
        "sources suspected of a shared upstream report count as independent here; "
        "independent_reports_shared_upstream_as_one = 1 gives the stricter reading.",
        "sql": """select * from claim_corroboration
where independent_reports = 1
order by record_type, record_id, part, claim""",
    },
    RECORD_CITATIONS: {
        "title": "Citations of a record",
        "description": "The verbatim passages a record (and its parts) cites, with their place in the source.",
        "sql": """select c.part, c.position, c.source_id, s.label as source, c.quote, c.supports,
  c.start_offset, c.end_offset
from citations c join sources s on s.id = c.source_id
where c.record_type = :record_type and c.record_id = :record_id
order by c.part, c.position""",
    },
}
