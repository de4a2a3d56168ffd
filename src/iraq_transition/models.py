"""The Pydantic models: the one schema source of the dataset.

Everything downstream (JSON Schema, the Frictionless Table Schemas in
``datapackage.json``, the SQLite tables and the Datasette column descriptions)
is generated from these classes. Every field carries a description, because it
becomes column documentation.

Reference fields (ids of other records) are marked with :class:`References` in
their ``Annotated`` metadata so that generators can find foreign keys.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

SCHEMA_VERSION = "1"
"""Bump when a change to these models changes what a record means or how it is stored."""

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
DATE_VALUE_PATTERN = r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?$"
ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
NOT_IN_TEXT = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff"
TEXT_PATTERN = rf"^[^{NOT_IN_TEXT}]*$"
"""Text holds no control character but tab and line feed, no bidirectional override or isolate (which make
text display in another order than it is stored: "005,2 dnuora" shown as "around 2,500"), and nothing XML 1.0
cannot hold (the timeline is SVG): U+FFFE and U+FFFF. (Lone surrogates, which XML cannot hold either, are no
text to Pydantic at all.)"""
_NOT_TEXT = re.compile(rf"[{NOT_IN_TEXT}\ud800-\udfff]")


@dataclass(frozen=True)
class References:
    """Marks a field whose value is the id of a record in ``collection``."""

    collection: str


def text_problem(text: str) -> str:
    """Which character of ``text`` :data:`TEXT_PATTERN` refuses, where, and what to do."""
    match = _NOT_TEXT.search(text)
    char = match.group()
    category = unicodedata.category(char)
    kind = {"Cc": "a control character", "Cs": "half of a surrogate pair", "Cf": "a bidirectional override"}.get(
        category, "a noncharacter")
    advice = {
        "Cc": " (tab and line breaks are the only control characters text may hold)",
        "Cf": " (it makes the text display in another order than it is stored)",
    }.get(category, "")
    return f"U+{ord(char):04X} ({kind}) at character {match.start() + 1} is not allowed in text: remove it{advice}"


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=120)]
SourceId = Annotated[Slug, References("sources")]
ActorId = Annotated[Slug, References("actors")]
EventId = Annotated[Slug, References("events")]
QuoteId = Annotated[Slug, References("quotes")]
BaseId = Annotated[Slug, References("bases")]
PlainText = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
"""A text field: any words, without the characters :data:`TEXT_PATTERN` refuses."""
Text = Annotated[str, StringConstraints(min_length=1, pattern=TEXT_PATTERN)]
"""A text field that must not be empty."""
CountryCode = Annotated[str, StringConstraints(pattern=COUNTRY_PATTERN)]


Count = Annotated[int, Strict()]
"""A whole number: neither ``true`` (which Pydantic would take for 1) nor ``2500.0``, as in the JSON Schema."""
Degrees = Annotated[float, Strict()]
"""A number of decimal degrees (``33`` or ``33.5``), never ``true``."""


class Model(BaseModel):
    """Base for every model: unknown fields are errors, not silently dropped. A model's validator is built when it is
    first used, not on import: a run that checks one changed event builds the event's alone."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


# --------------------------------------------------------------------------- shared parts


SupportName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
"""A value of a record or part, as ``supports`` names it: a field (``date``), a field of a nested value
(``place.country``), or an item of a list by its key (``participants.united-states``, ``aliases.IS``)."""


class Citation(Model):
    """A verbatim span of a source's text that supports the record (W3C TextQuoteSelector)."""

    source: SourceId = Field(description="Id of the source whose text contains the quoted span.")
    quote: Text = Field(
        description="The exact words of the source that support the record, copied verbatim. "
        "Matching ignores only differences of Unicode normalisation, whitespace and typographic quotes."
    )
    prefix: PlainText | None = Field(
        default=None,
        description="Text immediately before the span, to pick one occurrence when the span appears more than once.",
    )
    suffix: PlainText | None = Field(
        default=None,
        description="Text immediately after the span, to pick one occurrence when the span appears more than once.",
    )
    supports: list[SupportName] = Field(
        min_length=1,
        description="The values of the record (or of the part the citation belongs to) that the span's words "
        "support: fields (date, status), fields of a nested value (place.country), list items by their key "
        "(participants.united-states, aliases.IS). Every populated factual value needs at least one.",
    )


