"""Values that look valid but are not: non-ASCII digits in dates, control characters in text, and plain
scalars that YAML 1.1 and YAML 1.2 read differently. Each is refused with a located message."""

from __future__ import annotations

import re
import xml.dom.minidom
from pathlib import Path

import pytest

from iraq_transition.models import Event
from iraq_transition.timeline import Timeline

EVENT = Path("data/events/agreement-aim-withdraw-american-troops-by-end-2026.yaml")
FORCE_LEVEL = Path("data/force_levels/us-remaining-forces-leave-iraq-by-end-2026.yaml")
BASE = Path("data/bases/northeastern-syria.yaml")
ARABIC_INDIC_2026 = "\u0662\u0660\u0662\u0666"


def _replace(root: Path, relative: Path, old: str, new: str) -> str:
    """Replace the one line of a record starting with ``old``; the record's display path."""
    path = root / relative
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    (index,) = [number for number, line in enumerate(lines) if line.startswith(old)]
    lines[index] = new + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    return f"{relative.as_posix()}:{index + 1}:"


def _no_crash(result) -> None:
    assert result.code in (1, 2), result.out + result.err
    assert "Traceback" not in result.err and "internal error" not in result.err


@pytest.mark.parametrize("record", [EVENT, FORCE_LEVEL])
def test_dates_take_ascii_digits_only(repo_copy: Path, cli, record):
    where = _replace(repo_copy, record, '  value: "2026"', f'  value: "{ARABIC_INDIC_2026}"')
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 1
    assert result.out.startswith(where + "10:")
    assert "is not a date: use YYYY, YYYY-MM or YYYY-MM-DD" in result.out
    _no_crash(cli("--root", repo_copy, "build"))


@pytest.mark.parametrize(
    ("written", "code_point"),
    [("\\x01", "U+0001"), ("\\v", "U+000B"), ("\\0", "U+0000"), ("\\uFFFE", "U+FFFE"), ("\\uFFFF", "U+FFFF"),
     ("\\e[31m", "U+001B"), ("\\r", "U+000D"), ("\\x85", "U+0085"),
     ("\\u202E", "U+202E"), ("\\u2066", "U+2066")],  # bidirectional overrides: "005,2" shown as "2,500"
)
def test_control_characters_in_text_are_refused_at_their_field(repo_copy: Path, cli, written, code_point):
    where = _replace(repo_copy, EVENT, "title: ", f'title: "Stated aim{written} of withdrawal"')
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 1
    (line,) = result.out.splitlines()
    assert line.startswith(where + "8: ")
    assert f"title: {code_point} (" in line and "at character 11 is not allowed in text: remove it" in line
    _no_crash(cli("--root", repo_copy, "build"))


def test_control_characters_yaml_refuses_unescaped_stay_refused(repo_copy: Path, cli):
    where = _replace(repo_copy, EVENT, "title: ", "title: Stated aim\x01 of withdrawal")
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 1
    assert result.out.startswith(where + "18: ")
    assert "character U+0001 is not allowed in YAML" in result.out


def test_every_free_text_field_refuses_control_characters_but_tab_and_line_breaks(repo_copy: Path, cli):
    where = _replace(repo_copy, EVENT, "notes: ", 'notes: "tab\\tand line\\nbreaks are fine, \\a is not"')
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{where}8: events/agreement-aim-withdraw-american-troops-by-end-2026: notes: U+0007 (a control character) "
        "at character 31 is not allowed in text: remove it (tab and line breaks are the only control characters "
        "text may hold)"
    ]


def test_the_timeline_is_well_formed_xml_whatever_the_titles_hold():
    timeline = Timeline()
    for number, title in enumerate(["bell\x07", "nul\x00", "\ufffe\uffff", "<b>&amp;</b>", "ok"]):
        date = {"value": "2025-09", "precision": "month", "qualifier": "exact", "earliest": None, "latest": None}
        event = Event.model_validate(
            {"id": f"e{number}", "title": "placeholder", "description": "d", "event_type": "statement",
             "status": "occurred", "date": date, "citations": [{"source": "s", "quote": "q", "supports": ["status"]}]}
        )
        timeline.add(event.model_copy(update={"title": title}))  # past validation, as a bug elsewhere might
    document = xml.dom.minidom.parseString(timeline.svg().encode("utf-8"))
    texts = [node.firstChild.data for node in document.getElementsByTagName("title") if node.firstChild]
    assert any(text.startswith("bell\ufffd") for text in texts)
    assert any(text.startswith("<b>&amp;</b>") for text in texts)


