"""The downloads as researchers use them: every CSV loads with frictionless and with pandas as its declared types,
the codebook's worked examples answer their questions, every record has a label, the codebook covers everything."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from pathlib import Path
from typing import get_args

import frictionless
import pandas as pd
import pytest
import yaml

from iraq_transition import build, codebook, layout, serve
from iraq_transition.fields import field_specs, is_model, vocabulary_meanings
from iraq_transition.labels import date_phrase, record_label
from iraq_transition.models import COLLECTIONS, FuzzyDate, Source
from iraq_transition.vocabularies import VOCABULARIES

from conftest import REPO, copy_repository, run_cli


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A copy of the repository, built by the real CLI."""
    root = copy_repository(tmp_path_factory.mktemp("downloads"))
    result = run_cli("--root", root, "build")
    assert result.code == 0, result.err
    return root


@pytest.fixture(scope="module")
def read_table(built: Path):
    """The codebook's pandas reader, run as printed."""
    namespace: dict = {}
    exec(codebook.READ_TABLE, namespace)
    return lambda name: namespace["read_table"](name, package=built / "datapackage.json")


def _records(collection: str) -> dict[str, dict]:
    return {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in (REPO / "data" / collection).glob("*.yaml")}


# --------------------------------------------------------------------------- every CSV, typed


def test_every_table_and_view_is_a_valid_csv_of_the_data_package(built: Path):
    package = json.loads((built / "datapackage.json").read_text(encoding="utf-8"))
    resources = {resource["name"] for resource in package["resources"]}
    assert {"timeline", "quotes_with_speakers", "force_levels_by_date", "corroboration", "source_statements"} <= resources
    assert {path.stem for path in (built / "build" / "csv").glob("*.csv")} == resources
    report = frictionless.validate(built / "datapackage.json")
    assert report.valid, [error.message for task in report.tasks for error in task.errors][:5]


PANDAS_KINDS = {"string": "string", "array": "object", "integer": "Int64", "number": "float64", "boolean": "boolean"}


def test_every_csv_loads_in_pandas_as_its_declared_types(built: Path, read_table):
    """Booleans, nullable integers, dates (an always-empty one too) and JSON arrays arrive as what they are."""
    for table in build.csv_tables():
        frame = read_table(table.name)
        assert list(frame.columns) == [column.name for column in table.columns]
        for column in table.columns:
            kind = str(frame[column.name].dtype)
            if column.type == "date":
                assert kind.startswith("datetime64"), (table.name, column.name, kind)
            else:
                assert kind == PANDAS_KINDS[column.type], (table.name, column.name, kind)
            if column.type == "array":
                assert all(isinstance(value, list) for value in frame[column.name].dropna()), (table.name, column.name)
    plain = pd.read_csv(built / "build" / "csv" / "actors.csv")  # no types given: booleans still read as booleans
    assert plain["unnamed"].dtype == bool and plain["unnamed"].any()


# --------------------------------------------------------------------------- the researchers' questions


@pytest.fixture(scope="module")
def answers(built: Path, read_table) -> dict:
    """The codebook's worked examples, run as printed."""
    namespace = {"read_table": read_table}
    for _, answer in codebook.QUESTIONS:
        exec(answer, namespace)
    return namespace


def test_all_quotes_by_unnamed_officials_with_their_source(answers):
    actors, sources = _records("actors"), _records("sources")
    expected = {
        (quote["text"], source["source"])
        for quote in _records("quotes").values() if actors[quote["speaker_id"]].get("unnamed")
        for source in quote["citations"]
    }
    found = answers["unnamed_quotes"]
    assert len(found) == len({text for text, _ in expected}) > 0
    labels = {source_id: record_label(Source.model_validate(record)) for source_id, record in sources.items()}
    assert {(text, label) for text, names in zip(found["text"], found["sources"]) for label in names} == {
        (text, labels[source]) for text, source in expected
    }
    assert "None" not in {label for names in found["sources"] for label in names}


def test_force_levels_in_iraq_over_time_in_date_order(answers):
    iraq = [record for record in _records("force_levels").values() if record["country"] == "IQ"]
    found = answers["iraq_levels"]
    assert len(found) == len(iraq)  # deadlines ("by the end of 2026") included, none dropped by an empty date
    assert found["sort_date"].notna().all() and found["sort_date"].is_monotonic_increasing
    assert found["as_of"].iloc[0] == "2021" and found["as_of"].iloc[-1] == "2026"
    assert found["best"].dtype == "Int64" and found["force"].notna().all()


def test_what_was_planned_or_expected_for_september_2025(answers):
    found = answers["september_2025"]
    assert set(found["announced_planned_or_expected"]) == {
        "Coalition military mission in Iraq to conclude by September 2025",
        "First phase of the transition to conclude in September 2025",
        "Several hundred US troops expected to leave Iraq by September 2025",
    }
    assert set(found["date_qualifier"]) == {"exact", "no_later_than"}


# --------------------------------------------------------------------------- labels


def test_every_record_has_a_label_from_its_own_fields(built: Path):
    connection = sqlite3.connect(built / "build" / build.DATABASE)
    try:
        for collection in COLLECTIONS:
            column = layout.label_column(collection)
            assert next(c for c in layout.table(collection).columns if c.name == column).required, collection
            empty = connection.execute(
                f"SELECT id FROM {collection} WHERE coalesce(trim({column}), '') = '' OR {column} = 'None'"
            ).fetchall()
            assert empty == [], collection
        labels = dict(connection.execute(f"SELECT id, {layout.label_column('sources')} FROM sources"))
    finally:
        connection.close()
    for source_id, record in _records("sources").items():
        label = labels[source_id]
        if record.get("headline"):
            assert label == record["headline"]
        else:  # what is known of it, and nothing else
            assert record["file"] in label and (record.get("publisher") or "Published") in label
            assert date_phrase(FuzzyDate.model_validate(record["published"])) in label
    assert labels["report-phaseout-daesh-occupation"] == "Published 2024-09-27 or later, 003_37c537ccfc62a87e.txt"


