"""Citation spans: finding a citation's words in its source's text, and the closest passage when they are not there.

A quote matches its source when the two agree after Unicode compatibility decomposition (NFKD),
typographic quotes made plain and whitespace runs made one space; offsets are always those of the
original text. Every function here is pure and bounded in cost whatever the text and quote.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from array import array
from dataclasses import dataclass

from .models import Citation


_TYPOGRAPHIC = str.maketrans({c: "'" for c in "\u2018\u2019\u201a\u201b"} | {c: '"' for c in "\u201c\u201d\u201e\u201f"})


_PLAIN_QUOTES = {chr(code): plain for code, plain in _TYPOGRAPHIC.items()}
_ONE_FOR_ONE = {c: " " for c in map(chr, range(0x80)) if c.isspace() and c != " "} | {"\xa0": " "} | _PLAIN_QUOTES
"""Characters that normalise to exactly one character: replaced up front (str.replace is fast), offsets unchanged."""
_IRREGULAR = re.compile("[\x80-\U0010ffff]+|  +")
"""What is left for :func:`normalise_mapped` to look at: runs of spaces, and other non-ASCII characters."""


@dataclass(frozen=True)
class Normalised:
    """A text as :func:`normalise_mapped` makes it, and where each of its characters comes from.

    The mapping is kept as runs: the run starting at ``starts[r]`` comes from the original
    offset ``origins[r]`` and advances with it (``steps[r]`` 1) or stays there (0: a collapsed
    space, or the pieces of one decomposed character).
    """

    text: str
    starts: array
    origins: array
    steps: bytes

    def offset(self, index: int) -> int:
        """Offset in the original text of the character at ``index`` of :attr:`text`."""
        run = bisect.bisect_right(self.starts, index) - 1
        return self.origins[run] + (index - self.starts[run]) * self.steps[run]


def normalise_mapped(text: str) -> Normalised:
    """``text`` with each character compatibility-decomposed (NFKD), typographic quotes made plain and whitespace
    runs made one space, mapped back to the original offsets. ASCII stretches are copied whole: only the
    irregular parts (:data:`_IRREGULAR`) are looked at character by character."""
    out: list[str] = []
    starts, origins, steps = array("q"), array("q"), bytearray()
    length = 0
    in_space = False

    def add(piece: str, origin: int, step: int) -> None:
        nonlocal length
        out.append(piece)
        starts.append(length)
        origins.append(origin)
        steps.append(step)
        length += len(piece)

    original = text
    for char, plain in _ONE_FOR_ONE.items():
        if char in text:
            text = text.replace(char, plain)
    position = 0
    for match in _IRREGULAR.finditer(text):
        if match.start() > position:  # plain ASCII with single spaces
            if in_space and text[position] == " ":
                position += 1
            if match.start() > position:
                add(text[position: match.start()], position, 1)
                in_space = text[match.start() - 1] == " "
        if text[match.start()] == " ":
            if not in_space:
                add(" ", match.start(), 0)
                in_space = True
        else:
            for origin, char in enumerate(original[match.start(): match.end()], match.start()):
                pieces = []
                for piece in unicodedata.normalize("NFKD", char).translate(_TYPOGRAPHIC):
                    if piece.isspace():
                        if in_space:
                            continue
                        piece, in_space = " ", True
                    else:
                        in_space = False
                    pieces.append(piece)
                if pieces:
                    add("".join(pieces), origin, 0)
        position = match.end()
    if position < len(text):
        if in_space and text[position] == " ":
            position += 1
        if position < len(text):
            add(text[position:], position, 1)
    return Normalised("".join(out), starts, origins, bytes(steps))


def normalise(text: str) -> str:
    """``text`` as :func:`normalise_mapped` makes it, stripped, without offsets (faster)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        for char, plain in _PLAIN_QUOTES.items():
            if char in text:
                text = text.replace(char, plain)
    return " ".join(text.split())


@functools.cache
def _normalised_source(text: str) -> Normalised:
    """Each source is normalised once per process: every citation of it is looked up in the result."""
    return normalise_mapped(text)


def span_matches(text: str, citation: Citation) -> tuple[tuple[tuple[int, int], ...], int]:
    """Spans of ``text`` (original offsets) matching the citation after prefix/suffix filtering,
    and how many occurrences there were before filtering."""
    return _span_matches(text, citation.quote, citation.prefix, citation.suffix)


@functools.cache
def _span_matches(text: str, quote: str, prefix: str | None, suffix: str | None) -> tuple[tuple[tuple[int, int], ...], int]:
    """:func:`span_matches`, remembered: building the database looks up the spans validation found."""
    normalised = _normalised_source(text)
    source = normalised.text
    quote = normalise(quote)
    if not quote:
        return (), 0
    starts = []
    at = source.find(quote)
    while at != -1:
        starts.append(at)
        at = source.find(quote, at + 1)
    prefix = normalise(prefix or "")
    suffix = normalise(suffix or "")
    kept = []
    for start in starts:
        before = start - (source[start - 1: start] == " ")  # the normalised text has single spaces only
        after = start + len(quote)
        after += source[after: after + 1] == " "
        if source.endswith(prefix, 0, before) and source.startswith(suffix, after):
            kept.append((normalised.offset(start), normalised.offset(start + len(quote) - 1) + 1))
    return tuple(kept), len(starts)


