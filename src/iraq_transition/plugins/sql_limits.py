"""Datasette plugin: no SQL a visitor sends holds a thread or the memory for long.

Datasette's time limit interrupts a query only between two steps of SQLite's virtual machine: one function
call runs to its end, however long it takes. So every connection gets bounds on what a single call can do:

- values of at most :data:`MAX_LENGTH` bytes (``SQLITE_LIMIT_LENGTH``): ``printf``, ``zeroblob``,
  ``randomblob``, ``replace``, ``||``... fail at once ("string or blob too big") beyond it;
- ``printf``'s (and ``format``'s) ``%c`` writes its character as many times as its precision, one at a time,
  even past the length limit (SQLite 3.40: 14 s for a precision of 2e9): a larger precision fails;
- ``like`` and ``glob`` patterns of at most :data:`MAX_LIKE_PATTERN` bytes: one match compares every position
  of the text with the pattern;
- ``trim``, ``ltrim``, ``rtrim``, ``instr`` and ``replace`` compare every character of their first argument
  with their second (``trim(x, y)`` with two 1 MB strings: over ten minutes): a product of the two lengths
  beyond :data:`MAX_TRIM_PRODUCT` or :data:`MAX_SCAN_PRODUCT` fails.

- a statement returns at most :data:`MAX_RESULT` characters and bytes of text and blobs: 1,000 rows of 1 MB
  values come out of SQLite well within the time limit, and took the server 28 s and 5.9 GB to send.

The guarded functions check their arguments, then call SQLite's own function on a connection of their own.
The package's Datasette plugin (:mod:`iraq_transition.site_plugin`) brings the hook, to ``serve`` and to the
published site alike.
"""

from __future__ import annotations

import re
import sqlite3

from datasette import hookimpl

MAX_LENGTH = 1_000_000
"""Longest string or blob, in bytes: SQLite's own advice for untrusted SQL, some 200 times the longest value of
the data (a source text: 4.6 kB; 5.6 kB in scripts/synthetic.py's data)."""
MAX_RESULT = 16 * 1024 * 1024
"""Most characters and bytes (of text and blob values) one statement may return: three times a page of 1,000
sources at 100k records (5.6 MB)."""
MAX_LIKE_PATTERN = 100
"""Longest ``like`` or ``glob`` pattern, in bytes (``SQLITE_LIMIT_LIKE_PATTERN_LENGTH``): one match costs up to
the text's length times the pattern's (a 1 MB text against a 97-character pattern: 0.2 s; 1,000 characters: 2 s,
and 50,000, SQLite's default limit, minutes). A contains filter of the site takes up to 98 characters."""
MAX_TRIM_PRODUCT = 10**8
"""Longest ``trim`` text times its set of characters (about 0.3 s)."""
MAX_SCAN_PRODUCT = 10**9
"""Longest ``instr`` or ``replace`` text times its pattern (about 0.01 s)."""

_CONVERSION = re.compile(r"%[-+ #!0,]*(\*|[1-9][0-9]*)?(?:\.(\*|[0-9]*))?(?:ll|l)?(.?)", re.DOTALL)
"""A ``printf`` conversion as SQLite reads it: flags, width, precision, length, type."""
_TYPES = set("dsgzqQwxXfeEGicouprnST%")
_NO_ARGUMENT = set("%n")


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    """Bound every value and the guarded functions on each connection Datasette opens."""
    # A refused call raises in a Python function, which Datasette (enabling callback tracebacks when imported)
    # would log as a traceback each time: the visitor's error answer says what happened, the log one line.
    sqlite3.enable_callback_tracebacks(False)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN)
    builtin = sqlite3.connect(":memory:", check_same_thread=False)
    builtin.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    guards = {
        ("printf", -1): _check_printf, ("format", -1): _check_printf,
        ("trim", 2): _check_trim, ("ltrim", 2): _check_trim, ("rtrim", 2): _check_trim,
        ("instr", 2): _check_scan, ("replace", 3): _check_scan,
    }
    for (name, arguments), check in guards.items():
        conn.create_function(name, arguments, _guarded(builtin, name, check), deterministic=True)
    _bound_results(conn)


def _bound_results(conn: sqlite3.Connection) -> None:
    """Make each statement on ``conn`` fail once its rows hold more than :data:`MAX_RESULT` of text and blobs."""
    make_row = conn.row_factory or (lambda cursor, values: values)
    returned = 0

    def started(statement: str) -> None:  # called as each statement starts to run
        nonlocal returned
        returned = 0

    def row(cursor: sqlite3.Cursor, values: tuple):
        nonlocal returned
        returned += sum(len(value) for value in values if isinstance(value, (str, bytes)))
        if returned > MAX_RESULT:
            raise sqlite3.DataError(f"result too big: more than {MAX_RESULT:,} characters; ask for fewer rows or columns")
        return make_row(cursor, values)

    conn.set_trace_callback(started)
    conn.row_factory = row


def _guarded(builtin: sqlite3.Connection, name: str, check):
    """SQLite's function ``name``, called on ``builtin`` once ``check`` accepts the arguments."""

    def guarded(*args):
        check(builtin, *args)
        try:
            return builtin.execute(f"select {name}({', '.join('?' * len(args))})", args).fetchone()[0]
        except sqlite3.DataError:  # the result is too big: say so, as SQLite's own function would
            raise _too_big() from None

    return guarded


def _too_big() -> OverflowError:
    return OverflowError()  # what Python's sqlite3 reports as SQLite's "string or blob too big"


def _check_printf(builtin: sqlite3.Connection, form=None, *args) -> None:
    """Refuse a ``%c`` whose precision is beyond :data:`MAX_LENGTH` (taking arguments as SQLite does: a
    format given as a blob or a number is read as its text)."""
    if isinstance(form, bytes):
        form = form.decode("utf-8", errors="replace")  # a conversion is ASCII: what is replaced is no part of one
    elif form is not None and not isinstance(form, str):
        form = str(form)
    if form is None or "%" not in form:
        return
    used = 0
    for width, precision, kind in _CONVERSION.findall(form):
        if kind not in _TYPES:
            return  # SQLite stops there
        used += width == "*"
        if precision == "*":
            value = args[used] if used < len(args) else 0
            precision = builtin.execute("select abs(cast(? as integer))", (value,)).fetchone()[0] or 0
            used += 1
        if kind == "c" and precision and int(precision) > MAX_LENGTH:
            raise _too_big()
        used += kind not in _NO_ARGUMENT


def _check_trim(builtin: sqlite3.Connection, text, characters) -> None:
    if _length(text) * _length(characters) > MAX_TRIM_PRODUCT:
        raise _too_big()


def _check_scan(builtin: sqlite3.Connection, text, pattern, *replacement) -> None:
    if _length(text) * _length(pattern) > MAX_SCAN_PRODUCT:
        raise _too_big()


def _length(value) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 0
