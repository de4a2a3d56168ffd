"""Scale tooling: the synthetic repository generator is deterministic and its output is valid.

The benchmarks themselves (scripts/bench.py, ``make bench``) stay out of the default test run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
import zlib
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from iraq_transition import build, engine, models, spans, validate
from iraq_transition.cache_home import cache_directory
from iraq_transition.store import RACY_NS, code_version, row_key
from iraq_transition.load import Project
from iraq_transition.models import COLLECTIONS

REPO = Path(__file__).resolve().parent.parent
SYNTHETIC = REPO / "scripts" / "synthetic.py"
RECORDS = 200


def synthesize(out: Path, records: int = RECORDS, seed: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SYNTHETIC), "--records", str(records), "--seed", str(seed), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "repo"
    assert synthesize(out).returncode == 0
    return out


def test_same_seed_gives_the_same_bytes(synthetic, tmp_path):
    again = tmp_path / "again"
    assert synthesize(again).returncode == 0
    assert tree_bytes(again) == tree_bytes(synthetic)
    other = tmp_path / "other"
    assert synthesize(other, seed=4).returncode == 0
    assert tree_bytes(other) != tree_bytes(synthetic)


def test_writes_the_requested_records_in_every_collection(synthetic):
    counts = {name: len(list((synthetic / "data" / name).glob("*.yaml"))) for name in COLLECTIONS}
    assert sum(counts.values()) == RECORDS
    assert all(counts.values()), counts
    assert counts["events"] == max(counts.values())  # an event dataset: mostly events
    assert counts["quotes"] > counts["force_levels"]


def test_records_are_canonical_and_seeds_match(synthetic, cli):
    formatted = cli("--root", synthetic, "fmt", "--check")
    assert formatted.code == 0, formatted.out[:2000] + formatted.err
    for path in sorted((synthetic / "data").rglob("*.yaml")):
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["id"] == path.stem
    for path in sorted((synthetic / "data" / "sources").glob("*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert hashlib.sha256((synthetic / "seeds" / source["file"]).read_bytes()).hexdigest() == source["sha256"]


def test_output_validates_and_builds_cleanly(synthetic, cli, tmp_path):
    validated = cli("--root", synthetic, "validate")
    assert validated.code == 0, validated.out + validated.err
    assert f"{RECORDS} records" in validated.out + validated.err
    built = cli("--root", synthetic, "build", "--out", tmp_path / "build")
    assert built.code == 0, built.out + built.err
    assert (tmp_path / "build" / "iraq-transition.db").is_file()


def test_refuses_to_write_into_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = synthesize(tmp_path)
    assert result.returncode != 0
    assert "refusing" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- the cache and fast paths


def aged(root: Path) -> Path:
    """Date every file under ``root`` a minute back, as files usually are, then wait out the cache's racy window
    (the files' change time counts their ctime too, which dating them moves to now and nothing can set back)."""
    past = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (past, past))
    time.sleep(RACY_NS / 1e9 + 0.1)
    return root


