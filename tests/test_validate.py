"""The ``validate`` command and the validation API, on a small dataset broken one way at a time."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iraq_transition.load import Project, RecordFile
from iraq_transition.problems import Problem
from iraq_transition.models import COLLECTIONS, Citation
from iraq_transition.records import check_file
from iraq_transition.spans import find_span
from iraq_transition.problems import print_problems
from iraq_transition.validate import validate_project

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"


@pytest.fixture
def tiny(tmp_path: Path, repo: Path) -> Path:
    """A scratch repository: the seeds and the small valid dataset of fixtures/good."""
    root = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "good" / "data", root / "data")
    shutil.copytree(repo / "seeds", root / "seeds")
    return root


def problems_of(root: Path, *paths: Path) -> list[Problem]:
    return validate_project(Project(root), list(paths) or None)[1]


def add_bad(root: Path, name: str) -> str:
    """Copy fixtures/bad/NAME into ROOT/data/NAME; return its path as problems print it."""
    shutil.copy(BAD / name, root / "data" / name)
    return f"data/{name}"


def assert_clean_exit(done, code: int) -> None:
    assert done.code == code, done.err
    assert "Traceback" not in done.err and "internal error" not in done.err


# --------------------------------------------------------------------------- a valid dataset


def test_the_small_dataset_is_valid(tiny, repo):
    dataset, problems = validate_project(Project(tiny))
    assert problems == []
    assert list(dataset.records) == list(COLLECTIONS)
    for collection, records in dataset.records.items():
        assert records, collection
        assert list(records) == sorted(records)
        assert all(isinstance(r, COLLECTIONS[collection]) for r in records.values())
    for source_id, source in dataset.records["sources"].items():
        assert dataset.texts[source_id] == (repo / "seeds" / source.file).read_text(encoding="utf-8")


def test_committed_records_validate_and_seed_hashes_hold(repo):
    for collection in COLLECTIONS:
        assert list((repo / "data" / collection).glob("*.yaml")), f"no committed {collection} records"
    dataset, problems = validate_project(Project(repo))
    assert [str(p) for p in problems] == []
    files = {source.file for source in dataset.records["sources"].values()}
    assert files == {seed.name for seed in (repo / "seeds").iterdir()}
    for source in dataset.records["sources"].values():
        assert hashlib.sha256((repo / "seeds" / source.file).read_bytes()).hexdigest() == source.sha256


# --------------------------------------------------------------------------- one error class at a time

# fixture -> every problem it causes in its own file: (line:col, field, *words the message must contain)
CASES = {
    "actors/alias-bomb.yaml": [("2:4", None, "anchor &a is not allowed")],
    "actors/alias.yaml": [("4:5", None, "alias *name is not allowed")],
    "actors/anchor.yaml": [("2:7", None, "anchor &name is not allowed")],
    "actors/unquoted-boolean.yaml": [("2:7", "name", "expected text, got boolean true: quote this value")],
    "actors/wrong-collection.yaml": [("1:1", None, "valid events record in data/actors/: move it to data/events/")],
    "events/ambiguous-span.yaml": [("8:12", "citations.0.quote", "occurs 2 times in source 'article-000': add a prefix or suffix")],
    "events/bad-date.yaml": [("7:10", "date.value", "'2024-13-01' is not a real calendar date")],
    "events/bad-enum.yaml": [("5:9", "status", "expected one of occurred, announced, planned, expected; got 'happened'")],
    "events/custom-tag.yaml": [("3:14", None, "tag !include is not allowed")],
    "events/date-format.yaml": [("7:10", "date.value", "'27/09/2024' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")],
    "events/duplicate-id.yaml": [
        ("1:5", "id", "duplicate id 'joint-statement', also in data/events/joint-statement.yaml"),
        ("1:5", "id", "does not match the file name duplicate-id.yaml"),
    ],
    "events/duplicate-key.yaml": [("4:1", None, "duplicate key 'title'")],
    "events/empty-citations.yaml": [("6:12", "citations", "citations needs at least one item: cite at least one verbatim span")],
    "events/empty-value.yaml": [("2:7", "title", "title is required and has no value: write it")],
    "events/empty.yaml": [("1:1", None, "file is empty")],
    "events/id-mismatch.yaml": [("1:5", "id", "id 'joint-statement-2' does not match the file name id-mismatch.yaml")],
    "events/invalid-utf8.yaml": [("2:11", None, "invalid UTF-8 (byte 0xe9)")],
    "events/link-to-missing-event.yaml": [("7:12", "links.0.event", "unknown events id 'no-such-event'")],
    "events/missing-field.yaml": [("1:1", "status", "missing required field 'status'")],
    "events/prefix-mismatch.yaml": [("8:12", "citations.0.quote", "none with the given prefix/suffix")],
    "events/year-unsupported.yaml": [("10:24", "citations.0.supports.1", "the year 2027 in digits")],
    "events/quote-not-found.yaml": [
        ("8:12", "citations.0.quote", "quote not found in the text of source 'article-000'", "closest passage: 'As the United States and Iraq move forward,'")
    ],
    "events/self-link.yaml": [("7:12", "links.0.event", "refers to this record itself")],
    "events/standard-tag.yaml": [("2:8", None, "tag tag:yaml.org,2002:str is not allowed")],
    "events/syntax-error.yaml": [("4:1", None, "YAML syntax error")],
    "events/top-level-list.yaml": [("1:1", None, "holds a list, not a record")],
    "events/two-documents.yaml": [("2:1", None, "second YAML document")],
    "events/unknown-field.yaml": [  # no "missing required field 'title'" beside it: one slip, one problem
        ("2:1", "titel", "unknown field 'titel': did you mean 'title'? (the fields allowed here: id, notes, title,"),
        ("9:16", "citations.0.supports.0", "'titel' names no populated factual value"),  # at once, not once fixed
    ],
    "events/unknown-reference.yaml": [("7:12", "participants.0.actor", "unknown actors id 'united-state'", "did you mean 'united-states'?")],
    "events/unknown-source.yaml": [("7:13", "citations.0.source", "unknown sources id 'article-999'")],
    "quotes/text-not-in-span.yaml": [("2:7", "text", "not inside any of the record's citation spans")],
    "quotes/speaker-not-in-span.yaml": [("9:15", "citations.0.supports", "nor the sentence around it holds 'a senior US official'")],
    "quotes/variant-of-itself.yaml": [("6:13", "variant_of", "refers to this record itself")],
    "sources/bad-sha256.yaml": [("3:9", "sha256", "'abc' does not match the pattern", "(SHA-256 of the archived file's bytes")],
    "sources/missing-seed.yaml": [("2:7", "file", "seed file seeds/999_missing.txt does not exist")],
}


def test_every_bad_fixture_has_a_case():
    fixtures = {p.relative_to(BAD).as_posix() for p in BAD.glob("*/*.yaml")}
    assert fixtures - set(CASES) == {"quotes/variant-cycle-a.yaml", "quotes/variant-cycle-b.yaml"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_error_class_is_located(tiny, name):
    path = add_bad(tiny, name)
    label = name.removesuffix(".yaml")
    found = [p for p in problems_of(tiny) if p.path == path]
    assert [(f"{p.line}:{p.col}", p.record, p.field) for p in found] == [
        (where, label, field) for where, field, *_ in CASES[name]
    ]
    for problem, (where, field, *words) in zip(found, CASES[name]):
        assert all(word in problem.message for word in words)
        assert str(problem).startswith(f"{path}:{where}: {label}: {field + ': ' if field else ''}")


def test_a_duplicate_id_is_reported_on_both_files(tiny):
    add_bad(tiny, "events/duplicate-id.yaml")
    other = [p for p in problems_of(tiny) if p.path == "data/events/joint-statement.yaml"]
    assert [(p.line, p.col, p.field) for p in other] == [(1, 5, "id")]
    assert "also in data/events/duplicate-id.yaml" in other[0].message


def test_a_variant_of_cycle_is_reported_on_each_record(tiny):
    a = add_bad(tiny, "quotes/variant-cycle-a.yaml")
    b = add_bad(tiny, "quotes/variant-cycle-b.yaml")
    problems = problems_of(tiny)
    assert [(p.path, p.line, p.col, p.field) for p in problems] == [(a, 6, 13, "variant_of"), (b, 6, 13, "variant_of")]
    assert "forms a cycle (variant-cycle-a -> variant-cycle-b -> variant-cycle-a)" in problems[0].message


def test_a_tampered_seed_fails_its_hash(tiny):
    seed = tiny / "seeds" / "000_adbaac8c2019ffeb.txt"
    seed.chmod(0o644)
    seed.write_bytes(seed.read_bytes() + b"A line added after archiving.\n")
    problems = problems_of(tiny)
    assert [str(p).split(": seeds/")[0] for p in problems] == ["data/sources/article-000.yaml:3:9: sources/article-000: sha256"]
    assert hashlib.sha256(seed.read_bytes()).hexdigest() in problems[0].message


def test_a_seed_without_a_source_record_is_reported(tiny):
    (tiny / "seeds" / "005_extra.txt").write_text("An article nobody described.\n")
    (tiny / "data" / "sources" / "article-004.yaml").unlink()
    problems = problems_of(tiny)
    assert [(p.path, p.line, p.col) for p in problems] == [
        ("seeds/004_26d1564b29ad9d7f.txt", 1, 1),
        ("seeds/005_extra.txt", 1, 1),
    ]
    assert all("no source record describes this seed file" in p.message for p in problems)


def test_find_span_gives_offsets_in_the_original_text(tiny):
    text = (tiny / "seeds" / "000_adbaac8c2019ffeb.txt").read_text(encoding="utf-8")
    straight = Citation(source="s", quote="the coalition's  military\nmission in Iraq will transition", supports=["status"])
    start, end = find_span(text, straight)
    assert text[start:end] == "the coalition’s military mission in Iraq will transition"
    ambiguous = Citation(source="s", quote="coalition’s military mission", supports=["status"])
    assert find_span(text, ambiguous) is None
    first = find_span(text, ambiguous.model_copy(update={"prefix": "months, the"}))
    second = find_span(text, ambiguous.model_copy(update={"prefix": "for concluding the"}))
    assert first < second and text[first[0]: first[1]] == text[second[0]: second[1]] == "coalition’s military mission"
    assert find_span(text, Citation(source="s", quote="not in the article", supports=["status"])) is None


def test_find_span_ignores_unicode_form(tiny):
    text = "Caf\u00e9 talks ended\u00a0on Friday."
    start, end = find_span(text, Citation(source="s", quote="Cafe\u0301 talks ended on Friday", supports=["status"]))
    assert text[start:end] == "Caf\u00e9 talks ended\u00a0on Friday"


# --------------------------------------------------------------------------- the command


def test_all_errors_are_reported_at_once(tiny, cli):
    names = ["events/bad-enum.yaml", "events/duplicate-key.yaml", "actors/unquoted-boolean.yaml", "events/quote-not-found.yaml"]
    for name in names:
        add_bad(tiny, name)
    done = cli("--root", tiny, "validate")
    assert_clean_exit(done, 1)
    lines = done.out.splitlines()
    assert [line.split(":")[0] for line in lines] == sorted(f"data/{n}" for n in names)
    assert "4 errors in 4 files" in done.err


def test_a_clean_run_exits_0_with_an_ok_line(tiny, cli):
    done = cli("--root", tiny, "validate")
    assert_clean_exit(done, 0)
    assert done.out == "" and done.err.startswith("OK: 12 records valid")


def test_github_format_escapes_annotations(tiny, cli):
    add_bad(tiny, "events/bad-enum.yaml")
    shutil.copy(BAD / "events" / "bad-enum.yaml", tiny / "data" / "events" / "a,b:c.yaml")
    done = cli("--root", tiny, "validate", "--format", "github")
    assert_clean_exit(done, 1)
    assert (
        "::error file=data/events/a%2Cb%3Ac.yaml,line=1,col=5,title=events/a%2Cb%3Ac::"
        "id: id 'bad-enum' does not match the file name a,b:c.yaml: rename the file to bad-enum.yaml or set id: a,b:c"
    ) in done.out.splitlines()
    assert (
        "::error file=data/events/bad-enum.yaml,line=5,col=9,title=events/bad-enum::"
        "status: expected one of occurred, announced, planned, expected; got 'happened': write one of them "
        "(docs/codebook.md says what each means)"
    ) in done.out.splitlines()


def test_json_format_lists_every_problem(tiny, cli):
    add_bad(tiny, "events/bad-enum.yaml")
    add_bad(tiny, "events/duplicate-key.yaml")
    done = cli("--root", tiny, "validate", "--format", "json")
    assert_clean_exit(done, 1)
    assert json.loads(done.out) == [
        {"path": p.path, "line": p.line, "col": p.col, "record": p.record, "field": p.field, "message": p.message,
         "code": p.code}
        for p in problems_of(tiny)
    ]
    assert len(json.loads(done.out)) == 2


def test_json_format_of_a_clean_run_is_an_empty_list(tiny, cli):
    done = cli("--root", tiny, "validate", "--format", "json")
    assert_clean_exit(done, 0)
    assert json.loads(done.out) == []


def test_paths_restrict_what_is_reported(tiny, cli):
    enum = add_bad(tiny, "events/bad-enum.yaml")
    add_bad(tiny, "actors/unquoted-boolean.yaml")
    done = cli("--root", tiny, "validate", tiny / enum)
    assert_clean_exit(done, 1)
    assert [line.split(":")[0] for line in done.out.splitlines()] == [enum]
    done = cli("validate", "data/actors", cwd=tiny)
    assert [line.split(":")[0] for line in done.out.splitlines()] == ["data/actors/unquoted-boolean.yaml"]
    done = cli("--root", tiny, "validate", tiny / "data" / "quotes")
    assert_clean_exit(done, 0)
    done = cli("validate", ".", cwd=tiny)
    assert len(done.out.splitlines()) == 2


@pytest.mark.parametrize(
    "args, words",
    [
        (["validate", "data/events/no-such-file.yaml"], "no such file or directory"),
        (["validate", "/"], "outside the repository"),
        (["validate", "--changed-since", "no-such-revision"], "git cannot compare"),
    ],
)
def test_usage_errors_exit_2(tiny, cli, args, words):
    done = cli(*args, cwd=tiny)
    assert_clean_exit(done, 2)
    assert words in done.err


def test_a_path_outside_data_and_seeds_is_a_usage_error(tiny, cli):
    (tiny / "notes.yaml").write_text("id: notes\n")
    done = cli("validate", "notes.yaml", cwd=tiny)
    assert_clean_exit(done, 2)
    assert "neither in data/ nor in seeds/" in done.err


def test_a_root_without_data_is_a_usage_error(tmp_path, cli):
    done = cli("--root", tmp_path, "validate")
    assert_clean_exit(done, 2)
    assert "no data/ directory" in done.err


def _hostile_files() -> dict[str, tuple[bytes, str, str]]:
    """name -> (content, where the first problem is, words of its message)."""
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n".encode() for i in range(20)
    )
    return {
        "binary": (bytes(range(256)) * 8, "2:118", "invalid UTF-8 (byte 0x80)"),
        "deep-flow": (b"id: deep-flow\ntitle: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "2:71", "nested more than 64 levels"),
        "deep-block": (b"id: deep-block\nx:\n" + b"".join(b" " * i + b"a:\n" for i in range(1, 500)), "66:65", "nested more than 64 levels"),
        "huge-number": (b"id: huge-number\nbest: " + b"9" * 100_000 + b"\n", "2:7", "number is too long"),
        "huge-float": (b"id: huge-float\ntitle: 1.0e+999999\n", "1:1", "missing required field"),
        "nul": (b"id: nul\ntitle: a\x00b\n", "2:9", "character U+0000 is not allowed"),
        "bom-crlf": (b"\xef\xbb\xbfid: bom-crlf\r\ntitle: x\r\n", "1:1", "missing required field 'citations'"),
        "utf16": ("id: utf16\n".encode("utf-16"), "1:1", "invalid UTF-8 (byte 0xff)"),
        "empty": (b"", "1:1", "file is empty"),
        "only-spaces": (b"   \n\n", "1:1", "file is empty"),
        "bomb": (bomb, "1:4", "anchor &a is not allowed"),
        "too-big": (b"id: too-big\ntitle: '" + b"x" * 1_100_000 + b"'\n", "1:1", "larger than 1,000,000 bytes"),
        "tab-indent": (b"id: tab-indent\n\ttitle: x\n", "2:1", "YAML syntax error"),
        "scalar": (b"just text\n", "1:1", "holds a single value ('just text'), not a record"),
        "null-document": (b"---\n...\n", "1:1", "holds an empty document, not a record"),
        "surrogate-escape": (b'id: surrogate-escape\ntitle: "\\ud800"\n', "2:11", "YAML syntax error"),
        "many-errors": (b"\n".join(f"field{i}: {i}".encode() for i in range(5000)), "1:1", "missing required field"),
    }


HOSTILE = _hostile_files()


def test_hostile_input_gives_located_errors_never_a_traceback(tiny, cli):
    events = tiny / "data" / "events"
    for name, (content, _, _) in HOSTILE.items():
        (events / f"{name}.yaml").write_bytes(content)
    (events / "directory.yaml").mkdir()
    (events / "outside.yaml").symlink_to("/etc/hostname")
    os.mkfifo(events / "pipe.yaml")
    (tiny / "data" / "stray.yaml").write_text("id: stray\n")
    (tiny / "data" / "events" / "x.yml").write_text("id: x\n")
    (tiny / "data" / "elsewhere" / "deeper").mkdir(parents=True)
    done = cli("--root", tiny, "validate")
    assert_clean_exit(done, 1)
    first: dict[str, str] = {}
    for line in done.out.splitlines():
        first.setdefault(line.split(":")[0], line)
    expected = {f"data/events/{name}.yaml": f"{where}: events/{name}: " for name, (_, where, _) in HOSTILE.items()}
    expected |= {path: "1:1: " for path in (
        "data/events/directory.yaml", "data/events/outside.yaml", "data/events/pipe.yaml",
        "data/stray.yaml", "data/events/x.yml", "data/elsewhere",
    )}
    assert set(first) == set(expected)
    for path, prefix in expected.items():
        assert first[path].startswith(f"{path}:{prefix}"), first[path]
    for name, (_, _, words) in HOSTILE.items():
        assert words in first[f"data/events/{name}.yaml"]
    huge_float = [line for line in done.out.splitlines() if line.startswith("data/events/huge-float.yaml:2:")]
    assert huge_float == ["data/events/huge-float.yaml:2:8: events/huge-float: title: expected text, got number inf: "
                          "quote this value (YAML reads unquoted yes, no, on, off, numbers and ~ as something other than text)"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_an_unreadable_record_is_located(tiny, cli):
    locked = tiny / "data" / "events" / "locked.yaml"
    locked.write_text("id: locked\n")
    locked.chmod(0)
    done = cli("--root", tiny, "validate")
    assert_clean_exit(done, 1)
    assert "data/events/locked.yaml:1:1: events/locked: cannot read the file" in done.out


# --------------------------------------------------------------------------- --changed-since


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args],
        cwd=root, check=True, capture_output=True,
    )


def test_changed_since_reports_changed_records_and_their_referrers(tiny, cli):
    stale = add_bad(tiny, "events/bad-enum.yaml")  # broken before the revision: not reported
    git(tiny, "init", "-q")
    git(tiny, "add", ".")
    git(tiny, "commit", "-q", "-m", "base")
    official = tiny / "data" / "actors" / "the-official.yaml"
    official.write_text(official.read_text().replace("persistent threat", "persistent danger"))
    (tiny / "data" / "events" / "joint-statement.yaml").unlink()
    new = add_bad(tiny, "events/unknown-field.yaml")
    seed = tiny / "seeds" / "001_9d09becc82958073.txt"
    seed.chmod(0o644)
    seed.write_bytes(seed.read_bytes() + b"\nAn added line.\n")

    full = problems_of(tiny)
    done = cli("--root", tiny, "validate", "--changed-since", "HEAD", "--format", "json")
    assert_clean_exit(done, 1)
    changed = [Problem(**row) for row in json.loads(done.out)]

    affected = {
        "data/actors/the-official.yaml",  # changed
        "data/quotes/never-quite-out.yaml",  # references the changed actor
        "data/events/joint-statement.yaml",  # deleted
        "data/events/vacate-ain-al-asad.yaml",  # links to the deleted event, cites the changed seed's source
        new,  # untracked
        "seeds/001_9d09becc82958073.txt",  # changed seed
        "data/sources/article-001.yaml",  # describes the changed seed
        "data/force_levels/us-troops-iraq.yaml",  # cites it
        "data/bases/ain-al-asad.yaml",  # cites it
    }
    assert changed == [p for p in full if p.path in affected]
    assert {p.path for p in changed} == {
        "data/actors/the-official.yaml",
        "data/events/vacate-ain-al-asad.yaml",
        new,
        "data/sources/article-001.yaml",
    }
    assert any(p.path == stale for p in full)


def test_github_annotations_escape_percent_and_newlines():
    out = io.StringIO()
    print_problems([Problem("data/a%\nb.yaml", 2, 3, "50% done\r\nnext", "events/x", "title")], "github", out)
    assert out.getvalue() == "::error file=data/a%25%0Ab.yaml,line=2,col=3,title=events/x::title: 50%25 done%0D%0Anext\n"


def test_github_annotations_show_other_control_characters_and_overrides_as_escapes(tiny, cli):
    """An unknown key is quoted in its message: what it holds cannot colour the log or reorder the text."""
    record = tiny / "data" / "events" / "joint-statement.yaml"
    record.write_text(record.read_text(encoding="utf-8") + '"a\\e[31mb\\u202ec": 1\n', encoding="utf-8")
    done = cli("--root", tiny, "validate", "--format", "github")
    assert done.code == 1
    assert "\x1b" not in done.out and "\u202e" not in done.out
    assert "a\\x1b[31mb\\u202ec" in done.out


@pytest.mark.parametrize("value, said", [
    ("plannedd", "status: expected one of occurred, announced, planned, expected; got 'plannedd': did you mean 'planned'?"),
    ("happened", "status: expected one of occurred, announced, planned, expected; got 'happened': write one of them "
                 "(docs/codebook.md says what each means)"),
    ("null", "status: no value: write one of occurred, announced, planned, expected (docs/codebook.md says what each "
             "means)"),
    ("perpetrator", "participants.0.role: expected one of party, initiator, announcer, agent, target, subject, host, "
                    "overseer; got 'perpetrator': the value is now called 'agent'"),
])
def test_a_value_outside_its_vocabulary_says_what_to_write(repo, value, said):
    path = repo / "data/events/us-iraq-two-phase-transition-agreement.yaml"
    text = path.read_text(encoding="utf-8")
    field, line = ("participants.0.role", "    role: party") if value == "perpetrator" else ("status", next(
        line for line in text.splitlines() if line.startswith("status: ")))
    assert line in text
    file = RecordFile(path, "data/events/x.yaml", "events", path.stem)
    problems = check_file(file, text.replace(line, line.rsplit(" ", 1)[0] + f" {value}", 1).encode()).problems
    assert [f"{problem.field}: {problem.message}" for problem in problems if problem.field == field] == [said]


YAML_PIECES = ["id: x\n", "title: ", "- ", "  ", "\t", "&a ", "*a ", "!!str ", "? ", ": ", "[", "]", "{", "}", ",",
               "'", '"', "#", "---\n", "...\n", "yes", "0x1f", "1e999", "2024-09-27", "\n", "\u2019", "\x00", "citations:\n"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.lists(st.sampled_from(YAML_PIECES), max_size=40).map(lambda p: "".join(p).encode())))
def test_check_file_never_raises(data):
    file = RecordFile(Path("data/events/x.yaml"), "data/events/x.yaml", "events", "x")
    result = check_file(file, data)
    assert (result.record is None) == bool(result.problems)
    assert all(p.line >= 1 and p.col >= 1 and p.path == "data/events/x.yaml" for p in result.problems)


def test_validate_imports_neither_datasette_nor_frictionless(tiny):
    code = (
        "import sys\nfrom iraq_transition.cli import main\n"
        f"code = main(['--root', {str(tiny)!r}, 'validate'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('datasette', 'frictionless'))\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0 []"


# --------------------------------------------------------------------------- the cost of hints

HOSTILE_RECORDS, HOSTILE_CITATIONS = 5, 20


def add_hostile_citations(root: Path, records: int = HOSTILE_RECORDS) -> None:
    """A 1 MB seed of made-up words and ``records`` events whose 20 citations each quote 2,000 characters of those
    words that the seed does not hold: the worst case for finding the closest passage."""
    rng = random.Random(0)
    words = ["".join(rng.choice("etaoinshrdlucmfw") for _ in range(rng.randint(2, 9))) for _ in range(3000)]

    def prose(size: int) -> str:
        text = " ".join(rng.choice(words) for _ in range(size // 5))
        return text[:size]

    seed = (prose(999_000).rstrip() + "\n").encode()
    (root / "seeds" / "900_hostile.txt").write_bytes(seed)
    (root / "data" / "sources" / "hostile.yaml").write_text(
        f"id: hostile\nfile: 900_hostile.txt\nsha256: {hashlib.sha256(seed).hexdigest()}\nlanguage: en\n")
    for number in range(records):
        citations = "".join(f"  - source: hostile\n    quote: \"{prose(2000).strip()}\"\n    supports: [status]\n" for _ in range(HOSTILE_CITATIONS))
        (root / "data" / "events" / f"hostile-{number}.yaml").write_text(
            f"id: hostile-{number}\ntitle: Hostile\ndescription: Quotes nowhere in the seed.\nevent_type: statement\n"
            f"status: occurred\ncitations:\n{citations}")


def test_hostile_citations_are_reported_at_a_bounded_cost(tiny, cli):
    add_hostile_citations(tiny)
    done = cli("--root", tiny, "validate", timeout=60)
    assert_clean_exit(done, 1)
    lines = done.out.splitlines()
    assert len(lines) == HOSTILE_RECORDS * HOSTILE_CITATIONS
    for number in range(HOSTILE_RECORDS):
        located = [line for line in lines if line.startswith(f"data/events/hostile-{number}.yaml:")]
        assert [line.split(": ")[2] for line in located] == [f"citations.{i}.quote" for i in range(HOSTILE_CITATIONS)]
        assert all("quote not found in the text of source 'hostile'" in line for line in located)


def test_hostile_references_are_reported_at_a_bounded_cost(tiny, cli):
    """'Did you mean' looks at a bounded number of ids, for a bounded number of references a run."""
    actors = tiny / "data" / "actors"
    for number in range(3000):
        (actors / f"actor-{number:05}.yaml").write_text(
            f"id: actor-{number:05}\nname: Actor {number}\nkind: state\ncitations:\n"
            "  - source: article-000\n    quote: \"As the United States and Iraq move forward\"\n    supports: [name]\n")
    participants = "".join(f"  - actor: no-such-actor-{number:05}\n    role: party\n" for number in range(1000))
    (tiny / "data" / "events" / "hostile.yaml").write_text(
        "id: hostile\ntitle: Hostile\ndescription: Participants that have no record.\nevent_type: statement\n"
        f"status: occurred\nparticipants:\n{participants}citations:\n  - source: article-000\n"
        "    quote: \"As the United States and Iraq move forward\"\n    supports: [status, participants]\n")
    add_bad(tiny, "events/unknown-reference.yaml")
    done = cli("--root", tiny, "validate", timeout=60)
    assert_clean_exit(done, 1)
    lines = done.out.splitlines()
    assert len(lines) == 1001
    assert lines[-1].startswith("data/events/unknown-reference.yaml:7:12: ")
    assert all(f"participants.{n}.actor: unknown actors id 'no-such-actor-{n:05}'" in line
               for n, line in enumerate(lines[:-1]))
    assert [line.split("; did you mean ")[-1] for line in lines[:20]] == [f"'actor-{n:05}'?" for n in range(20)]
    assert not any("did you mean" in line for line in lines[20:])  # 20 hints a run
