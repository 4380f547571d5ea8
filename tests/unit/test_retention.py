"""Which task-definition revisions retention deregisters."""

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.domain.naming import in_use_tag, is_live_tag
from pipeline.domain.retention import (
    MAX_DELETIONS,
    InUse,
    in_use_tag_changes,
    may_remove_tag,
    revisions_named,
    revisions_to_delete,
    revisions_to_deregister,
)


def test_everything_beyond_the_newest_n_oldest_first():
    assert revisions_to_deregister([12, 11, 10, 9, 8, 7], keep=3) == (7, 8, 9)


def test_a_protected_revision_beyond_the_newest_n_is_kept():
    assert revisions_to_deregister(range(1, 13), keep=10, protected={1}) == (2,)


def test_nothing_when_the_family_has_n_or_fewer():
    assert revisions_to_deregister([3, 2, 1], keep=3) == ()
    assert revisions_to_deregister([], keep=1) == ()


def test_order_of_the_listing_does_not_matter():
    assert revisions_to_deregister([1, 5, 3, 4, 2], keep=2) == (1, 2, 3)


def test_one_run_deregisters_at_most_the_limit_oldest_first():
    assert revisions_to_deregister(range(1, 201), keep=10, limit=50) == tuple(range(1, 51))


def test_keep_must_be_at_least_one():
    with pytest.raises(ValueError, match="at least one"):
        revisions_to_deregister([2, 1], keep=0)


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def test_nothing_is_deleted_when_deletion_is_off():
    assert revisions_to_delete({1: _ago(400)}, NOW, after_days=0) == ()


def test_a_revision_is_deleted_once_its_grace_period_has_passed():
    retired = {1: _ago(8), 2: _ago(7), 3: _ago(6.9)}
    assert revisions_to_delete(retired, NOW, after_days=7) == (1, 2)


def test_a_protected_revision_is_never_deleted():
    assert revisions_to_delete({1: _ago(30), 2: _ago(30)}, NOW, after_days=7, protected={1}) == (2,)


def test_at_most_ten_a_run_oldest_revisions_first():
    retired = {r: _ago(30) for r in range(25, 0, -1)}
    assert revisions_to_delete(retired, NOW, after_days=7) == tuple(range(1, MAX_DELETIONS + 1))


FAMILY = "multi-agent-orchestrator-dev-langgraph"
ARN = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{FAMILY}"


def test_a_revision_in_use_beyond_the_newest_n_is_kept_and_the_rest_go():
    used = revisions_named(FAMILY, [f"{ARN}:3"])
    assert revisions_to_deregister(range(1, 13), keep=5, protected={12} | used) == (1, 2, 4, 5, 6, 7)


def test_revisions_are_named_by_full_arn_or_family_and_revision():
    assert revisions_named(FAMILY, [f"{ARN}:7", f"{FAMILY}:3", f"{ARN}:7"]) == {3, 7}


def test_the_family_without_a_revision_names_none():
    """ECS runs the latest ACTIVE revision, which is always among the newest N."""
    assert revisions_named(FAMILY, [ARN, FAMILY]) == frozenset()


def test_another_family_names_none_even_one_whose_name_ends_the_same():
    other = "arn:aws:ecs:us-east-1:123456789012:task-definition/x-" + FAMILY
    assert revisions_named(FAMILY, [f"{other}:4", "other:5", f"{FAMILY}-worker:6"]) == frozenset()


def test_a_reference_that_is_no_revision_names_none():
    assert revisions_named(FAMILY, ["", f"{FAMILY}:", f"{FAMILY}:latest", ":4"]) == frozenset()


def test_in_use_collects_each_revision_with_every_user():
    used = InUse().add("ECS service c/s", {3, 4}).add("rule r", {3}).add("schedule default/s", set())
    assert used.revisions == {3, 4}
    assert used.users == {3: ("ECS service c/s", "rule r"), 4: ("ECS service c/s",)}


def test_each_revision_in_use_has_its_own_tag_under_the_live_prefix():
    assert in_use_tag("dev", 12) == "live-dev-r12" and is_live_tag(in_use_tag("prod", 3))


def test_revisions_newly_in_use_are_tagged_and_those_no_longer_in_use_untagged():
    assert in_use_tag_changes({3, 5, 8}, {3: "sha256:a", 4: "sha256:b", 6: ""}) == ((5, 8), (4, 6))


def test_nothing_changes_when_the_tags_are_as_the_use():
    assert in_use_tag_changes({3, 5}, {5: "sha256:a", 3: "sha256:b"}) == ((), ())
    assert in_use_tag_changes(set(), {}) == ((), ())


@pytest.mark.parametrize("tags, removable", [
    ({"live-dev-r3", "abc1234"}, True),
    ({"live-dev-r3", "abc1234-b2", "latest"}, True),
    ({"live-dev-r3"}, False),  # its last tag: removing it deletes the image
    ({"live-dev-r3", "latest"}, False),  # `latest` may move away meanwhile
    ({"live-dev-r3", "live-dev"}, False),  # so may live-dev
    ({"live-dev-r3", "live-dev-r5", "v1.2"}, False),
])
def test_an_in_use_tag_is_removed_only_from_an_image_that_keeps_a_commit_tag(tags, removable):
    assert may_remove_tag(tags, "live-dev-r3") is removable
