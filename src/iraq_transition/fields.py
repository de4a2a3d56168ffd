"""Model introspection: what each field of a model holds, read from its annotations, in one place.

Everything that walks the models generically (the checks, the formatter, the table layout, the record
templates of ``new``) reads them through these functions, never through ``typing`` itself.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, Strict, StringConstraints, ValidationError

from . import site_config
from .models import Citation, References
from .vocabularies import VOCABULARIES


@dataclass(frozen=True)
class FieldType:
    """A field annotation unwrapped: the bare type, and what was wrapped around it."""

    base: Any  # str, int, a Literal[...], a model class, ...
    optional: bool  # None is allowed
    is_list: bool  # a list of base
    metadata: tuple  # the Annotated metadata met on the way (References, StringConstraints, ...)


def field_type(annotation: Any, metadata: tuple = ()) -> FieldType:
    """Unwrap ``Annotated``, ``X | None`` and ``list[X]`` in any order; the one reader of annotations."""
    found, optional, is_list = list(metadata), False, False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            found.extend(annotation.__metadata__)
            annotation = annotation.__origin__
        elif origin in (Union, types.UnionType):
            members = [member for member in get_args(annotation) if member is not type(None)]
            if len(members) != 1:
                raise TypeError(f"union {annotation} is not X | None")
            optional, annotation = True, members[0]
        elif origin is list:
            is_list, annotation = True, get_args(annotation)[0]
        else:
            return FieldType(annotation, optional, is_list, tuple(found))


def is_model(annotation: Any) -> bool:
    """Whether ``annotation`` is a model class (a nested record part)."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def label_field(model: type[BaseModel]) -> str:
    """The field that names a model's records (events.title, actors.name, sources.headline): the first of
    :data:`.site_config.LABEL_FIELDS` it has, else ``id``; the site, its views and ``diff`` label records by it."""
    return next((name for name in site_config.LABEL_FIELDS if name in model.model_fields), "id")


@dataclass(frozen=True)
class FieldShape:
    """What a model field holds, as far as the checks care."""

    name: str
    references: str | None  # collection whose ids the field (or its items) hold
    model: type[BaseModel] | None  # nested model of the field (or its items)
    is_list: bool


@functools.cache
def field_shapes(model: type[BaseModel]) -> tuple[FieldShape, ...]:
    """The fields of ``model`` that hold references or nested models (found from the annotations)."""
    shapes = []
    for name, info in model.model_fields.items():
        shape = field_type(info.annotation, tuple(info.metadata))
        target = next((m.collection for m in shape.metadata if isinstance(m, References)), None)
        nested = shape.base if is_model(shape.base) else None
        if target or nested:
            shapes.append(FieldShape(name, target, nested, shape.is_list))
    return tuple(shapes)


@dataclass(frozen=True)
class FieldSpec:
    """A model field as the table layout reads it: what it holds, its description, and the constraints on a value
    that is neither a list nor a model (a Literal is a ``str`` whose values are ``enum``)."""

    name: str
    description: str
    base: Any  # str, int, float, bool, a model class, ...
    optional: bool  # None is allowed
    is_list: bool  # a list of base
    enum: tuple | None = None
    references: str | None = None  # collection whose ids the field holds
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None