AMBIGUOUS = [  # (plain scalar, what the message says YAML 1.1 and YAML 1.2 read)
    ("0700", "the number 448 by YAML 1.1 and 700 by YAML 1.2"),
    ("1:30", "the number 90 by YAML 1.1 and the text '1:30' by YAML 1.2"),
    ("1_000", "the number 1000 by YAML 1.1 and the text '1_000' by YAML 1.2"),
    ("0o17", "the text '0o17' by YAML 1.1 and the number 15 by YAML 1.2"),
    ("1e3", "the text '1e3' by YAML 1.1 and the number 1000.0 by YAML 1.2"),
    ("-0x1F", "the number -31 by YAML 1.1 and the text '-0x1F' by YAML 1.2"),
    ("08", "the text '08' by YAML 1.1 and the number 8 by YAML 1.2"),
    ("-.5", "the text '-.5' by YAML 1.1 and the number -0.5 by YAML 1.2"),
    ("yes", "the boolean true by YAML 1.1 and the text 'yes' by YAML 1.2"),
    ("off", "the boolean false by YAML 1.1 and the text 'off' by YAML 1.2"),
    ("y", "the boolean true by YAML 1.1 and the text 'y' by YAML 1.2"),
]


@pytest.mark.parametrize(("field", "scalar", "readings"), [
    ("low", scalar, readings) for scalar, readings in AMBIGUOUS[:8]] + [("notes", scalar, readings) for scalar, readings in AMBIGUOUS[8:]
])
def test_scalars_yaml_versions_read_differently_are_refused(repo_copy: Path, cli, field, scalar, readings):
    where = _replace(repo_copy, FORCE_LEVEL, "notes: ", f"{field}: {scalar}")
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 1
    hint = "write the number plainly" if "number" in readings else "write true or false"
    assert result.out.splitlines() == [
        f"{where}{len(field) + 3}: force_levels/us-remaining-forces-leave-iraq-by-end-2026: `{scalar}` is read as "
        f"{readings}: quote it ('{scalar}') if it is text, or {hint}"
    ]


@pytest.mark.parametrize("scalar", ["12", "+12", "-3", "0x1F", "null", "~"])
def test_scalars_both_versions_read_alike_are_kept(repo_copy: Path, cli, scalar):
    if scalar in ("null", "~"):  # a number no citation supports would be a problem of its own: coordinates need none
        _replace(repo_copy, FORCE_LEVEL, "notes: ", f"best: {scalar}")
    else:
        _replace(repo_copy, BASE, "latitude: ", f"latitude: {scalar}")
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 0, result.out


def test_fmt_leaves_an_ambiguous_scalar_alone_and_quotes_text_that_would_be_one(repo_copy: Path, cli):
    where = _replace(repo_copy, FORCE_LEVEL, "notes: ", "low: 0700")
    before = (repo_copy / FORCE_LEVEL).read_bytes()
    result = cli("--root", repo_copy, "fmt", repo_copy / FORCE_LEVEL)
    assert result.code == 1
    assert result.out.startswith(f"{where}6: ") and "by YAML 1.2" in result.out
    assert (repo_copy / FORCE_LEVEL).read_bytes() == before  # not rewritten as 448

    _replace(repo_copy, FORCE_LEVEL, "low: ", "notes: '0o17'")
    result = cli("--root", repo_copy, "fmt", repo_copy / FORCE_LEVEL)
    assert result.code == 0, result.out + result.err
    assert re.search(r'^notes: "0o17"$', (repo_copy / FORCE_LEVEL).read_text(encoding="utf-8"), re.M)


BASE = Path("data/bases/baghdad.yaml")
TROOPS = Path("data/force_levels/us-troops-iraq-2500-2024.yaml")


@pytest.mark.parametrize(
    ("record", "line", "message"),
    [(TROOPS, "best: true", "best: expected a whole number, got boolean true"),
     (TROOPS, "best: 2500.0", "best: expected a whole number, got"),
     (BASE, "latitude: true", "latitude: expected a number, got boolean true")],
)
def test_a_boolean_or_a_fraction_is_no_count_and_a_boolean_no_coordinate(repo_copy: Path, cli, record, line, message):
    """Pydantic alone would take ``true`` for 1 (and store it), as the JSON Schema does not."""
    where = _replace(repo_copy, record, line.split(" ")[0] + " ", line)
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 1
    (problem,) = result.out.splitlines()
    assert problem.startswith(where) and message in problem


def test_whole_degrees_are_coordinates(repo_copy: Path, cli):
    _replace(repo_copy, BASE, "latitude: ", "latitude: 33")
    result = cli("--root", repo_copy, "validate", "--no-cache")
    assert result.code == 0, result.out
