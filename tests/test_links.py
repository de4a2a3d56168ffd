"""Symbolic links in the work tree: no command reads or writes outside the repository through one.

A pull request can commit a relative link (``schema -> ../..``); every case runs the real CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_build import write_small_project
from test_cli import assert_clean_failure, snapshot

from iraq_transition import build, export

LINK_REFUSED = "/ is a symbolic link: iraq-transition never reads or writes through one"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_small_project(tmp_path / "small")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the repository, holding a file of its own."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "precious.schema.json").write_text("precious\n", encoding="utf-8")
    return directory


def _link_directory(path: Path, target: Path) -> None:
    """Replace the directory ``path`` with a symbolic link to ``target`` (a copy of it, if ``target`` is new)."""
    if not target.exists():
        shutil.copytree(path, target)
    shutil.rmtree(path)
    path.symlink_to(target)


def _listing(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


# --------------------------------------------------------------------------- writing: generate, new, fmt, build


@pytest.mark.parametrize("linked", ["schema", "docs"])
@pytest.mark.parametrize("check", [False, True])
def test_generate_refuses_a_linked_directory_and_writes_or_deletes_nothing_there(small, outside, cli, linked, check):
    assert cli("--root", small, "generate").code == 0
    shutil.rmtree(small / linked)
    (small / linked).symlink_to(outside)
    result = cli("--root", small, "generate", *(["--check"] if check else []))
    assert_clean_failure(result, code=2)
    assert f"generate: {linked}{LINK_REFUSED}" in result.err and "replace it with a real directory" in result.err
    assert _listing(outside) == {"precious.schema.json": b"precious\n"}


def test_generate_reads_no_generated_file_through_a_link_nor_waits_on_a_fifo(small, tmp_path, cli):
    assert cli("--root", small, "generate").code == 0
    (small / "datapackage.json").unlink()
    (small / "datapackage.json").symlink_to("/dev/zero")  # endless: was read whole
    (small / "docs" / "timeline.svg").unlink()
    os.mkfifo(small / "docs" / "timeline.svg")  # no writer: was waited on for ever
    result = cli("--root", small, "generate", "--check", timeout=60)
    assert result.code == 1, result.err
    assert "datapackage.json: stale or missing" in result.err and "docs/timeline.svg: stale or missing" in result.err
    result = cli("--root", small, "generate", timeout=60)
    assert result.code == 0, result.err
    for path in (small / "datapackage.json", small / "docs" / "timeline.svg"):
        assert path.is_file() and not path.is_symlink()
        assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()  # not the mode of what the link pointed to
    assert cli("--root", small, "generate", "--check").code == 0


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_generate_deletes_only_the_schemas_it_wrote(small, outside, cli):
    assert cli("--root", small, "generate").code == 0
    schema = small / "schema"
    written = {"$id": "incidents.schema.json", "title": "iraq-transition incidents record"}  # of a collection gone
    (schema / "incidents.schema.json").write_text(json.dumps(export.json_schema("events") | written), encoding="utf-8")
    (schema / "editor.schema.json").write_text('{"$id": "editor.schema.json"}\n', encoding="utf-8")
    (schema / "linked.schema.json").symlink_to(outside / "precious.schema.json")
    foreign = "no collection of that name, and not written by iraq-transition generate, which never deletes it"
    for check in (["--check"], []):
        result = cli("--root", small, "generate", *check)
        assert result.code == 1, result.err
        assert f"schema/editor.schema.json: {foreign}" in result.err
        assert f"schema/linked.schema.json: {foreign}" in result.err
        assert "incidents.schema.json" in (result.err if check else result.out)
    assert "removed schema/incidents.schema.json" in result.out
    assert not (schema / "incidents.schema.json").exists()
    assert (schema / "editor.schema.json").is_file() and (schema / "linked.schema.json").is_symlink()
    assert _listing(outside) == {"precious.schema.json": b"precious\n"}


def test_file_names_generate_prints_cannot_act_as_workflow_commands(small, cli):
    (small / "schema").mkdir(exist_ok=True)
    (small / "schema" / "##[warning]FORGED annotation.schema.json").write_text("{}\n", encoding="utf-8")
    (small / "schema" / "::error x::FORGED.schema.json").write_text("{}\n", encoding="utf-8")
    for check in (["--check"], []):
        result = cli("--root", small, "generate", *check)
        assert result.code == 1, result.err
        lines = (result.out + result.err).splitlines()
        assert not any("##[" in line or line.lstrip().startswith("::") for line in lines), lines
        assert any("FORGED annotation.schema.json: no collection of that name" in line for line in lines)


@pytest.mark.parametrize("linked", ["data", "data/quotes"])
def test_new_refuses_a_linked_directory_and_writes_nothing_there(small, tmp_path, cli, linked):
    through_a_link = tmp_path / "checkout"  # the root itself may be reached through a link
    through_a_link.symlink_to(small)
    result = cli("--root", through_a_link, "new", "quotes", "fine-one")
    assert result.code == 0, result.err
    assert (small / "data" / "quotes" / "fine-one.yaml").is_file()
    target = tmp_path / "elsewhere"
    _link_directory(small / linked, target)
    before = snapshot(target)
    result = cli("--root", through_a_link, "new", "quotes", "evil-one")
    assert_clean_failure(result, code=2)
    assert f"new: {linked}{LINK_REFUSED}" in result.err
    assert snapshot(target) == before


@pytest.mark.parametrize("paths", [[], ["data/events/mission-ends.yaml"]])
def test_fmt_reads_and_rewrites_no_record_through_a_linked_data_directory(small, tmp_path, cli, paths):
    assert cli("--root", small, "fmt", "--check", *paths, cwd=small).code == 1  # the record is not canonical
    _link_directory(small / "data", tmp_path / "elsewhere")
    before = snapshot(tmp_path / "elsewhere")
    result = cli("--root", small, "fmt", *paths, cwd=small)
    assert_clean_failure(result)
    assert result.out.startswith("data:1:1: a symbolic link, not a directory: ")
    assert "reformatted" not in result.out
    assert snapshot(tmp_path / "elsewhere") == before


@pytest.mark.parametrize("target", ["directory", "missing"])
def test_build_replaces_a_linked_output_directory_and_says_so(small, outside, cli, target):
    if target == "missing":
        shutil.rmtree(outside)
    (small / "build").symlink_to(outside)
    result = cli("--root", small, "build")
    assert result.code == 0, result.err
    assert "was a symbolic link: replaced by a directory of its own" in result.out
    assert (small / "build").is_dir() and not (small / "build").is_symlink()
    assert (small / "build" / build.DATABASE).is_file()
    assert sorted(path.name for path in small.iterdir() if path.name.startswith(".build")) == []  # nor the old link
    if target == "directory":
        assert _listing(outside) == {"precious.schema.json": b"precious\n"}
    else:
        assert not outside.exists()


def test_build_removes_a_staging_link_left_behind_without_following_it(small, outside, cli):
    left = small / f".build{build.STAGING}0123456789ab"
    left.symlink_to(outside)
    assert cli("--root", small, "build").code == 0
    assert not os.path.lexists(left)
    assert _listing(outside) == {"precious.schema.json": b"precious\n"}


def test_build_refuses_an_output_under_a_linked_directory(small, outside, cli):
    (small / "site").symlink_to(outside)
    result = cli("--root", small, "build", "--out", small / "site" / "build")
    assert_clean_failure(result, code=2)
    assert f"build: site{LINK_REFUSED}" in result.err
    assert _listing(outside) == {"precious.schema.json": b"precious\n"}


# --------------------------------------------------------------------------- reading: validate, build, diff


def test_a_linked_data_directory_is_refused_not_read(small, tmp_path, cli):
    _link_directory(small / "data", tmp_path / "elsewhere")
    result = cli("--root", small, "validate", "--no-cache")
    assert_clean_failure(result)
    assert result.out.startswith("data:1:1: a symbolic link, not a directory: records are read only from a real data/")
    assert len(result.out.splitlines()) == 1  # and no seed is called undescribed for want of records
    assert "OK" not in result.err
    result = cli("--root", small, "build")
    assert_clean_failure(result)
    assert "data:1:1: a symbolic link" in result.out and not (small / "build").exists()


def _diff(cli, before: Path, after: Path) -> tuple[str, dict]:
    markdown = cli("diff", "--dir", before, "--dir", after)
    document = cli("diff", "--dir", before, "--dir", after, "--format", "json")
    assert markdown.code == document.code == 0, markdown.err + document.err
    return markdown.out, json.loads(document.out)


def test_diff_reads_no_linked_collection_directory(small, tmp_path, cli):
    before = write_small_project(tmp_path / "before")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "leak.yaml").write_text('id: leak\nname: "TOP SECRET outside the repository"\n', encoding="utf-8")
    shutil.rmtree(small / "data" / "bases")
    (small / "data" / "bases").symlink_to(secret)
    markdown, document = _diff(cli, before, small)
    assert "TOP SECRET" not in markdown + json.dumps(document) and "leak" not in markdown
    assert "`data/bases:1:1: a symbolic link, not a directory: make data/bases/ a directory" in markdown
    assert [problem["path"] for problem in document["unreadable"]] == ["data/bases"]


def test_diff_reports_what_is_named_like_a_record_but_is_none(small, tmp_path, cli):
    before = write_small_project(tmp_path / "before")
    os.mkfifo(small / "data" / "events" / "pipe.yaml")
    (small / "data" / "events" / "nested.yaml").mkdir()
    markdown, document = _diff(cli, before, small)
    assert "No record changes." in markdown
    unreadable = {problem["path"]: problem["message"] for problem in document["unreadable"]}
    assert unreadable.keys() == {"data/events/pipe.yaml", "data/events/nested.yaml"}
    assert unreadable["data/events/pipe.yaml"].startswith("not a regular file (a pipe, socket or device")
    assert "`data/events/pipe.yaml:1:1: not a regular file" in markdown
