"""The codebook: every table and view, every column with its type and meaning, every vocabulary with the meaning of
each value, how dates, figures, labels and corroboration work, and worked examples, made from the models.

One document of blocks renders to Markdown (``docs/codebook.md``, kept current by ``generate``) and to an HTML
fragment for the site (``build/codebook.html``), every text escaped. Its examples are computed by the models' own
code (a date's possible days, a record's label), so that they cannot drift from what the build does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from . import site_config
from .fields import vocabulary_meanings
from .labels import LABEL_COLUMN, date_phrase
from .layout import CSV_BOOLEANS, CSV_LINE_TERMINATOR, SORT_SUFFIX, Column, Table
from .models import FuzzyDate

CSV_PATH = "build/csv"


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    language: str
    text: str


@dataclass(frozen=True)
class Grid:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | Items | Code | Grid
"""Text in blocks may hold `code spans`; nothing else is markup."""


# --------------------------------------------------------------------------- the worked examples, run by the tests

READ_TABLE = '''import json
from pathlib import Path

import pandas as pd

PANDAS_TYPES = {"string": "string", "array": "string", "integer": "Int64", "number": "float64", "boolean": "boolean"}


def read_table(name, package="datapackage.json"):
    """A table or view of the data package as a DataFrame, every column of its declared type."""
    package = Path(package)
    resources = json.loads(package.read_text(encoding="utf-8"))["resources"]
    resource = next(resource for resource in resources if resource["name"] == name)
    fields = resource["schema"]["fields"]
    frame = pd.read_csv(
        package.parent / resource["path"],
        dtype={field["name"]: PANDAS_TYPES[field["type"]] for field in fields if field["type"] != "date"},
        parse_dates=[field["name"] for field in fields if field["type"] == "date"],
        keep_default_na=False,
        na_values=[""],
    )
    for field in fields:
        if field["type"] == "array":  # JSON arrays become lists (an empty column too)
            frame[field["name"]] = frame[field["name"]].astype(object).map(json.loads, na_action="ignore")
    return frame
'''
"""How to load any CSV with pandas, each column of the type ``datapackage.json`` declares."""

QUESTIONS = (
    (
        "All quotes by unnamed officials, with their source",
        '''quotes = read_table("quotes_with_speakers")
unnamed_quotes = quotes[quotes["speaker_unnamed"]][["speaker_as_described", "text", "sources", "said"]]
''',
    ),
    (
        "Force levels in Iraq over time, in date order",
        '''levels = read_table("force_levels_by_date")  # already in date order: sort_date, then country
iraq_levels = levels[levels["country"] == "IQ"][["sort_date", "as_of", "as_of_qualifier", "force", "measure",
                                                 "status", "best", "qualifier", "wording"]]
''',
    ),
    (
        "What was planned or expected for September 2025",
        '''timeline = read_table("timeline")
due = timeline["sort_date"].dt.strftime("%Y-%m") == "2025-09"  # "in September 2025" and "by September 2025"
september_2025 = timeline[due & timeline["status"].isin(["planned", "expected"])][
    ["date_value", "date_qualifier", "status", "announced_planned_or_expected"]]
''',
    ),
)
"""Three researchers' questions and their answers in pandas, after :data:`READ_TABLE` (the tests run them)."""

R_EXAMPLE = '''library(frictionless)  # install.packages("frictionless")
package <- read_package("datapackage.json")
quotes <- read_resource(package, "quotes_with_speakers")  # columns typed from the package
'''

DATE_EXAMPLES = (
    ("on 27 September 2024", FuzzyDate(value="2024-09-27", precision="day")),
    ("in September 2025", FuzzyDate(value="2025-09", precision="month")),
    ("by September 2025", FuzzyDate(value="2025-09", precision="month", qualifier="no_later_than")),
    ("until at least September 2026", FuzzyDate(value="2026-09", precision="month", qualifier="no_earlier_than")),
    ("around 2021", FuzzyDate(value="2021", precision="year", qualifier="circa")),
    ("on Friday 27 September or later, this year",
     FuzzyDate(value="2024-09-27", precision="day", qualifier="no_earlier_than", latest="2024-12-31")),
)


