"""Stable problem codes: every problem any command reports has one, each is in ``CODES``, and CONTRIBUTING lists them."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from test_validate import BAD, CASES, FIXTURES, HOSTILE

from iraq_transition.fmt import canonical_files
from iraq_transition.load import LoadError, Project, RecordFile, read_bytes, record_files
from iraq_transition.models import COLLECTIONS, Citations, Record, Text
from iraq_transition.new import template
from iraq_transition.problems import CODES, Problem
from iraq_transition.records import check_file

CONTRIBUTING = Path(__file__).resolve().parent.parent / "CONTRIBUTING.md"


def _broken_repository(root: Path, repo: Path) -> Path:
    """The small valid dataset with every bad fixture, every hostile file and every kind of stray entry of data/."""
    shutil.copytree(FIXTURES / "good" / "data", root / "data")
    shutil.copytree(repo / "seeds", root / "seeds")
    for fixture in BAD.glob("*/*.yaml"):
        shutil.copy(fixture, root / "data" / fixture.relative_to(BAD))
    events = root / "data" / "events"
    for name, (content, _, _) in HOSTILE.items():
        (events / f"{name}.yaml").write_bytes(content)
    (events / "ambiguous.yaml").write_text("id: ambiguous\ntitle: 1:30\n", encoding="utf-8")
    (events / "template.yaml").write_text(template("events", "template"), encoding="utf-8")
    (events / "directory.yaml").mkdir()
    (events / "nested").mkdir()
    (events / "outside.yaml").symlink_to("/etc/hostname")
    (events / "loop.yaml").symlink_to("loop.yaml")
    os.mkfifo(events / "pipe.yaml")
    (events / "x.yml").write_text("id: x\n")
    (root / "data" / "stray.yaml").write_text("id: stray\n")
    (root / "data" / "elsewhere").mkdir()
    (root / "data" / "bases").rename(root / "bases")
    (root / "data" / "bases").symlink_to(root / "bases")
    return root


def _key(problem: Problem) -> tuple:
    return problem.path, problem.line, problem.col, problem.record, problem.message


def test_every_problem_of_every_command_has_a_known_code(tmp_path, repo, cli):
    root = _broken_repository(tmp_path / "broken", repo)
    files, strays = record_files(Project(root))
    produced_here = {_key(p): p.code for p in strays}  # the problems load, records and fmt make
    read_codes = set()  # of the files that cannot be read, which validate (not load) makes into problems
    for file in files:
        try:
            produced_here |= {_key(p): p.code for p in check_file(file, read_bytes(file.path)).problems}
        except LoadError as error:
            read_codes.add(error.code)
    assert read_codes == {"file-unreadable"}
    produced_here |= {_key(p): p.code for p in canonical_files(files) if isinstance(p, Problem)}
    assert "" not in produced_here.values()
    assert set(produced_here.values()) <= set(CODES)
    assert {"wrong-type", "wrong-value", "missing-field", "unknown-field", "id-mismatch", "wrong-collection",
            "not-a-record", "file-unreadable", "file-misplaced", "yaml-syntax", "yaml-construct", "yaml-ambiguous",
            "template-unfilled"} <= set(produced_here.values())

    done = cli("--root", root, "validate", "--format", "json")
    assert done.code == 1, done.err
    rows = json.loads(done.out)
    assert {name.removesuffix(".yaml") for name in CASES} <= {row["record"] for row in rows}
    for row in rows:
        key = _key(Problem(**row))
        assert row["code"] == produced_here.get(key, row["code"]), row
        assert row["code"] in CODES, row

    before = tmp_path / "before"
    shutil.copytree(FIXTURES / "good" / "data", before / "data")
    done = cli("--root", root, "diff", "--dir", before, "--format", "json")
    assert done.code == 0, done.err
    unreadable = json.loads(done.out)["unreadable"]
    assert len(unreadable) > len(HOSTILE)
    assert all(row["code"] in CODES for row in unreadable), [row for row in unreadable if row["code"] not in CODES]


def test_contributing_lists_every_code_and_its_meaning_and_codes_are_lowercase_hyphenated():
    text = CONTRIBUTING.read_text(encoding="utf-8")
    section = text.split("## Problem codes", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, re.M))
    assert rows == CODES
    for code, meaning in CODES.items():
        assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", code), code
        assert meaning.endswith(".") and meaning[0].isupper(), code


class Memo(Record):
    """A memo: a model with a rule of its own, which raises its problem's code."""

    collection: ClassVar[str] = "memos"

    text: Text = Field(max_length=40, description="The memo's words.")
    citations: Citations

    @model_validator(mode="after")
    def _not_shouted(self) -> Memo:
        if self.text.isupper():
            raise PydanticCustomError("memo-shouted", "text is all capitals: write it as the source prints it")
        return self


def test_a_models_own_rule_gives_its_own_code_and_words(tmp_path, monkeypatch):
    """A rule a model checks itself raises PydanticCustomError(code, message): the problem carries that code, at the
    field the message names first; a too-long text says how long it may be."""
    monkeypatch.setitem(COLLECTIONS, Memo.collection, Memo)
    monkeypatch.setitem(CODES, "memo-shouted", "A memo written in capitals.")
    citation = "citations:\n  - source: s\n    quote: q\n    supports: [text]\n"
    cases = {"shouted": "text: NOT A WITHDRAWAL\n", "long": f"text: {'word ' * 10}\n"}
    problems = {}
    for stem, text in cases.items():
        path = tmp_path / f"{stem}.yaml"
        path.write_text(f"id: {stem}\n{text}{citation}", encoding="utf-8")
        problems[stem] = check_file(RecordFile(path, f"data/memos/{stem}.yaml", "memos", stem), path.read_bytes()).problems
    (shouted,), (long,) = problems["shouted"], problems["long"]
    assert (shouted.code, shouted.field, shouted.line) == ("memo-shouted", "text", 2)
    assert shouted.message == "text is all capitals: write it as the source prints it"
    assert (long.code, long.field, long.message) == ("wrong-value", "text", "text is longer than 40 characters: shorten it")
