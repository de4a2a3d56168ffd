"""Provenance of every value: which citation supports it, or on what editorial basis it was added.

A record's claims are its populated factual values (:func:`claims`): each field that is not the editors' by
nature (the model's ``EDITORIAL``), each field of a nested value (``place.country``), each item of a list by its
key (``participants.united-states``). A citation names the claims of its record, or of the part it belongs to
(a posture, a framing, a position), that its words support; :func:`support_issues` reports every claim no
citation supports and no ``editorial`` entry accounts for, and every name that is no claim. A pure function of one
record: :mod:`.records` calls it.

Where the words allow, the values are checked against them: a force level's numbers against its wording here; in
:mod:`.crosscheck`, with the spans found, a force level's wording, a quote's ``speaker_as_described`` and each
date's years against the spans of the citations that support them (the ``*_citations`` functions say what these
checks need of a record, which the cache keeps; the ``*_issues`` functions judge).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel

from .fields import REQUIRED, field_defaults, field_specs, is_model
from .models import Citation, EditorialValue, ForceLevel, FuzzyDate, Quote
from .problems import Issue
from .spans import normalise

Loc = tuple


def _populated(value: Any, default: Any) -> bool:
    """Whether a value says something: not null, not empty, not false, not the field's default."""
    if value is None or value is False or value == []:
        return False
    return default is REQUIRED or value != default


@functools.cache
def _has_citations(model: type[BaseModel]) -> bool:
    return "citations" in model.model_fields


@functools.cache
def _first_field(model: type[BaseModel]) -> str:
    return next(iter(model.model_fields))


def _key(item: Any) -> str:
    """How ``supports`` names a list item: a text by itself, a part by its first field (an actor's id)."""
    return str(getattr(item, _first_field(type(item)))) if isinstance(item, BaseModel) else str(item)


def claims(part: BaseModel) -> dict[str, Loc]:
    """Every populated factual value of a record or part, by its support name, with its loc in the part. Parts that
    carry their own citations, and the fields the model's ``EDITORIAL`` names, are not claims of it."""
    model = type(part)
    exempt = getattr(model, "EDITORIAL", {})
    found: dict[str, Loc] = {}
    for spec, (name, default, _) in zip(field_specs(model), field_defaults(model)):
        value = getattr(part, name)
        if name in ("citations", "editorial") or name in exempt or not _populated(value, default):
            continue
        if spec.is_list:
            if is_model(spec.base) and _has_citations(spec.base):
                continue
            for index, item in enumerate(value):
                found.setdefault(f"{name}.{_key(item)}", (name, index))
        elif is_model(spec.base) and spec.base is not FuzzyDate:
            for sub, sub_default, _ in field_defaults(spec.base):
                support = f"{name}.{sub}"
                if support not in exempt and _populated(getattr(value, sub), sub_default):
                    found[support] = (name, sub)
        else:
            found[name] = (name,)
    return found


@functools.lru_cache(maxsize=4096)
def _coverers(claim: str) -> frozenset[str]:
    """Every name whose support supports ``claim``: the claim itself, and each part of it before a dot (naming
    ``place`` supports all of a nested value, ``place.country``); remembered, as records repeat the same claims."""
    return frozenset((claim, *(claim[:at] for at, character in enumerate(claim) if character == ".")))


def _covers(support: str, claim: str) -> bool:
    return support in _coverers(claim)


@functools.cache
def _cited_lists(model: type[BaseModel]) -> tuple[str, ...]:
    """The list fields of ``model`` whose items carry citations of their own."""
    return tuple(spec.name for spec in field_specs(model)
                 if spec.name != "citations" and spec.is_list and is_model(spec.base) and _has_citations(spec.base))


def cited_parts(record: BaseModel) -> Iterator[tuple[Loc, BaseModel]]:
    """The record and each of its parts that carry citations (postures, framings, positions), with their loc."""
    yield (), record
    for name in _cited_lists(type(record)):
        for index, item in enumerate(getattr(record, name)):
            yield (name, index), item


def _dotted(loc: Loc) -> str:
    return ".".join(map(str, loc))


