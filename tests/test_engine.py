"""The validation engine: where its cache lives, the problem codes of the checks that span records, and the one
staleness rule that build and serve share."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import date_from_publication
from iraq_transition import serve
from iraq_transition.load import Project
from iraq_transition.problems import CODES
from iraq_transition.cache_home import cache_directory
from iraq_transition.store import RACY_NS
from iraq_transition.validate import validate_project

from test_validate import FIXTURES, add_bad

CROSS_RECORD = {  # fixture -> the codes of the problems the checks spanning records find in it (among others)
    "events/duplicate-id.yaml": {"duplicate-id"},
    "events/link-to-missing-event.yaml": {"unknown-reference"},
    "events/self-link.yaml": {"self-reference"},
    "events/unknown-source.yaml": {"unknown-reference"},
    "events/quote-not-found.yaml": {"quote-not-found"},
    "events/ambiguous-span.yaml": {"quote-ambiguous"},
    "events/prefix-mismatch.yaml": {"prefix-mismatch"},
    "quotes/text-not-in-span.yaml": {"text-outside-spans"},
    "quotes/speaker-not-in-span.yaml": {"speaker-not-in-span"},
    "events/year-unsupported.yaml": {"date-year-unsupported"},
    "sources/missing-seed.yaml": {"seed-unusable"},
}


def tiny_copy(root: Path, repo: Path) -> Path:
    shutil.copytree(FIXTURES / "good" / "data", root / "data")
    shutil.copytree(repo / "seeds", root / "seeds")
    return root


def codes(root: Path, path: str) -> set[str]:
    return {problem.code for problem in validate_project(Project(root))[1] if problem.path == path}


def test_every_problem_of_the_checks_spanning_records_has_its_code(tmp_path, repo):
    for name, expected in CROSS_RECORD.items():
        root = tiny_copy(tmp_path / name.replace("/", "-"), repo)
        assert expected <= CODES.keys() and expected <= codes(root, add_bad(root, name)), name
    root = tiny_copy(tmp_path / "cycle", repo)
    add_bad(root, "quotes/variant-cycle-a.yaml")
    assert codes(root, add_bad(root, "quotes/variant-cycle-b.yaml")) == {"reference-cycle"}
    seed = root / "seeds" / "000_adbaac8c2019ffeb.txt"
    seed.chmod(0o644)
    seed.write_bytes(seed.read_bytes() + b"An added line.\n")
    (root / "seeds" / "005_extra.txt").write_text("An article nobody described.\n")
    twice = root / "data" / "sources" / "article-000-again.yaml"
    twice.write_text((root / "data" / "sources" / "article-000.yaml").read_text().replace("id: article-000", "id: article-000-again"))
    problems = validate_project(Project(root))[1]
    found = {(problem.path, problem.code) for problem in problems}
    assert ("data/sources/article-000-again.yaml", "seed-changed") in found  # the first to describe the seed
    assert ("data/sources/article-000.yaml", "seed-described-twice") in found
    assert ("seeds/005_extra.txt", "seed-undescribed") in found


def test_the_cache_goes_where_cache_dir_says_and_a_cache_dir_that_cannot_be_made_changes_nothing(tmp_path, repo, cli):
    root = tiny_copy(tmp_path / "tiny", repo)
    add_bad(root, "events/unknown-reference.yaml")
    expected = cli("--root", root, "validate", "--no-cache")
    there = tmp_path / "elsewhere"
    for _ in range(2):  # cold, then warm
        done = cli("--root", root, "--cache-dir", there, "validate")
        assert (done.code, done.out, done.err) == (expected.code, expected.out, expected.err)
    assert [path.suffix for path in there.glob("cache-*")] and not cache_directory(root).exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory\n")
    done = cli("--root", root, "--cache-dir", blocked / "cache", "validate")
    assert (done.code, done.out, done.err) == (expected.code, expected.out, expected.err)


def test_serve_sees_what_build_sees_a_record_replaced_by_an_older_copy_is_stale(tmp_path, repo, cli):
    """serve follows build's own rule: a record whose content changed is stale, even when its new copy is older
    than the build (``cp -p`` from an old checkout, an archive unpacked)."""
    root = tiny_copy(tmp_path / "tiny", repo)
    past = 1_600_000_000
    for path in root.rglob("*"):
        os.utime(path, (past, past))
    time.sleep(RACY_NS / 1e9 + 0.1)  # past the racy window of the files' ctime, which dating them moved to now
    assert cli("--root", root, "build").code == 0
    assert not serve.is_stale(Project(root))
    record = root / "data" / "events" / "joint-statement.yaml"
    old = tmp_path / "old.yaml"
    old.write_text(record.read_text().replace("\ntitle: ", "\ntitle: Older, ", 1))
    subprocess.run(["touch", "-d", "@1500000000", str(old)], check=True)
    shutil.copy2(old, record)
    os.utime(record.parent, (past, past))
    assert serve.is_stale(Project(root))
    again = cli("--root", root, "build")
    assert again.code == 0 and "up to date" not in again.out


def test_a_source_s_new_publication_year_checks_its_citing_records_again(repo_copy):
    """The dates that 003's words give no year for ('on Friday') take the year of its publication: when only its
    record changes (its text does not), the records citing it are checked again, and the warm run reports what a
    run without the cache reports."""
    date_from_publication(repo_copy)
    project = Project(repo_copy)
    assert validate_project(project)[1] == []  # fills the cache
    source = repo_copy / "data" / "sources" / "report-phaseout-daesh-occupation.yaml"
    original = source.read_text()
    for published in ('value: "2025-09-26"', 'value: "2024-09-27"'):
        source.write_text(original.replace('value: "2024-09-27"', published))
        past = time.time() - 60
        os.utime(source, (past, past))
        time.sleep(RACY_NS / 1e9 + 0.1)  # the source's stat is trusted by the next run
        cold = validate_project(project, use_cache=False)
        assert validate_project(project) == cold
        assert {problem.code for problem in cold[1]} == ({"date-year-unsupported"} if "2025" in published else set())


def test_importing_the_models_builds_no_validator_and_a_run_builds_only_those_it_uses(tmp_path, repo):
    """A model's validator is built when first wanted: a warm run that checks one changed event builds the event's
    (and its parts') alone, not the validators of every collection."""
    root = tiny_copy(tmp_path / "tiny", repo)
    assert validate_project(Project(root))[1] == []  # fills the cache
    event = next((root / "data" / "events").glob("*.yaml"))
    event.write_text(event.read_text() + "# an edit\n")
    past = time.time() - 60
    os.utime(event, (past, past))
    time.sleep(RACY_NS / 1e9 + 0.1)
    script = ("import sys; from pathlib import Path; from iraq_transition import models, validate; "
              "built = lambda: sorted(name for name, model in models.COLLECTIONS.items() if model.__pydantic_complete__); "
              "print(built()); validate.validate_project(validate.Project(Path(sys.argv[1]))); print(built())")
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, check=True,
                          env={**os.environ, "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(tmp_path))})
    assert done.stdout.splitlines() == ["[]", "['events']"]
