"""Emulated CodeBuild: a started build "builds" its service by hashing the build context at
that commit into a deterministic OCI manifest, pushes it under the build's tags, and emits
what AWS would: Build State Change, then ECR Image Action per tag, then ECR Image Scan."""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.codebuild.responses import CodeBuildResponse

from pipeline.domain.manifest import Manifest
from shipline.local import ecr as local_ecr

STARTED: list[dict[str, Any]] = []
TOKEN_LIFETIME = 300  # seconds CodeBuild honours a StartBuild idempotencyToken
_TOKENS: dict[tuple[str, str], tuple[float, Any]] = {}
_original_start_build = CodeBuildResponse.start_build


def _start_build(self: CodeBuildResponse) -> Any:
    """moto's StartBuild, keeping what moto drops (the environment overrides) and honouring
    idempotencyToken as CodeBuild does: the same token within five minutes is the same build."""
    token = self._get_param("idempotencyToken")
    key = (self._get_param("projectName"), token)
    if token and key in _TOKENS and time.monotonic() - _TOKENS[key][0] < TOKEN_LIFETIME:
        return _TOKENS[key][1]
    result = _original_start_build(self)
    if token:
        _TOKENS[key] = (time.monotonic(), result)
    build = result.result["build"]  # type: ignore[index]
    STARTED.append({
        "project": self._get_param("projectName"),
        "sourceVersion": self._get_param("sourceVersion"),
        "environment": {v["name"]: v.get("value", "") for v in self._get_param("environmentVariablesOverride") or []},
        "id": build["id"],
    })
    return result


def install() -> None:
    CodeBuildResponse.start_build = _start_build  # type: ignore[method-assign]


def reset() -> None:
    STARTED.clear()
    _TOKENS.clear()


@dataclass
class BuildResult:
    id: str
    service: str
    commit: str
    status: str
    phase: str
    digest: str | None = None
    tags: tuple[str, ...] = ()
    reason: str = ""
    events: list[dict] = field(default_factory=list)


def run_build(build: dict[str, Any], *, repo_root: Path, account: str, region: str, manifest: Manifest,
              findings: dict[str, dict[str, int]], ecr_client: Any) -> BuildResult:
    env = build["environment"]
    service, dockerfile, context = env.get("SERVICE", ""), env.get("DOCKERFILE", ""), env.get("BUILD_CONTEXT", ".")
    repository_uri = env.get("REPOSITORY_URI", "")
    repository = repository_uri.split("/", 1)[-1]
    build_id = build["id"]
    commit = _git(repo_root, "rev-parse", f"{build['sourceVersion']}^{{commit}}") or build["sourceVersion"]
    tags = tuple(env.get("IMAGE_TAGS", "").split()) or (commit[:7], "latest")

    def state(status: str, phase: str) -> dict:
        return _build_state_event(build, account, region, status, phase, commit)

    missing = [name for name in ("SERVICE", "DOCKERFILE", "REPOSITORY_URI") if not env.get(name)]
    if missing:
        reason = f"missing build variable(s): {' '.join(missing)}"
        return BuildResult(build_id, service, commit, "FAILED", "PRE_BUILD", reason=reason,
                           events=[state("FAILED", "PRE_BUILD")])
    listing = _git(repo_root, "ls-tree", "-r", commit, "--", dockerfile)
    if not listing:
        return BuildResult(build_id, service, commit, "FAILED", "PRE_BUILD",
                           reason=f"{dockerfile} does not exist at {commit[:7]}", events=[state("FAILED", "PRE_BUILD")])
    # What the image is made of: the Dockerfile and the paths that rebuild this service (its own
    # and the shared ones), as they are at this commit. Unchanged inputs give the same digest.
    spec = manifest.services.get(service)
    inputs = [*(spec.paths if spec else ()), *manifest.project.shared_paths]
    content_listing = _git(repo_root, "ls-tree", "-r", commit, "--", *inputs) if inputs else ""
    content = hashlib.sha256(f"{service}\n{context}\n{listing}\n{content_listing}".encode()).hexdigest()
    image = local_ecr.image_manifest(f"sha256:{hashlib.sha256(('config' + content).encode()).hexdigest()}",
                                     (f"sha256:{hashlib.sha256(('layer' + content).encode()).hexdigest()}",))
    digest = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
    for tag in tags:
        try:
            ecr_client.put_image(repositoryName=repository, imageManifest=image, imageTag=tag, imageDigest=digest)
        except ecr_client.exceptions.ImageAlreadyExistsException:
            pass  # the same content, already pushed under this tag
    local_ecr.report(repository, digest, findings.get(service, {}))
    counts = local_ecr.FINDINGS[(repository, digest)]
    events = [state("SUCCEEDED", "COMPLETED")]
    events += [_event("ECR Image Action", "aws.ecr", account, region, [], {
        "result": "SUCCESS", "repository-name": repository, "image-digest": digest, "action-type": "PUSH",
        "image-tag": tag}) for tag in tags]
    events.append(_event("ECR Image Scan", "aws.ecr", account, region,
                         [f"arn:aws:ecr:{region}:{account}:repository/{repository}"], {
                             "scan-status": "COMPLETE", "repository-name": repository, "image-digest": digest,
                             "image-tags": list(tags), "finding-severity-counts": counts,
                         }))
    return BuildResult(build_id, service, commit, "SUCCEEDED", "COMPLETED", digest, tags, events=events)


def _build_state_event(build: dict, account: str, region: str, status: str, phase: str, commit: str) -> dict:
    project, build_id = build["project"], build["id"]
    arn = f"arn:aws:codebuild:{region}:{account}:build/{build_id}"
    stream = build_id.split(":", 1)[-1]
    return _event("CodeBuild Build State Change", "aws.codebuild", account, region, [arn], {
        "build-status": status, "project-name": project, "build-id": arn, "current-phase": phase,
        "current-phase-context": "[]", "version": "1",
        "additional-information": {
            "environment": {"environment-variables": [
                {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in build["environment"].items()]},
            "source-version": commit,
            "build-complete": True,
            "logs": {"group-name": f"/aws/codebuild/{project}", "stream-name": stream,
                     "deep-link": f"https://console.aws.amazon.com/cloudwatch/home?region={region}"
                                  f"#logEvent:group=/aws/codebuild/{project};stream={stream}"},
        },
    })


def _event(detail_type: str, source: str, account: str, region: str, resources: list[str], detail: dict) -> dict:
    return {"source": source, "detail-type": detail_type, "account": account, "region": region,
            "resources": resources, "detail": detail}


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""
