"""Work in a process of its own: what a forked process makes, streamed back as marshalled plain data.

The build makes its rows (taking what the cache kept of each record's rows, or reading the record back, validating
it into its model and taking its columns) in a forked process while it writes them (:class:`Stream`), and writes the corroboration tables' CSV files in one
while it writes the views' (:func:`meanwhile`), so that the work takes a core each. What is sent is marshalled
(nothing that can run code is built from it), a frame at a time through a pipe, whose buffer bounds how far the
maker runs ahead. A forked process ends with its parent, and its parent stops it when it stops reading.
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import signal
import struct
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

PR_SET_PDEATHSIG = 1
"""``prctl``'s option that sends the calling process a signal when its parent dies (linux/prctl.h)."""
LENGTH = struct.Struct("<Q")
"""Each frame's length, before it."""


def end_with_parent(parent: int) -> None:
    """In a forked process: end when the process ``parent`` ends (a killed run leaves no process behind)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before this process could ask to end with it
        os._exit(1)


class Stream:
    """The items of ``make()``, then :attr:`result` (``finish()``), made in a forked process where ``fork`` (after
    ``prepare()`` there: reopen what the parent had open), else here. An exception of one of the types ``passed``
    (or of a subclass) is raised here again with its arguments and the attributes its handlers read; another as a
    RuntimeError with the maker's traceback."""

    def __init__(self, make: Callable[[], Iterator[Any]], finish: Callable[[], Any], prepare: Callable[[], None],
                 passed: tuple[type[Exception], ...], fork: bool):
        self.make, self.finish, self.prepare, self.passed = make, finish, prepare, passed
        self.fork = fork and hasattr(os, "fork")
        self.result: Any = None

    def __iter__(self) -> Iterator[Any]:
        if not self.fork:
            yield from self.make()
            self.result = self.finish()
            return
        parent = os.getpid()
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # never returns: the process ends here
            os.close(reader)
            os._exit(self._serve(parent, writer))
        os.close(writer)
        try:
            with open(reader, "rb") as frames:
                while (frame := _read(frames))[0] == "item":
                    yield frame[1]
            kind, *detail = frame
            if kind == "failed":
                self._raise(*detail)
            self.result = detail[0]
        finally:
            _end(child)

    def _serve(self, parent: int, writer: int) -> int:
        """In the forked process: every item, then the result (or the failure); the exit status."""
        try:
            end_with_parent(parent)
            with open(writer, "wb") as frames:
                try:
                    self.prepare()
                    for item in self.make():
                        _write(frames, ("item", item))
                    _write(frames, ("done", self.finish()))
                except Exception as error:  # noqa: BLE001 - sent to the parent, which raises it
                    _write(frames, ("failed", *_described(error)))
            return 0
        except BaseException:  # the parent stopped reading, or an interrupt: nothing more to say
            return 1

    def _raise(self, kinds: list[str], arguments: tuple, attributes: dict[str, Any], trace: str) -> None:
        """Raise the failure described by :func:`_described`: as its own class where that is one of ``passed`` or
        of their subclasses (by module and name), else as the nearest of its bases that is."""
        known = {_name(kind): kind for kind in _with_subclasses(self.passed)}
        kind = next((known[name] for name in kinds if name in known), None)
        if kind is None:
            raise RuntimeError(f"a forked process of the build failed:\n{trace}")
        error = kind(*arguments)
        for name, value in attributes.items():
            setattr(error, name, value)
        raise error


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _with_subclasses(kinds: tuple[type, ...]) -> list[type]:
    found, todo = [], list(kinds)
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo += kind.__subclasses__()
    return found


KEPT = ("filename", "sqlite_errorcode", "sqlite_errorname")
"""The attributes of an exception that its handlers read (an OSError's file, SQLite's error code), sent with it."""


def _described(error: Exception) -> tuple[list[str], tuple, dict[str, Any], str]:
    """What the parent needs to raise ``error`` again: the module and name of its class and of their bases, its
    arguments (its message alone where they are not plain data), its :data:`KEPT` attributes, and its traceback."""
    arguments = error.args
    try:
        marshal.dumps(arguments)
    except ValueError:
        arguments = (str(error),)
    attributes = {name: getattr(error, name) for name in KEPT if isinstance(getattr(error, name, None), (str, int))}
    return [_name(kind) for kind in type(error).__mro__], arguments, attributes, traceback.format_exc()


@contextlib.contextmanager
def meanwhile(work: Callable[[], None], passed: tuple[type[Exception], ...], fork: bool) -> Iterator[None]:
    """Do ``work()`` in a forked process while the body runs (where ``fork``, else after it), and wait for it to end;
    its failure is raised as :class:`Stream` says."""
    def started() -> Iterator[None]:
        yield None
        work()

    steps = iter(Stream(started, lambda: None, lambda: None, passed, fork))
    try:
        next(steps)  # forked and running, or (without a fork) not begun
        yield
        for _ in steps:
            pass
    finally:
        steps.close()


def _write(frames: BinaryIO, value: Any) -> None:
    data = marshal.dumps(value)
    frames.write(LENGTH.pack(len(data)))
    frames.write(data)


def _read(frames: BinaryIO) -> tuple:
    """The next frame; a failure if the maker ended without saying so, or in the middle of a frame (killed: out of
    memory?)."""
    head = frames.read(LENGTH.size)
    size = LENGTH.unpack(head)[0] if len(head) == LENGTH.size else 0
    data = frames.read(size) if size else b""
    if not data or len(data) != size:
        return ("failed", [_name(OSError)], ("a forked process of the build ended before it was done (killed, or out of "
                                        "memory?): build again",), {}, "")
    return marshal.loads(data)


def _end(child: int) -> None:
    """Stop the forked process if it is still running, and wait for it."""
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(child, 0)
