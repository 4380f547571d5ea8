"""The repositories' lifecycle policy, evaluated by ECR's documented rules
(tests/support/lifecycle.py): the live image is never expired, old commit images are."""

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.domain.naming import in_use_tag, live_tag
from pipeline.domain.repositories import RepositorySpec
from tests.support.lifecycle import InvalidPolicyError, StoredImage, expired, first_matching_rule, matches, validate

NOW = datetime(2026, 11, 26, tzinfo=UTC)
SPEC = RepositorySpec(name="p-dev-langgraph", project="p", environment="dev", service="langgraph",
                      untagged_expiry_days=7, keep_sha_images=30)
POLICY = SPEC.lifecycle_policy()


def image(name: str, *tags: str, days_ago: float) -> StoredImage:
    return StoredImage(name, frozenset(tags), NOW - timedelta(days=days_ago))


def commits(count: int, *, newest_days_ago: float = 1) -> list[StoredImage]:
    """`count` commit images, one a day, the newest `newest_days_ago` days old."""
    return [image(f"{n:07x}", f"{n:07x}", days_ago=newest_days_ago + count - n) for n in range(count)]


def test_the_policy_is_one_ecr_accepts():
    validate(POLICY)


@pytest.mark.parametrize("tags", [{"live-dev"}, {"live-dev", "abc1234"}, {"live-dev", "abc1234-b2", "latest"},
                                  {"live-dev", "buildcache"}, {"live-staging", "abc1234"}, {"live-dev-r7", "abc1234"},
                                  {"live-dev-r7", "live-dev-r9", "abc1234"}, {"live-dev-r7"}])
def test_an_image_with_a_live_tag_is_claimed_by_the_keep_rule(tags):
    rule = first_matching_rule(POLICY, frozenset(tags))
    assert rule is not None and rule["selection"].get("tagPrefixList") == ["live-"]
    # a repository has one live image and one per revision in use: never beyond the count
    assert rule["selection"]["countNumber"] > 100


def test_the_images_of_revisions_in_use_are_kept_whatever_their_age():
    """Images tagged in use (the service runs revision 3, a scheduled task names revision 5) and
    the live image are never expired, among any number of newer commit images."""
    in_use = [image("r3", "0000003", in_use_tag("dev", 3), days_ago=500),
              image("r5", "0000005", in_use_tag("dev", 5), days_ago=400)]
    live = image("live", "0000009", live_tag("dev"), days_ago=300)
    gone = expired(POLICY, [*in_use, live, *commits(200)], NOW)
    assert gone and not gone & {"r3", "r5", "live"}
    assert len(gone) == 200 - 30


def test_the_oldest_image_is_kept_while_it_is_live():
    live = image("live", "0000001", live_tag("dev"), days_ago=400)
    gone = expired(POLICY, [live, *commits(100)], NOW)
    assert "live" not in gone
    assert len(gone) == 100 - 30  # the newest 30 commit images stay; the live one is kept besides


def test_old_commit_images_are_still_expired_by_count():
    gone = expired(POLICY, commits(40), NOW)
    assert gone == {f"{n:07x}" for n in range(10)}


def test_untagged_images_expire_after_the_days_and_tagged_ones_do_not():
    images = [image("old-untagged", days_ago=8), image("new-untagged", days_ago=2), image("a", "abc1234", days_ago=300)]
    assert expired(POLICY, images, NOW) == {"old-untagged"}


def test_the_previous_live_image_keeps_its_commit_tag_and_ages_out_by_count():
    """Once `live-dev` moves to a newer digest, the old image keeps its commit tag: it is an
    ordinary commit image again, kept while among the newest 30 and expired after."""
    previous = image("previous", "0000000", days_ago=60)
    assert "previous" not in expired(POLICY, [previous, *commits(29)], NOW)
    assert "previous" in expired(POLICY, [previous, *commits(30)], NOW)


def test_without_the_keep_rule_the_live_image_would_be_expired():
    """The evaluator is not trivially kind: drop rule 1 and the old live image goes."""
    policy = {"rules": [r for r in POLICY["rules"] if r["rulePriority"] != 1]}
    live = image("live", "0000001", live_tag("dev"), days_ago=400)
    assert "live" in expired(policy, [live, *commits(40)], NOW)


def test_the_evaluator_follows_the_documented_matching():
    assert matches({"tagStatus": "untagged"}, frozenset())
    assert not matches({"tagStatus": "untagged"}, frozenset({"latest"}))  # any tag: not untagged
    assert matches({"tagStatus": "tagged", "tagPrefixList": ["live-", "abc"]}, frozenset({"live-dev", "abc1234"}))
    assert not matches({"tagStatus": "tagged", "tagPrefixList": ["live-", "abc"]}, frozenset({"live-dev"}))
    assert matches({"tagStatus": "tagged", "tagPatternList": ["a*c"]}, frozenset({"abc"}))
    assert not matches({"tagStatus": "tagged", "tagPatternList": ["a*c"]}, frozenset({"abcd"}))


@pytest.mark.parametrize("rules, problem", [
    ([{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
       "action": {"type": "expire"}},
      {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                                        "countNumber": 1}, "action": {"type": "expire"}}], "highest priority"),
    ([{"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1},
       "action": {"type": "expire"}}], "exactly one of"),
])
def test_the_evaluator_refuses_what_ecr_refuses(rules, problem):
    with pytest.raises(InvalidPolicyError, match=problem):
        validate({"rules": rules})
