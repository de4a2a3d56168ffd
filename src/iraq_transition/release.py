"""The ``release`` command: a citable version of the data, and what changed since the one before.

``iraq-transition release VERSION`` (``make release VERSION=2026.12.0``) refuses a version that is not a calendar
version newer than the current one (:data:`.site_config.VERSION`) and a work tree with uncommitted changes. It then
writes the version and the day into ``site_config.py``, CITATION.cff and .zenodo.json from the site's configuration,
and the release's section at the top of CHANGELOG.md from the record changes since the previous release's tag
(``v<version>``; the first release lists every record as added), the same comparison that ``diff --format delta``
writes as JSON lines. It regenerates the committed files (the data package carries the version), builds, runs every
check, and commits the release and tags it ``v<VERSION>``, locally: pushing the tag starts the release workflow.
The steps after the version is written run as new processes, so that they see the new version.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import diff, git, site_config
from .export import read_regular
from .fields import label_field
from .load import write_files
from .models import COLLECTIONS
from .problems import UsageError, shown

CALENDAR_VERSION = re.compile(r"(\d{4})\.([1-9]|1[0-2])\.(0|[1-9]\d*)")
"""A data version: YEAR.MONTH.N, without leading zeros (2026.12.0, 2027.1.0, 2027.1.1)."""
ANY_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
"""A version before calendar versioning (0.1.0), which any calendar version follows."""
TAG_PREFIX = "v"
SITE_CONFIG = Path("src") / "iraq_transition" / "site_config.py"
CITATION_FILE, ZENODO_FILE, CHANGELOG_FILE = Path("CITATION.cff"), Path(".zenodo.json"), Path("CHANGELOG.md")
MAX_TEXT_BYTES = 16 * 2**20
"""Largest site_config.py or CHANGELOG.md read (a changelog section is bounded: :data:`.diff.MAX_DETAILED`)."""
CHANGELOG_HEADER = """# Changelog

What each release of the data gained, lost and changed since the one before, by collection, written by
`iraq-transition release` from the record changes since the previous release's tag. Ids are stable: a renamed
record shows as one removed and one added. Each release's `iraq-transition-delta.jsonl` lists the same changes as
data, every changed field with its old and new value (`iraq-transition diff v<previous> v<version> --format delta`).
"""
STEPS = (("generate",), ("build",), ("check",))
"""What a release runs once its version is written: the data package then carries it, and everything is checked."""


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``text`` as (year, month, n) if it is a calendar version, else None."""
    match = CALENDAR_VERSION.fullmatch(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def tag_name(version: str) -> str:
    return f"{TAG_PREFIX}{version}"


# --------------------------------------------------------------------------- what a release writes


def citation_cff(version: str, released: str | None) -> str:
    """CITATION.cff (Citation File Format 1.2.0) of the data at ``version``, released on ``released``."""
    fields: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it as below, naming the version you used.",
        "type": "dataset",
        "title": site_config.TITLE,
        "abstract": site_config.DESCRIPTION,
        "authors": [{"name": site_config.AUTHOR}],
        "version": version,
        **({"date-released": released} if released else {}),
        "license": site_config.LICENSE,
        "keywords": site_config.KEYWORDS,
    }
    lines = ["# Written by `iraq-transition release` from src/iraq_transition/site_config.py: change it there."]
    for key, value in fields.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            for item in value:
                entries = item.items() if isinstance(item, dict) else [(None, item)]
                lines += [f"  - {_yaml_entry(name, entry)}" for name, entry in entries]
        else:
            lines.append(_yaml_entry(key, value))
    return "\n".join(lines) + "\n"


def _yaml_entry(key: str | None, value: str) -> str:
    """``key: "value"`` (or the value alone), the value a JSON string: YAML reads it as that very text."""
    text = json.dumps(value, ensure_ascii=False)
    return f"{key}: {text}" if key else text


def zenodo_json(version: str, released: str | None) -> str:
    """.zenodo.json: what Zenodo's GitHub integration records of each release when it mints its DOI."""
    metadata: dict[str, Any] = {
        "upload_type": "dataset",
        "title": site_config.TITLE,
        "description": site_config.DESCRIPTION,
        "creators": [{"name": site_config.AUTHOR}],
        "version": version,
        **({"publication_date": released} if released else {}),
        "license": site_config.LICENSE.lower(),
        "access_right": "open",
        "keywords": site_config.KEYWORDS,
    }
    return json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"


