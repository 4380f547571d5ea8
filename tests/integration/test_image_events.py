"""The image events function against moto: pushes and scans become revisions and messages."""

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from pipeline.handlers import image_events
from shipline.local.emulation import Emulation
from tests.support.events import load_event
from tests.support.paths import ROOT

REPO = "multi-agent-orchestrator-dev-langgraph"
URI = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPO}"
FAMILY = REPO


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


SAMPLE_DIGEST = load_event("ecr-image-push")["detail"]["image-digest"]


@pytest.fixture
def images(stack, emulation, calls, monkeypatch, lambda_context):
    """Run the function with the template's environment; `gate` overrides the registration gate."""
    boto3.client("ecr").create_repository(repositoryName=REPO, imageScanningConfiguration={"scanOnPush": True})

    def run(event, gate=None):
        if gate is not None:
            monkeypatch.setenv("REGISTRATION_GATE", gate)
            from pipeline.settings import get_settings
            get_settings.cache_clear()
        return image_events.handler(event, lambda_context)

    stack.use_function("ImageEventsFunction", monkeypatch)
    calls.made.clear()
    return run


@pytest.fixture
def push_image(emulation: Emulation):
    def push(tag: str, digest: str = SAMPLE_DIGEST, repository: str = REPO, seconds_ago: int = 0) -> str:
        """An image with this digest in the emulated registry; ECR stamps its push time (one-second
        resolution), here `seconds_ago` before now for ordering tests."""
        now = time.time()
        emulation.ecr.clock = lambda: now - seconds_ago
        emulation.ecr.seed_image(repository, digest, tag)
        return digest

    return push


