"""The build: tables per the layout, real SQLite checks, full-text search, views, determinism, atomicity."""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from datasette.utils import detect_fts

from iraq_transition import build, layout, site_config, store, timeline, validate
from iraq_transition.cache_home import cache_directory
from iraq_transition.load import Project
from iraq_transition.models import COLLECTIONS
from iraq_transition.fields import citations
from iraq_transition.validate import Dataset, validate_project

REPO = Path(__file__).resolve().parent.parent
SEEDS = {"pentagon-statement": "000_adbaac8c2019ffeb.txt", "statement-rewrite": "002_7a0b9a0022a58a96.txt"}

# A small project that uses every shape of the models: nested dates and places, lists of strings,
# child lists with their own citations, every kind of reference, booleans, floats, a rewritten source.
SMALL_RECORDS = {
    "sources/pentagon-statement": """
id: pentagon-statement
file: 000_adbaac8c2019ffeb.txt
sha256: {sha_000}
language: en
published: {{value: '2024-09', precision: month}}
publisher: Test publisher
headline: Test headline
url: https://example.org/story
""",
    "sources/statement-rewrite": """
id: statement-rewrite
file: 002_7a0b9a0022a58a96.txt
sha256: {sha_002}
language: en
published: {{value: '2024-09-27', precision: day, qualifier: no_earlier_than}}
same_story_as: pentagon-statement
""",
    "actors/united-states": """
id: united-states
name: United States
aliases: [U.S., US]
kind: state
editorial:
  - fields: [aliases]
    basis: The usual abbreviations, for tests.
citations:
  - source: pentagon-statement
    quote: The Biden administration and Iraqi leaders said
    supports: [name]
""",
    "actors/iraq": """
id: iraq
name: Iraq
kind: state
citations:
  - source: pentagon-statement
    quote: The Biden administration and Iraqi leaders said
    supports: [name]
""",
    "actors/sabrina-singh": """
id: sabrina-singh
name: Sabrina Singh
kind: person
affiliation: united-states
positions:
  - title: Deputy Pentagon Press Secretary
    organisation: united-states
    as_of: {value: '2024-09-27', precision: day}
    citations:
      - source: statement-rewrite
        quote: U.S. Deputy Pentagon Press Secretary Sabrina Singh
        supports: [title, organisation, as_of]
citations:
  - source: statement-rewrite
    quote: U.S. Deputy Pentagon Press Secretary Sabrina Singh
    supports: [name, affiliation]
""",
    "actors/unnamed-official": """
id: unnamed-official
name: the official
kind: person
unnamed: true
citations:
  - source: pentagon-statement
    quote: the official warned that ISIS remains a persistent threat
    supports: [name, unnamed]
""",
    "events/joint-statement": """
id: joint-statement
title: Joint statement on the transition
description: The United States and Iraq release a joint statement on the transition.
event_type: statement
status: occurred
date: {value: '2024-09-27', precision: day}
participants:
  - {actor: united-states, role: party}
  - {actor: iraq, role: party}
citations:
  - source: statement-rewrite
    quote: According to a joint statement released on Sept. 27 by the United States and Iraq
    supports: [status, date, participants]
""",
    "events/mission-ends": """
id: mission-ends
title: Coalition military mission in Iraq to conclude
description: The statement outlines a plan to conclude the coalition's military mission in Iraq.
event_type: mission_change
status: planned
date: {value: '2025-09', precision: month, qualifier: no_later_than}
place: {country: IQ, name: Iraq, precision: country}
links:
  - {event: joint-statement, relation: result_of}
framings:
  - wording: transition
    attributed_to: united-states
    citations:
      - source: pentagon-statement
        quote: will transition to a new phase
        supports: [wording, attributed_to]
citations:
  - source: pentagon-statement
    quote: concluding the coalition’s military mission by September 2025
    supports: [status, date, place]
  - source: statement-rewrite
    quote: conclude the coalition’s military mission by September 2025
    supports: [status, date]
""",
    "events/syria-work-continues": """
id: syria-work-continues
title: Coalition work in Syria to continue
description: The coalition's work in Syria is to continue until at least September 2026.
event_type: mission_change
status: expected
date: {value: '2026-09', precision: month, qualifier: no_earlier_than}
place: {country: SY, base: northeastern-syria, precision: region}
citations:
  - source: pentagon-statement
    quote: the coalition’s work in Syria will continue until at least September 2026
    supports: [status, date, place]
""",
    "quotes/never-quite-out": """
id: never-quite-out
text: With ISIS, you can often say they’re down, but they’re never quite out
speaker_id: unnamed-official
speaker_as_described: the official
occasion_event: joint-statement
directness: direct
citations:
  - source: pentagon-statement
    quote: “With ISIS, you can often say they’re down, but they’re never quite out,” the official said.
    supports: [text, speaker_id, speaker_as_described, occasion_event]
""",
    "force_levels/us-troops-iraq": """
id: us-troops-iraq
actor: united-states
country: IQ
best: 2500
wording: the 2,500 U.S. troops
qualifier: exact
as_of: {value: '2024-09', precision: month}
status: current
citations:
  - source: pentagon-statement
    quote: the 2,500 U.S. troops still serving in Iraq
    supports: [actor, country, best, wording, qualifier, as_of, status]
  - source: statement-rewrite
    quote: the 2,500 U.S. troops remaining in Iraq
    supports: [actor, country, best, wording, status]
""",
    "bases/northeastern-syria": """
id: northeastern-syria
name: northeastern Syria
site_type: region
country: SY
latitude: 36.5
longitude: 40.75
coordinate_precision: region
coordinate_basis: Rough centroid of the region, for tests.
postures:
  - posture: active
    status: expected
    actor: united-states
    reported: {value: '2024-09', precision: month}
    description: Coalition work in Syria continues until at least September 2026.
    citations:
      - source: pentagon-statement
        quote: the coalition’s work in Syria will continue until at least September 2026
        supports: [posture, status, actor, reported]
citations:
  - source: pentagon-statement
    quote: particularly in northeastern Syria
    supports: [name, country]
""",
}


