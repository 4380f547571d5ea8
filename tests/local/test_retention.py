"""Revision retention on the local account: a revision in use survives RevisionsToKeep, and
with no ECS service or scheduled task by the manifest's names (Rollout none) retention reads
AWS's "not found" answers and goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipline.local.account import prepare_for
from tests.support.events import load_event

FAMILY = "multi-agent-orchestrator-dev-langgraph"
CLUSTER = "multi-agent-orchestrator-dev"


def push(account, n: int) -> None:
    """An image of a new commit pushed to langgraph's repository (no build: its push event)."""
    event = load_event("ecr-image-push")
    event["id"] = f"push-{n}"
    event["detail"].update({"image-digest": "sha256:" + f"{n:x}" * 64, "image-tag": f"{n:07x}"})
    event["time"] = (datetime.now(UTC) + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    prepare_for(account, event)
    account.put_event(event)
    account.run()


def statuses(account) -> dict[int, str]:
    return {t["revision"]: t["status"] for t in account.report()["taskDefinitions"] if t["family"] == FAMILY}


def running(account) -> str:
    (service,) = account.client("ecs").describe_services(cluster=CLUSTER, services=[FAMILY])["services"]
    return str(service["taskDefinition"].rsplit("/", 1)[-1])


def test_the_revision_a_service_runs_survives_revisions_to_keep(local_account):
    """Rollout=rolling, RevisionsToKeep=1. The stand-in service runs revision 1; revision 2's
    deployment fails and ECS rolls back to 1; when revision 3 is registered, 2 goes and 1 (what
    runs) stays. Revision 3 is rolled out; when 4 is registered, 3 (what now runs) stays."""
    account = local_account(parameters={"Rollout": "rolling", "RevisionsToKeep": "1"},
                            failing_deployments={"langgraph"})
    push(account, 2)
    assert running(account) == f"{FAMILY}:1"  # rolled back
    push(account, 3)
    assert statuses(account) == {1: "ACTIVE", 2: "INACTIVE", 3: "ACTIVE"}
    assert running(account) == f"{FAMILY}:3"
    push(account, 4)
    assert statuses(account) == {1: "INACTIVE", 2: "INACTIVE", 3: "ACTIVE", 4: "ACTIVE"}
    assert running(account) == f"{FAMILY}:4"
    assert account.report()["errors"] == []


def test_with_no_service_by_the_manifests_names_retention_goes_on(local_account, tmp_path):
    """Rollout none: no cluster (DescribeServices: ClusterNotFoundException), then a cluster without
    the service (a failure MISSING), and a rule and a schedule services.toml names that do not
    exist (ResourceNotFoundException): each uses nothing, as in AWS, and retention deregisters."""
    from tests.support.paths import MANIFEST

    account = local_account(parameters={"RevisionsToKeep": "1"})
    manifest = tmp_path / "services.toml"
    manifest.write_text(MANIFEST.read_text() + f'\n[services.langgraph.environments.dev]\n'
                                               f'schedule_rules = ["{FAMILY}-report"]\n'
                                               f'schedules = ["{FAMILY}-sweep"]\n')
    account.stack.functions["ImageEventsFunction"].environment["SHIPLINE_MANIFEST"] = str(manifest)
    push(account, 1)
    push(account, 2)
    assert statuses(account) == {1: "INACTIVE", 2: "ACTIVE"}
    account.client("ecs").create_cluster(clusterName=CLUSTER)
    push(account, 3)
    assert statuses(account) == {1: "INACTIVE", 2: "INACTIVE", 3: "ACTIVE"}
    assert account.client("ecs").list_services(cluster=CLUSTER)["serviceArns"] == []  # read, never made
    assert account.report()["errors"] == []
