"""Many services, one push: the planner queues one start per service, the starter starts each
exactly once within CodeBuild's quota, and nothing is lost.

`make test` runs 20 services on a quota of 2 (CodeBuild takes 12 at once, 2 running and 10
queued, so 8 must wait and try again); `make scale` runs the same tests at 200 services on a quota of 10 (about five
minutes on two cores), and `make bench` measures that run.
"""

import os

import pytest

from tests.local.conftest import push_event
from tests.support.many import git, many_services

SERVICES = int(os.environ.get("SHIPLINE_SCALE_SERVICES", "20"))
QUOTA = int(os.environ.get("SHIPLINE_SCALE_QUOTA", "2"))
# The dead-letter and moving-branch cases need only a few services to show their point in
# `make test`; `make scale` runs the dead-letter case at SERVICES. The moving branch always runs
# 8 services on a quota of 1 (CodeBuild takes 6: 1 running, 5 queued), so starts must wait.
SCALED = "SHIPLINE_SCALE_SERVICES" in os.environ
FEW = SERVICES if SCALED else 8
FAST_RETRIES = {"BuildStartRetrySeconds": "1"}
pytestmark = pytest.mark.scale


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    return many_services(tmp_path_factory.mktemp("many") / "repo", SERVICES)


@pytest.fixture(scope="module")
def eight(tmp_path_factory):
    return many_services(tmp_path_factory.mktemp("eight") / "repo", 8)


@pytest.fixture(scope="module")
def few(tmp_path_factory, repository, eight):
    return repository if SCALED else eight


def test_every_service_builds_exactly_once_within_the_quota(local_account, repository):
    root, commit = repository
    account = local_account(repo_root=root, codebuild_quota=QUOTA, parameters=FAST_RETRIES)
    account.put_event(push_event(account, commit))  # a new branch: every service
    account.run(timeout=900)
    report = account.report()
    assert report["errors"] == []
    services = [b["service"] for b in report["builds"]]
    assert len(services) == SERVICES and len(set(services)) == SERVICES  # every one, none twice
    assert {b["status"] for b in report["builds"]} == {"SUCCEEDED"}
    assert {b["commit"] for b in report["builds"]} == {commit}
    assert report["metrics"]["BuildsPlanned"] == SERVICES and report["metrics"]["BuildsStarted"] == SERVICES
    assert len(report["taskDefinitions"]) == SERVICES
    assert account.peak_batches["BuildStarterFunction"] <= 2  # the mapping's MaximumConcurrency
    codebuild = account.emulation.codebuild
    assert codebuild.peak_active <= QUOTA * 6  # running plus CodeBuild's queue, five times the quota
    if not SCALED:  # 20 services on a quota of 2: more than CodeBuild takes at once, so starts waited
        # (at 200 on 10, two starters at a time start builds more slowly than local builds end,
        # which take a second where AWS's take minutes: the queue need not fill)
        assert codebuild.refused > 0


def test_one_service_that_cannot_start_is_dead_lettered_alone(local_account, few, monkeypatch):
    """A service whose start keeps failing (here: access denied) uses up its own receives and
    lands in the dead-letter queue; every other service builds. CodeBuild has room for all of
    them here, so the only retries are the refused service's."""
    from botocore.exceptions import ClientError

    from pipeline.adapters import codebuild
    from pipeline.adapters.errors import wrap

    root, commit = few
    refused = f"s{FEW - 1:03d}"
    real = codebuild.start_build

    def refusing(project, plan, **kwargs):
        if plan.service == refused:
            raise wrap(ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "StartBuild"),
                       f"start build of {refused}")
        return real(project, plan, **kwargs)

    monkeypatch.setattr(codebuild, "start_build", refusing)
    account = local_account(repo_root=root, codebuild_quota=FEW,
                            parameters={**FAST_RETRIES, "BuildStartAttempts": "3"})
    account.put_event(push_event(account, commit))
    account.run(timeout=900)
    report = account.report()
    assert sorted(b["service"] for b in report["builds"]) == [f"s{n:03d}" for n in range(FEW - 1)]
    (error,) = report["errors"]
    assert error.startswith("BuildStarterFunction: message") and "failed 3 times: dead-lettered" in error
    assert f'"service":"{refused}"' in error


def test_a_branch_that_moves_during_a_retry_builds_each_service_once_at_the_planned_commit(local_account,
                                                                                         eight):
    """The nightly schedule plans at the branch head; the head moving before the planned builds
    start (or while one retries) changes nothing: the commit was fixed when it was planned."""
    root, commit = eight
    account = local_account(repo_root=root, codebuild_quota=1, parameters=FAST_RETRIES)
    from tests.support.events import load_event

    account.put_event(load_event("schedule-nightly"))
    # The planner has run when the first delivery is made; move the branch before the starts.
    account.run_until(lambda: account.report_planned() > 0)
    (root / "moved.txt").write_text("a later commit\n")
    git(root, "add", "moved.txt")
    git(root, "commit", "-q", "-m", "the branch moves")
    account.run(timeout=900)
    report = account.report()
    assert report["errors"] == []
    assert len(report["builds"]) == 8 and {b["commit"] for b in report["builds"]} == {commit}
    assert account.emulation.codebuild.refused > 0  # a start waited and was retried
    git(root, "reset", "-q", "--hard", commit)
