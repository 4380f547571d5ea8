"""Typed models of the events that reach the functions, validated at the edge."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from pipeline.domain.requests import BuildRequest


class InvalidEventError(ValueError):
    """An event that does not have the documented shape. It is logged and dropped: a retry
    cannot fix it."""


class FunctionUrlRequest(BaseModel):
    """The parts of a Lambda Function URL request (payload 2.0) the webhook reads."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    headers: dict[str, str] = {}
    body: str | None = None
    is_base64_encoded: Annotated[bool, Field(alias="isBase64Encoded")] = False


class CodeCommitReferenceDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event: Literal["referenceCreated", "referenceUpdated"]
    repository_name: Annotated[str, Field(alias="repositoryName")]
    reference_type: Annotated[Literal["branch"], Field(alias="referenceType")]
    reference_name: Annotated[str, Field(alias="referenceName")]
    commit_id: Annotated[str, Field(alias="commitId", pattern=r"^[0-9a-f]{40}$")]
    old_commit_id: Annotated[str | None, Field(alias="oldCommitId", pattern=r"^[0-9a-f]{40}$")] = None


class CodeCommitPush(EventBridgeModel):
    source: Literal["aws.codecommit"]
    detail_type: Annotated[Literal["CodeCommit Repository State Change"], Field(alias="detail-type")]
    detail: CodeCommitReferenceDetail  # type: ignore[assignment]


class ScheduledRebuild(EventBridgeModel):
    source: Literal["aws.events"]
    detail_type: Annotated[Literal["Scheduled Event"], Field(alias="detail-type")]


class BuildRequested(EventBridgeModel):
    source: Literal["shipline"]
    detail_type: Annotated[Literal["Build Requested"], Field(alias="detail-type")]
    detail: BuildRequest  # type: ignore[assignment]

BuildTrigger = Annotated[CodeCommitPush | ScheduledRebuild | BuildRequested, Field(discriminator="detail_type")]
_BUILD_TRIGGER: TypeAdapter[CodeCommitPush | ScheduledRebuild | BuildRequested] = TypeAdapter(BuildTrigger)


