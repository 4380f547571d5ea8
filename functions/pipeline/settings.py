"""Settings: a typed model read from the environment the template gives each function.

Read on first use (never at import), so tests and the local account can set the
environment first. Names match template.yaml's `Environment.Variables`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.domain.manifest import Manifest, default_manifest, load_manifest
from pipeline.domain.naming import Target
from pipeline.domain.quoting import shown

# The gate, the ledger's partition and the rollout policy are imported where used: every
# function reads its settings, and the webhook, for one, needs neither the ledger's records nor
# the scans and rollout domain they bring (its cold start: `make bench`).
if TYPE_CHECKING:
    from pipeline.domain.gate import GateMode
    from pipeline.domain.rollout import RolloutPolicy


@cache
def _manifest_at(path: str) -> Manifest:
    return load_manifest(path)


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or wrong. Fix template.yaml and redeploy."""


class Settings(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, populate_by_name=True)

    project: Annotated[str, Field(alias="PROJECT_NAME")] = "multi-agent-orchestrator"
    environment: Annotated[Literal["dev", "staging", "prod"], Field(alias="ENVIRONMENT")] = "dev"
    region: Annotated[str, Field(alias="AWS_REGION")] = "us-east-1"
    account: Annotated[str, Field(alias="ACCOUNT_ID", pattern=r"^\d{12}$")] = "000000000000"
    branch: Annotated[str, Field(alias="TRACKED_BRANCH")] = "main"
    source_provider: Annotated[Literal["CodeCommit", "GitHub"], Field(alias="SOURCE_PROVIDER")] = "CodeCommit"
    codecommit_repository: Annotated[str | None, Field(alias="CODECOMMIT_REPOSITORY")] = None
    build_project: Annotated[str | None, Field(alias="BUILD_PROJECT")] = None
    idempotency_table: Annotated[str | None, Field(alias="IDEMPOTENCY_TABLE")] = None
    webhook_secret_arn: Annotated[str | None, Field(alias="WEBHOOK_SECRET_ARN")] = None
    event_bus: Annotated[str, Field(alias="EVENT_BUS")] = "default"
    github_repository_url: Annotated[str | None, Field(alias="GITHUB_REPOSITORY_URL")] = None
    # A Secrets Manager secret holding a GitHub token, for GitHub's API (build avoidance); none = unauthenticated.
    github_token_secret_arn: Annotated[str | None, Field(alias="GITHUB_TOKEN_SECRET_ARN")] = None
    ecr_encryption: Annotated[Literal["AES256", "KMS"], Field(alias="ECR_ENCRYPTION")] = "AES256"
    ecr_kms_key: Annotated[str | None, Field(alias="ECR_KMS_KEY")] = None
    untagged_expiry_days: Annotated[int, Field(alias="UNTAGGED_EXPIRY_DAYS", ge=1)] = 7
    keep_images: Annotated[int, Field(alias="KEEP_IMAGES", ge=1)] = 30
    idempotency_days: Annotated[int, Field(alias="IDEMPOTENCY_DAYS", ge=1)] = 30
    ledger_table: Annotated[str | None, Field(alias="LEDGER_TABLE")] = None
    notification_topic_arn: Annotated[str | None, Field(alias="NOTIFICATION_TOPIC_ARN")] = None
    task_execution_role_arn: Annotated[str | None, Field(alias="TASK_EXECUTION_ROLE_ARN")] = None
    registration_gate: Annotated[Literal["none", "scan"] | None, Field(alias="REGISTRATION_GATE")] = None
    scan_threshold: Annotated[
        Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"], Field(alias="SCAN_THRESHOLD")
    ] = "CRITICAL"
    task_definition_mode: Annotated[Literal["clone", "render"], Field(alias="TASK_DEFINITION_MODE")] = "clone"
    register_manual_pushes: Annotated[bool, Field(alias="REGISTER_MANUAL_PUSHES")] = False
    revisions_to_keep: Annotated[int, Field(alias="REVISIONS_TO_KEEP", ge=1)] = 10
    delete_inactive_after_days: Annotated[int, Field(alias="DELETE_INACTIVE_AFTER_DAYS", ge=0)] = 0
    build_starts_queue_url: Annotated[str | None, Field(alias="BUILD_STARTS_QUEUE_URL")] = None
    build_start_retry_seconds: Annotated[int, Field(alias="BUILD_START_RETRY_SECONDS", ge=1)] = 60
    service_log_retention_days: Annotated[int, Field(alias="SERVICE_LOG_RETENTION_DAYS", ge=1)] = 30
    # Rolling registered revisions out to the ECS services (template parameter Rollout and its strategy's).
    rollout: Annotated[Literal["none", "rolling", "blue-green", "canary", "linear"], Field(alias="ROLLOUT")] = "none"
    rollout_queue_url: Annotated[str | None, Field(alias="ROLLOUT_QUEUE_URL")] = None
    rollout_bake_minutes: Annotated[int, Field(alias="ROLLOUT_BAKE_MINUTES", ge=0, le=1440)] = 10
    rollout_canary_percent: Annotated[float, Field(alias="ROLLOUT_CANARY_PERCENT", ge=0.1, le=100)] = 5.0
    rollout_linear_step_percent: Annotated[float, Field(alias="ROLLOUT_LINEAR_STEP_PERCENT", ge=3, le=100)] = 10.0
    rollout_step_minutes: Annotated[int, Field(alias="ROLLOUT_STEP_MINUTES", ge=0, le=1440)] = 6
    rollout_alarm_names: Annotated[str, Field(alias="ROLLOUT_ALARM_NAMES")] = ""
    # A finding with a fix in a running image asks for a rebuild (template parameter RebuildOnFixAvailable).
    rebuild_on_fix_available: Annotated[bool, Field(alias="REBUILD_ON_FIX_AVAILABLE")] = False
    # The services manifest the function was packaged with; the local account points a run on
    # another checkout at that checkout's services.toml (template.yaml never sets it).
    manifest_path: Annotated[str | None, Field(alias="SHIPLINE_MANIFEST")] = None

    @property
    def gate(self) -> GateMode:
        from pipeline.domain.gate import gate_for

        return gate_for(self.environment, self.registration_gate)

    def ledger_key(self, service: str) -> str:
        from pipeline.domain.status import partition

        return partition(self.project, self.environment, service)

    def manifest(self) -> Manifest:
        return _manifest_at(self.manifest_path) if self.manifest_path else default_manifest()

    @property
    def rollout_policy(self) -> RolloutPolicy:
        from pipeline.domain.rollout import RolloutPolicy, alarm_names

        return RolloutPolicy(mode=self.rollout, bake_minutes=self.rollout_bake_minutes,
                             canary_percent=self.rollout_canary_percent,
                             linear_step_percent=self.rollout_linear_step_percent,
                             step_minutes=self.rollout_step_minutes, alarm_names=alarm_names(self.rollout_alarm_names))

    @property
    def target(self) -> Target:
        return Target(self.project, self.environment, self.account, self.region)



