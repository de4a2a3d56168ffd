"""``iraq-transition diff``: record-level changes between git revisions and data directories; the
git calls of ``diff`` and ``validate --changed-since`` take revisions, never options."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import copy_repository

from iraq_transition.diff import RENAME_NOTE
from iraq_transition.fmt import format_record
from iraq_transition.load import parse_yaml

CITATION = {"source": "s", "quote": "q"}
BEFORE = {
    "sources/s": {"id": "s", "file": "s.txt", "sha256": "0" * 64, "language": "en"},
    "actors/a": {"id": "a", "name": "A", "kind": "state", "citations": [CITATION]},
    "actors/b": {"id": "b", "name": "B", "kind": "state", "citations": [CITATION]},
    "events/e": {"id": "e", "title": "T", "description": "D", "event_type": "statement", "status": "occurred", "citations": [CITATION]},
    "events/old-id": {"id": "old-id", "title": "R", "description": "D", "event_type": "visit", "status": "planned", "citations": [CITATION]},
}
AFTER = {
    **{key: value for key, value in BEFORE.items() if key not in ("actors/b", "events/old-id")},
    "actors/c": {"id": "c", "name": "C", "kind": "person", "citations": [CITATION]},
    "events/e": {**BEFORE["events/e"], "title": "T2", "citations": [{"source": "s", "quote": "q2"}]},
    "events/new-id": {**BEFORE["events/old-id"], "id": "new-id"},
}
EXPECTED = {
    "sources": {"added": [], "removed": [], "changed": [], "likely_renames": []},
    "actors": {
        "added": [{"id": "c", "record": AFTER["actors/c"]}],
        "removed": [{"id": "b", "record": BEFORE["actors/b"]}],
        "changed": [],
        "likely_renames": [],
    },
    "events": {
        "added": [{"id": "new-id", "record": AFTER["events/new-id"]}],
        "removed": [{"id": "old-id", "record": BEFORE["events/old-id"]}],
        "changed": [
            {
                "id": "e",
                "fields": [
                    {"path": "title", "old": "T", "new": "T2"},
                    # A citation is told by its source and span: another span is another citation.
                    {"path": "citations.0", "new": {"source": "s", "quote": "q2"}},
                    {"path": "citations.0", "old": {"source": "s", "quote": "q"}},
                ],
            }
        ],
        "likely_renames": [{"from": "old-id", "to": "new-id"}],
    },
    "quotes": {"added": [], "removed": [], "changed": [], "likely_renames": []},
    "force_levels": {"added": [], "removed": [], "changed": [], "likely_renames": []},
    "bases": {"added": [], "removed": [], "changed": [], "likely_renames": []},
}


def _git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout


def _write_records(root: Path, records: dict[str, dict]) -> None:
    shutil.rmtree(root / "data", ignore_errors=True)
    for key, record in records.items():
        path = root / "data" / f"{key}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(format_record(key.split("/")[0], record), encoding="utf-8")


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A git repository with two commits: BEFORE, then AFTER plus a reformatted source and a broken file."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _write_records(root, BEFORE)
    _git(root, "add", "data")
    _git(root, "commit", "-q", "-m", "before")
    _write_records(root, AFTER)
    # Formatting alone is no change: the source, reordered, with a default spelled out.
    (root / "data/sources/s.yaml").write_text("language: en\nid: s\nnotes: null\nfile: s.txt\nsha256: '" + "0" * 64 + "'\n")
    (root / "data/events/broken.yaml").write_text("id: broken\ntitle: [unclosed\n")
    _git(root, "add", "-A", "data")
    _git(root, "commit", "-q", "-m", "after")
    return root


def _json(cli, root: Path, *args) -> dict:
    result = cli("--root", root, "diff", *args, "--format", "json")
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return json.loads(result.out)


def test_revisions_list_exactly_the_added_removed_changed_and_renamed_records(history, cli):
    document = _json(cli, history, "HEAD~1", "HEAD")
    assert document["collections"] == EXPECTED
    assert (document["base"], document["head"], document["note"]) == ("HEAD~1", "HEAD", RENAME_NOTE)
    [broken] = document["unreadable"]
    assert (broken["side"], broken["path"], broken["line"]) == ("HEAD", "data/events/broken.yaml", 3)


def test_directories_give_the_same_changes_as_revisions(history, tmp_path, cli):
    base_root = tmp_path / "base"
    base_root.mkdir()
    _write_records(base_root, BEFORE)
    head_data = history / "data"
    # OLD as a repository root, NEW as a data directory.
    document = _json(cli, history, "--dir", base_root, "--dir", head_data)
    assert document["collections"] == EXPECTED


def test_head_defaults_to_the_working_tree(history, cli):
    path = history / "data/actors/a.yaml"
    path.write_text(path.read_text().replace("name: A", "name: A2"))
    (history / "data/quotes").mkdir()
    (history / "data/quotes/new.yaml").write_text("id: new\ntext: hello\n")
    document = _json(cli, history, "HEAD")
    assert document["head"] == "working tree"
    assert document["collections"]["actors"]["changed"] == [{"id": "a", "fields": [{"path": "name", "old": "A", "new": "A2"}]}]
    assert document["collections"]["quotes"]["added"] == [{"id": "new", "record": {"id": "new", "text": "hello"}}]
    assert document["collections"]["events"] == {"added": [], "removed": [], "changed": [], "likely_renames": []}


def test_markdown_summarises_counts_then_details(history, cli):
    result = cli("--root", history, "diff", "HEAD~1", "HEAD")
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith("### Record changes from `HEAD~1` to `HEAD`\n")
    for row in (
        "| sources | 0 | 0 | 0 |",
        "| actors | 1 | 1 | 0 |",
        "| events | 1 | 1 | 1 |",
        "| **total** | 2 | 2 | 1 |",
        RENAME_NOTE,
        "- added `c`: `C`",
        "- removed `b`: `B`",
        "- removed `old-id`: likely renamed to `new-id` (identical apart from the id)",
        "Changed `e`:",
        "| `title` | `T` | `T2` |",
        '| `citations.0` | *(absent)* | `{"source": "s", "quote": "q2"}` |',
        '| `citations.0` | `{"source": "s", "quote": "q"}` | *(absent)* |',
        "- `HEAD`: `data/events/broken.yaml:3:1: YAML syntax error",
    ):
        assert row in out, row
    assert "#### sources" not in out


def test_markdown_keeps_long_values_short_and_escapes_table_syntax(tmp_path, cli):
    before, after = tmp_path / "before", tmp_path / "after"
    long_text = "word " * 60
    for root, notes in ((before, long_text + "old | `tick`"), (after, long_text + "new | `tick`")):
        _write_records(root, {"actors/a": {"id": "a", "name": "A", "kind": "state", "notes": notes, "citations": [CITATION]}})
    result = cli("diff", "--dir", before, "--dir", after)
    assert result.code == 0, result.err
    [row] = [line for line in result.out.splitlines() if line.startswith("| `notes` |")]
    # The cells start shortly before the difference, pipes are escaped and backticks fenced.
    old, new = row.split(" | ")[1:3]
    assert old.startswith("`` …word") and old.endswith("word old \\| `tick` ``")
    assert new.startswith("`` …word") and new.endswith("word new \\| `tick` `` |")
    assert len(row) < 250


def test_identical_sides_report_no_changes(history, cli):
    result = cli("--root", history, "diff", "HEAD", "HEAD")
    assert result.code == 0
    assert "No record changes." in result.out


@pytest.mark.parametrize(
    "args, message",
    [
        (["no-such-revision"], "git cannot compare with 'no-such-revision': no such commit in the repository"),
        (["HEAD", "HEAD~99"], "git cannot compare with 'HEAD~99': no such commit in the repository"),
        (["--", "--help-me"], "git cannot compare with '--help-me': no such commit in the repository"),
        (["--dir", "data", "--dir", "no-such-directory"], "--dir 'no-such-directory': not a directory"),
        (["--dir", "data/events/e.yaml"], "--dir 'data/events/e.yaml': not a directory"),
        (["HEAD", "--dir", "data"], "compare either git revisions (BASE [HEAD]) or directories (--dir OLD [--dir NEW]), not both"),
        (["--dir", "data", "--dir", "data", "--dir", "data"], "--dir is given once or twice"),
        ([], "say what to compare: git revisions BASE [HEAD], or directories --dir OLD [--dir NEW]"),
    ],
)
def test_a_bad_revision_or_directory_is_a_usage_error(history, cli, args, message):
    result = cli("diff", *args, cwd=history)
    assert result.code == 2
    assert result.err.startswith(f"iraq-transition diff: {message}")
    assert "Traceback" not in result.err


def test_markdown_details_at_most_a_few_hundred_records_per_collection(tmp_path, cli):
    from iraq_transition.diff import MAX_DETAILED

    before, after = tmp_path / "before", tmp_path / "after"
    (before / "data").mkdir(parents=True)
    count = MAX_DETAILED + 5
    _write_records(after, {f"actors/a{n}": {"id": f"a{n}", "name": "A", "kind": "state"} for n in range(count)})
    result = cli("diff", "--dir", before, "--dir", after)
    assert result.code == 0, result.err
    assert f"| actors | {count} | 0 | 0 |" in result.out
    assert sum(line.startswith("- added ") for line in result.out.splitlines()) == MAX_DETAILED
    assert "… and 5 more records: `--format json` lists them all." in result.out
    document = _json(cli, tmp_path, "--dir", before, "--dir", after)
    assert len(document["collections"]["actors"]["added"]) == count


def test_symbolic_links_in_a_directory_are_reported_not_followed(tmp_path, cli):
    secret = tmp_path / "secret.yaml"
    secret.write_text("id: x\nname: do-not-print-me\n")
    before, after = tmp_path / "before", tmp_path / "after"
    (before / "data").mkdir(parents=True)
    (after / "data/actors").mkdir(parents=True)
    (after / "data/actors/x.yaml").symlink_to(secret)
    _git(after, "init", "-q", "-b", "main")
    _git(after, "commit", "-q", "--allow-empty", "-m", "nothing")
    _git(after, "add", "data")
    _git(after, "commit", "-q", "-m", "a link")
    for sides in (["--dir", before, "--dir", after], ["HEAD~1", "HEAD"]):
        for output in ("markdown", "json"):
            result = cli("--root", after, "diff", *sides, "--format", output)
            assert result.code == 0, result.err
            assert "do-not-print-me" not in result.out
            assert "symbolic link, not read" in result.out


# --------------------------------------------------------------------------- lists compared by content

EVENT = "data/events/coalition-mission-iraq-transition-to-bilateral-partnership.yaml"
NEW_CITATION = {"source": "report-phaseout-daesh-occupation", "quote": "This phaseout will occur"}


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """A git repository holding the project's records as committed, on branch main."""
    root = copy_repository(tmp_path / "repo")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "the records")
    return root


