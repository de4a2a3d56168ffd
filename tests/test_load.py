"""The safe YAML loader and the discovery of record files (load.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from iraq_transition.load import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    LoadError,
    Project,
    decode,
    load_yaml,
    parse_yaml,
    read_bytes,
    record_files,
)


def error_of(text: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        parse_yaml(text)
    return caught.value


# --------------------------------------------------------------------------- scalars


def test_plain_scalars_resolve_like_safe_loader_but_dates_stay_text():
    data = parse_yaml(
        "date: 2024-09-27\nmonth: 2024-09\ntrue_: true\nfalse_: False\nint: 2500\nhex: 0x10\n"
        "signed: +12\nfloat: 1.5\nnull_: ~\nempty:\nquoted: '2500'\ntext: Ain al-Asad\n"
    )
    assert data == {
        "date": "2024-09-27",
        "month": "2024-09",
        "true_": True,
        "false_": False,
        "int": 2500,
        "hex": 16,
        "signed": 12,
        "float": 1.5,
        "null_": None,
        "empty": None,
        "quoted": "2500",
        "text": "Ain al-Asad",
    }


def test_plain_scalars_both_yaml_versions_read_alike_keep_their_value():
    text = "a: 12\nb: -3\nc: 1.5\nd: true\ne: null\nf: ~\ng: +12\nh: 0x1F\ni: .5\nj: 1.5e+3\nk: -.inf\nl: 00\nm: word\n"
    assert parse_yaml(text) == {
        "a": 12, "b": -3, "c": 1.5, "d": True, "e": None, "f": None, "g": 12, "h": 31, "i": 0.5, "j": 1500.0,
        "k": float("-inf"), "l": 0, "m": "word",
    }


@pytest.mark.parametrize(
    "scalar",
    ["0700", "010", "08", "1:30", "1_000", "1_000.5", "0b11", "-0x1F", "0o17", "1e3", "1.5e3", "-.5",
     "yes", "No", "on", "OFF", "y", "Y", "n", "N"],
)
def test_plain_scalars_yaml_versions_read_differently_are_located_errors(scalar):
    error = error_of(f"id: x\nvalue: {scalar}\n")
    assert (error.line, error.col) == (2, 8)
    assert error.message.startswith(f"`{scalar}` is read as ") and f"quote it ('{scalar}') if it is text" in error.message


def test_an_ambiguous_number_too_long_to_read_is_an_error_not_a_crash():
    assert "number is too long" in error_of("value: 0" + "7" * 5000 + "\n").message


def test_keys_are_taken_as_written():
    assert parse_yaml("yes: 1\n~: 2\n3: 4\n") == {"yes": 1, "~": 2, "3": 4}


safe_scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
safe_data = st.recursive(
    safe_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(safe_data, st.sampled_from([None, True]))
def test_agrees_with_pyyaml_safe_loader_on_safe_documents(data, flow):
    text = yaml.safe_dump({"value": data}, allow_unicode=True, default_flow_style=flow)
    try:
        ours = parse_yaml(text)
    except LoadError as error:  # PyYAML writes plain any string it reads back as one, such as 0o1 or 1e1
        assert "by YAML 1.2" in error.message
        return
    assert ours == yaml.load(text, Loader=yaml.CSafeLoader)


# --------------------------------------------------------------------------- positions


def test_positions_of_keys_and_values_are_one_based():
    positions = {}
    parse_yaml("id: x\ncitations:\n  - source: a\n    quote: b\n", positions)
    assert positions[("id",)] == (1, 1, 1, 5)
    assert positions[("citations",)] == (2, 1, 3, 3)
    assert positions[("citations", 0)] == (3, 5, 3, 5)
    assert positions[("citations", 0, "quote")] == (4, 5, 4, 12)


# --------------------------------------------------------------------------- rejected YAML


@pytest.mark.parametrize(
    "text, line, col, words",
    [
        ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a'"),
        ("a: &x 1\n", 1, 4, "anchor &x"),
        ("a: [1]\nb: *x\n", 2, 4, "alias *x"),
        ("a: !!str 1\n", 1, 4, "tag tag:yaml.org,2002:str"),
        ("a: !foo 1\n", 1, 4, "tag !foo"),
        ("a: 1\n---\nb: 2\n", 2, 1, "second YAML document"),
        ("a: b\x00c\n", 1, 5, "U+0000"),
        ("a: " + "9" * 5000 + "\n", 1, 4, "too long"),
        ("a: 99999999999999999999\n", 1, 4, "out of range"),
        ("? [a, b]\n: c\n", 1, 3, "key must be a plain name"),
        ("a: [1\nb: 2\n", 2, 2, "YAML syntax error"),
        ("", 1, 1, "file is empty"),
        ("# only a comment\n", 1, 1, "file is empty"),
    ],
)
def test_rejected_yaml_is_located(text, line, col, words):
    error = error_of(text)
    assert (error.line, error.col) == (line, col)
    assert words in error.message


def test_an_alias_bomb_is_rejected_before_expansion():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
    )
    error = error_of(bomb)
    assert (error.line, error.col, error.message.split(" ")[0]) == (1, 4, "anchor")


def test_deep_nesting_is_rejected_without_recursion():
    error = error_of("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert error.line == 1 and f"more than {MAX_DEPTH} levels" in error.message


def test_nesting_up_to_the_limit_is_fine():
    depth = MAX_DEPTH - 1  # the top-level mapping is one level
    assert parse_yaml("a: " + "[" * depth + "]" * depth + "\n") is not None


# --------------------------------------------------------------------------- bytes


def test_decode_drops_a_byte_order_mark_and_keeps_crlf_files_readable():
    assert parse_yaml(decode(b"\xef\xbb\xbfid: x\r\nname: z\r\n")) == {"id": "x", "name": "z"}


def test_invalid_utf8_is_located_at_the_bad_byte():
    with pytest.raises(LoadError) as caught:
        decode(b"id: x\nname: Caf\xe9\n")
    assert (caught.value.line, caught.value.col) == (2, 10)
    assert "UTF-8" in caught.value.message


def test_files_over_the_limit_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(LoadError, match="larger than"):
        read_bytes(big)


def test_a_directory_is_not_read(tmp_path):
    with pytest.raises(LoadError, match="is a directory"):
        read_bytes(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_files_are_reported(tmp_path):
    locked = tmp_path / "locked.yaml"
    locked.write_text("id: locked\n")
    locked.chmod(0)
    with pytest.raises(LoadError, match="cannot read"):
        read_bytes(locked)


def test_load_yaml_returns_located_problems(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\na: 2\n")
    data, problems = load_yaml(path, "data/events/x.yaml")
    assert data is None
    assert [str(p) for p in problems] == ["data/events/x.yaml:2:1: duplicate key 'a': keep one of them"]


# --------------------------------------------------------------------------- record files


def test_record_files_and_strays(tmp_path):
    data = tmp_path / "data"
    (data / "events" / "nested").mkdir(parents=True)
    (data / "events" / "dir.yaml").mkdir()
    (data / "unknown").mkdir()
    (data / "actors").mkdir()
    (data / "events" / "good.yaml").write_text("id: good\n")
    (data / "events" / "x.yml").write_text("id: x\n")
    (data / "events" / "notes.txt").write_text("")
    (data / "x.yaml").write_text("id: x\n")
    (data / "actors" / "inside.yaml").symlink_to(data / "events" / "good.yaml")
    (data / "actors" / "outside.yaml").symlink_to(Path("/etc/hostname"))
    os.mkfifo(data / "events" / "pipe.yaml")
    files, problems = record_files(Project(tmp_path))
    assert [(f.display, f.label) for f in files] == [
        ("data/actors/inside.yaml", "actors/inside"),
        ("data/events/good.yaml", "events/good"),
    ]
    messages = {p.path: p.message for p in problems}
    assert all((p.line, p.col) == (1, 1) for p in problems)
    assert set(messages) == {
        "data/actors/outside.yaml",
        "data/events/dir.yaml",
        "data/events/nested",
        "data/events/notes.txt",
        "data/events/pipe.yaml",
        "data/events/x.yml",
        "data/unknown",
        "data/x.yaml",
    }
    assert "outside data/" in messages["data/actors/outside.yaml"]
    assert "rename it to x.yaml" in messages["data/events/x.yml"]
    assert "unknown collection directory 'unknown'" in messages["data/unknown"]
    assert "data/<collection>/<id>.yaml" in messages["data/x.yaml"]
    assert "directory inside data/events/" in messages["data/events/nested"]
    assert "not a regular file" in messages["data/events/pipe.yaml"]
