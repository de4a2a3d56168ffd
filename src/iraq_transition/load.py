"""Load step: find record files and read them as YAML, keeping line and column of every node."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Project:
    """The repository a command works on, and where its parts live."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def seeds_dir(self) -> Path:
        return self.root / "seeds"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def schema_dir(self) -> Path:
        return self.root / "schema"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located as precisely as possible (line and col are 1-based)."""

    path: str
    line: int
    col: int
    message: str
    record: str | None = None  # "collection/id"
    field: str | None = None  # dotted path inside the record, e.g. "citations.0.quote"

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.record, self.field) if part)
        return f"{self.path}:{self.line}:{self.col}: {where + ': ' if where else ''}{self.message}"
