"""Provenance: every populated factual value is supported by a citation (or marked editorial), and corroboration
counts, per record and per claim, only the citations that support it."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import date_from_publication
from iraq_transition.provenance import holds, stated_years
from iraq_transition.spans import SENTENCE_REACH, sentence_around

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


AIM_2026 = Path("data/events/agreement-aim-withdraw-american-troops-by-end-2026.yaml")


def _fields(cli, root: Path) -> list[tuple[str, str]]:
    return [(p["code"], p["field"]) for p in _problems(cli, root)]


def test_a_value_of_no_allowed_kind_and_a_support_naming_nothing_are_reported_in_one_run(cli, repo_copy):
    path = repo_copy / AIM_2026
    path.write_text(path.read_text().replace("status: planned", "status: plannedd").replace(
        "      - place.name", "      - place.nam"))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"], p["line"]) for p in problems] == [
        ("wrong-value", "status", _line_of(path, "status:")),
        ("unsupported-value", "place.name", _line_of(path, "  name:")),
        ("support-unknown", "citations.0.supports.4", _line_of(path, "      - place.nam")),
    ]


def test_a_missing_field_and_a_value_no_citation_supports_are_reported_in_one_run(cli, repo_copy):
    path = repo_copy / AIM_2026
    text = path.read_text()
    path.write_text(re.sub(r"\ntitle: .*\n", "\n", text).replace("      - date\n", ""))
    assert _fields(cli, repo_copy) == [("missing-field", "title"), ("unsupported-value", "date")]


def test_a_force_level_without_its_wording_has_no_figure_judged_by_the_missing_wording(cli, repo_copy):
    """Its best, unsupported once no citation names it, is reported; "wording" in supports names the missing value
    and is not, nor is best faulted for a number the (missing) wording does not state."""
    path = repo_copy / TROOPS
    text = path.read_text()
    path.write_text(re.sub(r"\nwording: .*\n", "\n", text).replace("      - best\n", ""))
    assert _fields(cli, repo_copy) == [("missing-field", "wording"), ("unsupported-value", "best")]


def test_a_record_whose_only_error_is_a_value_gets_that_problem_alone(cli, repo_copy):
    """Its supports name status: a value that failed is no unknown name, nor is a value unsupported for it."""
    path = repo_copy / AIM_2026
    path.write_text(path.read_text().replace("status: planned", "status: plannedd"))
    assert _fields(cli, repo_copy) == [("wrong-value", "status")]


def test_a_part_that_fails_takes_the_names_of_its_values_with_it(cli, repo_copy):
    """A nested value that fails (place, with an unknown field) leaves supports naming it (place.country) unjudged,
    and the other values are judged."""
    path = repo_copy / AIM_2026
    path.write_text(path.read_text().replace("  precision: country", "  precision: country\n  town: Baghdad").replace(
        "      - date\n", ""))
    assert _fields(cli, repo_copy) == [("unsupported-value", "date"), ("unknown-field", "place.town")]


def test_an_unknown_field_named_in_supports_is_reported_with_the_support_that_names_it(cli, repo_copy):
    """An unknown field holds no value: a support naming it is wrong now, not only once the field is gone."""
    path = repo_copy / AIM_2026
    path.write_text(path.read_text().replace("status: planned\n", "status: planned\nbogus: 1\n").replace(
        "      - status\n", "      - status\n      - bogus\n", 1))
    assert _fields(cli, repo_copy) == [("unknown-field", "bogus"), ("support-unknown", "citations.0.supports.1")]


@pytest.mark.parametrize("change", [
    ("    quote: with the aim", "    quote: 2026\n    prefix: with the aim"),  # a quote that is no text
    ("citations:\n", "editorial:\n  - basis: From a briefing.\ncitations:\n"),  # an editorial entry of no fields
])
def test_an_error_in_what_values_are_judged_by_gives_no_provenance_problem(cli, repo_copy, change):
    """With a citation or an editorial entry invalid every value could look unsupported (here place.name, whose
    support is misspelt, too): the structural problem is reported alone."""
    path = repo_copy / AIM_2026
    path.write_text(path.read_text().replace(*change, 1).replace("      - place.name", "      - place.nam"))
    assert [code for code, _ in _fields(cli, repo_copy)] == ["wrong-type" if "2026" in change[1] else "missing-field"]


def test_a_record_refused_by_its_model_s_own_rule_has_its_values_judged(cli, repo_copy):
    """The rule relating latitude and longitude is no rule of provenance: the base's values are judged as ever."""
    path = repo_copy / NE_SYRIA
    path.write_text(path.read_text().replace("longitude: 40.5\n", ""))
    assert _fields(cli, repo_copy) == [("wrong-value", None)]
    path.write_text(path.read_text().replace("      - country\n", "      - country\n      - province\n"))
    assert _fields(cli, repo_copy) == [("wrong-value", None), ("support-unknown", "citations.0.supports.2")]


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


