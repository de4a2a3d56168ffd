#!/usr/bin/env python3
"""Write a realistic synthetic iraq-transition repository of N records, for scale tests and benchmarks.

    .venv/bin/python scripts/synthetic.py --records 100000 --seed 1 --out /tmp/synthetic-100k

The output is a repository the real commands accept (``iraq-transition --root DIR validate``
and ``build``): ``data/<collection>/<id>.yaml``, one record a file in the committed records'
style, and ``seeds/`` with generated article texts whose SHA-256 the ``sources`` records hold.
Every citation is a span that really occurs, once, in its source's text (some need a suffix to
pick one of several occurrences; some source lines are wrapped so that whitespace differs);
every reference resolves (participants, speakers, affiliations, bases, event links, framings,
``variant_of`` chains and ``same_story_as``, all pointing at earlier records so there are no
cycles). The collection mix is that of an event dataset: mostly events, then quotes.

Records are written by ``iraq-transition fmt``'s own emitter, so they are canonical. The same
``--seed`` and ``--records`` give the same bytes. The generator refuses to write into a non-empty
directory it did not make itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from iraq_transition.fmt import format_record  # the canonical style of committed records
from iraq_transition.models import COLLECTIONS, Source
from iraq_transition.provenance import cited_parts, claims

MARKER = "synthetic.json"
"""Written into every output directory, so that a re-run may replace only what it made."""
SOURCES = Source.collection
"""The collection whose records describe the seeds: generated first (the others cite them), written last (their
files' hashes are known once every citation is in)."""

# Share of each collection in the records (the largest takes what rounding leaves). Each collection also needs its
# planner and id words in Generator.__post_init__, and a Generator method named for one record (events: event).
MIX = {
    "sources": 0.04,
    "actors": 0.08,
    "events": 0.55,
    "quotes": 0.22,
    "force_levels": 0.07,
    "bases": 0.04,
}

PLACES = [  # (country, name, province, latitude, longitude)
    ("IQ", "Baghdad", "Baghdad", 33.31, 44.37),
    ("IQ", "Erbil", "Erbil", 36.19, 44.01),
    ("IQ", "Anbar", "Anbar", 33.42, 43.30),
    ("IQ", "Mosul", "Nineveh", 36.34, 43.13),
    ("IQ", "Kirkuk", "Kirkuk", 35.47, 44.39),
    ("IQ", "Basra", "Basra", 30.51, 47.78),
    ("IQ", "Sulaymaniyah", "Sulaymaniyah", 35.56, 45.44),
    ("IQ", "Harir", "Erbil", 36.55, 44.36),
    ("SY", "Deir ez-Zor", "Deir ez-Zor", 35.33, 40.14),
    ("SY", "Hasakah", "Al-Hasakah", 36.50, 40.75),
    ("SY", "al-Tanf", "Homs", 33.50, 38.62),
    ("SY", "Raqqa", "Raqqa", 35.95, 39.01),
    ("SY", "Qamishli", "Al-Hasakah", 37.05, 41.23),
    ("JO", "Amman", "Amman", 31.95, 35.93),
    ("KW", "Kuwait City", "Al Asimah", 29.37, 47.98),
]
FIRST_NAMES = ["Ahmed", "Sarah", "John", "Layla", "Omar", "Emily", "Hassan", "Maria", "Karim", "Nadia",
               "David", "Zainab", "Michael", "Rana", "Ali", "Laura", "Yusuf", "Hana", "James", "Samir"]
LAST_NAMES = ["al-Hashimi", "Miller", "Barzani", "Johnson", "al-Obeidi", "Khalil", "Smith", "Talabani",
              "Rahman", "Davis", "al-Jubouri", "Nasser", "Brown", "Haddad", "Wilson", "Saleh"]
BODIES = [("state", "Republic of {}"), ("government_body", "Ministry of Defence of {}"),
          ("armed_force", "{} Security Forces"), ("government_body", "{} Joint Operations Command"),
          ("non_state_armed_group", "{} Brigades"), ("media", "{} Broadcasting"),
          ("coalition", "{} Task Force"), ("international_organisation", "{} Assistance Mission")]
UNNAMED = ["a senior US official", "US officials", "a senior Pentagon official", "an Iraqi security source",
           "a coalition spokesperson", "local officials", "a Kurdish commander", "the official"]
TITLES = ["Prime Minister", "Defence Minister", "Press Secretary", "Commander", "Spokesperson",
          "Ambassador", "Chief of Staff", "National Security Adviser"]
PUBLISHERS = ["The Gulf Ledger", "Northern Dispatch", "Tigris Wire", "Levant Review", "Coalition Monitor",
              "Desert Times", "Capital Bulletin"]
EVENT_VERBS = {  # event_type -> (title phrase, past-tense phrase for the source text)
    "agreement": ("agrees on a transition schedule", "agreed on a schedule for the transition"),
    "statement": ("issues a statement on the mission", "issued a statement on the coalition mission"),
    "briefing": ("holds a press briefing", "held a press briefing on the security partnership"),
    "interview": ("gives an interview on foreign forces", "gave an interview about foreign forces"),
    "negotiation": ("holds talks on the security partnership", "held talks on the future security partnership"),
    "visit": ("visits coalition advisers", "visited coalition advisers"),
    "mission_change": ("announces a change of mission", "announced a change to the advisory mission"),
    "force_movement": ("moves troops", "moved several units"),
    "military_operation": ("conducts an operation against ISIS cells", "conducted an operation against ISIS cells"),
    "attack": ("comes under rocket attack", "came under a rocket attack"),
    "interception": ("intercepts drones", "intercepted drones"),
    "territorial_change": ("hands over a site", "handed over a site"),
    "formation": ("forms a joint committee", "formed a joint committee"),
}
EVENT_STATUS = ["occurred"] * 6 + ["announced"] * 2 + ["planned"] + ["expected"]
ROLES = ["party", "initiator", "announcer", "agent", "target", "subject", "host", "overseer"]
RELATIONS = ["implements", "part_of", "result_of", "supersedes", "related"]
WORDINGS = ["transition", "withdrawal", "not a withdrawal", "phaseout", "drawdown", "redeployment",
            "end of the mission", "new phase"]
QUOTE_OPENINGS = ["We will keep working with our partners in {place}", "Our footprint in {place} is going to change",
                  "This is not a withdrawal from {place}", "The situation in {place} has changed",
                  "We’re not leaving {place} overnight", "Security in {place} is the Iraqi forces’ responsibility",
                  "Nothing has been finalised about {place}"]
QUOTE_ENDINGS = ["and the mission is not over", "but the threat remains", "as the partnership matures",
                 "once the talks conclude", "whatever the headlines say", "because ISIS is down but not out"]
POSTURES = ["active", "to_be_vacated", "to_be_reduced", "to_be_retained", "vacated", "reduced", "retained"]
FILLER = ["The report did not say how many troops were involved.",
          "Officials have repeatedly described the arrangement as a partnership.",
          "Security analysts said the coming months would test the arrangement.",
          "Neither government gave further details.",
          "The coalition was formed in 2014 at the Iraqi government’s request."]
BOILERPLATE = "The Pentagon declined to comment on troop numbers"
"""A sentence that recurs in many texts: citing it needs a suffix to pick one occurrence."""

# --------------------------------------------------------------------------- values


def slug(*parts: object) -> str:
    text = "-".join(str(part) for part in parts).lower().replace("’", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@dataclass
class Generator:
    """Makes the records of one repository; source texts grow as records cite them."""

    rng: random.Random
    counts: dict[str, int]
    plans: dict[str, list[tuple]] = field(default_factory=dict)  # per record: what its id is made from
    ids: dict[str, list[str]] = field(default_factory=dict)
    texts: list[list[str]] = field(default_factory=list)  # per source: its lines
    cited_per_source: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Decide up front what each record is about, and so its id: records may cite later ones."""
        rng, width = self.rng, len(str(max(self.counts.values())))
        planners = {
            "sources": lambda: (rng.choice(PUBLISHERS),),
            "actors": self.plan_actor,
            "events": lambda: (rng.choice(list(EVENT_VERBS)), rng.choice(PLACES)),
            "quotes": lambda: (rng.choice(PLACES),),
            "force_levels": lambda: (rng.choice(["IQ", "IQ", "IQ", "SY", "KW", "JO"]),),
            "bases": self.plan_base,
        }
        words = {
            "sources": lambda plan: (plan[0], "report"),
            "actors": lambda plan: (plan[1],),
            "events": lambda plan: (plan[0], plan[1][1]),
            "quotes": lambda plan: ("remark", plan[0][1]),
            "force_levels": lambda plan: ("troops", plan[0]),
            "bases": lambda plan: (plan[2],),
        }
        for collection, count in self.counts.items():
            self.plans[collection] = [planners[collection]() for _ in range(count)]
            self.ids[collection] = [slug(*words[collection](plan), f"{n:0{width}d}")
                                    for n, plan in enumerate(self.plans[collection])]
        self.texts = [[] for _ in range(self.counts["sources"])]
        self.cited_per_source = [0] * self.counts["sources"]

    def plan_actor(self) -> tuple[str, str, bool]:
        """Kind, name and whether the actor is unnamed."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            return "person", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", False
        if roll < 0.65:
            return "person", rng.choice(UNNAMED), True
        kind, pattern = rng.choice(BODIES)
        return kind, pattern.format(rng.choice(PLACES)[1]), False

    def plan_base(self) -> tuple[tuple, str, str]:
        """Place, site type and name."""
        rng = self.rng
        place = rng.choice(PLACES)
        site_type = rng.choice(["air_base", "base", "base", "city", "region"])
        suffix = {"air_base": "Air Base", "base": rng.choice(["Camp", "Station", "Airfield"])}.get(site_type)
        return place, site_type, f"{place[1]} {suffix}" if suffix else place[1]

    def actor_name(self) -> tuple[str, str]:
        """Id and name of a random actor."""
        index = self.rng.randrange(self.counts["actors"])
        return self.ids["actors"][index], self.plans["actors"][index][1]

    def pick(self, collection: str, before: int | None = None) -> str:
        ids = self.ids[collection]
        return ids[self.rng.randrange(len(ids) if before is None else before)]

    def date(self, lo_year: int = 2003, hi_year: int = 2026) -> dict:
        """A FuzzyDate, mostly of the transition years, with the precision a source would give."""
        rng = self.rng
        year = rng.choice([2024] * 4 + [2025] * 3 + [2026] * 2 + list(range(lo_year, 2024)))
        year = min(max(year, lo_year), hi_year)
        day = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
        precision = rng.choices(["day", "month", "year"], weights=[6, 3, 1])[0]
        value = {"day": day.isoformat(), "month": day.isoformat()[:7], "year": str(year)}[precision]
        date = {"value": value, "precision": precision}
        qualifier = rng.choices(["exact", "no_later_than", "no_earlier_than", "circa"], weights=[12, 3, 2, 1])[0]
        if qualifier != "exact":
            date["qualifier"] = qualifier
        if precision == "year" and qualifier == "exact" and rng.random() < 0.3:
            date["latest"] = day.isoformat()  # 'earlier this year', relative to a known day
        elif precision == "month" and qualifier == "exact" and rng.random() < 0.2:
            date["earliest"] = day.isoformat()
        return date

    @staticmethod
    def date_words(date: dict | None, before: str = "") -> str:
        """How a source words ``date`` ("by September 2025"), after ``before``; nothing without a date."""
        if date is None:
            return ""
        value = date["value"]
        words = {
            "day": lambda: dt.date.fromisoformat(value).strftime("%-d %B %Y"),
            "month": lambda: dt.date.fromisoformat(value + "-01").strftime("%B %Y"),
            "year": lambda: value,
        }[date["precision"]]()
        qualified = {"exact": "in " if date["precision"] != "day" else "on ", "no_later_than": "by ",
                     "no_earlier_than": "until at least ", "circa": "around "}[date.get("qualifier", "exact")]
        return before + qualified + words

    def cite(self, sentence: str, sources: int | None = None, whole: bool = False) -> list[dict]:
        """Put ``sentence`` into 1-3 source texts and return citations of it.

        Most cite the whole line; some a clause of it, some a recurring sentence picked by its suffix, and
        some lines are wrapped. ``whole`` keeps to whole, unwrapped lines (a quote's words stay intact).
        """
        rng = self.rng
        n = sources or rng.choices([1, 2, 3], weights=[55, 30, 15])[0]
        chosen = rng.sample(range(len(self.texts)), min(n, len(self.texts)))
        citations = []
        for index in sorted(chosen):
            lines = self.texts[index]
            self.cited_per_source[index] += 1
            marker = f"[{self.cited_per_source[index]}]"  # makes the line unique within the text
            roll = 0.5 if whole else rng.random()
            if roll < 0.08 and citations:  # never a part's only citation: it words none of the values
                lines.append(f"{BOILERPLATE}, note {marker}.")
                citations.append({"source": self.ids["sources"][index], "quote": BOILERPLATE,
                                  "suffix": f", note {marker}"})
                continue
            line = f"{sentence} {marker}"
            if roll < 0.15 and len(line) > 60:  # a wrapped line: the citation's single spaces match newlines
                cut = line.index(" ", 40)
                line = line[:cut] + "\n" + line[cut + 1:]
            lines.append(line)
            quote = " ".join(line.split())
            if roll > 0.8:  # a clause: the end of the sentence, from a word boundary
                words = quote.split(" ")
                quote = " ".join(words[rng.randrange(len(words) // 2):])
            citations.append({"source": self.ids["sources"][index], "quote": quote})
            if rng.random() < 0.05:
                lines.append(rng.choice(FILLER))
        return citations

    # ----------------------------------------------------------------------- collections

    def source(self, i: int) -> dict:
        """The sources record without file/sha256 (known when the text is complete); see finish_source."""
        rng = self.rng
        publisher, place = self.plans["sources"][i][0], rng.choice(PLACES)
        published = self.date(2024, 2026)
        record = {"id": self.ids["sources"][i]}
        copy_of = self.pick("sources", before=i) if i and rng.random() < 0.1 else None
        if copy_of:
            record["notes"] = "A reworded copy of an earlier report."
        record.update({"file": "", "sha256": "", "language": rng.choice(["en", "en", "en-GB"]), "published": published})
        if rng.random() < 0.7:
            record["publisher"] = publisher
            record["headline"] = f"Coalition presence in {place[1]} to change, officials say ({i})"
            record["url"] = f"https://news.example.org/{slug(publisher)}/{self.ids['sources'][i]}"
            record["identification"] = "Synthetic: generated for scale tests."
        if copy_of:
            record["same_story_as"] = copy_of
        self.texts[i].append(f"{place[1].upper()} — Officials discussed the future of the coalition mission.")
        return record

    def actor(self, i: int) -> dict:
        rng = self.rng
        kind, name, unnamed = self.plans["actors"][i]
        record = {"id": self.ids["actors"][i]}
        if unnamed:
            record["notes"] = "The sources do not say whether this is one person."
        record["name"] = name
        if not unnamed and rng.random() < 0.2:
            record["aliases"] = [name.replace("al-", "Al ") if "al-" in name else name.upper()]
        record["kind"] = kind
        if unnamed:
            record["unnamed"] = True
        if i and rng.random() < 0.6:
            record["affiliation"] = self.pick("actors", before=i)
        if kind == "person" and not unnamed and rng.random() < 0.6:
            title = rng.choice(TITLES)
            position = {"title": title}
            if i and rng.random() < 0.7:
                position["organisation"] = self.pick("actors", before=i)
            as_of = self.date(2020, 2026)
            if rng.random() < 0.6:
                position["as_of"] = as_of
            position["citations"] = self.cite(f"{title} {name} spoke to reporters"
                                              f"{self.date_words(position.get('as_of'), ' ')}.")
            record["positions"] = [position]
        record["citations"] = self.cite(f"{name} was named in connection with the coalition mission.")
        return record

    def event(self, i: int) -> dict:
        rng = self.rng
        event_type, (country, place_name, *_) = self.plans["events"][i]
        title_phrase, past = EVENT_VERBS[event_type]
        actor_id, actor_name = self.actor_name()
        status = rng.choice(EVENT_STATUS)
        date = self.date() if rng.random() < 0.92 else None
        record = {"id": self.ids["events"][i]}
        if rng.random() < 0.05:
            record["notes"] = "Sources differ on the date."
        record.update({"title": f"{actor_name} {title_phrase} in {place_name}",
                  "description": f"The sources report that {actor_name} {past} in {place_name}"
                                 f"{self.date_words(date, ' ')}.",
                  "event_type": event_type, "status": status})
        if date:
            record["date"] = date
            if rng.random() < 0.1 and date["precision"] != "year":
                end = self.date(int(date["value"][:4]), 2026)
                if end["value"] >= date["value"]:
                    record["end_date"] = end
        participants = [{"actor": actor_id, "role": rng.choice(["initiator", "announcer", "party"])}]
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            participants.append({"actor": self.pick("actors"), "role": rng.choice(ROLES)})
        record["participants"] = participants
        place = {"country": country, "name": place_name}
        if rng.random() < 0.25:
            place["base"] = self.pick("bases")
            place["precision"] = "site"
        else:
            place["precision"] = rng.choice(["city", "province", "country"])
        record["place"] = place
        if i and rng.random() < 0.3:
            record["links"] = [{"event": self.pick("events", before=i), "relation": rng.choice(RELATIONS)}]
        when = (self.date_words(date) + self.date_words(record.get("end_date"), ", ending ")) if date else "recently"
        if rng.random() < 0.15:
            wording = rng.choice(WORDINGS)
            framing = {"wording": wording}
            if rng.random() < 0.6:
                framing["attributed_to"] = self.pick("actors")
            framing["citations"] = self.cite(f"Officials in {place_name} called it a “{wording}” {when}.", sources=1)
            record["framings"] = [framing]
        record["citations"] = self.cite(f"In {place_name}, {actor_name} {past} {when}.")
        return record

    def quote(self, i: int) -> dict:
        rng = self.rng
        place = self.plans["quotes"][i][0][1]
        text = f"{rng.choice(QUOTE_OPENINGS).format(place=place)} {rng.choice(QUOTE_ENDINGS)}"
        speaker = self.pick("actors")
        described = rng.choice(UNNAMED + ["the minister", "the spokesperson"])
        record = {"id": self.ids["quotes"][i], "text": text, "speaker_id": speaker, "speaker_as_described": described}
        if rng.random() < 0.7:
            record["said"] = self.date(2023, 2026)
        if rng.random() < 0.5:
            record["occasion"] = rng.choice(["press briefing", "interview", "joint statement", "parliament session"])
            if rng.random() < 0.6:
                record["occasion_event"] = self.pick("events")
        record["directness"] = "direct" if rng.random() < 0.75 else "partial"
        if i and rng.random() < 0.2:
            record["variant_of"] = self.pick("quotes", before=i)
        record["citations"] = self.cite(f"“{text},” {described} said{self.date_words(record.get('said'), ' ')}.",
                                        whole=True)
        return record

    def force_level(self, i: int) -> dict:
        rng = self.rng
        country = self.plans["force_levels"][i][0]
        measure = "change" if rng.random() < 0.2 else "level"
        best = rng.choice([900, 2000, 2500, 3000, 4000, 5200]) * (-1 if measure == "change" else 1)
        qualifier = rng.choice(["exact", "approximately", "approximately", "at_least", "at_most", "unspecified"])
        record = {"id": self.ids["force_levels"][i], "actor": self.pick("actors"), "country": country}
        if measure == "change":
            record["measure"] = "change"
        if qualifier == "unspecified":
            wording = "several hundred"
        else:
            record["best"] = best
            if rng.random() < 0.2:
                record["low"], record["high"] = best - 100, best + 100
            wording = {"exact": "{:,}", "approximately": "around {:,}", "at_least": "at least {:,}",
                       "at_most": "up to {:,}"}[qualifier].format(abs(best))
            if "low" in record:  # the words state every number
                wording += f" ({abs(record['low']):,} to {abs(record['high']):,})"
        record["wording"] = wording
        record["qualifier"] = qualifier
        record["as_of"] = self.date(2017, 2026)
        record["status"] = rng.choice(["current", "current", "planned", "projected", "historical"])
        record["citations"] = self.cite(
            f"There are {wording} troops in the country {self.date_words(record['as_of'])}, officials said.", whole=True)
        return record

    def base(self, i: int) -> dict:
        rng = self.rng
        (country, _, province, lat, lon), site_type, name = self.plans["bases"][i]
        record = {"id": self.ids["bases"][i], "name": name}
        if rng.random() < 0.3:
            record["aliases"] = [f"{name} Station"]
        record.update({"site_type": site_type, "country": country, "province": province})
        if rng.random() < 0.8:
            record["latitude"] = round(lat + rng.uniform(-0.2, 0.2), 4)
            record["longitude"] = round(lon + rng.uniform(-0.2, 0.2), 4)
            record["coordinate_precision"] = "site" if site_type in ("air_base", "base") else "city"
            record["coordinate_basis"] = "Synthetic coordinates near the named place."
        postures = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            kind = rng.choice(POSTURES)
            status = rng.choice(["announced", "planned", "expected"]) if kind.startswith("to_be") else "occurred"
            posture = {"posture": kind, "status": status}
            if rng.random() < 0.7:
                posture["actor"] = self.pick("actors")
            posture["reported"] = self.date(2023, 2026)
            if rng.random() < 0.3:
                posture["effective"] = self.date(2024, 2026)
            posture["description"] = f"The presence at {name} is reported as {kind.replace('_', ' ')}."
            posture["citations"] = self.cite(f"Forces at {name} are {kind.replace('_', ' ')}"
                                             f"{self.date_words(posture.get('effective'), ' ')}, officials said "
                                             f"{self.date_words(posture['reported'])}.")
            postures.append(posture)
        record["postures"] = postures
        record["citations"] = self.cite(f"{name} in {province} hosts coalition advisers.")
        return record


WORDED = {"date", "end_date", "as_of", "reported", "effective", "said", "wording", "best", "low", "high",
          "speaker_as_described"}
"""Values whose words the validator looks for in the spans that support them: the boilerplate sentence supports none."""


def with_supports(collection: str, record: dict) -> dict:
    """``record`` with each citation naming the values of its part that it supports: every value (the generated
    sentences word them), but for the recurring boilerplate sentence only those whose words are not looked for."""
    placeholder = json.loads(json.dumps(record))
    for part in [placeholder, *(item for value in placeholder.values() if isinstance(value, list) for item in value
                                if isinstance(item, dict) and "citations" in item)]:
        for citation in part["citations"]:
            citation["supports"] = ["placeholder"]
    for loc, part in cited_parts(COLLECTIONS[collection].model_validate(placeholder)):
        names = list(dict.fromkeys(name.split(".")[0] for name in claims(part)))
        target = record[loc[0]][loc[1]] if loc else record
        for citation in target["citations"]:
            worded = citation["quote"] != BOILERPLATE
            citation["supports"] = [name for name in names if worded or name not in WORDED]
    return record


def counts_for(records: int) -> dict[str, int]:
    """Records per collection, in the models' order: the mix, at least a few of each, summing to ``records``."""
    if unmixed := [name for name in COLLECTIONS if name not in MIX]:
        raise SystemExit(f"synthetic.py: no share in MIX for {', '.join(unmixed)}: add one, and its generator")
    counts = {name: max(2, round(records * MIX[name])) for name in COLLECTIONS}
    largest = max(MIX, key=MIX.__getitem__)
    counts[largest] += records - sum(counts.values())
    if counts[largest] < 2:
        raise ValueError(f"--records {records} is too small: give at least {records - counts[largest] + 2}")
    return counts


def record_maker(generator: Generator, collection: str):
    """The generator's method that makes the i-th record of ``collection`` (``events``: ``event``)."""
    return getattr(generator, collection.removesuffix("s"))


def generate(records: int, seed: int, out: Path) -> dict[str, int]:
    """Write the repository into ``out`` (replacing a previous synthetic output) and return the counts."""
    counts = counts_for(records)
    prepare(out)
    gen = Generator(random.Random(seed), counts)
    sources = [record_maker(gen, SOURCES)(i) for i in range(counts[SOURCES])]
    for collection in [name for name in COLLECTIONS if name != SOURCES]:
        make = record_maker(gen, collection)
        directory = out / "data" / collection
        directory.mkdir(parents=True)
        for i in range(counts[collection]):
            record = with_supports(collection, make(i))
            (directory / f"{record['id']}.yaml").write_text(format_record(collection, record), encoding="utf-8")
    (out / "seeds").mkdir()
    (out / "data" / SOURCES).mkdir()
    for i, record in enumerate(sources):
        text = ("\n".join(gen.texts[i]) + "\n").encode("utf-8")
        name = f"{i:05d}_{hashlib.sha256(text).hexdigest()[:16]}.txt"
        (out / "seeds" / name).write_bytes(text)
        record["file"], record["sha256"] = name, hashlib.sha256(text).hexdigest()
        (out / "data" / SOURCES / f"{record['id']}.yaml").write_text(format_record(SOURCES, record), encoding="utf-8")
    (out / MARKER).write_text(json.dumps({"records": records, "seed": seed, "counts": counts}, indent=2) + "\n")
    return counts


def prepare(out: Path) -> None:
    """Make ``out`` ready: empty, or a previous synthetic output (its data/ and seeds/ are removed)."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise SystemExit(f"synthetic.py: {out} is not empty and holds no {MARKER}; refusing to write into it")
        for name in ("data", "seeds", MARKER):
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="number of records in all (default: 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same bytes")
    parser.add_argument("--out", type=Path, required=True, help="repository directory to write")
    args = parser.parse_args(argv)
    try:
        counts = generate(args.records, args.seed, args.out)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {sum(counts.values())} records to {args.out}: "
          + ", ".join(f"{n} {name}" for name, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
