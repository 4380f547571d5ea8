"""`shipline rollback`: put a service back on an earlier revision, by a person, recorded.

Two cases (ECS Developer Guide, "Stopping Amazon ECS service deployments"; API Reference,
"UpdateService"):
- a deployment of the service is in progress (PENDING or IN_PROGRESS) and no revision is given:
  StopServiceDeployment with stopType ROLLBACK, and ECS returns the service to the revision the
  deployment replaced;
- otherwise UpdateService to the given revision, or to the ACTIVE revision before the one the
  service runs; a revision that is not ACTIVE (deregistered) is refused, as ECS would refuse it.
Either way the ledger records who (sts GetCallerIdentity's ARN) and when; the rollback's own
deployment events then give one message, as a rollout's do.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from pipeline.domain.manifest import ENVIRONMENTS
from shipline.argtypes import non_empty

HELP = "put a service back on an earlier revision: stop its deployment in progress (ROLLBACK), or deploy the " \
       "previous (or given) ACTIVE revision"


@dataclass(frozen=True)
class RollbackDone:
    how: str  # "stopped" or "updated"
    service: str
    cluster: str
    service_name: str
    from_revision: int | None
    to_revision: int | None
    deployment: str
    requested_by: str
    at: str

    def describe(self) -> str:
        if self.how == "stopped":
            return (f"{self.service}: stopped deployment {self.deployment} with ROLLBACK; ECS returns "
                    f"{self.cluster}/{self.service_name} to the revision it replaced"
                    + (f" (revision {self.to_revision})" if self.to_revision else "")
                    + f". Recorded for {self.requested_by} at {self.at}.")
        return (f"{self.service}: {self.cluster}/{self.service_name} from revision {self.from_revision} to revision "
                f"{self.to_revision} (deployment {self.deployment}). Recorded for {self.requested_by} at {self.at}.")


def add_command(sub: Any, environment: Any, endpoint: Any) -> None:
    """Register `rollback` on the CLI's subcommands."""
    parser = sub.add_parser("rollback", help=HELP, description=HELP + ". The ledger records who and when.")
    parser.add_argument("--service", "-s", required=True, help="the manifest service to roll back")
    environment(parser)
    endpoint(parser)
    parser.add_argument("--to", dest="to_revision", type=_revision, metavar="REVISION",
                        help="the revision to return to (default: the ACTIVE revision before the one that runs)")
    parser.add_argument("--table", type=non_empty,
                        help="ledger table (default: the LedgerTableName output of the stack)")
    parser.add_argument("--stack", type=non_empty,
                        help="stack name (default: shipline-<environment>, as in samconfig.toml)")
    parser.set_defaults(run=run)


def _revision(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a revision number")
    return int(value)


def run(args: argparse.Namespace) -> int:
    from pipeline.adapters.clients import client
    from pipeline.domain.manifest import load_manifest
    from shipline.cli import _stack_output, _use_endpoint

    assert args.environment in ENVIRONMENTS
    _use_endpoint(args.endpoint_url)
    manifest = load_manifest(args.manifest)
    table = args.table or _stack_output(client("cloudformation"), args.stack or f"shipline-{args.environment}",
                                        "LedgerTableName")
    done = roll_back(manifest, args.environment, args.service, table, to_revision=args.to_revision)
    print(done.describe())
    return 0


def roll_back(manifest: Any, environment: str, service: str, table: str, *,
              to_revision: int | None = None) -> RollbackDone:
    """Stop the deployment in progress with ROLLBACK, or deploy the previous (or given) ACTIVE revision."""
    from pipeline.adapters import ecs, ledger
    from pipeline.adapters.clients import client
    from pipeline.domain.rollout import DeploymentRecord, RollbackRecord, revision_of
    from pipeline.domain.status import partition
    from shipline.cli import CommandError

    spec = manifest.service(service)
    project = manifest.project.name
    family = f"{project}-{environment}-{spec.name}"
    target = spec.ecs_service(project, environment)
    pk = partition(project, environment, spec.name)
    try:
        current = ecs.describe_service(target.cluster, target.name)
    except ecs.ServiceMissingError as exc:
        raise CommandError(f"no ECS service to roll back: {exc}") from None
    primary: dict = next((d for d in current.get("deployments", []) if d.get("status") == "PRIMARY"), {})
    running = revision_of(str(primary.get("taskDefinition", "")))
    who = str(client("sts").get_caller_identity()["Arn"])
    at = ledger.now()
    if to_revision is None:
        in_progress = ecs.list_service_deployments(target.cluster, target.name, ["PENDING", "IN_PROGRESS"])
        if in_progress:
            arn = str(in_progress[0]["serviceDeploymentArn"])
            ecs.stop_service_deployment(arn)
            previous = _active_before(family, running[1]) if running else None
            if primary.get("id"):  # the deployment in progress is the service's PRIMARY one: it ends here
                ledger.deployment_changed(table, pk, str(primary["id"]), state="STOPPED", at=at, rolled_back=True,
                                          reason=f"stopped with ROLLBACK by {who}")
            ledger.rollback_recorded(table, pk, RollbackRecord(
                at=at, requested_by=who, how="stopped", cluster=target.cluster, service_name=target.name,
                from_revision=running[1] if running else None, to_revision=previous, deployment=arn))
            return RollbackDone("stopped", spec.name, target.cluster, target.name, running[1] if running else None,
                                previous, arn, who, at)
        if not running:
            raise CommandError(f"{target.cluster}/{target.name} runs no revision of {family}: give --to REVISION")
        to_revision = _active_before(family, running[1])
        if to_revision is None:
            raise CommandError(f"{family} has no ACTIVE revision before {running[1]} to return to: give --to REVISION")
    elif not _active(family, to_revision):
        raise CommandError(f"{family}:{to_revision} is not an ACTIVE revision (never registered, or deregistered): "
                           "ECS cannot deploy it")
    if running and running[1] == to_revision:
        raise CommandError(f"{target.cluster}/{target.name} already deploys {family}:{to_revision}")
    updated = ecs.update_service(target.cluster, target.name, f"{family}:{to_revision}")
    new: dict = next((d for d in updated.get("deployments", []) if d.get("status") == "PRIMARY"), {})
    deployment_id = str(new.get("id", ""))
    ledger.deployment_recorded(table, pk, DeploymentRecord(
        deployment_id=deployment_id, cluster=target.cluster, service_name=target.name, kind="rollback",
        revision=to_revision, previous_revision=running[1] if running else None, started_at=at, requested_by=who))
    ledger.rollback_recorded(table, pk, RollbackRecord(
        at=at, requested_by=who, how="updated", cluster=target.cluster, service_name=target.name,
        from_revision=running[1] if running else None, to_revision=to_revision, deployment=deployment_id))
    return RollbackDone("updated", spec.name, target.cluster, target.name, running[1] if running else None,
                        to_revision, deployment_id, who, at)


def _active_before(family: str, revision: int) -> int | None:
    from pipeline.adapters import ecs

    return next((r for r in ecs.active_revisions(family) if r < revision), None)


def _active(family: str, revision: int) -> bool:
    from pipeline.adapters import ecs

    return revision in ecs.active_revisions(family)
