"""The cache edited or damaged in place: every value that decides a result is checked as it is read (a row that
fails its checksum, or a file whose rows are not as many as its row says, is a cache miss), so that a warm run
reports exactly what a cold run reports; and files whose names print alike keep rows of their own."""

from __future__ import annotations

import hashlib
import marshal
import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from iraq_transition import engine, validate
from iraq_transition.load import Project
from iraq_transition.snapshot import Files, decode, encode, stamped
from iraq_transition.store import seal_data

from test_engine import tiny_copy
from test_scale import aged, checked_files, database, validate_output
from test_validate import add_bad, git

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tiny(tmp_path, repo) -> Path:
    return tiny_copy(tmp_path / "tiny", repo)


def edit_cache(root: Path, sql: str, *parameters) -> None:
    connection = sqlite3.connect(database(root))
    changed = connection.execute(sql, parameters).rowcount
    connection.commit()
    connection.close()
    assert changed, sql


def seed_of(root: Path, source: str) -> Path:
    record = (root / "data" / "sources" / f"{source}.yaml").read_text(encoding="utf-8")
    return root / "seeds" / next(line.split(": ", 1)[1] for line in record.splitlines() if line.startswith("file: "))


def valid_flipped(root: Path) -> None:
    edit_cache(root, "update files set valid = 1 - valid")


def problems_nulled(root: Path) -> None:
    edit_cache(root, "update files set problems = null where problems is not null")


def issues_nulled(root: Path) -> None:
    edit_cache(root, "update files set issues = null where issues is not null")


def declared_id_nulled(root: Path) -> None:
    edit_cache(root, "update files set declared = null where declared is not null")


def references_lost_then_a_referenced_record_goes(root: Path) -> None:
    edit_cache(root, "delete from refs")
    (root / "data" / "actors" / "united-states.yaml").unlink()


def a_reference_changed_then_its_record_goes(root: Path) -> None:
    edit_cache(root, "update refs set target = target || 'x' where target = 'actors/united-states'")
    (root / "data" / "actors" / "united-states.yaml").unlink()


def references_lost_then_a_missing_record_comes(root: Path) -> None:
    edit_cache(root, "delete from refs")
    actors = root / "data" / "actors"
    text = (actors / "united-states.yaml").read_text(encoding="utf-8")
    (actors / "united-state.yaml").write_text(text.replace("id: united-states", "id: united-state"), encoding="utf-8")


def links_lost(root: Path) -> None:
    edit_cache(root, "delete from links")


def repeats_lost(root: Path) -> None:
    edit_cache(root, "delete from repeats")


def seed_digest_changed(root: Path) -> None:
    edit_cache(root, "update seeds set sha256 = 'f' || substr(sha256, 2) where sha256 not like 'f%'")


def texts_said_unchanged_when_a_seed_changed(root: Path) -> None:
    seed = seed_of(root, "article-000")
    seed.chmod(0o644)
    seed.write_text("Rewritten.\n", encoding="utf-8")
    edit_cache(root, "update texts set sha256 = ? where source = 'article-000'",
               hashlib.sha256(b"Rewritten.\n").hexdigest())


CYCLE = ("quotes/variant-cycle-a.yaml", "quotes/variant-cycle-b.yaml")
SCENARIOS = {  # the bad records the cache is filled with, what is then done to the cache (and to the files)
    "valid flipped, clean data": ((), valid_flipped),
    "valid flipped, a problem": (("events/missing-field.yaml",), valid_flipped),
    "problems nulled": (("events/missing-field.yaml",), problems_nulled),
    "issues nulled": (("events/unknown-reference.yaml",), issues_nulled),
    "declared id nulled": (("events/duplicate-id.yaml",), declared_id_nulled),
    "refs lost, then a record goes": ((), references_lost_then_a_referenced_record_goes),
    "a ref's target changed, then its record goes": ((), a_reference_changed_then_its_record_goes),
    "refs lost, then a missing record comes": (("events/unknown-reference.yaml",),
                                               references_lost_then_a_missing_record_comes),
    "links lost": (CYCLE, links_lost),
    "repeats lost": (("quotes/repeated.yaml",), repeats_lost),
    "seed digest changed, clean data": ((), seed_digest_changed),
    "seed digest changed, a problem": (("events/missing-field.yaml",), seed_digest_changed),
    "texts forged": ((), texts_said_unchanged_when_a_seed_changed),
}


