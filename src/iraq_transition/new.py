"""The ``new`` command: write a commented template record to fill in, or archive an article.

The template is generated from the models: every field comes with its description and allowed
values as a comment. Required fields are left empty with a ``# TODO`` mark, so the file fails
validation (at each of them) until it is filled; optional fields are commented out.

``new sources ID --seed FILE --language TAG`` archives the article's text in seeds/ instead (named as
:mod:`.seeds` says) and writes a source record that validates as it is: what the text itself proves
(its file name and SHA-256) and the language given, in canonical form; nothing else is guessed.
"""

from __future__ import annotations

import hashlib
import os
import re
import typing
import unicodedata
from typing import Any

from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .fields import FieldShape, field_shapes, field_type
from .fmt import MODELINE, PLACEHOLDER, format_record
from .load import Project, display_path, ensure_real_directories, write_files
from .models import COLLECTIONS, SLUG_PATTERN
from .problems import UsageError, printable
from .seeds import SeedError, is_plain_directory, read_article, same_seed, seed_name

_INDENT = "  "
_TODO = f"  {PLACEHOLDER}"


def run(args) -> int:
    """``iraq-transition new COLLECTION ID``."""
    project = Project(args.root)
    if args.id is None:
        raise UsageError(
            f"give the new record's id, e.g. `iraq-transition new {args.collection} some-descriptive-name`: "
            "ids are lowercase words joined by hyphens, and they never change once merged"
        )
    if not re.fullmatch(SLUG_PATTERN, args.id) or len(args.id) > 120:
        raise UsageError(
            f"{args.id!r} is not a valid id: use lowercase letters, digits and single hyphens"
            + (f", e.g. {suggestion!r}" if (suggestion := slugify(args.id)) else "")
        )
    if not project.data_dir.is_dir():
        raise UsageError(f"no data/ directory in {project.root}: run this in the repository, or pass --root")
    path = project.data_dir / args.collection / f"{args.id}.yaml"
    shown = display_path(project, path)
    ensure_real_directories(project.root, path)  # before looking there: a link could lead outside the repository
    if os.path.lexists(path):
        raise UsageError(f"{shown} already exists: edit it, or choose another id")
    if args.seed is not None:
        return _archive(project, args, path, shown)
    if args.language is not None:
        raise UsageError("--language goes with --seed: `iraq-transition new sources ID --seed FILE --language TAG`")
    write_files(project.root, {path: template(args.collection, args.id)})
    print(f"wrote {shown}: a template for a new {args.collection} record")
    print("next steps:")
    print(f"  1. edit {shown}: fill in every TODO (the comments say what each field means and allows);")
    print("     uncomment the optional fields you need, delete the rest")
    print(f"  2. iraq-transition fmt {shown}")
    print(f"  3. iraq-transition validate {shown}")
    return 0


def _archive(project: Project, args, path: Path, shown: str) -> int:
    """``new sources ID --seed FILE --language TAG``: the seed and its source record, written together or not at all."""
    if args.collection != "sources":
        raise UsageError(f"--seed archives an article for a new source: `iraq-transition new sources ID --seed FILE`, "
                         f"not {args.collection}")
    if args.language is None:
        raise UsageError("give the text's language with --language, a BCP 47 tag such as en or en-GB "
                         "(nothing is guessed from the text)")
    try:
        data = read_article(args.seed)
    except SeedError as error:
        raise UsageError(str(error)) from None
    seeds_dir = project.seeds_dir
    if os.path.lexists(seeds_dir) and not is_plain_directory(seeds_dir):
        raise UsageError("seeds/ is not a directory of the repository itself (a link, or a file): nothing was done; "
                         "make it a plain directory")
    if existing := same_seed(seeds_dir, data):
        raise UsageError(f"seeds/{printable(existing)} already holds exactly this text: a text is archived once; "
                         "cite that seed's source record, or describe it if no record does yet")
    name = seed_name(seeds_dir, data)
    record = {"id": args.id, "file": name, "sha256": hashlib.sha256(data).hexdigest(), "language": args.language}
    try:
        COLLECTIONS["sources"].model_validate(record)
    except ValidationError:
        raise UsageError(f"--language {args.language!r} is not a BCP 47 language tag: write e.g. en, ar or en-GB") from None
    write_files(project.root, {seeds_dir / name: data.decode("utf-8"), path: format_record("sources", record)})
    print(f"archived {printable(str(args.seed))} as seeds/{name}")
    print(f"wrote {shown}: file, sha256 and language are set; it validates as it is")
    print("next steps:")
    print(f"  1. add to {shown} only what the text or an identified copy shows (CONTRIBUTING, \"A source\"):")
    print("     published, as precise as the text allows; notes on the text's defects; same_story_as if it")
    print("     rewrites another source; publisher, headline and url once identified, with identification")
    print(f"  2. iraq-transition fmt {shown}, then iraq-transition validate")
    print("  3. iraq-transition generate: datapackage.json lists every source")
    return 0