def push_event(tag: str, digest: str = SAMPLE_DIGEST, seconds_ago: int = 0) -> dict:
    """ECR's push event for the image push_image seeded: sent when the push completed."""
    event = load_event("ecr-image-push")
    event["detail"].update({"image-tag": tag, "image-digest": digest})
    event["id"] = f"push-{tag}-{digest[-6:]}"
    event["time"] = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def revisions() -> list[dict]:
    ecs = boto3.client("ecs")
    arns = ecs.list_task_definitions(familyPrefix=FAMILY)["taskDefinitionArns"]
    return [ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"] for arn in arns]


def test_same_digest_as_sha_and_latest_gives_one_revision_pinned_by_digest(images, push_image):
    push_image("3b6258b")
    push_image("latest")
    images(push_event("3b6258b"))
    images(load_event("ecr-image-push-latest"))
    (revision,) = revisions()
    container = revision["containerDefinitions"][0]
    assert container["image"] == f"{URI}@{SAMPLE_DIGEST}"
    assert container["dockerLabels"]["org.opencontainers.image.revision.short"] == "3b6258b"


def test_first_revision_is_rendered_from_the_manifest(images, push_image, stack):
    push_image("3b6258b")
    images(load_event("ecr-image-push"))
    (revision,) = revisions()
    container = revision["containerDefinitions"][0]
    assert revision["family"] == FAMILY
    assert revision["requiresCompatibilities"] == ["FARGATE"] and revision["networkMode"] == "awsvpc"
    assert (revision["cpu"], revision["memory"]) == ("512", "1024")
    assert revision["executionRoleArn"] == stack.refs["TaskExecutionRole.Arn"]
    assert container["portMappings"] == [{"containerPort": 8001, "protocol": "tcp"}]
    assert {"name": "SNOWFLAKE_CORTEX_ENDPOINT", "value": "http://snowflake-cortex:8002"} in container["environment"]
    assert container["logConfiguration"] == {"logDriver": "awslogs", "options": {
        "awslogs-group": f"/ecs/{REPO}", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}}
    assert container["healthCheck"]["command"][0] == "CMD-SHELL"
    assert "8001/health" in container["healthCheck"]["command"][1]


def test_later_revision_keeps_edits_and_changes_only_our_container(images, push_image):
    push_image("3b6258b")
    images(load_event("ecr-image-push"))
    (first,) = revisions()
    edited = {k: v for k, v in first.items() if k in ("family", "networkMode", "requiresCompatibilities", "cpu",
                                                      "memory", "executionRoleArn", "containerDefinitions")}
    edited["containerDefinitions"][0]["environment"].append({"name": "FEATURE_FLAG", "value": "on"})
    sidecar = {"name": "otel-collector", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
               "essential": False}
    edited["containerDefinitions"].append(sidecar)
    boto3.client("ecs").register_task_definition(**edited)

    newer = push_image("a1b2c3d", digest_of("newer"))
    images(push_event("a1b2c3d", newer))
    latest = revisions()[-1]
    ours, other = latest["containerDefinitions"]
    assert latest["revision"] == 3
    assert ours["image"] == f"{URI}@{newer}"
    assert {"name": "FEATURE_FLAG", "value": "on"} in ours["environment"]
    assert other["image"] == sidecar["image"]


def use_manifest(path, text: str, monkeypatch) -> None:
    """Point the function at a services manifest this test wrote (a new path per version: the
    functions read a path's manifest once per process)."""
    from pipeline.settings import get_settings

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    monkeypatch.setenv("SHIPLINE_MANIFEST", str(path))
    get_settings.cache_clear()


def test_manifest_edits_reach_the_next_revision_and_a_sidecar_added_elsewhere_survives(
        images, push_image, monkeypatch, tmp_path):
    manifest = (ROOT / "services.toml").read_text()
    use_manifest(tmp_path / "v1" / "services.toml", manifest, monkeypatch)
    push_image("3b6258b")
    images(load_event("ecr-image-push"))
    (first,) = revisions()
    assert (first["cpu"], first["memory"]) == ("512", "1024")

    # Someone adds a sidecar, a task role and a variable of their own, outside shipline.
    edited = {k: v for k, v in first.items() if k in ("family", "networkMode", "requiresCompatibilities", "cpu",
                                                      "memory", "executionRoleArn", "runtimePlatform",
                                                      "containerDefinitions")}
    edited["taskRoleArn"] = "arn:aws:iam::123456789012:role/agents"
    edited["containerDefinitions"][0]["environment"].append({"name": "FEATURE_FLAG", "value": "on"})
    sidecar = {"name": "otel-collector", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
               "essential": False}
    edited["containerDefinitions"].append(sidecar)
    boto3.client("ecs").register_task_definition(**edited)

    # The manifest gives langgraph more cpu and memory and changes one of its variables.
    section = manifest.index("[services.langgraph]")
    langgraph = manifest[section:].replace("port = 8001\n", "port = 8001\ncpu = 1024\nmemory = 2048\n", 1)
    langgraph = langgraph.replace('LANGFUSE_HOST = "http://langfuse:3000"', 'LANGFUSE_HOST = "http://obs:3000"', 1)
    use_manifest(tmp_path / "v2" / "services.toml", manifest[:section] + langgraph, monkeypatch)
    newer = push_image("a1b2c3d", digest_of("newer"))
    assert images(push_event("a1b2c3d", newer))["outcome"] == "registered"

    latest = revisions()[-1]
    ours, other = latest["containerDefinitions"]
    environment = {e["name"]: e["value"] for e in ours["environment"]}
    assert latest["revision"] == 3
    assert (latest["cpu"], latest["memory"]) == ("1024", "2048")
    assert ours["image"] == f"{URI}@{newer}"
    assert environment["LANGFUSE_HOST"] == "http://obs:3000" and environment["FEATURE_FLAG"] == "on"
    assert sidecar.items() <= other.items()
    assert latest["taskRoleArn"] == "arn:aws:iam::123456789012:role/agents"


def test_a_manifest_task_size_below_what_the_containers_reserve_is_drift_not_a_refused_registration(
        images, push_image, monkeypatch, tmp_path, stack, calls):
    # ECS refuses a revision whose containers reserve more memory than the task has
    # (ContainerDefinition, memory; the local account refuses it too): the flow says so once,
    # as drift, instead of failing at RegisterTaskDefinition until the event is dead-lettered.
    manifest = (ROOT / "services.toml").read_text()
    use_manifest(tmp_path / "v1" / "services.toml", manifest, monkeypatch)
    push_image("3b6258b")
    images(load_event("ecr-image-push"))
    (first,) = revisions()
    edited = {k: v for k, v in first.items() if k in ("family", "networkMode", "requiresCompatibilities", "cpu",
                                                      "memory", "executionRoleArn", "runtimePlatform",
                                                      "containerDefinitions")}
    edited["containerDefinitions"][0]["memory"] = 1024  # someone pins the container's memory to the task's
    boto3.client("ecs").register_task_definition(**edited)
    section = manifest.index("[services.langgraph]")
    smaller = manifest[section:].replace("port = 8001\n", "port = 8001\ncpu = 256\nmemory = 512\n", 1)
    use_manifest(tmp_path / "v2" / "services.toml", manifest[:section] + smaller, monkeypatch)
    calls.made.clear()

    result = images(push_event("a1b2c3d", push_image("a1b2c3d", digest_of("smaller"))))

    assert result["outcome"] == "rejected"
    assert "reserve 1024 MiB of memory, more than the task's 512 MiB" in result["reason"]
    assert calls.of("ecs", "RegisterTaskDefinition") == [] and len(revisions()) == 2
    (note,) = stack.notifications()
    assert note["subject"] == "[shipline] langgraph: configuration drift, not registered"
    assert "raise cpu/memory in services.toml" in note["message"]


def test_digest_already_in_the_latest_revision_gives_none(images, push_image):
    push_image("3b6258b")
    images(load_event("ecr-image-push"))
    event = push_event("3b6258b")
    event["id"] = "a-different-delivery-of-the-same-image"
    assert images(event)["outcome"] == "already registered"
    assert len(revisions()) == 1


def test_build_cache_tag_is_ignored(images):
    assert images(load_event("ecr-image-push-buildcache"))["outcome"] == "ignored"
    assert revisions() == []


def test_repository_of_another_project_is_ignored(images):
    event = load_event("ecr-image-push")
    event["detail"]["repository-name"] = "someone-else-dev-langgraph"
    assert images(event)["outcome"] == "ignored"


def test_repository_not_in_the_manifest_is_rejected(images, calls):
    event = load_event("ecr-image-push")
    event["detail"]["repository-name"] = "multi-agent-orchestrator-dev-billing"
    result = images(event)
    assert result["outcome"] == "rejected" and "'billing' is not in the manifest" in result["reason"]
    assert calls.of("ecs", "RegisterTaskDefinition") == []


def test_digest_that_no_longer_exists_is_rejected_without_a_revision(images):
    result = images(load_event("ecr-image-push"))  # never pushed to the emulated ECR
    assert result["outcome"] == "rejected" and "no longer exists" in result["reason"]
    assert revisions() == []


def test_family_without_a_container_for_the_repository_is_rejected(images, push_image):
    boto3.client("ecs").register_task_definition(
        family=FAMILY, containerDefinitions=[{"name": "other", "image": "public.ecr.aws/nginx/nginx:1.27"}],
        requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="512", memory="1024")
    push_image("3b6258b")
    result = images(load_event("ecr-image-push"))
    assert result["outcome"] == "rejected" and "has no container from" in result["reason"]
    assert len(revisions()) == 1


def test_scan_gate_holds_an_image_with_a_critical_finding(images, emulation, push_image, stack):
    push_image("3b6258b")
    emulation.ecr.report(REPO, SAMPLE_DIGEST, {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 3})
    images(load_event("ecr-image-push"), gate="scan")
    images(load_event("ecr-image-scan"), gate="scan")
    assert revisions() == []
    (note,) = stack.notifications()
    assert "langgraph" in note["subject"] and "CRITICAL" in note["subject"]
    assert "CRITICAL 1" in note["message"] and "held back" in note["message"]
    assert "CVE-2026-1000" in note["message"]


def test_scan_gate_registers_after_a_clean_scan(images, push_image):
    push_image("3b6258b")
    assert images(load_event("ecr-image-push"), gate="scan")["outcome"] == "waiting for scan"
    images(load_event("ecr-image-scan-clean"), gate="scan")
    assert len(revisions()) == 1


def test_scan_before_push_registers_once(images, push_image):
    push_image("3b6258b")
    images(load_event("ecr-image-scan-clean"), gate="scan")
    images(load_event("ecr-image-push"), gate="scan")
    images(load_event("ecr-image-push-latest"), gate="scan")
    assert len(revisions()) == 1


def test_swapped_pushes_leave_the_newer_image_registered(images, push_image):
    older = push_image("1111111", digest_of("older"), seconds_ago=60)
    newer = push_image("2222222", digest_of("newer"))
    images(push_event("2222222", newer))
    images(push_event("1111111", older, seconds_ago=60))
    (revision,) = revisions()
    assert revision["containerDefinitions"][0]["image"] == f"{URI}@{newer}"


def test_inspector_scan_with_an_arn_repository_is_handled_for_langgraph(images, push_image, stack):
    event = load_event("inspector2-scan")
    (tag,) = event["detail"]["image-tags"]
    push_image(tag)
    result = images(event)
    assert result["service"] == "langgraph" and result["worst"] == "HIGH"
    (note,) = stack.notifications()
    assert note["subject"].startswith(f"[shipline] langgraph:{tag} scanned: HIGH")


def test_basic_scan_counts_leave_out_empty_severities(images, push_image, stack):
    push_image("3b6258b")
    images(load_event("ecr-image-scan-clean"))
    (note,) = stack.notifications()
    assert "scanned: no findings" in note["subject"] and "Findings:     no findings" in note["message"]


def test_replayed_scan_event_sends_one_message(images, push_image, stack):
    push_image("3b6258b")
    images(load_event("ecr-image-scan"))
    images(load_event("ecr-image-scan"))
    assert len(stack.notifications()) == 1


def test_a_scan_message_is_claimed_by_the_scans_ledger_write_not_a_record_of_its_own(images, push_image, calls,
                                                                                   stack):
    push_image("3b6258b")
    calls.made.clear()
    assert images(load_event("ecr-image-scan"))["notified"] is True
    assert calls.of("dynamodb", "PutItem") == []  # no idempotency record: the image's item holds the claim
    (message,) = [v["M"] for k, v in _raw_image().items() if k.startswith("message#")]
    assert message["sentAt"]["S"] and message["token"]["S"]


def test_a_scan_message_that_failed_to_send_is_sent_once_by_the_retry(images, push_image, faults, stack):
    push_image("3b6258b")
    faults.inject("sns", "Publish", "server-error", times=-1)
    with pytest.raises(Exception, match="InternalError|ServerError|InternalFailure|500"):
        images(load_event("ecr-image-scan"))
    faults.clear()
    assert not [k for k in _raw_image() if k.startswith("message#")]  # the claim given up for the retry
    assert images(load_event("ecr-image-scan"))["notified"] is True
    assert images(load_event("ecr-image-scan"))["notified"] is False
    assert len(stack.notifications()) == 1


def test_a_scan_message_claimed_by_a_live_invocation_is_left_to_it(images, push_image, stack):
    push_image("3b6258b")
    images(load_event("ecr-image-scan"))
    key = _message_claimed_by("other", datetime.now(UTC) + timedelta(minutes=5))
    assert images(load_event("ecr-image-scan"))["notified"] is False
    assert _raw_image()[key]["M"]["token"]["S"] == "other"


def test_a_scan_message_left_unsent_by_an_invocation_that_died_is_sent_by_the_retry(images, push_image, stack):
    push_image("3b6258b")
    images(load_event("ecr-image-scan"))
    key = _message_claimed_by("died", datetime.now(UTC) - timedelta(seconds=1))
    assert images(load_event("ecr-image-scan"))["notified"] is True
    assert len(stack.notifications()) == 2  # the first, then the one the dead invocation never sent
    assert _raw_image()[key]["M"]["token"]["S"] != "died" and _raw_image()[key]["M"]["sentAt"]["S"]


def _raw_image(digest: str = SAMPLE_DIGEST) -> dict:
    from pipeline.settings import ImageEventsSettings, get_settings

    settings = get_settings(ImageEventsSettings)
    return boto3.client("dynamodb").get_item(TableName=settings.ledger_table, Key={
        "pk": {"S": settings.ledger_key("langgraph")}, "sk": {"S": f"image#{digest}"}})["Item"]


def _message_claimed_by(token: str, until: datetime) -> str:
    """Replace the sample image's scan-message record with another invocation's unsent claim."""
    from pipeline.settings import ImageEventsSettings, get_settings

    settings = get_settings(ImageEventsSettings)
    (key,) = [k for k in _raw_image() if k.startswith("message#")]
    boto3.client("dynamodb").update_item(
        TableName=settings.ledger_table,
        Key={"pk": {"S": settings.ledger_key("langgraph")}, "sk": {"S": f"image#{SAMPLE_DIGEST}"}},
        UpdateExpression="SET #m = :claim", ExpressionAttributeNames={"#m": key},
        ExpressionAttributeValues={":claim": {"M": {"token": {"S": token}, "until": {"S": until.isoformat()}}}})
    return key


def inspector_finding(number: int, *, observed: datetime, severity: str = "CRITICAL") -> dict:
    """The sample "Inspector2 Finding" as a finding of its own (ARN, CVE), first observed then."""
    event = load_event("inspector2-finding")
    detail = event["detail"]
    detail["findingArn"] = detail["findingArn"][:-4] + f"{number:04d}"
    detail["packageVulnerabilityDetails"]["vulnerabilityId"] = f"CVE-2026-{number:04d}"
    stamp = observed.strftime("%b %d, %Y, %I:%M:%S %p")
    detail.update(severity=severity, firstObservedAt=stamp, lastObservedAt=stamp, updatedAt=stamp)
    event["id"] = f"finding-{number}-{detail['status']}"
    return event


def digest_run(at: datetime) -> dict:
    event = load_event("schedule-findings-digest")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def scanned_by_inspector(images, push_image, *, registered: bool = True) -> str:
    """The sample image scanned by Inspector; `registered`: pushed first, so its revision is
    the service's current one (the image runs); otherwise a newer image is the current one (the
    sample, older, is not registered even by its scan: it runs nowhere)."""
    event = load_event("inspector2-scan")
    (tag,) = event["detail"]["image-tags"]
    push_image(tag, seconds_ago=0 if registered else 60)
    if registered:
        assert images(push_event(tag))["outcome"] == "registered"
    else:
        newer = push_image("c0ffee1", digest_of("newer"))
        assert images(push_event("c0ffee1", newer))["outcome"] == "registered"
    images(event)
    return tag


def finding_item(stack, number: int) -> dict | None:
    """The ledger's record of a finding (read the way the ledger module writes it)."""
    arn = inspector_finding(number, observed=datetime.now(UTC))["detail"]["findingArn"]
    key = {"pk": {"S": "multi-agent-orchestrator#dev#langgraph"}, "sk": {"S": f"finding#{arn}"}}
    return boto3.client("dynamodb").get_item(TableName=stack.refs["LedgerTable"], Key=key).get("Item")


def test_findings_of_the_initial_scan_and_the_scan_send_one_message(images, push_image, stack):
    now = datetime.now(UTC)
    results = [images(inspector_finding(n, observed=now, severity=s)) for n, s in
               enumerate(["CRITICAL", "HIGH", "HIGH", "MEDIUM"], start=1)]
    assert {r["outcome"] for r in results} == {"folded into the scan message", "not reported"}
    assert stack.notifications() == []
    scanned_by_inspector(images, push_image)
    (note,) = stack.notifications()
    assert "scanned: HIGH" in note["subject"]


def test_a_finding_of_the_initial_scan_delivered_after_the_scan_message_is_not_sent_again(images, push_image, stack):
    observed = datetime.now(UTC) - timedelta(seconds=5)  # found by the scan, its event late
    scanned_by_inspector(images, push_image)
    stack.notifications()
    assert images(inspector_finding(1, observed=observed))["outcome"] == "folded into the scan message"
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["digests"] == {}
    assert stack.notifications() == []


def test_later_findings_wait_for_one_digest_per_image_within_the_hour(images, push_image, stack):
    tag = scanned_by_inspector(images, push_image)
    stack.notifications()
    later = datetime.now(UTC) + timedelta(seconds=2)
    outcomes = [images(inspector_finding(n, observed=later, severity=s))["outcome"]
                for n, s in ((1, "CRITICAL"), (2, "CRITICAL"), (3, "HIGH"))]
    assert outcomes == ["queued for the digest"] * 2 + ["not reported"]  # HIGH is below the CRITICAL threshold
    assert stack.notifications() == []  # recorded, not sent one by one
    result = images(digest_run(datetime.now(UTC) + timedelta(hours=1)))
    assert result["sent"] == 1
    (note,) = stack.notifications()
    assert note["subject"].startswith(f"[shipline] langgraph:{tag} running in dev: new findings: CRITICAL 2")
    assert "CVE-2026-0001" in note["message"] and "CVE-2026-0002" in note["message"]
    assert "fixed in 3.0.15-1~deb12u2" in note["message"]


def test_a_later_finding_in_the_registered_revision_names_where_it_runs_and_the_fix(images, push_image, stack):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    later = datetime.now(UTC) + timedelta(seconds=2)
    result = images(inspector_finding(1, observed=later))
    assert result["outcome"] == "queued for the digest" and result["running"] == ["langgraph in dev, revision 1"]
    no_fix = load_event("inspector2-finding-no-fix")
    stamp = later.strftime("%b %d, %Y, %I:%M:%S %p")
    no_fix["detail"].update(firstObservedAt=stamp, lastObservedAt=stamp, updatedAt=stamp)
    assert images(no_fix)["outcome"] == "queued for the digest"
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1
    (note,) = stack.notifications()
    text = note["message"]  # the queue subscriber gets the plain text
    assert text.splitlines()[0] == "Running:      langgraph in dev, revision 1"
    assert "CVE-2026-0001        openssl 3.0.15, fixed in 3.0.15-1~deb12u2" in text
    assert "CVE-2026-0003        zlib1g 1:1.2.13.dfsg-1, no fix yet" in text


def test_a_later_finding_for_an_image_that_runs_nowhere_is_recorded_not_sent(images, push_image, stack):
    scanned_by_inspector(images, push_image, registered=False)
    stack.notifications()
    finding = inspector_finding(1, observed=datetime.now(UTC) + timedelta(seconds=2))
    result = images(finding)
    assert result["outcome"] == "not running" and result["running"] == []
    assert finding_item(stack, 1)["status"] == {"S": "ACTIVE"}  # recorded
    assert images(finding)["outcome"] == "not running"  # a replay: still nothing queued
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["digests"] == {}
    assert stack.notifications() == []


def test_findings_of_an_image_replaced_before_the_digest_are_withdrawn_not_sent(images, push_image, stack):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    images(inspector_finding(1, observed=datetime.now(UTC) + timedelta(seconds=2)))
    newer = push_image("2c4e6a8", digest_of("a newer build"))
    assert images(push_event("2c4e6a8", newer))["outcome"] == "registered"
    run = digest_run(datetime.now(UTC) + timedelta(hours=1))
    assert images(run)["digests"] == {f"langgraph@{SAMPLE_DIGEST}": "no longer running"}
    assert "digestWithdrawnIn" in finding_item(stack, 1)
    assert images(run)["digests"] == {}  # withdrawn once: nothing waits any more
    assert stack.notifications() == []


def test_a_replayed_digest_run_or_finding_sends_nothing_more(images, push_image, stack):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    finding = inspector_finding(1, observed=datetime.now(UTC) + timedelta(seconds=2))
    images(finding)
    run = digest_run(datetime.now(UTC) + timedelta(hours=1))
    images(run)
    assert len(stack.notifications()) == 1
    images(run)  # the same run again (a retry)
    again = dict(run, id="another-invocation")  # a second invocation for the same hour
    assert images(again)["sent"] == 0
    assert images(finding)["outcome"] == "already reported"  # the finding delivered twice
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=2)))["digests"] == {}
    assert stack.notifications() == []


