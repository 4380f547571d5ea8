"""The emulated ECR: what moto's ECR lacks or does differently from AWS.

- PutImage as ECR does it: a tag moved to another digest leaves the old image in the
  repository, untagged (moto deletes it), an IMMUTABLE tag cannot move
  (ImageTagAlreadyExistsException), and the digest is
  the manifest's sha256.
- Events as ECR and Inspector emit them (EventBridge, best effort): "ECR Image Action" for
  every push of a tag; then, for a new image in a scan-on-push repository, "ECR Image Scan"
  under basic scanning, or "Inspector2 Finding" per finding and "Inspector2 Scan" under
  enhanced scanning (ECR User Guide, "Amazon ECR events and EventBridge";
  "Scanning images for software vulnerabilities"). Build-cache artifacts are not images and
  are not scanned.
- Scan findings per digest: DescribeImageScanFindings answers with the findings the scan
  of *that* digest reported (moto answers with one static result).
- Blobs per repository, as ECR keeps them (ECR API Reference: PutImage, CompleteLayerUpload,
  GetDownloadUrlForLayer): PutImage of a manifest naming a blob that other repositories of the
  registry hold and this one does not fails with LayersNotFoundException (an index naming an
  image held elsewhere only, ReferencedImagesNotFoundException); a blob the registry has never
  seen is taken as uploaded by the push that names it (a client that pushes without the layer
  API). CompleteLayerUpload checks the digest against the bytes (InvalidLayerException) and
  refuses a blob the repository holds (LayerAlreadyExistsException). GetDownloadUrlForLayer,
  which moto lacks, answers a URL on a loopback server that serves the blob's bytes, standing
  in for the pre-signed S3 URL.
- BatchGetImage names each image by the id asked for (a tag asked for comes back as that tag;
  moto answers with the image's last tag), so a lookup by tag can tell which tag it found.
"""

from __future__ import annotations

import fnmatch
import hashlib
import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import ServiceException
from moto.ecr.exceptions import ImageAlreadyExistsException, InvalidParameterException
from moto.ecr.models import Image, ecr_backends
from moto.ecr.responses import ECRResponse

from pipeline.domain.scans import severity_counts
from shipline.local.patches import Patches

IMAGE_CONFIG_TYPES = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
SCAN_DELAY = 0.2  # seconds between a push and its scan result; AWS takes seconds to minutes

# Names, packages and fixes for the synthetic findings, one per severity.
_EXAMPLES = {
    "CRITICAL": ("openssl", "3.0.2-0ubuntu1", "3.0.2-0ubuntu1.18"),
    "HIGH": ("glibc", "2.35-0ubuntu3", "2.35-0ubuntu3.8"),
    "MEDIUM": ("curl", "7.81.0-1", "7.81.0-1ubuntu1.16"),
    "LOW": ("tar", "1.34+dfsg-1", ""),
    "INFORMATIONAL": ("bash", "5.1-6", ""),
    "UNDEFINED": ("zlib", "1.2.11", ""),
    "UNTRIAGED": ("libxml2", "2.9.13", ""),
}


# A CVSS base score per severity, for the synthetic findings (Inspector's severities follow CVSS).
# (Any other severity scores 0.0.)
_SCORES = {"CRITICAL": 9.8, "HIGH": 7.5, "MEDIUM": 5.3, "LOW": 3.1}
# How Inspector's finding events write a time (as its documented sample events do).
_INSPECTOR_TIME = "%b %d, %Y, %I:%M:%S %p"


