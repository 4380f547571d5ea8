"""The DescribeImageScanFindings paging loop ends on its own, whatever tokens ECR answers.
(Found by a review.)"""

from __future__ import annotations

import pytest

from pipeline.adapters import ecr


class _Stuck:
    """An ECR answer that keeps giving the same nextToken with no findings (an empty page
    with a token, then the same token again): the paging loop must not go round for ever."""

    def __init__(self) -> None:
        self.calls = 0

    def describe_image_scan_findings(self, **_: object) -> dict:
        self.calls += 1
        if self.calls > 50:
            raise AssertionError("scan_findings called DescribeImageScanFindings 50 times for one image")
        return {"imageScanFindings": {"findings": []}, "nextToken": "same"}


def test_a_repeated_next_token_with_empty_pages_ends_the_paging():
    stuck = _Stuck()
    try:
        found = ecr.scan_findings("repo", "sha256:" + "a" * 64, ecr=stuck)
    except AssertionError as exc:
        pytest.fail(str(exc))
    assert found == [] and stuck.calls <= 2