class EditorialValue(Model):
    """Values no cited passage gives (from outside the seed sources, or inferred by the editors from several of them), with where they come from."""

    fields: list[SupportName] = Field(
        min_length=1, description="The values, named as citations' supports name them; a part's as 'postures.0.reported'."
    )
    basis: Text = Field(description="Where the values come from, and why no passage of a seed source gives them.")


EditorialValues = Annotated[
    list[EditorialValue],
    Field(default_factory=list, description="Values no cited passage gives (from outside the seed sources, or inferred from several), each with its basis."),
]

Citations = Annotated[
    list[Citation],
    Field(min_length=1, description="Where the record comes from: one or more verbatim spans of source texts."),
]

DatePrecision = Literal["day", "month", "year"]
DateQualifier = Literal["exact", "no_later_than", "no_earlier_than", "circa"]


class FuzzyDate(Model):
    """A date as precise as the source makes it, never more (no midpoint imputation)."""

    value: Annotated[str, StringConstraints(pattern=DATE_VALUE_PATTERN)] = Field(
        description="The date as far as the source gives it: YYYY, YYYY-MM or YYYY-MM-DD."
    )
    precision: DatePrecision = Field(
        description="Granularity of value: day (YYYY-MM-DD), month (YYYY-MM) or year (YYYY)."
    )
    qualifier: DateQualifier = Field(
        default="exact",
        description="How value bounds the real date: exact (within value), no_later_than ('by September 2025'), "
        "no_earlier_than ('until at least September 2026'), circa (about).",
    )
    earliest: Annotated[str, StringConstraints(pattern=ISO_DATE_PATTERN)] | None = Field(
        default=None,
        description="Earliest possible day (YYYY-MM-DD) when the text narrows it further, e.g. 'earlier this year'.",
    )
    latest: Annotated[str, StringConstraints(pattern=ISO_DATE_PATTERN)] | None = Field(
        default=None, description="Latest possible day (YYYY-MM-DD) when the text narrows it further."
    )

    @model_validator(mode="after")
    def _consistent(self) -> FuzzyDate:
        expected = {4: "year", 7: "month", 10: "day"}[len(self.value)]
        if self.precision != expected:
            raise ValueError(
                f"precision is {self.precision!r} but value {self.value!r} is a {expected}; "
                f"set precision to {expected!r} or change value"
            )
        for name in ("value", "earliest", "latest"):
            text = getattr(self, name)
            if text is not None and not _is_real_date(text):
                raise ValueError(f"{name} {text!r} is not a real calendar date")
        if self.earliest and self.latest and self.earliest > self.latest:
            raise ValueError(f"earliest {self.earliest} is after latest {self.latest}; swap them")
        return self

    def bounds(self) -> tuple[str | None, str | None]:
        """The earliest and latest possible day (ISO), like UCDP's date_start/date_end; None when open."""
        first, last = _span(self.value)
        if self.qualifier == "no_later_than":
            first = None
        elif self.qualifier == "no_earlier_than":
            last = None
        elif self.qualifier == "circa":
            first = last = None
        if self.earliest and (first is None or self.earliest > first):
            first = self.earliest
        if self.latest and (last is None or self.latest < last):
            last = self.latest
        return first, last

    def sort_day(self) -> str:
        """The day to sort by (ISO): the earliest possible day where one is known; else (a deadline, 'by September
        2025', or circa) the first day of value, or the latest possible day if that is earlier. Never a bound."""
        first, last = self.bounds()
        if first is not None:
            return first
        day = _span(self.value)[0]
        return min(day, last) if last else day


def _is_real_date(text: str) -> bool:
    parts = [int(p) for p in text.split("-")] + [1, 1]
    try:
        dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        return False
    return True


