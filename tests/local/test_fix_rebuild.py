"""RebuildOnFixAvailable through the whole chain on the local account: a later Inspector finding
with a fix, in the image a service runs, becomes a Build Requested on shipline's bus, the planner
queues the service at the branch head, and the build starter's build avoidance decides: nothing
to build where the inputs are unchanged (the Python services' bases are pinned by digest), a
build where they changed (langfuse's base tag moved upstream). The image's findings digest says
which."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.local.conftest import push_event
from tests.local.test_build_avoidance import LANGFUSE_BASE, SERVICES, builds_of, git, repository  # noqa: F401
from tests.support.events import load_event

PROJECT = "multi-agent-orchestrator-dev"


def finding_in_running_image(report: dict, service: str, number: int) -> dict:
    """A finding with a fix, first observed after the image's scan, in the image the service runs."""
    (image,) = [i for i in report["images"] if i["repository"] == f"{PROJECT}-{service}" and "live-dev" in i["tags"]]
    event = load_event("inspector2-finding")
    detail = event["detail"]
    repository_arn = f"arn:aws:ecr:us-east-1:123456789012:repository/{PROJECT}-{service}"
    event["id"] = f"finding-{service}-{number}"
    event["resources"] = [f"{repository_arn}/{image['digest']}"]
    detail["findingArn"] = detail["findingArn"][:-4] + f"{number:04d}"
    container = detail["resources"][0]["details"]["awsEcrContainerImage"]
    container.update(imageHash=image["digest"], repositoryName=f"{PROJECT}-{service}", imageTags=image["tags"])
    detail["resources"][0]["id"] = event["resources"][0]
    stamp = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%b %d, %Y, %I:%M:%S %p")
    detail.update(firstObservedAt=stamp, lastObservedAt=stamp, updatedAt=stamp)
    return event


def digest_run() -> dict:
    event = load_event("schedule-findings-digest")
    event["time"] = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def digest_message(report: dict, service: str) -> str:
    (note,) = [n for n in report["notifications"] if n["subject"].startswith(f"[shipline] {service}:")
               and "new findings" in n["subject"]]
    return note["message"]


def test_a_finding_with_a_fix_rebuilds_only_where_the_inputs_changed(local_account, repository):  # noqa: F811
    head = git(repository, "rev-parse", "HEAD")
    account = local_account(repo_root=repository, parameters={"RebuildOnFixAvailable": "true"}, scanning="enhanced")
    account.put_event(push_event(account, head))
    account.run()
    report = account.report()
    assert sorted(b["service"] for b in builds_of(report)) == sorted(SERVICES)
    account.emulation.registry.move(LANGFUSE_BASE)  # upstream re-released langfuse's tag (with the fix, say)
    for number, service in enumerate(("langgraph", "langfuse"), start=1):
        account.put_event(finding_in_running_image(report, service, number))
        account.put_event(finding_in_running_image(report, service, number + 10))  # a second finding, same hour
    account.run()
    report = account.report()
    assert report["errors"] == []
    requests = {i.event["id"]: i.event["detail"]["services"] for i in account.invocations
                if i.function.logical_id == "BuildTriggerFunction" and i.label == "Build Requested"}
    assert sorted(services[0] for services in requests.values()) == ["langfuse", "langgraph"]  # one each
    assert [b["service"] for b in builds_of(report)].count("langgraph") == 1  # pinned base: nothing to build
    assert [b["service"] for b in builds_of(report)].count("langfuse") == 2  # moved base tag: rebuilt
    account.put_event(digest_run())
    account.run()
    report = account.report()
    assert ("Rebuild:      no rebuild: the inputs are unchanged (base images pinned by digest); update the pin"
            in digest_message(report, "langgraph"))
    assert (f"Rebuild:      rebuild requested: building {head[:7]}, whose inputs differ from this image's"
            in digest_message(report, "langfuse"))
