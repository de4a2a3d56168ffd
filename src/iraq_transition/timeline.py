"""The timeline picture: every dated event as an SVG, occurred and announced/planned/expected side by side.

Pure string generation, deterministic (no timestamps, fixed number formatting), so that the
committed ``docs/timeline.svg`` can be checked for staleness. The time axis is broken in two: the
years before the transition are compressed on the left, the transition period (2024–2026) is
spread over most of the width, so that month-level plans and deadlines stay legible. Events are
taken one at a time (:class:`Timeline`), and only a lane's few listed ones are kept, so that the
build draws the timeline as it streams the records.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache, lru_cache
from html import escape
from typing import NamedTuple

from .fields import field_specs
from .layout import collection_plans, table
from .models import Event, FuzzyDate

FOCUS_START = dt.date(2024, 1, 1)
FOCUS_END = dt.date(2027, 1, 1)
FIRST_YEAR = 2003  # the axis starts here, or earlier if an event does

WIDTH = 1000
MARGIN = 16
LANE_GAP = 20
ROW_HEIGHT = 20
AXIS_HEIGHT = 54
COMPRESSED_SHARE = 0.24  # share of the plot width given to the years before FOCUS_START
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
CHAR_WIDTH = 0.53  # average glyph width as a share of the font size, to estimate label widths
LABEL_SIZE = 12
MAX_SQUEEZE = 0.85  # labels may be narrowed to this share of their width before they are cut
MAX_ROWS = 60  # a lane with more events shows how many fall in each month instead of one row each
HISTOGRAM_HEIGHT = 160
HISTOGRAM_NOTE = "too many to list; events per month (before 2024, each year's monthly average)"

STATUS_COLOURS = {  # Okabe-Ito palette: distinguishable with the common colour-vision deficiencies
    "occurred": "#0072B2",
    "announced": "#D55E00",
    "planned": "#CC79A7",
    "expected": "#009E73",
}
LANES = (
    ("occurred", "Occurred", ("occurred",)),
    ("ahead", "Announced, planned or expected", ("announced", "planned", "expected")),
)
OPEN_QUALIFIERS = ("no_later_than", "no_earlier_than")  # dates that are deadlines or minimum dates
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Mark:
    """One event as drawn: its extent on the axis and what its open ends mean."""

    event: Dated
    start: dt.date  # where the mark starts (a deadline's day when the start is open)
    end: dt.date
    open_start: bool  # drawn as an arrow running into ``start`` ("by September 2025")
    open_end: bool  # drawn as an arrow running on from ``end`` ("until at least September 2026")
    period: bool  # start to end is a duration (solid bar), not the uncertainty of one date (pale bar)
    deadline: str | None  # the deadline in words, when the event has one


@dataclass(frozen=True)
class Lane:
    """A band of the picture: one row per event, or, when there are too many, event counts by month."""

    key: str
    label: str
    count: int
    marks: list[Mark]  # sorted by date; empty when the lane shows counts
    bins: Counter  # (first day of the month or year, status) -> number of events; empty when listed

    @property
    def listed(self) -> bool:
        return self.count <= MAX_ROWS

    @property
    def height(self) -> float:
        return (len(self.marks) + 1) * ROW_HEIGHT if self.listed else HISTOGRAM_HEIGHT

    @property
    def heading(self) -> str:
        return f"{self.label} ({self.count})" if self.listed else f"{self.label} ({self.count:,}): {HISTOGRAM_NOTE}"

    def years(self) -> list[int]:
        """The first and last year the lane's events reach."""
        days = [d for m in self.marks for d in (m.start, m.end)] + [start for start, _ in self.bins]
        return [min(days).year, max(days).year] if days else []


class Dated(NamedTuple):
    """What the timeline draws of an event, as its row of the events table gives it (so that a build draws it from
    the rows it writes, and :func:`render_svg` from the records, alike)."""

    id: str
    title: str
    status: str
    date: FuzzyDate | None
    end_date: FuzzyDate | None


_DATE_PARTS = tuple(spec.name for spec in field_specs(FuzzyDate))
"""The fields of a date, each a column of the events table after the date's name (``date_value``, ...)."""


