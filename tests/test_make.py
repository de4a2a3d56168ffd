"""The Makefile's own recipes that run the package, on a scratch copy of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, copy_repository


def test_make_clean_removes_the_build_and_this_checkouts_cache(tmp_path, cli):
    root = copy_repository(tmp_path / "repo")
    shutil.copy2(REPO / "Makefile", root / "Makefile")
    assert cli("--root", root, "build").code == 0
    cache_home = Path(os.environ["XDG_CACHE_HOME"])  # the tests' scratch cache home (see conftest)
    caches = lambda: [path for path in (cache_home / "iraq-transition").iterdir()  # noqa: E731
                      if any(path.glob("cache-*.sqlite3"))]
    before = caches()
    assert before, "the build leaves a cache to remove"
    done = subprocess.run(["make", "-s", "clean", f"BIN={Path(sys.executable).parent}"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not (root / "build").exists()
    assert len(caches()) == len(before) - 1, "exactly this checkout's cache is removed"
