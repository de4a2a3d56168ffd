"""What the checks that span records need of one checked file, as plain data (tuples, strings, numbers).

A :class:`Summary` and the problems and issues it carries travel from workers and to and from the cache as
plain tuples (marshal-able, nothing to build but data): :func:`plain` and :func:`summary_of` convert.
"""

from __future__ import annotations

import functools
import hashlib
import typing

from . import models
from .fields import citations, field_shapes, get_field, references
from .load import RecordFile
from .models import COLLECTIONS
from .problems import Issue, Problem
from .provenance import DatedClaim, dated_citations, publication_years, speaker_citations, wording_citations
from .records import FileResult
from .spans import normalise

NAME_FIELDS = ("name", "aliases", "file")
"""The fields whose texts name a record besides its id (an actor's or base's name and aliases, a source's seed
file), which "did you mean" looks at."""
NAME_CHARS, NAMES = 200, 50
"""Characters of each name kept, and names kept of a record (what "did you mean" compares is bounded)."""
PUNCTUATION_AT_ENDS = " .,;:!?…'\""
"""What :func:`repeat_key` strips from the ends of a quote's normalised text (sources differ in where the quotation
marks close)."""

Repeat = tuple[bytes, str, tuple[str, ...]]
"""What the duplicate-quote check needs of a valid quote: a digest of its text as :func:`repeat_key` normalises it,
its speaker, and the sources it cites (sorted, once each)."""


class Summary(typing.NamedTuple):
    """What the cross-record checks need of one checked file, so that they never rebuild its record."""

    declared_id: str | None
    valid: bool  # the file holds a valid record
    problems: tuple[Problem, ...]  # the file's own problems
    references: tuple[tuple[tuple, str, str], ...]  # loc, collection, target, as :func:`.fields.references` gives them
    citations: tuple[tuple[tuple, str, str, str | None, str | None], ...]  # loc, source, quote, prefix, suffix
    text: str | None  # a quote's text
    file: str | None  # a source's seed file
    sha256: str | None  # a valid source's seed hash
    links: tuple[tuple[str, str], ...]  # a valid record's top-level references to its own collection
    names: tuple[tuple[str, str], ...]  # field, text: what names the record besides its id (see NAME_FIELDS)
    repeat: Repeat | None  # a valid quote's words, speaker and sources
    wording: tuple[str | None, tuple[int, ...]]  # a valid force level's wording, and the citations that support it
    speaker: tuple[str | None, tuple[int, ...]]  # a valid quote's speaker_as_described, and the citations supporting it
    dates: tuple[DatedClaim, ...]  # a valid record's dates, with the citations that support each
    published: tuple[int, ...]  # the years a valid source may be published in (none: unknown)


def summarise(file: RecordFile, result: FileResult) -> Summary:
    """The :class:`Summary` of a file's check result."""
    subject, record, model = result.subject, result.record, COLLECTIONS[file.collection]
    found = tuple(references(subject, model)) if subject is not None else ()
    cited = tuple(
        (loc, c.source, c.quote, c.prefix, c.suffix) for loc, c in citations(subject, model)
    ) if subject is not None else ()
    text = get_field(subject, "text") if file.collection == models.Quote.collection else None
    seed = get_field(subject, "file") if file.collection == models.Source.collection else None
    links = tuple(
        (shape.name, getattr(record, shape.name)) for shape in field_shapes(model)
        if shape.references == file.collection and not shape.is_list and getattr(record, shape.name) is not None
    ) if record is not None else ()
    repeat = (repeat_key(record.text), record.speaker_id, tuple(sorted({c.source for c in record.citations}))
              ) if isinstance(record, models.Quote) else None
    return Summary(
        result.declared_id, record is not None, tuple(result.problems), found, cited,
        text if isinstance(text, str) else None, seed if isinstance(seed, str) else None,
        getattr(record, "sha256", None), links, _names(subject, model) if subject is not None else (), repeat,
        wording_citations(record), speaker_citations(record), dated_citations(record),
        publication_years(record.published) if isinstance(record, models.Source) else (),
    )


def repeat_key(text: str) -> bytes:
    """A digest of a quote's words, the same for the same words whatever their case, whitespace, Unicode form,
    typographic quotes and the punctuation at their ends."""
    return hashlib.blake2b(normalise(text).casefold().strip(PUNCTUATION_AT_ENDS).encode("utf-8", "surrogatepass"),
                           digest_size=16).digest()


def _names(subject: typing.Any, model: type[models.Record]) -> tuple[tuple[str, str], ...]:
    """The texts of a record's :data:`NAME_FIELDS` (as far as they are texts): :data:`NAMES` at most, each cut to
    :data:`NAME_CHARS`."""
    found = []
    for name in _name_fields(model):
        value = get_field(subject, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item:
                found.append((name, item[:NAME_CHARS]))
    return tuple(found[:NAMES])


@functools.cache
def _name_fields(model: type[models.Record]) -> tuple[str, ...]:
    """The :data:`NAME_FIELDS` that ``model`` has."""
    return tuple(name for name in NAME_FIELDS if name in model.model_fields)


def plain_problems(problems: typing.Iterable[Problem]) -> tuple:
    return tuple((p.path, p.line, p.col, p.message, p.record, p.field, p.code) for p in problems)


def problems_of(rows: typing.Iterable[tuple]) -> tuple[Problem, ...]:
    return tuple(Problem(*row) for row in rows)


def plain_issues(issues: typing.Iterable[Issue]) -> tuple:
    return tuple((i.loc, i.message, i.at, i.hint, i.code) for i in issues)


def issues_of(rows: typing.Iterable[tuple]) -> list[Issue]:
    return [Issue(*row) for row in rows]


def plain(summary: Summary) -> tuple:
    """A summary as plain data."""
    return (*summary[:2], plain_problems(summary.problems), *summary[3:])


def summary_of(data: tuple) -> Summary:
    """The summary of :func:`plain` data; TypeError or ValueError if it is not such data."""
    if not isinstance(data, tuple) or len(data) != len(Summary._fields):
        raise ValueError("not a summary")
    return Summary(*data[:2], problems_of(data[2]), *data[3:])