@pytest.fixture
def scratch(synthetic, tmp_path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(synthetic, copy, ignore=shutil.ignore_patterns("build"))
    return aged(copy)


def edit_one_event(root: Path) -> Path:
    path = sorted((root / "data" / "events").glob("*.yaml"))[3]
    path.write_text(path.read_text(encoding="utf-8").replace("\ndescription: ", "\ndescription: Edited. ", 1),
                    encoding="utf-8")
    return path


def checked_files(monkeypatch) -> list[str]:
    """The files the engine calls check_file for from now on."""
    seen: list[str] = []
    real = engine.check_file

    def counting(file, data):
        seen.append(file.display)
        return real(file, data)

    monkeypatch.setattr(engine, "check_file", counting)
    return seen


def test_cached_builds_are_byte_identical_to_clean_ones(scratch, tmp_path, cli):
    def build(out: str, *flags: str) -> dict[str, bytes]:
        result = cli("--root", scratch, "build", "--out", tmp_path / out, *flags)
        assert result.code == 0, result.out + result.err
        return tree_bytes(tmp_path / out)

    clean = build("clean", "--no-cache")
    assert not cache_directory(scratch).exists()
    assert build("cold") == clean  # writes the cache
    assert build("warm") == clean  # every record from the cache
    edit_one_event(scratch)
    assert build("one-changed") == build("clean-again", "--no-cache") != clean


def test_editing_a_record_rechecks_exactly_that_file(scratch, monkeypatch):
    project = Project(scratch)
    first = validate.validate_project(project)
    seen = checked_files(monkeypatch)
    assert validate.validate_project(project) == first
    assert seen == []
    edited = edit_one_event(scratch)
    dataset, problems = validate.validate_project(project)
    assert seen == [f"data/events/{edited.name}"]
    assert problems == [] and dataset.records["events"][edited.stem].description.startswith("Edited. ")
    assert validate.validate_project(project, use_cache=False) == (dataset, problems)


def test_a_new_schema_version_invalidates_the_cache(scratch, monkeypatch):
    project = Project(scratch)
    first = validate.validate_project(project)
    def cache_files() -> list[str]:
        return sorted(path.name for path in cache_directory(scratch).glob("cache-*.sqlite3"))

    old = cache_files()
    seen = checked_files(monkeypatch)
    monkeypatch.setattr(models, "SCHEMA_VERSION", models.SCHEMA_VERSION + "-changed")
    assert validate.validate_project(project) == first
    assert len(seen) == RECORDS
    new = cache_files()
    assert len(old) == len(new) == 1
    assert not set(old) & set(new)  # the old version's database is gone


class Planted:
    """A pickle that, once loaded by the stock unpickler, creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def database(root: Path) -> Path:
    return next(cache_directory(root).glob("cache-*.sqlite3"))


BLOBS = ("problems", "issues", "record", "summary", "cited")


def rewrite_blobs(root: Path, blob) -> None:
    """Every blob of the cache replaced by ``blob(path, sha256, old blob)`` (old rows of every kind included)."""
    connection = sqlite3.connect(database(root))
    rows = connection.execute(f"select id, path, sha256, {', '.join(BLOBS)} from files").fetchall()
    for row, path, digest, *blobs in rows:
        new = [blob(path, digest, old) if old is not None else None for old in blobs]
        connection.execute(f"update files set {', '.join(f'{name} = ?' for name in BLOBS)} where id = ?", (*new, row))
    connection.commit()
    connection.close()


def plant_in_work_tree(root: Path, marker: Path) -> None:
    """Pickles that run code where older releases kept the cache: the work tree's .cache/."""
    planted = pickle.dumps(Planted(marker))
    old = root / ".cache"
    old.mkdir(exist_ok=True)
    for name in (f"index-{code_version()}.pickle", f"records-{code_version()}.pickle", "build.json", "lock"):
        (old / name).write_bytes(planted)


def plant_as_database(root: Path, marker: Path) -> None:
    """The cache database replaced by a pickle that runs code."""
    database(root).write_bytes(pickle.dumps(Planted(marker)))


def plant_as_blobs(root: Path, marker: Path) -> None:
    """Every blob a pickle that runs code, with the checksum it would need to pass."""
    planted = pickle.dumps(Planted(marker))
    rewrite_blobs(root, lambda path, digest, old: planted + zlib.crc32(
        planted, zlib.crc32(row_key(path, digest))).to_bytes(4, "little"))


def plant_as_blobs_unsealed(root: Path, marker: Path) -> None:
    """Every blob a bare pickle that runs code (no checksum)."""
    planted = pickle.dumps(Planted(marker))
    rewrite_blobs(root, lambda path, digest, old: planted)


def validate_output(root: Path, cli, *flags: str) -> tuple[int, str, str]:
    done = cli("--root", root, "validate", "--format", "json", *flags)
    assert "Traceback" not in done.err and "internal error" not in done.err
    return done.code, done.out, done.err


@pytest.mark.parametrize("plant", [plant_in_work_tree, plant_as_database, plant_as_blobs, plant_as_blobs_unsealed])
def test_a_planted_pickle_never_runs(scratch, cli, tmp_path, plant):
    """Pickles that would run code, wherever a cache may be read from (the old .cache/ in the work tree, the cache
    database itself, its blobs), are never unpickled: the results are those of a run without the cache."""
    marker = tmp_path / "ran"
    validate_output(scratch, cli)  # fills the cache
    plant(scratch, marker)
    sorted((scratch / "data" / "actors").glob("*.yaml"))[0].unlink()  # its referrers are checked again
    aged(scratch)
    expected = validate_output(scratch, cli, "--no-cache")
    assert expected[0] == 1
    assert validate_output(scratch, cli) == validate_output(scratch, cli) == expected
    built, clean = tmp_path / "built", tmp_path / "clean"
    plant(scratch, marker)
    assert cli("--root", scratch, "build", "--out", built).code == cli("--root", scratch, "build", "--no-cache",
                                                                           "--out", clean).code == 1
    assert not marker.exists(), plant.__name__


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else bytes(byte ^ 0x5A for byte in data))


