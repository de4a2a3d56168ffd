"""The ``fmt`` command: rewrite records as canonical YAML.

Canonical form, so that a pull request's diff shows only real changes:

- first line the ``yaml-language-server`` modeline naming the collection's JSON Schema;
- fields in the model's field order (nested models too); fields a model does not know are kept,
  after the known ones, so that ``validate`` can report them;
- a field equal to its default (null, an empty list, qualifier ``exact``, measure ``level``,
  unnamed ``false``) is omitted: files stay short and there is one way to say "unknown";
- block style, 2-space indent, list items indented under their key (``  - key: value``);
- a value the model wants as text that is written unquoted and that YAML reads as something else
  (``2024``, ``yes``, ``1:30``: a number, a boolean, or a value YAML 1.1 and 1.2 read differently) is
  taken as the text written and double-quoted (``"2024"``); an empty value, ``~`` and ``null`` stay null;
- a string is written plain when YAML (1.1 and 1.2) reads it back as that same string, otherwise
  double-quoted with escapes; a string with line breaks is a literal block (``|`` / ``|-``) when
  that is exact, else double-quoted; long strings stay on one line (no wrapping, ever);
- comments other than the modeline are dropped (put remarks in ``notes``);
- UTF-8 with Unicode kept, LF line endings, one trailing newline.

Formatting never changes a value (but for those unquoted texts, which it quotes): every new text is
parsed again and compared with the input before anything is written.
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
import re
import secrets
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args, get_origin

import yaml
from pydantic import BaseModel

from . import load
from .fields import REQUIRED, field_defaults, field_type, type_at
from .models import COLLECTIONS
from .problems import Problem, shown

MODELINE = "# yaml-language-server: $schema=../../schema/{collection}.schema.json"
PLACEHOLDER = "# TODO"
"""The mark of a value still to fill in, in the templates of ``iraq-transition new``."""
_UNFILLED = re.compile(rf"^ *(?:- )?[^\s#:]+: +{PLACEHOLDER}$", re.M)

_INDENT = 2
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
# Characters PyYAML accepts in a stream and that never act as line breaks (PyYAML's
# printable set, less tab, CR, NEL, the Unicode line/paragraph separators and the BOM).
_SAFE_CHARS = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")
# Dates and partial dates such as 2025-09, quoted alike so that every date value is written the same way.
_DATE_LIKE = re.compile(r"[0-9]{4}-[0-9]{1,2}(?:-[0-9]{1,2}(?:[Tt ].*)?)?")
_ESCAPES = {
    "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
    "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P",
}
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


_NO_FORM = "no-canonical-form"


class FormatError(ValueError):
    """A record that has no canonical YAML form, at a 1-based line and column; ``code`` as :attr:`.Problem.code`."""

    def __init__(self, message: str, line: int = 1, col: int = 1, code: str = _NO_FORM):
        super().__init__(message)
        self.line, self.col, self.code = line, col, code


# --------------------------------------------------------------------------- canonical data


def canonical(data: Any, model: type[BaseModel], *, fill_defaults: bool = False) -> Any:
    """``data`` with keys in the model's field order and defaults omitted (or, with
    ``fill_defaults``, every missing optional field set to its default). Unknown keys follow, in
    their original order; values of the wrong shape are left as they are."""
    if not isinstance(data, dict):
        return data
    result = {}
    for name, default, submodel in field_defaults(model):
        if name in data:
            value = data[name]
            if submodel is not None and isinstance(value, list):
                value = [canonical(item, submodel, fill_defaults=fill_defaults) for item in value]
            elif submodel is not None:
                value = canonical(value, submodel, fill_defaults=fill_defaults)
            if fill_defaults or default is REQUIRED or not same(value, default):
                result[name] = value
        elif fill_defaults and default is not REQUIRED:
            result[name] = copy.copy(default)
    result.update((key, value) for key, value in data.items() if key not in model.model_fields)
    return result


def same(a: Any, b: Any) -> bool:
    """Equality that also tells ``1`` from ``true`` and ``1.0`` (what YAML would write differently)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# --------------------------------------------------------------------------- emitting


def format_record(collection: str, data: dict) -> str:
    """The canonical text of a record of ``collection`` read as ``data``."""
    lines = [MODELINE.format(collection=collection)]
    _emit_mapping(canonical(data, COLLECTIONS[collection]), 0, lines)
    return "\n".join(lines) + "\n"


def _emit_mapping(mapping: dict, indent: int, lines: list[str]) -> None:
    for key, value in mapping.items():
        if isinstance(key, (dict, list)):
            raise FormatError(f"a mapping key must be a single value, not {type(key).__name__}")
        _emit_value(f"{' ' * indent}{scalar(key)}:", value, indent, lines)


