"""The services manifest: which services exist and how each is built and run.

Read from a TOML file (stdlib `tomllib`, so the Lambda runtime needs nothing extra) and
validated with pydantic; any problem becomes one `ManifestError` naming the file and field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.domain.outcomes import Drift
from pipeline.domain.quoting import one_line, shown

ENVIRONMENTS = ("dev", "staging", "prod")
Environment = Literal["dev", "staging", "prod"]

# functions/services.toml is a link to the repository's services.toml, so the file travels
# inside the Lambda package that `sam deploy` makes of functions/.
DEFAULT_MANIFEST_PATH = Path(__file__).resolve().parents[2] / "services.toml"

# A project or service name becomes part of an ECR repository name (lower case, single
# separators), an ECS family and container name ([A-Za-z0-9_-] only: no dots) and CodeBuild
# variables: what all of them accept. template.yaml's ProjectName pattern is the same.
NAME_PATTERN = r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$"
_NAME = NAME_PATTERN
_ENV_VAR = r"^[A-Za-z_][A-Za-z0-9_]*$"

# Fargate's valid task sizes (ECS Developer Guide, "Task CPU and memory"): cpu units -> allowed
# memory (MiB). The local account's ECS refuses any other size with this same table.
FARGATE_TASK_SIZES: dict[int, range | tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}


def normalise_path(value: str) -> str:
    """A path inside the repository, as git names it: no leading "./", no empty or ".." part.
    A trailing "/" (a folder and everything under it) is kept."""
    text = value.strip()
    while text.startswith("./"):
        text = text[2:]
    if not text or text in (".", "/"):
        raise ValueError("must name a file or folder inside the repository, not be empty or the root")
    if text.startswith("/"):
        raise ValueError("must be relative to the repository root (no leading /)")
    parts = text.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("must not hold empty, '.' or '..' parts")
    return text


RepositoryPath = Annotated[str, AfterValidator(normalise_path)]


class ManifestError(ValueError):
    """The services manifest cannot be used. Fix the named file and field, then retry.

    The message is always one printable line, whatever the manifest's keys and values hold."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


class _Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class HealthCheck(_Strict):
    """An ECS container health check (CMD-SHELL), in seconds."""

    command: Annotated[str, Field(min_length=1)]
    interval: Annotated[StrictInt, Field(ge=5, le=300)] = 30
    timeout: Annotated[StrictInt, Field(ge=2, le=120)] = 5
    retries: Annotated[StrictInt, Field(ge=1, le=10)] = 3
    start_period: Annotated[StrictInt, Field(ge=0, le=300)] = 10


class SecretRef(_Strict):
    """An environment variable the task reads at start from Secrets Manager or SSM Parameter
    Store. `id` is relative to `<project>/<environment>/`: the task execution role may read
    exactly that prefix, so a service cannot name another stack's secrets."""

    name: Annotated[str, Field(pattern=_ENV_VAR)]
    source: Literal["secretsmanager", "ssm"] = "secretsmanager"
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*(:[A-Za-z0-9_.-]+)?$")]

    def value_from(self, project: str, environment: str, region: str, account: str, partition: str = "aws") -> str:
        """The task definition's `valueFrom`: a full ARN (a `:key` picks one key of a JSON secret)."""
        secret, _, key = self.id.partition(":")
        if self.source == "ssm":
            return f"arn:{partition}:ssm:{region}:{account}:parameter/{project}/{environment}/{secret}"
        arn = f"arn:{partition}:secretsmanager:{region}:{account}:secret:{project}/{environment}/{secret}"
        return f"{arn}:{key}::" if key else arn


_ECS_NAME = r"^[A-Za-z0-9_-]{1,255}$"