def _edit(root: Path, path: str, change) -> None:
    record = parse_yaml((root / path).read_text(encoding="utf-8"))
    change(record)
    (root / path).write_text(format_record(path.split("/")[1], record), encoding="utf-8")


def _changed_fields(cli, root: Path, *args: str) -> list[dict]:
    [changed] = _json(cli, root, *args)["collections"]["events"]["changed"]
    return changed["fields"]


def test_a_citation_inserted_at_the_top_is_one_added_citation_in_json_and_markdown(committed, cli):
    _edit(committed, EVENT, lambda record: record["citations"].insert(0, NEW_CITATION))
    assert _changed_fields(cli, committed, "main") == [{"path": "citations.0", "new": NEW_CITATION}]
    result = cli("--root", committed, "diff", "main")
    assert result.code == 0, result.err
    rows = [line for line in result.out.splitlines() if line.startswith("| `")]
    assert rows == ['| `citations.0` | *(absent)* | `{"source": "report-phaseout-daesh-occupation", '
                    '"quote": "This phaseout will occur"}` |']


def test_items_moved_are_no_change_and_items_changed_keep_their_identity(committed, cli):
    def reorder(record: dict) -> None:
        for name in ("citations", "participants", "links", "framings"):
            record[name].reverse()

    _edit(committed, EVENT, reorder)
    assert "No record changes." in cli("--root", committed, "diff", "main").out

    def change(record: dict) -> None:  # the participant and link it reversed to the front
        record["participants"][0]["role"] = "host"
        record["links"][0]["relation"] = "related"
        record["framings"][0]["citations"].append(NEW_CITATION)
        del record["participants"][1]

    _edit(committed, EVENT, change)
    assert _changed_fields(cli, committed, "main") == [
        {"path": "participants.0.role", "old": "overseer", "new": "host"},
        {"path": "participants.3", "old": {"actor": "iraq", "role": "party"}},
        {"path": "links.0.relation", "old": "part_of", "new": "related"},
        {"path": "framings.0.citations.1", "new": NEW_CITATION},
    ]


