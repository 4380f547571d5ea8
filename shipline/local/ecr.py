"""Scan findings for moto's ECR: the counts a scan reported, per image digest.

moto answers DescribeImageScanFindings with one static result; the local account (and the
tests) need the findings of *this* digest to agree with the scan event that named it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from moto.ecr.responses import ECRResponse

from pipeline.domain.scans import severity_counts

FINDINGS: dict[tuple[str, str], dict[str, int]] = {}

# Names, packages and fixes for the synthetic findings, one per severity.
_EXAMPLES = {
    "CRITICAL": ("openssl", "3.0.2-0ubuntu1", "3.0.2-0ubuntu1.18"),
    "HIGH": ("glibc", "2.35-0ubuntu3", "2.35-0ubuntu3.8"),
    "MEDIUM": ("curl", "7.81.0-1", "7.81.0-1ubuntu1.16"),
    "LOW": ("tar", "1.34+dfsg-1", ""),
    "INFORMATIONAL": ("bash", "5.1-6", ""),
    "UNDEFINED": ("zlib", "1.2.11", ""),
}


def image_manifest(config_digest: str, layer_digests: tuple[str, ...] = (), size: int = 1) -> str:
    """An OCI image manifest, as the emulated registry stores it."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size}
                   for d in layer_digests],
    }, sort_keys=True)


def report(repository: str, digest: str, counts: dict[str, int]) -> None:
    """From now on, the scan of repository@digest reports these counts."""
    FINDINGS[(repository, digest)] = severity_counts(counts)


def findings_for(repository: str, digest: str) -> list[dict]:
    findings = []
    for severity, count in FINDINGS.get((repository, digest), {}).items():
        package, version, _fixed = _EXAMPLES[severity]
        for n in range(count):
            findings.append({
                "name": f"CVE-2026-{list(_EXAMPLES).index(severity) + 1}{n:03d}",
                "severity": severity,
                "uri": "https://security-tracker.debian.org/tracker/",
                "attributes": [{"key": "package_name", "value": package},
                               {"key": "package_version", "value": version}],
            })
    return findings


def _describe_image_scan_findings(self: ECRResponse) -> str:
    repository = self._get_param("repositoryName")
    image_id = self._get_param("imageId")
    digest = image_id.get("imageDigest") or list(self.ecr_backend.describe_images(
        repository_name=repository, registry_id=None, image_ids=[image_id]
    ))[0].get_image_digest()
    counts = FINDINGS.get((repository, digest), {})
    return json.dumps({
        "registryId": self.current_account,
        "repositoryName": repository,
        "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {
            "imageScanCompletedAt": datetime.now(UTC).timestamp(),
            "vulnerabilitySourceUpdatedAt": datetime.now(UTC).timestamp(),
            "findingSeverityCounts": counts,
            "findings": findings_for(repository, digest),
        },
    })


def install() -> None:
    ECRResponse.describe_image_scan_findings = _describe_image_scan_findings  # type: ignore[method-assign,assignment]