def _span(value: str) -> tuple[str, str]:
    """First and last day covered by a YYYY, YYYY-MM or YYYY-MM-DD value."""
    if len(value) == 10:
        return value, value
    if len(value) == 7:
        year, month = int(value[:4]), int(value[5:])
        next_month = dt.date(year + month // 12, month % 12 + 1, 1)
        return f"{value}-01", (next_month - dt.timedelta(days=1)).isoformat()
    return f"{value}-01-01", f"{value}-12-31"


class Record(Model):
    """Fields shared by every record."""

    id: Slug = Field(description="Stable, human-readable identifier (lowercase slug); equal to the file name's stem.")
    notes: PlainText | None = Field(default=None, description="Editorial notes: caveats, defects, how sources differ.")

    collection: ClassVar[str]
    EDITORIAL: ClassVar[dict[str, str]] = {"id": "an identifier", "notes": "the editors' notes"}
    """The fields that need no citation, being the editors' by nature, and why: ids, notes, labels,
    classifications in the dataset's vocabularies, links between records. Every other populated value needs a
    citation whose ``supports`` names it, or an ``editorial`` entry with its basis (:mod:`.provenance`)."""


# --------------------------------------------------------------------------- sources


class SharedUpstream(Model):
    """A suspicion, not a fact: another source seems to draw on the same earlier report as this one."""

    source: SourceId = Field(description="Id of the other source.")
    basis: Text = Field(description="Why the editors suspect a shared upstream report (the parallel passages).")


class Source(Record):
    """A news article in ``seeds/``, archived so that every citation can be checked."""

    collection: ClassVar[str] = "sources"

    file: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+\.txt$")] = Field(
        description="File name of the archived text in seeds/."
    )
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of the archived file's bytes; validation fails if the file changes."
    )
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(?:-[A-Z]{2})?$")] = Field(
        description="Language of the text (BCP 47 tag, e.g. en or en-GB)."
    )
    published: FuzzyDate | None = Field(
        default=None, description="Date of publication as far as the text tells, with precision; null if unknown."
    )
    publisher: PlainText | None = Field(default=None, description="Publisher, when identified; null if unknown.")
    headline: PlainText | None = Field(default=None, description="Headline, when identified; null if unknown.")
    url: Annotated[str, StringConstraints(pattern=rf"^https?://[^\s{NOT_IN_TEXT}]+$")] | None = Field(
        default=None, description="Address of the public copy the text was matched to; null if unknown."
    )
    identification: PlainText | None = Field(
        default=None, description="Basis for publisher, headline and URL (how and when they were identified)."
    )
    same_story_as: SourceId | None = Field(
        default=None,
        description="Id of the source this text rewrites or copies. Corroboration counts the two as one "
        "independent report.",
    )
    shared_upstream: list[SharedUpstream] = Field(
        default_factory=list,
        description="Sources suspected of drawing on the same earlier report as this one (a judgement, with its "
        "basis). Corroboration gives counts both treating them as independent and treating them as one.",
    )


# --------------------------------------------------------------------------- actors

ActorKind = Literal[
    "person",
    "state",
    "government_body",
    "armed_force",
    "coalition",
    "international_organisation",
    "non_state_armed_group",
    "media",
]


class Position(Model):
    """A position or title an actor holds, as a source reports it."""

    EDITORIAL: ClassVar[dict[str, str]] = {}

    title: Text = Field(description="The title as the source words it, e.g. 'Deputy Pentagon Press Secretary'.")
    organisation: ActorId | None = Field(default=None, description="Id of the body the position belongs to.")
    as_of: FuzzyDate | None = Field(default=None, description="When the source reports the actor holding it.")
    citations: Citations


class Actor(Record):
    """A person, state, body, force or group that acts, speaks or is spoken of."""

    collection: ClassVar[str] = "actors"
    EDITORIAL: ClassVar[dict[str, str]] = Record.EDITORIAL | {"kind": "a classification in the dataset's vocabulary"}

    name: Text = Field(description="Name as most sources give it; for unnamed speakers, the description used.")
    aliases: list[Text] = Field(default_factory=list, description="Other names and spellings used by the sources.")
    kind: ActorKind = Field(description="What sort of actor this is.")
    unnamed: bool = Field(
        default=False,
        description="True for an actor the sources do not name ('a senior US official'). Never merge an "
        "unnamed actor with a named person.",
    )
    affiliation: ActorId | None = Field(
        default=None, description="Id of the state, body or group the actor belongs to or acts for."
    )
    positions: list[Position] = Field(default_factory=list, description="Positions or titles as reported.")
    editorial: EditorialValues
    citations: Citations


# --------------------------------------------------------------------------- events

EventType = Literal[
    "agreement",
    "statement",
    "briefing",
    "interview",
    "negotiation",
    "visit",
    "mission_change",
    "force_movement",
    "military_operation",
    "attack",
    "interception",
    "territorial_change",
    "formation",
]
EventStatus = Literal["occurred", "announced", "planned", "expected"]
ParticipantRole = Literal[
    "party", "initiator", "announcer", "agent", "target", "subject", "host", "overseer"
]
EventRelation = Literal["implements", "part_of", "result_of", "supersedes", "related"]
PlacePrecision = Literal["site", "city", "province", "country", "region"]


class Participant(Model):
    """An actor taking part in an event, and how."""

    actor: ActorId = Field(description="Id of the participating actor.")
    role: ParticipantRole = Field(
        description="Role in the event; roles describe what the sources report, not who is to blame."
    )