def damage_blobs(root: Path, how: str) -> None:
    """Every blob of the cache cut short, or with a byte of its data changed (its checksum no longer holds)."""
    rewrite_blobs(root, lambda path, digest, old: old[:-5] if how == "truncated" else bytes([old[0] ^ 1]) + old[1:])


@pytest.mark.parametrize("how", ["truncated", "garbled"])
@pytest.mark.parametrize("part", ["database", "blobs"])
def test_a_damaged_cache_gives_what_no_cache_gives(scratch, cli, tmp_path, part, how):
    def spoil() -> None:
        damage(database(scratch), how) if part == "database" else damage_blobs(scratch, how)

    clean = tmp_path / "clean"
    assert cli("--root", scratch, "build", "--no-cache", "--out", clean).code == 0
    assert cli("--root", scratch, "validate").code == 0  # fills the cache
    spoil()
    built = cli("--root", scratch, "build", "--out", tmp_path / "built")  # every record and span read from the cache
    assert built.code == 0 and "Traceback" not in built.err, built.err
    assert tree_bytes(tmp_path / "built") == tree_bytes(clean)
    spoil()
    sorted((scratch / "data" / "actors").glob("*.yaml"))[0].unlink()  # its referrers' summaries are read
    aged(scratch)
    expected = validate_output(scratch, cli, "--no-cache")
    assert validate_output(scratch, cli) == validate_output(scratch, cli) == expected


def test_validate_leaves_nothing_in_the_work_tree(scratch, cli):
    subprocess.run(["git", "init", "-q"], cwd=scratch, check=True)
    shutil.copy(REPO / ".gitignore", scratch / ".gitignore")

    def status() -> str:
        return subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=scratch, capture_output=True,
                              text=True, check=True).stdout

    before = status()
    assert cli("--root", scratch, "validate").code == 0
    assert cli("--root", scratch, "validate").code == 0
    assert status() == before
    assert cache_directory(scratch).is_dir()


def test_a_file_touched_but_unchanged_is_hashed_not_checked(scratch, monkeypatch):
    project = Project(scratch)
    validate.validate_project(project)
    seen = checked_files(monkeypatch)
    for path in (scratch / "data" / "quotes").glob("*.yaml"):
        path.write_bytes(path.read_bytes())  # new mtime, same bytes
    validate.validate_project(project)
    assert seen == []


def test_warm_runs_give_exactly_the_problems_of_runs_without_the_cache(scratch):
    """Unchanged files keep their cached summaries and citation outcomes: the checks spanning records must still
    see an edited record, a deleted referenced record and a changed seed."""
    project = Project(scratch)
    first = validate.validate_project(project)  # fills the cache

    def agree() -> list:
        dataset, problems = validate.validate_project(project, use_cache=False)
        assert validate.validate_project(project) == (dataset, problems)
        assert validate.check_project(project) == (dataset.size, problems)
        return problems

    assert agree() == first[1] == []
    quote = sorted((scratch / "data" / "quotes").glob("*.yaml"))[0]
    quote.write_text(re.sub(r"\ntext: .*", "\ntext: Words nobody said", quote.read_text(encoding="utf-8")), encoding="utf-8")
    edit_one_event(scratch)
    assert [problem.path for problem in agree()] == [f"data/quotes/{quote.name}"]
    actor = next(path for path in sorted((scratch / "data" / "actors").glob("*.yaml"))
                 if any(f"actor: {path.stem}" in event.read_text(encoding="utf-8")
                        for event in (scratch / "data" / "events").glob("*.yaml")))
    actor.unlink()
    assert any(f"unknown actors id {actor.stem!r}" in problem.message for problem in agree())
    source = yaml.safe_load(quote.read_text(encoding="utf-8"))["citations"][0]["source"]
    seed = scratch / "seeds" / yaml.safe_load((scratch / "data" / "sources" / f"{source}.yaml").read_text(encoding="utf-8"))["file"]
    archived = seed.read_bytes()
    seed.write_text("Rewritten.\n", encoding="utf-8")
    changed = agree()
    assert any("has changed" in problem.message for problem in changed)
    assert any("quote not found" in problem.message for problem in changed)
    seed.write_bytes(archived)
    assert not any(problem.message.startswith("quote not found") for problem in agree())


