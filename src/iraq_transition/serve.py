"""Serve step: the ``serve`` command, Datasette on the built database with the metadata the build wrote and the
site's settings (:mod:`.site_config`), following the database as it is rebuilt, replaced or deleted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import sys
import threading
from functools import cache
from pathlib import Path

from . import build, site_config
from .freshness import is_up_to_date
from .layout import table_layout
from .load import Project
from .models import SCHEMA_VERSION
from .problems import UsageError, shown

DATABASE = site_config.NAME
"""Name of the database in Datasette, which names it after its file (:data:`.build.DATABASE`)."""
PACKAGE_DIR = Path(__file__).parent


def database_path(build_dir: Path) -> Path:
    return build_dir / build.DATABASE


def database_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete database of this version's build, or None when it is (read without creating
    or changing anything)."""
    try:
        connection = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            tables = {name for (name,) in connection.execute("select name from sqlite_master where type = 'table'")}
        finally:
            connection.close()
    except sqlite3.Error as error:
        return f"{path} cannot be read ({error}): build it again with iraq-transition build"
    if version != int(SCHEMA_VERSION) or any(table.name not in tables for table in table_layout()):
        return f"{path} is not a complete database of this version's build: build it again with iraq-transition build"
    return None


def _read_only_uri(path: Path) -> str:
    """SQLite's URI of ``path`` opened read-only and immutable: SQLite never creates, locks or writes the file."""
    return f"{Path(os.path.abspath(path)).as_uri()}?mode=ro&immutable=1"


def _identity(path: Path) -> tuple[int, ...] | None:
    """What tells one file at ``path`` from another, or from itself rewritten in place; None when it is missing."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _register_plugin() -> None:
    """Register the package's Datasette plugin (:mod:`.site_plugin`: the templates, their helpers, the bounds on
    SQL) unless its entry point did, as it does wherever the package is installed (Datasette's plugin manager is
    global: once per process)."""
    from datasette.plugins import pm

    from . import site_plugin

    if not pm.is_registered(site_plugin):
        pm.register(site_plugin)


@cache
def _build_database():
    """The class of :func:`datasette`'s database (defined on first use: this module does not import Datasette)."""
    from datasette.database import Database
    from datasette.views.base import DatasetteError

    class BuildDatabase(Database):
        """The built database as one file (``identity``) found at its path: opened read-only and immutable, so
        that SQLite never creates it, with a connection of its own in each of Datasette's threads."""

        def __init__(self, ds, path: Path, identity: tuple[int, ...] | None):
            super().__init__(ds, path=str(path), is_mutable=False)
            self.identity = identity
            self._local = threading.local()  # Datasette's threads keep connections by database name, not object

        def connect(self, write=False):
            connection = sqlite3.connect(_read_only_uri(Path(self.path)), uri=True, check_same_thread=False)
            if _identity(Path(self.path)) != self.identity:  # the path names another file now: never mix the two
                connection.close()
                raise DatasetteError(f"{self.path} was replaced while this page was made: reload it", status=503)
            self._all_file_connections.append(connection)
            return connection

        async def execute_fn(self, fn):
            def in_thread():
                connection = getattr(self._local, "connection", None)
                if connection is None:
                    connection = self._local.connection = self.connect()
                    self.ds._prepare_connection(connection, self.name)
                return fn(connection)

            return await asyncio.get_running_loop().run_in_executor(self.ds.executor, in_thread)

    return BuildDatabase


def datasette(build_dir: Path):
    """A Datasette instance on the built database, opened read-only and immutable, with its generated metadata."""
    from datasette.app import Datasette

    _register_plugin()
    meta = json.loads((build_dir / build.METADATA).read_text(encoding="utf-8"))
    path = database_path(build_dir)
    ds = Datasette(immutables=[str(path)], metadata=meta, settings=site_config.SETTINGS)
    ds.remove_database(DATABASE)  # Datasette's own, never opened: its connections may create the file
    ds.add_database(_build_database()(ds, path, _identity(path)), name=DATABASE)
    return ds


class LiveBuild:
    """An ASGI app serving a build directory's database while it is rebuilt, replaced or deleted.

    Each request compares the file at the database's path with the one open. When it changed, new requests wait
    until those under way are done, then the new file is opened in place of the old one, and the metadata read
    again: every request reads one complete database, old or new. While the file is missing or not a complete
    build, requests are answered 503 with what to do.
    """

    def __init__(self, build_dir: Path):
        self.build_dir = build_dir
        self.path = database_path(build_dir)
        self.ds = datasette(build_dir)
        self.app = self.ds.app()
        self.under_way = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self.changing = asyncio.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if (problem := await self._problem()) is not None:
            return await _unavailable(send, problem)
        self.under_way += 1
        self.idle.clear()
        try:
            await self.app(scope, receive, _logging_errors(scope, send))
        finally:
            self.under_way -= 1
            if not self.under_way:
                self.idle.set()

    async def _problem(self) -> str | None:
        """None when the open database is the file at its path (after opening that file, if it changed and is a
        complete build); else why it cannot be served."""
        if _identity(self.path) == self.ds.get_database(DATABASE).identity:
            return None
        async with self.changing:
            identity = _identity(self.path)
            if identity == self.ds.get_database(DATABASE).identity:
                return None  # opened while this request waited
            if identity is None:
                return f"{self.path} is missing: build it with iraq-transition build, and this site serves it again"
            if problem := await asyncio.to_thread(database_problem, self.path):
                return problem
            await self.idle.wait()
            self._open(identity)
        return None

    def _open(self, identity: tuple[int, ...]) -> None:
        old = self.ds.get_database(DATABASE)
        self.ds.remove_database(DATABASE)
        self.ds.add_database(_build_database()(self.ds, self.path, identity), name=DATABASE, route=old.route)
        old.close()
        try:  # Datasette 0.65 has no public way to replace the metadata it was given
            self.ds._metadata_local = json.loads((self.build_dir / build.METADATA).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # the previous metadata: it describes the same tables


def _logging_errors(scope, send):
    """``send``, printing one line (status, method, path) for each answer that is an error."""

    async def sending(message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            print(shown(f"{message['status']} {scope['method']} {scope['path']}"), file=sys.stderr, flush=True)
        await send(message)

    return sending


async def _unavailable(send, message: str) -> None:
    """Answer 503 with ``message``, as plain text."""
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"10")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": f"{message}\n".encode()})


def is_stale(project: Project, cache_dir: Path | None = None) -> bool:
    """True when the build is missing or incomplete, or is not what a build would write now: build's own rule for
    skipping a build (:func:`.freshness.is_up_to_date`)."""
    outputs = [database_path(project.build_dir), project.build_dir / build.METADATA]
    if not all(path.is_file() for path in outputs) or database_problem(outputs[0]):
        return True
    return not is_up_to_date(project, project.build_dir, cache_dir)


def run(args: argparse.Namespace) -> int:
    """The ``serve`` command: build if stale, then run Datasette until Ctrl-C."""
    import uvicorn

    project = Project(args.root)
    listening = _listen(args.host, args.port)  # first: a port in use is said before any build
    if is_stale(project, args.cache_dir):
        print("The build is missing or out of date: building first.", flush=True)
        status = build.run(argparse.Namespace(**vars(args), out=None, no_cache=False))
        if status:
            listening.close()
            return status
    app = LiveBuild(project.build_dir)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Serving {DATABASE} at http://{host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the signal
        print("Stopped.")
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a usage error saying why it cannot be."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as error:
        raise UsageError(f"cannot listen on {host} port {port}: {error.strerror or error}; choose another --port or --host (make serve PORT=...)")
