"""The local account's CodeBuild runs the buildspec as CodeBuild does: a buildspec change that
breaks in CodeBuild breaks here. Each case commits a changed buildspec to a clone of this
repository and builds that commit."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.events import load_event
from tests.support.paths import ROOT


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of this repository whose main is this checkout's HEAD."""
    target = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(target)], check=True)
    _git(target, "checkout", "-q", "-B", "main", _git(ROOT, "rev-parse", "HEAD"))
    _git(target, "config", "user.email", "test@example.com")
    _git(target, "config", "user.name", "test")
    return target


def _commit_buildspec(clone: Path, change) -> str:
    path = clone / "buildspecs/build-image.yml"
    spec = json.loads(json.dumps(yaml.safe_load(path.read_text())))  # plain dicts, whatever loader others set up
    change(spec)
    path.write_text(yaml.safe_dump(spec, sort_keys=False, width=1000))
    _git(clone, "commit", "-q", "-am", "change the buildspec")
    return _git(clone, "rev-parse", "HEAD")


def _build(local_account, clone: Path, commit: str) -> dict:
    """Build langgraph at the commit (a Build Requested event), on an account whose source is the clone."""
    account = local_account(repo_root=clone)
    request = load_event("build-requested")
    request["detail"]["commit"] = commit
    account.put_event(request)
    account.run()
    return account.report()


def test_an_array_set_in_one_command_is_gone_in_the_next_and_the_build_fails(local_account, clone):
    """aws/aws-cdk#26694: CodeBuild does not carry arrays from one command to the next, so the
    tags built in one command are empty in the next, and buildx refuses a push with no tag."""
    def split_into_two_commands(spec):
        spec["phases"]["build"]["commands"] = [
            'TAG_ARGS=(); for tag in $(bash buildspecs/build-image.sh tags); do TAG_ARGS+=(--tag "$REPOSITORY_URI:$tag"); done',  # noqa: E501
            'docker buildx build --file "$DOCKERFILE" --platform linux/arm64 "${TAG_ARGS[@]}" --provenance=false '
            '--push "$BUILD_CONTEXT"',
        ]
    commit = _commit_buildspec(clone, split_into_two_commands)
    report = _build(local_account, clone, commit)
    assert {b["status"] for b in report["builds"]} == {"FAILED"}
    build = report["builds"][0]
    assert build["reason"].startswith("BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: docker buildx")
    assert "ERROR: failed to build: tag is needed when pushing to registry" in build["logTail"]
    assert report["taskDefinitions"] == []
    (note,) = [n for n in report["notifications"] if "build FAILED" in n["subject"]][:1]
    assert note["subject"].endswith("(BUILD)")


def test_shell_options_set_in_one_command_do_not_hold_in_the_next(local_account, clone):
    """`set -euo pipefail` on a line of its own guards nothing: the next command's failure in a
    pipeline goes unnoticed, as in CodeBuild."""
    def strict_line_then_pipeline(spec):
        spec["phases"]["pre_build"]["commands"][:0] = ["set -euo pipefail", "false | true"]
    commit = _commit_buildspec(clone, strict_line_then_pipeline)
    report = _build(local_account, clone, commit)
    assert {b["status"] for b in report["builds"]} == {"SUCCEEDED"}


def test_a_command_yaml_reads_as_a_mapping_fails_the_build(local_account, clone):
    def colon_space(spec):
        spec["phases"]["post_build"]["commands"].append({"echo shipline": "done"})  # what `- echo shipline: done` is
    commit = _commit_buildspec(clone, colon_space)
    report = _build(local_account, clone, commit)
    (build, *_) = report["builds"]
    assert build["status"] == "FAILED"
    assert "YAML_FILE_ERROR: Expected Commands[3] to be of string type: found subkeys instead" in build["reason"]


def test_the_real_buildspec_builds_pushes_and_exports_the_digest(local_account, clone):
    commit = _commit_buildspec(clone, lambda spec: None)  # the buildspec as it is, at a commit of its own
    report = _build(local_account, clone, commit)
    assert {b["status"] for b in report["builds"]} == {"SUCCEEDED"}
    tags = {tuple(sorted(i["tags"])) for i in report["images"]}
    # The build pushes the commit's tag, latest and inputs-<hash> of its build inputs (and the
    # cache); registration adds live-dev.
    inputs = next(t for i in report["images"] for t in i["tags"] if t.startswith("inputs-"))
    assert len(inputs) == len("inputs-") + 64
    assert tags == {tuple(sorted([commit[:7], "latest", "live-dev", inputs])), ("buildcache",)}
    assert [t["family"] for t in report["taskDefinitions"]] == ["multi-agent-orchestrator-dev-langgraph"]


def test_the_buildspec_refuses_a_commit_the_tracked_branch_does_not_hold(local_account, clone):
    """Defence in depth: with GitHub as the source, no API call tells the build trigger whether
    the branch holds a requested commit; the build itself checks, and fails."""
    _git(clone, "checkout", "-q", "-b", "side")
    (clone / "side.txt").write_text("not on main\n")
    _git(clone, "add", "side.txt")
    _git(clone, "commit", "-q", "-m", "a commit main does not hold")
    side = _git(clone, "rev-parse", "HEAD")
    _git(clone, "checkout", "-q", "main")
    account = local_account(repo_root=clone, parameters={
        "SourceProvider": "GitHub", "GitHubRepositoryUrl": "https://github.com/example-org/multi-agent-orchestrator.git"})
    request = load_event("build-requested")
    request["detail"]["commit"] = side
    account.put_event(request)
    account.run()
    (build,) = account.report()["builds"]
    assert build["status"] == "FAILED" and build["reason"].startswith("PRE_BUILD: COMMAND_EXECUTION_ERROR")
    assert f"shipline: commit {side} is not in the last 1000 commits of main: only the tracked branch is built" \
        in build["logTail"]


def test_a_phase_past_the_build_timeout_is_timed_out_and_ends_the_build(tmp_path: Path):
    """CodeBuild ends a build at its timeout: the running phase and the build are TIMED_OUT
    (CodeBuild API Reference, BuildPhase and Build), and no later phase runs. (The local account
    made it FAILED and still ran post_build.)"""
    import time

    from shipline.local.buildspec import Shell, base_environment, parse_buildspec, run_phases

    spec = parse_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 5\n"
                           "  post_build:\n    commands:\n      - touch post_build_ran\n")
    run = run_phases(spec, Shell(tmp_path, base_environment({})), lambda _line: None, deadline=time.monotonic() + 1)
    statuses = {p.phase: p.status for p in run.phases}
    assert statuses.get("BUILD") == "TIMED_OUT" and run.timed_out and not run.succeeded, statuses
    assert "POST_BUILD" not in statuses and not (tmp_path / "post_build_ran").exists(), statuses
