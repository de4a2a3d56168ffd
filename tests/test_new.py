"""``iraq-transition new``: commented templates that fail validation until filled in."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from test_cli import assert_clean_failure, read_only, snapshot

from iraq_transition.fmt import MODELINE, scalar
from iraq_transition.models import COLLECTIONS

SEED = "003_37c537ccfc62a87e.txt"
SPAN = "“Our footprint is going to be changing within the country,” Pentagon spokesperson Sabrina Singh told reporters"
PLACEHOLDER = re.compile(r"^(?P<indent> *(?:- )?)(?P<field>\w+):  # TODO$")
ITEM_PLACEHOLDER = re.compile(r"^(?P<indent> *)- # TODO$")
"""The one list of texts a template asks for: a citation's supports."""


def _values(root: Path) -> dict[str, dict[str, object]]:
    """Real values for the required fields of each collection, built on one real seed span."""
    sha256 = hashlib.sha256((root / "seeds" / SEED).read_bytes()).hexdigest()
    def cite(*supports: str) -> dict[str, object]:
        return {"source": "report-phaseout", "quote": SPAN, "supports": supports}

    return {
        "sources": {"file": SEED, "sha256": sha256, "language": "en"},
        "actors": {"name": "Sabrina Singh", "kind": "person", **cite("name")},
        "events": {
            "title": "Pentagon press briefing",
            "description": "A Pentagon spokesperson briefed reporters.",
            "event_type": "briefing",
            "status": "occurred",
            **cite("status"),
        },
        "quotes": {
            "text": "Our footprint is going to be changing within the country,",
            "speaker_id": "sabrina-singh",
            "speaker_as_described": "Pentagon spokesperson Sabrina Singh",
            "directness": "direct",
            **cite("text", "speaker_id", "speaker_as_described"),
        },
        "force_levels": {
            "actor": "sabrina-singh",
            "country": "IQ",
            "wording": "approximately 2,500 American service members",
            "qualifier": "approximately",
            "value": "2021",
            "precision": "year",
            "status": "historical",
            **cite("actor", "country", "wording", "qualifier", "as_of", "status"),
            "quote": "Coalition military operations wrapped up in 2021, leaving approximately 2,500 American service "
                     "members",
        },
        "bases": {"name": "Iraq", "site_type": "region", "country": "IQ", **cite("name", "country")},
    }


IDS = {
    "sources": "report-phaseout",
    "actors": "sabrina-singh",
    "events": "pentagon-briefing",
    "quotes": "footprint-changing",
    "force_levels": "footprint",
    "bases": "iraq",
}


@pytest.fixture
def project(tmp_path: Path, repo: Path) -> Path:
    """A repository with one real seed and no records yet."""
    (tmp_path / "seeds").mkdir()
    shutil.copy2(repo / "seeds" / SEED, tmp_path / "seeds" / SEED)
    (tmp_path / "data").mkdir()
    return tmp_path


def test_each_template_fails_at_its_placeholders_until_filled_in(project, cli):
    values = _values(project)
    for collection in COLLECTIONS:  # in dependency order: each record cites or names the earlier ones
        record_id = IDS[collection]
        made = cli("--root", project, "new", collection, record_id)
        assert made.code == 0, made.err
        path = project / "data" / collection / f"{record_id}.yaml"
        shown = f"data/{collection}/{record_id}.yaml"
        assert f"wrote {shown}" in made.out and f"iraq-transition validate {shown}" in made.out
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == MODELINE.format(collection=collection)
        assert yaml.safe_load(text)["id"] == record_id

        placeholders = {n for n, line in enumerate(text.splitlines(), 1)
                        if PLACEHOLDER.match(line) or ITEM_PLACEHOLDER.match(line)}
        assert placeholders
        failed = cli("--root", project, "validate", path)
        assert failed.code == 1, failed.out + failed.err
        error_lines = {int(m.group(1)) for m in re.finditer(rf"^{re.escape(shown)}:(\d+):\d+: ", failed.out, re.M)}
        assert error_lines == placeholders, failed.out

        path.write_text(_fill(text, values[collection]), encoding="utf-8")
        filled = cli("--root", project, "validate", path)
        assert filled.code == 0, filled.out + filled.err


def _fill(template: str, values: dict[str, object]) -> str:
    def replace(match: re.Match) -> str:
        return f"{match['indent']}{match['field']}: {scalar(values[match['field']])}"

    def items(match: re.Match) -> str:
        return "\n".join(f"{match['indent']}- {scalar(item)}" for item in values["supports"])

    return "\n".join(ITEM_PLACEHOLDER.sub(items, PLACEHOLDER.sub(replace, line)) for line in template.splitlines()) + "\n"


def test_every_field_is_described_with_its_allowed_values(project, cli):
    cli("--root", project, "new", "events", "x")
    text = (project / "data/events/x.yaml").read_text(encoding="utf-8")
    for name, info in COLLECTIONS["events"].model_fields.items():
        assert re.search(rf"^ *(# )?{name}:", text, re.M), name
        assert info.description in text
    assert "One of: occurred, announced, planned, expected." in text
    assert "An id from data/actors/." in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("events",), "give the new record's id"),
        (("events", "Joint Statement"), "'joint-statement'"),
        (("events", "bad_id"), "not a valid id"),
    ],
)
def test_a_missing_or_invalid_id_is_a_usage_error(project, cli, args, message):
    result = cli("--root", project, "new", *args)
    assert result.code == 2
    assert message in result.err
    assert not any((project / "data").iterdir())


