"""The check of one record file on its own: parse, validate against its model, check its provenance, compare id and
file name.

:func:`check_file` is a pure function of a file's name and bytes. Pydantic's errors are worded here in
the contributor's terms (what is wrong and what to do), and located at the line and column of the YAML
node they concern. A record that does not validate has its provenance checked on the fields that do
(:func:`partial_support_issues`): every problem of a file is reported in one run.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import models
from .fields import field_specs, inner_type, is_model, type_at
from .load import LoadError, Positions, RecordFile, decode, parse_yaml
from .models import COLLECTIONS, Record
from .problems import CODES, Issue, Problem
from .provenance import support_issues
from .seeds import OUTSIDE_SEEDS, is_seed_name
from .vocabularies import RENAMED


@dataclass
class FileResult:
    """The outcome of checking one record file on its own."""

    record: Record | None  # the validated record, or None
    declared_id: str | None  # the id the file declares, even if the record is invalid
    problems: list[Problem] = field(default_factory=list)
    content: dict | None = None  # the parsed data (from which the record is validated again when it is loaded)

    @property
    def subject(self) -> BaseModel | dict | None:
        """What the cross-record checks look at: the record, or else the parsed data."""
        return self.record if self.record is not None else self.content


def check_file(file: RecordFile, data: bytes) -> FileResult:
    """Parse and validate one record file; a pure function of (file name, bytes)."""
    try:
        text = decode(data)
        content = parse_yaml(text)
    except LoadError as error:
        return FileResult(None, None, [error.problem(file.display, file.label)])
    if not isinstance(content, dict):
        kind = "an empty document" if content is None else "a list" if isinstance(content, list) else (
            f"a single value ({_shorten(content)})")
        message = f"the file holds {kind}, not a record: write the record's fields as 'name: value' lines"
        return FileResult(None, None, [Problem(file.display, 1, 1, message, file.label, code="not-a-record")])
    declared_id = content.get("id") if isinstance(content.get("id"), str) else None
    model = COLLECTIONS[file.collection]
    issues: list[Issue] = []
    record = None
    try:
        record = model.model_validate(content)
    except ValidationError as error:
        errors = error.errors(include_url=False)
        issues = _misplaced(file, content) or (
            [_issue(model, e) for e in _without_misspelt(model, errors)] + partial_support_issues(model, content, errors))
    else:
        issues = support_issues(record)
    if declared_id is not None and declared_id != file.stem:
        issues.append(
            Issue(("id",), f"id {declared_id!r} does not match the file name {file.stem}.yaml: "
                  f"rename the file to {declared_id}.yaml or set id: {file.stem}", code="id-mismatch")
        )
    if not issues:
        return FileResult(record, declared_id, content=content)
    return FileResult(None, declared_id, locate(file, text, issues), content)


def locate(file: RecordFile, text: str, issues: list[Issue]) -> list[Problem]:
    """Problems for ``issues``, each at the line and column of its node in ``text``."""
    positions: Positions = {}
    parse_yaml(text, positions)
    problems = []
    for issue in issues:
        loc = issue.loc
        if issue.at == "parent":
            loc = loc[:-1]
        while loc not in positions and loc:
            loc = loc[:-1]
        key_line, key_col, line, col = positions.get(loc, (1, 1, 1, 1))
        if issue.at == "key":
            line, col = key_line, key_col
        field_name = ".".join(map(str, issue.loc)) or None
        problems.append(Problem(file.display, line, col, issue.message, file.label, field_name, issue.code))
    return problems


JUDGED_BY = ("citations", "editorial")
"""The fields the provenance checks judge every other value by: with one of them invalid, each value would look
unsupported or its ``editorial`` entry unknown."""


def partial_support_issues(model: type[Record], content: dict, errors: list[dict]) -> list[Issue]:
    """The provenance issues (:func:`.provenance.support_issues`) of a record that does not validate, judged on the
    fields that do.

    The record is built from its top-level fields validated one by one, each field that failed (``errors`` name
    it first in their loc) left empty: an empty list, or None. No value is invented, and an empty one is no claim.
    The issues that concern a failed field are dropped: those located under it, and the ``supports`` and
    ``editorial`` names of it or of a path under it (``place.nam`` when ``place`` failed), which are judged once
    it validates. With :data:`JUDGED_BY` failed, there is nothing to judge by: no issues.

    The model's own validators, which relate several fields (a force level's low, best and high in order, a base's
    coordinates with their basis), are not run on the partial record. None of the provenance checks relies on
    such a relation: each judges a value by itself, against the citations, the editorial entries and, for a force
    level's figures, its wording. So a record those validators refuse (their error is the record's, with all its
    fields valid) gets the issues it would get with the relation kept, and only those."""
    specs = field_specs(model)
    names = {spec.name for spec in specs}  # an unknown key failed too, but names no value: a support naming it is wrong
    failed = {str(error["loc"][0]) for error in errors if error["loc"]} & names
    values = {}
    for spec in specs:
        if spec.name in content and spec.name not in failed:
            try:
                values[spec.name] = _field_adapter(model, spec.name).validate_python(content[spec.name])
                continue
            except ValidationError:  # valid in the record, not alone (a rule of the model's shaped it): as failed
                failed.add(spec.name)
        if spec.name in failed:
            values[spec.name] = [] if spec.is_list else None
    if not failed.isdisjoint(JUDGED_BY):
        return []
    record = model.model_construct(**values)
    try:
        issues = support_issues(record)
    except (AttributeError, TypeError):
        # A check met an empty value where a valid record has one: the record's structural problems are reported,
        # and its provenance is checked in full once it validates; only the report at once is lost.
        return []
    return [issue for issue in issues if not _concerns(record, issue, failed)]


@functools.cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    """The validator of one field of ``model``, as the model validates it (its type, constraints and nested models)."""
    info = model.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, info])


def _concerns(record: BaseModel, issue: Issue, failed: set[str]) -> bool:
    """Whether ``issue`` concerns a field in ``failed``: it is located under one, or it is about a name in
    ``supports`` or ``editorial`` (``citations.0.supports.2``) that names one or a path under one."""
    loc = issue.loc
    if loc and loc[0] in failed:
        return True
    if issue.code != "support-unknown" or len(loc) != 4:
        return False  # a part's own supports name its fields, valid with the part
    name = getattr(getattr(record, loc[0])[loc[1]], loc[2])[loc[3]]
    return name.split(".", 1)[0] in failed


def _misplaced(file: RecordFile, content: dict) -> list[Issue]:
    """An issue if the record is a valid record of another collection (in the wrong directory)."""
    for collection, model in COLLECTIONS.items():
        if collection == file.collection:
            continue
        try:
            model.model_validate(content)
        except ValidationError:
            continue
        return [Issue((), f"this is a valid {collection} record in data/{file.collection}/: "
                      f"move it to data/{collection}/{file.stem}.yaml", code="wrong-collection")]
    return []


def _yaml_kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "text", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__)


def _shorten(value: Any, limit: int = 60) -> str:
    """A value as a contributor wrote it (YAML spelling for booleans and null), cut to ``limit`` characters."""
    text = ("true" if value else "false") if isinstance(value, bool) else "null" if value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


PATTERN_ADVICE = {
    models.SLUG_PATTERN: "use lowercase letters, digits and single hyphens, e.g. 'joint-statement-2024'",
    models.DATE_VALUE_PATTERN: "use YYYY, YYYY-MM or YYYY-MM-DD (quoted)",
    models.ISO_DATE_PATTERN: "use YYYY-MM-DD (quoted)",
    models.COUNTRY_PATTERN: "use an ISO 3166-1 alpha-2 code in capitals, e.g. IQ or SY",
}
_IS_NOT = {
    models.DATE_VALUE_PATTERN: "a date",
    models.ISO_DATE_PATTERN: "a date",
    models.SLUG_PATTERN: "a valid id",
    models.COUNTRY_PATTERN: "a country code",
}


def _description(model: type[BaseModel], loc: tuple) -> str:
    """The description of the field at ``loc``, from the model."""
    parent = inner_type(type_at(model, loc[:-1]))
    info = parent.model_fields.get(loc[-1]) if is_model(parent) else None
    return (info.description if info else None) or f"see the {model.collection} schema"


_CODES = {"missing": "missing-field", "extra_forbidden": "unknown-field", "int_from_float": "wrong-type"}
"""The code of a Pydantic error kind, where its name does not say it: ``*_type`` and ``*_parsing`` are wrong-type,
every other kind wrong-value."""


MEANINGS = "(docs/codebook.md says what each means)"
"""Where a vocabulary's values are explained, as its problems say."""


