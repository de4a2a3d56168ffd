"""The ``iraq-transition`` command.

Each subcommand lives in the module named for its pipeline step and is imported
only when used, so that ``validate`` never pays for datasette or frictionless.
Every handler takes the parsed arguments and returns the exit status:
0 clean, 1 invalid data, 2 usage error (3: an internal error, which is a bug).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from . import __version__
from .problems import UsageError, shown

# subcommand -> (module, function); the function takes the parsed arguments.
HANDLERS = {
    "validate": ("validate", "run"),
    "build": ("build", "run"),
    "generate": ("export", "run_generate"),
    "serve": ("serve", "run"),
    "fmt": ("fmt", "run"),
    "new": ("new", "run"),
    "diff": ("diff", "run"),
    "check": ("check", "run"),
    "fix": ("check", "run_fix"),
    "release": ("release", "run"),
}

def _fault(error: OSError, command: str) -> str:
    """An operating system's refusal in words: the file it concerns, why, and what to do."""
    from .load import WriteError  # here: load imports the models, which `--help` does not need

    where = f"{error.filename}: " if error.filename else ""
    reason = error.strerror or str(error)
    if isinstance(error, WriteError):
        advice = f"make it writable (or free disk space), then run {command} again"
        return f"cannot write {where}{reason}: nothing was written; {advice}"
    return f"{where}{reason}: fix that, then run {command} again"


def _collections() -> tuple[str, ...]:
    """The collections, from the models (imported here: they cost a command's start-up some 140 ms)."""
    from .models import COLLECTIONS

    return tuple(COLLECTIONS)


class _CommandParser(argparse.ArgumentParser):
    """The parser of one command. ``lazy_choices`` (argument name -> function) gives the arguments whose choices
    cost something to know: they are asked for only when this command is parsed (its ``--help`` too), so that
    ``new``'s collections cost no other command, nor ``iraq-transition --help``, the import of the models."""

    lazy_choices: Mapping[str, Callable[[], Sequence[str]]] = {}

    def parse_known_args(self, args=None, namespace=None):
        for action in self._actions:
            if action.dest in self.lazy_choices:
                action.choices = self.lazy_choices[action.dest]()
        return super().parse_known_args(args, namespace)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iraq-transition",
        description="Validate, build and publish the iraq-transition dataset.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="repository to work on (default: the current directory)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the validation cache of this repository is kept (default: under $XDG_CACHE_HOME/iraq-transition/)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser)

    validate = commands.add_parser("validate", help="check records, citations and seeds; report every error")
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="record files or directories (default: all of data/)")
    validate.add_argument("--format", choices=("text", "github", "json"), default="text", help="error output format (default: text)")
    validate.add_argument("--changed-since", metavar="REV", help="check only records changed since git revision REV, and the records that reference them")
    validate.add_argument("--no-cache", action="store_true", help="ignore and do not write the cache of validated records")

    build = commands.add_parser("build", help="validate, then write the SQLite database, CSVs and timeline into build/")
    build.add_argument("--out", type=Path, default=None, metavar="DIR", help="output directory (default: ROOT/build)")
    build.add_argument("--no-cache", action="store_true", help="ignore and do not write the cache of validated records")

    generate = commands.add_parser("generate", help="regenerate the committed files derived from the models and data (schema/, datapackage.json, docs/timeline.svg, docs/codebook.md)")
    generate.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed file is stale")

    serve = commands.add_parser("serve", help="build if stale, then browse the database with Datasette")
    serve.add_argument("--port", type=int, default=8001, help="port to listen on (default: 8001)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")

    fmt = commands.add_parser("fmt", help="rewrite records in canonical YAML")
    fmt.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="record files or directories (default: all of data/)")
    fmt.add_argument("--check", action="store_true", help="write nothing; print a unified diff and exit 1 if a file is not canonical")

    new = commands.add_parser("new", help="write a commented template record")
    new.add_argument("collection", help="collection of the new record")
    new.lazy_choices = {"collection": _collections}
    new.add_argument("id", nargs="?", help="id of the new record (a lowercase slug)")
    new.add_argument("--seed", type=Path, metavar="FILE", help="sources only: archive the article's text FILE in seeds/ and write a source record that validates")
    new.add_argument("--language", metavar="TAG", help="with --seed: the text's language, a BCP 47 tag (en, en-GB)")

    diff = commands.add_parser(
        "diff",
        help="record-level changes between two git revisions or two data directories",
        usage="%(prog)s [-h] [--format {markdown,json,delta}] (BASE [HEAD] | --dir OLD [--dir NEW])",
    )
    diff.add_argument("base", metavar="BASE", nargs="?", help="git revision to compare from")
    diff.add_argument("head", metavar="HEAD", nargs="?", help="git revision to compare to (default: the working tree)")
    diff.add_argument(
        "--dir",
        dest="dirs",
        action="append",
        type=Path,
        metavar="DIR",
        help="compare directories instead (a repository root or its data/): --dir OLD [--dir NEW], NEW by default the working tree",
    )
    diff.add_argument(
        "--format",
        choices=("markdown", "json", "delta"),
        default="markdown",
        help="output format: markdown, json, or delta (JSON lines, one a changed record: op ADD/MOD/DEL, collection, id, "
        "the record or the changed fields with old and new values) (default: markdown)",
    )

    check = commands.add_parser("check", help="run every check (formatting, validation, build, data package, generated files) and report every problem")
    check.add_argument("--format", choices=("text", "github"), default="text", help="problem output format; github also writes a report to $GITHUB_STEP_SUMMARY (default: text)")
    check.add_argument("--base", metavar="REV", help="add the record changes since git revision REV to the report")
    check.add_argument("--summary", metavar="FILE", help="append the Markdown report to FILE (default with --format github: $GITHUB_STEP_SUMMARY, if set)")

    commands.add_parser("fix", help="format the records and refresh the generated files; report what is left to fix by hand")

    release = commands.add_parser(
        "release",
        help="make data release VERSION: bump the version, write its changelog section, regenerate, build, check, "
        "then commit and tag it (locally)",
    )
    release.add_argument("version", metavar="VERSION", help="the new data version, YEAR.MONTH.N (such as 2026.12.0), newer than the current one")
    release.add_argument("--date", metavar="YYYY-MM-DD", help="the day of the release (default: today, in UTC)")
    release.add_argument("--no-commit", action="store_true", help="write, build and check, but neither commit nor tag")
    return parser


GC_THRESHOLD = 10_000
"""Objects made, less those freed, between two collections of the youngest garbage (Python's default: 700): a run
makes a few objects for each of many files, most of them kept, and the collector's passes over them would cost a
warm validation of 100k files a fifth of its time."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    args = _parser().parse_args(argv)
    if not args.root.is_dir():
        print(shown(f"iraq-transition: --root {args.root}: not a directory"), file=sys.stderr)
        return 2
    module_name, function_name = HANDLERS[args.command]
    try:
        handler = getattr(importlib.import_module(f".{module_name}", __package__), function_name)
        return handler(args)
    except UsageError as error:
        print(shown(f"iraq-transition {args.command}: {error}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:  # the system's refusal (a read-only or full disk, a loop of links): not a bug
        print(shown(f"iraq-transition {args.command}: {_fault(error, args.command)}"), file=sys.stderr)
        return 1
    except Exception as error:  # last resort: a bug, never a contributor's mistake
        print(shown(
            f"iraq-transition {args.command}: internal error ({type(error).__name__}: {error}); "
            "this is a bug in iraq-transition: please report it with the command you ran"
        ), file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