# --------------------------------------------------------------------------- the document


def _code(text: str) -> str:
    return f"`{text}`"


def _values(values) -> str:
    return ", ".join(_code(value) for value in values)


def _type(column: Column) -> str:
    kinds = {
        "boolean": f"boolean ({_values(reversed(CSV_BOOLEANS))})",
        "date": "date (YYYY-MM-DD)",
        "array": "JSON array of strings",
    }
    text = kinds.get(column.type, column.type)
    if column.references:
        text += f", id in {_code(column.references)}"
    if column.enum:
        text += f", one of {_values(column.enum)}"
    if column.minimum is not None or column.maximum is not None:
        text += ", " + " to ".join(str(bound) for bound in (column.minimum, column.maximum) if bound is not None)
        if column.maximum is None:
            text += " or more"
    return text


def _table_blocks(table: Table) -> list[Block]:
    keys = [f"File {_code(f'{CSV_PATH}/{table.name}.csv')}; one row per {_values(table.primary_key)}."]
    if table.foreign_keys:
        links = (f"{_code(column)} → {_code(target + '.id')}" for column, target in table.foreign_keys)
        keys.append(f"Ids of other records: {', '.join(links)}.")
    rows = tuple(
        (_code(column.name), _type(column), "yes" if column.required else "", column.description)
        for column in table.columns
    )
    return [
        Heading(3, _code(table.name)),
        Paragraph(table.description),
        Paragraph(" ".join(keys)),
        Grid(("column", "type", "never empty", "meaning"), rows),
    ]


def _vocabulary_blocks(tables: tuple[Table, ...]) -> list[Block]:
    used: dict[tuple[str, ...], list[str]] = {}
    for table in tables:
        for column in table.columns:
            if column.enum and vocabulary_meanings(column.enum):
                used.setdefault(column.enum, []).append(f"{table.name}.{column.name}")
    blocks: list[Block] = [
        Heading(2, "Vocabularies"),
        Paragraph("Every column that holds one of a fixed set of values, and what each value means."),
    ]
    for enum, columns in used.items():
        meanings = vocabulary_meanings(enum)
        blocks.append(Paragraph("Used by " + ", ".join(map(_code, columns)) + ":"))
        blocks.append(Grid(("value", "meaning"), tuple((_code(value), meanings[value]) for value in enum)))
    return blocks


def _date_blocks() -> list[Block]:
    rows = tuple(
        (
            words, _code(date.value), date.precision, date.qualifier, date.latest or "",
            *(day or "(open)" for day in date.bounds()), date.sort_day(), date_phrase(date),
        )
        for words, date in DATE_EXAMPLES
    )
    return [
        Heading(2, "Dates, bounds and qualifiers"),
        Paragraph(
            "A date is only as precise as its source. Each date field (say `date` of events) is stored in "
            "columns that share its name: `date_value` (YYYY, YYYY-MM or YYYY-MM-DD, as the source gives it), "
            "`date_precision` (day, month or year), `date_qualifier` (how the value bounds the real date), "
            "`date_earliest` and `date_latest` (a narrower earliest or latest day where the text gives one), and "
            f"three columns computed from those: `date_start` and `date_end`, the earliest and latest possible day "
            f"(empty when open), and `date_{SORT_SUFFIX}`, a day to sort by that is never empty when the date is given."
        ),
        Paragraph(
            "Nothing is imputed: no midpoints, and an open bound stays empty. Filter on `_start` and `_end` "
            "(a record may fall in a period when its start is not after the period's end and its end is not "
            f"before the period's start); sort on `_{SORT_SUFFIX}`, which is the start where one is known, and "
            "otherwise the first day of the value as given: a deadline 'by September 2025' sorts on 2025-09-01, "
            "beside 'in September 2025', although it may come earlier."
        ),
        Grid(("as the source says", "value", "precision", "qualifier", "latest", "start", "end", SORT_SUFFIX,
              "in labels"), rows),
    ]