def write_small_project(root: Path) -> Path:
    """A valid project in ``root`` with the records above and the two seeds they cite."""
    (root / "seeds").mkdir(parents=True)
    hashes = {}
    for name in SEEDS.values():
        data = (REPO / "seeds" / name).read_bytes()
        (root / "seeds" / name).write_bytes(data)
        hashes[f"sha_{name[:3]}"] = hashlib.sha256(data).hexdigest()
    for key, text in SMALL_RECORDS.items():
        path = root / "data" / f"{key}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip().format(**hashes) if key.startswith("sources/") else text.lstrip(), encoding="utf-8")
    return root


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_small_project(tmp_path / "small")


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.relative_to(directory).as_posix(): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(str.maketrans("‘’“”", "''\"\""))
    return " ".join(text.split())


# --------------------------------------------------------------------------- layout


def test_layout_has_the_agreed_tables_and_columns():
    tables = {table.name: table for table in layout.table_layout()}
    assert set(tables) == {
        *COLLECTIONS,
        "actor_positions",
        "event_participants",
        "event_links",
        "event_framings",
        "base_postures",
        "citations",
        "source_shared_upstream",
        "actor_editorial",
        "event_editorial",
        "quote_editorial",
        "force_level_editorial",
        "base_editorial",
    }
    events = [column.name for column in tables["events"].columns]
    for name in ("date_value", "date_precision", "date_qualifier", "date_earliest", "date_latest", "date_start", "date_end",
                 "end_date_start", "place_country", "place_name", "place_base", "place_precision"):
        assert name in events
    assert "citations" not in events and "participants" not in events
    assert [c.name for c in tables["event_participants"].columns][:2] == ["event_id", "position"]
    assert tables["event_participants"].primary_key == ("event_id", "position")
    assert [c.name for c in tables["citations"].columns] == [
        "record_type", "record_id", "part", "position", "source_id", "quote", "prefix", "suffix", "supports", "start_offset",
        "end_offset",
    ]
    assert tables["sources"].columns[-1].name == "text"
    fks = {(table.name, column): target for table in tables.values() for column, target in table.foreign_keys}
    assert fks == {
        ("sources", "same_story_as"): "sources",
        ("source_shared_upstream", "source_id"): "sources",
        ("source_shared_upstream", "source"): "sources",
        ("actor_editorial", "actor_id"): "actors",
        ("event_editorial", "event_id"): "events",
        ("quote_editorial", "quote_id"): "quotes",
        ("force_level_editorial", "force_level_id"): "force_levels",
        ("base_editorial", "base_id"): "bases",
        ("actors", "affiliation"): "actors",
        ("actor_positions", "actor_id"): "actors",
        ("actor_positions", "organisation"): "actors",
        ("events", "place_base"): "bases",
        ("event_participants", "event_id"): "events",
        ("event_participants", "actor"): "actors",
        ("event_links", "event_id"): "events",
        ("event_links", "event"): "events",
        ("event_framings", "event_id"): "events",
        ("event_framings", "attributed_to"): "actors",
        ("quotes", "speaker_id"): "actors",
        ("quotes", "occasion_event"): "events",
        ("quotes", "variant_of"): "quotes",
        ("force_levels", "actor"): "actors",
        ("base_postures", "base_id"): "bases",
        ("base_postures", "actor"): "actors",
        ("citations", "source_id"): "sources",
    }
    types = {(table.name, c.name): c.sql_type for table in tables.values() for c in table.columns}
    assert types[("bases", "latitude")] == "REAL"
    assert types[("force_levels", "best")] == "INTEGER"
    assert types[("actors", "unnamed")] == "INTEGER"
    assert types[("actors", "aliases")] == "TEXT"


def test_layout_descriptions_come_from_the_models():
    for table in layout.table_layout():
        assert table.description
        for column in table.columns:
            assert column.description, f"{table.name}.{column.name} has no description"
    quotes = layout.table("quotes")
    described = {c.name: c.description for c in quotes.columns}
    assert described["speaker_id"] == COLLECTIONS["quotes"].model_fields["speaker_id"].description


# --------------------------------------------------------------------------- the database