def test_a_digest_run_leaves_findings_of_its_own_hour_for_the_next(images, push_image, stack):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    images(inspector_finding(1, observed=datetime.now(UTC) + timedelta(seconds=2)))
    assert images(digest_run(datetime.now(UTC)))["digests"] == {}
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1


def test_closed_and_suppressed_findings_are_recorded_not_sent(images, push_image, stack):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    for number, status in ((1, "CLOSED"), (2, "SUPPRESSED")):
        event = inspector_finding(number, observed=datetime.now(UTC) + timedelta(seconds=2))
        event["detail"]["status"] = status
        assert images(event)["outcome"] == "not reported"
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["digests"] == {}
    assert stack.notifications() == []


def test_replayed_push_has_no_second_effect(images, push_image, calls):
    push_image("3b6258b")
    images(load_event("ecr-image-push"))
    images(load_event("ecr-image-push"))
    assert len(calls.of("ecs", "RegisterTaskDefinition")) == 1


def test_event_missing_a_field_is_rejected(images):
    event = load_event("ecr-image-push")
    del event["detail"]["image-digest"]
    result = images(event)
    assert result["outcome"] == "rejected" and "image-digest" in result["reason"]


def test_notification_is_plain_text_for_email_and_chatbot_json_by_default(images, push_image, calls):
    push_image("3b6258b")
    images(load_event("ecr-image-scan"))
    (publish,) = calls.of("sns", "Publish")
    message = json.loads(publish["Message"])
    assert publish["MessageStructure"] == "json"
    assert message["email"].startswith("Service:      langgraph")
    chatbot = json.loads(message["default"])
    assert chatbot["version"] == "1.0" and chatbot["source"] == "custom"
    assert chatbot["content"]["textType"] == "client-markdown"


