"""One change-detection rule: `shipline plan --from A --to B` names the services the pipeline's
planner builds for a CodeCommit push from A to B (GetDifferences, served from the same git
history), for what git would call a rename, a copy and a delete."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from pipeline.domain.manifest import load_manifest
from shipline.cli import main
from shipline.local.codecommit import GitHistory
from tests.support.events import load_event
from tests.support.paths import MANIFEST

REPOSITORY = "change-detection"
STEPS = ["base", "rename", "rename-unusual-name", "copy-out", "copy-in", "delete"]  # the commits, in order
_GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, **_GIT_ENV}).stdout.strip()


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--message", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict[str, str]:
    """A repository holding the project's services.toml, one commit per kind of change.
    diff.renames is on, as in many a user's configuration: neither side may follow it."""
    repo = tmp_path_factory.mktemp("repo")
    _git(repo, "init", "--quiet", "--initial-branch", "main")
    _git(repo, "config", "diff.renames", "copies")
    shutil.copy(MANIFEST, repo / "services.toml")
    for path, text in {"workload/langgraph/graph.py": "graph = 1\n" * 20,
                       "workload/langgraph/café.py": "menu = 1\n" * 20,
                       "workload/snowflake_cortex/app.py": "app = 1\n" * 20,
                       "docs/notes.md": "notes\n"}.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    commits = {"base": _commit(repo, "base"), "repo": str(repo)}
    _git(repo, "mv", "workload/langgraph/graph.py", "docs/graph.py")
    commits["rename"] = _commit(repo, "move graph.py out of langgraph")
    _git(repo, "mv", "workload/langgraph/café.py", "docs/café.py")
    commits["rename-unusual-name"] = _commit(repo, "move café.py out of langgraph")
    shutil.copy(repo / "workload/snowflake_cortex/app.py", repo / "docs/app-copy.py")
    commits["copy-out"] = _commit(repo, "copy the cortex app to docs")
    shutil.copy(repo / "docs/notes.md", repo / "workload/snowflake_cortex/notes.md")
    commits["copy-in"] = _commit(repo, "copy the notes into cortex")
    (repo / "workload/snowflake_cortex/app.py").unlink()
    commits["delete"] = _commit(repo, "delete the cortex app")
    return commits


def _plan(history: dict[str, str], before: str, after: str, monkeypatch, capsys) -> list[str]:
    import shipline.cli as cli

    monkeypatch.setattr(cli, "ROOT", Path(history["repo"]))
    code = main(["--manifest", str(Path(history["repo"]) / "services.toml"), "plan", "--from", before, "--to", after])
    out = capsys.readouterr().out.split()
    assert code == 0
    return [] if out == ["(nothing", "to", "rebuild)"] else out


def _planner(history: dict[str, str], before: str, after: str) -> list[str]:
    """The build trigger's planning for a CodeCommit push from `before` to `after`."""
    from pipeline.events.triggers import CodeCommitPush
    from pipeline.flows.triggers import plan_for_trigger
    from pipeline.settings import BuildTriggerSettings

    event = load_event("codecommit-push")
    event["detail"] |= {"repositoryName": REPOSITORY, "oldCommitId": before, "commitId": after}
    settings = BuildTriggerSettings.model_validate({"CODECOMMIT_REPOSITORY": REPOSITORY, "IDEMPOTENCY_TABLE": "t",
                                                    "BUILD_STARTS_QUEUE_URL": "q", "ACCOUNT_ID": "123456789012"})
    manifest = load_manifest(Path(history["repo"]) / "services.toml")
    return [plan.service for plan in plan_for_trigger(CodeCommitPush.model_validate(event), settings, manifest)]


@pytest.fixture
def repository(history, emulation):
    boto3.client("codecommit").create_repository(repositoryName=REPOSITORY)
    emulation.codecommit.histories[REPOSITORY] = GitHistory(Path(history["repo"]))


@pytest.mark.parametrize(("change", "services"), [
    ("rename", ["langgraph"]),  # the service the file left changed
    ("rename-unusual-name", ["langgraph"]),  # git quotes "caf\303\251.py" unless asked for -z
    ("copy-out", []),  # a copy leaves its source as it was
    ("copy-in", ["snowflake-cortex"]),
    ("delete", ["snowflake-cortex"]),
])
def test_plan_names_what_the_planner_builds(change, services, history, repository, monkeypatch, capsys):
    before, after = history[STEPS[STEPS.index(change) - 1]], history[change]
    assert _planner(history, before, after) == services
    assert _plan(history, before, after, monkeypatch, capsys) == services


def test_git_with_rename_detection_alone_would_miss_the_service_a_file_left(history):
    """The bug this rule fixes: git's rename detection names only the new path."""
    repo = Path(history["repo"])
    shown = _git(repo, "diff", "--name-only", "-M", history["base"], history["rename"])
    assert shown == "docs/graph.py"


def test_a_path_under_dot_slash_counts_as_git_names_it(history, repository, monkeypatch, capsys):
    import shipline.cli as cli

    monkeypatch.setattr(cli, "ROOT", Path(history["repo"]))
    manifest = str(Path(history["repo"]) / "services.toml")
    for given in ("./workload/langgraph/graph.py", "workload//langgraph/./graph.py", "/workload/langgraph/graph.py"):
        assert main(["--manifest", manifest, "plan", given]) == 0
        assert capsys.readouterr().out.split() == _planner(history, history["base"], history["rename"])


def test_a_rename_reported_as_one_difference_counts_both_paths(emulation):
    """GetDifferences may report a rename as one M difference with two paths (API_Difference:
    beforeBlob and afterBlob each carry a path): the planner counts both."""
    from pipeline.adapters import codecommit
    from pipeline.domain.changes import Change, changed_paths
    from shipline.local.codecommit import MemoryHistory

    boto3.client("codecommit").create_repository(repositoryName=REPOSITORY)
    moved = Change("workload/langgraph/graph.py", "docs/graph.py")
    emulation.codecommit.histories[REPOSITORY] = MemoryHistory(diffs={("a" * 40, "b" * 40): [moved]})
    changes = codecommit.differences(REPOSITORY, "a" * 40, "b" * 40)
    assert changes == [moved]
    assert changed_paths(changes) == ["workload/langgraph/graph.py", "docs/graph.py"]