def test_a_value_inserted_in_a_list_of_texts_is_one_added_value(committed, cli):
    path = "data/actors/bloomberg.yaml"
    aliases = parse_yaml((committed / path).read_text(encoding="utf-8"))["aliases"]
    _edit(committed, path, lambda record: record["aliases"].insert(0, "Bloomberg L.P."))
    [changed] = _json(cli, committed, "main")["collections"]["actors"]["changed"]
    assert changed["fields"] == [{"path": "aliases.0", "new": "Bloomberg L.P."}]
    _edit(committed, path, lambda record: record.update(aliases=[*reversed(aliases), aliases[0]]))
    [changed] = _json(cli, committed, "main")["collections"]["actors"]["changed"]
    assert changed["fields"] == [{"path": f"aliases.{len(aliases)}", "new": aliases[0]}]  # the second of two


# --------------------------------------------------------------------------- hostile input


def test_folders_named_like_the_revisions_do_not_stand_in_for_them(history, cli):
    _git(history, "update-ref", "refs/remotes/origin/main", "HEAD~1")
    for folder in ("HEAD", "origin/main"):  # the same records in both: "no changes", were they read
        _write_records(history / folder, BEFORE)
    result = cli("diff", "origin/main", "HEAD", "--format", "json", cwd=history)
    assert result.code == 0, result.err
    assert json.loads(result.out)["collections"] == EXPECTED


