"""The hooks offered to pre-commit and the editor settings: pre-commit installs the repository and runs its
commands (`language: python`), and editors read YAML as `validate` does (1.1)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib

import yaml

from iraq_transition.cli import HANDLERS


def test_the_hooks_offered_to_pre_commit_install_the_repository_and_run_its_commands(repo):
    offered = yaml.safe_load((repo / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    scripts = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    local = {hook["id"]: hook for hook in yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]}
    assert [hook["id"] for hook in offered] == list(local)
    for hook in offered:
        assert hook["language"] == "python", hook["id"]  # installed by pre-commit: nothing needed on PATH
        script, command, *options = shlex.split(hook["entry"])
        assert script in scripts and command in HANDLERS and not options, hook["entry"]
        # The same commands on the same files as this repository's own hooks.
        assert {key: hook[key] for key in ("entry", "files")} == {key: local[hook["id"]][key] for key in ("entry", "files")}
        assert hook.get("pass_filenames", True) == local[hook["id"]].get("pass_filenames", True)
    by_id = {hook["id"]: hook for hook in offered}
    assert re.match(by_id["iraq-transition-fmt"]["files"], "data/events/x.yaml")
    assert not re.match(by_id["iraq-transition-fmt"]["files"], "seeds/000_x.txt")
    assert re.match(by_id["iraq-transition-validate"]["files"], "seeds/000_x.txt")
    assert by_id["iraq-transition-validate"]["pass_filenames"] is False  # a seed's change concerns every record


def test_editors_read_yaml_as_validate_does(repo):
    settings = json.loads((repo / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    assert settings["yaml.yamlVersion"] == "1.1"