def slugify(text: str) -> str:
    """A slug for ``text``: ASCII lowercase words joined by hyphens ('' if nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:120].strip("-")


def template(collection: str, record_id: str) -> str:
    """The commented template of a ``collection`` record with id ``record_id``."""
    model = COLLECTIONS[collection]
    lines = [
        MODELINE.format(collection=collection),
        f"# A new {collection} record. {model.__doc__.strip()}",
        "# Fill in every TODO; uncomment the optional fields you need and delete the others.",
        "# Every value must come from a source: cite it verbatim under citations; unknown means omitted.",
        "",
    ]
    body = _model_fields(model, indent="", commented=False)
    body[body.index(f"id:{_TODO}")] = f"id: {record_id}"
    return "\n".join(lines + body) + "\n"


def _field(name: str, info: FieldInfo, shape: FieldShape | None, indent: str, commented: bool) -> list[str]:
    """Lines for one field at ``indent``: its description comment, then the field, commented
    out when optional (or inside an optional part)."""
    commented = commented or not info.is_required()
    mark = "# " if commented else ""
    lines = [f"{indent}# {describe(info, shape)}"]
    if shape and shape.model and shape.is_list:
        lines.append(f"{indent}{mark}{name}:")
        item = _model_fields(shape.model, indent + _INDENT * 2, commented)
        lines += _as_list_item(item, indent + _INDENT, mark)
    elif shape and shape.model:
        lines.append(f"{indent}{mark}{name}:")
        lines += _model_fields(shape.model, indent + _INDENT, commented)
    elif field_type(info.annotation).is_list:
        lines += [f"{indent}{mark}{name}:", f"{indent}{_INDENT}{mark}- {_TODO.strip()}"]
    else:
        lines.append(f"{indent}{mark}{name}:{_TODO}")
    return lines


def _model_fields(model: type[BaseModel], indent: str, commented: bool) -> list[str]:
    shapes = {shape.name: shape for shape in field_shapes(model)}
    return [
        line
        for name, info in model.model_fields.items()
        for line in _field(name, info, shapes.get(name), indent, commented)
    ]


def _as_list_item(lines: list[str], dash_indent: str, mark: str) -> list[str]:
    """Turn a nested mapping's lines into one list item, its dash on the first line."""
    return [f"{dash_indent}{mark}- {lines[0][len(dash_indent + _INDENT):]}", *lines[1:]]


def describe(info: FieldInfo, shape: FieldShape | None = None) -> str:
    """A field's description, allowed values, referenced collection and default, for a comment."""
    parts = [info.description or ""]
    base = field_type(info.annotation).base
    choices = typing.get_args(base) if typing.get_origin(base) is typing.Literal else ()
    if choices:
        parts.append("One of: " + ", ".join(map(str, choices)) + ".")
    if shape and shape.references:
        parts.append(f"An id from data/{shape.references}/.")
    if not info.is_required():
        default = info.get_default(call_default_factory=True)
        parts.append("Optional." if default in (None, []) else f"Optional (default: {_show(default)}).")
    return " ".join(part for part in parts if part)


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
