"""Generated files (JSON Schemas, datapackage.json, docs/timeline.svg) and the Frictionless data package."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import frictionless
import pytest
from test_build import write_small_project
from test_cli import assert_clean_failure, read_only, snapshot

from iraq_transition import build, export, layout
from iraq_transition.models import COLLECTIONS

GENERATED = [Path("datapackage.json"), Path("docs/timeline.svg"), Path("docs/codebook.md")] + [
    Path("schema") / f"{collection}.schema.json" for collection in COLLECTIONS
]


def _errors(report: frictionless.Report) -> list[tuple[str, str, int | None, str | None]]:
    """(resource, error type, CSV row number, field) of every error in a validation report."""
    return [
        (task.name, error.type, getattr(error, "row_number", None), getattr(error, "field_name", None))
        for task in report.tasks
        for error in task.errors
    ]


@pytest.fixture(scope="module")
def small_package(tmp_path_factory) -> Path:
    """The small project of test_build, with its generated files and a build."""
    root = write_small_project(tmp_path_factory.mktemp("package") / "small")
    for command in (["generate"], ["build"]):
        result = subprocess.run(
            [sys.executable, "-m", "iraq_transition", "--root", root, *command], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return root


# --------------------------------------------------------------------------- staleness


def test_committed_generated_files_are_up_to_date(repo: Path, cli):
    result = cli("generate", "--check", cwd=repo)
    assert result.code == 0, result.err
    for path in GENERATED:
        assert (repo / path).is_file(), f"{path} is not committed"


def test_check_lists_stale_files_and_writes_nothing(repo_copy: Path, cli):
    assert cli("--root", repo_copy, "generate").code == 0
    events = repo_copy / "schema" / "events.schema.json"
    events.write_text(events.read_text(encoding="utf-8").replace("Short neutral title.", "Title."), encoding="utf-8")
    leftover = repo_copy / "schema" / "incidents.schema.json"  # as generate wrote it for a collection since gone
    renamed = {"$id": "incidents.schema.json", "title": "iraq-transition incidents record"}
    leftover.write_text(json.dumps(export.json_schema("events") | renamed), encoding="utf-8")
    (repo_copy / "docs" / "timeline.svg").unlink()
    before = {path: path.read_bytes() for path in (repo_copy / "schema").iterdir()}

    result = cli("--root", repo_copy, "generate", "--check")
    assert result.code == 1
    assert "schema/events.schema.json: stale or missing" in result.err
    assert "docs/timeline.svg: stale or missing" in result.err
    assert "schema/incidents.schema.json: no collection of that name" in result.err
    assert "run iraq-transition generate" in result.err
    assert "datapackage.json" not in result.err
    assert {path: path.read_bytes() for path in (repo_copy / "schema").iterdir()} == before
    assert not (repo_copy / "docs" / "timeline.svg").exists()

    assert cli("--root", repo_copy, "generate").code == 0
    assert not leftover.exists()
    assert cli("--root", repo_copy, "generate", "--check").code == 0


@pytest.mark.parametrize("unwritable", ["schema", "root"])
def test_generate_into_a_read_only_directory_writes_nothing_and_says_so(repo_copy: Path, cli, unwritable):
    assert cli("--root", repo_copy, "generate").code == 0
    (repo_copy / "schema" / "events.schema.json").write_text("{}\n", encoding="utf-8")  # both stale
    (repo_copy / "datapackage.json").write_text("{}\n", encoding="utf-8")
    before = snapshot(repo_copy)
    with read_only(repo_copy / "schema" if unwritable == "schema" else repo_copy):
        result = cli("--root", repo_copy, "generate")
    assert_clean_failure(result)
    stuck = "schema/events.schema.json" if unwritable == "schema" else "datapackage.json"
    assert f"/{stuck}: " in result.err and "nothing was written; make it writable" in result.err
    assert snapshot(repo_copy) == before  # no file replaced, no temporary file left


def test_generate_where_a_directory_is_a_file_writes_nothing(repo_copy: Path, cli):
    (repo_copy / "docs").write_text("not a directory\n", encoding="utf-8")
    (repo_copy / "datapackage.json").write_text("{}\n", encoding="utf-8")
    before = snapshot(repo_copy)
    result = cli("--root", repo_copy, "generate")
    assert_clean_failure(result)
    assert "/docs: Not a directory: nothing was written" in result.err
    assert snapshot(repo_copy) == before


def test_generate_refuses_invalid_data(repo_copy: Path, cli):
    record = next((repo_copy / "data" / "events").glob("*.yaml"))
    record.write_text(record.read_text(encoding="utf-8") + "unknown_field: 1\n", encoding="utf-8")
    result = cli("--root", repo_copy, "generate")
    assert result.code == 1
    assert f"data/events/{record.name}:" in result.out
    assert "nothing written" in result.err


# --------------------------------------------------------------------------- JSON Schema


def test_json_schemas_come_from_the_models(repo: Path):
    for collection, model in COLLECTIONS.items():
        text = (repo / "schema" / f"{collection}.schema.json").read_text(encoding="utf-8")
        assert text.endswith("}\n")
        schema = json.loads(text)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"{collection}.schema.json"
        assert collection in schema["title"] and schema["description"]
        generated = model.model_json_schema()
        assert {k: v for k, v in schema.items() if not k.startswith("$") or k == "$defs"} | {
            "title": generated["title"], "description": generated["description"]
        } == generated


# --------------------------------------------------------------------------- the data package


def test_datapackage_describes_the_table_layout(repo: Path):
    package = json.loads((repo / "datapackage.json").read_text(encoding="utf-8"))
    assert package["name"] == "iraq-transition"
    assert {license["name"] for license in package["licenses"]} == {"CC-BY-4.0", "MIT"}
    assert "property of their publishers" in package["description"]
    assert len(package["sources"]) == len(list((repo / "data" / "sources").glob("*.yaml")))
    resources = {resource["name"]: resource for resource in package["resources"]}
    assert list(resources) == [table.name for table in build.csv_tables()]
    for table in build.csv_tables():
        resource = resources[table.name]
        assert resource["path"] == f"build/csv/{table.name}.csv"
        schema = resource["schema"]
        assert [field["name"] for field in schema["fields"]] == [column.name for column in table.columns]
        assert schema["primaryKey"] == list(table.primary_key)
        declared = {(fk["fields"], fk["reference"]["resource"]) for fk in schema.get("foreignKeys", [])}
        assert declared == set(table.foreign_keys)
        for field, column in zip(schema["fields"], table.columns):
            assert field["description"] == column.description
            assert field.get("constraints", {}).get("required", False) == column.required
    status = next(f for f in resources["events"]["schema"]["fields"] if f["name"] == "status")
    assert status["constraints"]["enum"] == ["occurred", "announced", "planned", "expected"]
    latitude = next(f for f in resources["bases"]["schema"]["fields"] if f["name"] == "latitude")
    assert (latitude["type"], latitude["constraints"]) == ("number", {"minimum": -90, "maximum": 90})


def test_committed_data_package_validates_after_a_build(repo_copy: Path, cli):
    result = cli("--root", repo_copy, "build")
    assert result.code == 0, result.out + result.err
    report = frictionless.validate(repo_copy / "datapackage.json")
    assert report.valid, _errors(report)[:10]
    assert {task.name for task in report.tasks} == {table.name for table in build.csv_tables()}


def test_frictionless_cli_validates_the_package(small_package: Path):
    result = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "datapackage.json"],
        cwd=small_package, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _corrupt(package: Path, tmp_path: Path, table: str, record_id: str, column: str, value: str) -> int:
    """Copy the package, set one cell of ``table``'s CSV, and return that row's CSV row number (header = 1)."""
    copy = tmp_path / "copy"
    shutil.copytree(package / "build" / "csv", copy / "build" / "csv")
    shutil.copy(package / "datapackage.json", copy / "datapackage.json")
    path = copy / "build" / "csv" / f"{table}.csv"
    with open(path, encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    index = rows[0].index(column)
    number = next(n for n, row in enumerate(rows, start=1) if row[0] == record_id)
    rows[number - 1][index] = value
    with open(path, "w", encoding="utf-8", newline="") as file:
        csv.writer(file, lineterminator=layout.CSV_LINE_TERMINATOR).writerows(rows)
    return number


@pytest.mark.parametrize(
    ("table", "record_id", "column", "value", "error"),
    [
        ("events", "mission-ends", "status", "finished", "constraint-error"),
        ("bases", "northeastern-syria", "latitude", "north", "type-error"),
        ("bases", "northeastern-syria", "latitude", "91", "constraint-error"),
        ("actors", "unnamed-official", "unnamed", "yes", "type-error"),
        ("event_participants", "joint-statement", "actor", "nobody", "foreign-key"),
        ("actors", "sabrina-singh", "affiliation", "nobody", "foreign-key"),
        ("citations", "actors", "source_id", "no-such-source", "foreign-key"),
        ("quotes", "never-quite-out", "id", "Not A Slug", "constraint-error"),
    ],
)
def test_a_corrupted_csv_fails_naming_the_row(small_package: Path, tmp_path: Path, table, record_id, column, value, error):
    assert frictionless.validate(small_package / "datapackage.json").valid
    row = _corrupt(small_package, tmp_path, table, record_id, column, value)
    report = frictionless.validate(tmp_path / "copy" / "datapackage.json")
    assert not report.valid
    errors = _errors(report)
    assert (table, error, row) in [(name, kind, number) for name, kind, number, _ in errors], errors
    if error != "foreign-key":
        assert (table, error, row, column) in errors, errors


def test_export_does_not_import_frictionless():
    code = "import sys, iraq_transition.export; assert 'frictionless' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