class Sizing(_Strict):
    """A service's settings in one environment: its size, and the ECS cluster and service that
    run it (where a registered revision is rolled out when the stack's Rollout is on)."""

    cpu: StrictInt | None = None
    memory: StrictInt | None = None
    cluster: Annotated[str, Field(pattern=_ECS_NAME)] | None = None
    ecs_service: Annotated[str, Field(pattern=_ECS_NAME)] | None = None
    # Scheduled tasks of this service, retargeted to each revision the service comes to run:
    # EventBridge rules (default bus) with ECS targets, and EventBridge Scheduler schedules (default group).
    schedule_rules: tuple[Annotated[str, Field(pattern=r"^[.\-_A-Za-z0-9]{1,64}$")], ...] = ()
    schedules: tuple[Annotated[str, Field(pattern=r"^[0-9a-zA-Z-_.]{1,64}$")], ...] = ()


@dataclass(frozen=True)
class EcsService:
    """The ECS service that runs a manifest service in one environment, and its scheduled tasks."""

    cluster: str
    name: str
    schedule_rules: tuple[str, ...] = ()
    schedules: tuple[str, ...] = ()


class ServiceSpec(_Strict):
    name: Annotated[str, Field(pattern=_NAME, max_length=64)]
    description: str = ""
    dockerfile: str
    context: str = "."
    paths: Annotated[tuple[RepositoryPath, ...], Field(min_length=1)]
    # Strict numbers and booleans: TOML has them, so `port = true` or `optional = "no"` is a
    # mistake to name, not port 1 or an optional service.
    port: Annotated[StrictInt, Field(ge=1, le=65535)]
    cpu: StrictInt
    memory: StrictInt
    environment: dict[str, str] = {}
    secrets: tuple[SecretRef, ...] = ()
    health_check: HealthCheck
    optional: StrictBool = False
    environments: dict[Environment, Sizing] = {}

    @field_validator("dockerfile", "context")
    @classmethod
    def _relative(cls, value: str, info: ValidationInfo) -> str:
        # What the build passes to `docker build --file ... <context>`: one it could not use would
        # start a build that fails at `build-image.sh check`.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must not hold control characters")
        if value.startswith("/") or ".." in Path(value).parts:
            raise ValueError("must be a path inside the repository")
        if info.field_name == "dockerfile" and (not value.strip() or value.endswith("/")):
            raise ValueError("must name a file inside the repository")
        if info.field_name == "context" and not value.strip():
            raise ValueError("must name a folder inside the repository ('.' for its root)")
        return value

    @field_validator("environment")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(_ENV_VAR, key):
                raise ValueError(f"'{shown(key)}' is not a valid environment variable name")
        return value

    @model_validator(mode="after")
    def _no_secret_in_plain_environment(self) -> ServiceSpec:
        clash = {s.name for s in self.secrets} & set(self.environment)
        if clash:
            raise ValueError(f"{sorted(clash)[0]} is both an environment variable and a secret")
        return self

    def sizing(self, environment: str) -> tuple[int, int]:
        """cpu and memory for one environment: its override, else the service's own."""
        override = self.environments.get(environment)  # type: ignore[call-overload]
        cpu = override.cpu if override and override.cpu else self.cpu
        memory = override.memory if override and override.memory else self.memory
        return cpu, memory

    def ecs_service(self, project: str, environment: str) -> EcsService:
        """Where this service runs in `environment`: by default cluster `<project>-<environment>`
        and service `<project>-<environment>-<service>` (the family's name); services.toml's
        `[services.<name>.environments.<environment>]` may name others."""
        override = self.environments.get(environment)  # type: ignore[call-overload]
        prefix = f"{project}-{environment}"
        return EcsService(cluster=(override.cluster if override and override.cluster else prefix),
                          name=(override.ecs_service if override and override.ecs_service
                                else f"{prefix}-{self.name}"),
                          schedule_rules=override.schedule_rules if override else (),
                          schedules=override.schedules if override else ())


class ProjectSpec(_Strict):
    name: Annotated[str, Field(pattern=_NAME, max_length=64)] = "multi-agent-orchestrator"
    branch: Annotated[str, Field(min_length=1)] = "main"
    shared_paths: tuple[RepositoryPath, ...] = ()


