"""What the site shows its own way, in real Datasette on the repository's records: the rows of tables keyed by a
record and more named by their record, list columns (JSON arrays) as lists in every HTML table while the CSV and
JSON keep their JSON text, and a list column's search snippet as its items. Everything taken from records escaped."""

from __future__ import annotations

import html
import json
import re
import urllib.parse

import pytest
from datasette.utils import tilde_encode
from markupsafe import escape

from iraq_transition import pages, search_page, serve
from iraq_transition.fmt import format_record

from conftest import copy_repository, run_cli
from test_serve import DB, FIND_HIT, db, ds, find_sections, get, get_json, rows_and_columns, site  # noqa: F401

LINK_CELL = re.compile(r'<td class="col-Link type-pk"><a href="([^"]*)">([^<]*)</a></td>')


def expected_names(db, table: str) -> dict[str, str]:
    """Each row's address in ``table`` and the name it should show: its collection and its record's label (its id
    where the row has no label), then its part where it has one, and its claim or position."""
    last = {"citations": "position", "claim_corroboration": "claim"}.get(table)
    names = {}
    cursor = db.execute(f"select * from {table}")
    for values in cursor.fetchall():
        row = dict(zip([d[0] for d in cursor.description], values))
        key = [row["record_type"], row["record_id"], *([row["part"], row[last]] if last else [])]
        name = f"{row['record_type']}: {row.get('label') or row['record_id']}"
        name += f" · part {row['part']}" if last and row["part"] else ""
        name += f" · {last} {row[last]}" if last else ""
        names[f"/{DB}/{table}/" + ",".join(tilde_encode(str(value)) for value in key)] = name
    return names


