"""ECR pushes and scans, Amazon Inspector scans and findings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.events.envelope import EventBridgeModel, by_detail_type, parse_by_detail_type

_DIGEST = r"^sha256:[0-9a-f]{64}$"


class EcrImageActionDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    action_type: Annotated[Literal["PUSH"], Field(alias="action-type")]
    result: Literal["SUCCESS"]
    repository_name: Annotated[str, Field(alias="repository-name", min_length=2)]
    image_digest: Annotated[str, Field(alias="image-digest", pattern=_DIGEST)]
    image_tag: Annotated[str | None, Field(alias="image-tag")] = None


class EcrImagePushed(EventBridgeModel):
    source: Literal["aws.ecr"]
    detail_type: Annotated[Literal["ECR Image Action"], Field(alias="detail-type")]
    detail: EcrImageActionDetail  # type: ignore[assignment]


MAX_COUNT = 10**18  # far beyond any scan's findings, well inside a DynamoDB number


class EcrImageScanDetail(BaseModel):
    """A scan's end: COMPLETE, or FAILED (or another status, which the gate treats as not
    complete). ECR's basic scanning names the repository; Inspector, below, its ARN."""

    model_config = ConfigDict(defer_build=True, extra="ignore")
    scan_status: Annotated[str, Field(alias="scan-status", min_length=1)]
    repository_name: Annotated[str, Field(alias="repository-name", min_length=2)]
    image_digest: Annotated[str, Field(alias="image-digest", pattern=_DIGEST)]
    image_tags: Annotated[list[str], Field(alias="image-tags")] = []
    # A count below zero is a damaged event, not "no finding of that severity" (which would pass the gate);
    # one past DynamoDB's 38 digits of precision could not be recorded.
    finding_severity_counts: Annotated[dict[str, Annotated[int, Field(ge=0, le=MAX_COUNT)]],
                                       Field(alias="finding-severity-counts")] = {}


class EcrImageScanned(EventBridgeModel):
    source: Literal["aws.ecr"]
    detail_type: Annotated[Literal["ECR Image Scan"], Field(alias="detail-type")]
    detail: EcrImageScanDetail  # type: ignore[assignment]


class InspectorScanDetail(EcrImageScanDetail):
    repository_name: Annotated[str, Field(alias="repository-name", pattern=r"^arn:aws[a-z-]*:ecr:")]


class InspectorImageScanned(EventBridgeModel):
    source: Literal["aws.inspector2"]
    detail_type: Annotated[Literal["Inspector2 Scan"], Field(alias="detail-type")]
    detail: InspectorScanDetail  # type: ignore[assignment]


class _EcrImageDetails(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    repository_name: Annotated[str, Field(alias="repositoryName")]
    image_hash: Annotated[str, Field(alias="imageHash", pattern=_DIGEST)]
    image_tags: Annotated[list[str], Field(alias="imageTags")] = []


class _FindingResourceDetails(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    aws_ecr_container_image: Annotated[_EcrImageDetails, Field(alias="awsEcrContainerImage")]


class _FindingResource(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    type: Literal["AWS_ECR_CONTAINER_IMAGE"]
    details: _FindingResourceDetails


class _VulnerablePackage(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    name: str
    version: str = ""
    fixed_in_version: Annotated[str, Field(alias="fixedInVersion")] = ""


class _PackageVulnerability(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    vulnerability_id: Annotated[str, Field(alias="vulnerabilityId")]
    vulnerable_packages: Annotated[list[_VulnerablePackage], Field(alias="vulnerablePackages")] = []


class InspectorFindingDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    finding_arn: Annotated[str, Field(alias="findingArn")]
    severity: str
    status: str  # ACTIVE, SUPPRESSED or CLOSED
    first_observed_at: Annotated[str, Field(alias="firstObservedAt")] = ""
    updated_at: Annotated[str, Field(alias="updatedAt")] = ""  # when its state last changed
    # YES, NO or PARTIAL (some of the finding's packages have a fixed version): Amazon Inspector
    # API Reference, "Finding"; ECR API Reference, "EnhancedImageScanFinding".
    fix_available: Annotated[str, Field(alias="fixAvailable")] = ""
    title: str = ""
    resources: Annotated[list[_FindingResource], Field(min_length=1)]
    package_vulnerability_details: Annotated[
        _PackageVulnerability | None, Field(alias="packageVulnerabilityDetails")
    ] = None


class InspectorFindingReported(EventBridgeModel):
    source: Literal["aws.inspector2"]
    detail_type: Annotated[Literal["Inspector2 Finding"], Field(alias="detail-type")]
    detail: InspectorFindingDetail  # type: ignore[assignment]


class _CoverageStatus(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    reason: Annotated[str, Field(min_length=1)]  # UNSUPPORTED_OS, ... (Inspector API Reference, ScanStatus)
    status_code_value: Annotated[str, Field(alias="statusCodeValue", min_length=1)]  # ACTIVE or INACTIVE


class InspectorCoverageDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    scan_status: Annotated[_CoverageStatus, Field(alias="scanStatus")]


# An image's resource ID, as Inspector's events name it: its repository's ARN, then its digest.
_IMAGE_RESOURCE = r"^(arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[^\s]+)/(sha256:[0-9a-f]{64})$"


class InspectorCoverageChanged(EventBridgeModel):
    """Amazon Inspector's scan coverage of a resource changed (Inspector User Guide, "Amazon
    EventBridge event schema for Amazon Inspector events", coverage): INACTIVE with a reason such
    as UNSUPPORTED_OS means it does not scan the image, and no "Inspector2 Scan" follows."""

    source: Literal["aws.inspector2"]
    detail_type: Annotated[Literal["Inspector2 Coverage"], Field(alias="detail-type")]
    resources: Annotated[list[Annotated[str, Field(pattern=_IMAGE_RESOURCE)]], Field(min_length=1, max_length=1)]
    detail: InspectorCoverageDetail  # type: ignore[assignment]

    @property
    def image(self) -> tuple[str, str]:
        """(the repository's ARN, the image's digest)."""
        repository, _, digest = self.resources[0].rpartition("/")
        return repository, digest


class DigestScheduled(EventBridgeModel):
    """The hourly schedule: send the findings digests that are due."""

    source: Literal["aws.events"]
    detail_type: Annotated[Literal["Scheduled Event"], Field(alias="detail-type")]


ImageEvent = (EcrImagePushed | EcrImageScanned | InspectorImageScanned | InspectorFindingReported
              | InspectorCoverageChanged | DigestScheduled)
_IMAGE_EVENTS: dict[str, type[ImageEvent]] = by_detail_type(
    EcrImagePushed, EcrImageScanned, InspectorImageScanned, InspectorFindingReported, InspectorCoverageChanged,
    DigestScheduled)


def parse_image_event(event: object) -> ImageEvent:
    return parse_by_detail_type(event, _IMAGE_EVENTS, "an image event")
