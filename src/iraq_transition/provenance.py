"""Provenance of every value: which citation supports it, or on what editorial basis it was added.

A record's claims are its populated factual values (:func:`claims`): each field that is not the editors' by
nature (the model's ``EDITORIAL``), each field of a nested value (``place.country``), each item of a list by its
key (``participants.united-states``). A citation names the claims of its record, or of the part it belongs to
(a posture, a framing, a position), that its words support; :func:`support_issues` reports every claim no
citation supports and no ``editorial`` entry accounts for, and every name that is no claim. A pure function of one
record: :mod:`.records` calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from .fields import REQUIRED, field_defaults, field_specs, is_model
from .models import Citation, EditorialValue, ForceLevel, FuzzyDate
from .problems import Issue
from .spans import normalise

Loc = tuple


def _populated(value: Any, default: Any) -> bool:
    """Whether a value says something: not null, not empty, not false, not the field's default."""
    if value is None or value is False or value == []:
        return False
    return default is REQUIRED or value != default


def _has_citations(model: type[BaseModel]) -> bool:
    return "citations" in model.model_fields


def _key(item: Any) -> str:
    """How ``supports`` names a list item: a text by itself, a part by its first field (an actor's id)."""
    return str(getattr(item, next(iter(type(item).model_fields)))) if isinstance(item, BaseModel) else str(item)


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


def _covers(support: str, claim: str) -> bool:
    """Whether naming ``support`` supports ``claim``: the claim itself, or all of a nested value (``place``)."""
    return claim == support or claim.startswith(support + ".")


def _coverers(claim: str) -> set[str]:
    """Every name that covers ``claim`` (see :func:`_covers`): the claim, and each part of it before a dot."""
    return {claim, *(claim[:at] for at, character in enumerate(claim) if character == ".")}


def cited_parts(record: BaseModel) -> Iterator[tuple[Loc, BaseModel]]:
    """The record and each of its parts that carry citations (postures, framings, positions), with their loc."""
    yield (), record
    for spec in field_specs(type(record)):
        if spec.name != "citations" and spec.is_list and is_model(spec.base) and _has_citations(spec.base):
            for index, item in enumerate(getattr(record, spec.name)):
                yield (spec.name, index), item


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


def stated_numbers(wording: str) -> set[int]:
    """The numbers a wording states in digits."""
    return {int(match.replace(",", "")) for match in NUMBER.findall(wording)}


def wording_citations(record: BaseModel) -> tuple[str | None, tuple[int, ...]]:
    """A force level's wording and the positions of the citations that support it (what :func:`wording_issues`
    needs of the record, kept in the cache's summary); ``(None, ())`` for any other record."""
    if not isinstance(record, ForceLevel):
        return None, ()
    return record.wording, tuple(index for index, citation in enumerate(record.citations)
                                 if any(_covers(support, "wording") for support in citation.supports))


def wording_issues(wording: str, supporting: list[tuple[int, str]]) -> list[Issue]:
    """The citations (position, the span found in the source) that support a force level's wording but do not
    hold it."""
    wanted = normalise(wording).casefold()
    return [Issue(("citations", index, "supports"), f"this citation supports wording, but its span does not hold "
                  f"{wording!r}: cite the span that holds the wording, or take wording from supports",
                  code="wording-not-in-span")
            for index, span in supporting if wanted not in normalise(span).casefold()]


def number_issues(level: ForceLevel) -> list[Issue]:
    """A force level's best, low and high that its wording does not state (a change's sign is the measure's)."""
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