def test_build_writes_a_consistent_database(small: Path, cli):
    result = cli("--root", small, "build")
    assert result.code == 0, result.err
    db = small / "build" / build.DATABASE
    for table in layout.table_layout():
        assert (small / "build" / "csv" / f"{table.name}.csv").is_file()
    assert (small / "build" / build.TIMELINE).read_text(encoding="utf-8").startswith("<svg")
    with _connect(db) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for table in layout.table_layout():
            declared = {(row[3], row[2]) for row in connection.execute(f"PRAGMA foreign_key_list({table.name})")}
            assert declared == set(table.foreign_keys)
            leading = {
                connection.execute(f"PRAGMA index_info('{index[1]}')").fetchone()[2]
                for index in connection.execute(f"PRAGMA index_list({table.name})")
            }
            for column, _ in table.foreign_keys:
                assert column in leading, f"no index on {table.name}.{column}"
        dataset, problems = validate_project(Project(small))
        assert problems == []
        for collection, records in dataset.records.items():
            ids = [row[0] for row in connection.execute(f"SELECT id FROM {collection} ORDER BY rowid")]
            assert ids == sorted(records)
        assert connection.execute("SELECT count(*) FROM event_participants").fetchone() == (2,)
        row = connection.execute(
            "SELECT date_value, date_qualifier, date_start, date_end FROM events WHERE id = 'mission-ends'"
        ).fetchone()
        assert row == ("2025-09", "no_later_than", None, "2025-09-30")
        assert connection.execute(
            "SELECT date_start, date_end FROM events WHERE id = 'syria-work-continues'"
        ).fetchone() == ("2026-09-01", None)
        assert connection.execute(
            "SELECT typeof(latitude), latitude, typeof(longitude) FROM bases"
        ).fetchone() == ("real", 36.5, "real")
        assert dict(connection.execute("SELECT id, unnamed FROM actors")) == {
            "iraq": 0, "sabrina-singh": 0, "united-states": 0, "unnamed-official": 1
        }
        aliases = connection.execute("SELECT aliases FROM actors WHERE id = 'united-states'").fetchone()[0]
        assert json.loads(aliases) == ["U.S.", "US"]
        assert connection.execute("SELECT text FROM sources WHERE id = 'statement-rewrite'").fetchone()[0] == (
            (REPO / "seeds" / SEEDS["statement-rewrite"]).read_text(encoding="utf-8")
        )


def test_citations_at_every_depth_point_into_the_source_text(small: Path, cli):
    assert cli("--root", small, "build").code == 0
    with _connect(small / "build" / build.DATABASE) as connection:
        rows = connection.execute(
            "SELECT c.record_type, c.record_id, c.part, c.position, c.quote, substr(s.text, c.start_offset + 1, "
            "c.end_offset - c.start_offset) FROM citations c JOIN sources s ON s.id = c.source_id"
        ).fetchall()
    parts = {(record_type, record_id, part) for record_type, record_id, part, *_ in rows}
    assert ("actors", "sabrina-singh", "positions.0") in parts
    assert ("events", "mission-ends", "framings.0") in parts
    assert ("bases", "northeastern-syria", "postures.0") in parts
    assert ("events", "mission-ends", "") in parts
    for *_, quote, span in rows:
        assert _normal(span) == _normal(quote)
    dataset, _ = validate_project(Project(small))
    assert len(rows) == sum(
        len(list(citations(record))) for records in dataset.records.values() for record in records.values()
    )


def test_full_text_search_is_detected_by_datasette(small: Path, cli):
    assert cli("--root", small, "build").code == 0
    with _connect(small / "build" / build.DATABASE) as connection:
        for table in site_config.FULL_TEXT:
            assert detect_fts(connection, table) == f"{table}_fts"
        found = connection.execute(
            "SELECT quotes.id FROM quotes JOIN quotes_fts ON quotes_fts.rowid = quotes.rowid "
            "WHERE quotes_fts MATCH ?", ['"never quite out"']
        ).fetchall()
        assert found == [("never-quite-out",)]
        found = connection.execute(
            "SELECT events.id FROM events JOIN events_fts ON events_fts.rowid = events.rowid "
            "WHERE events_fts MATCH 'syria' ORDER BY events.id"
        ).fetchall()
        assert found == [("syria-work-continues",)]


