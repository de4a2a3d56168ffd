"""Provenance: every populated factual value is supported by a citation (or marked editorial), and corroboration
counts, per record and per claim, only the citations that support it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

NE_SYRIA = Path("data/bases/northeastern-syria.yaml")
TROOPS = Path("data/force_levels/us-troops-iraq-2500-2024.yaml")


def _problems(cli, root: Path) -> list[dict]:
    done = cli("--root", root, "validate", "--format", "json")
    assert done.code == 1, done.out + done.err
    return json.loads(done.out)


def _line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(text))


def test_a_value_no_citation_supports_is_reported_at_its_line(cli, repo_copy):
    path = repo_copy / TROOPS
    path.write_text(path.read_text().replace("      - best\n", ""))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"], p["line"]) for p in problems] == [
        ("unsupported-value", "best", _line_of(path, "best:"))
    ]
    assert "add 'best' to the supports" in problems[0]["message"]


def test_a_support_naming_no_value_or_an_editorial_field_is_reported(cli, repo_copy):
    path = repo_copy / TROOPS
    path.write_text(path.read_text().replace("      - best\n", "      - best\n      - low\n      - notes\n", 1))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"]) for p in problems] == [
        ("support-unknown", "citations.0.supports.3"), ("support-unknown", "citations.0.supports.4")]
    assert "needs no citation" in problems[1]["message"]


def test_an_editorial_entry_accounts_for_a_value_and_must_name_one(cli, repo_copy):
    path = repo_copy / TROOPS
    text = path.read_text().replace("      - best\n", "")
    editorial = "editorial:\n  - fields:\n      - best\n    basis: From a briefing transcript.\ncitations:\n"
    path.write_text(text.replace("citations:\n", editorial, 1))
    assert cli("--root", repo_copy, "validate").code == 0
    path.write_text(text.replace("citations:\n", editorial.replace("- best", "- high"), 1))
    codes = [(p["code"], p["field"]) for p in _problems(cli, repo_copy)]
    assert codes == [("unsupported-value", "best"), ("support-unknown", "editorial.0.fields.0")]


def test_a_part_s_values_are_supported_by_its_own_citations(cli, repo_copy):
    path = repo_copy / NE_SYRIA
    text = path.read_text()
    path.write_text(text.replace("          - reported\n", "", 1))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"]) for p in problems] == [("unsupported-value", "postures.0.reported")]


def test_corroboration_counts_only_the_citations_that_support_the_record_or_claim(cli, repo_copy):
    assert cli("--root", repo_copy, "build").code == 0
    with sqlite3.connect(repo_copy / "build" / "iraq-transition.db") as db:
        record = db.execute("select citations, independent_reports from corroboration "
                            "where record_type = 'bases' and record_id = 'northeastern-syria'").fetchone()
        claims = dict(db.execute(
            "select claim, independent_reports from claim_corroboration where record_id = "
            "'coalition-syria-mission-continues-to-2026-09' and part = ''"))
        shared = db.execute(
            "select independent_reports, independent_reports_shared_upstream_as_one from claim_corroboration "
            "where record_id = 'us-officials-briefing-2024-09-27' and part = '' and claim = 'status'").fetchone()
    assert record == (1, 1)
    assert claims["end_date"] == 3  # 000 (with its rewrite 002), 003, 004; 001 gives no date
    assert claims["status"] == 4
    assert shared == (2, 1)  # 001 and 004 are suspected of sharing an upstream report


def test_a_force_level_s_wording_must_be_in_each_span_that_supports_it(cli, repo_copy):
    path = repo_copy / TROOPS
    path.write_text(path.read_text().replace("wording: the 2,500 U.S. troops still serving in Iraq",
                                             "wording: the 2,500 U.S. troops serving in Iraq"))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"]) for p in problems] == [("wording-not-in-span", "citations.0.supports")]
    assert "'the 2,500 U.S. troops serving in Iraq'" in problems[0]["message"]


def test_a_force_level_s_numbers_are_those_its_wording_states(cli, repo_copy):
    path = repo_copy / TROOPS
    path.write_text(path.read_text().replace("best: 2500", "best: 2400"))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"], p["line"]) for p in problems] == [
        ("number-not-in-wording", "best", _line_of(path, "best:"))]
    assert "it states: 2,500" in problems[0]["message"]