def support_issues(record: BaseModel) -> list[Issue]:
    """Every claim of ``record`` and its parts that no citation supports nor ``editorial`` accounts for, and every
    name in a ``supports`` or ``editorial`` list that is no claim."""
    if not _has_citations(type(record)):
        return []  # a source: its basis is its identification
    editorial: list[EditorialValue] = getattr(record, "editorial", [])
    added = {name for entry in editorial for name in entry.fields}
    accounted: set[str] = set()
    issues = []
    for part_loc, part in cited_parts(record):
        found = claims(part)
        prefix = _dotted(part_loc) + "." if part_loc else ""
        exempt = getattr(type(part), "EDITORIAL", {})
        citations: list[Citation] = part.citations
        coverers = {name: _coverers(name) for name in found}
        covering = set().union(*coverers.values())
        for index, citation in enumerate(citations):
            for position, support in enumerate(citation.supports):
                if support not in covering:
                    issues.append(Issue(part_loc + ("citations", index, "supports", position),
                                        _not_a_claim(support, found, exempt), code="support-unknown"))
        supported = {support for citation in citations for support in citation.supports}
        for claim, loc in found.items():
            marked = added & _coverers(prefix + claim) if added else set()
            if marked:
                accounted |= marked
                continue
            if supported.isdisjoint(coverers[claim]):
                issues.append(Issue(part_loc + loc, f"{claim} is supported by no citation: add {claim!r} to the "
                                    "supports of the citation whose words give it (or cite such words), mark it "
                                    "editorial with its basis, or remove the value", code="unsupported-value"))
    for index, entry in enumerate(editorial):
        for position, name in enumerate(entry.fields):
            if name not in accounted:
                issues.append(Issue(("editorial", index, "fields", position),
                                    f"{name!r} names no populated factual value of the record (a part's as "
                                    "'postures.0.reported'): correct or remove it", code="support-unknown"))
    if isinstance(record, ForceLevel):
        issues += number_issues(record)
    return issues


NUMBER = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])|\d+")
"""A number as the sources write it: digits, thousands grouped by commas or not ("2,500", "900")."""


MAX_DIGITS = 18
"""Digits of the longest number read from a wording: a longer run of digits states no figure (Python refuses to read
one of over 4,300 digits, and reading one costs time that grows faster than its length)."""


def stated_numbers(wording: str) -> set[int]:
    """The numbers a wording states in digits (of at most :data:`MAX_DIGITS`)."""
    return {int(digits) for match in NUMBER.findall(wording) if len(digits := match.replace(",", "")) <= MAX_DIGITS}


def holds(words: str, text: str) -> bool:
    """Whether ``text`` holds ``words`` as whole words (not "US official" in "US officials"), compared as citation
    spans are (:func:`.spans.normalise`), ignoring case; blank words are held by nothing."""
    wanted = normalise(words).casefold().strip()
    return bool(wanted) and re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", normalise(text).casefold()) is not None


def _supporting(citations: list[Citation], claim: str) -> tuple[int, ...]:
    return tuple(index for index, citation in enumerate(citations)
                 if any(_covers(support, claim) for support in citation.supports))


def wording_citations(record: BaseModel) -> tuple[str | None, tuple[int, ...]]:
    """A force level's wording and the positions of the citations that support it (what :func:`wording_issues`
    needs of the record, kept in the cache's summary); ``(None, ())`` for any other record."""
    if not isinstance(record, ForceLevel):
        return None, ()
    return record.wording, _supporting(record.citations, "wording")


def wording_issues(wording: str, supporting: list[tuple[int, str]]) -> list[Issue]:
    """The citations (position, the span found in the source) that support a force level's wording but do not
    hold it."""
    return [Issue(("citations", index, "supports"), f"this citation supports wording, but its span does not hold "
                  f"{wording!r}: cite the span that holds the wording, or take wording from supports",
                  code="wording-not-in-span")
            for index, span in supporting if not holds(wording, span)]


def speaker_citations(record: BaseModel) -> tuple[str | None, tuple[int, ...]]:
    """A quote's ``speaker_as_described`` and the positions of the citations that support it (what
    :func:`speaker_issues` needs of the record); ``(None, ())`` for any other record."""
    if not isinstance(record, Quote):
        return None, ()
    return record.speaker_as_described, _supporting(record.citations, "speaker_as_described")


Words = tuple[str, Callable[[], str]]
"""The words of a citation a value is looked for in: its span, and the sentence around the span (which holds the
span), made when first needed."""


def speaker_issues(described: str, supporting: list[tuple[int, Words]]) -> list[Issue]:
    """The citations (position, words) that support a quote's ``speaker_as_described`` but hold it neither in their
    span nor in the sentence around it."""
    return [Issue(("citations", index, "supports"), f"this citation supports speaker_as_described, but neither its "
                  f"span nor the sentence around it holds {described!r}: copy the source's own words for the speaker, "
                  "cite the sentence that describes the speaker, or take speaker_as_described from supports",
                  code="speaker-not-in-span")
            for index, (span, sentence) in supporting if not holds(described, span) and not holds(described, sentence())]