@cache
def _event_getters() -> tuple:
    """What makes an event's row of the events table of the record (the layout's getters)."""
    return next(plan.record.getters for plan in collection_plans() if plan.collection == Event.collection)


@cache
def _row_positions() -> tuple[list[int], dict[str, list[int]]]:
    """Where the events table's rows hold the id, title and status, and each part of the two dates."""
    names = [column.name for column in table(Event.collection).columns]
    dates = {name: [names.index(f"{name}_{part}") for part in _DATE_PARTS] for name in ("date", "end_date")}
    return [names.index(name) for name in ("id", "title", "status")], dates


def _dated(row: tuple) -> Dated:
    """The event of a row of the events table (its dates as the record gave them: they were checked then)."""
    named, dates = _row_positions()

    def date(positions: list[int]) -> FuzzyDate | None:
        parts = [row[at] for at in positions]
        return None if parts[0] is None else FuzzyDate.model_construct(**dict(zip(_DATE_PARTS, parts)))

    return Dated(*(row[at] for at in named), date(dates["date"]), date(dates["end_date"]))


def render_svg(dataset) -> str:
    """The timeline of ``dataset``'s dated events as a standalone SVG document."""
    timeline = Timeline()
    for _, event in dataset.items(Timeline.collection):
        timeline.add(event)
    return timeline.svg()


class Timeline:
    """The timeline drawn from events given one at a time; it keeps only what the picture needs of them."""

    collection = Event.collection
    """The collection whose records it draws."""

    def __init__(self) -> None:
        self.tallies = {key: _Tally() for key, _, _ in LANES}
        self.undated = 0

    def add(self, record: Event) -> None:
        """Draw the event ``record`` too."""
        self.add_row(tuple(getter(record) for getter in _event_getters()))

    def add_row(self, row: tuple) -> None:
        """Draw the event whose row of the events table is ``row`` too (an undated one is only counted)."""
        event = _dated(row)
        if event.date is None:
            self.undated += 1
            return
        for key, _, statuses in LANES:
            if event.status in statuses:
                self.tallies[key].add(event)

    def svg(self) -> str:
        """The timeline of the events added so far as a standalone SVG document."""
        lanes = [self.tallies[key].lane(key, label) for key, label, _ in LANES]
        return _draw(lanes, self.undated)


@dataclass
class _Tally:
    """A lane's dated events as they come: kept while few enough to list, counted by month and status in any case."""

    count: int = 0
    events: list[Dated] = field(default_factory=list)
    by_month: Counter = field(default_factory=Counter)  # ("YYYY-MM", status) -> number of events

    def add(self, event: Dated) -> None:
        self.count += 1
        first, last = _bounds(event.date)
        self.by_month[(first or last)[:7], event.status] += 1  # a deadline counts at its day
        if self.count <= MAX_ROWS:
            self.events.append(event)
        else:
            self.events.clear()

    def lane(self, key: str, label: str) -> Lane:
        """The lane: the events' marks when few enough to list, else their counts by month."""
        if self.count <= MAX_ROWS:
            marks = sorted(map(_mark, self.events), key=lambda m: (m.start, m.end, m.event.id))
            return Lane(key, label, self.count, marks, Counter())
        bins: Counter = Counter()
        for (month, status), count in self.by_month.items():
            start = _day(month + "-01")
            bins[start if start >= FOCUS_START else dt.date(start.year, 1, 1), status] += count
        return Lane(key, label, self.count, [], bins)


