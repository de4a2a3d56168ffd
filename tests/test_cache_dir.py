"""Where the cache lives and what a run does to it: it removes only its own files, never lives in the work tree,
and never drops another run's cache; a cache held by another run is gone without, with the same results."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import copy_repository

from iraq_transition import store


def test_a_cache_dir_keeps_every_file_that_is_not_a_cache_of_this_code(tmp_path, cli):
    root = copy_repository(tmp_path / "repo")
    mine = tmp_path / "mine"
    mine.mkdir()
    precious = ["lockfile.txt", "build.json.bak", "index-of-my-photos.html", "pack-list.txt", "cache-notes.md",
                "lock", "build.json", "index-0123456789abcdef.pickle"]
    for name in precious:
        (mine / name).write_text("precious\n", encoding="utf-8")
    stale = mine / "cache-0123456789abcdef.sqlite3"  # a cache of another code version: this code's own kind of file
    stale.write_bytes(b"")
    done = cli("--root", root, "--cache-dir", mine, "validate")
    assert done.code == 0, done.err
    assert sorted(path.name for path in mine.iterdir() if not path.name.startswith("cache-")) == sorted(
        name for name in precious if not name.startswith("cache-"))
    assert (mine / "cache-notes.md").exists() and not stale.exists()


def test_a_cache_dir_inside_the_repository_is_refused(tmp_path, cli):
    root = copy_repository(tmp_path / "repo")
    for inside in (root / "data" / "actors", root, root / ".cache"):
        before = sorted(path.relative_to(root) for path in root.rglob("*"))
        done = cli("--root", root, "--cache-dir", inside, "validate")
        assert done.code == 2 and "inside the repository" in done.err and "Traceback" not in done.err, done.err
        assert sorted(path.relative_to(root) for path in root.rglob("*")) == before


def test_a_cache_home_inside_the_repository_is_passed_over(tmp_path, cli):
    """``$XDG_CACHE_HOME`` inside the checkout (a CI job's cache, say) would have committed files taken for a cache:
    the cache goes to ``~/.cache`` instead, or nowhere."""
    root = copy_repository(tmp_path / "repo")
    home = tmp_path / "home"
    for inside in (root / ".cache", root):
        env = {**os.environ, "XDG_CACHE_HOME": str(inside), "HOME": str(home)}
        assert store.cache_directory(root) is not None  # (the scratch cache home of the tests, outside)
        before = sorted(path.relative_to(root) for path in root.rglob("*"))
        done = subprocess.run([sys.executable, "-m", "iraq_transition", "--root", str(root), "validate"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert sorted(path.relative_to(root) for path in root.rglob("*")) == before
        assert list((home / ".cache" / "iraq-transition").glob("*/cache-*.sqlite3"))
    env = {**os.environ, "XDG_CACHE_HOME": str(root / ".cache"), "HOME": str(root)}  # a home inside it too: no cache
    done = subprocess.run([sys.executable, "-m", "iraq_transition", "--root", str(root), "validate"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and not (root / ".cache").exists(), done.stderr


def test_a_cache_another_run_holds_is_gone_without_and_kept(tmp_path, cli):
    root = copy_repository(tmp_path / "repo")
    cache = tmp_path / "cache"
    assert cli("--root", root, "--cache-dir", cache, "validate").code == 0
    (database,) = cache.glob("cache-*.sqlite3")
    holder = subprocess.Popen(  # another run in the middle of its transaction, for longer than a run waits
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('begin immediate'); print('held', flush=True); time.sleep(60)", database],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        # a run waits a few seconds for a held cache, not for the holder's whole transaction (the timeout fails it)
        held = cli("--root", root, "--cache-dir", cache, "validate", "--format", "json", timeout=50)
    finally:
        holder.kill()
        holder.wait()
    cold = cli("--root", root, "validate", "--no-cache", "--format", "json")
    assert (held.code, held.out) == (cold.code, cold.out)
    assert "another run is using the cache: checking without it" in held.err
    assert database.exists() and sqlite3.connect(database).execute("select count(*) from files").fetchone()[0] > 0


def test_an_edit_that_keeps_size_and_puts_mtime_back_is_seen(tmp_path, cli):
    """``touch -r``, ``cp -p`` or ``rsync --inplace`` can keep a file's size and mtime across an edit; its ctime
    still moves, so neither validate's cache nor build's freshness may take the file for unchanged."""
    root = copy_repository(tmp_path / "repo")
    assert cli("--root", root, "build").code == 0
    for path in (root / "data" / "events" / "biden-sudani-discussions.yaml", root / "seeds" / "000_adbaac8c2019ffeb.txt"):
        before = path.stat()
        data = path.read_bytes()
        index = data.index(b"\nid: ") + 5 if path.suffix == ".yaml" else 0  # "id: [iden..." no longer parses
        path.chmod(0o644)
        with open(path, "r+b") as stream:  # in place, the same size
            stream.seek(index)
            stream.write(b"[")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        time.sleep(2.1)  # past the racy window: the stat is trusted again
        assert cli("--root", root, "validate").code == 1, path
        assert cli("--root", root, "validate", "--no-cache").code == 1, path
        assert "up to date" not in cli("--root", root, "build").out, path
        path.write_bytes(data)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize("column, value", [("problems", 12345), ("summary", ("not", "a", "summary")),
                                           ("issues", [[1, 2]]), ("problems", compile("1", "x", "exec"))])
def test_cached_data_of_the_right_checksum_but_the_wrong_shape_is_a_cache_miss(tmp_path, cli, column, value):
    """What the cache holds is sealed with its row's key; data sealed right but not what this code writes (another
    user's cache, a bug of an older version) is dropped like damaged data: the same results, no internal error."""
    root = copy_repository(tmp_path / "repo")
    cache = tmp_path / "cache"
    cold = cli("--root", root, "validate", "--no-cache", "--format", "json")
    assert cli("--root", root, "--cache-dir", cache, "validate").code == cold.code
    (database,) = cache.glob("cache-*.sqlite3")
    with sqlite3.connect(database) as connection:
        path, sha256 = connection.execute("select path, sha256 from files where cast(path as text) like 'events/%' "
                                          "order by path limit 1").fetchone()
        connection.execute(f"update files set {column} = ? where path = ?", (store.seal(value, store.row_key(path, sha256)), path))
        if column == "problems":
            connection.execute("update files set valid = 0 where path = ?", (path,))
    for _ in range(2):
        warm = cli("--root", root, "--cache-dir", cache, "validate", "--format", "json")
        assert (warm.code, warm.out) == (cold.code, cold.out), warm.err
        assert "internal error" not in warm.err and "Traceback" not in warm.err


def test_a_cache_that_is_not_the_users_own_plain_file_is_not_used(tmp_path, cli):
    """A database that is a link (it could lead into a work tree) or a directory others can write to is not read."""
    root = copy_repository(tmp_path / "repo")
    cold = cli("--root", root, "validate", "--no-cache", "--format", "json")
    linked, shared = tmp_path / "linked", tmp_path / "shared"
    assert cli("--root", root, "--cache-dir", linked, "validate").code == cold.code
    (database,) = linked.glob("cache-*.sqlite3")
    planted = tmp_path / "planted.sqlite3"
    database.rename(planted)
    database.symlink_to(planted)
    shared.mkdir()
    shared.chmod(0o777)
    for directory in (linked, shared):
        done = cli("--root", root, "--cache-dir", directory, "validate", "--format", "json")
        assert (done.code, done.out) == (cold.code, cold.out)
        assert "is not the user's own" in done.err, done.err
    assert database.is_symlink() and not list(shared.glob("cache-*"))
