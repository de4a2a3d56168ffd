"""Pages of records and sources that cite a long seed thousands of times answer at once, whole: a real server on
a real build, each page within a request timeout (its old cost grew with the citations times the seed's length,
or with the cited spans squared)."""

from __future__ import annotations

import hashlib
import html
import json
import re
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from iraq_transition import record_page, serve
from iraq_transition.fmt import format_record
from iraq_transition.seeds import seed_name

from conftest import copy_repository, run_cli, start_server, wait_for

DB = serve.DATABASE
WORDS = [f"w{index:06d}" for index in range(120_000)]
"""The long seed: 960 KB of words, no sentence end, no line break."""
CITED = 10_000
"""Single words of the end of the seed that one actor cites, each a span of its own."""
OVERLAPPING = 1_000
"""Spans of 20 words, each starting one word after the last, that another actor cites: up to 20 deep."""
SOURCE, MANY, DEEP = "long-seed", "many-citations", "overlapping-citations"
TIMEOUT = 20
"""Seconds a page may take: generous, far below what the old code took (minutes for these pages)."""


def actor(record_id: str, quotes: list[str]) -> str:
    return format_record("actors", {"id": record_id, "name": record_id, "kind": "state",
                                    "citations": [{"source": SOURCE, "quote": quote, "supports": ["name"]} for quote in quotes]})


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The repository's records and a long seed cited by two actors, served; yields (base URL, seed text)."""
    root = copy_repository(tmp_path_factory.mktemp("hostile"))
    text = " ".join(WORDS)
    data = text.encode()
    name = seed_name(root / "seeds", data)
    (root / "seeds" / name).write_bytes(data)
    (root / "data/sources" / f"{SOURCE}.yaml").write_text(format_record("sources", {
        "id": SOURCE, "file": name, "sha256": hashlib.sha256(data).hexdigest(), "language": "en"}), encoding="utf-8")
    (root / "data/actors" / f"{MANY}.yaml").write_text(actor(MANY, WORDS[-CITED:]), encoding="utf-8")
    overlapping = [" ".join(WORDS[50_000 + index:50_000 + index + 20]) for index in range(OVERLAPPING)]
    (root / "data/actors" / f"{DEEP}.yaml").write_text(actor(DEEP, overlapping), encoding="utf-8")
    result = run_cli("--root", root, "validate")
    assert result.code == 0, result.out + result.err
    process, base = start_server(root)  # builds first
    try:
        wait_for(base + "/", process)
        yield base, text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # still making a page
            process.kill()
            _, err = process.communicate()
        assert "Traceback" not in err


def page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        assert response.status == 200
        return response.read().decode()


def test_a_record_citing_a_long_seed_thousands_of_times_shows_its_first_citations_and_links_the_rest(hostile):
    base, text = hostile
    shown = page(f"{base}/{DB}/actors/{MANY}")
    assert len(re.findall(r'<li id="citation-\d+">', shown)) == record_page.MAX_CITATIONS
    assert f"Citations ({CITED:,})" in shown
    table = f"/{DB}/record_citations?" + urllib.parse.urlencode({"record_type": "actors", "record_id": MANY})
    more = re.search(r'<a class="more-citations" href="([^"]+)">([\d,]+) more</a>', shown)
    assert (html.unescape(more.group(1)), more.group(2)) == (table, f"{CITED - record_page.MAX_CITATIONS:,}")
    rows = json.loads(page(base + table.replace("?", ".json?", 1) + "&_shape=array&_size=max"))
    assert len(rows) == 1000  # the site's most rows a page: the query holds them all
    # the context of a span far from any sentence start: the words before it, cut
    first = WORDS[-CITED]
    before = re.search(r'<span class="context">([^<]*)</span><mark class="quote">' + first + "</mark>", shown).group(1)
    assert before == "…" + text[:text.index(first)][-record_page.MAX_CONTEXT:]


def test_a_source_cited_at_thousands_of_spans_highlights_every_one_and_lists_the_first(hostile):
    base, text = hostile
    shown = page(f"{base}/{DB}/sources/{SOURCE}")
    anchors = re.findall(r'<a class="span-start" id="span-(\d+)-(\d+)" href="([^"]+)">(\d+)</a>', shown)
    spans = CITED + OVERLAPPING
    assert len(anchors) == spans and [int(a[3]) for a in anchors] == list(range(1, spans + 1))
    assert len(re.findall(r'<li id="passage-\d+"', shown)) == record_page.MAX_PASSAGES
    assert f"Cited passages ({spans:,})" in shown
    article = re.search(r'<div class="article">(.*?)</div>', shown, re.S).group(1)
    assert html.unescape(re.sub(r'<a class="span-start"[^>]*>\d+</a>|<[^>]+>', "", article)) == text
    marks = re.findall(r'<mark class="cited depth-(\d)" data-from="\d+" data-to="\d+">', article)
    assert len(marks) < 2 * spans and set(marks) == {"1", "2", "3"}  # one mark a piece between span ends
    # a span past those listed leads to its row of the source's passages as a table
    start, end, href, _ = anchors[-1]
    assert html.unescape(href) == f"/{DB}/source_statements?" + urllib.parse.urlencode(
        {"source_id": SOURCE, "start_offset": start, "end_offset": end})
    [row] = json.loads(page(base + html.unescape(href).replace("?", ".json?", 1) + "&_shape=array"))
    assert (row["record_id"], row["quote"]) == (MANY, text[int(start):int(end)])
    more = re.search(r'<a class="more-passages" href="([^"]+)">([\d,]+) more</a>', shown)
    assert (html.unescape(more.group(1)), more.group(2)) == (
        f"/{DB}/source_statements?source_id={SOURCE}", f"{spans - record_page.MAX_PASSAGES:,}")


def test_the_search_across_all_tables_shows_a_few_words_of_a_long_seed_not_the_seed(hostile):
    base, text = hostile
    word = WORDS[60_000]
    shown = page(f"{base}/-/find?q={word}")
    section = re.search(r'<section class="find-table" id="find-sources">(.*?)</section>', shown, re.S).group(1)
    [(href, label, snippet)] = re.findall(r'<a class="hit" href="([^"]+)">([^<]*)</a><p class="snippet">(.*?)</p>', section)
    assert href == f"/{DB}/sources/{SOURCE}" and "(1 hit)" in section
    words = snippet.strip("…").replace(f"<mark>{word}</mark>", word).split()
    assert word in words and len(words) <= 12 and " ".join(words) in text
    assert len(shown) < 20_000  # the page holds a few words of the 960 KB text
