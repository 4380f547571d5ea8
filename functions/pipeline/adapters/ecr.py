"""ECR: repositories, their scanning and lifecycle settings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import AwsCallError, error_code, wrap
from pipeline.domain.outcomes import Rejected
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


class ImageGoneError(LookupError, Rejected):
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


# DescribeImageScanFindings: at most maxResults (1 to 1000) findings a page, then a nextToken
# (ECR API Reference); enhanced (Inspector) findings come 100 a page whatever maxResults says
# (boto/boto3#3449). ECR documents no order, so the worst finding may be on any page.
FINDINGS_PAGE = 1000
FINDINGS_CAP = 2000  # read at most this many: 2 pages of basic findings, 20 of enhanced ones


def scan_findings(repository: str, digest: str, *, limit: int = FINDINGS_CAP, ecr: Any | None = None) -> list[Finding]:
    """Findings of the image's last scan, basic (`findings`) and enhanced (`enhancedFindings`),
    every page up to `limit` findings."""
    client = _ecr(ecr)
    findings: list[Finding] = []
    token: str | None = None
    seen: set[str] = set()  # a token given again ends the reading, as boto3's paginators end it
    while True:
        paging: dict[str, Any] = {"maxResults": min(limit, FINDINGS_PAGE)} | ({"nextToken": token} if token else {})
        try:
            page = client.describe_image_scan_findings(repositoryName=repository, imageId={"imageDigest": digest},
                                                       **paging)
        except ClientError as exc:
            if error_code(exc) in {"ScanNotFoundException", "ImageNotFoundException"}:
                return findings
            raise wrap(exc, f"describe scan findings of {repository}@{digest}") from exc
        findings += _findings(page.get("imageScanFindings", {}))
        token = page.get("nextToken")
        if not token or token in seen or len(findings) >= limit:
            return findings[:limit]
        seen.add(token)


def _findings(result: dict) -> list[Finding]:
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


@dataclass(frozen=True)
class StoredManifest:
    """An image's manifest as ECR stores it (BatchGetImage): what PutImage needs to tag or copy it."""

    digest: str
    media_type: str
    text: str

    def parsed(self) -> dict:
        document = json.loads(self.text)
        return document if isinstance(document, dict) else {}

    def is_index(self) -> bool:
        return (self.media_type or self.parsed().get("mediaType", "")) in INDEX_TYPES

    def children(self) -> list[str]:
        """The image manifests an index names."""
        return [m["digest"] for m in self.parsed().get("manifests", []) if isinstance(m, dict) and "digest" in m]

    def blobs(self) -> list[str]:
        """The config and layer blobs an image manifest names."""
        document = self.parsed()
        found = [document["config"]["digest"]] if isinstance(document.get("config"), dict) else []
        found += [layer["digest"] for layer in document.get("layers", []) if isinstance(layer, dict)]
        return list(dict.fromkeys(found))


def image_manifest(repository: str, digest: str, *, ecr: Any | None = None) -> StoredManifest:
    """The image's stored manifest; ImageGoneError when the image (or its repository) is gone."""
    try:
        return read_manifest(repository, digest, ecr=ecr)
    except (RepositoryMissingError, ImageGoneError):
        raise ImageGoneError(f"{repository}@{digest} no longer exists") from None


def tag_image(repository: str, digest: str, tag: str, *, manifest: StoredManifest | None = None,
              ecr: Any | None = None) -> TagOutcome:
    """Put `tag` on the image `digest` (ECR User Guide, "Retagging an image": BatchGetImage, then
    PutImage of the same manifest under the new tag; a manifest read already is not read again).
    In a MUTABLE repository the tag moves from the image that had it, which keeps its other tags.
    An IMMUTABLE repository refuses to move a tag: "tags immutable", and the caller decides. It
    refuses the tag on the digest that has it too (ImageTagAlreadyExistsException, not
    ImageAlreadyExistsException): the tag's holder, looked up then, tells "already tagged"."""
    ecr = _ecr(ecr)
    stored = manifest or image_manifest(repository, digest, ecr=ecr)
    arguments = {"repositoryName": repository, "imageManifest": stored.text, "imageTag": tag,
                 "imageDigest": digest}
    if stored.media_type:
        arguments["imageManifestMediaType"] = stored.media_type
    try:
        ecr.put_image(**arguments)
    except ClientError as exc:
        code = error_code(exc)
        if code == "ImageAlreadyExistsException":  # this digest carries the tag already
            return "already tagged"
        if code == "ImageTagAlreadyExistsException":  # the tag cannot move: whose is it?
            return "already tagged" if tag_holder(repository, tag, ecr=ecr) == digest else "tags immutable"
        raise wrap(exc, f"tag {repository}@{digest} as {tag}") from exc
    return "tagged"