def _emit_sequence(items: list, indent: int, lines: list[str]) -> None:
    dash = " " * indent + "- "
    for item in items:
        if isinstance(item, dict) and item:
            start = len(lines)
            _emit_mapping(item, indent + _INDENT, lines)
            lines[start] = dash + lines[start][indent + _INDENT :]
        else:
            _emit_value(dash.rstrip(), item, indent, lines)


def _emit_value(head: str, value: Any, indent: int, lines: list[str]) -> None:
    """Write ``head`` (a key or a dash at ``indent``) followed by ``value``."""
    if isinstance(value, dict) and value:
        lines.append(head)
        _emit_mapping(value, indent + _INDENT, lines)
    elif isinstance(value, list) and value:
        lines.append(head)
        _emit_sequence(value, indent + _INDENT, lines)
    elif isinstance(value, str) and (block := _literal_block(value)) is not None:
        lines.append(f"{head} {block[0]}")
        lines.extend(f"{' ' * (indent + _INDENT)}{line}" if line else "" for line in block[1:])
    else:
        lines.append(f"{head} {scalar(value)}")


def scalar(value: Any) -> str:
    """A single value on one line, as YAML reads it back exactly."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return value if _is_plain(value) else _double_quoted(value)
    if value == {} or value == []:
        return "{}" if isinstance(value, dict) else "[]"
    raise FormatError(f"cannot write a {type(value).__name__} in a record")


def _float(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "." not in text:  # 1e+16: PyYAML reads a float only with a dot
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa}.0" + (f"e{exponent}" if exponent else "")
    return text


@functools.lru_cache(maxsize=65536)  # ids, enum values and names recur across records
def _is_plain(text: str) -> bool:
    return bool(
        text
        and text == text.strip()
        and text[0] not in _INDICATORS
        and not text.startswith("...")  # at the start of a line, the end of the document (and "---" starts with "-")
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and _SAFE_CHARS.fullmatch(text)
        and not _DATE_LIKE.fullmatch(text)
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG  # timestamps, merge keys too
        and _reads_as_text(text)
    )


def _reads_as_text(text: str) -> bool:
    """Whether YAML 1.1 and 1.2 both read ``text``, unquoted, as that text."""
    try:
        return isinstance(load.plain_scalar(text), str)
    except ValueError:  # read differently by the two, or a number too long to read
        return False


def _double_quoted(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _SAFE_CHARS.fullmatch(char):
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _literal_block(text: str) -> list[str] | None:
    """``['|' or '|-', line, ...]`` for a multi-line string a literal block holds exactly, else None."""
    body = text[:-1] if text.endswith("\n") else text
    if "\n" not in body or body.endswith("\n") or body.startswith((" ", "\n")):
        return None
    lines = body.split("\n")
    if any(line != line.rstrip() or not _SAFE_CHARS.fullmatch(line) for line in lines):
        return None
    return ["|" if text.endswith("\n") else "|-", *lines]


# --------------------------------------------------------------------------- the command


def format_text(text: str, collection: str) -> str:
    """The canonical form of a record file's text; LoadError or FormatError when there is none."""
    if _UNFILLED.search(text):
        _refuse_placeholders(text)
    data = _read_texts_quoted(text, COLLECTIONS[collection])
    if not isinstance(data, dict):
        raise FormatError("a record must be a mapping of field names to values", code="not-a-record")
    result = format_record(collection, data)
    # An unchanged file needs no second reading: nothing will be written.
    if result != text and not same(_reread(result), canonical(data, COLLECTIONS[collection])):
        raise FormatError("formatting would change a value: please report this")
    return result


# --------------------------------------------------------------------------- texts written unquoted


def _read_texts_quoted(text: str, model: type[BaseModel]) -> Any:
    """The data of a record file's ``text``, with every unquoted value that the model wants as text but that
    YAML reads as something else taken as the text written (:func:`_quote_texts`); LoadError as parse_yaml."""
    try:
        data = load.parse_yaml(text)
    except load.LoadError as error:  # an unquoted yes, 1:30 or too long a number, perhaps where text belongs
        if error.code not in ("yaml-ambiguous", load.CONSTRUCT) or (quoted := _quote_texts(text, model)) == text:
            raise
        return load.parse_yaml(quoted)
    if any(_wants_text(model, loc) for loc in _non_texts(data)):
        return load.parse_yaml(_quote_texts(text, model))
    return data