class Place(Model):
    """Where an event happens or applies."""

    country: CountryCode | None = Field(default=None, description="ISO 3166-1 alpha-2 country code, e.g. IQ, SY.")
    name: PlainText | None = Field(default=None, description="Place name as the source gives it.")
    base: BaseId | None = Field(default=None, description="Id of the base or site, when the event concerns one.")
    precision: PlacePrecision | None = Field(
        default=None, description="How exactly the place is known: site, city, province, country or region."
    )


class EventLink(Model):
    """A typed link from this event to another."""

    event: EventId = Field(description="Id of the linked event.")
    relation: EventRelation = Field(
        description="implements (this event carries out the linked plan), part_of, result_of, supersedes, related."
    )


class Framing(Model):
    """One way the sources word an event ('withdrawal', 'transition'), and whose words they are."""

    EDITORIAL: ClassVar[dict[str, str]] = {}

    wording: Text = Field(description="The words used, verbatim, e.g. 'not a withdrawal' or 'withdrawal plan'.")
    attributed_to: ActorId | None = Field(
        default=None, description="Id of the actor whose wording it is; null when it is the article's own."
    )
    citations: Citations


class Event(Record):
    """Something that happened, was announced, is planned or is expected."""

    collection: ClassVar[str] = "events"
    EDITORIAL: ClassVar[dict[str, str]] = Record.EDITORIAL | {
        "title": "a label, written from the citations",
        "description": "a summary, written from the citations",
        "event_type": "a classification in the dataset's vocabulary",
        "place.precision": "a classification in the dataset's vocabulary",
        "links": "the editors' links between records",
    }

    title: Text = Field(description="Short neutral title.")
    description: Text = Field(description="What the sources say happened or will happen, in neutral words.")
    event_type: EventType = Field(description="Kind of event, from a small controlled vocabulary.")
    status: EventStatus = Field(
        description="occurred (it happened), announced (declared by a party), planned (scheduled) or expected "
        "(forecast). A plan and its execution are two events, linked with 'implements'."
    )
    date: FuzzyDate | None = Field(
        default=None, description="When it happened or is due; for a period, its start. Null if unknown."
    )
    end_date: FuzzyDate | None = Field(default=None, description="For a period, when it ends; null otherwise.")
    participants: list[Participant] = Field(default_factory=list, description="Actors involved and their roles.")
    place: Place | None = Field(default=None, description="Where it happens or applies.")
    links: list[EventLink] = Field(default_factory=list, description="Links to related events.")
    framings: list[Framing] = Field(
        default_factory=list, description="How different sources or actors word this event, each cited."
    )
    editorial: EditorialValues
    citations: Citations


# --------------------------------------------------------------------------- quotes

Directness = Literal["direct", "partial"]


class Quote(Record):
    """A remark as one source prints it, attributed exactly as that source attributes it."""

    collection: ClassVar[str] = "quotes"
    EDITORIAL: ClassVar[dict[str, str]] = Record.EDITORIAL | {
        "directness": "a classification of how the source prints the words",
        "variant_of": "the editors' link between two wordings",
    }

    text: Text = Field(description="The quoted words exactly as the source prints them, without enclosing quotes.")
    speaker_id: ActorId = Field(
        description="Id of the speaker. Unnamed speakers are their own actors, never guessed to be a named person."
    )
    speaker_as_described: Text = Field(
        description="The speaker as the source describes them, e.g. 'a senior US official'."
    )
    said: FuzzyDate | None = Field(default=None, description="When the remark was made, with precision.")
    occasion: PlainText | None = Field(default=None, description="Where or how it was said, e.g. 'press briefing'.")
    occasion_event: EventId | None = Field(default=None, description="Id of the event at which it was said.")
    directness: Directness = Field(
        description="direct: a full quoted sentence or more; partial: a fragment quoted inside the source's own sentence."
    )
    variant_of: QuoteId | None = Field(
        default=None,
        description="Id of another wording of the same remark (e.g. as printed by another source).",
    )
    editorial: EditorialValues
    citations: Citations


# --------------------------------------------------------------------------- force levels

ForceMeasure = Literal["level", "change"]
FigureQualifier = Literal["exact", "approximately", "at_least", "at_most", "unspecified"]
ForceStatus = Literal["current", "planned", "projected", "historical"]