@functools.cache
def field_specs(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """Every field of ``model``, in order, read from its annotations."""
    specs = []
    for name, info in model.model_fields.items():
        shape = field_type(info.annotation, tuple(info.metadata))
        base, enum = shape.base, None
        if get_origin(base) is Literal:
            base, enum = str, get_args(base)
        constraints = {} if shape.is_list or is_model(base) else _constraints(f"{model.__name__}.{name}", shape.metadata)
        specs.append(FieldSpec(name, info.description or "", base, shape.optional, shape.is_list, enum, **constraints))
    return tuple(specs)


def _constraints(where: str, metadata: tuple) -> dict[str, Any]:
    """The constraints the ``Annotated`` metadata of one value declares, as :class:`FieldSpec` names them."""
    constraints: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, References):
            constraints["references"] = item.collection
        elif isinstance(item, StringConstraints):
            declared = {"pattern": item.pattern, "min_length": item.min_length, "max_length": item.max_length}
            constraints.update((key, value) for key, value in declared.items() if value is not None)
        elif isinstance(item, Strict):
            continue  # what the value's type already says: no boolean for a number
        elif isinstance(item, annotated_types.Ge):
            constraints["minimum"] = item.ge
        elif isinstance(item, annotated_types.Le):
            constraints["maximum"] = item.le
        elif isinstance(item, annotated_types.MinLen):
            constraints["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            constraints["max_length"] = item.max_length
        else:
            raise TypeError(f"{where}: constraint {item!r} has no column equivalent")
    return constraints


def vocabulary_meanings(enum: tuple[str, ...]) -> dict[str, str] | None:
    """The meaning of each value of the controlled vocabulary whose values are ``enum`` (see
    :data:`.vocabularies.VOCABULARIES`), or None if it has none."""
    return next((meanings for vocabulary, meanings in VOCABULARIES.items() if get_args(vocabulary) == enum), None)


def model_description(model: type[BaseModel]) -> str:
    """The model's docstring as one line of plain text (what describes its table)."""
    return " ".join((model.__doc__ or "").replace("``", "").split())


def quoted_collection() -> str:
    """The collection whose archived texts citations quote: the one ``Citation.source`` references."""
    return next(shape.references for shape in field_shapes(Citation) if shape.name == "source")


def get_field(node: Any, name: str) -> Any:
    return node.get(name) if isinstance(node, dict) else getattr(node, name, None)


def _items(shape: FieldShape, value: Any, loc: tuple) -> tuple | list:
    """(loc, value) of a field, or of each of its items where it holds a list (none where a list holds no list)."""
    if not shape.is_list:
        return ((loc + (shape.name,), value),)
    if isinstance(value, list):
        return [(loc + (shape.name, index), item) for index, item in enumerate(value)]
    return ()


@functools.cache
def _reference_shapes(model: type[BaseModel]) -> tuple[FieldShape, ...]:
    """The :func:`field_shapes` of ``model`` that hold references, or nested models that do at some depth."""
    return tuple(shape for shape in field_shapes(model)
                 if shape.references or (shape.model is not None and _reference_shapes(shape.model)))


@functools.cache
def _citation_shapes(model: type[BaseModel]) -> tuple[FieldShape, ...]:
    """The :func:`field_shapes` of ``model`` that hold citations, or nested models that do at some depth."""
    return tuple(shape for shape in field_shapes(model)
                 if shape.model is Citation or (shape.model is not None and _citation_shapes(shape.model)))


def references(record: BaseModel | dict, model: type[BaseModel] | None = None, loc: tuple = ()) -> Iterator[tuple[tuple, str, str]]:
    """Every reference in a record, at any depth: (loc, collection, id).

    ``record`` is a model instance, or the raw data of a record that failed validation
    (then ``model`` says which model it was meant for, and values of the wrong type are skipped).
    """
    for shape in _reference_shapes(model or type(record)):
        value = get_field(record, shape.name)
        if value is None:
            continue
        for item_loc, item in _items(shape, value, loc):
            if shape.references and isinstance(item, str):
                yield item_loc, shape.references, item
            elif shape.model and isinstance(item, (BaseModel, dict)):
                yield from references(item, shape.model, item_loc)


def citations(record: BaseModel | dict, model: type[BaseModel] | None = None, loc: tuple = ()) -> Iterator[tuple[tuple, Citation]]:
    """Every well-formed citation in a record (instance or raw data, as for :func:`references`): (loc, citation)."""
    for shape in _citation_shapes(model or type(record)):
        value = get_field(record, shape.name)
        if value is None:
            continue
        for item_loc, item in _items(shape, value, loc):
            if shape.model is Citation and isinstance(item, dict):
                try:
                    item = Citation.model_validate(item)
                except ValidationError:
                    continue  # reported by the record's own validation
            if isinstance(item, Citation):
                yield item_loc, item
            elif isinstance(item, (BaseModel, dict)):
                yield from citations(item, shape.model, item_loc)


def type_at(model: type[BaseModel], loc: tuple) -> Any:
    """The annotation of the node at ``loc`` inside a ``model`` record (None if loc leaves the model)."""
    annotation: Any = model
    for part in loc:
        shape = field_type(annotation)
        inner, is_list = shape.base, shape.is_list
        if isinstance(part, int) and is_list:
            annotation = inner
        elif isinstance(part, str) and not is_list and is_model(inner) and part in inner.model_fields:
            annotation = inner.model_fields[part].annotation
        else:
            return None
    return annotation


def inner_type(annotation: Any) -> Any:
    """The innermost type of ``annotation`` (see :func:`field_type`)."""
    return field_type(annotation).base


REQUIRED = object()
"""The default of a field that has none."""


@functools.cache
def field_defaults(model: type[BaseModel]) -> tuple[tuple[str, Any, type[BaseModel] | None], ...]:
    """(name, default or :data:`REQUIRED`, nested model) of every field of ``model``, in order."""
    nested = {shape.name: shape.model for shape in field_shapes(model)}
    return tuple(
        (name, REQUIRED if info.is_required() else info.get_default(call_default_factory=True), nested.get(name))
        for name, info in model.model_fields.items()
    )


