"""ECR: repositories, their scanning and lifecycle settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import error_code, wrap
from pipeline.domain.repositories import RepositorySpec, RepositoryState
from pipeline.domain.scans import Finding


def _ecr(ecr: Any | None) -> Any:
    return ecr or client("ecr")


def describe_repository(name: str, *, ecr: Any | None = None) -> RepositoryState | None:
    """The repository's current settings, or None when it does not exist."""
    ecr = _ecr(ecr)
    try:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            return None
        raise wrap(exc, f"describe repository {name}") from exc
    try:
        policy = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    except ClientError as exc:
        if error_code(exc) != "LifecyclePolicyNotFoundException":
            raise wrap(exc, f"read lifecycle policy of {name}") from exc
        policy = None
    encryption = repo.get("encryptionConfiguration", {})
    return RepositoryState(
        name=name,
        scan_on_push=bool(repo.get("imageScanningConfiguration", {}).get("scanOnPush")),
        encryption=encryption.get("encryptionType", "AES256"),
        kms_key=encryption.get("kmsKey"),
        tag_mutability=repo.get("imageTagMutability", "MUTABLE"),
        lifecycle_policy=policy,
        uri=repo.get("repositoryUri", ""),
    )


def create_repository(spec: RepositorySpec, *, ecr: Any | None = None) -> bool:
    """Create the repository with the guide's settings. False when it already existed
    (another invocation won the race)."""
    ecr = _ecr(ecr)
    encryption: dict[str, str] = {"encryptionType": spec.encryption}
    if spec.encryption == "KMS" and spec.kms_key:
        encryption["kmsKey"] = spec.kms_key
    try:
        ecr.create_repository(
            repositoryName=spec.name,
            imageTagMutability="MUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            encryptionConfiguration=encryption,
            tags=[{"Key": k, "Value": v} for k, v in spec.resource_tags().items()],
        )
    except ClientError as exc:
        if error_code(exc) == "RepositoryAlreadyExistsException":
            return False
        raise wrap(exc, f"create repository {spec.name}") from exc
    put_lifecycle_policy(spec, ecr=ecr)
    return True


def enable_scan_on_push(name: str, *, ecr: Any | None = None) -> None:
    try:
        _ecr(ecr).put_image_scanning_configuration(
            repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
        )
    except ClientError as exc:
        raise wrap(exc, f"enable scan-on-push on {name}") from exc


def put_lifecycle_policy(spec: RepositorySpec, *, ecr: Any | None = None) -> None:
    try:
        _ecr(ecr).put_lifecycle_policy(repositoryName=spec.name, lifecyclePolicyText=spec.lifecycle_policy_text())
    except ClientError as exc:
        raise wrap(exc, f"put lifecycle policy on {spec.name}") from exc


class ImageGoneError(LookupError):
    """The digest is no longer in the repository (deleted or expired): nothing to register."""


@dataclass(frozen=True)
class StoredImage:
    repository: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: str  # ISO 8601, UTC


def describe_image(repository: str, digest: str, *, ecr: Any | None = None) -> StoredImage:
    try:
        detail = _ecr(ecr).describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
            "imageDetails"
        ][0]
    except ClientError as exc:
        if error_code(exc) in {"ImageNotFoundException", "RepositoryNotFoundException"}:
            raise ImageGoneError(f"{repository}@{digest} no longer exists") from None
        raise wrap(exc, f"describe image {repository}@{digest}") from exc
    pushed = detail.get("imagePushedAt")
    return StoredImage(
        repository=repository,
        digest=digest,
        tags=tuple(detail.get("imageTags", [])),
        pushed_at=pushed.astimezone(UTC).isoformat() if pushed else "",
    )


