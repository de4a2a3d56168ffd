"""Citable, versioned releases: CITATION.cff is valid CFF 1.2 and carries the data's version, as the data package,
.zenodo.json and the site do; ``release`` refuses a dirty tree or a version not newer, and between two tagged
releases of a scratch repository the changelog section and the delta file list exactly the records that changed;
the release workflow's build job, played on that repository, makes every artefact with that version."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from test_workflows import _git, _installed, _Runner, _script, _workflow

from iraq_transition import release, site_config
from iraq_transition.fmt import format_record
from iraq_transition.load import parse_yaml
from iraq_transition.site_metadata import datasette_metadata

REPO = Path(__file__).resolve().parent.parent
CFF_SCHEMA = Path(__file__).parent / "schemas" / "citation-file-format-1.2.0.schema.json"
RELEASE_WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
COPIED = ("data", "seeds", "schema", "docs", "src", "datapackage.json", "CHANGELOG.md", "CITATION.cff", ".zenodo.json",
          "pyproject.toml", "requirements.lock", ".gitignore")
"""What a scratch repository needs of this one to be released: the records, the generated files, the code."""
QUOTE = "data/quotes/singh-us-not-withdrawing-from-iraq.yaml"
ACTOR = "data/actors/biden-administration.yaml"


# --------------------------------------------------------------------------- how to cite


def test_citation_cff_is_valid_cff_1_2_and_carries_the_version():
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.validate(citation, json.loads(CFF_SCHEMA.read_text(encoding="utf-8")))
    assert citation["version"] == site_config.VERSION and citation["type"] == "dataset"
    assert citation["license"] == "CC-BY-4.0"


def test_the_citation_files_and_the_data_package_carry_the_one_version():
    """CITATION.cff and .zenodo.json are what release writes from site_config; the data package says its version."""
    version, released = site_config.VERSION, site_config.RELEASED
    assert (REPO / "CITATION.cff").read_text(encoding="utf-8") == release.citation_cff(version, released)
    assert (REPO / ".zenodo.json").read_text(encoding="utf-8") == release.zenodo_json(version, released)
    assert json.loads((REPO / "datapackage.json").read_text(encoding="utf-8"))["version"] == version
    assert json.loads(release.zenodo_json(version, "2026-12-01"))["publication_date"] == "2026-12-01"


def test_the_licences_are_committed():
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")
    assert "CC BY 4.0" in (REPO / "LICENSE-DATA").read_text(encoding="utf-8")


def test_the_site_shows_the_version_and_how_to_cite_it():
    metadata = datasette_metadata()
    assert metadata["about"].endswith(f"data version {site_config.VERSION}")  # Datasette's footer, on every page
    home = metadata["description_html"]
    assert '<h2 id="how-to-cite">How to cite</h2>' in home
    assert f"version {site_config.VERSION}" in home and site_config.AUTHOR in home


def test_readme_says_how_to_cite():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## How to cite\n", 1)[1].split("\n## ", 1)[0]
    assert "CITATION.cff" in section and "make release VERSION=" in readme


# --------------------------------------------------------------------------- the release command


def test_versions_are_calendar_versions():
    assert release.parse_version("2026.12.0") == (2026, 12, 0)
    for wrong in ("2026.13.0", "2026.01.0", "2026.12", "2026.12.01", "v2026.12.0", "2026.12.0\n"):
        assert release.parse_version(wrong) is None, wrong


def _environment(root: Path) -> dict[str, str]:
    """The CLI run with the scratch repository's own code (whose version the release rewrites), git configured."""
    return {**os.environ, "PYTHONPATH": str(root / "src"), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.org",
            "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.org"}


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "iraq_transition", "--root", str(root), *args]
    return subprocess.run(command, cwd=root, env=_environment(root), capture_output=True, text=True, timeout=600)


def _scratch_repository(root: Path) -> Path:
    for name in COPIED:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(REPO / name, root / name)
    _git(root, "init", "--quiet", "-b", "main")
    _commit(root, "the dataset")
    return root


def _commit(root: Path, message: str) -> None:
    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "-m", message)


def _edit(root: Path, path: str, **fields) -> None:
    collection = path.split("/")[1]
    record = parse_yaml((root / path).read_text(encoding="utf-8"))
    (root / path).write_text(format_record(collection, {**record, **fields}), encoding="utf-8")


