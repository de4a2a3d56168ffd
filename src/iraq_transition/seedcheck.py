"""The seeds' checks: every valid source describes a seed of its own that has the SHA-256 it gives, and every seed
is described; and :class:`Texts`, the source texts as checked, read when first wanted."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from .load import Project, display_path
from .problems import Issue, Problem, UsageError
from .seeds import SeedError, committed_seeds, hash_mismatch, is_plain_directory, read_seed, stray_seed
from .store import Stat, file_stats


class Texts:
    """The text of each source whose seed is usable, as it was checked: read when first wanted (a seed that no
    longer has the SHA-256 it was checked with is a usage error: run again)."""

    def __init__(self, seeds_dir: os.PathLike, digests: dict[str, str], names: dict[str, str],
                 read: dict[str, str] | None = None):
        self.seeds_dir, self.digests, self.names = seeds_dir, digests, names  # source id -> SHA-256, file name
        self.read = read if read is not None else {}  # source id -> text already read

    def get(self, source_id: str) -> str | None:
        if source_id not in self.digests:
            return None
        if source_id not in self.read:
            name = self.names[source_id]
            try:
                data = read_seed(self.seeds_dir, name)
            except SeedError:
                data = None
            if data is None or hashlib.sha256(data).hexdigest() != self.digests[source_id]:
                raise UsageError(f"seeds/{name} changed while it was being checked: run the command again")
            self.read[source_id] = data.decode("utf-8")  # as checked: its SHA-256 is that of UTF-8 text
        return self.read[source_id]


@dataclass
class SeedOutcome:
    """What the seeds' checks found."""

    issues: dict[int, list[Issue]] = field(default_factory=dict)  # by the index of the source file
    problems: list[Problem] = field(default_factory=list)  # seeds that no source describes
    seeds: dict[str, tuple[Stat, str]] = field(default_factory=dict)  # seed name -> stat and SHA-256 (to cache)
    texts: Texts | None = None


_NOT_ASKED = object()
"""Which seeds are committed, before git was asked."""


def check_seeds(project: Project, sources: list[tuple[int, str, str, str | None, str | None, bool]],
                known: dict[str, tuple[Stat, str]]) -> SeedOutcome:
    """Check the seeds of ``sources`` (index of the file, its display path, source id, seed file, sha256, whether
    valid; in file order). ``known``: stat and SHA-256 of seeds as last read (a seed with the same stat is not read again)."""
    seeds_dir = project.seeds_dir
    outcome = SeedOutcome()
    described: dict[str, int] = {}
    displays: dict[int, str] = {}
    mentioned = set()
    digests: dict[str, str] = {}
    names: dict[str, str] = {}
    read: dict[str, str] = {}
    committed = _NOT_ASKED
    plain = is_plain_directory(seeds_dir)
    known = known if plain else {}

    def add(index: int, loc: tuple, message: str, code: str) -> None:
        outcome.issues.setdefault(index, []).append(Issue(loc, message, code=code))

    named = [source[3] for source in sources if source[5]] if plain else []  # the seeds' stats, in one pass
    stats = dict(zip(named, file_stats([os.path.join(seeds_dir, name) for name in named], follow_symlinks=False)))
    for index, display, source_id, source_file, sha256, valid in sources:
        if not valid:
            mentioned.add(source_file)
            continue
        if source_file in described:
            add(index, ("file",), f"{source_file} is already described by {displays[described[source_file]]}: one "
                "source record per seed file", "seed-described-twice")
            continue
        described[source_file] = index
        displays[index] = display
        seen = stats.get(source_file)
        if seen is not None and known.get(source_file, (None,))[0] == seen:
            digest = known[source_file][1]
        else:
            try:
                data = read_seed(seeds_dir, source_file)
                read[source_id] = data.decode("utf-8")
            except SeedError as error:
                add(index, ("file",), str(error), "seed-unusable")
                continue
            except UnicodeDecodeError:
                add(index, ("file",), f"seeds/{source_file} cannot be used: it is not valid UTF-8", "seed-unusable")
                continue
            digest = hashlib.sha256(data).hexdigest()
        if seen is not None:
            outcome.seeds[source_file] = (seen, digest)
        digests[source_id], names[source_id] = digest, source_file
        if digest != sha256:
            if committed is _NOT_ASKED:  # asked of git once, and only when a seed's hash is not its record's
                committed = committed_seeds(project.root)
            add(index, ("sha256",), hash_mismatch(source_file, digest, committed), "seed-changed")
    if plain and is_plain_directory(project.data_dir):  # without records, no seed is judged undescribed
        for name in sorted(os.listdir(seeds_dir)):
            if name not in described and name not in mentioned:
                outcome.problems.append(Problem(display_path(project, seeds_dir / name), 1, 1,
                                                stray_seed(seeds_dir, name), code="seed-undescribed"))
    outcome.texts = Texts(seeds_dir, digests, names, read)
    return outcome
