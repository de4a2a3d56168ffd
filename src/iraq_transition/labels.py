"""Every record's label: the field that names a collection's records (:data:`.site_config.LABEL_FIELDS`), or where
it may be empty, a label made of the record's own fields (:data:`.site_config.LABEL_FALLBACK`), never empty and
never more than the record says.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from . import site_config
from .fields import field_specs, label_field
from .models import FuzzyDate, Record

LABEL_COLUMN = "label"
"""The column a collection's table gets when its label field may be empty."""


@cache
def needs_label_column(model: type[BaseModel]) -> bool:
    """Whether records of ``model`` may lack their label field: then their table gets :data:`LABEL_COLUMN`."""
    field = label_field(model)
    return field is not None and next(spec for spec in field_specs(model) if spec.name == field).optional


@cache
def fallback_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` a label is made of when its label field is empty."""
    names = {spec.name for spec in field_specs(model)}
    return tuple(name for name in site_config.LABEL_FALLBACK if name in names)


def label_description(model: type[BaseModel]) -> str:
    """What :data:`LABEL_COLUMN` holds for records of ``model``."""
    fallback = ", ".join(fallback_fields(model)) or "id"
    return (
        f"A label for the record, never empty: its {label_field(model)}, or where that is not known, its {fallback} "
        "(a date as its possible days), else its id. Made from the record's fields for display and joins; not a "
        "field of the record."
    )


def record_label(record: Record) -> str:
    """The label of ``record``: its label field, else what its fallback fields hold, else its id."""
    field = label_field(type(record))
    named = getattr(record, field) if field else None
    if named and named.strip():
        return named
    parts = []
    for name in fallback_fields(type(record)):
        value = getattr(record, name)
        if isinstance(value, FuzzyDate):
            phrase = f"{name} {date_phrase(value)}"
            parts.append(phrase[:1].upper() + phrase[1:] if not parts else phrase)  # our words, not the record's
        elif isinstance(value, str) and value.strip():
            parts.append(value)
    return ", ".join(parts) or record.id


def date_phrase(date: FuzzyDate) -> str:
    """``date`` in a few words: the value with its qualifier, or where earliest or latest narrow it, its range of
    possible days ('2024-09-27 to 2024-12-31')."""
    value = date.value
    if date.earliest is None and date.latest is None:
        return {"exact": value, "no_later_than": f"by {value}", "no_earlier_than": f"{value} or later"}.get(
            date.qualifier, f"about {value}"
        )
    first, last = date.bounds()
    if first and last:
        return first if first == last else f"{first} to {last}"
    return f"{first} or later" if first else f"by {last}" if last else f"about {value}"
