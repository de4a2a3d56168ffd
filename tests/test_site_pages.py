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

from iraq_transition import pages, search_page, serve, site_config
from iraq_transition.fmt import format_record

from conftest import copy_repository, run_cli
from test_serve import DB, FIND_HIT, db, ds, find_sections, get, get_json, rows_and_columns, site  # noqa: F401

LINK_CELL = re.compile(r'<td class="col-Link type-pk"><a href="([^"]*)">([^<]*)</a></td>')


def expected_names(db, table: str) -> dict[str, str]:
    """Each row's address in ``table`` and the name it should show: its record's collection and id, then its part
    where it has one, and its claim or position, then its record's label where the row has one."""
    last = {"citations": "position", "claim_corroboration": "claim"}.get(table)
    names = {}
    cursor = db.execute(f"select * from {table}")
    for values in cursor.fetchall():
        row = dict(zip([d[0] for d in cursor.description], values))
        key = [row["record_type"], row["record_id"], *([row["part"], row[last]] if last else [])]
        name = f"{row['record_type']}/{row['record_id']}"
        name += f" · part {row['part']}" if last and row["part"] else ""
        name += f" · {last} {row[last]}" if last else ""
        name += f" — {row['label']}" if row.get("label") and row["label"] != row["record_id"] else ""
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


def query_page(ds, sql: str):
    return get(ds, f"/{DB}?" + urllib.parse.urlencode({"sql": sql}))


def list_sql(items: int, rows: int = 1, column: str = "source_ids") -> str:
    """A query of ``rows`` rows, each a list cell of ``items`` items ("a", "a", ...) in ``column``."""
    return (f"with recursive n(i) as (select 1 union all select i + 1 from n where i < {rows}) "
            f"select '[\"' || replace(hex(zeroblob({items - 1})), '00', 'a\",\"') || 'a\"]' as {column} from n")


def test_a_query_of_huge_list_cells_answers_with_datasettes_cut_cells_not_their_items(ds):
    """A cell longer than pages.MAX_LIST_CHARACTERS is not parsed: Datasette cuts it (truncate_cells_html)."""
    items = 20_000  # 100 KB a cell
    page = query_page(ds, list_sql(items, rows=3))
    assert page.status_code == 200
    table = rows_and_columns(page.text)
    cut = re.findall(r'<td class="col-source_ids">([^<]*)</td>', table)
    assert [len(html.unescape(text)) for text in cut] == [site_config.SETTINGS["truncate_cells_html"] + 1] * 3
    assert "<li>" not in table and len(page.text) < 50_000


def test_a_list_cell_shows_its_first_items_and_counts_the_rest_on_table_and_query_pages(ds):
    table = rows_and_columns(query_page(ds, list_sql(25, column="aliases")).text)
    assert table.count("<li>a</li>") == pages.MAX_LIST_ITEMS
    assert f'<li class="more">… and {25 - pages.MAX_LIST_ITEMS} more</li></ul>' in table
    shown = rows_and_columns(query_page(ds, list_sql(pages.MAX_LIST_ITEMS, column="aliases")).text)
    assert shown.count("<li>a</li>") == pages.MAX_LIST_ITEMS and "more" not in shown


@pytest.mark.parametrize("sql, cell", [
    ("select replace(hex(zeroblob(5000)), '00', '[') as aliases", "[" * 300 + "…"),  # json.loads: RecursionError
    ("select '[\"\\ud800\"]' as aliases", '["\\ud800"]'),  # a lone surrogate, which UTF-8 cannot encode
])
def test_a_list_cell_that_cannot_be_shown_as_a_list_is_datasettes_plain_cell(ds, sql, cell):
    page = query_page(ds, sql)
    assert page.status_code == 200
    assert f'<td class="col-aliases">{escape(cell)}</td>' in rows_and_columns(page.text)


def test_find_page_shows_a_list_columns_snippet_as_its_items(ds, db):
    (base_id, aliases) = db.execute("select id, aliases from bases where aliases like '%Assad%'").fetchone()
    page = get(ds, "/-/find?q=Assad").text
    hits = {href: snippet for href, _, snippet in FIND_HIT.findall(find_sections(page)["bases"])}
    items = [f'<span class="list-item">{alias.replace("Assad", "<mark>Assad</mark>")}</span>' for alias in json.loads(aliases)]
    assert hits[f"/{DB}/bases/{base_id}"] == " ".join(items)
    assert not any("&#34;" in snippet or "[" in snippet for snippet in hits.values())