def _prose_blocks() -> list[Block]:
    fallback = ", ".join(map(_code, site_config.LABEL_FALLBACK))
    return [
        Heading(2, "Figures"),
        Paragraph(
            "A force level keeps the source's own words (`wording`) beside the numbers: `best` is the single "
            "figure given, `low` and `high` a range, each empty when the source gives none ('several hundred' has "
            "no number). `qualifier` says how the figure is hedged and `measure` whether it is a level (personnel "
            "present) or a change (negative: to leave; positive: to arrive). Conflicting figures are separate "
            "records, side by side; none is averaged."
        ),
        Heading(2, "Labels"),
        Paragraph(
            "Every record has a label that is never empty: events by `title`, actors and bases by `name`, force "
            "levels by `wording`, quotes by `text`. A source's headline is often not known, so `sources` has a "
            f"`{LABEL_COLUMN}` column: the headline, or else what is known of the source ({fallback}, a date as "
            "its possible days), else its id. Labels are made from the record's own fields and add nothing to "
            "them. The views carry labels beside ids (`speaker` beside `speaker_id`)."
        ),
        Heading(2, "Citations"),
        Paragraph(
            "Every claim cites one or more verbatim spans of the archived articles: table `citations` has one row "
            "per span, with the record it supports (`record_type`, `record_id`, and `part` for a list item such as "
            "`postures.0`; empty for the record itself: `''` in SQLite, an empty cell in the CSV), the quoted "
            "words and `start_offset` and `end_offset`, character offsets (0-based, counted in Unicode code "
            "points) into `sources.text`. `prefix` and `suffix` pick one occurrence of a span the text holds more "
            "than once. `supports` names, as a JSON array, the values of the record (or part) that the span's "
            "words give: a field (`date`), a field of a nested value (`place.country`) or a list item by its key "
            "(`participants.iraq`)."
        ),
        Heading(2, "Editorial values"),
        Paragraph(
            "A value that no cited passage gives is the editors': one from outside the archived articles (a "
            "province from a gazetteer, the expansion of 'UN'), or one they infer from several of them (the day "
            "of 'on Friday' from another article's 'Sept. 27'). Each is listed, with its basis, in the table "
            "`event_editorial`, `quote_editorial` and the like: `fields` names the values as `supports` does. "
            "Ids, notes, titles, descriptions, classifications and links are the editors' by nature and are not "
            "listed."
        ),
        Heading(2, "Corroboration"),
        Paragraph(
            "Table `corroboration` counts, for every cited record, its citations, the distinct sources cited, and "
            "the independent reports among them. A source that rewrites or copies another names it in "
            "`same_story_as`; the chain is followed to the original, and a source and its copies count as one "
            "report. Example: a force level cited by an article and by a reworded copy of it has `sources` 2 "
            "and `independent_reports` 1; `corroboration` filtered on `independent_reports = 1` lists the "
            "records that rest on a single report. It counts a record's own citations only, not those of its "
            "parts (a posture's, a framing's)."
        ),
        Paragraph(
            "Table `claim_corroboration` counts the same per claim: for each value a citation supports (`claim`, "
            "named as in `supports`), only the citations that support it. Sources that the editors suspect of "
            "drawing on one earlier report (`source_shared_upstream`, with its basis: a judgement, not a fact of "
            "the texts) count as one in `independent_reports_shared_upstream_as_one`, and as independent in "
            "`independent_reports`; both counts are given, so that either reading can be used and said."
        ),
    ]