class ForceLevel(Record):
    """A number of personnel deployed, or planned or expected to change, as a source states it."""

    collection: ClassVar[str] = "force_levels"
    EDITORIAL: ClassVar[dict[str, str]] = Record.EDITORIAL

    actor: ActorId = Field(description="Id of the force or state deploying the personnel.")
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 code of the country where they are deployed.")
    measure: ForceMeasure = Field(
        default="level",
        description="level: personnel present; change: personnel to leave (negative) or arrive (positive).",
    )
    best: Count | None = Field(default=None, description="Best single figure the source gives (personnel); null if none.")
    low: Count | None = Field(default=None, description="Lowest figure the source gives (personnel); null if none.")
    high: Count | None = Field(default=None, description="Highest figure the source gives (personnel); null if none.")
    wording: Text = Field(description="The source's own words for the figure, e.g. 'around 2,500'.")
    qualifier: FigureQualifier = Field(
        description="How the figure is hedged: exact, approximately ('around', 'about'), at_least, at_most "
        "('up to'), or unspecified ('several hundred')."
    )
    as_of: FuzzyDate = Field(description="When the figure holds (the 'as at' date), with precision.")
    status: ForceStatus = Field(
        description="current (reported as now), planned, projected (expected or forecast), historical."
    )
    editorial: EditorialValues
    citations: Citations

    @model_validator(mode="after")
    def _ordered(self) -> ForceLevel:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low} is greater than high {self.high}; swap them")
        for name in ("low", "high"):
            bound = getattr(self, name)
            if self.best is not None and bound is not None:
                if (name == "low" and bound > self.best) or (name == "high" and bound < self.best):
                    raise ValueError(f"best {self.best} lies outside {name} {bound}")
        return self


# --------------------------------------------------------------------------- bases

PostureKind = Literal[
    "active", "to_be_vacated", "to_be_reduced", "to_be_retained", "vacated", "reduced", "retained"
]
SiteType = Literal["air_base", "base", "city", "region"]


class Posture(Model):
    """A dated, cited statement of a presence at a base or site."""

    EDITORIAL: ClassVar[dict[str, str]] = {"description": "a summary, written from the citations"}

    posture: PostureKind = Field(description="The presence reported or announced at the site.")
    status: EventStatus = Field(
        description="How certain the source makes it: occurred, announced, planned ('scheduled to') or "
        "expected ('likely to')."
    )
    actor: ActorId | None = Field(default=None, description="Id of the force whose presence this is.")
    reported: FuzzyDate = Field(description="When the source reports the posture.")
    effective: FuzzyDate | None = Field(default=None, description="When it takes or took effect, if stated.")
    description: Text = Field(description="The posture in neutral words.")
    citations: Citations


class Base(Record):
    """A base or site where coalition forces are or were present."""

    collection: ClassVar[str] = "bases"
    EDITORIAL: ClassVar[dict[str, str]] = Record.EDITORIAL | {
        "site_type": "a classification in the dataset's vocabulary",
        **dict.fromkeys(("latitude", "longitude", "coordinate_precision"), "approximate coordinates, with their basis"),
        "coordinate_basis": "the basis of the coordinates",
    }

    name: Text = Field(description="Name as most sources give it.")
    aliases: list[Text] = Field(default_factory=list, description="Other names and spellings.")
    site_type: SiteType = Field(
        description="air_base or base for a named installation; city or region where sources name only a place."
    )
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 country code.")
    province: PlainText | None = Field(default=None, description="Province or governorate, when stated or evident.")
    latitude: Degrees | None = Field(default=None, ge=-90, le=90, description="Latitude, WGS 84 decimal degrees.")
    longitude: Degrees | None = Field(default=None, ge=-180, le=180, description="Longitude, WGS 84 decimal degrees.")
    coordinate_precision: PlacePrecision | None = Field(
        default=None, description="What the coordinates locate: the site, the city, province, country or region."
    )
    coordinate_basis: PlainText | None = Field(
        default=None,
        description="Where the coordinates come from. The seed sources give none; approximate public coordinates "
        "are marked as such.",
    )
    postures: list[Posture] = Field(default_factory=list, description="Dated, cited history of the presence here.")
    editorial: EditorialValues
    citations: Citations

    @model_validator(mode="after")
    def _coordinates_documented(self) -> Base:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        if self.latitude is not None and not (self.coordinate_precision and self.coordinate_basis):
            raise ValueError("coordinates need coordinate_precision and coordinate_basis (where they come from)")
        return self


COLLECTIONS: dict[str, type[Record]] = {
    model.collection: model for model in (Source, Actor, Event, Quote, ForceLevel, Base)
}
"""Every collection, in dependency order, by its directory name under data/."""