def _draw(lanes: list[Lane], undated: int) -> str:
    """The SVG document of ``lanes``, noting how many events are ``undated``."""
    years = [year for lane in lanes for year in lane.years()]
    axis = _Axis(min([FIRST_YEAR, *years]), max([FOCUS_END.year - 1, *years]) + 1)

    backgrounds: list[str] = []
    rows: list[str] = []
    top = AXIS_HEIGHT + 8
    for lane in lanes:
        backgrounds.append(
            f'<rect class="lane lane-{lane.key}" x="{MARGIN}" y="{_n(top)}" width="{WIDTH - 2 * MARGIN}" '
            f'height="{_n(lane.height)}" fill="#f4f4f4"/>'
        )
        rows.append(
            f'<text x="{MARGIN + 6}" y="{_n(top + 15)}" font-weight="600" fill="#333">{_xml(lane.heading)}</text>'
        )
        rows.extend(
            _draw_mark(mark, axis, top + row * ROW_HEIGHT + ROW_HEIGHT / 2)
            for row, mark in enumerate(lane.marks, start=1)
        )
        rows.extend(_draw_histogram(lane.bins, axis, top + ROW_HEIGHT + 4, top + lane.height - 4))
        top += lane.height + LANE_GAP
    plot_top, plot_bottom = AXIS_HEIGHT + 8, top - LANE_GAP
    legend_top = top
    height = legend_top + 46

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_n(height)}" width="{WIDTH}" '
        f'height="{_n(height)}" role="img" aria-labelledby="timeline-title timeline-desc" '
        f'font-family="{FONT}" font-size="{LABEL_SIZE}">',
        '<title id="timeline-title">Timeline of the coalition mission transition in Iraq and Syria</title>',
        f'<desc id="timeline-desc">{_xml(_description(lanes, undated))}</desc>',
        f'<rect width="{WIDTH}" height="{_n(height)}" fill="#ffffff"/>',
        *backgrounds,
        _draw_axis(axis, plot_top, plot_bottom),
        *_draw_deadlines([mark for lane in lanes for mark in lane.marks], axis, plot_top, plot_bottom),
        *rows,
        _draw_legend(legend_top, undated),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def _mark(event: Dated) -> Mark:
    """Where a dated ``event`` goes on the axis."""
    first, last = _bounds(event.date)
    open_start, open_end = first is None, last is None
    deadline = None
    if event.end_date is not None:
        end_first, end_last = _bounds(event.end_date)
        last, open_end = end_last or end_first, end_last is None
        if event.end_date.qualifier in OPEN_QUALIFIERS:
            deadline = _deadline_words(event.end_date, ends=True)
    if deadline is None and event.date.qualifier in OPEN_QUALIFIERS:
        deadline = _deadline_words(event.date, ends=False)
    start, end = sorted((_day(first or last), _day(last or first)))
    return Mark(event, start, end, open_start, open_end, event.end_date is not None, deadline)


def _bounds(date: FuzzyDate) -> tuple[str | None, str | None]:
    """A date's bounds as drawn: a 'circa' date is drawn over the days its value covers."""
    if date.qualifier == "circa":
        return _bounds_of(date.value, date.precision, "exact", None, None)
    return _bounds_of(date.value, date.precision, date.qualifier, date.earliest, date.latest)


@lru_cache(maxsize=4096)
def _bounds_of(value: str, precision: str, qualifier: str, earliest: str | None, latest: str | None):
    """FuzzyDate.bounds(), remembered: large datasets repeat the same few thousand dates."""
    return FuzzyDate(value=value, precision=precision, qualifier=qualifier, earliest=earliest, latest=latest).bounds()


def _day(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso)


def _deadline_words(date: FuzzyDate, *, ends: bool) -> str:
    """A deadline as the sources word it: 'by Sep 2025', 'until at least Sep 2026', 'by end of 2026'."""
    when = _date_words(date.value)
    if date.qualifier == "no_later_than":
        return f"by end of {when}" if date.precision == "year" else f"by {when}"
    return f"until at least {when}" if ends else f"not before {when}"


def _date_words(value: str) -> str:
    """'2025-09' -> 'Sep 2025'; '2024-09-27' -> '27 Sep 2024'; '2026' -> '2026'."""
    parts = value.split("-")
    if len(parts) == 1:
        return value
    month = MONTHS[int(parts[1]) - 1]
    return f"{month} {parts[0]}" if len(parts) == 2 else f"{int(parts[2])} {month} {parts[0]}"