def changelog_section(version: str, released: str, previous: str | None,
                      changes: dict[str, diff.CollectionChanges]) -> str:
    """The section of CHANGELOG.md for ``version``: the counts per collection since ``previous`` (a tag, or None
    for the first release), then per collection the records added, removed and changed (with the fields that
    changed), at most :data:`.diff.MAX_DETAILED` of each; every id, label and field a code span."""
    since = f"since {diff.code_span(previous)}" if previous else "(the first release: every record is new)"
    lines = [f"## {version} ({released})", "", f"Record changes {since}:", ""]
    lines += ["| collection | added | removed | changed |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {len(c.added)} | {len(c.removed)} | {len(c.changed)} |" for name, c in changes.items()]
    for name, c in changes.items():
        label = label_field(COLLECTIONS[name])
        entries = [
            *(("added", i, _label(r, label)) for i, r in c.added.items()),
            *(("removed", i, _label(r, label)) for i, r in c.removed.items()),
            *(("changed", i, ", ".join(map(diff.code_span, _fields(f)))) for i, f in c.changed.items()),
        ]
        if entries:
            lines += ["", f"### {name}", ""]
        for kind in ("added", "removed", "changed"):
            these = [(i, detail) for k, i, detail in entries if k == kind]
            shown_here = these[: diff.MAX_DETAILED]
            lines += [f"- {kind} {diff.code_span(i)}{': ' + detail if detail else ''}" for i, detail in shown_here]
            if len(these) > len(shown_here):
                lines.append(f"- … and {len(these) - len(shown_here)} more {kind}: the release's delta file lists all")
    return "\n".join(lines) + "\n"


def _label(record: dict, label: str) -> str:
    return diff.code_span(record[label]) if isinstance(record.get(label), str) else ""


def _fields(changes: list[diff.FieldChange]) -> list[str]:
    """The top-level fields of a record that changed, in the order of the changes."""
    return list(dict.fromkeys(change.path.split(".")[0] for change in changes))


def with_section(changelog: str, section: str) -> str:
    """``changelog`` (CHANGELOG.md, empty when there is none) with ``section`` above the newest release's."""
    text = changelog or CHANGELOG_HEADER
    start = text.find("\n## ")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    return text[: start + 1] + section + "\n" + text[start + 1 :]


def bumped_site_config(text: str, version: str, released: str) -> str:
    """site_config.py's text with ``VERSION`` and ``RELEASED`` set; UsageError unless each is one line of its own."""
    for name, value in (("VERSION", version), ("RELEASED", released)):
        text, count = re.subn(rf"^{name} = .*$", f"{name} = {json.dumps(value)}", text, flags=re.M)
        if count != 1:
            raise UsageError(f"{SITE_CONFIG}: expected one line `{name} = ...`, found {count}: "
                             "is --root a checkout of iraq-transition?")
    return text


# --------------------------------------------------------------------------- the command


