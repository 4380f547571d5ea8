"""Rolling a registered revision out to the ECS service that runs it: the strategy the stack's
`Rollout` parameter names, as UpdateService's `deploymentConfiguration` takes it, and what a
deployment's state change means for what runs.

ECS does the deployment itself (ECS API Reference, "DeploymentConfiguration",
"CanaryConfiguration", "LinearConfiguration", "DeploymentAlarms"; Developer Guide, "Amazon ECS
deployment failure detection"): the circuit breaker with rollback, CloudWatch-alarm rollback and
the built-in blue/green, canary and linear strategies. shipline only asks for it and watches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RolloutMode = Literal["none", "rolling", "blue-green", "canary", "linear"]
STRATEGIES: dict[str, str] = {"rolling": "ROLLING", "blue-green": "BLUE_GREEN", "canary": "CANARY",
                              "linear": "LINEAR"}

# "ECS Deployment State Change" (Developer Guide, "Amazon ECS service deployment state change events").
DeploymentEventName = Literal["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED",
                              "SERVICE_DEPLOYMENT_FAILED"]
DeploymentState = Literal["IN_PROGRESS", "COMPLETED", "FAILED", "ROLLED_BACK", "STOPPED"]
FINAL_STATES = frozenset({"COMPLETED", "FAILED", "ROLLED_BACK", "STOPPED"})
STATE_OF_EVENT: dict[str, DeploymentState] = {"SERVICE_DEPLOYMENT_IN_PROGRESS": "IN_PROGRESS",
                                              "SERVICE_DEPLOYMENT_COMPLETED": "COMPLETED",
                                              "SERVICE_DEPLOYMENT_FAILED": "FAILED"}
DeploymentKind = Literal["rollout", "rollback", "automatic rollback", "other"]

RolloutOutcome = Literal["rolling out", "already rolling out", "superseded", "service missing",
                         "another controller", "in flight"]
# The deployment controller whose services UpdateService can point at a new task definition
# (ECS API Reference, UpdateService: under CODE_DEPLOY a CodeDeploy deployment does it, under
# EXTERNAL a new task set).
ROLLING_CONTROLLER = "ECS"


@dataclass(frozen=True)
class RolloutPolicy:
    """The stack's Rollout parameter and what each strategy needs."""

    mode: RolloutMode = "none"
    bake_minutes: int = 10
    canary_percent: float = 5.0
    linear_step_percent: float = 10.0
    step_minutes: int = 6
    alarm_names: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def deployment_configuration(self) -> dict:
        """UpdateService's `deploymentConfiguration`: the circuit breaker with rollback always;
        the strategy; alarm rollback when alarms are named. bakeTimeInMinutes belongs to the
        blue/green family only (for a rolling update ECS computes it from the alarms)."""
        if not self.enabled:
            raise ValueError("Rollout is none: nothing is rolled out")
        config: dict = {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                        "strategy": STRATEGIES[self.mode]}
        if self.mode != "rolling":
            config["bakeTimeInMinutes"] = self.bake_minutes
        if self.mode == "canary":
            config["canaryConfiguration"] = {"canaryPercent": self.canary_percent,
                                             "canaryBakeTimeInMinutes": self.step_minutes}
        if self.mode == "linear":
            config["linearConfiguration"] = {"stepPercent": self.linear_step_percent,
                                             "stepBakeTimeInMinutes": self.step_minutes}
        if self.alarm_names:
            config["alarms"] = {"alarmNames": list(self.alarm_names), "enable": True, "rollback": True}
        return config


def alarm_names(text: str) -> tuple[str, ...]:
    """The RolloutAlarmNames parameter: names separated by commas (blank: none)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


@dataclass(frozen=True)
class RolloutRequest:
    """One registered revision to roll out: what the registration queues."""

    service: str
    family: str
    revision: int
    revision_arn: str

    def body(self) -> dict:
        return {"service": self.service, "family": self.family, "revision": self.revision,
                "revisionArn": self.revision_arn}


_REVISION = re.compile(r"(?:task-definition/)?([A-Za-z0-9_-]+):(\d+)$")


def revision_of(task_definition: str) -> tuple[str, int] | None:
    """(family, revision) of a task-definition ARN or `family:revision`."""
    match = _REVISION.search(task_definition or "")
    return (match.group(1), int(match.group(2))) if match else None


def service_arn_parts(arn: str) -> tuple[str, str] | None:
    """(cluster, service) of a service ARN in the long format `...:service/<cluster>/<service>`."""
    rest = arn.split(":service/", 1)[1] if ":service/" in arn else ""
    cluster, _, service = rest.partition("/")
    return (cluster, service) if cluster and service else None


@dataclass(frozen=True)
class DeploymentRecord:
    """A service deployment shipline started or watched, keyed by the `deploymentId` ECS names it
    by in its events (`ecs-svc/...`)."""

    deployment_id: str
    cluster: str
    service_name: str
    kind: DeploymentKind = "rollout"
    revision: int | None = None
    previous_revision: int | None = None
    state: DeploymentState = "IN_PROGRESS"
    reason: str = ""
    rolled_back: bool = False
    running_revision: int | None = None
    arn: str = ""  # the service deployment ARN (ListServiceDeployments)
    started_at: str = ""
    updated_at: str = ""
    requested_by: str = ""


@dataclass(frozen=True)
class RunningRecord:
    """What the ECS service runs, as its deployments' events last said."""

    revision: int
    deployment_id: str
    state: DeploymentState
    at: str
    cluster: str = ""
    service_name: str = ""


@dataclass(frozen=True)
class RollbackRecord:
    """A person's `shipline rollback`: who, when, how."""

    at: str
    requested_by: str
    how: Literal["stopped", "updated"]
    cluster: str
    service_name: str
    from_revision: int | None = None
    to_revision: int | None = None
    deployment: str = ""  # the stopped deployment's ARN, or the new deployment's id
    # Written "requested" before ECS is asked, "done" after; "failed" when ECS refused. A record
    # left "requested" (the command's last write failed) is finished by running it again.
    state: Literal["requested", "done", "failed"] = "done"