def _reading_blocks() -> list[Block]:
    return [
        Heading(2, "Reading the files"),
        Items((
            f"Each table and view is a CSV file in {_code(CSV_PATH)}, described by `datapackage.json` (a "
            "Frictionless data package: types, vocabularies, patterns, primary and foreign keys); "
            "`frictionless validate datapackage.json` checks every file against it.",
            "UTF-8 without a byte order mark, comma-separated, `\"` quoting, line ends "
            f"{_code(CSV_LINE_TERMINATOR.encode('unicode_escape').decode())}, a header row.",
            "An empty cell is an unknown or absent value (null), never zero or an empty text.",
            f"Booleans are {_values(reversed(CSV_BOOLEANS))}; days are YYYY-MM-DD (a date's `_value` is YYYY, "
            "YYYY-MM or YYYY-MM-DD, as precise as its source: see below); list columns (such as "
            "`aliases`) are JSON arrays of strings, and lists of structured items are child tables "
            "(`event_participants`).",
            "The same tables and views are in the SQLite database `iraq-transition.db`, where booleans are 1 and 0.",
        )),
        Paragraph("With pandas, this reads any file with every column of the type the data package declares "
                  "(integers that may be empty as `Int64`, booleans as `boolean`, dates as datetimes, JSON arrays "
                  "as lists; a plain `pd.read_csv` would read an always-empty column as numbers):"),
        Code("python", READ_TABLE),
        Paragraph("With R, the frictionless package reads the types from the data package:"),
        Code("r", R_EXAMPLE),
        Paragraph("In a spreadsheet, import the file as UTF-8 text (LibreOffice asks; in Excel use Data, From "
                  "Text/CSV) so that characters such as ’ and – arrive intact."),
        Heading(2, "Worked examples"),
        *(block for question, answer in QUESTIONS for block in (Paragraph(question + ":"), Code("python", answer))),
    ]


def codebook(tables: tuple[Table, ...]) -> list[Block]:
    """The codebook of ``tables`` (every table and view written as CSV), as blocks."""
    return [
        Heading(1, f"Codebook: {site_config.TITLE}"),
        Paragraph(
            "Generated from the models by `iraq-transition generate` (do not edit). "
            + site_config.DESCRIPTION
        ),
        *_reading_blocks(),
        *_date_blocks(),
        *_prose_blocks(),
        *_vocabulary_blocks(tables),
        Heading(2, "Tables and views"),
        *(block for table in tables for block in _table_blocks(table)),
    ]


# --------------------------------------------------------------------------- rendering

_CODE_SPAN = re.compile(r"`([^`]+)`")


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as CommonMark (GitHub tables)."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {_plain(block.text)}")
        elif isinstance(block, Paragraph):
            parts.append(_plain(block.text))
        elif isinstance(block, Items):
            parts.append("\n".join(f"- {_plain(item)}" for item in block.items))
        elif isinstance(block, Code):
            parts.append(f"```{block.language}\n{block.text.rstrip()}\n```")
        else:
            lines = [block.header, tuple("---" for _ in block.header), *block.rows]
            parts.append("\n".join("| " + " | ".join(_cell(cell) for cell in line) + " |" for line in lines))
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return _plain(text).replace("|", "\\|").replace("\n", " ")


_MARKUP = re.compile(r"[\\*<>\[\]]|(?<!\w)_")
"""What Markdown could read as markup outside code spans: backslash, emphasis, HTML, links, a word-initial '_'."""


def _plain(text: str) -> str:
    """``text`` for Markdown: markup characters outside its code spans escaped."""
    pieces = _CODE_SPAN.split(text)  # text, code, text, code, ...
    return "".join(
        f"`{piece}`" if index % 2 else _MARKUP.sub(lambda match: "\\" + match.group(), piece)
        for index, piece in enumerate(pieces)
    )


def to_html(blocks: list[Block]) -> str:
    """The blocks as an HTML fragment (one ``<article>``), every text escaped."""
    parts = ['<article class="codebook">']
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Items):
            parts.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Code):
            language, code = escape(block.language), escape(block.text.rstrip())
            parts.append(f'<pre style="overflow-x: auto"><code class="language-{language}">{code}</code></pre>')
        else:
            head = "".join(f"<th>{_inline(cell)}</th>" for cell in block.header)
            body = "".join("<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>" for row in block.rows)
            table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            parts.append(f'<div class="codebook-table" style="overflow-x: auto">{table}</div>')
    parts.append("</article>")
    return "\n".join(parts) + "\n"


def _inline(text: str) -> str:
    """``text`` escaped, its code spans as ``<code>``."""
    return _CODE_SPAN.sub(lambda match: f"<code>{match.group(1)}</code>", escape(text))
