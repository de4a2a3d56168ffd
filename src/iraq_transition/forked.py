"""Work in a process of its own: what a forked process makes, streamed back as marshalled plain data.

The build makes its rows (reading each record from the cache, validating it into its model, taking its columns)
in a forked process while it writes them, so that the two halves of the work take a core each. What is sent is
marshalled (nothing that can run code is built from it), a frame at a time through a pipe, whose buffer bounds
how far the maker runs ahead.
"""

from __future__ import annotations

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
    is raised here again as it was (its message); another as a RuntimeError with the maker's traceback."""

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
                    _write(frames, ("failed", type(error).__name__, str(error), traceback.format_exc()))
            return 0
        except BaseException:  # the parent stopped reading, or an interrupt: nothing more to say
            return 1

    def _raise(self, name: str, message: str, trace: str) -> None:
        for kind in self.passed:
            if kind.__name__ == name:
                raise kind(message)
        raise RuntimeError(f"the process making the build's rows failed:\n{trace}")


def _write(frames: BinaryIO, value: Any) -> None:
    data = marshal.dumps(value)
    frames.write(LENGTH.pack(len(data)))
    frames.write(data)


def _read(frames: BinaryIO) -> tuple:
    """The next frame; a failure if the maker ended without saying so (killed: out of memory?)."""
    head = frames.read(LENGTH.size)
    data = frames.read(LENGTH.unpack(head)[0]) if len(head) == LENGTH.size else b""
    if not data:
        return ("failed", "OSError", "the process making the build's rows ended before it was done (killed, or out "
                "of memory?): build again", "")
    return marshal.loads(data)


def _end(child: int) -> None:
    """Stop the forked process if it is still running, and wait for it."""
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(child, 0)