def test_a_commit_tags_push_is_registered_without_describe_images(images, push_image, calls):
    """The push event names the commit tag and its time: ECR is asked only for the manifest
    (which also proves the image exists, and gives the live tag its PutImage)."""
    push_image("3b6258b")
    assert images(push_event("3b6258b"))["outcome"] == "registered"
    assert calls.of("ecr", "DescribeImages") == []
    assert len(calls.of("ecr", "BatchGetImage")) == 1 and len(calls.of("ecr", "PutImage")) == 1
    ledger_reads = [op for op in calls.operations() if op in ("dynamodb:GetItem", "dynamodb:TransactGetItems")]
    assert ledger_reads == ["dynamodb:TransactGetItems"]  # current revision and commit, in one request


def test_a_push_of_latest_writes_nothing_and_the_commit_tags_push_registers(images, push_image, calls):
    """A build pushes `latest` (and `inputs-<hash>`) with its commit tag: only the commit tag's
    push does anything, so the others cost no call at all."""
    push_image("3b6258b")
    push_image("latest")
    calls.made.clear()
    assert images(load_event("ecr-image-push-latest"))["outcome"] == "not a commit image"
    assert calls.operations() == [] and revisions() == []
    assert images(push_event("3b6258b"))["outcome"] == "registered"


