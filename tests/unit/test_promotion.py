"""Promotion's decisions: which digest, which tag, who may approve which promotion."""

import pytest

from pipeline.domain.promotion import (
    NoCurrentImageError,
    NotACommitImageError,
    NothingToApproveError,
    PromotionError,
    Route,
    SameEnvironmentError,
    SelfApprovalError,
    TagTakenError,
    check_tag_free,
    choose_pending,
    may_approve,
    parse_policy,
    promotion_tag,
    source_digest,
)
from pipeline.domain.records import PromotionRecord

ROUTE = Route("multi-agent-orchestrator", "langgraph", "dev", "staging")
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
ALICE, BOB = "arn:aws:sts::123456789012:assumed-role/dev/alice", "arn:aws:sts::123456789012:assumed-role/dev/bob"


def record(digest: str = D1, state="pending", requested_by: str = ALICE) -> PromotionRecord:
    return PromotionRecord(service="langgraph", digest=digest, source="dev", tag="3b6258b", requested_by=requested_by,
                           requested_at="2026-11-26T10:00:00+00:00", state=state)


def test_a_route_names_both_repositories():
    assert (ROUTE.source_repository(), ROUTE.target_repository()) == (
        "multi-agent-orchestrator-dev-langgraph", "multi-agent-orchestrator-staging-langgraph")


def test_a_route_into_its_own_environment_is_refused():
    with pytest.raises(SameEnvironmentError, match="both dev"):
        Route("p", "langgraph", "dev", "dev")


def test_the_digest_given_wins_over_the_registered_one():
    assert source_digest(D2, D1, ROUTE) == D2


def test_without_a_digest_the_source_registered_one_is_promoted():
    assert source_digest(None, D1, ROUTE) == D1


def test_nothing_registered_and_no_digest_is_refused():
    with pytest.raises(NoCurrentImageError, match="no registered image in dev"):
        source_digest(None, None, ROUTE)


@pytest.mark.parametrize("tags, tag", [(("latest", "3b6258b", "live-dev"), "3b6258b"),
                                       (("3b6258b-b2", "latest"), "3b6258b-b2")])
def test_the_commit_tag_comes_along(tags, tag):
    assert promotion_tag(tags, ROUTE, D1) == tag


def test_an_image_without_a_commit_tag_is_not_promoted():
    with pytest.raises(NotACommitImageError, match="no commit tag"):
        promotion_tag(("latest", "debug"), ROUTE, D1)


def test_the_commit_tag_may_already_be_on_this_digest():
    check_tag_free(D1, "3b6258b", D1, ROUTE)
    check_tag_free(None, "3b6258b", D1, ROUTE)


def test_a_commit_tag_on_another_image_in_the_target_is_not_moved():
    with pytest.raises(TagTakenError, match="already has tag 3b6258b"):
        check_tag_free(D2, "3b6258b", D1, ROUTE)


@pytest.mark.parametrize("value", ["", "maybe"])
def test_a_stack_that_does_not_say_whether_promotions_need_approval_is_refused(value):
    with pytest.raises(PromotionError, match="deploy it again"):
        parse_policy(value, "shipline-prod")


def test_someone_else_may_approve():
    may_approve(record(), BOB, self_approval=False, route=ROUTE)


def test_the_requester_may_not_approve_their_own_promotion():
    with pytest.raises(SelfApprovalError, match="cannot approve it too"):
        may_approve(record(), ALICE, self_approval=False, route=ROUTE)


def test_the_requester_may_approve_where_the_stack_allows_self_approval():
    may_approve(record(), ALICE, self_approval=True, route=ROUTE)


def test_nothing_to_approve_is_refused():
    with pytest.raises(NothingToApproveError):
        may_approve(None, BOB, self_approval=False, route=ROUTE)


def test_the_only_pending_promotion_is_the_one_approved():
    assert choose_pending([record(D1, "copied"), record(D2)], None, ROUTE).digest == D2


def test_two_pending_promotions_need_a_digest():
    with pytest.raises(NothingToApproveError, match="pass --digest"):
        choose_pending([record(D1), record(D2)], None, ROUTE)
    assert choose_pending([record(D1), record(D2)], D1, ROUTE).digest == D1


def test_a_digest_never_requested_is_refused():
    with pytest.raises(NothingToApproveError, match="was requested"):
        choose_pending([record(D1)], D2, ROUTE)
