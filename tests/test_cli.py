"""The command itself: usage errors, behaviour in a shell pipeline, and faults that end in a clean message."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_new_takes_its_collections_from_the_models_which_no_other_command_parsing_imports(cli):
    """``new``'s choices are the models' collections, in their order, asked for only when ``new`` is parsed: importing
    the models would slow ``--help`` and every other command's start several times over."""
    from iraq_transition.models import COLLECTIONS

    listed = "{" + ",".join(COLLECTIONS) + "}"
    result = cli("new", "--help")
    assert result.code == 0 and listed in result.out
    result = cli("new", "no-such-collection", "some-id")
    assert result.code == 2
    assert f"invalid choice: 'no-such-collection' (choose from {', '.join(map(repr, COLLECTIONS))})" in result.err
    probe = (
        "import contextlib, io, sys\n"
        "from iraq_transition.cli import _parser\n"
        "for argv in (['validate'], ['--help'], ['new', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        _parser().parse_args(argv)\n"
        "    print(*argv, 'iraq_transition.models' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n") == ["validate False", "--help False", "new --help True", ""]


def test_closed_pipe_ends_quietly(repo_copy: Path):
    # Enough errors to overflow the pipe after `head` has gone away.
    for number in range(3000):
        (repo_copy / "data" / "events" / f"broken-{number}.yaml").write_text("id: [\n", encoding="utf-8")
    pipeline = f"{sys.executable} -m iraq_transition --root {repo_copy} validate --no-cache | head -n 1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], capture_output=True, text=True, timeout=300)
    assert result.stdout.startswith("data/events/broken-")
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.returncode == 141  # the shell's convention for a closed pipe


def test_root_that_is_not_a_directory_is_a_usage_error(cli, tmp_path: Path):
    result = cli("--root", tmp_path / "missing", "validate")
    assert result.code == 2
    assert "not a directory" in result.err


def test_unknown_command_is_a_usage_error(cli):
    result = cli("publish")
    assert result.code == 2
    assert "invalid choice" in result.err


# --------------------------------------------------------------------------- faults end in a clean message


@contextlib.contextmanager
def read_only(directory: Path):
    """``directory`` made unwritable for the test's length, for root too (``chattr +i``, where the file
    system has it); skips the test where no real method works."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", directory], capture_output=True).returncode:
        pytest.skip("running as root, and this file system cannot make a directory immutable (chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", directory], check=True)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes, but for the cache of validated records."""
    files = (path for path in sorted(root.rglob("*")) if path.is_file() and ".cache" not in path.parts)
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in files}


def assert_clean_failure(result, code: int = 1) -> None:
    assert result.code == code, result.out + result.err
    assert "Traceback" not in result.err and "internal error" not in result.err


def _loop(link: Path, other: Path) -> None:
    link.symlink_to(other.name)
    other.symlink_to(link.name)


@pytest.mark.parametrize("command", [["validate", "--no-cache"], ["fmt", "--check"], ["build"], ["generate", "--check"]])
def test_a_loop_of_symbolic_links_as_record_files_is_a_located_problem(repo_copy: Path, cli, command):
    events = repo_copy / "data" / "events"
    _loop(events / "a.yaml", events / "b.yaml")
    result = cli("--root", repo_copy, *command)
    assert_clean_failure(result)
    for name in ("a.yaml", "b.yaml"):
        assert (f"data/events/{name}:1:1: a symbolic link that cannot be followed (Too many levels of symbolic links): "
                "replace it with the record itself") in result.out.splitlines()


@pytest.mark.parametrize("command", [["validate", "--no-cache"], ["fmt", "--check"], ["build"], ["new", "events", "x"]])
def test_a_loop_of_symbolic_links_as_a_collection_directory_is_a_clean_failure(repo_copy: Path, cli, command):
    events = repo_copy / "data" / "events"
    shutil.rmtree(events)
    events.symlink_to("events")
    result = cli("--root", repo_copy, *command)
    assert_clean_failure(result, code=2 if command[0] == "new" else 1)
    if command[0] == "new":
        assert "new: data/events/ is a symbolic link: " in result.err
    else:
        assert "data/events:1:1: a symbolic link, not a directory: make data/events/ a directory" in result.out


@pytest.mark.parametrize("command", [["validate", "--no-cache"], ["fmt"], ["build"], ["generate"], ["new", "events", "x"]])
def test_a_loop_of_symbolic_links_as_data_is_a_clean_failure(repo_copy: Path, cli, command):
    shutil.rmtree(repo_copy / "data")
    (repo_copy / "data").symlink_to("data")
    before = snapshot(repo_copy)
    result = cli("--root", repo_copy, *command)
    assert_clean_failure(result, code=2 if command[0] in ("validate", "new") else 1)
    if command[0] in ("fmt", "build", "generate"):
        assert result.out.startswith("data:1:1: a symbolic link, not a directory: ")
    assert snapshot(repo_copy) == before


HOSTILE_NAMES = [
    "x.yaml\ndata/events/fake.yaml:1:1: events/fake: forged",  # a directory and a file: / cannot be in a name
    "x.yaml\nfake.yaml:1:1: events: forged",
    "y\nfake.yaml:1:1: forged.yaml",
    "cr\rfake.yaml",
    "tab\there.yaml",
    "esc\x1b[31mred.yaml",
    "ls\u2028fake.yaml",
]


def test_file_names_cannot_add_or_forge_output_lines(repo_copy: Path, cli):
    events = repo_copy / "data" / "events"
    record = (events / "agreement-aim-withdraw-american-troops-by-end-2026.yaml").read_text(encoding="utf-8")
    for name in HOSTILE_NAMES:
        (events / name).parent.mkdir(parents=True, exist_ok=True)
        (events / name).write_text(record, encoding="utf-8")
    unprintable = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

    text = cli("--root", repo_copy, "validate", "--no-cache")
    assert_clean_failure(text)
    lines = text.out.split("\n")[:-1]
    assert all(line.startswith("data/events/") and re.match(r"[^:]+:\d+:\d+: ", line) for line in lines), lines
    assert not any(line.startswith(("data/events/fake.yaml", "fake.yaml")) for line in lines)
    assert not unprintable.search(text.out.replace("\n", ""))
    assert "data/events/x.yaml\\nfake.yaml:1:1: events: forged:1:1: not a record file" in text.out
    assert "data/events/esc\\x1b[31mred.yaml:2:5: events/esc\\x1b[31mred: id: " in text.out

    github = cli("--root", repo_copy, "validate", "--format", "github")
    assert_clean_failure(github)
    lines = github.out.split("\n")[:-1]
    assert len(lines) == len(text.out.split("\n")[:-1])
    assert all(line.startswith("::error file=data/events/") for line in lines), lines
    assert "::error file=data/events/tab\\there.yaml,line=2,col=5,title=events/tab\\there::" in github.out

    fmt = cli("--root", repo_copy, "fmt", "--check")
    assert_clean_failure(fmt)
    assert fmt.out.split("\n")[:-1] == [
        "data/events/x.yaml\\ndata:1:1: a directory inside data/events/: records go directly in data/events/<id>.yaml",
        "data/events/x.yaml\\nfake.yaml:1:1: events: forged:1:1: not a record file (record files end in .yaml): remove it",
    ]