def run(args) -> int:
    """``iraq-transition release VERSION [--date YYYY-MM-DD] [--no-commit]``."""
    root = Path(args.root)
    released = _released(args.date)
    if parse_version(args.version) is None:
        raise UsageError(f"{args.version!r} is not a data version: write YEAR.MONTH.N without leading zeros, "
                         "such as 2026.12.0 (the next of the month: 2026.12.1)")
    config = _text(root / SITE_CONFIG)
    current = _current_version(config)
    if not _newer(args.version, current):
        raise UsageError(f"{args.version} is not newer than the current version {current}: give a later one")
    if dirty := _uncommitted(root):
        shown_paths = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
        print(shown(f"iraq-transition release: the work tree has uncommitted changes ({shown_paths}): a release is "
                    "made from a commit; commit or discard them, then run release again"), file=sys.stderr)
        return 1
    previous = tag_name(current) if _tag_exists(root, tag_name(current)) else None
    base = diff.revision_snapshot(root, previous) if previous else diff.Snapshot("nothing")
    head = diff.revision_snapshot(root, "HEAD")
    if unreadable := sorted([*base.unreadable.values(), *head.unreadable.values()]):
        for problem in unreadable:
            print(problem, file=sys.stderr)
        print("iraq-transition release: these files could not be read, so the changelog would not be whole: "
              "nothing was written; fix them first", file=sys.stderr)
        return 1
    changes = diff.compare(base, head)
    changelog = _text(root / CHANGELOG_FILE, missing_ok=True)
    write_files(root, {
        root / SITE_CONFIG: bumped_site_config(config, args.version, released),
        root / CITATION_FILE: citation_cff(args.version, released),
        root / ZENODO_FILE: zenodo_json(args.version, released),
        root / CHANGELOG_FILE: with_section(changelog, changelog_section(args.version, released, previous, changes)),
    })
    print(f"release {args.version}: wrote {SITE_CONFIG}, {CITATION_FILE}, {ZENODO_FILE} and {CHANGELOG_FILE}")
    for step in STEPS:
        if not _step(root, args.cache_dir, step):
            print(f"iraq-transition release: {step[0]} failed (above), so release {args.version} is not made: "
                  "fix that and commit it, then run release again (git checkout -- . undoes what release wrote)",
                  file=sys.stderr)
            return 1
    if args.no_commit:
        print(f"release {args.version}: built and checked; not committed (--no-commit)")
        return 0
    tag = tag_name(args.version)
    try:
        git.output(root, "add", "--all")
        git.output(root, "commit", "--quiet", "-m", f"Release {args.version}")
        git.output(root, "tag", "--annotate", "-m", f"{site_config.NAME} {args.version}", "--end-of-options", tag)
    except UsageError as error:
        print(shown(f"iraq-transition release: {args.version} is built and checked, but {error}: commit it yourself "
                    f"(git commit -am 'Release {args.version}') and tag it (git tag -a {tag})"), file=sys.stderr)
        return 1
    print(f"release {args.version}: committed and tagged {tag} here, nothing pushed; `git push origin HEAD {tag}` "
          "publishes it (the release workflow runs on the tag)")
    return 0


def _released(date: str | None) -> str:
    """The day of the release: ``date`` (YYYY-MM-DD), else today in UTC."""
    if date is None:
        return datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            return datetime.date.fromisoformat(date).isoformat()
    except ValueError:
        pass
    raise UsageError(f"--date {date!r}: give a day as YYYY-MM-DD")


def _text(path: Path, missing_ok: bool = False) -> str:
    """The text of a regular file of the repository (never through a link), or "" for a missing one when
    ``missing_ok``; UsageError otherwise."""
    if missing_ok and not path.exists() and not path.is_symlink():
        return ""
    data = read_regular(path, MAX_TEXT_BYTES)
    if data is None:
        raise UsageError(f"{path}: not a regular file of at most {MAX_TEXT_BYTES:,} bytes (a link is not followed)")
    return data.decode("utf-8", errors="replace")


def _current_version(config: str) -> str:
    found = re.findall(r'^VERSION = "([^"\n]*)"$', config, flags=re.M)
    if len(found) != 1 or not ANY_VERSION.fullmatch(found[0]):
        raise UsageError(f"{SITE_CONFIG}: no line `VERSION = \"X.Y.Z\"`: is --root a checkout of iraq-transition?")
    return found[0]


def _newer(version: str, current: str) -> bool:
    return tuple(map(int, version.split("."))) > tuple(map(int, current.split(".")))


def _uncommitted(root: Path) -> list[str]:
    """The paths git status lists: changed, staged or untracked (ignored files, such as build/, are not)."""
    listing = git.output(root, "status", "--porcelain=v1", "--untracked-files=all")
    return [line[3:] for line in listing.decode("utf-8", errors="replace").splitlines() if line[3:]]


def _tag_exists(root: Path, tag: str) -> bool:
    try:
        git.commit_id(root, f"refs/tags/{tag}")
    except UsageError:
        return False
    return True


def _step(root: Path, cache_dir: Path | None, step: tuple[str, ...]) -> bool:
    """Run ``iraq-transition STEP`` on ``root`` as a new process (which reads the version just written)."""
    options = ["--cache-dir", str(cache_dir)] if cache_dir else []
    command = [sys.executable, "-m", "iraq_transition", "--root", str(root), *options, *step]
    return subprocess.run(command, cwd=root, check=False).returncode == 0
