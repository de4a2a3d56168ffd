"""The ``check`` and ``fix`` commands: every check at once, and the fixes that need no judgement.

``check`` runs, in order and each whatever the others found: formatting (:mod:`.fmt`), validation
(:mod:`.validate`), the build (:mod:`.build`), Frictionless validation of the data package that
:mod:`.export` describes, and the generated files. The build, the package and the generated files are made
from valid records only, so they wait for validation to pass (said so, not passed). ``check`` writes
nothing in the work tree: it builds into a scratch directory (unless ``build/`` is already what a build
would write, which it then checks), and Frictionless reads the package as :mod:`.export` describes it with
that build's CSVs, never a committed descriptor (which could name any file or URL). Every problem is
reported, located, with its code; then one line per check. With ``--format github`` the problems become
annotations, the most telling first, and a Markdown report goes to the job summary.

``fix`` formats the records, then, when they are valid, writes the generated files again: what is left is
for a person to fix.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import diff, export, fmt, load
from .build import BuildError, write_outputs
from .freshness import is_up_to_date
from .problems import Problem, UsageError, print_problems, shown, summary
from .validate import Dataset, validate_project

FIX = "run `iraq-transition fix` and commit the result"
FORMAT_CODES = frozenset({"template-unfilled", "no-canonical-form"})
"""The problems of formatting that are not validation's too (a file that cannot be read, validation reports)."""
FIXABLE = ("format", "generated")
"""The checks whose problems ``fix`` fixes."""
MAX_ANNOTATIONS = 10
"""Error annotations GitHub shows of one step; the others are printed as lines of the log."""
MAX_REPORT_BYTES = 1_000_000
"""Longest Markdown report: GitHub shows no job summary over 1 MiB."""
MAX_SHOWN = 300
"""Longest message shown in the Markdown report."""
SHORT = 80
"""Longest excerpt of a file's line in a message."""


TITLES = {
    "format": "Records are in canonical form",
    "validate": "Records, citations and seeds are valid",
    "build": "The database, CSVs and timeline build",
    "package": "The data package is valid",
    "generated": "Generated files are up to date",
}
"""Every check, in the order they run, and what it shows when it passes."""


@dataclass
class Outcome:
    """What one check (a key of :data:`TITLES`) found: its problems, and a line saying what was checked or why it
    was not."""

    name: str
    note: str = ""
    problems: list[Problem] = field(default_factory=list)
    ran: bool = True

    @property
    def title(self) -> str:
        return TITLES[self.name]

    @property
    def verdict(self) -> str:
        return "failed" if self.problems else "passed" if self.ran else "not run"


