"""What each value of every controlled vocabulary means: the codebook's explanation of the models' ``Literal`` types,
kept beside them as data (a test keeps it complete: every Literal, every value)."""

from __future__ import annotations

from .models import (
    ActorKind,
    DatePrecision,
    DateQualifier,
    Directness,
    EventRelation,
    EventStatus,
    EventType,
    FigureQualifier,
    ForceMeasure,
    ForceStatus,
    ParticipantRole,
    PlacePrecision,
    PostureKind,
    SiteType,
)


VOCABULARIES: dict[object, dict[str, str]] = {
    DatePrecision: {
        "day": "value is a day, YYYY-MM-DD.",
        "month": "value is a month, YYYY-MM: the source names no day.",
        "year": "value is a year, YYYY: the source names no month.",
    },
    DateQualifier: {
        "exact": "The date lies within value (that day, month or year).",
        "no_later_than": "value is a deadline: on or before it ('by September 2025'). No earliest day is known "
        "unless earliest gives one.",
        "no_earlier_than": "On or after value ('until at least September 2026'). No latest day is known unless "
        "latest gives one.",
        "circa": "About value ('around'): neither bound is known unless earliest or latest gives one.",
    },
    ActorKind: {
        "person": "One person, named or unnamed ('a senior US official').",
        "state": "A country acting or spoken of as a whole.",
        "government_body": "A government, ministry, department, office, committee or commission.",
        "armed_force": "A state's armed forces, or a part or contingent of them.",
        "coalition": "An alliance of states or forces, such as the US-led coalition.",
        "international_organisation": "An organisation of states, such as the United Nations.",
        "non_state_armed_group": "An armed group outside a state's command: an insurgency, a militia, a "
        "group the sources call terrorist.",
        "media": "A news organisation, as a source other outlets cite.",
    },
    EventType: {
        "agreement": "Parties reach or conclude an agreement.",
        "statement": "A public statement or announcement, such as a joint statement.",
        "briefing": "A press briefing.",
        "interview": "An interview given to a news organisation.",
        "negotiation": "Talks or discussions between parties.",
        "visit": "A visit by an official or delegation.",
        "mission_change": "A military mission begins, changes, continues, transitions or concludes.",
        "force_movement": "Personnel or forces arrive, leave, are reduced or are relocated.",
        "military_operation": "A military operation or campaign.",
        "attack": "An attack on forces, people or places.",
        "interception": "Rockets, drones or missiles are intercepted.",
        "territorial_change": "Territory is taken, lost or spread across.",
        "formation": "A body, committee or group is set up.",
    },
    EventStatus: {
        "occurred": "It happened, as the sources report.",
        "announced": "A party declared it; the declaration is not its execution.",
        "planned": "Scheduled or intended ('scheduled to', 'will').",
        "expected": "Forecast, not scheduled ('expected to', 'likely to').",
    },
    ParticipantRole: {
        "party": "One of the sides of an agreement, talks or statement.",
        "initiator": "Began or proposed it.",
        "announcer": "Made it public.",
        "agent": "Carried out the attack or action, as the sources report it (a neutral word: it assigns no blame).",
        "target": "Was attacked or acted upon.",
        "subject": "What it concerns, such as the forces a withdrawal is about.",
        "host": "Hosted the visit, the talks or the forces.",
        "overseer": "Oversees or supervises it.",
    },
    EventRelation: {
        "implements": "This event carries out the linked plan.",
        "part_of": "This event is a part or phase of the linked one.",
        "result_of": "This event follows from the linked one.",
        "supersedes": "This event replaces the linked one, such as a revised plan.",
        "related": "Otherwise related, as the sources connect them.",
    },
    PlacePrecision: {
        "site": "A named installation or site.",
        "city": "A city or town.",
        "province": "A province or governorate.",
        "country": "A country as a whole.",
        "region": "A region within or across countries, such as northeastern Syria.",
    },
    Directness: {
        "direct": "A full quoted sentence or more.",
        "partial": "A fragment quoted inside the source's own sentence.",
    },
    ForceMeasure: {
        "level": "Personnel present.",
        "change": "Personnel to leave (negative figures) or arrive (positive figures).",
    },
    FigureQualifier: {
        "exact": "The figure as stated, without a hedge.",
        "approximately": "Hedged as approximate ('around', 'about', 'approximately').",
        "at_least": "A floor ('at least', 'more than').",
        "at_most": "A ceiling ('up to', 'no more than').",
        "unspecified": "No number is given ('several hundred', 'the remaining forces'): best, low and high are left "
        "empty.",
    },
    ForceStatus: {
        "current": "Reported as the present level.",
        "planned": "A level or change that is planned.",
        "projected": "A level or change that is expected or forecast.",
        "historical": "A past level.",
    },
    PostureKind: {
        "active": "Forces are present and operating there.",
        "to_be_vacated": "The site is to be left entirely.",
        "to_be_reduced": "The presence is to be reduced.",
        "to_be_retained": "The presence is to remain.",
        "vacated": "The site has been left.",
        "reduced": "The presence has been reduced.",
        "retained": "The presence has remained.",
    },
    SiteType: {
        "air_base": "A named air base.",
        "base": "A named base other than an air base.",
        "city": "A city, where the sources name only the place.",
        "region": "A region, where the sources name only the area.",
    },
}
"""The meaning of each value of every controlled vocabulary (the ``Literal`` types of :mod:`.models`), for the codebook; a test
keeps it complete."""
RENAMED: dict[str, str] = {"perpetrator": "agent"}
"""Values a vocabulary once had, and what they are called now: a record that still writes one is told."""
