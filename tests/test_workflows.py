"""CI workflows, pre-commit hooks and the Makefile only call commands and targets that exist."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import yaml

from iraq_transition import cli

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
CALLS = re.compile(r"(?:\biraq-transition|\$\(CLI\))((?:[ \t]+[^\s;&|<>()`]+)*)")
MAKE_CALLS = re.compile(r"(?<![\w$(-])make((?:[ \t]+[A-Za-z][\w.-]*)+)")


def _workflow(path: Path) -> dict:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean true.
    document["on"] = document.pop(True, document.get("on"))
    return document


def _steps() -> list[tuple[str, dict]]:
    return [(path.name, step) for path in WORKFLOWS for job in _workflow(path)["jobs"].values() for step in job["steps"]]


def _scripts() -> dict[str, str]:
    """Every shell text that may call the CLI or make: workflow steps, pre-commit entries, the Makefile, .ci/run."""
    scripts = {f"{name}: {step.get('name', step.get('run', ''))}": step["run"] for name, step in _steps() if "run" in step}
    hooks = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    for repo in hooks["repos"]:
        for hook in repo["hooks"]:
            scripts[f"pre-commit: {hook['id']}"] = hook["entry"]
    scripts["Makefile"] = (REPO / "Makefile").read_text(encoding="utf-8")
    scripts[".ci/run"] = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    return scripts


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    [commands] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(commands.choices)


def test_workflows_are_well_formed():
    assert {path.name for path in WORKFLOWS} == {"pull-request.yml", "release.yml"}
    for path in WORKFLOWS:
        workflow = _workflow(path)
        assert workflow["name"] and workflow["on"], path.name
        for job_name, job in workflow["jobs"].items():
            assert job["runs-on"] == "ubuntu-latest", job_name
            assert job["steps"], job_name
            for step in job["steps"]:
                assert ("run" in step) != ("uses" in step), step


def test_pull_requests_run_every_check_and_post_the_diff():
    workflow = _workflow(REPO / ".github/workflows/pull-request.yml")
    assert "pull_request" in workflow["on"]
    [job] = workflow["jobs"].values()
    assert job["container"].startswith("python:3.11-"), "a Debian image, so that apt installs the real chromium"
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    commands = [step["run"] for step in job["steps"] if "run" in step]
    expected = [
        "make setup chromium",
        "iraq-transition fmt --check",
        "iraq-transition validate --format github",
        "iraq-transition build",
        "frictionless validate datapackage.json",
        "iraq-transition generate --check",
        "make test",
        'iraq-transition diff "origin/${{ github.base_ref }}" HEAD >> "$GITHUB_STEP_SUMMARY"',
    ]
    positions = [next(i for i, run in enumerate(commands) if command in run) for command in expected]
    assert positions == sorted(positions), "checks out of order"


def test_pushes_to_main_publish_a_release_with_the_database_csvs_and_data_package():
    workflow = _workflow(REPO / ".github/workflows/release.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "write"}
    [job] = workflow["jobs"].values()
    script = "\n".join(step["run"] for step in job["steps"] if "run" in step)
    assert "iraq-transition build" in script
    assert "zip -q -r iraq-transition-csv.zip build/csv" in script
    assert 'files="build/iraq-transition.db iraq-transition-csv.zip datapackage.json"' in script
    assert "gh release create" in script
    [publish] = [step for step in job["steps"] if "gh release" in step.get("run", "")]
    assert publish["env"]["GH_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"


def test_pre_commit_runs_fmt_and_validate_on_data_changes():
    hooks = {hook["id"]: hook for repo in yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"] for hook in repo["hooks"]}
    assert hooks["iraq-transition-fmt"]["entry"] == "iraq-transition fmt"
    assert re.match(hooks["iraq-transition-fmt"]["files"], "data/events/x.yaml")
    assert hooks["iraq-transition-validate"]["entry"] == "iraq-transition validate"
    assert re.match(hooks["iraq-transition-validate"]["files"], "seeds/000.txt")


def _calls() -> list[tuple[str, list[str]]]:
    calls = []
    for where, script in _scripts().items():
        script = re.sub(r"\$\{\{[^}]*\}\}", "X", script.replace("\\\n", " "))
        for match in CALLS.finditer(script):
            tokens = shlex.split(match.group(1), comments=True)
            if tokens:  # not a bare mention, such as the Makefile's `CLI := $(BIN)/iraq-transition`
                calls.append((where, tokens))
    return calls


def test_every_cli_call_names_a_real_subcommand_and_real_options():
    subcommands = _subcommands()
    calls = _calls()
    assert {tokens[0] for _, tokens in calls} >= {"fmt", "validate", "build", "generate", "diff"}
    for where, tokens in calls:
        assert tokens[0] in subcommands, f"{where}: iraq-transition {tokens[0]} does not exist"
        options = subcommands[tokens[0]]._option_string_actions
        for token in tokens[1:]:
            if token.startswith("--"):
                assert token.split("=")[0] in options, f"{where}: iraq-transition {tokens[0]} has no option {token}"


def test_every_make_target_used_exists():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", makefile, re.M))
    used = {
        (where, target)
        for where, text in _scripts().items()
        for match in MAKE_CALLS.finditer(text)
        for target in match.group(1).split()
    }
    assert {target for _, target in used} >= {"setup", "chromium", "test"}
    assert not [(where, target) for where, target in used if target not in targets]