def first_difference(old: str, new: str) -> tuple[int, str | None]:
    """The 1-based line where ``old`` and ``new`` first differ, and that line of ``new`` (None past its end)."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    index = next((i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b), min(len(old_lines), len(new_lines)))
    wanted = new_lines[index].rstrip("\r\n") if index < len(new_lines) else None
    return min(index, max(len(old_lines) - 1, 0)) + 1, wanted


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= SHORT else text[: SHORT - 1] + "…")


# --------------------------------------------------------------------------- the checks


def check_format(project: load.Project) -> tuple[Outcome, list[fmt.Reformatting]]:
    """The formatting check, and the files not in canonical form (each a problem at its first differing line)."""
    files, _ = load.record_files(project)  # the stray entries of data/: validation reports them
    outcome, reformatted = Outcome("format"), []
    for found in fmt.canonical_files(files):
        if isinstance(found, Problem):
            if found.code in FORMAT_CODES:
                outcome.problems.append(found)
            continue
        reformatted.append(found)
        line, wanted = first_difference(found.original.decode("utf-8", errors="replace"), found.text)
        written = f" (fmt writes it {_excerpt(wanted)})" if wanted is not None else " (fmt removes it)"
        message = f"not in canonical form from this line on{written}: {FIX} (`iraq-transition fmt --check` shows the diff)"
        outcome.problems.append(Problem(found.file.display, line, 1, message, code="not-formatted"))
    count = len(reformatted)
    outcome.note = f"{count} of {len(files)} files not in canonical form" if count else f"{len(files)} files in canonical form"
    return outcome, reformatted


def check_records(project: load.Project, cache_dir: Path | None) -> tuple[Outcome, Dataset]:
    dataset, problems = validate_project(project, cache_dir=cache_dir)
    return Outcome("validate", summary(dataset.size, problems), problems), dataset


def _not_run(name: str, why: str) -> Outcome:
    return Outcome(name, why, ran=False)


def check_build_and_package(project: load.Project, dataset: Dataset, cache_dir: Path | None) -> list[Outcome]:
    """The build (into a scratch directory, or build/ when it is up to date) and the Frictionless validation of
    the package that describes it."""
    with tempfile.TemporaryDirectory(prefix="iraq-transition-check-") as scratch:
        if is_up_to_date(project, project.build_dir, cache_dir):
            base, built = project.root, Outcome("build", "build/ is up to date: built from these very records")
        else:
            base = Path(scratch)
            try:
                (base / "build").mkdir()
                counts = write_outputs(dataset, base / "build")
            except (OSError, sqlite3.Error, BuildError) as error:
                message = f"the build failed ({error}): run `iraq-transition build` to see it again"
                failed = Outcome("build", "the build failed", [Problem("build", 1, 1, message, code="build-failed")])
                return [failed, _not_run("package", "the build failed")]
            built = Outcome("build", f"built {sum(counts.values())} records into a scratch directory "
                            "(build/ left as it is)")
        return [built, check_package(export.datapackage(dataset), base)]


def check_package(package: dict, base: Path) -> Outcome:
    """Frictionless's validation of ``package`` (its CSV paths under ``base``), each error located in its CSV."""
    import frictionless  # here: the other commands never pay for it

    outcome = Outcome("package")
    try:
        report = frictionless.Package(package, basepath=str(base)).validate()
    except frictionless.FrictionlessException as error:
        outcome.problems.append(Problem(export.DATAPACKAGE, 1, 1, f"Frictionless cannot read the package: {error}; "
                                        "this is a bug in iraq-transition: please report it", code="package-invalid"))
        return outcome
    paths = {resource["name"]: resource["path"] for resource in package["resources"]}
    for task in report.tasks:
        for error in task.errors:
            where = f"column {error.field_name!r}: " if getattr(error, "field_name", None) else ""
            message = f"table {task.name}: {where}{error.message} (the records are valid, so the models and the " \
                      "package disagree: a bug, please report it)"
            line, col = getattr(error, "row_number", None) or 1, getattr(error, "field_number", None) or 1
            outcome.problems.append(Problem(paths.get(task.name, export.DATAPACKAGE), line, col, message,
                                            code="package-invalid"))
    rows = sum(task.stats.get("rows") or 0 for task in report.tasks)
    outcome.note = f"{len(report.tasks)} tables, {rows} rows" + (" valid" if report.valid else "")
    return outcome


def check_generated(project: load.Project, dataset: Dataset) -> Outcome:
    """Whether the committed generated files are what the models and records make now."""
    outcome = Outcome("generated")
    state = _generated_state(project, dataset, outcome.problems)
    if state is not None:
        outcome.problems += generated_problems(project, state)
        stale = len(outcome.problems)
        outcome.note = f"{stale} of {len(state.files)} files stale" if stale else f"{len(state.files)} files up to date"
    return outcome


def _generated_state(project: load.Project, dataset: Dataset, problems: list[Problem]) -> export.GeneratedState | None:
    """:func:`.export.generated_state`, or None with the problem added to ``problems`` when a directory on the way
    to a generated file is a link."""
    try:
        return export.generated_state(project, dataset)
    except UsageError as error:
        problems.append(Problem(export.DATAPACKAGE, 1, 1, str(error), code="generated-stale"))
        return None


def generated_problems(project: load.Project, state: export.GeneratedState) -> list[Problem]:
    """A problem for each stale or missing generated file (at its first differing line) and each leftover schema."""
    problems = []
    for path in state.stale:
        line, _ = first_difference(export.committed_text(project.root / path), state.files[path])
        problems.append(Problem(path.as_posix(), line, 1, f"stale or missing from this line on: {FIX}", code="generated-stale"))
    for path in state.leftovers:
        problems.append(Problem(path.as_posix(), 1, 1, f"no collection of that name: {FIX} (it deletes the file)",
                                code="generated-stale"))
    return problems + [_foreign(path) for path in state.foreign]


