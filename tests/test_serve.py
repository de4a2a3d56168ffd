"""Publishing with real Datasette: every page, CSV exports, search, citations, the metadata, a real server, the timeline."""

from __future__ import annotations

import asyncio
import html
import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from datasette.app import Datasette
from datasette.utils import to_css_class
from markupsafe import escape

from iraq_transition import build, pages, record_page, search_page, serve, site_config, site_metadata, site_plugin, timeline
from iraq_transition.load import Project
from iraq_transition.store import RACY_NS
from iraq_transition.models import COLLECTIONS, NOT_IN_TEXT, Event
from iraq_transition.validate import Dataset, validate_project

from conftest import REPO, copy_repository, free_port, run_cli, start_server, wait_for

DB = serve.DATABASE
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The repository's real records, built once per module by the real CLI; the build directory."""
    root = copy_repository(tmp_path_factory.mktemp("site"))
    time.sleep(RACY_NS / 1e9 + 0.1)  # else the build is stale at once, and the first serve below replaces it under ds
    result = run_cli("--root", root, "build")
    assert result.code == 0, result.err
    assert not serve.is_stale(Project(root))
    return root / "build"


@pytest.fixture(scope="module")
def ds(site: Path):
    """Datasette on the build, configured exactly as ``iraq-transition serve`` configures it."""
    return serve.datasette(site)


@pytest.fixture(scope="module")
def db(site: Path):
    connection = sqlite3.connect(serve.database_path(site))
    yield connection
    connection.close()


def get(ds, path: str):
    """One request to the in-process Datasette."""
    return asyncio.run(ds.client.get(path))