def _non_texts(data: Any) -> Iterator[tuple]:
    """The loc of every boolean and number in ``data`` (walked without recursion)."""
    pending = [((), data)]
    while pending:
        loc, node = pending.pop()
        if isinstance(node, dict):
            pending.extend((loc + (key,), value) for key, value in node.items())
        elif isinstance(node, list):
            pending.extend((loc + (index,), value) for index, value in enumerate(node))
        elif isinstance(node, (bool, int, float)):
            yield loc


@functools.lru_cache(maxsize=4096)
def _wants_text(model: type[BaseModel], loc: tuple) -> bool:
    """Whether the model wants a single text at ``loc`` (a string, or one of a choice of strings)."""
    annotation = type_at(model, loc)
    if annotation is None:
        return False
    shape = field_type(annotation)
    choices = get_args(shape.base) if get_origin(shape.base) is Literal else ()
    return not shape.is_list and (shape.base is str or bool(choices) and all(isinstance(c, str) for c in choices))


def _quote_texts(text: str, model: type[BaseModel]) -> str:
    """``text`` with each unquoted one-line value that the model wants as text, and that YAML reads as a boolean,
    a number or differently in YAML 1.1 and 1.2, double-quoted as written; as it is if it is not well-formed."""
    spans = []
    parser = yaml.cyaml.CParser(text)
    stack: list[_Container] = []
    try:
        while not isinstance(event := parser.get_event(), yaml.StreamEndEvent):
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                continue
            if not isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)):
                continue
            loc: tuple = ()
            if stack:
                top = stack[-1]
                if top.awaiting_key:
                    if not isinstance(event, yaml.ScalarEvent):
                        return text  # a complex key, which parse_yaml refuses
                    top.key, top.awaiting_key = event.value, False
                    continue
                loc = top.loc + (top.key,)
                top.advance()
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(_Container(loc, isinstance(event, yaml.MappingStartEvent)))
            elif (isinstance(event, yaml.ScalarEvent) and event.style == "" and event.tag is None
                  and event.start_mark.line == event.end_mark.line and _reads_as_other(event.value)
                  and _wants_text(model, loc)):
                spans.append((event.start_mark.index, event.end_mark.index, event.value))
    except yaml.YAMLError:
        return text
    finally:
        parser.dispose()
    for start, end, value in reversed(spans):
        text = text[:start] + _double_quoted(value) + text[end:]
    return text


class _Container:
    """A mapping or list being read by :func:`_quote_texts`: its loc, and the key or index of its next value."""

    def __init__(self, loc: tuple, mapping: bool):
        self.loc, self.mapping = loc, mapping
        self.key: Any = None if mapping else 0
        self.awaiting_key = mapping

    def advance(self) -> None:
        if self.mapping:
            self.awaiting_key = True
        else:
            self.key += 1


def _reads_as_other(plain: str) -> bool:
    """Whether YAML reads the unquoted ``plain`` as a boolean or number, or YAML 1.1 and 1.2 read it differently."""
    try:
        return not isinstance(load.plain_scalar(plain), (str, type(None)))
    except ValueError:
        return True


def _refuse_placeholders(text: str) -> None:
    """FormatError at the first field left empty with the ``# TODO`` mark of a template."""
    lines = {text.count("\n", 0, match.start()) + 1 for match in _UNFILLED.finditer(text)}
    positions: load.Positions = {}
    data = load.parse_yaml(text, positions)
    for loc, (line, col, _, _) in sorted(positions.items(), key=lambda item: item[1]):
        if line in lines and loc and functools.reduce(lambda node, key: node[key], loc, data) is None:
            message = "still a placeholder of the `new` template: fill it in first (fmt would drop the template's comments)"
            raise FormatError(message, line, col, "template-unfilled")


def _reread(text: str) -> Any:
    try:
        return load.parse_yaml(text)
    except load.LoadError as error:
        raise FormatError(f"no canonical form ({error.message}); please report this") from None


def run(args) -> int:
    """``iraq-transition fmt [--check] [PATH...]``."""
    with WorkflowCommandsPaused() as paused:
        return _run(args, paused)


class WorkflowCommandsPaused:
    """On GitHub Actions, from :meth:`begin` to the end of the block, the runner reads no workflow
    command in what is printed (between ``::stop-commands::TOKEN`` and ``::TOKEN::``, the token
    random so that no file can end the pause early): a second guard, behind :func:`_shown`, around
    a diff that prints lines of the records. Elsewhere, and when nothing begins it, it prints nothing."""

    token: str | None = None

    def __enter__(self) -> WorkflowCommandsPaused:
        return self

    def begin(self) -> None:
        if self.token is None and os.environ.get("GITHUB_ACTIONS") == "true":
            self.token = secrets.token_hex(16)
            print(f"::stop-commands::{self.token}")

    def __exit__(self, *exception) -> None:
        if self.token is not None:
            print(f"::{self.token}::")


