"""Hints added to problems: the closest passage of a quote not found, the record an unknown id may mean.

An unknown id is compared with the ids (:func:`difflib.get_close_matches`, a slip of a few characters) and with
the words of the ids, names, aliases and seed files of its collection (``singh`` is ``sabrina-singh``, "Sabrina
Singh"; ``000_adbaac8c2019ffeb.txt`` is the seed file of a source). What a run spends on hints is bounded
(:data:`MAX_HINTS` a run, each looking at a bounded part of the data), and does not depend on the cache: hints go
to the first problems they may help, in the order problems are reported.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable

from .problems import Problem
from .spans import closest_passage

MAX_HINTS = 20
"""Hints (a quote's closest passage, the record an unknown id may mean) given per run."""
HINT_IDS = 1000
"""Ids compared, at most, with an unknown one: the :data:`HINT_IDS` / 2 nearest in sorted order, and as many in the
order of the ids read backwards (so that a slip at the start or at the end of an id is caught); and records
looked at, at most, among those whose words hold every word of an unknown id."""
HINT_ID_CHARS = 200
"""Longest unknown id for which a known one is suggested."""
TYPO_RATIO = 0.8
"""How close (:meth:`difflib.SequenceMatcher.ratio`) an id must be to an unknown one to be taken for a slip of the
keys before the words of the names are looked at."""
_NAMED_AS = {"name": "named", "aliases": "also known as"}

Names = dict[str, dict[str, tuple[tuple[str, str], ...]]]
"""collection -> id -> (field, text) of what names the record besides its id (see :data:`.summary.NAME_FIELDS`)."""


def words(text: str) -> list[str]:
    """The words of ``text`` as an id would spell them: without accents, in lower case."""
    plain = "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    return re.findall(r"[^\W_]+", plain.casefold())


@dataclasses.dataclass
class _Words:
    """The words of a collection's ids and names: which record each name spells, and which records have each word."""

    spelt: dict[str, str]  # a name's words, joined by hyphens -> the first id (in order) with that name
    having: dict[str, list[str]]  # word -> the ids (in order) whose id or names have it
    sets: dict[str, set[str]]  # word -> the same ids, to test

    @classmethod
    def of(cls, ids: Iterable[str], names: dict[str, tuple[tuple[str, str], ...]]) -> _Words:
        spelt: dict[str, str] = {}
        having: dict[str, list[str]] = {}
        for record_id in sorted(ids):
            found = dict.fromkeys(words(record_id))
            for _, text in names.get(record_id, ()):
                spelling = words(text)
                spelt.setdefault("-".join(spelling), record_id)
                found.update(dict.fromkeys(spelling))
            for word in found:
                having.setdefault(word, []).append(record_id)
        return cls(spelt, having, {word: set(ids) for word, ids in having.items()})

    def holding(self, wanted: list[str]) -> str | None:
        """The shortest id (then the first) whose id or names hold every word of ``wanted``, among the first
        :data:`HINT_IDS` that have its rarest word."""
        if not wanted or any(word not in self.having for word in wanted):
            return None
        rarest = min(wanted, key=lambda word: len(self.having[word]))
        found = [record_id for record_id in self.having[rarest][:HINT_IDS]
                 if all(record_id in self.sets[word] for word in wanted)]
        return min(found, key=lambda record_id: (len(record_id), record_id), default=None)


def _nearest(order: list[str], key: str) -> list[str]:
    """The :data:`HINT_IDS` // 2 items of sorted ``order`` around where ``key`` would be."""
    at = bisect.bisect_left(order, key)
    return order[max(0, at - HINT_IDS // 4): at + HINT_IDS // 4]


class _Hinter:
    """The hints of one run: what they look at is prepared once, when first wanted."""

    def __init__(self, known: dict[str, set[str]], text_of: Callable[[str], str | None], names: Names):
        self.known, self.text_of, self.names = known, text_of, names
        self.orders: dict[str, tuple[list[str], list[str]]] = {}  # collection -> its ids sorted, and read backwards
        self.words: dict[str, _Words] = {}

    def hint(self, kind: str, about: str, value: str) -> str:
        """The closest passage of a quote not found in source ``about``, or the record of collection ``about`` that
        an unknown id may mean."""
        if kind == "passage":
            passage = closest_passage(self.text_of(about), value)
            return f"; closest passage: {passage!r}" if passage else "; nothing similar found"
        if len(value) > HINT_ID_CHARS:
            return ""
        guess = self._close_id(about, value)
        if guess is not None and difflib.SequenceMatcher(None, value, guess).ratio() >= TYPO_RATIO:
            return f"; did you mean {guess!r}?"
        if about not in self.words:
            self.words[about] = _Words.of(self.known[about], self.names.get(about, {}))
        spelling = words(value)
        named = self.words[about].spelt.get("-".join(spelling)) or self.words[about].holding(spelling)
        if named is not None:
            return self._meaning(about, named, spelling)
        return f"; did you mean {guess!r}?" if guess is not None else ""

    def _close_id(self, about: str, value: str) -> str | None:
        """The id of ``about`` closest to ``value`` by its characters, looking at most at :data:`HINT_IDS` ids."""
        ids: Iterable[str] = self.known[about]
        if len(self.known[about]) > HINT_IDS:  # the ids nearest in order, and nearest read backwards
            if about not in self.orders:
                self.orders[about] = sorted(ids), sorted(one[::-1] for one in ids)
            forward, backward = self.orders[about]
            ids = set(_nearest(forward, value)) | {near[::-1] for near in _nearest(backward, value[::-1])}
        guess = difflib.get_close_matches(value, ids, n=1)
        return guess[0] if guess else None

    def _meaning(self, about: str, record_id: str, spelling: list[str]) -> str:
        """The hint that ``record_id`` is meant, saying which of its names the unknown id spells."""
        wanted = set(spelling)
        for field, text in self.names.get(about, {}).get(record_id, ()):
            if wanted <= set(words(text)):
                if field == "file":
                    return f"; {text} is the seed file of source {record_id!r}: did you mean {record_id!r}?"
                return f"; did you mean {record_id!r} ({_NAMED_AS.get(field, field)} {text!r})?"
        return f"; did you mean {record_id!r}?"


def with_hints(problems: list[Problem], wanted: dict[Problem, tuple[str, str, str]], known: dict[str, set[str]],
               text_of: Callable[[str], str | None], names: Names) -> list[Problem]:
    """``problems`` (as reported, in order) with a hint for the first :data:`MAX_HINTS` that one may help
    (``wanted``: problem -> what it is about, see :attr:`.problems.Issue.hint`; ``known``: collection -> its ids;
    ``names``: what else names the records of the collections that unknown ids were given for)."""
    hinted, told, hinter = [], 0, _Hinter(known, text_of, names)
    for problem in problems:
        about = wanted.get(problem)
        if about is not None and told < MAX_HINTS:
            told += 1
            problem = dataclasses.replace(problem, message=problem.message + hinter.hint(*about))
        hinted.append(problem)
    return hinted