def test_a_list_snippet_is_its_items_decoded_then_escaped_and_marked():
    mark, end = search_page.MARK, search_page.END_MARK
    assert search_page.list_snippet('["Bloomberg TV"]') == ["Bloomberg TV"]
    assert search_page.list_snippet('["a \\"b\\"", "c\\\\","d"]') == ['a "b"', "c\\", "d"]
    assert search_page.list_snippet('["tab\\there", "new\\nline", "a, b, c", "\\u00e9\\ud83d\\ude00"]') == [
        "tab\there", "new\nline", "a, b, c", "é😀"]
    assert search_page.list_snippet('["\\ud800 lone"]') == ["\\ud800 lone"]  # no character: kept as written
    assert search_page.list_snippet(f'["tab\\{mark}there{end}"]') == [f"tab{mark}\there{end}"]  # a match after "\"
    assert search_page.list_snippet(f'…al-{mark}Assad{end}", "x…') == [f"…al-{mark}Assad{end}", "x…"]
    html_items = search_page.list_snippet_html(search_page.list_snippet(f'["<script>{mark}x{end}</script>", "&, b"]'))
    assert html_items == ('<span class="list-item">&lt;script&gt;<mark>x</mark>&lt;/script&gt;</span> '
                          '<span class="list-item">&amp;, b</span>')
    assert pages.list_html('["<b>", "x"]', "aliases", "") == '<ul class="cell-list"><li>&lt;b&gt;</li><li>x</li></ul>'


HOSTILE_NAME, HOSTILE_ALIAS = "<script>alert(1)</script> Bloomberg", '<img src=x onerror=alert(2)> "TV" \\ Bloomberg'
FAKE_LABEL = "Bloomberg\u200b · part postures.0 · claim name"
"""A label that would pass for another row's name, were the label first: an invisible character, then parts."""
ESCAPED_ALIASES = ["tab\there hostiletab", "new\nline", "a, b, c"]
MANY_ALIASES = [f"alias number {index:06d} of many" for index in range(25_000)]
"""750 KB of aliases: too long a text to parse on a table page, not on the record's page."""
SOME_ALIASES = [f"alias {index}" for index in range(60)]


def hostile_actor(record_id: str, name: str, aliases: list[str]) -> str:
    return format_record("actors", {
        "id": record_id, "name": name, "aliases": aliases, "kind": "media", "editorial": [{"fields": ["aliases"], "basis": "b"}],
        "citations": [{"source": "report-bilateral-security-arrangement-syria-presence",
                       "quote": "In a recent interview with Bloomberg", "supports": ["name"]}]})


@pytest.fixture(scope="module")
def hostile_ds(tmp_path_factory):
    """Datasette on a build of the repository's records and actors whose name, label and aliases are hostile."""
    root = copy_repository(tmp_path_factory.mktemp("hostile-site"))
    (root / "data/actors/hostile.yaml").write_text(format_record("actors", {
        "id": "hostile", "name": HOSTILE_NAME, "aliases": [HOSTILE_ALIAS], "kind": "media",
        "citations": [{"source": "report-bilateral-security-arrangement-syria-presence",
                       "quote": "In a recent interview with Bloomberg", "supports": ["name", "aliases"]}]}), encoding="utf-8")
    for record_id, name, aliases in (("fake-label", FAKE_LABEL, ESCAPED_ALIASES), ("many-aliases", "Many", MANY_ALIASES),
                                     ("some-aliases", "Some", SOME_ALIASES)):
        (root / f"data/actors/{record_id}.yaml").write_text(hostile_actor(record_id, name, aliases), encoding="utf-8")
    result = run_cli("--root", root, "build")
    assert result.code == 0, result.err
    return serve.datasette(root / "build")


def test_names_lists_and_snippets_taken_from_records_are_escaped(hostile_ds):
    paths = {
        f"/{DB}/actors?id=hostile": f"<li>{escape(HOSTILE_ALIAS)}</li>",
        f"/{DB}/corroboration?record_id=hostile": f">actors/hostile — {escape(HOSTILE_NAME)}</a>",
        f"/{DB}/claim_corroboration?record_id=hostile": f">actors/hostile · claim aliases — {escape(HOSTILE_NAME)}</a>",
        f"/{DB}/claim_corroboration/actors,hostile,,name": f">actors/hostile · claim name — {escape(HOSTILE_NAME)}</h1>",
        f"/{DB}/actors/hostile": f"<li>{escape(HOSTILE_ALIAS)}</li></ul></td>",
        "/-/find?q=onerror": '<p class="snippet"><span class="list-item">&lt;img src=x <mark>onerror</mark>=alert(2)&gt; '
                             '&#34;TV&#34; \\ Bloomberg</span></p>',
    }
    for path, shown in paths.items():
        page = get(hostile_ds, path)
        assert page.status_code == 200, path
        assert shown in page.text, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path


