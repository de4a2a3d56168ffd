"""The checks that span records, as pure functions of what they are given: references, citations (and the values
checked against their spans' words), ids, cycles, duplicate quotes.

Each returns issues (not yet located) by file; :mod:`.engine` decides which files to give them and locates the
issues. The seeds' checks are in :mod:`.seedcheck`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .load import RECORD_SUFFIX, RecordFile
from .problems import Issue
from .provenance import Words, date_issues, speaker_issues, wording_issues
from .spans import _span_matches, normalise, sentence_around
from .summary import Repeat, Summary

Span = tuple[int, int]
NAMED = 3
"""Other records named, at most, in one message (then how many more)."""
LOOKED_AT = 100
"""Quotes with the same words looked at, at most, for one that is not linked to a quote with ``variant_of``."""


def reference_issues(file: RecordFile, summary: Summary, known: dict[str, set[str]]) -> list[Issue]:
    """A file's references that point at itself or at no record (``known``: collection -> the ids there are)."""
    issues = []
    for loc, collection, target in summary.references:
        if collection == file.collection and target == file.stem:
            issues.append(Issue(loc, "refers to this record itself: point it at another record or remove it",
                                code="self-reference"))
        elif target not in known[collection]:
            issues.append(Issue(loc, f"unknown {collection} id {target!r}: there is no data/{collection}/{target}.yaml",
                                hint=("id", collection, target), code="unknown-reference"))
    return issues


def citation_issues(summary: Summary, text_of: Callable[[str], str | None],
                    published_of: Callable[[str], tuple[int, ...] | None]) -> tuple[list[Issue], list[Span | None]]:
    """The issues of a file's citations, and each citation's span (None: not found exactly once), looked up in the
    texts ``text_of`` gives (None: the source is unknown or its seed unusable, which is reported on its own);
    ``published_of`` gives the years a source may be published in (empty or None: unknown)."""
    issues, spans, found_spans = [], [], []
    for loc, source, quote, prefix, suffix in summary.citations:
        text = text_of(source)
        matches, occurrences = _span_matches(text, quote, prefix, suffix) if text is not None else ((), 0)
        spans.append(matches[0] if len(matches) == 1 else None)
        if text is None:
            continue
        if len(matches) == 1:
            found_spans.append(text[matches[0][0]: matches[0][1]])
        elif occurrences == 0:
            issues.append(Issue(loc + ("quote",), f"quote not found in the text of source {source!r} "
                                "(ignoring only whitespace, Unicode form and typographic quotes): "
                                "copy the span verbatim from the seed", hint=("passage", source, quote),
                                code="quote-not-found"))
        elif not matches:
            issues.append(Issue(loc + ("quote",), f"quote occurs {occurrences} times in source "
                                f"{source!r} but none with the given prefix/suffix: copy them verbatim "
                                "from the words just before/after the span", code="prefix-mismatch"))
        else:
            issues.append(Issue(loc + ("quote",), f"quote occurs {len(matches)} times in source "
                                f"{source!r}: add a prefix or suffix (the words just before or after it) "
                                "to pick one", code="quote-ambiguous"))
    wording, supporting = summary.wording
    if wording is not None:
        issues += wording_issues(wording, [(index, text_of(summary.citations[index][1])[span[0]: span[1]])
                                           for index in supporting if (span := spans[index]) is not None])
    issues += _sentence_issues(summary, text_of, published_of, spans)
    if found_spans and summary.text is not None:
        wanted = normalise(summary.text)
        if not any(wanted in normalise(span) for span in found_spans):
            issues.append(Issue(("text",), "the quoted text is not inside any of the record's citation "
                                "spans: cite the span that contains these words, or correct the text",
                                code="text-outside-spans"))
    return issues, spans


def _sentence_issues(summary: Summary, text_of: Callable[[str], str | None],
                     published_of: Callable[[str], tuple[int, ...] | None], spans: list[Span | None]) -> list[Issue]:
    """The issues of a quote's speaker_as_described and of the dates of a record, against the words (span, and
    sentence around it) of the citations that support them (``spans``: of the citations in order): only once each
    such span is found (a span not found is reported on its own)."""
    located = {citation[0]: (citation[1], span) for citation, span in zip(summary.citations, spans) if span is not None}

    found: dict[tuple, Words] = {}

    def words(loc: tuple) -> Words:  # once per citation, its sentence once too: a citation may support many checks
        if loc not in found:
            source, (start, end) = located[loc]
            text = text_of(source)
            found[loc] = text[start: end], _Sentence(text, start, end)
        return found[loc]

    issues = []
    described, supporting = summary.speaker
    locs = [summary.citations[index][0] for index in supporting]
    if described is not None and all(loc in located for loc in locs):
        issues += speaker_issues(described, [(index, words(loc)) for index, loc in zip(supporting, locs)])
    for dated in summary.dates:
        issues += date_issues(dated, [(loc + ("supports", position), words(loc), located[loc][0],
                                       published_of(located[loc][0]) or ())
                                      for loc, position in dated[3] if loc in located])
    return issues


class _Sentence:
    """The sentence around the span ``start:end`` of ``text``, found when first asked for."""

    __slots__ = ("text", "start", "end", "sentence")

    def __init__(self, text: str, start: int, end: int):
        self.text, self.start, self.end, self.sentence = text, start, end, None

    def __call__(self) -> str:
        if self.sentence is None:
            self.sentence = self.text[slice(*sentence_around(self.text, self.start, self.end))]
        return self.sentence