def _closest(value: Any, choices: list[str]) -> str | None:
    """The choice ``value`` (text) is likely a slip for, if any."""
    return next(iter(difflib.get_close_matches(value, choices, n=1)), None) if isinstance(value, str) else None


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """The fields of the mapping that holds the key at ``loc``."""
    parent = inner_type(type_at(model, loc[:-1]))
    return list(parent.model_fields) if is_model(parent) else []


def _without_misspelt(model: type[BaseModel], errors: list[dict]) -> list[dict]:
    """``errors`` without those of required fields that are missing only because they are misspelt: an unknown field
    of the same mapping is a slip for them, and its problem says so ("did you mean 'title'?"): one fix, one problem."""
    meant = {loc[:-1] + (guess,) for error in errors if error["type"] == "extra_forbidden" and (loc := tuple(error["loc"]))
             and (guess := _closest(str(loc[-1]), _allowed_fields(model, loc)))}
    return [error for error in errors if not (error["type"] == "missing" and tuple(error["loc"]) in meant)]


def _issue(model: type[BaseModel], error: dict) -> Issue:
    """Contributor-language wording of one Pydantic error, with its code (:data:`.problems.CODES`)."""
    kind = error["type"]
    code = kind if kind in CODES else _CODES.get(kind) or ("wrong-type" if kind.endswith(("_type", "_parsing"))
                                                           else "wrong-value")
    return dataclasses.replace(_worded(model, error), code=code)


