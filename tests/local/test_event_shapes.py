"""The events the emulated ECR, Amazon Inspector and CodeBuild send have the shapes of AWS's documented
samples (events/*.json: ECR User Guide, "Amazon ECR events and EventBridge"; Inspector User
Guide, "Amazon EventBridge event schema for Amazon Inspector events"; CodeBuild User Guide, "Build
notifications input format reference")."""

from collections.abc import Iterator

import boto3
import pytest

from shipline.local.ecr import EcrEmulation, image_manifest
from shipline.local.model import ACCOUNT, REGION
from tests.support.emulated import patched
from tests.support.events import load_event

REPOSITORY = "p-dev-svc"


@pytest.fixture
def pushed() -> Iterator:
    """Push one new image to a scan-on-push repository (findings: one HIGH with a fixed version,
    two LOW without); the events the emulation sends, by detail-type."""
    sent: list[dict] = []
    emulation = EcrEmulation(lambda event, _delay: sent.append(event), ACCOUNT, REGION,
                             findings_by_service={"svc": {"HIGH": 1, "LOW": 2}})
    try:
        with patched(emulation.install):
            ecr = boto3.client("ecr", region_name=REGION)
            ecr.create_repository(repositoryName=REPOSITORY, imageScanningConfiguration={"scanOnPush": True})

            def push(scanning: str) -> dict[str, list[dict]]:
                ecr.put_registry_scanning_configuration(scanType=scanning, rules=[])
                manifest = image_manifest("sha256:" + scanning.lower().rjust(64, "0"))
                ecr.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag="1279bbb")
                by_type: dict[str, list[dict]] = {}
                for event in sent:
                    by_type.setdefault(event["detail-type"], []).append(event)
                return by_type

            yield push
    finally:
        emulation.close()


def test_a_push_and_its_basic_scan_have_the_documented_shapes(pushed):
    events = {detail_type: found for detail_type, (found,) in pushed("BASIC").items()}
    for detail_type, sample in (("ECR Image Action", "ecr-image-push"), ("ECR Image Scan", "ecr-image-scan")):
        documented = load_event(sample)
        assert events[detail_type]["source"] == documented["source"]
        assert set(events[detail_type]["detail"]) == set(documented["detail"])
    assert events["ECR Image Action"]["resources"] == []
    assert events["ECR Image Scan"]["detail"]["finding-severity-counts"] == {"HIGH": 1, "LOW": 2}


def test_an_inspector_scan_counts_critical_high_and_medium_and_a_total(pushed):
    (scan,) = pushed("ENHANCED")["Inspector2 Scan"]
    documented = load_event("inspector2-scan")
    assert set(scan["detail"]) == set(documented["detail"])
    counts = scan["detail"]["finding-severity-counts"]
    assert set(counts) == set(documented["detail"]["finding-severity-counts"]) == {"CRITICAL", "HIGH", "MEDIUM",
                                                                                  "TOTAL"}
    assert counts == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "TOTAL": 3}


def test_inspector_findings_have_the_documented_fields_and_say_whether_a_fix_exists(pushed):
    findings = [event["detail"] for event in pushed("ENHANCED")["Inspector2 Finding"]]
    documented = load_event("inspector2-finding")["detail"]
    for detail in findings:
        assert set(detail) == set(documented)
        assert set(detail["packageVulnerabilityDetails"]) == set(documented["packageVulnerabilityDetails"])
        assert set(detail["packageVulnerabilityDetails"]["vulnerablePackages"][0]) == set(
            documented["packageVulnerabilityDetails"]["vulnerablePackages"][0])
        image = detail["resources"][0]["details"]["awsEcrContainerImage"]
        assert set(image) == set(documented["resources"][0]["details"]["awsEcrContainerImage"])
    assert sorted((d["severity"], d["fixAvailable"]) for d in findings) == [("HIGH", "YES"), ("LOW", "NO"),
                                                                           ("LOW", "NO")]


def test_a_build_state_change_has_the_documented_fields():
    from shipline.local.codebuild import Build, CodeBuildEmulation, Project
    from tests.support.paths import ROOT

    emulation = CodeBuildEmulation(account=ACCOUNT, region=REGION, source_root=ROOT, emit=lambda *_: None,
                                   tools_url=lambda: "", quota=1, note=None)
    project = Project("p-dev-images", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/p-dev-images", "CODECOMMIT",
                      "https://git-codecommit/p", "buildspec.yml", 1, "image", "BUILD_GENERAL1_SMALL", {}, 60, None)
    build = Build("p-dev-images:1", f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/p-dev-images:1", 1, project,
                  "main", {}, "someone")
    event = emulation._state_event(build, "FAILED")
    documented = load_event("codebuild-build-failed")
    assert set(documented["detail"]) <= set(event["detail"])
    assert set(documented["detail"]["additional-information"]) <= set(event["detail"]["additional-information"])
    assert event["resources"] == [build.arn] and event["detail"]["build-id"] == build.arn




def test_an_image_inspector_cannot_scan_sends_the_documented_coverage_event_and_no_scan():
    """A failing scan under enhanced scanning: Amazon Inspector's coverage event, INACTIVE with a
    reason, as the Inspector User Guide's sample has it, and no Inspector2 Scan (none comes)."""
    sent: list[dict] = []
    emulation = EcrEmulation(lambda event, _delay: sent.append(event), ACCOUNT, REGION, failing_scans={"svc"})
    try:
        with patched(emulation.install):
            ecr = boto3.client("ecr", region_name=REGION)
            ecr.create_repository(repositoryName=REPOSITORY, imageScanningConfiguration={"scanOnPush": True})
            ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[])
            ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest("sha256:" + "e" * 64),
                          imageTag="1279bbb")
    finally:
        emulation.close()
    kinds = [event["detail-type"] for event in sent]
    assert "Inspector2 Scan" not in kinds and kinds.count("Inspector2 Coverage") == 1
    (coverage,) = [event for event in sent if event["detail-type"] == "Inspector2 Coverage"]
    documented = load_event("inspector2-coverage")
    assert set(coverage["detail"]) == set(documented["detail"])
    assert coverage["detail"]["scanStatus"] == {"reason": "UNSUPPORTED_OS", "statusCodeValue": "INACTIVE"}
    (resource,) = coverage["resources"]
    assert resource.endswith(f":repository/{REPOSITORY}/" + coverage["resources"][0].rsplit("/", 1)[1])
