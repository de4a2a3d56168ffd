"""Seeds are plain files inside seeds/: anything else is refused with a located error, never followed nor read."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from test_validate import FIXTURES, assert_clean_exit

SECRET = Path("/etc/passwd")
LEAK = "900_leak.txt"
SOURCE = "data/sources/leak.yaml"


@pytest.fixture
def tiny(tmp_path: Path, repo: Path) -> Path:
    """A scratch repository (the small valid dataset and the seeds) with a source ``leak`` that describes
    seeds/900_leak.txt; no record cites it."""
    root = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "good" / "data", root / "data")
    shutil.copytree(repo / "seeds", root / "seeds")
    describe(root, LEAK, "0" * 64)
    return root


def describe(root: Path, file: str, sha256: str) -> None:
    (root / SOURCE).write_text(f"id: leak\nfile: '{file}'\nsha256: '{sha256}'\nlanguage: en\n")


def link_to_secret(root: Path) -> str:
    (root / "seeds" / LEAK).symlink_to(SECRET)
    describe(root, LEAK, hashlib.sha256(SECRET.read_bytes()).hexdigest())  # as if the hash were right
    return "is a symbolic link"


def link_to_another_seed(root: Path) -> str:
    other = root / "seeds" / "001_9d09becc82958073.txt"
    (root / "seeds" / LEAK).symlink_to(other.name)
    describe(root, LEAK, hashlib.sha256(other.read_bytes()).hexdigest())
    return "is a symbolic link"


def fifo(root: Path) -> str:
    os.mkfifo(root / "seeds" / LEAK)
    return "is a FIFO"


def link_to_a_device(root: Path) -> str:
    (root / "seeds" / LEAK).symlink_to("/dev/zero")
    return "is a symbolic link"


def device(root: Path) -> str:
    try:
        os.mknod(root / "seeds" / LEAK, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # as /dev/zero
    except PermissionError:
        pytest.skip("making a device needs privileges")
    return "is a device"


def directory(root: Path) -> str:
    (root / "seeds" / LEAK).mkdir()
    (root / "seeds" / LEAK / "inside.txt").write_text("text\n")
    return "is a directory"


def parent_file(root: Path) -> str:
    (root / "README.md").write_text("Not a seed.\n")
    describe(root, "../README.md", hashlib.sha256(b"Not a seed.\n").hexdigest())
    return "'../README.md' is outside seeds/"


CASES = [link_to_secret, link_to_another_seed, fifo, link_to_a_device, device, directory, parent_file]


def files_holding(top: Path, secret: bytes) -> list[Path]:
    return [path for path in top.rglob("*") if path.is_file() and secret in path.read_bytes()]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_a_seed_that_is_not_a_plain_file_inside_seeds_is_refused(tiny, cli, tmp_path, case):
    words = case(tiny)
    validated = cli("--root", tiny, "validate", timeout=60)
    assert_clean_exit(validated, 1)
    assert validated.out.splitlines() == [
        line for line in validated.out.splitlines() if line.startswith(f"{SOURCE}:2:7: sources/leak: file: ")
    ]
    assert len(validated.out.splitlines()) == 1, validated.out
    assert words in validated.out
    out = tmp_path / "build"
    built = cli("--root", tiny, "build", "--out", out, timeout=60)
    assert_clean_exit(built, 1)
    assert validated.out in built.out
    secret = SECRET.read_bytes().splitlines()[0]
    assert secret not in (validated.out + built.out + built.err).encode()
    assert not out.exists() or files_holding(out, secret) == []


def test_seeds_itself_must_not_be_a_link(tiny, cli, tmp_path):
    (tiny / SOURCE).unlink()
    shutil.move(tiny / "seeds", tmp_path / "elsewhere")
    (tiny / "seeds").symlink_to(tmp_path / "elsewhere")
    done = cli("--root", tiny, "validate", timeout=60)
    assert_clean_exit(done, 1)
    lines = done.out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"data/sources/article-00{i}.yaml:2:7" for i in range(5)]
    assert all("seeds/ is a symbolic link" in line for line in lines)


def test_stray_entries_of_seeds_are_reported_without_being_followed(tiny, cli):
    (tiny / SOURCE).unlink()
    seeds = tiny / "seeds"
    (seeds / "stray-link.txt").symlink_to(SECRET)
    os.mkfifo(seeds / "stray-fifo.txt")
    (seeds / "stray-directory").mkdir()
    (seeds / "stray-device").symlink_to("/dev/zero")
    done = cli("--root", tiny, "validate", timeout=60)
    assert_clean_exit(done, 1)
    assert sorted(done.out.splitlines()) == [
        f"seeds/{name}:1:1: this is {kind}, not a seed file, and no source record describes it: seeds/ holds only "
        "the archived texts, as plain files; remove it"
        for name, kind in sorted([("stray-link.txt", "a symbolic link"), ("stray-fifo.txt", "a FIFO"),
                                  ("stray-directory", "a directory"), ("stray-device", "a symbolic link")])
    ]


def test_a_directory_nested_deeper_than_python_recurses_is_reported_by_every_command(tiny, cli, repo):
    """A pull request can commit a tree 1,100 levels deep: the commands that fingerprint or walk the inputs
    (build, serve's staleness rule) walk it without recursion, and validate reports it."""
    levels = [tiny / "seeds" / "a"]
    for _ in range(1099):
        levels.append(levels[-1] / "a")
    for level in levels:
        level.mkdir()
    try:
        for command in ("validate", "build"):
            result = cli("--root", tiny, command)
            assert_clean_exit(result, 1)
            assert "seeds/a:1:1: " in result.out, result.out
        from iraq_transition import serve
        from iraq_transition.load import Project

        assert serve.is_stale(Project(tiny))
    finally:  # deepest first: pytest's clean-up of old temporary directories recurses, and would fail
        for level in reversed(levels):
            level.rmdir()


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", *args], cwd=root, check=True,
                   capture_output=True)


