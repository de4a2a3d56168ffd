"""``iraq-transition fmt``: canonical YAML that never changes a value."""

from __future__ import annotations

import types
import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from test_cli import read_only

from iraq_transition.fmt import FormatError, canonical, format_record, format_text, same
from iraq_transition.load import parse_yaml
from iraq_transition.models import COLLECTIONS

# Strings YAML is known to misread, or that need quoting, escaping or care in block scalars.
TRICKY = [
    "", " ", "yes", "No", "on", "OFF", "y", "n", "~", "null", "Null", "true", "0123", "0o17", "0x1F", "1e3",
    "1.5", "-2", ".inf", "-.Inf", ".nan", "2024-09-27", "2024-09", "2026", "12:30", "1_000", "<<", "=",
    "a: b", "a #b", "#c", "- item", "? q", ": v", "ends:", "'single'", '"double"', "[x]", "{y: 1}", "&anchor",
    "*alias", "!tag", "%dir", "@at", "`tick`", "|", ">", " lead", "trail ", "\ttab", "back\\slash",
    "line\nbreak", "two\n\nparas\n", "\nlead break", "trail break\n\n", "cr\r\nlf", "nel\x85x", "ls\u2028x",
    "bom\ufeffx", "nul\x00x", "bell\x07", "del\x7f", "’typographic’ “quotes”", "日本語", "emoji 🙂",
    "---", "...", "a ---", "  indented\nlines", "x\n  more", "tab\tinside", "trailing\nspace \nline",
    "0700", "010", "08", "+12", ".5", "-.5", "1.5e3", "1e+3", "-0x1F", "0b11", "1:30", "Y", "N", "\u0662\u0660\u0662\u0666",
    "\x01", "\ufffe",
]
ADVERSARIAL = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=30),
    st.lists(st.sampled_from(TRICKY + ["word", " ", ":", "#", "\n", "'", '"']), max_size=5).map("".join),
)


def _data_for(annotation) -> st.SearchStrategy:
    """Plain YAML data shaped like values of ``annotation``, with adversarial strings."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _data_for(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*map(_data_for, typing.get_args(annotation)))
    if origin is list:
        return st.lists(_data_for(typing.get_args(annotation)[0]), max_size=3)
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return records(annotation)
    return {
        str: ADVERSARIAL,
        int: st.integers(-(2**63), 2**63 - 1),
        float: st.floats(allow_nan=False),
        bool: st.booleans(),
        type(None): st.none(),
    }[annotation]


def records(model: type[BaseModel]) -> st.SearchStrategy[dict]:
    """Records of ``model`` as YAML data: every field of the model (optional ones sometimes
    absent), values of the field's type, sometimes equal to the default, and sometimes a field
    the model does not know (fmt must keep it for validate to report)."""
    required = {name: _data_for(info.annotation) for name, info in model.model_fields.items() if info.is_required()}
    optional = {name: _data_for(info.annotation) for name, info in model.model_fields.items() if not info.is_required()}
    unknown = st.dictionaries(ADVERSARIAL.filter(lambda key: key not in model.model_fields), ADVERSARIAL, max_size=1)
    return st.builds(lambda known, extra: {**known, **extra}, st.fixed_dictionaries(required, optional=optional), unknown)


collection_and_record = st.sampled_from(sorted(COLLECTIONS)).flatmap(
    lambda collection: st.tuples(st.just(collection), records(COLLECTIONS[collection]))
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collection_and_record)
def test_formatting_keeps_every_value_and_is_idempotent(collection_record):
    collection, record = collection_record
    text = format_record(collection, record)
    reread = parse_yaml(text)
    assert same(reread, canonical(record, COLLECTIONS[collection]))
    model = COLLECTIONS[collection]
    assert same(canonical(reread, model, fill_defaults=True), canonical(record, model, fill_defaults=True))
    assert format_record(collection, reread) == text
    assert format_text(text, collection) == text
    # Readers with PyYAML's full YAML 1.1 resolver (timestamps included) read the same values.
    assert same(yaml.safe_load(text), reread)


def test_text_that_starts_like_a_document_marker_is_quoted():
    """``... 0`` at the start of a line ends the YAML document: as a key or a value it must be quoted."""
    record = {"id": "x", "name": "... 0", "... 0": "... end"}
    text = format_record("actors", record)
    assert same(parse_yaml(text), canonical(record, COLLECTIONS["actors"]))
    assert format_text(text, "actors") == text


def test_canonical_form_orders_fields_omits_defaults_and_quotes_what_yaml_would_misread():
    record = {
        "status": "occurred",
        "id": "x",
        "notes": None,
        "participants": [],
        "date": {"qualifier": "exact", "precision": "day", "value": "2024-09-27"},
        "title": "yes",
        "description": "Said: no",
        "event_type": "statement",
        "citations": [{"quote": "“On Friday” — 2,500 troops", "source": "s"}],
    }
    assert format_record("events", record) == (
        "# yaml-language-server: $schema=../../schema/events.schema.json\n"
        "id: x\n"
        'title: "yes"\n'
        'description: "Said: no"\n'
        "event_type: statement\n"
        "status: occurred\n"
        "date:\n"
        '  value: "2024-09-27"\n'
        "  precision: day\n"
        "citations:\n"
        "  - source: s\n"
        "    quote: “On Friday” — 2,500 troops\n"
    )


def test_multi_line_text_becomes_a_literal_block_and_unknown_fields_are_kept_last():
    text = format_record("actors", {"typo": 1, "notes": "First.\nSecond.\n", "id": "a"})
    assert text.splitlines()[1:] == ["id: a", "notes: |", "  First.", "  Second.", "typo: 1"]


def test_a_value_yaml_cannot_hold_is_an_error_not_a_crash():
    with pytest.raises(FormatError):
        format_record("actors", {"id": "a", "notes": object()})
    # A key too long for a plain key, given with YAML's explicit "? key" syntax.
    with pytest.raises(FormatError):
        format_text("id: a\n? " + "k" * 1100 + "\n: 1\n", "actors")


UNQUOTED_TEXTS = """\
id: f
actor: us-armed-forces
country: NO
best: 2500
wording: 2500
qualifier: exact
as_of: {value: 2024, precision: year}
status: current
notes:
citations:
  - source: s
    quote: yes
    suffix: 1:30
  - {source: s, quote: 1_000, prefix: 0700, suffix: ~}
  - source: s
    quote: 1e3
    prefix: true
    suffix: 12345678901234567890123