def get_json(ds, path: str):
    response = get(ds, path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


def names(db, kind: str) -> list[str]:
    return [name for (name,) in db.execute("select name from sqlite_master where type = ? order by name", (kind,))]


def quote_path(*parts: str) -> str:
    return "/" + "/".join(urllib.parse.quote(part, safe="") for part in parts)


# --------------------------------------------------------------------------- in-process Datasette


def test_every_table_view_query_and_record_page_answers(ds, db, site):
    queries = json.loads((site / build.METADATA).read_text())["databases"][DB]["queries"]
    paths = ["/", quote_path(DB)]
    paths += [quote_path(DB, name) for name in names(db, "table") + names(db, "view") + list(queries)]
    paths += [quote_path(DB, name) + ".json" for name in names(db, "table") + names(db, "view")]
    for collection in COLLECTIONS:
        (first,) = db.execute(f"select id from {collection} order by id limit 1").fetchone()
        paths.append(quote_path(DB, collection, first))
    assert len(queries) >= 5
    failures = [(path, status) for path in paths if (status := get(ds, path).status_code) != 200]
    assert failures == []


def test_csv_export_holds_the_rows_of_the_build_csv(ds, site):
    files = sorted((site / build.CSV_DIR).glob("*.csv"))
    tables = {table.name: table for table in build.csv_tables()}
    assert {file.stem for file in files} == set(tables)
    for file in files:
        response = get(ds, quote_path(DB, file.stem) + ".csv?_stream=on")
        assert response.status_code == 200, file.stem
        exported = list(csv.reader(io.StringIO(response.text)))
        booleans = [n for n, column in enumerate(tables[file.stem].columns) if column.type == "boolean"]
        for row in exported[1:]:  # Datasette writes SQLite's 0 and 1; the build, what the data package declares
            for n in booleans:
                row[n] = {"0": "false", "1": "true"}.get(row[n], row[n])
        built = list(csv.reader(io.StringIO(file.read_text(encoding="utf-8"))))
        assert exported[0] == built[0], f"{file.stem}: columns differ"  # tables have explicit keys: no rowid column
        # Datasette orders by primary key, the build CSV by collection then key: compare as sets of rows.
        assert sorted(exported[1:]) == sorted(built[1:]), f"{file.stem}: rows differ"
        assert len(built) > 1 or file.stem not in COLLECTIONS, f"{file.stem}: no records built"


def test_each_table_page_links_its_csv_file_as_the_build_wrote_it(ds, site):
    """A table page's own CSV link is Datasette's export of the page (booleans as 0 and 1, the page's order); the
    file of the data package is served too, byte for byte, and linked from the table's page."""
    for file in sorted((site / build.CSV_DIR).glob("*.csv")):
        response = get(ds, f"/-/csv/{file.stem}.csv")
        assert response.status_code == 200 and response.content == file.read_bytes(), file.stem
        assert response.headers["content-type"].startswith("text/csv"), file.stem
        assert f'href="/-/csv/{file.stem}.csv"' in get(ds, quote_path(DB, file.stem)).text, file.stem
    for name in ("nothing", "events_fts", "sqlite_master"):
        assert get(ds, f"/-/csv/{name}.csv").status_code == 404, name
    assert get(ds, "/-/csv/..%2Fmetadata.csv").status_code != 200  # no name but a table's is ever read


def test_a_site_without_the_csv_files_links_none(site, tmp_path):
    """A site published with the database alone (the README's publish command) has no files to link: its table
    pages say nothing of them, and their addresses are a 404."""
    alone = tmp_path / "build"
    shutil.copytree(site, alone, ignore=shutil.ignore_patterns(build.CSV_DIR))
    ds = serve.datasette(alone)
    assert get(ds, quote_path(DB, "events")).status_code == 200
    assert "/-/csv/" not in get(ds, quote_path(DB, "events")).text
    assert get(ds, "/-/csv/events.csv").status_code == 404


def test_full_text_search_finds_a_known_quote(ds, db):
    phrase = "never quite out"
    expected = [id_ for (id_,) in db.execute("select id from quotes where text like ? order by id", (f"%{phrase}%",))]
    assert expected, "the records should hold the quote 'never quite out'"
    rows = get_json(ds, f"/{DB}/quotes.json?_search={urllib.parse.quote(phrase)}&_shape=array")
    assert [row["id"] for row in rows] == expected
    page = get(ds, f"/{DB}/quotes?_search={urllib.parse.quote(phrase)}")
    assert phrase in page.text


def test_full_text_tables_are_hidden_and_detected(ds, db):
    tables = {t["name"]: t for t in get_json(ds, f"/{DB}.json")["tables"]}
    fts = [name for name in names(db, "table") if "_fts" in name]
    assert fts and all(tables[name]["hidden"] for name in fts)
    for table in site_config.FULL_TEXT:
        assert tables[table]["fts_table"] == f"{table}_fts" and not tables[table]["hidden"]


def test_every_collection_the_site_configures_is_searchable(ds, db):
    for table, columns in site_config.FULL_TEXT.items():
        (record_id, value) = db.execute(f"select id, {columns[0]} from {table} order by id limit 1").fetchone()
        word = max((w.strip(".,;:“”\"'’()") for w in value.split()), key=len)
        rows = get_json(ds, f"/{DB}/{table}.json?_search={urllib.parse.quote(word)}&_shape=array&_size=max")
        assert record_id in [row["id"] for row in rows], (table, word)


# --------------------------------------------------------------------------- the search across all tables


FIND_HIT = re.compile(r'<li><a class="hit" href="([^"]*)">([^<]*)</a><p class="snippet">(.*?)</p></li>', re.S)


def find_sections(page: str) -> dict[str, str]:
    """The page's section of each table with hits, by table."""
    return dict(re.findall(r'<section class="find-table" id="find-(\w+)">(.*?)</section>', page, re.S))


def expected_hits(db, table: str, match: str) -> tuple[int, list[tuple[str, str]]]:
    """How many records of ``table`` the FTS5 query ``match`` finds, and the first ten (id, label), best first."""
    label = site_metadata.label_column(table)
    (count,) = db.execute(f"select count(*) from {table}_fts where {table}_fts match ?", (match,)).fetchone()
    first = db.execute(f"select t.id, t.{label} from {table}_fts join {table} t on t.rowid = {table}_fts.rowid "
                       f"where {table}_fts match ? order by rank limit 10", (match,)).fetchall()
    return count, first


def test_the_header_search_leads_to_the_find_page(ds):
    for path in ("/", f"/{DB}/events", f"/{DB}/quotes/singh-us-not-withdrawing-from-iraq", site_config.CODEBOOK_URL):
        assert '<form class="site-search" action="/-/find"' in get(ds, path).text, path


def test_find_page_links_each_hit_to_its_record_page_with_its_label(ds, db):
    page = get(ds, "/-/find?q=withdrawal")
    assert page.status_code == 200
    sections = find_sections(page.text)
    for table in site_config.FULL_TEXT:
        count, first = expected_hits(db, table, '"withdrawal"')
        if not count:
            assert table not in sections and re.search(rf'<p class="find-none">No hits in [^<]*\b{table}\b', page.text)
            continue
        section = sections[table]
        hits = FIND_HIT.findall(section)
        assert [(href, html.unescape(label)) for href, label, _ in hits] == [
            (pages.row_url(f"/{DB}", table, record_id), label) for record_id, label in first], table
        assert f"({count:,} {'hit' if count == 1 else 'hits'})" in section
        search = f"/{DB}/{table}?_search=withdrawal"
        more = re.search(r'<a class="more-hits" href="([^"]*)">([\d,]+) more in (\w+)</a>', section)
        assert (more and (html.unescape(more[1]), more[2], more[3])) == ((search, f"{count - 10:,}", table) if count > 10 else None)
        assert f'<a href="{search}">{table}</a>' in section
        rows = get_json(ds, f"/{DB}/{table}.json?_search=withdrawal&_shape=array&_size=max")
        assert len(rows) == count, table  # the table's own search finds the same records
    assert len(sections) >= 3 and any(len(FIND_HIT.findall(s)) == 10 for s in sections.values())
    linked = [html.unescape(href) for href, *_ in FIND_HIT.findall(page.text)]
    assert all(get(ds, href).status_code == 200 for href in linked)


def test_find_page_shows_a_short_snippet_of_each_hit_with_the_match_marked_never_a_whole_text(ds, db):
    page = get(ds, "/-/find?q=withdrawal").text
    snippets = [snippet for _, _, snippet in FIND_HIT.findall(page)]
    assert len(snippets) > 10
    for snippet in snippets:
        marked = re.findall(r"<mark>([^<]*)</mark>", snippet)
        assert marked and all(word.lower().startswith("withdraw") for word in marked), snippet
        words = html.unescape(re.sub(r"</?mark>", "", snippet)).strip("…").split()
        assert len(words) <= search_page.SNIPPET_TOKENS + 2 and "<" not in re.sub(r"</?mark>", "", snippet), snippet
    shown = html.unescape(re.sub(r"<[^>]+>", "", page))  # a quote, its label, is up to 193 characters of a text
    for (text,) in db.execute("select text from sources"):
        assert not any(text[start:start + 300] in shown for start in range(0, len(text) - 300)), "a source's text whole"


def test_find_page_without_words_shows_just_the_form(ds):
    for path in ("/-/find", "/-/find?q=", "/-/find?q=+%20%22%22"):
        page = get(ds, path)
        assert page.status_code == 200, path
        assert '<form class="find" action="/-/find"' in page.text and 'name="q"' in page.text
        assert 'class="find-table"' not in page.text and 'class="find-note"' not in page.text, path
        assert site_config.LICENSE_URL in page.text and f'href="{site_config.CODEBOOK_URL}"' in page.text


HOSTILE_QUERIES = [
    '"', 'withdrawal"', '"withdrawal', 'withdrawal" OR "troops', "NEAR(withdrawal troops, 2)", "withdrawal AND",
    "AND OR NOT", "text:withdrawal", "{text title}: withdrawal", "*", "withdraw*", "-withdrawal", "^withdrawal",
    "withdrawal + troops", "(withdrawal", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
    "x" * 60_000, "withdrawal " * 1_000, "Ирак 伊拉克 العراق 🇮🇶 e\u0301", "\x00withdrawal\x02\x03\x1b[31m",
    "\u202ewithdrawal", "%", "withdrawal%00",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES, ids=lambda query: repr(query[:30]))
def test_find_page_answers_any_query_with_its_words_escaped(ds, db, query, capfd):
    page = get(ds, "/-/find?" + urllib.parse.urlencode({"q": query}))
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    search = search_page.search_terms(query)
    assert len(search.terms) <= search_page.MAX_TERMS and len(search.match) < 3 * search_page.MAX_CHARACTERS
    if search.terms:
        assert 'class="find-note"' in page.text
        for table, section in find_sections(page.text).items():
            count, first = expected_hits(db, table, search.match)
            assert [html.unescape(label) for _, label, _ in FIND_HIT.findall(section)] == [label for _, label in first]
    assert ("Only the first" in page.text) == search.cut
    assert "ERROR" not in capfd.readouterr().err  # no query Datasette logs as failed


def test_find_page_searches_words_not_fts_syntax(ds):
    assert search_page.search_terms('withdrawal" OR "troops').match == '"withdrawal" "OR" "troops"'
    assert search_page.search_terms("NEAR(a b)").terms == ("NEAR(a", "b)")
    assert search_page.search_terms("\x00a\x02b\u202ec").terms == ("a", "b", "c")
    assert search_page.search_terms("x" * 1_000).cut and search_page.search_terms("a " * 13).cut
    assert not search_page.search_terms("a " * 12).cut
    plain, quoted = (find_sections(get(ds, "/-/find?" + urllib.parse.urlencode({"q": q})).text)
                     for q in ("withdrawal troops", '"withdrawal troops'))
    assert plain == quoted and plain


def test_a_snippet_is_escaped_then_marked():
    mark, end = search_page.MARK, search_page.END_MARK
    assert search_page.snippet_html(f"<b>a</b> {mark}x&y{end} {mark}open") == "&lt;b&gt;a&lt;/b&gt; <mark>x&amp;y</mark> open"
    assert all(re.fullmatch(f"[{NOT_IN_TEXT}]", char) for char in (mark, end))  # no text of the data holds them


def redirect_target(ds, path: str) -> str:
    """Where ``path`` redirects to (a 302), as its Location header says."""
    response = get(ds, path)
    assert response.status_code == 302, path
    return response.headers["location"]


def test_the_former_search_address_leads_to_the_find_page_with_the_same_words(ds):
    assert redirect_target(ds, "/-/search?q=withdrawal") == "/-/find?q=withdrawal"
    assert redirect_target(ds, "/-/search?_search_tables=quotes&q=withdrawal+troops&x=1") == "/-/find?q=withdrawal+troops"
    for path in ("/-/search", "/-/search?q=", "/-/search?x=1"):
        assert redirect_target(ds, path) == "/-/find", path


@pytest.mark.parametrize(("query", "words"), [
    ("q=//evil.example", "//evil.example"), ("q=https://evil.example/", "https://evil.example/"),
    ("q=%0d%0aSet-Cookie:x", "\r\nSet-Cookie:x"), ("q=a%26b%3Dc%23d", "a&b=c#d"), ("q=" + "x" * 60_000, "x" * 60_000),
    ("q=%D0%98%D1%80%D0%B0%D0%BA+%F0%9F%87%AE%F0%9F%87%B6", "Ирак 🇮🇶"), ("q=%ff%00", "\ufffd\x00"),
], ids=lambda value: repr(value[:30]))
def test_the_former_search_address_never_leads_off_the_site(ds, query, words):
    response = get(ds, "/-/search?" + query)
    location = response.headers["location"]
    assert response.status_code == 302 and "set-cookie" not in response.headers
    assert location.isascii() and not re.search(r"[\s\x00-\x1f]", location)
    target = urllib.parse.urlsplit(location)
    assert (target.scheme, target.netloc, target.path, target.fragment) == ("", "", "/-/find", "")
    assert urllib.parse.parse_qs(target.query) == {"q": [words]}


def test_the_former_search_address_leads_under_the_sites_base_url(ds):
    under = Datasette(settings={"base_url": "/under/"})  # with the site's plugin, which ds registered
    assert redirect_target(under, "/-/search?q=//evil.example") == "/under/-/find?q=%2F%2Fevil.example"
    assert redirect_target(under, "/-/search") == "/under/-/find"


def test_the_site_has_one_search_across_all_tables_and_no_plugin_for_another(ds):
    plugins = {plugin["name"] for plugin in get_json(ds, "/-/plugins.json")}
    assert "datasette-search-all" not in plugins and {"iraq-transition", "datasette-cluster-map"} <= plugins
    shown = subprocess.run([sys.executable, "-m", "pip", "show", "datasette-search-all"], capture_output=True, text=True)
    assert shown.returncode == 1 and "not found: datasette-search-all" in shown.stderr  # pip's metadata of this venv
    for listing in ("pyproject.toml", "requirements.lock"):
        assert "datasette-search-all" not in (REPO / listing).read_text(encoding="utf-8"), listing


def test_source_page_leads_to_what_the_source_says(ds, db):
    (source_id,) = db.execute("select source_id from citations order by source_id limit 1").fetchone()
    page = get(ds, quote_path(DB, "sources", source_id))
    assert f"/{DB}/what_each_source_says?source={urllib.parse.quote(source_id)}" in page.text


@pytest.mark.parametrize("collection", [c for c in COLLECTIONS if c != "sources"])
def test_record_page_leads_to_its_citations(ds, db, collection):
    (record_id,) = db.execute(f"select id from {collection} order by id limit 1").fetchone()
    page = get(ds, quote_path(DB, collection, record_id))
    assert page.status_code == 200
    link = f"/{DB}/record_citations?record_type={collection}&amp;record_id={urllib.parse.quote(record_id)}"
    assert link in page.text
    expected = db.execute(
        "select part, position, source_id, quote, start_offset, end_offset from citations "
        "where record_type = ? and record_id = ? order by part, position",
        (collection, record_id),
    ).fetchall()
    rows = get_json(
        ds,
        f"/{DB}/record_citations.json?record_type={collection}&record_id={urllib.parse.quote(record_id)}&_shape=array",
    )
    got = [(r["part"], r["position"], r["source_id"], r["quote"], r["start_offset"], r["end_offset"]) for r in rows]
    assert got == expected and got


def rows_and_columns(html: str) -> str:
    """The table of a table or record page, with the whitespace between tags taken out."""
    match = re.search(r'<table class="rows-and-columns">.*?</table>', html, re.DOTALL)
    assert match, html[:500]
    return re.sub(r">\s+<", "><", match.group(0))


@contextlib.contextmanager
def without_site_plugin():
    """Datasette as it is without the package's plugin (its entry point registers it in every process)."""
    from datasette.plugins import pm

    name = pm.get_name(site_plugin)
    pm.unregister(site_plugin)
    try:
        yield
    finally:
        pm.register(site_plugin, name=name)


def cells(html: str) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """The column names and each row's cells (class, text without tags) of a table page's table."""
    table = rows_and_columns(html)
    headers = re.findall(r'<th [^>]*data-column="([^"]*)"', table)
    rows = [
        [(css, re.sub(r"<[^>]+>", "", text)) for css, text in re.findall(r'<td class="([^"]*)">(.*?)</td>', row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])
    ]
    return headers, rows


def datasettes_own(table: str, headers: list[str], rows: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """``rows`` without the cells the site shows its own way (tests/test_site_pages.py): list columns, and the row
    links of a table keyed by a record and more."""
    own = pages.list_columns()[table] | ({"Link"} if pages.record_key(table) else set())
    return [[(css, None if name in own else text) for name, (css, text) in zip(headers, row)] for row in rows]


def test_table_pages_show_datasettes_cells_in_the_sites_order(ds, db, site):
    """templates/_table.html writes the rows in Python (pages.table_body_html): Datasette's own cells, key and
    label first and notes last."""
    meta = json.loads((site / build.METADATA).read_text())
    with without_site_plugin():
        plain = Datasette(immutables=[str(serve.database_path(site))], metadata=meta, settings=site_config.SETTINGS)
        paths = [quote_path(DB, name) for name in names(db, "table") + names(db, "view") if "_fts" not in name]
        paths += [f"/{DB}/events?_sort=title&_size=3", f"/{DB}/quotes?_search=withdrawal", f"/{DB}/citations?_col=quote"]
        theirs = {path: get(plain, path) for path in paths}
    for path in paths:
        ours = get(ds, path)
        assert ours.status_code == theirs[path].status_code == 200, path
        if '<table class="rows-and-columns">' not in theirs[path].text:  # a table with no rows
            assert '<table class="rows-and-columns">' not in ours.text and "0 rows" in ours.text, path
            continue
        headers, rows = cells(theirs[path].text)
        table = path.split("/")[2].split("?")[0]
        order = pages.page_order(table, headers)
        our_headers, our_rows = cells(ours.text)
        assert our_headers == [headers[i] for i in order], path
        assert datasettes_own(table, our_headers, our_rows) == datasettes_own(
            table, our_headers, [[row[i] for i in order] for row in rows]), path
    events = get(ds, f"/{DB}/events").text
    assert '<td class="col-title type-str">' in events
    headers, _ = cells(events)
    assert headers[:3] == ["id", "title", "description"] and headers[-1] == "notes"


def test_table_rows_in_python_are_those_of_datasettes_loop():
    """Every kind of cell: text to escape, markup, none, numbers, a column whose CSS class Datasette hashes."""
    from datasette.views.table import Row
    from jinja2 import Environment
    from markupsafe import Markup

    environment = Environment(autoescape=True, enable_async=True)  # as Datasette's
    environment.filters["to_css_class"] = to_css_class
    loop = environment.from_string(
        """{% for row in display_rows %}<tr>{% for cell in row %}<td class="col-{{ cell.column|to_css_class }} """
        """type-{{ cell.value_type }}">{{ cell.value }}</td>{% endfor %}</tr>{% endfor %}"""
    )
    cells = [
        {"column": "id", "value_type": "pk", "value": Markup('<a href="/db/t/a%2Fb">a/b</a>')},
        {"column": "text", "value_type": "str", "value": "<b>“Troops” & 'forces'</b>"},
        {"column": "place name", "value_type": "none", "value": Markup("&nbsp;")},
        {"column": "_private", "value_type": "int", "value": 2500},
        {"column": "best", "value_type": "float", "value": 2.5},
    ]
    rows = [Row(cells), Row(cells[::-1])]
    expected = asyncio.run(loop.render_async(display_rows=rows))
    assert re.sub(r">\s+<", "><", str(pages.table_body_html(rows))) == expected


def test_foreign_keys_show_labels(ds, db):
    (quote_id, speaker_id) = db.execute("select id, speaker_id from quotes order by id limit 1").fetchone()
    (name,) = db.execute("select name from actors where id = ?", (speaker_id,)).fetchone()
    rows = get_json(ds, f"/{DB}/quotes.json?id={urllib.parse.quote(quote_id)}&_labels=on&_shape=array")
    assert rows[0]["speaker_id"] == {"value": speaker_id, "label": name}


def test_tables_have_their_facets(ds):
    for table, facets in site_config.FACETS.items():
        data = get_json(ds, f"/{DB}/{table}.json")
        assert set(data["facet_results"]) == set(facets), table


def test_canned_queries_answer_with_parameters(ds, db):
    (source,) = db.execute("select source_id from citations order by source_id limit 1").fetchone()
    rows = get_json(ds, f"/{DB}/what_each_source_says.json?source={source}&_shape=array")
    assert len(rows) == db.execute("select count(*) from citations where source_id = ?", (source,)).fetchone()[0]
    assert {r["source_id"] for r in rows} == {source}
    assert [r["start_offset"] for r in rows] == sorted(r["start_offset"] for r in rows)
    every = get_json(ds, f"/{DB}/what_each_source_says.json?source=&_shape=array&_size=max")
    assert len(every) == db.execute("select count(*) from citations").fetchone()[0]
    (speaker,) = db.execute("select speaker_id from quotes order by speaker_id limit 1").fetchone()
    rows = get_json(ds, f"/{DB}/quotes_by_speaker.json?speaker={speaker}&_shape=array")
    assert {r["id"] for r in rows} >= {i for (i,) in db.execute("select id from quotes where speaker_id = ?", (speaker,))}
    timeline_rows = get_json(ds, f"/{DB}/occurred_and_planned.json?_shape=array")
    assert len(timeline_rows) == db.execute("select count(*) from events").fetchone()[0]
    for query, table in (("single_report_records", "corroboration"), ("single_report_claims", "claim_corroboration")):
        single = get_json(ds, f"/{DB}/{query}.json?_shape=array")  # the two lists count by one rule
        assert all(row["independent_reports"] == 1 for row in single)
        assert len(single) == db.execute(f"select count(*) from {table} where independent_reports = 1").fetchone()[0]


def test_home_page_shows_title_description_and_timeline(ds):
    page = get(ds, "/")
    assert page.status_code == 200
    assert site_config.TITLE.replace("'", "&#39;") in page.text
    assert site_config.LICENSE_URL in page.text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page.text and "timeline-title" in page.text


def test_the_codebook_page_explains_every_table_and_is_linked_from_every_page(ds):
    page = get(ds, site_config.CODEBOOK_URL)
    assert page.status_code == 200
    for table in build.csv_tables():
        assert f">{table.name}<" in page.text, table.name
    assert "no_later_than" in page.text and "<h1>Codebook: " in page.text
    for path in ("/", f"/{DB}/events"):
        assert f'href="{site_config.CODEBOOK_URL}"' in get(ds, path).text, path  # the home page and every footer


def test_every_page_says_its_licence_source_and_codebook_even_the_first_one_asked_for(site):
    """Datasette copies the licence it inherits into a table's metadata only once that table's page is shown: a
    record page asked for first on a fresh server must say it all the same, and so must a canned query."""
    fresh = serve.datasette(site)
    for path in (f"/{DB}/quotes/singh-us-not-withdrawing-from-iraq", f"/{DB}/actors/iraq", f"/{DB}/quotes_by_speaker",
                 site_config.CODEBOOK_URL, "/-/find?q=withdrawal", "/-/find"):
        page = get(fresh, path)
        assert page.status_code == 200, path
        assert site_config.LICENSE_URL in page.text and f'href="{site_config.CODEBOOK_URL}"' in page.text, path


def test_bases_page_loads_the_cluster_map(ds, db):
    page = get(ds, f"/{DB}/bases")
    assert "datasette-cluster-map.js" in page.text
    assert 'DATASETTE_CLUSTER_MAP_LATITUDE_COLUMN = "latitude"' in page.text
    assert get(ds, "/-/static-plugins/datasette-cluster-map/datasette-cluster-map.js").status_code == 200
    located = db.execute("select count(*) from bases where latitude is not null").fetchone()[0]
    assert located >= 1


# --------------------------------------------------------------------------- the metadata


def test_metadata_describes_every_table_and_column(db):
    meta = site_metadata.datasette_metadata("<svg></svg>")
    assert meta == site_metadata.datasette_metadata("<svg></svg>") and json.loads(json.dumps(meta)) == meta
    assert meta["license"] == "CC-BY-4.0" and meta["license_url"]
    tables = meta["databases"][DB]["tables"]
    built = [name for name in names(db, "table") if not name.endswith(("_fts", "_data", "_idx", "_docsize", "_config"))]
    assert sorted(tables) == sorted(built + names(db, "view"))
    for name, entry in tables.items():
        assert entry["description"], name
        columns = [row[1] for row in db.execute(f"pragma table_info({name})")]
        assert sorted(entry["columns"]) == sorted(columns), name
        assert all(entry["columns"].values()), name
        for key in ("facets",):
            assert set(entry.get(key, [])) <= set(columns), name
        for key in ("sort_desc", "label_column"):
            assert entry.get(key) is None or entry[key] in columns, name


def test_metadata_descriptions_come_from_the_models():
    tables = site_metadata.datasette_metadata()["databases"][DB]["tables"]
    assert tables["events"]["description"] == " ".join(COLLECTIONS["events"].__doc__.split())
    assert tables["force_levels"]["columns"]["best"] == COLLECTIONS["force_levels"].model_fields["best"].description


def test_build_writes_the_metadata_of_serve(site):
    written = json.loads((site / build.METADATA).read_text())
    assert written == site_metadata.datasette_metadata((site / build.TIMELINE).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- a real server


def fetch_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.load(response)


def test_serve_builds_when_stale_then_serves_until_interrupted(tmp_path):
    root = copy_repository(tmp_path / "repo")
    process, base = start_server(root)
    try:
        home = wait_for(base + "/", process).decode()
        assert site_config.TITLE.replace("'", "&#39;") in home
        events = fetch_json(f"{base}/{DB}/events.json?_shape=array&_size=max&_sort=id")
        connection = sqlite3.connect(root / "build" / build.DATABASE)
        assert [e["id"] for e in events] == [i for (i,) in connection.execute("select id from events order by id")]
        matching = connection.execute(
            "select id from quotes where rowid in (select rowid from quotes_fts where quotes_fts match 'withdrawal')"
        ).fetchall()
        connection.close()
        found = fetch_json(f"{base}/{DB}/quotes.json?_search=withdrawal&_shape=array")
        assert found and sorted(row["id"] for row in found) == sorted(id_ for (id_,) in matching)
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "building first" in out and f"{base}/" in out
    assert (root / "build" / build.DATABASE).is_file()


def test_serve_on_a_busy_port_says_so(site):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--root", site.parent, "serve", "--port", port)
    assert result.code == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in result.err and "--port" in result.err
    assert "Traceback" not in result.err


def test_serve_on_a_busy_port_builds_nothing_first(tmp_path):
    """The port is taken before the build: a server already there does not see its build replaced."""
    root = copy_repository(tmp_path / "repo")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("--root", root, "serve", "--port", busy.getsockname()[1])
    assert result.code == 2 and "cannot listen" in result.err
    assert "building first" not in result.out and not (root / "build").exists()


def test_staleness_follows_data_and_seeds(tmp_path):
    root = copy_repository(tmp_path / "repo")
    project = Project(root)
    assert serve.is_stale(project)
    time.sleep(RACY_NS / 1e9 + 0.1)  # a build remembers its inputs once their change times are past the racy window
    assert run_cli("--root", root, "build").code == 0
    assert not serve.is_stale(project)
    record = next((root / "data" / "events").glob("*.yaml"))
    built = (root / "build" / build.DATABASE).stat().st_mtime
    os.utime(record, (built + 10, built + 10))
    assert serve.is_stale(project)
    os.utime(record, (built - 10, built - 10))  # an older stat is a change too, as build's own check sees it
    assert serve.is_stale(project)
    time.sleep(RACY_NS / 1e9 + 0.1)
    assert run_cli("--root", root, "build").code == 0
    assert not serve.is_stale(project)
    record.unlink()  # a removed record leaves no newer file behind, only a newer directory
    os.utime(record.parent, (built + 10, built + 10))
    assert serve.is_stale(project)


def test_an_empty_or_partial_database_is_stale(tmp_path):
    root = copy_repository(tmp_path / "repo")
    assert run_cli("--root", root, "build").code == 0
    database = root / "build" / build.DATABASE
    connection = sqlite3.connect(database)
    connection.execute("drop table event_links")
    connection.close()
    assert serve.database_problem(database) and serve.is_stale(Project(root))
    database.write_bytes(b"")  # what SQLite leaves when it opens a deleted database read-write
    assert "not a complete database" in serve.database_problem(database)
    assert serve.is_stale(Project(root))


def answer(url: str) -> tuple[int, str]:
    """The status and body at ``url``, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def retitle(root: Path, title: str) -> str:
    """Give the first event another title; its id."""
    record = sorted((root / "data" / "events").glob("*.yaml"))[0]
    lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = [f"title: {title}\n" if line.startswith("title: ") else line for line in lines]
    record.write_text("".join(lines), encoding="utf-8")
    return record.stem


def test_serve_follows_a_deleted_rebuilt_or_replaced_database(tmp_path):
    root = copy_repository(tmp_path / "repo")
    event = retitle(root, "First title")
    assert run_cli("--root", root, "build").code == 0
    database = root / "build" / build.DATABASE
    process, base = start_server(root)
    title = f"{base}/{DB}/events/{event}.json?_shape=array"
    try:
        wait_for(base + "/", process)
        assert fetch_json(title)[0]["title"] == "First title"

        database.unlink()
        for url in (title, f"{base}/", f"{base}/{DB}.json?sql=select+1"):
            status, body = answer(url)
            assert status == 503 and "is missing: build it with iraq-transition build" in body
        assert not database.exists()  # never created empty

        retitle(root, "Second title")
        assert run_cli("--root", root, "build").code == 0
        assert fetch_json(title)[0]["title"] == "Second title"

        retitle(root, "Third title")  # a rebuild over the served database, with requests under way
        answers = []
        stop = threading.Event()

        def ask():
            while not stop.is_set():
                answers.append(answer(title))

        asking = threading.Thread(target=ask)
        asking.start()
        try:
            assert run_cli("--root", root, "build").code == 0
        finally:
            stop.set()
            asking.join()
        assert fetch_json(title)[0]["title"] == "Third title"
        seen = {json.loads(body)[0]["title"] for status, body in answers if status == 200}
        assert answers and seen <= {"Second title", "Third title"}
        assert all(status == 200 or "reload" in body for status, body in answers)

        other = tmp_path / "other"
        retitle(root, "Fourth title")
        assert run_cli("--root", root, "build", "--out", other).code == 0
        shutil.copyfile(other / build.DATABASE, database)  # rewritten in place: the same file, other bytes
        assert fetch_json(title)[0]["title"] == "Fourth title"
        assert fetch_json(f"{base}/{DB}/events.json?_size=1")["rows"]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0


def test_serve_rebuilds_a_deleted_database(tmp_path):
    root = copy_repository(tmp_path / "repo")
    assert run_cli("--root", root, "build").code == 0
    (root / "build" / build.DATABASE).unlink()
    process, base = start_server(root)
    try:
        wait_for(base + "/", process)
        assert fetch_json(f"{base}/{DB}/events.json?_size=1")["rows"]
        assert answer(f"{base}/{DB}/no-such-table")[0] == 404
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "building first" in out
    assert "Traceback" not in out + err and f"404 GET /{DB}/no-such-table\n" in err  # one line
    assert serve.database_problem(root / "build" / build.DATABASE) is None


# --------------------------------------------------------------------------- SQL that could stall the site

HOSTILE_SQL = [
    "select printf('%.*c', 900000000, 'x')",  # one call writing 900 MB, a character at a time
    "select printf('%.900000000c', 'x')",
    "select length(printf(cast('%.*c' as blob), 2000000000, 'x'))",  # the format as a blob is read as its text
    "select format(x'252e3230303030303030303063', 'x')",  # '%.2000000000c' written in hex
    "select length(zeroblob(2e9))",
    "select length(randomblob(2e9))",
    "select length(replace(hex(zeroblob(400000)), '0', '0000000000'))",  # growth by replacement
    "select length(printf('%.*c', 999000, 'x') || printf('%.*c', 999000, 'x'))",
    "select length(trim(printf('%.*c', 999000, 'a'), printf('%.*c', 999000, 'b')))",  # one call comparing 1e12 pairs
    "select instr(printf('%.*c', 999000, 'a'), printf('%.*c', 499500, 'a') || 'b')",
    # 1,000 rows of 1 MB: made well within the time limit, but a gigabyte to send
    # one match comparing every position of a 1 MB text with a long pattern (23 s for 10,000 characters)
    "select printf('%.*c', 999000, 'a') like ('%a' || printf('%.*c', 10000, '_') || 'b')",
    "select printf('%.*c', 999000, 'a') glob ('*[' || printf('%.*c', 10000, 'b') || ']')",
    "with recursive n(i) as (select 1 union all select i + 1 from n limit 1000) select printf('%.*c', 999000, 'x') from n",
]


def peak_memory_kb(process: subprocess.Popen) -> int:
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))


def assert_hostile_sql_fails_at_once(base: str, process: subprocess.Popen) -> None:
    """Each of :data:`HOSTILE_SQL` answers with an error (the generous timeout bounds its time), the server's
    memory stays far below what the values would take, and the site still answers."""
    for sql in HOSTILE_SQL:
        status, body = answer(f"{base}/{DB}.json?" + urllib.parse.urlencode({"sql": sql}))
        error = json.loads(body)["error"]
        assert status == 400 and ("too big" in error or "pattern too complex" in error), (sql, body[:300])
    assert peak_memory_kb(process) < 400 * 1024
    assert fetch_json(f"{base}/{DB}/sources.json?_shape=array")  # the longest values of the data still read
    shown = fetch_json(f"{base}/{DB}.json?_shape=array&" + urllib.parse.urlencode(
        {"sql": "select printf('%.*c', 3, 'x') as c, trim('..a..', '.') as t, replace('a-b', '-', '+') as r, "
                "'withdrawal' like '%draw%' as l"}
    ))
    assert shown == [{"c": "xxx", "t": "a", "r": "a+b", "l": 1}]


def test_serve_answers_sql_that_could_stall_it_with_an_error_at_once(site):
    process, base = start_server(site.parent)
    try:
        wait_for(base + "/", process)
        assert_hostile_sql_fails_at_once(base, process)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert "Traceback" not in err  # a refused call is the visitor's error answer, not a traceback in the log


SHORT_KEYS = ("citations/1", "citations/1,2,3", "event_participants/xss-event", "actors/france,extra",
              "corroboration/actors", "claim_corroboration/actors,france")
"""Row addresses whose key has fewer or more parts than their table's primary key."""


def test_a_row_address_with_a_key_of_the_wrong_parts_is_not_found_with_one_log_line(site, db):
    process, base = start_server(site.parent)
    try:
        wait_for(base + "/", process)
        statuses = [answer(f"{base}/{DB}/{path}")[0] for path in SHORT_KEYS]
        assert answer(f"{base}/{DB}/actors/france")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert statuses == [404] * len(SHORT_KEYS)
    assert err.splitlines() == [f"404 GET /{DB}/{path}" for path in SHORT_KEYS]
    assert record_page.record_page(db, "citations", ("1",), f"/{DB}") is None  # asked before any query


def published_command() -> tuple[list[str], list[str], list[str]]:
    """The README's ``datasette publish`` command: its --install packages, the options it passes to
    ``datasette serve``, and its --extra-options."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = re.search(r"datasette publish (.*?)\n```", readme, re.S).group(1).replace("\\\n", " ")
    extra = re.search(r'--extra-options "([^"]*)"', command).group(1)
    installs = re.findall(r'--install ("[^"]*"|\S+)', command)
    options = re.findall(r"(--(?:metadata|template-dir|plugins-dir|static) \S+)", command)
    return [i.strip('"') for i in installs], [part for option in options for part in option.split()], extra.split()


def test_the_published_site_is_the_local_site(site):
    """Plain ``datasette serve`` with only what the README's publish command passes (the metadata, the settings,
    the packages it installs, here installed already) shows the pages ``serve`` shows, bounds SQL alike, and logs
    one line for a 404."""
    from importlib.metadata import entry_points, version

    installs, options, extra = published_command()
    assert options == ["--metadata", "build/metadata.json"]  # no template or plugin directories: the package brings them
    assert installs[0].startswith("iraq-transition @ git+")
    assert installs[1:] == [f"datasette-cluster-map=={version('datasette-cluster-map')}"]
    assert "iraq_transition.site_plugin" in {entry.value for entry in entry_points(group="datasette")}
    settings = dict(zip(extra[1::3], extra[2::3]))
    assert settings == {name: {False: "off", True: "on"}.get(value, str(value)) for name, value in site_config.SETTINGS.items()}
    port = free_port()
    published = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", "-i", str(serve.database_path(site)), "--port", str(port),
         "--metadata", str(site / build.METADATA), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    local, local_base = start_server(site.parent)
    base = f"http://127.0.0.1:{port}"
    (source,) = sqlite3.connect(serve.database_path(site)).execute("select id from sources order by id limit 1").fetchone()
    paths = ["/", f"/{DB}/events", f"/{DB}/quotes/singh-us-not-withdrawing-from-iraq", f"/{DB}/sources/{source}",
             f"/{DB}/occurred_and_planned", f"/{DB}/bases", "/-/search?q=withdrawal", "/-/find?q=withdrawal"]  # the first redirected
    timing = re.compile(r"Queries took [0-9.]+ms|(?<=10px solid #)[0-9a-f]{6}")  # the colour hashes the database's file
    try:
        wait_for(base + "/", published)
        wait_for(local_base + "/", local)
        for path in paths:
            (status, theirs), (local_status, ours) = answer(base + path), answer(local_base + path)
            assert status == local_status == 200, path
            assert timing.sub("", theirs).replace(base, local_base) == timing.sub("", ours), path
        assert "record-fields" in answer(base + paths[2])[1] and "site-search" in answer(base + "/")[1]
        assert_hostile_sql_fails_at_once(base, published)
        assert answer(f"{base}/{DB}/no-such-table")[0] == 404
    finally:
        published.terminate()
        _, err = published.communicate(timeout=60)
        local.send_signal(signal.SIGINT)
        local.communicate(timeout=60)
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "no-such-table" in line]) <= 1


# --------------------------------------------------------------------------- the timeline picture


@pytest.fixture(scope="module")
def dataset():
    dataset, problems = validate_project(Project(REPO))
    assert problems == []
    return dataset


def test_timeline_is_deterministic_well_formed_and_accessible(dataset):
    svg = timeline.render_svg(dataset)
    assert svg == timeline.render_svg(dataset)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text and root.find(f"{SVG}desc").text
    assert "system-ui" in root.get("font-family")


def test_timeline_draws_every_dated_event_in_its_lane(dataset):
    root = ET.fromstring(timeline.render_svg(dataset))
    marks = {g.get("data-id"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-id")}
    events = dataset.records["events"]
    dated = {id_ for id_, event in events.items() if event.date is not None}
    assert set(marks) == dated
    assert all(marks[id_] == f"event status-{events[id_].status}" for id_ in dated)
    desc = root.find(f"{SVG}desc").text
    undated = len(events) - len(dated)
    assert (f"{undated} events without a date" in desc) == (undated > 0)
    for id_ in dated:
        assert events[id_].title in desc


def test_timeline_marks_deadlines(dataset):
    root = ET.fromstring(timeline.render_svg(dataset))
    deadlines = {
        (event.end_date or event.date).bounds()[1]
        for event in dataset.records["events"].values()
        if event.status != "occurred"
        and event.date is not None
        and (event.end_date or event.date).qualifier == "no_later_than"
    }
    lines = [line for line in root.iter(f"{SVG}line") if line.get("class") == "deadline"]
    assert deadlines, "the records should hold planned events with a deadline"
    assert len(lines) >= len(deadlines)
    text = ET.tostring(root, encoding="unicode")
    assert "by Sep 2025" in text or "by September 2025" in text


def event(id_: str, title: str, status: str, date: dict | None, end_date: dict | None = None) -> Event:
    return Event.model_validate(
        {"id": id_, "title": title, "description": "d", "event_type": "statement", "status": status,
         "date": date, "end_date": end_date, "citations": [{"source": "s", "quote": "q", "supports": ["status"]}]}
    )


def events_dataset(events: list[Event]) -> Dataset:
    """A dataset of just ``events``, as validation hands it over: (id, loader) in id order."""
    return Dataset({"events": [(e.id, lambda e=e: e) for e in sorted(events, key=lambda e: e.id)]}, {})


def test_timeline_of_awkward_events():
    events = [
        event("markup", "A <title> & 'quotes' " + "very long " * 30, "occurred", {"value": "2024-09-27", "precision": "day"}),
        event("about", "About 2014, until about 2016", "occurred", {"value": "2014", "precision": "year", "qualifier": "circa"},
              {"value": "2016", "precision": "year", "qualifier": "circa"}),
        event("early", "Before the axis", "occurred", {"value": "1991", "precision": "year"}),
        event("open", "Until at least", "planned", {"value": "2024-09", "precision": "month"},
              {"value": "2026-09", "precision": "month", "qualifier": "no_earlier_than"}),
        event("undated", "No date", "expected", None),
    ]
    svg = timeline.render_svg(events_dataset(events))
    root = ET.fromstring(svg)  # well-formed despite the markup in a title
    labels = {g.get("data-id"): "".join(g.find(f"{SVG}text").itertext()) for g in root.iter(f"{SVG}g") if g.get("data-id")}
    assert set(labels) == {"markup", "about", "early", "open"}
    assert labels["markup"].startswith("A <title> & 'quotes'") and labels["markup"].endswith("…")
    assert "until at least Sep 2026" in labels["open"]
    assert any(text.text == "1991" for text in root.iter(f"{SVG}text"))
    assert "1 event without a date" in svg
    empty = ET.fromstring(timeline.render_svg(Dataset({}, {})))
    assert empty.find(f"{SVG}title").text


def test_timeline_counts_events_by_month_when_too_many_to_list():
    statuses = ("occurred", "planned", "expected")
    events = [
        event(f"e{i}", f"Event {i}", statuses[i % 3], {"value": f"{2020 + i % 7}-{i % 12 + 1:02d}", "precision": "month"})
        for i in range(3 * timeline.MAX_ROWS + 3)
    ]
    root = ET.fromstring(timeline.render_svg(events_dataset(events)))
    assert not [g for g in root.iter(f"{SVG}g") if g.get("data-id")]  # no rows: counts instead
    counted = Counter()
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "bin":
            for part in g.find(f"{SVG}title").text.split(": ", 1)[1].split(", "):
                number, status = part.split(" ")
                counted[status] += int(number)
    assert counted == Counter(e.status for e in events)
    assert timeline.HISTOGRAM_NOTE in root.find(f"{SVG}desc").text


# --------------------------------------------------------------------------- record pages and the evidence view


def test_record_page_links_every_reference_with_its_label_and_shows_its_items(ds, db):
    page = get(ds, f"/{DB}/quotes/singh-us-not-withdrawing-from-iraq").text
    (speaker, occasion) = db.execute(
        "select speaker_id, occasion_event from quotes where id = 'singh-us-not-withdrawing-from-iraq'").fetchone()
    (name,) = db.execute("select name from actors where id = ?", (speaker,)).fetchone()
    (title,) = db.execute("select title from events where id = ?", (occasion,)).fetchone()
    assert f'<a href="/{DB}/actors/{speaker}">{name}</a>' in page
    assert f'<a href="/{DB}/events/{occasion}">{title}</a>' in page
    (event, count) = db.execute(
        "select event_id, count(*) from event_participants group by event_id order by count(*) desc, event_id limit 1").fetchone()
    page = get(ds, quote_path(DB, "events", event)).text
    participants = db.execute(
        "select a.id, a.name, p.role from event_participants p join actors a on a.id = p.actor "
        "where p.event_id = ? order by p.position", (event,)).fetchall()
    assert f"Participants ({count})" in page
    for actor, actor_name, role in participants:
        assert f'<a href="/{DB}/actors/{actor}">{actor_name}</a>' in page and role in page
    assert "None" not in re.sub(r"<script.*?</script>", "", page, flags=re.S)
    # the actor's page lists the event, with the role: one click back
    page = get(ds, quote_path(DB, "actors", participants[0][0])).text
    (event_title,) = db.execute("select title from events where id = ?", (event,)).fetchone()
    assert f'<a href="/{DB}/events/{event}">{event_title}</a> <span class="detail">(role: {participants[0][2]})</span>' in page


def test_every_citation_shows_its_span_in_context_and_links_to_it_in_its_article(ds, db):
    for record_type, record_id in db.execute("select distinct record_type, record_id from citations"):
        page = get(ds, quote_path(DB, record_type, record_id)).text
        for source, start, end, quote in db.execute(
            "select source_id, start_offset, end_offset, quote from citations where record_type = ? and record_id = ?",
            (record_type, record_id),
        ):
            assert f'href="/{DB}/sources/{source}#span-{start}-{end}"' in page, (record_type, record_id)
    for (source, text) in db.execute("select id, text from sources"):
        page = get(ds, quote_path(DB, "sources", source)).text
        spans = db.execute("select distinct start_offset, end_offset from citations where source_id = ?", (source,)).fetchall()
        anchors = re.findall(r'<a class="span-start" id="span-(\d+)-(\d+)"', page)
        assert sorted((int(a), int(b)) for a, b in anchors) == sorted(spans)
        article = re.search(r'<div class="article">(.*?)</div>', page, re.S).group(1)
        assert html.unescape(re.sub(r'<a class="span-start"[^>]*>\d+</a>|<[^>]+>', "", article)) == text


def test_seed_numbers_link_to_their_sources_and_view_ids_to_their_records(ds, db):
    seeds = {file.split("_")[0]: id_ for id_, file in db.execute("select id, file from sources")}
    (event, description) = db.execute("select id, description from events where description like '003 %' limit 1").fetchone()
    link = f'<a class="seed" href="/{DB}/sources/{seeds["003"]}"'
    assert link in get(ds, quote_path(DB, "events", event)).text
    assert link in get(ds, f"/{DB}/events").text
    assert f'<a href="/{DB}/events/{event}">{event}</a>' in get(ds, f"/{DB}/timeline?_size=max").text
    assert pages.with_seed_links("2,000 troops, 3.005 and 1003", {"000": ("s", "S"), "003": ("t", "T")}, "") == (
        "2,000 troops, 3.005 and 1003")


def test_record_page_shows_what_each_citation_supports_and_the_editorial_values(ds, db):
    page = get(ds, quote_path(DB, "bases", "erbil")).text
    (supports,) = db.execute("select supports from citations where record_type = 'bases' and record_id = 'erbil' "
                             "and part = '' order by position limit 1").fetchone()
    assert f"Supports: {', '.join(json.loads(supports))} · in " in page
    assert "In postures.0, supports: " in page
    (basis,) = db.execute("select basis from base_editorial where base_id = 'erbil'").fetchone()
    assert "<strong>Editorial: province</strong>" in page and str(escape(basis)) in page


def test_the_readme_counts_the_records_and_citations_there_are(db):
    """README's table of collections and its count of citations say what the data holds."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listed = {name: int(count) for name, count in re.findall(r"^\| `(\w+)` \| (\d+) \|", readme, re.M)}
    assert listed == {name: db.execute(f"select count(*) from [{name}]").fetchone()[0] for name in COLLECTIONS}
    (cited,) = re.findall(r"All of them cite their sources: ([\d,]+) citations", readme)
    assert int(cited.replace(",", "")) == db.execute("select count(*) from citations").fetchone()[0]


def test_the_readme_shows_its_example_record_as_it_is():
    """README's example record is the file in data/ byte for byte, so that it shows the policy the data follows."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"the id is the file name:\n\n```yaml\n(.*?)```\n", readme, re.S).group(1)
    record_id = re.search(r"^id: (\S+)$", shown, re.M).group(1)
    assert shown == (REPO / "data" / "quotes" / f"{record_id}.yaml").read_text(encoding="utf-8")