def test_views(small: Path, cli):
    assert cli("--root", small, "build").code == 0
    with _connect(small / "build" / build.DATABASE) as connection:
        connection.row_factory = sqlite3.Row
        timeline = [dict(row) for row in connection.execute("SELECT * FROM timeline")]
        assert [row["id"] for row in timeline] == ["joint-statement", "mission-ends", "syria-work-continues"]
        assert timeline[0]["occurred"] == "Joint statement on the transition" and timeline[0]["announced_planned_or_expected"] is None
        assert timeline[1]["occurred"] is None and timeline[1]["announced_planned_or_expected"]
        quote = dict(connection.execute("SELECT * FROM quotes_with_speakers").fetchone())
        assert quote["speaker"] == "the official" and quote["speaker_unnamed"] == 1
        assert json.loads(quote["source_ids"]) == ["pentagon-statement"] and json.loads(quote["sources"]) == ["Test headline"]
        assert quote["occasion_event_title"] == "Joint statement on the transition"
        corroboration = {
            (row["record_type"], row["record_id"]): dict(row) for row in connection.execute("SELECT * FROM corroboration")
        }
        troops = corroboration[("force_levels", "us-troops-iraq")]
        # statement-rewrite is the same story as pentagon-statement: two sources, one independent report
        assert (troops["citations"], troops["sources"], troops["independent_reports"]) == (2, 2, 1)
        assert json.loads(troops["source_ids"]) == ["pentagon-statement", "statement-rewrite"]
        assert troops["label"] == "the 2,500 U.S. troops"
        singh = corroboration[("actors", "sabrina-singh")]
        assert (singh["citations"], singh["sources"], singh["independent_reports"]) == (1, 1, 1)  # its own citation
        claims = {
            (row["part"], row["claim"]): (row["citations"], row["independent_reports"])
            for row in connection.execute("SELECT * FROM claim_corroboration WHERE record_id = 'sabrina-singh'")
        }
        assert claims == {("", "name"): (1, 1), ("", "affiliation"): (1, 1), ("positions.0", "title"): (1, 1),
                          ("positions.0", "organisation"): (1, 1), ("positions.0", "as_of"): (1, 1)}
        dated = connection.execute("SELECT citations, sources, independent_reports FROM claim_corroboration "
                                   "WHERE record_id = 'mission-ends' AND claim = 'place'").fetchone()
        assert tuple(dated) == (1, 1, 1)  # only the citation that gives the place counts for it
        statements = connection.execute(
            "SELECT record_type, record_id, label FROM source_statements WHERE source_id = 'statement-rewrite'"
        ).fetchall()
        assert ("quotes", "never-quite-out", None) not in [tuple(row) for row in statements]
        assert ("events", "joint-statement", "Joint statement on the transition") in [tuple(row) for row in statements]


def test_committed_data_builds_cleanly(repo_copy: Path, cli):
    assert any((repo_copy / "data").glob("*/*.yaml")), "data/ holds no records"
    result = cli("--root", repo_copy, "build")
    assert result.code == 0, result.out + result.err
    dataset, _ = validate_project(Project(repo_copy))
    with _connect(repo_copy / "build" / build.DATABASE) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for collection, records in dataset.records.items():
            assert connection.execute(f"SELECT count(*) FROM {collection}").fetchone() == (len(records),)


# --------------------------------------------------------------------------- determinism and atomicity


def test_builds_are_byte_identical(small: Path, tmp_path: Path, cli):
    assert cli("--root", small, "build").code == 0
    first = _files(small / "build")
    assert cli("--root", small, "build", "--out", tmp_path / "again").code == 0
    assert cli("--root", small, "build").code == 0
    assert _files(tmp_path / "again") == first
    assert _files(small / "build") == first
    assert {"iraq-transition.db", "timeline.svg", "csv/events.csv"} <= set(first)