def test_new_in_a_read_only_collection_writes_nothing_and_says_so(project, cli):
    (project / "data" / "events").mkdir()
    with read_only(project / "data" / "events"):
        result = cli("--root", project, "new", "events", "pentagon-briefing")
    assert_clean_failure(result)
    assert "/data/events/pentagon-briefing.yaml: " in result.err
    assert "nothing was written; make it writable (or free disk space), then run new again" in result.err
    assert list((project / "data" / "events").iterdir()) == []


def test_new_where_the_collection_is_a_file_writes_nothing(project, cli):
    (project / "data" / "events").write_text("not a directory\n", encoding="utf-8")
    before = snapshot(project)
    result = cli("--root", project, "new", "events", "pentagon-briefing")
    assert_clean_failure(result)
    assert "/data/events: Not a directory: nothing was written" in result.err
    assert snapshot(project) == before


def test_an_existing_record_is_never_overwritten(project, cli):
    path = project / "data/actors/a.yaml"
    path.parent.mkdir()
    path.write_text("id: a\n")
    result = cli("--root", project, "new", "actors", "a")
    assert result.code == 2
    assert "already exists" in result.err
    assert path.read_text() == "id: a\n"


def test_fmt_leaves_a_template_alone_until_its_placeholders_are_filled(project, cli):
    cli("--root", project, "new", "actors", "a")
    path = project / "data/actors/a.yaml"
    template = path.read_text(encoding="utf-8")
    first = next(n for n, line in enumerate(template.splitlines(), 1) if PLACEHOLDER.match(line))
    result = cli("--root", project, "fmt")
    assert result.code == 1
    assert result.out.startswith(f"data/actors/a.yaml:{first}:1: still a placeholder of the `new` template")
    assert path.read_text(encoding="utf-8") == template


# --------------------------------------------------------------------------- new sources --seed

ARTICLE = "Baghdad — A new report on the transition.\r\nIt quotes “no one” by name.\n"


def _archive(cli, root: Path, article: Path, *extra: str):
    return cli("--root", root, "new", "sources", "new-report", "--seed", article, *extra)


def test_new_sources_with_a_seed_archives_the_text_and_writes_a_record_that_validates(repo_copy, cli, tmp_path):
    article = tmp_path / "article.txt"
    article.write_bytes(ARTICLE.encode())
    digest = hashlib.sha256(article.read_bytes()).hexdigest()
    made = _archive(cli, repo_copy, article, "--language", "en")
    assert made.code == 0, made.err
    name = f"005_{digest[:16]}.txt"  # the next number, then the start of the text's SHA-256
    assert (repo_copy / "seeds" / name).read_bytes() == ARTICLE.encode()
    record = repo_copy / "data/sources/new-report.yaml"
    assert yaml.safe_load(record.read_text(encoding="utf-8")) == {
        "id": "new-report", "file": name, "sha256": digest, "language": "en"}
    assert f"archived {article} as seeds/{name}" in made.out
    assert "iraq-transition generate: datapackage.json lists every source" in made.out
    for command in (("validate",), ("fmt", "--check")):
        done = cli("--root", repo_copy, *command)
        assert done.code == 0, done.out + done.err


def _not_utf8(path: Path, repo: Path) -> str:
    path.write_bytes("Café".encode("latin-1"))
    return "is not UTF-8 text (byte 0xe9 at line 1, column 4)"


def _binary(path: Path, repo: Path) -> str:
    path.write_bytes(b"PK\x03\x04 an archive")
    return "is not text: it holds the control character U+0003 at line 1, column 3"


def _empty(path: Path, repo: Path) -> str:
    path.write_bytes(b"\n \n")
    return "holds no text"


def _an_archived_seed(path: Path, repo: Path) -> str:
    path.write_bytes((repo / "seeds" / SEED).read_bytes())
    return f"seeds/{SEED} already holds exactly this text"


def _a_fifo(path: Path, repo: Path) -> str:
    os.mkfifo(path)
    return "is a FIFO, not a text file"


def _missing(path: Path, repo: Path) -> str:
    return "does not exist"


REFUSED = [_not_utf8, _binary, _empty, _an_archived_seed, _a_fifo, _missing]


@pytest.mark.parametrize("case", REFUSED, ids=[case.__name__.strip("_") for case in REFUSED])
def test_new_sources_refuses_a_seed_that_is_no_text_or_is_archived_already(repo_copy, cli, tmp_path, case):
    article = tmp_path / "article.txt"
    message = case(article, repo_copy)
    before = snapshot(repo_copy)
    refused = _archive(cli, repo_copy, article, "--language", "en")
    assert refused.code == 2, refused.err
    assert message in refused.err and "Traceback" not in refused.err
    assert snapshot(repo_copy) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sources", "x", "--seed", "ARTICLE"), "give the text's language with --language"),
        (("sources", "x", "--seed", "ARTICLE", "--language", "English"), "--language 'English' is not a BCP 47"),
        (("events", "x", "--seed", "ARTICLE", "--language", "en"), "--seed archives an article for a new source"),
        (("sources", "x", "--language", "en"), "--language goes with --seed"),
    ],
)
def test_new_sources_with_a_seed_needs_its_language_and_nothing_else(repo_copy, cli, tmp_path, args, message):
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    before = snapshot(repo_copy)
    refused = cli("--root", repo_copy, "new", *(str(article) if arg == "ARTICLE" else arg for arg in args))
    assert refused.code == 2
    assert message in refused.err
    assert snapshot(repo_copy) == before


def test_a_seed_archived_twice_is_refused_the_second_time(repo_copy, cli, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    assert _archive(cli, repo_copy, article, "--language", "en").code == 0
    again = cli("--root", repo_copy, "new", "sources", "same-report", "--seed", article, "--language", "en")
    assert again.code == 2
    assert "already holds exactly this text" in again.err
    assert not (repo_copy / "data/sources/same-report.yaml").exists()