class Manifest(_Strict):
    project: ProjectSpec = ProjectSpec()
    services: dict[str, ServiceSpec]

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if not self.services:
            raise ValueError("at least one service is required")
        for key, service in self.services.items():
            if key != service.name:
                raise ValueError(f"{_location(('services', key))}: name does not match its key")
            for env in (None, *service.environments):
                cpu, memory = service.sizing(env or "")
                allowed = FARGATE_TASK_SIZES.get(cpu)
                if allowed is None or memory not in allowed:
                    where = f"services.{key}" + (f".environments.{env}" if env else "")
                    raise ValueError(f"{where}: cpu {cpu} with memory {memory} is not a Fargate task size")
            for env, settings in service.environments.items():
                # The functions may update only services named <project>-<environment>-* (their policy).
                prefix = f"{self.project.name}-{env}-"
                if settings.ecs_service and not settings.ecs_service.startswith(prefix):
                    raise ValueError(f"services.{key}.environments.{env}.ecs_service: must start with {prefix} "
                                     "(shipline may update only its own project's services in that environment)")
                for field, names in (("schedule_rules", settings.schedule_rules), ("schedules", settings.schedules)):
                    foreign = [n for n in names if not n.startswith(prefix)]
                    if foreign:
                        raise ValueError(f"services.{key}.environments.{env}.{field}: {foreign[0]} must start with "
                                         f"{prefix} (shipline may retarget only its own project's scheduled tasks)")
        return self

    def service(self, name: str) -> ServiceSpec:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise UnknownServiceError(f"service '{shown(name)}' is not in the manifest (known: {known})") from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.services)


class UnknownServiceError(LookupError, Drift):
    """A service name that the manifest does not list. Add it to services.toml or fix the name."""


def parse_manifest(data: dict, source: str = "services.toml") -> Manifest:
    """Validate an already-parsed manifest document."""
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: the manifest must be a table")
    defaults = data.get("defaults", {})
    services = data.get("services")
    if services is None:
        raise ManifestError(f"{source}: services: missing: add a [services.<name>] table for each service")
    if not isinstance(defaults, dict) or not isinstance(services, dict):
        field = "defaults" if not isinstance(defaults, dict) else "services"
        raise ManifestError(f"{source}: {field}: must be a table")
    unknown = set(data) - {"project", "defaults", "services"}
    if unknown:
        raise ManifestError(f"{source}: {_location(sorted(unknown)[:1])}: unknown section")
    # A default is copied into every service: an unknown one is named here, once, not as a field of each service.
    stray = sorted(key for key in defaults if key == "name" or key not in ServiceSpec.model_fields)
    if stray:
        raise ManifestError(f"{source}: {_location(('defaults', stray[0]))}: unknown field "
                            "([defaults] takes the fields a service takes, but not name)")
    filled = {}
    for name, spec in services.items():
        if not isinstance(spec, dict):
            raise ManifestError(f"{source}: {_location(('services', name))}: must be a table")
        filled[name] = {"name": name, "cpu": 512, "memory": 1024, **defaults, **spec}
    try:
        return Manifest.model_validate({"project": data.get("project", {}), "services": filled})
    except ValidationError as exc:
        raise ManifestError(_describe(source, exc)) from None


def load_manifest(path: str | Path = DEFAULT_MANIFEST_PATH) -> Manifest:
    """Read and validate the manifest at `path`; every failure is one ManifestError."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib reads nested arrays and inline tables recursively
        raise ManifestError(f"{path}: not valid TOML (nested too deeply)") from None
    except ValueError:  # int() past Python's digit limit: its message advises a Python setting
        raise ManifestError(f"{path}: not valid TOML (a number has more digits than can be read)") from None
    return parse_manifest(data, str(path))


@cache
def default_manifest() -> Manifest:
    """The deployed manifest, read once per process."""
    return load_manifest(DEFAULT_MANIFEST_PATH)


def _location(parts: Iterable[object]) -> str:
    """Where in the manifest, as services.langgraph.port: each key shown safely."""
    return ".".join(shown(part, 40) for part in parts if part != "__root__")


def _describe(source: str, exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = _location(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {location or 'manifest'}: {message}{more}"