def _section(changelog: str, version: str) -> str:
    return changelog.split(f"\n## {version} (", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """A scratch repository with two releases: 2026.12.0 (the first), then 2026.12.1, which removes an actor,
    adds one and rewords a quote's notes."""
    root = _scratch_repository(tmp_path_factory.mktemp("released") / "repo")
    shutil.copy(root / ACTOR, root / "data/actors/doomed-actor.yaml")
    _edit(root, "data/actors/doomed-actor.yaml", id="doomed-actor", name="Doomed actor")
    _commit(root, "an actor the next release removes")
    first = _cli(root, "release", "2026.12.0", "--date", "2026-12-01")
    assert first.returncode == 0, first.stdout + first.stderr
    (root / "data/actors/doomed-actor.yaml").unlink()
    shutil.copy(root / ACTOR, root / "data/actors/new-actor.yaml")
    _edit(root, "data/actors/new-actor.yaml", id="new-actor", name="New actor")
    _edit(root, QUOTE, notes="Reworded for the second release.")
    _commit(root, "changes for the second release")
    second = _cli(root, "release", "2026.12.1", "--date", "2026-12-15")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "committed and tagged v2026.12.1 here, nothing pushed" in second.stdout
    return root


def test_each_release_is_a_tagged_commit_carrying_its_version(released: Path):
    tags = _git(released, "tag", "--list", "v*").split()
    assert tags == ["v2026.12.0", "v2026.12.1"]
    assert _git(released, "rev-parse", "v2026.12.1^{commit}") == _git(released, "rev-parse", "HEAD")
    assert _git(released, "status", "--porcelain") == ""
    config = (released / release.SITE_CONFIG).read_text(encoding="utf-8")
    assert 'VERSION = "2026.12.1"' in config and 'RELEASED = "2026-12-15"' in config
    assert json.loads((released / "datapackage.json").read_text(encoding="utf-8"))["version"] == "2026.12.1"
    metadata = json.loads((released / "build" / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["about"].endswith("data version 2026.12.1")
    assert "(2026). Iraq transition" in metadata["description_html"]
    citation = yaml.safe_load((released / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.validate(citation, json.loads(CFF_SCHEMA.read_text(encoding="utf-8")))
    assert citation["version"] == "2026.12.1" and citation["date-released"] == "2026-12-15"
    assert json.loads((released / ".zenodo.json").read_text(encoding="utf-8"))["version"] == "2026.12.1"


def test_the_changelog_lists_exactly_the_records_that_changed(released: Path):
    changelog = (released / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.startswith(release.CHANGELOG_HEADER)
    assert changelog.index("\n## 2026.12.1 (2026-12-15)\n") < changelog.index("\n## 2026.12.0 (2026-12-01)\n")
    second = _section(changelog, "2026.12.1")
    assert "Record changes since `v2026.12.0`:" in second
    assert [line for line in second.splitlines() if line.startswith("- ")] == [
        "- added `new-actor`: `New actor`",
        "- removed `doomed-actor`: `Doomed actor`",
        "- changed `singh-us-not-withdrawing-from-iraq`: `notes`",
    ]
    assert "| actors | 1 | 1 | 0 |" in second and "| quotes | 0 | 0 | 1 |" in second
    first = _section(changelog, "2026.12.0")
    records = sum(1 for _ in (released / "data").glob("*/*.yaml"))  # as many: new-actor came, doomed-actor went
    added = [line for line in first.splitlines() if line.startswith("- ")]
    assert len(added) == records and all(line.startswith("- added `") for line in added)
    assert "- added `doomed-actor`: `Doomed actor`" in added


def test_the_delta_lists_exactly_the_records_that_changed(released: Path):
    result = _cli(released, "diff", "v2026.12.0", "v2026.12.1", "--format", "delta")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["op"], line["collection"], line["id"]) for line in lines] == [
        ("DEL", "actors", "doomed-actor"), ("ADD", "actors", "new-actor"),
        ("MOD", "quotes", "singh-us-not-withdrawing-from-iraq"),
    ]
    assert lines[0]["record"]["name"] == "Doomed actor" and lines[1]["record"]["name"] == "New actor"
    [notes] = lines[2]["fields"]
    assert notes["path"] == "notes" and notes["new"] == "Reworded for the second release." and notes["old"]
    assert _cli(released, "diff", "v2026.12.0", "v2026.12.1", "--format", "delta").stdout == result.stdout


def test_a_delta_refuses_an_unreadable_record(released: Path, tmp_path: Path):
    copy = tmp_path / "data"
    shutil.copytree(released / "data", copy)
    (copy / "actors" / "new-actor.yaml").write_bytes(b"id: [unclosed\n")
    result = _cli(released, "diff", "--dir", str(released), "--dir", str(tmp_path), "--format", "delta")
    assert result.returncode == 1 and result.stdout == ""
    assert "new-actor.yaml:" in result.stderr and "none written" in result.stderr


def test_release_refuses_a_version_not_newer_and_a_dirty_tree(released: Path):
    head = _git(released, "rev-parse", "HEAD")
    for older in ("2026.12.1", "2026.11.5"):
        result = _cli(released, "release", older)
        assert result.returncode == 2 and "is not newer than the current version 2026.12.1" in result.stderr
    assert _cli(released, "release", "2026.12.01").returncode == 2
    (released / "data" / "notes.txt").write_text("uncommitted\n", encoding="utf-8")
    try:
        result = _cli(released, "release", "2027.1.0")
        assert result.returncode == 1 and "the work tree has uncommitted changes (data/notes.txt)" in result.stderr
    finally:
        (released / "data" / "notes.txt").unlink()
    assert _git(released, "rev-parse", "HEAD") == head and _git(released, "status", "--porcelain") == ""


def test_make_release_calls_the_release_command():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert '\t$(CLI) release "$$VERSION" $${DATE:+--date "$$DATE"}\n' in makefile


# --------------------------------------------------------------------------- the release workflow


def test_a_version_tag_starts_the_release_and_the_site_is_published_with_its_plugin():
    workflow = _workflow(RELEASE_WORKFLOW)
    assert workflow["on"] == {"push": {"tags": ["v[0-9]*"]}}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"} and publish["needs"] == "build"
    [upload] = [step for step in build["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"].split() == [
        "build/iraq-transition.db", "build/metadata.json", "iraq-transition-csv.zip", "datapackage.json",
        "iraq-transition-delta.jsonl", "docs/codebook.md", "changelog-section.md"]
    script = " ".join(_script(publish).replace("\\\n", " ").split())
    assert 'gh release create "$TAG" $files --verify-tag --title "${TAG#v}"' in script
    assert "--notes-file changelog-section.md" in script
    assert '--install "$PACKAGE"' in script
    [deploy] = [step for step in publish["steps"] if step.get("name") == "Deploy the site"]
    assert deploy["env"]["PACKAGE"] == \
        "iraq-transition @ git+${{ github.server_url }}/${{ github.repository }}@${{ github.sha }}"
    settings = re.search(r'--extra-options "([^"]*)"', script)[1].split()
    given = dict(zip(settings[1::3], settings[2::3]))
    assert set(settings[::3]) == {"--setting"}
    expected = {name: ("off" if value is False else str(value)) for name, value in site_config.SETTINGS.items()}
    assert given == expected  # the site's bounds on SQL, in force on the published site
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    pins = re.findall(r"(?:--user |--install )(datasette[\w-]*==[\d.]+)", script)
    assert [pin.split("==")[0] for pin in pins] == ["datasette", "datasette-cluster-map"], pins
    assert all(f"\n{pin} \\\n" in lock for pin in pins), pins  # the versions the tests ran


def _play_build(tmp_path: Path, repository: Path, tag: str) -> _Runner:
    """The release workflow's build job played on ``repository`` at ``tag``: actions/checkout's clone with all the
    history; setup-python and the install step are this test's own environment, with the workspace's code."""
    workflow = _workflow(RELEASE_WORKFLOW)
    job = {**workflow, "jobs": {"build": workflow["jobs"]["build"]}}
    install = "Install (the same as `make setup`)"
    runner = _Runner(job, tmp_path, {"github.ref_name": tag, "github.base_ref": ""},
                     uses=["actions/checkout", "actions/setup-python", "actions/upload-artifact"],
                     skip={install: "it downloads every package: this test's own environment stands in for it"})
    _git(tmp_path, "clone", "--quiet", str(repository), str(runner.workspace))
    _git(runner.workspace, "checkout", "--quiet", "--detach", tag)
    _installed(runner.workspace)
    runner.env["PATH"] = f"{runner.workspace / '.venv' / 'bin'}:{runner.env['PATH']}"  # what the install step adds
    runner.env["PYTHONPATH"] = str(runner.workspace / "src")
    runner.play()
    return runner


def test_the_release_workflow_builds_every_artefact_of_the_tagged_version(released: Path, tmp_path: Path):
    runner = _play_build(tmp_path, released, "v2026.12.1")
    outcomes = {name: None if done is None else done.returncode for name, done in runner.played.items()}
    assert set(outcomes.values()) <= {0, None} and list(outcomes.values()).count(None) == 1, runner.played
    workspace = runner.workspace
    assert json.loads((workspace / "datapackage.json").read_text(encoding="utf-8"))["version"] == "2026.12.1"
    expected = _cli(released, "diff", "v2026.12.0", "v2026.12.1", "--format", "delta").stdout
    assert (workspace / "iraq-transition-delta.jsonl").read_text(encoding="utf-8") == expected
    changelog = (released / "CHANGELOG.md").read_text(encoding="utf-8")
    section = (workspace / "changelog-section.md").read_text(encoding="utf-8")
    assert section.rstrip("\n") == ("## 2026.12.1 (" + _section(changelog, "2026.12.1")).rstrip("\n")
    with zipfile.ZipFile(workspace / "iraq-transition-csv.zip") as archive:
        entries = archive.infolist()
    names = [entry.filename for entry in entries]
    assert names == sorted(names) and names == sorted(f"build/csv/{p.name}" for p in (workspace / "build/csv").iterdir())
    assert {entry.date_time for entry in entries} == {(1980, 1, 1, 0, 0, 0)} and not any(e.extra for e in entries)
    assert (workspace / "build" / "iraq-transition.db").is_file() and (workspace / "build" / "metadata.json").is_file()


def test_the_release_workflow_refuses_a_tag_that_is_not_the_datas_version(released: Path, tmp_path: Path):
    _git(released, "tag", "v2027.1.0", "v2026.12.1")
    try:
        runner = _play_build(tmp_path, released, "v2027.1.0")
    finally:
        _git(released, "tag", "--delete", "v2027.1.0")
    step = runner.played["The tag names the version the data carries"]
    assert step.returncode == 1 and "::error::The tag is not v2026.12.1" in step.stdout
    assert runner.played["Build and check"] is None  # nothing after it runs