def test_with_register_manual_pushes_a_push_without_a_commit_tag_asks_ecr_for_the_images_tags(
        images, push_image, calls, monkeypatch):
    """`latest` pushed first: only ECR knows whether the image has a commit tag too."""
    monkeypatch.setenv("REGISTER_MANUAL_PUSHES", "true")
    push_image("3b6258b")
    push_image("latest")
    assert images(load_event("ecr-image-push-latest"), gate="none")["outcome"] == "registered"
    assert len(calls.of("ecr", "DescribeImages")) == 1
    (revision,) = revisions()
    assert revision["containerDefinitions"][0]["dockerLabels"]["org.opencontainers.image.revision.short"] == "3b6258b"


def test_under_gate_none_a_scan_registers_an_image_whose_push_event_never_came(images, push_image, stack):
    """ECR's events are best effort: the image's scan stands in for a lost push event."""
    push_image("3b6258b")
    result = images(load_event("ecr-image-scan"), gate="none")
    assert result["outcome"] == "registered" and len(revisions()) == 1
    assert "registered as revision 1" in stack.notifications()[0]["message"]
    assert images(push_event("3b6258b"))["outcome"] == "already registered"  # the late push event: nothing more
    assert len(revisions()) == 1


def test_under_gate_none_a_scan_leaves_an_image_its_push_is_registering_to_it(images, push_image, stack):
    push_image("3b6258b")
    _claimed_by("push", datetime.now(UTC) + timedelta(minutes=5))
    assert images(load_event("ecr-image-scan"), gate="none")["outcome"] == "recorded"
    assert revisions() == []