def _shown(diff_lines: Iterable[str]) -> Iterator[str]:
    """The lines of a unified diff as printed: each on a line of its own, :func:`.problems.shown`
    (a carriage return shows as ``\\r``) and without workflow commands; a last line without a line
    break is marked as ``diff`` marks it. So a record's text can neither forge a CI annotation or
    command nor move the terminal's cursor."""
    for line in diff_lines:
        yield shown(line.removesuffix("\n")) + "\n"
        if line.splitlines()[0] == line:
            yield "\\ No newline at end of file\n"


def _run(args, paused: WorkflowCommandsPaused) -> int:
    project = load.Project(args.root)
    files, problems = load.record_files(project)
    files, missing = select(project, files, args.paths)
    if args.paths:
        wanted = [path.resolve() for path in args.paths]
        problems = [p for p in problems if _concerns(project.root / p.path, wanted)]
    if missing:
        print(shown(f"iraq-transition fmt: no such file or directory: {', '.join(missing)}"), file=sys.stderr)
        return 2
    changed = []
    for outcome in canonical_files(files):
        if isinstance(outcome, Problem):
            problems.append(outcome)
            continue
        if args.check:
            paused.begin()
            sys.stdout.writelines(diff_lines(outcome))
        elif problem := rewrite(project, outcome, "fmt"):
            problems.append(problem)
            continue
        changed.append(outcome.file.display)
    for problem in sorted(problems):
        print(problem)
    verb = "would reformat" if args.check else "reformatted"
    print(f"fmt: {len(files)} files checked, {verb} {len(changed)}, {len(problems)} errors", file=sys.stderr)
    if args.check and changed:
        print("fmt: run `iraq-transition fmt` to rewrite them in canonical form (or `iraq-transition fix`, which also "
              "refreshes the generated files)", file=sys.stderr)
    return 1 if problems or (args.check and changed) else 0


class Reformatting(NamedTuple):
    """A record file not in canonical form: its bytes, and its canonical text."""

    file: load.RecordFile
    original: bytes
    text: str


def diff_lines(outcome: Reformatting) -> Iterator[str]:
    """The unified diff from a file to its canonical form, as printed (:func:`_shown`)."""
    old = outcome.original.decode("utf-8", errors="replace").splitlines(keepends=True)
    name = outcome.file.display
    return _shown(difflib.unified_diff(old, outcome.text.splitlines(keepends=True), f"a/{name}", f"b/{name}"))


def rewrite(project: load.Project, outcome: Reformatting, command: str) -> Problem | None:
    """Write a file in its canonical form and say so; the problem when it cannot be written (left as it was)."""
    try:
        load.write_files(project.root, {Path(outcome.file.path): outcome.text})
    except OSError as error:
        message = f"cannot rewrite the file ({error.strerror}): left as it was; make it writable, then run {command} again"
        return Problem(outcome.file.display, 1, 1, message, code="file-unwritable")
    print(f"reformatted {outcome.file.display}")
    return None


def canonical_files(files: list[load.RecordFile]) -> Iterator[Reformatting | Problem]:
    """Of ``files``, in order, those not in canonical form, and a problem for each that has none (it cannot be read,
    or is an unfilled template); one file at a time."""
    for record_file in files:
        try:
            original = load.read_bytes(record_file.path)
            text = format_text(load.decode(original), record_file.collection)
        except load.LoadError as error:
            yield error.problem(record_file.display)
            continue
        except FormatError as error:
            yield Problem(record_file.display, error.line, error.col, str(error), code=error.code)
            continue
        if text.encode() != original:
            yield Reformatting(record_file, original, text)


def select(project: load.Project, files: list[load.RecordFile], paths: list[Path]) -> tuple[list[load.RecordFile], list[str]]:
    """The record files at or under ``paths`` (all of them when none are given), and the paths that do not exist."""
    if not paths:
        return files, []
    missing = [str(path) for path in paths if not path.exists()]
    wanted = [path.resolve() for path in paths]
    return [f for f in files if _under(Path(f.path), wanted)], missing


def _under(path: Path, wanted: list[Path]) -> bool:
    path = path.resolve()
    return any(path.is_relative_to(directory) for directory in wanted)


def _concerns(path: Path, wanted: list[Path]) -> bool:
    """Whether a problem at ``path`` concerns the ``wanted`` paths: it is at or under one of them, or at a directory
    holding one (a link refused there)."""
    path = path.resolve()
    return any(path.is_relative_to(directory) or directory.is_relative_to(path) for directory in wanted)
