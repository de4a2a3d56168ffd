"""The published site in a real headless Chromium: home page and timeline, the bases map, search, citations.

Requests to anything but the local server are aborted (the machine is offline; map tiles come from the
internet). Screenshots land in tests/screenshots/ (not committed) for a person to look at.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import urllib.parse
from pathlib import Path

import pytest

from iraq_transition import build, serve, site_config

from conftest import REPO, copy_repository, start_server, wait_for

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "tests" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
DB = serve.DATABASE


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run `make chromium` (installs Debian's chromium)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``iraq-transition serve`` on a built copy of the repository; yields (base URL, database path)."""
    root = copy_repository(tmp_path_factory.mktemp("browser"))
    process, base = start_server(root)  # builds first: the copy has no build yet
    try:
        wait_for(base + "/", process)
        yield base, root / "build" / build.DATABASE
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _local_page(browser, width: int):
    """A fresh page ``width`` pixels wide that aborts every request to a host other than the local server."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    blocked: list[str] = []

    def only_local(route):
        if urllib.parse.urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.blocked = blocked
    yield page
    context.close()


@pytest.fixture
def page(browser):
    """A fresh page as wide as a laptop's screen (1280 px), only the local server reached."""
    yield from _local_page(browser, 1280)


@pytest.fixture
def narrow_page(browser):
    """A fresh page as wide as a phone's screen (400 px), only the local server reached."""
    yield from _local_page(browser, 400)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_home_page_shows_the_title_and_the_timeline(server, page):
    base, _ = server
    page.goto(base + "/")
    assert page.locator("h1").inner_text() == site_config.TITLE
    picture = page.locator("figure.timeline svg")
    picture.wait_for(state="visible")
    box = picture.bounding_box()
    assert box["width"] > 300 and box["height"] > 200
    assert page.locator("figure.timeline svg g.event").count() > 0
    screenshot(page, "home")


def test_bases_map_shows_a_marker_for_every_located_base(server, page):
    base, database = server
    with sqlite3.connect(database) as connection:
        located = connection.execute("select count(*) from bases where latitude is not null").fetchone()[0]
    assert located > 0
    page.goto(f"{base}/{DB}/bases")
    page.locator(".leaflet-container").wait_for(state="visible")
    page.locator(".leaflet-marker-icon").first.wait_for(state="visible")
    # A cluster icon stands for as many markers as the number it shows.
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('.leaflet-marker-icon')).reduce(
            (sum, icon) => sum + (icon.classList.contains('marker-cluster') ? parseInt(icon.textContent, 10) : 1), 0)"""
    )
    assert shown == located
    assert page.blocked and all("127.0.0.1" not in url for url in page.blocked)  # the tiles, kept offline
    screenshot(page, "bases-map")


def test_quote_search_shows_the_quote(server, page):
    base, database = server
    phrase = "never quite out"
    with sqlite3.connect(database) as connection:
        (text,) = connection.execute("select text from quotes where text like ?", (f"%{phrase}%",)).fetchone()
    page.goto(f"{base}/{DB}/quotes?_search={urllib.parse.quote(phrase)}")
    cell = page.locator("td.col-text", has_text=phrase)
    cell.first.wait_for(state="visible")
    assert cell.count() == 1 and cell.inner_text() == text
    screenshot(page, "quote-search")


def test_record_page_lists_its_citations(server, page):
    base, database = server
    with sqlite3.connect(database) as connection:
        record_id, count = connection.execute(
            "select record_id, count(*) from citations where record_type = 'events' and part = '' "
            "group by record_id order by count(*) desc, record_id limit 1"
        ).fetchone()
        quotes = [q for (q,) in connection.execute(
            "select quote from citations where record_type = 'events' and record_id = ? order by part, position",
            (record_id,),
        )]
    page.goto(f"{base}/{DB}/events/{urllib.parse.quote(record_id)}")
    items = page.locator("section.record-citations li")
    items.first.wait_for(state="visible")
    assert items.count() == len(quotes) >= count
    assert [items.nth(i).locator("blockquote mark.quote").inner_text() for i in range(len(quotes))] == quotes
    screenshot(page, "record-citations")


def test_events_page_shows_every_event_with_its_title_date_status_type_and_place(server, page):
    """The table rows come from pages.table_body_html: they show, and Datasette's column menus still attach."""
    base, database = server
    with sqlite3.connect(database) as connection:
        titles = sorted(t for (t,) in connection.execute("select title from events"))
    assert 0 < len(titles) <= 100  # one page
    page.goto(f"{base}/{DB}/events")
    rows = page.locator("table.rows-and-columns tbody tr")
    rows.first.wait_for(state="visible")
    assert rows.count() == len(titles)
    assert sorted(page.locator("tbody td.col-title").all_inner_texts()) == titles
    for column in ("date_value", "status", "event_type", "place_country", "place_name"):
        assert page.locator(f"tbody td.col-{column}").count() == len(titles), column
    headers = page.locator("table.rows-and-columns thead th")
    assert page.locator("thead th svg.dropdown-menu-icon").count() == headers.count() > 10  # table.js ran
    screenshot(page, "events-table")