def _worded(model: type[BaseModel], error: dict) -> Issue:
    """One Pydantic error in the contributor's terms: what is wrong and what to do, at which node."""
    loc, kind, value, ctx = tuple(error["loc"]), error["type"], error.get("input"), error.get("ctx") or {}
    name = str(loc[-1]) if loc else "record"
    got = "an empty value" if value is None else f"{_yaml_kind(value)} {_shorten(value)}"
    if kind == "missing":
        return Issue(loc, f"missing required field {name!r}: add it", "parent")
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc)
        fields = ", ".join(allowed)
        if guess := _closest(name, allowed):
            return Issue(loc, f"unknown field {name!r}: did you mean {guess!r}? (the fields allowed here: {fields})", "key")
        return Issue(loc, f"unknown field {name!r}: remove it, or rename it to one of the fields allowed here: {fields}",
                     "key")
    if kind == "literal_error":
        allowed = typing.get_args(inner_type(type_at(model, loc)))
        expected = ", ".join(map(str, allowed)) if allowed else ctx.get("expected", "")
        if value is None:
            return Issue(loc, f"no value: write one of {expected} {MEANINGS}")
        if isinstance(value, str) and RENAMED.get(value) in allowed:
            advice = f"the value is now called {RENAMED[value]!r}"
        elif guess := _closest(value, list(map(str, allowed))):
            advice = f"did you mean {guess!r}?"
        else:
            advice = f"write one of them {MEANINGS}"
        return Issue(loc, f"expected one of {expected}; got {_shorten(value)}: {advice}")
    if kind == "string_unicode" or (kind == "string_pattern_mismatch" and ctx.get("pattern") == models.TEXT_PATTERN):
        return Issue(loc, models.text_problem(value))
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern")
        if pattern in PATTERN_ADVICE:
            return Issue(loc, f"{_shorten(value)} is not {_IS_NOT[pattern]}: {PATTERN_ADVICE[pattern]}")
        if model is models.Source and loc == ("file",) and isinstance(value, str) and not is_seed_name(value):
            return Issue(loc, f"{_shorten(value)} is {OUTSIDE_SEEDS}")
        return Issue(loc, f"{_shorten(value)} does not match the pattern {pattern} ({_description(model, loc)})")
    if kind == "string_type":
        if value is None:
            parent = inner_type(type_at(model, loc[:-1]))
            info = parent.model_fields.get(loc[-1]) if is_model(parent) and isinstance(loc[-1], str) else None
            if info is not None and info.is_required():
                return Issue(loc, f"{name} is required and has no value: write it")
            return Issue(loc, f"expected text, got {got}: write a value, or remove the field if it is optional")
        return Issue(loc, f"expected text, got {got}: quote this value (YAML reads unquoted yes, no, on, "
                     "off, numbers and ~ as something other than text)")
    if kind == "value_error" or kind in CODES:  # a model's own rule: its ValueError, or a PydanticCustomError(code)
        message = str(ctx.get("error", error["msg"])) if kind == "value_error" else error["msg"]
        first_word = message.split(" ", 1)[0]
        target = inner_type(type_at(model, loc))
        if is_model(target) and first_word in target.model_fields:
            return Issue(loc + (first_word,), message)  # model validators name the field they fault first
        return Issue(loc, message)
    if kind == "too_short" and ctx.get("min_length") == 1:
        return Issue(loc, f"{name} needs at least one item" + (": cite at least one verbatim span of a source"
                                                                 if name == "citations" else ""))
    if kind == "string_too_long":
        return Issue(loc, f"{name} is longer than {ctx.get('max_length')} characters: shorten it")
    if kind == "string_too_short":
        return Issue(loc, f"{name} must not be empty: write a value or remove the field if it is optional")
    if kind in ("list_type", "model_type", "model_attributes_type", "dict_type"):
        wanted = "a list (lines starting with '- ')" if kind == "list_type" else "a mapping of fields (name: value lines)"
        return Issue(loc, f"expected {wanted}, got {got}")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return Issue(loc, f"expected a whole number, got {got}")
    if kind in ("float_type", "float_parsing"):
        return Issue(loc, f"expected a number, got {got}")
    if kind in ("bool_type", "bool_parsing"):
        return Issue(loc, f"expected true or false, got {_shorten(value)}")
    return Issue(loc, f"{error['msg']}; got {_shorten(value)}")