def _foreign(path: Path) -> Problem:
    message = "no collection of that name, and not written by iraq-transition: delete it, or move it out of schema/"
    return Problem(path.as_posix(), 1, 1, message, code="generated-stale")


def run_checks(project: load.Project, cache_dir: Path | None) -> tuple[list[Outcome], list[fmt.Reformatting]]:
    """Every check, in order, each whatever the others found; and the files not in canonical form."""
    formatting, reformatted = check_format(project)
    records, dataset = check_records(project, cache_dir)
    outcomes = [formatting, records]
    if records.problems:
        why = "it needs valid records"
        outcomes += [_not_run("build", why), _not_run("package", "it needs a build"), _not_run("generated", why)]
    else:
        outcomes += [*check_build_and_package(project, dataset, cache_dir), check_generated(project, dataset)]
    return outcomes, reformatted


# --------------------------------------------------------------------------- reporting


def by_importance(outcomes: list[Outcome]) -> list[Problem]:
    """Every problem: the first of each file first (in the order of the checks), then the others, so that the
    first few annotations GitHub shows reach every file."""
    firsts: dict[str, Problem] = {}
    others: list[Problem] = []
    for problem in (problem for outcome in outcomes for problem in sorted(outcome.problems)):
        if problem.path in firsts:
            others.append(problem)
        else:
            firsts[problem.path] = problem
    return [*firsts.values(), *others]


def verdict_lines(outcomes: list[Outcome]) -> Iterator[str]:
    """One line per check, then what to do."""
    width = max(len(outcome.name) for outcome in outcomes)
    for outcome in outcomes:
        yield f"check: {outcome.name:<{width}}  {outcome.verdict.upper():<7}  {outcome.note}"
    failed = [outcome.name for outcome in outcomes if outcome.problems]
    if not failed:
        yield "check: every check passed"
        return
    fixable = [name for name in failed if name in FIXABLE]
    others = [name for name in failed if name not in FIXABLE]
    steps = [f"run `iraq-transition fix` (it fixes {' and '.join(fixable)})"] if fixable else []
    steps += [f"fix the problems of {' and '.join(others)} as each says"] if others else []
    yield f"check: {len(failed)} of {len(outcomes)} checks failed: {', then '.join(steps)}; then run " \
          "`iraq-transition check` again"


def markdown_report(outcomes: list[Outcome], changes: str = "") -> str:
    """The job summary: a table of the checks, every problem (as far as the summary holds), then ``changes``
    (the record changes, Markdown). Whatever comes from the files is in code spans, as :mod:`.diff` writes them."""
    failed = [outcome for outcome in outcomes if outcome.problems]
    headline = f"{len(failed)} of {len(outcomes)} failed" if failed else "all passed"
    icons = {"failed": "❌", "passed": "✅", "not run": "⏭️"}
    lines = [f"### Checks: {headline}", "", "| check | result | |", "| --- | --- | --- |"]
    lines += [f"| {o.title} (`{o.name}`) | {icons[o.verdict]} {o.verdict} | {o.note} |" for o in outcomes]
    problems = [problem for outcome in outcomes for problem in sorted(outcome.problems)]
    if problems:
        lines += ["", f"#### Problems ({len(problems)})", ""]
        if any(outcome.name in FIXABLE and outcome.problems for outcome in outcomes):
            lines += ["`iraq-transition fix` fixes those of formatting and generated files; the others are for you "
                      "to fix, as each says.", ""]
        room = MAX_REPORT_BYTES - len("\n".join(lines).encode()) - len(changes.encode()) - 200
        for shown_count, problem in enumerate(problems):
            line = _problem_line(problem)
            room -= len(line.encode()) + 1
            if room < 0:
                lines += ["", f"… and {len(problems) - shown_count} more problems, cut to fit a job summary: the log "
                          "of this step lists them all."]
                break
            lines.append(line)
    return "\n".join(lines) + "\n" + (f"\n{changes}" if changes else "")