def test_the_build_does_not_load_the_server(small: Path):
    """build reads the site's configuration (facets, sorts) itself: serve imports build, never the other way."""
    script = (
        "import sys; from iraq_transition.cli import main; status = main(sys.argv[1:]); "
        "print(status, sorted(name for name in sys.modules if name.startswith('iraq_transition.')))"
    )
    command = [sys.executable, "-c", script, "--root", str(small), "build"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    status, modules = result.stdout.splitlines()[-1].split(" ", 1)
    assert status == "0" and "'iraq_transition.build'" in modules, result.stdout + result.stderr
    assert "'iraq_transition.serve'" not in modules


class _ItemsOnly(Dataset):
    """The records of a dataset given only through :meth:`items`, which counts its calls per collection."""

    def __init__(self, dataset: Dataset) -> None:
        super().__init__({}, dataset.texts)
        self.whole = dataset
        self.calls: Counter = Counter()

    def items(self, collection: str):
        self.calls[collection] += 1
        return self.whole.items(collection)


def test_the_build_streams_the_records_once_in_batches(small: Path, tmp_path: Path, monkeypatch):
    dataset, problems = validate_project(Project(small))
    assert problems == []
    counts = build.build(dataset, tmp_path / "whole")
    assert counts == {collection: sum(1 for _ in dataset.items(collection)) for collection in COLLECTIONS}
    streamed = _ItemsOnly(dataset)
    monkeypatch.setattr(build, "BATCH", 2)  # several batches per collection, and a last one not full
    assert build.build(streamed, tmp_path / "streamed") == counts
    assert streamed.calls == dict.fromkeys(COLLECTIONS, 1)  # one pass over each collection, the timeline's included
    assert _files(tmp_path / "streamed") == _files(tmp_path / "whole")


def _making_pids(monkeypatch, record: Path, then=None) -> None:
    """Have each batch's rows note the process that makes them in ``record`` (and then call ``then``)."""
    real_rows = build.record_rows

    def noted_rows(plan, record_id, *args):
        with record.open("a") as file:
            file.write(f"{os.getpid()}\n")
        if then is not None:
            then()
        return real_rows(plan, record_id, *args)

    monkeypatch.setattr(build, "record_rows", noted_rows)


def _gone(pids: set[int]) -> bool:
    """Whether none of ``pids`` is a process any more (nor a child nobody waited for)."""
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


def test_rows_made_in_a_process_of_their_own_give_the_same_bytes(small: Path, tmp_path: Path, monkeypatch):
    dataset, problems = validate_project(Project(small), use_cache=False)  # no rows kept from the build before
    assert problems == []
    counts = build.build(dataset, tmp_path / "here")  # fewer records than a batch: made in this process
    pids = tmp_path / "pids"
    _making_pids(monkeypatch, pids)
    monkeypatch.setattr(build, "BATCH", 2)  # more records than a batch: made in a forked process
    assert build.build(dataset, tmp_path / "forked") == counts
    makers = {int(line) for line in pids.read_text().split()}
    assert makers and os.getpid() not in makers and _gone(makers)
    assert _files(tmp_path / "forked") == _files(tmp_path / "here")


def _making_ids(monkeypatch, record: Path) -> None:
    """Have the making of rows note the id of each record it makes rows of in ``record`` (in any process)."""
    real_rows = build.record_rows

    def noted_rows(plan, record_id, *args):
        with record.open("a") as file:
            file.write(f"{plan.collection}/{record_id}\n")
        return real_rows(plan, record_id, *args)

    monkeypatch.setattr(build, "record_rows", noted_rows)


def _made_again(record: Path) -> list[str]:
    """The records whose rows were made (see :func:`_making_ids`) since the last call; forgets them."""
    made = sorted(record.read_text().split()) if record.exists() else []
    record.unlink(missing_ok=True)
    return made


def _cache_database(root: Path) -> Path:
    return next(cache_directory(root).glob("cache-*.sqlite3"))


@pytest.mark.parametrize("batch", [build.BATCH, 2])  # the rows made here, and in a forked process
def test_a_build_makes_again_only_the_rows_of_what_changed_and_gives_the_same_bytes(
        small: Path, tmp_path: Path, monkeypatch, batch):
    monkeypatch.setattr(build, "BATCH", batch)
    made = tmp_path / "made"
    _making_ids(monkeypatch, made)
    every = {f"{collection}/{record_id}" for collection in COLLECTIONS
             for record_id, _ in validate_project(Project(small), use_cache=False)[0].items(collection)}
    _made_again(made)
    build.build(validate_project(Project(small))[0], small / "build")
    assert set(_made_again(made)) == every  # the first build makes every record's rows, and keeps them
    record = small / "data" / "events" / "mission-ends.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace("title: ", "title: Edited ", 1), encoding="utf-8")
    dataset, problems = validate_project(Project(small))
    assert problems == []
    build.build(dataset, small / "build")
    assert _made_again(made) == ["events/mission-ends"]
    build.build(validate_project(Project(small), use_cache=False)[0], tmp_path / "without-cache")
    assert _files(small / "build") == _files(tmp_path / "without-cache")
    assert b"Edited " in _files(small / "build")["csv/events.csv"]


def test_rows_kept_in_the_cache_that_are_damaged_or_another_records_are_made_again(small: Path, tmp_path: Path,
                                                                                     monkeypatch):
    build.build(validate_project(Project(small))[0], tmp_path / "first")
    with contextlib.closing(sqlite3.connect(_cache_database(small))) as connection:
        kept = connection.execute("select made.id, made.blob, files.path from made join files using (id) "
                                  "order by files.path").fetchall()
        paths = {row: path.decode() for row, _, path in kept}
        (flipped, blob, _), (first, first_blob, _), (second, second_blob, _) = kept[:3]
        connection.execute("update made set blob = ? where id = ?", (blob[:-1] + bytes([blob[-1] ^ 1]), flipped))
        connection.execute("update made set blob = ? where id = ?", (second_blob, first))  # swapped
        connection.execute("update made set blob = ? where id = ?", (first_blob, second))
        connection.commit()
    made = tmp_path / "made"
    _making_ids(monkeypatch, made)
    build.build(validate_project(Project(small))[0], tmp_path / "again")
    assert _made_again(made) == sorted(paths[row] for row in (flipped, first, second))
    assert _files(tmp_path / "again") == _files(tmp_path / "first")


def test_rows_kept_for_records_are_made_again_when_a_seed_text_changes(small: Path, tmp_path: Path, monkeypatch):
    build.build(validate_project(Project(small))[0], small / "build")
    seed = small / "seeds" / SEEDS["pentagon-statement"]
    seed.write_bytes(b"A line before the article.\n" + seed.read_bytes())  # every citation of it moves
    source = small / "data" / "sources" / "pentagon-statement.yaml"
    old = hashlib.sha256((REPO / "seeds" / SEEDS["pentagon-statement"]).read_bytes()).hexdigest()
    new = hashlib.sha256(seed.read_bytes()).hexdigest()
    source.write_text(source.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    made = tmp_path / "made"
    _making_ids(monkeypatch, made)
    dataset, problems = validate_project(Project(small))
    assert problems == []
    build.build(dataset, small / "build")
    assert "events/mission-ends" in _made_again(made)  # its file did not change, its citations' offsets did
    build.build(validate_project(Project(small), use_cache=False)[0], tmp_path / "without-cache")
    assert _files(small / "build") == _files(tmp_path / "without-cache")


def test_the_rows_kept_of_a_record_go_when_its_file_changes_or_goes(small: Path):
    build.build(validate_project(Project(small))[0], small / "build")
    record = small / "data" / "events" / "mission-ends.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace("title: ", "title: Edited ", 1), encoding="utf-8")
    (small / "data" / "quotes" / next(iter(sorted(os.listdir(small / "data" / "quotes"))))).unlink()
    dataset, problems = validate_project(Project(small))
    assert problems == []
    build.build(dataset, small / "build")
    with contextlib.closing(sqlite3.connect(_cache_database(small))) as connection:
        kept = {row for (row,) in connection.execute("select id from made")}
        files = {row for (row,) in connection.execute("select id from files")}
    assert kept and kept <= files  # none of a file's earlier rows, nor of a file that went, is left


def _forged(value, kind: str):
    """A value kept for a record, changed to another shape (one that this code never writes)."""
    tables, reported = value
    return {
        "not a pair": ("x",),
        "no tables": ((), reported),
        "no row of its own": (([], *tables[1:]), reported),
        "a row one column short": (([tables[0][0][:-1]], *tables[1:]), reported),
        "a row of another record": (([("another-record", *tables[0][0][1:])], *tables[1:]), reported),
        "a list in a cell": (([(*tables[0][0][:-1], ["a", "list"])], *tables[1:]), reported),
    }[kind]


@pytest.mark.parametrize("kind", ["not a pair", "no tables", "no row of its own", "a row one column short",
                                  "a row of another record", "a list in a cell"])
def test_rows_kept_in_the_cache_of_another_shape_are_made_again(small: Path, tmp_path: Path, monkeypatch, kind):
    """A blob sealed right (by other code, or by hand) whose value is not what this code makes is a cache miss."""
    dataset, _ = validate_project(Project(small))
    build.build(dataset, tmp_path / "first")
    key = dataset._kept._made_key
    with contextlib.closing(sqlite3.connect(_cache_database(small))) as connection:
        row, path, digest, blob = connection.execute(
            "select id, path, sha256, blob from made join files using (id) where path = ?", (b"events/mission-ends",)
        ).fetchone()
        sealed = store.row_key(path, digest) + key
        forged = store.seal(_forged(store.unseal(blob, sealed), kind), sealed)
        connection.execute("update made set blob = ? where id = ?", (forged, row))
        connection.commit()
    made = tmp_path / "made"
    _making_ids(monkeypatch, made)
    build.build(validate_project(Project(small))[0], tmp_path / "again")
    assert _made_again(made) == ["events/mission-ends"]
    assert _files(tmp_path / "again") == _files(tmp_path / "first")


def test_rows_kept_by_other_code_are_made_again(small: Path, tmp_path: Path, monkeypatch):
    """The rows are sealed with the code's version too: another version's, copied into this cache, are misses."""
    with monkeypatch.context() as patch:
        patch.setattr(validate, "code_version", lambda: "0123456789abcdef")
        build.build(validate_project(Project(small))[0], tmp_path / "other")
    made = tmp_path / "made"
    _making_ids(monkeypatch, made)
    build.build(validate_project(Project(small))[0], tmp_path / "this")
    assert len(_made_again(made)) == sum(1 for _ in (small / "data").rglob("*.yaml"))
    build.build(validate_project(Project(small))[0], tmp_path / "again")
    assert _made_again(made) == []


def test_no_rows_are_kept_for_a_file_whose_row_went_meanwhile(small: Path):
    dataset, _ = validate_project(Project(small))
    build.build(dataset, small / "build")
    dataset.keep([(10**9, b"rows of a file whose row a run replaced during this build")])
    with contextlib.closing(sqlite3.connect(_cache_database(small))) as connection:
        assert connection.execute("select count(*) from made where id not in (select id from files)").fetchone() == (0,)


def test_a_sqlite_error_that_the_module_raises_is_a_bug_reraised_not_an_attribute_error(tmp_path: Path):
    with pytest.raises(sqlite3.ProgrammingError):
        build._failure(sqlite3.ProgrammingError("Incorrect number of bindings supplied"), tmp_path / "build")


@pytest.mark.parametrize("listed", [True, False])  # a lane's events one by one, or counted by month
def test_the_builds_timeline_drawn_from_the_events_rows_is_the_one_drawn_from_their_records(
        small: Path, tmp_path: Path, monkeypatch, listed):
    if not listed:
        monkeypatch.setattr(timeline, "MAX_ROWS", 1)
    dataset = validate_project(Project(small))[0]
    build.build(dataset, tmp_path / "built")
    drawn = timeline.render_svg(dataset)
    assert ("too many to list" in drawn) is not listed
    assert (tmp_path / "built" / "timeline.svg").read_text(encoding="utf-8") == drawn


@pytest.mark.parametrize("failure, raised, message", [
    (build.BuildError("events/x: citations.0: span not found once in y"), build.BuildError, "span not found once"),
    (ValueError("a bug"), RuntimeError, "ValueError: a bug"),
    (None, OSError, "ended before it was done"),  # killed
])
def test_a_failure_of_the_process_making_the_rows_is_raised_here_and_leaves_the_previous_build(
        small: Path, tmp_path: Path, monkeypatch, failure, raised, message):
    dataset, problems = validate_project(Project(small), use_cache=False)  # no rows kept from the build before
    assert problems == []
    out = small / "build"
    build.build(dataset, out)
    before = _files(out)

    def fail():
        if failure is None:
            os.kill(os.getpid(), 9)
        raise failure

    pids = tmp_path / "pids"
    _making_pids(monkeypatch, pids, then=fail)
    monkeypatch.setattr(build, "BATCH", 2)
    with pytest.raises(raised, match=message):
        build.build(dataset, out)
    makers = {int(line) for line in pids.read_text().split()}
    assert makers and os.getpid() not in makers and _gone(makers)
    assert _files(out) == before
    assert _litter(small) == []


@pytest.mark.parametrize("part", ["record_rows", "_write_counted"])  # the row maker, the corroboration CSVs' writer
def test_a_forked_parts_full_disk_or_sqlite_failure_is_reported_as_the_builds_own(small: Path, monkeypatch, part):
    dataset, problems = validate_project(Project(small), use_cache=False)  # no rows kept from the build before
    assert problems == []
    out = small / "build"
    build.build(dataset, out)
    before = _files(out)
    full = OSError(errno.ENOSPC, "No space left on device", "build/csv/claim_corroboration.csv")
    broken = sqlite3.OperationalError("disk I/O error")
    broken.sqlite_errorname = "SQLITE_IOERR"
    monkeypatch.setattr(build, "BATCH", 2)  # forked
    for failure, said in [(full, "no room writing build/csv/claim_corroboration.csv (No space left on device): "
                                 "free some disk space"),
                          (broken, "SQLite could not write the database (disk I/O error): free some disk space"),
                          (MemoryError(), "not enough memory to build: close other programs")]:
        def fail(*args, failure=failure):
            raise failure

        monkeypatch.setattr(build, part, fail)
        with pytest.raises((OSError, sqlite3.Error, MemoryError)) as raised:
            build.build(dataset, out)
        assert type(raised.value) is type(failure)
        assert build._failure(raised.value, out).startswith(said)
        assert _files(out) == before
        assert _litter(small) == []


@pytest.mark.parametrize("failure", [csv.Error("a bug"), sqlite3.OperationalError("no such table: nope")])
def test_a_forked_parts_failure_comes_back_as_its_own_class_never_as_another_of_its_name(
        small: Path, monkeypatch, failure):
    """A failure is known by its module and name: csv's Error is no SQLite error (a bug: raised as one, with the
    traceback), SQLite's OperationalError comes back as itself."""
    dataset, problems = validate_project(Project(small))
    assert problems == []

    def fail(*args):
        raise failure

    monkeypatch.setattr(build, "BATCH", 2)  # forked
    monkeypatch.setattr(build, "_write_counted", fail)
    expected = RuntimeError if isinstance(failure, csv.Error) else type(failure)
    with pytest.raises(expected) as raised:
        build.build(dataset, small / "build")
    assert type(raised.value) is expected and str(failure) in str(raised.value)


def _litter(parent: Path) -> list[str]:
    """Temporary build directories left in ``parent``."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and ("-new-" in p.name or "-old-" in p.name))


def _age_litter(parent: Path) -> None:
    """Make the temporary build directories in ``parent`` look older than a build takes to lock its own."""
    past = time.time() - 2 * build.STALE_AFTER
    for name in _litter(parent):
        os.utime(parent / name, (past, past), follow_symlinks=False)


def test_invalid_data_leaves_the_previous_build_untouched(small: Path, cli):
    assert cli("--root", small, "build").code == 0
    before = _files(small / "build")
    record = small / "data" / "events" / "mission-ends.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace("status: planned", "status: planed"), encoding="utf-8")
    result = cli("--root", small, "build")
    assert result.code == 1
    assert "Traceback" not in result.err
    assert "data/events/mission-ends.yaml:5:9: events/mission-ends: status:" in result.out
    assert _files(small / "build") == before
    assert _litter(small) == []


def test_a_failure_midway_leaves_the_previous_build_untouched(small: Path, monkeypatch):
    dataset, problems = validate_project(Project(small), use_cache=False)  # no rows kept from the build before
    assert problems == []
    out = small / "build"
    build.build(dataset, out)
    before = _files(out)

    def broken_csvs(directory):
        raise OSError("disk full (injected)")

    with monkeypatch.context() as patch:
        patch.setattr(build, "_csv_files", broken_csvs)
        with pytest.raises(OSError, match="injected"):
            build.build(dataset, out)
    assert _files(out) == before
    assert _litter(small) == []

    real_rows = build.record_rows

    def rows_with_a_dangling_reference(plan, record_id, *args):
        rows = real_rows(plan, record_id, *args)
        if record_id == "mission-ends":
            rows["event_participants"].append(("mission-ends", 99, "nobody", "party"))
        return rows

    with monkeypatch.context() as patch:
        patch.setattr(build, "record_rows", rows_with_a_dangling_reference)
        with pytest.raises(build.BuildError, match="foreign keys"):
            build.build(dataset, out)
    assert _files(out) == before
    assert _litter(small) == []


def _build_with_file_size_limit(root: Path, limit: int) -> subprocess.CompletedProcess:
    """``build`` as a process whose every write beyond ``limit`` bytes of a file fails (EFBIG: Python ignores
    SIGXFSZ), as writes fail on a full disk."""
    return subprocess.run(
        [sys.executable, "-m", "iraq_transition", "--root", str(root), "build"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )


def test_a_full_disk_is_reported_in_one_line_and_leaves_the_previous_build(small: Path, cli):
    assert cli("--root", small, "build").code == 0
    before = _files(small / "build")
    record = small / "data" / "events" / "mission-ends.yaml"
    messages = set()
    for limit in (4096, 64 * 1024, 200 * 1024):  # a CSV, the database, the database's last pages
        text = record.read_text(encoding="utf-8").replace("title: ", f"title: ({limit}) ", 1)
        record.write_text(text, encoding="utf-8")  # a change, so that the build has something to write
        result = _build_with_file_size_limit(small, limit)
        assert result.returncode == 1, (limit, result.stderr)
        assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "free some disk space" in result.stderr and f"{small / 'build'} is left as it was" in result.stderr
        messages.add(result.stderr.split(":")[1].split("(")[0].strip())
        assert _files(small / "build") == before
        assert _litter(small) == []
    assert messages == {"no room", "SQLite could not write the database"}  # both ways a write fails were met


def _complete(out: Path) -> bool:
    """Whether ``out`` holds a whole build output: every table in the database and as a CSV file, the metadata
    and the timeline."""
    tables = {table.name for table in layout.table_layout()}
    connection = _connect(out / build.DATABASE)
    try:
        names = {name for (name,) in connection.execute("select name from sqlite_master where type = 'table'")}
    finally:
        connection.close()
    csvs = {path.stem for path in (out / build.CSV_DIR).glob("*.csv")}
    written = {table.name for table in build.csv_tables()}
    return tables <= names and csvs == written and all(
        (out / name).is_file() for name in (build.METADATA, build.TIMELINE, build.CODEBOOK, build.CODEBOOK_HTML)
    )


def test_a_killed_build_leaves_a_whole_build_and_the_next_one_cleans_up(small: Path):
    command = [sys.executable, "-m", "iraq_transition", "--root", str(small), "build", "--no-cache"]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    duration = time.monotonic() - started
    chance = random.Random(20)
    for _ in range(20):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(chance.uniform(0, duration))
        process.kill()
        process.wait(timeout=60)
        assert _complete(small / "build")
    _age_litter(small)
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    assert _complete(small / "build")
    assert _litter(small) == []


def test_without_an_atomic_exchange_the_build_swaps_with_two_renames(small: Path, monkeypatch):
    dataset, problems = validate_project(Project(small))
    assert problems == []
    monkeypatch.setattr(build, "_exchange", lambda first, second: False)
    build.build(dataset, small / "build")
    first = _files(small / "build")
    build.build(dataset, small / "build")
    assert _files(small / "build") == first
    assert _litter(small) == []


def test_a_build_never_removes_the_staging_directory_of_a_running_build(small: Path):
    dataset, problems = validate_project(Project(small))
    running = small / ".build-new-running"
    running.mkdir()
    claim = build._claim(running)
    _age_litter(small)  # a build that has run for long: only its lock keeps it
    try:
        build.build(dataset, small / "build")
        assert running.is_dir()
    finally:
        os.close(claim)
    just_made = small / ".build-new-just-made"  # by a build that has not locked it yet
    just_made.mkdir()
    build.build(dataset, small / "build")
    assert just_made.is_dir() and not running.exists()  # running: unlocked now, and old enough
    _age_litter(small)
    build.build(dataset, small / "build")
    assert _litter(small) == []


def test_a_build_replaces_an_output_whose_database_was_deleted(small: Path, cli):
    assert cli("--root", small, "build").code == 0
    (small / "build" / build.DATABASE).unlink()
    result = cli("--root", small, "build")
    assert result.code == 0, result.err
    assert _complete(small / "build")


def test_refuses_to_replace_a_directory_it_did_not_write(small: Path, tmp_path: Path, cli):
    elsewhere = tmp_path / "precious"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("keep me", encoding="utf-8")
    result = cli("--root", small, "build", "--out", elsewhere)
    assert result.code == 2
    assert "refusing to replace" in result.err
    assert (elsewhere / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["notes.txt"]
    assert cli("--root", small, "build", "--out", elsewhere / "notes.txt").code == 2
    assert (elsewhere / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert _litter(tmp_path) == [] and _litter(elsewhere) == []


def test_build_does_not_import_frictionless():
    code = "import sys, iraq_transition.build; assert 'frictionless' not in sys.modules, 'frictionless imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