def test_a_seed_no_commit_has_is_new_and_its_mismatch_says_what_sha256_should_be(tiny):
    from iraq_transition.seeds import committed_seeds, hash_mismatch

    assert committed_seeds(tiny) is None  # in no git work tree: no seed can be told new
    _git(tiny, "init", "-q")
    assert committed_seeds(tiny) == frozenset()  # before the first commit, every seed is new
    _git(tiny, "add", "seeds")
    _git(tiny, "commit", "-q", "-m", "seeds")
    (tiny / "seeds" / LEAK).write_text("A new article.\n")
    committed = committed_seeds(tiny)
    assert "000_adbaac8c2019ffeb.txt" in committed and LEAK not in committed
    assert committed_seeds(tiny / "data") == frozenset()  # seeds/ is looked for below the root given
    digest = "a" * 64
    assert hash_mismatch(LEAK, digest, committed).startswith(f"new seed: sha256 should be {digest}, ")
    for name, known in (("000_adbaac8c2019ffeb.txt", committed), (LEAK, None)):
        assert hash_mismatch(name, digest, known).startswith(f"seeds/{name} has changed: its SHA-256 is {digest}.")


def test_validate_says_a_new_seeds_record_wants_its_hash_and_a_committed_one_has_changed(tiny, cli):
    _git(tiny, "init", "-q")
    _git(tiny, "add", "data", "seeds")
    _git(tiny, "commit", "-q", "-m", "base")
    record = tiny / "data" / "sources" / "article-000.yaml"
    (tiny / "seeds" / "005_new.txt").write_text("A new article.\n", encoding="utf-8")
    (tiny / "data" / "sources" / "article-005.yaml").write_text(
        record.read_text(encoding="utf-8").replace("id: article-000", "id: article-005")
        .replace("file: 000_adbaac8c2019ffeb.txt", "file: 005_new.txt"), encoding="utf-8")
    seed = tiny / "seeds" / "000_adbaac8c2019ffeb.txt"
    seed.chmod(0o644)
    seed.write_bytes(seed.read_bytes() + b"\n")
    done = cli("--root", tiny, "validate", tiny / "data" / "sources")
    assert_clean_exit(done, 1)
    digest = hashlib.sha256(b"A new article.\n").hexdigest()
    assert f"data/sources/article-005.yaml:3:9: sources/article-005: sha256: new seed: sha256 should be {digest}" in done.out
    assert "data/sources/article-000.yaml:3:9: sources/article-000: sha256: seeds/000_adbaac8c2019ffeb.txt has changed" \
        in done.out