def delete_tag(repository: str, tag: str, *, ecr: Any | None = None) -> bool:
    """Remove `tag` from the image that has it (BatchDeleteImage naming the tag alone); False when
    no image has it. CAUTION: when it is the image's last tag, ECR deletes the image (ECR API
    Reference, BatchDeleteImage: "When you remove the last tag from an image, the image is deleted
    from your repository"), so the caller makes sure another tag stays. The tag alone names it, as
    the API Reference says to remove a tag (a digest names the whole image)."""
    try:
        answer = _ecr(ecr).batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        raise wrap(exc, f"remove tag {tag} from {repository}") from exc
    failures = [f for f in answer.get("failures", []) if f.get("failureCode") != "ImageNotFound"]
    if failures:  # answered 200, yet not removed
        raise AwsCallError(f"remove tag {tag} from {repository}: {failures[0].get('failureCode')} "
                           f"({failures[0].get('failureReason', '')})")
    return bool(answer.get("imageIds"))


# ---------------------------------------------------------------------------- copying an image (promotion)
# Another repository is another set of blobs: PutImage of a manifest whose layers the target
# repository does not hold fails with LayersNotFoundException ("the specified layers could not
# be found, or the specified layer is not valid for this repository"), and an index whose
# images it does not hold with ReferencedImagesNotFoundException (ECR API Reference, PutImage).
# Blob mounting ("Blob mounting in Amazon ECR") is for OCI clients' uploads, not this API. So a
# copy is: the blobs the target lacks (BatchCheckLayerAvailability), each downloaded from the
# source (GetDownloadUrlForLayer: a pre-signed S3 URL) and uploaded to the target
# (InitiateLayerUpload, UploadLayerPart in parts of the size ECR asks, CompleteLayerUpload);
# then PutImage of the same manifest, with its media type and digest, under the tag.
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
PutOutcome = Literal["pushed", "already there"]


class RepositoryMissingError(LookupError):
    """The repository does not exist."""


def read_manifest(repository: str, digest: str, *, ecr: Any | None = None) -> StoredManifest:
    """The manifest stored under `digest`, as it is (every media type accepted, so none is converted)."""
    try:
        found = _ecr(ecr).batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}],
                                          acceptedMediaTypes=list(MANIFEST_TYPES))
    except ClientError as exc:
        if error_code(exc) == "RepositoryNotFoundException":
            raise RepositoryMissingError(f"repository {repository} does not exist") from None
        raise wrap(exc, f"read the manifest of {repository}@{digest}") from exc
    if not found.get("images"):
        raise ImageGoneError(f"{repository} has no image {digest}")
    image = found["images"][0]
    return StoredManifest(digest=image.get("imageId", {}).get("imageDigest", digest),
                          media_type=image.get("imageManifestMediaType", ""), text=image["imageManifest"])


def tag_holder(repository: str, tag: str, *, ecr: Any | None = None) -> str | None:
    """The digest carrying `tag` in the repository, or None."""
    try:
        details = _ecr(ecr).describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ClientError as exc:
        if error_code(exc) == "ImageNotFoundException":
            return None
        if error_code(exc) == "RepositoryNotFoundException":
            raise RepositoryMissingError(f"repository {repository} does not exist") from None
        raise wrap(exc, f"look up tag {tag} in {repository}") from exc
    return str(details[0]["imageDigest"]) if details else None