def matching_tables(connection, word: str) -> list[str]:
    """The tables with full-text search that hold ``word``."""
    return [table for table in site_config.FULL_TEXT
            if connection.execute(f"select 1 from {table}_fts where {table}_fts match ?", (word,)).fetchone()]


def test_search_across_all_tables_from_any_page_leads_to_the_records(server, page):
    base, database = server
    page.goto(f"{base}/{DB}/bases")
    box = page.locator("form.site-search input[type=search]")
    box.fill("withdrawal")
    box.press("Enter")
    page.wait_for_url("**/-/find?q=withdrawal")
    with sqlite3.connect(database) as connection:
        matching = matching_tables(connection, "withdrawal")
        (quote_id, quote) = connection.execute(
            "select id, text from quotes where rowid in (select rowid from quotes_fts where quotes_fts match 'withdrawal') "
            "order by rowid limit 1").fetchone()
    assert len(matching) >= 3
    assert [section.get_attribute("id") for section in page.locator("section.find-table").all()] == [f"find-{t}" for t in matching]
    marks = page.locator("section.find-table p.snippet mark")
    assert marks.count() >= len(matching) and marks.first.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.locator("form.site-search input[type=search]").input_value() == "withdrawal"
    screenshot(page, "find")
    page.locator("#find-quotes a.hit", has_text=quote).click()
    page.wait_for_url(f"**/{DB}/quotes/{quote_id}")
    assert page.locator("h1").inner_text() == f"“{quote}”"  # the words are the speaker's: in quotation marks


def test_narrow_search_page_fits_the_screen(server, narrow_page):
    base, _ = server
    for query in ("withdrawal", "x" * 150):
        narrow_page.goto(f"{base}/-/find?" + urllib.parse.urlencode({"q": query}))
        narrow_page.locator("form.find").wait_for(state="visible")
        assert narrow_page.evaluate("document.documentElement.scrollWidth") <= 400, query
    narrow_page.goto(f"{base}/-/find?q=withdrawal")
    assert narrow_page.locator("section.find-table a.hit").count() > 10
    assert narrow_page.locator("footer").inner_text().count("CC-BY-4.0") == 1
    screenshot(narrow_page, "find-narrow")


def test_the_former_search_address_lands_on_the_find_page_with_its_results(server, page):
    base, database = server
    page.goto(f"{base}/-/search?q=withdrawal&_search_tables=quotes")
    page.wait_for_url(f"{base}/-/find?q=withdrawal")
    with sqlite3.connect(database) as connection:
        matching = matching_tables(connection, "withdrawal")
        (quote,) = connection.execute(
            "select text from quotes where rowid in (select rowid from quotes_fts where quotes_fts match 'withdrawal') "
            "order by rowid limit 1").fetchone()
    assert len(matching) >= 3
    assert [section.get_attribute("id") for section in page.locator("section.find-table").all()] == [f"find-{t}" for t in matching]
    assert page.locator("#find-quotes a.hit", has_text=quote).is_visible()
    assert page.locator("form.site-search input[type=search]").input_value() == "withdrawal"
    screenshot(page, "find-from-former-search")


def test_a_citation_leads_to_its_span_highlighted_in_its_article(server, page):
    base, database = server
    with sqlite3.connect(database) as connection:
        source, start, end, quote = connection.execute(
            "select source_id, start_offset, end_offset, quote from citations "
            "where record_type = 'quotes' and record_id = 'singh-us-not-withdrawing-from-iraq'").fetchone()
    page.goto(f"{base}/{DB}/quotes/singh-us-not-withdrawing-from-iraq")
    assert page.locator("tr.field-speaker_id td a").inner_text() == "Sabrina Singh"  # the speaker, by name
    page.locator("a.evidence-link").first.click()
    page.wait_for_url(f"**/{DB}/sources/{source}#span-{start}-{end}")
    target = page.locator(".article mark.target")
    target.first.wait_for(state="visible")
    assert " ".join(quote.split()) == " ".join("".join(target.all_inner_texts()).split())
    assert page.locator(".article mark.target").first.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    screenshot(page, "evidence-view")


def test_narrow_home_page_timeline_links_events_and_lists_the_undated(server, narrow_page):
    base, database = server
    narrow_page.goto(base + "/")
    figure = narrow_page.locator("figure.timeline")
    figure.wait_for(state="visible")
    assert narrow_page.evaluate("document.documentElement.scrollWidth") <= 400  # the page fits; the picture scrolls
    links = narrow_page.locator("figure.timeline svg a g.event")
    with sqlite3.connect(database) as connection:
        dated = connection.execute("select count(*) from events where date_value is not null").fetchone()[0]
        undated = [t for (t,) in connection.execute("select title from events where date_value is null")]
    assert links.count() == dated
    assert sorted(narrow_page.locator("#undated-events li a").all_inner_texts()) == sorted(undated)
    first = narrow_page.locator("figure.timeline svg a").first
    event_id = first.locator("g.event").get_attribute("data-id")
    assert first.get_attribute("href").endswith(f"/{DB}/events/{event_id}")
    screenshot(narrow_page, "home-narrow")


