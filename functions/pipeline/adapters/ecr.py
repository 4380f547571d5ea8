"""ECR: repositories, their scanning and lifecycle settings."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import error_code, wrap
from pipeline.domain.repositories import RepositorySpec, RepositoryState


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