class _Axis:
    """A broken time scale: years before the focus period compressed, the focus period wide."""

    def __init__(self, first_year: int, end_year: int) -> None:
        self.first = dt.date(first_year, 1, 1)
        self.last = dt.date(end_year, 1, 1)
        self.left = MARGIN + 8
        self.right = WIDTH - MARGIN - 8
        self.split = self.left + (self.right - self.left) * COMPRESSED_SHARE

    def x(self, day: dt.date) -> float:
        if day < FOCUS_START:
            share = (day - self.first).days / max(1, (FOCUS_START - self.first).days)
            return self.left + share * (self.split - self.left)
        share = (day - FOCUS_START).days / max(1, (self.last - FOCUS_START).days)
        return self.split + share * (self.right - self.split)

    def years(self) -> range:
        return range(self.first.year, self.last.year + 1)


def _draw_axis(axis: _Axis, top: float, bottom: float) -> str:
    """Year and month ticks, the focus period shaded, and the break between the two scales."""
    baseline = AXIS_HEIGHT
    focus_end = axis.x(FOCUS_END)
    out = [
        '<g class="axis" fill="#333">',
        f'<rect x="{_n(axis.split)}" y="{baseline - 40}" width="{_n(focus_end - axis.split)}" '
        f'height="{_n(bottom - baseline + 40)}" fill="#ffcc66" fill-opacity="0.16"/>',
        f'<text x="{_n((axis.split + focus_end) / 2)}" y="{baseline - 28}" text-anchor="middle" '
        f'font-weight="600">Transition period {FOCUS_START.year}–{FOCUS_END.year - 1} (expanded scale)</text>',
        f'<text x="{_n((axis.left + axis.split) / 2)}" y="{baseline - 28}" text-anchor="middle" fill="#666">'
        f"{axis.first.year}–{FOCUS_START.year - 1} (compressed scale)</text>",
        f'<line x1="{_n(axis.left)}" y1="{baseline}" x2="{_n(axis.right)}" y2="{baseline}" stroke="#333"/>',
    ]
    last_label = -100.0
    for year in axis.years():
        x = axis.x(dt.date(year, 1, 1))
        focus = dt.date(year, 1, 1) >= FOCUS_START
        room = x - last_label >= 34 and (focus or axis.split - x >= 34)  # focus years always get their label
        labelled = focus or ((year == axis.first.year or year % 5 == 0) and room)
        out.append(
            f'<line x1="{_n(x)}" y1="{baseline - (6 if labelled else 3)}" x2="{_n(x)}" y2="{baseline}" stroke="#333"/>'
        )
        if labelled:
            out.append(f'<text x="{_n(x)}" y="{baseline - 9}" text-anchor="middle">{year}</text>')
            last_label = x
        if focus and year < axis.last.year:
            out.append(f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom)}" stroke="#d9ccaa"/>')
            for month in (4, 7, 10):
                mx = axis.x(dt.date(year, month, 1))
                out.append(f'<line x1="{_n(mx)}" y1="{baseline - 3}" x2="{_n(mx)}" y2="{baseline}" stroke="#333"/>')
                out.append(
                    f'<text x="{_n(mx)}" y="{baseline - 8}" text-anchor="middle" font-size="10" fill="#666">'
                    f"{MONTHS[month - 1]}</text>"
                )
    out.append(  # the break: two slanted strokes where the scale changes
        f'<path d="M{_n(axis.split - 6)} {baseline + 5} l4 -10 M{_n(axis.split - 2)} {baseline + 5} l4 -10" '
        f'stroke="#333" stroke-width="1.5"/>'
    )
    out.append("</g>")
    return "\n".join(out)


def _draw_deadlines(marks: list[Mark], axis: _Axis, top: float, bottom: float) -> list[str]:
    """A dashed guide line across the lanes at every distinct deadline of a future event."""
    days = sorted({m.start if m.open_start else m.end for m in marks if m.deadline and m.event.status != "occurred"})
    return [
        f'<line class="deadline" x1="{_n(axis.x(day))}" y1="{_n(top)}" x2="{_n(axis.x(day))}" y2="{_n(bottom)}" '
        f'stroke="#777" stroke-dasharray="3 3"/>'
        for day in days
    ]