def add_records(root: Path, names: tuple[str, ...]) -> None:
    for name in names:
        if name == "quotes/repeated.yaml":
            shutil.copy(FIXTURES / "repeats" / "repeated.yaml", root / "data" / name)
        else:
            add_bad(root, name)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_edited_cache_gives_what_a_cold_run_gives(tiny, cli, scenario):
    """A row edited in place, or rows of a file removed: that file is read and checked again, and every warm run
    reports exactly the problems and exit code of a run without the cache."""
    bad, tamper = SCENARIOS[scenario]
    add_records(tiny, bad)
    aged(tiny)
    validate_output(tiny, cli)  # fills the cache
    validate_output(tiny, cli)
    tamper(tiny)  # files changed here are hashed: their change time is too recent to trust
    cold = validate_output(tiny, cli, "--no-cache")
    assert validate_output(tiny, cli) == cold  # the file read again, its rows written anew
    assert validate_output(tiny, cli) == cold  # from them


def test_changed_since_finds_the_referrers_of_a_changed_record_whose_refs_were_lost(tiny, cli):
    """The referrers that --changed-since reports are looked up in the cache after the run: a file whose rows of refs
    are missing is taken at what its cached summary says it refers to."""
    events = tiny / "data" / "events"
    shutil.copy(events / "joint-statement.yaml", events / "refers-and-is-misnamed.yaml")  # an id-mismatch
    git(tiny, "init", "-q")
    git(tiny, "add", ".")
    git(tiny, "commit", "-q", "-m", "base")
    aged(tiny)
    validate_output(tiny, cli)  # fills the cache
    edit_cache(tiny, "delete from refs")
    actor = tiny / "data" / "actors" / "united-states.yaml"
    actor.write_text(actor.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    cold = validate_output(tiny, cli, "--no-cache", "--changed-since", "HEAD")
    assert cold[0] == 1 and "data/events/refers-and-is-misnamed.yaml" in cold[1]
    assert validate_output(tiny, cli, "--changed-since", "HEAD") == cold


def row_bytes(path: Path, data: bytes) -> list[range]:
    """Where the rows of the database ``data`` (at ``path``) are, but for meta's (the build stamp): the cells of the
    root page of each table and index (in a cache this small, every row but the blobs that overflow their page)."""
    connection = sqlite3.connect(path)
    size = connection.execute("pragma page_size").fetchone()[0]
    roots = [page for page, in connection.execute("select rootpage from sqlite_schema where tbl_name != 'meta'")]
    connection.close()
    spans = []
    for page in roots:
        start = (page - 1) * size
        header = start + (100 if page == 1 else 0)  # the first page starts with the database's header
        content = int.from_bytes(data[header + 5: header + 7], "big") or 65536  # where the page's cells start
        spans.append(range(start + content, start + size))
    return spans


@pytest.mark.parametrize("snapshot", ["kept", "dropped"])
def test_random_bit_flips_in_the_cache_never_change_a_result(tiny, snapshot):
    """40 bits of the rows of the cache database flipped, one at a time (a fixed seed): each warm run gives what a
    run without the cache gives, with the files as they are and with a referenced record gone (the references are
    looked up then), never another result or an error (a flip that SQLite or a checksum finds is a cache miss, one
    that nothing reads changes nothing); with the snapshot of the files' rows, and without it (the rows are read)."""
    add_records(tiny, ("events/missing-field.yaml", "events/unknown-reference.yaml", "events/duplicate-id.yaml",
                       "quotes/repeated.yaml", *CYCLE))
    aged(tiny)
    project, actor = Project(tiny), tiny / "data" / "actors" / "united-states.yaml"
    actor_bytes = actor.read_bytes()
    cold = validate.check_project(project, use_cache=False)
    actor.unlink()
    cold_without_actor = validate.check_project(project, use_cache=False)
    actor.write_bytes(actor_bytes)
    assert cold[1] and cold_without_actor != cold
    assert validate.check_project(project) == validate.check_project(project) == cold  # fills the cache
    path = database(tiny)
    if snapshot == "dropped":
        edit_cache(tiny, "delete from snapshot")
    connection = sqlite3.connect(path)
    connection.execute("pragma wal_checkpoint(truncate)")  # every row in the database file itself
    connection.close()
    pristine = path.read_bytes()
    rows = [offset for span in row_bytes(path, pristine) for offset in span]
    flips = random.Random(7)
    for _ in range(40):
        offset, bit = flips.choice(rows), flips.randrange(8)
        flipped = bytearray(pristine)
        flipped[offset] ^= 1 << bit
        for gone, expected in ((False, cold), (True, cold_without_actor)):
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            path.write_bytes(flipped)
            if gone:
                actor.unlink()
            assert validate.check_project(project) == expected, f"bit {bit} of byte {offset} flipped, actor gone: {gone}"
        actor.write_bytes(actor_bytes)


def test_names_that_print_alike_have_rows_of_their_own(tiny, cli, monkeypatch):
    r"""``a\x01b.yaml`` with a real 0x01 byte and ``a\x5cx01b.yaml`` with a backslash print alike: each keeps its own
    results in the cache, and a warm run checks neither again."""
    events = tiny / "data" / "events"
    (events / "a\x01b.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    aged(tiny)
    assert validate_output(tiny, cli)[0] == 1  # caches the file with the 0x01 byte and its problems
    shutil.copy(events / "joint-statement.yaml", events / "a\\x01b.yaml")
    aged(tiny)
    cold = validate_output(tiny, cli, "--no-cache")
    assert cold[0] == 1 and cold[1].count("yaml-syntax") == 1 and cold[1].count("id-mismatch") == 1, cold[1]
    assert validate_output(tiny, cli) == validate_output(tiny, cli) == cold
    connection = sqlite3.connect(database(tiny))
    names = sorted(path for path, in connection.execute(
        "select path from files where cast(path as text) like 'events/a%'"))
    connection.close()
    assert names == [b"events/a\x01b", b"events/a\\x01b"]
    seen = checked_files(monkeypatch)
    validate.check_project(Project(tiny))
    assert seen == []


# --------------------------------------------------------------------------- the snapshot of the files' rows


def snapshot_blobs(root: Path) -> dict[int, bytes]:
    connection = sqlite3.connect(database(root))
    blobs = dict(connection.execute("select id, blob from snapshot"))
    connection.close()
    return blobs


def put_snapshot(root: Path, blobs: dict[int, bytes]) -> None:
    """The snapshot's rows replaced by ``blobs`` (written as they are: the rows of files stay as they were)."""
    connection = sqlite3.connect(database(root))
    connection.execute("delete from snapshot")
    connection.executemany("insert into snapshot values (?, ?)", blobs.items())
    connection.commit()
    connection.close()


def forged(files: Files, root: Path, display: str) -> Files:
    """``files`` saying that the file ``display`` holds a valid record without anything rare."""
    at = files.paths.index(display.removeprefix("data/").removesuffix(".yaml").encode())
    files.heads[at] = (1, 0, None, *files.heads[at][3:])
    return files


def with_old_check(blob: bytes, data: bytes) -> bytes:
    return data + blob[-4:]


@pytest.fixture
def cached_problem(tiny) -> tuple[Path, tuple]:
    """The small dataset with a file that has a problem of its own, cached, and what a run without the cache gives."""
    add_records(tiny, ("events/missing-field.yaml",))
    aged(tiny)
    project = Project(tiny)
    cold = validate.check_project(project, use_cache=False)
    assert cold[1] and validate.check_project(project) == cold
    return tiny, cold


def test_a_damaged_snapshot_base_has_the_rows_read(cached_problem):
    """A snapshot whose base fails its check is no snapshot: the rows are read (a forged base that kept its old check
    would hide the problem)."""
    root, cold = cached_problem
    base = snapshot_blobs(root)[0]
    files = forged(decode(base[:-4]), root, "data/events/missing-field.yaml")
    put_snapshot(root, {0: with_old_check(base, encode(files))})
    assert validate.check_project(Project(root)) == cold
    assert validate.check_project(Project(root)) == cold  # from the snapshot written anew


def test_damaged_snapshot_changes_have_the_rows_read(cached_problem):
    """The files changed since the snapshot's base are a blob of their own, checked as it is read."""
    root, cold = cached_problem
    edited = root / "data" / "events" / "joint-statement.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    aged(root)
    assert validate.check_project(Project(root)) == cold
    blobs = snapshot_blobs(root)
    assert set(blobs) == {0, 1}  # the base, and the one file changed since
    stamp, changes, whole = marshal.loads(blobs[1][:-4])
    files = forged(decode(blobs[0][:-4]), root, "data/events/missing-field.yaml")
    at = files.paths.index(b"events/missing-field")
    changes[at] = (files.rows[at], files.stats[at], files.heads[at], None, None)
    put_snapshot(root, {0: blobs[0], 1: with_old_check(blobs[1], marshal.dumps((stamp, changes, whole)))})
    assert validate.check_project(Project(root)) == cold


def test_a_snapshot_of_an_older_transaction_is_not_taken(cached_problem, monkeypatch):
    """A snapshot put back as it was before a run that changed the rows (here: added a file) is not theirs: the rows
    are read, the added file is not checked again, and its row is kept."""
    root, cold = cached_problem
    older = snapshot_blobs(root)
    shutil.copy(root / "data" / "events" / "joint-statement.yaml", root / "data" / "events" / "joint-statement-2.yaml")
    aged(root)
    project = Project(root)
    cold = validate.check_project(project, use_cache=False)
    assert validate.check_project(project) == cold
    put_snapshot(root, older)
    seen = checked_files(monkeypatch)
    assert validate.check_project(project) == cold
    assert validate.check_project(project) == cold
    assert seen == []


def test_rows_deleted_under_a_snapshot_are_written_again(cached_problem, monkeypatch):
    """Rows of files deleted (the snapshot left as it was) change the count the snapshot was written at: the rows
    are read, and the files whose rows went are checked and their rows written again."""
    root, cold = cached_problem
    edit_cache(root, "delete from files where path = ?", b"events/joint-statement")
    seen = checked_files(monkeypatch)
    assert validate.check_project(Project(root)) == cold
    assert seen == ["data/events/joint-statement.yaml"]
    connection = sqlite3.connect(database(root))
    assert connection.execute("select count(*) from files where path = ?", (b"events/joint-statement",)).fetchone() == (1,)
    connection.close()
    seen.clear()
    assert validate.check_project(Project(root)) == cold
    assert seen == []


def test_a_snapshot_put_back_with_the_count_it_was_sealed_with_is_not_taken(cached_problem):
    """A snapshot and the count of changes it was sealed with, both put back as they were before a seed's text
    changed (the files' bytes did not: only their rows say that their citations are no longer found), are not the
    rows': the rows are read, and the problems the seed's change made are reported."""
    root, cold = cached_problem
    older, count = snapshot_blobs(root), generation(root)
    seed = seed_of(root, "article-001")
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("Ain al-Asad airbase", "Ain al-Assad airbase"), encoding="utf-8")
    aged(root)
    project = Project(root)
    cold = validate.check_project(project, use_cache=False)
    assert len(cold[1]) > 2 and validate.check_project(project) == cold
    put_snapshot(root, older)
    edit_cache(root, "update generation set count = ?", count)
    assert validate.check_project(project) == cold
    assert validate.check_project(project) == cold


def generation(root: Path) -> int:
    connection = sqlite3.connect(database(root))
    (count,) = connection.execute("select count from generation").fetchone()
    connection.close()
    return count


# --------------------------------------------------------------------------- the checks of the whole, kept


@pytest.fixture
def cached_repeat(tiny) -> tuple[Path, tuple]:
    """The small dataset with a quote that repeats another (an error on both), cached after an edit of an event (so
    that the snapshot holds changes and the outcome of the checks of the whole), and what a run without the cache
    gives."""
    add_records(tiny, ("quotes/repeated.yaml",))
    aged(tiny)
    project = Project(tiny)
    assert validate.check_project(project)[1]
    edited = tiny / "data" / "events" / "joint-statement.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    aged(tiny)
    cold = validate.check_project(project, use_cache=False)
    assert {problem.code for problem in cold[1]} == {"duplicate-quote"} and validate.check_project(project) == cold
    return tiny, cold


def whole_checks(monkeypatch) -> list[int]:
    """How many times the engine looks for duplicate quotes from now on."""
    calls: list[int] = []
    real = engine.duplicate_quotes
    monkeypatch.setattr(engine, "duplicate_quotes", lambda *args: calls.append(1) or real(*args))
    return calls


def test_the_checks_of_the_whole_are_taken_as_the_last_run_left_them_while_no_links_or_repeat_change(
        cached_repeat, monkeypatch):
    """An edit that changes no file's links or repeat leaves the duplicate quotes and cycles as they were: the run
    takes them from the snapshot; a quote whose speaker changes has them found again."""
    root, cold = cached_repeat
    project = Project(root)
    event = root / "data" / "events" / "joint-statement.yaml"
    event.write_text(event.read_text(encoding="utf-8") + "# edited again\n", encoding="utf-8")
    aged(root)
    calls = whole_checks(monkeypatch)
    assert validate.check_project(project) == cold
    assert calls == []
    quote = root / "data" / "quotes" / "repeated.yaml"
    quote.write_text(quote.read_text(encoding="utf-8").replace("speaker_id: the-official", "speaker_id: united-states"),
                     encoding="utf-8")
    aged(root)
    warm = validate.check_project(project)
    assert warm == validate.check_project(project, use_cache=False) and warm[1] == [] and calls == [1, 1]
    calls.clear()
    assert validate.check_project(project) == warm and calls == []


def test_a_forged_outcome_of_the_checks_of_the_whole_is_not_taken(cached_repeat):
    """The outcome is sealed with the snapshot's changes: one that says there are no duplicate quotes, with the old
    check, has the rows read and the duplicates found."""
    root, cold = cached_repeat
    blobs = snapshot_blobs(root)
    stamp, changes, whole = marshal.loads(blobs[1][:-4])
    assert any(whole)
    put_snapshot(root, {0: blobs[0], 1: with_old_check(blobs[1], marshal.dumps((stamp, changes, ({}, {}, {}))))})
    assert validate.check_project(Project(root)) == cold
    assert validate.check_project(Project(root)) == cold  # from the snapshot written anew


def test_forged_repeats_of_the_snapshot_are_not_taken(cached_repeat):
    """The quotes' repeats are part of the snapshot's base: a base without them, with the old check, has the rows
    read (it would hide the duplicates once they are looked for again)."""
    root, cold = cached_repeat
    blobs = snapshot_blobs(root)
    files = decode(blobs[0][:-4])
    assert files.repeats
    files.repeats.clear()
    stamp, changes, _ = marshal.loads(blobs[1][:-4])
    put_snapshot(root, {0: with_old_check(blobs[0], encode(files)), 1: seal_data(marshal.dumps((stamp, changes, None)),
                                                                                 stamped(generation(root)))})
    assert validate.check_project(Project(root)) == cold


def test_a_row_id_is_never_given_again(tiny):
    """The row of a file that goes goes with it, and a row made later takes a new id, never that one: given again,
    an older snapshot put back with its count (as many rows, the same largest id) would pass for the rows', and the
    links it holds could hide a cycle of references that a run without the cache reports."""
    project = Project(tiny)
    quote = tiny / "data" / "quotes" / "never-quite-out.yaml"
    text = quote.read_text(encoding="utf-8")
    aged(tiny)
    validate.check_project(project)
    quote.write_text(text + "# edited\n", encoding="utf-8")
    aged(tiny)
    validate.check_project(project)
    assert largest_row(tiny) == (b"quotes/never-quite-out", top := largest_row(tiny)[1])
    quote.unlink()
    aged(tiny)
    validate.check_project(project)
    assert largest_row(tiny)[1] < top  # no other row was made: the quote is referred to by none
    quote.write_text(text, encoding="utf-8")
    aged(tiny)
    validate.check_project(project)
    assert largest_row(tiny) == (b"quotes/never-quite-out", top + 1)


def largest_row(root: Path) -> tuple[bytes, int]:
    connection = sqlite3.connect(database(root))
    path, row = connection.execute("select path, id from files order by id desc limit 1").fetchone()
    connection.close()
    return path, row
