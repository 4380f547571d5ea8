"""CodeBuild: start one build of the shared project."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import wrap
from pipeline.domain.builds import BuildPlan


def start_build(project: str, plan: BuildPlan, *, token: str, codebuild: Any | None = None) -> str:
    """Start the build; returns its ARN (the `build-id` of its state-change events)."""
    codebuild = codebuild or client("codebuild")
    try:
        response = codebuild.start_build(
            projectName=project,
            sourceVersion=plan.source_version,
            # CodeBuild starts one build per token for 5 minutes, so botocore's retry of a
            # request whose response was lost does not start a second build. The token names the
            # stack too: two stacks in one account never share one.
            idempotencyToken=hashlib.sha256(token.encode()).hexdigest(),
            environmentVariablesOverride=[
                {"name": name, "value": value, "type": "PLAINTEXT"}
                for name, value in plan.environment_overrides().items()
            ],
        )
    except ClientError as exc:
        raise wrap(exc, f"start build of {plan.service} at {plan.source_version}") from exc
    return str(response["build"]["arn"])