def _draw_mark(mark: Mark, axis: _Axis, y: float) -> str:
    """An event's mark (dot for a day, bar for a span, arrow for an open end) and its label."""
    colour = STATUS_COLOURS[mark.event.status]
    x1, x2 = axis.x(mark.start), axis.x(mark.end + dt.timedelta(days=1))
    shapes = []
    if mark.open_start:  # "by ...": a dashed arrow running into the deadline, a bar at the deadline
        shapes.append(
            f'<path d="M{_n(x2 - 40)} {_n(y)} H{_n(x2)}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>'
            f'<path d="M{_n(x2)} {_n(y - 7)} V{_n(y + 7)}" stroke="{colour}" stroke-width="4"/>'
        )
        x1 = min(x1, x2 - 40)
    elif mark.period:
        shapes.append(
            f'<rect x="{_n(x1)}" y="{_n(y - 4)}" width="{_n(max(x2 - x1, 3))}" height="8" rx="2" fill="{colour}"/>'
        )
    elif x2 - x1 < 8 or mark.open_end:
        shapes.append(f'<circle cx="{_n((x1 + x2) / 2)}" cy="{_n(y)}" r="5" fill="{colour}"/>')
    else:  # one date known only within a range: a pale bar over the range, not a duration
        shapes.append(
            f'<rect x="{_n(x1)}" y="{_n(y - 3)}" width="{_n(x2 - x1)}" height="6" rx="3" fill="{colour}" '
            f'fill-opacity="0.35" stroke="{colour}"/>'
        )
    if mark.open_end:  # "until at least ...": a dashed arrow running on past the date
        shapes.append(
            f'<path d="M{_n(x2)} {_n(y)} h30" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"/>'
            f'<path d="M{_n(x2 + 30)} {_n(y - 5)} l8 5 l-8 5 z" fill="{colour}"/>'
        )
        x2 += 38
    label = mark.event.title
    if mark.deadline and not _mentions(label, mark.deadline):
        label += f" — {mark.deadline}"
    room_right, room_left = WIDTH - MARGIN - (x2 + 8), x1 - 8 - MARGIN
    right = _text_width(label) <= room_right or room_right >= room_left
    x, anchor = (x2 + 8, "start") if right else (x1 - 8, "end")
    text = f'<text x="{_n(x)}" y="{_n(y + 4)}" text-anchor="{anchor}"{_squeeze(label, max(room_right, room_left))}>'
    text += f"{_xml(_fit(label, max(room_right, room_left) / MAX_SQUEEZE))}</text>"
    return (
        f'<g class="event status-{mark.event.status}" data-id="{_xml(mark.event.id)}">'
        f'<title>{_xml(_summary(mark))}</title>{"".join(shapes)}{text}</g>'
    )


def _draw_histogram(bins: Counter, axis: _Axis, top: float, bottom: float) -> list[str]:
    """Bars of event counts per month (per year before the focus period), stacked by status."""
    per_month = Counter()  # a year's bin is drawn as its average month, so that bar heights compare
    for (start, _status), count in bins.items():
        per_month[start] += count / _months(start)
    scale = (bottom - top) / max(per_month.values(), default=1)
    out = []
    for start in sorted(per_month):
        x1, x2 = axis.x(start), axis.x(_bin_end(start))
        when = str(start.year) if start < FOCUS_START else f"{MONTHS[start.month - 1]} {start.year}"
        words = ", ".join(f"{bins[start, status]:,} {status}" for status in STATUS_COLOURS if bins[start, status])
        bars, y = [], bottom
        for status, colour in STATUS_COLOURS.items():
            if count := bins[start, status]:
                height = count / _months(start) * scale
                y -= height
                bars.append(
                    f'<rect x="{_n(x1)}" y="{_n(y)}" width="{_n(max(x2 - x1 - 1, 1))}" '
                    f'height="{_n(height)}" fill="{colour}"/>'
                )
        out.append(f'<g class="bin"><title>{when}: {words}</title>{"".join(bars)}</g>')
    return out


def _months(start: dt.date) -> int:
    """How many months the bin starting at ``start`` spans."""
    return 12 if start < FOCUS_START else 1


def _bin_end(start: dt.date) -> dt.date:
    """The first day after the bin starting at ``start`` (a year before the focus period, else a month)."""
    if start < FOCUS_START:
        return dt.date(start.year + 1, 1, 1)
    return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _text_width(text: str) -> float:
    return len(text) * LABEL_SIZE * CHAR_WIDTH