def _ledger_image(digest: str = SAMPLE_DIGEST) -> dict:
    from pipeline.settings import ImageEventsSettings, get_settings

    settings = get_settings(ImageEventsSettings)
    item = boto3.client("dynamodb").get_item(TableName=settings.ledger_table, Key={
        "pk": {"S": settings.ledger_key("langgraph")}, "sk": {"S": f"image#{digest}"}})["Item"]
    return {k: list(v.values())[0] for k, v in item.items()}


def _claimed_by(token: str, until: datetime) -> None:
    """Another invocation's registration claim on the sample image, good until `until`."""
    from pipeline.settings import ImageEventsSettings, get_settings

    settings = get_settings(ImageEventsSettings)
    boto3.client("dynamodb").put_item(TableName=settings.ledger_table, Item={
        "pk": {"S": settings.ledger_key("langgraph")}, "sk": {"S": f"image#{SAMPLE_DIGEST}"},
        "digest": {"S": SAMPLE_DIGEST}, "registering": {"S": token}, "registeringUntil": {"S": until.isoformat()}})


def test_an_image_another_invocation_is_registering_is_left_to_it(images, push_image, calls):
    """The ledger's registration claim is the idempotency record: the push's own ledger write
    finds another invocation's live claim, and registers nothing."""
    push_image("3b6258b")
    _claimed_by("other", datetime.now(UTC) + timedelta(minutes=5))
    calls.made.clear()
    assert images(push_event("3b6258b"))["outcome"] == "in flight"
    assert revisions() == [] and _ledger_image()["registering"] == "other"
    assert calls.of("dynamodb", "PutItem") == []  # no separate idempotency record for the registration


