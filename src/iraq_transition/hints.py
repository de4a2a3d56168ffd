"""Hints added to problems: the closest passage of a quote not found, the id an unknown one may mean.

What a run spends on hints is bounded (:data:`MAX_HINTS` a run, each looking at a bounded part of the data), and
does not depend on the cache: hints go to the first problems they may help, in the order problems are reported.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
from collections.abc import Callable, Iterable

from .problems import Problem
from .spans import closest_passage

MAX_HINTS = 20
"""Hints (a quote's closest passage, the id an unknown one may mean) given per run."""
HINT_IDS = 1000
"""Ids compared, at most, with an unknown one: the :data:`HINT_IDS` / 2 nearest in sorted order, and as many in the
order of the ids read backwards (so that a slip at the start or at the end of an id is caught)."""
HINT_ID_CHARS = 200
"""Longest unknown id for which a known one is suggested."""


def _nearest(order: list[str], key: str) -> list[str]:
    """The :data:`HINT_IDS` // 2 items of sorted ``order`` around where ``key`` would be."""
    at = bisect.bisect_left(order, key)
    return order[max(0, at - HINT_IDS // 4): at + HINT_IDS // 4]


def with_hints(problems: list[Problem], wanted: dict[Problem, tuple[str, str, str]],
               known: dict[str, set[str]], text_of: Callable[[str], str | None]) -> list[Problem]:
    """``problems`` (as reported, in order) with a hint for the first :data:`MAX_HINTS` that one may help
    (``wanted``: problem -> what it is about, see :attr:`.problems.Issue.hint`)."""
    hinted, told, orders = [], 0, {}
    for problem in problems:
        about = wanted.get(problem)
        if about is not None and told < MAX_HINTS:
            told += 1
            problem = dataclasses.replace(problem, message=problem.message + _hint(*about, known, text_of, orders))
        hinted.append(problem)
    return hinted


def _hint(kind: str, about: str, value: str, known: dict[str, set[str]], text_of: Callable[[str], str | None],
          orders: dict[str, tuple[list[str], list[str]]]) -> str:
    """The closest passage of a quote not found in source ``about``, or the id of collection ``about`` closest to an
    unknown one (looking at most at :data:`HINT_IDS` ids; ``orders`` keeps each collection's ids sorted)."""
    if kind == "passage":
        passage = closest_passage(text_of(about), value)
        return f"; closest passage: {passage!r}" if passage else "; nothing similar found"
    if len(value) > HINT_ID_CHARS:
        return ""
    ids: Iterable[str] = known[about]
    if len(known[about]) > HINT_IDS:  # the ids nearest in order, and nearest read backwards
        if about not in orders:
            orders[about] = sorted(ids), sorted(one[::-1] for one in ids)
        forward, backward = orders[about]
        ids = set(_nearest(forward, value)) | {near[::-1] for near in _nearest(backward, value[::-1])}
    guess = difflib.get_close_matches(value, ids, n=1)
    return f"; did you mean {guess[0]!r}?" if guess else ""
