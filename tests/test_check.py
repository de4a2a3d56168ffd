"""``check`` runs every check and reports every problem at once; ``fix`` fixes what needs no judgement."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from test_cli import assert_clean_failure, snapshot
from test_export import _corrupt, small_package  # noqa: F401 (a fixture)

from iraq_transition import check
from iraq_transition.problems import CODES

QUOTE = "data/quotes/singh-us-not-withdrawing-from-iraq.yaml"
FORCE_LEVEL = "data/force_levels/us-troops-iraq-2500-2024.yaml"
EVENT = "data/events/agreement-aim-withdraw-american-troops-by-end-2026.yaml"
SOURCE = "data/sources/redcensor-coalition-forces-withdraw-gradually.yaml"


def _replace(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text(encoding="utf-8")
    assert old in text
    (root / path).write_text(text.replace(old, new, 1), encoding="utf-8")


def _three_mistakes(root: Path) -> None:
    """A wrong speaker id, a reworded citation span and a record out of canonical form."""
    _replace(root, QUOTE, "speaker_id: sabrina-singh", "speaker_id: singh")
    _replace(root, FORCE_LEVEL, "quote: the 2,500 U.S. troops still serving", "quote: the 2,500 U.S. troops serving")
    _replace(root, EVENT, "event_type: force_movement", 'event_type: "force_movement"')


def test_check_reports_the_problems_of_every_check_at_once_and_writes_nothing(repo_copy: Path, cli):
    _three_mistakes(repo_copy)
    before = snapshot(repo_copy)
    result = cli("--root", repo_copy, "check")
    assert_clean_failure(result)
    lines = result.out.splitlines()
    assert f"{EVENT}:6:1: not in canonical form from this line on (fmt writes it 'event_type: force_movement'): " \
           "run `iraq-transition fix` and commit the result (`iraq-transition fmt --check` shows the diff)" in lines
    assert any(line.startswith(f"{FORCE_LEVEL}:17:12: ") and "closest passage" in line for line in lines)
    assert any(line.startswith(f"{QUOTE}:5:13: ") and "'singh'" in line for line in lines)
    assert '-event_type: "force_movement"' in lines and "+event_type: force_movement" in lines  # the diff
    verdicts = [line.split()[1:3] for line in result.err.splitlines()[:5]]
    assert verdicts == [["format", "FAILED"], ["validate", "FAILED"], ["build", "NOT"], ["package", "NOT"],
                        ["generated", "NOT"]]
    assert result.err.splitlines()[-1] == (
        "check: 2 of 5 checks failed: run `iraq-transition fix` (it fixes format), then fix the problems of validate "
        "as each says; then run `iraq-transition check` again")
    assert snapshot(repo_copy) == before


def test_fix_formats_and_leaves_only_the_real_problems(repo_copy: Path, cli):
    _three_mistakes(repo_copy)
    result = cli("--root", repo_copy, "fix")
    assert_clean_failure(result)
    assert result.out.splitlines()[0] == f"reformatted {EVENT}"
    assert [line.split(":")[0] for line in result.out.splitlines()[1:]] == [FORCE_LEVEL, QUOTE]
    assert "fix: generated files not refreshed: they are made from valid records only" in result.err
    after = cli("--root", repo_copy, "check")
    assert "check: format     PASSED" in after.err and "check: validate   FAILED" in after.err


def test_a_changed_source_leaves_generated_files_stale_until_fix_refreshes_them(repo_copy: Path, repo: Path, cli):
    """Data that the data package shows: check says which generated file is stale and where; fix writes it; then
    every check passes, the build included, and build/ was never touched."""
    shutil.copytree(repo / "docs", repo_copy / "docs")
    _replace(repo_copy, SOURCE, "\npublisher: redcensor.com", "\npublisher: Redcensor")
    (repo_copy / "build").mkdir()
    (repo_copy / "build" / "keep").write_text("the user's build\n")
    result = cli("--root", repo_copy, "check")
    assert_clean_failure(result)
    [problem] = result.out.splitlines()
    text = (repo_copy / "datapackage.json").read_text(encoding="utf-8").splitlines()
    line = next(n for n, content in enumerate(text, 1) if '"publisher": "redcensor.com"' in content)
    assert problem == f"datapackage.json:{line}:1: stale or missing from this line on: run `iraq-transition fix` and " \
                      "commit the result"
    assert re.search(r"^check: generated  FAILED   1 of \d+ files stale$", result.err, re.M)
    assert "check: package    PASSED" in result.err and "check: build      PASSED" in result.err

    fixed = cli("--root", repo_copy, "fix")
    assert fixed.code == 0, fixed.out + fixed.err
    assert fixed.out.splitlines() == ["wrote datapackage.json"]
    again = cli("--root", repo_copy, "check")
    assert again.code == 0, again.out + again.err
    assert again.err.splitlines()[-1] == "check: every check passed"
    assert sorted(path.name for path in (repo_copy / "build").iterdir()) == ["keep"]


def test_annotations_reach_every_file_first_and_the_summary_lists_every_problem(repo_copy: Path, cli, tmp_path: Path):
    """GitHub shows ten error annotations a step: the first problem of each file comes first, the rest are lines of
    the log; the Markdown report lists every problem with its code, whatever the files hold as literal text."""
    events = repo_copy / "data" / "events"
    for number in range(8):  # two problems or more each: the id is not the file's name, required fields missing
        (events / f"broken-{number}.yaml").write_text("id: wrong\n", encoding="utf-8")
    _replace(repo_copy, QUOTE, "speaker_id: sabrina-singh", "speaker_id: singh")
    _replace(repo_copy, QUOTE, "directness: direct", "directness: straight")
    (events / "x`<img src=x>.yml").write_text("id: x\n", encoding="utf-8")
    report = tmp_path / "summary.md"
    result = cli("--root", repo_copy, "check", "--format", "github", "--summary", report)
    assert_clean_failure(result)
    annotations = [line for line in result.out.splitlines() if line.startswith("::error ")]
    assert len(annotations) == check.MAX_ANNOTATIONS
    files = [line.split(",")[0].removeprefix("::error file=") for line in annotations]
    assert sorted(files) == sorted({*(f"data/events/broken-{n}.yaml" for n in range(8)), QUOTE, "data/events/x`<img src=x>.yml"})
    markdown = report.read_text(encoding="utf-8")
    assert markdown.startswith("### Checks: 2 of 5 failed\n")  # formatting (no modeline) and validation
    count = int(markdown.split("#### Problems (", 1)[1].split(")", 1)[0])
    assert count > 2 * 8 + 2
    rest = result.out.split("more problems (GitHub shows 10 annotations of a step; the job summary lists them all):\n", 1)[1]
    listed = [line for line in rest.splitlines() if re.match(r"data/.*:[0-9]+:[0-9]+: ", line)]  # then the diffs
    assert len(listed) == count - check.MAX_ANNOTATIONS
    problems = [line for line in markdown.split(f"#### Problems ({count})\n\n", 1)[1].splitlines() if line.startswith("- ")]
    assert len(problems) == count and all(line.startswith(("- `data/", "- ``data/")) for line in problems)
    assert {line.split("` `", 1)[1].split("`")[0] for line in problems} <= set(CODES)
    [hostile] = [line for line in problems if "img" in line]
    assert hostile.startswith("- ``data/events/x`<img src=x>.yml:1:1`` `file-misplaced` ``not a record file")


def test_check_with_a_base_adds_the_record_changes_and_refuses_an_unknown_revision(repo: Path, cli, tmp_path: Path):
    report = tmp_path / "summary.md"
    result = cli("check", "--base", "HEAD", "--summary", report, cwd=repo)
    assert result.code in (0, 1), result.err  # the work tree may be being edited
    markdown = report.read_text(encoding="utf-8")
    assert "\n### Record changes from `HEAD` to `working tree`\n" in markdown
    unknown = cli("check", "--base", "no-such-revision", "--summary", report, cwd=repo)
    assert_clean_failure(unknown, 2)
    assert report.read_text(encoding="utf-8") == markdown


def test_a_package_error_is_located_in_its_csv(small_package: Path, tmp_path: Path):  # noqa: F811
    row = _corrupt(small_package, tmp_path, "bases", "northeastern-syria", "latitude", "north")
    descriptor = json.loads((tmp_path / "copy" / "datapackage.json").read_text(encoding="utf-8"))
    outcome = check.check_package(descriptor, tmp_path / "copy")
    [problem] = outcome.problems
    column = [field["name"] for field in descriptor["resources"][[r["name"] for r in descriptor["resources"]].index("bases")]["schema"]["fields"]].index("latitude") + 1
    assert (problem.path, problem.line, problem.col, problem.code) == ("build/csv/bases.csv", row, column, "package-invalid")
    assert "column 'latitude'" in problem.message


def test_contributing_shows_the_annotations_of_its_example_as_they_are(repo_copy: Path, repo: Path, cli):
    """CONTRIBUTING's GitHub annotations are what a reworded span in its example record gives today."""
    contributing = (repo / "CONTRIBUTING.md").read_text(encoding="utf-8")
    shown = re.search(r"For a\ncitation span reworded .*?\n\n```\n(.*?)```\n", contributing, re.S).group(1)
    record = repo_copy / "data" / "quotes" / "singh-us-not-withdrawing-from-iraq.yaml"
    record.write_text(record.read_text(encoding="utf-8").replace("US is not withdrawing from Iraq,” she added.",
                                                                 "US isn’t withdrawing from Iraq,” she added."),
                      encoding="utf-8")
    assert cli("--root", repo_copy, "validate", "--format", "github").out == shown