def test_a_claim_left_by_an_invocation_that_died_is_taken_over(images, push_image):
    push_image("3b6258b")
    _claimed_by("died", datetime.now(UTC) - timedelta(seconds=1))
    assert images(push_event("3b6258b"))["outcome"] == "registered"
    assert len(revisions()) == 1 and "registering" not in _ledger_image()  # the revision's write ends the claim


def test_a_failed_registration_gives_its_claim_up_for_the_retry(images, push_image, faults):
    """Its retry comes well before the failed invocation's deadline would have passed."""
    push_image("3b6258b")
    faults.inject("ecs", "RegisterTaskDefinition", "access-denied", times=1)
    with pytest.raises(Exception, match="AccessDenied"):
        images(push_event("3b6258b"))
    assert "registering" not in _ledger_image()
    assert images(push_event("3b6258b"))["outcome"] == "registered"
    assert len(revisions()) == 1


@pytest.mark.parametrize("sample", ["ecr-image-scan", "inspector2-scan"])
def test_a_scan_with_a_negative_finding_count_is_rejected_before_any_write(sample, images, push_image, calls):
    """A damaged count is not a clean scan: CRITICAL -5 read as no critical finding and passed the gate.
    No scanner sends one."""
    push_image("3b6258b")
    event = load_event(sample)
    severity = next(iter(event["detail"]["finding-severity-counts"]))
    event["detail"]["finding-severity-counts"][severity] = -5
    calls.made.clear()
    result = images(event)
    assert result["outcome"] == "rejected"
    assert result["reason"].endswith(f"detail.finding-severity-counts.{severity}: Input should be greater than or "
                                     "equal to 0")
    assert calls.made == []
