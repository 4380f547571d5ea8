"""Build avoidance through the whole chain on the local account: a commit whose build inputs an
image already has is not built; that image is retagged. The repository is a clone of this one,
so a test can commit (and revert) in it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.local.conftest import push_event
from tests.support.events import load_event
from tests.support.paths import ROOT

SERVICES = ["aws-agent-core", "langgraph", "snowflake-cortex", "langfuse"]
LANGFUSE_BASE = "registry-1.docker.io/langfuse/langfuse:2.95.11"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A clone of this repository at HEAD, on branch main, that tests may commit to."""
    target = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(target)], check=True)
    git(target, "checkout", "-q", "-B", "main", git(ROOT, "rev-parse", "HEAD"))
    git(target, "config", "user.email", "test@example.com")
    git(target, "config", "user.name", "test")
    return target


def commit_change(root: Path, path: str, text: str) -> str:
    (root / path).write_text(text)
    git(root, "add", path)
    git(root, "commit", "-q", "-m", f"change {path}")
    return git(root, "rev-parse", "HEAD")


def nightly(night: str) -> dict:
    event = load_event("schedule-nightly")
    event["id"] = night
    return event


def builds_of(report: dict, service: str | None = None) -> list[dict]:
    return [b for b in report["builds"] if service is None or b["service"] == service]


def image_tags(report: dict, service: str) -> list[list[str]]:
    return [i["tags"] for i in report["images"] if i["repository"].endswith(f"-{service}")
            and "buildcache" not in i["tags"]]


def test_a_second_nightly_run_on_an_unchanged_head_starts_no_build(local_account, repository):
    head = git(repository, "rev-parse", "HEAD")
    account = local_account(repo_root=repository)
    account.put_event(push_event(account, head))
    account.run()
    assert sorted(b["service"] for b in builds_of(account.report())) == sorted(SERVICES)
    for night in ("monday", "tuesday"):
        account.put_event(nightly(night))
        account.run()
        report = account.report()
        assert len(builds_of(report)) == len(SERVICES), f"the {night} run started a build"
    assert report["errors"] == []
    for service in SERVICES:  # one image each, tagged once: nothing moved
        [tags] = image_tags(report, service)
        assert head[:7] in tags and "latest" in tags and any(t.startswith("inputs-") for t in tags)


def test_a_revert_retags_instead_of_building(local_account, repository):
    first = git(repository, "rev-parse", "HEAD")
    account = local_account(repo_root=repository)
    account.put_event(push_event(account, first))
    account.run()
    changed = commit_change(repository, "workload/langgraph/__init__.py", "# changed\n")
    account.put_event(push_event(account, changed, old=first))
    account.run()
    assert len(builds_of(account.report(), "langgraph")) == 2
    git(repository, "revert", "--no-edit", "HEAD")
    reverted = git(repository, "rev-parse", "HEAD")
    account.put_event(push_event(account, reverted, old=changed))
    account.run()
    report = account.report()
    assert report["errors"] == []
    assert len(builds_of(report, "langgraph")) == 2  # no build for the revert
    assert report["metrics"]["ImagesReused"] == 1 and report["metrics"]["BuildsStarted"] == 5  # 4 first, 1 change
    first_image = next(i for i in report["images"] if i["repository"].endswith("-langgraph")
                       and first[:7] in i["tags"])
    # The first commit's image is the revert's: its tag, and latest, moved to it.
    assert reverted[:7] in first_image["tags"] and "latest" in first_image["tags"]
    changed_image = next(i for i in report["images"] if changed[:7] in i["tags"])
    assert "latest" not in changed_image["tags"]
    # ...and it runs again: the revert registers it as the newest revision, which is live.
    newest = [t for t in report["taskDefinitions"] if t["family"].endswith("-langgraph")][-1]
    assert newest["containers"][0]["image"].endswith(f"@{first_image['digest']}")
    assert "live-dev" in first_image["tags"] and "live-dev" not in changed_image["tags"]


def test_a_moved_base_tag_builds(local_account, repository):
    head = git(repository, "rev-parse", "HEAD")
    account = local_account(repo_root=repository)
    account.put_event(push_event(account, head))
    account.run()
    account.emulation.registry.move(LANGFUSE_BASE)  # upstream released a new image under the same tag
    account.put_event(nightly("after-the-release"))
    account.run()
    report = account.report()
    assert report["errors"] == []
    assert [b["service"] for b in builds_of(report)].count("langfuse") == 2
    assert len(builds_of(report)) == len(SERVICES) + 1  # the Python services' bases are pinned by digest
    rebuilt = [tags for tags in image_tags(report, "langfuse") if f"{head[:7]}-b2" in tags]
    assert rebuilt and "latest" in rebuilt[0]


def test_a_github_stack_second_nightly_run_on_an_unchanged_head_starts_no_build(local_account, repository):
    """A private GitHub repository (this clone, behind the GitHub API stand-in) read with the token
    the stack's GitHubTokenSecretArn names: the first night builds the head, the second nothing."""
    from tests.support.stacks import GITHUB

    head = git(repository, "rev-parse", "HEAD")
    account = local_account(repo_root=repository, parameters=GITHUB, github_token="ghp_" + "l" * 36)
    account.put_event(nightly("monday"))
    account.run()
    first = builds_of(account.report())
    assert sorted(b["service"] for b in first) == sorted(SERVICES)
    account.put_event(nightly("tuesday"))
    account.run()
    report = account.report()
    assert report["errors"] == []
    assert len(builds_of(report)) == len(SERVICES), "the second night started a build"
    for service in SERVICES:  # built at the head's commit, with its inputs' tag
        [tags] = image_tags(report, service)
        assert head[:7] in tags and "latest" in tags and any(t.startswith("inputs-") for t in tags)
    requests = account.emulation.github.requests
    assert requests and {who for _, who in requests} == {"token"}  # private: every read with the token
