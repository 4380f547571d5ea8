"""`shipline rollback`: put a service back on an earlier revision, by a person, recorded.

Two cases (ECS Developer Guide, "Stopping Amazon ECS service deployments"; API Reference,
"UpdateService"):
- a deployment of the service is in progress (PENDING or IN_PROGRESS) and no revision is given:
  StopServiceDeployment with stopType ROLLBACK, and ECS returns the service to the revision the
  deployment replaced;
- otherwise UpdateService to the given revision, or to the ACTIVE revision before the one the
  service runs; a revision that is not ACTIVE (deregistered) is refused, as ECS would refuse it.
Either way the ledger records who (sts GetCallerIdentity's ARN) and when, before ECS is asked
(a write that is denied changes nothing), and finishes the record after; the rollback's own
deployment events then give one message, as a rollout's do. Run again, the command finishes its
own rollback's record and says so; it does not stop its own rollback's deployment, and it
refuses when ECS is already rolling the service back (the circuit breaker, an alarm, another
person's stop).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
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
    already: bool = False  # the same rollback, asked for earlier: only its record was finished

    def describe(self) -> str:
        if self.how == "stopped":
            return (f"{self.service}: {'already ' if self.already else ''}stopped deployment {self.deployment} "
                    f"with ROLLBACK; ECS returns {self.cluster}/{self.service_name} to the revision it replaced"
                    + (f" (revision {self.to_revision})" if self.to_revision else "")
                    + f". Recorded for {self.requested_by} at {self.at}.")
        if self.already:
            return (f"{self.service}: already rolled back: {self.cluster}/{self.service_name} from revision "
                    f"{self.from_revision} to revision {self.to_revision} (deployment {self.deployment}), nothing "
                    f"more done. Recorded for {self.requested_by} at {self.at}.")
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
    """Stop the deployment in progress with ROLLBACK, or deploy the previous (or given) ACTIVE
    revision. The ledger's record is written before ECS is asked (a denied write changes
    nothing) and finished after; run again, the command finishes its own rollback's record
    instead of undoing the rollback."""
    from pipeline.adapters import ecs, ledger
    from pipeline.domain.rollout import revision_of
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
    deployments: list[dict] = current.get("deployments", [])
    primary: dict = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    parsed = revision_of(str(primary.get("taskDefinition", "")))
    running = parsed[1] if parsed and parsed[0] == family else None
    context = _Rollback(spec.name, family, target.cluster, target.name, table, pk, primary, running)
    earlier = ledger.rollbacks(table, pk)
    latest = max(earlier, key=lambda r: r.at) if earlier else None
    resumed = context.resume(latest, to_revision)
    if resumed:
        return resumed
    if to_revision is None:
        in_flight = ecs.list_service_deployments(target.cluster, target.name, [*IN_FLIGHT, *ROLLING_BACK])
        stoppable = [d for d in in_flight if d.get("status") in IN_FLIGHT]
        if stoppable:
            return context.stop(str(stoppable[0]["serviceDeploymentArn"]), _replaced(deployments, family))
        if in_flight:
            return context.already_rolling_back(in_flight[0], earlier)
        if parsed and not running:
            raise CommandError(f"{target.cluster}/{target.name} runs {parsed[0]}:{parsed[1]}, not a revision of "
                               f"{family}: give --to REVISION to put it back on {family}")
        if not running:
            raise CommandError(f"{target.cluster}/{target.name} runs no revision of {family}: give --to REVISION")
        to_revision = _active_before(family, running)
        if to_revision is None:
            raise CommandError(f"{family} has no ACTIVE revision before {running} to return to: give --to REVISION")
    elif not _active(family, to_revision):
        raise CommandError(f"{family}:{to_revision} is not an ACTIVE revision (never registered, or deregistered): "
                           "ECS cannot deploy it")
    if running == to_revision:
        raise CommandError(f"{target.cluster}/{target.name} already deploys {family}:{to_revision}")
    return context.update(to_revision)


IN_FLIGHT = ["PENDING", "IN_PROGRESS"]  # StopServiceDeployment moves these to ROLLBACK_REQUESTED
# States in which ECS is already stopping or rolling back a deployment ("Stopping Amazon ECS
# service deployments": stopping one again only lets it continue).
ROLLING_BACK = ["STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"]


@dataclass(frozen=True)
class _Rollback:
    """One rollback of one service: what it reads once, and its three ways of going on."""

    service: str
    family: str
    cluster: str
    service_name: str
    table: str
    pk: str
    primary: dict  # the service's PRIMARY deployment, as DescribeServices answered
    running: int | None  # the PRIMARY deployment's revision, when it is of `family`

    def resume(self, latest: Any, to_revision: int | None) -> RollbackDone | None:
        """The person's last `updated` rollback, when the service is on its revision and either
        its record was never finished or its deployment is still in progress: finish the record
        and say so, rather than roll back the rollback (or one revision further)."""
        from pipeline.adapters import ledger
        from pipeline.domain.rollout import DeploymentRecord

        if (latest is None or latest.how != "updated" or latest.state == "failed" or self.running is None
                or latest.to_revision != self.running or to_revision not in (None, latest.to_revision)):
            return None
        deployment_id = str(self.primary.get("id", ""))
        if latest.deployment not in ("", deployment_id):
            return None
        if latest.state == "done" and self.primary.get("rolloutState") != "IN_PROGRESS":
            return None
        if latest.state == "requested":
            ledger.deployment_recorded(self.table, self.pk, DeploymentRecord(
                deployment_id=deployment_id, cluster=self.cluster, service_name=self.service_name, kind="rollback",
                revision=latest.to_revision, previous_revision=latest.from_revision, started_at=latest.at,
                requested_by=latest.requested_by))
            ledger.rollback_recorded(self.table, self.pk, replace(latest, deployment=deployment_id, state="done"))
        return RollbackDone("updated", self.service, self.cluster, self.service_name, latest.from_revision,
                            latest.to_revision, deployment_id, latest.requested_by, latest.at, already=True)

    def stop(self, arn: str, source: int | None) -> RollbackDone:
        """StopServiceDeployment ROLLBACK: ECS returns the service to `source`, the revision the
        deployment replaces."""
        from pipeline.adapters import ecs, ledger

        record = self._requested("stopped", source, arn)
        try:
            ecs.stop_service_deployment(arn)
        except Exception as exc:
            self._failed(record, exc)
            raise
        if self.primary.get("id"):  # the deployment in progress is the service's PRIMARY one: it ends here
            ledger.deployment_changed(self.table, self.pk, str(self.primary["id"]), state="STOPPED", at=record.at,
                                      rolled_back=True, reason=f"stopped with ROLLBACK by {record.requested_by}")
        ledger.rollback_recorded(self.table, self.pk, replace(record, state="done"))
        return RollbackDone("stopped", self.service, self.cluster, self.service_name, self.running, source, arn,
                            record.requested_by, record.at)

    def update(self, to_revision: int) -> RollbackDone:
        """UpdateService to `to_revision`: a deployment of its own, recorded as the person's."""
        from pipeline.adapters import ecs, ledger
        from pipeline.domain.rollout import DeploymentRecord

        record = self._requested("updated", to_revision, "")
        try:
            updated = ecs.update_service(self.cluster, self.service_name, f"{self.family}:{to_revision}")
        except Exception as exc:
            self._failed(record, exc)
            raise
        new: dict = next((d for d in updated.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        deployment_id = str(new.get("id", ""))
        ledger.deployment_recorded(self.table, self.pk, DeploymentRecord(
            deployment_id=deployment_id, cluster=self.cluster, service_name=self.service_name, kind="rollback",
            revision=to_revision, previous_revision=self.running, started_at=record.at,
            requested_by=record.requested_by))
        ledger.rollback_recorded(self.table, self.pk, replace(record, deployment=deployment_id, state="done"))
        return RollbackDone("updated", self.service, self.cluster, self.service_name, self.running, to_revision,
                            deployment_id, record.requested_by, record.at)

    def already_rolling_back(self, deployment: dict, earlier: list) -> RollbackDone:
        """ECS is already stopping or rolling back the service's deployment: the person's own
        stop (its record finished if need be), or ECS's (the circuit breaker, an alarm,
        another stop), which is refused: nothing to stop."""
        from pipeline.adapters import ledger
        from shipline.cli import CommandError

        arn, status = str(deployment.get("serviceDeploymentArn", "")), str(deployment.get("status", ""))
        own = [r for r in earlier if r.how == "stopped" and r.deployment == arn and r.state != "failed"]
        if not own:
            raise CommandError(f"{self.cluster}/{self.service_name}: ECS is already rolling back deployment {arn} "
                               f"({status}): nothing to stop; wait for it to end, or give --to REVISION")
        record = max(own, key=lambda r: r.at)
        if record.state == "requested":
            ledger.rollback_recorded(self.table, self.pk, replace(record, state="done"))
        return RollbackDone("stopped", self.service, self.cluster, self.service_name, record.from_revision,
                            record.to_revision, arn, record.requested_by, record.at, already=True)

    def _requested(self, how: Any, to_revision: int | None, deployment: str) -> Any:
        from pipeline.adapters import ledger
        from pipeline.adapters.clients import client
        from pipeline.domain.rollout import RollbackRecord

        record = RollbackRecord(at=ledger.now(), requested_by=str(client("sts").get_caller_identity()["Arn"]),
                                how=how, cluster=self.cluster, service_name=self.service_name,
                                from_revision=self.running, to_revision=to_revision, deployment=deployment,
                                state="requested")
        ledger.rollback_recorded(self.table, self.pk, record)
        return record

    def _failed(self, record: Any, error: BaseException) -> None:
        """ECS refused (a 4xx, or the service missing): the record says so (best effort; the
        refusal is what the person sees). When the outcome is unknown (a 5xx, a timeout: ECS may
        have done it), the record stays `requested`, so that a rerun can recognise what ECS did."""
        from pipeline.adapters import ecs, ledger
        from pipeline.adapters.errors import AwsCallError

        if not (isinstance(error, ecs.ServiceMissingError) or (isinstance(error, AwsCallError) and error.refused)):
            return
        try:
            ledger.rollback_recorded(self.table, self.pk, replace(record, state="failed"))
        except Exception:  # noqa: BLE001 - the refusal, not this write, is the story
            pass


def _replaced(deployments: list[dict], family: str) -> int | None:
    """The revision a stop with ROLLBACK returns the service to: that of the ACTIVE deployment
    the PRIMARY one replaces (ECS API Reference, "Deployment": ACTIVE is "in the process of being
    replaced with a new PRIMARY deployment"). None when there is not exactly one."""
    from pipeline.domain.rollout import revision_of

    replaced = {parsed[1] for d in deployments if d.get("status") == "ACTIVE"
                for parsed in [revision_of(str(d.get("taskDefinition", "")))] if parsed and parsed[0] == family}
    return replaced.pop() if len(replaced) == 1 else None


def _active_before(family: str, revision: int) -> int | None:
    from pipeline.adapters import ecs

    return next((r for r in ecs.active_revisions(family) if r < revision), None)


def _active(family: str, revision: int) -> bool:
    from pipeline.adapters import ecs

    return revision in ecs.active_revisions(family)