def test_no_page_shows_none_as_a_label(built: Path):
    """The citations page's source facet, and a record page's links, name every source."""
    datasette = serve.datasette(built / "build")
    for path in (f"/{serve.DATABASE}/citations", f"/{serve.DATABASE}/citations?_facet=source_id",
                 f"/{serve.DATABASE}/quotes_with_speakers",
                 f"/{serve.DATABASE}/source_statements?source_id=report-phaseout-daesh-occupation"):
        response = asyncio.run(datasette.client.get(path))
        assert response.status_code == 200, path
        assert ">None<" not in response.text, path
        assert "Published 2024-09-27 or later, 003_37c537ccfc62a87e.txt" in response.text, path


def test_a_view_page_shows_the_view_not_a_canned_query_of_its_name(built: Path):
    datasette = serve.datasette(built / "build")
    for table in build.csv_tables():
        response = asyncio.run(datasette.client.get(f"/{serve.DATABASE}/{table.name}.json?_shape=objects&_size=1"))
        assert response.status_code == 200, table.name
        names = [column.name for column in table.columns]
        assert response.json()["columns"] == names, table.name  # a table with no rows too
        assert all(list(row) == names for row in response.json()["rows"]), table.name


# --------------------------------------------------------------------------- dates that sort


@pytest.mark.parametrize(
    ("date", "sort_day"),
    [
        ({"value": "2025-09", "precision": "month", "qualifier": "no_later_than"}, "2025-09-01"),
        ({"value": "2025-09", "precision": "month", "qualifier": "no_later_than", "latest": "2025-06-30"}, "2025-06-30"),
        ({"value": "2026-09", "precision": "month", "qualifier": "no_earlier_than"}, "2026-09-01"),
        ({"value": "2024-09", "precision": "month", "earliest": "2024-09-27"}, "2024-09-27"),
        ({"value": "2021", "precision": "year", "qualifier": "circa"}, "2021-01-01"),
    ],
)
def test_every_date_has_a_day_to_sort_by(date, sort_day):
    assert FuzzyDate.model_validate(date).sort_day() == sort_day


def test_the_sort_column_of_a_given_date_is_never_empty(built: Path):
    for table in layout.table_layout():
        for column in table.columns:
            if column.name.endswith(f"_{layout.SORT_SUFFIX}"):
                with open(built / "build" / "csv" / f"{table.name}.csv", encoding="utf-8", newline="") as file:
                    rows = list(csv.DictReader(file))
                value = column.name.removesuffix(layout.SORT_SUFFIX) + "value"
                assert all(bool(row[column.name]) == bool(row[value]) for row in rows), (table.name, column.name)


# --------------------------------------------------------------------------- the codebook


def test_every_vocabulary_value_has_a_meaning():
    """Each Literal of the models has an entry in VOCABULARIES with exactly its values, each meaning written."""
    literals = set()

    def walk(model):
        for spec in field_specs(model):
            if spec.enum:
                literals.add(spec.enum)
            if is_model(spec.base):
                walk(spec.base)

    for model in COLLECTIONS.values():
        walk(model)
    assert literals == {get_args(vocabulary) for vocabulary in VOCABULARIES}
    for enum in literals:
        meanings = vocabulary_meanings(enum)
        assert tuple(meanings) == enum and all(text.strip() for text in meanings.values()), enum


def test_the_codebook_covers_every_table_column_and_value(repo: Path):
    text = (repo / "docs" / "codebook.md").read_text(encoding="utf-8")
    assert text == codebook.to_markdown(codebook.codebook(build.csv_tables()))
    for table in build.csv_tables():
        section = text.split(f"### `{table.name}`\n", 1)[1].split("\n### ", 1)[0]
        for column in table.columns:
            assert f"| `{column.name}` |" in section, (table.name, column.name)
    for meanings in VOCABULARIES.values():
        for value, meaning in meanings.items():
            assert f"| `{value}` | {meaning} |" in text
    for heading in ("## Dates, bounds and qualifiers", "## Corroboration", "## Labels", "## Worked examples"):
        assert heading in text


def test_the_build_writes_the_codebook_for_the_site(built: Path):
    out = built / "build"
    assert (out / build.CODEBOOK).read_text(encoding="utf-8") == (REPO / "docs" / "codebook.md").read_text(encoding="utf-8")
    html = (out / build.CODEBOOK_HTML).read_text(encoding="utf-8")
    assert html.startswith('<article class="codebook">') and "<code>quotes_with_speakers</code>" in html


def test_the_codebook_escapes_what_it_renders():
    blocks = [codebook.Heading(2, "a <b> & `c<d>`"), codebook.Grid(("x",), (("<script>|",),)),
              codebook.Code("python", "</code><script>")]
    html = codebook.to_html(blocks)
    assert "<script>" not in html and "<b>" not in html and "<code>c&lt;d&gt;</code>" in html
    markdown = codebook.to_markdown(blocks)
    assert "a \\<b\\> & `c<d>`" in markdown and "| \\<script\\>\\| |" in markdown