DatedClaim = tuple[str, str, tuple[int, ...], tuple[tuple[tuple, int], ...]]
"""A populated date of a record or part, as :func:`dated_citations` gives it: its support name
(``postures.0.reported``), its value, its years, and each citation that supports it (its loc in the record and
the position of its support)."""


def date_years(date: FuzzyDate) -> tuple[int, ...]:
    """The years a date names: those of its value and of each bound that is set."""
    return tuple(sorted({int(day[:4]) for day in (date.value, date.earliest, date.latest) if day}))


YEAR = re.compile(r"(?<![\w$£€.,])\d{4}(?!\w|[.,]\d)")
"""A year as words give it: four digits standing alone (not in "20245", "$2,024", "2024.5" or "w2024")."""


def stated_years(words: str) -> set[int]:
    """The years ``words`` give in digits."""
    return {int(year) for year in YEAR.findall(words)}


def publication_years(date: FuzzyDate | None) -> tuple[int, ...]:
    """The years a source's publication date may fall in (none when it is unknown), from the first to the last that
    it names."""
    if date is None:
        return ()
    years = date_years(date)
    return tuple(range(years[0], years[-1] + 1))


@functools.cache
def _date_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model or part that hold one date and are claims (not the editors')."""
    exempt = getattr(model, "EDITORIAL", {})
    return tuple(spec.name for spec in field_specs(model)
                 if spec.name not in exempt and not spec.is_list and spec.base is FuzzyDate)


def dated_citations(record: BaseModel | None) -> tuple[DatedClaim, ...]:
    """Every populated date of the record and of its cited parts, with the citations that support it (what
    :func:`date_issues` needs of the record, kept in the cache's summary); none without a valid record."""
    if record is None or not _has_citations(type(record)):
        return ()  # a source's publication date is what dates the citations of it
    found = []
    for part_loc, part in cited_parts(record):
        prefix = _dotted(part_loc) + "." if part_loc else ""
        for claim in _date_fields(type(part)):
            date = getattr(part, claim)
            if date is None:
                continue
            supporting = tuple((part_loc + ("citations", index), position)
                               for index, citation in enumerate(part.citations)
                               if (position := next((position for position, support in enumerate(citation.supports)
                                                     if _covers(support, claim)), None)) is not None)
            found.append((prefix + claim, date.value, date_years(date), supporting))
    return tuple(found)


def date_issues(dated: DatedClaim, supporting: list[tuple[tuple, Words, str, tuple[int, ...]]]) -> list[Issue]:
    """The citations (the loc of their support of the date, their words, their source and the years it may be
    published in) that support a date but give one of its years neither in digits nor by their source's
    publication date (the year of a date like 'on Friday')."""
    claim, value, years, _ = dated
    issues = []
    for loc, (span, sentence), source, published in supporting:
        missing = [year for year in years if year not in published]
        for words in (lambda: span, sentence):
            if missing:
                stated = stated_years(normalise(words()))
                missing = [year for year in missing if year not in stated]
        if missing:
            named = " or ".join(map(str, missing))
            when = "–".join(map(str, sorted({published[0], published[-1]}))) if published else "unknown"
            issues.append(Issue(loc, f"this citation supports {claim} ({value}), but neither its span nor the sentence "
                                f"around it gives the year {named} in digits, and its source {source!r} was not "
                                f"published in {named} (its publication: {when}): cite words that give the year, or "
                                "words of a source published that year that date it from the publication ('on "
                                f"Friday'), or correct the date", code="date-year-unsupported"))
    return issues


def number_issues(level: ForceLevel) -> list[Issue]:
    """A force level's best, low and high that its wording does not state (a change's sign is the measure's); none
    without a wording (a force level checked in part, its wording invalid: :func:`.records.partial_support_issues`)."""
    if level.wording is None:
        return []
    issues = []
    stated = stated_numbers(level.wording)
    for name in ("best", "low", "high"):
        value = getattr(level, name)
        if value is not None and abs(value) not in stated:
            numbers = ", ".join(f"{number:,}" for number in sorted(stated)) or "none"
            issues.append(Issue((name,), f"{name} {value:,} is not a number the wording states (it states: "
                                f"{numbers}): give the number of the words, or word the figure as the source does",
                                code="number-not-in-wording"))
    return issues


def _not_a_claim(support: str, found: dict[str, Loc], exempt: dict[str, str]) -> str:
    head = support.split(".", 1)[0]
    if support in exempt or head in exempt:
        why = exempt.get(support) or exempt[head]
        return f"{support!r} is {why}: it needs no citation; remove it from supports"
    known = ", ".join(found) or "none"
    return f"{support!r} names no populated factual value here (the values are: {known}): correct or remove it"
