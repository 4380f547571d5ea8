"""The events the emulated ECR and Amazon Inspector send have the shapes of AWS's documented
samples (events/*.json: ECR User Guide, "Amazon ECR events and EventBridge"; Inspector User
Guide, "Amazon EventBridge event schema for Amazon Inspector events")."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from shipline.local.ecr import EcrEmulation, image_manifest
from shipline.local.model import ACCOUNT, REGION
from shipline.local.patches import Patches
from tests.support.events import load_event

REPOSITORY = "p-dev-svc"


@pytest.fixture
def pushed() -> Iterator:
    """Push one new image to a scan-on-push repository; the events the emulation sends, by detail-type."""
    sent: list[dict] = []
    patches = Patches()
    with mock_aws():
        emulation = EcrEmulation(lambda event, _delay: sent.append(event), ACCOUNT, REGION,
                                 findings_by_service={"svc": {"HIGH": 1, "LOW": 2}})
        emulation.install(patches)
        try:
            ecr = boto3.client("ecr", region_name=REGION)
            ecr.create_repository(repositoryName=REPOSITORY, imageScanningConfiguration={"scanOnPush": True})

            def push(scanning: str) -> dict[str, dict]:
                ecr.put_registry_scanning_configuration(scanType=scanning, rules=[])
                manifest = image_manifest("sha256:" + scanning.lower().rjust(64, "0"))
                ecr.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag="1279bbb")
                return {e["detail-type"]: e for e in sent}

            yield push
        finally:
            patches.restore()
            emulation.close()


def test_a_push_and_its_basic_scan_have_the_documented_shapes(pushed):
    events = pushed("BASIC")
    for detail_type, sample in (("ECR Image Action", "ecr-image-push"), ("ECR Image Scan", "ecr-image-scan")):
        documented = load_event(sample)
        assert events[detail_type]["source"] == documented["source"]
        assert set(events[detail_type]["detail"]) == set(documented["detail"])
    assert events["ECR Image Action"]["resources"] == []
    assert events["ECR Image Scan"]["detail"]["finding-severity-counts"] == {"HIGH": 1, "LOW": 2}


def test_an_inspector_scan_counts_critical_high_and_medium_and_a_total(pushed):
    scan = pushed("ENHANCED")["Inspector2 Scan"]
    documented = load_event("inspector2-scan")
    assert set(scan["detail"]) == set(documented["detail"])
    counts = scan["detail"]["finding-severity-counts"]
    assert set(counts) == set(documented["detail"]["finding-severity-counts"]) == {"CRITICAL", "HIGH", "MEDIUM",
                                                                                  "TOTAL"}
    assert counts == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "TOTAL": 3}
