"""Generate the committed files derived from the models: JSON Schemas, datapackage.json, docs/timeline.svg and
docs/codebook.md.

The Frictionless Table Schemas are rendered by the same table layout as the SQLite tables
(:mod:`.layout`); the package's name, version, titles, licences and keywords come from the site's configuration
(:mod:`.site_config`); the JSON Schemas from ``model_json_schema()``.
``iraq-transition generate --check`` fails when a committed copy is stale.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from stat import S_ISREG
from typing import Any, NamedTuple

from . import site_config
from .build import CSV_DIR, csv_tables
from .codebook import codebook, to_markdown
from .fields import quoted_collection
from .labels import record_label
from .load import MAX_FILE_BYTES, NO_FOLLOW_READ, Project, ensure_real_directories, write_files
from .models import COLLECTIONS, Record
from .problems import refuse, shown
from .timeline import render_svg
from .validate import Dataset, validate_project

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATAPACKAGE = "datapackage.json"
TIMELINE_DOC = Path("docs") / "timeline.svg"
CODEBOOK_DOC = Path("docs") / "codebook.md"
CSV_PATH = Path("build") / CSV_DIR  # where `iraq-transition build` writes the CSVs, relative to the root


# --------------------------------------------------------------------------- JSON Schema


def json_schema(collection: str) -> dict[str, Any]:
    """The JSON Schema of one record file of ``collection`` (editors validate YAML records with it)."""
    model = COLLECTIONS[collection]
    generated = model.model_json_schema()
    header = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{collection}.schema.json",
        "title": _schema_title(collection),
        "description": f"{generated.get('description', '')} One record per file: data/{collection}/<id>.yaml, "
        "where <id> equals the record's id.",
    }
    return header | {key: value for key, value in generated.items() if key not in ("title", "description")}


def _schema_title(collection: str) -> str:
    return f"{site_config.NAME} {collection} record"


# --------------------------------------------------------------------------- Frictionless data package


def _package_source(source: Record) -> dict[str, Any]:
    title = record_label(source)
    entry = {"title": title, "path": source.url or f"seeds/{source.file}"}
    if source.publisher:
        entry["publisher"] = source.publisher
    entry["archived"] = f"seeds/{source.file}"
    return entry


def datapackage(dataset: Dataset) -> dict[str, Any]:
    """The Frictionless data package describing build/csv/*.csv, with the dataset's sources."""
    return {
        "profile": "tabular-data-package",
        "name": site_config.NAME,
        "title": site_config.PACKAGE_TITLE,
        "description": site_config.PACKAGE_DESCRIPTION,
        "version": site_config.VERSION,
        "keywords": site_config.KEYWORDS,
        "licenses": site_config.LICENSES,
        "contributors": site_config.CONTRIBUTORS,
        "sources": [_package_source(source) for source in dataset.records.get(quoted_collection(), {}).values()],
        "resources": [table.to_resource((CSV_PATH / f"{table.name}.csv").as_posix()) for table in csv_tables()],
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
    files[CODEBOOK_DOC] = to_markdown(codebook(csv_tables()))
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
    data = read_regular(path, MAX_FILE_BYTES)
    try:
        schema = json.loads(data) if data is not None else None
    except ValueError:
        return False
    collection = path.name.removesuffix(".schema.json")
    return isinstance(schema, dict) and schema.get("$schema") == JSON_SCHEMA_DIALECT and \
        schema.get("$id") == path.name and schema.get("title") == _schema_title(collection)


class GeneratedState(NamedTuple):
    """The generated files as they should be, and how the committed ones differ."""

    files: dict[Path, str]  # path under the root -> content
    stale: list[Path]  # missing, or not holding their content
    leftovers: list[Path]  # schemas of collections since gone, which generate wrote (it may delete them)
    foreign: list[Path]  # schemas of no collection that generate did not write (never deleted)


def generated_state(project: Project, dataset: Dataset) -> GeneratedState:
    """How the committed generated files of ``project`` compare with what ``dataset`` and the models make now;
    UsageError when a directory on the way to one is a link."""
    files = generated_files(dataset)
    for path in files:  # before anything is read there: a link could lead outside the repository
        ensure_real_directories(project.root, project.root / path)
    stale = [path for path, content in files.items() if not _holds(project.root / path, content)]
    return GeneratedState(files, stale, *_leftover_schemas(project, files))


def write_generated(project: Project, state: GeneratedState) -> None:
    """Write the stale files of ``state`` and remove its leftovers, saying each."""
    write_files(project.root, {project.root / path: state.files[path] for path in state.stale})
    for path in state.stale:
        print(f"wrote {shown(path.as_posix())}")
    for path in state.leftovers:
        (project.root / path).unlink()
        print(f"removed {shown(path.as_posix())}")


def run_generate(args) -> int:
    """The ``generate`` command: write the generated files, or with ``--check`` list the stale ones."""
    project = Project(args.root)
    dataset, problems = validate_project(project)
    if problems:
        return refuse("generate", dataset.size, problems, "nothing written")
    state = generated_state(project, dataset)
    files, stale, leftovers, foreign = state
    for path in foreign:
        print(f"{shown(path.as_posix())}: no collection of that name, and not written by iraq-transition generate, "
              "which never deletes it: delete it yourself, or move it out of schema/", file=sys.stderr)
    if args.check:
        for path in stale:
            print(f"{shown(path.as_posix())}: stale or missing", file=sys.stderr)
        for path in leftovers:
            print(f"{shown(path.as_posix())}: no collection of that name: delete it", file=sys.stderr)
        if stale or leftovers:
            print("iraq-transition generate --check: run iraq-transition generate (or iraq-transition fix, which "
                  "also formats the records) and commit the result", file=sys.stderr)
        if stale or leftovers or foreign:
            return 1
        print(f"generated files up to date ({len(files)} files)")
        return 0
    write_generated(project, state)
    if not stale and not leftovers and not foreign:
        print(f"generated files up to date ({len(files)} files)")
    return 1 if foreign else 0


def committed_text(path: Path) -> str:
    """The text of a generated file as committed; empty when it is no regular file (a link is not followed) of at
    most MAX_FILE_BYTES."""
    data = read_regular(path, MAX_FILE_BYTES)
    return "" if data is None else data.decode("utf-8", errors="replace")


def _holds(path: Path, content: str) -> bool:
    """Whether ``path`` is a regular file (not a link to one) holding exactly ``content``."""
    expected = content.encode()
    return read_regular(path, len(expected)) == expected


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link to one) of at most ``limit`` bytes, else None."""
    try:
        with open(os.open(path, NO_FOLLOW_READ), "rb") as stream:
            data = stream.read(limit + 1) if S_ISREG(os.fstat(stream.fileno()).st_mode) else None
    except OSError:
        return None
    return data if data is not None and len(data) <= limit else None