@pytest.mark.parametrize("wording", ["1" * 5000, "1" + ",000" * 1500])
@pytest.mark.parametrize("status", ["", "plannedd"])  # valid, or checked in part
def test_a_wording_of_thousands_of_digits_states_no_figure_and_stops_nothing(cli, repo_copy, wording, status):
    path = repo_copy / "data/force_levels/us-remaining-forces-leave-iraq-by-end-2026.yaml"
    text = path.read_text().replace("wording: the remaining forces departing by the end of 2026", f"wording: '{wording}'")
    path.write_text(re.sub(r"\nstatus: .*\n", f"\nstatus: {status}\n", text) if status else text)
    problems = _problems(cli, repo_copy)  # exit 1, not 3
    assert {p["field"] for p in problems} == ({"status"} if status else {"citations.0.supports"})
    assert all(p["line"] >= 1 and p["col"] >= 1 for p in problems)


NOT_A_WITHDRAWAL = Path("data/quotes/senior-us-official-not-a-withdrawal-but-a-transition.yaml")
SINGH = Path("data/quotes/singh-us-not-withdrawing-from-iraq.yaml")
TROOPS_2021 = Path("data/force_levels/us-troops-iraq-approximately-2500-2021.yaml")
REPORT_003 = Path("data/sources/report-phaseout-daesh-occupation.yaml")
WORDS_ONLY = ("    quote: “This is not a withdrawal. This is a transition to an expanded U.S.-Iraqi bilateral security "
              "relationship,”\n")


def _speaker(path: Path, described: str) -> None:
    text = path.read_text()
    path.write_text(re.sub(r"\nspeaker_as_described: .*\n", f"\nspeaker_as_described: {described}\n", text))


def test_a_quote_s_speaker_as_described_must_be_in_a_citation_that_supports_it(cli, repo_copy):
    path = repo_copy / NOT_A_WITHDRAWAL
    _speaker(path, "a senior American official")
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"], p["line"]) for p in problems] == [
        ("speaker-not-in-span", "citations.0.supports", _line_of(path, "    supports:") + 1)]
    assert "'a senior American official'" in problems[0]["message"]
    assert "copy the source's own words for the speaker, cite the sentence" in problems[0]["message"]


def test_speaker_as_described_may_be_in_the_sentence_around_the_span_but_not_further(cli, repo_copy):
    """The span of the quoted words alone: the sentence it is in names "the official" ("..., the official said");
    001's "a senior US official" is in the sentence before, which the citation does not cite."""
    path = repo_copy / NOT_A_WITHDRAWAL
    text = path.read_text()
    path.write_text(re.sub(r"\n    quote: In a briefing .*\n", "\n" + WORDS_ONLY, text))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["line"]) for p in problems] == [("speaker-not-in-span", _line_of(path, "    supports:") + 1)]
    _speaker(path, "the official")
    assert cli("--root", repo_copy, "validate").code == 0


def test_speaker_as_described_is_looked_for_in_every_citation_that_supports_it(cli, repo_copy):
    """The second citation words the speaker; the first ("..., she added.") does not, so it may not say it supports
    speaker_as_described, even while the second does (else it would count as a report of the speaker)."""
    path = repo_copy / SINGH
    assert cli("--root", repo_copy, "validate").code == 0
    path.write_text(path.read_text().replace("      - text\n", "      - text\n      - speaker_as_described\n", 1))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"]) for p in problems] == [("speaker-not-in-span", "citations.0.supports")]


def _support_line(path: Path, name: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if line == f"      - {name}")


