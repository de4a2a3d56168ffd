"""Generate the committed files derived from the models: JSON Schemas, datapackage.json, docs/timeline.svg.

The Frictionless Table Schemas come from the same table layout as the SQLite tables
(:func:`iraq_transition.build.table_layout`); the JSON Schemas from ``model_json_schema()``.
``iraq-transition generate --check`` fails when a committed copy is stale.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from stat import S_ISREG
from typing import Any

from . import __version__, site_config
from .build import CSV_DIR, CSV_LINE_TERMINATOR, Column, Table, table_layout
from .load import MAX_FILE_BYTES, NO_FOLLOW_READ, Project, ensure_real_directories, write_files
from .models import COLLECTIONS, NOT_IN_TEXT, TEXT_PATTERN, Record
from .problems import refuse, shown
from .timeline import render_svg
from .validate import Dataset, validate_project

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATAPACKAGE = "datapackage.json"
TIMELINE_DOC = Path("docs") / "timeline.svg"
CSV_PATH = Path("build") / CSV_DIR  # where `iraq-transition build` writes the CSVs, relative to the root

LICENSES = [
    {
        "name": site_config.LICENSE,
        "path": site_config.LICENSE_URL,
        "title": "Creative Commons Attribution 4.0: the records (data/) and the tables built from them",
    },
    {"name": "MIT", "path": "https://opensource.org/licenses/MIT", "title": "MIT License: the code"},
]
KEYWORDS = [
    "Iraq", "Syria", "Operation Inherent Resolve", "US military", "coalition", "troop levels", "military bases", "ISIS"
]


# --------------------------------------------------------------------------- JSON Schema


def json_schema(collection: str) -> dict[str, Any]:
    """The JSON Schema of one record file of ``collection`` (editors validate YAML records with it)."""
    model = COLLECTIONS[collection]
    generated = model.model_json_schema()
    header = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{collection}.schema.json",
        "title": f"iraq-transition {collection} record",
        "description": f"{generated.get('description', '')} One record per file: data/{collection}/<id>.yaml, "
        "where <id> equals the record's id.",
    }
    return header | {key: value for key, value in generated.items() if key not in ("title", "description")}


# --------------------------------------------------------------------------- Frictionless data package


def _field(column: Column) -> dict[str, Any]:
    field: dict[str, Any] = {"name": column.name, "type": column.type, "description": column.description}
    if column.type == "boolean":
        field |= {"trueValues": ["1"], "falseValues": ["0"]}
    constraints = {
        "required": column.required or None,
        "enum": list(column.enum) if column.enum else None,
        "pattern": _table_schema_pattern(column.pattern),
        "minLength": column.min_length,
        "maxLength": column.max_length,
        "minimum": column.minimum,
        "maximum": column.maximum,
    }
    constraints = {name: value for name, value in constraints.items() if value is not None}
    if constraints:
        field["constraints"] = constraints
    return field


def _table_schema_pattern(pattern: str | None) -> str | None:
    """A model's anchored Python regex as a Table Schema pattern (XML Schema style: implicitly anchored), less
    the characters text may not hold: XML Schema regexes cannot name them, and the CSVs hold validated text."""
    if pattern is None or pattern == TEXT_PATTERN:
        return None
    return pattern.replace(NOT_IN_TEXT, "").removeprefix("^").removesuffix("$").replace("(?:", "(")


def _resource(table: Table) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "fields": [_field(column) for column in table.columns],
        "missingValues": [""],
        "primaryKey": list(table.primary_key),
    }
    if table.foreign_keys:
        schema["foreignKeys"] = [
            {"fields": column, "reference": {"resource": target, "fields": "id"}} for column, target in table.foreign_keys
        ]
    return {
        "name": table.name,
        "path": (CSV_PATH / f"{table.name}.csv").as_posix(),
        "profile": "tabular-data-resource",
        "title": table.name.replace("_", " ").capitalize(),
        "description": table.description,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "dialect": {
            "delimiter": ",",
            "lineTerminator": CSV_LINE_TERMINATOR,
            "quoteChar": '"',
            "doubleQuote": True,
            "header": True,
        },
        "schema": schema,
    }


def _package_source(source: Record) -> dict[str, Any]:
    title = source.headline or f"{source.id}: headline not identified"
    entry = {"title": title, "path": source.url or f"seeds/{source.file}"}
    if source.publisher:
        entry["publisher"] = source.publisher
    entry["archived"] = f"seeds/{source.file}"
    return entry


def datapackage(dataset: Dataset) -> dict[str, Any]:
    """The Frictionless data package describing build/csv/*.csv, with the dataset's sources."""
    return {
        "profile": "tabular-data-package",
        "name": "iraq-transition",
        "title": site_config.PACKAGE_TITLE,
        "description": site_config.PACKAGE_DESCRIPTION,
        "version": __version__,
        "keywords": KEYWORDS,
        "licenses": LICENSES,
        "contributors": [{"title": "iraq-transition contributors", "role": "author"}],
        "sources": [_package_source(source) for source in dataset.records.get("sources", {}).values()],
        "resources": [_resource(table) for table in table_layout()],
    }


# --------------------------------------------------------------------------- the generate command


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def generated_files(dataset: Dataset) -> dict[Path, str]:
    """Every generated file (path under the project root) and its content."""
    files = {
        Path("schema") / f"{collection}.schema.json": _json_text(json_schema(collection)) for collection in COLLECTIONS
    }
    files[Path(DATAPACKAGE)] = _json_text(datapackage(dataset))
    files[TIMELINE_DOC] = render_svg(dataset)
    return files


def _leftover_schemas(project: Project, expected: dict[Path, str]) -> tuple[list[Path], list[Path]]:
    """Schema files of collections that no longer exist: those generate wrote (an older version of this
    module: it may delete them), and the others (never deleted: generate did not write them)."""
    found = sorted(project.schema_dir.glob("*.schema.json")) if project.schema_dir.is_dir() else []
    leftovers = [path.relative_to(project.root) for path in found if path.relative_to(project.root) not in expected]
    generated = [path for path in leftovers if _was_generated(project.root / path)]
    return generated, [path for path in leftovers if path not in generated]


def _was_generated(path: Path) -> bool:
    """Whether ``path`` (not a link: read without following one) is a JSON Schema :func:`json_schema` wrote."""
    data = _read(path, MAX_FILE_BYTES)
    try:
        schema = json.loads(data) if data is not None else None
    except ValueError:
        return False
    collection = path.name.removesuffix(".schema.json")
    return isinstance(schema, dict) and schema.get("$schema") == JSON_SCHEMA_DIALECT and \
        schema.get("$id") == path.name and schema.get("title") == f"iraq-transition {collection} record"


def run_generate(args) -> int:
    """The ``generate`` command: write the generated files, or with ``--check`` list the stale ones."""
    project = Project(args.root)
    dataset, problems = validate_project(project)
    if problems:
        return refuse("generate", dataset.size, problems, "nothing written")
    files = generated_files(dataset)
    for path in files:  # before anything is read there: a link could lead outside the repository
        ensure_real_directories(project.root, project.root / path)
    stale = [path for path, content in files.items() if not _holds(project.root / path, content)]
    leftovers, foreign = _leftover_schemas(project, files)
    for path in foreign:
        print(f"{shown(path.as_posix())}: no collection of that name, and not written by iraq-transition generate, "
              "which never deletes it: delete it yourself, or move it out of schema/", file=sys.stderr)
    if args.check:
        for path in stale:
            print(f"{shown(path.as_posix())}: stale or missing", file=sys.stderr)
        for path in leftovers:
            print(f"{shown(path.as_posix())}: no collection of that name: delete it", file=sys.stderr)
        if stale or leftovers:
            print("iraq-transition generate --check: run iraq-transition generate and commit the result", file=sys.stderr)
        if stale or leftovers or foreign:
            return 1
        print(f"generated files up to date ({len(files)} files)")
        return 0
    write_files(project.root, {project.root / path: files[path] for path in stale})
    for path in stale:
        print(f"wrote {shown(path.as_posix())}")
    for path in leftovers:
        (project.root / path).unlink()
        print(f"removed {shown(path.as_posix())}")
    if not stale and not leftovers and not foreign:
        print(f"generated files up to date ({len(files)} files)")
    return 1 if foreign else 0


def _holds(path: Path, content: str) -> bool:
    """Whether ``path`` is a regular file (not a link to one) holding exactly ``content``."""
    expected = content.encode()
    return _read(path, len(expected)) == expected


def _read(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link to one) of at most ``limit`` bytes, else None."""
    try:
        with open(os.open(path, NO_FOLLOW_READ), "rb") as stream:
            data = stream.read(limit + 1) if S_ISREG(os.fstat(stream.fileno()).st_mode) else None
    except OSError:
        return None
    return data if data is not None and len(data) <= limit else None
