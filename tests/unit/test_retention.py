"""Which task-definition revisions retention deregisters."""

import pytest

from pipeline.domain.retention import revisions_to_deregister


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
