"""A quote that repeats another (the same words, speaker and source) is an error on both; the same words from
another source, not linked with variant_of, are a hint that fails nothing; warm runs agree with runs without the
cache as quotes come to repeat others and stop."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import yaml

from iraq_transition import validate
from iraq_transition.load import Project

from test_scale import aged, scratch, synthetic  # noqa: F401 - fixtures
from test_validate import FIXTURES, assert_clean_exit, tiny  # noqa: F401 - a fixture

REPEATS = FIXTURES / "repeats"


def add_repeat(root: Path, name: str) -> str:
    shutil.copy(REPEATS / name, root / "data" / "quotes" / name)
    return f"data/quotes/{name}"


def test_a_repeated_quote_is_an_error_on_both_records_each_naming_the_other(tiny, cli):
    added = add_repeat(tiny, "repeated.yaml")
    done = cli("--root", tiny, "validate")
    assert_clean_exit(done, 1)
    assert done.out.splitlines() == [
        "data/quotes/never-quite-out.yaml:2:7: quotes/never-quite-out: text: the same words, speaker and source "
        f"('article-000') as {added}: a remark is recorded once for each source that prints it: remove one of them",
        f"{added}:2:7: quotes/repeated: text: the same words, speaker and source ('article-000') as "
        "data/quotes/never-quite-out.yaml: a remark is recorded once for each source that prints it: remove one of them",
    ]
    problems = validate.validate_project(Project(tiny))[1]
    assert {problem.code for problem in problems} == {"duplicate-quote"}
    other = tiny / added
    other.write_text(other.read_text(encoding="utf-8").replace("speaker_id: the-official", "speaker_id: united-states"),
                     encoding="utf-8")
    assert validate.validate_project(Project(tiny))[1] == []  # another speaker's words


def test_the_same_words_from_another_source_are_a_hint_that_fails_nothing(tiny, cli):
    first, second = add_repeat(tiny, "not-a-withdrawal-001.yaml"), add_repeat(tiny, "not-a-withdrawal-004.yaml")
    done = cli("--root", tiny, "validate")
    assert_clean_exit(done, 0)
    assert done.out == ""
    hints = [line for line in done.err.splitlines() if line.startswith("hint: ")]
    assert hints == [
        f"hint: {first}:2:7: quotes/not-a-withdrawal-001: text: the same words by the same speaker as {second}, from "
        "another source: if they are one remark, give one variant_of naming the other (here: variant_of: "
        "not-a-withdrawal-004)",
        f"hint: {second}:2:7: quotes/not-a-withdrawal-004: text: the same words by the same speaker as {first}, from "
        "another source: if they are one remark, give one variant_of naming the other (here: variant_of: "
        "not-a-withdrawal-001)",
    ]
    notes = []
    assert validate.check_project(Project(tiny), notes=notes)[1] == []
    assert [note.code for note in notes] == ["unlinked-variant"] * 2
    assert cli("--root", tiny, "validate", tiny / first).err.count("hint: ") == 1  # only the files asked for
    linked = tiny / second
    original = linked.read_text(encoding="utf-8")
    for edited in (original.replace("\ncitations:", "\nvariant_of: not-a-withdrawal-001\ncitations:"),
                   original.replace("speaker_id: the-official", "speaker_id: united-states")):
        linked.write_text(edited, encoding="utf-8")
        done = cli("--root", tiny, "validate")
        assert_clean_exit(done, 0)
        assert "hint: " not in done.err  # linked, or another speaker's words


def test_warm_runs_agree_with_runs_without_the_cache_as_quotes_come_to_repeat_others_and_stop(scratch):
    """Copies of quotes (the same source, or another), edits of their words, speakers and sources, links, deletions:
    after each, the run from the cache's state gives what a run without it gives, problems and hints alike."""
    project = Project(scratch)
    validate.validate_project(project)
    rng = random.Random(12)
    sources = sorted(path.stem for path in (scratch / "data" / "sources").glob("*.yaml"))

    def quotes() -> list[Path]:
        return sorted((scratch / "data" / "quotes").glob("*.yaml"))

    def edit(path: Path, pattern: str, new: str) -> None:
        path.write_text(re.sub(pattern, new, path.read_text(encoding="utf-8"), count=1), encoding="utf-8")

    def copy(source_too: bool) -> None:
        path = rng.choice(quotes())
        name = f"copy-{rng.randrange(10**6)}"
        text = re.sub(r"\nid: .*", f"\nid: {name}", path.read_text(encoding="utf-8"))
        if source_too:
            text = re.sub(r"source: \S+", f"source: {rng.choice(sources)}", text)
        path.with_name(f"{name}.yaml").write_text(text, encoding="utf-8")

    def words_of_another(path: Path) -> None:
        text = yaml.safe_load(rng.choice(quotes()).read_text(encoding="utf-8"))["text"]
        edit(path, r"\ntext: .*", f"\ntext: {text!r}".replace("'", '"') if '"' not in text else f"\ntext: '{text}'")

    changes = [
        lambda: copy(source_too=False),
        lambda: copy(source_too=True),
        lambda: words_of_another(rng.choice(quotes())),
        lambda: edit(rng.choice(quotes()), r"speaker_id: \S+", "speaker_id: " + rng.choice(quotes()).stem),
        lambda: edit(rng.choice(quotes()), r"\nid: ", f"\nvariant_of: {rng.choice(quotes()).stem}\nid: "),
        lambda: rng.choice(quotes()).unlink(),
    ]
    kinds, found = set(), set()
    for step in range(18):
        change = rng.randrange(len(changes))
        kinds.add(change)
        changes[change]()
        if step % 3:
            aged(scratch)
        cold_notes, warm_notes = [], []
        dataset, problems = validate.validate_project(project, use_cache=False)
        assert validate.validate_project(project) == (dataset, problems), f"step {step}: change {change}"
        assert validate.check_project(project, use_cache=False, notes=cold_notes) == (dataset.size, problems)
        assert validate.check_project(project, notes=warm_notes) == (dataset.size, problems), f"step {step}"
        assert warm_notes == cold_notes, f"step {step}: change {change}"
        found |= {problem.code for problem in problems + cold_notes}
    assert len(kinds) == len(changes)
    assert {"duplicate-quote", "unlinked-variant"} <= found