def scan_findings(repository: str, digest: str, *, limit: int = 100, ecr: Any | None = None) -> list[Finding]:
    """Findings of the image's last scan: basic (`findings`) and enhanced (`enhancedFindings`)."""
    try:
        result = _ecr(ecr).describe_image_scan_findings(
            repositoryName=repository, imageId={"imageDigest": digest}, maxResults=limit
        )["imageScanFindings"]
    except ClientError as exc:
        if error_code(exc) in {"ScanNotFoundException", "ImageNotFoundException"}:
            return []
        raise wrap(exc, f"describe scan findings of {repository}@{digest}") from exc
    findings = [
        Finding(
            id=f.get("name", ""),
            severity=f.get("severity", "UNDEFINED"),
            package=_attribute(f, "package_name"),
            version=_attribute(f, "package_version"),
        )
        for f in result.get("findings", [])
    ]
    for f in result.get("enhancedFindings", []):
        details = f.get("packageVulnerabilityDetails", {})
        package = (details.get("vulnerablePackages") or [{}])[0]
        findings.append(Finding(
            id=details.get("vulnerabilityId", f.get("title", "")),
            severity=f.get("severity", "UNDEFINED"),
            package=package.get("name", ""),
            version=package.get("version", ""),
            fixed_in=package.get("fixedInVersion", "") if package.get("fixedInVersion") != "NotAvailable" else "",
        ))
    return findings


def _attribute(finding: dict, key: str) -> str:
    return next((a.get("value", "") for a in finding.get("attributes", []) if a.get("key") == key), "")


TagOutcome = Literal["tagged", "already tagged", "tags immutable"]

# Every manifest type a build may push, so BatchGetImage returns the stored manifest as it is
# (a manifest converted to another type would have another digest).
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)


def tag_image(repository: str, digest: str, tag: str, *, ecr: Any | None = None) -> TagOutcome:
    """Put `tag` on the image `digest` (ECR User Guide, "Retagging an image": BatchGetImage, then
    PutImage of the same manifest under the new tag). In a MUTABLE repository the tag moves
    from the image that had it, which keeps its other tags. An IMMUTABLE repository refuses to
    move a tag: "tags immutable", and the caller decides."""
    ecr = _ecr(ecr)
    try:
        found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}],
                                    acceptedMediaTypes=list(MANIFEST_TYPES))
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            raise ImageGoneError(f"{repository} no longer exists") from None
        raise wrap(exc, f"read the manifest of {repository}@{digest}") from exc
    if not found.get("images"):
        raise ImageGoneError(f"{repository}@{digest} no longer exists")
    image = found["images"][0]
    arguments = {"repositoryName": repository, "imageManifest": image["imageManifest"], "imageTag": tag,
                 "imageDigest": digest}
    if image.get("imageManifestMediaType"):
        arguments["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        ecr.put_image(**arguments)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ImageAlreadyExistsException":  # this digest carries the tag already
            return "already tagged"
        if code == "ImageTagAlreadyExistsException":  # another digest has it, and tags cannot move
            return "tags immutable"
        raise wrap(exc, f"tag {repository}@{digest} as {tag}") from exc
    return "tagged"


@dataclass(frozen=True)
class TaggedImage:
    """An image as BatchGetImage returns it for one tag: its digest and manifest."""

    tag: str
    digest: str
    manifest: str
    media_type: str = ""


def images_by_tag(repository: str, tags: list[str], *, ecr: Any | None = None) -> dict[str, TaggedImage]:
    """The images these tags name now, by tag; a tag that names none is left out (BatchGetImage
    reports it under `failures`, ImageTagDoesNotExist or ImageNotFound). One call for all tags."""
    ecr = _ecr(ecr)
    try:
        found = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag} for tag in tags],
                                    acceptedMediaTypes=list(MANIFEST_TYPES))
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            return {}
        raise wrap(exc, f"read {', '.join(tags)} in {repository}") from exc
    images = {}
    for image in found.get("images", []):
        image_id = image.get("imageId", {})
        tag = image_id.get("imageTag")
        if tag in tags:
            images[tag] = TaggedImage(tag, image_id.get("imageDigest", ""), image["imageManifest"],
                                      image.get("imageManifestMediaType", ""))
    return images


def put_tag(repository: str, image: TaggedImage, tag: str, *, ecr: Any | None = None) -> TagOutcome:
    """Put `tag` on an image read with `images_by_tag` (PutImage of its manifest under the tag:
    ECR User Guide, "Retagging an image"); the tag moves from the image that had it."""
    ecr = _ecr(ecr)
    arguments = {"repositoryName": repository, "imageManifest": image.manifest, "imageTag": tag,
                 "imageDigest": image.digest}
    if image.media_type:
        arguments["imageManifestMediaType"] = image.media_type
    try:
        ecr.put_image(**arguments)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ImageAlreadyExistsException":
            return "already tagged"
        if code == "ImageTagAlreadyExistsException":
            return "tags immutable"
        raise wrap(exc, f"tag {repository}@{image.digest} as {tag}") from exc
    return "tagged"