def test_rows_keyed_by_a_record_and_more_are_named_by_their_record_and_lead_to_it(ds, db):
    for table in ("citations", "corroboration", "claim_corroboration"):
        expected = expected_names(db, table)
        page = get(ds, f"/{DB}/{table}?_size=max").text
        shown = {html.unescape(href): html.unescape(name) for href, name in LINK_CELL.findall(page)}
        assert shown == expected, table
        assert not any(name.endswith(",") or ",," in name for name in shown.values())
        for href, name in sorted(expected.items())[::len(expected) // 15]:  # a few of every kind
            row_page = get(ds, href)
            assert row_page.status_code == 200, href
            assert html.unescape(re.search(r"<h1[^>]*>(.*?)</h1>", row_page.text)[1]) == name, href
            record_type, record_id = href.split("/")[3].split(",")[:2]
            assert f'<a href="/{DB}/{record_type}/{record_id}">' in row_page.text  # the record's own page
            assert f'<a href="/{DB}/{record_type}">{record_type}</a>' in row_page.text


def list_cell(items: list[str], collection: str | None = None) -> str:
    shown = [f'<a href="/{DB}/{collection}/{item}">{item}</a>' if collection else str(escape(item)) for item in items]
    return '<ul class="cell-list">' + "".join(f"<li>{item}</li>" for item in shown) + "</ul>"


def test_list_columns_show_as_lists_linked_where_they_hold_source_ids_and_keep_their_json_in_json_and_csv(ds, db):
    shown = {
        ("corroboration", "source_ids", "sources"), ("claim_corroboration", "source_ids", "sources"),
        ("quotes_with_speakers", "source_ids", "sources"), ("quotes_with_speakers", "sources", None),
        ("actors", "aliases", None), ("bases", "aliases", None), ("citations", "supports", None),
    }
    for table, column, collection in shown:
        page = rows_and_columns(get(ds, f"/{DB}/{table}?_size=max").text)
        for (value,) in db.execute(f"select {column} from {table}"):
            assert f'<td class="col-{column} type-str">{list_cell(json.loads(value), collection)}</td>' in page, (table, value)
        assert "[&#34;" not in page and "&#34;]" not in page, table
    for query, column in (("single_report_claims", "source_ids"), ("quotes_by_speaker?speaker=", "source_ids")):
        page = rows_and_columns(get(ds, f"/{DB}/{query}").text)
        assert f'<td class="col-{column}"><ul class="cell-list"><li><a href="/{DB}/sources/' in page and "[&#34;" not in page
    rows = get_json(ds, f"/{DB}/corroboration.json?_shape=array&_size=max")
    assert sorted(row["source_ids"] for row in rows) == sorted(v for (v,) in db.execute("select source_ids from corroboration"))
    (aliases,) = db.execute("select aliases from actors where aliases like '%,%' limit 1").fetchone()
    assert '"' + aliases.replace('"', '""') + '"' in get(ds, f"/{DB}/actors.csv?_size=max").text


def test_list_columns_of_any_query_are_escaped_and_only_json_arrays_of_texts_are_lists(ds):
    sql = ("select '[\"<script>alert(1)</script>\", \"a & b\"]' as aliases, '[\"\\\"><img src=x>\"]' as source_ids, "
           "'[1, 2]' as supports, '[\"unclosed' as fields, '[\"x\"]' as not_a_list_column")
    page = rows_and_columns(get(ds, f"/{DB}?" + urllib.parse.urlencode({"sql": sql})).text)
    assert '<td class="col-aliases"><ul class="cell-list"><li>&lt;script&gt;alert(1)&lt;/script&gt;</li><li>a &amp; b</li></ul></td>' in page
    assert '">&#34;&gt;&lt;img src=x&gt;</a></li>' in page
    assert '<td class="col-supports">[1, 2]</td>' in page and '<td class="col-fields">[&#34;unclosed</td>' in page
    assert '<td class="col-not_a_list_column">[&#34;x&#34;]</td>' in page
    assert "<script>alert" not in page and "<img src=x" not in page


def test_find_page_shows_a_list_columns_snippet_as_its_items(ds, db):
    (base_id, aliases) = db.execute("select id, aliases from bases where aliases like '%Assad%'").fetchone()
    page = get(ds, "/-/find?q=Assad").text
    hits = {href: snippet for href, _, snippet in FIND_HIT.findall(find_sections(page)["bases"])}
    assert hits[f"/{DB}/bases/{base_id}"] == ", ".join(json.loads(aliases)).replace("Assad", "<mark>Assad</mark>")
    assert not any("&#34;" in snippet or "[" in snippet for snippet in hits.values())


def test_a_list_snippet_is_its_items_escaped_then_marked():
    mark, end = search_page.MARK, search_page.END_MARK
    assert search_page.list_snippet('["Bloomberg TV"]') == "Bloomberg TV"
    assert search_page.list_snippet('["a \\"b\\"", "c\\\\","d"]') == 'a "b", c\\, d'
    assert search_page.list_snippet(f'…al-{mark}Assad{end}", "x…') == f"…al-{mark}Assad{end}, x…"
    snippet = search_page.list_snippet(f'["<script>{mark}x{end}</script>", "&"]')
    assert search_page.snippet_html(snippet) == "&lt;script&gt;<mark>x</mark>&lt;/script&gt;, &amp;"
    assert pages.list_html('["<b>", "x"]', "aliases", "") == '<ul class="cell-list"><li>&lt;b&gt;</li><li>x</li></ul>'


HOSTILE_NAME, HOSTILE_ALIAS = "<script>alert(1)</script> Bloomberg", '<img src=x onerror=alert(2)> "TV" \\ Bloomberg'


@pytest.fixture(scope="module")
def hostile_ds(tmp_path_factory):
    """Datasette on a build of the repository's records and an actor whose name and alias are markup."""
    root = copy_repository(tmp_path_factory.mktemp("hostile-site"))
    (root / "data/actors/hostile.yaml").write_text(format_record("actors", {
        "id": "hostile", "name": HOSTILE_NAME, "aliases": [HOSTILE_ALIAS], "kind": "media",
        "citations": [{"source": "report-bilateral-security-arrangement-syria-presence",
                       "quote": "In a recent interview with Bloomberg", "supports": ["name", "aliases"]}]}), encoding="utf-8")
    result = run_cli("--root", root, "build")
    assert result.code == 0, result.err
    return serve.datasette(root / "build")


def test_names_lists_and_snippets_taken_from_records_are_escaped(hostile_ds):
    paths = {
        f"/{DB}/actors?id=hostile": f"<li>{escape(HOSTILE_ALIAS)}</li>",
        f"/{DB}/corroboration?record_id=hostile": f">actors: {escape(HOSTILE_NAME)}</a>",
        f"/{DB}/claim_corroboration?record_id=hostile": f">actors: {escape(HOSTILE_NAME)} · claim aliases</a>",
        f"/{DB}/claim_corroboration/actors,hostile,,name": f">actors: {escape(HOSTILE_NAME)} · claim name</h1>",
        f"/{DB}/actors/hostile": f"{escape(HOSTILE_ALIAS)}</td>",
        "/-/find?q=onerror": '<p class="snippet">&lt;img src=x <mark>onerror</mark>=alert(2)&gt; &#34;TV&#34; \\ Bloomberg</p>',
    }
    for path, shown in paths.items():
        page = get(hostile_ds, path)
        assert page.status_code == 200, path
        assert shown in page.text, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
