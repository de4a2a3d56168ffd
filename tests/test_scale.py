"""Scale tooling: the synthetic repository generator is deterministic and its output is valid.

The benchmarks themselves (scripts/bench.py, ``make bench``) stay out of the default test run.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iraq_transition.models import COLLECTIONS

REPO = Path(__file__).resolve().parent.parent
SYNTHETIC = REPO / "scripts" / "synthetic.py"
RECORDS = 200


def synthesize(out: Path, records: int = RECORDS, seed: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SYNTHETIC), "--records", str(records), "--seed", str(seed), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "repo"
    assert synthesize(out).returncode == 0
    return out


def test_same_seed_gives_the_same_bytes(synthetic, tmp_path):
    again = tmp_path / "again"
    assert synthesize(again).returncode == 0
    assert tree_bytes(again) == tree_bytes(synthetic)
    other = tmp_path / "other"
    assert synthesize(other, seed=4).returncode == 0
    assert tree_bytes(other) != tree_bytes(synthetic)


def test_writes_the_requested_records_in_every_collection(synthetic):
    counts = {name: len(list((synthetic / "data" / name).glob("*.yaml"))) for name in COLLECTIONS}
    assert sum(counts.values()) == RECORDS
    assert all(counts.values()), counts
    assert counts["events"] == max(counts.values())  # an event dataset: mostly events
    assert counts["quotes"] > counts["force_levels"]


def test_records_are_canonical_and_seeds_match(synthetic, cli):
    formatted = cli("--root", synthetic, "fmt", "--check")
    assert formatted.code == 0, formatted.out[:2000] + formatted.err
    for path in sorted((synthetic / "data").rglob("*.yaml")):
        assert yaml.safe_load(path.read_text(encoding="utf-8"))["id"] == path.stem
    for path in sorted((synthetic / "data" / "sources").glob("*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert hashlib.sha256((synthetic / "seeds" / source["file"]).read_bytes()).hexdigest() == source["sha256"]


def test_output_validates_and_builds_cleanly(synthetic, cli, tmp_path):
    validated = cli("--root", synthetic, "validate")
    assert validated.code == 0, validated.out + validated.err
    assert f"{RECORDS} records" in validated.out + validated.err
    built = cli("--root", synthetic, "build", "--out", tmp_path / "build")
    assert built.code == 0, built.out + built.err
    assert (tmp_path / "build" / "iraq-transition.db").is_file()


def test_refuses_to_write_into_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = synthesize(tmp_path)
    assert result.returncode != 0
    assert "refusing" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "data").exists()