def test_checking_on_every_core_gives_what_one_process_gives(scratch, monkeypatch):
    """Workers check the files and, again, their references and citations: the outcome is that of one process."""
    project = Project(scratch)
    quote = sorted((scratch / "data" / "quotes").glob("*.yaml"))[0]
    quote.write_text(re.sub(r"\ntext: .*", "\ntext: Words nobody said", quote.read_text(encoding="utf-8")), encoding="utf-8")
    (scratch / "data" / "actors" / "extra.yaml").write_text("id: extra\nname: [\n", encoding="utf-8")
    alone = validate.validate_project(project, use_cache=False)
    assert len(alone[1]) == 2
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 40)
    assert validate.validate_project(project, use_cache=False) == alone  # in parallel, without the cache
    assert validate.validate_project(project) == alone  # in parallel, filling the cache
    assert validate.validate_project(project) == alone  # from the cache


def test_one_edit_changes_only_its_own_row(scratch):
    """The cache is not rewritten by a run: an edit replaces the row of the edited file, and no other row."""
    project = Project(scratch)
    validate.validate_project(project)

    def rows() -> dict[str, tuple]:
        connection = sqlite3.connect(database(scratch))
        found = {path: rest for path, *rest in connection.execute("select path, id, sha256, record from files")}
        connection.close()
        return found

    before = rows()
    edited = edit_one_event(scratch)
    aged(scratch)
    validate.validate_project(project)
    after = rows()
    changed = {path for path in before if before[path] != after[path]}
    assert changed == {f"events/{edited.stem}".encode()}  # rows are keyed by the real name, collection/stem


def test_a_file_changed_twice_in_a_row_is_checked_each_time(scratch):
    """A file changed just now has a stat that a further change may keep: it is read again until it is older."""
    project = Project(scratch)
    validate.validate_project(project)
    path = sorted((scratch / "data" / "events").glob("*.yaml"))[0]
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("\nstatus: ", "\nstatus: x", 1), encoding="utf-8")
    assert validate.validate_project(project)[1]
    path.write_text(original, encoding="utf-8")
    assert validate.validate_project(project)[1] == []


def test_warm_runs_agree_with_runs_without_the_cache_through_a_series_of_changes(scratch):
    """Edits, breakage, additions, deletions, duplicate ids, cycles and seed changes, one after another: after each,
    the run that starts from the cache's state gives exactly what a run without the cache gives."""
    project = Project(scratch)
    validate.validate_project(project)
    rng = random.Random(7)

    def records(collection: str = "*") -> list[Path]:
        return sorted((scratch / "data").glob(f"{collection}/*.yaml"))

    def edit(path: Path, old: str, new: str) -> None:
        path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")

    def copy_as(path: Path, name: str, fix_id: bool) -> None:
        text = path.read_text(encoding="utf-8")
        target = path.with_name(f"{name}.yaml")
        target.write_text(re.sub(r"\nid: .*", f"\nid: {name}", text) if fix_id else text, encoding="utf-8")

    def seed_of_a_source() -> Path:
        source = rng.choice(records("sources"))
        return scratch / "seeds" / yaml.safe_load(source.read_text(encoding="utf-8"))["file"]

    changes = [
        lambda: edit(rng.choice(records("events")), "\ndescription: ", "\ndescription: Edited. "),
        lambda: rng.choice(records()).write_text("id: [unclosed\n", encoding="utf-8"),
        lambda: rng.choice(records()).unlink(),
        lambda: copy_as(rng.choice(records("actors")), f"new-actor-{rng.randrange(10**6)}", fix_id=True),
        lambda: copy_as(rng.choice(records("events")), f"misnamed-{rng.randrange(10**6)}", fix_id=False),
        lambda: edit(rng.choice(records("events")), "actor: ", "actor: nobody-"),
        lambda: (quotes := records("quotes")) and edit(quotes[0], "\nid: ", f"\nvariant_of: {quotes[1].stem}\nid: "),
        lambda: (quotes := records("quotes")) and edit(quotes[1], "\nid: ", f"\nvariant_of: {quotes[0].stem}\nid: "),
        lambda: (seed := seed_of_a_source()).write_bytes(seed.read_bytes() + b"\nAn added line.\n"),
        lambda: seed_of_a_source().write_text("Rewritten.\n", encoding="utf-8"),
        lambda: (scratch / "seeds" / "stray.txt").write_text("No record describes this.\n", encoding="utf-8"),
    ]
    kinds = set()
    for step in range(24):
        change = rng.randrange(len(changes))
        kinds.add(change)
        changes[change]()
        if step % 3:
            aged(scratch)  # now and then the changed files are old enough for their stat to be trusted
        dataset, problems = validate.validate_project(project, use_cache=False)
        assert validate.validate_project(project) == (dataset, problems), f"step {step}: change {change}"
        assert validate.check_project(project) == (dataset.size, problems), f"step {step}: change {change}"
    assert len(kinds) >= 8