"""
QUOTED_TEXTS = """\
# yaml-language-server: $schema=../../schema/force_levels.schema.json
id: f
actor: us-armed-forces
country: "NO"
best: 2500
wording: "2500"
qualifier: exact
as_of:
  value: "2024"
  precision: year
status: current
citations:
  - source: s
    quote: "yes"
    suffix: "1:30"
  - source: s
    quote: "1_000"
    prefix: "0700"
  - source: s
    quote: "1e3"
    prefix: "true"
    suffix: "12345678901234567890123"
"""


def test_a_value_the_model_wants_as_text_written_unquoted_is_quoted_as_written(tmp_path, cli):
    """Numbers, booleans and what YAML 1.1 and 1.2 read differently become the text written where the model
    wants text; a number stays a number where it wants one, and a null stays null."""
    path = _write(tmp_path, "data/force_levels/f.yaml", UNQUOTED_TEXTS)
    done = cli("--root", tmp_path, "fmt")
    assert done.code == 0, done.out + done.err
    assert path.read_text(encoding="utf-8") == QUOTED_TEXTS
    assert cli("--root", tmp_path, "fmt", "--check").code == 0
    # Where the model wants no text (a boolean), the value is still the contributor's to write plainly.
    actor = _write(tmp_path, "data/actors/a.yaml", "id: a\nname: yes\nkind: person\nunnamed: yes\n")
    refused = cli("--root", tmp_path, "fmt")
    assert refused.code == 1
    assert refused.out.startswith("data/actors/a.yaml:4:10: `yes` is read as the boolean true by YAML 1.1")
    assert actor.read_text(encoding="utf-8").startswith("id: a\nname: yes\n")


def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path


def test_check_prints_a_diff_writes_nothing_and_fmt_then_makes_it_canonical(tmp_path, cli):
    messy = "id: q\r\nnotes: null\r\ntext: 'We have moved on'\r\n"
    path = _write(tmp_path, "data/quotes/q.yaml", messy)
    check = cli("--root", tmp_path, "fmt", "--check")
    assert check.code == 1
    assert "--- a/data/quotes/q.yaml" in check.out and "+++ b/data/quotes/q.yaml" in check.out
    assert "+# yaml-language-server: $schema=../../schema/quotes.schema.json" in check.out
    assert "-notes: null" in check.out
    assert path.read_bytes() == messy.encode()

    fixed = cli("--root", tmp_path, "fmt")
    assert fixed.code == 0, fixed.err
    assert path.read_bytes() == (
        b"# yaml-language-server: $schema=../../schema/quotes.schema.json\nid: q\ntext: We have moved on\n"
    )
    again = cli("--root", tmp_path, "fmt", "--check")
    assert (again.code, again.out) == (0, "")


def read_as_commands(output: str) -> list[str]:
    """The lines of ``output`` a GitHub Actions runner reads as workflow commands: ``::`` once it has
    trimmed leading whitespace, or the older ``##[`` anywhere in the line."""
    return [line for line in output.splitlines() if line.lstrip().startswith("::") or "##[" in line]