def find_span(text: str, citation: Citation) -> tuple[int, int] | None:
    """Start and end offsets of the citation's span in ``text``; None when absent or ambiguous."""
    spans, _ = span_matches(text, citation)
    return spans[0] if len(spans) == 1 else None


SENTENCE_REACH = 1000
"""Characters looked at, at most, before and after a span for the ends of the sentence around it."""
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*(?=\s)|\r?\n[ \t]*(?=\r?\n)|\u2029")
"""Where a sentence may end: its closing punctuation (with the quotation marks or brackets that close with it) before
a space, or a blank line (LF or CRLF) or paragraph separator (a single line break may be a wrapped line)."""
ABBREVIATIONS = frozenset(
    "Mr Mrs Ms Dr Prof Gen Lt Col Maj Capt Sgt Adm Sen Rep Gov Pres St Jr Sr No "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split())
"""Words whose period ends no sentence ("Gen. Smith", "Sept. 27"), besides single letters ("U.S.", "J. Smith")."""
_WORD_BEFORE = re.compile(r"(?<!\w)\w+\Z")


def _ends_sentence(text: str, end: re.Match) -> bool:
    """Whether a :data:`_SENTENCE_END` ends a sentence: not the period of an abbreviation, nor inside a quotation
    (the words quoted and who said them are one sentence: "“Not a withdrawal. A transition,” she said.")."""
    if end.group()[0] in "\r\n\u2029":
        return True
    if end.group().startswith("."):
        word = _WORD_BEFORE.search(text, max(0, end.start() - 8), end.start())
        if word and ((len(word.group()) == 1 and word.group().isalpha()) or word.group() in ABBREVIATIONS):
            return False
    low = max(0, end.start() - SENTENCE_REACH)
    line = max(low, text.rfind("\n", low, end.start()) + 1)
    opened = text.count("\u201c", line, end.end()) > text.count("\u201d", line, end.end())
    return not opened and text.count('"', line, end.end()) % 2 == 0


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the sentence (or sentences) of ``text`` that the span from ``start`` to ``end`` lies in: from the
    end of the sentence before it to the end of the last one it touches, at most :data:`SENTENCE_REACH` characters
    either side."""
    low, high = max(0, start - SENTENCE_REACH), min(len(text), end + SENTENCE_REACH)
    before = list(_SENTENCE_END.finditer(text, low, start))
    first = next((found.end() for found in reversed(before) if _ends_sentence(text, found)), low)
    last = next((found.end() for found in _SENTENCE_END.finditer(text, max(start, end - 4), high)
                 if found.end() >= end and _ends_sentence(text, found)), high)
    return first, last


HINT_QUOTE = 2000
"""Characters of a quote (normalised) that are compared with the text when looking for its closest passage."""
ANCHOR = 8
"""Characters of an anchor: a piece of the quote looked for, as it is, in the text."""
ANCHORS = 32
"""Anchors taken from a quote, spread over it; each is one search of the text."""
ANCHOR_HITS = 16
"""Occurrences of an anchor beyond which it says nothing about where the quote is (the search stops there)."""
SLACK = 32
"""How far apart the alignments of anchors (offset in the text minus offset in the quote) may be and still agree:
characters the quote adds or leaves out between them."""
PASSAGE = 300
"""Longest passage told, in characters."""
WORD = 40
"""How far a passage is widened, at most, to start and end with whole words."""


def closest_passage(text: str, quote: str) -> str | None:
    """The passage of ``text`` most like ``quote`` (whitespace collapsed), to help fix a citation; None if none is.

    Anchors (pieces of the quote) are found in the text; the place where most of them agree is the passage. The
    cost is bounded whatever the text and quote: :data:`ANCHORS` searches, each stopping after
    :data:`ANCHOR_HITS` occurrences, then a few hundred characters looked at.
    """
    normalised = _normalised_source(text)
    source = normalised.text
    wanted = normalise(quote)[:HINT_QUOTE]
    size = min(ANCHOR, len(wanted))
    if size < 4 or len(source) < size:
        return None
    hits = []  # (alignment, offset of the anchor in the quote)
    last = len(wanted) - size
    for at in sorted({last * k // (ANCHORS - 1) for k in range(ANCHORS)}):
        anchor, found = wanted[at: at + size], []
        position = source.find(anchor)
        while position != -1 and len(found) <= ANCHOR_HITS:
            found.append(position)
            position = source.find(anchor, position + 1)
        if len(found) <= ANCHOR_HITS:
            hits.extend((position - at, at) for position in found)
    if not hits:
        return None
    hits.sort()
    best, count, low = 0, 0, 0
    for high in range(len(hits)):  # the most hits whose alignments are within SLACK of one another
        while hits[high][0] - hits[low][0] > SLACK:
            low += 1
        if high - low + 1 > count:
            best, count = low, high - low + 1
    start = max(0, min(hits[best: best + count], key=lambda hit: hit[1])[0])  # as the anchor nearest the start says
    end = min(len(source), start + min(len(wanted), 2 * PASSAGE))
    space = source.rfind(" ", max(0, start - WORD), start)  # widen to whole words
    start = space + 1 if space != -1 else 0 if start <= WORD else start
    space = source.find(" ", end, end + WORD)
    end = space if space != -1 else len(source) if end + WORD >= len(source) else end
    passage = " ".join(text[normalised.offset(start): normalised.offset(end - 1) + 1].split())
    return passage if len(passage) <= PASSAGE else passage[: PASSAGE - 3] + "..."