def missing_blobs(repository: str, digests: list[str], *, ecr: Any | None = None) -> list[str]:
    """The blobs the repository does not hold (BatchCheckLayerAvailability, 100 digests a call)."""
    missing: list[str] = []
    for start in range(0, len(digests), 100):
        chunk = digests[start:start + 100]
        try:
            answer = _ecr(ecr).batch_check_layer_availability(repositoryName=repository, layerDigests=chunk)
        except ClientError as exc:
            if error_code(exc) == "RepositoryNotFoundException":
                raise RepositoryMissingError(f"repository {repository} does not exist") from None
            raise wrap(exc, f"check the layers of {repository}") from exc
        available = {layer["layerDigest"] for layer in answer.get("layers", [])
                     if layer.get("layerAvailability") == "AVAILABLE"}
        missing += [d for d in chunk if d not in available]
    return missing


def copy_blob(source: str, target: str, digest: str, *, source_ecr: Any | None = None,
              target_ecr: Any | None = None, fetch: Any | None = None) -> None:
    """Copy one blob from the source repository to the target, in the parts ECR asks for."""
    import urllib.request  # here, not at import: the functions never download

    source_ecr, target_ecr = _ecr(source_ecr), _ecr(target_ecr)
    try:
        url = source_ecr.get_download_url_for_layer(repositoryName=source, layerDigest=digest)["downloadUrl"]
    except ClientError as exc:
        raise wrap(exc, f"get a download URL for {source} blob {digest}") from exc
    try:
        upload = target_ecr.initiate_layer_upload(repositoryName=target)
    except ClientError as exc:
        raise wrap(exc, f"start uploading {digest} to {target}") from exc
    part_size = int(upload.get("partSize") or 10 * 1024 * 1024)
    hasher, first = hashlib.sha256(), 0
    opener = fetch or (lambda u: urllib.request.urlopen(u, timeout=60))  # noqa: S310 - ECR's pre-signed https URL
    with opener(url) as response:
        while True:
            part = response.read(part_size)
            if not part:
                break
            hasher.update(part)
            try:
                target_ecr.upload_layer_part(repositoryName=target, uploadId=upload["uploadId"], partFirstByte=first,
                                             partLastByte=first + len(part) - 1, layerPartBlob=part)
            except ClientError as exc:
                raise wrap(exc, f"upload part of {digest} to {target}") from exc
            first += len(part)
    if f"sha256:{hasher.hexdigest()}" != digest:
        raise AwsCallError(f"the blob downloaded for {digest} from {source} has another digest; nothing pushed")
    try:
        target_ecr.complete_layer_upload(repositoryName=target, uploadId=upload["uploadId"], layerDigests=[digest])
    except ClientError as exc:
        if error_code(exc) != "LayerAlreadyExistsException":  # another copy got there first: the same bytes
            raise wrap(exc, f"complete the upload of {digest} to {target}") from exc


def put_manifest(repository: str, manifest: StoredManifest, tag: str | None, *, ecr: Any | None = None) -> PutOutcome:
    """PutImage of the manifest exactly as stored (its media type, its digest), under `tag`."""
    arguments: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest.text,
                                 "imageDigest": manifest.digest}
    if manifest.media_type:
        arguments["imageManifestMediaType"] = manifest.media_type
    if tag:
        arguments["imageTag"] = tag
    try:
        _ecr(ecr).put_image(**arguments)
    except ClientError as exc:
        if error_code(exc) == "ImageAlreadyExistsException":  # this manifest has this tag already: a copy ran
            return "already there"
        # An immutable tag is refused even on the digest that has it: a copy ran when it does.
        if (tag and error_code(exc) == "ImageTagAlreadyExistsException"
                and tag_holder(repository, tag, ecr=ecr) == manifest.digest):
            return "already there"
        raise wrap(exc, f"put {manifest.digest} into {repository}" + (f" as {tag}" if tag else "")) from exc
    return "pushed"


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
    """Put `tag` on an image read with `images_by_tag` (its manifest is not read again)."""
    return tag_image(repository, image.digest, tag, ecr=ecr,
                     manifest=StoredManifest(digest=image.digest, media_type=image.media_type, text=image.manifest))
