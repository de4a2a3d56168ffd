"""Problems and errors, as every command reports them: a located :class:`Problem` in the data, a
:class:`UsageError` in how a command was called, and the escaping that keeps what comes from the files
on one line of output that cannot pass for anything else."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import TextIO


class UsageError(Exception):
    """A mistake in how the command was called (exit status 2)."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located as precisely as possible (line and col are 1-based)."""

    path: str
    line: int
    col: int
    message: str
    record: str | None = None  # "collection/id"
    field: str | None = None  # dotted path inside the record, e.g. "citations.0.quote"
    code: str = ""  # the kind of problem, one of :data:`CODES`

    def __str__(self) -> str:
        """The problem on one line: names and values from the files are :func:`printable` in it, and
        cannot act as a CI workflow command (:func:`without_workflow_commands`)."""
        where = ": ".join(part for part in (self.record, self.field) if part)
        line = f"{self.path}:{self.line}:{self.col}: {where + ': ' if where else ''}{self.message}"
        return shown(line)


@dataclass(frozen=True)
class Issue:
    """A problem in a record not yet located: the node it concerns (loc), and whether to point at its key or its
    value; located, it becomes a :class:`Problem`."""

    loc: tuple
    message: str
    at: str = "value"  # "value", "key", or "parent" (the mapping that holds loc)
    hint: tuple[str, str, str] | None = None  # ("passage", source id, quote) or ("id", collection, id)
    code: str = ""  # as :attr:`Problem.code`


CODES = {
    # reading a file
    "file-unreadable": "The file cannot be read: a directory, a link, not a regular file, unreadable, too large, or "
                       "not UTF-8.",
    "file-unwritable": "The file cannot be written (read-only, a full disk): it is left as it was.",
    "file-misplaced": "A file or directory where no record can be: not a .yaml file directly in a collection's "
                      "directory.",
    "yaml-syntax": "The file is not well-formed YAML.",
    "yaml-construct": "YAML that records do not use: anchors, aliases, tags, duplicate or complex keys, more "
                      "than one document, nesting too deep, numbers out of range.",
    "yaml-ambiguous": "A plain value that YAML 1.1 and YAML 1.2 read differently: quote it.",
    "not-a-record": "The file holds no mapping of fields (an empty document, a list, a single value).",
    # one record against its model
    "missing-field": "A required field is missing.",
    "unknown-field": "A field the model does not have.",
    "wrong-type": "A value of the wrong type (text, number, list, mapping, true/false).",
    "wrong-value": "A value the field does not allow: not one of its choices, not matching its pattern, "
                   "empty, or breaking a rule that spans fields.",
    "id-mismatch": "The record's id is not its file name.",
    "wrong-collection": "A valid record of another collection, in the wrong directory.",
    # provenance
    "unsupported-value": "A populated factual value that no citation's supports names and no editorial entry "
                         "accounts for.",
    "support-unknown": "A name in a citation's supports or an editorial entry's fields that is no populated "
                       "factual value of its record or part (or one that needs no citation).",
    "wording-not-in-span": "A force level's wording that a citation supports but its quote does not hold.",
    "number-not-in-wording": "A force level's best, low or high that its wording does not state.",
    "speaker-not-in-span": "A quote's speaker_as_described that a citation supports but holds neither in its quote nor "
                           "in the sentence around it.",
    "date-year-unsupported": "A year of a date (of its value or a bound) that a citation supporting the date neither "
                             "gives in digits, in its quote or the sentence around it, nor has from its source's "
                             "publication date.",
    # across records
    "unknown-reference": "A reference to a record that does not exist.",
    "self-reference": "A record that refers to itself.",
    "duplicate-id": "Two files declare the same id.",
    "reference-cycle": "A chain of same-collection references (variant_of, same_story_as) that never ends.",
    "duplicate-quote": "A quote with the same words, speaker and source as another (ignoring case, whitespace, "
                       "Unicode form, typographic quotes and the punctuation at its ends).",
    # seeds and citations
    "seed-unusable": "A source's seed file is missing, not a plain file, unreadable, too large or not UTF-8.",
    "seed-changed": "A seed's SHA-256 is not the one its source record gives.",
    "seed-described-twice": "Two source records describe the same seed file.",
    "seed-undescribed": "An entry of seeds/ that no source record describes.",
    "quote-not-found": "A citation's quote is not in its source's text.",
    "quote-ambiguous": "A citation's quote occurs more than once, and no prefix or suffix picks one.",
    "prefix-mismatch": "A citation's quote occurs, but never with the prefix or suffix given.",
    "text-outside-spans": "A quote's text is not inside any of its citations' spans.",
    # other commands
    "not-formatted": "A record file that is not in the canonical format (fmt --check shows the diff).",
    "template-unfilled": "A field of a template from `new` still holds its # TODO mark (fmt leaves the file alone).",
    "no-canonical-form": "A record fmt cannot write without changing a value: a bug, please report it.",
    "changed-during-run": "A file changed while it was being checked: run the command again.",
    # check
    "build-failed": "The build could not be written (a full disk, a bug): check says why.",
    "package-invalid": "The data package does not describe the build's CSVs (the records are valid: a bug, please "
                       "report it).",
    "generated-stale": "A generated file (schema/, datapackage.json, docs/timeline.svg, docs/codebook.md) that is not "
                       "what the models and records make now: run fix.",
    # hints, which validate prints and which fail nothing
    "unlinked-variant": "A hint, not an error: a quote with the same words and speaker as one from another source, "
                        "not linked to it with variant_of.",
}
"""Every kind of problem, by its stable code (as JSON output gives it), with what it means. Codes never change
meaning once published; a new kind of problem gets a new code."""


UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\u00ad\u061c\u180e\u200b-\u200f\u2060-\u2064\ufeff\U000e0000-\U000e007f]"
)
"""Control characters, line and paragraph separators and bidirectional overrides: what can start a
new output line (a forged ``path:1:1:`` or ``::error`` line) or make a terminal show other text; and
the characters nobody sees (zero-width spaces and joiners, direction marks, the soft hyphen, tag
characters), which a reviewer must be shown. (Records keep the invisible ones: Persian needs its
zero-width non-joiner; only what is printed shows them as escapes.)"""
_ESCAPED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str) -> str:
    """``text`` with every character of :data:`UNPRINTABLE` written as an escape (``\\n``, ``\\x1b``,
    ``\\u2028``), so that it prints as one line showing what it holds."""
    return UNPRINTABLE.sub(lambda match: _ESCAPED.get(char := match.group()) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}" if ord(char) < 0x10000
        else f"\\U{ord(char):08x}"), text)


_WORKFLOW_COMMAND = re.compile(r"^([\s\u200b\ufeff]*):(?=:)|##\[")
"""What a CI runner reads as a workflow command in a line of output: GitHub's ``::name ...::`` after
leading whitespace (which the runner trims), and its older ``##[name]`` anywhere in the line."""


def without_workflow_commands(line: str) -> str:
    """``line`` (one line, :func:`printable`) with the ``:`` or ``[`` that would open a workflow
    command written as the escape ``\\x3a`` or ``\\x5b``: data printed in a CI log cannot forge an
    annotation, hide the log, mask text or stop the real annotations."""
    return _WORKFLOW_COMMAND.sub(lambda match: "##\\x5b" if match.group(1) is None else f"{match.group(1)}\\x3a", line)


def shown(line: str) -> str:
    """``line`` as printed: :func:`printable`, and unable to act as a CI workflow command."""
    return without_workflow_commands(printable(line))


def _escape_data(text: str) -> str:
    """``text`` as one annotation field: line breaks encoded as GitHub reads them, other control characters and
    bidirectional overrides shown as escapes."""
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def print_problems(problems: list[Problem], format: str = "text", stream: TextIO | None = None) -> None:
    """Write ``problems`` to ``stream`` (stdout) as text lines, GitHub Actions annotations or a JSON list."""
    stream = stream or sys.stdout
    if format == "json":
        rows = [{"path": p.path, "line": p.line, "col": p.col, "record": p.record, "field": p.field,
                 "message": p.message, "code": p.code} for p in problems]
        stream.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    for problem in problems:
        if format == "github":
            properties = f"file={_escape_property(problem.path)},line={problem.line},col={problem.col}"
            if problem.record:
                properties += f",title={_escape_property(problem.record)}"
            message = f"{problem.field}: {problem.message}" if problem.field else problem.message
            stream.write(f"::error {properties}::{_escape_data(message)}\n")
        else:
            stream.write(f"{problem}\n")


def refuse(command: str, valid: int, problems: list[Problem], consequence: str) -> int:
    """Report the problems that stop ``command`` (which then does ``consequence``); the exit status 1."""
    print_problems(problems)
    print(summary(valid, problems), file=sys.stderr)
    print(f"iraq-transition {command}: {consequence}: fix the errors above first", file=sys.stderr)
    return 1


def summary(valid: int, problems: list[Problem]) -> str:
    """One line: how many records are valid and how many errors in how many files."""
    if not problems:
        return f"OK: {valid} records valid, every citation found, seeds unchanged"
    files = len({problem.path for problem in problems})
    return f"{valid} valid records; {len(problems)} error{'s' * (len(problems) != 1)} in {files} file{'s' * (files != 1)}"