def image_manifest(config_digest: str, layer_digests: tuple[str, ...] = (), size: int = 1,
                   config_type: str = IMAGE_CONFIG_TYPES[0]) -> str:
    """An OCI image manifest, as the emulated registry stores it."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "digest": config_digest, "size": size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size}
                   for d in layer_digests],
    }, sort_keys=True)


def tag_immutable(repository: Any, tag: str) -> bool:
    """Whether the repository's tag mutability keeps `tag` from moving (ECR API Reference,
    CreateRepository imageTagMutability and ImageTagMutabilityExclusionFilter): IMMUTABLE, every
    tag; IMMUTABLE_WITH_EXCLUSION, every tag no exclusion filter matches; MUTABLE_WITH_EXCLUSION,
    the tags a filter matches; MUTABLE, none. A filter is a WILDCARD pattern (`*` only)."""
    mutability = str(getattr(repository.image_tag_mutability, "value", repository.image_tag_mutability))
    filters = [str(f.get("filter", "")) for f in getattr(repository, "image_tag_mutability_exclusion_filters", None)
               or [] if f.get("filterType", "WILDCARD") == "WILDCARD"]
    matched = any(fnmatch.fnmatchcase(tag, pattern) for pattern in filters)
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        return not matched
    if mutability == "MUTABLE_WITH_EXCLUSION":
        return matched
    return mutability == "IMMUTABLE"


def manifest_digest(manifest: str) -> str:
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


class LayersNotFoundException(ServiceException):
    code = "LayersNotFoundException"


class ReferencedImagesNotFoundException(ServiceException):
    code = "ReferencedImagesNotFoundException"


class LayerAlreadyExistsException(ServiceException):
    code = "LayerAlreadyExistsException"


class InvalidLayerException(ServiceException):
    code = "InvalidLayerException"


class ImageTagAlreadyExistsException(ServiceException):
    code = "ImageTagAlreadyExistsException"


class ImageDigestDoesNotMatchException(ServiceException):
    code = "ImageDigestDoesNotMatchException"


class EmptyUploadException(ServiceException):
    code = "EmptyUploadException"


INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


class BlobServer:
    """Serves blobs' bytes on loopback: the local stand-in for ECR's pre-signed S3 download URLs."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        store = blobs

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                digest = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
                body = store.get(digest)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name="ecr-blobs", daemon=True)
        self._thread.start()

    def url(self, registry: str, repository: str, digest: str) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/{registry}/{repository}/{digest}?X-Amz-Signature=local"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    package: str
    version: str
    fixed_in: str