def _problem_line(problem: Problem) -> str:
    where = ": ".join(part for part in (problem.record, problem.field) if part)
    message = f"{where}: {problem.message}" if where else problem.message
    return f"- {diff.code_span(f'{problem.path}:{problem.line}:{problem.col}', MAX_SHOWN)} " \
           f"{diff.code_span(problem.code)} {diff.code_span(message, MAX_SHOWN)}"


def record_changes(root: Path, base: str) -> str:
    """The record changes from git revision ``base`` to the working tree, as :mod:`.diff` writes them."""
    old, new = diff.sides(root, base, None, [])
    return diff.to_markdown(old, new, diff.compare(old, new))


def _print_problems(problems: list[Problem], format: str) -> None:
    if format != "github":
        print_problems(problems)
        return
    print_problems(problems[:MAX_ANNOTATIONS], "github")
    if len(problems) > MAX_ANNOTATIONS:
        print(f"{len(problems) - MAX_ANNOTATIONS} more problems (GitHub shows {MAX_ANNOTATIONS} annotations of a "
              "step; the job summary lists them all):")
        print_problems(problems[MAX_ANNOTATIONS:])


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(text)


def _project(args) -> load.Project:
    project = load.Project(args.root)
    if not project.data_dir.is_dir():
        raise UsageError(f"no data/ directory in {args.root}: run in the repository or pass --root DIR")
    return project


def run(args) -> int:
    """``iraq-transition check [--format text|github] [--base REV] [--summary FILE]``."""
    project = _project(args)
    changes = record_changes(project.root, args.base) if args.base is not None else ""  # a bad revision: at once
    outcomes, reformatted = run_checks(project, getattr(args, "cache_dir", None))
    _print_problems(by_importance(outcomes), args.format)
    if reformatted:
        with fmt.WorkflowCommandsPaused() as paused:
            paused.begin()
            for outcome in reformatted:
                sys.stdout.writelines(fmt.diff_lines(outcome))
    sys.stdout.flush()
    for line in verdict_lines(outcomes):
        print(shown(line), file=sys.stderr)
    report = args.summary or (os.environ.get("GITHUB_STEP_SUMMARY") if args.format == "github" else None)
    if report:
        _append(report, markdown_report(outcomes, changes))
    return 1 if any(outcome.problems for outcome in outcomes) else 0


# --------------------------------------------------------------------------- fix


def run_fix(args) -> int:
    """``iraq-transition fix``: format the records, then, when they are valid, write the generated files again;
    report what is left."""
    project = _project(args)
    files, _ = load.record_files(project)
    left: list[Problem] = []
    reformatted = 0
    for found in fmt.canonical_files(files):
        if isinstance(found, Problem):
            left += [found] if found.code in FORMAT_CODES else []
        elif problem := fmt.rewrite(project, found, "fix"):
            left.append(problem)
        else:
            reformatted += 1
    dataset, problems = validate_project(project, cache_dir=getattr(args, "cache_dir", None))
    left += problems
    refreshed = _refresh_generated(project, dataset, left) if not problems else None
    print_problems(sorted(left))
    print(f"fix: reformatted {reformatted} of {len(files)} record files", file=sys.stderr)
    if refreshed is None:
        print("fix: generated files not refreshed: they are made from valid records only", file=sys.stderr)
    else:
        print(f"fix: refreshed {refreshed} generated files", file=sys.stderr)
    if left:
        print(f"fix: {len(left)} problem{'s' * (len(left) != 1)} left, which need you: fix them as each says, "
              "then run `iraq-transition fix` again", file=sys.stderr)
    return 1 if left else 0


def _refresh_generated(project: load.Project, dataset: Dataset, left: list[Problem]) -> int:
    """Write the stale generated files (adding to ``left`` what cannot be fixed so); how many were written or
    removed."""
    state = _generated_state(project, dataset, left)
    if state is None:
        return 0
    export.write_generated(project, state)
    left += map(_foreign, state.foreign)
    return len(state.stale) + len(state.leftovers)
