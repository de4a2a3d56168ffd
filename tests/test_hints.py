"""'Did you mean' finds what was meant: a word of an actor's name, a name or an alias written as the id, a seed file
given where its source's id is expected; the same with the cache as without it, at a bounded cost."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from iraq_transition.hints import HINT_IDS, _Words
from iraq_transition.load import Project
from iraq_transition.validate import validate_project

from test_validate import assert_clean_exit, tiny  # noqa: F401 - a fixture

SINGH = "data/quotes/singh-us-not-withdrawing-from-iraq.yaml"


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def messages(root: Path, field: str, **options) -> list[str]:
    return [problem.message for problem in validate_project(Project(root), **options)[1] if problem.field == field]


def test_a_word_of_an_actors_name_finds_that_actor_not_an_id_spelt_alike(repo_copy, cli):
    """``singh`` is closer, letter by letter, to ``spain`` than to ``sabrina-singh``; the name "Sabrina Singh" says
    which is meant."""
    replace_in(repo_copy / SINGH, "speaker_id: sabrina-singh", "speaker_id: singh")
    done = cli("--root", repo_copy, "validate")
    assert_clean_exit(done, 1)
    assert done.out.splitlines() == [
        f"{SINGH}:5:13: quotes/singh-us-not-withdrawing-from-iraq: speaker_id: unknown actors id 'singh': there is no "
        "data/actors/singh.yaml; did you mean 'sabrina-singh' (named 'Sabrina Singh')?"]


def test_an_alias_or_a_name_written_as_the_id_finds_its_record(tiny):
    quote = tiny / "data" / "quotes" / "never-quite-out.yaml"
    replace_in(quote, "speaker_id: the-official", "speaker_id: us")
    assert messages(tiny, "speaker_id")[0].endswith("; did you mean 'united-states' (also known as 'US')?")
    replace_in(quote, "speaker_id: us", "speaker_id: United States")
    assert messages(tiny, "speaker_id")[-1].endswith("; did you mean 'united-states' (named 'United States')?")


def test_a_seed_file_given_as_a_source_names_the_source_that_archives_it(tiny):
    quote = tiny / "data" / "quotes" / "never-quite-out.yaml"
    for given in ("000_adbaac8c2019ffeb.txt", "000_adbaac8c2019ffeb"):
        quote.write_text(re.sub(r"source: \S+", f"source: {given}", quote.read_text(encoding="utf-8")), encoding="utf-8")
        unknown = [message for message in messages(tiny, "citations.0.source") if "unknown sources id" in message]
        assert unknown == [f"unknown sources id {given!r}: there is no data/sources/{given}.yaml; "
                           "000_adbaac8c2019ffeb.txt is the seed file of source 'article-000': did you mean "
                           "'article-000'?"]


def test_names_from_the_cache_give_the_hints_that_names_read_anew_give(tiny):
    """The names of records the run did not read again come from the cache: the hints are those of a run without it,
    also once a name has changed."""
    aged = time.time() - 60
    actor, quote = tiny / "data" / "actors" / "united-states.yaml", tiny / "data" / "quotes" / "never-quite-out.yaml"
    assert validate_project(Project(tiny))[1] == []  # fills the cache
    replace_in(quote, "speaker_id: the-official", "speaker_id: america")
    os.utime(quote, (aged, aged))
    assert messages(tiny, "speaker_id") == messages(tiny, "speaker_id", use_cache=False) == [
        "unknown actors id 'america': there is no data/actors/america.yaml"]
    replace_in(actor, "aliases: [U.S., US]", "aliases: [U.S., US, America]")
    os.utime(actor, (aged, aged))
    expected = ["unknown actors id 'america': there is no data/actors/america.yaml; did you mean 'united-states' "
                "(also known as 'America')?"]
    assert messages(tiny, "speaker_id") == messages(tiny, "speaker_id", use_cache=False) == expected
    assert messages(tiny, "speaker_id") == expected  # the actor's names as cached


def test_records_whose_words_hold_an_unknown_id_are_looked_at_a_bounded_number_of_times():
    """Of the records that have the rarest word of an unknown id, the first HINT_IDS are looked at."""
    ids = [f"person-{number:05}" for number in range(2 * HINT_IDS + 10)]
    names = {record_id: (("name", "Red"),) for record_id in ids[:HINT_IDS + 5]}
    for record_id in ids[HINT_IDS + 1:]:
        names[record_id] = names.get(record_id, ()) + (("aliases", "Blue"),)
    names[ids[3]] += (("aliases", "Third Person"),)
    found = _Words.of(ids, names)
    assert found.holding(["red", "third"]) == ids[3]
    assert found.holding(["person", "blue"]) == ids[HINT_IDS + 1]
    assert found.holding(["red", "blue"]) is None  # both in ids HINT_IDS + 1 to + 4, beyond the first HINT_IDS 'red'
    assert found.spelt["third-person"] == ids[3]