def quote_file(root: Path, name: str, speaker: str, source: str) -> None:
    (root / "data" / "quotes" / f"{name}.yaml").write_text(
        f"id: {name}\ntext: Words said once\nspeaker_id: {speaker}\nspeaker_as_described: the official\n"
        f"directness: partial\ncitations:\n  - source: {source}\n    quote: Words said once\n"
        "    supports: [text, speaker_id, speaker_as_described]\n", encoding="utf-8")


def test_many_copies_of_a_quote_name_three_others_each(tiny):
    for number in range(50):
        quote_file(tiny, f"copy-{number:02}", "the-official", "article-000")
    repeated = [problem for problem in validate.validate_project(Project(tiny))[1] if problem.code == "duplicate-quote"]
    assert len(repeated) == 50
    assert repeated[0].message.startswith("the same words, speaker and source ('article-000') as "
                                          "data/quotes/copy-01.yaml, data/quotes/copy-02.yaml, data/quotes/copy-03.yaml"
                                          " and 46 more: ")


def test_validate_prints_twenty_hints_a_run_then_how_many_more(tiny, cli):
    for number in range(25):
        quote_file(tiny, f"told-{number:02}", "the-official", f"source-{number:02}")
    done = cli("--root", tiny, "validate")
    hints = [line for line in done.err.splitlines() if line.startswith("hint: ")]
    assert len(hints) == 21 and hints[-1] == "hint: 5 more hints like these"
    assert all("by the same speaker as" in line for line in hints[:20])