# A variable a function cannot run without: set and not blank.
_BuildProject = Annotated[str, Field(alias="BUILD_PROJECT", min_length=1)]
_BuildStartsQueueUrl = Annotated[str, Field(alias="BUILD_STARTS_QUEUE_URL", min_length=1)]
_IdempotencyTable = Annotated[str, Field(alias="IDEMPOTENCY_TABLE", min_length=1)]
_LedgerTable = Annotated[str, Field(alias="LEDGER_TABLE", min_length=1)]
_NotificationTopicArn = Annotated[str, Field(alias="NOTIFICATION_TOPIC_ARN", min_length=1)]
_TaskExecutionRoleArn = Annotated[str, Field(alias="TASK_EXECUTION_ROLE_ARN", min_length=1)]
_WebhookSecretArn = Annotated[str, Field(alias="WEBHOOK_SECRET_ARN", min_length=1)]


# Each function's own settings: what it cannot run without is required, and checked on its
# first invocation (a missing variable is one line naming it).
class FunctionSettings(Settings):
    """A deployed function's settings: also checked against the services manifest it carries."""

    def check_project(self) -> None:
        """The stack's ProjectName must be the manifest's [project].name. Otherwise the webhook
        and `shipline trigger` would ask for builds of one project while the rules match the
        other's: a 202, and nothing built. Failing here fails every invocation (and so
        FunctionErrorsAlarm) until the two agree."""
        name = self.manifest().project.name
        if name != self.project:
            raise ConfigurationError(
                f"services.toml's [project].name is '{shown(name)}' but the stack's ProjectName (PROJECT_NAME) is "
                f"'{shown(self.project)}': deploy with ProjectName={shown(name)} (samconfig.toml's "
                "parameter_overrides) or set [project].name to the stack's, so the two are the same")