class _Rendered(HTMLParser):
    """The elements of rendered HTML, the text outside code, and the number of cells of each table row."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: set[str] = set()
        self.text_outside_code = ""
        self.row_widths: list[int] = []
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self._open.append(tag)
        if tag == "tr":
            self.row_widths.append(0)
        elif tag in ("td", "th"):
            self.row_widths[-1] += 1

    def handle_endtag(self, tag):
        self._open.pop()

    def handle_data(self, data):
        if "code" not in self._open:
            self.text_outside_code += data


HOSTILE = "<h1>x</h1>[approve](https://example.com) @octocat | "


def test_markdown_shows_whatever_a_record_holds_as_literal_text(tmp_path, cli):
    before, after = tmp_path / "before", tmp_path / "after"
    hostile_id = "<img src=x onerror=alert(1)>@octocat|[id](javascript:alert(1))"  # also its file name
    hostile_values = {
        "notes": HOSTILE + "\n# heading\r\n| --- | --- |\n![image](https://example.com/x.png) `` ` <https://example.com>",
        "name": "*bold* _em_ &amp; &lt;b&gt; <!-- comment --> \\| `",
        f"<b>{HOSTILE}</b>": ["@octocat", "#1", ":smile:"],  # an unknown field: its name is a path in the table
    }
    actor = {"id": "a", "name": "A", "kind": "state", "citations": [CITATION]}
    _write_records(before, {"actors/a": actor})
    _write_records(after, {
        "actors/a": {**actor, **hostile_values},
        f"events/{hostile_id}": {"id": hostile_id, "title": HOSTILE, "description": HOSTILE, "event_type": "visit", "status": "planned"},
    })
    result = cli("diff", "--dir", before, "--dir", after)
    assert result.code == 0, result.err
    rendered = _Rendered(MarkdownIt("commonmark").enable("table").render(result.out))
    assert rendered.tags == {"h3", "h4", "p", "ul", "li", "code", "table", "thead", "tbody", "tr", "th", "td", "strong", "em"}
    # Nothing from a record is markup: no HTML, link, image, heading or mention outside code spans.
    for text in ("<", ">", "[", "@", "#", "!", "example.com", "javascript"):
        assert text not in rendered.text_outside_code, text
    assert rendered.row_widths == [4] * 8 + [3] * 6  # the counts, then the changed record's fields
    assert f"- added `{hostile_id}`: `{HOSTILE}`" in result.out


def test_markdown_of_a_huge_record_and_a_huge_error_stays_short(tmp_path, cli):
    """One event of 890 kB with 25,000 participants, and a file whose error quotes a 990 kB tag:
    a few fields of the one, a short line for the other (the JSON has everything)."""
    from iraq_transition.diff import MAX_FIELDS, MAX_MESSAGE

    before, after = tmp_path / "before", tmp_path / "after"
    event = BEFORE["events/e"]
    _write_records(before, {"events/e": event})
    participants = [{"actor": f"a{n}", "role": "subject"} for n in range(25_000)]
    _write_records(after, {"events/e": {**event, "participants": participants}})
    (after / "data/events/tag.yaml").write_text("a: !" + "t" * 990_000 + " x\n")
    result = cli("diff", "--dir", before, "--dir", after)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert sum(line.startswith("| `participants.") for line in lines) == MAX_FIELDS
    assert f"… and {25_000 - MAX_FIELDS} more fields: `--format json` lists them all." in lines
    [unreadable] = [line for line in lines if "data/events/tag.yaml" in line]
    message = unreadable.split("`: `", 1)[1]
    assert len(message) == MAX_MESSAGE + 1 and message.endswith("…`")
    assert len(result.out) < 20_000
    document = _json(cli, tmp_path, "--dir", before, "--dir", after)
    assert len(document["collections"]["events"]["changed"][0]["fields"]) == 25_000  # one added item each


def test_markdown_is_cut_to_fit_a_job_summary_and_says_so(tmp_path, cli):
    """200 records with 50 long changed fields each: about 1.9 MB of Markdown in full, which GitHub
    would refuse as a job summary (over 1 MiB) and show nothing of."""
    from iraq_transition.diff import CUT_NOTE, MAX_DETAILED, MAX_MARKDOWN_BYTES

    before, after = tmp_path / "before", tmp_path / "after"
    for root, letter in ((before, "a"), (after, "b")):
        fields = {f"field{n}": letter * 100 for n in range(50)}
        _write_records(root, {f"actors/a{n}": {"id": f"a{n}", "name": "A", "kind": "state", **fields} for n in range(MAX_DETAILED)})
    result = cli("diff", "--dir", before, "--dir", after)
    assert result.code == 0, result.err
    assert 0.9 * MAX_MARKDOWN_BYTES < len(result.out.encode()) <= MAX_MARKDOWN_BYTES
    assert result.out.endswith(f"\n\n{CUT_NOTE}\n")
    html = MarkdownIt("commonmark").enable("table").render(result.out)
    assert html.endswith("</table>\n<p>… the summary is cut here, to fit a job summary: <code>--format json</code> lists every change.</p>\n")


@pytest.mark.parametrize(
    ("written", "shown"),
    [  # U+202E would make "005,2 dnuora" read as "around 2,500"; an escape sequence could restyle a terminal
        ("\u202e005,2 dnuora\u202c troops \u2066x\u2069 \x1b[2J", "\\u202e005,2 dnuora\\u202c troops \\u2066x\\u2069 \\x1b[2J"),
        # a zero-width space, a right-to-left mark, a word joiner, a tag character and a soft hyphen: invisible
        ("Troops\u200b withdraw \u200f2026 \u2060\U000e0041 \u00ad", "Troops\\u200b withdraw \\u200f2026 \\u2060\\U000e0041 \\xad"),
    ],
)
def test_markdown_shows_what_would_mislead_a_reviewer_as_escapes(tmp_path, cli, written, shown):
    before, after = tmp_path / "before", tmp_path / "after"
    actor = {"id": "a", "name": "A", "kind": "state"}
    _write_records(before, {"actors/a": actor})
    _write_records(after, {"actors/a": {**actor, "notes": written}})
    result = cli("diff", "--dir", before, "--dir", after)
    assert result.code == 0, result.err
    assert f"| `notes` | `null` | `{shown}` |" in result.out
    assert not re.search("[\x00-\x09\x0b-\x1f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\u00ad\U000e0000-\U000e007f]",
                         result.out)


def test_changed_since_never_reads_a_revision_as_an_option(history, cli):
    kept, absent = history / "kept.txt", history / "absent.txt"
    kept.write_text("precious\n")
    for target in (kept, absent):
        result = cli("--root", history, "validate", f"--changed-since=--output={target}")
        assert result.code == 2, result.err
        assert result.err == f"iraq-transition validate: git cannot compare with '--output={target}': no such commit in the repository\n"
    assert kept.read_text() == "precious\n"
    assert not absent.exists()


def test_changed_since_reports_changed_files_whatever_their_names(history, cli):
    tracked = history / "data/actors/a.yaml"
    tracked.rename(history / "data/actors/ä.yaml")
    _git(history, "add", "-A", "data")
    _git(history, "commit", "-q", "-m", "a file name git would quote")
    (history / "data/actors/ä.yaml").write_text("id: [unclosed\n")
    (history / 'data/events/"é.yaml').write_text("id: [unclosed\n")
    result = cli("--root", history, "validate", "--changed-since", "HEAD", "--format", "json")
    assert result.code == 1, result.err
    assert {problem["path"] for problem in json.loads(result.out)} == {"data/actors/ä.yaml", 'data/events/"é.yaml'}


def test_a_directory_given_as_a_revision_is_told_how_to_compare_it(history, cli):
    result = cli("diff", "data", cwd=history)
    assert result.code == 2
    assert result.err == ("iraq-transition diff: git cannot compare with 'data': no such commit in the repository; "
                          "to compare the directory 'data', write --dir data\n")


def test_a_revision_whose_records_git_no_longer_has_is_a_usage_error(history, cli):
    """A partial or damaged clone: git lists a record but has no copy of its bytes."""
    object_id = _git(history, "rev-parse", "HEAD:data/actors/c.yaml").strip()
    (history / ".git" / "objects" / object_id[:2] / object_id[2:]).unlink()
    result = cli("diff", "HEAD~1", "HEAD", cwd=history)
    assert result.code == 2, result.err
    assert result.err.startswith("iraq-transition diff: git has no copy of data/actors/c.yaml at HEAD")
    assert "Traceback" not in result.err


def test_records_are_labelled_and_told_from_other_files_by_the_rules_the_other_commands_follow(history, cli):
    """A record is labelled by its collection's label field only (as the site labels it), and a file named just
    ``.yaml`` is no record, on either side."""
    (history / "data/events/.yaml").write_text("id: nameless\ntitle: Nameless\n")
    (history / "data/events/mislabelled.yaml").write_text("id: mislabelled\ntitle: [not, text]\nname: Not its label\n")
    _git(history, "add", "-A", "data")
    _git(history, "commit", "-q", "-m", "a nameless file and a mislabelled record")
    for sides in (["HEAD~1", "HEAD"], ["HEAD~1"]):
        result = cli("--root", history, "diff", *sides)
        assert result.code == 0, result.err
        added = [line for line in result.out.splitlines() if line.startswith("- added ")]
        assert added == ["- added `mislabelled`"], sides


def test_likely_renames_of_thousands_of_records_are_found_in_one_pass(tmp_path, cli):
    """Thousands of records replaced by others: renames are found by grouping records by their content without the
    id, not by comparing every removed record with every added one (6,000 of each took a minute)."""
    count = 6000
    sides = {}
    for side in ("old", "new"):
        records = {f"actors/{side}-{i}": {"id": f"{side}-{i}", "name": f"{side} {i}", "kind": "state"} for i in range(count)}
        for i in range(2):  # identical twins renamed: the first removed pairs with the first added, in id order
            records[f"actors/{side}-twin-{i}"] = {"id": f"{side}-twin-{i}", "name": "Twin", "kind": "person"}
        _write_records(sides.setdefault(side, tmp_path / side), records)
    result = cli("--root", sides["old"], "diff", "--dir", sides["old"], "--dir", sides["new"], "--format", "json", timeout=20)
    assert result.code == 0, result.err
    actors = json.loads(result.out)["collections"]["actors"]
    assert len(actors["removed"]) == len(actors["added"]) == count + 2
    assert actors["likely_renames"] == [{"from": "old-twin-0", "to": "new-twin-0"}, {"from": "old-twin-1", "to": "new-twin-1"}]