@pytest.mark.parametrize("on_actions", [False, True])
def test_check_output_cannot_forge_a_workflow_command(tmp_path, cli, monkeypatch, on_actions):
    """Canonical lines of a record are printed as context lines of the diff: they must not become
    annotations (or stop, mask or hide the log) in CI, nor can an error message quoting a key."""
    forged = "::error file=data/events/other.yaml,line=1::FORGED context line"
    _write(tmp_path, "data/actors/a.yaml", f'id: a\nname: "A"\nnotes: |-\n  {forged}\n  ##[warning]FORGED anywhere\n  end\n')
    _write(tmp_path, "data/actors/b.yaml", '"##[warning]key": 1\n"##[warning]key": 2\n')
    if on_actions:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    else:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    result = cli("--root", tmp_path, "fmt", "--check")
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert "   \\x3a:error file=data/events/other.yaml,line=1::FORGED context line" in lines
    assert "   ##\\x5bwarning]FORGED anywhere" in lines
    assert "data/actors/b.yaml:2:1: duplicate key '##\\x5bwarning]key': keep one of them" in lines
    commands = read_as_commands(result.out)
    if on_actions:  # paused, with a token no file can guess, from before the diff to the end
        token = lines[0].removeprefix("::stop-commands::")
        assert len(token) == 32 and commands == [lines[0], f"::{token}::"] == [lines[0], lines[-1]]
    else:
        assert commands == []


def test_check_shows_control_characters_and_a_missing_last_line_break(tmp_path, cli):
    _write(tmp_path, "data/actors/a.yaml", "id: a\r\nname: A # \u202eevil\u202c")
    result = cli("--root", tmp_path, "fmt", "--check")
    assert result.code == 1, result.err
    assert result.out.splitlines()[3:] == [
        "-id: a\\r",
        "-name: A # \\u202eevil\\u202c",
        "\\ No newline at end of file",
        "+# yaml-language-server: $schema=../../schema/actors.schema.json",
        "+id: a",
        "+name: A",
    ]
    assert "\r" not in result.out and "\u202e" not in result.out


def test_only_the_given_paths_are_formatted(tmp_path, cli):
    chosen = _write(tmp_path, "data/actors/a.yaml", "id: a\n")
    other = _write(tmp_path, "data/actors/b.yaml", "id: b\n")
    result = cli("--root", tmp_path, "fmt", chosen)
    assert result.code == 0, result.err
    assert chosen.read_text().startswith("# yaml-language-server")
    assert other.read_text() == "id: b\n"


def test_unparseable_files_are_reported_with_their_location_and_left_alone(tmp_path, cli):
    broken = _write(tmp_path, "data/events/broken.yaml", "id: broken\ntitle: [unclosed\n")
    duplicate = _write(tmp_path, "data/events/dup.yaml", "id: dup\nid: again\n")
    _write(tmp_path, "data/events/fine.yaml", "id: fine\n")
    result = cli("--root", tmp_path, "fmt")
    assert result.code == 1
    assert "Traceback" not in result.err
    lines = result.out.splitlines()
    assert any(line.startswith("data/events/broken.yaml:3:1: ") for line in lines), result.out
    assert any(line.startswith("data/events/dup.yaml:2:1: ") and "duplicate key" in line for line in lines), result.out
    assert broken.read_text() == "id: broken\ntitle: [unclosed\n"
    assert duplicate.read_text() == "id: dup\nid: again\n"
    assert (tmp_path / "data/events/fine.yaml").read_text().startswith("# yaml-language-server")


def test_a_file_fmt_cannot_rewrite_is_reported_and_left_alone(tmp_path, cli):
    messy = _write(tmp_path, "data/actors/a.yaml", "id: a\n")
    with read_only(messy.parent):
        result = cli("--root", tmp_path, "fmt")
    assert result.code == 1 and "Traceback" not in result.err
    assert result.out.startswith("data/actors/a.yaml:1:1: cannot rewrite the file (")
    assert "left as it was; make it writable, then run fmt again" in result.out
    assert [path.name for path in messy.parent.iterdir()] == ["a.yaml"] and messy.read_text() == "id: a\n"
    assert "reformatted 0" in result.err


def test_a_missing_path_is_a_usage_error(tmp_path, cli):
    (tmp_path / "data").mkdir()
    result = cli("--root", tmp_path, "fmt", tmp_path / "nope.yaml")
    assert result.code == 2
    assert "nope.yaml" in result.err


def test_committed_records_are_canonical(repo, cli):
    assert {p.parent.name for p in (repo / "data").glob("*/*.yaml")} == set(COLLECTIONS), "data/ lacks records"
    result = cli("fmt", "--check")
    assert result.code == 0, "run `iraq-transition fmt`:\n" + result.out[:3000] + result.err