def test_builds_take_the_citation_spans_that_validation_found(scratch, monkeypatch, tmp_path):
    project = Project(scratch)

    def looked_up_again(text, citation):
        raise AssertionError(f"the span of {citation.quote!r} was looked up again")

    monkeypatch.setattr(build, "find_span", looked_up_again)
    outputs = []
    for name, use_cache in (("without-cache", False), ("cold", True), ("warm", True)):
        dataset, problems = validate.validate_project(project, use_cache=use_cache)
        assert problems == []
        build.build(dataset, tmp_path / name)
        outputs.append(tree_bytes(tmp_path / name))
    assert outputs[0] == outputs[1] == outputs[2]


def test_build_is_skipped_only_while_inputs_and_output_are_unchanged(scratch, cli):
    assert cli("--root", scratch, "build").code == 0
    database = scratch / "build" / "iraq-transition.db"
    built = tree_bytes(scratch / "build")
    written = database.stat().st_mtime_ns
    again = cli("--root", scratch, "build")
    assert again.code == 0 and "up to date" in again.out
    assert database.stat().st_mtime_ns == written
    (scratch / "build" / "csv" / "events.csv").unlink()  # output tampered with: built again
    rebuilt = cli("--root", scratch, "build")
    assert rebuilt.code == 0 and "up to date" not in rebuilt.out
    assert tree_bytes(scratch / "build") == built
    aged(scratch)
    edit_one_event(scratch)  # input changed (and just now: its stat is not trusted, so no skip either)
    assert "up to date" not in cli("--root", scratch, "build").out
    assert tree_bytes(scratch / "build") != built


def test_validate_imports_neither_datasette_nor_frictionless(repo):
    code = (
        "import sys; from iraq_transition.cli import main; main(['--root', sys.argv[1], 'validate']); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('datasette', 'frictionless')); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


_PLAIN_QUOTES = str.maketrans({c: "'" for c in "\u2018\u2019\u201a\u201b"} | {c: '"' for c in "\u201c\u201d\u201e\u201f"})


def reference_normalise_mapped(text: str) -> tuple[str, list[int]]:
    """normalise_mapped's meaning, one character at a time (the fast version must agree exactly)."""
    out, offsets, in_space = [], [], False
    for index, char in enumerate(text):
        for piece in char if char < "\x80" else unicodedata.normalize("NFKD", char).translate(_PLAIN_QUOTES):
            if piece.isspace():
                if in_space:
                    continue
                piece, in_space = " ", True
            else:
                in_space = False
            out.append(piece)
            offsets.append(index)
    return "".join(out), offsets


@given(st.text(alphabet=st.sampled_from(list("ab .,'\"\t\n\r\x0b\x1c") + [
    "\u2019", "\u201c", "\u201d", "\xa0", "\xa8", "\xe9", "\u0301", "\u3000", "\ufb01", "\u2028", "\xbd", "\u2002",
    "\U0001f600"]), max_size=40) | st.text(max_size=40))
def test_fast_normalisation_agrees_with_the_plain_definition(text):
    normalised = spans.normalise_mapped(text)
    expected, offsets = reference_normalise_mapped(text)
    assert normalised.text == expected
    assert [normalised.offset(index) for index in range(len(expected))] == offsets