def duplicate_ids(files: list[RecordFile], declared: dict[int, str | None], position: dict[str, int],
                  data_display: str) -> dict[int, list[Issue]]:
    """Files declaring the same id, each told of the others (``declared``: the files whose declared id is not their
    file name, with that id or None; ``position``: the index of each file by display path)."""
    by_id: dict[tuple[str, str], list[int]] = {}
    for index, record_id in declared.items():
        if record_id is not None:
            by_id.setdefault((files[index].collection, record_id), []).append(index)
    found: dict[int, list[Issue]] = {}
    for (collection, record_id), indexes in by_id.items():
        named = position.get(f"{data_display}/{collection}/{record_id}{RECORD_SUFFIX}")
        if named is not None and named not in declared:
            indexes.append(named)
        indexes.sort()
        for index in indexes:
            others = ", ".join(files[other].display for other in indexes if other != index)
            if others:
                found.setdefault(index, []).append(Issue(
                    ("id",), f"duplicate id {record_id!r}, also in {others}: ids must be unique", code="duplicate-id"))
    return found


def cycles(files: list[RecordFile], held: dict[int, tuple[tuple[str, str], ...]]) -> dict[int, list[Issue]]:
    """Chains of same-collection references held in a top-level field (variant_of, same_story_as, ...) that never
    end (``held``: the valid files with such references, in file order, and the references)."""
    links = {(files[index].collection, files[index].stem): dict(pairs) for index, pairs in held.items()}
    found: dict[int, list[Issue]] = {}
    for index, pairs in held.items():
        collection, record_id = files[index].collection, files[index].stem
        for name, target in pairs:
            for issue in _cycle(links, collection, record_id, name, target):
                found.setdefault(index, []).append(issue)
    return found


def _cycle(links: dict, collection: str, record_id: str, name: str, target: str | None) -> Iterator[Issue]:
    chain = [record_id]
    while target is not None and (collection, target) in links:
        if target == record_id and len(chain) > 1:
            yield Issue((name,), f"{name} forms a cycle ({' -> '.join(chain + [target])}): point every record at "
                        "one that has none", code="reference-cycle")
            return
        if target in chain:
            return  # a cycle that does not pass through this record, or a self-reference
        chain.append(target)
        target = links[(collection, target)].get(name)


def duplicate_quotes(files: list[RecordFile], repeats: dict[int, Repeat], links: dict[int, list[tuple[str, str]]]
                     ) -> tuple[dict[int, list[Issue]], dict[int, list[Issue]]]:
    """Quotes with the same words by the same speaker (``repeats``: each valid quote's words, speaker and sources;
    ``links``: the valid files' references to their own collection): from the same source, an error on each, naming
    the others; else, from another source and not linked with ``variant_of``, a hint (the second dictionary) to
    link them. Grouped by the words' digest and speaker: the cost is that of the quotes, never of their pairs."""
    by_words: dict[tuple[bytes, str], list[int]] = {}
    for index, repeat in repeats.items():
        by_words.setdefault(repeat[:2], []).append(index)
    errors: dict[int, list[Issue]] = {}
    hints: dict[int, list[Issue]] = {}
    remark = _remarks(files, repeats, links)
    for members in (sorted(members) for members in by_words.values() if len(members) > 1):
        told: dict[str, list[int]] = {}  # source -> the quotes from it
        for index in members:
            for source in repeats[index][2]:
                told.setdefault(source, []).append(index)
        for index in members:
            sources = repeats[index][2]
            same = next(((source, told[source]) for source in sources if len(told[source]) > 1), None)
            if same is not None:
                source, quotes = same
                others = _named(files, [other for other in quotes[:NAMED + 1] if other != index], len(quotes) - 1)
                errors[index] = [Issue(("text",), f"the same words, speaker and source ({source!r}) as {others}: a "
                                       "remark is recorded once for each source that prints it: remove one of them",
                                       code="duplicate-quote")]
                continue
            other = next((other for other in members[:LOOKED_AT]
                          if remark(other) != remark(index) and set(sources).isdisjoint(repeats[other][2])), None)
            if other is not None:
                hints[index] = [Issue(("text",), f"the same words by the same speaker as {files[other].display}, "
                                      "from another source: if they are one remark, give one variant_of naming the "
                                      f"other (here: variant_of: {files[other].stem})", code="unlinked-variant")]
    return errors, hints


def _named(files: list[RecordFile], indexes: list[int], count: int) -> str:
    """The display paths of the first :data:`NAMED` of ``count`` files (``indexes``: at least those), and how many
    more."""
    named = ", ".join(files[index].display for index in indexes[:NAMED])
    return named + (f" and {count - NAMED} more" if count > NAMED else "")


def _remarks(files: list[RecordFile], repeats: dict[int, Repeat], links: dict[int, list[tuple[str, str]]]
             ) -> Callable[[int], int]:
    """Which remark each valid quote (``repeats``) is: those linked by ``variant_of`` chains (either way) are one
    (union-find, made when first asked)."""
    parent: dict[int, int] = {}

    def root(index: int) -> int:
        while parent.get(index, index) != index:
            parent[index] = parent.get(parent[index], parent[index])  # halve the path
            index = parent[index]
        return index

    def remark(index: int) -> int:
        if not parent:
            quotes = {files[quote].stem: quote for quote in repeats}
            parent.update((quote, quote) for quote in repeats)
            for linked in repeats:
                for name, target in links.get(linked, ()):
                    if name == "variant_of" and (other := quotes.get(target)) is not None:
                        parent[root(linked)] = root(other)
        return root(index)

    return remark