def test_map_popups_name_the_place_its_country_and_posture(server, page):
    base, database = server
    page.goto(f"{base}/{DB}/bases")
    page.locator(".leaflet-marker-icon").first.wait_for(state="visible")
    with sqlite3.connect(database) as connection:
        located = connection.execute("select count(*) from bases where latitude is not null").fetchone()[0]
    if page.locator(".leaflet-marker-icon.marker-cluster").count():
        page.locator(".leaflet-marker-icon.marker-cluster").first.click()
    page.locator(".leaflet-marker-icon:not(.marker-cluster)").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")
    text = popup.inner_text()
    with sqlite3.connect(database) as connection:
        names = {name: (country, posture) for name, country, posture in connection.execute(
            "select b.name, b.country, p.posture from bases b join base_postures p on p.base_id = b.id")}
    name = next(name for name in names if name in text)
    assert names[name][0] in text and names[name][1].replace("_", " ") in text
    assert "notes" not in text and located
    screenshot(page, "map-popup")


def narrow_pages(database) -> list[str]:
    """Pages with SQL, a table's schema or list columns: canned queries, the corroboration tables and a row of
    one, the codebook."""
    with sqlite3.connect(database) as connection:
        claim = connection.execute("select record_type, record_id, part, claim from claim_corroboration "
                                   "order by record_type, record_id, part, claim limit 1").fetchone()
    from datasette.utils import tilde_encode

    row = f"/{DB}/claim_corroboration/" + ",".join(map(tilde_encode, claim))
    queries = [f"/{DB}/{name}" for name in site_config.QUERIES]  # with parameters, their form and their SQL
    return [*queries, f"/{DB}/corroboration", f"/{DB}/claim_corroboration", f"/{DB}/events", row, "/codebook"]


def test_narrow_pages_with_sql_schemas_and_lists_fit_the_screen(server, narrow_page):
    """SQL and schemas wrap or scroll inside their own box: the page never scrolls sideways."""
    base, database = server
    wide = {}
    for path in narrow_pages(database):
        narrow_page.goto(base + path)
        narrow_page.locator("footer").wait_for(state="visible")
        if (width := narrow_page.evaluate("document.documentElement.scrollWidth")) > 400:
            wide[path] = width
    assert not wide
    assert narrow_page.locator("pre code").first.evaluate("e => e.parentElement.scrollWidth > e.parentElement.clientWidth")
    narrow_page.goto(f"{base}/{DB}/quotes_by_speaker?speaker=")
    assert narrow_page.locator("pre#sql-query").bounding_box()["width"] <= 400
    screenshot(narrow_page, "query-narrow")
    narrow_page.goto(f"{base}/{DB}/corroboration")
    narrow_page.locator("pre.wrapped-sql").scroll_into_view_if_needed()
    screenshot(narrow_page, "schema-narrow")


def test_on_a_narrow_screen_each_cell_is_labelled_by_its_own_column(server, narrow_page):
    """Datasette labels a narrow screen's cells in the database's column order; the site shows its columns in its own
    (notes last): each cell's label is its column's heading, on every table page whose order differs."""
    base, _ = server
    wrong = {}
    for table in ("sources", "actors", "events", "quotes", "force_levels", "bases", "force_levels_by_date",
                  "citations", "quotes_with_speakers"):
        narrow_page.goto(f"{base}/{DB}/{table}")
        narrow_page.locator("table.rows-and-columns tbody tr").first.wait_for(state="attached")
        headings = narrow_page.evaluate("() => [...document.querySelectorAll('table.rows-and-columns thead th')]"
                                 ".map(th => th.dataset.column)")
        labels = narrow_page.evaluate("() => [...document.querySelector('table.rows-and-columns tbody tr').children]"
                               ".map(td => JSON.parse(getComputedStyle(td, '::before').content))")
        if labels != headings:
            wrong[table] = [(label, heading) for label, heading in zip(labels, headings) if label != heading][:3]
    assert not wrong
    narrow_page.goto(f"{base}/{DB}/events")
    screenshot(narrow_page, "events-narrow")


def test_facet_values_break_between_words_not_within_them(server, page):
    """A source's label (its headline, or its dates and file) in the facets reads whole words."""
    base, _ = server
    page.goto(f"{base}/{DB}/citations")
    page.locator(".facet-info li a").first.wait_for(state="visible")
    split = page.evaluate("""() => {
        const split = [];
        for (const link of document.querySelectorAll(".facet-info li a")) {
            const text = link.firstChild;
            for (const word of text.textContent.matchAll(/[^\\s-]{1,20}(?=[\\s-]|$)/g)) {  // a line may end at a hyphen
                const range = document.createRange();
                range.setStart(text, word.index);
                range.setEnd(text, word.index + word[0].length);
                if (range.getClientRects().length > 1) split.push(word[0]);
            }
        }
        return split;
    }""")
    assert page.locator(".facet-info li a").count() >= 5 and not split