@dataclass
class EcrEmulation:
    """Scan results per digest, and the events ECR and Inspector send."""

    emit: Callable[[dict, float], None]  # (event, delay in seconds)
    account: str
    region: str
    findings_by_service: dict[str, dict[str, int]] = field(default_factory=dict)
    failing_scans: set[str] = field(default_factory=set)  # services whose scans FAIL
    findings: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    clock: Callable[[], float] = time.time  # stamps imagePushedAt (one-second resolution, as ECR's)
    blobs: dict[str, bytes] = field(default_factory=dict)  # the registry's blob contents, by digest
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BlobServer | None = None

    # ------------------------------------------------------------------ state
    def backend(self) -> Any:
        return ecr_backends[self.account][self.region]

    def scan_type(self) -> str:
        """BASIC or ENHANCED: the registry's scanning configuration."""
        return str(self.backend().registry_scanning_configuration.get("scanType", "BASIC"))

    def enhanced_for(self, repository: str) -> bool:
        """Whether Amazon Inspector scans this repository (an ENHANCED registry whose rules match it)."""
        if self.scan_type() != "ENHANCED":
            return False
        rules = self.backend().registry_scanning_configuration.get("rules", [])
        return not rules or any(fnmatch.fnmatchcase(repository, f.get("filter", "*"))
                                for rule in rules for f in rule.get("repositoryFilters", []))

    def report(self, repository: str, digest: str, counts: dict[str, int]) -> None:
        """From now on, the scan of repository@digest reports these counts."""
        with self._lock:
            self.findings[(repository, digest)] = severity_counts(counts)

    def findings_for(self, repository: str, digest: str) -> list[Finding]:
        found = []
        for severity, count in self.findings.get((repository, digest), {}).items():
            package, version, fixed = _EXAMPLES.get(severity, _EXAMPLES["UNDEFINED"])
            for n in range(count):
                found.append(Finding(f"CVE-2026-{list(_EXAMPLES).index(severity) + 1}{n:03d}", severity, package,
                                     version, fixed))
        return found

    def seed_image(self, repository: str, digest: str, tag: str | None) -> None:
        """Put an image with this digest straight into the registry, with no event: the local
        run injects the event that names it itself (a sample event's digest is not the hash of
        any manifest this emulator makes)."""
        config = digest.encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        manifest = image_manifest(config_digest)
        backend = self.backend()
        repo = backend.repositories[repository]
        self.blobs[config_digest] = config
        repo.layers[config_digest] = len(config)
        existing = next((i for i in repo.images if i.get_image_digest() == digest), None)
        if existing is None:
            image = Image(self.account, tag, manifest, repository,  # type: ignore[arg-type]  # moto takes None
                          "application/vnd.oci.image.manifest.v1+json", digest)
            image.image_pushed_at = int(self.clock())
            repo.images.append(image)
        elif tag and tag not in existing.image_tags:
            existing.update_tag(tag)

    # ------------------------------------------------------------------ moto
    def install(self, patches: Patches) -> None:
        emulation = self

        def put_image(response: ECRResponse) -> str:
            return json.dumps({"image": emulation.put_image(response)})

        def describe_image_scan_findings(response: ECRResponse) -> str:
            return json.dumps(emulation.describe_image_scan_findings(response))

        def get_download_url_for_layer(response: ECRResponse) -> str:
            return json.dumps(emulation.get_download_url_for_layer(response))

        def complete_layer_upload(response: ECRResponse) -> str:
            return json.dumps(emulation.complete_layer_upload(response))

        def batch_get_image(response: ECRResponse) -> str:
            return json.dumps(emulation.batch_get_image(response))

        patches.set(ECRResponse, "put_image", put_image)
        patches.set(ECRResponse, "describe_image_scan_findings", describe_image_scan_findings)
        patches.set(ECRResponse, "get_download_url_for_layer", get_download_url_for_layer)
        patches.set(ECRResponse, "complete_layer_upload", complete_layer_upload)
        patches.set(ECRResponse, "batch_get_image", batch_get_image)

    def close(self) -> None:
        """Stop the blob server, if a download URL started it."""
        if self._server is not None:
            self._server.close()
            self._server = None

    # ------------------------------------------------------------------ blobs
    def get_download_url_for_layer(self, response: ECRResponse) -> dict:
        name = response._get_param("repositoryName")
        digest = response._get_param("layerDigest")
        repository = response.ecr_backend._get_repository(name, response._get_param("registryId"))
        if digest not in repository.layers or digest not in self.blobs:
            raise LayersNotFoundException(f"The layer with digest '{digest}' does not exist within the repository "
                                          f"with name '{name}' in the registry with id '{repository.registry_id}'")
        with self._lock:
            if self._server is None:
                self._server = BlobServer(self.blobs)
            server = self._server
        return {"downloadUrl": server.url(repository.registry_id, name, digest), "layerDigest": digest}

    def complete_layer_upload(self, response: ECRResponse) -> dict:
        from moto.ecr.exceptions import UploadNotFoundException

        name = response._get_param("repositoryName")
        upload_id = response._get_param("uploadId")
        given = response._get_param("layerDigests") or []
        repository = response.ecr_backend._get_repository(name, response._get_param("registryId"))
        upload = repository.uploads.get(upload_id)
        if upload is None:
            raise UploadNotFoundException(upload_id, name, repository.registry_id)
        data = bytes(upload.layer_parts)
        if not data:
            raise EmptyUploadException(f"The upload {upload_id} has no layer parts")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if given and given[0] != digest:
            raise InvalidLayerException("The layer digest calculation performed by Amazon ECR upon receipt of the "
                                        "image layer does not match the digest specified")
        del repository.uploads[upload_id]
        if digest in repository.layers:
            raise LayerAlreadyExistsException(f"The image layer {digest} already exists in the repository {name}")
        with self._lock:
            self.blobs[digest] = data
            repository.layers[digest] = len(data)
        return {"registryId": repository.registry_id, "repositoryName": name, "uploadId": upload_id,
                "layerDigest": digest}

    def _check_blobs(self, repository: Any, parsed: dict, media_type: str) -> None:
        """What the manifest names must be in this repository, unless the registry has never seen it."""
        others = [r for r in self.backend().repositories.values() if r is not repository]
        if media_type in INDEX_TYPES or parsed.get("mediaType") in INDEX_TYPES:
            children = [str(m["digest"]) for m in parsed.get("manifests", []) if isinstance(m, dict) and "digest" in m]
            here = {i.get_image_digest() for i in repository.images}
            elsewhere = {i.get_image_digest() for r in others for i in r.images}
            absent = [d for d in children if d not in here and d in elsewhere]
            if absent:
                raise ReferencedImagesNotFoundException(
                    f"The manifest list references images that do not exist in {repository.name}: {', '.join(absent)}")
            return
        absent = [d for d, _ in _blobs_of(parsed) if d not in repository.layers and any(d in r.layers for r in others)]
        if absent:
            raise LayersNotFoundException(f"The specified layers could not be found in {repository.name}, or the "
                                          f"specified layer is not valid for this repository: {', '.join(absent)}")
        for digest, size in _blobs_of(parsed):
            repository.layers.setdefault(digest, size)

    def batch_get_image(self, response: ECRResponse) -> dict:
        """BatchGetImage as ECR answers it (API Reference, BatchGetImage; Image): one entry per
        image id asked for, whose `imageId` is the one asked for (a tag asked for is the tag
        returned; moto returns the image's last tag instead), and `failures` for the others."""
        name = response._get_param("repositoryName")
        repository = response.ecr_backend._get_repository(name, response._get_param("registryId"))
        images, failures = [], []
        for wanted in response._get_param("imageIds") or []:
            tag, digest = wanted.get("imageTag"), wanted.get("imageDigest")
            found = next((i for i in repository.images if (tag is None or tag in i.image_tags)
                          and (digest is None or i.get_image_digest() == digest)), None)
            if found is None:
                failures.append({"imageId": wanted, "failureCode": "ImageNotFound",
                                 "failureReason": "Requested image not found"})
                continue
            images.append({"registryId": repository.registry_id, "repositoryName": name,
                           "imageId": {"imageDigest": found.get_image_digest(), **({"imageTag": tag} if tag else {})},
                           "imageManifest": found.image_manifest,
                           "imageManifestMediaType": found.image_manifest_media_type
                           or json.loads(found.image_manifest).get("mediaType", "")})
        return {"images": images, "failures": failures}

    def put_image(self, response: ECRResponse) -> dict:
        name = response._get_param("repositoryName")
        manifest = response._get_param("imageManifest")
        tag = response._get_param("imageTag")
        given = response._get_param("imageDigest")
        backend = response.ecr_backend
        repository = backend._get_repository(name, response._get_param("registryId"))
        try:
            parsed = json.loads(manifest)
        except (TypeError, json.JSONDecodeError):
            raise InvalidParameterException(
                "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'") from None
        media_type = response._get_param("imageManifestMediaType") or parsed.get("mediaType")
        if not media_type:
            raise InvalidParameterException("image manifest mediatype not provided in manifest or parameter")
        with self._lock:
            self._check_blobs(repository, parsed, media_type)
            # An image seeded under a sample event's digest (not its manifest's hash) is found by
            # its manifest, as ECR finds any image: retagging it (PutImage of the manifest that
            # BatchGetImage returned) names the same digest.
            stored = next((i for i in repository.images if i.image_manifest == manifest), None)
            digest = stored.get_image_digest() if stored is not None else manifest_digest(manifest)
            if given and given != digest:  # ECR API Reference, PutImage: ImageDigestDoesNotMatchException
                raise ImageDigestDoesNotMatchException(
                    f"The specified image digest {given} does not match the digest that Amazon ECR calculated for "
                    f"the image, {digest}")
            existing = next((i for i in repository.images if i.get_image_digest() == digest), None)
            holder = next((i for i in repository.images if tag and tag in i.image_tags), None)
            # ECR User Guide, "Preventing image tags from being overwritten": with the tag immutable,
            # a push under a tag the repository has is ImageTagAlreadyExistsException, even of the
            # digest that has it (aws/containers-roadmap#2179, aws/aws-sdk#750); only a mutable
            # tag on its own digest is ImageAlreadyExistsException.
            if holder is not None and tag_immutable(repository, tag):  # ECR API Reference, PutImage
                raise ImageTagAlreadyExistsException(
                    f"The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten "
                    "because the repository is immutable.")
            if holder is not None and holder is existing:
                raise ImageAlreadyExistsException(registry_id=repository.registry_id, image_tag=tag, digest=digest,
                                                  repository_name=name)
            if holder is not None:
                holder.remove_tag(tag)  # it stays in the repository, untagged when that was its last tag
                if not holder.image_tags:
                    holder.image_tag = None  # type: ignore[assignment]  # untagged, as ECR lists it
            if existing is None:
                existing = Image(response.current_account, tag, manifest, name, media_type, digest)
                existing.image_pushed_at = int(self.clock())
                repository.images.append(existing)
                new = True
            else:
                if tag:
                    existing.update_tag(tag)
                new = False
        self._pushed(repository, existing, tag, new, parsed)
        return {"registryId": repository.registry_id, "repositoryName": name,
                "imageId": {"imageDigest": digest, **({"imageTag": tag} if tag else {})},
                "imageManifest": manifest, "imageManifestMediaType": media_type}

    def _pushed(self, repository: Any, image: Any, tag: str | None, new: bool, manifest: dict) -> None:
        name, digest = repository.name, image.get_image_digest()
        self.emit(_event("ECR Image Action", "aws.ecr", self.account, self.region, [], {
            "result": "SUCCESS", "repository-name": name, "image-digest": digest, "action-type": "PUSH",
            **({"image-tag": tag} if tag else {}),
        }), 0)
        is_image = manifest.get("config", {}).get("mediaType") in IMAGE_CONFIG_TYPES
        if not new or not is_image:
            return
        if self.enhanced_for(name):
            self._inspector_scan(name, image)
        elif repository.image_scanning_configuration.get("scanOnPush"):
            self._basic_scan(name, image)

    def _configured_counts(self, repository: str) -> dict[str, int]:
        service = next((s for s in self.findings_by_service if repository.endswith(f"-{s}")), None)
        return self.findings_by_service.get(service, {}) if service else {}

    def _scanned(self, repository: str, digest: str) -> dict[str, int]:
        """The counts the scan of this digest finds (kept, so DescribeImageScanFindings agrees)."""
        with self._lock:
            return self.findings.setdefault((repository, digest),
                                            severity_counts(self._configured_counts(repository)))

    def _failing(self, repository: str) -> bool:
        return any(repository.endswith(f"-{s}") for s in self.failing_scans)

    def _basic_scan(self, repository: str, image: Any) -> None:
        digest = image.get_image_digest()
        detail: dict[str, Any] = {"repository-name": repository, "image-digest": digest,
                                  "image-tags": list(image.image_tags)}
        if self._failing(repository):
            detail["scan-status"] = "FAILED"
        else:
            counts = self._scanned(repository, digest)
            detail |= {"scan-status": "COMPLETE", "finding-severity-counts": counts}
        self.emit(_event("ECR Image Scan", "aws.ecr", self.account, self.region,
                         [f"arn:aws:ecr:{self.region}:{self.account}:repository/{repository}"], detail), SCAN_DELAY)

    def _inspector_scan(self, repository: str, image: Any) -> None:
        digest = image.get_image_digest()
        arn = f"arn:aws:ecr:{self.region}:{self.account}:repository/{repository}"
        if self._failing(repository):
            # What Amazon Inspector sends for an image it cannot scan (Inspector User Guide, the
            # coverage event; its reasons: API Reference, ScanStatus): INACTIVE, and no scan event.
            self.emit(_event("Inspector2 Coverage", "aws.inspector2", self.account, self.region, [f"{arn}/{digest}"], {
                "scanStatus": {"reason": "UNSUPPORTED_OS", "statusCodeValue": "INACTIVE"}, "scanType": "PACKAGE",
                "provider": "AWS", "providerAccountId": self.account, "providerRegion": self.region,
                "eventTimestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "version": "1.0"}),
                SCAN_DELAY)
            return
        counts = self._scanned(repository, digest)
        for finding in self.findings_for(repository, digest):
            self.emit(_event("Inspector2 Finding", "aws.inspector2", self.account, self.region,
                             [f"{arn}/{digest}"], self._inspector_finding(repository, image, finding)), SCAN_DELAY)
        # As Amazon Inspector's "Inspector2 Scan" sample has it (Inspector User Guide, "Amazon
        # EventBridge event schema for Amazon Inspector events", initial scan complete): CRITICAL,
        # HIGH and MEDIUM, zeros included, and a TOTAL that counts every severity.
        totals = {**{s: counts.get(s, 0) for s in ("CRITICAL", "HIGH", "MEDIUM")}, "TOTAL": sum(counts.values())}
        self.emit(_event("Inspector2 Scan", "aws.inspector2", self.account, self.region, [arn], {
            "scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn, "finding-severity-counts": totals,
            "image-digest": digest, "image-tags": list(image.image_tags),
        }), SCAN_DELAY)

    def _inspector_finding(self, repository: str, image: Any, finding: Finding, *, event: bool = True) -> dict:
        """A finding with the fields of Amazon Inspector's sample (Inspector User Guide, "Amazon
        EventBridge event schema for Amazon Inspector events", ECR package vulnerability): the
        event's score is `inspectorScore`, DescribeImageScanFindings' (ECR API Reference,
        EnhancedImageScanFinding) `score`."""
        digest = image.get_image_digest()
        now = datetime.now(UTC).strftime(_INSPECTOR_TIME)
        pushed = datetime.fromtimestamp(int(getattr(image, "image_pushed_at", 0) or self.clock()), UTC)
        package: dict[str, Any] = {"arch": "ARM64", "epoch": 0, "name": finding.package, "packageManager": "OS",
                                   "release": "", "version": finding.version,
                                   "fixedInVersion": finding.fixed_in or "NotAvailable"}
        score = _SCORES.get(finding.severity, 0.0)
        tracker = f"https://security-tracker.debian.org/tracker/{finding.id}"
        found: dict[str, Any] = {
            "awsAccountId": self.account,
            "description": f"A flaw was found in {finding.package}.",
            "exploitAvailable": "NO",
            "findingArn": f"arn:aws:inspector2:{self.region}:{self.account}:finding/"
                          f"{hashlib.md5(f'{repository}{digest}{finding.id}'.encode()).hexdigest()}",
            "firstObservedAt": now, "lastObservedAt": now, "updatedAt": now,
            "fixAvailable": "YES" if finding.fixed_in else "NO",
            "remediation": {"recommendation": {"text": f"Upgrade {finding.package}." if finding.fixed_in
                                               else "None Provided"}},
            "severity": finding.severity, "status": "ACTIVE", "title": f"{finding.id} - {finding.package}",
            "type": "PACKAGE_VULNERABILITY",
            "packageVulnerabilityDetails": {"vulnerabilityId": finding.id, "source": "NVD", "sourceUrl": tracker,
                                            "referenceUrls": [tracker], "vendorSeverity": finding.severity.title(),
                                            "cvss": [{"baseScore": score, "source": "NVD", "version": "3.1"}],
                                            "vulnerablePackages": [package]},
            "resources": [{"type": "AWS_ECR_CONTAINER_IMAGE", "id": f"arn:aws:ecr:{self.region}:{self.account}:"
                           f"repository/{repository}/{digest}", "partition": "aws", "region": self.region,
                           "details": {"awsEcrContainerImage": {
                               "repositoryName": repository, "imageHash": digest, "imageTags": list(image.image_tags),
                               "registry": self.account, "architecture": "arm64", "platform": "LINUX",
                               "pushedAt": pushed.strftime(_INSPECTOR_TIME)}}}],
        }
        details = {"adjustedCvss": {"adjustments": [], "cvssSource": "NVD", "score": score, "scoreSource": "NVD",
                                    "version": "3.1"}}
        found |= {"inspectorScore": score, "inspectorScoreDetails": details} if event else {
            "score": score, "scoreDetails": {"cvss": details["adjustedCvss"]}}
        return found

    def describe_image_scan_findings(self, response: ECRResponse) -> dict:
        name = response._get_param("repositoryName")
        image_id = response._get_param("imageId") or {}
        images = response.ecr_backend.describe_images(repository_name=name, registry_id=None, image_ids=[image_id])
        digest = image_id.get("imageDigest") or list(images)[0].get_image_digest()
        counts = self.findings.get((name, digest))
        if counts is None:
            from moto.ecr.exceptions import ScanNotFoundException

            raise ScanNotFoundException(image_id=json.dumps(image_id), repository_name=name,
                                        registry_id=response.current_account)
        enhanced = self.enhanced_for(name)
        found, token = _findings_page(self.findings_for(name, digest), response._get_param("maxResults"),
                                      response._get_param("nextToken"), enhanced=enhanced)
        now = datetime.now(UTC).timestamp()
        result: dict[str, Any] = {"imageScanCompletedAt": now, "vulnerabilitySourceUpdatedAt": now,
                                  "findingSeverityCounts": counts}
        if enhanced:
            image = list(images)[0]
            result["enhancedFindings"] = [self._inspector_finding(name, image, f, event=False) for f in found]
        else:
            result["findings"] = [{"name": f.id, "severity": f.severity, "uri": "https://security-tracker.debian.org/",
                                   "attributes": [{"key": "package_name", "value": f.package},
                                                  {"key": "package_version", "value": f.version}]} for f in found]
        return {"registryId": response.current_account, "repositoryName": name, "imageId": {"imageDigest": digest},
                "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
                "imageScanFindings": result, **({"nextToken": token} if token else {})}


def _findings_page(found: list[Finding], max_results: Any, token: Any, *, enhanced: bool) -> tuple[list[Finding], str]:
    """One page of DescribeImageScanFindings, as ECR pages it (ECR API Reference): up to
    `maxResults` (1 to 1000; 100 when not given) findings, then a `nextToken` while more remain.
    Enhanced findings come 100 a page whatever `maxResults` says (boto/boto3#3449). The findings
    are in the order the scan made them, not by severity (ECR documents no order)."""
    if max_results is not None and not 1 <= int(max_results) <= 1000:
        raise InvalidParameterException("maxResults must be between 1 and 1000")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise InvalidParameterException("Invalid parameter at 'nextToken' failed to satisfy constraint: "
                                        "'Invalid NextToken'") from None
    size = 100 if enhanced or max_results is None else int(max_results)
    more = start + size < len(found)
    return found[start:start + size], str(start + size) if more else ""


def _blobs_of(manifest: dict) -> list[tuple[str, int]]:
    """The config and layer blobs an image manifest names, with their sizes."""
    found = [manifest["config"]] if isinstance(manifest.get("config"), dict) else []
    found += [layer for layer in manifest.get("layers", []) if isinstance(layer, dict)]
    return [(str(b["digest"]), int(b.get("size", 0))) for b in found if "digest" in b]


def _event(detail_type: str, source: str, account: str, region: str, resources: list[str], detail: dict) -> dict:
    return {"version": "0", "source": source, "detail-type": detail_type, "account": account, "region": region,
            "resources": resources, "detail": detail}
