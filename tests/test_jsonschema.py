"""Editor support: the committed JSON Schemas, checked with the third-party ``jsonschema`` package."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from iraq_transition.fmt import MODELINE
from iraq_transition.load import load_yaml
from iraq_transition.models import COLLECTIONS

REPO = Path(__file__).resolve().parent.parent
BAD = REPO / "tests" / "fixtures" / "bad"
GOOD = REPO / "tests" / "fixtures" / "good" / "data"


def _validator(collection: str) -> jsonschema.protocols.Validator:
    schema = json.loads((REPO / "schema" / f"{collection}.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _records(data_dir: Path) -> list[tuple[str, Path]]:
    return [(path.parent.name, path) for path in sorted(data_dir.glob("*/*.yaml"))]


def _data(path: Path):
    """A record as plain data, as the project reads it (quoted dates stay strings)."""
    data, problems = load_yaml(path)
    assert not problems, problems
    return data


def _keywords(errors) -> set[str]:
    """The schema keywords that failed, including those inside anyOf/oneOf branches."""
    found = set()
    for error in errors:
        found.add(error.validator)
        found |= _keywords(error.context or [])
    return found


def test_every_committed_record_matches_its_committed_schema():
    records = _records(REPO / "data")
    assert {collection for collection, _ in records} == set(COLLECTIONS), "data/ lacks records"
    validators = {collection: _validator(collection) for collection in COLLECTIONS}
    failures = [
        f"{path.relative_to(REPO)}: {error.json_path}: {error.message}"
        for collection, path in records
        for error in validators[collection].iter_errors(_data(path))
    ]
    assert not failures, "\n".join(failures[:20])


def test_the_good_fixtures_match_their_schemas():
    records = _records(GOOD)
    assert records
    for collection, path in records:
        assert not list(_validator(collection).iter_errors(_data(path))), path


@pytest.mark.parametrize(
    ("fixture", "keyword"),
    [
        ("actors/unquoted-boolean.yaml", "type"),  # name: true reads as a boolean
        ("events/bad-enum.yaml", "enum"),
        ("events/date-format.yaml", "pattern"),
        ("events/missing-field.yaml", "required"),
        ("events/unknown-field.yaml", "additionalProperties"),
        ("events/top-level-list.yaml", "type"),
    ],
)
def test_bad_fixtures_the_schema_can_express_fail(fixture, keyword):
    path = BAD / fixture
    errors = list(_validator(path.parent.name).iter_errors(_data(path)))
    assert keyword in _keywords(errors), [error.message for error in errors]


@pytest.mark.parametrize(
    ("collection", "change", "keyword"),
    [
        ("events", {"id": "Not_A_Slug"}, "pattern"),
        ("events", {"citations": []}, "minItems"),
        ("events", {"citations": [{"source": "s", "quote": "q", "page": 3}]}, "additionalProperties"),
        ("events", {"date": {"value": "2024-09-27"}}, "required"),
        ("events", {"date": {"value": "2024-09-27", "precision": "day", "qualifier": "maybe"}}, "enum"),
        ("events", {"place": {"country": "Iraq"}}, "pattern"),
        ("events", {"participants": [{"actor": "a", "role": "victim"}]}, "enum"),
        ("bases", {"latitude": 123.0}, "maximum"),
        ("bases", {"latitude": "33.8"}, "type"),
        ("force_levels", {"best": "2,500"}, "type"),
        ("actors", {"unnamed": "yes"}, "type"),
        ("sources", {"sha256": "ABC"}, "pattern"),
    ],
)
def test_the_schema_rejects_wrong_types_enums_patterns_and_fields(collection, change, keyword):
    base = _data(next(path for c, path in _records(GOOD) if c == collection))
    errors = list(_validator(collection).iter_errors({**base, **change}))
    assert keyword in _keywords(errors), [error.message for error in errors]


def test_every_record_names_its_schema_in_a_modeline_that_resolves():
    for collection, path in _records(REPO / "data"):
        first_line = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert first_line == MODELINE.format(collection=collection), path
        schema = (path.parent / first_line.split("$schema=", 1)[1]).resolve()
        assert schema == REPO / "schema" / f"{collection}.schema.json" and schema.is_file()


def test_vscode_maps_each_collection_to_its_schema_and_recommends_the_yaml_extension():
    settings = json.loads((REPO / ".vscode/settings.json").read_text(encoding="utf-8"))
    mapping = {glob: schema for schema, glob in settings["yaml.schemas"].items()}
    for collection in COLLECTIONS:
        schema = mapping[f"data/{collection}/*.yaml"]
        assert (REPO / schema).resolve() == REPO / "schema" / f"{collection}.schema.json"
    extensions = json.loads((REPO / ".vscode/extensions.json").read_text(encoding="utf-8"))
    assert "redhat.vscode-yaml" in extensions["recommendations"]