def test_a_date_s_year_must_be_given_by_each_citation_that_supports_it(cli, repo_copy):
    path = repo_copy / TROOPS_2021
    path.write_text(path.read_text().replace('value: "2021"', 'value: "2022"'))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"], p["line"]) for p in problems] == [
        ("date-year-unsupported", "citations.0.supports.5", _support_line(path, "as_of"))]
    message = problems[0]["message"]
    assert "as_of (2022)" in message and "the year 2022 in digits" in message
    assert "'report-phaseout-daesh-occupation' was not published in 2022 (its publication: 2024)" in message


def test_each_year_a_date_names_is_checked_its_bounds_too(cli, repo_copy):
    path = repo_copy / TROOPS_2021
    text = path.read_text()
    path.write_text(text.replace("  precision: year\n", '  precision: year\n  earliest: "2021-03-01"\n'))
    assert cli("--root", repo_copy, "validate").code == 0
    path.write_text(text.replace("  precision: year\n", '  precision: year\n  latest: "2022-01-31"\n'))
    problems = _problems(cli, repo_copy)
    assert [(p["code"], p["field"]) for p in problems] == [("date-year-unsupported", "citations.0.supports.5")]
    assert "the year 2022 in digits" in problems[0]["message"]


def test_a_date_s_year_may_come_from_the_source_s_publication_date(cli, repo_copy):
    """003 dates Singh's briefing 'on Friday', giving no year: cited for the date (the data marks its day
    editorial), the year is that of 003's publication, 2024. Published in 2025 instead, 003 would put the briefing in
    2025: the date 2024-09-27 no longer follows from it."""
    date_from_publication(repo_copy)
    assert cli("--root", repo_copy, "validate").code == 0
    source = repo_copy / REPORT_003
    source.write_text(source.read_text().replace('value: "2024-09-27"', 'value: "2025-09-26"'))
    problems = _problems(cli, repo_copy)
    assert {p["code"] for p in problems} == {"date-year-unsupported"}
    singh = [(p["field"], p["line"]) for p in problems if p["path"] == str(SINGH)]
    assert singh == [("citations.1.supports.3", _support_line(repo_copy / SINGH, "said"))]  # said, after occasion
    assert "its publication: 2025" in next(p["message"] for p in problems if p["path"] == str(SINGH))


def test_the_sentence_around_a_span_ends_at_no_abbreviation_and_takes_in_the_quotation_it_is_in():
    text = ("Earlier words. During a press conference, U.S. Deputy Secretary Sabrina Singh spoke on Sept. 27 "
            "in Baghdad. “This is not a withdrawal. This is a transition,” the official said. Later words.\n\n"
            "A heading without a full stop\n\nA new paragraph.")

    def around(words: str) -> str:
        start = text.index(words)
        return text[slice(*sentence_around(text, start, start + len(words)))].strip()

    assert around("Sabrina Singh") == (
        "During a press conference, U.S. Deputy Secretary Sabrina Singh spoke on Sept. 27 in Baghdad.")
    quoted = "“This is not a withdrawal. This is a transition,” the official said."
    assert around("This is not a withdrawal.") == around("This is a transition") == quoted
    assert around("Later") == "Later words."
    assert around("heading") == "A heading without a full stop"
    long = "word " * 1000
    assert sentence_around(long, 2500, 2504) == (2500 - SENTENCE_REACH, 2504 + SENTENCE_REACH)


def test_words_are_held_as_whole_words_and_blank_words_by_nothing():
    assert holds("the official", "“Not a withdrawal,” the official said.")
    assert holds("U.S. official", "a senior U.S. official said")
    assert not holds("US official", "US officials said")
    assert not holds("Iran", "an Iranian envoy")
    assert not holds("a so", "said a source")
    assert not holds(" ", "any text")


def test_a_year_is_four_digits_standing_alone():
    assert stated_years("in 2014, and by September 2025.") == {2014, 2025}
    assert stated_years("(2024)") == {2024}
    assert stated_years("20245 and $2,024 and 2024.5 and w2024x and 1,2024") == set()


def test_a_blank_line_ends_a_sentence_in_crlf_text_and_at_a_paragraph_separator():
    for text in ("The envoy spoke\r\n\r\nTroops stay, he said.", "The envoy spoke\u2029Troops stay, he said."):
        start = text.index("Troops")
        assert text[slice(*sentence_around(text, start, start + 6))].strip() == "Troops stay, he said."