class BuildTriggerSettings(FunctionSettings):
    """The build trigger: it plans, and queues one build start per service."""

    idempotency_table: _IdempotencyTable  # type: ignore[assignment]
    build_starts_queue_url: _BuildStartsQueueUrl  # type: ignore[assignment]

    @model_validator(mode="after")
    def _repository_for_codecommit(self) -> BuildTriggerSettings:
        if self.source_provider == "CodeCommit" and not self.codecommit_repository:
            raise ValueError("CODECOMMIT_REPOSITORY is required when SOURCE_PROVIDER is CodeCommit")
        return self

    @property
    def repository(self) -> str:
        return self.codecommit_repository or ""


class BuildStarterSettings(FunctionSettings):
    """The build starter: repositories, log groups, the ledger and CodeBuild."""

    build_project: _BuildProject  # type: ignore[assignment]
    idempotency_table: _IdempotencyTable  # type: ignore[assignment]
    ledger_table: _LedgerTable  # type: ignore[assignment]
    build_starts_queue_url: _BuildStartsQueueUrl  # type: ignore[assignment]


class ImageEventsSettings(FunctionSettings):
    idempotency_table: _IdempotencyTable  # type: ignore[assignment]
    ledger_table: _LedgerTable  # type: ignore[assignment]
    notification_topic_arn: _NotificationTopicArn  # type: ignore[assignment]
    task_execution_role_arn: _TaskExecutionRoleArn  # type: ignore[assignment]

    @model_validator(mode="after")
    def _bus_for_rebuilds(self) -> ImageEventsSettings:
        if self.rebuild_on_fix_available and self.event_bus == "default":
            raise ValueError("EVENT_BUS (shipline's requests bus) is required when REBUILD_ON_FIX_AVAILABLE is true")
        return self


class RolloutSettings(FunctionSettings):
    """The rollout function: queued rollouts, and the ECS services' deployment events."""

    idempotency_table: _IdempotencyTable  # type: ignore[assignment]
    ledger_table: _LedgerTable  # type: ignore[assignment]
    notification_topic_arn: _NotificationTopicArn  # type: ignore[assignment]


class BuildEventsSettings(FunctionSettings):
    build_project: _BuildProject  # type: ignore[assignment]
    idempotency_table: _IdempotencyTable  # type: ignore[assignment]
    ledger_table: _LedgerTable  # type: ignore[assignment]
    notification_topic_arn: _NotificationTopicArn  # type: ignore[assignment]


class WebhookSettings(FunctionSettings):
    """The GitHub webhook: it checks the signature, plans the push and queues its build starts."""

    webhook_secret_arn: _WebhookSecretArn  # type: ignore[assignment]
    build_starts_queue_url: _BuildStartsQueueUrl  # type: ignore[assignment]


# In Lambda a process serves one function, and its environment is os.environ. The local
# account runs several functions' invocations in one process, on threads: each invocation's
# environment is set here, for its thread only.
_FUNCTION_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("function_environment", default=None)


def environment() -> Mapping[str, str]:
    """The invoking function's environment variables."""
    return _FUNCTION_ENVIRONMENT.get() or os.environ


@contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Run the block (in this thread) with `variables` as the function's environment."""
    token = _FUNCTION_ENVIRONMENT.set(variables)
    try:
        yield
    finally:
        _FUNCTION_ENVIRONMENT.reset(token)


_ALIASES = tuple(f.alias for f in Settings.model_fields.values() if f.alias)


S = TypeVar("S", bound=Settings)


def get_settings(model: type[S] = Settings) -> S:  # type: ignore[assignment]
    """The invoking function's settings, read and checked once per distinct environment."""
    variables = environment()
    # Blank values (a template parameter left empty) mean "not set".
    return _settings(model, tuple((name, variables[name]) for name in _ALIASES if variables.get(name)))


@cache
def _settings(model: type[S], present: tuple[tuple[str, str], ...]) -> S:
    try:
        settings = model.model_validate(dict(present))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = error["loc"][0] if error["loc"] else "environment"
        if error["type"] == "missing":
            raise ConfigurationError(f"environment variable {where} is required by this function and not set "
                                     "(template.yaml gives each function its own)") from None
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"environment variable {where}: {message}") from None
    if isinstance(settings, FunctionSettings):
        settings.check_project()  # raises, so nothing is cached: every invocation fails until fixed
    return settings


get_settings.cache_clear = _settings.cache_clear  # type: ignore[attr-defined]
