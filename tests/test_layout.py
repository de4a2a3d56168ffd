"""The table layout renders every table three ways that agree (SQLite, Table Schema, Datasette); what the site shows
is the site's configuration; a new collection needs no code."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path
from typing import Annotated, ClassVar

import pytest
from pydantic import Field, StringConstraints

from iraq_transition import layout, models, site_config, site_metadata
from iraq_transition.models import Citations, FuzzyDate, Participant, Record, Text

PACKAGE = Path(layout.__file__).parent
READERS = ("build", "export", "serve", "layout", "site_metadata", "timeline", "labels", "codebook")
"""The modules that render the tables: they read the models through the layout or :mod:`fields`."""


class Incident(Record):
    """An incident the sources report."""

    collection: ClassVar[str] = "incidents"

    summary: Text = Field(description="What happened, in neutral words.")
    reported: FuzzyDate = Field(description="When the sources report it.")
    involved: list[Participant] = Field(default_factory=list, description="Actors involved and their roles.")
    citations: Citations


@pytest.fixture
def fresh_layout():
    """The layout made again from the models as a test changes them, and again from the real models after."""
    layout.collection_plans.cache_clear()
    layout.table_layout.cache_clear()
    yield
    layout.collection_plans.cache_clear()
    layout.table_layout.cache_clear()


def _created(tables: tuple[layout.Table, ...], browsed: dict[str, tuple[str, ...]]) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    for table in tables:
        connection.execute(table.create_sql())
        for sql in table.index_sql(browsed.get(table.name, ())):
            connection.execute(sql)
    return connection


def test_every_table_renders_the_same_columns_to_sqlite_table_schema_and_datasette():
    tables = layout.table_layout()
    connection = _created(tables, site_metadata.browsed_columns())
    for table in tables:
        expected = [(c.name, c.sql_type, int(c.required)) for c in table.columns]
        info = connection.execute(f"PRAGMA table_info({layout.sql_name(table.name)})").fetchall()
        assert [(name, kind, notnull) for _, name, kind, notnull, _, _ in info] == expected
        keys = connection.execute(f"PRAGMA foreign_key_list({layout.sql_name(table.name)})").fetchall()
        assert sorted((row[3], row[2]) for row in keys) == sorted(table.foreign_keys)
        assert table.insert_sql().count("?") == len(table.columns)
        schema = table.to_resource(f"csv/{table.name}.csv")["schema"]
        assert [(f["name"], f["type"], f.get("constraints", {}).get("required", False)) for f in schema["fields"]] == [
            (c.name, c.type, c.required) for c in table.columns
        ]
        assert schema["primaryKey"] == list(table.primary_key)
        assert table.to_datasette()["columns"] == {c.name: c.description for c in table.columns}


def test_the_site_shows_what_its_configuration_says(monkeypatch):
    monkeypatch.setitem(site_config.FACETS, "events", ["event_type", "no_such_column"])
    monkeypatch.setattr(site_config, "SORT_DESC", {"events": "date_start", "quotes": "no_such_column"})
    tables = site_metadata.datasette_metadata()["databases"][site_config.NAME]["tables"]
    assert tables["events"]["facets"] == ["event_type"]  # configured columns missing from the layout are dropped
    assert tables["events"]["sort_desc"] == "date_start"
    assert "sort_desc" not in tables["quotes"] and "sort_desc" not in tables["sources"]
    assert site_metadata.browsed_columns()["events"] == ("event_type", "date_start")
    indexes = layout.table("events").index_sql(site_metadata.browsed_columns()["events"])
    assert any('"idx_events_date_start"' in sql for sql in indexes)


def test_a_new_collection_is_a_model_and_nothing_else(monkeypatch, fresh_layout):
    """Its tables, their SQL, their data package resources and their Datasette entries come from the model alone;
    with no field the site labels records by, they are labelled by id."""
    monkeypatch.setitem(models.COLLECTIONS, Incident.collection, Incident)
    tables = {table.name: table for table in layout.table_layout()}
    assert [c.name for c in tables["incidents"].columns][:4] == ["id", "notes", "summary", "reported_value"]
    assert tables["incident_involved"].foreign_keys == (("incident_id", "incidents"), ("actor", "actors"))
    assert "incidents" in tables["citations"].columns[0].enum
    _created(tuple(tables.values()), site_metadata.browsed_columns())
    entry = site_metadata.datasette_metadata()["databases"][site_config.NAME]["tables"]["incidents"]
    assert entry["label_column"] == "id" and entry["description"] == "An incident the sources report."
    assert tables["incidents"].to_resource("csv/incidents.csv")["title"] == "Incidents"


def _module_tree(name: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", READERS)
def test_the_modules_that_render_tables_never_read_the_models_annotations(name):
    """Reading annotations is :mod:`fields`' concern; these modules go through it or through the layout."""
    introspection = {"get_origin", "get_args", "model_fields", "__annotations__", "__doc__", "annotation", "metadata"}
    used = {
        node.attr if isinstance(node, ast.Attribute) else node.id
        for node in ast.walk(_module_tree(name))
        if isinstance(node, (ast.Attribute, ast.Name))
    }
    assert not used & introspection


@pytest.mark.parametrize("name", READERS)
def test_no_module_that_renders_tables_singles_out_a_collection_by_name(name):
    """Which collection holds the texts, which one the timeline draws, which ones are faceted or searched: the
    models or the site's configuration say it."""
    tree = _module_tree(name)
    keys = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Dict) for key in node.keys}  # "sources": [...]
    names = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in keys}
    assert not names & set(models.COLLECTIONS)


class Dispatch(Record):
    """A dispatch: fields whose constraints come from both their type and their Field."""

    collection: ClassVar[str] = "dispatches"

    text: Text = Field(max_length=2000, description="The dispatch's words.")
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z]+$")] = Field(min_length=2, description="Its code.")
    citations: Citations


def _string_schema(schema: dict) -> dict:
    """The string branch of a JSON Schema property (an optional field's is inside anyOf)."""
    return next((branch for branch in schema.get("anyOf", [schema]) if branch.get("type") == "string"), {})


@pytest.mark.parametrize("model", [*models.COLLECTIONS.values(), Dispatch], ids=lambda model: model.collection)
def test_the_table_schema_keeps_every_string_constraint_the_json_schema_has(model, monkeypatch, fresh_layout):
    """A constraint declared on a field's type and one given to its Field both reach the data package."""
    monkeypatch.setitem(models.COLLECTIONS, model.collection, model)
    fields = {field["name"]: field for field in layout.table(model.collection).to_resource("x.csv")["schema"]["fields"]}
    for name, schema in model.model_json_schema()["properties"].items():
        string = _string_schema(schema)
        for key in ("minLength", "maxLength"):
            if key in string and name in fields:
                assert fields[name]["constraints"].get(key) == string[key], f"{model.collection}.{name}: {key}"