def test_a_row_name_leads_with_its_records_collection_and_id_so_a_label_cannot_pass_for_another_row(hostile_ds):
    for table, labelled in (("citations", False), ("corroboration", True), ("claim_corroboration", True)):
        page = get(hostile_ds, f"/{DB}/{table}?record_id=fake-label").text
        names = [html.unescape(name) for _, name in LINK_CELL.findall(page)]
        assert names and all(name.startswith("actors/fake-label") for name in names), table
        assert all(name.endswith(f" — {FAKE_LABEL}") == labelled for name in names), table


def test_a_list_snippet_shows_each_item_whole_with_its_escapes_decoded(hostile_ds):
    page = get(hostile_ds, "/-/find?q=hostiletab").text
    [(_, _, snippet)] = FIND_HIT.findall(find_sections(page)["actors"])
    assert snippet == ('<span class="list-item">tab\there <mark>hostiletab</mark></span> '
                       '<span class="list-item">new\nline</span> <span class="list-item">a, b, c</span>')


def test_a_table_page_shows_a_few_items_of_each_list_and_a_record_page_a_bounded_number(hostile_ds):
    """Neither page grows with the number of a record's aliases: the table page's cells stop at
    pages.MAX_LIST_ITEMS items (a cell too long to read is cut by Datasette), the record's page at
    record_page.MAX_LIST_ITEMS."""
    from iraq_transition import record_page

    table = get(hostile_ds, f"/{DB}/actors?_size=max").text
    assert len(table) < 100_000  # the page without those actors: some 56 KB
    cells = dict(re.findall(r'<tr>\s*<td class="col-id type-pk"><a href="[^"]*">([^<]*)</a>.*?'
                            r'<td class="col-aliases type-str">(.*?)</td>', table, re.S))
    assert cells["some-aliases"].count("<li>") == pages.MAX_LIST_ITEMS
    assert f"… and {len(SOME_ALIASES) - pages.MAX_LIST_ITEMS} more" in cells["some-aliases"]
    assert len(html.unescape(cells["many-aliases"])) == site_config.SETTINGS["truncate_cells_html"] + 1  # Datasette's cut
    record = get(hostile_ds, f"/{DB}/actors/many-aliases").text
    assert record.count("<li>alias number ") == record_page.MAX_LIST_ITEMS
    assert f"… and {len(MANY_ALIASES) - record_page.MAX_LIST_ITEMS:,} more" in record and len(record) < 100_000


def test_a_quote_page_heads_its_words_as_the_speakers_not_the_sites(ds, db):
    """A quote's page shows its words in quotation marks, said by its speaker (linked) as the source describes them;
    other records' pages have no such line."""
    for quote_id, text, speaker_id, described, speaker in db.execute(
            "select q.id, q.text, q.speaker_id, q.speaker_as_described, a.name from quotes q "
            "join actors a on a.id = q.speaker_id"):
        page = get(ds, f"/{DB}/quotes/{tilde_encode(quote_id)}").text
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.S).group(1)
        assert heading == f"“{escape(text)}”"
        said = re.search(r'<p class="said-by">(.*?)</p>', page, re.S).group(1)
        assert f'/{DB}/actors/{tilde_encode(speaker_id)}"' in said and str(escape(speaker)) in said
        assert said.endswith(f"described in the source as “{escape(described)}”.")
    assert 'class="said-by"' not in get(ds, f"/{DB}/events/us-iraq-two-phase-transition-agreement").text


def test_each_force_level_figure_says_which_sources_give_it(db):
    """force_levels_by_date gives each figure's sources (ids and labels, in id order) as its citations name them."""
    cited = {}
    for record_id, source_id, label in db.execute(
            "select c.record_id, c.source_id, s.label from citations c join sources s on s.id = c.source_id "
            "where c.record_type = 'force_levels' order by c.record_id, c.source_id"):
        ids, labels = cited.setdefault(record_id, ([], []))
        if source_id not in ids:
            ids.append(source_id)
            labels.append(label)
    rows = db.execute("select id, source_ids, sources from force_levels_by_date").fetchall()
    assert rows and {row[0]: (json.loads(row[1]), json.loads(row[2])) for row in rows} == cited
