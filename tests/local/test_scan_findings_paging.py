"""DescribeImageScanFindings pages as ECR pages it (ECR API Reference: up to `maxResults`, 1 to
1000, 100 when not given, then a `nextToken`; enhanced findings 100 a page whatever `maxResults`
says, boto/boto3#3449), and the ECR adapter reads every page: ECR documents no order, so the
worst finding may be on the last one. (Found by a probe: the local account answered every
finding on one page, and the adapter read one.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.adapters import ecr as adapter
from pipeline.domain.scans import top_findings
from shipline.local.ecr import EcrEmulation, image_manifest
from shipline.local.model import ACCOUNT, REGION
from tests.support.emulated import patched

REPOSITORY = "p-dev-svc"


class Scanned(NamedTuple):
    client: Any
    enhanced: bool
COUNTS = {"LOW": 1150, "CRITICAL": 1}  # the CRITICAL one last: on the last page


@pytest.fixture(params=[False, True], ids=["basic", "enhanced"])
def ecr(request) -> Iterator:
    emulation = EcrEmulation(lambda *_: None, ACCOUNT, REGION, findings_by_service={"svc": COUNTS})
    try:
        with patched(emulation.install):
            client = boto3.client("ecr", region_name=REGION)
            if request.param:  # Amazon Inspector scans the registry
                every = [{"filter": "*", "filterType": "WILDCARD"}]
                client.put_registry_scanning_configuration(scanType="ENHANCED", rules=[{
                    "scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": every}])
            yield Scanned(client, request.param)
    finally:
        emulation.close()


def _pushed(scanned: Scanned) -> str:
    ecr = scanned.client
    ecr.create_repository(repositoryName=REPOSITORY, imageScanningConfiguration={"scanOnPush": True})
    return ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest("sha256:" + "1" * 64),
                         imageTag="1279bbb")["image"]["imageId"]["imageDigest"]


def _page(scanned: Scanned, digest: str, **paging) -> dict:
    return scanned.client.describe_image_scan_findings(repositoryName=REPOSITORY, imageId={"imageDigest": digest},
                                                       **paging)


def _listed(page: dict) -> list:
    found = page["imageScanFindings"]
    return found.get("enhancedFindings", found.get("findings", []))


def test_a_page_holds_max_results_findings_or_100_and_a_next_token_while_more_remain(ecr):
    digest = _pushed(ecr)
    first = _page(ecr, digest, maxResults=1000)
    assert first["imageScanFindings"]["findingSeverityCounts"] == COUNTS  # the counts are whole on every page
    assert len(_listed(first)) == (100 if ecr.enhanced else 1000) and first["nextToken"]
    assert len(_listed(_page(ecr, digest))) == 100  # maxResults not given
    last = _page(ecr, digest, maxResults=1000, nextToken=first["nextToken"])
    assert len(_listed(last)) == (100 if ecr.enhanced else 151)


def test_max_results_beyond_1000_is_refused(ecr):
    digest = _pushed(ecr)
    with pytest.raises(ClientError) as refused:
        _page(ecr, digest, maxResults=1001)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


def test_the_adapter_reads_every_page_so_the_message_names_the_critical_finding(ecr):
    digest = _pushed(ecr)
    found = adapter.scan_findings(REPOSITORY, digest, ecr=ecr.client)
    assert len(found) == 1151
    assert [f.severity for f in top_findings(found)][:1] == ["CRITICAL"]


def test_the_adapter_stops_at_its_cap(ecr):
    digest = _pushed(ecr)
    calls: list[dict] = []
    ecr.client.meta.events.register("provide-client-params.ecr.DescribeImageScanFindings",
                             lambda params, **_: calls.append(params))
    assert len(adapter.scan_findings(REPOSITORY, digest, limit=250, ecr=ecr.client)) == 250
    assert len(calls) == (3 if ecr.enhanced else 1)
