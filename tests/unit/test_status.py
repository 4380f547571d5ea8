"""What `shipline status` shows for a service, from its ledger records (the core, no AWS)."""

from pipeline.domain.records import BuildRecord, CommitRecord, CurrentRecord, ServiceHistory
from pipeline.domain.status import summarize

BUILT = BuildRecord(build_id="arn:build/1", status="SUCCEEDED", commit="a" * 40, at="2026-11-27T01:00:00+00:00")
CURRENT = CurrentRecord(digest="sha256:" + "1" * 64, revision=3, revision_arn="arn:td:3",
                        registered_at="2026-11-27T01:05:00+00:00", tag="aaaaaaa")


def test_a_commit_reused_after_the_last_build_shows_as_reused():
    reused = CommitRecord(commit="b" * 40, planned_at="2026-11-27T02:00:00+00:00", last_status="REUSED",
                          reused_digest=CURRENT.digest, reused_at="2026-11-27T02:00:00+00:00")
    status = summarize("langgraph", ServiceHistory(builds=(BUILT,), current=CURRENT, commits=(reused,)))
    assert (status.build, status.build_commit, status.built_at) == ("REUSED", "bbbbbbb", reused.reused_at)


def test_a_build_after_the_last_reuse_shows_as_the_last_build():
    reused = CommitRecord(commit="b" * 40, planned_at="2026-11-27T00:00:00+00:00", last_status="REUSED",
                          reused_digest=CURRENT.digest, reused_at="2026-11-27T00:00:00+00:00")
    built = CommitRecord(commit="a" * 40, planned_at="2026-11-27T00:59:00+00:00", attempt=1,
                         last_build=BUILT.build_id, last_status="SUCCEEDED")
    status = summarize("langgraph", ServiceHistory(builds=(BUILT,), current=CURRENT, commits=(reused, built)))
    assert (status.build, status.build_commit) == ("SUCCEEDED", "aaaaaaa")