def _squeeze(label: str, room: float) -> str:
    """A ``textLength`` attribute narrowing a label slightly when it would overflow ``room``."""
    width = _text_width(label)
    return f' textLength="{_n(room)}" lengthAdjust="spacingAndGlyphs"' if width > room else ""


def _fit(label: str, room: float) -> str:
    """``label``, cut with an ellipsis when it would not fit into ``room`` (the full text is in the tooltip)."""
    if _text_width(label) <= room:
        return label
    keep = max(8, int(room / (LABEL_SIZE * CHAR_WIDTH)) - 1)
    return label[:keep].rstrip() + "…"


def _mentions(title: str, deadline: str) -> bool:
    """Whether a title already states its deadline ('... by September 2025' for 'by Sep 2025')."""
    words = deadline.split()
    year, month = words[-1], words[-2] if len(words) > 1 and words[-2] in MONTHS else None
    return year in title and (month is None or month in title) and any(w in title for w in ("by ", "until", "least"))


def _draw_legend(top: float, undated: int) -> str:
    """Status colours and the meaning of the mark shapes."""
    items = [
        (f'<circle cx="{{x}}" cy="{_n(top + 10)}" r="5" fill="{colour}" transform="translate(11 0)"/>', status)
        for status, colour in STATUS_COLOURS.items()
    ] + [
        (f'<rect x="{{x}}" y="{_n(top + 6)}" width="22" height="8" rx="2" fill="#555"/>', "period"),
        (
            f'<rect x="{{x}}" y="{_n(top + 7)}" width="22" height="6" rx="3" fill="#555" fill-opacity="0.35" '
            f'stroke="#555"/>',
            "date known only within a range",
        ),
        (f'<path d="M{{x}} {_n(top + 10)} h22" stroke="#555" stroke-width="2" stroke-dasharray="4 3"/>', "open-ended"),
        (f'<path d="M{{x}} {_n(top + 10)} h18 M{{x}} {_n(top + 2)} m18 0 v16" stroke="#555" stroke-width="2"/>', "deadline"),
    ]
    out = ['<g class="legend" fill="#333">']
    x = MARGIN + 6.0
    for shape, words in items:
        out.append(shape.format(x=_n(x)))
        out.append(f'<text x="{_n(x + 28)}" y="{_n(top + 14)}">{_xml(words)}</text>')
        x += 28 + _text_width(words) + 14
    if undated:
        out.append(
            f'<text x="{MARGIN + 6}" y="{_n(top + 36)}" fill="#666">'
            f"{undated} event{'s' if undated != 1 else ''} without a date not shown.</text>"
        )
    out.append("</g>")
    return "\n".join(out)


def _summary(mark: Mark) -> str:
    """One line of text for an event: title, status and date as the sources give it."""
    event = mark.event
    when = _date_words(event.date.value)
    if event.date.qualifier == "circa":
        when = f"about {when}"
    if event.end_date is not None:
        when += f" to {_date_words(event.end_date.value)}"
    deadline = f" ({mark.deadline})" if mark.deadline else ""
    return f"{event.title}: {event.status}, {when}{deadline}"


def _description(lanes: list[Lane], undated: int) -> str:
    """The text alternative: every event shown, lane by lane."""
    lines = [
        "Events of the 2024–2026 transition of the US-led coalition's military mission in Iraq and Syria, "
        "with earlier context, on a time axis that compresses the years before 2024."
    ]
    for lane in lanes:
        listing = "; ".join(_summary(m) for m in lane.marks) or "none"
        lines.append(f"{lane.label}: {listing if lane.listed else lane.heading}.")
    if undated:
        lines.append(f"{undated} events without a date are not shown.")
    return " ".join(lines)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold, even as character references."""


def _xml(text: str) -> str:
    """``text`` as XML 1.0 character data or attribute value: markup escaped, and U+FFFD for what XML cannot hold."""
    return escape(_NOT_XML.sub("\ufffd", text))


def _n(value: float) -> str:
    """A coordinate with at most one decimal and no trailing zeros, so the output is stable."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