def parse_build_trigger(event: object) -> CodeCommitPush | ScheduledRebuild | BuildRequested:
    try:
        return _BUILD_TRIGGER.validate_python(event)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """One line: the first problem's place and message."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "event"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"


# ---------------------------------------------------------------- ECR, Inspector, CodeBuild

_DIGEST = r"^sha256:[0-9a-f]{64}$"


class EcrImageActionDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action_type: Annotated[Literal["PUSH"], Field(alias="action-type")]
    result: Literal["SUCCESS"]
    repository_name: Annotated[str, Field(alias="repository-name", min_length=2)]
    image_digest: Annotated[str, Field(alias="image-digest", pattern=_DIGEST)]
    image_tag: Annotated[str | None, Field(alias="image-tag")] = None


class EcrImagePushed(EventBridgeModel):
    source: Literal["aws.ecr"]
    detail_type: Annotated[Literal["ECR Image Action"], Field(alias="detail-type")]
    detail: EcrImageActionDetail  # type: ignore[assignment]


class EcrImageScanDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")
    scan_status: Annotated[Literal["COMPLETE"], Field(alias="scan-status")]
    repository_name: Annotated[str, Field(alias="repository-name", min_length=2)]
    image_digest: Annotated[str, Field(alias="image-digest", pattern=_DIGEST)]
    image_tags: Annotated[list[str], Field(alias="image-tags")] = []
    finding_severity_counts: Annotated[dict[str, int], Field(alias="finding-severity-counts")] = {}


class EcrImageScanned(EventBridgeModel):
    source: Literal["aws.ecr"]
    detail_type: Annotated[Literal["ECR Image Scan"], Field(alias="detail-type")]
    detail: EcrImageScanDetail  # type: ignore[assignment]


class InspectorScanDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")
    scan_status: Annotated[str, Field(alias="scan-status")]
    repository_name: Annotated[str, Field(alias="repository-name", pattern=r"^arn:aws[a-z-]*:ecr:")]
    image_digest: Annotated[str, Field(alias="image-digest", pattern=_DIGEST)]
    image_tags: Annotated[list[str], Field(alias="image-tags")] = []
    finding_severity_counts: Annotated[dict[str, int], Field(alias="finding-severity-counts")] = {}


class InspectorImageScanned(EventBridgeModel):
    source: Literal["aws.inspector2"]
    detail_type: Annotated[Literal["Inspector2 Scan"], Field(alias="detail-type")]
    detail: InspectorScanDetail  # type: ignore[assignment]


class _EcrImageDetails(BaseModel):
    model_config = ConfigDict(extra="ignore")
    repository_name: Annotated[str, Field(alias="repositoryName")]
    image_hash: Annotated[str, Field(alias="imageHash", pattern=_DIGEST)]
    image_tags: Annotated[list[str], Field(alias="imageTags")] = []


class _FindingResourceDetails(BaseModel):
    model_config = ConfigDict(extra="ignore")
    aws_ecr_container_image: Annotated[_EcrImageDetails, Field(alias="awsEcrContainerImage")]


class _FindingResource(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["AWS_ECR_CONTAINER_IMAGE"]
    details: _FindingResourceDetails


class _VulnerablePackage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    version: str = ""
    fixed_in_version: Annotated[str, Field(alias="fixedInVersion")] = ""


class _PackageVulnerability(BaseModel):
    model_config = ConfigDict(extra="ignore")
    vulnerability_id: Annotated[str, Field(alias="vulnerabilityId")]
    vulnerable_packages: Annotated[list[_VulnerablePackage], Field(alias="vulnerablePackages")] = []


class InspectorFindingDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")
    finding_arn: Annotated[str, Field(alias="findingArn")]
    severity: str
    status: str
    title: str = ""
    resources: Annotated[list[_FindingResource], Field(min_length=1)]
    package_vulnerability_details: Annotated[
        _PackageVulnerability | None, Field(alias="packageVulnerabilityDetails")
    ] = None


class InspectorFindingReported(EventBridgeModel):
    source: Literal["aws.inspector2"]
    detail_type: Annotated[Literal["Inspector2 Finding"], Field(alias="detail-type")]
    detail: InspectorFindingDetail  # type: ignore[assignment]


ImageEvent = EcrImagePushed | EcrImageScanned | InspectorImageScanned | InspectorFindingReported
_IMAGE_EVENT: TypeAdapter[ImageEvent] = TypeAdapter(Annotated[ImageEvent, Field(discriminator="detail_type")])


def parse_image_event(event: object) -> ImageEvent:
    try:
        return _IMAGE_EVENT.validate_python(event)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None


class _EnvironmentVariable(BaseModel):
    name: str
    value: str = ""


class _BuildEnvironment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    environment_variables: Annotated[list[_EnvironmentVariable], Field(alias="environment-variables")] = []


class _BuildLogs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    deep_link: Annotated[str | None, Field(alias="deep-link")] = None


class _BuildInformation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    environment: _BuildEnvironment = _BuildEnvironment()
    source_version: Annotated[str, Field(alias="source-version")] = ""
    logs: _BuildLogs = _BuildLogs()


class BuildStateDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")
    build_status: Annotated[Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "STOPPED", "FAULT", "TIMED_OUT"],
                            Field(alias="build-status")]
    project_name: Annotated[str, Field(alias="project-name")]
    build_id: Annotated[str, Field(alias="build-id")]
    current_phase: Annotated[str, Field(alias="current-phase")] = "UNKNOWN"
    additional_information: Annotated[_BuildInformation, Field(alias="additional-information")] = _BuildInformation()

    def variable(self, name: str) -> str:
        return next((v.value for v in self.additional_information.environment.environment_variables
                     if v.name == name), "")


class BuildStateChanged(EventBridgeModel):
    source: Literal["aws.codebuild"]
    detail_type: Annotated[Literal["CodeBuild Build State Change"], Field(alias="detail-type")]
    detail: BuildStateDetail  # type: ignore[assignment]


def parse_build_state(event: object) -> BuildStateChanged:
    try:
        return BuildStateChanged.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None
